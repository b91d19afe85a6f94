/*
 * nqueue.c - events, the bounded queue of each sink, and the sinks' threads.
 *
 * Below both the notifier (notify.c), which pushes events, and the sinks
 * (notify_exec.c, notify_webhook.c), which pop and deliver them: neither
 * calls into the other.  A full ring drops its oldest event and counts it,
 * so the feed thread never waits for a hook.
 */
#include "notify_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int64_t
notify_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- events --------------------------------------------------------- */

struct nevent *
nevent_new(const char *name, const char *json, size_t len)
{
	struct nevent *e = malloc(sizeof(*e) + len + 1);

	if (e == NULL)
		return NULL;
	e->refs = 1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->len = len;
	memcpy(e->json, json, len);
	e->json[len] = '\0';
	return e;
}

void
nevent_ref(struct nevent *e)
{
	__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
}

void
nevent_put(struct nevent *e)
{
	if (e != NULL && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(e);
}

/* ---- queues --------------------------------------------------------- */

int
nqueue_init(struct nqueue *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	if ((q->ring = calloc(max, sizeof(*q->ring))) == NULL)
		return BRK_ERR_NOMEM;
	q->max = max;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	return 0;
}

void
nqueue_push(struct nqueue *q, struct nevent *e)
{
	struct nevent *old = NULL;

	nevent_ref(e);
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		q->dropped++;
		old = e;
	} else {
		if (q->len == q->max) { /* drop the oldest */
			old = q->ring[q->head];
			q->head = (q->head + 1) % q->max;
			q->len--;
			q->dropped++;
		}
		q->ring[(q->head + q->len) % q->max] = e;
		q->len++;
		q->queued++;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	nevent_put(old);
}

/* The next event; NULL once stopping and empty or past the grace. */
static struct nevent *
nqueue_pop(struct nqueue *q)
{
	struct nevent *e = NULL;

	pthread_mutex_lock(&q->lock);
	while (q->len == 0 && !q->stopping)
		pthread_cond_wait(&q->cond, &q->lock);
	if (q->len > 0 && (!q->stopping || notify_mono_ms() < q->deadline_ms)) {
		e = q->ring[q->head];
		q->head = (q->head + 1) % q->max;
		q->len--;
	}
	pthread_mutex_unlock(&q->lock);
	return e;
}

bool
nqueue_should_stop(struct nqueue *q)
{
	bool stop;

	pthread_mutex_lock(&q->lock);
	stop = q->stopping && notify_mono_ms() >= q->deadline_ms;
	pthread_mutex_unlock(&q->lock);
	return stop;
}

bool
nqueue_sleep(struct nqueue *q, int64_t ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q->lock);
	while (!q->stopping &&
	    pthread_cond_timedwait(&q->cond, &q->lock, &until) == 0)
		;
	stop = q->stopping;
	pthread_mutex_unlock(&q->lock);
	return stop;
}

void
nqueue_count_retry(struct nqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->retries++;
	pthread_mutex_unlock(&q->lock);
}

static void *
sink_main(void *arg)
{
	struct nsink *s = arg;
	struct nevent *e;
	int rc;

	while ((e = nqueue_pop(&s->q)) != NULL) {
		rc = s->deliver(s, e);
		pthread_mutex_lock(&s->q.lock);
		if (rc == 0)
			s->q.delivered++;
		else
			s->q.failed++;
		pthread_mutex_unlock(&s->q.lock);
		nevent_put(e);
	}
	return NULL;
}

void
nsink_stop(struct nsink *s)
{
	size_t i, left;

	pthread_mutex_lock(&s->q.lock);
	s->q.stopping = true;
	s->q.deadline_ms = notify_mono_ms() + NOTIFY_DRAIN_MS;
	pthread_cond_broadcast(&s->q.cond);
	pthread_mutex_unlock(&s->q.lock);
	for (i = 0; i < s->started; i++)
		pthread_join(s->threads[i], NULL);
	left = s->q.len;
	for (i = 0; i < s->q.len; i++)
		nevent_put(s->q.ring[(s->q.head + i) % s->q.max]);
	s->q.dropped += left;
	s->q.len = 0;
	if (left > 0)
		log_warn(
		    "event=notify_stop sink=%s dropped=%zu", s->name, left);
	if (s->fini != NULL)
		s->fini(s);
	free(s->threads);
	free(s->q.ring);
	pthread_mutex_destroy(&s->q.lock);
	pthread_cond_destroy(&s->q.cond);
}

int
nsink_start(struct nsink *s, struct brk_error *err)
{
	if ((s->threads = calloc(s->nthreads, sizeof(*s->threads))) == NULL)
		return BRK_ERR_NOMEM;
	for (s->started = 0; s->started < s->nthreads; s->started++)
		if (pthread_create(
			&s->threads[s->started], NULL, sink_main, s) != 0)
			return brk_error_set(err, BRK_ERR_INTERNAL,
			    "notify: "
			    "cannot start the %s threads",
			    s->name);
	return 0;
}
