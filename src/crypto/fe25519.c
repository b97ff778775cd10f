/*
 * GF(2^255 - 19) in five 51-bit limbs with 128-bit products (see
 * crypto/fe25519.h). The formulas are the textbook ones; every function is
 * branch-free on secret data.
 */
#include "crypto/fe25519.h"

#include <string.h>

typedef unsigned __int128 u128;

#define MASK51 ((UINT64_C(1) << 51) - 1)

const fe25519 fe_sqrtm1 = {{0x61b274a0ea0b0, 0xd5a5fc8f189d, 0x7ef5e9cbd0c60, 0x78595a6804c9e,
                            0x2b8324804fc1d}};
const fe25519 fe_ed_d = {{0x34dca135978a3, 0x1a8283b156ebd, 0x5e7a26001c029, 0x739c663a03cbb,
                          0x52036cee2b6ff}};
const fe25519 fe_ed_d2 = {{0x69b9426b2f159, 0x35050762add7a, 0x3cf44c0038052, 0x6738cc7407977,
                           0x2406d9dc56dff}};

void fe_0(fe25519 *h)
{
    memset(h, 0, sizeof(*h));
}

void fe_1(fe25519 *h)
{
    fe_0(h);
    h->v[0] = 1;
}

void fe_copy(fe25519 *h, const fe25519 *f)
{
    *h = *f;
}

static uint64_t load64_le(const uint8_t *s)
{
    uint64_t r = 0;
    for (int i = 7; i >= 0; i--)
        r = (r << 8) | s[i];
    return r;
}

void fe_frombytes(fe25519 *h, const uint8_t s[32])
{
    h->v[0] = load64_le(s) & MASK51;
    h->v[1] = (load64_le(s + 6) >> 3) & MASK51;
    h->v[2] = (load64_le(s + 12) >> 6) & MASK51;
    h->v[3] = (load64_le(s + 19) >> 1) & MASK51;
    h->v[4] = (load64_le(s + 24) >> 12) & MASK51;
}

/* Propagate carries so every limb is below 2^51 (+ a small excess in limb 0). */
static void fe_carry(fe25519 *h)
{
    uint64_t c;
    c = h->v[0] >> 51;
    h->v[0] &= MASK51;
    h->v[1] += c;
    c = h->v[1] >> 51;
    h->v[1] &= MASK51;
    h->v[2] += c;
    c = h->v[2] >> 51;
    h->v[2] &= MASK51;
    h->v[3] += c;
    c = h->v[3] >> 51;
    h->v[3] &= MASK51;
    h->v[4] += c;
    c = h->v[4] >> 51;
    h->v[4] &= MASK51;
    h->v[0] += c * 19;
}

void fe_tobytes(uint8_t s[32], const fe25519 *f)
{
    fe25519 h = *f;
    fe_carry(&h);
    fe_carry(&h);
    /* Now h < 2^255 + small; subtract p if h >= p: q = (h + 19) >> 255. */
    uint64_t q = (h.v[0] + 19) >> 51;
    q = (h.v[1] + q) >> 51;
    q = (h.v[2] + q) >> 51;
    q = (h.v[3] + q) >> 51;
    q = (h.v[4] + q) >> 51;
    h.v[0] += 19 * q;
    uint64_t c = h.v[0] >> 51;
    h.v[0] &= MASK51;
    h.v[1] += c;
    c = h.v[1] >> 51;
    h.v[1] &= MASK51;
    h.v[2] += c;
    c = h.v[2] >> 51;
    h.v[2] &= MASK51;
    h.v[3] += c;
    c = h.v[3] >> 51;
    h.v[3] &= MASK51;
    h.v[4] += c;
    h.v[4] &= MASK51; /* drops the 2^255 that q accounted for */
    uint64_t w[4] = {
        h.v[0] | (h.v[1] << 51),
        (h.v[1] >> 13) | (h.v[2] << 38),
        (h.v[2] >> 26) | (h.v[3] << 25),
        (h.v[3] >> 39) | (h.v[4] << 12),
    };
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

void fe_add(fe25519 *h, const fe25519 *f, const fe25519 *g)
{
    for (int i = 0; i < 5; i++)
        h->v[i] = f->v[i] + g->v[i];
    fe_carry(h);
}

void fe_sub(fe25519 *h, const fe25519 *f, const fe25519 *g)
{
    /* add 4p so no limb underflows (g's limbs are below 2^52) */
    h->v[0] = f->v[0] + UINT64_C(0x1fffffffffffb4) - g->v[0];
    h->v[1] = f->v[1] + UINT64_C(0x1ffffffffffffc) - g->v[1];
    h->v[2] = f->v[2] + UINT64_C(0x1ffffffffffffc) - g->v[2];
    h->v[3] = f->v[3] + UINT64_C(0x1ffffffffffffc) - g->v[3];
    h->v[4] = f->v[4] + UINT64_C(0x1ffffffffffffc) - g->v[4];
    fe_carry(h);
}

void fe_neg(fe25519 *h, const fe25519 *f)
{
    fe25519 z;
    fe_0(&z);
    fe_sub(h, &z, f);
}

static void fe_reduce128(fe25519 *h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4)
{
    uint64_t c;
    r1 += (uint64_t)(r0 >> 51);
    h->v[0] = (uint64_t)r0 & MASK51;
    r2 += (uint64_t)(r1 >> 51);
    h->v[1] = (uint64_t)r1 & MASK51;
    r3 += (uint64_t)(r2 >> 51);
    h->v[2] = (uint64_t)r2 & MASK51;
    r4 += (uint64_t)(r3 >> 51);
    h->v[3] = (uint64_t)r3 & MASK51;
    c = (uint64_t)(r4 >> 51);
    h->v[4] = (uint64_t)r4 & MASK51;
    h->v[0] += c * 19;
    c = h->v[0] >> 51;
    h->v[0] &= MASK51;
    h->v[1] += c;
}

void fe_mul(fe25519 *h, const fe25519 *f, const fe25519 *g)
{
    const uint64_t *a = f->v, *b = g->v;
    uint64_t b1_19 = 19 * b[1], b2_19 = 19 * b[2], b3_19 = 19 * b[3], b4_19 = 19 * b[4];
    u128 r0 = (u128)a[0] * b[0] + (u128)a[1] * b4_19 + (u128)a[2] * b3_19 + (u128)a[3] * b2_19 +
              (u128)a[4] * b1_19;
    u128 r1 = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * b4_19 + (u128)a[3] * b3_19 +
              (u128)a[4] * b2_19;
    u128 r2 = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] + (u128)a[3] * b4_19 +
              (u128)a[4] * b3_19;
    u128 r3 = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] + (u128)a[3] * b[0] +
              (u128)a[4] * b4_19;
    u128 r4 = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] + (u128)a[3] * b[1] +
              (u128)a[4] * b[0];
    fe_reduce128(h, r0, r1, r2, r3, r4);
}

void fe_sq(fe25519 *h, const fe25519 *f)
{
    const uint64_t *a = f->v;
    uint64_t d0 = 2 * a[0], d1 = 2 * a[1], d2 = 2 * a[2];
    uint64_t a3_19 = 19 * a[3], a4_19 = 19 * a[4];
    u128 r0 = (u128)a[0] * a[0] + (u128)d1 * a4_19 + (u128)d2 * a3_19;
    u128 r1 = (u128)d0 * a[1] + (u128)d2 * a4_19 + (u128)a[3] * a3_19;
    u128 r2 = (u128)d0 * a[2] + (u128)a[1] * a[1] + (u128)(2 * a[3]) * a4_19;
    u128 r3 = (u128)d0 * a[3] + (u128)d1 * a[2] + (u128)a[4] * a4_19;
    u128 r4 = (u128)d0 * a[4] + (u128)d1 * a[3] + (u128)a[2] * a[2];
    fe_reduce128(h, r0, r1, r2, r3, r4);
}

void fe_mul_small(fe25519 *h, const fe25519 *f, uint32_t n)
{
    u128 r[5];
    for (int i = 0; i < 5; i++)
        r[i] = (u128)f->v[i] * n;
    fe_reduce128(h, r[0], r[1], r[2], r[3], r[4]);
}

/* h = f^(2^n) */
static void fe_sqn(fe25519 *h, const fe25519 *f, int n)
{
    fe_sq(h, f);
    for (int i = 1; i < n; i++)
        fe_sq(h, h);
}

/* Shared chain: returns z^(2^250 - 1) in t, and z^11 in z11. */
static void fe_pow_2_250_1(fe25519 *t, fe25519 *z11, const fe25519 *z)
{
    fe25519 z2, z9, z2_5_0, z2_10_0, z2_20_0, z2_50_0, z2_100_0, tmp;
    fe_sq(&z2, z);                      /* 2 */
    fe_sqn(&tmp, &z2, 2);               /* 8 */
    fe_mul(&z9, &tmp, z);               /* 9 */
    fe_mul(z11, &z9, &z2);              /* 11 */
    fe_sq(&tmp, z11);                   /* 22 */
    fe_mul(&z2_5_0, &tmp, &z9);         /* 2^5 - 1 */
    fe_sqn(&tmp, &z2_5_0, 5);           /* 2^10 - 2^5 */
    fe_mul(&z2_10_0, &tmp, &z2_5_0);    /* 2^10 - 1 */
    fe_sqn(&tmp, &z2_10_0, 10);         /* 2^20 - 2^10 */
    fe_mul(&z2_20_0, &tmp, &z2_10_0);   /* 2^20 - 1 */
    fe_sqn(&tmp, &z2_20_0, 20);         /* 2^40 - 2^20 */
    fe_mul(&tmp, &tmp, &z2_20_0);       /* 2^40 - 1 */
    fe_sqn(&tmp, &tmp, 10);             /* 2^50 - 2^10 */
    fe_mul(&z2_50_0, &tmp, &z2_10_0);   /* 2^50 - 1 */
    fe_sqn(&tmp, &z2_50_0, 50);         /* 2^100 - 2^50 */
    fe_mul(&z2_100_0, &tmp, &z2_50_0);  /* 2^100 - 1 */
    fe_sqn(&tmp, &z2_100_0, 100);       /* 2^200 - 2^100 */
    fe_mul(&tmp, &tmp, &z2_100_0);      /* 2^200 - 1 */
    fe_sqn(&tmp, &tmp, 50);             /* 2^250 - 2^50 */
    fe_mul(t, &tmp, &z2_50_0);          /* 2^250 - 1 */
}

void fe_invert(fe25519 *h, const fe25519 *f)
{
    fe25519 t, z11;
    fe_pow_2_250_1(&t, &z11, f);
    fe_sqn(&t, &t, 5);  /* 2^255 - 2^5 */
    fe_mul(h, &t, &z11); /* 2^255 - 21 = p - 2 */
}

/* h = f^((p-5)/8) = f^(2^252 - 3) */
static void fe_pow22523(fe25519 *h, const fe25519 *f)
{
    fe25519 t, z11;
    fe_pow_2_250_1(&t, &z11, f);
    fe_sqn(&t, &t, 2); /* 2^252 - 4 */
    fe_mul(h, &t, f);  /* 2^252 - 3 */
}

void fe_cmov(fe25519 *h, const fe25519 *f, unsigned b)
{
    uint64_t mask = (uint64_t)0 - (uint64_t)(b & 1);
    for (int i = 0; i < 5; i++)
        h->v[i] ^= mask & (h->v[i] ^ f->v[i]);
}

bool fe_iszero(const fe25519 *f)
{
    uint8_t s[32], acc = 0;
    fe_tobytes(s, f);
    for (int i = 0; i < 32; i++)
        acc |= s[i];
    return acc == 0;
}

bool fe_eq(const fe25519 *f, const fe25519 *g)
{
    fe25519 d;
    fe_sub(&d, f, g);
    return fe_iszero(&d);
}

unsigned fe_isnegative(const fe25519 *f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

void fe_abs(fe25519 *h, const fe25519 *f)
{
    fe25519 n;
    fe_neg(&n, f);
    fe_copy(h, f);
    fe_cmov(h, &n, fe_isnegative(f));
}

unsigned fe_sqrt_ratio(fe25519 *r, const fe25519 *u, const fe25519 *v)
{
    fe25519 v3, v7, t, check, neg_u, neg_u_i, r_prime;
    fe_sq(&v3, v);
    fe_mul(&v3, &v3, v); /* v^3 */
    fe_sq(&v7, &v3);
    fe_mul(&v7, &v7, v); /* v^7 */
    fe_mul(&t, u, &v7);
    fe_pow22523(&t, &t);  /* (u v^7)^((p-5)/8) */
    fe_mul(&t, &t, &v3);
    fe_mul(r, &t, u);     /* r = u v^3 (u v^7)^((p-5)/8) */
    fe_sq(&check, r);
    fe_mul(&check, &check, v); /* v r^2 */
    fe_neg(&neg_u, u);
    fe_mul(&neg_u_i, &neg_u, &fe_sqrtm1);
    unsigned correct = fe_eq(&check, u);
    unsigned flipped = fe_eq(&check, &neg_u);
    unsigned flipped_i = fe_eq(&check, &neg_u_i);
    fe_mul(&r_prime, r, &fe_sqrtm1);
    fe_cmov(r, &r_prime, flipped | flipped_i);
    fe_abs(r, r);
    return correct | flipped;
}
