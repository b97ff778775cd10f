/* Unit tests: HTTP CONNECT client codec (proto/http_connect.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ptkit/error.h"
#include "proto/http_connect.h"

static void expect_request(const char *host, uint16_t port, const char *auth, const char *want)
{
    struct ptk_http_connect h;
    struct ptk_buf out;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_buf_put_str(&out, "X"), PTK_OK); /* appended, not overwritten */
    assert_int_equal(ptk_http_connect_init(&h, host, port, auth, &out), PTK_OK);
    assert_int_equal(ptk_buf_len(&out), strlen(want) + 1);
    assert_memory_equal(ptk_buf_data(&out) + 1, want, strlen(want));
    ptk_http_connect_free(&h);
    ptk_buf_free(&out);
}

static void test_request(void **st)
{
    (void)st;
    expect_request("192.0.2.1", 443, NULL,
                   "CONNECT 192.0.2.1:443 HTTP/1.1\r\nHost: 192.0.2.1:443\r\n\r\n");
    expect_request("bridge.example", 80, NULL,
                   "CONNECT bridge.example:80 HTTP/1.1\r\nHost: bridge.example:80\r\n\r\n");
    expect_request("2001:db8::1", 9001, NULL,
                   "CONNECT [2001:db8::1]:9001 HTTP/1.1\r\nHost: [2001:db8::1]:9001\r\n\r\n");
    expect_request("192.0.2.1", 65535, "user:pass",
                   "CONNECT 192.0.2.1:65535 HTTP/1.1\r\nHost: 192.0.2.1:65535\r\n"
                   "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n");
    /* credentials are not URL-decoded and may contain ':' and '@' */
    expect_request("::1", 1, "us:er:p@ss",
                   "CONNECT [::1]:1 HTTP/1.1\r\nHost: [::1]:1\r\n"
                   "Proxy-Authorization: Basic dXM6ZXI6cEBzcw==\r\n\r\n");
}

static void expect_init_bad(const char *host, uint16_t port, const char *auth)
{
    struct ptk_http_connect h;
    struct ptk_buf out;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_http_connect_init(&h, host, port, auth, &out), PTK_EINVAL);
    assert_int_equal(ptk_buf_len(&out), 0);
    assert_non_null(ptk_http_connect_error(&h));
    ptk_http_connect_free(&h);
    ptk_buf_free(&out);
}

static void test_init_bad(void **st)
{
    (void)st;
    expect_init_bad("", 80, NULL);
    expect_init_bad(NULL, 80, NULL);
    expect_init_bad("a\r\nX-Evil: 1", 80, NULL);
    expect_init_bad("a\nb", 80, NULL);
    expect_init_bad("a b", 80, NULL);
    expect_init_bad("[::1]", 80, NULL);
    expect_init_bad("host", 0, NULL);
    expect_init_bad("host", 80, "user:pa\rss");
    expect_init_bad("host", 80, "user:pa\nss");
    expect_init_bad("host", 80, "");
}

static void test_init_no_room(void **st)
{
    (void)st;
    struct ptk_http_connect h;
    struct ptk_buf out;
    ptk_buf_init(&out, 20);
    assert_int_equal(ptk_http_connect_init(&h, "192.0.2.1", 443, "u:p", &out), PTK_ETOOBIG);
    assert_int_equal(ptk_buf_len(&out), 0);
    ptk_http_connect_free(&h);
    ptk_buf_free(&out);
}

/* Feed resp (whole or byte by byte) to a fresh codec; returns the result. */
static int feed_case(const char *resp, size_t n, bool bytewise, size_t *used, int *status)
{
    struct ptk_http_connect h;
    struct ptk_buf out;
    size_t total = 0, k;
    int r = PTK_MORE;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_http_connect_init(&h, "192.0.2.1", 443, NULL, &out), PTK_OK);
    if (!bytewise) {
        r = ptk_http_connect_feed(&h, (const uint8_t *)resp, n, &k);
        total = k;
    } else {
        while (total < n) {
            r = ptk_http_connect_feed(&h, (const uint8_t *)resp + total, 1, &k);
            total += k;
            if (r != PTK_MORE || k == 0)
                break;
        }
    }
    if (r != PTK_MORE && r != PTK_DONE)
        assert_non_null(ptk_http_connect_error(&h));
    if (r == PTK_DONE) {
        /* DONE is sticky and consumes nothing */
        assert_int_equal(ptk_http_connect_feed(&h, (const uint8_t *)"x", 1, &k), PTK_DONE);
        assert_int_equal(k, 0);
    }
    if (used)
        *used = total;
    if (status)
        *status = h.status;
    ptk_http_connect_free(&h);
    ptk_buf_free(&out);
    return r;
}

static void expect_feed(const char *resp, int want, int want_status, size_t want_used)
{
    for (int bw = 0; bw < 2; bw++) {
        size_t used;
        int status;
        assert_int_equal(feed_case(resp, strlen(resp), bw, &used, &status), want);
        assert_int_equal(status, want_status);
        assert_int_equal(used, want_used);
    }
}

static void test_success(void **st)
{
    (void)st;
    const char *r;
    r = "HTTP/1.1 200 Connection established\r\n\r\n";
    expect_feed(r, PTK_DONE, 200, strlen(r));
    r = "HTTP/1.0 200\r\n\r\n";
    expect_feed(r, PTK_DONE, 200, strlen(r));
    r = "HTTP/1.1 204 No Content\r\nProxy-Agent: test/1.0\r\nX-Empty:\r\n"
        "X-Folded: a\r\n  b\r\n\r\n";
    expect_feed(r, PTK_DONE, 204, strlen(r));
    r = "HTTP/1.1 299 Whatever\nVia: 1.1 p\n\n";
    expect_feed(r, PTK_DONE, 299, strlen(r));
    r = "HTTP/1.1 200 OK\r\nA: b\n\r\n";
    expect_feed(r, PTK_DONE, 200, strlen(r));
}

static void test_trailing_data(void **st)
{
    (void)st;
    const char *head = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
    char buf[128];
    snprintf(buf, sizeof(buf), "%s%s", head, "\x16\x03\x01 tls bytes\r\n\r\n");
    expect_feed(buf, PTK_DONE, 200, strlen(head));
}

static void test_refused(void **st)
{
    (void)st;
    const char *r = "HTTP/1.1 407 Proxy Authentication Required\r\n";
    expect_feed(r, PTK_EDENIED, 407, strlen(r));
    r = "HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    expect_feed(r, PTK_EDENIED, 403, strlen("HTTP/1.0 403 Forbidden\r\n"));
    r = "HTTP/1.1 502 Bad Gateway\n\n";
    expect_feed(r, PTK_EDENIED, 502, strlen("HTTP/1.1 502 Bad Gateway\n"));
    r = "HTTP/1.1 100 Continue\r\n\r\n";
    expect_feed(r, PTK_EDENIED, 100, strlen("HTTP/1.1 100 Continue\r\n"));
    r = "HTTP/1.1 300 Multiple\r\n\r\n";
    expect_feed(r, PTK_EDENIED, 300, strlen("HTTP/1.1 300 Multiple\r\n"));
}

static void expect_malformed(const char *resp, size_t n)
{
    for (int bw = 0; bw < 2; bw++)
        assert_int_equal(feed_case(resp, n, bw, NULL, NULL), PTK_EPROTO);
}

static void test_malformed(void **st)
{
    (void)st;
    static const char *bad[] = {
        "\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n",
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
        "HTTP/1.1 200 O\rK\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_malformed(bad[i], strlen(bad[i]));
    static const char nul[] = "HTTP/1.1 200 OK\r\nA: \0\r\n\r\n";
    expect_malformed(nul, sizeof(nul) - 1);
}

static void test_partial(void **st)
{
    (void)st;
    const char *r = "HTTP/1.1 200 OK\r\nA: b\r\n\r";
    expect_feed(r, PTK_MORE, 200, strlen(r));
    r = "HTTP/1.1 20";
    expect_feed(r, PTK_MORE, 0, strlen(r));
}

static void test_cap(void **st)
{
    (void)st;
    static char big[PTK_HTTP_HEAD_MAX + 64];
    const char *start = "HTTP/1.1 200 OK\r\n";
    size_t n;

    /* exactly 8 KiB is accepted */
    memset(big, 0, sizeof(big));
    n = (size_t)snprintf(big, sizeof(big), "%sX-Pad: ", start);
    memset(big + n, 'a', PTK_HTTP_HEAD_MAX - n - 4);
    memcpy(big + PTK_HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
    assert_int_equal(strlen(big), PTK_HTTP_HEAD_MAX);
    expect_feed(big, PTK_DONE, 200, PTK_HTTP_HEAD_MAX);

    /* one byte more is not */
    memset(big, 0, sizeof(big));
    n = (size_t)snprintf(big, sizeof(big), "%sX-Pad: ", start);
    memset(big + n, 'a', PTK_HTTP_HEAD_MAX - n - 3);
    memcpy(big + PTK_HTTP_HEAD_MAX - 3, "\r\n\r\n", 4);
    for (int bw = 0; bw < 2; bw++) {
        size_t used;
        assert_int_equal(feed_case(big, strlen(big), bw, &used, NULL), PTK_ETOOBIG);
        assert_true(used <= PTK_HTTP_HEAD_MAX);
    }

    /* an endless status line */
    memset(big, 'H', sizeof(big));
    assert_int_equal(feed_case(big, sizeof(big), false, NULL, NULL), PTK_ETOOBIG);
}

static void test_bad_state(void **st)
{
    (void)st;
    struct ptk_http_connect h;
    struct ptk_buf out;
    size_t k;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_http_connect_init(&h, "h", 1, NULL, &out), PTK_OK);
    assert_int_equal(ptk_http_connect_feed(&h, (const uint8_t *)"HTTP/1.1 403 No\r\n", 17, &k),
                     PTK_EDENIED);
    /* errors are sticky */
    assert_int_equal(ptk_http_connect_feed(&h, (const uint8_t *)"\r\n", 2, &k), PTK_EDENIED);
    assert_int_equal(k, 0);
    assert_int_equal(h.status, 403);
    ptk_http_connect_free(&h);
    ptk_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),       cmocka_unit_test(test_init_bad),
        cmocka_unit_test(test_init_no_room),  cmocka_unit_test(test_success),
        cmocka_unit_test(test_trailing_data), cmocka_unit_test(test_refused),
        cmocka_unit_test(test_malformed),     cmocka_unit_test(test_partial),
        cmocka_unit_test(test_cap),           cmocka_unit_test(test_bad_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
