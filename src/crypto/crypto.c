/* libsodium wrappers (see crypto/crypto.h). */
#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

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

/*
 * Per-thread fast generator: buf = ChaCha20(key, nonce 0); the first 32 bytes
 * become the next key at once (fast key erasure), the rest is output.
 */
#define FAST_BUF 512
static __thread struct {
    uint8_t key[32];
    uint8_t buf[FAST_BUF];
    size_t pos;
    bool seeded;
} fast;

static void fast_refill(void)
{
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    if (!fast.seeded) {
        ptk_random(fast.key, sizeof(fast.key));
        fast.seeded = true;
    }
    crypto_stream_chacha20(fast.buf, FAST_BUF, nonce, fast.key);
    memcpy(fast.key, fast.buf, 32);
    sodium_memzero(fast.buf, 32);
    fast.pos = 32;
}

void ptk_random_fast(void *p, size_t n)
{
    uint8_t *out = p;
    if (n > FAST_BUF) {
        /* bulk: a keystream under a key used once, then a fresh key */
        static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
        uint8_t k[32];
        ptk_random_fast(k, sizeof(k));
        crypto_stream_chacha20(out, n, nonce, k);
        sodium_memzero(k, sizeof(k));
        return;
    }
    while (n > 0) {
        if (fast.pos >= FAST_BUF || !fast.seeded)
            fast_refill();
        size_t take = FAST_BUF - fast.pos < n ? FAST_BUF - fast.pos : n;
        memcpy(out, fast.buf + fast.pos, take);
        sodium_memzero(fast.buf + fast.pos, take);
        fast.pos += take;
        out += take;
        n -= take;
    }
}

uint32_t ptk_random_fast_uniform(uint32_t upper)
{
    /* rejection sampling: no modulo bias */
    uint32_t limit = (uint32_t)(-upper) % upper, v;
    do
        ptk_random_fast(&v, sizeof(v));
    while (v < limit);
    return v % upper;
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
