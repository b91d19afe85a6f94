/*
 * ops_metrics.c - the broker's metrics in the Prometheus text format.
 *
 * One renderer, two doors: op "metrics" (`broker metrics`) and the HTTP
 * endpoint of metrics_http.c.  Everything here is read-only and cheap:
 * counters kept in memory (requests by outcome, checks by result, the
 * writer's commits, the notification queues), counts the store keeps
 * (grants active, requests pending), and a walk over the live opt-outs,
 * flags and pending requests.  Names are broker_*; counters end in _total.
 * No label value comes from users' input, so none needs escaping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "notify.h"
#include "ops.h"
#include "optouts.h"
#include "reqstore.h"
#include "timefmt.h"

#define PENDING_WALK_MAX 100000

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

struct live {
	int64_t now;
	uint64_t optouts, freezes;
};

static int
count_optout(const struct optout *o, void *arg)
{
	struct live *l = arg;

	if (optout_active(o, l->now)) {
		l->optouts++;
		l->freezes += o->freeze;
	}
	return 0;
}

struct oldest {
	struct store_txn *t;
	int64_t now, created; /* created: oldest live pending, or 0 */
	size_t seen;
};

static int
find_oldest(uint64_t serial, void *arg)
{
	struct oldest *o = arg;
	struct request r;

	if (reqstore_load(o->t, serial, &r) == 0 &&
	    reqstore_is_live(&r, o->now) && r.state == ST_PENDING &&
	    (o->created == 0 || r.created_at < o->created))
		o->created = r.created_at;
	return ++o->seen >= PENDING_WALK_MAX;
}

static int
store_metrics(FILE *f, struct store_txn *t, int64_t now)
{
	struct live l = { .now = now };
	struct oldest o = { .t = t, .now = now };
	uint64_t nact = 0, npend = 0;
	json_t *flags = json_array();
	int r;

	if (flags == NULL)
		return BRK_ERR_NOMEM;
	if ((r = reqstore_count(t, ST_ACTIVE, &nact)) != 0 ||
	    (r = reqstore_count(t, ST_PENDING, &npend)) != 0 ||
	    (r = reqstore_by_state(t, ST_PENDING, find_oldest, &o)) != 0 ||
	    (r = optouts_live(t, count_optout, &l)) != 0 ||
	    (r = flags_list(t, now, false, flags)) != 0) {
		json_decref(flags);
		return r;
	}
	one(f, "broker_grants_active", "gauge",
	    "Active grants (as of the "
	    "last expiry sweep).",
	    nact);
	one(f, "broker_requests_pending", "gauge",
	    "Requests waiting for "
	    "approval (as of the last expiry sweep).",
	    npend);
	one(f, "broker_pending_oldest_age_seconds", "gauge",
	    "Age of the "
	    "oldest pending request; 0 when none.",
	    o.created > 0 && now > o.created ? (uint64_t)(now - o.created) : 0);
	one(f, "broker_optouts_active", "gauge",
	    "Opt-outs of automation in "
	    "force, freezes included.",
	    l.optouts);
	one(f, "broker_freeze_active", "gauge",
	    "1 while a global freeze is "
	    "in force.",
	    l.freezes > 0);
	one(f, "broker_flags_active", "gauge", "Monitoring flags in force.",
	    json_array_size(flags));
	json_decref(flags);
	return 0;
}

static void
counter_metrics(FILE *f, struct brokerd *d)
{
	static const struct {
		int idx;
		const char *label;
	} outcomes[] = {
		{ CNT_AUTO, "granted" },
		{ CNT_PENDING, "pending" },
		{ CNT_DENIED, "denied" },
		{ CNT_REFUSED, "refused" },
	};
	uint64_t commits = 0, mutations = 0, max_batch = 0, ns = 0, ns_max = 0;
	size_t i;

	family(f, "broker_requests_total", "counter",
	    "Requests filed since "
	    "start, by outcome when filed.");
	for (i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		fprintf(f, "broker_requests_total{outcome=\"%s\"} %llu\n",
		    outcomes[i].label,
		    (unsigned long long)__atomic_load_n(
			&d->counters[outcomes[i].idx], __ATOMIC_RELAXED));
	family(f, "broker_checks_total", "counter",
	    "Access checks (broker "
	    "check, PAM) since start, by result.");
	fprintf(f,
	    "broker_checks_total{result=\"allowed\"} %llu\n"
	    "broker_checks_total{result=\"refused\"} %llu\n",
	    (unsigned long long)__atomic_load_n(
		&d->checks[0], __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(
		&d->checks[1], __ATOMIC_RELAXED));
	if (d->writer != NULL)
		writer_stats(d->writer, &commits, &mutations, &max_batch);
	one(f, "broker_store_commits_total", "counter",
	    "Write transactions "
	    "committed (one sync each).",
	    commits);
	one(f, "broker_store_mutations_total", "counter",
	    "Mutations "
	    "written, batched into the commits.",
	    mutations);
	one(f, "broker_store_batch_max", "gauge",
	    "The largest batch of "
	    "mutations in one commit since start.",
	    max_batch);
	if (d->writer != NULL)
		writer_latency(d->writer, &ns, &ns_max);
	family(f, "broker_store_commit_seconds", "summary",
	    "Time to apply and "
	    "commit a batch, sync included.");
	fprintf(f,
	    "broker_store_commit_seconds_sum %llu.%09llu\n"
	    "broker_store_commit_seconds_count %llu\n",
	    (unsigned long long)(ns / 1000000000u),
	    (unsigned long long)(ns % 1000000000u),
	    (unsigned long long)commits);
	family(f, "broker_store_commit_seconds_max", "gauge",
	    "The longest "
	    "batch commit since start.");
	fprintf(f, "broker_store_commit_seconds_max %llu.%09llu\n",
	    (unsigned long long)(ns_max / 1000000000u),
	    (unsigned long long)(ns_max % 1000000000u));
}

/* A metric name from a health key: [a-z0-9_] only, else NULL. */
static const char *
key_ok(const char *k)
{
	size_t n = strlen(k);

	return n > 0 && n < 64 &&
		strspn(k,
		    "abcdefghijklmnopqrstuvwxyz"
		    "0123456789_") == n ?
	    k :
	    NULL;
}

/* The directory's health (identity_health) as gauges and counters. */
static void
ldap_metrics(FILE *f, struct brokerd *d)
{
	json_t *h = identity_health(d->ident), *v, *c;
	const char *k, *ck;
	char name[128];
	int64_t ts;

	one(f, "broker_ldap_configured", "gauge",
	    "1 when an LDAP directory "
	    "is configured.",
	    json_is_true(json_object_get(h, "configured")));
	json_object_foreach (h, k, v) {
		if (key_ok(k) == NULL || strcmp(k, "configured") == 0)
			continue;
		snprintf(name, sizeof(name), "broker_ldap_%s", k);
		if (json_is_boolean(v))
			one(f, name, "gauge",
			    "LDAP directory health (1 yes, 0 "
			    "no).",
			    json_is_true(v));
		else if (json_is_integer(v) && json_integer_value(v) >= 0)
			one(f, name, "gauge", "LDAP directory health.",
			    (uint64_t)json_integer_value(v));
		else if (json_is_string(v) && strncmp(k, "last_", 5) == 0 &&
		    time_parse_rfc3339(json_string_value(v), &ts) == 0 &&
		    ts >= 0) {
			snprintf(name, sizeof(name),
			    "broker_ldap_%s_timestamp_"
			    "seconds",
			    k);
			one(f, name, "gauge",
			    "When, in seconds since the epoch.", (uint64_t)ts);
		} else if (json_is_object(v) && strcmp(k, "counters") == 0)
			json_object_foreach (v, ck, c) {
				if (key_ok(ck) == NULL || !json_is_integer(c) ||
				    json_integer_value(c) < 0)
					continue;
				snprintf(name, sizeof(name),
				    "broker_ldap_%s_total", ck);
				one(f, name, "counter",
				    "LDAP directory counter.",
				    (uint64_t)json_integer_value(c));
			}
	}
	json_decref(h);
}

static void
notify_metrics(FILE *f, struct brokerd *d)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{ "broker_notify_queue_length", "gauge",
		    "Events waiting for a sink." },
		{ "broker_notify_queue_capacity", "gauge",
		    "Events a sink's queue holds at most." },
		{ "broker_notify_queued_total", "counter",
		    "Events accepted into a sink's queue." },
		{ "broker_notify_delivered_total", "counter",
		    "Events delivered (exit 0, HTTP 2xx)." },
		{ "broker_notify_failures_total", "counter",
		    "Events given up on after their attempts." },
		{ "broker_notify_dropped_total", "counter",
		    "Events dropped: oldest out of a full queue, or left at stop." },
		{ "broker_notify_retries_total", "counter",
		    "Webhook attempts after a first." },
	};
	struct notify_sink_stats st[4];
	uint64_t made, matched, v;
	size_t n = notify_stats(d->notify, st, 4), i, j;

	notify_event_counts(d->notify, &made, &matched);
	one(f, "broker_notify_events_total", "counter",
	    "Notification events "
	    "made from the audit trail.",
	    made);
	one(f, "broker_notify_events_matched_total", "counter",
	    "Events that "
	    "passed the notify.events filter.",
	    matched);
	for (j = 0; j < sizeof(fams) / sizeof(fams[0]); j++) {
		family(f, fams[j].name, fams[j].type, fams[j].help);
		for (i = 0; i < n; i++) {
			v = j == 0 ? st[i].queue_len :
			    j == 1 ? st[i].queue_max :
			    j == 2 ? st[i].queued :
			    j == 3 ? st[i].delivered :
			    j == 4 ? st[i].failed :
			    j == 5 ? st[i].dropped :
				     st[i].retries;
			fprintf(f, "%s{sink=\"%s\"} %llu\n", fams[j].name,
			    st[i].sink, (unsigned long long)v);
		}
	}
}

int
ops_metrics_text(
    struct brokerd *d, struct store_txn *t, char **out, size_t *len)
{
	struct policy_ref *p = policy_get(d);
	int64_t now = time_now();
	char *text = NULL;
	size_t n = 0;
	FILE *f;
	int r;

	*out = NULL;
	*len = 0;
	if ((f = open_memstream(&text, &n)) == NULL) {
		policy_put(d, p);
		return BRK_ERR_NOMEM;
	}
	one(f, "broker_up", "gauge", "1 while the broker answers.", 1);
	one(f, "broker_start_time_seconds", "gauge",
	    "When brokerd started, "
	    "in seconds since the epoch.",
	    (uint64_t)d->started_at);
	one(f, "broker_policy_version", "gauge",
	    "The version of the policy "
	    "in force.",
	    p != NULL ? p->version : 0);
	policy_put(d, p);
	counter_metrics(f, d);
	r = store_metrics(f, t, now);
	ldap_metrics(f, d);
	notify_metrics(f, d);
	if (fclose(f) != 0 && r == 0)
		r = BRK_ERR_NOMEM;
	if (r != 0) {
		free(text);
		return r;
	}
	*out = text;
	*len = n;
	return 0;
}

int
op_metrics(struct call *c)
{
	struct store_txn *t = NULL;
	char *text = NULL;
	size_t len;
	int r;

	if ((r = call_read(c, &t)) != 0 ||
	    (r = ops_metrics_text(c->d, t, &text, &len)) != 0) {
		call_fail(
		    c, r, "cannot gather the metrics: %s", brk_strerror(r));
		return r;
	}
	call_reply(c, json_pack("{s:s%}", "text", text, len));
	free(text);
	return 0;
}
