/* Unit tests: k=v encodings (proto/args.c), with goptlib's and tor's examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ptkit/args.h"
#include "ptkit/error.h"

static void expect_pairs(const char *in, int nexp, const char *const *exp)
{
    struct ptk_kvlist l = PTK_KVLIST_INIT;
    const char *why = NULL;
    assert_int_equal(ptk_args_parse(in, strlen(in), &l, &why), PTK_OK);
    assert_int_equal((int)l.n, nexp);
    for (int i = 0; i < nexp; i++) {
        assert_string_equal(l.items[i].key, exp[2 * i]);
        assert_string_equal(l.items[i].value, exp[2 * i + 1]);
    }
    ptk_kvlist_free(&l);
}

static void expect_bad(const char *in)
{
    struct ptk_kvlist l = PTK_KVLIST_INIT;
    const char *why = NULL;
    assert_int_equal(ptk_args_parse(in, strlen(in), &l, &why), PTK_EINVAL);
    assert_non_null(why);
    ptk_kvlist_free(&l);
}

static void test_client_args_good(void **st)
{
    (void)st;
    expect_pairs("", 0, NULL);
    expect_pairs("key=", 1, (const char *[]){"key", ""});
    expect_pairs("key=value", 1, (const char *[]){"key", "value"});
    expect_pairs("key=value=", 1, (const char *[]){"key", "value="});
    expect_pairs("key=vu=e", 1, (const char *[]){"key", "vu=e"});
    expect_pairs("key==", 1, (const char *[]){"key", "="});
    expect_pairs("a=bc==", 1, (const char *[]){"a", "bc=="});
    expect_pairs("key=a\nb", 1, (const char *[]){"key", "a\nb"});
    expect_pairs("key=value\\;", 1, (const char *[]){"key", "value;"});
    expect_pairs("\"key=value\"", 1, (const char *[]){"\"key", "value\""});
    expect_pairs("\\;=\\;;\\\\=\\;", 2, (const char *[]){";", ";", "\\", ";"});
}

static void test_client_args_more(void **st)
{
    (void)st;
    expect_pairs("a=b;c=d", 2, (const char *[]){"a", "b", "c", "d"});
    expect_pairs("a=b;a=c", 2, (const char *[]){"a", "b", "a", "c"});
    expect_pairs("k\\=y=v\\;a\\\\l", 1, (const char *[]){"k=y", "v;a\\l"});
    expect_pairs("\\k=\\v", 1, (const char *[]){"k", "v"});
    expect_pairs("cert=AAEC+/xyz;iat-mode=0", 2,
                 (const char *[]){"cert", "AAEC+/xyz", "iat-mode", "0"});
}

static void test_client_args_bad(void **st)
{
    (void)st;
    /* goptlib's TestParseClientParameters bad cases */
    const char *bad[] = {"key", "key\\", "=value", "==value", "==key=value", "key=value\\",
                         "a=b;key=value\\", "a;b=c", ";", "key=value;", ";key=value",
                         "key\\=value"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(bad[i]);
    expect_bad("=value");
    expect_bad("key=value\\");
    expect_bad("a=b;;c=d");
    expect_bad(";");
    expect_bad("a=b;c");
    /* a NUL byte is neither a separator nor allowed inside a key or value */
    struct ptk_kvlist l = PTK_KVLIST_INIT;
    assert_int_equal(ptk_args_parse("a=b\0c=d", 7, &l, NULL), PTK_EINVAL);
    ptk_kvlist_free(&l);
    assert_int_equal(ptk_args_parse("a\0=b", 4, &l, NULL), PTK_EINVAL);
    ptk_kvlist_free(&l);
}

static void test_client_args_roundtrip(void **st)
{
    (void)st;
    struct ptk_kvlist l = PTK_KVLIST_INIT, back = PTK_KVLIST_INIT;
    struct ptk_buf b;
    const char *s;
    ptk_buf_init(&b, 4096);
    assert_int_equal(ptk_kvlist_add(&l, "k=;\\", 4, "v;=\\x", 5), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&l, "shared-secret", 13, "abc", 3), PTK_OK);
    assert_int_equal(ptk_args_encode(&l, &b), PTK_OK);
    assert_int_equal(ptk_buf_cstr(&b, &s), PTK_OK);
    assert_string_equal(s, "k\\=\\;\\\\=v\\;=\\\\x;shared-secret=abc");
    assert_int_equal(ptk_args_parse(s, strlen(s), &back, NULL), PTK_OK);
    assert_int_equal((int)back.n, 2);
    assert_string_equal(back.items[0].key, "k=;\\");
    assert_string_equal(back.items[0].value, "v;=\\x");
    ptk_kvlist_free(&l);
    ptk_kvlist_free(&back);
    ptk_buf_free(&b);
}

static void test_smethod_args(void **st)
{
    (void)st;
    struct ptk_kvlist l = PTK_KVLIST_INIT, back = PTK_KVLIST_INIT;
    struct ptk_buf b;
    const char *s;
    ptk_buf_init(&b, 4096);
    /* goptlib's TestEncodeSmethodArgs case */
    assert_int_equal(ptk_kvlist_add(&l, "=,\\", 3, "=,\\", 3), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&l, "cert", 4, "abc", 3), PTK_OK);
    assert_int_equal(ptk_smethod_args_encode(&l, &b), PTK_OK);
    assert_int_equal(ptk_buf_cstr(&b, &s), PTK_OK);
    assert_string_equal(s, "\\=\\,\\\\=\\=\\,\\\\,cert=abc");
    assert_int_equal(ptk_smethod_args_parse(s, strlen(s), &back, NULL), PTK_OK);
    assert_int_equal((int)back.n, 2);
    assert_string_equal(back.items[0].key, "=,\\");
    assert_string_equal(back.items[0].value, "=,\\");
    ptk_kvlist_free(&l);
    ptk_kvlist_free(&back);
    ptk_buf_free(&b);
}

static void test_server_options(void **st)
{
    (void)st;
    /* the example of reference/tor-side.md */
    const char *in = "foo:a=b\\:c\\;d\\\\e;foo:x=y=z;barbaz:k=v";
    struct ptk_options_list o = {0};
    const char *why = NULL;
    assert_int_equal(ptk_server_options_parse(in, strlen(in), &o, &why), PTK_OK);
    assert_int_equal((int)o.n, 2);
    const struct ptk_kvlist *foo = ptk_server_options_get(&o, "foo");
    assert_non_null(foo);
    assert_int_equal((int)foo->n, 2);
    assert_string_equal(ptk_kvlist_get(foo, "a"), "b:c;d\\e");
    assert_string_equal(ptk_kvlist_get(foo, "x"), "y=z");
    assert_string_equal(ptk_kvlist_get(ptk_server_options_get(&o, "barbaz"), "k"), "v");
    assert_null(ptk_server_options_get(&o, "nope"));

    struct ptk_buf b;
    const char *s;
    ptk_buf_init(&b, 4096);
    assert_int_equal(ptk_server_options_encode("foo", foo, &b), PTK_OK);
    assert_int_equal(ptk_buf_cstr(&b, &s), PTK_OK);
    assert_string_equal(s, "foo:a=b\\:c\\;d\\\\e;foo:x=y=z");
    ptk_buf_free(&b);
    ptk_server_options_free(&o);

    const char *bad[] = {"foo", "foo:", "foo:k", ":k=v", "foo:=v", "foo:k=v;", "foo:k=v\\",
                         "t:k=v;bar"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ptk_options_list x = {0};
        assert_int_equal(ptk_server_options_parse(bad[i], strlen(bad[i]), &x, &why), PTK_EINVAL);
        ptk_server_options_free(&x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_args_good),     cmocka_unit_test(test_client_args_more),
        cmocka_unit_test(test_client_args_bad),      cmocka_unit_test(test_client_args_roundtrip),
        cmocka_unit_test(test_smethod_args),         cmocka_unit_test(test_server_options),
    };
    return cmocka_run_group_tests_name("args", tests, NULL, NULL);
}
