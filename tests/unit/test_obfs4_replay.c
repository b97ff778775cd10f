/*
 * Unit tests: obfs4's replay filter (transport/obfs4_replay.c), against
 * obfs4proxy's common/replayfilter semantics: an entry lives while
 * now - first_seen < ttl, the oldest goes first once `max` are held, and a
 * clock that goes backwards empties the filter. A randomized run compares
 * every answer with a naive FIFO array, with many expiries and evictions (the
 * hash set's backward-shift deletions) and keys that come back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include "transport/obfs4_replay.h"

/* A 16-byte "MAC" derived from a small integer id. */
static void mac_of(uint32_t id, uint8_t out[16])
{
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)(id >> (8 * (i % 4))) ^ (uint8_t)(i * 37);
}

static bool tas(struct obfs4_replay *f, int64_t now, uint32_t id)
{
    uint8_t m[16];
    mac_of(id, m);
    return obfs4_replay_test_and_set(f, now, m, sizeof(m));
}

static void test_test_and_set(void **st)
{
    (void)st;
    struct obfs4_replay *f = obfs4_replay_new(3 * 3600, 100 * 1024);
    assert_non_null(f);
    assert_int_equal(obfs4_replay_count(f), 0);
    assert_false(tas(f, 1000, 1));
    assert_true(tas(f, 1000, 1));
    assert_true(tas(f, 1001, 1));
    assert_false(tas(f, 1001, 2));
    assert_true(tas(f, 1002, 2));
    assert_int_equal(obfs4_replay_count(f), 2);
    /* one differing byte is another entry; lengths matter; empty input works */
    uint8_t m[16];
    mac_of(1, m);
    m[15] ^= 1;
    assert_false(obfs4_replay_test_and_set(f, 1003, m, 16));
    assert_true(obfs4_replay_test_and_set(f, 1003, m, 16));
    assert_false(obfs4_replay_test_and_set(f, 1003, m, 15));
    assert_false(obfs4_replay_test_and_set(f, 1003, m, 0));
    assert_true(obfs4_replay_test_and_set(f, 1003, m, 0));
    assert_int_equal(obfs4_replay_count(f), 5);
    /* many distinct entries, all remembered (the tables grow) */
    for (uint32_t id = 100; id < 5100; id++)
        assert_false(tas(f, 1004, id));
    for (uint32_t id = 100; id < 5100; id++)
        assert_true(tas(f, 1005, id));
    assert_int_equal(obfs4_replay_count(f), 5005);
    obfs4_replay_free(f);
    obfs4_replay_free(NULL);
}

static void test_ttl(void **st)
{
    (void)st;
    const int64_t ttl = 3 * 3600;
    struct obfs4_replay *f = obfs4_replay_new(ttl, 1000);
    assert_false(tas(f, 0, 7));
    assert_true(tas(f, ttl - 1, 7)); /* a hit does not refresh the entry */
    assert_false(tas(f, ttl, 7));    /* age == ttl: gone, and recorded anew */
    assert_int_equal(obfs4_replay_count(f), 1);
    assert_true(tas(f, 2 * ttl - 1, 7));
    assert_false(tas(f, 2 * ttl, 7));

    /* expiry is oldest first: entries seen at t0+0..9, looked at t0+ttl+4 */
    struct obfs4_replay *g = obfs4_replay_new(ttl, 1000);
    const int64_t t0 = 1700000000;
    for (uint32_t i = 0; i < 10; i++)
        assert_false(tas(g, t0 + i, i));
    assert_false(tas(g, t0 + ttl + 4, 1000));
    assert_int_equal(obfs4_replay_count(g), 5 + 1);
    for (uint32_t i = 5; i < 10; i++)
        assert_true(tas(g, t0 + ttl + 4, i));
    assert_false(tas(g, t0 + ttl + 4, 4));
    /* everything expires */
    assert_false(tas(g, t0 + 10 * ttl, 2000));
    assert_int_equal(obfs4_replay_count(g), 1);
    obfs4_replay_free(g);
    obfs4_replay_free(f);
}

static void test_capacity(void **st)
{
    (void)st;
    /* as obfs4proxy: each call first drops the oldest entries while `max` are held */
    struct obfs4_replay *f = obfs4_replay_new(3600, 8);
    for (uint32_t i = 1; i <= 8; i++)
        assert_false(tas(f, 10, i));
    assert_int_equal(obfs4_replay_count(f), 8);
    assert_false(tas(f, 10, 9)); /* drops 1, records 9 */
    assert_int_equal(obfs4_replay_count(f), 8);
    assert_true(tas(f, 10, 9)); /* drops 2, finds 9 */
    assert_int_equal(obfs4_replay_count(f), 7);
    for (uint32_t i = 3; i <= 9; i++)
        assert_true(tas(f, 10, i)); /* 7 held: nothing dropped */
    assert_false(tas(f, 10, 2));
    assert_int_equal(obfs4_replay_count(f), 8);
    assert_false(tas(f, 10, 1)); /* drops 3 */
    assert_true(tas(f, 10, 2));  /* drops 4 */
    assert_true(tas(f, 10, 5));
    assert_int_equal(obfs4_replay_count(f), 7);
    obfs4_replay_free(f);

    /* a capacity of one holds the last entry between calls but never reports it */
    f = obfs4_replay_new(3600, 1);
    assert_false(tas(f, 1, 1));
    assert_int_equal(obfs4_replay_count(f), 1);
    assert_false(tas(f, 1, 1));
    assert_false(tas(f, 1, 2));
    assert_int_equal(obfs4_replay_count(f), 1);
    obfs4_replay_free(f);

    /* the production size: 102400 entries, then the oldest go */
    f = obfs4_replay_new(3 * 3600, 100 * 1024);
    for (uint32_t i = 0; i < 100 * 1024; i++)
        assert_false(tas(f, 5, i));
    assert_int_equal(obfs4_replay_count(f), 100 * 1024);
    assert_false(tas(f, 6, 1u << 30));
    assert_int_equal(obfs4_replay_count(f), 100 * 1024);
    assert_false(tas(f, 6, 0)); /* dropped by the insert above */
    obfs4_replay_free(f);
}

static void test_clock_backwards(void **st)
{
    (void)st;
    struct obfs4_replay *f = obfs4_replay_new(3600, 100);
    for (uint32_t i = 0; i < 20; i++)
        assert_false(tas(f, 100, i));
    assert_true(tas(f, 100, 3));
    /* the clock steps back: everything is forgotten, then filled again */
    assert_false(tas(f, 99, 3));
    assert_int_equal(obfs4_replay_count(f), 1);
    assert_false(tas(f, 99, 4));
    assert_true(tas(f, 99, 3));
    assert_true(tas(f, 100, 4));
    assert_int_equal(obfs4_replay_count(f), 2);
    obfs4_replay_free(f);
}

/* ---------- randomized comparison with a naive model ---------- */

struct ref_entry {
    uint32_t id;
    int64_t seen;
};

struct ref {
    struct ref_entry *e; /* FIFO: e[0] oldest */
    size_t n;
    int64_t ttl;
    size_t max;
};

/* obfs4proxy's TestAndSet, literally: compact from the front, then look up. */
static bool ref_tas(struct ref *r, int64_t now, uint32_t id)
{
    while (r->n > 0) {
        if (r->n < r->max) {
            int64_t age = now - r->e[0].seen;
            if (age < 0) {
                r->n = 0;
                break;
            }
            if (age < r->ttl)
                break;
        }
        memmove(r->e, r->e + 1, (r->n - 1) * sizeof(*r->e));
        r->n--;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i].id == id)
            return true;
    r->e[r->n++] = (struct ref_entry){id, now};
    return false;
}

static uint64_t lcg_state = 88172645463325252ULL;

static uint32_t next_u32(void)
{
    lcg_state ^= lcg_state << 13;
    lcg_state ^= lcg_state >> 7;
    lcg_state ^= lcg_state << 17;
    return (uint32_t)(lcg_state >> 16);
}

/* ops random calls; the clock moves on one call in ten, by up to ttl / step_div. */
static void compare_run(size_t max, int64_t ttl, uint32_t universe, int ops, int step_div)
{
    struct obfs4_replay *f = obfs4_replay_new(ttl, max);
    struct ref r = {calloc(max + 1, sizeof(struct ref_entry)), 0, ttl, max};
    assert_non_null(f);
    assert_non_null(r.e);
    int64_t now = 1000000;
    size_t hits = 0, expiries_seen = 0;
    for (int i = 0; i < ops; i++) {
        uint32_t k = next_u32() % 100;
        if (k < 10)
            now += next_u32() % (uint32_t)(ttl / step_div + 1);
        else if (k == 10 && next_u32() % 20 == 0)
            now -= 1 + next_u32() % (uint32_t)ttl; /* rare: the clock steps back */
        uint32_t id = next_u32() % universe;
        size_t before = r.n;
        bool want = ref_tas(&r, now, id);
        bool got = tas(f, now, id);
        if (got != want)
            fail_msg("op %d (max %zu ttl %lld): id %u at %lld: got %d, want %d", i, max,
                     (long long)ttl, id, (long long)now, got, want);
        assert_int_equal(obfs4_replay_count(f), r.n);
        hits += want;
        if (r.n < before + !want)
            expiries_seen++;
    }
    /* the run exercised both answers and many removals */
    if (max > 2)
        assert_true(hits > (size_t)ops / 20);
    assert_true(expiries_seen > (size_t)ops / 20);
    /* finally a sweep over every id, present or not */
    for (uint32_t id = 0; id < universe; id++) {
        bool want = ref_tas(&r, now, id);
        if (tas(f, now, id) != want)
            fail_msg("sweep (max %zu): id %u: want %d", max, id, want);
    }
    free(r.e);
    obfs4_replay_free(f);
}

static void test_against_reference(void **st)
{
    (void)st;
    compare_run(1, 50, 4, 3000, 8);
    compare_run(2, 50, 6, 3000, 8);
    compare_run(7, 100, 20, 20000, 8);
    compare_run(50, 100, 120, 50000, 8);
    compare_run(63, 100, 150, 50000, 8);
    compare_run(64, 1000, 200, 50000, 8);
    compare_run(65, 30, 200, 50000, 8);
    compare_run(500, 2000, 1500, 100000, 400);
    compare_run(3000, 4000, 5000, 200000, 1000);
}

/* ---------- several threads on one filter ---------- */

struct worker {
    struct obfs4_replay *f;
    uint32_t base;
    int bad;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (uint32_t i = 0; i < 5000; i++)
        w->bad += tas(w->f, 50, w->base + i);
    for (uint32_t i = 0; i < 5000; i++)
        w->bad += !tas(w->f, 51, w->base + i);
    return NULL;
}

static void test_threads(void **st)
{
    (void)st;
    struct obfs4_replay *f = obfs4_replay_new(3600, 100 * 1024);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){f, (uint32_t)i * 1000000u, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
    assert_int_equal(obfs4_replay_count(f), 20000);
    obfs4_replay_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_test_and_set),      cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_capacity),          cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_against_reference), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("obfs4_replay", tests, NULL, NULL);
}
