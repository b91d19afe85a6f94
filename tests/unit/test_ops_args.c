/*
 * test_ops_args.c - every op refuses an argument it does not take, before
 * its handler runs (the argument lists in ops.c), with an error that names
 * the op and the argument; the CLI shows code "invalid" as exit status 2.
 *
 * Fails when an op's list takes what it should not: checked by adding
 * "no_such_argument" to review.ack's list (the handler then answered
 * "missing argument "id"" instead), and by removing the check from
 * ops_dispatch() (the first handler ran without a daemon and crashed).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "ops.h"

static char *reply;

static void
deliver(struct call *c, char *line, size_t len)
{
	(void)c;
	(void)len;
	free(reply);
	reply = line;
}

/* Dispatch op with args (a JSON object text); the reply line or NULL
 * when the call was handed to its handler instead. */
static const char *
dispatch(const char *op, const char *args)
{
	static struct call c;
	struct proto_req *req = calloc(1, sizeof(*req));

	cr_assert_not_null(req);
	snprintf(req->id, sizeof(req->id), "t1");
	snprintf(req->op, sizeof(req->op), "%s", op);
	req->args = json_loads(args, 0, NULL);
	cr_assert_not_null(req->args);
	memset(&c, 0, sizeof(c));
	c.req = req;
	c.deliver = deliver;
	free(reply);
	reply = NULL;
	ops_dispatch(&c);
	json_decref(req->args);
	free(req);
	return reply;
}

Test(ops_args, every_op_refuses_an_unknown_argument)
{
	const char *name, *line;
	json_t *o, *e;
	size_t i;

	cr_assert_gt(ops_count(), 30);
	for (i = 0; (name = ops_name(i)) != NULL; i++) {
		line = dispatch(name, "{\"no_such_argument\": 1}");
		cr_assert_not_null(line, "%s: the unknown argument reached "
		    "the handler", name);
		o = json_loads(line, 0, NULL);
		cr_assert_not_null(o, "%s: %s", name, line);
		e = json_object_get(o, "error");
		cr_expect_str_eq(json_string_value(json_object_get(e, "code")),
		    "invalid", "%s: %s", name, line);
		cr_expect(strstr(json_string_value(json_object_get(e,
		    "message")), "no_such_argument") != NULL, "%s: %s", name,
		    line);
		cr_expect(strncmp(json_string_value(json_object_get(e,
		    "message")), name, strlen(name)) == 0, "%s: %s", name,
		    line);
		json_decref(o);
	}
	free(reply);
	reply = NULL;
}

Test(ops_args, an_unknown_op_is_refused)
{
	const char *line = dispatch("no.such.op", "{}");

	cr_assert_not_null(line);
	cr_expect(strstr(line, "unknown op") != NULL, "%s", line);
	free(reply);
	reply = NULL;
}
