/*
 * A pool of Elligator2 key pairs made ahead of time by a background thread.
 *
 * About half of all private keys have no representative, so making an
 * obfs4 session key costs two scalar multiplications on average and a
 * variable amount of time. A pool keeps that work off the handshake's
 * critical path: ptk_keypool_take() hands out a ready key (or makes one on
 * the spot if the pool ran dry) and, once half of it is gone, wakes the
 * thread to fill it up again in one burst. Keys are
 * used once and wiped from the pool when taken.
 */
#ifndef PTK_CRYPTO_KEYPOOL_H
#define PTK_CRYPTO_KEYPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ptk_keypool;

/* A pool of up to `size` keys; threaded = false makes keys only on demand (tests). */
struct ptk_keypool *ptk_keypool_new(size_t size, bool threaded);
/* Stop the thread and wipe the keys. */
void ptk_keypool_free(struct ptk_keypool *p);
/* A fresh key pair with its representative. Thread-safe. */
void ptk_keypool_take(struct ptk_keypool *p, uint8_t priv[32], uint8_t pub[32],
                      uint8_t repr[32]);

#endif
