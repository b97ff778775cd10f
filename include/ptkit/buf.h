/*
 * Capped byte buffers.
 *
 * A ptk_buf is a growable byte array with a hard maximum size fixed at init:
 * any append that would exceed it fails with PTK_ETOOBIG and leaves the buffer
 * unchanged, so a parser fed by a peer can never be made to allocate without
 * bound. Data is read from the front (ptk_buf_data/ptk_buf_consume) and
 * appended at the back; consumed space is reclaimed lazily. The contents are
 * wiped when the buffer is freed, so buffers may hold secrets.
 */
#ifndef PTKIT_BUF_H
#define PTKIT_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ptk_buf {
    uint8_t *mem;
    size_t off; /* start of unread data */
    size_t len; /* bytes of unread data */
    size_t cap; /* allocated size of mem */
    size_t max; /* hard cap on len */
};

/* Initialise an empty buffer that may hold at most `max` bytes. No allocation. */
void ptk_buf_init(struct ptk_buf *b, size_t max);
/* Wipe and release the memory; the buffer is empty and reusable afterwards. */
void ptk_buf_free(struct ptk_buf *b);
/* Drop all data (keeps the allocation). */
void ptk_buf_reset(struct ptk_buf *b);

static inline const uint8_t *ptk_buf_data(const struct ptk_buf *b)
{
    return b->mem ? b->mem + b->off : NULL;
}
static inline size_t ptk_buf_len(const struct ptk_buf *b)
{
    return b->len;
}
static inline size_t ptk_buf_room(const struct ptk_buf *b)
{
    return b->max - b->len;
}

/* Append n bytes. PTK_ETOOBIG past the cap, PTK_ENOMEM; unchanged on error. */
int ptk_buf_put(struct ptk_buf *b, const void *p, size_t n);
int ptk_buf_put_u8(struct ptk_buf *b, uint8_t v);
int ptk_buf_put_u16(struct ptk_buf *b, uint16_t v); /* big-endian */
int ptk_buf_put_str(struct ptk_buf *b, const char *s);
/* Append printf-formatted text (no NUL). */
int ptk_buf_printf(struct ptk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Reserve n writable bytes at the end and return a pointer to them in *p; the
 * bytes become part of the data only after ptk_buf_commit(b, k) with k <= n.
 */
int ptk_buf_reserve(struct ptk_buf *b, size_t n, uint8_t **p);
void ptk_buf_commit(struct ptk_buf *b, size_t n);
/* Remove n bytes (n <= len) from the front. */
void ptk_buf_consume(struct ptk_buf *b, size_t n);
/* Make the data NUL-terminated (the NUL is not counted) and return it as a string. */
int ptk_buf_cstr(struct ptk_buf *b, const char **s);

#endif
