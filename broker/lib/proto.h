/*
 * proto.h - the wire protocol: newline-delimited JSON.
 *
 * A request is one line: {"v":1,"id":"...","op":"...","as":"user","args":{}}
 * ("as" and "args" optional).  A reply echoes the id:
 *   {"v":1,"id":"...","ok":true,"result":{...}}
 *   {"v":1,"id":"...","ok":false,"error":{"code":"...","message":"..."}}
 * Lines are checked before jansson sees them (length, NUL, UTF-8, nesting
 * depth), so hostile input is refused cheaply and with a clear message.
 */
#ifndef BRK_PROTO_H
#define BRK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "errors.h"

#define PROTO_MAX_LINE (64 * 1024) /* bytes, without the newline */
#define PROTO_MAX_DEPTH 16	   /* nested objects/arrays */
#define PROTO_MAX_STRING 8192	   /* bytes in any one string */
#define PROTO_MAX_ID 64		   /* bytes in a request id */

struct proto_req {
	char id[PROTO_MAX_ID + 1];
	char op[64];
	char *as;     /* NULL when absent */
	json_t *args; /* an object, never NULL */
};

/*
 * Check a line (without its newline) for size, NUL bytes, UTF-8 and depth.
 * Returns 0, or BRK_ERR_TOOBIG / BRK_ERR_INVALID with err filled.
 */
int proto_check_line(const char *line, size_t len, struct brk_error *err);

/*
 * Parse a request line.  On failure *out is NULL, err says why, and id_out
 * (PROTO_MAX_ID + 1 bytes, may be NULL) holds the request's id when one could
 * be read, so that the error reply can echo it.
 */
int proto_parse_request(const char *line, size_t len, struct proto_req **out,
    char *id_out, struct brk_error *err);

void proto_req_free(struct proto_req *req);

/*
 * Reply lines, newline-terminated, malloc'd (NULL on allocation failure).
 * proto_reply_ok() consumes result (it may be NULL: an empty object).
 */
char *proto_reply_ok(const char *id, json_t *result, size_t *len);
/*
 * The same line written as text: proto_reply_ok_open() begins it in o
 * (jsonout_init() done here), the caller writes the result as one value,
 * and proto_reply_ok_close() ends it.  NULL when out of memory or when o
 * met what only jansson writes (*unsupported; jsonout.h): then build the
 * tree and call proto_reply_ok().
 */
struct jsonout;
void proto_reply_ok_open(struct jsonout *o, const char *id);
char *proto_reply_ok_close(struct jsonout *o, size_t *len, bool *unsupported);
char *
proto_reply_error(const char *id, int rc, const char *message, size_t *len);

/*
 * Parse a reply line (client side).  On {"ok":true} sets *result (owned by
 * the caller) and returns 0; on {"ok":false} returns the error's code mapped
 * back to BRK_ERR_* with err->msg holding the message; on garbage returns
 * BRK_ERR_PROTOCOL.
 */
int proto_parse_reply(const char *line, size_t len, const char *want_id,
    json_t **result, struct brk_error *err);

/*
 * Typed access to request arguments.  Each returns 0, BRK_ERR_INVALID when the
 * key has the wrong type or violates the bound (err names the key), or
 * BRK_ERR_NOTFOUND when absent and !required (the output is untouched).
 */
int proto_arg_str(const json_t *args, const char *key, bool required,
    size_t maxlen, const char **out, struct brk_error *err);
int proto_arg_int(const json_t *args, const char *key, bool required,
    int64_t min, int64_t max, int64_t *out, struct brk_error *err);
int proto_arg_bool(
    const json_t *args, const char *key, bool *out, struct brk_error *err);

/*
 * One op's arguments, declared: each entry names a key, its kind, whether
 * it is required, its bounds (PA_INT: min..max; PA_STR: 1..max bytes) and
 * where its value goes (const char **, int64_t *, bool *), written only
 * when the argument is present.
 */
enum proto_arg_kind {
	PA_STR,
	PA_INT,
	PA_BOOL
};
struct proto_arg {
	const char *key;
	enum proto_arg_kind kind;
	bool required;
	int64_t min, max;
	void *out;
};

/*
 * Read args by spec[0..n): a key the spec does not name, a value of the
 * wrong kind or out of bounds, or a required one missing is
 * BRK_ERR_INVALID with err naming it (the messages of proto_arg_*);
 * absent optional ones leave their outputs untouched.
 */
int proto_args_parse(const json_t *args, const struct proto_arg *spec, size_t n,
    struct brk_error *err);

/* BRK_ERR_INVALID when args holds a key not in the NULL-terminated list. */
int proto_args_only(
    const json_t *args, const char *const *allowed, struct brk_error *err);

#endif
