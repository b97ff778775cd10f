/* AES-128-CBC, no padding, over OpenSSL EVP (see crypto/aes_cbc.h). */
#include "crypto/aes_cbc.h"

#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ptkit/error.h"

int ptk_aes128_cbc(bool encrypt, const uint8_t key[PTK_AES_CBC_KEY_LEN],
                   const uint8_t iv[PTK_AES_CBC_IV_LEN], const uint8_t *in, uint8_t *out,
                   size_t len)
{
    int r = PTK_OK, w = 0, fin = 0;
    if (len % 16 != 0 || len > (size_t)INT_MAX - 16)
        return PTK_EINVAL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return PTK_ENOMEM;
    if (EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv, encrypt ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
        EVP_CipherUpdate(ctx, out, &w, in, (int)len) != 1 ||
        EVP_CipherFinal_ex(ctx, out + w, &fin) != 1 || (size_t)(w + fin) != len) {
        OPENSSL_cleanse(out, len);
        r = PTK_EIO;
    }
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return r;
}
