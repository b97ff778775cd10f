/*
 * ptkit host configuration (see host/config.h): the torrc tokenizer of
 * proto/ gives keyword + arguments per line; this file gives them meaning
 * and checks them, naming FILE:LINE in every error.
 */
#include "host/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/torrc.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "util/file.h"
#include "util/str.h"

struct ctx {
    const char *name;
    const struct ptk_torrc_line *l;
    char *err;
    size_t errlen;
    /* proxy options, assembled into proxy_uri at the end */
    int proxy_kind; /* 0 none, 4, 5, 'h' */
    char proxy_addr[PTK_ADDRSTRLEN];
    char *s5user, *s5pass, *https_auth;
    unsigned proxy_line, s5user_line, s5pass_line, auth_line;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%u: %s", c->name, c->l ? c->l->lineno : 0, msg);
    return PTK_EINVAL;
}

static int want_args(struct ctx *c, size_t min, size_t max)
{
    if (c->l->nargs < min || c->l->nargs > max)
        return fail(c, "%s takes %s%zu argument%s", c->l->key, min == max ? "" : "at least ", min,
                    min == 1 ? "" : "s");
    return PTK_OK;
}

static int parse_addr(struct ctx *c, const char *s, struct ptk_addr *a, unsigned flags,
                      const char *what)
{
    const char *why = "";
    if (ptk_addr_parse(s, strlen(s), flags, a, &why) != PTK_OK)
        return fail(c, "%s \"%s\": %s", what, s, why);
    return PTK_OK;
}

static int parse_names(struct ctx *c, const char *s, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        if (!ptk_is_c_identifier(p, len))
            return fail(c, "transport name \"%.*s\" is not a C identifier", (int)len, p);
        char **na = realloc(*out, (*n + 1) * sizeof(*na));
        if (!na)
            return fail(c, "out of memory");
        *out = na;
        if (!((*out)[*n] = ptk_strndup(p, len)))
            return fail(c, "out of memory");
        (*n)++;
        if (!p[len])
            break;
        p += len + 1;
    }
    return PTK_OK;
}

static int opt_plugin(struct ctx *c, struct host_config *cfg, bool server)
{
    const struct ptk_torrc_line *l = c->l;
    int r;
    if ((r = want_args(c, 3, 1000)) != PTK_OK)
        return r;
    struct host_plugin *np = realloc(cfg->plugins, (cfg->n_plugins + 1) * sizeof(*np));
    if (!np)
        return fail(c, "out of memory");
    cfg->plugins = np;
    struct host_plugin *p = &cfg->plugins[cfg->n_plugins++];
    memset(p, 0, sizeof(*p));
    p->server = server;
    p->lineno = l->lineno;
    if ((r = parse_names(c, l->args[0], &p->transports, &p->n_transports)) != PTK_OK)
        return r;
    const char *mode = l->args[1];
    if (strcasecmp(mode, "exec") == 0) {
        if (l->args[2][0] != '/')
            return fail(c, "the program \"%s\" must be an absolute path (tor does not search "
                           "PATH)", l->args[2]);
        size_t n = l->nargs - 2;
        p->argv = calloc(n + 1, sizeof(*p->argv));
        if (!p->argv)
            return fail(c, "out of memory");
        for (size_t i = 0; i < n; i++)
            if (!(p->argv[i] = strdup(l->args[2 + i])))
                return fail(c, "out of memory");
        return PTK_OK;
    }
    if (server)
        return fail(c, "ServerTransportPlugin supports only \"exec\"");
    if (strcasecmp(mode, "socks4") == 0 || strcasecmp(mode, "socks5") == 0) {
        if (l->nargs != 3)
            return fail(c, "ClientTransportPlugin NAME %s IP:PORT takes no more arguments", mode);
        if (p->n_transports != 1)
            return fail(c, "an external proxy serves exactly one transport");
        p->socks_version = mode[5] - '0';
        return parse_addr(c, l->args[2], &p->addr, 0, "proxy address");
    }
    return fail(c, "expected \"exec\", \"socks4\" or \"socks5\", not \"%s\"", mode);
}

static bool is_fingerprint(const char *s)
{
    uint8_t tmp[20];
    return strlen(s) == 40 && ptk_hex_decode(s, 40, tmp, 20) == PTK_OK;
}

static int opt_bridge(struct ctx *c, struct host_config *cfg)
{
    const struct ptk_torrc_line *l = c->l;
    int r;
    if ((r = want_args(c, 2, 1000)) != PTK_OK)
        return r;
    if (!ptk_is_c_identifier(l->args[0], strlen(l->args[0])))
        return fail(c, "Bridge needs a transport name first (\"%s\" is not one)", l->args[0]);
    struct host_bridge *nb = realloc(cfg->bridges, (cfg->n_bridges + 1) * sizeof(*nb));
    if (!nb)
        return fail(c, "out of memory");
    cfg->bridges = nb;
    struct host_bridge *b = &cfg->bridges[cfg->n_bridges++];
    memset(b, 0, sizeof(*b));
    b->lineno = l->lineno;
    b->args = (struct ptk_kvlist)PTK_KVLIST_INIT;
    if (!(b->transport = strdup(l->args[0])))
        return fail(c, "out of memory");
    if ((r = parse_addr(c, l->args[1], &b->addr, 0, "bridge address")) != PTK_OK)
        return r;
    size_t i = 2;
    if (i < l->nargs && !strchr(l->args[i], '=')) {
        if (!is_fingerprint(l->args[i]))
            return fail(c, "\"%s\" is neither a fingerprint (40 hex digits) nor k=v",
                        l->args[i]);
        ptk_strlcpy(b->fingerprint, l->args[i], sizeof(b->fingerprint));
        i++;
    }
    for (; i < l->nargs; i++) {
        const char *eq = strchr(l->args[i], '=');
        if (!eq || eq == l->args[i])
            return fail(c, "bridge argument \"%s\" is not k=v", l->args[i]);
        if (ptk_kvlist_add(&b->args, l->args[i], (size_t)(eq - l->args[i]), eq + 1,
                           strlen(eq + 1)) != PTK_OK)
            return fail(c, "bad bridge argument \"%s\"", l->args[i]);
    }
    /* tor refuses args that do not fit in the SOCKS username and password */
    struct ptk_buf enc;
    ptk_buf_init(&enc, 1 << 16);
    r = ptk_args_encode(&b->args, &enc);
    size_t n = ptk_buf_len(&enc);
    ptk_buf_free(&enc);
    if (r != PTK_OK || n > 510)
        return fail(c, "bridge arguments are %zu bytes encoded; at most 510 fit in SOCKS", n);
    return PTK_OK;
}

static int opt_options(struct ctx *c, struct host_config *cfg)
{
    const struct ptk_torrc_line *l = c->l;
    int r;
    if ((r = want_args(c, 2, 1000)) != PTK_OK)
        return r;
    if (!ptk_is_c_identifier(l->args[0], strlen(l->args[0])))
        return fail(c, "\"%s\" is not a transport name", l->args[0]);
    bool seen = ptk_server_options_get(&cfg->server_options, l->args[0]) != NULL;
    struct ptk_kvlist kv = PTK_KVLIST_INIT;
    for (size_t i = 1; i < l->nargs; i++) {
        const char *eq = strchr(l->args[i], '=');
        if (!eq || eq == l->args[i]) {
            ptk_kvlist_free(&kv);
            return fail(c, "option \"%s\" is not k=v", l->args[i]);
        }
        ptk_kvlist_add(&kv, l->args[i], (size_t)(eq - l->args[i]), eq + 1, strlen(eq + 1));
    }
    if (seen) { /* tor reads only the first ServerTransportOptions line of a transport */
        ptk_kvlist_free(&kv);
        return PTK_OK;
    }
    /* merge into the options list through its own encoder/parser pair */
    struct ptk_buf enc;
    ptk_buf_init(&enc, 1 << 16);
    r = ptk_server_options_encode(l->args[0], &kv, &enc);
    ptk_kvlist_free(&kv);
    const char *why = "";
    if (r == PTK_OK)
        r = ptk_server_options_parse((const char *)ptk_buf_data(&enc), ptk_buf_len(&enc),
                                     &cfg->server_options, &why);
    ptk_buf_free(&enc);
    return r == PTK_OK ? PTK_OK : fail(c, "bad ServerTransportOptions: %s", why);
}

static int opt_seconds(struct ctx *c, unsigned *out)
{
    uint64_t v;
    int r = want_args(c, 1, 1);
    if (r != PTK_OK)
        return r;
    if (ptk_parse_u64(c->l->args[0], strlen(c->l->args[0]), 1, 3600, &v) != PTK_OK)
        return fail(c, "%s must be a number of seconds from 1 to 3600", c->l->key);
    *out = (unsigned)v;
    return PTK_OK;
}

static int opt_string(struct ctx *c, char **dst)
{
    int r = want_args(c, 1, 1);
    if (r != PTK_OK)
        return r;
    free(*dst);
    if (!(*dst = strdup(c->l->args[0])))
        return fail(c, "out of memory");
    return PTK_OK;
}

static int opt_proxy(struct ctx *c, int kind)
{
    struct ptk_addr a;
    int r = want_args(c, 1, 1);
    if (r != PTK_OK || (r = parse_addr(c, c->l->args[0], &a, 0, "proxy address")) != PTK_OK)
        return r;
    if (c->proxy_kind && c->proxy_kind != kind)
        return fail(c, "only one of Socks4Proxy, Socks5Proxy and HTTPSProxy may be set");
    c->proxy_kind = kind;
    c->proxy_line = c->l->lineno;
    ptk_addr_format((struct sockaddr *)&a.ss, c->proxy_addr, sizeof(c->proxy_addr));
    return PTK_OK;
}

static int one_line(struct ctx *c, struct host_config *cfg)
{
    const struct ptk_torrc_line *l = c->l;
    const char *k = l->key;
    int r;
#define IS(name) (strcasecmp(k, name) == 0)
    if (IS("DataDirectory"))
        return opt_string(c, &cfg->data_dir);
    if (IS("ClientTransportPlugin"))
        return opt_plugin(c, cfg, false);
    if (IS("ServerTransportPlugin"))
        return opt_plugin(c, cfg, true);
    if (IS("Bridge"))
        return opt_bridge(c, cfg);
    if (IS("ServerTransportOptions"))
        return opt_options(c, cfg);
    if (IS("ServerTransportListenAddr")) {
        if ((r = want_args(c, 2, 2)) != PTK_OK)
            return r;
        if (!ptk_is_c_identifier(l->args[0], strlen(l->args[0])))
            return fail(c, "\"%s\" is not a transport name", l->args[0]);
        struct host_listen_addr *na =
            realloc(cfg->listen_addrs, (cfg->n_listen_addrs + 1) * sizeof(*na));
        if (!na)
            return fail(c, "out of memory");
        cfg->listen_addrs = na;
        struct host_listen_addr *la = &cfg->listen_addrs[cfg->n_listen_addrs];
        if (!(la->transport = strdup(l->args[0])))
            return fail(c, "out of memory");
        cfg->n_listen_addrs++;
        return parse_addr(c, l->args[1], &la->addr, PTK_ADDR_PORT_ZERO_OK, "listen address");
    }
    if (IS("Socks4Proxy"))
        return opt_proxy(c, 4);
    if (IS("Socks5Proxy"))
        return opt_proxy(c, 5);
    if (IS("HTTPSProxy"))
        return opt_proxy(c, 'h');
    if (IS("Socks5ProxyUsername")) {
        c->s5user_line = l->lineno;
        return opt_string(c, &c->s5user);
    }
    if (IS("Socks5ProxyPassword")) {
        c->s5pass_line = l->lineno;
        return opt_string(c, &c->s5pass);
    }
    if (IS("HTTPSProxyAuthenticator")) {
        c->auth_line = l->lineno;
        return opt_string(c, &c->https_auth);
    }
    if (IS("OutboundBindAddress") || IS("OutboundBindAddressPT")) {
        struct ptk_addr a;
        if ((r = want_args(c, 1, 1)) != PTK_OK ||
            (r = parse_addr(c, l->args[0], &a, PTK_ADDR_NO_PORT, "address")) != PTK_OK)
            return r;
        if (a.ss.ss_family == AF_INET) {
            cfg->bind_v4 = a;
            cfg->has_bind_v4 = true;
        } else {
            cfg->bind_v6 = a;
            cfg->has_bind_v6 = true;
        }
        return PTK_OK;
    }
    if (IS("ExtORPort")) {
        if ((r = want_args(c, 1, 1)) != PTK_OK)
            return r;
        if (strcasecmp(l->args[0], "auto") == 0 || strcmp(l->args[0], "1") == 0)
            cfg->extorport = true;
        else if (strcmp(l->args[0], "0") == 0)
            cfg->extorport = false;
        else
            return fail(c, "ExtORPort takes \"auto\" or 0 (the host picks a loopback port)");
        return PTK_OK;
    }
    if (IS("ExtORPortCookieAuthFile"))
        return opt_string(c, &cfg->cookie_file);
    if (IS("Log")) {
        if ((r = want_args(c, 1, 3)) != PTK_OK)
            return r;
        char lvl[16];
        ptk_strlcpy(lvl, l->args[0], sizeof(lvl));
        char *dash = strchr(lvl, '-'); /* tor's "notice-err" ranges: use the lower bound */
        if (dash)
            *dash = '\0';
        for (char *p = lvl; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        if (strcmp(lvl, "err") == 0) /* tor's name for it */
            ptk_strlcpy(lvl, "error", sizeof(lvl));
        if (ptk_log_level_parse(lvl, &cfg->log_level) != PTK_OK)
            return fail(c, "unknown log level \"%s\"", l->args[0]);
        if (l->nargs >= 2 && strcasecmp(l->args[1], "file") == 0) {
            if (l->nargs != 3)
                return fail(c, "Log LEVEL file PATH");
            free(cfg->log_file);
            if (!(cfg->log_file = strdup(l->args[2])))
                return fail(c, "out of memory");
        } else if (l->nargs >= 2 && strcasecmp(l->args[1], "stderr") != 0 &&
                   strcasecmp(l->args[1], "stdout") != 0) {
            return fail(c, "Log destination must be stderr or file PATH");
        }
        return PTK_OK;
    }
    if (IS("SafeLogging")) {
        if ((r = want_args(c, 1, 1)) != PTK_OK)
            return r;
        if (strcmp(l->args[0], "0") != 0 && strcmp(l->args[0], "1") != 0)
            return fail(c, "SafeLogging takes 0 or 1");
        cfg->unsafe_logging = l->args[0][0] == '0';
        return PTK_OK;
    }
    if (IS("ClientListen")) {
        if ((r = want_args(c, 2, 2)) != PTK_OK)
            return r;
        struct host_client_listen *nl =
            realloc(cfg->client_listens, (cfg->n_client_listens + 1) * sizeof(*nl));
        if (!nl)
            return fail(c, "out of memory");
        cfg->client_listens = nl;
        struct host_client_listen *cl = &cfg->client_listens[cfg->n_client_listens++];
        cl->lineno = l->lineno;
        cl->bridge = SIZE_MAX;
        /* resolved against the Bridge lines at the end (they may come later) */
        if (!(cl->bridge_ref = strdup(l->args[1])))
            return fail(c, "out of memory");
        return parse_addr(c, l->args[0], &cl->listen, 0, "listen address");
    }
    if (IS("ServerForward")) {
        if ((r = want_args(c, 1, 1)) != PTK_OK)
            return r;
        cfg->has_forward = true;
        return parse_addr(c, l->args[0], &cfg->forward, 0, "forward address");
    }
    if (IS("PTConfigTimeout"))
        return opt_seconds(c, &cfg->config_timeout_s);
    if (IS("PTShutdownGrace"))
        return opt_seconds(c, &cfg->shutdown_grace_s);
#undef IS
    return fail(c, "unknown option \"%s\"", k);
}

/* Resolve ClientListen's BRIDGE (index, address or fingerprint). */
static int resolve_listens(struct ctx *c, struct host_config *cfg)
{
    for (size_t i = 0; i < cfg->n_client_listens; i++) {
        struct host_client_listen *cl = &cfg->client_listens[i];
        const char *want = cl->bridge_ref;
        uint64_t idx;
        if (ptk_parse_u64(want, strlen(want), 1, SIZE_MAX, &idx) == PTK_OK) {
            if (idx > cfg->n_bridges)
                goto nomatch;
            cl->bridge = (size_t)idx - 1;
            continue;
        }
        for (size_t b = 0; b < cfg->n_bridges && cl->bridge == SIZE_MAX; b++) {
            char a[PTK_ADDRSTRLEN];
            ptk_addr_format((struct sockaddr *)&cfg->bridges[b].addr.ss, a, sizeof(a));
            if (strcmp(a, want) == 0 || strcasecmp(cfg->bridges[b].fingerprint, want) == 0)
                cl->bridge = b;
        }
        if (cl->bridge != SIZE_MAX)
            continue;
    nomatch:
        snprintf(c->err, c->errlen, "%s:%u: no Bridge line matches \"%s\" (give its number, "
                 "IP:PORT or fingerprint; there %s %zu)", c->name, cl->lineno, want,
                 cfg->n_bridges == 1 ? "is" : "are", cfg->n_bridges);
        return PTK_EINVAL;
    }
    return PTK_OK;
}

static int finish(struct ctx *c, struct host_config *cfg)
{
    int r;
    c->l = NULL;
    if (!cfg->data_dir)
        return fail(c, "DataDirectory is required (PT state and the ExtORPort cookie live there)");
    if ((r = resolve_listens(c, cfg)) != PTK_OK)
        return r;
    c->l = NULL;
    bool servers = false;
    for (size_t i = 0; i < cfg->n_plugins; i++)
        servers |= cfg->plugins[i].server;
    if (servers && !cfg->has_forward)
        return fail(c, "ServerTransportPlugin needs ServerForward IP:PORT (where clients go)");
    for (size_t i = 0; i < cfg->n_client_listens; i++) {
        const struct host_bridge *b = &cfg->bridges[cfg->client_listens[i].bridge];
        bool found = false;
        for (size_t p = 0; p < cfg->n_plugins && !found; p++)
            for (size_t k = 0; k < cfg->plugins[p].n_transports && !cfg->plugins[p].server; k++)
                found |= strcmp(cfg->plugins[p].transports[k], b->transport) == 0;
        if (!found) {
            snprintf(c->err, c->errlen, "%s:%u: no ClientTransportPlugin offers \"%s\"", c->name,
                     b->lineno, b->transport);
            return PTK_EINVAL;
        }
    }
    /* tor's options_validate: username and password go together, 1 to 255 bytes each */
    if (c->s5user || c->s5pass) {
        unsigned line = c->s5user_line > c->s5pass_line ? c->s5user_line : c->s5pass_line;
        const char *why = NULL;
        if (!c->s5pass) {
            why = "Socks5ProxyPassword must be included with Socks5ProxyUsername";
        } else if (!c->s5user) {
            why = "Socks5ProxyUsername must be included with Socks5ProxyPassword";
        } else if (!c->s5user[0] || strlen(c->s5user) > 255) {
            why = "Socks5ProxyUsername must be between 1 and 255 characters";
            line = c->s5user_line;
        } else if (!c->s5pass[0] || strlen(c->s5pass) > 255) {
            why = "Socks5ProxyPassword must be between 1 and 255 characters";
            line = c->s5pass_line;
        }
        if (why) {
            snprintf(c->err, c->errlen, "%s:%u: %s", c->name, line, why);
            return PTK_EINVAL;
        }
    }
    /* TOR_PT_PROXY exactly as tor writes it */
    if (c->proxy_kind) {
        struct ptk_buf u;
        const char *s;
        ptk_buf_init(&u, 4096);
        if (c->proxy_kind == 4)
            r = ptk_buf_printf(&u, "socks4a://%s", c->proxy_addr);
        else if (c->proxy_kind == 5 && (c->s5user || c->s5pass))
            r = ptk_buf_printf(&u, "socks5://%s:%s@%s", c->s5user ? c->s5user : "",
                               c->s5pass ? c->s5pass : "", c->proxy_addr);
        else if (c->proxy_kind == 5)
            r = ptk_buf_printf(&u, "socks5://%s", c->proxy_addr);
        else if (c->https_auth)
            r = ptk_buf_printf(&u, "http://%s@%s", c->https_auth, c->proxy_addr);
        else
            r = ptk_buf_printf(&u, "http://%s", c->proxy_addr);
        if (r == PTK_OK && ptk_buf_cstr(&u, &s) == PTK_OK)
            cfg->proxy_uri = strdup(s);
        ptk_buf_free(&u);
        if (!cfg->proxy_uri)
            return fail(c, "out of memory");
    } else if (c->s5user || c->s5pass || c->https_auth) {
        unsigned line = c->s5user ? c->s5user_line : c->s5pass ? c->s5pass_line : c->auth_line;
        snprintf(c->err, c->errlen, "%s:%u: proxy credentials given without Socks5Proxy or "
                 "HTTPSProxy", c->name, line);
        return PTK_EINVAL;
    }
    return PTK_OK;
}

int host_config_parse(const char *name, const char *text, size_t len, struct host_config *cfg,
                      char *err, size_t errlen)
{
    struct ptk_torrc t;
    struct ctx c = {.name = name, .err = err, .errlen = errlen};
    char terr[200] = "";
    int r;
    memset(cfg, 0, sizeof(*cfg));
    cfg->extorport = true;
    cfg->log_level = PTK_LOG_NOTICE;
    cfg->config_timeout_s = 60;
    cfg->shutdown_grace_s = 2;
    if (!(cfg->path = strdup(name)))
        return PTK_ENOMEM;
    if ((r = ptk_torrc_parse(text, len, &t, terr, sizeof(terr))) != PTK_OK) {
        unsigned tl;
        int skip = 0;
        /* "line N: why" from the tokenizer becomes "FILE:N: why" */
        if (sscanf(terr, "line %u: %n", &tl, &skip) == 1 && skip > 0)
            snprintf(err, errlen, "%s:%u: %s", name, tl, terr + skip);
        else
            snprintf(err, errlen, "%s: %s", name, terr);
        ptk_torrc_free(&t);
        return PTK_EINVAL;
    }
    for (size_t i = 0; i < t.n && r == PTK_OK; i++) {
        c.l = &t.lines[i];
        r = one_line(&c, cfg);
    }
    if (r == PTK_OK)
        r = finish(&c, cfg);
    ptk_torrc_free(&t);
    free(c.s5user);
    if (c.s5pass) {
        ptk_wipe(c.s5pass, strlen(c.s5pass));
        free(c.s5pass);
    }
    if (c.https_auth) {
        ptk_wipe(c.https_auth, strlen(c.https_auth));
        free(c.https_auth);
    }
    return r;
}

int host_config_load(const char *path, struct host_config *cfg, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int r = ptk_file_read(path, 1 << 20, &text, &len);
    if (r != PTK_OK) {
        memset(cfg, 0, sizeof(*cfg));
        snprintf(err, errlen, "%s: %s", path,
                 r == PTK_ENOENT ? "no such file" : r == PTK_ETOOBIG ? "file too large"
                                                                     : strerror(errno));
        return PTK_EINVAL;
    }
    r = host_config_parse(path, text, len, cfg, err, errlen);
    free(text);
    return r;
}

void host_config_free(struct host_config *cfg)
{
    for (size_t i = 0; i < cfg->n_plugins; i++) {
        struct host_plugin *p = &cfg->plugins[i];
        for (size_t k = 0; k < p->n_transports; k++)
            free(p->transports[k]);
        free(p->transports);
        for (size_t k = 0; p->argv && p->argv[k]; k++)
            free(p->argv[k]);
        free(p->argv);
    }
    free(cfg->plugins);
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        free(cfg->bridges[i].transport);
        ptk_kvlist_free(&cfg->bridges[i].args);
    }
    free(cfg->bridges);
    for (size_t i = 0; i < cfg->n_listen_addrs; i++)
        free(cfg->listen_addrs[i].transport);
    free(cfg->listen_addrs);
    ptk_server_options_free(&cfg->server_options);
    for (size_t i = 0; i < cfg->n_client_listens; i++)
        free(cfg->client_listens[i].bridge_ref);
    free(cfg->client_listens);
    free(cfg->path);
    free(cfg->data_dir);
    free(cfg->cookie_file);
    if (cfg->proxy_uri) {
        ptk_wipe(cfg->proxy_uri, strlen(cfg->proxy_uri));
        free(cfg->proxy_uri);
    }
    free(cfg->log_file);
    memset(cfg, 0, sizeof(*cfg));
}
