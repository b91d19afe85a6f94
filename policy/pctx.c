/*
 * pctx.c - the parser's context: where we are, and typed reads that report.
 *
 * The parser keeps a stack of path steps (keys and indices) as it descends.
 * A failure formats that stack as "rules[2].when.resources[0]" and asks
 * jsonpos for its line, so every error names one place in the file.  The
 * getters below read one key each, check its type and value, and fail with
 * the key's own path; absent optional keys leave the output untouched.
 */
#define POL_PCTX_IMPL /* defines pol_fail() and pol_fail_key() */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "duration.h"
#include "errors.h"
#include "glob.h"
#include "names.h"
#include "policy_int.h"

#define LABEL_KEY_MAX 63
#define LABEL_VALUE_MAX 255
#define QUORUM_MAX 100

void
pol_push_key(struct pol_pctx *c, const char *key)
{
	if (c->depth < POL_PATH_MAX) {
		c->path[c->depth].key = key;
		c->path[c->depth++].index = 0;
	} else
		c->overflow++;
}

void
pol_push_idx(struct pol_pctx *c, size_t i)
{
	if (c->depth < POL_PATH_MAX) {
		c->path[c->depth].key = NULL;
		c->path[c->depth++].index = i;
	} else
		c->overflow++;
}

void
pol_pop(struct pol_pctx *c)
{
	if (c->overflow > 0)
		c->overflow--;
	else if (c->depth > 0)
		c->depth--;
}

/* Keys that read well after a dot; anything else is quoted in brackets. */
static bool
plain_key(const char *k)
{
	size_t i;

	for (i = 0; k[i] != '\0'; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
			(k[i] >= 'A' && k[i] <= 'Z') ||
			(k[i] >= '0' && k[i] <= '9') || k[i] == '_' ||
			k[i] == '-'))
			return false;
	return i > 0;
}

void
pol_path_format(const struct pol_step *steps, size_t n, char *buf, size_t len)
{
	size_t i, used = 0;
	int w;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++) {
		if (steps[i].key == NULL)
			w = snprintf(
			    buf + used, len - used, "[%zu]", steps[i].index);
		else if (plain_key(steps[i].key))
			w = snprintf(buf + used, len - used, "%s%s",
			    used == 0 ? "" : ".", steps[i].key);
		else
			w = snprintf(buf + used, len - used, "[\"%.*s\"]", 64,
			    steps[i].key);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int __attribute__((format(printf, 2, 0)))
vfail(struct pol_pctx *c, const char *fmt, va_list ap)
{
	struct policy_error *e = c->err;

	if (e == NULL)
		return BRK_ERR_INVALID;
	pol_path_format(c->path, c->depth, e->path, sizeof(e->path));
	e->line = jsonpos_line(c->text, c->len, c->path, c->depth);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return BRK_ERR_INVALID;
}

int
pol_fail(struct pol_pctx *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(c, fmt, ap);
	va_end(ap);
	return r;
}

int
pol_fail_key(struct pol_pctx *c, const char *key, const char *fmt, ...)
{
	va_list ap;
	int r;

	pol_push_key(c, key);
	va_start(ap, fmt);
	r = vfail(c, fmt, ap);
	va_end(ap);
	pol_pop(c);
	return r;
}

int
pol_nomem(struct pol_pctx *c)
{
	if (c->err != NULL) {
		pol_path_format(
		    c->path, c->depth, c->err->path, sizeof(c->err->path));
		c->err->line = 0;
		snprintf(c->err->msg, sizeof(c->err->msg), "out of memory");
	}
	return BRK_ERR_NOMEM;
}

int
pol_check_keys(struct pol_pctx *c, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach (obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL)
			return pol_fail_key(
			    c, key, "unknown key \"%.64s\"", key);
	}
	return 0;
}

int
pol_get_string(
    struct pol_pctx *c, json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return pol_fail_key(c, key, "must be a string");
	*out = json_string_value(v);
	return 0;
}

int
pol_get_bool(struct pol_pctx *c, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return pol_fail_key(c, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int
pol_get_duration(struct pol_pctx *c, json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return pol_fail_key(
		    c, key, "must be a duration string such as \"8h\"");
	if (duration_parse(json_string_value(v), out) != 0)
		return pol_fail_key(c, key,
		    "bad duration \"%.32s\" (write "
		    "e.g. 90s, 15m, 8h, 2d, 1h30m; at most 366d)",
		    json_string_value(v));
	return 0;
}

/* A resource glob that could match a valid resource name. */
bool
pol_pattern_valid(const char *s)
{
	size_t i;

	if (glob_validate(s) != 0)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] == ' ' || s[i] == '"' || s[i] == '\'' ||
		    (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* "global", or KIND:PATTERN for the scope kinds of `optout add`. */
bool
pol_scope_valid(const char *s)
{
	static const char *const kinds[] = { "resource:", "label:", "user:",
		"group:", "rule:", "request:", NULL };
	size_t i, n;

	if (s == NULL)
		return false;
	if (strcmp(s, "global") == 0)
		return true;
	for (i = 0; kinds[i] != NULL; i++) {
		n = strlen(kinds[i]);
		if (strncmp(s, kinds[i], n) == 0)
			return pol_pattern_valid(s + n);
	}
	return false;
}

static bool
kind_valid(enum pol_kind kind, const char *s, const char **what)
{
	switch (kind) {
	case POL_USER:
		*what = "user name (lowercase [a-z0-9_.-], at most 32)";
		return name_user_valid(s);
	case POL_GROUP:
		*what = "group name ([A-Za-z0-9_.-], at most 64)";
		return name_group_valid(s);
	case POL_PATTERN:
		*what = "resource pattern (printable, '*' and '?' only, "
			"at most 255)";
		return pol_pattern_valid(s);
	case POL_SCOPE:
		*what = "scope (global, resource:P, label:K=V, user:P, "
			"group:P, rule:P or request:P)";
		return pol_scope_valid(s);
	}
	return false;
}

int
pol_get_names(struct pol_pctx *c, json_t *obj, const char *key,
    enum pol_kind kind, bool nonempty, struct pol_names *out)
{
	json_t *v = json_object_get(obj, key), *e;
	const char *what = "";
	size_t i;
	int r = 0;

	if (v == NULL)
		return 0;
	pol_push_key(c, key);
	if (!json_is_array(v)) {
		r = pol_fail(c, "must be an array of strings");
		goto out;
	}
	if (nonempty && json_array_size(v) == 0) {
		r = pol_fail(c,
		    "must not be empty (leave the key out to "
		    "match any)");
		goto out;
	}
	out->n = 0;
	if ((out->v = pol_allocarray(
		 c->p, json_array_size(v) + 1, sizeof(*out->v))) == NULL) {
		r = pol_nomem(c);
		goto out;
	}
	json_array_foreach (v, i, e) {
		pol_push_idx(c, i);
		if (!json_is_string(e))
			r = pol_fail(c, "must be a string");
		else if (!kind_valid(kind, json_string_value(e), &what))
			r = pol_fail(c, "\"%.64s\" is not a valid %s",
			    json_string_value(e), what);
		pol_pop(c);
		if (r != 0)
			goto out;
		out->v[out->n++] = json_string_value(e);
	}
out:
	pol_pop(c);
	return r;
}

static bool
label_key_valid(const char *k)
{
	size_t i;

	for (i = 0; k[i] != '\0'; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
			(k[i] >= 'A' && k[i] <= 'Z') ||
			(k[i] >= '0' && k[i] <= '9') ||
			strchr("_.-/", k[i]) != NULL))
			return false;
	return i > 0 && i <= LABEL_KEY_MAX;
}

static bool
label_value_valid(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return false;
	return i > 0 && i <= LABEL_VALUE_MAX;
}

int
pol_get_labels(struct pol_pctx *c, json_t *obj, const char *key, bool nonempty,
    struct pol_labels *out)
{
	json_t *v = json_object_get(obj, key), *e;
	const char *k;
	int r = 0;

	if (v == NULL)
		return 0;
	pol_push_key(c, key);
	if (!json_is_object(v)) {
		r = pol_fail(c, "must be an object of strings");
		goto out;
	}
	if (nonempty && json_object_size(v) == 0) {
		r = pol_fail(c, "must not be empty (leave the key out)");
		goto out;
	}
	out->n = 0;
	if ((out->v = pol_allocarray(
		 c->p, json_object_size(v) + 1, sizeof(*out->v))) == NULL) {
		r = pol_nomem(c);
		goto out;
	}
	json_object_foreach (v, k, e) {
		pol_push_key(c, k);
		if (!label_key_valid(k))
			r = pol_fail(c,
			    "bad label key (use [A-Za-z0-9_./-], "
			    "at most %d)",
			    LABEL_KEY_MAX);
		else if (!json_is_string(e))
			r = pol_fail(c, "label value must be a string");
		else if (!label_value_valid(json_string_value(e)))
			r = pol_fail(c,
			    "label value must be 1-%d printable "
			    "ASCII characters",
			    LABEL_VALUE_MAX);
		pol_pop(c);
		if (r != 0)
			goto out;
		out->v[out->n].key = k;
		out->v[out->n++].value = json_string_value(e);
	}
out:
	pol_pop(c);
	return r;
}

/* "quorum": an integer from 1 to QUORUM_MAX; *out keeps its default. */
int
pol_get_quorum(struct pol_pctx *c, json_t *obj, int *out)
{
	json_t *v = json_object_get(obj, "quorum");

	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return pol_fail_key(c, "quorum", "must be an integer");
	if (json_integer_value(v) < 1 || json_integer_value(v) > QUORUM_MAX)
		return pol_fail_key(
		    c, "quorum", "must be between 1 and %d", QUORUM_MAX);
	*out = (int)json_integer_value(v);
	return 0;
}
