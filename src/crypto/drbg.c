/* obfs4 hash DRBG (see crypto/drbg.h). */
#include "crypto/drbg.h"

#include <string.h>

void ptk_drbg_init(struct ptk_drbg *d, const uint8_t seed[PTK_DRBG_SEED_LEN])
{
    ptk_siphash_init(&d->sip, seed);
    memcpy(d->ofb, seed + 16, 8);
}

void ptk_drbg_next(struct ptk_drbg *d, uint8_t out[8])
{
    ptk_siphash_update(&d->sip, d->ofb, 8);
    uint64_t h = ptk_siphash_final(&d->sip);
    for (int i = 0; i < 8; i++)
        d->ofb[i] = (uint8_t)(h >> (8 * i));
    memcpy(out, d->ofb, 8);
}

int64_t ptk_drbg_int63(struct ptk_drbg *d)
{
    uint8_t b[8];
    uint64_t v = 0;
    ptk_drbg_next(d, b);
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return (int64_t)(v & (~UINT64_C(0) >> 1));
}
