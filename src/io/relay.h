/*
 * The relay: one connection pair driven through a transport.
 *
 * A pair joins the "wire" side (the peer PT, obfuscated bytes) and the "app"
 * side (tor or a local program, plain bytes) through a transport's ops. The
 * role code (io/client.c, io/server.c) sets the pair up: it attaches the wire
 * connection and starts the transport, reacts to `on_established`, and once
 * the app side may receive relayed bytes (SOCKS success sent, ExtORPort OKAY
 * received) calls ptk_pair_app_ready(). Until then decoded bytes wait in a
 * capped pending buffer.
 *
 * Backpressure: when the buffer toward one side exceeds io->high_water,
 * reading from the other side pauses until it drains to half. EOF on one side
 * is forwarded as a half-close once everything before it is flushed; the
 * pair is freed when both directions are finished, on any error, or when the
 * setup deadline passes before the pair is fully up.
 */
#ifndef PTK_IO_RELAY_H
#define PTK_IO_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "io/io.h"
#include "io/sock.h"
#include "ptkit/transport.h"

struct ptk_pair;

struct ptk_sink_ctx {
    struct evbuffer *buf;
    struct evbuffer_iovec iov;
};

struct ptk_pair {
    struct ptk_io *io;
    struct ptk_pair *prev, *next; /* io->pairs */
    uint64_t id; /* for log lines */
    const char *transport_name;
    const struct ptk_transport_ops *ops;
    void *tconn; /* transport connection state (NULL until created) */
    bool is_server;

    struct ptk_sock *wire;
    struct bufferevent *app_bev; /* the app side while the role sets it up (SOCKS, ExtORPort) */
    struct ptk_sock *app;        /* the app side once relaying (or flushing a last reply) */
    bool app_ready;
    struct evbuffer *app_pending; /* decoded bytes waiting for the app side */

    struct event *ttimer;   /* the transport's timer */
    struct event *deadline; /* setup deadline */
    struct event *reaper;   /* frees the pair from the loop after a close */

    bool established;
    bool holding;    /* the transport paces output from its timer */
    bool wire_stuck; /* the decoder wants more than the wire input holds */
    bool probing;
    bool closing;
    bool close_after_flush; /* close once the app output is flushed (error replies) */
    bool app_eof, wire_eof;
    bool app_shut, wire_shut;
    bool app_paused, wire_paused; /* reading paused for backpressure */

    struct ptk_sink_ctx wire_sc, app_sc;
    struct ptk_sink wire_sink, app_sink;

    /* Role hooks. */
    void (*on_established)(struct ptk_pair *p);
    void (*on_deadline)(struct ptk_pair *p); /* may be NULL: just close */
    /* setup failed (handshake error, peer gone) before the pair was up; may be NULL */
    void (*on_setup_fail)(struct ptk_pair *p);
    void (*on_free)(struct ptk_pair *p);     /* release role state */
    void *role;

    uint64_t bytes_up, bytes_down; /* consumed from the app side, from the wire side */
    uint64_t last_active_ms;       /* last read from either side */
};

/* A new pair (counted in io->n_pairs) with its setup deadline armed. */
struct ptk_pair *ptk_pair_new(struct ptk_io *io, const struct ptk_transport_ops *ops,
                              const char *transport_name, bool is_server);
/* Take over the connected wire bufferevent (as a relay socket) and start reading it. */
void ptk_pair_attach_wire(struct ptk_pair *p, struct bufferevent *bev);
/* Call the transport's start (p->tconn must be set). False if the pair closed. */
bool ptk_pair_start(struct ptk_pair *p);
/* Take ownership of the app bufferevent (the role uses it until app_ready). */
void ptk_pair_attach_app(struct ptk_pair *p, struct bufferevent *bev);
/* The app side may now receive relayed bytes: flush pending, relay both ways. */
void ptk_pair_app_ready(struct ptk_pair *p);
/* Close the pair (freed from the loop; safe to call from any callback). */
void ptk_pair_close(struct ptk_pair *p);
/* Stop reading, flush what is queued toward the app, then close (failure replies). */
void ptk_pair_close_after_flush(struct ptk_pair *p);

#endif
