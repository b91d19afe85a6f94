/*
 * ops_audit.c - the audit trail's ops: verify (optionally against a signed
 * anchor), search, export, anchor, prune; and the periodic anchoring.
 *
 * Reading a large log takes a while, so verify, search and export run on
 * the worker pool in a read transaction of their own, never on the I/O
 * thread.  Anchors and prunes are mutations: they go through the writer,
 * each with its own audit record.
 *
 * An anchor is the chain head signed with the CA key, three lines:
 *
 *   broker-audit-anchor-v1
 *   {"hash":"<64 hex>","key_id":"<16 hex>","seq":N,"time":"RFC 3339","ts":T,"v":1}
 *   sig ed25519 <key id> <base64 of the Ed25519 signature>
 *
 * The signature covers lines 1 and 2 with their newlines.  Each is kept as
 * the latest anchor in the store and written to STATE_DIR/anchors/
 * anchor-<seq>.txt; whoever keeps a copy can later prove that the log
 * still holds record N with that hash (truncation shows).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "ca.h"
#include "fileio.h"
#include "log.h"
#include "ops.h"
#include "pruneq.h"
#include "signdoc.h"
#include "snapshot_sign.h"
#include "timefmt.h"
#include "workpool.h"

#define ANCHOR_MAGIC "broker-audit-anchor-v1"
#define EXPORT_MAX 10000
#define EXPORT_BYTES (8u << 20)
#define SEARCH_MAX 10000
#define PRUNE_BATCH 10000

/* Auditors and policy admins read everything; others their own records. */
static bool
may_audit(struct call *c)
{
	struct policy_ref *p = policy_get(c->d);
	bool ok = call_has_role(c, p, ROLE_AUDITORS) ||
	    call_has_role(c, p, ROLE_POLICY_ADMINS);

	policy_put(c->d, p);
	return ok;
}

/* --- anchors ---------------------------------------------------------- */

/* The signed anchor text for (seq, hash) at now; *text is new. */
static int
anchor_make(const struct ca *ca, uint64_t seq, const char *hash, int64_t now,
    char **text)
{
	char when[TIMEFMT_LEN], *body = NULL;
	json_t *o = NULL;
	int r = BRK_ERR_NOMEM;

	*text = NULL;
	time_rfc3339(now, when);
	if ((o = json_pack("{s:i, s:I, s:s, s:I, s:s, s:s}", "v", 1, "seq",
		 (json_int_t)seq, "hash", hash, "ts", (json_int_t)now, "time",
		 when, "key_id", ca_key_id(ca))) == NULL ||
	    (body = json_dumps(
		 o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)) == NULL)
		goto out;
	r = ca_sign_doc(ca, ANCHOR_MAGIC, body, strlen(body), text);
out:
	free(body);
	json_decref(o);
	return r;
}

/* Check an anchor's signature against the CA's keys; *seq and hash from
 * its body.  BRK_ERR_INVALID (malformed), BRK_ERR_VERIFY (bad or unknown
 * signature); err says which. */
static int
anchor_check(const struct ca *ca, const char *text, uint64_t *seq,
    char hash[65], struct brk_error *err)
{
	const char *const *lines = NULL;
	const char *body = NULL, *h;
	char id[SIGNDOC_KEY_ID_LEN + 1];
	size_t blen = 0, nkeys;
	json_t *o = NULL;
	int r;

	nkeys = ca_all_public_lines(ca, &lines);
	if ((r = signdoc_verify(text, strlen(text), ANCHOR_MAGIC, "anchor",
		 lines, nkeys, &body, &blen, id, err)) != 0)
		goto out;
	/* Authentic from here on; now judge the contents. */
	r = BRK_ERR_INVALID;
	if ((o = json_loadb(body, blen, 0, NULL)) == NULL ||
	    json_integer_value(json_object_get(o, "seq")) < 1 ||
	    (h = json_string_value(json_object_get(o, "hash"))) == NULL ||
	    strlen(h) != AUDIT_HASH_LEN ||
	    !json_is_string(json_object_get(o, "key_id")) ||
	    strcmp(json_string_value(json_object_get(o, "key_id")), id) != 0) {
		brk_error_set(err, r, "the anchor's body is malformed");
		goto out;
	}
	*seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
	memcpy(hash, h, 65);
	r = 0;
out:
	json_decref(o);
	return r;
}

/* Write text to dir/anchors/anchor-<seq>.txt atomically. */
static int
anchor_file(const char *state_dir, uint64_t seq, const char *text)
{
	struct brk_error err = { "" };
	char dir[4096], path[4200];
	int r = BRK_ERR_IO;

	snprintf(dir, sizeof(dir), "%s/anchors", state_dir);
	snprintf(path, sizeof(path), "%s/anchor-%llu.txt", dir,
	    (unsigned long long)seq);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		brk_error_set(
		    &err, r, "cannot create %s: %s", dir, strerror(errno));
	else
		r = file_write_atomic(
		    path, NULL, text, strlen(text), 0644, &err);
	if (r != 0)
		log_warn("event=audit_anchor_file_failed path=%s error=\"%s\"",
		    path, err.msg);
	return r;
}

struct anchor_op {
	struct brokerd *d;
	struct call *c; /* NULL for the periodic anchor */
	int64_t now;
	bool force;
	int rc;
	uint64_t seq;
	char *text; /* the new anchor, when one was made */
};

/* Whether an anchor is due: N records or M seconds since the last one. */
static bool
anchor_due(const struct config *cfg, uint64_t head, uint64_t aseq, int64_t at,
    bool have, int64_t now)
{
	uint64_t since;

	if (head == 0)
		return false;
	/* the last anchor's own record does not count; with no anchor yet
	 * the clock runs from the daemon's start (at is then started_at) */
	since = !have ? head : head > aseq + 1 ? head - aseq - 1 : 0;
	if (since == 0)
		return false;
	if (cfg->audit_anchor_records > 0 &&
	    since >= (uint64_t)cfg->audit_anchor_records)
		return true;
	return cfg->audit_anchor_seconds > 0 &&
	    now - at >= cfg->audit_anchor_seconds;
}

static int
apply_anchor(struct store_txn *t, void *arg)
{
	struct anchor_op *op = arg;
	uint64_t head, aseq = 0;
	int64_t at = 0;
	char hash[65], *old = NULL, target[40];
	json_t *details = NULL;
	bool have;
	int r;

	free(op->text);
	op->text = NULL;
	if ((r = audit_head(t, &head, hash)) != 0)
		return r;
	r = audit_anchor_get(t, &aseq, &at, &old);
	free(old);
	if (r != 0 && r != BRK_ERR_NOTFOUND)
		return r;
	have = r == 0;
	if (!have)
		at = op->d->started_at;
	if (head == 0 ||
	    (!op->force &&
		!anchor_due(op->d->cfg, head, aseq, at, have, op->now)))
		return 0;
	if ((r = anchor_make(op->d->ca, head, hash, op->now, &op->text)) != 0)
		return r;
	snprintf(
	    target, sizeof(target), "anchor-%llu", (unsigned long long)head);
	r = BRK_ERR_NOMEM;
	if ((details = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)head,
		 "hash", hash, "key_id", ca_key_id(op->d->ca))) == NULL)
		return r;
	r = audit_anchor_put(t, head, op->now, op->text);
	if (r == 0)
		r = audit_append(t, op->now,
		    &(struct audit_event){ .action = "audit.anchor",
			.actor = op->c != NULL ? op->c->who.name : "brokerd",
			.caller = op->c != NULL ? op->c->caller.name :
						  "brokerd",
			.target = target,
			.details = details },
		    NULL);
	json_decref(details);
	op->seq = head;
	return r;
}

static void
finish_anchor(void *arg)
{
	struct anchor_op *op = arg;

	if (op->rc == 0 && op->text != NULL)
		anchor_file(op->d->cfg->state_dir, op->seq, op->text);
	if (op->rc != 0 && op->rc != BRK_ERR_FULL && op->rc != BRK_ERR_READONLY)
		log_warn("event=audit_anchor_failed error=\"%s\"",
		    brk_strerror(op->rc));
	if (op->c != NULL) {
		if (op->rc != 0)
			call_fail(op->c, op->rc, "cannot make an anchor: %s",
			    brk_strerror(op->rc));
		else if (op->text == NULL)
			call_fail(op->c, BRK_ERR_NOTFOUND,
			    "the audit trail "
			    "is empty: nothing to anchor");
		else
			call_reply(op->c,
			    json_pack("{s:I, s:I, s:s}", "seq",
				(json_int_t)op->seq, "ts", (json_int_t)op->now,
				"anchor", op->text));
	}
	free(op->text);
	free(op);
}

static void
done_anchor(void *arg, int rc)
{
	struct anchor_op *op = arg;

	op->rc = rc;
	workpool_submit(op->d->pool, finish_anchor, op);
}

static int
submit_anchor(struct brokerd *d, struct call *c, bool force)
{
	struct anchor_op *op = calloc(1, sizeof(*op));
	int r;

	if (op == NULL)
		return BRK_ERR_NOMEM;
	op->d = d;
	op->c = c;
	op->force = force;
	op->now = time_now();
	if ((r = writer_submit(d->writer, apply_anchor, done_anchor, op)) != 0)
		free(op);
	return r;
}

void
ops_audit_tick(struct brokerd *d, struct store_txn **rtxn)
{
	uint64_t head = 0, aseq = 0;
	int64_t at = 0, now = time_now();
	char hash[65], *text = NULL;
	bool due = false;
	int r;

	if (d->ca == NULL ||
	    (d->cfg->audit_anchor_records <= 0 &&
		d->cfg->audit_anchor_seconds <= 0))
		return;
	if (store_read_begin(d->store, rtxn) != 0)
		return;
	if (audit_head(*rtxn, &head, hash) == 0) {
		r = audit_anchor_get(*rtxn, &aseq, &at, &text);
		if (r == 0 || r == BRK_ERR_NOTFOUND)
			due = anchor_due(d->cfg, head, aseq,
			    r == 0 ? at : d->started_at, r == 0, now);
	}
	free(text);
	store_read_end(*rtxn);
	if (due)
		submit_anchor(d, NULL, false);
}

int
op_audit_anchor(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	uint64_t seq = 0;
	int64_t at = 0;
	char *text = NULL;
	bool fresh = false;
	const struct proto_arg spec[] = {
		{ "new", PA_BOOL, false, 0, 0, &fresh },
	};
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if (!may_audit(c)) {
		call_fail(c, BRK_ERR_DENIED,
		    "%s may not read audit anchors "
		    "(auditors and policy admins may)",
		    c->who.name);
		return BRK_ERR_DENIED;
	}
	if (fresh) {
		if ((r = submit_anchor(c->d, c, true)) != 0)
			call_fail(
			    c, r, "cannot make an anchor: %s", brk_strerror(r));
		return r;
	}
	if ((r = call_read(c, &t)) == 0)
		r = audit_anchor_get(t, &seq, &at, &text);
	if (r == BRK_ERR_NOTFOUND)
		call_fail(c, r,
		    "no anchor yet (broker audit anchor --new "
		    "makes one)");
	else if (r != 0)
		call_fail(c, r, "cannot read the anchor: %s", brk_strerror(r));
	else
		call_reply(c,
		    json_pack("{s:I, s:I, s:s}", "seq", (json_int_t)seq, "ts",
			(json_int_t)at, "anchor", text));
	free(text);
	return r;
}

/* --- reads on the worker pool ----------------------------------------- */

enum job_kind {
	JOB_VERIFY,
	JOB_SEARCH,
	JOB_EXPORT
};

struct job {
	struct call *c;
	enum job_kind kind;
	struct audit_query q; /* search; strings borrowed from c->req */
	const char *anchor;   /* verify; borrowed */
	uint64_t after;	      /* export */
	size_t limit;
};

/*
 * Verify the chain, and it against an anchor: the one given, or else the
 * newest one stored, so that a plain verify also catches a log cut back
 * behind its last anchor.  The reply says which anchor was used.
 */
static void
run_verify(struct job *j, struct store_txn *t)
{
	struct brk_error err = { { 0 } }, aerr = { { 0 } };
	uint64_t count = 0, bad = 0, aseq = 0, sseq = 0;
	int64_t sat = 0;
	char ahash[65], *stored = NULL, msg[200];
	const char *anchor = j->anchor;
	json_t *res;
	int r, ra = 0;

	if (anchor == NULL) {
		ra = audit_anchor_get(t, &sseq, &sat, &stored);
		if (ra != 0 && ra != BRK_ERR_NOTFOUND) {
			call_fail(j->c, ra, "cannot read the stored anchor: %s",
			    brk_strerror(ra));
			return;
		}
		anchor = stored;
		ra = 0;
	}
	if (anchor != NULL &&
	    (ra = anchor_check(j->c->d->ca, anchor, &aseq, ahash, &aerr)) ==
		BRK_ERR_INVALID &&
	    stored == NULL) {
		call_fail(j->c, ra, "%s", aerr.msg);
		return;
	}
	r = audit_verify(t, &count, &bad, &err);
	if (r != 0 && r != BRK_ERR_VERIFY) {
		free(stored);
		call_fail(j->c, r, "cannot read the audit trail: %s",
		    brk_strerror(r));
		return;
	}
	if (anchor != NULL && ra == 0)
		ra = audit_check_anchor(t, aseq, ahash, &aerr);
	if (stored != NULL)
		snprintf(msg, sizeof(msg),
		    "the chain is intact and holds the "
		    "latest stored anchor (record %llu)",
		    (unsigned long long)aseq);
	else
		snprintf(msg, sizeof(msg), "%s",
		    j->anchor != NULL ?
			"the "
			"chain is intact and holds the anchor" :
			"the chain is "
			"intact (no stored anchor to check it against yet)");
	res = json_pack("{s:b, s:I, s:I, s:s}", "ok", r == 0 && ra == 0,
	    "records", (json_int_t)count, "first_bad", (json_int_t)bad,
	    "message",
	    r != 0	? err.msg :
		ra != 0 ? aerr.msg :
			  msg);
	if (anchor != NULL && res != NULL) {
		json_object_set_new(res, "anchor",
		    json_pack("{s:b, s:I, s:s, "
			      "s:s}",
			"ok", ra == 0, "seq", (json_int_t)aseq, "message",
			ra == 0 ? "signature valid, record present" : aerr.msg,
			"source", stored != NULL ? "stored" : "given"));
		if (r == 0 && ra != 0)
			json_object_set_new(res, "first_bad",
			    json_integer((json_int_t)(aseq > 0 ? aseq : sseq)));
	}
	free(stored);
	call_reply(j->c, res);
}

static void
run_job(void *arg)
{
	struct job *j = arg;
	struct store_txn *t = NULL;
	uint64_t last = 0;
	bool more = false;
	json_t *a = NULL;
	int r;

	if ((r = store_begin(j->c->d->store, false, &t)) != 0) {
		call_fail(
		    j->c, r, "cannot read the store: %s", brk_strerror(r));
		goto out;
	}
	if (j->kind == JOB_VERIFY) {
		run_verify(j, t);
		goto out;
	}
	if ((a = json_array()) == NULL) {
		call_fail(j->c, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (j->kind == JOB_SEARCH)
		r = audit_search(t, &j->q, a);
	else
		r = audit_export(
		    t, j->after, j->limit, EXPORT_BYTES, a, &last, &more);
	if (r != 0)
		call_fail(j->c, r, "cannot read the audit trail: %s",
		    brk_strerror(r));
	else if (j->kind == JOB_SEARCH) {
		call_reply(j->c, a);
		a = NULL;
	} else {
		call_reply(j->c,
		    json_pack("{s:o, s:I, s:b}", "records", a, "last",
			(json_int_t)last, "more", more));
		a = NULL;
	}
out:
	json_decref(a);
	store_abort(t);
	free(j);
}

static int
submit_job(struct call *c, struct job *j)
{
	j->c = c;
	workpool_submit(c->d->pool, run_job, j);
	return 0;
}

int
op_audit_verify(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct job *j;
	int r;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return BRK_ERR_NOMEM;
	}
	j->kind = JOB_VERIFY;
	const struct proto_arg spec[] = {
		{ "anchor", PA_STR, false, 0, 4096, &j->anchor },
	};
	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		free(j);
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	return submit_job(c, j);
}

#define ACTION_FAMILIES                                                         \
	"request, grant, breakglass, cert, optout, "                            \
	"freeze, flag, policy, review, audit, ca, krl, snapshot, login, cred, " \
	"session, host"

/* An audit action's form: a known family, a dot, lower-case words.  A
 * search for anything else would find nothing, which reads as "no such
 * event happened": a typo is a usage error instead. */
static bool
action_valid(const char *a)
{
	static const char *const fam[] = { "request", "grant", "breakglass",
		"cert", "optout", "freeze", "flag", "policy", "review", "audit",
		"ca", "krl", "snapshot", "login", "cred", "session", "host",
		NULL };
	const char *dot = strchr(a, '.'), *p;
	size_t i;

	if (dot == NULL || dot[1] == '\0')
		return false;
	for (p = dot + 1; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' || *p == '.'))
			return false;
	for (i = 0; fam[i] != NULL; i++)
		if (strlen(fam[i]) == (size_t)(dot - a) &&
		    strncmp(a, fam[i], (size_t)(dot - a)) == 0)
			return true;
	return false;
}

int
op_audit_search(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct job *j;
	int64_t since = 0, until = 0, limit = 100;
	int r;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return BRK_ERR_NOMEM;
	}
	j->kind = JOB_SEARCH;
	const struct proto_arg spec[] = {
		{ "since", PA_INT, false, 1, INT64_MAX / 2, &since },
		{ "until", PA_INT, false, 1, INT64_MAX / 2, &until },
		{ "limit", PA_INT, false, 1, SEARCH_MAX, &limit },
		{ "user", PA_STR, false, 0, 256, &j->q.user },
		{ "resource", PA_STR, false, 0, 256, &j->q.resource },
		{ "action", PA_STR, false, 0, 256, &j->q.action },
		{ "request", PA_STR, false, 0, 256, &j->q.target },
	};
	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		free(j);
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if (j->q.action != NULL && !action_valid(j->q.action)) {
		r = BRK_ERR_INVALID;
		call_fail(c, r,
		    "no action is named \"%.64s\": actions are "
		    "FAMILY.EVENT with FAMILY one of %s (e.g. request.granted, "
		    "grant.revoked; docs/audit.md lists them)",
		    j->q.action, ACTION_FAMILIES);
		free(j);
		return r;
	}
	j->q.since = since;
	j->q.until = until;
	j->q.limit = (size_t)limit;
	if (!may_audit(c))
		j->q.visible_to = c->who.name;
	return submit_job(c, j);
}

int
op_audit_export(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct job *j;
	int64_t since = 0, limit = EXPORT_MAX;
	const struct proto_arg spec[] = {
		{ "since", PA_INT, false, 0, INT64_MAX, &since },
		{ "limit", PA_INT, false, 1, EXPORT_MAX, &limit },
	};
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if (!may_audit(c)) {
		call_fail(c, BRK_ERR_DENIED,
		    "%s may not export the audit "
		    "trail (auditors and policy admins may)",
		    c->who.name);
		return BRK_ERR_DENIED;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return BRK_ERR_NOMEM;
	}
	j->kind = JOB_EXPORT;
	j->after = (uint64_t)since;
	j->limit = (size_t)limit;
	return submit_job(c, j);
}

/* --- prune ------------------------------------------------------------ */

/*
 * Deleting history takes two people and keeps a floor.  `audit prune
 * --before DATE` (a policy admin) files a pending prune, which lives for
 * limits.pending_ttl; `audit prune confirm ID` by a policy admin or auditor
 * who is neither the filer nor reaches the broker through the filer's
 * connection principal runs it.  Both steps refuse a date within
 * limits.audit_min_retention of now (the confirm under the policy then in
 * force).  The deletion itself is batched: each batch is one write
 * transaction with its own audit.pruned record, the next queued after it.
 */
struct prune_op {
	struct call *c;
	int64_t before, now;
	uint64_t id; /* confirm: the pending prune */
	bool confirm, started;
	char filed_by[65];
	uint64_t pruned, total, last, covered;
	bool more, blocked, have_anchor;
	struct prune_req req; /* file: what was filed */
	char msg[300];
};

/* The oldest --before the policy allows now (limits.audit_min_retention). */
static int64_t
prune_floor(struct call *c, int64_t now, int64_t *keep)
{
	struct policy_ref *p = policy_get(c->d);

	*keep = policy_limits(p->policy)->audit_min_retention;
	policy_put(c->d, p);
	return now - *keep;
}

static int
prune_batch(struct store_txn *t, struct prune_op *op)
{
	char *text = NULL, target[40];
	int64_t at = 0;
	json_t *details;
	int r;

	op->covered = 0;
	r = audit_anchor_get(t, &op->covered, &at, &text);
	free(text);
	if (r != 0 && r != BRK_ERR_NOTFOUND)
		return r;
	op->have_anchor = r == 0;
	if ((r = audit_prune(t, op->before, op->covered, PRUNE_BATCH,
		 &op->pruned, &op->last, &op->more, &op->blocked)) != 0 ||
	    op->pruned == 0)
		return r;
	snprintf(
	    target, sizeof(target), "audit-%llu", (unsigned long long)op->last);
	if ((details = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "first",
		 (json_int_t)(op->last - op->pruned + 1), "last",
		 (json_int_t)op->last, "count", (json_int_t)op->pruned,
		 "before", (json_int_t)op->before, "prune", (json_int_t)op->id,
		 "filed_by", op->filed_by)) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_append(t, op->now,
	    &(struct audit_event){ .action = "audit.pruned",
		.actor = op->c->who.name,
		.caller = op->c->caller.name,
		.target = target,
		.details = details },
	    NULL);
	json_decref(details);
	return r;
}

/* Confirm: check the pending prune and the second person, then delete it
 * and run the first batch, all in this transaction. */
static int
apply_confirm(struct store_txn *t, struct prune_op *op)
{
	struct call *c = op->c;
	struct prune_req pr;
	char id[24], target[40];
	int64_t keep, floor = prune_floor(c, op->now, &keep);
	json_t *details;
	int r;

	pruneq_id(op->id, id);
	if ((r = pruneq_get(t, op->id, &pr)) != 0) {
		snprintf(op->msg, sizeof(op->msg), "no pending prune %s", id);
		return r == BRK_ERR_NOTFOUND ? r : BRK_ERR_INVALID;
	}
	if (op->now >= pr.expires_at) {
		snprintf(op->msg, sizeof(op->msg),
		    "prune %s expired: file "
		    "it again",
		    id);
		return BRK_ERR_STATE;
	}
	if (strcmp(c->who.name, pr.by) == 0 ||
	    strcmp(c->who.name, pr.caller) == 0 ||
	    strcmp(c->caller.name, pr.by) == 0 ||
	    strcmp(c->caller.name, pr.caller) == 0) {
		snprintf(op->msg, sizeof(op->msg),
		    "separation of duties "
		    "(two-person-prune): %s filed %s (through %s); another "
		    "policy admin or auditor, through another connection, "
		    "must confirm it",
		    pr.by, id, pr.caller);
		return BRK_ERR_DENIED;
	}
	if (pr.before > floor) {
		snprintf(op->msg, sizeof(op->msg),
		    "prune %s would delete "
		    "records newer than limits.audit_min_retention (%llds) "
		    "allows",
		    id, (long long)keep);
		return BRK_ERR_DENIED;
	}
	op->before = pr.before;
	snprintf(op->filed_by, sizeof(op->filed_by), "%s", pr.by);
	pruneq_id(op->id, target);
	if ((r = pruneq_del(t, op->id)) != 0)
		return r;
	if ((details = json_pack("{s:I, s:s, s:s}", "before",
		 (json_int_t)pr.before, "filed_by", pr.by, "filed_through",
		 pr.caller)) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_append(t, op->now,
	    &(struct audit_event){ .action = "audit.prune.confirmed",
		.actor = c->who.name,
		.caller = c->caller.name,
		.target = target,
		.details = details },
	    NULL);
	json_decref(details);
	if (r != 0)
		return r;
	return prune_batch(t, op);
}

/* File: a pending prune, named by the seq of the record that files it. */
static int
apply_file(struct store_txn *t, struct prune_op *op)
{
	struct policy_ref *p = policy_get(op->c->d);
	int64_t ttl = policy_limits(p->policy)->pending_ttl;
	json_t *details;
	uint64_t seq = 0, head = 0;
	char hash[65], target[24];
	int r;

	policy_put(op->c->d, p);
	/* the id is the seq of the record that files it, so the record can
	 * name it as its target (audit --request p42 finds both steps) */
	if ((r = audit_head(t, &head, hash)) != 0)
		return r;
	pruneq_id(head + 1, target);
	if ((details = json_pack("{s:I, s:I}", "before", (json_int_t)op->before,
		 "expires_at", (json_int_t)(op->now + ttl))) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_append(t, op->now,
	    &(struct audit_event){ .action = "audit.prune.filed",
		.actor = op->c->who.name,
		.caller = op->c->caller.name,
		.target = target,
		.details = details },
	    &seq);
	json_decref(details);
	if (r != 0)
		return r;
	if (seq != head + 1)
		return BRK_ERR_INTERNAL;
	op->req = (struct prune_req){ .id = seq,
		.before = op->before,
		.at = op->now,
		.expires_at = op->now + ttl };
	snprintf(op->req.by, sizeof(op->req.by), "%s", op->c->who.name);
	snprintf(
	    op->req.caller, sizeof(op->req.caller), "%s", op->c->caller.name);
	if ((r = pruneq_put(t, &op->req)) == BRK_ERR_BUSY)
		snprintf(op->msg, sizeof(op->msg),
		    "%d prunes are pending "
		    "already: confirm or let them expire first",
		    PRUNEQ_MAX);
	return r;
}

static int
apply_prune(struct store_txn *t, void *arg)
{
	struct prune_op *op = arg;

	op->msg[0] = '\0'; /* apply may run again (writer.h) */
	if (!op->confirm)
		return apply_file(t, op);
	if (!op->started)
		return apply_confirm(t, op);
	return prune_batch(t, op); /* a later batch of a confirmed one */
}

static void
done_prune(void *arg, int rc)
{
	struct prune_op *op = arg;
	char id[24];

	if (rc == 0 && op->confirm) {
		op->started = true;
		op->total += op->pruned;
		/* queue the next batch; the writer runs others in between */
		if (op->more && op->pruned > 0 &&
		    writer_submit(
			op->c->d->writer, apply_prune, done_prune, op) == 0)
			return;
	}
	if (rc != 0 && op->started)
		call_fail(op->c, rc,
		    "the prune stopped after %llu records: "
		    "%s",
		    (unsigned long long)op->total, brk_strerror(rc));
	else if (rc != 0)
		call_fail(
		    op->c, rc, "%s", op->msg[0] ? op->msg : brk_strerror(rc));
	else if (!op->confirm) {
		pruneq_id(op->req.id, id);
		call_reply(op->c, pruneq_json(&op->req));
	} else {
		pruneq_id(op->id, id);
		call_reply(op->c,
		    json_pack("{s:s, s:s, s:I, s:I, s:b, s:b, "
			      "s:I, s:s}",
			"id", id, "state", "done", "pruned",
			(json_int_t)op->total, "last_pruned",
			(json_int_t)op->last, "more", op->more, "blocked",
			op->blocked, "anchor_seq", (json_int_t)op->covered,
			"filed_by", op->filed_by));
	}
	free(op);
}

static int
prune_list(struct call *c)
{
	struct store_txn *t = NULL;
	json_t *out = json_array();
	int r = BRK_ERR_NOMEM;

	if (out == NULL || (r = call_read(c, &t)) != 0 ||
	    (r = pruneq_list(t, time_now(), out)) != 0) {
		json_decref(out);
		call_fail(c, r, "cannot read the pending prunes: %s",
		    brk_strerror(r));
		return r;
	}
	call_reply(c, out);
	return 0;
}

int
op_audit_prune(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct prune_op *op = NULL;
	const char *confirm = NULL;
	int64_t before = 0, keep, floor;
	bool list = false;
	const struct proto_arg spec[] = {
		{ "before", PA_INT, false, 1, INT64_MAX / 2, &before },
		{ "confirm", PA_STR, false, 0, 24, &confirm },
		{ "list", PA_BOOL, false, 0, 0, &list },
	};
	int r, nargs;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	nargs = (before != 0) + (confirm != NULL) + list;
	r = BRK_ERR_INVALID;
	if (nargs != 1) {
		brk_error_set(&err, r,
		    "audit.prune takes one of before, "
		    "confirm or list");
		goto fail;
	}
	r = BRK_ERR_DENIED;
	if (before != 0 && !call_in_role(c, ROLE_POLICY_ADMINS)) {
		brk_error_set(&err, r,
		    "%s may not prune the audit trail "
		    "(policy admins may)",
		    c->who.name);
		goto fail;
	}
	if (before == 0 && !may_audit(c)) {
		brk_error_set(&err, r,
		    "%s may not %s audit prunes (policy "
		    "admins and auditors may)",
		    c->who.name, list ? "list" : "confirm");
		goto fail;
	}
	if (list)
		return prune_list(c);
	r = BRK_ERR_NOMEM;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		goto fail;
	op->c = c;
	op->now = time_now();
	op->before = before;
	floor = prune_floor(c, op->now, &keep);
	r = BRK_ERR_INVALID;
	if (confirm != NULL && pruneq_id_parse(confirm, &op->id) != 0) {
		brk_error_set(
		    &err, r, "\"%.24s\" is not a prune id (like p42)", confirm);
		goto fail;
	}
	op->confirm = confirm != NULL;
	r = BRK_ERR_DENIED;
	if (before > floor) {
		char when[TIMEFMT_LEN];
		time_rfc3339(floor, when);
		brk_error_set(&err, r,
		    "limits.audit_min_retention keeps "
		    "%llds of audit history: --before must be %s or earlier",
		    (long long)keep, when);
		goto fail;
	}
	if ((r = writer_submit(c->d->writer, apply_prune, done_prune, op)) != 0)
		goto fail;
	return 0;
fail:
	free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}
