/*
 * Test helper: two transport connections (client and server) joined in
 * memory through the ops table, the way the io relay drives them. Each side
 * has ptk_buf-backed sinks; what one side writes to its wire is what the
 * other side decodes. Input is offered in chunks whose sizes come from a
 * small deterministic generator (or whole), unconsumed bytes are offered
 * again with the next ones, and a side that takes nothing from a partial
 * chunk is offered everything pending, as the relay does.
 */
#ifndef PTK_TEST_TRANSPORT_PAIR_H
#define PTK_TEST_TRANSPORT_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/transport.h"

#define TP_BUF_MAX ((size_t)256 << 20)

struct tp_side {
    const struct ptk_transport_ops *ops;
    void *conn;
    struct ptk_buf app_in;   /* the local app's bytes waiting for encode */
    struct ptk_buf wire_out; /* written toward the peer, not yet decoded by it */
    struct ptk_buf app_out;  /* decoded for the local app */
    struct ptk_sink wire, app;
    bool established;
    int64_t timer_us; /* last timer request (PTK_TIMER_KEEP if none) */
    int err;          /* first error returned, 0 if none */
};

struct tp_pair {
    struct tp_side c, s;
    uint32_t rng;     /* chunk-size generator state; 0 = whole chunks */
    size_t max_chunk; /* upper bound on random chunk sizes */
    uint64_t now_ms;
};

static inline uint8_t *tp_reserve(void *ud, size_t n)
{
    uint8_t *p = NULL;
    return ptk_buf_reserve(ud, n, &p) == PTK_OK ? p : NULL;
}

static inline void tp_commit(void *ud, size_t n)
{
    ptk_buf_commit(ud, n);
}

static inline void tp_side_init(struct tp_side *s, const struct ptk_transport_ops *ops)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    ptk_buf_init(&s->app_in, TP_BUF_MAX);
    ptk_buf_init(&s->wire_out, TP_BUF_MAX);
    ptk_buf_init(&s->app_out, TP_BUF_MAX);
    s->wire = (struct ptk_sink){tp_reserve, tp_commit, &s->wire_out};
    s->app = (struct ptk_sink){tp_reserve, tp_commit, &s->app_out};
    s->timer_us = PTK_TIMER_KEEP;
}

static inline void tp_side_free(struct tp_side *s)
{
    if (s->conn)
        s->ops->conn_free(s->conn);
    s->conn = NULL;
    ptk_buf_free(&s->app_in);
    ptk_buf_free(&s->wire_out);
    ptk_buf_free(&s->app_out);
}

static inline void tp_xfer(struct tp_pair *p, struct tp_side *s, struct ptk_xfer *x)
{
    memset(x, 0, sizeof(*x));
    x->wire = &s->wire;
    x->app = &s->app;
    x->now_ms = p->now_ms;
    x->unix_time = 1700000000;
    x->timer_us = PTK_TIMER_KEEP;
    x->established = s->established;
}

static inline void tp_after(struct tp_side *s, struct ptk_xfer *x, int r)
{
    if (x->timer_us != PTK_TIMER_KEEP)
        s->timer_us = x->timer_us;
    if (x->established)
        s->established = true;
    if (r < 0 && s->err == 0)
        s->err = r;
}

/*
 * Create both connections (client args may be NULL) and start them.
 * Returns the first error from client_new/server_new/start, or 0.
 */
static inline int tp_open(struct tp_pair *p, const struct ptk_transport_ops *ops, void *server,
                          const struct ptk_kvlist *args, uint32_t seed, size_t max_chunk)
{
    struct ptk_kvlist none = PTK_KVLIST_INIT;
    struct ptk_xfer x;
    char err[256];
    int r;

    memset(p, 0, sizeof(*p));
    tp_side_init(&p->c, ops);
    tp_side_init(&p->s, ops);
    p->rng = seed;
    p->max_chunk = max_chunk ? max_chunk : 1;
    p->now_ms = 1000;
    if ((r = ops->client_new(NULL, args ? args : &none, &p->c.conn, err, sizeof(err))) != 0)
        return r;
    if ((r = ops->server_new(server, &p->s.conn)) != 0)
        return r;
    tp_xfer(p, &p->c, &x);
    r = ops->start(p->c.conn, &x);
    tp_after(&p->c, &x, r);
    if (r != 0)
        return r;
    tp_xfer(p, &p->s, &x);
    r = ops->start(p->s.conn, &x);
    tp_after(&p->s, &x, r);
    return r;
}

/*
 * Only one side, the one under test (server or client), created and started
 * against a hand-built peer; the other side stays empty. Returns as tp_open.
 */
static inline int tp_open_one(struct tp_pair *p, const struct ptk_transport_ops *ops, bool server,
                              uint32_t seed, size_t max_chunk)
{
    struct ptk_kvlist none = PTK_KVLIST_INIT;
    struct tp_side *s = server ? &p->s : &p->c;
    struct ptk_xfer x;
    char err[256];
    int r;

    memset(p, 0, sizeof(*p));
    tp_side_init(&p->c, ops);
    tp_side_init(&p->s, ops);
    p->rng = seed;
    p->max_chunk = max_chunk ? max_chunk : 1;
    p->now_ms = 1000;
    r = server ? ops->server_new(NULL, &s->conn)
               : ops->client_new(NULL, &none, &s->conn, err, sizeof(err));
    if (r != 0)
        return r;
    tp_xfer(p, s, &x);
    r = ops->start(s->conn, &x);
    tp_after(s, &x, r);
    return r;
}

static inline void tp_close(struct tp_pair *p)
{
    tp_side_free(&p->c);
    tp_side_free(&p->s);
}

static inline size_t tp_chunk(struct tp_pair *p, size_t len)
{
    if (p->rng == 0 || len == 0)
        return len;
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 17;
    p->rng ^= p->rng << 5;
    size_t n = 1 + p->rng % p->max_chunk;
    return n < len ? n : len;
}

/*
 * Offer `in` to encode (app bytes) or decode (peer wire bytes) of side s
 * until it takes nothing more or fails. Returns true if anything was taken.
 */
static inline bool tp_feed(struct tp_pair *p, struct tp_side *s, struct ptk_buf *in, bool decode)
{
    bool progress = false;
    bool whole = false;
    while (s->err == 0 && ptk_buf_len(in) > 0) {
        size_t len = ptk_buf_len(in);
        size_t n = whole ? len : tp_chunk(p, len), used = 0;
        struct ptk_xfer x;
        tp_xfer(p, s, &x);
        int r = decode ? s->ops->decode(s->conn, ptk_buf_data(in), n, &used, &x)
                       : s->ops->encode(s->conn, ptk_buf_data(in), n, &used, &x);
        if (used > n)
            used = n; /* caught by the callers' checks: never trust it */
        ptk_buf_consume(in, used);
        tp_after(s, &x, r);
        if (r == PTK_EPROBE)
            s->err = r;
        if (used) {
            progress = true;
            whole = false;
        } else if (n == len) {
            break; /* needs more input */
        } else {
            whole = true;
        }
    }
    return progress;
}

/* Move bytes both ways until nothing moves (or a side fails). */
static inline void tp_run(struct tp_pair *p)
{
    bool moved = true;
    while (moved && p->c.err == 0 && p->s.err == 0) {
        moved = false;
        moved |= tp_feed(p, &p->c, &p->c.app_in, false);
        moved |= tp_feed(p, &p->s, &p->s.app_in, false);
        moved |= tp_feed(p, &p->s, &p->c.wire_out, true);
        moved |= tp_feed(p, &p->c, &p->s.wire_out, true);
    }
}

/* Fire side s's timer (as the relay does when it expires). */
static inline int tp_timer(struct tp_pair *p, struct tp_side *s)
{
    struct ptk_xfer x;
    tp_xfer(p, s, &x);
    int r = s->ops->timer ? s->ops->timer(s->conn, &x) : 0;
    tp_after(s, &x, r);
    return r;
}

/* Decode raw bytes into side s as if its peer had sent them; returns the decode result. */
static inline int tp_inject(struct tp_pair *p, struct tp_side *s, const uint8_t *b, size_t n,
                            size_t *used)
{
    struct ptk_xfer x;
    tp_xfer(p, s, &x);
    *used = 0;
    int r = s->ops->decode(s->conn, b, n, used, &x);
    tp_after(s, &x, r);
    return r;
}

#endif
