/*
 * store_pg.c - the PostgreSQL backend of store.h (store_be.h), through
 * libpq; the only file that calls PQ*.
 *
 * Schema: one table broker_kv (tbl smallint, k bytea, v bytea, primary key
 * (tbl, k)): bytea compares bytewise, shorter first, as LMDB orders keys,
 * and no collation is involved.  broker_schema holds the schema version;
 * the migrations are the array below, applied by `brokerd --migrate`.
 *
 * Transactions.  A write transaction runs on the writer connection, one at
 * a time in this process (the single writer thread), as SERIALIZABLE, and
 * first takes LOCK TABLE broker_kv IN SHARE ROW EXCLUSIVE MODE before its
 * snapshot: the writers of all brokers queue there and each batch sees the
 * commits of the ones before it, so they do not read-then-write past each
 * other (a request's state, a counter in TBL_META, the audit chain head)
 * and rarely conflict; readers are not held up.  Should one still lose a
 * serialization conflict (40001), the transaction is marked conflicted
 * (store_conflicted()) and the writer runs its whole batch again.  Nested
 * transactions are savepoints.  Puts are held and sent in one statement
 * when something needs them (flush()).
 * synchronous_commit is forced on for our sessions: a COMMIT that returned
 * is on disk (and, with a synchronous standby, there too), so every commit
 * "synced" and readers, who see a commit only after its WAL flush, never
 * act on something a crash could undo.
 *
 * Read transactions take a connection from a small pool (one per thread
 * reading at a time) and are REPEATABLE READ READ ONLY: one snapshot for
 * the whole transaction, as LMDB gives.  Values handed out point into
 * libpq results that the transaction keeps until it ends, so they stay
 * valid as store.h promises.  Cursors fetch ranges in chunks that grow from
 * 8 to 256 rows, and re-fetch from their position when the transaction
 * wrote since (a write transaction sees its own writes, as LMDB's cursors
 * do).
 *
 * Announcements.  A write transaction that changed anything sends NOTIFY
 * on CHANNEL with its COMMIT (delivered only once committed); the
 * follower thread LISTENs on a session of its own (p_wait) and so learns
 * at once that another broker committed (store_follow_wait).
 *
 * Faults.  connect_timeout, tcp_user_timeout and statement_timeout come
 * from store.timeout, so no call blocks much past it; a broken connection
 * fails the call with BRK_ERR_IO (the broker is up: the CLI must not say
 * "unreachable") and is replaced at the next transaction, which also
 * begins again once on a fresh connection when BEGIN finds its connection
 * broken: the broker reconnects by itself.
 */
#include "store_be.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "fileio.h"
#include "log.h"

#define CONNINFO_MAX 8192
#define CHUNK_MIN 8
#define CHUNK_MAX 256
#define POOL_MAX 64
/* puts held for one statement: at most so many, or so many bytes */
#define PEND_MAX 1024
#define PEND_BYTES ((size_t)4 << 20)

/*
 * The schema, one migration per version, applied in order by
 * store_pg_migrate().  Never edit a released one: add the next.
 */
static const char *const migrations[] = {
	/* 1: the tables of store.h as one ordered key/value table */
	"CREATE TABLE broker_kv (tbl smallint NOT NULL, k bytea NOT NULL, "
	"v bytea NOT NULL, PRIMARY KEY (tbl, k))",
	/* 2: the cluster leader's marks (store.h), apart from broker_kv so
	 * that writing one never conflicts with a write transaction */
	"CREATE TABLE broker_marks (name text PRIMARY KEY, "
	"seq bigint NOT NULL)",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* An arbitrary constant: the advisory lock that serialises migrations. */
#define MIGRATE_LOCK "7301947238746"
/* Another: held for its whole session by the cluster's leader. */
#define LEADER_LOCK "7301947238747"
#define LEADER_POLL_MS 300
/* Every write transaction NOTIFYs it at its commit; followers LISTEN. */
#define CHANNEL "broker_commit"

struct pgenv {
	char *conninfo; /* may hold a password: wiped on free */
	int timeout_ms;
	pthread_mutex_t wlock; /* the writer connection, one write txn */
	PGconn *wconn;
	pthread_mutex_t lock; /* guards what follows */
	PGconn *idle[POOL_MAX];
	size_t nidle;
	uint64_t commits;
	pthread_mutex_t llock; /* the leader's session, what follows */
	PGconn *lconn;
	bool leading; /* also read without llock (atomic) */
	int64_t polled_ms;
	bool said_down;
	PGconn *nconn; /* LISTENs (p_wait): the follower thread's alone */
	bool nsaid_down;
	int wpid; /* the writer session's server pid (atomic): its own
		   * commits' notifications are not news */
};

/* A put not yet sent (see flush()). */
struct pput {
	int tbl;
	uint8_t *k, *v;
	size_t klen, vlen;
};

struct ptxn {
	struct pgenv *e;
	struct ptxn *top; /* itself when top-level */
	PGconn *conn;
	int depth; /* 0 top-level, else the savepoint's number */
	bool write;
	bool open;	/* BEGIN done, not yet ended */
	bool failed;	/* a statement failed: only rollback is left */
	bool conflict;	/* top: lost a serialization conflict */
	uint64_t gen;	/* top: writes done, for cursors */
	PGresult **res; /* top: results whose bytes were handed out */
	size_t nres, cap;
	struct pput *pend; /* top: puts not yet sent, of the innermost */
	size_t npend, pcap, pbytes; /* open transaction (flush()) */
};

struct pcur {
	struct ptxn *t;
	int tbl;
	PGresult *chunk; /* owned by t->top's list */
	int n, pos;
	bool asc;    /* chunk order */
	bool last;   /* no more rows beyond the chunk in its order */
	bool placed; /* pos is a row */
	uint64_t gen;
	int want; /* next chunk's size */
};

enum stmt {
	ST_GET,
	ST_PUT,
	ST_DEL,
	ST_GE,
	ST_GT,
	ST_LT,
	ST_LAST,
	ST_PUTMANY,
	ST__N
};

static const char *const stmt_name[ST__N] = { "g", "p", "d", "ge", "gt", "lt",
	"last", "pm" };
static const char *const stmt_sql[ST__N] = {
	"SELECT v FROM broker_kv WHERE tbl = $1 AND k = $2",
	"INSERT INTO broker_kv (tbl, k, v) VALUES ($1, $2, $3) "
	"ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v",
	"DELETE FROM broker_kv WHERE tbl = $1 AND k = $2",
	"SELECT k, v FROM broker_kv WHERE tbl = $1 AND k >= $2 "
	"ORDER BY k LIMIT $3",
	"SELECT k, v FROM broker_kv WHERE tbl = $1 AND k > $2 "
	"ORDER BY k LIMIT $3",
	"SELECT k, v FROM broker_kv WHERE tbl = $1 AND k < $2 "
	"ORDER BY k DESC LIMIT $3",
	"SELECT k, v FROM broker_kv WHERE tbl = $1 AND k >= $2 "
	"ORDER BY k DESC LIMIT $3",
	"INSERT INTO broker_kv (tbl, k, v) "
	"SELECT * FROM unnest($1::int2[], $2::bytea[], $3::bytea[]) "
	"ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v",
};

static const char *
sqlstate(const PGresult *res)
{
	const char *s = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) :
	    NULL;

	return s != NULL ? s : "";
}

static const char *
one_line(const char *msg, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", msg != NULL ? msg : "");
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '\n' || buf[i] == '"')
			buf[i] = buf[i] == '\n' ? ' ' : '\'';
	return buf;
}

/* The code for a failed statement. */
static int
map_err(PGconn *conn, const PGresult *res)
{
	const char *st = sqlstate(res);

	if (PQstatus(conn) != CONNECTION_OK)
		return BRK_ERR_IO;
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
		return BRK_ERR_BUSY;
	if (strcmp(st, "57014") == 0) /* statement_timeout */
		return BRK_ERR_TIMEOUT;
	if (strncmp(st, "53", 2) == 0) /* disk full, out of memory */
		return BRK_ERR_FULL;
	if (strcmp(st, "25006") == 0) /* a read-only standby */
		return BRK_ERR_READONLY;
	return BRK_ERR_IO;
}

static void
log_failure(PGconn *conn, const PGresult *res, const char *what)
{
	char buf[300];

	log_error("event=store_pg_failed what=%s sqlstate=%s error=\"%s\"",
	    what, sqlstate(res),
	    one_line(
		res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn),
		buf, sizeof(buf)));
}

/* Prepare our statements on a new connection. */
static int
prepare_all(PGconn *conn, char *why, size_t whylen)
{
	/* int2 tbl, bytea key, then bytea value or int4 row limit */
	static const Oid types[ST__N][3] = { { 21, 17 }, { 21, 17, 17 },
		{ 21, 17 }, { 21, 17, 23 }, { 21, 17, 23 }, { 21, 17, 23 },
		{ 21, 17, 23 }, { 1005, 1001, 1001 } };
	PGresult *res;
	int i;

	for (i = 0; i < ST__N; i++) {
		res = PQprepare(conn, stmt_name[i], stmt_sql[i],
		    i == ST_GET || i == ST_DEL ? 2 : 3, types[i]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			one_line(PQresultErrorMessage(res), why, whylen);
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

/* Server notices (a shutdown's warning) go to our log, not stderr. */
static void
notice(void *arg, const char *msg)
{
	char buf[300];

	(void)arg;
	log_info("event=store_pg_notice msg=\"%s\"",
	    one_line(msg, buf, sizeof(buf)));
}

static PGconn *
connect_db(const char *conninfo, int timeout_ms, bool prepare, char *why,
    size_t whylen)
{
	char ct[16], tut[16], opts[160];
	const char *keys[] = { "dbname", "connect_timeout", "tcp_user_timeout",
		"options", "application_name", NULL };
	const char *vals[] = { conninfo, ct, tut, opts, "brokerd", NULL };
	PGconn *conn;

	/* libpq rounds connect_timeout below 2 s up to 2 */
	snprintf(ct, sizeof(ct), "%d", (timeout_ms + 999) / 1000);
	snprintf(tut, sizeof(tut), "%d", timeout_ms);
	snprintf(opts, sizeof(opts),
	    "-c synchronous_commit=on -c statement_timeout=%d "
	    "-c idle_in_transaction_session_timeout=%d",
	    timeout_ms, timeout_ms * 4 > 60000 ? timeout_ms * 4 : 60000);
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		one_line(PQerrorMessage(conn), why, whylen);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice, NULL);
	if (prepare && prepare_all(conn, why, whylen) != 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* A connection for a reader: an idle one, else a new one. */
static int
pool_take(struct pgenv *e, PGconn **out)
{
	char why[300];
	PGconn *c = NULL;

	*out = NULL;
	pthread_mutex_lock(&e->lock);
	while (e->nidle > 0 && c == NULL) {
		c = e->idle[--e->nidle];
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
		}
	}
	pthread_mutex_unlock(&e->lock);
	if (c == NULL &&
	    (c = connect_db(
		 e->conninfo, e->timeout_ms, true, why, sizeof(why))) == NULL) {
		log_error("event=store_pg_unreachable error=\"%s\"", why);
		return BRK_ERR_IO;
	}
	*out = c;
	return 0;
}

static void
pool_give(struct pgenv *e, PGconn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&e->lock);
	if (PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) == PQTRANS_IDLE && e->nidle < POOL_MAX) {
		e->idle[e->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&e->lock);
	PQfinish(c);
}

/* Run a command without parameters on t; t fails if it does. */
static int
cmd(struct ptxn *t, const char *sql)
{
	PGresult *res = PQexec(t->conn, sql);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = map_err(t->conn, res);
		if (r == BRK_ERR_BUSY)
			t->top->conflict = true;
		else
			log_failure(t->conn, res, sql);
		t->failed = true;
	}
	PQclear(res);
	return r;
}

static int
keep(struct ptxn *top, PGresult *res)
{
	PGresult **n;

	if (top->nres == top->cap) {
		n = realloc(
		    top->res, (top->cap ? top->cap * 2 : 8) * sizeof(*n));
		if (n == NULL)
			return BRK_ERR_NOMEM;
		top->res = n;
		top->cap = top->cap ? top->cap * 2 : 8;
	}
	top->res[top->nres++] = res;
	return 0;
}

static void
drop_results(struct ptxn *top)
{
	size_t i;

	for (i = 0; i < top->nres; i++)
		PQclear(top->res[i]);
	top->nres = 0;
}

/* --- puts held back ------------------------------------------------ */

/*
 * A write transaction's puts are held in memory and sent together, as one
 * INSERT of arrays, when something needs them: a read of the same key, a
 * range read, a delete, a savepoint, the end of a nested transaction, the
 * commit, or PEND_MAX of them.  A grant makes some 20 puts between few
 * reads; one round trip instead of one each is most of what a batch costs
 * on PostgreSQL.  A put's failure (the store full, the connection gone)
 * then shows at that next call, which fails the transaction as it would
 * have: nothing is acknowledged that was not committed.
 */
static ssize_t
pend_find(const struct ptxn *top, int tbl, const void *key, size_t klen)
{
	size_t i;

	for (i = 0; i < top->npend; i++)
		if (top->pend[i].tbl == tbl && top->pend[i].klen == klen &&
		    (klen == 0 || memcmp(top->pend[i].k, key, klen) == 0))
			return (ssize_t)i;
	return -1;
}

static void
pend_drop(struct ptxn *top)
{
	size_t i;

	for (i = 0; i < top->npend; i++) {
		free(top->pend[i].k);
		free(top->pend[i].v);
	}
	top->npend = 0;
	top->pbytes = 0;
}

static void
arr_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A one-dimensional array in PostgreSQL's binary format (array_recv). */
static uint8_t *
arr_build(const struct ptxn *top, int which, size_t *len)
{
	size_t i, n = 20;
	uint8_t *b, *p;

	for (i = 0; i < top->npend; i++)
		n += 4 +
		    (which == 0	       ? 2 :
			    which == 1 ? top->pend[i].klen :
					 top->pend[i].vlen);
	if (n > 0x7fffffff || (b = malloc(n)) == NULL)
		return NULL;
	arr_be32(b, 1);			       /* dimensions */
	arr_be32(b + 4, 0);		       /* no NULLs */
	arr_be32(b + 8, which == 0 ? 21 : 17); /* int2, bytea */
	arr_be32(b + 12, (uint32_t)top->npend);
	arr_be32(b + 16, 1); /* lower bound */
	p = b + 20;
	for (i = 0; i < top->npend; i++) {
		const struct pput *e = &top->pend[i];

		if (which == 0) {
			arr_be32(p, 2);
			p[4] = (uint8_t)(e->tbl >> 8);
			p[5] = (uint8_t)e->tbl;
			p += 6;
		} else {
			size_t l = which == 1 ? e->klen : e->vlen;

			arr_be32(p, (uint32_t)l);
			if (l > 0)
				memcpy(p + 4, which == 1 ? e->k : e->v, l);
			p += 4 + l;
		}
	}
	*len = n;
	return b;
}

/* Send the held puts; t fails if they do. */
static int
flush(struct ptxn *t)
{
	struct ptxn *top = t->top;
	const char *vals[3] = { NULL, NULL, NULL };
	int lens[3], fmts[3] = { 1, 1, 1 }, i, r = 0;
	size_t len;
	PGresult *res;

	if (top->npend == 0)
		return 0;
	if (t->failed) {
		pend_drop(top);
		return BRK_ERR_STATE;
	}
	for (i = 0; i < 3; i++) {
		if ((vals[i] = (const char *)arr_build(top, i, &len)) == NULL) {
			r = BRK_ERR_NOMEM;
			t->failed = true;
			goto out;
		}
		lens[i] = (int)len;
	}
	res = PQexecPrepared(
	    t->conn, stmt_name[ST_PUTMANY], 3, vals, lens, fmts, 1);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = map_err(t->conn, res);
		if (r == BRK_ERR_BUSY)
			top->conflict = true;
		else
			log_failure(t->conn, res, stmt_name[ST_PUTMANY]);
		t->failed = true;
	}
	PQclear(res);
out:
	for (i = 0; i < 3; i++)
		free((void *)vals[i]);
	pend_drop(top);
	return r;
}

/* Hold a put (replacing a held one of the same key). */
static int
pend_put(struct ptxn *t, int tbl, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct ptxn *top = t->top;
	struct pput *e, *n;
	ssize_t at = pend_find(top, tbl, key, klen);
	uint8_t *k = NULL, *v = NULL;

	if (klen > 0x7fffffff || vlen > 0x7fffffff)
		return BRK_ERR_TOOBIG;
	if ((klen > 0 && (k = malloc(klen)) == NULL) ||
	    (vlen > 0 && (v = malloc(vlen)) == NULL)) {
		free(k);
		return BRK_ERR_NOMEM;
	}
	if (klen > 0)
		memcpy(k, key, klen);
	if (vlen > 0)
		memcpy(v, val, vlen);
	if (at < 0 && top->npend == top->pcap) {
		n = realloc(
		    top->pend, (top->pcap ? top->pcap * 2 : 16) * sizeof(*n));
		if (n == NULL) {
			free(k);
			free(v);
			return BRK_ERR_NOMEM;
		}
		top->pend = n;
		top->pcap = top->pcap ? top->pcap * 2 : 16;
	}
	if (at >= 0) {
		e = &top->pend[at];
		top->pbytes -= e->klen + e->vlen;
		free(e->k);
		free(e->v);
	} else
		e = &top->pend[top->npend++];
	e->tbl = tbl;
	e->k = k;
	e->klen = klen;
	e->v = v;
	e->vlen = vlen;
	top->pbytes += klen + vlen;
	if (top->npend >= PEND_MAX || top->pbytes >= PEND_BYTES)
		return flush(t);
	return 0;
}

/*
 * Run prepared statement st with tbl, an optional key, an optional value
 * and an optional row limit, all sent binary; results come back binary
 * (bytea as its raw bytes).  *out is kept by the transaction.
 */
static int
run(struct ptxn *t, enum stmt st, int tbl, const void *key, size_t klen,
    const void *val, size_t vlen, int limit, PGresult **out)
{
	const char *vals[3];
	int lens[3], fmts[3] = { 1, 1, 1 }, n = 1, r;
	uint8_t tb[2], lb[4];
	PGresult *res;
	ExecStatusType want;

	*out = NULL;
	if (t->failed)
		return BRK_ERR_STATE; /* a statement before failed */
	/* a read or delete sees every put before it: send them first (a
	 * get only when its own key waits) */
	if (st != ST_PUT && t->top->npend > 0 &&
	    (st != ST_GET || pend_find(t->top, tbl, key, klen) >= 0) &&
	    (r = flush(t)) != 0)
		return r;
	if (klen > 0x7fffffff || vlen > 0x7fffffff)
		return BRK_ERR_TOOBIG;
	tb[0] = (uint8_t)(tbl >> 8);
	tb[1] = (uint8_t)tbl;
	vals[0] = (const char *)tb;
	lens[0] = 2;
	vals[n] = key != NULL ? key : "";
	lens[n++] = (int)klen;
	if (st == ST_PUT) {
		vals[n] = val != NULL ? val : "";
		lens[n++] = (int)vlen;
	} else if (st >= ST_GE) {
		lb[0] = (uint8_t)(limit >> 24);
		lb[1] = (uint8_t)(limit >> 16);
		lb[2] = (uint8_t)(limit >> 8);
		lb[3] = (uint8_t)limit;
		vals[n] = (const char *)lb;
		lens[n++] = 4;
	}
	res = PQexecPrepared(t->conn, stmt_name[st], n, vals, lens, fmts, 1);
	want = st == ST_PUT || st == ST_DEL ? PGRES_COMMAND_OK :
					      PGRES_TUPLES_OK;
	if (PQresultStatus(res) != want) {
		r = map_err(t->conn, res);
		if (r == BRK_ERR_BUSY)
			t->top->conflict = true;
		else
			log_failure(t->conn, res, stmt_name[st]);
		t->failed = true;
		PQclear(res);
		return r;
	}
	if ((r = keep(t->top, res)) != 0) {
		PQclear(res);
		return r;
	}
	*out = res;
	return 0;
}

static void p_free(void *env);

/* Read the conninfo file (ours, 0600) and connect the writer. */
static int
env_new(const char *path, int timeout_ms, bool prepare, struct pgenv **out,
    struct brk_error *err)
{
	struct pgenv *e = NULL;
	struct stat st;
	char why[300], *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = brk_error_set(err, BRK_ERR_INVALID,
		    "store.conninfo_file %.200s: not a regular file we can read",
		    path);
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		r = brk_error_set(err, BRK_ERR_PERM,
		    "store.conninfo_file %.200s must be owned by the daemon "
		    "user and mode 0600",
		    path);
		goto out;
	}
	if ((r = file_read_all(path, CONNINFO_MAX, 1, &text, &len, err)) != 0)
		goto out;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	r = BRK_ERR_NOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->wlock, NULL);
	pthread_mutex_init(&e->llock, NULL);
	e->conninfo = text;
	text = NULL;
	e->timeout_ms = timeout_ms;
	if ((e->wconn = connect_db(
		 e->conninfo, timeout_ms, prepare, why, sizeof(why))) == NULL) {
		r = brk_error_set(err, BRK_ERR_UNREACHABLE,
		    "store: cannot connect to PostgreSQL: %s", why);
		goto out;
	}
	__atomic_store_n(&e->wpid, PQbackendPID(e->wconn), __ATOMIC_RELEASE);
	*out = e;
	e = NULL;
	r = 0;
out:
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	p_free(e);
	return r;
}

/* The schema version, 0 when there is no schema yet. */
static int
schema_version(PGconn *conn, int *v, struct brk_error *err)
{
	PGresult *res = PQexec(conn, "SELECT version FROM broker_schema");
	char buf[300], *end = NULL;
	long n;
	int r = 0;

	*v = 0;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		errno = 0;
		n = strtol(PQgetvalue(res, 0, 0), &end, 10);
		if (errno != 0 || *end != '\0' || n < 0 || n > 1000000)
			r = brk_error_set(err, BRK_ERR_INVALID,
			    "store: the schema version is not a number");
		else
			*v = (int)n;
	} else if (strcmp(sqlstate(res), "42P01") != 0) /* no such table */
		r = brk_error_set(err, BRK_ERR_IO,
		    "store: cannot read the schema version: %s",
		    one_line(PQresultErrorMessage(res), buf, sizeof(buf)));
	PQclear(res);
	return r;
}

int
store_pg_open(
    const char *path, int timeout_ms, void **out, struct brk_error *err)
{
	struct pgenv *e = NULL;
	char why[300];
	int r, v = 0;

	*out = NULL;
	if ((r = env_new(path, timeout_ms, false, &e, err)) != 0 ||
	    (r = schema_version(e->wconn, &v, err)) != 0)
		goto out;
	r = BRK_ERR_STATE;
	if (v == 0) {
		brk_error_set(err, r,
		    "store: the database has no broker schema yet: run "
		    "`brokerd -c CONFIG --migrate` first");
		goto out;
	}
	if (v > SCHEMA_VERSION) {
		brk_error_set(err, r,
		    "store: the database schema is version %d, newer than "
		    "this broker knows (%d): run a broker of that version",
		    v, SCHEMA_VERSION);
		goto out;
	}
	if (v < SCHEMA_VERSION) {
		brk_error_set(err, r,
		    "store: the database schema is version %d, this broker "
		    "needs %d: run `brokerd -c CONFIG --migrate`",
		    v, SCHEMA_VERSION);
		goto out;
	}
	if (prepare_all(e->wconn, why, sizeof(why)) != 0) {
		r = brk_error_set(err, BRK_ERR_IO, "store: %s", why);
		goto out;
	}
	log_info("event=store_open backend=postgres schema=%d", v);
	*out = e;
	e = NULL;
	r = 0;
out:
	p_free(e);
	return r;
}

int
store_pg_migrate(const char *path, int timeout_ms, struct brk_error *err)
{
	struct pgenv *e = NULL;
	struct ptxn t = { 0 };
	char sql[300];
	int r, v = 0, i;

	if ((r = env_new(path, timeout_ms, false, &e, err)) != 0)
		goto out;
	t.e = e;
	t.top = &t;
	t.conn = e->wconn;
	r = BRK_ERR_IO;
	/* two brokers migrating at once: one waits for the other; the
	 * version row is locked until the migration commits */
	if (cmd(&t, "BEGIN") != 0 ||
	    cmd(&t, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")") != 0 ||
	    cmd(&t,
		"CREATE TABLE IF NOT EXISTS broker_schema "
		"(one boolean PRIMARY KEY DEFAULT true CHECK (one), "
		"version int NOT NULL)") != 0 ||
	    cmd(&t,
		"INSERT INTO broker_schema (version) VALUES (0) "
		"ON CONFLICT DO NOTHING") != 0 ||
	    cmd(&t, "SELECT 1 FROM broker_schema FOR UPDATE") != 0)
		goto fail;
	if ((r = schema_version(e->wconn, &v, err)) != 0)
		goto out;
	if (v > SCHEMA_VERSION) {
		r = brk_error_set(err, BRK_ERR_STATE,
		    "store: the database schema is version %d, newer than "
		    "this broker knows (%d): not touched",
		    v, SCHEMA_VERSION);
		goto out;
	}
	r = BRK_ERR_IO;
	for (i = v; i < SCHEMA_VERSION; i++)
		if (cmd(&t, migrations[i]) != 0)
			goto fail;
	snprintf(sql, sizeof(sql), "UPDATE broker_schema SET version = %d",
	    SCHEMA_VERSION);
	if (cmd(&t, sql) != 0 || cmd(&t, "COMMIT") != 0)
		goto fail;
	if (v == SCHEMA_VERSION)
		printf("brokerd: the schema is at version %d already\n", v);
	else
		printf("brokerd: the schema is at version %d (was %d)\n",
		    SCHEMA_VERSION, v);
	r = 0;
	goto out;
fail:
	brk_error_set(err, r, "store: the migration failed: %s",
	    one_line(PQerrorMessage(e->wconn), sql, sizeof(sql)));
out:
	p_free(e); /* an unfinished transaction dies with the connection */
	return r;
}

static void
p_free(void *env)
{
	struct pgenv *e = env;

	if (e == NULL)
		return;
	PQfinish(e->wconn);
	PQfinish(e->lconn); /* the server drops the leader's lock */
	PQfinish(e->nconn);
	while (e->nidle > 0)
		PQfinish(e->idle[--e->nidle]);
	secret_free(e->conninfo);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->wlock);
	pthread_mutex_destroy(&e->llock);
	free(e);
}

/* The writer connection, reconnected if it broke; e->wlock held. */
static int
writer_conn(struct pgenv *e)
{
	char why[300];

	if (e->wconn != NULL && PQstatus(e->wconn) == CONNECTION_OK)
		return 0;
	PQfinish(e->wconn);
	if ((e->wconn = connect_db(
		 e->conninfo, e->timeout_ms, true, why, sizeof(why))) == NULL) {
		log_error("event=store_pg_unreachable error=\"%s\"", why);
		return BRK_ERR_IO;
	}
	__atomic_store_n(&e->wpid, PQbackendPID(e->wconn), __ATOMIC_RELEASE);
	log_info("event=store_pg_reconnected");
	return 0;
}

/*
 * A connection that broke while idle (PostgreSQL restarted, a failover)
 * is only found out at its next use: when BEGIN finds it broken, nothing
 * was done yet, so take a new connection and begin again, once.
 */
static int
begin_top(struct ptxn *t)
{
	int r = 0, tries;

	for (tries = 0; tries < 2; tries++) {
		t->failed = t->conflict = false;
		if (t->write) {
			pthread_mutex_lock(&t->e->wlock);
			if ((r = writer_conn(t->e)) != 0) {
				pthread_mutex_unlock(&t->e->wlock);
				return r;
			}
			t->conn = t->e->wconn;
			/* writers of all brokers queue on the table lock,
			 * taken before the snapshot (LOCK TABLE takes none):
			 * batches run one after another and see each
			 * other's commits, instead of failing on a
			 * serialization conflict and running again; readers
			 * (ACCESS SHARE) never wait for it */
			if ((r = cmd(t,
				 "BEGIN ISOLATION LEVEL SERIALIZABLE; "
				 "LOCK TABLE broker_kv IN SHARE ROW "
				 "EXCLUSIVE MODE")) == 0)
				break;
			pthread_mutex_unlock(&t->e->wlock);
		} else {
			if ((r = pool_take(t->e, &t->conn)) != 0)
				return r;
			if ((r = cmd(t,
				 "BEGIN ISOLATION LEVEL REPEATABLE READ "
				 "READ ONLY")) == 0)
				break;
			PQfinish(t->conn);
			t->conn = NULL;
		}
		if (t->conn != NULL && PQstatus(t->conn) == CONNECTION_OK)
			return r; /* not a broken connection */
		t->conn = NULL;
	}
	if (r != 0)
		return r;
	t->open = true;
	return 0;
}

/* End a top-level transaction: rollback unless committed already. */
static void
end_top(struct ptxn *t)
{
	PGresult *res;

	drop_results(t);
	pend_drop(t);
	if (!t->open)
		return;
	t->open = false;
	if (PQtransactionStatus(t->conn) != PQTRANS_IDLE) {
		res = PQexec(t->conn, "ROLLBACK");
		PQclear(res);
	}
	if (t->write)
		pthread_mutex_unlock(&t->e->wlock);
	else
		pool_give(t->e, t->conn);
	t->conn = NULL;
}

static void
txn_free(struct ptxn *t)
{
	free(t->pend);
	free(t->res);
	free(t);
}

static int
p_begin(void *env, void *parent, bool write, void **out)
{
	struct ptxn *t, *p = parent;
	char sql[48];
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return BRK_ERR_NOMEM;
	t->e = env;
	if (p != NULL) {
		t->top = p->top;
		t->conn = p->conn;
		t->write = true;
		t->depth = p->depth + 1;
		if (p->failed || !p->write) {
			free(t);
			return BRK_ERR_STATE;
		}
		snprintf(sql, sizeof(sql), "SAVEPOINT s%d", t->depth);
		/* held puts are the parent's: sent before the savepoint,
		 * so that what a rollback to it drops is only the child's */
		if ((r = flush(p)) != 0 || (r = cmd(t, sql)) != 0) {
			p->failed = true;
			free(t);
			return r;
		}
		t->open = true;
	} else {
		t->top = t;
		t->write = write;
		if ((r = begin_top(t)) != 0) {
			free(t);
			return r;
		}
	}
	*out = t;
	return 0;
}

static int
p_commit(void *txn, bool *synced)
{
	struct ptxn *t = txn;
	PGresult *res;
	char sql[48];
	int r = 0;

	*synced = false;
	if (t->depth > 0) {
		if (!t->failed && (r = flush(t)) != 0)
			t->failed = true;
		if (t->failed) {
			/* a failed child commits nothing: undo it so the
			 * parent can go on, and say it failed */
			snprintf(sql, sizeof(sql), "ROLLBACK TO SAVEPOINT s%d",
			    t->depth);
			pend_drop(t->top);
			t->failed = false;
			if (cmd(t, sql) != 0)
				t->top->failed = true;
			if (r == 0)
				r = BRK_ERR_STATE;
		} else {
			snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT s%d",
			    t->depth);
			if ((r = cmd(t, sql)) != 0)
				t->top->failed = true;
		}
		free(t);
		return r;
	}
	if (!t->write) {
		end_top(t);
		txn_free(t);
		return 0;
	}
	if (!t->failed)
		flush(t);
	if (t->failed) {
		r = t->conflict ? BRK_ERR_BUSY : BRK_ERR_STATE;
		end_top(t);
		txn_free(t);
		return r;
	}
	/* a batch that wrote tells the other brokers' followers (p_wait);
	 * PostgreSQL delivers a NOTIFY only once its transaction committed,
	 * so never before the data is visible */
	res = PQexec(
	    t->conn, t->gen > 0 ? "NOTIFY " CHANNEL "; COMMIT" : "COMMIT");
	/* a COMMIT of a transaction that failed answers ROLLBACK */
	if (PQresultStatus(res) != PGRES_COMMAND_OK ||
	    strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		r = map_err(t->conn, res);
		if (r == BRK_ERR_BUSY)
			t->conflict = true;
		else {
			log_failure(t->conn, res, "commit");
			/* the connection broke during COMMIT: it may or
			 * may not have committed (writer.h: BRK_ERR_IO) */
			if (r == BRK_ERR_UNREACHABLE)
				r = BRK_ERR_IO;
		}
	} else {
		pthread_mutex_lock(&t->e->lock);
		t->e->commits++;
		pthread_mutex_unlock(&t->e->lock);
		*synced = t->gen > 0;
	}
	PQclear(res);
	end_top(t);
	txn_free(t);
	return r;
}

static void
p_abort(void *txn)
{
	struct ptxn *t = txn;
	char sql[96];

	if (t == NULL)
		return;
	if (t->depth > 0) {
		snprintf(sql, sizeof(sql),
		    "ROLLBACK TO SAVEPOINT s%d; RELEASE SAVEPOINT s%d",
		    t->depth, t->depth);
		pend_drop(t->top);
		t->failed = false;
		if (cmd(t, sql) != 0)
			t->top->failed = true;
	} else
		end_top(t);
	txn_free(t);
}

static int
p_renew(void *txn)
{
	struct ptxn *t = txn;

	if (t->open)
		return 0;
	return begin_top(t);
}

static void
p_reset(void *txn)
{
	end_top(txn);
}

static bool
p_conflicted(void *txn)
{
	return ((struct ptxn *)txn)->top->conflict;
}

static int
p_get(void *txn, enum store_table tbl, const void *key, size_t klen,
    struct store_val *val)
{
	PGresult *res;
	int r;

	if ((r = run(txn, ST_GET, (int)tbl, key, klen, NULL, 0, 0, &res)) != 0)
		return r;
	if (PQntuples(res) != 1)
		return BRK_ERR_NOTFOUND;
	val->data = PQgetvalue(res, 0, 0);
	val->len = (size_t)PQgetlength(res, 0, 0);
	return 0;
}

static int
p_put(void *txn, enum store_table tbl, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	struct ptxn *t = txn;
	int r;

	if (!t->write)
		return BRK_ERR_READONLY;
	if (t->failed)
		return BRK_ERR_STATE;
	if ((r = pend_put(t, (int)tbl, key, klen, val, vlen)) != 0)
		return r;
	t->top->gen++;
	return 0;
}

static int
p_del(void *txn, enum store_table tbl, const void *key, size_t klen)
{
	struct ptxn *t = txn;
	PGresult *res;
	int r;

	if (!t->write)
		return BRK_ERR_READONLY;
	if ((r = run(t, ST_DEL, (int)tbl, key, klen, NULL, 0, 0, &res)) != 0)
		return r;
	if (strcmp(PQcmdTuples(res), "0") == 0)
		return BRK_ERR_NOTFOUND;
	t->top->gen++;
	return 0;
}

static int
p_cursor_open(void *txn, enum store_table tbl, void **out)
{
	struct pcur *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BRK_ERR_NOMEM;
	c->t = txn;
	c->tbl = (int)tbl;
	c->want = CHUNK_MIN;
	*out = c;
	return 0;
}

static void
p_cursor_close(void *cur)
{
	free(cur);
}

static void
row(struct pcur *c, struct store_val *k, struct store_val *v)
{
	if (k != NULL) {
		k->data = PQgetvalue(c->chunk, c->pos, 0);
		k->len = (size_t)PQgetlength(c->chunk, c->pos, 0);
	}
	if (v != NULL) {
		v->data = PQgetvalue(c->chunk, c->pos, 1);
		v->len = (size_t)PQgetlength(c->chunk, c->pos, 1);
	}
}

/* Fetch a chunk with st from key; the cursor moves only if it found a
 * row. */
static int
fetch(struct pcur *c, enum stmt st, const void *key, size_t klen,
    struct store_val *k, struct store_val *v)
{
	PGresult *res;
	int r, want = c->want;

	if ((r = run(c->t, st, c->tbl, key, klen, NULL, 0, want, &res)) != 0)
		return r;
	if (c->want < CHUNK_MAX)
		c->want *= 2; /* a scan: fewer round trips */
	if (PQntuples(res) == 0)
		return BRK_ERR_NOTFOUND;
	c->chunk = res;
	c->n = PQntuples(res);
	c->pos = 0;
	c->asc = st != ST_LT && st != ST_LAST;
	c->last = c->n < want;
	c->placed = true;
	c->gen = c->t->top->gen;
	row(c, k, v);
	return 0;
}

static int
p_cursor_get(void *cur, enum store_seek op, const void *key, size_t klen,
    struct store_val *k, struct store_val *v)
{
	struct pcur *c = cur;
	const void *ck;
	size_t cklen;
	bool fresh;
	int step;

	switch (op) {
	case SEEK_GE:
		c->want = CHUNK_MIN;
		return fetch(c, ST_GE, key, klen, k, v);
	case SEEK_FIRST:
		c->want = CHUNK_MIN;
		return fetch(c, ST_GE, "", 0, k, v);
	case SEEK_LAST:
		c->want = CHUNK_MIN;
		return fetch(c, ST_LAST, "", 0, k, v);
	case SEEK_NEXT:
	case SEEK_PREV:
		break;
	}
	if (!c->placed) /* as LMDB: next/prev of a new cursor */
		return p_cursor_get(
		    c, op == SEEK_NEXT ? SEEK_FIRST : SEEK_LAST, NULL, 0, k, v);
	/* the chunk is good while the transaction has not written since */
	fresh = c->gen == c->t->top->gen;
	step = (op == SEEK_NEXT) == c->asc ? 1 : -1;
	if (fresh && c->pos + step >= 0 && c->pos + step < c->n) {
		c->pos += step;
		row(c, k, v);
		return 0;
	}
	if (fresh && step == 1 && c->last)
		return BRK_ERR_NOTFOUND;
	ck = PQgetvalue(c->chunk, c->pos, 0);
	cklen = (size_t)PQgetlength(c->chunk, c->pos, 0);
	return fetch(c, op == SEEK_NEXT ? ST_GT : ST_LT, ck, cklen, k, v);
}

static int
p_set_lazy_meta(void *env, bool on)
{
	(void)env;
	(void)on;
	return 0; /* every COMMIT is durable when it returns */
}

static int
p_sync(void *env)
{
	(void)env;
	return 0; /* nothing committed waits for a sync */
}

static uint64_t
p_syncs(void *env)
{
	struct pgenv *e = env;
	uint64_t n;

	pthread_mutex_lock(&e->lock);
	n = e->commits;
	pthread_mutex_unlock(&e->lock);
	return n;
}

static void
p_durability(void *env, uint64_t *committed, uint64_t *durable)
{
	*committed = *durable = p_syncs(env);
}

/* --- the cluster's leader (store.h) --------------------------------- */

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_leading(struct pgenv *e, bool on)
{
	if (on != __atomic_load_n(&e->leading, __ATOMIC_ACQUIRE))
		log_info("event=store_leader %s", on ? "acquired" : "lost");
	__atomic_store_n(&e->leading, on, __ATOMIC_RELEASE);
}

/*
 * Lead or stand by.  A leader checks that its session lives (the lock
 * lives as long as it); a broker standing by tries the lock.  A session
 * that failed is closed: if it led, its lock went with it, and another
 * broker (or this one, at a later poll) takes it.  Two brokers may both
 * think they lead only between a leader's session breaking and its next
 * poll noticing, LEADER_POLL_MS at most once the server sees the break.
 */
static void
p_leader_poll(void *env)
{
	struct pgenv *e = env;
	PGresult *res = NULL;
	char why[300];
	bool was = __atomic_load_n(&e->leading, __ATOMIC_ACQUIRE), ok;
	int64_t now = mono_ms();

	pthread_mutex_lock(&e->llock);
	if (e->polled_ms != 0 && now - e->polled_ms < LEADER_POLL_MS)
		goto out;
	e->polled_ms = now;
	if (e->lconn != NULL && PQstatus(e->lconn) != CONNECTION_OK) {
		PQfinish(e->lconn);
		e->lconn = NULL;
	}
	if (e->lconn == NULL) {
		set_leading(e, false);
		if ((e->lconn = connect_db(e->conninfo, e->timeout_ms, false,
			 why, sizeof(why))) == NULL) {
			if (!e->said_down)
				log_error("event=store_pg_unreachable "
					  "what=leader error=\"%s\"",
				    why);
			e->said_down = true;
			goto out;
		}
		e->said_down = false;
		was = false;
	}
	res = PQexec(e->lconn,
	    was ? "SELECT true" :
		  "SELECT pg_try_advisory_lock(" LEADER_LOCK ")");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (!ok) {
		log_failure(e->lconn, res, "leader");
		PQfinish(e->lconn);
		e->lconn = NULL;
		set_leading(e, false);
		goto out;
	}
	set_leading(e, strcmp(PQgetvalue(res, 0, 0), "t") == 0);
out:
	PQclear(res);
	pthread_mutex_unlock(&e->llock);
}

static bool
p_leader(void *env)
{
	return __atomic_load_n(
	    &((struct pgenv *)env)->leading, __ATOMIC_ACQUIRE);
}

static int
p_mark_get(void *env, const char *name, uint64_t *seq)
{
	struct pgenv *e = env;
	const char *vals[1] = { name };
	PGresult *res;
	int r = BRK_ERR_IO;

	*seq = 0;
	pthread_mutex_lock(&e->llock);
	if (e->lconn == NULL)
		goto out;
	res = PQexecParams(e->lconn,
	    "SELECT seq FROM broker_marks WHERE name = $1", 1, NULL, vals, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		log_failure(e->lconn, res, "mark_get");
	else if (PQntuples(res) != 1)
		r = BRK_ERR_NOTFOUND;
	else {
		*seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		r = 0;
	}
	PQclear(res);
out:
	pthread_mutex_unlock(&e->llock);
	return r;
}

static int
p_mark_put(void *env, const char *name, uint64_t seq)
{
	struct pgenv *e = env;
	char num[24];
	const char *vals[2] = { name, num };
	PGresult *res;
	int r = BRK_ERR_STATE;

	snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
	pthread_mutex_lock(&e->llock);
	/* only the leader's own session: a deposed leader writes nothing */
	if (e->lconn == NULL || !p_leader(e))
		goto out;
	res = PQexecParams(e->lconn,
	    "INSERT INTO broker_marks (name, seq) VALUES ($1, $2) "
	    "ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq",
	    2, NULL, vals, NULL, NULL, 0);
	r = 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_failure(e->lconn, res, "mark_put");
		r = BRK_ERR_IO;
	}
	PQclear(res);
out:
	pthread_mutex_unlock(&e->llock);
	return r;
}

/*
 * The server's snapshot as text (xmin:xmax:in-progress xids): two equal
 * ones see exactly the same commits, so a change of the text is how a
 * broker learns that any broker committed (store_follow_poll).
 */
static int
p_snapshot(void *env, char *buf, size_t len)
{
	void *h = NULL;
	struct ptxn *t;
	PGresult *res = NULL;
	int r;

	buf[0] = '\0';
	if ((r = p_begin(env, NULL, false, &h)) != 0)
		return r;
	t = h;
	res = PQexec(t->conn, "SELECT pg_current_snapshot()::text");
	r = BRK_ERR_IO;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_failure(t->conn, res, "snapshot");
		t->failed = true;
		goto out;
	}
	snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
	r = 0;
out:
	PQclear(res);
	p_abort(h);
	return r;
}

/* --- the follower's announcements (store_follow_wait) ------------- */

/* A session that LISTENs, under a name of its own in pg_stat_activity. */
static PGconn *
listen_connect(struct pgenv *e)
{
	PGconn *c;
	PGresult *res;
	char why[300];

	if ((c = connect_db(e->conninfo, e->timeout_ms, false, why,
		 sizeof(why))) == NULL) {
		if (!e->nsaid_down)
			log_error("event=store_pg_unreachable what=listen "
				  "error=\"%s\"",
			    why);
		e->nsaid_down = true;
		return NULL;
	}
	res = PQexec(
	    c, "SET application_name = 'brokerd-listen'; LISTEN " CHANNEL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_failure(c, res, "listen");
		PQclear(res);
		PQfinish(c);
		return NULL;
	}
	PQclear(res);
	e->nsaid_down = false;
	log_info("event=store_pg_listening channel=" CHANNEL);
	return c;
}

/*
 * Wait for another session's commit to be announced, wake_fd or the
 * time.  A listening session lost (PostgreSQL restarted, the session
 * ended) is closed; the next call makes a new one and answers 1 at once,
 * since what was announced meanwhile is lost.  Notifications of our own
 * writer are not news: its commits moved the generation already.
 */
static int
p_wait(void *env, int wake_fd, int timeout_ms)
{
	struct pgenv *e = env;
	struct pollfd pfd[2];
	PGnotify *nf;
	int64_t end = mono_ms() + timeout_ms, left;
	int n, nfds, own, news;

	if (e->nconn != NULL && PQstatus(e->nconn) != CONNECTION_OK) {
		PQfinish(e->nconn);
		e->nconn = NULL;
	}
	if (e->nconn == NULL && (e->nconn = listen_connect(e)) != NULL)
		return 1;
	for (;;) {
		left = end - mono_ms();
		if (left < 0)
			left = 0;
		pfd[0] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
		nfds = 1;
		if (e->nconn != NULL) {
			pfd[1] = (struct pollfd){ .fd = PQsocket(e->nconn),
				.events = POLLIN };
			nfds = 2;
		}
		n = poll(pfd, (nfds_t)nfds, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pfd[0].revents != 0)
			return 0;
		if (nfds < 2 || pfd[1].revents == 0)
			continue;
		if (PQconsumeInput(e->nconn) == 0 ||
		    PQstatus(e->nconn) != CONNECTION_OK) {
			log_failure(e->nconn, NULL, "listen");
			PQfinish(e->nconn);
			e->nconn = NULL;
			return 0; /* the caller re-reads; the next call listens */
		}
		own = __atomic_load_n(&e->wpid, __ATOMIC_ACQUIRE);
		news = 0;
		while ((nf = PQnotifies(e->nconn)) != NULL) {
			if (nf->be_pid != own)
				news = 1;
			PQfreemem(nf);
		}
		if (news)
			return 1;
	}
}

const struct store_backend store_pg_backend = {
	.name = "postgres",
	.free = p_free,
	.begin = p_begin,
	.commit = p_commit,
	.abort = p_abort,
	.renew = p_renew,
	.reset = p_reset,
	.conflicted = p_conflicted,
	.get = p_get,
	.put = p_put,
	.del = p_del,
	.cursor_open = p_cursor_open,
	.cursor_close = p_cursor_close,
	.cursor_get = p_cursor_get,
	.set_lazy_meta = p_set_lazy_meta,
	.sync = p_sync,
	.syncs = p_syncs,
	.durability = p_durability,
	.leader_poll = p_leader_poll,
	.leader = p_leader,
	.mark_get = p_mark_get,
	.mark_put = p_mark_put,
	.snapshot = p_snapshot,
	.wait = p_wait,
};
