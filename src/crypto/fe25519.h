/*
 * Arithmetic in GF(2^255 - 19), radix 2^51, constant time.
 *
 * ptkit owns this code (DESIGN): Elligator2 needs square roots, Legendre
 * symbols and Edwards point additions that libsodium does not expose. Every
 * operation leaves limbs below 2^52 so any result may feed any other
 * operation; fe_tobytes produces the canonical (fully reduced) encoding.
 */
#ifndef PTK_CRYPTO_FE25519_H
#define PTK_CRYPTO_FE25519_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t v[5];
} fe25519;

void fe_0(fe25519 *h);
void fe_1(fe25519 *h);
void fe_copy(fe25519 *h, const fe25519 *f);
/* Load 32 little-endian bytes; bit 255 is ignored; the value is reduced lazily. */
void fe_frombytes(fe25519 *h, const uint8_t s[32]);
/* Store the canonical little-endian encoding (value < p). */
void fe_tobytes(uint8_t s[32], const fe25519 *h);
void fe_add(fe25519 *h, const fe25519 *f, const fe25519 *g);
void fe_sub(fe25519 *h, const fe25519 *f, const fe25519 *g);
void fe_neg(fe25519 *h, const fe25519 *f);
void fe_mul(fe25519 *h, const fe25519 *f, const fe25519 *g);
void fe_sq(fe25519 *h, const fe25519 *f);
void fe_mul_small(fe25519 *h, const fe25519 *f, uint32_t n);
/* h = f^(p-2) = 1/f (0 for 0). */
void fe_invert(fe25519 *h, const fe25519 *f);
/* h = f if b == 1, unchanged if b == 0 (b must be 0 or 1). */
void fe_cmov(fe25519 *h, const fe25519 *f, unsigned b);
bool fe_iszero(const fe25519 *f);
bool fe_eq(const fe25519 *f, const fe25519 *g);
/* The least significant bit of the canonical encoding ("negative" in RFC 9380/ristretto terms). */
unsigned fe_isnegative(const fe25519 *f);
/* h = |f|: f or -f, whichever is non-negative. */
void fe_abs(fe25519 *h, const fe25519 *f);
/*
 * If u/v is a square, set r to its non-negative square root and return 1;
 * otherwise set r to the non-negative root of sqrt(-1)*u/v and return 0.
 * (v == 0 gives r = 0 and returns 1 only if u == 0.) r must not alias u or v.
 */
unsigned fe_sqrt_ratio(fe25519 *r, const fe25519 *u, const fe25519 *v);

/* Constants. */
extern const fe25519 fe_sqrtm1; /* sqrt(-1) */
extern const fe25519 fe_ed_d;   /* -121665/121666 */
extern const fe25519 fe_ed_d2;  /* 2d */

#endif
