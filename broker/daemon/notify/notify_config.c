/*
 * notify_config.c - the config's "notify" section, parsed strictly.
 *
 *   "notify": {
 *     "exec":    { "command": ["/path/prog", "arg"], "timeout": 5,
 *                  "concurrency": 4, "queue": 1000 },
 *     "webhook": { "url": "https://...", "timeout": 5, "retries": 3,
 *                  "queue": 1000, "ca": "/path/ca.pem",
 *                  "header_file": "/path/0600-file" },
 *     "events":  ["request.*", "breakglass.used"],
 *     "link": "https://broker.example.com/r/{id}",
 *     "remind_after": "15m", "remind_every": "1h"
 *   }
 *
 * Everything that can be checked at start-up is: the program is an
 * absolute path we may execute, the URL is https (http only to loopback),
 * the header file is ours and private.  The header is a secret (a bearer
 * token, say): it is kept in memory only, never logged, wiped on free.
 */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "duration.h"
#include "fileio.h"
#include "notify_sink.h"

#define HEADER_MAX 8192
#define ARGV_MAX 64

static int
bad(struct brk_error *err, const char *what, const char *key)
{
	return brk_error_set(
	    err, BRK_ERR_INVALID, "config: notify.%s %s", key, what);
}

static int
parse_command(json_t *v, struct notify_exec_config *e, struct brk_error *err)
{
	json_t *a;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > ARGV_MAX)
		return bad(err,
		    "must be a list of 1 to 64 strings: the program "
		    "and its arguments",
		    "exec.command");
	if ((e->argv = calloc(json_array_size(v) + 1, sizeof(char *))) == NULL)
		return BRK_ERR_NOMEM;
	json_array_foreach (v, i, a) {
		if (!json_is_string(a) || json_string_length(a) > 4096 ||
		    strlen(json_string_value(a)) != json_string_length(a))
			return bad(err, "holds strings only", "exec.command");
		if ((e->argv[i] = strdup(json_string_value(a))) == NULL)
			return BRK_ERR_NOMEM;
	}
	if (e->argv[0] == NULL || e->argv[0][0] != '/')
		return bad(err,
		    "must start with an absolute path (no shell, no "
		    "PATH search)",
		    "exec.command");
	if (access(e->argv[0], X_OK) != 0)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: notify.exec"
		    ".command: %.200s: %s",
		    e->argv[0], strerror(errno));
	return 0;
}

static int
parse_exec(json_t *obj, struct notify_exec_config **out, struct brk_error *err)
{
	struct notify_exec_config *e;
	const char *key;
	json_t *v;
	int r = 0;

	if (!json_is_object(obj))
		return bad(err, "must be an object", "exec");
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return BRK_ERR_NOMEM;
	*out = e; /* freed with the section on failure */
	e->timeout = 5;
	e->concurrency = 4;
	e->queue = 1000;
	json_object_foreach (obj, key, v) {
		if (strcmp(key, "command") == 0)
			r = parse_command(v, e, err);
		else if (strcmp(key, "timeout") == 0)
			r = config_get_int("notify", v, "exec.timeout", 1, 3600,
			    &e->timeout, err);
		else if (strcmp(key, "concurrency") == 0)
			r = config_get_int("notify", v, "exec.concurrency", 1,
			    64, &e->concurrency, err);
		else if (strcmp(key, "queue") == 0)
			r = config_get_int("notify", v, "exec.queue", 1,
			    1000000, &e->queue, err);
		else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "notify.exec: unknown key \"%.64s\"",
			    key);
		if (r != 0)
			return r;
	}
	if (e->argv == NULL)
		return bad(err, "is required", "exec.command");
	return 0;
}

static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < ' ' && *s != '\t') || *s == 127)
			return true;
	return false;
}

/* A header line "Name: value" from a private file of ours. */
static int
read_header(const char *path, char **out, struct brk_error *err)
{
	char *buf = NULL;
	size_t raw = 0, len, i;
	int r;

	/* Two bytes over for a line end, so a longer file is "too large". */
	if ((r = file_read_checked(path, "config: notify.webhook.header_file",
		 FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE, HEADER_MAX + 2, &buf,
		 &raw, err)) != 0)
		goto out;
	len = raw;
	r = BRK_ERR_INVALID;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0 || len > HEADER_MAX) {
		brk_error_set(err, r,
		    "config: notify.webhook.header_file "
		    "must hold one header line of at most %d bytes",
		    HEADER_MAX);
		goto out;
	}
	buf[len] = '\0';
	for (i = 0; i < len && buf[i] != ':'; i++)
		if (buf[i] <= ' ' || buf[i] >= 127)
			break;
	if (i == 0 || i == len || buf[i] != ':' || strlen(buf) != len ||
	    has_ctl(buf)) {
		brk_error_set(err, r,
		    "config: notify.webhook.header_file must "
		    "hold one line \"Name: value\"");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((*out = strdup(buf)) == NULL)
		goto out;
	r = 0;
out:
	file_free_secret(buf, raw);
	return r;
}

static int
parse_webhook(
    json_t *obj, struct notify_webhook_config **out, struct brk_error *err)
{
	struct notify_webhook_config *w;
	const char *key;
	char *hfile = NULL;
	json_t *v;
	int r = 0;

	if (!json_is_object(obj))
		return bad(err, "must be an object", "webhook");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return BRK_ERR_NOMEM;
	*out = w;
	w->timeout = 5;
	w->retries = 3;
	w->queue = 1000;
	json_object_foreach (obj, key, v) {
		if (strcmp(key, "url") == 0)
			r = config_get_str(
			    "notify", v, "webhook.url", &w->url, err);
		else if (strcmp(key, "ca") == 0)
			r = config_get_str(
			    "notify", v, "webhook.ca", &w->ca, err);
		else if (strcmp(key, "header_file") == 0)
			r = config_get_str(
			    "notify", v, "webhook.header_file", &hfile, err);
		else if (strcmp(key, "timeout") == 0)
			r = config_get_int("notify", v, "webhook.timeout", 1,
			    300, &w->timeout, err);
		else if (strcmp(key, "retries") == 0)
			r = config_get_int("notify", v, "webhook.retries", 0,
			    20, &w->retries, err);
		else if (strcmp(key, "queue") == 0)
			r = config_get_int("notify", v, "webhook.queue", 1,
			    1000000, &w->queue, err);
		else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "notify.webhook: unknown key \"%.64s\"",
			    key);
		if (r != 0)
			goto out;
	}
	if (w->url == NULL) {
		r = bad(err, "is required", "webhook.url");
		goto out;
	}
	if ((r = nsink_webhook_url_ok(w->url, err)) != 0)
		goto out;
	if (w->ca != NULL && access(w->ca, R_OK) != 0) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "config: notify.webhook"
		    ".ca %.200s: %s",
		    w->ca, strerror(errno));
		goto out;
	}
	if (hfile != NULL)
		r = read_header(hfile, &w->header, err);
out:
	free(hfile);
	return r;
}

static bool
glob_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 &&
	    strspn(s,
		"abcdefghijklmnopqrstuvwxyz"
		"0123456789._-*?") == n;
}

static int
parse_events(json_t *v, struct notify_config *c, struct brk_error *err)
{
	json_t *g;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > 256)
		return bad(err,
		    "must be a list of event globs like "
		    "\"request.*\"",
		    "events");
	if ((c->events = calloc(json_array_size(v), sizeof(char *))) == NULL)
		return BRK_ERR_NOMEM;
	json_array_foreach (v, i, g) {
		if (!json_is_string(g) || !glob_ok(json_string_value(g)))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "notify.events[%zu] must be a glob of event names "
			    "(a-z 0-9 . _ - * ?)",
			    i);
		if ((c->events[c->nevents++] = strdup(json_string_value(g))) ==
		    NULL)
			return BRK_ERR_NOMEM;
	}
	return 0;
}

/* "link": a URL template naming the request with {id}, printable ASCII
 * (it lands in mails and chat messages as it stands). */
static int
parse_link(json_t *v, char **out, struct brk_error *err)
{
	const char *s = json_string_value(v);
	size_t i;

	if (s == NULL || json_string_length(v) > 1024 ||
	    strstr(s, "{id}") == NULL)
		return bad(err,
		    "must be a URL template with {id}, e.g. "
		    "\"https://broker.example.com/r/{id}\"",
		    "link");
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return bad(err,
			    "must be printable ASCII without "
			    "spaces",
			    "link");
	return (*out = strdup(s)) != NULL ? 0 : BRK_ERR_NOMEM;
}

/* A duration: "15m" or seconds; zero only where it turns a thing off. */
static int
parse_secs(json_t *v, const char *key, bool zero_ok, int64_t *out,
    struct brk_error *err)
{
	int64_t d = -1;

	if (json_is_integer(v))
		d = json_integer_value(v);
	else if (json_is_string(v) &&
	    duration_parse(json_string_value(v), &d) != 0)
		d = -1;
	if (d < (zero_ok ? 0 : 1) || d > DURATION_MAX)
		return bad(err,
		    zero_ok ? "must be a duration like \"15m\" "
			      "(0: never)" :
			      "must be a duration like \"1h\"",
		    key);
	*out = d;
	return 0;
}

int
notify_config_parse(
    json_t *section, struct notify_config **out, struct brk_error *err)
{
	struct notify_config *c = NULL;
	const char *key;
	json_t *v;
	int r = BRK_ERR_INVALID;

	*out = NULL;
	if (!json_is_object(section)) {
		brk_error_set(err, r, "config: \"notify\" must be an object");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	c->remind_after = 15 * 60;
	c->remind_every = 3600;
	json_object_foreach (section, key, v) {
		if (strcmp(key, "exec") == 0 && c->exec == NULL)
			r = parse_exec(v, &c->exec, err);
		else if (strcmp(key, "webhook") == 0 && c->webhook == NULL)
			r = parse_webhook(v, &c->webhook, err);
		else if (strcmp(key, "events") == 0 && c->events == NULL)
			r = parse_events(v, c, err);
		else if (strcmp(key, "link") == 0 && c->link == NULL)
			r = parse_link(v, &c->link, err);
		else if (strcmp(key, "remind_after") == 0)
			r = parse_secs(
			    v, "remind_after", true, &c->remind_after, err);
		else if (strcmp(key, "remind_every") == 0)
			r = parse_secs(
			    v, "remind_every", false, &c->remind_every, err);
		else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: notify: "
			    "unknown key \"%.64s\"",
			    key);
		if (r != 0)
			goto out;
	}
	r = BRK_ERR_INVALID;
	if (c->exec == NULL && c->webhook == NULL) {
		brk_error_set(err, r,
		    "config: \"notify\" needs \"exec\" or "
		    "\"webhook\"");
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	notify_config_free(c);
	return r;
}

void
notify_config_free(struct notify_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->exec != NULL) {
		for (i = 0; c->exec->argv != NULL && c->exec->argv[i]; i++)
			free(c->exec->argv[i]);
		free(c->exec->argv);
		free(c->exec);
	}
	if (c->webhook != NULL) {
		free(c->webhook->url);
		free(c->webhook->ca);
		if (c->webhook->header != NULL)
			OPENSSL_clear_free(
			    c->webhook->header, strlen(c->webhook->header));
		free(c->webhook);
	}
	for (i = 0; i < c->nevents; i++)
		free(c->events[i]);
	free(c->events);
	free(c->link);
	free(c);
}
