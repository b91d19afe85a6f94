/*
 * reviews.c - storing review items as versioned JSON keyed by grant serial.
 */
#include "reviews.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "codec.h"
#include "log.h"
#include "timefmt.h"

int64_t
reviews_due_after(void)
{
	static int said;
	const char *knob = getenv("BROKER_REVIEW_UNSAFE_DUE");
	char *end = NULL;
	long v;

	if (knob == NULL)
		return REVIEW_DUE;
	v = strtol(knob, &end, 10);
	if (end == knob || *end != '\0' || v < 1 || v > REVIEW_DUE)
		return REVIEW_DUE;
	if (__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL) == 0)
		log_warn("event=review_unsafe_due seconds=%ld why=\"test knob "
			 "BROKER_REVIEW_UNSAFE_DUE\"",
		    v);
	return v;
}

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
		      " s:I, s:s}",
	    "v", 1, "id", id, "user", r->user, "caller", r->caller, "resource",
	    r->resource, "role", r->role, "reason", r->reason, "at",
	    (json_int_t)now, "due", (json_int_t)(now + reviews_due_after()),
	    "incident", r->incident, "acked_at", (json_int_t)0, "acked_by", "");
	if (o == NULL)
		return BRK_ERR_NOMEM;
	json_object_set_new(o, "note", json_string(""));
	rc = put(t, r->serial, o);
	json_decref(o);
	return rc;
}

/*
 * The stored form strictly (codec.h): the keys reviews_open() writes, of
 * their types, and no other.  *out (NULL on entry) is the object.
 */
int
review_decode(const void *data, size_t len, json_t **out)
{
	const char *id, *user, *caller, *resource, *role, *reason, *incident;
	const char *acked_by, *note;
	json_int_t ver, at, due, acked_at;
	json_t *o = NULL;
	uint64_t serial;
	int r;

	*out = NULL;
	if ((r = codec_load(data, len, &o)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if (codec_unpack(o,
		"{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I,"
		" s:s, s:I, s:s, s:s}",
		"v", &ver, "id", &id, "user", &user, "caller", &caller,
		"resource", &resource, "role", &role, "reason", &reason, "at",
		&at, "due", &due, "incident", &incident, "acked_at", &acked_at,
		"acked_by", &acked_by, "note", &note) != 0 ||
	    ver != 1 || req_id_parse(id, &serial) != 0 || user[0] == '\0' ||
	    acked_at < 0 || (acked_at != 0) != (acked_by[0] != '\0'))
		goto out;
	*out = o;
	o = NULL;
	r = 0;
out:
	json_decref(o);
	return r;
}

static int
load(struct store_txn *t, uint64_t serial, json_t **out)
{
	struct store_val v;
	uint8_t key[8];
	char id[24];
	int r;

	*out = NULL;
	store_be64(key, serial);
	if ((r = store_get(t, TBL_REVIEWS, key, 8, &v)) != 0)
		return r;
	if ((r = review_decode(v.data, v.len, out)) != 0)
		return r;
	req_id(serial, id);
	if (strcmp(json_string_value(json_object_get(*out, "id")), id) != 0) {
		json_decref(*out); /* filed under another serial */
		*out = NULL;
		return BRK_ERR_INVALID;
	}
	return 0;
}

int
reviews_get(struct store_txn *t, uint64_t serial, json_t **out)
{
	return load(t, serial, out);
}

int
reviews_ack(struct store_txn *t, uint64_t serial, const char *by,
    const char *note, int64_t now)
{
	json_t *o = NULL;
	int r;

	if ((r = load(t, serial, &o)) != 0)
		return r;
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
	json_object_set_new(
	    o, "overdue", json_boolean(acked == 0 && now > due));
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
		if ((rc = review_decode(v.data, v.len, &o)) != 0)
			break;
		if (!all &&
		    json_integer_value(json_object_get(o, "acked_at")) != 0) {
			json_decref(o);
			continue;
		}
		json_array_append_new(out, present(o, now));
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

int
reviews_acknowledge(struct store_txn *t, const struct actor *a, uint64_t serial,
    const char *note, int64_t now, char msg[REQ_MSG_LEN])
{
	const char *user, *caller;
	json_t *item = NULL;
	char id[24];
	int r;

	msg[0] = '\0';
	req_id(serial, id);
	if ((r = reviews_get(t, serial, &item)) != 0) {
		snprintf(msg, REQ_MSG_LEN,
		    r == BRK_ERR_NOTFOUND ? "no review item for %s" :
					    "the review item of %s cannot "
					    "be read",
		    id);
		return r;
	}
	user = json_string_value(json_object_get(item, "user"));
	caller = json_string_value(json_object_get(item, "caller"));
	if (strcmp(user, a->user) == 0 || strcmp(caller, a->user) == 0 ||
	    strcmp(user, a->caller) == 0) {
		snprintf(msg, REQ_MSG_LEN,
		    "separation of duties "
		    "(no-self-review): %s may not review their own "
		    "break-glass %s",
		    a->user, id);
		r = BRK_ERR_DENIED;
		goto out;
	}
	if ((r = reviews_ack(t, serial, a->user, note, now)) != 0) {
		if (r == BRK_ERR_STATE)
			snprintf(msg, REQ_MSG_LEN,
			    "the review of %s is "
			    "already closed",
			    id);
		goto out;
	}
	r = audit_append(t, now,
	    &(struct audit_event){ .action = "review.acked",
		.actor = a->user,
		.caller = a->caller,
		.target = id,
		.user = user,
		.resource = json_string_value(
		    json_object_get(item, "resource")),
		.reason = note },
	    NULL);
out:
	json_decref(item);
	return r;
}
