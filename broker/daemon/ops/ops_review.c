/*
 * ops_review.c - post-hoc review: review.list and review.ack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "ops.h"
#include "reviews.h"
#include "timefmt.h"

static bool
is_reviewer(struct call *c)
{
	struct policy_ref *p = policy_get(c->d);
	bool ok = call_has_role(c, p, ROLE_REVIEWERS);

	policy_put(c->d, p);
	return ok;
}

int
op_review_list(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	json_t *out = NULL;
	bool all = false;
	const struct proto_arg spec[] = {
		{ "all", PA_BOOL, false, 0, 0, &all },
	};
	int r;

	if ((r = proto_args_parse(c->req->args, spec, sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_DENIED;
	if (!is_reviewer(c)) {
		brk_error_set(&err, r, "%s is not a reviewer", c->who.name);
		goto fail;
	}
	if ((out = json_array()) == NULL || (r = call_read(c, &t)) != 0 ||
	    (r = reviews_list(t, all, time_now(), out)) != 0)
		goto fail;
	call_reply(c, out);
	return 0;
fail:
	json_decref(out);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}

struct ack_op {
	struct call *c;
	uint64_t serial;
	char note[4097];
	char msg[256];
	json_t *item;
	int64_t now;
};

static int
apply_ack(struct store_txn *t, void *arg)
{
	struct ack_op *op = arg;
	const char *user, *caller;
	char id[24];
	int r;

	req_id(op->serial, id);
	if ((r = reviews_get(t, op->serial, &op->item)) != 0) {
		snprintf(op->msg, sizeof(op->msg), r == BRK_ERR_NOTFOUND ?
		    "no review item for %s" : "the review item of %s cannot "
		    "be read", id);
		return r;
	}
	user = json_string_value(json_object_get(op->item, "user"));
	caller = json_string_value(json_object_get(op->item, "caller"));
	if ((user != NULL && strcmp(user, op->c->who.name) == 0) ||
	    (caller != NULL && strcmp(caller, op->c->who.name) == 0) ||
	    (user != NULL && strcmp(user, op->c->caller.name) == 0)) {
		snprintf(op->msg, sizeof(op->msg), "separation of duties "
		    "(no-self-review): %s may not review their own "
		    "break-glass %s", op->c->who.name, id);
		return BRK_ERR_DENIED;
	}
	if ((r = reviews_ack(t, op->serial, op->c->who.name, op->note,
	    op->now)) != 0) {
		if (r == BRK_ERR_STATE)
			snprintf(op->msg, sizeof(op->msg), "the review of %s "
			    "is already closed", id);
		return r;
	}
	return audit_append(t, op->now, &(struct audit_event){
	    .action = "review.acked", .actor = op->c->who.name,
	    .caller = op->c->caller.name, .target = id, .user = user,
	    .resource = json_string_value(json_object_get(op->item,
	    "resource")), .reason = op->note }, NULL);
}

static void
done_ack(void *arg, int rc)
{
	struct ack_op *op = arg;
	char id[24];

	req_id(op->serial, id);
	if (rc == 0)
		call_reply(op->c, json_pack("{s:s, s:s, s:s}", "id", id,
		    "acked_by", op->c->who.name, "note", op->note));
	else
		call_fail(op->c, rc, "%s", op->msg[0] ? op->msg :
		    brk_strerror(rc));
	json_decref(op->item);
	free(op);
}

int
op_review_ack(struct call *c)
{
	static const char *const keys[] = { "id", "note", NULL };
	struct brk_error err = { { 0 } };
	struct ack_op *op = NULL;
	const char *note = NULL;
	uint64_t serial;
	int r;

	if (ops_arg_id(c, &serial, NULL) != 0)
		return 0;
	if ((r = proto_args_only(c->req->args, keys, &err)) != 0 ||
	    (r = proto_arg_str(c->req->args, "note", true, 4096, &note,
	    &err)) != 0)
		goto fail;
	r = BRK_ERR_DENIED;
	if (!is_reviewer(c)) {
		brk_error_set(&err, r, "%s is not a reviewer", c->who.name);
		goto fail;
	}
	r = BRK_ERR_NOMEM;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		goto fail;
	op->c = c;
	op->serial = serial;
	op->now = time_now();
	snprintf(op->note, sizeof(op->note), "%s", note);
	if ((r = writer_submit(c->d->writer, apply_ack, done_ack, op)) != 0)
		goto fail;
	return 0;
fail:
	free(op);
	call_fail(c, r, "%s", err.msg[0] ? err.msg : brk_strerror(r));
	return r;
}
