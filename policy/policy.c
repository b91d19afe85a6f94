/*
 * policy.c - a compiled policy's life: parse, warn, look up, free.
 *
 * policy_parse() is the only way in: jansson reads the text, parse*.c turns
 * it into typed structs (reporting path and line on the first problem),
 * index.c compiles the lookup tables, and warnings are worked out once.
 * After that nothing changes, which is why any number of threads may share
 * one policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errors.h"
#include "policy_int.h"

#define WARN_MAX 8

static int
add_warning(struct policy *p, const char *text)
{
	if (p->nwarnings >= WARN_MAX)
		return 0;
	if ((p->warnings[p->nwarnings] = pol_printf(p, "%s", text)) == NULL)
		return BRK_ERR_NOMEM;
	p->nwarnings++;
	return 0;
}

/* Valid but probably not what was meant. */
static int
build_warnings(struct policy *p)
{
	int r = 0;

	if ((p->warnings = pol_allocarray(
		 p, WARN_MAX + 1, sizeof(*p->warnings))) == NULL)
		return BRK_ERR_NOMEM;
	if (p->nrules == 0)
		r = add_warning(p, "rules is empty: every request is denied");
	if (r == 0 && !p->roles[ROLE_OPTOUT_APPROVERS].present)
		r = add_warning(p,
		    "roles.optout_approvers is missing: manual "
		    "opt-outs cannot be used");
	if (r == 0 && !p->roles[ROLE_POLICY_ADMINS].present)
		r = add_warning(p,
		    "roles.policy_admins is missing: nobody "
		    "may load a new policy through the broker");
	if (r == 0 && !p->roles[ROLE_AUDITORS].present)
		r = add_warning(p,
		    "roles.auditors is missing: only root can "
		    "read the audit trail");
	return r;
}

static void
syntax_error(struct policy_error *err, const json_error_t *jerr)
{
	if (err == NULL)
		return;
	snprintf(err->path, sizeof(err->path), "%s", "");
	err->line = jerr->line > 0 ? jerr->line : 0;
	snprintf(err->msg, sizeof(err->msg), "JSON syntax: %s", jerr->text);
}

int
policy_parse(
    const char *text, size_t len, struct policy **out, struct policy_error *err)
{
	struct pol_pctx c;
	struct policy *p = NULL;
	json_error_t jerr;
	json_t *doc = NULL;
	int r = BRK_ERR_INVALID;

	if (out != NULL)
		*out = NULL;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (text == NULL || out == NULL)
		goto out;
	if (len > POL_TEXT_MAX) {
		if (err != NULL)
			snprintf(err->msg, sizeof(err->msg),
			    "the policy is "
			    "larger than %u bytes",
			    POL_TEXT_MAX);
		goto out;
	}
	if ((doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		syntax_error(err, &jerr);
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	p->doc = doc;
	doc = NULL;
	memset(&c, 0, sizeof(c));
	c.text = text;
	c.len = len;
	c.p = p;
	c.err = err;
	if ((r = pol_parse_document(&c, p->doc)) != 0)
		goto out;
	if ((r = pol_index_build(p)) != 0 || (r = build_warnings(p)) != 0) {
		pol_nomem(&c);
		goto out;
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	policy_free(p);
	json_decref(doc);
	return r;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	pol_arena_free(p);
	json_decref(p->doc);
	free(p);
}

size_t
policy_rule_count(const struct policy *p)
{
	return p == NULL ? 0 : p->nrules;
}

const struct policy_limits *
policy_limits(const struct policy *p)
{
	return p == NULL ? NULL : &p->limits;
}

json_t *
policy_document(const struct policy *p)
{
	return p == NULL ? NULL : json_deep_copy(p->doc);
}

size_t
policy_warnings(const struct policy *p, const char *const **out)
{
	if (out != NULL)
		*out = NULL;
	if (p == NULL || p->nwarnings == 0)
		return 0;
	if (out != NULL)
		*out = p->warnings;
	return p->nwarnings;
}

const struct policy_rule_cert *
policy_rule_cert_options(const struct policy *p, const char *rule_id)
{
	const struct pol_rule *r;

	if (p == NULL || (r = pol_index_rule(p, rule_id)) == NULL ||
	    r->grant == POLICY_DENY)
		return NULL;
	return &r->cert;
}

bool
policy_resource_label(const struct policy *p, const char *resource,
    const char *key, const char *value)
{
	const struct pol_resource *e;
	size_t i;

	if (p == NULL || resource == NULL ||
	    (e = pol_index_entry(p, resource)) == NULL)
		return false;
	for (i = 0; i < e->labels.n; i++)
		if (strcmp(e->labels.v[i].key, key) == 0 &&
		    strcmp(e->labels.v[i].value, value) == 0)
			return true;
	return false;
}
