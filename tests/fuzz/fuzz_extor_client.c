/*
 * Fuzz target: the ExtORPort client (PT side, proto/extor.c).
 *
 * Input: one flags byte, then the bytes "tor" sends, cut into chunks by
 * length prefixes (a prefix byte L takes the next L bytes; L = 0 takes the
 * rest). Random bytes never carry a valid ServerHash, so with flag bit 0 the
 * target plays the authentication itself: it offers SAFE_COOKIE, takes a
 * ServerNonce from the input, computes the right ServerHash and feeds both in
 * pieces; the chunked rest then reaches the status byte and the OKAY/DENY
 * parsing. Checked: input is consumed in full while more is wanted, never
 * past PTK_DONE; a failure has a reason; nothing but the nonce is sent
 * unless the server proved the cookie.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ptkit/error.h"
#include "ptkit/extor.h"

#define F_CHEAT 0x01
#define F_USERADDR 0x02
#define F_TRANSPORT 0x04

static const uint8_t cookie[PTK_EXTOR_COOKIE_LEN] = {
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};

/* Feed in[0..n) as one chunk; abort on a broken invariant. Returns the result. */
static int feed(struct ptk_extor_client *c, const uint8_t *in, size_t n, struct ptk_buf *out,
                size_t *used)
{
    size_t k = (size_t)-1;
    int r = ptk_extor_client_feed(c, in, n, &k, out);
    if (k > n || (r == PTK_MORE && k != n))
        abort();
    if (r < 0 && !ptk_extor_client_error(c))
        abort();
    if (r != PTK_MORE && r != PTK_DONE && r != PTK_EAUTH && r != PTK_EDENIED && r != PTK_EPROTO)
        abort();
    if (used)
        *used = k;
    return r;
}

/* Feed length-prefixed chunks from data until the client stops wanting more. */
static int feed_chunks(struct ptk_extor_client *c, const uint8_t *data, size_t size,
                       struct ptk_buf *out)
{
    size_t i = 0;
    int r = PTK_MORE;
    while (i < size && r == PTK_MORE) {
        size_t n = data[i++];
        if (n == 0 || n > size - i)
            n = size - i;
        size_t k;
        r = feed(c, data + i, n, out, &k);
        i += k;
        if (r == PTK_DONE) {
            /* sticky, consumes nothing */
            if (feed(c, data + i, size - i, out, &k) != PTK_DONE || k != 0)
                abort();
        }
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ptk_extor_client c;
    struct ptk_buf out;
    uint8_t flags;
    int r;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    if (ptk_extor_client_init(&c, cookie, (flags & F_USERADDR) ? "[2001:db8::7]:65535" : NULL,
                              (flags & F_TRANSPORT) ? "obfs4" : NULL) != PTK_OK)
        abort();
    ptk_buf_init(&out, 1 << 16);

    if (!(flags & F_CHEAT)) {
        r = feed_chunks(&c, data, size, &out);
        /* without the cookie only 0x01 | ClientNonce can ever leave */
        if (ptk_buf_len(&out) != 0 && ptk_buf_len(&out) != 33)
            abort();
        if (r == PTK_DONE || r == PTK_EDENIED)
            abort();
        goto out;
    }

    size_t k;
    if (feed(&c, (const uint8_t *)"\x01\x00", 2, &out, &k) != PTK_MORE || ptk_buf_len(&out) != 33)
        abort();
    uint8_t msg[2 * 32 + 128], sn[32] = {0};
    size_t l = strlen("ExtORPort authentication server-to-client hash");
    memcpy(sn, data, size < 32 ? size : 32);
    memcpy(msg, "ExtORPort authentication server-to-client hash", l);
    memcpy(msg + l, ptk_buf_data(&out) + 1, 32);
    memcpy(msg + l + 32, sn, 32);
    uint8_t reply[64];
    crypto_auth_hmacsha256(reply, msg, l + 64, cookie);
    memcpy(reply + 32, sn, 32);
    ptk_buf_reset(&out);
    /* the 64 bytes in pieces of 1..16, sized by the flags */
    size_t step = 1 + (flags >> 4);
    for (size_t i = 0; i < sizeof(reply); i += step) {
        size_t n = sizeof(reply) - i < step ? sizeof(reply) - i : step;
        if (feed(&c, reply + i, n, &out, &k) != PTK_MORE)
            abort();
    }
    if (ptk_buf_len(&out) != 32)
        abort();
    ptk_buf_reset(&out);
    data += size < 32 ? size : 32;
    size -= size < 32 ? size : 32;
    r = feed_chunks(&c, data, size, &out);
    if (ptk_buf_len(&out) != 0) {
        /* the commands: [USERADDR] [TRANSPORT] DONE */
        size_t want = 4 + ((flags & F_USERADDR) ? 4 + 19 : 0) + ((flags & F_TRANSPORT) ? 4 + 5 : 0);
        const uint8_t *p = ptk_buf_data(&out);
        if (ptk_buf_len(&out) != want || memcmp(p + want - 4, "\0\0\0\0", 4) != 0)
            abort();
    } else if (r == PTK_DONE || r == PTK_EDENIED) {
        abort();
    }
out:
    ptk_extor_client_free(&c);
    ptk_buf_free(&out);
    return 0;
}
