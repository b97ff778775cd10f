/*
 * The obfs2 transport, wire-compatible with obfs4proxy 0.0.14: each side
 * sends a random seed and an AES-CTR-encrypted header with random padding;
 * data keys come from both seeds (no key exchange: obfs2 only hides bytes
 * from a passive observer who does not look closely). The spec's optional
 * shared secret (client argument and server option "shared-secret", as
 * Python obfsproxy has them; obfs4proxy rejects both) is supported: it
 * enters every key and costs 100,000 SHA-256 rounds per key, four keys per
 * connection on each side. The key derivation is exposed for the
 * known-answer tests.
 */
#ifndef PTK_TRANSPORT_OBFS2_H
#define PTK_TRANSPORT_OBFS2_H

#include <stddef.h>
#include <stdint.h>

#include "ptkit/transport.h"

#define OBFS2_MAGIC 0x2BF5CA7Eu
#define OBFS2_SEED_LEN 16
#define OBFS2_KEY_LEN 16
#define OBFS2_HDR_LEN 8 /* BE32 magic | BE32 padding length */
#define OBFS2_MAX_PADDING 8192
#define OBFS2_HS_TIMEOUT_S 30
#define OBFS2_HASH_ITERATIONS 100000

/*
 * m = MAC(label, x) = SHA256(label | x | label); key = m[0:16], iv = m[16:32].
 * Labels: "Initiator obfuscation padding" / "Responder obfuscation padding"
 * with the sender's seed; "Initiator obfuscated data" / "Responder
 * obfuscated data" with INIT_SEED | RESP_SEED. With a shared secret
 * (secret_hash = SHA256(SECRET), else NULL): m = H^n(label | x |
 * secret_hash | label), SHA-256 applied n = OBFS2_HASH_ITERATIONS times.
 * The caller wipes the output.
 */
void obfs2_kdf(const char *label, const uint8_t *x, size_t xlen, const uint8_t *secret_hash,
               uint8_t key[OBFS2_KEY_LEN], uint8_t iv[16]);

extern const struct ptk_transport_ops ptk_transport_obfs2;

#endif
