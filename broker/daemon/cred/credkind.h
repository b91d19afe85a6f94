/*
 * credkind.h - the credential a grant carries, chosen by its resource's
 * kind.
 *
 * Each kind is one small struct of functions in a file of its own
 * (credkind_host.c: OpenSSH certificates; pgrole.c: PostgreSQL login
 * roles) and one entry in the table of credkind.c.  A resource no entry
 * names carries no credential: the grant is still a decision that `check`
 * and PAM use.
 */
#ifndef BRK_CREDKIND_H
#define BRK_CREDKIND_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon.h"
#include "record.h"
#include "sshkey.h"

/* A grant in force, as the reconcilers see it. */
struct cred_live {
	char resource[REC_RESOURCE];
	char user[REC_NAME];
	uint64_t serial;
};

/* Called once for every credential a reconciler ended (name only). */
typedef void (*cred_ended_fn)(
    void *arg, const char *resource, const char *user, const char *credname);

struct cred_kind {
	const char *name;   /* "ssh-cert", "postgres", "none" */
	const char *prefix; /* resource prefix, "host:" */
	/*
	 * Whether issue may run while the grant's transaction commits: only
	 * when it changes nothing outside the broker (a signature does; a
	 * database role would outlive a grant that never committed).
	 */
	bool early;
	/*
	 * Issue the credential of active grant r into reply (a certificate
	 * "cert", a database login "db"; nothing when key is needed and
	 * absent).  BRK_ERR_UNREACHABLE when the far side cannot be reached:
	 * the grant stands and reissue retries.  Runs on a worker thread.
	 */
	int (*issue)(struct brokerd *d, const struct request *r,
	    const struct sshkey *key, json_t *reply, struct brk_error *err);
	/* Issue again (rotate a password, sign a new certificate). */
	int (*reissue)(struct brokerd *d, const struct request *r,
	    const struct sshkey *key, json_t *reply, struct brk_error *err);
	/*
	 * End every credential of this kind whose grant is not among
	 * live[0..n) (after revoke, expiry, freeze, a block or a crash),
	 * calling ended for each.  NULL: nothing outlives the grant.
	 */
	int (*reconcile)(struct brokerd *d, const struct cred_live *live,
	    size_t n, cred_ended_fn ended, void *arg);
};

/*
 * Issue (again, when again) the credential of grant r into reply, by its
 * kind.  Kinds with a reconciler issue one at a time, never while a
 * reconcile runs: a role made for a grant the reconciler has not seen
 * would otherwise be ended as an orphan.
 */
int cred_issue(struct brokerd *d, const struct request *r,
    const struct sshkey *key, bool again, json_t *reply, struct brk_error *err);

/* Fills *live (malloc'd) with the grants in force now, from the store. */
typedef int (*cred_live_fn)(
    struct brokerd *d, void *arg, struct cred_live **live, size_t *n);

/*
 * Run every kind's reconciler against the grants load() reports, loaded
 * under the same lock as cred_issue().  A worker-thread job.
 */
int cred_reconcile(struct brokerd *d, cred_live_fn load, void *larg,
    cred_ended_fn ended, void *earg);

/* The kind of resource; never NULL (the "none" kind at worst). */
const struct cred_kind *cred_kind_for(const char *resource);

/* Whether resource carries a credential at all. */
bool cred_kind_any(const char *resource);

/* The kinds of the table (one file each). */
extern const struct cred_kind cred_kind_host;
extern const struct cred_kind cred_kind_pg;

#endif
