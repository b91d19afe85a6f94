/*
 * ops_report.c - optout report: who opts out of what, how often, how long,
 * and where opting out has become the norm rather than the exception.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "optouts.h"
#include "timefmt.h"

#define REPORT_DEFAULT_SINCE (30 * 24 * 3600)
#define REPORT_WARN_SHARE 50	/* percent of the period */
#define REPORT_BACK_TO_BACK 300 /* seconds between end and renewal */

struct report {
	int64_t since, now;
	json_t *by_scope, *by_tag, *by_person;
	json_t *last_end;     /* scope -> end of its latest opt-out */
	json_t *back_to_back; /* scope -> renewals */
	uint64_t count;
	int64_t total;
};

/* Add n opt-outs and secs seconds to obj[key]. */
static void
tally(json_t *obj, const char *key, int64_t secs)
{
	json_t *e = json_object_get(obj, key);

	if (e == NULL) {
		e = json_pack("{s:I, s:I}", "count", (json_int_t)0, "seconds",
		    (json_int_t)0);
		json_object_set_new(obj, key, e);
	}
	json_object_set_new(e, "count",
	    json_integer(json_integer_value(json_object_get(e, "count")) + 1));
	json_object_set_new(e, "seconds",
	    json_integer(
		json_integer_value(json_object_get(e, "seconds")) + secs));
}

static int
add_one(const struct optout *o, void *arg)
{
	struct report *rp = arg;
	int64_t end = o->ended_at != 0 && o->ended_at < o->until ? o->ended_at :
								   o->until;
	int64_t start = o->at > rp->since ? o->at : rp->since;
	json_t *prev_end;

	if (end > rp->now)
		end = rp->now;
	if (end <= rp->since)
		return 0;
	rp->count++;
	rp->total += end - start;
	tally(rp->by_scope, o->scope, end - start);
	tally(rp->by_tag, o->tag, end - start);
	tally(rp->by_person, o->by, end - start);
	/* opt-outs come in creation order: a renewal starts soon after the
	 * previous one on the same scope ended */
	prev_end = json_object_get(rp->last_end, o->scope);
	if (prev_end != NULL &&
	    o->at - json_integer_value(prev_end) <= REPORT_BACK_TO_BACK)
		tally(rp->back_to_back, o->scope, 0);
	json_object_set_new(rp->last_end, o->scope, json_integer(end));
	return 0;
}

static json_t *
warnings(struct report *rp)
{
	json_t *w = json_array(), *e;
	int64_t period = rp->now - rp->since;
	const char *scope;
	char line[512];

	json_object_foreach (rp->by_scope, scope, e) {
		json_int_t secs = json_integer_value(
		    json_object_get(e, "seconds"));
		if (period > 0 && secs * 100 / period >= REPORT_WARN_SHARE) {
			snprintf(line, sizeof(line),
			    "%.300s was opted out of "
			    "automation %lld%% of the period: make it a policy "
			    "rule instead",
			    scope, (long long)(secs * 100 / period));
			json_array_append_new(w, json_string(line));
		}
	}
	json_object_foreach (rp->back_to_back, scope, e) {
		snprintf(line, sizeof(line),
		    "%.300s was renewed back to back "
		    "%lld time(s)",
		    scope,
		    (long long)json_integer_value(json_object_get(e, "count")));
		json_array_append_new(w, json_string(line));
	}
	return w;
}

int
op_optout_report(struct call *c)
{
	struct brk_error err = { { 0 } };
	struct report rp = { .now = time_now() };
	struct store_txn *t = NULL;
	int64_t since = REPORT_DEFAULT_SINCE;
	char from[TIMEFMT_LEN];
	const struct proto_arg spec[] = {
		{ "since", PA_INT, false, 1, (int64_t)3660 * 24 * 3600,
		    &since },
	};
	json_t *out;
	int r;

	if ((r = proto_args_parse(c->req->args, spec,
		 sizeof(spec) / sizeof(spec[0]), &err)) != 0) {
		call_fail(c, r, "%s", err.msg);
		return r;
	}
	rp.since = rp.now - since;
	rp.by_scope = json_object();
	rp.by_tag = json_object();
	rp.by_person = json_object();
	rp.last_end = json_object();
	rp.back_to_back = json_object();
	if ((r = call_read(c, &t)) == 0)
		r = optouts_all(t, add_one, &rp);
	time_rfc3339(rp.since, from);
	out = json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "since",
	    from, "period_s", (json_int_t)since, "count", (json_int_t)rp.count,
	    "total_s", (json_int_t)rp.total, "by_scope", rp.by_scope, "by_tag",
	    rp.by_tag, "by_person", rp.by_person, "warnings", warnings(&rp));
	json_decref(rp.last_end);
	json_decref(rp.back_to_back);
	if (r != 0 || out == NULL) {
		json_decref(out);
		call_fail(c, BRK_ERR_IO, "cannot build the report");
		return BRK_ERR_IO;
	}
	call_reply(c, out);
	return 0;
}
