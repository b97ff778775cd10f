/*
 * AES-CTR over OpenSSL EVP (see crypto/aes_ctr.h). EVP's CTR mode counts
 * with the full 16-byte block as one big-endian integer, which is what the
 * obfs protocols expect; long inputs are fed in INT_MAX-sized slices since
 * EVP takes int lengths.
 */
#include "crypto/aes_ctr.h"

#include <limits.h>

#include <openssl/evp.h>

#include "ptkit/error.h"

int ptk_aes_ctr_init(struct ptk_aes_ctr *c, const uint8_t *key, size_t keylen,
                     const uint8_t iv[PTK_AES_CTR_IV_LEN])
{
    const EVP_CIPHER *cipher;
    int r = PTK_OK;

    if (keylen == 16)
        cipher = EVP_aes_128_ctr();
    else if (keylen == 32)
        cipher = EVP_aes_256_ctr();
    else
        return PTK_EINVAL;
    if (!c->evp && !(c->evp = EVP_CIPHER_CTX_new()))
        return PTK_ENOMEM;
    /* A fresh init with a new cipher resets and wipes any previous key schedule. */
    if (EVP_EncryptInit_ex(c->evp, cipher, NULL, key, iv) != 1) {
        r = PTK_EIO;
        goto out;
    }
out:
    if (r != PTK_OK)
        ptk_aes_ctr_free(c);
    return r;
}

int ptk_aes_ctr_xor(struct ptk_aes_ctr *c, uint8_t *out, const uint8_t *in, size_t n)
{
    if (!c->evp)
        return PTK_ESTATE;
    while (n > 0) {
        int chunk = n > (size_t)(INT_MAX - 16) ? INT_MAX - 16 : (int)n, w = 0;
        if (EVP_EncryptUpdate(c->evp, out, &w, in, chunk) != 1 || w != chunk)
            return PTK_EIO;
        out += chunk;
        in += chunk;
        n -= (size_t)chunk;
    }
    return PTK_OK;
}

void ptk_aes_ctr_free(struct ptk_aes_ctr *c)
{
    if (!c->evp)
        return;
    EVP_CIPHER_CTX_free(c->evp); /* cleanses the key schedule */
    c->evp = NULL;
}
