/*
 * sshbuf.c - a growable byte buffer with SSH wire encoding.
 *
 * The one idea: the readable bytes are cd[off .. size).  Writers append at
 * size (growing d), readers advance off, and every reader compares the length
 * it wants with size - off before touching memory.  A view (sshbuf_from) has
 * d == NULL and refuses writes.  Growth doubles, so building a certificate
 * costs one or two reallocs; freed and reset memory is wiped.
 */
#include "sshbuf.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "errors.h"

struct sshbuf {
	uint8_t *d;	   /* owned storage; NULL for a view */
	const uint8_t *cd; /* what readers see (d, or the view) */
	size_t off;	   /* first unread byte */
	size_t size;	   /* end of data */
	size_t alloc;	   /* bytes allocated at d */
};

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct sshbuf *
sshbuf_new(void)
{
	return calloc(1, sizeof(struct sshbuf));
}

struct sshbuf *
sshbuf_from(const void *p, size_t len)
{
	struct sshbuf *b;

	if ((p == NULL && len != 0) || len > SSHBUF_SIZE_MAX)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->cd = p;
	b->size = len;
	return b;
}

void
sshbuf_free(struct sshbuf *b)
{
	if (b == NULL)
		return;
	if (b->d != NULL) {
		OPENSSL_cleanse(b->d, b->alloc);
		free(b->d);
	}
	free(b);
}

void
sshbuf_reset(struct sshbuf *b)
{
	if (b == NULL)
		return;
	b->off = 0;
	if (b->d != NULL) {
		OPENSSL_cleanse(b->d, b->size);
		b->size = 0;
	}
}

size_t
sshbuf_len(const struct sshbuf *b)
{
	return b == NULL ? 0 : b->size - b->off;
}

const uint8_t *
sshbuf_ptr(const struct sshbuf *b)
{
	if (b == NULL)
		return NULL;
	/* A never-written buffer still gives a valid (empty) pointer. */
	return b->cd == NULL ? (const uint8_t *)"" : b->cd + b->off;
}

int
sshbuf_allocate(struct sshbuf *b, size_t len)
{
	size_t want, nalloc;
	uint8_t *nd;

	if (b == NULL)
		return BRK_ERR_INTERNAL;
	if (b->d == NULL && b->cd != NULL)
		return BRK_ERR_READONLY;
	if (len > SSHBUF_SIZE_MAX - b->size)
		return BRK_ERR_TOOBIG;
	want = b->size + len;
	if (want <= b->alloc)
		return 0;
	/* Compact first: a buffer read from the front frees room there. */
	if (b->off > 0 && want - b->off <= b->alloc) {
		/* off > 0 only when d holds data (d == NULL means alloc 0) */
		/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		memmove(b->d, b->d + b->off, b->size - b->off);
		OPENSSL_cleanse(b->d + b->size - b->off, b->off);
		b->size -= b->off;
		b->off = 0;
		return 0;
	}
	nalloc = b->alloc < 256 ? 256 : b->alloc;
	while (nalloc < want)
		nalloc = nalloc > SSHBUF_SIZE_MAX / 2 ? SSHBUF_SIZE_MAX :
							nalloc * 2;
	/* Not realloc(): the old block may hold secrets and must be wiped. */
	if ((nd = malloc(nalloc)) == NULL)
		return BRK_ERR_NOMEM;
	if (b->d != NULL) {
		memcpy(nd, b->d, b->size);
		OPENSSL_cleanse(b->d, b->alloc);
		free(b->d);
	}
	b->d = nd;
	b->cd = nd;
	b->alloc = nalloc;
	return 0;
}

int
sshbuf_reserve(struct sshbuf *b, size_t len, uint8_t **dpp)
{
	int r;

	if (dpp != NULL)
		*dpp = NULL;
	if ((r = sshbuf_allocate(b, len)) != 0)
		return r;
	if (dpp != NULL)
		*dpp = b->d + b->size;
	b->size += len;
	return 0;
}

int
sshbuf_consume(struct sshbuf *b, size_t len)
{
	if (b == NULL)
		return BRK_ERR_INTERNAL;
	if (len > b->size - b->off)
		return BRK_ERR_INVALID;
	b->off += len;
	return 0;
}

int
sshbuf_put(struct sshbuf *b, const void *v, size_t len)
{
	uint8_t *p;
	int r;

	if (len == 0)
		return 0;
	if (v == NULL)
		return BRK_ERR_INTERNAL;
	if ((r = sshbuf_reserve(b, len, &p)) != 0)
		return r;
	memcpy(p, v, len);
	return 0;
}

int
sshbuf_put_u8(struct sshbuf *b, uint8_t v)
{
	return sshbuf_put(b, &v, 1);
}

static void
store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
sshbuf_put_u32(struct sshbuf *b, uint32_t v)
{
	uint8_t *p;
	int r;

	if ((r = sshbuf_reserve(b, 4, &p)) != 0)
		return r;
	store_u32(p, v);
	return 0;
}

int
sshbuf_put_u64(struct sshbuf *b, uint64_t v)
{
	uint8_t *p;
	int r;

	if ((r = sshbuf_reserve(b, 8, &p)) != 0)
		return r;
	store_u32(p, (uint32_t)(v >> 32));
	store_u32(p + 4, (uint32_t)v);
	return 0;
}

int
sshbuf_put_string(struct sshbuf *b, const void *v, size_t len)
{
	uint8_t *p;
	int r;

	if (len > SSHBUF_SIZE_MAX - 4)
		return BRK_ERR_TOOBIG;
	if (len > 0 && v == NULL)
		return BRK_ERR_INTERNAL;
	if ((r = sshbuf_reserve(b, 4 + len, &p)) != 0)
		return r;
	store_u32(p, (uint32_t)len);
	if (len > 0)
		memcpy(p + 4, v, len);
	return 0;
}

int
sshbuf_put_cstring(struct sshbuf *b, const char *s)
{
	return sshbuf_put_string(b, s, s == NULL ? 0 : strlen(s));
}

int
sshbuf_put_stringb(struct sshbuf *b, const struct sshbuf *v)
{
	if (v == b)
		return BRK_ERR_INTERNAL;
	return sshbuf_put_string(b, sshbuf_ptr(v), sshbuf_len(v));
}

int
sshbuf_put_mpint_bytes(struct sshbuf *b, const uint8_t *v, size_t len)
{
	uint8_t *p;
	size_t pad;
	int r;

	while (len > 0 && *v == 0) {
		v++;
		len--;
	}
	pad = (len > 0 && (*v & 0x80) != 0) ? 1 : 0;
	if (len > SSHBUF_SIZE_MAX - 5)
		return BRK_ERR_TOOBIG;
	if ((r = sshbuf_reserve(b, 4 + pad + len, &p)) != 0)
		return r;
	store_u32(p, (uint32_t)(pad + len));
	if (pad)
		p[4] = 0;
	if (len > 0)
		memcpy(p + 4 + pad, v, len);
	return 0;
}

int
sshbuf_get(struct sshbuf *b, void *v, size_t len)
{
	if (b == NULL)
		return BRK_ERR_INTERNAL;
	if (len > b->size - b->off)
		return BRK_ERR_INVALID;
	if (v != NULL && len > 0)
		memcpy(v, b->cd + b->off, len);
	b->off += len;
	return 0;
}

int
sshbuf_get_u8(struct sshbuf *b, uint8_t *v)
{
	return sshbuf_get(b, v, 1);
}

int
sshbuf_get_u32(struct sshbuf *b, uint32_t *v)
{
	uint8_t p[4];
	int r;

	if ((r = sshbuf_get(b, p, 4)) != 0)
		return r;
	if (v != NULL)
		*v = load_u32(p);
	return 0;
}

int
sshbuf_get_u64(struct sshbuf *b, uint64_t *v)
{
	uint8_t p[8];
	int r;

	if ((r = sshbuf_get(b, p, 8)) != 0)
		return r;
	if (v != NULL)
		*v = (uint64_t)load_u32(p) << 32 | load_u32(p + 4);
	return 0;
}

int
sshbuf_peek_string_direct(
    const struct sshbuf *b, const uint8_t **vp, size_t *lenp)
{
	size_t avail;
	uint32_t len;

	if (vp != NULL)
		*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if (b == NULL)
		return BRK_ERR_INTERNAL;
	avail = b->size - b->off;
	if (avail < 4)
		return BRK_ERR_INVALID;
	len = load_u32(b->cd + b->off);
	if (len > avail - 4)
		return BRK_ERR_INVALID;
	if (vp != NULL)
		*vp = b->cd + b->off + 4;
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

int
sshbuf_get_string_direct(struct sshbuf *b, const uint8_t **vp, size_t *lenp)
{
	const uint8_t *p;
	size_t len;
	int r;

	if (vp != NULL)
		*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((r = sshbuf_peek_string_direct(b, &p, &len)) != 0)
		return r;
	b->off += 4 + len;
	if (vp != NULL)
		*vp = p;
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

int
sshbuf_get_cstring(struct sshbuf *b, char **vp, size_t *lenp)
{
	const uint8_t *p;
	size_t len;
	char *s;
	int r;

	if (vp != NULL)
		*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((r = sshbuf_peek_string_direct(b, &p, &len)) != 0)
		return r;
	if (len > 0 && memchr(p, '\0', len) != NULL)
		return BRK_ERR_INVALID;
	if (vp != NULL) {
		if ((s = malloc(len + 1)) == NULL)
			return BRK_ERR_NOMEM;
		memcpy(s, p, len);
		s[len] = '\0';
		*vp = s;
	}
	b->off += 4 + len;
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

int
sshbuf_get_mpint_direct(struct sshbuf *b, const uint8_t **vp, size_t *lenp)
{
	const uint8_t *p;
	size_t len;
	int r;

	if (vp != NULL)
		*vp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if ((r = sshbuf_peek_string_direct(b, &p, &len)) != 0)
		return r;
	if (len > 0 && (p[0] & 0x80) != 0)
		return BRK_ERR_INVALID; /* negative */
	/* One encoding per value: a leading zero only to clear the sign. */
	if (len > 0 && p[0] == 0 && (len == 1 || (p[1] & 0x80) == 0))
		return BRK_ERR_INVALID;
	b->off += 4 + len;
	if (len > 0 && p[0] == 0) {
		p++;
		len--;
	}
	if (vp != NULL)
		*vp = p;
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

static int
put_base64(struct sshbuf *b, const uint8_t *v, size_t len, int pad)
{
	size_t i, olen;
	uint8_t *p, *o;
	uint32_t w;
	int r;

	if (len > (SSHBUF_SIZE_MAX / 4) * 3)
		return BRK_ERR_TOOBIG;
	olen = (len + 2) / 3 * 4;
	if ((r = sshbuf_reserve(b, olen, &p)) != 0)
		return r;
	o = p;
	for (i = 0; i + 3 <= len; i += 3) {
		w = (uint32_t)v[i] << 16 | (uint32_t)v[i + 1] << 8 | v[i + 2];
		*o++ = b64chars[(w >> 18) & 0x3f];
		*o++ = b64chars[(w >> 12) & 0x3f];
		*o++ = b64chars[(w >> 6) & 0x3f];
		*o++ = b64chars[w & 0x3f];
	}
	if (len - i == 1) {
		w = (uint32_t)v[i] << 16;
		*o++ = b64chars[(w >> 18) & 0x3f];
		*o++ = b64chars[(w >> 12) & 0x3f];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		w = (uint32_t)v[i] << 16 | (uint32_t)v[i + 1] << 8;
		*o++ = b64chars[(w >> 18) & 0x3f];
		*o++ = b64chars[(w >> 12) & 0x3f];
		*o++ = b64chars[(w >> 6) & 0x3f];
		*o++ = '=';
	}
	if (!pad) {
		/* Give back the '=' we wrote. */
		while (o > p && o[-1] == '=') {
			o--;
			b->size--;
		}
	}
	return 0;
}

int
sshbuf_put_base64(struct sshbuf *b, const void *v, size_t len)
{
	return put_base64(b, v, len, 1);
}

int
sshbuf_put_base64_nopad(struct sshbuf *b, const void *v, size_t len)
{
	return put_base64(b, v, len, 0);
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
sshbuf_put_base64_decoded(struct sshbuf *b, const char *s, size_t len)
{
	size_t i, npad, olen, start;
	uint8_t *p;
	uint32_t w;
	int r, k, v;

	if (b == NULL || (s == NULL && len != 0))
		return BRK_ERR_INTERNAL;
	if (len % 4 != 0)
		return BRK_ERR_INVALID;
	if (len == 0)
		return 0;
	npad = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
	olen = len / 4 * 3 - npad;
	start = b->size;
	if ((r = sshbuf_reserve(b, olen, &p)) != 0)
		return r;
	for (i = 0; i < len; i += 4) {
		w = 0;
		for (k = 0; k < 4; k++) {
			if (i + 4 == len && k >= 4 - (int)npad) {
				w <<= 6;
				continue;
			}
			if ((v = b64val(s[i + k])) < 0)
				goto bad;
			w = w << 6 | (uint32_t)v;
		}
		if (i + 4 == len && npad > 0) {
			/* Canonical form: the bits under the padding are 0. */
			if ((npad == 1 && (w & 0xff) != 0) ||
			    (npad == 2 && (w & 0xffff) != 0))
				goto bad;
		}
		*p++ = (uint8_t)(w >> 16);
		if (i + 4 < len || npad < 2)
			*p++ = (uint8_t)(w >> 8);
		if (i + 4 < len || npad < 1)
			*p++ = (uint8_t)w;
	}
	return 0;
bad:
	OPENSSL_cleanse(b->d + start, olen);
	b->size = start;
	return BRK_ERR_INVALID;
}

int
sshbuf_dup_string(const struct sshbuf *b, char **sp)
{
	size_t len;
	char *s;

	if (sp == NULL)
		return BRK_ERR_INTERNAL;
	*sp = NULL;
	if (b == NULL)
		return BRK_ERR_INTERNAL;
	len = sshbuf_len(b);
	if (len > 0 && memchr(sshbuf_ptr(b), '\0', len) != NULL)
		return BRK_ERR_INVALID;
	if ((s = malloc(len + 1)) == NULL)
		return BRK_ERR_NOMEM;
	if (len > 0)
		memcpy(s, sshbuf_ptr(b), len);
	s[len] = '\0';
	*sp = s;
	return 0;
}
