/*
 * The orport role (see io/listener.h): the parent side of the PT protocol,
 * where server PTs deliver their clients. With a cookie it serves the
 * Extended ORPort (SAFE_COOKIE, then USERADDR/TRANSPORT/DONE, answered with
 * OKAY); without one it is a plain ORPort. Either way each stream then goes
 * through the server role with the plain transport to the forward target.
 * A wrong client hash gets tor's failure status byte and a close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "io/dial.h"
#include "io/listener.h"
#include "ptkit/error.h"
#include "ptkit/extor.h"
#include "util/addr.h"
#include "util/str.h"

#define AUTH_TIMEOUT_S 10

struct orport_conn {
    struct ptk_listener *l;
    struct bufferevent *bev;
    struct ptk_extor_server ext;
    char peer[PTK_ADDRSTRLEN];
    bool closing;
};

static void conn_free(struct orport_conn *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    ptk_extor_server_free(&c->ext);
    ptk_listener_unref(c->l);
    free(c);
}

static void flush_then_free(struct bufferevent *bev, void *arg)
{
    struct orport_conn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct orport_conn *c = arg;
    if (what & BEV_EVENT_TIMEOUT)
        ptk_log(c->l->io->log, PTK_LOG_INFO, "Extended ORPort: authentication timed out");
    conn_free(c);
}

/* What tor's ext_orport.c closes the connection for, or NULL. */
static const char *bad_fields(const struct ptk_extor_server *s)
{
    struct ptk_addr a;
    if (s->useraddr && ptk_addr_parse(s->useraddr, strlen(s->useraddr), 0, &a, NULL) != PTK_OK)
        return "USERADDR is not a literal IP:PORT";
    if (s->transport && !ptk_is_c_identifier(s->transport, strlen(s->transport)))
        return "TRANSPORT is not a C identifier";
    return NULL;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct orport_conn *c = arg;
    struct ptk_io *io = c->l->io;
    if (c->closing)
        return;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct ptk_buf out;
    ptk_buf_init(&out, 1024);
    size_t len = evbuffer_get_length(in), used = 0;
    int r = ptk_extor_server_feed(&c->ext, evbuffer_pullup(in, -1), len, &used, &out);
    evbuffer_drain(in, used);
    const char *bad = r == PTK_DONE ? bad_fields(&c->ext) : NULL;
    if (bad)
        r = PTK_EPROTO;
    else if (r == PTK_DONE)
        r = ptk_extor_server_reply(&c->ext, true, &out) == PTK_OK ? PTK_DONE : PTK_ENOMEM;
    if (ptk_buf_len(&out))
        bufferevent_write(bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
    if (r < 0) {
        ptk_log(io->log, PTK_LOG_WARNING, "Extended ORPort: rejected a connection from %s: %s",
                ptk_log_addrstr(io->log, c->peer), bad ? bad : ptk_extor_server_error(&c->ext));
        c->closing = true;
        bufferevent_disable(bev, EV_READ);
        bufferevent_setcb(bev, NULL, flush_then_free, event_cb, c);
        flush_then_free(bev, c);
        return;
    }
    if (r != PTK_DONE)
        return;
    const char *t = c->ext.transport ? c->ext.transport : "(none)";
    const char *ua = c->ext.useraddr ? c->ext.useraddr : "(none)";
    ptk_log(io->log, PTK_LOG_INFO, "Extended ORPort: accepted transport=%s useraddr=%s", t,
            ptk_log_addrstr(io->log, ua));
    struct ptk_listener *l = c->l;
    struct bufferevent *b = c->bev;
    char useraddr[PTK_ADDRSTRLEN] = "";
    if (c->ext.useraddr)
        snprintf(useraddr, sizeof(useraddr), "%s", c->ext.useraddr);
    c->bev = NULL;
    bufferevent_set_timeouts(b, NULL, NULL);
    bufferevent_setcb(b, NULL, NULL, NULL, NULL);
    ptk_server_start(l, b, useraddr); /* takes b; any bytes after DONE stay in its input */
    conn_free(c);
}

void ptk_orport_accept(struct ptk_listener *l, int fd, const struct sockaddr *peer,
                       socklen_t peerlen)
{
    struct ptk_io *io = l->io;
    struct bufferevent *bev = bufferevent_socket_new(io->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    ptk_socket_tune(fd);
    char pa[PTK_ADDRSTRLEN] = "";
    if (ptk_addr_format(peer, pa, sizeof(pa)) != PTK_OK)
        pa[0] = '\0';
    if (!l->cfg.extor_cookie) {
        ptk_server_start(l, bev, pa);
        return;
    }
    struct orport_conn *c = calloc(1, sizeof(*c));
    struct ptk_buf out;
    ptk_buf_init(&out, 16);
    if (!c || ptk_extor_server_init(&c->ext, l->cfg.extor_cookie, &out) != PTK_OK) {
        if (c)
            ptk_extor_server_free(&c->ext);
        free(c);
        ptk_buf_free(&out);
        bufferevent_free(bev);
        return;
    }
    ptk_listener_ref(l);
    c->l = l;
    c->bev = bev;
    snprintf(c->peer, sizeof(c->peer), "%s", pa);
    bufferevent_write(bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
    struct timeval tv = {AUTH_TIMEOUT_S, 0};
    bufferevent_set_timeouts(bev, &tv, NULL);
    bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}
