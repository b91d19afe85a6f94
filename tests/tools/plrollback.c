/*
 * plrollback.c - test tool: after kill -9, roll files back to what a power
 * loss could have left of them; and check that replies waited for syncs.
 *
 *   plrollback UNDO_LOG FILE...
 *	Undo, newest first, every write to each FILE that plshim.so logged
 *	after the file's last sync (restoring the overwritten bytes and the
 *	old size), then redo the writes made through an O_DSYNC descriptor
 *	after it (those were durable).  The result is the file as if nothing
 *	unsynced had reached the disk.  Prints what it did; exit 1 on error.
 *
 *   plrollback --order EVENTS
 *	The ordering check on plshim's event list: for every reply (W) on a
 *	connection whose request (R) was marked, the first commit (C or K)
 *	after that request must have been durable (a sync, S, after it; or K)
 *	before the reply's first byte went out.  The writer is first in,
 *	first out, so the request's own commit is that one or a later one:
 *	a reply before that commit's sync is a reply before the sync that
 *	follows its commit.  Prints "checked N replies, V sent before their
 *	commit was synced"; exit 1 if V > 0 or N == 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plshim.h"

struct rec {
	struct plrec h;
	const unsigned char *data;
};

static int
read_all(const char *path, unsigned char **out, size_t *outlen)
{
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			if ((nb = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nb;
		}
		if ((n = read(fd, buf + len, cap - len)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	close(fd);
	free(buf);
	return -1;
}

static int
rollback(const char *logpath, int nfiles, char **files)
{
	unsigned char *log = NULL;
	struct rec *recs = NULL;
	size_t loglen = 0, pos = 0, n = 0, cap = 0, i, last;
	struct stat st;
	int f, fd, r = 1;

	if (read_all(logpath, &log, &loglen) != 0) {
		fprintf(stderr, "plrollback: cannot read %s: %s\n", logpath,
		    strerror(errno));
		return 1;
	}
	while (loglen - pos >= sizeof(struct plrec)) {
		struct plrec h;

		memcpy(&h, log + pos, sizeof(h));
		if (h.magic != PLREC_MAGIC) {
			fprintf(stderr, "plrollback: %s: bad record at %zu\n",
			    logpath, pos);
			goto out;
		}
		if (loglen - pos - sizeof(h) < h.len)
			break;		/* torn by kill -9: never applied */
		if (n == cap) {
			struct rec *nr;

			cap = cap ? cap * 2 : 1024;
			if ((nr = realloc(recs, cap * sizeof(*recs))) == NULL)
				goto out;
			recs = nr;
		}
		recs[n].h = h;
		recs[n].data = log + pos + sizeof(h);
		n++;
		pos += sizeof(h) + h.len;
	}
	for (f = 0; f < nfiles; f++) {
		size_t undone = 0, redone = 0, bytes = 0;

		if ((fd = open(files[f], O_RDWR | O_CLOEXEC)) < 0 ||
		    fstat(fd, &st) != 0) {
			fprintf(stderr, "plrollback: %s: %s\n", files[f],
			    strerror(errno));
			goto out;
		}
		last = 0;	/* one past the file's last sync mark */
		for (i = 0; i < n; i++)
			if (recs[i].h.type == PLREC_SYNC &&
			    recs[i].h.dev == (uint64_t)st.st_dev &&
			    recs[i].h.ino == (uint64_t)st.st_ino)
				last = i + 1;
		for (i = n; i > last; i--) {
			const struct rec *x = &recs[i - 1];

			if (x->h.type != PLREC_UNDO ||
			    x->h.dev != (uint64_t)st.st_dev ||
			    x->h.ino != (uint64_t)st.st_ino)
				continue;
			if (ftruncate(fd, (off_t)x->h.oldsize) != 0 ||
			    (x->h.len > 0 && pwrite(fd, x->data, x->h.len,
			    (off_t)x->h.off) != (ssize_t)x->h.len)) {
				fprintf(stderr, "plrollback: %s: %s\n",
				    files[f], strerror(errno));
				close(fd);
				goto out;
			}
			undone++;
			bytes += x->h.len;
		}
		for (i = last; i < n; i++) {
			const struct rec *x = &recs[i];

			if (x->h.type != PLREC_DURABLE ||
			    x->h.dev != (uint64_t)st.st_dev ||
			    x->h.ino != (uint64_t)st.st_ino)
				continue;
			if (pwrite(fd, x->data, x->h.len, (off_t)x->h.off) !=
			    (ssize_t)x->h.len) {
				fprintf(stderr, "plrollback: %s: %s\n",
				    files[f], strerror(errno));
				close(fd);
				goto out;
			}
			redone++;
		}
		if (fsync(fd) != 0 || close(fd) != 0) {
			fprintf(stderr, "plrollback: %s: %s\n", files[f],
			    strerror(errno));
			goto out;
		}
		printf("plrollback: %s: undid %zu unsynced writes (%zu bytes), "
		    "redid %zu durable ones\n", files[f], undone, bytes, redone);
	}
	r = 0;
out:
	free(recs);
	free(log);
	return r;
}

#define MAX_FD 65536

static int
order(const char *path)
{
	/* per connection: the newest commit when its marked request came,
	 * or -1 when the connection has no marked request open */
	static long long open_at[MAX_FD];
	unsigned long long commits[1 << 16];
	char line[256];
	unsigned long long s, txn, durable = 0, newest = 0;
	size_t ncommits = 0, checked = 0, bad = 0, i;
	int fd, mark;
	FILE *f;

	for (i = 0; i < MAX_FD; i++)
		open_at[i] = -1;
	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "plrollback: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "C %llu %llu", &s, &txn) == 2) {
			if (ncommits < sizeof(commits) / sizeof(commits[0]))
				commits[ncommits++] = txn;
			if (txn > newest)
				newest = txn;
		} else if (sscanf(line, "K %llu %llu", &s, &txn) == 2) {
			if (ncommits < sizeof(commits) / sizeof(commits[0]))
				commits[ncommits++] = txn;
			if (txn > newest)
				newest = txn;
			if (txn > durable)
				durable = txn;
		} else if (line[0] == 'S') {
			durable = newest;	/* covers every commit so far */
		} else if (sscanf(line, "R %llu %d %d", &s, &fd, &mark) == 3) {
			if (fd >= 0 && fd < MAX_FD)
				open_at[fd] = mark ? (long long)newest : -1;
		} else if (sscanf(line, "W %llu %d", &s, &fd) == 2) {
			unsigned long long first = 0;

			if (fd < 0 || fd >= MAX_FD || open_at[fd] < 0)
				continue;
			/* the first commit after the request came */
			for (i = 0; i < ncommits; i++)
				if (commits[i] > (unsigned long long)open_at[fd]) {
					first = commits[i];
					break;
				}
			open_at[fd] = -1;
			if (first == 0)
				continue;	/* nothing committed: a failure */
			checked++;
			if (first > durable) {
				bad++;
				printf("plrollback: reply %llu on fd %d went out "
				    "before commit %llu was synced (durable "
				    "%llu)\n", s, fd, first, durable);
			}
		}
	}
	fclose(f);
	printf("checked %zu replies, %zu sent before their commit was synced\n",
	    checked, bad);
	return bad > 0 || checked == 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--order") == 0)
		return order(argv[2]);
	if (argc < 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: plrollback UNDO_LOG FILE...\n"
		    "       plrollback --order EVENTS\n");
		return 2;
	}
	return rollback(argv[1], argc - 2, argv + 2);
}
