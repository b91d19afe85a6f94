/*
 * krl.c - write OpenSSH KRLs that revoke certificates by serial.
 *
 * The one idea: sort and deduplicate the serials once, encode them once as
 * a certificate subsection (runs of three or more as a SERIAL_RANGE, the
 * rest in one SERIAL_LIST), then emit that same subsection under every CA
 * key we list.  Layout, from OpenSSH's PROTOCOL.krl:
 *
 *   uint64 magic "SSHKRL\n\0", uint32 format version 1, uint64 krl_version,
 *   uint64 generated_date, uint64 flags, string reserved, string comment,
 *   then sections: byte type, string data.  A certificates section's data
 *   is string ca_key, string reserved, then subsections: byte type, string
 *   data; a serial list is uint64s ascending, a range is uint64 lo, hi.
 */
#include "krl.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "sshbuf.h"

#define KRL_MAGIC 0x5353484b524c0a00ULL /* "SSHKRL\n\0" */
#define KRL_FORMAT_VERSION 1
#define KRL_SECTION_CERTIFICATES 1
#define KRL_SECTION_CERT_SERIAL_LIST 0x20
#define KRL_SECTION_CERT_SERIAL_RANGE 0x21
#define KRL_RANGE_MIN 3 /* a range costs 16 bytes + header: 3 serials */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Encode sorted unique serials s[0..n) as certificate subsections. */
static int
put_serials(struct sshbuf *b, const uint64_t *s, size_t n)
{
	struct sshbuf *list = NULL;
	size_t i, j;
	int r = BRK_ERR_INTERNAL;

	if ((list = sshbuf_new()) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && s[j] == s[j - 1] + 1; j++)
			;
		if (j - i >= KRL_RANGE_MIN) {
			if ((r = sshbuf_put_u8(
				 b, KRL_SECTION_CERT_SERIAL_RANGE)) != 0 ||
			    (r = sshbuf_put_u32(b, 16)) != 0 ||
			    (r = sshbuf_put_u64(b, s[i])) != 0 ||
			    (r = sshbuf_put_u64(b, s[j - 1])) != 0)
				goto out;
			continue;
		}
		for (; i < j; i++)
			if ((r = sshbuf_put_u64(list, s[i])) != 0)
				goto out;
	}
	if (sshbuf_len(list) > 0 &&
	    ((r = sshbuf_put_u8(b, KRL_SECTION_CERT_SERIAL_LIST)) != 0 ||
		(r = sshbuf_put_stringb(b, list)) != 0))
		goto out;
	r = 0;
out:
	sshbuf_free(list);
	return r;
}

int
krl_build(const struct ca *ca, const uint64_t *serials, size_t nserials,
    uint64_t krl_version, uint64_t generated_date, uint8_t **out,
    size_t *outlen)
{
	struct sshbuf *b = NULL, *certs = NULL, *sect = NULL;
	uint64_t *s = NULL;
	const uint8_t *cakey;
	size_t i, n = 0, calen;
	uint8_t *res = NULL;
	int r = BRK_ERR_INTERNAL;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (ca == NULL || out == NULL || outlen == NULL ||
	    (serials == NULL && nserials > 0)) {
		r = BRK_ERR_INVALID;
		goto out;
	}
	if (nserials > KRL_MAX_SERIALS) {
		r = BRK_ERR_TOOBIG;
		goto out;
	}
	if (nserials > 0) {
		if ((s = malloc(nserials * sizeof(*s))) == NULL) {
			r = BRK_ERR_NOMEM;
			goto out;
		}
		memcpy(s, serials, nserials * sizeof(*s));
		qsort(s, nserials, sizeof(*s), cmp_u64);
		if (s[0] == 0) {
			r = BRK_ERR_INVALID;
			goto out;
		}
		for (i = 0; i < nserials; i++)
			if (n == 0 || s[n - 1] != s[i])
				s[n++] = s[i];
	}
	if ((b = sshbuf_new()) == NULL || (certs = sshbuf_new()) == NULL ||
	    (sect = sshbuf_new()) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	if ((r = put_serials(certs, s, n)) != 0)
		goto out;
	if ((r = sshbuf_put_u64(b, KRL_MAGIC)) != 0 ||
	    (r = sshbuf_put_u32(b, KRL_FORMAT_VERSION)) != 0 ||
	    (r = sshbuf_put_u64(b, krl_version)) != 0 ||
	    (r = sshbuf_put_u64(b, generated_date)) != 0 ||
	    (r = sshbuf_put_u64(b, 0)) != 0 ||		 /* flags */
	    (r = sshbuf_put_string(b, NULL, 0)) != 0 ||	 /* reserved */
	    (r = sshbuf_put_cstring(b, "brokerd")) != 0) /* comment */
		goto out;
	/* No serials, no sections: an empty KRL revokes nothing. */
	for (i = 0; n > 0 && (cakey = ca_public_blob(ca, i, &calen)) != NULL;
	     i++) {
		sshbuf_reset(sect);
		if ((r = sshbuf_put_string(sect, cakey, calen)) != 0 ||
		    (r = sshbuf_put_string(sect, NULL, 0)) != 0 ||
		    (r = sshbuf_put(
			 sect, sshbuf_ptr(certs), sshbuf_len(certs))) != 0 ||
		    (r = sshbuf_put_u8(b, KRL_SECTION_CERTIFICATES)) != 0 ||
		    (r = sshbuf_put_stringb(b, sect)) != 0)
			goto out;
	}
	if ((res = malloc(sshbuf_len(b))) == NULL) {
		r = BRK_ERR_NOMEM;
		goto out;
	}
	memcpy(res, sshbuf_ptr(b), sshbuf_len(b));
	*outlen = sshbuf_len(b);
	*out = res;
	r = 0;
out:
	free(s);
	sshbuf_free(sect);
	sshbuf_free(certs);
	sshbuf_free(b);
	return r;
}
