/*
 * Unit tests: the obfs3 transport (transport/obfs3.c) through its ops table,
 * in memory (transport_pair.h): the key schedule against known answers
 * (tests/vectors/obfs3.txt), byte-exact data both ways for many sizes and
 * chunkings, the wire layout, hand-built peers on either side (UniformDH
 * from tests/vectors/uniformdh.txt) that pin where the magic may sit
 * (padding up to 8194 bytes, a failure exactly at byte 8226), garbage and
 * tampering, and the handshake timer. Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <stdlib.h>

#include "../vectors/vectors.h"
#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "crypto/uniformdh.h"
#include "ptkit/kv.h"
#include "transport/obfs3.h"
#include "transport_pair.h"

#define V "obfs3.txt"
#define PAD_MAX 4097
#define SEC 1000000

static const struct ptk_transport_ops *ops = &ptk_transport_obfs3;

static uint8_t *random_bytes(size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    ptk_random(b, n);
    return b;
}

static void put(struct ptk_buf *b, const void *p, size_t n)
{
    assert_int_equal(ptk_buf_put(b, p, n), PTK_OK);
}

/* ---------- key schedule ---------- */

static void test_kdf_vectors(void **st)
{
    (void)st;
    uint8_t shared[PTK_UDH_LEN], want[32], data[80], ct[80], out[80];
    struct obfs3_keys k;
    assert_int_equal(vec_hex(V, "shared", shared, sizeof(shared)), 0);
    obfs3_kdf(shared, &k);
    assert_int_equal(vec_hex(V, "init_secret", want, 32), 0);
    assert_memory_equal(k.init_secret, want, 32);
    assert_int_equal(vec_hex(V, "resp_secret", want, 32), 0);
    assert_memory_equal(k.resp_secret, want, 32);
    assert_int_equal(vec_hex(V, "init_magic", want, 32), 0);
    assert_memory_equal(k.init_magic, want, 32);
    assert_int_equal(vec_hex(V, "resp_magic", want, 32), 0);
    assert_memory_equal(k.resp_magic, want, 32);

    /* key = secret[0:16], counter = secret[16:32] */
    struct ptk_aes_ctr c = PTK_AES_CTR_INIT;
    assert_int_equal(vec_hex(V, "data", data, sizeof(data)), 0);
    assert_int_equal(vec_hex(V, "init_ct", ct, sizeof(ct)), 0);
    assert_int_equal(ptk_aes_ctr_init(&c, k.init_secret, 16, k.init_secret + 16), PTK_OK);
    assert_int_equal(ptk_aes_ctr_xor(&c, out, data, sizeof(data)), PTK_OK);
    assert_memory_equal(out, ct, sizeof(ct));
    assert_int_equal(vec_hex(V, "resp_ct", ct, sizeof(ct)), 0);
    assert_int_equal(ptk_aes_ctr_init(&c, k.resp_secret, 16, k.resp_secret + 16), PTK_OK);
    assert_int_equal(ptk_aes_ctr_xor(&c, out, data, sizeof(data)), PTK_OK);
    assert_memory_equal(out, ct, sizeof(ct));
    ptk_aes_ctr_free(&c);
}

/* ---------- ptkit <-> ptkit ---------- */

static void roundtrip(size_t n_up, size_t n_down, uint32_t seed, size_t max_chunk)
{
    struct tp_pair p;
    uint8_t *up = random_bytes(n_up), *down = random_bytes(n_down);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, seed, max_chunk), 0);
    /* app bytes are there before the keys: encode must wait, then send them */
    put(&p.c.app_in, up, n_up);
    put(&p.s.app_in, down, n_down);
    tp_run(&p);
    assert_int_equal(p.c.err, 0);
    assert_int_equal(p.s.err, 0);
    assert_true(p.c.established && p.s.established);
    assert_int_equal(p.c.timer_us, 0);
    assert_int_equal(p.s.timer_us, 0);
    assert_int_equal(ptk_buf_len(&p.c.app_in), 0);
    assert_int_equal(ptk_buf_len(&p.s.app_in), 0);
    assert_int_equal(ptk_buf_len(&p.s.app_out), n_up);
    assert_int_equal(ptk_buf_len(&p.c.app_out), n_down);
    if (n_up)
        assert_memory_equal(ptk_buf_data(&p.s.app_out), up, n_up);
    if (n_down)
        assert_memory_equal(ptk_buf_data(&p.c.app_out), down, n_down);
    tp_close(&p);
    free(up);
    free(down);
}

static void test_roundtrip_sizes(void **st)
{
    (void)st;
    static const size_t sizes[] = {0,    1,    2,     31,    32,    33,    1000,   4097,
                                   8194, 8226, 16384, 65535, 65536, 65537, 100000, 300001};
    size_t n = sizeof(sizes) / sizeof(sizes[0]);
    for (size_t i = 0; i < n; i++) {
        size_t j = (i * 7 + 3) % n;
        roundtrip(sizes[i], sizes[j], 0, 0);                        /* whole chunks */
        roundtrip(sizes[i], sizes[j], 0x1234u + (uint32_t)i, 9000); /* ragged */
        if (sizes[i] <= 4097 && sizes[j] <= 4097)
            roundtrip(sizes[i], sizes[j], 77u + (uint32_t)i, 1); /* byte by byte */
    }
    roundtrip((size_t)4 << 20, (size_t)3 << 20, 99, 70000);
}

static void test_wire_layout(void **st)
{
    (void)st;
    for (int round = 0; round < 8; round++) {
        struct tp_pair p;
        uint8_t data[1000];
        ptk_random(data, sizeof(data));
        assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
        /* PUB | padding 0..4097, sent by both sides at start, with a 30 s deadline */
        assert_in_range(ptk_buf_len(&p.c.wire_out), PTK_UDH_LEN, PTK_UDH_LEN + PAD_MAX);
        assert_in_range(ptk_buf_len(&p.s.wire_out), PTK_UDH_LEN, PTK_UDH_LEN + PAD_MAX);
        assert_int_equal(p.c.timer_us, (int64_t)30 * SEC);
        assert_int_equal(p.s.timer_us, (int64_t)30 * SEC);
        assert_false(p.c.established || p.s.established);
        tp_run(&p);
        assert_true(p.c.established && p.s.established);
        /* the server holds back at most 31 bytes that could start the magic */
        assert_in_range(ptk_buf_len(&p.c.wire_out), 0, 31);
        size_t held = ptk_buf_len(&p.c.wire_out);
        /* first write: padding 0..4097 | magic | ciphertext; later writes: ciphertext only */
        put(&p.c.app_in, data, sizeof(data));
        tp_feed(&p, &p.c, &p.c.app_in, false);
        assert_in_range(ptk_buf_len(&p.c.wire_out), held + sizeof(data) + 32,
                        held + sizeof(data) + 32 + PAD_MAX);
        size_t first = ptk_buf_len(&p.c.wire_out);
        put(&p.c.app_in, data, 500);
        tp_feed(&p, &p.c, &p.c.app_in, false);
        assert_int_equal(ptk_buf_len(&p.c.wire_out), first + 500);
        tp_run(&p);
        assert_int_equal(ptk_buf_len(&p.s.app_out), 1500);
        assert_memory_equal(ptk_buf_data(&p.s.app_out), data, 1000);
        assert_memory_equal(ptk_buf_data(&p.s.app_out) + 1000, data, 500);
        tp_close(&p);
    }
}

/* ---------- hand-built peers ---------- */

struct peer {
    uint8_t x[PTK_UDH_LEN], pub[PTK_UDH_LEN];
    struct obfs3_keys k;
    struct ptk_aes_ctr tx, rx;
    const uint8_t *tx_magic, *rx_magic;
};

/* A peer with a fixed UniformDH key from the vectors, keyed against `their_pub`. */
static void peer_init(struct peer *pe, const char *raw_name, bool initiator,
                      const uint8_t their_pub[PTK_UDH_LEN])
{
    uint8_t raw[PTK_UDH_LEN], shared[PTK_UDH_LEN];
    memset(pe, 0, sizeof(*pe));
    assert_int_equal(vec_hex("uniformdh.txt", raw_name, raw, sizeof(raw)), 0);
    assert_int_equal(ptk_udh_keypair_from(raw, pe->x, pe->pub), PTK_OK);
    assert_int_equal(ptk_udh_shared(pe->x, their_pub, shared), PTK_OK);
    obfs3_kdf(shared, &pe->k);
    const uint8_t *tx = initiator ? pe->k.init_secret : pe->k.resp_secret;
    const uint8_t *rx = initiator ? pe->k.resp_secret : pe->k.init_secret;
    assert_int_equal(ptk_aes_ctr_init(&pe->tx, tx, 16, tx + 16), PTK_OK);
    assert_int_equal(ptk_aes_ctr_init(&pe->rx, rx, 16, rx + 16), PTK_OK);
    pe->tx_magic = initiator ? pe->k.init_magic : pe->k.resp_magic;
    pe->rx_magic = initiator ? pe->k.resp_magic : pe->k.init_magic;
}

static void peer_free(struct peer *pe)
{
    ptk_aes_ctr_free(&pe->tx);
    ptk_aes_ctr_free(&pe->rx);
}

/* PUB | pad (padlen random bytes) | magic | E(data) into b. */
static void peer_flight(struct peer *pe, struct ptk_buf *b, size_t padlen, const uint8_t *data,
                        size_t n)
{
    uint8_t *pad = random_bytes(padlen), *ct = malloc(n ? n : 1);
    assert_non_null(ct);
    put(b, pe->pub, PTK_UDH_LEN);
    put(b, pad, padlen);
    put(b, pe->tx_magic, 32);
    assert_int_equal(ptk_aes_ctr_xor(&pe->tx, ct, data, n), PTK_OK);
    put(b, ct, n);
    free(pad);
    free(ct);
}

/*
 * Check what the side under test sent: its PUB (given), then padding, its
 * magic within 8194 bytes, then `data` encrypted.
 */
static void peer_check_received(struct peer *pe, const struct ptk_buf *wire, const uint8_t *data,
                                size_t n)
{
    const uint8_t *w = ptk_buf_data(wire) + PTK_UDH_LEN;
    size_t len = ptk_buf_len(wire) - PTK_UDH_LEN;
    const uint8_t *m = memmem(w, len, pe->rx_magic, 32);
    assert_non_null(m);
    size_t pos = (size_t)(m - w);
    assert_true(pos <= 8194);
    assert_int_equal(len - pos - 32, n);
    uint8_t *pt = malloc(n ? n : 1);
    assert_non_null(pt);
    assert_int_equal(ptk_aes_ctr_xor(&pe->rx, pt, m + 32, n), PTK_OK);
    assert_memory_equal(pt, data, n);
    free(pt);
}

/* The server under test against a hand-built initiator whose padding before the magic is padlen. */
static void server_vs_initiator(size_t padlen, uint32_t seed, size_t max_chunk)
{
    struct tp_pair p;
    struct peer pe;
    struct ptk_buf in;
    uint8_t up[3000], down[2000];
    ptk_random(up, sizeof(up));
    ptk_random(down, sizeof(down));
    ptk_buf_init(&in, 1 << 20);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, seed, max_chunk), 0);
    peer_init(&pe, "z_priv", true, ptk_buf_data(&p.s.wire_out));
    peer_flight(&pe, &in, padlen, up, sizeof(up));
    tp_feed(&p, &p.s, &in, true);
    assert_int_equal(p.s.err, 0);
    assert_true(p.s.established);
    assert_int_equal(ptk_buf_len(&in), 0);
    assert_int_equal(ptk_buf_len(&p.s.app_out), sizeof(up));
    assert_memory_equal(ptk_buf_data(&p.s.app_out), up, sizeof(up));
    put(&p.s.app_in, down, sizeof(down));
    tp_feed(&p, &p.s, &p.s.app_in, false);
    peer_check_received(&pe, &p.s.wire_out, down, sizeof(down));
    peer_free(&pe);
    ptk_buf_free(&in);
    tp_close(&p);
}

static void test_server_vs_hand_built_initiator(void **st)
{
    (void)st;
    static const size_t pads[] = {0, 1, 31, 32, 4097, 8193, 8194};
    for (size_t i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
        server_vs_initiator(pads[i], 0, 0);
        server_vs_initiator(pads[i], 0xabcdu + (uint32_t)i, 700);
    }
    server_vs_initiator(100, 5, 1); /* magic arrives byte by byte */
}

static void test_client_vs_hand_built_responder(void **st)
{
    (void)st;
    for (size_t padlen = 0; padlen <= 8194; padlen += 4097) {
        struct tp_pair p;
        struct peer pe;
        struct ptk_buf in;
        uint8_t up[1500], down[2500];
        ptk_random(up, sizeof(up));
        ptk_random(down, sizeof(down));
        ptk_buf_init(&in, 1 << 20);
        assert_int_equal(tp_open(&p, ops, NULL, NULL, 3, 333), 0);
        peer_init(&pe, "y_priv", false, ptk_buf_data(&p.c.wire_out));
        put(&p.c.app_in, up, sizeof(up));
        tp_feed(&p, &p.c, &p.c.app_in, false); /* no keys yet: nothing taken */
        assert_int_equal(ptk_buf_len(&p.c.app_in), sizeof(up));
        peer_flight(&pe, &in, padlen, down, sizeof(down));
        tp_feed(&p, &p.c, &in, true);
        assert_int_equal(p.c.err, 0);
        assert_true(p.c.established);
        assert_int_equal(ptk_buf_len(&p.c.app_out), sizeof(down));
        assert_memory_equal(ptk_buf_data(&p.c.app_out), down, sizeof(down));
        tp_feed(&p, &p.c, &p.c.app_in, false);
        peer_check_received(&pe, &p.c.wire_out, up, sizeof(up));
        peer_free(&pe);
        ptk_buf_free(&in);
        tp_close(&p);
    }
}

/* ---------- failures ---------- */

/*
 * After the peer's PUB, bytes without the magic: still waiting at 8225 bytes,
 * closed (PTK_EPROTO, not a probe delay: obfs4proxy closes) at 8226.
 */
static void scan_limit(const uint8_t pub[PTK_UDH_LEN], uint32_t seed, size_t max_chunk)
{
    struct tp_pair p;
    struct ptk_buf in;
    uint8_t *junk = random_bytes(8226);
    ptk_buf_init(&in, 1 << 20);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, seed, max_chunk), 0);
    put(&in, pub, PTK_UDH_LEN);
    put(&in, junk, 8225);
    tp_feed(&p, &p.s, &in, true);
    assert_int_equal(p.s.err, 0);
    assert_true(p.s.established); /* any 192 bytes make a key, as in obfs4proxy */
    assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
    put(&in, junk + 8225, 1);
    tp_feed(&p, &p.s, &in, true);
    assert_int_equal(p.s.err, PTK_EPROTO);
    assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
    ptk_buf_free(&in);
    tp_close(&p);
    free(junk);
}

static void test_garbage_scan_limit(void **st)
{
    (void)st;
    uint8_t pub[PTK_UDH_LEN];
    memset(pub, 0, sizeof(pub)); /* shared secret 0 */
    scan_limit(pub, 0, 0);
    memset(pub, 0xFF, sizeof(pub)); /* >= p */
    scan_limit(pub, 1, 1000);
    ptk_random(pub, sizeof(pub));
    scan_limit(pub, 2, 1);
    scan_limit(pub, 3, 5000);
}

/* The magic starting one byte too late (8195) fails; so does a corrupted magic. */
static void test_magic_late_or_tampered(void **st)
{
    (void)st;
    for (int kind = 0; kind < 3; kind++) {
        struct tp_pair p;
        struct peer pe;
        struct ptk_buf in;
        uint8_t data[100] = {1, 2, 3};
        ptk_buf_init(&in, 1 << 20);
        assert_int_equal(tp_open(&p, ops, NULL, NULL, 11, 2000), 0);
        peer_init(&pe, "z_priv", true, ptk_buf_data(&p.s.wire_out));
        peer_flight(&pe, &in, kind == 0 ? 8195 : 10, data, sizeof(data));
        if (kind == 1)
            ((uint8_t *)ptk_buf_data(&in))[PTK_UDH_LEN + 10 + 31] ^= 0x01; /* last magic byte */
        if (kind == 2)
            ((uint8_t *)ptk_buf_data(&in))[5] ^= 0x80; /* PUB: other keys, other magic */
        /* pad the stream out past the scan limit */
        uint8_t *junk = random_bytes(9000);
        put(&in, junk, 9000);
        free(junk);
        tp_feed(&p, &p.s, &in, true);
        assert_int_equal(p.s.err, PTK_EPROTO);
        assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
        peer_free(&pe);
        ptk_buf_free(&in);
        tp_close(&p);
    }
}

/* Flipped ciphertext bits come out flipped (CTR has no integrity; obfs3 neither). */
static void test_ciphertext_tamper_passes_through(void **st)
{
    (void)st;
    struct tp_pair p;
    uint8_t data[64] = {0};
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    tp_run(&p);
    put(&p.c.app_in, data, sizeof(data));
    tp_feed(&p, &p.c, &p.c.app_in, false);
    size_t len = ptk_buf_len(&p.c.wire_out);
    ((uint8_t *)ptk_buf_data(&p.c.wire_out))[len - 1] ^= 0x42;
    tp_run(&p);
    assert_int_equal(p.s.err, 0);
    assert_int_equal(ptk_buf_len(&p.s.app_out), sizeof(data));
    assert_int_equal(ptk_buf_data(&p.s.app_out)[63], 0x42);
    tp_close(&p);
}

static void test_handshake_timer(void **st)
{
    (void)st;
    struct tp_pair p;
    size_t used;
    uint8_t half[100] = {0};
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    assert_int_equal(tp_inject(&p, &p.s, half, sizeof(half), &used), PTK_OK);
    assert_int_equal(used, 0);
    assert_int_equal(tp_timer(&p, &p.s), PTK_ETIMEDOUT);
    assert_int_equal(tp_timer(&p, &p.c), PTK_ETIMEDOUT);
    tp_close(&p);

    /* once keyed, the deadline is cancelled and a stray timer is harmless */
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    tp_run(&p);
    assert_int_equal(p.s.timer_us, 0);
    assert_int_equal(tp_timer(&p, &p.s), PTK_OK);
    assert_int_equal(tp_timer(&p, &p.c), PTK_OK);
    tp_close(&p);
}

static void test_setup_and_args(void **st)
{
    (void)st;
    struct ptk_kvlist opts = PTK_KVLIST_INIT, args = PTK_KVLIST_INIT, sargs = PTK_KVLIST_INIT;
    struct ptk_transport_cfg cfg = {NULL, &opts, NULL};
    void *srv = (void *)1, *conn = NULL;
    char err[256] = "";
    assert_ptr_equal(ptk_transport_find("obfs3"), ops);
    assert_int_equal(ptk_kvlist_add(&opts, "whatever", 8, "1", 1), PTK_OK);
    assert_int_equal(ops->server_setup(&cfg, &srv, &sargs, err, sizeof(err)), PTK_OK);
    assert_int_equal(sargs.n, 0); /* no SMETHOD ARGS, as obfs4proxy */
    ops->server_free(srv);
    /* obfs4proxy's obfs3 ignores client arguments, even shared-secret */
    assert_int_equal(ptk_kvlist_add(&args, "shared-secret", 13, "x", 1), PTK_OK);
    assert_int_equal(ops->client_new(NULL, &args, &conn, err, sizeof(err)), PTK_OK);
    ops->conn_free(conn);
    ptk_kvlist_free(&opts);
    ptk_kvlist_free(&args);
    ptk_kvlist_free(&sargs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_vectors),
        cmocka_unit_test(test_roundtrip_sizes),
        cmocka_unit_test(test_wire_layout),
        cmocka_unit_test(test_server_vs_hand_built_initiator),
        cmocka_unit_test(test_client_vs_hand_built_responder),
        cmocka_unit_test(test_garbage_scan_limit),
        cmocka_unit_test(test_magic_late_or_tampered),
        cmocka_unit_test(test_ciphertext_tamper_passes_through),
        cmocka_unit_test(test_handshake_timer),
        cmocka_unit_test(test_setup_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
