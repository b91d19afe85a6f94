/*
 * auditfeed.h - follow the audit trail and hand each new record, in seq
 * order and only once it is committed, to subscribers (the syslog mirror,
 * notification sinks).
 *
 * One thread per feed.  It starts from the chain head at auditfeed_start()
 * (records written before are not delivered), wakes every 150 ms or when
 * auditfeed_wake() is called, reads the new records in a read transaction,
 * ends the transaction, then calls every subscriber for each record, oldest
 * first.  Subscribers run on the feed's thread, one record at a time: a slow
 * subscriber delays the feed, never the broker (writes and replies do not
 * wait for it).
 */
#ifndef BRK_AUDITFEED_H
#define BRK_AUDITFEED_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

struct auditfeed;

/* Called with each record (a JSON object, borrowed for the call only). */
typedef void (*auditfeed_fn)(const json_t *record, void *arg);

/* A new feed over s (not started).  Errors: BRK_ERR_NOMEM. */
int auditfeed_new(struct store *s, struct auditfeed **out);

/* Add a subscriber; only before auditfeed_start().  Errors: BRK_ERR_STATE
 * (already started), BRK_ERR_TOOBIG (too many), BRK_ERR_INVALID. */
int auditfeed_subscribe(struct auditfeed *f, auditfeed_fn fn, void *arg);

/*
 * Make f a cluster feed: it delivers only while this broker leads the
 * brokers sharing the store (store_leader(); the feed's thread polls it),
 * and keeps its position in the store as mark `name` after each batch, so
 * that the next leader resumes there: across a failover a record is
 * delivered at least once (twice when the leader died between delivering
 * a batch and marking it).  With LMDB it is an ordinary feed.  Only before
 * auditfeed_start(); name is borrowed for f's life.  Errors: BRK_ERR_STATE,
 * BRK_ERR_INVALID.
 */
int auditfeed_cluster(struct auditfeed *f, const char *name);
/* Whether a subscriber would use records now (called on the feed's thread
 * before each read).  When no subscriber wants them the feed skips the
 * records committed meanwhile without reading or parsing them. */
typedef bool (*auditfeed_wants_fn)(void *arg);

/* auditfeed_subscribe() with a wants predicate (NULL: always). */
int auditfeed_subscribe_when(
    struct auditfeed *f, auditfeed_fn fn, auditfeed_wants_fn wants, void *arg);

/* Remember the head and start the thread.  Errors: BRK_ERR_STATE (started
 * twice), store errors, BRK_ERR_INTERNAL (no thread). */
int auditfeed_start(struct auditfeed *f);

/* Ask the thread to look now (e.g. after a commit); thread-safe; NULL is
 * fine. */
void auditfeed_wake(struct auditfeed *f);

/* Stop the thread (after it delivers what it has read) and free; NULL is
 * fine.  Call before store_free(). */
void auditfeed_free(struct auditfeed *f);

/* A subscriber: one line per record to syslog (authpriv, info),
 * "audit seq=.. ts=.. action=.. actor=.. ..." with values escaped.
 * syslog(3) failing (no daemon) is ignored.  arg is unused. */
void auditfeed_syslog(const json_t *record, void *arg);

/* auditfeed_syslog()'s predicate: whether a syslog daemon is listening
 * (looked at at most once a second).  arg is unused. */
bool auditfeed_syslog_wants(void *arg);

/* The key=value text auditfeed_syslog() sends, into buf (always
 * NUL-terminated, truncated to len); for tests. */
void auditfeed_format(const json_t *record, char *buf, size_t len);

#endif
