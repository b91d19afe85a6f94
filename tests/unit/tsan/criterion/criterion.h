/*
 * criterion.h - the part of Criterion's API that tests/unit uses, as a
 * small runner that works under ThreadSanitizer.
 *
 * Criterion cannot start under TSan: its inheritable arena is mapped at an
 * address that TSan's shadow memory owns (Snaipe/Criterion#274).  So that
 * `make check-tsan` can run the unit tests that start threads, their
 * sources are built against this header instead (-Itests/unit/tsan).  It
 * keeps Criterion's model: each test runs in a child process of its own
 * (suite and test init/fini around it), with its timeout, and the summary
 * is printed in Criterion's words so that tests/run.sh counts it the same
 * way.  A child that TSan stops reports its own exit code (66).
 */
#ifndef BRK_MINI_CRITERION_H
#define BRK_MINI_CRITERION_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct mini_suite {
	const char *name;
	void (*init)(void);
	void (*fini)(void);
	double timeout;
	struct mini_suite *next;
};

struct mini_test {
	const char *suite, *name;
	void (*fn)(void);
	void (*init)(void);
	void (*fini)(void);
	double timeout;
	int signal;	/* as Criterion's .signal: it passes only killed so */
	struct mini_test *next;
};

static struct mini_suite *mini_suites;
static struct mini_test *mini_tests, **mini_tail = &mini_tests;
static bool mini_expect_failed;

#define MINI_SKIP_EXIT 77

#define TestSuite(sname, ...)						\
	static struct mini_suite sname##_mini_suite = { .name = #sname,	\
		__VA_ARGS__ };						\
	__attribute__((constructor)) static void			\
	sname##_mini_suite_reg(void)					\
	{								\
		sname##_mini_suite.next = mini_suites;			\
		mini_suites = &sname##_mini_suite;			\
	}

#define Test(sname, tname, ...)						\
	static void sname##_##tname##_mini_fn(void);			\
	static struct mini_test sname##_##tname##_mini = {		\
		.suite = #sname, .name = #tname,			\
		.fn = sname##_##tname##_mini_fn, __VA_ARGS__ };		\
	__attribute__((constructor)) static void			\
	sname##_##tname##_mini_reg(void)				\
	{								\
		*mini_tail = &sname##_##tname##_mini;			\
		mini_tail = &sname##_##tname##_mini.next;		\
	}								\
	static void sname##_##tname##_mini_fn(void)

__attribute__((format(printf, 6, 7))) static inline void
mini_check(bool ok, bool fatal, const char *file, int line, const char *expr,
    const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	fprintf(stderr, "%s:%d: Assertion failed: %s:", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (fatal)
		exit(1);
	mini_expect_failed = true;
}

/* The message is optional, as in Criterion: " " pastes onto its format. */
#define MINI_CHECK(fatal, cond, text, ...)				\
	mini_check((cond), (fatal), __FILE__, __LINE__, text, __VA_ARGS__)
#define cr_assert(c, ...)	MINI_CHECK(true, !!(c), #c, " " __VA_ARGS__)
#define cr_expect(c, ...)	MINI_CHECK(false, !!(c), #c, " " __VA_ARGS__)
#define cr_assert_not(c, ...)	MINI_CHECK(true, !(c), "!" #c, " " __VA_ARGS__)
#define cr_expect_not(c, ...)	MINI_CHECK(false, !(c), "!" #c, " " __VA_ARGS__)
#define cr_expect_gt(a, b, ...)	MINI_CHECK(false, (a) > (b), #a " > " #b, " " __VA_ARGS__)
#define cr_expect_leq(a, b, ...) MINI_CHECK(false, (a) <= (b), #a " <= " #b, " " __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...) MINI_CHECK(false, !mini_str_eq((a), (b)), #a " differs from " #b, " " __VA_ARGS__)
#define cr_assert_eq(a, b, ...)	MINI_CHECK(true, (a) == (b), #a " == " #b, " " __VA_ARGS__)
#define cr_expect_eq(a, b, ...)	MINI_CHECK(false, (a) == (b), #a " == " #b, " " __VA_ARGS__)
#define cr_assert_neq(a, b, ...) MINI_CHECK(true, (a) != (b), #a " != " #b, " " __VA_ARGS__)
#define cr_expect_neq(a, b, ...) MINI_CHECK(false, (a) != (b), #a " != " #b, " " __VA_ARGS__)
#define cr_assert_gt(a, b, ...)	MINI_CHECK(true, (a) > (b), #a " > " #b, " " __VA_ARGS__)
#define cr_assert_geq(a, b, ...) MINI_CHECK(true, (a) >= (b), #a " >= " #b, " " __VA_ARGS__)
#define cr_expect_geq(a, b, ...) MINI_CHECK(false, (a) >= (b), #a " >= " #b, " " __VA_ARGS__)
#define cr_assert_lt(a, b, ...)	MINI_CHECK(true, (a) < (b), #a " < " #b, " " __VA_ARGS__)
#define cr_expect_lt(a, b, ...)	MINI_CHECK(false, (a) < (b), #a " < " #b, " " __VA_ARGS__)
#define cr_assert_leq(a, b, ...) MINI_CHECK(true, (a) <= (b), #a " <= " #b, " " __VA_ARGS__)
#define cr_assert_null(p, ...)	MINI_CHECK(true, (p) == NULL, #p " == NULL", " " __VA_ARGS__)
#define cr_expect_null(p, ...)	MINI_CHECK(false, (p) == NULL, #p " == NULL", " " __VA_ARGS__)
#define cr_assert_not_null(p, ...) MINI_CHECK(true, (p) != NULL, #p " != NULL", " " __VA_ARGS__)
#define cr_expect_not_null(p, ...) MINI_CHECK(false, (p) != NULL, #p " != NULL", " " __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) MINI_CHECK(true, mini_str_eq((a), (b)), #a " equals " #b, " " __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) MINI_CHECK(false, mini_str_eq((a), (b)), #a " equals " #b, " " __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) MINI_CHECK(true, !mini_str_eq((a), (b)), #a " differs from " #b, " " __VA_ARGS__)
#define cr_assert_fail(...)	MINI_CHECK(true, false, "fail", " " __VA_ARGS__)
#define cr_log_info(...)	(fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_skip_test(...)						\
	(fprintf(stderr, "skip: " __VA_ARGS__), fputc('\n', stderr),	\
	    exit(MINI_SKIP_EXIT))

static inline bool
mini_str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static struct mini_suite *
mini_suite_of(const struct mini_test *t)
{
	struct mini_suite *s;

	for (s = mini_suites; s != NULL; s = s->next)
		if (strcmp(s->name, t->suite) == 0)
			return s;
	return NULL;
}

/* One test in a child of its own; returns its wait status. */
static int
mini_run(const struct mini_test *t)
{
	struct mini_suite *s = mini_suite_of(t);
	double timeout = t->timeout > 0 ? t->timeout :
	    s != NULL && s->timeout > 0 ? s->timeout : 0;
	pid_t pid;
	int status = 0;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if (timeout > 0)
			alarm((unsigned)timeout + 1);
		if (s != NULL && s->init != NULL)
			s->init();
		if (t->init != NULL)
			t->init();
		t->fn();
		if (t->fini != NULL)
			t->fini();
		if (s != NULL && s->fini != NULL)
			s->fini();
		exit(mini_expect_failed ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	return status;
}

int
main(int argc, char **argv)
{
	const struct mini_test *t;
	int tested = 0, passing = 0, failing = 0, crashing = 0, status;

	(void)argc;
	(void)argv;
	for (t = mini_tests; t != NULL; t = t->next) {
		printf("[RUN ] %s::%s\n", t->suite, t->name);
		status = mini_run(t);
		if (WIFEXITED(status) && WEXITSTATUS(status) == MINI_SKIP_EXIT) {
			printf("[SKIP] %s::%s\n", t->suite, t->name);
			continue;
		}
		tested++;
		if (t->signal != 0) {
			if (WIFSIGNALED(status) &&
			    WTERMSIG(status) == t->signal) {
				passing++;
				printf("[PASS] %s::%s\n", t->suite, t->name);
			} else {
				failing++;
				printf("[FAIL] %s::%s: wanted signal %d, got "
				    "%s %d\n", t->suite, t->name, t->signal,
				    WIFSIGNALED(status) ? "signal" : "exit",
				    WIFSIGNALED(status) ? WTERMSIG(status) :
				    WEXITSTATUS(status));
			}
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			passing++;
			printf("[PASS] %s::%s\n", t->suite, t->name);
		} else if (WIFEXITED(status)) {
			failing++;
			printf("[FAIL] %s::%s: exit %d\n", t->suite, t->name,
			    WEXITSTATUS(status));
		} else {
			crashing++;
			printf("[CRASH] %s::%s: signal %d\n", t->suite, t->name,
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		}
	}
	printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
	    "Crashing: %d\n", tested, passing, failing, crashing);
	return failing + crashing == 0 ? 0 : 1;
}

#endif
