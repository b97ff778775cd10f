/* libsodium wrappers (see crypto/crypto.h). */
#include "crypto/crypto.h"

#include <stdlib.h>

#include "ptkit/error.h"

int ptk_crypto_init(void)
{
    return sodium_init() < 0 ? PTK_EIO : PTK_OK;
}

/* libsodium requires sodium_init() before use; it is idempotent and cheap. */
static void ensure_init(void)
{
    if (sodium_init() < 0)
        abort(); /* no usable randomness: continuing would be unsafe */
}

void ptk_random(void *p, size_t n)
{
    ensure_init();
    randombytes_buf(p, n);
}

uint32_t ptk_random_uniform(uint32_t upper)
{
    ensure_init();
    return randombytes_uniform(upper);
}

void ptk_hmac_sha256_init(ptk_hmac_sha256_ctx *c, const uint8_t *key, size_t keylen)
{
    crypto_auth_hmacsha256_init(c, key, keylen);
}

void ptk_hmac_sha256_update(ptk_hmac_sha256_ctx *c, const void *p, size_t n)
{
    crypto_auth_hmacsha256_update(c, p, n);
}

void ptk_hmac_sha256_final(ptk_hmac_sha256_ctx *c, uint8_t out[PTK_SHA256_LEN])
{
    crypto_auth_hmacsha256_final(c, out);
    sodium_memzero(c, sizeof(*c));
}

void ptk_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t n,
                     uint8_t out[PTK_SHA256_LEN])
{
    ptk_hmac_sha256_ctx c;
    ptk_hmac_sha256_init(&c, key, keylen);
    ptk_hmac_sha256_update(&c, msg, n);
    ptk_hmac_sha256_final(&c, out);
}

void ptk_sha256(const void *msg, size_t n, uint8_t out[PTK_SHA256_LEN])
{
    crypto_hash_sha256(out, msg, n);
}

bool ptk_ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

void ptk_memzero(void *p, size_t n)
{
    sodium_memzero(p, n);
}

void ptk_secretbox_seal(uint8_t *c, uint8_t mac[16], const uint8_t *m, size_t mlen,
                        const uint8_t nonce[24], const uint8_t key[32])
{
    crypto_secretbox_detached(c, mac, m, mlen, nonce, key);
}

int ptk_secretbox_open(uint8_t *m, const uint8_t *c, const uint8_t mac[16], size_t clen,
                       const uint8_t nonce[24], const uint8_t key[32])
{
    return crypto_secretbox_open_detached(m, c, mac, clen, nonce, key) == 0 ? PTK_OK : PTK_EAUTH;
}
