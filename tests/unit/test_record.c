/*
 * test_record.c - the stored form of a request: round trips, the JSON form
 * of earlier versions, and records that must be refused.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "record.h"
#include "reqstore.h"
#include "sshbuf.h"

static struct request
sample(void)
{
	struct request r;

	memset(&r, 0, sizeof(r));
	r.serial = 42;
	r.state = ST_ACTIVE;
	snprintf(r.user, sizeof(r.user), "alice");
	snprintf(r.caller, sizeof(r.caller), "root");
	snprintf(r.resource, sizeof(r.resource), "host:web-1");
	snprintf(r.role, sizeof(r.role), "deploy");
	r.created_at = 1700000000;
	r.decided_at = 1700000001;
	r.starts_at = 1700000001;
	r.expires_at = 1700003601;
	r.requested_ttl = 3600;
	r.ttl = 3600;
	r.ended_at = -5;	/* any int64 survives */
	r.requested_start = 1700000900;
	r.automatic = true;
	r.require_ticket = true;
	r.policy_version = 7;
	r.quorum = 2;
	r.approvals = 1;
	snprintf(r.rules, sizeof(r.rules), "web-auto,web-approve");
	snprintf(r.rule, sizeof(r.rule), "web-auto");
	snprintf(r.optouts, sizeof(r.optouts), "o3");
	snprintf(r.decision, sizeof(r.decision), "granted by rule web-auto");
	snprintf(r.approver_groups, sizeof(r.approver_groups), "sre");
	snprintf(r.reason, sizeof(r.reason), "deploy \"fix\" ✓");
	snprintf(r.ticket, sizeof(r.ticket), "OPS-1");
	r.cert_known = true;
	r.cert_extensions = 0x01;	/* permit-pty */
	snprintf(r.force_command, sizeof(r.force_command), "/bin/deploy");
	snprintf(r.source_address, sizeof(r.source_address), "10.0.0.0/8");
	return r;
}

static struct sshbuf *
encode(const struct request *r)
{
	struct sshbuf *b = sshbuf_new();

	cr_assert_not_null(b);
	cr_assert_eq(record_encode(r, b), 0);
	return b;
}

Test(record, round_trip_keeps_every_field)
{
	struct request in = sample(), out;
	struct sshbuf *b = encode(&in);

	cr_assert_eq(record_decode(sshbuf_ptr(b), sshbuf_len(b), &out), 0);
	cr_assert_eq(memcmp(&in, &out, sizeof(in)), 0);
	sshbuf_free(b);
}

Test(record, longest_texts_round_trip)
{
	struct request in = sample(), out;
	struct sshbuf *b;

	memset(in.reason, 'x', sizeof(in.reason) - 1);
	in.reason[sizeof(in.reason) - 1] = '\0';
	memset(in.end_reason, 'y', sizeof(in.end_reason) - 1);
	in.end_reason[sizeof(in.end_reason) - 1] = '\0';
	b = encode(&in);
	cr_assert_eq(record_decode(sshbuf_ptr(b), sshbuf_len(b), &out), 0);
	cr_assert_str_eq(out.reason, in.reason);
	cr_assert_str_eq(out.end_reason, in.end_reason);
	sshbuf_free(b);
}

Test(record, every_truncation_is_refused)
{
	struct request in = sample(), out;
	struct sshbuf *b = encode(&in);
	size_t n;

	for (n = 0; n < sshbuf_len(b); n++)
		cr_assert_eq(record_decode(sshbuf_ptr(b), n, &out),
		    BRK_ERR_INVALID, "accepted %zu of %zu bytes", n,
		    sshbuf_len(b));
	sshbuf_free(b);
}

Test(record, trailing_bytes_and_bad_fields_are_refused)
{
	struct request in = sample(), out;
	struct sshbuf *b = encode(&in);
	uint8_t copy[2048];
	size_t len = sshbuf_len(b);

	cr_assert_lt(len + 1, sizeof(copy));
	memcpy(copy, sshbuf_ptr(b), len);
	copy[len] = 0;
	cr_assert_eq(record_decode(copy, len + 1, &out), BRK_ERR_INVALID);
	copy[0] = 9;			/* an unknown version */
	cr_assert_eq(record_decode(copy, len, &out), BRK_ERR_INVALID);
	copy[0] = 2;
	copy[9] = 200;			/* an unknown state */
	cr_assert_eq(record_decode(copy, len, &out), BRK_ERR_INVALID);
	sshbuf_free(b);
}

/* A string of its own length into a field, at its offset in the record. */
static size_t
with_user(uint8_t *out, size_t size, const char *user, size_t ulen)
{
	struct request in = sample();
	struct sshbuf *b = encode(&in);
	const uint8_t *p = sshbuf_ptr(b);
	size_t head = 1 + 8 + 1 + 1 + 8 + 4 + 4 + 8 * 8;	/* to "user" */
	size_t rest = sshbuf_len(b) - head - 4 - strlen(in.user);
	size_t n = head;

	cr_assert_lt(head + 4 + ulen + rest, size);
	memcpy(out, p, head);
	out[n++] = (uint8_t)(ulen >> 24);
	out[n++] = (uint8_t)(ulen >> 16);
	out[n++] = (uint8_t)(ulen >> 8);
	out[n++] = (uint8_t)ulen;
	memcpy(out + n, user, ulen);
	n += ulen;
	memcpy(out + n, p + head + 4 + strlen(in.user), rest);
	sshbuf_free(b);
	return n + rest;
}

Test(record, oversized_or_nul_holding_texts_are_refused)
{
	uint8_t buf[4096];
	char big[REC_NAME + 1];
	struct request out;
	size_t n;

	n = with_user(buf, sizeof(buf), "bob", 3);
	cr_assert_eq(record_decode(buf, n, &out), 0, "the splice is sound");
	cr_assert_str_eq(out.user, "bob");
	n = with_user(buf, sizeof(buf), "b\0b", 3);
	cr_assert_eq(record_decode(buf, n, &out), BRK_ERR_INVALID);
	memset(big, 'a', sizeof(big));
	n = with_user(buf, sizeof(buf), big, REC_NAME);	/* no room for NUL */
	cr_assert_eq(record_decode(buf, n, &out), BRK_ERR_INVALID);
	n = with_user(buf, sizeof(buf), big, REC_NAME - 1);
	cr_assert_eq(record_decode(buf, n, &out), 0);
}

Test(record, json_records_of_earlier_versions_still_read)
{
	static const char v1[] = "{\"v\":1,\"serial\":7,\"state\":\"pending\","
	    "\"user\":\"bob\",\"caller\":\"bob\",\"resource\":\"db:orders\","
	    "\"role\":\"bob\",\"created_at\":100,\"decided_at\":0,"
	    "\"starts_at\":0,\"expires_at\":200,\"ended_at\":0,"
	    "\"requested_ttl\":60,\"ttl\":60,\"clamped\":false,"
	    "\"automatic\":false,\"break_glass\":false,"
	    "\"require_reason\":true,\"require_ticket\":false,"
	    "\"policy_version\":3,\"quorum\":2,\"approvals\":0,"
	    "\"rules\":\"db\",\"decision\":\"needs approval\","
	    "\"approver_groups\":\"dba\",\"approver_users\":\"\","
	    "\"reason\":\"why\",\"ticket\":\"\",\"incident\":\"\","
	    "\"ended_by\":\"\",\"end_reason\":\"\",\"rule\":\"db\"}";
	struct request r;

	cr_assert_eq(record_decode(v1, strlen(v1), &r), 0);
	cr_assert_eq(r.serial, 7);
	cr_assert_eq(r.state, ST_PENDING);
	cr_assert_str_eq(r.resource, "db:orders");
	cr_assert_eq(r.quorum, 2);
	cr_assert(r.require_reason);
	cr_assert_str_eq(r.approver_groups, "dba");
	cr_assert_eq(record_decode("{\"v\":1}", 7, &r), BRK_ERR_INVALID);
	cr_assert_eq(record_decode("", 0, &r), BRK_ERR_INVALID);
}

/*
 * The grant's certificate restrictions are part of the record (version 3)
 * and a version-2 record, written before they were stored, still reads
 * with cert_known false, so that no certificate is guessed for it.
 * Fails when record_encode() drops the restrictions or decode ignores
 * them (checked by encoding without the three trailing fields: the round
 * trip assertion went red), or when version 2 is no longer read.
 */
Test(record, certificate_restrictions_round_trip_and_v2_reads)
{
	struct request in = sample(), out;
	struct sshbuf *b = encode(&in);
	uint8_t copy[2048];
	size_t len = sshbuf_len(b), tail;

	cr_assert_eq(sshbuf_ptr(b)[0], 3, "records are written as version 3");
	cr_assert_eq(record_decode(sshbuf_ptr(b), len, &out), 0);
	cr_assert(out.cert_known);
	cr_assert_eq(out.cert_extensions, 0x01);
	cr_assert_str_eq(out.force_command, "/bin/deploy");
	cr_assert_str_eq(out.source_address, "10.0.0.0/8");

	/* the same record as version 2 wrote it: no restrictions at the end */
	tail = 4 + 4 + strlen(in.force_command) + 4 + strlen(in.source_address);
	cr_assert_lt(len, sizeof(copy));
	memcpy(copy, sshbuf_ptr(b), len);
	copy[0] = 2;
	copy[10] &= (uint8_t)~32u;	/* the flags byte: no "known" bit */
	cr_assert_eq(record_decode(copy, len - tail, &out), 0);
	cr_assert(!out.cert_known, "a v2 record's restrictions are unknown");
	cr_assert_str_eq(out.force_command, "");
	cr_assert_str_eq(out.user, "alice");
	/* a v2 record claiming known restrictions is not one we wrote */
	copy[10] |= 32u;
	cr_assert_eq(record_decode(copy, len - tail, &out), BRK_ERR_INVALID);
	/* unknown extension bits are refused */
	memcpy(copy, sshbuf_ptr(b), len);
	copy[len - tail + 3] = 0x40;
	cr_assert_eq(record_decode(copy, len, &out), BRK_ERR_INVALID);
	sshbuf_free(b);

	in.cert_extensions = 0x40;
	b = sshbuf_new();
	cr_assert_eq(record_encode(&in, b), BRK_ERR_INVALID);
	sshbuf_free(b);
}

Test(record, json_view_shows_restrictions)
{
	struct request in = sample();
	json_t *o = record_to_json(&in), *c;

	cr_assert_not_null(o);
	c = json_object_get(o, "cert_options");
	cr_assert(json_is_object(c));
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(c,
	    "extensions"), 0)), "permit-pty");
	cr_assert_str_eq(json_string_value(json_object_get(c,
	    "force-command")), "/bin/deploy");
	json_decref(o);
	in.cert_known = false;
	o = record_to_json(&in);
	cr_assert(json_is_null(json_object_get(o, "cert_options")));
	json_decref(o);
}

/* Stored state numbers never move: a new state is appended.  Fails when
 * ST_SCHEDULED is put among the others (checked by moving it before
 * ST_DENIED). */
Test(record, state_numbers_are_stable_and_scheduled_round_trips)
{
	struct request in = sample(), out;
	struct sshbuf *b;

	cr_assert_eq(ST_PENDING, 0);
	cr_assert_eq(ST_ACTIVE, 1);
	cr_assert_eq(ST_REVOKED, 5);
	cr_assert_eq(ST_SCHEDULED, 6);
	cr_assert_str_eq(req_state_name(ST_SCHEDULED), "scheduled");
	cr_assert_eq(req_state_parse("scheduled"), ST_SCHEDULED);
	in.state = ST_SCHEDULED;
	b = encode(&in);
	cr_assert_eq(record_decode(sshbuf_ptr(b), sshbuf_len(b), &out), 0);
	cr_assert_eq(out.state, ST_SCHEDULED);
	sshbuf_free(b);
}

/* A record written before "scheduled" existed says active with a later
 * start: it reads as scheduled until then, active during its window and
 * expired after.  Fails when reqstore_effective() only applies expiry
 * (checked by dropping its second branch). */
Test(record, old_active_record_with_later_start_reads_as_scheduled)
{
	struct request in = sample(), out;
	struct sshbuf *b = encode(&in);	/* state active, starts 1700000001 */

	cr_assert_eq(record_decode(sshbuf_ptr(b), sshbuf_len(b), &out), 0);
	reqstore_effective(&out, 1700000000);
	cr_assert_eq(out.state, ST_SCHEDULED);
	cr_assert(!reqstore_in_window(&out, 1700000000));
	reqstore_effective(&out, 1700000001);
	cr_assert_eq(out.state, ST_ACTIVE);
	cr_assert(reqstore_in_window(&out, 1700000001));
	reqstore_effective(&out, 1700003601);
	cr_assert_eq(out.state, ST_EXPIRED);
	sshbuf_free(b);
}

/* One count of approvals still needed, in every view of a pending
 * request; none for others.  Fails when record_to_json() leaves the key
 * to some replies (as it once did: show printed "needs 0 more"). */
Test(record, pending_json_says_how_many_approvals_are_needed)
{
	struct request in = sample();
	json_t *o;

	in.state = ST_PENDING;
	o = record_to_json(&in);
	cr_assert_not_null(o);
	cr_assert_eq(json_integer_value(json_object_get(o,
	    "approvals_needed")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o,
	    "approval"), "needed")), 1);
	json_decref(o);
	in.state = ST_ACTIVE;
	o = record_to_json(&in);
	cr_assert_null(json_object_get(o, "approvals_needed"));
	json_decref(o);
}
