/*
 * ptkit bench (see host/bench.h).
 *
 * Threads: one event-loop thread runs the PT launchers and the Extended
 * ORPort (sans-I/O codec from proto/, then echo or discard); the main
 * thread drives the phases with blocking sockets, one thread per stream or
 * handshake loop, so the load generator is simple and never the bottleneck
 * of a single stream. Counters shared between threads are atomics. Every
 * socket has a receive timeout, every phase a duration.
 */
#include "host/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "crypto/crypto.h"
#include "host/launcher.h"
#include "io/io.h"
#include "io/logsink.h"
#include "io/process.h"
#include "proto/socks_client.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/extor.h"
#include "util/addr.h"
#include "util/file.h"
#include "util/str.h"

enum sink_mode { MODE_ECHO = 0, MODE_DISCARD = 1 };

struct bench {
    const struct bench_opts *o;
    struct event_base *base;
    struct ptk_io io;
    struct ptk_logsink log;
    pthread_t loop;
    bool loop_running;
    struct evconnlistener *extor;
    struct ptk_addr extor_addr;
    uint8_t cookie[PTK_EXTOR_COOKIE_LEN];
    char dir[128], cookie_path[256];
    struct ptk_pt *server, *client;
    atomic_int server_state, client_state;

    /* from the PTs' method lines */
    struct ptk_addr socks, bridge;
    int socks_version;
    uint8_t user[256], pass[256];
    size_t userlen, passlen;
    bool has_args;

    /* shared with the loop thread */
    atomic_int mode;
    atomic_ullong sunk;
    atomic_uint auth_fail;
};

/* ---------- the Extended ORPort side (loop thread) ---------- */

struct sconn {
    struct bench *b;
    struct ptk_extor_server ext;
    bool open;
    int mode;
};

static void sconn_free(struct sconn *s, struct bufferevent *bev)
{
    ptk_extor_server_free(&s->ext);
    bufferevent_free(bev);
    free(s);
}

static void sconn_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        sconn_free(arg, bev);
}

static void sconn_read(struct bufferevent *bev, void *arg)
{
    struct sconn *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (s->open) {
        if (s->mode == MODE_ECHO) {
            evbuffer_add_buffer(bufferevent_get_output(bev), in);
        } else {
            atomic_fetch_add(&s->b->sunk, evbuffer_get_length(in));
            evbuffer_drain(in, evbuffer_get_length(in));
        }
        return;
    }
    struct ptk_buf out;
    size_t used = 0;
    ptk_buf_init(&out, 1024);
    int r = ptk_extor_server_feed(&s->ext, evbuffer_pullup(in, -1), evbuffer_get_length(in),
                                  &used, &out);
    evbuffer_drain(in, used);
    if (r == PTK_DONE)
        r = ptk_extor_server_reply(&s->ext, true, &out) == PTK_OK ? PTK_DONE : PTK_ENOMEM;
    bufferevent_write(bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
    if (r < 0) {
        atomic_fetch_add(&s->b->auth_fail, 1);
        sconn_free(s, bev);
        return;
    }
    if (r == PTK_DONE) {
        s->open = true;
        s->mode = atomic_load(&s->b->mode);
        if (evbuffer_get_length(in))
            sconn_read(bev, s);
    }
}

static void extor_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int salen, void *arg)
{
    struct bench *b = arg;
    struct bufferevent *bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct sconn *s = calloc(1, sizeof(*s));
    struct ptk_buf out;
    ptk_buf_init(&out, 16);
    if (!bev || !s || ptk_extor_server_init(&s->ext, b->cookie, &out) != PTK_OK) {
        if (s)
            ptk_extor_server_free(&s->ext);
        free(s);
        if (bev)
            bufferevent_free(bev);
        else
            close(fd);
        ptk_buf_free(&out);
        return;
    }
    s->b = b;
    bufferevent_write(bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
    bufferevent_setcb(bev, sconn_read, NULL, sconn_event, s);
    bufferevent_setwatermark(bev, EV_READ, 0, 1 << 20);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void pt_changed(void *ud, struct ptk_pt *pt)
{
    struct bench *b = ud;
    if (pt == b->server)
        atomic_store(&b->server_state, ptk_pt_state(pt));
    else
        atomic_store(&b->client_state, ptk_pt_state(pt));
}

static void *loop_main(void *arg)
{
    struct bench *b = arg;
    event_base_loop(b->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void run_launch(evutil_socket_t fd, short what, void *arg)
{
    ptk_pt_launch(arg);
}

static void run_stop(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    ptk_pt_stop(b->client);
    ptk_pt_stop(b->server);
}

static void run_break(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

/* ---------- helpers (main thread) ---------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct bench *b, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (!b->o->progress)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    b->o->progress(b->o->ud, msg);
}

static long proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* utime + stime of a process, in seconds. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double pair_rss(struct bench *b)
{
    return (double)proc_rss_kib(ptk_pt_pid(b->client)) + (double)proc_rss_kib(ptk_pt_pid(b->server));
}

/*
 * One connection the way tor makes it: SOCKS to the client PT with the
 * bridge's args, CONNECT to the server PT; then (echo mode) one byte there
 * and back. Returns the fd, or -1.
 */
static int open_conn(struct bench *b, bool roundtrip)
{
    int fd = socket(b->socks.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {15, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&b->socks.ss, b->socks.len) != 0)
        goto fail;
    char host[PTK_ADDRSTRLEN];
    ptk_addr_format_ip((struct sockaddr *)&b->bridge.ss, host, sizeof(host));
    struct ptk_socks_client_cfg cfg = {
        .version = b->socks_version,
        .host = host,
        .port = ptk_addr_port((struct sockaddr *)&b->bridge.ss),
    };
    if (b->has_args) {
        cfg.user = b->user;
        cfg.userlen = b->userlen;
        cfg.pass = b->pass;
        cfg.passlen = b->passlen;
    }
    struct ptk_socks_client sc;
    struct ptk_buf out;
    uint8_t in[512];
    size_t have = 0;
    ptk_buf_init(&out, 1024);
    int r = ptk_socks_client_init(&sc, &cfg, &out);
    while (r >= 0 && r != PTK_DONE) {
        if (ptk_buf_len(&out) && ptk_fd_write_all(fd, ptk_buf_data(&out), ptk_buf_len(&out)) != 0)
            break;
        ptk_buf_reset(&out);
        ssize_t n = read(fd, in + have, sizeof(in) - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t used = 0;
        r = ptk_socks_client_feed(&sc, in, have, &used, &out);
        memmove(in, in + used, have - used);
        have -= used;
    }
    ptk_socks_client_free(&sc);
    ptk_buf_free(&out);
    if (r != PTK_DONE)
        goto fail;
    if (roundtrip) {
        uint8_t c = 'x';
        if (ptk_fd_write_all(fd, &c, 1) != 0 || ptk_fd_read_all(fd, &c, 1) != 0 || c != 'x')
            goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---------- handshake phases ---------- */

struct hs_worker {
    struct bench *b;
    double until;
    double *lat; /* ms */
    size_t n, cap;
    unsigned errors;
    pthread_t t;
};

static void *hs_loop(void *arg)
{
    struct hs_worker *w = arg;
    while (now_s() < w->until) {
        double t0 = now_s();
        int fd = open_conn(w->b, true);
        double dt = (now_s() - t0) * 1000;
        if (fd < 0) {
            w->errors++;
            continue;
        }
        close(fd);
        if (w->n == w->cap) {
            size_t nc = w->cap ? 2 * w->cap : 1024;
            double *nl = realloc(w->lat, nc * sizeof(*nl));
            if (!nl)
                break;
            w->lat = nl;
            w->cap = nc;
        }
        w->lat[w->n++] = dt;
    }
    return NULL;
}

static void phase_handshakes(struct bench *b, unsigned parallel, struct bench_result *res)
{
    unsigned secs = b->o->hs_seconds;
    struct hs_worker *w = calloc(parallel, sizeof(*w));
    if (!w)
        return;
    atomic_store(&b->mode, MODE_ECHO);
    double start = now_s();
    for (unsigned i = 0; i < parallel; i++) {
        w[i].b = b;
        w[i].until = start + secs;
        pthread_create(&w[i].t, NULL, hs_loop, &w[i]);
    }
    size_t total = 0;
    unsigned errors = 0;
    for (unsigned i = 0; i < parallel; i++) {
        pthread_join(w[i].t, NULL);
        total += w[i].n;
        errors += w[i].errors;
    }
    double elapsed = now_s() - start;
    double rate = (double)total / elapsed;
    res->errors += errors;
    if (parallel == 1) {
        res->seq_hs_per_s = rate;
        if (total) {
            qsort(w[0].lat, total, sizeof(double), cmp_double);
            res->hs_p50_ms = w[0].lat[total / 2];
            res->hs_p99_ms = w[0].lat[(size_t)((double)(total - 1) * 0.99)];
        }
    } else {
        res->conc_hs_per_s = rate;
    }
    for (unsigned i = 0; i < parallel; i++)
        free(w[i].lat);
    free(w);
}

/* ---------- throughput phases ---------- */

struct sender {
    struct bench *b;
    int fd;
    atomic_bool *stop;
    unsigned errors;
    pthread_t t;
};

static void *send_loop(void *arg)
{
    static uint8_t chunk[65536]; /* contents do not matter; the transports encrypt */
    struct sender *s = arg;
    while (!atomic_load(s->stop))
        if (ptk_fd_write_all(s->fd, chunk, sizeof(chunk)) != 0) {
            s->errors += !atomic_load(s->stop); /* failures after the stop are ours */
            break;
        }
    return NULL;
}

/* Returns MiB/s at the Extended ORPort side over the window (after a warm-up). */
static double phase_throughput(struct bench *b, unsigned streams, double *cpu_per_gib,
                               unsigned *errors)
{
    struct sender *s = calloc(streams, sizeof(*s));
    atomic_bool stop = false;
    double mibs = 0;
    if (!s)
        return 0;
    atomic_store(&b->mode, MODE_DISCARD);
    unsigned opened = 0;
    /* all streams first, then the senders: a handshake queued behind streams
     * already at full speed would wait on them and stretch the phase */
    for (unsigned i = 0; i < streams; i++) {
        s[i].b = b;
        s[i].stop = &stop;
        s[i].fd = open_conn(b, false);
        if (s[i].fd < 0)
            (*errors)++;
    }
    for (unsigned i = 0; i < streams; i++)
        if (s[i].fd >= 0 && pthread_create(&s[i].t, NULL, send_loop, &s[i]) == 0)
            opened++;
        else if (s[i].fd >= 0) {
            close(s[i].fd);
            s[i].fd = -1;
            (*errors)++;
        }
    if (opened) {
        usleep(500000); /* warm-up */
        pid_t cp = ptk_pt_pid(b->client), sp = ptk_pt_pid(b->server);
        double cpu0 = proc_cpu_s(cp) + proc_cpu_s(sp);
        unsigned long long b0 = atomic_load(&b->sunk);
        double t0 = now_s();
        usleep((useconds_t)b->o->seconds * 1000000);
        unsigned long long b1 = atomic_load(&b->sunk);
        double t1 = now_s();
        double cpu1 = proc_cpu_s(cp) + proc_cpu_s(sp);
        double bytes = (double)(b1 - b0);
        mibs = bytes / (t1 - t0) / 1048576.0;
        if (cpu_per_gib && bytes > 0)
            *cpu_per_gib = (cpu1 - cpu0) / (bytes / 1073741824.0);
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < streams; i++) {
        if (s[i].fd < 0)
            continue;
        shutdown(s[i].fd, SHUT_RDWR); /* unblocks a sender stuck in write */
        pthread_join(s[i].t, NULL);
        close(s[i].fd);
        *errors += s[i].errors;
    }
    free(s);
    return mibs;
}

/* ---------- memory phases ---------- */

struct opener {
    struct bench *b;
    int *fds;
    unsigned from, to;
    unsigned failed;
    pthread_t t;
};

static void *open_range(void *arg)
{
    struct opener *o = arg;
    for (unsigned i = o->from; i < o->to; i++) {
        o->fds[i] = open_conn(o->b, true);
        o->failed += o->fds[i] < 0;
    }
    return NULL;
}

/* Open n pairs (echoed once, so both PTs hold them fully), in `par` threads. */
static unsigned open_many(struct bench *b, int *fds, unsigned n, unsigned par)
{
    struct opener *o = calloc(par, sizeof(*o));
    unsigned failed = 0;
    if (!o)
        return n;
    atomic_store(&b->mode, MODE_ECHO);
    for (unsigned i = 0; i < par; i++) {
        o[i].b = b;
        o[i].fds = fds;
        o[i].from = n * i / par;
        o[i].to = n * (i + 1) / par;
        pthread_create(&o[i].t, NULL, open_range, &o[i]);
    }
    for (unsigned i = 0; i < par; i++) {
        pthread_join(o[i].t, NULL);
        failed += o[i].failed;
    }
    free(o);
    return failed;
}

static void close_many(int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* RSS of both PTs once it has not changed for 2 s (20 s at most): lets them
 * notice closes and give freed memory back. A shorter window can read before
 * a PT's periodic trim (ptkit: every second) has run at all. */
static double settled_rss(struct bench *b)
{
    double prev = pair_rss(b), cur = prev;
    int stable = 0;
    for (int i = 0; i < 40 && stable < 4; i++) {
        usleep(500000);
        cur = pair_rss(b);
        stable = cur == prev ? stable + 1 : 0;
        prev = cur;
    }
    return cur;
}

static void phase_idle(struct bench *b, struct bench_result *res)
{
    unsigned n = b->o->idle;
    int *fds = calloc(n, sizeof(*fds));
    if (!fds || n == 0) {
        free(fds);
        return;
    }
    double base = settled_rss(b);
    unsigned failed = open_many(b, fds, n, 8);
    usleep(1000000);
    double with = pair_rss(b);
    res->errors += failed;
    if (n > failed)
        res->idle_kib_per_pair = (with - base) / (double)(n - failed);
    close_many(fds, n);
    free(fds);
}

static void phase_conns(struct bench *b, struct bench_result *res)
{
    unsigned n = b->o->conns;
    int *fds = calloc(n, sizeof(*fds));
    if (!fds)
        return;
    res->rss_base_kib = settled_rss(b);
    unsigned failed = open_many(b, fds, n, 16);
    usleep(1000000);
    res->rss_peak_kib = pair_rss(b);
    res->conns_ok = n - failed;
    res->conns_failed = failed;
    close_many(fds, n);
    res->rss_after_kib = settled_rss(b);
    free(fds);
}

/* ---------- setup ---------- */

static bool wait_state(atomic_int *st, double seconds)
{
    double until = now_s() + seconds;
    while (now_s() < until) {
        int s = atomic_load(st);
        if (s == PTK_PT_CONFIGURED)
            return true;
        if (s == PTK_PT_BROKEN || s == PTK_PT_STOPPED)
            return false;
        usleep(10000);
    }
    return false;
}

/* SMETHOD ARGS "k=v,k=v" -> the bridge's SOCKS args, split as tor splits them. */
static int set_args(struct bench *b, const char *smargs)
{
    struct ptk_kvlist kv = PTK_KVLIST_INIT;
    struct ptk_buf enc;
    const uint8_t *u, *p;
    size_t ul, pl;
    int r = ptk_smethod_args_parse(smargs, strlen(smargs), &kv, NULL);
    ptk_buf_init(&enc, 1024);
    if (r == PTK_OK && kv.n == 0) {
        b->has_args = false;
        goto out;
    }
    if (r == PTK_OK)
        r = ptk_args_encode(&kv, &enc);
    if (r == PTK_OK)
        r = ptk_socks_args_split((const char *)ptk_buf_data(&enc), ptk_buf_len(&enc), &u, &ul,
                                 &p, &pl);
    if (r == PTK_OK) {
        memcpy(b->user, u, ul);
        memcpy(b->pass, p, pl);
        b->userlen = ul;
        b->passlen = pl;
        b->has_args = true;
    }
out:
    ptk_kvlist_free(&kv);
    ptk_buf_free(&enc);
    return r;
}

static void raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t need = (rlim_t)want;
    if (rl.rlim_max < need) {
        struct rlimit up = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return; /* as root: both limits raised; the PTs inherit them */
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static int setup(struct bench *b, char *const *argv, struct bench_result *res)
{
    const struct bench_opts *o = b->o;
    const char *why = "";
    snprintf(b->dir, sizeof(b->dir), "/tmp/ptkit-bench-XXXXXX");
    if (!mkdtemp(b->dir)) {
        snprintf(res->error, sizeof(res->error), "mkdtemp: %s", strerror(errno));
        return -1;
    }
    uint8_t file[PTK_EXTOR_COOKIE_FILE_LEN];
    ptk_extor_cookie_make(file);
    memcpy(b->cookie, file + 32, PTK_EXTOR_COOKIE_LEN);
    ptk_path_join(b->cookie_path, sizeof(b->cookie_path), b->dir, "cookie");
    if (ptk_file_write_atomic(b->cookie_path, file, sizeof(file), 0600) != PTK_OK) {
        snprintf(res->error, sizeof(res->error), "cannot write the cookie");
        return -1;
    }
    evthread_use_pthreads();
    if (ptk_logsink_init(&b->log, PTK_LOG_WARNING, false, NULL, -1) != PTK_OK ||
        !(b->base = event_base_new()))
        return -1;
    ptk_io_init(&b->io, b->base, &b->log.logger);
    if (ptk_io_watch_children(&b->io) != PTK_OK)
        return -1;
    ptk_addr_parse("127.0.0.1:0", 11, PTK_ADDR_PORT_ZERO_OK, &b->extor_addr, NULL);
    b->extor = evconnlistener_new_bind(b->base, extor_accept, b,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                           LEV_OPT_CLOSE_ON_EXEC,
                                       4096, (struct sockaddr *)&b->extor_addr.ss,
                                       (int)b->extor_addr.len);
    if (!b->extor)
        return -1;
    b->extor_addr.len = sizeof(b->extor_addr.ss);
    getsockname(evconnlistener_get_fd(b->extor), (struct sockaddr *)&b->extor_addr.ss,
                &b->extor_addr.len);

    char ext[PTK_ADDRSTRLEN], bind[160], opts[64], sdir[256], cdir[256];
    ptk_addr_format((struct sockaddr *)&b->extor_addr.ss, ext, sizeof(ext));
    snprintf(bind, sizeof(bind), "%s-127.0.0.1:0", o->transport);
    snprintf(opts, sizeof(opts), "%s:iat-mode=%d", o->transport, o->iat_mode);
    snprintf(sdir, sizeof(sdir), "%s/server", b->dir);
    snprintf(cdir, sizeof(cdir), "%s/client", b->dir);
    char *names[1] = {(char *)o->transport};
    struct ptk_pt_cfg sc = {
        .label = "server",
        .server = true,
        .argv = argv,
        .names = names,
        .n_names = 1,
        .env = {.state_dir = sdir, .orport = ext, .extorport = ext,
                .cookie_file = b->cookie_path, .bindaddr = bind,
                .server_options = strcmp(o->transport, "obfs4") == 0 ? opts : NULL,
                .inherit = o->envp},
        .config_timeout_s = 30,
        .shutdown_grace_s = 2,
    };
    struct ptk_pt_cfg cc = sc;
    cc.label = "client";
    cc.server = false;
    cc.env = (struct ptk_pt_env){.state_dir = cdir, .inherit = o->envp};
    if (!(b->server = ptk_pt_new(&b->io, &sc, pt_changed, b)) ||
        !(b->client = ptk_pt_new(&b->io, &cc, pt_changed, b)))
        return -1;
    if (pthread_create(&b->loop, NULL, loop_main, b) != 0)
        return -1;
    b->loop_running = true;
    struct timeval zero = {0, 0};
    event_base_once(b->base, -1, EV_TIMEOUT, run_launch, b->server, &zero);
    if (!wait_state(&b->server_state, 30)) {
        snprintf(res->error, sizeof(res->error), "the server PT did not configure: %s",
                 ptk_pt_error(b->server));
        return -1;
    }
    const struct ptk_pt_method *m;
    size_t n = ptk_pt_methods(b->server, &m);
    if (n == 0) {
        snprintf(res->error, sizeof(res->error), "the server PT offers no %s", o->transport);
        return -1;
    }
    b->bridge = m[0].addr;
    if (set_args(b, m[0].args) != PTK_OK) {
        snprintf(res->error, sizeof(res->error), "bad SMETHOD ARGS");
        return -1;
    }
    event_base_once(b->base, -1, EV_TIMEOUT, run_launch, b->client, &zero);
    if (!wait_state(&b->client_state, 30)) {
        snprintf(res->error, sizeof(res->error), "the client PT did not configure: %s",
                 ptk_pt_error(b->client));
        return -1;
    }
    n = ptk_pt_methods(b->client, &m);
    if (n == 0) {
        snprintf(res->error, sizeof(res->error), "the client PT offers no %s", o->transport);
        return -1;
    }
    b->socks = m[0].addr;
    b->socks_version = m[0].socks;
    (void)why;
    return 0;
}

static void teardown(struct bench *b)
{
    if (b->loop_running) {
        struct timeval zero = {0, 0};
        event_base_once(b->base, -1, EV_TIMEOUT, run_stop, b, &zero);
        double until = now_s() + 10;
        while (now_s() < until && ((b->client && ptk_pt_alive(b->client)) ||
                                   (b->server && ptk_pt_alive(b->server))))
            usleep(20000);
        event_base_once(b->base, -1, EV_TIMEOUT, run_break, b->base, &zero);
        pthread_join(b->loop, NULL);
    }
    ptk_pt_free(b->client);
    ptk_pt_free(b->server);
    if (b->extor)
        evconnlistener_free(b->extor);
    if (b->base) {
        ptk_io_unwatch_children(&b->io);
        ptk_io_free(&b->io);
        event_base_free(b->base);
        ptk_logsink_free(&b->log);
    }
    if (b->dir[0])
        ptk_rm_rf(b->dir);
}

int bench_run(const struct bench_opts *o, const char *name, char *const *argv,
              struct bench_result *res)
{
    struct bench *b = calloc(1, sizeof(*b));
    memset(res, 0, sizeof(*res));
    ptk_strlcpy(res->name, name, sizeof(res->name));
    if (!b) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -1;
    }
    b->o = o;
    raise_nofile(2 * (o->conns > o->idle ? o->conns : o->idle) + 4096);
    progress(b, "%s: starting the client and server PTs", name);
    if (setup(b, argv, res) != 0) {
        if (!res->error[0])
            snprintf(res->error, sizeof(res->error), "setup failed: %s", strerror(errno));
        teardown(b);
        free(b);
        return -1;
    }
    unsigned ph = o->phases ? o->phases : ~0u;
    /* memory first: the later phases grow the PTs' heaps (and their trims shrink them) */
    if (ph & BENCH_IDLE) {
        progress(b, "%s: memory at %u idle connection pairs", name, o->idle);
        phase_idle(b, res);
    }
    if (ph & BENCH_HANDSHAKES) {
        progress(b, "%s: sequential handshakes (%u s)", name, o->hs_seconds);
        phase_handshakes(b, 1, res);
        progress(b, "%s: concurrent handshakes (%u loops, %u s)", name, o->hs_parallel,
                 o->hs_seconds);
        phase_handshakes(b, o->hs_parallel, res);
    }
    if (ph & BENCH_SINGLE) {
        progress(b, "%s: single-stream throughput (%u s)", name, o->seconds);
        res->single_mibs = phase_throughput(b, 1, &res->cpu_s_per_gib, &res->errors);
    }
    if (ph & BENCH_AGGREGATE) {
        progress(b, "%s: %u-stream throughput (%u s)", name, o->streams, o->seconds);
        res->aggregate_mibs = phase_throughput(b, o->streams, NULL, &res->errors);
    }
    if (o->conns) {
        progress(b, "%s: %u concurrent connections", name, o->conns);
        phase_conns(b, res);
    }
    res->ok = true;
    teardown(b);
    free(b);
    return 0;
}
