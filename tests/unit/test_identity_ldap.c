/*
 * test_identity_ldap.c - the "ldap" config section, filter escaping and
 * the identity cache (identity_ldap_config.c, identity_ldap.c,
 * identity_cache.c), and the directory source failing closed
 * (identity_dir.c: groups unknown, never "no groups").
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "identity_cache.h"
#include "identity_dir.h"
#include "identity_ldap.h"

static char dir[] = "/tmp/test_identity_ldap.XXXXXX";
static char pwfile[sizeof(dir) + 16];

static void
setup(void)
{
	FILE *f;

	cr_assert(mkdtemp(dir) != NULL);
	snprintf(pwfile, sizeof(pwfile), "%s/pw", dir);
	cr_assert((f = fopen(pwfile, "w")) != NULL);
	fputs("s3cret\n", f);
	fclose(f);
	cr_assert(chmod(pwfile, 0600) == 0);
}

static void
teardown(void)
{
	char path[sizeof(dir) + 16];

	snprintf(path, sizeof(path), "%s/pw", dir);
	unlink(path);
	rmdir(dir);
}

/* Parse a section written as JSON text. */
static int
parse(const char *text, struct ldap_config **out, struct brk_error *err)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	int r;

	cr_assert(j != NULL, "bad test JSON %s: %s", text, jerr.text);
	r = ldap_config_parse(j, out, err);
	json_decref(j);
	return r;
}

#define BASE "\"uri\": \"ldap://127.0.0.1:389\", \"user_base\": \"ou=p,dc=x\""

TestSuite(ldap_config, .init = setup, .fini = teardown);

Test(ldap_config, minimal_defaults)
{
	struct brk_error err = { { 0 } };
	struct ldap_config *lc = NULL;

	cr_assert_eq(parse("{" BASE "}", &lc, &err), 0, "%s", err.msg);
	cr_expect_str_eq(lc->user_filter, "(uid=%u)");
	cr_expect_str_eq(lc->user_attr, "uid");
	cr_expect_str_eq(lc->group_base, "ou=p,dc=x");
	cr_expect_eq(lc->starttls, LDAP_STARTTLS_OFF);
	cr_expect_eq(lc->cache_ttl, 60);
	cr_expect_eq(lc->cache_stale_max, 600);
	cr_expect_eq(lc->timeout, 2);
	cr_expect_eq(lc->cache_size, 10000);
	cr_expect_null(lc->bind_dn);
	cr_expect_null(lc->bind_password);
	ldap_config_free(lc);
}

Test(ldap_config, full)
{
	struct brk_error err = { { 0 } };
	struct ldap_config *lc = NULL;
	char text[2048];

	snprintf(text, sizeof(text), "{" BASE ", \"starttls\": \"required\", "
	    "\"ca\": \"/etc/passwd\", \"bind_dn\": \"cn=broker,dc=x\", "
	    "\"bind_password_file\": \"%s\", \"group_base\": \"ou=g,dc=x\", "
	    "\"user_filter\": \"(&(objectClass=person)(uid=%%u))\", "
	    "\"user_attr\": \"uid\", \"nested_groups\": true, "
	    "\"cache_ttl\": 5, \"cache_stale_max\": 5, \"timeout\": 30, "
	    "\"cache_size\": 10}", pwfile);
	cr_assert_eq(parse(text, &lc, &err), 0, "%s", err.msg);
	cr_expect_eq(lc->starttls, LDAP_STARTTLS_REQUIRED);
	cr_expect_str_eq(lc->bind_password, "s3cret");
	cr_expect_eq(lc->bind_password_len, 6);
	cr_expect_str_eq(lc->group_base, "ou=g,dc=x");
	cr_expect(lc->nested_groups);
	cr_expect_eq(lc->timeout, 30);
	ldap_config_free(lc);
}

Test(ldap_config, uris)
{
	const char *good[] = { "ldap://h", "ldaps://h:636", "LDAP://h:389/",
	    "ldapi://%2Frun%2Fslapd%2Fldapi", NULL };
	const char *bad[] = { "http://h", "ldap://h/dc=x", "ldap://h/??sub",
	    "ldap://h ldap://i", "h:389", "ldap://h/?cn?sub?(x=y)", NULL };
	struct brk_error err = { { 0 } };
	struct ldap_config *lc;
	char text[512];
	size_t i;

	for (i = 0; good[i] != NULL; i++) {
		snprintf(text, sizeof(text), "{\"uri\": \"%s\", \"user_base\":"
		    " \"dc=x\"}", good[i]);
		lc = NULL;
		cr_expect_eq(parse(text, &lc, &err), 0, "%s: %s", good[i],
		    err.msg);
		ldap_config_free(lc);
	}
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(text, sizeof(text), "{\"uri\": \"%s\", \"user_base\":"
		    " \"dc=x\"}", bad[i]);
		lc = (struct ldap_config *)1;
		cr_expect_eq(parse(text, &lc, &err), BRK_ERR_INVALID, "%s",
		    bad[i]);
		cr_expect_null(lc);
		cr_expect(strstr(err.msg, "ldap.uri") != NULL, "%s", err.msg);
	}
}

/* Every key, wrong in type or value: refused with the key named. */
Test(ldap_config, bad_keys_and_types)
{
	static const struct { const char *json, *key; } cases[] = {
		{ "{\"uri\": 1, \"user_base\": \"dc=x\"}", "ldap.uri" },
		{ "{\"uri\": \"\", \"user_base\": \"dc=x\"}", "ldap.uri" },
		{ "{\"uri\": \"ldap://h\\u0001\", \"user_base\": \"dc=x\"}",
		    "ldap.uri" },
		{ "{" BASE ", \"starttls\": true}", "ldap.starttls" },
		{ "{" BASE ", \"starttls\": \"yes\"}", "ldap.starttls" },
		{ "{\"uri\": \"ldaps://h\", \"user_base\": \"dc=x\", "
		    "\"starttls\": \"on\"}", "ldap.starttls" },
		{ "{" BASE ", \"ca\": 7}", "ldap.ca" },
		{ "{" BASE ", \"ca\": \"/nonexistent/ca.pem\"}", "ldap.ca" },
		{ "{" BASE ", \"bind_dn\": []}", "ldap.bind_dn" },
		{ "{" BASE ", \"bind_dn\": \"not a dn\"}", "ldap.bind_dn" },
		{ "{" BASE ", \"bind_dn\": \"cn=b,dc=x\"}", "ldap.bind_dn" },
		{ "{" BASE ", \"bind_password_file\": 3}",
		    "ldap.bind_password_file" },
		{ "{" BASE ", \"bind_password_file\": \"/nonexistent\"}",
		    "ldap.bind_password_file" },
		{ "{\"uri\": \"ldap://h\", \"user_base\": {}}",
		    "ldap.user_base" },
		{ "{\"uri\": \"ldap://h\", \"user_base\": \"=x\"}",
		    "ldap.user_base" },
		{ "{\"uri\": \"ldap://h\"}", "ldap.user_base" },
		{ "{\"user_base\": \"dc=x\"}", "ldap.uri" },
		{ "{" BASE ", \"group_base\": null}", "ldap.group_base" },
		{ "{" BASE ", \"group_base\": \"dc=x,\"}", "ldap.group_base" },
		{ "{" BASE ", \"user_filter\": 1}", "ldap.user_filter" },
		{ "{" BASE ", \"user_filter\": \"uid=%u\"}",
		    "ldap.user_filter" },
		{ "{" BASE ", \"user_filter\": \"(uid=x)\"}",
		    "ldap.user_filter" },
		{ "{" BASE ", \"user_filter\": \"(uid=%u)(cn=%u)\"}",
		    "ldap.user_filter" },
		{ "{" BASE ", \"user_filter\": \"(&(uid=%u)\"}",
		    "ldap.user_filter" },
		{ "{" BASE ", \"user_filter\": \"(uid=%s%u)\"}",
		    "ldap.user_filter" },
		{ "{" BASE ", \"user_attr\": \"u id\"}", "ldap.user_attr" },
		{ "{" BASE ", \"user_attr\": false}", "ldap.user_attr" },
		{ "{" BASE ", \"nested_groups\": \"yes\"}",
		    "ldap.nested_groups" },
		{ "{" BASE ", \"cache_ttl\": \"60\"}", "ldap.cache_ttl" },
		{ "{" BASE ", \"cache_ttl\": 0}", "ldap.cache_ttl" },
		{ "{" BASE ", \"cache_ttl\": 1.5}", "ldap.cache_ttl" },
		{ "{" BASE ", \"cache_stale_max\": -1}",
		    "ldap.cache_stale_max" },
		{ "{" BASE ", \"cache_ttl\": 60, \"cache_stale_max\": 30}",
		    "ldap.cache_stale_max" },
		{ "{" BASE ", \"timeout\": 0}", "ldap.timeout" },
		{ "{" BASE ", \"timeout\": 31}", "ldap.timeout" },
		{ "{" BASE ", \"timeout\": \"2s\"}", "ldap.timeout" },
		{ "{" BASE ", \"cache_size\": 0}", "ldap.cache_size" },
		{ "{" BASE ", \"frobnicate\": 1}", "ldap.frobnicate" },
		{ "[]", "\"ldap\" must be an object" },
		{ "\"ldap://h\"", "\"ldap\" must be an object" },
	};
	struct brk_error err;
	struct ldap_config *lc;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		lc = (struct ldap_config *)1;
		r = parse(cases[i].json, &lc, &err);
		cr_expect(r == BRK_ERR_INVALID || r == BRK_ERR_IO, "%s: %d",
		    cases[i].json, r);
		cr_expect_null(lc, "%s", cases[i].json);
		cr_expect(strstr(err.msg, cases[i].key) != NULL,
		    "%s: \"%s\" lacks %s", cases[i].json, err.msg,
		    cases[i].key);
	}
}

static int
parse_pw(const char *path, struct brk_error *err)
{
	struct ldap_config *lc = NULL;
	char text[1024];
	int r;

	snprintf(text, sizeof(text), "{" BASE ", \"bind_dn\": \"cn=b,dc=x\", "
	    "\"bind_password_file\": \"%s\"}", path);
	r = parse(text, &lc, err);
	ldap_config_free(lc);
	return r;
}

Test(ldap_config, password_file_mode)
{
	static const mode_t bad[] = { 0640, 0644, 0604, 0660, 0666, 0601,
	    0 };
	struct brk_error err = { { 0 } };
	char link[sizeof(dir) + 16];
	size_t i;

	cr_expect_eq(parse_pw(pwfile, &err), 0, "%s", err.msg);
	cr_assert(chmod(pwfile, 0400) == 0);
	cr_expect_eq(parse_pw(pwfile, &err), 0, "0400: %s", err.msg);
	for (i = 0; bad[i] != 0; i++) {
		cr_assert(chmod(pwfile, bad[i]) == 0);
		memset(&err, 0, sizeof(err));
		cr_expect_eq(parse_pw(pwfile, &err), BRK_ERR_PERM, "%04o",
		    (unsigned)bad[i]);
		cr_expect(strstr(err.msg, "0600 or stricter") != NULL, "%s",
		    err.msg);
	}
	cr_assert(chmod(pwfile, 0600) == 0);
	/* a symlink is not followed */
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert(symlink(pwfile, link) == 0);
	cr_expect_neq(parse_pw(link, &err), 0);
	unlink(link);
	/* a directory is not a password file */
	cr_expect_eq(parse_pw(dir, &err) != 0, 1);
}

Test(ldap_config, password_file_owner)
{
	struct brk_error err = { { 0 } };

	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	cr_assert(chown(pwfile, 65534, 65534) == 0);
	cr_expect_eq(parse_pw(pwfile, &err), BRK_ERR_PERM);
	cr_expect(strstr(err.msg, "owned by uid 0") != NULL, "%s", err.msg);
	cr_assert(chown(pwfile, 0, 0) == 0);
}

Test(ldap_config, password_file_content)
{
	struct brk_error err = { { 0 } };
	struct ldap_config *lc = NULL;
	char text[1024];
	FILE *f;

	cr_assert((f = fopen(pwfile, "w")) != NULL);
	fputs("\n", f);
	fclose(f);
	cr_expect_eq(parse_pw(pwfile, &err), BRK_ERR_INVALID, "empty");
	cr_assert((f = fopen(pwfile, "w")) != NULL);
	fputs("pass word\r\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "{" BASE ", \"bind_dn\": \"cn=b,dc=x\", "
	    "\"bind_password_file\": \"%s\"}", pwfile);
	cr_assert_eq(parse(text, &lc, &err), 0, "%s", err.msg);
	cr_expect_str_eq(lc->bind_password, "pass word");
	ldap_config_free(lc);
	cr_assert((f = fopen(pwfile, "w")) != NULL);
	fwrite("a\0b", 1, 3, f);
	fclose(f);
	cr_expect_eq(parse_pw(pwfile, &err), BRK_ERR_INVALID, "NUL");
}

/* The config file refuses nothing by name any more, and frees the section. */
Test(ldap_config, in_config)
{
	struct brk_error err = { { 0 } };
	struct config *c = NULL;
	const char *text = "{\"state_dir\": \"/s\", \"socket\": \"/s/b\", "
	    "\"ldap\": {" BASE ", \"cache_ttl\": 7}}";
	const char *bad = "{\"state_dir\": \"/s\", \"socket\": \"/s/b\", "
	    "\"ldap\": {" BASE ", \"cache_ttl\": \"x\"}}";

	cr_assert_eq(config_parse(text, strlen(text), &c, &err), 0, "%s",
	    err.msg);
	cr_assert_not_null(c->ldap);
	cr_expect_eq(c->ldap->cache_ttl, 7);
	config_free(c);
	c = NULL;
	cr_expect_eq(config_parse(bad, strlen(bad), &c, &err),
	    BRK_ERR_INVALID);
	cr_expect_null(c);
	cr_expect(strstr(err.msg, "ldap.cache_ttl") != NULL, "%s", err.msg);
}

/* --- filters -------------------------------------------------------- */

static void
expect_escape(const char *in, size_t len, const char *want)
{
	char *out = NULL;

	cr_assert_eq(idldap_filter_escape(in, len, &out), 0);
	cr_expect_str_eq(out, want);
	free(out);
}

Test(ldap_filter, escape_rfc4515)
{
	expect_escape("alice", 5, "alice");
	expect_escape("*", 1, "\\2A");
	expect_escape("(", 1, "\\28");
	expect_escape(")", 1, "\\29");
	expect_escape("\\", 1, "\\5C");
	expect_escape("a\0b", 3, "a\\00b");
	expect_escape(")(uid=*", 7, "\\29\\28uid=\\2A");
	expect_escape("*)(|(uid=*))", 12, "\\2A\\29\\28|\\28uid=\\2A\\29\\29");
	expect_escape("", 0, "");
}

Test(ldap_filter, escape_never_leaves_specials)
{
	char in[256], *out = NULL, *p;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	cr_assert_eq(idldap_filter_escape(in, sizeof(in), &out), 0);
	cr_expect_eq(strlen(out) >= sizeof(in), 1);
	for (p = out; *p != '\0'; p++) {
		cr_expect(*p != '(' && *p != ')' && *p != '*', "%c", *p);
		if (*p == '\\')
			cr_expect(p[1] != '\0' && p[2] != '\0' &&
			    strchr("0123456789abcdefABCDEF", p[1]) != NULL &&
			    strchr("0123456789abcdefABCDEF", p[2]) != NULL);
	}
	free(out);
}

Test(ldap_filter, expand)
{
	char *out = NULL;

	cr_assert_eq(idldap_filter_expand("(uid=%u)", "bob", &out), 0);
	cr_expect_str_eq(out, "(uid=bob)");
	free(out);
	cr_assert_eq(idldap_filter_expand("(|(uid=%u)(mail=%u@x))", "*", &out),
	    0);
	cr_expect_str_eq(out, "(|(uid=\\2A)(mail=\\2A@x))");
	free(out);
	cr_assert_eq(idldap_filter_expand("(&(pct=100%%)(uid=%u))", ")(", &out),
	    0);
	cr_expect_str_eq(out, "(&(pct=100%)(uid=\\29\\28))");
	free(out);
	out = (char *)1;
	cr_expect_eq(idldap_filter_expand("(uid=%s)", "bob", &out),
	    BRK_ERR_INVALID);
	cr_expect_null(out);
	cr_expect_eq(idldap_filter_expand("(uid=%u%)", "bob", &out),
	    BRK_ERR_INVALID);
}

Test(ldap_filter, lookup_refuses_noncanonical_names)
{
	struct brk_error err = { { 0 } };
	struct ldap_config *lc = NULL;
	struct idldap *l = NULL;
	const char *bad[] = { "*", ")(uid=*", "Alice", "al ice", "al\nice",
	    "", "al\\2Aice", NULL };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	char **groups = NULL, text[256];
	size_t n = 0, i;
	int fd;

	/* a bound port nobody listens on: connections are refused, but for
	 * bad names nothing is even tried */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &slen) == 0);
	snprintf(text, sizeof(text), "{\"uri\": \"ldap://127.0.0.1:%u\", "
	    "\"user_base\": \"dc=x\", \"timeout\": 1}",
	    (unsigned)ntohs(sin.sin_port));
	cr_assert_eq(parse(text, &lc, &err), 0);
	cr_assert_eq(idldap_new(lc, &l, &err), 0);
	for (i = 0; bad[i] != NULL; i++) {
		cr_expect_eq(idldap_lookup(l, bad[i], &groups, &n, &err),
		    BRK_ERR_INVALID, "%s", bad[i]);
		cr_expect_null(groups);
	}
	cr_expect_eq(idldap_lookup(l, "alice", &groups, &n, &err),
	    BRK_ERR_UNREACHABLE, "%s", err.msg);
	idldap_free(l);
	ldap_config_free(lc);
	close(fd);
}

/* --- the cache ------------------------------------------------------ */

Test(idcache, put_get_newer_wins)
{
	struct idcache *c = NULL;
	struct idcache_val v;
	char *g1[] = { "dev", "ops" }, *g2[] = { "dev" };

	cr_assert_eq(idcache_new(4, &c), 0);
	cr_expect_eq(idcache_get(c, "ann", &v), BRK_ERR_NOTFOUND);
	cr_assert_eq(idcache_put(c, "ann", &(struct idcache_val){ .found = true, .complete = true, .mail = "ann@example.com", .uid = 5001, .groups = g1, .ngroups = 2, .fetched_ms = 100 }), 0);
	cr_assert_eq(idcache_get(c, "ann", &v), 0);
	cr_expect(v.found);
	cr_expect_eq(v.ngroups, 2);
	cr_expect_str_eq(v.groups[1], "ops");
	cr_expect_eq(v.fetched_ms, 100);
	/* the mail address travels with the answer (Fails when val_copy()
	 * leaves it out: checked, v.mail NULL) */
	cr_expect_str_eq(v.mail, "ann@example.com");
	/* so does NSS's uid (Fails when val_copy() leaves it out: checked,
	 * v.uid 0) */
	cr_expect_eq(v.uid, 5001);
	idcache_val_clear(&v);
	/* an older answer never replaces a newer one */
	cr_assert_eq(idcache_put(c, "ann", &(struct idcache_val){ .found = false, .complete = true, .fetched_ms = 50 }), 0);
	cr_assert_eq(idcache_get(c, "ann", &v), 0);
	cr_expect(v.found);
	idcache_val_clear(&v);
	cr_assert_eq(idcache_put(c, "ann", &(struct idcache_val){ .found = true, .complete = true, .groups = g2, .ngroups = 1, .fetched_ms = 200 }), 0);
	cr_assert_eq(idcache_get(c, "ann", &v), 0);
	cr_expect_eq(v.ngroups, 1);
	idcache_val_clear(&v);
	cr_expect_eq(idcache_size(c), 1);
	idcache_free(c);
}

Test(idcache, bounded_evicts_oldest)
{
	struct idcache *c = NULL;
	struct idcache_val v;
	char name[32];
	int i;

	cr_assert_eq(idcache_new(100, &c), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		cr_assert_eq(idcache_put(c, name, &(struct idcache_val){ .found = i % 2, .complete = true, .fetched_ms = i }), 0);
		cr_assert_leq(idcache_size(c), 100);
	}
	cr_expect_eq(idcache_size(c), 100);
	cr_expect_eq(idcache_get(c, "u899", &v), BRK_ERR_NOTFOUND);
	cr_expect_eq(idcache_get(c, "u900", &v), 0);
	idcache_val_clear(&v);
	/* refreshing an entry makes it the newest */
	cr_assert_eq(idcache_put(c, "u900", &(struct idcache_val){ .found = true, .complete = true, .fetched_ms = 5000 }), 0);
	cr_assert_eq(idcache_put(c, "new", &(struct idcache_val){ .found = true, .complete = true, .fetched_ms = 5001 }), 0);
	cr_expect_eq(idcache_get(c, "u900", &v), 0);
	idcache_val_clear(&v);
	cr_expect_eq(idcache_get(c, "u901", &v), BRK_ERR_NOTFOUND);
	idcache_free(c);
	idcache_free(NULL);
}

/* An answer that had to be cut stays "incomplete" through the cache.
 * Fails when idcache drops the complete flag (checked by storing
 * v->complete = true in val_copy: the first expectation went red). */
Test(idcache, incomplete_answers_stay_incomplete)
{
	struct idcache *c = NULL;
	struct idcache_val v;
	char *g[] = { "dev" };

	cr_assert_eq(idcache_new(4, &c), 0);
	cr_assert_eq(idcache_put(c, "gus", &(struct idcache_val){ .found = true, .complete = false, .fetched_ms = 100 }), 0);
	cr_assert_eq(idcache_get(c, "gus", &v), 0);
	cr_expect(v.found);
	cr_expect_not(v.complete, "a cut answer reads back as complete");
	idcache_val_clear(&v);
	cr_assert_eq(idcache_put(c, "gus", &(struct idcache_val){ .found = true, .complete = true, .groups = g, .ngroups = 1, .fetched_ms = 200 }), 0);
	cr_assert_eq(idcache_get(c, "gus", &v), 0);
	cr_expect(v.complete);
	cr_expect_eq(v.ngroups, 1);
	idcache_val_clear(&v);
	idcache_free(c);
}

/*
 * A directory that cannot answer, with nothing cached, leaves the user's
 * groups unknown (complete false, a reason), never "found, no groups".
 * Fails when iddir_lookup returns an empty complete answer for a down
 * directory (checked by setting out->complete = true before the
 * stale-cache branch: both expectations on complete went red).
 */
Test(iddir, down_directory_means_groups_unknown)
{
	struct brk_error err = { { 0 } };
	struct ldap_config *lc = NULL;
	struct iddir *d = NULL;
	struct iddir_result res;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	char text[256];
	int fd, i;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &slen) == 0);
	snprintf(text, sizeof(text), "{\"uri\": \"ldap://127.0.0.1:%u\", "
	    "\"user_base\": \"dc=x\", \"timeout\": 1}",
	    (unsigned)ntohs(sin.sin_port));
	cr_assert_eq(parse(text, &lc, &err), 0);
	cr_assert_eq(iddir_new(lc, &d, &err), 0, "%s", err.msg);
	/* the first asks the directory, the second finds it marked down */
	for (i = 0; i < 2; i++) {
		cr_assert_eq(iddir_lookup(d, "alice", &res), 0);
		cr_expect_not(res.found);
		cr_expect_not(res.complete, "lookup %d: a down directory "
		    "answered \"no groups\"", i);
		cr_expect_str_eq(res.why, "directory unreachable");
		iddir_result_clear(&res);
	}
	iddir_free(d);
	ldap_config_free(lc);
	close(fd);
}
