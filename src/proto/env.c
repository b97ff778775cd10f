/*
 * Managed-proxy environment parser (see ptkit/env.h).
 *
 * Follows what tor 0.4.9 sets (reference/tor-side.md) and what goptlib
 * accepts, and is strict where a wrong value would otherwise surface much
 * later: transport names must be C identifiers, addresses literal IPs, flags
 * 0 or 1. Every error message names the variable.
 */
#include "ptkit/env.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/addr.h"
#include "util/str.h"

const char *ptk_envp_get(char *const envp[], const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
            return envp[i] + n + 1;
    return NULL;
}

static enum ptk_env_status fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum ptk_env_status fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (errlen == 0)
        return PTK_ENV_ERROR; /* nothing written, nothing to scan */
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* The message goes on one stdout line: no control characters. */
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return PTK_ENV_ERROR;
}

/* Split a comma list of transport names; each must be a C identifier (or "*"). */
static enum ptk_env_status parse_names(const char *var, const char *v, char ***out, size_t *nout,
                                       bool allow_star, char *err, size_t errlen)
{
    size_t n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    char **names = calloc(n, sizeof(*names));
    if (!names)
        return PTK_ENV_NOMEM;
    *out = names;
    *nout = 0;
    const char *p = v;
    for (size_t i = 0; i < n; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool star = allow_star && len == 1 && p[0] == '*';
        if (!star && !ptk_is_c_identifier(p, len))
            return fail(err, errlen, "%s: transport name \"%.*s\" is not a C identifier", var,
                        (int)(len > 64 ? 64 : len), p);
        if (!(names[i] = ptk_strndup(p, len)))
            return PTK_ENV_NOMEM;
        (*nout)++;
        p = e ? e + 1 : p + len;
    }
    return PTK_ENV_OK;
}

static enum ptk_env_status parse_addr_var(const char *var, const char *v, unsigned flags,
                                          struct sockaddr_storage *ss, socklen_t *len, char *err,
                                          size_t errlen)
{
    struct ptk_addr a;
    const char *why = "";
    if (ptk_addr_parse(v, strlen(v), flags, &a, &why) != PTK_OK)
        return fail(err, errlen, "%s: \"%.80s\": %s", var, v, why);
    *ss = a.ss;
    if (len)
        *len = a.len;
    return PTK_ENV_OK;
}

static void proxy_fail(struct ptk_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void proxy_fail(struct ptk_env *env, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(env->proxy_error, sizeof(env->proxy_error), fmt, ap);
    va_end(ap);
    for (char *p = env->proxy_error; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/*
 * scheme://[user[:pass]@]IP:port[/]. Credentials are not URL-escaped (tor
 * writes them raw), so the last '@' ends them and the first ':' splits them.
 */
static int parse_proxy(struct ptk_env *env, const char *v)
{
    struct ptk_proxy *px = &env->proxy;
    const char *rest;
    if (strncmp(v, "socks4a://", 10) == 0) {
        px->scheme = PTK_PROXY_SOCKS4A;
        rest = v + 10;
    } else if (strncmp(v, "socks5://", 9) == 0) {
        px->scheme = PTK_PROXY_SOCKS5;
        rest = v + 9;
    } else if (strncmp(v, "http://", 7) == 0) {
        px->scheme = PTK_PROXY_HTTP;
        rest = v + 7;
    } else {
        const char *sep = strstr(v, "://");
        if (!sep)
            proxy_fail(env, "TOR_PT_PROXY: \"%.80s\" is not a URI", v);
        else
            proxy_fail(env, "TOR_PT_PROXY: unsupported scheme \"%.*s\"",
                       (int)((sep - v) > 32 ? 32 : (sep - v)), v);
        px->scheme = PTK_PROXY_NONE;
        return PTK_EINVAL;
    }
    size_t len = strlen(rest);
    if (len > 0 && rest[len - 1] == '/')
        len--;
    const char *at = NULL;
    for (size_t i = len; i > 0; i--)
        if (rest[i - 1] == '@') {
            at = rest + i - 1;
            break;
        }
    const char *hp = rest;
    if (at) {
        size_t ulen = (size_t)(at - rest);
        const char *colon = memchr(rest, ':', ulen);
        size_t namelen = colon ? (size_t)(colon - rest) : ulen;
        if (px->scheme == PTK_PROXY_SOCKS4A) {
            proxy_fail(env, "TOR_PT_PROXY: socks4a takes no credentials");
            goto bad;
        }
        if (namelen == 0) {
            proxy_fail(env, "TOR_PT_PROXY: empty user name");
            goto bad;
        }
        if (!(px->user = ptk_strndup(rest, namelen)))
            return PTK_ENOMEM;
        if (colon && !(px->pass = ptk_strndup(colon + 1, ulen - namelen - 1)))
            return PTK_ENOMEM;
        if (px->scheme == PTK_PROXY_SOCKS5) {
            size_t plen = px->pass ? strlen(px->pass) : 0;
            if (namelen > 255 || plen == 0 || plen > 255) {
                proxy_fail(env, "TOR_PT_PROXY: socks5 needs user:password of 1-255 bytes each");
                goto bad;
            }
        }
        hp = at + 1;
    }
    struct ptk_addr a;
    const char *why = "";
    size_t hplen = len - (size_t)(hp - rest);
    if (ptk_addr_parse(hp, hplen, 0, &a, &why) != PTK_OK) {
        proxy_fail(env, "TOR_PT_PROXY: \"%.*s\": %s (an IP address and port are required)",
                   (int)(hplen > 80 ? 80 : hplen), hp, why);
        goto bad;
    }
    px->addr = a.ss;
    px->addrlen = a.len;
    return PTK_OK;
bad:
    px->scheme = PTK_PROXY_NONE;
    return PTK_EINVAL;
}

static enum ptk_env_status parse_bindaddrs(struct ptk_env *env, const char *v, char *err,
                                           size_t errlen)
{
    const char *var = "TOR_PT_SERVER_BINDADDR";
    size_t n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    env->bindaddrs = calloc(n, sizeof(*env->bindaddrs));
    if (!env->bindaddrs)
        return PTK_ENV_NOMEM;
    const char *p = v;
    for (size_t i = 0; i < n; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *dash = memchr(p, '-', len);
        if (!dash)
            return fail(err, errlen, "%s: \"%.*s\" has no '-'", var, (int)(len > 80 ? 80 : len),
                        p);
        size_t nlen = (size_t)(dash - p);
        if (!ptk_is_c_identifier(p, nlen))
            return fail(err, errlen, "%s: transport name \"%.*s\" is not a C identifier", var,
                        (int)(nlen > 64 ? 64 : nlen), p);
        for (size_t j = 0; j < env->n_bindaddrs; j++)
            if (strlen(env->bindaddrs[j].transport) == nlen &&
                memcmp(env->bindaddrs[j].transport, p, nlen) == 0)
                return fail(err, errlen, "%s: transport %.*s listed twice", var, (int)nlen, p);
        struct ptk_addr a;
        const char *why = "";
        if (ptk_addr_parse(dash + 1, len - nlen - 1, PTK_ADDR_PORT_ZERO_OK, &a, &why) != PTK_OK)
            return fail(err, errlen, "%s: \"%.*s\": %s", var, (int)(len > 80 ? 80 : len), p, why);
        struct ptk_bindaddr *b = &env->bindaddrs[env->n_bindaddrs];
        if (!(b->transport = ptk_strndup(p, nlen)))
            return PTK_ENV_NOMEM;
        b->addr = a.ss;
        b->addrlen = a.len;
        env->n_bindaddrs++;
        p = e ? e + 1 : p + len;
    }
    return PTK_ENV_OK;
}

static enum ptk_env_status parse_server(struct ptk_env *env, char *const envp[], char *err,
                                        size_t errlen)
{
    enum ptk_env_status st;
    const char *v = ptk_envp_get(envp, "TOR_PT_SERVER_BINDADDR");
    if (!v || !*v)
        return fail(err, errlen, "no TOR_PT_SERVER_BINDADDR environment variable");
    if ((st = parse_bindaddrs(env, v, err, errlen)) != PTK_ENV_OK)
        return st;

    v = ptk_envp_get(envp, "TOR_PT_ORPORT");
    if (v && *v) {
        if ((st = parse_addr_var("TOR_PT_ORPORT", v, 0, &env->orport, &env->orport_len, err,
                                 errlen)) != PTK_ENV_OK)
            return st;
        env->has_orport = true;
    }
    v = ptk_envp_get(envp, "TOR_PT_EXTENDED_SERVER_PORT");
    if (v && *v) {
        if ((st = parse_addr_var("TOR_PT_EXTENDED_SERVER_PORT", v, 0, &env->extorport,
                                 &env->extorport_len, err, errlen)) != PTK_ENV_OK)
            return st;
        env->has_extorport = true;
        v = ptk_envp_get(envp, "TOR_PT_AUTH_COOKIE_FILE");
        if (!v || !*v)
            return fail(err, errlen,
                        "TOR_PT_EXTENDED_SERVER_PORT is set but TOR_PT_AUTH_COOKIE_FILE is not");
        if (!(env->auth_cookie_file = strdup(v)))
            return PTK_ENV_NOMEM;
    }
    if (!env->has_orport && !env->has_extorport)
        return fail(err, errlen, "need TOR_PT_ORPORT or TOR_PT_EXTENDED_SERVER_PORT");

    v = ptk_envp_get(envp, "TOR_PT_SERVER_TRANSPORT_OPTIONS");
    if (v && *v) {
        const char *why = "";
        int r = ptk_server_options_parse(v, strlen(v), &env->server_options, &why);
        if (r == PTK_ENOMEM)
            return PTK_ENV_NOMEM;
        if (r != PTK_OK)
            return fail(err, errlen, "TOR_PT_SERVER_TRANSPORT_OPTIONS: %s", why);
    }
    return PTK_ENV_OK;
}

static enum ptk_env_status parse_outbound(struct ptk_env *env, char *const envp[], char *err,
                                          size_t errlen)
{
    static const char *const vars[2] = {"TOR_PT_OUTBOUND_BIND_ADDRESS_V4",
                                        "TOR_PT_OUTBOUND_BIND_ADDRESS_V6"};
    for (int i = 0; i < 2; i++) {
        const char *v = ptk_envp_get(envp, vars[i]);
        if (!v || !*v)
            continue;
        struct sockaddr_storage *ss = i == 0 ? &env->outbound_v4 : &env->outbound_v6;
        enum ptk_env_status st = parse_addr_var(vars[i], v, PTK_ADDR_NO_PORT, ss, NULL, err, errlen);
        if (st != PTK_ENV_OK)
            return st;
        if (ss->ss_family != (i == 0 ? AF_INET : AF_INET6))
            return fail(err, errlen, "%s: \"%.80s\" is not an IPv%d address", vars[i], v,
                        i == 0 ? 4 : 6);
        if (i == 0)
            env->has_outbound_v4 = true;
        else
            env->has_outbound_v6 = true;
    }
    return PTK_ENV_OK;
}

enum ptk_env_status ptk_env_parse(struct ptk_env *env, char *const envp[], char *err,
                                  size_t errlen)
{
    enum ptk_env_status st;
    memset(env, 0, sizeof(*env));
    if (errlen)
        err[0] = '\0';

    const char *v = ptk_envp_get(envp, "TOR_PT_MANAGED_TRANSPORT_VER");
    if (!v || !*v)
        return fail(err, errlen, "no TOR_PT_MANAGED_TRANSPORT_VER environment variable");
    bool have_v1 = false;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",");
        if (len == 1 && p[0] == '1')
            have_v1 = true;
        p += len + (p[len] == ',');
    }
    if (!have_v1)
        return PTK_ENV_VERSION_ERROR;

    v = ptk_envp_get(envp, "TOR_PT_STATE_LOCATION");
    if (!v || !*v)
        return fail(err, errlen, "no TOR_PT_STATE_LOCATION environment variable");
    if (!(env->state_location = strdup(v)))
        return PTK_ENV_NOMEM;

    v = ptk_envp_get(envp, "TOR_PT_EXIT_ON_STDIN_CLOSE");
    if (v && *v) {
        if (strcmp(v, "1") == 0)
            env->exit_on_stdin_close = true;
        else if (strcmp(v, "0") != 0)
            return fail(err, errlen, "TOR_PT_EXIT_ON_STDIN_CLOSE: \"%.32s\" is not 0 or 1", v);
    }

    const char *ct = ptk_envp_get(envp, "TOR_PT_CLIENT_TRANSPORTS");
    const char *stp = ptk_envp_get(envp, "TOR_PT_SERVER_TRANSPORTS");
    if ((!ct || !*ct) && (!stp || !*stp))
        return fail(err, errlen,
                    "neither TOR_PT_CLIENT_TRANSPORTS nor TOR_PT_SERVER_TRANSPORTS is set");
    if (ct && *ct) {
        env->client = true;
        if ((st = parse_names("TOR_PT_CLIENT_TRANSPORTS", ct, &env->client_transports,
                              &env->n_client_transports, true, err, errlen)) != PTK_ENV_OK)
            return st;
        v = ptk_envp_get(envp, "TOR_PT_PROXY");
        if (v && *v && parse_proxy(env, v) == PTK_ENOMEM)
            return PTK_ENV_NOMEM;
    }
    if (stp && *stp) {
        env->server = true;
        if ((st = parse_names("TOR_PT_SERVER_TRANSPORTS", stp, &env->server_transports,
                              &env->n_server_transports, false, err, errlen)) != PTK_ENV_OK)
            return st;
        if ((st = parse_server(env, envp, err, errlen)) != PTK_ENV_OK)
            return st;
    }
    return parse_outbound(env, envp, err, errlen);
}

bool ptk_env_wants_client(const struct ptk_env *env, const char *name)
{
    for (size_t i = 0; i < env->n_client_transports; i++)
        if (strcmp(env->client_transports[i], "*") == 0 ||
            strcmp(env->client_transports[i], name) == 0)
            return true;
    return false;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void ptk_env_free(struct ptk_env *env)
{
    free(env->state_location);
    free_names(env->client_transports, env->n_client_transports);
    free_names(env->server_transports, env->n_server_transports);
    for (size_t i = 0; i < env->n_bindaddrs; i++)
        free(env->bindaddrs[i].transport);
    free(env->bindaddrs);
    free(env->auth_cookie_file);
    ptk_server_options_free(&env->server_options);
    free(env->proxy.user);
    if (env->proxy.pass) {
        ptk_wipe(env->proxy.pass, strlen(env->proxy.pass));
        free(env->proxy.pass);
    }
    memset(env, 0, sizeof(*env));
}
