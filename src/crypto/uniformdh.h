/*
 * UniformDH, the key exchange of obfs3 and scramblesuit: Diffie-Hellman in
 * the RFC 3526 1536-bit MODP group (group 5, g = 2) whose public keys look
 * like uniformly random 192-byte strings.
 *
 * A private key starts as 192 random bytes. The exponent x is that number
 * with bit 0 cleared; the public key on the wire is g^x mod p when the
 * original bit 0 was 0 and p - g^x when it was 1 (a free coin flip that
 * hides whether the value is a quadratic residue). Everything travels as
 * 192-byte big-endian numbers, zero-padded on the left. The shared secret
 * is peer^x mod p; p - g^x and g^x give the same secret because x is even.
 *
 * Exponentiation uses OpenSSL's constant-time Montgomery ladder
 * (BN_mod_exp_mont_consttime) with the exponent flagged BN_FLG_CONSTTIME.
 * Like obfs4proxy, any 192-byte peer value is accepted (values >= p are
 * reduced mod p); a degenerate secret only ruins that one connection.
 */
#ifndef PTK_CRYPTO_UNIFORMDH_H
#define PTK_CRYPTO_UNIFORMDH_H

#include <stdint.h>

#define PTK_UDH_LEN 192

/* The group modulus p, big-endian. */
extern const uint8_t ptk_udh_prime[PTK_UDH_LEN];

/*
 * From 192 raw private bytes, derive the exponent x (raw with bit 0 cleared)
 * into x and the wire public key into pub (x may alias raw). PTK_ENOMEM or
 * PTK_EIO if OpenSSL fails; x and pub are then wiped.
 */
int ptk_udh_keypair_from(const uint8_t raw[PTK_UDH_LEN], uint8_t x[PTK_UDH_LEN],
                         uint8_t pub[PTK_UDH_LEN]);

/* As ptk_udh_keypair_from with 192 fresh bytes from the CSPRNG. */
int ptk_udh_keypair(uint8_t x[PTK_UDH_LEN], uint8_t pub[PTK_UDH_LEN]);

/*
 * shared = peer^x mod p, 192 bytes big-endian. x is an exponent from
 * ptk_udh_keypair*; peer is the other side's 192-byte public key. PTK_ENOMEM
 * or PTK_EIO if OpenSSL fails (shared is then wiped).
 */
int ptk_udh_shared(const uint8_t x[PTK_UDH_LEN], const uint8_t peer[PTK_UDH_LEN],
                   uint8_t shared[PTK_UDH_LEN]);

#endif
