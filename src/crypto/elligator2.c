/*
 * Elligator2 on Curve25519 (see crypto/elligator2.h).
 *
 * The fixed base multiplication [clamp(priv)]B is libsodium's (Edwards form,
 * precomputed tables); the rest is ours: point decompression, the addition
 * of the low-order point, the birational map to Montgomery u = (1+y)/(1-y),
 * and both directions of the Elligator2 map with A = 486662, Z = 2:
 *
 *   forward  r -> u:  w = -A / (1 + 2 r^2);  u = w if w^3 + A w^2 + w is a
 *                     square, else -w - A
 *   inverse  u -> r:  r = sqrt(-t / (2 u (u + A))) with t = u or u + A chosen
 *                     by the tweak's bit 0, then the root whose double is even
 *                     (exists iff -2 u (u + A) is a square)
 */
#include "crypto/elligator2.h"

#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/fe25519.h"

/* An order-8 point T on edwards25519 (little-endian x, y). */
static const uint8_t lop_x_bytes[32] = {
    0x4a, 0xd1, 0x45, 0xc5, 0x46, 0x46, 0xa1, 0xde, 0x38, 0xe2, 0xe5, 0x13, 0x70, 0x3c, 0x19, 0x5c,
    0xbb, 0x4a, 0xde, 0x38, 0x32, 0x99, 0x33, 0xe9, 0x28, 0x4a, 0x39, 0x06, 0xa0, 0xb9, 0xd5, 0x1f};
static const uint8_t lop_y_bytes[32] = {
    0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
    0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05};

#define CURVE_A 486662

struct ext_point {
    fe25519 x, y, z, t;
};

/*
 * One coordinate of [c]T for c in 0..7, branch-free: with bits b0,b1,b2 of
 * `sel`, the value is `base` if b0, else `k` if b1, else 0; negated if b2.
 * For x: sel = c, base = T.x, k = sqrt(-1). For y: sel = c + 2, base = T.y, k = 1.
 */
static void select_lop(fe25519 *out, const fe25519 *base, const fe25519 *k, unsigned sel)
{
    fe25519 neg;
    fe_0(out);
    fe_cmov(out, k, (sel >> 1) & 1);
    fe_cmov(out, base, sel & 1);
    fe_neg(&neg, out);
    fe_cmov(out, &neg, (sel >> 2) & 1);
}

/* Extended-coordinates addition on -x^2 + y^2 = 1 + d x^2 y^2 (a = -1). */
static void ext_add(struct ext_point *r, const struct ext_point *p, const struct ext_point *q)
{
    fe25519 a, b, c, d, e, f, g, h, t1, t2;
    fe_sub(&t1, &p->y, &p->x);
    fe_sub(&t2, &q->y, &q->x);
    fe_mul(&a, &t1, &t2);
    fe_add(&t1, &p->y, &p->x);
    fe_add(&t2, &q->y, &q->x);
    fe_mul(&b, &t1, &t2);
    fe_mul(&c, &p->t, &q->t);
    fe_mul(&c, &c, &fe_ed_d2);
    fe_mul(&d, &p->z, &q->z);
    fe_add(&d, &d, &d);
    fe_sub(&e, &b, &a);
    fe_sub(&f, &d, &c);
    fe_add(&g, &d, &c);
    fe_add(&h, &b, &a);
    fe_mul(&r->x, &e, &f);
    fe_mul(&r->y, &g, &h);
    fe_mul(&r->t, &e, &h);
    fe_mul(&r->z, &f, &g);
}

/* Decompress a canonical edwards25519 encoding (as libsodium produces). */
static bool ext_frombytes(struct ext_point *p, const uint8_t s[32])
{
    fe25519 yy, num, den, one;
    fe_frombytes(&p->y, s);
    fe_1(&one);
    fe_sq(&yy, &p->y);
    fe_sub(&num, &yy, &one);       /* y^2 - 1 */
    fe_mul(&den, &yy, &fe_ed_d);
    fe_add(&den, &den, &one);      /* d y^2 + 1 */
    if (!fe_sqrt_ratio(&p->x, &num, &den))
        return false;
    fe25519 nx;
    fe_neg(&nx, &p->x);
    fe_cmov(&p->x, &nx, fe_isnegative(&p->x) ^ (unsigned)(s[31] >> 7));
    fe_1(&p->z);
    fe_mul(&p->t, &p->x, &p->y);
    return true;
}

/* u of [clamp(priv)]B + [priv[0] & 7]T. */
static bool dirty_public_u(fe25519 *u, const uint8_t priv[32])
{
    uint8_t scalar[32], enc[32];
    struct ext_point p, lop, sum;
    fe25519 base_x, base_y, one, num, den;

    memcpy(scalar, priv, 32);
    scalar[0] &= 248;
    scalar[31] &= 127;
    scalar[31] |= 64;
    int rc = crypto_scalarmult_ed25519_base_noclamp(enc, scalar);
    ptk_memzero(scalar, sizeof(scalar));
    if (rc != 0 || !ext_frombytes(&p, enc))
        return false;

    fe_frombytes(&base_x, lop_x_bytes);
    fe_frombytes(&base_y, lop_y_bytes);
    fe_1(&one);
    select_lop(&lop.x, &base_x, &fe_sqrtm1, priv[0]);
    select_lop(&lop.y, &base_y, &one, (unsigned)(uint8_t)(priv[0] + 2));
    fe_1(&lop.z);
    fe_mul(&lop.t, &lop.x, &lop.y);
    ext_add(&sum, &p, &lop);

    fe_add(&num, &sum.z, &sum.y);
    fe_sub(&den, &sum.z, &sum.y);
    fe_invert(&den, &den);
    fe_mul(u, &num, &den);
    return true;
}

static bool u_to_repr(uint8_t repr[32], const fe25519 *u, uint8_t tweak)
{
    fe25519 t1, t2, t3, inv_sqrt, one, neg;
    uint8_t b[32];
    fe_1(&one);
    fe_0(&t2);
    t2.v[0] = CURVE_A;
    fe_add(&t2, u, &t2);        /* u + A */
    fe_mul(&t3, u, &t2);
    fe_mul_small(&t3, &t3, 2);
    fe_neg(&t3, &t3);           /* -2 u (u + A) */
    if (!fe_sqrt_ratio(&inv_sqrt, &one, &t3))
        return false;           /* 1 / sqrt(-2 u (u + A)) */
    fe_copy(&t1, u);
    fe_cmov(&t1, &t2, tweak & 1);
    fe_mul(&t3, &t1, &inv_sqrt);
    fe_add(&t1, &t3, &t3);
    fe_tobytes(b, &t1);
    fe_neg(&neg, &t3);
    fe_cmov(&t3, &neg, b[0] & 1);
    fe_tobytes(repr, &t3);
    repr[31] |= tweak & 0xc0;
    return true;
}

bool ptk_elligator2_pub_repr(uint8_t pub[32], uint8_t repr[32], const uint8_t priv[32],
                             uint8_t tweak)
{
    fe25519 u;
    if (!dirty_public_u(&u, priv) || !u_to_repr(repr, &u, tweak))
        return false;
    fe_tobytes(pub, &u);
    return true;
}

void ptk_elligator2_repr_to_pub(uint8_t pub[32], const uint8_t repr[32])
{
    uint8_t clamped[32];
    fe25519 r, w, e, t, one, a, neg_a, alt;
    memcpy(clamped, repr, 32);
    clamped[31] &= 0x3f;
    fe_frombytes(&r, clamped);
    fe_1(&one);
    fe_0(&a);
    a.v[0] = CURVE_A;
    fe_neg(&neg_a, &a);
    fe_sq(&t, &r);
    fe_add(&t, &t, &t);
    fe_add(&t, &t, &one);       /* 1 + 2 r^2 (never 0: -1/2 is not a square) */
    fe_invert(&t, &t);
    fe_mul(&w, &neg_a, &t);     /* w = -A / (1 + 2 r^2) */
    fe_add(&t, &w, &a);
    fe_mul(&t, &t, &w);
    fe_add(&t, &t, &one);
    fe_mul(&e, &t, &w);         /* w^3 + A w^2 + w */
    fe25519 root;
    unsigned square = fe_sqrt_ratio(&root, &e, &one);
    fe_sub(&alt, &neg_a, &w);   /* -w - A */
    fe_cmov(&w, &alt, 1 - square);
    fe_tobytes(pub, &w);
}

void ptk_elligator2_keygen(uint8_t priv[32], uint8_t pub[32], uint8_t repr[32])
{
    uint8_t seed[32], digest[64];
    for (;;) {
        ptk_random_fast(seed, sizeof(seed));
        crypto_hash_sha512(digest, seed, sizeof(seed));
        memcpy(priv, digest, 32);
        if (ptk_elligator2_pub_repr(pub, repr, priv, digest[63]))
            break;
    }
    ptk_memzero(seed, sizeof(seed));
    ptk_memzero(digest, sizeof(digest));
}
