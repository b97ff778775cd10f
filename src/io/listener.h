/*
 * TCP listeners for both roles.
 *
 *   client: accepts local connections; either speaks SOCKS4a/5 and dials
 *           the requested target through the transport with the SOCKS args
 *           (managed mode, and `ptkit client` without --forward), or tunnels
 *           every connection to one fixed target with fixed args.
 *   server: accepts peer PT connections; after the transport's handshake,
 *           dials tor's ExtORPort (SAFE_COOKIE auth, USERADDR, TRANSPORT,
 *           wait for OKAY) or a plain TCP target (ORPort / --forward).
 *
 * The listener borrows the transport instance (server_setup/client_setup
 * result); the caller frees it after closing the listener.
 */
#ifndef PTK_IO_LISTENER_H
#define PTK_IO_LISTENER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "io/dial.h"
#include "io/io.h"
#include "ptkit/kv.h"
#include "ptkit/transport.h"

struct evconnlistener;

struct ptk_listener_cfg {
    const char *transport_name;
    const struct ptk_transport_ops *ops;
    void *instance; /* from server_setup / client_setup (may be NULL) */
    struct sockaddr_storage listen;
    socklen_t listen_len;
    bool reuseport; /* SO_REUSEPORT: one listener per worker on the same address */

    /* client role */
    bool fixed;                 /* no SOCKS: tunnel to fixed_host:fixed_port */
    char fixed_host[256];
    uint16_t fixed_port;
    const struct ptk_kvlist *fixed_args; /* transport args for the fixed target */
    /* Dial the fixed target through this proxy (the host's tunnel through a PT's
     * SOCKS port). Owned by the caller, read per connection; scheme NONE means
     * "not available now" and the connection is closed. */
    const struct ptk_dial_via *via;

    /* server role */
    struct sockaddr_storage target; /* ExtORPort, ORPort, or --forward address */
    socklen_t target_len;
    const char *cookie_file; /* non-NULL: target is an Extended ORPort */

    /* orport role: serve the Extended ORPort with this cookie (NULL: a plain
     * ORPort), then forward each accepted stream to `target`. */
    const uint8_t *extor_cookie;
};

enum ptk_listener_role {
    PTK_ROLE_CLIENT, /* local connections in, transport out */
    PTK_ROLE_SERVER, /* transport in, tor (or a plain target) out */
    PTK_ROLE_ORPORT, /* the parent side: a PT's Extended ORPort / ORPort connections in */
};

struct ptk_listener {
    struct ptk_io *io;
    enum ptk_listener_role role;
    struct ptk_listener_cfg cfg;
    struct ptk_kvlist fixed_args; /* owned copy */
    char *cookie_file;            /* owned copy */
    uint8_t extor_cookie[32];     /* owned copy (orport role) */
    struct evconnlistener *lev;
    struct event *retry;
    struct sockaddr_storage bound; /* the real address (port 0 resolved) */
    socklen_t bound_len;
    uint64_t refused; /* connections refused at max_conns */
    unsigned refs;    /* 1 while open, +1 per live connection */
};

/* Bind and start a listener. On error, *why says what failed (errno is kept). */
int ptk_listener_open(struct ptk_io *io, enum ptk_listener_role role,
                      const struct ptk_listener_cfg *cfg, struct ptk_listener **out,
                      const char **why);
/* Stop accepting (open connections are unaffected; they hold references). */
void ptk_listener_close(struct ptk_listener *l);
void ptk_listener_ref(struct ptk_listener *l);
void ptk_listener_unref(struct ptk_listener *l);

/* Role entry points (io/client.c, io/server.c), called for each accepted socket. */
void ptk_client_accept(struct ptk_listener *l, int fd, const struct sockaddr *peer,
                       socklen_t peerlen);
void ptk_server_accept(struct ptk_listener *l, int fd, const struct sockaddr *peer,
                       socklen_t peerlen);
void ptk_orport_accept(struct ptk_listener *l, int fd, const struct sockaddr *peer,
                       socklen_t peerlen);
/* Server role from an already-open bufferevent (the orport role after authentication). */
struct bufferevent;
void ptk_server_start(struct ptk_listener *l, struct bufferevent *bev, const char *useraddr);

#endif
