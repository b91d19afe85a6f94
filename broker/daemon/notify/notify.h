/*
 * notify.h - notifications: audit records turned into events for hooks.
 *
 * The audit feed (auditfeed.h) hands every committed audit record, in
 * order, to notify_on_record(), which maps it to zero, one or two events
 * (request.created, breakglass.used, freeze.on, ...; docs/notifications.md),
 * filters them by the configured globs and appends them to each sink's
 * bounded queue.  It never waits: a full queue drops its oldest event and
 * counts the drop.  Sinks deliver on threads of their own: "exec" runs a
 * program with the event on its standard input, "webhook" POSTs it over
 * HTTPS.  Delivery is at most once, best effort; a slow or failing sink
 * never blocks or slows a grant.
 */
#ifndef BRK_NOTIFY_H
#define BRK_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "errors.h"

struct brokerd;
struct auditfeed;
struct store_txn;
struct notify;

/* The "exec" sink: a program run without a shell. */
struct notify_exec_config {
	char **argv;	 /* NULL-terminated; argv[0] an absolute path */
	int timeout;	 /* seconds before the program is killed */
	int concurrency; /* programs running at once */
	int queue;	 /* events waiting, at most */
};

/* The "webhook" sink: POST application/json to url. */
struct notify_webhook_config {
	char *url;    /* https://, or http:// to a loopback address */
	char *ca;     /* PEM CA file; NULL: the system's */
	char *header; /* "Name: value" from header_file; a secret */
	int timeout;  /* seconds per attempt */
	int retries;  /* attempts after the first */
	int queue;    /* events waiting, at most */
};

/* The config's "notify" section. */
struct notify_config {
	struct notify_exec_config *exec;       /* NULL when absent */
	struct notify_webhook_config *webhook; /* NULL when absent */
	char **events; /* fnmatch globs; NULL: every event */
	size_t nevents;
	char *link;	      /* "link": a URL template with {id}; NULL */
	int64_t remind_after; /* seconds a request waits before reminders
				 * (default 15 min; 0: none) */
	int64_t remind_every; /* seconds between reminders of one request
				 * (default 1 h) */
};

/*
 * Parse the "notify" section, strictly (unknown keys and wrong types are
 * errors naming the key).  Reads webhook.header_file, which must be a
 * regular file of ours that no one else may read (0600).  Returns 0 and
 * sets *out (notify_config_free()), else BRK_ERR_INVALID, BRK_ERR_PERM,
 * BRK_ERR_IO or BRK_ERR_NOMEM with err filled.
 */
int notify_config_parse(
    json_t *section, struct notify_config **out, struct brk_error *err);

/* Free a parsed section, wiping the header secret; NULL is fine. */
void notify_config_free(struct notify_config *c);

/*
 * A kind of sink (notify_sink.h says what is in it).  The notifier knows
 * the sinks only through the kinds it is given; these are the two there
 * are, for main.c to hand over.
 */
struct nsink_kind;
extern const struct nsink_kind nsink_exec_kind;	   /* notify_exec.c */
extern const struct nsink_kind nsink_webhook_kind; /* notify_webhook.c */

/*
 * Start the sinks' threads for cfg (borrowed: it must outlive n): one sink
 * for each of the nkinds kinds whose section cfg has.  With cfg NULL, *out
 * is NULL and 0 is returned: notifications are off and every other
 * notify_* function accepts the NULL.
 * Errors: BRK_ERR_NOMEM, BRK_ERR_INTERNAL (thread or libcurl start-up),
 * BRK_ERR_TOOBIG (more kinds than NOTIFY_MAX_SINKS).
 */
#define NOTIFY_MAX_SINKS 4
int notify_new(const struct notify_config *cfg,
    const struct nsink_kind *const *kinds, size_t nkinds, struct notify **out,
    struct brk_error *err);

/* Subscribe n to the feed; call before auditfeed_start(). */
int notify_subscribe(struct notify *n, struct auditfeed *f);

/*
 * The feed callback: map one audit record to events and queue them.
 * Never blocks on a sink; thread-safe.  arg is the struct notify.
 */
void notify_on_record(const json_t *record, void *arg);

/*
 * Periodic work from ops_tick() on the I/O thread, on the cluster's
 * leader: once a minute, has the writer record review.overdue for each
 * break-glass review that became overdue and has no such record yet (once
 * per item, across restarts and leader takeovers), and request.reminder
 * for requests due one.  rtxn is the I/O thread's reusable read
 * transaction.
 */
void notify_tick(struct brokerd *d, struct store_txn **rtxn);

/*
 * The events one audit record stands for, as a new array of event
 * objects (empty for records that notify nothing); NULL when out of
 * memory.  Pure: used by notify_on_record() and by tests.
 */
json_t *notify_map(const json_t *record);

/* Per-sink counters, for metrics. */
struct notify_sink_stats {
	const char *sink;   /* "exec" or "webhook" */
	uint64_t queued;    /* events accepted into the queue */
	uint64_t delivered; /* exit status 0 / HTTP 2xx */
	uint64_t failed;    /* given up on (after retries) */
	uint64_t dropped;   /* pushed out of a full queue, or at stop */
	uint64_t retries;   /* webhook attempts after a first */
	size_t queue_len;   /* waiting now */
	size_t queue_max;
};

/* Up to max sinks' counters into out; returns how many.  0 for NULL. */
size_t
notify_stats(struct notify *n, struct notify_sink_stats *out, size_t max);

/* Events made from the feed (before filtering), and after filtering. */
void notify_event_counts(struct notify *n, uint64_t *made, uint64_t *matched);

/*
 * Stop: no more events are accepted, the sinks get about a second to
 * deliver what is queued (programs still running then are killed, a
 * webhook transfer is aborted), what is left is dropped and counted.
 * Call after the feed has stopped.  NULL is fine.
 */
void notify_free(struct notify *n);

/* Lets the notifier read the store and the identity sources (who is in
 * an approver group) for the events it enriches; before the feed starts. */
void notify_bind(struct notify *n, struct brokerd *d);

#endif
