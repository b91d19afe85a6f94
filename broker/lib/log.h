/*
 * log.h - one event per line, key=value, to stderr or syslog.
 *
 * The level and sink are set once at start-up by main() and only read
 * afterwards.  Callers never pass secrets: the logger cannot tell them apart.
 */
#ifndef BRK_LOG_H
#define BRK_LOG_H

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

/* Parse "error", "warn", "info" or "debug"; -1 when unknown. */
int log_level_parse(const char *s);

/* Set once from main() before threads start. */
void log_setup(enum log_level level, int use_syslog);

/* Log "ts=... level=... " followed by the formatted key=value text. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
