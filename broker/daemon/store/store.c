/*
 * store.c - the LMDB backend of store.h; the only file that calls mdb_*.
 *
 * One environment with a named database per table.  Syncs are on (no
 * MDB_NOSYNC): a commit that returned 0 survives a crash.  MDB_NOTLS lets a
 * read transaction be reset on one thread and renewed on another.
 */
#include "store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <lmdb.h>

static const char *const table_names[TBL__COUNT] = {
	"meta", "requests", "by_user", "by_state", "by_expiry", "active",
	"audit", "audit_idx", "policies", "approvals", "optouts", "flags",
	"reviews", "optout_live", "optout_hits",
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[TBL__COUNT];
	void *map;			/* the data file's mapping, if found */
};

struct store_txn {
	struct store *s;
	MDB_txn *txn;
};

struct store_cursor {
	MDB_cursor *cur;
};

static int
map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return BRK_ERR_NOTFOUND;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case MDB_PAGE_FULL:
	case ENOSPC:
		return BRK_ERR_FULL;
	case EACCES:
	case EROFS:
		return BRK_ERR_READONLY;
	case ENOMEM:
		return BRK_ERR_NOMEM;
	case EIO:
		return BRK_ERR_IO;
	default:
		return rc > 0 ? BRK_ERR_IO : BRK_ERR_INTERNAL;
	}
}

/*
 * Where LMDB mapped the data file: LMDB reports the address only for
 * MDB_FIXEDMAP, so look for the file's inode in /proc/self/maps.  NULL
 * when it cannot be found; store_release_map() then does nothing.
 */
/* Whether a /proc/self/maps line ("start-end perms offset dev inode
 * path") maps inode ino of a data.mdb; its start in *start. */
static bool
maps_line_is(const char *line, unsigned long ino, unsigned long *start)
{
	const char *p = line;
	char *end;
	unsigned long v;
	int field;

	errno = 0;
	v = strtoul(p, &end, 16);
	if (end == p || *end != '-' || errno != 0)
		return false;
	*start = v;
	for (field = 1; field < 5; field++) {	/* on to the inode */
		if ((p = strchr(p, ' ')) == NULL)
			return false;
		while (*p == ' ')
			p++;
	}
	errno = 0;
	v = strtoul(p, &end, 10);
	return end != p && errno == 0 && v == ino &&
	    strstr(end, "/data.mdb") != NULL;
}

static void *
find_map(const char *dir)
{
	char path[4096], line[4096 + 256];
	unsigned long start = 0;
	struct stat st;
	void *map = NULL;
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path) || stat(path, &st) != 0 ||
	    (f = fopen("/proc/self/maps", "re")) == NULL)
		return NULL;
	while (map == NULL && fgets(line, sizeof(line), f) != NULL)
		if (maps_line_is(line, (unsigned long)st.st_ino, &start))
			map = (void *)start;
	fclose(f);
	return map;
}

int
store_open(const char *dir, uint64_t mapsize, struct store **out,
    struct brk_error *err)
{
	struct store *s = NULL;
	MDB_txn *txn = NULL;
	int r = BRK_ERR_NOMEM, rc, i;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	r = BRK_ERR_IO;
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, TBL__COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)mapsize)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, 256)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD,
	    0600)) != 0) {
		r = map_err(rc);
		brk_error_set(err, r, "cannot open the store in %s: %s", dir,
		    mdb_strerror(rc));
		goto out;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < TBL__COUNT; i++)
		if ((rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE,
		    &s->dbi[i])) != 0)
			goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	s->map = find_map(dir);
	*out = s;
	s = NULL;
	r = 0;
	goto out;
fail:
	r = map_err(rc);
	brk_error_set(err, r, "cannot initialise the store in %s: %s", dir,
	    mdb_strerror(rc));
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	store_free(s);
	return r;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
}

static int
begin(struct store *s, MDB_txn *parent, unsigned flags, struct store_txn **out)
{
	struct store_txn *t;
	int rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return BRK_ERR_NOMEM;
	t->s = s;
	if ((rc = mdb_txn_begin(s->env, parent, flags, &t->txn)) != 0) {
		free(t);
		return map_err(rc);
	}
	*out = t;
	return 0;
}

int
store_begin(struct store *s, bool write, struct store_txn **out)
{
	return begin(s, NULL, write ? 0 : MDB_RDONLY, out);
}

int
store_child(struct store_txn *parent, struct store_txn **out)
{
	return begin(parent->s, parent->txn, 0, out);
}

int
store_commit(struct store_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	free(t);
	return map_err(rc);
}

void
store_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

int
store_read_begin(struct store *s, struct store_txn **t)
{
	int rc;

	if (*t == NULL)
		return store_begin(s, false, t);
	if ((rc = mdb_txn_renew((*t)->txn)) != 0)
		return map_err(rc);
	return 0;
}

void
store_read_end(struct store_txn *t)
{
	if (t != NULL)
		mdb_txn_reset(t->txn);
}

void
store_read_free(struct store_txn *t)
{
	store_abort(t);
}

int
store_get(struct store_txn *t, enum store_table tbl, const void *key,
    size_t klen, struct store_val *val)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc;

	if ((rc = mdb_get(t->txn, t->s->dbi[tbl], &k, &v)) != 0)
		return map_err(rc);
	val->data = v.mv_data;
	val->len = v.mv_size;
	return 0;
}

int
store_put(struct store_txn *t, enum store_table tbl, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };

	return map_err(mdb_put(t->txn, t->s->dbi[tbl], &k, &v, 0));
}

int
store_del(struct store_txn *t, enum store_table tbl, const void *key,
    size_t klen)
{
	MDB_val k = { klen, (void *)key };

	return map_err(mdb_del(t->txn, t->s->dbi[tbl], &k, NULL));
}

int
store_cursor_open(struct store_txn *t, enum store_table tbl,
    struct store_cursor **out)
{
	struct store_cursor *c;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BRK_ERR_NOMEM;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[tbl], &c->cur)) != 0) {
		free(c);
		return map_err(rc);
	}
	*out = c;
	return 0;
}

void
store_cursor_close(struct store_cursor *c)
{
	if (c == NULL)
		return;
	mdb_cursor_close(c->cur);
	free(c);
}

static int
cursor_get(struct store_cursor *c, MDB_val *k, MDB_cursor_op op,
    struct store_val *ko, struct store_val *vo)
{
	MDB_val v;
	int rc;

	if ((rc = mdb_cursor_get(c->cur, k, &v, op)) != 0)
		return map_err(rc);
	if (ko != NULL) {
		ko->data = k->mv_data;
		ko->len = k->mv_size;
	}
	if (vo != NULL) {
		vo->data = v.mv_data;
		vo->len = v.mv_size;
	}
	return 0;
}

int
store_cursor_seek(struct store_cursor *c, const void *key, size_t klen,
    struct store_val *k, struct store_val *v)
{
	MDB_val mk = { klen, (void *)key };

	return cursor_get(c, &mk, MDB_SET_RANGE, k, v);
}

int
store_cursor_first(struct store_cursor *c, struct store_val *k,
    struct store_val *v)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_FIRST, k, v);
}

int
store_cursor_last(struct store_cursor *c, struct store_val *k,
    struct store_val *v)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_LAST, k, v);
}

int
store_cursor_next(struct store_cursor *c, struct store_val *k,
    struct store_val *v)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_NEXT, k, v);
}

int
store_cursor_prev(struct store_cursor *c, struct store_val *k,
    struct store_val *v)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_PREV, k, v);
}

int
store_set_lazy_meta(struct store *s, bool on)
{
	return map_err(mdb_env_set_flags(s->env, MDB_NOMETASYNC, on ? 1 : 0));
}

int
store_sync(struct store *s)
{
	return map_err(mdb_env_sync(s->env, 1));
}

/*
 * Every commit writes its pages to new places in the file (copy on write,
 * reusing freed pages), and the kernel maps each page we then read, with
 * its neighbours, into our address space: the resident set of a busy
 * daemon creeps up to the size of the file although it needs only the
 * pages of the last few commits.  Dropping the mapping's page tables
 * costs nothing in correctness (the map is a read-only view of the file;
 * a later read faults the page back in from the page cache) and keeps
 * the resident set to the working set.
 */
int
store_release_map(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used;
	int rc;

	if (s->map == NULL)
		return 0;
	if ((rc = mdb_env_info(s->env, &info)) != 0 ||
	    (rc = mdb_env_stat(s->env, &st)) != 0)
		return map_err(rc);
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	if (used > info.me_mapsize)
		used = info.me_mapsize;
	if (madvise(s->map, used, MADV_DONTNEED) != 0)
		return BRK_ERR_IO;
	return 0;
}

int
store_count(struct store_txn *t, enum store_table tbl, uint64_t *n)
{
	MDB_stat st;
	int rc;

	if ((rc = mdb_stat(t->txn, t->s->dbi[tbl], &st)) != 0)
		return map_err(rc);
	*n = st.ms_entries;
	return 0;
}

void
store_be64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
store_get_be64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}
