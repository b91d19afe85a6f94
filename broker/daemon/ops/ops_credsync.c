/*
 * ops_credsync.c - keeping credentials that live outside the broker (a
 * database role) in step with the grants in force, and auditing them.
 *
 * Every grant end (revoke, expiry, freeze --revoke-active, a block) and a
 * crash at any point are handled the same way: the reconciler compares
 * what exists with the grants that are active, in their window and not
 * blocked now, and ends the rest.  A revoke asks for a run at once; the
 * tick runs one every CREDSYNC_PERIOD seconds.  All of it on the worker
 * pool, never on the I/O or writer threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "credkind.h"
#include "escalate.h"
#include "log.h"
#include "ops.h"
#include "reqstore.h"
#include "timefmt.h"
#include "workpool.h"

#define CREDSYNC_PERIOD 5

struct cred_audit {
	struct brokerd *d;
	char action[32], actor[REC_NAME], resource[REC_RESOURCE];
	char user[REC_NAME], target[24], credname[128];
};

static int
apply_cred_audit(struct store_txn *t, void *arg)
{
	struct cred_audit *a = arg;
	json_t *details = json_pack("{s:s}", "credential", a->credname);
	int r;

	r = audit_append(t, time_now(),
	    &(struct audit_event){ .action = a->action,
		.actor = a->actor,
		.caller = a->actor,
		.target = a->target,
		.user = a->user[0] ? a->user : NULL,
		.resource = a->resource,
		.details = details },
	    NULL);
	json_decref(details);
	return r;
}

static void
done_cred_audit(void *arg, int rc)
{
	if (rc != 0)
		log_error(
		    "event=cred_audit_failed error=\"%s\"", brk_strerror(rc));
	free(arg);
}

/*
 * Worker jobs submit audit records to the writer, and brokerd frees the
 * writer before the pool: after ops_cred_stop() nothing more is submitted
 * (the lock makes a submission in progress finish first).
 */
static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static bool audit_stopped;

void
ops_cred_stop(struct brokerd *d)
{
	pthread_mutex_lock(&audit_lock);
	audit_stopped = true;
	pthread_mutex_unlock(&audit_lock);
}

void
ops_cred_audit(struct brokerd *d, const char *action, const char *actor,
    const char *resource, const char *user, const char *target,
    const char *credname)
{
	struct cred_audit *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		log_error("event=cred_audit_failed error=\"out of memory\"");
		return;
	}
	a->d = d;
	snprintf(a->action, sizeof(a->action), "%s", action);
	snprintf(a->actor, sizeof(a->actor), "%s", actor);
	snprintf(a->resource, sizeof(a->resource), "%s", resource);
	snprintf(a->user, sizeof(a->user), "%s", user != NULL ? user : "");
	snprintf(a->target, sizeof(a->target), "%s", target);
	snprintf(a->credname, sizeof(a->credname), "%s", credname);
	log_info(
	    "event=%s resource=%s credential=%s", action, resource, credname);
	pthread_mutex_lock(&audit_lock);
	if (audit_stopped ||
	    writer_submit(d->writer, apply_cred_audit, done_cred_audit, a) !=
		0) {
		log_error("event=cred_audit_failed action=%s credential=%s "
			  "error=\"brokerd is stopping\"",
		    action, credname);
		free(a);
	}
	pthread_mutex_unlock(&audit_lock);
}

struct live_fill {
	struct brokerd *d;
	struct store_txn *t;
	struct cred_live *v;
	size_t n, cap;
	int64_t now;
	int rc;
};

/* A grant a block covers now keeps no credential (as cert_allowed). */
static bool
blocked(struct live_fill *f, const struct request *r)
{
	struct policy_ref *p = policy_get(f->d);
	struct brk_error ierr;
	struct escalation esc;
	struct ident who;
	struct cover cv = { .policy = p->policy,
		.user = r->user,
		.resource = r->resource,
		.rules = r->rules,
		.serial = r->serial };
	bool b = false;

	memset(&who, 0, sizeof(who));
	if (ident_from_name(f->d->ident, r->user, &who, &ierr) == 0) {
		cv.groups = ident_groups(&who);
		cv.ngroups = who.ngroups;
	}
	if (escalate_find(f->t, &cv, f->now, &esc) == 0)
		b = esc.level == ESC_BLOCK;
	ident_clear(&who);
	policy_put(f->d, p);
	return b;
}

static int
add_live(uint64_t serial, void *arg)
{
	struct live_fill *f = arg;
	struct cred_live *nv;
	struct request r;

	if (reqstore_load(f->t, serial, &r) != 0 || r.state != ST_ACTIVE ||
	    !reqstore_in_window(&r, f->now) ||
	    cred_kind_for(f->d, r.resource)->reconcile == NULL ||
	    blocked(f, &r))
		return 0;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		if ((nv = realloc(f->v, f->cap * sizeof(*nv))) == NULL)
			return f->rc = BRK_ERR_NOMEM;
		f->v = nv;
	}
	snprintf(
	    f->v[f->n].resource, sizeof(f->v[f->n].resource), "%s", r.resource);
	snprintf(f->v[f->n].user, sizeof(f->v[f->n].user), "%s", r.user);
	snprintf(f->v[f->n].role, sizeof(f->v[f->n].role), "%s", r.role);
	f->v[f->n].expires_at = r.expires_at;
	f->v[f->n++].serial = r.serial;
	return 0;
}

static int
load_live(struct brokerd *d, void *arg, struct cred_live **live, size_t *n)
{
	struct live_fill f = { .d = d, .now = time_now() };
	int r;

	*live = NULL;
	*n = 0;
	if ((r = store_read_begin(d->store, &f.t)) == 0) {
		r = reqstore_by_state(f.t, ST_ACTIVE, add_live, &f);
		if (r == 0)
			r = f.rc;
	}
	store_read_free(f.t);
	if (r != 0) {
		free(f.v);
		return r;
	}
	*live = f.v;
	*n = f.n;
	return 0;
}

/* Credential names end in _<request id> (brk_alice_r12, exec_r12). */
static void
cred_event(void *arg, enum cred_event ev, const char *resource,
    const char *user, const char *credname)
{
	struct brokerd *d = arg;
	const char *id = strrchr(credname, '_');

	ops_cred_audit(d, ev == CRED_ISSUED ? "cred.issued" : "cred.revoked",
	    "brokerd", resource, user, id != NULL ? id + 1 : "", credname);
}

static int credsync_queued;
static int credsync_again;
static int64_t credsync_last;

static void
credsync_job(void *arg)
{
	struct brokerd *d = arg;
	int r;

	do {
		__atomic_store_n(&credsync_again, 0, __ATOMIC_RELEASE);
		if ((r = cred_reconcile(d, load_live, NULL, cred_event, d)) !=
		    0)
			log_warn("event=cred_reconcile_failed error=\"%s\"",
			    brk_strerror(r));
	} while (__atomic_load_n(&credsync_again, __ATOMIC_ACQUIRE));
	__atomic_store_n(&credsync_queued, 0, __ATOMIC_RELEASE);
}

void
ops_cred_sync(struct brokerd *d)
{
	if (d->cfg->databases == NULL && d->cfg->cred_exec == NULL)
		return; /* no kind with outside state is in use */
	__atomic_store_n(&credsync_again, 1, __ATOMIC_RELEASE);
	if (__atomic_exchange_n(&credsync_queued, 1, __ATOMIC_ACQ_REL))
		return; /* the running job goes round again */
	__atomic_store_n(&credsync_last, time_now(), __ATOMIC_RELAXED);
	workpool_submit(d->pool, credsync_job, d);
}

void
ops_cred_activated(struct brokerd *d, const struct request *r, bool issued)
{
	if (!issued && r->state == ST_ACTIVE &&
	    cred_kind_for(d, r->resource)->reconcile != NULL)
		ops_cred_sync(d);
}

void
ops_cred_tick(struct brokerd *d)
{
	if (time_now() - __atomic_load_n(&credsync_last, __ATOMIC_RELAXED) >=
	    CREDSYNC_PERIOD)
		ops_cred_sync(d);
}

int
ops_cred_issue_into(struct brokerd *d, const struct request *r,
    const struct sshkey *key, bool again, json_t *reply, struct brk_error *err)
{
	const struct cred_kind *k = cred_kind_for(d, r->resource);
	char id[24], msg[700], name[128];
	int rc;

	req_id(r->serial, id);
	if ((rc = cred_issue(d, r, key, again, reply, err)) != 0) {
		/* the grant stands: say so, and how to get them later */
		snprintf(msg, sizeof(msg), "%s; run `broker cred %s` to %s",
		    err->msg, id,
		    rc == BRK_ERR_UNREACHABLE ? "retry" : "try again");
		json_object_set_new(reply,
		    rc == BRK_ERR_UNREACHABLE ? "cred_pending" : "cred_error",
		    json_string(msg));
		return rc;
	}
	if (k->credname != NULL) {
		k->credname(r, name, sizeof(name));
		ops_cred_audit(
		    d, "cred.issued", r->user, r->resource, r->user, id, name);
	}
	return 0;
}
