/*
 * proto.c - framing and validation of protocol lines.
 *
 * The pre-scan runs before jansson so that limits are enforced on the raw
 * bytes: jansson's own depth limit is far too deep for us, and a single pass
 * over the line costs less than a rejected parse.
 */
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
proto_check_line(const char *line, size_t len, struct brk_error *err)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t i = 0, n, strlen_run = 0;
	int depth = 0, in_str = 0, esc = 0;

	if (len > PROTO_MAX_LINE)
		return brk_error_set(err, BRK_ERR_TOOBIG,
		    "line longer than %d bytes", PROTO_MAX_LINE);
	while (i < len) {
		if (s[i] == 0)
			return brk_error_set(
			    err, BRK_ERR_INVALID, "NUL byte at offset %zu", i);
		if ((n = utf8_seq(s + i, len - i)) == 0)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "invalid UTF-8 at offset %zu", i);
		if (in_str) {
			if (++strlen_run > PROTO_MAX_STRING)
				return brk_error_set(err, BRK_ERR_TOOBIG,
				    "string longer than %d bytes",
				    PROTO_MAX_STRING);
			if (esc)
				esc = 0;
			else if (s[i] == '\\')
				esc = 1;
			else if (s[i] == '"')
				in_str = 0;
		} else if (s[i] == '"') {
			in_str = 1;
			strlen_run = 0;
		} else if (s[i] == '{' || s[i] == '[') {
			if (++depth > PROTO_MAX_DEPTH)
				return brk_error_set(err, BRK_ERR_INVALID,
				    "nesting deeper than %d", PROTO_MAX_DEPTH);
		} else if (s[i] == '}' || s[i] == ']')
			depth--;
		i += n;
	}
	return 0;
}

static int
copy_str_field(json_t *obj, const char *key, char *dst, size_t dstlen,
    bool required, struct brk_error *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (!required)
			return 0;
		return brk_error_set(
		    err, BRK_ERR_INVALID, "missing \"%s\"", key);
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= dstlen)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%s\" must be a string of 1 to %zu bytes", key,
		    dstlen - 1);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int
proto_parse_request(const char *line, size_t len, struct proto_req **out,
    char *id_out, struct brk_error *err)
{
	static const char *const top_keys[] = { "v", "id", "op", "as", "args",
		NULL };
	struct proto_req *req = NULL;
	json_error_t jerr;
	json_t *root = NULL, *v;
	int r;

	*out = NULL;
	if (id_out != NULL)
		id_out[0] = '\0';
	if ((r = proto_check_line(line, len, err)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		brk_error_set(err, r, "malformed JSON: %s", jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		brk_error_set(err, r, "a request must be a JSON object");
		goto out;
	}
	if (id_out != NULL && json_is_string(v = json_object_get(root, "id")) &&
	    json_string_length(v) <= PROTO_MAX_ID)
		memcpy(id_out, json_string_value(v), json_string_length(v) + 1);
	if ((r = proto_args_only(root, top_keys, err)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	v = json_object_get(root, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		brk_error_set(err, r, "\"v\" must be 1");
		goto out;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	if ((r = copy_str_field(
		 root, "id", req->id, sizeof(req->id), true, err)) != 0 ||
	    (r = copy_str_field(
		 root, "op", req->op, sizeof(req->op), true, err)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if ((v = json_object_get(root, "as")) != NULL) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 64) {
			brk_error_set(err, r, "\"as\" must be a user name");
			goto out;
		}
		if ((req->as = strdup(json_string_value(v))) == NULL) {
			r = BRK_ERR_NOMEM;
			goto out;
		}
	}
	v = json_object_get(root, "args");
	if (v != NULL && !json_is_object(v)) {
		brk_error_set(err, r, "\"args\" must be an object");
		goto out;
	}
	req->args = v != NULL ? json_incref(v) : json_object();
	if (req->args == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	*out = req;
	req = NULL;
	r = 0;
out:
	proto_req_free(req);
	json_decref(root);
	return r;
}

void
proto_req_free(struct proto_req *req)
{
	if (req == NULL)
		return;
	free(req->as);
	json_decref(req->args);
	free(req);
}

static char *
dump_line(json_t *root, size_t *len)
{
	char *s, *line = NULL;
	size_t n;

	if (root == NULL)
		return NULL;
	/* what json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) writes, at a
	 * fraction of its cost: every reply passes here */
	s = jsonout_dumps_any(root, false, &n);
	json_decref(root);
	if (s == NULL)
		return NULL;
	if ((line = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return line;
}

char *
proto_reply_ok(const char *id, json_t *result, size_t *len)
{
	if (result == NULL)
		result = json_object();
	return dump_line(json_pack("{s:i, s:s, s:b, s:o}", "v", 1, "id",
			     id != NULL ? id : "", "ok", 1, "result", result),
	    len);
}

/* proto_reply_ok()'s json_pack() writes these members in this order */
void
proto_reply_ok_open(struct jsonout *o, const char *id)
{
	jsonout_init(o);
	jsonout_open(o, '{');
	jsonout_key(o, "v");
	jsonout_int(o, 1);
	jsonout_key(o, "id");
	jsonout_str(o, id != NULL ? id : "");
	jsonout_key(o, "ok");
	jsonout_bool(o, true);
	jsonout_key(o, "result");
}

char *
proto_reply_ok_close(struct jsonout *o, size_t *len, bool *unsupported)
{
	char *s, *line;
	size_t n;

	jsonout_close(o, '}');
	if ((s = jsonout_finish(o, &n, unsupported)) == NULL)
		return NULL;
	if ((line = realloc(s, n + 2)) == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return line;
}

char *
proto_reply_error(const char *id, int rc, const char *message, size_t *len)
{
	return dump_line(json_pack("{s:i, s:s, s:b, s:{s:s, s:s}}", "v", 1,
			     "id", id != NULL ? id : "", "ok", 0, "error",
			     "code", brk_errcode_name(rc), "message",
			     message != NULL ? message : brk_strerror(rc)),
	    len);
}

int
proto_parse_reply(const char *line, size_t len, const char *want_id,
    json_t **result, struct brk_error *err)
{
	json_t *root = NULL, *v, *e;
	json_error_t jerr;
	const char *code, *msg;
	int r = BRK_ERR_PROTOCOL;

	*result = NULL;
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		brk_error_set(err, r, "the broker sent a malformed reply");
		goto out;
	}
	v = json_object_get(root, "id");
	if (want_id != NULL && json_is_string(v) &&
	    json_string_value(v)[0] != '\0' &&
	    strcmp(json_string_value(v), want_id) != 0) {
		brk_error_set(err, r, "the broker answered another request");
		goto out;
	}
	v = json_object_get(root, "ok");
	if (json_is_true(v)) {
		v = json_object_get(root, "result");
		if (!json_is_object(v) && !json_is_array(v)) {
			brk_error_set(
			    err, r, "the broker's reply has no result");
			goto out;
		}
		*result = json_incref(v);
		r = 0;
		goto out;
	}
	e = json_object_get(root, "error");
	code = json_string_value(json_object_get(e, "code"));
	msg = json_string_value(json_object_get(e, "message"));
	if (!json_is_false(v) || code == NULL || msg == NULL) {
		brk_error_set(err, r, "the broker sent a malformed reply");
		goto out;
	}
	r = brk_errcode_from_name(code);
	brk_error_set(err, r, "%s", msg);
out:
	json_decref(root);
	return r;
}

int
proto_arg_str(const json_t *args, const char *key, bool required, size_t maxlen,
    const char **out, struct brk_error *err)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL || json_is_null(v)) {
		if (required)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "missing argument \"%s\"", key);
		return BRK_ERR_NOTFOUND;
	}
	if (!json_is_string(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "argument \"%s\" must be a string", key);
	if (json_string_length(v) == 0 || json_string_length(v) > maxlen)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "argument \"%s\" must be 1 to %zu bytes", key, maxlen);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "argument \"%s\" contains a NUL byte", key);
	/* a reason of spaces is no reason: no string argument is blank */
	if (strspn(json_string_value(v), " \t\r\n\v\f") ==
	    json_string_length(v))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "argument \"%s\" is blank", key);
	*out = json_string_value(v);
	return 0;
}

int
proto_arg_int(const json_t *args, const char *key, bool required, int64_t min,
    int64_t max, int64_t *out, struct brk_error *err)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL || json_is_null(v)) {
		if (required)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "missing argument \"%s\"", key);
		return BRK_ERR_NOTFOUND;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "argument \"%s\" must be an integer from %lld to %lld", key,
		    (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

int
proto_arg_bool(
    const json_t *args, const char *key, bool *out, struct brk_error *err)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL || json_is_null(v))
		return BRK_ERR_NOTFOUND;
	if (!json_is_boolean(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "argument \"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

int
proto_args_only(
    const json_t *args, const char *const *allowed, struct brk_error *err)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach ((json_t *)args, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "unknown field \"%.64s\"", key);
	}
	return 0;
}

int
proto_args_parse(const json_t *args, const struct proto_arg *spec, size_t n,
    struct brk_error *err)
{
	const char *key;
	json_t *v;
	size_t i;
	int r;

	json_object_foreach ((json_t *)args, key, v) {
		for (i = 0; i < n; i++)
			if (strcmp(spec[i].key, key) == 0)
				break;
		if (i == n)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "unknown field \"%.64s\"", key);
	}
	for (i = 0; i < n; i++) {
		switch (spec[i].kind) {
		case PA_STR:
			r = proto_arg_str(args, spec[i].key, spec[i].required,
			    (size_t)spec[i].max, spec[i].out, err);
			break;
		case PA_INT:
			r = proto_arg_int(args, spec[i].key, spec[i].required,
			    spec[i].min, spec[i].max, spec[i].out, err);
			break;
		case PA_BOOL:
			r = proto_arg_bool(args, spec[i].key, spec[i].out, err);
			if (r == BRK_ERR_NOTFOUND && spec[i].required)
				r = brk_error_set(err, BRK_ERR_INVALID,
				    "missing argument \"%s\"", spec[i].key);
			break;
		default:
			r = BRK_ERR_INTERNAL;
			break;
		}
		if (r != 0 && r != BRK_ERR_NOTFOUND)
			return r;
	}
	return 0;
}
