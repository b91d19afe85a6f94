/*
 * cred.c - certificates for grants.  Runs on worker threads (and on the I/O
 * thread for `cert`): signing goes to the CA signer process (ca_sign()).
 */
#include "cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * The certificate's restrictions come from the grant record, where the
 * decision fixed them: a policy edit after the decision changes nothing
 * for a grant already made.  Only the clock-skew allowance is read from
 * the policy in force.
 */
int
cred_issue_cert(struct brokerd *d, const struct request *r,
    const struct sshkey *key, char **cert, struct brk_error *err)
{
	struct policy_ref *p = NULL;
	const char *exts[8], *principals[1] = { r->role };
	char key_id[128], id[24];
	struct sshcert_params sp;
	unsigned bit;
	size_t n = 0;
	int64_t skew;
	int rc;

	*cert = NULL;
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
			exts[n++] = policy_cert_extension_name(bit);
	req_id(r->serial, id);
	snprintf(key_id, sizeof(key_id), "broker:%s:%s", id, r->user);
	p = policy_get(d);
	skew = policy_limits(p->policy)->clock_skew;
	policy_put(d, p);
	sp = (struct sshcert_params){
		.serial = r->serial,
		.key_id = key_id,
		.principals = principals,
		.nprincipals = 1,
		.valid_after = (uint64_t)(r->starts_at > skew ?
			r->starts_at - skew :
			0),
		.valid_before = (uint64_t)r->expires_at,
		.extensions = exts,
		.nextensions = n,
		.force_command = r->force_command[0] ? r->force_command : NULL,
		.source_address = r->source_address[0] ? r->source_address :
							 NULL,
	};
	rc = sshcert_issue(d->ca, key, &sp, cert, err);
	return rc;
}
