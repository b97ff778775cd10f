/*
 * SOCKS4/4a/5 client codec (see proto/socks_client.h).
 *
 * Init validates the configuration and builds every message up front: the
 * SOCKS5 greeting goes to `out` at once, the RFC 1929 message and the CONNECT
 * request wait in `auth` and `req` until the proxy asks for them; SOCKS4 has
 * a single request, sent at init. Replies are assembled in `acc` up to the
 * length their header announces (SOCKS5 CONNECT replies carry a variable
 * bound address), so bytes after the final reply are never consumed.
 *
 * Like tor, a SOCKS5 proxy that picks "no auth" although credentials were
 * offered is accepted (the credentials are then simply not sent), and a
 * refusal is reported as soon as the reply code is in, without waiting for
 * the bound address a failing proxy may not send.
 */
#include "proto/socks_client.h"

#include <arpa/inet.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/str.h"

enum {
    SC_V5_METHOD,
    SC_V5_AUTH,
    SC_V5_REPLY,
    SC_V4_REPLY,
    SC_DONE,
    SC_FAILED,
};

#define SOCKS4_USERID_MAX 1024
#define SOCKS_DOMAIN_MAX 255
/* Longest SOCKS5 CONNECT request or reply: 4 + 1 + 255 + 2. */
#define MSG_MAX 262
/* RFC 1929: 1 + 1 + 255 + 1 + 255. */
#define AUTH_MAX 513
/* fill(): the input ran out before the message did (PTK_MORE is 0, like PTK_OK). */
#define NEED_INPUT 2

#define METHOD_NONE 0x00
#define METHOD_USERPASS 0x02

/* Append ATYP, address and port of a SOCKS5 CONNECT; PTK_EINVAL if a name is too long. */
static int v5_put_target(struct ptk_buf *b, const char *host, uint16_t port)
{
    uint8_t ip[16];
    size_t hlen = strlen(host);
    int r;
    if (inet_pton(AF_INET, host, ip) == 1) {
        if ((r = ptk_buf_put_u8(b, PTK_SOCKS_ATYP_IPV4)) != PTK_OK ||
            (r = ptk_buf_put(b, ip, 4)) != PTK_OK)
            return r;
    } else if (inet_pton(AF_INET6, host, ip) == 1) {
        if ((r = ptk_buf_put_u8(b, PTK_SOCKS_ATYP_IPV6)) != PTK_OK ||
            (r = ptk_buf_put(b, ip, 16)) != PTK_OK)
            return r;
    } else {
        if (hlen > SOCKS_DOMAIN_MAX)
            return PTK_EINVAL;
        uint8_t hdr[2] = {PTK_SOCKS_ATYP_DOMAIN, (uint8_t)hlen};
        if ((r = ptk_buf_put(b, hdr, 2)) != PTK_OK || (r = ptk_buf_put(b, host, hlen)) != PTK_OK)
            return r;
    }
    return ptk_buf_put_u16(b, port);
}

static int init_v5(struct ptk_socks_client *c, const struct ptk_socks_client_cfg *cfg,
                   struct ptk_buf *out)
{
    static const uint8_t hello_none[3] = {0x05, 0x01, METHOD_NONE};
    static const uint8_t hello_auth[4] = {0x05, 0x02, METHOD_NONE, METHOD_USERPASS};
    static const uint8_t connect[3] = {0x05, 0x01, 0x00};
    int r;
    if (cfg->user) {
        if (!cfg->pass || cfg->userlen < 1 || cfg->userlen > 255 || cfg->passlen < 1 ||
            cfg->passlen > 255) {
            c->error = "SOCKS5 username and password must be 1 to 255 bytes each";
            return PTK_EINVAL;
        }
        uint8_t ulen = (uint8_t)cfg->userlen, plen = (uint8_t)cfg->passlen;
        if ((r = ptk_buf_put_u8(&c->auth, 0x01)) != PTK_OK ||
            (r = ptk_buf_put_u8(&c->auth, ulen)) != PTK_OK ||
            (r = ptk_buf_put(&c->auth, cfg->user, ulen)) != PTK_OK ||
            (r = ptk_buf_put_u8(&c->auth, plen)) != PTK_OK ||
            (r = ptk_buf_put(&c->auth, cfg->pass, plen)) != PTK_OK)
            return r;
    }
    if ((r = ptk_buf_put(&c->req, connect, sizeof(connect))) != PTK_OK)
        return r;
    if ((r = v5_put_target(&c->req, cfg->host, cfg->port)) != PTK_OK) {
        if (r == PTK_EINVAL)
            c->error = "SOCKS5 domain name longer than 255 bytes";
        return r;
    }
    if (cfg->user)
        r = ptk_buf_put(out, hello_auth, sizeof(hello_auth));
    else
        r = ptk_buf_put(out, hello_none, sizeof(hello_none));
    if (r == PTK_OK)
        c->state = SC_V5_METHOD;
    return r;
}

static int init_v4(struct ptk_socks_client *c, const struct ptk_socks_client_cfg *cfg,
                   struct ptk_buf *out)
{
    uint8_t hdr[8] = {0x04, 0x01, (uint8_t)(cfg->port >> 8), (uint8_t)cfg->port};
    uint8_t ip6[16];
    size_t hlen = strlen(cfg->host);
    bool is4a = inet_pton(AF_INET, cfg->host, hdr + 4) != 1;
    struct ptk_buf msg;
    int r;
    if (cfg->pass) {
        c->error = "SOCKS4 has no password";
        return PTK_EINVAL;
    }
    if (cfg->user && (cfg->userlen > SOCKS4_USERID_MAX || memchr(cfg->user, '\0', cfg->userlen))) {
        c->error = "SOCKS4 USERID too long or with a NUL byte";
        return PTK_EINVAL;
    }
    if (is4a && inet_pton(AF_INET6, cfg->host, ip6) == 1) {
        c->error = "SOCKS4 cannot connect to an IPv6 address";
        return PTK_EINVAL;
    }
    if (is4a && hlen > SOCKS_DOMAIN_MAX) {
        c->error = "SOCKS4a domain name longer than 255 bytes";
        return PTK_EINVAL;
    }
    if (is4a) {
        memset(hdr + 4, 0, 4);
        hdr[7] = 1;
    }
    /* build in one piece so that out is untouched on failure */
    ptk_buf_init(&msg, sizeof(hdr) + SOCKS4_USERID_MAX + 1 + SOCKS_DOMAIN_MAX + 1);
    if ((r = ptk_buf_put(&msg, hdr, sizeof(hdr))) != PTK_OK ||
        (cfg->user && (r = ptk_buf_put(&msg, cfg->user, cfg->userlen)) != PTK_OK) ||
        (r = ptk_buf_put_u8(&msg, 0)) != PTK_OK ||
        (is4a && ((r = ptk_buf_put(&msg, cfg->host, hlen)) != PTK_OK ||
                  (r = ptk_buf_put_u8(&msg, 0)) != PTK_OK)))
        goto out;
    if ((r = ptk_buf_put(out, ptk_buf_data(&msg), ptk_buf_len(&msg))) != PTK_OK)
        goto out;
    c->state = SC_V4_REPLY;
out:
    ptk_buf_free(&msg);
    return r;
}

int ptk_socks_client_init(struct ptk_socks_client *c, const struct ptk_socks_client_cfg *cfg,
                          struct ptk_buf *out)
{
    int r = PTK_EINVAL;
    memset(c, 0, sizeof(*c));
    c->state = SC_FAILED;
    c->version = cfg->version;
    ptk_buf_init(&c->acc, MSG_MAX);
    ptk_buf_init(&c->req, MSG_MAX);
    ptk_buf_init(&c->auth, AUTH_MAX);
    c->error = "";
    if (cfg->version != 4 && cfg->version != 5) {
        c->error = "SOCKS version must be 4 or 5";
        goto out;
    }
    if (!cfg->host || !cfg->host[0]) {
        c->error = "no target host";
        goto out;
    }
    if (cfg->port == 0) {
        c->error = "target port 0";
        goto out;
    }
    if (!cfg->user && (cfg->userlen || cfg->pass || cfg->passlen)) {
        c->error = "credentials length without credentials";
        goto out;
    }
    r = cfg->version == 5 ? init_v5(c, cfg, out) : init_v4(c, cfg, out);
out:
    if (r != PTK_OK) {
        if (!c->error[0])
            c->error = ptk_strerror(r);
        ptk_socks_client_free(c);
        c->state = SC_FAILED;
    }
    return r;
}

/* Length of the SOCKS5 CONNECT reply assembled so far in acc, once the header says it. */
static int v5_reply_need(struct ptk_socks_client *c, size_t *need)
{
    const uint8_t *a = ptk_buf_data(&c->acc);
    size_t have = ptk_buf_len(&c->acc);
    if (have < 2) {
        *need = 2;
        return PTK_OK;
    }
    if (a[0] != 0x05) {
        c->error = "bad SOCKS5 reply version";
        return PTK_EPROTO;
    }
    c->reply = a[1];
    if (a[1] != PTK_SOCKS_SUCCEEDED) {
        c->error = ptk_socks_reply_name((enum ptk_socks_reply)a[1]);
        return PTK_EDENIED;
    }
    if (have < 4) {
        *need = 4;
        return PTK_OK;
    }
    switch (a[3]) {
    case PTK_SOCKS_ATYP_IPV4:
        *need = 4 + 4 + 2;
        return PTK_OK;
    case PTK_SOCKS_ATYP_IPV6:
        *need = 4 + 16 + 2;
        return PTK_OK;
    case PTK_SOCKS_ATYP_DOMAIN:
        *need = have < 5 ? 5 : 5 + (size_t)a[4] + 2;
        return PTK_OK;
    default:
        c->error = "bad address type in the SOCKS5 reply";
        return PTK_EPROTO;
    }
}

/*
 * Copy input into acc until it holds `want` bytes (want == 0: ask the
 * CONNECT-reply parser). PTK_DONE, NEED_INPUT or a negative error.
 */
static int fill(struct ptk_socks_client *c, size_t want, const uint8_t *in, size_t len, size_t *pos)
{
    for (;;) {
        size_t need = want, have = ptk_buf_len(&c->acc);
        int r;
        if (want == 0 && (r = v5_reply_need(c, &need)) != PTK_OK)
            return r;
        if (have >= need)
            return PTK_DONE;
        size_t take = need - have < len - *pos ? need - have : len - *pos;
        if (take == 0)
            return NEED_INPUT;
        if ((r = ptk_buf_put(&c->acc, in + *pos, take)) != PTK_OK)
            return r;
        *pos += take;
    }
}

/* Queue a prepared message and forget it (it may hold credentials). */
static int send_msg(struct ptk_buf *msg, struct ptk_buf *out)
{
    int r = ptk_buf_put(out, ptk_buf_data(msg), ptk_buf_len(msg));
    ptk_buf_free(msg);
    return r;
}

static int v5_method(struct ptk_socks_client *c, struct ptk_buf *out)
{
    const uint8_t *a = ptk_buf_data(&c->acc);
    if (a[0] != 0x05) {
        c->error = "bad SOCKS5 method reply version";
        return PTK_EPROTO;
    }
    if (a[1] == METHOD_USERPASS && ptk_buf_len(&c->auth)) {
        c->state = SC_V5_AUTH;
        return send_msg(&c->auth, out);
    }
    if (a[1] == METHOD_NONE) {
        ptk_buf_free(&c->auth);
        c->state = SC_V5_REPLY;
        return send_msg(&c->req, out);
    }
    c->error = a[1] == 0xff ? "the SOCKS5 proxy accepts none of our methods"
                            : "the SOCKS5 proxy chose a method we did not offer";
    return PTK_EAUTH;
}

static int v5_auth(struct ptk_socks_client *c, struct ptk_buf *out)
{
    const uint8_t *a = ptk_buf_data(&c->acc);
    if (a[0] != 0x01 || a[1] != 0x00) {
        c->error = "the SOCKS5 proxy rejected our credentials";
        return PTK_EAUTH;
    }
    c->state = SC_V5_REPLY;
    return send_msg(&c->req, out);
}

static int v4_reply(struct ptk_socks_client *c)
{
    const uint8_t *a = ptk_buf_data(&c->acc);
    if (a[0] != 0x00) {
        c->error = "bad SOCKS4 reply version";
        return PTK_EPROTO;
    }
    c->reply = a[1];
    if (a[1] != 0x5a) {
        c->error = "the SOCKS4 proxy refused the request";
        return PTK_EDENIED;
    }
    c->state = SC_DONE;
    return PTK_OK;
}

int ptk_socks_client_feed(struct ptk_socks_client *c, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out)
{
    size_t pos = 0;
    int r = PTK_OK;
    while (r == PTK_OK) {
        switch (c->state) {
        case SC_V5_METHOD:
            if ((r = fill(c, 2, in, len, &pos)) == PTK_DONE) {
                r = v5_method(c, out);
                ptk_buf_reset(&c->acc);
            }
            break;
        case SC_V5_AUTH:
            if ((r = fill(c, 2, in, len, &pos)) == PTK_DONE) {
                r = v5_auth(c, out);
                ptk_buf_reset(&c->acc);
            }
            break;
        case SC_V5_REPLY:
            if ((r = fill(c, 0, in, len, &pos)) == PTK_DONE) {
                c->state = SC_DONE;
                r = PTK_OK;
            }
            break;
        case SC_V4_REPLY:
            if ((r = fill(c, 8, in, len, &pos)) == PTK_DONE)
                r = v4_reply(c);
            break;
        case SC_DONE:
            ptk_buf_free(&c->acc);
            r = PTK_DONE;
            break;
        default:
            r = PTK_ESTATE;
            break;
        }
    }
    if (r < 0 && r != PTK_ESTATE) {
        if (!c->error || !c->error[0])
            c->error = ptk_strerror(r);
        c->state = SC_FAILED;
    }
    *consumed = pos;
    return r == NEED_INPUT ? PTK_MORE : r;
}

const char *ptk_socks_client_error(const struct ptk_socks_client *c)
{
    return c->error ? c->error : "";
}

void ptk_socks_client_free(struct ptk_socks_client *c)
{
    ptk_buf_free(&c->acc);
    ptk_buf_free(&c->req);
    ptk_buf_free(&c->auth);
}

int ptk_socks_args_split(const char *args, size_t len, const uint8_t **user, size_t *userlen,
                         const uint8_t **pass, size_t *passlen)
{
    static const uint8_t lone_nul[1] = {0x00};
    if (!args || len == 0)
        return PTK_EINVAL;
    if (len > 2 * 255)
        return PTK_ETOOBIG;
    *user = (const uint8_t *)args;
    if (len <= 255) {
        *userlen = len;
        *pass = lone_nul;
        *passlen = 1;
    } else {
        *userlen = 255;
        *pass = (const uint8_t *)args + 255;
        *passlen = len - 255;
    }
    return PTK_OK;
}
