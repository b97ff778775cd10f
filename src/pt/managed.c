/*
 * Managed mode (pt-spec 3): read the TOR_PT_* environment, announce what we
 * offer on stdout in the order tor expects, then serve until shutdown.
 *
 *   VERSION-ERROR / ENV-ERROR         -> exit 1 (nothing else printed)
 *   VERSION 1
 *   PROXY DONE | PROXY-ERROR (exit 1)  client role with TOR_PT_PROXY only
 *   CMETHOD name socks5 127.0.0.1:port ... CMETHODS DONE
 *   SMETHOD name addr:port [ARGS:...] ... SMETHODS DONE
 *
 * Transport names we do not implement are skipped without a *METHOD-ERROR
 * (the current pt-spec forbids one); a transport we implement but cannot
 * start gets a *METHOD-ERROR saying why.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "io/listener.h"
#include "pt/pt.h"
#include "pt/runner.h"
#include "ptkit/buf.h"
#include "ptkit/env.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"
#include "util/addr.h"
#include "util/str.h"

static bool already_set_up(struct ptk_runner *r, const struct ptk_transport_ops *ops, bool server)
{
    for (size_t i = 0; i < r->n_inst; i++)
        if (r->inst[i].ops == ops && r->inst[i].server == server)
            return true;
    return false;
}

static int start_client(struct ptk_runner *r, const struct ptk_env *env,
                        const struct ptk_transport_ops *ops)
{
    char err[256] = "";
    void *inst = NULL;
    if (already_set_up(r, ops, false))
        return 0;
    struct ptk_transport_cfg tc = {env->state_location, NULL, &r->log.logger};
    if (ops->client_setup && ops->client_setup(&tc, &inst, err, sizeof(err)) != PTK_OK) {
        ptk_runner_say(r, ptk_msg_cmethod_error(&r->line, ops->name, err[0] ? err : "setup failed"));
        return 0;
    }
    ptk_runner_keep(r, ops, inst, false);
    struct ptk_listener_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.transport_name = ops->name;
    cfg.ops = ops;
    cfg.instance = inst;
    struct sockaddr_in *sin = (struct sockaddr_in *)&cfg.listen;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cfg.listen_len = sizeof(*sin);
    struct ptk_listener *l = NULL;
    const char *why = "";
    if (ptk_listener_open(&r->io, false, &cfg, &l, &why) != PTK_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: %s", why, strerror(errno));
        ptk_runner_say(r, ptk_msg_cmethod_error(&r->line, ops->name, msg));
        return 0;
    }
    ptk_runner_add_listener(r, l);
    ptk_runner_say(r, ptk_msg_cmethod(&r->line, ops->name, "socks5", (struct sockaddr *)&l->bound));
    return 1;
}

static int start_server(struct ptk_runner *r, const struct ptk_env *env, const char *name)
{
    const struct ptk_transport_ops *ops = ptk_transport_find(name);
    if (!ops || !ops->server_setup) {
        ptk_log(&r->log.logger, PTK_LOG_NOTICE, "no server transport called \"%s\"; skipping",
                name);
        return 0;
    }
    const struct ptk_bindaddr *ba = NULL;
    for (size_t i = 0; i < env->n_bindaddrs; i++)
        if (strcmp(env->bindaddrs[i].transport, name) == 0)
            ba = &env->bindaddrs[i];
    if (!ba) {
        ptk_runner_say(r, ptk_msg_smethod_error(&r->line, name, "no bind address in TOR_PT_SERVER_BINDADDR"));
        return 0;
    }
    char err[256] = "";
    void *inst = NULL;
    struct ptk_kvlist args = PTK_KVLIST_INIT;
    struct ptk_transport_cfg tc = {env->state_location,
                                   ptk_server_options_get(&env->server_options, name),
                                   &r->log.logger};
    if (ops->server_setup(&tc, &inst, &args, err, sizeof(err)) != PTK_OK) {
        ptk_runner_say(r, ptk_msg_smethod_error(&r->line, name, err[0] ? err : "setup failed"));
        ptk_kvlist_free(&args);
        return 0;
    }
    ptk_runner_keep(r, ops, inst, true);
    struct ptk_listener_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.transport_name = ops->name;
    cfg.ops = ops;
    cfg.instance = inst;
    cfg.listen = ba->addr;
    cfg.listen_len = ba->addrlen;
    if (env->has_extorport) {
        cfg.target = env->extorport;
        cfg.target_len = env->extorport_len;
        cfg.cookie_file = env->auth_cookie_file;
    } else {
        cfg.target = env->orport;
        cfg.target_len = env->orport_len;
    }
    struct ptk_listener *l = NULL;
    const char *why = "";
    if (ptk_listener_open(&r->io, true, &cfg, &l, &why) != PTK_OK) {
        char msg[300], a[PTK_ADDRSTRLEN] = "?";
        ptk_addr_format((struct sockaddr *)&ba->addr, a, sizeof(a));
        snprintf(msg, sizeof(msg), "%s %s: %s", why, a, strerror(errno));
        ptk_runner_say(r, ptk_msg_smethod_error(&r->line, name, msg));
        ptk_kvlist_free(&args);
        return 0;
    }
    ptk_runner_add_listener(r, l);
    ptk_runner_say(r, ptk_msg_smethod(&r->line, name, (struct sockaddr *)&l->bound, &args));
    ptk_kvlist_free(&args);
    return 1;
}

int ptk_pt_managed(char *const envp[], const struct ptk_pt_opts *o)
{
    struct ptk_env env;
    struct ptk_runner r;
    char err[512];
    int status = 1, n_ok = 0;
    const char *why = "";

    if (ptk_crypto_init() != PTK_OK)
        return 1;
    enum ptk_env_status st = ptk_env_parse(&env, envp, err, sizeof(err));
    if (ptk_runner_init(&r, o, true) != PTK_OK) {
        ptk_env_free(&env);
        ptk_runner_free(&r);
        return 1;
    }
    if (st == PTK_ENV_VERSION_ERROR) {
        ptk_runner_say(&r, ptk_msg_version_error(&r.line));
        goto out;
    }
    if (st == PTK_ENV_NOMEM) {
        ptk_runner_say(&r, ptk_msg_env_error(&r.line, "out of memory"));
        goto out;
    }
    if (st != PTK_ENV_OK) {
        ptk_runner_say(&r, ptk_msg_env_error(&r.line, err));
        goto out;
    }
    if (ptk_mkdir_p(env.state_location, &why) != PTK_OK) {
        snprintf(err, sizeof(err), "TOR_PT_STATE_LOCATION: cannot create %.300s: %s (%s)",
                 env.state_location, why, strerror(errno));
        ptk_runner_say(&r, ptk_msg_env_error(&r.line, err));
        goto out;
    }
    ptk_runner_say(&r, ptk_msg_version(&r.line));
    r.io.has_bind_v4 = env.has_outbound_v4;
    r.io.bind_v4 = env.outbound_v4;
    r.io.has_bind_v6 = env.has_outbound_v6;
    r.io.bind_v6 = env.outbound_v6;

    if (env.client) {
        if (env.proxy_error[0]) {
            ptk_runner_say(&r, ptk_msg_proxy_error(&r.line, env.proxy_error));
            goto out;
        }
        if (env.proxy.scheme != PTK_PROXY_NONE) {
            r.io.proxy = env.proxy; /* moves ownership of user/pass */
            env.proxy.user = env.proxy.pass = NULL;
            env.proxy.scheme = PTK_PROXY_NONE;
            ptk_runner_say(&r, ptk_msg_proxy_done(&r.line));
        }
        for (size_t i = 0; i < env.n_client_transports; i++) {
            const char *name = env.client_transports[i];
            if (strcmp(name, "*") == 0) {
                const struct ptk_transport_ops *ops;
                for (size_t k = 0; (ops = ptk_transport_at(k)) != NULL; k++)
                    n_ok += start_client(&r, &env, ops);
                continue;
            }
            const struct ptk_transport_ops *ops = ptk_transport_find(name);
            if (!ops) {
                ptk_log(&r.log.logger, PTK_LOG_NOTICE,
                        "no client transport called \"%s\"; skipping", name);
                continue;
            }
            n_ok += start_client(&r, &env, ops);
        }
        ptk_runner_say(&r, ptk_msg_cmethods_done(&r.line));
    }
    if (env.server) {
        for (size_t i = 0; i < env.n_server_transports; i++)
            n_ok += start_server(&r, &env, env.server_transports[i]);
        ptk_runner_say(&r, ptk_msg_smethods_done(&r.line));
    }
    if (n_ok == 0) {
        ptk_log(&r.log.logger, PTK_LOG_ERROR, "no transport could be started; exiting");
        goto out;
    }
    ptk_log(&r.log.logger, PTK_LOG_NOTICE, "ptkit %s running (%d transport listener%s)",
            PTK_VERSION, n_ok, n_ok == 1 ? "" : "s");
    status = ptk_runner_run(&r, env.exit_on_stdin_close);
out:
    ptk_runner_free(&r);
    ptk_env_free(&env);
    return status;
}
