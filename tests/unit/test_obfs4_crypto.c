/*
 * Unit tests: obfs4's crypto building blocks against known answers
 * (tests/vectors/obfs4_ntor.txt): SipHash-2-4, the hash DRBG, ntor with
 * obfs4's labels, the HKDF key schedule, length masks and a complete frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "../vectors/vectors.h"
#include "crypto/drbg.h"
#include "crypto/elligator2.h"
#include "crypto/gorand.h"
#include "crypto/keypool.h"
#include "crypto/kdf.h"
#include "crypto/ntor.h"
#include "crypto/siphash.h"
#include "ptkit/error.h"
#include "transport/obfs4_framing.h"

#define V "obfs4_ntor.txt"

static void load(const char *name, uint8_t *out, size_t n)
{
    assert_int_equal(vec_hex(V, name, out, n), 0);
}

static void test_siphash(void **st)
{
    (void)st;
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    assert_true(ptk_siphash24(key, "", 0) == UINT64_C(0x726fdb47dd0e0e31));
    uint8_t zero = 0;
    assert_true(ptk_siphash24(key, &zero, 1) == UINT64_C(0x74f839c593dc67fd));
    /* streaming in odd pieces == one shot, and == libsodium, for many lengths */
    uint8_t msg[200], out[8];
    for (int i = 0; i < 200; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= 200; n++) {
        struct ptk_siphash s;
        ptk_siphash_init(&s, key);
        size_t off = 0, step = 1;
        while (off < n) {
            size_t take = n - off < step ? n - off : step;
            ptk_siphash_update(&s, msg + off, take);
            off += take;
            step = step % 11 + 2;
        }
        crypto_shorthash_siphash24(out, msg, n, key);
        uint64_t want = 0;
        for (int i = 7; i >= 0; i--)
            want = want << 8 | out[i];
        assert_true(ptk_siphash_final(&s) == want);
        assert_true(ptk_siphash24(key, msg, n) == want);
    }
}

static void test_drbg(void **st)
{
    (void)st;
    uint8_t seed[PTK_DRBG_SEED_LEN] = {0};
    struct ptk_drbg d;
    ptk_drbg_init(&d, seed);
    assert_true(ptk_drbg_int63(&d) == INT64_C(7432626515892259304));
    assert_true(ptk_drbg_int63(&d) == INT64_C(5773523046280711756));
    assert_true(ptk_drbg_int63(&d) == INT64_C(4537542203639783680));
}

static void test_ntor_and_kdf(void **st)
{
    (void)st;
    uint8_t b[32], x[32], y[32], id[20], B[32], X[32], Y[32], ks[32], auth[32];
    uint8_t want_ks[32], want_auth[32], okm[144], want[72];
    load("b", b, 32);
    load("x", x, 32);
    load("y", y, 32);
    load("id", id, 20);
    load("B", B, 32);
    load("X", X, 32);
    load("Y", Y, 32);
    load("key_seed", want_ks, 32);
    load("auth", want_auth, 32);
    /* the public keys are the plain X25519 ones */
    uint8_t pk[32];
    crypto_scalarmult_base(pk, b);
    assert_memory_equal(pk, B, 32);
    crypto_scalarmult_base(pk, x);
    assert_memory_equal(pk, X, 32);

    assert_int_equal(ptk_ntor_client(ks, auth, x, X, Y, B, id), PTK_OK);
    assert_memory_equal(ks, want_ks, 32);
    assert_memory_equal(auth, want_auth, 32);
    memset(ks, 0, 32);
    memset(auth, 0, 32);
    assert_int_equal(ptk_ntor_server(ks, auth, y, Y, b, B, X, id), PTK_OK);
    assert_memory_equal(ks, want_ks, 32);
    assert_memory_equal(auth, want_auth, 32);

    ptk_ntor_kdf(ks, okm, sizeof(okm));
    load("okm_c2s", want, 72);
    assert_memory_equal(okm, want, 72);
    load("okm_s2c", want, 72);
    assert_memory_equal(okm + 72, want, 72);

    /* a low-order (all-zero result) peer key is refused */
    uint8_t zero[32] = {0};
    assert_int_equal(ptk_ntor_server(ks, auth, y, Y, b, B, zero, id), PTK_EAUTH);
    assert_int_equal(ptk_ntor_client(ks, auth, x, X, zero, B, id), PTK_EAUTH);
}

static void test_hkdf_rfc5869(void **st)
{
    (void)st;
    /* RFC 5869 test case 1 */
    uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
    memset(ikm, 0x0b, sizeof(ikm));
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    const char *w = "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    assert_int_equal(ptk_hex_decode(w, strlen(w), want, 42), 0);
    ptk_hkdf_sha256(okm, 42, ikm, 22, salt, 13, info, 10);
    assert_memory_equal(okm, want, 42);
}

static void test_masks_and_seed_frame(void **st)
{
    (void)st;
    uint8_t km[72], masks[6], seed[24], want[45], frame[OBFS4_MAX_SEGMENT];
    load("okm_s2c", km, 72);
    load("masks_s2c", masks, 6);
    load("seed_packet_seed", seed, 24);
    load("seed_frame_s2c", want, 45);

    struct ptk_drbg d;
    ptk_drbg_init(&d, km + 48);
    for (int i = 0; i < 3; i++) {
        uint8_t blk[8];
        ptk_drbg_next(&d, blk);
        assert_memory_equal(blk, masks + 2 * i, 2);
    }

    struct obfs4_framer enc, dec;
    obfs4_framer_init(&enc, km);
    size_t n = obfs4_frame_encode(&enc, frame, OBFS4_PACKET_PRNG_SEED, seed, 24, 0);
    assert_int_equal((int)n, 45);
    assert_memory_equal(frame, want, 45);

    /* decode it back, fed one byte at a time */
    obfs4_framer_init(&dec, km);
    uint8_t pkt[OBFS4_MAX_FRAME_PAYLOAD];
    size_t pktlen = 0, off = 0;
    int r = PTK_MORE;
    for (size_t avail = 1; avail <= n && r == PTK_MORE; avail++) {
        size_t used;
        r = obfs4_frame_decode(&dec, frame + off, avail - off, &used, pkt, &pktlen);
        off += used;
    }
    assert_int_equal(r, PTK_DONE);
    assert_int_equal((int)off, 45);
    assert_int_equal((int)pktlen, 27);
    assert_int_equal(pkt[0], OBFS4_PACKET_PRNG_SEED);
    assert_memory_equal(pkt + 3, seed, 24);

    /* a flipped bit fails authentication */
    obfs4_framer_init(&dec, km);
    frame[30] ^= 1;
    size_t used;
    assert_int_equal(obfs4_frame_decode(&dec, frame, n, &used, pkt, &pktlen), PTK_EAUTH);
}

static void test_frame_roundtrip_sizes(void **st)
{
    (void)st;
    uint8_t km[72], data[OBFS4_MAX_PACKET_PAYLOAD], frame[OBFS4_MAX_SEGMENT];
    uint8_t pkt[OBFS4_MAX_FRAME_PAYLOAD];
    randombytes_buf(km, sizeof(km));
    randombytes_buf(data, sizeof(data));
    struct obfs4_framer enc, dec;
    obfs4_framer_init(&enc, km);
    obfs4_framer_init(&dec, km);
    for (size_t len = 0; len <= OBFS4_MAX_PACKET_PAYLOAD; len += 47) {
        size_t pad = (OBFS4_MAX_PACKET_PAYLOAD - len) / 3;
        size_t n = obfs4_frame_encode(&enc, frame, 0, data, len, pad);
        assert_int_equal((int)n, (int)(OBFS4_HEADER_LEN + len + pad));
        assert_true(n <= OBFS4_MAX_SEGMENT);
        size_t used, pktlen;
        assert_int_equal(obfs4_frame_decode(&dec, frame, n, &used, pkt, &pktlen), PTK_DONE);
        assert_int_equal((int)used, (int)n);
        assert_int_equal(pkt[1] << 8 | pkt[2], (int)len);
        assert_memory_equal(pkt + 3, data, len);
    }
}

/* Pooled session keys: each valid (representative decodes to the public key,
 * DH agrees with a peer), none handed out twice; a pool of 8 drained 40 times
 * over both with its thread refilling (pauses let it) and without one. */
static void test_keypool(void **st)
{
    (void)st;
    for (int threaded = 0; threaded <= 1; threaded++) {
        struct ptk_keypool *p = ptk_keypool_new(8, threaded);
        assert_non_null(p);
        static uint8_t seen[40][32];
        for (int i = 0; i < 40; i++) {
            uint8_t priv[32], pub[32], repr[32], pub2[32], peer[32], peer_pub[32], s1[32], s2[32];
            ptk_keypool_take(p, priv, pub, repr);
            ptk_elligator2_repr_to_pub(pub2, repr);
            assert_memory_equal(pub, pub2, 32);
            randombytes_buf(peer, sizeof(peer));
            assert_int_equal(crypto_scalarmult_base(peer_pub, peer), 0);
            assert_int_equal(crypto_scalarmult(s1, priv, peer_pub), 0);
            assert_int_equal(crypto_scalarmult(s2, peer, pub), 0);
            assert_memory_equal(s1, s2, 32);
            for (int j = 0; j < i; j++)
                assert_memory_not_equal(seen[j], priv, 32);
            memcpy(seen[i], priv, 32);
            if (threaded && i % 10 == 9)
                usleep(20000);
        }
        ptk_keypool_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash),         cmocka_unit_test(test_drbg),
        cmocka_unit_test(test_ntor_and_kdf),    cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_masks_and_seed_frame), cmocka_unit_test(test_frame_roundtrip_sizes),
        cmocka_unit_test(test_keypool),
    };
    return cmocka_run_group_tests_name("obfs4_crypto", tests, NULL, NULL);
}
