/*
 * Unit tests: SOCKS server and client codecs (proto/socks_server.c,
 * proto/socks_client.c). Server cases replay the exact byte flows tor sends
 * (reference/tor-side.md "SOCKS args") and check every failure reply byte for
 * byte; client cases run against hand-written proxy replies; loop cases wire
 * the client to the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "proto/socks_client.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/socks.h"

/* A byte-string literal as (pointer, length). */
#define B(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void expect_out(struct ptk_buf *out, const uint8_t *exp, size_t n)
{
    assert_int_equal(ptk_buf_len(out), n);
    if (n)
        assert_memory_equal(ptk_buf_data(out), exp, n);
    ptk_buf_reset(out);
}

/* Feed in[0..n) at once. */
static int feed(struct ptk_socks_server *s, const uint8_t *in, size_t n, size_t *consumed,
                struct ptk_buf *out)
{
    return ptk_socks_server_feed(s, in, n, consumed, out);
}

/* Feed in[0..n) one byte at a time until the codec stops; *consumed totals the bytes used. */
static int feed_bytewise(struct ptk_socks_server *s, const uint8_t *in, size_t n, size_t *consumed,
                         struct ptk_buf *out)
{
    size_t total = 0, c;
    int r = PTK_MORE;
    for (size_t i = 0; i < n; i++) {
        r = ptk_socks_server_feed(s, in + i, 1, &c, out);
        total += c;
        if (r != PTK_MORE)
            break;
        assert_int_equal(c, 1);
    }
    *consumed = total;
    return r;
}

/* Build an RFC 1929 message for user[0..ulen) / pass[0..plen). */
static size_t rfc1929(uint8_t *msg, const void *user, size_t ulen, const void *pass, size_t plen)
{
    msg[0] = 0x01;
    msg[1] = (uint8_t)ulen;
    memcpy(msg + 2, user, ulen);
    msg[2 + ulen] = (uint8_t)plen;
    memcpy(msg + 3 + ulen, pass, plen);
    return 3 + ulen + plen;
}

static const uint8_t connect_v4[] = {0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x01, 0xbb};

/* ---------------------------------------------------------------- server */

static void test_server_v5_noauth(void **st)
{
    (void)st;
    struct ptk_socks_server s;
    struct ptk_buf out;
    size_t c;
    ptk_buf_init(&out, 4096);
    ptk_socks_server_init(&s, 0);
    assert_string_equal(ptk_socks_server_error(&s), "");
    /* tor without args: method 00 only */
    assert_int_equal(feed(&s, B("\x05\x01\x00"), &c, &out), PTK_MORE);
    assert_int_equal(c, 3);
    expect_out(&out, B("\x05\x00"));
    assert_int_equal(feed(&s, connect_v4, sizeof(connect_v4), &c, &out), PTK_DONE);
    assert_int_equal(c, sizeof(connect_v4));
    expect_out(&out, NULL, 0);
    assert_int_equal(s.req.version, 5);
    assert_int_equal(s.req.atyp, PTK_SOCKS_ATYP_IPV4);
    assert_string_equal(s.req.host, "192.0.2.1");
    assert_memory_equal(s.req.ip, "\xc0\x00\x02\x01", 4);
    assert_int_equal(s.req.port, 443);
    assert_int_equal((int)s.req.args.n, 0);
    assert_false(s.req.had_auth);
    /* feeding after DONE takes nothing */
    assert_int_equal(feed(&s, B("xx"), &c, &out), PTK_DONE);
    assert_int_equal(c, 0);
    assert_int_equal(ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, NULL, &out), PTK_OK);
    expect_out(&out, B("\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"));
    assert_int_equal(ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, NULL, &out), PTK_ESTATE);
    ptk_socks_server_free(&s);
    ptk_buf_free(&out);
}

static void test_server_v5_short_args(void **st)
{
    (void)st;
    /* tor with args <= 255 bytes: methods 00 02, USERNAME = args, PASSWORD = "\0" */
    const char *args = "cert=AAEC+/xyz;iat-mode=0";
    struct ptk_socks_server s;
    struct ptk_buf out;
    uint8_t in[600];
    size_t n = 0, c;
    memcpy(in, "\x05\x02\x00\x02", 4);
    n = 4;
    n += rfc1929(in + n, args, strlen(args), "", 1);
    memcpy(in + n, connect_v4, sizeof(connect_v4));
    n += sizeof(connect_v4);
    ptk_buf_init(&out, 4096);
    ptk_socks_server_init(&s, 0);
    /* all at once: method reply and auth reply land in out together */
    assert_int_equal(feed(&s, in, n, &c, &out), PTK_DONE);
    assert_int_equal(c, n);
    expect_out(&out, B("\x05\x02\x01\x00"));
    assert_true(s.req.had_auth);
    assert_int_equal((int)s.req.args.n, 2);
    assert_string_equal(ptk_kvlist_get(&s.req.args, "cert"), "AAEC+/xyz");
    assert_string_equal(ptk_kvlist_get(&s.req.args, "iat-mode"), "0");
    assert_string_equal(s.req.host, "192.0.2.1");
    ptk_socks_server_free(&s);
    ptk_buf_free(&out);
}

static void test_server_v5_long_args(void **st)
{
    (void)st;
    /* 400 bytes of args: tor splits 255 / 145; the split falls inside an escape */
    char args[401];
    struct ptk_kvlist expect = PTK_KVLIST_INIT;
    const uint8_t *user, *pass;
    size_t ulen, plen, n, c;
    uint8_t in[700];
    memcpy(args, "cert=", 5);
    memset(args + 5, 'a', 395);
    memcpy(args + 250, ";b=x", 4);
    args[254] = '\\'; /* the last username byte escapes the first password byte */
    args[255] = ';';
    args[400] = '\0';
    assert_int_equal(ptk_args_parse(args, 400, &expect, NULL), PTK_OK);
    assert_int_equal((int)expect.n, 2);
    assert_memory_equal(ptk_kvlist_get(&expect, "b"), "x;aa", 4);
    assert_int_equal(ptk_socks_args_split(args, 400, &user, &ulen, &pass, &plen), PTK_OK);
    assert_int_equal(ulen, 255);
    assert_int_equal(plen, 145);

    memcpy(in, "\x05\x02\x00\x02", 4);
    n = 4 + rfc1929(in + 4, user, ulen, pass, plen);
    memcpy(in + n, connect_v4, sizeof(connect_v4));
    n += sizeof(connect_v4);

    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct ptk_socks_server s;
        struct ptk_buf out;
        ptk_buf_init(&out, 4096);
        ptk_socks_server_init(&s, 0);
        int r = bytewise ? feed_bytewise(&s, in, n, &c, &out) : feed(&s, in, n, &c, &out);
        assert_int_equal(r, PTK_DONE);
        assert_int_equal(c, n);
        expect_out(&out, B("\x05\x02\x01\x00"));
        assert_int_equal(s.req.args.n, expect.n);
        for (size_t i = 0; i < expect.n; i++) {
            assert_string_equal(s.req.args.items[i].key, expect.items[i].key);
            assert_string_equal(s.req.args.items[i].value, expect.items[i].value);
        }
        ptk_socks_server_free(&s);
        ptk_buf_free(&out);
    }
    ptk_kvlist_free(&expect);
}

static void test_server_v5_targets(void **st)
{
    (void)st;
    static const uint8_t v6[] = {0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    1, 0x23, 0x28};
    static const uint8_t dom[] = "\x05\x01\x00\x03\x0b"
                                 "example.com\x00\x50";
    struct ptk_socks_server s;
    struct ptk_buf out;
    size_t c;
    ptk_buf_init(&out, 4096);

    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, B("\x05\x01\x00"), &c, &out), PTK_MORE);
    assert_int_equal(feed(&s, v6, sizeof(v6), &c, &out), PTK_DONE);
    assert_int_equal(s.req.atyp, PTK_SOCKS_ATYP_IPV6);
    assert_string_equal(s.req.host, "2001:db8::1");
    assert_memory_equal(s.req.ip, v6 + 4, 16);
    assert_int_equal(s.req.port, 9000);
    ptk_socks_server_free(&s);
    ptk_buf_reset(&out);

    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, B("\x05\x01\x00"), &c, &out), PTK_MORE);
    assert_int_equal(feed(&s, dom, sizeof(dom) - 1, &c, &out), PTK_DONE);
    assert_int_equal(c, sizeof(dom) - 1);
    assert_int_equal(s.req.atyp, PTK_SOCKS_ATYP_DOMAIN);
    assert_string_equal(s.req.host, "example.com");
    assert_int_equal(s.req.port, 80);
    ptk_socks_server_free(&s);
    ptk_buf_free(&out);
}

static void test_server_v5_reply_bound(void **st)
{
    (void)st;
    struct ptk_socks_server s;
    struct ptk_buf out;
    struct sockaddr_in sin = {0};
    struct sockaddr_in6 sin6 = {0};
    struct sockaddr_un_like {
        sa_family_t family;
        char pad[32];
    } other = {AF_UNIX, {0}};
    size_t c;
    sin.sin_family = AF_INET;
    sin.sin_port = htons(0x1234);
    inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(0x5678);
    inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
    ptk_buf_init(&out, 4096);

    ptk_socks_server_init(&s, 0);
    assert_int_equal(ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, NULL, &out), PTK_ESTATE);
    assert_int_equal(feed(&s, B("\x05\x01\x00"), &c, &out), PTK_MORE);
    assert_int_equal(feed(&s, connect_v4, sizeof(connect_v4), &c, &out), PTK_DONE);
    ptk_buf_reset(&out);
    assert_int_equal(
        ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, (const struct sockaddr *)&other, &out),
        PTK_EINVAL);
    assert_int_equal(
        ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, (const struct sockaddr *)&sin, &out),
        PTK_OK);
    expect_out(&out, B("\x05\x00\x00\x01\x0a\x01\x02\x03\x12\x34"));
    ptk_socks_server_free(&s);

    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, B("\x05\x01\x00"), &c, &out), PTK_MORE);
    assert_int_equal(feed(&s, connect_v4, sizeof(connect_v4), &c, &out), PTK_DONE);
    ptk_buf_reset(&out);
    assert_int_equal(
        ptk_socks_server_reply(&s, PTK_SOCKS_CONN_REFUSED, (const struct sockaddr *)&sin6, &out),
        PTK_OK);
    expect_out(&out, B("\x05\x05\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                       "\x00\x00\x01\x56\x78"));
    ptk_socks_server_free(&s);
    ptk_buf_free(&out);
}

static void test_server_v4(void **st)
{
    (void)st;
    /* tor's SOCKS4: IPv4 target, USERID = args + NUL */
    static const uint8_t req[] = "\x04\x01\x01\xbb\xc0\x00\x02\x01"
                                 "cert=abc;iat-mode=1\x00";
    struct ptk_socks_server s;
    struct ptk_buf out;
    struct sockaddr_in sin = {0};
    size_t c;
    ptk_buf_init(&out, 4096);
    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, req, sizeof(req) - 1, &c, &out), PTK_DONE);
    assert_int_equal(c, sizeof(req) - 1);
    expect_out(&out, NULL, 0);
    assert_int_equal(s.req.version, 4);
    assert_int_equal(s.req.atyp, PTK_SOCKS_ATYP_IPV4);
    assert_string_equal(s.req.host, "192.0.2.1");
    assert_int_equal(s.req.port, 443);
    assert_true(s.req.had_auth);
    assert_int_equal((int)s.req.args.n, 2);
    assert_string_equal(ptk_kvlist_get(&s.req.args, "iat-mode"), "1");
    assert_int_equal(ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, NULL, &out), PTK_OK);
    expect_out(&out, B("\x00\x5a\x00\x00\x00\x00\x00\x00"));
    ptk_socks_server_free(&s);

    /* empty USERID: no args; failure maps to 0x5b; bound IPv4 is echoed */
    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, B("\x04\x01\x00\x50\x7f\x00\x00\x01\x00"), &c, &out), PTK_DONE);
    assert_false(s.req.had_auth);
    assert_int_equal((int)s.req.args.n, 0);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(0x0102);
    sin.sin_addr.s_addr = htonl(0x0a000001);
    assert_int_equal(
        ptk_socks_server_reply(&s, PTK_SOCKS_HOST_UNREACHABLE, (const struct sockaddr *)&sin, &out),
        PTK_OK);
    expect_out(&out, B("\x00\x5b\x01\x02\x0a\x00\x00\x01"));
    ptk_socks_server_free(&s);
    ptk_buf_free(&out);
}

static void test_server_v4a(void **st)
{
    (void)st;
    static const uint8_t req[] = "\x04\x01\x00\x50\x00\x00\x00\x07"
                                 "k=v\x00"
                                 "bridge.example.org\x00"
                                 "EARLY";
    const size_t reqlen = sizeof(req) - 1 - 5;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct ptk_socks_server s;
        struct ptk_buf out;
        size_t c;
        ptk_buf_init(&out, 4096);
        ptk_socks_server_init(&s, 0);
        int r = bytewise ? feed_bytewise(&s, req, sizeof(req) - 1, &c, &out)
                         : feed(&s, req, sizeof(req) - 1, &c, &out);
        assert_int_equal(r, PTK_DONE);
        assert_int_equal(c, reqlen);
        assert_int_equal(s.req.version, 4);
        assert_int_equal(s.req.atyp, PTK_SOCKS_ATYP_DOMAIN);
        assert_string_equal(s.req.host, "bridge.example.org");
        assert_int_equal(s.req.port, 80);
        assert_string_equal(ptk_kvlist_get(&s.req.args, "k"), "v");
        expect_out(&out, NULL, 0);
        ptk_socks_server_free(&s);
        ptk_buf_free(&out);
    }
}

static void test_server_bytewise_and_early_data(void **st)
{
    (void)st;
    /* greeting + auth + request + early data, one byte at a time and at once */
    const char *args = "shared-secret=s3cr3t";
    uint8_t in[600];
    size_t n = 0, reqlen;
    memcpy(in, "\x05\x02\x00\x02", 4);
    n = 4 + rfc1929(in + 4, args, strlen(args), "", 1);
    memcpy(in + n,
           "\x05\x01\x00\x03\x03"
           "abc"
           "\x00\x16",
           10);
    n += 10;
    reqlen = n;
    memcpy(in + n,
           "\x16\x03\x01"
           "early",
           8);
    n += 8;
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct ptk_socks_server s;
        struct ptk_buf out;
        size_t c;
        ptk_buf_init(&out, 4096);
        ptk_socks_server_init(&s, 0);
        int r = bytewise ? feed_bytewise(&s, in, n, &c, &out) : feed(&s, in, n, &c, &out);
        assert_int_equal(r, PTK_DONE);
        assert_int_equal(c, reqlen);
        expect_out(&out, B("\x05\x02\x01\x00"));
        assert_string_equal(s.req.host, "abc");
        assert_int_equal(s.req.port, 22);
        assert_string_equal(ptk_kvlist_get(&s.req.args, "shared-secret"), "s3cr3t");
        assert_int_equal(ptk_buf_len(&s.creds), strlen(args));
        ptk_socks_server_free(&s);
        ptk_buf_free(&out);
    }
}

/* Run `in` through a fresh server; expect error `err` and exactly `reply` in out. */
static void expect_fail(unsigned flags, const uint8_t *in, size_t n, int err, const uint8_t *reply,
                        size_t rlen)
{
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct ptk_socks_server s;
        struct ptk_buf out;
        size_t c;
        ptk_buf_init(&out, 4096);
        ptk_socks_server_init(&s, flags);
        int r = bytewise ? feed_bytewise(&s, in, n, &c, &out) : feed(&s, in, n, &c, &out);
        assert_int_equal(r, err);
        assert_true(c <= n);
        assert_string_not_equal(ptk_socks_server_error(&s), "");
        expect_out(&out, reply, rlen);
        /* a failed codec stays failed */
        assert_int_equal(feed(&s, B("\x05"), &c, &out), PTK_ESTATE);
        assert_int_equal(c, 0);
        assert_int_equal(ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, NULL, &out), PTK_ESTATE);
        expect_out(&out, NULL, 0);
        ptk_socks_server_free(&s);
        ptk_buf_free(&out);
    }
}

#define V5_FAIL(code) "\x05" code "\x00\x01\x00\x00\x00\x00\x00\x00"

static void test_server_failures_v5(void **st)
{
    (void)st;
    /* not SOCKS at all: nothing written */
    expect_fail(0, B("GET / HTTP/1.0\r\n"), PTK_EPROTO, NULL, 0);
    expect_fail(0, B("\x00"), PTK_EPROTO, NULL, 0);
    /* disabled versions */
    expect_fail(PTK_SOCKS_NO_V5, B("\x05\x01\x00"), PTK_ENOTSUP, NULL, 0);
    expect_fail(PTK_SOCKS_NO_V4, B("\x04\x01\x00\x50\x7f\x00\x00\x01\x00"), PTK_ENOTSUP, NULL, 0);
    /* no acceptable method */
    expect_fail(0, B("\x05\x01\x01"), PTK_ENOTSUP, B("\x05\xff"));
    expect_fail(0, B("\x05\x03\x01\x03\x80"), PTK_ENOTSUP, B("\x05\xff"));
    expect_fail(0, B("\x05\x00"), PTK_ENOTSUP, B("\x05\xff"));
    /* request: bad version, command, reserved byte, address type, empty or NUL domain */
    expect_fail(0, B("\x05\x01\x00\x04\x01\x00\x01"), PTK_EPROTO, B("\x05\x00" V5_FAIL("\x01")));
    expect_fail(0, B("\x05\x01\x00\x05\x02\x00\x01"), PTK_ENOTSUP, B("\x05\x00" V5_FAIL("\x07")));
    expect_fail(0, B("\x05\x01\x00\x05\x03\x00\x01"), PTK_ENOTSUP, B("\x05\x00" V5_FAIL("\x07")));
    expect_fail(0, B("\x05\x01\x00\x05\x01\x01\x01"), PTK_EPROTO, B("\x05\x00" V5_FAIL("\x01")));
    expect_fail(0, B("\x05\x01\x00\x05\x01\x00\x02"), PTK_ENOTSUP, B("\x05\x00" V5_FAIL("\x08")));
    expect_fail(0, B("\x05\x01\x00\x05\x01\x00\x00"), PTK_ENOTSUP, B("\x05\x00" V5_FAIL("\x08")));
    expect_fail(0, B("\x05\x01\x00\x05\x01\x00\x03\x00"), PTK_EPROTO,
                B("\x05\x00" V5_FAIL("\x01")));
    expect_fail(0,
                B("\x05\x01\x00\x05\x01\x00\x03\x03"
                  "a\x00"
                  "b\x00\x50"),
                PTK_EPROTO, B("\x05\x00" V5_FAIL("\x01")));
}

static void test_server_failures_auth(void **st)
{
    (void)st;
    /* bad args: 01 01 and the reason */
    expect_fail(0, B("\x05\x02\x00\x02\x01\x05nokey\x01\x00"), PTK_EINVAL, B("\x05\x02\x01\x01"));
    expect_fail(0, B("\x05\x01\x02\x01\x03k=\\\x01\x00"), PTK_EINVAL, B("\x05\x02\x01\x01"));
    /* a NUL inside the arguments (not the lone-NUL password) */
    expect_fail(0, B("\x05\x01\x02\x01\x03k=v\x02\x00x"), PTK_EINVAL, B("\x05\x02\x01\x01"));
    /* zero ULEN, zero PLEN, bad subnegotiation version */
    expect_fail(0, B("\x05\x01\x02\x01\x00\x01\x00"), PTK_EPROTO, B("\x05\x02\x01\x01"));
    expect_fail(0, B("\x05\x01\x02\x01\x03k=v\x00"), PTK_EPROTO, B("\x05\x02\x01\x01"));
    expect_fail(0, B("\x05\x01\x02\x05\x03k=v\x01\x00"), PTK_EPROTO, B("\x05\x02\x01\x01"));

    struct ptk_socks_server s;
    struct ptk_buf out;
    size_t c;
    ptk_buf_init(&out, 4096);
    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, B("\x05\x01\x02\x01\x05nokey\x01\x00"), &c, &out), PTK_EINVAL);
    assert_string_equal(ptk_socks_server_error(&s), "missing '=' in an argument");
    assert_int_equal((int)s.req.args.n, 0);
    ptk_socks_server_free(&s);
    ptk_buf_free(&out);
}

static void test_server_failures_v4(void **st)
{
    (void)st;
    static const uint8_t rej[] = "\x00\x5b\x00\x00\x00\x00\x00\x00";
    /* BIND */
    expect_fail(0, B("\x04\x02\x00\x50\x7f\x00\x00\x01\x00"), PTK_ENOTSUP, rej, 8);
    /* USERID that is not k=v */
    expect_fail(0, B("\x04\x01\x00\x50\x7f\x00\x00\x01nobody\x00"), PTK_EINVAL, rej, 8);
    /* SOCKS4a with an empty domain */
    expect_fail(0, B("\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00"), PTK_EPROTO, rej, 8);
}

static void test_server_caps(void **st)
{
    (void)st;
    static const uint8_t rej[] = "\x00\x5b\x00\x00\x00\x00\x00\x00";
    uint8_t in[2048];
    struct ptk_socks_server s;
    struct ptk_buf out;
    size_t c;
    ptk_buf_init(&out, 4096);

    /* USERID of exactly 1024 bytes is fine, 1025 is not */
    memcpy(in, "\x04\x01\x00\x50\x7f\x00\x00\x01k=", 10);
    memset(in + 10, 'v', 1022);
    in[1032] = '\0';
    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, in, 1033, &c, &out), PTK_DONE);
    assert_int_equal(c, 1033);
    assert_int_equal(strlen(ptk_kvlist_get(&s.req.args, "k")), 1022);
    ptk_socks_server_free(&s);
    in[1032] = 'v';
    in[1033] = '\0';
    expect_fail(0, in, 1034, PTK_ETOOBIG, rej, 8);
    /* no NUL at all: fails once the cap is passed, without reading further */
    memset(in + 10, 'v', 1500);
    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, in, 1510, &c, &out), PTK_ETOOBIG);
    assert_true(c <= 8 + 1024);
    expect_out(&out, rej, 8);
    ptk_socks_server_free(&s);

    /* SOCKS4a domain of 255 bytes is fine, 256 is not */
    memcpy(in, "\x04\x01\x00\x50\x00\x00\x00\x01\x00", 9);
    memset(in + 9, 'd', 255);
    in[264] = '\0';
    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, in, 265, &c, &out), PTK_DONE);
    assert_int_equal(strlen(s.req.host), 255);
    ptk_socks_server_free(&s);
    in[264] = 'd';
    in[265] = '\0';
    expect_fail(0, in, 266, PTK_ETOOBIG, rej, 8);

    /* SOCKS5 maxima: 255 methods, 255+255 credentials, 255-byte domain */
    size_t n = 0;
    in[n++] = 0x05;
    in[n++] = 0xff;
    memset(in + n, 0x80, 255);
    in[n + 254] = 0x02;
    n += 255;
    in[n++] = 0x01;
    in[n++] = 0xff;
    memcpy(in + n, "k=", 2);
    memset(in + n + 2, 'u', 253);
    n += 255;
    in[n++] = 0xff;
    memset(in + n, 'p', 255);
    n += 255;
    memcpy(in + n, "\x05\x01\x00\x03\xff", 5);
    n += 5;
    memset(in + n, 'h', 255);
    n += 255;
    in[n++] = 0x00;
    in[n++] = 0x01;
    ptk_socks_server_init(&s, 0);
    assert_int_equal(feed(&s, in, n, &c, &out), PTK_DONE);
    assert_int_equal(c, n);
    expect_out(&out, B("\x05\x02\x01\x00"));
    assert_int_equal(strlen(ptk_kvlist_get(&s.req.args, "k")), 253 + 255);
    assert_int_equal(strlen(s.req.host), 255);
    assert_int_equal(s.req.port, 1);
    ptk_socks_server_free(&s);
    ptk_buf_free(&out);
}

static void test_reply_names(void **st)
{
    (void)st;
    assert_string_equal(ptk_socks_reply_name(PTK_SOCKS_SUCCEEDED), "succeeded");
    assert_string_equal(ptk_socks_reply_name(PTK_SOCKS_ATYP_UNSUPPORTED),
                        "address type not supported");
    assert_string_equal(ptk_socks_reply_name((enum ptk_socks_reply)0x42), "unknown SOCKS reply");
}

/* ---------------------------------------------------------------- client */

static int cfeed(struct ptk_socks_client *c, const uint8_t *in, size_t n, size_t *used,
                 struct ptk_buf *out)
{
    return ptk_socks_client_feed(c, in, n, used, out);
}

static void test_client_v5_noauth(void **st)
{
    (void)st;
    struct ptk_socks_client_cfg cfg = {.version = 5, .host = "192.0.2.1", .port = 443};
    struct ptk_socks_client c;
    struct ptk_buf out;
    size_t used;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_socks_client_init(&c, &cfg, &out), PTK_OK);
    expect_out(&out, B("\x05\x01\x00"));
    assert_int_equal(cfeed(&c, B("\x05\x00"), &used, &out), PTK_MORE);
    assert_int_equal(used, 2);
    expect_out(&out, connect_v4, sizeof(connect_v4));
    /* the reply arrives with stream data behind it */
    assert_int_equal(cfeed(&c,
                           B("\x05\x00\x00\x01\x0a\x00\x00\x01\x04\xd2"
                             "data"),
                           &used, &out),
                     PTK_DONE);
    assert_int_equal(used, 10);
    assert_int_equal(c.reply, 0);
    expect_out(&out, NULL, 0);
    assert_int_equal(cfeed(&c, B("data"), &used, &out), PTK_DONE);
    assert_int_equal(used, 0);
    ptk_socks_client_free(&c);
    ptk_buf_free(&out);
}

static void test_client_v5_auth(void **st)
{
    (void)st;
    struct ptk_socks_client_cfg cfg = {.version = 5,
                                       .host = "example.com",
                                       .port = 80,
                                       .user = (const uint8_t *)"user",
                                       .userlen = 4,
                                       .pass = (const uint8_t *)"pw",
                                       .passlen = 2};
    struct ptk_socks_client c;
    struct ptk_buf out;
    size_t used;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_socks_client_init(&c, &cfg, &out), PTK_OK);
    expect_out(&out, B("\x05\x02\x00\x02"));
    assert_int_equal(cfeed(&c, B("\x05\x02"), &used, &out), PTK_MORE);
    expect_out(&out, B("\x01\x04user\x02pw"));
    assert_int_equal(cfeed(&c, B("\x01\x00"), &used, &out), PTK_MORE);
    expect_out(&out, B("\x05\x01\x00\x03\x0b"
                       "example.com"
                       "\x00\x50"));
    /* bound address given as a domain, fed one byte at a time */
    static const uint8_t rep[] = "\x05\x00\x00\x03\x04host\x12\x34X";
    for (size_t i = 0; i < sizeof(rep) - 2; i++) {
        int r = cfeed(&c, rep + i, 1, &used, &out);
        assert_int_equal(used, 1);
        assert_int_equal(r, i == sizeof(rep) - 3 ? PTK_DONE : PTK_MORE);
    }
    assert_int_equal(cfeed(&c, B("X"), &used, &out), PTK_DONE);
    assert_int_equal(used, 0);
    ptk_socks_client_free(&c);

    /* the proxy picks "no auth" although we offered 02: the request goes straight out */
    assert_int_equal(ptk_socks_client_init(&c, &cfg, &out), PTK_OK);
    ptk_buf_reset(&out);
    assert_int_equal(cfeed(&c, B("\x05\x00"), &used, &out), PTK_MORE);
    expect_out(&out, B("\x05\x01\x00\x03\x0b"
                       "example.com"
                       "\x00\x50"));
    /* an IPv6 bound address */
    assert_int_equal(cfeed(&c,
                           B("\x05\x00\x00\x04"
                             "0123456789abcdef"
                             "\x00\x01"),
                           &used, &out),
                     PTK_DONE);
    assert_int_equal(used, 22);
    ptk_socks_client_free(&c);
    ptk_buf_free(&out);
}

static void test_client_v5_ipv6(void **st)
{
    (void)st;
    struct ptk_socks_client_cfg cfg = {.version = 5, .host = "2001:db8::1", .port = 9000};
    struct ptk_socks_client c;
    struct ptk_buf out;
    size_t used;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_socks_client_init(&c, &cfg, &out), PTK_OK);
    ptk_buf_reset(&out);
    assert_int_equal(cfeed(&c, B("\x05\x00"), &used, &out), PTK_MORE);
    expect_out(&out, B("\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                       "\x00\x01\x23\x28"));
    ptk_socks_client_free(&c);
    ptk_buf_free(&out);
}

/* Start a client with cfg, feed it `script` (after the greeting), expect `err`. */
static void client_expect(const struct ptk_socks_client_cfg *cfg, const uint8_t *script, size_t n,
                          int err, uint8_t reply)
{
    struct ptk_socks_client c;
    struct ptk_buf out;
    size_t used;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_socks_client_init(&c, cfg, &out), PTK_OK);
    assert_int_equal(cfeed(&c, script, n, &used, &out), err);
    assert_true(used <= n);
    if (err == PTK_EDENIED)
        assert_int_equal(c.reply, reply);
    assert_string_not_equal(ptk_socks_client_error(&c), "");
    assert_int_equal(cfeed(&c, script, n, &used, &out), PTK_ESTATE);
    ptk_socks_client_free(&c);
    ptk_buf_free(&out);
}

static void test_client_v5_failures(void **st)
{
    (void)st;
    struct ptk_socks_client_cfg none = {.version = 5, .host = "192.0.2.1", .port = 443};
    struct ptk_socks_client_cfg auth = none;
    auth.user = (const uint8_t *)"u";
    auth.userlen = 1;
    auth.pass = (const uint8_t *)"p";
    auth.passlen = 1;
    /* no acceptable method; a method we did not offer; a bad version */
    client_expect(&none, B("\x05\xff"), PTK_EAUTH, 0);
    client_expect(&auth, B("\x05\xff"), PTK_EAUTH, 0);
    client_expect(&none, B("\x05\x02"), PTK_EAUTH, 0);
    client_expect(&auth, B("\x05\x01"), PTK_EAUTH, 0);
    client_expect(&none, B("\x04\x00"), PTK_EPROTO, 0);
    /* credentials rejected */
    client_expect(&auth, B("\x05\x02\x01\x01"), PTK_EAUTH, 0);
    client_expect(&auth, B("\x05\x02\x05\x00"), PTK_EAUTH, 0);
    /* CONNECT refused: reported as soon as the code is in */
    client_expect(&none, B("\x05\x00\x05\x05"), PTK_EDENIED, 0x05);
    client_expect(&auth, B("\x05\x02\x01\x00\x05\x01\x00\x01\x00\x00\x00\x00\x00\x00"), PTK_EDENIED,
                  0x01);
    /* malformed replies */
    client_expect(&none, B("\x05\x00\x04\x00"), PTK_EPROTO, 0);
    client_expect(&none, B("\x05\x00\x05\x00\x00\x07"), PTK_EPROTO, 0);
}

static void test_client_v4(void **st)
{
    (void)st;
    struct ptk_socks_client_cfg cfg = {.version = 4,
                                       .host = "192.0.2.1",
                                       .port = 443,
                                       .user = (const uint8_t *)"k=v",
                                       .userlen = 3};
    struct ptk_socks_client c;
    struct ptk_buf out;
    size_t used;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_socks_client_init(&c, &cfg, &out), PTK_OK);
    expect_out(&out, B("\x04\x01\x01\xbb\xc0\x00\x02\x01k=v\x00"));
    assert_int_equal(cfeed(&c, B("\x00\x5a\x00\x00"), &used, &out), PTK_MORE);
    assert_int_equal(cfeed(&c, B("\x00\x00\x00\x00more"), &used, &out), PTK_DONE);
    assert_int_equal(used, 4);
    assert_int_equal(c.reply, 0x5a);
    ptk_socks_client_free(&c);

    /* SOCKS4a for a name, no USERID */
    cfg.host = "example.com";
    cfg.user = NULL;
    cfg.userlen = 0;
    assert_int_equal(ptk_socks_client_init(&c, &cfg, &out), PTK_OK);
    expect_out(&out, B("\x04\x01\x01\xbb\x00\x00\x00\x01\x00"
                       "example.com\x00"));
    ptk_socks_client_free(&c);

    client_expect(&cfg, B("\x00\x5b\x00\x00\x00\x00\x00\x00"), PTK_EDENIED, 0x5b);
    client_expect(&cfg, B("\x00\x5d\x00\x00\x00\x00\x00\x00"), PTK_EDENIED, 0x5d);
    client_expect(&cfg, B("\x04\x5a\x00\x00\x00\x00\x00\x00"), PTK_EPROTO, 0);
    ptk_buf_free(&out);
}

static void test_client_bad_cfg(void **st)
{
    (void)st;
    char longname[300];
    uint8_t big[1100];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    memset(big, 'u', sizeof(big));
    const struct ptk_socks_client_cfg bad[] = {
        {.version = 3, .host = "192.0.2.1", .port = 1},
        {.version = 5, .host = NULL, .port = 1},
        {.version = 5, .host = "", .port = 1},
        {.version = 5, .host = "192.0.2.1", .port = 0},
        {.version = 5, .host = longname, .port = 1},
        {.version = 5,
         .host = "h",
         .port = 1,
         .user = big,
         .userlen = 0,
         .pass = big,
         .passlen = 1},
        {.version = 5,
         .host = "h",
         .port = 1,
         .user = big,
         .userlen = 256,
         .pass = big,
         .passlen = 1},
        {.version = 5,
         .host = "h",
         .port = 1,
         .user = big,
         .userlen = 1,
         .pass = big,
         .passlen = 256},
        {.version = 5, .host = "h", .port = 1, .user = big, .userlen = 1},
        {.version = 5, .host = "h", .port = 1, .pass = big, .passlen = 1},
        {.version = 4, .host = "2001:db8::1", .port = 1},
        {.version = 4, .host = longname, .port = 1},
        {.version = 4, .host = "h", .port = 1, .user = (const uint8_t *)"a\0b", .userlen = 3},
        {.version = 4, .host = "h", .port = 1, .user = big, .userlen = 1025},
        {.version = 4,
         .host = "h",
         .port = 1,
         .user = big,
         .userlen = 1,
         .pass = big,
         .passlen = 1},
    };
    struct ptk_buf out;
    ptk_buf_init(&out, 4096);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ptk_socks_client c;
        size_t used;
        assert_int_equal(ptk_socks_client_init(&c, &bad[i], &out), PTK_EINVAL);
        assert_int_equal(ptk_buf_len(&out), 0);
        assert_string_not_equal(ptk_socks_client_error(&c), "");
        assert_int_equal(cfeed(&c, B("\x05\x00"), &used, &out), PTK_ESTATE);
        ptk_socks_client_free(&c);
    }
    ptk_buf_free(&out);
}

static void test_args_split(void **st)
{
    (void)st;
    char args[520];
    const uint8_t *u, *p;
    size_t ul, pl;
    memset(args, 'x', sizeof(args));
    assert_int_equal(ptk_socks_args_split(args, 0, &u, &ul, &p, &pl), PTK_EINVAL);
    assert_int_equal(ptk_socks_args_split(args, 511, &u, &ul, &p, &pl), PTK_ETOOBIG);
    assert_int_equal(ptk_socks_args_split(args, 1, &u, &ul, &p, &pl), PTK_OK);
    assert_ptr_equal(u, args);
    assert_int_equal(ul, 1);
    assert_int_equal(pl, 1);
    assert_int_equal(p[0], 0);
    assert_int_equal(ptk_socks_args_split(args, 255, &u, &ul, &p, &pl), PTK_OK);
    assert_int_equal(ul, 255);
    assert_int_equal(pl, 1);
    assert_int_equal(p[0], 0);
    assert_int_equal(ptk_socks_args_split(args, 256, &u, &ul, &p, &pl), PTK_OK);
    assert_int_equal(ul, 255);
    assert_ptr_equal(p, args + 255);
    assert_int_equal(pl, 1);
    assert_int_equal(ptk_socks_args_split(args, 510, &u, &ul, &p, &pl), PTK_OK);
    assert_int_equal(ul, 255);
    assert_int_equal(pl, 255);
}

/* ---------------------------------------------------------------- client <-> server */

/* Move at most `chunk` bytes from `from` into the peer; returns the feed result. */
static int pass_server(struct ptk_socks_server *s, struct ptk_buf *from, size_t chunk,
                       struct ptk_buf *out)
{
    size_t n = ptk_buf_len(from) < chunk ? ptk_buf_len(from) : chunk, used;
    int r = ptk_socks_server_feed(s, ptk_buf_data(from), n, &used, out);
    ptk_buf_consume(from, used);
    return r;
}

static int pass_client(struct ptk_socks_client *c, struct ptk_buf *from, size_t chunk,
                       struct ptk_buf *out)
{
    size_t n = ptk_buf_len(from) < chunk ? ptk_buf_len(from) : chunk, used;
    int r = ptk_socks_client_feed(c, ptk_buf_data(from), n, &used, out);
    ptk_buf_consume(from, used);
    return r;
}

/*
 * Run a client with cfg against a server until both are done; check what the
 * server saw (host, port, args `k`) and that early data stays in the pipe.
 */
static void loop(const struct ptk_socks_client_cfg *cfg, const char *host, const char *karg,
                 size_t chunk)
{
    struct ptk_socks_client c;
    struct ptk_socks_server s;
    struct ptk_buf c2s, s2c;
    int rc = PTK_MORE, rs = PTK_MORE;
    bool replied = false;
    ptk_buf_init(&c2s, 4096);
    ptk_buf_init(&s2c, 4096);
    ptk_socks_server_init(&s, 0);
    assert_int_equal(ptk_socks_client_init(&c, cfg, &c2s), PTK_OK);
    for (int i = 0; i < 10000 && !(rc == PTK_DONE && replied); i++) {
        if (rs != PTK_DONE && ptk_buf_len(&c2s)) {
            rs = pass_server(&s, &c2s, chunk, &s2c);
            assert_true(rs == PTK_MORE || rs == PTK_DONE);
        }
        if (rs == PTK_DONE && !replied) {
            /* the reply, then stream data the client must leave alone */
            assert_int_equal(ptk_socks_server_reply(&s, PTK_SOCKS_SUCCEEDED, NULL, &s2c), PTK_OK);
            assert_int_equal(ptk_buf_put(&s2c, "early", 5), PTK_OK);
            replied = true;
        }
        if (rc != PTK_DONE && ptk_buf_len(&s2c)) {
            rc = pass_client(&c, &s2c, chunk, &c2s);
            assert_true(rc == PTK_MORE || rc == PTK_DONE);
        }
    }
    assert_int_equal(rc, PTK_DONE);
    assert_int_equal(rs, PTK_DONE);
    assert_int_equal(ptk_buf_len(&c2s), 0);
    assert_int_equal(ptk_buf_len(&s2c), 5);
    assert_memory_equal(ptk_buf_data(&s2c), "early", 5);
    assert_int_equal(s.req.version, cfg->version);
    assert_string_equal(s.req.host, host);
    assert_int_equal(s.req.port, cfg->port);
    if (karg)
        assert_string_equal(ptk_kvlist_get(&s.req.args, "k"), karg);
    else
        assert_int_equal((int)s.req.args.n, 0);
    ptk_socks_client_free(&c);
    ptk_socks_server_free(&s);
    ptk_buf_free(&c2s);
    ptk_buf_free(&s2c);
}

static void test_loop(void **st)
{
    (void)st;
    char longargs[460];
    const uint8_t *u, *p;
    size_t ul, pl;
    memcpy(longargs, "k=", 2);
    memset(longargs + 2, 'z', sizeof(longargs) - 3);
    longargs[sizeof(longargs) - 1] = '\0';
    assert_int_equal(ptk_socks_args_split(longargs, strlen(longargs), &u, &ul, &p, &pl), PTK_OK);

    struct ptk_socks_client_cfg v5long = {.version = 5,
                                          .host = "198.51.100.7",
                                          .port = 4433,
                                          .user = u,
                                          .userlen = ul,
                                          .pass = p,
                                          .passlen = pl};
    assert_int_equal(ptk_socks_args_split("k=v", 3, &u, &ul, &p, &pl), PTK_OK);
    struct ptk_socks_client_cfg v5short = {.version = 5,
                                           .host = "2001:db8::7",
                                           .port = 1,
                                           .user = u,
                                           .userlen = ul,
                                           .pass = p,
                                           .passlen = pl};
    struct ptk_socks_client_cfg v5none = {.version = 5, .host = "example.net", .port = 65535};
    struct ptk_socks_client_cfg v4 = {.version = 4,
                                      .host = "203.0.113.9",
                                      .port = 80,
                                      .user = (const uint8_t *)"k=w",
                                      .userlen = 3};
    struct ptk_socks_client_cfg v4a = {.version = 4, .host = "bridge.example", .port = 8080};
    size_t chunks[] = {1, 3, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        loop(&v5long, "198.51.100.7", longargs + 2, chunks[i]);
        loop(&v5short, "2001:db8::7", "v", chunks[i]);
        loop(&v5none, "example.net", NULL, chunks[i]);
        loop(&v4, "203.0.113.9", "w", chunks[i]);
        loop(&v4a, "bridge.example", NULL, chunks[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_v5_noauth),
        cmocka_unit_test(test_server_v5_short_args),
        cmocka_unit_test(test_server_v5_long_args),
        cmocka_unit_test(test_server_v5_targets),
        cmocka_unit_test(test_server_v5_reply_bound),
        cmocka_unit_test(test_server_v4),
        cmocka_unit_test(test_server_v4a),
        cmocka_unit_test(test_server_bytewise_and_early_data),
        cmocka_unit_test(test_server_failures_v5),
        cmocka_unit_test(test_server_failures_auth),
        cmocka_unit_test(test_server_failures_v4),
        cmocka_unit_test(test_server_caps),
        cmocka_unit_test(test_reply_names),
        cmocka_unit_test(test_client_v5_noauth),
        cmocka_unit_test(test_client_v5_auth),
        cmocka_unit_test(test_client_v5_ipv6),
        cmocka_unit_test(test_client_v5_failures),
        cmocka_unit_test(test_client_v4),
        cmocka_unit_test(test_client_bad_cfg),
        cmocka_unit_test(test_args_split),
        cmocka_unit_test(test_loop),
    };
    return cmocka_run_group_tests_name("socks", tests, NULL, NULL);
}
