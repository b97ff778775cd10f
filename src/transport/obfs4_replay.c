/* obfs4 replay filter (see transport/obfs4_replay.h). */
#include "transport/obfs4_replay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/siphash.h"

struct entry {
    uint64_t digest;
    int64_t seen;
};

struct obfs4_replay {
    pthread_mutex_t mu;
    uint8_t key[16];
    int64_t ttl;
    size_t max;
    struct entry *ring; /* FIFO: [head, head + count) mod cap */
    size_t cap, head, count;
    uint64_t *set; /* open addressing; 0 = empty (digest 0 is stored as 1) */
    size_t setcap; /* power of two, >= 2 * count */
};

struct obfs4_replay *obfs4_replay_new(int64_t ttl_s, size_t max)
{
    struct obfs4_replay *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    ptk_random(f->key, sizeof(f->key));
    f->ttl = ttl_s;
    f->max = max;
    return f;
}

void obfs4_replay_free(struct obfs4_replay *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f->ring);
    free(f->set);
    free(f);
}

static size_t slot_of(const struct obfs4_replay *f, uint64_t d)
{
    return (size_t)(d ^ (d >> 29)) & (f->setcap - 1);
}

static bool set_has(const struct obfs4_replay *f, uint64_t d)
{
    if (!f->setcap)
        return false;
    for (size_t i = slot_of(f, d);; i = (i + 1) & (f->setcap - 1)) {
        if (f->set[i] == 0)
            return false;
        if (f->set[i] == d)
            return true;
    }
}

static void set_insert(struct obfs4_replay *f, uint64_t d)
{
    size_t i = slot_of(f, d);
    while (f->set[i] != 0)
        i = (i + 1) & (f->setcap - 1);
    f->set[i] = d;
}

/* Remove with backward-shift deletion (keeps probe chains intact, no tombstones). */
static void set_remove(struct obfs4_replay *f, uint64_t d)
{
    size_t mask = f->setcap - 1, i = slot_of(f, d);
    while (f->set[i] != d) {
        if (f->set[i] == 0)
            return;
        i = (i + 1) & mask;
    }
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (f->set[j] == 0)
            break;
        size_t k = slot_of(f, f->set[j]);
        /* move set[j] into the hole at i unless its home k lies cyclically in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            f->set[i] = f->set[j];
            i = j;
        }
    }
    f->set[i] = 0;
}

static bool grow(struct obfs4_replay *f)
{
    if (f->count + 1 > f->cap) {
        size_t ncap = f->cap ? 2 * f->cap : 64;
        struct entry *nr = malloc(ncap * sizeof(*nr));
        if (!nr)
            return false;
        for (size_t i = 0; i < f->count; i++)
            nr[i] = f->ring[(f->head + i) % f->cap];
        free(f->ring);
        f->ring = nr;
        f->cap = ncap;
        f->head = 0;
    }
    if (2 * (f->count + 1) > f->setcap) {
        size_t ncap = f->setcap ? 2 * f->setcap : 128;
        uint64_t *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return false;
        free(f->set);
        f->set = ns;
        f->setcap = ncap;
        for (size_t i = 0; i < f->count; i++)
            set_insert(f, f->ring[(f->head + i) % f->cap].digest);
    }
    return true;
}

static void pop_oldest(struct obfs4_replay *f)
{
    set_remove(f, f->ring[f->head].digest);
    f->head = (f->head + 1) % f->cap;
    f->count--;
}

static void reset(struct obfs4_replay *f)
{
    f->head = f->count = 0;
    if (f->set)
        memset(f->set, 0, f->setcap * sizeof(*f->set));
}

bool obfs4_replay_test_and_set(struct obfs4_replay *f, int64_t now, const uint8_t *buf,
                               size_t len)
{
    uint64_t d = ptk_siphash24(f->key, buf, len);
    if (d == 0)
        d = 1;
    pthread_mutex_lock(&f->mu);
    /* Expire: entries older than the TTL, and the oldest beyond capacity. */
    while (f->count > 0) {
        int64_t age = now - f->ring[f->head].seen;
        if (age < 0) {
            reset(f); /* the clock went backwards: start over, as obfs4proxy does */
            break;
        }
        if (f->count < f->max && age < f->ttl)
            break;
        pop_oldest(f);
    }
    bool seen = set_has(f, d);
    if (!seen && grow(f)) {
        f->ring[(f->head + f->count) % f->cap] = (struct entry){d, now};
        f->count++;
        set_insert(f, d);
    }
    pthread_mutex_unlock(&f->mu);
    return seen;
}

size_t obfs4_replay_count(struct obfs4_replay *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->count;
    pthread_mutex_unlock(&f->mu);
    return n;
}
