/*
 * auditidx.h - the keys of the audit index (TBL_AUDIT_IDX) and the upgrade
 * of an older store's index to them.  Private to store/ (audit.c and the
 * store's open).
 *
 * Layout 2 (this one):
 *
 *	field, 0x02, be32 bucket, value, \0, be64 seq -> ""
 *
 * with bucket = seq >> bits (bits 16 unless a test set it; capped at
 * 2^32 - 1, which keeps the order) and value cut at 256 bytes.  New
 * records have the highest seqs, so every entry a commit adds lands in the
 * newest bucket of each field: a small part of the tree whatever the size
 * of the log, where a key led by the value (layout 1) put each one at a
 * random leaf of the whole index.  A search for a value seeks it in each
 * bucket from the newest one it needs down.
 *
 * Layout 1 (until 2026-12): field, \0, value, \0, be64 seq -> "".  The
 * second byte tells the two apart (0 or 2).
 *
 * TBL_META "audit_index" = { 2, bits }: written with the first audit
 * record of a store and when an upgrade ends.  A store without it whose
 * index is not empty has layout 1 (or an upgrade cut short): opening it
 * converts the remaining layout-1 keys in batches of write transactions
 * (each key holds its field, value and seq, so the records are not read)
 * and then writes the key.  A store whose key names another layout or
 * bucket size is refused.
 */
#ifndef BRK_AUDITIDX_H
#define BRK_AUDITIDX_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define AUDITIDX_LAYOUT 2
#define AUDITIDX_BITS 16       /* 65,536 records a bucket */
#define AUDITIDX_VALUE_MAX 256 /* longer values are cut */
/* field, layout, bucket, value, \0 */
#define AUDITIDX_PREFIX_MAX (6 + AUDITIDX_VALUE_MAX + 1)
#define AUDITIDX_KEY_MAX (AUDITIDX_PREFIX_MAX + 8)

/* The bucket of seq. */
uint64_t auditidx_bucket(uint64_t seq);

/* Write the prefix of value's entries in bucket into key (at least
 * AUDITIDX_PREFIX_MAX bytes); returns its length. */
size_t
auditidx_prefix(uint8_t *key, char field, uint64_t bucket, const char *value);

/* The whole key of entry (field, value, seq) into key (at least
 * AUDITIDX_KEY_MAX bytes); returns its length. */
size_t auditidx_key(uint8_t *key, char field, const char *value, uint64_t seq);

/* Record this layout in TBL_META (write transaction: the first record). */
int auditidx_mark(struct store_txn *t);

/*
 * At open: 0 when the index has this layout (or is empty), after
 * converting a layout-1 index if need be.  BRK_ERR_INTERNAL with err set
 * for another layout or bucket size, or a key that is neither; store
 * errors.
 */
int auditidx_upgrade(struct store *s, struct brk_error *err);

/*
 * Tests only: use buckets of 2^bits records from now on in this process.
 * Only before a store's first record (the store keeps the size).
 */
void auditidx_test_bits(unsigned bits);

#endif
