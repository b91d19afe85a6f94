/*
 * sshtest.h - helpers shared by the credential-layer unit tests: private
 * temporary directories (removed afterwards), running ssh-keygen with
 * TZ=UTC and capturing its output, whole-file reads and writes.  Included
 * by one test file each, so everything is static.
 */
#ifndef BRK_SSHTEST_H
#define BRK_SSHTEST_H

/* asprintf, nftw; this header must come first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <criterion/criterion.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static __attribute__((unused)) char *
tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *d;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	cr_assert_gt(asprintf(&d, "%s/brk-test-XXXXXX", base), 0);
	cr_assert_not_null(mkdtemp(d), "mkdtemp failed");
	return d;
}

static __attribute__((unused)) int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static __attribute__((unused)) void
tmpdir_free(char *d)
{
	if (d == NULL)
		return;
	nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

static __attribute__((unused)) char *
path_in(const char *dir, const char *name)
{
	char *p;

	cr_assert_gt(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

/* Run argv with TZ=UTC; stdout+stderr into *outp (free()); exit status. */
static __attribute__((unused)) int
run(char *const argv[], char **outp)
{
	char buf[4096], *out = NULL;
	size_t len = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		close(0);
		open("/dev/null", O_RDONLY);
		setenv("TZ", "UTC", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
		out = realloc(out, len + (size_t)n + 1);
		cr_assert_not_null(out);
		memcpy(out + len, buf, (size_t)n);
		len += (size_t)n;
	}
	close(fds[0]);
	if (out == NULL)
		out = calloc(1, 1);
	out[len] = '\0';
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (outp != NULL)
		*outp = out;
	else
		free(out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static __attribute__((unused)) char *
slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

static __attribute__((unused)) void
spew(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "create %s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* ssh-keygen a key pair DIR/NAME (+ .pub); returns the .pub path. */
static __attribute__((unused)) char *
keygen(const char *dir, const char *name, const char *type, const char *bits)
{
	char *path = path_in(dir, name), *pub, *out;
	char *argv[16] = { "ssh-keygen", "-q", "-N", "", "-C", "test@example",
	    "-t", (char *)type, "-f", path, NULL };

	/* ssh-keygen would ask before overwriting. */
	cr_assert_gt(asprintf(&pub, "%s.pub", path), 0);
	unlink(path);
	unlink(pub);
	free(pub);
	if (bits != NULL) {
		argv[10] = "-b";
		argv[11] = (char *)bits;
	}
	cr_assert_eq(run(argv, &out), 0, "ssh-keygen: %s", out);
	free(out);
	cr_assert_gt(asprintf(&pub, "%s.pub", path), 0);
	free(path);
	return pub;
}

#endif
