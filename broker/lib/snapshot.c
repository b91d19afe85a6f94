/*
 * snapshot.c - build, encode, verify and decide from signed host snapshots.
 *
 * The one idea: verification works on the exact bytes that were signed.
 * The text is split into its three lines without interpreting anything,
 * the signature over lines 1-2 is checked with the trusted key the sig line
 * names, and only then is the payload handed to the JSON parser; a parsed
 * value goes through the same snapshot_add_* checks the daemon's builder
 * used, so both sides agree on what a valid snapshot is.  Anything
 * unexpected (a byte after the last newline, an unknown JSON key, a
 * non-canonical base64 signature) is a refusal.
 */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "grantrule.h"
#include "signdoc.h"

#define KEY_ID_LEN 16
#define HOST_PREFIX "host:"

/* Printable ASCII without blanks: host, user and role names. */
static int
valid_name(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= SNAPSHOT_NAME_MAX || s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

static int
valid_scope(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= SNAPSHOT_NAME_MAX || s[i] < 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* UTF-8 (jansson is the judge) without C0 controls or DEL. */
static int
valid_reason(const char *s)
{
	json_t *t;
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= SNAPSHOT_REASON_MAX || (unsigned char)s[i] < 0x20 ||
		    s[i] == 0x7f)
			return 0;
	if ((t = json_string(s)) == NULL)
		return 0;
	json_decref(t);
	return 1;
}

static const char *
bare_host(const char *host)
{
	size_t n = sizeof(HOST_PREFIX) - 1;

	if (host != NULL && strncmp(host, HOST_PREFIX, n) == 0)
		return host + n;
	return host;
}

int
snapshot_new(const char *host, int64_t issued_at, int64_t expires_at,
    struct snapshot **out, struct brk_error *err)
{
	struct snapshot *s = NULL;
	int r = BRK_ERR_INTERNAL;

	if (out == NULL)
		return BRK_ERR_INTERNAL;
	*out = NULL;
	host = bare_host(host);
	if (!valid_name(host)) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "snapshot host name is empty or malformed");
		goto out;
	}
	if (issued_at < 0 || expires_at <= issued_at) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "snapshot must expire after it is issued");
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->host = strdup(host)) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->issued_at = issued_at;
	s->expires_at = expires_at;
	*out = s;
	s = NULL;
	r = 0;
out:
	snapshot_free(s);
	return r;
}

/* Make room for one more element in *arr (of size elt). */
static int
grow(void **arr, size_t n, size_t *cap, size_t elt)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap < 8 ? 8 : *cap * 2;
	if ((p = realloc(*arr, ncap * elt)) == NULL)
		return BRK_ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int
snapshot_add_grant(struct snapshot *s, const char *user, const char *role,
    int64_t expires_at, uint64_t serial, struct brk_error *err)
{
	struct snapshot_grant g = { NULL, NULL, expires_at, serial };
	int r = BRK_ERR_INTERNAL;

	if (s == NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID, "no snapshot");
		goto out;
	}
	if (!valid_name(user) || !valid_name(role) || strcmp(user, "*") == 0 ||
	    strcmp(role, "*") == 0) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "grant %zu: user or role is malformed", s->ngrants + 1);
		goto out;
	}
	if (expires_at < 0 || serial > INT64_MAX) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "grant %zu: expiry or serial out of range", s->ngrants + 1);
		goto out;
	}
	if (s->ngrants >= SNAPSHOT_MAX_GRANTS) {
		r = brk_error_set(err, BRK_ERR_TOOBIG, "more than %d grants",
		    SNAPSHOT_MAX_GRANTS);
		goto out;
	}
	if ((g.user = strdup(user)) == NULL ||
	    (g.role = strdup(role)) == NULL ||
	    grow((void **)&s->grants, s->ngrants, &s->grants_cap, sizeof(g)) !=
		0) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->grants[s->ngrants++] = g;
	g.user = g.role = NULL;
	r = 0;
out:
	free(g.user);
	free(g.role);
	return r;
}

int
snapshot_add_block(struct snapshot *s, const char *scope, const char *user,
    int64_t until, const char *reason, struct brk_error *err)
{
	struct snapshot_block b = { NULL, NULL, until, NULL };
	int r = BRK_ERR_INTERNAL;

	if (s == NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID, "no snapshot");
		goto out;
	}
	if (!valid_scope(scope) || !valid_name(user) || until < 0 ||
	    !valid_reason(reason)) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "block %zu: scope, user, until or reason is malformed",
		    s->nblocks + 1);
		goto out;
	}
	if (s->nblocks >= SNAPSHOT_MAX_BLOCKS) {
		r = brk_error_set(err, BRK_ERR_TOOBIG, "more than %d blocks",
		    SNAPSHOT_MAX_BLOCKS);
		goto out;
	}
	if ((b.scope = strdup(scope)) == NULL ||
	    (b.user = strdup(user)) == NULL ||
	    (b.reason = strdup(reason)) == NULL ||
	    grow((void **)&s->blocks, s->nblocks, &s->blocks_cap, sizeof(b)) !=
		0) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->blocks[s->nblocks++] = b;
	b.scope = b.user = b.reason = NULL;
	r = 0;
out:
	free(b.scope);
	free(b.user);
	free(b.reason);
	return r;
}

void
snapshot_free(struct snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ngrants; i++) {
		free(s->grants[i].user);
		free(s->grants[i].role);
	}
	for (i = 0; i < s->nblocks; i++) {
		free(s->blocks[i].scope);
		free(s->blocks[i].user);
		free(s->blocks[i].reason);
	}
	free(s->grants);
	free(s->blocks);
	free(s->host);
	free(s);
}

/* The payload as a JSON tree; NULL on failure. */
static json_t *
payload_json(const struct snapshot *s, const char *key_id)
{
	json_t *root = NULL, *grants = NULL, *blocks = NULL, *o;
	size_t i;

	if ((grants = json_array()) == NULL || (blocks = json_array()) == NULL)
		goto fail;
	for (i = 0; i < s->ngrants; i++) {
		o = json_pack("{s:s,s:s,s:I,s:I}", "user", s->grants[i].user,
		    "role", s->grants[i].role, "expires_at",
		    (json_int_t)s->grants[i].expires_at, "serial",
		    (json_int_t)s->grants[i].serial);
		if (json_array_append_new(grants, o) != 0)
			goto fail;
	}
	for (i = 0; i < s->nblocks; i++) {
		o = json_pack("{s:s,s:s,s:I,s:s}", "scope", s->blocks[i].scope,
		    "user", s->blocks[i].user, "until",
		    (json_int_t)s->blocks[i].until, "reason",
		    s->blocks[i].reason);
		if (json_array_append_new(blocks, o) != 0)
			goto fail;
	}
	/* "o" steals the arrays, even when it fails. */
	root = json_pack("{s:i,s:s,s:I,s:I,s:s,s:o,s:o}", "v", SNAPSHOT_VERSION,
	    "host", s->host, "issued_at", (json_int_t)s->issued_at,
	    "expires_at", (json_int_t)s->expires_at, "key_id", key_id, "grants",
	    grants, "blocks", blocks);
	return root;
fail:
	json_decref(grants);
	json_decref(blocks);
	return NULL;
}

int
snapshot_encode_unsigned(
    const struct snapshot *s, const char *key_id, char **text, size_t *len)
{
	json_t *root = NULL;
	char *payload = NULL, *t = NULL;
	size_t plen, tlen = 0, mlen = sizeof(SNAPSHOT_MAGIC) - 1;
	int r = BRK_ERR_INTERNAL;

	if (text != NULL)
		*text = NULL;
	if (len != NULL)
		*len = 0;
	if (s == NULL || text == NULL || len == NULL || key_id == NULL ||
	    !signdoc_key_id_valid(key_id, strlen(key_id))) {
		r = BRK_ERR_INVALID;
		goto out;
	}
	if ((root = payload_json(s, key_id)) == NULL ||
	    (payload = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII)) ==
		NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	plen = strlen(payload);
	if (mlen + 1 + plen + 1 > SNAPSHOT_MAX_SIZE - 128) {
		r = BRK_ERR_TOOBIG;
		goto out;
	}
	if ((r = signdoc_unsigned(SNAPSHOT_MAGIC, payload, plen, &t, &tlen)) !=
	    0)
		goto out;
	*text = t;
	*len = tlen;
	r = 0;
out:
	free(payload);
	json_decref(root);
	return r;
}

/* Object o must have exactly these keys (so none unknown, none missing). */
static int
has_exactly(json_t *o, const char *const *keys, size_t n)
{
	size_t i;

	if (!json_is_object(o) || json_object_size(o) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (json_object_get(o, keys[i]) == NULL)
			return 0;
	return 1;
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A non-negative integer member, or -1. */
static int64_t
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return (int64_t)json_integer_value(v);
}

static int
parse_payload(
    const char *p, size_t len, struct snapshot **out, struct brk_error *err)
{
	static const char *const top[] = { "v", "host", "issued_at",
		"expires_at", "key_id", "grants", "blocks" };
	static const char *const gk[] = { "user", "role", "expires_at",
		"serial" };
	static const char *const bk[] = { "scope", "user", "until", "reason" };
	struct snapshot *s = NULL;
	json_error_t jerr;
	json_t *root = NULL, *grants, *blocks, *o;
	const char *kid;
	size_t i;
	int r = BRK_ERR_INTERNAL;

	*out = NULL;
	if ((root = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "snapshot payload is not JSON: %s (column %d)", jerr.text,
		    jerr.column);
		goto out;
	}
	grants = json_object_get(root, "grants");
	blocks = json_object_get(root, "blocks");
	kid = jstr(root, "key_id");
	if (!has_exactly(root, top, sizeof(top) / sizeof(top[0])) ||
	    jint(root, "v") != SNAPSHOT_VERSION || !json_is_array(grants) ||
	    !json_is_array(blocks) || kid == NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "snapshot payload has missing, unknown or mistyped keys");
		goto out;
	}
	if (json_array_size(grants) > SNAPSHOT_MAX_GRANTS ||
	    json_array_size(blocks) > SNAPSHOT_MAX_BLOCKS) {
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "snapshot lists too many grants or blocks");
		goto out;
	}
	if ((r = snapshot_new(jstr(root, "host"), jint(root, "issued_at"),
		 jint(root, "expires_at"), &s, err)) != 0)
		goto out;
	if (!signdoc_key_id_valid(kid, strlen(kid))) {
		r = brk_error_set(err, BRK_ERR_INVALID, "bad key_id");
		goto out;
	}
	memcpy(s->key_id, kid, KEY_ID_LEN + 1);
	json_array_foreach (grants, i, o) {
		if (!has_exactly(o, gk, sizeof(gk) / sizeof(gk[0]))) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "grant %zu has missing or unknown keys", i + 1);
			goto out;
		}
		/* -1 from jint() for a bad number is refused in there. */
		if ((r = snapshot_add_grant(s, jstr(o, "user"), jstr(o, "role"),
			 jint(o, "expires_at"), (uint64_t)jint(o, "serial"),
			 err)) != 0)
			goto out;
	}
	json_array_foreach (blocks, i, o) {
		if (!has_exactly(o, bk, sizeof(bk) / sizeof(bk[0]))) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "block %zu has missing or unknown keys", i + 1);
			goto out;
		}
		if ((r = snapshot_add_block(s, jstr(o, "scope"),
			 jstr(o, "user"), jint(o, "until"), jstr(o, "reason"),
			 err)) != 0)
			goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	snapshot_free(s);
	json_decref(root);
	return r;
}

int
snapshot_verify(const char *text, size_t len,
    const char *const *ca_public_lines, size_t nkeys, const char *host,
    time_t now, struct snapshot **out, struct brk_error *err)
{
	struct snapshot *s = NULL;
	const char *body = NULL;
	char id[SIGNDOC_KEY_ID_LEN + 1];
	size_t blen = 0;
	int r = BRK_ERR_INTERNAL;

	if (out == NULL)
		return BRK_ERR_INTERNAL;
	*out = NULL;
	if (text == NULL || host == NULL) {
		r = brk_error_set(err, BRK_ERR_INVALID, "no snapshot or host");
		goto out;
	}
	if (len > SNAPSHOT_MAX_SIZE) {
		r = brk_error_set(err, BRK_ERR_TOOBIG, "snapshot too large");
		goto out;
	}
	/* Line 1: the magic.  Version 1 carried no blocks, so a host that
	 * followed one would let blocked users in: refused by name. */
	if (len >= sizeof(SNAPSHOT_MAGIC_V1) &&
	    memcmp(text, SNAPSHOT_MAGIC_V1 "\n", sizeof(SNAPSHOT_MAGIC_V1)) ==
		0) {
		r = brk_error_set(err, BRK_ERR_VERIFY,
		    "snapshot format v1 "
		    "is no longer trusted (it carries no blocks): fetch a new "
		    "snapshot");
		goto out;
	}
	if ((r = signdoc_verify(text, len, SNAPSHOT_MAGIC, "snapshot",
		 ca_public_lines, nkeys, &body, &blen, id, err)) != 0)
		goto out;
	/* Authentic from here on; now judge the contents. */
	if ((r = parse_payload(body, blen, &s, err)) != 0)
		goto out;
	if (strcmp(s->key_id, id) != 0) {
		r = brk_error_set(err, BRK_ERR_VERIFY,
		    "snapshot key_id does not match its signature");
		goto out;
	}
	if (strcmp(s->host, bare_host(host)) != 0) {
		r = brk_error_set(err, BRK_ERR_VERIFY,
		    "snapshot is for host %s, not %s", s->host,
		    bare_host(host));
		goto out;
	}
	if (s->issued_at > (int64_t)now + SNAPSHOT_CLOCK_SKEW) {
		r = brk_error_set(err, BRK_ERR_VERIFY,
		    "snapshot is not valid yet (issued in the future)");
		goto out;
	}
	if ((int64_t)now >= s->expires_at) {
		r = brk_error_set(err, BRK_ERR_VERIFY, "snapshot has expired");
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	snapshot_free(s);
	return r;
}

/* The first block in force that refuses grant g, or NULL. */
static const struct snapshot_block *
blocking(const struct snapshot *s, const struct snapshot_grant *g, int64_t now)
{
	size_t i;

	for (i = 0; i < s->nblocks; i++)
		if (grant_blocked_by(
			s->blocks[i].user, s->blocks[i].until, g->user, now))
			return &s->blocks[i];
	return NULL;
}

int
snapshot_decide(const struct snapshot *s, const char *user, time_t now,
    bool *allowed, const char **why)
{
	const struct snapshot_block *blk = NULL;
	const struct snapshot_grant *g;
	const char *reason = "no active grant for this user on this host";
	size_t i;

	if (allowed != NULL)
		*allowed = false;
	if (why != NULL)
		*why = NULL;
	if (s == NULL || user == NULL || allowed == NULL || why == NULL)
		return BRK_ERR_INVALID;
	if ((int64_t)now >= s->expires_at) {
		*why = "the host snapshot has expired";
		return 0;
	}
	for (i = 0; i < s->ngrants; i++) {
		g = &s->grants[i];
		if (!grant_admits(g->role, g->expires_at, user, (int64_t)now))
			continue;
		if ((blk = blocking(s, g, (int64_t)now)) == NULL) {
			*why = "active grant";
			*allowed = true;
			return 0;
		}
		reason = blk->reason[0] != '\0' ?
		    blk->reason :
		    "blocked by an opt-out or flag";
	}
	*why = reason;
	return 0;
}
