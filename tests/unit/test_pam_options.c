/*
 * test_pam_options.c - pam_broker.so's option parser and resource template
 * (pam/options.c, compiled in here since unit tests link no PAM objects).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../pam/options.c"

struct seen {
	int n;
	char last[256];
};

static void
note_unknown(void *ctx, const char *arg)
{
	struct seen *s = ctx;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s", arg);
}

static int
parse(struct pb_opts *o, struct seen *s, int argc, const char **argv)
{
	struct brk_error err = { { 0 } };

	return pb_opts_parse(argc, argv, o, note_unknown, s, &err);
}

#define PARSE(o, s, ...) ({ \
	const char *argv_[] = { __VA_ARGS__ }; \
	parse((o), (s), (int)(sizeof(argv_) / sizeof(argv_[0])), argv_); })

Test(pam_options, defaults)
{
	struct seen s = { 0 };
	struct pb_opts o;

	cr_assert_eq(parse(&o, &s, 0, NULL), 0);
	cr_assert_str_eq(o.socket, "/run/broker/broker.sock");
	cr_assert_str_eq(o.resource, "host:%h");
	cr_assert_eq(o.timeout_ms, 1000);
	cr_assert_eq(o.failmode, PB_FAIL_SECURE);
	cr_assert_null(o.exempt_group);
	cr_assert_null(o.snapshot);
	cr_assert_not(o.use_tls);
	cr_assert_not(o.debug);
	cr_assert_eq(s.n, 0);
}

Test(pam_options, each_option)
{
	struct seen s = { 0 };
	struct pb_opts o;

	cr_assert_eq(PARSE(&o, &s, "socket=/tmp/b.sock", "resource=db:%u-%h",
	    "timeout_ms=250", "failmode=open", "exempt_group=break_glass",
	    "snapshot=/var/lib/broker/snap", "ca_keys=/etc/broker/ca.pub",
	    "debug"), 0);
	cr_assert_str_eq(o.socket, "/tmp/b.sock");
	cr_assert_str_eq(o.resource, "db:%u-%h");
	cr_assert_eq(o.timeout_ms, 250);
	cr_assert_eq(o.failmode, PB_FAIL_OPEN);
	cr_assert_str_eq(o.exempt_group, "break_glass");
	cr_assert_str_eq(o.snapshot, "/var/lib/broker/snap");
	cr_assert_str_eq(o.ca_keys, "/etc/broker/ca.pub");
	cr_assert(o.debug);
	cr_assert_eq(PARSE(&o, &s, "failmode=secure"), 0);
	cr_assert_eq(o.failmode, PB_FAIL_SECURE);
	cr_assert_eq(PARSE(&o, &s, "timeout_ms=1"), 0);
	cr_assert_eq(o.timeout_ms, 1);
	cr_assert_eq(PARSE(&o, &s, "timeout_ms=60000"), 0);
	cr_assert_eq(o.timeout_ms, 60000);
	cr_assert_eq(s.n, 0);
}

Test(pam_options, tls_url)
{
	struct seen s = { 0 };
	struct pb_opts o;

	cr_assert_eq(PARSE(&o, &s, "url=tls://broker.example.com:7443",
	    "ca=/etc/broker/ca.crt", "cert=/etc/broker/host.crt",
	    "key=/etc/broker/host.key"), 0);
	cr_assert(o.use_tls);
	cr_assert_str_eq(o.tls_host, "broker.example.com");
	cr_assert_str_eq(o.tls_port, "7443");
	cr_assert_str_eq(o.ca, "/etc/broker/ca.crt");
	cr_assert_str_eq(o.cert, "/etc/broker/host.crt");
	cr_assert_str_eq(o.key, "/etc/broker/host.key");
	cr_assert_eq(PARSE(&o, &s, "url=tls://[::1]:443", "ca=/a", "cert=/b",
	    "key=/c"), 0);
	cr_assert_str_eq(o.tls_host, "::1");
	cr_assert_str_eq(o.tls_port, "443");
	/* url without its files is refused, not half-used */
	cr_assert_eq(PARSE(&o, &s, "url=tls://h:1", "ca=/a", "cert=/b"),
	    BRK_ERR_INVALID);
}

/* ca_fingerprint= stands for ca= (an enrolled host pins the broker as
 * "broker host enroll" did); a malformed pin is an error.  Fails when
 * the pin is not checked: checked by accepting any value. */
Test(pam_options, ca_fingerprint)
{
	static const char *const bad[] = { "ca_fingerprint=",
		"ca_fingerprint=SHA256:", "ca_fingerprint=SHA1:00",
		"ca_fingerprint=SHA256:0123456789abcdef",
		"ca_fingerprint=SHA256:0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdeg" };
	const char *pin = "ca_fingerprint=SHA256:01:23:45:67:89:ab:cd:ef:01:"
			  "23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:"
			  "23:45:67:89:ab:cd:ef";
	struct seen s = { 0 };
	struct pb_opts o;
	size_t i;

	cr_assert_eq(PARSE(&o, &s, "url=tls://h:1", pin, "cert=/b", "key=/c"),
	    0);
	cr_assert_null(o.ca);
	cr_assert_str_eq(o.ca_fingerprint, pin + strlen("ca_fingerprint="));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(PARSE(&o, &s, "url=tls://h:1", bad[i], "cert=/b",
				 "key=/c"),
		    BRK_ERR_INVALID, "accepted %s", bad[i]);
	cr_assert_eq(s.n, 0);
}

Test(pam_options, malformed_values_are_errors)
{
	static const char *const bad[] = {
		"timeout_ms=", "timeout_ms=0", "timeout_ms=60001",
		"timeout_ms=-1", "timeout_ms=+5", "timeout_ms= 5",
		"timeout_ms=5ms", "timeout_ms=1O00", "timeout_ms=99999999999",
		"failmode=", "failmode=Secure", "failmode=opne",
		"socket=", "socket=relative.sock",
		"socket=/a/very/long/path/that/does/not/fit/in/sun_path/because/"
		    "it/is/longer/than/one/hundred/and/eight/bytes/in/all/x.sock",
		"url=", "url=http://h:1", "url=tls://h", "url=tls://h:0",
		"url=tls://h:65536", "url=tls://:443", "url=tls://a:b:443",
		"url=tls://[::1:443", "url=tls://h h:443",
		"ca=relative", "cert=", "key=x", "snapshot=snap",
		"ca_keys=keys",
		"resource=", "resource=host:%x", "resource=host:%",
		"resource=host: web", "resource=host:\"x\"",
		"exempt_group=", "exempt_group=-x", "exempt_group=a b",
	};
	struct seen s = { 0 };
	struct pb_opts o;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(PARSE(&o, &s, bad[i]), BRK_ERR_INVALID,
		    "accepted %s", bad[i]);
	cr_assert_eq(s.n, 0);
}

Test(pam_options, snapshot_needs_keys)
{
	struct seen s = { 0 };
	struct pb_opts o;

	cr_assert_eq(PARSE(&o, &s, "snapshot=/x"), BRK_ERR_INVALID);
	cr_assert_eq(PARSE(&o, &s, "snapshot=/x", "ca_keys=/y"), 0);
}

Test(pam_options, unknown_options_are_reported_and_ignored)
{
	struct seen s = { 0 };
	struct pb_opts o;

	cr_assert_eq(PARSE(&o, &s, "frobnicate", "timeout_ms=5",
	    "socketx=/a", "debug=1", "use_first_pass"), 0);
	cr_assert_eq(s.n, 4);
	cr_assert_str_eq(s.last, "use_first_pass");
	cr_assert_eq(o.timeout_ms, 5);
	cr_assert_not(o.debug);
	/* without a callback they are still ignored */
	{
		const char *argv[] = { "what" };
		struct brk_error err = { { 0 } };

		cr_assert_eq(pb_opts_parse(1, argv, &o, NULL, NULL, &err), 0);
	}
}

Test(pam_options, last_occurrence_wins)
{
	struct seen s = { 0 };
	struct pb_opts o;

	cr_assert_eq(PARSE(&o, &s, "timeout_ms=5", "timeout_ms=7",
	    "failmode=open", "failmode=secure"), 0);
	cr_assert_eq(o.timeout_ms, 7);
	cr_assert_eq(o.failmode, PB_FAIL_SECURE);
	/* but a bad later value still fails the whole line */
	cr_assert_eq(PARSE(&o, &s, "timeout_ms=5", "timeout_ms=x"),
	    BRK_ERR_INVALID);
}

Test(pam_options, error_names_the_option)
{
	const char *argv[] = { "timeout_ms=abc" };
	struct brk_error err = { { 0 } };
	struct pb_opts o;

	cr_assert_eq(pb_opts_parse(1, argv, &o, NULL, NULL, &err),
	    BRK_ERR_INVALID);
	cr_assert(strstr(err.msg, "timeout_ms=abc") != NULL, "%s", err.msg);
}

Test(pam_options, expand_resource)
{
	char out[PB_RESOURCE_MAX];

	cr_assert_eq(pb_expand_resource("host:%h", "alice", "web-1", out,
	    sizeof(out)), 0);
	cr_assert_str_eq(out, "host:web-1");
	cr_assert_eq(pb_expand_resource("x:%u@%h-100%%", "bob", "db", out,
	    sizeof(out)), 0);
	cr_assert_str_eq(out, "x:bob@db-100%");
	cr_assert_eq(pb_expand_resource("plain", "u", "h", out, sizeof(out)),
	    0);
	cr_assert_str_eq(out, "plain");
	cr_assert_eq(pb_expand_resource("host:%q", "u", "h", out,
	    sizeof(out)), BRK_ERR_INVALID);
	cr_assert_eq(pb_expand_resource("host:%h", "u", "abcdefgh", out, 10),
	    BRK_ERR_TOOBIG);
	cr_assert_str_eq(out, "");
	cr_assert_eq(pb_expand_resource("host:%h", "u", "abcd", out, 10), 0);
	cr_assert_str_eq(out, "host:abcd");
}

Test(pam_options, short_hostname)
{
	char out[256], full[256];

	cr_assert_eq(pb_short_hostname(out, sizeof(out)), 0);
	cr_assert_eq(gethostname(full, sizeof(full)), 0);
	cr_assert_eq(strncmp(out, full, strlen(out)), 0);
	cr_assert_null(strchr(out, '.'));
	cr_assert_neq(out[0], '\0');
	cr_assert_eq(pb_short_hostname(out, 1), BRK_ERR_INVALID);
}
