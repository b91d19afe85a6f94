/*
 * duration.c - durations written like 90s, 15m, 8h, 2d, 1w and 1h30m.
 *
 * Units must come largest first and at most once each, so every duration
 * has few spellings and "30m1h" or "1h1h" (likely typos) are refused.  All
 * arithmetic is checked against DURATION_MAX before it is done, so no input
 * can overflow.
 */
#include "duration.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"

static const struct {
	char unit;
	int64_t secs;
} units[] = {
	{ 'w', 7 * 24 * 3600 },
	{ 'd', 24 * 3600 },
	{ 'h', 3600 },
	{ 'm', 60 },
	{ 's', 1 },
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

/* Index of the unit in the table, or -1. */
static int
unit_rank(char c)
{
	size_t i;

	for (i = 0; i < NUNITS; i++)
		if (units[i].unit == c)
			return (int)i;
	return -1;
}

int
duration_parse(const char *s, int64_t *out)
{
	int64_t total = 0, n;
	int rank, last = -1, r = BRK_ERR_INVALID;
	const char *p = s;

	if (s == NULL || out == NULL || *s == '\0')
		goto out;
	while (*p != '\0') {
		if (*p < '0' || *p > '9')
			goto out;
		for (n = 0; *p >= '0' && *p <= '9'; p++) {
			/* Bounded before multiplying: n stays tiny. */
			if (n > DURATION_MAX)
				goto out;
			n = n * 10 + (*p - '0');
		}
		if ((rank = unit_rank(*p)) < 0 || rank <= last)
			goto out;
		last = rank;
		p++;
		if (n > DURATION_MAX / units[rank].secs)
			goto out;
		total += n * units[rank].secs;
		if (total > DURATION_MAX)
			goto out;
	}
	if (total == 0)
		goto out;
	*out = total;
	r = 0;
out:
	return r;
}

void
duration_format(int64_t seconds, char *buf, size_t len)
{
	size_t i, used = 0;
	int n;

	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	if (seconds <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; i < NUNITS && seconds > 0; i++) {
		if (seconds < units[i].secs)
			continue;
		n = snprintf(buf + used, len - used, "%lld%c",
		    (long long)(seconds / units[i].secs), units[i].unit);
		if (n < 0 || (size_t)n >= len - used)
			return; /* truncated, still terminated */
		used += (size_t)n;
		seconds %= units[i].secs;
	}
}
