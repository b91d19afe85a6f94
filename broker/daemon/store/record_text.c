/*
 * record_text.c - a request's public JSON view written as text, without
 * the jansson tree record_to_json() builds.
 *
 * Every auto grant's reply is this view: building the tree (about sixty
 * allocations) and then serialising it cost more than the rest of the
 * reply.  The members and their order must stay record_to_json()'s:
 * tests/unit/test_record.c compares the two texts over many records.
 */
#include "record.h"

#include <string.h>

#include "jsonout.h"
#include "timefmt.h"

static void
put_time(struct jsonout *o, const char *key, int64_t t)
{
	char buf[TIMEFMT_LEN];

	jsonout_key(o, key);
	if (t == 0) {
		jsonout_null(o);
		return;
	}
	time_rfc3339(t, buf);
	jsonout_str(o, buf);
}

/* "a,b" as ["a","b"], as list_json() splits it */
static void
put_list(struct jsonout *o, const char *key, const char *list)
{
	const char *p = list, *c;

	jsonout_key(o, key);
	jsonout_open(o, '[');
	while (*p != '\0') {
		if ((c = strchr(p, ',')) == NULL)
			c = p + strlen(p);
		jsonout_strn(o, p, (size_t)(c - p));
		p = *c == ',' ? c + 1 : c;
	}
	jsonout_close(o, ']');
}

static void
put_str_or_null(struct jsonout *o, const char *key, const char *s)
{
	jsonout_key(o, key);
	if (s != NULL && s[0] != '\0')
		jsonout_str(o, s);
	else
		jsonout_null(o);
}

static void
put_str(struct jsonout *o, const char *key, const char *s)
{
	jsonout_key(o, key);
	jsonout_str(o, s);
}

static void
put_int(struct jsonout *o, const char *key, int64_t v)
{
	jsonout_key(o, key);
	jsonout_int(o, (json_int_t)v);
}

static void
put_bool(struct jsonout *o, const char *key, bool v)
{
	jsonout_key(o, key);
	jsonout_bool(o, v);
}

/* as cert_options_json() */
static void
put_cert_options(struct jsonout *o, const struct request *r)
{
	static const char *const names[] = { "permit-pty",
		"permit-port-forwarding", "permit-agent-forwarding",
		"permit-X11-forwarding", "permit-user-rc" };
	size_t i;

	jsonout_key(o, "cert_options");
	if (!r->cert_known) {
		jsonout_null(o);
		return;
	}
	jsonout_open(o, '{');
	jsonout_key(o, "extensions");
	jsonout_open(o, '[');
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (r->cert_extensions & (1u << i))
			jsonout_str(o, names[i]);
	jsonout_close(o, ']');
	put_str_or_null(o, "force-command", r->force_command);
	put_str_or_null(o, "source-address", r->source_address);
	jsonout_close(o, '}');
}

static void
put_approval(struct jsonout *o, const struct request *r, int needed)
{
	jsonout_key(o, "approval");
	jsonout_open(o, '{');
	put_int(o, "quorum", r->quorum);
	put_int(o, "approvals", r->approvals);
	put_list(o, "groups", r->approver_groups);
	put_list(o, "users", r->approver_users);
	put_bool(o, "require_reason", r->require_reason);
	put_bool(o, "require_ticket", r->require_ticket);
	if (r->state == ST_PENDING)
		put_int(o, "needed", needed);
	jsonout_close(o, '}');
}

/* The members record_to_json() packs, in its order; "cert" is x's. */
static void
put_members(
    struct jsonout *o, const struct request *r, const char *cert, int needed)
{
	char id[24];

	req_id(r->serial, id);
	put_str(o, "id", id);
	put_int(o, "serial", (int64_t)r->serial);
	put_str(o, "state", req_state_name(r->state));
	put_str(o, "user", r->user);
	put_str(o, "caller", r->caller);
	put_str(o, "resource", r->resource);
	put_str(o, "role", r->role);
	put_time(o, "created_at", r->created_at);
	put_time(o, "decided_at", r->decided_at);
	put_time(o, "starts_at", r->starts_at);
	put_time(o, "expires_at", r->state == ST_PENDING ? 0 : r->expires_at);
	put_time(
	    o, "pending_until", r->state == ST_PENDING ? r->expires_at : 0);
	put_time(o, "ended_at", r->ended_at);
	jsonout_key(o, "requested_ttl_s");
	if (r->requested_ttl > 0)
		jsonout_int(o, (json_int_t)r->requested_ttl);
	else
		jsonout_null(o);
	put_time(o, "requested_start", r->requested_start);
	put_int(o, "ttl_s", r->ttl);
	put_bool(o, "clamped", r->clamped);
	put_bool(o, "automatic", r->automatic);
	put_bool(o, "break_glass", r->break_glass);
	put_list(o, "rules", r->rules);
	put_str(o, "rule", r->rule);
	put_list(o, "optouts", r->optouts);
	put_str(o, "decision", r->decision);
	put_int(o, "policy_version", (int64_t)r->policy_version);
	put_str_or_null(o, "reason", r->reason);
	put_str_or_null(o, "ticket", r->ticket);
	put_str_or_null(o, "incident", r->incident);
	put_str_or_null(o, "ended_by", r->ended_by);
	put_str_or_null(o, "end_reason", r->end_reason);
	jsonout_key(o, "cert");
	if (cert != NULL)
		jsonout_str(o, cert);
	else
		jsonout_null(o);
	put_approval(o, r, needed);
}

void
record_put_json(
    struct jsonout *o, const struct request *r, const struct record_extra *x)
{
	static const struct record_extra none = { "", false, false, NULL, "" };
	int needed = r->state == ST_PENDING && r->quorum > r->approvals ?
	    r->quorum - r->approvals :
	    0;

	if (x == NULL)
		x = &none;
	jsonout_open(o, '{');
	put_members(o, r, x->cert, needed);
	put_cert_options(o, r);
	if (r->state == ST_PENDING)
		put_int(o, "approvals_needed", needed);
	if (x->clamped_by != NULL && x->clamped_by[0] != '\0')
		put_str(o, "clamped_by", x->clamped_by);
	if (x->empty_approvals) {
		jsonout_key(o, "approvals");
		jsonout_open(o, '[');
		jsonout_close(o, ']');
	}
	if (x->duplicate)
		put_bool(o, "duplicate", true);
	if (x->cert == NULL && x->cert_error != NULL &&
	    x->cert_error[0] != '\0')
		put_str(o, "cert_error", x->cert_error);
	jsonout_close(o, '}');
}
