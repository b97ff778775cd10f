/*
 * Unit tests: the conformance case format (host/check_case.c): every
 * keyword and step, the errors a PT author gets (with file and line), glob
 * matching, placeholder expansion, and the case files shipped in
 * tests/conformance (which must all parse).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>

#include "host/check_case.h"
#include "ptkit/error.h"
#include "util/file.h"

#define HEAD "case a-case\ntitle T\nsection 3.3.1\nlevel MUST\nrole any\n"

static struct check_suite parse_ok(const char *text)
{
    struct check_suite s = CHECK_SUITE_INIT;
    char err[400] = "";
    int r = check_suite_parse(&s, "t.case", text, strlen(text), err, sizeof(err));
    if (r != PTK_OK)
        fail_msg("parse failed (%d): %s\n--- input ---\n%s", r, err, text);
    return s;
}

/* The parse must fail with "t.case:LINE: ..." containing frag. */
static void expect_bad(const char *text, unsigned line, const char *frag)
{
    struct check_suite s = CHECK_SUITE_INIT;
    char err[400] = "", want[32];
    int r = check_suite_parse(&s, "t.case", text, strlen(text), err, sizeof(err));
    if (r != PTK_EINVAL)
        fail_msg("expected an error for:\n%s", text);
    snprintf(want, sizeof(want), "t.case:%u: ", line);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, frag))
        fail_msg("error \"%s\", wanted \"%s...%s\" for:\n%s", err, want, frag, text);
    assert_int_equal((int)s.n, 0);
    check_suite_free(&s);
}

static void test_minimal(void **state)
{
    struct check_suite s = parse_ok("# a comment\n\n" HEAD "configure\n");
    assert_int_equal((int)s.n, 1);
    const struct check_case *c = &s.cases[0];
    assert_string_equal(c->id, "a-case");
    assert_string_equal(c->title, "T");
    assert_string_equal(c->section, "3.3.1");
    assert_string_equal(c->file, "t.case");
    assert_int_equal(c->line, 3);
    assert_int_equal(c->level, CHECK_MUST);
    assert_int_equal(c->role, CHECK_ROLE_ANY);
    assert_int_equal((int)c->timeout_ms, CHECK_TIMEOUT_DEFAULT_MS);
    assert_null(c->about);
    assert_null(c->transports);
    assert_int_equal((int)c->n_steps, 1);
    assert_int_equal(c->steps[0].kind, CHECK_STEP_CONFIGURE);
    assert_int_equal(c->steps[0].line, 8);
    check_suite_free(&s);
}

static void test_header_fields(void **state)
{
    struct check_suite s = parse_ok("case x1\n"
                                    "  title   A title with   spaces  \n"
                                    "\tsection ext-orport 3.2.1\r\n"
                                    "level SHOULD\nrole client\n"
                                    "about first part\nabout second part\n"
                                    "timeout 2.5\nneeds data socks4\n"
                                    "transports ptkit_x,${transport}\n"
                                    "env TOR_PT_A=1=2 ${tmp}\nenv EMPTY=\nunset TOR_PT_B\n"
                                    "reject VERSION *\nreject ?METHOD-ERROR x*\n"
                                    "configure\n"
                                    "case x2\ntitle t\nsection s\nlevel MAY\nrole client\n"
                                    "configure\n");
    assert_int_equal((int)s.n, 2);
    const struct check_case *c = &s.cases[0];
    assert_string_equal(c->title, "A title with   spaces");
    assert_string_equal(c->section, "ext-orport 3.2.1");
    assert_int_equal(c->level, CHECK_SHOULD);
    assert_int_equal(c->role, CHECK_ROLE_CLIENT);
    assert_string_equal(c->about, "first part second part");
    assert_int_equal((int)c->timeout_ms, 2500);
    assert_int_equal((int)c->needs, CHECK_NEEDS_DATA | CHECK_NEEDS_SOCKS4);
    assert_string_equal(c->transports, "ptkit_x,${transport}");
    assert_int_equal((int)c->n_env, 3);
    assert_string_equal(c->env[0].name, "TOR_PT_A");
    assert_string_equal(c->env[0].value, "1=2 ${tmp}");
    assert_string_equal(c->env[1].value, "");
    assert_null(c->env[2].value);
    assert_int_equal((int)c->n_rejects, 2);
    assert_string_equal(c->rejects[1], "?METHOD-ERROR x*");
    assert_int_equal(s.cases[1].level, CHECK_MAY);
    assert_int_equal(s.cases[1].role, CHECK_ROLE_CLIENT);
    check_suite_free(&s);
}

static void test_steps(void **state)
{
    struct check_suite s = parse_ok("case c\ntitle t\nsection s\nlevel MUST\nrole client\n"
                                    "configure\nexpect VERSION 1 | VERSION-ERROR*\n"
                                    "when PROXY DONE\nexits 3\nkeeps-running 0.25\nidle 1.5\n"
                                    "close-stdin\nsignal TERM\nsignal HUP\n"
                                    "listening\nlistening loopback\nlistening 127.0.0.1:${free}\n"
                                    "exists ${state}\nlines-valid\n"
                                    "socks 5\n"
                                    "socks 5 args=long cmd=bind atyp=bad methods=01,02,ff "
                                    "target=closed expect=refused\n"
                                    "socks 4a args=none expect=echo\n"
                                    "socks 4 args=short expect=success proxy=used\n"
                                    "socks 5 atyp=domain expect=auth\n");
    const struct check_case *c = &s.cases[0];
    const struct check_step *st = c->steps;
    assert_int_equal((int)c->n_steps, 19);
    assert_int_equal(st[1].kind, CHECK_STEP_EXPECT);
    assert_string_equal(st[1].text, "VERSION 1 | VERSION-ERROR*");
    assert_int_equal(st[2].kind, CHECK_STEP_WHEN);
    assert_int_equal(st[3].kind, CHECK_STEP_EXITS);
    assert_int_equal((int)st[3].ms, 3000);
    assert_int_equal(st[4].kind, CHECK_STEP_RUNS);
    assert_int_equal((int)st[4].ms, 250);
    assert_int_equal((int)st[5].ms, 1500);
    assert_int_equal(st[6].kind, CHECK_STEP_CLOSE_STDIN);
    assert_int_equal(st[7].signo, SIGTERM);
    assert_int_equal(st[8].signo, SIGHUP);
    assert_int_equal(st[9].kind, CHECK_STEP_LISTENING);
    assert_null(st[9].text);
    assert_string_equal(st[10].text, "loopback");
    assert_string_equal(st[11].text, "127.0.0.1:${free}");
    assert_int_equal(st[12].kind, CHECK_STEP_EXISTS);
    assert_int_equal(st[13].kind, CHECK_STEP_LINES_VALID);
    /* socks defaults */
    assert_int_equal(st[14].socks.version, 5);
    assert_int_equal(st[14].socks.args, CHECK_ARGS_BRIDGE);
    assert_int_equal(st[14].socks.cmd, 1);
    assert_int_equal(st[14].socks.atyp, 1);
    assert_int_equal(st[14].socks.expect, CHECK_SX_SUCCESS);
    assert_int_equal((int)st[14].socks.n_methods, 0);
    assert_false(st[14].socks.target_closed);
    /* every option */
    const struct check_socks *k = &st[15].socks;
    assert_int_equal(k->args, CHECK_ARGS_LONG);
    assert_int_equal(k->cmd, 2);
    assert_int_equal(k->atyp, CHECK_ATYP_BAD);
    assert_int_equal((int)k->n_methods, 3);
    assert_int_equal(k->methods[0], 0x01);
    assert_int_equal(k->methods[2], 0xff);
    assert_true(k->target_closed);
    assert_int_equal(k->expect, CHECK_SX_REFUSED);
    assert_int_equal(st[16].socks.version, 4);
    assert_true(st[16].socks.v4a);
    assert_int_equal(st[16].socks.atyp, 3);
    assert_int_equal(st[16].socks.expect, CHECK_SX_ECHO);
    assert_false(st[17].socks.v4a);
    assert_true(st[17].socks.via_proxy);
    assert_int_equal(st[18].socks.atyp, 3);
    assert_int_equal(st[18].socks.expect, CHECK_SX_AUTH);
    check_suite_free(&s);

    s = parse_ok("case c\ntitle t\nsection s\nlevel MUST\nrole server\n"
                 "connect expect=auth\nconnect expect=useraddr\nconnect expect=transport\n"
                 "connect expect=wait-okay\nconnect expect=echo\n");
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s.cases[0].steps[i].kind, CHECK_STEP_CONNECT);
        assert_int_equal(s.cases[0].steps[i].connect_expect, i);
    }
    check_suite_free(&s);
}

static void test_errors(void **state)
{
    expect_bad("title x\n", 1, "outside a case");
    expect_bad("case Bad\n", 1, "case id");
    expect_bad("case 1x\n", 1, "case id");
    expect_bad(HEAD "configure\ncase a-case\n", 7, "already defined at line 1");
    expect_bad("case x\nsection s\nlevel MUST\nrole any\nconfigure\n", 1, "lacks a title");
    expect_bad("case x\ntitle t\nlevel MUST\nrole any\nconfigure\n", 1, "lacks a section");
    expect_bad("case x\ntitle t\nsection s\nrole any\nconfigure\n", 1, "lacks a level");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nconfigure\n", 1, "lacks a role");
    expect_bad(HEAD, 1, "has no steps");
    expect_bad(HEAD "frobnicate\n", 6, "unknown keyword \"frobnicate\"");
    expect_bad(HEAD "Configure\n", 6, "not a keyword");
    expect_bad(HEAD "title again\n", 6, "given twice");
    expect_bad("case x\ntitle t\nsection s\nlevel must\n", 4, "level: MUST, SHOULD or MAY");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole both\n", 5, "role:");
    expect_bad(HEAD "exits 0\n", 6, "more than 0");
    expect_bad(HEAD "exits 31\n", 6, "at most 30");
    expect_bad(HEAD "exits 1.2345\n", 6, "not a number of seconds");
    expect_bad(HEAD "exits x\n", 6, "not a number of seconds");
    expect_bad(HEAD "exits\n", 6, "needs a value");
    expect_bad(HEAD "configure now\n", 6, "takes no value");
    expect_bad(HEAD "env lower=1\n", 6, "not a variable name");
    expect_bad(HEAD "env NOVALUE\n", 6, "NAME=VALUE");
    expect_bad(HEAD "env A=1\nunset A\n", 7, "already set or unset");
    expect_bad(HEAD "env A=${nope}\n", 6, "unknown placeholder \"${nope}\"");
    expect_bad(HEAD "expect ${transport\n", 6, "unterminated placeholder");
    expect_bad(HEAD "needs data wings\n", 6, "unknown \"wings\"");
    expect_bad(HEAD "transports a, b\n", 6, "without spaces");
    expect_bad(HEAD "signal KILL\n", 6, "TERM, INT or HUP");
    expect_bad(HEAD "socks 5\n", 6, "need \"role client\"");
    expect_bad(HEAD "connect expect=auth\n", 6, "need \"role server\"");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole any\nneeds socks4\nconfigure\n", 1,
               "needs \"role client\"");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole client\nsocks 6\n", 6,
               "unknown version");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole client\nsocks 5 args\n", 6,
               "not key=value");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole client\nsocks 5 colour=red\n", 6,
               "unknown option");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole client\nsocks 5 methods=0\n", 6,
               "bad value");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole client\nsocks 4 methods=00\n", 6,
               "unknown option");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole client\nsocks 4 expect=auth\n", 6,
               "SOCKS5 only");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole client\n"
               "socks 5 expect=refused proxy=used\n",
               6, "proxy=used needs");
    expect_bad("case x\ntitle t\nsection s\nlevel MUST\nrole server\nconnect expect=nothing\n", 6,
               "connect: give expect=");
    expect_bad("", 0, "no cases");
    expect_bad("# only comments\n\n", 0, "no cases");
}

static void test_limits(void **state)
{
    char big[CHECK_LINE_MAX + 100];
    memset(big, 'x', sizeof(big));
    memcpy(big, "title ", 6);
    big[sizeof(big) - 1] = '\0';
    char *text = malloc(200000);
    assert_non_null(text);
    snprintf(text, 200000, "case x\n%s\n", big);
    expect_bad(text, 2, "longer than");

    /* a NUL byte inside a line */
    static const char nul[] = "case x\ntitle a\0b\n";
    struct check_suite s = CHECK_SUITE_INIT;
    char err[200];
    assert_int_equal(check_suite_parse(&s, "t.case", nul, sizeof(nul) - 1, err, sizeof(err)),
                     PTK_EINVAL);
    assert_non_null(strstr(err, "t.case:2: NUL byte"));

    size_t off = (size_t)snprintf(text, 200000, HEAD);
    for (int i = 0; i <= CHECK_MAX_STEPS; i++)
        off += (size_t)snprintf(text + off, 200000 - off, "idle 1\n");
    expect_bad(text, 6 + CHECK_MAX_STEPS, "too many steps");

    off = (size_t)snprintf(text, 200000, HEAD);
    for (int i = 0; i <= CHECK_MAX_REJECTS; i++)
        off += (size_t)snprintf(text + off, 200000 - off, "reject X%d\n", i);
    expect_bad(text, 6 + CHECK_MAX_REJECTS, "too many reject");

    off = 0;
    for (int i = 0; i <= CHECK_MAX_CASES; i++)
        off +=
            (size_t)snprintf(text + off, 200000 - off,
                             "case c%d\ntitle t\nsection s\nlevel MAY\nrole any\nconfigure\n", i);
    expect_bad(text, 6 * CHECK_MAX_CASES + 1, "too many cases");
    free(text);
}

static void test_across_files(void **state)
{
    struct check_suite s = CHECK_SUITE_INIT;
    char err[300];
    const char *a = HEAD "configure\n";
    const char *b =
        "case other\ntitle t\nsection s\nlevel MAY\nrole any\nconfigure\n" HEAD "configure\n";
    assert_int_equal(check_suite_parse(&s, "a.case", a, strlen(a), err, sizeof(err)), PTK_OK);
    assert_int_equal(check_suite_parse(&s, "b.case", b, strlen(b), err, sizeof(err)), PTK_EINVAL);
    assert_string_equal(err, "b.case:7: case \"a-case\" is already defined in a.case:1");
    /* the failed file added nothing, not even its first case */
    assert_int_equal((int)s.n, 1);
    const char *c = "case third\ntitle t\nsection s\nlevel MAY\nrole any\nconfigure\n";
    assert_int_equal(check_suite_parse(&s, "c.case", c, strlen(c), err, sizeof(err)), PTK_OK);
    assert_int_equal((int)s.n, 2);
    assert_string_equal(s.cases[1].file, "c.case");
    check_suite_free(&s);
    /* a tiny error buffer stays terminated */
    char tiny[5];
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(check_suite_parse(&s, "t.case", "nope\n", 5, tiny, sizeof(tiny)), PTK_EINVAL);
    assert_non_null(memchr(tiny, '\0', sizeof(tiny)));
}

static void test_glob(void **state)
{
    static const struct {
        const char *glob, *s;
        bool match;
    } t[] = {
        {"VERSION 1", "VERSION 1", true},
        {"VERSION 1", "VERSION 1 ", false},
        {"VERSION *", "VERSION 1", true},
        {"VERSION *", "VERSION-ERROR x", false},
        {"VERSION-ERROR*", "VERSION-ERROR", true},
        {"?METHODS DONE", "CMETHODS DONE", true},
        {"?METHODS DONE", "SMETHODS DONE", true},
        {"?METHODS DONE", "METHODS DONE", false},
        {"*", "", true},
        {"", "", true},
        {"", "x", false},
        {"a*b*c", "aXbYc", true},
        {"a*b*c", "abcbc", true},
        {"a*b*c", "acb", false},
        {"*a", "bbba", true},
        {"\\*", "*", true},
        {"\\*", "x", false},
        {"a\\?", "a?", true},
        {"a\\?", "ab", false},
        {"trailing\\", "trailing\\", true},
        {"**x", "yx", true},
        {"x?", "x", false},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (check_glob_match(t[i].glob, t[i].s) != t[i].match)
            fail_msg("glob \"%s\" vs \"%s\": expected %d", t[i].glob, t[i].s, t[i].match);
    /* no exponential blow-up */
    char s[4001];
    memset(s, 'a', 4000);
    s[4000] = '\0';
    assert_false(check_glob_match("*a*a*a*a*a*a*a*a*a*a*b", s));
}

static const char *lookup(void *ud, const char *name)
{
    if (strcmp(name, "transport") == 0)
        return "obfs4";
    if (strcmp(name, "tmp") == 0)
        return "/tmp/x";
    return NULL;
}

static void test_expand(void **state)
{
    struct ptk_buf b;
    const char *str;
    ptk_buf_init(&b, 1000);
    assert_int_equal(check_expand("${transport}-127.0.0.1:${free} ${tmp}/a$b{", lookup, NULL, &b),
                     PTK_OK);
    assert_int_equal(ptk_buf_cstr(&b, &str), PTK_OK);
    assert_string_equal(str, "obfs4-127.0.0.1: /tmp/x/a$b{");
    ptk_buf_reset(&b);
    assert_int_equal(check_expand("${bogus}", lookup, NULL, &b), PTK_EINVAL);
    ptk_buf_reset(&b);
    assert_int_equal(check_expand("x${tmp", lookup, NULL, &b), PTK_EINVAL);
    ptk_buf_free(&b);
    ptk_buf_init(&b, 3);
    assert_int_equal(check_expand("${transport}", lookup, NULL, &b), PTK_ETOOBIG);
    ptk_buf_free(&b);
    for (size_t i = 0; check_placeholders[i]; i++)
        assert_true(strlen(check_placeholders[i]) < 16);
}

/* The shipped cases parse, ids are unique, and both roles have cases. */
static void test_shipped_cases(void **state)
{
    const char *dir = "tests/conformance";
    DIR *dp = opendir(dir);
    if (!dp) {
        print_message("(skipped: run from the repository root to check %s)\n", dir);
        return;
    }
    struct check_suite s = CHECK_SUITE_INIT;
    struct dirent *de;
    size_t files = 0;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".case") != 0)
            continue;
        char path[512], err[400];
        char *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        assert_int_equal(ptk_file_read(path, 1 << 20, &text, &len), PTK_OK);
        if (check_suite_parse(&s, path, text, len, err, sizeof(err)) != PTK_OK)
            fail_msg("%s", err);
        free(text);
        files++;
    }
    closedir(dp);
    assert_true(files >= 5);
    size_t client = 0, server = 0, must = 0;
    for (size_t i = 0; i < s.n; i++) {
        client += s.cases[i].role != CHECK_ROLE_SERVER;
        server += s.cases[i].role != CHECK_ROLE_CLIENT;
        must += s.cases[i].level == CHECK_MUST;
    }
    assert_true(client >= 20);
    assert_true(server >= 20);
    assert_true(must >= 10);
    check_suite_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),       cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_steps),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_across_files),
        cmocka_unit_test(test_glob),          cmocka_unit_test(test_expand),
        cmocka_unit_test(test_shipped_cases),
    };
    return cmocka_run_group_tests_name("check_cases", tests, NULL, NULL);
}
