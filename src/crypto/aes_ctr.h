/*
 * AES-CTR with a 128-bit big-endian counter (the whole block counts, and it
 * wraps at 2^128), as obfs2, obfs3 and Go's crypto/cipher.NewCTR use it.
 *
 * One context per direction, created once per connection; the data path
 * only calls ptk_aes_ctr_xor over whole contiguous buffers (no allocation).
 * The key schedule lives in OpenSSL's EVP context and is wiped on free.
 */
#ifndef PTK_CRYPTO_AES_CTR_H
#define PTK_CRYPTO_AES_CTR_H

#include <stddef.h>
#include <stdint.h>

#define PTK_AES_CTR_IV_LEN 16

struct ptk_aes_ctr {
    void *evp; /* EVP_CIPHER_CTX, or NULL before the first key */
};

/* An unkeyed context: no allocation, safe to pass to ptk_aes_ctr_free. */
#define PTK_AES_CTR_INIT {NULL}

/*
 * (Re)key the context with a 16- or 32-byte key (AES-128/256) and the
 * initial counter block `iv`. Allocates the OpenSSL context on first use
 * and reuses it afterwards. PTK_EINVAL for another key length, PTK_ENOMEM,
 * PTK_EIO if OpenSSL fails; on error the context is unkeyed.
 */
int ptk_aes_ctr_init(struct ptk_aes_ctr *c, const uint8_t *key, size_t keylen,
                     const uint8_t iv[PTK_AES_CTR_IV_LEN]);

/*
 * XOR n bytes of keystream into in, writing out (out == in is allowed;
 * otherwise the buffers must not overlap). The stream continues where the
 * previous call stopped, whatever its length. PTK_ESTATE if unkeyed,
 * PTK_EIO if OpenSSL fails.
 */
int ptk_aes_ctr_xor(struct ptk_aes_ctr *c, uint8_t *out, const uint8_t *in, size_t n);

/* True once ptk_aes_ctr_init has succeeded. */
static inline int ptk_aes_ctr_keyed(const struct ptk_aes_ctr *c)
{
    return c->evp != NULL;
}

/* Wipe and release the context; it is unkeyed (and reusable) afterwards. */
void ptk_aes_ctr_free(struct ptk_aes_ctr *c);

#endif
