/*
 * errors.c - words and wire names for the project's error codes.
 */
#define BRK_ERRORS_IMPL /* defines brk_error_set() */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
	const char *text;
} table[] = {
	{ BRK_OK, "ok", "success" },
	{ BRK_ERR_INTERNAL, "internal", "internal error" },
	{ BRK_ERR_NOMEM, "nomem", "out of memory" },
	{ BRK_ERR_INVALID, "invalid", "invalid input" },
	{ BRK_ERR_TOOBIG, "too_big", "input too large" },
	{ BRK_ERR_NOTFOUND, "not_found", "not found" },
	{ BRK_ERR_EXISTS, "exists", "already exists" },
	{ BRK_ERR_DENIED, "denied", "refused" },
	{ BRK_ERR_STATE, "conflict", "not allowed in the current state" },
	{ BRK_ERR_IO, "io", "input/output error" },
	{ BRK_ERR_FULL, "store_full", "the store is full" },
	{ BRK_ERR_TIMEOUT, "timeout", "timed out" },
	{ BRK_ERR_UNREACHABLE, "unreachable", "broker unreachable" },
	{ BRK_ERR_PROTOCOL, "protocol", "protocol error" },
	{ BRK_ERR_CRYPTO, "crypto", "cryptographic failure" },
	{ BRK_ERR_VERIFY, "verify", "verification failed" },
	{ BRK_ERR_UNSUPPORTED, "unsupported", "not supported" },
	{ BRK_ERR_PERM, "unsafe_permissions", "unsafe file permissions" },
	{ BRK_ERR_USAGE, "usage", "usage error" },
	{ BRK_ERR_READONLY, "read_only", "the store cannot take writes" },
	{ BRK_ERR_BUSY, "busy", "too busy" },
};

const char *
brk_strerror(int rc)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == rc)
			return table[i].text;
	if (rc < 0 && rc > -4096)
		return strerror(-rc);
	return "unknown error";
}

const char *
brk_errcode_name(int rc)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == rc)
			return table[i].name;
	return rc < 0 && rc > -4096 ? "io" : "internal";
}

int
brk_errcode_from_name(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].name, name) == 0)
			return table[i].code;
	return BRK_ERR_INTERNAL;
}

int
brk_error_set(struct brk_error *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}
