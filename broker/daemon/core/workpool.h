/*
 * workpool.h - a few threads for CPU work that must not run on the I/O or
 * writer threads: signing certificates and building replies.
 */
#ifndef BRK_WORKPOOL_H
#define BRK_WORKPOOL_H

#include <stddef.h>

struct workpool;

typedef void (*workpool_fn)(void *arg);

/* Start n threads (at least 1). */
int workpool_new(size_t n, struct workpool **out);

/* Finish queued work, stop the threads; NULL is fine. */
void workpool_free(struct workpool *p);

/* Queue fn(arg); thread-safe.  When the pool is gone or memory is short,
 * runs fn(arg) on the caller's thread rather than dropping it. */
void workpool_submit(struct workpool *p, workpool_fn fn, void *arg);

#endif
