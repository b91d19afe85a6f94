/*
 * hosts.c - enrolled hosts and join tokens (see hosts.h): versioned JSON
 * records, read strictly (codec.h), each change with its audit record.
 *
 * A used token stays stored (marked used) so that a second try is told
 * "already used" and audited as such, not as an unknown token; the sweep
 * deletes it (and an expired one) hosts.token_retention later
 * (hosts_token_purge), when that message no longer helps anyone.
 */
#include "hosts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "codec.h"
#include "timefmt.h"

bool
hosts_name_valid(const char *h)
{
	size_t i;

	if (h == NULL || h[0] == '\0' || h[0] == '-' || h[0] == '.')
		return false;
	for (i = 0; h[i] != '\0'; i++)
		if (i >= HOST_NAME_MAX_LEN ||
		    (!isalnum((unsigned char)h[i]) && h[i] != '.' &&
			h[i] != '-' && h[i] != '_'))
			return false;
	return true;
}

int
hosts_token_hash(const char *token, char *hash)
{
	unsigned char md[32];
	unsigned int n = 0, i;

	hash[0] = '\0';
	if (EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) != 1 ||
	    n != sizeof(md))
		return BRK_ERR_CRYPTO;
	for (i = 0; i < n; i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ---- records ----------------------------------------------------------- */

static int
host_decode(const void *data, size_t len, struct host_rec *h)
{
	const char *host, *serial, *prev, *by, *source, *rby = NULL,
							*rreason = NULL;
	json_int_t ver, at, exp, sync, rat = 0;
	json_t *o = NULL;
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = codec_load(data, len, &o)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if (codec_unpack(o,
		"{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s?I, s?s, s?s}",
		"v", &ver, "host", &host, "serial", &serial, "prev_serial",
		&prev, "enrolled_by", &by, "enrolled_at", &at,
		"cert_expires_at", &exp, "last_sync_at", &sync, "source",
		&source, "removed_at", &rat, "removed_by", &rby,
		"removed_reason", &rreason) != 0 ||
	    ver != 1 || codec_str(h->host, sizeof(h->host), host) != 0 ||
	    codec_str(h->serial, sizeof(h->serial), serial) != 0 ||
	    codec_str(h->prev_serial, sizeof(h->prev_serial), prev) != 0 ||
	    codec_str(h->enrolled_by, sizeof(h->enrolled_by), by) != 0 ||
	    codec_str(h->source, sizeof(h->source), source) != 0 ||
	    (rby != NULL &&
		codec_str(h->removed_by, sizeof(h->removed_by), rby) != 0) ||
	    (rreason != NULL &&
		codec_str(h->removed_reason, sizeof(h->removed_reason),
		    rreason) != 0))
		goto out;
	h->enrolled_at = at;
	h->cert_expires_at = exp;
	h->last_sync_at = sync;
	h->removed_at = rat;
	r = 0;
out:
	if (r != 0)
		memset(h, 0, sizeof(*h));
	json_decref(o);
	return r;
}

static int
host_put(struct store_txn *t, const struct host_rec *h)
{
	json_t *o;
	char *s = NULL;
	int r;

	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "v", 1,
	    "host", h->host, "serial", h->serial, "prev_serial", h->prev_serial,
	    "enrolled_by", h->enrolled_by, "enrolled_at",
	    (json_int_t)h->enrolled_at, "cert_expires_at",
	    (json_int_t)h->cert_expires_at, "last_sync_at",
	    (json_int_t)h->last_sync_at, "source", h->source);
	if (o != NULL && h->removed_at != 0 &&
	    (json_object_set_new(o, "removed_at",
		 json_integer((json_int_t)h->removed_at)) != 0 ||
		json_object_set_new(
		    o, "removed_by", json_string(h->removed_by)) != 0 ||
		json_object_set_new(o, "removed_reason",
		    json_string(h->removed_reason)) != 0)) {
		json_decref(o);
		return BRK_ERR_NOMEM;
	}
	if ((r = codec_dump_take(o, &s)) != 0)
		return r;
	r = store_put(t, TBL_HOSTS, h->host, strlen(h->host), s, strlen(s));
	free(s);
	return r;
}

int
hosts_get(struct store_txn *t, const char *h, struct host_rec *out)
{
	struct store_val v;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = store_get(t, TBL_HOSTS, h, strlen(h), &v)) != 0 ||
	    (r = host_decode(v.data, v.len, out)) != 0)
		return r;
	return strcmp(out->host, h) == 0 ? 0 : BRK_ERR_INVALID;
}

static int
token_decode(const void *data, size_t len, struct host_token *k)
{
	const char *host, *by, *from = NULL;
	json_int_t ver, at, until, used = 0;
	json_t *o = NULL;
	int r;

	memset(k, 0, sizeof(*k));
	if ((r = codec_load(data, len, &o)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if (codec_unpack(o, "{s:I, s:s, s:s, s:I, s:I, s?I, s?s}", "v", &ver,
		"host", &host, "by", &by, "at", &at, "until", &until, "used_at",
		&used, "used_from", &from) != 0 ||
	    ver != 1 || codec_str(k->host, sizeof(k->host), host) != 0 ||
	    codec_str(k->by, sizeof(k->by), by) != 0 ||
	    (from != NULL &&
		codec_str(k->used_from, sizeof(k->used_from), from) != 0))
		goto out;
	k->at = at;
	k->until = until;
	k->used_at = used;
	r = 0;
out:
	if (r != 0)
		memset(k, 0, sizeof(*k));
	json_decref(o);
	return r;
}

static int
token_put(struct store_txn *t, const char *hash, const struct host_token *k)
{
	json_t *o;
	char *s = NULL;
	int r;

	o = json_pack("{s:i, s:s, s:s, s:I, s:I}", "v", 1, "host", k->host,
	    "by", k->by, "at", (json_int_t)k->at, "until",
	    (json_int_t)k->until);
	if (o != NULL && k->used_at != 0 &&
	    (json_object_set_new(
		 o, "used_at", json_integer((json_int_t)k->used_at)) != 0 ||
		json_object_set_new(
		    o, "used_from", json_string(k->used_from)) != 0)) {
		json_decref(o);
		return BRK_ERR_NOMEM;
	}
	if ((r = codec_dump_take(o, &s)) != 0)
		return r;
	r = store_put(t, TBL_HOST_TOKENS, hash, strlen(hash), s, strlen(s));
	free(s);
	return r;
}

int
hosts_token_get(struct store_txn *t, const char *hash, struct host_token *out)
{
	struct store_val v;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = store_get(t, TBL_HOST_TOKENS, hash, strlen(hash), &v)) != 0)
		return r;
	return token_decode(v.data, v.len, out);
}

/* ---- changes ----------------------------------------------------------- */

static int
audit_host(struct store_txn *t, int64_t now, const char *action,
    const char *actor, const char *caller, const char *host, const char *reason,
    json_t *details)
{
	char res[HOST_NAME_MAX_LEN + 8];

	snprintf(res, sizeof(res), "host:%s", host);
	return audit_append(t, now,
	    &(struct audit_event){ .action = action,
		.actor = actor,
		.caller = caller,
		.target = host,
		.resource = host[0] != '\0' ? res : NULL,
		.reason = reason,
		.details = details },
	    NULL);
}

int
hosts_token_create(struct store_txn *t, const struct actor *a, const char *hash,
    const struct host_token *tk, int64_t now)
{
	char when[TIMEFMT_LEN];
	json_t *d;
	int r;

	if ((r = token_put(t, hash, tk)) != 0)
		return r;
	time_rfc3339(tk->until, when);
	/* the hash's first digits tell tokens apart in the trail; neither
	 * the token nor its whole hash is written there */
	if ((d = json_pack("{s:I, s:s, s:s%}", "expires_at",
		 (json_int_t)tk->until, "expires", when, "token_id", hash,
		 (size_t)12)) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_host(t, now, "host.token_created", a->user, a->caller,
	    tk->host, NULL, d);
	json_decref(d);
	return r;
}

int
hosts_enroll(struct store_txn *t, const char *hash, const char *addr,
    const char *serial, int64_t cert_expires_at, int64_t now,
    struct host_rec *out, bool *refused, char msg[REQ_MSG_LEN])
{
	struct host_token k;
	char when[TIMEFMT_LEN];
	json_t *d = NULL;
	int r;

	*refused = true;
	msg[0] = '\0';
	memset(out, 0, sizeof(*out));
	r = hosts_token_get(t, hash, &k);
	if (r == BRK_ERR_NOTFOUND)
		snprintf(msg, REQ_MSG_LEN,
		    "unknown join token (ask a policy admin "
		    "for a new one: broker host token create HOST)");
	else if (r != 0)
		snprintf(msg, REQ_MSG_LEN, "the join token cannot be read");
	else if (k.used_at != 0) {
		time_rfc3339(k.used_at, when);
		snprintf(msg, REQ_MSG_LEN,
		    "this join token was already used (at %s from %s); a "
		    "token enrolls one host once",
		    when, k.used_from);
	} else if (now >= k.until) {
		time_rfc3339(k.until, when);
		snprintf(msg, REQ_MSG_LEN,
		    "this join token expired at %s (ask for a new one)", when);
	} else if (serial[0] == '\0')
		/* the op signs only for a token it found usable: here it
		 * found none (or the certificate could not be made) */
		snprintf(msg, REQ_MSG_LEN, "no certificate was issued");
	else
		*refused = false;
	if (*refused) {
		d = json_pack("{s:s, s:s%}", "source", addr, "token_id", hash,
		    (size_t)12);
		r = audit_host(t, now, "host.enroll_failed", "brokerd", NULL,
		    k.host, msg, d);
		json_decref(d);
		return r;
	}
	k.used_at = now;
	snprintf(k.used_from, sizeof(k.used_from), "%s", addr);
	snprintf(out->host, sizeof(out->host), "%s", k.host);
	snprintf(out->serial, sizeof(out->serial), "%s", serial);
	snprintf(out->enrolled_by, sizeof(out->enrolled_by), "%s", k.by);
	snprintf(out->source, sizeof(out->source), "%s", addr);
	out->enrolled_at = now;
	out->cert_expires_at = cert_expires_at;
	if ((r = token_put(t, hash, &k)) != 0 || (r = host_put(t, out)) != 0)
		return r;
	if ((d = json_pack("{s:s, s:s, s:I, s:s%}", "source", addr, "serial",
		 serial, "cert_expires_at", (json_int_t)cert_expires_at,
		 "token_id", hash, (size_t)12)) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_host(
	    t, now, "host.enrolled", k.host, k.host, k.host, NULL, d);
	json_decref(d);
	return r;
}

/* ---- purge ------------------------------------------------------------- */

/* When k stops being worth keeping: keep seconds after it was used, or
 * after it expired unused. */
static int64_t
token_dead_at(const struct host_token *k, int64_t keep)
{
	return (k->used_at != 0 ? k->used_at : k->until) + keep;
}

int
hosts_tokens_stale(struct store_txn *t, int64_t now, int64_t keep,
    int (*cb)(const char *hash, void *arg), void *arg)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	struct host_token tk;
	char hash[HOST_TOKEN_HASH_LEN + 1];
	int r, rc;

	if ((r = store_cursor_open(t, TBL_HOST_TOKENS, &c)) != 0)
		return r;
	for (rc = store_cursor_first(c, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		/* a record that does not read is left for a person to
		 * look at: deleting what we cannot read hides it */
		if (k.len != HOST_TOKEN_HASH_LEN ||
		    token_decode(v.data, v.len, &tk) != 0 ||
		    token_dead_at(&tk, keep) > now)
			continue;
		memcpy(hash, k.data, k.len);
		hash[k.len] = '\0';
		if (cb(hash, arg) != 0)
			break;
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

int
hosts_token_purge(
    struct store_txn *t, const char *hash, int64_t now, int64_t keep)
{
	struct host_token k;
	char when[TIMEFMT_LEN];
	json_t *d;
	int r;

	/* judged again in the write: the scan was made in an older read */
	if ((r = hosts_token_get(t, hash, &k)) == BRK_ERR_NOTFOUND ||
	    r == BRK_ERR_INVALID)
		return 0;
	if (r != 0 || token_dead_at(&k, keep) > now)
		return r;
	if ((r = store_del(t, TBL_HOST_TOKENS, hash, strlen(hash))) != 0)
		return r;
	time_rfc3339(k.used_at != 0 ? k.used_at : k.until, when);
	if ((d = json_pack("{s:s%, s:s, s:s}", "token_id", hash, (size_t)12,
		 k.used_at != 0 ? "used" : "expired", when, "made_by", k.by)) ==
	    NULL)
		return BRK_ERR_NOMEM;
	r = audit_host(
	    t, now, "host.token_purged", "brokerd", "brokerd", k.host, NULL, d);
	json_decref(d);
	return r;
}

int
hosts_cert_ok(struct store_txn *t, const char *h, const char *serial, char *why,
    size_t whylen)
{
	struct host_rec rec;

	return hosts_cert_check(t, h, serial, &rec, why, whylen);
}

int
hosts_cert_check(struct store_txn *t, const char *h, const char *serial,
    struct host_rec *rec_out, char *why, size_t whylen)
{
	const struct host_rec *rec = rec_out;
	char when[TIMEFMT_LEN];
	int r;

	why[0] = '\0';
	if ((r = hosts_get(t, h, rec_out)) == BRK_ERR_NOTFOUND) {
		snprintf(why, whylen,
		    "host %s is not enrolled (broker host "
		    "enroll)",
		    h);
		return BRK_ERR_DENIED;
	}
	if (r != 0) {
		snprintf(
		    why, whylen, "the record of host %s cannot be read", h);
		return r == BRK_ERR_INVALID ? BRK_ERR_DENIED : r;
	}
	if (rec->removed_at != 0) {
		time_rfc3339(rec->removed_at, when);
		snprintf(why, whylen,
		    "host %s was removed at %s by %s: its "
		    "certificate is no longer accepted (enroll it again with a "
		    "new join token)",
		    h, when, rec->removed_by);
		return BRK_ERR_DENIED;
	}
	if (serial[0] == '\0' ||
	    (strcmp(serial, rec->serial) != 0 &&
		strcmp(serial, rec->prev_serial) != 0)) {
		snprintf(why, whylen,
		    "this certificate of host %s has been "
		    "replaced (the host was enrolled again): it is no longer "
		    "accepted",
		    h);
		return BRK_ERR_DENIED;
	}
	return 0;
}

int
hosts_sync(struct store_txn *t, const char *h, const char *serial,
    const char *addr, const char *new_serial, int64_t new_expires, int64_t now,
    struct host_rec *out, bool *refused, char msg[REQ_MSG_LEN])
{
	json_t *d;
	int r;

	*refused = true;
	msg[0] = '\0';
	if ((r = hosts_cert_ok(t, h, serial, msg, REQ_MSG_LEN)) != 0) {
		if (r != BRK_ERR_DENIED)
			return r;
		return hosts_audit_refused(t, h, addr, "host.sync", msg, now);
	}
	*refused = false;
	if ((r = hosts_get(t, h, out)) != 0)
		return r;
	out->last_sync_at = now;
	snprintf(out->source, sizeof(out->source), "%s", addr);
	if (new_serial != NULL) {
		snprintf(
		    out->prev_serial, sizeof(out->prev_serial), "%s", serial);
		snprintf(out->serial, sizeof(out->serial), "%s", new_serial);
		out->cert_expires_at = new_expires;
	}
	if ((r = host_put(t, out)) != 0 || new_serial == NULL)
		return r;
	if ((d = json_pack("{s:s, s:s, s:s, s:I}", "source", addr, "serial",
		 new_serial, "previous_serial", serial, "cert_expires_at",
		 (json_int_t)new_expires)) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_host(t, now, "host.cert_renewed", h, h, h, NULL, d);
	json_decref(d);
	return r;
}

int
hosts_remove(struct store_txn *t, const struct actor *a, const char *h,
    const char *reason, int64_t now, char msg[REQ_MSG_LEN])
{
	struct host_rec rec;
	json_t *d;
	int r;

	msg[0] = '\0';
	if ((r = hosts_get(t, h, &rec)) != 0) {
		snprintf(msg, REQ_MSG_LEN,
		    r == BRK_ERR_NOTFOUND ? "host %s is not enrolled" :
					    "the record of host %s cannot be "
					    "read",
		    h);
		return r;
	}
	if (rec.removed_at != 0) {
		snprintf(msg, REQ_MSG_LEN, "host %s was already removed", h);
		return BRK_ERR_STATE;
	}
	rec.removed_at = now;
	snprintf(rec.removed_by, sizeof(rec.removed_by), "%s", a->user);
	snprintf(rec.removed_reason, sizeof(rec.removed_reason), "%s", reason);
	if ((r = host_put(t, &rec)) != 0)
		return r;
	if ((d = json_pack("{s:s}", "serial", rec.serial)) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_host(
	    t, now, "host.removed", a->user, a->caller, h, reason, d);
	json_decref(d);
	return r;
}

int
hosts_audit_refused(struct store_txn *t, const char *subject, const char *addr,
    const char *op, const char *why, int64_t now)
{
	json_t *d;
	int r;

	if ((d = json_pack("{s:s, s:s, s:s}", "source", addr, "op", op,
		 "subject", subject)) == NULL)
		return BRK_ERR_NOMEM;
	r = audit_append(t, now,
	    &(struct audit_event){ .action = "host.refused",
		.actor = "brokerd",
		.target = subject,
		.reason = why,
		.details = d },
	    NULL);
	json_decref(d);
	return r;
}

/* ---- reading ----------------------------------------------------------- */

json_t *
host_json(const struct host_rec *h, int64_t now)
{
	char exp[TIMEFMT_LEN], at[TIMEFMT_LEN], sync[TIMEFMT_LEN];
	json_t *o;

	time_rfc3339(h->cert_expires_at, exp);
	time_rfc3339(h->enrolled_at, at);
	time_rfc3339(h->last_sync_at, sync);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:I, s:o, s:o}",
	    "host", h->host, "state",
	    h->removed_at != 0		  ? "removed" :
		now >= h->cert_expires_at ? "expired" :
					    "enrolled",
	    "serial", h->serial, "enrolled_by", h->enrolled_by, "enrolled_at",
	    (json_int_t)h->enrolled_at, "enrolled", at, "cert_expires_at",
	    (json_int_t)h->cert_expires_at, "cert_expires", exp, "last_sync_at",
	    (json_int_t)h->last_sync_at, "last_sync",
	    h->last_sync_at != 0 ? json_string(sync) : json_null(), "source",
	    h->source[0] != '\0' ? json_string(h->source) : json_null());
	if (o != NULL && h->removed_at != 0) {
		time_rfc3339(h->removed_at, at);
		json_object_set_new(o, "removed", json_string(at));
		json_object_set_new(
		    o, "removed_at", json_integer((json_int_t)h->removed_at));
		json_object_set_new(
		    o, "removed_by", json_string(h->removed_by));
		json_object_set_new(
		    o, "removed_reason", json_string(h->removed_reason));
	}
	return o;
}

int
hosts_list(struct store_txn *t, bool all, int64_t now, json_t *out)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	struct host_rec h;
	int r, rc;

	if ((r = store_cursor_open(t, TBL_HOSTS, &c)) != 0)
		return r;
	for (rc = store_cursor_first(c, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if ((rc = host_decode(v.data, v.len, &h)) != 0)
			break;
		if (!all && h.removed_at != 0)
			continue;
		json_array_append_new(out, host_json(&h, now));
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}
