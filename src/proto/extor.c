/*
 * Extended ORPort codecs (see ptkit/extor.h): the cookie file, the client a
 * PT's server side uses to hand a connection to tor, and the server the
 * parent side uses to play tor.
 *
 * Both ends are small state machines over one capped accumulator. Each state
 * knows how many bytes it needs; a step pulls at most that many from the
 * input into the accumulator, so nothing past the current message is ever
 * consumed and input may arrive in pieces of any size. The client keeps the
 * auth-type list in the accumulator while it is being read and, once the
 * server's 64 bytes are in, computes both hashes from them directly, so it
 * needs no copy of the server nonce. A failure is sticky: `state` then holds
 * the negative error code and every later feed returns it again.
 */
#include "ptkit/extor.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ptkit/error.h"
#include "util/str.h"

#define NONCE_LEN 32
#define HASH_LEN PTK_SHA256_LEN
#define HEADER_LEN 4
#define BODY_MAX 65535
#define FRAME_MAX (HEADER_LEN + BODY_MAX)
/* goptlib's limit: the list, terminator included, fits in 256 bytes. */
#define AUTHTYPES_MAX 255
#define AUTH_SAFE_COOKIE 0x01
#define USERADDR_MAX 255

#define SERVER_LABEL "ExtORPort authentication server-to-client hash"
#define CLIENT_LABEL "ExtORPort authentication client-to-server hash"

/* A step made progress and the machine should run the next state. */
#define STEP_NEXT 2

enum client_state {
    C_AUTHTYPES = 1, /* reading the auth-type list */
    C_SERVERHASH,    /* reading ServerHash | ServerNonce */
    C_STATUS,        /* reading the one-byte auth status */
    C_REPLY,         /* reading OKAY / DENY */
    C_DONE,
};

enum server_state {
    S_AUTHTYPE = 1, /* reading the client's chosen auth type */
    S_NONCE,        /* reading ClientNonce */
    S_HASH,         /* reading ClientHash */
    S_CMDS,         /* reading command frames until DONE */
    S_GOTDONE,      /* DONE received, waiting for ptk_extor_server_reply */
    S_REPLIED,
};

int ptk_extor_cookie_parse(const uint8_t *data, size_t len, uint8_t cookie[PTK_EXTOR_COOKIE_LEN],
                           const char **why)
{
    const size_t hlen = sizeof(PTK_EXTOR_COOKIE_HEADER) - 1;
    const char *dummy;

    if (!why)
        why = &dummy;
    if (len != PTK_EXTOR_COOKIE_FILE_LEN) {
        *why = "cookie file is not exactly 64 bytes";
        return PTK_EINVAL;
    }
    if (memcmp(data, PTK_EXTOR_COOKIE_HEADER, hlen) != 0) {
        *why = "cookie file does not start with the ExtORPort cookie header";
        return PTK_EINVAL;
    }
    memcpy(cookie, data + hlen, PTK_EXTOR_COOKIE_LEN);
    return PTK_OK;
}

void ptk_extor_cookie_make(uint8_t file[PTK_EXTOR_COOKIE_FILE_LEN])
{
    const size_t hlen = sizeof(PTK_EXTOR_COOKIE_HEADER) - 1;
    memcpy(file, PTK_EXTOR_COOKIE_HEADER, hlen);
    ptk_random(file + hlen, PTK_EXTOR_COOKIE_LEN);
}

/* HMAC-SHA256(cookie, label | client_nonce | server_nonce). */
static void extor_hash(const uint8_t *cookie, const char *label, const uint8_t *cn,
                       const uint8_t *sn, uint8_t out[HASH_LEN])
{
    ptk_hmac_sha256_ctx h;
    ptk_hmac_sha256_init(&h, cookie, PTK_EXTOR_COOKIE_LEN);
    ptk_hmac_sha256_update(&h, label, strlen(label));
    ptk_hmac_sha256_update(&h, cn, NONCE_LEN);
    ptk_hmac_sha256_update(&h, sn, NONCE_LEN);
    ptk_hmac_sha256_final(&h, out);
}

/*
 * Move input bytes into acc until it holds `want` bytes. PTK_DONE once it
 * does, PTK_MORE when the input ran out first, or a buffer error.
 */
static int extor_fill(struct ptk_buf *acc, size_t want, const uint8_t *in, size_t len, size_t *pos)
{
    size_t have = ptk_buf_len(acc);
    if (have >= want)
        return PTK_DONE;
    size_t n = want - have;
    if (n > len - *pos)
        n = len - *pos;
    if (n == 0)
        return PTK_MORE; /* also keeps NULL input with len 0 away from pointer arithmetic */
    int r = ptk_buf_put(acc, in + *pos, n);
    if (r != PTK_OK)
        return r;
    *pos += n;
    return ptk_buf_len(acc) == want ? PTK_DONE : PTK_MORE;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/*
 * Accumulate one command frame. With *cmd known after the header, the caller
 * may reject it before the body arrives; hence two calls: the first returns
 * PTK_DONE once the header is in (want_body false), the second once the body is.
 */
static int extor_frame(struct ptk_buf *acc, bool want_body, const uint8_t *in, size_t len,
                       size_t *pos, uint16_t *cmd, uint16_t *blen)
{
    int r = extor_fill(acc, HEADER_LEN, in, len, pos);
    if (r != PTK_DONE)
        return r;
    const uint8_t *p = ptk_buf_data(acc);
    *cmd = get_u16(p);
    *blen = get_u16(p + 2);
    if (!want_body)
        return PTK_DONE;
    return extor_fill(acc, HEADER_LEN + (size_t)*blen, in, len, pos);
}

static int put_frame(struct ptk_buf *out, uint16_t cmd, const char *body)
{
    size_t n = body ? strlen(body) : 0;
    uint8_t hdr[HEADER_LEN] = {(uint8_t)(cmd >> 8), (uint8_t)cmd, (uint8_t)(n >> 8), (uint8_t)n};
    int r = ptk_buf_put(out, hdr, sizeof(hdr));
    if (r == PTK_OK && n)
        r = ptk_buf_put(out, body, n);
    return r;
}

/* ---- client ---- */

static int client_fail(struct ptk_extor_client *c, int code, const char *why)
{
    c->state = code;
    c->error = why;
    return code;
}

int ptk_extor_client_init(struct ptk_extor_client *c, const uint8_t cookie[PTK_EXTOR_COOKIE_LEN],
                          const char *useraddr, const char *transport)
{
    int r = PTK_EINVAL;

    memset(c, 0, sizeof(*c));
    ptk_buf_init(&c->acc, FRAME_MAX);
    if (!cookie) {
        c->error = "no cookie";
        goto out;
    }
    if (useraddr) {
        size_t n = strlen(useraddr);
        if (n == 0 || n > USERADDR_MAX) {
            c->error = "USERADDR must be 1 to 255 bytes long";
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (useraddr[i] <= 0x20 || useraddr[i] >= 0x7f) {
                c->error = "USERADDR must be printable ASCII without spaces";
                goto out;
            }
        }
    }
    if (transport) {
        size_t n = strlen(transport);
        if (n > BODY_MAX || !ptk_is_c_identifier(transport, n)) {
            c->error = "transport name is not a C identifier";
            goto out;
        }
    }
    r = PTK_ENOMEM;
    if (useraddr && !(c->useraddr = ptk_strndup(useraddr, strlen(useraddr))))
        goto out;
    if (transport && !(c->transport = ptk_strndup(transport, strlen(transport))))
        goto out;
    memcpy(c->cookie, cookie, PTK_EXTOR_COOKIE_LEN);
    ptk_random(c->client_nonce, NONCE_LEN);
    c->state = C_AUTHTYPES;
    r = PTK_OK;
out:
    if (r != PTK_OK) {
        const char *why = c->error;
        ptk_extor_client_free(c);
        c->error = why;
        c->state = r;
    }
    return r;
}

static int client_authtypes(struct ptk_extor_client *c, const uint8_t *in, size_t len, size_t *pos,
                            struct ptk_buf *out)
{
    int r;
    while (*pos < len) {
        uint8_t b = in[(*pos)++];
        if (b != 0) {
            if (ptk_buf_len(&c->acc) >= AUTHTYPES_MAX)
                return client_fail(c, PTK_EPROTO, "auth-type list has no terminator");
            if ((r = ptk_buf_put_u8(&c->acc, b)) != PTK_OK)
                return client_fail(c, r, "out of memory");
            continue;
        }
        size_t n = ptk_buf_len(&c->acc);
        bool offered = n > 0 && memchr(ptk_buf_data(&c->acc), AUTH_SAFE_COOKIE, n) != NULL;
        ptk_buf_reset(&c->acc);
        if (!offered)
            return client_fail(c, PTK_EAUTH, "tor did not offer SAFE_COOKIE authentication");
        uint8_t msg[1 + NONCE_LEN];
        msg[0] = AUTH_SAFE_COOKIE;
        memcpy(msg + 1, c->client_nonce, NONCE_LEN);
        r = ptk_buf_put(out, msg, sizeof(msg));
        if (r != PTK_OK)
            return client_fail(c, r, "no room for the client nonce");
        c->state = C_SERVERHASH;
        return STEP_NEXT;
    }
    return PTK_MORE;
}

static int client_serverhash(struct ptk_extor_client *c, const uint8_t *in, size_t len, size_t *pos,
                             struct ptk_buf *out)
{
    uint8_t expect[HASH_LEN], client_hash[HASH_LEN];
    int r = extor_fill(&c->acc, 2 * HASH_LEN, in, len, pos);
    if (r != PTK_DONE)
        return r < 0 ? client_fail(c, r, "out of memory") : r;

    const uint8_t *server_hash = ptk_buf_data(&c->acc);
    const uint8_t *server_nonce = server_hash + HASH_LEN;
    extor_hash(c->cookie, SERVER_LABEL, c->client_nonce, server_nonce, expect);
    bool ok = ptk_ct_equal(expect, server_hash, HASH_LEN);
    if (ok)
        extor_hash(c->cookie, CLIENT_LABEL, c->client_nonce, server_nonce, client_hash);
    ptk_buf_reset(&c->acc);
    ptk_memzero(expect, sizeof(expect));
    if (!ok)
        return client_fail(c, PTK_EAUTH, "wrong server hash (is the cookie stale?)");
    r = ptk_buf_put(out, client_hash, HASH_LEN);
    ptk_memzero(client_hash, sizeof(client_hash));
    if (r != PTK_OK)
        return client_fail(c, r, "no room for the client hash");
    c->state = C_STATUS;
    return STEP_NEXT;
}

static int client_status(struct ptk_extor_client *c, const uint8_t *in, size_t len, size_t *pos,
                         struct ptk_buf *out)
{
    int r;
    if (*pos >= len)
        return PTK_MORE;
    if (in[(*pos)++] != 0x01)
        return client_fail(c, PTK_EAUTH, "tor rejected our authentication");
    /* Authenticated: nothing secret is needed any more. */
    ptk_memzero(c->cookie, sizeof(c->cookie));
    ptk_memzero(c->client_nonce, sizeof(c->client_nonce));
    if (c->useraddr && (r = put_frame(out, PTK_EXTOR_USERADDR, c->useraddr)) != PTK_OK)
        goto fail;
    if (c->transport && (r = put_frame(out, PTK_EXTOR_TRANSPORT, c->transport)) != PTK_OK)
        goto fail;
    if ((r = put_frame(out, PTK_EXTOR_DONE, NULL)) != PTK_OK)
        goto fail;
    c->state = C_REPLY;
    return STEP_NEXT;
fail:
    return client_fail(c, r, "no room for the commands");
}

static int client_reply(struct ptk_extor_client *c, const uint8_t *in, size_t len, size_t *pos)
{
    uint16_t cmd, blen;
    int r = extor_frame(&c->acc, false, in, len, pos, &cmd, &blen);
    if (r != PTK_DONE)
        return r < 0 ? client_fail(c, r, "out of memory") : r;
    if (cmd != PTK_EXTOR_OKAY && cmd != PTK_EXTOR_DENY)
        return client_fail(c, PTK_EPROTO, "unexpected command from tor (want OKAY or DENY)");
    r = extor_frame(&c->acc, true, in, len, pos, &cmd, &blen);
    if (r != PTK_DONE)
        return r < 0 ? client_fail(c, r, "out of memory") : r;
    ptk_buf_reset(&c->acc);
    if (cmd == PTK_EXTOR_DENY)
        return client_fail(c, PTK_EDENIED, "tor sent DENY");
    c->state = C_DONE;
    return PTK_DONE;
}

int ptk_extor_client_feed(struct ptk_extor_client *c, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out)
{
    size_t pos = 0;
    int r;

    for (;;) {
        switch (c->state) {
        case C_AUTHTYPES:
            r = client_authtypes(c, in, len, &pos, out);
            break;
        case C_SERVERHASH:
            r = client_serverhash(c, in, len, &pos, out);
            break;
        case C_STATUS:
            r = client_status(c, in, len, &pos, out);
            break;
        case C_REPLY:
            r = client_reply(c, in, len, &pos);
            break;
        case C_DONE:
            r = PTK_DONE;
            break;
        default:
            r = c->state < 0 ? c->state : PTK_ESTATE;
            break;
        }
        if (r != STEP_NEXT)
            break;
    }
    if (consumed)
        *consumed = pos;
    return r;
}

const char *ptk_extor_client_error(const struct ptk_extor_client *c)
{
    if (c->error)
        return c->error;
    return c->state < 0 ? ptk_strerror(c->state) : "no error";
}

void ptk_extor_client_free(struct ptk_extor_client *c)
{
    ptk_memzero(c->cookie, sizeof(c->cookie));
    ptk_memzero(c->client_nonce, sizeof(c->client_nonce));
    free(c->useraddr);
    free(c->transport);
    c->useraddr = c->transport = NULL;
    ptk_buf_free(&c->acc);
    c->state = 0;
    c->error = NULL;
}

/* ---- server ---- */

static int server_fail(struct ptk_extor_server *s, int code, const char *why)
{
    s->state = code;
    s->error = why;
    return code;
}

int ptk_extor_server_init(struct ptk_extor_server *s, const uint8_t cookie[PTK_EXTOR_COOKIE_LEN],
                          struct ptk_buf *out)
{
    static const uint8_t authtypes[] = {AUTH_SAFE_COOKIE, 0x00};
    int r = PTK_EINVAL;

    memset(s, 0, sizeof(*s));
    ptk_buf_init(&s->acc, FRAME_MAX);
    if (!cookie) {
        s->error = "no cookie";
        goto out;
    }
    if ((r = ptk_buf_put(out, authtypes, sizeof(authtypes))) != PTK_OK) {
        s->error = "no room for the auth-type list";
        goto out;
    }
    memcpy(s->cookie, cookie, PTK_EXTOR_COOKIE_LEN);
    s->state = S_AUTHTYPE;
out:
    if (r != PTK_OK)
        s->state = r;
    return r;
}

static int server_authtype(struct ptk_extor_server *s, const uint8_t *in, size_t len, size_t *pos)
{
    if (*pos >= len)
        return PTK_MORE;
    if (in[(*pos)++] != AUTH_SAFE_COOKIE)
        return server_fail(s, PTK_EAUTH, "client chose an auth type other than SAFE_COOKIE");
    s->state = S_NONCE;
    return STEP_NEXT;
}

static int server_nonce(struct ptk_extor_server *s, const uint8_t *in, size_t len, size_t *pos,
                        struct ptk_buf *out)
{
    uint8_t msg[HASH_LEN + NONCE_LEN];
    int r = extor_fill(&s->acc, NONCE_LEN, in, len, pos);
    if (r != PTK_DONE)
        return r < 0 ? server_fail(s, r, "out of memory") : r;
    memcpy(s->client_nonce, ptk_buf_data(&s->acc), NONCE_LEN);
    ptk_buf_reset(&s->acc);
    ptk_random(s->server_nonce, NONCE_LEN);
    extor_hash(s->cookie, SERVER_LABEL, s->client_nonce, s->server_nonce, msg);
    memcpy(msg + HASH_LEN, s->server_nonce, NONCE_LEN);
    r = ptk_buf_put(out, msg, sizeof(msg));
    ptk_memzero(msg, sizeof(msg));
    if (r != PTK_OK)
        return server_fail(s, r, "no room for the server hash");
    s->state = S_HASH;
    return STEP_NEXT;
}

static int server_hash(struct ptk_extor_server *s, const uint8_t *in, size_t len, size_t *pos,
                       struct ptk_buf *out)
{
    uint8_t expect[HASH_LEN];
    int r = extor_fill(&s->acc, HASH_LEN, in, len, pos);
    if (r != PTK_DONE)
        return r < 0 ? server_fail(s, r, "out of memory") : r;
    extor_hash(s->cookie, CLIENT_LABEL, s->client_nonce, s->server_nonce, expect);
    bool ok = ptk_ct_equal(expect, ptk_buf_data(&s->acc), HASH_LEN);
    ptk_memzero(expect, sizeof(expect));
    ptk_buf_reset(&s->acc);
    if (!ok) {
        (void)ptk_buf_put_u8(out, 0x00); /* best effort: the caller closes either way */
        return server_fail(s, PTK_EAUTH, "wrong client hash");
    }
    if ((r = ptk_buf_put_u8(out, 0x01)) != PTK_OK)
        return server_fail(s, r, "no room for the auth status");
    s->state = S_CMDS;
    return STEP_NEXT;
}

/* Replace *dst with a NUL-terminated copy of body; PTK_EPROTO on an embedded NUL. */
static int server_store(struct ptk_extor_server *s, char **dst, const uint8_t *body, size_t n)
{
    if (memchr(body, 0, n))
        return server_fail(s, PTK_EPROTO, "NUL byte in a USERADDR or TRANSPORT body");
    char *copy = ptk_strndup((const char *)body, n);
    if (!copy)
        return server_fail(s, PTK_ENOMEM, "out of memory");
    free(*dst);
    *dst = copy;
    return PTK_OK;
}

static int server_cmds(struct ptk_extor_server *s, const uint8_t *in, size_t len, size_t *pos)
{
    uint16_t cmd, blen;
    int r = extor_frame(&s->acc, true, in, len, pos, &cmd, &blen);
    if (r != PTK_DONE)
        return r < 0 ? server_fail(s, r, "out of memory") : r;
    const uint8_t *body = ptk_buf_data(&s->acc) + HEADER_LEN;
    switch (cmd) {
    case PTK_EXTOR_DONE:
        s->state = S_GOTDONE;
        r = PTK_DONE;
        break;
    case PTK_EXTOR_USERADDR:
        r = server_store(s, &s->useraddr, body, blen);
        break;
    case PTK_EXTOR_TRANSPORT:
        r = server_store(s, &s->transport, body, blen);
        break;
    default: /* tor ignores commands it does not know */
        r = PTK_OK;
        break;
    }
    ptk_buf_reset(&s->acc);
    return r == PTK_OK ? STEP_NEXT : r;
}

int ptk_extor_server_feed(struct ptk_extor_server *s, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out)
{
    size_t pos = 0;
    int r;

    for (;;) {
        switch (s->state) {
        case S_AUTHTYPE:
            r = server_authtype(s, in, len, &pos);
            break;
        case S_NONCE:
            r = server_nonce(s, in, len, &pos, out);
            break;
        case S_HASH:
            r = server_hash(s, in, len, &pos, out);
            break;
        case S_CMDS:
            r = server_cmds(s, in, len, &pos);
            break;
        case S_GOTDONE:
        case S_REPLIED:
            r = PTK_DONE;
            break;
        default:
            r = s->state < 0 ? s->state : PTK_ESTATE;
            break;
        }
        if (r != STEP_NEXT)
            break;
    }
    if (consumed)
        *consumed = pos;
    return r;
}

int ptk_extor_server_reply(struct ptk_extor_server *s, bool okay, struct ptk_buf *out)
{
    if (s->state != S_GOTDONE)
        return PTK_ESTATE;
    int r = put_frame(out, okay ? PTK_EXTOR_OKAY : PTK_EXTOR_DENY, NULL);
    if (r == PTK_OK)
        s->state = S_REPLIED;
    return r;
}

const char *ptk_extor_server_error(const struct ptk_extor_server *s)
{
    if (s->error)
        return s->error;
    return s->state < 0 ? ptk_strerror(s->state) : "no error";
}

void ptk_extor_server_free(struct ptk_extor_server *s)
{
    ptk_memzero(s->cookie, sizeof(s->cookie));
    ptk_memzero(s->client_nonce, sizeof(s->client_nonce));
    ptk_memzero(s->server_nonce, sizeof(s->server_nonce));
    free(s->useraddr);
    free(s->transport);
    s->useraddr = s->transport = NULL;
    ptk_buf_free(&s->acc);
    s->state = 0;
    s->error = NULL;
}
