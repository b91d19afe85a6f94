/*
 * timefmt.h - timestamps: stored as UTC seconds, shown as RFC 3339.
 */
#ifndef BRK_TIMEFMT_H
#define BRK_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define TIMEFMT_LEN 32

/* "2026-11-25T03:04:05Z" into buf (at least TIMEFMT_LEN bytes). */
void time_rfc3339(int64_t t, char *buf);

/* Parse "YYYY-MM-DDTHH:MM:SSZ" (or with +HH:MM offset); BRK_ERR_INVALID. */
int time_parse_rfc3339(const char *s, int64_t *out);

/* t as a JSON string in RFC 3339, or JSON null for 0 (never set); NULL
 * when out of memory.  The one form every JSON answer gives a time in. */
json_t *time_json(int64_t t);

/* Seconds since the epoch, now. */
int64_t time_now(void);

#endif
