/*
 * config.h - brokerd's configuration (brokerd -c FILE, or --dev DIR).
 *
 * Parsed strictly like the policy: unknown keys and wrong types are errors.
 * A config with only state_dir and socket set works.
 */
#ifndef BRK_CONFIG_H
#define BRK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "errors.h"

struct ldap_config;
struct tls_config;
struct login_config;
struct web_config;
struct notify_config;
struct pg_config;
struct cred_exec_config;

struct local_group {
	char *name;
	char **users;
	size_t nusers;
};

struct config {
	char *state_dir;
	char *socket;
	mode_t socket_mode; /* default 0666: identity is SO_PEERCRED */
	char *policy;	    /* policy file; NULL = none yet */
	uid_t *delegates;   /* may use "as"; root always may */
	size_t ndelegates;
	uint64_t mapsize; /* default 1 GiB (LMDB) */
	/* "store": { "backend": "lmdb" | "postgres", "conninfo_file": PATH,
	 * "timeout": seconds, "stale_max": seconds } (store.h) */
	bool store_pg;	      /* backend postgres (default lmdb) */
	char *store_conninfo; /* its conninfo file (0600, ours) */
	int store_timeout;    /* seconds, default 5 */
	int store_stale_max;  /* seconds a copy answers `check`, default 5 */
	bool group_commit;    /* default true */
	int log_level;
	bool log_syslog;	    /* "log_target": "syslog" (else stderr) */
	int max_connections;	    /* default 1024 */
	int idle_timeout;	    /* seconds, default 60 */
	int read_timeout;	    /* seconds to finish a started line, 10 */
	struct local_group *groups; /* "local_groups": group -> users */
	size_t ngroups;
	bool dev;
	int64_t audit_anchor_records; /* sign the chain head every N records
					 * (default 10000; 0: off) */
	int64_t audit_anchor_seconds; /* or every M seconds (300; 0: off) */
	struct ldap_config *ldap;     /* "ldap" section; NULL when absent */
	struct tls_config *tls;	      /* "tls" section (tls.h); NULL when
					 * absent */
	struct login_config *login;   /* "login" (net/login.h); NULL: the
					 * defaults, when "tls" is set */
	struct web_config *web;	      /* "web" (net/web.h); NULL when
					 * absent */
	/* notifications and metrics (notify.h, metrics_http.h) */
	struct notify_config *notify;	    /* "notify"; NULL when absent */
	char *metrics_listen;		    /* "HOST:PORT"; NULL when absent */
	struct pg_config *databases;	    /* "databases" (pgrole.h); NULL when
					 * absent */
	struct cred_exec_config *cred_exec; /* "credentials"
					     * (credkind_exec.h); NULL when
					     * absent */
	/* "hosts" { "cert_ttl", "token_max", "token_retention" }
	 * (ops_host.c): how long an enrolled host's certificate lasts
	 * (default 30d, 1h..365d), the longest a join token may be made for
	 * (default 7d, 1m..30d), and how long a used or expired token's
	 * record is kept before the sweep deletes it (default 24h,
	 * 1s..365d; hosts.c) */
	int64_t host_cert_ttl;
	int64_t host_token_max;
	int64_t host_token_retention;
};

/* Load FILE.  err says which key is wrong. */
int config_load(const char *path, struct config **out, struct brk_error *err);

/*
 * The embedded default for `brokerd --dev DIR`: creates DIR (0700) with
 * DIR/state, writes DIR/policy.json from the example policy when missing,
 * socket DIR/broker.sock, the running user as delegate, and the example
 * policy's users as local groups.
 */
int config_dev(const char *dir, struct config **out, struct brk_error *err);

/* Parse a config document from memory (used by config_load and tests). */
int config_parse(
    const char *text, size_t len, struct config **out, struct brk_error *err);

void config_free(struct config *c);

/*
 * Typed reads of one config value, shared by every section's parser.
 * section is NULL for top-level keys; errors name the key as the user wrote
 * it ("config: \"mapsize\" ..." or "config: tls.cert ...").  Strings are
 * 1 to 4096 bytes without NUL and replace *dst (freed first).
 */
int config_get_str(const char *section, json_t *v, const char *key, char **dst,
    struct brk_error *err);
int config_get_int64(const char *section, json_t *v, const char *key,
    int64_t min, int64_t max, int64_t *out, struct brk_error *err);
int config_get_int(const char *section, json_t *v, const char *key, int min,
    int max, int *out, struct brk_error *err);

#endif
