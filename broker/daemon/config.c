/*
 * config.c - reading brokerd's JSON configuration, strictly.
 *
 * Sections owned by a capability (tls, ldap, notify, metrics_listen) are
 * parsed by that capability's own file; a section not yet implemented is
 * refused by name, so that a config never seems to enable something that
 * is not there.  This file sits at the top of the daemon, beside main.c,
 * because it knows every section; the typed readers those sections use
 * live below all of them, in core/confread.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "credkind_exec.h"
#include "duration.h"
#include "fileio.h"
#include "identity_ldap.h"
#include "log.h"
#include "metrics_http.h"
#include "names.h"
#include "notify.h"
#include "pgrole.h"
#include "tls.h"
#include "login.h"
#include "web.h"

extern const char dev_policy_json[]; /* generated from policy/examples */
extern const char dev_groups_json[];

static int
parse_mode(json_t *v, mode_t *out, struct brk_error *err)
{
	const char *s = json_string_value(v);
	char *end;
	long m;

	if (s == NULL || strlen(s) != 4 || s[0] != '0')
		goto bad;
	m = strtol(s, &end, 8);
	if (*end != '\0' || m < 0 || m > 0777)
		goto bad;
	*out = (mode_t)m;
	return 0;
bad:
	return brk_error_set(err, BRK_ERR_INVALID,
	    "config: \"socket_mode\" must be an octal string like \"0666\"");
}

static int
add_delegate(struct config *c, json_t *v, struct brk_error *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	uid_t uid;
	uid_t *nd;

	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) < 4294967295LL)
		uid = (uid_t)json_integer_value(v);
	else if (json_is_string(v) && name_user_valid(json_string_value(v))) {
		if (getpwnam_r(json_string_value(v), &pw, buf, sizeof(buf),
			&res) != 0 ||
		    res == NULL)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: delegate \"%s\" is not a known user",
			    json_string_value(v));
		uid = res->pw_uid;
	} else
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: \"delegates\" holds user names or uids");
	nd = realloc(c->delegates, (c->ndelegates + 1) * sizeof(*nd));
	if (nd == NULL)
		return BRK_ERR_NOMEM;
	c->delegates = nd;
	c->delegates[c->ndelegates++] = uid;
	return 0;
}

static int
parse_groups(struct config *c, json_t *obj, struct brk_error *err)
{
	const char *gname;
	json_t *users, *u;
	struct local_group *g;
	size_t i;

	if (!json_is_object(obj))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: \"local_groups\" maps group names to user lists");
	c->groups = calloc(json_object_size(obj) + 1, sizeof(*c->groups));
	if (c->groups == NULL)
		return BRK_ERR_NOMEM;
	json_object_foreach (obj, gname, users) {
		if (!name_group_valid(gname) || !json_is_array(users))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: local_groups.%.64s: bad group name or "
			    "not a list",
			    gname);
		g = &c->groups[c->ngroups++];
		g->name = strdup(gname);
		g->users = calloc(json_array_size(users) + 1, sizeof(char *));
		if (g->name == NULL || g->users == NULL)
			return BRK_ERR_NOMEM;
		json_array_foreach (users, i, u) {
			if (!json_is_string(u) ||
			    !name_user_valid(json_string_value(u)))
				return brk_error_set(err, BRK_ERR_INVALID,
				    "config: local_groups.%s[%zu] is not a "
				    "valid user name",
				    gname, i);
			if ((g->users[g->nusers++] = strdup(
				 json_string_value(u))) == NULL)
				return BRK_ERR_NOMEM;
		}
	}
	return 0;
}

/* "hosts": { "cert_ttl": DUR, "token_max": DUR, "token_retention": DUR },
 * each optional. */
static int
parse_hosts(struct config *c, json_t *v, struct brk_error *err)
{
	const struct {
		const char *key, *lo, *hi;
		int64_t min, max;
		int64_t *dst;
	} keys[] = {
		{ "cert_ttl", "1h", "365d", 3600, 365 * 86400LL,
		    &c->host_cert_ttl },
		{ "token_max", "1m", "30d", 60, 30 * 86400LL,
		    &c->host_token_max },
		/* down to 1s so that a test can watch the purge */
		{ "token_retention", "1s", "365d", 1, 365 * 86400LL,
		    &c->host_token_retention },
	};
	const char *key;
	json_t *e;
	int64_t n;
	size_t i;

	if (!json_is_object(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: \"hosts\" must be an object");
	json_object_foreach (v, key, e) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(key, keys[i].key) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0]))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: hosts: unknown key \"%.64s\"", key);
		if (!json_is_string(e) ||
		    duration_parse(json_string_value(e), &n) != 0 ||
		    n < keys[i].min || n > keys[i].max)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: hosts.%s must be a duration from %s to %s",
			    key, keys[i].lo, keys[i].hi);
		*keys[i].dst = n;
	}
	return 0;
}

/* "store": which backend keeps the durable state (store.h). */
static int
parse_store(struct config *c, json_t *v, struct brk_error *err)
{
	const char *k, *b;
	int64_t n = 0;
	json_t *x;
	int r;

	if (!json_is_object(v))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: \"store\" must be an object");
	json_object_foreach (v, k, x) {
		if (strcmp(k, "backend") == 0) {
			b = json_string_value(x);
			if (b == NULL ||
			    (strcmp(b, "lmdb") != 0 &&
				strcmp(b, "postgres") != 0))
				return brk_error_set(err, BRK_ERR_INVALID,
				    "config: store.backend is \"lmdb\" or "
				    "\"postgres\"");
			c->store_pg = strcmp(b, "postgres") == 0;
			r = 0;
		} else if (strcmp(k, "conninfo_file") == 0)
			r = config_get_str(
			    "store", x, k, &c->store_conninfo, err);
		else if (strcmp(k, "timeout") == 0) {
			r = config_get_int64("store", x, k, 1, 300, &n, err);
			c->store_timeout = (int)n;
		} else if (strcmp(k, "stale_max") == 0) {
			r = config_get_int64("store", x, k, 1, 3600, &n, err);
			c->store_stale_max = (int)n;
		} else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: store: unknown key \"%.64s\"", k);
		if (r != 0)
			return r;
	}
	if (c->store_pg &&
	    (c->store_conninfo == NULL || c->store_conninfo[0] != '/'))
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: store.backend \"postgres\" needs "
		    "store.conninfo_file, an absolute path");
	if (!c->store_pg && c->store_conninfo != NULL)
		return brk_error_set(err, BRK_ERR_INVALID,
		    "config: store.conninfo_file is for backend "
		    "\"postgres\" only");
	return 0;
}

static int
apply_key(struct config *c, const char *key, json_t *v, struct brk_error *err)
{
	int64_t n = 0;
	size_t i;
	json_t *d;
	int r;

	if (strcmp(key, "state_dir") == 0)
		return config_get_str(NULL, v, key, &c->state_dir, err);
	if (strcmp(key, "socket") == 0)
		return config_get_str(NULL, v, key, &c->socket, err);
	if (strcmp(key, "policy") == 0)
		return config_get_str(NULL, v, key, &c->policy, err);
	if (strcmp(key, "socket_mode") == 0)
		return parse_mode(v, &c->socket_mode, err);
	if (strcmp(key, "group_commit") == 0) {
		if (!json_is_boolean(v))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: \"group_commit\" must be true or false");
		c->group_commit = json_is_true(v);
		return 0;
	}
	if (strcmp(key, "log_target") == 0) {
		const char *t = json_string_value(v);
		if (t == NULL ||
		    (strcmp(t, "stderr") != 0 && strcmp(t, "syslog") != 0))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "\"log_target\" is stderr or syslog");
		c->log_syslog = strcmp(t, "syslog") == 0;
		return 0;
	}
	if (strcmp(key, "log_level") == 0) {
		if ((c->log_level = log_level_parse(json_string_value(v))) < 0)
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "\"log_level\" is one of error, warn, info, debug");
		return 0;
	}
	if (strcmp(key, "mapsize") == 0) {
		r = config_get_int64(
		    NULL, v, key, 1 << 20, (int64_t)1 << 40, &n, err);
		c->mapsize = (uint64_t)n;
		return r;
	}
	if (strcmp(key, "max_connections") == 0) {
		r = config_get_int64(NULL, v, key, 1, 60000, &n, err);
		c->max_connections = (int)n;
		return r;
	}
	if (strcmp(key, "idle_timeout") == 0) {
		r = config_get_int64(NULL, v, key, 1, 86400, &n, err);
		c->idle_timeout = (int)n;
		return r;
	}
	if (strcmp(key, "read_timeout") == 0) {
		r = config_get_int64(NULL, v, key, 1, 3600, &n, err);
		c->read_timeout = (int)n;
		return r;
	}
	/* audit anchors (ops_audit.c); 0 turns a trigger off */
	if (strcmp(key, "audit_anchor_records") == 0) {
		r = config_get_int64(
		    NULL, v, key, 0, (int64_t)1 << 40, &n, err);
		c->audit_anchor_records = n;
		return r;
	}
	if (strcmp(key, "audit_anchor_seconds") == 0) {
		r = config_get_int64(
		    NULL, v, key, 0, (int64_t)366 * 86400, &n, err);
		c->audit_anchor_seconds = n;
		return r;
	}
	if (strcmp(key, "delegates") == 0) {
		if (!json_is_array(v))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: \"delegates\" must be a list");
		json_array_foreach (v, i, d)
			if ((r = add_delegate(c, d, err)) != 0)
				return r;
		return 0;
	}
	if (strcmp(key, "local_groups") == 0)
		return parse_groups(c, v, err);
	if (strcmp(key, "ldap") == 0) { /* identity_ldap_config.c */
		ldap_config_free(c->ldap);
		c->ldap = NULL;
		return ldap_config_parse(v, &c->ldap, err);
	}
	if (strcmp(key, "tls") == 0) { /* tls.c */
		tls_config_free(c->tls);
		c->tls = NULL;
		return tls_config_parse(v, &c->tls, err);
	}
	if (strcmp(key, "login") == 0) { /* net/login.c */
		login_config_free(c->login);
		c->login = NULL;
		return login_config_parse(v, &c->login, err);
	}
	if (strcmp(key, "web") == 0) { /* net/web.c */
		web_config_free(c->web);
		c->web = NULL;
		return web_config_parse(v, &c->web, err);
	}
	if (strcmp(key, "hosts") == 0) /* ops/ops_host.c */
		return parse_hosts(c, v, err);
	if (strcmp(key, "notify") == 0) { /* notify_config.c */
		notify_config_free(c->notify);
		c->notify = NULL;
		return notify_config_parse(v, &c->notify, err);
	}
	if (strcmp(key, "store") == 0)
		return parse_store(c, v, err);
	if (strcmp(key, "databases") == 0) { /* pgconfig.c */
		pg_config_free(c->databases);
		cred_exec_config_free(c->cred_exec);
		c->databases = NULL;
		return pg_config_parse(v, &c->databases, err);
	}
	if (strcmp(key, "credentials") == 0) { /* credkind_exec.c */
		cred_exec_config_free(c->cred_exec);
		c->cred_exec = NULL;
		return cred_exec_config_parse(v, &c->cred_exec, err);
	}
	if (strcmp(key, "metrics_listen") == 0) { /* metrics_http.c */
		if ((r = config_get_str(
			 NULL, v, key, &c->metrics_listen, err)) != 0)
			return r;
		return metrics_http_addr_ok(c->metrics_listen, err);
	}
	return brk_error_set(
	    err, BRK_ERR_INVALID, "config: unknown key \"%.64s\"", key);
}

static struct config *
config_defaults(void)
{
	struct config *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->socket_mode = 0666;
	c->mapsize = (uint64_t)1 << 30;
	c->store_timeout = 5;
	c->store_stale_max = 5;
	c->group_commit = true;
	c->log_level = LOG_LVL_INFO;
	c->max_connections = 1024;
	c->idle_timeout = 60;
	c->read_timeout = 10;
	c->audit_anchor_records = 10000; /* audit anchors */
	c->host_cert_ttl = 30 * 86400LL; /* hosts (ops_host.c) */
	c->host_token_max = 7 * 86400LL;
	c->host_token_retention = 86400; /* used/expired tokens (hosts.c) */
	c->audit_anchor_seconds = 300;
	return c;
}

int
config_parse(
    const char *text, size_t len, struct config **out, struct brk_error *err)
{
	struct config *c = NULL;
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;
	int r = BRK_ERR_NOMEM;

	*out = NULL;
	if ((c = config_defaults()) == NULL)
		goto out;
	r = BRK_ERR_INVALID;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		brk_error_set(
		    err, r, "config: line %d: %s", jerr.line, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		brk_error_set(err, r, "config: must be a JSON object");
		goto out;
	}
	json_object_foreach (root, key, v)
		if ((r = apply_key(c, key, v, err)) != 0)
			goto out;
	r = BRK_ERR_INVALID;
	if (c->state_dir == NULL || c->socket == NULL) {
		brk_error_set(err, r,
		    "config: \"state_dir\" and \"socket\" "
		    "are required");
		goto out;
	}
	/* notifications link to the request's web page unless told
	 * otherwise (notify.link) */
	if (c->web != NULL && c->web->base_url != NULL && c->notify != NULL &&
	    c->notify->link == NULL &&
	    (c->notify->link = web_link_template(c->web)) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOMEM, "out of memory");
		goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	json_decref(root);
	config_free(c);
	return r;
}

int
config_load(const char *path, struct config **out, struct brk_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, 1 << 20, 0, &text, &len, err)) == 0)
		r = config_parse(text, len, out, err);
	free(text);
	return r;
}

static int
write_new_file(const char *path, const char *text, struct brk_error *err)
{
	size_t len = strlen(text);
	int fd, r = 0;

	fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return errno == EEXIST ?
		    0 :
		    brk_error_set(err, BRK_ERR_IO, "cannot create %s: %s", path,
			strerror(errno));
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		r = brk_error_set(err, BRK_ERR_IO, "cannot write %s", path);
	close(fd);
	return r;
}

/* Create path with mode; it must end up ours and no looser than mode. */
static int
make_dir(const char *path, mode_t mode, struct brk_error *err)
{
	struct stat st;

	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return brk_error_set(err, BRK_ERR_IO, "cannot create %s: %s",
		    path, strerror(errno));
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return brk_error_set(
		    err, BRK_ERR_IO, "%s is not a directory", path);
	if ((st.st_mode & 0777 & ~mode) != 0 || (st.st_mode & 022) != 0 ||
	    st.st_uid != geteuid())
		return brk_error_set(err, BRK_ERR_PERM,
		    "%s must be a "
		    "directory of ours with mode %04o (it is %04o)",
		    path, (unsigned)mode, (unsigned)(st.st_mode & 07777));
	return 0;
}

int
config_dev(const char *dir, struct config **out, struct brk_error *err)
{
	struct config *c = NULL;
	const char *knob;
	char path[4096];
	int r;

	*out = NULL;
	if ((r = config_parse(
		 dev_groups_json, strlen(dev_groups_json), &c, err)) != 0)
		return r;
	c->dev = true;
	r = BRK_ERR_TOOBIG;
	if (strlen(dir) > 3000) {
		brk_error_set(err, r, "--dev: directory name too long");
		goto out;
	}
	/* DIR is open so that other local users reach the socket; the state
	 * inside it is private */
	if ((r = make_dir(dir, 0755, err)) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/state", dir);
	if ((r = make_dir(path, 0700, err)) != 0)
		goto out;
	free(c->state_dir);
	free(c->socket);
	r = BRK_ERR_NOMEM;
	if ((c->state_dir = strdup(path)) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/broker.sock", dir);
	if ((c->socket = strdup(path)) == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	if ((c->policy = strdup(path)) == NULL)
		goto out;
	if ((r = write_new_file(path, dev_policy_json, err)) != 0)
		goto out;
	r = BRK_ERR_NOMEM;
	if ((c->delegates = malloc(sizeof(uid_t))) == NULL)
		goto out;
	c->delegates[0] = getuid();
	c->ndelegates = 1;
	/* The embedded default keeps LMDB; this knob lets the test suite
	 * (make check-pg) run the same --dev brokers on PostgreSQL. */
	if ((knob = getenv("BROKER_DEV_PG_CONNINFO")) != NULL &&
	    knob[0] != '\0') {
		c->store_pg = true;
		if ((c->store_conninfo = strdup(knob)) == NULL)
			goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	config_free(c);
	return r;
}

void
config_free(struct config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->ngroups; i++) {
		for (j = 0; j < c->groups[i].nusers; j++)
			free(c->groups[i].users[j]);
		free(c->groups[i].users);
		free(c->groups[i].name);
	}
	free(c->groups);
	free(c->delegates);
	free(c->state_dir);
	free(c->socket);
	free(c->policy);
	free(c->store_conninfo);
	ldap_config_free(c->ldap);
	tls_config_free(c->tls);
	login_config_free(c->login);
	web_config_free(c->web);
	notify_config_free(c->notify);
	pg_config_free(c->databases);
	cred_exec_config_free(c->cred_exec);
	free(c->metrics_listen);
	free(c);
}
