/* HKDF-SHA256 (RFC 5869), built on libsodium's HMAC-SHA256. */
#ifndef PTK_CRYPTO_KDF_H
#define PTK_CRYPTO_KDF_H

#include <stddef.h>
#include <stdint.h>

/* Extract-then-expand. len <= 255 * 32. */
void ptk_hkdf_sha256(uint8_t *okm, size_t len, const uint8_t *ikm, size_t ikmlen,
                     const uint8_t *salt, size_t saltlen, const uint8_t *info, size_t infolen);
/* Expand only (prk used directly as the HMAC key), as scramblesuit does. */
void ptk_hkdf_sha256_expand(uint8_t *okm, size_t len, const uint8_t *prk, size_t prklen,
                            const uint8_t *info, size_t infolen);

#endif
