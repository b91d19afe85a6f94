/*
 * credkind.h - the credential a grant carries, chosen by its resource's
 * kind.
 *
 * Each kind is one small struct of functions in a file of its own
 * (credkind_host.c: OpenSSH certificates; pgrole.c: PostgreSQL login
 * roles; credkind_exec.c: a site's program, for the resources the
 * config's credentials.exec patterns name) and one entry in the table of
 * credkind.c.  A resource no entry names carries no credential: the grant
 * is still a decision that `check` and PAM use.
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
	char role[REC_NAME];
	uint64_t serial;
	int64_t expires_at;
};

enum cred_event {
	CRED_ISSUED,
	CRED_ENDED
};

/*
 * Called once for every credential a reconciler made or ended (its name
 * only, never a secret).
 */
typedef void (*cred_event_fn)(void *arg, enum cred_event ev,
    const char *resource, const char *user, const char *credname);

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
	 * Bring what exists outside in step with the grants in force,
	 * live[0..n): end every credential of this kind whose grant is not
	 * among them (after revoke, expiry, freeze, a block or a crash), and
	 * make the ones a kind makes on activation where missing (a grant
	 * approved or started while nobody asked, or one whose issue a crash
	 * or an outage cut short).  NULL: nothing outlives the grant.
	 */
	int (*reconcile)(struct brokerd *d, const struct cred_live *live,
	    size_t n, cred_event_fn event, void *arg);
	/*
	 * The name of grant r's credential, for the audit (a role name);
	 * NULL when the kind's credentials are audited elsewhere (the
	 * certificates) or not at all.
	 */
	void (*credname)(const struct request *r, char *buf, size_t len);
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
    cred_event_fn event, void *earg);

/*
 * The kind of resource; never NULL (the "none" kind at worst).  host: and
 * db: have kinds of their own; the config's credentials.exec patterns
 * (d->cfg) may give the rest one.
 */
const struct cred_kind *
cred_kind_for(const struct brokerd *d, const char *resource);

/* Whether resource carries a credential at all. */
bool cred_kind_any(const struct brokerd *d, const char *resource);

/*
 * The test knob BROKER_CRED_UNSAFE_CRASH=before-issue|after-issue: kill
 * brokerd with SIGKILL at that point of issuing an outside credential
 * (after the grant's commit, before or after the role exists), so that a
 * test can prove the reconciler repairs it.  Never set in production.
 */
void cred_crash_point(const char *where);

/* The kinds of the table (one file each). */
extern const struct cred_kind cred_kind_host;
extern const struct cred_kind cred_kind_pg;
extern const struct cred_kind cred_kind_exec;

/* Whether a credentials.exec pattern names resource (credkind_exec.c). */
bool cred_exec_matches(const struct brokerd *d, const char *resource);

#endif
