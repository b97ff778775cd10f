/*
 * Fuzz target: the SOCKS server codec. The first byte picks the init flags;
 * the rest is what a SOCKS client sends. It is fed once in one piece and once
 * in chunks whose sizes come from the data itself; both runs must agree on
 * the result, the replies written, the request and (unless failing) the bytes
 * consumed. The codec must never consume past the request nor take more
 * after finishing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "ptkit/socks.h"

struct run {
    int r;
    size_t used;
    struct ptk_buf out;
    struct ptk_socks_server s;
};

static void run(struct run *x, unsigned flags, const uint8_t *in, size_t n, const uint8_t *sizes,
                size_t nsizes)
{
    size_t pos = 0, k = 0;
    ptk_buf_init(&x->out, 1 << 16);
    ptk_socks_server_init(&x->s, flags);
    x->r = PTK_MORE;
    while (pos < n) {
        size_t chunk = nsizes ? 1 + sizes[k++ % nsizes] % 64 : n;
        size_t len = chunk < n - pos ? chunk : n - pos, used;
        x->r = ptk_socks_server_feed(&x->s, in + pos, len, &used, &x->out);
        if (used > len || (x->r == PTK_MORE && used != len))
            abort();
        pos += used;
        if (x->r != PTK_MORE)
            break;
    }
    x->used = pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run a, b;
    size_t used;
    if (size < 1)
        return 0;
    unsigned flags = data[0] & 3;
    const uint8_t *in = data + 1;
    size_t n = size - 1;

    run(&a, flags, in, n, NULL, 0);
    run(&b, flags, in, n, in, n);
    if (a.r != b.r || (a.r >= 0 && a.used != b.used) ||
        ptk_buf_len(&a.out) != ptk_buf_len(&b.out) ||
        (ptk_buf_len(&a.out) &&
         memcmp(ptk_buf_data(&a.out), ptk_buf_data(&b.out), ptk_buf_len(&a.out))))
        abort();
    if (a.r == PTK_DONE) {
        const struct ptk_socks_request *q = &a.s.req, *p = &b.s.req;
        if (q->version != p->version || q->atyp != p->atyp || q->port != p->port ||
            strcmp(q->host, p->host) || q->args.n != p->args.n || q->had_auth != p->had_auth)
            abort();
        if (memchr(q->host, '\0', sizeof(q->host)) == NULL || q->host[0] == '\0')
            abort();
        if ((q->version == 4 && (flags & PTK_SOCKS_NO_V4)) ||
            (q->version == 5 && (flags & PTK_SOCKS_NO_V5)))
            abort();
        for (size_t i = 0; i < q->args.n; i++)
            if (strcmp(q->args.items[i].key, p->args.items[i].key) ||
                strcmp(q->args.items[i].value, p->args.items[i].value))
                abort();
        /* finished: takes nothing more, and answers exactly once */
        if (ptk_socks_server_feed(&a.s, in, n, &used, &a.out) != PTK_DONE || used != 0)
            abort();
        if (ptk_socks_server_reply(&a.s, (enum ptk_socks_reply)(data[0] >> 2), NULL, &a.out) !=
                PTK_OK ||
            ptk_socks_server_reply(&a.s, PTK_SOCKS_SUCCEEDED, NULL, &a.out) != PTK_ESTATE)
            abort();
    } else if (a.r < 0) {
        if (ptk_socks_server_error(&a.s)[0] == '\0')
            abort();
        if (ptk_socks_server_feed(&a.s, in, n, &used, &a.out) != PTK_ESTATE || used != 0)
            abort();
    } else if (a.used != n) {
        abort();
    }
    ptk_socks_server_free(&a.s);
    ptk_socks_server_free(&b.s);
    ptk_buf_free(&a.out);
    ptk_buf_free(&b.out);
    return 0;
}
