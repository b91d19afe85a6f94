/*
 * web_pages.c - the pages of the web interface (see web.h).
 *
 * Every page is drawn from the reply of an op run as the signed-in
 * person (web_op()), and every form posts to an op: the page decides
 * nothing.  Forms an op would refuse are left out by asking that op's own
 * question first (the approve form appears when "pending" lists the
 * request for this person; the opt-out and freeze forms when the person
 * holds the role those ops check), and the op still judges the post.
 * All text from a reply goes through html.c's escaping ("%s").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "duration.h"
#include "errors.h"
#include "web_int.h"

#define PAGE 50 /* requests on one page of "Waiting for me" */

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static long long
num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/*
 * Copy form field key into args: "for" (a duration as people write it,
 * "30m", "8h") as the seconds the ops take, anything else as text.
 * False, with msg, when a duration does not parse.
 */
static bool
put_arg(const struct wreq *q, json_t *args, const char *key, char *msg,
    size_t msglen)
{
	const char *v = web_field(q, key);
	int64_t secs;

	if (v == NULL)
		return true;
	if (strcmp(key, "for") != 0)
		return json_object_set_new(args, key, json_string(v)) == 0;
	if (duration_parse(v, &secs) != 0 || secs <= 0) {
		snprintf(msg, msglen,
		    "\"%.40s\" is not a duration (write it like 90s, 15m, "
		    "8h or 2d)",
		    v);
		return false;
	}
	return json_object_set_new(args, key, json_integer(secs)) == 0;
}

/* seconds as "2h", "15m" */
static const char *
dur(long long s, char *buf, size_t len)
{
	if (s <= 0)
		snprintf(buf, len, "0s");
	else
		duration_format((int64_t)s, buf, len);
	return buf;
}

/* Whether the person may search every audit record (audit.search's own
 * rule: auditors and policy admins); others read only their own through
 * `broker audit`, and get no Audit page. */
static bool
may_audit_all(const struct wreq *q)
{
	return web_has_role(q, ROLE_AUDITORS) ||
	    web_has_role(q, ROLE_POLICY_ADMINS);
}

void
web_page_begin(const struct wreq *q, struct html *h, const char *title)
{
	html_fmt(h,
	    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>%s · broker</title>"
	    "<link rel=\"stylesheet\" href=\"/static/broker.css\"></head>"
	    "<body><header><nav><a href=\"/\">Waiting for me</a>"
	    "<a href=\"/me\">My access</a><a href=\"/now\">Now</a>%R%R</nav>"
	    "<form method=\"post\" action=\"/logout\">"
	    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
	    "<span id=\"me\">%s</span><button id=\"signout\">Sign out</button>"
	    "</form></header><main><h1>%s</h1>",
	    title,
	    web_has_role(q, ROLE_REVIEWERS) ?
		"<a href=\"/review\" id=\"navreview\">Review</a>" :
		"",
	    may_audit_all(q) ? "<a href=\"/audit\" id=\"navaudit\">Audit</a>" :
			       "",
	    q->csrf, q->user, title);
}

void
web_page_end(struct html *h)
{
	html_raw(h, "</main></body></html>\n");
}

static void
csrf_field(const struct wreq *q, struct html *h)
{
	html_fmt(
	    h, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", q->csrf);
}

static void
error_box(struct html *h, const char *msg)
{
	if (msg != NULL && msg[0] != '\0')
		html_fmt(h, "<p class=\"error\" id=\"error\">%s</p>", msg);
}

/* A request's approvals as "carol, dave" */
static void
approvers_done(struct html *h, const json_t *approvals)
{
	const json_t *a;
	size_t i;

	json_array_foreach (approvals, i, a)
		html_fmt(h, "%R%s", i ? ", " : "",
		    json_is_string(a)	? json_string_value(a) :
			str(a, "by")[0] ? str(a, "by") :
					  str(a, "approver"));
}

/* Why a request needs a person: its decision, its opt-outs. */
static void
why_person(struct html *h, const json_t *r)
{
	const json_t *o;
	size_t i;

	html_fmt(h, "<div class=\"why\">%s", str(r, "decision"));
	json_array_foreach (json_object_get(r, "optouts"), i, o)
		html_fmt(h, "%R%s", i ? ", " : "; opted out by ",
		    json_is_string(o) ? json_string_value(o) : str(o, "id"));
	html_raw(h, "</div>");
}

/* ---- Waiting for me ------------------------------------------------------- */

static void
page_waiting(struct wreq *q, struct wresp *out)
{
	struct html *h = &out->body;
	const char *after = web_field(q, "after");
	json_t *res = NULL, *r;
	char msg[512], d1[32], d2[32];
	size_t i, n;
	int rc;

	rc = web_op(q, "pending",
	    after != NULL ?
		json_pack("{s:i, s:s}", "limit", PAGE, "after", after) :
		json_pack("{s:i}", "limit", PAGE),
	    &res, msg, sizeof(msg));
	web_page_begin(q, h, "Waiting for me");
	if (rc != 0) {
		out->status = web_status_of(rc);
		error_box(h, msg);
		goto out;
	}
	n = json_array_size(res);
	if (n == 0)
		html_raw(h, "<p id=\"none\">Nothing is waiting for you.</p>");
	json_array_foreach (res, i, r) {
		html_fmt(h,
		    "<div class=\"card pending\"><h3><a href=\"/r/%s\">%s</a>: "
		    "<b>%s</b> asks for %s as %s for %s</h3>",
		    str(r, "id"), str(r, "id"), str(r, "user"),
		    str(r, "resource"), str(r, "role"),
		    dur(num(r, "ttl_s"), d1, sizeof(d1)));
		html_fmt(h, "<p class=\"reason\">Why: %s</p>",
		    str(r, "reason")[0] ? str(r, "reason") : "(no reason)");
		why_person(h, r);
		html_fmt(h, "<p class=\"meta\">Approvals %lld of %lld",
		    num(json_object_get(r, "approval"), "approvals"),
		    num(json_object_get(r, "approval"), "quorum"));
		if (json_array_size(json_object_get(r, "approvals")) > 0) {
			html_raw(h, " (");
			approvers_done(h, json_object_get(r, "approvals"));
			html_raw(h, ")");
		}
		html_fmt(h, ", %lld more needed · waiting %s%R</p></div>",
		    num(r, "approvals_needed"),
		    dur(num(r, "age_s"), d2, sizeof(d2)),
		    json_is_true(json_object_get(r, "i_approved")) ?
			" · you approved" :
			"");
	}
	if (n == PAGE)
		html_fmt(h,
		    "<p><a id=\"next\" href=\"/?after=%s\">Older "
		    "first: next page</a></p>",
		    str(json_array_get(res, n - 1), "id"));
out:
	web_page_end(h);
	json_decref(res);
}

/* ---- A request ------------------------------------------------------------- */

/* Whether id is a request id ("r" and digits); *serial set. */
static bool
req_id_ok(const char *id, unsigned long long *serial)
{
	char *end = NULL;

	if (id[0] != 'r' || id[1] < '1' || id[1] > '9' || strlen(id) > 21)
		return false;
	*serial = strtoull(id + 1, &end, 10);
	return *end == '\0';
}

/* Whether "pending" lists id for this person (not yet approved by them):
 * the approve op's own eligibility, asked of the op. */
static bool
may_decide(struct wreq *q, const char *id, unsigned long long serial)
{
	json_t *res = NULL, *first;
	char after[32], msg[256];
	bool may = false;

	snprintf(after, sizeof(after), "r%llu", serial - 1);
	if (web_op(q, "pending",
		serial > 1 ?
		    json_pack("{s:i, s:s}", "limit", 1, "after", after) :
		    json_pack("{s:i}", "limit", 1),
		&res, msg, sizeof(msg)) == 0 &&
	    (first = json_array_get(res, 0)) != NULL)
		may = strcmp(str(first, "id"), id) == 0 &&
		    !json_is_true(json_object_get(first, "i_approved"));
	json_decref(res);
	return may;
}

static void
page_request(struct wreq *q, struct wresp *out, const char *id)
{
	struct html *h = &out->body;
	const char *action = web_field(q, "action");
	json_t *res = NULL, *e, *args;
	char msg[512] = "", smsg[512] = "", d1[32], title[64];
	unsigned long long serial = 0;
	int src;
	const char *state;
	size_t i;
	int rc = 0;

	if (!req_id_ok(id, &serial)) {
		out->status = 404;
		web_page_begin(q, h, "A request");
		error_box(h, "No such request.");
		web_page_end(h);
		return;
	}
	if (strcmp(q->method, "POST") == 0) {
		if (action == NULL ||
		    (strcmp(action, "approve") != 0 &&
			strcmp(action, "deny") != 0 &&
			strcmp(action, "cancel") != 0 &&
			strcmp(action, "revoke") != 0)) {
			rc = 400;
			snprintf(msg, sizeof(msg), "unknown action");
		} else if (web_field(q, "reason") == NULL &&
		    strcmp(action, "cancel") != 0) {
			rc = 400;
			snprintf(msg, sizeof(msg), "a reason is required");
		} else {
			args = json_pack("{s:s}", "id", id);
			if (!put_arg(q, args, "reason", msg, sizeof(msg)) ||
			    (strcmp(action, "approve") == 0 &&
				(!put_arg(q, args, "for", msg, sizeof(msg)) ||
				    !put_arg(
					q, args, "role", msg, sizeof(msg))))) {
				json_decref(args);
				rc = BRK_ERR_INVALID;
			} else
				rc = web_op(
				    q, action, args, &res, msg, sizeof(msg));
			json_decref(res);
			res = NULL;
			if (rc == 0) { /* post, redirect, get */
				snprintf(out->location, sizeof(out->location),
				    "/r/%s", id);
				html_raw(h, "done\n");
				return;
			}
			rc = (int)web_status_of(rc);
		}
	}
	snprintf(title, sizeof(title), "Request %s", id);
	if ((src = web_op(q, "show", json_pack("{s:s}", "id", id), &res, smsg,
		 sizeof(smsg))) != 0) {
		out->status = web_status_of(src);
		web_page_begin(q, h, title);
		error_box(h, smsg);
		web_page_end(h);
		return;
	}
	if (rc != 0)
		out->status = (unsigned int)rc;
	state = str(res, "state");
	web_page_begin(q, h, title);
	error_box(h, msg);
	html_fmt(h,
	    "<div class=\"card\"><h3><b>%s</b> asks for %s as %s</h3>"
	    "<p>State: <b id=\"state\">%s</b> · for %s",
	    str(res, "user"), str(res, "resource"), str(res, "role"), state,
	    dur(num(res, "ttl_s"), d1, sizeof(d1)));
	if (str(res, "expires_at")[0])
		html_fmt(h, " · until %s", str(res, "expires_at"));
	html_fmt(h,
	    "</p><p class=\"reason\">Why: <span id=\"reason\">%s</span>"
	    "%R%s</p>",
	    str(res, "reason"), str(res, "ticket")[0] ? " · ticket " : "",
	    str(res, "ticket"));
	if (strcmp(state, "pending") == 0) {
		why_person(h, res);
		html_fmt(h, "<p class=\"meta\">Approvals so far: ");
		approvers_done(h, json_object_get(res, "approvals"));
		html_fmt(h, " · %lld more needed · waits until %s</p>",
		    num(res, "approvals_needed"), str(res, "pending_until"));
	}
	html_raw(h, "</div>");
	if (strcmp(state, "pending") == 0 && may_decide(q, id, serial)) {
		html_fmt(h,
		    "<h2>Your decision</h2><form method=\"post\" "
		    "class=\"act\" id=\"decide\" action=\"/r/%s\">",
		    id);
		csrf_field(q, h);
		html_fmt(h,
		    "<label>Reason (required) <textarea name=\"reason\" "
		    "id=\"dreason\" required maxlength=\"1000\"></textarea>"
		    "</label><label>Shorten to (optional, e.g. 30m; never "
		    "longer than %s) <input name=\"for\" id=\"dfor\"></label>"
		    "<label>Role (the one asked for; approving never widens it) "
		    "<select name=\"role\" id=\"drole\">"
		    "<option value=\"%s\" selected>%s</option></select></label>"
		    "<div><button name=\"action\" value=\"approve\" "
		    "id=\"approve\">Approve</button><button class=\"deny\" "
		    "name=\"action\" value=\"deny\" id=\"deny\">Deny</button>"
		    "</div></form>",
		    dur(num(res, "ttl_s"), d1, sizeof(d1)), str(res, "role"),
		    str(res, "role"));
	}
	if (strcmp(str(res, "user"), q->user) == 0 &&
	    (strcmp(state, "pending") == 0 || strcmp(state, "active") == 0)) {
		html_fmt(h,
		    "<form method=\"post\" class=\"act\" id=\"end\" "
		    "action=\"/r/%s\">",
		    id);
		csrf_field(q, h);
		if (strcmp(state, "pending") == 0)
			html_raw(h,
			    "<input type=\"hidden\" name=\"action\" "
			    "value=\"cancel\"><button class=\"plain\" "
			    "id=\"cancel\">Cancel my request</button>");
		else
			html_raw(h,
			    "<input type=\"hidden\" name=\"action\" "
			    "value=\"revoke\"><label>Reason <input "
			    "name=\"reason\" required></label><button "
			    "class=\"plain\" id=\"revoke\">End my access "
			    "now</button>");
		html_raw(h, "</form>");
	}
	html_raw(h,
	    "<h2>Timeline</h2><table class=\"tl\" id=\"timeline\">"
	    "<tr><th>When</th><th>What</th><th>Who</th><th>Why</th></tr>");
	json_array_foreach (json_object_get(res, "timeline"), i, e)
		html_fmt(h,
		    "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
		    str(e, "ts"), str(e, "action"), str(e, "actor"),
		    str(e, "reason"));
	html_raw(h, "</table>");
	web_page_end(h);
	json_decref(res);
}

/* ---- My access ------------------------------------------------------------ */

static void
request_form(struct wreq *q, struct html *h)
{
	static const char *const f[][3] = {
		{ "resource", "Resource (e.g. host:web-1)", "required" },
		{ "role", "Role / login (optional)", "" },
		{ "for", "For (e.g. 1h)", "" },
		{ "reason", "Reason", "" },
		{ "ticket", "Ticket (optional)", "" },
	};
	size_t i;

	html_raw(h,
	    "<h2>Ask for access</h2><form method=\"post\" "
	    "action=\"/me\" class=\"act\" id=\"ask\">");
	csrf_field(q, h);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		html_fmt(h,
		    "<label>%R <input name=\"%R\" id=\"q%R\" value=\"%s\" "
		    "%R></label>",
		    f[i][1], f[i][0], f[i][0], web_field(q, f[i][0]), f[i][2]);
	html_raw(h,
	    "<div><button name=\"action\" value=\"explain\" "
	    "class=\"plain\" id=\"explain\">What would I get?</button>"
	    "<button name=\"action\" value=\"request\" id=\"request\">"
	    "Request</button></div></form>");
}

static void
page_me(struct wreq *q, struct wresp *out)
{
	struct html *h = &out->body;
	const char *action = web_field(q, "action");
	json_t *res = NULL, *ex = NULL, *args, *r;
	char msg[512] = "", d1[32];
	size_t i;
	int rc;

	if (strcmp(q->method, "POST") == 0 && action != NULL &&
	    (strcmp(action, "explain") == 0 ||
		strcmp(action, "request") == 0)) {
		bool req = strcmp(action, "request") == 0;
		static const char *const keys[] = { "role", "for", "reason",
			"ticket" };

		args = json_pack("{s:s}", "resource",
		    web_field(q, "resource") ? web_field(q, "resource") : "");
		if (!req)
			json_object_set_new(args, "user", json_string(q->user));
		rc = 0;
		for (i = 0; i < (req ? 4u : 2u); i++)
			if (!put_arg(q, args, keys[i], msg, sizeof(msg)))
				rc = BRK_ERR_INVALID;
		if (rc == 0)
			rc = web_op(q, req ? "request" : "policy.explain", args,
			    &ex, msg, sizeof(msg));
		else
			json_decref(args);
		if (rc == 0 && req && str(ex, "id")[0]) {
			snprintf(out->location, sizeof(out->location), "/r/%s",
			    str(ex, "id"));
			html_raw(h, "done\n");
			json_decref(ex);
			return;
		}
		if (rc != 0)
			out->status = web_status_of(rc);
	} else if (strcmp(q->method, "POST") == 0) {
		out->status = 400;
		snprintf(msg, sizeof(msg), "unknown action");
	}
	web_page_begin(q, h, "My access");
	error_box(h, msg);
	if (ex != NULL) {
		html_fmt(h,
		    "<div class=\"card\" id=\"answer\"><h3>You would get: "
		    "%s</h3><p>%s</p>",
		    str(ex, "effective_outcome")[0] ?
			str(ex, "effective_outcome") :
			str(ex, "outcome"),
		    str(ex, "reason"));
		if (json_object_get(ex, "approvers") != NULL) {
			json_t *g;

			html_fmt(h,
			    "<p class=\"meta\">Approvers: %lld of groups ",
			    num(json_object_get(ex, "approvers"), "quorum"));
			json_array_foreach (
			    json_object_get(
				json_object_get(ex, "approvers"), "groups"),
			    i, g)
				html_fmt(h, "%R%s", i ? ", " : "",
				    json_string_value(g));
			html_raw(h, "</p>");
		}
		html_raw(h, "</div>");
	}
	request_form(q, h);
	rc = web_op(q, "list", json_object(), &res, msg, sizeof(msg));
	html_raw(h, "<h2>My requests and grants</h2>");
	if (rc != 0)
		error_box(h, msg);
	else if (json_array_size(res) == 0)
		html_raw(h, "<p>None yet.</p>");
	else {
		html_raw(h,
		    "<table id=\"mine\"><tr><th>Id</th><th>What</th>"
		    "<th>State</th><th>For</th><th>Until</th></tr>");
		json_array_foreach (res, i, r)
			html_fmt(h,
			    "<tr><td><a href=\"/r/%s\">%s</a></td><td>%s as "
			    "%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
			    str(r, "id"), str(r, "id"), str(r, "resource"),
			    str(r, "role"), str(r, "state"),
			    dur(num(r, "ttl_s"), d1, sizeof(d1)),
			    str(r, "expires_at")[0] ? str(r, "expires_at") :
						      str(r, "pending_until"));
		html_raw(h, "</table>");
	}
	web_page_end(h);
	json_decref(res);
	json_decref(ex);
}

/* ---- Now ------------------------------------------------------------------ */

static int
now_post(struct wreq *q, char *msg, size_t msglen)
{
	static const char *const add_keys[] = { "scope", "tag", "reason", "for",
		"mode", "incident" };
	const char *action = web_field(q, "action");
	const char *op = NULL;
	json_t *args = json_object(), *res = NULL;
	size_t i, n = 0;
	int rc;

	if (action == NULL)
		action = "";
	if (strcmp(action, "optout.add") == 0 ||
	    strcmp(action, "freeze") == 0) {
		op = action;
		n = strcmp(action, "freeze") == 0 ? 0 : 6;
		for (i = 0; i < n; i++)
			if (!put_arg(q, args, add_keys[i], msg, msglen))
				goto bad;
		if (n == 0 &&
		    (!put_arg(q, args, "reason", msg, msglen) ||
			!put_arg(q, args, "for", msg, msglen)))
			goto bad;
	} else if (strcmp(action, "optout.extend") == 0 ||
	    strcmp(action, "optout.remove") == 0 ||
	    strcmp(action, "unfreeze") == 0) {
		op = action;
		for (i = 0; i < 3; i++) {
			const char *k = i == 0 ? "id" :
			    i == 1	       ? "reason" :
						 "for";

			if ((i < 2 || strcmp(action, "optout.extend") == 0) &&
			    !put_arg(q, args, k, msg, msglen))
				goto bad;
		}
	}
	if (op == NULL) {
		json_decref(args);
		snprintf(msg, msglen, "unknown action");
		return 400;
	}
	rc = web_op(q, op, args, &res, msg, msglen);
	json_decref(res);
	return rc == 0 ? 0 : (int)web_status_of(rc);
bad:
	json_decref(args);
	return 400;
}

static void
page_now(struct wreq *q, struct wresp *out)
{
	struct html *h = &out->body;
	json_t *st = NULL, *ol = NULL, *o, *fr;
	char msg[512] = "", d1[32];
	size_t i, hour[3];
	bool mgr, admin;
	int rc;

	if (strcmp(q->method, "POST") == 0) {
		if ((rc = now_post(q, msg, sizeof(msg))) == 0) {
			snprintf(out->location, sizeof(out->location), "/now");
			html_raw(h, "done\n");
			return;
		}
		out->status = (unsigned int)rc;
	}
	web_page_begin(q, h, "Now");
	error_box(h, msg);
	if ((rc = web_op(q, "status", json_object(), &st, msg, sizeof(msg))) !=
	    0) {
		error_box(h, msg);
		goto out;
	}
	fr = json_object_get(st, "freeze");
	if (json_is_object(fr))
		html_fmt(h,
		    "<p class=\"error\" id=\"freeze\">Frozen by %s: %s (until "
		    "%s)</p>",
		    str(fr, "by"), str(fr, "reason"), str(fr, "until"));
	else
		html_raw(h,
		    "<p class=\"notice\" id=\"freeze\">Not frozen: "
		    "automation decides what policy allows.</p>");
	html_fmt(h,
	    "<p class=\"meta\">Active grants %lld · pending %lld · opt-outs "
	    "%lld · flags %lld</p>",
	    num(json_object_get(st, "counts"), "active"),
	    num(json_object_get(st, "counts"), "pending"),
	    num(json_object_get(st, "counts"), "optouts"),
	    num(json_object_get(st, "counts"), "flags"));
	if (web_last_hour(q, hour) == 0)
		html_fmt(h,
		    "<p id=\"hour\">In the last hour: <b>%zu%R</b> granted "
		    "automatically · <b>%zu%R</b> sent to a person · "
		    "<b>%zu%R</b> approved by people</p>",
		    hour[0], hour[0] >= WEB_COUNT_MAX ? "+" : "", hour[1],
		    hour[1] >= WEB_COUNT_MAX ? "+" : "", hour[2],
		    hour[2] >= WEB_COUNT_MAX ? "+" : "");
	mgr = web_has_role(q, ROLE_OPTOUT_MANAGERS);
	admin = web_has_role(q, ROLE_POLICY_ADMINS);
	html_raw(h, "<h2>Opt-outs in force</h2>");
	if (web_op(q, "optout.list", json_object(), &ol, msg, sizeof(msg)) != 0)
		error_box(h, msg);
	else if (json_array_size(ol) == 0)
		html_raw(h,
		    "<p>None: automation runs everywhere policy lets "
		    "it.</p>");
	json_array_foreach (ol, i, o) {
		html_fmt(h,
		    "<div class=\"card\"><h3>%s %s [%s] %s</h3><p>%s · by %s · "
		    "%s left</p>",
		    str(o, "id"), str(o, "scope"), str(o, "tag"),
		    str(o, "mode"), str(o, "reason"), str(o, "by"),
		    dur(num(o, "left_s"), d1, sizeof(d1)));
		if (mgr) {
			html_fmt(h,
			    "<form method=\"post\" action=\"/now\" "
			    "class=\"act\"><input type=\"hidden\" "
			    "name=\"id\" value=\"%s\">",
			    str(o, "id"));
			csrf_field(q, h);
			html_raw(h,
			    "<input name=\"reason\" placeholder=\"reason\" "
			    "required><input name=\"for\" placeholder=\"extend "
			    "by, e.g. 1h\"><div><button name=\"action\" "
			    "value=\"optout.extend\">Extend</button><button "
			    "class=\"deny\" name=\"action\" "
			    "value=\"optout.remove\">Remove</button></div>"
			    "</form>");
		}
		html_raw(h, "</div>");
	}
	html_raw(h, "<h2>Flags</h2>");
	if (json_array_size(json_object_get(st, "flags")) == 0)
		html_raw(h, "<p>No one is flagged.</p>");
	json_array_foreach (json_object_get(st, "flags"), i, o)
		html_fmt(h, "<div class=\"card\">%s (%s): %s · %s left</div>",
		    str(o, "user"), str(o, "severity"), str(o, "reason"),
		    dur(num(o, "left_s"), d1, sizeof(d1)));
	if (mgr) {
		html_raw(h,
		    "<h2>Take something out of automation</h2>"
		    "<form method=\"post\" action=\"/now\" class=\"act\" "
		    "id=\"optout\">");
		csrf_field(q, h);
		html_raw(h,
		    "<label>Scope (global, resource:P, label:K=V, user:U, "
		    "group:G, rule:ID, request:ID) <input name=\"scope\" "
		    "required></label><label>Tag <input name=\"tag\" "
		    "required></label><label>Reason <input name=\"reason\" "
		    "required></label><label>For <input name=\"for\" "
		    "required placeholder=\"1h\"></label><label>Mode <select "
		    "name=\"mode\"><option>manual</option><option>block"
		    "</option></select></label><button name=\"action\" "
		    "value=\"optout.add\">Add opt-out</button></form>");
	}
	if (admin) {
		html_raw(h,
		    "<h2>Global freeze</h2><form method=\"post\" "
		    "action=\"/now\" class=\"act\" id=\"freezeform\">");
		csrf_field(q, h);
		html_fmt(h,
		    "<label>Reason <input name=\"reason\" required></label>"
		    "%R<button class=\"deny\" name=\"action\" value=\"%R\">"
		    "%R</button></form>",
		    json_is_object(fr) ? "" :
					 "<label>For <input name=\"for\" "
					 "placeholder=\"1h\"></label>",
		    json_is_object(fr) ? "unfreeze" : "freeze",
		    json_is_object(fr) ? "Unfreeze" : "Freeze");
	}
out:
	web_page_end(h);
	json_decref(st);
	json_decref(ol);
}

/* ---- Review and Audit ---------------------------------------------------- */

static void
page_review(struct wreq *q, struct wresp *out)
{
	struct html *h = &out->body;
	json_t *res = NULL, *r;
	char msg[512] = "";
	size_t i;
	int rc;

	if (strcmp(q->method, "POST") == 0) {
		rc = web_op(q, "review.ack",
		    json_pack("{s:s, s:s}", "id",
			web_field(q, "id") ? web_field(q, "id") : "", "note",
			web_field(q, "note") ? web_field(q, "note") : ""),
		    &res, msg, sizeof(msg));
		json_decref(res);
		res = NULL;
		if (rc == 0) {
			snprintf(
			    out->location, sizeof(out->location), "/review");
			html_raw(h, "done\n");
			return;
		}
		out->status = web_status_of(rc);
	}
	web_page_begin(q, h, "Review");
	error_box(h, msg);
	if ((rc = web_op(q, "review.list", json_object(), &res, msg,
		 sizeof(msg))) != 0) {
		if (out->status == 200)
			out->status = web_status_of(rc);
		error_box(h, msg);
	} else if (json_array_size(res) == 0)
		html_raw(h, "<p>Nothing to review.</p>");
	json_array_foreach (res, i, r) {
		html_fmt(h,
		    "<div class=\"card\"><h3><a href=\"/r/%s\">%s</a> %s on "
		    "%s</h3><p>%s</p><form method=\"post\" action=\"/review\" "
		    "class=\"act\" id=\"ack-%s\"><input type=\"hidden\" "
		    "name=\"id\" value=\"%s\">",
		    str(r, "id"), str(r, "id"), str(r, "user"),
		    str(r, "resource"), str(r, "reason"), str(r, "id"),
		    str(r, "id"));
		csrf_field(q, h);
		html_raw(h,
		    "<input name=\"note\" placeholder=\"note\" "
		    "required><button>Acknowledge</button></form></div>");
	}
	web_page_end(h);
	json_decref(res);
}

static void
page_audit(struct wreq *q, struct wresp *out)
{
	static const char *const keys[] = { "user", "resource", "action",
		"request", "since" };
	struct html *h = &out->body;
	json_t *res = NULL, *args, *e, *list;
	char msg[512] = "";
	size_t i;
	int rc;

	web_page_begin(q, h, "Audit");
	if (!may_audit_all(q)) {
		out->status = 403;
		error_box(h,
		    "The audit search is for auditors and policy admins "
		    "(`broker audit` shows you your own records).");
		web_page_end(h);
		return;
	}
	html_raw(h,
	    "<form method=\"post\" action=\"/audit\" class=\"act\" "
	    "id=\"search\">");
	csrf_field(q, h);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		html_fmt(h,
		    "<label>%R <input name=\"%R\" value=\"%s\"></label>",
		    keys[i], keys[i], web_field(q, keys[i]));
	html_raw(h, "<button>Search</button></form>");
	if (strcmp(q->method, "POST") == 0) {
		args = json_object();
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (web_field(q, keys[i]) != NULL)
				json_object_set_new(args, keys[i],
				    json_string(web_field(q, keys[i])));
		if ((rc = web_op(q, "audit.search", args, &res, msg,
			 sizeof(msg))) != 0) {
			out->status = web_status_of(rc);
			error_box(h, msg);
		} else {
			list = json_is_array(res) ?
			    res :
			    json_object_get(res, "records");
			html_raw(h,
			    "<table id=\"records\"><tr><th>When</th>"
			    "<th>What</th><th>Who</th><th>On</th>"
			    "<th>Why</th></tr>");
			json_array_foreach (list, i, e)
				html_fmt(h,
				    "<tr><td>%s</td><td>%s</td><td>%s</td>"
				    "<td>%s %s</td><td>%s</td></tr>",
				    str(e, "ts"), str(e, "action"),
				    str(e, "actor"), str(e, "target"),
				    str(e, "resource"), str(e, "reason"));
			html_raw(h, "</table>");
		}
	}
	web_page_end(h);
	json_decref(res);
}

bool
web_pages_route(struct wreq *q, struct wresp *out)
{
	if (strcmp(q->path, "/") == 0 && strcmp(q->method, "GET") == 0)
		page_waiting(q, out);
	else if (strncmp(q->path, "/r/", 3) == 0)
		page_request(q, out, q->path + 3);
	else if (strcmp(q->path, "/me") == 0)
		page_me(q, out);
	else if (strcmp(q->path, "/now") == 0)
		page_now(q, out);
	else if (strcmp(q->path, "/review") == 0)
		page_review(q, out);
	else if (strcmp(q->path, "/audit") == 0)
		page_audit(q, out);
	else
		return false;
	return true;
}
