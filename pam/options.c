/*
 * options.c - parsing pam_broker.so's arguments into struct pb_opts.
 *
 * Fail closed: a value we cannot make sense of makes the whole call deny
 * (the module turns BRK_ERR_INVALID into a refusal), because guessing what
 * an administrator meant by "timeout_ms=1O00" or "failmode=opne" could
 * silently open or hang logins.  Unknown option names only get a log line,
 * so that a newer pam.d line keeps working with an older module.
 */
#include "options.h"
#include "sessions.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

/* The value of "name=value" when arg starts with name=; else NULL. */
static const char *
opt_value(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

static int
bad(struct brk_error *err, const char *arg, const char *why)
{
	return brk_error_set(
	    err, BRK_ERR_INVALID, "bad option \"%.200s\": %s", arg, why);
}

/* An absolute path with no control characters. */
static bool
path_ok(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;

	if (p[0] != '/' || strlen(p) >= PATH_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Strictly decimal, no sign, no blanks, within [min, max]. */
static int
parse_int(const char *v, long min, long max, int *out)
{
	char *end = NULL;
	long n;

	if (v[0] < '0' || v[0] > '9' || strlen(v) > 9)
		return BRK_ERR_INVALID;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return BRK_ERR_INVALID;
	*out = (int)n;
	return 0;
}

/* A host name or an IP literal as it may appear in a URL authority. */
static bool
host_ok(const char *h, size_t len)
{
	size_t i;

	if (len == 0 || len >= PB_HOST_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') ||
			(h[i] >= 'A' && h[i] <= 'Z') ||
			(h[i] >= '0' && h[i] <= '9') || h[i] == '-' ||
			h[i] == '.' || h[i] == ':'))
			return false;
	return true;
}

/* tls://HOST:PORT or tls://[V6]:PORT */
static int
parse_url(const char *v, struct pb_opts *o)
{
	const char *h, *hend, *port;
	int n = 0;

	if (strncmp(v, "tls://", 6) != 0)
		return BRK_ERR_INVALID;
	h = v + 6;
	if (*h == '[') {
		h++;
		if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
			return BRK_ERR_INVALID;
		port = hend + 2;
	} else {
		if ((hend = strrchr(h, ':')) == NULL ||
		    memchr(h, ':', (size_t)(hend - h)) != NULL)
			return BRK_ERR_INVALID;
		port = hend + 1;
	}
	if (!host_ok(h, (size_t)(hend - h)) ||
	    parse_int(port, 1, 65535, &n) != 0)
		return BRK_ERR_INVALID;
	memcpy(o->tls_host, h, (size_t)(hend - h));
	o->tls_host[hend - h] = '\0';
	snprintf(o->tls_port, sizeof(o->tls_port), "%d", n);
	o->use_tls = true;
	return 0;
}

/* Group names as the broker accepts them: [A-Za-z0-9_.-], not '-' first. */
static bool
group_ok(const char *g)
{
	size_t i, n = strlen(g);

	if (n == 0 || n > 64 || g[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((g[i] >= 'a' && g[i] <= 'z') ||
			(g[i] >= 'A' && g[i] <= 'Z') ||
			(g[i] >= '0' && g[i] <= '9') || g[i] == '_' ||
			g[i] == '.' || g[i] == '-'))
			return false;
	return true;
}

int
pb_template_check(const char *tmpl, struct brk_error *err)
{
	const char *p;

	if (tmpl[0] == '\0' || strlen(tmpl) >= PB_RESOURCE_MAX)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "resource template is empty or too long");
	for (p = tmpl; *p != '\0'; p++) {
		if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\'' ||
		    *p == '\\')
			return brk_error_set(err, BRK_ERR_INVALID,
			    "resource template has a blank, quote or "
			    "non-printable character");
		if (*p == '%') {
			p++;
			if (*p != 'h' && *p != 'u' && *p != '%')
				return brk_error_set(err, BRK_ERR_INVALID,
				    "resource template: only %%h, %%u and %%%% "
				    "are known");
		}
	}
	return 0;
}

/* Options whose value is a file path, and where each goes. */
static const struct {
	const char *name;
	size_t off;
} path_opts[] = {
	{ "ca", offsetof(struct pb_opts, ca) },
	{ "cert", offsetof(struct pb_opts, cert) },
	{ "key", offsetof(struct pb_opts, key) },
	{ "snapshot", offsetof(struct pb_opts, snapshot) },
	{ "ca_keys", offsetof(struct pb_opts, ca_keys) },
	{ "snapshot_state", offsetof(struct pb_opts, snapshot_state) },
	{ "session_dir", offsetof(struct pb_opts, session_dir) },
};

/* "SHA256:" and 64 hex digits, colons allowed between them (as "broker
 * host enroll --ca-fingerprint" takes it). */
static bool
fingerprint_ok(const char *v)
{
	int n = 0;

	if (strncasecmp(v, "SHA256:", 7) != 0)
		return false;
	for (v += 7; *v != '\0'; v++) {
		if (isxdigit((unsigned char)*v))
			n++;
		else if (*v != ':')
			return false;
	}
	return n == 64;
}

static int
apply(const char *arg, struct pb_opts *o, pb_unknown_fn unknown, void *ctx,
    struct brk_error *err)
{
	struct brk_error terr = { { 0 } };
	const char *v;
	size_t i;

	if (strcmp(arg, "debug") == 0) {
		o->debug = true;
		return 0;
	}
	if (strcmp(arg, "keep_sessions_offline") == 0) {
		o->keep_sessions_offline = true;
		return 0;
	}
	if ((v = opt_value(arg, "session_grace")) != NULL) {
		if (parse_int(v, 0, SESS_GRACE_MAX, &o->session_grace) != 0)
			return bad(err, arg, "seconds, from 0 to 3600");
		return 0;
	}
	if ((v = opt_value(arg, "socket")) != NULL) {
		if (!path_ok(v) ||
		    strlen(v) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
			return bad(err, arg,
			    "an absolute path of a unix "
			    "socket");
		o->socket = v;
		return 0;
	}
	if ((v = opt_value(arg, "url")) != NULL) {
		if (parse_url(v, o) != 0)
			return bad(err, arg, "must be tls://HOST:PORT");
		return 0;
	}
	for (i = 0; i < sizeof(path_opts) / sizeof(path_opts[0]); i++) {
		if ((v = opt_value(arg, path_opts[i].name)) == NULL)
			continue;
		if (!path_ok(v))
			return bad(err, arg, "must be an absolute path");
		*(const char **)((char *)o + path_opts[i].off) = v;
		return 0;
	}
	if ((v = opt_value(arg, "ca_fingerprint")) != NULL) {
		if (!fingerprint_ok(v))
			return bad(err, arg, "SHA256: and 64 hex digits");
		o->ca_fingerprint = v;
		return 0;
	}
	if ((v = opt_value(arg, "resource")) != NULL) {
		if (pb_template_check(v, &terr) != 0)
			return bad(err, arg, terr.msg);
		o->resource = v;
		return 0;
	}
	if ((v = opt_value(arg, "timeout_ms")) != NULL) {
		if (parse_int(
			v, PB_TIMEOUT_MIN, PB_TIMEOUT_MAX, &o->timeout_ms) != 0)
			return bad(err, arg, "an integer from 1 to 60000");
		return 0;
	}
	if ((v = opt_value(arg, "failmode")) != NULL) {
		if (strcmp(v, "secure") == 0)
			o->failmode = PB_FAIL_SECURE;
		else if (strcmp(v, "open") == 0)
			o->failmode = PB_FAIL_OPEN;
		else
			return bad(err, arg, "secure or open");
		return 0;
	}
	if ((v = opt_value(arg, "snapshot_max_age")) != NULL) {
		if (parse_int(v, 0, PB_MAX_AGE_MAX, &o->snapshot_max_age) != 0)
			return bad(err, arg,
			    "seconds, from 0 (no limit) to "
			    "604800");
		return 0;
	}
	if ((v = opt_value(arg, "server_uid")) != NULL) {
		/* a uid, or a user name as the broker accepts group names */
		if (!group_ok(v))
			return bad(err, arg, "a uid or a user name");
		o->server_uid = v;
		return 0;
	}
	if ((v = opt_value(arg, "exempt_group")) != NULL) {
		if (!group_ok(v))
			return bad(err, arg, "a group name");
		o->exempt_group = v;
		return 0;
	}
	if (unknown != NULL)
		unknown(ctx, arg);
	return 0;
}

int
pb_opts_parse(int argc, const char **argv, struct pb_opts *o,
    pb_unknown_fn unknown, void *ctx, struct brk_error *err)
{
	int i, r = BRK_ERR_INVALID;

	memset(o, 0, sizeof(*o));
	o->socket = PB_DEFAULT_SOCKET;
	o->resource = PB_DEFAULT_RESOURCE;
	o->timeout_ms = PB_DEFAULT_TIMEOUT_MS;
	o->failmode = PB_FAIL_SECURE;
	o->session_dir = SESS_DEFAULT_DIR;
	o->session_grace = SESS_DEFAULT_GRACE;
	if (argc < 0 || (argc > 0 && argv == NULL)) {
		brk_error_set(err, r, "no arguments");
		goto out;
	}
	for (i = 0; i < argc; i++) {
		if (argv[i] == NULL) {
			brk_error_set(err, r, "a NULL argument");
			goto out;
		}
		if ((r = apply(argv[i], o, unknown, ctx, err)) != 0)
			goto out;
	}
	r = BRK_ERR_INVALID;
	if (o->use_tls &&
	    ((o->ca == NULL && o->ca_fingerprint == NULL) || o->cert == NULL ||
		o->key == NULL)) {
		brk_error_set(err, r,
		    "url= needs ca= (or ca_fingerprint=), cert= and key=");
		goto out;
	}
	if (o->snapshot != NULL && o->ca_keys == NULL) {
		brk_error_set(err, r, "snapshot= needs ca_keys= to verify it");
		goto out;
	}
	r = 0;
out:
	return r;
}

int
pb_expand_resource(const char *tmpl, const char *user, const char *host,
    char *out, size_t outlen)
{
	const char *p, *add;
	size_t used = 0, n;
	char pct[2] = "%";

	if (outlen == 0)
		return BRK_ERR_TOOBIG;
	out[0] = '\0';
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			pct[0] = *p;
			add = pct;
		} else {
			switch (*++p) {
			case 'h':
				add = host;
				break;
			case 'u':
				add = user;
				break;
			case '%':
				pct[0] = '%';
				add = pct;
				break;
			default:
				out[0] = '\0';
				return BRK_ERR_INVALID;
			}
		}
		n = strlen(add);
		if (used + n + 1 > outlen) {
			out[0] = '\0';
			return BRK_ERR_TOOBIG;
		}
		memcpy(out + used, add, n + 1);
		used += n;
	}
	return 0;
}

int
pb_short_hostname(char *out, size_t outlen)
{
	char buf[HOST_NAME_MAX + 1], *dot;

	if (outlen == 0)
		return BRK_ERR_TOOBIG;
	out[0] = '\0';
	if (gethostname(buf, sizeof(buf)) != 0)
		return BRK_ERR_INVALID;
	buf[sizeof(buf) - 1] = '\0';
	if ((dot = strchr(buf, '.')) != NULL)
		*dot = '\0';
	if (buf[0] == '\0' || strlen(buf) >= outlen)
		return BRK_ERR_INVALID;
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}
