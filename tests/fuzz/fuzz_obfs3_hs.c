/*
 * Fuzz target: the obfs3 handshake and magic scan, through the ops table
 * (tests/unit/transport_pair.h) with input offered in chunks the data picks.
 *
 * data[0] bit 0 picks the mode, bit 1 the side under test (server/client):
 *  raw   - data[1..2] is a stream length L; the peer "sends" 192 bytes of
 *          PUB then L bytes, both cut cyclically from data[3..]. No magic
 *          can be in there, so the side must be established after 192 bytes,
 *          deliver nothing, and fail (PTK_EPROTO) iff L >= 8226.
 *  built - a real UniformDH peer: data[1..2] is its padding length before
 *          the magic (0..8999), data[3] seeds the chunk sizes, data[4..] is
 *          the payload. It must arrive intact iff the padding is <= 8194
 *          (else PTK_EPROTO, nothing delivered); and the side's own reply
 *          must carry its magic within 8194 bytes and decrypt to the payload.
 *          data[0] bit 2 flips the stream byte chosen by data[3] (no oracle
 *          beyond memory safety and "never more than the payload").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/transport_pair.h"
#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "crypto/uniformdh.h"
#include "transport/obfs3.h"

#define PUB PTK_UDH_LEN

static const struct ptk_transport_ops *ops = &ptk_transport_obfs3;

static void check(int ok)
{
    if (!ok)
        abort();
}

static void put_cyclic(struct ptk_buf *b, const uint8_t *src, size_t srclen, size_t n)
{
    uint8_t *p = NULL;
    check(ptk_buf_reserve(b, n, &p) == PTK_OK);
    for (size_t i = 0; i < n; i++)
        p[i] = srclen ? src[i % srclen] : 0;
    ptk_buf_commit(b, n);
}

static void raw_mode(bool server, const uint8_t *d, size_t n)
{
    struct tp_pair p;
    struct ptk_buf in;
    if (n < 3)
        return;
    size_t L = (size_t)d[1] << 8 | d[2];
    const uint8_t *body = d + 3;
    size_t blen = n - 3;
    check(tp_open_one(&p, ops, server, (uint32_t)L * 2654435761u | 1, 1 + (L % 9000)) == 0);
    struct tp_side *s = server ? &p.s : &p.c;
    ptk_buf_init(&in, 1 << 20);
    put_cyclic(&in, body, blen, PUB);
    put_cyclic(&in, body, blen, L);
    tp_feed(&p, s, &in, true);
    check(s->established);
    check(ptk_buf_len(&s->app_out) == 0);
    check(L >= OBFS3_SCAN_LIMIT ? s->err == PTK_EPROTO : s->err == 0);
    if (s->err == 0)
        check(ptk_buf_len(&in) < OBFS3_MAGIC_LEN); /* only a possible magic prefix is held */
    ptk_buf_free(&in);
    tp_close(&p);
}

static void built_mode(bool server, bool tamper, const uint8_t *d, size_t n)
{
    struct tp_pair p;
    struct ptk_buf in;
    struct obfs3_keys k;
    struct ptk_aes_ctr tx = PTK_AES_CTR_INIT, rx = PTK_AES_CTR_INIT;
    uint8_t x[PUB], pub[PUB], shared[PUB];
    if (n < 4)
        return;
    size_t padlen = ((size_t)d[1] << 8 | d[2]) % 9000;
    const uint8_t *payload = d + 4;
    size_t plen = n - 4;

    check(tp_open_one(&p, ops, server, 0x9e3779b9u ^ d[3], 1 + d[3] * 13u) == 0);
    struct tp_side *s = server ? &p.s : &p.c;
    check(ptk_buf_len(&s->wire_out) >= PUB);
    check(ptk_udh_keypair(x, pub) == PTK_OK);
    check(ptk_udh_shared(x, ptk_buf_data(&s->wire_out), shared) == PTK_OK);
    obfs3_kdf(shared, &k);
    /* the peer plays the other role */
    const uint8_t *ptx = server ? k.init_secret : k.resp_secret;
    const uint8_t *prx = server ? k.resp_secret : k.init_secret;
    check(ptk_aes_ctr_init(&tx, ptx, 16, ptx + 16) == PTK_OK);
    check(ptk_aes_ctr_init(&rx, prx, 16, prx + 16) == PTK_OK);

    ptk_buf_init(&in, 1 << 20);
    check(ptk_buf_put(&in, pub, PUB) == PTK_OK);
    put_cyclic(&in, payload, plen, padlen);
    check(ptk_buf_put(&in, server ? k.init_magic : k.resp_magic, 32) == PTK_OK);
    uint8_t *ct = NULL;
    check(ptk_buf_reserve(&in, plen, &ct) == PTK_OK);
    check(ptk_aes_ctr_xor(&tx, ct, payload, plen) == PTK_OK);
    ptk_buf_commit(&in, plen);
    if (tamper) {
        size_t pos = ((size_t)d[3] * 977u + padlen) % ptk_buf_len(&in);
        ((uint8_t *)ptk_buf_data(&in))[pos] ^= (uint8_t)(d[3] | 1);
    }
    tp_feed(&p, s, &in, true);
    check(ptk_buf_len(&s->app_out) <= plen);
    if (!tamper) {
        if (padlen <= OBFS3_MAX_PADDING) {
            check(s->err == 0 && s->established);
            check(ptk_buf_len(&s->app_out) == plen);
            check(plen == 0 || memcmp(ptk_buf_data(&s->app_out), payload, plen) == 0);
            /* the reply: magic within 8194 bytes after PUB, then the payload encrypted */
            ptk_buf_consume(&s->wire_out, PUB);
            check(ptk_buf_put(&s->app_in, payload, plen) == PTK_OK);
            tp_feed(&p, s, &s->app_in, false);
            check(s->err == 0 && ptk_buf_len(&s->app_in) == 0);
            if (plen) {
                const uint8_t *w = ptk_buf_data(&s->wire_out);
                size_t wl = ptk_buf_len(&s->wire_out);
                const uint8_t *m = memmem(w, wl, server ? k.resp_magic : k.init_magic, 32);
                check(m != NULL && (size_t)(m - w) <= OBFS3_MAX_PADDING);
                check(wl - (size_t)(m - w) - 32 == plen);
                uint8_t *pt = malloc(plen);
                check(pt != NULL);
                check(ptk_aes_ctr_xor(&rx, pt, m + 32, plen) == PTK_OK);
                check(memcmp(pt, payload, plen) == 0);
                free(pt);
            }
        } else {
            check(s->err == PTK_EPROTO && ptk_buf_len(&s->app_out) == 0);
        }
    }
    ptk_aes_ctr_free(&tx);
    ptk_aes_ctr_free(&rx);
    ptk_memzero(&k, sizeof(k));
    ptk_buf_free(&in);
    tp_close(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool server = !(data[0] & 2);
    if (data[0] & 1)
        built_mode(server, data[0] & 4, data, size);
    else
        raw_mode(server, data, size);
    return 0;
}
