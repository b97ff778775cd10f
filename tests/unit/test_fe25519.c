/*
 * Unit tests: GF(2^255-19) arithmetic (crypto/fe25519.c) against OpenSSL's
 * bignum arithmetic on random and edge-case inputs, plus the constants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>

#include "crypto/crypto.h"
#include "crypto/fe25519.h"

static BIGNUM *P;
static BN_CTX *ctx;

static BIGNUM *bn_from_le(const uint8_t s[32], int mask_top)
{
    uint8_t be[32];
    for (int i = 0; i < 32; i++)
        be[i] = s[31 - i];
    if (mask_top)
        be[0] &= 0x7f;
    return BN_bin2bn(be, 32, NULL);
}

static void bn_to_le(const BIGNUM *b, uint8_t s[32])
{
    uint8_t be[32];
    assert_int_equal(BN_bn2binpad(b, be, 32), 32);
    for (int i = 0; i < 32; i++)
        s[i] = be[31 - i];
}

/* The canonical encoding of (value of s mod p). */
static void canon(const uint8_t in[32], uint8_t out[32])
{
    BIGNUM *b = bn_from_le(in, 1);
    BN_nnmod(b, b, P, ctx);
    bn_to_le(b, out);
    BN_free(b);
}

static void rand_bytes(uint8_t s[32], int i)
{
    ptk_random(s, 32);
    /* edge cases: values near 0, p and 2^255 */
    if (i % 7 == 1)
        memset(s, 0xff, 32);
    if (i % 7 == 2) {
        memset(s, 0xff, 32);
        s[0] = (uint8_t)(0xec + (i % 5)); /* p-1 .. p+3 (with top bit masked) */
        s[31] = 0x7f;
    }
    if (i % 7 == 3) {
        memset(s, 0, 32);
        s[0] = (uint8_t)(i % 3);
    }
}

static void test_roundtrip_and_canonical(void **st)
{
    (void)st;
    for (int i = 0; i < 2000; i++) {
        uint8_t s[32], out[32], want[32];
        fe25519 f;
        rand_bytes(s, i);
        fe_frombytes(&f, s);
        fe_tobytes(out, &f);
        canon(s, want);
        assert_memory_equal(out, want, 32);
    }
}

static void test_ops_against_bignum(void **st)
{
    (void)st;
    for (int i = 0; i < 2000; i++) {
        uint8_t a[32], b[32], out[32], want[32];
        rand_bytes(a, i);
        rand_bytes(b, i / 7 + 3 * i);
        fe25519 fa, fb, r;
        fe_frombytes(&fa, a);
        fe_frombytes(&fb, b);
        BIGNUM *A = bn_from_le(a, 1), *B = bn_from_le(b, 1), *R = BN_new();

        fe_mul(&r, &fa, &fb);
        fe_tobytes(out, &r);
        BN_mod_mul(R, A, B, P, ctx);
        bn_to_le(R, want);
        assert_memory_equal(out, want, 32);

        fe_sq(&r, &fa);
        fe_tobytes(out, &r);
        BN_mod_sqr(R, A, P, ctx);
        bn_to_le(R, want);
        assert_memory_equal(out, want, 32);

        fe_add(&r, &fa, &fb);
        fe_tobytes(out, &r);
        BN_mod_add(R, A, B, P, ctx);
        bn_to_le(R, want);
        assert_memory_equal(out, want, 32);

        fe_sub(&r, &fa, &fb);
        fe_tobytes(out, &r);
        BN_mod_sub(R, A, B, P, ctx);
        bn_to_le(R, want);
        assert_memory_equal(out, want, 32);

        fe_mul_small(&r, &fa, 486662);
        fe_tobytes(out, &r);
        BN_set_word(R, 486662);
        BN_mod_mul(R, A, R, P, ctx);
        bn_to_le(R, want);
        assert_memory_equal(out, want, 32);

        if (i % 10 == 0) {
            fe_invert(&r, &fa);
            fe_tobytes(out, &r);
            BN_nnmod(R, A, P, ctx);
            if (BN_is_zero(R)) {
                memset(want, 0, 32);
            } else {
                assert_non_null(BN_mod_inverse(R, R, P, ctx));
                bn_to_le(R, want);
            }
            assert_memory_equal(out, want, 32);
        }
        BN_free(A);
        BN_free(B);
        BN_free(R);
    }
}

static void test_constants(void **st)
{
    (void)st;
    fe25519 t, one, m1;
    fe_1(&one);
    fe_neg(&m1, &one);
    fe_sq(&t, &fe_sqrtm1);
    assert_true(fe_eq(&t, &m1));
    /* d * 121666 == -121665 */
    fe25519 n;
    fe_mul_small(&t, &fe_ed_d, 121666);
    fe_0(&n);
    n.v[0] = 121665;
    fe_neg(&n, &n);
    assert_true(fe_eq(&t, &n));
    fe_add(&t, &fe_ed_d, &fe_ed_d);
    assert_true(fe_eq(&t, &fe_ed_d2));
}

static void test_sqrt_ratio(void **st)
{
    (void)st;
    int squares = 0;
    for (int i = 0; i < 400; i++) {
        uint8_t a[32], b[32];
        rand_bytes(a, i);
        rand_bytes(b, i + 1);
        fe25519 u, v, r, chk, iu;
        fe_frombytes(&u, a);
        fe_frombytes(&v, b);
        if (fe_iszero(&v))
            continue;
        unsigned sq = fe_sqrt_ratio(&r, &u, &v);
        assert_int_equal(fe_isnegative(&r), 0);
        fe_sq(&chk, &r);
        fe_mul(&chk, &chk, &v);
        if (sq) {
            squares++;
            assert_true(fe_eq(&chk, &u));
        } else {
            fe_mul(&iu, &u, &fe_sqrtm1);
            assert_true(fe_eq(&chk, &iu));
        }
        /* Legendre symbol via bignum: (u*v^-1)^((p-1)/2) */
        BIGNUM *U = bn_from_le(a, 1), *V = bn_from_le(b, 1), *E = BN_new(), *X = BN_new();
        BN_nnmod(U, U, P, ctx);
        if (!BN_is_zero(U)) {
            BN_mod_inverse(V, V, P, ctx);
            BN_mod_mul(X, U, V, P, ctx);
            BN_sub(E, P, BN_value_one());
            BN_rshift1(E, E);
            BN_mod_exp(X, X, E, P, ctx);
            assert_int_equal(BN_is_one(X), (int)sq);
        }
        BN_free(U);
        BN_free(V);
        BN_free(E);
        BN_free(X);
    }
    assert_true(squares > 100 && squares < 300);
}

static int setup(void **st)
{
    (void)st;
    ctx = BN_CTX_new();
    P = BN_new();
    BN_set_bit(P, 255);
    BN_sub_word(P, 19);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    BN_free(P);
    BN_CTX_free(ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_canonical),
        cmocka_unit_test(test_ops_against_bignum),
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_sqrt_ratio),
    };
    return cmocka_run_group_tests_name("fe25519", tests, setup, teardown);
}
