/*
 * credkind_exec.c - the "exec" credential kind: a site's program makes
 * the credential of a grant (a cloud role, a Kubernetes token) and ends
 * it, for the resources the config's credentials.exec patterns name.
 *
 * The protocol.  The program is run once per call, with the grant as one
 * JSON object and a newline on standard input:
 *
 *   { "action": "issue"|"revoke", "again": BOOL, "id": "r12",
 *     "serial": 12, "user": "alice", "resource": "k8s:prod",
 *     "role": "view", "starts_at": RFC3339, "expires_at": RFC3339 }
 *
 * and BROKER_CRED_ACTION=issue|revoke in its environment.  For "issue" it
 * prints the credential, one JSON object, on standard output and exits 0;
 * the broker returns that object to the requester under "credential"
 * (again: `broker cred ID` asked for a new one).  For "revoke" it ends
 * the grant's credential and exits 0; its output is ignored.  Revoke must
 * be idempotent and must succeed for a grant whose issue failed or never
 * ran: the broker calls it for every grant it ever called issue for.
 *
 * How it runs (as the notification hooks): no shell, posix_spawn() of the
 * configured argv in a process group of its own, a clean signal state, an
 * environment of PATH and BROKER_CRED_ACTION only, no descriptor but the
 * three, standard error to /dev/null (it could carry the secret, and
 * nothing of the credential is ever logged), `timeout` seconds for the
 * whole call, then the group is killed.  Standard output is read up to
 * `max_output` bytes; more is a failure.  Any failure (cannot run, exit
 * status, signal, timeout, too much or no JSON object) leaves the grant
 * standing with "cred_pending" in the reply, and `broker cred ID`
 * retries.  The output buffer is wiped once parsed or refused.
 *
 * Ending.  Before the first issue call for a grant the broker writes its
 * grant document (no secret) to STATE_DIR/cred-exec/ID.json and syncs
 * it; the reconciler calls revoke for every such file whose grant is no
 * longer in force, then removes it.  A crash at any point leaves either
 * no file (the program never ran) or a file (revoke runs once the grant
 * ends), never a credential the broker does not know of.
 */
#include "credkind_exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "credkind.h"
#include "fileio.h"
#include "log.h"
#include "progrun.h"
#include "timefmt.h"

#define EXEC_DIR "cred-exec"
#define EXEC_MAX_ARGS 64
#define EXEC_MAX_PATTERNS 256
#define EXEC_DOC_MAX 8192

/* ---- config ------------------------------------------------------------ */

static int
bad(struct brk_error *err, size_t i, const char *what)
{
	return brk_error_set(
	    err, BRK_ERR_INVALID, "config: credentials.exec[%zu]: %s", i, what);
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A JSON array of 1..max non-empty strings into a NULL-terminated vector. */
static int
strv(json_t *a, size_t max, char ***out, size_t *n)
{
	json_t *s;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > max)
		return BRK_ERR_INVALID;
	if ((*out = calloc(json_array_size(a) + 1, sizeof(char *))) == NULL)
		return BRK_ERR_NOMEM;
	json_array_foreach (a, i, s) {
		if (!json_is_string(s) || json_string_length(s) == 0 ||
		    strlen(json_string_value(s)) != json_string_length(s))
			return BRK_ERR_INVALID;
		if (((*out)[i] = strdup(json_string_value(s))) == NULL)
			return BRK_ERR_NOMEM;
		*n = i + 1;
	}
	return 0;
}

static int
parse_entry(
    json_t *o, size_t idx, struct cred_exec_entry *e, struct brk_error *err)
{
	const char *key;
	json_t *v;
	size_t i, nargv = 0;
	int r;

	e->timeout = 10;
	e->max_output = 65536;
	if (!json_is_object(o))
		return bad(err, idx, "must be an object");
	json_object_foreach (o, key, v) {
		if (strcmp(key, "resources") == 0) {
			if ((r = strv(v, EXEC_MAX_PATTERNS, &e->resources,
				 &e->nresources)) != 0)
				return r == BRK_ERR_NOMEM ?
				    r :
				    bad(err, idx,
					"resources must be a list "
					"of patterns (\"k8s:*\")");
		} else if (strcmp(key, "command") == 0) {
			if ((r = strv(v, EXEC_MAX_ARGS, &e->argv, &nargv)) != 0)
				return r == BRK_ERR_NOMEM ?
				    r :
				    bad(err, idx,
					"command must be a list of "
					"strings (no shell)");
		} else if (strcmp(key, "timeout") == 0) {
			if ((r = config_get_int("credentials.exec", v,
				 "timeout", 1, 300, &e->timeout, err)) != 0)
				return r;
		} else if (strcmp(key, "max_output") == 0) {
			if ((r = config_get_int("credentials.exec", v,
				 "max_output", 2, 1048576, &e->max_output,
				 err)) != 0)
				return r;
		} else
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: credentials.exec[%zu]: unknown key "
			    "\"%.64s\"",
			    idx, key);
	}
	if (e->resources == NULL)
		return bad(err, idx, "resources is required");
	if (e->argv == NULL)
		return bad(err, idx, "command is required");
	for (i = 0; i < e->nresources; i++)
		if (strchr(e->resources[i], ':') == NULL ||
		    strncmp(e->resources[i], "host:", 5) == 0 ||
		    strncmp(e->resources[i], "db:", 3) == 0)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: credentials.exec[%zu]: \"%.64s\" must be "
			    "a kind:name pattern, and host: and db: keep "
			    "their own credentials",
			    idx, e->resources[i]);
	if (e->argv[0] == NULL || e->argv[0][0] != '/')
		return bad(err, idx, "command[0] must be an absolute path");
	if (access(e->argv[0], X_OK) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: credentials.exec[%zu]: cannot execute %.200s: "
		    "%s",
		    idx, e->argv[0], strerror(errno));
	return 0;
}

int
cred_exec_config_parse(
    json_t *v, struct cred_exec_config **out, struct brk_error *err)
{
	struct cred_exec_config *c = NULL;
	const char *key;
	json_t *x, *list = NULL;
	size_t i;
	int r = BRK_ERR_INVALID;

	*out = NULL;
	if (!json_is_object(v)) {
		brk_error_set(err, r, "config: credentials must be an object");
		goto out;
	}
	json_object_foreach (v, key, x) {
		if (strcmp(key, "exec") != 0) {
			brk_error_set(err, r,
			    "config: credentials: unknown key "
			    "\"%.64s\"",
			    key);
			goto out;
		}
		list = x;
	}
	if (list == NULL || !json_is_array(list) ||
	    json_array_size(list) == 0 || json_array_size(list) > 64) {
		brk_error_set(err, r,
		    "config: credentials.exec must be a list of "
		    "1 to 64 entries");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->v = calloc(json_array_size(list), sizeof(*c->v))) == NULL)
		goto out;
	json_array_foreach (list, i, x) {
		c->n = i + 1;
		if ((r = parse_entry(x, i, &c->v[i], err)) != 0)
			goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	cred_exec_config_free(c);
	return r;
}

void
cred_exec_config_free(struct cred_exec_config *c)
{
	size_t i, n;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free_strv(c->v[i].resources, c->v[i].nresources);
		for (n = 0; c->v[i].argv != NULL && c->v[i].argv[n] != NULL;
		     n++)
			;
		free_strv(c->v[i].argv, n);
	}
	free(c->v);
	free(c);
}

/* ---- which resources ---------------------------------------------------- */

static const struct cred_exec_entry *
find_entry(const struct brokerd *d, const char *resource)
{
	const struct cred_exec_config *c = d != NULL ? d->cfg->cred_exec : NULL;
	size_t i, k;

	if (c == NULL || resource == NULL ||
	    strncmp(resource, "host:", 5) == 0 ||
	    strncmp(resource, "db:", 3) == 0)
		return NULL;
	for (i = 0; i < c->n; i++)
		for (k = 0; k < c->v[i].nresources; k++)
			if (fnmatch(c->v[i].resources[k], resource, 0) == 0)
				return &c->v[i];
	return NULL;
}

bool
cred_exec_matches(const struct brokerd *d, const char *resource)
{
	return find_entry(d, resource) != NULL;
}

/* ---- running the program ---------------------------------------------- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Feed in[0..inlen) to the program's standard input and read its
 * standard output into *out (at most e->max_output bytes) until it closes
 * it or the deadline passes.  Returns 0, BRK_ERR_TOOBIG or
 * BRK_ERR_TIMEOUT-like BRK_ERR_UNREACHABLE (*late set).
 */
static int
pump(const struct cred_exec_entry *e, int in_fd, int out_fd, const char *in,
    size_t inlen, int64_t deadline, char *buf, size_t *len, bool *late)
{
	struct pollfd p[2];
	size_t off = 0;
	int64_t left;
	ssize_t n;
	int np;

	*len = 0;
	*late = false;
	while (out_fd >= 0) {
		if ((left = deadline - mono_ms()) <= 0) {
			*late = true;
			return BRK_ERR_UNREACHABLE;
		}
		np = 0;
		p[np++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
		if (in_fd >= 0)
			p[np++] = (struct pollfd){ .fd = in_fd,
				.events = POLLOUT };
		if (poll(p, (nfds_t)np, left > 1000 ? 1000 : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return BRK_ERR_IO;
		}
		if (np == 2 && p[1].revents != 0) {
			n = write(in_fd, in + off, inlen - off);
			if (n > 0)
				off += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
			    off == inlen) {
				close(in_fd); /* EOF; EPIPE: it does not read */
				in_fd = -1;
			}
		}
		if (p[0].revents == 0)
			continue;
		n = read(out_fd, buf + *len, (size_t)e->max_output + 1 - *len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break; /* EOF (or an error: what we have is all) */
		*len += (size_t)n;
		if (*len > (size_t)e->max_output) {
			if (in_fd >= 0)
				close(in_fd);
			return BRK_ERR_TOOBIG;
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	return 0;
}

/*
 * Run e's program for action with doc on standard input; its standard
 * output into *out (malloc'd, NUL-terminated; wipe before freeing).  Every
 * failure is BRK_ERR_UNREACHABLE with why in err (never the output).
 */
static int
run_prog(const struct cred_exec_entry *e, const char *action, const char *doc,
    char **out, size_t *outlen, struct brk_error *err)
{
	char actenv[64];
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, null_fd = -1;
	int64_t deadline = mono_ms() + (int64_t)e->timeout * 1000;
	char *buf = NULL;
	size_t len = 0;
	bool late = false, killed = false;
	pid_t pid = -1;
	int status, r, pr;

	*out = NULL;
	*outlen = 0;
	r = BRK_ERR_NOMEM;
	if ((buf = malloc((size_t)e->max_output + 1)) == NULL)
		goto out;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0 ||
	    (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "credentials.exec %.200s: %s", e->argv[0], strerror(errno));
		goto out;
	}
	snprintf(actenv, sizeof(actenv), "BROKER_CRED_ACTION=%s", action);
	if ((errno = progrun_spawn(
		 e->argv, actenv, in[0], outp[1], null_fd, &pid)) != 0) {
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "credentials.exec: cannot run %.200s: %s", e->argv[0],
		    strerror(errno));
		pid = -1;
		goto out;
	}
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	pr = pump(
	    e, in[1], outp[0], doc, strlen(doc), deadline, buf, &len, &late);
	in[1] = -1; /* pump() closed it */
	if (pr != 0)
		deadline = 0; /* kill it now */
	status = progrun_reap(pid, deadline, NULL, NULL, &killed);
	pid = -1;
	if (pr == BRK_ERR_TOOBIG)
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "credentials.exec %.200s (%s): more than %d bytes of "
		    "output",
		    e->argv[0], action, e->max_output);
	else if (late || killed)
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "credentials.exec %.200s (%s): killed after %d s",
		    e->argv[0], action, e->timeout);
	else if (pr != 0)
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "credentials.exec %.200s (%s): cannot read its output",
		    e->argv[0], action);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "credentials.exec %.200s (%s) failed: %s %d", e->argv[0],
		    action, WIFEXITED(status) ? "exit" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else {
		buf[len] = '\0';
		*out = buf;
		*outlen = len;
		buf = NULL;
		r = 0;
	}
out:
	if (pid > 0)
		progrun_reap(pid, 0, NULL, NULL, &killed);
	if (buf != NULL) {
		explicit_bzero(buf, (size_t)e->max_output + 1);
		free(buf);
	}
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (null_fd >= 0)
		close(null_fd);
	return r;
}

/* ---- the ledger of issued grants ---------------------------------------- */

static int
ledger_dir(const struct brokerd *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/" EXEC_DIR, d->cfg->state_dir);

	return n > 0 && (size_t)n < len ? 0 : BRK_ERR_TOOBIG;
}

static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0 || fsync(fd) != 0)
		r = BRK_ERR_IO;
	if (fd >= 0)
		close(fd);
	return r;
}

/* Write doc as DIR/ID.json, durably (temporary file, fsync, rename). */
static int
ledger_put(const struct brokerd *d, const char *id, const char *doc,
    struct brk_error *err)
{
	char dir[4096], path[4200], tmp[4210];
	size_t len = strlen(doc), off = 0;
	ssize_t n;
	int fd = -1, r = BRK_ERR_IO;

	if (ledger_dir(d, dir, sizeof(dir)) != 0)
		return brk_error_set(err, BRK_ERR_TOOBIG, "state_dir too long");
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	snprintf(tmp, sizeof(tmp), "%s/%s.json.tmp", dir, id);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	if ((fd = open(tmp,
		 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) <
	    0)
		goto out;
	while (off < len) {
		if ((n = write(fd, doc + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0 || sync_dir(dir) != 0)
		goto out;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		brk_error_set(err, r, "cannot record the credential in %s: %s",
		    dir, strerror(errno));
	return r;
}

/* The grant document (no secret): what the program gets, less action. */
static json_t *
grant_doc(const struct request *r)
{
	char id[24], starts[TIMEFMT_LEN], ends[TIMEFMT_LEN];

	req_id(r->serial, id);
	time_rfc3339(r->starts_at, starts);
	time_rfc3339(r->expires_at, ends);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "id", id,
	    "serial", (json_int_t)r->serial, "user", r->user, "resource",
	    r->resource, "role", r->role, "starts_at", starts, "expires_at",
	    ends);
}

/* doc with action and again, as one line for standard input. */
static char *
input_line(json_t *doc, const char *action, bool again)
{
	json_t *in = json_copy(doc);
	char *s = NULL, *line = NULL;

	if (in != NULL &&
	    json_object_set_new(in, "action", json_string(action)) == 0 &&
	    json_object_set_new(in, "again", json_boolean(again)) == 0 &&
	    (s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS)) != NULL &&
	    asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	free(s);
	json_decref(in);
	return line;
}

/* ---- the kind ------------------------------------------------------------ */

static int
exec_call(struct brokerd *d, const struct request *r, bool again, json_t *reply,
    struct brk_error *err)
{
	const struct cred_exec_entry *e = find_entry(d, r->resource);
	json_t *doc = NULL, *cred = NULL;
	json_error_t jerr;
	char id[24], *saved = NULL, *line = NULL, *out = NULL;
	size_t outlen = 0;
	int rc;

	if (e == NULL)
		return brk_error_set(err, BRK_ERR_NOTFOUND,
		    "no credentials.exec entry names %.200s", r->resource);
	if (r->state != ST_ACTIVE || r->expires_at <= time_now())
		return brk_error_set(
		    err, BRK_ERR_STATE, "the grant is not active");
	req_id(r->serial, id);
	rc = BRK_ERR_NOMEM;
	if ((doc = grant_doc(r)) == NULL ||
	    (saved = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
	    (line = input_line(doc, "issue", again)) == NULL)
		goto out;
	/* known before the program runs, so that revoke always follows */
	if ((rc = ledger_put(d, id, saved, err)) != 0 ||
	    (rc = run_prog(e, "issue", line, &out, &outlen, err)) != 0)
		goto out;
	cred = json_loadb(out, outlen, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(&jerr, sizeof(jerr)); /* it quotes the text */
	if (!json_is_object(cred)) {
		rc = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "credentials.exec %.200s (issue) printed no JSON "
		    "object",
		    e->argv[0]);
		goto out;
	}
	rc = json_object_set(reply, "credential", cred) == 0 ? 0 :
							       BRK_ERR_NOMEM;
out:
	if (out != NULL) {
		explicit_bzero(out, outlen);
		free(out);
	}
	json_decref(cred);
	json_decref(doc);
	free(saved);
	free(line);
	return rc;
}

static int
exec_issue(struct brokerd *d, const struct request *r, const struct sshkey *key,
    json_t *reply, struct brk_error *err)
{
	return exec_call(d, r, false, reply, err);
}

static int
exec_reissue(struct brokerd *d, const struct request *r,
    const struct sshkey *key, json_t *reply, struct brk_error *err)
{
	return exec_call(d, r, true, reply, err);
}

static bool
serial_live(uint64_t serial, const struct cred_live *live, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (live[i].serial == serial)
			return true;
	return false;
}

/* Revoke the grant of ledger file DIR/NAME (its grant ended). */
static void
end_one(struct brokerd *d, const char *dir, const char *name,
    cred_event_fn event, void *arg)
{
	struct brk_error err = { { 0 } };
	const struct cred_exec_entry *e;
	char path[4400], credname[64], *text = NULL, *line = NULL;
	char *out = NULL;
	const char *resource, *user, *id;
	json_t *doc = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (file_read_all(path, EXEC_DOC_MAX, 1, &text, &len, &err) != 0 ||
	    (doc = json_loadb(text, len, 0, NULL)) == NULL ||
	    (resource = json_string_value(json_object_get(doc, "resource"))) ==
		NULL ||
	    (user = json_string_value(json_object_get(doc, "user"))) == NULL ||
	    (id = json_string_value(json_object_get(doc, "id"))) == NULL) {
		log_warn("event=cred_end_failed kind=exec file=\"%s\" "
			 "error=\"unreadable\"",
		    path);
		goto out;
	}
	if ((e = find_entry(d, resource)) == NULL) {
		log_warn("event=cred_end_failed kind=exec resource=%s id=%s "
			 "error=\"no credentials.exec entry names it any "
			 "more\"",
		    resource, id);
		goto out;
	}
	if ((line = input_line(doc, "revoke", false)) == NULL)
		goto out;
	if (run_prog(e, "revoke", line, &out, &len, &err) != 0) {
		log_warn("event=cred_end_failed kind=exec resource=%s id=%s "
			 "error=\"%s\"",
		    resource, id, err.msg);
		goto out;
	}
	explicit_bzero(out, len);
	if (unlink(path) != 0 || sync_dir(dir) != 0)
		log_warn("event=cred_end_failed kind=exec file=\"%s\" "
			 "error=\"%s\"",
		    path, strerror(errno));
	snprintf(credname, sizeof(credname), "exec_%s", id);
	event(arg, CRED_ENDED, resource, user, credname);
out:
	free(out);
	free(line);
	json_decref(doc);
	free(text);
}

static int
exec_reconcile(struct brokerd *d, const struct cred_live *live, size_t n,
    cred_event_fn event, void *arg)
{
	char dir[4096], idbuf[32];
	struct dirent *de;
	uint64_t serial;
	size_t len;
	DIR *dp;

	if (d->cfg->cred_exec == NULL || ledger_dir(d, dir, sizeof(dir)) != 0 ||
	    (dp = opendir(dir)) == NULL)
		return 0; /* nothing was ever issued */
	/* readdir() is safe here: this DIR is ours alone (readdir_r() is
	 * deprecated by glibc for that reason) */
	// cppcheck-suppress readdirCalled
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || len - 5 >= sizeof(idbuf) ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue; /* ., .., a .tmp a crash left: rewritten */
		memcpy(idbuf, de->d_name, len - 5);
		idbuf[len - 5] = '\0';
		if (req_id_parse(idbuf, &serial) != 0 ||
		    serial_live(serial, live, n))
			continue;
		end_one(d, dir, de->d_name, event, arg);
	}
	closedir(dp);
	return 0;
}

static void
exec_credname(const struct request *r, char *buf, size_t len)
{
	char id[24];

	req_id(r->serial, id);
	snprintf(buf, len, "exec_%s", id);
}

const struct cred_kind cred_kind_exec = {
	.name = "exec",
	.prefix = "", /* cred_kind_for() asks cred_exec_matches() */
	.early = false,
	.issue = exec_issue,
	.reissue = exec_reissue,
	.reconcile = exec_reconcile,
	.credname = exec_credname,
};
