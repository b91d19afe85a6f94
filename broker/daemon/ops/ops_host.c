/*
 * ops_host.c - hosts that enroll once and then sync: host.token.create,
 * host.enroll, host.sync, host.list, host.remove (domain/hosts.c keeps
 * the records and their rules).
 *
 * The one idea: a join token is a one-time password for one host name.
 * The broker keeps only its hash; the host's key never leaves the host
 * (it sends a CSR); the certificate names the host the token was made
 * for, whatever the CSR says; and it comes from the host CA, which
 * signs nothing else, so a host certificate is never taken for a person
 * and the reverse (tls.c tells them apart by issuer).  Signing happens
 * on the worker pool before the write; the write re-checks the token and
 * drops the certificate if the token was used in between.
 *
 * A refusal that must leave an audit record (a bad token, a removed host
 * syncing, a login certificate asking for host.sync) goes through the
 * writer like a change: the apply writes the record and reports the
 * refusal in the op, and done answers with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hosts.h"
#include "log.h"
#include "ops.h"
#include "timefmt.h"
#include "userca.h"

#define HOST_TOKEN_DEFAULT 3600
#define HOST_TOKEN_PREFIX "brokerjoin-"
#define HOST_TOKEN_MAX 128
#define HOST_CSR_MAX 8192
/* A sync within this many seconds of the last recorded one, from the same
 * address, with nothing to renew, records nothing: last sync is kept to
 * the minute, and a host syncing often costs no durable write. */
#define HOST_SYNC_GRAIN 60

/* What host.sync brings besides the sync ("include"). */
#define SYNC_SNAPSHOT 0x1
#define SYNC_KRL 0x2
#define SYNC_CA 0x4

struct host_op {
	struct call *c;
	struct actor actor;
	int64_t now;
	char host[256]; /* as call.host */
	char hash[HOST_TOKEN_HASH_LEN + 1];
	char token[HOST_TOKEN_MAX + 1]; /* token.create: wiped at the end */
	char addr[64];
	char serial[HOST_SERIAL_LEN]; /* the caller's certificate (sync) */
	char *cert;		      /* a new certificate (PEM) */
	char *new_serial;
	int64_t until; /* token end, or the new certificate's */
	char reason[1025];
	bool refused;
	struct host_rec rec;
	json_t *extra; /* sync: the parts "include" asked for */
	char msg[REQ_MSG_LEN];
};

static void
host_op_free(struct host_op *op)
{
	if (op == NULL)
		return;
	free(op->cert);
	free(op->new_serial);
	json_decref(op->extra);
	OPENSSL_cleanse(op->token, sizeof(op->token));
	free(op);
}

/* The reply of a writer job: refused and failed ones as errors. */
static void
done_fail(struct host_op *op, int rc)
{
	struct call *c = op->c;
	char msg[REQ_MSG_LEN];

	snprintf(
	    msg, sizeof(msg), "%s", op->msg[0] ? op->msg : brk_strerror(rc));
	host_op_free(op);
	call_fail(c, rc != 0 ? rc : BRK_ERR_DENIED, "%s", msg);
}

static int
submit(struct call *c, struct host_op *op, writer_apply_fn apply,
    writer_done_fn done)
{
	int r;

	if ((r = writer_submit(c->d->writer, apply, done, op)) != 0) {
		host_op_free(op);
		call_fail(c, r, "%s", brk_strerror(r));
	}
	return r;
}

static struct host_op *
host_op_new(struct call *c)
{
	struct host_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		call_fail(c, BRK_ERR_NOMEM, "out of memory");
		return NULL;
	}
	op->c = c;
	op->now = time_now();
	ops_actor(c, &op->actor);
	snprintf(op->addr, sizeof(op->addr), "%s",
	    c->addr[0] != '\0' ? c->addr : "local");
	return op;
}

/* ---- host.token.create ------------------------------------------------- */

static int
apply_token(struct store_txn *t, void *arg)
{
	struct host_op *op = arg;
	struct host_token k = { .at = op->now, .until = op->until };

	snprintf(k.host, sizeof(k.host), "%s", op->host);
	snprintf(k.by, sizeof(k.by), "%s", op->actor.user);
	return hosts_token_create(t, &op->actor, op->hash, &k, op->now);
}

static void
done_token(void *arg, int rc)
{
	struct host_op *op = arg;
	struct call *c = op->c;
	char when[TIMEFMT_LEN];

	if (rc != 0) {
		done_fail(op, rc);
		return;
	}
	time_rfc3339(op->until, when);
	call_reply(c,
	    json_pack("{s:s, s:s, s:I, s:s}", "host", op->host, "token",
		op->token, "expires_at", (json_int_t)op->until, "expires",
		when));
	host_op_free(op);
}

int
op_host_token_create(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = NULL;
	struct host_op *op = NULL;
	unsigned char rnd[32];
	const char *host = NULL;
	int64_t dur = HOST_TOKEN_DEFAULT;
	const struct proto_arg spec[] = {
		{ "host", PA_STR, true, 0, HOST_NAME_MAX_LEN, &host },
		{ "for", PA_INT, false, 1, INT64_MAX / 2, &dur },
	};
	size_t i;
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_INVALID;
	if (!hosts_name_valid(host)) {
		brk_error_set(&err, r,
		    "\"%.64s\" is not a host name (letters, "
		    "digits, '.', '-' and '_'; the name in host:NAME)",
		    host);
		goto fail;
	}
	if (dur > c->d->cfg->host_token_max) {
		brk_error_set(&err, r,
		    "a join token lasts at most %lld s "
		    "(hosts.token_max)",
		    (long long)c->d->cfg->host_token_max);
		goto fail;
	}
	r = BRK_ERR_DENIED;
	p = policy_get(c->d);
	if (c->host[0] != '\0' || !call_has_role(c, p, ROLE_POLICY_ADMINS)) {
		brk_error_set(&err, r,
		    "%s may not make join tokens (policy "
		    "admins may)",
		    c->host[0] != '\0' ? c->host : c->who.name);
		goto fail;
	}
	if ((op = host_op_new(c)) == NULL) {
		policy_put(c->d, p);
		return 0;
	}
	r = BRK_ERR_CRYPTO;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	i = (size_t)snprintf(op->token, sizeof(op->token), HOST_TOKEN_PREFIX);
	for (size_t j = 0; j < sizeof(rnd); j++, i += 2)
		snprintf(op->token + i, 3, "%02x", rnd[j]);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if ((r = hosts_token_hash(op->token, op->hash)) != 0)
		goto fail;
	snprintf(op->host, sizeof(op->host), "%s", host);
	op->until = op->now + dur;
	policy_put(c->d, p);
	return submit(c, op, apply_token, done_token);
fail:
	policy_put(c->d, p);
	host_op_free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

/* ---- host.enroll ------------------------------------------------------- */

static int
apply_enroll(struct store_txn *t, void *arg)
{
	struct host_op *op = arg;

	return hosts_enroll(t, op->hash, op->addr,
	    op->new_serial != NULL ? op->new_serial : "", op->until, op->now,
	    &op->rec, &op->refused, op->msg);
}

static void
done_enroll(void *arg, int rc)
{
	struct host_op *op = arg;
	struct call *c = op->c;
	char when[TIMEFMT_LEN];

	if (rc != 0 || op->refused) {
		done_fail(op, rc);
		return;
	}
	time_rfc3339(op->until, when);
	call_reply(c,
	    json_pack("{s:s, s:s, s:s, s:I, s:s}", "host", op->rec.host, "cert",
		op->cert, "serial", op->new_serial, "expires_at",
		(json_int_t)op->until, "expires", when));
	host_op_free(op);
}

/* Printable ASCII only: a token is ours, and anything else is a typo. */
static bool
token_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

int
op_host_enroll(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct host_op *op = NULL;
	struct store_txn *t = NULL;
	struct host_token k;
	const char *token = NULL, *csr = NULL;
	const struct proto_arg spec[] = {
		{ "token", PA_STR, true, 0, HOST_TOKEN_MAX, &token },
		{ "csr", PA_STR, true, 0, HOST_CSR_MAX, &csr },
	};
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_STATE;
	if (c->d->hostca == NULL) {
		brk_error_set(&err, r,
		    "hosts cannot enroll: this broker has no "
		    "TLS listener (tls section)");
		goto fail;
	}
	r = BRK_ERR_INVALID;
	if (token[0] == '\0' || !token_text_ok(token)) {
		brk_error_set(&err, r,
		    "a join token is printable text without "
		    "spaces");
		goto fail;
	}
	if ((op = host_op_new(c)) == NULL)
		return 0;
	if ((r = hosts_token_hash(token, op->hash)) != 0 ||
	    (r = call_read(c, &t)) != 0)
		goto fail;
	/* a token we never made is refused here, without a write: anyone
	 * can send one, and a guess must not cost a sync or an audit record
	 * (the token has 256 random bits; it is logged, as its hash) */
	if ((r = hosts_token_get(t, op->hash, &k)) == BRK_ERR_NOTFOUND) {
		log_warn("event=host_enroll_refused addr=%s token_id=%.12s "
			 "why=\"unknown join token\"",
		    op->addr, op->hash);
		brk_error_set(&err, BRK_ERR_DENIED,
		    "unknown join token (ask a "
		    "policy admin for a new one: broker host token create "
		    "HOST)");
		r = BRK_ERR_DENIED;
		goto fail;
	}
	/* sign only for a token usable now; the write checks it again and
	 * audits every refusal (hosts_enroll) */
	if (r == 0 && k.used_at == 0 && op->now < k.until &&
	    hosts_name_valid(k.host)) {
		op->until = op->now + c->d->cfg->host_cert_ttl;
		if ((r = userca_issue(c->d->hostca, csr, k.host, op->now,
			 c->d->cfg->host_cert_ttl, &op->cert, &op->new_serial,
			 &err)) != 0)
			goto fail; /* a bad CSR: the token stays usable */
	}
	return submit(c, op, apply_enroll, done_enroll);
fail:
	host_op_free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

/* ---- host.sync --------------------------------------------------------- */

/* Renew in the last third of the lifetime, and only then: a host that
 * asks every minute does not get a certificate every minute. */
static bool
renew_due(const struct brokerd *d, const struct host_rec *h, int64_t now)
{
	return h->cert_expires_at - now < d->cfg->host_cert_ttl / 3;
}

static int
apply_sync(struct store_txn *t, void *arg)
{
	struct host_op *op = arg;

	struct host_rec rec;

	if (op->new_serial != NULL &&
	    (hosts_get(t, op->host, &rec) != 0 ||
		!renew_due(op->c->d, &rec, op->now))) {
		/* too early (or no record: hosts_sync refuses): no renewal */
		free(op->cert);
		free(op->new_serial);
		op->cert = op->new_serial = NULL;
	}
	if (op->serial[0] == '\0') {
		/* not an enrolled host: a person, or a host of client_ca */
		op->refused = true;
		return hosts_audit_refused(
		    t, op->host, op->addr, "host.sync", op->msg, op->now);
	}
	return hosts_sync(t, op->host, op->serial, op->addr, op->new_serial,
	    op->until, op->now, &op->rec, &op->refused, op->msg);
}

/* host.sync's reply: the record as the sync left it, a renewed
 * certificate, and the parts "include" asked for. */
static json_t *
sync_reply(struct host_op *op)
{
	struct call *c = op->c;
	char when[TIMEFMT_LEN];
	const char *k;
	json_t *o, *v;

	time_rfc3339(op->rec.cert_expires_at, when);
	/* renew_due: the host should send a CSR (it may judge by its own
	 * certificate too; the broker's hosts.cert_ttl decides) */
	o = json_pack("{s:s, s:b, s:b, s:s, s:I, s:s, s:I}", "host",
	    op->rec.host, "renewed", op->cert != NULL, "renew_due",
	    op->cert == NULL && renew_due(c->d, &op->rec, op->now), "serial",
	    op->rec.serial, "cert_expires_at",
	    (json_int_t)op->rec.cert_expires_at, "cert_expires", when,
	    "last_sync_at", (json_int_t)op->rec.last_sync_at);
	if (o != NULL && op->cert != NULL)
		json_object_set_new(o, "cert", json_string(op->cert));
	if (o != NULL && op->extra != NULL)
		json_object_foreach (op->extra, k, v)
			json_object_set(o, k, v);
	return o;
}

static void
done_sync(void *arg, int rc)
{
	struct host_op *op = arg;
	struct call *c = op->c;

	if (rc != 0 || op->refused) {
		done_fail(op, rc);
		return;
	}
	call_reply(c, sync_reply(op));
	host_op_free(op);
}

/* "include": a list of "snapshot", "krl" and "ca", into *mask. */
static int
parse_include(const json_t *v, unsigned *mask, struct brk_error *err)
{
	static const char *const names[] = { "snapshot", "krl", "ca" };
	const json_t *e;
	const char *s;
	size_t i, j;

	*mask = 0;
	if (!json_is_array(v) || json_array_size(v) > 8)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "host.sync's \"include\" is a list of \"snapshot\", "
		    "\"krl\" and \"ca\"");
	json_array_foreach (v, i, e) {
		s = json_string_value(e);
		for (j = 0; s != NULL && j < 3; j++)
			if (strcmp(s, names[j]) == 0)
				break;
		if (s == NULL || j == 3)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "host.sync cannot include \"%.32s\" (only "
			    "\"snapshot\", \"krl\" and \"ca\")",
			    s != NULL ? s : "a value that is not text");
		*mask |= 1u << j;
	}
	return 0;
}

/*
 * The parts of "include" into op->extra under the names of their ops'
 * replies ("snapshot", "krl", "ca"), read before the sync's write: each
 * as its own op would answer this host (the snapshot of the host the
 * certificate names, as tls.c allows a host; the KRL and the CA keys,
 * public to every host).
 */
static int
sync_extra(struct call *c, struct store_txn *t, struct host_op *op,
    unsigned mask, struct brk_error *err)
{
	json_t *part = NULL;
	int r;

	if (mask == 0)
		return 0;
	if ((op->extra = json_object()) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	if ((mask & SYNC_SNAPSHOT) != 0) {
		if ((r = ops_snapshot_json(c, t, op->host, 0, &part, err)) != 0)
			return r;
		json_object_set_new(op->extra, "snapshot", part);
	}
	if ((mask & SYNC_KRL) != 0) {
		if ((r = ops_krl_json(c, t, &part, err)) != 0)
			return r;
		json_object_set_new(op->extra, "krl", part);
	}
	if ((mask & SYNC_CA) != 0) {
		if ((part = ops_ca_json(c)) == NULL)
			return brk_error_set(
			    err, BRK_ERR_NOMEM, "out of memory");
		json_object_set_new(op->extra, "ca", part);
	}
	return 0;
}

/*
 * Whether this sync may answer from the store as it is, with no write: a
 * host in good standing (hosts_cert_ok, as the write would check), no
 * renewal, the same address, and a last sync recorded within
 * HOST_SYNC_GRAIN.  Anything else (a refusal to audit, a renewal, a new
 * address, an old last sync) goes through the writer.
 */
static bool
sync_unchanged(struct store_txn *t, struct host_op *op)
{
	char why[REQ_MSG_LEN];

	/* one read and decode of the record for the check and the rest */
	return op->cert == NULL &&
	    hosts_cert_check(
		t, op->host, op->serial, &op->rec, why, sizeof(why)) == 0 &&
	    op->rec.removed_at == 0 && strcmp(op->rec.source, op->addr) == 0 &&
	    op->rec.last_sync_at <= op->now &&
	    op->now - op->rec.last_sync_at < HOST_SYNC_GRAIN;
}

int
op_host_sync(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct host_op *op = NULL;
	const char *csr = NULL;
	const struct proto_arg spec[] = {
		{ "csr", PA_STR, false, 0, HOST_CSR_MAX, &csr },
	};
	json_t *args = NULL, *inc;
	struct store_txn *t = NULL;
	unsigned mask = 0;
	bool unchanged;
	int r;

	/* "include" is a list, which proto_args_parse does not read */
	r = BRK_ERR_NOMEM;
	if ((args = json_is_object(c->req->args) ? json_copy(c->req->args) :
						   json_object()) == NULL)
		goto fail;
	if ((inc = json_object_get(args, "include")) != NULL &&
	    (r = parse_include(inc, &mask, &err)) != 0)
		goto fail;
	json_object_del(args, "include");
	if ((r = proto_args_parse(
		 args, spec, sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	if ((op = host_op_new(c)) == NULL) {
		json_decref(args);
		return 0;
	}
	if (c->host_serial[0] == '\0') {
		snprintf(op->host, sizeof(op->host), "%s",
		    c->host[0] != '\0' ? c->host : c->who.name);
		snprintf(op->msg, sizeof(op->msg),
		    "host sync needs the certificate of an enrolled host "
		    "(broker host enroll); %s%s connected with %s",
		    c->host[0] != '\0' ? "host " : "", op->host,
		    c->host[0] != '\0'	   ? "a certificate of tls.client_ca" :
			c->addr[0] != '\0' ? "a person's login certificate" :
					     "the local socket");
		json_decref(args);
		return submit(c, op, apply_sync, done_sync);
	}
	snprintf(op->host, sizeof(op->host), "%s", c->host);
	snprintf(op->serial, sizeof(op->serial), "%s", c->host_serial);
	/* signed here, off the writer; kept only if the write finds the
	 * renewal due (apply_sync) */
	if (csr != NULL && c->d->hostca != NULL) {
		op->until = op->now + c->d->cfg->host_cert_ttl;
		if ((r = userca_issue(c->d->hostca, csr, op->host, op->now,
			 c->d->cfg->host_cert_ttl, &op->cert, &op->new_serial,
			 &err)) != 0)
			goto fail;
	}
	json_decref(args);
	args = NULL;
	/* one read for the parts and the check (a call's read begins once) */
	if ((r = call_read(c, &t)) != 0 ||
	    (r = sync_extra(c, t, op, mask, &err)) != 0)
		goto fail;
	unchanged = sync_unchanged(t, op);
	log_debug("event=host_sync host=%s include=%s%s%s recorded=%s",
	    op->host, (mask & SYNC_SNAPSHOT) != 0 ? "snapshot," : "",
	    (mask & SYNC_KRL) != 0 ? "krl," : "",
	    (mask & SYNC_CA) != 0 ? "ca" : "", unchanged ? "no" : "yes");
	if (unchanged) {
		call_reply(c, sync_reply(op));
		host_op_free(op);
		return 0;
	}
	return submit(c, op, apply_sync, done_sync);
fail:
	json_decref(args);
	host_op_free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

/* ---- host.list, host.remove -------------------------------------------- */

/* Policy admins, auditors and reviewers; never a host. */
static int
may_list_hosts(struct call *c, struct brk_error *err)
{
	struct policy_ref *p = policy_get(c->d);
	bool may = c->host[0] == '\0' && call_may_see_all(c, p);

	policy_put(c->d, p);
	if (may)
		return 0;
	return brk_error_set(err, BRK_ERR_DENIED,
	    "%s may not list hosts (policy admins, auditors and reviewers "
	    "may)",
	    c->host[0] != '\0' ? c->host : c->who.name);
}

int
op_host_list(struct call *c)
{
	return ops_list(c, may_list_hosts, hosts_list);
}

static int
apply_remove(struct store_txn *t, void *arg)
{
	struct host_op *op = arg;

	return hosts_remove(
	    t, &op->actor, op->host, op->reason, op->now, op->msg);
}

static void
done_remove(void *arg, int rc)
{
	struct host_op *op = arg;
	struct call *c = op->c;

	if (rc != 0) {
		done_fail(op, rc);
		return;
	}
	call_reply(c, host_json(&op->rec, op->now));
	host_op_free(op);
}

/* On the writer, after hosts_remove: the record as it is now, for the
 * reply. */
static int
apply_remove_read(struct store_txn *t, void *arg)
{
	struct host_op *op = arg;
	int r;

	if ((r = apply_remove(t, arg)) != 0)
		return r;
	return hosts_get(t, op->host, &op->rec);
}

int
op_host_remove(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = NULL;
	struct host_op *op = NULL;
	const char *host = NULL, *reason = "";
	const struct proto_arg spec[] = {
		{ "host", PA_STR, true, 0, HOST_NAME_MAX_LEN, &host },
		{ "reason", PA_STR, false, 0, 1024, &reason },
	};
	bool may;
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_INVALID;
	if (!hosts_name_valid(host)) {
		brk_error_set(&err, r, "\"%.64s\" is not a host name", host);
		goto fail;
	}
	p = policy_get(c->d);
	may = c->host[0] == '\0' && call_has_role(c, p, ROLE_POLICY_ADMINS);
	policy_put(c->d, p);
	r = BRK_ERR_DENIED;
	if (!may) {
		brk_error_set(&err, r,
		    "%s may not remove hosts (policy admins "
		    "may)",
		    c->host[0] != '\0' ? c->host : c->who.name);
		goto fail;
	}
	if ((op = host_op_new(c)) == NULL)
		return 0;
	snprintf(op->host, sizeof(op->host), "%s", host);
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	return submit(c, op, apply_remove_read, done_remove);
fail:
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}
