/*
 * Client role (see io/listener.h): a local connection arrives, its SOCKS
 * request (with the transport args) is parsed by the proto codec, the
 * transport connection is created from those args, the target is dialed
 * (directly or through TOR_PT_PROXY), and the SOCKS success reply is sent
 * only once the transport's handshake has completed, so a failed handshake
 * reaches tor as a SOCKS failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "io/dial.h"
#include "io/listener.h"
#include "io/relay.h"
#include "ptkit/error.h"
#include "ptkit/socks.h"

struct client_role {
    struct ptk_listener *l;
    struct ptk_socks_server socks;
    bool socks_done;
    bool replied;
    struct ptk_dial *dial;
    char target[300]; /* for log lines (scrubbed unless unsafe) */
};

static void client_free(struct ptk_pair *p)
{
    struct client_role *c = p->role;
    if (!c)
        return;
    ptk_dial_cancel(c->dial);
    ptk_socks_server_free(&c->socks);
    ptk_listener_unref(c->l);
    free(c);
    p->role = NULL;
}

/* Send a SOCKS reply (unless fixed-target or already replied). */
static void reply(struct ptk_pair *p, enum ptk_socks_reply code)
{
    struct client_role *c = p->role;
    if (c->l->cfg.fixed || c->replied || !c->socks_done)
        return;
    c->replied = true;
    struct ptk_buf out;
    ptk_buf_init(&out, 64);
    if (ptk_socks_server_reply(&c->socks, code, NULL, &out) == PTK_OK)
        ptk_bev_write(p->app_bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
}

static void fail(struct ptk_pair *p, enum ptk_socks_reply code)
{
    reply(p, code);
    ptk_pair_close_after_flush(p);
}

static void on_established(struct ptk_pair *p)
{
    struct client_role *c = p->role;
    ptk_log(p->io->log, PTK_LOG_DEBUG, "%s: connection %llu: connected to %s", p->transport_name,
            (unsigned long long)p->id, ptk_log_addrstr(p->io->log, c->target));
    reply(p, PTK_SOCKS_SUCCEEDED);
    ptk_pair_app_ready(p);
}

static void on_deadline(struct ptk_pair *p)
{
    fail(p, PTK_SOCKS_TTL_EXPIRED);
}

/* The transport's handshake failed or the peer left: tor gets a SOCKS failure. */
static void on_setup_fail(struct ptk_pair *p)
{
    fail(p, PTK_SOCKS_GENERAL_FAILURE);
}

static void dial_cb(void *ud, struct bufferevent *bev, int err, enum ptk_socks_reply code,
                    const char *why)
{
    struct ptk_pair *p = ud;
    struct client_role *c = p->role;
    c->dial = NULL;
    if (err != PTK_OK) {
        ptk_log(p->io->log, PTK_LOG_INFO, "%s: connection %llu: to %s: %s", p->transport_name,
                (unsigned long long)p->id, ptk_log_addrstr(p->io->log, c->target), why);
        fail(p, code);
        return;
    }
    ptk_pair_attach_wire(p, bev);
    ptk_pair_start(p);
}

/* The request is known: create the transport connection and dial. */
static void connect_target(struct ptk_pair *p, const char *host, uint16_t port,
                           const struct ptk_kvlist *args)
{
    struct client_role *c = p->role;
    struct ptk_listener *l = c->l;
    char err[256] = "";
    int r = l->cfg.ops->client_new(l->cfg.instance, args, &p->tconn, err, sizeof(err));
    if (r != PTK_OK) {
        p->tconn = NULL;
        ptk_log(p->io->log, PTK_LOG_WARNING, "%s: rejected connection arguments: %s",
                p->transport_name, err[0] ? err : ptk_strerror(r));
        fail(p, PTK_SOCKS_GENERAL_FAILURE);
        return;
    }
    bool v6 = strchr(host, ':') != NULL;
    snprintf(c->target, sizeof(c->target), "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
             (unsigned)port);
    const struct ptk_dial_via *via = l->cfg.via;
    if (via && via->scheme == PTK_PROXY_NONE) {
        ptk_log(p->io->log, PTK_LOG_INFO, "%s: connection %llu: the transport is not ready",
                p->transport_name, (unsigned long long)p->id);
        fail(p, PTK_SOCKS_GENERAL_FAILURE);
        return;
    }
    r = via ? ptk_dial_start_via(p->io, host, port, via, dial_cb, p, &c->dial)
            : ptk_dial_start(p->io, host, port, 0, dial_cb, p, &c->dial);
    if (r != PTK_OK) {
        c->dial = NULL;
        fail(p, PTK_SOCKS_GENERAL_FAILURE);
    }
}

static void socks_read_cb(struct bufferevent *bev, void *arg)
{
    struct ptk_pair *p = arg;
    struct client_role *c = p->role;
    if (p->closing || c->socks_done)
        return; /* early data: left in the buffer for the relay */
    struct evbuffer *in = bufferevent_get_input(bev);
    struct ptk_buf out;
    ptk_buf_init(&out, 1024);
    size_t len = evbuffer_get_length(in), used = 0;
    const uint8_t *d = evbuffer_pullup(in, -1);
    int r = ptk_socks_server_feed(&c->socks, d, len, &used, &out);
    evbuffer_drain(in, used);
    if (ptk_buf_len(&out))
        ptk_bev_write(bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
    if (r < 0) {
        enum ptk_log_level lvl = r == PTK_EINVAL ? PTK_LOG_WARNING : PTK_LOG_INFO;
        ptk_log(p->io->log, lvl, "%s: connection %llu: bad SOCKS request: %s", p->transport_name,
                (unsigned long long)p->id, ptk_socks_server_error(&c->socks));
        ptk_pair_close_after_flush(p);
        return;
    }
    if (r != PTK_DONE)
        return;
    c->socks_done = true;
    /*
     * Bytes after the request stay in the input buffer until the pair is up.
     * Reading stays on (capped by the watermark) so that a client that goes
     * away while we dial is noticed at once: socks_event_cb closes the pair.
     */
    connect_target(p, c->socks.req.host, c->socks.req.port, &c->socks.req.args);
}

static void socks_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct ptk_pair *p = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        ptk_pair_close(p);
}

void ptk_client_accept(struct ptk_listener *l, int fd, const struct sockaddr *peer,
                       socklen_t peerlen)
{
    struct ptk_io *io = l->io;
    struct bufferevent *bev = bufferevent_socket_new(io->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    ptk_socket_tune(fd);
    struct ptk_pair *p = ptk_pair_new(io, l->cfg.ops, l->cfg.transport_name, false);
    struct client_role *c = p ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        if (p)
            ptk_pair_close(p);
        bufferevent_free(bev);
        return;
    }
    ptk_listener_ref(l);
    c->l = l;
    ptk_socks_server_init(&c->socks, 0);
    p->role = c;
    p->on_free = client_free;
    p->on_established = on_established;
    p->on_deadline = on_deadline;
    p->on_setup_fail = on_setup_fail;
    ptk_pair_attach_app(p, bev);
    if (l->cfg.fixed) {
        bufferevent_setcb(bev, NULL, NULL, socks_event_cb, p);
        connect_target(p, l->cfg.fixed_host, l->cfg.fixed_port, l->cfg.fixed_args);
        return;
    }
    bufferevent_setcb(bev, socks_read_cb, NULL, socks_event_cb, p);
    bufferevent_setwatermark(bev, EV_READ, 0, 4096);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}
