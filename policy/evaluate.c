/*
 * evaluate.c - decide a query against a compiled policy.
 *
 * The index proposes candidate rules; each is checked fully and the matches
 * are folded, in file order, into one accumulator per outcome.  The result
 * starts as a deny and only becomes something else on the last steps, so an
 * early return (bad query, no memory) is always a refusal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "duration.h"
#include "glob.h"
#include "names.h"
#include "policy_int.h"

/* What the matching rules of one outcome add up to. */
struct acc {
	const struct pol_rule *decider; /* smallest max_ttl, first if tied */
	bool req_reason, req_ticket;
};

const char *
pol_outcome_name(enum policy_outcome o)
{
	switch (o) {
	case POLICY_AUTO:
		return "auto";
	case POLICY_APPROVE:
		return "approve";
	case POLICY_DENY:
		break;
	}
	return "deny";
}

static bool
in_names(const struct pol_names *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static bool
has_label(const struct pol_resource *e, const struct pol_label *l)
{
	size_t i;

	for (i = 0; e != NULL && i < e->labels.n; i++)
		if (strcmp(e->labels.v[i].key, l->key) == 0)
			return strcmp(e->labels.v[i].value, l->value) == 0;
	return false;
}

/*
 * Whether an auto or approve rule grants the requested role: one it lists
 * in "principals" (else in when.roles, which name roles just as
 * explicitly); a rule naming none grants only the user's own login name,
 * and never root, which must always be listed.
 */
static bool
grants_role(const struct pol_rule *r, const struct pol_eval *ev)
{
	if (r->principals.n > 0)
		return in_names(&r->principals, ev->role);
	if (r->roles.n > 0)
		return in_names(&r->roles, ev->role);
	return strcmp(ev->role, ev->q->user) == 0 &&
	    strcmp(ev->role, "root") != 0;
}

enum pol_miss
pol_rule_check(
    const struct pol_rule *r, const struct pol_eval *ev, size_t *which)
{
	const struct policy_query *q = ev->q;
	size_t i;

	*which = 0;
	if (r->users.n > 0 && !in_names(&r->users, q->user))
		return POL_MISS_USER;
	if (r->groups.n > 0) {
		for (i = 0; i < q->ngroups; i++)
			if (q->groups[i] != NULL &&
			    in_names(&r->groups, q->groups[i]))
				break;
		if (i == q->ngroups)
			return POL_MISS_GROUP;
	}
	if (r->resources.n > 0) {
		for (i = 0; i < r->resources.n; i++)
			if (glob_match(r->resources.v[i], q->resource))
				break;
		if (i == r->resources.n)
			return POL_MISS_RESOURCE;
	}
	for (i = 0; i < r->labels.n; i++)
		if (!has_label(ev->entry, &r->labels.v[i])) {
			*which = i;
			return POL_MISS_LABEL;
		}
	if (r->roles.n > 0 && !in_names(&r->roles, ev->role))
		return POL_MISS_ROLE;
	if (r->max_duration > 0 && q->duration > r->max_duration)
		return POL_MISS_DURATION;
	if (r->grant != POLICY_DENY && !grants_role(r, ev))
		return POL_MISS_PRINCIPAL;
	return POL_MISS_NONE;
}

/* Why the query cannot be evaluated at all, or NULL. */
static const char *
query_problem(const struct policy_query *q)
{
	if (q == NULL || q->user == NULL || !name_user_valid(q->user))
		return "the user name is not valid";
	if (q->resource == NULL || !name_resource_valid(q->resource))
		return "the resource name is not valid";
	if (q->resource[glob_literal_prefix(q->resource)] != '\0')
		return "the resource name may not contain '*' or '?'";
	if (q->role != NULL && !name_user_valid(q->role))
		return "the requested role is not a valid principal name";
	if (q->ngroups > 0 && q->groups == NULL)
		return "the query's group list is missing";
	if (q->duration < 0)
		return "the requested duration is negative";
	return NULL;
}

static void
add_unique(const char **v, size_t *n, const struct pol_names *add)
{
	size_t i, k;

	for (i = 0; i < add->n; i++) {
		for (k = 0; k < *n; k++)
			if (strcmp(v[k], add->v[i]) == 0)
				break;
		if (k == *n && *n < POLICY_MAX_MATCHES)
			v[(*n)++] = add->v[i];
	}
}

static void
fold(struct policy_decision *d, struct acc *acc, const struct pol_rule *r)
{
	struct acc *a = &acc[r->grant];
	bool first = a->decider == NULL;

	if (d->nmatched < POLICY_MAX_MATCHES)
		d->matched[d->nmatched++] = r->id;
	if (first ||
	    (r->grant != POLICY_DENY && r->max_ttl < a->decider->max_ttl))
		a->decider = r;
	a->req_reason |= r->require_reason;
	a->req_ticket |= r->require_ticket;
	if (r->grant != POLICY_APPROVE)
		return;
	add_unique(d->approver_groups, &d->napprover_groups, &r->appr_groups);
	add_unique(d->approver_users, &d->napprover_users, &r->appr_users);
	if (r->quorum > d->quorum)
		d->quorum = r->quorum;
	d->break_glass = first ? r->break_glass :
				 d->break_glass && r->break_glass;
	d->break_glass_during_freeze = first ?
	    r->bg_during_freeze :
	    d->break_glass_during_freeze && r->bg_during_freeze;
	d->break_glass_during_optout = first ?
	    r->bg_during_optout :
	    d->break_glass_during_optout && r->bg_during_optout;
}

/* The certificate options of every matching auto and approve rule. */
struct certacc {
	bool any, bad;
	char why[400];
};

static void
fold_cert(
    struct policy_decision *d, struct certacc *cc, const struct pol_rule *r)
{
	if (r->grant == POLICY_DENY || cc->bad)
		return;
	if (pol_cert_fold(d, r, !cc->any, cc->why, sizeof(cc->why)) != 0)
		cc->bad = true;
	cc->any = true;
}

/* Certificate fields mean nothing on a deny: clear them. */
static void
clear_cert(struct policy_decision *d)
{
	d->cert_extensions = 0;
	d->force_command[0] = d->source_address[0] = '\0';
}

static void
set_ttl(struct policy_decision *d, const struct policy_query *q,
    const struct pol_rule *r)
{
	char cap[32], asked[32];

	d->ttl = r->max_ttl;
	if (q->duration > 0 && q->duration <= r->max_ttl)
		d->ttl = q->duration;
	d->clamped = q->duration > r->max_ttl;
	duration_format(r->max_ttl, cap, sizeof(cap));
	duration_format(q->duration, asked, sizeof(asked));
	if (d->outcome == POLICY_AUTO)
		snprintf(d->reason, sizeof(d->reason),
		    "rule %s grants "
		    "automatically for up to %s",
		    r->id, cap);
	else
		snprintf(d->reason, sizeof(d->reason),
		    "rule %s needs %d "
		    "approval%s for up to %s",
		    r->id, d->quorum, d->quorum == 1 ? "" : "s", cap);
	if (d->clamped)
		snprintf(d->reason + strlen(d->reason),
		    sizeof(d->reason) - strlen(d->reason),
		    " (%s requested, %s granted)", asked, cap);
}

/* Approval fields mean nothing unless approve won: clear them. */
static void
clear_approval(struct policy_decision *d)
{
	memset(d->approver_groups, 0, sizeof(d->approver_groups));
	memset(d->approver_users, 0, sizeof(d->approver_users));
	d->napprover_groups = d->napprover_users = 0;
	d->quorum = 0;
	d->break_glass = false;
	d->break_glass_during_freeze = d->break_glass_during_optout = false;
}

/* Nothing matched: say so, or, when a rule would have matched a shorter
 * request, which rule and how long it allows. */
static void
no_match(struct policy_decision *d, const struct policy_query *q,
    const struct pol_rule *too_long)
{
	char asked[32], cap[32];

	if (too_long == NULL) {
		snprintf(d->reason, sizeof(d->reason),
		    "no rule matches user "
		    "%s on %s",
		    q->user, q->resource);
		return;
	}
	duration_format(q->duration, asked, sizeof(asked));
	duration_format(too_long->max_duration, cap, sizeof(cap));
	snprintf(d->reason, sizeof(d->reason),
	    "asked for %s, longer than "
	    "rule %s allows (max_duration %s): ask for %s or less",
	    asked, too_long->id, cap, cap);
}

/* Whether rule r speaks of the query's resource at all (its resource
 * globs and labels), whoever asks. */
static bool
rule_covers(const struct pol_rule *r, const struct pol_eval *ev)
{
	size_t i;

	for (i = 0; i < r->resources.n; i++)
		if (glob_match(r->resources.v[i], ev->q->resource))
			break;
	if (r->resources.n > 0 && i == r->resources.n)
		return false;
	for (i = 0; i < r->labels.n; i++)
		if (!has_label(ev->entry, &r->labels.v[i]))
			return false;
	return true;
}

static void
conclude(struct policy_decision *d, const struct pol_eval *ev, struct acc *acc,
    const struct certacc *cc, const struct pol_rule *too_long, bool covered)
{
	const struct policy_query *q = ev->q;

	if (acc[POLICY_DENY].decider == NULL &&
	    acc[POLICY_APPROVE].decider == NULL)
		clear_approval(d);
	/* A deny rule is the more telling reason, so it is named first. */
	if (acc[POLICY_DENY].decider != NULL) {
		clear_approval(d);
		d->deciding_rule = acc[POLICY_DENY].decider->id;
		snprintf(d->reason, sizeof(d->reason), "denied by rule %s",
		    d->deciding_rule);
	} else if (ev->entry != NULL && ev->entry->has_principals &&
	    !in_names(&ev->entry->principals, ev->role)) {
		clear_approval(d);
		snprintf(d->reason, sizeof(d->reason),
		    "role %s is not among "
		    "the principals allowed on %s",
		    ev->role, q->resource);
	} else if (cc->bad) {
		clear_approval(d);
		snprintf(d->reason, sizeof(d->reason), "%s", cc->why);
	} else if (acc[POLICY_APPROVE].decider != NULL) {
		d->outcome = POLICY_APPROVE;
		d->deciding_rule = acc[POLICY_APPROVE].decider->id;
		d->require_reason = acc[POLICY_APPROVE].req_reason;
		d->require_ticket = acc[POLICY_APPROVE].req_ticket;
		set_ttl(d, q, acc[POLICY_APPROVE].decider);
	} else if (acc[POLICY_AUTO].decider != NULL) {
		d->outcome = POLICY_AUTO;
		d->deciding_rule = acc[POLICY_AUTO].decider->id;
		d->require_reason = acc[POLICY_AUTO].req_reason;
		d->require_ticket = acc[POLICY_AUTO].req_ticket;
		set_ttl(d, q, acc[POLICY_AUTO].decider);
	} else if (!covered)
		snprintf(d->reason, sizeof(d->reason),
		    "no rule covers %s: "
		    "the policy grants it to no one (check the name)",
		    q->resource);
	else
		no_match(d, q, too_long);
	if (d->outcome == POLICY_DENY)
		clear_cert(d);
}

void
pol_decide(const struct policy *p, const struct policy_query *q,
    struct policy_decision *d, struct pol_eval *ev)
{
	struct certacc cc = { .any = false };
	struct acc acc[3];
	const struct pol_rule *r, *too_long = NULL;
	const char *problem;
	size_t i, which;
	bool covered = false;

	memset(d, 0, sizeof(*d));
	memset(acc, 0, sizeof(acc));
	d->outcome = POLICY_DENY;
	ev->q = q;
	ev->cand = ev->buf;
	ev->ncand = 0;
	ev->cap = sizeof(ev->buf) / sizeof(ev->buf[0]);
	ev->entry = NULL;
	ev->role = NULL;
	if (p == NULL) {
		snprintf(d->reason, sizeof(d->reason), "no policy");
		return;
	}
	if ((problem = query_problem(q)) != NULL) {
		snprintf(d->reason, sizeof(d->reason), "%s", problem);
		return;
	}
	ev->role = q->role != NULL ? q->role : q->user;
	ev->entry = pol_index_entry(p, q->resource);
	if (pol_index_candidates(p, ev) != 0) {
		snprintf(d->reason, sizeof(d->reason), "out of memory");
		return;
	}
	for (i = 0; i < ev->ncand; i++) {
		r = &p->rules[ev->cand[i]];
		switch (pol_rule_check(r, ev, &which)) {
		case POL_MISS_NONE:
			fold(d, acc, r);
			fold_cert(d, &cc, r);
			break;
		case POL_MISS_DURATION: /* only the duration kept it out */
			if (too_long == NULL && r->grant != POLICY_DENY)
				too_long = r;
			break;
		default:
			break;
		}
		covered = covered || rule_covers(r, ev);
	}
	conclude(d, ev, acc, &cc, too_long, covered);
}

void
pol_eval_free(struct pol_eval *ev)
{
	if (ev != NULL && ev->cand != ev->buf)
		free(ev->cand);
	if (ev != NULL)
		ev->cand = ev->buf;
}

void
policy_evaluate(const struct policy *p, const struct policy_query *q,
    struct policy_decision *out)
{
	struct pol_eval ev;

	if (out == NULL)
		return;
	pol_decide(p, q, out, &ev);
	pol_eval_free(&ev);
}
