/*
 * pgrole.c - the "postgres" credential kind: a db:NAME grant becomes a
 * PostgreSQL login role of its own, brk_<user>_<request id>, with a fresh
 * random password, VALID UNTIL the grant's end (so the login dies with
 * the grant even when brokerd is down), a connection limit, and
 * membership in the one database role the config maps the requested role
 * to.  Ending a grant makes the role NOLOGIN, terminates its sessions and
 * drops it; the reconciler does that for every brk_ role whose grant is
 * no longer in force, which covers revoke, expiry, freeze, blocks and a
 * crash at any point.
 *
 * When a grant becomes active by approval or by its scheduled start, or
 * when a crash or an outage came between its commit and its role, the
 * reconciler creates the role with a password nobody is told (it is
 * wiped at once): the login exists from activation, and the requester's
 * `broker cred ID` sets and returns a fresh password (every call rotates
 * it; a password is shown once).  An automatic grant's reply carries its
 * password directly.
 *
 * SQL: identifiers go through PQescapeIdentifier(); queries with values
 * use PQexecParams().  Role DDL takes no parameters, so its only literals
 * are ones we made (the SCRAM verifier, a timestamp), quoted with
 * PQescapeLiteral().  The password is hashed here with
 * PQencryptPasswordConn(): the plaintext never reaches the server or its
 * logs, and it is never stored or logged by us; it leaves in the reply.
 *
 * Runs on worker threads only (never the writer or the I/O thread), one
 * call at a time: credkind.c orders issuing against reconciling under one
 * lock.  That lock also owns each database's kept admin connection
 * (struct pg_admin): opening one costs the server a new backend (about
 * 14 ms, most of a request's time), so the last one stays open for the
 * next call.  It is used again only while the conninfo file still has
 * the same contents (its SHA-256 is kept, not the text) and it has been
 * idle for less than a minute, and only after an empty query has shown
 * it alive (a restarted server or a terminated backend leaves a dead one
 * that only a round trip reveals).
 */
#include "pgrole.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "config.h"
#include "credkind.h"
#include "fileio.h"
#include "log.h"
#include "timefmt.h"

#define PW_BYTES 24 /* 192 bits of randomness */
#define ROLE_MAX 63 /* NAMEDATALEN - 1 */
#define CONNINFO_MAX 8192
#define ADMIN_IDLE_MAX 60 /* seconds a kept admin connection may idle */

struct pg_admin {
	PGconn *conn;			    /* NULL when none is kept */
	unsigned char sum[EVP_MAX_MD_SIZE]; /* of the conninfo it came from */
	int64_t used;			    /* when it was last given back */
};

struct pg_admin *
pg_admin_new(void)
{
	return calloc(1, sizeof(struct pg_admin));
}

void
pg_admin_free(struct pg_admin *a)
{
	if (a == NULL)
		return;
	PQfinish(a->conn);
	free(a);
}

/* libpq's message on one printable line (it ends lines with \n). */
static const char *
pq_msg(PGconn *conn, char *buf, size_t len)
{
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	size_t i;

	for (i = 0; m[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)m[i] < ' ' ? ' ' : m[i];
	while (i > 0 && buf[i - 1] == ' ')
		i--;
	buf[i] = '\0';
	return buf;
}

static const struct pg_database *
find_db(struct brokerd *d, const char *resource)
{
	const struct pg_config *c = d->cfg->databases;
	size_t i;

	if (c == NULL || strncmp(resource, "db:", 3) != 0)
		return NULL;
	for (i = 0; i < c->ndbs; i++)
		if (strcmp(c->dbs[i].name, resource + 3) == 0)
			return &c->dbs[i];
	return NULL;
}

/* The database role a request's role maps to; NULL when none. */
static const char *
mapped_role(const struct pg_database *db, const char *role)
{
	size_t i;

	for (i = 0; i < db->nroles; i++)
		if (strcmp(db->roles[i].role, role) == 0)
			return db->roles[i].db_role;
	return NULL;
}

/* A fresh password of PW_BYTES random bytes, in hex. */
static int
new_password(char pw[2 * PW_BYTES + 1], struct brk_error *err)
{
	unsigned char raw[PW_BYTES];
	size_t i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return brk_error_set(err, BRK_ERR_CRYPTO, "no randomness");
	for (i = 0; i < sizeof(raw); i++)
		snprintf(pw + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* brk_<user>_<request id>; fails when it would not fit an identifier. */
static int
role_name(const char *user, uint64_t serial, char name[ROLE_MAX + 1])
{
	char id[24];
	int n;

	req_id(serial, id);
	n = snprintf(name, ROLE_MAX + 1, "brk_%s_%s", user, id);
	return n > 0 && n <= ROLE_MAX ? 0 : BRK_ERR_TOOBIG;
}

/* Whether kept connection a may serve conninfo text with digest sum. */
static bool
admin_usable(struct pg_admin *a, const unsigned char *sum)
{
	PGresult *pr;
	bool ok;

	if (a->conn == NULL || memcmp(a->sum, sum, sizeof(a->sum)) != 0 ||
	    time_now() - a->used >= ADMIN_IDLE_MAX ||
	    PQstatus(a->conn) != CONNECTION_OK ||
	    PQtransactionStatus(a->conn) != PQTRANS_IDLE)
		return false;
	pr = PQexec(a->conn, "");
	ok = PQresultStatus(pr) == PGRES_EMPTY_QUERY;
	PQclear(pr);
	return ok;
}

/*
 * An admin connection to db: its kept one when usable, else a new one
 * from its conninfo file.  Hand it back with admin_give().
 */
static int
admin_take(const struct pg_database *db, PGconn **out, struct brk_error *err)
{
	static const char *const keys[] = { "connect_timeout",
		"application_name", "dbname", NULL };
	const char *vals[4] = { "5", "brokerd", NULL, NULL };
	struct pg_admin *a = db->admin;
	unsigned char sum[EVP_MAX_MD_SIZE] = { 0 };
	char *text = NULL;
	size_t raw = 0, len;
	PGconn *conn = NULL;
	char msg[300];
	int r;

	*out = NULL;
	/* held to the same standard as at start-up (pgconfig.c) */
	if ((r = file_read_checked(db->conninfo_file, NULL,
		 FILE_NOFOLLOW | FILE_OURS | FILE_PRIVATE, CONNINFO_MAX, &text,
		 &raw, err)) != 0)
		return brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "database %s: "
		    "cannot read its conninfo_file",
		    db->name);
	len = raw;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (EVP_Digest(text, len, sum, NULL, EVP_sha256(), NULL) != 1) {
		file_free_secret(text, raw);
		return brk_error_set(err, BRK_ERR_CRYPTO, "no SHA-256");
	}
	if (admin_usable(a, sum)) {
		file_free_secret(text, raw);
		*out = a->conn;
		a->conn = NULL;
		return 0;
	}
	PQfinish(a->conn);
	a->conn = NULL;
	vals[2] = text;
	/* the file's own settings come after the defaults and win */
	conn = PQconnectdbParams(keys, vals, 1);
	file_free_secret(text, raw);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "database %s is "
		    "unreachable: %s",
		    db->name, pq_msg(conn, msg, sizeof(msg)));
		PQfinish(conn);
		return r;
	}
	memcpy(a->sum, sum, sizeof(a->sum));
	*out = conn;
	return 0;
}

/* Keep conn for the next call when it is idle and whole, else close it. */
static void
admin_give(const struct pg_database *db, PGconn *conn)
{
	struct pg_admin *a = db->admin;

	if (conn == NULL)
		return;
	if (a->conn != NULL || PQstatus(conn) != CONNECTION_OK ||
	    PQtransactionStatus(conn) != PQTRANS_IDLE) {
		PQfinish(conn);
		return;
	}
	a->conn = conn;
	a->used = time_now();
}

/* Run one command; the message names what failed, never its text. */
static int
run(PGconn *conn, const char *sql, int nparams, const char *const *params,
    const char *what, PGresult **res, struct brk_error *err)
{
	PGresult *pr;
	ExecStatusType st;
	char msg[300];
	int r;

	if (res != NULL)
		*res = NULL;
	pr = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(pr);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		r = brk_error_set(err,
		    PQstatus(conn) == CONNECTION_OK ? BRK_ERR_IO :
						      BRK_ERR_UNREACHABLE,
		    "%s: %s", what, pq_msg(conn, msg, sizeof(msg)));
		PQclear(pr);
		return r;
	}
	if (res != NULL)
		*res = pr;
	else
		PQclear(pr);
	return 0;
}

/* pre <ident> post, the identifier quoted by libpq. */
static int
run_ident(PGconn *conn, const char *pre, const char *ident, const char *post,
    const char *what, struct brk_error *err)
{
	char *q = PQescapeIdentifier(conn, ident, strlen(ident)), *sql = NULL;
	int r = BRK_ERR_NOMEM;

	if (q == NULL || asprintf(&sql, "%s%s%s", pre, q, post) < 0) {
		sql = NULL;
		goto out;
	}
	r = run(conn, sql, 0, NULL, what, NULL, err);
out:
	free(sql);
	PQfreemem(q);
	return r;
}

/* Create the grant's role, or reset its password and validity. */
static int
set_role(PGconn *conn, const struct pg_database *db, const char *role,
    const char *db_role, const char *password, int64_t until,
    struct brk_error *err)
{
	const char *params[1] = { role };
	char *qr = NULL, *qm = NULL, *verifier = NULL, *qv = NULL, *qt = NULL;
	char *sql = NULL, ts[TIMEFMT_LEN];
	PGresult *res = NULL;
	bool exists;
	int r = BRK_ERR_NOMEM;

	time_rfc3339(until, ts);
	if ((qr = PQescapeIdentifier(conn, role, strlen(role))) == NULL ||
	    (qm = PQescapeIdentifier(conn, db_role, strlen(db_role))) == NULL ||
	    (verifier = PQencryptPasswordConn(
		 conn, password, role, "scram-sha-256")) == NULL ||
	    (qv = PQescapeLiteral(conn, verifier, strlen(verifier))) == NULL ||
	    (qt = PQescapeLiteral(conn, ts, strlen(ts))) == NULL)
		goto out;
	if ((r = run(conn, "BEGIN", 0, NULL, "begin", NULL, err)) != 0 ||
	    (r = run(conn,
		 "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = "
		 "$1",
		 1, params, "look up the role", &res, err)) != 0)
		goto out;
	exists = PQntuples(res) > 0;
	r = BRK_ERR_NOMEM;
	if (asprintf(&sql,
		"%s ROLE %s LOGIN NOSUPERUSER NOCREATEDB "
		"NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD %s "
		"VALID UNTIL %s CONNECTION LIMIT %d",
		exists ? "ALTER" : "CREATE", qr, qv, qt,
		db->max_connections) < 0) {
		sql = NULL;
		goto out;
	}
	if ((r = run(conn, sql, 0, NULL,
		 exists ? "alter the role" : "create the role", NULL, err)) !=
	    0)
		goto out;
	free(sql);
	if (asprintf(&sql, "GRANT %s TO %s", qm, qr) < 0) {
		sql = NULL;
		r = BRK_ERR_NOMEM;
		goto out;
	}
	if ((r = run(conn, sql, 0, NULL, "grant the mapped role", NULL, err)) !=
		0 ||
	    (r = run(conn, "COMMIT", 0, NULL, "commit", NULL, err)) != 0)
		goto out;
out:
	if (r != 0)
		PQclear(PQexec(conn, "ROLLBACK"));
	PQclear(res);
	free(sql);
	PQfreemem(qr);
	PQfreemem(qm);
	PQfreemem(qt);
	if (qv != NULL) {
		explicit_bzero(qv, strlen(qv));
		PQfreemem(qv);
	}
	if (verifier != NULL) {
		explicit_bzero(verifier, strlen(verifier));
		PQfreemem(verifier);
	}
	return r;
}

static int
pg_issue(struct brokerd *d, const struct request *r, const struct sshkey *key,
    json_t *reply, struct brk_error *err)
{
	const struct pg_database *db = find_db(d, r->resource);
	const char *db_role = NULL;
	char role[ROLE_MAX + 1], pw[2 * PW_BYTES + 1], ts[TIMEFMT_LEN];
	PGconn *conn = NULL;
	json_t *o = NULL;
	int rc;

	if (db == NULL)
		return brk_error_set(err, BRK_ERR_NOTFOUND,
		    "no database %s is "
		    "configured (databases)",
		    r->resource + 3);
	if ((db_role = mapped_role(db, r->role)) == NULL)
		return brk_error_set(err, BRK_ERR_DENIED,
		    "database %s has no "
		    "role \"%.64s\" (databases.%s.roles)",
		    db->name, r->role, db->name);
	if (r->state != ST_ACTIVE || r->expires_at <= time_now())
		return brk_error_set(err, BRK_ERR_STATE,
		    "the grant is not "
		    "active");
	if (role_name(r->user, r->serial, role) != 0)
		return brk_error_set(err, BRK_ERR_TOOBIG,
		    "the role name for "
		    "%s would exceed 63 bytes",
		    r->user);
	if ((rc = new_password(pw, err)) != 0)
		return rc;
	if ((rc = admin_take(db, &conn, err)) == 0)
		rc = set_role(conn, db, role, db_role, pw, r->expires_at, err);
	if (rc != 0)
		goto out;
	time_rfc3339(r->expires_at, ts);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "host",
	    PQhost(conn) != NULL ? PQhost(conn) : "", "port",
	    PQport(conn) != NULL ? PQport(conn) : "", "dbname",
	    PQdb(conn) != NULL ? PQdb(conn) : "", "user", role, "password", pw,
	    "expires_at", ts);
	rc = o != NULL && json_object_set_new(reply, "db", o) == 0 ?
	    0 :
	    BRK_ERR_NOMEM;
out:
	explicit_bzero(pw, sizeof(pw));
	admin_give(db, conn);
	return rc;
}

/* Stop the role at once, end its sessions, then remove it. */
static int
end_role(PGconn *conn, const char *role, struct brk_error *err)
{
	const char *params[1] = { role };
	int r;

	if ((r = run_ident(conn, "ALTER ROLE ", role, " NOLOGIN",
		 "set the role NOLOGIN", err)) != 0 ||
	    (r = run(conn,
		 "SELECT pg_catalog.pg_terminate_backend(pid, 5000) "
		 "FROM pg_catalog.pg_stat_activity WHERE usename = $1",
		 1, params, "terminate its sessions", NULL, err)) != 0 ||
	    (r = run_ident(conn, "REASSIGN OWNED BY ", role, " TO CURRENT_USER",
		 "reassign its objects", err)) != 0 ||
	    (r = run_ident(conn, "DROP OWNED BY ", role, "",
		 "drop its privileges", err)) != 0 ||
	    (r = run_ident(
		 conn, "DROP ROLE ", role, "", "drop the role", err)) != 0)
		return r;
	return 0;
}

static bool
is_live(const struct pg_database *db, const char *role,
    const struct cred_live *live, size_t n)
{
	char want[ROLE_MAX + 1];
	size_t i;

	for (i = 0; i < n; i++)
		/* roles are per server, and two configured databases may
		 * share one: any live db: grant's role is live */
		if (strncmp(live[i].resource, "db:", 3) == 0 &&
		    role_name(live[i].user, live[i].serial, want) == 0 &&
		    strcmp(want, role) == 0)
			return true;
	return false;
}

static bool
role_listed(PGresult *res, const char *role)
{
	int i;

	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), role) == 0)
			return true;
	return false;
}

/*
 * Create the missing role of live grant l, whose password nobody learns:
 * `broker cred` sets one the requester sees.
 */
static void
provision(PGconn *conn, const struct pg_database *db, const struct cred_live *l,
    cred_event_fn event, void *arg)
{
	struct brk_error err = { { 0 } };
	char role[ROLE_MAX + 1], pw[2 * PW_BYTES + 1];
	const char *db_role = mapped_role(db, l->role);

	if (db_role == NULL || role_name(l->user, l->serial, role) != 0)
		return; /* a request the issue refuses too */
	if (new_password(pw, &err) != 0) {
		log_warn("event=cred_issue_failed kind=postgres db=%s role=%s "
			 "error=\"%s\"",
		    db->name, role, err.msg);
		return;
	}
	cred_crash_point("before-issue");
	if (set_role(conn, db, role, db_role, pw, l->expires_at, &err) != 0)
		log_warn("event=cred_issue_failed kind=postgres db=%s role=%s "
			 "error=\"%s\"",
		    db->name, role, err.msg);
	else
		event(arg, CRED_ISSUED, l->resource, l->user, role);
	explicit_bzero(pw, sizeof(pw));
}

static void
reconcile_db(const struct pg_database *db, const struct cred_live *live,
    size_t n, cred_event_fn event, void *arg)
{
	static const char *const params[1] = { "brk\\_%" };
	struct brk_error err = { { 0 } };
	char resource[REC_RESOURCE], want[ROLE_MAX + 1];
	PGconn *conn = NULL;
	PGresult *res = NULL;
	const char *role;
	size_t k;
	int i;

	if (admin_take(db, &conn, &err) != 0 ||
	    run(conn,
		"SELECT rolname FROM pg_catalog.pg_roles WHERE rolname "
		"LIKE $1",
		1, params, "list the roles", &res, &err) != 0) {
		log_warn("event=cred_reconcile_failed kind=postgres db=%s "
			 "error=\"%s\"",
		    db->name, err.msg);
		goto out;
	}
	snprintf(resource, sizeof(resource), "db:%s", db->name);
	for (i = 0; i < PQntuples(res); i++) {
		role = PQgetvalue(res, i, 0);
		if (is_live(db, role, live, n))
			continue;
		if (end_role(conn, role, &err) != 0) {
			log_warn("event=cred_end_failed kind=postgres db=%s "
				 "role=%s error=\"%s\"",
			    db->name, role, err.msg);
			continue;
		}
		event(arg, CRED_ENDED, resource, NULL, role);
	}
	for (k = 0; k < n; k++)
		if (strcmp(live[k].resource, resource) == 0 &&
		    role_name(live[k].user, live[k].serial, want) == 0 &&
		    !role_listed(res, want))
			provision(conn, db, &live[k], event, arg);
out:
	PQclear(res);
	admin_give(db, conn);
}

static int
pg_reconcile(struct brokerd *d, const struct cred_live *live, size_t n,
    cred_event_fn event, void *arg)
{
	const struct pg_config *c = d->cfg->databases;
	size_t i;

	for (i = 0; c != NULL && i < c->ndbs; i++)
		reconcile_db(&c->dbs[i], live, n, event, arg);
	return 0;
}

static void
pg_credname(const struct request *r, char *buf, size_t len)
{
	char role[ROLE_MAX + 1];

	if (role_name(r->user, r->serial, role) != 0)
		role[0] = '\0';
	snprintf(buf, len, "%s", role);
}

const struct cred_kind cred_kind_pg = {
	.name = "postgres",
	.prefix = "db:",
	.early = false,
	.issue = pg_issue,
	.reissue = pg_issue,
	.reconcile = pg_reconcile,
	.credname = pg_credname,
};
