/*
 * Capped byte buffers (see ptkit/buf.h). Growth doubles up to the cap; the
 * unread region is moved to the front only when appending needs the space.
 */
#include "ptkit/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/str.h"

void ptk_buf_init(struct ptk_buf *b, size_t max)
{
    b->mem = NULL;
    b->off = b->len = b->cap = 0;
    b->max = max;
}

void ptk_buf_free(struct ptk_buf *b)
{
    if (b->mem) {
        ptk_wipe(b->mem, b->cap);
        free(b->mem);
    }
    b->mem = NULL;
    b->off = b->len = b->cap = 0;
}

void ptk_buf_reset(struct ptk_buf *b)
{
    b->off = b->len = 0;
}

/* Ensure n more bytes fit after the data; +1 for an optional NUL. */
static int buf_make_room(struct ptk_buf *b, size_t n)
{
    if (n > b->max - b->len)
        return PTK_ETOOBIG;
    size_t need = b->len + n + 1;
    if (b->off + need <= b->cap)
        return PTK_OK;
    if (need <= b->cap) {
        memmove(b->mem, b->mem + b->off, b->len);
        b->off = 0;
        return PTK_OK;
    }
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    uint8_t *m = malloc(ncap);
    if (!m)
        return PTK_ENOMEM;
    if (b->mem) {
        memcpy(m, b->mem + b->off, b->len);
        ptk_wipe(b->mem, b->cap);
        free(b->mem);
    }
    b->mem = m;
    b->cap = ncap;
    b->off = 0;
    return PTK_OK;
}

int ptk_buf_reserve(struct ptk_buf *b, size_t n, uint8_t **p)
{
    int r = buf_make_room(b, n);
    if (r != PTK_OK)
        return r;
    *p = b->mem + b->off + b->len;
    return PTK_OK;
}

void ptk_buf_commit(struct ptk_buf *b, size_t n)
{
    b->len += n;
}

int ptk_buf_put(struct ptk_buf *b, const void *p, size_t n)
{
    uint8_t *dst;
    int r;
    if (n == 0)
        return PTK_OK;
    if ((r = ptk_buf_reserve(b, n, &dst)) != PTK_OK)
        return r;
    memcpy(dst, p, n);
    b->len += n;
    return PTK_OK;
}

int ptk_buf_put_u8(struct ptk_buf *b, uint8_t v)
{
    return ptk_buf_put(b, &v, 1);
}

int ptk_buf_put_u16(struct ptk_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return ptk_buf_put(b, x, 2);
}

int ptk_buf_put_str(struct ptk_buf *b, const char *s)
{
    return ptk_buf_put(b, s, strlen(s));
}

int ptk_buf_printf(struct ptk_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return PTK_EINVAL;
    if ((size_t)n < sizeof(small)) {
        int r = ptk_buf_put(b, small, (size_t)n);
        ptk_wipe(small, sizeof(small)); /* the text may be a secret */
        return r;
    }
    uint8_t *dst;
    int r = ptk_buf_reserve(b, (size_t)n, &dst); /* room for n + NUL */
    if (r != PTK_OK)
        return r;
    va_start(ap, fmt);
    vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return PTK_OK;
}

void ptk_buf_consume(struct ptk_buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

int ptk_buf_cstr(struct ptk_buf *b, const char **s)
{
    int r = buf_make_room(b, 0);
    if (r != PTK_OK)
        return r;
    b->mem[b->off + b->len] = '\0';
    *s = (const char *)(b->mem + b->off);
    return PTK_OK;
}
