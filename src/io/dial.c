/*
 * Outbound connections (see io/dial.h). A dial is a small state machine:
 * [lookup] -> connect -> [proxy handshake] -> done. The proxy handshakes are
 * the sans-I/O codecs of proto/; this file only moves their bytes.
 */
#include "io/dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/util.h>

#include "proto/http_connect.h"
#include "proto/socks_client.h"
#include "ptkit/error.h"
#include "util/addr.h"
#include "util/str.h"

enum dial_state { D_LOOKUP, D_CONNECT, D_PROXY, D_DONE };

struct ptk_dial {
    struct ptk_io *io;
    enum dial_state state;
    unsigned flags;
    char host[256];
    uint16_t port;
    ptk_dial_cb cb;
    void *ud;
    struct bufferevent *bev;
    struct evdns_getaddrinfo_request *lookup;
    struct event *defer; /* reports immediate failures from the loop */
    int err;
    enum ptk_socks_reply reply;
    const char *why;
    enum ptk_proxy_scheme proxy;
    struct sockaddr_storage proxy_addr;
    socklen_t proxy_addrlen;
    struct ptk_buf user, pass; /* proxy credentials (SOCKS4: user is the USERID) */
    bool has_user;
    struct ptk_socks_client socks;
    struct ptk_http_connect http;
};

enum ptk_socks_reply ptk_dial_errno_reply(int err)
{
    switch (err) {
    case ECONNREFUSED:
        return PTK_SOCKS_CONN_REFUSED;
    case ENETUNREACH:
    case ENETDOWN:
        return PTK_SOCKS_NET_UNREACHABLE;
    case EHOSTUNREACH:
    case EHOSTDOWN:
        return PTK_SOCKS_HOST_UNREACHABLE;
    case ETIMEDOUT:
        return PTK_SOCKS_TTL_EXPIRED;
    case EACCES:
    case EPERM:
        return PTK_SOCKS_NOT_ALLOWED;
    default:
        return PTK_SOCKS_GENERAL_FAILURE;
    }
}

void ptk_socket_tune(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void dial_free(struct ptk_dial *d)
{
    if (d->lookup)
        evdns_getaddrinfo_cancel(d->lookup);
    if (d->bev)
        bufferevent_free(d->bev);
    if (d->defer)
        event_free(d->defer);
    if (d->proxy == PTK_PROXY_HTTP)
        ptk_http_connect_free(&d->http);
    else if (d->proxy != PTK_PROXY_NONE)
        ptk_socks_client_free(&d->socks);
    ptk_buf_free(&d->user);
    ptk_buf_free(&d->pass);
    free(d);
}

static void finish(struct ptk_dial *d, int err, enum ptk_socks_reply reply, const char *why)
{
    struct bufferevent *bev = NULL;
    if (err == PTK_OK) {
        bev = d->bev;
        d->bev = NULL;
        bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
        bufferevent_disable(bev, EV_READ | EV_WRITE);
    }
    d->state = D_DONE;
    ptk_dial_cb cb = d->cb;
    void *ud = d->ud;
    dial_free(d);
    cb(ud, bev, err, reply, why);
}

static void deferred_fail(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_dial *d = arg;
    finish(d, d->err, d->reply, d->why);
}

/* Report a failure from the loop rather than from inside ptk_dial_start. */
static void fail_later(struct ptk_dial *d, int err, enum ptk_socks_reply reply, const char *why)
{
    d->err = err;
    d->reply = reply;
    d->why = why;
    struct timeval tv = {0, 0};
    evtimer_add(d->defer, &tv);
}

static void proxy_pump(struct ptk_dial *d)
{
    struct evbuffer *in = bufferevent_get_input(d->bev);
    struct ptk_buf out;
    ptk_buf_init(&out, 4096);
    for (;;) {
        size_t len = evbuffer_get_length(in), used = 0;
        const uint8_t *p = len ? evbuffer_pullup(in, -1) : NULL;
        int r;
        if (d->proxy == PTK_PROXY_HTTP)
            r = ptk_http_connect_feed(&d->http, p, len, &used);
        else
            r = ptk_socks_client_feed(&d->socks, p, len, &used, &out);
        evbuffer_drain(in, used);
        if (ptk_buf_len(&out)) {
            bufferevent_write(d->bev, ptk_buf_data(&out), ptk_buf_len(&out));
            ptk_buf_reset(&out);
        }
        if (r == PTK_DONE) {
            ptk_buf_free(&out);
            finish(d, PTK_OK, PTK_SOCKS_SUCCEEDED, NULL);
            return;
        }
        if (r < 0) {
            enum ptk_socks_reply rep = PTK_SOCKS_GENERAL_FAILURE;
            if (d->proxy == PTK_PROXY_SOCKS5 && r == PTK_EDENIED && d->socks.reply <= 8)
                rep = (enum ptk_socks_reply)d->socks.reply;
            const char *why = d->proxy == PTK_PROXY_HTTP ? ptk_http_connect_error(&d->http)
                                                        : ptk_socks_client_error(&d->socks);
            ptk_buf_free(&out);
            finish(d, r, rep, why && *why ? why : "upstream proxy refused the connection");
            return;
        }
        if (used == 0 || evbuffer_get_length(in) == 0)
            break;
    }
    ptk_buf_free(&out);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct ptk_dial *d = arg;
    if (d->state == D_PROXY)
        proxy_pump(d);
}

static int proxy_start(struct ptk_dial *d)
{
    struct ptk_buf out;
    int r;
    ptk_buf_init(&out, 4096);
    if (d->proxy == PTK_PROXY_HTTP) {
        const char *auth = NULL;
        if (d->has_user && (r = ptk_buf_cstr(&d->user, &auth)) != PTK_OK) {
            ptk_buf_free(&out);
            return r;
        }
        r = ptk_http_connect_init(&d->http, d->host, d->port, auth, &out);
    } else {
        struct ptk_socks_client_cfg cfg = {
            .version = d->proxy == PTK_PROXY_SOCKS5 ? 5 : 4,
            .host = d->host,
            .port = d->port,
        };
        if (d->has_user) {
            cfg.user = ptk_buf_data(&d->user);
            cfg.userlen = ptk_buf_len(&d->user);
            if (d->proxy == PTK_PROXY_SOCKS5) {
                cfg.pass = ptk_buf_data(&d->pass);
                cfg.passlen = ptk_buf_len(&d->pass);
            }
        }
        r = ptk_socks_client_init(&d->socks, &cfg, &out);
    }
    if (r == PTK_OK && ptk_buf_len(&out))
        r = bufferevent_write(d->bev, ptk_buf_data(&out), ptk_buf_len(&out)) == 0 ? PTK_OK
                                                                                  : PTK_ENOMEM;
    ptk_buf_free(&out);
    return r;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct ptk_dial *d = arg;
    if (what & BEV_EVENT_CONNECTED) {
        ptk_socket_tune(bufferevent_getfd(bev));
        if (d->proxy == PTK_PROXY_NONE) {
            finish(d, PTK_OK, PTK_SOCKS_SUCCEEDED, NULL);
            return;
        }
        d->state = D_PROXY;
        int r = proxy_start(d);
        if (r != PTK_OK) {
            finish(d, r, PTK_SOCKS_GENERAL_FAILURE, "cannot start the upstream proxy handshake");
            return;
        }
        bufferevent_enable(bev, EV_READ);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        int e = EVUTIL_SOCKET_ERROR();
        if (d->state == D_CONNECT) {
            finish(d, PTK_EIO, ptk_dial_errno_reply(e),
                   d->proxy != PTK_PROXY_NONE ? "cannot connect to the upstream proxy"
                                              : "connect failed");
        } else {
            finish(d, PTK_ECLOSED, PTK_SOCKS_GENERAL_FAILURE,
                   "upstream proxy closed the connection during its handshake");
        }
    }
}

static int connect_to(struct ptk_dial *d, const struct sockaddr *sa, socklen_t salen)
{
    struct ptk_io *io = d->io;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return PTK_EIO;
    const struct sockaddr_storage *bind_to = NULL;
    if (sa->sa_family == AF_INET && io->has_bind_v4)
        bind_to = &io->bind_v4;
    else if (sa->sa_family == AF_INET6 && io->has_bind_v6)
        bind_to = &io->bind_v6;
    if (bind_to) {
        socklen_t bl = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                : sizeof(struct sockaddr_in6);
        if (bind(fd, (const struct sockaddr *)bind_to, bl) != 0) {
            close(fd);
            return PTK_EIO;
        }
    }
    d->bev = bufferevent_socket_new(io->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!d->bev) {
        close(fd);
        return PTK_ENOMEM;
    }
    d->state = D_CONNECT;
    bufferevent_setcb(d->bev, on_read, NULL, on_event, d);
    if (bufferevent_socket_connect(d->bev, sa, (int)salen) != 0)
        return PTK_EIO;
    return PTK_OK;
}

static void on_lookup(int result, struct evutil_addrinfo *res, void *arg)
{
    struct ptk_dial *d = arg;
    d->lookup = NULL;
    if (result == EVUTIL_EAI_CANCEL) {
        /* cancelled by dial_free: d is being freed, do nothing */
        return;
    }
    if (result != 0 || !res) {
        if (res)
            evutil_freeaddrinfo(res);
        fail_later(d, PTK_ENOENT, PTK_SOCKS_HOST_UNREACHABLE, "cannot resolve the target name");
        return;
    }
    struct sockaddr_storage ss;
    socklen_t len = (socklen_t)res->ai_addrlen;
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    evutil_freeaddrinfo(res);
    struct ptk_addr a = {.ss = ss, .len = len};
    ptk_addr_set_port(&a, d->port);
    if (connect_to(d, (struct sockaddr *)&a.ss, a.len) != PTK_OK)
        fail_later(d, PTK_EIO, ptk_dial_errno_reply(errno), "connect failed");
}

static struct ptk_dial *dial_new(struct ptk_io *io, unsigned flags,
                                 const struct ptk_dial_via *via, ptk_dial_cb cb, void *ud)
{
    struct ptk_dial *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->io = io;
    d->flags = flags;
    d->cb = cb;
    d->ud = ud;
    ptk_buf_init(&d->user, 2048);
    ptk_buf_init(&d->pass, 256);
    if (via) {
        d->proxy = via->scheme;
        d->proxy_addr = via->addr;
        d->proxy_addrlen = via->addrlen;
        if (via->user) {
            d->has_user = true;
            if (ptk_buf_put(&d->user, via->user, via->userlen) != PTK_OK ||
                ptk_buf_put(&d->pass, via->pass, via->passlen) != PTK_OK) {
                dial_free(d);
                return NULL;
            }
        }
    } else if (!(flags & PTK_DIAL_DIRECT) && io->proxy.scheme != PTK_PROXY_NONE) {
        const struct ptk_proxy *px = &io->proxy;
        d->proxy = px->scheme;
        d->proxy_addr = px->addr;
        d->proxy_addrlen = px->addrlen;
        if (px->user) {
            int r;
            d->has_user = true;
            if (px->scheme == PTK_PROXY_HTTP) /* Basic credentials "user:pass" */
                r = ptk_buf_printf(&d->user, "%s:%s", px->user, px->pass ? px->pass : "");
            else
                r = ptk_buf_put_str(&d->user, px->user);
            if (r == PTK_OK && px->pass && px->scheme != PTK_PROXY_HTTP)
                r = ptk_buf_put_str(&d->pass, px->pass);
            if (r != PTK_OK) {
                dial_free(d);
                return NULL;
            }
        }
    }
    /* Allocated up front so that reporting a failure can never fail. */
    if (!(d->defer = evtimer_new(io->base, deferred_fail, d))) {
        dial_free(d);
        return NULL;
    }
    return d;
}

static int dial_host(struct ptk_dial *d, const char *host, uint16_t port, struct ptk_dial **out)
{
    struct ptk_io *io = d->io;
    if (ptk_strlcpy(d->host, host, sizeof(d->host)) >= sizeof(d->host) || !*host) {
        dial_free(d);
        return PTK_EINVAL;
    }
    d->port = port;
    *out = d;
    if (d->proxy != PTK_PROXY_NONE) {
        if (connect_to(d, (const struct sockaddr *)&d->proxy_addr, d->proxy_addrlen) != PTK_OK)
            fail_later(d, PTK_EIO, ptk_dial_errno_reply(errno),
                       "cannot connect to the upstream proxy");
        return PTK_OK;
    }
    struct ptk_addr a;
    if (ptk_addr_parse(host, strlen(host), PTK_ADDR_NO_PORT, &a, NULL) == PTK_OK) {
        ptk_addr_set_port(&a, port);
        if (connect_to(d, (struct sockaddr *)&a.ss, a.len) != PTK_OK)
            fail_later(d, PTK_EIO, ptk_dial_errno_reply(errno), "connect failed");
        return PTK_OK;
    }
    if (!io->dns) {
        io->dns = evdns_base_new(io->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                               EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!io->dns) {
            fail_later(d, PTK_ENOENT, PTK_SOCKS_HOST_UNREACHABLE, "no DNS resolver available");
            return PTK_OK;
        }
    }
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    d->state = D_LOOKUP;
    d->lookup = evdns_getaddrinfo(io->dns, host, NULL, &hints, on_lookup, d);
    /* evdns may answer synchronously (e.g. from /etc/hosts): on_lookup then never
     * calls back directly (failures go through fail_later), so *out stays valid. */
    return PTK_OK;
}

int ptk_dial_start(struct ptk_io *io, const char *host, uint16_t port, unsigned flags,
                   ptk_dial_cb cb, void *ud, struct ptk_dial **out)
{
    struct ptk_dial *d = dial_new(io, flags, NULL, cb, ud);
    return d ? dial_host(d, host, port, out) : PTK_ENOMEM;
}

int ptk_dial_start_via(struct ptk_io *io, const char *host, uint16_t port,
                       const struct ptk_dial_via *via, ptk_dial_cb cb, void *ud,
                       struct ptk_dial **out)
{
    struct ptk_dial *d = dial_new(io, 0, via, cb, ud);
    return d ? dial_host(d, host, port, out) : PTK_ENOMEM;
}

int ptk_dial_start_addr(struct ptk_io *io, const struct sockaddr *sa, socklen_t salen,
                        unsigned flags, ptk_dial_cb cb, void *ud, struct ptk_dial **out)
{
    if (!(flags & PTK_DIAL_DIRECT) && io->proxy.scheme != PTK_PROXY_NONE) {
        char ip[PTK_ADDRSTRLEN];
        if (ptk_addr_format_ip(sa, ip, sizeof(ip)) != PTK_OK)
            return PTK_EINVAL;
        return ptk_dial_start(io, ip, ptk_addr_port(sa), flags, cb, ud, out);
    }
    struct ptk_dial *d = dial_new(io, flags | PTK_DIAL_DIRECT, NULL, cb, ud);
    if (!d)
        return PTK_ENOMEM;
    *out = d;
    if (connect_to(d, sa, salen) != PTK_OK)
        fail_later(d, PTK_EIO, ptk_dial_errno_reply(errno), "connect failed");
    return PTK_OK;
}

void ptk_dial_cancel(struct ptk_dial *d)
{
    if (d)
        dial_free(d);
}
