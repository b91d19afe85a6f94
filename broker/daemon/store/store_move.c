/*
 * store_move.c - a whole store to a file and back (store.h store_export(),
 * store_import()), to move a state between backends: LMDB to PostgreSQL
 * and back.  Backend-neutral: it copies every table's keys and values byte
 * for byte, so request serials, counters and the audit chain (records and
 * head) arrive exactly as they left, and `audit verify` passes after the
 * move as before.
 *
 * The file: "BRKSTORE1\n", then one entry per key: table (1 byte), key
 * length and value length (4 bytes each, big-endian), key, value; then an
 * end entry (table 0xff, lengths 0 and 32) whose value is the SHA-256 of
 * everything before it.  An import checks the whole file (structure and
 * digest) before it writes anything, and writes it in one transaction into
 * a store that must be empty: a bad file or a store in use changes
 * nothing.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define MAGIC "BRKSTORE1\n"
#define MAGIC_LEN 10
#define END_TBL 0xff
#define DIGEST_LEN 32
#define ENTRY_MAX ((size_t)256 << 20) /* larger than any stored value */

struct mfile {
	FILE *f;
	EVP_MD_CTX *md;
	uint64_t off;
};

static int
put_bytes(struct mfile *m, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (fwrite(p, 1, n, m->f) != n)
		return BRK_ERR_IO;
	if (m->md != NULL && EVP_DigestUpdate(m->md, p, n) != 1)
		return BRK_ERR_INTERNAL;
	m->off += n;
	return 0;
}

static void
be32(uint8_t *out, uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
put_entry(struct mfile *m, int tbl, const struct store_val *k,
    const struct store_val *v)
{
	uint8_t h[9];
	int r;

	if (k->len > ENTRY_MAX || v->len > ENTRY_MAX)
		return BRK_ERR_TOOBIG;
	h[0] = (uint8_t)tbl;
	be32(h + 1, (uint32_t)k->len);
	be32(h + 5, (uint32_t)v->len);
	if ((r = put_bytes(m, h, sizeof(h))) != 0 ||
	    (r = put_bytes(m, k->data, k->len)) != 0)
		return r;
	return put_bytes(m, v->data, v->len);
}

int
store_export(
    struct store *s, const char *path, uint64_t *rows, struct brk_error *err)
{
	struct mfile m = { 0 };
	struct store_txn *t = NULL;
	struct store_cursor *c = NULL;
	struct store_val k, v, dk = { "", 0 }, dv;
	uint8_t digest[DIGEST_LEN];
	unsigned int dlen = 0;
	int fd = -1, tbl, r;
	bool made = false;

	*rows = 0;
	/* never over an existing file: it may be the only other copy */
	if ((fd = open(path,
		 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) <
	    0) {
		r = brk_error_set(err,
		    errno == EEXIST ? BRK_ERR_EXISTS : BRK_ERR_IO,
		    "--export-store %.200s: %s", path, strerror(errno));
		goto out;
	}
	made = true;
	r = BRK_ERR_NOMEM;
	if ((m.f = fdopen(fd, "w")) == NULL ||
	    (m.md = EVP_MD_CTX_new()) == NULL)
		goto fail;
	fd = -1;
	r = BRK_ERR_INTERNAL;
	if (EVP_DigestInit_ex(m.md, EVP_sha256(), NULL) != 1)
		goto fail;
	if ((r = put_bytes(&m, MAGIC, MAGIC_LEN)) != 0)
		goto fail;
	/* one read transaction: one consistent snapshot of every table */
	if ((r = store_begin(s, false, &t)) != 0)
		goto fail;
	for (tbl = 0; tbl < TBL__COUNT; tbl++) {
		if ((r = store_cursor_open(t, (enum store_table)tbl, &c)) != 0)
			goto fail;
		for (r = store_cursor_first(c, &k, &v); r == 0;
		     r = store_cursor_next(c, &k, &v)) {
			if ((r = put_entry(&m, tbl, &k, &v)) != 0)
				goto fail;
			(*rows)++;
		}
		store_cursor_close(c);
		c = NULL;
		if (r != BRK_ERR_NOTFOUND)
			goto fail;
	}
	store_abort(t);
	t = NULL;
	r = BRK_ERR_INTERNAL;
	if (EVP_DigestFinal_ex(m.md, digest, &dlen) != 1 || dlen != DIGEST_LEN)
		goto fail;
	EVP_MD_CTX_free(m.md);
	m.md = NULL;
	dv.data = digest;
	dv.len = DIGEST_LEN;
	if ((r = put_entry(&m, END_TBL, &dk, &dv)) != 0)
		goto fail;
	r = BRK_ERR_IO;
	if (fflush(m.f) != 0 || fsync(fileno(m.f)) != 0)
		goto fail;
	r = fclose(m.f) == 0 ? 0 : BRK_ERR_IO;
	m.f = NULL;
	if (r == 0)
		goto out;
fail:
	brk_error_set(err, r, "--export-store %.200s: %s", path,
	    r == BRK_ERR_IO ? strerror(errno) : brk_strerror(r));
out:
	store_cursor_close(c);
	store_abort(t);
	EVP_MD_CTX_free(m.md);
	if (m.f != NULL)
		fclose(m.f);
	if (fd >= 0)
		close(fd);
	if (r != 0 && made)
		unlink(path); /* no half a state left behind */
	return r;
}

/*
 * Read the next entry of a file read whole (buf, len) at *off.  Errors:
 * BRK_ERR_INVALID (a cut or bad entry).
 */
static int
next_entry(const uint8_t *buf, size_t len, size_t *off, int *tbl,
    struct store_val *k, struct store_val *v)
{
	uint32_t kl, vl;

	if (len - *off < 9)
		return BRK_ERR_INVALID;
	*tbl = buf[*off];
	kl = get_be32(buf + *off + 1);
	vl = get_be32(buf + *off + 5);
	*off += 9;
	if (kl > len - *off || vl > len - *off - kl)
		return BRK_ERR_INVALID;
	k->data = buf + *off;
	k->len = kl;
	v->data = buf + *off + kl;
	v->len = vl;
	*off += (size_t)kl + vl;
	return 0;
}

/* Whether every table of the store is empty. */
static int
all_empty(struct store_txn *t, bool *empty)
{
	struct store_cursor *c = NULL;
	struct store_val k, v;
	int tbl, r = 0;

	*empty = true;
	for (tbl = 0; tbl < TBL__COUNT && *empty; tbl++) {
		if ((r = store_cursor_open(t, (enum store_table)tbl, &c)) != 0)
			return r;
		r = store_cursor_first(c, &k, &v);
		store_cursor_close(c);
		if (r == 0)
			*empty = false;
		else if (r != BRK_ERR_NOTFOUND)
			return r;
	}
	return 0;
}

int
store_import(
    struct store *s, const char *path, uint64_t *rows, struct brk_error *err)
{
	struct store_txn *t = NULL;
	struct store_val k, v;
	uint8_t digest[DIGEST_LEN], *buf = NULL;
	unsigned int dlen = 0;
	size_t len = 0, off, cap = 0, n;
	FILE *f = NULL;
	int tbl = 0, r;
	bool empty;

	*rows = 0;
	if ((f = fopen(path, "re")) == NULL) {
		r = brk_error_set(err, BRK_ERR_NOTFOUND,
		    "--import-store %.200s: %s", path, strerror(errno));
		goto out;
	}
	/* read it whole: checked before anything is written */
	for (;;) {
		if (len == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : (size_t)1 << 20;
			if ((nb = realloc(buf, cap)) == NULL) {
				r = brk_error_set(err, BRK_ERR_NOMEM,
				    "--import-store: out of memory");
				goto out;
			}
			buf = nb;
		}
		if ((n = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		r = brk_error_set(err, BRK_ERR_IO, "--import-store %.200s: %s",
		    path, strerror(errno));
		goto out;
	}
	r = brk_error_set(err, BRK_ERR_INVALID,
	    "--import-store %.200s: not a store export, or cut or altered "
	    "(nothing was imported)",
	    path);
	if (len < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0)
		goto out;
	for (off = MAGIC_LEN;;) {
		size_t at = off;

		if (next_entry(buf, len, &off, &tbl, &k, &v) != 0)
			goto out;
		if (tbl == END_TBL) {
			if (k.len != 0 || v.len != DIGEST_LEN || off != len ||
			    EVP_Digest(buf, at, digest, &dlen, EVP_sha256(),
				NULL) != 1 ||
			    dlen != DIGEST_LEN ||
			    memcmp(digest, v.data, DIGEST_LEN) != 0)
				goto out;
			break;
		}
		if (tbl >= TBL__COUNT)
			goto out;
	}
	if ((r = store_begin(s, true, &t)) != 0 ||
	    (r = all_empty(t, &empty)) != 0) {
		brk_error_set(
		    err, r, "--import-store: the store: %s", brk_strerror(r));
		goto out;
	}
	if (!empty) {
		r = brk_error_set(err, BRK_ERR_EXISTS,
		    "--import-store: the store of this config is not empty "
		    "(nothing was imported): import into a new one");
		goto out;
	}
	for (off = MAGIC_LEN;;) {
		if (next_entry(buf, len, &off, &tbl, &k, &v) != 0 ||
		    tbl == END_TBL)
			break;
		if ((r = store_put(t, (enum store_table)tbl, k.data, k.len,
			 v.data, v.len)) != 0) {
			brk_error_set(
			    err, r, "--import-store: %s", brk_strerror(r));
			goto out;
		}
		(*rows)++;
	}
	r = store_commit(t);
	t = NULL;
	if (r != 0)
		brk_error_set(err, r, "--import-store: the commit failed: %s",
		    brk_strerror(r));
out:
	if (r != 0)
		*rows = 0;
	store_abort(t);
	if (f != NULL)
		fclose(f);
	free(buf);
	return r;
}
