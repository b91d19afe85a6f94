/*
 * sessions.c - session records on the host, and ending sessions
 * (sessions.h).
 *
 * The record is one JSON object, read strictly: every key known, every
 * type checked, nothing else accepted.  Its file name is <pid>-<start>.json,
 * so a pid reused later gets a record of its own and a stale record can
 * never be mistaken for the new process.
 *
 * Ending: the set of processes is the leader and everything below it in
 * the parent chain at the moment we look (an ssh session's shell and its
 * commands run below the sshd process that ran PAM).  Each is opened as a
 * pidfd first and its start time checked after, so the signal reaches the
 * process that was checked even if the pid is reused in between.
 */
#include "sessions.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "deadline.h"

#define SESS_PROCS_MAX 4096 /* processes in one session we will signal */

int
sess_proc_stat(pid_t pid, uint64_t *start, uid_t *uid, pid_t *ppid)
{
	char path[64], buf[2048], *p, *save = NULL, *tok;
	unsigned long long st = 0;
	long pp = 0, u = -1;
	ssize_t n;
	int fd, field, r = BRK_ERR_NOTFOUND;
	FILE *f = NULL;
	char state = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (pid <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return BRK_ERR_NOTFOUND;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	r = BRK_ERR_INVALID;
	/* comm may hold spaces and ')': the fields start after the last ')' */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		goto out;
	for (field = 3, tok = strtok_r(p + 2, " ", &save); tok != NULL;
	     field++, tok = strtok_r(NULL, " ", &save)) {
		if (field == 3)
			state = tok[0];
		else if (field == 4)
			pp = strtol(tok, NULL, 10);
		else if (field == 22) {
			st = strtoull(tok, NULL, 10);
			break;
		}
	}
	if (field != 22)
		goto out;
	r = BRK_ERR_NOTFOUND;
	if (state == 'Z' || state == 'X')
		goto out;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		goto out;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "Uid:", 4) == 0) {
			u = strtol(buf + 4, NULL, 10);
			break;
		}
	if (u < 0)
		goto out;
	if (start != NULL)
		*start = st;
	if (uid != NULL)
		*uid = (uid_t)u;
	if (ppid != NULL)
		*ppid = (pid_t)pp;
	r = 0;
out:
	if (f != NULL)
		fclose(f);
	return r;
}

/* A directory we may trust records in: ours (root, or the effective uid
 * for tests run unprivileged), a real directory, closed to others. */
static int
dir_safe(int dfd, const char *dir, struct brk_error *err)
{
	struct stat st;

	if (fstat(dfd, &st) != 0)
		return brk_error_set(
		    err, BRK_ERR_IO, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 077) != 0)
		return brk_error_set(err, BRK_ERR_PERM,
		    "%s must be a directory owned by root with mode 0700", dir);
	return 0;
}

static int
open_dir(const char *dir, bool create, int *out, struct brk_error *err)
{
	int dfd;

	*out = -1;
	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST)
		return brk_error_set(err, BRK_ERR_IO, "cannot create %s: %s",
		    dir, strerror(errno));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
	    0) {
		if (errno == ENOENT)
			return BRK_ERR_NOTFOUND;
		return brk_error_set(err,
		    errno == ELOOP || errno == ENOTDIR ? BRK_ERR_PERM :
							 BRK_ERR_IO,
		    "cannot open %s: %s", dir, strerror(errno));
	}
	if (dir_safe(dfd, dir, err) != 0) {
		close(dfd);
		return BRK_ERR_PERM;
	}
	*out = dfd;
	return 0;
}

static bool
text_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f ||
		    i >= max)
			return false;
	return true;
}

int
sess_record_write(const char *dir, struct sess_rec *r, struct brk_error *err)
{
	char tmp[128], *text = NULL;
	json_t *o = NULL;
	int dfd = -1, fd = -1, rc;
	size_t len;

	if ((rc = open_dir(dir, true, &dfd, err)) != 0) {
		if (rc == BRK_ERR_NOTFOUND)
			rc = brk_error_set(err, BRK_ERR_IO, "%s: missing", dir);
		goto out;
	}
	rc = BRK_ERR_INVALID;
	if (!text_ok(r->grant, sizeof(r->grant)) ||
	    !text_ok(r->account, sizeof(r->account)) ||
	    !text_ok(r->ruser, sizeof(r->ruser)) ||
	    !text_ok(r->resource, sizeof(r->resource)) ||
	    !text_ok(r->tty, sizeof(r->tty)) || r->pid <= 0) {
		brk_error_set(err, rc, "a session field is not printable");
		goto out;
	}
	snprintf(r->name, sizeof(r->name), "%ld-%" PRIu64 ".json", (long)r->pid,
	    r->start);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", r->name);
	rc = BRK_ERR_NOMEM;
	if ((o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, "
			   "s:I, s:i, s:b}",
		 "v", 1, "grant", r->grant, "account", r->account, "ruser",
		 r->ruser, "resource", r->resource, "tty", r->tty, "pid",
		 (json_int_t)r->pid, "start", (json_int_t)r->start, "uid",
		 (json_int_t)r->uid, "opened_at", (json_int_t)r->opened_at,
		 "grace", r->grace, "keep_offline", r->keep_offline)) == NULL ||
	    (text = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	len = strlen(text);
	rc = BRK_ERR_IO;
	(void)unlinkat(dfd, tmp, 0);
	if ((fd = openat(dfd, tmp,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) <
	    0) {
		brk_error_set(err, rc, "cannot create %s/%s: %s", dir, tmp,
		    strerror(errno));
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0600) != 0 ||
	    close(fd) != 0) {
		fd = -1;
		(void)unlinkat(dfd, tmp, 0);
		brk_error_set(err, rc, "cannot write %s/%s", dir, tmp);
		goto out;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, r->name) != 0) {
		(void)unlinkat(dfd, tmp, 0);
		brk_error_set(err, rc, "cannot rename %s/%s: %s", dir, tmp,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(text);
	json_decref(o);
	return rc;
}

int
sess_record_remove(const char *dir, pid_t pid, uint64_t start)
{
	char name[96], path[PATH_MAX];

	snprintf(name, sizeof(name), "%ld-%" PRIu64 ".json", (long)pid, start);
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return BRK_ERR_IO;
	if (unlink(path) != 0 && errno != ENOENT)
		return BRK_ERR_IO;
	return 0;
}

static int
get_str(json_t *o, const char *k, char *dst, size_t max, bool empty_ok,
    struct brk_error *err)
{
	json_t *v = json_object_get(o, k);
	const char *s;

	if (!json_is_string(v))
		return brk_error_set(
		    err, BRK_ERR_INVALID, "\"%s\" is not a string", k);
	s = json_string_value(v);
	if (strlen(s) >= max || (!empty_ok && s[0] == '\0') ||
	    !text_ok(s, max) || strlen(s) != json_string_length(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "\"%s\" is empty, too long or not printable", k);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int
get_int(json_t *o, const char *k, json_int_t min, json_int_t max,
    json_int_t *out, struct brk_error *err)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return brk_error_set(
		    err, BRK_ERR_INVALID, "\"%s\" is not a valid number", k);
	*out = json_integer_value(v);
	return 0;
}

int
sess_record_parse(
    const char *text, size_t len, struct sess_rec *r, struct brk_error *err)
{
	static const char *const keys[] = { "v", "grant", "account", "ruser",
		"resource", "tty", "pid", "start", "uid", "opened_at", "grace",
		"keep_offline" };
	json_error_t je;
	json_t *o = NULL, *v;
	json_int_t n;
	const char *k;
	size_t i;
	bool known;
	int rc = BRK_ERR_INVALID;
	char name[sizeof(r->name)];

	memcpy(name, r->name, sizeof(name));
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, sizeof(name));
	if (len > SESS_RECORD_MAX ||
	    (o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(o)) {
		brk_error_set(err, rc, "not a JSON object");
		goto out;
	}
	json_object_foreach (o, k, v) {
		for (known = false, i = 0; i < sizeof(keys) / sizeof(keys[0]);
		     i++)
			known = known || strcmp(k, keys[i]) == 0;
		if (!known) {
			brk_error_set(err, rc, "unknown key \"%.40s\"", k);
			goto out;
		}
	}
	if (get_int(o, "v", 1, 1, &n, err) != 0 ||
	    get_str(o, "grant", r->grant, sizeof(r->grant), false, err) != 0 ||
	    get_str(o, "account", r->account, sizeof(r->account), false, err) !=
		0 ||
	    get_str(o, "ruser", r->ruser, sizeof(r->ruser), true, err) != 0 ||
	    get_str(o, "resource", r->resource, sizeof(r->resource), true,
		err) != 0 ||
	    get_str(o, "tty", r->tty, sizeof(r->tty), true, err) != 0)
		goto out;
	if (get_int(o, "pid", 1, INT_MAX, &n, err) != 0)
		goto out;
	r->pid = (pid_t)n;
	if (get_int(o, "start", 0, INT64_MAX, &n, err) != 0)
		goto out;
	r->start = (uint64_t)n;
	if (get_int(o, "uid", 0, UINT32_MAX - 1, &n, err) != 0)
		goto out;
	r->uid = (uid_t)n;
	if (get_int(o, "opened_at", 0, INT64_MAX, &n, err) != 0)
		goto out;
	r->opened_at = n;
	if (get_int(o, "grace", 0, SESS_GRACE_MAX, &n, err) != 0)
		goto out;
	r->grace = (int)n;
	if (!json_is_boolean(json_object_get(o, "keep_offline"))) {
		brk_error_set(err, rc, "\"keep_offline\" is not a boolean");
		goto out;
	}
	r->keep_offline = json_is_true(json_object_get(o, "keep_offline"));
	if (r->grant[0] != 'r' ||
	    strspn(r->grant + 1, "0123456789") != strlen(r->grant + 1) ||
	    r->grant[1] == '\0') {
		brk_error_set(err, rc, "\"grant\" is not a request id");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* Read one entry of the open directory, as sess_scan() trusts it. */
static int
read_one(int dfd, const char *name, struct sess_rec *r, struct brk_error *err)
{
	char buf[SESS_RECORD_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, rc = BRK_ERR_PERM;
	char want[96];

	if ((fd = openat(dfd, name,
		 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) <
	    0)
		return brk_error_set(err,
		    errno == ELOOP ? BRK_ERR_PERM : BRK_ERR_IO,
		    "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		brk_error_set(err, rc, "not a regular file");
		goto out;
	}
	if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
		brk_error_set(err, rc,
		    "owned by uid %u with mode %04o, not root's and closed",
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	rc = BRK_ERR_INVALID;
	if (st.st_size > SESS_RECORD_MAX ||
	    (n = read(fd, buf, sizeof(buf))) <= 0 || n > SESS_RECORD_MAX) {
		brk_error_set(
		    err, rc, "empty or over %d bytes", SESS_RECORD_MAX);
		goto out;
	}
	if (strlen(name) >= sizeof(r->name)) {
		brk_error_set(err, rc, "name too long");
		goto out;
	}
	memcpy(r->name, name, strlen(name) + 1);
	if ((rc = sess_record_parse(buf, (size_t)n, r, err)) != 0)
		goto out;
	/* the name says which process: a record copied under another
	 * name is not believed */
	snprintf(
	    want, sizeof(want), "%ld-%" PRIu64 ".json", (long)r->pid, r->start);
	if (strcmp(want, name) != 0) {
		rc = brk_error_set(err, BRK_ERR_INVALID,
		    "its name does not match its pid and start time");
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int
sess_scan(const char *dir, struct sess_rec **out, size_t *n, sess_bad_fn bad,
    void *arg, struct brk_error *err)
{
	struct brk_error ferr = { { 0 } };
	struct sess_rec *recs = NULL, *nr;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *dp = NULL;
	int dfd = -1, rc;

	*out = NULL;
	*n = 0;
	if ((rc = open_dir(dir, false, &dfd, err)) != 0)
		return rc == BRK_ERR_NOTFOUND ? 0 : rc;
	rc = BRK_ERR_IO;
	if ((dp = fdopendir(dfd)) == NULL) {
		close(dfd);
		goto out;
	}
	/* readdir() is safe on a stream of our own (readdir_r is deprecated) */
	// cppcheck-suppress readdirCalled
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue; /* ., .., and records being written */
		if (cnt == cap) {
			if (cap >= SESS_MAX)
				break;
			cap = cap ? cap * 2 : 16;
			rc = BRK_ERR_NOMEM;
			if ((nr = realloc(recs, cap * sizeof(*recs))) == NULL)
				goto out;
			recs = nr;
		}
		memset(&recs[cnt], 0, sizeof(recs[cnt]));
		memset(&ferr, 0, sizeof(ferr));
		if (read_one(dirfd(dp), de->d_name, &recs[cnt], &ferr) != 0) {
			if (bad != NULL)
				bad(de->d_name, ferr.msg, arg);
			continue;
		}
		cnt++;
	}
	*out = recs;
	*n = cnt;
	recs = NULL;
	rc = 0;
out:
	if (dp != NULL)
		closedir(dp);
	free(recs);
	return rc;
}

bool
sess_alive(const struct sess_rec *r)
{
	uint64_t start;
	uid_t uid;

	return sess_proc_stat(r->pid, &start, &uid, NULL) == 0 &&
	    start == r->start && uid == r->uid;
}

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
pidfd_signal(int pfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
}

struct proc {
	pid_t pid, ppid;
	uint64_t start;
	int pfd;   /* -1: not ours (any more) */
	int depth; /* below the leader: children first when signalling */
	int owner; /* index of the session it belongs to, -1: none */
	bool gone; /* its pidfd reported it exited */
};

/* Every live process on the system with its parent (one /proc scan). */
static int
list_procs(struct proc **out, size_t *n)
{
	struct proc *ps = NULL, *np;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *dp;
	pid_t pid;
	int rc = BRK_ERR_IO;

	*out = NULL;
	*n = 0;
	if ((dp = opendir("/proc")) == NULL)
		return rc;
	/* readdir() is safe on a stream of our own (readdir_r is deprecated) */
	// cppcheck-suppress readdirCalled
	while ((de = readdir(dp)) != NULL) {
		if ((pid = (pid_t)strtol(de->d_name, NULL, 10)) <= 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 256;
			rc = BRK_ERR_NOMEM;
			if ((np = realloc(ps, cap * sizeof(*ps))) == NULL)
				goto out;
			ps = np;
		}
		memset(&ps[cnt], 0, sizeof(ps[cnt]));
		ps[cnt].pid = pid;
		ps[cnt].pfd = -1;
		ps[cnt].depth = -1;
		ps[cnt].owner = -1;
		if (sess_proc_stat(pid, &ps[cnt].start, NULL, &ps[cnt].ppid) ==
		    0)
			cnt++;
	}
	*out = ps;
	*n = cnt;
	ps = NULL;
	rc = 0;
out:
	closedir(dp);
	free(ps);
	return rc;
}

/* Open a pidfd on pid, then check it is still the process with start
 * time start (and uid, when uid is not -1): -1 when not. */
static int
open_checked(pid_t pid, uint64_t start, uid_t uid)
{
	uint64_t s;
	uid_t u;
	int pfd;

	if ((pfd = pidfd_open_(pid)) < 0)
		return -1;
	if (sess_proc_stat(pid, &s, &u, NULL) != 0 || s != start ||
	    (uid != (uid_t)-1 && u != uid)) {
		close(pfd);
		return -1;
	}
	return pfd;
}

/* Tell the session's terminal, when it has one we can trust to be one. */
static void
tell_tty(const struct sess_rec *r, const char *msg)
{
	struct stat st;
	int fd;

	if (msg == NULL || strncmp(r->tty, "/dev/", 5) != 0 ||
	    strstr(r->tty, "..") != NULL)
		return;
	if ((fd = open(r->tty,
		 O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) <
	    0)
		return;
	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
		(void)!write(fd, "\r\n", 2);
		(void)!write(fd, msg, strlen(msg));
		(void)!write(fd, "\r\n", 2);
	}
	close(fd);
}

/* Poll every open pidfd of set once, waiting up to ms: a pidfd becomes
 * readable when its process has exited (a zombie runs nothing), so gone is
 * the kernel's word for the process checked, never a reused pid's. */
static void
poll_gone(struct proc **set, size_t n, struct pollfd *pf, int ms)
{
	size_t i, k;

	for (i = k = 0; i < n; i++)
		if (!set[i]->gone)
			pf[k++] = (struct pollfd){ .fd = set[i]->pfd,
				.events = POLLIN };
	if (k == 0 || poll(pf, k, ms) <= 0)
		return;
	for (i = k = 0; i < n; i++)
		if (!set[i]->gone &&
		    (pf[k++].revents &
			(POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0)
			set[i]->gone = true;
}

/* Add session s's leader and everything below it to set (open pidfds,
 * checked).  False when the leader is not the process recorded. */
static bool
collect(const struct sess_rec *r, int s, struct proc *all, size_t n,
    struct proc **set, size_t *nset)
{
	size_t i, j, first = *nset;
	int depth;
	bool grew;

	for (i = 0; i < n; i++)
		if (all[i].pid == r->pid && all[i].owner < 0) {
			all[i].pfd = open_checked(r->pid, r->start, r->uid);
			if (all[i].pfd < 0)
				return false;
			all[i].depth = 0;
			all[i].owner = s;
			set[(*nset)++] = &all[i];
			break;
		}
	if (*nset == first)
		return false;
	/* then everything below it, level by level */
	for (depth = 1, grew = true; grew && *nset < SESS_PROCS_MAX; depth++) {
		grew = false;
		for (i = 0; i < n && *nset < SESS_PROCS_MAX; i++) {
			if (all[i].owner >= 0)
				continue;
			for (j = first; j < *nset; j++)
				if (set[j]->depth == depth - 1 &&
				    set[j]->pid == all[i].ppid)
					break;
			if (j == *nset)
				continue;
			all[i].pfd = open_checked(
			    all[i].pid, all[i].start, (uid_t)-1);
			if (all[i].pfd >= 0) {
				all[i].depth = depth;
				all[i].owner = s;
				set[(*nset)++] = &all[i];
				grew = true;
			}
		}
	}
	return true;
}

int
sess_terminate_all(const struct sess_rec *recs, size_t nrec,
    const char *const *msgs, struct sess_end *outs, struct brk_error *err)
{
	struct proc *all = NULL, **set = NULL, *p;
	struct pollfd *pf = NULL;
	long long t0, now, *until = NULL, next;
	size_t n = 0, nset = 0, i, s;
	bool *done = NULL, left;
	int rc, depth;

	memset(outs, 0, nrec * sizeof(*outs));
	if (nrec == 0)
		return 0;
	if ((rc = list_procs(&all, &n)) != 0) {
		brk_error_set(err, rc, "cannot read /proc");
		goto out;
	}
	rc = BRK_ERR_NOMEM;
	if ((set = calloc(SESS_PROCS_MAX, sizeof(*set))) == NULL ||
	    (pf = calloc(SESS_PROCS_MAX, sizeof(*pf))) == NULL ||
	    (until = calloc(nrec, sizeof(*until))) == NULL ||
	    (done = calloc(nrec, sizeof(*done))) == NULL)
		goto out;
	/* the leaders, each only while it is the process recorded */
	for (s = 0; s < nrec; s++)
		if (!collect(&recs[s], (int)s, all, n, set, &nset)) {
			outs[s].refused = true;
			done[s] = true;
		}
	for (s = 0; s < nrec; s++)
		if (!done[s])
			tell_tty(&recs[s], msgs != NULL ? msgs[s] : NULL);
	/* SIGHUP to every session first, children first: a shell that
	 * loses its sshd first may leave them behind for the grace period.
	 * One session that ignores SIGHUP then costs its own grace, never
	 * the others'. */
	for (depth = 64; depth >= 0; depth--)
		for (i = 0; i < nset; i++)
			if (set[i]->depth == depth &&
			    pidfd_signal(set[i]->pfd, SIGHUP) == 0)
				outs[set[i]->owner].processes++;
	for (i = 0; i < nset; i++)
		if (set[i]->depth > 64 &&
		    pidfd_signal(set[i]->pfd, SIGHUP) == 0)
			outs[set[i]->owner].processes++;
	t0 = deadline_now_ms();
	for (s = 0; s < nrec; s++)
		until[s] = t0 + (long long)recs[s].grace * 1000;
	/* the pidfds stay open: each SIGKILL reaches the process checked */
	for (;;) {
		now = deadline_now_ms();
		next = -1;
		for (s = 0; s < nrec; s++) {
			if (done[s])
				continue;
			for (left = false, i = 0; i < nset; i++)
				left = left ||
				    (set[i]->owner == (int)s && !set[i]->gone);
			if (!left) {
				done[s] = true;
				continue;
			}
			if (now < until[s]) {
				if (next < 0 || until[s] < next)
					next = until[s];
				continue;
			}
			for (i = 0; i < nset; i++) {
				p = set[i];
				if (p->owner == (int)s && !p->gone &&
				    pidfd_signal(p->pfd, SIGKILL) == 0)
					outs[s].grace_needed = true;
			}
			done[s] = true;
		}
		if (next < 0)
			break;
		poll_gone(
		    set, nset, pf, (int)(next - now < 100 ? next - now : 100));
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		if (all[i].pfd >= 0)
			close(all[i].pfd);
	free(done);
	free(until);
	free(pf);
	free(set);
	free(all);
	return rc;
}

int
sess_terminate(const struct sess_rec *r, const char *msg, struct sess_end *out,
    struct brk_error *err)
{
	return sess_terminate_all(r, 1, &msg, out, err);
}

#define SESS_KEYS_MAX 16     /* CA keys read for a snapshot */
#define SESS_KEYS_SIZE 65536 /* bytes of the CA keys file */

/* Read a small file only root (or we) could have written. */
static int
read_owned(const char *path, size_t max, char **text, size_t *len,
    struct brk_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	*text = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)) < 0)
		return brk_error_set(err, BRK_ERR_IO, "cannot open %s: %s",
		    path, strerror(errno));
	rc = BRK_ERR_PERM;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022) != 0) {
		brk_error_set(err, rc,
		    "%s must be a regular file owned by root and writable only "
		    "by its owner",
		    path);
		goto out;
	}
	rc = BRK_ERR_TOOBIG;
	if ((uint64_t)st.st_size > max) {
		brk_error_set(err, rc, "%s is too large", path);
		goto out;
	}
	rc = BRK_ERR_NOMEM;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto out;
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	rc = BRK_ERR_IO;
	if (got != (size_t)st.st_size) {
		brk_error_set(err, rc, "cannot read %s", path);
		goto out;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	close(fd);
	free(buf);
	return rc;
}

int
sess_snapshot_load(const char *path, const char *keys, const char *host,
    time_t now, struct snapshot **out, struct brk_error *err)
{
	const char *lines[SESS_KEYS_MAX];
	char *ktext = NULL, *text = NULL, *p, *nl;
	size_t klen = 0, len = 0, nkeys = 0;
	int rc;

	*out = NULL;
	if ((rc = read_owned(keys, SESS_KEYS_SIZE, &ktext, &klen, err)) != 0 ||
	    (rc = read_owned(path, SNAPSHOT_MAX_SIZE, &text, &len, err)) != 0)
		goto out;
	for (p = ktext; p != NULL && *p != '\0' && nkeys < SESS_KEYS_MAX;
	     p = nl != NULL ? nl + 1 : NULL) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		p += strspn(p, " \t");
		if (*p != '\0' && *p != '#')
			lines[nkeys++] = p;
	}
	if (nkeys == 0) {
		rc = brk_error_set(
		    err, BRK_ERR_VERIFY, "%s holds no CA key", keys);
		goto out;
	}
	rc = snapshot_verify(text, len, lines, nkeys, host, now, out, err);
out:
	free(text);
	free(ktext);
	return rc;
}

bool
sess_snapshot_has(
    const struct snapshot *s, const char *grant, time_t now, const char **why)
{
	const struct snapshot_grant *g = NULL;
	unsigned long long serial;
	char *end = NULL;
	size_t i;

	*why = "the snapshot does not list the grant";
	if (grant[0] != 'r' || grant[1] < '0' || grant[1] > '9')
		return false;
	errno = 0;
	serial = strtoull(grant + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	if (s->expires_at <= (int64_t)now) {
		*why = "the snapshot has expired";
		return false;
	}
	for (i = 0; i < s->ngrants && g == NULL; i++)
		if (s->grants[i].serial == serial)
			g = &s->grants[i];
	if (g == NULL)
		return false;
	if (g->expires_at <= (int64_t)now) {
		*why = "the snapshot says the grant has expired";
		return false;
	}
	for (i = 0; i < s->nblocks; i++)
		if (s->blocks[i].until > (int64_t)now &&
		    (strcmp(s->blocks[i].user, "*") == 0 ||
			strcmp(s->blocks[i].user, g->user) == 0)) {
			*why = "the snapshot says a block covers the grant";
			return false;
		}
	*why = "the snapshot lists the grant as active";
	return true;
}
