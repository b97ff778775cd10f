/*
 * Fuzz target: the obfs4 server (transport/obfs4.c): its handshake parser
 * and, behind a real client handshake, its frame and packet decoder.
 *
 * One server instance (fixed node-id, private-key, drbg-seed, in a temp state
 * directory made once) serves every input; each input gets a fresh conn.
 * Input: flags, a chunking byte, a length byte, then bytes "from the client".
 *   flags bit 0: first a client conn's real handshake (the server must accept
 *                it and its reply must complete the client), then the bytes;
 *   flags bit 1: (with bit 0) the client conn first encodes len*37 of the
 *                bytes as app data: valid frames the server must deliver;
 *   flags bits 2-3: the client's iat-mode; bit 4: fire the timer at the end.
 * Checks: results are only OK/EPROBE (handshake) or OK/EAUTH/EPROTO (data);
 * nothing is written before the handshake completes, nothing after a probe;
 * the server waits on at most 8191 bytes of handshake and on less than one
 * segment of frames; app output is exactly the client's data, then at most
 * as many bytes as were fed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/kv.h"
#include "ptkit/transport.h"
#include "transport/obfs4.h"
#include "transport/obfs4_framing.h"

#define UNIX_T 1700000000
#define MAX_HS 8192

static const struct ptk_transport_ops *ops = &ptk_transport_obfs4;
static void *server;
static char cert[80];
static char dir[64];

static void cleanup(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, OBFS4_STATE_FILE);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", dir, OBFS4_BRIDGE_FILE);
    unlink(p);
    rmdir(dir);
    ops->server_free(server);
}

static void setup_once(void)
{
    struct ptk_kvlist o = PTK_KVLIST_INIT, sm = PTK_KVLIST_INIT;
    char err[256];
    snprintf(dir, sizeof(dir), "/tmp/ptk-fuzz-obfs4-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    ptk_kvlist_add(&o, "node-id", 7, "000102030405060708090a0b0c0d0e0f10111213", 40);
    ptk_kvlist_add(&o, "private-key", 11,
                   "a83fdd04eb9ed77a2b38d86092a09a1cecfb93a7bdec0da35e542775b2e7af6e", 64);
    ptk_kvlist_add(&o, "drbg-seed", 9, "000102030405060708090a0b0c0d0e0f1011121314151617", 48);
    struct ptk_transport_cfg cfg = {.state_dir = dir, .opts = &o, .log = NULL};
    if (ops->server_setup(&cfg, &server, &sm, err, sizeof(err)) != PTK_OK)
        abort();
    const char *c = ptk_kvlist_get(&sm, "cert");
    if (!c || strlen(c) != 70)
        abort();
    memcpy(cert, c, 71);
    ptk_kvlist_free(&o);
    ptk_kvlist_free(&sm);
    atexit(cleanup);
}

static uint8_t *sink_reserve(void *ud, size_t n)
{
    uint8_t *p = NULL;
    return ptk_buf_reserve(ud, n, &p) == PTK_OK ? p : NULL;
}

static void sink_commit(void *ud, size_t n)
{
    ptk_buf_commit(ud, n);
}

struct end {
    void *conn;
    struct ptk_buf wire, app;
    struct ptk_sink wsink, asink;
    bool established;
    int64_t timer; /* the last decode's timer request */
};

static void end_init(struct end *e)
{
    memset(e, 0, sizeof(*e));
    ptk_buf_init(&e->wire, 1 << 22);
    ptk_buf_init(&e->app, 1 << 22);
    e->wsink = (struct ptk_sink){sink_reserve, sink_commit, &e->wire};
    e->asink = (struct ptk_sink){sink_reserve, sink_commit, &e->app};
}

static void end_free(struct end *e)
{
    if (e->conn)
        ops->conn_free(e->conn);
    ptk_buf_free(&e->wire);
    ptk_buf_free(&e->app);
}

static struct ptk_xfer xfer(struct end *e)
{
    struct ptk_xfer x = {&e->wsink, &e->asink, 5000, UNIX_T, PTK_TIMER_KEEP, e->established};
    return x;
}

/* Decode pend as the relay does (everything offered, the rest kept). */
static int decode(struct end *e, struct ptk_buf *pend, size_t *usedp)
{
    struct ptk_xfer x = xfer(e);
    size_t used = (size_t)-1, len = ptk_buf_len(pend);
    int r = ops->decode(e->conn, ptk_buf_data(pend), len, &used, &x);
    if (used > len)
        abort();
    ptk_buf_consume(pend, used);
    if (e->established && !x.established)
        abort(); /* sticky */
    e->established = x.established;
    e->timer = x.timer_us;
    *usedp = used;
    return r;
}

/* A client conn's handshake, accepted by the server, its reply accepted by the client. */
static bool client_handshake(struct end *s, struct end *c, int iat)
{
    struct ptk_kvlist a = PTK_KVLIST_INIT;
    char err[256], iats[2] = {(char)('0' + iat), 0};
    ptk_kvlist_add(&a, "cert", 4, cert, 70);
    ptk_kvlist_add(&a, "iat-mode", 8, iats, 1);
    if (ops->client_new(NULL, &a, &c->conn, err, sizeof(err)) != PTK_OK)
        abort();
    ptk_kvlist_free(&a);
    struct ptk_xfer x = xfer(c);
    if (ops->start(c->conn, &x) != PTK_OK)
        abort();
    size_t used;
    if (decode(s, &c->wire, &used) != PTK_OK || !s->established || ptk_buf_len(&c->wire) != 0)
        abort();
    if (ptk_buf_len(&s->wire) < 96 + 45 || ptk_buf_len(&s->wire) > MAX_HS)
        abort();
    if (decode(c, &s->wire, &used) != PTK_OK || !c->established || ptk_buf_len(&s->wire) != 0)
        abort();
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server)
        setup_once();
    uint8_t flags = size > 0 ? data[0] : 0, chunk = size > 1 ? data[1] : 0;
    size_t k = size > 2 ? (size_t)data[2] * 37 : 0;
    data += size < 3 ? size : 3;
    size = size < 3 ? 0 : size - 3;

    struct end s, c;
    struct ptk_buf in, pend, expect;
    end_init(&s);
    end_init(&c);
    ptk_buf_init(&in, 1 << 22);
    ptk_buf_init(&pend, 1 << 22);
    ptk_buf_init(&expect, 1 << 22);
    if (ops->server_new(server, &s.conn) != PTK_OK)
        abort();
    struct ptk_xfer x = xfer(&s);
    if (ops->start(s.conn, &x) != PTK_OK || x.timer_us != 30000000 || ptk_buf_len(&s.wire))
        abort();

    if ((flags & 1) && client_handshake(&s, &c, (flags >> 2 & 3) % 3)) {
        ptk_buf_reset(&s.wire);
        if ((flags & 2) && k > 0) {
            if (k > size)
                k = size;
            /* the client's valid frames, paced out by its timer in iat modes */
            x = xfer(&c);
            size_t used = 0;
            if (ops->encode(c.conn, data, k, &used, &x) != PTK_OK || used != k)
                abort();
            while (x.timer_us > 0) {
                x = xfer(&c);
                if (ops->timer(c.conn, &x) != PTK_OK)
                    abort();
            }
            ptk_buf_put(&in, ptk_buf_data(&c.wire), ptk_buf_len(&c.wire));
            ptk_buf_put(&expect, data, k);
            data += k;
            size -= k;
        }
    }
    ptk_buf_put(&in, data, size);

    /* feed in chunks */
    const uint8_t *p = ptk_buf_data(&in);
    size_t left = ptk_buf_len(&in), after_hs = 0, i = 0;
    bool was_est = s.established, probed = false;
    int r = PTK_OK;
    while (left > 0 && r == PTK_OK) {
        size_t n = chunk ? 1 + (size_t)chunk * (1 + i++ % 7) % 3000 : left;
        if (n > left)
            n = left;
        ptk_buf_put(&pend, p, n);
        p += n;
        left -= n;
        size_t used = 0;
        r = decode(&s, &pend, &used);
        if (s.established && was_est)
            after_hs += used;
        if (!was_est && s.established) {
            if (ptk_buf_len(&s.wire) < 96 + 45)
                abort(); /* a corpus entry may hold a valid handshake: then it replies */
            ptk_buf_reset(&s.wire);
            was_est = true;
            /* the rest is frames */
            if (r == PTK_OK && ptk_buf_len(&pend) > 0) {
                r = decode(&s, &pend, &used);
                after_hs += used;
            }
        }
        if (!s.established) {
            if (r != PTK_OK && r != PTK_EPROBE)
                abort();
            if (ptk_buf_len(&s.wire) || ptk_buf_len(&s.app))
                abort();
            if (r == PTK_OK && ptk_buf_len(&pend) >= MAX_HS)
                abort();
            if (r == PTK_EPROBE) {
                probed = true;
                /* silent until accept + 30 s + the bridge's close delay (the clock stands) */
                if (s.timer < 30000000 || s.timer >= 90000000)
                    abort();
                r = decode(&s, &pend, &used);
                if (r != PTK_EPROBE || ptk_buf_len(&s.wire) || ptk_buf_len(&s.app))
                    abort();
            }
        } else {
            if (r != PTK_OK && r != PTK_EAUTH && r != PTK_EPROTO)
                abort();
            if (ptk_buf_len(&s.wire))
                abort(); /* decoding never writes to the wire after the handshake */
            if (r == PTK_OK && ptk_buf_len(&pend) >= 1448)
                abort(); /* a whole frame was offered and not taken */
        }
    }

    /* app output: the client's data first, and never more than was fed */
    size_t got = ptk_buf_len(&s.app), want = ptk_buf_len(&expect);
    if (got > after_hs)
        abort();
    size_t common = got < want ? got : want;
    if (common && memcmp(ptk_buf_data(&s.app), ptk_buf_data(&expect), common) != 0)
        abort();
    if (want && got < want && r == PTK_OK && left == 0)
        abort(); /* all of the client's frames were fed and not all delivered */

    if (flags & 16) {
        x = xfer(&s);
        r = ops->timer(s.conn, &x);
        /* (after a probe the relay never calls the timer again: any answer will do) */
        if (s.established ? r != PTK_OK : r != PTK_EPROBE && !probed)
            abort();
        if (ptk_buf_len(&s.wire) && !s.established)
            abort();
    }

    end_free(&s);
    end_free(&c);
    ptk_buf_free(&in);
    ptk_buf_free(&pend);
    ptk_buf_free(&expect);
    return 0;
}
