/*
 * decide.c - asking the broker, and deciding from a signed snapshot.
 *
 * The one idea: a reply counts as a decision only when it is exactly what
 * we asked about.  A live broker that refuses the question is a denial; a
 * broker that is away, slow, overloaded or talking nonsense gives no
 * decision at all, and then the snapshot or failmode decides.  The snapshot
 * is trusted only through its signature, so the files it is checked
 * against are held to root's standards.
 */
#include "decide.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "deadline.h"
#include "client.h"
#include "fileio.h"
#include "snapshot.h"

#define CA_KEYS_MAX_SIZE (64 * 1024)
#define CA_KEYS_MAX 64

/* Copy s into dst, replacing anything not printable ASCII by '?'. */
static void
copy_printable(char *dst, size_t dstlen, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = (s[i] >= ' ' && s[i] <= '~' && s[i] != '"') ?
		    s[i] : '?';
	if (dstlen > 0)
		dst[i] = '\0';
}

/* Error replies that answer the question (the broker refuses it). */
static bool
is_refusal(int rc)
{
	return rc == BRK_ERR_DENIED || rc == BRK_ERR_INVALID ||
	    rc == BRK_ERR_NOTFOUND || rc == BRK_ERR_PERM ||
	    rc == BRK_ERR_USAGE || rc == BRK_ERR_STATE ||
	    rc == BRK_ERR_UNSUPPORTED;
}

/* Turn a check result into an answer; BRK_ERR_PROTOCOL when malformed. */
static int
read_result(json_t *res, const char *user, const char *resource,
    struct pb_answer *a, struct brk_error *err)
{
	json_t *allowed = json_object_get(res, "allowed");
	const char *ruser = json_string_value(json_object_get(res, "user"));
	const char *rres = json_string_value(json_object_get(res,
	    "resource"));
	const char *why = json_string_value(json_object_get(res, "reason"));
	const char *grant = json_string_value(json_object_get(res, "grant"));

	if (!json_is_object(res) || !json_is_boolean(allowed) ||
	    ruser == NULL || rres == NULL || strcmp(ruser, user) != 0 ||
	    strcmp(rres, resource) != 0)
		return brk_error_set(err, BRK_ERR_PROTOCOL, "the broker's "
		    "answer is not a decision about %s on %s", user, resource);
	a->allowed = json_is_true(allowed);
	copy_printable(a->reason, sizeof(a->reason), why != NULL ? why :
	    (a->allowed ? "allowed" : "denied"));
	copy_printable(a->grant, sizeof(a->grant), grant);
	return 0;
}

int
pb_ask_broker(const struct pb_opts *o, const char *user,
    const char *resource, struct pb_answer *a, struct brk_error *err)
{
	struct client_tls tls = { o->ca, o->cert, o->key };
	long long deadline = deadline_now_ms() + o->timeout_ms, left;
	struct client *c = NULL;
	json_t *args = NULL, *res = NULL;
	int r;

	memset(a, 0, sizeof(*a));
	a->source = "broker";
	if (o->use_tls)
		r = client_open_tls(o->tls_host, o->tls_port, &tls,
		    o->timeout_ms, &c, err);
	else
		r = client_open(o->socket, o->timeout_ms, &c, err);
	if (r != 0)
		goto out;
	r = BRK_ERR_TIMEOUT;
	if ((left = deadline - deadline_now_ms()) <= 0) {
		brk_error_set(err, r, "the broker did not answer in time");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((args = json_pack("{s:s, s:s}", "user", user, "resource",
	    resource)) == NULL) {
		brk_error_set(err, r, "out of memory");
		goto out;
	}
	r = client_call(c, "check", args, NULL, (int)left, &res, err);
	if (r == 0)
		r = read_result(res, user, resource, a, err);
	else if (is_refusal(r)) {
		/* the broker is there and said no to the question itself */
		a->allowed = false;
		copy_printable(a->reason, sizeof(a->reason),
		    err != NULL && err->msg[0] ? err->msg : brk_strerror(r));
		r = 0;
	}
out:
	json_decref(res);
	json_decref(args);
	client_free(c);
	return r;
}

/* Read the trusted key file, refusing one that others could have edited. */
static int
read_ca_keys(const char *path, char **text, struct brk_error *err)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, r = BRK_ERR_IO;

	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		brk_error_set(err, r, "cannot open %s: %s", path,
		    strerror(errno));
		goto out;
	}
	r = BRK_ERR_PERM;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022) != 0) {
		brk_error_set(err, r, "%s must be a regular file owned by root "
		    "and writable only by its owner", path);
		goto out;
	}
	r = BRK_ERR_TOOBIG;
	if (st.st_size > CA_KEYS_MAX_SIZE) {
		brk_error_set(err, r, "%s is too large", path);
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	r = BRK_ERR_IO;
	if (got != (size_t)st.st_size) {
		brk_error_set(err, r, "cannot read %s", path);
		goto out;
	}
	buf[got] = '\0';
	*text = buf;
	buf = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* Split text into its non-empty, non-comment lines (in place). */
static size_t
key_lines(char *text, const char **lines, size_t max)
{
	char *p = text, *nl;
	size_t n = 0;

	while (p != NULL && *p != '\0' && n < max) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != '#')
			lines[n++] = p;
		p = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

int
pb_ask_snapshot(const struct pb_opts *o, const char *user,
    const char *resource, time_t now, struct pb_answer *a,
    struct brk_error *err)
{
	const char *lines[CA_KEYS_MAX], *why = NULL;
	struct snapshot *s = NULL;
	char *keys = NULL, *text = NULL;
	size_t nkeys, len = 0;
	bool allowed = false;
	int r = BRK_ERR_UNSUPPORTED;

	memset(a, 0, sizeof(*a));
	a->source = "snapshot";
	if (o->snapshot == NULL || o->ca_keys == NULL) {
		brk_error_set(err, r, "no snapshot configured");
		goto out;
	}
	if (strncmp(resource, "host:", 5) != 0 || resource[5] == '\0') {
		brk_error_set(err, r, "a snapshot only decides host: resources");
		goto out;
	}
	if ((r = read_ca_keys(o->ca_keys, &keys, err)) != 0)
		goto out;
	r = BRK_ERR_VERIFY;
	if ((nkeys = key_lines(keys, lines, CA_KEYS_MAX)) == 0) {
		brk_error_set(err, r, "%s holds no CA key", o->ca_keys);
		goto out;
	}
	if ((r = file_read_all(o->snapshot, SNAPSHOT_MAX_SIZE, 0, &text, &len,
	    err)) != 0 ||
	    (r = snapshot_verify(text, len, lines, nkeys, resource + 5, now,
	    &s, err)) != 0 ||
	    (r = snapshot_decide(s, user, now, &allowed, &why)) != 0)
		goto out;
	a->allowed = allowed;
	copy_printable(a->reason, sizeof(a->reason), why != NULL ? why :
	    (allowed ? "allowed" : "denied"));
	r = 0;
out:
	snapshot_free(s);
	free(text);
	free(keys);
	return r;
}
