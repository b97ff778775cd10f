/*
 * HTTP CONNECT client codec (see proto/http_connect.h).
 *
 * The request is written whole at init. The response head is collected line
 * by line into a buffer capped at PTK_HTTP_HEAD_MAX: input is taken only up
 * to the next line feed, each completed line is checked as it arrives, and
 * input stops being consumed right after the empty line that ends the head,
 * so whatever follows stays with the caller as stream data. The status line
 * decides the outcome as soon as it is complete (a refusal does not wait for
 * the headers); header lines are only checked for shape (name ':' value, or
 * an obsolete folded continuation). Lines may end in CRLF or a bare LF.
 */
#include "proto/http_connect.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "ptkit/error.h"

enum http_state {
    H_STATUS = 1, /* reading the status line */
    H_HEADERS,    /* reading header lines until the empty one */
    H_DONE,
};

static int http_fail(struct ptk_http_connect *h, int code, const char *why)
{
    h->state = code;
    h->error = why;
    return code;
}

/* Host names and IP literals: visible ASCII except brackets (IPv6 comes bare). */
static bool host_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f || *s == '[' || *s == ']')
            return false;
    return true;
}

static int put_auth(struct ptk_buf *out, const char *auth)
{
    size_t n = strlen(auth);
    if (n > (SIZE_MAX - 8) / 4 * 3)
        return PTK_ETOOBIG;
    size_t blen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(blen);
    if (!b64)
        return PTK_ENOMEM;
    sodium_bin2base64(b64, blen, (const unsigned char *)auth, n, sodium_base64_VARIANT_ORIGINAL);
    int r = ptk_buf_printf(out, "Proxy-Authorization: Basic %s\r\n", b64);
    ptk_memzero(b64, blen);
    free(b64);
    return r;
}

int ptk_http_connect_init(struct ptk_http_connect *h, const char *host, uint16_t port,
                          const char *auth, struct ptk_buf *out)
{
    struct ptk_buf req; /* built aside so out gets all of it or nothing */
    int r = PTK_EINVAL;

    memset(h, 0, sizeof(*h));
    ptk_buf_init(&h->acc, PTK_HTTP_HEAD_MAX);
    ptk_buf_init(&req, ptk_buf_room(out));
    if (!host || !host_ok(host)) {
        h->error = "proxy target host is empty or has invalid characters";
        goto out;
    }
    if (port == 0) {
        h->error = "proxy target port is 0";
        goto out;
    }
    if (auth && (!*auth || strpbrk(auth, "\r\n"))) {
        h->error = "proxy credentials are empty or contain CR/LF";
        goto out;
    }
    bool v6 = strchr(host, ':') != NULL;
    const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
    r = ptk_buf_printf(&req, "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n", lb, host, rb,
                       (unsigned)port, lb, host, rb, (unsigned)port);
    if (r == PTK_OK && auth)
        r = put_auth(&req, auth);
    if (r == PTK_OK)
        r = ptk_buf_put_str(&req, "\r\n");
    if (r == PTK_OK)
        r = ptk_buf_put(out, ptk_buf_data(&req), ptk_buf_len(&req));
    if (r != PTK_OK) {
        h->error = "could not build the request (no room or no memory)";
        goto out;
    }
    h->state = H_STATUS;
out:
    ptk_buf_free(&req); /* wipes the credentials */
    if (r != PTK_OK)
        h->state = r;
    return r;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* "HTTP/1.x NNN[ reason]" */
static int parse_status(struct ptk_http_connect *h, const uint8_t *p, size_t n)
{
    static const char proto[] = "HTTP/1.";
    const size_t plen = sizeof(proto) - 1;

    if (n < plen + 5 || memcmp(p, proto, plen) != 0 || !is_digit(p[plen]) || p[plen + 1] != ' ')
        return http_fail(h, PTK_EPROTO, "malformed status line");
    p += plen + 2;
    n -= plen + 2;
    if (n < 3 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) || (n > 3 && p[3] != ' '))
        return http_fail(h, PTK_EPROTO, "malformed status code");
    int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    if (code < 100 || code > 599)
        return http_fail(h, PTK_EPROTO, "status code out of range");
    h->status = code;
    if (code < 200 || code > 299)
        return http_fail(h, PTK_EDENIED, "the proxy refused the CONNECT request");
    h->state = H_HEADERS;
    return PTK_MORE;
}

/* "Name: value", or a folded continuation starting with SP/HTAB. */
static int parse_header(struct ptk_http_connect *h, const uint8_t *p, size_t n)
{
    if (p[0] == ' ' || p[0] == '\t')
        return PTK_MORE;
    const uint8_t *colon = memchr(p, ':', n);
    if (!colon || colon == p)
        return http_fail(h, PTK_EPROTO, "malformed header line");
    for (const uint8_t *q = p; q < colon; q++)
        if (*q <= 0x20 || *q >= 0x7f)
            return http_fail(h, PTK_EPROTO, "malformed header name");
    return PTK_MORE;
}

/* Check the completed line acc[start..end) (line end included). */
static int http_line(struct ptk_http_connect *h, size_t start, size_t end)
{
    const uint8_t *p = ptk_buf_data(&h->acc) + start;
    size_t n = end - start - 1; /* drop the LF */
    if (n && p[n - 1] == '\r')
        n--;
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return http_fail(h, PTK_EPROTO, "control character in the response head");
    if (h->state == H_STATUS)
        return parse_status(h, p, n);
    if (n == 0) {
        h->state = H_DONE;
        return PTK_DONE;
    }
    return parse_header(h, p, n);
}

int ptk_http_connect_feed(struct ptk_http_connect *h, const uint8_t *in, size_t len,
                          size_t *consumed)
{
    size_t pos = 0;
    int r = PTK_MORE;

    if (h->state == H_DONE) {
        r = PTK_DONE;
        goto out;
    }
    if (h->state != H_STATUS && h->state != H_HEADERS) {
        r = h->state < 0 ? h->state : PTK_ESTATE;
        goto out;
    }
    while (pos < len) {
        const uint8_t *lf = memchr(in + pos, '\n', len - pos);
        size_t take = lf ? (size_t)(lf - (in + pos)) + 1 : len - pos;
        size_t before = ptk_buf_len(&h->acc);
        if (take > ptk_buf_room(&h->acc)) {
            /* Fill up to the cap, so the count consumed does not depend on chunking. */
            size_t fit = ptk_buf_room(&h->acc);
            if (ptk_buf_put(&h->acc, in + pos, fit) == PTK_OK)
                pos += fit;
            r = http_fail(h, PTK_ETOOBIG, "response head exceeds 8 KiB");
            goto out;
        }
        r = ptk_buf_put(&h->acc, in + pos, take);
        if (r != PTK_OK) {
            r = http_fail(h, r, "out of memory");
            goto out;
        }
        pos += take;
        if (!lf)
            break;
        /* The line began after the previous LF in acc (or at its start). */
        const uint8_t *d = ptk_buf_data(&h->acc);
        size_t start = before;
        while (start > 0 && d[start - 1] != '\n')
            start--;
        r = http_line(h, start, ptk_buf_len(&h->acc));
        if (r != PTK_MORE)
            goto out;
    }
out:
    if (consumed)
        *consumed = pos;
    return r;
}

const char *ptk_http_connect_error(const struct ptk_http_connect *h)
{
    if (h->error)
        return h->error;
    return h->state < 0 ? ptk_strerror(h->state) : "no error";
}

void ptk_http_connect_free(struct ptk_http_connect *h)
{
    ptk_buf_free(&h->acc);
    h->state = 0;
    h->error = NULL;
}
