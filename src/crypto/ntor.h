/*
 * The ntor handshake in obfs4's flavour (obfs4proxy common/ntor).
 *
 *   secret_input = EXP(Y,x) | EXP(B,x) | B | B | X | Y | PROTOID | ID   (client)
 *                = EXP(X,y) | EXP(X,b) | B | B | X | Y | PROTOID | ID   (server)
 *   KEY_SEED = HMAC-SHA256(PROTOID ":key_extract", secret_input)
 *   verify   = HMAC-SHA256(PROTOID ":key_verify",  secret_input)
 *   AUTH     = HMAC-SHA256(PROTOID ":mac", verify | B | B | X | Y | PROTOID | ID | "Server")
 *   keys     = HKDF-SHA256(IKM = KEY_SEED, salt = PROTOID ":key_extract",
 *                          info = PROTOID ":key_expand")
 * with PROTOID = "ntor-curve25519-sha256-1". (Note the doubled B: the spec
 * says otherwise; the deployed code is what interoperates.)
 */
#ifndef PTK_CRYPTO_NTOR_H
#define PTK_CRYPTO_NTOR_H

#include <stddef.h>
#include <stdint.h>

#define PTK_NTOR_NODEID_LEN 20
#define PTK_NTOR_KEY_LEN 32

/* PTK_EAUTH if a Diffie-Hellman result is all zero (a low-order peer key). */
int ptk_ntor_client(uint8_t key_seed[32], uint8_t auth[32], const uint8_t x[32],
                    const uint8_t X[32], const uint8_t Y[32], const uint8_t B[32],
                    const uint8_t id[PTK_NTOR_NODEID_LEN]);
int ptk_ntor_server(uint8_t key_seed[32], uint8_t auth[32], const uint8_t y[32],
                    const uint8_t Y[32], const uint8_t b[32], const uint8_t B[32],
                    const uint8_t X[32], const uint8_t id[PTK_NTOR_NODEID_LEN]);
/* Expand KEY_SEED into len bytes of key material. */
void ptk_ntor_kdf(const uint8_t key_seed[32], uint8_t *okm, size_t len);

#endif
