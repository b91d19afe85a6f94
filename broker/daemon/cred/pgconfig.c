/*
 * pgconfig.c - the config's "databases" section (pgrole.h), parsed
 * strictly: what can be checked at start-up is, so that a bad name or an
 * unsafe conninfo file stops brokerd instead of failing a grant later.
 */
#include "pgrole.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"

#define PG_IDENT_MAX 63

int
pg_ident_plain(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > PG_IDENT_MAX ||
	    (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int
bad(struct brk_error *err, const char *db, const char *what)
{
	return brk_error_set(err, BRK_ERR_INVALID,
	    "config: databases.%.64s: "
	    "%s",
	    db, what);
}

/* The admin secret: ours, a regular file, nobody else may read it. */
static int
check_conninfo_file(const char *db, const char *path, struct brk_error *err)
{
	char what[128];
	int fd = -1, r;

	if (path[0] != '/')
		return bad(err, db, "conninfo_file must be an absolute path");
	snprintf(
	    what, sizeof(what), "config: databases.%.64s: conninfo_file", db);
	if ((r = file_open_checked(path, what, O_RDONLY,
		 FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE, &fd, NULL, err)) !=
	    0)
		return r;
	close(fd);
	return 0;
}

static int
parse_roles(struct pg_database *db, json_t *v, struct brk_error *err)
{
	const char *k;
	json_t *m;

	if (!json_is_object(v) || json_object_size(v) == 0)
		return bad(err, db->name,
		    "roles must be an object of request "
		    "role -> database role");
	if ((db->roles = calloc(json_object_size(v), sizeof(*db->roles))) ==
	    NULL)
		return BRK_ERR_NOMEM;
	json_object_foreach (v, k, m) {
		if (!pg_ident_plain(k) || !json_is_string(m) ||
		    !pg_ident_plain(json_string_value(m)) ||
		    strlen(json_string_value(m)) != json_string_length(m))
			return brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "databases.%.64s.roles: \"%.64s\" and its mapped "
			    "role must be plain identifiers ([a-z_][a-z0-9_]*)",
			    db->name, k);
		if ((db->roles[db->nroles].role = strdup(k)) == NULL ||
		    (db->roles[db->nroles].db_role = strdup(
			 json_string_value(m))) == NULL) {
			db->nroles++;
			return BRK_ERR_NOMEM;
		}
		db->nroles++;
	}
	return 0;
}

static int
parse_db(struct pg_database *db, json_t *v, struct brk_error *err)
{
	int64_t n = 0;
	const char *k;
	json_t *x;
	char sect[96];
	int r;

	if (!json_is_object(v))
		return bad(err, db->name, "must be an object");
	snprintf(sect, sizeof(sect), "databases.%s", db->name);
	db->max_connections = 5;
	if ((db->admin = pg_admin_new()) == NULL)
		return BRK_ERR_NOMEM;
	json_object_foreach (v, k, x) {
		if (strcmp(k, "conninfo_file") == 0)
			r = config_get_str(sect, x, k, &db->conninfo_file, err);
		else if (strcmp(k, "roles") == 0)
			r = parse_roles(db, x, err);
		else if (strcmp(k, "max_connections") == 0) {
			r = config_get_int64(sect, x, k, 1, 1000, &n, err);
			db->max_connections = (int)n;
		} else
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "config: "
			    "databases.%.64s: unknown key \"%.64s\"",
			    db->name, k);
		if (r != 0)
			return r;
	}
	if (db->conninfo_file == NULL || db->nroles == 0)
		return bad(err, db->name,
		    "conninfo_file and roles are "
		    "required");
	return check_conninfo_file(db->name, db->conninfo_file, err);
}

int
pg_config_parse(json_t *v, struct pg_config **out, struct brk_error *err)
{
	struct pg_config *c = NULL;
	const char *k;
	json_t *x;
	int r = BRK_ERR_INVALID;

	*out = NULL;
	if (!json_is_object(v)) {
		brk_error_set(
		    err, r, "config: \"databases\" must be an object");
		goto out;
	}
	r = BRK_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->dbs = calloc(json_object_size(v) + 1, sizeof(*c->dbs))) == NULL)
		goto out;
	json_object_foreach (v, k, x) {
		r = BRK_ERR_INVALID;
		if (!pg_ident_plain(k)) {
			brk_error_set(err, r,
			    "config: databases: \"%.64s\" is "
			    "not a plain identifier ([a-z_][a-z0-9_]*)",
			    k);
			goto out;
		}
		r = BRK_ERR_NOMEM;
		if ((c->dbs[c->ndbs].name = strdup(k)) == NULL)
			goto out;
		if ((r = parse_db(&c->dbs[c->ndbs++], x, err)) != 0)
			goto out;
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	pg_config_free(c);
	return r;
}

void
pg_config_free(struct pg_config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->ndbs; i++) {
		for (j = 0; j < c->dbs[i].nroles; j++) {
			free(c->dbs[i].roles[j].role);
			free(c->dbs[i].roles[j].db_role);
		}
		free(c->dbs[i].roles);
		free(c->dbs[i].name);
		free(c->dbs[i].conninfo_file);
		pg_admin_free(c->dbs[i].admin);
	}
	free(c->dbs);
	free(c);
}
