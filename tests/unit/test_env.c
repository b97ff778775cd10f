/*
 * Unit tests: the managed-proxy environment (proto/env.c). The good cases are
 * the environments tor 0.4.9 really sets (reference/tor-side.md); the version
 * and bind-address vectors come from goptlib's pt_test.go and proxy_test.go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "ptkit/env.h"

#define MAXVARS 40

/* A synthetic envp: entries added first win, as with getenv. */
struct envb {
    const char *v[MAXVARS + 1];
    size_t n;
};

static void add(struct envb *e, const char *s)
{
    assert_true(e->n < MAXVARS);
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
}

static const char *const client_vars[] = {
    "PATH=/usr/bin:/bin",
    "TOR_PT_MANAGED_TRANSPORT_VER=1",
    "TOR_PT_STATE_LOCATION=/var/lib/tor/pt_state/",
    "TOR_PT_EXIT_ON_STDIN_CLOSE=1",
    "TOR_PT_CLIENT_TRANSPORTS=obfs4,meek_lite,snowflake",
    "TOR_PT_OUTBOUND_BIND_ADDRESS_V4=192.0.2.4",
    "TOR_PT_OUTBOUND_BIND_ADDRESS_V6=[2001:db8::4]",
    "HOME=/var/lib/tor",
    NULL,
};

static const char *const server_vars[] = {
    "TOR_PT_MANAGED_TRANSPORT_VER=1",
    "TOR_PT_STATE_LOCATION=/var/lib/tor/pt_state/",
    "TOR_PT_EXIT_ON_STDIN_CLOSE=1",
    "TOR_PT_SERVER_TRANSPORTS=foo,barbaz",
    "TOR_PT_SERVER_BINDADDR=foo-0.0.0.0:0,barbaz-[::1]:4444",
    "TOR_PT_ORPORT=127.0.0.1:9001",
    "TOR_PT_EXTENDED_SERVER_PORT=",
    "TOR_PT_SERVER_TRANSPORT_OPTIONS=foo:a=b\\:c\\;d\\\\e;foo:x=y=z;barbaz:k=v",
    NULL,
};

/*
 * overrides (NULL-terminated, may be NULL) go first so they win; then the
 * base entries, except the one whose name is `drop` (may be NULL).
 */
static void build(struct envb *e, const char *const *base, const char *const *over,
                  const char *drop)
{
    e->n = 0;
    e->v[0] = NULL;
    for (size_t i = 0; over && over[i]; i++)
        add(e, over[i]);
    size_t dl = drop ? strlen(drop) : 0;
    for (size_t i = 0; base[i]; i++) {
        if (drop && strncmp(base[i], drop, dl) == 0 && base[i][dl] == '=')
            continue;
        add(e, base[i]);
    }
}

static enum ptk_env_status parse(struct ptk_env *env, const struct envb *e, char *err,
                                 size_t errlen)
{
    return ptk_env_parse(env, (char *const *)e->v, err, errlen);
}

static void assert_clean(const char *s)
{
    for (const char *p = s; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* The variable (override "NAME=value") makes parsing fail, and err names `needle`. */
static void expect_env_error(const char *const *base, const char *over, const char *drop,
                             const char *needle)
{
    struct envb e;
    struct ptk_env env;
    char err[256];
    const char *o[2] = {over, NULL};
    build(&e, base, over ? o : NULL, drop);
    memset(err, 'X', sizeof(err));
    enum ptk_env_status st = parse(&env, &e, err, sizeof(err));
    if (st != PTK_ENV_ERROR || !strstr(err, needle))
        print_error("input %s (drop %s): status %d, err \"%s\", want \"%s\"\n", over ? over : "-",
                    drop ? drop : "-", (int)st, err, needle);
    assert_int_equal(st, PTK_ENV_ERROR);
    assert_non_null(strstr(err, needle));
    assert_clean(err);
    ptk_env_free(&env);
}

static void assert_ip(const struct sockaddr_storage *ss, int family, const char *ip, unsigned port)
{
    char buf[INET6_ADDRSTRLEN];
    assert_int_equal(ss->ss_family, family);
    if (family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
        assert_int_equal(ntohs(sin->sin_port), port);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
        assert_int_equal(ntohs(sin6->sin6_port), port);
    }
    assert_string_equal(buf, ip);
}

static void test_client_as_tor_sets_it(void **st)
{
    (void)st;
    struct envb e;
    struct ptk_env env;
    char err[256];
    build(&e, client_vars, NULL, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_true(env.client);
    assert_false(env.server);
    assert_string_equal(env.state_location, "/var/lib/tor/pt_state/");
    assert_true(env.exit_on_stdin_close);
    assert_int_equal((int)env.n_client_transports, 3);
    assert_string_equal(env.client_transports[0], "obfs4");
    assert_string_equal(env.client_transports[1], "meek_lite");
    assert_string_equal(env.client_transports[2], "snowflake");
    assert_true(ptk_env_wants_client(&env, "obfs4"));
    assert_true(ptk_env_wants_client(&env, "snowflake"));
    assert_false(ptk_env_wants_client(&env, "obfs3"));
    assert_false(ptk_env_wants_client(&env, "obfs"));
    assert_int_equal(env.proxy.scheme, PTK_PROXY_NONE);
    assert_string_equal(env.proxy_error, "");
    assert_int_equal((int)env.n_server_transports, 0);
    assert_int_equal((int)env.n_bindaddrs, 0);
    assert_false(env.has_orport);
    assert_false(env.has_extorport);
    assert_true(env.has_outbound_v4);
    assert_true(env.has_outbound_v6);
    assert_ip(&env.outbound_v4, AF_INET, "192.0.2.4", 0);
    assert_ip(&env.outbound_v6, AF_INET6, "2001:db8::4", 0);
    ptk_env_free(&env);
    ptk_env_free(&env); /* freeing twice is harmless: free zeroes the struct */

    /* Minimal client: no EXIT_ON_STDIN_CLOSE, no outbound addresses. */
    const char *const minimal[] = {"TOR_PT_MANAGED_TRANSPORT_VER=1", "TOR_PT_STATE_LOCATION=/tmp/s",
                                   "TOR_PT_CLIENT_TRANSPORTS=obfs4", NULL};
    build(&e, minimal, NULL, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_false(env.exit_on_stdin_close);
    assert_false(env.has_outbound_v4);
    assert_false(env.has_outbound_v6);
    ptk_env_free(&env);

    /* "0" is accepted and means no; an empty value is as if unset. */
    const char *zero[] = {"TOR_PT_EXIT_ON_STDIN_CLOSE=0", NULL};
    build(&e, client_vars, zero, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_false(env.exit_on_stdin_close);
    ptk_env_free(&env);
    const char *empty[] = {"TOR_PT_EXIT_ON_STDIN_CLOSE=", NULL};
    build(&e, client_vars, empty, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_false(env.exit_on_stdin_close);
    ptk_env_free(&env);
}

static void test_client_transport_lists(void **st)
{
    (void)st;
    /* goptlib's TestGetClientTransports (the ones with a C identifier or "*") */
    static const struct {
        const char *in;
        int n;
        const char *names[3];
    } cases[] = {
        {"TOR_PT_CLIENT_TRANSPORTS=alpha", 1, {"alpha"}},
        {"TOR_PT_CLIENT_TRANSPORTS=alpha,beta", 2, {"alpha", "beta"}},
        {"TOR_PT_CLIENT_TRANSPORTS=alpha,beta,gamma", 3, {"alpha", "beta", "gamma"}},
        {"TOR_PT_CLIENT_TRANSPORTS=*", 1, {"*"}},
        {"TOR_PT_CLIENT_TRANSPORTS=alpha,*,gamma", 3, {"alpha", "*", "gamma"}},
        {"TOR_PT_CLIENT_TRANSPORTS=_x9,A_B", 2, {"_x9", "A_B"}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct envb e;
        struct ptk_env env;
        char err[256];
        const char *o[2] = {cases[c].in, NULL};
        build(&e, client_vars, o, NULL);
        assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
        assert_int_equal((int)env.n_client_transports, cases[c].n);
        for (int i = 0; i < cases[c].n; i++)
            assert_string_equal(env.client_transports[i], cases[c].names[i]);
        if (strchr(cases[c].in, '*'))
            assert_true(ptk_env_wants_client(&env, "anything"));
        ptk_env_free(&env);
    }
}

static void test_server_as_tor_sets_it(void **st)
{
    (void)st;
    struct envb e;
    struct ptk_env env;
    char err[256];
    build(&e, server_vars, NULL, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_false(env.client);
    assert_true(env.server);
    assert_string_equal(env.state_location, "/var/lib/tor/pt_state/");
    assert_true(env.exit_on_stdin_close);
    assert_int_equal((int)env.n_server_transports, 2);
    assert_string_equal(env.server_transports[0], "foo");
    assert_string_equal(env.server_transports[1], "barbaz");
    assert_int_equal((int)env.n_bindaddrs, 2);
    assert_string_equal(env.bindaddrs[0].transport, "foo");
    assert_ip(&env.bindaddrs[0].addr, AF_INET, "0.0.0.0", 0);
    assert_int_equal(env.bindaddrs[0].addrlen, sizeof(struct sockaddr_in));
    assert_string_equal(env.bindaddrs[1].transport, "barbaz");
    assert_ip(&env.bindaddrs[1].addr, AF_INET6, "::1", 4444);
    assert_int_equal(env.bindaddrs[1].addrlen, sizeof(struct sockaddr_in6));
    assert_true(env.has_orport);
    assert_ip(&env.orport, AF_INET, "127.0.0.1", 9001);
    assert_int_equal(env.orport_len, sizeof(struct sockaddr_in));
    assert_false(env.has_extorport);
    assert_null(env.auth_cookie_file);
    assert_int_equal((int)env.n_client_transports, 0);
    assert_false(ptk_env_wants_client(&env, "foo"));

    const struct ptk_kvlist *foo = ptk_server_options_get(&env.server_options, "foo");
    assert_non_null(foo);
    assert_int_equal((int)foo->n, 2);
    assert_string_equal(ptk_kvlist_get(foo, "a"), "b:c;d\\e");
    assert_string_equal(ptk_kvlist_get(foo, "x"), "y=z");
    const struct ptk_kvlist *bb = ptk_server_options_get(&env.server_options, "barbaz");
    assert_non_null(bb);
    assert_string_equal(ptk_kvlist_get(bb, "k"), "v");
    assert_false(env.has_outbound_v4);
    ptk_env_free(&env);
}

static void test_server_extorport(void **st)
{
    (void)st;
    struct envb e;
    struct ptk_env env;
    char err[256];
    const char *ext[] = {"TOR_PT_EXTENDED_SERVER_PORT=127.0.0.1:36000",
                         "TOR_PT_AUTH_COOKIE_FILE=/var/lib/tor/extended_orport_auth_cookie", NULL};
    build(&e, server_vars, ext, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_true(env.has_orport);
    assert_true(env.has_extorport);
    assert_ip(&env.extorport, AF_INET, "127.0.0.1", 36000);
    assert_int_equal(env.extorport_len, sizeof(struct sockaddr_in));
    assert_string_equal(env.auth_cookie_file, "/var/lib/tor/extended_orport_auth_cookie");
    ptk_env_free(&env);

    /* The extended port alone is enough; IPv6 works too. */
    const char *ext6[] = {"TOR_PT_EXTENDED_SERVER_PORT=[::1]:36000", "TOR_PT_AUTH_COOKIE_FILE=/c",
                          NULL};
    build(&e, server_vars, ext6, "TOR_PT_ORPORT");
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_false(env.has_orport);
    assert_true(env.has_extorport);
    assert_ip(&env.extorport, AF_INET6, "::1", 36000);
    ptk_env_free(&env);

    /* No options variable at all, and goptlib's other good cases. */
    const char *opts[] = {
        "TOR_PT_SERVER_TRANSPORTS=trebuchet,ballista",
        "TOR_PT_SERVER_BINDADDR=trebuchet-127.0.0.1:1984,ballista-127.0.0.1:4891",
        "TOR_PT_SERVER_TRANSPORT_OPTIONS=trebuchet:secret=nou;trebuchet:cache=/tmp/cache;"
        "ballista:secret=yes",
        NULL};
    build(&e, server_vars, opts, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_int_equal((int)env.n_bindaddrs, 2);
    assert_ip(&env.bindaddrs[1].addr, AF_INET, "127.0.0.1", 4891);
    const struct ptk_kvlist *t = ptk_server_options_get(&env.server_options, "trebuchet");
    assert_non_null(t);
    assert_string_equal(ptk_kvlist_get(t, "secret"), "nou");
    assert_string_equal(ptk_kvlist_get(t, "cache"), "/tmp/cache");
    assert_string_equal(
        ptk_kvlist_get(ptk_server_options_get(&env.server_options, "ballista"), "secret"), "yes");
    ptk_env_free(&env);

    build(&e, server_vars, NULL, "TOR_PT_SERVER_TRANSPORT_OPTIONS");
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_int_equal((int)env.server_options.n, 0);
    assert_null(ptk_server_options_get(&env.server_options, "foo"));
    ptk_env_free(&env);

    /* Client and server at once. */
    const char *both[] = {"TOR_PT_CLIENT_TRANSPORTS=obfs4", NULL};
    build(&e, server_vars, both, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_true(env.client);
    assert_true(env.server);
    ptk_env_free(&env);
}

static void expect_version(const char *var, enum ptk_env_status want)
{
    struct envb e;
    struct ptk_env env;
    char err[256];
    const char *o[2] = {var, NULL};
    build(&e, client_vars, o, "TOR_PT_MANAGED_TRANSPORT_VER");
    enum ptk_env_status got = parse(&env, &e, err, sizeof(err));
    if (got != want)
        print_error("%s: status %d, want %d\n", var, (int)got, (int)want);
    assert_int_equal(got, want);
    if (want == PTK_ENV_ERROR)
        assert_non_null(strstr(err, "TOR_PT_MANAGED_TRANSPORT_VER"));
    ptk_env_free(&env);
}

static void test_versions(void **st)
{
    (void)st;
    /* goptlib's TestGetManagedTransportVer */
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=1", PTK_ENV_OK);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=1,1", PTK_ENV_OK);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=1,2", PTK_ENV_OK);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=2,1", PTK_ENV_OK);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=2", PTK_ENV_VERSION_ERROR);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=", PTK_ENV_ERROR);
    expect_version(NULL, PTK_ENV_ERROR);
    /* a version is a whole list element */
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=10", PTK_ENV_VERSION_ERROR);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=11,2", PTK_ENV_VERSION_ERROR);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER= 1", PTK_ENV_VERSION_ERROR);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=1.0", PTK_ENV_VERSION_ERROR);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=2,3,4", PTK_ENV_VERSION_ERROR);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=,", PTK_ENV_VERSION_ERROR);
    expect_version("TOR_PT_MANAGED_TRANSPORT_VER=,1", PTK_ENV_OK);

    /* The version is checked before anything else: nothing else need be set. */
    struct envb e = {.n = 0};
    struct ptk_env env;
    char err[64];
    add(&e, "TOR_PT_MANAGED_TRANSPORT_VER=3");
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_VERSION_ERROR);
    ptk_env_free(&env);

    /* An empty environment and a NULL envp. */
    e.n = 0;
    e.v[0] = NULL;
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_ERROR);
    assert_non_null(strstr(err, "TOR_PT_MANAGED_TRANSPORT_VER"));
    ptk_env_free(&env);
    assert_int_equal(ptk_env_parse(&env, NULL, err, sizeof(err)), PTK_ENV_ERROR);
    ptk_env_free(&env);
}

static void test_missing_required(void **st)
{
    (void)st;
    expect_env_error(client_vars, NULL, "TOR_PT_MANAGED_TRANSPORT_VER",
                     "TOR_PT_MANAGED_TRANSPORT_VER");
    expect_env_error(client_vars, NULL, "TOR_PT_STATE_LOCATION", "TOR_PT_STATE_LOCATION");
    expect_env_error(client_vars, "TOR_PT_STATE_LOCATION=", NULL, "TOR_PT_STATE_LOCATION");
    expect_env_error(client_vars, NULL, "TOR_PT_CLIENT_TRANSPORTS", "TOR_PT_CLIENT_TRANSPORTS");
    expect_env_error(client_vars, NULL, "TOR_PT_CLIENT_TRANSPORTS", "TOR_PT_SERVER_TRANSPORTS");
    expect_env_error(client_vars, "TOR_PT_CLIENT_TRANSPORTS=", NULL, "TOR_PT_CLIENT_TRANSPORTS");
    expect_env_error(server_vars, NULL, "TOR_PT_SERVER_TRANSPORTS", "TOR_PT_SERVER_TRANSPORTS");
    expect_env_error(server_vars, NULL, "TOR_PT_STATE_LOCATION", "TOR_PT_STATE_LOCATION");
    expect_env_error(server_vars, NULL, "TOR_PT_SERVER_BINDADDR", "TOR_PT_SERVER_BINDADDR");
    expect_env_error(server_vars, "TOR_PT_SERVER_BINDADDR=", NULL, "TOR_PT_SERVER_BINDADDR");
    /* neither ORPort: the message names both */
    expect_env_error(server_vars, NULL, "TOR_PT_ORPORT", "TOR_PT_ORPORT");
    expect_env_error(server_vars, NULL, "TOR_PT_ORPORT", "TOR_PT_EXTENDED_SERVER_PORT");
    expect_env_error(server_vars, "TOR_PT_ORPORT=", NULL, "TOR_PT_ORPORT");
    /* the extended port without its cookie file */
    expect_env_error(server_vars, "TOR_PT_EXTENDED_SERVER_PORT=127.0.0.1:36000", NULL,
                     "TOR_PT_AUTH_COOKIE_FILE");
    static const char *const ext_empty_cookie[] = {"TOR_PT_EXTENDED_SERVER_PORT=127.0.0.1:36000",
                                                   "TOR_PT_AUTH_COOKIE_FILE=", NULL};
    struct envb e;
    struct ptk_env env;
    char err[256];
    build(&e, server_vars, ext_empty_cookie, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_ERROR);
    assert_non_null(strstr(err, "TOR_PT_AUTH_COOKIE_FILE"));
    ptk_env_free(&env);
}

static void expect_bad_values(const char *const *base, const char *name, const char *const *vals,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char var[512];
        snprintf(var, sizeof(var), "%s=%s", name, vals[i]);
        expect_env_error(base, var, NULL, name);
    }
}

#define BAD(base, name, ...)                                                                       \
    do {                                                                                           \
        static const char *const v_[] = {__VA_ARGS__};                                             \
        expect_bad_values(base, name, v_, sizeof(v_) / sizeof(v_[0]));                             \
    } while (0)

static void test_malformed(void **st)
{
    (void)st;
    BAD(client_vars, "TOR_PT_CLIENT_TRANSPORTS", "obfs4,", ",obfs4", "obfs-4", "4obfs", "ob fs",
        "a,,b", "alpha\\,beta", "obfs4\n", "obfs4;meek", "obfs4 ", "caf\xc3\xa9", "**", "obfs4,*x");
    BAD(server_vars, "TOR_PT_SERVER_TRANSPORTS", "foo,", "foo-bar", "1foo", "foo,,barbaz", "*",
        "foo bar");
    /* goptlib's TestGetServerBindaddrs bad cases, and tor's format rules */
    BAD(server_vars, "TOR_PT_SERVER_BINDADDR", "alpha", "alpha-1.2.3.4",
        "alpha-1.2.3.4:", "alpha\\,beta-1.2.3.4:1111", "alpha-0.0.0.0:1234,alpha-[::]:1234",
        "alpha-0.0.0.0:1234,alpha-0.0.0.0:1234", "foo0.0.0.0:0", "foo-0.0.0.0:0,", ",foo-0.0.0.0:0",
        "foo-localhost:9000", "foo-[localhost]:9000", "foo-example.com:443", "foo-::1:4444",
        "foo-[::1]", "foo-[::1:4444", "foo-[1.2.3.4]:5", "foo-0.0.0.0:65536", "foo-0.0.0.0:-1",
        "foo-0.0.0.0:http", "foo-0.0.0.0:0x50", "fo-o-1.2.3.4:5", "-1.2.3.4:5", "foo- 1.2.3.4:5",
        "foo-1.2.3.4:5 ", "foo-1.2.3.4 : 5", "foo-1.2.3:5", "foo-256.1.1.1:5",
        "foo-0.0.0.0:0,barbaz-[::1]:4444,foo-[::1]:5");
    /* ORPort: literal IP and a port 1-65535 (goptlib's TestResolveAddr bad cases) */
    BAD(server_vars, "TOR_PT_ORPORT", "127.0.0.1:0", "localhost:9001", "127.0.0.1",
        "127.0.0.1:", "9999", ":9999", "[1:2::3:4]", "[1:2::3:4]:", "[1::2::3:4]:5",
        "1:2::3:4::9999", "1:2:3:4::9999", "[localhost]:9999", "1.2.3.4:http", "1.2.3.4:0x50",
        "1.2.3.4:-65456", "1.2.3.4:65536", "1.2.3.4:80 ", " 1.2.3.4:80", "1.2.3.4 : 80",
        "::1:9001");
    BAD(server_vars, "TOR_PT_EXTENDED_SERVER_PORT", "localhost:36000", "127.0.0.1:0", "127.0.0.1",
        "[::1]", "tor:1");
    BAD(client_vars, "TOR_PT_EXIT_ON_STDIN_CLOSE", "yes", "2", "true", "01", " 1", "1 ", "-1",
        "10");
    /* goptlib's bad options, and bad escapes */
    BAD(server_vars, "TOR_PT_SERVER_TRANSPORT_OPTIONS", "key=value", "foo", "foo:", "foo:k", ":k=v",
        "foo:=v", "foo:k=v;", "foo:k=v\\", "foo:a=b;bar");
    BAD(client_vars, "TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "2001:db8::4", "[2001:db8::4]", "localhost",
        "1.2.3.4:80", "1.2.3", " 1.2.3.4");
    BAD(client_vars, "TOR_PT_OUTBOUND_BIND_ADDRESS_V6", "192.0.2.4", "[192.0.2.4]", "localhost",
        "[2001:db8::4]:80", "[2001:db8::4", "2001:db8::4]", "[[::1]]", "::ffff:1.2.3.4.5");
}

static void expect_proxy(const char *uri, enum ptk_proxy_scheme scheme, int family, const char *ip,
                         unsigned port, const char *user, const char *pass)
{
    struct envb e;
    struct ptk_env env;
    char err[256], var[256];
    snprintf(var, sizeof(var), "TOR_PT_PROXY=%s", uri);
    const char *o[2] = {var, NULL};
    build(&e, client_vars, o, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    if (env.proxy_error[0])
        print_error("%s: %s\n", uri, env.proxy_error);
    assert_string_equal(env.proxy_error, "");
    assert_int_equal(env.proxy.scheme, scheme);
    assert_ip(&env.proxy.addr, family, ip, port);
    assert_int_equal(env.proxy.addrlen,
                     family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    if (user)
        assert_string_equal(env.proxy.user, user);
    else
        assert_null(env.proxy.user);
    if (pass)
        assert_string_equal(env.proxy.pass, pass);
    else
        assert_null(env.proxy.pass);
    ptk_env_free(&env);
}

static void test_proxy_good(void **st)
{
    (void)st;
    expect_proxy("socks4a://127.0.0.1:1080", PTK_PROXY_SOCKS4A, AF_INET, "127.0.0.1", 1080, NULL,
                 NULL);
    expect_proxy("socks5://127.0.0.1:1080", PTK_PROXY_SOCKS5, AF_INET, "127.0.0.1", 1080, NULL,
                 NULL);
    /* tor writes credentials raw: the last '@' ends them, the first ':' splits them */
    expect_proxy("socks5://us:er:p@ss@127.0.0.1:9", PTK_PROXY_SOCKS5, AF_INET, "127.0.0.1", 9, "us",
                 "er:p@ss");
    expect_proxy("http://user:pw@[::1]:3128", PTK_PROXY_HTTP, AF_INET6, "::1", 3128, "user", "pw");
    expect_proxy("http://127.0.0.1:8080", PTK_PROXY_HTTP, AF_INET, "127.0.0.1", 8080, NULL, NULL);
    /* goptlib's TestGetProxyURL good cases with a literal IP */
    expect_proxy("http://127.0.0.1:8080/", PTK_PROXY_HTTP, AF_INET, "127.0.0.1", 8080, NULL, NULL);
    expect_proxy("http://[::1]:8080", PTK_PROXY_HTTP, AF_INET6, "::1", 8080, NULL, NULL);
    expect_proxy("http://[::1]:8080/", PTK_PROXY_HTTP, AF_INET6, "::1", 8080, NULL, NULL);
    expect_proxy("http://user@127.0.0.1:8080", PTK_PROXY_HTTP, AF_INET, "127.0.0.1", 8080, "user",
                 NULL);
    expect_proxy("socks5://[2001:db8::1]:1080", PTK_PROXY_SOCKS5, AF_INET6, "2001:db8::1", 1080,
                 NULL, NULL);
    expect_proxy("socks5://u:p@10.0.0.1:65535", PTK_PROXY_SOCKS5, AF_INET, "10.0.0.1", 65535, "u",
                 "p");
}

static void expect_proxy_bad(const char *var)
{
    struct envb e;
    struct ptk_env env;
    char err[256];
    const char *o[2] = {var, NULL};
    build(&e, client_vars, o, NULL);
    enum ptk_env_status got = parse(&env, &e, err, sizeof(err));
    if (got != PTK_ENV_OK || !env.proxy_error[0])
        print_error("%s: status %d, proxy_error \"%s\"\n", var, (int)got, env.proxy_error);
    assert_int_equal(got, PTK_ENV_OK);
    assert_true(env.proxy_error[0] != '\0');
    assert_non_null(strstr(env.proxy_error, "TOR_PT_PROXY"));
    assert_clean(env.proxy_error);
    assert_int_equal(env.proxy.scheme, PTK_PROXY_NONE);
    /* the rest of the environment is still usable */
    assert_true(env.client);
    assert_int_equal((int)env.n_client_transports, 3);
    ptk_env_free(&env);
}

static void test_proxy_bad(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "TOR_PT_PROXY=ftp://127.0.0.1:21",
        "TOR_PT_PROXY=127.0.0.1:1080",
        "TOR_PT_PROXY=socks5://localhost:1080",
        "TOR_PT_PROXY=http://proxy.example.com:3128",
        "TOR_PT_PROXY=socks5://127.0.0.1",
        "TOR_PT_PROXY=socks4a://us:er@127.0.0.1:1080",
        "TOR_PT_PROXY=socks4a://user@127.0.0.1:1080",
        "TOR_PT_PROXY=socks5://user@127.0.0.1:1080",
        "TOR_PT_PROXY=socks5://user:@127.0.0.1:1080",
        "TOR_PT_PROXY=socks5://:pw@127.0.0.1:1080",
        "TOR_PT_PROXY=socks5://@127.0.0.1:1080",
        "TOR_PT_PROXY=socks5://127.0.0.1:0",
        "TOR_PT_PROXY=socks5://127.0.0.1:65536",
        "TOR_PT_PROXY=socks5://::1:1080",
        "TOR_PT_PROXY=SOCKS5://127.0.0.1:1080",
        "TOR_PT_PROXY=socks5:/127.0.0.1:1080",
        "TOR_PT_PROXY=socks://127.0.0.1:1080",
        "TOR_PT_PROXY=https://127.0.0.1:443",
        /* goptlib's TestGetProxyURL bad cases */
        "TOR_PT_PROXY=bogus",
        "TOR_PT_PROXY=http:",
        "TOR_PT_PROXY=://127.0.0.1",
        "TOR_PT_PROXY=//127.0.0.1",
        "TOR_PT_PROXY=http:127.0.0.1",
        "TOR_PT_PROXY=://[::1]",
        "TOR_PT_PROXY=//[::1]",
        "TOR_PT_PROXY=http:[::1]",
        "TOR_PT_PROXY=://localhost",
        "TOR_PT_PROXY=http:localhost",
        "TOR_PT_PROXY=http://127.0.0.1",
        "TOR_PT_PROXY=socks4a://127.0.0.1",
        "TOR_PT_PROXY=http://127.0.0.1:",
        "TOR_PT_PROXY=http://[::1]",
        "TOR_PT_PROXY=http://localhost",
        "TOR_PT_PROXY=unknown://localhost/whatever",
        "TOR_PT_PROXY=http://:8080",
        "TOR_PT_PROXY=socks4a://:1080",
        "TOR_PT_PROXY=socks5://:1080",
        /* goptlib accepts host names; tor always writes an IP */
        "TOR_PT_PROXY=http://localhost:8080",
        "TOR_PT_PROXY=socks5://localhost:1080",
        "TOR_PT_PROXY=socks4a://localhost:1080",
        "TOR_PT_PROXY=unknown://localhost:9999/whatever",
        /* control characters never reach the message */
        "TOR_PT_PROXY=socks5://127.0.0.1:1080\nPROXY DONE",
        "TOR_PT_PROXY=\x1b[31mftp\r://x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_proxy_bad(bad[i]);

    /* TOR_PT_PROXY unset or empty: no proxy, no error. */
    struct envb e;
    struct ptk_env env;
    char err[256];
    const char *empty[] = {"TOR_PT_PROXY=", NULL};
    build(&e, client_vars, empty, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_int_equal(env.proxy.scheme, PTK_PROXY_NONE);
    assert_string_equal(env.proxy_error, "");
    ptk_env_free(&env);
}

static void test_first_wins(void **st)
{
    (void)st;
    struct envb e;
    struct ptk_env env;
    char err[256];
    const char *v21[] = {"TOR_PT_MANAGED_TRANSPORT_VER=2", "TOR_PT_MANAGED_TRANSPORT_VER=1", NULL};
    build(&e, client_vars, v21, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_VERSION_ERROR);
    ptk_env_free(&env);

    const char *ct[] = {"TOR_PT_CLIENT_TRANSPORTS=scramblesuit",
                        "TOR_PT_CLIENT_TRANSPORTS=not valid!", NULL};
    build(&e, client_vars, ct, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_int_equal((int)env.n_client_transports, 1);
    assert_string_equal(env.client_transports[0], "scramblesuit");
    ptk_env_free(&env);

    const char *bad_first[] = {"TOR_PT_ORPORT=localhost:1", "TOR_PT_ORPORT=127.0.0.1:1", NULL};
    build(&e, server_vars, bad_first, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_ERROR);
    assert_non_null(strstr(err, "TOR_PT_ORPORT"));
    ptk_env_free(&env);

    const char *sl[] = {"TOR_PT_STATE_LOCATION=/first/", NULL};
    build(&e, client_vars, sl, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_string_equal(env.state_location, "/first/");
    ptk_env_free(&env);

    const char *px[] = {"TOR_PT_PROXY=socks5://127.0.0.1:1", "TOR_PT_PROXY=ftp://x", NULL};
    build(&e, client_vars, px, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_OK);
    assert_int_equal(env.proxy.scheme, PTK_PROXY_SOCKS5);
    ptk_env_free(&env);

    /* names match exactly: no prefix, no missing '=' */
    const char *near[] = {"TOR_PT_MANAGED_TRANSPORT_VERSION=1", "TOR_PT_MANAGED_TRANSPORT_VE=1",
                          "TOR_PT_MANAGED_TRANSPORT_VER",       "tor_pt_managed_transport_ver=1",
                          "TOR_PT_MANAGED_TRANSPORT_VER=1",     NULL};
    char *const *np = (char *const *)near;
    assert_string_equal(ptk_envp_get(np, "TOR_PT_MANAGED_TRANSPORT_VER"), "1");
    assert_null(ptk_envp_get(np, "TOR_PT_MANAGED_TRANSPORT"));
    assert_null(ptk_envp_get(np, "TOR_PT_STATE_LOCATION"));
    assert_string_equal(ptk_envp_get(np, "TOR_PT_MANAGED_TRANSPORT_VE"), "1");
    assert_null(ptk_envp_get(NULL, "X"));
    const char *eq[] = {"A==b", "A=c", NULL};
    assert_string_equal(ptk_envp_get((char *const *)eq, "A"), "=b");
}

static void test_error_text_is_clean(void **st)
{
    (void)st;
    /* Control characters in any value must not reach the one-line error message. */
    static const char *const evil[] = {
        "TOR_PT_CLIENT_TRANSPORTS=ob\nENV-ERROR forged",
        "TOR_PT_CLIENT_TRANSPORTS=\x01\x02\x03\x1f\x7f",
        "TOR_PT_EXIT_ON_STDIN_CLOSE=1\r\n",
        "TOR_PT_EXIT_ON_STDIN_CLOSE=\t",
        "TOR_PT_OUTBOUND_BIND_ADDRESS_V4=1.2.3.4\nVERSION 1",
        "TOR_PT_OUTBOUND_BIND_ADDRESS_V6=\x1b[2J",
    };
    for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
        struct envb e;
        struct ptk_env env;
        char err[256];
        const char *o[2] = {evil[i], NULL};
        build(&e, client_vars, o, NULL);
        assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_ERROR);
        assert_clean(err);
        assert_true(err[0] != '\0');
        ptk_env_free(&env);
    }
    static const char *const sevil[] = {
        "TOR_PT_SERVER_TRANSPORTS=foo\n",
        "TOR_PT_SERVER_BINDADDR=fo\no-1.2.3.4:5",
        "TOR_PT_SERVER_BINDADDR=foo-1.2.3.4:5\r",
        "TOR_PT_SERVER_BINDADDR=foo\x01-1.2.3.4:5",
        "TOR_PT_SERVER_BINDADDR=foo-0.0.0.0:0,foo\x7f",
        "TOR_PT_ORPORT=\n127.0.0.1:1",
        "TOR_PT_EXTENDED_SERVER_PORT=127.0.0.1:1\n",
        "TOR_PT_SERVER_TRANSPORT_OPTIONS=foo:k\n",
    };
    for (size_t i = 0; i < sizeof(sevil) / sizeof(sevil[0]); i++) {
        struct envb e;
        struct ptk_env env;
        char err[256];
        const char *o[2] = {sevil[i], NULL};
        build(&e, server_vars, o, NULL);
        assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_ERROR);
        assert_clean(err);
        ptk_env_free(&env);
    }

    /* A long value is cut, the message stays within errlen and is terminated. */
    char longv[2048];
    snprintf(longv, sizeof(longv), "TOR_PT_CLIENT_TRANSPORTS=");
    size_t l = strlen(longv);
    memset(longv + l, 'a', sizeof(longv) - l - 2);
    longv[sizeof(longv) - 2] = '-';
    longv[sizeof(longv) - 1] = '\0';
    struct envb e;
    struct ptk_env env;
    char err[256];
    const char *o[2] = {longv, NULL};
    build(&e, client_vars, o, NULL);
    assert_int_equal(parse(&env, &e, err, sizeof(err)), PTK_ENV_ERROR);
    assert_true(strlen(err) < sizeof(err));
    assert_non_null(strstr(err, "TOR_PT_CLIENT_TRANSPORTS"));
    ptk_env_free(&env);

    /* Tiny buffers: truncated but terminated; errlen 0 writes and reads nothing. */
    char small[8];
    memset(small, 'X', sizeof(small));
    build(&e, client_vars, NULL, "TOR_PT_STATE_LOCATION");
    assert_int_equal(parse(&env, &e, small, sizeof(small)), PTK_ENV_ERROR);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    ptk_env_free(&env);
    char *none = malloc(1);
    assert_non_null(none);
    none[0] = 'X'; /* not terminated: a read past it is caught by ASan */
    assert_int_equal(parse(&env, &e, none, 0), PTK_ENV_ERROR);
    assert_int_equal(none[0], 'X');
    ptk_env_free(&env);
    free(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_as_tor_sets_it),
        cmocka_unit_test(test_client_transport_lists),
        cmocka_unit_test(test_server_as_tor_sets_it),
        cmocka_unit_test(test_server_extorport),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_proxy_good),
        cmocka_unit_test(test_proxy_bad),
        cmocka_unit_test(test_first_wins),
        cmocka_unit_test(test_error_text_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
