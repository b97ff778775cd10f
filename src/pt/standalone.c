/*
 * Standalone mode: `ptkit client|server` run by an operator, no tor.
 *
 *   client, no --forward: a SOCKS4a/5 listener; each connection's SOCKS
 *           args go to the transport (like managed mode).
 *   client, --forward ADDR: every accepted connection is tunnelled to ADDR
 *           (the peer's server) with --options as the transport args.
 *   server: accepts the transport at --listen and delivers to --forward
 *           (plain TCP) or to tor's --extorport with --auth-cookie.
 *
 * The listening address and, for a server, the bridge arguments are
 * announced on out_fd as "CMETHOD"/"SMETHOD" lines, so scripts (and our
 * tests) read them exactly as they read managed mode.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "io/listener.h"
#include "pt/pt.h"
#include "pt/runner.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"
#include "util/addr.h"
#include "util/file.h"
#include "util/str.h"

static int parse_listen(const char *what, const char *s, struct sockaddr_storage *ss,
                        socklen_t *len, unsigned flags, char *err, size_t errlen)
{
    struct ptk_addr a;
    const char *why = "";
    if (!s) {
        snprintf(err, errlen, "%s is required", what);
        return PTK_EINVAL;
    }
    if (ptk_addr_parse(s, strlen(s), flags, &a, &why) != PTK_OK) {
        snprintf(err, errlen, "%s \"%s\": %s", what, s, why);
        return PTK_EINVAL;
    }
    *ss = a.ss;
    *len = a.len;
    return PTK_OK;
}

int ptk_pt_standalone(const struct ptk_pt_standalone *s, const struct ptk_pt_opts *o, char *err,
                      size_t errlen)
{
    struct ptk_runner r;
    struct ptk_listener_cfg cfg;
    struct ptk_kvlist opts = PTK_KVLIST_INIT;
    const char *why = "";
    int status = 2;
    void *inst = NULL;

    memset(&cfg, 0, sizeof(cfg));
    memset(&r, 0, sizeof(r));
    err[0] = '\0';
    if (ptk_crypto_init() != PTK_OK) {
        snprintf(err, errlen, "cannot initialise libsodium");
        return 1;
    }
    const struct ptk_transport_ops *ops = s->transport ? ptk_transport_find(s->transport) : NULL;
    if (!ops) {
        snprintf(err, errlen, "--transport: %s", s->transport ? "unknown transport" : "required");
        goto out;
    }
    if (s->options && ptk_args_parse(s->options, strlen(s->options), &opts, &why) != PTK_OK) {
        snprintf(err, errlen, "--options: %s", why);
        goto out;
    }
    if (parse_listen("--listen", s->listen, &cfg.listen, &cfg.listen_len, PTK_ADDR_PORT_ZERO_OK,
                     err, errlen) != PTK_OK)
        goto out;
    if (s->state_dir && ptk_mkdir_p(s->state_dir, &why) != PTK_OK) {
        snprintf(err, errlen, "--state %s: %s (%s)", s->state_dir, why, strerror(errno));
        goto out;
    }
    cfg.transport_name = ops->name;
    cfg.ops = ops;
    if (s->server) {
        if (!ops->server_setup) {
            snprintf(err, errlen, "transport %s has no server side", ops->name);
            goto out;
        }
        if (s->extorport) {
            if (!s->cookie) {
                snprintf(err, errlen, "--extorport needs --auth-cookie");
                goto out;
            }
            if (parse_listen("--extorport", s->extorport, &cfg.target, &cfg.target_len, 0, err,
                             errlen) != PTK_OK)
                goto out;
            cfg.cookie_file = s->cookie;
        } else if (parse_listen("--forward", s->forward, &cfg.target, &cfg.target_len, 0, err,
                                errlen) != PTK_OK) {
            goto out;
        }
    } else if (s->forward) {
        const char *fwhy = "";
        if (ptk_hostport_split(s->forward, strlen(s->forward), cfg.fixed_host,
                               sizeof(cfg.fixed_host), &cfg.fixed_port, &fwhy) != PTK_OK) {
            snprintf(err, errlen, "--forward \"%s\": %s", s->forward, fwhy);
            goto out;
        }
        cfg.fixed = true;
        cfg.fixed_args = &opts;
    }

    status = 1;
    if (ptk_runner_init(&r, o, false) != PTK_OK) {
        snprintf(err, errlen, "cannot start (log file or memory)");
        goto out;
    }
    struct ptk_kvlist bridge_args = PTK_KVLIST_INIT;
    struct ptk_transport_cfg tc = {s->state_dir, &opts, &r.log.logger};
    char terr[256] = "";
    int rc = s->server ? ops->server_setup(&tc, &inst, &bridge_args, terr, sizeof(terr))
                       : ops->client_setup ? ops->client_setup(&tc, &inst, terr, sizeof(terr))
                                           : PTK_OK;
    if (rc != PTK_OK) {
        snprintf(err, errlen, "%s: %s", ops->name, terr[0] ? terr : ptk_strerror(rc));
        ptk_kvlist_free(&bridge_args);
        goto out;
    }
    ptk_runner_keep(&r, ops, inst, s->server);
    cfg.instance = inst;
    unsigned want = o->workers ? o->workers : ptk_runner_default_workers();
    if (!(ops->flags & PTK_TRANSPORT_THREADSAFE))
        want = 1;
    ptk_runner_set_workers(&r, want);
    struct sockaddr_storage bound;
    if (ptk_runner_listen(&r, s->server ? PTK_ROLE_SERVER : PTK_ROLE_CLIENT, &cfg, &bound,
                          &why) != PTK_OK) {
        snprintf(err, errlen, "--listen %s: %s: %s", s->listen, why, strerror(errno));
        ptk_kvlist_free(&bridge_args);
        goto out;
    }
    char a[PTK_ADDRSTRLEN] = "?";
    ptk_addr_format((struct sockaddr *)&bound, a, sizeof(a));
    if (s->server)
        ptk_runner_say(&r,
                       ptk_msg_smethod(&r.line, ops->name, (struct sockaddr *)&bound, &bridge_args));
    else if (cfg.fixed) /* not a SOCKS port; ptk_msg_cmethod takes only socks4/socks5 */
        ptk_runner_say(&r, ptk_buf_printf(&r.line, "CMETHOD %s tcp %s\n", ops->name, a));
    else
        ptk_runner_say(&r,
                       ptk_msg_cmethod(&r.line, ops->name, "socks5", (struct sockaddr *)&bound));
    ptk_kvlist_free(&bridge_args);
    ptk_log(&r.log.logger, PTK_LOG_NOTICE, "ptkit %s: %s %s listening on %s", PTK_VERSION,
            ops->name, s->server ? "server" : "client", a);
    status = ptk_runner_run(&r, false);
out:
    ptk_runner_free(&r);
    ptk_kvlist_free(&opts);
    return status;
}
