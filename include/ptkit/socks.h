/*
 * SOCKS server codec (sans-I/O): what a PT's client side accepts from tor.
 *
 * Speaks SOCKS5 (RFC 1928, CONNECT only; methods 00 "no auth" and 02
 * username/password, RFC 1929) and SOCKS4/4a, and yields the target plus the
 * per-connection transport arguments that tor packs into the username and
 * password (SOCKS5) or the USERID (SOCKS4) exactly as tor does:
 *
 *   - SOCKS5: the arguments are USERNAME followed by PASSWORD; a password that
 *     is the single byte 0x00 is ignored (tor sends it when everything fits in
 *     the 255-byte username). Method 02 is chosen whenever it is offered.
 *   - SOCKS4/4a: the arguments are the USERID.
 *   - the concatenation is parsed with ptk_args_parse (';'-separated k=v,
 *     backslash escapes).
 *
 * Usage: init; feed received bytes until PTK_DONE (send whatever lands in
 * `out` after each call); then connect to the target and call
 * ptk_socks_server_reply() with a SOCKS5 reply code (mapped to 0x5a/0x5b for
 * SOCKS4). Bytes after the request stay unconsumed: they are early data for
 * the relay. On a negative return, send `out` (a failure reply, possibly
 * empty) and close; ptk_socks_server_error() says what was wrong.
 */
#ifndef PTKIT_SOCKS_H
#define PTKIT_SOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ptkit/buf.h"
#include "ptkit/kv.h"

enum ptk_socks_reply {
    PTK_SOCKS_SUCCEEDED = 0x00,
    PTK_SOCKS_GENERAL_FAILURE = 0x01,
    PTK_SOCKS_NOT_ALLOWED = 0x02,
    PTK_SOCKS_NET_UNREACHABLE = 0x03,
    PTK_SOCKS_HOST_UNREACHABLE = 0x04,
    PTK_SOCKS_CONN_REFUSED = 0x05,
    PTK_SOCKS_TTL_EXPIRED = 0x06,
    PTK_SOCKS_CMD_UNSUPPORTED = 0x07,
    PTK_SOCKS_ATYP_UNSUPPORTED = 0x08,
};

enum ptk_socks_atyp {
    PTK_SOCKS_ATYP_IPV4 = 1,
    PTK_SOCKS_ATYP_DOMAIN = 3,
    PTK_SOCKS_ATYP_IPV6 = 4,
};

/* ptk_socks_server_init flags: which versions to accept (default both). */
#define PTK_SOCKS_NO_V4 0x1
#define PTK_SOCKS_NO_V5 0x2

struct ptk_socks_request {
    int version;              /* 4 or 5 */
    enum ptk_socks_atyp atyp; /* IPV4 / IPV6 / DOMAIN (SOCKS4a gives DOMAIN) */
    uint8_t ip[16];           /* atyp IPV4: ip[0..4), IPV6: ip[0..16) */
    char host[256];           /* DOMAIN: the name; IPV4/IPV6: the address as text */
    uint16_t port;
    struct ptk_kvlist args; /* parsed transport arguments (may be empty) */
    bool had_auth;          /* SOCKS5 method 02 was used / SOCKS4 USERID non-empty */
};

struct ptk_socks_server {
    int state;
    unsigned flags;
    uint8_t method;       /* chosen SOCKS5 method */
    struct ptk_buf acc;   /* bytes of the message being assembled (capped) */
    struct ptk_buf creds; /* username || password as received */
    const char *error;    /* static text describing the last failure */
    struct ptk_socks_request req;
};

void ptk_socks_server_init(struct ptk_socks_server *s, unsigned flags);
/*
 * Consume bytes in[0..len); *consumed is how many were used (the rest belong
 * to the stream after the request). Appends any reply to out.
 * Returns PTK_DONE when s->req is complete, PTK_MORE, or a negative error:
 * PTK_EPROTO (malformed), PTK_ENOTSUP (version/command/address type/method),
 * PTK_EINVAL (bad transport arguments), PTK_ETOOBIG, PTK_ENOMEM.
 */
int ptk_socks_server_feed(struct ptk_socks_server *s, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out);
/*
 * After PTK_DONE: append the final reply (SOCKS5 code; SOCKS4 maps 0 to 0x5a and
 * anything else to 0x5b). `bound` may be NULL (0.0.0.0:0 is sent).
 */
int ptk_socks_server_reply(struct ptk_socks_server *s, enum ptk_socks_reply code,
                           const struct sockaddr *bound, struct ptk_buf *out);
/* Static text describing the last failure ("" if none). */
const char *ptk_socks_server_error(const struct ptk_socks_server *s);
/* Release memory (the request's args are wiped). */
void ptk_socks_server_free(struct ptk_socks_server *s);
/* Human-readable reply code. */
const char *ptk_socks_reply_name(enum ptk_socks_reply code);

#endif
