/*
 * serial.c - parse "r42"-style ids (serial.h).
 */
#include "serial.h"

#include "errors.h"

int
serial_parse(const char *s, char prefix, bool prefix_optional, uint64_t *out)
{
	uint64_t v = 0, digit;

	if (s == NULL)
		return BRK_ERR_INVALID;
	if (*s == prefix)
		s++;
	else if (!prefix_optional)
		return BRK_ERR_INVALID;
	if (*s < '1' || *s > '9')
		return BRK_ERR_INVALID;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return BRK_ERR_INVALID;
		digit = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return BRK_ERR_INVALID;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}
