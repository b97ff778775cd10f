/* Go math/rand derived functions (see crypto/gorand.h). */
#include "crypto/gorand.h"

static int32_t int31(struct ptk_gorand *r)
{
    return (int32_t)(r->int63(r->ud) >> 32);
}

int32_t ptk_go_int31n(struct ptk_gorand *r, int32_t n)
{
    if ((n & (n - 1)) == 0)
        return int31(r) & (n - 1);
    int32_t max = (int32_t)((UINT32_C(1) << 31) - 1 - (UINT32_C(1) << 31) % (uint32_t)n);
    int32_t v = int31(r);
    while (v > max)
        v = int31(r);
    return v % n;
}

int64_t ptk_go_int63n(struct ptk_gorand *r, int64_t n)
{
    if ((n & (n - 1)) == 0)
        return r->int63(r->ud) & (n - 1);
    int64_t max = (int64_t)((UINT64_C(1) << 63) - 1 - (UINT64_C(1) << 63) % (uint64_t)n);
    int64_t v = r->int63(r->ud);
    while (v > max)
        v = r->int63(r->ud);
    return v % n;
}

int ptk_go_intn(struct ptk_gorand *r, int n)
{
    if (n <= INT32_MAX)
        return (int)ptk_go_int31n(r, (int32_t)n);
    return (int)ptk_go_int63n(r, n);
}

double ptk_go_float64(struct ptk_gorand *r)
{
    for (;;) {
        double f = (double)r->int63(r->ud) / 9223372036854775808.0; /* 2^63 */
        if (f != 1.0)
            return f;
    }
}

void ptk_go_perm(struct ptk_gorand *r, int *out, int n)
{
    for (int i = 0; i < n; i++) {
        int j = ptk_go_intn(r, i + 1);
        out[i] = out[j];
        out[j] = i;
    }
}
