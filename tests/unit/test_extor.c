/*
 * Unit tests: Extended ORPort cookie file, client and server codecs
 * (proto/extor.c). Hashes are checked against libsodium's HMAC-SHA256 called
 * directly and against a fixed vector computed with Python's hmac module.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "ptkit/error.h"
#include "ptkit/extor.h"

#define SLABEL "ExtORPort authentication server-to-client hash"
#define CLABEL "ExtORPort authentication client-to-server hash"

static const uint8_t okay_frame[] = {0x10, 0x00, 0x00, 0x00};
static const uint8_t deny_frame[] = {0x10, 0x01, 0x00, 0x00};

static void fill_seq(uint8_t *p, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(start + i);
}

/* HMAC-SHA256(cookie, label | cn | sn), with libsodium only. */
static void ref_hash(const uint8_t *cookie, const char *label, const uint8_t *cn, const uint8_t *sn,
                     uint8_t out[32])
{
    uint8_t msg[128];
    size_t l = strlen(label);
    memcpy(msg, label, l);
    memcpy(msg + l, cn, 32);
    memcpy(msg + l + 32, sn, 32);
    crypto_auth_hmacsha256(out, msg, l + 64, cookie);
}

/* Feed all of in[0..n) (in one call, or byte by byte); returns the last result. */
static int client_feed_all(struct ptk_extor_client *c, const uint8_t *in, size_t n,
                           struct ptk_buf *out, bool bytewise, size_t *used)
{
    size_t total = 0, k;
    int r = PTK_MORE;
    if (!bytewise) {
        r = ptk_extor_client_feed(c, in, n, &k, out);
        total = k;
    } else {
        while (total < n) {
            r = ptk_extor_client_feed(c, in + total, 1, &k, out);
            total += k;
            if (r != PTK_MORE || k == 0)
                break;
        }
    }
    if (used)
        *used = total;
    return r;
}

static int server_feed_all(struct ptk_extor_server *s, const uint8_t *in, size_t n,
                           struct ptk_buf *out, bool bytewise, size_t *used)
{
    size_t total = 0, k;
    int r = PTK_MORE;
    if (!bytewise) {
        r = ptk_extor_server_feed(s, in, n, &k, out);
        total = k;
    } else {
        while (total < n) {
            r = ptk_extor_server_feed(s, in + total, 1, &k, out);
            total += k;
            if (r != PTK_MORE || k == 0)
                break;
        }
    }
    if (used)
        *used = total;
    return r;
}

/* Move everything the other side wrote; return the results in *rc / *rs. */
static void run_loop(struct ptk_extor_client *c, struct ptk_extor_server *s, struct ptk_buf *c2s,
                     struct ptk_buf *s2c, bool bytewise, int *rc, int *rs)
{
    *rc = *rs = PTK_MORE;
    for (int round = 0; round < 20; round++) {
        size_t k;
        if (ptk_buf_len(s2c) && *rc == PTK_MORE) {
            *rc = client_feed_all(c, ptk_buf_data(s2c), ptk_buf_len(s2c), c2s, bytewise, &k);
            ptk_buf_consume(s2c, k);
        }
        if (ptk_buf_len(c2s) && *rs == PTK_MORE) {
            *rs = server_feed_all(s, ptk_buf_data(c2s), ptk_buf_len(c2s), s2c, bytewise, &k);
            ptk_buf_consume(c2s, k);
        }
        if (*rs == PTK_DONE && *rc == PTK_MORE && ptk_buf_len(s2c) == 0)
            return; /* the server waits for its caller's decision */
        if (*rc != PTK_MORE || *rs < 0)
            return;
    }
    fail_msg("handshake did not finish");
}

static void test_cookie_parse(void **st)
{
    (void)st;
    uint8_t file[PTK_EXTOR_COOKIE_FILE_LEN + 1], cookie[PTK_EXTOR_COOKIE_LEN];
    const char *why = NULL;

    memcpy(file, PTK_EXTOR_COOKIE_HEADER, 32);
    assert_int_equal(strlen(PTK_EXTOR_COOKIE_HEADER), 32);
    fill_seq(file + 32, 33, 0xa0);
    assert_int_equal(ptk_extor_cookie_parse(file, 64, cookie, &why), PTK_OK);
    assert_memory_equal(cookie, file + 32, 32);
    assert_int_equal(ptk_extor_cookie_parse(file, 64, cookie, NULL), PTK_OK);

    why = NULL;
    assert_int_equal(ptk_extor_cookie_parse(file, 63, cookie, &why), PTK_EINVAL);
    assert_non_null(why);
    why = NULL;
    assert_int_equal(ptk_extor_cookie_parse(file, 65, cookie, &why), PTK_EINVAL);
    assert_non_null(why);
    why = NULL;
    assert_int_equal(ptk_extor_cookie_parse(file, 0, cookie, &why), PTK_EINVAL);
    assert_non_null(why);

    file[0] = '?';
    why = NULL;
    assert_int_equal(ptk_extor_cookie_parse(file, 64, cookie, &why), PTK_EINVAL);
    assert_non_null(why);
    file[0] = '!';
    file[31] = '\r';
    assert_int_equal(ptk_extor_cookie_parse(file, 64, cookie, &why), PTK_EINVAL);
}

static void test_cookie_make(void **st)
{
    (void)st;
    uint8_t a[PTK_EXTOR_COOKIE_FILE_LEN], b[PTK_EXTOR_COOKIE_FILE_LEN], cookie[32];
    ptk_extor_cookie_make(a);
    ptk_extor_cookie_make(b);
    assert_memory_equal(a, PTK_EXTOR_COOKIE_HEADER, 32);
    assert_memory_not_equal(a + 32, b + 32, 32);
    assert_int_equal(ptk_extor_cookie_parse(a, sizeof(a), cookie, NULL), PTK_OK);
    assert_memory_equal(cookie, a + 32, 32);
}

static void test_client_init_bad(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    uint8_t cookie[32] = {0};
    char longaddr[300];
    memset(longaddr, '1', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = '\0';

    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, "obfs-4"), PTK_EINVAL);
    assert_non_null(ptk_extor_client_error(&c));
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, "4obfs"), PTK_EINVAL);
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, ""), PTK_EINVAL);
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, "1.2.3.4 :5", NULL), PTK_EINVAL);
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, "1.2.3.4:5\n", NULL), PTK_EINVAL);
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, "", NULL), PTK_EINVAL);
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, longaddr, NULL), PTK_EINVAL);
    ptk_extor_client_free(&c);
    longaddr[255] = '\0';
    assert_int_equal(ptk_extor_client_init(&c, cookie, longaddr, "obfs4"), PTK_OK);
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    ptk_extor_client_free(&c);
}

static void loop_case(bool bytewise, bool okay)
{
    struct ptk_extor_client c;
    struct ptk_extor_server s;
    struct ptk_buf c2s, s2c;
    uint8_t cookie[32];
    int rc, rs;

    ptk_buf_init(&c2s, 1 << 17);
    ptk_buf_init(&s2c, 1 << 17);
    fill_seq(cookie, 32, 7);
    assert_int_equal(ptk_extor_client_init(&c, cookie, "[2001:db8::1]:4321", "obfs4"), PTK_OK);
    assert_int_equal(ptk_buf_len(&c2s), 0); /* nothing before tor speaks */
    assert_int_equal(ptk_extor_server_init(&s, cookie, &s2c), PTK_OK);
    assert_int_equal(ptk_buf_len(&s2c), 2);
    assert_memory_equal(ptk_buf_data(&s2c), "\x01\x00", 2);

    run_loop(&c, &s, &c2s, &s2c, bytewise, &rc, &rs);
    assert_int_equal(rs, PTK_DONE);
    assert_int_equal(rc, PTK_MORE);
    assert_string_equal(s.useraddr, "[2001:db8::1]:4321");
    assert_string_equal(s.transport, "obfs4");
    assert_int_equal(ptk_buf_len(&c2s), 0);

    assert_int_equal(ptk_extor_server_reply(&s, okay, &s2c), PTK_OK);
    assert_int_equal(ptk_extor_server_reply(&s, okay, &s2c), PTK_ESTATE);
    assert_memory_equal(ptk_buf_data(&s2c), okay ? okay_frame : deny_frame, 4);
    size_t k;
    rc = client_feed_all(&c, ptk_buf_data(&s2c), ptk_buf_len(&s2c), &c2s, bytewise, &k);
    assert_int_equal(k, 4);
    if (okay) {
        assert_int_equal(rc, PTK_DONE);
        /* DONE is sticky and consumes nothing more. */
        assert_int_equal(ptk_extor_client_feed(&c, (const uint8_t *)"x", 1, &k, &c2s), PTK_DONE);
        assert_int_equal(k, 0);
    } else {
        assert_int_equal(rc, PTK_EDENIED);
        assert_int_equal(ptk_extor_client_feed(&c, (const uint8_t *)"x", 1, &k, &c2s), PTK_EDENIED);
        assert_non_null(ptk_extor_client_error(&c));
    }
    assert_int_equal(ptk_buf_len(&c2s), 0); /* never any OR data */

    ptk_extor_client_free(&c);
    ptk_extor_server_free(&s);
    ptk_buf_free(&c2s);
    ptk_buf_free(&s2c);
}

static void test_loop_okay(void **st)
{
    (void)st;
    loop_case(false, true);
}

static void test_loop_deny(void **st)
{
    (void)st;
    loop_case(false, false);
}

static void test_loop_bytewise(void **st)
{
    (void)st;
    loop_case(true, true);
    loop_case(true, false);
}

static void test_loop_no_metadata(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    struct ptk_extor_server s;
    struct ptk_buf c2s, s2c;
    uint8_t cookie[32] = {1};
    int rc, rs;
    ptk_buf_init(&c2s, 4096);
    ptk_buf_init(&s2c, 4096);
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    assert_int_equal(ptk_extor_server_init(&s, cookie, &s2c), PTK_OK);
    run_loop(&c, &s, &c2s, &s2c, false, &rc, &rs);
    assert_int_equal(rs, PTK_DONE);
    assert_null(s.useraddr);
    assert_null(s.transport);
    ptk_extor_client_free(&c);
    ptk_extor_server_free(&s);
    ptk_buf_free(&c2s);
    ptk_buf_free(&s2c);
}

/* The server's cookie differs: the client stops after its nonce. */
static void test_server_wrong_cookie(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    struct ptk_extor_server s;
    struct ptk_buf c2s, s2c;
    uint8_t ck1[32] = {1}, ck2[32] = {2};
    size_t k;
    ptk_buf_init(&c2s, 4096);
    ptk_buf_init(&s2c, 4096);
    assert_int_equal(ptk_extor_client_init(&c, ck1, "1.2.3.4:5", NULL), PTK_OK);
    assert_int_equal(ptk_extor_server_init(&s, ck2, &s2c), PTK_OK);
    assert_int_equal(ptk_extor_client_feed(&c, ptk_buf_data(&s2c), 2, &k, &c2s), PTK_MORE);
    ptk_buf_consume(&s2c, k);
    assert_int_equal(ptk_buf_len(&c2s), 33);
    assert_int_equal(ptk_extor_server_feed(&s, ptk_buf_data(&c2s), 33, &k, &s2c), PTK_MORE);
    assert_int_equal(k, 33);
    assert_int_equal(ptk_buf_len(&s2c), 64);
    assert_int_equal(ptk_extor_client_feed(&c, ptk_buf_data(&s2c), 64, &k, &c2s), PTK_EAUTH);
    assert_int_equal(ptk_buf_len(&c2s), 33); /* no client hash was sent */
    assert_non_null(ptk_extor_client_error(&c));
    /* sticky */
    assert_int_equal(ptk_extor_client_feed(&c, (const uint8_t *)"\x01", 1, &k, &c2s), PTK_EAUTH);
    assert_int_equal(ptk_buf_len(&c2s), 33);
    ptk_extor_client_free(&c);
    ptk_extor_server_free(&s);
    ptk_buf_free(&c2s);
    ptk_buf_free(&s2c);
}

/* A client computing its hash with the wrong cookie: the server answers 00. */
static void test_client_wrong_cookie(void **st)
{
    (void)st;
    struct ptk_extor_server s;
    struct ptk_buf out;
    uint8_t cookie[32] = {5}, wrong[32] = {6}, msg[33], sh[32], ch[32];
    size_t k;
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_extor_server_init(&s, cookie, &out), PTK_OK);
    ptk_buf_reset(&out);
    msg[0] = 1;
    fill_seq(msg + 1, 32, 0x33);
    assert_int_equal(ptk_extor_server_feed(&s, msg, 33, &k, &out), PTK_MORE);
    assert_int_equal(ptk_buf_len(&out), 64);
    const uint8_t *sn = ptk_buf_data(&out) + 32;
    ref_hash(cookie, SLABEL, msg + 1, sn, sh);
    assert_memory_equal(ptk_buf_data(&out), sh, 32);
    ref_hash(wrong, CLABEL, msg + 1, sn, ch);
    ptk_buf_reset(&out);
    assert_int_equal(ptk_extor_server_feed(&s, ch, 32, &k, &out), PTK_EAUTH);
    assert_int_equal(k, 32);
    assert_int_equal(ptk_buf_len(&out), 1);
    assert_int_equal(ptk_buf_data(&out)[0], 0x00);
    assert_non_null(ptk_extor_server_error(&s));
    assert_int_equal(ptk_extor_server_feed(&s, okay_frame, 4, &k, &out), PTK_EAUTH);
    assert_int_equal(ptk_extor_server_reply(&s, true, &out), PTK_ESTATE);
    ptk_extor_server_free(&s);
    ptk_buf_free(&out);
}

/*
 * Play tor by hand against a client: offer `types`, answer with ServerNonce
 * `sn`, check the client's hash, send `status`. Returns the last feed result;
 * *frames receives what the client sent after its hash.
 */
static int fake_tor(struct ptk_extor_client *c, const uint8_t *cookie, const uint8_t *types,
                    size_t ntypes, uint8_t status, struct ptk_buf *frames)
{
    struct ptk_buf out;
    uint8_t sn[32], msg[64], ch[32];
    size_t k;
    int r;
    ptk_buf_init(&out, 1 << 17);
    fill_seq(sn, 32, 0x90);
    r = ptk_extor_client_feed(c, types, ntypes, &k, &out);
    if (r != PTK_MORE)
        goto out;
    assert_int_equal(k, ntypes);
    assert_int_equal(ptk_buf_len(&out), 33);
    assert_int_equal(ptk_buf_data(&out)[0], 0x01);
    const uint8_t *cn = ptk_buf_data(&out) + 1;
    ref_hash(cookie, SLABEL, cn, sn, msg);
    memcpy(msg + 32, sn, 32);
    ref_hash(cookie, CLABEL, cn, sn, ch);
    ptk_buf_reset(&out);
    r = ptk_extor_client_feed(c, msg, sizeof(msg), &k, &out);
    assert_int_equal(r, PTK_MORE);
    assert_int_equal(ptk_buf_len(&out), 32);
    assert_memory_equal(ptk_buf_data(&out), ch, 32);
    ptk_buf_reset(&out);
    r = ptk_extor_client_feed(c, &status, 1, &k, frames);
    assert_int_equal(k, 1);
out:
    ptk_buf_free(&out);
    return r;
}

static void test_client_frames(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    struct ptk_buf frames;
    uint8_t cookie[32];
    static const uint8_t want[] = {0x00, 0x01, 0x00, 0x09, '1',  '.',  '2',  '.',
                                   '3',  '.',  '4',  ':',  '5',  0x00, 0x02, 0x00,
                                   0x03, 'f',  'o',  'o',  0x00, 0x00, 0x00, 0x00};
    fill_seq(cookie, 32, 0x11);
    ptk_buf_init(&frames, 4096);
    assert_int_equal(ptk_extor_client_init(&c, cookie, "1.2.3.4:5", "foo"), PTK_OK);
    /* several types, SAFE_COOKIE not first */
    assert_int_equal(fake_tor(&c, cookie, (const uint8_t *)"\x03\x02\x01\x00", 4, 0x01, &frames),
                     PTK_MORE);
    assert_int_equal(ptk_buf_len(&frames), sizeof(want));
    assert_memory_equal(ptk_buf_data(&frames), want, sizeof(want));
    ptk_extor_client_free(&c);
    ptk_buf_free(&frames);
}

/* Fixed cookie and nonces: compare with libsodium and a Python-computed vector. */
static void test_known_answer(void **st)
{
    (void)st;
    static const uint8_t kat_sh[32] = {0x67, 0xcb, 0x22, 0x83, 0x86, 0x90, 0xcf, 0x4c,
                                       0x49, 0x43, 0x4d, 0x4e, 0xa3, 0x16, 0x4f, 0xbd,
                                       0xcc, 0x93, 0x6e, 0x46, 0xfd, 0x90, 0xee, 0x62,
                                       0xf5, 0x11, 0x63, 0x9a, 0x84, 0x56, 0xd1, 0x33};
    static const uint8_t kat_ch[32] = {0x4b, 0xec, 0xde, 0x5c, 0x2f, 0xe8, 0xa9, 0xfe,
                                       0xd9, 0x08, 0xd7, 0x4f, 0x79, 0xbe, 0x12, 0x8d,
                                       0x73, 0xab, 0xfb, 0xf8, 0x2c, 0x00, 0x9d, 0x3b,
                                       0xdc, 0x17, 0xb4, 0xbc, 0x02, 0x74, 0x0d, 0x58};
    uint8_t cookie[32], cn[32], sn[32], sh[32], ch[32], msg[64];
    struct ptk_extor_client c;
    struct ptk_extor_server s;
    struct ptk_buf out;
    size_t k;

    fill_seq(cookie, 32, 0);
    fill_seq(cn, 32, 32);
    fill_seq(sn, 32, 64);
    ref_hash(cookie, SLABEL, cn, sn, sh);
    ref_hash(cookie, CLABEL, cn, sn, ch);
    assert_memory_equal(sh, kat_sh, 32);
    assert_memory_equal(ch, kat_ch, 32);
    ptk_buf_init(&out, 4096);

    /* client: fix its nonce, then check the frames it produces */
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    memcpy(c.client_nonce, cn, 32);
    assert_int_equal(ptk_extor_client_feed(&c, (const uint8_t *)"\x01\x00", 2, &k, &out), PTK_MORE);
    assert_int_equal(ptk_buf_len(&out), 33);
    assert_memory_equal(ptk_buf_data(&out) + 1, cn, 32);
    ptk_buf_reset(&out);
    memcpy(msg, sh, 32);
    memcpy(msg + 32, sn, 32);
    assert_int_equal(ptk_extor_client_feed(&c, msg, 64, &k, &out), PTK_MORE);
    assert_int_equal(k, 64);
    assert_int_equal(ptk_buf_len(&out), 32);
    assert_memory_equal(ptk_buf_data(&out), kat_ch, 32);
    ptk_extor_client_free(&c);

    /* server: fixed client nonce; its server nonce is random, read from the frame */
    ptk_buf_reset(&out);
    assert_int_equal(ptk_extor_server_init(&s, cookie, &out), PTK_OK);
    ptk_buf_reset(&out);
    uint8_t hello[33] = {1};
    memcpy(hello + 1, cn, 32);
    assert_int_equal(ptk_extor_server_feed(&s, hello, 33, &k, &out), PTK_MORE);
    assert_int_equal(ptk_buf_len(&out), 64);
    memcpy(sn, ptk_buf_data(&out) + 32, 32);
    ref_hash(cookie, SLABEL, cn, sn, sh);
    assert_memory_equal(ptk_buf_data(&out), sh, 32);
    ref_hash(cookie, CLABEL, cn, sn, ch);
    ptk_buf_reset(&out);
    assert_int_equal(ptk_extor_server_feed(&s, ch, 32, &k, &out), PTK_MORE);
    assert_int_equal(ptk_buf_len(&out), 1);
    assert_int_equal(ptk_buf_data(&out)[0], 0x01);
    ptk_extor_server_free(&s);
    ptk_buf_free(&out);
}

static void test_no_safe_cookie(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    struct ptk_buf out;
    uint8_t cookie[32] = {0}, many[300];
    size_t k;
    ptk_buf_init(&out, 4096);

    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    assert_int_equal(ptk_extor_client_feed(&c, (const uint8_t *)"\x02\x03\x00", 3, &k, &out),
                     PTK_EAUTH);
    assert_int_equal(ptk_buf_len(&out), 0);
    ptk_extor_client_free(&c);

    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    assert_int_equal(ptk_extor_client_feed(&c, (const uint8_t *)"\x00", 1, &k, &out), PTK_EAUTH);
    assert_int_equal(ptk_buf_len(&out), 0);
    ptk_extor_client_free(&c);

    /* 255 types and the terminator are fine; 256 types are not */
    memset(many, 0x01, sizeof(many));
    many[255] = 0;
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    assert_int_equal(ptk_extor_client_feed(&c, many, 256, &k, &out), PTK_MORE);
    assert_int_equal(ptk_buf_len(&out), 33);
    ptk_extor_client_free(&c);
    ptk_buf_reset(&out);
    memset(many, 0x01, sizeof(many));
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    assert_int_equal(ptk_extor_client_feed(&c, many, sizeof(many), &k, &out), PTK_EPROTO);
    assert_int_equal(ptk_buf_len(&out), 0);
    ptk_extor_client_free(&c);
    ptk_buf_free(&out);
}

static void test_auth_status_fail(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    struct ptk_buf frames;
    uint8_t cookie[32] = {9};
    ptk_buf_init(&frames, 4096);
    assert_int_equal(ptk_extor_client_init(&c, cookie, "1.2.3.4:5", NULL), PTK_OK);
    assert_int_equal(fake_tor(&c, cookie, (const uint8_t *)"\x01\x00", 2, 0x00, &frames),
                     PTK_EAUTH);
    assert_int_equal(ptk_buf_len(&frames), 0);
    ptk_extor_client_free(&c);
    assert_int_equal(ptk_extor_client_init(&c, cookie, "1.2.3.4:5", NULL), PTK_OK);
    assert_int_equal(fake_tor(&c, cookie, (const uint8_t *)"\x01\x00", 2, 0x02, &frames),
                     PTK_EAUTH);
    assert_int_equal(ptk_buf_len(&frames), 0);
    ptk_extor_client_free(&c);
    ptk_buf_free(&frames);
}

static void test_early_data_after_okay(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    struct ptk_buf frames;
    uint8_t cookie[32] = {3};
    size_t k;
    /* OKAY with a (tolerated) body, then OR data */
    static const uint8_t in[] = {0x10, 0x00, 0x00, 0x02, 0xaa, 0xbb, 'O', 'R', 'd', 'a', 't', 'a'};
    ptk_buf_init(&frames, 4096);
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, "obfs4"), PTK_OK);
    assert_int_equal(fake_tor(&c, cookie, (const uint8_t *)"\x01\x00", 2, 0x01, &frames), PTK_MORE);
    ptk_buf_reset(&frames);
    assert_int_equal(ptk_extor_client_feed(&c, in, sizeof(in), &k, &frames), PTK_DONE);
    assert_int_equal(k, 6);
    assert_int_equal(ptk_buf_len(&frames), 0);
    ptk_extor_client_free(&c);

    /* the status byte and OKAY arriving together with data, all in one piece */
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    struct ptk_buf out;
    uint8_t sn[32] = {0}, msg[64 + 1 + 4 + 3];
    ptk_buf_init(&out, 4096);
    assert_int_equal(ptk_extor_client_feed(&c, (const uint8_t *)"\x01\x00", 2, &k, &out), PTK_MORE);
    ref_hash(cookie, SLABEL, ptk_buf_data(&out) + 1, sn, msg);
    memcpy(msg + 32, sn, 32);
    msg[64] = 0x01;
    memcpy(msg + 65, okay_frame, 4);
    memcpy(msg + 69, "abc", 3);
    assert_int_equal(ptk_extor_client_feed(&c, msg, sizeof(msg), &k, &out), PTK_DONE);
    assert_int_equal(k, sizeof(msg) - 3);
    ptk_extor_client_free(&c);
    ptk_buf_free(&out);
    ptk_buf_free(&frames);
}

static void test_unknown_command_from_tor(void **st)
{
    (void)st;
    static const uint16_t cmds[] = {PTK_EXTOR_CONTROL, PTK_EXTOR_DONE, PTK_EXTOR_USERADDR, 0x1003,
                                    0xffff};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        struct ptk_extor_client c;
        struct ptk_buf frames;
        uint8_t cookie[32] = {4};
        size_t k;
        uint8_t f[4] = {(uint8_t)(cmds[i] >> 8), (uint8_t)cmds[i], 0xff, 0xff};
        ptk_buf_init(&frames, 4096);
        assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
        assert_int_equal(fake_tor(&c, cookie, (const uint8_t *)"\x01\x00", 2, 0x01, &frames),
                         PTK_MORE);
        /* rejected on the header, without waiting for the 64 KiB body */
        assert_int_equal(ptk_extor_client_feed(&c, f, 4, &k, &frames), PTK_EPROTO);
        assert_non_null(ptk_extor_client_error(&c));
        ptk_extor_client_free(&c);
        ptk_buf_free(&frames);
    }
}

static void test_deny_with_large_body(void **st)
{
    (void)st;
    struct ptk_extor_client c;
    struct ptk_buf frames;
    uint8_t cookie[32] = {4};
    static uint8_t big[4 + 65535 + 1];
    size_t k;
    ptk_buf_init(&frames, 4096);
    big[0] = 0x10;
    big[1] = 0x01;
    big[2] = big[3] = 0xff;
    assert_int_equal(ptk_extor_client_init(&c, cookie, NULL, NULL), PTK_OK);
    assert_int_equal(fake_tor(&c, cookie, (const uint8_t *)"\x01\x00", 2, 0x01, &frames), PTK_MORE);
    assert_int_equal(ptk_extor_client_feed(&c, big, 1000, &k, &frames), PTK_MORE);
    assert_int_equal(k, 1000);
    assert_int_equal(ptk_extor_client_feed(&c, big + 1000, sizeof(big) - 1000, &k, &frames),
                     PTK_EDENIED);
    assert_int_equal(k, sizeof(big) - 1000 - 1);
    ptk_extor_client_free(&c);
    ptk_buf_free(&frames);
}

/* Authenticate a server by hand; returns it ready for command frames. */
static void server_auth(struct ptk_extor_server *s, struct ptk_buf *out)
{
    uint8_t cookie[32] = {8}, hello[33] = {1}, ch[32];
    size_t k;
    assert_int_equal(ptk_extor_server_init(s, cookie, out), PTK_OK);
    ptk_buf_reset(out);
    assert_int_equal(ptk_extor_server_feed(s, hello, 33, &k, out), PTK_MORE);
    ref_hash(cookie, CLABEL, hello + 1, ptk_buf_data(out) + 32, ch);
    ptk_buf_reset(out);
    assert_int_equal(ptk_extor_server_feed(s, ch, 32, &k, out), PTK_MORE);
    assert_int_equal(ptk_buf_data(out)[0], 0x01);
    ptk_buf_reset(out);
}

static void test_server_commands(void **st)
{
    (void)st;
    struct ptk_extor_server s;
    struct ptk_buf out;
    size_t k;
    static const uint8_t in[] = {0x00, 0x01, 0x00, 0x03, 'a', ':', '1', /* USERADDR a:1 */
                                 0x77, 0x77, 0x00, 0x02, 'z', 'z',      /* unknown: ignored */
                                 0x10, 0x00, 0x00, 0x00,      /* OKAY from a client: ignored */
                                 0x00, 0x02, 0x00, 0x01, 'x', /* TRANSPORT x */
                                 0x00, 0x01, 0x00, 0x05, '9', '.', '9',
                                 ':',  '9',              /* USERADDR replaced */
                                 0x00, 0x02, 0x00, 0x00, /* empty TRANSPORT */
                                 0x00, 0x00, 0x00, 0x00, /* DONE */
                                 'd',  'a',  't',  'a'};
    ptk_buf_init(&out, 4096);
    server_auth(&s, &out);
    assert_int_equal(ptk_extor_server_feed(&s, in, sizeof(in), &k, &out), PTK_DONE);
    assert_int_equal(k, sizeof(in) - 4);
    assert_string_equal(s.useraddr, "9.9:9");
    assert_string_equal(s.transport, "");
    assert_int_equal(ptk_buf_len(&out), 0);
    assert_int_equal(ptk_extor_server_feed(&s, in + k, 4, &k, &out), PTK_DONE);
    assert_int_equal(k, 0);
    assert_int_equal(ptk_extor_server_reply(&s, true, &out), PTK_OK);
    assert_memory_equal(ptk_buf_data(&out), okay_frame, 4);
    ptk_extor_server_free(&s);

    /* byte at a time */
    server_auth(&s, &out);
    size_t used;
    assert_int_equal(server_feed_all(&s, in, sizeof(in), &out, true, &used), PTK_DONE);
    assert_int_equal(used, sizeof(in) - 4);
    assert_string_equal(s.useraddr, "9.9:9");
    ptk_extor_server_free(&s);
    ptk_buf_free(&out);
}

static void test_server_bad_input(void **st)
{
    (void)st;
    struct ptk_extor_server s;
    struct ptk_buf out;
    uint8_t cookie[32] = {0};
    size_t k;
    ptk_buf_init(&out, 4096);

    /* auth type other than 1 */
    assert_int_equal(ptk_extor_server_init(&s, cookie, &out), PTK_OK);
    assert_int_equal(ptk_extor_server_feed(&s, (const uint8_t *)"\x02", 1, &k, &out), PTK_EAUTH);
    assert_non_null(ptk_extor_server_error(&s));
    ptk_extor_server_free(&s);

    /* embedded NUL */
    server_auth(&s, &out);
    assert_int_equal(ptk_extor_server_feed(&s,
                                           (const uint8_t *)"\x00\x01\x00\x03"
                                                            "a\0b",
                                           7, &k, &out),
                     PTK_EPROTO);
    assert_null(s.useraddr);
    ptk_extor_server_free(&s);
    server_auth(&s, &out);
    assert_int_equal(ptk_extor_server_feed(&s,
                                           (const uint8_t *)"\x00\x02\x00\x01"
                                                            "\0",
                                           5, &k, &out),
                     PTK_EPROTO);
    ptk_extor_server_free(&s);

    /* reply before DONE */
    server_auth(&s, &out);
    assert_int_equal(ptk_extor_server_reply(&s, true, &out), PTK_ESTATE);
    ptk_extor_server_free(&s);
    ptk_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_parse),
        cmocka_unit_test(test_cookie_make),
        cmocka_unit_test(test_client_init_bad),
        cmocka_unit_test(test_loop_okay),
        cmocka_unit_test(test_loop_deny),
        cmocka_unit_test(test_loop_bytewise),
        cmocka_unit_test(test_loop_no_metadata),
        cmocka_unit_test(test_server_wrong_cookie),
        cmocka_unit_test(test_client_wrong_cookie),
        cmocka_unit_test(test_client_frames),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_no_safe_cookie),
        cmocka_unit_test(test_auth_status_fail),
        cmocka_unit_test(test_early_data_after_okay),
        cmocka_unit_test(test_unknown_command_from_tor),
        cmocka_unit_test(test_deny_with_large_body),
        cmocka_unit_test(test_server_commands),
        cmocka_unit_test(test_server_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
