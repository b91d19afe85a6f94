/*
 * ops.h - the handlers behind each protocol op, and what they share.
 *
 * The contract of a handler: it answers its call exactly once, with
 * call_reply() or call_fail(), at once or later from another thread (the
 * writer after a commit, the worker pool after signing).  It returns 0
 * when it answered or handed the call on; any other value is a failure
 * that the dispatcher answers with call_fail() if the handler did not.
 *
 * Threads (the op table in ops.c says it for each op):
 *   I/O   quick work on the server's I/O thread (or a TLS connection's):
 *         whoami, status, show, request, cancel, revoke, approve, deny,
 *         policy.show, optout.add/remove/show, freeze, unfreeze,
 *         flag.add/remove, review.ack, ca.show, login.revoke,
 *         audit.anchor/prune (both
 *         hand their work to the writer), audit.verify/search/export (each
 *         queues its own job on the worker pool).
 *   pool  on the worker pool (core/workpool.c), never the I/O thread:
 *         check and policy.explain (directory lookups on a cache miss),
 *         policy.load (waits for a sync) and policy.check (compiles),
 *         cert, krl and snapshot (signing), metrics, and the lists that
 *         can be large: list, pending, review.list, optout.list,
 *         optout.report, flag.list.  SIGHUP's reload (ops_reload) too.
 *   writer  the apply and done callbacks handed to writer_submit().
 */
#ifndef BRK_OPS_H
#define BRK_OPS_H

#include "daemon.h"
#include "record.h"
#include "requests.h"
#include "sshkey.h"

/* Counters in brokerd.counters. */
enum {
	CNT_AUTO,
	CNT_PENDING,
	CNT_DENIED,
	CNT_REFUSED
};

int op_request(struct call *c);
int op_cancel(struct call *c);
int op_revoke(struct call *c);
int op_status(struct call *c);
int op_list(struct call *c);
int op_show(struct call *c);
int op_check(struct call *c);
int op_whoami(struct call *c);
int op_policy_check(struct call *c);
int op_policy_load(struct call *c);
int op_policy_show(struct call *c);
int op_policy_explain(struct call *c);
int op_audit_verify(struct call *c);
/* The audit trail (ops_audit.c): search, export, anchors, prune; and the
 * periodic anchoring run from ops_tick(). */
int op_audit_search(struct call *c);
int op_audit_export(struct call *c);
int op_audit_anchor(struct call *c);
int op_audit_prune(struct call *c);
void ops_audit_tick(struct brokerd *d, struct store_txn **rtxn);
int op_cert(struct call *c);
int op_cred(struct call *c);
int op_approve(struct call *c);
int op_deny(struct call *c);
int op_pending(struct call *c);
int op_review_list(struct call *c);
/* optout.add and freeze; optout.remove and unfreeze (by c->req->op) */
int op_optout_add(struct call *c);
int op_optout_remove(struct call *c);
int op_optout_extend(struct call *c);
int op_optout_list(struct call *c);
int op_optout_show(struct call *c);
int op_optout_report(struct call *c);
/* flag.add and flag.remove (by c->req->op) */
int op_flag_change(struct call *c);
int op_flag_list(struct call *c);
int op_review_ack(struct call *c);
int op_krl(struct call *c);
int op_ca_show(struct call *c);
/* login.revoke (ops_login.c): login certificates ended early. */
int op_login_revoke(struct call *c);
/* Hosts that enroll with a join token and sync (ops_host.c). */
int op_host_token_create(struct call *c);
int op_host_enroll(struct call *c);
int op_host_sync(struct call *c);
int op_host_list(struct call *c);
int op_host_remove(struct call *c);
int op_snapshot(struct call *c);
/* The replies of krl, ca.show and snapshot as objects (ops_cred.c), for
 * host.sync's "include": the same checks, the same keys; t is the call's
 * read (call_read, begun once per call). */
int ops_krl_json(
    struct call *c, struct store_txn *t, json_t **out, struct brk_error *err);
json_t *ops_ca_json(struct call *c);
int ops_snapshot_json(struct call *c, struct store_txn *t, const char *host,
    int64_t ttl, json_t **out, struct brk_error *err);
int op_metrics(struct call *c); /* ops_metrics.c */

/*
 * Login sessions on hosts (ops_session.c): the ops, and the in-memory
 * table of open sessions with its parked watches.  ops_sessions_new()
 * before the server starts; ops_sessions_on_record() subscribes to the
 * audit feed (arg: the brokerd); ops_sessions_tick() answers watches whose
 * wait ran out (I/O thread, from ops_tick); ops_sessions_stop() answers
 * every parked watch (before the transports stop); ops_sessions_free()
 * after the worker pool stopped.
 */
int op_session_open(struct call *c);
int op_session_close(struct call *c);
int op_session_terminated(struct call *c);
int op_session_list(struct call *c);
int op_session_watch(struct call *c);
int ops_sessions_new(struct brokerd *d);
void ops_sessions_on_record(const json_t *rec, void *arg);
/* Whether the feed should read records for ops_sessions_on_record(). */
bool ops_sessions_wanted(void *arg);
void ops_sessions_tick(struct brokerd *d);
void ops_sessions_stop(struct brokerd *d);
void ops_sessions_free(struct brokerd *d);
/* The open sessions of grant (a new array, for show). */
json_t *ops_sessions_of(struct brokerd *d, uint64_t grant);
/* How many open sessions, on how many hosts, the grants[0..n) have. */
void ops_sessions_count(struct brokerd *d, const uint64_t *grants, size_t n,
    size_t *sessions, size_t *hosts);

/* Dispatch a call to its handler on its thread (daemon.h declares it
 * for the TLS listener); per-second housekeeping on the I/O thread; SIGHUP
 * (queues the reload on the worker pool).  main.c gives these to the
 * server as its struct server_ops. */
void ops_tick(struct brokerd *d, struct store_txn **rtxn);

/* For the unix socket server, on a worker thread (struct server_ops): run
 * c here, with a read transaction of this thread's own, when its op is
 * one that runs on the worker pool; false, with nothing done, for an op
 * of the I/O thread, an unknown op or arguments the op does not take
 * (ops_dispatch() answers those). */
bool ops_run_pooled(struct call *c);

/* The op table: how many ops, and the name of op i (NULL past the end).
 * ops_dispatch() refuses an argument its op does not name. */
size_t ops_count(void);
const char *ops_name(size_t i);
void ops_reload(struct brokerd *d);

/* The metrics in the Prometheus text format (malloc'd), read in t. */
int ops_metrics_text(
    struct brokerd *d, struct store_txn *t, char **out, size_t *len);

/* One mutation of one request, carried from a handler to the writer; the
 * change itself is the state machine's (requests.h). */
struct req_op {
	struct call *c;
	struct actor actor;	/* who acts, copied from the call */
	struct request rec;	/* new (create) or as changed */
	struct request decided; /* create: as the policy decided it; the
				 * writer stores it as rec */
	enum req_action action; /* cancel, revoke */
	char reason[REC_TEXT];	/* cancel, revoke, approve, deny */
	struct sshkey *key;	/* certificate wanted for this key */
	int64_t now;
	int64_t ttl;		 /* approve: shortened duration or 0 */
	struct policy_ref *pref; /* the policy that decided (create) */
	struct create_in create; /* create: --new, break-glass hold */
	char msg[REQ_MSG_LEN];	 /* why apply refused */
	/*
	 * A new grant's certificate is signed while its transaction is being
	 * made durable; the reply waits for both.  parts counts what is still
	 * outstanding (the signing, the commit); the last one replies.
	 */
	bool early;	     /* signing started in apply */
	bool sign_at_commit; /* early, but queued by done_reply() */
	int parts;
	int rc;	       /* the commit's result */
	json_t *creds; /* issued, not yet sent ("cert") */
	char cert_err[512];
	bool issue_late;	   /* the kind issues after the commit */
	json_t *approvals;	   /* approve: who approved so far */
	bool duplicate;		   /* request: an open one was returned */
	struct req_op *signq_next; /* in the signing queue (ops_request.c) */
	char *line;		   /* the reply, built once signed (sent only
				    * once the commit is durable) */
	size_t linelen;
};

/*
 * The end of a handler that hands a plain op (one malloc'd block) to the
 * writer: when r is 0 (its checks passed) submit op with apply and done;
 * release p (may be NULL) either way; on any failure free op and answer
 * the call with err's message (or r's).  Returns 0 or the failure.
 */
int ops_submit(struct call *c, struct policy_ref *p, writer_apply_fn apply,
    writer_done_fn done, void *op, int r, const struct brk_error *err);

/*
 * A listing op (host.list, review.list): parse its one argument "all",
 * ask may (0, or a refusal with its words in err), then answer with the
 * JSON array list fills from one read of the store.  Returns 0 or the
 * failure the call was answered with.
 */
int ops_list(struct call *c, int (*may)(struct call *, struct brk_error *),
    int (*list)(struct store_txn *, bool all, int64_t now, json_t *out));

/* The end of a writer job's done callback: reply with result when rc is
 * 0, else (result released) fail with msg, or rc's words when msg is
 * empty. */
void ops_answer(struct call *c, int rc, json_t *result, const char *msg);

/* The acting identity of call c, for the state machine. */
void ops_actor(struct call *c, struct actor *a);

/* The writer's done callback for request mutations: replies with op->rec
 * (and a certificate when op->key is set) or with op->msg. */
void done_reply(void *arg, int rc);
void req_op_free(struct req_op *op);

/*
 * Credentials outside the broker (ops_credsync.c): ops_cred_sync() asks
 * for a reconcile now (after a grant ended), ops_cred_tick() every few
 * seconds; ops_cred_audit() records cred.issued / cred.revoked with the
 * credential's name, never its secret.
 */
void ops_cred_sync(struct brokerd *d);
/*
 * After a commit that left grant r active (an approval, a scheduled
 * start, a transition): when its kind makes credentials on activation
 * and issued is false (nobody issued them in the reply), ask for a
 * reconcile, which makes them off the writer thread.
 */
void
ops_cred_activated(struct brokerd *d, const struct request *r, bool issued);
/* Before the writer is freed: credential jobs submit nothing more. */
void ops_cred_stop(struct brokerd *d);
void ops_cred_tick(struct brokerd *d);
/*
 * Issue r's credential by its kind into reply (worker thread, after the
 * grant's commit).  On failure the reply says why under "cred_pending"
 * (unreachable: `broker cred ID` retries) or "cred_error".
 */
int ops_cred_issue_into(struct brokerd *d, const struct request *r,
    const struct sshkey *key, bool again, json_t *reply, struct brk_error *err);
void ops_cred_audit(struct brokerd *d, const char *action, const char *actor,
    const char *resource, const char *user, const char *target,
    const char *credname);
/*
 * The audit record "cert.issued" of the certificate that key gets for
 * grant r (ops_cred.c): serial, key fingerprint, principals and validity
 * (skew: the backdating allowance).  Written in the transaction that
 * authorises it; signing happens after, and a failure to sign is the
 * caller's answer (no certificate leaves the broker).  t is a write txn.
 */
int ops_audit_cert(struct store_txn *t, int64_t now, const struct call *c,
    const struct request *r, const struct sshkey *key, int64_t skew);

/* Periodic expiry sweep (ops_request.c). */
void ops_sweep(struct brokerd *d, struct store_txn **rtxn);

/*
 * Whether the call may see or act on others' requests: root-free; only the
 * roles named in policy (policy admins, auditors, reviewers).
 */
bool call_may_see_all(struct call *c, struct policy_ref *p);

/* Whether the call's user holds role r in the policy in force now. */
bool call_in_role(struct call *c, enum policy_role r);

/* Load request `id` (string arg) for reading, with read-time expiry. */
int ops_load_request(
    struct call *c, struct store_txn *t, const char *id, struct request *r);

/* The argument "id" parsed into a serial; fails the call when bad. */
int ops_arg_id(struct call *c, uint64_t *serial, const char **idstr);

/*
 * Who can still approve a pending request, as people: into o (a request
 * as record_to_json() shows it, with its "approvals" list) go
 * approval.people ([{"name", "mail"}], or null when a group's members
 * cannot be known), approval.people_unknown (why, or null) and
 * approval.people_more.  Not the requester, who filed it, or who approved
 * already.  May wait on the directory: the worker pool only.
 */
void ops_add_people(struct brokerd *d, json_t *o);

/*
 * Whether the caller holds optout_managers through an entry whose scopes
 * cover grant r (its request id, resource, user, deciding rule, or a label
 * of its resource): the reach of an opt-out manager over grants
 * (ops_optout.c).  Policy admins are checked by the caller.
 */
bool ops_may_manage_grant(
    struct call *c, struct policy_ref *p, const struct request *r);

#endif
