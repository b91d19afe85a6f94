/*
 * seed.c - fill a state directory with many grants and audit records, fast,
 * by writing the store directly (no daemon): the same reqstore_create() and
 * audit_append() the daemon uses, in large transactions.
 *
 *   seed STATE_DIR MAPSIZE_MB N ACTIVE PER_TXN
 *
 * Writes N grants (requests decided "auto" by rule staging-auto), each with
 * its "request.granted" audit record, spread over 10,000 users and 1,000
 * hosts, PER_TXN to a transaction but for the last 80,000 (TAIL_N below).
 * The last ACTIVE of them are still active (they end in 8 hours); the
 * others ended in the past and were recorded as expired, as in a store
 * that has been in use for a while.  STATE_DIR must exist with mode 0700.
 * Prints one line: grants=.. audit=.. seconds=.. per_s=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "record.h"
#include "reqstore.h"
#include "store.h"
#include "timefmt.h"

/*
 * The last TAIL_N grants are written TAIL_PER to a transaction, as the
 * daemon's group commit writes them.  A transaction frees every page it
 * copies, and LMDB writes the list of the free pages it has taken up for
 * reuse out again in every commit until they are used: the bulk's
 * 50,000-grant transactions leave a list of some 35,000 pages, which a
 * store the daemon filled never has, and the daemon's first ten or so
 * seconds on the store would measure LMDB using that list up (up to three
 * times the pages per commit) instead of the store's size.  The tail, as
 * the daemon's own traffic would have long before the store held a million
 * grants, brings the list down to some 5,000 pages.
 */
#define TAIL_N 80000
#define TAIL_PER 20

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
add_one(struct store_txn *t, long i, long n, long active, int64_t now)
{
	struct request r;
	json_t *details;
	char id[24];
	int rc;

	memset(&r, 0, sizeof(r));
	snprintf(r.user, sizeof(r.user), "u%ld", i % 10000);
	snprintf(r.caller, sizeof(r.caller), "%s", r.user);
	snprintf(r.resource, sizeof(r.resource), "host:web-%ld", i % 1000);
	snprintf(r.role, sizeof(r.role), "%s", r.user);
	snprintf(r.rules, sizeof(r.rules), "staging-auto");
	snprintf(r.rule, sizeof(r.rule), "staging-auto");
	snprintf(r.decision, sizeof(r.decision), "granted automatically by "
	    "rule staging-auto");
	snprintf(r.reason, sizeof(r.reason), "seeded grant %ld", i);
	r.policy_version = 1;
	r.automatic = true;
	r.ttl = 8 * 3600;
	if (i >= n - active) {
		r.state = ST_ACTIVE;
		r.created_at = now - 60;
	} else {		/* one grant every ~30 s over the past year */
		r.state = ST_EXPIRED;
		r.created_at = now - 2 * r.ttl - (n - i) * 30;
		r.ended_at = r.created_at + r.ttl;
	}
	r.decided_at = r.starts_at = r.created_at;
	r.expires_at = r.created_at + r.ttl;
	if ((rc = reqstore_create(t, &r)) != 0)
		return rc;
	req_id(r.serial, id);
	details = json_pack("{s:s, s:s, s:s, s:I, s:s}", "state", "active",
	    "role", r.role, "rules", r.rules, "ttl", (json_int_t)r.ttl,
	    "decision", r.decision);
	rc = audit_append(t, r.created_at, &(struct audit_event){
	    .action = "request.granted", .actor = r.user, .caller = r.caller,
	    .target = id, .user = r.user, .resource = r.resource,
	    .reason = r.reason, .details = details }, NULL);
	json_decref(details);
	return rc;
}

int
main(int argc, char **argv)
{
	struct brk_error err = { { 0 } };
	struct store *s = NULL;
	struct store_txn *t = NULL;
	long i, n, active, per, tail;
	int64_t now = time_now();
	double t0;
	int rc;

	if (argc != 6) {
		fprintf(stderr, "usage: seed STATE_DIR MAPSIZE_MB N ACTIVE "
		    "PER_TXN\n");
		return 2;
	}
	n = atol(argv[3]);
	active = atol(argv[4]);
	per = atol(argv[5]);
	if (n < 1 || active < 0 || active > n || per < 1)
		return 2;
	/* the bulk in PER_TXN transactions, the last TAIL_N (a quarter of a
	 * small store) as the daemon commits them */
	tail = n - (n / 4 < TAIL_N ? n / 4 : TAIL_N);
	if ((rc = store_open(argv[1], (uint64_t)atol(argv[2]) << 20, &s,
	    &err)) != 0) {
		fprintf(stderr, "seed: %s\n", err.msg[0] ? err.msg :
		    brk_strerror(rc));
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < n; i++) {
		if (t == NULL && (rc = store_begin(s, true, &t)) != 0)
			goto fail;
		if ((rc = add_one(t, i, n, active, now)) != 0)
			goto fail;
		if ((i >= tail ? (i + 1 - tail) % TAIL_PER :
				 (i + 1) % per) == 0 ||
		    i + 1 == tail || i + 1 == n) {
			rc = store_commit(t);
			t = NULL;
			if (rc != 0)
				goto fail;
		}
	}
	printf("grants=%ld active=%ld audit=%ld seconds=%.2f per_s=%.0f\n", n,
	    active, n, now_s() - t0, (double)n / (now_s() - t0));
	store_free(s);
	return 0;
fail:
	store_abort(t);
	fprintf(stderr, "seed: record %ld: %s\n", i, brk_strerror(rc));
	store_free(s);
	return 1;
}
