/*
 * timefmt.c - RFC 3339 in and out, always UTC on the way out.
 */
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "errors.h"

void
time_rfc3339(int64_t t, char *buf)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, TIMEFMT_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, TIMEFMT_LEN, "@%lld", (long long)t);
}

/* Exactly two decimal digits (sscanf's %2d would take "-1" or " 1"). */
static int
two_digits(const char *p, int *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return 0;
	*out = (p[0] - '0') * 10 + (p[1] - '0');
	return 1;
}

int
time_parse_rfc3339(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;
	int oh = 0, om = 0, sign = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return BRK_ERR_INVALID;
	if (strcmp(p, "Z") == 0 || strcmp(p, "z") == 0)
		sign = 0;
	else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 &&
	    two_digits(p + 1, &oh) && p[3] == ':' && two_digits(p + 4, &om) &&
	    oh < 24 && om < 60)
		sign = p[0] == '+' ? 1 : -1;
	else
		return BRK_ERR_INVALID;
	if ((t = timegm(&tm)) == (time_t)-1)
		return BRK_ERR_INVALID;
	*out = (int64_t)t - sign * (oh * 3600 + om * 60);
	return 0;
}

int64_t
time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

json_t *
time_json(int64_t t)
{
	char buf[TIMEFMT_LEN];

	if (t == 0)
		return json_null();
	time_rfc3339(t, buf);
	return json_string(buf);
}
