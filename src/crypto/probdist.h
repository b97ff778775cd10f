/*
 * obfs4's weighted distributions (padding lengths, inter-arrival delays).
 *
 * A table is generated deterministically from a 24-byte seed, as
 * obfs4proxy's probdist.New does: rand.Perm of the value range, a random
 * number (1..100) of those values kept, random weights, and Vose's alias
 * tables built with FIFO work lists. Sampling uses the OS CSPRNG, as
 * obfs4proxy's does; only the table is shared with the peer (the server
 * sends its seed to the client).
 */
#ifndef PTK_CRYPTO_PROBDIST_H
#define PTK_CRYPTO_PROBDIST_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/drbg.h"

#define PTK_PROBDIST_MAX_VALUES 100
#define PTK_PROBDIST_MAX_RANGE 1500 /* max - min + 1 */

struct ptk_probdist {
    int min_value;
    int n;                                /* values in use, 1..100 */
    uint16_t values[PTK_PROBDIST_MAX_VALUES]; /* offsets from min_value */
    uint8_t alias[PTK_PROBDIST_MAX_VALUES];
    double prob[PTK_PROBDIST_MAX_VALUES];
    double weights[PTK_PROBDIST_MAX_VALUES]; /* kept for tests and logging */
};

/* Build the table for [min, max] (max - min + 1 <= PTK_PROBDIST_MAX_RANGE) from seed. */
void ptk_probdist_init(struct ptk_probdist *w, const uint8_t seed[PTK_DRBG_SEED_LEN], int min,
                       int max, bool biased);
/* Draw a value (CSPRNG). */
int ptk_probdist_sample(const struct ptk_probdist *w);
/* Draw with caller-supplied uniform inputs: index in [0, n), coin in [0, 1). For tests. */
int ptk_probdist_sample_with(const struct ptk_probdist *w, int index, double coin);

#endif
