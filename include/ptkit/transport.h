/*
 * The transport ops table: one interface for every obfuscation protocol.
 *
 * A transport is a pure state machine: bytes in, bytes out, timers requested
 * by return value. It never touches sockets, clocks or files during relay
 * (setup may read and write its state directory). The io layer's relay loop
 * drives any transport between the local side ("app": tor, or a local
 * program) and the network side ("wire": the peer PT).
 *
 * Life cycle:
 *   server_setup / client_setup  once per listener (identity, options)
 *   server_new / client_new      once per connection
 *   start                        right after the connection exists (client:
 *                                send the handshake; server: arm a deadline)
 *   encode                       app bytes -> wire
 *   decode                       wire bytes -> app (and handshake replies -> wire)
 *   timer                        when a timer the transport asked for fires
 *   conn_free
 *
 * Every call gets a ptk_xfer: the two output sinks, the current time, and
 * out-fields the transport sets: a timer request, `established` once the
 * handshake has succeeded (the relay only then answers SOCKS with success on
 * the client side and dials tor on the server side), and `holding` while it
 * keeps output back to pace it (preset from the previous call).
 *
 * encode/decode may consume only part of their input (a partial frame, or
 * output paced by a timer); the relay keeps the rest and offers it again
 * together with new bytes, after any decode, and after the timer. They must
 * make progress when given a complete unit. Return 0 or a negative PTK_E*:
 * any error closes the connection, except PTK_EPROBE, which means "say
 * nothing, keep reading and discarding, close when the timer fires".
 */
#ifndef PTKIT_TRANSPORT_H
#define PTKIT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptkit/kv.h"
#include "ptkit/log.h"

/* Where a transport writes its output: reserve space, fill it, commit it. */
struct ptk_sink {
    /* At least n contiguous writable bytes, or NULL (out of memory). */
    uint8_t *(*reserve)(void *ud, size_t n);
    /* The first n reserved bytes are now data. */
    void (*commit)(void *ud, size_t n);
    void *ud;
};

/* Copy n bytes into a sink. PTK_ENOMEM if it cannot take them. */
int ptk_sink_put(struct ptk_sink *s, const void *p, size_t n);

#define PTK_TIMER_KEEP (-1) /* xfer.timer_us: leave the current timer alone */

struct ptk_xfer {
    struct ptk_sink *wire; /* toward the peer PT */
    struct ptk_sink *app;  /* toward the local side */
    uint64_t now_ms;       /* monotonic clock */
    int64_t unix_time;     /* wall clock, seconds (obfs4 epoch hours) */
    /* out */
    int64_t timer_us; /* PTK_TIMER_KEEP (preset), 0 = cancel, >0 = fire in that many µs */
    bool established; /* set once the handshake is done (sticky) */
    bool holding;     /* the transport holds output it will send from its timer
                       * (paced iat modes): the relay must not half-close yet */
};

/* Setup-time configuration of a client or server instance. */
struct ptk_transport_cfg {
    const char *state_dir;         /* TOR_PT_STATE_LOCATION or --state; may be NULL */
    const struct ptk_kvlist *opts; /* server transport options / --options; may be NULL */
    const struct ptk_logger *log;  /* for setup messages; may be NULL */
};

#define PTK_TRANSPORT_PASSTHROUGH 0x1 /* encode/decode are the identity: relay may skip them */
#define PTK_TRANSPORT_THREADSAFE 0x2  /* instances may serve connections on several threads */

struct ptk_transport_ops {
    const char *name;
    unsigned flags;

    /*
     * Once per server listener: load or create identity in cfg->state_dir,
     * apply options, and append the SMETHOD ARGS to `smethod_args` (e.g.
     * cert=..., iat-mode=...). On failure, write a one-line reason to err and
     * return PTK_ESTATE if the persistent state is unusable (a managed PT then
     * stops with ENV-ERROR rather than run with another identity) or another
     * PTK_E* for a problem of this transport alone (SMETHOD-ERROR).
     * May be NULL (no server role).
     */
    int (*server_setup)(const struct ptk_transport_cfg *cfg, void **server,
                        struct ptk_kvlist *smethod_args, char *err, size_t errlen);
    void (*server_free)(void *server);
    /* Once per client listener; may be NULL (then `client` is NULL below). */
    int (*client_setup)(const struct ptk_transport_cfg *cfg, void **client, char *err,
                        size_t errlen);
    void (*client_free)(void *client);

    /*
     * A new outgoing connection with its per-connection args (from SOCKS).
     * Bad or missing args: PTK_EINVAL and a reason naming the arg in err.
     */
    int (*client_new)(void *client, const struct ptk_kvlist *args, void **conn, char *err,
                      size_t errlen);
    /* A new incoming connection. */
    int (*server_new)(void *server, void **conn);
    void (*conn_free)(void *conn);

    int (*start)(void *conn, struct ptk_xfer *x);
    int (*encode)(void *conn, const uint8_t *in, size_t len, size_t *consumed,
                  struct ptk_xfer *x);
    int (*decode)(void *conn, const uint8_t *in, size_t len, size_t *consumed,
                  struct ptk_xfer *x);
    /* May be NULL if the transport never asks for a timer. */
    int (*timer)(void *conn, struct ptk_xfer *x);
};

/* The built-in transport called `name`, or NULL. */
const struct ptk_transport_ops *ptk_transport_find(const char *name);
/* The i-th built-in transport (NULL past the end), for listings. */
const struct ptk_transport_ops *ptk_transport_at(size_t i);

#endif
