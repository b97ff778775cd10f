/*
 * Elligator2 for Curve25519, exactly as obfs4proxy 0.0.14 and lyrebird use it.
 *
 * A client or server ephemeral key is sent as its 32-byte "representative",
 * which is indistinguishable from random bytes. Key generation follows the
 * fixed scheme (obfs4proxy >= 0.0.12, tor bug 40804): the public key is the
 * Montgomery u of [clamp(priv)]B plus a low-order point chosen by the low
 * bits of the unclamped private key, so that all of u's residue classes are
 * covered; the two spare top bits of the representative come from a random
 * tweak. The older scheme produced representatives a censor can tell apart
 * from random, and is not implemented.
 *
 * X25519 with such a public key gives the normal shared secret: the peer's
 * clamped scalar is a multiple of 8 and removes the low-order component.
 */
#ifndef PTK_CRYPTO_ELLIGATOR2_H
#define PTK_CRYPTO_ELLIGATOR2_H

#include <stdbool.h>
#include <stdint.h>

/* Decode a representative (its top two bits are ignored) to a public key u. */
void ptk_elligator2_repr_to_pub(uint8_t pub[32], const uint8_t repr[32]);
/*
 * From an (unclamped) private key and a tweak byte, compute the public key
 * and its representative. False when the key has no representative (about
 * half of all keys); then pub and repr are unspecified.
 */
bool ptk_elligator2_pub_repr(uint8_t pub[32], uint8_t repr[32], const uint8_t priv[32],
                             uint8_t tweak);
/*
 * Generate a fresh key pair with a representative: priv = SHA-512(random)[0:32],
 * tweak = SHA-512(random)[63], retried until representable.
 */
void ptk_elligator2_keygen(uint8_t priv[32], uint8_t pub[32], uint8_t repr[32]);

#endif
