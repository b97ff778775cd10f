/*
 * One-shot AES-128-CBC without padding, for scramblesuit session tickets
 * (a 64-byte server state sealed under the server's ticket key). Inputs are
 * whole blocks; the OpenSSL context lives only for the call and is wiped.
 */
#ifndef PTK_CRYPTO_AES_CBC_H
#define PTK_CRYPTO_AES_CBC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PTK_AES_CBC_KEY_LEN 16
#define PTK_AES_CBC_IV_LEN 16

/*
 * Encrypt (or decrypt) len bytes (a multiple of 16) from in to out (they may
 * be the same buffer). PTK_EINVAL for a partial block, PTK_ENOMEM or PTK_EIO
 * if OpenSSL fails (out is then wiped).
 */
int ptk_aes128_cbc(bool encrypt, const uint8_t key[PTK_AES_CBC_KEY_LEN],
                   const uint8_t iv[PTK_AES_CBC_IV_LEN], const uint8_t *in, uint8_t *out,
                   size_t len);

#endif
