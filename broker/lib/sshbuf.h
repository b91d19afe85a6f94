/*
 * sshbuf.h - a growable byte buffer with SSH wire encoding.
 *
 * One buffer is either writable (sshbuf_new: data is appended at the end) or
 * a read-only view over caller memory (sshbuf_from).  Reads consume from the
 * front.  Every get checks the remaining length first, so truncated input is
 * an error code and never an overread; on error nothing is consumed.
 *
 * Encodings are those of RFC 4251 section 5: u32/u64 big-endian, "string" =
 * u32 length + bytes, "mpint" = a string holding a two's complement
 * big-endian integer (we only ever handle non-negative ones).  Base64 (RFC
 * 4648, standard alphabet) lives here too because every text form we read or
 * write (key lines, certificates, snapshots) wraps a buffer in it.
 *
 * Buffers are not thread-safe; use one per thread.  sshbuf_free() wipes the
 * contents, so a buffer may hold secrets.
 *
 * Errors: BRK_ERR_INVALID (truncated or malformed input), BRK_ERR_TOOBIG
 * (over SSHBUF_SIZE_MAX or a caller's limit), BRK_ERR_NOMEM,
 * BRK_ERR_READONLY (write to a view).
 */
#ifndef BRK_SSHBUF_H
#define BRK_SSHBUF_H

#include <stddef.h>
#include <stdint.h>

#define SSHBUF_SIZE_MAX (64u * 1024 * 1024)

struct sshbuf;

/* A new empty writable buffer, or NULL when out of memory. */
struct sshbuf *sshbuf_new(void);

/* A read-only view over len bytes at p (not copied; p must outlive it). */
struct sshbuf *sshbuf_from(const void *p, size_t len);

/* Wipe and free b; NULL is fine. */
void sshbuf_free(struct sshbuf *b);

/* Wipe and empty b, keeping its allocation (a view goes back to its start). */
void sshbuf_reset(struct sshbuf *b);

/* Bytes left to read, and a pointer to them (NULL only if b is NULL). */
size_t sshbuf_len(const struct sshbuf *b);
const uint8_t *sshbuf_ptr(const struct sshbuf *b);

/* Make room for len more bytes without appending them (cuts reallocs). */
int sshbuf_allocate(struct sshbuf *b, size_t len);

/* Append len bytes and return where they start in *dpp, for the caller to
 * fill.  The pointer is valid until the next write to b. */
int sshbuf_reserve(struct sshbuf *b, size_t len, uint8_t **dpp);

/* Drop len bytes from the front (BRK_ERR_INVALID if fewer are left). */
int sshbuf_consume(struct sshbuf *b, size_t len);

/* Writers. */
int sshbuf_put(struct sshbuf *b, const void *v, size_t len);
int sshbuf_put_u8(struct sshbuf *b, uint8_t v);
int sshbuf_put_u32(struct sshbuf *b, uint32_t v);
int sshbuf_put_u64(struct sshbuf *b, uint64_t v);
int sshbuf_put_string(struct sshbuf *b, const void *v, size_t len);
int sshbuf_put_cstring(struct sshbuf *b, const char *s);
/* The unread contents of v as one string. */
int sshbuf_put_stringb(struct sshbuf *b, const struct sshbuf *v);
/* An mpint from an unsigned big-endian magnitude (leading zeros dropped,
 * a zero byte prepended when the top bit is set). */
int sshbuf_put_mpint_bytes(struct sshbuf *b, const uint8_t *v, size_t len);

/* Readers; all consume on success only.  Out-params may be NULL to skip. */
int sshbuf_get(struct sshbuf *b, void *v, size_t len);
int sshbuf_get_u8(struct sshbuf *b, uint8_t *v);
int sshbuf_get_u32(struct sshbuf *b, uint32_t *v);
int sshbuf_get_u64(struct sshbuf *b, uint64_t *v);
/* A string, pointing into b (valid while b's data is). */
int
sshbuf_get_string_direct(struct sshbuf *b, const uint8_t **vp, size_t *lenp);
/* The same without consuming it. */
int sshbuf_peek_string_direct(
    const struct sshbuf *b, const uint8_t **vp, size_t *lenp);
/* A string copied to a new NUL-terminated allocation (free()); a string
 * with an embedded NUL is BRK_ERR_INVALID. */
int sshbuf_get_cstring(struct sshbuf *b, char **vp, size_t *lenp);
/* A non-negative, minimally encoded mpint; *vp and *lenp give its magnitude
 * without the sign byte.  Negative or padded values are BRK_ERR_INVALID. */
int sshbuf_get_mpint_direct(struct sshbuf *b, const uint8_t **vp, size_t *lenp);

/* Append the base64 of len bytes at v (padded, no line breaks, no NUL). */
int sshbuf_put_base64(struct sshbuf *b, const void *v, size_t len);
/* Append the base64 without '=' padding (as fingerprints are written). */
int sshbuf_put_base64_nopad(struct sshbuf *b, const void *v, size_t len);
/* Decode len characters of padded canonical base64 at s and append the
 * bytes: any other character, bad padding or non-zero unused bits is
 * BRK_ERR_INVALID (so one text has one decoding). */
int sshbuf_put_base64_decoded(struct sshbuf *b, const char *s, size_t len);

/* The unread contents as a new NUL-terminated string (free()), for text
 * built in a buffer; BRK_ERR_INVALID if it holds a NUL. */
int sshbuf_dup_string(const struct sshbuf *b, char **sp);

#endif
