/*
 * ptkit host (see host/host.h).
 *
 * The host assembles the pieces: the configuration, one launcher per
 * distinct exec line (host/launcher.c supervises each PT as tor does), the
 * Extended ORPort and plain ORPort for server PTs (io/orport.c), and the
 * ClientListen tunnels. Tunnels read their PT's current SOCKS address on
 * every connection, so a restarted PT on a new port is picked up at once.
 * The host exits when asked, or with status 1 when no usable PT is left.
 */
#include "host/host.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto/crypto.h"
#include "host/config.h"
#include "host/launcher.h"
#include "io/dial.h"
#include "io/io.h"
#include "io/listener.h"
#include "io/logsink.h"
#include "io/process.h"
#include "proto/socks_client.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/extor.h"
#include "ptkit/msg.h"
#include "transport/plain.h"
#include "util/addr.h"
#include "util/file.h"
#include "util/str.h"

#define MAX_PTS 32

struct host;

/* One ClientTransportPlugin/ServerTransportPlugin process (or an external proxy). */
struct pt {
    struct host *h;
    bool server;
    bool external; /* ClientTransportPlugin NAME socks5 ADDR: no process */
    char *const *argv;
    char *names[PTK_PT_MAX_METHODS];
    size_t n_names;
    char label[160];
    struct ptk_pt *lp;              /* the launcher (managed PTs) */
    struct ptk_pt_method ext_method; /* the external proxy's one method */
};

struct tunnel {
    struct ptk_listener *l;
    const struct host_bridge *bridge;
    struct ptk_dial_via via; /* updated when the PT (re)configures */
    uint8_t user[256], pass[256]; /* SOCKS5: the args split as tor splits them */
    size_t userlen, passlen;
    uint8_t full[512]; /* SOCKS4: the whole encoded args are the USERID */
    size_t fulllen;
    bool has_args;
};

struct host {
    const struct host_opts *o;
    struct host_config cfg;
    struct event_base *base;
    struct ptk_io io;
    struct ptk_logsink log;
    bool log_ok;
    const struct ptk_logger *lg;
    struct pt pts[MAX_PTS];
    size_t n_pts;
    struct tunnel tunnels[MAX_PTS];
    size_t n_tunnels;
    struct ptk_listener *orport, *extorport;
    uint8_t cookie[PTK_EXTOR_COOKIE_LEN];
    char cookie_path[4096];
    char state_dir[4096];
    struct event *ev_term, *ev_int;
    bool shutting_down;
    int status;
};

static void check_done(struct host *h);

/* The methods a PT offers now (none unless configured). */
static size_t pt_methods(const struct pt *p, const struct ptk_pt_method **m)
{
    if (p->external) {
        *m = &p->ext_method;
        return 1;
    }
    if (!p->lp || ptk_pt_state(p->lp) != PTK_PT_CONFIGURED)
        return 0;
    return ptk_pt_methods(p->lp, m);
}

/* ---------- tunnels follow their PT's CMETHOD ---------- */

static void update_tunnels(struct host *h)
{
    for (size_t i = 0; i < h->n_tunnels; i++) {
        struct tunnel *t = &h->tunnels[i];
        const struct ptk_pt_method *m = NULL;
        for (size_t k = 0; k < h->n_pts && !m; k++) {
            const struct ptk_pt_method *ms;
            size_t n = h->pts[k].server ? 0 : pt_methods(&h->pts[k], &ms);
            for (size_t j = 0; j < n && !m; j++)
                if (strcmp(ms[j].name, t->bridge->transport) == 0)
                    m = &ms[j];
        }
        struct ptk_dial_via *v = &t->via;
        memset(v, 0, sizeof(*v));
        if (!m)
            continue; /* scheme NONE: connections are refused until the PT is back */
        v->scheme = m->socks == 4 ? PTK_PROXY_SOCKS4A : PTK_PROXY_SOCKS5;
        v->addr = m->addr.ss;
        v->addrlen = m->addr.len;
        if (t->has_args && m->socks == 4) {
            v->user = t->full;
            v->userlen = t->fulllen;
        } else if (t->has_args) {
            v->user = t->user;
            v->userlen = t->userlen;
            v->pass = t->pass;
            v->passlen = t->passlen;
        }
    }
}

/* Precompute what tor sends for a bridge's args: SOCKS5 user/pass split, or SOCKS4 USERID. */
static int tunnel_args(struct tunnel *t)
{
    struct ptk_buf enc;
    int r;
    ptk_buf_init(&enc, 1024);
    t->has_args = t->bridge->args.n > 0;
    if (!t->has_args)
        return PTK_OK;
    if ((r = ptk_args_encode(&t->bridge->args, &enc)) != PTK_OK)
        goto out;
    const uint8_t *u, *pw;
    size_t ul, pl;
    if ((r = ptk_socks_args_split((const char *)ptk_buf_data(&enc), ptk_buf_len(&enc), &u, &ul,
                                  &pw, &pl)) != PTK_OK)
        goto out;
    memcpy(t->user, u, ul);
    memcpy(t->pass, pw, pl);
    t->userlen = ul;
    t->passlen = pl;
    memcpy(t->full, ptk_buf_data(&enc), ptk_buf_len(&enc)); /* <= 510, checked by split */
    t->fulllen = ptk_buf_len(&enc);
out:
    ptk_buf_free(&enc);
    return r;
}

/* A PT changed state: tunnels follow; the host exits when nothing usable is left. */
static void pt_changed(void *ud, struct ptk_pt *lp)
{
    struct pt *p = ud;
    update_tunnels(p->h);
    check_done(p->h);
}

/* The environment tor would give this PT. */
static int pt_create(struct host *h, struct pt *p)
{
    const struct host_config *c = &h->cfg;
    char orport[PTK_ADDRSTRLEN] = "", extorport[PTK_ADDRSTRLEN] = "", v4[PTK_ADDRSTRLEN] = "",
         v6[PTK_ADDRSTRLEN] = "";
    struct ptk_buf ba, opts;
    const char *bas = "", *os = "";
    int r = PTK_OK;
    ptk_buf_init(&ba, 8192);
    ptk_buf_init(&opts, 65536);
    if (p->server) {
        ptk_addr_format((struct sockaddr *)&h->orport->bound, orport, sizeof(orport));
        if (h->extorport)
            ptk_addr_format((struct sockaddr *)&h->extorport->bound, extorport,
                            sizeof(extorport));
        for (size_t i = 0; i < p->n_names && r == PTK_OK; i++) {
            const char *bind = "0.0.0.0:0";
            char bbuf[PTK_ADDRSTRLEN];
            for (size_t k = 0; k < c->n_listen_addrs; k++)
                if (strcmp(c->listen_addrs[k].transport, p->names[i]) == 0 &&
                    ptk_addr_format((struct sockaddr *)&c->listen_addrs[k].addr.ss, bbuf,
                                    sizeof(bbuf)) == PTK_OK)
                    bind = bbuf;
            r = ptk_buf_printf(&ba, "%s%s-%s", i ? "," : "", p->names[i], bind);
        }
        for (size_t i = 0; i < p->n_names && r == PTK_OK; i++) {
            const struct ptk_kvlist *kv = ptk_server_options_get(&c->server_options, p->names[i]);
            if (kv)
                r = ptk_server_options_encode(p->names[i], kv, &opts);
        }
        if (r == PTK_OK)
            r = ptk_buf_cstr(&ba, &bas);
        if (r == PTK_OK)
            r = ptk_buf_cstr(&opts, &os);
    }
    if (c->has_bind_v4)
        ptk_addr_format_ip((struct sockaddr *)&c->bind_v4.ss, v4, sizeof(v4));
    if (c->has_bind_v6)
        ptk_addr_format_ip((struct sockaddr *)&c->bind_v6.ss, v6, sizeof(v6));
    struct ptk_pt_cfg pc = {
        .label = p->label,
        .server = p->server,
        .argv = p->argv,
        .names = p->names,
        .n_names = p->n_names,
        .env =
            {
                .state_dir = h->state_dir,
                .proxy_uri = p->server ? NULL : c->proxy_uri,
                .orport = p->server ? orport : NULL,
                .extorport = p->server && h->extorport ? extorport : NULL,
                .cookie_file = h->cookie_path,
                .bindaddr = bas,
                .server_options = os,
                .bind_v4 = c->has_bind_v4 ? v4 : NULL,
                .bind_v6 = c->has_bind_v6 ? v6 : NULL,
                .inherit = h->o->envp,
            },
        .config_timeout_s = c->config_timeout_s,
        .shutdown_grace_s = c->shutdown_grace_s,
        .restart = true,
    };
    if (r == PTK_OK && !(p->lp = ptk_pt_new(&h->io, &pc, pt_changed, p)))
        r = PTK_ENOMEM;
    ptk_buf_free(&ba);
    ptk_buf_free(&opts);
    return r;
}

/* ---------- whole-host life cycle ---------- */

static void check_done(struct host *h)
{
    bool alive = false, usable = false;
    for (size_t i = 0; i < h->n_pts; i++) {
        struct pt *p = &h->pts[i];
        if (p->external) {
            usable = true;
            continue;
        }
        if (!p->lp)
            continue;
        enum ptk_pt_state st = ptk_pt_state(p->lp);
        alive |= ptk_pt_alive(p->lp);
        usable |= st != PTK_PT_BROKEN && st != PTK_PT_STOPPED;
    }
    if (h->shutting_down && !alive) {
        event_base_loopbreak(h->base);
        return;
    }
    if (!h->shutting_down && !usable && h->n_pts > 0) {
        ptk_log(h->lg, PTK_LOG_ERROR, "no usable PT is left; exiting");
        h->status = 1;
        h->shutting_down = true;
        if (!alive)
            event_base_loopbreak(h->base);
    }
}

static void begin_shutdown(struct host *h, const char *why)
{
    if (h->shutting_down) {
        ptk_log(h->lg, PTK_LOG_NOTICE, "%s again: exiting now", why);
        event_base_loopbreak(h->base);
        return;
    }
    ptk_log(h->lg, PTK_LOG_NOTICE, "%s: stopping the PTs", why);
    h->shutting_down = true;
    for (size_t i = 0; i < h->n_tunnels; i++) {
        ptk_listener_close(h->tunnels[i].l);
        h->tunnels[i].l = NULL;
    }
    for (size_t i = 0; i < h->n_pts; i++)
        if (h->pts[i].lp)
            ptk_pt_stop(h->pts[i].lp);
    check_done(h);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    begin_shutdown(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int make_cookie(struct host *h, char *err, size_t errlen)
{
    const struct host_config *c = &h->cfg;
    uint8_t file[PTK_EXTOR_COOKIE_FILE_LEN];
    const char *why = "";
    if (c->cookie_file) {
        /* A fixed cookie shared by several hosts: use it if it is there, else create it. */
        ptk_strlcpy(h->cookie_path, c->cookie_file, sizeof(h->cookie_path));
        char *text = NULL;
        size_t len = 0;
        int r = ptk_file_read(h->cookie_path, 4096, &text, &len);
        if (r == PTK_OK) {
            r = ptk_extor_cookie_parse((const uint8_t *)text, len, h->cookie, &why);
            ptk_wipe(text, len);
            free(text);
            if (r != PTK_OK) {
                snprintf(err, errlen, "%s: %s", h->cookie_path, why);
                return PTK_EINVAL;
            }
            return PTK_OK;
        }
        if (r != PTK_ENOENT) {
            snprintf(err, errlen, "%s: %s", h->cookie_path, strerror(errno));
            return PTK_EINVAL;
        }
    } else if (ptk_path_join(h->cookie_path, sizeof(h->cookie_path), c->data_dir,
                             "extended_orport_auth_cookie") != PTK_OK) {
        snprintf(err, errlen, "DataDirectory path too long");
        return PTK_EINVAL;
    }
    /* tor writes a fresh cookie at every start; so do we. */
    ptk_extor_cookie_make(file);
    memcpy(h->cookie, file + 32, PTK_EXTOR_COOKIE_LEN);
    int r = ptk_file_write_atomic(h->cookie_path, file, sizeof(file), 0600);
    ptk_wipe(file, sizeof(file));
    if (r != PTK_OK) {
        snprintf(err, errlen, "cannot write %s: %s", h->cookie_path, strerror(errno));
        return PTK_EINVAL;
    }
    return PTK_OK;
}

static int open_orports(struct host *h, char *err, size_t errlen)
{
    struct ptk_listener_cfg lc;
    const char *why = "";
    for (int ext = 0; ext < 2; ext++) {
        if (ext && !h->cfg.extorport)
            break;
        memset(&lc, 0, sizeof(lc));
        lc.transport_name = ext ? "ExtORPort" : "ORPort";
        lc.ops = &ptk_transport_plain;
        ptk_addr_parse("127.0.0.1:0", 11, PTK_ADDR_PORT_ZERO_OK, (struct ptk_addr *)&lc.listen,
                       NULL);
        lc.listen_len = sizeof(struct sockaddr_in);
        lc.target = h->cfg.forward.ss;
        lc.target_len = h->cfg.forward.len;
        lc.extor_cookie = ext ? h->cookie : NULL;
        if (ptk_listener_open(&h->io, PTK_ROLE_ORPORT, &lc, ext ? &h->extorport : &h->orport,
                              &why) != PTK_OK) {
            snprintf(err, errlen, "cannot open the %s: %s: %s", lc.transport_name, why,
                     strerror(errno));
            return PTK_EIO;
        }
    }
    return PTK_OK;
}

static bool same_argv(char *const *a, char *const *b)
{
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return false;
    return !*a && !*b;
}

/* One PT per distinct (role, exec line); external proxies are configured at once. */
static int collect_pts(struct host *h, char *err, size_t errlen)
{
    for (size_t i = 0; i < h->cfg.n_plugins; i++) {
        const struct host_plugin *pl = &h->cfg.plugins[i];
        struct pt *p = NULL;
        for (size_t k = 0; k < h->n_pts && !p; k++)
            if (pl->argv && h->pts[k].argv && h->pts[k].server == pl->server &&
                same_argv(h->pts[k].argv, pl->argv))
                p = &h->pts[k];
        if (!p) {
            if (h->n_pts == MAX_PTS) {
                snprintf(err, errlen, "%s:%u: too many PTs (at most %d)", h->cfg.path, pl->lineno,
                         MAX_PTS);
                return PTK_EINVAL;
            }
            p = &h->pts[h->n_pts++];
            memset(p, 0, sizeof(*p));
            p->h = h;
            p->server = pl->server;
            p->argv = pl->argv;
            p->external = !pl->argv;
        }
        for (size_t k = 0; k < pl->n_transports && p->n_names < PTK_PT_MAX_METHODS; k++)
            p->names[p->n_names++] = pl->transports[k];
        if (p->external) {
            struct ptk_pt_method *m = &p->ext_method;
            ptk_strlcpy(m->name, pl->transports[0], sizeof(m->name));
            m->socks = pl->socks_version;
            m->addr = pl->addr;
        }
    }
    for (size_t i = 0; i < h->n_pts; i++) {
        struct pt *p = &h->pts[i];
        char *base = p->argv ? strrchr(p->argv[0], '/') : NULL;
        char names[100] = "";
        for (size_t k = 0; k < p->n_names; k++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", k ? "," : "",
                     p->names[k]);
        snprintf(p->label, sizeof(p->label), "%s %s (%s)",
                 p->external ? "external" : base ? base + 1 : p->argv[0],
                 p->server ? "server" : "client", names);
        if (!p->external && pt_create(h, p) != PTK_OK) {
            snprintf(err, errlen, "out of memory");
            return PTK_ENOMEM;
        }
    }
    return PTK_OK;
}

static int open_tunnels(struct host *h, char *err, size_t errlen)
{
    for (size_t i = 0; i < h->cfg.n_client_listens && i < MAX_PTS; i++) {
        const struct host_client_listen *cl = &h->cfg.client_listens[i];
        struct tunnel *t = &h->tunnels[h->n_tunnels++];
        memset(t, 0, sizeof(*t));
        t->bridge = &h->cfg.bridges[cl->bridge];
        if (tunnel_args(t) != PTK_OK) {
            snprintf(err, errlen, "%s:%u: bridge arguments do not fit in SOCKS", h->cfg.path,
                     t->bridge->lineno);
            return PTK_EINVAL;
        }
        struct ptk_listener_cfg lc;
        memset(&lc, 0, sizeof(lc));
        lc.transport_name = t->bridge->transport;
        lc.ops = &ptk_transport_plain;
        lc.listen = cl->listen.ss;
        lc.listen_len = cl->listen.len;
        lc.fixed = true;
        ptk_addr_format_ip((struct sockaddr *)&t->bridge->addr.ss, lc.fixed_host,
                           sizeof(lc.fixed_host));
        lc.fixed_port = ptk_addr_port((struct sockaddr *)&t->bridge->addr.ss);
        lc.via = &t->via;
        const char *why = "";
        if (ptk_listener_open(&h->io, PTK_ROLE_CLIENT, &lc, &t->l, &why) != PTK_OK) {
            char a[PTK_ADDRSTRLEN] = "?";
            ptk_addr_format((struct sockaddr *)&cl->listen.ss, a, sizeof(a));
            snprintf(err, errlen, "%s:%u: ClientListen %s: %s: %s", h->cfg.path, cl->lineno, a,
                     why, strerror(errno));
            return PTK_EIO;
        }
        char a[PTK_ADDRSTRLEN] = "?";
        ptk_addr_format((struct sockaddr *)&t->l->bound, a, sizeof(a));
        ptk_log(h->lg, PTK_LOG_NOTICE, "tunnel %s -> %s bridge at line %u", a,
                t->bridge->transport, t->bridge->lineno);
    }
    update_tunnels(h);
    return PTK_OK;
}

static void shutdown_all(struct host *h)
{
    /* Whatever is still running is killed and reaped: nothing outlives us. */
    for (size_t i = 0; i < h->n_pts; i++) {
        ptk_pt_free(h->pts[i].lp);
        h->pts[i].lp = NULL;
    }
    for (size_t i = 0; i < h->n_tunnels; i++)
        if (h->tunnels[i].l)
            ptk_listener_close(h->tunnels[i].l);
    if (h->orport)
        ptk_listener_close(h->orport);
    if (h->extorport)
        ptk_listener_close(h->extorport);
}

int host_run(const struct host_opts *o, char *err, size_t errlen)
{
    struct host *h = calloc(1, sizeof(*h));
    int status = 2;
    const char *why = "";
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    h->o = o;
    err[0] = '\0';
    if (host_config_load(o->config_path, &h->cfg, err, errlen) != PTK_OK)
        goto out;
    status = 1;
    if (ptk_crypto_init() != PTK_OK) {
        snprintf(err, errlen, "cannot initialise libsodium");
        goto out;
    }
    enum ptk_log_level lvl = o->log_level >= 0 ? (enum ptk_log_level)o->log_level
                                               : h->cfg.log_level;
    if (ptk_logsink_init(&h->log, lvl, o->unsafe_logging || h->cfg.unsafe_logging,
                         h->cfg.log_file, -1) != PTK_OK) {
        snprintf(err, errlen, "cannot open the log file %s: %s", h->cfg.log_file,
                 strerror(errno));
        goto out;
    }
    h->log_ok = true;
    h->lg = &h->log.logger;
    if (!(h->base = event_base_new())) {
        snprintf(err, errlen, "cannot create an event loop");
        goto out;
    }
    ptk_io_init(&h->io, h->base, h->lg);
    signal(SIGPIPE, SIG_IGN);
    h->ev_term = evsignal_new(h->base, SIGTERM, on_signal, h);
    h->ev_int = evsignal_new(h->base, SIGINT, on_signal, h);
    if (!h->ev_term || !h->ev_int || evsignal_add(h->ev_term, NULL) ||
        evsignal_add(h->ev_int, NULL) || ptk_io_watch_children(&h->io) != PTK_OK) {
        snprintf(err, errlen, "cannot install signal handlers");
        goto out;
    }
    if (ptk_mkdir_p(h->cfg.data_dir, &why) != PTK_OK ||
        ptk_path_join(h->state_dir, sizeof(h->state_dir), h->cfg.data_dir, "pt_state") !=
            PTK_OK ||
        ptk_mkdir_p(h->state_dir, &why) != PTK_OK) {
        snprintf(err, errlen, "DataDirectory %s: %s (%s)", h->cfg.data_dir, why, strerror(errno));
        goto out;
    }
    bool servers = false;
    for (size_t i = 0; i < h->cfg.n_plugins; i++)
        servers |= h->cfg.plugins[i].server;
    if (servers && ((h->cfg.extorport && make_cookie(h, err, errlen) != PTK_OK) ||
                    open_orports(h, err, errlen) != PTK_OK))
        goto out;
    if (collect_pts(h, err, errlen) != PTK_OK || open_tunnels(h, err, errlen) != PTK_OK)
        goto out;
    if (h->n_pts == 0) {
        snprintf(err, errlen, "%s: no ClientTransportPlugin or ServerTransportPlugin",
                 h->cfg.path);
        status = 2;
        goto out;
    }
    for (size_t i = 0; i < h->n_pts; i++)
        if (h->pts[i].lp)
            ptk_pt_launch(h->pts[i].lp);
    check_done(h);
    /* a loopbreak before the loop runs is lost: do not enter it with nothing to wait for */
    bool alive = false;
    for (size_t i = 0; i < h->n_pts; i++)
        alive |= h->pts[i].lp && ptk_pt_alive(h->pts[i].lp);
    if (!h->shutting_down || alive)
        event_base_dispatch(h->base);
    status = h->status;
out:
    if (h->base) {
        shutdown_all(h);
        ptk_io_close_all(&h->io);
        ptk_io_unwatch_children(&h->io);
        if (h->ev_term)
            event_free(h->ev_term);
        if (h->ev_int)
            event_free(h->ev_int);
        ptk_io_free(&h->io);
        event_base_free(h->base);
    }
    if (h->log_ok)
        ptk_logsink_free(&h->log);
    host_config_free(&h->cfg);
    ptk_wipe(h->cookie, sizeof(h->cookie));
    free(h);
    return status;
}
