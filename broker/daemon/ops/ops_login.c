/*
 * ops_login.c - login.revoke: end login certificates before they expire.
 *
 * Policy admins revoke anyone's (all of a user's, or one by serial);
 * a person revokes their own (broker logout does, with the serial of the
 * login it forgets).  Whose a serial is comes from the register
 * (cred/userca.h), read in the write transaction that revokes it, so the
 * check and the change see the same state.  The TLS listener refuses a
 * revoked certificate from the next call on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "names.h"
#include "ops.h"
#include "timefmt.h"
#include "userca.h"

struct lrevoke_op {
	struct call *c;
	bool admin;
	char who[65], caller[65];
	char user[65];			/* by user; "" when by serial */
	char serial[USERCA_SERIAL_LEN]; /* by serial; "" when by user */
	char reason[512];
	bool has_reason;
	int64_t now;
	json_t *revoked; /* serials, set by apply */
	char *owner;
	char msg[256];
};

static void
lrevoke_free(struct lrevoke_op *op)
{
	if (op == NULL)
		return;
	json_decref(op->revoked);
	free(op->owner);
	free(op);
}

/* On the writer thread: who may, then the change and its record. */
static int
apply_lrevoke(struct store_txn *t, void *arg)
{
	struct lrevoke_op *op = arg;
	struct audit_event ev = { 0 };
	json_t *det = NULL;
	char *owner = NULL;
	int r;

	op->msg[0] = '\0'; /* apply may run again (writer.h) */
	json_decref(op->revoked);
	op->revoked = NULL;
	free(op->owner);
	op->owner = NULL;
	if (!op->admin) {
		if (op->serial[0] != '\0' &&
		    (r = userca_login_user(t, op->serial, &owner)) != 0) {
			snprintf(op->msg, sizeof(op->msg),
			    "no login certificate %s", op->serial);
			return r;
		}
		r = strcmp(owner != NULL ? owner : op->user, op->who) != 0;
		free(owner);
		if (r) {
			snprintf(op->msg, sizeof(op->msg),
			    "%s may revoke only their own login (policy admins "
			    "may revoke anyone's)",
			    op->who);
			return BRK_ERR_DENIED;
		}
	}
	if ((r = userca_revoke(t, op->serial[0] ? op->serial : NULL,
		 op->serial[0] ? NULL : op->user, op->who,
		 op->has_reason ? op->reason : NULL, op->now, &op->revoked,
		 &op->owner)) != 0) {
		if (r == BRK_ERR_NOTFOUND)
			snprintf(op->msg, sizeof(op->msg), "%s%s",
			    op->serial[0] ?
				"no login certificate " :
				"no login certificate in force for ",
			    op->serial[0] ? op->serial : op->user);
		else if (r == BRK_ERR_STATE)
			snprintf(op->msg, sizeof(op->msg),
			    "login certificate %s is already revoked or "
			    "expired",
			    op->serial);
		return r;
	}
	if ((det = json_pack("{s:O, s:I}", "serials", op->revoked, "count",
		 (json_int_t)json_array_size(op->revoked))) == NULL)
		return BRK_ERR_NOMEM;
	ev.action = "login.revoked";
	ev.actor = op->who;
	ev.caller = op->caller;
	ev.target = op->serial[0] ? op->serial : NULL;
	ev.user = op->owner;
	ev.reason = op->has_reason ? op->reason : NULL;
	ev.details = det;
	r = audit_append(t, op->now, &ev, NULL);
	json_decref(det);
	return r;
}

static void
done_lrevoke(void *arg, int rc)
{
	struct lrevoke_op *op = arg;
	struct call *c = op->c;

	ops_answer(c, rc,
	    rc == 0 ? json_pack("{s:s, s:O, s:I}", "user", op->owner, "revoked",
			  op->revoked, "count",
			  (json_int_t)json_array_size(op->revoked)) :
		      NULL,
	    op->msg);
	lrevoke_free(op);
}

int
op_login_revoke(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct policy_ref *p = NULL;
	struct lrevoke_op *op = calloc(1, sizeof(*op));
	const char *user = NULL, *serial = NULL, *reason = NULL;
	const struct proto_arg spec[] = {
		{ "user", PA_STR, false, 0, 64, &user },
		{ "serial", PA_STR, false, 0, USERCA_SERIAL_LEN - 1, &serial },
		{ "reason", PA_STR, false, 0, 500, &reason },
	};
	int r = BRK_ERR_NOMEM;

	if (op == NULL)
		goto fail;
	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0)
		goto fail;
	r = BRK_ERR_INVALID;
	if ((user == NULL) == (serial == NULL)) {
		brk_error_set(&err, r, "give a user or a serial (one of them)");
		goto fail;
	}
	if (user != NULL && !name_user_valid(user)) {
		brk_error_set(
		    &err, r, "\"%.64s\" is not a valid user name", user);
		goto fail;
	}
	if (serial != NULL &&
	    (serial[0] == '\0' ||
		strspn(serial, "0123456789ABCDEF") != strlen(serial))) {
		brk_error_set(&err, r,
		    "a serial is upper-case hex, as broker whoami "
		    "--json and the login.ok record show it");
		goto fail;
	}
	p = policy_get(c->d);
	op->admin = call_has_role(c, p, ROLE_POLICY_ADMINS);
	op->c = c;
	snprintf(op->who, sizeof(op->who), "%s", c->who.name);
	snprintf(op->caller, sizeof(op->caller), "%s", c->caller.name);
	snprintf(op->user, sizeof(op->user), "%s", user ? user : "");
	snprintf(op->serial, sizeof(op->serial), "%s", serial ? serial : "");
	if ((op->has_reason = reason != NULL))
		snprintf(op->reason, sizeof(op->reason), "%s", reason);
	op->now = time_now();
	r = 0;
fail:
	if (r != 0 && op != NULL) {
		lrevoke_free(op);
		op = NULL;
	}
	return ops_submit(c, p, apply_lrevoke, done_lrevoke, op, r, &err);
}
