/* Event loop and shutdown rules shared by managed and standalone mode (see pt/runner.h). */
#include "pt/runner.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "ptkit/error.h"

/*
 * libevent reports its own trouble through one process-wide callback. The
 * program (not the library) owns the process, so routing it into our log at
 * debug level here is fine; embedders keep libevent's default.
 */
static const struct ptk_logger *libevent_logger;
/* set while descriptor records are reserved: one expected failure per closed fd */
static atomic_bool libevent_quiet;

static void libevent_log(int severity, const char *msg)
{
    if (!atomic_load(&libevent_quiet))
        ptk_log(libevent_logger, PTK_LOG_DEBUG, "libevent: %s", msg);
}

/*
 * An event loop for the relay. The changelist makes libevent hand epoll the
 * net effect of a callback's event_add/event_del calls once per loop turn
 * (a connection's set-up toggles the same descriptor several times), instead
 * of one epoll_ctl per call. ptkit never dup()s a socket it watches, the
 * caveat libevent gives for this flag.
 */
static struct event_base *new_base(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *b = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return b;
}

static void on_signal(evutil_socket_t sig, short what, void *arg);
static void trim_cb(evutil_socket_t fd, short what, void *arg);

int ptk_runner_init(struct ptk_runner *r, const struct ptk_pt_opts *o, bool log_to_out)
{
    memset(r, 0, sizeof(*r));
    ptk_buf_init(&r->line, 65536);
    r->out_fd = o->out_fd;
    if (ptk_logsink_init(&r->log, o->level, o->unsafe_logging, o->log_file,
                         log_to_out ? o->out_fd : -1) != PTK_OK)
        return PTK_EIO;
    r->log_ok = true;
    /* Workers wake each other with event_active(): libevent needs its locks. */
    if (evthread_use_pthreads() != 0)
        return PTK_ENOMEM;
    r->base = new_base();
    if (!r->base)
        return PTK_ENOMEM;
    r->n_workers = 1;
    r->max_conns = o->max_conns;
    atomic_init(&r->limit.n, 0);
    r->limit.max = o->max_conns;
    /* A busy bridge holds two descriptors per connection: raise the soft limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    libevent_logger = &r->log.logger;
    event_set_log_callback(libevent_log);
    ptk_io_init(&r->io, r->base, &r->log.logger);
    r->io.limit = &r->limit;
    r->io.idle_timeout_s = o->idle_timeout_s;
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

unsigned ptk_runner_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > PTK_WORKERS_MAX ? PTK_WORKERS_MAX : (unsigned)n;
}

static void worker_ctl(evutil_socket_t fd, short what, void *arg);

unsigned ptk_runner_set_workers(struct ptk_runner *r, unsigned n)
{
    if (n < 1)
        n = 1;
    if (n > PTK_WORKERS_MAX)
        n = PTK_WORKERS_MAX;
    if (r->n_workers > 1 || r->n_ls > 0 || n == 1)
        return r->n_workers;
    r->workers = calloc(n - 1, sizeof(*r->workers));
    if (!r->workers)
        return 1;
    unsigned made = 1;
    for (unsigned i = 0; i < n - 1; i++) {
        struct ptk_worker *w = &r->workers[i];
        w->r = r;
        w->index = i + 1;
        if (!(w->base = new_base()) ||
            !(w->ctl = event_new(w->base, -1, EV_PERSIST, worker_ctl, w))) {
            if (w->base)
                event_base_free(w->base);
            w->base = NULL;
            break;
        }
        event_add(w->ctl, NULL); /* never fires by itself: keeps the loop alive */
        ptk_io_init(&w->io, w->base, &r->log.logger);
        made++;
    }
    r->n_workers = made;
    /* ids stay unique across loops; the limit is shared out */
    for (unsigned i = 0; i < made; i++) {
        struct ptk_io *io = i == 0 ? &r->io : &r->workers[i - 1].io;
        io->id_stride = made;
        io->id_offset = i;
        io->limit = &r->limit;
    }
    return made;
}

int ptk_runner_sync_io(struct ptk_runner *r)
{
    const struct ptk_io *m = &r->io;
    for (unsigned i = 0; i + 1 < r->n_workers; i++) {
        struct ptk_io *io = &r->workers[i].io;
        free(io->proxy.user);
        free(io->proxy.pass);
        io->proxy = m->proxy;
        io->proxy.user = m->proxy.user ? strdup(m->proxy.user) : NULL;
        io->proxy.pass = m->proxy.pass ? strdup(m->proxy.pass) : NULL;
        if ((m->proxy.user && !io->proxy.user) || (m->proxy.pass && !io->proxy.pass))
            return PTK_ENOMEM;
        io->has_bind_v4 = m->has_bind_v4;
        io->has_bind_v6 = m->has_bind_v6;
        io->bind_v4 = m->bind_v4;
        io->bind_v6 = m->bind_v6;
        io->setup_timeout_ms = m->setup_timeout_ms;
        io->high_water = m->high_water;
        io->idle_timeout_s = m->idle_timeout_s;
    }
    return PTK_OK;
}

int ptk_runner_listen(struct ptk_runner *r, enum ptk_listener_role role,
                      struct ptk_listener_cfg *cfg, struct sockaddr_storage *bound,
                      const char **why)
{
    struct ptk_listener *l = NULL;
    if (r->n_ls == PTK_RUNNER_MAX) {
        *why = "too many listeners";
        return PTK_ENOMEM;
    }
    cfg->reuseport = r->n_workers > 1;
    int rc = ptk_listener_open(&r->io, role, cfg, &l, why);
    if (rc != PTK_OK)
        return rc;
    r->ls[r->n_ls++] = l;
    *bound = l->bound;
    struct ptk_listener_cfg wc = *cfg;
    wc.listen = l->bound;
    wc.listen_len = l->bound_len;
    for (unsigned i = 0; i + 1 < r->n_workers; i++) {
        struct ptk_worker *w = &r->workers[i];
        struct ptk_listener *wl = NULL;
        if ((rc = ptk_listener_open(&w->io, role, &wc, &wl, why)) != PTK_OK)
            return rc;
        w->ls[w->n_ls++] = wl;
    }
    return PTK_OK;
}

static void close_listeners(struct ptk_runner *r)
{
    for (size_t i = 0; i < r->n_ls; i++)
        ptk_listener_close(r->ls[i]);
    r->n_ls = 0;
}

static void worker_drained(void *ud)
{
    struct ptk_worker *w = ud;
    atomic_fetch_add(&w->r->drained, 1);
    event_active(w->r->ev_drained, EV_READ, 0);
}

/* In a worker thread: the main thread asked it to drain or to stop. */
static void worker_ctl(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_worker *w = arg;
    int cmd = atomic_load(&w->r->cmd);
    if (cmd == 2) {
        event_base_loopbreak(w->base);
        return;
    }
    if (cmd == 1 && !w->io.draining) {
        for (size_t i = 0; i < w->n_ls; i++)
            ptk_listener_close(w->ls[i]);
        w->n_ls = 0;
        w->io.draining = true;
        w->io.on_drained = worker_drained;
        w->io.drained_ud = w;
        if (w->io.n_pairs == 0)
            worker_drained(w);
    }
}

static void *worker_main(void *arg)
{
    struct ptk_worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static void tell_workers(struct ptk_runner *r, int cmd)
{
    atomic_store(&r->cmd, cmd);
    for (unsigned i = 0; i + 1 < r->n_workers; i++)
        event_active(r->workers[i].ctl, EV_READ, 0);
}

static void stop_now(struct ptk_runner *r, const char *why)
{
    ptk_log(&r->log.logger, PTK_LOG_NOTICE, "%s; exiting", why);
    tell_workers(r, 2);
    event_base_loopbreak(r->base);
}

static void check_drained(struct ptk_runner *r)
{
    if (r->main_drained && atomic_load(&r->drained) + 1 >= r->n_workers)
        stop_now(r, "all connections closed after SIGINT");
}

static void on_drained(void *ud)
{
    struct ptk_runner *r = ud;
    r->main_drained = true;
    check_drained(r);
}

static void on_worker_drained(evutil_socket_t fd, short what, void *arg)
{
    check_drained(arg);
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
    tell_workers(r, 1);
    r->io.draining = true;
    r->io.on_drained = on_drained;
    r->io.drained_ud = r;
    ptk_log(&r->log.logger, PTK_LOG_NOTICE,
            "received SIGINT: no longer accepting; waiting for open connections to close "
            "(SIGINT again to exit now)");
    if (r->io.n_pairs == 0)
        on_drained(r);
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
    /* libevent's per-descriptor records up front (see ptk_io_reserve_fds) */
    struct rlimit nofile;
    int nfd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 1048576
                  ? (int)nofile.rlim_cur
                  : 65536;
    atomic_store(&libevent_quiet, true);
    ptk_io_reserve_fds(&r->io, nfd);
    for (unsigned i = 0; i + 1 < r->n_workers; i++)
        ptk_io_reserve_fds(&r->workers[i].io, nfd);
    atomic_store(&libevent_quiet, false);
    if (ptk_io_start_idle_sweep(&r->io) != PTK_OK)
        return 1;
    struct timeval every = {1, 0};
    r->ev_trim = event_new(r->base, -1, EV_PERSIST, trim_cb, r);
    if (!r->ev_trim || event_add(r->ev_trim, &every) != 0)
        return 1;
    for (unsigned i = 0; i + 1 < r->n_workers; i++) {
        r->workers[i].io.idle_timeout_s = r->io.idle_timeout_s;
        if (ptk_io_start_idle_sweep(&r->workers[i].io) != PTK_OK)
            return 1;
    }
    if (r->n_workers > 1) {
        r->ev_drained = event_new(r->base, -1, EV_PERSIST, on_worker_drained, r);
        if (!r->ev_drained)
            return 1;
        event_add(r->ev_drained, NULL);
        for (unsigned i = 0; i + 1 < r->n_workers; i++) {
            struct ptk_worker *w = &r->workers[i];
            w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
        }
        ptk_log(&r->log.logger, PTK_LOG_INFO, "serving with %u event loops", r->n_workers);
    }
    event_base_dispatch(r->base);
    return 0;
}

/*
 * After many connections close, glibc keeps their freed buffers in its arenas.
 * When the number of connections has fallen to under half of its peak, hand
 * the free memory back to the system, so a bridge returns to its baseline.
 */
static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_runner *r = arg;
    size_t n = atomic_load(&r->limit.n);
    if (n > r->trim_peak)
        r->trim_peak = n;
    if (r->trim_peak >= 64 && n < r->trim_peak / 2) {
        int freed = malloc_trim(0);
        ptk_log(&r->log.logger, PTK_LOG_DEBUG,
                "connections fell from %zu to %zu: free memory %s to the system", r->trim_peak,
                n, freed ? "returned" : "kept (none to return)");
        r->trim_peak = n;
    }
}

static void stop_workers(struct ptk_runner *r)
{
    tell_workers(r, 2);
    for (unsigned i = 0; i + 1 < r->n_workers; i++) {
        struct ptk_worker *w = &r->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        w->started = false;
    }
    for (unsigned i = 0; i + 1 < r->n_workers; i++) {
        struct ptk_worker *w = &r->workers[i];
        for (size_t k = 0; k < w->n_ls; k++)
            ptk_listener_close(w->ls[k]);
        w->n_ls = 0;
        if (w->base) {
            ptk_io_close_all(&w->io);
            ptk_io_free(&w->io);
            event_free(w->ctl);
            event_base_free(w->base);
        }
    }
    free(r->workers);
    r->workers = NULL;
    r->n_workers = 1;
}

void ptk_runner_free(struct ptk_runner *r)
{
    if (r->workers)
        stop_workers(r);
    if (r->ev_drained)
        event_free(r->ev_drained);
    if (r->ev_trim)
        event_free(r->ev_trim);
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
