/*
 * test_sessions.c - the host's session records (sessions.h): the strict
 * parser, what sess_scan() refuses (malformed, wrong owner, group- or
 * world-writable, a name that does not match its pid and start time,
 * oversize, links), the offline snapshot's word on a grant, and ending
 * several sessions together.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deadline.h"
#include "errors.h"
#include "sessions.h"
#include "snapshot.h"

#define GOOD                                                                   \
	"{\"v\":1,\"grant\":\"r42\",\"account\":\"alice\",\"ruser\":\"\","     \
	"\"resource\":\"host:web-1\",\"tty\":\"/dev/pts/3\",\"pid\":%ld,"      \
	"\"start\":%" PRIu64 ",\"uid\":0,\"opened_at\":1700000000,"            \
	"\"grace\":5,\"keep_offline\":false}"

static int
parse(const char *text, struct sess_rec *r)
{
	struct brk_error err = { { 0 } };

	memset(r, 0, sizeof(*r));
	return sess_record_parse(text, strlen(text), r, &err);
}

Test(sessions, parse_good)
{
	struct sess_rec r;
	char text[512];

	snprintf(text, sizeof(text), GOOD, 1234L, (uint64_t)99);
	cr_assert_eq(parse(text, &r), 0);
	cr_assert_str_eq(r.grant, "r42");
	cr_assert_str_eq(r.account, "alice");
	cr_assert_str_eq(r.tty, "/dev/pts/3");
	cr_assert_eq(r.pid, 1234);
	cr_assert_eq(r.start, 99);
	cr_assert_eq(r.grace, 5);
	cr_assert(!r.keep_offline);
}

/* Fails when the parser is lenient (checked: with the unknown-key loop and
 * the grant-id check removed, "unknown key" and "grant r" went red). */
Test(sessions, parse_malformed)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[1,2]",
		"{}",
		/* an unknown key */
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false,\"x\":1}",
		/* a key missing (keep_offline) */
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1}",
		/* another version */
		"{\"v\":2,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		/* grant not a request id */
		"{\"v\":1,\"grant\":\"x1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		"{\"v\":1,\"grant\":\"r\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		"{\"v\":1,\"grant\":\"r1x\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		/* an empty account */
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		/* a control character, and a NUL inside a string */
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\\u001b[2J\","
		"\"ruser\":\"\",\"resource\":\"\",\"tty\":\"\",\"pid\":1,"
		"\"start\":1,\"uid\":0,\"opened_at\":1,\"grace\":1,"
		"\"keep_offline\":false}",
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\\u0000b\","
		"\"ruser\":\"\",\"resource\":\"\",\"tty\":\"\",\"pid\":1,"
		"\"start\":1,\"uid\":0,\"opened_at\":1,\"grace\":1,"
		"\"keep_offline\":false}",
		/* pid 0, a negative pid, a string pid */
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":0,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":-1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":\"1\",\"start\":1,"
		"\"uid\":0,\"opened_at\":1,\"grace\":1,\"keep_offline\":false}",
		/* a grace over the limit */
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":3601,\"keep_offline\":false}",
		/* keep_offline not a boolean */
		"{\"v\":1,\"grant\":\"r1\",\"account\":\"a\",\"ruser\":\"\","
		"\"resource\":\"\",\"tty\":\"\",\"pid\":1,\"start\":1,\"uid\":0,"
		"\"opened_at\":1,\"grace\":1,\"keep_offline\":1}",
		/* a duplicate key */
		"{\"v\":1,\"grant\":\"r1\",\"grant\":\"r2\",\"account\":\"a\","
		"\"ruser\":\"\",\"resource\":\"\",\"tty\":\"\",\"pid\":1,"
		"\"start\":1,\"uid\":0,\"opened_at\":1,\"grace\":1,"
		"\"keep_offline\":false}",
	};
	struct sess_rec r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(parse(bad[i], &r), BRK_ERR_INVALID,
		    "accepted bad[%zu]: %s", i, bad[i]);
}

Test(sessions, parse_oversize)
{
	struct brk_error err = { { 0 } };
	struct sess_rec r;
	char *big;

	/* valid JSON past SESS_RECORD_MAX: refused before parsing */
	cr_assert_not_null(big = malloc(SESS_RECORD_MAX + 64));
	memset(big, ' ', SESS_RECORD_MAX + 63);
	big[SESS_RECORD_MAX + 63] = '\0';
	big[0] = '{';
	big[SESS_RECORD_MAX + 62] = '}';
	cr_assert_eq(sess_record_parse(big, strlen(big), &r, &err),
	    BRK_ERR_INVALID);
	free(big);
}

/* ---- the directory ---- */

static char dir[64];

struct bad_seen {
	char names[16][96];
	char whys[16][256];
	size_t n;
};

static void
on_bad(const char *name, const char *why, void *arg)
{
	struct bad_seen *b = arg;

	if (b->n < 16) {
		snprintf(b->names[b->n], sizeof(b->names[0]), "%s", name);
		snprintf(b->whys[b->n], sizeof(b->whys[0]), "%s", why);
		b->n++;
	}
}

static const char *
why_of(const struct bad_seen *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->names[i], name) == 0)
			return b->whys[i];
	return NULL;
}

static void
put(const char *name, const char *text, mode_t mode, uid_t owner)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"), "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
	cr_assert_eq(chown(path, owner, (gid_t)-1), 0);
}

static void
dir_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/brokersess.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0700), 0);
}

static void
dir_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(scan, .init = dir_setup, .fini = dir_teardown);

/*
 * One good record beside one of each kind of bad one: only the good one is
 * read, and every bad one is reported with why.  Fails when read_one()
 * trusts too much (checked: with the owner test dropped, with the mode mask
 * 022 narrowed to 002, and with the name compared nowhere, a second record
 * was read each time and the count went red).
 */
Test(scan, refuses_what_it_cannot_trust)
{
	struct brk_error err = { { 0 } };
	struct bad_seen b;
	struct sess_rec *recs = NULL;
	char text[512], big[SESS_RECORD_MAX + 100], name[64], path[256];
	const char *why;
	size_t n = 0;

	if (geteuid() != 0)
		cr_skip_test("needs root: records are trusted only when "
			     "root-owned");
	memset(&b, 0, sizeof(b));
	snprintf(text, sizeof(text), GOOD, 100L, (uint64_t)7);
	put("100-7.json", text, 0600, 0);
	snprintf(text, sizeof(text), GOOD, 101L, (uint64_t)7);
	put("101-7.json", text, 0600, 65534); /* wrong owner */
	snprintf(text, sizeof(text), GOOD, 102L, (uint64_t)7);
	put("102-7.json", text, 0620, 0); /* group-writable */
	snprintf(text, sizeof(text), GOOD, 103L, (uint64_t)7);
	put("103-7.json", text, 0602, 0); /* world-writable */
	snprintf(text, sizeof(text), GOOD, 104L, (uint64_t)7);
	put("999-7.json", text, 0600, 0); /* renamed: another pid */
	snprintf(text, sizeof(text), GOOD, 105L, (uint64_t)7);
	put("105-8.json", text, 0600, 0); /* another start time */
	put("106-7.json", "{\"v\":1", 0600, 0); /* malformed */
	memset(big, ' ', sizeof(big) - 1);	/* oversize */
	big[sizeof(big) - 1] = '\0';
	snprintf(text, sizeof(text), GOOD, 107L, (uint64_t)7);
	memcpy(big, text, strlen(text));
	put("107-7.json", big, 0600, 0);
	put(".108-7.json.tmp", "{", 0600, 0); /* being written: quiet */
	snprintf(path, sizeof(path), "%s/109-7.json", dir);
	cr_assert_eq(symlink("100-7.json", path), 0); /* a link */
	snprintf(path, sizeof(path), "%s/110-7.json", dir);
	cr_assert_eq(mkdir(path, 0700), 0); /* not a file */

	cr_assert_eq(sess_scan(dir, &recs, &n, on_bad, &b, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(n, 1, "read %zu records", n);
	cr_assert_str_eq(recs[0].name, "100-7.json");
	cr_assert_eq(recs[0].pid, 100);
	free(recs);

	cr_expect_not_null(why = why_of(&b, "101-7.json"), "wrong owner");
	cr_expect(why != NULL && strstr(why, "owned by uid 65534") != NULL);
	cr_expect_not_null(why_of(&b, "102-7.json"), "group-writable");
	cr_expect_not_null(why_of(&b, "103-7.json"), "world-writable");
	cr_expect_not_null(why = why_of(&b, "999-7.json"), "renamed");
	cr_expect(why != NULL && strstr(why, "does not match") != NULL);
	cr_expect_not_null(why_of(&b, "105-8.json"), "another start time");
	cr_expect_not_null(why_of(&b, "106-7.json"), "malformed");
	cr_expect_not_null(why = why_of(&b, "107-7.json"), "oversize");
	cr_expect(why != NULL && strstr(why, "over") != NULL);
	cr_expect_not_null(why_of(&b, "109-7.json"), "a link");
	cr_expect_not_null(why_of(&b, "110-7.json"), "not a file");
	cr_expect_null(why_of(&b, ".108-7.json.tmp"), "a temporary file");
	snprintf(name, sizeof(name), "%zu", b.n);
	cr_expect_eq(b.n, 9, "reported %s", name);
}

/* A directory others could write in is not read at all. */
Test(scan, unsafe_directory)
{
	struct brk_error err = { { 0 } };
	struct sess_rec *recs = NULL;
	size_t n = 0;

	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(sess_scan(dir, &recs, &n, NULL, NULL, &err),
	    BRK_ERR_PERM);
	cr_assert_null(recs);
	cr_assert_eq(n, 0);
}

/* What sess_record_write() writes, sess_scan() reads back. */
Test(scan, write_then_read)
{
	struct brk_error err = { { 0 } };
	struct sess_rec w, *recs = NULL;
	struct stat st;
	char path[256];
	size_t n = 0;

	if (geteuid() != 0)
		cr_skip_test("needs root: records are trusted only when "
			     "root-owned");
	memset(&w, 0, sizeof(w));
	snprintf(w.grant, sizeof(w.grant), "r7");
	snprintf(w.account, sizeof(w.account), "alice");
	w.pid = getpid();
	cr_assert_eq(sess_proc_stat(w.pid, &w.start, &w.uid, NULL), 0);
	w.grace = 3;
	cr_assert_eq(sess_record_write(dir, &w, &err), 0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/%s", dir, w.name);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(sess_scan(dir, &recs, &n, NULL, NULL, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(recs[0].grant, "r7");
	cr_assert(sess_alive(&recs[0]));
	recs[0].start++; /* another process under the same pid */
	cr_assert(!sess_alive(&recs[0]));
	free(recs);
	cr_assert_eq(sess_record_remove(dir, w.pid, w.start), 0);
	cr_assert_eq(sess_record_remove(dir, w.pid, w.start), 0);
	cr_assert_neq(stat(path, &st), 0);
}

/* ---- the offline snapshot's word ---- */

/* Fails when a block is ignored (checked: with the block loop's return
 * dropped, "blocked" went red). */
Test(sessions, snapshot_has)
{
	struct brk_error err = { { 0 } };
	struct snapshot *s = NULL;
	const char *why;
	time_t now = 1700000000;

	cr_assert_eq(snapshot_new("web-1", now - 60, now + 300, &s, &err), 0);
	cr_assert_eq(
	    snapshot_add_grant(s, "alice", "alice", now + 600, 41, &err), 0);
	cr_assert_eq(
	    snapshot_add_grant(s, "bob", "postgres", now - 1, 42, &err), 0);
	cr_assert_eq(
	    snapshot_add_grant(s, "carol", "carol", now + 600, 43, &err), 0);
	cr_assert_eq(snapshot_add_block(s, "user:carol", "carol", now + 600,
			 "flagged", &err),
	    0);
	cr_assert_eq(
	    snapshot_add_block(s, "global", "*", now - 5, "over", &err), 0);
	cr_expect(sess_snapshot_has(s, "r41", now, &why), "%s", why);
	cr_expect(!sess_snapshot_has(s, "r42", now, &why), "expired grant");
	cr_expect(!sess_snapshot_has(s, "r43", now, &why), "blocked");
	cr_expect(strstr(why, "block") != NULL, "%s", why);
	cr_expect(!sess_snapshot_has(s, "r44", now, &why), "not listed");
	cr_expect(!sess_snapshot_has(s, "r4", now, &why), "prefix");
	cr_expect(!sess_snapshot_has(s, "41", now, &why), "no r");
	cr_expect(!sess_snapshot_has(s, "r41x", now, &why), "junk");
	cr_expect(!sess_snapshot_has(s, "r41", now + 300, &why),
	    "the snapshot expired");
	cr_expect(strstr(why, "expired") != NULL, "%s", why);
	snapshot_free(s);
}

/* ---- ending sessions together ---- */

/* A child that is its own session leader; ignoring SIGHUP when deaf. */
static pid_t
child(bool deaf, struct sess_rec *r)
{
	pid_t pid;
	int p[2];
	char c;

	cr_assert_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		if (deaf)
			signal(SIGHUP, SIG_IGN);
		close(p[0]);
		(void)!write(p[1], "x", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	memset(r, 0, sizeof(*r));
	snprintf(r->grant, sizeof(r->grant), "r1");
	r->pid = pid;
	cr_assert_eq(sess_proc_stat(pid, &r->start, &r->uid, NULL), 0);
	r->grace = 2;
	return pid;
}

/*
 * Three sessions that ignore SIGHUP, with a grace of 2 s each, and one that
 * does not: all end, the deaf ones by SIGKILL, and within about one grace
 * (ending them one after the other would take 6 s).  Fails when the
 * sessions are ended one by one (checked: with sess_terminate_all() calling
 * itself for each record in turn, the elapsed time was 6 s and the check
 * went red).  The bound is generous for a loaded machine: 2 s are needed,
 * 5 s allowed.
 */
Test(sessions, end_together)
{
	struct brk_error err = { { 0 } };
	struct sess_rec recs[4];
	struct sess_end ends[4];
	long long t0, took;
	int i, status;

	for (i = 0; i < 3; i++)
		child(true, &recs[i]);
	child(false, &recs[3]);
	t0 = deadline_now_ms();
	cr_assert_eq(sess_terminate_all(recs, 4, NULL, ends, &err), 0, "%s",
	    err.msg);
	took = deadline_now_ms() - t0;
	for (i = 0; i < 4; i++) {
		cr_assert_eq(waitpid(recs[i].pid, &status, 0), recs[i].pid);
		cr_expect(WIFSIGNALED(status));
		cr_expect_eq(WTERMSIG(status), i < 3 ? SIGKILL : SIGHUP,
		    "session %d", i);
		cr_expect_eq(ends[i].processes, 1);
		cr_expect_eq(ends[i].grace_needed, i < 3, "session %d", i);
		cr_expect(!ends[i].refused);
	}
	cr_expect(took >= 1900 && took < 5000, "took %lld ms", took);
}

/* A record whose pid is now another process (another start time) is
 * refused, and that process is not signalled. */
Test(sessions, reused_pid_refused)
{
	struct brk_error err = { { 0 } };
	struct sess_rec r;
	struct sess_end e;
	int status;

	child(false, &r);
	r.start++;
	cr_assert_eq(sess_terminate_all(&r, 1, NULL, &e, &err), 0);
	cr_expect(e.refused);
	cr_expect_eq(e.processes, 0);
	cr_expect_eq(waitpid(r.pid, &status, WNOHANG), 0, "it was signalled");
	kill(r.pid, SIGKILL);
	waitpid(r.pid, &status, 0);
}
