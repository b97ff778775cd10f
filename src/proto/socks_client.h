/*
 * SOCKS client codec (sans-I/O): used to reach a target through an upstream
 * proxy (TOR_PT_PROXY socks4a:// and socks5://) and, on the parent side, to
 * hand a connection to a PT's SOCKS listener with transport arguments.
 *
 * Usage: init (writes the first message to out); feed the proxy's bytes until
 * PTK_DONE; bytes after the final reply stay unconsumed (they are stream data).
 * SOCKS5 asks for method 02 when credentials are given (offering 00 and 02,
 * as tor does), else only 00. SOCKS4 sends a 4a request when the host is not
 * an IPv4 literal.
 */
#ifndef PTK_PROTO_SOCKS_CLIENT_H
#define PTK_PROTO_SOCKS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ptkit/buf.h"
#include "ptkit/socks.h"

struct ptk_socks_client_cfg {
    int version;      /* 4 or 5 */
    const char *host; /* IPv4/IPv6 literal (no brackets) or a name */
    uint16_t port;
    /* SOCKS5: RFC 1929 credentials when user != NULL (1..255 bytes each).
     * SOCKS4: user is the USERID (no NUL inside). */
    const uint8_t *user;
    size_t userlen;
    const uint8_t *pass;
    size_t passlen;
};

struct ptk_socks_client {
    int state;
    int version;
    uint8_t reply;       /* last reply code (SOCKS5 code, or SOCKS4 0x5a..0x5d) */
    struct ptk_buf acc;  /* partial reply */
    struct ptk_buf req;  /* the CONNECT request, sent after authentication */
    struct ptk_buf auth; /* the RFC 1929 message */
    const char *error;
};

/* Validate cfg, start the exchange (first bytes appended to out). PTK_EINVAL on bad cfg. */
int ptk_socks_client_init(struct ptk_socks_client *c, const struct ptk_socks_client_cfg *cfg,
                          struct ptk_buf *out);
/*
 * Returns PTK_DONE (connected), PTK_MORE, PTK_EDENIED (the proxy refused; see
 * c->reply), PTK_EAUTH (credentials rejected or no acceptable method),
 * PTK_EPROTO (malformed reply).
 */
int ptk_socks_client_feed(struct ptk_socks_client *c, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out);
const char *ptk_socks_client_error(const struct ptk_socks_client *c);
void ptk_socks_client_free(struct ptk_socks_client *c);

/*
 * Split encoded transport args the way tor does for SOCKS5: if len <= 255 the
 * whole string is the username and the password is the single byte 0x00;
 * otherwise the first 255 bytes are the username and the rest (at most 255)
 * the password. PTK_ETOOBIG over 510 bytes; PTK_EINVAL if empty.
 */
int ptk_socks_args_split(const char *args, size_t len, const uint8_t **user, size_t *userlen,
                         const uint8_t **pass, size_t *passlen);

#endif
