/*
 * serial.h - the ids people type: a letter and a decimal serial ("r42",
 * "o7").  One parser for all of them, so that no kind of id wraps a
 * too-long number onto another, real one.
 */
#ifndef BRK_SERIAL_H
#define BRK_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Parse s as prefix followed by a serial from 1 to UINT64_MAX without
 * leading zeros; with prefix_optional the letter may be left out.  *out is
 * written only on success.  Errors: BRK_ERR_INVALID (anything else,
 * including a number past UINT64_MAX).
 */
int
serial_parse(const char *s, char prefix, bool prefix_optional, uint64_t *out);

#endif
