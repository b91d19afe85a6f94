/*
 * fileio.c - bounded whole-file reads.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
file_read_all(const char *path, size_t max, int nofollow, char **out,
    size_t *len, struct brk_error *err)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, r = BRK_ERR_IO;

	*out = NULL;
	fd = open(path,
	    O_RDONLY | O_CLOEXEC | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		brk_error_set(
		    err, r, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		brk_error_set(err, r, "%s is not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = brk_error_set(err, BRK_ERR_TOOBIG,
		    "%s is larger than %zu "
		    "bytes",
		    path, max);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	if (got != (size_t)st.st_size) {
		brk_error_set(err, r, "cannot read %s", path);
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}
