/*
 * flags.c - monitoring flags: stored as versioned JSON, keyed by user.
 */
#include "flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

const char *
flag_severity_name(enum flag_severity s)
{
	return s == FLAG_BLOCK ? "block" : "review";
}

static int
decode(const struct store_val *v, struct flag *f)
{
	json_t *o = json_loadb(v->data, v->len, 0, NULL);
	const char *sev;
	int r = BRK_ERR_INVALID;

	memset(f, 0, sizeof(*f));
	if (o == NULL)
		return r;
	sev = json_string_value(json_object_get(o, "severity"));
	if (sev == NULL || json_integer_value(json_object_get(o, "v")) != 1)
		goto out;
	f->severity = strcmp(sev, "block") == 0 ? FLAG_BLOCK : FLAG_REVIEW;
	snprintf(f->user, sizeof(f->user), "%s",
	    json_string_value(json_object_get(o, "user")));
	snprintf(f->reason, sizeof(f->reason), "%s",
	    json_string_value(json_object_get(o, "reason")));
	snprintf(f->by, sizeof(f->by), "%s",
	    json_string_value(json_object_get(o, "by")));
	f->at = json_integer_value(json_object_get(o, "at"));
	f->until = json_integer_value(json_object_get(o, "until"));
	if (json_is_string(json_object_get(o, "ended_by")))
		snprintf(f->ended_by, sizeof(f->ended_by), "%s",
		    json_string_value(json_object_get(o, "ended_by")));
	if (json_is_string(json_object_get(o, "end_reason")))
		snprintf(f->end_reason, sizeof(f->end_reason), "%s",
		    json_string_value(json_object_get(o, "end_reason")));
	r = 0;
out:
	json_decref(o);
	return r;
}

int
flags_get(struct store_txn *t, const char *user, int64_t now,
    struct flag *out)
{
	struct store_val v;
	int r;

	if ((r = store_get(t, TBL_FLAGS, user, strlen(user), &v)) != 0)
		return r;
	if ((r = decode(&v, out)) != 0)
		return r;
	return now < out->until ? 0 : BRK_ERR_NOTFOUND;
}

bool
flags_blocks(struct store_txn *t, const char *user, int64_t now)
{
	struct flag f;

	return flags_get(t, user, now, &f) == 0 && f.severity == FLAG_BLOCK;
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
	if (o != NULL && f->ended_by[0] != '\0' && (json_object_set_new(o,
	    "ended_by", json_string(f->ended_by)) != 0 ||
	    json_object_set_new(o, "end_reason", json_string(
	    f->end_reason)) != 0)) {
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
	    "s:s?}", "user", f->user, "severity",
	    flag_severity_name(f->severity), "reason", f->reason, "by", f->by,
	    "at", at, "until", until, "left_s",
	    (json_int_t)(f->until > now ? f->until - now : 0), "active",
	    now < f->until, "ended_by", f->ended_by[0] ? f->ended_by : NULL,
	    "end_reason", f->ended_by[0] ? f->end_reason : NULL);
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
		if (decode(&v, &f) != 0 || (!all && now >= f.until))
			continue;
		json_array_append_new(out, flag_json(&f, now));
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}
