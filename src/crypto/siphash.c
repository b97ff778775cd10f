/* Streaming SipHash-2-4 (see crypto/siphash.h), from the SipHash paper. */
#include "crypto/siphash.h"

#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t le64(const uint8_t *p)
{
    uint64_t r = 0;
    for (int i = 7; i >= 0; i--)
        r = (r << 8) | p[i];
    return r;
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static void compress(struct ptk_siphash *s, uint64_t m)
{
    uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
    v3 ^= m;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
    s->v0 = v0;
    s->v1 = v1;
    s->v2 = v2;
    s->v3 = v3;
}

void ptk_siphash_init(struct ptk_siphash *s, const uint8_t key[16])
{
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    s->v0 = k0 ^ UINT64_C(0x736f6d6570736575);
    s->v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
    s->v2 = k0 ^ UINT64_C(0x6c7967656e657261);
    s->v3 = k1 ^ UINT64_C(0x7465646279746573);
    s->total = 0;
    s->ntail = 0;
}

void ptk_siphash_update(struct ptk_siphash *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->total += n;
    if (s->ntail) {
        size_t take = 8 - s->ntail < n ? 8 - s->ntail : n;
        memcpy(s->tail + s->ntail, p, take);
        s->ntail += take;
        p += take;
        n -= take;
        if (s->ntail < 8)
            return;
        compress(s, le64(s->tail));
        s->ntail = 0;
    }
    for (; n >= 8; p += 8, n -= 8)
        compress(s, le64(p));
    memcpy(s->tail, p, n);
    s->ntail = n;
}

uint64_t ptk_siphash_final(const struct ptk_siphash *s)
{
    struct ptk_siphash t = *s;
    uint64_t b = t.total << 56;
    for (size_t i = 0; i < t.ntail; i++)
        b |= (uint64_t)t.tail[i] << (8 * i);
    compress(&t, b);
    uint64_t v0 = t.v0, v1 = t.v1, v2 = t.v2 ^ 0xff, v3 = t.v3;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t ptk_siphash24(const uint8_t key[16], const void *p, size_t n)
{
    struct ptk_siphash s;
    ptk_siphash_init(&s, key);
    ptk_siphash_update(&s, p, n);
    return ptk_siphash_final(&s);
}
