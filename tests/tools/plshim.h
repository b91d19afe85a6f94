/*
 * plshim.h - the undo log that plshim.so writes and plrollback reads.
 *
 * A sequence of records, each a struct plrec followed by len bytes:
 *   PLREC_UNDO     before an unsynced write (or truncate) at off: the len
 *                  bytes it overwrote, and the file's size before it
 *   PLREC_DURABLE  a write through an O_DSYNC descriptor at off: the len
 *                  bytes written, durable when the write returned
 *   PLREC_SYNC     an fdatasync/fsync of the file completed
 * Records name the file by device and inode.  The last record may be torn
 * by kill -9; it is then ignored (its write had not begun).
 */
#ifndef PLSHIM_H
#define PLSHIM_H

#include <stdint.h>

#define PLREC_MAGIC	0x504c5231u	/* "PLR1" */
#define PLREC_UNDO	'U'
#define PLREC_DURABLE	'D'
#define PLREC_SYNC	'S'

struct plrec {
	uint32_t magic;
	uint32_t type;
	uint64_t dev, ino;
	uint64_t off;
	uint64_t len;		/* bytes that follow the record */
	uint64_t oldsize;	/* the file's size before (PLREC_UNDO) */
};

#endif
