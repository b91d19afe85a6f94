/*
 * fileio.h - reading small files safely (CLI, daemon and PAM module).
 */
#ifndef BRK_FILEIO_H
#define BRK_FILEIO_H

#include <stddef.h>

#include "errors.h"

/*
 * Read a whole regular file of at most max bytes into a NUL-terminated
 * malloc'd buffer.  Opened O_CLOEXEC|O_NOCTTY; O_NOFOLLOW when nofollow.
 */
int file_read_all(const char *path, size_t max, int nofollow, char **out,
    size_t *len, struct brk_error *err);

#endif
