/*
 * Unit tests: UniformDH (crypto/uniformdh.h) against known answers computed
 * with Python's pow() (tests/vectors/uniformdh.txt; the x/y pair is
 * obfs4proxy's own test pair): the group prime, both public encodings
 * (g^x for an even raw key, p - g^x for an odd one), left zero padding,
 * shared secrets both ways, out-of-range peer values, and random pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../vectors/vectors.h"
#include "crypto/uniformdh.h"
#include "ptkit/error.h"

#define V "uniformdh.txt"

static void load(const char *name, uint8_t out[PTK_UDH_LEN])
{
    assert_int_equal(vec_hex(V, name, out, PTK_UDH_LEN), 0);
}

/* a - b for 192-byte big-endian numbers with a >= b. */
static void sub_be(uint8_t out[PTK_UDH_LEN], const uint8_t a[PTK_UDH_LEN],
                   const uint8_t b[PTK_UDH_LEN])
{
    int borrow = 0;
    for (int i = PTK_UDH_LEN - 1; i >= 0; i--) {
        int d = a[i] - b[i] - borrow;
        borrow = d < 0;
        out[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    assert_int_equal(borrow, 0);
}

static int cmp_be(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, PTK_UDH_LEN);
}

static void test_prime(void **st)
{
    (void)st;
    uint8_t p[PTK_UDH_LEN];
    load("p", p);
    assert_memory_equal(ptk_udh_prime, p, PTK_UDH_LEN);
}

static void test_public_encodings(void **st)
{
    (void)st;
    uint8_t raw[PTK_UDH_LEN], x[PTK_UDH_LEN], pub[PTK_UDH_LEN], want[PTK_UDH_LEN];
    uint8_t even[PTK_UDH_LEN], gx[PTK_UDH_LEN], diff[PTK_UDH_LEN];

    /* y: even raw key, sends g^x; x is raw unchanged */
    load("y_priv", raw);
    load("y_pub", want);
    assert_int_equal(raw[PTK_UDH_LEN - 1] & 1, 0);
    assert_int_equal(ptk_udh_keypair_from(raw, x, pub), PTK_OK);
    assert_memory_equal(pub, want, PTK_UDH_LEN);
    assert_memory_equal(x, raw, PTK_UDH_LEN);

    /* x: odd raw key, sends p - g^x where x has bit 0 cleared */
    load("x_priv", raw);
    load("x_pub", want);
    assert_int_equal(raw[PTK_UDH_LEN - 1] & 1, 1);
    assert_int_equal(ptk_udh_keypair_from(raw, x, pub), PTK_OK);
    assert_memory_equal(pub, want, PTK_UDH_LEN);
    assert_memory_equal(x, raw, PTK_UDH_LEN - 1);
    assert_int_equal(x[PTK_UDH_LEN - 1], raw[PTK_UDH_LEN - 1] & 0xFE);
    /* the same key made even sends g^x itself, and pub == p - g^x */
    memcpy(even, raw, PTK_UDH_LEN);
    even[PTK_UDH_LEN - 1] &= 0xFE;
    assert_int_equal(ptk_udh_keypair_from(even, x, gx), PTK_OK);
    sub_be(diff, ptk_udh_prime, gx);
    assert_memory_equal(diff, pub, PTK_UDH_LEN);

    /* in place: x may be the raw buffer */
    memcpy(x, raw, PTK_UDH_LEN);
    assert_int_equal(ptk_udh_keypair_from(x, x, pub), PTK_OK);
    assert_memory_equal(pub, want, PTK_UDH_LEN);
}

static void test_shared_known(void **st)
{
    (void)st;
    uint8_t xr[PTK_UDH_LEN], yr[PTK_UDH_LEN], x[PTK_UDH_LEN], y[PTK_UDH_LEN];
    uint8_t X[PTK_UDH_LEN], Y[PTK_UDH_LEN], s1[PTK_UDH_LEN], s2[PTK_UDH_LEN], want[PTK_UDH_LEN];
    load("x_priv", xr);
    load("y_priv", yr);
    load("xy_shared", want);
    assert_int_equal(ptk_udh_keypair_from(xr, x, X), PTK_OK);
    assert_int_equal(ptk_udh_keypair_from(yr, y, Y), PTK_OK);
    assert_int_equal(ptk_udh_shared(x, Y, s1), PTK_OK);
    assert_int_equal(ptk_udh_shared(y, X, s2), PTK_OK);
    assert_memory_equal(s1, want, PTK_UDH_LEN);
    assert_memory_equal(s2, want, PTK_UDH_LEN);
}

static void test_leading_zeros(void **st)
{
    (void)st;
    uint8_t zr[PTK_UDH_LEN], wr[PTK_UDH_LEN], z[PTK_UDH_LEN], w[PTK_UDH_LEN];
    uint8_t Z[PTK_UDH_LEN], W[PTK_UDH_LEN], s[PTK_UDH_LEN], want[PTK_UDH_LEN];
    load("z_priv", zr);
    load("w_priv", wr);
    assert_int_equal(ptk_udh_keypair_from(zr, z, Z), PTK_OK);
    load("z_pub", want);
    assert_int_equal(want[0], 0);
    assert_memory_equal(Z, want, PTK_UDH_LEN);
    assert_int_equal(ptk_udh_keypair_from(wr, w, W), PTK_OK);
    load("w_pub", want);
    assert_memory_equal(W, want, PTK_UDH_LEN);
    load("zw_shared", want);
    assert_int_equal(want[0], 0);
    assert_int_equal(ptk_udh_shared(z, W, s), PTK_OK);
    assert_memory_equal(s, want, PTK_UDH_LEN);
    assert_int_equal(ptk_udh_shared(w, Z, s), PTK_OK);
    assert_memory_equal(s, want, PTK_UDH_LEN);
}

/* obfs4proxy accepts any 192 bytes as a public key; so do we, reducing mod p. */
static void test_out_of_range_peer(void **st)
{
    (void)st;
    uint8_t xr[PTK_UDH_LEN], x[PTK_UDH_LEN], X[PTK_UDH_LEN], peer[PTK_UDH_LEN];
    uint8_t s[PTK_UDH_LEN], want[PTK_UDH_LEN], zero[PTK_UDH_LEN] = {0};
    load("x_priv", xr);
    assert_int_equal(ptk_udh_keypair_from(xr, x, X), PTK_OK);
    load("x_with_p_shared", want);
    assert_memory_equal(want, zero, PTK_UDH_LEN);
    assert_int_equal(ptk_udh_shared(x, ptk_udh_prime, s), PTK_OK);
    assert_memory_equal(s, want, PTK_UDH_LEN);
    assert_int_equal(ptk_udh_shared(x, zero, s), PTK_OK);
    assert_memory_equal(s, zero, PTK_UDH_LEN);
    memset(peer, 0xFF, sizeof(peer));
    load("x_with_ff_shared", want);
    assert_int_equal(ptk_udh_shared(x, peer, s), PTK_OK);
    assert_memory_equal(s, want, PTK_UDH_LEN);
    /* peer 1: 1^x = 1 */
    memset(peer, 0, sizeof(peer));
    peer[PTK_UDH_LEN - 1] = 1;
    assert_int_equal(ptk_udh_shared(x, peer, s), PTK_OK);
    assert_memory_equal(s, peer, PTK_UDH_LEN);
}

static void test_random_pairs_agree(void **st)
{
    (void)st;
    int high = 0;
    for (int i = 0; i < 24; i++) {
        uint8_t a[PTK_UDH_LEN], b[PTK_UDH_LEN], A[PTK_UDH_LEN], B[PTK_UDH_LEN];
        uint8_t s1[PTK_UDH_LEN], s2[PTK_UDH_LEN];
        assert_int_equal(ptk_udh_keypair(a, A), PTK_OK);
        assert_int_equal(ptk_udh_keypair(b, B), PTK_OK);
        assert_int_equal(a[PTK_UDH_LEN - 1] & 1, 0);
        assert_true(cmp_be(A, ptk_udh_prime) < 0);
        assert_true(cmp_be(B, ptk_udh_prime) < 0);
        assert_int_equal(ptk_udh_shared(a, B, s1), PTK_OK);
        assert_int_equal(ptk_udh_shared(b, A, s2), PTK_OK);
        assert_memory_equal(s1, s2, PTK_UDH_LEN);
        assert_memory_not_equal(A, B, PTK_UDH_LEN);
        high += A[0] >= 0x80; /* public keys spread over the whole range */
    }
    assert_true(high > 0 && high < 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prime),
        cmocka_unit_test(test_public_encodings),
        cmocka_unit_test(test_shared_known),
        cmocka_unit_test(test_leading_zeros),
        cmocka_unit_test(test_out_of_range_peer),
        cmocka_unit_test(test_random_pairs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
