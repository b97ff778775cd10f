/* Base32 with Go-compatible decoding errors (see util/base32.h). */
#include "util/base32.h"

#include <stdbool.h>

#include "ptkit/error.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void ptk_base32_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 5) {
        uint8_t b[5] = {0, 0, 0, 0, 0};
        size_t take = n - i < 5 ? n - i : 5;
        for (size_t k = 0; k < take; k++)
            b[k] = in[i + k];
        uint64_t v = (uint64_t)b[0] << 32 | (uint64_t)b[1] << 24 | (uint64_t)b[2] << 16 |
                     (uint64_t)b[3] << 8 | b[4];
        /* characters carrying data for 1..5 input bytes: 2, 4, 5, 7, 8 */
        static const size_t used[6] = {0, 2, 4, 5, 7, 8};
        for (size_t k = 0; k < 8; k++)
            out[o + k] = k < used[take] ? alphabet[(v >> (35 - 5 * k)) & 31] : '=';
        o += 8;
    }
    out[o] = '\0';
}

static uint8_t value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c - 'A');
    if (c >= '2' && c <= '7')
        return (uint8_t)(c - '2' + 26);
    return 0xFF;
}

/* A cursor over s that skips CR and LF, as Go strips them before decoding. */
struct cursor {
    const char *s;
    size_t raw; /* index of the next unread character in s */
};

static bool newline(char c)
{
    return c == '\r' || c == '\n';
}

static char take(struct cursor *c)
{
    while (newline(c->s[c->raw]))
        c->raw++;
    return c->s[c->raw++];
}

/* The k-th character after the cursor (newlines skipped); the caller knows it exists. */
static char peek(const struct cursor *c, size_t k)
{
    size_t r = c->raw;
    for (;;) {
        while (newline(c->s[r]))
            r++;
        if (k == 0)
            return c->s[r];
        r++;
        k--;
    }
}

static void put(uint8_t *out, size_t outcap, size_t *n, uint8_t v)
{
    if (*n < outcap)
        out[*n] = v;
    (*n)++;
}

int ptk_base32_decode(const char *s, size_t slen, uint8_t *out, size_t outcap, size_t *outlen,
                      size_t *bad)
{
    size_t olen = 0, n = 0;
    for (size_t i = 0; i < slen; i++)
        olen += !newline(s[i]);
    struct cursor cur = {s, 0};
    size_t left = olen; /* Go's len(src) */
    bool end = false;
    int r = PTK_OK;

    *bad = 0;
    while (left > 0 && !end) {
        uint8_t d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t dlen = 8;
        for (size_t j = 0; j < 8;) {
            if (left == 0) {
                *bad = olen - j; /* the last quantum is not padded */
                r = PTK_EINVAL;
                goto out;
            }
            char in = take(&cur);
            left--;
            if (in == '=' && j >= 2 && left < 8) {
                if (left + j < 7) {
                    *bad = olen; /* not enough padding */
                    r = PTK_EINVAL;
                    goto out;
                }
                for (size_t k = 0; k < 7 - j; k++) {
                    if (left > k && peek(&cur, k) != '=') {
                        *bad = olen - left + k - 1;
                        r = PTK_EINVAL;
                        goto out;
                    }
                }
                dlen = j;
                end = true;
                if (dlen == 1 || dlen == 3 || dlen == 6) {
                    *bad = olen - left - 1;
                    r = PTK_EINVAL;
                    goto out;
                }
                break;
            }
            d[j] = value_of(in);
            if (d[j] == 0xFF) {
                *bad = olen - left - 1;
                r = PTK_EINVAL;
                goto out;
            }
            j++;
        }
        /* 8 five-bit groups make 5 bytes; a padded quantum fewer. */
        if (dlen >= 2)
            put(out, outcap, &n, (uint8_t)(d[0] << 3 | d[1] >> 2));
        if (dlen >= 4)
            put(out, outcap, &n, (uint8_t)(d[1] << 6 | d[2] << 1 | d[3] >> 4));
        if (dlen >= 5)
            put(out, outcap, &n, (uint8_t)(d[3] << 4 | d[4] >> 1));
        if (dlen >= 7)
            put(out, outcap, &n, (uint8_t)(d[4] << 7 | d[5] << 2 | d[6] >> 3));
        if (dlen == 8)
            put(out, outcap, &n, (uint8_t)(d[6] << 5 | d[7]));
    }
out:
    *outlen = n;
    return r;
}
