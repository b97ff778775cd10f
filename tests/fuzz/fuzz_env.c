/*
 * Fuzz target: the managed-proxy environment (ptk_env_parse). The input is
 * split on '\n' into envp entries. A line whose first byte is 0x01..0x10 is
 * given the matching TOR_PT_* name and '=' in front of the rest, so mutations
 * reach every variable's parser without spelling its name; other lines are
 * used as they are ("NAME=value"). Checks: an error message never holds a
 * control character, a failed TOR_PT_PROXY leaves no proxy, and what the
 * parser returns is consistent with its contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/env.h"

#define MAX_VARS 64

static const char *const names[16] = {
    "TOR_PT_MANAGED_TRANSPORT_VER",
    "TOR_PT_STATE_LOCATION",
    "TOR_PT_EXIT_ON_STDIN_CLOSE",
    "TOR_PT_CLIENT_TRANSPORTS",
    "TOR_PT_PROXY",
    "TOR_PT_SERVER_TRANSPORTS",
    "TOR_PT_SERVER_BINDADDR",
    "TOR_PT_ORPORT",
    "TOR_PT_EXTENDED_SERVER_PORT",
    "TOR_PT_AUTH_COOKIE_FILE",
    "TOR_PT_SERVER_TRANSPORT_OPTIONS",
    "TOR_PT_OUTBOUND_BIND_ADDRESS_V4",
    "TOR_PT_OUTBOUND_BIND_ADDRESS_V6",
    "TOR_PT_MANAGED_TRANSPORT_VER",
    "TOR_PT_CLIENT_TRANSPORTS",
    "TOR_PT_SERVER_BINDADDR",
};

static void check_clean(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort(); /* not terminated */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

static void check_env(const struct ptk_env *env)
{
    check_clean(env->proxy_error, sizeof(env->proxy_error));
    if (env->proxy_error[0] && env->proxy.scheme != PTK_PROXY_NONE)
        abort();
    if (env->proxy.scheme != PTK_PROXY_NONE && env->proxy.addrlen == 0)
        abort();
    if (!env->state_location || !(env->client || env->server))
        abort();
    if (env->client != (env->n_client_transports > 0))
        abort();
    if (env->server && (env->n_server_transports == 0 || env->n_bindaddrs == 0 ||
                        !(env->has_orport || env->has_extorport)))
        abort();
    if (env->has_extorport && !env->auth_cookie_file)
        abort();
    for (size_t i = 0; i < env->n_client_transports; i++)
        if (!ptk_env_wants_client(env, env->client_transports[i]))
            abort();
    for (size_t i = 0; i < env->n_bindaddrs; i++)
        if (!env->bindaddrs[i].transport || env->bindaddrs[i].addrlen == 0)
            abort();
    if (env->has_outbound_v4 && env->outbound_v4.ss_family != AF_INET)
        abort();
    if (env->has_outbound_v6 && env->outbound_v6.ss_family != AF_INET6)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *envp[MAX_VARS + 1];
    size_t n = 0, i = 0;
    while (i <= size && n < MAX_VARS) {
        const uint8_t *nl = i < size ? memchr(data + i, '\n', size - i) : NULL;
        size_t e = nl ? (size_t)(nl - data) : size;
        size_t len = e - i;
        const char *name = NULL;
        if (len > 0 && data[i] >= 1 && data[i] <= 16) {
            name = names[data[i] - 1];
            i++;
            len--;
        }
        size_t nlen = name ? strlen(name) + 1 : 0;
        char *s = malloc(nlen + len + 1);
        if (!s)
            break;
        if (name) {
            memcpy(s, name, nlen - 1);
            s[nlen - 1] = '=';
        }
        memcpy(s + nlen, data + i, len);
        s[nlen + len] = '\0';
        envp[n++] = s;
        i = e + 1;
    }
    envp[n] = NULL;

    struct ptk_env env;
    char err[256];
    enum ptk_env_status st = ptk_env_parse(&env, envp, err, sizeof(err));
    switch (st) {
    case PTK_ENV_OK:
        check_env(&env);
        break;
    case PTK_ENV_ERROR:
        check_clean(err, sizeof(err));
        if (!err[0])
            abort();
        break;
    case PTK_ENV_VERSION_ERROR:
    case PTK_ENV_NOMEM:
        break;
    default:
        abort();
    }
    ptk_env_free(&env);

    /* The same environment with a tiny error buffer gives the same verdict. */
    char small[5];
    if (ptk_env_parse(&env, envp, small, sizeof(small)) != st)
        abort();
    if (st == PTK_ENV_ERROR)
        check_clean(small, sizeof(small));
    ptk_env_free(&env);

    for (size_t k = 0; k < n; k++)
        free(envp[k]);
    return 0;
}
