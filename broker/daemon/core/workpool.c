/*
 * workpool.c - a fixed set of threads over one FIFO queue.
 *
 * Work never gets lost: if a job cannot be queued it runs where it was
 * submitted, which is slower but keeps every call answered.
 */
#include "workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "errors.h"

struct job {
	workpool_fn fn;
	void *arg;
	struct job *next;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	bool stopping;
	size_t n;
	pthread_t threads[];
};

static void *
worker(void *arg)
{
	struct workpool *p = arg;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if ((j = p->head) == NULL) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
	}
}

int
workpool_new(size_t n, struct workpool **out)
{
	struct workpool *p;
	size_t i;

	*out = NULL;
	if (n < 1)
		n = 1;
	if ((p = calloc(1, sizeof(*p) + n * sizeof(pthread_t))) == NULL)
		return BRK_ERR_NOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->n++;
	}
	if (p->n == 0) {
		workpool_free(p);
		return BRK_ERR_INTERNAL;
	}
	*out = p;
	return 0;
}

void
workpool_free(struct workpool *p)
{
	size_t i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

void
workpool_submit(struct workpool *p, workpool_fn fn, void *arg)
{
	struct job *j;

	if (p == NULL || (j = calloc(1, sizeof(*j))) == NULL) {
		fn(arg);
		return;
	}
	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		fn(arg);
		return;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
