/*
 * krl.h - OpenSSH key revocation lists for the broker's certificates.
 *
 * Revocation is by certificate serial (= grant serial, unique across the
 * broker).  The KRL holds one KRL_SECTION_CERTIFICATES section per CA key
 * the broker lists (current and previous), each revoking the same serials:
 * a certificate signed just before a rotation stays revocable, and since a
 * serial names one grant whatever key signed it, this revokes nothing else.
 * The KRL is unsigned; sshd's RevokedKeys does not require a signature.
 */
#ifndef BRK_KRL_H
#define BRK_KRL_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"

/* The most serials one KRL may revoke. */
#define KRL_MAX_SERIALS (4u * 1024 * 1024)

/*
 * Build the binary KRL (PROTOCOL.krl, format version 1) revoking serials
 * (any order, repeats allowed; they are sorted and deduplicated, runs
 * written as ranges).  krl_version should grow with each KRL published;
 * generated_date is seconds since the epoch.
 *
 * On success *out is a new buffer (free()) of *outlen bytes.  Errors:
 * BRK_ERR_INVALID (NULL arguments, or serial 0, which OpenSSH cannot
 * revoke), BRK_ERR_TOOBIG (more than KRL_MAX_SERIALS), BRK_ERR_NOMEM.
 * Thread-safe.
 */
int krl_build(const struct ca *ca, const uint64_t *serials, size_t nserials,
    uint64_t krl_version, uint64_t generated_date, uint8_t **out,
    size_t *outlen);

#endif
