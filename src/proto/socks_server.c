/*
 * SOCKS4/4a/5 server codec (see ptkit/socks.h).
 *
 * Every message is assembled in `acc` before it is looked at: a small "need"
 * function says, from what is already there, how many bytes the message has
 * in total (the greeting's method count, RFC 1929's ULEN and PLEN, the
 * request's address type); input is copied in bulk up to exactly that many
 * bytes, so nothing past the request is ever taken from the caller. SOCKS4's
 * NUL-terminated USERID and SOCKS4a's domain are found with memchr under a
 * cap. Header checks run as soon as the bytes they need are in, so a bad
 * peer is answered without waiting for the rest of its message.
 *
 * The transport arguments (SOCKS5 username || password, minus tor's lone-NUL
 * password, or the SOCKS4 USERID) are kept in `creds` and parsed with
 * ptk_args_parse; both buffers are wiped when released.
 */
#include "ptkit/socks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "ptkit/args.h"
#include "ptkit/error.h"
#include "util/str.h"

enum {
    SS_START,
    SS_V5_GREETING,
    SS_V5_AUTH,
    SS_V5_REQUEST,
    SS_V4_HEADER,
    SS_V4_USERID,
    SS_V4_DOMAIN,
    SS_DONE,
    SS_REPLIED,
    SS_FAILED,
};

#define SOCKS4_USERID_MAX 1024
#define SOCKS_DOMAIN_MAX 255
/* Largest single message: RFC 1929 auth, 1 + 1 + 255 + 1 + 255 bytes. */
#define ACC_MAX 513

/* fill/take_until_nul: the input ran out before the message did (PTK_MORE is 0, like PTK_OK). */
#define NEED_INPUT 2

#define V4_GRANTED 0x5a
#define V4_REJECTED 0x5b

void ptk_socks_server_init(struct ptk_socks_server *s, unsigned flags)
{
    memset(s, 0, sizeof(*s));
    s->state = SS_START;
    s->flags = flags;
    ptk_buf_init(&s->acc, ACC_MAX);
    ptk_buf_init(&s->creds, SOCKS4_USERID_MAX);
    s->req.args = (struct ptk_kvlist)PTK_KVLIST_INIT;
    s->error = "";
}

/* Wipe the message just handled (it may hold credentials) and start the next one. */
static void acc_clear(struct ptk_socks_server *s)
{
    if (ptk_buf_len(&s->acc))
        ptk_wipe(s->acc.mem + s->acc.off, ptk_buf_len(&s->acc));
    ptk_buf_reset(&s->acc);
}

/* SOCKS5 reply: 05 code 00, then ATYP and the bound address (0.0.0.0:0 without one). */
static int v5_reply(struct ptk_buf *out, uint8_t code, const struct sockaddr *bound)
{
    uint8_t msg[22] = {0x05, code, 0x00, PTK_SOCKS_ATYP_IPV4};
    size_t n = 10;
    if (bound && bound->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)bound;
        memcpy(msg + 4, &sin->sin_addr, 4);
        memcpy(msg + 8, &sin->sin_port, 2);
    } else if (bound && bound->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)bound;
        msg[3] = PTK_SOCKS_ATYP_IPV6;
        memcpy(msg + 4, &sin6->sin6_addr, 16);
        memcpy(msg + 20, &sin6->sin6_port, 2);
        n = 22;
    } else if (bound) {
        return PTK_EINVAL;
    }
    return ptk_buf_put(out, msg, n);
}

/* SOCKS4 reply: 00 code, then port and IPv4 address (zeros unless bound is IPv4). */
static int v4_reply(struct ptk_buf *out, uint8_t code, const struct sockaddr *bound)
{
    uint8_t msg[8] = {0x00, code};
    if (bound && bound->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)bound;
        memcpy(msg + 2, &sin->sin_port, 2);
        memcpy(msg + 4, &sin->sin_addr, 4);
    }
    return ptk_buf_put(out, msg, sizeof(msg));
}

/*
 * Record a failure and queue its reply. A reply that does not fit in `out` is
 * dropped: the connection is closing and the original error says more.
 */
static int fail(struct ptk_socks_server *s, int err, const char *why, const uint8_t *reply,
                size_t n, struct ptk_buf *out)
{
    s->state = SS_FAILED;
    s->error = why;
    if (n)
        (void)ptk_buf_put(out, reply, n);
    return err;
}

static int fail_v5(struct ptk_socks_server *s, int err, const char *why, uint8_t code,
                   struct ptk_buf *out)
{
    (void)v5_reply(out, code, NULL);
    return fail(s, err, why, NULL, 0, out);
}

static int fail_v4(struct ptk_socks_server *s, int err, const char *why, struct ptk_buf *out)
{
    (void)v4_reply(out, V4_REJECTED, NULL);
    return fail(s, err, why, NULL, 0, out);
}

/*
 * Parse the transport arguments held in creds into req.args. On failure *why
 * names the problem.
 */
static int parse_creds(struct ptk_socks_server *s, const char **why)
{
    const char *p = (const char *)ptk_buf_data(&s->creds);
    size_t n = ptk_buf_len(&s->creds);
    *why = "bad transport arguments";
    if (n == 0)
        return PTK_OK;
    if (memchr(p, '\0', n)) {
        *why = "NUL byte in the transport arguments";
        return PTK_EINVAL;
    }
    int r = ptk_args_parse(p, n, &s->req.args, why);
    if (r != PTK_OK)
        ptk_kvlist_free(&s->req.args);
    return r;
}

/* ---- SOCKS5 ---- */

static int v5_greeting_need(struct ptk_socks_server *s, struct ptk_buf *out, size_t *need)
{
    const uint8_t *a = ptk_buf_data(&s->acc);
    *need = ptk_buf_len(&s->acc) < 2 ? 2 : 2 + (size_t)a[1];
    return PTK_OK;
}

static int v5_greeting(struct ptk_socks_server *s, struct ptk_buf *out)
{
    const uint8_t *a = ptk_buf_data(&s->acc);
    size_t n = a[1];
    uint8_t msg[2] = {0x05, 0xff};
    int r;
    if (memchr(a + 2, 0x02, n))
        msg[1] = 0x02;
    else if (memchr(a + 2, 0x00, n))
        msg[1] = 0x00;
    if (msg[1] == 0xff)
        return fail(s, PTK_ENOTSUP, "no acceptable SOCKS5 authentication method", msg, 2, out);
    if ((r = ptk_buf_put(out, msg, 2)) != PTK_OK)
        return fail(s, r, "no room for the SOCKS5 method reply", NULL, 0, out);
    s->method = msg[1];
    s->state = msg[1] == 0x02 ? SS_V5_AUTH : SS_V5_REQUEST;
    acc_clear(s);
    return PTK_OK;
}

static const uint8_t auth_failed[2] = {0x01, 0x01};

static int v5_auth_need(struct ptk_socks_server *s, struct ptk_buf *out, size_t *need)
{
    const uint8_t *a = ptk_buf_data(&s->acc);
    size_t have = ptk_buf_len(&s->acc);
    if (have < 2) {
        *need = 2;
        return PTK_OK;
    }
    if (a[0] != 0x01)
        return fail(s, PTK_EPROTO, "bad RFC 1929 version", auth_failed, 2, out);
    if (a[1] == 0)
        return fail(s, PTK_EPROTO, "RFC 1929 username with 0 length", auth_failed, 2, out);
    size_t ulen = a[1];
    if (have < 3 + ulen) {
        *need = 3 + ulen;
        return PTK_OK;
    }
    size_t plen = a[2 + ulen];
    if (plen == 0)
        return fail(s, PTK_EPROTO, "RFC 1929 password with 0 length", auth_failed, 2, out);
    *need = 3 + ulen + plen;
    return PTK_OK;
}

static int v5_auth(struct ptk_socks_server *s, struct ptk_buf *out)
{
    static const uint8_t ok[2] = {0x01, 0x00};
    const uint8_t *a = ptk_buf_data(&s->acc);
    size_t ulen = a[1], plen = a[2 + ulen];
    const uint8_t *pass = a + 3 + ulen;
    const char *why;
    int r;
    if ((r = ptk_buf_put(&s->creds, a + 2, ulen)) != PTK_OK)
        return fail(s, r, "out of memory", auth_failed, 2, out);
    /* tor sends a lone NUL password when the arguments fit in the username */
    if (!(plen == 1 && pass[0] == 0x00) && (r = ptk_buf_put(&s->creds, pass, plen)) != PTK_OK)
        return fail(s, r, "out of memory", auth_failed, 2, out);
    acc_clear(s);
    if ((r = parse_creds(s, &why)) != PTK_OK)
        return fail(s, r, why, auth_failed, 2, out);
    if ((r = ptk_buf_put(out, ok, 2)) != PTK_OK)
        return fail(s, r, "no room for the RFC 1929 reply", NULL, 0, out);
    s->req.had_auth = true;
    s->state = SS_V5_REQUEST;
    return PTK_OK;
}

static int v5_request_need(struct ptk_socks_server *s, struct ptk_buf *out, size_t *need)
{
    const uint8_t *a = ptk_buf_data(&s->acc);
    size_t have = ptk_buf_len(&s->acc);
    if (have < 4) {
        *need = 4;
        return PTK_OK;
    }
    if (a[0] != 0x05)
        return fail_v5(s, PTK_EPROTO, "bad SOCKS5 request version", PTK_SOCKS_GENERAL_FAILURE, out);
    if (a[1] != 0x01)
        return fail_v5(s, PTK_ENOTSUP, "SOCKS5 command not supported", PTK_SOCKS_CMD_UNSUPPORTED,
                       out);
    if (a[2] != 0x00)
        return fail_v5(s, PTK_EPROTO, "bad SOCKS5 reserved byte", PTK_SOCKS_GENERAL_FAILURE, out);
    switch (a[3]) {
    case PTK_SOCKS_ATYP_IPV4:
        *need = 4 + 4 + 2;
        return PTK_OK;
    case PTK_SOCKS_ATYP_IPV6:
        *need = 4 + 16 + 2;
        return PTK_OK;
    case PTK_SOCKS_ATYP_DOMAIN:
        if (have < 5) {
            *need = 5;
            return PTK_OK;
        }
        if (a[4] == 0)
            return fail_v5(s, PTK_EPROTO, "SOCKS5 domain name with 0 length",
                           PTK_SOCKS_GENERAL_FAILURE, out);
        *need = 5 + (size_t)a[4] + 2;
        return PTK_OK;
    default:
        return fail_v5(s, PTK_ENOTSUP, "SOCKS5 address type not supported",
                       PTK_SOCKS_ATYP_UNSUPPORTED, out);
    }
}

static int v5_request(struct ptk_socks_server *s, struct ptk_buf *out)
{
    const uint8_t *a = ptk_buf_data(&s->acc);
    struct ptk_socks_request *q = &s->req;
    const uint8_t *port;
    q->atyp = (enum ptk_socks_atyp)a[3];
    if (q->atyp == PTK_SOCKS_ATYP_DOMAIN) {
        size_t n = a[4];
        if (memchr(a + 5, '\0', n))
            return fail_v5(s, PTK_EPROTO, "NUL byte in the SOCKS5 domain name",
                           PTK_SOCKS_GENERAL_FAILURE, out);
        memcpy(q->host, a + 5, n);
        q->host[n] = '\0';
        port = a + 5 + n;
    } else {
        int af = q->atyp == PTK_SOCKS_ATYP_IPV4 ? AF_INET : AF_INET6;
        size_t n = af == AF_INET ? 4 : 16;
        memcpy(q->ip, a + 4, n);
        if (!inet_ntop(af, q->ip, q->host, sizeof(q->host)))
            return fail_v5(s, PTK_EPROTO, "cannot format the SOCKS5 address",
                           PTK_SOCKS_GENERAL_FAILURE, out);
        port = a + 4 + n;
    }
    q->port = (uint16_t)(port[0] << 8 | port[1]);
    q->version = 5;
    return PTK_OK;
}

/* ---- SOCKS4/4a ---- */

static int v4_header_need(struct ptk_socks_server *s, struct ptk_buf *out, size_t *need)
{
    const uint8_t *a = ptk_buf_data(&s->acc);
    if (ptk_buf_len(&s->acc) >= 2 && a[1] != 0x01)
        return fail_v4(s, PTK_ENOTSUP, "SOCKS4 command not supported", out);
    *need = 8;
    return PTK_OK;
}

static void v4_header(struct ptk_socks_server *s)
{
    const uint8_t *a = ptk_buf_data(&s->acc);
    s->req.version = 4;
    s->req.port = (uint16_t)(a[2] << 8 | a[3]);
    memcpy(s->req.ip, a + 4, 4);
    s->req.atyp = PTK_SOCKS_ATYP_IPV4;
    acc_clear(s);
    s->state = SS_V4_USERID;
}

/*
 * Append input up to the next NUL to b (at most `max` bytes in b). Returns
 * PTK_DONE with the NUL consumed, NEED_INPUT with all input consumed, or
 * PTK_ETOOBIG when more than `max` bytes precede the NUL.
 */
static int take_until_nul(struct ptk_buf *b, size_t max, const uint8_t *in, size_t len, size_t *pos)
{
    size_t room = max - ptk_buf_len(b), avail = len - *pos;
    size_t scan = avail < room + 1 ? avail : room + 1;
    if (avail == 0)
        return NEED_INPUT;
    const uint8_t *z = memchr(in + *pos, '\0', scan);
    size_t n = z ? (size_t)(z - (in + *pos)) : scan;
    int r;
    if (!z && scan > room)
        return PTK_ETOOBIG;
    if ((r = ptk_buf_put(b, in + *pos, n)) != PTK_OK)
        return r;
    *pos += n;
    if (!z)
        return NEED_INPUT;
    (*pos)++;
    return PTK_DONE;
}

static int v4_userid(struct ptk_socks_server *s, struct ptk_buf *out)
{
    const uint8_t *ip = s->req.ip;
    const char *why;
    int r;
    s->req.had_auth = ptk_buf_len(&s->creds) > 0;
    if ((r = parse_creds(s, &why)) != PTK_OK)
        return fail_v4(s, r, why, out);
    if (ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0) {
        s->state = SS_V4_DOMAIN;
        return PTK_OK;
    }
    if (!inet_ntop(AF_INET, ip, s->req.host, sizeof(s->req.host)))
        return fail_v4(s, PTK_EPROTO, "cannot format the SOCKS4 address", out);
    s->state = SS_DONE;
    return PTK_OK;
}

static int v4_domain(struct ptk_socks_server *s, struct ptk_buf *out)
{
    size_t n = ptk_buf_len(&s->acc);
    if (n == 0)
        return fail_v4(s, PTK_EPROTO, "empty SOCKS4a domain name", out);
    memcpy(s->req.host, ptk_buf_data(&s->acc), n);
    s->req.host[n] = '\0';
    memset(s->req.ip, 0, sizeof(s->req.ip));
    s->req.atyp = PTK_SOCKS_ATYP_DOMAIN;
    acc_clear(s);
    s->state = SS_DONE;
    return PTK_OK;
}

/* ---- driver ---- */

typedef int (*need_fn)(struct ptk_socks_server *, struct ptk_buf *, size_t *);

/*
 * Copy input into acc until it holds the whole message `need` describes.
 * PTK_DONE when it does, NEED_INPUT when the input ran out, or need's error.
 */
static int fill(struct ptk_socks_server *s, need_fn need, const uint8_t *in, size_t len,
                size_t *pos, struct ptk_buf *out)
{
    for (;;) {
        size_t want, have = ptk_buf_len(&s->acc);
        int r = need(s, out, &want);
        if (r != PTK_OK)
            return r;
        if (have >= want)
            return PTK_DONE;
        size_t take = want - have < len - *pos ? want - have : len - *pos;
        if (take == 0)
            return NEED_INPUT;
        if ((r = ptk_buf_put(&s->acc, in + *pos, take)) != PTK_OK)
            return fail(s, r, "out of memory", NULL, 0, out);
        *pos += take;
    }
}

static int start(struct ptk_socks_server *s, uint8_t version, struct ptk_buf *out)
{
    if (version == 0x05) {
        if (s->flags & PTK_SOCKS_NO_V5)
            return fail(s, PTK_ENOTSUP, "SOCKS5 is disabled", NULL, 0, out);
        s->state = SS_V5_GREETING;
        return PTK_OK;
    }
    if (version == 0x04) {
        if (s->flags & PTK_SOCKS_NO_V4)
            return fail(s, PTK_ENOTSUP, "SOCKS4 is disabled", NULL, 0, out);
        s->state = SS_V4_HEADER;
        return PTK_OK;
    }
    return fail(s, PTK_EPROTO, "not a SOCKS4 or SOCKS5 request", NULL, 0, out);
}

int ptk_socks_server_feed(struct ptk_socks_server *s, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out)
{
    size_t pos = 0;
    int r = PTK_OK;
    while (r == PTK_OK) {
        switch (s->state) {
        case SS_START:
            r = pos == len ? NEED_INPUT : start(s, in[pos], out);
            break;
        case SS_V5_GREETING:
            if ((r = fill(s, v5_greeting_need, in, len, &pos, out)) == PTK_DONE)
                r = v5_greeting(s, out);
            break;
        case SS_V5_AUTH:
            if ((r = fill(s, v5_auth_need, in, len, &pos, out)) == PTK_DONE)
                r = v5_auth(s, out);
            break;
        case SS_V5_REQUEST:
            if ((r = fill(s, v5_request_need, in, len, &pos, out)) == PTK_DONE &&
                (r = v5_request(s, out)) == PTK_OK)
                s->state = SS_DONE;
            break;
        case SS_V4_HEADER:
            if ((r = fill(s, v4_header_need, in, len, &pos, out)) == PTK_DONE) {
                v4_header(s);
                r = PTK_OK;
            }
            break;
        case SS_V4_USERID:
            r = take_until_nul(&s->creds, SOCKS4_USERID_MAX, in, len, &pos);
            if (r == PTK_DONE)
                r = v4_userid(s, out);
            else if (r < 0)
                r = fail_v4(s, r, r == PTK_ETOOBIG ? "SOCKS4 USERID too long" : "out of memory",
                            out);
            break;
        case SS_V4_DOMAIN:
            r = take_until_nul(&s->acc, SOCKS_DOMAIN_MAX, in, len, &pos);
            if (r == PTK_DONE)
                r = v4_domain(s, out);
            else if (r < 0)
                r = fail_v4(
                    s, r, r == PTK_ETOOBIG ? "SOCKS4a domain name too long" : "out of memory", out);
            break;
        case SS_DONE:
            ptk_buf_free(&s->acc);
            r = PTK_DONE;
            break;
        case SS_REPLIED:
            r = PTK_DONE;
            break;
        default:
            r = PTK_ESTATE;
            break;
        }
    }
    *consumed = pos;
    return r == NEED_INPUT ? PTK_MORE : r;
}

int ptk_socks_server_reply(struct ptk_socks_server *s, enum ptk_socks_reply code,
                           const struct sockaddr *bound, struct ptk_buf *out)
{
    int r;
    if (s->state != SS_DONE)
        return PTK_ESTATE;
    if ((unsigned)code > 0xff)
        return PTK_EINVAL;
    if (s->req.version == 4)
        r = v4_reply(out, code == PTK_SOCKS_SUCCEEDED ? V4_GRANTED : V4_REJECTED, bound);
    else
        r = v5_reply(out, (uint8_t)code, bound);
    if (r == PTK_OK)
        s->state = SS_REPLIED;
    return r;
}

const char *ptk_socks_server_error(const struct ptk_socks_server *s)
{
    return s->error ? s->error : "";
}

void ptk_socks_server_free(struct ptk_socks_server *s)
{
    ptk_buf_free(&s->acc);
    ptk_buf_free(&s->creds);
    ptk_kvlist_free(&s->req.args);
}

const char *ptk_socks_reply_name(enum ptk_socks_reply code)
{
    switch (code) {
    case PTK_SOCKS_SUCCEEDED:
        return "succeeded";
    case PTK_SOCKS_GENERAL_FAILURE:
        return "general SOCKS server failure";
    case PTK_SOCKS_NOT_ALLOWED:
        return "connection not allowed by ruleset";
    case PTK_SOCKS_NET_UNREACHABLE:
        return "network unreachable";
    case PTK_SOCKS_HOST_UNREACHABLE:
        return "host unreachable";
    case PTK_SOCKS_CONN_REFUSED:
        return "connection refused";
    case PTK_SOCKS_TTL_EXPIRED:
        return "TTL expired";
    case PTK_SOCKS_CMD_UNSUPPORTED:
        return "command not supported";
    case PTK_SOCKS_ATYP_UNSUPPORTED:
        return "address type not supported";
    }
    return "unknown SOCKS reply";
}
