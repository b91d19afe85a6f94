/*
 * pgrole.h - db:NAME grants as PostgreSQL login roles (the "postgres"
 * credential kind), and the config's "databases" section:
 *
 *   "databases": { "orders": { "conninfo_file": "/etc/broker/orders.pg",
 *                              "roles": { "readonly": "app_readonly" },
 *                              "max_connections": 5 } }
 *
 * The conninfo file holds the admin connection (a libpq conninfo string,
 * password included): it must be a regular file of the daemon user, mode
 * 0600 or stricter.  Database names, role names and mapped roles are plain
 * identifiers ([a-z_][a-z0-9_]*, at most 63 bytes), checked when the
 * config is read.
 */
#ifndef BRK_PGROLE_H
#define BRK_PGROLE_H

#include <stddef.h>

#include <jansson.h>

#include "errors.h"

struct pg_role_map {
	char *role;    /* what a request names: "readonly" */
	char *db_role; /* what the login joins: "app_readonly" */
};

struct pg_database {
	char *name; /* db:NAME */
	char *conninfo_file;
	struct pg_role_map *roles;
	size_t nroles;
	int max_connections;	/* per grant role; default 5 */
	struct pg_admin *admin; /* the kept admin connection (pgrole.c) */
};

struct pg_config {
	struct pg_database *dbs;
	size_t ndbs;
};

/* Parse the "databases" section; *out is NULL on entry. */
int pg_config_parse(json_t *v, struct pg_config **out, struct brk_error *err);
void pg_config_free(struct pg_config *c);

/* The kept admin connection of one database: none yet, then closed. */
struct pg_admin *pg_admin_new(void);
void pg_admin_free(struct pg_admin *a);

/* Whether s is a plain SQL identifier ([a-z_][a-z0-9_]*, <= 63 bytes). */
int pg_ident_plain(const char *s);

#endif
