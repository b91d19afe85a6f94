/*
 * test_proto.c - framing and validation of protocol lines.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"

static int
check(const char *s, size_t n)
{
	struct brk_error err;

	return proto_check_line(s, n, &err);
}

Test(proto, accepts_plain_lines)
{
	const char *l = "{\"v\":1,\"id\":\"a\",\"op\":\"status\"}";

	cr_assert_eq(check(l, strlen(l)), 0);
}

Test(proto, refuses_nul_and_bad_utf8)
{
	cr_assert_eq(check("{\"a\":\"x\0y\"}", 11), BRK_ERR_INVALID);
	cr_assert_eq(check("{\"a\":\"\xff\"}", 9), BRK_ERR_INVALID);
	/* overlong encoding of '/' and a UTF-16 surrogate */
	cr_assert_eq(check("\"\xc0\xaf\"", 4), BRK_ERR_INVALID);
	cr_assert_eq(check("\"\xed\xa0\x80\"", 5), BRK_ERR_INVALID);
	/* truncated sequence at the end */
	cr_assert_eq(check("\"\xe2\x82", 3), BRK_ERR_INVALID);
	cr_assert_eq(check("\"\xe2\x82\xac\"", 5), 0);
}

Test(proto, refuses_oversized_lines_and_strings)
{
	static char big[PROTO_MAX_LINE + 2];

	memset(big, ' ', sizeof(big));
	cr_assert_eq(check(big, PROTO_MAX_LINE + 1), BRK_ERR_TOOBIG);
	cr_assert_eq(check(big, PROTO_MAX_LINE), 0);
	big[0] = '"';
	cr_assert_eq(check(big, PROTO_MAX_STRING + 10), BRK_ERR_TOOBIG);
}

Test(proto, depth_limit_ignores_brackets_in_strings)
{
	char deep[64], ok[64];
	int i;

	for (i = 0; i < PROTO_MAX_DEPTH + 1; i++)
		deep[i] = '[';
	cr_assert_eq(check(deep, PROTO_MAX_DEPTH + 1), BRK_ERR_INVALID);
	snprintf(ok, sizeof(ok), "\"[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"");
	cr_assert_eq(check(ok, strlen(ok)), 0);
}

static int
parse(const char *l, struct proto_req **req, char *id)
{
	struct brk_error err;

	return proto_parse_request(l, strlen(l), req, id, &err);
}

Test(proto, parses_a_request)
{
	struct proto_req *req = NULL;
	char id[PROTO_MAX_ID + 1];

	cr_assert_eq(parse("{\"v\":1,\"id\":\"c1\",\"op\":\"request\",\"as\":"
	    "\"alice\",\"args\":{\"resource\":\"host:a\"}}", &req, id), 0);
	cr_assert_str_eq(req->id, "c1");
	cr_assert_str_eq(req->op, "request");
	cr_assert_str_eq(req->as, "alice");
	cr_assert(json_is_object(req->args));
	proto_req_free(req);
}

Test(proto, refuses_bad_requests_but_keeps_the_id)
{
	struct proto_req *req = NULL;
	char id[PROTO_MAX_ID + 1];
	const char *bad[] = {
		"{\"v\":2,\"id\":\"x\",\"op\":\"status\"}",
		"{\"v\":1,\"id\":\"x\"}",
		"{\"v\":1,\"id\":\"x\",\"op\":5}",
		"{\"v\":1,\"id\":\"x\",\"op\":\"s\",\"args\":[]}",
		"{\"v\":1,\"id\":\"x\",\"op\":\"s\",\"as\":\"\"}",
		"{\"v\":1,\"id\":\"x\",\"op\":\"s\",\"extra\":1}",
		"{\"v\":1,\"id\":\"x\",\"op\":\"s\",\"op\":\"t\"}",
		"[1]", "", "{", "null",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_neq(parse(bad[i], &req, id), 0, "accepted: %s",
		    bad[i]);
		cr_assert_null(req);
	}
	parse("{\"v\":2,\"id\":\"keep\",\"op\":\"status\"}", &req, id);
	cr_assert_str_eq(id, "keep");
}

Test(proto, replies_round_trip)
{
	struct brk_error err;
	json_t *res = NULL;
	size_t len = 0;
	char *line;

	line = proto_reply_ok("c7", json_pack("{s:i}", "n", 3), &len);
	cr_assert_eq(line[len - 1], '\n');
	cr_assert_eq(proto_parse_reply(line, len - 1, "c7", &res, &err), 0);
	cr_assert_eq(json_integer_value(json_object_get(res, "n")), 3);
	json_decref(res);
	free(line);
	line = proto_reply_error("c8", BRK_ERR_DENIED, "no way", &len);
	cr_assert_eq(proto_parse_reply(line, len - 1, "c8", &res, &err),
	    BRK_ERR_DENIED);
	cr_assert_str_eq(err.msg, "no way");
	cr_assert_eq(proto_parse_reply(line, len - 1, "c9", &res, &err),
	    BRK_ERR_PROTOCOL, "a reply to another request is refused");
	free(line);
	cr_assert_eq(proto_parse_reply("garbage", 7, "c1", &res, &err),
	    BRK_ERR_PROTOCOL);
}

Test(proto, typed_arguments)
{
	struct brk_error err;
	json_t *a = json_pack("{s:s, s:i, s:b, s:i}", "s", "text", "n", 5,
	    "b", 1, "big", 100);
	const char *s = NULL;
	int64_t n = 0;
	bool b = false;
	const char *const only[] = { "s", "n", NULL };

	cr_assert_eq(proto_arg_str(a, "s", true, 10, &s, &err), 0);
	cr_assert_eq(proto_arg_str(a, "s", true, 2, &s, &err), BRK_ERR_INVALID);
	cr_assert_eq(proto_arg_str(a, "n", true, 10, &s, &err), BRK_ERR_INVALID);
	cr_assert_eq(proto_arg_str(a, "zz", false, 10, &s, &err),
	    BRK_ERR_NOTFOUND);
	cr_assert_eq(proto_arg_str(a, "zz", true, 10, &s, &err),
	    BRK_ERR_INVALID);
	cr_assert_eq(proto_arg_int(a, "n", true, 1, 10, &n, &err), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(proto_arg_int(a, "big", true, 1, 10, &n, &err),
	    BRK_ERR_INVALID);
	cr_assert_eq(proto_arg_bool(a, "b", &b, &err), 0);
	cr_assert(b);
	cr_assert_eq(proto_args_only(a, only, &err), BRK_ERR_INVALID);
	json_decref(a);
}

/*
 * One declared spec reads an op's arguments.  Fails when proto_args_parse
 * stops refusing a key the spec does not name or lets a bound pass:
 * checked by skipping its unknown-key loop (unknown_key_refused failed)
 * and by calling proto_arg_int with INT64_MIN..INT64_MAX (bounds failed).
 */
static int
parse_args(const char *args, const char **s, int64_t *i, bool *b, bool need_s,
    struct brk_error *err)
{
	const struct proto_arg spec[] = {
		{ "s", PA_STR, need_s, 0, 8, s },
		{ "i", PA_INT, false, 1, 10, i },
		{ "b", PA_BOOL, false, 0, 0, b },
	};
	json_t *a = json_loads(args, 0, NULL);
	int r;

	cr_assert_not_null(a);
	r = proto_args_parse(a, spec, sizeof(spec) / sizeof(spec[0]), err);
	json_decref(a);
	return r;
}

Test(proto_args, reads_what_is_given_and_leaves_the_rest)
{
	struct brk_error err = { { 0 } };
	const char *s = "default";
	int64_t i = 5;
	bool b = false;

	cr_assert_eq(parse_args("{\"i\": 7, \"b\": true}", &s, &i, &b, false,
	    &err), 0, "%s", err.msg);
	cr_expect_str_eq(s, "default");
	cr_expect_eq(i, 7);
	cr_expect(b);
}

Test(proto_args, unknown_key_refused)
{
	struct brk_error err = { { 0 } };
	const char *s = NULL;
	int64_t i = 0;
	bool b = false;

	cr_expect_eq(parse_args("{\"i\": 2, \"bogus\": 1}", &s, &i, &b, false,
	    &err), BRK_ERR_INVALID);
	cr_expect(strstr(err.msg, "bogus") != NULL, "%s", err.msg);
	cr_expect_eq(i, 0, "nothing is read from a refused call");
}

Test(proto_args, bounds_types_and_required)
{
	static const char *const bad[] = { "{\"i\": 0}", "{\"i\": 11}",
		"{\"i\": \"3\"}", "{\"s\": 3}", "{\"s\": \"\"}",
		"{\"s\": \"123456789\"}", "{\"b\": 1}", NULL };
	struct brk_error err = { { 0 } };
	const char *s = NULL;
	int64_t i = 0;
	bool b = false;
	size_t k;

	for (k = 0; bad[k] != NULL; k++)
		cr_expect_eq(parse_args(bad[k], &s, &i, &b, false, &err),
		    BRK_ERR_INVALID, "%s passed", bad[k]);
	cr_expect_eq(parse_args("{}", &s, &i, &b, true, &err), BRK_ERR_INVALID);
	cr_expect(strstr(err.msg, "missing argument \"s\"") != NULL, "%s",
	    err.msg);
	cr_expect_eq(parse_args("{\"s\": \"12345678\"}", &s, &i, &b, true, &err),
	    0, "%s", err.msg);
}
