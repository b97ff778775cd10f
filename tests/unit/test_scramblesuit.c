/*
 * Unit tests: the scramblesuit transport (transport/scramblesuit.c) through
 * its ops table, in memory (transport_pair.h, with instances from
 * server_setup/client_setup in temporary state directories): the key
 * schedule, tickets and handshakes against known answers computed in Python
 * (tests/vectors/scramblesuit.txt), hand-built peers that pin the wire
 * format, ptkit <-> ptkit data both ways for many sizes and chunkings, the
 * ticket a first connection leaves for the next one (also after a
 * "restart"), and what the server does with wrong passwords, garbage,
 * replays, old epochs, expired tickets and tampered messages.
 * Run from the repository root (reads tests/vectors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../vectors/vectors.h"
#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "crypto/uniformdh.h"
#include "proto/scramblesuit_state.h"
#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/kv.h"
#include "ptkit/transport.h"
#include "transport/scramblesuit.h"
#include "transport_pair.h"
#include "util/base32.h"

#define V "scramblesuit.txt"
#define UNIX 1700000000 /* transport_pair.h's wall clock; epoch 472222 */
#define SEC 1000000
#define PUB 192
#define HDR 21
#define MTU 1448
#define MPU 1427
#define DAY 86400
#define NOW() ((int64_t)time(NULL)) /* server_setup's clock */

static const struct ptk_transport_ops *ops = &ptk_transport_scramblesuit;

/* ---------- helpers ---------- */

static void kv(struct ptk_kvlist *l, const char *k, const char *v)
{
    assert_int_equal(ptk_kvlist_add(l, k, strlen(k), v, strlen(v)), PTK_OK);
}

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

/* A vector of known length into a fresh buffer (freed by the caller). */
static uint8_t *vec(const char *name, size_t n)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    assert_int_equal(vec_hex(V, name, b, n), 0);
    return b;
}

static size_t vec_len(const char *name)
{
    const char *v = vec_str(V, name);
    assert_non_null(v);
    return strlen(v) / 2;
}

static void mkdir_tmp(char out[64])
{
    snprintf(out, 64, "/tmp/ptk-test-ss-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rm_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static char *read_text(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A server instance in dir with these options ("k=v" pairs, NULL-terminated). */
static void *server_in(const char *dir, const char *password, struct ptk_kvlist *sargs)
{
    struct ptk_kvlist opts = PTK_KVLIST_INIT, none = PTK_KVLIST_INIT;
    struct ptk_transport_cfg cfg = {dir, &opts, NULL};
    char err[300] = "";
    void *srv = NULL;
    if (password)
        kv(&opts, "password", password);
    int r = ops->server_setup(&cfg, &srv, sargs ? sargs : &none, err, sizeof(err));
    if (r != PTK_OK)
        fail_msg("server_setup: %s", err);
    ptk_kvlist_free(&opts);
    ptk_kvlist_free(&none);
    return srv;
}

static void *client_in(const char *dir)
{
    struct ptk_transport_cfg cfg = {dir, NULL, NULL};
    char err[300] = "";
    void *cli = NULL;
    int r = ops->client_setup(&cfg, &cli, err, sizeof(err));
    if (r != PTK_OK)
        fail_msg("client_setup: %s", err);
    return cli;
}

/* As tp_open, with real instances and the client's password argument. */
static void ss_open(struct tp_pair *p, void *srv, void *cli, const char *password, uint32_t seed,
                    size_t max_chunk)
{
    struct ptk_kvlist args = PTK_KVLIST_INIT;
    struct ptk_xfer x;
    char err[256] = "";
    memset(p, 0, sizeof(*p));
    tp_side_init(&p->c, ops);
    tp_side_init(&p->s, ops);
    p->rng = seed;
    p->max_chunk = max_chunk ? max_chunk : 1;
    p->now_ms = 1000;
    kv(&args, "password", password);
    assert_int_equal(ops->client_new(cli, &args, &p->c.conn, err, sizeof(err)), PTK_OK);
    assert_int_equal(ops->server_new(srv, &p->s.conn), PTK_OK);
    ptk_kvlist_free(&args);
    tp_xfer(p, &p->c, &x);
    int r = ops->start(p->c.conn, &x);
    tp_after(&p->c, &x, r);
    assert_int_equal(r, PTK_OK);
    tp_xfer(p, &p->s, &x);
    r = ops->start(p->s.conn, &x);
    tp_after(&p->s, &x, r);
    assert_int_equal(r, PTK_OK);
}

/* Only a server conn, started; the client side stays empty (a hand-built peer). */
static void ss_open_server(struct tp_pair *p, void *srv)
{
    struct ptk_xfer x;
    memset(p, 0, sizeof(*p));
    tp_side_init(&p->c, ops);
    tp_side_init(&p->s, ops);
    p->now_ms = 1000;
    assert_int_equal(ops->server_new(srv, &p->s.conn), PTK_OK);
    tp_xfer(p, &p->s, &x);
    int r = ops->start(p->s.conn, &x);
    tp_after(&p->s, &x, r);
    assert_int_equal(r, PTK_OK);
}

/* Decode bytes into side s at wall clock `unix`. */
static int inject_at(struct tp_pair *p, struct tp_side *s, const uint8_t *b, size_t n,
                     int64_t unix_time, size_t *used)
{
    struct ptk_xfer x;
    size_t u = 0;
    tp_xfer(p, s, &x);
    x.unix_time = unix_time;
    int r = s->ops->decode(s->conn, b, n, &u, &x);
    tp_after(s, &x, r);
    if (used)
        *used = u;
    return r;
}

static const char *pw_b32(void)
{
    static char pw[64];
    const char *v = vec_str(V, "password_b32");
    assert_non_null(v);
    ptk_strlcpy(pw, v, sizeof(pw));
    return pw;
}

/* ---------- a hand-built peer's view of the message layer ---------- */

struct peer_dir {
    struct ptk_aes_ctr ctr;
    uint8_t mac[32];
};

static void peer_dir_init(struct peer_dir *d, const uint8_t key[32], const uint8_t iv8[8],
                          const uint8_t mac[32])
{
    uint8_t iv[16] = {0};
    memcpy(iv, iv8, 8);
    iv[15] = 1;
    d->ctr = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    assert_int_equal(ptk_aes_ctr_init(&d->ctr, key, 32, iv), PTK_OK);
    memcpy(d->mac, mac, 32);
}

/* One message into b. */
static void peer_message(struct peer_dir *d, struct ptk_buf *b, uint8_t flags, const uint8_t *p,
                         size_t plen, size_t padlen)
{
    uint8_t m[MTU], full[32];
    size_t total = plen + padlen;
    assert_true(total <= MPU);
    m[16] = (uint8_t)(total >> 8);
    m[17] = (uint8_t)total;
    m[18] = (uint8_t)(plen >> 8);
    m[19] = (uint8_t)plen;
    m[20] = flags;
    if (plen)
        memcpy(m + HDR, p, plen);
    memset(m + HDR + plen, 0, padlen);
    assert_int_equal(ptk_aes_ctr_xor(&d->ctr, m + 16, m + 16, 5 + total), PTK_OK);
    ptk_hmac_sha256(d->mac, 32, m + 16, 5 + total, full);
    memcpy(m, full, 16);
    put(b, m, HDR + total);
}

/*
 * Read every message in w[0..n) (n must end on a message boundary): payload
 * bytes appended to app, the last new ticket and PRNG seed kept. Returns the
 * number of messages.
 */
static int peer_read(struct peer_dir *d, const uint8_t *w, size_t n, struct ptk_buf *app,
                     uint8_t ticket[144], int *tickets, uint8_t seed[32], int *seeds)
{
    int count = 0;
    size_t off = 0;
    while (off < n) {
        uint8_t h[5], full[32], body[MPU];
        assert_true(n - off >= HDR);
        assert_int_equal(ptk_aes_ctr_xor(&d->ctr, h, w + off + 16, 5), PTK_OK);
        size_t total = (size_t)h[0] << 8 | h[1], plen = (size_t)h[2] << 8 | h[3];
        assert_true(plen <= total && total <= MPU);
        assert_true(n - off >= HDR + total);
        ptk_hmac_sha256(d->mac, 32, w + off + 16, 5 + total, full);
        assert_memory_equal(full, w + off, 16);
        assert_int_equal(ptk_aes_ctr_xor(&d->ctr, body, w + off + HDR, total), PTK_OK);
        for (size_t i = plen; i < total; i++)
            assert_int_equal(body[i], 0); /* padding is zero bytes */
        if (h[4] == SCRAMBLESUIT_FLAG_PAYLOAD) {
            if (app && plen)
                put(app, body, plen);
        } else if (h[4] == SCRAMBLESUIT_FLAG_NEW_TICKET) {
            assert_int_equal(plen, 144);
            if (ticket)
                memcpy(ticket, body, 144);
            if (tickets)
                (*tickets)++;
        } else {
            assert_int_equal(h[4], SCRAMBLESUIT_FLAG_PRNG_SEED);
            assert_int_equal(plen, 32);
            if (seed)
                memcpy(seed, body, 32);
            if (seeds)
                (*seeds)++;
        }
        off += HDR + total;
        count++;
    }
    return count;
}

/* ---------- key schedule, tickets, base32: known answers ---------- */

static void test_kdf_vectors(void **st)
{
    (void)st;
    struct scramblesuit_keys c, s;
    uint8_t *master = vec("master", 32), *okm = vec("okm", 144);
    scramblesuit_kdf(master, false, &c);
    scramblesuit_kdf(master, true, &s);
    /* client: send = okm[0:40] and [80:112]; recv = okm[40:80] and [112:144] */
    assert_memory_equal(c.send_key, okm, 32);
    assert_memory_equal(c.send_iv, okm + 32, 8);
    assert_memory_equal(c.recv_key, okm + 40, 32);
    assert_memory_equal(c.recv_iv, okm + 72, 8);
    assert_memory_equal(c.send_hmac, okm + 80, 32);
    assert_memory_equal(c.recv_hmac, okm + 112, 32);
    /* the server uses the same material the other way round */
    assert_memory_equal(s.send_key, c.recv_key, 32);
    assert_memory_equal(s.send_iv, c.recv_iv, 8);
    assert_memory_equal(s.recv_key, c.send_key, 32);
    assert_memory_equal(s.recv_iv, c.send_iv, 8);
    assert_memory_equal(s.send_hmac, c.recv_hmac, 32);
    assert_memory_equal(s.recv_hmac, c.send_hmac, 32);
    /* master = SHA-256 of the UniformDH secret */
    uint8_t shared[PUB], m2[32];
    assert_int_equal(vec_hex("uniformdh.txt", "xy_shared", shared, PUB), 0);
    ptk_sha256(shared, PUB, m2);
    assert_memory_equal(m2, master, 32);
    free(master);
    free(okm);
}

static void load_ticket_keys(struct scramblesuit_ticket_keys *k, const char *aes, const char *mac)
{
    assert_int_equal(vec_hex(V, aes, k->aes, 16), 0);
    assert_int_equal(vec_hex(V, mac, k->hmac, 32), 0);
}

static void test_ticket_vectors(void **st)
{
    (void)st;
    struct scramblesuit_ticket_keys k, other;
    uint8_t iv[16], master[32], got[112], m2[32];
    uint8_t *want = vec("ticket", 112);
    uint32_t issued = 0;
    load_ticket_keys(&k, "ticket_aes_key", "ticket_hmac_key");
    load_ticket_keys(&other, "old_ticket_aes_key", "old_ticket_hmac_key");
    assert_int_equal(vec_hex(V, "ticket_iv", iv, 16), 0);
    assert_int_equal(vec_hex(V, "ticket_master", master, 32), 0);
    assert_int_equal(scramblesuit_ticket_seal(&k, iv, 1699996400u, master, got), PTK_OK);
    assert_memory_equal(got, want, 112);
    assert_int_equal(scramblesuit_ticket_open(&k, want, &issued, m2), PTK_OK);
    assert_int_equal(issued, 1699996400u);
    assert_memory_equal(m2, master, 32);
    /* another key, or any flipped bit: refused */
    assert_int_equal(scramblesuit_ticket_open(&other, want, &issued, m2), PTK_EAUTH);
    for (size_t i = 0; i < 112; i += 7) {
        memcpy(got, want, 112);
        got[i] ^= 0x10;
        assert_int_equal(scramblesuit_ticket_open(&k, got, &issued, m2), PTK_EAUTH);
    }
    /* a valid HMAC over a state without the identifier: refused too */
    ptk_random(got, 80);
    ptk_hmac_sha256(k.hmac, 32, got, 80, got + 80);
    assert_int_equal(scramblesuit_ticket_open(&k, got, &issued, m2), PTK_EAUTH);
    free(want);
}

/* ---------- the server against Python-built clients ---------- */

/* A server in a fresh dir whose state holds the vectors' ticket keys (created at `created`). */
static void *vector_server(char dir[64], bool with_old, int64_t created)
{
    char text[1024], aes[33], mac[65], oaes[33], omac[65];
    mkdir_tmp(dir);
    ptk_strlcpy(aes, vec_str(V, "ticket_aes_key"), sizeof(aes));
    ptk_strlcpy(mac, vec_str(V, "ticket_hmac_key"), sizeof(mac));
    ptk_strlcpy(oaes, vec_str(V, "old_ticket_aes_key"), sizeof(oaes));
    ptk_strlcpy(omac, vec_str(V, "old_ticket_hmac_key"), sizeof(omac));
    if (with_old) /* current keys random, the vectors' "old" keys as the previous ones */
        snprintf(text, sizeof(text),
                 "{\"password\":\"%s\",\"prng-seed\":\"%064d\",\"ticket-aes-key\":\"%032d\","
                 "\"ticket-hmac-key\":\"%064d\",\"key-creation\":%lld,"
                 "\"old-ticket-aes-key\":\"%s\",\"old-ticket-hmac-key\":\"%s\"}",
                 pw_b32(), 7, 1, 2, (long long)created, oaes, omac);
    else
        snprintf(text, sizeof(text),
                 "{\"password\":\"%s\",\"prng-seed\":\"%064d\",\"ticket-aes-key\":\"%s\","
                 "\"ticket-hmac-key\":\"%s\",\"key-creation\":%lld}",
                 pw_b32(), 7, aes, mac, (long long)created);
    write_text(dir, SCRAMBLESUIT_STATE_FILE, text);
    return server_in(dir, NULL, NULL);
}

static void test_server_accepts_vector_udh(void **st)
{
    (void)st;
    char dir[64];
    void *srv = vector_server(dir, false, NOW() - 100);
    size_t hslen = vec_len("client_hs");
    uint8_t *hs = vec("client_hs", hslen), pw[20], raw[PUB], x[PUB], xpub[PUB], shared[PUB],
            master[32], mark[32], mac[32];
    assert_int_equal(vec_hex(V, "password", pw, 20), 0);
    assert_int_equal(vec_hex("uniformdh.txt", "x_priv", raw, PUB), 0);
    assert_int_equal(ptk_udh_keypair_from(raw, x, xpub), PTK_OK);
    assert_memory_equal(xpub, hs, PUB);

    /* one byte short: nothing yet; then the whole message in ragged pieces */
    struct tp_pair p;
    ss_open_server(&p, srv);
    assert_int_equal(p.s.timer_us, (int64_t)30 * SEC);
    size_t used = 99;
    assert_int_equal(inject_at(&p, &p.s, hs, hslen - 1, UNIX, &used), PTK_OK);
    assert_int_equal(used, 0);
    assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
    assert_int_equal(inject_at(&p, &p.s, hs, hslen, UNIX, &used), PTK_OK);
    assert_int_equal(used, hslen);
    assert_true(p.s.established);
    assert_int_equal(p.s.timer_us, 0);

    /* the answer: Y | P_S (0..1308) | M_S | MAC_S (client's E) | messages */
    const uint8_t *w = ptk_buf_data(&p.s.wire_out);
    size_t wl = ptk_buf_len(&p.s.wire_out);
    ptk_hmac_sha256(pw, 20, w, PUB, mark);
    const uint8_t *m = memmem(w + PUB, wl - PUB, mark, 16);
    assert_non_null(m);
    size_t pos = (size_t)(m - w);
    assert_in_range(pos, PUB, PUB + 1308);
    ptk_hmac_sha256_ctx h;
    ptk_hmac_sha256_init(&h, pw, 20);
    ptk_hmac_sha256_update(&h, w, pos + 16);
    ptk_hmac_sha256_update(&h, "472222", 6);
    ptk_hmac_sha256_final(&h, mac);
    assert_memory_equal(mac, w + pos + 16, 16);

    /* the messages decrypt with the keys of SHA-256(x ^ Y): a ticket, then the seed */
    struct scramblesuit_keys k;
    struct peer_dir down, up;
    uint8_t ticket[144], seed[32], want_seed[32];
    int tickets = 0, seeds = 0;
    assert_int_equal(ptk_udh_shared(x, w, shared), PTK_OK);
    ptk_sha256(shared, PUB, master);
    scramblesuit_kdf(master, false, &k);
    peer_dir_init(&down, k.recv_key, k.recv_iv, k.recv_hmac);
    peer_dir_init(&up, k.send_key, k.send_iv, k.send_hmac);
    size_t start = pos + 32;
    int n = peer_read(&down, w + start, wl - start, NULL, ticket, &tickets, seed, &seeds);
    assert_true(n >= 4); /* ticket + padding, seed + padding */
    assert_int_equal(tickets, 1);
    assert_int_equal(seeds, 1);
    memset(want_seed, 0, 32);
    want_seed[31] = 7; /* the state's "prng-seed" */
    assert_memory_equal(seed, want_seed, 32);

    /* the new ticket opens under the state's ticket keys and is fresh */
    struct scramblesuit_ticket_keys tk;
    uint32_t issued;
    uint8_t tm[32];
    load_ticket_keys(&tk, "ticket_aes_key", "ticket_hmac_key");
    assert_int_equal(scramblesuit_ticket_open(&tk, ticket + 32, &issued, tm), PTK_OK);
    assert_int_equal(issued, UNIX);
    assert_memory_equal(tm, ticket, 32);

    /* data both ways on the session */
    struct ptk_buf in, app;
    ptk_buf_init(&in, 1 << 20);
    ptk_buf_init(&app, 1 << 20);
    uint8_t data[3000];
    ptk_random(data, sizeof(data));
    peer_message(&up, &in, 1, data, 1427, 0);
    peer_message(&up, &in, 1, data + 1427, 1427, 0);
    peer_message(&up, &in, 1, data + 2854, 3000 - 2854, 17);
    peer_message(&up, &in, 1, NULL, 0, 100);
    assert_int_equal(inject_at(&p, &p.s, ptk_buf_data(&in), ptk_buf_len(&in), UNIX, &used), PTK_OK);
    assert_int_equal(used, ptk_buf_len(&in));
    assert_int_equal(ptk_buf_len(&p.s.app_out), 3000);
    assert_memory_equal(ptk_buf_data(&p.s.app_out), data, 3000);
    ptk_buf_consume(&p.s.wire_out, wl);
    put(&p.s.app_in, data, 2000);
    tp_feed(&p, &p.s, &p.s.app_in, false);
    peer_read(&down, ptk_buf_data(&p.s.wire_out), ptk_buf_len(&p.s.wire_out), &app, NULL, NULL,
              NULL, NULL);
    assert_int_equal(ptk_buf_len(&app), 2000);
    assert_memory_equal(ptk_buf_data(&app), data, 2000);

    ptk_aes_ctr_free(&down.ctr);
    ptk_aes_ctr_free(&up.ctr);
    ptk_buf_free(&in);
    ptk_buf_free(&app);
    tp_close(&p);
    ops->server_free(srv);
    rm_tmp(dir);
    free(hs);
}

/* E-1 and E+1 are accepted (a new server each time: the replay filter), E+-2 are not. */
static void test_server_epoch_window(void **st)
{
    (void)st;
    static const int64_t shift[5] = {-2, -1, 0, 1, 2};
    size_t hslen = vec_len("client_hs");
    uint8_t *hs = vec("client_hs", hslen);
    for (int i = 0; i < 5; i++) {
        char dir[64];
        void *srv = vector_server(dir, false, NOW() - 100);
        struct tp_pair p;
        ss_open_server(&p, srv);
        /* the client said E = 472222; the server's clock is `shift` hours off */
        int r = inject_at(&p, &p.s, hs, hslen, UNIX + shift[i] * 3600, NULL);
        if (shift[i] >= -1 && shift[i] <= 1) {
            assert_int_equal(r, PTK_OK);
            assert_true(p.s.established);
        } else {
            assert_int_equal(r, PTK_EPROBE);
            assert_false(p.s.established);
            assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        }
        tp_close(&p);
        ops->server_free(srv);
        rm_tmp(dir);
    }
    free(hs);
}

static void test_server_accepts_vector_ticket(void **st)
{
    (void)st;
    for (int variant = 0; variant < 3; variant++) {
        char dir[64];
        /* 0: current keys; 1: the ticket is under the previous keys; 2: both, in one write */
        void *srv = vector_server(dir, variant == 1, NOW() - 100);
        size_t hslen = vec_len("ticket_hs"), mlen = vec_len("t_msg");
        uint8_t *hs = vec("ticket_hs", hslen), *msg = vec("t_msg", mlen);
        if (variant == 1) {
            /* the same master key sealed under the old keys: new T, so new M and MAC */
            uint8_t *old = vec("old_ticket", 112), k[32], full[32];
            size_t padlen = hslen - 112 - 32;
            assert_int_equal(vec_hex(V, "ticket_c2s_mac", k, 32), 0);
            memcpy(hs, old, 112);
            ptk_hmac_sha256(k, 32, hs, 112, full);
            memcpy(hs + 112 + padlen, full, 16);
            ptk_hmac_sha256_ctx h;
            ptk_hmac_sha256_init(&h, k, 32);
            ptk_hmac_sha256_update(&h, hs, 112 + padlen + 16);
            ptk_hmac_sha256_update(&h, "472222", 6);
            ptk_hmac_sha256_final(&h, full);
            memcpy(hs + 112 + padlen + 16, full, 16);
            free(old);
        }
        struct tp_pair p;
        struct ptk_buf in;
        ptk_buf_init(&in, 1 << 20);
        put(&in, hs, hslen);
        put(&in, msg, mlen);
        ss_open_server(&p, srv);
        size_t used = 0;
        if (variant == 2) {
            assert_int_equal(inject_at(&p, &p.s, ptk_buf_data(&in), ptk_buf_len(&in), UNIX, &used),
                             PTK_OK);
            assert_int_equal(used, hslen + mlen);
        } else {
            /* the message may trail the handshake in a later read */
            assert_int_equal(inject_at(&p, &p.s, hs, hslen, UNIX, &used), PTK_OK);
            assert_int_equal(used, hslen);
            assert_int_equal(inject_at(&p, &p.s, msg, mlen, UNIX, &used), PTK_OK);
            assert_int_equal(used, mlen);
        }
        assert_true(p.s.established);
        size_t plen = vec_len("t_msg_payload");
        uint8_t *payload = vec("t_msg_payload", plen);
        assert_int_equal(ptk_buf_len(&p.s.app_out), plen);
        assert_memory_equal(ptk_buf_data(&p.s.app_out), payload, plen);

        /* no handshake answer: straight to messages under the ticket's keys */
        uint8_t key[32], iv[8], mac[32], ticket[144];
        struct peer_dir down;
        int tickets = 0, seeds = 0;
        assert_int_equal(vec_hex(V, "ticket_s2c_key", key, 32), 0);
        assert_int_equal(vec_hex(V, "ticket_s2c_iv", iv, 8), 0);
        assert_int_equal(vec_hex(V, "ticket_s2c_mac", mac, 32), 0);
        peer_dir_init(&down, key, iv, mac);
        peer_read(&down, ptk_buf_data(&p.s.wire_out), ptk_buf_len(&p.s.wire_out), NULL, ticket,
                  &tickets, NULL, &seeds);
        assert_int_equal(tickets, 1);
        assert_int_equal(seeds, 1);
        ptk_aes_ctr_free(&down.ctr);
        tp_close(&p);

        /* the same handshake again: a replay. Not a ticket then, and maybe a UniformDH
         * message still arriving: the server waits in silence, to its deadline */
        ss_open_server(&p, srv);
        assert_int_equal(inject_at(&p, &p.s, ptk_buf_data(&in), ptk_buf_len(&in), UNIX, NULL),
                         PTK_OK);
        assert_false(p.s.established);
        p.now_ms += 30000;
        assert_int_equal(tp_timer(&p, &p.s), PTK_EPROBE);
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
        tp_close(&p);

        ptk_buf_free(&in);
        ops->server_free(srv);
        rm_tmp(dir);
        free(hs);
        free(msg);
        free(payload);
    }
}

/* A ticket past its 7 days, or under unknown keys, is not accepted (and nothing is said). */
static void test_server_rejects_stale_ticket(void **st)
{
    (void)st;
    size_t hslen = vec_len("ticket_hs");
    uint8_t *hs = vec("ticket_hs", hslen);
    for (int variant = 0; variant < 2; variant++) {
        char dir[64];
        void *srv;
        int64_t now = UNIX;
        if (variant == 0) {
            srv = vector_server(dir, false, NOW());
            now = 1699996400 + 7 * DAY + 1; /* issued + 7 days + 1 s */
        } else {
            mkdir_tmp(dir);
            srv = server_in(dir, pw_b32(), NULL); /* other ticket keys */
        }
        struct tp_pair p;
        ss_open_server(&p, srv);
        assert_int_equal(inject_at(&p, &p.s, hs, hslen, now, NULL), PTK_OK); /* waits... */
        assert_false(p.s.established);
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        p.now_ms += 30000;
        assert_int_equal(tp_timer(&p, &p.s), PTK_EPROBE); /* ...until the deadline */
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        tp_close(&p);
        ops->server_free(srv);
        rm_tmp(dir);
    }
    free(hs);
}

/* ---------- ptkit <-> ptkit ---------- */

static void roundtrip(void *srv, void *cli, size_t n_up, size_t n_down, uint32_t seed,
                      size_t max_chunk, bool expect_ticket)
{
    struct tp_pair p;
    uint8_t *up = random_bytes(n_up), *down = random_bytes(n_down);
    ss_open(&p, srv, cli, pw_b32(), seed, max_chunk);
    /* with a ticket the client is connected at once; with UniformDH it waits */
    assert_int_equal(p.c.established, expect_ticket);
    put(&p.c.app_in, up, n_up);
    put(&p.s.app_in, down, n_down);
    tp_run(&p);
    assert_int_equal(p.c.err, 0);
    assert_int_equal(p.s.err, 0);
    assert_true(p.c.established && p.s.established);
    assert_int_equal(p.s.timer_us, 0);
    assert_int_equal(ptk_buf_len(&p.c.app_in), 0);
    assert_int_equal(ptk_buf_len(&p.s.app_in), 0);
    assert_int_equal(ptk_buf_len(&p.s.app_out), n_up);
    assert_int_equal(ptk_buf_len(&p.c.app_out), n_down);
    if (n_up)
        assert_memory_equal(ptk_buf_data(&p.s.app_out), up, n_up);
    if (n_down)
        assert_memory_equal(ptk_buf_data(&p.c.app_out), down, n_down);
    assert_int_equal(ptk_buf_len(&p.c.wire_out), 0);
    assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
    tp_close(&p);
    free(up);
    free(down);
}

static void test_roundtrip_sizes(void **st)
{
    (void)st;
    static const size_t sizes[] = {0,    1,    2,    20,    21,    1426,  1427,  1428,   1448,
                                   2854, 2855, 4096, 32767, 32768, 32769, 65536, 100000, 300001};
    size_t n = sizeof(sizes) / sizeof(sizes[0]);
    char dir[64];
    mkdir_tmp(dir);
    void *srv = server_in(dir, pw_b32(), NULL);
    for (size_t i = 0; i < n; i++) {
        size_t j = (i * 7 + 3) % n;
        /* without a ticket store: UniformDH every time */
        roundtrip(srv, NULL, sizes[i], sizes[j], 0, 0, false);
        roundtrip(srv, NULL, sizes[i], sizes[j], 0x1234u + (uint32_t)i, 3000, false);
        if (sizes[i] <= 4096 && sizes[j] <= 4096)
            roundtrip(srv, NULL, sizes[i], sizes[j], 77u + (uint32_t)i, 1, false);
    }
    roundtrip(srv, NULL, (size_t)4 << 20, (size_t)3 << 20, 99, 70000, false);
    ops->server_free(srv);
    rm_tmp(dir);
}

/* The client's first flight after a connection left it a ticket. */
static void test_ticket_second_connection(void **st)
{
    (void)st;
    char sdir[64], cdir[64];
    mkdir_tmp(sdir);
    mkdir_tmp(cdir);
    void *srv = server_in(sdir, pw_b32(), NULL);
    void *cli = client_in(cdir);
    assert_null(read_text(cdir, SCRAMBLESUIT_TICKET_FILE));

    /* 1st: UniformDH; the server's ticket lands in obfs4proxy's store format */
    roundtrip(srv, cli, 5000, 7000, 3, 999, false);
    char *text = read_text(cdir, SCRAMBLESUIT_TICKET_FILE);
    assert_non_null(text);
    struct ptk_ss_tickets t = PTK_SS_TICKETS_INIT;
    char why[200];
    assert_int_equal(ptk_ss_tickets_parse(text, strlen(text), &t, why, sizeof(why)), PTK_OK);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.v[0].issued_at, UNIX);
    assert_non_null(strstr(text, "\"key-ticket\":\""));
    assert_non_null(strstr(text, "\"issuedAt\":1700000000"));
    uint8_t first_ticket[112];
    memcpy(first_ticket, t.v[0].ticket, 112);
    ptk_ss_tickets_free(&t);
    free(text);
    struct stat sb;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", cdir, SCRAMBLESUIT_TICKET_FILE);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* 2nd: the client opens with that ticket: T | P (0..1388) | M | MAC */
    struct tp_pair p;
    ss_open(&p, srv, cli, pw_b32(), 5, 500);
    assert_true(p.c.established);
    assert_in_range(ptk_buf_len(&p.c.wire_out), 112 + 32, 112 + 1388 + 32);
    assert_memory_equal(ptk_buf_data(&p.c.wire_out), first_ticket, 112);
    text = read_text(cdir, SCRAMBLESUIT_TICKET_FILE);
    assert_string_equal(text, "{}"); /* taken: one use only */
    free(text);
    uint8_t data[10000];
    ptk_random(data, sizeof(data));
    put(&p.c.app_in, data, sizeof(data)); /* sent right behind the ticket */
    put(&p.s.app_in, data, 4000);
    tp_run(&p);
    assert_int_equal(p.c.err, 0);
    assert_int_equal(p.s.err, 0);
    assert_true(p.s.established);
    assert_int_equal(ptk_buf_len(&p.s.app_out), sizeof(data));
    assert_memory_equal(ptk_buf_data(&p.s.app_out), data, sizeof(data));
    assert_int_equal(ptk_buf_len(&p.c.app_out), 4000);
    assert_memory_equal(ptk_buf_data(&p.c.app_out), data, 4000);
    tp_close(&p);
    text = read_text(cdir, SCRAMBLESUIT_TICKET_FILE);
    assert_non_null(strstr(text, "key-ticket")); /* and a new ticket came with it */
    free(text);

    /* 3rd, after a "restart": a new client instance loads the store and uses the ticket */
    ops->client_free(cli);
    cli = client_in(cdir);
    roundtrip(srv, cli, 3000, 3000, 0, 0, true);
    roundtrip(srv, cli, 1, 1, 8, 100, true);

    /* a ticket for a bridge with another password is not used */
    struct ptk_kvlist args = PTK_KVLIST_INIT;
    char err[256];
    void *conn = NULL;
    kv(&args, "password", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    assert_int_equal(ops->client_new(cli, &args, &conn, err, sizeof(err)), PTK_OK);
    memset(&p, 0, sizeof(p));
    tp_side_init(&p.c, ops);
    p.c.conn = conn;
    struct ptk_xfer x;
    tp_xfer(&p, &p.c, &x);
    assert_int_equal(ops->start(conn, &x), PTK_OK);
    assert_false(x.established);
    assert_int_equal(x.timer_us, (int64_t)60 * SEC);
    tp_side_free(&p.c);
    ptk_kvlist_free(&args);
    text = read_text(cdir, SCRAMBLESUIT_TICKET_FILE);
    assert_non_null(strstr(text, "key-ticket")); /* still there for its own bridge */
    free(text);

    ops->client_free(cli);
    ops->server_free(srv);
    rm_tmp(sdir);
    rm_tmp(cdir);
}

/* An expired stored ticket is dropped and UniformDH used instead. */
static void test_client_expired_ticket(void **st)
{
    (void)st;
    char sdir[64], cdir[64];
    mkdir_tmp(sdir);
    mkdir_tmp(cdir);
    void *srv = server_in(sdir, pw_b32(), NULL);
    void *cli = client_in(cdir);
    roundtrip(srv, cli, 10, 10, 0, 0, false);
    ops->client_free(cli);
    /* age the stored ticket past 7 days */
    char *text = read_text(cdir, SCRAMBLESUIT_TICKET_FILE), *at = strstr(text, "1700000000");
    assert_non_null(at);
    memcpy(at, "1699395200", 10); /* UNIX - 7 days */
    write_text(cdir, SCRAMBLESUIT_TICKET_FILE, text);
    free(text);
    cli = client_in(cdir);
    roundtrip(srv, cli, 10, 10, 0, 0, false);
    ops->client_free(cli);
    ops->server_free(srv);
    rm_tmp(sdir);
    rm_tmp(cdir);
}

/* ---------- wire layout ---------- */

static void test_wire_layout(void **st)
{
    (void)st;
    char dir[64];
    mkdir_tmp(dir);
    void *srv = server_in(dir, pw_b32(), NULL);
    for (int round = 0; round < 20; round++) {
        struct tp_pair p;
        ss_open(&p, srv, NULL, pw_b32(), 0, 0);
        /* X | P_C (0..1308) | M_C | MAC; the server is silent until it has it all */
        assert_in_range(ptk_buf_len(&p.c.wire_out), PUB + 32, PUB + 1308 + 32);
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        assert_int_equal(p.c.timer_us, (int64_t)60 * SEC);
        assert_int_equal(p.s.timer_us, (int64_t)30 * SEC);
        tp_run(&p);
        assert_true(p.c.established && p.s.established);
        /* each burst: messages of at most 1448 bytes, then padding so that the last
         * segment is 21..1448 bytes: never a whole number of segments plus 0 */
        for (size_t n = 1; n < 20000; n = n * 3 + 1) {
            uint8_t *d = random_bytes(n);
            put(&p.c.app_in, d, n);
            tp_feed(&p, &p.c, &p.c.app_in, false);
            size_t w = ptk_buf_len(&p.c.wire_out);
            size_t frames = (n + MPU - 1) / MPU;
            assert_true(w >= n + HDR * frames + HDR);
            assert_true(w <= frames * MTU + 1468);
            assert_true(w % MTU >= HDR || w % MTU == 0);
            tp_run(&p);
            assert_int_equal(ptk_buf_len(&p.s.app_out), n);
            assert_memory_equal(ptk_buf_data(&p.s.app_out), d, n);
            ptk_buf_consume(&p.s.app_out, n);
            free(d);
        }
        tp_close(&p);
    }
    ops->server_free(srv);
    rm_tmp(dir);
}

/* ---------- probing resistance ---------- */

static void test_wrong_password_is_silent(void **st)
{
    (void)st;
    char dir[64];
    mkdir_tmp(dir);
    void *srv = server_in(dir, pw_b32(), NULL);
    for (int i = 0; i < 4; i++) {
        struct tp_pair p;
        ss_open(&p, srv, NULL, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 0x55u + (uint32_t)i,
                i ? 200 : 0);
        p.now_ms += 1234;
        tp_run(&p);
        /* the server waits for more (the message is < 1532 bytes and has no valid mark)
         * or gives up at once if it found the mark position to be wrong; never a byte out */
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        assert_false(p.s.established || p.c.established);
        assert_true(p.s.err == 0 || p.s.err == PTK_EPROBE);
        /* at the deadline: silence, then close at accept + 30 s + the bridge's delay */
        p.now_ms = 1000 + 30000;
        int r = tp_timer(&p, &p.s);
        assert_int_equal(r, PTK_EPROBE);
        assert_in_range(p.s.timer_us, 0, (int64_t)59 * SEC);
        assert_int_equal(p.s.timer_us % 1000, 0);
        /* still silent, whatever else comes */
        uint8_t junk[5000];
        ptk_random(junk, sizeof(junk));
        assert_int_equal(inject_at(&p, &p.s, junk, sizeof(junk), UNIX, NULL), PTK_EPROBE);
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
        /* the client gives up after 60 s */
        assert_int_equal(tp_timer(&p, &p.c), PTK_ETIMEDOUT);
        tp_close(&p);
    }
    ops->server_free(srv);
    rm_tmp(dir);
}

/* Garbage: up to 1532 bytes the server waits; beyond, it is a probe. */
static void test_garbage_limit(void **st)
{
    (void)st;
    char dir[64];
    mkdir_tmp(dir);
    void *srv = server_in(dir, pw_b32(), NULL);
    uint8_t *junk = random_bytes(5000);
    static const size_t lens[] = {0, 1, 143, 144, 191, 224, 1000, 1532};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct tp_pair p;
        ss_open_server(&p, srv);
        size_t used = 1;
        assert_int_equal(inject_at(&p, &p.s, junk, lens[i], UNIX, &used), PTK_OK);
        assert_int_equal(used, 0);
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        p.now_ms += 5000;
        assert_int_equal(inject_at(&p, &p.s, junk, 1533, UNIX, NULL), PTK_EPROBE);
        /* close at accept (1000) + 30 s + delay, measured from now (6000) */
        assert_in_range(p.s.timer_us, (int64_t)25 * SEC, (int64_t)(25 + 59) * SEC);
        assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
        tp_close(&p);
    }
    free(junk);
    ops->server_free(srv);
    rm_tmp(dir);
}

/*
 * The close delay is the bridge's: Go's Intn(60) over obfs4's HashDrbg seeded
 * with the PRNG seed's first 24 bytes. This seed gives 3 s (computed with an
 * independent Python HashDrbg; tests/integration/test_scramblesuit.py uses it).
 */
static void test_close_delay_known_answer(void **st)
{
    (void)st;
    char dir[64], text[512];
    mkdir_tmp(dir);
    snprintf(text, sizeof(text),
             "{\"password\":\"%s\",\"prng-seed\":\"f071af08e6d46f59301b833ad763f8e92a1ef837f92e"
             "5f77f0bbd57a35726515\",\"ticket-aes-key\":\"%032d\",\"ticket-hmac-key\":\"%064d\","
             "\"key-creation\":%lld}",
             pw_b32(), 1, 2, (long long)NOW());
    write_text(dir, SCRAMBLESUIT_STATE_FILE, text);
    void *srv = server_in(dir, NULL, NULL);
    struct tp_pair p;
    uint8_t junk[1600];
    ptk_random(junk, sizeof(junk));
    ss_open_server(&p, srv); /* accepted at now_ms = 1000 */
    assert_int_equal(inject_at(&p, &p.s, junk, sizeof(junk), UNIX, NULL), PTK_EPROBE);
    assert_int_equal(p.s.timer_us, (int64_t)33 * SEC);
    tp_close(&p);
    ss_open_server(&p, srv);
    p.now_ms = 1000 + 30000;
    assert_int_equal(tp_timer(&p, &p.s), PTK_EPROBE);
    assert_int_equal(p.s.timer_us, (int64_t)3 * SEC);
    tp_close(&p);
    ops->server_free(srv);
    rm_tmp(dir);
}

/* A recorded client message replayed, and the server's own answer reflected. */
static void test_replay_and_reflection(void **st)
{
    (void)st;
    char dir[64];
    mkdir_tmp(dir);
    void *srv = server_in(dir, pw_b32(), NULL);
    struct tp_pair p, q;
    struct ptk_buf rec;
    ptk_buf_init(&rec, 1 << 20);
    ss_open(&p, srv, NULL, pw_b32(), 0, 0);
    put(&rec, ptk_buf_data(&p.c.wire_out), ptk_buf_len(&p.c.wire_out));
    tp_run(&p);
    assert_true(p.s.established && p.c.established);

    ss_open_server(&q, srv);
    assert_int_equal(inject_at(&q, &q.s, ptk_buf_data(&rec), ptk_buf_len(&rec), UNIX, NULL),
                     PTK_EPROBE);
    assert_int_equal(ptk_buf_len(&q.s.wire_out), 0);
    tp_close(&q);
    tp_close(&p);

    /* the server's UniformDH answer has a client message's shape */
    ss_open(&p, srv, NULL, pw_b32(), 0, 0);
    tp_feed(&p, &p.s, &p.c.wire_out, true);
    assert_true(p.s.established);
    ptk_buf_reset(&rec);
    put(&rec, ptk_buf_data(&p.s.wire_out), ptk_buf_len(&p.s.wire_out));
    ss_open_server(&q, srv);
    assert_int_equal(inject_at(&q, &q.s, ptk_buf_data(&rec), ptk_buf_len(&rec), UNIX, NULL),
                     PTK_EPROBE);
    assert_int_equal(ptk_buf_len(&q.s.wire_out), 0);
    tp_close(&q);
    tp_close(&p);
    ptk_buf_free(&rec);
    ops->server_free(srv);
    rm_tmp(dir);
}

/* A flipped bit anywhere in a message closes the connection; nothing of it is delivered. */
static void test_tampered_message(void **st)
{
    (void)st;
    char dir[64];
    mkdir_tmp(dir);
    void *srv = server_in(dir, pw_b32(), NULL);
    for (size_t pos = 0; pos < 60; pos += 3) {
        struct tp_pair p;
        uint8_t data[40];
        ptk_random(data, sizeof(data));
        ss_open(&p, srv, NULL, pw_b32(), 0, 0);
        tp_run(&p);
        assert_true(p.c.established && p.s.established);
        put(&p.c.app_in, data, sizeof(data));
        tp_feed(&p, &p.c, &p.c.app_in, false);
        ((uint8_t *)ptk_buf_data(&p.c.wire_out))[pos] ^= 0x04;
        tp_run(&p);
        assert_true(p.s.err == PTK_EAUTH || p.s.err == PTK_EPROTO);
        assert_int_equal(ptk_buf_len(&p.s.app_out), 0);
        tp_close(&p);
    }
    /* and from the server to the client */
    struct tp_pair p;
    ss_open(&p, srv, NULL, pw_b32(), 0, 0);
    tp_feed(&p, &p.s, &p.c.wire_out, true);
    size_t n = ptk_buf_len(&p.s.wire_out);
    ((uint8_t *)ptk_buf_data(&p.s.wire_out))[n - 1] ^= 0x80; /* last padding byte */
    tp_run(&p);
    assert_int_equal(p.c.err, PTK_EAUTH);
    tp_close(&p);
    ops->server_free(srv);
    rm_tmp(dir);
}

/* ---------- setup, args, files ---------- */

static void expect_client_error(const char *password, const char *want)
{
    struct ptk_kvlist args = PTK_KVLIST_INIT;
    char err[256] = "";
    void *conn = NULL;
    if (password)
        kv(&args, "password", password);
    assert_int_equal(ops->client_new(NULL, &args, &conn, err, sizeof(err)), PTK_EINVAL);
    assert_null(conn);
    assert_string_equal(err, want);
    ptk_kvlist_free(&args);
}

static void test_client_args(void **st)
{
    (void)st;
    assert_ptr_equal(ptk_transport_find("scramblesuit"), ops);
    /* obfs4proxy's messages, with Go's base32 error offsets */
    expect_client_error(NULL, "missing argument 'password'");
    expect_client_error("", "password length 0 is invalid");
    expect_client_error("aebagbafaydqqcikbmga2dqpcaireeyu",
                        "failed to decode password: illegal base32 data at input byte 0");
    expect_client_error("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY1",
                        "failed to decode password: illegal base32 data at input byte 31");
    expect_client_error("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY",
                        "failed to decode password: illegal base32 data at input byte 24");
    expect_client_error("AEBAGBAF", "password length 5 is invalid");
    expect_client_error("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYUAEBAGBAF",
                        "password length 25 is invalid");
    expect_client_error("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY=", "password length 19 is invalid");
    expect_client_error("AEBAGBAFAYDQQCIKBMGA2DQPCAIREE==",
                        "failed to decode password: illegal base32 data at input byte 30");
    /* CR/LF are skipped, as Go does */
    struct ptk_kvlist args = PTK_KVLIST_INIT;
    char err[256];
    void *conn = NULL;
    kv(&args, "password", "AEBAGBAF\nAYDQQCIKBMGA2DQPCAIREEYU\r\n");
    assert_int_equal(ops->client_new(NULL, &args, &conn, err, sizeof(err)), PTK_OK);
    ops->conn_free(conn);
    ptk_kvlist_free(&args);
}

static void test_base32(void **st)
{
    (void)st;
    uint8_t pw[20], out[40];
    char enc[64];
    size_t n, bad;
    assert_int_equal(vec_hex(V, "password", pw, 20), 0);
    ptk_base32_encode(pw, 20, enc);
    assert_string_equal(enc, vec_str(V, "password_b32"));
    /* RFC 4648 test vectors */
    static const char *const rfc[7][2] = {{"", ""},
                                          {"f", "MY======"},
                                          {"fo", "MZXQ===="},
                                          {"foo", "MZXW6==="},
                                          {"foob", "MZXW6YQ="},
                                          {"fooba", "MZXW6YTB"},
                                          {"foobar", "MZXW6YTBOI======"}};
    for (int i = 0; i < 7; i++) {
        size_t len = strlen(rfc[i][0]);
        ptk_base32_encode((const uint8_t *)rfc[i][0], len, enc);
        assert_string_equal(enc, rfc[i][1]);
        assert_int_equal(ptk_base32_decode(enc, strlen(enc), out, sizeof(out), &n, &bad), PTK_OK);
        assert_int_equal(n, len);
        assert_memory_equal(out, rfc[i][0], len);
    }
    /* the 144-byte key|ticket of the store */
    uint8_t kt[144], want[144];
    char big[PTK_BASE32_LEN(144) + 1];
    assert_int_equal(vec_hex(V, "ticket_master", want, 32), 0);
    assert_int_equal(vec_hex(V, "ticket", want + 32, 112), 0);
    ptk_base32_encode(want, 144, big);
    assert_string_equal(big, vec_str(V, "key_ticket_b32"));
    assert_int_equal(ptk_base32_decode(big, strlen(big), kt, sizeof(kt), &n, &bad), PTK_OK);
    assert_int_equal(n, 144);
    assert_memory_equal(kt, want, 144);
    /* Go's offsets for bad input */
    static const struct {
        const char *s;
        size_t bad;
    } e[] = {{"MY=====", 7},  {"M=======", 1}, {"MZXW6Y==", 6},  {"MY======MY======", 2},
             {"MY==x===", 3}, /* Go's offset is one short here */
             {"A", 0},        {"AB", 0},       {"MZXW6YTB=", 8}, {"========", 0},
             {"MZXW6YT?", 7}};
    for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
        assert_int_equal(ptk_base32_decode(e[i].s, strlen(e[i].s), out, sizeof(out), &n, &bad),
                         PTK_EINVAL);
        assert_int_equal(bad, e[i].bad);
    }
    /* decoding stops after the first padded quantum; what follows is not looked at */
    assert_int_equal(ptk_base32_decode("MY======A", 9, out, sizeof(out), &n, &bad), PTK_OK);
    assert_int_equal(n, 1);
    /* newlines do not count */
    assert_int_equal(ptk_base32_decode("MZ\r\nXW6YT?", 10, out, sizeof(out), &n, &bad), PTK_EINVAL);
    assert_int_equal(bad, 7);
}

static void test_server_setup_and_state(void **st)
{
    (void)st;
    char dir[64], err[300];
    struct ptk_kvlist sargs = PTK_KVLIST_INIT;
    mkdir_tmp(dir);

    /* no password option: one is generated, kept, and announced */
    void *srv = server_in(dir, NULL, &sargs);
    assert_int_equal(sargs.n, 1);
    assert_string_equal(sargs.items[0].key, "password");
    char announced[64];
    ptk_strlcpy(announced, sargs.items[0].value, sizeof(announced));
    assert_int_equal(strlen(announced), 32);
    ops->server_free(srv);
    ptk_kvlist_free(&sargs);
    char *state = read_text(dir, SCRAMBLESUIT_STATE_FILE);
    assert_non_null(state);
    assert_non_null(strstr(state, announced));
    char *line = read_text(dir, SCRAMBLESUIT_BRIDGE_FILE);
    assert_non_null(line);
    char want[128];
    snprintf(want, sizeof(want),
             "Bridge scramblesuit <IP ADDRESS>:<PORT> <FINGERPRINT> password=%s\n", announced);
    assert_non_null(strstr(line, want));
    free(line);
    struct stat sb;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, SCRAMBLESUIT_STATE_FILE);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* the same password after a restart */
    srv = server_in(dir, NULL, &sargs);
    assert_string_equal(sargs.items[0].value, announced);
    ops->server_free(srv);
    ptk_kvlist_free(&sargs);
    char *state2 = read_text(dir, SCRAMBLESUIT_STATE_FILE);
    assert_string_equal(state, state2);
    free(state);
    free(state2);

    /* a password option wins; obfsproxy's sanitising (case, 1 -> I, 0 -> O) applies */
    srv = server_in(dir, "aebagbafaydqqc1kbmga2dqpcaireeyu", &sargs);
    assert_string_equal(sargs.items[0].value, "AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYU");
    ops->server_free(srv);
    ptk_kvlist_free(&sargs);

    /* bad options and states: an error naming the problem, no instance */
    struct ptk_kvlist opts = PTK_KVLIST_INIT;
    struct ptk_transport_cfg cfg = {dir, &opts, NULL};
    void *inst = NULL;
    kv(&opts, "password", "AEBAGBAF");
    assert_int_equal(ops->server_setup(&cfg, &inst, &sargs, err, sizeof(err)), PTK_EINVAL);
    assert_non_null(strstr(err, "'password'"));
    assert_null(inst);
    ptk_kvlist_free(&opts);
    kv(&opts, "password", "AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY!");
    assert_int_equal(ops->server_setup(&cfg, &inst, &sargs, err, sizeof(err)), PTK_EINVAL);
    assert_non_null(strstr(err, "'password'"));
    ptk_kvlist_free(&opts);
    cfg.state_dir = NULL;
    assert_int_equal(ops->server_setup(&cfg, &inst, &sargs, err, sizeof(err)), PTK_EINVAL);
    assert_non_null(strstr(err, "state directory"));
    cfg.state_dir = dir;
    write_text(dir, SCRAMBLESUIT_STATE_FILE, "{\"password\":\"AEBAGBAF\"}");
    assert_int_equal(ops->server_setup(&cfg, &inst, &sargs, err, sizeof(err)), PTK_EINVAL);
    assert_non_null(strstr(err, SCRAMBLESUIT_STATE_FILE));
    assert_non_null(strstr(err, "\"password\""));
    write_text(dir, SCRAMBLESUIT_STATE_FILE, "not json");
    assert_int_equal(ops->server_setup(&cfg, &inst, &sargs, err, sizeof(err)), PTK_EINVAL);
    assert_null(inst);
    assert_int_equal(sargs.n, 0);
    rm_tmp(dir);
}

/* Week-old ticket keys rotate at setup; tickets under the old ones still work. */
static void test_key_rotation(void **st)
{
    (void)st;
    char dir[64];
    void *srv = vector_server(dir, false, NOW() - 100);
    ops->server_free(srv);
    char *before = read_text(dir, SCRAMBLESUIT_STATE_FILE);
    assert_non_null(strstr(before, vec_str(V, "ticket_aes_key")));
    free(before);
    rm_tmp(dir);

    srv = vector_server(dir, false, NOW() - 8 * DAY);
    char *after = read_text(dir, SCRAMBLESUIT_STATE_FILE);
    char want[4200];
    snprintf(want, sizeof(want), "\"old-ticket-aes-key\":\"%s\"", vec_str(V, "ticket_aes_key"));
    assert_non_null(strstr(after, want));
    free(after);
    /* the vectors' ticket is now under the previous key: still accepted */
    size_t hslen = vec_len("ticket_hs");
    uint8_t *hs = vec("ticket_hs", hslen);
    struct tp_pair p;
    ss_open_server(&p, srv);
    assert_int_equal(inject_at(&p, &p.s, hs, hslen, UNIX, NULL), PTK_OK);
    assert_true(p.s.established);
    tp_close(&p);
    free(hs);
    ops->server_free(srv);
    rm_tmp(dir);
}

static void test_client_store_files(void **st)
{
    (void)st;
    char dir[64], err[400];
    struct ptk_transport_cfg cfg;
    void *cli = NULL;
    mkdir_tmp(dir);
    cfg = (struct ptk_transport_cfg){dir, NULL, NULL};
    /* obfs4proxy's failures */
    write_text(dir, SCRAMBLESUIT_TICKET_FILE, "[1,2]");
    assert_int_equal(ops->client_setup(&cfg, &cli, err, sizeof(err)), PTK_EINVAL);
    assert_non_null(strstr(err, "failed to load ticket store '"));
    assert_null(cli);
    write_text(dir, SCRAMBLESUIT_TICKET_FILE, "{\"1.2.3.4:5\":{\"key-ticket\":7}}");
    assert_int_equal(ops->client_setup(&cfg, &cli, err, sizeof(err)), PTK_EINVAL);
    /* tolerated: null, corrupt tickets (skipped), other names (kept) */
    char text[4400];
    snprintf(text, sizeof(text),
             "{\"1.2.3.4:5\":{\"key-ticket\":\"%s\",\"issuedAt\":1700000000},"
             "\"6.7.8.9:10\":{\"key-ticket\":\"AAAA\",\"issuedAt\":1700000000},"
             "\"x\":null}",
             vec_str(V, "key_ticket_b32"));
    write_text(dir, SCRAMBLESUIT_TICKET_FILE, text);
    assert_int_equal(ops->client_setup(&cfg, &cli, err, sizeof(err)), PTK_OK);
    ops->client_free(cli);
    write_text(dir, SCRAMBLESUIT_TICKET_FILE, "null");
    assert_int_equal(ops->client_setup(&cfg, &cli, err, sizeof(err)), PTK_OK);
    ops->client_free(cli);

    /* codec: parse what obfs4proxy writes, keep other names on rewrite */
    struct ptk_ss_tickets t = PTK_SS_TICKETS_INIT;
    struct ptk_buf b;
    char why[200];
    ptk_buf_init(&b, 1 << 20);
    assert_int_equal(ptk_ss_tickets_parse(text, strlen(text), &t, why, sizeof(why)), PTK_OK);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.v[0].peer, "1.2.3.4:5");
    assert_int_equal(ptk_ss_tickets_format(&t, 0, &b), PTK_OK);
    assert_int_equal(ptk_buf_cstr(&b, &(const char *){NULL}), PTK_OK);
    char want[4400];
    snprintf(want, sizeof(want), "{\"1.2.3.4:5\":{\"key-ticket\":\"%s\",\"issuedAt\":1700000000}}",
             vec_str(V, "key_ticket_b32"));
    assert_memory_equal(ptk_buf_data(&b), want, strlen(want));
    /* expired entries are left out */
    ptk_buf_reset(&b);
    assert_int_equal(ptk_ss_tickets_format(&t, 1700000000, &b), PTK_OK);
    assert_memory_equal(ptk_buf_data(&b), "{}", 2);
    struct ptk_ss_ticket got;
    assert_false(ptk_ss_tickets_take(&t, "nobody", &got));
    assert_true(ptk_ss_tickets_take(&t, "1.2.3.4:5", &got));
    assert_int_equal(t.n, 0);
    assert_int_equal(got.issued_at, 1700000000);
    ptk_ss_tickets_free(&t);
    ptk_buf_free(&b);
    rm_tmp(dir);
}

static void test_timers(void **st)
{
    (void)st;
    char dir[64];
    mkdir_tmp(dir);
    void *srv = server_in(dir, pw_b32(), NULL);
    struct tp_pair p;
    ss_open(&p, srv, NULL, pw_b32(), 0, 0);
    assert_int_equal(tp_timer(&p, &p.c), PTK_ETIMEDOUT);
    p.now_ms += 30000;
    assert_int_equal(tp_timer(&p, &p.s), PTK_EPROBE);
    assert_int_equal(ptk_buf_len(&p.s.wire_out), 0);
    tp_close(&p);
    /* once connected, a stray timer is harmless */
    ss_open(&p, srv, NULL, pw_b32(), 0, 0);
    tp_run(&p);
    assert_int_equal(tp_timer(&p, &p.c), PTK_OK);
    assert_int_equal(tp_timer(&p, &p.s), PTK_OK);
    tp_close(&p);
    assert_int_equal(ops->server_new(NULL, &(void *){NULL}), PTK_EINVAL);
    ops->server_free(srv);
    rm_tmp(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_vectors),
        cmocka_unit_test(test_ticket_vectors),
        cmocka_unit_test(test_base32),
        cmocka_unit_test(test_server_accepts_vector_udh),
        cmocka_unit_test(test_server_epoch_window),
        cmocka_unit_test(test_server_accepts_vector_ticket),
        cmocka_unit_test(test_server_rejects_stale_ticket),
        cmocka_unit_test(test_roundtrip_sizes),
        cmocka_unit_test(test_ticket_second_connection),
        cmocka_unit_test(test_client_expired_ticket),
        cmocka_unit_test(test_wire_layout),
        cmocka_unit_test(test_wrong_password_is_silent),
        cmocka_unit_test(test_garbage_limit),
        cmocka_unit_test(test_close_delay_known_answer),
        cmocka_unit_test(test_replay_and_reflection),
        cmocka_unit_test(test_tampered_message),
        cmocka_unit_test(test_client_args),
        cmocka_unit_test(test_server_setup_and_state),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_client_store_files),
        cmocka_unit_test(test_timers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
