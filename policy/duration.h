/*
 * duration.h - durations written like 90s, 15m, 8h, 2d (and 1h30m).
 */
#ifndef BRK_DURATION_H
#define BRK_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration anything may name: 366 days. */
#define DURATION_MAX ((int64_t)366 * 24 * 3600)

/*
 * Parse one or more <digits><unit> groups (units s, m, h, d, w; no sign, no
 * spaces, no fractions) into seconds.  Zero, overflow and anything beyond
 * DURATION_MAX are BRK_ERR_INVALID.  *out is untouched on failure.
 */
int duration_parse(const char *s, int64_t *out);

/* Write seconds as the shortest form (e.g. 5400 -> "1h30m"). */
void duration_format(int64_t seconds, char *buf, size_t len);

#endif
