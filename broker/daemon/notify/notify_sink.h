/*
 * notify_sink.h - inside notify: events, the bounded queue, and the sinks.
 *
 * An event is serialised once and shared by reference between the sinks'
 * queues.  A queue holds at most max events; pushing into a full queue
 * drops the oldest (counted), so the feed thread never waits.  Each sink
 * has its threads (notify.c runs them) that pop and call deliver().
 * Internal to notify*.c.
 */
#ifndef BRK_NOTIFY_SINK_H
#define BRK_NOTIFY_SINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify.h"

/* Grace given to queued events when the daemon stops. */
#define NOTIFY_DRAIN_MS 1000

struct nevent {
	int refs;      /* atomic */
	char name[64]; /* "request.created" */
	size_t len;
	char json[]; /* compact JSON, NUL-terminated */
};

/* A new event holding a copy of json; NULL when out of memory. */
struct nevent *nevent_new(const char *name, const char *json, size_t len);
void nevent_ref(struct nevent *e);
void nevent_put(struct nevent *e); /* NULL is fine */

struct nqueue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct nevent **ring;
	size_t max, head, len;
	bool stopping;
	int64_t deadline_ms; /* when stopping: give up after (mono) */
	uint64_t queued, dropped, delivered, failed, retries;
};

struct nsink {
	const char *name; /* "exec", "webhook" */
	struct nqueue q;
	/* Deliver one event; 0 when delivered.  Runs on the sink's threads
	 * and may take long, but must honour nqueue_should_stop(). */
	int (*deliver)(struct nsink *s, const struct nevent *ev);
	void (*fini)(struct nsink *s); /* after the threads ended */
	const void *cfg;	       /* struct notify_{exec,webhook}_config */
	void *impl;
	pthread_t *threads;
	size_t nthreads, started;
};

/* Milliseconds on the monotonic clock. */
int64_t notify_mono_ms(void);

/* Whether the sink is stopping and its grace has passed. */
bool nqueue_should_stop(struct nqueue *q);
/* Sleep up to ms; returns true at once when the sink is stopping. */
bool nqueue_sleep(struct nqueue *q, int64_t ms);
/* Count one more attempt after a first (webhook retries). */
void nqueue_count_retry(struct nqueue *q);

/*
 * What a sink registers with the notifier: its name, where its section is
 * in the config (NULL: not configured), the size of its queue, and how to
 * set a sink up (deliver, fini, threads) from that section.  The notifier
 * makes the queue and starts the threads (nsink_start()).
 */
struct nsink_kind {
	const char *name;
	const void *(*section)(const struct notify_config *c);
	size_t (*queue_max)(const void *section);
	int (*init)(struct nsink *s, const void *section);
};

/* The queue of a sink, empty, holding at most max events. */
int nqueue_init(struct nqueue *q, size_t max);
/* Push e (a reference is taken); a full queue drops its oldest. */
void nqueue_push(struct nqueue *q, struct nevent *e);
/* Start s's threads (s->nthreads of them), each popping and delivering. */
int nsink_start(struct nsink *s, struct brk_error *err);
/* Stop a sink: grace for what is queued, then drop the rest (counted). */
void nsink_stop(struct nsink *s);
/* Check a webhook URL: https://, or http:// to a loopback address only. */
int nsink_webhook_url_ok(const char *url, struct brk_error *err);

#endif
