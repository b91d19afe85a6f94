/*
 * reviews.c - storing review items as versioned JSON keyed by grant serial.
 */
#include "reviews.h"

#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

static int
put(struct store_txn *t, uint64_t serial, json_t *o)
{
	uint8_t key[8];
	char *s;
	int r;

	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		return BRK_ERR_NOMEM;
	store_be64(key, serial);
	r = store_put(t, TBL_REVIEWS, key, 8, s, strlen(s));
	free(s);
	return r;
}

int
reviews_open(struct store_txn *t, const struct request *r, int64_t now)
{
	char id[24];
	json_t *o;
	int rc;

	req_id(r->serial, id);
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s,"
	    " s:I, s:s}", "v", 1, "id", id, "user", r->user, "caller",
	    r->caller, "resource", r->resource, "role", r->role, "reason",
	    r->reason, "at", (json_int_t)now, "due",
	    (json_int_t)(now + REVIEW_DUE), "incident", r->incident,
	    "acked_at", (json_int_t)0, "acked_by", "");
	if (o == NULL)
		return BRK_ERR_NOMEM;
	json_object_set_new(o, "note", json_string(""));
	rc = put(t, r->serial, o);
	json_decref(o);
	return rc;
}

static json_t *
load(struct store_txn *t, uint64_t serial)
{
	struct store_val v;
	uint8_t key[8];

	store_be64(key, serial);
	if (store_get(t, TBL_REVIEWS, key, 8, &v) != 0)
		return NULL;
	return json_loadb(v.data, v.len, 0, NULL);
}

json_t *
reviews_get(struct store_txn *t, uint64_t serial)
{
	return load(t, serial);
}

int
reviews_ack(struct store_txn *t, uint64_t serial, const char *by,
    const char *note, int64_t now)
{
	json_t *o = load(t, serial);
	int r;

	if (o == NULL)
		return BRK_ERR_NOTFOUND;
	if (json_integer_value(json_object_get(o, "acked_at")) != 0) {
		json_decref(o);
		return BRK_ERR_STATE;
	}
	json_object_set_new(o, "acked_at", json_integer(now));
	json_object_set_new(o, "acked_by", json_string(by));
	json_object_set_new(o, "note", json_string(note));
	r = put(t, serial, o);
	json_decref(o);
	return r;
}

/* The stored item as shown: times in RFC 3339, open/overdue flags. */
static json_t *
present(json_t *o, int64_t now)
{
	char ts[TIMEFMT_LEN];
	json_int_t due = json_integer_value(json_object_get(o, "due"));
	json_int_t acked = json_integer_value(json_object_get(o, "acked_at"));

	json_object_set_new(o, "open", json_boolean(acked == 0));
	json_object_set_new(o, "overdue", json_boolean(acked == 0 &&
	    now > due));
	time_rfc3339(json_integer_value(json_object_get(o, "at")), ts);
	json_object_set_new(o, "at", json_string(ts));
	time_rfc3339(due, ts);
	json_object_set_new(o, "due", json_string(ts));
	if (acked != 0) {
		time_rfc3339(acked, ts);
		json_object_set_new(o, "acked_at", json_string(ts));
	} else
		json_object_set_new(o, "acked_at", json_null());
	json_object_del(o, "v");
	return o;
}

int
reviews_list(struct store_txn *t, bool all, int64_t now, json_t *out)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	json_t *o;
	int r, rc;

	if ((r = store_cursor_open(t, TBL_REVIEWS, &c)) != 0)
		return r;
	for (rc = store_cursor_first(c, &k, &v); rc == 0;
	    rc = store_cursor_next(c, &k, &v)) {
		if ((o = json_loadb(v.data, v.len, 0, NULL)) == NULL)
			continue;
		if (!all && json_integer_value(json_object_get(o,
		    "acked_at")) != 0) {
			json_decref(o);
			continue;
		}
		json_array_append_new(out, present(o, now));
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}
