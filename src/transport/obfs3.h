/*
 * The obfs3 transport, wire-compatible with obfs4proxy 0.0.14: a UniformDH
 * key exchange, then AES-128-CTR in each direction, with the start of each
 * direction's data marked by an HMAC "magic" hidden behind random padding.
 * No arguments and no server state. The key schedule is exposed for the
 * known-answer tests.
 */
#ifndef PTK_TRANSPORT_OBFS3_H
#define PTK_TRANSPORT_OBFS3_H

#include <stdint.h>

#include "crypto/uniformdh.h"
#include "ptkit/transport.h"

#define OBFS3_MAX_PADDING 8194 /* padding before a magic, both pieces together */
#define OBFS3_MAGIC_LEN 32
#define OBFS3_SCAN_LIMIT (OBFS3_MAX_PADDING + OBFS3_MAGIC_LEN) /* 8226 */
#define OBFS3_KEY_LEN 16
#define OBFS3_HS_TIMEOUT_S 30

/* Everything obfs3 derives from the UniformDH shared secret. */
struct obfs3_keys {
    uint8_t init_secret[32]; /* initiator -> responder: AES key [0:16], counter [16:32] */
    uint8_t resp_secret[32]; /* responder -> initiator */
    uint8_t init_magic[32];  /* marks the initiator's first data */
    uint8_t resp_magic[32];
};

/*
 * INIT_SECRET = HMAC-SHA256(shared, "Initiator obfuscated data"),
 * RESP_SECRET = HMAC(shared, "Responder obfuscated data"), and the magics
 * HMAC(shared, "Initiator magic") / HMAC(shared, "Responder magic").
 * The caller wipes k when done.
 */
void obfs3_kdf(const uint8_t shared[PTK_UDH_LEN], struct obfs3_keys *k);

extern const struct ptk_transport_ops ptk_transport_obfs3;

#endif
