/*
 * Unit tests: Elligator2 (crypto/elligator2.c). Known answer from
 * reference/transports.md (cross-checked against obfs4proxy 0.0.14), and the
 * properties obfs4 relies on: the representative decodes to the public key,
 * X25519 with the "dirty" public key gives the same secret as the clean one,
 * about half of all keys are representable, and the tweak fills the top bits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/elligator2.h"
#include "util/str.h"

static void hex(const char *s, uint8_t *out, size_t n)
{
    assert_int_equal(ptk_hex_decode(s, strlen(s), out, n), 0);
}

static void test_decode_vector(void **st)
{
    (void)st;
    uint8_t repr[32], want[32], pub[32];
    hex("8781b04fefa49473ca5943ab23a14689dad56f8118d5869ad378c079fd2f4079", repr, 32);
    hex("a946c3dd16d99b8c38972584ca599da53e32e8b13c1e9a408ff22fdb985c2d79", want, 32);
    ptk_elligator2_repr_to_pub(pub, repr);
    assert_memory_equal(pub, want, 32);
    /* the top two bits are ignored */
    repr[31] ^= 0xc0;
    ptk_elligator2_repr_to_pub(pub, repr);
    assert_memory_equal(pub, want, 32);
}

static void test_keygen_properties(void **st)
{
    (void)st;
    int top[4] = {0};
    for (int i = 0; i < 200; i++) {
        uint8_t priv[32], pub[32], repr[32], dec[32];
        ptk_elligator2_keygen(priv, pub, repr);
        ptk_elligator2_repr_to_pub(dec, repr);
        assert_memory_equal(dec, pub, 32);
        top[repr[31] >> 6]++;

        /* DH with the dirty key == DH with the plain X25519 public key */
        uint8_t clean[32], k[32], kpub[32], s1[32], s2[32], s3[32];
        assert_int_equal(crypto_scalarmult_base(clean, priv), 0);
        ptk_random(k, 32);
        assert_int_equal(crypto_scalarmult(s1, k, pub), 0);
        assert_int_equal(crypto_scalarmult(s2, k, clean), 0);
        assert_memory_equal(s1, s2, 32);
        /* and the peer's view: its public key against our private key */
        assert_int_equal(crypto_scalarmult_base(kpub, k), 0);
        assert_int_equal(crypto_scalarmult(s3, priv, kpub), 0);
        assert_memory_equal(s1, s3, 32);
        /* the low-order component really is there for cofactor != 0 */
        if ((priv[0] & 7) != 0)
            assert_memory_not_equal(pub, clean, 32);
        else
            assert_memory_equal(pub, clean, 32);
    }
    for (int i = 0; i < 4; i++)
        assert_true(top[i] > 20); /* each of the 4 tweak patterns appears */
}

static void test_half_representable(void **st)
{
    (void)st;
    int ok = 0, n = 2000;
    for (int i = 0; i < n; i++) {
        uint8_t seed[32], d[64], pub[32], repr[32];
        ptk_random(seed, 32);
        crypto_hash_sha512(d, seed, 32);
        ok += ptk_elligator2_pub_repr(pub, repr, d, d[63]);
    }
    assert_true(ok > n * 4 / 10 && ok < n * 6 / 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_vector),
        cmocka_unit_test(test_keygen_properties),
        cmocka_unit_test(test_half_representable),
    };
    return cmocka_run_group_tests_name("elligator2", tests, NULL, NULL);
}
