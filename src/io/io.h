/*
 * The io layer's shared context: one per event loop.
 *
 * Everything that touches sockets hangs off a ptk_io: the libevent base
 * (owned by the caller), the logger, the outbound settings (upstream proxy,
 * outbound bind addresses), limits, and the count of live connection pairs so
 * that a graceful shutdown knows when the last one has closed.
 */
#ifndef PTK_IO_IO_H
#define PTK_IO_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "ptkit/env.h"
#include "ptkit/log.h"

struct evdns_base;

/* A connection limit shared by several io contexts (worker threads). */
struct ptk_conn_limit {
    atomic_size_t n;
    size_t max; /* 0: no limit */
};

struct ptk_io {
    struct event_base *base;      /* not owned */
    const struct ptk_logger *log; /* may be NULL */

    /* Outbound connections (client role, and the server role's dial to tor). */
    struct ptk_proxy proxy; /* upstream proxy for the client role; scheme NONE if none */
    bool has_bind_v4, has_bind_v6;
    struct sockaddr_storage bind_v4, bind_v6;
    struct evdns_base *dns; /* created on first name lookup */

    /* Limits and timeouts. */
    size_t max_conns;       /* 0: no limit */
    struct ptk_conn_limit *limit; /* if set, counts and limits pairs across contexts */
    unsigned setup_timeout_ms;  /* SOCKS + dial + handshake must finish within this */
    size_t high_water;      /* per-direction buffered bytes before reading pauses */
    unsigned idle_timeout_s;   /* close relayed pairs silent this long (0: never) */
    struct event *idle_sweep;  /* armed by ptk_io_start_idle_sweep */

    /* Live connection pairs, and what to do when the count drops to zero. */
    struct ptk_pair *pairs; /* intrusive list (io/relay.c) */
    struct ptk_proc *procs; /* child processes (io/process.c) */
    struct event *sigchld;
    size_t n_pairs;
    size_t n_total; /* connections accepted since start */
    unsigned id_stride, id_offset; /* pair ids: n_total * stride + offset (workers) */
    bool draining;
    void (*on_drained)(void *ud);
    void *drained_ud;
};

/* Fill defaults (no proxy, 60 s setup timeout, 256 KiB high water). */
void ptk_io_init(struct ptk_io *io, struct event_base *base, const struct ptk_logger *log);
/* Release what ptk_io_init and later calls created (not the base). */
void ptk_io_free(struct ptk_io *io);

struct ptk_pair;
/* Internal: connection accounting (io/relay.c keeps the list). */
void ptk_io_pair_added(struct ptk_io *io);
void ptk_io_pair_removed(struct ptk_io *io);
/* Free every live pair now (shutdown). */
void ptk_io_close_all(struct ptk_io *io);
/*
 * Make libevent allocate its per-descriptor records for descriptors 0..n-1
 * now, in one contiguous run. Otherwise it allocates each the first time a
 * descriptor number is used and keeps it for the life of the base; those
 * small records then sit between the buffers of live connections and keep
 * their pages from ever being returned after a peak of connections.
 */
void ptk_io_reserve_fds(struct ptk_io *io, int n);
/* Start closing pairs idle for io->idle_timeout_s (checked every few seconds). */
int ptk_io_start_idle_sweep(struct ptk_io *io);

/* Current monotonic time in milliseconds and wall-clock seconds. */
uint64_t ptk_io_now_ms(void);
int64_t ptk_io_unix_time(void);

#endif
