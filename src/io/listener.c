/*
 * Listening sockets (see io/listener.h): bind (IPv6 sockets are v6-only so
 * that "[::]:p" and "0.0.0.0:p" can coexist), accept, enforce the connection
 * limit, and survive descriptor exhaustion by pausing for a second instead
 * of spinning.
 */
#include "io/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "ptkit/error.h"
#include "util/str.h"

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *peer,
                      int peerlen, void *arg)
{
    struct ptk_listener *l = arg;
    struct ptk_io *io = l->io;
    if (io->draining) {
        close(fd);
        return;
    }
    size_t max = io->limit ? io->limit->max : io->max_conns;
    size_t now = io->limit ? atomic_load(&io->limit->n) : io->n_pairs;
    if (max && now >= max) {
        if (l->refused++ % 1000 == 0)
            ptk_log(io->log, PTK_LOG_WARNING,
                    "%s: connection limit (%zu) reached; refusing new connections",
                    l->cfg.transport_name, max);
        close(fd);
        return;
    }
    switch (l->role) {
    case PTK_ROLE_CLIENT:
        ptk_client_accept(l, fd, peer, (socklen_t)peerlen);
        break;
    case PTK_ROLE_SERVER:
        ptk_server_accept(l, fd, peer, (socklen_t)peerlen);
        break;
    case PTK_ROLE_ORPORT:
        ptk_orport_accept(l, fd, peer, (socklen_t)peerlen);
        break;
    }
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_listener *l = arg;
    evconnlistener_enable(l->lev);
}

static void error_cb(struct evconnlistener *lev, void *arg)
{
    struct ptk_listener *l = arg;
    int e = EVUTIL_SOCKET_ERROR();
    ptk_log(l->io->log, PTK_LOG_WARNING, "%s: accept failed: %s; pausing for a second",
            l->cfg.transport_name, evutil_socket_error_to_string(e));
    evconnlistener_disable(lev);
    struct timeval tv = {1, 0};
    evtimer_add(l->retry, &tv);
}

int ptk_listener_open(struct ptk_io *io, enum ptk_listener_role role,
                      const struct ptk_listener_cfg *cfg, struct ptk_listener **out,
                      const char **why)
{
    int fd = -1, r = PTK_EIO;
    struct ptk_listener *l = calloc(1, sizeof(*l));
    if (!l) {
        *why = "out of memory";
        return PTK_ENOMEM;
    }
    l->io = io;
    l->refs = 1;
    l->role = role;
    l->cfg = *cfg;
    if (cfg->fixed_args && (r = ptk_kvlist_copy(&l->fixed_args, cfg->fixed_args)) != PTK_OK) {
        *why = "out of memory";
        goto out;
    }
    l->cfg.fixed_args = &l->fixed_args;
    if (cfg->cookie_file && !(l->cookie_file = strdup(cfg->cookie_file))) {
        *why = "out of memory";
        r = PTK_ENOMEM;
        goto out;
    }
    l->cfg.cookie_file = l->cookie_file;
    if (cfg->extor_cookie) {
        memcpy(l->extor_cookie, cfg->extor_cookie, sizeof(l->extor_cookie));
        l->cfg.extor_cookie = l->extor_cookie;
    }

    r = PTK_EIO;
    int family = cfg->listen.ss_family;
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket() failed";
        goto out;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (cfg->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        *why = "SO_REUSEPORT failed";
        goto out;
    }
    if (family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&cfg->listen, cfg->listen_len) != 0) {
        *why = "cannot bind";
        goto out;
    }
    if (listen(fd, 1024) != 0) {
        *why = "cannot listen";
        goto out;
    }
    l->bound_len = sizeof(l->bound);
    if (getsockname(fd, (struct sockaddr *)&l->bound, &l->bound_len) != 0) {
        *why = "getsockname() failed";
        goto out;
    }
    l->retry = evtimer_new(io->base, retry_cb, l);
    l->lev = evconnlistener_new(io->base, accept_cb, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (!l->retry || !l->lev) {
        *why = "out of memory";
        r = PTK_ENOMEM;
        goto out;
    }
    fd = -1; /* owned by the evconnlistener */
    evconnlistener_set_error_cb(l->lev, error_cb);
    *out = l;
    return PTK_OK;
out:
    if (fd >= 0) {
        int e = errno;
        close(fd);
        errno = e;
    }
    ptk_listener_close(l);
    return r;
}

void ptk_listener_close(struct ptk_listener *l)
{
    if (!l)
        return;
    if (l->lev)
        evconnlistener_free(l->lev);
    if (l->retry)
        event_free(l->retry);
    l->lev = NULL;
    l->retry = NULL;
    ptk_listener_unref(l);
}

void ptk_listener_ref(struct ptk_listener *l)
{
    l->refs++;
}

void ptk_listener_unref(struct ptk_listener *l)
{
    if (--l->refs > 0)
        return;
    ptk_kvlist_free(&l->fixed_args);
    free(l->cookie_file);
    ptk_wipe(l->extor_cookie, sizeof(l->extor_cookie));
    free(l);
}
