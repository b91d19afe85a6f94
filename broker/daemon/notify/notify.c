/*
 * notify.c - from audit records to events, and events into sink queues.
 *
 * The one idea: the feed callback only maps and enqueues.  An event is
 * serialised once, shared by reference, and pushed into each sink's
 * bounded ring (nqueue.c); a full ring drops its oldest event and counts
 * it, so neither the feed nor anything behind it (the writer, grants) ever
 * waits for a hook.  The sinks' threads pop and deliver at their own pace.
 * The notifier knows the sinks (notify_exec.c, notify_webhook.c) only
 * through the kinds main.c hands to notify_new().
 */
#include "notify.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "approvals.h"
#include "audit.h"
#include "auditfeed.h"
#include "daemon.h"
#include "identity.h"
#include "log.h"
#include "notify_sink.h"
#include "record.h"
#include "reqstore.h"
#include "reviews.h"
#include "timefmt.h"

#define REVIEW_EVERY 60 /* seconds between looks for overdue reviews */

struct notify {
	const struct notify_config *cfg;
	struct brokerd *d; /* for the identity sources; may be NULL */
	struct nsink sinks[NOTIFY_MAX_SINKS];
	size_t nsinks;
	bool curl_ready;
	uint64_t made, matched; /* atomic */
	/* review.overdue: touched by the I/O thread only; overdue_busy
	 * (atomic) while a batch is with the writer */
	int64_t last_review;
	char (*overdue)[24]; /* ids with a record, still overdue */
	size_t noverdue;
	int overdue_busy;
	/* request.reminder: last_remind by the I/O thread only; remind_busy
	 * (atomic) while a batch is with the writer */
	int64_t last_remind;
	int remind_busy;
};

/* ---- events from audit records ------------------------------------ */

static const char *
severity(const char *ev)
{
	static const char *const high[] = { "breakglass.used", "freeze.on",
		"review.overdue", NULL };
	static const char *const warning[] = { "flag.added", NULL };
	static const char *const notice[] = { "request.denied", "grant.revoked",
		"optout.added", "optout.removed", "optout.extended",
		"freeze.extended", "freeze.off", "freeze.expired",
		"flag.removed", "policy.loaded", "request.reminder", NULL };
	size_t i;

	for (i = 0; high[i] != NULL; i++)
		if (strcmp(ev, high[i]) == 0)
			return "high";
	for (i = 0; warning[i] != NULL; i++)
		if (strcmp(ev, warning[i]) == 0)
			return "warning";
	for (i = 0; notice[i] != NULL; i++)
		if (strcmp(ev, notice[i]) == 0)
			return "notice";
	return "info";
}

/* Whether a details key could name secret material; such keys never
 * leave the broker (the audit trail holds none, but say so twice). */
static bool
secret_key(const char *k)
{
	static const char *const words[] = { "key", "cert", "token", "secret",
		"password", "credential", NULL };
	size_t i;

	for (i = 0; words[i] != NULL; i++)
		if (strcasestr(k, words[i]) != NULL)
			return true;
	return false;
}

static json_t *
scrub(const json_t *v, int depth)
{
	const char *k;
	json_t *o, *m;

	if (!json_is_object(v))
		return depth > 8 ? json_null() : json_deep_copy(v);
	if ((o = json_object()) == NULL)
		return NULL;
	json_object_foreach ((json_t *)v, k, m)
		if (!secret_key(k))
			json_object_set_new(o, k,
			    depth > 8 ? json_null() : scrub(m, depth + 1));
	return o;
}

static json_t *
str_or_null(const json_t *rec, const char *key)
{
	const json_t *v = json_object_get(rec, key);

	return json_is_string(v) ? json_string(json_string_value(v)) :
				   json_null();
}

static json_t *
make_event(const json_t *rec, const char *name)
{
	char ts[TIMEFMT_LEN];
	const json_t *seq = json_object_get(rec, "seq");

	time_rfc3339(json_integer_value(json_object_get(rec, "ts")), ts);
	return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "event", name, "time", ts, "seq",
	    json_is_integer(seq) ? json_integer(json_integer_value(seq)) :
				   json_null(),
	    "severity", severity(name), "actor", str_or_null(rec, "actor"),
	    "user", str_or_null(rec, "user"), "resource",
	    str_or_null(rec, "resource"), "target", str_or_null(rec, "target"),
	    "reason", str_or_null(rec, "reason"), "details",
	    scrub(json_object_get(rec, "details"), 0));
}

json_t *
notify_map(const json_t *record)
{
	const char *action = json_string_value(
	    json_object_get(record, "action"));
	const char *actor = json_string_value(json_object_get(record, "actor"));
	const char *user = json_string_value(json_object_get(record, "user"));
	const char *names[2] = { NULL, NULL };
	json_t *out = json_array(), *e;
	size_t i;

	/* names travel in headers and the environment: a safe alphabet */
	if (out == NULL || action == NULL || strlen(action) >= 64 ||
	    action[strspn(action, "abcdefghijklmnopqrstuvwxyz0123456789._-")] !=
		'\0')
		return out;
	if (strcmp(action, "request.granted") == 0)
		names[0] = "request.created";
	else if (strcmp(action, "request.pending") == 0 ||
	    strcmp(action, "breakglass.used") == 0) {
		names[0] = "request.created";
		names[1] = action;
	} else if (strcmp(action, "request.denied") == 0) {
		/* refused when filed (the requester is the actor), or denied
		 * by an approver later (never the requester) */
		if (actor != NULL && user != NULL && strcmp(actor, user) == 0)
			names[0] = "request.created";
		names[names[0] != NULL] = action;
	} else
		names[0] = action;
	for (i = 0; i < 2 && names[i] != NULL; i++) {
		if ((e = make_event(record, names[i])) == NULL ||
		    json_array_append_new(out, e) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* ---- the notifier --------------------------------------------------- */

int
notify_new(const struct notify_config *cfg,
    const struct nsink_kind *const *kinds, size_t nkinds, struct notify **out,
    struct brk_error *err)
{
	struct notify *n = NULL;
	struct nsink *s;
	const void *section;
	char said[128] = "";
	size_t i, at = 0;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if (cfg == NULL)
		return 0;
	if (nkinds > NOTIFY_MAX_SINKS) {
		r = BRK_ERR_TOOBIG;
		goto out;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto out;
	n->cfg = cfg;
	for (i = 0; i < nkinds; i++) {
		section = kinds[i]->section(cfg);
		at += (size_t)snprintf(said + at, sizeof(said) - at, " %s=%s",
		    kinds[i]->name, section != NULL ? "on" : "off");
		if (at >= sizeof(said))
			at = sizeof(said) - 1;
		if (section == NULL)
			continue;
		s = &n->sinks[n->nsinks++];
		s->name = kinds[i]->name;
		if ((r = nqueue_init(&s->q, kinds[i]->queue_max(section))) !=
			0 ||
		    (r = kinds[i]->init(s, section)) != 0 ||
		    (r = nsink_start(s, err)) != 0)
			goto out;
	}
	log_info("event=notify_ready%s", said);
	*out = n;
	n = NULL;
	r = 0;
out:
	if (r != 0 && err->msg[0] == '\0')
		brk_error_set(err, r, "notify: cannot start the sinks: %s",
		    brk_strerror(r));
	notify_free(n);
	return r;
}

int
notify_subscribe(struct notify *n, struct auditfeed *f)
{
	if (n == NULL)
		return 0;
	return auditfeed_subscribe(f, notify_on_record, n);
}

static bool
wanted(const struct notify *n, const char *name)
{
	size_t i;

	if (n->cfg->nevents == 0)
		return true;
	for (i = 0; i < n->cfg->nevents; i++)
		if (fnmatch(n->cfg->events[i], name, 0) == 0)
			return true;
	return false;
}

/* Serialise ev once and push it into every sink. */
static void
enqueue(struct notify *n, json_t *ev)
{
	const char *name = json_string_value(json_object_get(ev, "event"));
	struct nevent *e;
	char *text;
	size_t i;

	__atomic_add_fetch(&n->made, 1, __ATOMIC_RELAXED);
	if (name == NULL || !wanted(n, name))
		return;
	__atomic_add_fetch(&n->matched, 1, __ATOMIC_RELAXED);
	text = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text == NULL ||
	    (e = nevent_new(name, text, strlen(text))) == NULL) {
		free(text);
		log_error("event=notify_nomem notify_event=%s", name);
		return;
	}
	free(text);
	/* e is reference-counted: our reference keeps it alive until the
	 * last line, whatever a queue does with its own */
	for (i = 0; i < n->nsinks; i++)
		nqueue_push(
		    &n->sinks[i].q, e); // NOLINT(clang-analyzer-unix.Malloc)
	nevent_put(e);			// NOLINT(clang-analyzer-unix.Malloc)
}

/* ---- who to tell ---------------------------------------------------- */

/* {"name", "mail"}: mail from the directory where it holds one. */
static json_t *
person(struct notify *n, const char *name)
{
	if (n->d != NULL)
		return ident_person(n->d->ident, name, true);
	return json_pack("{s:s, s:n}", "name", name, "mail");
}

/* "a,b" as a JSON array of strings (json_pack keeps jansson's order). */
static json_t *
split_list(const char *list)
{
	json_t *a = json_array();
	const char *p = list, *c;

	while (a != NULL && p != NULL && *p != '\0') {
		c = strchr(p, ',');
		if (c == NULL)
			c = p + strlen(p);
		if (c > p)
			json_array_append_new(
			    a, json_stringn(p, (size_t)(c - p)));
		p = *c == ',' ? c + 1 : c;
	}
	return a;
}

#define EXCLUDE_MAX 64

/*
 * The approvers of a request as a hook needs them: the eligible groups and
 * users, the people who can still approve (not the requester, nor who
 * filed it, nor who approved already: none of them can count), the quorum
 * and the approvals so far.  people is null, and people_unknown says why,
 * when a group's members cannot be known (the directory down): never an
 * empty list that would say nobody can approve.  Runs on the audit feed's
 * thread, which may wait on the directory (bounded by ldap.timeout).
 */
static json_t *
approvers_json(struct notify *n, const json_t *a, const char *requester,
    const char *caller)
{
	const char *groups = json_string_value(json_object_get(a, "groups"));
	const char *users = json_string_value(json_object_get(a, "users"));
	int quorum = (int)json_integer_value(json_object_get(a, "quorum"));
	int approvals = (int)json_integer_value(
	    json_object_get(a, "approvals"));
	const char *exclude[EXCLUDE_MAX];
	struct ident_people ip = { 0 };
	size_t nex = 0, i;
	json_t *v, *o = NULL;

	exclude[nex++] = requester;
	exclude[nex++] = caller;
	json_array_foreach (json_object_get(a, "approved_by"), i, v)
		if (nex < EXCLUDE_MAX && json_is_string(v))
			exclude[nex++] = json_string_value(v);
	if (n->d != NULL &&
	    ident_people(n->d->ident, groups != NULL ? groups : "",
		users != NULL ? users : "", exclude, nex, true, &ip) != 0)
		return NULL;
	if (n->d == NULL)
		snprintf(ip.why, sizeof(ip.why), "no identity sources");
	o = json_pack("{s:o, s:o, s:o, s:o, s:b, s:i, s:i, s:i}", "groups",
	    split_list(groups), "users", split_list(users), "people",
	    ip.people != NULL ? ip.people : json_null(), "people_unknown",
	    ip.people != NULL ? json_null() : json_string(ip.why),
	    "people_more", ip.more, "quorum", quorum, "approvals", approvals,
	    "needed", quorum > approvals ? quorum - approvals : 0);
	return o;
}

/* notify.link with {id} replaced by the request's id, or null. */
static json_t *
link_json(const struct notify *n, const char *id)
{
	const char *t = n->cfg->link, *at;
	char buf[2048];

	if (t == NULL || id == NULL || id[0] != 'r' ||
	    (at = strstr(t, "{id}")) == NULL)
		return json_null();
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - t), t, id, at + 4);
	return json_string(buf);
}

/* What a hook needs to reach the right people: for a pending request its
 * approvers (groups, people, quorum, approvals so far) and the requester;
 * for a decision the requester, who is the one to tell; a link. */
static void
enrich(struct notify *n, json_t *ev, const json_t *rec)
{
	const char *name = json_string_value(json_object_get(ev, "event"));
	const char *user = json_string_value(json_object_get(ev, "user"));
	const char *target = json_string_value(json_object_get(ev, "target"));
	const char *caller = json_string_value(json_object_get(rec, "caller"));
	json_t *ap, *d = json_object_get(ev, "details"), *a;

	if (name == NULL || strncmp(name, "request.", 8) != 0)
		return;
	json_object_set_new(ev, "link", link_json(n, target));
	if (user != NULL)
		json_object_set_new(ev, "requester", person(n, user));
	a = json_object_get(d, "approvers");
	if ((strcmp(name, "request.pending") == 0 ||
		strcmp(name, "request.reminder") == 0) &&
	    json_is_object(a) &&
	    (ap = approvers_json(n, a, user, caller)) != NULL) {
		json_object_set_new(ev, "approvers", ap);
		json_object_set(ev, "to", json_object_get(ap, "people"));
	} else if ((strcmp(name, "request.approved") == 0 ||
		       strcmp(name, "request.denied") == 0) &&
	    user != NULL)
		json_object_set_new(
		    ev, "to", json_pack("[o]", person(n, user)));
}

void
notify_on_record(const json_t *record, void *arg)
{
	struct notify *n = arg;
	json_t *evs, *ev;
	size_t i;

	if (n == NULL || (evs = notify_map(record)) == NULL)
		return;
	json_array_foreach (evs, i, ev) {
		enrich(n, ev, record);
		enqueue(n, ev);
	}
	json_decref(evs);
}

void
notify_bind(struct notify *n, struct brokerd *d)
{
	if (n != NULL)
		n->d = d;
}

/* ---- review.overdue ------------------------------------------------- */

/*
 * An overdue review is an audit record ("review.overdue", actor brokerd),
 * written by the writer and turned into the event by the feed, like a
 * reminder.  It is made at most once per item, whoever leads: the writer
 * checks inside its transaction that the item is still open and overdue
 * and has no such record yet, so a new leader after a takeover (or a
 * restart) finds the record its predecessor committed and makes none
 * again; two looks that race (a deposed leader's and the new one's) queue
 * on the store's write lock and the second finds the first's record.
 * The set in memory only spares audit reads for items known told.
 */

#define OVERDUE_BATCH 64 /* records written per look; more wait a look */

static bool
was_told(const struct notify *n, const char *id)
{
	size_t i;

	for (i = 0; i < n->noverdue; i++)
		if (strcmp(n->overdue[i], id) == 0)
			return true;
	return false;
}

/* Whether the item id has its review.overdue record already. */
static int
overdue_recorded(struct store_txn *t, const char *id, bool *yes)
{
	struct audit_query q = {
		.action = "review.overdue", .target = id, .limit = 1
	};
	json_t *a;
	int rc;

	*yes = false;
	if ((a = json_array()) == NULL)
		return BRK_ERR_NOMEM;
	if ((rc = audit_search(t, &q, a)) == 0)
		*yes = json_array_size(a) > 0;
	json_decref(a);
	return rc;
}

struct overdue_job {
	struct notify *n;
	int64_t now;
	size_t count;
	uint64_t serials[OVERDUE_BATCH];
};

/* The record of item (as stored) overdue at now. */
static int
append_overdue(struct store_txn *t, const json_t *item, int64_t now)
{
	char at[TIMEFMT_LEN], due[TIMEFMT_LEN];
	struct audit_event ev = { 0 };
	json_t *details;
	int rc;

	time_rfc3339(json_integer_value(json_object_get(item, "at")), at);
	time_rfc3339(json_integer_value(json_object_get(item, "due")), due);
	details = json_pack("{s:s, s:s, s:O, s:O}", "at", at, "due", due,
	    "role", json_object_get(item, "role"), "incident",
	    json_object_get(item, "incident"));
	if (details == NULL)
		return BRK_ERR_NOMEM;
	ev.action = "review.overdue";
	ev.actor = "brokerd";
	ev.caller = json_string_value(json_object_get(item, "caller"));
	ev.target = json_string_value(json_object_get(item, "id"));
	ev.user = json_string_value(json_object_get(item, "user"));
	ev.resource = json_string_value(json_object_get(item, "resource"));
	ev.reason = json_string_value(json_object_get(item, "reason"));
	ev.details = details;
	rc = audit_append(t, now, &ev, NULL);
	json_decref(details);
	return rc;
}

/* On the writer thread: each item still open, overdue and without its
 * record gets one. */
static int
overdue_apply(struct store_txn *t, void *arg)
{
	struct overdue_job *job = arg;
	json_t *item;
	bool done;
	size_t i;
	int rc = 0;

	for (i = 0; i < job->count && rc == 0; i++) {
		if (reviews_get(t, job->serials[i], &item) != 0)
			continue; /* gone or unreadable: nothing to say */
		if (json_integer_value(json_object_get(item, "acked_at")) ==
			0 &&
		    job->now >
			json_integer_value(json_object_get(item, "due")) &&
		    (rc = overdue_recorded(t,
			 json_string_value(json_object_get(item, "id")),
			 &done)) == 0 &&
		    !done)
			rc = append_overdue(t, item, job->now);
		json_decref(item);
	}
	return rc;
}

static void
overdue_done(void *arg, int rc)
{
	struct overdue_job *job = arg;

	if (rc != 0)
		log_warn(
		    "event=notify_overdue_failed error=%s", brk_strerror(rc));
	__atomic_store_n(&job->n->overdue_busy, 0, __ATOMIC_RELEASE);
	free(job);
}

/* Once a look: the open items past due; those without a record go to
 * the writer (one batch at a time), those with one are remembered. */
static void
overdue_look(
    struct notify *n, struct brokerd *d, struct store_txn **rtxn, int64_t now)
{
	char(*told)[24] = NULL;
	struct overdue_job *job = NULL;
	json_t *items, *it;
	const char *id;
	uint64_t serial;
	size_t k = 0, i;
	bool yes;

	if ((items = json_array()) == NULL)
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		goto out;
	job->n = n;
	job->now = now;
	if (store_read_begin(d->store, rtxn) != 0)
		goto out;
	if (reviews_list(*rtxn, false, now, items) != 0 ||
	    (told = calloc(json_array_size(items) + 1, sizeof(*told))) ==
		NULL) {
		store_read_end(*rtxn);
		goto out;
	}
	json_array_foreach (items, i, it) {
		id = json_string_value(json_object_get(it, "id"));
		if (!json_is_true(json_object_get(it, "overdue")) ||
		    id == NULL || strlen(id) >= sizeof(told[0]) ||
		    req_id_parse(id, &serial) != 0)
			continue;
		if (was_told(n, id) ||
		    (overdue_recorded(*rtxn, id, &yes) == 0 && yes))
			snprintf(told[k++], sizeof(told[0]), "%s", id);
		else if (job->count < OVERDUE_BATCH)
			job->serials[job->count++] = serial;
	}
	store_read_end(*rtxn);
	/* remember only what is still overdue: acked items leave the set */
	free(n->overdue);
	n->overdue = told;
	n->noverdue = k;
	told = NULL;
	if (job->count == 0 ||
	    __atomic_load_n(&n->overdue_busy, __ATOMIC_ACQUIRE) != 0)
		goto out;
	__atomic_store_n(&n->overdue_busy, 1, __ATOMIC_RELEASE);
	if (writer_submit(d->writer, overdue_apply, overdue_done, job) != 0) {
		__atomic_store_n(&n->overdue_busy, 0, __ATOMIC_RELEASE);
		goto out;
	}
	job = NULL;
out:
	free(told);
	free(job);
	json_decref(items);
}

/* ---- request.reminder ------------------------------------------------ */

/*
 * A reminder is an audit record ("request.reminder", actor brokerd),
 * written by the writer like every other fact and turned into the event
 * by the feed, like every other event.  So whether one is due is worked
 * out from the store alone: a request pending past remind_after whose
 * newest reminder record (if any) is remind_every old.  A restart neither
 * sends one again nor loses one that fell due while brokerd was down, and
 * the check is made again inside the write transaction, so two looks that
 * race cannot both write one.
 */

#define REMIND_BATCH 64 /* reminders written per look; more wait a tick */

/* When r was last reminded of (0: never), from the audit trail. */
static int
last_reminder(struct store_txn *t, const struct request *r, int64_t *at)
{
	struct audit_query q = { .action = "request.reminder", .limit = 1 };
	char id[24];
	json_t *a;
	int rc;

	*at = 0;
	req_id(r->serial, id);
	q.target = id;
	if ((a = json_array()) == NULL)
		return BRK_ERR_NOMEM;
	if ((rc = audit_search(t, &q, a)) == 0 && json_array_size(a) > 0)
		*at = json_integer_value(
		    json_object_get(json_array_get(a, 0), "ts"));
	json_decref(a);
	return rc;
}

/* Whether r is due a reminder at now; rc for read errors. */
static bool
reminder_due(const struct notify_config *cfg, struct store_txn *t,
    const struct request *r, int64_t now)
{
	int64_t last;

	if (r->state != ST_PENDING || now >= r->expires_at ||
	    now - r->created_at < cfg->remind_after)
		return false;
	if (last_reminder(t, r, &last) != 0)
		return false; /* unsure: the next look tries again */
	return last == 0 || now - last >= cfg->remind_every;
}

struct remind_job {
	struct notify *n;
	int64_t now;
	size_t count;
	uint64_t serials[REMIND_BATCH];
};

struct remind_scan {
	struct notify *n;
	struct store_txn *t;
	struct remind_job *job;
};

static int
remind_one(uint64_t serial, void *arg)
{
	struct remind_scan *rs = arg;
	struct request r;

	if (reqstore_load(rs->t, serial, &r) != 0 ||
	    !reminder_due(rs->n->cfg, rs->t, &r, rs->job->now))
		return 0;
	rs->job->serials[rs->job->count++] = serial;
	return rs->job->count == REMIND_BATCH;
}

/* The reminder's record: what the event needs, from the request. */
static int
append_reminder(struct store_txn *t, const struct request *r, int64_t now)
{
	struct approval_who who[APPROVALS_MAX];
	struct audit_event ev = { 0 };
	char until[TIMEFMT_LEN], id[24];
	json_t *details, *by;
	size_t n = 0, i;
	int rc;

	if ((by = json_array()) == NULL)
		return BRK_ERR_NOMEM;
	/* who approved already: they cannot count again, so are not told */
	if (approvals_who(t, r->serial, who, APPROVALS_MAX, &n) == 0)
		for (i = 0; i < n; i++)
			json_array_append_new(by, json_string(who[i].approver));
	time_rfc3339(r->expires_at, until);
	req_id(r->serial, id);
	details = json_pack("{s:s, s:s, s:I, s:s, s:{s:s, s:s, s:i, s:i, s:o}}",
	    "role", r->role, "rules", r->rules, "waited_s",
	    (json_int_t)(now - r->created_at), "pending_until", until,
	    "approvers", "groups", r->approver_groups, "users",
	    r->approver_users, "quorum", r->quorum, "approvals", r->approvals,
	    "approved_by", by);
	if (details == NULL)
		return BRK_ERR_NOMEM;
	ev.action = "request.reminder";
	ev.actor = "brokerd";
	ev.caller = r->caller;
	ev.target = id;
	ev.user = r->user;
	ev.resource = r->resource;
	ev.reason = r->reason[0] != '\0' ? r->reason : NULL;
	ev.details = details;
	rc = audit_append(t, now, &ev, NULL);
	json_decref(details);
	return rc;
}

/* On the writer thread: each request still due gets its record. */
static int
remind_apply(struct store_txn *t, void *arg)
{
	struct remind_job *job = arg;
	struct request r;
	size_t i;
	int rc;

	for (i = 0; i < job->count; i++) {
		if (reqstore_load(t, job->serials[i], &r) != 0 ||
		    !reminder_due(job->n->cfg, t, &r, job->now))
			continue;
		if ((rc = append_reminder(t, &r, job->now)) != 0)
			return rc;
	}
	return 0;
}

static void
remind_done(void *arg, int rc)
{
	struct remind_job *job = arg;

	if (rc != 0)
		log_warn(
		    "event=notify_reminder_failed error=%s", brk_strerror(rc));
	__atomic_store_n(&job->n->remind_busy, 0, __ATOMIC_RELEASE);
	free(job);
}

/* Requests pending longer than remind_after, each at most once every
 * remind_every: reminder records, for the feed to tell their approvers.
 * One batch with the writer at a time. */
static void
remind(
    struct notify *n, struct brokerd *d, struct store_txn **rtxn, int64_t now)
{
	struct remind_scan rs = { .n = n };
	struct remind_job *job = NULL;
	int rc;

	if (n->cfg->remind_after == 0 ||
	    __atomic_load_n(&n->remind_busy, __ATOMIC_ACQUIRE) != 0)
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return;
	job->n = n;
	job->now = now;
	rs.job = job;
	if (store_read_begin(d->store, rtxn) != 0)
		goto out;
	rs.t = *rtxn;
	rc = reqstore_by_state(rs.t, ST_PENDING, remind_one, &rs);
	store_read_end(*rtxn);
	if (rc != 0 || job->count == 0)
		goto out;
	__atomic_store_n(&n->remind_busy, 1, __ATOMIC_RELEASE);
	if (writer_submit(d->writer, remind_apply, remind_done, job) != 0) {
		__atomic_store_n(&n->remind_busy, 0, __ATOMIC_RELEASE);
		goto out;
	}
	job = NULL;
out:
	free(job);
}

void
notify_tick(struct brokerd *d, struct store_txn **rtxn)
{
	struct notify *n = d->notify;
	int64_t now = time_now();
	int64_t every;

	if (n == NULL)
		return;
	/* reminders are looked for as often as they may be due */
	every = n->cfg->remind_after < n->cfg->remind_every ?
	    n->cfg->remind_after :
	    n->cfg->remind_every;
	if (every > REVIEW_EVERY)
		every = REVIEW_EVERY;
	if (n->cfg->remind_after > 0 && now - n->last_remind >= every) {
		n->last_remind = now;
		remind(n, d, rtxn, now);
	}
	/* reviews as often as one may fall due (the test knob's due is
	 * seconds) */
	every = reviews_due_after() < REVIEW_EVERY ? reviews_due_after() :
						     REVIEW_EVERY;
	if (now - n->last_review < every)
		return;
	n->last_review = now;
	overdue_look(n, d, rtxn, now);
}

/* ---- stats and stop ------------------------------------------------- */

size_t
notify_stats(struct notify *n, struct notify_sink_stats *out, size_t max)
{
	struct nsink *s;
	size_t i;

	for (i = 0; n != NULL && i < n->nsinks && i < max; i++) {
		s = &n->sinks[i];
		pthread_mutex_lock(&s->q.lock);
		out[i] = (struct notify_sink_stats){ .sink = s->name,
			.queued = s->q.queued,
			.delivered = s->q.delivered,
			.failed = s->q.failed,
			.dropped = s->q.dropped,
			.retries = s->q.retries,
			.queue_len = s->q.len,
			.queue_max = s->q.max };
		pthread_mutex_unlock(&s->q.lock);
	}
	return i;
}

void
notify_event_counts(struct notify *n, uint64_t *made, uint64_t *matched)
{
	*made = n != NULL ? __atomic_load_n(&n->made, __ATOMIC_RELAXED) : 0;
	*matched = n != NULL ? __atomic_load_n(&n->matched, __ATOMIC_RELAXED) :
			       0;
}

void
notify_free(struct notify *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nsinks; i++)
		if (n->sinks[i].q.ring != NULL)
			nsink_stop(&n->sinks[i]);
	free(n->overdue);
	free(n);
}
