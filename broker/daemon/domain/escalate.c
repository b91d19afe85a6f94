/*
 * escalate.c - collecting the opt-outs and flags that cover a request.
 */
#include "escalate.h"

#include <stdio.h>
#include <string.h>

#include "flags.h"

struct finder {
	const struct cover *cv;
	int64_t now;
	struct escalation *e;
};

static void
raise_to(struct escalation *e, enum esc_level level, const char *why)
{
	if (level > e->level || e->why[0] == '\0') {
		if (level >= e->level)
			snprintf(e->why, sizeof(e->why), "%s", why);
		if (level > e->level)
			e->level = level;
	}
}

static int
consider(const struct optout *o, void *arg)
{
	struct finder *f = arg;
	char why[1024], id[24];

	if (!optout_active(o, f->now) || !optout_covers(o, f->cv))
		return 0;
	optout_id(o->id, id);
	snprintf(why, sizeof(why), "opt-out %s (%s, %s): %.300s", id, o->scope,
	    o->tag, o->reason);
	raise_to(f->e, o->mode == OPT_BLOCK ? ESC_BLOCK : ESC_MANUAL, why);
	if (o->mode == OPT_MANUAL && o->freeze)
		f->e->freeze_manual = true;
	else if (o->mode == OPT_MANUAL)
		f->e->optout_manual = true;
	if (f->e->nids < ESC_MAX_IDS)
		f->e->ids[f->e->nids++] = o->id;
	return 0;
}

int
escalate_find(struct store_txn *t, const struct cover *cv, int64_t now,
    struct escalation *out)
{
	struct finder f = { .cv = cv, .now = now, .e = out };
	struct flag fl;
	char why[1024];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = optouts_live(t, consider, &f)) != 0)
		return r;
	/* a flag that cannot be read refuses the decision, never ignores */
	if ((r = flags_get(t, cv->user, now, &fl)) != 0 &&
	    r != BRK_ERR_NOTFOUND)
		return r;
	if (r == 0) {
		snprintf(why, sizeof(why),
		    "%s is flagged by monitoring "
		    "(%s, by %s): %.300s",
		    cv->user, flag_severity_name(fl.severity), fl.by,
		    fl.reason);
		raise_to(out,
		    fl.severity == FLAG_BLOCK ? ESC_BLOCK : ESC_MANUAL, why);
		out->flag_review = fl.severity == FLAG_REVIEW;
	}
	return 0;
}

void
escalate_ids(const struct escalation *e, char *buf, size_t len)
{
	size_t i, used = 0;
	char id[24];

	buf[0] = '\0';
	for (i = 0; i < e->nids; i++) {
		optout_id(e->ids[i], id);
		if (used + strlen(id) + 2 > len)
			break;
		used += (size_t)snprintf(
		    buf + used, len - used, "%s%s", used ? "," : "", id);
	}
}
