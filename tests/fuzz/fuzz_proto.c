/*
 * fuzz_proto.c - fuzz target for the wire protocol (broker/lib/proto.c).
 *
 * Each input is one line as a peer would send it: first the cheap checks
 * (proto_check_line), then the request parser as the daemon runs it, and
 * the reply parser as the CLI and the PAM module run it.  The reply parser
 * is given the line even when the checks refuse it: it must cope alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct brk_error err = { { 0 } };
	struct proto_req *req = NULL;
	char id[PROTO_MAX_ID + 1];
	json_t *result = NULL;
	const char *s = NULL;
	int64_t n = 0;
	bool b = false;
	static const char *const allowed[] = { "resource", "role", "for",
	    "reason", NULL };

	if (proto_check_line(line, size, &err) == 0 &&
	    proto_parse_request(line, size, &req, id, &err) == 0) {
		/* the typed accessors the ops use on args */
		(void)proto_arg_str(req->args, "resource", false, 256, &s,
		    &err);
		(void)proto_arg_int(req->args, "for", false, 1, 366 * 86400,
		    &n, &err);
		(void)proto_arg_bool(req->args, "all", &b, &err);
		(void)proto_args_only(req->args, allowed, &err);
		proto_req_free(req);
	}
	if (proto_parse_reply(line, size, "1", &result, &err) == 0)
		json_decref(result);
	result = NULL;
	if (proto_parse_reply(line, size, NULL, &result, &err) == 0)
		json_decref(result);
	return 0;
}
