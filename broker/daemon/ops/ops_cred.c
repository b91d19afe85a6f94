/*
 * ops_cred.c - credential ops: cert, krl, ca.show, snapshot.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "ca.h"
#include "cred.h"
#include "credkind.h"
#include "escalate.h"
#include "flags.h"
#include "krl.h"
#include "names.h"
#include "fileio.h"
#include "ops.h"
#include "reqstore.h"
#include "snapshot.h"
#include "snapshot_sign.h"
#include "timefmt.h"

#define SNAPSHOT_DEFAULT_TTL (15 * 60)
#define SNAPSHOT_MAX_TTL (24 * 3600)

int
ops_audit_cert(struct store_txn *t, int64_t now, const struct call *c,
    const struct request *r, const struct sshkey *key, int64_t skew)
{
	char id[24], fp[128], after[TIMEFMT_LEN], before[TIMEFMT_LEN];
	json_t *details;
	int rc;

	if ((rc = sshkey_fingerprint(key, fp, sizeof(fp))) != 0)
		return rc;
	req_id(r->serial, id);
	time_rfc3339(r->starts_at > skew ? r->starts_at - skew : 0, after);
	time_rfc3339(r->expires_at, before);
	details = json_pack("{s:I, s:s, s:[s], s:s, s:s}", "serial",
	    (json_int_t)r->serial, "key_fingerprint", fp, "principals", r->role,
	    "valid_after", after, "valid_before", before);
	if (details == NULL)
		return BRK_ERR_NOMEM;
	rc = audit_append(t, now,
	    &(struct audit_event){ .action = "cert.issued",
		.actor = c->who.name,
		.caller = c->caller.name,
		.target = id,
		.user = r->user,
		.resource = r->resource,
		.details = details },
	    NULL);
	json_decref(details);
	return rc;
}

/* No new certificate for a grant a block covers, nor for an automatic
 * grant that a manual opt-out now takes out of automation. */
static int
cert_allowed(struct call *c, struct store_txn *t, const struct request *r,
    struct brk_error *err)
{
	struct policy_ref *p = policy_get(c->d);
	struct escalation esc;
	struct cover cv = { .policy = p->policy,
		.user = r->user,
		.groups = ident_groups(&c->who),
		.ngroups = c->who.ngroups,
		.resource = r->resource,
		.rules = r->rules,
		.serial = r->serial };
	int rc;

	if ((rc = ident_require_groups(&c->who, err)) != 0) {
		policy_put(c->d, p);
		return rc;
	}
	rc = escalate_find(t, &cv, time_now(), &esc);
	policy_put(c->d, p);
	if (rc != 0)
		return rc;
	if (esc.level == ESC_BLOCK || (esc.level == ESC_MANUAL && r->automatic))
		return brk_error_set(err, BRK_ERR_DENIED,
		    "no certificate: "
		    "%s %.900s",
		    esc.level == ESC_BLOCK ? "blocked by" :
					     "taken out of automation by",
		    esc.why);
	return 0;
}

/*
 * The opening `cert` and `cred` share, after their arguments: the
 * caller's own grant id (as the user or as the one who filed it; another's
 * is "not found", so ids cannot be probed), active when need_active, and
 * not covered by a block or a manual opt-out (cert_allowed()).  *t is the
 * call's read transaction.
 */
static int
own_grant(struct call *c, const char *id, bool need_active,
    struct store_txn **t, struct request *r, struct brk_error *err)
{
	int rc;

	if ((rc = call_read(c, t)) != 0 ||
	    (rc = ops_load_request(c, *t, id, r)) != 0 ||
	    (strcmp(r->user, c->who.name) != 0 &&
		strcmp(r->caller, c->who.name) != 0))
		return brk_error_set(
		    err, BRK_ERR_NOTFOUND, "no grant %s of yours", id);
	if (need_active &&
	    (r->state != ST_ACTIVE || !reqstore_in_window(r, time_now())))
		return brk_error_set(err, BRK_ERR_STATE, "%s is %s, not active",
		    id, req_state_name(r->state));
	return cert_allowed(c, *t, r, err);
}

/* A re-issued certificate on its way through the writer (its audit). */
struct cert_job {
	struct call *c;
	struct request r;
	struct sshkey *key;
	char *cert;
	int64_t now, skew;
};

static void
cert_job_free(struct cert_job *j)
{
	if (j == NULL)
		return;
	sshkey_free(j->key);
	secret_free(j->cert);
	free(j);
}

static int
apply_cert(struct store_txn *t, void *arg)
{
	struct cert_job *j = arg;

	return ops_audit_cert(t, j->now, j->c, &j->r, j->key, j->skew);
}

static void
done_cert(void *arg, int rc)
{
	struct cert_job *j = arg;
	struct call *c = j->c;
	char id[24];

	req_id(j->r.serial, id);
	if (rc != 0)
		call_fail(c, rc,
		    "no certificate: its audit record was not "
		    "written: %s",
		    brk_strerror(rc));
	else
		call_reply(c,
		    json_pack("{s:s, s:s, s:s, s:I}", "id", id, "cert", j->cert,
			"role", j->r.role, "serial", (json_int_t)j->r.serial));
	cert_job_free(j);
}

int
op_cert(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct sshkey *key = NULL;
	struct store_txn *t = NULL;
	const char *id = NULL;
	struct request r;
	struct cert_job *j = NULL;
	struct policy_ref *p;
	char *cert = NULL;
	uint64_t serial;
	int rc;

	if (ops_arg_id(c, &serial, &id) != 0)
		return 0;
	if ((rc = cred_arg_pubkey(c->req->args, &key, &err)) != 0)
		goto fail;
	rc = BRK_ERR_INVALID;
	if (key == NULL) {
		brk_error_set(&err, rc, "a public key is required (--pubkey)");
		goto fail;
	}
	if ((rc = own_grant(c, id, false, &t, &r, &err)) != 0)
		goto fail;
	rc = BRK_ERR_INVALID;
	if (cred_kind_for(c->d, r.resource) != &cred_kind_host) {
		brk_error_set(&err, rc,
		    "%s is for %s, which carries no SSH "
		    "certificate (see `broker cred`)",
		    id, r.resource);
		goto fail;
	}
	if ((rc = cred_issue_cert(c->d, &r, key, &cert, &err)) != 0) {
		if (rc == BRK_ERR_STATE && r.state != ST_ACTIVE)
			brk_error_set(&err, rc, "%s is %s, not active", id,
			    req_state_name(r.state));
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		rc = BRK_ERR_NOMEM;
		goto fail;
	}
	*j = (struct cert_job){
		.c = c, .r = r, .key = key, .cert = cert, .now = time_now()
	};
	p = policy_get(c->d);
	j->skew = policy_limits(p->policy)->clock_skew;
	policy_put(c->d, p);
	key = NULL;
	cert = NULL;
	/* the certificate leaves only once its audit record is durable */
	if ((rc = writer_submit(c->d->writer, apply_cert, done_cert, j)) != 0) {
		cert_job_free(j);
		goto fail;
	}
	return 0;
fail:
	secret_free(cert);
	sshkey_free(key);
	call_fail(c, rc, "%s", err.msg[0] ? err.msg : brk_strerror(rc));
	return rc;
}

/*
 * `cred ID`: issue the grant's credential again, whatever its kind (a new
 * password for a database role, a certificate for --pubkey).  The first
 * issue may have failed (the database was down): this is the retry.
 */
int
op_cred(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct sshkey *key = NULL;
	struct store_txn *t = NULL;
	const char *id = NULL;
	struct request r;
	json_t *o = NULL;
	uint64_t serial;
	int rc;

	if (ops_arg_id(c, &serial, &id) != 0)
		return 0;
	if ((rc = cred_arg_pubkey(c->req->args, &key, &err)) != 0 ||
	    (rc = own_grant(c, id, true, &t, &r, &err)) != 0)
		goto fail;
	rc = BRK_ERR_INVALID;
	if (!cred_kind_any(c->d, r.resource)) {
		brk_error_set(&err, rc,
		    "%s carries no credential: the grant "
		    "itself is the access",
		    r.resource);
		goto fail;
	}
	if (cred_kind_for(c->d, r.resource) == &cred_kind_host && key == NULL) {
		brk_error_set(&err, rc, "a public key is required (--pubkey)");
		goto fail;
	}
	rc = BRK_ERR_NOMEM;
	if ((o = json_pack("{s:s, s:s, s:s}", "id", id, "resource", r.resource,
		 "role", r.role)) == NULL)
		goto fail;
	if ((rc = ops_cred_issue_into(c->d, &r, key, true, o, &err)) != 0)
		goto fail;
	call_reply(c, o);
	sshkey_free(key);
	return 0;
fail:
	json_decref(o);
	sshkey_free(key);
	call_fail(c, rc, "%s", err.msg[0] ? err.msg : brk_strerror(rc));
	return rc;
}

struct serials {
	uint64_t *v;
	size_t n, cap;
	int rc;
};

static int
add_serial(uint64_t serial, void *arg)
{
	struct serials *s = arg;
	uint64_t *nv;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		if ((nv = realloc(s->v, s->cap * sizeof(*nv))) == NULL)
			return s->rc = BRK_ERR_NOMEM;
		s->v = nv;
	}
	s->v[s->n++] = serial;
	return 0;
}

/* Every revoked grant stays in the KRL: its certificate may be copied
 * anywhere, and revocation must outlive any clock skew. */
int
ops_krl_json(
    struct call *c, struct store_txn *t, json_t **out, struct brk_error *err)
{
	struct serials s = { 0 };
	uint8_t *krl = NULL;
	size_t len = 0;
	char *b64 = NULL;
	int64_t now = time_now();
	int rc;

	*out = NULL;
	if ((rc = reqstore_by_state(t, ST_REVOKED, add_serial, &s)) != 0 ||
	    (rc = s.rc) != 0 ||
	    (rc = krl_build(c->d->ca, s.v, s.n, (uint64_t)now, (uint64_t)now,
		 &krl, &len)) != 0) {
		brk_error_set(
		    err, rc, "cannot build the KRL: %s", brk_strerror(rc));
		goto out;
	}
	rc = BRK_ERR_NOMEM;
	if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL) {
		brk_error_set(err, rc, "out of memory");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, krl, (int)len);
	if ((*out = json_pack("{s:s, s:I, s:I}", "krl", b64, "revoked",
		 (json_int_t)s.n, "version", (json_int_t)now)) == NULL) {
		brk_error_set(err, rc, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(b64);
	free(krl);
	free(s.v);
	return rc;
}

int
op_krl(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	json_t *o = NULL;
	int rc;

	if ((rc = call_read(c, &t)) != 0)
		call_fail(c, rc, "cannot build the KRL: %s", brk_strerror(rc));
	else if ((rc = ops_krl_json(c, t, &o, &err)) != 0)
		call_fail(c, rc, "%s", err.msg);
	else
		call_reply(c, o);
	return 0;
}

json_t *
ops_ca_json(struct call *c)
{
	const char *const *lines = NULL;
	size_t n = ca_all_public_lines(c->d->ca, &lines), i;
	json_t *all = json_array();

	for (i = 0; all != NULL && i < n; i++)
		json_array_append_new(all, json_string(lines[i]));
	return json_pack("{s:s, s:s, s:o}", "key_id", ca_key_id(c->d->ca),
	    "public", ca_public_line(c->d->ca), "all", all);
}

int
op_ca_show(struct call *c)
{
	call_reply(c, ops_ca_json(c));
	return 0;
}

/*
 * Building a snapshot.  The host that reads it knows nothing but what it
 * carries, so the broker judges every grant the way the live check would
 * (escalate_find() with the grant user's groups) and leaves out the ones a
 * block refuses now, then adds every login block that applies to the host
 * so that snapshot_decide() refuses too: global and freeze, resource and
 * label blocks as user "*", user opt-outs and block flags by name, and
 * group blocks expanded here, where the groups are known, into one entry
 * per grant user in the group.  Rule and request blocks concern single
 * grants and are carried by leaving those grants out.
 */
struct snap_grant {
	char user[REC_NAME];
	uint64_t serial;
};

struct snap_fill {
	struct call *c;
	struct store_txn *t;
	struct snapshot *s;
	const struct policy *policy;
	const char *resource;
	int64_t now;
	struct snap_grant *g; /* in-window grants on the host */
	size_t ng, gcap;
	struct optout *live; /* block opt-outs in force (owned) */
	size_t nlive, livecap;
	size_t left_out;
	int rc;
	struct brk_error *err;
};

/* Reasons and scopes travel as printable ASCII, cut short: whatever the
 * store holds, the snapshot stays within its own limits. */
static void
ascii_copy(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	for (i = 0; src[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = src[i] >= ' ' && src[i] <= '~' ? src[i] : '?';
	dst[i] = '\0';
}

static int
collect_grant(uint64_t serial, void *arg)
{
	struct snap_fill *f = arg;
	struct snap_grant *ng;
	struct request r;

	/* a window that has not begun is left out: a host that decides
	 * offline refuses it until its next snapshot (fail closed) */
	if (reqstore_load(f->t, serial, &r) != 0 ||
	    !reqstore_in_window(&r, f->now) ||
	    strcmp(r.resource, f->resource) != 0)
		return 0;
	if (f->ng >= SNAPSHOT_MAX_GRANTS) {
		f->rc = brk_error_set(f->err, BRK_ERR_TOOBIG,
		    "%s has more "
		    "than %d active grants",
		    f->resource, SNAPSHOT_MAX_GRANTS);
		return f->rc;
	}
	if (f->ng == f->gcap) {
		f->gcap = f->gcap ? f->gcap * 2 : 64;
		if ((ng = realloc(f->g, f->gcap * sizeof(*ng))) == NULL)
			return f->rc = BRK_ERR_NOMEM;
		f->g = ng;
	}
	snprintf(f->g[f->ng].user, sizeof(f->g[f->ng].user), "%s", r.user);
	f->g[f->ng++].serial = serial;
	return 0;
}

static int
by_user(const void *a, const void *b)
{
	const struct snap_grant *x = a, *y = b;
	int d = strcmp(x->user, y->user);

	return d != 0 ? d : (x->serial > y->serial) - (x->serial < y->serial);
}

static int
add_block(struct snap_fill *f, const char *scope, const char *user,
    int64_t until, const char *why)
{
	char sc[SNAPSHOT_NAME_MAX], reason[320];

	ascii_copy(sc, sizeof(sc), scope);
	ascii_copy(reason, sizeof(reason), why);
	return snapshot_add_block(f->s, sc, user, until, reason, f->err);
}

static int
optout_block(struct snap_fill *f, const struct optout *o, const char *user)
{
	char why[1024], id[24];

	optout_id(o->id, id);
	snprintf(why, sizeof(why), "blocked by opt-out %s (%s, %s): %.300s", id,
	    o->scope, o->tag, o->reason);
	return add_block(
	    f, o->freeze ? "freeze" : o->scope, user, o->until, why);
}

/* Block opt-outs in force: host-wide and user ones go in at once, group
 * ones are kept for the per-user pass. */
static int
collect_optout(const struct optout *o, void *arg)
{
	struct snap_fill *f = arg;
	struct cover cv = {
		.policy = f->policy, .user = "", .resource = f->resource
	};
	struct optout *nl;

	if (o->mode != OPT_BLOCK || !optout_active(o, f->now))
		return 0;
	switch (o->kind) {
	case OPT_GLOBAL:
	case OPT_RESOURCE:
	case OPT_LABEL:
		if (optout_covers(o, &cv))
			f->rc = optout_block(f, o, "*");
		break;
	case OPT_USER:
		f->rc = optout_block(f, o, o->pattern);
		break;
	case OPT_GROUP:
		if (f->nlive == f->livecap) {
			f->livecap = f->livecap ? f->livecap * 2 : 16;
			if ((nl = realloc(f->live, f->livecap * sizeof(*nl))) ==
			    NULL)
				return f->rc = BRK_ERR_NOMEM;
			f->live = nl;
		}
		f->live[f->nlive++] = *o;
		break;
	default: /* rule, request: those grants are left out */
		break;
	}
	return f->rc;
}

/* One user's grants (g[0..n), sorted): judged, added or left out, then
 * the user's group blocks and block flag. */
static int
add_user(struct snap_fill *f, const struct snap_grant *g, size_t n)
{
	struct ident who;
	struct brk_error ierr;
	struct escalation esc;
	struct flag fl;
	struct request r;
	struct cover cv = { .policy = f->policy, .resource = f->resource };
	char why[1024];
	size_t i, k;
	int rc = 0, fr = 0;

	memset(&who, 0, sizeof(who));
	/* as the live check: a user no source knows keeps no groups; one
	 * whose groups cannot be known gets no grant (identity.h) */
	rc = ident_from_name(f->c->d->ident, g[0].user, &who, &ierr);
	if (rc != 0)
		snprintf(who.name, sizeof(who.name), "%s", g[0].user);
	if (rc == BRK_ERR_NOTFOUND)
		who.groups_complete = true;
	rc = 0;
	if (!who.groups_complete) {
		f->left_out += n;
		ident_clear(&who);
		return 0;
	}
	cv.user = g[0].user;
	cv.groups = ident_groups(&who);
	cv.ngroups = who.ngroups;
	for (i = 0; i < n && rc == 0; i++) {
		if (reqstore_load(f->t, g[i].serial, &r) != 0)
			continue;
		cv.rules = r.rules;
		cv.serial = r.serial;
		if ((rc = escalate_find(f->t, &cv, f->now, &esc)) != 0)
			break;
		if (esc.level == ESC_BLOCK) {
			f->left_out++;
			continue;
		}
		rc = snapshot_add_grant(
		    f->s, r.user, r.role, r.expires_at, r.serial, f->err);
	}
	for (i = 0; i < f->nlive && rc == 0; i++)
		for (k = 0; k < who.ngroups && rc == 0; k++)
			if (strcmp(f->live[i].pattern, who.groups[k]) == 0) {
				rc = optout_block(f, &f->live[i], g[0].user);
				break;
			}
	if (rc == 0 && (fr = flags_get(f->t, g[0].user, f->now, &fl)) != 0 &&
	    fr != BRK_ERR_NOTFOUND)
		rc = fr; /* a flag that cannot be read: no snapshot */
	else if (rc == 0 && fr == 0 && fl.severity == FLAG_BLOCK) {
		snprintf(why, sizeof(why),
		    "%s is flagged by monitoring "
		    "(block, by %s): %.300s",
		    fl.user, fl.by, fl.reason);
		rc = add_block(f, "flag", g[0].user, fl.until, why);
	}
	ident_clear(&who);
	return rc;
}

static int
fill_snapshot(struct snap_fill *f)
{
	size_t i, j;
	int rc;

	/* a scheduled grant whose window opened before the sweep recorded
	 * it counts as the live check counts it */
	if ((rc = reqstore_by_state(f->t, ST_ACTIVE, collect_grant, f)) != 0 ||
	    (rc = f->rc) != 0 ||
	    (rc = reqstore_by_state(f->t, ST_SCHEDULED, collect_grant, f)) !=
		0 ||
	    (rc = f->rc) != 0 ||
	    (rc = optouts_live(f->t, collect_optout, f)) != 0 ||
	    (rc = f->rc) != 0)
		return rc;
	if (f->ng > 0)
		qsort(f->g, f->ng, sizeof(*f->g), by_user);
	for (i = 0; i < f->ng; i = j) {
		for (j = i + 1;
		     j < f->ng && strcmp(f->g[j].user, f->g[i].user) == 0; j++)
			;
		if ((rc = add_user(f, f->g + i, j - i)) != 0)
			return rc;
	}
	return 0;
}

/* Whether the caller may have host H's snapshot: the host itself over TLS,
 * root or a delegate on the broker host, or a policy admin. */
static bool
may_snapshot(struct call *c, const char *host)
{
	struct policy_ref *p;
	size_t i;
	bool ok;

	if (c->host[0] != '\0')
		return strcmp(c->host, host) == 0;
	if (!c->delegated && c->caller.uid == 0)
		return true;
	for (i = 0; !c->delegated && i < c->d->cfg->ndelegates; i++)
		if (c->d->cfg->delegates[i] == c->caller.uid)
			return true;
	p = policy_get(c->d);
	ok = call_has_role(c, p, ROLE_POLICY_ADMINS);
	policy_put(c->d, p);
	return ok;
}

/* A host name as hosts name themselves in resources (host:NAME). */
static bool
host_name_valid(const char *h)
{
	size_t i;

	if (h[0] == '\0' || h[0] == '-' || h[0] == '.')
		return false;
	for (i = 0; h[i] != '\0'; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' &&
		    h[i] != '-' && h[i] != '_')
			return false;
	return true;
}

int
ops_snapshot_json(struct call *c, struct store_txn *t, const char *host,
    int64_t ttl, json_t **out, struct brk_error *err)
{
	struct snap_fill f = { .c = c, .t = t, .now = time_now(), .err = err };
	struct policy_ref *p = NULL;
	char resource[300], *text = NULL;
	int rc;

	*out = NULL;
	if (ttl <= 0)
		ttl = SNAPSHOT_DEFAULT_TTL;
	snprintf(resource, sizeof(resource), "host:%s", host);
	rc = BRK_ERR_INVALID;
	if (strncmp(host, "host:", 5) == 0) {
		/* host:web-2 would be the resource host:host:web-2, which no
		 * grant names: a valid-looking snapshot that allows nobody */
		brk_error_set(err, rc,
		    "\"%.64s\" is a resource, not a host "
		    "name: use --host %.64s",
		    host, host + 5);
		goto out;
	}
	if (!host_name_valid(host) || !name_resource_valid(resource)) {
		brk_error_set(err, rc,
		    "\"%.64s\" is not a host name (letters, "
		    "digits, '.', '-' and '_')",
		    host);
		goto out;
	}
	rc = BRK_ERR_DENIED;
	if (!may_snapshot(c, host)) {
		brk_error_set(err, rc, "%s may not fetch the snapshot of %s",
		    c->who.name, host);
		goto out;
	}
	p = policy_get(c->d);
	f.policy = p->policy;
	f.resource = resource;
	/* a snapshot that cannot carry everything is not issued at all */
	if ((rc = snapshot_new(host, f.now, f.now + ttl, &f.s, err)) != 0 ||
	    (rc = fill_snapshot(&f)) != 0 ||
	    (rc = snapshot_sign(c->d->ca, f.s, &text)) != 0)
		goto out;
	if ((*out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "host", host,
		 "snapshot", text, "grants", (json_int_t)f.s->ngrants, "blocks",
		 (json_int_t)f.s->nblocks, "left_out", (json_int_t)f.left_out,
		 "expires_at", (json_int_t)(f.now + ttl))) == NULL)
		rc = BRK_ERR_NOMEM;
out:
	if (rc != 0 && err->msg[0] == '\0')
		brk_error_set(err, rc, "%s", brk_strerror(rc));
	free(text);
	free(f.g);
	free(f.live);
	snapshot_free(f.s);
	if (p != NULL)
		policy_put(c->d, p);
	return rc;
}

int
op_snapshot(struct call *c)
{
	struct brk_error err = { { 0 } };
	const char *host = NULL;
	int64_t ttl = SNAPSHOT_DEFAULT_TTL;
	const struct proto_arg spec[] = {
		{ "host", PA_STR, true, 0, 253, &host },
		{ "for", PA_INT, false, 60, SNAPSHOT_MAX_TTL, &ttl },
	};
	struct store_txn *t = NULL;
	json_t *o = NULL;
	int rc;

	/* the arguments are checked before the store is read */
	if ((rc = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0 ||
	    (rc = call_read(c, &t)) != 0 ||
	    (rc = ops_snapshot_json(c, t, host, ttl, &o, &err)) != 0) {
		call_fail(c, rc, "%s", err.msg[0] ? err.msg : brk_strerror(rc));
		return rc;
	}
	call_reply(c, o);
	return 0;
}
