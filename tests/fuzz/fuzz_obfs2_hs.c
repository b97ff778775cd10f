/*
 * Fuzz target: the obfs2 handshake (seed, encrypted header, padding) and the
 * data that follows, through the ops table (tests/unit/transport_pair.h),
 * with input offered in chunks the data picks. An independent oracle
 * decrypts what the side under test must see.
 *
 * data[0] bit 0 picks the mode, bit 1 the side under test (server/client):
 *  raw   - data[1..] is exactly what the peer sends. The oracle decrypts the
 *          header with the key from its seed: a wrong magic or a padding
 *          length over 8192 must fail (PTK_EPROTO) once 24 bytes are in;
 *          otherwise the side is established once the padding is in and
 *          delivers the rest decrypted with the peer's data key.
 *  built - data[1..16] is the peer's seed, data[17..18] its padding length
 *          (0..8299), data[19] flags (bit 0: corrupt the magic) and chunk
 *          seed, data[20..] the payload; the oracle as above, plus the
 *          side's own reply decrypted with its data key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/transport_pair.h"
#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "transport/obfs2.h"

#define HS (OBFS2_SEED_LEN + OBFS2_HDR_LEN)

static const struct ptk_transport_ops *ops = &ptk_transport_obfs2;

static void check(int ok)
{
    if (!ok)
        abort();
}

static void stream(struct ptk_aes_ctr *c, const char *label, const uint8_t *x, size_t n)
{
    uint8_t key[16], iv[16];
    obfs2_kdf(label, x, n, NULL, key, iv);
    check(ptk_aes_ctr_init(c, key, 16, iv) == PTK_OK);
}

/* Peer labels: the peer of a server is the initiator. */
static const char *peer_pad(bool server)
{
    return server ? "Initiator obfuscation padding" : "Responder obfuscation padding";
}

static const char *peer_data(bool server)
{
    return server ? "Initiator obfuscated data" : "Responder obfuscated data";
}

static const char *own_data(bool server)
{
    return server ? "Responder obfuscated data" : "Initiator obfuscated data";
}

/*
 * Feed `wire` (the peer's whole stream) to the side under test and check
 * it against the oracle; then, if established, check the side's encrypted reply.
 */
static void run_and_check(struct tp_pair *p, bool server, struct ptk_buf *wire,
                          const uint8_t *reply, size_t rlen)
{
    struct tp_side *s = server ? &p->s : &p->c;
    struct ptk_aes_ctr c = PTK_AES_CTR_INIT;
    uint8_t own_seed[OBFS2_SEED_LEN], hdr[OBFS2_HDR_LEN], both[2 * OBFS2_SEED_LEN];
    size_t len = ptk_buf_len(wire);
    uint8_t *copy = malloc(len ? len : 1);
    check(copy != NULL);
    if (len)
        memcpy(copy, ptk_buf_data(wire), len);
    memcpy(own_seed, ptk_buf_data(&s->wire_out), OBFS2_SEED_LEN);

    tp_feed(p, s, wire, true);
    if (len < HS) {
        check(s->err == 0 && !s->established);
        goto out;
    }
    stream(&c, peer_pad(server), copy, OBFS2_SEED_LEN);
    check(ptk_aes_ctr_xor(&c, hdr, copy + OBFS2_SEED_LEN, OBFS2_HDR_LEN) == PTK_OK);
    uint32_t magic =
        (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    uint32_t padlen =
        (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    if (magic != OBFS2_MAGIC || padlen > OBFS2_MAX_PADDING) {
        check(s->err == PTK_EPROTO && !s->established && ptk_buf_len(&s->app_out) == 0);
        goto out;
    }
    if (len < HS + padlen) {
        check(s->err == 0 && !s->established && ptk_buf_len(wire) == 0);
        goto out;
    }
    check(s->err == 0 && s->established && ptk_buf_len(wire) == 0);
    memcpy(both, server ? copy : own_seed, OBFS2_SEED_LEN);
    memcpy(both + OBFS2_SEED_LEN, server ? own_seed : copy, OBFS2_SEED_LEN);
    size_t dlen = len - HS - padlen;
    check(ptk_buf_len(&s->app_out) == dlen);
    uint8_t *pt = malloc(dlen > rlen ? dlen + 1 : rlen + 1);
    check(pt != NULL);
    stream(&c, peer_data(server), both, sizeof(both));
    check(ptk_aes_ctr_xor(&c, pt, copy + HS + padlen, dlen) == PTK_OK);
    check(dlen == 0 || memcmp(pt, ptk_buf_data(&s->app_out), dlen) == 0);
    /* the reply comes out encrypted with the side's own data key, unframed */
    ptk_buf_reset(&s->wire_out);
    check(ptk_buf_put(&s->app_in, reply, rlen) == PTK_OK);
    tp_feed(p, s, &s->app_in, false);
    check(s->err == 0 && ptk_buf_len(&s->wire_out) == rlen);
    stream(&c, own_data(server), both, sizeof(both));
    check(ptk_aes_ctr_xor(&c, pt, ptk_buf_data(&s->wire_out), rlen) == PTK_OK);
    check(rlen == 0 || memcmp(pt, reply, rlen) == 0);
    free(pt);
out:
    ptk_aes_ctr_free(&c);
    free(copy);
}

static void raw_mode(bool server, const uint8_t *d, size_t n)
{
    struct tp_pair p;
    struct ptk_buf in;
    check(tp_open_one(&p, ops, server, n > 1 ? d[1] | 0x100u : 0, 1 + n % 97) == 0);
    ptk_buf_init(&in, 1 << 20);
    check(ptk_buf_put(&in, d + 1, n - 1) == PTK_OK);
    run_and_check(&p, server, &in, d, n);
    ptk_buf_free(&in);
    tp_close(&p);
}

static void built_mode(bool server, const uint8_t *d, size_t n)
{
    struct tp_pair p;
    struct ptk_buf in;
    struct ptk_aes_ctr c = PTK_AES_CTR_INIT;
    if (n < 20)
        return;
    const uint8_t *seed = d + 1;
    uint32_t padlen = ((uint32_t)d[17] << 8 | d[18]) % 8300;
    uint8_t flags = d[19];
    const uint8_t *payload = d + 20;
    size_t plen = n - 20;

    check(tp_open_one(&p, ops, server, 0x1000193u * (flags | 1), 1 + flags * 37u) == 0);
    ptk_buf_init(&in, 1 << 20);
    uint8_t *w = NULL;
    check(ptk_buf_reserve(&in, HS + padlen + plen, &w) == PTK_OK);
    memcpy(w, seed, OBFS2_SEED_LEN);
    uint32_t magic = OBFS2_MAGIC ^ (flags & 1);
    uint8_t *h = w + OBFS2_SEED_LEN;
    h[0] = (uint8_t)(magic >> 24);
    h[1] = (uint8_t)(magic >> 16);
    h[2] = (uint8_t)(magic >> 8);
    h[3] = (uint8_t)magic;
    h[4] = 0;
    h[5] = 0;
    h[6] = (uint8_t)(padlen >> 8);
    h[7] = (uint8_t)padlen;
    for (size_t i = 0; i < padlen; i++)
        h[OBFS2_HDR_LEN + i] = plen ? payload[i % plen] : 0;
    stream(&c, peer_pad(server), seed, OBFS2_SEED_LEN);
    check(ptk_aes_ctr_xor(&c, h, h, OBFS2_HDR_LEN + padlen) == PTK_OK);
    ptk_buf_commit(&in, HS + padlen);
    /* the data part: encrypted later, once the side's seed is known */
    struct tp_side *s = server ? &p.s : &p.c;
    uint8_t both[2 * OBFS2_SEED_LEN];
    memcpy(both, server ? seed : ptk_buf_data(&s->wire_out), OBFS2_SEED_LEN);
    memcpy(both + OBFS2_SEED_LEN, server ? ptk_buf_data(&s->wire_out) : seed, OBFS2_SEED_LEN);
    stream(&c, peer_data(server), both, sizeof(both));
    check(ptk_buf_reserve(&in, plen, &w) == PTK_OK);
    check(ptk_aes_ctr_xor(&c, w, payload, plen) == PTK_OK);
    ptk_buf_commit(&in, plen);
    run_and_check(&p, server, &in, payload, plen);
    if (!(flags & 1) && padlen <= OBFS2_MAX_PADDING)
        check(ptk_buf_len(&s->app_out) == plen &&
              (plen == 0 || memcmp(ptk_buf_data(&s->app_out), payload, plen) == 0));
    ptk_aes_ctr_free(&c);
    ptk_buf_free(&in);
    tp_close(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool server = !(data[0] & 2);
    if (data[0] & 1)
        built_mode(server, data, size);
    else
        raw_mode(server, data, size);
    return 0;
}
