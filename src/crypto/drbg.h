/*
 * obfs4's hash DRBG (our own, DESIGN): SipHash-2-4 in output-feedback mode.
 *
 * Seed (24 bytes) = SipHash key (16) || initial block (8). Each block is the
 * SipHash digest, as 8 little-endian bytes, of the initial block followed by
 * every block produced so far (one never-reset streaming state). obfs4 uses
 * it for the frame length masks and, through Go math/rand semantics
 * (crypto/gorand.h), for the padding and delay distributions.
 */
#ifndef PTK_CRYPTO_DRBG_H
#define PTK_CRYPTO_DRBG_H

#include <stdint.h>

#include "crypto/siphash.h"

#define PTK_DRBG_SEED_LEN 24

struct ptk_drbg {
    struct ptk_siphash sip;
    uint8_t ofb[8];
};

void ptk_drbg_init(struct ptk_drbg *d, const uint8_t seed[PTK_DRBG_SEED_LEN]);
/* The next 8-byte block. */
void ptk_drbg_next(struct ptk_drbg *d, uint8_t out[8]);
/* Go's Source.Int63: big-endian block with the top bit cleared. */
int64_t ptk_drbg_int63(struct ptk_drbg *d);

#endif
