/*
 * What managed and standalone mode share: the event loops, the log sink,
 * the transport instances and listeners, and the shutdown rules (SIGTERM:
 * exit now; first SIGINT: stop accepting and exit when the last connection
 * closes; second SIGINT: exit now; stdin EOF: exit now when asked to watch
 * it).
 *
 * Workers: the main thread runs one event loop (signals, stdin, and its
 * share of connections); each extra worker thread runs another, with its
 * own listener on the same address (SO_REUSEPORT), so the kernel spreads
 * connections over all of them. Transport instances are shared: only
 * transports flagged PTK_TRANSPORT_THREADSAFE run with workers.
 */
#ifndef PTK_PT_RUNNER_H
#define PTK_PT_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "io/io.h"
#include "io/listener.h"
#include "io/logsink.h"
#include "pt/pt.h"
#include "ptkit/buf.h"
#include "ptkit/transport.h"

#define PTK_RUNNER_MAX 32
#define PTK_WORKERS_MAX 64

struct ptk_runner;

struct ptk_worker {
    struct ptk_runner *r;
    unsigned index; /* 1.. (the main thread is 0) */
    pthread_t thread;
    bool started;
    struct event_base *base;
    struct ptk_io io;
    struct ptk_listener *ls[PTK_RUNNER_MAX];
    size_t n_ls;
    struct event *ctl; /* activated by the main thread: act on r->cmd */
};

struct ptk_runner {
    struct event_base *base;
    struct ptk_io io;
    struct ptk_logsink log;
    bool log_ok;
    struct {
        const struct ptk_transport_ops *ops;
        void *inst;
        bool server;
    } inst[PTK_RUNNER_MAX];
    size_t n_inst;
    struct ptk_listener *ls[PTK_RUNNER_MAX];
    size_t n_ls;
    struct ptk_buf line; /* scratch for one protocol line */
    int out_fd;          /* where protocol lines go */
    struct event *ev_term, *ev_int, *ev_stdin;
    int sigints;
    size_t max_conns;
    struct ptk_conn_limit limit; /* shared by all event loops */
    struct ptk_worker *workers; /* n_workers - 1 extra threads */
    unsigned n_workers;         /* total, including the main thread */
    atomic_int cmd;             /* 0 run, 1 drain, 2 stop */
    atomic_uint drained;        /* workers (extra) with no connection left after a drain */
    struct event *ev_drained;   /* main base: a worker drained */
    struct event *ev_trim;      /* gives freed buffer memory back after a peak */
    size_t trim_peak;
    bool main_drained;
};

/* Protocol lines go to o->out_fd; log messages too (as LOG lines) if log_to_out. */
int ptk_runner_init(struct ptk_runner *r, const struct ptk_pt_opts *o, bool log_to_out);
/* If rc is PTK_OK, write r->line as a protocol line; then empty it. */
void ptk_runner_say(struct ptk_runner *r, int rc);
/* Record a transport instance to free at the end. */
void ptk_runner_keep(struct ptk_runner *r, const struct ptk_transport_ops *ops, void *inst,
                     bool server);
/*
 * Use n workers (1 = the main thread only). Call before opening listeners.
 * Returns the number actually used.
 */
unsigned ptk_runner_set_workers(struct ptk_runner *r, unsigned n);
/*
 * Open a listener on every worker (the first binds cfg->listen, the others
 * the address it got). The bound address is in *bound. *why on failure.
 */
int ptk_runner_listen(struct ptk_runner *r, enum ptk_listener_role role,
                      struct ptk_listener_cfg *cfg, struct sockaddr_storage *bound,
                      const char **why);
/* Copy the main io's outbound settings (proxy, bind addresses, limits) to the workers. */
int ptk_runner_sync_io(struct ptk_runner *r);
/* Workers to use by default: the number of online CPUs (at most PTK_WORKERS_MAX). */
unsigned ptk_runner_default_workers(void);
/* Start the optional stdin watcher and run until shutdown (signals are watched from init). */
int ptk_runner_run(struct ptk_runner *r, bool watch_stdin);
void ptk_runner_free(struct ptk_runner *r);

#endif
