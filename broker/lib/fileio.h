/*
 * fileio.h - reading and replacing small files safely (CLI, daemon and PAM
 * module).
 *
 * Every file the broker trusts is read through file_read_checked(), and
 * every file it replaces is written through file_write_atomic(), so that
 * the checks (no symlink, owner, mode, size) and the crash rules (a reader
 * sees the old content or the new, never a mix) live in one place.
 */
#ifndef BRK_FILEIO_H
#define BRK_FILEIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "errors.h"

/* What file_open_checked() and file_read_checked() insist on (flags). */
#define FILE_NOFOLLOW 0x01 /* refuse a symbolic link as the last component */
#define FILE_OURS 0x02	   /* owned by the effective uid */
#define FILE_OURS_OR_ROOT 0x04 /* owned by root or by the effective uid */
#define FILE_NO_WRITERS 0x08   /* writable by its owner only (no 022 bits) */
#define FILE_PRIVATE 0x10   /* no group or other bits at all (0600 or less) */
#define FILE_ABSENT_OK 0x20 /* a missing file is BRK_ERR_NOTFOUND, not IO */

/*
 * Open path with oflags (O_CLOEXEC|O_NOCTTY added, and O_NOFOLLOW with
 * FILE_NOFOLLOW; mode 0600 when oflags create it), then fstat it and insist
 * on a regular file and on the owner and mode flags ask for.  what, when
 * not NULL, starts every message (e.g. "config: ldap.bind_password_file")
 * so that the user learns which setting named the file.  On success *fd is
 * the open descriptor and *st (when not NULL) its stat.
 * Errors: BRK_ERR_IO (cannot open), BRK_ERR_NOTFOUND (missing, with
 * FILE_ABSENT_OK), BRK_ERR_PERM (a symlink, not a regular file, wrong owner
 * or mode); err names the file and what was wrong with it.
 */
int file_open_checked(const char *path, const char *what, int oflags, int flags,
    int *fd, struct stat *st, struct brk_error *err);

/*
 * Read a whole file of at most max bytes, opened and checked as
 * file_open_checked() does, into a NUL-terminated malloc'd buffer *out of
 * *len bytes.  With FILE_PRIVATE the file is a secret: nothing of it is left
 * in memory on failure, and the caller must release *out with
 * file_free_secret().  Errors: those of file_open_checked(), BRK_ERR_TOOBIG
 * (over max), BRK_ERR_IO (read failed), BRK_ERR_NOMEM.
 */
int file_read_checked(const char *path, const char *what, int flags, size_t max,
    char **out, size_t *len, struct brk_error *err);

/* file_read_checked(path, NULL, nofollow ? FILE_NOFOLLOW : 0, ...). */
int file_read_all(const char *path, size_t max, int nofollow, char **out,
    size_t *len, struct brk_error *err);

/* Wipe len bytes of buf (and its NUL), then free it; accepts NULL. */
void file_free_secret(char *buf, size_t len);

/* Wipe a NUL-terminated secret (a key, a password), then free it; accepts
 * NULL. */
void secret_free(char *s);

/*
 * Replace path with len bytes of data and mode, so that after a crash path
 * holds either its old content or the new one, and the new one survives
 * power loss once this returns 0: a temporary file in the same directory
 * (".NAME.tmp.PID", created O_EXCL|O_NOFOLLOW), written whole, fsync'd,
 * renamed over path, and the directory fsync'd.  The temporary is removed
 * on any failure.  what as in file_open_checked().
 * Errors: BRK_ERR_TOOBIG (path too long), BRK_ERR_IO (create, write, sync
 * or rename failed); err names the file and the system's reason.
 */
int file_write_atomic(const char *path, const char *what, const void *data,
    size_t len, mode_t mode, struct brk_error *err);

#endif
