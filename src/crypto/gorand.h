/*
 * Go math/rand's derived functions over an Int63 source.
 *
 * obfs4proxy draws its padding-length and delay tables from
 * rand.New(hashDrbg): the table a bridge uses is a pure function of its
 * drbg-seed only if these functions consume the source exactly as Go's do
 * (rejection sampling thresholds, Perm's swap order, Float64's division).
 * They are reimplemented here from Go's documented, frozen Go 1 behaviour.
 */
#ifndef PTK_CRYPTO_GORAND_H
#define PTK_CRYPTO_GORAND_H

#include <stddef.h>
#include <stdint.h>

struct ptk_gorand {
    int64_t (*int63)(void *ud);
    void *ud;
};

int32_t ptk_go_int31n(struct ptk_gorand *r, int32_t n); /* n > 0 */
int64_t ptk_go_int63n(struct ptk_gorand *r, int64_t n); /* n > 0 */
int ptk_go_intn(struct ptk_gorand *r, int n);           /* n > 0 */
double ptk_go_float64(struct ptk_gorand *r);            /* [0, 1) */
/* out[0..n) = a pseudo-random permutation of 0..n-1, as rand.Perm. */
void ptk_go_perm(struct ptk_gorand *r, int *out, int n);

#endif
