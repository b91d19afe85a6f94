/*
 * ops_query.c - read-only ops: status, list, show, check, whoami.
 *
 * They run on the I/O thread inside one read transaction each, and apply
 * expiry at read time: a grant past its end is never reported as active,
 * whether or not the sweeper has recorded it yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "approvals.h"
#include "audit.h"
#include "checkcache.h"
#include "escalate.h"
#include "flags.h"
#include "grantrule.h"
#include "optouts.h"
#include "names.h"
#include "ops.h"
#include "reqstore.h"
#include "timefmt.h"

#define LIST_DEFAULT 100
#define LIST_MAX 10000

struct lister {
	struct store_txn *t;
	json_t *out;
	int state;	  /* -1 for any */
	const char *user; /* NULL for any */
	size_t limit;
	int64_t now;
	int rc;
};

static int
list_one(uint64_t serial, void *arg)
{
	struct lister *l = arg;
	struct request r;

	if ((l->rc = reqstore_load(l->t, serial, &r)) != 0)
		return l->rc == BRK_ERR_NOTFOUND ? 0 : l->rc;
	reqstore_effective(&r, l->now);
	if (l->state >= 0 && (int)r.state != l->state)
		return 0;
	if (l->user != NULL && strcmp(r.user, l->user) != 0)
		return 0;
	json_array_append_new(l->out, record_to_json(&r));
	return json_array_size(l->out) >= l->limit ? 1 : 0;
}

int
op_list(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct lister l = {
		.state = -1, .limit = LIST_DEFAULT, .now = time_now()
	};
	const char *state = NULL, *user = NULL;
	int64_t limit = LIST_DEFAULT;
	bool all = false;
	const struct proto_arg spec[] = {
		{ "all", PA_BOOL, false, 0, 0, &all },
		{ "state", PA_STR, false, 0, 16, &state },
		{ "user", PA_STR, false, 0, 64, &user },
		{ "limit", PA_INT, false, 1, LIST_MAX, &limit },
	};
	int r;

	l.out = json_array();
	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_INVALID;
	if (user != NULL && !name_user_valid(user)) {
		brk_error_set(
		    &err, r, "\"%.64s\" is not a valid user name", user);
		goto fail;
	}
	if (state != NULL && (l.state = req_state_parse(state)) < 0) {
		char names[128] = "";

		for (int i = 0; i < ST__COUNT; i++)
			snprintf(names + strlen(names),
			    sizeof(names) - strlen(names), "%s%s",
			    i ? ", " : "", req_state_name((enum req_state)i));
		brk_error_set(&err, r,
		    "unknown state \"%.16s\": use one of "
		    "%s",
		    state, names);
		goto fail;
	}
	r = BRK_ERR_DENIED;
	if ((all || (user != NULL && strcmp(user, c->who.name) != 0)) &&
	    !call_may_see_all(c, p)) {
		brk_error_set(&err, r,
		    "%s may not list others' requests "
		    "(policy admins, auditors and reviewers may)",
		    c->who.name);
		goto fail;
	}
	l.limit = (size_t)limit;
	l.user = user;
	if ((r = call_read(c, &l.t)) != 0)
		goto fail;
	if (!all && user == NULL)
		r = reqstore_by_user(l.t, c->who.name, true, list_one, &l);
	else if (user != NULL)
		r = reqstore_by_user(l.t, user, true, list_one, &l);
	else
		r = reqstore_all(l.t, true, list_one, &l);
	if (r != 0)
		goto fail;
	policy_put(c->d, p);
	call_reply(c, l.out);
	return 0;
fail:
	policy_put(c->d, p);
	json_decref(l.out);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

/* Audit records keep their times as seconds (the chain's form); a reply
 * shows every time as RFC 3339. */
static void
timeline_times(json_t *tl)
{
	char ts[TIMEFMT_LEN];
	size_t i;
	json_t *e;

	json_array_foreach (tl, i, e) {
		if (!json_is_integer(json_object_get(e, "ts")))
			continue;
		time_rfc3339(json_integer_value(json_object_get(e, "ts")), ts);
		json_object_set_new(e, "ts", json_string(ts));
	}
}

int
op_show(struct call *c)
{
	struct policy_ref *p = policy_get(c->d);
	struct store_txn *t = NULL;
	const char *id = NULL;
	struct request r;
	char rid[24], cap[REC_NAME + 32];
	json_t *o = NULL, *tl;
	uint64_t serial;
	int rc;

	if (ops_arg_id(c, &serial, &id) != 0)
		goto out;
	if ((rc = call_read(c, &t)) != 0 ||
	    (rc = ops_load_request(c, t, id, &r)) != 0) {
		call_fail(c, rc, "no request %s", id);
		goto out;
	}
	if (strcmp(r.user, c->who.name) != 0 &&
	    strcmp(r.caller, c->who.name) != 0 && !call_may_see_all(c, p) &&
	    !requests_is_approver(&c->who, &r)) {
		/* the same answer as a missing id: ids are not secrets, but
		 * who asked for what is */
		call_fail(c, BRK_ERR_NOTFOUND, "no request %s", id);
		goto out;
	}
	o = record_to_json(&r);
	tl = json_array();
	req_id(serial, rid);
	record_clamped_by(&r,
	    p != NULL && policy_limits(p->policy) != NULL ?
		policy_limits(p->policy)->break_glass_max_ttl :
		0,
	    cap, sizeof(cap));
	if (o != NULL && cap[0] != '\0')
		json_object_set_new(o, "clamped_by", json_string(cap));
	if (o == NULL || tl == NULL ||
	    (rc = audit_by(t, 't', rid, 1000, tl)) != 0) {
		json_decref(tl);
		call_fail(c, BRK_ERR_NOMEM, "cannot build the timeline");
		goto out;
	}
	timeline_times(tl);
	json_object_set_new(o, "timeline", tl);
	if ((tl = json_array()) != NULL) {
		int64_t min_ttl;
		approvals_list(t, serial, tl, &min_ttl);
		json_object_set_new(o, "approvals", tl);
	}
	/* the directory may be asked next: hold no snapshot meanwhile */
	store_read_end(t);
	ops_add_people(c->d, o);
	/* the grant's login sessions open now, and where */
	json_object_set_new(o, "sessions", ops_sessions_of(c->d, serial));
	call_reply(c, o);
	o = NULL;
out:
	json_decref(o);
	policy_put(c->d, p);
	return 0;
}

#define CHECK_MAX_GRANTS 64
#define CHECK_FIRST_GRANTS 2 /* room made at first: most users hold one */

struct active_find {
	struct store_txn *t;
	const char *login; /* the account logging in */
	int64_t now;
	/* live grants, CHECK_MAX_GRANTS at most; the array grows as they
	 * come (a struct request is ~15 KB: zeroing room for 64 of them cost
	 * more than the rest of a check) */
	struct request *grants;
	size_t n, cap;
	struct request next; /* the earliest scheduled grant, if any */
};

/* Room for one more grant in f; false when out of memory. */
static bool
room_for_one(struct active_find *f)
{
	struct request *nr;
	size_t cap;

	if (f->n < f->cap)
		return true;
	cap = f->cap == 0 ? CHECK_FIRST_GRANTS : f->cap * 2;
	if (cap > CHECK_MAX_GRANTS)
		cap = CHECK_MAX_GRANTS;
	if ((nr = reallocarray(f->grants, cap, sizeof(*nr))) == NULL)
		return false;
	f->grants = nr;
	f->cap = cap;
	return true;
}

static int
find_active(uint64_t serial, void *arg)
{
	struct active_find *f = arg;
	struct request *r;

	if (!room_for_one(f))
		return BRK_ERR_NOMEM; /* ends the walk: the check is refused */
	r = &f->grants[f->n];

	/* the index is keyed by role already; the shared rule decides, so
	 * that snapshot_decide() cannot say otherwise offline */
	if (reqstore_load(f->t, serial, r) != 0)
		return 0;
	/* a window not yet open: kept to say when it starts */
	if (r->starts_at > f->now && r->expires_at > f->now &&
	    (f->next.serial == 0 || r->starts_at < f->next.starts_at))
		f->next = *r;
	if (!reqstore_in_window(r, f->now) ||
	    !grant_admits(r->role, r->expires_at, f->login, f->now))
		return 0;
	return ++f->n == CHECK_MAX_GRANTS;
}

/* Whether the connected caller may ask about other users (hosts' PAM). */
static bool
caller_may_check_others(struct call *c, struct policy_ref *p)
{
	size_t i;

	/* a host asks as itself (root); a delegated call is judged as the
	 * user it is for */
	if (c->host[0] != '\0')
		return true;
	if (!c->delegated && c->caller.uid == 0)
		return true;
	for (i = 0; !c->delegated && i < c->d->cfg->ndelegates; i++)
		if (c->d->cfg->delegates[i] == c->caller.uid)
			return true;
	return call_has_role(c, p, ROLE_AUDITORS) ||
	    call_has_role(c, p, ROLE_POLICY_ADMINS);
}

/*
 * The first grant that no block covers, or NULL with *why saying which
 * block refused the last one.  Blocks concern the grant's user (whose
 * groups count), whichever account they log in as.
 */
static const struct request *
unblocked_grant(struct call *c, struct policy_ref *p, struct active_find *f,
    char *why, size_t whylen)
{
	struct ident subject;
	struct brk_error err = { { 0 } };
	struct escalation esc;
	int ir = 0;
	struct cover cv = { .policy = p->policy };
	const struct request *g, *found = NULL;
	size_t i;

	memset(&subject, 0, sizeof(subject));
	for (i = 0; i < f->n && found == NULL; i++) {
		g = &f->grants[i];
		if (strcmp(subject.name, g->user) != 0) {
			ident_clear(&subject);
			/* a user no source knows has no groups; one whose
			 * groups cannot be known is refused (identity.h) */
			ir = ident_from_name(
			    c->d->ident, g->user, &subject, &err);
			if (ir == BRK_ERR_NOTFOUND) {
				snprintf(subject.name, sizeof(subject.name),
				    "%s", g->user);
				subject.groups_complete = true;
				ir = 0;
			} else if (ir != 0)
				snprintf(subject.name, sizeof(subject.name),
				    "%s", g->user);
			else
				ir = ident_require_groups(&subject, &err);
		}
		if (ir != 0) {
			snprintf(why, whylen, "%.1000s", err.msg);
			continue;
		}
		cv.user = g->user;
		cv.groups = ident_groups(&subject);
		cv.ngroups = subject.ngroups;
		cv.resource = g->resource;
		cv.rules = g->rules;
		cv.serial = g->serial;
		if (escalate_find(f->t, &cv, f->now, &esc) != 0)
			snprintf(why, whylen, "cannot read opt-outs");
		else if (esc.level == ESC_BLOCK)
			snprintf(why, whylen, "blocked by %.900s", esc.why);
		else
			found = g;
	}
	ident_clear(&subject);
	return found;
}

/* With no grant at all: whether a block (a flag, a blocking opt-out)
 * would refuse a request too, so that nobody is told to ask for access
 * that would be refused.  Writes the cause into why. */
static bool
request_blocked(struct call *c, struct policy_ref *p, struct store_txn *t,
    const char *user, const char *resource, int64_t now, char *why,
    size_t whylen)
{
	struct brk_error err = { { 0 } };
	struct ident subject;
	struct escalation esc;
	struct cover cv = { .policy = p->policy,
		.user = user,
		.resource = resource,
		.rules = "" };
	bool blocked = false;

	memset(&subject, 0, sizeof(subject));
	if (ident_from_name(c->d->ident, user, &subject, &err) == 0) {
		cv.groups = ident_groups(&subject);
		cv.ngroups = subject.ngroups;
	}
	if (escalate_find(t, &cv, now, &esc) == 0 && esc.level == ESC_BLOCK) {
		blocked = true;
		snprintf(why + strlen(why), whylen - strlen(why),
		    ", and a "
		    "request would be refused: blocked by %.700s",
		    esc.why);
	}
	ident_clear(&subject);
	return blocked;
}

/* CLOCK_MONOTONIC milliseconds, for the remembered answers' age. */
static int64_t
check_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * `check` on a store that several brokers write (PostgreSQL) answers from
 * the replies kept in c->d->checks_kept (checkcache.h) while no commit, here or
 * on another broker, moved the store generation since they were made.
 * When the follower has not reached the store for store.stale_max, check
 * refuses instead of answering from what may be old.  LMDB keeps no copy
 * (its generation is 0).
 */
int
op_check(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = policy_get(c->d);
	struct active_find f = { .now = time_now() };
	const struct request *g = NULL;
	const char *user = NULL, *resource = NULL;
	char id[24], ts[TIMEFMT_LEN], why[1024];
	const struct proto_arg spec[] = {
		{ "resource", PA_STR, true, 0, REC_RESOURCE - 1, &resource },
		{ "user", PA_STR, false, 0, 64, &user },
	};
	json_t *o;
	int64_t fresh_ms, made_ms = check_mono_ms(), until;
	uint64_t gen;
	bool allowed;
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	if (user == NULL)
		user = c->who.name;
	r = BRK_ERR_INVALID;
	if (!name_user_valid(user) || !name_resource_valid(resource)) {
		brk_error_set(&err, r, "invalid user or resource name");
		goto fail;
	}
	r = BRK_ERR_DENIED;
	if (strcmp(user, c->who.name) != 0 && !caller_may_check_others(c, p)) {
		brk_error_set(
		    &err, r, "%s may not check other users", c->caller.name);
		goto fail;
	}
	/* read before the reads: a commit after it ends what they give */
	gen = store_generation(c->d->store, &fresh_ms);
	r = BRK_ERR_UNREACHABLE;
	if (gen != 0 && fresh_ms != 0 &&
	    made_ms - fresh_ms > (int64_t)c->d->cfg->store_stale_max * 1000) {
		brk_error_set(&err, r,
		    "the store has not answered for more than "
		    "store.stale_max (%d s): check refuses to answer from "
		    "older data",
		    c->d->cfg->store_stale_max);
		goto fail;
	}
	if (gen != 0 && fresh_ms != 0 &&
	    (o = checkcache_recall(c->d->checks_kept, gen, p->version, user,
		 resource, made_ms, f.now, &allowed)) != NULL) {
		__atomic_fetch_add(
		    &c->d->checks[allowed ? 0 : 1], 1, __ATOMIC_RELAXED);
		policy_put(c->d, p);
		call_reply(c, o);
		return 0;
	}
	f.login = user;
	if ((r = call_read(c, &f.t)) != 0 ||
	    (r = reqstore_active_for(f.t, user, resource, find_active, &f)) !=
		0)
		goto fail;
	snprintf(
	    why, sizeof(why), "%s has no active grant for %s", user, resource);
	if (f.next.serial != 0) {
		req_id(f.next.serial, id);
		time_rfc3339(f.next.starts_at, ts);
		snprintf(why, sizeof(why),
		    "%s has no active grant for %s yet: "
		    "grant %s is scheduled to start at %s",
		    user, resource, id, ts);
	}
	if (f.n > 0)
		g = unblocked_grant(c, p, &f, why, sizeof(why));
	if (g == NULL) {
		bool blocked = f.n > 0 ||
		    (f.next.serial == 0 &&
			request_blocked(c, p, f.t, user, resource, f.now, why,
			    sizeof(why)));

		o = json_pack("{s:b, s:s, s:s, s:n, s:n, s:s, s:b}", "allowed",
		    0, "user", user, "resource", resource, "grant",
		    "expires_at", "reason", why, "blocked", blocked);
		if (o != NULL && f.next.serial != 0 && f.n == 0) {
			req_id(f.next.serial, id);
			time_rfc3339(f.next.starts_at, ts);
			json_object_set_new(o, "scheduled",
			    json_pack("{s:s, "
				      "s:s}",
				"grant", id, "starts_at", ts));
		}
	} else {
		req_id(g->serial, id);
		time_rfc3339(g->expires_at, ts);
		snprintf(
		    why, sizeof(why), "grant %s is active until %s", id, ts);
		o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
		    "allowed", 1, "user", user, "resource", resource, "grant",
		    id, "expires_at", ts, "reason", why, "role", g->role,
		    "blocked", 0);
	}
	until = g != NULL ? g->expires_at : INT64_MAX;
	if (f.next.serial != 0 && f.next.starts_at < until)
		until = f.next.starts_at;
	if (gen != 0 && fresh_ms != 0 && o != NULL)
		checkcache_keep(c->d->checks_kept, gen, p->version, made_ms,
		    until, user, resource, g != NULL, o);
	/* metrics: checks by result (ops_metrics.c) */
	__atomic_fetch_add(
	    &c->d->checks[g != NULL ? 0 : 1], 1, __ATOMIC_RELAXED);
	free(f.grants);
	policy_put(c->d, p);
	call_reply(c, o);
	return 0;
fail:
	free(f.grants);
	policy_put(c->d, p);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

static json_t *
groups_json(const struct ident *id)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < id->ngroups; i++)
		json_array_append_new(a, json_string(id->groups[i]));
	return a;
}

int
op_whoami(struct call *c)
{
	/* groups lists what is known; groups_complete says whether that is
	 * all of them, and groups_unknown why not */
	call_reply(c,
	    json_pack("{s:s, s:o, s:s, s:s, s:b, s:o, s:b, s:o}", "user",
		c->who.name, "groups", groups_json(&c->who), "sources",
		c->who.sources, "caller", c->caller.name, "delegated",
		c->delegated, "uid",
		c->who.in_nss ? json_integer(c->who.uid) : json_null(),
		"groups_complete", c->who.groups_complete, "groups_unknown",
		c->who.groups_complete ?
		    json_null() :
		    json_string(c->who.groups_unknown[0] != '\0' ?
			    c->who.groups_unknown :
			    "not resolved")));
	return 0;
}

struct mine {
	struct store_txn *t;
	int64_t now;
	json_t *active, *pending;
	size_t seen;
};

/* My newest requests that are still live, by the user index. */
static int
add_mine(uint64_t serial, void *arg)
{
	struct mine *m = arg;
	struct request r;

	if (reqstore_load(m->t, serial, &r) == 0 &&
	    reqstore_is_live(&r, m->now)) {
		reqstore_effective(&r, m->now);
		json_array_append_new(
		    r.state != ST_PENDING ? m->active : m->pending,
		    record_to_json(&r));
	}
	return ++m->seen >= 500;
}

struct live_optouts {
	int64_t now;
	json_t *list, *freeze;
};

static int
add_live_optout(const struct optout *o, void *arg)
{
	struct live_optouts *l = arg;

	if (!optout_active(o, l->now))
		return 0;
	if (o->freeze && json_is_null(l->freeze)) {
		json_decref(l->freeze);
		l->freeze = optout_json(o, l->now);
	}
	json_array_append_new(l->list, optout_json(o, l->now));
	return 0;
}

/* The pending requests the caller may decide, as `pending` lists them. */
struct waiting {
	struct call *c;
	struct store_txn *t;
	int64_t now, oldest_at;
	uint64_t count, oldest, seen;
};

static int
count_waiting(uint64_t serial, void *arg)
{
	struct waiting *w = arg;
	struct request r;

	if (++w->seen > 10000)
		return 1; /* enough to say "many" */
	if (reqstore_load(w->t, serial, &r) != 0 ||
	    !reqstore_is_live(&r, w->now) ||
	    !requests_is_approver(&w->c->who, &r) ||
	    strcmp(r.user, w->c->who.name) == 0 ||
	    strcmp(r.caller, w->c->who.name) == 0 ||
	    approvals_has(w->t, serial, w->c->who.name))
		return 0;
	w->count++;
	if (w->oldest == 0 || r.created_at < w->oldest_at) {
		w->oldest = serial;
		w->oldest_at = r.created_at;
	}
	return 0;
}

/* {"count", "oldest", "oldest_age_s"}: what waits for the caller. */
static json_t *
waiting_json(struct call *c, struct store_txn *t, int64_t now)
{
	struct waiting w = { .c = c, .t = t, .now = now };
	char id[24];

	if (!c->who.groups_complete ||
	    reqstore_by_state(t, ST_PENDING, count_waiting, &w) != 0)
		return json_null();
	if (w.count == 0)
		return json_pack(
		    "{s:i, s:n, s:n}", "count", 0, "oldest", "oldest_age_s");
	req_id(w.oldest, id);
	return json_pack("{s:I, s:s, s:I}", "count", (json_int_t)w.count,
	    "oldest", id, "oldest_age_s", (json_int_t)(now - w.oldest_at));
}

int
op_status(struct call *c)
{
	struct policy_ref *p = policy_get(c->d);
	struct mine m = { .now = time_now() };
	struct live_optouts l = { .now = m.now };
	char started[TIMEFMT_LEN];
	uint64_t nact = 0, npend = 0, nsched = 0;
	json_t *o, *flags;
	int r;

	m.active = json_array();
	m.pending = json_array();
	l.list = json_array();
	l.freeze = json_null();
	flags = json_array();
	if ((r = call_read(c, &m.t)) != 0 ||
	    (r = reqstore_count(m.t, ST_ACTIVE, &nact)) != 0 ||
	    (r = reqstore_count(m.t, ST_PENDING, &npend)) != 0 ||
	    (r = reqstore_count(m.t, ST_SCHEDULED, &nsched)) != 0 ||
	    (r = reqstore_by_user(m.t, c->who.name, true, add_mine, &m)) != 0 ||
	    (r = optouts_live(m.t, add_live_optout, &l)) != 0 ||
	    (r = flags_list(m.t, m.now, false, flags)) != 0) {
		json_decref(m.active);
		json_decref(m.pending);
		json_decref(l.list);
		json_decref(l.freeze);
		json_decref(flags);
		policy_put(c->d, p);
		call_fail(c, r, "cannot read the store: %s", brk_strerror(r));
		return r;
	}
	time_rfc3339(c->d->started_at, started);
	o = json_pack("{s:{s:s, s:s, s:I, s:I, s:I, s:s}, s:{s:I, s:I, s:I,"
		      " s:I}, s:{s:s, s:o, s:o, s:o}, s:o, s:o, s:o, s:o}",
	    "broker", "health", "ok", "started_at", started, "uptime_s",
	    (json_int_t)(m.now - c->d->started_at), "policy_version",
	    (json_int_t)(p != NULL ? p->version : 0), "policy_rules",
	    (json_int_t)(p != NULL ? policy_rule_count(p->policy) : 0),
	    "socket", c->d->cfg->socket, "counts", "active", (json_int_t)nact,
	    "pending", (json_int_t)npend, "optouts",
	    (json_int_t)json_array_size(l.list), "flags",
	    (json_int_t)json_array_size(flags), "me", "user", c->who.name,
	    "groups", groups_json(&c->who), "active", m.active, "pending",
	    m.pending, "freeze", l.freeze, "optouts", l.list, "flags", flags,
	    "directory", identity_health(c->d->ident));
	json_object_set_new(json_object_get(o, "counts"), "scheduled",
	    json_integer((json_int_t)nsched));
	json_object_set_new(o, "waiting", waiting_json(c, m.t, m.now));
	policy_put(c->d, p);
	call_reply(c, o);
	return 0;
}
