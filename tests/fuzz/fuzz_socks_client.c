/*
 * Fuzz target: the SOCKS client codec. The first byte picks one of a few
 * fixed configurations (SOCKS5 with and without credentials, IPv4, IPv6 and
 * name targets; SOCKS4 and 4a); the rest is what the proxy answers. It is fed
 * once in one piece and once in chunks whose sizes come from the data; both
 * runs must agree on the result, what the client sent, the reply code and
 * (unless failing) the bytes consumed; nothing after the final reply may be
 * consumed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/socks_client.h"
#include "ptkit/error.h"

static const struct ptk_socks_client_cfg cfgs[] = {
    {.version = 5, .host = "192.0.2.1", .port = 443},
    {.version = 5,
     .host = "example.com",
     .port = 80,
     .user = (const uint8_t *)"cert=abc;iat-mode=0",
     .userlen = 19,
     .pass = (const uint8_t *)"\0",
     .passlen = 1},
    {.version = 5,
     .host = "2001:db8::1",
     .port = 9000,
     .user = (const uint8_t *)"u",
     .userlen = 1,
     .pass = (const uint8_t *)"p",
     .passlen = 1},
    {.version = 4, .host = "198.51.100.2", .port = 1, .user = (const uint8_t *)"k=v", .userlen = 3},
    {.version = 4, .host = "bridge.example", .port = 65535},
};
#define NCFGS (sizeof(cfgs) / sizeof(cfgs[0]))

struct run {
    int r;
    size_t used;
    struct ptk_buf out;
    struct ptk_socks_client c;
};

static void run(struct run *x, const struct ptk_socks_client_cfg *cfg, const uint8_t *in, size_t n,
                const uint8_t *sizes, size_t nsizes)
{
    size_t pos = 0, k = 0;
    ptk_buf_init(&x->out, 1 << 16);
    if (ptk_socks_client_init(&x->c, cfg, &x->out) != PTK_OK)
        abort();
    x->r = PTK_MORE;
    while (pos < n) {
        size_t chunk = nsizes ? 1 + sizes[k++ % nsizes] % 32 : n;
        size_t len = chunk < n - pos ? chunk : n - pos, used;
        x->r = ptk_socks_client_feed(&x->c, in + pos, len, &used, &x->out);
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
    const struct ptk_socks_client_cfg *cfg = &cfgs[data[0] % NCFGS];
    const uint8_t *in = data + 1;
    size_t n = size - 1;

    run(&a, cfg, in, n, NULL, 0);
    run(&b, cfg, in, n, in, n);
    if (a.r != b.r || (a.r >= 0 && a.used != b.used) || a.c.reply != b.c.reply ||
        ptk_buf_len(&a.out) != ptk_buf_len(&b.out) ||
        memcmp(ptk_buf_data(&a.out), ptk_buf_data(&b.out), ptk_buf_len(&a.out)))
        abort();
    if (a.r == PTK_DONE) {
        if (ptk_socks_client_feed(&a.c, in, n, &used, &a.out) != PTK_DONE || used != 0)
            abort();
    } else if (a.r < 0) {
        if (a.r != PTK_EDENIED && a.r != PTK_EAUTH && a.r != PTK_EPROTO)
            abort();
        if (ptk_socks_client_error(&a.c)[0] == '\0')
            abort();
        if (ptk_socks_client_feed(&a.c, in, n, &used, &a.out) != PTK_ESTATE || used != 0)
            abort();
    } else if (a.used != n) {
        abort();
    }
    ptk_socks_client_free(&a.c);
    ptk_socks_client_free(&b.c);
    ptk_buf_free(&a.out);
    ptk_buf_free(&b.out);
    return 0;
}
