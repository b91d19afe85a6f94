/*
 * record.c - the stored form of a request, and its public JSON view.
 *
 * Records are stored in a compact binary form: every grant writes one and
 * every check may read some, on the single writer thread's critical path,
 * where building and parsing JSON cost more than the rest of the write.
 * JSON is made only at the edge, for replies (record_to_json).
 */
#include "record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "serial.h"
#include "sshbuf.h"
#include "timefmt.h"

static const char *const state_names[ST__COUNT] = {
	"pending",
	"active",
	"denied",
	"cancelled",
	"expired",
	"revoked",
	"scheduled",
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
	return serial_parse(s, 'r', true, serial);
}

/*
 * Version 3, the form written now: a version byte, then the fields in a
 * fixed order in SSH wire encoding (u64 numbers, u32-length strings), then
 * the certificate restrictions (u32 extension bits, force-command,
 * source-address).  Version 2 is the same without the restrictions, and
 * version 1 was JSON (its first byte is '{'); both are still read, with
 * cert_known false.
 */
#define RECORD_V2 2
#define RECORD_V3 3
#define EXT_BITS_MAX 0x1fu /* POLICY_EXT_ALL */
#define FLAG_CLAMPED 1u
#define FLAG_AUTOMATIC 2u
#define FLAG_BREAK_GLASS 4u
#define FLAG_REQUIRE_REASON 8u
#define FLAG_REQUIRE_TICKET 16u
#define FLAG_CERT_KNOWN 32u /* v3: the restrictions were recorded */

/* The text fields, in their stored order, and their sizes. */
#define TEXT_FIELDS(r)                                                      \
	{                                                                   \
		{ (r)->user, sizeof((r)->user) },                           \
		    { (r)->caller, sizeof((r)->caller) },                   \
		    { (r)->resource, sizeof((r)->resource) },               \
		    { (r)->role, sizeof((r)->role) },                       \
		    { (r)->rules, sizeof((r)->rules) },                     \
		    { (r)->rule, sizeof((r)->rule) },                       \
		    { (r)->optouts, sizeof((r)->optouts) },                 \
		    { (r)->decision, sizeof((r)->decision) },               \
		    { (r)->approver_groups, sizeof((r)->approver_groups) }, \
		    { (r)->approver_users, sizeof((r)->approver_users) },   \
		    { (r)->reason, sizeof((r)->reason) },                   \
		    { (r)->ticket, sizeof((r)->ticket) },                   \
		    { (r)->incident, sizeof((r)->incident) },               \
		    { (r)->ended_by, sizeof((r)->ended_by) },               \
		    { (r)->end_reason, sizeof((r)->end_reason) },           \
	}
#define NTEXT 15
#define NTIMES 8

struct text_in {
	const char *p;
	size_t size;
};

struct text_out {
	char *p;
	size_t size;
};

static uint8_t
flags_of(const struct request *r)
{
	return (uint8_t)((r->clamped ? FLAG_CLAMPED : 0) |
	    (r->automatic ? FLAG_AUTOMATIC : 0) |
	    (r->break_glass ? FLAG_BREAK_GLASS : 0) |
	    (r->require_reason ? FLAG_REQUIRE_REASON : 0) |
	    (r->require_ticket ? FLAG_REQUIRE_TICKET : 0) |
	    (r->cert_known ? FLAG_CERT_KNOWN : 0));
}

int
record_encode(const struct request *r, struct sshbuf *b)
{
	const struct text_in text[NTEXT] = TEXT_FIELDS(r);
	const int64_t times[NTIMES] = { r->created_at, r->decided_at,
		r->starts_at, r->expires_at, r->ended_at, r->requested_ttl,
		r->ttl, r->requested_start };
	int i, rc;

	if ((unsigned)r->state >= ST__COUNT || r->quorum < 0 ||
	    r->approvals < 0)
		return BRK_ERR_INVALID;
	if ((r->cert_extensions & ~EXT_BITS_MAX) != 0)
		return BRK_ERR_INVALID;
	if ((rc = sshbuf_put_u8(b, RECORD_V3)) != 0 ||
	    (rc = sshbuf_put_u64(b, r->serial)) != 0 ||
	    (rc = sshbuf_put_u8(b, (uint8_t)r->state)) != 0 ||
	    (rc = sshbuf_put_u8(b, flags_of(r))) != 0 ||
	    (rc = sshbuf_put_u64(b, r->policy_version)) != 0 ||
	    (rc = sshbuf_put_u32(b, (uint32_t)r->quorum)) != 0 ||
	    (rc = sshbuf_put_u32(b, (uint32_t)r->approvals)) != 0)
		return rc;
	for (i = 0; i < NTIMES; i++)
		if ((rc = sshbuf_put_u64(b, (uint64_t)times[i])) != 0)
			return rc;
	for (i = 0; i < NTEXT; i++)
		if ((rc = sshbuf_put_cstring(b, text[i].p)) != 0)
			return rc;
	if ((rc = sshbuf_put_u32(b, r->cert_extensions)) != 0 ||
	    (rc = sshbuf_put_cstring(b, r->force_command)) != 0 ||
	    (rc = sshbuf_put_cstring(b, r->source_address)) != 0)
		return rc;
	return 0;
}

/* A string into dst: it must fit with its NUL and hold no NUL itself. */
static int
get_text(struct sshbuf *b, char *dst, size_t size)
{
	const uint8_t *p;
	size_t len;

	if (sshbuf_get_string_direct(b, &p, &len) != 0 || len >= size ||
	    memchr(p, '\0', len) != NULL)
		return BRK_ERR_INVALID;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

/* Versions 2 and 3: the same fields, and the restrictions in 3. */
static int
decode_bin(const void *data, size_t len, struct request *r)
{
	const struct text_out text[NTEXT] = TEXT_FIELDS(r);
	int64_t *const times[NTIMES] = { &r->created_at, &r->decided_at,
		&r->starts_at, &r->expires_at, &r->ended_at, &r->requested_ttl,
		&r->ttl, &r->requested_start };
	struct sshbuf *b = sshbuf_from(data, len);
	uint32_t quorum, approvals, exts;
	uint8_t version, state, flags;
	uint64_t v;
	int i, rc = BRK_ERR_INVALID;

	if (b == NULL)
		return BRK_ERR_NOMEM;
	if (sshbuf_get_u8(b, &version) != 0 ||
	    (version != RECORD_V2 && version != RECORD_V3) ||
	    sshbuf_get_u64(b, &r->serial) != 0 ||
	    sshbuf_get_u8(b, &state) != 0 || state >= ST__COUNT ||
	    sshbuf_get_u8(b, &flags) != 0 ||
	    sshbuf_get_u64(b, &r->policy_version) != 0 ||
	    sshbuf_get_u32(b, &quorum) != 0 || quorum > INT32_MAX ||
	    sshbuf_get_u32(b, &approvals) != 0 || approvals > INT32_MAX)
		goto out;
	for (i = 0; i < NTIMES; i++) {
		if (sshbuf_get_u64(b, &v) != 0)
			goto out;
		*times[i] = (int64_t)v;
	}
	for (i = 0; i < NTEXT; i++)
		if (get_text(b, text[i].p, text[i].size) != 0)
			goto out;
	if (version == RECORD_V2 && (flags & FLAG_CERT_KNOWN))
		goto out;
	if (version == RECORD_V3) {
		if (sshbuf_get_u32(b, &exts) != 0 || (exts & ~EXT_BITS_MAX) ||
		    get_text(b, r->force_command, sizeof(r->force_command)) !=
			0 ||
		    get_text(b, r->source_address, sizeof(r->source_address)) !=
			0)
			goto out;
		r->cert_known = (flags & FLAG_CERT_KNOWN) != 0;
		r->cert_extensions = exts;
	}
	if (sshbuf_len(b) != 0)
		goto out;
	r->state = (enum req_state)state;
	r->quorum = (int)quorum;
	r->approvals = (int)approvals;
	r->clamped = (flags & FLAG_CLAMPED) != 0;
	r->automatic = (flags & FLAG_AUTOMATIC) != 0;
	r->break_glass = (flags & FLAG_BREAK_GLASS) != 0;
	r->require_reason = (flags & FLAG_REQUIRE_REASON) != 0;
	r->require_ticket = (flags & FLAG_REQUIRE_TICKET) != 0;
	rc = 0;
out:
	sshbuf_free(b);
	return rc;
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

/* Version 1: the JSON form written by earlier versions. */
static int
decode_v1(const void *data, size_t len, struct request *r)
{
	int64_t v = 0, serial = 0, pv = 0, q = 0, a = 0;
	json_t *o;
	int st, rc = BRK_ERR_INVALID;

	if ((o = json_loadb(data, len, 0, NULL)) == NULL)
		return rc;
	if (get_int(o, "v", &v) != 0 || v != 1 ||
	    get_int(o, "serial", &serial) != 0 ||
	    (st = req_state_parse(
		 json_string_value(json_object_get(o, "state")))) < 0 ||
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
	    get_int(o, "quorum", &q) != 0 || get_int(o, "approvals", &a) != 0 ||
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
	    get_str(o, "end_reason", r->end_reason, sizeof(r->end_reason)) != 0)
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

int
record_decode(const void *data, size_t len, struct request *r)
{
	memset(r, 0, sizeof(*r));
	if (data == NULL || len == 0)
		return BRK_ERR_INVALID;
	if (*(const uint8_t *)data == '{')
		return decode_v1(data, len, r);
	return decode_bin(data, len, r);
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

/* The restrictions as they go into a certificate; null when unknown. */
static json_t *
cert_options_json(const struct request *r)
{
	static const char *const names[] = { "permit-pty",
		"permit-port-forwarding", "permit-agent-forwarding",
		"permit-X11-forwarding", "permit-user-rc" };
	json_t *exts;
	size_t i;

	if (!r->cert_known)
		return json_null();
	if ((exts = json_array()) == NULL)
		return NULL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (r->cert_extensions & (1u << i))
			json_array_append_new(exts, json_string(names[i]));
	return json_pack("{s:o, s:o, s:o}", "extensions", exts, "force-command",
	    str_or_null(r->force_command), "source-address",
	    str_or_null(r->source_address));
}

void
record_clamped_by(
    const struct request *r, int64_t bg_max, char *buf, size_t len)
{
	if (!r->clamped || r->state == ST_DENIED)
		snprintf(buf, len, "%s", "");
	else if (r->break_glass && r->ttl == bg_max)
		snprintf(buf, len, "limits.break_glass_max_ttl");
	else
		snprintf(buf, len, "max_ttl of rule %s", r->rule);
}

json_t *
record_to_json(const struct request *r)
{
	int needed = r->state == ST_PENDING && r->quorum > r->approvals ?
	    r->quorum - r->approvals :
	    0;
	char id[24];
	json_t *o;

	req_id(r->serial, id);
	o = json_pack(
	    "{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o,"
	    " s:o, s:o, s:o, s:o, s:o, s:I, s:b, s:b, s:b, s:o, s:s, s:o, s:s, s:I,"
	    " s:o, s:o, s:o, s:o, s:o, s:o, s:{s:i, s:i, s:o, s:o, s:b, s:b}}",
	    "id", id, "serial", (json_int_t)r->serial, "state",
	    req_state_name(r->state), "user", r->user, "caller", r->caller,
	    "resource", r->resource, "role", r->role, "created_at",
	    time_json(r->created_at), "decided_at", time_json(r->decided_at),
	    "starts_at", time_json(r->starts_at), "expires_at",
	    time_json(r->state == ST_PENDING ? 0 : r->expires_at),
	    "pending_until",
	    time_json(r->state == ST_PENDING ? r->expires_at : 0), "ended_at",
	    time_json(r->ended_at), "requested_ttl_s",
	    r->requested_ttl > 0 ? json_integer((json_int_t)r->requested_ttl) :
				   json_null(),
	    "requested_start", time_json(r->requested_start), "ttl_s",
	    (json_int_t)r->ttl, "clamped", r->clamped, "automatic",
	    r->automatic, "break_glass", r->break_glass, "rules",
	    list_json(r->rules), "rule", r->rule, "optouts",
	    list_json(r->optouts), "decision", r->decision, "policy_version",
	    (json_int_t)r->policy_version, "reason", str_or_null(r->reason),
	    "ticket", str_or_null(r->ticket), "incident",
	    str_or_null(r->incident), "ended_by", str_or_null(r->ended_by),
	    "end_reason", str_or_null(r->end_reason), "cert", json_null(),
	    "approval", "quorum", r->quorum, "approvals", r->approvals,
	    "groups", list_json(r->approver_groups), "users",
	    list_json(r->approver_users), "require_reason", r->require_reason,
	    "require_ticket", r->require_ticket);
	if (o != NULL &&
	    json_object_set_new(o, "cert_options", cert_options_json(r)) != 0) {
		json_decref(o);
		return NULL;
	}
	if (o != NULL && r->state == ST_PENDING) {
		json_object_set_new(
		    o, "approvals_needed", json_integer(needed));
		json_object_set_new(json_object_get(o, "approval"), "needed",
		    json_integer(needed));
	}
	return o;
}
