/*
 * ptkit check: what the runner plays for the PT on loopback, and the steps
 * that talk to it over the network (see host/check_int.h).
 *
 * Services (libevent, for the whole run; their records are reset per case):
 *   echo      - the data target: every byte comes back;
 *   orport    - a plain ORPort, also an echo;
 *   proxy     - a SOCKS5 upstream proxy for TOR_PT_PROXY (no authentication)
 *               that records each CONNECT and relays to its target;
 *   extorport - an Extended ORPort: SAFE_COOKIE with the run's cookie file,
 *               USERADDR and TRANSPORT recorded, OKAY held back
 *               CHK_OKAY_DELAY_MS after DONE so that a PT which sends data
 *               before OKAY is seen doing so, then an echo.
 * Peers (what speaks the transport on the other side of the PT): the echo
 * service or a bare TCP connection for plain, ptkit's own transport through
 * an in-process listener (io/listener.h) otherwise, or the user's bridge.
 *
 * The steps use non-blocking sockets and wait through chk_loop_until(), so
 * the services keep running while a step waits for the PT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "host/check_int.h"
#include "io/dial.h"
#include "io/listener.h"
#include "proto/socks_client.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/socks.h"
#include "util/file.h"
#include "util/str.h"

#define SOCKS_STEP_MS 4000 /* at most this long for one SOCKS exchange and its echo */
#define AUTH_STATUS_AT 66  /* offset of the auth status among the bytes the server sends */

enum conn_kind { CONN_ECHO, CONN_PROXY, CONN_UPSTREAM, CONN_EXTOR };
enum { P_GREET, P_REQUEST, P_CONNECTING, P_RELAY };
enum { X_AUTH, X_WAIT, X_OPEN };

struct chk_conn {
    struct chk_run *r;
    struct chk_conn *prev, *next;
    enum conn_kind kind;
    struct bufferevent *bev;
    struct chk_conn *peer; /* proxy <-> upstream */
    int state;
    struct ptk_extor_server ext;
    bool ext_init;
    size_t ext_sent; /* bytes the Extended ORPort codec has produced */
    struct event *timer;
};

/* ---------------- connections held by the services ---------------- */

static struct chk_conn *conn_new(struct chk_run *r, enum conn_kind kind, struct bufferevent *bev)
{
    struct chk_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->r = r;
    c->kind = kind;
    c->bev = bev;
    c->next = r->conns;
    if (r->conns)
        r->conns->prev = c;
    r->conns = c;
    return c;
}

static void conn_free(struct chk_conn *c)
{
    if (!c)
        return;
    struct chk_conn *peer = c->peer;
    c->peer = NULL;
    if (peer)
        peer->peer = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->r->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->timer)
        event_free(c->timer);
    if (c->ext_init)
        ptk_extor_server_free(&c->ext);
    if (c->bev)
        bufferevent_free(c->bev);
    free(c);
    conn_free(peer);
}

static void on_flushed_free(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(arg);
}

static void on_event_free(struct bufferevent *bev, short what, void *arg)
{
    struct chk_conn *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (c->kind == CONN_EXTOR)
            c->r->extor.closed = true;
        conn_free(c);
    }
}

/* Send what is queued, then close. */
static void close_after_flush(struct chk_conn *c)
{
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, NULL, on_flushed_free, on_event_free, c);
    on_flushed_free(c->bev, c);
}

static struct chk_conn *accept_conn(struct chk_run *r, enum conn_kind kind, evutil_socket_t fd)
{
    struct bufferevent *bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return NULL;
    }
    struct chk_conn *c = conn_new(r, kind, bev);
    if (!c)
        bufferevent_free(bev);
    return c;
}

static int listen_on(struct chk_run *r, evconnlistener_cb cb, struct evconnlistener **lev,
                     struct ptk_addr *addr)
{
    struct ptk_addr a;
    ptk_addr_parse("127.0.0.1:0", 11, PTK_ADDR_PORT_ZERO_OK, &a, NULL);
    *lev = evconnlistener_new_bind(
        r->base, cb, r, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 64,
        (struct sockaddr *)&a.ss, (int)a.len);
    if (!*lev)
        return PTK_EIO;
    addr->len = sizeof(addr->ss);
    if (getsockname(evconnlistener_get_fd(*lev), (struct sockaddr *)&addr->ss, &addr->len) != 0)
        return PTK_EIO;
    return PTK_OK;
}

/* ---------------- echo and ORPort ---------------- */

static void echo_read(struct bufferevent *bev, void *arg)
{
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void start_echo(struct chk_conn *c)
{
    bufferevent_setcb(c->bev, echo_read, NULL, on_event_free, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void accept_echo(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg)
{
    struct chk_run *r = arg;
    struct chk_conn *c = accept_conn(r, CONN_ECHO, fd);
    r->echo.accepted++;
    if (c)
        start_echo(c);
}

static void accept_orport(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    struct chk_run *r = arg;
    struct chk_conn *c = accept_conn(r, CONN_ECHO, fd);
    r->orport.accepted++;
    if (c)
        start_echo(c);
}

/* ---------------- the SOCKS5 upstream proxy ---------------- */

static void relay_read(struct bufferevent *bev, void *arg)
{
    struct chk_conn *c = arg;
    if (c->peer)
        evbuffer_add_buffer(bufferevent_get_output(c->peer->bev), bufferevent_get_input(bev));
}

static void proxy_reply(struct chk_conn *c, uint8_t code)
{
    static const uint8_t tail[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    uint8_t head[2] = {5, code};
    bufferevent_write(c->bev, head, 2);
    bufferevent_write(c->bev, tail, sizeof(tail));
}

static void upstream_event(struct bufferevent *bev, short what, void *arg)
{
    struct chk_conn *up = arg, *c = up->peer;
    if (what & BEV_EVENT_CONNECTED) {
        if (!c) {
            conn_free(up);
            return;
        }
        proxy_reply(c, 0);
        c->state = P_RELAY;
        bufferevent_setcb(up->bev, relay_read, NULL, on_event_free, up);
        bufferevent_enable(up->bev, EV_READ | EV_WRITE);
        evbuffer_add_buffer(bufferevent_get_output(up->bev), bufferevent_get_input(c->bev));
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (c && c->state == P_CONNECTING) {
        up->peer = c->peer = NULL;
        conn_free(up);
        proxy_reply(c, PTK_SOCKS_CONN_REFUSED);
        close_after_flush(c);
        return;
    }
    conn_free(up);
}

/* A CONNECT request is complete in `in` (need bytes): record it and dial. */
static void proxy_connect(struct chk_conn *c, const uint8_t *q, size_t need)
{
    struct chk_run *r = c->r;
    char host[256];
    uint16_t port = (uint16_t)(q[need - 2] << 8 | q[need - 1]);
    struct ptk_addr a;
    memset(&a, 0, sizeof(a));
    if (q[3] == 1)
        ptk_addr_from_ip(&a, AF_INET, q + 4, port);
    else if (q[3] == 4)
        ptk_addr_from_ip(&a, AF_INET6, q + 4, port);
    if (q[3] == 3) {
        snprintf(host, sizeof(host), "%.*s", (int)q[4], (const char *)q + 5);
        snprintf(r->proxy.last_target, sizeof(r->proxy.last_target), "%s:%u", host, (unsigned)port);
    } else {
        ptk_addr_format((struct sockaddr *)&a.ss, r->proxy.last_target,
                        sizeof(r->proxy.last_target));
    }
    r->proxy.connects++;
    struct bufferevent *ub = bufferevent_socket_new(r->base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct chk_conn *up = ub ? conn_new(r, CONN_UPSTREAM, ub) : NULL;
    if (!up) {
        if (ub)
            bufferevent_free(ub);
        proxy_reply(c, PTK_SOCKS_GENERAL_FAILURE);
        close_after_flush(c);
        return;
    }
    c->peer = up;
    up->peer = c;
    c->state = P_CONNECTING;
    bufferevent_setcb(ub, NULL, NULL, upstream_event, up);
    int rc = q[3] == 3 ? bufferevent_socket_connect_hostname(ub, NULL, AF_UNSPEC, host, port)
                       : bufferevent_socket_connect(ub, (struct sockaddr *)&a.ss, (int)a.len);
    if (rc != 0) {
        c->peer = up->peer = NULL;
        conn_free(up);
        proxy_reply(c, PTK_SOCKS_HOST_UNREACHABLE);
        close_after_flush(c);
    }
}

static void proxy_read(struct bufferevent *bev, void *arg)
{
    struct chk_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t have = evbuffer_get_length(in);
    if (c->state == P_GREET) {
        const uint8_t *g = evbuffer_pullup(in, have < 2 ? -1 : 2);
        if (have < 2)
            return;
        size_t need = 2 + (size_t)g[1];
        if (have < need)
            return;
        g = evbuffer_pullup(in, (ev_ssize_t)need);
        bool none = g[0] == 5 && memchr(g + 2, 0x00, g[1]) != NULL;
        uint8_t reply[2] = {5, none ? 0x00 : 0xff};
        evbuffer_drain(in, need);
        bufferevent_write(bev, reply, 2);
        if (!none) {
            close_after_flush(c);
            return;
        }
        c->state = P_REQUEST;
        have -= need;
    }
    if (c->state == P_REQUEST) {
        if (have < 5)
            return;
        const uint8_t *q = evbuffer_pullup(in, 5);
        size_t need = q[3] == 1 ? 10 : q[3] == 4 ? 22 : q[3] == 3 ? 7 + (size_t)q[4] : 0;
        if (q[0] != 5 || q[1] != 1 || need == 0) {
            proxy_reply(c, q[1] != 1 ? PTK_SOCKS_CMD_UNSUPPORTED : PTK_SOCKS_ATYP_UNSUPPORTED);
            close_after_flush(c);
            return;
        }
        if (have < need)
            return;
        q = evbuffer_pullup(in, (ev_ssize_t)need);
        uint8_t req[300];
        memcpy(req, q, need);
        evbuffer_drain(in, need);
        proxy_connect(c, req, need);
        return;
    }
    if (c->state == P_RELAY)
        relay_read(bev, c);
}

static void accept_proxy(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                         int salen, void *arg)
{
    struct chk_run *r = arg;
    struct chk_conn *c = accept_conn(r, CONN_PROXY, fd);
    if (!c)
        return;
    c->state = P_GREET;
    bufferevent_setcb(c->bev, proxy_read, NULL, on_event_free, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---------------- the Extended ORPort ---------------- */

/* Send what the codec produced, noting the SAFE_COOKIE status byte as it goes by. */
static void extor_send(struct chk_conn *c, struct ptk_buf *out)
{
    struct chk_extor *x = &c->r->extor;
    size_t n = ptk_buf_len(out);
    if (!x->auth_done && c->ext_sent <= AUTH_STATUS_AT && c->ext_sent + n > AUTH_STATUS_AT) {
        x->auth_done = true;
        x->auth_ok = ptk_buf_data(out)[AUTH_STATUS_AT - c->ext_sent] == 0x01;
    }
    c->ext_sent += n;
    if (n)
        bufferevent_write(c->bev, ptk_buf_data(out), n);
}

static void extor_okay(evutil_socket_t fd, short what, void *arg)
{
    struct chk_conn *c = arg;
    struct ptk_buf out;
    ptk_buf_init(&out, 16);
    if (ptk_extor_server_reply(&c->ext, true, &out) == PTK_OK)
        bufferevent_write(c->bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
    c->r->extor.okay_sent = true;
    c->state = X_OPEN;
    echo_read(c->bev, c);
}

static void extor_read(struct bufferevent *bev, void *arg)
{
    struct chk_conn *c = arg;
    struct chk_extor *x = &c->r->extor;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state == X_OPEN) {
        echo_read(bev, c);
        return;
    }
    if (c->state == X_WAIT) {
        x->early = evbuffer_get_length(in); /* kept, and echoed after OKAY */
        return;
    }
    struct ptk_buf out;
    size_t used = 0;
    ptk_buf_init(&out, 256);
    int r = ptk_extor_server_feed(&c->ext, evbuffer_pullup(in, -1), evbuffer_get_length(in), &used,
                                  &out);
    evbuffer_drain(in, used);
    extor_send(c, &out);
    ptk_buf_free(&out);
    if (r < 0) {
        x->auth_done = true;
        ptk_strlcpy(x->error, ptk_extor_server_error(&c->ext), sizeof(x->error));
        close_after_flush(c);
        return;
    }
    if (r != PTK_DONE)
        return;
    x->got_done = true;
    x->has_useraddr = c->ext.useraddr != NULL;
    x->has_transport = c->ext.transport != NULL;
    ptk_strlcpy(x->useraddr, c->ext.useraddr ? c->ext.useraddr : "", sizeof(x->useraddr));
    ptk_strlcpy(x->transport, c->ext.transport ? c->ext.transport : "", sizeof(x->transport));
    x->early = evbuffer_get_length(in);
    c->state = X_WAIT;
    struct timeval tv = {0, CHK_OKAY_DELAY_MS * 1000};
    if ((c->timer = evtimer_new(c->r->base, extor_okay, c)) != NULL)
        evtimer_add(c->timer, &tv);
}

static void accept_extor(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                         int salen, void *arg)
{
    struct chk_run *r = arg;
    struct chk_conn *c = accept_conn(r, CONN_EXTOR, fd);
    if (!c)
        return;
    r->extor.conns++;
    struct ptk_buf out;
    ptk_buf_init(&out, 16);
    if (ptk_extor_server_init(&c->ext, r->extor.cookie, &out) != PTK_OK) {
        ptk_buf_free(&out);
        conn_free(c);
        return;
    }
    c->ext_init = true;
    c->state = X_AUTH;
    extor_send(c, &out);
    ptk_buf_free(&out);
    bufferevent_setcb(c->bev, extor_read, NULL, on_event_free, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* ---------------- peers ---------------- */

static void peer_client_role(struct chk_run *r, char *err, size_t errlen, int *rc)
{
    const struct check_opts *o = r->o;
    struct chk_peer *p = &r->peer;
    const struct ptk_transport_ops *ops = ptk_transport_find(o->transport);
    bool plain = strcmp(o->transport, "plain") == 0;
    *rc = PTK_OK;
    if (o->bridge) {
        const char *why = "";
        if (ptk_addr_parse(o->bridge, strlen(o->bridge), 0, &p->addr, &why) != PTK_OK) {
            snprintf(err, errlen, "--bridge %s: %s (a literal IP:PORT)", o->bridge, why);
            *rc = PTK_EINVAL;
            return;
        }
        p->kind = CHK_PEER_EXTERNAL;
        ptk_strlcpy(p->args, o->args ? o->args : "", sizeof(p->args));
        snprintf(p->why, sizeof(p->why), "the bridge at %s (--bridge; echo not checked)",
                 o->bridge);
        return;
    }
    if (o->args && !plain) {
        snprintf(err, errlen,
                 "--args goes with --bridge (without it ptkit's own %s server and "
                 "its arguments are used)",
                 o->transport);
        *rc = PTK_EINVAL;
        return;
    }
    if (plain) {
        p->kind = CHK_PEER_ECHO;
        p->addr = r->echo.addr;
        ptk_strlcpy(p->args, o->args ? o->args : "", sizeof(p->args));
        snprintf(p->why, sizeof(p->why), "an echo service as the plain bridge");
        return;
    }
    if (!ops || !ops->server_setup) {
        snprintf(p->why, sizeof(p->why),
                 "no %s server to connect to: give one with --bridge IP:PORT --args 'k=v;...'",
                 o->transport);
        return;
    }
    snprintf(p->why, sizeof(p->why), "ptkit's own %s server, in-process", o->transport);
    char state[300], terr[256] = "";
    const char *why = "";
    struct ptk_kvlist args = PTK_KVLIST_INIT;
    struct ptk_buf enc;
    ptk_buf_init(&enc, 520);
    snprintf(state, sizeof(state), "%s/peer-state", r->dir);
    struct ptk_transport_cfg tc = {state, NULL, NULL};
    struct ptk_listener_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    if (ptk_mkdir_p(state, &why) != PTK_OK ||
        ops->server_setup(&tc, &p->inst, &args, terr, sizeof(terr)) != PTK_OK) {
        snprintf(p->why, sizeof(p->why), "ptkit's own %s server did not start: %.150s",
                 o->transport, terr[0] ? terr : why);
        p->inst = NULL;
        goto out;
    }
    p->ops = ops;
    cfg.transport_name = ops->name;
    cfg.ops = ops;
    cfg.instance = p->inst;
    struct ptk_addr lo;
    ptk_addr_parse("127.0.0.1:0", 11, PTK_ADDR_PORT_ZERO_OK, &lo, NULL);
    cfg.listen = lo.ss;
    cfg.listen_len = lo.len;
    cfg.target = r->echo.addr.ss;
    cfg.target_len = r->echo.addr.len;
    if (ptk_args_encode(&args, &enc) != PTK_OK || ptk_buf_len(&enc) >= sizeof(p->args) ||
        ptk_listener_open(&r->io, PTK_ROLE_SERVER, &cfg, &p->bridge, &why) != PTK_OK) {
        snprintf(p->why, sizeof(p->why), "ptkit's own %s server did not start: %.150s",
                 o->transport, why[0] ? why : "arguments too long");
        p->bridge = NULL;
        goto out;
    }
    memcpy(p->args, ptk_buf_data(&enc), ptk_buf_len(&enc));
    p->args[ptk_buf_len(&enc)] = '\0';
    p->addr.ss = p->bridge->bound;
    p->addr.len = p->bridge->bound_len;
    p->kind = CHK_PEER_BUILTIN;
out:
    ptk_kvlist_free(&args);
    ptk_buf_free(&enc);
}

static void peer_server_role(struct chk_run *r)
{
    const struct check_opts *o = r->o;
    struct chk_peer *p = &r->peer;
    const struct ptk_transport_ops *ops = ptk_transport_find(o->transport);
    if (strcmp(o->transport, "plain") == 0) {
        p->kind = CHK_PEER_DIRECT;
        snprintf(p->why, sizeof(p->why), "a bare TCP client (plain)");
    } else if (ops && ops->client_new) {
        char terr[256] = "";
        p->ops = ops;
        if (ops->client_setup) {
            struct ptk_transport_cfg tc = {NULL, NULL, NULL};
            if (ops->client_setup(&tc, &p->inst, terr, sizeof(terr)) != PTK_OK) {
                p->inst = NULL;
                snprintf(p->why, sizeof(p->why), "ptkit's own %s client did not start: %.150s",
                         o->transport, terr);
                return;
            }
        }
        p->kind = CHK_PEER_BUILTIN;
        snprintf(p->why, sizeof(p->why), "ptkit's own %s client, in-process", o->transport);
    } else {
        snprintf(p->why, sizeof(p->why), "no %s client here (ptkit does not implement it)",
                 o->transport);
    }
}

bool chk_peer_available(const struct chk_run *r)
{
    return r->peer.kind != CHK_PEER_NONE;
}

/* ---------------- start, reset, stop ---------------- */

static int write_cookie(struct chk_run *r)
{
    uint8_t file[PTK_EXTOR_COOKIE_FILE_LEN];
    if (ptk_path_join(r->cookie_path, sizeof(r->cookie_path), r->dir,
                      "extended_orport_auth_cookie") != PTK_OK)
        return PTK_ETOOBIG;
    ptk_extor_cookie_make(file);
    memcpy(r->extor.cookie, file + PTK_EXTOR_COOKIE_LEN, PTK_EXTOR_COOKIE_LEN);
    int rc = ptk_file_write_atomic(r->cookie_path, file, sizeof(file), 0600);
    ptk_wipe(file, sizeof(file));
    return rc;
}

static int server_options(struct chk_run *r, char *err, size_t errlen)
{
    const char *why = "";
    struct ptk_kvlist kv = PTK_KVLIST_INIT;
    struct ptk_buf b;
    int rc;
    if (!r->o->args)
        return PTK_OK;
    ptk_buf_init(&b, sizeof(r->options) - 1);
    rc = ptk_args_parse(r->o->args, strlen(r->o->args), &kv, &why);
    if (rc == PTK_OK)
        rc = ptk_server_options_encode(r->o->transport, &kv, &b);
    if (rc == PTK_OK) {
        memcpy(r->options, ptk_buf_data(&b), ptk_buf_len(&b));
        r->options[ptk_buf_len(&b)] = '\0';
    } else {
        snprintf(err, errlen, "--args: %s", rc == PTK_EINVAL ? why : ptk_strerror(rc));
    }
    ptk_kvlist_free(&kv);
    ptk_buf_free(&b);
    return rc;
}

int chk_services_start(struct chk_run *r, char *err, size_t errlen)
{
    int rc;
    if (listen_on(r, accept_echo, &r->echo.lev, &r->echo.addr) != PTK_OK ||
        listen_on(r, accept_orport, &r->orport.lev, &r->orport.addr) != PTK_OK ||
        listen_on(r, accept_proxy, &r->proxy.lev, &r->proxy.addr) != PTK_OK ||
        listen_on(r, accept_extor, &r->extor.lev, &r->extor.addr) != PTK_OK) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1: %s", strerror(errno));
        return PTK_EIO;
    }
    ptk_addr_format((struct sockaddr *)&r->proxy.addr.ss, r->proxy_str, sizeof(r->proxy_str));
    ptk_addr_format((struct sockaddr *)&r->orport.addr.ss, r->orport_str, sizeof(r->orport_str));
    ptk_addr_format((struct sockaddr *)&r->extor.addr.ss, r->extorport_str,
                    sizeof(r->extorport_str));
    r->closed_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ptk_addr_parse("127.0.0.1:0", 11, PTK_ADDR_PORT_ZERO_OK, &r->closed_addr, NULL);
    if (r->closed_fd < 0 ||
        bind(r->closed_fd, (struct sockaddr *)&r->closed_addr.ss, r->closed_addr.len) != 0 ||
        getsockname(r->closed_fd, (struct sockaddr *)&r->closed_addr.ss, &r->closed_addr.len)) {
        snprintf(err, errlen, "cannot reserve a closed port: %s", strerror(errno));
        return PTK_EIO;
    }
    if ((rc = write_cookie(r)) != PTK_OK) {
        snprintf(err, errlen, "cannot write the auth cookie %s: %s", r->cookie_path,
                 strerror(errno));
        return rc;
    }
    if (r->o->server) {
        if ((rc = server_options(r, err, errlen)) != PTK_OK)
            return rc;
        peer_server_role(r);
        return PTK_OK;
    }
    peer_client_role(r, err, errlen, &rc);
    return rc;
}

void chk_services_reset(struct chk_run *r)
{
    /* What is left belongs to the previous case's PT (stopped): it must not touch new records. */
    while (r->conns)
        conn_free(r->conns);
    r->echo.accepted = r->orport.accepted = 0;
    r->proxy.connects = 0;
    r->proxy.last_target[0] = '\0';
    struct chk_extor *x = &r->extor;
    x->conns = 0;
    x->auth_done = x->auth_ok = x->got_done = x->okay_sent = x->closed = false;
    x->has_useraddr = x->has_transport = false;
    x->error[0] = x->useraddr[0] = x->transport[0] = '\0';
    x->early = 0;
}

void chk_services_stop(struct chk_run *r)
{
    while (r->conns)
        conn_free(r->conns);
    struct evconnlistener **levs[] = {&r->echo.lev, &r->orport.lev, &r->proxy.lev, &r->extor.lev};
    for (size_t i = 0; i < sizeof(levs) / sizeof(levs[0]); i++) {
        if (*levs[i])
            evconnlistener_free(*levs[i]);
        *levs[i] = NULL;
    }
    if (r->peer.bridge)
        ptk_listener_close(r->peer.bridge);
    r->peer.bridge = NULL;
    if (r->base)
        ptk_io_close_all(&r->io);
    if (r->peer.inst && r->peer.ops) {
        if (r->o->server && r->peer.ops->client_free)
            r->peer.ops->client_free(r->peer.inst);
        else if (!r->o->server && r->peer.ops->server_free)
            r->peer.ops->server_free(r->peer.inst);
    }
    r->peer.inst = NULL;
    if (r->closed_fd >= 0)
        close(r->closed_fd);
    r->closed_fd = -1;
    ptk_wipe(r->extor.cookie, sizeof(r->extor.cookie));
}

void chk_sess_net_free(struct chk_sess *s)
{
    if (s->client_peer)
        ptk_listener_close(s->client_peer);
    s->client_peer = NULL;
}

/* ---------------- sockets that wait on the loop ---------------- */

struct fdwait {
    bool fired;
};

static void on_fd(evutil_socket_t fd, short what, void *arg)
{
    ((struct fdwait *)arg)->fired = true;
}

static bool cond_fired(void *arg)
{
    return ((struct fdwait *)arg)->fired;
}

static bool wait_fd(struct chk_run *r, int fd, short what, uint64_t deadline)
{
    struct fdwait w = {false};
    struct event *ev = event_new(r->base, fd, what, on_fd, &w);
    if (!ev)
        return false;
    event_add(ev, NULL);
    chk_loop_until(r, cond_fired, &w, deadline);
    event_free(ev);
    return w.fired;
}

/* Connect; PTK_OK, PTK_ETIMEDOUT or PTK_EIO (errno set). */
static int sk_connect(struct chk_run *r, const struct ptk_addr *a, uint64_t deadline, int *out)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return PTK_EIO;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            errno = e;
            return PTK_EIO;
        }
        if (!wait_fd(r, fd, EV_WRITE, deadline)) {
            close(fd);
            return PTK_ETIMEDOUT;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
            close(fd);
            errno = soerr ? soerr : errno;
            return PTK_EIO;
        }
    }
    ptk_socket_tune(fd);
    *out = fd;
    return PTK_OK;
}

static int sk_send(struct chk_run *r, int fd, const void *data, size_t n, uint64_t deadline)
{
    const uint8_t *p = data;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(r, fd, EV_WRITE, deadline))
                return PTK_ETIMEDOUT;
        } else {
            return PTK_ECLOSED;
        }
    }
    return PTK_OK;
}

/* Read exactly n bytes: PTK_OK, PTK_ECLOSED (EOF or reset; *got says how many came), PTK_ETIMEDOUT.
 */
static int sk_recv(struct chk_run *r, int fd, void *buf, size_t n, uint64_t deadline, size_t *got)
{
    uint8_t *p = buf;
    *got = 0;
    while (*got < n) {
        ssize_t k = recv(fd, p + *got, n - *got, 0);
        if (k > 0) {
            *got += (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(r, fd, EV_READ, deadline))
                return PTK_ETIMEDOUT;
        } else {
            return PTK_ECLOSED;
        }
    }
    return PTK_OK;
}

/* 0.0.0.0 / :: mean "this host": connect to loopback of that family. */
static struct ptk_addr reachable(const struct ptk_addr *a)
{
    struct ptk_addr b = *a;
    if (b.ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&b.ss;
        if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (b.ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b.ss;
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
            sin6->sin6_addr = in6addr_loopback;
    }
    return b;
}

static void payload(uint8_t *p, size_t n)
{
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* Send the payload and expect it back. PASS/FAIL with a detail of what went wrong. */
static enum check_outcome echo_through(struct chk_run *r, int fd, uint64_t deadline,
                                       const char *via, char *d, size_t dn)
{
    uint8_t out[CHK_PAYLOAD_LEN], in[CHK_PAYLOAD_LEN];
    size_t got = 0;
    payload(out, sizeof(out));
    int rc = sk_send(r, fd, out, sizeof(out), deadline);
    if (rc == PTK_OK)
        rc = sk_recv(r, fd, in, sizeof(in), deadline, &got);
    if (rc != PTK_OK) {
        snprintf(d, dn, "%zu of %d bytes came back through %s (%s)", got, CHK_PAYLOAD_LEN, via,
                 rc == PTK_ETIMEDOUT ? "timed out" : "connection closed");
        return CHECK_FAIL;
    }
    if (memcmp(in, out, sizeof(in)) != 0) {
        snprintf(d, dn, "the %d bytes that came back through %s differ from those sent",
                 CHK_PAYLOAD_LEN, via);
        return CHECK_FAIL;
    }
    snprintf(d, dn, "%d bytes echoed through %s", CHK_PAYLOAD_LEN, via);
    return CHECK_PASS;
}

/* ---------------- the socks step ---------------- */

static const char *socks5_reply_text(uint8_t code)
{
    static const char *const names[] = {
        "succeeded",           "general failure",       "not allowed",
        "network unreachable", "host unreachable",      "connection refused",
        "TTL expired",         "command not supported", "address type not supported",
    };
    return code < sizeof(names) / sizeof(names[0]) ? names[code] : "unassigned code";
}

/* The credentials the step sends (tor's encoding, at most 510 bytes). */
static void socks_args(const struct chk_run *r, const struct check_socks *sk, char *out, size_t n)
{
    const char *base = r->peer.kind != CHK_PEER_NONE ? r->peer.args : "";
    out[0] = '\0';
    switch (sk->args) {
    case CHECK_ARGS_NONE:
        break;
    case CHECK_ARGS_BRIDGE:
        ptk_strlcpy(out, base, n);
        break;
    case CHECK_ARGS_SHORT:
        ptk_strlcpy(out, base[0] ? base : "ptkit-check=1", n);
        break;
    case CHECK_ARGS_LONG: {
        const char *rest = base[0] ? base : "ptkit-check=1";
        size_t rl = strlen(rest), pad = rl + 15 < 320 ? 320 - rl - 15 : 0;
        size_t off = (size_t)snprintf(out, n, "ptkit-padding=");
        for (size_t i = 0; i < pad && off + 1 < n; i++)
            out[off++] = 'x';
        if (off + 1 < n)
            out[off++] = ';';
        out[off < n ? off : n - 1] = '\0';
        ptk_strlcpy(out + strlen(out), rest, n - strlen(out));
        break;
    }
    }
}

struct socks_ctx {
    struct chk_sess *s;
    const struct check_socks *sk;
    int fd;
    uint64_t deadline;
    char what[120]; /* how we spoke to the PT, for details */
};

/* The reply to the request, or to the greeting, did not come: FAIL or (refused) PASS. */
static enum check_outcome no_reply(struct socks_ctx *x, int rc, const char *after, char *d,
                                   size_t dn)
{
    if (rc == PTK_ETIMEDOUT) {
        snprintf(d, dn, "%s: no reply to the %s within %u s", x->what, after, SOCKS_STEP_MS / 1000);
        return CHECK_FAIL;
    }
    if (x->sk->expect == CHECK_SX_REFUSED || x->sk->expect == CHECK_SX_ANY) {
        snprintf(d, dn, "%s: closed the connection after the %s, without success", x->what, after);
        return CHECK_PASS;
    }
    snprintf(d, dn, "%s: closed the connection after the %s", x->what, after);
    return CHECK_FAIL;
}

/* After a success reply: the checks of expect=echo and proxy=used. */
static enum check_outcome after_success(struct socks_ctx *x, const char *target, char *d, size_t dn)
{
    struct chk_run *r = x->s->r;
    const struct check_socks *sk = x->sk;
    char via[200];
    if (sk->expect == CHECK_SX_REFUSED) {
        snprintf(d, dn, "%s: replied success", x->what);
        return CHECK_FAIL;
    }
    if (sk->via_proxy && (r->proxy.connects == 0 || strcmp(r->proxy.last_target, target) != 0)) {
        if (r->proxy.connects == 0)
            snprintf(d, dn,
                     "%s: succeeded, but not through TOR_PT_PROXY (the proxy saw no "
                     "CONNECT)",
                     x->what);
        else
            snprintf(d, dn, "%s: the proxy saw CONNECT %s, not %s", x->what, r->proxy.last_target,
                     target);
        return CHECK_FAIL;
    }
    const char *proxy_note = sk->via_proxy ? " via the SOCKS5 proxy of TOR_PT_PROXY" : "";
    if (sk->expect != CHECK_SX_ECHO) {
        snprintf(d, dn, "%s: succeeded%s", x->what, proxy_note);
        return CHECK_PASS;
    }
    if (r->peer.kind == CHK_PEER_EXTERNAL) {
        snprintf(d, dn, "%s: succeeded%s (external bridge: echo not checked)", x->what, proxy_note);
        return CHECK_PASS;
    }
    snprintf(via, sizeof(via), "the PT%s and %s", sk->via_proxy ? ", the SOCKS5 proxy" : "",
             r->peer.kind == CHK_PEER_BUILTIN ? "ptkit's server" : "the echo service");
    char e[300];
    enum check_outcome o = echo_through(r, x->fd, x->deadline, via, e, sizeof(e));
    snprintf(d, dn, "%s: %s", x->what, e);
    return o;
}

static enum check_outcome socks4(struct socks_ctx *x, const struct ptk_addr *t, const char *args,
                                 const char *target, char *d, size_t dn)
{
    struct chk_run *r = x->s->r;
    const struct check_socks *sk = x->sk;
    uint8_t req[600], rep[8];
    size_t n = 0, got;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&t->ss;
    uint16_t port = ptk_addr_port((const struct sockaddr *)&t->ss);
    char ip[64] = "";
    ptk_addr_format_ip((const struct sockaddr *)&t->ss, ip, sizeof(ip));
    req[n++] = 4;
    req[n++] = sk->cmd;
    req[n++] = (uint8_t)(port >> 8);
    req[n++] = (uint8_t)port;
    if (sk->v4a) {
        static const uint8_t v4a_ip[4] = {0, 0, 0, 1};
        memcpy(req + n, v4a_ip, 4);
    } else {
        memcpy(req + n, &sin->sin_addr, 4);
    }
    n += 4;
    memcpy(req + n, args, strlen(args) + 1);
    n += strlen(args) + 1;
    if (sk->v4a) {
        memcpy(req + n, ip, strlen(ip) + 1);
        n += strlen(ip) + 1;
    }
    snprintf(x->what, sizeof(x->what), "%s%s",
             sk->v4a ? "SOCKS4a (the target as a name)" : "SOCKS4",
             args[0] ? " with the arguments as USERID" : "");
    int rc = sk_send(r, x->fd, req, n, x->deadline);
    if (rc == PTK_OK)
        rc = sk_recv(r, x->fd, rep, sizeof(rep), x->deadline, &got);
    if (rc != PTK_OK)
        return no_reply(x, rc, "request", d, dn);
    if (rep[1] == 0x5a)
        return after_success(x, target, d, dn);
    if (sk->expect == CHECK_SX_REFUSED || sk->expect == CHECK_SX_ANY) {
        snprintf(d, dn, "%s: replied 0x%02x (rejected)", x->what, rep[1]);
        return CHECK_PASS;
    }
    snprintf(d, dn, "%s: replied 0x%02x, not 0x5a (granted)", x->what, rep[1]);
    return CHECK_FAIL;
}

static enum check_outcome socks5(struct socks_ctx *x, const struct ptk_addr *t, const char *args,
                                 const char *target, char *d, size_t dn)
{
    struct chk_run *r = x->s->r;
    const struct check_socks *sk = x->sk;
    uint8_t msg[600], rep[32];
    size_t n = 0, got, alen = strlen(args);
    bool creds = alen > 0;
    const uint8_t *user = NULL, *pass = NULL;
    size_t ulen = 0, plen = 0;
    if (creds && ptk_socks_args_split(args, alen, &user, &ulen, &pass, &plen) != PTK_OK) {
        snprintf(d, dn, "ptkit check: arguments of %zu bytes cannot be sent", alen);
        return CHECK_FAIL;
    }
    if (creds)
        snprintf(x->what, sizeof(x->what),
                 "SOCKS5 with %zu bytes of arguments (USERNAME %zu, "
                 "PASSWORD %zu)",
                 alen, ulen, plen);
    else
        snprintf(x->what, sizeof(x->what), "SOCKS5 without arguments");
    /* greeting */
    msg[n++] = 5;
    if (sk->n_methods) {
        msg[n++] = (uint8_t)sk->n_methods;
        memcpy(msg + n, sk->methods, sk->n_methods);
        n += sk->n_methods;
    } else if (creds) {
        msg[n++] = 2;
        msg[n++] = 0x00;
        msg[n++] = 0x02;
    } else {
        msg[n++] = 1;
        msg[n++] = 0x00;
    }
    size_t offered = n - 2;
    int rc = sk_send(r, x->fd, msg, n, x->deadline);
    if (rc == PTK_OK)
        rc = sk_recv(r, x->fd, rep, 2, x->deadline, &got);
    if (rc != PTK_OK)
        return no_reply(x, rc, "greeting", d, dn);
    if (rep[0] != 5) {
        snprintf(d, dn, "%s: answered the greeting with version %u", x->what, rep[0]);
        return CHECK_FAIL;
    }
    uint8_t method = rep[1];
    if (method == 0xff) {
        bool ok = sk->expect == CHECK_SX_REFUSED || sk->expect == CHECK_SX_ANY;
        snprintf(d, dn, "%s: no acceptable method (0xff)", x->what);
        return ok ? CHECK_PASS : CHECK_FAIL;
    }
    if (!memchr(msg + 2, method, offered)) {
        snprintf(d, dn, "%s: chose method 0x%02x, which was not offered", x->what, method);
        return CHECK_FAIL;
    }
    if (creds && method == 0x00 && !sk->n_methods) {
        snprintf(d, dn,
                 "%s: chose \"no authentication\" although username/password was "
                 "offered: the arguments would be lost",
                 x->what);
        return CHECK_FAIL;
    }
    if (sk->expect == CHECK_SX_METHOD) {
        snprintf(d, dn, "%s: chose method 0x%02x (%s)", x->what, method,
                 method == 2 ? "username/password" : "no authentication");
        return CHECK_PASS;
    }
    if (method == 0x02) {
        n = 0;
        msg[n++] = 1;
        msg[n++] = (uint8_t)ulen;
        memcpy(msg + n, user, ulen);
        n += ulen;
        msg[n++] = (uint8_t)plen;
        memcpy(msg + n, pass, plen);
        n += plen;
        rc = sk_send(r, x->fd, msg, n, x->deadline);
        if (rc == PTK_OK)
            rc = sk_recv(r, x->fd, rep, 2, x->deadline, &got);
        if (rc != PTK_OK)
            return no_reply(x, rc, "username/password", d, dn);
        if (rep[1] != 0x00) {
            bool ok = sk->expect == CHECK_SX_REFUSED || sk->expect == CHECK_SX_ANY;
            snprintf(d, dn, "%s: rejected the arguments (status 0x%02x)", x->what, rep[1]);
            return ok ? CHECK_PASS : CHECK_FAIL;
        }
    }
    if (sk->expect == CHECK_SX_AUTH) {
        snprintf(d, dn, "%s: accepted", x->what);
        return CHECK_PASS;
    }
    /* the request */
    uint16_t port = ptk_addr_port((const struct sockaddr *)&t->ss);
    char ip[64] = "";
    ptk_addr_format_ip((const struct sockaddr *)&t->ss, ip, sizeof(ip));
    n = 0;
    msg[n++] = 5;
    msg[n++] = sk->cmd;
    msg[n++] = 0;
    msg[n++] = sk->atyp;
    if (sk->atyp == 3) {
        msg[n++] = (uint8_t)strlen(ip);
        memcpy(msg + n, ip, strlen(ip));
        n += strlen(ip);
    } else {
        memcpy(msg + n, &((const struct sockaddr_in *)&t->ss)->sin_addr, 4);
        n += 4;
    }
    msg[n++] = (uint8_t)(port >> 8);
    msg[n++] = (uint8_t)port;
    if (sk->cmd != 1 || sk->atyp != 1) {
        size_t l = strlen(x->what);
        snprintf(x->what + l, sizeof(x->what) - l, ", %s",
                 sk->cmd == 2    ? "BIND request"
                 : sk->cmd == 3  ? "UDP ASSOCIATE request"
                 : sk->atyp == 3 ? "CONNECT to a name"
                                 : "CONNECT with address type 0x05");
    }
    rc = sk_send(r, x->fd, msg, n, x->deadline);
    if (rc == PTK_OK)
        rc = sk_recv(r, x->fd, rep, 4, x->deadline, &got);
    if (rc != PTK_OK)
        return no_reply(x, rc, "request", d, dn);
    if (rep[0] != 5) {
        snprintf(d, dn, "%s: reply with version %u", x->what, rep[0]);
        return CHECK_FAIL;
    }
    if (rep[1] != 0) {
        bool ok = sk->expect == CHECK_SX_REFUSED || sk->expect == CHECK_SX_ANY;
        snprintf(d, dn, "%s: replied 0x%02x (%s)", x->what, rep[1], socks5_reply_text(rep[1]));
        return ok ? CHECK_PASS : CHECK_FAIL;
    }
    size_t rest = rep[3] == 1 ? 6 : rep[3] == 4 ? 18 : 0;
    if (rep[3] == 3) {
        if (sk_recv(r, x->fd, rep, 1, x->deadline, &got) != PTK_OK)
            return no_reply(x, PTK_ECLOSED, "request", d, dn);
        rest = (size_t)rep[0] + 2;
    }
    if (rest == 0) {
        snprintf(d, dn, "%s: success reply with address type 0x%02x", x->what, rep[3]);
        return CHECK_FAIL;
    }
    uint8_t skip[300];
    if (sk_recv(r, x->fd, skip, rest, x->deadline, &got) != PTK_OK) {
        snprintf(d, dn, "%s: the success reply was cut short", x->what);
        return CHECK_FAIL;
    }
    return after_success(x, target, d, dn);
}

enum check_outcome chk_step_socks(struct chk_sess *s, const struct check_step *st, char *d,
                                  size_t dn)
{
    struct chk_run *r = s->r;
    const struct check_socks *sk = &st->socks;
    const struct chk_method *m = chk_method(s);
    char args[600], target[PTK_ADDRSTRLEN] = "";
    if (!m) {
        snprintf(d, dn, "no CMETHOD for %s to connect to", r->o->transport);
        return CHECK_FAIL;
    }
    if ((s->c->needs & CHECK_NEEDS_SOCKS4) && m->socks != 4) {
        snprintf(d, dn, "the PT offers socks%d for %s; tor speaks SOCKS4 only to socks4 methods",
                 m->socks, m->name);
        return CHECK_SKIP;
    }
    if (sk->version == 5 && m->socks == 4) {
        snprintf(d, dn, "the PT offers socks4 for %s; tor speaks SOCKS5 only to socks5 methods",
                 m->name);
        return CHECK_SKIP;
    }
    bool needs_peer =
        !sk->target_closed && (sk->expect == CHECK_SX_SUCCESS || sk->expect == CHECK_SX_ECHO);
    if (needs_peer && r->peer.kind == CHK_PEER_NONE) {
        ptk_strlcpy(d, r->peer.why, dn);
        return CHECK_SKIP;
    }
    const struct ptk_addr *t =
        sk->target_closed || r->peer.kind == CHK_PEER_NONE ? &r->closed_addr : &r->peer.addr;
    ptk_addr_format((const struct sockaddr *)&t->ss, target, sizeof(target));
    socks_args(r, sk, args, sizeof(args));
    struct ptk_addr to = reachable(&m->addr);
    struct socks_ctx x = {s, sk, -1, chk_deadline(s, SOCKS_STEP_MS), ""};
    int rc = sk_connect(r, &to, x.deadline, &x.fd);
    if (rc != PTK_OK) {
        char a[PTK_ADDRSTRLEN] = "?";
        ptk_addr_format((struct sockaddr *)&m->addr.ss, a, sizeof(a));
        snprintf(d, dn, "cannot connect to the CMETHOD address %s: %s", a,
                 rc == PTK_ETIMEDOUT ? "timed out" : strerror(errno));
        return CHECK_FAIL;
    }
    enum check_outcome o =
        sk->version == 4 ? socks4(&x, t, args, target, d, dn) : socks5(&x, t, args, target, d, dn);
    close(x.fd);
    return o;
}

/* ---------------- the connect step (server role) ---------------- */

struct connect_wait {
    struct chk_sess *s;
    int expect;
};

static bool cond_extor(void *arg)
{
    struct connect_wait *w = arg;
    const struct chk_run *r = w->s->r;
    const struct chk_extor *x = &r->extor;
    if (w->s->exited || r->orport.accepted || x->closed || x->error[0])
        return true;
    switch (w->expect) {
    case CHECK_CX_AUTH:
        return x->auth_done;
    case CHECK_CX_WAIT_OKAY:
        return x->okay_sent;
    default:
        return x->got_done;
    }
}

static enum check_outcome connect_extor(struct chk_sess *s, int expect, const char *client, int fd,
                                        uint64_t deadline, char *d, size_t dn)
{
    struct chk_run *r = s->r;
    const struct chk_extor *x = &r->extor;
    struct connect_wait w = {s, expect};
    chk_loop_until(r, cond_extor, &w, deadline);
    if (x->conns == 0) {
        if (r->orport.accepted)
            snprintf(d, dn, "the PT went to TOR_PT_ORPORT instead of the Extended ORPort");
        else
            snprintf(d, dn, "the PT did not connect to the Extended ORPort%s",
                     s->exited ? " (it exited)" : "");
        return CHECK_FAIL;
    }
    if (x->auth_done && !x->auth_ok) {
        snprintf(d, dn, "SAFE_COOKIE authentication failed: %s",
                 x->error[0] ? x->error : "wrong client hash");
        return CHECK_FAIL;
    }
    if (!x->auth_done) {
        snprintf(d, dn, "the PT did not finish SAFE_COOKIE authentication%s%s",
                 x->error[0] ? ": " : "", x->error);
        return CHECK_FAIL;
    }
    if (expect == CHECK_CX_AUTH) {
        snprintf(d, dn, "SAFE_COOKIE authentication succeeded");
        return CHECK_PASS;
    }
    if (!x->got_done) {
        snprintf(d, dn, "no DONE command after authentication%s%s", x->error[0] ? ": " : "",
                 x->error);
        return CHECK_FAIL;
    }
    if (expect == CHECK_CX_USERADDR) {
        struct ptk_addr ua;
        if (!x->has_useraddr) {
            snprintf(d, dn, "no USERADDR command");
            return CHECK_FAIL;
        }
        if (ptk_addr_parse(x->useraddr, strlen(x->useraddr), 0, &ua, NULL) != PTK_OK) {
            snprintf(d, dn, "USERADDR \"%.80s\" is not a literal IP:port", x->useraddr);
            return CHECK_FAIL;
        }
        if (client && strcmp(client, x->useraddr) != 0) {
            snprintf(d, dn, "USERADDR %s is not the client's address %s", x->useraddr, client);
            return CHECK_FAIL;
        }
        snprintf(d, dn, "USERADDR %s", client ? "is the client's address" : "is an IP:port");
        return CHECK_PASS;
    }
    if (expect == CHECK_CX_TRANSPORT) {
        if (!x->has_transport) {
            snprintf(d, dn, "no TRANSPORT command");
            return CHECK_FAIL;
        }
        if (strcmp(x->transport, r->o->transport) != 0) {
            snprintf(d, dn, "TRANSPORT \"%.80s\", not %s", x->transport, r->o->transport);
            return CHECK_FAIL;
        }
        snprintf(d, dn, "TRANSPORT %s", x->transport);
        return CHECK_PASS;
    }
    if (expect == CHECK_CX_WAIT_OKAY) {
        if (!x->okay_sent) {
            snprintf(d, dn, "the PT closed the connection before OKAY");
            return CHECK_FAIL;
        }
        if (x->early) {
            snprintf(d, dn,
                     "sent %zu bytes after DONE, before OKAY (tor closes such a "
                     "connection)",
                     x->early);
            return CHECK_FAIL;
        }
        snprintf(d, dn, "sent nothing between DONE and OKAY (OKAY held back %d ms)",
                 CHK_OKAY_DELAY_MS);
        return CHECK_PASS;
    }
    return echo_through(r, fd, deadline, "the PT and the Extended ORPort", d, dn);
}

static int open_client_peer(struct chk_sess *s, const struct chk_method *m, const char **why)
{
    struct chk_run *r = s->r;
    struct ptk_listener_cfg cfg;
    struct ptk_addr to = reachable(&m->addr);
    memset(&cfg, 0, sizeof(cfg));
    cfg.transport_name = r->peer.ops->name;
    cfg.ops = r->peer.ops;
    cfg.instance = r->peer.inst;
    struct ptk_addr lo;
    ptk_addr_parse("127.0.0.1:0", 11, PTK_ADDR_PORT_ZERO_OK, &lo, NULL);
    cfg.listen = lo.ss;
    cfg.listen_len = lo.len;
    cfg.fixed = true;
    ptk_addr_format_ip((struct sockaddr *)&to.ss, cfg.fixed_host, sizeof(cfg.fixed_host));
    cfg.fixed_port = ptk_addr_port((struct sockaddr *)&to.ss);
    cfg.fixed_args = &m->args;
    return ptk_listener_open(&r->io, PTK_ROLE_CLIENT, &cfg, &s->client_peer, why);
}

enum check_outcome chk_step_connect(struct chk_sess *s, const struct check_step *st, char *d,
                                    size_t dn)
{
    struct chk_run *r = s->r;
    const struct chk_method *m = chk_method(s);
    uint64_t deadline = chk_deadline(s, SOCKS_STEP_MS);
    const char *why = "";
    char client[PTK_ADDRSTRLEN] = "";
    int fd = -1;
    if (!m) {
        snprintf(d, dn, "no SMETHOD for %s to connect to", r->o->transport);
        return CHECK_FAIL;
    }
    if (r->peer.kind == CHK_PEER_NONE) {
        ptk_strlcpy(d, r->peer.why, dn);
        return CHECK_SKIP;
    }
    struct ptk_addr to = reachable(&m->addr);
    if (r->peer.kind == CHK_PEER_BUILTIN) {
        if (!s->client_peer && open_client_peer(s, m, &why) != PTK_OK) {
            s->client_peer = NULL;
            snprintf(d, dn, "ptkit check: cannot start ptkit's %s client: %s", r->o->transport,
                     why);
            return CHECK_FAIL;
        }
        to.ss = s->client_peer->bound;
        to.len = s->client_peer->bound_len;
    }
    int rc = sk_connect(r, &to, deadline, &fd);
    if (rc != PTK_OK) {
        snprintf(d, dn, "cannot connect to the SMETHOD address: %s",
                 rc == PTK_ETIMEDOUT ? "timed out" : strerror(errno));
        return CHECK_FAIL;
    }
    if (r->peer.kind == CHK_PEER_DIRECT) {
        struct ptk_addr me;
        me.len = sizeof(me.ss);
        if (getsockname(fd, (struct sockaddr *)&me.ss, &me.len) == 0)
            ptk_addr_format((struct sockaddr *)&me.ss, client, sizeof(client));
    }
    enum check_outcome o;
    if (s->extor_mode) {
        uint8_t p[CHK_PAYLOAD_LEN];
        payload(p, sizeof(p));
        if (st->connect_expect == CHECK_CX_ECHO) {
            o = connect_extor(s, CHECK_CX_ECHO, client[0] ? client : NULL, fd, deadline, d, dn);
        } else {
            /* data first, so that a PT which forwards it before OKAY shows it */
            sk_send(r, fd, p, sizeof(p), deadline);
            o = connect_extor(s, st->connect_expect, client[0] ? client : NULL, fd, deadline, d,
                              dn);
        }
    } else if (st->connect_expect != CHECK_CX_ECHO) {
        snprintf(d, dn, "no Extended ORPort in this case (TOR_PT_EXTENDED_SERVER_PORT is empty)");
        o = CHECK_SKIP;
    } else {
        o = echo_through(r, fd, deadline, "the PT and TOR_PT_ORPORT", d, dn);
        if (o == CHECK_PASS && r->extor.conns) {
            snprintf(d, dn,
                     "the PT used the Extended ORPort although "
                     "TOR_PT_EXTENDED_SERVER_PORT was empty");
            o = CHECK_FAIL;
        }
    }
    close(fd);
    return o;
}

/* ---------------- the listening step ---------------- */

static bool is_loopback(const struct ptk_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr) >> 24) == 127;
    return a->ss.ss_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

enum check_outcome chk_step_listening(struct chk_sess *s, const char *want, char *d, size_t dn)
{
    struct chk_run *r = s->r;
    const struct chk_method *m = chk_method(s);
    const char *kw = r->o->server ? "SMETHOD" : "CMETHOD";
    char have[PTK_ADDRSTRLEN] = "?";
    int fd = -1;
    if (!m) {
        snprintf(d, dn, "no %s for %s", kw, r->o->transport);
        return CHECK_FAIL;
    }
    ptk_addr_format((struct sockaddr *)&m->addr.ss, have, sizeof(have));
    bool loopback = want && strcmp(want, "loopback") == 0;
    if (loopback && !is_loopback(&m->addr)) {
        snprintf(d, dn, "%s address %s is not a loopback address", kw, have);
        return CHECK_FAIL;
    }
    if (want && !loopback) {
        struct ptk_addr w;
        char norm[PTK_ADDRSTRLEN] = "";
        if (ptk_addr_parse(want, strlen(want), 0, &w, NULL) == PTK_OK)
            ptk_addr_format((struct sockaddr *)&w.ss, norm, sizeof(norm));
        if (strcmp(norm, have) != 0) {
            snprintf(d, dn, "%s address %s, not the address asked for (%s)", kw, have, want);
            return CHECK_FAIL;
        }
    }
    struct ptk_addr to = reachable(&m->addr);
    int rc = sk_connect(r, &to, chk_deadline(s, 2000), &fd);
    if (rc != PTK_OK) {
        snprintf(d, dn, "nothing accepts connections at the %s address %s: %s", kw, have,
                 rc == PTK_ETIMEDOUT ? "timed out" : strerror(errno));
        return CHECK_FAIL;
    }
    close(fd);
    snprintf(d, dn, "%s%s accepts connections",
             loopback ? "on loopback, "
             : want   ? "at the address asked for, "
                      : "",
             kw);
    return CHECK_PASS;
}
