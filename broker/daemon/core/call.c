/*
 * call.c - the per-call API: replies, the read transaction, references.
 *
 * A call is answered exactly once.  A second answer is a handler bug: it
 * would free the call twice in the transport, so it is dropped and logged,
 * and in sanitizer builds (the test suite's) it aborts so that the bug is
 * seen.
 */
#include "call.h"

#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(BRK_DEBUG)
#define CALL_CHECKS 1
#else
#define CALL_CHECKS 0
#endif

/* Whether this is the call's first reply; later ones are a bug. */
static bool
first_reply(struct call *c)
{
	if (__atomic_fetch_add(&c->replies, 1, __ATOMIC_ACQ_REL) == 0)
		return true;
	log_error("event=reply_twice op=%s id=%s", c->req->op, c->req->id);
	if (CALL_CHECKS)
		abort();
	return false;
}

void
call_reply(struct call *c, json_t *result)
{
	size_t len = 0;
	char *line;

	if (!first_reply(c)) {
		json_decref(result);
		return;
	}
	if ((line = proto_reply_ok(c->req->id, result, &len)) == NULL)
		line = proto_reply_error(c->req->id, BRK_ERR_NOMEM, NULL, &len);
	c->deliver(c, line, len);
}

void
call_reply_line(struct call *c, char *line, size_t len)
{
	if (!first_reply(c)) {
		free(line);
		return;
	}
	c->deliver(c, line, len);
}

void
call_fail(struct call *c, int rc, const char *fmt, ...)
{
	char msg[1024], *line;
	size_t len = 0;
	va_list ap;

	if (!first_reply(c))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line = proto_reply_error(c->req->id, rc, msg, &len);
	c->deliver(c, line, len);
}

bool
call_replied(struct call *c)
{
	return __atomic_load_n(&c->replies, __ATOMIC_ACQUIRE) != 0;
}

int
call_read(struct call *c, struct store_txn **t)
{
	int r = store_read_begin(c->d->store, c->rtxn);

	*t = r == 0 ? *c->rtxn : NULL;
	return r;
}

void
call_hold(struct call *c)
{
	__atomic_fetch_add(&c->holds, 1, __ATOMIC_ACQ_REL);
}

void
call_free(struct call *c)
{
	if (c == NULL || __atomic_fetch_sub(&c->holds, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	proto_req_free(c->req);
	ident_clear(&c->caller);
	ident_clear(&c->who);
	free(c);
}
