/*
 * SipHash-2-4, streaming (our own: libsodium only has the one-shot form).
 *
 * obfs4's hash DRBG keeps one SipHash state for the life of a connection,
 * writes each 8-byte output block back into it and reads the digest of
 * everything written so far; the streaming form makes each block cost one
 * compression plus one finalisation instead of rehashing the history.
 */
#ifndef PTK_CRYPTO_SIPHASH_H
#define PTK_CRYPTO_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct ptk_siphash {
    uint64_t v0, v1, v2, v3;
    uint64_t total;  /* bytes written */
    uint8_t tail[8]; /* a partial block */
    size_t ntail;
};

void ptk_siphash_init(struct ptk_siphash *s, const uint8_t key[16]);
void ptk_siphash_update(struct ptk_siphash *s, const void *p, size_t n);
/* Digest of everything written so far; the state is left untouched. */
uint64_t ptk_siphash_final(const struct ptk_siphash *s);
/* One-shot. */
uint64_t ptk_siphash24(const uint8_t key[16], const void *p, size_t n);

#endif
