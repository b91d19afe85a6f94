/*
 * ops_audit.c - reading the audit trail: verify.
 */
#include "audit.h"
#include "ops.h"

int
op_audit_verify(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct store_txn *t = NULL;
	uint64_t count = 0, bad = 0;
	int r;

	if ((r = call_read(c, &t)) != 0) {
		call_fail(c, r, "cannot read the store: %s", brk_strerror(r));
		return r;
	}
	r = audit_verify(t, &count, &bad, &err);
	if (r != 0 && r != BRK_ERR_VERIFY) {
		call_fail(c, r, "cannot read the audit trail: %s",
		    brk_strerror(r));
		return r;
	}
	call_reply(c, json_pack("{s:b, s:I, s:I, s:s}", "ok", r == 0,
	    "records", (json_int_t)count, "first_bad", (json_int_t)bad,
	    "message", r == 0 ? "the chain is intact" : err.msg));
	return 0;
}
