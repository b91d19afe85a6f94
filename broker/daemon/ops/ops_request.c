/*
 * ops_request.c - asking for access and ending it: request, cancel, revoke,
 * and the expiry sweep.
 *
 * The decision is made on the I/O thread from the policy in force; the
 * writer stores it with its audit record in one transaction, and the reply
 * goes out only after that transaction is durable.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cred.h"
#include "credkind.h"
#include "duration.h"
#include "hosts.h"
#include "jsonout.h"
#include "optouts.h"
#include "log.h"
#include "names.h"
#include "ops.h"
#include "reqstore.h"
#include "requests.h"
#include "strlist.h"
#include "timefmt.h"
#include "workpool.h"

static void signq_push(struct req_op *op);

static int
apply_create(struct store_txn *t, void *arg)
{
	struct req_op *op = arg;
	int r;

	/* what an earlier run of this apply found counts for nothing: the
	 * batch may run again from the start (writer.h) */
	op->early = op->sign_at_commit = op->issue_late = false;
	op->parts = 0;
	op->create.policy = op->pref->policy;
	if ((r = requests_create(t, &op->actor, &op->create, &op->decided,
		 &op->rec, op->now, &op->duplicate, op->msg)) != 0)
		return r;
	/* op->rec is final: sign while the batch commits and syncs; a kind
	 * with effects outside the broker waits for the commit */
	if (!cred_kind_for(op->c->d, op->rec.resource)->early)
		op->issue_late = op->rec.state == ST_ACTIVE;
	else if (op->key != NULL &&
	    (op->rec.state == ST_ACTIVE || op->rec.state == ST_SCHEDULED)) {
		if ((r = ops_audit_cert(t, op->now, op->c, &op->rec, op->key,
			 policy_limits(op->pref->policy)->clock_skew)) != 0)
			return r;
		op->early = true;
		op->parts = 2;
		/* a batch that lost a conflict runs apply again, maybe with
		 * another record: there, sign only what was committed;
		 * elsewhere sign once the batch is applied for good
		 * (applied_create) */
		op->sign_at_commit = store_may_conflict(t);
	}
	return 0;
}

/* On the writer thread, before the commit: start the signing. */
static void
applied_create(void *arg)
{
	struct req_op *op = arg;

	if (op->early && !op->sign_at_commit)
		signq_push(op);
}

/* What capped op's record ("" if nothing did), in cap. */
static void
reply_cap(struct req_op *op, char *cap, size_t len)
{
	/* transitions hold no policy of their own: the one in force */
	struct policy_ref *p = op->pref != NULL ? NULL : policy_get(op->c->d);
	const struct policy_ref *in = op->pref != NULL ? op->pref : p;
	const struct policy_limits *lim = in != NULL ?
	    policy_limits(in->policy) :
	    NULL;

	record_clamped_by(
	    &op->rec, lim != NULL ? lim->break_glass_max_ttl : 0, cap, len);
	if (p != NULL)
		policy_put(op->c->d, p);
}

/* The reply: the record, what capped it, who approved so far, and
 * whether it is an open request returned instead of a new one. */
static json_t *
reply_json(struct req_op *op)
{
	const struct request *r = &op->rec;
	json_t *o = record_to_json(r);
	char cap[REC_NAME + 32];

	reply_cap(op, cap, sizeof(cap));
	if (o == NULL)
		return NULL;
	if (cap[0] != '\0')
		json_object_set_new(o, "clamped_by", json_string(cap));
	if (op->approvals != NULL) {
		json_object_set_new(o, "approvals", op->approvals);
		op->approvals = NULL;
	} else if (r->state == ST_PENDING && r->approvals == 0)
		json_object_set_new(o, "approvals", json_array());
	if (op->duplicate)
		json_object_set_new(o, "duplicate", json_true());
	return o;
}

void
req_op_free(struct req_op *op)
{
	if (op == NULL)
		return;
	sshkey_free(op->key);
	json_decref(op->approvals);
	if (op->pref != NULL)
		policy_put(op->c->d, op->pref);
	json_decref(op->creds);
	free(op->line);
	free(op);
}

/* The reply to a request that succeeds: op->rec with its certificate. */
static json_t *
reply_ok(struct req_op *op)
{
	json_t *o = reply_json(op);

	if (o != NULL && op->issue_late) /* after the commit, here */
		(void)ops_cred_issue_into(op->c->d, &op->rec, op->key, false, o,
		    &(struct brk_error){ { 0 } });
	if (o != NULL && op->creds != NULL)
		json_object_update(o, op->creds);
	else if (o != NULL && op->cert_err[0] != '\0')
		json_object_set_new(o, "cert_error", json_string(op->cert_err));
	return o;
}

/*
 * reply_ok()'s line, written as text without its tree (record_put_json()):
 * the tree and its serialisation were most of a signed grant's reply.  NULL
 * with *unsupported when the reply holds what only the tree writes (an
 * approvals list, late credentials, a non-ASCII string).
 */
static char *
reply_ok_text(struct req_op *op, size_t *len, bool *unsupported)
{
	struct record_extra x = { .duplicate = op->duplicate,
		.cert_error = op->cert_err };
	const json_t *cert = json_object_get(op->creds, "cert");
	char cap[REC_NAME + 32];
	struct jsonout o;

	*unsupported = true;
	if (op->approvals != NULL || op->issue_late ||
	    (op->creds != NULL &&
		(json_object_size(op->creds) != 1 || !json_is_string(cert))))
		return NULL;
	reply_cap(op, cap, sizeof(cap));
	x.clamped_by = cap;
	x.empty_approvals = op->rec.state == ST_PENDING &&
	    op->rec.approvals == 0;
	x.cert = json_string_value(cert);
	proto_reply_ok_open(&o, op->c->req->id);
	record_put_json(&o, &op->rec, &x);
	return proto_reply_ok_close(&o, len, unsupported);
}

/* The reply line to op, as reply_ok() has it. */
static char *
reply_ok_line(struct req_op *op, size_t *len)
{
	bool unsupported;
	char *line = reply_ok_text(op, len, &unsupported);

	if (line != NULL || !unsupported)
		return line;
	return proto_reply_ok(op->c->req->id, reply_ok(op), len);
}

/* Reply with op->rec (and its certificate), or with why it failed. */
static void
send_reply(void *arg)
{
	struct req_op *op = arg;
	struct call *c = op->c;
	int rc = op->rc;
	size_t op_linelen = op->linelen;
	char msg[600], *line;
	bool unsupported;
	json_t *o;

	if (rc != 0) {
		if (op->msg[0] != '\0')
			snprintf(msg, sizeof(msg), "%s", op->msg);
		else
			snprintf(msg, sizeof(msg), "not recorded: %s",
			    brk_strerror(rc));
		req_op_free(op);
		call_fail(c, rc, "%s", msg);
		return;
	}
	if (op->line != NULL) { /* built by sign_queued() */
		line = op->line;
		op->line = NULL;
		req_op_free(op);
		call_reply_line(c, line, op_linelen);
		return;
	}
	if ((line = reply_ok_text(op, &op_linelen, &unsupported)) != NULL) {
		req_op_free(op);
		call_reply_line(c, line, op_linelen);
		return;
	}
	o = reply_ok(op);
	/* the reply ends the call: nothing of it may be touched after */
	req_op_free(op);
	call_reply(c, o);
}

/* The last of the signing and the commit to finish replies. */
static bool
last_part(struct req_op *op)
{
	return __atomic_sub_fetch(&op->parts, 1, __ATOMIC_ACQ_REL) == 0;
}

/*
 * Certificates are signed while their commit is made durable, and they go
 * to the CA signer together: apply queues each grant here, and one job on
 * the worker pool at a time takes what is queued and has it signed in one
 * round trip (cred_issue_certs()), then looks again.  A wake-up and a
 * round trip per batch, where one per grant cost a third of a signature
 * in system calls and context switches.
 */
#define SIGNQ_MAX 64

/* On a worker thread, during the commits: sign what d has queued. */
static void
sign_queued(void *arg)
{
	struct brokerd *d = arg;
	struct req_op *batch[SIGNQ_MAX], *op;
	struct cred_cert certs[SIGNQ_MAX];
	size_t n, i;

	for (;;) {
		pthread_mutex_lock(&d->signq.lock);
		for (n = 0; n < SIGNQ_MAX && (op = d->signq.head) != NULL;
		     n++) {
			d->signq.head = op->signq_next;
			op->signq_next = NULL;
			batch[n] = op;
		}
		if (d->signq.head == NULL)
			d->signq.tail = NULL;
		if (n == 0)
			d->signq.running = false;
		pthread_mutex_unlock(&d->signq.lock);
		if (n == 0)
			return;
		for (i = 0; i < n; i++)
			certs[i] = (struct cred_cert){ .r = &batch[i]->rec,
				.key = batch[i]->key };
		cred_issue_certs(d, certs, n);
		for (i = 0; i < n; i++) {
			op = batch[i];
			if (certs[i].rc == 0 &&
			    ((op->creds = json_object()) == NULL ||
				json_object_set_new(op->creds, "cert",
				    json_string(certs[i].cert)) != 0))
				certs[i].rc = BRK_ERR_NOMEM;
			if (certs[i].rc != 0) {
				snprintf(op->cert_err, sizeof(op->cert_err),
				    "%s",
				    certs[i].err.msg[0] ? certs[i].err.msg :
							  "out of memory");
				json_decref(op->creds);
				op->creds = NULL;
			}
			free(certs[i].cert);
			/* the reply as it will be if the commit succeeds;
			 * the commit's end sends it (done_reply()) */
			op->line = reply_ok_line(op, &op->linelen);
			if (last_part(op))
				send_reply(op);
		}
	}
}

/* Queue op's certificate; start a signing job unless one is running. */
static void
signq_push(struct req_op *op)
{
	struct brokerd *d = op->c->d;
	bool start;

	pthread_mutex_lock(&d->signq.lock);
	op->signq_next = NULL;
	if (d->signq.tail != NULL)
		d->signq.tail->signq_next = op;
	else
		d->signq.head = op;
	d->signq.tail = op;
	start = !d->signq.running;
	d->signq.running = true;
	pthread_mutex_unlock(&d->signq.lock);
	if (start)
		workpool_submit(d->pool, sign_queued, d);
}

/* On the writer thread, after the commit: hand the reply on. */
void
done_reply(void *arg, int rc)
{
	struct req_op *op = arg;

	op->rc = rc;
	if (rc == 0 && op->action == RA_REVOKE)
		ops_cred_sync(op->c->d); /* end its credentials now */
	else if (rc == 0) /* approved: make its credentials now */
		ops_cred_activated(op->c->d, &op->rec, op->issue_late);
	if (rc == 0 && !op->duplicate)
		__atomic_fetch_add(
		    &op->c->d->counters[op->rec.state == ST_ACTIVE ||
				op->rec.state == ST_SCHEDULED ?
			    CNT_AUTO :
			    op->rec.state == ST_PENDING ? CNT_PENDING :
							  CNT_DENIED],
		    1, __ATOMIC_RELAXED);
	if (op->sign_at_commit) {
		op->sign_at_commit = false;
		if (rc == 0) {
			(void)last_part(op); /* the commit's part */
			signq_push(op);	     /* sign_queued() replies */
			return;
		}
		op->early = false; /* nothing was queued */
	}
	if (op->early && !last_part(op))
		return;			 /* sign_queued() replies */
	if (rc == 0 && op->line == NULL) /* building it is a worker's job */
		workpool_submit(op->c->d->pool, send_reply, op);
	else /* an error, or a reply built already: no hand-off */
		send_reply(op);
}

/* The latest start a request may name: the year 9999. */
#define START_MAX 253402300799LL

/* Read and check the arguments into rec (and --new into *fresh). */
static int
request_args(
    struct call *c, struct request *rec, bool *fresh, struct brk_error *err)
{
	const char *resource = NULL, *role = NULL, *reason = NULL;
	const char *ticket = NULL, *incident = NULL, *pubkey = NULL;
	bool bg = false;
	int64_t dur = 0, start = 0;
	/* a string over its bound is an error, never a truncation */
	const struct proto_arg spec[] = {
		{ "resource", PA_STR, true, 0, REC_RESOURCE - 1, &resource },
		{ "role", PA_STR, false, 0, REC_NAME - 1, &role },
		{ "for", PA_INT, false, 1, DURATION_MAX, &dur },
		{ "start", PA_INT, false, 0, START_MAX, &start },
		{ "break_glass", PA_BOOL, false, 0, 0, &bg },
		{ "reason", PA_STR, false, 0, REC_TEXT - 1, &reason },
		{ "ticket", PA_STR, false, 0, sizeof(rec->ticket) - 1,
		    &ticket },
		{ "incident", PA_STR, false, 0, sizeof(rec->incident) - 1,
		    &incident },
		{ "pubkey", PA_STR, false, 0, PROTO_MAX_STRING, &pubkey },
		{ "new", PA_BOOL, false, 0, 0, fresh },
	};
	int r;

	if ((r = proto_args_parse(
		 c->req->args, spec, sizeof(spec) / sizeof(spec[0]), err)) != 0)
		return r;
	if (!name_resource_valid(resource))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%.64s\" is not "
		    "a valid resource (kind:name)",
		    resource);
	if (role != NULL && !name_user_valid(role))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%.64s\" is not "
		    "a valid role",
		    role);
	rec->break_glass = bg; /* asked for; decide() says if it applies */
	rec->requested_start = start; /* decide() checks it */
	snprintf(rec->user, sizeof(rec->user), "%s", c->who.name);
	snprintf(rec->caller, sizeof(rec->caller), "%s", c->caller.name);
	snprintf(rec->resource, sizeof(rec->resource), "%s", resource);
	snprintf(rec->role, sizeof(rec->role), "%s",
	    role != NULL ? role : c->who.name);
	rec->requested_ttl = dur;
	snprintf(rec->reason, sizeof(rec->reason), "%s",
	    reason != NULL ? reason : "");
	snprintf(rec->ticket, sizeof(rec->ticket), "%s",
	    ticket != NULL ? ticket : "");
	snprintf(rec->incident, sizeof(rec->incident), "%s",
	    incident != NULL ? incident : "");
	return 0;
}

static void fill_decision(struct request *rec,
    const struct policy_decision *dec, uint64_t version, int64_t now);

/* An approve decision taken at once, capped, and marked for review; the
 * writer may still hold it for approval (hold_break_glass). */
static int
break_glass(struct req_op *op, const struct policy_decision *dec,
    const struct policy_limits *lim, int64_t now, struct brk_error *err)
{
	struct request *rec = &op->rec;
	char cap[32];

	if (!dec->break_glass)
		return brk_error_set(err, BRK_ERR_DENIED,
		    "rule %s does not "
		    "allow break-glass: ask for approval instead",
		    dec->deciding_rule);
	if (rec->reason[0] == '\0')
		return brk_error_set(err, BRK_ERR_INVALID,
		    "break-glass needs "
		    "a reason: add --reason TEXT");
	if (lim->break_glass_per_day == 0)
		return brk_error_set(err, BRK_ERR_DENIED,
		    "break-glass is off "
		    "(limits.break_glass_per_day is 0): ask for approval "
		    "instead");
	fill_decision(rec, dec, rec->policy_version, now);
	op->create.bg.during_freeze = dec->break_glass_during_freeze;
	op->create.bg.during_optout = dec->break_glass_during_optout;
	op->create.bg.require_reason = dec->require_reason;
	op->create.bg.require_ticket = dec->require_ticket;
	op->create.bg.clamped = dec->clamped;
	op->create.bg.ttl = dec->ttl;
	rec->state = ST_ACTIVE;
	rec->automatic = false;
	rec->decided_at = rec->starts_at = now;
	if (rec->ttl > lim->break_glass_max_ttl) {
		rec->ttl = lim->break_glass_max_ttl;
		rec->clamped = true;
	}
	rec->expires_at = now + rec->ttl;
	duration_format(rec->ttl, cap, sizeof(cap));
	snprintf(rec->decision, sizeof(rec->decision),
	    "break-glass under "
	    "rule %s for up to %s; a reviewer will look at it",
	    dec->deciding_rule, cap);
	return 0;
}

/* The parts of a decision every outcome records. */
static void
fill_decision(struct request *rec, const struct policy_decision *dec,
    uint64_t version, int64_t now)
{
	strlist_join(
	    rec->rules, sizeof(rec->rules), dec->matched, dec->nmatched);
	if (dec->deciding_rule != NULL)
		snprintf(
		    rec->rule, sizeof(rec->rule), "%s", dec->deciding_rule);
	snprintf(rec->decision, sizeof(rec->decision), "%s", dec->reason);
	rec->policy_version = version;
	rec->created_at = now;
	rec->ttl = dec->ttl;
	rec->clamped = dec->clamped;
	rec->quorum = dec->quorum;
	strlist_join(rec->approver_groups, sizeof(rec->approver_groups),
	    dec->approver_groups, dec->napprover_groups);
	strlist_join(rec->approver_users, sizeof(rec->approver_users),
	    dec->approver_users, dec->napprover_users);
	/* what its certificates may carry, fixed now: a later policy edit
	 * never changes an issued grant */
	rec->cert_known = true;
	rec->cert_extensions = dec->cert_extensions;
	snprintf(rec->force_command, sizeof(rec->force_command), "%s",
	    dec->force_command);
	snprintf(rec->source_address, sizeof(rec->source_address), "%s",
	    dec->source_address);
}

/* Decide op->rec by policy; fails when required fields are missing. */
static int
decide(struct req_op *op, struct brk_error *err)
{
	struct call *c = op->c;
	struct policy_ref *p = op->pref;
	struct request *rec = &op->rec;
	int64_t now = op->now;
	const struct policy_limits *lim = policy_limits(p->policy);
	struct policy_decision dec;
	struct policy_query q = {
		.user = rec->user,
		.groups = ident_groups(&c->who),
		.ngroups = c->who.ngroups,
		.resource = rec->resource,
		.role = rec->role,
		.duration = rec->requested_ttl,
	};
	int r;

	/* groups unknown: no decision at all, break-glass included */
	if ((r = ident_require_groups(&c->who, err)) != 0)
		return r;
	if (rec->requested_start <= now)
		rec->requested_start = 0; /* a start in the past: now */
	if (rec->requested_start > now + lim->schedule_max) {
		char cap[32];

		duration_format(lim->schedule_max, cap, sizeof(cap));
		return brk_error_set(err, BRK_ERR_INVALID,
		    "--start may be at "
		    "most %s ahead (limits.schedule_max)",
		    cap);
	}
	if (rec->requested_start != 0 && rec->break_glass)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "break-glass "
		    "access starts now: drop --start");
	policy_evaluate(p->policy, &q, &dec);
	rec->policy_version = p->version;
	if (dec.outcome == POLICY_APPROVE && rec->break_glass)
		return break_glass(op, &dec, lim, now, err);
	rec->break_glass = false; /* auto and deny ignore the flag */
	if (dec.outcome == POLICY_APPROVE) {
		if (dec.require_reason && rec->reason[0] == '\0')
			return brk_error_set(err, BRK_ERR_INVALID,
			    "rule %s "
			    "requires a reason: add --reason TEXT",
			    dec.deciding_rule);
		if (dec.require_ticket && rec->ticket[0] == '\0')
			return brk_error_set(err, BRK_ERR_INVALID,
			    "rule %s "
			    "requires a ticket: add --ticket ID",
			    dec.deciding_rule);
	}
	fill_decision(rec, &dec, p->version, now);
	switch (dec.outcome) {
	case POLICY_AUTO:
		/* a later window is scheduled until it opens */
		rec->state = rec->requested_start ? ST_SCHEDULED : ST_ACTIVE;
		rec->automatic = true;
		rec->decided_at = now;
		rec->starts_at = rec->requested_start ? rec->requested_start :
							now;
		rec->expires_at = rec->starts_at + dec.ttl;
		break;
	case POLICY_APPROVE:
		rec->state = ST_PENDING;
		rec->expires_at = now + lim->pending_ttl;
		rec->require_reason = dec.require_reason;
		rec->require_ticket = dec.require_ticket;
		break;
	default:
		rec->state = ST_DENIED;
		rec->decided_at = now;
		rec->ttl = 0;
		break;
	}
	return 0;
}

int
op_request(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct req_op *op = NULL;
	int r = BRK_ERR_NOMEM;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		goto fail;
	op->c = c;
	ops_actor(c, &op->actor);
	op->now = time_now();
	op->pref = p;
	p = NULL; /* op holds the reference until the writer is done */
	if ((r = request_args(c, &op->rec, &op->create.fresh, &err)) != 0 ||
	    (r = cred_arg_pubkey(c->req->args, &op->key, &err)) != 0)
		goto fail;
	/* refused before anything is filed: no half-answered request */
	if (op->key != NULL && strncmp(op->rec.resource, "host:", 5) != 0) {
		r = brk_error_set(&err, BRK_ERR_INVALID,
		    "%s is not a host: "
		    "no SSH certificate for it (drop --pubkey; only host: "
		    "resources get one)",
		    op->rec.resource);
		goto fail;
	}
	if ((r = decide(op, &err)) != 0)
		goto fail;
	op->decided = op->rec;
	if ((r = writer_submit_applied(c->d->writer, apply_create,
		 applied_create, done_reply, op)) != 0)
		goto fail;
	policy_put(c->d, p);
	return 0;
fail:
	policy_put(c->d, p);
	req_op_free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

/* Cancel or revoke, checked inside the write transaction (requests.c). */
static int
apply_transition(struct store_txn *t, void *arg)
{
	struct req_op *op = arg;

	return requests_transition(t, &op->actor, op->rec.serial, op->action,
	    op->reason[0] != '\0' ? op->reason : NULL, op->now, &op->rec,
	    op->msg);
}

static int
submit_transition(struct call *c, enum req_action action, bool reason_required,
    bool privileged)
{
	struct brk_error err = { { 0 } };
	struct req_op *op;
	const char *reason = NULL;
	uint64_t serial;
	int r;

	const char *id = NULL;
	const struct proto_arg spec[] = {
		{ "id", PA_STR, true, 0, 32, &id },
		{ "reason", PA_STR, reason_required, 0, REC_TEXT - 1, &reason },
	};

	if (ops_arg_id(c, &serial, NULL) != 0)
		return BRK_ERR_INVALID;
	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return BRK_ERR_NOMEM;
	}
	op->c = c;
	ops_actor(c, &op->actor);
	op->actor.privileged = privileged;
	op->rec.serial = serial;
	op->action = action;
	op->now = time_now();
	if (reason != NULL)
		snprintf(op->reason, sizeof(op->reason), "%s", reason);
	if ((r = writer_submit(
		 c->d->writer, apply_transition, done_reply, op)) != 0) {
		req_op_free(op);
		call_fail(c, r, "%s", brk_strerror(r));
	}
	return r;
}

int
op_cancel(struct call *c)
{
	return submit_transition(c, RA_CANCEL, false, false);
}

int
op_revoke(struct call *c)
{
	struct policy_ref *p = policy_get(c->d);
	struct store_txn *t = NULL;
	struct request r;
	const char *id = NULL;
	bool priv = call_has_role(c, p, ROLE_POLICY_ADMINS);

	/* an opt-out manager reaches only the grants within its scopes (a
	 * grant's resource, user and rule never change, so reading it here
	 * is as good as in the writer); one that cannot be read is not */
	if (!priv &&
	    proto_arg_str(c->req->args, "id", true, 32, &id, NULL) == 0 &&
	    call_read(c, &t) == 0 && ops_load_request(c, t, id, &r) == 0)
		priv = ops_may_manage_grant(c, p, &r);
	policy_put(c->d, p);
	return submit_transition(c, RA_REVOKE, true, priv);
}

/* The sweep: record the expiry of everything past its end. */
#define SWEEP_MAX 256

struct sweep {
	struct brokerd *d;
	uint64_t serials[SWEEP_MAX];
	size_t n;
	uint64_t optouts[SWEEP_MAX]; /* opt-outs past their end */
	size_t nopt;
	/* join tokens used or expired over hosts.token_retention ago */
	char tokens[SWEEP_MAX][HOST_TOKEN_HASH_LEN + 1];
	size_t ntok;
	int64_t now, token_keep;
};

static int
collect_tokens(const char *hash, void *arg)
{
	struct sweep *sw = arg;

	snprintf(sw->tokens[sw->ntok++], sizeof(sw->tokens[0]), "%s", hash);
	return sw->ntok == SWEEP_MAX ? 1 : 0;
}

static int
collect_optouts(const struct optout *o, void *arg)
{
	struct sweep *sw = arg;

	if (o->ended_at == 0 && o->until <= sw->now)
		sw->optouts[sw->nopt++] = o->id;
	return sw->nopt == SWEEP_MAX ? 1 : 0;
}

static int
collect_due(uint64_t serial, void *arg)
{
	struct sweep *sw = arg;

	sw->serials[sw->n++] = serial;
	return sw->n == SWEEP_MAX ? 1 : 0;
}

/* Automation comes back by itself, grants start and requests end: record
 * each (optouts.c, requests.c); dead join tokens go (hosts.c). */
static int
apply_sweep(struct store_txn *t, void *arg)
{
	struct sweep *sw = arg;
	size_t i;
	int r;

	if ((r = optouts_expire(t, sw->optouts, sw->nopt, sw->now)) != 0)
		return r;
	for (i = 0; i < sw->ntok; i++)
		if ((r = hosts_token_purge(
			 t, sw->tokens[i], sw->now, sw->token_keep)) != 0)
			return r;
	return requests_sweep(t, sw->serials, sw->n, sw->now);
}

static void
done_sweep(void *arg, int rc)
{
	struct sweep *sw = arg;

	if (rc != 0)
		log_error("event=sweep_failed error=\"%s\"", brk_strerror(rc));
	else if (sw->n > 0) /* grants started or ended: their credentials */
		ops_cred_sync(sw->d);
	__atomic_store_n(&sw->d->sweep_queued, 0, __ATOMIC_RELEASE);
	free(sw);
}

void
ops_sweep(struct brokerd *d, struct store_txn **rtxn)
{
	struct sweep *sw;
	int r;

	if (__atomic_load_n(&d->sweep_queued, __ATOMIC_ACQUIRE))
		return;
	if ((sw = calloc(1, sizeof(*sw))) == NULL)
		return;
	sw->d = d;
	sw->now = time_now();
	sw->token_keep = d->cfg->host_token_retention;
	if ((r = store_read_begin(d->store, rtxn)) == 0) {
		r = reqstore_due(*rtxn, sw->now, collect_due, sw);
		if (r == 0)
			r = optouts_live(*rtxn, collect_optouts, sw);
		if (r == 0)
			r = hosts_tokens_stale(
			    *rtxn, sw->now, sw->token_keep, collect_tokens, sw);
		store_read_end(*rtxn);
	}
	if (r != 0 || (sw->n == 0 && sw->nopt == 0 && sw->ntok == 0)) {
		free(sw);
		return;
	}
	__atomic_store_n(&d->sweep_queued, 1, __ATOMIC_RELEASE);
	if (writer_submit(d->writer, apply_sweep, done_sweep, sw) != 0) {
		__atomic_store_n(&d->sweep_queued, 0, __ATOMIC_RELEASE);
		free(sw);
	}
}
