/*
 * Fuzz target: the `ptkit host` configuration (host_config_parse, and under
 * it the torrc tokenizer ptk_torrc_parse) on arbitrary text. No crash, no
 * leak (LeakSanitizer), and the contracts hold:
 *  - an error always reads "fuzz.conf:..." and is NUL-terminated in its buffer;
 *  - the tokenizer and the config parser agree on whether the syntax is valid
 *    (a tokenizer error is always a config error, with its line number);
 *  - a parsed config is consistent: DataDirectory set, every ClientListen
 *    resolved to an existing Bridge offered by a client plugin, every plugin
 *    with at least one transport and either argv or an external address,
 *    bridge args within tor's 510 encoded bytes, timeouts within 1..3600.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/config.h"
#include "proto/torrc.h"
#include "ptkit/args.h"
#include "ptkit/error.h"

static void check_cfg(const struct host_config *c)
{
    if (!c->data_dir || !c->path || strcmp(c->path, "fuzz.conf") != 0)
        abort();
    if (c->config_timeout_s < 1 || c->config_timeout_s > 3600 || c->shutdown_grace_s < 1 ||
        c->shutdown_grace_s > 3600)
        abort();
    bool servers = false;
    for (size_t i = 0; i < c->n_plugins; i++) {
        const struct host_plugin *p = &c->plugins[i];
        if (p->n_transports == 0)
            abort();
        if (p->argv ? (!p->argv[0] || p->argv[0][0] != '/')
                    : (p->server || p->n_transports != 1 ||
                       (p->socks_version != 4 && p->socks_version != 5)))
            abort();
        servers |= p->server;
    }
    if (servers && !c->has_forward)
        abort();
    for (size_t i = 0; i < c->n_bridges; i++) {
        struct ptk_buf enc;
        ptk_buf_init(&enc, 1 << 16);
        if (ptk_args_encode(&c->bridges[i].args, &enc) != PTK_OK || ptk_buf_len(&enc) > 510)
            abort();
        ptk_buf_free(&enc);
        size_t fl = strlen(c->bridges[i].fingerprint);
        if (fl != 0 && fl != 40)
            abort();
    }
    for (size_t i = 0; i < c->n_client_listens; i++) {
        size_t b = c->client_listens[i].bridge;
        if (b >= c->n_bridges)
            abort();
        bool offered = false;
        for (size_t p = 0; p < c->n_plugins; p++)
            for (size_t k = 0; k < c->plugins[p].n_transports && !c->plugins[p].server; k++)
                offered |= strcmp(c->plugins[p].transports[k], c->bridges[b].transport) == 0;
        if (!offered)
            abort();
    }
    if (c->proxy_uri && strncmp(c->proxy_uri, "socks4a://", 10) != 0 &&
        strncmp(c->proxy_uri, "socks5://", 9) != 0 && strncmp(c->proxy_uri, "http://", 7) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    /* the tokenizer on its own */
    struct ptk_torrc t;
    char terr[200];
    terr[0] = '\0';
    int tr = ptk_torrc_parse(text, size, &t, terr, sizeof(terr));
    if (tr != PTK_OK && tr != PTK_EINVAL && tr != PTK_ENOMEM)
        abort();
    if (tr == PTK_EINVAL && strncmp(terr, "line ", 5) != 0)
        abort();
    for (size_t i = 0; tr == PTK_OK && i < t.n; i++) {
        const struct ptk_torrc_line *l = &t.lines[i];
        if (!l->key || l->lineno == 0 || (i > 0 && l->lineno <= t.lines[i - 1].lineno))
            abort();
        for (size_t k = 0; k < l->nargs; k++)
            if (!l->args[k])
                abort();
        char *j = ptk_torrc_join(l, 0);
        free(j);
    }
    ptk_torrc_free(&t);

    /* the whole configuration */
    struct host_config cfg;
    char err[700];
    memset(err, 'x', sizeof(err));
    err[0] = '\0';
    int r = host_config_parse("fuzz.conf", text, size, &cfg, err, sizeof(err));
    if (r == PTK_OK) {
        if (tr != PTK_OK)
            abort();
        check_cfg(&cfg);
    } else if (r == PTK_EINVAL) {
        if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz.conf:", 10) != 0)
            abort();
        if (tr == PTK_EINVAL) {
            unsigned tl = 0, cl = 0;
            if (sscanf(terr, "line %u:", &tl) != 1 || sscanf(err, "fuzz.conf:%u:", &cl) != 1 ||
                tl != cl)
                abort();
        }
    } else if (r != PTK_ENOMEM) {
        abort();
    }
    host_config_free(&cfg);

    /* a tiny error buffer gives the same verdict and stays terminated */
    char small[6];
    memset(small, 'x', sizeof(small));
    if (host_config_parse("fuzz.conf", text, size, &cfg, small, sizeof(small)) != r)
        abort();
    if (r != PTK_OK && !memchr(small, '\0', sizeof(small)))
        abort();
    host_config_free(&cfg);
    return 0;
}
