/*
 * Server role (see io/listener.h): a peer PT connects, the transport runs
 * its handshake on the wire, and only once it has succeeded is tor dialed:
 * through the Extended ORPort (SAFE_COOKIE, USERADDR = the peer, TRANSPORT =
 * our name, then wait for OKAY) or the plain ORPort / forward target. Probes
 * that fail the handshake never cause a connection to tor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "io/dial.h"
#include "io/listener.h"
#include "io/relay.h"
#include "ptkit/error.h"
#include "ptkit/extor.h"
#include "util/addr.h"
#include "util/str.h"

struct server_role {
    struct ptk_listener *l;
    struct ptk_dial *dial;
    struct ptk_extor_client extor;
    bool extor_active;
    char useraddr[PTK_ADDRSTRLEN];
};

static void server_free(struct ptk_pair *p)
{
    struct server_role *s = p->role;
    if (!s)
        return;
    ptk_dial_cancel(s->dial);
    if (s->extor_active)
        ptk_extor_client_free(&s->extor);
    ptk_listener_unref(s->l);
    free(s);
    p->role = NULL;
}

/* Read and check the ExtORPort cookie file (re-read per connection: tor rewrites it on restart). */
static int read_cookie(const char *path, uint8_t cookie[PTK_EXTOR_COOKIE_LEN], const char **why)
{
    uint8_t data[PTK_EXTOR_COOKIE_FILE_LEN + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = "cannot open the auth cookie file";
        return PTK_EIO;
    }
    size_t got = 0;
    while (got < sizeof(data)) {
        ssize_t n = read(fd, data + got, sizeof(data) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int r = ptk_extor_cookie_parse(data, got, cookie, why);
    ptk_wipe(data, sizeof(data));
    return r;
}

static void extor_read_cb(struct bufferevent *bev, void *arg)
{
    struct ptk_pair *p = arg;
    struct server_role *s = p->role;
    if (p->closing)
        return;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct ptk_buf out;
    ptk_buf_init(&out, 1024);
    size_t len = evbuffer_get_length(in), used = 0;
    const uint8_t *d = evbuffer_pullup(in, -1);
    int r = ptk_extor_client_feed(&s->extor, d, len, &used, &out);
    evbuffer_drain(in, used);
    if (ptk_buf_len(&out))
        ptk_bev_write(bev, ptk_buf_data(&out), ptk_buf_len(&out));
    ptk_buf_free(&out);
    if (r < 0) {
        ptk_log(p->io->log, PTK_LOG_WARNING, "%s: Extended ORPort: %s", p->transport_name,
                ptk_extor_client_error(&s->extor));
        ptk_pair_close(p);
        return;
    }
    if (r == PTK_DONE) {
        ptk_log(p->io->log, PTK_LOG_INFO, "%s: connection %llu: Extended ORPort accepted it",
                p->transport_name, (unsigned long long)p->id);
        ptk_extor_client_free(&s->extor);
        s->extor_active = false;
        ptk_pair_app_ready(p);
    }
}

static void extor_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct ptk_pair *p = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        ptk_log(p->io->log, PTK_LOG_WARNING,
                "%s: Extended ORPort closed the connection during authentication",
                p->transport_name);
        ptk_pair_close(p);
    }
}

static void dial_cb(void *ud, struct bufferevent *bev, int err, enum ptk_socks_reply code,
                    const char *why)
{
    struct ptk_pair *p = ud;
    struct server_role *s = p->role;
    struct ptk_listener *l = s->l;
    s->dial = NULL;
    if (err != PTK_OK) {
        ptk_log(p->io->log, PTK_LOG_WARNING, "%s: cannot connect to %s: %s", p->transport_name,
                l->cfg.cookie_file ? "tor's Extended ORPort" : "the forward address", why);
        ptk_pair_close(p);
        return;
    }
    ptk_pair_attach_app(p, bev);
    if (!l->cfg.cookie_file) {
        ptk_pair_app_ready(p);
        return;
    }
    uint8_t cookie[PTK_EXTOR_COOKIE_LEN];
    const char *cwhy = "bad auth cookie file";
    if (read_cookie(l->cfg.cookie_file, cookie, &cwhy) != PTK_OK) {
        ptk_log(p->io->log, PTK_LOG_WARNING, "%s: %s (%s)", p->transport_name, cwhy,
                l->cfg.cookie_file);
        ptk_pair_close(p);
        return;
    }
    int r = ptk_extor_client_init(&s->extor, cookie, s->useraddr[0] ? s->useraddr : NULL,
                                  l->cfg.transport_name);
    ptk_wipe(cookie, sizeof(cookie));
    if (r != PTK_OK) {
        ptk_pair_close(p);
        return;
    }
    s->extor_active = true;
    bufferevent_setcb(bev, extor_read_cb, NULL, extor_event_cb, p);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_established(struct ptk_pair *p)
{
    struct server_role *s = p->role;
    struct ptk_listener *l = s->l;
    int r = ptk_dial_start_addr(p->io, (const struct sockaddr *)&l->cfg.target, l->cfg.target_len,
                                PTK_DIAL_DIRECT, dial_cb, p, &s->dial);
    if (r != PTK_OK) {
        s->dial = NULL;
        ptk_pair_close(p);
    }
}

void ptk_server_start(struct ptk_listener *l, struct bufferevent *bev, const char *useraddr)
{
    struct ptk_io *io = l->io;
    struct ptk_pair *p = ptk_pair_new(io, l->cfg.ops, l->cfg.transport_name, true);
    struct server_role *s = p ? calloc(1, sizeof(*s)) : NULL;
    if (!s) {
        if (p)
            ptk_pair_close(p);
        bufferevent_free(bev);
        return;
    }
    ptk_listener_ref(l);
    s->l = l;
    ptk_strlcpy(s->useraddr, useraddr ? useraddr : "", sizeof(s->useraddr));
    p->role = s;
    p->on_free = server_free;
    p->on_established = on_established;
    ptk_pair_attach_wire(p, bev);
    int r = l->cfg.ops->server_new(l->cfg.instance, &p->tconn);
    if (r != PTK_OK) {
        p->tconn = NULL;
        ptk_pair_close(p);
        return;
    }
    ptk_log(io->log, PTK_LOG_DEBUG, "%s: connection %llu from %s", l->cfg.transport_name,
            (unsigned long long)p->id, ptk_log_addrstr(io->log, s->useraddr));
    ptk_pair_start(p);
}

void ptk_server_accept(struct ptk_listener *l, int fd, const struct sockaddr *peer,
                       socklen_t peerlen)
{
    char useraddr[PTK_ADDRSTRLEN] = "";
    struct bufferevent *bev = bufferevent_socket_new(l->io->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    ptk_socket_tune(fd);
    if (ptk_addr_format(peer, useraddr, sizeof(useraddr)) != PTK_OK)
        useraddr[0] = '\0';
    ptk_server_start(l, bev, useraddr);
}
