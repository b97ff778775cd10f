/*
 * obfs4 frames and packets (obfs4proxy transports/obfs4/framing, packet.go).
 *
 *   frame  = BE16(len ^ mask) | secretbox(packet)        len = 16 + |packet|
 *   packet = type | BE16(payload length) | payload | zero padding
 *   nonce  = prefix[16] | BE64(counter), counter from 1 per direction
 *   mask   = first two bytes (big-endian) of the next hash-DRBG block
 *
 * Key material per direction (72 bytes): secretbox key [0:32], nonce prefix
 * [32:48], DRBG seed (SipHash key + IV) [48:72]. A frame is at most 1448
 * bytes on the wire; a packet carries at most 1427 payload bytes.
 */
#ifndef PTK_TRANSPORT_OBFS4_FRAMING_H
#define PTK_TRANSPORT_OBFS4_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/drbg.h"

#define OBFS4_MAX_SEGMENT 1448
#define OBFS4_LEN_LEN 2
#define OBFS4_TAG_LEN 16
#define OBFS4_FRAME_OVERHEAD (OBFS4_LEN_LEN + OBFS4_TAG_LEN)             /* 18 */
#define OBFS4_MAX_FRAME_PAYLOAD (OBFS4_MAX_SEGMENT - OBFS4_FRAME_OVERHEAD) /* 1430 */
#define OBFS4_MIN_FRAME_LEN OBFS4_TAG_LEN                                   /* 16 */
#define OBFS4_MAX_FRAME_LEN (OBFS4_MAX_SEGMENT - OBFS4_LEN_LEN)            /* 1446 */
#define OBFS4_PACKET_OVERHEAD 3
#define OBFS4_MAX_PACKET_PAYLOAD (OBFS4_MAX_FRAME_PAYLOAD - OBFS4_PACKET_OVERHEAD) /* 1427 */
#define OBFS4_HEADER_LEN (OBFS4_FRAME_OVERHEAD + OBFS4_PACKET_OVERHEAD)         /* 21 */
#define OBFS4_KEY_MATERIAL 72

enum { OBFS4_PACKET_PAYLOAD = 0, OBFS4_PACKET_PRNG_SEED = 1 };

struct obfs4_framer {
    uint8_t key[32];
    uint8_t nonce[24]; /* prefix | BE64 counter (the counter bytes are rewritten per frame) */
    uint64_t counter;
    struct ptk_drbg drbg;
    /* decoder only */
    uint16_t next_len; /* 0: the next length field has not been read */
    bool next_invalid; /* the length was out of range: fail after reading it */
};

void obfs4_framer_init(struct obfs4_framer *f, const uint8_t km[OBFS4_KEY_MATERIAL]);
void obfs4_framer_wipe(struct obfs4_framer *f);

/*
 * Write one frame carrying a packet (type, data[0..len), pad zero bytes) to
 * out, which must have room for OBFS4_HEADER_LEN + len + pad bytes;
 * len + pad <= OBFS4_MAX_PACKET_PAYLOAD. Returns the frame length, or 0 if
 * the nonce counter would wrap (the connection must then close).
 */
size_t obfs4_frame_encode(struct obfs4_framer *f, uint8_t *out, uint8_t type, const uint8_t *data,
                          size_t len, size_t pad);

/*
 * Decode the next frame from in[0..len): *consumed bytes are used (the
 * length field may be consumed before the rest of the frame arrives). On
 * PTK_DONE, pkt[0..*pktlen) holds the packet (pkt has OBFS4_MAX_FRAME_PAYLOAD
 * bytes). PTK_MORE: feed more. PTK_EAUTH: tag mismatch or invalid length
 * (reported only after reading as many bytes as a valid frame would have).
 */
int obfs4_frame_decode(struct obfs4_framer *f, const uint8_t *in, size_t len, size_t *consumed,
                       uint8_t *pkt, size_t *pktlen);

#endif
