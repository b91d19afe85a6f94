/*
 * auditfeed.c - a thread that follows the audit trail for subscribers.
 *
 * It keeps only the last seq it delivered.  Records are read in short read
 * transactions (at most BATCH at a time, parsed into JSON) and delivered
 * after the transaction has ended, so a slow subscriber never pins an old
 * snapshot of the store.  After a prune the feed skips what is gone.
 */
#include "auditfeed.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "timefmt.h"

#define MAX_SUBS 16
#define BATCH 1000
#define PERIOD_MS 150

struct auditfeed {
	struct store *store;
	struct {
		auditfeed_fn fn;
		auditfeed_wants_fn wants; /* NULL: always */
		void *arg;
	} subs[MAX_SUBS];
	size_t nsubs;
	uint64_t last;	  /* last seq delivered */
	const char *mark; /* a cluster feed's mark, else NULL */
	bool leading;	  /* a cluster feed: led at the last look */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, stop, woken; /* guarded by lock */
};

int
auditfeed_new(struct store *s, struct auditfeed **out)
{
	struct auditfeed *f;

	*out = NULL;
	if (s == NULL)
		return BRK_ERR_INVALID;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return BRK_ERR_NOMEM;
	f->store = s;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	*out = f;
	return 0;
}

int
auditfeed_subscribe_when(
    struct auditfeed *f, auditfeed_fn fn, auditfeed_wants_fn wants, void *arg)
{
	if (f == NULL || fn == NULL)
		return BRK_ERR_INVALID;
	if (f->started)
		return BRK_ERR_STATE;
	if (f->nsubs >= MAX_SUBS)
		return BRK_ERR_TOOBIG;
	f->subs[f->nsubs].fn = fn;
	f->subs[f->nsubs].wants = wants;
	f->subs[f->nsubs].arg = arg;
	f->nsubs++;
	return 0;
}

static int read_batch(struct auditfeed *f, json_t **out);

int
auditfeed_cluster(struct auditfeed *f, const char *name)
{
	if (f == NULL || name == NULL)
		return BRK_ERR_INVALID;
	if (f->started)
		return BRK_ERR_STATE;
	f->mark = name;
	return 0;
}

/*
 * A cluster feed: whether to deliver now.  On becoming the leader, start
 * after what the last leader marked (records it did not deliver before it
 * died are delivered here; without a mark, from where this feed stood).
 */
static bool
may_deliver(struct auditfeed *f)
{
	uint64_t m;
	bool lead;

	if (f->mark == NULL)
		return true;
	store_leader_poll(f->store);
	lead = store_leader(f->store);
	if (lead && !f->leading) {
		if (store_mark_get(f->store, f->mark, &m) == 0)
			f->last = m;
		log_info("event=auditfeed_lead feed=%s from_seq=%llu", f->mark,
		    (unsigned long long)f->last);
	}
	f->leading = lead;
	return lead;
}

/* Deliver what is there, in batches; a cluster feed marks each. */
static void
deliver_all(struct auditfeed *f)
{
	json_t *batch, *rec;
	size_t i, j;
	int r;

	while ((r = read_batch(f, &batch)) >= 0) {
		json_array_foreach (batch, i, rec)
			for (j = 0; j < f->nsubs; j++)
				f->subs[j].fn(rec, f->subs[j].arg);
		json_decref(batch);
		if (f->mark != NULL &&
		    store_mark_put(f->store, f->mark, f->last) != 0)
			log_warn("event=auditfeed_mark_failed feed=%s seq=%llu",
			    f->mark, (unsigned long long)f->last);
		if (r == 0)
			break;
	}
	if (r < 0)
		log_warn("event=auditfeed_read_failed error=\"%s\"",
		    brk_strerror(r));
}

int
auditfeed_subscribe(struct auditfeed *f, auditfeed_fn fn, void *arg)
{
	return auditfeed_subscribe_when(f, fn, NULL, arg);
}

/* Would any subscriber use the records read now?  Parsing a record costs
 * more than writing it, and the feed runs for every grant. */
static bool
any_wanted(struct auditfeed *f)
{
	size_t j;

	for (j = 0; j < f->nsubs; j++)
		if (f->subs[j].wants == NULL ||
		    f->subs[j].wants(f->subs[j].arg))
			return true;
	return false;
}

/* Read up to BATCH records after f->last into a new array. */
static int
read_batch(struct auditfeed *f, json_t **out)
{
	struct store_txn *t = NULL;
	json_t *a = NULL;
	uint64_t last = 0;
	bool more = false;
	size_t i;
	json_t *s, *rec;
	int r;

	*out = NULL;
	if ((a = json_array()) == NULL)
		return BRK_ERR_NOMEM;
	if ((r = store_begin(f->store, false, &t)) != 0)
		goto out;
	if (!any_wanted(f)) {
		/* nobody listens: move to the head, as if each record had been
		 * handed to subscribers that dropped it */
		char hash[65];

		r = audit_head(t, &last, hash);
		store_abort(t);
		if (r != 0)
			goto out;
		if (last > f->last)
			f->last = last;
		*out = a;
		a = NULL;
		r = 0;
		goto out;
	}
	r = audit_export(t, f->last, BATCH, (size_t)64 << 20, a, &last, &more);
	store_abort(t);
	if (r != 0)
		goto out;
	/* turn the stored texts into objects */
	json_array_foreach (a, i, s) {
		rec = json_loadb(
		    json_string_value(s), json_string_length(s), 0, NULL);
		if (rec == NULL)
			rec = json_pack("{s:s}", "error", "unreadable record");
		json_array_set_new(a, i, rec != NULL ? rec : json_null());
	}
	f->last = last;
	*out = a;
	a = NULL;
	r = more ? 1 : 0;
out:
	json_decref(a);
	return r;
}

static void *
feed_main(void *arg)
{
	struct auditfeed *f = arg;
	struct timespec ts;
	bool stop = false;

	while (!stop) {
		/* the leader's poll runs here even with no subscriber:
		 * ops_tick() asks store_leader() too */
		if (may_deliver(f) && f->nsubs > 0)
			deliver_all(f);
		pthread_mutex_lock(&f->lock);
		if (!f->stop && !f->woken) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += PERIOD_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&f->cond, &f->lock, &ts);
		}
		f->woken = false;
		stop = f->stop;
		pthread_mutex_unlock(&f->lock);
	}
	/* deliver what was committed before the stop */
	if (f->mark == NULL || f->leading)
		deliver_all(f);
	return NULL;
}

int
auditfeed_start(struct auditfeed *f)
{
	struct store_txn *t = NULL;
	char hash[65];
	int r;

	if (f == NULL)
		return BRK_ERR_INVALID;
	if (f->started)
		return BRK_ERR_STATE;
	if ((r = store_begin(f->store, false, &t)) != 0)
		return r;
	r = audit_head(t, &f->last, hash);
	store_abort(t);
	if (r != 0)
		return r;
	if (pthread_create(&f->thread, NULL, feed_main, f) != 0)
		return BRK_ERR_INTERNAL;
	f->started = true;
	return 0;
}

void
auditfeed_wake(struct auditfeed *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->woken = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

void
auditfeed_free(struct auditfeed *f)
{
	if (f == NULL)
		return;
	if (f->started) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_cond_signal(&f->cond);
		pthread_mutex_unlock(&f->lock);
		pthread_join(f->thread, NULL);
	}
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* --- the syslog mirror ------------------------------------------------ */

struct out {
	char *p;
	size_t len, used;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->used + n >= o->len)
		n = o->len - 1 - o->used;
	memcpy(o->p + o->used, s, n);
	o->used += n;
	o->p[o->used] = '\0';
}

/* A value: bare when it is plain, else quoted with \" \\ \n \xNN. */
static void
put_value(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	bool plain = *p != '\0';
	char esc[8];

	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') ||
			strchr("._:@/+-,*", *p) != NULL))
			plain = false;
	if (plain) {
		put(o, s, strlen(s));
		return;
	}
	put(o, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(o, esc, 2);
		} else if (*p == '\n')
			put(o, "\\n", 2);
		else if (*p < 0x20 || *p == 0x7f ||
		    (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			/* C0 and C1 controls (U+0080..U+009F) */
			if (*p == 0xc2) {
				snprintf(esc, sizeof(esc), "\\x%02x", p[1]);
				p++;
			} else
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
			put(o, esc, strlen(esc));
		} else
			put(o, (const char *)p, 1);
	}
	put(o, "\"", 1);
}

void
auditfeed_format(const json_t *record, char *buf, size_t len)
{
	static const char *const keys[] = { "action", "actor", "caller",
		"target", "user", "resource", "reason", "hash", NULL };
	struct out o = { buf, len, 0 };
	char num[32], ts[TIMEFMT_LEN];
	const char *s;
	size_t i;

	if (len == 0)
		return;
	buf[0] = '\0';
	snprintf(num, sizeof(num), "audit seq=%lld",
	    (long long)json_integer_value(json_object_get(record, "seq")));
	put(&o, num, strlen(num));
	time_rfc3339(
	    (int64_t)json_integer_value(json_object_get(record, "ts")), ts);
	put(&o, " ts=", 4);
	put(&o, ts, strlen(ts));
	for (i = 0; keys[i] != NULL; i++) {
		if ((s = json_string_value(json_object_get(record, keys[i]))) ==
		    NULL)
			continue;
		put(&o, " ", 1);
		put(&o, keys[i], strlen(keys[i]));
		put(&o, "=", 1);
		put_value(&o, s);
	}
}

/*
 * With no syslog daemon listening, syslog(3) tries to connect again on
 * every call, which under load costs more than the record itself: look for
 * its socket at most once a second.  Only the feed thread calls this.
 */
static bool
syslog_listening(void)
{
	static time_t checked_at;
	static bool listening;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (checked_at == 0 || now.tv_sec != checked_at) {
		listening = access(_PATH_LOG, W_OK) == 0;
		checked_at = now.tv_sec;
	}
	return listening;
}

bool
auditfeed_syslog_wants(void *arg)
{
	(void)arg;
	return syslog_listening();
}

void
auditfeed_syslog(const json_t *record, void *arg)
{
	char line[2048];

	if (!syslog_listening())
		return;
	auditfeed_format(record, line, sizeof(line));
	syslog(LOG_AUTHPRIV | LOG_INFO, "%s", line);
}
