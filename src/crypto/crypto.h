/*
 * Thin, named wrappers over libsodium for the primitives ptkit uses
 * everywhere: randomness, HMAC-SHA256 (one-shot and incremental), SHA-256,
 * constant-time comparison and secret wiping. Transport-specific primitives
 * (ntor, Elligator2, SipHash, DRBG, UniformDH) live in their own files here.
 */
#ifndef PTK_CRYPTO_CRYPTO_H
#define PTK_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define PTK_SHA256_LEN 32

/* Initialise libsodium; idempotent, thread-safe. PTK_EIO if it cannot. */
int ptk_crypto_init(void);
/* Fill p with n bytes from the OS CSPRNG. */
void ptk_random(void *p, size_t n);
/* Uniform integer in [0, upper) (upper > 0). */
uint32_t ptk_random_uniform(uint32_t upper);
/*
 * The same from a per-thread ChaCha20 generator keyed from the OS, with fast
 * key erasure: for the high-volume, per-connection randomness (padding
 * bytes and lengths, ephemeral key seeds) where a system call per draw would
 * cost more than the handshake. Long-term secrets use ptk_random.
 */
void ptk_random_fast(void *p, size_t n);
uint32_t ptk_random_fast_uniform(uint32_t upper);

typedef crypto_auth_hmacsha256_state ptk_hmac_sha256_ctx;
void ptk_hmac_sha256_init(ptk_hmac_sha256_ctx *c, const uint8_t *key, size_t keylen);
void ptk_hmac_sha256_update(ptk_hmac_sha256_ctx *c, const void *p, size_t n);
/* Write the 32-byte MAC and wipe the context. */
void ptk_hmac_sha256_final(ptk_hmac_sha256_ctx *c, uint8_t out[PTK_SHA256_LEN]);
void ptk_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t n,
                     uint8_t out[PTK_SHA256_LEN]);
void ptk_sha256(const void *msg, size_t n, uint8_t out[PTK_SHA256_LEN]);

/* XSalsa20-Poly1305 secretbox, detached tag; c may equal m (in place). */
void ptk_secretbox_seal(uint8_t *c, uint8_t mac[16], const uint8_t *m, size_t mlen,
                        const uint8_t nonce[24], const uint8_t key[32]);
/* PTK_EAUTH if the tag does not verify (m is then unspecified). */
int ptk_secretbox_open(uint8_t *m, const uint8_t *c, const uint8_t mac[16], size_t clen,
                       const uint8_t nonce[24], const uint8_t key[32]);

/* Constant-time equality of two n-byte strings. */
bool ptk_ct_equal(const void *a, const void *b, size_t n);
/* Wipe secrets (sodium_memzero). */
void ptk_memzero(void *p, size_t n);

#endif
