/*
 * flags.c - monitoring flags: stored as versioned JSON, keyed by user.
 */
#include "flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "codec.h"
#include "timefmt.h"

const char *
flag_severity_name(enum flag_severity s)
{
	return s == FLAG_BLOCK ? "block" : "review";
}

static const char *const severity_names[] = { "review", "block", NULL };

int
flag_decode(const void *data, size_t len, struct flag *f)
{
	const char *user, *sev, *reason, *by, *ended_by = NULL,
					      *end_reason = NULL;
	json_int_t ver, at, until;
	json_t *o = NULL;
	int s, r;

	memset(f, 0, sizeof(*f));
	if ((r = codec_load(data, len, &o)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	/* ended_by and end_reason: a flag removed before its end */
	if (codec_unpack(o, "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s?s, s?s}",
		"v", &ver, "user", &user, "severity", &sev, "reason", &reason,
		"by", &by, "at", &at, "until", &until, "ended_by", &ended_by,
		"end_reason", &end_reason) != 0 ||
	    ver != 1 || (s = codec_enum(sev, severity_names)) < 0 ||
	    codec_str(f->user, sizeof(f->user), user) != 0 ||
	    codec_str(f->reason, sizeof(f->reason), reason) != 0 ||
	    codec_str(f->by, sizeof(f->by), by) != 0 ||
	    (ended_by != NULL &&
		codec_str(f->ended_by, sizeof(f->ended_by), ended_by) != 0) ||
	    (end_reason != NULL &&
		codec_str(f->end_reason, sizeof(f->end_reason), end_reason) !=
		    0))
		goto out;
	f->severity = s == 1 ? FLAG_BLOCK : FLAG_REVIEW;
	f->at = at;
	f->until = until;
	r = 0;
out:
	if (r != 0)
		memset(f, 0, sizeof(*f));
	json_decref(o);
	return r;
}

int
flags_get(struct store_txn *t, const char *user, int64_t now, struct flag *out)
{
	struct store_val v;
	int r;

	if ((r = store_get(t, TBL_FLAGS, user, strlen(user), &v)) != 0)
		return r;
	if ((r = flag_decode(v.data, v.len, out)) != 0)
		return r;
	if (strcmp(out->user, user) != 0)
		return BRK_ERR_INVALID; /* filed under another user */
	return now < out->until ? 0 : BRK_ERR_NOTFOUND;
}

int
flags_blocks(struct store_txn *t, const char *user, int64_t now, bool *blocked)
{
	struct flag f;
	int r;

	*blocked = false;
	if ((r = flags_get(t, user, now, &f)) == BRK_ERR_NOTFOUND)
		return 0;
	if (r != 0)
		return r;
	*blocked = f.severity == FLAG_BLOCK;
	return 0;
}

int
flags_put(struct store_txn *t, const struct flag *f)
{
	json_t *o;
	char *s;
	int r;

	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I}", "v", 1, "user",
	    f->user, "severity", flag_severity_name(f->severity), "reason",
	    f->reason, "by", f->by, "at", (json_int_t)f->at, "until",
	    (json_int_t)f->until);
	if (o != NULL && f->ended_by[0] != '\0' &&
	    (json_object_set_new(o, "ended_by", json_string(f->ended_by)) !=
		    0 ||
		json_object_set_new(
		    o, "end_reason", json_string(f->end_reason)) != 0)) {
		json_decref(o);
		return BRK_ERR_NOMEM;
	}
	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return BRK_ERR_NOMEM;
	}
	r = store_put(t, TBL_FLAGS, f->user, strlen(f->user), s, strlen(s));
	free(s);
	json_decref(o);
	return r;
}

int
flags_del(struct store_txn *t, const char *user)
{
	return store_del(t, TBL_FLAGS, user, strlen(user));
}

json_t *
flag_json(const struct flag *f, int64_t now)
{
	char at[TIMEFMT_LEN], until[TIMEFMT_LEN];

	time_rfc3339(f->at, at);
	time_rfc3339(f->until, until);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:s?, "
			 "s:s?}",
	    "user", f->user, "severity", flag_severity_name(f->severity),
	    "reason", f->reason, "by", f->by, "at", at, "until", until,
	    "left_s", (json_int_t)(f->until > now ? f->until - now : 0),
	    "active", now < f->until, "ended_by",
	    f->ended_by[0] ? f->ended_by : NULL, "end_reason",
	    f->ended_by[0] ? f->end_reason : NULL);
}

int
flags_list(struct store_txn *t, int64_t now, bool all, json_t *out)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	struct flag f;
	int r, rc;

	if ((r = store_cursor_open(t, TBL_FLAGS, &c)) != 0)
		return r;
	for (rc = store_cursor_first(c, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if ((rc = flag_decode(v.data, v.len, &f)) != 0)
			break;
		if (!all && now >= f.until)
			continue;
		json_array_append_new(out, flag_json(&f, now));
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

int
flags_change(struct store_txn *t, const struct actor *a, bool admin,
    bool remove, const struct flag *f, struct flag *out, int64_t now,
    char msg[REQ_MSG_LEN])
{
	struct flag cur;
	json_t *d;
	int r;

	msg[0] = '\0';
	if (remove) {
		if ((r = flags_get(t, f->user, now, &cur)) != 0) {
			snprintf(msg, REQ_MSG_LEN,
			    r == BRK_ERR_NOTFOUND ? "%s is not flagged" :
						    "the flag of %s cannot be "
						    "read",
			    f->user);
			return r;
		}
		/* kept, ended now, so that flag list --all shows it */
		cur.until = now;
		snprintf(cur.ended_by, sizeof(cur.ended_by), "%s", a->user);
		snprintf(
		    cur.end_reason, sizeof(cur.end_reason), "%s", f->reason);
		if ((r = flags_put(t, &cur)) != 0)
			return r;
		*out = cur;
	} else {
		r = flags_get(t, f->user, now, &cur);
		if (r != 0 && r != BRK_ERR_NOTFOUND && !admin) {
			/* only a policy admin replaces what cannot be read */
			snprintf(msg, REQ_MSG_LEN,
			    "the flag of %s cannot be "
			    "read",
			    f->user);
			return r;
		}
		if (!admin && r == 0 &&
		    (f->severity < cur.severity || f->until < cur.until)) {
			snprintf(msg, REQ_MSG_LEN,
			    "%s is flagged %s until %lld: "
			    "a flag is replaced only by one as severe that "
			    "ends no sooner (policy admins may weaken it)",
			    f->user, flag_severity_name(cur.severity),
			    (long long)cur.until);
			return BRK_ERR_DENIED;
		}
		if ((r = flags_put(t, f)) != 0)
			return r;
		*out = *f;
	}
	d = flag_json(out, now);
	r = audit_append(t, now,
	    &(struct audit_event){
		.action = remove ? "flag.removed" : "flag.added",
		.actor = a->user,
		.caller = a->caller,
		.target = out->user,
		.user = out->user,
		.reason = remove ? out->end_reason : out->reason,
		.details = d },
	    NULL);
	json_decref(d);
	return r;
}
