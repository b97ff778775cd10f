/*
 * Fuzz target: the obfs4 client (transport/obfs4.c) reading a server reply.
 *
 * A client conn for a fixed bridge (the vectors' identity) has sent its
 * handshake; the input is what "the server" answers.
 * Input: flags, a chunking byte, two bytes of server padding length, then:
 *   flags bit 0 clear: the reply itself, raw;
 *   flags bit 0 set:   the target plays the real server (it knows the private
 *     key): a valid reply with that padding (bit 1: MACed for the next hour;
 *     bit 2: a wrong AUTH), the PRNG-seed frame, then commands building
 *     frames behind it:
 *       op % 4 == 0  a frame holding n*6+r arbitrary packet bytes (any type,
 *                    any declared length: the packet parser gets fuzzed)
 *       op % 4 == 1  n raw bytes
 *       op % 4 == 2  flip bit b of reply byte BE16 % length
 *       op % 4 == 3  a payload packet: n*6+r data bytes and m bytes of padding
 *     (r = (op >> 2) % 6)
 *   flags bits 3-4: the client's iat-mode; bit 5: fire the timer at the end.
 * Checks: the client never writes while decoding; results are OK, EAUTH or
 * EPROTO; it waits on at most 8191 bytes of handshake and less than a
 * segment of frames; a reply it must reject never establishes; app output is
 * always a prefix of the payloads the target encoded before the first bad
 * packet, and all of them when nothing was corrupted.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/elligator2.h"
#include "crypto/ntor.h"
#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/kv.h"
#include "ptkit/transport.h"
#include "transport/obfs4.h"
#include "transport/obfs4_framing.h"

#define UNIX_T 1700000000
#define MAX_HS 8192
#define MAX_STREAM (1 << 18)

static const struct ptk_transport_ops *ops = &ptk_transport_obfs4;
static const char cert[] = "AAECAwQFBgcICQoLDA0ODxAREhPnmmF6TXg47PsvuX+k3kiOrk4wS+mRZ2wWxVv1Yq4kJA";
static const uint8_t node_id[20] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,
                                    10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
static const uint8_t priv_b[32] = {0xa8, 0x3f, 0xdd, 0x04, 0xeb, 0x9e, 0xd7, 0x7a, 0x2b, 0x38, 0xd8,
                                   0x60, 0x92, 0xa0, 0x9a, 0x1c, 0xec, 0xfb, 0x93, 0xa7, 0xbd, 0xec,
                                   0x0d, 0xa3, 0x5e, 0x54, 0x27, 0x75, 0xb2, 0xe7, 0xaf, 0x6e};

static uint8_t *sink_reserve(void *ud, size_t n)
{
    uint8_t *p = NULL;
    return ptk_buf_reserve(ud, n, &p) == PTK_OK ? p : NULL;
}

static void sink_commit(void *ud, size_t n)
{
    ptk_buf_commit(ud, n);
}

static void hmac16(uint8_t out[16], const uint8_t key[52], const uint8_t *a, size_t alen,
                   const char *e, size_t elen)
{
    crypto_auth_hmacsha256_state s;
    uint8_t full[32];
    crypto_auth_hmacsha256_init(&s, key, 52);
    crypto_auth_hmacsha256_update(&s, a, alen);
    if (elen)
        crypto_auth_hmacsha256_update(&s, (const uint8_t *)e, elen);
    crypto_auth_hmacsha256_final(&s, full);
    memcpy(out, full, 16);
}

/* A frame around arbitrary packet bytes (obfs4_frame_encode always writes a well-formed one). */
static size_t raw_frame(struct obfs4_framer *f, uint8_t *out, const uint8_t *pkt, size_t n)
{
    for (int i = 0; i < 8; i++)
        f->nonce[16 + i] = (uint8_t)(f->counter >> (56 - 8 * i));
    memcpy(out + OBFS4_FRAME_OVERHEAD, pkt, n);
    ptk_secretbox_seal(out + OBFS4_FRAME_OVERHEAD, out + OBFS4_LEN_LEN, out + OBFS4_FRAME_OVERHEAD,
                       n, f->nonce, f->key);
    f->counter++;
    uint8_t m[8];
    ptk_drbg_next(&f->drbg, m);
    uint16_t l = (uint16_t)(OBFS4_TAG_LEN + n) ^ (uint16_t)(m[0] << 8 | m[1]);
    out[0] = (uint8_t)(l >> 8);
    out[1] = (uint8_t)l;
    return OBFS4_FRAME_OVERHEAD + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t stream[MAX_STREAM], orig[MAX_STREAM], expect[MAX_STREAM];
    size_t pos = 0;
#define NEXT() (pos < size ? data[pos++] : 0)
    uint8_t flags = NEXT(), chunk = NEXT();
    size_t pad = (size_t)NEXT() << 8;
    pad = (pad | NEXT()) % (MAX_HS - 96 - 45 + 1);
    bool cheat = flags & 1, bad_hs = cheat && (flags & 6);
    int iat = (flags >> 3 & 3) % 3;

    /* the client, its handshake sent */
    struct ptk_buf wire, app, pend;
    ptk_buf_init(&wire, 1 << 20);
    ptk_buf_init(&app, MAX_STREAM);
    ptk_buf_init(&pend, MAX_STREAM);
    struct ptk_sink ws = {sink_reserve, sink_commit, &wire}, as = {sink_reserve, sink_commit, &app};
    struct ptk_kvlist a = PTK_KVLIST_INIT;
    char err[256], iats[2] = {(char)('0' + iat), 0};
    void *conn = NULL;
    ptk_kvlist_add(&a, "cert", 4, cert, strlen(cert));
    ptk_kvlist_add(&a, "iat-mode", 8, iats, 1);
    if (ops->client_new(NULL, &a, &conn, err, sizeof(err)) != PTK_OK)
        abort();
    ptk_kvlist_free(&a);
    struct ptk_xfer x = {&ws, &as, 1000, UNIX_T, PTK_TIMER_KEEP, false};
    if (ops->start(conn, &x) != PTK_OK || x.timer_us != 60000000)
        abort();
    size_t hslen = ptk_buf_len(&wire);
    if (hslen < 64 + 77 || hslen > MAX_HS)
        abort();

    size_t slen = 0, elen = 0, flipped = 0, dirty = (size_t)-1;
    bool proto_err = false;
    if (!cheat) {
        slen = size - pos < MAX_STREAM ? size - pos : MAX_STREAM;
        memcpy(stream, data + pos, slen);
    } else {
        /* Y' | AUTH | P_S | M_S | MAC_S as a real server, with our key material */
        uint8_t key[52], y[32], Y[32], repr[32], X[32], ks[32], auth[32], okm[144];
        crypto_scalarmult_base(key, priv_b);
        memcpy(key + 32, node_id, 20);
        ptk_elligator2_keygen(y, Y, repr);
        ptk_elligator2_repr_to_pub(X, ptk_buf_data(&wire));
        if (ptk_ntor_server(ks, auth, y, Y, priv_b, key, X, node_id) != PTK_OK)
            abort();
        ptk_ntor_kdf(ks, okm, sizeof(okm));
        if (flags & 4)
            auth[0] ^= 1;
        char epoch[24];
        size_t el = (size_t)snprintf(epoch, sizeof(epoch), "%d", UNIX_T / 3600 + !!(flags & 2));
        memcpy(stream, repr, 32);
        memcpy(stream + 32, auth, 32);
        randombytes_buf(stream + 64, pad);
        hmac16(stream + 64 + pad, key, repr, 32, NULL, 0);
        hmac16(stream + 80 + pad, key, stream, 80 + pad, epoch, el);
        slen = 96 + pad;
        struct obfs4_framer enc;
        obfs4_framer_init(&enc, okm + 72);
        uint8_t seed[24];
        randombytes_buf(seed, sizeof(seed));
        slen += obfs4_frame_encode(&enc, stream + slen, OBFS4_PACKET_PRNG_SEED, seed, 24, 0);
        while (pos < size && slen + OBFS4_MAX_SEGMENT <= MAX_STREAM) {
            uint8_t op = NEXT(), pkt[OBFS4_MAX_FRAME_PAYLOAD] = {0};
            size_t n = (size_t)NEXT() * 6 + (op >> 2) % 6, take;
            if (op % 4 == 0) {
                if (n > OBFS4_MAX_FRAME_PAYLOAD)
                    n = OBFS4_MAX_FRAME_PAYLOAD;
                take = size - pos < n ? size - pos : n;
                memcpy(pkt, data + pos, take);
                pos += take;
                slen += raw_frame(&enc, stream + slen, pkt, n);
                /* what the client must make of it */
                size_t plen = n >= 3 ? (size_t)(pkt[1] << 8 | pkt[2]) : 0;
                if (n < 3 || plen > n - 3)
                    proto_err = true;
                else if (!proto_err && pkt[0] == OBFS4_PACKET_PAYLOAD) {
                    memcpy(expect + elen, pkt + 3, plen);
                    elen += plen;
                }
            } else if (op % 4 == 1) {
                n /= 6;
                take = size - pos < n ? size - pos : n;
                if (take && dirty > slen)
                    dirty = slen;
                memcpy(stream + slen, data + pos, take);
                pos += take;
                slen += take;
            } else if (op % 4 == 2) {
                size_t at = (n << 2 | NEXT()) % slen;
                memcpy(orig + flipped, stream + flipped, slen - flipped);
                flipped = slen;
                stream[at] ^= (uint8_t)(1u << (NEXT() & 7));
            } else {
                if (n > OBFS4_MAX_PACKET_PAYLOAD)
                    n = OBFS4_MAX_PACKET_PAYLOAD;
                size_t p2 = NEXT();
                if (n + p2 > OBFS4_MAX_PACKET_PAYLOAD)
                    p2 = OBFS4_MAX_PACKET_PAYLOAD - n;
                take = size - pos < n ? size - pos : n;
                memcpy(pkt, data + pos, take);
                pos += take;
                slen += obfs4_frame_encode(&enc, stream + slen, OBFS4_PACKET_PAYLOAD, pkt, n, p2);
                if (!proto_err) {
                    memcpy(expect + elen, pkt, n);
                    elen += n;
                }
            }
        }
        memcpy(orig + flipped, stream + flipped, slen - flipped);
        for (size_t k = 0; k < slen && k < dirty; k++)
            if (stream[k] != orig[k])
                dirty = k;
        obfs4_framer_wipe(&enc);
        sodium_memzero(okm, sizeof(okm));
    }
#undef NEXT

    /* feed the reply in chunks */
    ptk_buf_reset(&wire);
    bool est = false;
    int r = PTK_OK;
    size_t fed = 0, i = 0;
    while (fed < slen && r == PTK_OK) {
        size_t n = chunk ? 1 + (size_t)chunk * (1 + i++ % 7) % 3000 : slen - fed;
        if (n > slen - fed)
            n = slen - fed;
        ptk_buf_put(&pend, stream + fed, n);
        fed += n;
        x = (struct ptk_xfer){&ws, &as, 2000, UNIX_T, PTK_TIMER_KEEP, est};
        size_t used = (size_t)-1, len = ptk_buf_len(&pend);
        r = ops->decode(conn, ptk_buf_data(&pend), len, &used, &x);
        if (used > len || (est && !x.established))
            abort();
        ptk_buf_consume(&pend, used);
        if (x.established && !est && x.timer_us != 0)
            abort(); /* the handshake timer is cancelled */
        est = x.established;
        if (r != PTK_OK && r != PTK_EAUTH && r != PTK_EPROTO)
            abort();
        if (ptk_buf_len(&wire))
            abort();
        if (r == PTK_OK && ptk_buf_len(&pend) >= (est ? OBFS4_MAX_SEGMENT : MAX_HS))
            abort();
        if (!est && ptk_buf_len(&app))
            abort();
    }
    if (bad_hs && est)
        abort();
    if (cheat) {
        size_t got = ptk_buf_len(&app);
        if (got > elen || (got && memcmp(ptk_buf_data(&app), expect, got) != 0))
            abort();
        if (dirty == (size_t)-1 && !bad_hs) {
            /* nothing corrupted: all delivered, and a bad packet is the only failure */
            if (!est || got != elen || r != (proto_err ? PTK_EPROTO : PTK_OK))
                abort();
        }
    }
    if (flags & 32) {
        x = (struct ptk_xfer){&ws, &as, 61000, UNIX_T, PTK_TIMER_KEEP, est};
        r = ops->timer(conn, &x);
        if (est ? r != PTK_OK : r != PTK_ETIMEDOUT)
            abort();
    }
    ops->conn_free(conn);
    ptk_buf_free(&wire);
    ptk_buf_free(&app);
    ptk_buf_free(&pend);
    return 0;
}
