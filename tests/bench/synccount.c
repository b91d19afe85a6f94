/*
 * synccount.c - LD_PRELOAD shim for `make bench`: counts the syncs a
 * process asks of the kernel, so that the bench reports syncs per second
 * and grants per sync as measured, not as the daemon says.
 *
 *   SYNCCOUNT_FILE=counts LD_PRELOAD=synccount.so brokerd ...
 *
 * Counted (each only when it succeeds): fdatasync(), fsync(), syncfs(),
 * sync_file_range() with SYNC_FILE_RANGE_WAIT_AFTER, msync() with MS_SYNC,
 * and every write to a descriptor opened with O_DSYNC or O_SYNC (LMDB
 * writes its meta page that way when it syncs it: a write there is durable
 * when it returns).  The counts live in SYNCCOUNT_FILE, mapped shared, as
 * native uint64_t (calls, O_DSYNC writes, then the bytes written with
 * pwrite/pwritev: LMDB's pages, to count pages written per commit), so
 * the bench reads them at any moment with od; the increments are atomic,
 * so threads and the forked signer add to the same numbers.  The cost is one atomic add per sync.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAXFD 65536

static uint64_t *counts;
static unsigned char dsync_fd[MAXFD];

__attribute__((constructor)) static void
setup(void)
{
	const char *p = getenv("SYNCCOUNT_FILE");
	void *m;
	int fd;

	if (p == NULL || *p == '\0')
		return;
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return;
	if (ftruncate(fd, 4096) == 0 &&
	    (m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) !=
	    MAP_FAILED)
		counts = m;
	close(fd);
}

static void
count(int which)
{
	if (counts != NULL)
		__atomic_add_fetch(&counts[which], 1, __ATOMIC_RELAXED);
}

static void *
real(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

#define WRAP_SYNC(fn, proto, args, cond)                                   \
	int fn proto                                                       \
	{                                                                  \
		static int(*f) proto;                                      \
		int r;                                                     \
		if (f == NULL)                                             \
			f = real(#fn);                                     \
		r = f args;                                                \
		if (r == 0 && (cond))                                      \
			count(0);                                          \
		return r;                                                  \
	}

WRAP_SYNC(fdatasync, (int fd), (fd), 1)
WRAP_SYNC(fsync, (int fd), (fd), 1)
WRAP_SYNC(syncfs, (int fd), (fd), 1)
WRAP_SYNC(msync, (void *a, size_t n, int fl), (a, n, fl), (fl & MS_SYNC) != 0)
WRAP_SYNC(sync_file_range, (int fd, off_t o, off_t n, unsigned int fl),
    (fd, o, n, fl), (fl & SYNC_FILE_RANGE_WAIT_AFTER) != 0)

static void
opened(int fd, int flags)
{
	if (fd >= 0 && fd < MAXFD)
		dsync_fd[fd] = (flags & (O_DSYNC | O_SYNC)) != 0;
}

#define WRAP_OPEN(fn, proto, args)                                         \
	int fn proto                                                       \
	{                                                                  \
		static int(*f) proto;                                      \
		mode_t mode = 0;                                           \
		va_list ap;                                                \
		int r;                                                     \
		if (f == NULL)                                             \
			f = real(#fn);                                     \
		if (flags & (O_CREAT | O_TMPFILE)) {                       \
			va_start(ap, flags);                               \
			mode = va_arg(ap, mode_t);                         \
			va_end(ap);                                        \
		}                                                          \
		r = f args;                                                \
		opened(r, flags);                                          \
		return r;                                                  \
	}

WRAP_OPEN(open, (const char *p, int flags, ...), (p, flags, mode))
WRAP_OPEN(open64, (const char *p, int flags, ...), (p, flags, mode))
WRAP_OPEN(openat, (int d, const char *p, int flags, ...), (d, p, flags, mode))
WRAP_OPEN(openat64, (int d, const char *p, int flags, ...),
    (d, p, flags, mode))

int
close(int fd)
{
	static int (*f)(int);

	if (f == NULL)
		f = real("close");
	if (fd >= 0 && fd < MAXFD)
		dsync_fd[fd] = 0;
	return f(fd);
}

#define WRAP_WRITE(fn, proto, args, fdarg, pos)                           \
	ssize_t fn proto                                                   \
	{                                                                  \
		static ssize_t(*f) proto;                                  \
		ssize_t r;                                                 \
		if (f == NULL)                                             \
			f = real(#fn);                                     \
		r = f args;                                                \
		if (r > 0 && fdarg >= 0 && fdarg < MAXFD && dsync_fd[fdarg]) \
			count(1);                                          \
		if (r > 0 && (pos) && counts != NULL)                      \
			__atomic_add_fetch(                                \
			    &counts[2], (uint64_t)r, __ATOMIC_RELAXED);    \
		return r;                                                  \
	}

WRAP_WRITE(write, (int fd, const void *b, size_t n), (fd, b, n), fd, 0)
WRAP_WRITE(pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o),
    fd, 1)
WRAP_WRITE(pwrite64, (int fd, const void *b, size_t n, off_t o),
    (fd, b, n, o), fd, 1)
WRAP_WRITE(writev, (int fd, const struct iovec *v, int n), (fd, v, n), fd, 0)
WRAP_WRITE(pwritev, (int fd, const struct iovec *v, int n, off_t o),
    (fd, v, n, o), fd, 1)
