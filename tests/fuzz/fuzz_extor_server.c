/*
 * Fuzz target: the ExtORPort server (parent side, proto/extor.c).
 *
 * Input: one flags byte, then the bytes the "PT" sends, cut into chunks by
 * length prefixes (a prefix byte L takes the next L bytes; L = 0 takes the
 * rest). With flag bit 0 the target authenticates itself: it sends 0x01 and a
 * ClientNonce taken from the input, computes the right ClientHash from the
 * server's reply, and feeds it in pieces, so the chunked rest reaches the
 * command parser. Checked: input is consumed in full while more is wanted,
 * never past PTK_DONE; metadata are NUL-free strings; the status byte is
 * 0x01 only for the right hash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ptkit/error.h"
#include "ptkit/extor.h"

#define F_CHEAT 0x01
#define F_OKAY 0x02

static const uint8_t cookie[PTK_EXTOR_COOKIE_LEN] = {
    0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24,
    0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x24};

static int feed(struct ptk_extor_server *s, const uint8_t *in, size_t n, struct ptk_buf *out,
                size_t *used)
{
    size_t k = (size_t)-1;
    int r = ptk_extor_server_feed(s, in, n, &k, out);
    if (k > n || (r == PTK_MORE && k != n))
        abort();
    if (r < 0 && !ptk_extor_server_error(s))
        abort();
    if (r != PTK_MORE && r != PTK_DONE && r != PTK_EAUTH && r != PTK_EPROTO)
        abort();
    if (used)
        *used = k;
    return r;
}

static int feed_chunks(struct ptk_extor_server *s, const uint8_t *data, size_t size,
                       struct ptk_buf *out)
{
    size_t i = 0;
    int r = PTK_MORE;
    while (i < size && r == PTK_MORE) {
        size_t n = data[i++];
        if (n == 0 || n > size - i)
            n = size - i;
        size_t k;
        r = feed(s, data + i, n, out, &k);
        i += k;
        if (r == PTK_DONE && (feed(s, data + i, size - i, out, &k) != PTK_DONE || k != 0))
            abort();
    }
    return r;
}

static void check_meta(const char *s)
{
    if (s)
        (void)strlen(s); /* NUL-terminated, readable (ASan checks) */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ptk_extor_server s;
    struct ptk_buf out;
    uint8_t flags;
    int r;

    if (size < 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    ptk_buf_init(&out, 1 << 16);
    if (ptk_extor_server_init(&s, cookie, &out) != PTK_OK || ptk_buf_len(&out) != 2 ||
        memcmp(ptk_buf_data(&out), "\x01\x00", 2) != 0)
        abort();
    ptk_buf_reset(&out);

    if (flags & F_CHEAT) {
        uint8_t hello[33] = {0x01}, msg[128], ch[32];
        size_t k, take = size < 32 ? size : 32;
        memcpy(hello + 1, data, take);
        data += take;
        size -= take;
        if (feed(&s, hello, sizeof(hello), &out, &k) != PTK_MORE || ptk_buf_len(&out) != 64)
            abort();
        size_t l = strlen("ExtORPort authentication client-to-server hash");
        memcpy(msg, "ExtORPort authentication client-to-server hash", l);
        memcpy(msg + l, hello + 1, 32);
        memcpy(msg + l + 32, ptk_buf_data(&out) + 32, 32);
        crypto_auth_hmacsha256(ch, msg, l + 64, cookie);
        ptk_buf_reset(&out);
        size_t step = 1 + (flags >> 4);
        for (size_t i = 0; i < sizeof(ch); i += step) {
            size_t n = sizeof(ch) - i < step ? sizeof(ch) - i : step;
            if (feed(&s, ch + i, n, &out, &k) != PTK_MORE)
                abort();
        }
        if (ptk_buf_len(&out) != 1 || ptk_buf_data(&out)[0] != 0x01)
            abort();
        ptk_buf_reset(&out);
    }

    r = feed_chunks(&s, data, size, &out);
    if (!(flags & F_CHEAT)) {
        /* a random client hash must never be accepted */
        if (r == PTK_DONE)
            abort();
        if (ptk_buf_len(&out) > 64 && ptk_buf_data(&out)[64] != 0x00)
            abort();
    }
    check_meta(s.useraddr);
    check_meta(s.transport);
    if (r == PTK_DONE) {
        ptk_buf_reset(&out);
        if (ptk_extor_server_reply(&s, flags & F_OKAY, &out) != PTK_OK || ptk_buf_len(&out) != 4 ||
            ptk_extor_server_reply(&s, true, &out) != PTK_ESTATE)
            abort();
    } else if (ptk_extor_server_reply(&s, true, &out) != PTK_ESTATE) {
        abort();
    }
    ptk_extor_server_free(&s);
    ptk_buf_free(&out);
    return 0;
}
