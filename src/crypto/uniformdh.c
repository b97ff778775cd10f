/*
 * UniformDH over OpenSSL BIGNUM (see crypto/uniformdh.h). Each call builds
 * its own BN_CTX and Montgomery context for p (no global state); every
 * BIGNUM that holds x or a secret is cleared on release, and the exponent
 * is flagged BN_FLG_CONSTTIME so OpenSSL takes the constant-time path.
 */
#include "crypto/uniformdh.h"

#include <string.h>

#include <openssl/bn.h>

#include "crypto/crypto.h"
#include "ptkit/error.h"

/* RFC 3526 section 2: p = 2^1536 - 2^1472 - 1 + 2^64 * (floor(2^1406 pi) + 741804). */
const uint8_t ptk_udh_prime[PTK_UDH_LEN] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc9, 0x0f, 0xda, 0xa2, 0x21, 0x68, 0xc2, 0x34,
    0xc4, 0xc6, 0x62, 0x8b, 0x80, 0xdc, 0x1c, 0xd1, 0x29, 0x02, 0x4e, 0x08, 0x8a, 0x67, 0xcc, 0x74,
    0x02, 0x0b, 0xbe, 0xa6, 0x3b, 0x13, 0x9b, 0x22, 0x51, 0x4a, 0x08, 0x79, 0x8e, 0x34, 0x04, 0xdd,
    0xef, 0x95, 0x19, 0xb3, 0xcd, 0x3a, 0x43, 0x1b, 0x30, 0x2b, 0x0a, 0x6d, 0xf2, 0x5f, 0x14, 0x37,
    0x4f, 0xe1, 0x35, 0x6d, 0x6d, 0x51, 0xc2, 0x45, 0xe4, 0x85, 0xb5, 0x76, 0x62, 0x5e, 0x7e, 0xc6,
    0xf4, 0x4c, 0x42, 0xe9, 0xa6, 0x37, 0xed, 0x6b, 0x0b, 0xff, 0x5c, 0xb6, 0xf4, 0x06, 0xb7, 0xed,
    0xee, 0x38, 0x6b, 0xfb, 0x5a, 0x89, 0x9f, 0xa5, 0xae, 0x9f, 0x24, 0x11, 0x7c, 0x4b, 0x1f, 0xe6,
    0x49, 0x28, 0x66, 0x51, 0xec, 0xe4, 0x5b, 0x3d, 0xc2, 0x00, 0x7c, 0xb8, 0xa1, 0x63, 0xbf, 0x05,
    0x98, 0xda, 0x48, 0x36, 0x1c, 0x55, 0xd3, 0x9a, 0x69, 0x16, 0x3f, 0xa8, 0xfd, 0x24, 0xcf, 0x5f,
    0x83, 0x65, 0x5d, 0x23, 0xdc, 0xa3, 0xad, 0x96, 0x1c, 0x62, 0xf3, 0x56, 0x20, 0x85, 0x52, 0xbb,
    0x9e, 0xd5, 0x29, 0x07, 0x70, 0x96, 0x96, 0x6d, 0x67, 0x0c, 0x35, 0x4e, 0x4a, 0xbc, 0x98, 0x04,
    0xf1, 0x74, 0x6c, 0x08, 0xca, 0x23, 0x73, 0x27, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

struct udh {
    BN_CTX *ctx;
    BN_MONT_CTX *mont;
    BIGNUM *p, *x, *base, *r;
};

static void udh_done(struct udh *u)
{
    BN_clear_free(u->x);
    BN_clear_free(u->r);
    BN_clear_free(u->base);
    BN_free(u->p);
    BN_MONT_CTX_free(u->mont);
    BN_CTX_free(u->ctx);
    memset(u, 0, sizeof(*u));
}

/* Set up p, the Montgomery context and x (flagged constant-time). */
static int udh_begin(struct udh *u, const uint8_t x[PTK_UDH_LEN])
{
    memset(u, 0, sizeof(*u));
    if (!(u->ctx = BN_CTX_new()) || !(u->mont = BN_MONT_CTX_new()) || !(u->p = BN_new()) ||
        !(u->x = BN_new()) || !(u->base = BN_new()) || !(u->r = BN_new()))
        return PTK_ENOMEM;
    BN_set_flags(u->x, BN_FLG_CONSTTIME);
    if (!BN_bin2bn(ptk_udh_prime, PTK_UDH_LEN, u->p) || !BN_bin2bn(x, PTK_UDH_LEN, u->x) ||
        !BN_MONT_CTX_set(u->mont, u->p, u->ctx))
        return PTK_EIO;
    return PTK_OK;
}

/* u->r = u->base^x mod p, written as 192 bytes into out. */
static int udh_exp(struct udh *u, uint8_t out[PTK_UDH_LEN])
{
    if (!BN_mod_exp_mont_consttime(u->r, u->base, u->x, u->p, u->ctx, u->mont) ||
        BN_bn2binpad(u->r, out, PTK_UDH_LEN) != PTK_UDH_LEN)
        return PTK_EIO;
    return PTK_OK;
}

int ptk_udh_keypair_from(const uint8_t raw[PTK_UDH_LEN], uint8_t x[PTK_UDH_LEN],
                         uint8_t pub[PTK_UDH_LEN])
{
    struct udh u;
    bool odd = raw[PTK_UDH_LEN - 1] & 1;
    int r;

    if (x != raw)
        memcpy(x, raw, PTK_UDH_LEN);
    x[PTK_UDH_LEN - 1] &= 0xFE;
    if ((r = udh_begin(&u, x)) != PTK_OK)
        goto out;
    if (!BN_set_word(u.base, 2)) {
        r = PTK_EIO;
        goto out;
    }
    if ((r = udh_exp(&u, pub)) != PTK_OK)
        goto out;
    if (odd) {
        /* p - g^x: g^x is in [1, p), so the difference is in (0, p). */
        if (!BN_sub(u.r, u.p, u.r) || BN_bn2binpad(u.r, pub, PTK_UDH_LEN) != PTK_UDH_LEN) {
            r = PTK_EIO;
            goto out;
        }
    }
out:
    udh_done(&u);
    if (r != PTK_OK) {
        ptk_memzero(x, PTK_UDH_LEN);
        ptk_memzero(pub, PTK_UDH_LEN);
    }
    return r;
}

int ptk_udh_keypair(uint8_t x[PTK_UDH_LEN], uint8_t pub[PTK_UDH_LEN])
{
    ptk_random(x, PTK_UDH_LEN);
    return ptk_udh_keypair_from(x, x, pub);
}

int ptk_udh_shared(const uint8_t x[PTK_UDH_LEN], const uint8_t peer[PTK_UDH_LEN],
                   uint8_t shared[PTK_UDH_LEN])
{
    struct udh u;
    int r;

    if ((r = udh_begin(&u, x)) != PTK_OK)
        goto out;
    /* Reduce first: a peer may send any 192 bytes, including values >= p. */
    if (!BN_bin2bn(peer, PTK_UDH_LEN, u.r) || !BN_nnmod(u.base, u.r, u.p, u.ctx)) {
        r = PTK_EIO;
        goto out;
    }
    r = udh_exp(&u, shared);
out:
    udh_done(&u);
    if (r != PTK_OK)
        ptk_memzero(shared, PTK_UDH_LEN);
    return r;
}
