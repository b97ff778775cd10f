/* Event loop and shutdown rules shared by managed and standalone mode (see pt/runner.h). */
#include "pt/runner.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ptkit/error.h"

/*
 * libevent reports its own trouble through one process-wide callback. The
 * program (not the library) owns the process, so routing it into our log at
 * debug level here is fine; embedders keep libevent's default.
 */
static const struct ptk_logger *libevent_logger;

static void libevent_log(int severity, const char *msg)
{
    ptk_log(libevent_logger, PTK_LOG_DEBUG, "libevent: %s", msg);
}

static void on_signal(evutil_socket_t sig, short what, void *arg);

int ptk_runner_init(struct ptk_runner *r, const struct ptk_pt_opts *o, bool log_to_out)
{
    memset(r, 0, sizeof(*r));
    ptk_buf_init(&r->line, 65536);
    r->out_fd = o->out_fd;
    if (ptk_logsink_init(&r->log, o->level, o->unsafe_logging, o->log_file,
                         log_to_out ? o->out_fd : -1) != PTK_OK)
        return PTK_EIO;
    r->log_ok = true;
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return PTK_ENOMEM;
    /* We never hand fds to other threads' bases; no locking needed inside libevent. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    r->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!r->base)
        return PTK_ENOMEM;
    libevent_logger = &r->log.logger;
    event_set_log_callback(libevent_log);
    ptk_io_init(&r->io, r->base, &r->log.logger);
    r->io.max_conns = o->max_conns;
    /* Catch the signals before any method line is printed: a parent may signal
     * as soon as it has read them, and the default action would skip the
     * shutdown rules (a SIGINT would not drain). They are acted on once
     * ptk_runner_run dispatches. */
    signal(SIGPIPE, SIG_IGN);
    r->ev_term = evsignal_new(r->base, SIGTERM, on_signal, r);
    r->ev_int = evsignal_new(r->base, SIGINT, on_signal, r);
    if (!r->ev_term || !r->ev_int || evsignal_add(r->ev_term, NULL) ||
        evsignal_add(r->ev_int, NULL))
        return PTK_ENOMEM;
    return PTK_OK;
}

void ptk_runner_say(struct ptk_runner *r, int rc)
{
    if (rc == PTK_OK)
        ptk_logsink_line(&r->log, r->out_fd, ptk_buf_data(&r->line), ptk_buf_len(&r->line));
    ptk_buf_reset(&r->line);
}

void ptk_runner_keep(struct ptk_runner *r, const struct ptk_transport_ops *ops, void *inst,
                     bool server)
{
    if (r->n_inst < PTK_RUNNER_MAX)
        r->inst[r->n_inst++] = (typeof(r->inst[0])){ops, inst, server};
}

void ptk_runner_add_listener(struct ptk_runner *r, struct ptk_listener *l)
{
    r->ls[r->n_ls++] = l;
}

static void close_listeners(struct ptk_runner *r)
{
    for (size_t i = 0; i < r->n_ls; i++)
        ptk_listener_close(r->ls[i]);
    r->n_ls = 0;
}

static void stop_now(struct ptk_runner *r, const char *why)
{
    ptk_log(&r->log.logger, PTK_LOG_NOTICE, "%s; exiting", why);
    event_base_loopbreak(r->base);
}

static void on_drained(void *ud)
{
    struct ptk_runner *r = ud;
    stop_now(r, "all connections closed after SIGINT");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct ptk_runner *r = arg;
    if (sig == SIGTERM) {
        stop_now(r, "received SIGTERM");
        return;
    }
    if (++r->sigints >= 2) {
        stop_now(r, "received a second SIGINT");
        return;
    }
    close_listeners(r);
    r->io.draining = true;
    if (r->io.n_pairs == 0) {
        stop_now(r, "received SIGINT with no open connections");
        return;
    }
    ptk_log(&r->log.logger, PTK_LOG_NOTICE,
            "received SIGINT: no longer accepting; waiting for %zu connection(s) to close "
            "(SIGINT again to exit now)",
            r->io.n_pairs);
    r->io.on_drained = on_drained;
    r->io.drained_ud = r;
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_runner *r = arg;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
        return; /* tor sends nothing on stdin; ignore anything that comes */
    stop_now(r, "stdin closed (TOR_PT_EXIT_ON_STDIN_CLOSE=1)");
}

int ptk_runner_run(struct ptk_runner *r, bool watch_stdin)
{
    if (!r->ev_term || !r->ev_int)
        return 1;
    if (watch_stdin) {
        r->ev_stdin = event_new(r->base, 0, EV_READ | EV_PERSIST, on_stdin, r);
        if (!r->ev_stdin)
            return 1;
        if (event_add(r->ev_stdin, NULL) != 0) {
            /* Not pollable (e.g. /dev/null): a read tells whether it is at EOF. */
            char c;
            if (read(0, &c, 1) <= 0) {
                ptk_log(&r->log.logger, PTK_LOG_NOTICE, "stdin is closed; exiting");
                return 0;
            }
        }
    }
    event_base_dispatch(r->base);
    return 0;
}

void ptk_runner_free(struct ptk_runner *r)
{
    close_listeners(r);
    if (r->base)
        ptk_io_close_all(&r->io);
    for (size_t i = 0; i < r->n_inst; i++) {
        const struct ptk_transport_ops *ops = r->inst[i].ops;
        void (*fr)(void *) = r->inst[i].server ? ops->server_free : ops->client_free;
        if (fr && r->inst[i].inst)
            fr(r->inst[i].inst);
    }
    if (r->ev_term)
        event_free(r->ev_term);
    if (r->ev_int)
        event_free(r->ev_int);
    if (r->ev_stdin)
        event_free(r->ev_stdin);
    if (r->base) {
        ptk_io_free(&r->io);
        event_base_free(r->base);
    }
    if (r->log_ok) {
        event_set_log_callback(NULL);
        libevent_logger = NULL;
        ptk_logsink_free(&r->log);
    }
    ptk_buf_free(&r->line);
    memset(r, 0, sizeof(*r));
}
