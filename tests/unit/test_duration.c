/*
 * test_duration.c - parsing and formatting durations (policy/duration.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "duration.h"
#include "errors.h"

Test(duration, good)
{
	static const struct {
		const char *in;
		int64_t secs;
	} t[] = {
		{ "90s", 90 }, { "15m", 900 }, { "8h", 28800 },
		{ "2d", 172800 }, { "1w", 604800 }, { "1h30m", 5400 },
		{ "1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 245 },
		{ "366d", DURATION_MAX }, { "0h1s", 1 }, { "007m", 420 },
		{ "52w2d", DURATION_MAX },
	};
	size_t i;
	int64_t v;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = -1;
		cr_expect_eq(duration_parse(t[i].in, &v), 0, "%s", t[i].in);
		cr_expect_eq(v, t[i].secs, "%s", t[i].in);
	}
}

Test(duration, bad)
{
	const char *bad[] = { "", "0s", "0h0m", "-1s", "+1s", "1.5h",
	    "99999999999h", "99999999999999999999999s", "1h 30m", " 1h",
	    "1h ", "1x", "h", "1", "30m1h", "1h1h", "367d", "53w",
	    "366d1s", "1H", "1e3s", "0x10s", "1h\n", NULL };
	size_t i;
	int64_t v = 42;

	for (i = 0; bad[i] != NULL; i++) {
		cr_expect_eq(duration_parse(bad[i], &v), BRK_ERR_INVALID,
		    "%s", bad[i]);
		cr_expect_eq(v, 42, "untouched on failure: %s", bad[i]);
	}
	cr_expect_eq(duration_parse(NULL, &v), BRK_ERR_INVALID);
}

Test(duration, format)
{
	static const struct {
		int64_t secs;
		const char *out;
	} t[] = {
		{ 5400, "1h30m" }, { 90, "1m30s" }, { 28800, "8h" },
		{ 86400, "1d" }, { 604800, "1w" }, { 691200, "1w1d" },
		{ 1, "1s" }, { 0, "0s" }, { -5, "0s" },
		{ 604800 + 86400 + 3600 + 60 + 1, "1w1d1h1m1s" },
	};
	char buf[32], tiny[3];
	size_t i;
	int64_t back;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		duration_format(t[i].secs, buf, sizeof(buf));
		cr_expect_str_eq(buf, t[i].out);
		if (t[i].secs > 0) {
			cr_expect_eq(duration_parse(buf, &back), 0);
			cr_expect_eq(back, t[i].secs, "round trip %s", buf);
		}
	}
	duration_format(5400, tiny, sizeof(tiny));
	cr_expect(strlen(tiny) < sizeof(tiny));
}
