/*
 * Unit tests: the torrc-subset tokenizer (proto/torrc.c). Expected results
 * follow tor's parse_config_line_from_str_verbose() (src/lib/encoding/
 * confline.c and its tests in test_util.c) wherever the two syntaxes overlap:
 * comments, continuation lines, C escapes in double quotes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/torrc.h"
#include "ptkit/error.h"

static struct ptk_torrc parse_ok_n(const char *text, size_t len)
{
    struct ptk_torrc t;
    char err[256] = "";
    int r = ptk_torrc_parse(text, len, &t, err, sizeof(err));
    if (r != PTK_OK)
        fail_msg("parse failed (%d): %s\n--- input ---\n%s", r, err, text);
    return t;
}

static struct ptk_torrc parse_ok(const char *text)
{
    return parse_ok_n(text, strlen(text));
}

/* Check line i: key, line number and arguments (NULL-terminated list). */
static void expect_line(const struct ptk_torrc *t, size_t i, const char *key, unsigned lineno,
                        const char *const *args)
{
    assert_true(i < t->n);
    const struct ptk_torrc_line *l = &t->lines[i];
    assert_string_equal(l->key, key);
    assert_int_equal(l->lineno, lineno);
    size_t n = 0;
    while (args && args[n])
        n++;
    if (l->nargs != n) {
        fail_msg("line %zu (%s): %zu args, expected %zu%s%s", i, key, l->nargs, n,
                 l->nargs ? "; first: " : "", l->nargs ? l->args[0] : "");
    }
    for (size_t k = 0; k < n; k++)
        assert_string_equal(l->args[k], args[k]);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOARGS ((const char *const *)NULL)

/* Parse must fail; err must hold "line N:" and the given fragment. */
static void expect_bad_n(const char *text, size_t len, unsigned line, const char *frag)
{
    struct ptk_torrc t;
    char err[256] = "";
    assert_int_equal(ptk_torrc_parse(text, len, &t, err, sizeof(err)), PTK_EINVAL);
    char want[32];
    snprintf(want, sizeof(want), "line %u:", line);
    if (!strstr(err, want) || (frag && !strstr(err, frag)))
        fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err, want, frag ? frag : "");
    ptk_torrc_free(&t);
    assert_null(t.lines);
    assert_int_equal((int)t.n, 0);
}

static void expect_bad(const char *text, unsigned line, const char *frag)
{
    expect_bad_n(text, strlen(text), line, frag);
}

static void test_basic(void **st)
{
    (void)st;
    struct ptk_torrc t = parse_ok("DataDirectory /var/lib/ptkit\n"
                                  "  Bridge\tobfs4 1.2.3.4:443   cert=abc iat-mode=0  \n"
                                  "Key\n"
                                  "last-line-without-newline a");
    assert_int_equal((int)t.n, 4);
    expect_line(&t, 0, "DataDirectory", 1, ARGS("/var/lib/ptkit"));
    expect_line(&t, 1, "Bridge", 2, ARGS("obfs4", "1.2.3.4:443", "cert=abc", "iat-mode=0"));
    expect_line(&t, 2, "Key", 3, NOARGS);
    expect_line(&t, 3, "last-line-without-newline", 4, ARGS("a"));
    ptk_torrc_free(&t);
    assert_null(t.lines);

    t = parse_ok("");
    assert_int_equal((int)t.n, 0);
    ptk_torrc_free(&t);
    t = parse_ok("\n\n   \n\t\n");
    assert_int_equal((int)t.n, 0);
    ptk_torrc_free(&t);
}

static void test_crlf(void **st)
{
    (void)st;
    /* tor's test_util_config_line_crlf */
    struct ptk_torrc t = parse_ok("Hello world\r\nHello \"nice big world\"\r\n\r\nX y\r\n");
    assert_int_equal((int)t.n, 3);
    expect_line(&t, 0, "Hello", 1, ARGS("world"));
    expect_line(&t, 1, "Hello", 2, ARGS("nice big world"));
    expect_line(&t, 2, "X", 4, ARGS("y"));
    ptk_torrc_free(&t);
}

static void test_comments(void **st)
{
    (void)st;
    struct ptk_torrc t = parse_ok("# a comment\n"
                                  "   # an indented comment\n"
                                  "k1 \"# in quotes\"\n"
                                  "k2 some value    # some comment\n"
                                  "k3 /home/user/myTorNetwork#2\n"
                                  "k4#a\n"
                                  "k5 \"quoted\"# right after the quote\n"
                                  "#\n"
                                  "k6 a \"b # c\" d # e \"f\n");
    assert_int_equal((int)t.n, 6);
    expect_line(&t, 0, "k1", 3, ARGS("# in quotes"));
    expect_line(&t, 1, "k2", 4, ARGS("some", "value"));
    /* as tor: '#' starts a comment even inside a word */
    expect_line(&t, 2, "k3", 5, ARGS("/home/user/myTorNetwork"));
    expect_line(&t, 3, "k4", 6, NOARGS);
    expect_line(&t, 4, "k5", 7, ARGS("quoted"));
    expect_line(&t, 5, "k6", 9, ARGS("a", "b # c", "d"));
    ptk_torrc_free(&t);
}

static void test_quotes(void **st)
{
    (void)st;
    /* tor's test_util_config_line_escaped_content, one argument each */
    struct ptk_torrc t =
        parse_ok("HexadecimalLower \"\\x2a\"\n"
                 "HexadecimalUpper \"\\x2A\"\n"
                 "HexadecimalUpperX \"\\X2A\"\n"
                 "Octal \"\\52\"\n"
                 "Newline \"\\n\"\n"
                 "Tab \"\\t\"\n"
                 "CarriageReturn \"\\r\"\n"
                 "DoubleQuote \"\\\"\"\n"
                 "SimpleQuote \"\\'\"\n"
                 "Backslash \"\\\\\"\n"
                 "Mix \"This is a \\\"star\\\":\\t\\'\\x2a\\'\\nAnd second line\"\n"
                 "k8 \"a \\x71uoted\\n\\\"str\\\\ing\\t\\001\\01\\1\\\"\"\n"
                 "Empty \"\" x\n"
                 "Several \"a b\" c \"d\"\n"
                 "Inner a\"b\"c\n");
    assert_int_equal((int)t.n, 15);
    expect_line(&t, 0, "HexadecimalLower", 1, ARGS("*"));
    expect_line(&t, 1, "HexadecimalUpper", 2, ARGS("*"));
    expect_line(&t, 2, "HexadecimalUpperX", 3, ARGS("*"));
    expect_line(&t, 3, "Octal", 4, ARGS("*"));
    expect_line(&t, 4, "Newline", 5, ARGS("\n"));
    expect_line(&t, 5, "Tab", 6, ARGS("\t"));
    expect_line(&t, 6, "CarriageReturn", 7, ARGS("\r"));
    expect_line(&t, 7, "DoubleQuote", 8, ARGS("\""));
    expect_line(&t, 8, "SimpleQuote", 9, ARGS("'"));
    expect_line(&t, 9, "Backslash", 10, ARGS("\\"));
    expect_line(&t, 10, "Mix", 11, ARGS("This is a \"star\":\t'*'\nAnd second line"));
    expect_line(&t, 11, "k8", 12, ARGS("a quoted\n\"str\\ing\t\x01\x01\x01\""));
    expect_line(&t, 12, "Empty", 13, ARGS("", "x"));
    expect_line(&t, 13, "Several", 14, ARGS("a b", "c", "d"));
    /* a quote inside a word is an ordinary character */
    expect_line(&t, 14, "Inner", 15, ARGS("a\"b\"c"));
    ptk_torrc_free(&t);
}

static void test_quotes_bad(void **st)
{
    (void)st;
    expect_bad("BrokenEscapedContent \"\\a\"\n", 1, "quoted");
    expect_bad("BrokenEscapedContent \"\\x\"\n", 1, "quoted");
    expect_bad("BrokenOctal \"\\8\"\n", 1, "quoted");
    expect_bad("BrokenHex \"\\xg4\"\n", 1, "quoted");
    expect_bad("Foo \"\\x9g\"\n", 1, "quoted");
    expect_bad("Foo \"\\xf\"\n", 1, "quoted");
    expect_bad("Foo \"\\q\"\n", 1, "quoted");
    expect_bad("Foo \"\\400\"\n", 1, "quoted");
    expect_bad("ok 1\n\nFoo \"hello\nworld\"\n", 3, "quoted"); /* missing end quote */
    expect_bad("BrokenEscape \"\\", 1, "quoted");
}

static void test_quotes_bad_trailing(void **st)
{
    (void)st;
    /* text glued to a closing quote is an error (tor: "Excess data after quoted string") */
    expect_bad("kTrailingGarbage \"quoted value\"trailing garbage\n", 1, "quote");
    expect_bad("a b\nk \"x\"y\n", 2, "quote");
    /* an escaped NUL would silently cut the argument short */
    expect_bad("k \"a\\x00b\"\n", 1, NULL);
    expect_bad("k \"a\\000b\"\n", 1, NULL);
    expect_bad("k \"a\\0\"\n", 1, NULL);
}

static void test_nul_byte(void **st)
{
    (void)st;
    expect_bad_n("a b\0c\n", 6, 1, "NUL");
    expect_bad_n("a b\nc d\n\0", 9, 3, "NUL");
    expect_bad_n("a b\n# comment \0 here\n", 22, 2, "NUL");
    expect_bad_n("\0", 1, 1, "NUL");
}

static void test_continuation(void **st)
{
    (void)st;
    /* tor's test_util_config_line, k9..k17 */
    struct ptk_torrc t = parse_ok("k9 a line that\\\n spans two lines.\n\n"
                                  "k10 more than\\\n one contin\\\nuation\n"
                                  "k11  \\\ncontinuation at the start\n"
                                  "k12 line with a\\\n#comment\n embedded\n"
                                  "k13\\\n continuation at the very start\n"
                                  "k14 a line that has a comment and # ends with a slash \\\n"
                                  "k15 this should be the next new line\n"
                                  "k16 a line that has a comment and # ends without a slash \n"
                                  "k17 this should be the next new line\n");
    assert_int_equal((int)t.n, 9);
    expect_line(&t, 0, "k9", 1, ARGS("a", "line", "that", "spans", "two", "lines."));
    expect_line(&t, 1, "k10", 4, ARGS("more", "than", "one", "continuation"));
    expect_line(&t, 2, "k11", 7, ARGS("continuation", "at", "the", "start"));
    expect_line(&t, 3, "k12", 9, ARGS("line", "with", "a", "embedded"));
    expect_line(&t, 4, "k13", 12, ARGS("continuation", "at", "the", "very", "start"));
    expect_line(&t, 5, "k14", 14, ARGS("a", "line", "that", "has", "a", "comment", "and"));
    expect_line(&t, 6, "k15", 15, ARGS("this", "should", "be", "the", "next", "new", "line"));
    expect_line(&t, 7, "k16", 16, ARGS("a", "line", "that", "has", "a", "comment", "and"));
    expect_line(&t, 8, "k17", 17, ARGS("this", "should", "be", "the", "next", "new", "line"));
    ptk_torrc_free(&t);
}

static void test_continuation_more(void **st)
{
    (void)st;
    /* a long option split over lines keeps its arguments, and line numbers stay right */
    struct ptk_torrc t = parse_ok("ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy \\\n"
                                  "    -enableLogging \\\n"
                                  "    -logLevel DEBUG\n"
                                  "Next x\n"
                                  "# a commented-out option that ends with a backslash \\\n"
                                  "After y\n"
                                  "Cert cert=AAAA\\\nBBBB\n"
                                  "Last \\");
    assert_int_equal((int)t.n, 5);
    expect_line(
        &t, 0, "ClientTransportPlugin", 1,
        ARGS("obfs4", "exec", "/usr/bin/obfs4proxy", "-enableLogging", "-logLevel", "DEBUG"));
    expect_line(&t, 1, "Next", 4, ARGS("x"));
    expect_line(&t, 2, "After", 6, ARGS("y"));
    expect_line(&t, 3, "Cert", 7, ARGS("cert=AAAABBBB"));
    expect_line(&t, 4, "Last", 9, NOARGS);
    ptk_torrc_free(&t);

    /* commenting out one line of a continued option */
    t = parse_ok("ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy \\\n"
                 "#    -enableLogging \\\n"
                 "    -logLevel DEBUG\n"
                 "X 1\n");
    assert_int_equal((int)t.n, 2);
    expect_line(&t, 0, "ClientTransportPlugin", 1,
                ARGS("obfs4", "exec", "/usr/bin/obfs4proxy", "-logLevel", "DEBUG"));
    expect_line(&t, 1, "X", 4, ARGS("1"));
    ptk_torrc_free(&t);

    /* a blank line ends a continuation */
    t = parse_ok("A 1 \\\n\nB 2\n");
    assert_int_equal((int)t.n, 2);
    expect_line(&t, 0, "A", 1, ARGS("1"));
    expect_line(&t, 1, "B", 3, ARGS("2"));
    ptk_torrc_free(&t);

    /* the file ends right after a continuation */
    t = parse_ok("A 1 \\\n");
    assert_int_equal((int)t.n, 1);
    expect_line(&t, 0, "A", 1, ARGS("1"));
    ptk_torrc_free(&t);

    /* a quoted '#' on a continued line is no comment */
    t = parse_ok("A 1 \\\n \"# 2\" \\\n 3\nB\n");
    assert_int_equal((int)t.n, 2);
    expect_line(&t, 0, "A", 1, ARGS("1", "# 2", "3"));
    expect_line(&t, 1, "B", 4, NOARGS);
    ptk_torrc_free(&t);

    /* tor's quirk, kept: inside a continued option a comment also eats its newline */
    t = parse_ok("A 1 \\\n 2 # c\n B 3\nC\n");
    assert_int_equal((int)t.n, 2);
    expect_line(&t, 0, "A", 1, ARGS("1", "2", "B", "3"));
    expect_line(&t, 1, "C", 4, NOARGS);
    ptk_torrc_free(&t);

    /* an error after a continuation names the right line */
    expect_bad("A 1 \\\n 2\nB \"unterminated\n", 3, "quoted");
    expect_bad("A 1 \\\n \"x\"y\n", 1, "quote");
}

static void test_join(void **st)
{
    (void)st;
    struct ptk_torrc t = parse_ok("K a \"b c\" d\nE\n");
    char *s = ptk_torrc_join(&t.lines[0], 0);
    assert_string_equal(s, "a b c d");
    free(s);
    s = ptk_torrc_join(&t.lines[0], 1);
    assert_string_equal(s, "b c d");
    free(s);
    s = ptk_torrc_join(&t.lines[0], 3);
    assert_string_equal(s, "");
    free(s);
    s = ptk_torrc_join(&t.lines[1], 0);
    assert_string_equal(s, "");
    free(s);
    ptk_torrc_free(&t);
}

static void test_many_lines(void **st)
{
    (void)st;
    /* realloc paths: many lines with many arguments */
    size_t cap = 200000, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(text + len, cap - len, "Key%d a b c d e f g h i j\n", i);
    struct ptk_torrc t = parse_ok_n(text, len);
    assert_int_equal((int)t.n, 2000);
    expect_line(&t, 1999, "Key1999", 2000, ARGS("a", "b", "c", "d", "e", "f", "g", "h", "i", "j"));
    ptk_torrc_free(&t);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_quotes_bad),
        cmocka_unit_test(test_quotes_bad_trailing),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_continuation_more),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_many_lines),
    };
    return cmocka_run_group_tests_name("torrc", tests, NULL, NULL);
}
