/*
 * The relay loop (see io/relay.h).
 *
 * Data path: bytes are never copied by the relay itself. A transport reads
 * from the contiguous front of an input evbuffer (evbuffer_pullup only joins
 * chains when a unit straddles them) and writes straight into space reserved
 * in the output evbuffer (ptk_sink). A passthrough transport (plain) moves
 * whole evbuffer chains with evbuffer_add_buffer.
 *
 * Closing: callbacks may close the pair at any depth; ptk_pair_close only
 * marks it and disables I/O, and a zero-delay "reaper" event frees it from
 * the loop, so no caller is ever left holding a freed pair.
 */
#include "io/relay.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ptkit/error.h"

static uint8_t *sink_reserve(void *ud, size_t n)
{
    struct ptk_sink_ctx *sc = ud;
    if (evbuffer_reserve_space(sc->buf, (ev_ssize_t)n, &sc->iov, 1) < 1)
        return NULL;
    return sc->iov.iov_base;
}

static void sink_commit(void *ud, size_t n)
{
    struct ptk_sink_ctx *sc = ud;
    sc->iov.iov_len = n;
    evbuffer_commit_space(sc->buf, &sc->iov, 1);
}

static void pair_free(struct ptk_pair *p)
{
    if (p->on_free)
        p->on_free(p);
    if (p->tconn && p->ops && p->ops->conn_free)
        p->ops->conn_free(p->tconn);
    ptk_sock_free(p->wire);
    ptk_sock_free(p->app);
    if (p->app_bev)
        bufferevent_free(p->app_bev);
    if (p->app_pending)
        evbuffer_free(p->app_pending);
    if (p->ttimer)
        event_free(p->ttimer);
    if (p->deadline)
        event_free(p->deadline);
    if (p->reaper)
        event_free(p->reaper);
    struct ptk_io *io = p->io;
    if (p->prev)
        p->prev->next = p->next;
    else
        io->pairs = p->next;
    if (p->next)
        p->next->prev = p->prev;
    ptk_log(io->log, PTK_LOG_DEBUG,
            "%s: connection %llu closed (%llu bytes in from the local side, %llu from the peer)",
            p->transport_name, (unsigned long long)p->id, (unsigned long long)p->bytes_up,
            (unsigned long long)p->bytes_down);
    free(p);
    ptk_io_pair_removed(io);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    pair_free(arg);
}

void ptk_pair_close(struct ptk_pair *p)
{
    if (p->closing)
        return;
    p->closing = true;
    if (p->wire)
        ptk_sock_disable(p->wire);
    if (p->app)
        ptk_sock_disable(p->app);
    if (p->app_bev)
        bufferevent_disable(p->app_bev, EV_READ | EV_WRITE);
    if (p->ttimer)
        evtimer_del(p->ttimer);
    if (p->deadline)
        evtimer_del(p->deadline);
    struct timeval tv = {0, 0};
    evtimer_add(p->reaper, &tv);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_pair *p = arg;
    if (p->closing)
        return;
    ptk_log(p->io->log, PTK_LOG_INFO, "%s: connection %llu: setup timed out", p->transport_name,
            (unsigned long long)p->id);
    if (p->on_deadline)
        p->on_deadline(p);
    else
        ptk_pair_close(p);
}

struct ptk_pair *ptk_pair_new(struct ptk_io *io, const struct ptk_transport_ops *ops,
                              const char *transport_name, bool is_server)
{
    struct ptk_pair *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->io = io;
    p->ops = ops;
    p->transport_name = transport_name;
    p->is_server = is_server;
    p->app_pending = evbuffer_new();
    p->deadline = evtimer_new(io->base, deadline_cb, p);
    p->reaper = evtimer_new(io->base, reap_cb, p);
    if (!p->app_pending || !p->deadline || !p->reaper) {
        if (p->app_pending)
            evbuffer_free(p->app_pending);
        if (p->deadline)
            event_free(p->deadline);
        if (p->reaper)
            event_free(p->reaper);
        free(p);
        return NULL;
    }
    p->wire_sink = (struct ptk_sink){sink_reserve, sink_commit, &p->wire_sc};
    p->app_sink = (struct ptk_sink){sink_reserve, sink_commit, &p->app_sc};
    struct timeval tv = {io->setup_timeout_ms / 1000, (io->setup_timeout_ms % 1000) * 1000};
    evtimer_add(p->deadline, &tv);
    ptk_io_pair_added(io);
    p->id = (uint64_t)io->n_total * io->id_stride + io->id_offset;
    p->next = io->pairs;
    if (io->pairs)
        io->pairs->prev = p;
    io->pairs = p;
    return p;
}

static struct evbuffer *app_target(struct ptk_pair *p)
{
    return p->app_ready ? ptk_sock_out(p->app) : p->app_pending;
}

static void xfer_init(struct ptk_pair *p, struct ptk_xfer *x)
{
    p->wire_sc.buf = ptk_sock_out(p->wire);
    p->app_sc.buf = app_target(p);
    x->wire = &p->wire_sink;
    x->app = &p->app_sink;
    x->now_ms = ptk_io_now_ms();
    x->unix_time = ptk_io_unix_time();
    x->timer_us = PTK_TIMER_KEEP;
    x->established = p->established;
    x->holding = p->holding;
}

/* Close because setup failed: the role may still owe its client an answer (SOCKS). */
static void setup_failed(struct ptk_pair *p)
{
    if (!p->established && p->on_setup_fail)
        p->on_setup_fail(p);
    else
        ptk_pair_close(p);
}

static void ttimer_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Act on a transport call's result. Returns false if the relay must stop
 * processing this pair now (closed, or silently discarding as a probe).
 */
static bool apply(struct ptk_pair *p, int r, struct ptk_xfer *x)
{
    p->holding = x->holding;
    if (x->timer_us != PTK_TIMER_KEEP) {
        if (!p->ttimer && !(p->ttimer = evtimer_new(p->io->base, ttimer_cb, p))) {
            ptk_pair_close(p);
            return false;
        }
        if (x->timer_us == 0) {
            evtimer_del(p->ttimer);
        } else {
            struct timeval tv = {(time_t)(x->timer_us / 1000000),
                                 (suseconds_t)(x->timer_us % 1000000)};
            evtimer_add(p->ttimer, &tv);
        }
    }
    if (r == PTK_EPROBE && p->is_server && !p->app && !p->app_bev) {
        if (!p->probing) {
            p->probing = true;
            evtimer_del(p->deadline);
            ptk_log(p->io->log, PTK_LOG_INFO,
                    "%s: connection %llu: handshake failed; discarding until the close delay",
                    p->transport_name, (unsigned long long)p->id);
            if (!p->ttimer || !evtimer_pending(p->ttimer, NULL))
                ptk_pair_close(p);
        }
        return false;
    }
    if (r < 0) {
        ptk_log(p->io->log, PTK_LOG_INFO, "%s: connection %llu: %s", p->transport_name,
                (unsigned long long)p->id, ptk_strerror(r));
        setup_failed(p);
        return false;
    }
    if (x->established && !p->established) {
        p->established = true;
        if (p->on_established)
            p->on_established(p);
        if (p->closing)
            return false;
    }
    return true;
}

static void update_pause(struct ptk_pair *p)
{
    size_t hw = p->io->high_water;
    /* wire reading pauses while the app side is backed up */
    if (p->wire && !p->close_after_flush)
        ptk_sock_set_reading(p->wire, evbuffer_get_length(app_target(p)) < hw);
    if (p->app && p->app_ready && !p->close_after_flush)
        ptk_sock_set_reading(p->app, evbuffer_get_length(ptk_sock_out(p->wire)) < hw);
}

/* Send what the transport produced (immediately; the rest when the socket drains). */
static void flush_both(struct ptk_pair *p)
{
    if (p->closing)
        return;
    if (p->wire)
        ptk_sock_flush(p->wire);
    if (p->app && p->app_ready)
        ptk_sock_flush(p->app);
}

/* Forward a half-close once everything before it has been written. */
static void maybe_shutdown(struct ptk_pair *p)
{
    if (p->closing)
        return;
    /* A partial unit (frame) left at the peer's EOF can never complete: drop it. */
    struct evbuffer *win = ptk_sock_in(p->wire);
    if (p->wire_eof && p->wire_stuck && evbuffer_get_length(win)) {
        ptk_log(p->io->log, PTK_LOG_DEBUG, "%s: connection %llu: %zu bytes cut off by the peer",
                p->transport_name, (unsigned long long)p->id, evbuffer_get_length(win));
        evbuffer_drain(win, evbuffer_get_length(win));
    }
    if (p->wire_eof && p->app_ready && !p->app_shut && evbuffer_get_length(win) == 0 &&
        evbuffer_get_length(ptk_sock_out(p->app)) == 0) {
        p->app_shut = true;
        shutdown(ptk_sock_fd(p->app), SHUT_WR);
    }
    if (p->app_eof && !p->wire_shut && !p->holding &&
        evbuffer_get_length(ptk_sock_in(p->app)) == 0 &&
        evbuffer_get_length(ptk_sock_out(p->wire)) == 0) {
        p->wire_shut = true;
        shutdown(ptk_sock_fd(p->wire), SHUT_WR);
    }
    if (p->app_shut && p->wire_shut)
        ptk_pair_close(p);
}

/* Run decode (or encode) over an input buffer in contiguous chunks. */
static void pump(struct ptk_pair *p, struct evbuffer *in, bool decode)
{
    size_t want = 0;
    for (;;) {
        size_t len = evbuffer_get_length(in);
        if (len == 0 || p->closing)
            return;
        size_t n = evbuffer_get_contiguous_space(in);
        if (n < want && n < len)
            n = want < len ? want : len;
        const uint8_t *d = evbuffer_pullup(in, (ev_ssize_t)n);
        if (!d) {
            ptk_pair_close(p);
            return;
        }
        struct ptk_xfer x;
        size_t used = 0;
        xfer_init(p, &x);
        int r = decode ? p->ops->decode(p->tconn, d, n, &used, &x)
                       : p->ops->encode(p->tconn, d, n, &used, &x);
        if (used > n)
            used = n;
        evbuffer_drain(in, used);
        if (decode)
            p->bytes_down += used;
        else
            p->bytes_up += used;
        if (!apply(p, r, &x))
            return;
        if (decode)
            p->wire_stuck = used == 0 && n >= len;
        if (used == 0) {
            if (n >= len)
                return; /* needs more input */
            want = n * 2 > 16384 ? n * 2 : 16384;
            continue;
        }
        want = 0;
        struct evbuffer *out = decode ? app_target(p) : ptk_sock_out(p->wire);
        if (evbuffer_get_length(out) >= p->io->high_water)
            return;
    }
}

static void pump_wire_to_app(struct ptk_pair *p)
{
    struct evbuffer *in = ptk_sock_in(p->wire);
    if (p->probing) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if ((p->ops->flags & PTK_TRANSPORT_PASSTHROUGH) && p->established) {
        p->bytes_down += evbuffer_get_length(in);
        evbuffer_add_buffer(app_target(p), in);
    } else {
        pump(p, in, true);
    }
}

static void pump_app_to_wire(struct ptk_pair *p)
{
    if (!p->app_ready || p->closing)
        return;
    struct evbuffer *in = ptk_sock_in(p->app);
    if ((p->ops->flags & PTK_TRANSPORT_PASSTHROUGH) && p->established) {
        p->bytes_up += evbuffer_get_length(in);
        evbuffer_add_buffer(ptk_sock_out(p->wire), in);
    } else {
        pump(p, in, false);
    }
}

/*
 * After any event: send what was produced; then, while flushing made room
 * for input that is already buffered (the peer may have nothing more to send,
 * so no read event would come), keep pumping; then adjust reading and
 * forward half-closes.
 */
static void after_io(struct ptk_pair *p)
{
    size_t hw = p->io->high_water;
    for (int round = 0; round < 8 && !p->closing; round++) {
        flush_both(p);
        if (p->closing)
            return;
        bool progress = false;
        struct evbuffer *win = ptk_sock_in(p->wire);
        size_t wl = evbuffer_get_length(win);
        if (wl && !p->wire_stuck && !p->probing && evbuffer_get_length(app_target(p)) < hw) {
            pump_wire_to_app(p);
            progress |= evbuffer_get_length(win) < wl;
        }
        if (p->closing)
            return;
        if (p->app && p->app_ready) {
            struct evbuffer *ain = ptk_sock_in(p->app);
            size_t al = evbuffer_get_length(ain);
            if (al && evbuffer_get_length(ptk_sock_out(p->wire)) < hw) {
                pump_app_to_wire(p);
                progress |= evbuffer_get_length(ain) < al;
            }
        }
        if (!progress)
            break;
    }
    if (p->closing)
        return;
    flush_both(p);
    update_pause(p);
    maybe_shutdown(p);
}

static void wire_read(void *ud, struct ptk_sock *s)
{
    struct ptk_pair *p = ud;
    if (p->closing)
        return;
    p->last_active_ms = ptk_io_now_ms();
    pump_wire_to_app(p);
    /* a decode may have completed the handshake or opened the send window */
    pump_app_to_wire(p);
    after_io(p);
}

static void app_read(void *ud, struct ptk_sock *s)
{
    struct ptk_pair *p = ud;
    if (p->closing || !p->app_ready)
        return;
    p->last_active_ms = ptk_io_now_ms();
    pump_app_to_wire(p);
    after_io(p);
}

static void sock_drain(void *ud, struct ptk_sock *s)
{
    struct ptk_pair *p = ud;
    if (p->closing)
        return;
    if (p->close_after_flush && s == p->app) {
        if (evbuffer_get_length(ptk_sock_out(s)) == 0)
            ptk_pair_close(p);
        return;
    }
    /* Output drained: data held back for backpressure may move again. */
    if (s == p->wire)
        pump_app_to_wire(p);
    else if (p->wire)
        pump_wire_to_app(p);
    after_io(p);
}

static void sock_error(void *ud, struct ptk_sock *s)
{
    struct ptk_pair *p = ud;
    if (p->closing)
        return;
    bool is_wire = s == p->wire;
    ptk_log(p->io->log, PTK_LOG_DEBUG, "%s: connection %llu: %s side error", p->transport_name,
            (unsigned long long)p->id, is_wire ? "wire" : "local");
    if (is_wire)
        setup_failed(p); /* before the handshake, the client still owes a SOCKS reply */
    else
        ptk_pair_close(p);
}

static void sock_eof(void *ud, struct ptk_sock *s)
{
    struct ptk_pair *p = ud;
    if (p->closing)
        return;
    if (s == p->wire) {
        p->wire_eof = true;
        if (p->probing) {
            ptk_pair_close(p);
            return;
        }
        if (!p->established) {
            /* the peer left before the handshake completed: nothing to deliver */
            setup_failed(p);
            return;
        }
        pump_wire_to_app(p);
    } else {
        if (p->close_after_flush)
            return;
        p->app_eof = true;
        pump_app_to_wire(p);
    }
    after_io(p);
}

static void ttimer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_pair *p = arg;
    if (p->closing)
        return;
    if (p->probing || !p->ops->timer) {
        ptk_pair_close(p);
        return;
    }
    struct ptk_xfer x;
    xfer_init(p, &x);
    int r = p->ops->timer(p->tconn, &x);
    if (!apply(p, r, &x))
        return;
    pump_app_to_wire(p);
    pump_wire_to_app(p);
    after_io(p);
}

static struct ptk_sock *make_sock(struct ptk_pair *p, struct bufferevent *bev)
{
    struct ptk_sock_cbs cbs = {NULL, sock_drain, sock_eof, sock_error, p};
    cbs.on_read = bev == p->app_bev ? app_read : wire_read;
    return ptk_sock_from_bev(bev, &cbs, p->io->high_water, p->io->high_water);
}

void ptk_pair_attach_wire(struct ptk_pair *p, struct bufferevent *bev)
{
    p->wire = make_sock(p, bev);
    if (!p->wire) {
        bufferevent_free(bev);
        ptk_pair_close(p);
        return;
    }
    ptk_sock_set_reading(p->wire, true);
}

bool ptk_pair_start(struct ptk_pair *p)
{
    if (p->closing || !p->wire)
        return false;
    struct ptk_xfer x;
    xfer_init(p, &x);
    int r = p->ops->start ? p->ops->start(p->tconn, &x) : PTK_OK;
    if (!apply(p, r, &x))
        return false;
    /* The wire may already hold bytes (e.g. after an upstream proxy's reply). */
    if (evbuffer_get_length(ptk_sock_in(p->wire)))
        wire_read(p, p->wire);
    else
        after_io(p);
    return !p->closing;
}

void ptk_pair_attach_app(struct ptk_pair *p, struct bufferevent *bev)
{
    p->app_bev = bev;
}

/* Convert the role's app bufferevent into the relay's socket. */
static bool take_app(struct ptk_pair *p)
{
    if (p->app)
        return true;
    struct bufferevent *bev = p->app_bev;
    p->app = make_sock(p, bev);
    if (!p->app)
        return false;
    p->app_bev = NULL;
    return true;
}

void ptk_pair_app_ready(struct ptk_pair *p)
{
    if (p->closing)
        return;
    if (!take_app(p)) {
        ptk_pair_close(p);
        return;
    }
    p->app_ready = true;
    p->last_active_ms = ptk_io_now_ms();
    evtimer_del(p->deadline);
    evbuffer_add_buffer(ptk_sock_out(p->app), p->app_pending);
    ptk_sock_set_reading(p->app, true);
    /* Bytes the app sent early (after its SOCKS request or tor's OKAY). */
    pump_app_to_wire(p);
    pump_wire_to_app(p);
    after_io(p);
}

void ptk_pair_close_after_flush(struct ptk_pair *p)
{
    if (p->closing)
        return;
    if (!p->app && !p->app_bev) {
        ptk_pair_close(p);
        return;
    }
    if (!take_app(p)) {
        ptk_pair_close(p);
        return;
    }
    p->close_after_flush = true;
    if (p->wire)
        ptk_sock_set_reading(p->wire, false);
    ptk_sock_set_reading(p->app, false);
    ptk_sock_flush(p->app);
    if (evbuffer_get_length(ptk_sock_out(p->app)) == 0)
        ptk_pair_close(p);
}

void ptk_io_close_all(struct ptk_io *io)
{
    while (io->pairs)
        pair_free(io->pairs);
}

/* Close relayed pairs with no traffic for io->idle_timeout_s. */
static void idle_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_io *io = arg;
    uint64_t now = ptk_io_now_ms(), limit = (uint64_t)io->idle_timeout_s * 1000;
    size_t closed = 0;
    for (struct ptk_pair *p = io->pairs; p; p = p->next) {
        if (p->closing || !p->app_ready || now - p->last_active_ms < limit)
            continue;
        ptk_pair_close(p); /* freed by its reaper: the list stays intact here */
        closed++;
    }
    if (closed)
        ptk_log(io->log, PTK_LOG_INFO, "closed %zu connection%s idle for %u s", closed,
                closed == 1 ? "" : "s", io->idle_timeout_s);
}

int ptk_io_start_idle_sweep(struct ptk_io *io)
{
    if (!io->idle_timeout_s || io->idle_sweep)
        return PTK_OK;
    io->idle_sweep = event_new(io->base, -1, EV_PERSIST, idle_sweep_cb, io);
    if (!io->idle_sweep)
        return PTK_ENOMEM;
    unsigned every = io->idle_timeout_s / 4;
    struct timeval tv = {every < 1 ? 1 : every > 60 ? 60 : every, 0};
    return event_add(io->idle_sweep, &tv) == 0 ? PTK_OK : PTK_EIO;
}
