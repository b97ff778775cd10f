/*
 * Unit tests: the obfs4 transport (transport/obfs4.c) driven through its ops
 * table in memory, the way the relay drives it: server identity and state
 * files (obfs4proxy's format), server options and client args, handshakes
 * against each other and against hand-built peers (to pin the wire format),
 * data in every iat mode with frame sizes observed on the wire, and probing
 * resistance (epoch hour, replay, garbage, the handshake timer, tampering).
 *
 * A virtual clock drives everything; a conn's timer fires whenever nothing
 * else can make progress. Run from the repository root (reads tests/vectors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../vectors/vectors.h"
#include "crypto/drbg.h"
#include "crypto/elligator2.h"
#include "crypto/ntor.h"
#include "crypto/probdist.h"
#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/kv.h"
#include "ptkit/transport.h"
#include "transport/obfs4.h"
#include "transport/obfs4_framing.h"

#define V "obfs4_ntor.txt"
#define HOUR 3600
#define T0 ((int64_t)472222 * HOUR + 1800) /* wall clock at world start: mid-hour */
#define ZERO_SEED "000000000000000000000000000000000000000000000000"
#define VEC_NODE_ID "000102030405060708090a0b0c0d0e0f10111213"
#define MAX_HS 8192
#define SEG 1448
#define SEED_FRAME 45
#define BUFMAX ((size_t)1 << 26)

static const struct ptk_transport_ops *ops;

/* ---------- small helpers ---------- */

static uint32_t xs_state = 0x9e3779b9u;

/* Test-local xorshift PRNG (chunk sizes, positions): reproducible runs. */
static uint32_t xs(void)
{
    uint32_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return xs_state = x;
}

static void kv(struct ptk_kvlist *l, const char *k, const char *v)
{
    assert_int_equal(ptk_kvlist_add(l, k, strlen(k), v, strlen(v)), PTK_OK);
}

static void hexs(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* The vectors' cert (70 chars). */
static void vec_cert(char out[80])
{
    const char *v = vec_str(V, "cert");
    assert_non_null(v);
    assert_int_equal(strlen(v), 70);
    ptk_strlcpy(out, v, 80);
}

static void vec_b_hex(char out[65])
{
    uint8_t b[32];
    assert_int_equal(vec_hex(V, "b", b, 32), 0);
    hexs(b, 32, out);
}

static void make_tmpdir(char *out, size_t n)
{
    snprintf(out, n, "/tmp/ptk-test-obfs4-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

static void path_of(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

/* Whole file as a NUL-terminated malloc'd string, or NULL if absent. */
static char *slurp(const char *dir, const char *name)
{
    char p[512];
    path_of(p, sizeof(p), dir, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *dir, const char *name, const char *text)
{
    char p[512];
    path_of(p, sizeof(p), dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    path_of(p, sizeof(p), dir, name);
    return stat(p, &st) == 0;
}

static int file_mode(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    path_of(p, sizeof(p), dir, name);
    assert_int_equal(stat(p, &st), 0);
    return (int)(st.st_mode & 0777);
}

/* HMAC-SHA256(key, a | b)[:16], with libsodium directly (independent of obfs4.c). */
static void hmac16(uint8_t out[16], const uint8_t *key, size_t keylen, const void *a, size_t alen,
                   const void *b, size_t blen)
{
    crypto_auth_hmacsha256_state s;
    uint8_t full[32];
    crypto_auth_hmacsha256_init(&s, key, keylen);
    crypto_auth_hmacsha256_update(&s, a, alen);
    if (blen)
        crypto_auth_hmacsha256_update(&s, b, blen);
    crypto_auth_hmacsha256_final(&s, full);
    memcpy(out, full, 16);
}

static size_t epoch_str(int64_t unix_time, char out[24])
{
    return (size_t)snprintf(out, 24, "%" PRId64, unix_time / HOUR);
}

/* ---------- server instances ---------- */

struct server {
    void *s;
    char dir[64];
    char cert[80];
    char iat[8];
    char err[512];
};

/* server_setup in `dir` (a fresh temp dir if NULL) with options opts (may be NULL). */
static int server_open(struct server *sv, const char *dir, const struct ptk_kvlist *opts)
{
    struct ptk_kvlist sm = PTK_KVLIST_INIT;
    memset(sv, 0, sizeof(*sv));
    if (dir)
        snprintf(sv->dir, sizeof(sv->dir), "%s", dir);
    else
        make_tmpdir(sv->dir, sizeof(sv->dir));
    struct ptk_transport_cfg cfg = {.state_dir = sv->dir, .opts = opts, .log = NULL};
    int r = ops->server_setup(&cfg, &sv->s, &sm, sv->err, sizeof(sv->err));
    if (r == PTK_OK) {
        assert_non_null(sv->s);
        assert_int_equal((int)sm.n, 2);
        assert_string_equal(sm.items[0].key, "cert");
        assert_string_equal(sm.items[1].key, "iat-mode");
        assert_true(strlen(sm.items[0].value) < sizeof(sv->cert));
        snprintf(sv->cert, sizeof(sv->cert), "%s", sm.items[0].value);
        snprintf(sv->iat, sizeof(sv->iat), "%s", sm.items[1].value);
    } else {
        assert_true(r < 0);
        assert_true(sv->err[0] != '\0');
    }
    ptk_kvlist_free(&sm);
    return r;
}

static void server_close(struct server *sv, bool remove_dir)
{
    if (sv->s)
        ops->server_free(sv->s);
    sv->s = NULL;
    if (remove_dir)
        rmtree(sv->dir);
}

/* A server whose identity is the vectors' (node-id 00..13, private key b), iat `iat`. */
static void server_vec(struct server *sv, const char *seed, int iat)
{
    struct ptk_kvlist o = PTK_KVLIST_INIT;
    char b[65], iats[16];
    vec_b_hex(b);
    snprintf(iats, sizeof(iats), "%d", iat);
    kv(&o, "node-id", VEC_NODE_ID);
    kv(&o, "private-key", b);
    kv(&o, "drbg-seed", seed);
    kv(&o, "iat-mode", iats);
    assert_int_equal(server_open(sv, NULL, &o), PTK_OK);
    ptk_kvlist_free(&o);
}

/* ---------- the in-memory relay ---------- */

struct end {
    void *conn;
    struct ptk_buf wire_out, app_out; /* what the transport wrote */
    struct ptk_buf app_in, wire_in;   /* what it has yet to encode / decode */
    struct ptk_sink wire, app;
    int64_t timer_at; /* µs on the world clock; -1: none */
    int64_t skew_s;   /* this end's wall clock minus the world's */
    bool established;
    bool bytewise;     /* offer wire bytes one more at a time: observe frame boundaries */
    size_t offered;    /* bytewise: bytes offered by the last call that used none */
    bool want_len;     /* bytewise: the next consumption is a length field */
    size_t hs_used;    /* bytes the handshake consumed */
    size_t frames;     /* frames received after the handshake (bytewise) */
    size_t max_frame;  /* largest of them, length field included */
    size_t max_write;  /* largest wire output of one call after the handshake */
    int64_t max_timer; /* largest timer asked for after the handshake */
    size_t timers;     /* timers asked for after the handshake */
};

struct world {
    uint64_t now_us;
    struct end c, s;
};

static uint8_t *sink_reserve(void *ud, size_t n)
{
    uint8_t *p = NULL;
    return ptk_buf_reserve(ud, n, &p) == PTK_OK ? p : NULL;
}

static void sink_commit(void *ud, size_t n)
{
    ptk_buf_commit(ud, n);
}

static void end_init(struct end *e)
{
    memset(e, 0, sizeof(*e));
    ptk_buf_init(&e->wire_out, BUFMAX);
    ptk_buf_init(&e->app_out, BUFMAX);
    ptk_buf_init(&e->app_in, BUFMAX);
    ptk_buf_init(&e->wire_in, BUFMAX);
    e->wire = (struct ptk_sink){sink_reserve, sink_commit, &e->wire_out};
    e->app = (struct ptk_sink){sink_reserve, sink_commit, &e->app_out};
    e->timer_at = -1;
    e->want_len = true;
}

static void end_free(struct end *e)
{
    if (e->conn)
        ops->conn_free(e->conn);
    e->conn = NULL;
    ptk_buf_free(&e->wire_out);
    ptk_buf_free(&e->app_out);
    ptk_buf_free(&e->app_in);
    ptk_buf_free(&e->wire_in);
}

static void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->now_us = 1000000;
    end_init(&w->c);
    end_init(&w->s);
}

static void world_free(struct world *w)
{
    end_free(&w->c);
    end_free(&w->s);
}

static struct ptk_xfer xfer(struct world *w, struct end *e)
{
    struct ptk_xfer x = {
        .wire = &e->wire,
        .app = &e->app,
        .now_ms = w->now_us / 1000,
        .unix_time = T0 + (int64_t)(w->now_us / 1000000) + e->skew_s,
        .timer_us = PTK_TIMER_KEEP,
        .established = e->established,
    };
    return x;
}

/* Record a call's effects: its timer request, the handshake, the size of its write. */
static void after(struct world *w, struct end *e, struct ptk_xfer *x, bool was_est, size_t before)
{
    assert_true(x->timer_us >= PTK_TIMER_KEEP);
    if (x->timer_us != PTK_TIMER_KEEP)
        e->timer_at = x->timer_us == 0 ? -1 : (int64_t)w->now_us + x->timer_us;
    if (was_est) {
        assert_true(x->established); /* sticky */
        size_t wrote = ptk_buf_len(&e->wire_out) - before;
        if (wrote > e->max_write)
            e->max_write = wrote;
        if (x->timer_us > 0) {
            e->timers++;
            if (x->timer_us > e->max_timer)
                e->max_timer = x->timer_us;
        }
    }
    if (x->established)
        e->established = true;
}

static int do_start(struct world *w, struct end *e)
{
    struct ptk_xfer x = xfer(w, e);
    int r = ops->start(e->conn, &x);
    after(w, e, &x, false, 0);
    return r;
}

static int do_encode(struct world *w, struct end *e, size_t *usedp)
{
    struct ptk_xfer x = xfer(w, e);
    size_t len = ptk_buf_len(&e->app_in), used = (size_t)-1, before = ptk_buf_len(&e->wire_out);
    bool was = e->established;
    int r = ops->encode(e->conn, ptk_buf_data(&e->app_in), len, &used, &x);
    assert_true(used <= len);
    ptk_buf_consume(&e->app_in, used);
    after(w, e, &x, was, before);
    if (usedp)
        *usedp = used;
    return r;
}

/* Offer the first k bytes of wire_in to the decoder; consume what it used. */
static int do_decode(struct world *w, struct end *e, size_t k, size_t *usedp)
{
    struct ptk_xfer x = xfer(w, e);
    size_t used = (size_t)-1, before = ptk_buf_len(&e->wire_out);
    bool was = e->established;
    assert_true(k <= ptk_buf_len(&e->wire_in));
    int r = ops->decode(e->conn, ptk_buf_data(&e->wire_in), k, &used, &x);
    assert_true(used <= k);
    ptk_buf_consume(&e->wire_in, used);
    after(w, e, &x, was, before);
    if (r == PTK_OK && used > 0) {
        if (!was && e->established) {
            e->hs_used = used;
        } else if (was && e->bytewise) {
            /* one more byte per call: each consumption is a length field or a frame body */
            if (e->want_len) {
                assert_int_equal(used, 2);
            } else {
                assert_in_range(used, 16, SEG - 2);
                e->frames++;
                if (used + 2 > e->max_frame)
                    e->max_frame = used + 2;
            }
            e->want_len = !e->want_len;
        }
    }
    if (usedp)
        *usedp = used;
    return r;
}

static int do_timer(struct world *w, struct end *e)
{
    if ((int64_t)w->now_us < e->timer_at)
        w->now_us = (uint64_t)e->timer_at;
    e->timer_at = -1;
    struct ptk_xfer x = xfer(w, e);
    size_t before = ptk_buf_len(&e->wire_out);
    bool was = e->established;
    int r = ops->timer(e->conn, &x);
    after(w, e, &x, was, before);
    return r;
}

/* Deliver everything e wrote to the wire to its peer's input. */
static bool move_wire(struct end *from, struct end *to)
{
    size_t n = ptk_buf_len(&from->wire_out);
    if (n == 0)
        return false;
    assert_int_equal(ptk_buf_put(&to->wire_in, ptk_buf_data(&from->wire_out), n), PTK_OK);
    ptk_buf_consume(&from->wire_out, n);
    return true;
}

/* Decode what has arrived, as the relay would (bytewise or in random chunks). */
static bool pump_decode(struct world *w, struct end *e)
{
    bool progress = false;
    while (ptk_buf_len(&e->wire_in) > 0) {
        size_t len = ptk_buf_len(&e->wire_in), used, k;
        if (e->bytewise)
            k = e->offered + 1 < len ? e->offered + 1 : len;
        else
            k = 1 + xs() % len;
        assert_int_equal(do_decode(w, e, k, &used), PTK_OK);
        if (!e->bytewise && used == 0 && k < len) {
            k = len;
            assert_int_equal(do_decode(w, e, k, &used), PTK_OK);
        }
        if (used > 0) {
            progress = true;
            e->offered = k - used;
        } else {
            e->offered = k;
            if (k == len)
                break;
        }
    }
    return progress;
}

/* Run both ends until nothing moves and no timer is pending. Every call must succeed. */
static void run(struct world *w)
{
    struct end *ends[2] = {&w->c, &w->s};
    for (long guard = 0;; guard++) {
        assert_true(guard < 50000000);
        bool progress = false;
        for (int i = 0; i < 2; i++) {
            struct end *e = ends[i];
            if (ptk_buf_len(&e->app_in) > 0) {
                size_t used, before = ptk_buf_len(&e->wire_out);
                assert_int_equal(do_encode(w, e, &used), PTK_OK);
                if (used > 0 || ptk_buf_len(&e->wire_out) != before)
                    progress = true;
            }
        }
        progress |= move_wire(&w->c, &w->s);
        progress |= move_wire(&w->s, &w->c);
        for (int i = 0; i < 2; i++)
            progress |= pump_decode(w, ends[i]);
        if (progress)
            continue;
        struct end *next = NULL;
        for (int i = 0; i < 2; i++)
            if (ends[i]->timer_at >= 0 && (!next || ends[i]->timer_at < next->timer_at))
                next = ends[i];
        if (!next)
            break;
        assert_int_equal(do_timer(w, next), PTK_OK);
    }
}

static int client_conn(struct end *e, const struct ptk_kvlist *args, char *err, size_t errlen)
{
    e->conn = NULL;
    int r = ops->client_new(NULL, args, &e->conn, err, errlen);
    if (r != PTK_OK)
        assert_null(e->conn);
    return r;
}

static void client_for(struct end *e, const struct server *sv, int iat)
{
    struct ptk_kvlist a = PTK_KVLIST_INIT;
    char err[256], iats[16];
    snprintf(iats, sizeof(iats), "%d", iat);
    kv(&a, "cert", sv->cert);
    kv(&a, "iat-mode", iats);
    assert_int_equal(client_conn(e, &a, err, sizeof(err)), PTK_OK);
    ptk_kvlist_free(&a);
}

static void server_conn(struct end *e, const struct server *sv)
{
    e->conn = NULL;
    assert_int_equal(ops->server_new(sv->s, &e->conn), PTK_OK);
    assert_non_null(e->conn);
}

/* Start both ends of w (conns already made) and run the handshake to completion. */
static void handshake(struct world *w)
{
    assert_int_equal(do_start(w, &w->s), PTK_OK);
    assert_int_equal(w->s.timer_at, (int64_t)w->now_us + 30000000);
    assert_int_equal(ptk_buf_len(&w->s.wire_out), 0);
    assert_int_equal(do_start(w, &w->c), PTK_OK);
    assert_true(w->c.timer_at > 0);
    run(w);
    assert_true(w->c.established);
    assert_true(w->s.established);
    assert_int_equal(w->c.timer_at, -1);
    assert_int_equal(w->s.timer_at, -1);
    assert_int_equal(ptk_buf_len(&w->c.app_out), 0);
    assert_int_equal(ptk_buf_len(&w->s.app_out), 0);
}

/* Send n_cs bytes client->server and n_sc bytes server->client at once; check delivery. */
static void exchange(struct world *w, size_t n_cs, size_t n_sc)
{
    uint8_t *cs = malloc(n_cs + 1), *sc = malloc(n_sc + 1);
    assert_non_null(cs);
    assert_non_null(sc);
    randombytes_buf(cs, n_cs);
    randombytes_buf(sc, n_sc);
    assert_int_equal(ptk_buf_put(&w->c.app_in, cs, n_cs), PTK_OK);
    assert_int_equal(ptk_buf_put(&w->s.app_in, sc, n_sc), PTK_OK);
    run(w);
    assert_int_equal(ptk_buf_len(&w->c.app_in), 0);
    assert_int_equal(ptk_buf_len(&w->s.app_in), 0);
    assert_int_equal(ptk_buf_len(&w->s.app_out), n_cs);
    assert_int_equal(ptk_buf_len(&w->c.app_out), n_sc);
    if (n_cs)
        assert_memory_equal(ptk_buf_data(&w->s.app_out), cs, n_cs);
    if (n_sc)
        assert_memory_equal(ptk_buf_data(&w->c.app_out), sc, n_sc);
    ptk_buf_reset(&w->s.app_out);
    ptk_buf_reset(&w->c.app_out);
    free(cs);
    free(sc);
}

/* The close delay of a server: probe a fresh conn with 8192 garbage bytes at its start. */
static int close_delay_of(const struct server *sv)
{
    struct world w;
    world_init(&w);
    server_conn(&w.s, sv);
    assert_int_equal(do_start(&w, &w.s), PTK_OK);
    uint8_t junk[MAX_HS];
    randombytes_buf(junk, sizeof(junk));
    assert_int_equal(ptk_buf_put(&w.s.wire_in, junk, sizeof(junk)), PTK_OK);
    assert_int_equal(do_decode(&w, &w.s, sizeof(junk), NULL), PTK_EPROBE);
    assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
    int64_t left = w.s.timer_at - (int64_t)w.now_us;
    assert_true(left >= 30000000 && left < 90000000);
    assert_int_equal(left % 1000000, 0);
    world_free(&w);
    return (int)(left / 1000000 - 30);
}

/* ---------- server setup and state files ---------- */

static void check_bridge_line(const char *dir, const char *cert, int iat)
{
    char *t = slurp(dir, OBFS4_BRIDGE_FILE), want[256];
    assert_non_null(t);
    size_t n = strlen(t);
    assert_true(n > 0 && t[n - 1] == '\n');
    t[n - 1] = '\0';
    char *last = strrchr(t, '\n');
    assert_non_null(last);
    snprintf(want, sizeof(want),
             "Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=%s iat-mode=%d", cert, iat);
    assert_string_equal(last + 1, want);
    /* everything before it is comment or blank */
    *last = '\0';
    for (char *line = t; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        assert_true(*line == '#' || *line == '\n' || *line == '\0');
    free(t);
    assert_int_equal(file_mode(dir, OBFS4_BRIDGE_FILE), 0600);
}

static void test_server_setup_new(void **st)
{
    (void)st;
    struct server sv, again;
    assert_int_equal(server_open(&sv, NULL, NULL), PTK_OK);
    /* cert: 70 base64 chars without '=' padding; iat-mode 0 */
    assert_int_equal(strlen(sv.cert), 70);
    assert_null(strchr(sv.cert, '='));
    assert_string_equal(sv.iat, "0");
    assert_true(exists(sv.dir, OBFS4_STATE_FILE));
    assert_int_equal(file_mode(sv.dir, OBFS4_STATE_FILE), 0600);
    check_bridge_line(sv.dir, sv.cert, 0);

    /* the state file has obfs4proxy's fields, and the cert is node-id | X25519(private-key) */
    char *state = slurp(sv.dir, OBFS4_STATE_FILE);
    json_error_t jerr;
    json_t *root = json_loads(state, 0, &jerr);
    assert_non_null(root);
    assert_int_equal(json_object_size(root), 5);
    uint8_t nid[20], priv[32], pub[32], seed[24], derived[32], raw[52];
    const char *names[] = {"node-id", "private-key", "public-key", "drbg-seed"};
    uint8_t *outs[] = {nid, priv, pub, seed};
    size_t lens[] = {20, 32, 32, 24};
    for (int i = 0; i < 4; i++) {
        const char *v = json_string_value(json_object_get(root, names[i]));
        assert_non_null(v);
        assert_int_equal(strlen(v), 2 * lens[i]);
        assert_int_equal(ptk_hex_decode(v, strlen(v), outs[i], lens[i]), PTK_OK);
    }
    assert_true(json_is_integer(json_object_get(root, "iat-mode")));
    assert_int_equal(json_integer_value(json_object_get(root, "iat-mode")), 0);
    json_decref(root);
    assert_int_equal(crypto_scalarmult_base(derived, priv), 0);
    assert_memory_equal(pub, derived, 32);
    char padded[80];
    size_t rawlen = 0;
    memcpy(padded, sv.cert, 70);
    memcpy(padded + 70, "==", 3);
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), padded, strlen(padded), NULL, &rawlen,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(rawlen, 52);
    assert_memory_equal(raw, nid, 20);
    assert_memory_equal(raw + 20, pub, 32);

    /* a restart keeps the identity, and rewrites the file identically */
    assert_int_equal(server_open(&again, sv.dir, NULL), PTK_OK);
    assert_string_equal(again.cert, sv.cert);
    char *state2 = slurp(sv.dir, OBFS4_STATE_FILE);
    assert_string_equal(state2, state);
    check_bridge_line(sv.dir, again.cert, 0);
    free(state2);
    free(state);
    server_close(&again, false);

    /* two new bridges get different identities */
    struct server other;
    assert_int_equal(server_open(&other, NULL, NULL), PTK_OK);
    assert_string_not_equal(other.cert, sv.cert);
    server_close(&other, true);
    server_close(&sv, true);
}

/* The state file exactly as obfs4proxy's json.Marshal writes it, for the vectors' identity. */
static void obfs4proxy_state(char *out, size_t n, const char *pub_hex, int iat)
{
    char b[65];
    vec_b_hex(b);
    snprintf(out, n,
             "{\"node-id\":\"%s\",\"private-key\":\"%s\",\"public-key\":\"%s\","
             "\"drbg-seed\":\"%s\",\"iat-mode\":%d}",
             VEC_NODE_ID, b, pub_hex, "0123456789abcdef0123456789abcdef0123456789abcdef", iat);
}

static void test_state_file_from_obfs4proxy(void **st)
{
    (void)st;
    char want_cert[80], Bhex[65], text[512], dir[64];
    vec_cert(want_cert);
    uint8_t B[32];
    assert_int_equal(vec_hex(V, "B", B, 32), 0);
    hexs(B, 32, Bhex);

    /* as obfs4proxy writes it: read unchanged, same cert at every start */
    struct server sv;
    make_tmpdir(dir, sizeof(dir));
    obfs4proxy_state(text, sizeof(text), Bhex, 0);
    spit(dir, OBFS4_STATE_FILE, text);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(server_open(&sv, dir, NULL), PTK_OK);
        assert_string_equal(sv.cert, want_cert);
        assert_string_equal(sv.iat, "0");
        char *now = slurp(dir, OBFS4_STATE_FILE);
        assert_string_equal(now, text);
        free(now);
        check_bridge_line(dir, want_cert, 0);
        server_close(&sv, false);
    }
    rmtree(dir);

    /* obfs4proxy writes "public-key":"" when the identity came from ServerTransportOptions */
    make_tmpdir(dir, sizeof(dir));
    obfs4proxy_state(text, sizeof(text), "", 2);
    spit(dir, OBFS4_STATE_FILE, text);
    assert_int_equal(server_open(&sv, dir, NULL), PTK_OK);
    assert_string_equal(sv.cert, want_cert);
    assert_string_equal(sv.iat, "2");
    check_bridge_line(dir, want_cert, 2);
    server_close(&sv, true);

    /* pretty-printed, unknown fields, no public-key and no iat-mode (defaults to 0) */
    char b[65];
    vec_b_hex(b);
    make_tmpdir(dir, sizeof(dir));
    snprintf(text, sizeof(text),
             "{\n  \"drbg-seed\": \"%s\",\n  \"note\": [1, 2],\n  \"node-id\": \"%s\",\n"
             "  \"private-key\": \"%s\"\n}\n",
             ZERO_SEED, VEC_NODE_ID, b);
    spit(dir, OBFS4_STATE_FILE, text);
    assert_int_equal(server_open(&sv, dir, NULL), PTK_OK);
    assert_string_equal(sv.cert, want_cert);
    assert_string_equal(sv.iat, "0");
    server_close(&sv, true);
}

struct bad_state {
    const char *text;  /* '@': the private key's hex, '#': its first 62 digits */
    const char *field; /* expected in the error, NULL: only the file */
};

/* Expand a bad_state template. */
static void subst(char *out, size_t n, const char *tmpl, const char *priv)
{
    size_t o = 0;
    for (const char *t = tmpl; *t; t++) {
        const char *ins = NULL;
        size_t k = 1;
        if (*t == '@' || *t == '#') {
            ins = priv;
            k = *t == '@' ? strlen(priv) : 62;
        } else {
            ins = t;
        }
        assert_true(o + k < n);
        memcpy(out + o, ins, k);
        o += k;
    }
    out[o] = '\0';
}

static void test_state_file_bad(void **st)
{
    (void)st;
    char b[65];
    vec_b_hex(b);
    /* fields in a valid file, to be broken one at a time */
#define NID "\"node-id\":\"" VEC_NODE_ID "\""
#define SEED "\"drbg-seed\":\"" ZERO_SEED "\""
    static const struct bad_state cases[] = {
        {"", NULL},
        {"{\"node-id\":\"0001020304", NULL},
        {"{" NID ",\"private-key\":\"@\"," SEED, NULL},
        {"[" NID "]", NULL},
        {"null", NULL},
        {"{\"node-id\":\"000102030405060708090a0b0c0d0e0f101112\",\"private-key\":\"@\"," SEED "}",
         "node-id"},
        {"{\"node-id\":\"zz0102030405060708090a0b0c0d0e0f10111213\",\"private-key\":\"@\"," SEED
         "}",
         "node-id"},
        {"{\"node-id\":17,\"private-key\":\"@\"," SEED "}", "node-id"},
        {"{\"node_id\":\"" VEC_NODE_ID "\",\"private-key\":\"@\"," SEED "}", "node-id"},
        {"{" NID "," SEED "}", "private-key"},
        {"{" NID ",\"private-key\":\"#\"," SEED "}", "private-key"},
        {"{" NID ",\"private-key\":\"@ff\"," SEED "}", "private-key"},
        {"{" NID ",\"private-key\":\"@\"}", "drbg-seed"},
        {"{" NID ",\"private-key\":\"@\",\"drbg-seed\":\"0000\"}", "drbg-seed"},
        {"{" NID ",\"private-key\":\"@\"," SEED ",\"iat-mode\":3}", "iat-mode"},
        {"{" NID ",\"private-key\":\"@\"," SEED ",\"iat-mode\":-1}", "iat-mode"},
        {"{" NID ",\"private-key\":\"@\"," SEED ",\"iat-mode\":\"1\"}", "iat-mode"},
        {"{" NID ",\"private-key\":\"@\"," SEED ",\"iat-mode\":1.5}", "iat-mode"},
        {"{" NID ",\"private-key\":\"@\"," SEED ",\"public-key\":7}", "public-key"},
    };
#undef NID
#undef SEED
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512], dir[64];
        struct server sv;
        subst(text, sizeof(text), cases[i].text, b);
        make_tmpdir(dir, sizeof(dir));
        spit(dir, OBFS4_STATE_FILE, text);
        int r = server_open(&sv, dir, NULL);
        if (r == PTK_OK)
            fail_msg("case %zu accepted: %s", i, text);
        assert_int_equal(r, PTK_ESTATE); /* unusable state: ENV-ERROR, not SMETHOD-ERROR */
        assert_null(sv.s);
        assert_non_null(strstr(sv.err, dir));
        assert_non_null(strstr(sv.err, OBFS4_STATE_FILE));
        if (cases[i].field && !strstr(sv.err, cases[i].field))
            fail_msg("case %zu: error does not name %s: %s", i, cases[i].field, sv.err);
        /* not replaced by a new identity, no bridge line for one */
        char *now = slurp(dir, OBFS4_STATE_FILE);
        assert_string_equal(now, text);
        free(now);
        assert_false(exists(dir, OBFS4_BRIDGE_FILE));
        rmtree(dir);
    }

    /* unreadable: the state file is a directory */
    char dir[64], p[512];
    struct server sv;
    make_tmpdir(dir, sizeof(dir));
    path_of(p, sizeof(p), dir, OBFS4_STATE_FILE);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_not_equal(server_open(&sv, dir, NULL), PTK_OK);
    assert_non_null(strstr(sv.err, OBFS4_STATE_FILE));
    struct stat sst;
    assert_int_equal(stat(p, &sst), 0);
    assert_true(S_ISDIR(sst.st_mode));
    rmtree(dir);
}

static void test_server_options(void **st)
{
    (void)st;
    char b[65];
    vec_b_hex(b);
    char want_cert[80];
    vec_cert(want_cert);
    struct server sv;

    /* all three: the vectors' identity, written to the state dir */
    struct ptk_kvlist o = PTK_KVLIST_INIT;
    kv(&o, "node-id", VEC_NODE_ID);
    kv(&o, "private-key", b);
    kv(&o, "drbg-seed", ZERO_SEED);
    assert_int_equal(server_open(&sv, NULL, &o), PTK_OK);
    ptk_kvlist_free(&o);
    assert_string_equal(sv.cert, want_cert);
    assert_string_equal(sv.iat, "0");
    check_bridge_line(sv.dir, want_cert, 0);
    char *state = slurp(sv.dir, OBFS4_STATE_FILE);
    assert_non_null(state);
    assert_non_null(strstr(state, b));
    assert_non_null(strstr(state, "\"drbg-seed\":\"" ZERO_SEED "\""));
    free(state);
    /* and a later start without options reads that identity back */
    char dir[64];
    snprintf(dir, sizeof(dir), "%s", sv.dir);
    server_close(&sv, false);
    assert_int_equal(server_open(&sv, dir, NULL), PTK_OK);
    assert_string_equal(sv.cert, want_cert);
    server_close(&sv, true);

    /* all or none: a missing one is named, nothing is written */
    const char *keys[3] = {"node-id", "private-key", "drbg-seed"};
    const char *vals[3] = {VEC_NODE_ID, b, ZERO_SEED};
    for (int miss = 0; miss < 3; miss++) {
        for (int i = 0; i < 3; i++)
            if (i != miss)
                kv(&o, keys[i], vals[i]);
        assert_int_equal(server_open(&sv, NULL, &o), PTK_EINVAL);
        if (!strstr(sv.err, keys[miss]))
            fail_msg("missing %s: %s", keys[miss], sv.err);
        assert_false(exists(sv.dir, OBFS4_STATE_FILE));
        assert_false(exists(sv.dir, OBFS4_BRIDGE_FILE));
        server_close(&sv, true);
        ptk_kvlist_free(&o);
    }
    /* only one given */
    kv(&o, "drbg-seed", ZERO_SEED);
    assert_int_equal(server_open(&sv, NULL, &o), PTK_EINVAL);
    assert_non_null(strstr(sv.err, "private-key"));
    server_close(&sv, true);
    ptk_kvlist_free(&o);
    /* malformed values are named */
    const char *bad[3] = {"0001", "zz", "00"};
    for (int which = 0; which < 3; which++) {
        for (int i = 0; i < 3; i++)
            kv(&o, keys[i], i == which ? bad[i] : vals[i]);
        assert_int_equal(server_open(&sv, NULL, &o), PTK_EINVAL);
        if (!strstr(sv.err, keys[which]))
            fail_msg("bad %s: %s", keys[which], sv.err);
        server_close(&sv, true);
        ptk_kvlist_free(&o);
    }

    /* iat-mode alone overrides the state file's and is saved */
    struct server first;
    assert_int_equal(server_open(&first, NULL, NULL), PTK_OK);
    kv(&o, "iat-mode", "2");
    assert_int_equal(server_open(&sv, first.dir, &o), PTK_OK);
    ptk_kvlist_free(&o);
    assert_string_equal(sv.cert, first.cert);
    assert_string_equal(sv.iat, "2");
    check_bridge_line(sv.dir, sv.cert, 2);
    state = slurp(sv.dir, OBFS4_STATE_FILE);
    assert_non_null(strstr(state, "\"iat-mode\":2"));
    free(state);
    server_close(&sv, false);
    assert_int_equal(server_open(&sv, first.dir, NULL), PTK_OK);
    assert_string_equal(sv.iat, "2");
    assert_string_equal(sv.cert, first.cert);
    server_close(&sv, false);
    /* bad iat-mode values are named, and change nothing */
    const char *badiat[] = {"3", "-1", "x", "", "01x"};
    state = slurp(first.dir, OBFS4_STATE_FILE);
    for (size_t i = 0; i < sizeof(badiat) / sizeof(badiat[0]); i++) {
        kv(&o, "iat-mode", badiat[i]);
        assert_int_equal(server_open(&sv, first.dir, &o), PTK_EINVAL);
        assert_non_null(strstr(sv.err, "iat-mode"));
        server_close(&sv, false);
        ptk_kvlist_free(&o);
    }
    char *state2 = slurp(first.dir, OBFS4_STATE_FILE);
    assert_string_equal(state, state2);
    free(state);
    free(state2);
    server_close(&first, true);

    /* iat-mode with a new bridge: a new identity with that mode */
    kv(&o, "iat-mode", "1");
    assert_int_equal(server_open(&sv, NULL, &o), PTK_OK);
    ptk_kvlist_free(&o);
    assert_string_equal(sv.iat, "1");
    check_bridge_line(sv.dir, sv.cert, 1);
    server_close(&sv, true);
}

/* ---------- client args ---------- */

struct bad_args {
    const char *k1, *v1, *k2, *v2, *k3, *v3;
    const char *name; /* the arg the error must name */
};

static void test_client_args(void **st)
{
    (void)st;
    char cert[80], Bhex[65], cert_padded[80], cert_short[80], cert_bad[80];
    vec_cert(cert);
    memcpy(cert_padded, cert, 70);
    memcpy(cert_padded + 70, "==", 3);
    memcpy(cert_short, cert, 69);
    cert_short[69] = '\0';
    memcpy(cert_bad, cert, 71);
    cert_bad[10] = '*';
    uint8_t B[32];
    assert_int_equal(vec_hex(V, "B", B, 32), 0);
    hexs(B, 32, Bhex);

    struct end e;
    char err[256];
    struct ptk_kvlist a = PTK_KVLIST_INIT;
    for (int iat = 0; iat <= 2; iat++) {
        char iats[16];
        snprintf(iats, sizeof(iats), "%d", iat);
        kv(&a, "cert", cert);
        kv(&a, "iat-mode", iats);
        assert_int_equal(client_conn(&e, &a, err, sizeof(err)), PTK_OK);
        ops->conn_free(e.conn);
        ptk_kvlist_free(&a);
        kv(&a, "node-id", VEC_NODE_ID);
        kv(&a, "public-key", Bhex);
        kv(&a, "iat-mode", iats);
        assert_int_equal(client_conn(&e, &a, err, sizeof(err)), PTK_OK);
        ops->conn_free(e.conn);
        ptk_kvlist_free(&a);
    }

    const struct bad_args cases[] = {
        {"iat-mode", "0", NULL, NULL, NULL, NULL, "node-id"},
        {"node-id", VEC_NODE_ID, "iat-mode", "0", NULL, NULL, "public-key"},
        {"public-key", Bhex, "iat-mode", "0", NULL, NULL, "node-id"},
        {"cert", cert, NULL, NULL, NULL, NULL, "iat-mode"},
        {"cert", cert, "iat-mode", "3", NULL, NULL, "iat-mode"},
        {"cert", cert, "iat-mode", "-1", NULL, NULL, "iat-mode"},
        {"cert", cert, "iat-mode", "", NULL, NULL, "iat-mode"},
        {"cert", cert, "iat-mode", "one", NULL, NULL, "iat-mode"},
        {"cert", cert_padded, "iat-mode", "0", NULL, NULL, "cert"},
        {"cert", cert_short, "iat-mode", "0", NULL, NULL, "cert"},
        {"cert", cert_bad, "iat-mode", "0", NULL, NULL, "cert"},
        {"cert", "", "iat-mode", "0", NULL, NULL, "cert"},
        {"node-id", "0001", "public-key", Bhex, "iat-mode", "0", "node-id"},
        {"node-id", VEC_NODE_ID, "public-key", "e79a", "iat-mode", "0", "public-key"},
        {"node-id", VEC_NODE_ID, "public-key", Bhex, NULL, NULL, "iat-mode"},
        {NULL, NULL, NULL, NULL, NULL, NULL, "node-id"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_args *c = &cases[i];
        if (c->k1)
            kv(&a, c->k1, c->v1);
        if (c->k2)
            kv(&a, c->k2, c->v2);
        if (c->k3)
            kv(&a, c->k3, c->v3);
        err[0] = '\0';
        assert_int_equal(client_conn(&e, &a, err, sizeof(err)), PTK_EINVAL);
        if (!strstr(err, c->name))
            fail_msg("case %zu: error does not name %s: '%s'", i, c->name, err);
        ptk_kvlist_free(&a);
    }
}

/* ---------- handshakes ---------- */

/* The vectors' B | NODEID: the key of every mark and MAC. */
static void vec_mac_key(uint8_t key[52], uint8_t B[32], uint8_t id[20], uint8_t b[32])
{
    assert_int_equal(vec_hex(V, "B", B, 32), 0);
    assert_int_equal(vec_hex(V, "id", id, 20), 0);
    assert_int_equal(vec_hex(V, "b", b, 32), 0);
    memcpy(key, B, 32);
    memcpy(key + 32, id, 20);
}

static void test_handshake_against_hand_built_client(void **st)
{
    (void)st;
    uint8_t key[52], B[32], id[20], b[32], seed[24];
    vec_mac_key(key, B, id, b);
    for (int i = 0; i < 24; i++)
        seed[i] = (uint8_t)(0xa0 + i);
    char seedhex[49];
    hexs(seed, 24, seedhex);
    struct server sv;
    server_vec(&sv, seedhex, 0);

    size_t pads[] = {77, 8128, 1000};
    for (size_t t = 0; t < sizeof(pads) / sizeof(pads[0]); t++) {
        struct world w;
        world_init(&w);
        server_conn(&w.s, &sv);
        assert_int_equal(do_start(&w, &w.s), PTK_OK);

        /* X' | P_C | M_C | MAC_C, built here from the spec */
        uint8_t x[32], X[32], repr[32], hs[MAX_HS];
        char epoch[24];
        size_t pad = pads[t], n = 32 + pad + 32;
        ptk_elligator2_keygen(x, X, repr);
        memcpy(hs, repr, 32);
        randombytes_buf(hs + 32, pad);
        hmac16(hs + 32 + pad, key, 52, repr, 32, NULL, 0);
        size_t elen = epoch_str(T0 + (int64_t)(w.now_us / 1000000), epoch);
        hmac16(hs + 32 + pad + 16, key, 52, hs, 32 + pad + 16, epoch, elen);
        assert_int_equal(ptk_buf_put(&w.s.wire_in, hs, n), PTK_OK);
        size_t used;
        assert_int_equal(do_decode(&w, &w.s, n, &used), PTK_OK);
        assert_int_equal(used, n);
        assert_true(w.s.established);
        assert_int_equal(w.s.timer_at, -1);

        /* Y' | AUTH | P_S | M_S | MAC_S, then the PRNG-seed frame, in one write */
        const uint8_t *R = ptk_buf_data(&w.s.wire_out);
        size_t L = ptk_buf_len(&w.s.wire_out);
        assert_in_range(L, 96 + SEED_FRAME, MAX_HS);
        uint8_t mark[16], mac[16], Y[32], key_seed[32], auth[32], okm[144];
        hmac16(mark, key, 52, R, 32, NULL, 0);
        const uint8_t *m = memmem(R + 64, L - 64, mark, 16);
        assert_non_null(m);
        size_t pos = (size_t)(m - R);
        assert_in_range(pos - 64, 0, 8051);
        assert_int_equal(L, pos + 32 + SEED_FRAME);
        hmac16(mac, key, 52, R, pos + 16, epoch, elen);
        assert_memory_equal(mac, R + pos + 16, 16);
        ptk_elligator2_repr_to_pub(Y, R);
        assert_int_equal(ptk_ntor_client(key_seed, auth, x, X, Y, B, id), PTK_OK);
        assert_memory_equal(auth, R + 32, 32);
        ptk_ntor_kdf(key_seed, okm, sizeof(okm));
        struct obfs4_framer enc, dec;
        obfs4_framer_init(&enc, okm);
        obfs4_framer_init(&dec, okm + 72);
        uint8_t pkt[OBFS4_MAX_FRAME_PAYLOAD], frame[SEG];
        size_t consumed = 0, pktlen = 0;
        int dr = obfs4_frame_decode(&dec, R + pos + 32, SEED_FRAME, &consumed, pkt, &pktlen);
        assert_int_equal(dr, PTK_DONE);
        assert_int_equal(consumed, SEED_FRAME);
        assert_int_equal(pktlen, 3 + 24);
        assert_int_equal(pkt[0], OBFS4_PACKET_PRNG_SEED);
        assert_int_equal(pkt[1] << 8 | pkt[2], 24);
        assert_memory_equal(pkt + 3, seed, 24);
        ptk_buf_reset(&w.s.wire_out);

        /* our frames reach the server's app side; padding and unknown types deliver nothing */
        size_t fl =
            obfs4_frame_encode(&enc, frame, OBFS4_PACKET_PAYLOAD, (const uint8_t *)"hello", 5, 10);
        fl += obfs4_frame_encode(&enc, frame + fl, 7, (const uint8_t *)"zz", 2, 0);
        fl += obfs4_frame_encode(&enc, frame + fl, OBFS4_PACKET_PAYLOAD, NULL, 0, 100);
        fl +=
            obfs4_frame_encode(&enc, frame + fl, OBFS4_PACKET_PAYLOAD, (const uint8_t *)"!", 1, 0);
        assert_int_equal(ptk_buf_put(&w.s.wire_in, frame, fl), PTK_OK);
        assert_int_equal(do_decode(&w, &w.s, fl, &used), PTK_OK);
        assert_int_equal(used, fl);
        assert_int_equal(ptk_buf_len(&w.s.app_out), 6);
        assert_memory_equal(ptk_buf_data(&w.s.app_out), "hello!", 6);

        /* and the server's frames decode with the key material we derived */
        assert_int_equal(ptk_buf_put(&w.s.app_in, "world", 5), PTK_OK);
        assert_int_equal(do_encode(&w, &w.s, &used), PTK_OK);
        assert_int_equal(used, 5);
        struct ptk_buf got;
        ptk_buf_init(&got, 4096);
        const uint8_t *p = ptk_buf_data(&w.s.wire_out);
        size_t left = ptk_buf_len(&w.s.wire_out);
        while (left > 0) {
            int r = obfs4_frame_decode(&dec, p, left, &consumed, pkt, &pktlen);
            assert_int_equal(r, PTK_DONE);
            assert_true(consumed <= SEG);
            assert_int_equal(pkt[0], OBFS4_PACKET_PAYLOAD);
            size_t plen = (size_t)(pkt[1] << 8 | pkt[2]);
            assert_true(plen + 3 <= pktlen);
            for (size_t k = 3 + plen; k < pktlen; k++)
                assert_int_equal(pkt[k], 0); /* zero padding */
            assert_int_equal(ptk_buf_put(&got, pkt + 3, plen), PTK_OK);
            p += consumed;
            left -= consumed;
        }
        assert_int_equal(ptk_buf_len(&got), 5);
        assert_memory_equal(ptk_buf_data(&got), "world", 5);
        ptk_buf_free(&got);
        obfs4_framer_wipe(&enc);
        obfs4_framer_wipe(&dec);
        world_free(&w);
    }

    /* a valid 8192-byte handshake with more bytes behind it in the same read: a probe */
    struct world w;
    world_init(&w);
    server_conn(&w.s, &sv);
    assert_int_equal(do_start(&w, &w.s), PTK_OK);
    {
        uint8_t x[32], X[32], repr[32], big[MAX_HS + 5];
        char ep[24];
        size_t el = epoch_str(T0 + (int64_t)(w.now_us / 1000000), ep);
        ptk_elligator2_keygen(x, X, repr);
        memcpy(big, repr, 32);
        randombytes_buf(big + 32, sizeof(big) - 32);
        hmac16(big + MAX_HS - 32, key, 52, repr, 32, NULL, 0);
        hmac16(big + MAX_HS - 16, key, 52, big, MAX_HS - 16, ep, el);
        assert_int_equal(ptk_buf_put(&w.s.wire_in, big, sizeof(big)), PTK_OK);
        assert_int_equal(do_decode(&w, &w.s, sizeof(big), NULL), PTK_EPROBE);
        assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
        assert_false(w.s.established);
    }
    world_free(&w);

    /* a valid MAC over a low-order X (all-zero representative): ntor fails -> probe */
    world_init(&w);
    server_conn(&w.s, &sv);
    assert_int_equal(do_start(&w, &w.s), PTK_OK);
    uint8_t hs[32 + 100 + 32] = {0};
    char epoch[24];
    size_t elen = epoch_str(T0 + (int64_t)(w.now_us / 1000000), epoch);
    hmac16(hs + 132, key, 52, hs, 32, NULL, 0);
    hmac16(hs + 148, key, 52, hs, 148, epoch, elen);
    assert_int_equal(ptk_buf_put(&w.s.wire_in, hs, sizeof(hs)), PTK_OK);
    assert_int_equal(do_decode(&w, &w.s, sizeof(hs), NULL), PTK_EPROBE);
    assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
    assert_false(w.s.established);
    world_free(&w);
    server_close(&sv, true);
}

/* Build a server reply for client handshake C (the vectors' identity) into out. */
static size_t hand_reply(uint8_t *out, const uint8_t *C, size_t pad, const char *epoch, size_t elen,
                         bool bad_auth, uint8_t okm[144])
{
    uint8_t key[52], B[32], id[20], b[32], y[32], Y[32], repr[32], X[32], key_seed[32], auth[32];
    vec_mac_key(key, B, id, b);
    ptk_elligator2_keygen(y, Y, repr);
    ptk_elligator2_repr_to_pub(X, C);
    assert_int_equal(ptk_ntor_server(key_seed, auth, y, Y, b, B, X, id), PTK_OK);
    ptk_ntor_kdf(key_seed, okm, 144);
    memcpy(out, repr, 32);
    memcpy(out + 32, auth, 32);
    if (bad_auth)
        out[40] ^= 1;
    randombytes_buf(out + 64, pad);
    hmac16(out + 64 + pad, key, 52, repr, 32, NULL, 0);
    hmac16(out + 64 + pad + 16, key, 52, out, 64 + pad + 16, epoch, elen);
    return 64 + pad + 32;
}

static void test_handshake_against_hand_built_server(void **st)
{
    (void)st;
    uint8_t key[52], B[32], id[20], b[32];
    vec_mac_key(key, B, id, b);
    struct server fake;
    memset(&fake, 0, sizeof(fake));
    vec_cert(fake.cert);

    /* pad 0 and 8051 (the reply is then exactly 8192 bytes with the seed frame) */
    size_t pads[] = {0, 8051, 333};
    for (int variant = 0; variant < 6; variant++) {
        struct world w;
        world_init(&w);
        client_for(&w.c, &fake, variant % 3);
        assert_int_equal(do_start(&w, &w.c), PTK_OK);
        assert_int_equal(w.c.timer_at, (int64_t)w.now_us + 60000000);
        const uint8_t *C = ptk_buf_data(&w.c.wire_out);
        size_t n = ptk_buf_len(&w.c.wire_out);
        assert_in_range(n, 64 + 77, MAX_HS);
        /* the mark right before the MAC at the end; the MAC with the client's hour */
        char epoch[24];
        size_t elen = epoch_str(T0 + (int64_t)(w.now_us / 1000000), epoch);
        uint8_t mark[16], mac[16];
        hmac16(mark, key, 52, C, 32, NULL, 0);
        assert_memory_equal(mark, C + n - 32, 16);
        hmac16(mac, key, 52, C, n - 16, epoch, elen);
        assert_memory_equal(mac, C + n - 16, 16);

        uint8_t R[MAX_HS + 3 * SEG], okm[144];
        size_t pad = pads[variant % 3];
        size_t rl = hand_reply(R, C, pad, epoch, elen, false, okm);
        ptk_buf_reset(&w.c.wire_out);
        struct obfs4_framer enc, dec;
        obfs4_framer_init(&dec, okm);
        obfs4_framer_init(&enc, okm + 72);
        uint8_t seed[24];
        randombytes_buf(seed, sizeof(seed));
        size_t fl = obfs4_frame_encode(&enc, R + rl, OBFS4_PACKET_PRNG_SEED, seed, 24, 0);
        assert_int_equal(fl, SEED_FRAME);
        rl += fl;
        if (pad == 8051)
            assert_int_equal(rl, MAX_HS);
        rl += obfs4_frame_encode(&enc, R + rl, OBFS4_PACKET_PAYLOAD, (const uint8_t *)"hi", 2, 0);
        assert_int_equal(ptk_buf_put(&w.c.wire_in, R, rl), PTK_OK);
        size_t used;
        if (variant < 3) {
            assert_int_equal(do_decode(&w, &w.c, rl, &used), PTK_OK);
            assert_int_equal(used, rl);
        } else {
            w.c.bytewise = true;
            pump_decode(&w, &w.c);
            assert_int_equal(w.c.hs_used, 64 + pad + 32);
            assert_int_equal(w.c.frames, 2);
        }
        assert_true(w.c.established);
        assert_int_equal(w.c.timer_at, -1);
        assert_int_equal(ptk_buf_len(&w.c.wire_out), 0);
        assert_int_equal(ptk_buf_len(&w.c.app_out), 2);
        assert_memory_equal(ptk_buf_data(&w.c.app_out), "hi", 2);

        /* the client's frames (paced out by its timer in iat modes) decode with okm[0:72] */
        assert_int_equal(ptk_buf_put(&w.c.app_in, "yo", 2), PTK_OK);
        assert_int_equal(do_encode(&w, &w.c, &used), PTK_OK);
        assert_int_equal(used, 2);
        while (w.c.timer_at >= 0)
            assert_int_equal(do_timer(&w, &w.c), PTK_OK);
        uint8_t pkt[OBFS4_MAX_FRAME_PAYLOAD];
        size_t consumed, pktlen, got = 0;
        const uint8_t *p = ptk_buf_data(&w.c.wire_out);
        size_t left = ptk_buf_len(&w.c.wire_out);
        assert_true(left > 0);
        while (left > 0) {
            assert_int_equal(obfs4_frame_decode(&dec, p, left, &consumed, pkt, &pktlen), PTK_DONE);
            size_t plen = (size_t)(pkt[1] << 8 | pkt[2]);
            if (plen) {
                assert_int_equal(plen, 2);
                assert_memory_equal(pkt + 3, "yo", 2);
                got += plen;
            }
            p += consumed;
            left -= consumed;
        }
        assert_int_equal(got, 2);
        obfs4_framer_wipe(&enc);
        obfs4_framer_wipe(&dec);
        world_free(&w);
    }

    /* bad replies: wrong AUTH, MAC for another hour, no mark within 8192 bytes */
    for (int bad = 0; bad < 4; bad++) {
        struct world w;
        world_init(&w);
        client_for(&w.c, &fake, 0);
        assert_int_equal(do_start(&w, &w.c), PTK_OK);
        const uint8_t *C = ptk_buf_data(&w.c.wire_out);
        char epoch[24];
        size_t elen = epoch_str(T0 + (int64_t)(w.now_us / 1000000) + (bad == 1 ? HOUR : 0), epoch);
        uint8_t R[MAX_HS + 16], okm[144];
        size_t rl = hand_reply(R, C, 100, epoch, elen, bad == 0, okm);
        if (bad >= 2) {
            randombytes_buf(R, sizeof(R));
            rl = bad == 2 ? MAX_HS - 1 : MAX_HS;
        }
        assert_int_equal(ptk_buf_put(&w.c.wire_in, R, rl), PTK_OK);
        int r = do_decode(&w, &w.c, rl, NULL);
        assert_int_equal(r, bad == 2 ? PTK_OK : PTK_EAUTH);
        assert_false(w.c.established);
        assert_int_equal(ptk_buf_len(&w.c.app_out), 0);
        world_free(&w);
    }

    /* no reply within 60 s: the client gives up */
    struct world w;
    world_init(&w);
    client_for(&w.c, &fake, 0);
    assert_int_equal(do_start(&w, &w.c), PTK_OK);
    assert_int_equal(do_timer(&w, &w.c), PTK_ETIMEDOUT);
    world_free(&w);
}

static void test_handshake_lengths_vary(void **st)
{
    (void)st;
    struct server sv;
    assert_int_equal(server_open(&sv, NULL, NULL), PTK_OK);
    size_t first_c = 0, first_s = 0;
    bool c_varies = false, s_varies = false;
    uint8_t top_bits = 0;
    for (int i = 0; i < 24; i++) {
        struct world w;
        world_init(&w);
        client_for(&w.c, &sv, 0);
        server_conn(&w.s, &sv);
        assert_int_equal(do_start(&w, &w.s), PTK_OK);
        assert_int_equal(do_start(&w, &w.c), PTK_OK);
        size_t n = ptk_buf_len(&w.c.wire_out);
        assert_in_range(n, 64 + 77, MAX_HS);
        top_bits |= ptk_buf_data(&w.c.wire_out)[31] & 0xc0;
        move_wire(&w.c, &w.s);
        assert_int_equal(do_decode(&w, &w.s, n, NULL), PTK_OK);
        size_t m = ptk_buf_len(&w.s.wire_out);
        assert_in_range(m, 96 + SEED_FRAME, MAX_HS);
        top_bits |= ptk_buf_data(&w.s.wire_out)[31] & 0xc0;
        if (i == 0) {
            first_c = n;
            first_s = m;
        }
        c_varies |= n != first_c;
        s_varies |= m != first_s;
        /* and the client takes exactly the handshake, then a 45-byte frame with no payload */
        move_wire(&w.s, &w.c);
        w.c.bytewise = true;
        pump_decode(&w, &w.c);
        assert_true(w.c.established);
        assert_int_equal(w.c.hs_used, m - SEED_FRAME);
        assert_int_equal(w.c.frames, 1);
        assert_int_equal(w.c.max_frame, SEED_FRAME);
        assert_int_equal(ptk_buf_len(&w.c.app_out), 0);
        world_free(&w);
    }
    assert_true(c_varies);
    assert_true(s_varies);
    /* Elligator2 representatives use the top two bits too (obfs4proxy >= 0.0.12) */
    assert_int_equal(top_bits, 0xc0);
    server_close(&sv, true);
}

/* ---------- data ---------- */

static const size_t sizes[] = {0,    1,     2,     3,     20,    21,    22,     1426,   1427,
                               1428, 1447,  1448,  1449,  2853,  2854,  2855,   4095,   8191,
                               8193, 12345, 32767, 32768, 32769, 65537, 100003, 199999, 200000};

/* data both ways in iat mode `iat`; the bridge's DRBG seed is `fixed_seed` (hex) or random */
static void data_test_seed(int iat, bool legacy_args, const char *fixed_seed)
{
    struct server sv;
    char seed[49];
    uint8_t sb[24];
    randombytes_buf(sb, sizeof(sb));
    hexs(sb, 24, seed);
    if (fixed_seed)
        snprintf(seed, sizeof(seed), "%s", fixed_seed);
    server_vec(&sv, seed, iat);
    char iats[16];
    snprintf(iats, sizeof(iats), "%d", iat);
    assert_string_equal(sv.iat, iats);

    struct world w;
    world_init(&w);
    if (legacy_args) {
        struct ptk_kvlist a = PTK_KVLIST_INIT;
        uint8_t B[32];
        char Bhex[65], err[256];
        assert_int_equal(vec_hex(V, "B", B, 32), 0);
        hexs(B, 32, Bhex);
        kv(&a, "node-id", VEC_NODE_ID);
        kv(&a, "public-key", Bhex);
        kv(&a, "iat-mode", iats);
        assert_int_equal(client_conn(&w.c, &a, err, sizeof(err)), PTK_OK);
        ptk_kvlist_free(&a);
    } else {
        client_for(&w.c, &sv, iat);
    }
    server_conn(&w.s, &sv);
    w.c.bytewise = w.s.bytewise = true;
    handshake(&w);
    assert_int_equal(w.c.frames, 1); /* the PRNG seed */
    assert_int_equal(w.c.max_frame, SEED_FRAME);

    size_t n = sizeof(sizes) / sizeof(sizes[0]);
    for (size_t i = 0; i < n; i++) {
        exchange(&w, sizes[i], 0);
        exchange(&w, 0, sizes[i]);
        exchange(&w, sizes[i], sizes[n - 1 - i]);
    }
    /* every frame after the handshake fits a segment */
    assert_true(w.c.frames > 100 && w.s.frames > 100);
    assert_in_range(w.c.max_frame, 16 + 2, SEG);
    assert_in_range(w.s.max_frame, 16 + 2, SEG);
    if (iat == 0) {
        assert_int_equal(w.c.timers + w.s.timers, 0);
        assert_true(w.c.max_write > SEG && w.s.max_write > SEG);
    } else {
        /* paced: a segment at most per call, 0.1..10 ms apart */
        assert_in_range(w.c.max_write, 1, SEG);
        assert_in_range(w.s.max_write, 1, SEG);
        assert_true(w.c.timers > 100 && w.s.timers > 100);
        assert_in_range(w.c.max_timer, 1, 10000);
        assert_in_range(w.s.max_timer, 1, 10000);
    }

    /* random arrival chunks, big transfers both ways at once */
    w.c.bytewise = w.s.bytewise = false;
    exchange(&w, 150001, 170003);
    world_free(&w);
    server_close(&sv, true);
}

static void data_test(int iat, bool legacy_args)
{
    data_test_seed(iat, legacy_args, NULL);
}

/*
 * A bridge seed whose padding-length table is the single value 0 (one in
 * about 145,000 seeds; found by search). obfs4proxy 0.0.14 panics when its
 * iat-mode=2 writer draws a 0 ("BUG: Write(), iat length was 0"); ptkit
 * must keep moving data in every mode, on both ends, with such a table.
 */
#define ZERO_LEN_SEED "67adf4206fc3a653b3ca23c4c964be0a17854b88001cf9be"

static void test_data_zero_length_table(void **st)
{
    (void)st;
    uint8_t sb[24];
    struct ptk_probdist d;
    for (int i = 0; i < 24; i++)
        sscanf(ZERO_LEN_SEED + 2 * i, "%2hhx", &sb[i]);
    ptk_probdist_init(&d, sb, 0, SEG, false);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.values[0], 0);
    for (int iat = 0; iat <= 2; iat++)
        data_test_seed(iat, false, ZERO_LEN_SEED);

    /* and the integration tests' IAT2_SAFE_SEED (obfs4_helpers.py) has no 0 at all */
    for (int i = 0; i < 24; i++)
        sscanf("0ff0e45bf25d9669645f9c78b9e5a3736921c2b7e86abb2e" + 2 * i, "%2hhx", &sb[i]);
    ptk_probdist_init(&d, sb, 0, SEG, false);
    assert_int_equal(d.n, 87);
    for (int i = 0; i < d.n; i++)
        assert_int_not_equal(d.values[i], 0);
}

static void test_data_iat0(void **st)
{
    (void)st;
    data_test(0, false);
}

static void test_data_iat1(void **st)
{
    (void)st;
    data_test(1, false);
}

static void test_data_iat2(void **st)
{
    (void)st;
    data_test(2, false);
}

static void test_data_node_id_args(void **st)
{
    (void)st;
    data_test(0, true);
}

/* Encoding nothing writes nothing, in every mode and whatever the padding draw. */
static void test_encode_empty(void **st)
{
    (void)st;
    for (int iat = 0; iat <= 2; iat++) {
        struct server sv;
        server_vec(&sv, ZERO_SEED, iat);
        struct world w;
        world_init(&w);
        client_for(&w.c, &sv, iat);
        server_conn(&w.s, &sv);
        handshake(&w);
        for (int i = 0; i < 200; i++) {
            struct end *e = i % 2 ? &w.c : &w.s;
            size_t used;
            assert_int_equal(do_encode(&w, e, &used), PTK_OK);
            assert_int_equal(used, 0);
            assert_int_equal(ptk_buf_len(&e->wire_out), 0);
        }
        exchange(&w, 10, 10);
        world_free(&w);
        server_close(&sv, true);
    }
}

/* ---------- probing resistance ---------- */

static void test_epoch_hour(void **st)
{
    (void)st;
    struct server sv;
    server_vec(&sv, ZERO_SEED, 0);
    const int64_t skews[] = {0, HOUR, -HOUR, 2 * HOUR, -2 * HOUR, 3 * HOUR};
    for (size_t i = 0; i < sizeof(skews) / sizeof(skews[0]); i++) {
        bool ok = skews[i] >= -HOUR && skews[i] <= HOUR;
        struct world w;
        world_init(&w);
        client_for(&w.c, &sv, 0);
        server_conn(&w.s, &sv);
        w.s.skew_s = skews[i];
        assert_int_equal(do_start(&w, &w.s), PTK_OK);
        assert_int_equal(do_start(&w, &w.c), PTK_OK);
        size_t n = ptk_buf_len(&w.c.wire_out);
        move_wire(&w.c, &w.s);
        int r = do_decode(&w, &w.s, n, NULL);
        if (ok) {
            assert_int_equal(r, PTK_OK);
            assert_true(w.s.established);
            /* the reply is MACed with the client's hour: the client accepts it */
            run(&w);
            assert_true(w.c.established);
            exchange(&w, 3000, 3000);
        } else {
            assert_int_equal(r, PTK_EPROBE);
            assert_false(w.s.established);
            assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
            int64_t left = w.s.timer_at - (int64_t)w.now_us;
            assert_int_equal(left, (30 + 55) * (int64_t)1000000);
        }
        world_free(&w);
    }
    server_close(&sv, true);
}

static void test_replay(void **st)
{
    (void)st;
    struct server sv;
    assert_int_equal(server_open(&sv, NULL, NULL), PTK_OK);
    struct world w;
    world_init(&w);
    client_for(&w.c, &sv, 0);
    server_conn(&w.s, &sv);
    assert_int_equal(do_start(&w, &w.s), PTK_OK);
    assert_int_equal(do_start(&w, &w.c), PTK_OK);
    size_t n = ptk_buf_len(&w.c.wire_out);
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, ptk_buf_data(&w.c.wire_out), n);
    run(&w);
    assert_true(w.s.established);

    /* the same bytes again, to another conn of the same server, a minute later */
    for (int i = 0; i < 2; i++) {
        struct world w2;
        world_init(&w2);
        w2.now_us = w.now_us + 60000000;
        server_conn(&w2.s, &sv);
        assert_int_equal(do_start(&w2, &w2.s), PTK_OK);
        assert_int_equal(ptk_buf_put(&w2.s.wire_in, copy, n), PTK_OK);
        assert_int_equal(do_decode(&w2, &w2.s, n, NULL), PTK_EPROBE);
        assert_int_equal(ptk_buf_len(&w2.s.wire_out), 0);
        assert_false(w2.s.established);
        int64_t left = w2.s.timer_at - (int64_t)w2.now_us;
        assert_true(left >= 30000000 && left < 90000000);
        /* and it stays silent */
        assert_int_equal(do_decode(&w2, &w2.s, n, NULL), PTK_EPROBE);
        assert_int_equal(ptk_buf_len(&w2.s.wire_out), 0);
        world_free(&w2);
    }

    free(copy);
    world_free(&w);
    server_close(&sv, true);
}

/*
 * A fresh server conn gets prefix[0..plen) in one piece, then random bytes (in random
 * chunks if there is no prefix, else in one piece) up to 8191 bytes: it must wait,
 * silent; the 8192nd byte makes it a probe.
 */
static void expect_probe_at_8192(const struct server *sv, const uint8_t *prefix, size_t plen)
{
    struct world w;
    world_init(&w);
    server_conn(&w.s, sv);
    uint64_t start = w.now_us;
    assert_int_equal(do_start(&w, &w.s), PTK_OK);
    uint8_t *data = malloc(MAX_HS + 100);
    assert_non_null(data);
    randombytes_buf(data, MAX_HS + 100);
    if (plen)
        memcpy(data, prefix, plen);
    size_t fed = 0;
    while (fed < MAX_HS - 1) {
        size_t k = fed == 0 && plen ? plen : plen ? MAX_HS - 1 - fed : 1 + xs() % 700;
        if (fed + k > MAX_HS - 1)
            k = MAX_HS - 1 - fed;
        assert_int_equal(ptk_buf_put(&w.s.wire_in, data + fed, k), PTK_OK);
        fed += k;
        w.now_us += 1000000;
        assert_int_equal(do_decode(&w, &w.s, ptk_buf_len(&w.s.wire_in), NULL), PTK_OK);
        assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
        assert_false(w.s.established);
    }
    /* the byte that makes 8192 */
    assert_int_equal(ptk_buf_put(&w.s.wire_in, data + fed, 1), PTK_OK);
    assert_int_equal(do_decode(&w, &w.s, ptk_buf_len(&w.s.wire_in), NULL), PTK_EPROBE);
    assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
    int64_t want = (int64_t)(30 + 55) * 1000000 - (int64_t)(w.now_us - start);
    if (want > 0)
        assert_int_equal(w.s.timer_at - (int64_t)w.now_us, want);
    else
        assert_int_equal(w.s.timer_at, -1);
    assert_int_equal(ptk_buf_put(&w.s.wire_in, data + fed + 1, 99), PTK_OK);
    assert_int_equal(do_decode(&w, &w.s, ptk_buf_len(&w.s.wire_in), NULL), PTK_EPROBE);
    assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
    free(data);
    world_free(&w);
}

static void test_garbage_and_truncated(void **st)
{
    (void)st;
    struct server sv, wrong;
    server_vec(&sv, ZERO_SEED, 0);
    assert_int_equal(server_open(&wrong, NULL, NULL), PTK_OK);

    /* random bytes */
    expect_probe_at_8192(&sv, NULL, 0);

    /* a client handshake: truncated, for the wrong cert, or followed by early data */
    for (int kind = 0; kind < 3; kind++) {
        struct world w;
        world_init(&w);
        client_for(&w.c, kind == 1 ? &wrong : &sv, 0);
        assert_int_equal(do_start(&w, &w.c), PTK_OK);
        size_t n = ptk_buf_len(&w.c.wire_out);
        uint8_t hs[MAX_HS + 10];
        memcpy(hs, ptk_buf_data(&w.c.wire_out), n);
        if (kind == 0)
            n -= 1;
        if (kind == 2) {
            /* data right behind the handshake (the client must wait for the reply) */
            randombytes_buf(hs + n, 10);
            n = n + 10 < MAX_HS ? n + 10 : 0;
        }
        expect_probe_at_8192(&sv, hs, n);
        if (kind == 0) {
            /* the same cut handshake completed by its last byte is accepted */
            struct world w2;
            world_init(&w2);
            server_conn(&w2.s, &sv);
            assert_int_equal(do_start(&w2, &w2.s), PTK_OK);
            assert_int_equal(ptk_buf_put(&w2.s.wire_in, hs, n), PTK_OK);
            assert_int_equal(do_decode(&w2, &w2.s, n, NULL), PTK_OK);
            assert_false(w2.s.established);
            assert_int_equal(ptk_buf_len(&w2.s.wire_out), 0);
            assert_int_equal(ptk_buf_put(&w2.s.wire_in, ptk_buf_data(&w.c.wire_out) + n, 1),
                             PTK_OK);
            assert_int_equal(do_decode(&w2, &w2.s, n + 1, NULL), PTK_OK);
            assert_true(w2.s.established);
            world_free(&w2);
        }
        world_free(&w);
    }

    /* a handshake that arrives one byte at a time is waited for, then accepted */
    struct world w;
    world_init(&w);
    client_for(&w.c, &sv, 0);
    server_conn(&w.s, &sv);
    w.s.bytewise = true;
    handshake(&w);
    exchange(&w, 100, 100);
    world_free(&w);

    server_close(&wrong, true);
    server_close(&sv, true);
}

static void test_server_timer(void **st)
{
    (void)st;
    struct server sv;
    server_vec(&sv, ZERO_SEED, 0);
    /* fired on time, late, and after the whole close delay */
    const int64_t late_ms[] = {0, 1500, 54999, 55000, 70000};
    for (size_t i = 0; i < sizeof(late_ms) / sizeof(late_ms[0]); i++) {
        struct world w;
        world_init(&w);
        w.now_us = 5000000 + 123000;
        server_conn(&w.s, &sv);
        uint64_t start = w.now_us;
        assert_int_equal(do_start(&w, &w.s), PTK_OK);
        /* some garbage first: still waiting */
        uint8_t junk[500];
        randombytes_buf(junk, sizeof(junk));
        assert_int_equal(ptk_buf_put(&w.s.wire_in, junk, sizeof(junk)), PTK_OK);
        assert_int_equal(do_decode(&w, &w.s, sizeof(junk), NULL), PTK_OK);
        assert_int_equal(w.s.timer_at, (int64_t)start + 30000000);
        w.now_us = (uint64_t)w.s.timer_at + (uint64_t)late_ms[i] * 1000;
        assert_int_equal(do_timer(&w, &w.s), PTK_EPROBE);
        assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
        int64_t want = (int64_t)(30 + 55) * 1000000 - (int64_t)(w.now_us - start);
        if (want > 0)
            assert_int_equal(w.s.timer_at - (int64_t)w.now_us, want);
        else
            assert_int_equal(w.s.timer_at, -1);
        assert_int_equal(do_decode(&w, &w.s, sizeof(junk), NULL), PTK_EPROBE);
        assert_int_equal(ptk_buf_len(&w.s.wire_out), 0);
        world_free(&w);
    }
    server_close(&sv, true);
}

/* Go's rand.New(HashDrbg(seed)).Intn(60), by hand: Int31n's rejection loop on Int63 >> 32. */
static int go_intn60(const uint8_t seed[24])
{
    struct ptk_drbg d;
    int32_t v;
    const int32_t max = INT32_MAX - (int32_t)(((uint32_t)1 << 31) % 60);
    ptk_drbg_init(&d, seed);
    do {
        v = (int32_t)(ptk_drbg_int63(&d) >> 32);
    } while (v > max);
    return v % 60;
}

static void test_close_delay(void **st)
{
    (void)st;
    /* Go: rand.New(HashDrbg(seed)).Intn(60); the zero seed's first Int63 is
     * 7432626515892259304 (vectors), so Int31() = 1730543215 and Intn(60) = 55. */
    struct server a, b;
    server_vec(&a, ZERO_SEED, 0);
    assert_int_equal(close_delay_of(&a), 55);
    server_close(&a, true);

    for (int i = 0; i < 6; i++) {
        uint8_t sb[24];
        char seed[49];
        randombytes_buf(sb, sizeof(sb));
        hexs(sb, 24, seed);
        server_vec(&a, seed, 0);
        server_vec(&b, seed, i % 3);
        int da = close_delay_of(&a), db = close_delay_of(&b);
        assert_in_range(da, 0, 59);
        assert_int_equal(da, go_intn60(sb));
        assert_int_equal(da, db);
        assert_int_equal(close_delay_of(&a), da);
        server_close(&a, true);
        server_close(&b, true);
    }
}

static void test_tampering(void **st)
{
    (void)st;
    struct server sv;
    server_vec(&sv, ZERO_SEED, 0);
    for (int kind = 0; kind < 4; kind++) {
        struct world w;
        world_init(&w);
        client_for(&w.c, &sv, 0);
        server_conn(&w.s, &sv);
        if (kind == 3) {
            /* the server's PRNG-seed frame, right after its handshake */
            assert_int_equal(do_start(&w, &w.s), PTK_OK);
            assert_int_equal(do_start(&w, &w.c), PTK_OK);
            move_wire(&w.c, &w.s);
            assert_int_equal(do_decode(&w, &w.s, ptk_buf_len(&w.s.wire_in), NULL), PTK_OK);
            move_wire(&w.s, &w.c);
            uint8_t *p = w.c.wire_in.mem + w.c.wire_in.off;
            p[ptk_buf_len(&w.c.wire_in) - 1] ^= 0x80;
            assert_int_equal(do_decode(&w, &w.c, ptk_buf_len(&w.c.wire_in), NULL), PTK_EAUTH);
            assert_int_equal(ptk_buf_len(&w.c.app_out), 0);
            world_free(&w);
            continue;
        }
        handshake(&w);
        exchange(&w, 1000, 1000);
        uint8_t data[5000];
        randombytes_buf(data, sizeof(data));
        assert_int_equal(ptk_buf_put(&w.c.app_in, data, sizeof(data)), PTK_OK);
        assert_int_equal(do_encode(&w, &w.c, NULL), PTK_OK);
        move_wire(&w.c, &w.s);
        uint8_t *p = w.s.wire_in.mem + w.s.wire_in.off;
        size_t n = ptk_buf_len(&w.s.wire_in);
        if (kind == 0)
            p[n / 2] ^= 0x01; /* inside a later frame: the earlier ones are delivered */
        else if (kind == 1)
            p[20] ^= 0x40; /* the first frame's ciphertext */
        else
            p[1] ^= 0x10; /* the first frame's length field */
        int r = PTK_OK;
        size_t used = 1;
        while (r == PTK_OK && used > 0 && ptk_buf_len(&w.s.wire_in) > 0)
            r = do_decode(&w, &w.s, ptk_buf_len(&w.s.wire_in), &used);
        assert_int_equal(r, PTK_EAUTH);
        size_t got = ptk_buf_len(&w.s.app_out);
        if (kind == 0) {
            assert_true(got > 0 && got < sizeof(data));
            assert_memory_equal(ptk_buf_data(&w.s.app_out), data, got);
        } else {
            assert_int_equal(got, 0);
        }
        world_free(&w);
    }
    server_close(&sv, true);
}

int main(void)
{
    ops = ptk_transport_find("obfs4");
    if (!ops || ops != &ptk_transport_obfs4)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_setup_new),
        cmocka_unit_test(test_state_file_from_obfs4proxy),
        cmocka_unit_test(test_state_file_bad),
        cmocka_unit_test(test_server_options),
        cmocka_unit_test(test_client_args),
        cmocka_unit_test(test_handshake_against_hand_built_client),
        cmocka_unit_test(test_handshake_against_hand_built_server),
        cmocka_unit_test(test_handshake_lengths_vary),
        cmocka_unit_test(test_data_iat0),
        cmocka_unit_test(test_data_iat1),
        cmocka_unit_test(test_data_iat2),
        cmocka_unit_test(test_data_node_id_args),
        cmocka_unit_test(test_data_zero_length_table),
        cmocka_unit_test(test_encode_empty),
        cmocka_unit_test(test_epoch_hour),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_garbage_and_truncated),
        cmocka_unit_test(test_server_timer),
        cmocka_unit_test(test_close_delay),
        cmocka_unit_test(test_tampering),
    };
    return cmocka_run_group_tests_name("obfs4", tests, NULL, NULL);
}
