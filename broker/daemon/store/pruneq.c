/*
 * pruneq.c - pending audit prunes, kept in TBL_META as versioned JSON.
 */
#include "pruneq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

static const char prefix[] = "prune:";
#define PFX (sizeof(prefix) - 1)

static size_t
key_of(uint8_t key[PFX + 8], uint64_t id)
{
	memcpy(key, prefix, PFX);
	store_be64(key + PFX, id);
	return PFX + 8;
}

void
pruneq_id(uint64_t id, char buf[24])
{
	snprintf(buf, 24, "p%llu", (unsigned long long)id);
}

int
pruneq_id_parse(const char *s, uint64_t *id)
{
	unsigned long long v;
	char *end;

	if (s == NULL || s[0] != 'p' || s[1] < '1' || s[1] > '9')
		return BRK_ERR_INVALID;
	errno = 0;
	v = strtoull(s + 1, &end, 10);
	if (errno != 0 || *end != '\0' || strlen(s) > 21)
		return BRK_ERR_INVALID;
	*id = v;
	return 0;
}

static int
decode(const struct store_val *v, struct prune_req *p)
{
	json_t *o = json_loadb(v->data, v->len, 0, NULL);
	const char *by, *caller;
	int r = BRK_ERR_INVALID;

	memset(p, 0, sizeof(*p));
	if (o == NULL || json_integer_value(json_object_get(o, "v")) != 1 ||
	    (by = json_string_value(json_object_get(o, "by"))) == NULL ||
	    (caller = json_string_value(json_object_get(o, "caller"))) ==
		NULL ||
	    strlen(by) > 64 || strlen(caller) > 64 ||
	    !json_is_integer(json_object_get(o, "id")) ||
	    !json_is_integer(json_object_get(o, "before")) ||
	    !json_is_integer(json_object_get(o, "at")) ||
	    !json_is_integer(json_object_get(o, "expires_at")))
		goto out;
	p->id = (uint64_t)json_integer_value(json_object_get(o, "id"));
	p->before = json_integer_value(json_object_get(o, "before"));
	p->at = json_integer_value(json_object_get(o, "at"));
	p->expires_at = json_integer_value(json_object_get(o, "expires_at"));
	snprintf(p->by, sizeof(p->by), "%s", by);
	snprintf(p->caller, sizeof(p->caller), "%s", caller);
	r = 0;
out:
	json_decref(o);
	return r;
}

static int
count(struct store_txn *t, size_t *n)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	int r, rc;

	*n = 0;
	if ((r = store_cursor_open(t, TBL_META, &c)) != 0)
		return r;
	for (rc = store_cursor_seek(c, prefix, PFX, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if (k.len != PFX + 8 || memcmp(k.data, prefix, PFX) != 0)
			break;
		(*n)++;
	}
	store_cursor_close(c);
	return rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
}

int
pruneq_put(struct store_txn *t, const struct prune_req *p)
{
	uint8_t key[PFX + 8];
	json_t *o;
	char *s = NULL;
	size_t n;
	int r;

	if ((r = count(t, &n)) != 0)
		return r;
	if (n >= PRUNEQ_MAX)
		return BRK_ERR_BUSY;
	r = BRK_ERR_NOMEM;
	if ((o = json_pack("{s:i, s:I, s:I, s:I, s:I, s:s, s:s}", "v", 1, "id",
		 (json_int_t)p->id, "before", (json_int_t)p->before, "at",
		 (json_int_t)p->at, "expires_at", (json_int_t)p->expires_at,
		 "by", p->by, "caller", p->caller)) == NULL ||
	    (s = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	r = store_put(t, TBL_META, key, key_of(key, p->id), s, strlen(s));
out:
	free(s);
	json_decref(o);
	return r;
}

int
pruneq_get(struct store_txn *t, uint64_t id, struct prune_req *out)
{
	uint8_t key[PFX + 8];
	struct store_val v;
	int r;

	if ((r = store_get(t, TBL_META, key, key_of(key, id), &v)) != 0)
		return r;
	return decode(&v, out);
}

int
pruneq_del(struct store_txn *t, uint64_t id)
{
	uint8_t key[PFX + 8];

	return store_del(t, TBL_META, key, key_of(key, id));
}

json_t *
pruneq_json(const struct prune_req *p)
{
	char id[24], before[TIMEFMT_LEN], at[TIMEFMT_LEN], exp[TIMEFMT_LEN];

	pruneq_id(p->id, id);
	time_rfc3339(p->before, before);
	time_rfc3339(p->at, at);
	time_rfc3339(p->expires_at, exp);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id,
	    "state", "pending", "before", before, "filed_by", p->by, "caller",
	    p->caller, "filed_at", at, "expires_at", exp);
}

int
pruneq_list(struct store_txn *t, int64_t now, json_t *out)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	struct prune_req p;
	json_t *o;
	int r, rc;

	if ((r = store_cursor_open(t, TBL_META, &c)) != 0)
		return r;
	for (rc = store_cursor_seek(c, prefix, PFX, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if (k.len != PFX + 8 || memcmp(k.data, prefix, PFX) != 0)
			break;
		if ((rc = decode(&v, &p)) != 0)
			break; /* a list we cannot read whole: refuse */
		if (now >= p.expires_at)
			continue;
		if ((o = pruneq_json(&p)) == NULL) {
			rc = BRK_ERR_NOMEM;
			break;
		}
		json_array_append_new(out, o);
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}
