/*
 * Outbound TCP connections: direct (with the outbound bind address for the
 * family, name lookups through evdns when the target is not an IP) or through
 * the upstream proxy of TOR_PT_PROXY (socks4a, socks5, http CONNECT), which
 * then receives the name unresolved.
 *
 * The callback runs exactly once, from the event loop, unless the dial is
 * cancelled first. On success it receives a connected bufferevent (ownership
 * passes to it; callbacks cleared; reading disabled) whose input may already
 * hold stream bytes that followed the proxy's reply. On failure it receives a
 * negative PTK_E*, the SOCKS reply code that best describes the failure, and
 * a static reason.
 */
#ifndef PTK_IO_DIAL_H
#define PTK_IO_DIAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "io/io.h"
#include "ptkit/socks.h"

struct ptk_dial;

typedef void (*ptk_dial_cb)(void *ud, struct bufferevent *bev, int err,
                            enum ptk_socks_reply reply, const char *why);

#define PTK_DIAL_DIRECT 0x1 /* ignore the upstream proxy (server role dialing tor) */

/* host: an IP literal (IPv6 without brackets) or a name. */
int ptk_dial_start(struct ptk_io *io, const char *host, uint16_t port, unsigned flags,
                   ptk_dial_cb cb, void *ud, struct ptk_dial **out);
/* A per-dial SOCKS/HTTP proxy (the parent side dialing through a PT's SOCKS port). */
struct ptk_dial_via {
    enum ptk_proxy_scheme scheme; /* PTK_PROXY_SOCKS4A (SOCKS4 for IPv4), SOCKS5 or HTTP */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    /* SOCKS5: RFC 1929 credentials; SOCKS4: user = USERID; HTTP: user = "user:pass". */
    const uint8_t *user;
    size_t userlen;
    const uint8_t *pass;
    size_t passlen;
};

/* Like ptk_dial_start, through `via` (copied) instead of the io's upstream proxy. */
int ptk_dial_start_via(struct ptk_io *io, const char *host, uint16_t port,
                       const struct ptk_dial_via *via, ptk_dial_cb cb, void *ud,
                       struct ptk_dial **out);
/* Same, to a sockaddr. */
int ptk_dial_start_addr(struct ptk_io *io, const struct sockaddr *sa, socklen_t salen,
                        unsigned flags, ptk_dial_cb cb, void *ud, struct ptk_dial **out);
/* Abort a pending dial; the callback will not run. */
void ptk_dial_cancel(struct ptk_dial *d);

/* Map an errno from connect() to a SOCKS5 reply code. */
enum ptk_socks_reply ptk_dial_errno_reply(int err);
/* Make a socket suitable for relaying: TCP_NODELAY. */
void ptk_socket_tune(int fd);

#endif
