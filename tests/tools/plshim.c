/*
 * plshim.c - test tool: an LD_PRELOAD shim that lets a test simulate a
 * power loss after kill -9.
 *
 *   LD_PRELOAD=plshim.so PLSHIM_LOG=undo.log [PLSHIM_EVENTS=events.txt]
 *       [PLSHIM_MATCH=data.mdb] brokerd ...
 *
 * kill -9 keeps the page cache: every write the daemon made survives it,
 * synced or not, so a crash test passes even with syncing turned off.  A
 * power loss keeps only what was synced.  For every write to a tracked file
 * (one whose name is PLSHIM_MATCH) that no fdatasync/fsync has covered yet,
 * the shim first appends to PLSHIM_LOG (a file outside the process, so kill
 * -9 keeps it) the bytes the write overwrites and the file's old size; a
 * sync of the file appends a sync mark.  The write itself then goes to the
 * page cache at once, as without the shim: LMDB reads its pages through its
 * map, so holding writes back would break it.  After kill -9, plrollback
 * undoes every write after the file's last sync mark: the file as a power
 * loss at that moment could have left it (the most pessimistic such state:
 * nothing unsynced reached the disk).
 *
 * What LMDB 0.9 does here (mdb.c, read for this; no MDB_WRITEMAP in
 * store.c): data pages go out with pwrite() (one page run) or lseek() +
 * writev() (several); the meta page with pwrite() on the same descriptor
 * under MDB_NOMETASYNC, or else on a second descriptor opened O_DSYNC,
 * where a write is durable when it returns: such writes are logged as
 * redo records ("durable") that plrollback re-applies after the undo.
 * Syncs are fdatasync() (fsync() with MDB_FSYNCONLY).  With MDB_WRITEMAP
 * LMDB would write through a shared writable map and msync() it, which
 * this shim cannot see: it aborts the process if a tracked file is ever
 * mapped writable and shared, so that such a change fails the test loudly
 * instead of passing it untested.  write(), pwrite(), pwritev() and
 * ftruncate() are covered too, for completeness.  sync(), syncfs() and
 * sync_file_range() are not counted as syncs (neither LMDB nor brokerd
 * calls them): were they called, the shim would undo too much, a false
 * failure and never a false pass.
 *
 * PLSHIM_EVENTS, if set, gets one text line per event, numbered in one
 * sequence, for the ordering check (plrollback --order):
 *   C seq txnid    a commit: a meta page write (lazy: not yet durable)
 *   K seq txnid    a meta page write on an O_DSYNC descriptor (durable)
 *   S seq          a sync of a tracked file completed
 *   R seq fd mark  bytes received on a socket (mark 1: they contain
 *                  "plmark", the test's tag for the requests it checks)
 *   W seq fd       bytes about to be sent on a socket (a reply)
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "plshim.h"

#define MAX_FD 4096

struct tracked {
	int on;
	int dsync;
	uint64_t dev, ino;
};

static struct tracked fds[MAX_FD];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int logfd = -1, evfd = -1;
static char match[256] = "data.mdb";
static uint64_t seq;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off_t);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static void *(*real_mmap64)(void *, size_t, int, int, int, off_t);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_recv)(int, void *, size_t, int);

#define RESOLVE(name) do {						\
	if (real_##name == NULL)					\
		*(void **)&real_##name = dlsym(RTLD_NEXT, #name);	\
} while (0)

static void
resolve(void)
{
	RESOLVE(write);
	RESOLVE(pwrite);
	RESOLVE(pwrite64);
	RESOLVE(writev);
	RESOLVE(pwritev);
	RESOLVE(pwritev64);
	RESOLVE(open);
	RESOLVE(open64);
	RESOLVE(openat);
	RESOLVE(openat64);
	RESOLVE(close);
	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(ftruncate);
	RESOLVE(ftruncate64);
	RESOLVE(mmap);
	RESOLVE(mmap64);
	RESOLVE(send);
	RESOLVE(sendmsg);
	RESOLVE(recv);
}

static void
die(const char *what)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "plshim: %s\n", what);

	if (n > 0 && real_write != NULL)
		(void)real_write(2, msg, (size_t)n);
	abort();
}

/* Append all of buf to fd (the log files), or die: a test must not go on
 * with an undo log that misses a write. */
static void
put_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = real_write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			die("cannot write the log");
		}
		p += n;
		len -= (size_t)n;
	}
}

/*
 * A forked child (brokerd's CA signer) closes every descriptor but its own
 * and then writes only to its socketpair: it is not the process whose
 * store writes and replies are being followed, and it must not touch the
 * logs it no longer holds.
 */
static void
shim_child(void)
{
	logfd = -1;
	evfd = -1;
}

__attribute__((constructor)) static void
shim_init(void)
{
	const char *p;

	resolve();
	if ((p = getenv("PLSHIM_MATCH")) != NULL && *p != '\0')
		snprintf(match, sizeof(match), "%s", p);
	if ((p = getenv("PLSHIM_LOG")) != NULL &&
	    (logfd = real_open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0)
		die("cannot open PLSHIM_LOG");
	if ((p = getenv("PLSHIM_EVENTS")) != NULL &&
	    (evfd = real_open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0)
		die("cannot open PLSHIM_EVENTS");
	(void)pthread_atfork(NULL, NULL, shim_child);
	/* only this process: not the programs it runs */
	unsetenv("LD_PRELOAD");
	unsetenv("PLSHIM_LOG");
	unsetenv("PLSHIM_EVENTS");
	unsetenv("PLSHIM_MATCH");
}

static void
event(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	if (evfd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(line))
		put_all(evfd, line, (size_t)n);
}

static int
is_tracked(int fd)
{
	return logfd >= 0 && fd >= 0 && fd < MAX_FD && fds[fd].on;
}

static void
track(int fd, const char *path, int flags)
{
	const char *base;
	struct stat st;

	if (logfd < 0 || fd < 0 || fd >= MAX_FD || path == NULL)
		return;
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	if (strcmp(base, match) != 0 || fstat(fd, &st) != 0)
		return;
	pthread_mutex_lock(&lock);
	fds[fd].on = 1;
	fds[fd].dsync = (flags & O_DSYNC) == O_DSYNC;
	fds[fd].dev = (uint64_t)st.st_dev;
	fds[fd].ino = (uint64_t)st.st_ino;
	pthread_mutex_unlock(&lock);
}

static void
log_rec(uint32_t type, const struct tracked *t, uint64_t off,
    const void *data, uint64_t len, uint64_t oldsize)
{
	struct plrec r = {
		.magic = PLREC_MAGIC, .type = type, .dev = t->dev,
		.ino = t->ino, .off = off, .len = len, .oldsize = oldsize,
	};
	struct iovec iov[2] = {
		{ &r, sizeof(r) }, { (void *)data, (size_t)len },
	};
	ssize_t n;

	/* one writev, so that a kill -9 leaves at most a torn last record,
	 * which plrollback ignores (its write had not begun) */
	n = real_writev(logfd, iov, len > 0 ? 2 : 1);
	if (n != (ssize_t)(sizeof(r) + len))
		die("cannot write PLSHIM_LOG");
}

/* pread, also from a descriptor opened write-only (through /proc). */
static ssize_t
read_old(int fd, void *buf, size_t len, off_t off)
{
	char path[64];
	ssize_t n;
	int rfd;

	if ((n = pread(fd, buf, len, off)) >= 0 || errno != EBADF)
		return n;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((rfd = real_open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = pread(rfd, buf, len, off);
	real_close(rfd);
	return n;
}

/*
 * Before a write of len bytes at off to tracked fd: log what it will
 * overwrite (undo), or for an O_DSYNC descriptor the bytes themselves
 * (redo: they are durable once the write returns).  Called with lock held.
 */
static void
before_write(int fd, off_t off, const struct iovec *iov, int iovcnt)
{
	const struct tracked *t = &fds[fd];
	size_t len = 0, have, o;
	struct stat st;
	char *buf;
	ssize_t n;
	int i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (fstat(fd, &st) != 0)
		die("fstat");
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		die("out of memory");
	if (t->dsync) {
		for (i = 0, o = 0; i < iovcnt; i++) {
			memcpy(buf + o, iov[i].iov_base, iov[i].iov_len);
			o += iov[i].iov_len;
		}
		log_rec(PLREC_DURABLE, t, (uint64_t)off, buf, len,
		    (uint64_t)st.st_size);
	} else {
		have = off >= st.st_size ? 0 :
		    (size_t)(st.st_size - off) < len ?
		    (size_t)(st.st_size - off) : len;
		if (have > 0 && (n = read_old(fd, buf, have, off)) !=
		    (ssize_t)have)
			die("cannot read the bytes a write overwrites");
		log_rec(PLREC_UNDO, t, (uint64_t)off, buf, have,
		    (uint64_t)st.st_size);
	}
	/* a meta page write (pages 0 and 1, a short write ending in the
	 * txnid): a commit, for the ordering check */
	if (off < 2 * 4096 && len >= 16 && len <= 256) {
		uint64_t txnid = 0;

		for (i = 0, o = 0; i < iovcnt; i++) {
			memcpy(buf + o, iov[i].iov_base, iov[i].iov_len);
			o += iov[i].iov_len;
		}
		memcpy(&txnid, buf + len - 8, 8);
		event("%c %llu %llu\n", t->dsync ? 'K' : 'C',
		    (unsigned long long)++seq, (unsigned long long)txnid);
	}
	free(buf);
}

static off_t
cur_off(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/*
 * The one body of every write wrapper on a tracked file: save the bytes it
 * overwrites (before_write), then write, under the lock so that the undo
 * log and the file change in the same order.  at_cur: at the file offset
 * (write, writev), else at off.  pwrite64 and pwritev64 are the same calls
 * on a 64-bit off_t, so the vector forms serve all.  (t_powerloss.sh goes
 * red when before_write() is skipped here: checked once.)
 */
static ssize_t
tracked_write(
    int fd, const struct iovec *iov, int iovcnt, bool at_cur, off_t off)
{
	ssize_t n;

	pthread_mutex_lock(&lock);
	before_write(fd, at_cur ? cur_off(fd) : off, iov, iovcnt);
	n = at_cur ? real_writev(fd, iov, iovcnt) :
		     real_pwritev(fd, iov, iovcnt, off);
	pthread_mutex_unlock(&lock);
	return n;
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec iov = { (void *)buf, len };

	resolve();
	if (!is_tracked(fd))
		return real_pwrite(fd, buf, len, off);
	return tracked_write(fd, &iov, 1, false, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec iov = { (void *)buf, len };

	resolve();
	if (!is_tracked(fd))
		return real_pwrite64(fd, buf, len, off);
	return tracked_write(fd, &iov, 1, false, off);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	resolve();
	if (!is_tracked(fd))
		return real_pwritev(fd, iov, iovcnt, off);
	return tracked_write(fd, iov, iovcnt, false, off);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	resolve();
	if (!is_tracked(fd))
		return real_pwritev64(fd, iov, iovcnt, off);
	return tracked_write(fd, iov, iovcnt, false, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	resolve();
	if (!is_tracked(fd))
		return real_writev(fd, iov, iovcnt);
	return tracked_write(fd, iov, iovcnt, true, 0);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	resolve();
	if (!is_tracked(fd))
		return real_write(fd, buf, len);
	return tracked_write(fd, &iov, 1, true, 0);
}

static int
truncate_tracked(int fd, off_t len, int (*fn)(int, off_t))
{
	const struct tracked *t = &fds[fd];
	struct stat st;
	char *buf = NULL;
	size_t have = 0;
	int r;

	pthread_mutex_lock(&lock);
	if (fstat(fd, &st) != 0)
		die("fstat");
	if (len < st.st_size) {	/* keep what is cut off */
		have = (size_t)(st.st_size - len);
		if ((buf = malloc(have)) == NULL)
			die("out of memory");
		if (pread(fd, buf, have, len) != (ssize_t)have)
			die("cannot read what a truncate cuts off");
	}
	log_rec(PLREC_UNDO, t, (uint64_t)len, buf, have,
	    (uint64_t)st.st_size);
	free(buf);
	r = fn(fd, len);
	pthread_mutex_unlock(&lock);
	return r;
}

int
ftruncate(int fd, off_t len)
{
	resolve();
	if (!is_tracked(fd))
		return real_ftruncate(fd, len);
	return truncate_tracked(fd, len, real_ftruncate);
}

int
ftruncate64(int fd, off_t len)
{
	resolve();
	if (!is_tracked(fd))
		return real_ftruncate64(fd, len);
	return truncate_tracked(fd, len, real_ftruncate64);
}

/* A sync of a tracked file covers every write to it before the sync
 * began; the lock keeps writes out while it runs. */
static int
sync_tracked(int fd, int (*fn)(int))
{
	int r;

	pthread_mutex_lock(&lock);
	if ((r = fn(fd)) == 0) {
		log_rec(PLREC_SYNC, &fds[fd], 0, NULL, 0, 0);
		event("S %llu\n", (unsigned long long)++seq);
	}
	pthread_mutex_unlock(&lock);
	return r;
}

int
fdatasync(int fd)
{
	resolve();
	if (!is_tracked(fd))
		return real_fdatasync(fd);
	return sync_tracked(fd, real_fdatasync);
}

int
fsync(int fd)
{
	resolve();
	if (!is_tracked(fd))
		return real_fsync(fd);
	return sync_tracked(fd, real_fsync);
}

static void
check_map(int prot, int flags, int fd)
{
	if (is_tracked(fd) && (prot & PROT_WRITE) && (flags & MAP_SHARED))
		die("a tracked file is mapped writable and shared "
		    "(MDB_WRITEMAP?): its writes cannot be tracked");
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	resolve();
	check_map(prot, flags, fd);
	return real_mmap(addr, len, prot, flags, fd, off);
}

void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	resolve();
	check_map(prot, flags, fd);
	return real_mmap64(addr, len, prot, flags, fd, off);
}

static int
open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) != 0 ? va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	resolve();
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if ((fd = real_open(path, flags, mode)) >= 0)
		track(fd, path, flags);
	return fd;
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	resolve();
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if ((fd = real_open64(path, flags, mode)) >= 0)
		track(fd, path, flags);
	return fd;
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	resolve();
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if ((fd = real_openat(dirfd, path, flags, mode)) >= 0)
		track(fd, path, flags);
	return fd;
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int fd, mode;

	resolve();
	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if ((fd = real_openat64(dirfd, path, flags, mode)) >= 0)
		track(fd, path, flags);
	return fd;
}

int
close(int fd)
{
	resolve();
	if (is_tracked(fd)) {
		pthread_mutex_lock(&lock);
		memset(&fds[fd], 0, sizeof(fds[fd]));
		pthread_mutex_unlock(&lock);
	}
	return real_close(fd);
}

static int
is_socket(int fd)
{
	struct stat st;

	return evfd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A reply leaves: numbered before the bytes go, so that a sync numbered
 * lower really came first. */
static void
sent(int fd)
{
	if (!is_socket(fd))
		return;
	pthread_mutex_lock(&lock);
	event("W %llu %d\n", (unsigned long long)++seq, fd);
	pthread_mutex_unlock(&lock);
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	resolve();
	sent(fd);
	return real_send(fd, buf, len, flags);
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	resolve();
	sent(fd);
	return real_sendmsg(fd, msg, flags);
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n;

	resolve();
	n = real_recv(fd, buf, len, flags);
	if (n > 0 && is_socket(fd)) {
		pthread_mutex_lock(&lock);
		event("R %llu %d %d\n", (unsigned long long)++seq, fd,
		    memmem(buf, (size_t)n, "plmark", 6) != NULL);
		pthread_mutex_unlock(&lock);
	}
	return n;
}
