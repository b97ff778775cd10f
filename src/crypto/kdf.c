/* HKDF-SHA256 (see crypto/kdf.h). */
#include "crypto/kdf.h"

#include <string.h>

#include "crypto/crypto.h"

void ptk_hkdf_sha256_expand(uint8_t *okm, size_t len, const uint8_t *prk, size_t prklen,
                            const uint8_t *info, size_t infolen)
{
    uint8_t t[PTK_SHA256_LEN];
    size_t tlen = 0, done = 0;
    for (uint8_t i = 1; done < len; i++) {
        ptk_hmac_sha256_ctx c;
        ptk_hmac_sha256_init(&c, prk, prklen);
        ptk_hmac_sha256_update(&c, t, tlen);
        ptk_hmac_sha256_update(&c, info, infolen);
        ptk_hmac_sha256_update(&c, &i, 1);
        ptk_hmac_sha256_final(&c, t);
        tlen = sizeof(t);
        size_t take = len - done < tlen ? len - done : tlen;
        memcpy(okm + done, t, take);
        done += take;
    }
    ptk_memzero(t, sizeof(t));
}

void ptk_hkdf_sha256(uint8_t *okm, size_t len, const uint8_t *ikm, size_t ikmlen,
                     const uint8_t *salt, size_t saltlen, const uint8_t *info, size_t infolen)
{
    uint8_t prk[PTK_SHA256_LEN];
    ptk_hmac_sha256(salt, saltlen, ikm, ikmlen, prk);
    ptk_hkdf_sha256_expand(okm, len, prk, sizeof(prk), info, infolen);
    ptk_memzero(prk, sizeof(prk));
}
