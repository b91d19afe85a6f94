/*
 * checkcache.h - op check's remembered answers (ops_query.c).
 *
 * On a store that several brokers write (PostgreSQL) a read transaction
 * per `check` costs a round trip or more, so a reply is kept, by user and
 * resource, with the store generation read before its reads began
 * (store.h) and the policy version it was decided by.  It answers again
 * only at that generation and version, before its `until` (the grant's
 * end or a scheduled start) and for CHECKCACHE_KEEP_MS at most (opt-out
 * windows and directory group changes end without a commit).  Any commit,
 * here or announced by another broker, moves the generation and so ends
 * every kept reply at once.
 *
 * One object per brokerd (struct brokerd.checks_kept), made at start-up and
 * freed after the last caller; its own lock, so any thread may call.
 * Times come from the caller (CLOCK_MONOTONIC ms, and time_now() seconds).
 */
#ifndef BRK_CHECKCACHE_H
#define BRK_CHECKCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define CHECKCACHE_SLOTS 1024
#define CHECKCACHE_KEEP_MS 2000

struct checkcache;

/* A new, empty table into *out (NULL on entry); BRK_ERR_NOMEM. */
int checkcache_new(struct checkcache **out);
/* Frees the table and every kept reply; NULL is fine. */
void checkcache_free(struct checkcache *cc);

/* A copy of the reply kept for user and resource that may still answer
 * at gen and policy, mono_ms and now, or NULL (also when cc is NULL);
 * *allowed is the kept outcome. */
json_t *checkcache_recall(struct checkcache *cc, uint64_t gen, uint64_t policy,
    const char *user, const char *resource, int64_t mono_ms, int64_t now,
    bool *allowed);

/* Keep a copy of reply o, made from reads begun at gen (never 0) and
 * mono_ms, true until until (time_now() seconds); replaces whatever the
 * slot held.  Out of memory keeps nothing. */
void checkcache_keep(struct checkcache *cc, uint64_t gen, uint64_t policy,
    int64_t mono_ms, int64_t until, const char *user, const char *resource,
    bool allowed, const json_t *o);

#endif
