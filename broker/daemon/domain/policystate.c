/*
 * policystate.c - loading, versioning and swapping the policy.
 *
 * The swap is a pointer change under a mutex; calls that already hold a
 * reference finish on the version they started with.
 */
#include "policystate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "audit.h"
#include "codec.h"
#include "fileio.h"
#include "log.h"
#include "timefmt.h"

#define POLICY_MAX_BYTES (16 * 1024 * 1024)

static const char version_key[] = "policy_version";
static const char file_sha_key[] = "policy_file_sha";

static void
sha256_hex(const char *text, size_t len, char out[65])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_LENGTH];
	int i;

	SHA256((const uint8_t *)text, len, md);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

static const char *const source_names[] = { "file", "cli", NULL };

int
policy_record_decode(const void *data, size_t len, json_t **out)
{
	const char *by, *caller, *source, *sha, *text;
	json_int_t ver, version, at;
	json_t *o = NULL, *reason;
	int r;

	*out = NULL;
	if ((r = codec_load(data, len, &o)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if (codec_unpack(o, "{s:I, s:I, s:I, s:s, s:s, s:o, s:s, s:s, s:s}",
		"v", &ver, "version", &version, "loaded_at", &at, "loaded_by",
		&by, "caller", &caller, "reason", &reason, "source", &source,
		"sha256", &sha, "text", &text) != 0 ||
	    ver != 1 || version <= 0 ||
	    (!json_is_null(reason) && !json_is_string(reason)) ||
	    codec_enum(source, source_names) < 0 || strlen(sha) != 64)
		goto out;
	*out = o;
	o = NULL;
	r = 0;
out:
	json_decref(o);
	return r;
}

/* The stored record of version into *out (NULL on entry). */
static int
record_load(struct store_txn *t, uint64_t version, json_t **out)
{
	struct store_val v;
	uint8_t key[8];
	int r;

	*out = NULL;
	store_be64(key, version);
	if ((r = store_get(t, TBL_POLICIES, key, 8, &v)) != 0)
		return r;
	if ((r = policy_record_decode(v.data, v.len, out)) != 0)
		return r;
	if ((uint64_t)json_integer_value(json_object_get(*out, "version")) !=
	    version) {
		json_decref(*out); /* filed under another version */
		*out = NULL;
		return BRK_ERR_INVALID;
	}
	return 0;
}

struct policy_ref *
policy_get(struct brokerd *d)
{
	struct policy_ref *ref;

	pthread_mutex_lock(&d->policy_lock);
	ref = d->policy;
	if (ref != NULL)
		ref->refs++;
	pthread_mutex_unlock(&d->policy_lock);
	return ref;
}

void
policy_put(struct brokerd *d, struct policy_ref *ref)
{
	bool last;

	if (ref == NULL)
		return;
	pthread_mutex_lock(&d->policy_lock);
	last = --ref->refs == 0;
	pthread_mutex_unlock(&d->policy_lock);
	if (last) {
		policy_free(ref->policy);
		free(ref);
	}
}

static int
install(struct brokerd *d, struct policy *p, uint64_t version, const char *sha)
{
	struct policy_ref *ref, *old;

	if ((ref = calloc(1, sizeof(*ref))) == NULL) {
		policy_free(p);
		return BRK_ERR_NOMEM;
	}
	ref->policy = p;
	ref->version = version;
	memcpy(ref->sha256, sha, 65);
	ref->refs = 1;
	pthread_mutex_lock(&d->policy_lock);
	old = d->policy;
	d->policy = ref;
	pthread_mutex_unlock(&d->policy_lock);
	policy_put(d, old);
	log_info("event=policy_installed version=%llu rules=%zu sha256=%s",
	    (unsigned long long)version, policy_rule_count(p), sha);
	return 0;
}

struct load_op {
	const char *text;
	size_t len;
	const char *sha, *actor, *caller, *reason, *source;
	int64_t now;
	uint64_t version;
};

static int
apply_load(struct store_txn *t, void *arg)
{
	struct load_op *op = arg;
	struct store_val v;
	uint8_t key[8];
	char vid[32];
	json_t *rec, *details;
	char *s;
	int r;

	op->version = 1;
	r = store_get(t, TBL_META, version_key, sizeof(version_key) - 1, &v);
	if (r == 0 && v.len == 8)
		op->version = store_get_be64(v.data) + 1;
	else if (r != BRK_ERR_NOTFOUND)
		return r != 0 ? r : BRK_ERR_INTERNAL;
	rec = json_pack("{s:i, s:I, s:I, s:s, s:s, s:s?, s:s, s:s, s:s%}", "v",
	    1, "version", (json_int_t)op->version, "loaded_at",
	    (json_int_t)op->now, "loaded_by", op->actor, "caller", op->caller,
	    "reason", op->reason, "source", op->source, "sha256", op->sha,
	    "text", op->text, op->len);
	if (rec == NULL || (s = json_dumps(rec, JSON_COMPACT)) == NULL) {
		json_decref(rec);
		return BRK_ERR_NOMEM;
	}
	json_decref(rec);
	store_be64(key, op->version);
	r = store_put(t, TBL_POLICIES, key, 8, s, strlen(s));
	free(s);
	if (r != 0 ||
	    (r = store_put(t, TBL_META, version_key, sizeof(version_key) - 1,
		 key, 8)) != 0)
		return r;
	if (strcmp(op->source, "file") == 0 &&
	    (r = store_put(t, TBL_META, file_sha_key, sizeof(file_sha_key) - 1,
		 op->sha, 64)) != 0)
		return r;
	snprintf(
	    vid, sizeof(vid), "policy-v%llu", (unsigned long long)op->version);
	details = json_pack("{s:I, s:s, s:s}", "version",
	    (json_int_t)op->version, "sha256", op->sha, "source", op->source);
	r = audit_append(t, op->now,
	    &(struct audit_event){ .action = "policy.loaded",
		.actor = op->actor,
		.caller = op->caller,
		.target = vid,
		.reason = op->reason,
		.details = details },
	    NULL);
	json_decref(details);
	return r;
}

int
policystate_load(struct brokerd *d, const char *text, size_t len,
    const char *actor, const char *caller, const char *reason,
    const char *source, uint64_t *version, struct policy_error *perr,
    struct brk_error *err)
{
	struct policy *p = NULL;
	struct load_op op;
	char sha[65];
	int r;

	if ((r = policy_parse(text, len, &p, perr)) != 0)
		return brk_error_set(err, r, "%s%s%d: %s", perr->path,
		    perr->path[0] ? ": line " : "line ", perr->line, perr->msg);
	sha256_hex(text, len, sha);
	op = (struct load_op){ .text = text,
		.len = len,
		.sha = sha,
		.actor = actor,
		.caller = caller,
		.reason = reason,
		.source = source,
		.now = time_now() };
	if ((r = writer_run(d->writer, apply_load, &op)) != 0) {
		policy_free(p);
		return brk_error_set(
		    err, r, "cannot store the policy: %s", brk_strerror(r));
	}
	if (version != NULL)
		*version = op.version;
	return install(d, p, op.version, sha);
}

/* The stored text and sha of the newest version, or NOTFOUND. */
static int
current_stored(struct brokerd *d, char **text, size_t *len, uint64_t *ver,
    char sha[65], char file_sha[65])
{
	struct store_txn *t = NULL;
	struct store_val v;
	json_t *rec = NULL;
	const char *s;
	int r;

	*text = NULL;
	file_sha[0] = '\0';
	if ((r = store_begin(d->store, false, &t)) != 0)
		return r;
	if (store_get(
		t, TBL_META, file_sha_key, sizeof(file_sha_key) - 1, &v) == 0 &&
	    v.len == 64) {
		memcpy(file_sha, v.data, 64);
		file_sha[64] = '\0';
	}
	if ((r = store_get(
		 t, TBL_META, version_key, sizeof(version_key) - 1, &v)) != 0)
		goto out;
	r = BRK_ERR_INVALID;
	if (v.len != 8)
		goto out;
	*ver = store_get_be64(v.data);
	if ((r = record_load(t, *ver, &rec)) != 0) {
		if (r == BRK_ERR_NOTFOUND)
			r = BRK_ERR_INVALID; /* a version, not stored */
		goto out;
	}
	s = json_string_value(json_object_get(rec, "text"));
	*len = json_string_length(json_object_get(rec, "text"));
	snprintf(
	    sha, 65, "%s", json_string_value(json_object_get(rec, "sha256")));
	if ((*text = malloc(*len + 1)) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	memcpy(*text, s, *len + 1);
	r = 0;
out:
	json_decref(rec);
	store_abort(t);
	return r;
}

/*
 * Decide what to run: the file when it changed since it was last loaded
 * from, else the newest stored version.
 */
static int
load_from_file_if_changed(
    struct brokerd *d, bool at_boot, struct brk_error *err)
{
	char *file = NULL, *stored = NULL, sha[65], ssha[65], fsha[65];
	struct policy_error perr;
	struct policy *p = NULL;
	char why[sizeof(err->msg)];
	size_t flen = 0, slen = 0;
	uint64_t ver = 0;
	int r, have;

	have = current_stored(d, &stored, &slen, &ver, ssha, fsha);
	if (have != 0 && have != BRK_ERR_NOTFOUND) {
		r = brk_error_set(err, have, "cannot read the stored policy");
		goto out;
	}
	if (d->cfg->policy != NULL) {
		r = file_read_all(
		    d->cfg->policy, POLICY_MAX_BYTES, 0, &file, &flen, err);
		if (r != 0 && (at_boot || have != 0))
			goto out;
		if (r == 0) {
			sha256_hex(file, flen, sha);
			if (have != 0 || strcmp(sha, fsha) != 0) {
				r = policystate_load(d, file, flen, "brokerd",
				    "brokerd", d->cfg->policy, "file", NULL,
				    &perr, err);
				if (r != 0 && err != NULL) {
					/* err->msg is both source and target */
					snprintf(
					    why, sizeof(why), "%s", err->msg);
					brk_error_set(err, r, "policy %s: %s",
					    d->cfg->policy, why);
				}
				goto out;
			}
		}
	}
	r = 0;
	if (!at_boot)
		goto out;
	if (have != 0) {
		r = brk_error_set(err, BRK_ERR_NOTFOUND,
		    "no policy: set "
		    "\"policy\" in the config");
		goto out;
	}
	if ((r = policy_parse(stored, slen, &p, &perr)) != 0) {
		brk_error_set(err, r, "stored policy v%llu does not parse: %s",
		    (unsigned long long)ver, perr.msg);
		goto out;
	}
	r = install(d, p, ver, ssha);
out:
	free(file);
	free(stored);
	return r;
}

/*
 * With the PostgreSQL store several brokers share the stored versions: a
 * `policy load` through one is stored for all, and each other broker
 * installs it from the store.  A follower thread looks (the server's
 * snapshot for the copies op check keeps, then the newest version number,
 * one indexed read) as soon as another broker's commit is announced
 * (store_follow_wait: LISTEN/NOTIFY), and every FOLLOW_MS in any case, the
 * safety net for an announcement lost with a broken session.  So a load
 * is in force on every broker within a few milliseconds, FOLLOW_MS at
 * worst.
 */
#define FOLLOW_MS 200

struct policy_follow {
	pthread_t thread;
	pthread_mutex_t lock;
	bool stop;
	int wake[2]; /* written to stop the thread's wait */
	int every_ms;
};

/* The safety net's interval: FOLLOW_MS, or the test knob
 * BROKER_FOLLOW_UNSAFE_MS (never set in production: t_pgnotify sets it
 * long to show that announcements alone carry changes). */
static int
follow_every_ms(void)
{
	const char *knob = getenv("BROKER_FOLLOW_UNSAFE_MS");
	char *end = NULL;
	long v;

	if (knob == NULL)
		return FOLLOW_MS;
	errno = 0;
	v = strtol(knob, &end, 10);
	if (errno != 0 || end == knob || *end != '\0' || v < 10 || v > 600000) {
		log_error(
		    "event=policy_follow_knob_ignored "
		    "why=\"BROKER_FOLLOW_UNSAFE_MS is not 10 to 600000\"");
		return FOLLOW_MS;
	}
	log_warn("event=policy_follow_unsafe every_ms=%ld why=\"test knob "
		 "BROKER_FOLLOW_UNSAFE_MS\"",
	    v);
	return (int)v;
}

static uint64_t
installed_version(struct brokerd *d)
{
	uint64_t v = 0;

	pthread_mutex_lock(&d->policy_lock);
	if (d->policy != NULL)
		v = d->policy->version;
	pthread_mutex_unlock(&d->policy_lock);
	return v;
}

/* Install the newest stored version if it is newer than ours. */
static void
follow_once(struct brokerd *d)
{
	char *text = NULL, sha[65], fsha[65];
	struct policy_error perr;
	struct policy *p = NULL;
	struct store_txn *t = NULL;
	struct store_val v;
	uint64_t ver = 0;
	size_t len = 0;
	int r;

	if (store_begin(d->store, false, &t) != 0)
		return; /* the store says why in the log */
	r = store_get(t, TBL_META, version_key, sizeof(version_key) - 1, &v);
	if (r == 0 && v.len == 8)
		ver = store_get_be64(v.data);
	store_abort(t);
	if (ver <= installed_version(d))
		return;
	if ((r = current_stored(d, &text, &len, &ver, sha, fsha)) != 0) {
		log_warn(
		    "event=policy_follow_failed error=\"%s\"", brk_strerror(r));
		goto out;
	}
	if ((r = policy_parse(text, len, &p, &perr)) != 0) {
		log_error("event=policy_follow_failed version=%llu "
			  "error=\"stored policy does not parse\"",
		    (unsigned long long)ver);
		goto out;
	}
	/* a load through this broker may have installed it meanwhile */
	if (ver > installed_version(d)) {
		install(d, p, ver, sha);
		p = NULL;
	}
out:
	policy_free(p);
	free(text);
}

static void *
follow_main(void *arg)
{
	struct brokerd *d = arg;
	struct policy_follow *f = d->follow;
	struct timespec ts;
	int64_t now, polled = 0;
	bool stop = false, news = false;

	while (!stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		/* what other brokers committed: ends copies kept in memory
		 * (op check); a failure leaves them to age (store.stale_max).
		 * An announcement moved the generation already: the poll, one
		 * round trip, then waits for the safety net's time */
		if (!news || now - polled >= f->every_ms) {
			(void)store_follow_poll(d->store);
			polled = now;
		}
		follow_once(d);
		/* until another broker's commit is announced, or the safety
		 * net's time, or policystate_free() */
		news = store_follow_wait(d->store, f->wake[0], f->every_ms) > 0;
		pthread_mutex_lock(&f->lock);
		stop = f->stop;
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

int
policystate_boot(struct brokerd *d, struct brk_error *err)
{
	struct policy_follow *f;
	int r;

	if ((r = load_from_file_if_changed(d, true, err)) != 0)
		return r;
	if (strcmp(store_backend_name(d->store), "postgres") != 0)
		return 0; /* one broker per LMDB store: nobody else loads */
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
	if (pipe2(f->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(f);
		return brk_error_set(err, BRK_ERR_INTERNAL,
		    "cannot start the policy follower: %s", strerror(errno));
	}
	pthread_mutex_init(&f->lock, NULL);
	f->every_ms = follow_every_ms();
	d->follow = f;
	if (pthread_create(&f->thread, NULL, follow_main, d) != 0) {
		d->follow = NULL;
		pthread_mutex_destroy(&f->lock);
		close(f->wake[0]);
		close(f->wake[1]);
		free(f);
		return brk_error_set(
		    err, BRK_ERR_INTERNAL, "cannot start the policy follower");
	}
	return 0;
}

void
policystate_reload(struct brokerd *d)
{
	struct brk_error err = { { 0 } };

	if (load_from_file_if_changed(d, false, &err) != 0)
		log_error("event=policy_reload_refused error=\"%s\"", err.msg);
}

json_t *
policystate_version(
    struct brokerd *d, struct store_txn *t, uint64_t version, bool with_text)
{
	char ts[TIMEFMT_LEN];
	json_t *rec = NULL;

	if (record_load(t, version, &rec) != 0)
		return NULL;
	if (!with_text)
		json_object_del(rec, "text");
	time_rfc3339(json_integer_value(json_object_get(rec, "loaded_at")), ts);
	json_object_set_new(rec, "loaded_at", json_string(ts));
	return rec;
}

void
policystate_free(struct brokerd *d)
{
	struct policy_follow *f = d->follow;
	struct policy_ref *ref;

	if (f != NULL) {
		pthread_mutex_lock(&f->lock);
		f->stop = true;
		pthread_mutex_unlock(&f->lock);
		/* ends the wait; the pipe stays readable until closed */
		while (write(f->wake[1], "x", 1) < 0 && errno == EINTR)
			;
		pthread_join(f->thread, NULL);
		pthread_mutex_destroy(&f->lock);
		close(f->wake[0]);
		close(f->wake[1]);
		free(f);
		d->follow = NULL;
	}

	pthread_mutex_lock(&d->policy_lock);
	ref = d->policy;
	d->policy = NULL;
	pthread_mutex_unlock(&d->policy_lock);
	policy_put(d, ref);
}
