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
 * transactions are savepoints, sent when needed.  A write transaction
 * remembers what it read and holds its puts (see "what a write transaction
 * knows"), and begins and commits in one flight each (begin_write(),
 * puts_and_commit()).
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
#define PEND_MAX 4096
#define PEND_BYTES ((size_t)4 << 20)
#define ARENA_BLK ((size_t)64 << 10)

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

/* A key the writer read (begin_write()). */
struct hotkey {
	int tbl;
	uint8_t *k;
	size_t klen;
};
#define HOT_MAX 32

struct pgenv {
	char *conninfo; /* may hold a password: wiped on free */
	int timeout_ms;
	pthread_mutex_t wlock; /* the writer connection, one write txn */
	PGconn *wconn;
	struct hotkey hot[HOT_MAX]; /* wlock: read by the last write txn */
	size_t nhot;
	struct hotkey hrange; /* wlock: its first range read, if hr_st */
	int hr_st, hr_limit;
	pthread_mutex_t lock; /* guards what follows */
	PGconn *idle[POOL_MAX];
	size_t nidle;
	uint64_t commits;
	/* test knob BROKER_STORE_UNSAFE_CONFLICT=N: every Nth write
	 * transaction that wrote loses a conflict at its commit */
	unsigned conflict_every, conflict_n;
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

/* The bytes a transaction keeps until it ends (arena_copy()). */
struct ablk {
	struct ablk *next;
	size_t used, cap;
	uint8_t data[];
};

enum {
	KNOWN_NO,
	KNOWN_ABSENT,
	KNOWN_PRESENT
};

/* A key a write transaction touched (see "what a write transaction
 * knows" below). */
struct slot {
	int tbl;
	uint32_t hash;
	const uint8_t *k;
	size_t klen;
	ssize_t pidx; /* its newest held put, or -1 */
	bool got;     /* a get asked for it */
	int known;    /* what the server holds for it, if KNOWN_PRESENT: */
	const void *sv;
	size_t svlen;
};

/* A put not yet sent (see flush()). */
struct pput {
	struct slot *s;
	const uint8_t *v;
	size_t vlen;
	ssize_t shadows;     /* an older held put of the key, or -1 */
	ssize_t shadowed_by; /* a newer one, or -1 */
};

/* An open child: its first held put; whether its SAVEPOINT was sent. */
struct level {
	size_t mark;
	bool sp;
};

/* A range read's result, good while its table is unchanged on the
 * server (sgen). */
struct rcache {
	int st, tbl, limit;
	const uint8_t *k;
	size_t klen;
	uint64_t sgen;
	PGresult *res;
};
#define RCACHE_N 8

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
	/* top: what a write transaction knows, its held puts */
	struct ablk *arena;
	struct slot **slots;
	size_t nslots, scap;
	struct pput *pend;
	size_t npend, pcap, pbytes;
	size_t pcount[TBL__COUNT]; /* held puts per table */
	uint64_t tgen[TBL__COUNT]; /* writes per table, for cursors */
	uint64_t sgen[TBL__COUNT]; /* changes sent to the server */
	struct level *lv;	   /* open children, innermost last */
	size_t nlv, lvcap;
	struct rcache rc[RCACHE_N]; /* recent range reads */
	unsigned rcnext;
	struct slot *pre[HOT_MAX];  /* keys prefetched, */
	struct slot *miss[HOT_MAX]; /* keys read from the server */
	size_t npre, nmiss;
	struct rcache *first; /* its first range read from the server */
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
	ST_GETMANY,
	ST__N
};

static const char *const stmt_name[ST__N] = { "g", "p", "d", "ge", "gt", "lt",
	"last", "pm", "gm" };
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
	/* one index lookup per key, whatever the statistics say: as "(tbl,
	 * k) IN (SELECT * FROM unnest(...))" a session that prepared it
	 * while the table was small could keep a generic plan that hashes
	 * the keys and scans the whole table, every write transaction, and
	 * under SERIALIZABLE that scan conflicts with every other writer
	 * (tests/integration/t_pgplan.sh) */
	"SELECT b.tbl, b.k, b.v FROM unnest($1::int2[], $2::bytea[]) "
	"AS q(t, key) CROSS JOIN LATERAL (SELECT tbl, k, v FROM broker_kv "
	"WHERE tbl = q.t AND k = q.key LIMIT 1) b",
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
		{ 21, 17, 23 }, { 1005, 1001, 1001 }, { 1005, 1001 } };
	PGresult *res;
	int i;

	for (i = 0; i < ST__N; i++) {
		res = PQprepare(conn, stmt_name[i], stmt_sql[i],
		    i == ST_GET || i == ST_DEL || i == ST_GETMANY ? 2 : 3,
		    types[i]);
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

static void fail(struct ptxn *t);

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
		fail(t);
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

/* --- what a write transaction knows: held puts, values read --------- */

/*
 * A transaction sees one snapshot plus its own writes (SERIALIZABLE), so
 * what it read or wrote once need not be asked again: a write transaction
 * keeps an overlay of the keys it touched.  A key's slot holds its newest
 * held put (not yet sent) and, when known, what the server holds for it.
 * Puts are held and sent together, as one INSERT of arrays, only when
 * something needs them on the server: a range read of their table, a
 * delete, the commit, or PEND_MAX of them.  A grant makes some 20 puts and
 * reads keys that every grant of the batch reads again (counters, the
 * audit chain head, the user's rate and flag), and the same range of
 * opt-outs: with the overlay a whole batch is a few statements instead of
 * a dozen per grant, so the writers of all brokers hold the table lock
 * that much shorter.
 *
 * Nested transactions are savepoints, sent only when needed: a child that
 * sends no write (its reads are plain reads, its puts are held) is undone
 * by dropping its held puts.  Before a child sends a write (a delete, or
 * puts a range read needs), the puts held for its parents are sent, then
 * SAVEPOINT: what a rollback to it undoes is only the child's.  A child's
 * put of a key that a parent holds is appended, the parent's kept behind
 * it (shadowed), so that undoing the child brings the parent's back.  A
 * statement that fails where no savepoint was sent (a held put failing at
 * the commit, a read) fails the whole transaction: every op of the batch
 * gets the error and nothing is acknowledged that was not committed.
 *
 * Every value handed out (a held put, a row) stays valid until the
 * transaction ends (store.h): bytes are copied into the transaction's
 * arena, results are kept.
 */
static void *
arena_copy(struct ptxn *top, const void *p, size_t len)
{
	struct ablk *b = top->arena;
	size_t need = (len + 7) & ~(size_t)7, cap;
	uint8_t *d;

	if (b == NULL || b->cap - b->used < need) {
		cap = need > ARENA_BLK ? need : ARENA_BLK;
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->next = top->arena;
		b->used = 0;
		b->cap = cap;
		top->arena = b;
	}
	d = b->data + b->used;
	b->used += need;
	if (p != NULL && len > 0)
		memcpy(d, p, len);
	else if (len > 0)
		memset(d, 0, len);
	return d;
}

static uint32_t
key_hash(int tbl, const void *key, size_t klen)
{
	const uint8_t *p = key;
	uint32_t h = (2166136261u ^ (uint32_t)tbl) * 16777619u;
	size_t i;

	for (i = 0; i < klen; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* A key's slot; NULL when the transaction never touched it (or, with
 * add, when out of memory). */
static struct slot *
slot_get(struct ptxn *top, int tbl, const void *key, size_t klen, bool add)
{
	uint32_t h = key_hash(tbl, key, klen);
	size_t i, j, mask, cap;
	struct slot *s, **n;

	if (top->scap > 0) {
		mask = top->scap - 1;
		for (i = h & mask; (s = top->slots[i]) != NULL;
		     i = (i + 1) & mask)
			if (s->hash == h && s->tbl == tbl && s->klen == klen &&
			    (klen == 0 || memcmp(s->k, key, klen) == 0))
				return s;
	}
	if (!add)
		return NULL;
	if ((top->nslots + 1) * 2 > top->scap) {
		cap = top->scap > 0 ? top->scap * 2 : 64;
		if ((n = calloc(cap, sizeof(*n))) == NULL)
			return NULL;
		for (j = 0; j < top->scap; j++) {
			if ((s = top->slots[j]) == NULL)
				continue;
			for (i = s->hash & (cap - 1); n[i] != NULL;
			     i = (i + 1) & (cap - 1))
				;
			n[i] = s;
		}
		free(top->slots);
		top->slots = n;
		top->scap = cap;
	}
	if ((s = arena_copy(top, NULL, sizeof(*s))) == NULL ||
	    (s->k = arena_copy(top, key, klen)) == NULL)
		return NULL;
	s->tbl = tbl;
	s->hash = h;
	s->klen = klen;
	s->pidx = -1;
	s->known = KNOWN_NO;
	mask = top->scap - 1;
	for (i = h & mask; top->slots[i] != NULL; i = (i + 1) & mask)
		;
	top->slots[i] = s;
	top->nslots++;
	return s;
}

/* The server's state changed under the overlay (a rollback to a
 * savepoint): forget what was read. */
static void
forget_server(struct ptxn *top)
{
	size_t i;

	for (i = 0; i < top->scap; i++)
		if (top->slots[i] != NULL)
			top->slots[i]->known = KNOWN_NO;
	for (i = 0; i < TBL__COUNT; i++) {
		top->sgen[i]++;
		top->tgen[i]++;
	}
}

static void
overlay_drop(struct ptxn *top)
{
	struct ablk *b;

	while ((b = top->arena) != NULL) {
		top->arena = b->next;
		free(b);
	}
	free(top->slots);
	top->slots = NULL;
	top->scap = top->nslots = 0;
	top->npend = top->pbytes = 0;
	top->nlv = 0;
	top->npre = top->nmiss = 0;
	top->first = NULL;
	memset(top->pcount, 0, sizeof(top->pcount));
	memset(top->sgen, 0, sizeof(top->sgen));
	memset(top->rc, 0, sizeof(top->rc));
}

/* A statement of t failed: a child is undone to its savepoint, if it
 * sent one; else the whole transaction failed. */
static void
fail(struct ptxn *t)
{
	struct ptxn *top = t->top;

	t->failed = true;
	if (t->depth == 0 || top->nlv < (size_t)t->depth ||
	    !top->lv[t->depth - 1].sp)
		top->failed = true;
}

/* Held put i is sent with the first n only if no later one of the same
 * key is among them. */
static bool
superseded(const struct ptxn *top, size_t i, size_t n)
{
	ssize_t by = top->pend[i].shadowed_by;

	return by >= 0 && (size_t)by < n;
}

static void
arr_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A one-dimensional array in PostgreSQL's binary format (array_recv) of
 * the first n held puts' tables (which 0), keys (1) or values (2). */
static uint8_t *
arr_build(const struct ptxn *top, size_t n, int which, size_t *len)
{
	size_t i, m = 0, sz = 20, l;
	uint8_t *b, *p;

	for (i = 0; i < n; i++)
		if (!superseded(top, i, n)) {
			m++;
			sz += 4 +
			    (which == 0	       ? 2 :
				    which == 1 ? top->pend[i].s->klen :
						 top->pend[i].vlen);
		}
	if (sz > 0x7fffffff || (b = malloc(sz)) == NULL)
		return NULL;
	arr_be32(b, 1);			       /* dimensions */
	arr_be32(b + 4, 0);		       /* no NULLs */
	arr_be32(b + 8, which == 0 ? 21 : 17); /* int2, bytea */
	arr_be32(b + 12, (uint32_t)m);
	arr_be32(b + 16, 1); /* lower bound */
	p = b + 20;
	for (i = 0; i < n; i++) {
		const struct pput *e = &top->pend[i];

		if (superseded(top, i, n))
			continue;
		if (which == 0) {
			arr_be32(p, 2);
			p[4] = (uint8_t)(e->s->tbl >> 8);
			p[5] = (uint8_t)e->s->tbl;
			p += 6;
		} else {
			l = which == 1 ? e->s->klen : e->vlen;
			arr_be32(p, (uint32_t)l);
			if (l > 0)
				memcpy(p + 4, which == 1 ? e->s->k : e->v, l);
			p += 4 + l;
		}
	}
	*len = sz;
	return b;
}

/* Send the first n held puts in one statement; on success they leave the
 * list and the overlay knows them as the server's. */
static int
send_puts(struct ptxn *t, size_t n)
{
	struct ptxn *top = t->top;
	const char *vals[3] = { NULL, NULL, NULL };
	int lens[3], fmts[3] = { 1, 1, 1 }, i, r = 0;
	size_t len, j;
	struct pput *e;
	PGresult *res;

	if (n == 0)
		return 0;
	if (t->failed || top->failed)
		return BRK_ERR_STATE;
	for (i = 0; i < 3; i++) {
		if ((vals[i] = (const char *)arr_build(top, n, i, &len)) ==
		    NULL) {
			r = BRK_ERR_NOMEM;
			fail(t);
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
		fail(t);
	}
	PQclear(res);
	if (r != 0)
		goto out;
	for (j = 0; j < n; j++) {
		e = &top->pend[j];
		top->pcount[e->s->tbl]--;
		top->pbytes -= e->s->klen + e->vlen;
		if (!superseded(top, j, n)) {
			e->s->known = KNOWN_PRESENT;
			e->s->sv = e->v;
			e->s->svlen = e->vlen;
			top->sgen[e->s->tbl]++;
		}
		if (e->s->pidx == (ssize_t)j)
			e->s->pidx = -1;
	}
	memmove(top->pend, top->pend + n, (top->npend - n) * sizeof(*e));
	top->npend -= n;
	for (j = 0; j < top->npend; j++) {
		e = &top->pend[j];
		if (e->shadows >= 0)
			e->shadows = (size_t)e->shadows < n ?
			    -1 :
			    e->shadows - (ssize_t)n;
		if (e->shadowed_by >= 0)
			e->shadowed_by -= (ssize_t)n;
		if (e->s->pidx == (ssize_t)(j + n))
			e->s->pidx = (ssize_t)j;
	}
	for (j = 0; j < top->nlv; j++)
		top->lv[j].mark = top->lv[j].mark > n ? top->lv[j].mark - n : 0;
out:
	for (i = 0; i < 3; i++)
		free((void *)vals[i]);
	return r;
}

/* Before t sends a write: for each open child without its savepoint, the
 * puts held before it, then its SAVEPOINT. */
static int
ensure_sp(struct ptxn *t)
{
	struct ptxn *top = t->top;
	char sql[48];
	size_t l;
	int r;

	for (l = 0; l < top->nlv; l++) {
		if (top->lv[l].sp)
			continue;
		if ((r = send_puts(t, top->lv[l].mark)) != 0)
			return r;
		snprintf(sql, sizeof(sql), "SAVEPOINT s%zu", l + 1);
		if ((r = cmd(t, sql)) != 0)
			return r;
		top->lv[l].sp = true;
	}
	return 0;
}

/* Send every held put. */
static int
flush(struct ptxn *t)
{
	int r;

	if (t->top->npend == 0)
		return 0;
	if ((r = ensure_sp(t)) != 0)
		return r;
	return send_puts(t, t->top->npend);
}

/* Hold a put (replacing one held by the same child or transaction). */
static int
pend_put(struct ptxn *t, int tbl, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct ptxn *top = t->top;
	size_t mark = top->nlv > 0 ? top->lv[top->nlv - 1].mark : 0, n;
	struct pput *e, *np;
	struct slot *s;
	const uint8_t *v;

	if (klen > 0x7fffffff || vlen > 0x7fffffff)
		return BRK_ERR_TOOBIG;
	if ((s = slot_get(top, tbl, key, klen, true)) == NULL ||
	    (v = arena_copy(top, val, vlen)) == NULL)
		return BRK_ERR_NOMEM;
	if (s->pidx >= 0 && (size_t)s->pidx >= mark) {
		e = &top->pend[s->pidx];
		top->pbytes = top->pbytes - e->vlen + vlen;
		e->v = v;
		e->vlen = vlen;
	} else {
		if (top->npend == top->pcap) {
			n = top->pcap > 0 ? top->pcap * 2 : 64;
			if ((np = realloc(top->pend, n * sizeof(*np))) == NULL)
				return BRK_ERR_NOMEM;
			top->pend = np;
			top->pcap = n;
		}
		e = &top->pend[top->npend];
		e->s = s;
		e->v = v;
		e->vlen = vlen;
		e->shadows = s->pidx;
		e->shadowed_by = -1;
		if (s->pidx >= 0)
			top->pend[s->pidx].shadowed_by = (ssize_t)top->npend;
		s->pidx = (ssize_t)top->npend++;
		top->pcount[tbl]++;
		top->pbytes += klen + vlen;
	}
	if (top->npend < PEND_MAX && top->pbytes < PEND_BYTES)
		return 0;
	/* the puts of the transaction and of children done need no
	 * savepoint */
	n = top->nlv > 0 ? top->lv[0].mark : top->npend;
	return n > 0 ? send_puts(t, n) : flush(t);
}

/* Undo the innermost open child t: drop its held puts (bringing back
 * what they shadowed) and, if it sent its savepoint, roll back to it. */
static int
undo_level(struct ptxn *t)
{
	struct ptxn *top = t->top;
	struct level *lv = &top->lv[top->nlv - 1];
	struct pput *e;
	char sql[96];
	int r = 0;

	while (top->npend > lv->mark) {
		e = &top->pend[--top->npend];
		top->pcount[e->s->tbl]--;
		top->pbytes -= e->s->klen + e->vlen;
		e->s->pidx = e->shadows;
		if (e->shadows >= 0)
			top->pend[e->shadows].shadowed_by = -1;
		top->tgen[e->s->tbl]++;
	}
	if (lv->sp) {
		snprintf(sql, sizeof(sql),
		    "ROLLBACK TO SAVEPOINT s%zu; RELEASE SAVEPOINT s%zu",
		    top->nlv, top->nlv);
		t->failed = false;
		if ((r = cmd(t, sql)) != 0)
			top->failed = true;
		forget_server(top);
	}
	top->nlv--;
	return r;
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
	if (t->failed || t->top->failed)
		return BRK_ERR_STATE; /* a statement before failed */
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
		fail(t);
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
static void hot_clear(struct pgenv *e);
static int begin_write(struct ptxn *t);

/*
 * BROKER_STORE_UNSAFE_CONFLICT=N (tests only): every Nth write transaction
 * that wrote is answered as if it lost a serialization conflict at its
 * COMMIT (rolled back, BRK_ERR_BUSY), which the table lock makes rare in
 * real use; t_pgcluster uses it to show that a batch run again does no
 * work twice.
 */
static void
conflict_knob(struct pgenv *e)
{
	const char *v = getenv("BROKER_STORE_UNSAFE_CONFLICT");
	long n;

	if (v == NULL || (n = strtol(v, NULL, 10)) < 1 || n > 1000)
		return;
	e->conflict_every = (unsigned)n;
	log_warn("event=store_unsafe knob=BROKER_STORE_UNSAFE_CONFLICT "
		 "every=%ld error=\"every %ldth commit fails as a conflict\"",
	    n, n);
}

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
	conflict_knob(e);
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
	hot_clear(e);
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
 * The writer's connection after a transaction: rolled back if one is
 * open; dropped if still not idle (a flight cut short), so that the next
 * transaction connects anew (writer_conn()).  e->wlock held.
 */
static void
end_conn(struct pgenv *e, PGconn *c)
{
	PGresult *res;

	if (PQpipelineStatus(c) == PQ_PIPELINE_OFF &&
	    PQtransactionStatus(c) != PQTRANS_IDLE) {
		res = PQexec(c, "ROLLBACK");
		PQclear(res);
	}
	if (PQpipelineStatus(c) != PQ_PIPELINE_OFF ||
	    PQtransactionStatus(c) != PQTRANS_IDLE) {
		PQfinish(c);
		if (e->wconn == c)
			e->wconn = NULL;
	}
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
	bool broken;

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
			 * taken before the snapshot (begin_write()):
			 * batches run one after another and see each
			 * other's commits, instead of failing on a
			 * serialization conflict and running again; readers
			 * (ACCESS SHARE) never wait for it */
			if ((r = begin_write(t)) == 0)
				break;
			broken = PQstatus(t->conn) != CONNECTION_OK;
			drop_results(t);
			overlay_drop(t);
			end_conn(t->e, t->conn);
			t->conn = NULL;
			pthread_mutex_unlock(&t->e->wlock);
			if (!broken)
				return r;
			continue;
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

static void
hot_clear(struct pgenv *e)
{
	while (e->nhot > 0)
		free(e->hot[--e->nhot].k);
	free(e->hrange.k);
	e->hrange.k = NULL;
	e->hr_st = 0;
}

/* Keep for the next write transaction the keys this one read: those
 * prefetched that a get asked for, then those it had to read one by one. */
static void
hot_save(struct ptxn *top)
{
	struct pgenv *e = top->e;
	struct slot *s;
	size_t i;

	hot_clear(e);
	for (i = 0; i < top->npre + top->nmiss && e->nhot < HOT_MAX; i++) {
		s = i < top->npre ? top->pre[i] : top->miss[i - top->npre];
		if (!s->got ||
		    (s->klen > 0 &&
			(e->hot[e->nhot].k = malloc(s->klen)) == NULL))
			continue;
		if (s->klen == 0)
			e->hot[e->nhot].k = NULL;
		else
			memcpy(e->hot[e->nhot].k, s->k, s->klen);
		e->hot[e->nhot].tbl = s->tbl;
		e->hot[e->nhot++].klen = s->klen;
	}
	if (top->first != NULL &&
	    (top->first->klen == 0 ||
		(e->hrange.k = malloc(top->first->klen)) != NULL)) {
		if (top->first->klen > 0)
			memcpy(e->hrange.k, top->first->k, top->first->klen);
		e->hrange.klen = top->first->klen;
		e->hrange.tbl = top->first->tbl;
		e->hr_st = top->first->st;
		e->hr_limit = top->first->limit;
	}
}

/* An array of the hot keys' tables (which 0) or keys (1), binary. */
static uint8_t *
hot_array(const struct pgenv *e, int which, int *len)
{
	size_t i, sz = 20;
	uint8_t *b, *p;

	for (i = 0; i < e->nhot; i++)
		sz += 4 + (which == 0 ? 2 : e->hot[i].klen);
	if ((b = malloc(sz)) == NULL)
		return NULL;
	arr_be32(b, 1);
	arr_be32(b + 4, 0);
	arr_be32(b + 8, which == 0 ? 21 : 17);
	arr_be32(b + 12, (uint32_t)e->nhot);
	arr_be32(b + 16, 1);
	p = b + 20;
	for (i = 0; i < e->nhot; i++) {
		if (which == 0) {
			arr_be32(p, 2);
			p[4] = (uint8_t)(e->hot[i].tbl >> 8);
			p[5] = (uint8_t)e->hot[i].tbl;
			p += 6;
		} else {
			arr_be32(p, (uint32_t)e->hot[i].klen);
			if (e->hot[i].klen > 0)
				memcpy(p + 4, e->hot[i].k, e->hot[i].klen);
			p += 4 + e->hot[i].klen;
		}
	}
	*len = (int)sz;
	return b;
}

/* A statement of a flight: prepared (name) or plain text (sql). */
struct flight {
	const char *name, *sql;
	int n;
	const char *vals[3];
	int lens[3];
	ExecStatusType want;
	bool mine;     /* the caller checks its result, not fly() */
	PGresult *res; /* the caller's */
};

/*
 * Send statements in one flight (libpq pipeline mode) and read all their
 * results: one round trip where each needs nothing from the one before.
 * 0, or the first failure's code (t failed).  A connection left in
 * pipeline mode is dropped by end_top().
 */
static int
fly(struct ptxn *t, struct flight *f, int n)
{
	static const int fmts[3] = { 1, 1, 1 };
	PGconn *c = t->conn;
	PGresult *res;
	int i, r = 0, sent = 0;

	for (i = 0; i < n; i++)
		f[i].res = NULL;
	if (PQenterPipelineMode(c) != 1) {
		log_failure(c, NULL, "pipeline");
		fail(t);
		return BRK_ERR_IO;
	}
	for (; sent < n; sent++)
		if ((f[sent].name != NULL ?
			    PQsendQueryPrepared(c, f[sent].name, f[sent].n,
				f[sent].vals, f[sent].lens, fmts, 1) :
			    PQsendQueryParams(c, f[sent].sql, 0, NULL, NULL,
				NULL, NULL, 1)) != 1)
			break;
	if (PQpipelineSync(c) != 1 || sent < n) {
		log_failure(c, NULL, "pipeline");
		r = BRK_ERR_IO;
	}
	for (i = 0; i < sent; i++) {
		if ((res = PQgetResult(c)) == NULL) {
			r = r != 0 ? r : BRK_ERR_IO;
			break;
		}
		f[i].res = res;
		while ((res = PQgetResult(c)) != NULL) /* its end */
			PQclear(res);
		if (r == 0 && !f[i].mine &&
		    PQresultStatus(f[i].res) != f[i].want) {
			r = map_err(c, f[i].res);
			if (r == BRK_ERR_BUSY)
				t->top->conflict = true;
			else
				log_failure(c, f[i].res,
				    f[i].name != NULL ? f[i].name : f[i].sql);
		}
	}
	if ((res = PQgetResult(c)) != NULL) /* the sync */
		PQclear(res);
	PQexitPipelineMode(c);
	if (r != 0)
		fail(t);
	return r;
}

/*
 * Begin a write transaction, in one flight: BEGIN, the table lock, and
 * the reads the writer's last transaction began with (the keys it read,
 * its first range read; e->hot).  A batch of grants reads the same
 * counters, audit chain head, user records and live opt-outs, one round
 * trip each while the table lock is held, and the other brokers' writers
 * wait for that lock.  The lock is taken before the snapshot (LOCK TABLE
 * takes none; the first read, after it, does).
 */
static int
begin_write(struct ptxn *t)
{
	struct pgenv *e = t->e;
	struct flight f[4] = {
		{ .sql = "BEGIN ISOLATION LEVEL SERIALIZABLE",
		    .want = PGRES_COMMAND_OK },
		{ .sql = "LOCK TABLE broker_kv IN SHARE ROW EXCLUSIVE MODE",
		    .want = PGRES_COMMAND_OK },
	};
	uint8_t *arr[2] = { NULL, NULL }, tb[2], lb[4];
	int i, n = 2, gm = -1, ge = -1, r = BRK_ERR_NOMEM, rows;
	const uint8_t *tp;
	struct slot *s;
	struct rcache *rc;
	size_t j;

	if (e->nhot > 0) {
		for (i = 0; i < 2; i++)
			if ((arr[i] = hot_array(e, i, &f[n].lens[i])) == NULL)
				goto out;
		f[n].name = stmt_name[ST_GETMANY];
		f[n].n = 2;
		f[n].vals[0] = (const char *)arr[0];
		f[n].vals[1] = (const char *)arr[1];
		f[n].want = PGRES_TUPLES_OK;
		gm = n++;
	}
	if (e->hr_st != 0) {
		tb[0] = (uint8_t)(e->hrange.tbl >> 8);
		tb[1] = (uint8_t)e->hrange.tbl;
		arr_be32(lb, (uint32_t)e->hr_limit);
		f[n].name = stmt_name[e->hr_st];
		f[n].n = 3;
		f[n].vals[0] = (const char *)tb;
		f[n].lens[0] = 2;
		f[n].vals[1] = e->hrange.k != NULL ? (const char *)e->hrange.k :
						     "";
		f[n].lens[1] = (int)e->hrange.klen;
		f[n].vals[2] = (const char *)lb;
		f[n].lens[2] = 4;
		f[n].want = PGRES_TUPLES_OK;
		ge = n++;
	}
	if ((r = fly(t, f, n)) != 0)
		goto out;
	r = BRK_ERR_NOMEM;
	if (gm >= 0) {
		if (keep(t, f[gm].res) != 0)
			goto out;
		f[gm].res = NULL;
		for (j = 0; j < e->nhot; j++) {
			if ((s = slot_get(t, e->hot[j].tbl, e->hot[j].k,
				 e->hot[j].klen, true)) == NULL)
				goto out;
			s->known = KNOWN_ABSENT;
			t->pre[t->npre++] = s;
		}
		rows = PQntuples(t->res[t->nres - 1]);
		for (i = 0; i < rows; i++) {
			PGresult *res = t->res[t->nres - 1];

			if (PQgetlength(res, i, 0) != 2) {
				r = BRK_ERR_IO;
				goto out;
			}
			tp = (const uint8_t *)PQgetvalue(res, i, 0);
			if ((s = slot_get(t, (tp[0] << 8) | tp[1],
				 PQgetvalue(res, i, 1),
				 (size_t)PQgetlength(res, i, 1), true)) == NULL)
				goto out;
			s->known = KNOWN_PRESENT;
			s->sv = PQgetvalue(res, i, 2);
			s->svlen = (size_t)PQgetlength(res, i, 2);
		}
	}
	if (ge >= 0) {
		rc = &t->rc[0];
		if (keep(t, f[ge].res) != 0 ||
		    (rc->k = arena_copy(t, e->hrange.k, e->hrange.klen)) ==
			NULL)
			goto out;
		rc->res = f[ge].res;
		f[ge].res = NULL;
		rc->st = e->hr_st;
		rc->tbl = e->hrange.tbl;
		rc->limit = e->hr_limit;
		rc->klen = e->hrange.klen;
		rc->sgen = 0;
		t->rcnext = 1;
	}
	r = 0;
out:
	for (i = 0; i < n; i++)
		PQclear(f[i].res);
	free(arr[0]);
	free(arr[1]);
	return r;
}

/* End a top-level transaction: rollback unless committed already. */
static void
end_top(struct ptxn *t)
{
	PGresult *res;

	if (t->write && t->open)
		hot_save(t); /* before its slots go, under wlock */
	drop_results(t);
	overlay_drop(t);
	if (!t->open)
		return;
	t->open = false;
	if (t->write) {
		end_conn(t->e, t->conn);
		pthread_mutex_unlock(&t->e->wlock);
	} else {
		if (PQtransactionStatus(t->conn) != PQTRANS_IDLE) {
			res = PQexec(t->conn, "ROLLBACK");
			PQclear(res);
		}
		pool_give(t->e, t->conn);
	}
	t->conn = NULL;
}

static void
txn_free(struct ptxn *t)
{
	overlay_drop(t);
	free(t->pend);
	free(t->lv);
	free(t->res);
	free(t);
}

static int
p_begin(void *env, void *parent, bool write, void **out)
{
	struct ptxn *t, *p = parent, *top;
	struct level *nl;
	size_t n;
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
		top = p->top;
		if (p->failed || top->failed || !p->write ||
		    top->nlv != (size_t)p->depth) {
			free(t);
			return BRK_ERR_STATE;
		}
		if (top->nlv == top->lvcap) {
			n = top->lvcap > 0 ? top->lvcap * 2 : 4;
			if ((nl = realloc(top->lv, n * sizeof(*nl))) == NULL) {
				free(t);
				return BRK_ERR_NOMEM;
			}
			top->lv = nl;
			top->lvcap = n;
		}
		/* its SAVEPOINT waits until it sends a write (ensure_sp()) */
		top->lv[top->nlv].mark = top->npend;
		top->lv[top->nlv++].sp = false;
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

/*
 * The held puts, NOTIFY and COMMIT in one flight (fly()); the COMMIT's
 * result, or t failed.  A batch that wrote tells the other brokers'
 * followers (p_wait): PostgreSQL delivers a NOTIFY only once its
 * transaction committed, so never before the data is visible.
 */
static PGresult *
puts_and_commit(struct ptxn *t)
{
	struct flight f[3] = { { .name = stmt_name[ST_PUTMANY],
				   .n = 3,
				   .want = PGRES_COMMAND_OK },
		{ .sql = "NOTIFY " CHANNEL, .want = PGRES_COMMAND_OK },
		{ .sql = "COMMIT", .mine = true } };
	PGresult *res = NULL;
	size_t len;
	int i;

	if (t->npend == 0)
		return PQexec(t->conn,
		    t->gen > 0 ? "NOTIFY " CHANNEL "; COMMIT" : "COMMIT");
	for (i = 0; i < 3; i++) {
		if ((f[0].vals[i] = (const char *)arr_build(
			 t, t->npend, i, &len)) == NULL) {
			fail(t);
			goto out;
		}
		f[0].lens[i] = (int)len;
	}
	fly(t, f, 3);
	if (PQresultStatus(f[0].res) == PGRES_COMMAND_OK &&
	    PQresultStatus(f[1].res) == PGRES_COMMAND_OK) {
		/* the puts went: what COMMIT answered (NULL: the connection
		 * broke) is the caller's to read */
		t->failed = false;
		res = f[2].res;
		f[2].res = NULL;
	}
out:
	PQclear(f[0].res);
	PQclear(f[1].res);
	PQclear(f[2].res);
	for (i = 0; i < 3; i++)
		free((void *)f[0].vals[i]);
	return res;
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
		if (t->failed || t->top->failed) {
			/* a failed child commits nothing: undo it so the
			 * parent can go on, and say it failed */
			undo_level(t);
			r = BRK_ERR_STATE;
		} else if (t->top->lv[t->top->nlv - 1].sp) {
			snprintf(sql, sizeof(sql), "RELEASE SAVEPOINT s%d",
			    t->depth);
			if ((r = cmd(t, sql)) != 0)
				t->top->failed = true;
			t->top->nlv--;
		} else /* its held puts are now the parent's */
			t->top->nlv--;
		free(t);
		return r;
	}
	if (!t->write) {
		end_top(t);
		txn_free(t);
		return 0;
	}
	if (t->e->conflict_every > 0 && t->gen > 0 && !t->failed &&
	    ++t->e->conflict_n % t->e->conflict_every == 0) {
		t->conflict = true; /* the test knob above */
		t->failed = true;
	}
	res = NULL;
	if (!t->failed && !t->top->failed)
		res = puts_and_commit(t);
	if (t->failed || t->top->failed) {
		PQclear(res);
		r = t->conflict ? BRK_ERR_BUSY : BRK_ERR_STATE;
		end_top(t);
		txn_free(t);
		return r;
	}
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

	if (t == NULL)
		return;
	if (t->depth > 0)
		undo_level(t);
	else
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
	struct ptxn *t = txn, *top = t->top;
	struct slot *s = NULL;
	PGresult *res;
	int r;

	if ((unsigned)tbl >= TBL__COUNT)
		return BRK_ERR_INVALID;
	if (t->write &&
	    (s = slot_get(top, (int)tbl, key, klen, false)) != NULL) {
		if (t->failed || top->failed)
			return BRK_ERR_STATE;
		s->got = true;
		if (s->pidx >= 0) { /* a held put */
			val->data = top->pend[s->pidx].v;
			val->len = top->pend[s->pidx].vlen;
			return 0;
		}
		if (s->known == KNOWN_ABSENT)
			return BRK_ERR_NOTFOUND;
		if (s->known == KNOWN_PRESENT) {
			val->data = s->sv;
			val->len = s->svlen;
			return 0;
		}
	}
	if ((r = run(t, ST_GET, (int)tbl, key, klen, NULL, 0, 0, &res)) != 0)
		return r;
	/* remembered for the rest of the transaction (without memory, the
	 * next get only asks again) */
	if (t->write &&
	    (s != NULL ||
		(s = slot_get(top, (int)tbl, key, klen, true)) != NULL)) {
		s->known = KNOWN_ABSENT;
		s->got = true;
		if (top->nmiss < HOT_MAX)
			top->miss[top->nmiss++] = s;
	}
	if (PQntuples(res) != 1)
		return BRK_ERR_NOTFOUND;
	val->data = PQgetvalue(res, 0, 0);
	val->len = (size_t)PQgetlength(res, 0, 0);
	if (s != NULL) {
		s->known = KNOWN_PRESENT;
		s->sv = val->data;
		s->svlen = val->len;
	}
	return 0;
}

static int
p_put(void *txn, enum store_table tbl, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	struct ptxn *t = txn;
	int r;

	if ((unsigned)tbl >= TBL__COUNT)
		return BRK_ERR_INVALID;
	if (!t->write)
		return BRK_ERR_READONLY;
	if (t->failed || t->top->failed)
		return BRK_ERR_STATE;
	if ((r = pend_put(t, (int)tbl, key, klen, val, vlen)) != 0)
		return r;
	t->top->gen++;
	t->top->tgen[tbl]++;
	return 0;
}

static int
p_del(void *txn, enum store_table tbl, const void *key, size_t klen)
{
	struct ptxn *t = txn, *top = t->top;
	struct slot *s;
	PGresult *res;
	int r;

	if ((unsigned)tbl >= TBL__COUNT)
		return BRK_ERR_INVALID;
	if (!t->write)
		return BRK_ERR_READONLY;
	if (t->failed || top->failed)
		return BRK_ERR_STATE;
	s = slot_get(top, (int)tbl, key, klen, false);
	if (s != NULL && s->pidx < 0 && s->known == KNOWN_ABSENT)
		return BRK_ERR_NOTFOUND; /* nothing to delete */
	/* a held put of the key goes first; a child's delete needs its
	 * savepoint */
	if ((r = s != NULL && s->pidx >= 0 ? flush(t) : ensure_sp(t)) != 0 ||
	    (r = run(t, ST_DEL, (int)tbl, key, klen, NULL, 0, 0, &res)) != 0)
		return r;
	if (s != NULL || (s = slot_get(top, (int)tbl, key, klen, true)) != NULL)
		s->known = KNOWN_ABSENT;
	if (strcmp(PQcmdTuples(res), "0") == 0)
		return BRK_ERR_NOTFOUND;
	top->gen++;
	top->tgen[tbl]++;
	top->sgen[tbl]++;
	return 0;
}

static int
p_cursor_open(void *txn, enum store_table tbl, void **out)
{
	struct pcur *c;

	*out = NULL;
	if ((unsigned)tbl >= TBL__COUNT)
		return BRK_ERR_INVALID;
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

/*
 * A range read of tbl: held puts of tbl are sent first; in a write
 * transaction, the same read since the server's tbl last changed is
 * answered with its result (every grant of a batch reads the same live
 * opt-outs).
 */
static int
range(struct ptxn *t, enum stmt st, int tbl, const void *key, size_t klen,
    int limit, PGresult **out)
{
	struct ptxn *top = t->top;
	struct rcache *rc;
	const uint8_t *k;
	size_t i;
	int r;

	*out = NULL;
	if (t->failed || top->failed)
		return BRK_ERR_STATE;
	if (top->pcount[tbl] > 0 && (r = flush(t)) != 0)
		return r;
	for (i = 0; t->write && i < RCACHE_N; i++) {
		rc = &top->rc[i];
		if (rc->res != NULL && rc->st == (int)st && rc->tbl == tbl &&
		    rc->limit == limit && rc->sgen == top->sgen[tbl] &&
		    rc->klen == klen &&
		    (klen == 0 || memcmp(rc->k, key, klen) == 0)) {
			*out = rc->res;
			return 0;
		}
	}
	if ((r = run(t, st, tbl, key, klen, NULL, 0, limit, out)) != 0)
		return r;
	if (t->write && (k = arena_copy(top, key, klen)) != NULL) {
		rc = &top->rc[top->rcnext++ % RCACHE_N];
		rc->st = (int)st;
		rc->tbl = tbl;
		rc->limit = limit;
		rc->k = k;
		rc->klen = klen;
		rc->sgen = top->sgen[tbl];
		rc->res = *out;
		if (top->first == NULL)
			top->first = rc;
	}
	return 0;
}

/* Fetch a chunk with st from key; the cursor moves only if it found a
 * row. */
static int
fetch(struct pcur *c, enum stmt st, const void *key, size_t klen,
    struct store_val *k, struct store_val *v)
{
	PGresult *res;
	int r, want = c->want;

	if ((r = range(c->t, st, c->tbl, key, klen, want, &res)) != 0)
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
	c->gen = c->t->top->tgen[c->tbl];
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
	fresh = c->gen == c->t->top->tgen[c->tbl];
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
