/*
 * test_fileio.c - the one checked file reader and the one atomic file
 * writer (broker/lib/fileio.h).
 *
 * Fails when: O_NOFOLLOW is dropped from file_open_checked() (symlink is
 * read), the owner or mode checks in check_stat() are widened (wrong_owner,
 * loose_modes read the file), the size cap is dropped (too_big reads it), or
 * file_write_atomic() no longer unlinks its temporary on failure
 * (write_fails_cleanly and rename_fails_cleanly find a ".tmp." left behind).
 * Each was broken once that way and seen red.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "fileio.h"

static char dir[] = "/tmp/fileio.XXXXXX";

static void
setup(void)
{
	cr_assert(mkdtemp(dir) != NULL);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

static void
put(const char *name, const char *text, mode_t mode, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	cr_assert((f = fopen(path, "w")) != NULL);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

/* How many names in dir contain ".tmp." */
static int
temporaries(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	cr_assert((d = opendir(dir)) != NULL);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void
expect_content(const char *path, const char *want)
{
	struct brk_error err = { "" };
	char *text = NULL;
	size_t len = 0;

	cr_assert_eq(file_read_checked(path, NULL, 0, 4096, &text, &len, &err),
	    0, "%s", err.msg);
	cr_expect_str_eq(text, want);
	cr_expect_eq(len, strlen(want));
	free(text);
}

TestSuite(fileio, .init = setup, .fini = teardown);

Test(fileio, reads_a_private_file)
{
	struct brk_error err = { "" };
	char path[256], *text = NULL;
	size_t len = 0;

	put("secret", "hunter2\n", 0600, path, sizeof(path));
	cr_assert_eq(file_read_checked(path, "config: x",
			 FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE, 64, &text,
			 &len, &err),
	    0, "%s", err.msg);
	cr_expect_str_eq(text, "hunter2\n");
	cr_expect_eq(len, 8);
	file_free_secret(text, len);
	file_free_secret(NULL, 0);
}

Test(fileio, missing_file)
{
	struct brk_error err = { "" };
	char path[256], *text = (char *)"x";
	size_t len = 1;

	snprintf(path, sizeof(path), "%s/nothing", dir);
	cr_expect_eq(file_read_checked(path, "config: ldap.bind_password_file",
			 0, 64, &text, &len, &err),
	    BRK_ERR_IO);
	cr_expect_null(text);
	cr_expect_eq(len, 0);
	cr_expect(strstr(err.msg, "config: ldap.bind_password_file") != NULL,
	    "%s", err.msg);
	cr_expect(strstr(err.msg, path) != NULL, "%s", err.msg);
	cr_expect(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
	cr_expect_eq(file_read_checked(
			 path, NULL, FILE_ABSENT_OK, 64, &text, &len, &err),
	    BRK_ERR_NOTFOUND);
}

Test(fileio, symlink)
{
	struct brk_error err = { "" };
	char path[256], link[300], *text = NULL;
	size_t len = 0;

	put("real", "data", 0600, path, sizeof(path));
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(path, link), 0);
	cr_expect_eq(
	    file_read_checked(link, NULL, FILE_NOFOLLOW, 64, &text, &len, &err),
	    BRK_ERR_PERM);
	cr_expect_null(text);
	cr_expect(strstr(err.msg, "symlink") != NULL, "%s", err.msg);
	/* without the flag the caller chose to follow it */
	cr_expect_eq(
	    file_read_checked(link, NULL, 0, 64, &text, &len, &err), 0);
	free(text);
}

Test(fileio, not_a_regular_file)
{
	struct brk_error err = { "" };
	char *text = NULL;
	size_t len = 0;

	cr_expect_eq(file_read_checked(dir, NULL, 0, 64, &text, &len, &err),
	    BRK_ERR_PERM);
	cr_expect(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
}

Test(fileio, wrong_owner)
{
	struct brk_error err = { "" };
	char path[256], *text = NULL;
	size_t len = 0;
	uid_t other = geteuid() == 0 ? 65534 : 0;

	put("theirs", "data", 0600, path, sizeof(path));
	if (geteuid() == 0)
		cr_assert_eq(chown(path, other, (gid_t)-1), 0);
	else
		snprintf(path, sizeof(path), "/etc/passwd"); /* root's */
	cr_expect_eq(file_read_checked(
			 path, NULL, FILE_OURS, 1 << 20, &text, &len, &err),
	    BRK_ERR_PERM);
	cr_expect_null(text);
	cr_expect(strstr(err.msg, "owned by uid") != NULL, "%s", err.msg);
	if (geteuid() == 0) {
		/* root or ours: another uid still refused */
		cr_expect_eq(file_read_checked(path, NULL, FILE_OURS_OR_ROOT,
				 1 << 20, &text, &len, &err),
		    BRK_ERR_PERM);
		cr_expect(
		    strstr(err.msg, "owned by root") != NULL, "%s", err.msg);
	}
}

Test(fileio, loose_modes)
{
	static const struct {
		mode_t mode;
		int flags, ok;
	} cases[] = {
		{ 0600, FILE_PRIVATE, 1 },
		{ 0400, FILE_PRIVATE, 1 },
		{ 0640, FILE_PRIVATE, 0 },
		{ 0604, FILE_PRIVATE, 0 },
		{ 0644, FILE_NO_WRITERS, 1 },
		{ 0664, FILE_NO_WRITERS, 0 },
		{ 0646, FILE_NO_WRITERS, 0 },
		{ 0666, 0, 1 },
	};
	struct brk_error err = { "" };
	char path[256], *text = NULL;
	size_t i, len = 0;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put("f", "data", cases[i].mode, path, sizeof(path));
		r = file_read_checked(
		    path, NULL, cases[i].flags, 64, &text, &len, &err);
		cr_expect_eq(r, cases[i].ok ? 0 : BRK_ERR_PERM, "mode %04o",
		    (unsigned)cases[i].mode);
		if (!cases[i].ok) {
			cr_expect_null(text);
			cr_expect(
			    strstr(err.msg, "mode") != NULL, "%s", err.msg);
		}
		free(text);
		text = NULL;
	}
}

Test(fileio, too_big)
{
	struct brk_error err = { "" };
	char path[256], *text = NULL;
	size_t len = 0;

	put("big", "0123456789", 0600, path, sizeof(path));
	cr_expect_eq(
	    file_read_checked(path, NULL, FILE_PRIVATE, 9, &text, &len, &err),
	    BRK_ERR_TOOBIG);
	cr_expect_null(text);
	cr_expect(
	    strstr(err.msg, "larger than 9 bytes") != NULL, "%s", err.msg);
	cr_expect_eq(
	    file_read_checked(path, NULL, FILE_PRIVATE, 10, &text, &len, &err),
	    0);
	cr_expect_eq(len, 10);
	file_free_secret(text, len);
}

Test(fileio, write_replaces)
{
	struct brk_error err = { "" };
	char path[256];
	struct stat st;

	put("target", "old", 0600, path, sizeof(path));
	cr_assert_eq(
	    file_write_atomic(path, NULL, "new content", 11, 0640, &err), 0,
	    "%s", err.msg);
	expect_content(path, "new content");
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0640);
	cr_expect_eq(temporaries(), 0);
	/* a file that did not exist yet */
	snprintf(path, sizeof(path), "%s/fresh", dir);
	cr_assert_eq(file_write_atomic(path, NULL, "x", 1, 0600, &err), 0);
	expect_content(path, "x");
}

Test(fileio, write_fails_cleanly)
{
	struct brk_error err = { "" };
	struct rlimit old, lim;
	char path[256];
	int r;

	/* the write itself fails (EFBIG past the file size limit) after the
	 * temporary exists: it must go, and the target keep its old content */
	put("target", "old", 0600, path, sizeof(path));
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim.rlim_cur = 4; /* the soft limit only: it can be raised back */
	lim.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = file_write_atomic(
	    path, "test", "far more than four bytes", 24, 0600, &err);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_expect_eq(r, BRK_ERR_IO);
	cr_expect(strstr(err.msg, "test: cannot write") != NULL, "%s", err.msg);
	cr_expect_eq(temporaries(), 0);
	expect_content(path, "old");
}

Test(fileio, rename_fails_cleanly)
{
	struct brk_error err = { "" };
	char path[256], inner[300];

	/* a non-empty directory where the file should go: rename() fails */
	snprintf(path, sizeof(path), "%s/target", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(inner, sizeof(inner), "%s/keep", path);
	cr_assert_eq(close(creat(inner, 0600)), 0);
	cr_expect_eq(
	    file_write_atomic(path, NULL, "new", 3, 0600, &err), BRK_ERR_IO);
	cr_expect(strstr(err.msg, "cannot rename") != NULL, "%s", err.msg);
	cr_expect_eq(temporaries(), 0);
	cr_expect_eq(access(inner, F_OK), 0);
}

Test(fileio, write_missing_dir)
{
	struct brk_error err = { "" };
	char path[256];

	snprintf(path, sizeof(path), "%s/no/such/file", dir);
	cr_expect_eq(
	    file_write_atomic(path, NULL, "x", 1, 0600, &err), BRK_ERR_IO);
	cr_expect(strstr(err.msg, "cannot create") != NULL, "%s", err.msg);
}
