/*
 * optouts.c - storing opt-outs and matching them against requests.
 *
 * The live table holds only opt-outs that have not ended, so the check on
 * every request reads a handful of entries, not the whole history.
 */
#include "optouts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "codec.h"
#include "glob.h"
#include "record.h"
#include "reqstore.h"
#include "serial.h"
#include "names.h"
#include "strlist.h"
#include "timefmt.h"

static const char serial_key[] = "optout_serial";

const char *const optout_tags[] = {
	"debugging",
	"false-positive",
	"incident",
	"sensitive-change",
	"compliance-exception",
	"maintenance",
	"other",
	NULL,
};

static const char *const kind_names[] = {
	"global",
	"resource",
	"label",
	"user",
	"group",
	"rule",
	"request",
};

void
optout_id(uint64_t id, char buf[24])
{
	snprintf(buf, 24, "o%llu", (unsigned long long)id);
}

int
optout_id_parse(const char *s, uint64_t *id)
{
	return serial_parse(s, 'o', false, id);
}

static bool
label_part_valid(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\\' || s[i] == '=')
			return false;
	return true;
}

/* The scopes whose value is one name: how it is checked, what it is. */
static const struct {
	bool (*valid)(const char *);
	const char *what;
} plain_names[] = {
	[OPT_USER] = { name_user_valid, "user name" },
	[OPT_GROUP] = { name_group_valid, "group name" },
	[OPT_RULE] = { name_id_valid, "rule id" },
};

int
optout_parse_scope(const char *scope, struct optout *o, struct brk_error *err)
{
	const char *colon, *rest, *eq;
	size_t klen, i;
	uint64_t serial;

	if (strlen(scope) >= sizeof(o->scope))
		return brk_error_set(err, BRK_ERR_INVALID, "scope too long");
	snprintf(o->scope, sizeof(o->scope), "%s", scope);
	if (strcmp(scope, "global") == 0) {
		o->kind = OPT_GLOBAL;
		return 0;
	}
	if ((colon = strchr(scope, ':')) == NULL)
		goto bad;
	klen = (size_t)(colon - scope);
	rest = colon + 1;
	for (i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strlen(kind_names[i]) == klen &&
		    strncmp(scope, kind_names[i], klen) == 0)
			break;
	if (i == sizeof(kind_names) / sizeof(kind_names[0]))
		goto bad;
	if (*rest == '\0')
		return brk_error_set(err, BRK_ERR_INVALID,
		    "scope %.*s: the "
		    "pattern is empty",
		    (int)klen, scope);
	o->kind = (enum optout_kind)i;
	snprintf(o->pattern, sizeof(o->pattern), "%s", rest);
	switch (o->kind) {
	case OPT_RESOURCE:
		if (glob_validate(rest) != 0 || strchr(rest, ':') == NULL)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "scope "
			    "resource: \"%.64s\" is not a resource pattern "
			    "like host:db-*",
			    rest);
		return 0;
	case OPT_LABEL:
		if ((eq = strchr(rest, '=')) == NULL)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "scope "
			    "label: needs KEY=VALUE");
		if ((size_t)(eq - rest) >= sizeof(o->label_key))
			goto badlabel;
		snprintf(o->label_key, sizeof(o->label_key), "%.*s",
		    (int)(eq - rest), rest);
		snprintf(o->label_value, sizeof(o->label_value), "%s", eq + 1);
		if (!label_part_valid(o->label_key, 127) ||
		    !label_part_valid(o->label_value, 255))
			goto badlabel;
		return 0;
	case OPT_USER:
	case OPT_GROUP:
	case OPT_RULE:
		if (!plain_names[o->kind].valid(rest))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "scope %s: \"%.64s\" is not a valid %s",
			    kind_names[o->kind], rest,
			    plain_names[o->kind].what);
		return 0;
	case OPT_REQUEST:
		if (req_id_parse(rest, &serial) != 0)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "scope "
			    "request: needs a request id like r42");
		snprintf(o->pattern, sizeof(o->pattern), "r%llu",
		    (unsigned long long)serial);
		snprintf(o->scope, sizeof(o->scope), "request:%s", o->pattern);
		return 0;
	default:
		goto bad;
	}
badlabel:
	return brk_error_set(
	    err, BRK_ERR_INVALID, "scope label: bad KEY=VALUE");
bad:
	return brk_error_set(err, BRK_ERR_INVALID,
	    "unknown scope \"%.64s\": "
	    "use global, resource:PATTERN, label:KEY=VALUE, user:NAME, "
	    "group:NAME, rule:ID or request:ID",
	    scope);
}

static int
encode_put(struct store_txn *t, const struct optout *o)
{
	uint8_t key[8];
	json_t *j;
	char *s;
	int r;

	j = json_pack("{s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I,"
		      " s:I, s:b, s:I, s:I, s:s, s:s, s:s}",
	    "v", 1, "id", (json_int_t)o->id, "scope", o->scope, "mode",
	    o->mode == OPT_BLOCK ? "block" : "manual", "tag", o->tag, "reason",
	    o->reason, "incident", o->incident, "by", o->by, "caller",
	    o->caller, "at", (json_int_t)o->at, "until", (json_int_t)o->until,
	    "freeze", o->freeze, "extends", (json_int_t)o->extends, "ended_at",
	    (json_int_t)o->ended_at, "ended_by", o->ended_by, "end_kind",
	    o->end_kind, "end_reason", o->end_reason);
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return BRK_ERR_NOMEM;
	}
	store_be64(key, o->id);
	r = store_put(t, TBL_OPTOUTS, key, 8, s, strlen(s));
	free(s);
	json_decref(j);
	return r;
}

static const char *const mode_names[] = { "manual", "block", NULL };
static const char *const end_kinds[] = { "", "removed", "expired", NULL };

/*
 * The stored form, strictly: every key of encode_put(), of its type, and
 * no other; a mode or end kind this build does not know, a tag outside the
 * vocabulary or a scope that does not parse is an error, never the
 * weaker reading.
 */
int
optout_decode(const void *data, size_t len, struct optout *o)
{
	struct brk_error err;
	const char *scope, *mode, *tag, *reason, *incident, *by, *caller;
	const char *ended_by, *end_kind, *end_reason;
	json_int_t ver, id, at, until, extends, ended_at;
	json_t *j = NULL;
	int freeze, m, r;

	memset(o, 0, sizeof(*o));
	if ((r = codec_load(data, len, &j)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if (codec_unpack(j,
		"{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
		" s:I, s:I, s:b, s:I, s:I, s:s, s:s, s:s}",
		"v", &ver, "id", &id, "scope", &scope, "mode", &mode, "tag",
		&tag, "reason", &reason, "incident", &incident, "by", &by,
		"caller", &caller, "at", &at, "until", &until, "freeze",
		&freeze, "extends", &extends, "ended_at", &ended_at, "ended_by",
		&ended_by, "end_kind", &end_kind, "end_reason",
		&end_reason) != 0 ||
	    ver != 1 || id <= 0 || extends < 0 || ended_at < 0)
		goto out;
	if ((m = codec_enum(mode, mode_names)) < 0 ||
	    codec_enum(end_kind, end_kinds) < 0 ||
	    (tag[0] != '\0' && codec_enum(tag, optout_tags) < 0))
		goto out;
	if (optout_parse_scope(scope, o, &err) != 0)
		goto out;
	o->id = (uint64_t)id;
	o->mode = m == 1 ? OPT_BLOCK : OPT_MANUAL;
	if (codec_str(o->tag, sizeof(o->tag), tag) != 0 ||
	    codec_str(o->reason, sizeof(o->reason), reason) != 0 ||
	    codec_str(o->incident, sizeof(o->incident), incident) != 0 ||
	    codec_str(o->by, sizeof(o->by), by) != 0 ||
	    codec_str(o->caller, sizeof(o->caller), caller) != 0 ||
	    codec_str(o->ended_by, sizeof(o->ended_by), ended_by) != 0 ||
	    codec_str(o->end_kind, sizeof(o->end_kind), end_kind) != 0 ||
	    codec_str(o->end_reason, sizeof(o->end_reason), end_reason) != 0)
		goto out;
	o->at = at;
	o->until = until;
	o->ended_at = ended_at;
	o->extends = (uint64_t)extends;
	o->freeze = freeze != 0;
	r = 0;
out:
	if (r != 0)
		memset(o, 0, sizeof(*o));
	json_decref(j);
	return r;
}

int
optouts_create(struct store_txn *t, struct optout *o)
{
	struct store_val v;
	uint8_t key[8];
	uint64_t id = 1;
	int r;

	r = store_get(t, TBL_META, serial_key, sizeof(serial_key) - 1, &v);
	if (r == 0 && v.len == 8)
		id = store_get_be64(v.data) + 1;
	else if (r != BRK_ERR_NOTFOUND)
		return r != 0 ? r : BRK_ERR_INTERNAL;
	store_be64(key, id);
	if ((r = store_put(
		 t, TBL_META, serial_key, sizeof(serial_key) - 1, key, 8)) != 0)
		return r;
	o->id = id;
	if ((r = encode_put(t, o)) != 0)
		return r;
	return store_put(t, TBL_OPTOUT_LIVE, key, 8, "", 0);
}

int
optouts_load(struct store_txn *t, uint64_t id, struct optout *o)
{
	struct store_val v;
	uint8_t key[8];
	int r;

	store_be64(key, id);
	if ((r = store_get(t, TBL_OPTOUTS, key, 8, &v)) != 0)
		return r;
	if ((r = optout_decode(v.data, v.len, o)) == 0 && o->id != id)
		r = BRK_ERR_INVALID; /* filed under another key */
	return r;
}

int
optouts_end(struct store_txn *t, const struct optout *o)
{
	uint8_t key[8];
	int r;

	if ((r = encode_put(t, o)) != 0)
		return r;
	store_be64(key, o->id);
	r = store_del(t, TBL_OPTOUT_LIVE, key, 8);
	return r == BRK_ERR_NOTFOUND ? 0 : r;
}

int
optouts_update(struct store_txn *t, const struct optout *o)
{
	return encode_put(t, o);
}

int
optouts_expire(struct store_txn *t, const uint64_t *ids, size_t n, int64_t now)
{
	struct optout o;
	char id[24];
	json_t *d;
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		/* one that cannot be read stays live, and so keeps refusing
		 * what it might cover (optouts_live); the others expire */
		if (optouts_load(t, ids[i], &o) != 0 || o.ended_at != 0 ||
		    o.until > now)
			continue;
		o.ended_at = o.until;
		snprintf(o.end_kind, sizeof(o.end_kind), "expired");
		optout_id(o.id, id);
		d = optout_json(&o, now);
		if ((r = optouts_end(t, &o)) == 0)
			r = audit_append(t, now,
			    &(struct audit_event){ .action = o.freeze ?
				    "freeze.expired" :
				    "optout.expired",
				.actor = "brokerd",
				.caller = "brokerd",
				.target = id,
				.details = d },
			    NULL);
		json_decref(d);
		if (r != 0)
			return r;
	}
	return 0;
}

bool
optout_active(const struct optout *o, int64_t now)
{
	return o->ended_at == 0 && now < o->until;
}

int
optouts_live(struct store_txn *t, optout_fn fn, void *arg)
{
	struct store_cursor *c = NULL;
	struct store_val k;
	struct optout o;
	int r, rc;

	if ((r = store_cursor_open(t, TBL_OPTOUT_LIVE, &c)) != 0)
		return r;
	for (rc = store_cursor_first(c, &k, NULL); rc == 0;
	     rc = store_cursor_next(c, &k, NULL)) {
		/* an entry that cannot be read ends the walk with an error:
		 * an opt-out skipped is a block that silently stops */
		if (k.len != 8) {
			rc = BRK_ERR_INVALID;
			break;
		}
		if ((rc = optouts_load(t, store_get_be64(k.data), &o)) != 0) {
			if (rc == BRK_ERR_NOTFOUND)
				rc = BRK_ERR_INVALID; /* live, not stored */
			break;
		}
		if ((rc = fn(&o, arg)) != 0)
			break;
	}
	r = rc == 0 || rc == 1 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

int
optouts_all(struct store_txn *t, optout_fn fn, void *arg)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	struct optout o;
	int r, rc;

	if ((r = store_cursor_open(t, TBL_OPTOUTS, &c)) != 0)
		return r;
	for (rc = store_cursor_first(c, &k, &v); rc == 0;
	     rc = store_cursor_next(c, &k, &v)) {
		if ((rc = optout_decode(v.data, v.len, &o)) != 0)
			break;
		if (k.len != 8 || o.id != store_get_be64(k.data)) {
			rc = BRK_ERR_INVALID;
			break;
		}
		if ((rc = fn(&o, arg)) != 0)
			break;
	}
	r = rc == 0 || rc == 1 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

bool
optout_covers(const struct optout *o, const struct cover *cv)
{
	char rid[24];
	size_t i;

	switch (o->kind) {
	case OPT_GLOBAL:
		return true;
	case OPT_RESOURCE:
		return glob_match(o->pattern, cv->resource);
	case OPT_LABEL:
		return policy_resource_label(
		    cv->policy, cv->resource, o->label_key, o->label_value);
	case OPT_USER:
		return strcmp(o->pattern, cv->user) == 0;
	case OPT_GROUP:
		for (i = 0; i < cv->ngroups; i++)
			if (strcmp(o->pattern, cv->groups[i]) == 0)
				return true;
		return false;
	case OPT_RULE:
		return cv->rules != NULL && strlist_has(cv->rules, o->pattern);
	case OPT_REQUEST:
		snprintf(
		    rid, sizeof(rid), "r%llu", (unsigned long long)cv->serial);
		return cv->serial != 0 && strcmp(o->pattern, rid) == 0;
	}
	return false;
}

int
optouts_hit(struct store_txn *t, uint64_t id, uint64_t serial)
{
	uint8_t key[16];

	store_be64(key, id);
	store_be64(key + 8, serial);
	return store_put(t, TBL_OPTOUT_HITS, key, 16, "", 0);
}

int
optouts_hits(struct store_txn *t, uint64_t id, json_t *out)
{
	struct store_cursor *c = NULL;
	struct store_val k;
	uint8_t prefix[8];
	char rid[24];
	int r, rc;

	store_be64(prefix, id);
	if ((r = store_cursor_open(t, TBL_OPTOUT_HITS, &c)) != 0)
		return r;
	for (rc = store_cursor_seek(c, prefix, 8, &k, NULL); rc == 0;
	     rc = store_cursor_next(c, &k, NULL)) {
		if (k.len != 16 || memcmp(k.data, prefix, 8) != 0)
			break;
		snprintf(rid, sizeof(rid), "r%llu",
		    (unsigned long long)store_get_be64(
			(const uint8_t *)k.data + 8));
		json_array_append_new(out, json_string(rid));
	}
	r = rc == 0 || rc == BRK_ERR_NOTFOUND ? 0 : rc;
	store_cursor_close(c);
	return r;
}

json_t *
optout_json(const struct optout *o, int64_t now)
{
	char id[24], ext[24];
	int64_t end = o->ended_at != 0 && o->ended_at < o->until ? o->ended_at :
								   o->until;

	optout_id(o->id, id);
	optout_id(o->extends, ext);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:s, s:o, s:o,"
			 " s:I, s:b, s:b, s:o, s:o, s:s?, s:s?, s:s?, s:I}",
	    "id", id, "scope", o->scope, "mode",
	    o->mode == OPT_BLOCK ? "block" : "manual", "tag", o->tag, "reason",
	    o->reason, "incident", o->incident[0] ? o->incident : NULL, "by",
	    o->by, "caller", o->caller, "at", time_json(o->at), "until",
	    time_json(o->until), "left_s",
	    (json_int_t)(optout_active(o, now) ? o->until - now : 0), "active",
	    optout_active(o, now), "freeze", o->freeze, "ended_at",
	    time_json(o->ended_at != 0 ? o->ended_at :
		    now >= o->until    ? o->until :
					 0),
	    "extends", o->extends ? json_string(ext) : json_null(), "ended_by",
	    o->ended_by[0] ? o->ended_by : NULL, "end_kind",
	    o->end_kind[0] ? o->end_kind : (now >= o->until ? "expired" : NULL),
	    "end_reason", o->end_reason[0] ? o->end_reason : NULL, "duration_s",
	    (json_int_t)(end - o->at));
}

/* --- changes: add, remove, extend, each with its audit record ---------- */

static int
audit_optout(struct store_txn *t, const struct actor *a, const struct optout *o,
    const char *action, const char *reason, uint64_t revoked, int64_t now)
{
	char id[24];
	json_t *d = optout_json(o, now);
	int r;

	optout_id(o->id, id);
	if (revoked > 0)
		json_object_set_new(
		    d, "revoked_grants", json_integer((json_int_t)revoked));
	r = audit_append(t, now,
	    &(struct audit_event){ .action = action,
		.actor = a->user,
		.caller = a->caller,
		.target = id,
		.user = o->kind == OPT_USER ? o->pattern : NULL,
		.resource = o->kind == OPT_RESOURCE ? o->pattern : NULL,
		.reason = reason,
		.details = d },
	    NULL);
	json_decref(d);
	return r;
}

struct revoker {
	struct store_txn *t;
	int64_t now;
	uint64_t serials[4096];
	size_t n;
};

static int
collect_auto(uint64_t serial, void *arg)
{
	struct revoker *rv = arg;
	struct request r;

	if (reqstore_load(rv->t, serial, &r) != 0 || !r.automatic ||
	    !reqstore_is_live(&r, rv->now))
		return 0;
	rv->serials[rv->n++] = serial;
	return rv->n == sizeof(rv->serials) / sizeof(rv->serials[0]);
}

/* freeze --revoke-active: end every automatic grant (active or
 * scheduled), in this txn.  Grants people approved stay. */
static int
serial_list_add(struct serial_list *l, uint64_t serial)
{
	uint64_t *v;
	size_t cap;

	if (l == NULL)
		return 0;
	if (l->n == l->cap) {
		cap = l->cap != 0 ? l->cap * 2 : 64;
		if ((v = realloc(l->serials, cap * sizeof(*v))) == NULL)
			return BRK_ERR_NOMEM;
		l->serials = v;
		l->cap = cap;
	}
	l->serials[l->n++] = serial;
	return 0;
}

static int
revoke_automatic(struct store_txn *t, const struct actor *a,
    const struct optout *o, int64_t now, uint64_t *revoked,
    struct serial_list *ended)
{
	struct revoker *rv = calloc(1, sizeof(*rv));
	struct request old, nr;
	char id[24], fid[24];
	size_t i;
	int r;

	if (rv == NULL)
		return BRK_ERR_NOMEM;
	rv->t = t;
	rv->now = now;
	optout_id(o->id, fid);
	do {
		rv->n = 0;
		if ((r = reqstore_by_state(t, ST_ACTIVE, collect_auto, rv)) !=
			0 ||
		    (rv->n < sizeof(rv->serials) / sizeof(rv->serials[0]) &&
			(r = reqstore_by_state(
			     t, ST_SCHEDULED, collect_auto, rv)) != 0))
			break;
		for (i = 0; i < rv->n && r == 0; i++) {
			if ((r = reqstore_load(t, rv->serials[i], &old)) != 0)
				break;
			nr = old;
			nr.state = ST_REVOKED;
			nr.ended_at = nr.expires_at = now;
			snprintf(
			    nr.ended_by, sizeof(nr.ended_by), "%s", a->user);
			snprintf(nr.end_reason, sizeof(nr.end_reason),
			    "freeze %s: %.4000s", fid, o->reason);
			req_id(nr.serial, id);
			if ((r = reqstore_update(t, &old, &nr)) == 0)
				r = audit_append(t, now,
				    &(struct audit_event){
					.action = "grant.revoked",
					.actor = a->user,
					.caller = a->caller,
					.target = id,
					.user = nr.user,
					.resource = nr.resource,
					.reason = nr.end_reason },
				    NULL);
			(*revoked)++;
			if (r == 0)
				r = serial_list_add(ended, nr.serial);
		}
	} while (
	    r == 0 && rv->n == sizeof(rv->serials) / sizeof(rv->serials[0]));
	free(rv);
	return r;
}

int
optouts_add(struct store_txn *t, const struct actor *a, struct optout *o,
    bool revoke_active, int64_t now, uint64_t *revoked,
    struct serial_list *ended)
{
	int r;

	*revoked = 0;
	if (ended != NULL)
		ended->n = 0;
	if (revoke_active && !o->freeze)
		return BRK_ERR_INVALID;
	if ((r = optouts_create(t, o)) != 0)
		return r;
	if (revoke_active &&
	    (r = revoke_automatic(t, a, o, now, revoked, ended)) != 0)
		return r;
	return audit_optout(t, a, o, o->freeze ? "freeze.on" : "optout.added",
	    o->reason, *revoked, now);
}

/* What one remove ends, and why. */
struct ending {
	const struct actor *a;
	const char *reason;
	int64_t now;
	json_t *ended;
	uint64_t freezes[64]; /* unfreeze: the freezes found */
	size_t nfreezes;
};

static int
end_one(struct store_txn *t, struct ending *e, const struct optout *o,
    const char *action)
{
	struct optout x = *o;
	int r;

	x.ended_at = e->now;
	snprintf(x.ended_by, sizeof(x.ended_by), "%s", e->a->user);
	snprintf(x.end_kind, sizeof(x.end_kind), "removed");
	snprintf(x.end_reason, sizeof(x.end_reason), "%s", e->reason);
	if ((r = optouts_end(t, &x)) != 0 ||
	    (r = audit_optout(t, e->a, &x, action, e->reason, 0, e->now)) != 0)
		return r;
	json_array_append_new(e->ended, optout_json(&x, e->now));
	return 0;
}

static int
find_freezes(const struct optout *o, void *arg)
{
	struct ending *e = arg;

	if (o->freeze && optout_active(o, e->now))
		e->freezes[e->nfreezes++] = o->id;
	return e->nfreezes == sizeof(e->freezes) / sizeof(e->freezes[0]);
}

static int
unfreeze(struct store_txn *t, struct ending *e, char msg[REQ_MSG_LEN])
{
	struct optout o;
	size_t i;
	int r;

	/* collect first: ending an opt-out changes the live table */
	if ((r = optouts_live(t, find_freezes, e)) != 0)
		return r;
	if (e->nfreezes == 0) {
		snprintf(msg, REQ_MSG_LEN, "no freeze is in force");
		return BRK_ERR_STATE;
	}
	for (i = 0; i < e->nfreezes; i++)
		if ((r = optouts_load(t, e->freezes[i], &o)) != 0 ||
		    (r = end_one(t, e, &o, "freeze.off")) != 0)
			return r;
	return 0;
}

struct chain {
	int64_t now;
	uint64_t ids[64], extends[64];
	size_t n;
};

static int
collect_chain(const struct optout *o, void *arg)
{
	struct chain *ch = arg;

	if (optout_active(o, ch->now)) {
		ch->ids[ch->n] = o->id;
		ch->extends[ch->n++] = o->extends;
	}
	return ch->n == sizeof(ch->ids) / sizeof(ch->ids[0]);
}

/*
 * Renewals made before `optout extend` changed the opt-out itself were
 * new opt-outs naming the one they renew (o4 extends o3).  Removing any
 * of them ends the whole chain, so no renewal keeps a removed block.
 */
static int
end_renewals(struct store_txn *t, struct ending *e, const struct optout *rm,
    const char *action)
{
	struct chain ch = { .now = e->now };
	bool in[64] = { false }, grew = true;
	struct optout o;
	size_t i, k;
	int r;

	if ((r = optouts_live(t, collect_chain, &ch)) != 0)
		return r;
	/* rm itself has left the live set: start from its neighbours */
	for (i = 0; i < ch.n; i++)
		in[i] = ch.ids[i] == rm->id || ch.extends[i] == rm->id ||
		    (rm->extends != 0 && ch.ids[i] == rm->extends);
	while (grew) {
		grew = false;
		for (i = 0; i < ch.n; i++)
			for (k = 0; k < ch.n && !in[i]; k++)
				if (in[k] &&
				    (ch.extends[i] == ch.ids[k] ||
					ch.extends[k] == ch.ids[i]))
					grew = in[i] = true;
	}
	for (i = 0; i < ch.n; i++) {
		if (!in[i] || ch.ids[i] == rm->id)
			continue;
		if ((r = optouts_load(t, ch.ids[i], &o)) != 0)
			return r;
		/* a renewal is of the same scope; the remover was checked
		 * against that scope, never against another */
		if (strcmp(o.scope, rm->scope) == 0 &&
		    (r = end_one(t, e, &o, action)) != 0)
			return r;
	}
	return 0;
}

/* Whether rights allow changing o: global ones and freezes are the
 * policy admins', others the managers' (within their scopes). */
static bool
may_change(const struct optout_rights *rights, const struct optout *o)
{
	return (o->kind == OPT_GLOBAL || o->freeze) ? rights->admin :
						      rights->manager;
}

static const char *
who_may(const struct optout *o)
{
	return o->kind == OPT_GLOBAL || o->freeze ?
	    "policy admins only" :
	    "optout_managers only, within their scopes";
}

int
optouts_remove(struct store_txn *t, const struct actor *a,
    const struct optout_rights *rights, uint64_t id, const char *reason,
    int64_t now, json_t *ended, char msg[REQ_MSG_LEN])
{
	struct ending e = {
		.a = a, .reason = reason, .now = now, .ended = ended
	};
	size_t before = json_array_size(ended);
	const char *action;
	struct optout o;
	char sid[24];
	int r;

	msg[0] = '\0';
	if (id == 0) {
		if (!rights->admin) {
			snprintf(msg, REQ_MSG_LEN,
			    "%s may not unfreeze (policy admins only)",
			    a->user);
			return BRK_ERR_DENIED;
		}
		return unfreeze(t, &e, msg);
	}
	optout_id(id, sid);
	if ((r = optouts_load(t, id, &o)) != 0) {
		snprintf(msg, REQ_MSG_LEN, "no opt-out %s", sid);
		return r;
	}
	if (!may_change(rights, &o)) {
		snprintf(msg, REQ_MSG_LEN, "%s may not remove %s (%s)", a->user,
		    sid, who_may(&o));
		return BRK_ERR_DENIED;
	}
	action = o.freeze ? "freeze.off" : "optout.removed";
	/* an ended one's renewals may still be in force */
	if (optout_active(&o, now) && (r = end_one(t, &e, &o, action)) != 0)
		return r;
	if ((r = end_renewals(t, &e, &o, action)) != 0)
		return r;
	if (json_array_size(ended) == before) {
		snprintf(msg, REQ_MSG_LEN, "opt-out %s has already ended", sid);
		return BRK_ERR_STATE;
	}
	return 0;
}

int
optouts_extend(struct store_txn *t, const struct actor *a,
    const struct optout_rights *rights, uint64_t id, int64_t until,
    const char *reason, int64_t now, struct optout *o, char msg[REQ_MSG_LEN])
{
	char sid[24], was[TIMEFMT_LEN];
	json_t *d;
	int r;

	msg[0] = '\0';
	optout_id(id, sid);
	if ((r = optouts_load(t, id, o)) != 0) {
		snprintf(msg, REQ_MSG_LEN, "no opt-out %s", sid);
		return r;
	}
	if (!optout_active(o, now)) {
		snprintf(msg, REQ_MSG_LEN,
		    "opt-out %s has already ended: add a new one", sid);
		return BRK_ERR_STATE;
	}
	if (!may_change(rights, o)) {
		snprintf(msg, REQ_MSG_LEN, "%s may not extend %s (%s)", a->user,
		    sid, who_may(o));
		return BRK_ERR_DENIED;
	}
	time_rfc3339(o->until, was);
	if (until <= o->until) {
		snprintf(msg, REQ_MSG_LEN,
		    "opt-out %s already lasts until %s: extend only moves its "
		    "end later (optout remove ends it)",
		    sid, was);
		return BRK_ERR_INVALID;
	}
	o->until = until;
	if ((r = optouts_update(t, o)) != 0)
		return r;
	d = optout_json(o, now);
	json_object_set_new(d, "previous_until", json_string(was));
	r = audit_append(t, now,
	    &(struct audit_event){
		.action = o->freeze ? "freeze.extended" : "optout.extended",
		.actor = a->user,
		.caller = a->caller,
		.target = sid,
		.reason = reason,
		.details = d },
	    NULL);
	json_decref(d);
	return r;
}
