/*
 * test_record_text.c - record_put_json() writes, byte for byte, what
 * jsonout_dumps() makes of record_to_json()'s tree with a reply's members
 * set on it as ops_request.c's reply_json() and reply_ok() set them; and
 * proto_reply_ok_open()/_close() what proto_reply_ok() writes around it.
 *
 * Fails when the text strays from the tree: checked by swapping "rule"
 * and "rules", by writing approval.needed for every state, by splitting
 * lists without their empty items, and by writing cert_error beside a
 * certificate; each made these tests red.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "proto.h"
#include "record.h"

static struct request
base(void)
{
	struct request r;

	memset(&r, 0, sizeof(r));
	r.serial = 18446744073709551615ULL >> 1;
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
	r.automatic = true;
	r.policy_version = 7;
	snprintf(r.rules, sizeof(r.rules), "web-auto,,web-approve,");
	snprintf(r.rule, sizeof(r.rule), "web-auto");
	snprintf(r.decision, sizeof(r.decision), "granted \"by\" rule\n\t\x01");
	r.cert_known = true;
	r.cert_extensions = 0x1f;
	snprintf(r.force_command, sizeof(r.force_command), "/bin/deploy");
	return r;
}

/* the tree as the reply builds it */
static json_t *
tree(const struct request *r, const struct record_extra *x)
{
	json_t *o = record_to_json(r), *c;

	cr_assert_not_null(o);
	if (x->clamped_by[0] != '\0')
		json_object_set_new(o, "clamped_by", json_string(x->clamped_by));
	if (x->empty_approvals)
		json_object_set_new(o, "approvals", json_array());
	if (x->duplicate)
		json_object_set_new(o, "duplicate", json_true());
	if (x->cert != NULL) {
		c = json_pack("{s:s}", "cert", x->cert);
		json_object_update(o, c);
		json_decref(c);
	} else if (x->cert_error[0] != '\0')
		json_object_set_new(o, "cert_error", json_string(x->cert_error));
	return o;
}

static void
same(const struct request *r, const struct record_extra *x)
{
	json_t *t = tree(r, x);
	char *want = jsonout_dumps_any(t, false, NULL), *got;
	char *wline, *gline;
	struct jsonout o;
	bool unsupported = true;
	size_t len, wlen;

	cr_assert_not_null(want);
	jsonout_init(&o);
	record_put_json(&o, r, x);
	got = jsonout_finish(&o, &len, &unsupported);
	cr_assert_not_null(got);
	cr_assert_not(unsupported);
	cr_assert_str_eq(got, want);
	cr_assert_eq(len, strlen(want));
	/* the whole line */
	wline = proto_reply_ok("7", t, &wlen); /* takes t */
	proto_reply_ok_open(&o, "7");
	record_put_json(&o, r, x);
	gline = proto_reply_ok_close(&o, &len, &unsupported);
	cr_assert_not_null(gline);
	cr_assert_str_eq(gline, wline);
	cr_assert_eq(len, wlen);
	free(gline);
	free(wline);
	free(got);
	free(want);
}

Test(record_text, same_as_the_tree_for_each_state_and_extra)
{
	struct record_extra none = { "", false, false, NULL, "" };
	struct record_extra all = { "max_ttl of rule web-auto", true, true,
		"ssh-ed25519-cert-v01@openssh.com AAAA+/= alice", "ignored" };
	struct record_extra err = { "", false, false, NULL, "no \"key\"" };
	struct request r;
	int s;

	for (s = 0; s < ST__COUNT; s++) {
		r = base();
		r.state = (enum req_state)s;
		same(&r, &none);
		same(&r, &all);
		same(&r, &err);
		r.quorum = 3;
		r.approvals = 1;
		r.require_reason = true;
		snprintf(r.approver_groups, sizeof(r.approver_groups),
		    "sre,dba");
		snprintf(r.approver_users, sizeof(r.approver_users), "bob");
		same(&r, &none);
		r.quorum = 1;
		r.approvals = 2; /* more than needed: needs none */
		same(&r, &all);
	}
	r = base();
	r.cert_known = false;
	r.requested_ttl = 0;
	r.created_at = r.decided_at = r.starts_at = 0;
	r.expires_at = -1;
	r.ended_at = 1700009999;
	r.requested_start = 1700000900;
	r.clamped = r.break_glass = true;
	r.ttl = -42;
	r.rules[0] = r.rule[0] = r.decision[0] = '\0';
	snprintf(r.optouts, sizeof(r.optouts), "o3,o7");
	snprintf(r.reason, sizeof(r.reason), "back\\slash / DEL\x7f");
	snprintf(r.ticket, sizeof(r.ticket), "OPS-1");
	snprintf(r.incident, sizeof(r.incident), "INC-2");
	snprintf(r.ended_by, sizeof(r.ended_by), "carol");
	snprintf(r.end_reason, sizeof(r.end_reason), "done\r\n");
	same(&r, &none);
	same(&r, &all);
	r.cert_known = true;
	r.cert_extensions = 0x0a;
	snprintf(r.source_address, sizeof(r.source_address), "10.0.0.0/8");
	same(&r, &err);
}

/* A byte over 0x7f is jansson's to write (or to refuse): the text says
 * unsupported and the caller builds the tree.  Fails when put_string()
 * copies such bytes as they are (checked by marking 0x80-0xff plain). */
Test(record_text, non_ascii_is_left_to_the_tree)
{
	struct request r = base();
	struct jsonout o;
	bool unsupported = false;

	snprintf(r.reason, sizeof(r.reason), "deploy \"fix\" \xe2\x9c\x93");
	jsonout_init(&o);
	record_put_json(&o, &r, NULL);
	cr_assert_null(jsonout_finish(&o, NULL, &unsupported));
	cr_assert(unsupported);
}
