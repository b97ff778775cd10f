/*
 * obfs4 framing (see transport/obfs4_framing.h). Encryption is in place in
 * the caller's output buffer (secretbox_detached with the tag placed before
 * the ciphertext, which is the secretbox_easy layout), so encoding a frame
 * costs one copy of the payload into the frame and the cipher itself.
 */
#include "transport/obfs4_framing.h"

#include <string.h>

#include "crypto/crypto.h"
#include "ptkit/error.h"

void obfs4_framer_init(struct obfs4_framer *f, const uint8_t km[OBFS4_KEY_MATERIAL])
{
    memset(f, 0, sizeof(*f));
    memcpy(f->key, km, 32);
    memcpy(f->nonce, km + 32, 16);
    f->counter = 1;
    ptk_drbg_init(&f->drbg, km + 48);
}

void obfs4_framer_wipe(struct obfs4_framer *f)
{
    ptk_memzero(f, sizeof(*f));
}

static bool set_nonce(struct obfs4_framer *f)
{
    if (f->counter == 0)
        return false; /* wrapped: never reuse a nonce */
    for (int i = 0; i < 8; i++)
        f->nonce[16 + i] = (uint8_t)(f->counter >> (56 - 8 * i));
    return true;
}

static uint16_t next_mask(struct obfs4_framer *f)
{
    uint8_t b[8];
    ptk_drbg_next(&f->drbg, b);
    return (uint16_t)(b[0] << 8 | b[1]);
}

size_t obfs4_frame_encode(struct obfs4_framer *f, uint8_t *out, uint8_t type, const uint8_t *data,
                          size_t len, size_t pad)
{
    if (!set_nonce(f))
        return 0;
    uint8_t *pkt = out + OBFS4_FRAME_OVERHEAD;
    size_t pktlen = OBFS4_PACKET_OVERHEAD + len + pad;
    pkt[0] = type;
    pkt[1] = (uint8_t)(len >> 8);
    pkt[2] = (uint8_t)len;
    if (len)
        memcpy(pkt + 3, data, len);
    memset(pkt + 3 + len, 0, pad);
    ptk_secretbox_seal(pkt, out + OBFS4_LEN_LEN, pkt, pktlen, f->nonce, f->key);
    f->counter++;
    uint16_t flen = (uint16_t)(OBFS4_TAG_LEN + pktlen) ^ next_mask(f);
    out[0] = (uint8_t)(flen >> 8);
    out[1] = (uint8_t)flen;
    return OBFS4_FRAME_OVERHEAD + pktlen;
}

int obfs4_frame_decode(struct obfs4_framer *f, const uint8_t *in, size_t len, size_t *consumed,
                       uint8_t *pkt, size_t *pktlen)
{
    *consumed = 0;
    if (f->next_len == 0) {
        if (len < OBFS4_LEN_LEN)
            return PTK_MORE;
        if (!set_nonce(f))
            return PTK_EPROTO;
        uint16_t l = (uint16_t)(in[0] << 8 | in[1]) ^ next_mask(f);
        if (l < OBFS4_MIN_FRAME_LEN || l > OBFS4_MAX_FRAME_LEN) {
            /* Do not reveal the failure early: wait for a plausible frame's worth. */
            f->next_invalid = true;
            l = (uint16_t)(OBFS4_MIN_FRAME_LEN +
                           ptk_random_uniform(OBFS4_MAX_FRAME_LEN - OBFS4_MIN_FRAME_LEN + 1));
        }
        f->next_len = l;
        *consumed = OBFS4_LEN_LEN;
        in += OBFS4_LEN_LEN;
        len -= OBFS4_LEN_LEN;
    }
    if (len < f->next_len)
        return PTK_MORE;
    size_t clen = f->next_len - OBFS4_TAG_LEN;
    if (f->next_invalid ||
        ptk_secretbox_open(pkt, in + OBFS4_TAG_LEN, in, clen, f->nonce, f->key) != PTK_OK)
        return PTK_EAUTH;
    *consumed += f->next_len;
    *pktlen = clen;
    f->next_len = 0;
    f->counter++;
    return PTK_DONE;
}
