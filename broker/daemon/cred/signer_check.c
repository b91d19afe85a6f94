/*
 * signer_check.c - what the CA signer agrees to sign.
 *
 * The one idea: the signer is not a signing oracle.  A daemon taken over
 * through its JSON, LDAP, TLS or libcurl code can ask the signer for
 * signatures, so the signer parses every document in full and signs only
 * the three kinds the broker makes, each in the exact shape the broker's
 * own code produces (sshcert.c, snapshot_encode_unsigned(), ops_audit.c's
 * anchors).  The kinds are told apart by their first bytes: a certificate
 * body starts with the u32 length of its type name (a zero byte), the
 * other two with their own magic line, so a document of one kind never
 * reads as one of another.
 *
 * The checks are structural, not policy: the signer does not know who may
 * have which role.  They bound what a compromised daemon gets (user
 * certificates only, never an empty principal list, which OpenSSH reads as
 * "any principal", never a host certificate, never more than a year and a
 * bit of validity) and keep out anything that is not a broker document.
 */
#include "signer.h"

#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "snapshot.h"
#include "sshkey.h"

#define SNAPSHOT_MAGIC_LINE SNAPSHOT_MAGIC "\n" /* the version we make */
#define ANCHOR_MAGIC_LINE "broker-audit-anchor-v1\n"
#define CERT_TYPE_USER 1
#define CERT_NONCE_LEN 32
#define CERT_TEXT_MAX 4096 /* key id, principal, option value */
#define CERT_PRINCIPALS_MAX 256
#define ANCHOR_MAX 4096
#define SKEW_MAX 3600 /* policy limits.clock_skew's ceiling */
/* valid_after is starts_at - skew; starts_at at most schedule_max ahead */
#define VALID_SPAN_MAX ((uint64_t)DURATION_MAX + SKEW_MAX)

/* A bounds-checked reader over the document (nothing is copied). */
struct rd {
	const uint8_t *p;
	size_t n;
};

static int
get_u32(struct rd *r, uint32_t *v)
{
	if (r->n < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return 0;
}

static int
get_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (get_u32(r, &hi) != 0 || get_u32(r, &lo) != 0)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int
get_string(struct rd *r, const uint8_t **s, size_t *len)
{
	uint32_t l;

	if (get_u32(r, &l) != 0 || l > r->n)
		return -1;
	*s = r->p;
	*len = l;
	r->p += l;
	r->n -= l;
	return 0;
}

/* Printable ASCII, 1..max bytes; blanks and commas only if allowed. */
static int
text_ok(const uint8_t *s, size_t len, size_t max, int allow_sep)
{
	size_t i;

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
		if (!allow_sep && (s[i] == ' ' || s[i] == ','))
			return 0;
	}
	return 1;
}

static int
is(const uint8_t *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* The user's key: the key type's fields, checked as a key by sshkey.c. */
static int
check_user_key(struct rd *r, const uint8_t *type, size_t tlen)
{
	static const char suffix[] = "-cert-v01@openssh.com";
	const size_t slen = sizeof(suffix) - 1;
	const uint8_t *start = r->p, *f;
	struct sshkey *k = NULL;
	uint8_t *blob = NULL;
	size_t klen, flen, nfields, i, bl;
	int ok = 0;

	if (tlen <= slen || memcmp(type + tlen - slen, suffix, slen) != 0)
		return 0;
	klen = tlen - slen;
	/* ed25519: pk; ecdsa: curve, Q; rsa: e, n */
	nfields = is(type, klen, "ssh-ed25519") ? 1 : 2;
	for (i = 0; i < nfields; i++)
		if (get_string(r, &f, &flen) != 0)
			return 0;
	bl = 4 + klen + (size_t)(r->p - start);
	if ((blob = malloc(bl)) == NULL)
		return 0;
	blob[0] = blob[1] = 0;
	blob[2] = (uint8_t)(klen >> 8);
	blob[3] = (uint8_t)klen;
	memcpy(blob + 4, type, klen);
	memcpy(blob + 4 + klen, start, (size_t)(r->p - start));
	/* the same parse a user's public key gets: type known, point on the
	 * curve, RSA of at least 2048 bits, and the cert type matching it */
	if (sshkey_from_blob(blob, bl, &k, NULL) == 0 &&
	    is(type, tlen, sshkey_cert_type(k)))
		ok = 1;
	sshkey_free(k);
	free(blob);
	return ok;
}

/* A list of strings (principals), each printable without blanks/commas. */
static int
check_principals(const uint8_t *s, size_t len)
{
	struct rd r = { s, len };
	const uint8_t *p;
	size_t plen, n = 0;

	while (r.n > 0) {
		if (get_string(&r, &p, &plen) != 0 ||
		    !text_ok(p, plen, CERT_TEXT_MAX, 0) ||
		    ++n > CERT_PRINCIPALS_MAX)
			return 0;
	}
	return n > 0;
}

/* Critical options: force-command, source-address, in that order, each at
 * most once, value string(string text). */
static int
check_options(const uint8_t *s, size_t len)
{
	static const char *const names[] = { "force-command",
		"source-address" };
	struct rd r = { s, len }, v;
	const uint8_t *name, *data, *text;
	size_t nlen, dlen, tlen, next = 0, i;

	while (r.n > 0) {
		if (get_string(&r, &name, &nlen) != 0 ||
		    get_string(&r, &data, &dlen) != 0)
			return 0;
		for (i = next; i < 2 && !is(name, nlen, names[i]); i++)
			;
		if (i == 2)
			return 0;
		next = i + 1;
		v = (struct rd){ data, dlen };
		if (get_string(&v, &text, &tlen) != 0 || v.n != 0 ||
		    !text_ok(text, tlen, CERT_TEXT_MAX, 1))
			return 0;
	}
	return 1;
}

/* Extensions: known names, sorted, each once, with empty values. */
static int
check_extensions(const uint8_t *s, size_t len)
{
	static const char *const names[] = { "permit-X11-forwarding",
		"permit-agent-forwarding", "permit-port-forwarding",
		"permit-pty", "permit-user-rc" };
	struct rd r = { s, len };
	const uint8_t *name, *data;
	size_t nlen, dlen, next = 0, i;

	while (r.n > 0) {
		if (get_string(&r, &name, &nlen) != 0 ||
		    get_string(&r, &data, &dlen) != 0 || dlen != 0)
			return 0;
		for (i = next; i < 5 && !is(name, nlen, names[i]); i++)
			;
		if (i == 5)
			return 0;
		next = i + 1;
	}
	return 1;
}

static int
check_cert(const uint8_t *msg, size_t len, const uint8_t *ca_blob,
    size_t ca_len, int64_t now, const char **why)
{
	struct rd r = { msg, len };
	const uint8_t *type, *nonce, *s;
	size_t tlen, nlen, slen;
	uint64_t serial, va, vb, t = now > 0 ? (uint64_t)now : 0;
	uint32_t ctype;

	*why = "malformed certificate body";
	if (get_string(&r, &type, &tlen) != 0 ||
	    get_string(&r, &nonce, &nlen) != 0 || nlen != CERT_NONCE_LEN)
		return BRK_ERR_DENIED;
	*why = "not a user key the broker certifies";
	if (!check_user_key(&r, type, tlen))
		return BRK_ERR_DENIED;
	*why = "malformed certificate body";
	if (get_u64(&r, &serial) != 0 || get_u32(&r, &ctype) != 0)
		return BRK_ERR_DENIED;
	*why = "not a user certificate";
	if (ctype != CERT_TYPE_USER)
		return BRK_ERR_DENIED;
	*why = "bad key id";
	if (get_string(&r, &s, &slen) != 0 ||
	    !text_ok(s, slen, CERT_TEXT_MAX, 1))
		return BRK_ERR_DENIED;
	*why = "no principals, or a malformed principal";
	if (get_string(&r, &s, &slen) != 0 || !check_principals(s, slen))
		return BRK_ERR_DENIED;
	*why = "validity out of bounds";
	if (get_u64(&r, &va) != 0 || get_u64(&r, &vb) != 0 || va >= vb ||
	    vb - va > VALID_SPAN_MAX || va > t + VALID_SPAN_MAX)
		return BRK_ERR_DENIED;
	*why = "unknown or malformed critical options";
	if (get_string(&r, &s, &slen) != 0 || !check_options(s, slen))
		return BRK_ERR_DENIED;
	*why = "unknown or malformed extensions";
	if (get_string(&r, &s, &slen) != 0 || !check_extensions(s, slen))
		return BRK_ERR_DENIED;
	*why = "malformed certificate trailer";
	if (get_string(&r, &s, &slen) != 0 || slen != 0)
		return BRK_ERR_DENIED;
	*why = "the certificate does not name the current CA key";
	if (get_string(&r, &s, &slen) != 0 || slen != ca_len ||
	    memcmp(s, ca_blob, ca_len) != 0)
		return BRK_ERR_DENIED;
	*why = "bytes after the certificate body";
	if (r.n != 0)
		return BRK_ERR_DENIED;
	*why = NULL;
	return 0;
}

/* magic line, then one line "{...}\n" of printable ASCII, then nothing. */
static int
check_text_doc(const uint8_t *msg, size_t len, const char *magic, size_t max,
    const char **why)
{
	size_t i, mlen = strlen(magic);

	*why = "the body is not one JSON line of printable ASCII";
	if (len > max || len < mlen + 3 || msg[mlen] != '{' ||
	    msg[len - 2] != '}' || msg[len - 1] != '\n')
		return BRK_ERR_DENIED;
	for (i = mlen; i < len - 1; i++)
		if (msg[i] < 0x20 || msg[i] > 0x7e)
			return BRK_ERR_DENIED;
	*why = NULL;
	return 0;
}

int
signer_check(const uint8_t *msg, size_t len, const uint8_t *ca_blob,
    size_t ca_len, int64_t now, enum signer_kind *kind, const char **why)
{
	static const char snap[] = SNAPSHOT_MAGIC_LINE;
	static const char anchor[] = ANCHOR_MAGIC_LINE;
	int r;

	*kind = SIGNER_KIND_NONE;
	*why = "not a certificate, snapshot or audit anchor";
	if (msg == NULL || len == 0 || ca_blob == NULL)
		return BRK_ERR_DENIED;
	if (msg[0] == 0) {
		if ((r = check_cert(msg, len, ca_blob, ca_len, now, why)) == 0)
			*kind = SIGNER_KIND_CERT;
		return r;
	}
	if (len >= sizeof(snap) - 1 &&
	    memcmp(msg, snap, sizeof(snap) - 1) == 0) {
		if ((r = check_text_doc(msg, len, snap, SIGNER_MSG_MAX, why)) ==
		    0)
			*kind = SIGNER_KIND_SNAPSHOT;
		return r;
	}
	if (len >= sizeof(anchor) - 1 &&
	    memcmp(msg, anchor, sizeof(anchor) - 1) == 0) {
		if ((r = check_text_doc(msg, len, anchor, ANCHOR_MAX, why)) ==
		    0)
			*kind = SIGNER_KIND_ANCHOR;
		return r;
	}
	return BRK_ERR_DENIED;
}
