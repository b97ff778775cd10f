/* obfs4 weighted distributions (see crypto/probdist.h). */
#include "crypto/probdist.h"

#include <string.h>

#include "crypto/crypto.h"
#include "crypto/gorand.h"

static int64_t drbg_src(void *ud)
{
    return ptk_drbg_int63(ud);
}

/* Alias tables, Vose's method with FIFO "small" and "large" lists (exact order matters). */
static void gen_tables(struct ptk_probdist *w)
{
    int n = w->n;
    double sum = 0, scaled[PTK_PROBDIST_MAX_VALUES];
    int small[2 * PTK_PROBDIST_MAX_VALUES], large[2 * PTK_PROBDIST_MAX_VALUES];
    int sh = 0, st = 0, lh = 0, lt = 0; /* queue heads and tails */
    for (int i = 0; i < n; i++)
        sum += w->weights[i];
    memset(w->alias, 0, sizeof(w->alias));
    memset(w->prob, 0, sizeof(w->prob));
    for (int i = 0; i < n; i++) {
        scaled[i] = w->weights[i] * (double)n / sum;
        if (scaled[i] < 1.0)
            small[st++] = i;
        else
            large[lt++] = i;
    }
    /* Each step removes one entry from `small` for good: at most n pushes in all. */
    while (sh < st && lh < lt) {
        int l = small[sh++], g = large[lh++];
        w->prob[l] = scaled[l];
        w->alias[l] = (uint8_t)g;
        scaled[g] = (scaled[g] + scaled[l]) - 1.0;
        if (scaled[g] < 1.0)
            small[st++] = g;
        else
            large[lt++] = g;
    }
    while (lh < lt)
        w->prob[large[lh++]] = 1.0;
    while (sh < st)
        w->prob[small[sh++]] = 1.0;
}

void ptk_probdist_init(struct ptk_probdist *w, const uint8_t seed[PTK_DRBG_SEED_LEN], int min,
                       int max, bool biased)
{
    struct ptk_drbg d;
    struct ptk_gorand r = {drbg_src, &d};
    int range = max + 1 - min;
    int perm[PTK_PROBDIST_MAX_RANGE];
    if (range > PTK_PROBDIST_MAX_RANGE)
        range = PTK_PROBDIST_MAX_RANGE; /* contract violation; stay in bounds */
    ptk_drbg_init(&d, seed);
    memset(w, 0, sizeof(*w));
    w->min_value = min;
    ptk_go_perm(&r, perm, range);
    int nv = range < 1 ? 1 : range > PTK_PROBDIST_MAX_VALUES ? PTK_PROBDIST_MAX_VALUES : range;
    w->n = ptk_go_intn(&r, nv) + 1;
    for (int i = 0; i < w->n; i++)
        w->values[i] = (uint16_t)perm[i];
    double culm = 0.0;
    for (int i = 0; i < w->n; i++) {
        if (biased) {
            double p = (1.0 - culm) * ptk_go_float64(&r);
            w->weights[i] = p;
            culm += p;
        } else {
            w->weights[i] = ptk_go_float64(&r);
        }
    }
    gen_tables(w);
    ptk_memzero(&d, sizeof(d));
}

int ptk_probdist_sample_with(const struct ptk_probdist *w, int i, double coin)
{
    int idx = coin <= w->prob[i] ? i : w->alias[i];
    return w->min_value + w->values[idx];
}

static int64_t csprng_src(void *ud)
{
    uint64_t v;
    ptk_random_fast(&v, sizeof(v));
    return (int64_t)(v >> 1);
}

int ptk_probdist_sample(const struct ptk_probdist *w)
{
    struct ptk_gorand r = {csprng_src, NULL};
    int i = ptk_go_intn(&r, w->n);
    return ptk_probdist_sample_with(w, i, ptk_go_float64(&r));
}
