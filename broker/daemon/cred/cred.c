/*
 * cred.c - certificates for grants.  Runs on worker threads (and on the I/O
 * thread for `cert`): signing goes to the CA signer process (ca_sign()).
 */
#include "cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sshbuf.h"
#include "sshcert.h"

#define PUBKEY_MAX (16 * 1024)

int
cred_arg_pubkey(const json_t *args, struct sshkey **key, struct brk_error *err)
{
	const char *text = NULL;
	int r;

	*key = NULL;
	r = proto_arg_str(args, "pubkey", false, PUBKEY_MAX, &text, err);
	if (r == BRK_ERR_NOTFOUND)
		return 0;
	if (r != 0)
		return r;
	if ((r = sshkey_parse(text, strlen(text), key, err)) != 0)
		return r == BRK_ERR_UNSUPPORTED ? r : BRK_ERR_INVALID;
	return 0;
}

/* A certificate's parameters; sp points into the struct, which stays put. */
struct cert_args {
	const char *exts[8], *principals[1];
	char key_id[128];
	struct sshcert_params sp;
};

/*
 * The certificate's restrictions come from the grant record, where the
 * decision fixed them: a policy edit after the decision changes nothing
 * for a grant already made.  Only the clock-skew allowance (skew) is read
 * from the policy in force.
 */
static int
cert_args(const struct request *r, int64_t skew, struct cert_args *a,
    struct brk_error *err)
{
	char id[24];
	unsigned bit;
	size_t n = 0;

	/* a host: resource is an OpenSSH login; a database or a cluster
	 * takes no SSH certificate, whatever principal it names */
	if (strncmp(r->resource, "host:", 5) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "%s is not a "
		    "host: no SSH certificate for it (only host: resources "
		    "get one)",
		    r->resource);
	/* a scheduled grant's certificate is valid from its start */
	if (r->state != ST_ACTIVE && r->state != ST_SCHEDULED)
		return brk_error_set(err, BRK_ERR_STATE,
		    "the grant is not "
		    "active");
	/* a grant recorded before restrictions were stored: what they were
	 * is unknown, and guessing could widen access */
	if (!r->cert_known)
		return brk_error_set(err, BRK_ERR_STATE,
		    "this grant was "
		    "recorded without its certificate restrictions (an older "
		    "version): request access again");
	for (bit = 1; bit <= POLICY_EXT_ALL; bit <<= 1)
		if (r->cert_extensions & bit)
			a->exts[n++] = policy_cert_extension_name(bit);
	req_id(r->serial, id);
	snprintf(a->key_id, sizeof(a->key_id), "broker:%s:%s", id, r->user);
	a->principals[0] = r->role;
	a->sp = (struct sshcert_params){
		.serial = r->serial,
		.key_id = a->key_id,
		.principals = a->principals,
		.nprincipals = 1,
		.valid_after = (uint64_t)(r->starts_at > skew ?
			r->starts_at - skew :
			0),
		.valid_before = (uint64_t)r->expires_at,
		.extensions = a->exts,
		.nextensions = n,
		.force_command = r->force_command[0] ? r->force_command : NULL,
		.source_address = r->source_address[0] ? r->source_address :
							 NULL,
	};
	return 0;
}

static int64_t
clock_skew(struct brokerd *d)
{
	struct policy_ref *p = policy_get(d);
	int64_t skew = policy_limits(p->policy)->clock_skew;

	policy_put(d, p);
	return skew;
}

int
cred_issue_cert(struct brokerd *d, const struct request *r,
    const struct sshkey *key, char **cert, struct brk_error *err)
{
	struct cert_args a;
	int rc;

	*cert = NULL;
	if ((rc = cert_args(r, clock_skew(d), &a, err)) != 0)
		return rc;
	return sshcert_issue(d->ca, key, &a.sp, cert, err);
}

/*
 * Each certificate as cred_issue_cert() makes it, with one round trip to
 * the signer for all of them: bodies first, then ca_sign_many(), then the
 * lines.  A body that cannot be built or signed fails alone.
 */
void
cred_issue_certs(struct brokerd *d, struct cred_cert *certs, size_t n)
{
	struct cert_args *a = NULL;
	struct sshbuf **tbs = NULL;
	const uint8_t **msgs = NULL;
	uint8_t(*sigs)[CA_SIG_SIZE] = NULL;
	size_t *lens = NULL, i, k = 0, *idx = NULL;
	int *rcs = NULL;
	int64_t skew;

	for (i = 0; i < n; i++) {
		certs[i].cert = NULL;
		certs[i].rc = 0;
		certs[i].err.msg[0] = '\0';
	}
	if (n == 0)
		return;
	if ((a = calloc(n, sizeof(*a))) == NULL ||
	    (tbs = calloc(n, sizeof(*tbs))) == NULL ||
	    (msgs = calloc(n, sizeof(*msgs))) == NULL ||
	    (sigs = calloc(n, sizeof(*sigs))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL ||
	    (idx = calloc(n, sizeof(*idx))) == NULL ||
	    (rcs = calloc(n, sizeof(*rcs))) == NULL) {
		for (i = 0; i < n; i++)
			certs[i].rc = brk_error_set(
			    &certs[i].err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	skew = clock_skew(d);
	for (i = 0; i < n; i++) {
		if ((certs[i].rc = cert_args(
			 certs[i].r, skew, &a[i], &certs[i].err)) != 0 ||
		    (certs[i].rc = sshcert_prepare(d->ca, certs[i].key,
			 &a[i].sp, &tbs[i], &certs[i].err)) != 0)
			continue;
		msgs[k] = sshbuf_ptr(tbs[i]);
		lens[k] = sshbuf_len(tbs[i]);
		idx[k++] = i;
	}
	if (k > 0)
		ca_sign_many(d->ca, k, msgs, lens, sigs, rcs);
	for (i = 0; i < k; i++) {
		struct cred_cert *c = &certs[idx[i]];

		if (rcs[i] != 0)
			c->rc = brk_error_set(&c->err, rcs[i],
			    "signing the certificate failed: %s",
			    ca_sign_strerror(rcs[i]));
		else
			c->rc = sshcert_finish(tbs[idx[i]], c->key,
			    a[idx[i]].key_id, sigs[i], &c->cert, &c->err);
	}
out:
	for (i = 0; tbs != NULL && i < n; i++)
		sshbuf_free(tbs[i]);
	free(a);
	free(tbs);
	free(msgs);
	free(sigs);
	free(lens);
	free(idx);
	free(rcs);
}
