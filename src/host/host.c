/*
 * ptkit host (see host/host.h).
 *
 * Each managed PT is a small state machine driven by its stdout lines,
 * following tor's handle_proxy_line():
 *
 *   LAUNCHED --VERSION 1--> ACCEPTING --*METHODS DONE--> CONFIGURED
 *      any protocol violation, PROXY-ERROR, exit or timeout before DONE: BROKEN
 *
 * A BROKEN PT is stopped and not restarted (its output would break it
 * again); a CONFIGURED PT that dies is relaunched after 1, 2, 4 ... 60 s.
 * ClientListen tunnels read the PT's current SOCKS address on every
 * connection, so a restarted PT on a new port is picked up at once.
 */
#include "host/host.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto/crypto.h"
#include "host/config.h"
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
#define MAX_METHODS 32
#define BACKOFF_MAX_S 60

enum pt_state {
    PT_LAUNCHED,   /* waiting for VERSION */
    PT_ACCEPTING,  /* reading method lines */
    PT_CONFIGURED, /* *METHODS DONE seen */
    PT_BROKEN,     /* protocol failure: stopped for good */
    PT_WAITING,    /* died after configuring: relaunch pending */
    PT_STOPPED,    /* shutting down / exited */
};

struct method {
    char name[128];
    int socks; /* client: 4 or 5; server: 0 */
    struct ptk_addr addr;
};

struct host;

struct pt {
    struct host *h;
    char label[160]; /* "obfs4proxy (obfs4)" for log lines */
    bool server;
    bool external; /* ClientTransportPlugin NAME socks5 ADDR: no process */
    char *const *argv;
    char *names[MAX_METHODS];
    size_t n_names;
    struct ptk_proc *proc;
    enum pt_state state;
    struct event *timer;
    unsigned backoff_s;
    uint64_t configured_ms;
    bool proxy_done;
    int stop_step; /* 0 running; 1 stdin closed; 2 SIGTERM sent; 3 SIGKILL sent */
    struct method methods[MAX_METHODS];
    size_t n_methods;
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
    struct event *ev_term, *ev_int, *ev_stop;
    bool shutting_down;
    int status;
};

static void pt_launch(struct pt *p);
static void pt_stop(struct pt *p);
static void check_done(struct host *h);

/* ---------- tunnels follow their PT's CMETHOD ---------- */

static void update_tunnels(struct host *h)
{
    for (size_t i = 0; i < h->n_tunnels; i++) {
        struct tunnel *t = &h->tunnels[i];
        const struct method *m = NULL;
        for (size_t k = 0; k < h->n_pts && !m; k++) {
            struct pt *p = &h->pts[k];
            if (p->server || p->state != PT_CONFIGURED)
                continue;
            for (size_t j = 0; j < p->n_methods && !m; j++)
                if (strcmp(p->methods[j].name, t->bridge->transport) == 0)
                    m = &p->methods[j];
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

/* ---------- the PT protocol, as tor reads it ---------- */

static void pt_broken(struct pt *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pt_broken(struct pt *p, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ptk_log(p->h->lg, PTK_LOG_ERROR, "PT %s failed the configuration protocol: %s; stopping it",
            p->label, msg);
    p->state = PT_BROKEN;
    p->n_methods = 0;
    update_tunnels(p->h);
    pt_stop(p);
}

static void handle_line(struct pt *p, const char *line, size_t len)
{
    struct host *h = p->h;
    struct ptk_msg m;
    const char *why = "";
    int r = ptk_msg_parse(line, len, &m, &why);
    /* show the line in debug logs, as tor does at info */
    ptk_log(h->lg, PTK_LOG_DEBUG, "PT %s: line: %.*s", p->label, (int)(len > 300 ? 300 : len),
            line);
    bool accepting = p->state == PT_ACCEPTING, launched = p->state == PT_LAUNCHED;
    switch (m.type) {
    case PTK_MSG_ENV_ERROR:
        pt_broken(p, "ENV-ERROR %s", m.text ? m.text : "");
        break;
    case PTK_MSG_VERSION_ERROR:
        pt_broken(p, "it supports no protocol version we offered (VERSION-ERROR)");
        break;
    case PTK_MSG_VERSION:
        if (!launched)
            pt_broken(p, "VERSION line out of order");
        else if (r != PTK_OK || strcmp(m.version, "1") != 0)
            pt_broken(p, "it chose version \"%s\"; only 1 was offered", m.version);
        else
            p->state = PT_ACCEPTING;
        break;
    case PTK_MSG_CMETHOD:
    case PTK_MSG_SMETHOD:
        if (!accepting) {
            pt_broken(p, "%s line %s", ptk_msg_type_name(m.type),
                      launched ? "before VERSION" : "after *METHODS DONE");
        } else if (r != PTK_OK) {
            pt_broken(p, "malformed %s line (%s): %.*s", ptk_msg_type_name(m.type), why,
                      (int)(len > 200 ? 200 : len), line);
        } else if ((m.type == PTK_MSG_SMETHOD) != p->server) {
            ptk_log(h->lg, PTK_LOG_WARNING, "PT %s: ignoring a %s line from a %s PT", p->label,
                    ptk_msg_type_name(m.type), p->server ? "server" : "client");
        } else if (p->n_methods < MAX_METHODS) {
            struct method *me = &p->methods[p->n_methods++];
            ptk_strlcpy(me->name, m.transport, sizeof(me->name));
            me->socks = m.socks_version;
            me->addr.ss = m.addr;
            me->addr.len = m.addrlen;
            char a[PTK_ADDRSTRLEN] = "?";
            ptk_addr_format((struct sockaddr *)&m.addr, a, sizeof(a));
            ptk_log(h->lg, PTK_LOG_NOTICE, "PT %s: %s %s at %s%s%s", p->label,
                    p->server ? "server transport" : "client transport", m.transport, a,
                    m.raw_args ? " ARGS:" : "", m.raw_args ? m.raw_args : "");
        }
        break;
    case PTK_MSG_CMETHOD_ERROR:
    case PTK_MSG_SMETHOD_ERROR:
        if (!accepting)
            pt_broken(p, "%s line out of order", ptk_msg_type_name(m.type));
        else
            ptk_log(h->lg, PTK_LOG_WARNING, "PT %s: %s %s: %s", p->label,
                    ptk_msg_type_name(m.type), m.transport, m.text ? m.text : "");
        break;
    case PTK_MSG_CMETHODS_DONE:
    case PTK_MSG_SMETHODS_DONE:
        if (!accepting) {
            pt_broken(p, "*METHODS DONE out of order");
        } else if (h->cfg.proxy_uri && !p->server && !p->proxy_done) {
            pt_broken(p, "it did not confirm the outgoing proxy (no PROXY DONE)");
        } else {
            p->state = PT_CONFIGURED;
            p->configured_ms = ptk_io_now_ms();
            evtimer_del(p->timer);
            ptk_log(h->lg, PTK_LOG_NOTICE, "PT %s configured with %zu transport%s", p->label,
                    p->n_methods, p->n_methods == 1 ? "" : "s");
            if (p->n_methods == 0)
                ptk_log(h->lg, PTK_LOG_WARNING, "PT %s offers none of the transports asked for",
                        p->label);
            update_tunnels(h);
        }
        break;
    case PTK_MSG_PROXY_DONE:
        if (!accepting)
            pt_broken(p, "PROXY DONE out of order");
        else if (!h->cfg.proxy_uri)
            ptk_log(h->lg, PTK_LOG_NOTICE, "PT %s: PROXY DONE without a proxy; ignored",
                    p->label);
        else
            p->proxy_done = true;
        break;
    case PTK_MSG_PROXY_ERROR:
        pt_broken(p, "PROXY-ERROR %s", m.text ? m.text : "");
        break;
    case PTK_MSG_LOG:
        if (r == PTK_OK)
            ptk_log(h->lg, m.severity, "PT %s: %s", p->label, m.text);
        else
            ptk_log(h->lg, PTK_LOG_WARNING, "PT %s: invalid LOG line (%s)", p->label, why);
        break;
    case PTK_MSG_STATUS:
        if (r == PTK_OK)
            ptk_log(h->lg, PTK_LOG_INFO, "PT %s: %.*s", p->label, /* the line is "STATUS ..." */
                    (int)(len > 300 ? 300 : len), line);
        else
            ptk_log(h->lg, PTK_LOG_WARNING, "PT %s: invalid STATUS line (%s)", p->label, why);
        break;
    case PTK_MSG_UNKNOWN:
        ptk_log(h->lg, PTK_LOG_NOTICE, "PT %s: unknown line ignored: %.*s", p->label,
                (int)(len > 200 ? 200 : len), line);
        break;
    }
    ptk_msg_free(&m);
}

static void on_line(void *ud, const char *line, size_t len, bool from_stderr)
{
    struct pt *p = ud;
    if (from_stderr) {
        ptk_log(p->h->lg, PTK_LOG_INFO, "PT %s: stderr: %.*s", p->label, (int)len, line);
        return;
    }
    if (p->state == PT_BROKEN || p->state == PT_STOPPED)
        return;
    handle_line(p, line, len);
}

static void pt_exited(void *ud, int status)
{
    struct pt *p = ud;
    struct host *h = p->h;
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "status %d", status);
    ptk_proc_free(p->proc);
    p->proc = NULL;
    evtimer_del(p->timer);
    if (p->stop_step || h->shutting_down || p->state == PT_BROKEN) {
        ptk_log(h->lg, PTK_LOG_INFO, "PT %s exited (%s)", p->label, how);
        if (p->state != PT_BROKEN)
            p->state = PT_STOPPED;
        p->stop_step = 0;
        check_done(h);
        return;
    }
    if (p->state != PT_CONFIGURED) {
        pt_broken(p, "it exited before finishing configuration (%s)", how);
        check_done(h);
        return;
    }
    /* A configured PT died: relaunch with exponential backoff. */
    uint64_t up = ptk_io_now_ms() - p->configured_ms;
    if (up >= (uint64_t)BACKOFF_MAX_S * 1000)
        p->backoff_s = 0;
    p->backoff_s = p->backoff_s ? 2 * p->backoff_s : 1;
    if (p->backoff_s > BACKOFF_MAX_S)
        p->backoff_s = BACKOFF_MAX_S;
    ptk_log(h->lg, PTK_LOG_WARNING, "PT %s died (%s); restarting in %u s", p->label, how,
            p->backoff_s);
    p->state = PT_WAITING;
    p->n_methods = 0;
    update_tunnels(h);
    struct timeval tv = {p->backoff_s, 0};
    evtimer_add(p->timer, &tv);
}

/* The PT's timer: configuration timeout, relaunch, or the next shutdown step. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pt *p = arg;
    struct host *h = p->h;
    if (p->stop_step && p->proc) {
        /* stdin closed and the grace period passed: SIGTERM, then SIGKILL */
        if (p->stop_step == 1) {
            ptk_log(h->lg, PTK_LOG_INFO, "PT %s: still running; sending SIGTERM", p->label);
            ptk_proc_signal(p->proc, SIGTERM);
            p->stop_step = 2;
            struct timeval tv = {h->cfg.shutdown_grace_s, 0};
            evtimer_add(p->timer, &tv);
        } else if (p->stop_step == 2) {
            ptk_log(h->lg, PTK_LOG_WARNING, "PT %s ignored SIGTERM; killing it", p->label);
            ptk_proc_signal(p->proc, SIGKILL); /* reaped by SIGCHLD -> on_exit */
            p->stop_step = 3;
        }
        return;
    }
    if (p->state == PT_LAUNCHED || p->state == PT_ACCEPTING) {
        pt_broken(p, "it did not finish configuration within %u s", h->cfg.config_timeout_s);
        return;
    }
    if (p->state == PT_WAITING && !h->shutting_down) {
        pt_launch(p);
        check_done(h); /* the relaunch may have failed at once (cannot execute) */
    }
}

static int build_env(struct pt *p, struct ptk_buf *vars)
{
    struct host *h = p->h;
    const struct host_config *c = &h->cfg;
    char names[4096] = "";
    int r = PTK_OK;
    for (size_t i = 0; i < p->n_names; i++)
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? "," : "",
                 p->names[i]);
    /* vars: NUL-separated "NAME=value" strings */
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (r == PTK_OK)                                                                           \
            r = ptk_buf_printf(vars, __VA_ARGS__);                                                 \
        if (r == PTK_OK)                                                                           \
            r = ptk_buf_put_u8(vars, 0);                                                           \
    } while (0)
    ADD("TOR_PT_STATE_LOCATION=%s/", h->state_dir);
    ADD("TOR_PT_MANAGED_TRANSPORT_VER=1");
    ADD("%s=%s", p->server ? "TOR_PT_SERVER_TRANSPORTS" : "TOR_PT_CLIENT_TRANSPORTS", names);
    if (p->server) {
        char a[PTK_ADDRSTRLEN];
        ptk_addr_format((struct sockaddr *)&h->orport->bound, a, sizeof(a));
        ADD("TOR_PT_ORPORT=%s", a);
        struct ptk_buf ba;
        ptk_buf_init(&ba, 8192);
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
        const char *bas = "";
        if (r == PTK_OK)
            r = ptk_buf_cstr(&ba, &bas);
        ADD("TOR_PT_SERVER_BINDADDR=%s", bas);
        ptk_buf_free(&ba);
        struct ptk_buf opts;
        ptk_buf_init(&opts, 65536);
        for (size_t i = 0; i < p->n_names && r == PTK_OK; i++) {
            const struct ptk_kvlist *kv = ptk_server_options_get(&c->server_options, p->names[i]);
            if (kv)
                r = ptk_server_options_encode(p->names[i], kv, &opts);
        }
        if (r == PTK_OK && ptk_buf_len(&opts)) {
            const char *os;
            r = ptk_buf_cstr(&opts, &os);
            ADD("TOR_PT_SERVER_TRANSPORT_OPTIONS=%s", os);
        }
        ptk_buf_free(&opts);
        if (h->extorport) {
            ptk_addr_format((struct sockaddr *)&h->extorport->bound, a, sizeof(a));
            ADD("TOR_PT_EXTENDED_SERVER_PORT=%s", a);
            ADD("TOR_PT_AUTH_COOKIE_FILE=%s", h->cookie_path);
        } else {
            ADD("TOR_PT_EXTENDED_SERVER_PORT=");
        }
    } else if (c->proxy_uri) {
        ADD("TOR_PT_PROXY=%s", c->proxy_uri);
    }
    ADD("TOR_PT_EXIT_ON_STDIN_CLOSE=1");
    char ip[PTK_ADDRSTRLEN];
    if (c->has_bind_v4 && ptk_addr_format_ip((struct sockaddr *)&c->bind_v4.ss, ip, sizeof(ip)) ==
                              PTK_OK)
        ADD("TOR_PT_OUTBOUND_BIND_ADDRESS_V4=%s", ip);
    if (c->has_bind_v6 && ptk_addr_format_ip((struct sockaddr *)&c->bind_v6.ss, ip, sizeof(ip)) ==
                              PTK_OK)
        ADD("TOR_PT_OUTBOUND_BIND_ADDRESS_V6=[%s]", ip);
#undef ADD
    return r;
}

static void pt_launch(struct pt *p)
{
    struct host *h = p->h;
    struct ptk_buf vars;
    ptk_buf_init(&vars, 1 << 20);
    char **envp = NULL;
    if (build_env(p, &vars) != PTK_OK) {
        pt_broken(p, "cannot build its environment");
        goto out;
    }
    /* Our environment, with the variables we set replacing any of the same name (as tor). */
    size_t nours = 0, ninh = 0;
    for (size_t i = 0; i < ptk_buf_len(&vars); i++)
        nours += ptk_buf_data(&vars)[i] == 0;
    for (char *const *e = h->o->envp; e && *e; e++)
        ninh++;
    envp = calloc(nours + ninh + 1, sizeof(*envp));
    if (!envp) {
        pt_broken(p, "out of memory");
        goto out;
    }
    size_t n = 0;
    const char *v = (const char *)ptk_buf_data(&vars);
    const char *ours[64];
    size_t no = 0;
    for (size_t off = 0; off < ptk_buf_len(&vars) && no < 64; off += strlen(v + off) + 1)
        ours[no++] = v + off;
    for (char *const *e = h->o->envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t klen = eq ? (size_t)(eq - *e) : strlen(*e);
        bool replaced = false;
        for (size_t k = 0; k < no && !replaced; k++)
            replaced = strncmp(ours[k], *e, klen) == 0 && ours[k][klen] == '=';
        if (!replaced)
            envp[n++] = *e;
    }
    for (size_t k = 0; k < no; k++)
        envp[n++] = (char *)ours[k];
    envp[n] = NULL;

    struct ptk_proc_cbs cbs = {on_line, pt_exited, p};
    const char *why = "";
    p->state = PT_LAUNCHED;
    p->n_methods = 0;
    p->proxy_done = false;
    p->stop_step = 0;
    if (ptk_proc_spawn(&h->io, p->argv, envp, &cbs, &p->proc, &why) != PTK_OK) {
        p->proc = NULL;
        pt_broken(p, "%s %s: %s", why, p->argv[0], strerror(errno));
        goto out;
    }
    ptk_log(h->lg, PTK_LOG_INFO, "PT %s launched (pid %d)", p->label, (int)ptk_proc_pid(p->proc));
    struct timeval tv = {h->cfg.config_timeout_s, 0};
    evtimer_add(p->timer, &tv);
out:
    free(envp);
    ptk_buf_free(&vars);
}

/* Shutdown of one PT: close stdin; after the grace period SIGTERM; after another, SIGKILL. */
static void pt_stop(struct pt *p)
{
    if (!p->proc || !ptk_proc_running(p->proc)) {
        if (p->state != PT_BROKEN)
            p->state = PT_STOPPED;
        evtimer_del(p->timer);
        return;
    }
    if (p->stop_step)
        return;
    p->stop_step = 1;
    ptk_proc_close_stdin(p->proc);
    struct timeval tv = {p->h->cfg.shutdown_grace_s, 0};
    evtimer_add(p->timer, &tv);
}

/* ---------- whole-host life cycle ---------- */

static void check_done(struct host *h)
{
    bool alive = false, usable = false;
    for (size_t i = 0; i < h->n_pts; i++) {
        struct pt *p = &h->pts[i];
        alive |= p->proc != NULL;
        usable |= p->state != PT_BROKEN && p->state != PT_STOPPED;
        usable |= p->external;
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
        pt_stop(&h->pts[i]);
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
            p->timer = evtimer_new(h->base, on_timer, p);
            if (!p->timer)
                return PTK_ENOMEM;
        }
        for (size_t k = 0; k < pl->n_transports && p->n_names < MAX_METHODS; k++)
            p->names[p->n_names++] = pl->transports[k];
        if (p->external) {
            struct method *m = &p->methods[p->n_methods++];
            ptk_strlcpy(m->name, pl->transports[0], sizeof(m->name));
            m->socks = pl->socks_version;
            m->addr = pl->addr;
            p->state = PT_CONFIGURED;
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
    /* Whatever is still running: SIGKILL and reap, so nothing outlives us. */
    for (size_t i = 0; i < h->n_pts; i++) {
        struct pt *p = &h->pts[i];
        if (p->proc) {
            pid_t pid = ptk_proc_pid(p->proc);
            bool running = ptk_proc_running(p->proc);
            ptk_proc_free(p->proc); /* SIGKILL if running */
            p->proc = NULL;
            if (running)
                waitpid(pid, NULL, 0);
        }
        if (p->timer)
            event_free(p->timer);
        p->timer = NULL;
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
        if (!h->pts[i].external)
            pt_launch(&h->pts[i]);
    check_done(h);
    /* a loopbreak before the loop runs is lost: do not enter it with nothing to wait for */
    bool alive = false;
    for (size_t i = 0; i < h->n_pts; i++)
        alive |= h->pts[i].proc != NULL;
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
