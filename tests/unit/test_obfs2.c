/*
 * Unit tests: the obfs2 transport (transport/obfs2.c) through its ops table,
 * in memory (transport_pair.h): the key derivation against known answers
 * from fixed seeds (tests/vectors/obfs2.txt), hand-built handshakes from the
 * vectors fed to each side, the header checks (magic, padding length up to
 * 8192), byte-exact data both ways for many sizes and chunkings, the
 * optional shared secret (Python obfsproxy's; known answers, both sides,
 * mismatches fail), and the handshake timer. Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "../vectors/vectors.h"
#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "ptkit/kv.h"
#include "transport/obfs2.h"
#include "transport_pair.h"

#define V "obfs2.txt"
#define SEC 1000000
#define HS_MIN (OBFS2_SEED_LEN + OBFS2_HDR_LEN)

static const struct ptk_transport_ops *ops = &ptk_transport_obfs2;

static const char INIT_PAD[] = "Initiator obfuscation padding";
static const char RESP_PAD[] = "Responder obfuscation padding";
static const char INIT_DATA[] = "Initiator obfuscated data";
static const char RESP_DATA[] = "Responder obfuscated data";

static void put(struct ptk_buf *b, const void *p, size_t n)
{
    assert_int_equal(ptk_buf_put(b, p, n), PTK_OK);
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    ptk_random(b, n);
    return b;
}

static void load(const char *name, uint8_t *out, size_t n)
{
    assert_int_equal(vec_hex(V, name, out, n), 0);
}

static size_t load_len(const char *name)
{
    const char *v = vec_str(V, name);
    assert_non_null(v);
    return strlen(v) / 2;
}

static void stream(struct ptk_aes_ctr *c, const char *label, const uint8_t *x, size_t n)
{
    uint8_t key[16], iv[16];
    obfs2_kdf(label, x, n, NULL, key, iv);
    assert_int_equal(ptk_aes_ctr_init(c, key, 16, iv), PTK_OK);
}

/* ---------- key derivation ---------- */

/* The four keys and IVs against the vectors named `prefix`init_pad_key etc.
 * (secret_hash: SHA256 of the shared secret, or NULL for none). */
static void check_kdf(const char *prefix, const uint8_t *secret_hash)
{
    uint8_t is[16], rs[16], both[32], key[16], iv[16], wk[16], wi[16];
    load("init_seed", is, 16);
    load("resp_seed", rs, 16);
    memcpy(both, is, 16);
    memcpy(both + 16, rs, 16);
    static const struct {
        const char *label, *k, *iv;
        int which; /* 0 init seed, 1 resp seed, 2 both */
    } cases[] = {
        {INIT_PAD, "init_pad_key", "init_pad_iv", 0},
        {RESP_PAD, "resp_pad_key", "resp_pad_iv", 1},
        {INIT_DATA, "init_data_key", "init_data_iv", 2},
        {RESP_DATA, "resp_data_key", "resp_data_iv", 2},
    };
    for (size_t i = 0; i < 4; i++) {
        const uint8_t *x = cases[i].which == 0 ? is : cases[i].which == 1 ? rs : both;
        char name[64];
        obfs2_kdf(cases[i].label, x, cases[i].which == 2 ? 32 : 16, secret_hash, key, iv);
        snprintf(name, sizeof(name), "%s%s", prefix, cases[i].k);
        load(name, wk, 16);
        snprintf(name, sizeof(name), "%s%s", prefix, cases[i].iv);
        load(name, wi, 16);
        assert_memory_equal(key, wk, 16);
        assert_memory_equal(iv, wi, 16);
    }
}

static void test_kdf_vectors(void **st)
{
    (void)st;
    uint8_t is[16], rs[16], both[32], data[80], ct[80], out[80];
    check_kdf("", NULL);
    load("init_seed", is, 16);
    load("resp_seed", rs, 16);
    memcpy(both, is, 16);
    memcpy(both + 16, rs, 16);
    struct ptk_aes_ctr c = PTK_AES_CTR_INIT;
    load("data", data, sizeof(data));
    stream(&c, INIT_DATA, both, 32);
    assert_int_equal(ptk_aes_ctr_xor(&c, out, data, sizeof(data)), PTK_OK);
    load("init_data_ct", ct, sizeof(ct));
    assert_memory_equal(out, ct, sizeof(ct));
    stream(&c, RESP_DATA, both, 32);
    assert_int_equal(ptk_aes_ctr_xor(&c, out, data, sizeof(data)), PTK_OK);
    load("resp_data_ct", ct, sizeof(ct));
    assert_memory_equal(out, ct, sizeof(ct));
    ptk_aes_ctr_free(&c);
}

/*
 * Check a side's first flight: SEED | E(pad key from SEED, MAGIC | PADLEN | pad).
 * Returns PADLEN; copies SEED out.
 */
static uint32_t check_flight(const struct ptk_buf *wire, const char *pad_label,
                             uint8_t seed[OBFS2_SEED_LEN])
{
    struct ptk_aes_ctr c = PTK_AES_CTR_INIT;
    uint8_t hdr[OBFS2_HDR_LEN];
    assert_true(ptk_buf_len(wire) >= HS_MIN);
    memcpy(seed, ptk_buf_data(wire), OBFS2_SEED_LEN);
    stream(&c, pad_label, seed, OBFS2_SEED_LEN);
    assert_int_equal(ptk_aes_ctr_xor(&c, hdr, ptk_buf_data(wire) + OBFS2_SEED_LEN, 8), PTK_OK);
    ptk_aes_ctr_free(&c);
    uint32_t magic = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
    uint32_t padlen = (uint32_t)hdr[4] << 24 | hdr[5] << 16 | hdr[6] << 8 | hdr[7];
    assert_int_equal(magic, OBFS2_MAGIC);
    assert_in_range(padlen, 0, OBFS2_MAX_PADDING);
    assert_int_equal(ptk_buf_len(wire), HS_MIN + padlen);
    return padlen;
}

/* ---------- hand-built handshakes from the vectors ---------- */

static void test_vector_client_hs_to_server(void **st)
{
    (void)st;
    for (size_t chunk = 0; chunk <= 7; chunk += 7) {
        struct tp_pair p;
        struct ptk_buf in;
        struct ptk_aes_ctr tx = PTK_AES_CTR_INIT, rx = PTK_AES_CTR_INIT;
        uint8_t hs[64], is[16], ss[16], both[32], up[5000], down[3000];
        size_t hslen = load_len("client_hs");
        ptk_random(up, sizeof(up));
        ptk_random(down, sizeof(down));
        load("client_hs", hs, hslen);
        load("init_seed", is, 16);
        ptk_buf_init(&in, 1 << 20);
        assert_int_equal(tp_open(&p, ops, NULL, NULL, chunk ? 42 : 0, chunk), 0);
        check_flight(&p.s.wire_out, RESP_PAD, ss);
        assert_int_equal(p.s.timer_us, (int64_t)30 * SEC);

        /* the handshake alone, one byte short, then complete */
        put(&in, hs, hslen - 1);
        tp_feed(&p, &p.s, &in, true);
        assert_false(p.s.established);
        assert_int_equal(p.s.err, 0);
        put(&in, hs + hslen - 1, 1);
        tp_feed(&p, &p.s, &in, true);
        assert_true(p.s.established);
        assert_int_equal(p.s.timer_us, 0);

        /* data keys from INIT_SEED | RESP_SEED */
        memcpy(both, is, 16);
        memcpy(both + 16, ss, 16);
        stream(&tx, INIT_DATA, both, 32);
        stream(&rx, RESP_DATA, both, 32);
        uint8_t ct[5000];
        assert_int_equal(ptk_aes_ctr_xor(&tx, ct, up, sizeof(up)), PTK_OK);
        put(&in, ct, sizeof(up));
        tp_feed(&p, &p.s, &in, true);
        assert_int_equal(p.s.err, 0);
        assert_int_equal(ptk_buf_len(&p.s.app_out), sizeof(up));
        assert_memory_equal(ptk_buf_data(&p.s.app_out), up, sizeof(up));

        ptk_buf_reset(&p.s.wire_out);
        put(&p.s.app_in, down, sizeof(down));
        tp_feed(&p, &p.s, &p.s.app_in, false);
        assert_int_equal(ptk_buf_len(&p.s.wire_out), sizeof(down)); /* no framing, no growth */
        assert_int_equal(ptk_aes_ctr_xor(&rx, ct, ptk_buf_data(&p.s.wire_out), sizeof(down)),
                         PTK_OK);
        assert_memory_equal(ct, down, sizeof(down));
        ptk_aes_ctr_free(&tx);
        ptk_aes_ctr_free(&rx);
        ptk_buf_free(&in);
        tp_close(&p);
    }
}

static void test_vector_server_hs_to_client(void **st)
{
    (void)st;
    struct tp_pair p;
    struct ptk_buf in;
    struct ptk_aes_ctr tx = PTK_AES_CTR_INIT, rx = PTK_AES_CTR_INIT;
    uint8_t hs[64], cs[16], rs[16], both[32], up[700], down[900], ct[900];
    size_t hslen = load_len("server_hs");
    ptk_random(up, sizeof(up));
    ptk_random(down, sizeof(down));
    load("server_hs", hs, hslen);
    load("resp_seed", rs, 16);
    ptk_buf_init(&in, 1 << 20);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    size_t pad = check_flight(&p.c.wire_out, INIT_PAD, cs);
    assert_int_equal(p.c.timer_us, (int64_t)30 * SEC);
    ptk_buf_consume(&p.c.wire_out, HS_MIN + pad);
    put(&p.c.app_in, up, sizeof(up));
    tp_feed(&p, &p.c, &p.c.app_in, false); /* no keys yet */
    assert_int_equal(ptk_buf_len(&p.c.wire_out), 0);

    memcpy(both, cs, 16);
    memcpy(both + 16, rs, 16);
    stream(&tx, RESP_DATA, both, 32);
    stream(&rx, INIT_DATA, both, 32);
    put(&in, hs, hslen);
    assert_int_equal(ptk_aes_ctr_xor(&tx, ct, down, sizeof(down)), PTK_OK);
    put(&in, ct, sizeof(down)); /* data right behind the handshake, in one piece */
    tp_feed(&p, &p.c, &in, true);
    assert_int_equal(p.c.err, 0);
    assert_true(p.c.established);
    assert_int_equal(ptk_buf_len(&p.c.app_out), sizeof(down));
    assert_memory_equal(ptk_buf_data(&p.c.app_out), down, sizeof(down));
    tp_feed(&p, &p.c, &p.c.app_in, false);
    assert_int_equal(ptk_buf_len(&p.c.wire_out), sizeof(up));
    assert_int_equal(ptk_aes_ctr_xor(&rx, ct, ptk_buf_data(&p.c.wire_out), sizeof(up)), PTK_OK);
    assert_memory_equal(ct, up, sizeof(up));
    ptk_aes_ctr_free(&tx);
    ptk_aes_ctr_free(&rx);
    ptk_buf_free(&in);
    tp_close(&p);
}

/* ---------- header checks ---------- */

static void test_bad_headers(void **st)
{
    (void)st;
    uint8_t hs[64];
    size_t used;
    struct tp_pair p;
    static const char *bad[] = {"bad_magic_hs", "padlen_8193_hs"};
    for (size_t i = 0; i < 2; i++) {
        load(bad[i], hs, HS_MIN);
        assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
        /* the client decodes the server's header: 23 bytes wait, the 24th decides */
        assert_int_equal(tp_inject(&p, &p.c, hs, HS_MIN - 1, &used), PTK_OK);
        assert_int_equal(used, 0);
        assert_int_equal(tp_inject(&p, &p.c, hs, HS_MIN, &used), PTK_EPROTO);
        assert_false(p.c.established);
        assert_int_equal(ptk_buf_len(&p.c.app_out), 0);
        tp_close(&p);
    }

    /* 8192 bytes of padding is the most allowed: established after exactly that many */
    struct ptk_buf in;
    uint8_t *pad = random_bytes(OBFS2_MAX_PADDING);
    ptk_buf_init(&in, 1 << 20);
    load("padlen_8192_hs", hs, HS_MIN);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 9, 1500), 0);
    put(&in, hs, HS_MIN);
    put(&in, pad, OBFS2_MAX_PADDING - 1);
    tp_feed(&p, &p.c, &in, true);
    assert_int_equal(p.c.err, 0);
    assert_false(p.c.established);
    put(&in, pad, 1);
    tp_feed(&p, &p.c, &in, true);
    assert_int_equal(p.c.err, 0);
    assert_true(p.c.established);
    assert_int_equal(ptk_buf_len(&p.c.app_out), 0);
    tp_close(&p);
    ptk_buf_free(&in);
    free(pad);

    /* the server side checks the same way (initiator's labels) */
    load("client_hs", hs, load_len("client_hs"));
    hs[OBFS2_SEED_LEN] ^= 0x01;
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    assert_int_equal(tp_inject(&p, &p.s, hs, HS_MIN, &used), PTK_EPROTO);
    tp_close(&p);
    /* and a server header sent to a server is garbage */
    load("server_hs", hs, HS_MIN);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    assert_int_equal(tp_inject(&p, &p.s, hs, HS_MIN, &used), PTK_EPROTO);
    tp_close(&p);
}

static void test_garbage(void **st)
{
    (void)st;
    /* random headers: a 2^-32 chance of a valid magic; fail at byte 24 otherwise */
    for (int i = 0; i < 200; i++) {
        struct tp_pair p;
        size_t used;
        uint8_t junk[100];
        ptk_random(junk, sizeof(junk));
        assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
        assert_int_equal(tp_inject(&p, &p.s, junk, sizeof(junk), &used), PTK_EPROTO);
        assert_false(p.s.established);
        assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
        tp_close(&p);
    }
}

/* ---------- ptkit <-> ptkit ---------- */

static void roundtrip(size_t n_up, size_t n_down, uint32_t seed, size_t max_chunk)
{
    struct tp_pair p;
    uint8_t *up = random_bytes(n_up), *down = random_bytes(n_down);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, seed, max_chunk), 0);
    put(&p.c.app_in, up, n_up);
    put(&p.s.app_in, down, n_down);
    tp_run(&p);
    assert_int_equal(p.c.err, 0);
    assert_int_equal(p.s.err, 0);
    assert_true(p.c.established && p.s.established);
    assert_int_equal(ptk_buf_len(&p.c.wire_out), 0);
    assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
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
    static const size_t sizes[] = {0,  1,    2,    15,   16,    17,    23,    24,
                                   25, 1000, 8192, 8193, 65535, 65536, 65537, 200003};
    size_t n = sizeof(sizes) / sizeof(sizes[0]);
    for (size_t i = 0; i < n; i++) {
        size_t j = (i * 5 + 1) % n;
        roundtrip(sizes[i], sizes[j], 0, 0);
        roundtrip(sizes[i], sizes[j], 0x51u + (uint32_t)i, 9000);
        if (sizes[i] <= 8193 && sizes[j] <= 8193)
            roundtrip(sizes[i], sizes[j], 0x99u + (uint32_t)i, 1);
    }
    roundtrip((size_t)4 << 20, (size_t)3 << 20, 7, 70000);
}

/* ---------- args, options, timer ---------- */

static void kv(struct ptk_kvlist *l, const char *k, const char *v)
{
    assert_int_equal(ptk_kvlist_add(l, k, strlen(k), v, strlen(v)), PTK_OK);
}

static void test_shared_secret_kdf_vectors(void **st)
{
    (void)st;
    uint8_t secret[7], sh[32];
    load("ss_secret", secret, sizeof(secret));
    ptk_sha256(secret, sizeof(secret), sh);
    check_kdf("ss_", sh);
}

/* A client with shared-secret=hunter2 reads the vector server's flight and data. */
static void test_shared_secret_client_vector(void **st)
{
    (void)st;
    struct ptk_kvlist args = PTK_KVLIST_INIT;
    struct tp_pair p;
    struct ptk_buf in;
    uint8_t hs[64], data[80], ct[80];
    size_t hslen = load_len("ss_server_hs");
    kv(&args, "shared-secret", "hunter2");
    kv(&args, "other", "ignored");
    load("ss_server_hs", hs, hslen);
    load("data", data, sizeof(data));
    load("ss_resp_data_ct", ct, sizeof(ct));
    ptk_buf_init(&in, 1 << 20);
    assert_int_equal(tp_open(&p, ops, NULL, &args, 0, 0), 0);
    /*
     * The data keys mix in the client's own random seed, so the vector's
     * ciphertext (keyed with INIT_SEED) is not what this client expects; the
     * header is: established means the secret-keyed pad key matched.
     */
    put(&in, hs, hslen);
    tp_feed(&p, &p.c, &in, true);
    assert_int_equal(p.c.err, 0);
    assert_true(p.c.established);
    tp_close(&p);

    /* the same flight to a client without the secret, or with another: a bad magic */
    static const char *other[] = {NULL, "hunter3", ""};
    for (size_t i = 0; i < 3; i++) {
        struct ptk_kvlist a2 = PTK_KVLIST_INIT;
        size_t used;
        if (other[i])
            kv(&a2, "shared-secret", other[i]);
        assert_int_equal(tp_open(&p, ops, NULL, &a2, 0, 0), 0);
        assert_int_equal(tp_inject(&p, &p.c, hs, HS_MIN, &used), PTK_EPROTO);
        assert_false(p.c.established);
        tp_close(&p);
        ptk_kvlist_free(&a2);
    }
    ptk_buf_free(&in);
    ptk_kvlist_free(&args);
}

static void test_shared_secret_roundtrip_and_mismatch(void **st)
{
    (void)st;
    struct ptk_kvlist opts = PTK_KVLIST_INIT, sargs = PTK_KVLIST_INIT, args = PTK_KVLIST_INIT,
                      wrong = PTK_KVLIST_INIT;
    void *srv = NULL;
    char err[256] = "";
    kv(&opts, "shared-secret", "hunter2");
    kv(&args, "shared-secret", "hunter2");
    kv(&wrong, "shared-secret", "Hunter2");
    struct ptk_transport_cfg cfg = {NULL, &opts, NULL};
    assert_int_equal(ops->server_setup(&cfg, &srv, &sargs, err, sizeof(err)), PTK_OK);
    assert_non_null(srv);
    assert_int_equal(sargs.n, 0); /* the secret is not advertised */

    /* matching secrets: data both ways, byte-exact */
    struct tp_pair p;
    uint8_t *up = random_bytes(70000), *down = random_bytes(50000);
    assert_int_equal(tp_open(&p, ops, srv, &args, 0x77, 3000), 0);
    put(&p.c.app_in, up, 70000);
    put(&p.s.app_in, down, 50000);
    tp_run(&p);
    assert_int_equal(p.c.err, 0);
    assert_int_equal(p.s.err, 0);
    assert_int_equal(ptk_buf_len(&p.s.app_out), 70000);
    assert_int_equal(ptk_buf_len(&p.c.app_out), 50000);
    assert_memory_equal(ptk_buf_data(&p.s.app_out), up, 70000);
    assert_memory_equal(ptk_buf_data(&p.c.app_out), down, 50000);
    tp_close(&p);

    /* a wrong secret, or none, on either side: neither is established, no data leaks */
    const struct {
        void *server;
        const struct ptk_kvlist *args;
    } bad[] = {{srv, &wrong}, {srv, NULL}, {NULL, &args}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(tp_open(&p, ops, bad[i].server, bad[i].args, 0, 0), 0);
        put(&p.c.app_in, up, 1000);
        tp_run(&p);
        assert_true(p.c.err == PTK_EPROTO || p.s.err == PTK_EPROTO);
        assert_false(p.s.established);
        assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
        tp_close(&p);
    }
    ops->server_free(srv);

    /* an empty secret means none (as obfsproxy): no server state, plain obfs2 */
    struct ptk_kvlist empty = PTK_KVLIST_INIT;
    kv(&empty, "shared-secret", "");
    cfg.opts = &empty;
    assert_int_equal(ops->server_setup(&cfg, &srv, &sargs, err, sizeof(err)), PTK_OK);
    assert_null(srv);
    assert_int_equal(tp_open(&p, ops, srv, &empty, 0, 0), 0);
    put(&p.c.app_in, up, 1000);
    tp_run(&p);
    assert_int_equal(p.c.err, 0);
    assert_int_equal(ptk_buf_len(&p.s.app_out), 1000);
    tp_close(&p);
    ops->server_free(srv);
    assert_ptr_equal(ptk_transport_find("obfs2"), ops);

    free(up);
    free(down);
    ptk_kvlist_free(&opts);
    ptk_kvlist_free(&sargs);
    ptk_kvlist_free(&args);
    ptk_kvlist_free(&wrong);
    ptk_kvlist_free(&empty);
}

static void test_handshake_timer(void **st)
{
    (void)st;
    struct tp_pair p;
    size_t used;
    uint8_t hs[64];
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    load("padlen_8192_hs", hs, HS_MIN);
    assert_int_equal(tp_inject(&p, &p.c, hs, HS_MIN, &used), PTK_OK); /* still in the padding */
    assert_int_equal(tp_timer(&p, &p.c), PTK_ETIMEDOUT);
    assert_int_equal(tp_timer(&p, &p.s), PTK_ETIMEDOUT);
    tp_close(&p);
    assert_int_equal(tp_open(&p, ops, NULL, NULL, 0, 0), 0);
    tp_run(&p);
    assert_int_equal(p.c.timer_us, 0);
    assert_int_equal(p.s.timer_us, 0);
    assert_int_equal(tp_timer(&p, &p.c), PTK_OK);
    tp_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_vectors),
        cmocka_unit_test(test_vector_client_hs_to_server),
        cmocka_unit_test(test_vector_server_hs_to_client),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_roundtrip_sizes),
        cmocka_unit_test(test_shared_secret_kdf_vectors),
        cmocka_unit_test(test_shared_secret_client_vector),
        cmocka_unit_test(test_shared_secret_roundtrip_and_mismatch),
        cmocka_unit_test(test_handshake_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
