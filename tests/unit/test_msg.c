/*
 * Unit tests: the stdout protocol lines (proto/msg.c). Emitters are checked
 * byte for byte (C-quoting as goptlib's encodeCString), the parser against
 * what tor's handle_proxy_line(), parse_method_line_helper() and
 * kvline_parse(KV_QUOTED) accept and reject, and both together by round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"

static struct sockaddr_storage mkaddr(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
    }
    return ss;
}

static void assert_addr(const struct sockaddr_storage *ss, const char *ip, unsigned port)
{
    char buf[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
        assert_int_equal(ntohs(sin->sin_port), port);
    } else {
        assert_int_equal(ss->ss_family, AF_INET6);
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
        assert_int_equal(ntohs(sin6->sin6_port), port);
    }
    assert_string_equal(buf, ip);
}

/* The buffer holds exactly `want`; it is emptied afterwards. */
static void expect_out(struct ptk_buf *b, const char *want)
{
    const char *s;
    assert_int_equal(ptk_buf_cstr(b, &s), PTK_OK);
    assert_string_equal(s, want);
    ptk_buf_reset(b);
}

static void test_emit_simple(void **st)
{
    (void)st;
    struct ptk_buf b;
    ptk_buf_init(&b, 4096);
    assert_int_equal(ptk_msg_version(&b), PTK_OK);
    expect_out(&b, "VERSION 1\n");
    assert_int_equal(ptk_msg_version_error(&b), PTK_OK);
    expect_out(&b, "VERSION-ERROR no-version\n");
    assert_int_equal(ptk_msg_cmethods_done(&b), PTK_OK);
    expect_out(&b, "CMETHODS DONE\n");
    assert_int_equal(ptk_msg_smethods_done(&b), PTK_OK);
    expect_out(&b, "SMETHODS DONE\n");
    assert_int_equal(ptk_msg_proxy_done(&b), PTK_OK);
    expect_out(&b, "PROXY DONE\n");
    /* goptlib's TestErrors */
    assert_int_equal(ptk_msg_env_error(&b, "XYZ"), PTK_OK);
    expect_out(&b, "ENV-ERROR XYZ\n");
    assert_int_equal(ptk_msg_cmethod_error(&b, "method", "XYZ"), PTK_OK);
    expect_out(&b, "CMETHOD-ERROR method XYZ\n");
    assert_int_equal(ptk_msg_smethod_error(&b, "method", "XYZ"), PTK_OK);
    expect_out(&b, "SMETHOD-ERROR method XYZ\n");
    assert_int_equal(ptk_msg_proxy_error(&b, "XYZ"), PTK_OK);
    expect_out(&b, "PROXY-ERROR XYZ\n");
    assert_int_equal(ptk_msg_env_error(&b, "no TOR_PT_STATE_LOCATION environment variable"),
                     PTK_OK);
    expect_out(&b, "ENV-ERROR no TOR_PT_STATE_LOCATION environment variable\n");
    /* several lines accumulate */
    assert_int_equal(ptk_msg_version(&b), PTK_OK);
    assert_int_equal(ptk_msg_cmethods_done(&b), PTK_OK);
    expect_out(&b, "VERSION 1\nCMETHODS DONE\n");
    ptk_buf_free(&b);
}

static void test_emit_error_text_sanitised(void **st)
{
    (void)st;
    struct ptk_buf b;
    ptk_buf_init(&b, 4096);
    /* Control bytes in free text become '?': a PT cannot forge a line. */
    assert_int_equal(ptk_msg_env_error(&b, "bad\nVERSION 1"), PTK_OK);
    expect_out(&b, "ENV-ERROR bad?VERSION 1\n");
    assert_int_equal(ptk_msg_cmethod_error(&b, "obfs4",
                                           "a\rb\tc\x01\x1f\x7f"
                                           "d"),
                     PTK_OK);
    expect_out(&b, "CMETHOD-ERROR obfs4 a?b?c???d\n");
    assert_int_equal(ptk_msg_smethod_error(&b, "ob\nfs4", "x\n"), PTK_OK);
    expect_out(&b, "SMETHOD-ERROR ob?fs4 x?\n");
    assert_int_equal(ptk_msg_proxy_error(&b, "connection refused\nPROXY DONE"), PTK_OK);
    expect_out(&b, "PROXY-ERROR connection refused?PROXY DONE\n");
    /* printable and non-ASCII text is kept as is */
    assert_int_equal(ptk_msg_env_error(&b, "caf\xc3\xa9 \"q\" \\ ~"), PTK_OK);
    expect_out(&b, "ENV-ERROR caf\xc3\xa9 \"q\" \\ ~\n");
    ptk_buf_free(&b);
}

static void test_emit_methods(void **st)
{
    (void)st;
    struct ptk_buf b;
    struct sockaddr_storage a4 = mkaddr("127.0.0.1", 1234), a6 = mkaddr("::1", 5555),
                            any = mkaddr("0.0.0.0", 443), g6 = mkaddr("2001:db8::1", 443);
    ptk_buf_init(&b, 4096);
    assert_int_equal(ptk_msg_cmethod(&b, "obfs4", "socks5", (struct sockaddr *)&a4), PTK_OK);
    expect_out(&b, "CMETHOD obfs4 socks5 127.0.0.1:1234\n");
    assert_int_equal(ptk_msg_cmethod(&b, "obfs4", "socks5", (struct sockaddr *)&a6), PTK_OK);
    expect_out(&b, "CMETHOD obfs4 socks5 [::1]:5555\n");
    assert_int_equal(ptk_msg_cmethod(&b, "obfs3", "socks4", (struct sockaddr *)&a4), PTK_OK);
    expect_out(&b, "CMETHOD obfs3 socks4 127.0.0.1:1234\n");

    assert_int_equal(ptk_msg_smethod(&b, "obfs4", (struct sockaddr *)&any, NULL), PTK_OK);
    expect_out(&b, "SMETHOD obfs4 0.0.0.0:443\n");
    struct ptk_kvlist empty = PTK_KVLIST_INIT;
    assert_int_equal(ptk_msg_smethod(&b, "obfs4", (struct sockaddr *)&g6, &empty), PTK_OK);
    expect_out(&b, "SMETHOD obfs4 [2001:db8::1]:443\n");

    struct ptk_kvlist args = PTK_KVLIST_INIT;
    assert_int_equal(ptk_kvlist_add(&args, "cert", 4, "AbC+/9=", 7), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&args, "iat-mode", 8, "0", 1), PTK_OK);
    assert_int_equal(ptk_msg_smethod(&b, "obfs4", (struct sockaddr *)&g6, &args), PTK_OK);
    expect_out(&b, "SMETHOD obfs4 [2001:db8::1]:443 ARGS:cert=AbC+/9\\=,iat-mode=0\n");
    ptk_kvlist_free(&args);

    /* goptlib's TestEncodeSmethodArgs: '=' ',' '\' escaped in keys and values */
    assert_int_equal(ptk_kvlist_add(&args, "=,\\", 3, "=,\\", 3), PTK_OK);
    assert_int_equal(ptk_msg_smethod(&b, "t", (struct sockaddr *)&any, &args), PTK_OK);
    expect_out(&b, "SMETHOD t 0.0.0.0:443 ARGS:\\=\\,\\\\=\\=\\,\\\\\n");
    ptk_kvlist_free(&args);
    ptk_buf_free(&b);
}

/* A failing emitter leaves the buffer exactly as it was. */
static void expect_unchanged(struct ptk_buf *b)
{
    expect_out(b, "PREFIX\n");
    assert_int_equal(ptk_buf_put_str(b, "PREFIX\n"), PTK_OK);
}

static void test_emit_refuses(void **st)
{
    (void)st;
    struct ptk_buf b;
    struct sockaddr_storage a4 = mkaddr("127.0.0.1", 1234);
    const struct sockaddr *sa = (const struct sockaddr *)&a4;
    ptk_buf_init(&b, 4096);
    assert_int_equal(ptk_buf_put_str(&b, "PREFIX\n"), PTK_OK);

    /* Names tor would reject, or that would split the line. */
    static const char *const names[] = {"",       "ob fs4", "obfs4\nCMETHOD x",
                                        "obfs-4", "4obfs",  "obfs4\r"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(ptk_msg_cmethod(&b, names[i], "socks5", sa), PTK_EINVAL);
        expect_unchanged(&b);
        assert_int_equal(ptk_msg_smethod(&b, names[i], sa, NULL), PTK_EINVAL);
        expect_unchanged(&b);
    }
    static const char *const socks[] = {"socks4a", "socks", "SOCKS5", "http", "socks5 x", ""};
    for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
        assert_int_equal(ptk_msg_cmethod(&b, "obfs4", socks[i], sa), PTK_EINVAL);
        expect_unchanged(&b);
    }

    /* SMETHOD ARGS are split on spaces by tor: no whitespace or control byte. */
    static const char *const vals[] = {"a b", "a\nb", "a\tb", "\x7f", "x\r"};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct ptk_kvlist args = PTK_KVLIST_INIT;
        assert_int_equal(ptk_kvlist_add(&args, "k", 1, vals[i], strlen(vals[i])), PTK_OK);
        assert_int_equal(ptk_msg_smethod(&b, "obfs4", sa, &args), PTK_EINVAL);
        expect_unchanged(&b);
        ptk_kvlist_free(&args);
    }

    /* STATUS keys must be what tor's kvline accepts. */
    static const char *const keys[] = {"",     "a b",  "a=b",  "a\"b",        "a'b",
                                       "a\nb", "a\tb", "\x7f", "caf\xc3\xa9", "k\x0c"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct ptk_kvlist kv = PTK_KVLIST_INIT;
        assert_int_equal(ptk_kvlist_add(&kv, "OK", 2, "v", 1), PTK_OK);
        assert_int_equal(ptk_kvlist_add(&kv, keys[i], strlen(keys[i]), "v", 1), PTK_OK);
        assert_int_equal(ptk_msg_status(&b, "obfs4", &kv), PTK_EINVAL);
        expect_unchanged(&b);
        ptk_kvlist_free(&kv);
    }
    ptk_buf_free(&b);

    /* Running into the buffer's cap half-way leaves no partial line either. */
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ptk_buf_init(&b, 64);
    assert_int_equal(ptk_buf_put_str(&b, "PREFIX\n"), PTK_OK);
    assert_int_equal(ptk_msg_env_error(&b, big), PTK_ETOOBIG);
    expect_unchanged(&b);
    assert_int_equal(ptk_msg_cmethod_error(&b, "obfs4", big), PTK_ETOOBIG);
    expect_unchanged(&b);
    assert_int_equal(ptk_msg_proxy_error(&b, big), PTK_ETOOBIG);
    expect_unchanged(&b);
    assert_int_equal(ptk_msg_log(&b, PTK_LOG_NOTICE, big), PTK_ETOOBIG);
    expect_unchanged(&b);
    assert_int_equal(ptk_cquote(&b, big), PTK_ETOOBIG);
    expect_unchanged(&b);
    struct ptk_kvlist kv = PTK_KVLIST_INIT;
    assert_int_equal(ptk_kvlist_add(&kv, "K", 1, big, strlen(big)), PTK_OK);
    assert_int_equal(ptk_msg_status(&b, "obfs4", &kv), PTK_ETOOBIG);
    expect_unchanged(&b);
    assert_int_equal(ptk_msg_smethod(&b, "obfs4", sa, &kv), PTK_ETOOBIG);
    expect_unchanged(&b);
    ptk_kvlist_free(&kv);
    ptk_buf_free(&b);
}

static void expect_log(enum ptk_log_level lv, const char *msg, const char *want)
{
    struct ptk_buf b;
    ptk_buf_init(&b, 8192);
    assert_int_equal(ptk_msg_log(&b, lv, msg), PTK_OK);
    expect_out(&b, want);
    ptk_buf_free(&b);
}

static void test_emit_log(void **st)
{
    (void)st;
    expect_log(PTK_LOG_ERROR, "x", "LOG SEVERITY=error MESSAGE=\"x\"\n");
    expect_log(PTK_LOG_WARNING, "x", "LOG SEVERITY=warning MESSAGE=\"x\"\n");
    expect_log(PTK_LOG_NOTICE, "hello world", "LOG SEVERITY=notice MESSAGE=\"hello world\"\n");
    expect_log(PTK_LOG_INFO, "x", "LOG SEVERITY=info MESSAGE=\"x\"\n");
    expect_log(PTK_LOG_DEBUG, "x", "LOG SEVERITY=debug MESSAGE=\"x\"\n");
    /* goptlib's TestEncodeCString inputs, encoded as its encodeCString does */
    expect_log(PTK_LOG_NOTICE, "", "LOG SEVERITY=notice MESSAGE=\"\"\n");
    expect_log(PTK_LOG_NOTICE, "\"", "LOG SEVERITY=notice MESSAGE=\"\\042\"\n");
    expect_log(PTK_LOG_NOTICE, "\"\"", "LOG SEVERITY=notice MESSAGE=\"\\042\\042\"\n");
    expect_log(PTK_LOG_NOTICE, "abc\"def", "LOG SEVERITY=notice MESSAGE=\"abc\\042def\"\n");
    expect_log(PTK_LOG_NOTICE, "\\", "LOG SEVERITY=notice MESSAGE=\"\\134\"\n");
    expect_log(PTK_LOG_NOTICE, "\\\\", "LOG SEVERITY=notice MESSAGE=\"\\134\\134\"\n");
    /* three octal digits always, so the next digit cannot join the escape */
    expect_log(PTK_LOG_NOTICE,
               "\x01"
               "23abc",
               "LOG SEVERITY=notice MESSAGE=\"\\00123abc\"\n");
    expect_log(PTK_LOG_NOTICE, "\n\r\t\x7f",
               "LOG SEVERITY=notice MESSAGE=\"\\012\\015\\011\\177\"\n");
    expect_log(PTK_LOG_NOTICE, "\\377", "LOG SEVERITY=notice MESSAGE=\"\\134377\"\n");
    /* UTF-8 is octal-escaped byte by byte; space, '!' and '\'' stay */
    expect_log(PTK_LOG_NOTICE, "caf\xc3\xa9 it's!",
               "LOG SEVERITY=notice MESSAGE=\"caf\\303\\251 it's!\"\n");
    expect_log(PTK_LOG_WARNING, "say \"hi\" \\ bye\n",
               "LOG SEVERITY=warning MESSAGE=\"say \\042hi\\042 \\134 bye\\012\"\n");
    expect_log(PTK_LOG_NOTICE, "\xff\x80 ~#[]",
               "LOG SEVERITY=notice MESSAGE=\"\\377\\200 ~#[]\"\n");

    /* Every byte 1..255 in one message, checked against the encodeCString rule. */
    char all[256], want[2048];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    size_t w = (size_t)snprintf(want, sizeof(want), "LOG SEVERITY=info MESSAGE=\"");
    for (int c = 1; c < 256; c++) {
        if (c == 32 || c == 33 || (c >= 35 && c <= 91) || (c >= 93 && c <= 126))
            want[w++] = (char)c;
        else
            w += (size_t)snprintf(want + w, sizeof(want) - w, "\\%03o", c);
    }
    snprintf(want + w, sizeof(want) - w, "\"\n");
    expect_log(PTK_LOG_INFO, all, want);
}

static void expect_status(const char *transport, const char *const *kv, size_t n, const char *want)
{
    struct ptk_buf b;
    struct ptk_kvlist l = PTK_KVLIST_INIT;
    ptk_buf_init(&b, 4096);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            ptk_kvlist_add(&l, kv[2 * i], strlen(kv[2 * i]), kv[2 * i + 1], strlen(kv[2 * i + 1])),
            PTK_OK);
    assert_int_equal(ptk_msg_status(&b, transport, &l), PTK_OK);
    expect_out(&b, want);
    ptk_kvlist_free(&l);
    ptk_buf_free(&b);
}

static void test_emit_status(void **st)
{
    (void)st;
    expect_status("obfs4", (const char *[]){"CONNECT", "Success"}, 1,
                  "STATUS TRANSPORT=obfs4 CONNECT=Success\n");
    expect_status(
        NULL, (const char *[]){"TYPE", "version", "VERSION", "0.1.0", "IMPLEMENTATION", "ptkit"}, 3,
        "STATUS TYPE=version VERSION=0.1.0 IMPLEMENTATION=ptkit\n");
    expect_status(
        "obfs4",
        (const char *[]){"ADDRESS", "198.51.100.7:443", "ERROR", "no route to host", "EMPTY", ""},
        3,
        "STATUS TRANSPORT=obfs4 ADDRESS=198.51.100.7:443 ERROR=\"no route to host\" "
        "EMPTY=\"\"\n");
    expect_status("obfs4", (const char *[]){"MSG", "a\"b\\c\nd\te\x7f"}, 1,
                  "STATUS TRANSPORT=obfs4 MSG=\"a\\042b\\134c\\012d\\011e\\177\"\n");
    expect_status("ob fs", NULL, 0, "STATUS TRANSPORT=\"ob fs\"\n");
    expect_status(NULL, NULL, 0, "STATUS\n");
    struct ptk_buf b;
    ptk_buf_init(&b, 4096);
    assert_int_equal(ptk_msg_status(&b, "obfs4", NULL), PTK_OK);
    expect_out(&b, "STATUS TRANSPORT=obfs4\n");
    ptk_buf_free(&b);
}

static void test_cquote_api(void **st)
{
    (void)st;
    struct ptk_buf b;
    const char *s;
    size_t used = 0;
    ptk_buf_init(&b, 4096);
    assert_int_equal(ptk_cquote(&b, "a\"b"), PTK_OK);
    expect_out(&b, "\"a\\042b\"");

    const char *in = "\"ab\\x41\\n\" rest";
    assert_int_equal(ptk_cunquote(in, strlen(in), &b, &used), PTK_OK);
    assert_int_equal(used, 10);
    assert_int_equal(ptk_buf_cstr(&b, &s), PTK_OK);
    assert_string_equal(s, "abA\n");
    ptk_buf_reset(&b);
    assert_int_equal(ptk_cunquote("\"\"", 2, &b, &used), PTK_OK);
    assert_int_equal(used, 2);
    assert_int_equal(ptk_buf_len(&b), 0);
    /* n bounds the input: the closing quote must be inside it */
    assert_int_equal(ptk_cunquote("\"ab\"", 3, &b, &used), PTK_EINVAL);
    ptk_buf_reset(&b);
    assert_int_equal(ptk_cunquote("\"ab\\\"", 5, &b, &used), PTK_EINVAL);
    ptk_buf_reset(&b);
    assert_int_equal(ptk_cunquote("ab\"", 3, &b, &used), PTK_EINVAL);
    assert_int_equal(ptk_cunquote("", 0, &b, &used), PTK_EINVAL);
    ptk_buf_free(&b);

    assert_string_equal(ptk_msg_type_name(PTK_MSG_CMETHOD), "CMETHOD");
    assert_string_equal(ptk_msg_type_name(PTK_MSG_SMETHODS_DONE), "SMETHODS DONE");
    assert_string_equal(ptk_msg_type_name(PTK_MSG_STATUS), "STATUS");
    assert_string_equal(ptk_msg_type_name(PTK_MSG_UNKNOWN), "unknown");
    assert_string_equal(ptk_msg_type_name((enum ptk_msg_type)99), "unknown");
}

/* ---- parser ---- */

static void parse_ok(const char *line, enum ptk_msg_type t, struct ptk_msg *m)
{
    const char *why = NULL;
    int r = ptk_msg_parse(line, strlen(line), m, &why);
    if (r != PTK_OK || m->type != t)
        print_error("\"%s\": r=%d type=%s why=%s\n", line, r, ptk_msg_type_name(m->type),
                    why ? why : "(null)");
    assert_int_equal(r, PTK_OK);
    assert_int_equal(m->type, t);
}

static void parse_type(const char *line, enum ptk_msg_type t)
{
    struct ptk_msg m;
    parse_ok(line, t, &m);
    ptk_msg_free(&m);
}

static void parse_bad_n(const char *line, size_t len)
{
    struct ptk_msg m;
    const char *why = NULL;
    int r = ptk_msg_parse(line, len, &m, &why);
    if (r != PTK_EPROTO)
        print_error("\"%s\": r=%d type=%s, want PTK_EPROTO\n", line, r, ptk_msg_type_name(m.type));
    assert_int_equal(r, PTK_EPROTO);
    assert_non_null(why);
    assert_true(why[0] != '\0');
    ptk_msg_free(&m);
    /* why may be NULL */
    assert_int_equal(ptk_msg_parse(line, len, &m, NULL), PTK_EPROTO);
    ptk_msg_free(&m);
}

static void parse_bad(const char *line)
{
    parse_bad_n(line, strlen(line));
}

static void test_parse_prefix_order(void **st)
{
    (void)st;
    struct ptk_msg m;
    parse_ok("CMETHOD-ERROR obfs4 no such transport", PTK_MSG_CMETHOD_ERROR, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_string_equal(m.text, "no such transport");
    ptk_msg_free(&m);
    parse_ok("SMETHOD-ERROR obfs4 bind: address already in use", PTK_MSG_SMETHOD_ERROR, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_string_equal(m.text, "bind: address already in use");
    ptk_msg_free(&m);
    parse_ok("CMETHOD-ERROR", PTK_MSG_CMETHOD_ERROR, &m);
    assert_string_equal(m.transport, "");
    assert_string_equal(m.text, "");
    ptk_msg_free(&m);
    parse_ok("CMETHOD-ERROR obfs4", PTK_MSG_CMETHOD_ERROR, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_string_equal(m.text, "");
    ptk_msg_free(&m);
    parse_ok("CMETHOD-ERROR 1bad message", PTK_MSG_CMETHOD_ERROR, &m);
    assert_string_equal(m.transport, "");
    assert_string_equal(m.text, "1bad message");
    ptk_msg_free(&m);
    parse_ok("ENV-ERROR no TOR_PT_STATE_LOCATION", PTK_MSG_ENV_ERROR, &m);
    assert_string_equal(m.text, "no TOR_PT_STATE_LOCATION");
    ptk_msg_free(&m);
    parse_ok("ENV-ERROR", PTK_MSG_ENV_ERROR, &m);
    assert_string_equal(m.text, "");
    ptk_msg_free(&m);
    parse_ok("PROXY-ERROR connection refused", PTK_MSG_PROXY_ERROR, &m);
    assert_string_equal(m.text, "connection refused");
    ptk_msg_free(&m);
    parse_type("VERSION-ERROR no-version", PTK_MSG_VERSION_ERROR);
    parse_type("CMETHODS DONE", PTK_MSG_CMETHODS_DONE);
    parse_type("SMETHODS DONE", PTK_MSG_SMETHODS_DONE);
    parse_type("CMETHODS DONE extra", PTK_MSG_CMETHODS_DONE); /* tor matches a prefix */
    parse_type("SMETHODS DONE\r", PTK_MSG_SMETHODS_DONE);
    parse_type("PROXY DONE", PTK_MSG_PROXY_DONE);

    /* Lines tor ignores. */
    static const char *const unknown[] = {
        "",
        "\r",
        "HELLO",
        "cmethod obfs4 socks5 127.0.0.1:1234",
        " VERSION 1",
        "\tCMETHOD obfs4 socks5 127.0.0.1:1234",
        "LOG",
        "LOGGER SEVERITY=notice MESSAGE=x",
        "LOGSEVERITY=notice",
        "STATUS",
        "STATUSES TRANSPORT=x",
        "PROXY",
        "PROXY-DONE",
        "METHODS DONE",
        "ENV_ERROR x",
        "# comment",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        parse_type(unknown[i], PTK_MSG_UNKNOWN);
}

static void test_parse_version(void **st)
{
    (void)st;
    struct ptk_msg m;
    parse_ok("VERSION 1", PTK_MSG_VERSION, &m);
    assert_string_equal(m.version, "1");
    ptk_msg_free(&m);
    parse_ok("VERSION 1\r", PTK_MSG_VERSION, &m);
    assert_string_equal(m.version, "1");
    ptk_msg_free(&m);
    /* tor compares the rest exactly with "1": the caller sees what was sent */
    parse_ok("VERSION 1 ", PTK_MSG_VERSION, &m);
    assert_string_equal(m.version, "1 ");
    ptk_msg_free(&m);
    parse_ok("VERSION 2", PTK_MSG_VERSION, &m);
    assert_string_equal(m.version, "2");
    ptk_msg_free(&m);
    parse_ok("VERSION 1,2", PTK_MSG_VERSION, &m);
    assert_string_equal(m.version, "1,2");
    ptk_msg_free(&m);
    parse_bad("VERSION");
    parse_bad("VERSION ");
    parse_bad("VERSION \r");
    parse_bad("VERSION 1234567890123456789012345678901234567890");
}

static void test_parse_cmethod(void **st)
{
    (void)st;
    struct ptk_msg m;
    parse_ok("CMETHOD obfs4 socks5 127.0.0.1:1234", PTK_MSG_CMETHOD, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_int_equal(m.socks_version, 5);
    assert_addr(&m.addr, "127.0.0.1", 1234);
    assert_int_equal(m.addrlen, sizeof(struct sockaddr_in));
    ptk_msg_free(&m);
    parse_ok("CMETHOD trebuchet socks4 [::1]:65535", PTK_MSG_CMETHOD, &m);
    assert_string_equal(m.transport, "trebuchet");
    assert_int_equal(m.socks_version, 4);
    assert_addr(&m.addr, "::1", 65535);
    assert_int_equal(m.addrlen, sizeof(struct sockaddr_in6));
    ptk_msg_free(&m);
    /* extra tokens are ignored; runs of spaces and tabs separate */
    parse_ok("CMETHOD obfs4 socks5 127.0.0.1:1234 ARGS:a=b extra", PTK_MSG_CMETHOD, &m);
    assert_null(m.raw_args);
    ptk_msg_free(&m);
    parse_ok("CMETHOD  _o9   socks5  127.0.0.1:1 ", PTK_MSG_CMETHOD, &m);
    assert_string_equal(m.transport, "_o9");
    ptk_msg_free(&m);
    parse_ok("CMETHOD\tobfs4\tsocks5\t127.0.0.1:1234", PTK_MSG_CMETHOD, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_addr(&m.addr, "127.0.0.1", 1234);
    ptk_msg_free(&m);
    /* one '\r' is stripped; tor trims other whitespace at the ends of each field */
    parse_ok("CMETHOD obfs4 socks5 127.0.0.1:1234\r", PTK_MSG_CMETHOD, &m);
    assert_addr(&m.addr, "127.0.0.1", 1234);
    ptk_msg_free(&m);
    parse_ok("CMETHOD obfs4 socks5 127.0.0.1:1234\r\r", PTK_MSG_CMETHOD, &m);
    assert_addr(&m.addr, "127.0.0.1", 1234);
    ptk_msg_free(&m);
    parse_ok("CMETHOD obfs4 \x0bsocks5\x0c 127.0.0.1:1234", PTK_MSG_CMETHOD, &m);
    assert_int_equal(m.socks_version, 5);
    ptk_msg_free(&m);

    static const char *const bad[] = {
        "CMETHOD obfs4 socks5 localhost:1234",
        "CMETHOD obfs4 socks5 example.com:1234",
        "CMETHOD obfs4 socks5 127.0.0.1:0",
        "CMETHOD obfs4 socks5 127.0.0.1",
        "CMETHOD obfs4 socks5 127.0.0.1:",
        "CMETHOD obfs4 socks5 127.0.0.1:65536",
        "CMETHOD obfs4 socks5 127.0.0.1:1234x",
        "CMETHOD obfs4 socks5 127.0.0.1:-1",
        "CMETHOD obfs4 socks5 ::1:1234",
        "CMETHOD obfs4 socks5 [::1]",
        "CMETHOD obfs4 socks5 [::1]:0",
        "CMETHOD obfs4 socks5 [127.0.0.1]:1234",
        "CMETHOD obfs4 socks5 :1234",
        "CMETHOD obfs4 socks6 127.0.0.1:1234",
        "CMETHOD obfs4 socks4a 127.0.0.1:1234",
        "CMETHOD obfs4 SOCKS5 127.0.0.1:1234",
        "CMETHOD obfs4 http 127.0.0.1:1234",
        "CMETHOD obfs4 socks 127.0.0.1:1234",
        "CMETHOD obfs-4 socks5 127.0.0.1:1234",
        "CMETHOD 4obfs socks5 127.0.0.1:1234",
        "CMETHOD ob.fs socks5 127.0.0.1:1234",
        "CMETHOD caf\xc3\xa9 socks5 127.0.0.1:1",
        "CMETHOD obfs4 socks5",
        "CMETHOD obfs4",
        "CMETHOD",
        "CMETHOD   ",
        /* keyword run together with more text: tor 0.4.9 asserts */
        "CMETHOD_X obfs4 socks5 127.0.0.1:1234",
        "CMETHODS obfs4 socks5 127.0.0.1:1234",
        "CMETHODSDONE",
        "CMETHOD\x0bobfs4 socks5 127.0.0.1:1234 x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_bad(bad[i]);
}

static void test_parse_smethod(void **st)
{
    (void)st;
    struct ptk_msg m;
    parse_ok("SMETHOD obfs4 0.0.0.0:443", PTK_MSG_SMETHOD, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_addr(&m.addr, "0.0.0.0", 443);
    assert_null(m.raw_args);
    assert_int_equal((int)m.kv.n, 0);
    ptk_msg_free(&m);

    const char *cert = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMw";
    char line[512];
    snprintf(line, sizeof(line), "SMETHOD obfs4 [2001:db8::1]:443 ARGS:cert=%s,iat-mode=0", cert);
    parse_ok(line, PTK_MSG_SMETHOD, &m);
    assert_addr(&m.addr, "2001:db8::1", 443);
    assert_non_null(m.raw_args);
    assert_int_equal((int)m.kv.n, 2);
    assert_string_equal(ptk_kvlist_get(&m.kv, "cert"), cert);
    assert_string_equal(ptk_kvlist_get(&m.kv, "iat-mode"), "0");
    ptk_msg_free(&m);

    /* ARGS are kept raw (tor copies them into the descriptor) and also decoded */
    parse_ok("SMETHOD t 1.2.3.4:5 ARGS:k\\=y=v\\,w\\\\,s=abc\\=\\= extra", PTK_MSG_SMETHOD, &m);
    assert_string_equal(m.raw_args, "k\\=y=v\\,w\\\\,s=abc\\=\\=");
    assert_int_equal((int)m.kv.n, 2);
    assert_string_equal(ptk_kvlist_get(&m.kv, "k=y"), "v,w\\");
    assert_string_equal(ptk_kvlist_get(&m.kv, "s"), "abc==");
    ptk_msg_free(&m);
    /* tor does not validate ARGS: neither do we fail on them */
    parse_ok("SMETHOD t 1.2.3.4:5 ARGS:novalue", PTK_MSG_SMETHOD, &m);
    assert_string_equal(m.raw_args, "novalue");
    assert_int_equal((int)m.kv.n, 0);
    ptk_msg_free(&m);
    parse_ok("SMETHOD t 1.2.3.4:5 ARGS:", PTK_MSG_SMETHOD, &m);
    assert_string_equal(m.raw_args, "");
    ptk_msg_free(&m);
    /* only the fourth field can be ARGS: */
    parse_ok("SMETHOD t 1.2.3.4:5 FOO:bar ARGS:a=b", PTK_MSG_SMETHOD, &m);
    assert_null(m.raw_args);
    ptk_msg_free(&m);
    parse_ok("SMETHOD t 1.2.3.4:5 args:a=b", PTK_MSG_SMETHOD, &m);
    assert_null(m.raw_args);
    ptk_msg_free(&m);
    parse_ok("SMETHOD\tt\t1.2.3.4:5\tARGS:a=b\r", PTK_MSG_SMETHOD, &m);
    assert_string_equal(m.raw_args, "a=b");
    ptk_msg_free(&m);

    static const char *const bad[] = {
        "SMETHOD obfs4 localhost:443",
        "SMETHOD obfs4 0.0.0.0:0",
        "SMETHOD obfs4 0.0.0.0",
        "SMETHOD obfs4 [::]",
        "SMETHOD obfs4",
        "SMETHOD",
        "SMETHOD ob-fs4 0.0.0.0:443",
        "SMETHOD 0bfs4 0.0.0.0:443",
        "SMETHODxyz obfs4 0.0.0.0:443",
        "SMETHOD_X obfs4 0.0.0.0:443 ARGS:a=b",
        "SMETHOD obfs4 ARGS:a=b 0.0.0.0:443",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_bad(bad[i]);
}

static void expect_parsed_log(const char *line, enum ptk_log_level lv, const char *text)
{
    struct ptk_msg m;
    parse_ok(line, PTK_MSG_LOG, &m);
    assert_int_equal(m.severity, lv);
    assert_non_null(m.text);
    assert_string_equal(m.text, text);
    ptk_msg_free(&m);
}

static void test_parse_log(void **st)
{
    (void)st;
    expect_parsed_log("LOG SEVERITY=notice MESSAGE=\"hello world\"", PTK_LOG_NOTICE, "hello world");
    expect_parsed_log("LOG SEVERITY=error MESSAGE=oneword", PTK_LOG_ERROR, "oneword");
    expect_parsed_log("LOG SEVERITY=warning MESSAGE=\"\"", PTK_LOG_WARNING, "");
    expect_parsed_log("LOG SEVERITY=info MESSAGE=", PTK_LOG_INFO, "");
    expect_parsed_log("LOG MESSAGE=\"m\" SEVERITY=debug", PTK_LOG_DEBUG, "m");
    /* the first of a repeated key wins, as tor's config_line_find */
    expect_parsed_log("LOG SEVERITY=info MESSAGE=a SEVERITY=debug MESSAGE=b", PTK_LOG_INFO, "a");
    /* tor's C escapes: \n \r \t \" \\ \' \xHH \XHH and 1-3 octal digits */
    expect_parsed_log("LOG SEVERITY=notice MESSAGE=\"a\\nb\\tc\\rd\\\"e\\\\f\\'g\\x41\\X42"
                      "\\101\\1012\\7\\77x\\x7e\"",
                      PTK_LOG_NOTICE, "a\nb\tc\rd\"e\\f'gABAA2\a?x~");
    expect_parsed_log("LOG SEVERITY=notice MESSAGE=\"caf\\303\\251\"", PTK_LOG_NOTICE,
                      "caf\xc3\xa9");
    expect_parsed_log("LOG SEVERITY=notice MESSAGE=\"raw caf\xc3\xa9 \x01\"", PTK_LOG_NOTICE,
                      "raw caf\xc3\xa9 \x01");
    /* fields are separated by any run of " \t\r\v\n"; none is needed after a quote */
    expect_parsed_log("LOG  SEVERITY=notice\t\x0bMESSAGE=\"x\"  ", PTK_LOG_NOTICE, "x");
    expect_parsed_log("LOG SEVERITY=notice MESSAGE=\"x\"EXTRA=1", PTK_LOG_NOTICE, "x");
    expect_parsed_log("LOG SEVERITY=debug MESSAGE=\"x\" PT_EXTRA=\"y z\"\r", PTK_LOG_DEBUG, "x");
    /* unquoted values may hold quotes and backslashes */
    expect_parsed_log("LOG SEVERITY=notice MESSAGE=it's", PTK_LOG_NOTICE, "it's");
    expect_parsed_log("LOG SEVERITY=notice MESSAGE=a\"b\\n", PTK_LOG_NOTICE, "a\"b\\n");

    struct ptk_msg m;
    parse_ok("LOG SEVERITY=notice MESSAGE=\"x\" K=v", PTK_MSG_LOG, &m);
    assert_int_equal((int)m.kv.n, 3);
    assert_string_equal(ptk_kvlist_get(&m.kv, "K"), "v");
    ptk_msg_free(&m);

    static const char *const bad[] = {
        /* an unquoted message of several words */
        "LOG SEVERITY=notice MESSAGE=hello world",
        "LOG SEVERITY=notice MESSAGE=x stray",
        "LOG SEVERITY=notice MESSAGE=x \"quoted\"",
        /* bad quoting and escapes */
        "LOG SEVERITY=notice MESSAGE=\"unterminated",
        "LOG SEVERITY=notice MESSAGE=\"ends in escaped quote\\\"",
        "LOG SEVERITY=notice MESSAGE=\"x\\",
        "LOG SEVERITY=notice MESSAGE=\"bad \\q escape\"",
        "LOG SEVERITY=notice MESSAGE=\"\\?\"",
        "LOG SEVERITY=notice MESSAGE=\"\\a\"",
        "LOG SEVERITY=notice MESSAGE=\"\\x4\"",
        "LOG SEVERITY=notice MESSAGE=\"\\xg0\"",
        "LOG SEVERITY=notice MESSAGE=\"\\x\"",
        "LOG SEVERITY=notice MESSAGE=\"\\400\"",
        "LOG SEVERITY=notice MESSAGE=\"\\777\"",
        "LOG SEVERITY=notice MESSAGE=\"a\\0b\"",
        "LOG SEVERITY=notice MESSAGE=\"a\\000\"",
        "LOG SEVERITY=notice MESSAGE=\"\\x00\"",
        "LOG SEVERITY=notice MESSAGE=\"a\nb\"",
        /* SEVERITY and MESSAGE */
        "LOG SEVERITY=notice",
        "LOG MESSAGE=\"x\"",
        "LOG SEVERITY=warn MESSAGE=x",
        "LOG SEVERITY=NOTICE MESSAGE=x",
        "LOG SEVERITY=Notice MESSAGE=x",
        "LOG SEVERITY=err MESSAGE=x",
        "LOG SEVERITY=critical MESSAGE=x",
        "LOG SEVERITY= MESSAGE=x",
        "LOG SEVERITY=\"\" MESSAGE=x",
        "LOG SEVERITY=\"notice \" MESSAGE=x",
        /* no fields, or fields that are not KEY=VALUE */
        "LOG ",
        "LOG    ",
        "LOG \r",
        "LOG =notice SEVERITY=notice MESSAGE=x",
        "LOG \"SEVERITY\"=notice MESSAGE=x",
        "LOG SEVERITY=notice MESSAGE=x \"k\"=v",
        "LOG SEVERITY=notice MESSAGE=x KEY",
        "LOG SEVERITY=notice MESSAGE=x =",
        /* keys tor's kvline_can_encode_lines() refuses */
        "LOG SEVERITY=notice MESSAGE=x k\"ey=v",
        "LOG SEVERITY=notice MESSAGE=x k'ey=v",
        "LOG SEVERITY=notice MESSAGE=x k\x80=v",
        "LOG SEVERITY=notice MESSAGE=x caf\xc3\xa9=v",
        "LOG SEVERITY=notice MESSAGE=x k\x7f=v",
        "LOG SEVERITY=notice MESSAGE=x k\x01=v",
        "LOG SEVERITY=notice MESSAGE=x \x0ck=v",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_bad(bad[i]);

    /* a NUL byte inside the line */
    static const char nul[] = "LOG SEVERITY=notice MESSAGE=\"a\0b\"";
    parse_bad_n(nul, sizeof(nul) - 1);
    static const char nul2[] = "CMETHOD obfs4 socks5 127.0.0.1:1\0";
    parse_bad_n(nul2, sizeof(nul2) - 1);
}

static void test_parse_status(void **st)
{
    (void)st;
    struct ptk_msg m;
    parse_ok("STATUS TRANSPORT=obfs4 ADDRESS=198.51.100.7:443 CONNECT=Success", PTK_MSG_STATUS, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_int_equal((int)m.kv.n, 3);
    assert_string_equal(ptk_kvlist_get(&m.kv, "ADDRESS"), "198.51.100.7:443");
    assert_string_equal(ptk_kvlist_get(&m.kv, "CONNECT"), "Success");
    ptk_msg_free(&m);
    parse_ok("STATUS TYPE=version VERSION=\"0.1 beta\" IMPLEMENTATION=ptkit", PTK_MSG_STATUS, &m);
    assert_string_equal(m.transport, "");
    assert_string_equal(ptk_kvlist_get(&m.kv, "TYPE"), "version");
    assert_string_equal(ptk_kvlist_get(&m.kv, "VERSION"), "0.1 beta");
    assert_string_equal(ptk_kvlist_get(&m.kv, "IMPLEMENTATION"), "ptkit");
    ptk_msg_free(&m);
    parse_ok("STATUS TRANSPORT=\"obfs4\" ERROR=\"a\\042b\\nc\"", PTK_MSG_STATUS, &m);
    assert_string_equal(m.transport, "obfs4");
    assert_string_equal(ptk_kvlist_get(&m.kv, "ERROR"), "a\"b\nc");
    ptk_msg_free(&m);

    static const char *const bad[] = {
        "STATUS TRANSPORT=obfs4 MSG=two words",
        "STATUS TRANSPORT=\"obfs4",
        "STATUS TRANSPORT=obfs4 MSG=\"\\z\"",
        "STATUS TRANSPORT=obfs4 MSG=\"\\000\"",
        "STATUS TRANSPORT=obfs4 =v",
        "STATUS TRANSPORT=obfs4 it's=v",
        "STATUS ",
        "STATUS  \t ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_bad(bad[i]);
}

/* ---- emitter -> parser ---- */

static void roundtrip_log(enum ptk_log_level lv, const char *msg)
{
    struct ptk_buf b;
    struct ptk_msg m;
    const char *why = NULL;
    ptk_buf_init(&b, 8192);
    assert_int_equal(ptk_msg_log(&b, lv, msg), PTK_OK);
    const char *line = (const char *)ptk_buf_data(&b);
    size_t len = ptk_buf_len(&b);
    assert_true(len > 0 && line[len - 1] == '\n');
    assert_null(memchr(line, '\n', len - 1)); /* one line, whatever the message */
    assert_int_equal(ptk_msg_parse(line, len - 1, &m, &why), PTK_OK);
    assert_int_equal(m.type, PTK_MSG_LOG);
    assert_int_equal(m.severity, lv);
    assert_string_equal(m.text, msg);
    ptk_msg_free(&m);
    ptk_buf_free(&b);
}

static void test_roundtrip_log(void **st)
{
    (void)st;
    /* every byte tor's C-unquote can give back (it rejects NUL), alone and in context */
    for (int c = 1; c < 256; c++) {
        char one[2] = {(char)c, 0};
        char ctx[8] = {'a', (char)c, '7', '"', (char)c, '\\', 'x', 0};
        roundtrip_log(PTK_LOG_NOTICE, one);
        roundtrip_log(PTK_LOG_DEBUG, ctx);
    }
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    for (int lv = PTK_LOG_ERROR; lv <= PTK_LOG_DEBUG; lv++)
        roundtrip_log((enum ptk_log_level)lv, all);
    roundtrip_log(PTK_LOG_NOTICE, "");
    roundtrip_log(PTK_LOG_NOTICE, "\x01"
                                  "23abc");
    roundtrip_log(PTK_LOG_NOTICE, "\\377");
    roundtrip_log(PTK_LOG_WARNING, "SEVERITY=error MESSAGE=\"forged\"");
}

static void test_roundtrip_other(void **st)
{
    (void)st;
    struct ptk_buf b;
    struct ptk_msg m;
    struct sockaddr_storage a6 = mkaddr("2001:db8::7", 4433), a4 = mkaddr("10.1.2.3", 9);
    ptk_buf_init(&b, 8192);

    assert_int_equal(ptk_msg_cmethod(&b, "meek_lite", "socks5", (struct sockaddr *)&a6), PTK_OK);
    assert_int_equal(ptk_msg_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b) - 1, &m, NULL),
                     PTK_OK);
    assert_int_equal(m.type, PTK_MSG_CMETHOD);
    assert_string_equal(m.transport, "meek_lite");
    assert_int_equal(m.socks_version, 5);
    assert_addr(&m.addr, "2001:db8::7", 4433);
    ptk_msg_free(&m);
    ptk_buf_reset(&b);

    struct ptk_kvlist args = PTK_KVLIST_INIT;
    assert_int_equal(ptk_kvlist_add(&args, "k=,\\", 4, "v,=\\x\xc3\xa9", 7), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&args, "cert", 4, "AbC+/9", 6), PTK_OK);
    assert_int_equal(ptk_msg_smethod(&b, "obfs4", (struct sockaddr *)&a4, &args), PTK_OK);
    assert_int_equal(ptk_msg_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b) - 1, &m, NULL),
                     PTK_OK);
    assert_int_equal(m.type, PTK_MSG_SMETHOD);
    assert_addr(&m.addr, "10.1.2.3", 9);
    assert_int_equal((int)m.kv.n, 2);
    assert_string_equal(m.kv.items[0].key, "k=,\\");
    assert_string_equal(m.kv.items[0].value, "v,=\\x\xc3\xa9");
    assert_string_equal(m.kv.items[1].value, "AbC+/9");
    ptk_msg_free(&m);
    ptk_kvlist_free(&args);
    ptk_buf_reset(&b);

    /* STATUS values of every byte come back */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    struct ptk_kvlist kv = PTK_KVLIST_INIT;
    assert_int_equal(ptk_kvlist_add(&kv, "ALL", 3, all, 255), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&kv, "UTF8", 4, "caf\xc3\xa9", 5), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&kv, "Q", 1, "it's", 4), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&kv, "E", 1, "", 0), PTK_OK);
    assert_int_equal(ptk_kvlist_add(&kv, "B", 1, "a\\b", 3), PTK_OK);
    assert_int_equal(ptk_msg_status(&b, "ob fs\n4", &kv), PTK_OK);
    const char *line = (const char *)ptk_buf_data(&b);
    assert_null(memchr(line, '\n', ptk_buf_len(&b) - 1));
    assert_int_equal(ptk_msg_parse(line, ptk_buf_len(&b) - 1, &m, NULL), PTK_OK);
    assert_int_equal(m.type, PTK_MSG_STATUS);
    assert_string_equal(m.transport, "ob fs\n4");
    assert_int_equal((int)m.kv.n, 6);
    assert_string_equal(ptk_kvlist_get(&m.kv, "ALL"), all);
    assert_string_equal(ptk_kvlist_get(&m.kv, "UTF8"), "caf\xc3\xa9");
    assert_string_equal(ptk_kvlist_get(&m.kv, "Q"), "it's");
    assert_string_equal(ptk_kvlist_get(&m.kv, "E"), "");
    assert_string_equal(ptk_kvlist_get(&m.kv, "B"), "a\\b");
    ptk_msg_free(&m);
    ptk_kvlist_free(&kv);
    ptk_buf_reset(&b);

    /* error lines: the parser gets the name and the (sanitised) text back */
    assert_int_equal(ptk_msg_smethod_error(&b, "obfs4", "no\nkey"), PTK_OK);
    assert_int_equal(ptk_msg_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b) - 1, &m, NULL),
                     PTK_OK);
    assert_int_equal(m.type, PTK_MSG_SMETHOD_ERROR);
    assert_string_equal(m.transport, "obfs4");
    assert_string_equal(m.text, "no?key");
    ptk_msg_free(&m);
    ptk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emit_simple),     cmocka_unit_test(test_emit_error_text_sanitised),
        cmocka_unit_test(test_emit_methods),    cmocka_unit_test(test_emit_refuses),
        cmocka_unit_test(test_emit_log),        cmocka_unit_test(test_emit_status),
        cmocka_unit_test(test_cquote_api),      cmocka_unit_test(test_parse_prefix_order),
        cmocka_unit_test(test_parse_version),   cmocka_unit_test(test_parse_cmethod),
        cmocka_unit_test(test_parse_smethod),   cmocka_unit_test(test_parse_log),
        cmocka_unit_test(test_parse_status),    cmocka_unit_test(test_roundtrip_log),
        cmocka_unit_test(test_roundtrip_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
