/*
 * record.c - the stored form of a request: versioned JSON ("v": 1).
 *
 * JSON keeps the layout evolvable and inspectable with mdb_dump; the cost
 * (a few microseconds) is small next to a sync.
 */
#include "record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "timefmt.h"

static const char *const state_names[ST__COUNT] = {
	"pending", "active", "denied", "cancelled", "expired", "revoked",
};

const char *
req_state_name(enum req_state s)
{
	return (unsigned)s < ST__COUNT ? state_names[s] : "unknown";
}

int
req_state_parse(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < ST__COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

void
req_id(uint64_t serial, char buf[24])
{
	snprintf(buf, 24, "r%" PRIu64, serial);
}

int
req_id_parse(const char *s, uint64_t *serial)
{
	uint64_t v = 0;
	const char *p = s;

	if (p == NULL)
		return BRK_ERR_INVALID;
	if (*p == 'r')
		p++;
	if (*p == '\0' || *p == '0' || strlen(p) > 19)
		return BRK_ERR_INVALID;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return BRK_ERR_INVALID;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*serial = v;
	return 0;
}

char *
record_encode(const struct request *r, size_t *len)
{
	json_t *o;
	char *s;

	o = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:b, s:I, s:i, s:i,"
	    " s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "v", 1, "serial", (json_int_t)r->serial,
	    "state", req_state_name(r->state), "user", r->user,
	    "caller", r->caller, "resource", r->resource, "role", r->role,
	    "created_at", (json_int_t)r->created_at,
	    "decided_at", (json_int_t)r->decided_at,
	    "starts_at", (json_int_t)r->starts_at,
	    "expires_at", (json_int_t)r->expires_at,
	    "ended_at", (json_int_t)r->ended_at,
	    "requested_ttl", (json_int_t)r->requested_ttl,
	    "ttl", (json_int_t)r->ttl,
	    "clamped", r->clamped, "automatic", r->automatic,
	    "break_glass", r->break_glass,
	    "require_reason", r->require_reason,
	    "require_ticket", r->require_ticket,
	    "policy_version", (json_int_t)r->policy_version,
	    "quorum", r->quorum, "approvals", r->approvals,
	    "rules", r->rules, "decision", r->decision,
	    "approver_groups", r->approver_groups,
	    "approver_users", r->approver_users, "reason", r->reason,
	    "ticket", r->ticket, "incident", r->incident,
	    "ended_by", r->ended_by, "end_reason", r->end_reason,
	    "rule", r->rule);
	if (o != NULL && r->optouts[0] != '\0')
		json_object_set_new(o, "optouts", json_string(r->optouts));
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

static int
get_str(json_t *o, const char *key, char *dst, size_t dstlen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= dstlen)
		return BRK_ERR_INVALID;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int
get_int(json_t *o, const char *key, int64_t *dst)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return BRK_ERR_INVALID;
	*dst = json_integer_value(v);
	return 0;
}

int
record_decode(const void *data, size_t len, struct request *r)
{
	int64_t v = 0, serial = 0, pv = 0, q = 0, a = 0;
	json_t *o;
	int st, rc = BRK_ERR_INVALID;

	memset(r, 0, sizeof(*r));
	if ((o = json_loadb(data, len, 0, NULL)) == NULL)
		return rc;
	if (get_int(o, "v", &v) != 0 || v != 1 ||
	    get_int(o, "serial", &serial) != 0 ||
	    (st = req_state_parse(json_string_value(json_object_get(o,
	    "state")))) < 0 ||
	    get_str(o, "user", r->user, sizeof(r->user)) != 0 ||
	    get_str(o, "caller", r->caller, sizeof(r->caller)) != 0 ||
	    get_str(o, "resource", r->resource, sizeof(r->resource)) != 0 ||
	    get_str(o, "role", r->role, sizeof(r->role)) != 0 ||
	    get_int(o, "created_at", &r->created_at) != 0 ||
	    get_int(o, "decided_at", &r->decided_at) != 0 ||
	    get_int(o, "starts_at", &r->starts_at) != 0 ||
	    get_int(o, "expires_at", &r->expires_at) != 0 ||
	    get_int(o, "ended_at", &r->ended_at) != 0 ||
	    get_int(o, "requested_ttl", &r->requested_ttl) != 0 ||
	    get_int(o, "ttl", &r->ttl) != 0 ||
	    get_int(o, "policy_version", &pv) != 0 ||
	    get_int(o, "quorum", &q) != 0 ||
	    get_int(o, "approvals", &a) != 0 ||
	    get_str(o, "rules", r->rules, sizeof(r->rules)) != 0 ||
	    get_str(o, "decision", r->decision, sizeof(r->decision)) != 0 ||
	    get_str(o, "approver_groups", r->approver_groups,
	    sizeof(r->approver_groups)) != 0 ||
	    get_str(o, "approver_users", r->approver_users,
	    sizeof(r->approver_users)) != 0 ||
	    get_str(o, "reason", r->reason, sizeof(r->reason)) != 0 ||
	    get_str(o, "ticket", r->ticket, sizeof(r->ticket)) != 0 ||
	    get_str(o, "incident", r->incident, sizeof(r->incident)) != 0 ||
	    get_str(o, "ended_by", r->ended_by, sizeof(r->ended_by)) != 0 ||
	    get_str(o, "end_reason", r->end_reason,
	    sizeof(r->end_reason)) != 0)
		goto out;
	/* fields added after v1 was first written: optional */
	if ((json_object_get(o, "rule") != NULL &&
	    get_str(o, "rule", r->rule, sizeof(r->rule)) != 0) ||
	    (json_object_get(o, "optouts") != NULL &&
	    get_str(o, "optouts", r->optouts, sizeof(r->optouts)) != 0))
		goto out;
	r->serial = (uint64_t)serial;
	r->state = (enum req_state)st;
	r->policy_version = (uint64_t)pv;
	r->quorum = (int)q;
	r->approvals = (int)a;
	r->clamped = json_is_true(json_object_get(o, "clamped"));
	r->automatic = json_is_true(json_object_get(o, "automatic"));
	r->break_glass = json_is_true(json_object_get(o, "break_glass"));
	r->require_reason = json_is_true(json_object_get(o, "require_reason"));
	r->require_ticket = json_is_true(json_object_get(o, "require_ticket"));
	rc = 0;
out:
	json_decref(o);
	return rc;
}

static json_t *
time_or_null(int64_t t)
{
	char buf[TIMEFMT_LEN];

	if (t == 0)
		return json_null();
	time_rfc3339(t, buf);
	return json_string(buf);
}

/* "a,b,c" as a JSON array of strings. */
static json_t *
list_json(const char *list)
{
	json_t *a = json_array();
	const char *p = list, *c;

	while (a != NULL && *p != '\0') {
		c = strchr(p, ',');
		if (c == NULL)
			c = p + strlen(p);
		json_array_append_new(a, json_stringn(p, (size_t)(c - p)));
		p = *c == ',' ? c + 1 : c;
	}
	return a;
}

static json_t *
str_or_null(const char *s)
{
	return s[0] != '\0' ? json_string(s) : json_null();
}

json_t *
record_to_json(const struct request *r)
{
	char id[24];

	req_id(r->serial, id);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o,"
	    " s:o, s:o, s:I, s:I, s:b, s:b, s:b, s:o, s:s, s:o, s:s, s:I, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:{s:i, s:i, s:o, s:o, s:b, s:b}}",
	    "id", id, "serial", (json_int_t)r->serial,
	    "state", req_state_name(r->state), "user", r->user,
	    "caller", r->caller, "resource", r->resource, "role", r->role,
	    "created_at", time_or_null(r->created_at),
	    "decided_at", time_or_null(r->decided_at),
	    "starts_at", time_or_null(r->starts_at),
	    "expires_at", time_or_null(r->expires_at),
	    "ended_at", time_or_null(r->ended_at),
	    "requested_ttl", (json_int_t)r->requested_ttl,
	    "ttl", (json_int_t)r->ttl, "clamped", r->clamped,
	    "automatic", r->automatic, "break_glass", r->break_glass,
	    "rules", list_json(r->rules), "rule", r->rule,
	    "optouts", list_json(r->optouts),
	    "decision", r->decision,
	    "policy_version", (json_int_t)r->policy_version,
	    "reason", str_or_null(r->reason), "ticket", str_or_null(r->ticket),
	    "incident", str_or_null(r->incident),
	    "ended_by", str_or_null(r->ended_by),
	    "end_reason", str_or_null(r->end_reason),
	    "cert", json_null(),
	    "approval", "quorum", r->quorum, "approvals", r->approvals,
	    "groups", list_json(r->approver_groups),
	    "users", list_json(r->approver_users),
	    "require_reason", r->require_reason,
	    "require_ticket", r->require_ticket);
}
