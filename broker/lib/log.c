/*
 * log.c - the daemon's logger.  A whole line is formatted first and written
 * with one write(2) so that lines from several threads never interleave.
 *
 * Values come from clients (op names, user names, host names from TLS
 * certificates, reasons), so the formatted text is escaped here, where no
 * caller can forget it: a control character, a byte outside ASCII or a
 * backslash is written as \xNN (a backslash as \\).  No value can end a
 * line, forge the next one, or reach a terminal as an escape sequence.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static int to_syslog;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int
log_level_parse(const char *s)
{
	int i;

	for (i = 0; i <= LOG_LVL_DEBUG; i++)
		if (s != NULL && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void
log_setup(enum log_level level, int use_syslog)
{
	max_level = level;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog("brokerd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Append src escaped to dst[*n..cap-1); stops before a partial escape. */
static void
escape_into(char *dst, size_t cap, int *n, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t at = (size_t)*n;

	for (p = (const unsigned char *)src; *p != '\0'; p++) {
		if (*p == '\\') {
			if (at + 2 > cap)
				break;
			dst[at++] = '\\';
			dst[at++] = '\\';
		} else if (*p < 0x20 || *p >= 0x7f) {
			if (at + 4 > cap)
				break;
			dst[at++] = '\\';
			dst[at++] = 'x';
			dst[at++] = hex[*p >> 4];
			dst[at++] = hex[*p & 0xf];
		} else {
			if (at + 1 > cap)
				break;
			dst[at++] = (char)*p;
		}
	}
	*n = (int)at;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[2048], text[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (level > max_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	escape_into(line, sizeof(line) - 2, &n, text);
	line[n] = '\0';
	if (to_syslog) {
		syslog(prio[level], "%s", line);
		return;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return; /* nowhere left to report it */
}
