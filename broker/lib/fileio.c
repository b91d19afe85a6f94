/*
 * fileio.c - checked whole-file reads and atomic replacement.
 *
 * The checks are made on the open descriptor (fstat), never on the name
 * before opening it, so that nothing can swap the file between the check
 * and the read; O_NOFOLLOW refuses a link planted in place of the file.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHAT(w) ((w) != NULL ? (w) : ""), ((w) != NULL ? ": " : "")

static int
check_stat(const char *path, const char *what, int flags, const struct stat *st,
    struct brk_error *err)
{
	uid_t me = geteuid();
	char owner[48] = "";
	const char *mode = NULL;

	if (!S_ISREG(st->st_mode))
		return brk_error_set(err, BRK_ERR_PERM,
		    "%s%s%s is not a regular file", WHAT(what), path);
	if ((flags & FILE_OURS) != 0 && st->st_uid != me)
		snprintf(
		    owner, sizeof(owner), " owned by uid %u", (unsigned)me);
	if ((flags & FILE_OURS_OR_ROOT) != 0 && st->st_uid != 0 &&
	    st->st_uid != me)
		snprintf(owner, sizeof(owner), " owned by root");
	if ((flags & FILE_NO_WRITERS) != 0 && (st->st_mode & 022) != 0)
		mode = "writable only by its owner";
	if ((flags & FILE_PRIVATE) != 0 && (st->st_mode & 077) != 0)
		mode = "mode 0600 or stricter (it may hold a secret)";
	if (owner[0] == '\0' && mode == NULL)
		return 0;
	return brk_error_set(err, BRK_ERR_PERM,
	    "%s%s%s must be a regular file%s%s%s (it is owned by uid %u, "
	    "mode %04o)",
	    WHAT(what), path, owner, mode != NULL ? ", " : "",
	    mode != NULL ? mode : "", (unsigned)st->st_uid,
	    (unsigned)(st->st_mode & 07777));
}

int
file_open_checked(const char *path, const char *what, int oflags, int flags,
    int *fdp, struct stat *stp, struct brk_error *err)
{
	struct stat st;
	int fd = -1, r = BRK_ERR_IO;

	*fdp = -1;
	oflags |= O_CLOEXEC | O_NOCTTY;
	if ((flags & FILE_NOFOLLOW) != 0)
		oflags |= O_NOFOLLOW;
	if ((fd = open(path, oflags, 0600)) < 0) {
		if (errno == ELOOP && (flags & FILE_NOFOLLOW) != 0)
			r = brk_error_set(err, BRK_ERR_PERM,
			    "%s%s%s is a symlink; refusing it", WHAT(what),
			    path);
		else
			r = brk_error_set(err,
			    errno == ENOENT && (flags & FILE_ABSENT_OK) != 0 ?
				BRK_ERR_NOTFOUND :
				BRK_ERR_IO,
			    "%s%scannot open %s: %s", WHAT(what), path,
			    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = brk_error_set(err, BRK_ERR_IO, "%s%scannot stat %s: %s",
		    WHAT(what), path, strerror(errno));
		goto out;
	}
	if ((r = check_stat(path, what, flags, &st, err)) != 0)
		goto out;
	if (stp != NULL)
		*stp = st;
	*fdp = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int
file_read_checked(const char *path, const char *what, int flags, size_t max,
    char **out, size_t *lenp, struct brk_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = -1, r;

	*out = NULL;
	*lenp = 0;
	if ((r = file_open_checked(
		 path, what, O_RDONLY, flags, &fd, &st, err)) != 0)
		goto out;
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "%s%s%s is larger than %zu bytes", WHAT(what), path, max);
		goto out;
	}
	/* One byte more than allowed, so that a file that grew after the
	 * fstat is seen as too large rather than cut short. */
	if ((buf = malloc(max + 1)) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	while (len <= max) {
		if ((n = read(fd, buf + len, max + 1 - len)) < 0) {
			if (errno == EINTR)
				continue;
			r = brk_error_set(err, BRK_ERR_IO,
			    "%s%scannot read %s: %s", WHAT(what), path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "%s%s%s is larger than %zu bytes", WHAT(what), path, max);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
out:
	if (buf != NULL) {
		if ((flags & FILE_PRIVATE) != 0)
			explicit_bzero(buf, max + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

int
file_read_all(const char *path, size_t max, int nofollow, char **out,
    size_t *len, struct brk_error *err)
{
	return file_read_checked(
	    path, NULL, nofollow ? FILE_NOFOLLOW : 0, max, out, len, err);
}

void
file_free_secret(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len + 1);
	free(buf);
}

void
secret_free(char *s)
{
	if (s != NULL)
		file_free_secret(s, strlen(s));
}

/* fsync the directory holding path, so that a rename into it is durable. */
static int
sync_parent(const char *path, const char *what, struct brk_error *err)
{
	char copy[PATH_MAX];
	const char *dir;
	int fd, r = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return brk_error_set(
		    err, BRK_ERR_TOOBIG, "%s%spath too long", WHAT(what));
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return brk_error_set(err, BRK_ERR_IO, "%s%scannot open %s: %s",
		    WHAT(what), dir, strerror(errno));
	if (fsync(fd) != 0)
		r = brk_error_set(err, BRK_ERR_IO, "%s%scannot sync %s: %s",
		    WHAT(what), dir, strerror(errno));
	close(fd);
	return r;
}

int
file_write_atomic(const char *path, const char *what, const void *data,
    size_t len, mode_t mode, struct brk_error *err)
{
	char tmp[PATH_MAX], copy[PATH_MAX], *base;
	const char *p = data;
	size_t done = 0;
	ssize_t n;
	int fd = -1, made = 0, r = BRK_ERR_IO;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
		r = brk_error_set(err, BRK_ERR_TOOBIG, "%s%spath too long: %s",
		    WHAT(what), path);
		goto out;
	}
	base = strrchr(copy, '/');
	if (base != NULL)
		*base++ = '\0';
	/* In the same directory, so that the rename cannot cross a mount. */
	if ((base != NULL ? snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", copy,
				base, (long)getpid()) :
			    snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", copy,
				(long)getpid())) >= (int)sizeof(tmp)) {
		r = brk_error_set(err, BRK_ERR_TOOBIG, "%s%spath too long: %s",
		    WHAT(what), path);
		goto out;
	}
	if ((fd = open(tmp,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)) <
	    0) {
		r = brk_error_set(err, BRK_ERR_IO, "%s%scannot create %s: %s",
		    WHAT(what), tmp, strerror(errno));
		goto out;
	}
	made = 1;
	while (done < len) {
		if ((n = write(fd, p + done, len - done)) < 0) {
			if (errno == EINTR)
				continue;
			r = brk_error_set(err, BRK_ERR_IO,
			    "%s%scannot write %s: %s", WHAT(what), tmp,
			    strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		r = brk_error_set(err, BRK_ERR_IO, "%s%scannot sync %s: %s",
		    WHAT(what), tmp, strerror(errno));
		goto out;
	}
	n = close(fd);
	fd = -1;
	if (n != 0) {
		r = brk_error_set(err, BRK_ERR_IO, "%s%scannot write %s: %s",
		    WHAT(what), tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		r = brk_error_set(err, BRK_ERR_IO,
		    "%s%scannot rename %s to %s: %s", WHAT(what), tmp, path,
		    strerror(errno));
		goto out;
	}
	made = 0;
	r = sync_parent(path, what, err);
out:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return r;
}
