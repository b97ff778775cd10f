/*
 * Fuzz target: the HTTP CONNECT client (proto/http_connect.c).
 *
 * Input: one flags byte (bit 0: send credentials, bit 1: IPv6 target), then
 * the proxy's response cut into chunks by length prefixes (a prefix byte L
 * takes the next L bytes; L = 0 takes the rest). The same response is also
 * fed in one piece; both runs must agree on result, status and bytes
 * consumed. Checked besides: the head never exceeds the cap, input is
 * consumed in full while more is wanted, and the status matches the result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "proto/http_connect.h"

static void start(struct ptk_http_connect *h, uint8_t flags)
{
    struct ptk_buf out;
    ptk_buf_init(&out, 4096);
    if (ptk_http_connect_init(h, (flags & 2) ? "2001:db8::1" : "192.0.2.1", 443,
                              (flags & 1) ? "user:pass" : NULL, &out) != PTK_OK)
        abort();
    ptk_buf_free(&out);
}

static int feed(struct ptk_http_connect *h, const uint8_t *in, size_t n, size_t *used)
{
    size_t k = (size_t)-1;
    int r = ptk_http_connect_feed(h, in, n, &k);
    if (k > n || (r == PTK_MORE && k != n))
        abort();
    if (r != PTK_MORE && r != PTK_DONE && r != PTK_EDENIED && r != PTK_EPROTO && r != PTK_ETOOBIG)
        abort();
    if (r < 0 && !ptk_http_connect_error(h))
        abort();
    *used = k;
    return r;
}

static void check(const struct ptk_http_connect *h, int r, size_t total)
{
    if (total > PTK_HTTP_HEAD_MAX)
        abort();
    if (r == PTK_DONE && (h->status < 200 || h->status > 299))
        abort();
    if (r == PTK_EDENIED &&
        (h->status < 100 || h->status > 599 || (h->status >= 200 && h->status <= 299)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ptk_http_connect h, whole;
    uint8_t *resp;
    size_t rlen = 0, total = 0, k;
    int r = PTK_MORE, rw;

    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    resp = malloc(size + 1);
    if (!resp)
        return 0;

    start(&h, flags);
    for (size_t i = 0; i < size;) {
        size_t n = data[i++];
        if (n == 0 || n > size - i)
            n = size - i;
        memcpy(resp + rlen, data + i, n);
        rlen += n;
        if (r == PTK_MORE) {
            r = feed(&h, data + i, n, &k);
            total += k;
        }
        i += n;
    }
    check(&h, r, total);

    start(&whole, flags);
    rw = feed(&whole, resp, rlen, &k);
    check(&whole, rw, k);
    if (r != PTK_MORE && (rw != r || k != total || whole.status != h.status))
        abort();
    if (r == PTK_MORE && rw != PTK_MORE)
        abort();
    if (whole.status != h.status)
        abort();
    ptk_http_connect_free(&h);
    ptk_http_connect_free(&whole);
    free(resp);
    return 0;
}
