/*
 * credkind_host.c - host:NAME carries an OpenSSH user certificate for the
 * key the user presents (cred.c signs it through the CA signer).  Nothing
 * to end: the certificate expires with the grant and a revoked grant's
 * serial is in the KRL.
 */
#include "credkind.h"

#include <stdlib.h>

#include "cred.h"

static int
host_issue(struct brokerd *d, const struct request *r, const struct sshkey *key,
    json_t *reply, struct brk_error *err)
{
	char *cert = NULL;
	int rc;

	if (key == NULL)
		return 0; /* no key, no certificate: the grant alone */
	if ((rc = cred_issue_cert(d, r, key, &cert, err)) != 0)
		return rc;
	rc = json_object_set_new(reply, "cert", json_string(cert)) == 0 ?
	    0 :
	    BRK_ERR_NOMEM;
	free(cert);
	return rc;
}

const struct cred_kind cred_kind_host = {
	.name = "ssh-cert",
	.prefix = "host:",
	.early = true,
	.issue = host_issue,
	.reissue = host_issue,
	.reconcile = NULL,
	.credname = NULL, /* cert.issued, by the ops */
};
