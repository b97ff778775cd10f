/*
 * What managed and standalone mode share: the event base, the io context,
 * the log sink, the transport instances and listeners, and the shutdown
 * rules (SIGTERM: exit now; first SIGINT: stop accepting and exit when the
 * last connection closes; second SIGINT: exit now; stdin EOF: exit now when
 * asked to watch it).
 */
#ifndef PTK_PT_RUNNER_H
#define PTK_PT_RUNNER_H

#include <stdbool.h>

#include "io/io.h"
#include "io/listener.h"
#include "io/logsink.h"
#include "pt/pt.h"
#include "ptkit/buf.h"
#include "ptkit/transport.h"

#define PTK_RUNNER_MAX 32

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
};

/* Protocol lines go to o->out_fd; log messages too (as LOG lines) if log_to_out. */
int ptk_runner_init(struct ptk_runner *r, const struct ptk_pt_opts *o, bool log_to_out);
/* If rc is PTK_OK, write r->line as a protocol line; then empty it. */
void ptk_runner_say(struct ptk_runner *r, int rc);
/* Record a transport instance to free at the end. */
void ptk_runner_keep(struct ptk_runner *r, const struct ptk_transport_ops *ops, void *inst,
                     bool server);
void ptk_runner_add_listener(struct ptk_runner *r, struct ptk_listener *l);
/* Start the optional stdin watcher and run until shutdown (signals are watched from init). */
int ptk_runner_run(struct ptk_runner *r, bool watch_stdin);
void ptk_runner_free(struct ptk_runner *r);

#endif
