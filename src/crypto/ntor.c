/* obfs4's ntor (see crypto/ntor.h). */
#include "crypto/ntor.h"

#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/kdf.h"
#include "ptkit/error.h"

#define PROTOID "ntor-curve25519-sha256-1"
static const char t_mac[] = PROTOID ":mac";
static const char t_key[] = PROTOID ":key_extract";
static const char t_verify[] = PROTOID ":key_verify";
static const char m_expand[] = PROTOID ":key_expand";

#define SUFFIX_LEN (4 * 32 + sizeof(PROTOID) - 1 + PTK_NTOR_NODEID_LEN)

static void common(uint8_t key_seed[32], uint8_t auth[32], uint8_t si[64 + SUFFIX_LEN],
                   const uint8_t B[32], const uint8_t X[32], const uint8_t Y[32],
                   const uint8_t id[PTK_NTOR_NODEID_LEN])
{
    uint8_t *suffix = si + 64, verify[32];
    memcpy(suffix, B, 32);
    memcpy(suffix + 32, B, 32);
    memcpy(suffix + 64, X, 32);
    memcpy(suffix + 96, Y, 32);
    memcpy(suffix + 128, PROTOID, sizeof(PROTOID) - 1);
    memcpy(suffix + 128 + sizeof(PROTOID) - 1, id, PTK_NTOR_NODEID_LEN);
    ptk_hmac_sha256((const uint8_t *)t_key, sizeof(t_key) - 1, si, 64 + SUFFIX_LEN, key_seed);
    ptk_hmac_sha256((const uint8_t *)t_verify, sizeof(t_verify) - 1, si, 64 + SUFFIX_LEN, verify);
    ptk_hmac_sha256_ctx c;
    ptk_hmac_sha256_init(&c, (const uint8_t *)t_mac, sizeof(t_mac) - 1);
    ptk_hmac_sha256_update(&c, verify, sizeof(verify));
    ptk_hmac_sha256_update(&c, suffix, SUFFIX_LEN);
    ptk_hmac_sha256_update(&c, "Server", 6);
    ptk_hmac_sha256_final(&c, auth);
    ptk_memzero(verify, sizeof(verify));
    ptk_memzero(si, 64);
}

int ptk_ntor_client(uint8_t key_seed[32], uint8_t auth[32], const uint8_t x[32],
                    const uint8_t X[32], const uint8_t Y[32], const uint8_t B[32],
                    const uint8_t id[PTK_NTOR_NODEID_LEN])
{
    uint8_t si[64 + SUFFIX_LEN];
    int bad = crypto_scalarmult(si, x, Y) != 0;
    bad |= crypto_scalarmult(si + 32, x, B) != 0;
    common(key_seed, auth, si, B, X, Y, id);
    return bad ? PTK_EAUTH : PTK_OK;
}

int ptk_ntor_server(uint8_t key_seed[32], uint8_t auth[32], const uint8_t y[32],
                    const uint8_t Y[32], const uint8_t b[32], const uint8_t B[32],
                    const uint8_t X[32], const uint8_t id[PTK_NTOR_NODEID_LEN])
{
    uint8_t si[64 + SUFFIX_LEN];
    int bad = crypto_scalarmult(si, y, X) != 0;
    bad |= crypto_scalarmult(si + 32, b, X) != 0;
    common(key_seed, auth, si, B, X, Y, id);
    return bad ? PTK_EAUTH : PTK_OK;
}

void ptk_ntor_kdf(const uint8_t key_seed[32], uint8_t *okm, size_t len)
{
    ptk_hkdf_sha256(okm, len, key_seed, 32, (const uint8_t *)t_key, sizeof(t_key) - 1,
                    (const uint8_t *)m_expand, sizeof(m_expand) - 1);
}
