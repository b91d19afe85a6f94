/*
 * ops_review.c - post-hoc review: review.list and review.ack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "reviews.h"
#include "timefmt.h"

static int
may_list_reviews(struct call *c, struct brk_error *err)
{
	if (call_in_role(c, ROLE_REVIEWERS))
		return 0;
	return brk_error_set(
	    err, BRK_ERR_DENIED, "%s is not a reviewer", c->who.name);
}

int
op_review_list(struct call *c)
{
	return ops_list(c, may_list_reviews, reviews_list);
}

struct ack_op {
	struct call *c;
	struct actor actor;
	uint64_t serial;
	char note[4097];
	char msg[REQ_MSG_LEN];
	int64_t now;
};

/* On the writer thread: the review's rules are the domain's (reviews.c). */
static int
apply_ack(struct store_txn *t, void *arg)
{
	struct ack_op *op = arg;

	return reviews_acknowledge(
	    t, &op->actor, op->serial, op->note, op->now, op->msg);
}

static void
done_ack(void *arg, int rc)
{
	struct ack_op *op = arg;
	char id[24];

	req_id(op->serial, id);
	ops_answer(op->c, rc,
	    rc == 0 ? json_pack("{s:s, s:s, s:s}", "id", id, "acked_by",
			  op->c->who.name, "note", op->note) :
		      NULL,
	    op->msg);
	free(op);
}

int
op_review_ack(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct ack_op *op = NULL;
	const char *note = NULL;
	uint64_t serial;
	int r;

	if (ops_arg_id(c, &serial, NULL) != 0)
		return 0;
	if ((r = proto_arg_str(
		 c->req->args, "note", true, 4096, &note, &err)) != 0)
		goto fail;
	r = BRK_ERR_DENIED;
	if (!call_in_role(c, ROLE_REVIEWERS)) {
		brk_error_set(&err, r, "%s is not a reviewer", c->who.name);
		goto fail;
	}
	r = BRK_ERR_NOMEM;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		goto fail;
	op->c = c;
	ops_actor(c, &op->actor);
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
