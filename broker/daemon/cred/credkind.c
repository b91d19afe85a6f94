/*
 * credkind.c - which credential a resource's kind carries.  Adding a kind
 * is one file with its struct cred_kind and one line in the table below.
 */
#include "credkind.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* issue vs reconcile, for kinds whose credentials live outside */
static pthread_mutex_t reconcile_lock = PTHREAD_MUTEX_INITIALIZER;

static int
none_issue(struct brokerd *d, const struct request *r, const struct sshkey *key,
    json_t *reply, struct brk_error *err)
{
	return 0;
}

/* k8s:, app: and the rest: the grant is the whole answer */
static const struct cred_kind cred_kind_none = {
	.name = "none",
	.prefix = "",
	.early = true,
	.issue = none_issue,
	.reissue = none_issue,
	.reconcile = NULL,
	.credname = NULL,
};

/* Fixed prefixes first: a credentials.exec pattern never takes host: or
 * db: from their kinds (the config refuses such patterns too). */
static const struct cred_kind *const table[] = {
	&cred_kind_host,
	&cred_kind_pg,
	&cred_kind_exec, /* prefix "": cred_exec_matches() decides */
	NULL,
};

const struct cred_kind *
cred_kind_for(const struct brokerd *d, const char *resource)
{
	size_t i;

	for (i = 0; resource != NULL && table[i] != NULL; i++) {
		if (strncmp(resource, table[i]->prefix,
			strlen(table[i]->prefix)) != 0)
			continue;
		if (table[i] == &cred_kind_exec &&
		    !cred_exec_matches(d, resource))
			continue;
		return table[i];
	}
	return &cred_kind_none;
}

bool
cred_kind_any(const struct brokerd *d, const char *resource)
{
	return cred_kind_for(d, resource) != &cred_kind_none;
}

void
cred_crash_point(const char *where)
{
	const char *knob = getenv("BROKER_CRED_UNSAFE_CRASH");

	if (knob == NULL || strcmp(knob, where) != 0)
		return;
	log_warn("event=cred_unsafe_crash at=%s why=\"test knob "
		 "BROKER_CRED_UNSAFE_CRASH\"",
	    where);
	raise(SIGKILL);
}

int
cred_issue(struct brokerd *d, const struct request *r, const struct sshkey *key,
    bool again, json_t *reply, struct brk_error *err)
{
	const struct cred_kind *k = cred_kind_for(d, r->resource);
	int rc;

	if (k->reconcile == NULL)
		return (again ? k->reissue : k->issue)(d, r, key, reply, err);
	pthread_mutex_lock(&reconcile_lock);
	cred_crash_point("before-issue");
	rc = (again ? k->reissue : k->issue)(d, r, key, reply, err);
	if (rc == 0)
		cred_crash_point("after-issue");
	pthread_mutex_unlock(&reconcile_lock);
	return rc;
}

int
cred_reconcile(struct brokerd *d, cred_live_fn load, void *larg,
    cred_event_fn event, void *earg)
{
	struct cred_live *live = NULL;
	size_t n = 0, i;
	int rc;

	pthread_mutex_lock(&reconcile_lock);
	if ((rc = load(d, larg, &live, &n)) != 0)
		goto out;
	for (i = 0; table[i] != NULL; i++)
		if (table[i]->reconcile != NULL)
			table[i]->reconcile(d, live, n, event, earg);
out:
	pthread_mutex_unlock(&reconcile_lock);
	free(live);
	return rc;
}
