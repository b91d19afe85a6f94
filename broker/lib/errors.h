/*
 * errors.h - the project's error codes.
 *
 * Every function that can fail returns int: 0 on success or a negative
 * BRK_ERR_* code.  The codes live below -10000 so they can never clash with
 * a negated errno value, which brk_strerror() also explains.  Details a user
 * needs (a JSON path, a rule id) travel in struct brk_error, which callers
 * pass in when they want them.
 */
#ifndef BRK_ERRORS_H
#define BRK_ERRORS_H

#include <stddef.h>

enum brk_err {
	BRK_OK = 0,
	BRK_ERR_INTERNAL = -10001, /* a bug or an impossible state */
	BRK_ERR_NOMEM = -10002,	   /* allocation failed */
	BRK_ERR_INVALID = -10003,  /* malformed input from a caller */
	BRK_ERR_TOOBIG = -10004,   /* input over a hard limit */
	BRK_ERR_NOTFOUND = -10005, /* no such object */
	BRK_ERR_EXISTS = -10006,   /* object already exists */
	BRK_ERR_DENIED = -10007, /* refused: policy, block, or authorisation */
	BRK_ERR_STATE = -10008,	 /* not allowed in the object's current state */
	BRK_ERR_IO = -10009,	 /* read/write/sync failure */
	BRK_ERR_FULL = -10010,	 /* the store is full */
	BRK_ERR_TIMEOUT = -10011,     /* no answer in time */
	BRK_ERR_UNREACHABLE = -10012, /* could not connect */
	BRK_ERR_PROTOCOL = -10013,    /* the peer broke the wire protocol */
	BRK_ERR_CRYPTO = -10014,      /* a cryptographic operation failed */
	BRK_ERR_VERIFY = -10015, /* a signature or a chain did not verify */
	BRK_ERR_UNSUPPORTED =
	    -10016,		   /* valid but not supported (e.g. key type) */
	BRK_ERR_PERM = -10017,	   /* unsafe file mode or ownership */
	BRK_ERR_USAGE = -10018,	   /* command line misuse */
	BRK_ERR_READONLY = -10019, /* the store cannot take writes now */
	BRK_ERR_BUSY = -10020,	   /* over a concurrency limit */
	BRK_ERR_MIN = -10020
};

/* Details of a failure, for the user.  msg is always NUL-terminated. */
struct brk_error {
	char msg[512];
};

/* A short static description of rc (a BRK_ERR_* code or a negated errno). */
const char *brk_strerror(int rc);

/* The wire name of a code, as sent in {"error":{"code":..}} replies. */
const char *brk_errcode_name(int rc);

/* The inverse of brk_errcode_name(); unknown names map to BRK_ERR_INTERNAL. */
int brk_errcode_from_name(const char *name);

/* printf into err->msg (err may be NULL); returns rc for tail calls. */
int brk_error_set(struct brk_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#if defined(__clang_analyzer__) && !defined(BRK_ERRORS_IMPL)
/* For clang-tidy's analyser, which sees one file at a time: the result is
 * rc, so "return brk_error_set(err, BRK_ERR_x, ...)" is never a success. */
#define brk_error_set(err, rc, ...) \
	(brk_error_set((err), (rc), __VA_ARGS__), (rc))
#endif

#endif
