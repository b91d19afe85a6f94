/*
 * audit_tamper.c - a test-only tool that damages the audit trail the way an
 * intruder with write access to the store would, so that tests can check
 * that `broker audit verify` notices.  Stop brokerd before running it.
 *
 *   audit_tamper STATE_DIR flip SEQ [OFFSET]   change one byte of record SEQ
 *                                              (default: the middle one)
 *   audit_tamper STATE_DIR delete SEQ          delete record SEQ
 *   audit_tamper STATE_DIR swap A B            exchange records A and B
 *   audit_tamper STATE_DIR truncate N          delete the last N records and
 *                                              move the chain head back, so
 *                                              that the chain alone still
 *                                              looks intact
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store.h"

static int
get_copy(struct store_txn *t, uint64_t seq, char **text, size_t *len)
{
	struct store_val v;
	uint8_t key[8];
	int r;

	store_be64(key, seq);
	if ((r = store_get(t, TBL_AUDIT, key, 8, &v)) != 0)
		return r;
	if ((*text = malloc(v.len + 1)) == NULL)
		return BRK_ERR_NOMEM;
	memcpy(*text, v.data, v.len);
	(*text)[v.len] = '\0';
	*len = v.len;
	return 0;
}

static int
put(struct store_txn *t, uint64_t seq, const char *text, size_t len)
{
	uint8_t key[8];

	store_be64(key, seq);
	return store_put(t, TBL_AUDIT, key, 8, text, len);
}

static int
truncate_tail(struct store_txn *t, long n)
{
	static const char head_key[] = "audit_head";
	struct store_cursor *c = NULL;
	struct store_val k, v;
	uint8_t key[8], head[8 + 65];
	uint64_t last;
	json_t *rec;
	const char *h;
	int r;

	if ((r = store_cursor_open(t, TBL_AUDIT, &c)) != 0)
		return r;
	for (; n > 0; n--) {
		if ((r = store_cursor_last(c, &k, NULL)) != 0)
			goto out;
		memcpy(key, k.data, 8);
		if ((r = store_del(t, TBL_AUDIT, key, 8)) != 0)
			goto out;
	}
	if ((r = store_cursor_last(c, &k, &v)) != 0)
		goto out;
	last = store_get_be64(k.data);
	r = BRK_ERR_INVALID;
	if ((rec = json_loadb(v.data, v.len, 0, NULL)) == NULL)
		goto out;
	if ((h = json_string_value(json_object_get(rec, "hash"))) != NULL &&
	    strlen(h) == 64) {
		store_be64(head, last);
		memcpy(head + 8, h, 65);
		r = store_put(t, TBL_META, head_key, sizeof(head_key) - 1, head,
		    sizeof(head));
	}
	json_decref(rec);
out:
	store_cursor_close(c);
	return r;
}

int
main(int argc, char **argv)
{
	struct brk_error err = { { 0 } };
	struct store *s = NULL;
	struct store_txn *t = NULL;
	char *a = NULL, *b = NULL;
	size_t la = 0, lb = 0, off;
	uint64_t seq;
	uint8_t key[8];
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: audit_tamper STATE_DIR flip SEQ [OFFSET]"
		    " | delete SEQ | swap A B | truncate N\n");
		return 2;
	}
	if ((r = store_open(argv[1], (uint64_t)1 << 30, &s, &err)) != 0) {
		fprintf(stderr, "audit_tamper: %s\n", err.msg);
		return 1;
	}
	if ((r = store_begin(s, true, &t)) != 0)
		goto out;
	seq = strtoull(argv[3], NULL, 10);
	if (strcmp(argv[2], "flip") == 0) {
		if ((r = get_copy(t, seq, &a, &la)) != 0)
			goto out;
		off = argc > 4 ? strtoul(argv[4], NULL, 10) : la / 2;
		r = BRK_ERR_INVALID;
		if (off >= la)
			goto out;
		/* a printable change that keeps most records valid JSON */
		a[off] = a[off] == 'x' ? 'y' : a[off] >= '0' && a[off] < '9' ?
		    (char)(a[off] + 1) : a[off] == '9' ? '0' : 'x';
		r = put(t, seq, a, la);
	} else if (strcmp(argv[2], "delete") == 0) {
		store_be64(key, seq);
		r = store_del(t, TBL_AUDIT, key, 8);
	} else if (strcmp(argv[2], "swap") == 0 && argc > 4) {
		uint64_t other = strtoull(argv[4], NULL, 10);
		if ((r = get_copy(t, seq, &a, &la)) != 0 ||
		    (r = get_copy(t, other, &b, &lb)) != 0 ||
		    (r = put(t, seq, b, lb)) != 0)
			goto out;
		r = put(t, other, a, la);
	} else if (strcmp(argv[2], "truncate") == 0)
		r = truncate_tail(t, (long)seq);
	else
		r = BRK_ERR_USAGE;
	if (r == 0) {
		r = store_commit(t);
		t = NULL;
	}
out:
	store_abort(t);
	store_free(s);
	free(a);
	free(b);
	if (r != 0) {
		fprintf(stderr, "audit_tamper: %s\n", brk_strerror(r));
		return 1;
	}
	return 0;
}
