/*
 * cred.h - turning an active grant into credentials.
 */
#ifndef BRK_CRED_H
#define BRK_CRED_H

#include "daemon.h"
#include "record.h"
#include "sshkey.h"

/*
 * Issue an OpenSSH user certificate for grant r (which must be active) and
 * the user's public key: serial = grant serial, key id "broker:<id>:<user>",
 * principal = the granted role, valid from starts_at minus the policy's
 * clock_skew to expires_at, extensions and critical options as the grant
 * record holds them (fixed at decision time; the policy in force is not
 * consulted for them).  BRK_ERR_STATE for a grant that is not active or
 * whose record predates stored restrictions (r->cert_known false).
 * *cert is a malloc'd one-line certificate.
 */
int cred_issue_cert(struct brokerd *d, const struct request *r,
    const struct sshkey *key, char **cert, struct brk_error *err);

/* One certificate of a cred_issue_certs() call. */
struct cred_cert {
	const struct request *r;  /* in: the grant */
	const struct sshkey *key; /* in: the user's key */
	char *cert;		  /* out: the line (free()), or NULL */
	int rc;			  /* out: cred_issue_cert()'s result */
	struct brk_error err;	  /* out: why, when rc != 0 */
};

/*
 * cred_issue_cert() for each of n grants, with one round trip to the CA
 * signer for all of them (a round trip costs a third of a signature in
 * wake-ups and system calls).  Each fails or succeeds on its own.
 */
void cred_issue_certs(struct brokerd *d, struct cred_cert *certs, size_t n);

/* Parse the "pubkey" argument, if present (NULL when absent). */
int
cred_arg_pubkey(const json_t *args, struct sshkey **key, struct brk_error *err);

#endif
