/*
 * Unit tests: the `ptkit host` configuration (host/config.c), every option
 * good and bad. Errors must read "FILE:LINE: ..." with the line of the
 * offending option; TOR_PT_PROXY must be what tor's get_pt_proxy_uri()
 * writes; Bridge lines and their 510-byte SOCKS limit as tor's
 * parse_bridge_line() checks them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "host/config.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "util/addr.h"

#define DD "DataDirectory /tmp/ptk-unit-dd\n"
#define FP "0123456789ABCDEF0123456789ABCDEF01234567"
#define CTP "ClientTransportPlugin obfs4 exec /usr/bin/obfs4proxy\n"

static char err[1024];

static int parse(const char *text, struct host_config *cfg)
{
    err[0] = '\0';
    return host_config_parse("t.conf", text, strlen(text), cfg, err, sizeof(err));
}

/* Parse must succeed; the caller frees cfg. */
static void good(const char *text, struct host_config *cfg)
{
    int r = parse(text, cfg);
    if (r != PTK_OK)
        fail_msg("parse failed (%d): %s\n--- config ---\n%s", r, err, text);
}

/* Parse must fail with "t.conf:LINE: " at the start of err and frag inside. */
static void bad(const char *text, unsigned line, const char *frag)
{
    struct host_config cfg;
    int r = parse(text, &cfg);
    char want[64];
    snprintf(want, sizeof(want), "t.conf:%u: ", line);
    if (r != PTK_EINVAL || strncmp(err, want, strlen(want)) != 0 || (frag && !strstr(err, frag)))
        fail_msg("r=%d err=\"%s\"; expected PTK_EINVAL, \"%s...\" containing \"%s\"\n"
                 "--- config ---\n%s",
                 r, err, want, frag ? frag : "", text);
    host_config_free(&cfg);
}

static void expect_addr(const struct ptk_addr *a, const char *text)
{
    char buf[PTK_ADDRSTRLEN];
    assert_int_equal(ptk_addr_format((const struct sockaddr *)&a->ss, buf, sizeof(buf)), PTK_OK);
    assert_string_equal(buf, text);
}

static void test_minimal_and_defaults(void **st)
{
    (void)st;
    struct host_config c;
    good(DD, &c);
    assert_string_equal(c.path, "t.conf");
    assert_string_equal(c.data_dir, "/tmp/ptk-unit-dd");
    assert_int_equal((int)c.n_plugins, 0);
    assert_true(c.extorport);
    assert_null(c.cookie_file);
    assert_null(c.proxy_uri);
    assert_false(c.has_forward);
    assert_false(c.has_bind_v4);
    assert_false(c.has_bind_v6);
    assert_int_equal(c.log_level, PTK_LOG_NOTICE);
    assert_null(c.log_file);
    assert_false(c.unsafe_logging);
    assert_int_equal(c.config_timeout_s, 60);
    assert_int_equal(c.shutdown_grace_s, 2);
    host_config_free(&c);

    /* keywords are case-insensitive, as in tor; a later DataDirectory wins */
    good("datadirectory /a\nDATADIRECTORY \"/b c\"\n", &c);
    assert_string_equal(c.data_dir, "/b c");
    host_config_free(&c);

    /* DataDirectory is required */
    struct host_config c2;
    assert_int_equal(parse("# nothing\n", &c2), PTK_EINVAL);
    assert_non_null(strstr(err, "t.conf:"));
    assert_non_null(strstr(err, "DataDirectory"));
    host_config_free(&c2);
    bad("DataDirectory\n", 1, "DataDirectory takes 1 argument");
    bad(DD "DataDirectory /a /b\n", 2, "DataDirectory takes 1 argument");
}

static void test_unknown_and_lines(void **st)
{
    (void)st;
    bad(DD "Foo bar\n", 2, "unknown option \"Foo\"");
    /* the line number is the option's first line, counting comments, blanks, continuations */
    bad("# c\n\n" DD "ClientTransportPlugin obfs4 \\\n exec \\\n relative/path\n"
        "PTConfigTimeout 0\n",
        4, "absolute path");
    bad("# c\n\n" DD "ClientTransportPlugin obfs4 \\\n exec \\\n /bin/x\n"
        "PTConfigTimeout 0\n",
        7, "PTConfigTimeout");
    /* tokenizer errors too read FILE:LINE: */
    bad(DD "\nBridge obfs4 \"1.2.3.4:5\n", 3, "quoted");
    bad(DD "Bridge obfs4 \"1.2.3.4:5\"x\n", 2, "quote");
    struct host_config c;
    const char nul[] = DD "X y\0z\n";
    err[0] = '\0';
    assert_int_equal(host_config_parse("t.conf", nul, sizeof(nul) - 1, &c, err, sizeof(err)),
                     PTK_EINVAL);
    if (strncmp(err, "t.conf:2: ", 10) != 0 || !strstr(err, "NUL"))
        fail_msg("err=\"%s\"", err);
    host_config_free(&c);
}

static void test_plugins(void **st)
{
    (void)st;
    struct host_config c;
    good(DD "ClientTransportPlugin obfs4,meek_lite exec /usr/bin/obfs4proxy -enableLogging "
            "\"-logLevel\" DEBUG\n"
            "ClientTransportPlugin snowflake EXEC /usr/bin/snowflake-client\n"
            "ClientTransportPlugin ext socks5 127.0.0.1:9050\n"
            "ClientTransportPlugin ext4 SOCKS4 [::1]:1080\n"
            "ServerTransportPlugin obfs4 exec /usr/bin/obfs4proxy\n"
            "ServerForward 127.0.0.1:9001\n",
         &c);
    assert_int_equal((int)c.n_plugins, 5);
    const struct host_plugin *p = &c.plugins[0];
    assert_false(p->server);
    assert_int_equal(p->lineno, 2);
    assert_int_equal((int)p->n_transports, 2);
    assert_string_equal(p->transports[0], "obfs4");
    assert_string_equal(p->transports[1], "meek_lite");
    assert_non_null(p->argv);
    assert_string_equal(p->argv[0], "/usr/bin/obfs4proxy");
    assert_string_equal(p->argv[1], "-enableLogging");
    assert_string_equal(p->argv[2], "-logLevel");
    assert_string_equal(p->argv[3], "DEBUG");
    assert_null(p->argv[4]);
    p = &c.plugins[1];
    assert_string_equal(p->argv[0], "/usr/bin/snowflake-client");
    assert_null(p->argv[1]);
    p = &c.plugins[2];
    assert_null(p->argv);
    assert_int_equal(p->socks_version, 5);
    expect_addr(&p->addr, "127.0.0.1:9050");
    p = &c.plugins[3];
    assert_int_equal(p->socks_version, 4);
    expect_addr(&p->addr, "[::1]:1080");
    p = &c.plugins[4];
    assert_true(p->server);
    assert_string_equal(p->transports[0], "obfs4");
    assert_int_equal(p->lineno, 6);
    host_config_free(&c);

    bad(DD "ClientTransportPlugin obfs4 exec\n", 2, "at least 3 arguments");
    bad(DD "ClientTransportPlugin obfs4\n", 2, "at least 3");
    bad(DD "ClientTransportPlugin obfs4 exec obfs4proxy\n", 2, "absolute path");
    bad(DD "ClientTransportPlugin obfs-4 exec /bin/x\n", 2, "not a C identifier");
    bad(DD "ClientTransportPlugin a,,b exec /bin/x\n", 2, "not a C identifier");
    bad(DD "ClientTransportPlugin ,a exec /bin/x\n", 2, "not a C identifier");
    bad(DD "ClientTransportPlugin a, exec /bin/x\n", 2, "not a C identifier");
    bad(DD "ClientTransportPlugin 4a exec /bin/x\n", 2, "not a C identifier");
    bad(DD "ClientTransportPlugin a run /bin/x\n", 2, "expected \"exec\"");
    bad(DD "ClientTransportPlugin a socks5 127.0.0.1:1 x\n", 2, "takes no more arguments");
    bad(DD "ClientTransportPlugin a,b socks5 127.0.0.1:1\n", 2, "exactly one transport");
    bad(DD "ClientTransportPlugin a socks5 localhost:1080\n", 2, "proxy address");
    bad(DD "ClientTransportPlugin a socks5 127.0.0.1\n", 2, "proxy address");
    bad(DD "ClientTransportPlugin a socks5 127.0.0.1:0\n", 2, "proxy address");
    bad(DD "ServerForward 127.0.0.1:1\nServerTransportPlugin a socks5 127.0.0.1:1\n", 3,
        "only \"exec\"");
    bad(DD "ServerTransportPlugin a exec bin/x\nServerForward 127.0.0.1:1\n", 2, "absolute path");
    /* a server PT needs somewhere to deliver its clients */
    struct host_config c2;
    assert_int_equal(parse(DD "ServerTransportPlugin a exec /bin/x\n", &c2), PTK_EINVAL);
    assert_non_null(strstr(err, "t.conf:"));
    assert_non_null(strstr(err, "ServerForward"));
    host_config_free(&c2);
}

static void test_bridges(void **st)
{
    (void)st;
    struct host_config c;
    good(DD CTP "Bridge obfs4 1.2.3.4:443 " FP " cert=AbC+/x iat-mode=0\n"
                "Bridge obfs4 [2001:db8::1]:80 cert=x\\;y k=a=b\n"
                "Bridge obfs4 10.0.0.1:9001 abcdef0123456789abcdef0123456789abcdef01\n"
                "Bridge obfs4 10.0.0.2:9001\n",
         &c);
    assert_int_equal((int)c.n_bridges, 4);
    const struct host_bridge *b = &c.bridges[0];
    assert_string_equal(b->transport, "obfs4");
    expect_addr(&b->addr, "1.2.3.4:443");
    assert_string_equal(b->fingerprint, FP);
    assert_int_equal(b->lineno, 3);
    assert_int_equal((int)b->args.n, 2);
    assert_string_equal(b->args.items[0].key, "cert");
    assert_string_equal(b->args.items[0].value, "AbC+/x");
    assert_string_equal(b->args.items[1].key, "iat-mode");
    assert_string_equal(b->args.items[1].value, "0");
    b = &c.bridges[1];
    expect_addr(&b->addr, "[2001:db8::1]:80");
    assert_string_equal(b->fingerprint, "");
    assert_int_equal((int)b->args.n, 2);
    assert_string_equal(b->args.items[0].value, "x\\;y"); /* as written; escaped again for SOCKS */
    assert_string_equal(b->args.items[1].key, "k");
    assert_string_equal(b->args.items[1].value, "a=b");
    b = &c.bridges[2];
    assert_string_equal(b->fingerprint, "abcdef0123456789abcdef0123456789abcdef01");
    assert_int_equal((int)b->args.n, 0);
    b = &c.bridges[3];
    assert_string_equal(b->fingerprint, "");
    assert_int_equal((int)b->args.n, 0);
    host_config_free(&c);

    bad(DD CTP "Bridge obfs4\n", 3, "at least 2 arguments");
    bad(DD CTP "Bridge 1.2.3.4:443 " FP "\n", 3, "transport name");
    bad(DD CTP "Bridge obfs4 bridge.example.com:443\n", 3, "bridge address");
    bad(DD CTP "Bridge obfs4 1.2.3.4\n", 3, "bridge address");
    bad(DD CTP "Bridge obfs4 1.2.3.4:0\n", 3, "bridge address");
    bad(DD CTP "Bridge obfs4 1.2.3.4:65536\n", 3, "bridge address");
    bad(DD CTP "Bridge obfs4 1.2.3.4:443 0123456789ABCDEF0123456789ABCDEF0123456\n", 3,
        "fingerprint");
    bad(DD CTP "Bridge obfs4 1.2.3.4:443 0123456789ABCDEF0123456789ABCDEF0123456Z\n", 3,
        "fingerprint");
    bad(DD CTP "Bridge obfs4 1.2.3.4:443 =v\n", 3, "not k=v");
    bad(DD CTP "Bridge obfs4 1.2.3.4:443 " FP " =v\n", 3, "not k=v");
    bad(DD CTP "Bridge obfs4 1.2.3.4:443 cert=x iat-mode\n", 3, "not k=v");
    bad(DD CTP "Bridge obfs4 1.2.3.4:443 " FP " " FP "\n", 3, "not k=v");
}

/* A Bridge line whose args encode to exactly n bytes: "k=" + value. */
static char *bridge_with_args(size_t n, char fill)
{
    size_t vlen = n - 2;
    if (fill == ';')
        vlen = (n - 2) / 2; /* each ';' is encoded as "\;" */
    char *s = malloc(vlen + 200);
    int off = snprintf(s, 200, DD CTP "Bridge obfs4 1.2.3.4:443 k=");
    memset(s + off, fill, vlen);
    memcpy(s + off + vlen, "\n", 2);
    return s;
}

static void test_bridge_args_limit(void **st)
{
    (void)st;
    struct host_config c;
    char *s = bridge_with_args(510, 'a');
    good(s, &c);
    struct ptk_buf enc;
    ptk_buf_init(&enc, 4096);
    assert_int_equal(ptk_args_encode(&c.bridges[0].args, &enc), PTK_OK);
    assert_int_equal((int)ptk_buf_len(&enc), 510);
    ptk_buf_free(&enc);
    host_config_free(&c);
    free(s);

    s = bridge_with_args(511, 'a');
    bad(s, 3, "510");
    free(s);

    /* the limit counts the escapes tor adds: 254 ';' are 508 bytes encoded */
    s = bridge_with_args(510, ';');
    good(s, &c);
    host_config_free(&c);
    free(s);
    s = bridge_with_args(512, ';');
    bad(s, 3, "510");
    free(s);

    /* several arguments: the ';' joining them counts too (2 x 254 + 1 = 509, then 512) */
    char line[1200];
    char v[300];
    memset(v, 'v', 252);
    v[252] = '\0';
    snprintf(line, sizeof(line), DD CTP "Bridge obfs4 1.2.3.4:443 a=%s b=%s\n", v, v);
    good(line, &c);
    host_config_free(&c);
    snprintf(line, sizeof(line), DD CTP "Bridge obfs4 1.2.3.4:443 a=%s b=%s c=\n", v, v);
    bad(line, 3, "510");
}

static void test_client_listen(void **st)
{
    (void)st;
    struct host_config c;
    /* ClientListen may come before the Bridge it names */
    good(DD "ClientListen 127.0.0.1:7001 2\n"
            "ClientListen [::1]:7002 10.0.0.1:9001\n"
            "ClientListen 127.0.0.1:7003 abcdef0123456789ABCDEF0123456789abcdef01\n"
            "ClientListen 127.0.0.1:7004 1\n"
            "ClientListen 127.0.0.1:7005 [2001:db8::1]:80\n" CTP "Bridge obfs4 1.2.3.4:443 " FP "\n"
            "Bridge obfs4 10.0.0.1:9001 ABCDEF0123456789abcdef0123456789ABCDEF01 cert=x\n"
            "Bridge obfs4 [2001:db8::1]:80\n",
         &c);
    assert_int_equal((int)c.n_client_listens, 5);
    assert_int_equal((int)c.client_listens[0].bridge, 1);
    expect_addr(&c.client_listens[0].listen, "127.0.0.1:7001");
    assert_string_equal(c.client_listens[0].bridge_ref, "2");
    assert_int_equal(c.client_listens[0].lineno, 2);
    assert_int_equal((int)c.client_listens[1].bridge, 1);
    expect_addr(&c.client_listens[1].listen, "[::1]:7002");
    assert_int_equal((int)c.client_listens[2].bridge, 1); /* fingerprints match in any case */
    assert_int_equal((int)c.client_listens[3].bridge, 0);
    assert_int_equal((int)c.client_listens[4].bridge, 2);
    host_config_free(&c);

    const char *two = CTP "Bridge obfs4 1.2.3.4:443 " FP "\nBridge obfs4 10.0.0.1:9001\n";
    char buf[1024];
    snprintf(buf, sizeof(buf), DD "%sClientListen 127.0.0.1:7001 3\n", two);
    bad(buf, 5, "no Bridge line matches \"3\"");
    snprintf(buf, sizeof(buf), DD "%sClientListen 127.0.0.1:7001 0\n", two);
    bad(buf, 5, "no Bridge line matches \"0\"");
    snprintf(buf, sizeof(buf), DD "%sClientListen 127.0.0.1:7001 10.0.0.1:9002\n", two);
    bad(buf, 5, "no Bridge line matches");
    snprintf(buf, sizeof(buf), DD "%sClientListen 127.0.0.1:7001 %.39s0\n", two, FP);
    bad(buf, 5, "no Bridge line matches");
    snprintf(buf, sizeof(buf), DD "%sClientListen localhost:7001 1\n", two);
    bad(buf, 5, "listen address");
    snprintf(buf, sizeof(buf), DD "%sClientListen 127.0.0.1:7001\n", two);
    bad(buf, 5, "ClientListen takes 2 arguments");
    snprintf(buf, sizeof(buf), DD "%sClientListen 127.0.0.1:7001 1 2\n", two);
    bad(buf, 5, "ClientListen takes 2 arguments");
    bad(DD "ClientListen 127.0.0.1:7001 1\n", 2, "there are 0");
    /* the bridge's transport must come from a ClientTransportPlugin */
    bad(DD "Bridge meek 1.2.3.4:443\nClientListen 127.0.0.1:7001 1\n" CTP, 2,
        "no ClientTransportPlugin offers \"meek\"");
    bad(DD "ServerForward 127.0.0.1:1\nServerTransportPlugin obfs4 exec /bin/x\n"
           "Bridge obfs4 1.2.3.4:443\nClientListen 127.0.0.1:7001 1\n",
        4, "no ClientTransportPlugin offers \"obfs4\"");
    /* an external proxy serves ClientListen too */
    good(DD "ClientTransportPlugin ext socks5 127.0.0.1:9050\nBridge ext 1.2.3.4:443\n"
            "ClientListen 127.0.0.1:7001 1\n",
         &c);
    host_config_free(&c);
}

static void test_server_options(void **st)
{
    (void)st;
    struct host_config c;
    good(DD "ServerTransportPlugin obfs4,obfs3 exec /usr/bin/obfs4proxy\n"
            "ServerForward [::1]:9001\n"
            "ServerTransportListenAddr obfs4 0.0.0.0:443\n"
            "ServerTransportListenAddr obfs3 [::]:0\n"
            "ServerTransportOptions obfs4 iat-mode=1 k=a:b;c\\d x=y=z\n"
            "ServerTransportOptions obfs3 \"q=two words\"\n",
         &c);
    assert_true(c.has_forward);
    expect_addr(&c.forward, "[::1]:9001");
    assert_int_equal((int)c.n_listen_addrs, 2);
    assert_string_equal(c.listen_addrs[0].transport, "obfs4");
    expect_addr(&c.listen_addrs[0].addr, "0.0.0.0:443");
    expect_addr(&c.listen_addrs[1].addr, "[::]:0");
    const struct ptk_kvlist *o = ptk_server_options_get(&c.server_options, "obfs4");
    assert_non_null(o);
    assert_int_equal((int)o->n, 3);
    assert_string_equal(o->items[0].key, "iat-mode");
    assert_string_equal(o->items[0].value, "1");
    assert_string_equal(o->items[1].key, "k");
    assert_string_equal(o->items[1].value, "a:b;c\\d");
    assert_string_equal(o->items[2].key, "x");
    assert_string_equal(o->items[2].value, "y=z");
    o = ptk_server_options_get(&c.server_options, "obfs3");
    assert_non_null(o);
    assert_int_equal((int)o->n, 1);
    assert_string_equal(o->items[0].value, "two words");
    assert_null(ptk_server_options_get(&c.server_options, "scramblesuit"));
    /* the variable the PT gets: ':' ';' '\' escaped in values, as tor writes it */
    struct ptk_buf b;
    const char *s;
    ptk_buf_init(&b, 4096);
    assert_int_equal(
        ptk_server_options_encode("obfs4", ptk_server_options_get(&c.server_options, "obfs4"), &b),
        PTK_OK);
    assert_int_equal(ptk_buf_cstr(&b, &s), PTK_OK);
    assert_string_equal(s, "obfs4:iat-mode=1;obfs4:k=a\\:b\\;c\\\\d;obfs4:x=y=z");
    ptk_buf_free(&b);
    host_config_free(&c);

    /* tor reads only the first ServerTransportOptions line of a transport */
    good(DD "ServerTransportOptions obfs4 iat-mode=1\nServerTransportOptions obfs4 iat-mode=2\n"
            "ServerTransportOptions obfs3 a=b\n",
         &c);
    o = ptk_server_options_get(&c.server_options, "obfs4");
    assert_non_null(o);
    assert_int_equal((int)o->n, 1);
    assert_string_equal(o->items[0].value, "1");
    assert_non_null(ptk_server_options_get(&c.server_options, "obfs3"));
    host_config_free(&c);

    bad(DD "ServerTransportListenAddr obfs4\n", 2, "takes 2 arguments");
    bad(DD "ServerTransportListenAddr obfs4 1.2.3.4:1 x\n", 2, "takes 2 arguments");
    bad(DD "ServerTransportListenAddr obfs-4 1.2.3.4:1\n", 2, "not a transport name");
    bad(DD "ServerTransportListenAddr obfs4 0.0.0.0\n", 2, "listen address");
    bad(DD "ServerTransportListenAddr obfs4 any:443\n", 2, "listen address");
    bad(DD "ServerTransportOptions obfs4\n", 2, "at least 2 arguments");
    bad(DD "ServerTransportOptions obfs4 iat-mode\n", 2, "not k=v");
    bad(DD "ServerTransportOptions obfs4 =1\n", 2, "not k=v");
    bad(DD "ServerTransportOptions ob:fs4 a=1\n", 2, "not a transport name");
    bad(DD "ServerForward\n", 2, "ServerForward takes 1 argument");
    bad(DD "ServerForward 127.0.0.1\n", 2, "forward address");
    bad(DD "ServerForward localhost:9001\n", 2, "forward address");
}

static void expect_proxy(const char *lines, const char *uri)
{
    struct host_config c;
    char buf[2048];
    snprintf(buf, sizeof(buf), DD "%s", lines);
    good(buf, &c);
    if (!uri)
        assert_null(c.proxy_uri);
    else if (!c.proxy_uri || strcmp(c.proxy_uri, uri) != 0)
        fail_msg("TOR_PT_PROXY \"%s\", expected \"%s\"", c.proxy_uri ? c.proxy_uri : "(null)", uri);
    host_config_free(&c);
}

static void test_proxy_uri(void **st)
{
    (void)st;
    /* get_pt_proxy_uri(): socks4a://IP:PORT, socks5://[user:pass@]IP:PORT, http://[auth@]IP:PORT */
    expect_proxy("", NULL);
    expect_proxy("Socks4Proxy 1.2.3.4:1080\n", "socks4a://1.2.3.4:1080");
    expect_proxy("Socks4Proxy [::1]:1080\n", "socks4a://[::1]:1080");
    expect_proxy("Socks5Proxy 127.0.0.1:9\n", "socks5://127.0.0.1:9");
    expect_proxy("Socks5Proxy [2001:db8::5]:1080\n", "socks5://[2001:db8::5]:1080");
    /* credentials are not URL-escaped (tor-side.md) */
    expect_proxy("Socks5Proxy 127.0.0.1:9\nSocks5ProxyUsername us:er\n"
                 "Socks5ProxyPassword p@ss\n",
                 "socks5://us:er:p@ss@127.0.0.1:9");
    expect_proxy("Socks5ProxyPassword \"pa ss\"\nSocks5ProxyUsername u\nSocks5Proxy 10.0.0.1:5\n",
                 "socks5://u:pa ss@10.0.0.1:5");
    expect_proxy("HTTPSProxy 10.1.2.3:3128\n", "http://10.1.2.3:3128");
    expect_proxy("HTTPSProxy [2001:db8::1]:443\nHTTPSProxyAuthenticator user:pass\n",
                 "http://user:pass@[2001:db8::1]:443");
    /* the same option twice: the last one counts */
    expect_proxy("Socks5Proxy 127.0.0.1:9\nSocks5Proxy 127.0.0.1:10\n", "socks5://127.0.0.1:10");

    bad(DD "Socks4Proxy 1.2.3.4:1080\nSocks5Proxy 1.2.3.4:1080\n", 3, "only one of");
    bad(DD "HTTPSProxy 1.2.3.4:1080\nSocks4Proxy 1.2.3.4:1080\n", 3, "only one of");
    bad(DD "Socks5Proxy proxy.example:1080\n", 2, "proxy address");
    bad(DD "Socks5Proxy 1.2.3.4:1080 x\n", 2, "takes 1 argument");
    bad(DD "Socks5ProxyUsername u\nSocks5ProxyPassword p\n", 2, "Socks5Proxy");
    bad(DD "HTTPSProxyAuthenticator u:p\n", 2, "HTTPSProxy");
    /* tor (options_validate): the two go together, 1 to 255 bytes each */
    bad(DD "Socks5Proxy 127.0.0.1:9\nSocks5ProxyUsername u\n", 3, "Socks5ProxyPassword");
    bad(DD "Socks5Proxy 127.0.0.1:9\nSocks5ProxyPassword p\n", 3, "Socks5ProxyUsername");
    bad(DD "Socks5Proxy 127.0.0.1:9\nSocks5ProxyUsername \"\"\nSocks5ProxyPassword p\n", 3, "255");
    char buf[1024], longs[300];
    memset(longs, 'x', 256);
    longs[256] = '\0';
    snprintf(buf, sizeof(buf),
             DD "Socks5Proxy 127.0.0.1:9\nSocks5ProxyUsername u\n"
                "Socks5ProxyPassword %s\n",
             longs);
    bad(buf, 4, "255");
    longs[255] = '\0';
    snprintf(buf, sizeof(buf),
             DD "Socks5Proxy 127.0.0.1:9\nSocks5ProxyUsername %s\n"
                "Socks5ProxyPassword %s\n",
             longs, longs);
    struct host_config c;
    good(buf, &c);
    assert_int_equal((int)strlen(c.proxy_uri), 9 + 255 + 1 + 255 + 1 + 11);
    host_config_free(&c);
}

static void test_bind_extor_log(void **st)
{
    (void)st;
    struct host_config c;
    good(DD "OutboundBindAddress 10.0.0.1\nOutboundBindAddressPT [2001:db8::4]\n"
            "ExtORPort 0\nExtORPortCookieAuthFile /var/lib/shared/cookie\n"
            "Log info file /tmp/ptk-host.log\nSafeLogging 0\n"
            "PTConfigTimeout 5\nPTShutdownGrace 1\n",
         &c);
    assert_true(c.has_bind_v4);
    assert_true(c.has_bind_v6);
    char ip[64];
    assert_string_equal(
        inet_ntop(AF_INET, &((struct sockaddr_in *)&c.bind_v4.ss)->sin_addr, ip, sizeof(ip)),
        "10.0.0.1");
    assert_string_equal(
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c.bind_v6.ss)->sin6_addr, ip, sizeof(ip)),
        "2001:db8::4");
    assert_false(c.extorport);
    assert_string_equal(c.cookie_file, "/var/lib/shared/cookie");
    assert_int_equal(c.log_level, PTK_LOG_INFO);
    assert_string_equal(c.log_file, "/tmp/ptk-host.log");
    assert_true(c.unsafe_logging);
    assert_int_equal(c.config_timeout_s, 5);
    assert_int_equal(c.shutdown_grace_s, 1);
    host_config_free(&c);

    good(DD "OutboundBindAddress 2001:db8::9\nExtORPort auto\nLog notice-err stderr\n"
            "SafeLogging 1\nPTConfigTimeout 3600\n",
         &c);
    assert_false(c.has_bind_v4);
    assert_true(c.has_bind_v6);
    assert_true(c.extorport);
    assert_int_equal(c.log_level, PTK_LOG_NOTICE);
    assert_null(c.log_file);
    assert_false(c.unsafe_logging);
    assert_int_equal(c.config_timeout_s, 3600);
    host_config_free(&c);

    static const struct {
        const char *spec;
        enum ptk_log_level lvl;
    } levels[] = {{"debug", PTK_LOG_DEBUG},   {"info", PTK_LOG_INFO},
                  {"notice", PTK_LOG_NOTICE}, {"warn", PTK_LOG_WARNING},
                  {"ERR", PTK_LOG_ERROR},     {"Warn-Err stdout", PTK_LOG_WARNING}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        char buf[200];
        snprintf(buf, sizeof(buf), DD "Log %s\n", levels[i].spec);
        good(buf, &c);
        assert_int_equal(c.log_level, levels[i].lvl);
        host_config_free(&c);
    }

    bad(DD "OutboundBindAddress 10.0.0.1:5\n", 2, "address");
    bad(DD "OutboundBindAddress host.example\n", 2, "address");
    bad(DD "OutboundBindAddress\n", 2, "takes 1 argument");
    bad(DD "ExtORPort 127.0.0.1:5000\n", 2, "ExtORPort takes");
    bad(DD "ExtORPort\n", 2, "ExtORPort takes 1 argument");
    bad(DD "ExtORPortCookieAuthFile\n", 2, "takes 1 argument");
    bad(DD "Log\n", 2, "Log takes at least 1 argument");
    bad(DD "Log loud\n", 2, "unknown log level \"loud\"");
    bad(DD "Log info syslog\n", 2, "stderr or file");
    bad(DD "Log info file\n", 2, "Log LEVEL file PATH");
    bad(DD "Log info file a b\n", 2, NULL);
    bad(DD "SafeLogging relay\n", 2, "SafeLogging takes 0 or 1");
    bad(DD "SafeLogging\n", 2, "takes 1 argument");
    bad(DD "PTConfigTimeout 0\n", 2, "PTConfigTimeout must be a number of seconds");
    bad(DD "PTConfigTimeout 3601\n", 2, "PTConfigTimeout");
    bad(DD "PTConfigTimeout 5s\n", 2, "PTConfigTimeout");
    bad(DD "PTConfigTimeout -1\n", 2, "PTConfigTimeout");
    bad(DD "PTConfigTimeout\n", 2, "takes 1 argument");
    bad(DD "PTShutdownGrace 0\n", 2, "PTShutdownGrace must be a number of seconds");
    bad(DD "PTShutdownGrace 1 2\n", 2, "takes 1 argument");
}

static void test_load(void **st)
{
    (void)st;
    struct host_config c;
    char path[] = "/tmp/ptk-test-host-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = DD CTP "Bridge obfs4 1.2.3.4:443\nClientListen 127.0.0.1:7001 1\n";
    assert_int_equal((int)write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
    close(fd);
    err[0] = '\0';
    assert_int_equal(host_config_load(path, &c, err, sizeof(err)), PTK_OK);
    assert_string_equal(c.path, path);
    assert_int_equal((int)c.n_client_listens, 1);
    host_config_free(&c);

    /* errors name the file */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(DD "\nBogus 1\n", f);
    fclose(f);
    assert_int_equal(host_config_load(path, &c, err, sizeof(err)), PTK_EINVAL);
    char want[100];
    snprintf(want, sizeof(want), "%s:3: ", path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("err=\"%s\"", err);
    host_config_free(&c);

    /* too large (over 1 MiB) */
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 70000; i++)
        fputs("# padding line\n", f);
    fclose(f);
    assert_int_equal(host_config_load(path, &c, err, sizeof(err)), PTK_EINVAL);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "too large"));
    host_config_free(&c);
    unlink(path);

    assert_int_equal(host_config_load(path, &c, err, sizeof(err)), PTK_EINVAL);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "no such file"));
    host_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_unknown_and_lines),
        cmocka_unit_test(test_plugins),
        cmocka_unit_test(test_bridges),
        cmocka_unit_test(test_bridge_args_limit),
        cmocka_unit_test(test_client_listen),
        cmocka_unit_test(test_server_options),
        cmocka_unit_test(test_proxy_uri),
        cmocka_unit_test(test_bind_extor_log),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests_name("host_config", tests, NULL, NULL);
}
