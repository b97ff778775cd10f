/*
 * Fuzz target: obfs4 frame decoding (transport/obfs4_framing.c) with fixed
 * key material, on a stream that mixes valid frames with fuzz bytes.
 *
 * Input: a chunking byte, then commands, each an op byte and its operands:
 *   op % 4 == 0  a valid frame: type, payload length/6, padding length/6 (the
 *                remainders in op's high bits), then the payload from the input
 *   op % 4 == 1  n raw bytes from the input appended to the stream
 *   op % 4 == 2  flip bit b of stream byte BE16 % length
 *   op % 4 == 3  a full-size frame (1427 payload bytes, from the input or zero)
 * The stream is then decoded in chunks. Checks: every frame that lies wholly
 * before the first raw byte or flip decodes to exactly the packet encoded,
 * and no frame after it decodes at all; packets are at most 1430 bytes; the
 * output never exceeds what the consumed bytes can carry (18 bytes of
 * overhead per frame); the decoder never waits on a whole segment.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "transport/obfs4_framing.h"

#define MAX_STREAM (1 << 18)
#define MAX_FRAMES 4096

struct packet {
    size_t off, len; /* in `packets` */
    size_t end;      /* stream offset where its frame ends */
};

static uint8_t km[OBFS4_KEY_MATERIAL];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t stream[MAX_STREAM], orig[MAX_STREAM], packets[MAX_STREAM];
    static struct packet pk[MAX_FRAMES];
    if (km[0] == 0)
        for (size_t i = 0; i < sizeof(km); i++)
            km[i] = (uint8_t)(i * 29 + 1);
    struct obfs4_framer enc, dec;
    obfs4_framer_init(&enc, km);
    obfs4_framer_init(&dec, km);
    size_t pos = 0, slen = 0, plen = 0, nframes = 0, dirty = (size_t)-1, flipped = 0;
    uint8_t chunk = size > 0 ? data[pos++] : 0;
#define NEXT() (pos < size ? data[pos++] : 0)

    while (pos < size && nframes < MAX_FRAMES) {
        uint8_t op = NEXT();
        if (op % 4 == 0 || op % 4 == 3) {
            uint8_t type = op % 4 == 3 ? 0 : NEXT();
            size_t len = OBFS4_MAX_PACKET_PAYLOAD, pad = 0;
            if (op % 4 == 0) {
                len = (size_t)NEXT() * 6 + (op >> 2 & 7);
                pad = (size_t)NEXT() * 6 + (op >> 5);
            }
            if (len > OBFS4_MAX_PACKET_PAYLOAD)
                len = OBFS4_MAX_PACKET_PAYLOAD;
            if (len + pad > OBFS4_MAX_PACKET_PAYLOAD)
                pad = OBFS4_MAX_PACKET_PAYLOAD - len;
            if (slen + OBFS4_MAX_SEGMENT > MAX_STREAM)
                break;
            uint8_t payload[OBFS4_MAX_PACKET_PAYLOAD] = {0};
            size_t take = size - pos < len ? size - pos : len;
            memcpy(payload, data + pos, take);
            pos += take;
            size_t fl = obfs4_frame_encode(&enc, stream + slen, type, payload, len, pad);
            if (fl != OBFS4_HEADER_LEN + len + pad || fl > OBFS4_MAX_SEGMENT)
                abort();
            /* the packet the decoder must return: type | BE16 len | payload | zeros */
            uint8_t *q = packets + plen;
            q[0] = type;
            q[1] = (uint8_t)(len >> 8);
            q[2] = (uint8_t)len;
            memcpy(q + 3, payload, len);
            memset(q + 3 + len, 0, pad);
            pk[nframes++] = (struct packet){plen, 3 + len + pad, slen + fl};
            plen += 3 + len + pad;
            slen += fl;
        } else if (op % 4 == 1) {
            size_t n = NEXT();
            if (size - pos < n)
                n = size - pos;
            if (slen + n > MAX_STREAM)
                break;
            if (n && dirty > slen)
                dirty = slen;
            memcpy(stream + slen, data + pos, n);
            pos += n;
            slen += n;
        } else if (slen > 0) {
            size_t at = (size_t)NEXT() << 8;
            at = (at | NEXT()) % slen;
            memcpy(orig + flipped, stream + flipped, slen - flipped);
            flipped = slen;
            stream[at] ^= (uint8_t)(1u << (NEXT() & 7));
        }
    }
#undef NEXT
    /* flips may cancel out: the stream is dirty from its first changed byte */
    memcpy(orig + flipped, stream + flipped, slen - flipped);
    for (size_t k = 0; k < slen && k < dirty; k++)
        if (stream[k] != orig[k])
            dirty = k;

    /* decode in chunks, as bytes arrive */
    struct ptk_buf pend;
    ptk_buf_init(&pend, MAX_STREAM);
    size_t fed = 0, consumed = 0, out = 0, got = 0, i = 0;
    int r = PTK_MORE;
    uint8_t pkt[OBFS4_MAX_FRAME_PAYLOAD];
    while (fed < slen) {
        size_t n = chunk ? 1 + (size_t)chunk * (1 + i++ % 5) % 2000 : slen - fed;
        if (n > slen - fed)
            n = slen - fed;
        ptk_buf_put(&pend, stream + fed, n);
        fed += n;
        for (;;) {
            size_t c = (size_t)-1, pl = (size_t)-1, len = ptk_buf_len(&pend);
            r = obfs4_frame_decode(&dec, ptk_buf_data(&pend), len, &c, pkt, &pl);
            if (c > len)
                abort();
            ptk_buf_consume(&pend, c);
            consumed += c;
            if (r == PTK_MORE) {
                if (c != 0 && c != OBFS4_LEN_LEN)
                    abort();
                if (ptk_buf_len(&pend) >= OBFS4_MAX_SEGMENT)
                    abort(); /* a whole segment offered, nothing decoded */
                break;
            }
            if (r == PTK_EAUTH)
                goto done;
            if (r != PTK_DONE || pl > OBFS4_MAX_FRAME_PAYLOAD)
                abort();
            /* only clean frames decode, in order, to what was encoded */
            if (got >= nframes || pk[got].end > dirty || pk[got].end != consumed)
                abort();
            if (pl != pk[got].len || memcmp(pkt, packets + pk[got].off, pl) != 0)
                abort();
            got++;
            out += pl;
            if (out + OBFS4_FRAME_OVERHEAD * got > consumed)
                abort();
        }
    }
done:
    /* a clean stream decodes completely */
    if (dirty == (size_t)-1 && (r == PTK_EAUTH || got != nframes || ptk_buf_len(&pend)))
        abort();
    ptk_buf_free(&pend);
    obfs4_framer_wipe(&enc);
    obfs4_framer_wipe(&dec);
    return 0;
}
