/*
 * test_snapshot.c - signed host snapshots: round trip, every single-byte
 * change refused, wrong host / expired / future refused, strict payload
 * parsing of signed-but-odd documents, and login decisions.
 *
 * Snapshots and audit anchors share one verifier (signdoc.c).  Fails when
 * signdoc_verify() ignores a signature that does not verify: checked by
 * dropping that test once (every_byte_flip_refused went red here, and
 * t_audit.sh's tampered anchor "on its signature" check with it).
 */
#include "sshtest.h"

#include <openssl/evp.h>

#include "ca.h"
#include "errors.h"
#include "snapshot.h"
#include "snapshot_sign.h"

#define NOW 1700000000

static struct ca *
open_ca(const char *dir)
{
	struct brk_error err = { "" };
	struct ca *ca = NULL;

	cr_assert_eq(ca_open(dir, &ca, &err), 0, "%s", err.msg);
	return ca;
}

static struct snapshot *
sample(void)
{
	struct brk_error err = { "" };
	struct snapshot *s;

	cr_assert_eq(snapshot_new("host:web-1", NOW, NOW + 300, &s, &err), 0,
	    "%s", err.msg);
	cr_assert_str_eq(s->host, "web-1");
	cr_assert_eq(snapshot_add_grant(s, "alice", "alice", NOW + 3600, 41,
	    &err), 0, "%s", err.msg);
	cr_assert_eq(snapshot_add_grant(s, "bob", "postgres", NOW + 60, 42,
	    &err), 0, "%s", err.msg);
	cr_assert_eq(snapshot_add_grant(s, "carol", "carol", NOW + 3600, 43,
	    &err), 0, "%s", err.msg);
	cr_assert_eq(snapshot_add_grant(s, "dave", "dave", NOW - 1, 44, &err),
	    0, "%s", err.msg);
	cr_assert_eq(snapshot_add_block(s, "user:carol", "carol", NOW + 600,
	    "flagged by monitoring: \xc3\xa9t\xc3\xa9 \"quoted\"", &err), 0,
	    "%s", err.msg);
	cr_assert_eq(snapshot_add_block(s, "label:env=prod", "*", NOW - 10,
	    "", &err), 0, "%s", err.msg);
	return s;
}

static int
verify(const char *text, size_t len, const struct ca *ca, const char *host,
    time_t now, struct snapshot **out, struct brk_error *err)
{
	const char *const *lines;
	size_t n = ca_all_public_lines(ca, &lines);

	return snapshot_verify(text, len, lines, n, host, now, out, err);
}

Test(snapshot, round_trip)
{
	char *dir = tmpdir_new(), *text;
	struct brk_error err = { "" };
	struct ca *ca = open_ca(dir);
	struct snapshot *s = sample(), *v;
	size_t i;

	cr_assert_eq(snapshot_sign(ca, s, &text), 0);
	/* Three lines, the last naming the key. */
	cr_assert_eq(strncmp(text, "broker-snapshot-v2\n{\"v\":2,", 26), 0);
	cr_assert_not_null(strstr(text, "\nsig ed25519 "));
	cr_assert_not_null(strstr(text, ca_key_id(ca)));
	cr_assert_eq(text[strlen(text) - 1], '\n');
	cr_assert_eq(verify(text, strlen(text), ca, "web-1", NOW, &v, &err), 0,
	    "%s", err.msg);
	cr_assert_str_eq(v->host, "web-1");
	cr_assert_eq(v->issued_at, NOW);
	cr_assert_eq(v->expires_at, NOW + 300);
	cr_assert_str_eq(v->key_id, ca_key_id(ca));
	cr_assert_eq(v->ngrants, s->ngrants);
	for (i = 0; i < s->ngrants; i++) {
		cr_assert_str_eq(v->grants[i].user, s->grants[i].user);
		cr_assert_str_eq(v->grants[i].role, s->grants[i].role);
		cr_assert_eq(v->grants[i].expires_at, s->grants[i].expires_at);
		cr_assert_eq(v->grants[i].serial, s->grants[i].serial);
	}
	cr_assert_eq(v->nblocks, s->nblocks);
	for (i = 0; i < s->nblocks; i++) {
		cr_assert_str_eq(v->blocks[i].scope, s->blocks[i].scope);
		cr_assert_str_eq(v->blocks[i].user, s->blocks[i].user);
		cr_assert_eq(v->blocks[i].until, s->blocks[i].until);
		cr_assert_str_eq(v->blocks[i].reason, s->blocks[i].reason);
	}
	snapshot_free(v);
	/* "host:web-1" names the same host. */
	cr_assert_eq(verify(text, strlen(text), ca, "host:web-1", NOW, &v,
	    &err), 0, "%s", err.msg);
	snapshot_free(v);
	/* An empty snapshot is fine too. */
	free(text);
	snapshot_free(s);
	cr_assert_eq(snapshot_new("db", NOW, NOW + 1, &s, &err), 0);
	cr_assert_eq(snapshot_sign(ca, s, &text), 0);
	cr_assert_eq(verify(text, strlen(text), ca, "db", NOW, &v, &err), 0,
	    "%s", err.msg);
	cr_assert_eq(v->ngrants + v->nblocks, 0);
	snapshot_free(v);
	snapshot_free(s);
	snapshot_free(NULL);
	free(text);
	ca_free(ca);
	tmpdir_free(dir);
}

Test(snapshot, every_byte_flip_refused, .timeout = 120)
{
	static const uint8_t masks[] = { 0x01, 0x20, 0x80, 0xff };
	char *dir = tmpdir_new(), *text, *copy;
	struct ca *ca = open_ca(dir);
	struct snapshot *s = sample(), *v;
	size_t i, m, len;

	cr_assert_eq(snapshot_sign(ca, s, &text), 0);
	len = strlen(text);
	copy = malloc(len + 1);
	for (m = 0; m < sizeof(masks); m++) {
		for (i = 0; i < len; i++) {
			memcpy(copy, text, len + 1);
			copy[i] ^= (char)masks[m];
			v = (struct snapshot *)1;
			cr_assert_neq(verify(copy, len, ca, "web-1", NOW, &v,
			    NULL), 0, "byte %zu ^ 0x%02x accepted", i,
			    masks[m]);
			cr_assert_null(v);
		}
	}
	/* Truncated anywhere, or with anything appended. */
	for (i = 0; i < len; i++)
		cr_assert_neq(verify(text, i, ca, "web-1", NOW, &v, NULL), 0);
	memcpy(copy, text, len + 1);
	copy = realloc(copy, len + 2);
	copy[len] = '\n';
	copy[len + 1] = '\0';
	cr_assert_eq(verify(copy, len + 1, ca, "web-1", NOW, &v, NULL),
	    BRK_ERR_INVALID);
	free(copy);
	free(text);
	snapshot_free(s);
	ca_free(ca);
	tmpdir_free(dir);
}

Test(snapshot, host_and_time_checked)
{
	char *dir = tmpdir_new(), *text;
	struct brk_error err = { "" };
	struct ca *ca = open_ca(dir);
	struct snapshot *s = sample(), *v;
	size_t len;

	cr_assert_eq(snapshot_sign(ca, s, &text), 0);
	len = strlen(text);
	cr_assert_eq(verify(text, len, ca, "web-2", NOW, &v, &err),
	    BRK_ERR_VERIFY);
	cr_assert_not_null(strstr(err.msg, "web-2"), "%s", err.msg);
	cr_assert_eq(verify(text, len, ca, "web-10", NOW, &v, &err),
	    BRK_ERR_VERIFY);
	cr_assert_eq(verify(text, len, ca, "host:web-", NOW, &v, &err),
	    BRK_ERR_VERIFY);
	/* Expiry: valid until the second before expires_at. */
	cr_assert_eq(verify(text, len, ca, "web-1", NOW + 299, &v, &err), 0);
	snapshot_free(v);
	cr_assert_eq(verify(text, len, ca, "web-1", NOW + 300, &v, &err),
	    BRK_ERR_VERIFY);
	cr_assert_not_null(strstr(err.msg, "expired"), "%s", err.msg);
	/* Issued in the future: up to 60 s of skew is tolerated. */
	cr_assert_eq(verify(text, len, ca, "web-1", NOW - 60, &v, &err), 0);
	snapshot_free(v);
	cr_assert_eq(verify(text, len, ca, "web-1", NOW - 61, &v, &err),
	    BRK_ERR_VERIFY);
	cr_assert_not_null(strstr(err.msg, "not valid yet"), "%s", err.msg);
	free(text);
	snapshot_free(s);
	ca_free(ca);
	tmpdir_free(dir);
}

Test(snapshot, keys_and_rotation)
{
	char *dir = tmpdir_new(), *other = tmpdir_new(), *text;
	struct brk_error err = { "" };
	struct ca *ca = open_ca(dir), *ca2, *stranger = open_ca(other);
	struct snapshot *s = sample(), *v;
	const char *const *lines;
	const char *line;
	size_t len;

	cr_assert_eq(snapshot_sign(ca, s, &text), 0);
	len = strlen(text);
	/* A stranger's key, no keys, junk keys: refused. */
	cr_assert_eq(verify(text, len, stranger, "web-1", NOW, &v, &err),
	    BRK_ERR_VERIFY);
	cr_assert_eq(snapshot_verify(text, len, NULL, 0, "web-1", NOW, &v,
	    &err), BRK_ERR_VERIFY);
	line = "ssh-ed25519 garbage";
	cr_assert_eq(snapshot_verify(text, len, &line, 1, "web-1", NOW, &v,
	    &err), BRK_ERR_VERIFY);
	/* After a rotation the old key is still listed and still verifies;
	 * new snapshots are signed with the new key. */
	cr_assert_eq(ca_rotate(dir, &err), 0);
	ca2 = open_ca(dir);
	cr_assert_eq(ca_all_public_lines(ca2, &lines), 2);
	cr_assert_eq(verify(text, len, ca2, "web-1", NOW, &v, &err), 0, "%s",
	    err.msg);
	snapshot_free(v);
	/* Only the old key given: a new snapshot does not verify. */
	free(text);
	cr_assert_eq(snapshot_sign(ca2, s, &text), 0);
	cr_assert_not_null(strstr(text, ca_key_id(ca2)));
	cr_assert_eq(snapshot_verify(text, strlen(text), &lines[1], 1,
	    "web-1", NOW, &v, &err), BRK_ERR_VERIFY);
	cr_assert_eq(snapshot_verify(text, strlen(text), lines, 2, "web-1",
	    NOW, &v, &err), 0);
	snapshot_free(v);
	free(text);
	snapshot_free(s);
	ca_free(ca);
	ca_free(ca2);
	ca_free(stranger);
	tmpdir_free(dir);
	tmpdir_free(other);
}

/* Sign arbitrary payload bytes with the real key, as a buggy encoder
 * could: the verifier must still refuse anything off-format. */
static char *
sign_magic(const struct ca *ca, const char *magic, const char *payload)
{
	unsigned char b64[100];
	uint8_t sig[64];
	char *body, *text;

	cr_assert_gt(asprintf(&body, "%s\n%s\n", magic, payload), 0);
	cr_assert_eq(ca_sign(ca, (const uint8_t *)body, strlen(body), sig), 0);
	EVP_EncodeBlock(b64, sig, 64);
	cr_assert_gt(asprintf(&text, "%ssig ed25519 %s %s\n", body,
	    ca_key_id(ca), (char *)b64), 0);
	free(body);
	return text;
}

static char *
sign_payload(const struct ca *ca, const char *payload)
{
	return sign_magic(ca, SNAPSHOT_MAGIC, payload);
}

/* Each is HEAD (naming the signer's key id) followed by a tail. */
static const char *const bad_tails[] = {
	/* unknown top-level key; missing key; wrong types */
	",\"grants\":[],\"blocks\":[],\"x\":1}",
	",\"grants\":[]}",
	",\"grants\":{},\"blocks\":[]}",
	",\"grants\":[],\"blocks\":null}",
	/* unknown key in a grant; a grant for everyone; bad numbers */
	",\"grants\":[{\"user\":\"a\",\"role\":\"a\",\"expires_at\":1,"
	    "\"serial\":1,\"admin\":true}],\"blocks\":[]}",
	",\"grants\":[{\"user\":\"*\",\"role\":\"a\",\"expires_at\":1,"
	    "\"serial\":1}],\"blocks\":[]}",
	",\"grants\":[{\"user\":\"a\",\"role\":\"a\",\"expires_at\":1,"
	    "\"serial\":-1}],\"blocks\":[]}",
	",\"grants\":[{\"user\":\"a\",\"role\":\"a\",\"expires_at\":1.5,"
	    "\"serial\":1}],\"blocks\":[]}",
	",\"grants\":[{\"user\":\"a\",\"role\":\"a\",\"expires_at\":1}],"
	    "\"blocks\":[]}",
	/* control character in a reason; NUL in a name */
	",\"grants\":[],\"blocks\":[{\"scope\":\"g\",\"user\":\"*\","
	    "\"until\":1,\"reason\":\"a\\nb\"}]}",
	",\"grants\":[{\"user\":\"a\\u0000b\",\"role\":\"a\","
	    "\"expires_at\":1,\"serial\":1}],\"blocks\":[]}",
	/* duplicate key; trailing data */
	",\"grants\":[],\"grants\":[],\"blocks\":[]}",
	",\"grants\":[],\"blocks\":[]} {}",
};

#define HEAD "{\"v\":%d,\"host\":\"web-1\",\"issued_at\":1700000000," \
	"\"expires_at\":1700000300,\"key_id\":\"%s\"%s"

static void
refused(const struct ca *ca, const char *payload)
{
	struct snapshot *v = (struct snapshot *)1;
	struct brk_error err = { "" };
	char *text = sign_payload(ca, payload);

	cr_assert_neq(verify(text, strlen(text), ca, "web-1", NOW, &v, &err),
	    0, "accepted: %s", payload);
	cr_assert_null(v);
	free(text);
}

Test(snapshot, strict_payload)
{
	char *dir = tmpdir_new(), *text, *p;
	struct brk_error err = { "" };
	struct ca *ca = open_ca(dir);
	struct snapshot *v;
	const char *id = ca_key_id(ca);
	size_t i;

	cr_assert_gt(asprintf(&p, HEAD, 2, id,
	    ",\"grants\":[],\"blocks\":[]}"), 0);
	text = sign_payload(ca, p);
	cr_assert_eq(verify(text, strlen(text), ca, "web-1", NOW, &v, &err), 0,
	    "%s", err.msg);
	snapshot_free(v);
	free(text);
	free(p);
	for (i = 0; i < sizeof(bad_tails) / sizeof(bad_tails[0]); i++) {
		cr_assert_gt(asprintf(&p, HEAD, 2, id, bad_tails[i]), 0);
		refused(ca, p);
		free(p);
	}
	/* Another version; a key_id that is not the signer's; not JSON. */
	cr_assert_gt(asprintf(&p, HEAD, 1, id,
	    ",\"grants\":[],\"blocks\":[]}"), 0);
	refused(ca, p);
	free(p);
	cr_assert_gt(asprintf(&p, HEAD, 3, id,
	    ",\"grants\":[],\"blocks\":[]}"), 0);
	refused(ca, p);
	free(p);
	cr_assert_gt(asprintf(&p, HEAD, 2, "0000000000000000",
	    ",\"grants\":[],\"blocks\":[]}"), 0);
	refused(ca, p);
	free(p);
	refused(ca, "[1,2");
	refused(ca, "");
	/*
	 * A genuine, correctly signed version 1 snapshot (issued before
	 * snapshots carried blocks) is refused by name, and so is any magic
	 * this module does not know.  Fails when the verifier accepts v1:
	 * checked by restoring SNAPSHOT_MAGIC "broker-snapshot-v1" and
	 * "v":1 (the code of main), which makes this assertion red.
	 */
	cr_assert_gt(asprintf(&p, HEAD, 1, id, ",\"grants\":[{\"user\":"
	    "\"alice\",\"role\":\"alice\",\"expires_at\":1700003600,"
	    "\"serial\":1}],\"blocks\":[]}"), 0);
	text = sign_magic(ca, "broker-snapshot-v1", p);
	v = NULL;
	cr_assert_eq(verify(text, strlen(text), ca, "web-1", NOW, &v, &err),
	    BRK_ERR_VERIFY, "a v1 snapshot was accepted");
	cr_assert_null(v);
	cr_assert_not_null(strstr(err.msg, "v1"), "%s", err.msg);
	free(text);
	text = sign_magic(ca, "broker-snapshot-v3", p);
	cr_assert_eq(verify(text, strlen(text), ca, "web-1", NOW, &v, &err),
	    BRK_ERR_INVALID);
	free(text);
	free(p);
	ca_free(ca);
	tmpdir_free(dir);
}

Test(snapshot, limits)
{
	struct brk_error err;
	struct snapshot *s;
	char *big;
	size_t i;

	cr_assert_eq(snapshot_new("", NOW, NOW + 1, &s, &err), BRK_ERR_INVALID);
	cr_assert_eq(snapshot_new("a b", NOW, NOW + 1, &s, &err),
	    BRK_ERR_INVALID);
	cr_assert_eq(snapshot_new("h", NOW, NOW, &s, &err), BRK_ERR_INVALID);
	cr_assert_eq(snapshot_new("h", NOW, NOW + 1, &s, &err), 0);
	cr_assert_eq(snapshot_add_grant(s, "a", "b", 1, (uint64_t)INT64_MAX + 1,
	    &err), BRK_ERR_INVALID);
	cr_assert_eq(snapshot_add_grant(s, "a\tb", "b", 1, 1, &err),
	    BRK_ERR_INVALID);
	cr_assert_eq(snapshot_add_block(s, "g", "*", 1, "bad\x1b[31m", &err),
	    BRK_ERR_INVALID);
	cr_assert_eq(snapshot_add_block(s, "g", "*", 1, "\xff\xfe", &err),
	    BRK_ERR_INVALID);
	for (i = 0; i < SNAPSHOT_MAX_GRANTS; i++)
		cr_assert_eq(snapshot_add_grant(s, "u", "u", 1, i, &err), 0);
	cr_assert_eq(snapshot_add_grant(s, "u", "u", 1, i, &err),
	    BRK_ERR_TOOBIG);
	cr_assert_eq(s->ngrants, SNAPSHOT_MAX_GRANTS);
	snapshot_free(s);
	big = calloc(1, SNAPSHOT_MAX_SIZE + 2);
	memset(big, 'x', SNAPSHOT_MAX_SIZE + 1);
	cr_assert_eq(snapshot_verify(big, SNAPSHOT_MAX_SIZE + 1, NULL, 0, "h",
	    NOW, &s, &err), BRK_ERR_TOOBIG);
	free(big);
}

Test(snapshot, decide)
{
	struct snapshot *s = sample();
	const char *why;
	bool ok;

	/* alice: active grant, no block. */
	cr_assert_eq(snapshot_decide(s, "alice", NOW, &ok, &why), 0);
	cr_assert(ok);
	/* bob may log in as his role, postgres, until his grant ends. */
	cr_assert_eq(snapshot_decide(s, "postgres", NOW, &ok, &why), 0);
	cr_assert(ok);
	cr_assert_eq(snapshot_decide(s, "bob", NOW + 60, &ok, &why), 0);
	cr_assert(!ok);
	/*
	 * ... but not as himself: a grant admits its role only, as the live
	 * check does (grantrule.c).  Fails when snapshot_decide() also
	 * matches the grant's user: checked with the code of main, which let
	 * "bob" in here.
	 */
	cr_assert_eq(snapshot_decide(s, "bob", NOW, &ok, &why), 0);
	cr_assert(!ok, "bob logged in as himself on a grant for postgres");
	/* carol is blocked; the reason is given. */
	cr_assert_eq(snapshot_decide(s, "carol", NOW, &ok, &why), 0);
	cr_assert(!ok);
	cr_assert_not_null(strstr(why, "flagged"), "%s", why);
	/* dave's grant has expired; eve never had one. */
	cr_assert_eq(snapshot_decide(s, "dave", NOW, &ok, &why), 0);
	cr_assert(!ok);
	cr_assert_eq(snapshot_decide(s, "eve", NOW, &ok, &why), 0);
	cr_assert(!ok);
	/* A block for everyone that is still in force stops alice too. */
	cr_assert_eq(snapshot_add_block(s, "global", "*", NOW + 10, "freeze",
	    NULL), 0);
	cr_assert_eq(snapshot_decide(s, "alice", NOW, &ok, &why), 0);
	cr_assert(!ok);
	cr_assert_str_eq(why, "freeze");
	cr_assert_eq(snapshot_decide(s, "alice", NOW + 10, &ok, &why), 0);
	cr_assert(ok);
	/* A block on the requester applies when logging in as the role. */
	cr_assert_eq(snapshot_add_block(s, "user:bob", "bob", NOW + 30, "",
	    NULL), 0);
	cr_assert_eq(snapshot_decide(s, "postgres", NOW + 20, &ok, &why), 0);
	cr_assert(!ok);
	/* A block naming the login account, not the grant's user, does not
	 * refuse it: blocks concern users, as live (ops_query.c). */
	cr_assert_eq(snapshot_add_block(s, "user:postgres", "postgres",
	    NOW + 300, "", NULL), 0);
	cr_assert_eq(snapshot_decide(s, "postgres", NOW + 40, &ok, &why), 0);
	cr_assert(ok);
	/* Past the snapshot's own expiry nothing is allowed. */
	cr_assert_eq(snapshot_decide(s, "alice", NOW + 300, &ok, &why), 0);
	cr_assert(!ok);
	cr_assert_eq(snapshot_decide(NULL, "alice", NOW, &ok, &why),
	    BRK_ERR_INVALID);
	snapshot_free(s);
}
