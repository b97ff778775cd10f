/*
 * Unit tests: AES-CTR (crypto/aes_ctr.h) against known answers with a
 * 128-bit big-endian counter (tests/vectors/aes_ctr.txt, counter arithmetic
 * done in Python): carries out of the low 64 bits, the wrap at 2^128,
 * streaming in odd pieces, in place, and rekeying a live context.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../vectors/vectors.h"
#include "crypto/aes_ctr.h"
#include "ptkit/error.h"

#define V "aes_ctr.txt"
#define MSG_LEN 100

static void load(const char *name, uint8_t *out, size_t n)
{
    assert_int_equal(vec_hex(V, name, out, n), 0);
}

static void check(const char *ivname, const char *ctname)
{
    uint8_t key[16], iv[16], msg[MSG_LEN], want[MSG_LEN], out[MSG_LEN];
    load("key", key, 16);
    load("msg", msg, MSG_LEN);
    load(ivname, iv, 16);
    load(ctname, want, MSG_LEN);

    struct ptk_aes_ctr c = PTK_AES_CTR_INIT;
    assert_int_equal(ptk_aes_ctr_init(&c, key, 16, iv), PTK_OK);
    assert_int_equal(ptk_aes_ctr_xor(&c, out, msg, MSG_LEN), PTK_OK);
    assert_memory_equal(out, want, MSG_LEN);

    /* rekey the same context; stream in odd pieces, in place */
    assert_int_equal(ptk_aes_ctr_init(&c, key, 16, iv), PTK_OK);
    memcpy(out, msg, MSG_LEN);
    size_t off = 0, step = 1;
    while (off < MSG_LEN) {
        size_t n = MSG_LEN - off < step ? MSG_LEN - off : step;
        assert_int_equal(ptk_aes_ctr_xor(&c, out + off, out + off, n), PTK_OK);
        off += n;
        step = step * 3 % 17 + 1;
    }
    assert_memory_equal(out, want, MSG_LEN);
    ptk_aes_ctr_free(&c);
    assert_false(ptk_aes_ctr_keyed(&c));
}

static void test_counter_plain(void **st)
{
    (void)st;
    check("iv_plain", "ct_plain");
}

static void test_counter_carry_64(void **st)
{
    (void)st;
    check("iv_low64_ones", "ct_low64_ones");
}

static void test_counter_wrap_128(void **st)
{
    (void)st;
    check("iv_all_ones", "ct_all_ones");
}

static void test_errors(void **st)
{
    (void)st;
    uint8_t key[32] = {0}, iv[16] = {0}, b[4] = {0};
    struct ptk_aes_ctr c = PTK_AES_CTR_INIT;
    assert_int_equal(ptk_aes_ctr_xor(&c, b, b, sizeof(b)), PTK_ESTATE);
    assert_int_equal(ptk_aes_ctr_init(&c, key, 24, iv), PTK_EINVAL);
    assert_false(ptk_aes_ctr_keyed(&c));
    assert_int_equal(ptk_aes_ctr_init(&c, key, 32, iv), PTK_OK);
    assert_true(ptk_aes_ctr_keyed(&c));
    assert_int_equal(ptk_aes_ctr_xor(&c, b, b, 0), PTK_OK);
    ptk_aes_ctr_free(&c);
    ptk_aes_ctr_free(&c); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_plain),
        cmocka_unit_test(test_counter_carry_64),
        cmocka_unit_test(test_counter_wrap_128),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
