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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
		dst[i] = (s[i] >= ' ' && s[i] <= '~' && s[i] != '"') ? s[i] :
								       '?';
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
	const char *rres = json_string_value(json_object_get(res, "resource"));
	const char *why = json_string_value(json_object_get(res, "reason"));
	const char *grant = json_string_value(json_object_get(res, "grant"));

	if (!json_is_object(res) || !json_is_boolean(allowed) ||
	    ruser == NULL || rres == NULL || strcmp(ruser, user) != 0 ||
	    strcmp(rres, resource) != 0)
		return brk_error_set(err, BRK_ERR_PROTOCOL,
		    "the broker's "
		    "answer is not a decision about %s on %s",
		    user, resource);
	a->allowed = json_is_true(allowed);
	copy_printable(a->reason, sizeof(a->reason),
	    why != NULL ? why : (a->allowed ? "allowed" : "denied"));
	copy_printable(a->grant, sizeof(a->grant), grant);
	return 0;
}

int
pb_connect(const struct pb_opts *o, struct client **out, struct brk_error *err)
{
	/* ca= wins over ca_fingerprint= when both are given */
	struct client_tls tls = { o->ca, o->cert, o->key,
		o->ca == NULL ? o->ca_fingerprint : NULL, NULL };
	uid_t server_uid = CLIENT_NO_UID;
	int r;

	*out = NULL;
	if (o->use_tls)
		r = client_open_tls(
		    o->tls_host, o->tls_port, &tls, o->timeout_ms, out, err);
	else if (o->server_uid != NULL &&
	    (r = client_parse_uid(o->server_uid, &server_uid, err)) != 0)
		brk_error_set(err, r, "server_uid=%s: %s", o->server_uid,
		    brk_strerror(r));
	else
		r = client_open_as(
		    o->socket, server_uid, o->timeout_ms, out, err);
	return r;
}

int
pb_ask_broker(const struct pb_opts *o, const char *user, const char *resource,
    struct pb_answer *a, struct brk_error *err)
{
	long long deadline = deadline_now_ms() + o->timeout_ms, left;
	struct client *c = NULL;
	json_t *args = NULL, *res = NULL;
	int r;

	memset(a, 0, sizeof(*a));
	a->source = "broker";
	if ((r = pb_connect(o, &c, err)) != 0)
		goto out;
	r = BRK_ERR_TIMEOUT;
	if ((left = deadline - deadline_now_ms()) <= 0) {
		brk_error_set(err, r, "the broker did not answer in time");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((args = json_pack(
		 "{s:s, s:s}", "user", user, "resource", resource)) == NULL) {
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

/*
 * Every file an offline decision trusts (the CA keys, the snapshot, the
 * replay state) is refused when others could have edited it: a regular
 * file, not a symlink, owned by root (or by the effective uid, which is
 * root wherever logins happen; tests run the module as themselves), and
 * writable by nobody else.
 */
#define TRUSTED (FILE_NOFOLLOW | FILE_OURS_OR_ROOT | FILE_NO_WRITERS)

/*
 * Refuse a snapshot older than the newest one accepted before (a replay
 * of one issued before a block or a revocation), and record a newer one.
 * The state file holds that issued_at in decimal; it is created 0600 and
 * held to the same standard as the snapshot.  Logins in parallel take
 * turns on an exclusive lock, waited for at most timeout_ms.  A state we
 * cannot read, lock or record is no decision: fail closed.
 */
static int
check_replay(
    const char *path, int64_t issued_at, int timeout_ms, struct brk_error *err)
{
	long long deadline = deadline_now_ms() + timeout_ms;
	char buf[32], *end = NULL;
	long long seen = 0;
	ssize_t n;
	int fd, r = BRK_ERR_IO;

	if ((r = file_open_checked(
		 path, NULL, O_RDWR | O_CREAT, TRUSTED, &fd, NULL, err)) != 0)
		return r;
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK || deadline_now_ms() >= deadline) {
			r = brk_error_set(
			    err, BRK_ERR_TIMEOUT, "cannot lock %s", path);
			goto out;
		}
		usleep(5000);
	}
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) < 0) {
		r = brk_error_set(err, BRK_ERR_IO, "cannot read %s: %s", path,
		    strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	if (n > 0) {
		errno = 0;
		seen = strtoll(buf, &end, 10);
		if (errno != 0 || buf[0] < '0' || buf[0] > '9' ||
		    (*end != '\n' && *end != '\0') || seen < 0) {
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "%s is "
			    "corrupt (remove it to accept the current "
			    "snapshot)",
			    path);
			goto out;
		}
	}
	if (issued_at < seen) {
		r = brk_error_set(err, BRK_ERR_VERIFY,
		    "snapshot issued at %lld "
		    "is older than one already accepted (issued at %lld): "
		    "refused as a replay",
		    (long long)issued_at, seen);
		goto out;
	}
	if (issued_at > seen) {
		n = snprintf(buf, sizeof(buf), "%lld\n", (long long)issued_at);
		if (ftruncate(fd, 0) != 0 ||
		    pwrite(fd, buf, (size_t)n, 0) != n || fsync(fd) != 0) {
			r = brk_error_set(err, BRK_ERR_IO,
			    "cannot record the "
			    "snapshot in %s: %s",
			    path, strerror(errno));
			goto out;
		}
	}
	r = 0;
out:
	close(fd); /* drops the lock */
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
pb_ask_snapshot(const struct pb_opts *o, const char *user, const char *resource,
    time_t now, struct pb_answer *a, struct brk_error *err)
{
	const char *lines[CA_KEYS_MAX], *why = NULL;
	struct snapshot *s = NULL;
	char *keys = NULL, *text = NULL, state[PATH_MAX];
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
		brk_error_set(
		    err, r, "a snapshot only decides host: resources");
		goto out;
	}
	if ((r = file_read_checked(o->ca_keys, NULL, TRUSTED, CA_KEYS_MAX_SIZE,
		 &keys, &len, err)) != 0)
		goto out;
	r = BRK_ERR_VERIFY;
	if ((nkeys = key_lines(keys, lines, CA_KEYS_MAX)) == 0) {
		brk_error_set(err, r, "%s holds no CA key", o->ca_keys);
		goto out;
	}
	if (o->snapshot_state != NULL)
		snprintf(state, sizeof(state), "%s", o->snapshot_state);
	else if (snprintf(state, sizeof(state), "%s.state", o->snapshot) >=
	    (int)sizeof(state)) {
		brk_error_set(err, r, "snapshot path too long");
		goto out;
	}
	if ((r = file_read_checked(o->snapshot, NULL, TRUSTED,
		 SNAPSHOT_MAX_SIZE, &text, &len, err)) != 0 ||
	    (r = snapshot_verify(
		 text, len, lines, nkeys, resource + 5, now, &s, err)) != 0)
		goto out;
	r = BRK_ERR_VERIFY;
	if (o->snapshot_max_age > 0 &&
	    s->issued_at + o->snapshot_max_age < (int64_t)now) {
		brk_error_set(err, r,
		    "snapshot is older than "
		    "snapshot_max_age=%d",
		    o->snapshot_max_age);
		goto out;
	}
	if ((r = check_replay(state, s->issued_at, o->timeout_ms, err)) != 0 ||
	    (r = snapshot_decide(s, user, now, &allowed, &why)) != 0)
		goto out;
	a->allowed = allowed;
	copy_printable(a->reason, sizeof(a->reason),
	    why != NULL ? why : (allowed ? "allowed" : "denied"));
	r = 0;
out:
	snapshot_free(s);
	free(text);
	free(keys);
	return r;
}
