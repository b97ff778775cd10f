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
 * listen for gets a *METHOD-ERROR saying why. Server identities (state
 * files) are loaded before VERSION, so a broken state file is an ENV-ERROR,
 * the only error text tor logs verbatim.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "io/listener.h"
#include "pt/pt.h"
#include "pt/runner.h"
#include "ptkit/buf.h"
#include "ptkit/env.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"
#include "util/addr.h"
#include "util/file.h"
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
    struct sockaddr_storage bound;
    const char *why = "";
    if (ptk_runner_listen(r, PTK_ROLE_CLIENT, &cfg, &bound, &why) != PTK_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: %s", why, strerror(errno));
        ptk_runner_say(r, ptk_msg_cmethod_error(&r->line, ops->name, msg));
        return 0;
    }
    ptk_runner_say(r, ptk_msg_cmethod(&r->line, ops->name, "socks5", (struct sockaddr *)&bound));
    return 1;
}

/* A server transport set up before VERSION (so state errors can be ENV-ERRORs). */
struct server_setup {
    const struct ptk_transport_ops *ops;
    void *inst;
    struct ptk_kvlist args; /* SMETHOD ARGS */
    char error[300];        /* non-empty: announce SMETHOD-ERROR with this */
};

/*
 * Load every server transport's identity before anything is announced: a
 * missing, corrupt or unwritable state file must reach tor as ENV-ERROR
 * (tor logs ENV-ERROR text only before VERSION), never as a silent new
 * identity. Unknown names are skipped.
 */
static int setup_servers(struct ptk_runner *r, const struct ptk_env *env,
                         struct server_setup *ss, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    for (size_t i = 0; i < env->n_server_transports && *n < PTK_RUNNER_MAX; i++) {
        const char *name = env->server_transports[i];
        const struct ptk_transport_ops *ops = ptk_transport_find(name);
        if (!ops || !ops->server_setup) {
            ptk_log(&r->log.logger, PTK_LOG_NOTICE, "no server transport called \"%s\"; skipping",
                    name);
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < *n; k++)
            dup |= ss[k].ops == ops;
        if (dup)
            continue;
        struct server_setup *s = &ss[*n];
        char terr[300] = "";
        struct ptk_transport_cfg tc = {env->state_location,
                                       ptk_server_options_get(&env->server_options, name),
                                       &r->log.logger};
        s->ops = ops;
        s->inst = NULL;
        s->args = (struct ptk_kvlist)PTK_KVLIST_INIT;
        s->error[0] = '\0';
        int rc = ops->server_setup(&tc, &s->inst, &s->args, terr, sizeof(terr));
        if (rc == PTK_ESTATE) {
            snprintf(err, errlen, "%s: %s", name, terr[0] ? terr : "unusable state");
            ptk_kvlist_free(&s->args);
            return PTK_EINVAL;
        }
        if (rc != PTK_OK) {
            /* This transport alone fails (e.g. a bad option): SMETHOD-ERROR, others run. */
            snprintf(s->error, sizeof(s->error), "%s", terr[0] ? terr : ptk_strerror(rc));
            s->inst = NULL;
        } else {
            ptk_runner_keep(r, ops, s->inst, true);
        }
        (*n)++;
    }
    return PTK_OK;
}

static int start_server(struct ptk_runner *r, const struct ptk_env *env, struct server_setup *ss)
{
    const char *name = ss->ops->name;
    if (ss->error[0]) {
        ptk_runner_say(r, ptk_msg_smethod_error(&r->line, name, ss->error));
        return 0;
    }
    const struct ptk_bindaddr *ba = NULL;
    for (size_t i = 0; i < env->n_bindaddrs; i++)
        if (strcmp(env->bindaddrs[i].transport, name) == 0)
            ba = &env->bindaddrs[i];
    if (!ba) {
        ptk_runner_say(r, ptk_msg_smethod_error(&r->line, name,
                                                "no bind address in TOR_PT_SERVER_BINDADDR"));
        return 0;
    }
    struct ptk_listener_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.transport_name = ss->ops->name;
    cfg.ops = ss->ops;
    cfg.instance = ss->inst;
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
    struct sockaddr_storage bound;
    const char *why = "";
    if (ptk_runner_listen(r, PTK_ROLE_SERVER, &cfg, &bound, &why) != PTK_OK) {
        char msg[300], a[PTK_ADDRSTRLEN] = "?";
        ptk_addr_format((struct sockaddr *)&ba->addr, a, sizeof(a));
        snprintf(msg, sizeof(msg), "%s %s: %s", why, a, strerror(errno));
        ptk_runner_say(r, ptk_msg_smethod_error(&r->line, name, msg));
        return 0;
    }
    ptk_runner_say(r, ptk_msg_smethod(&r->line, name, (struct sockaddr *)&bound, &ss->args));
    return 1;
}

/*
 * Event loops: --workers, else a `workers=N` server transport option, else
 * one per CPU; a single one if any transport in use is not thread-safe.
 */
static void choose_workers(struct ptk_runner *r, const struct ptk_env *env,
                           const struct server_setup *ss, size_t n_ss, const struct ptk_pt_opts *o)
{
    unsigned want = o->workers;
    bool safe = true;
    for (size_t i = 0; i < n_ss; i++) {
        safe &= (ss[i].ops->flags & PTK_TRANSPORT_THREADSAFE) != 0;
        const struct ptk_kvlist *kv = ptk_server_options_get(&env->server_options,
                                                             ss[i].ops->name);
        const char *w = kv ? ptk_kvlist_get(kv, "workers") : NULL;
        uint64_t v;
        if (!want && w && ptk_parse_u64(w, strlen(w), 1, PTK_WORKERS_MAX, &v) == PTK_OK)
            want = (unsigned)v;
    }
    for (size_t i = 0; i < env->n_client_transports; i++) {
        const struct ptk_transport_ops *ops = ptk_transport_find(env->client_transports[i]);
        if (ops)
            safe &= (ops->flags & PTK_TRANSPORT_THREADSAFE) != 0;
        else if (strcmp(env->client_transports[i], "*") == 0)
            for (size_t k = 0; (ops = ptk_transport_at(k)) != NULL; k++)
                safe &= (ops->flags & PTK_TRANSPORT_THREADSAFE) != 0;
    }
    if (!want)
        want = ptk_runner_default_workers();
    if (!safe && want > 1) {
        ptk_log(&r->log.logger, PTK_LOG_INFO,
                "a transport in use is not thread-safe: using one event loop");
        want = 1;
    }
    ptk_runner_set_workers(r, want);
}

int ptk_pt_managed(char *const envp[], const struct ptk_pt_opts *o)
{
    struct ptk_env env;
    struct ptk_runner r;
    struct server_setup ss[PTK_RUNNER_MAX];
    size_t n_ss = 0;
    char err[512];
    int status = 1, n_ok = 0;
    const char *why = "";

    if (ptk_crypto_init() != PTK_OK)
        return 1;
    enum ptk_env_status st = ptk_env_parse(&env, envp, err, sizeof(err));
    if (ptk_runner_init(&r, o, true) != PTK_OK) {
        /* Say why on stdout (tor logs ENV-ERROR text); otherwise the PT dies silently. */
        int e = errno;
        if (!r.log_ok)
            snprintf(err, sizeof(err), "cannot open the log file %.300s: %s",
                     o->log_file ? o->log_file : "(none)", strerror(e));
        else
            snprintf(err, sizeof(err), "cannot set up the event loop");
        ptk_env_free(&env);
        ptk_runner_free(&r);
        struct ptk_buf b;
        ptk_buf_init(&b, 1024);
        if (ptk_msg_env_error(&b, err) == PTK_OK &&
            write(o->out_fd, ptk_buf_data(&b), ptk_buf_len(&b)) < 0) {
            /* nowhere left to report it */
        }
        ptk_buf_free(&b);
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
    if (env.server && setup_servers(&r, &env, ss, &n_ss, err, sizeof(err)) != PTK_OK) {
        ptk_runner_say(&r, ptk_msg_env_error(&r.line, err));
        goto out;
    }
    ptk_runner_say(&r, ptk_msg_version(&r.line));
    r.io.has_bind_v4 = env.has_outbound_v4;
    r.io.bind_v4 = env.outbound_v4;
    r.io.has_bind_v6 = env.has_outbound_v6;
    r.io.bind_v6 = env.outbound_v6;

    choose_workers(&r, &env, ss, n_ss, o);
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
        ptk_runner_sync_io(&r);
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
        ptk_runner_sync_io(&r);
        for (size_t i = 0; i < n_ss; i++)
            n_ok += start_server(&r, &env, &ss[i]);
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
    for (size_t i = 0; i < n_ss; i++)
        ptk_kvlist_free(&ss[i].args);
    ptk_runner_free(&r);
    ptk_env_free(&env);
    return status;
}
