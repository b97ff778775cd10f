/* String helpers. */
#include "util/str.h"

#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"

size_t ptk_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = strlen(src);
    if (n > 0) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return len;
}

char *ptk_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int ptk_parse_u64(const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return PTK_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return PTK_EINVAL;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return PTK_EINVAL;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return PTK_EINVAL;
    *out = v;
    return PTK_OK;
}

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool ptk_is_c_identifier(const char *s, size_t n)
{
    if (n == 0 || !is_alpha_(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alpha_(s[i]) && !(s[i] >= '0' && s[i] <= '9'))
            return false;
    return true;
}

void ptk_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ptk_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
    if (slen != 2 * n)
        return PTK_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PTK_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return PTK_OK;
}

void ptk_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n);
}
