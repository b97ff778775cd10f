/* A managed PT supervised as tor does it (see host/launcher.h). */
#include "host/launcher.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "io/process.h"
#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"
#include "util/str.h"

#define BACKOFF_MAX_S 60

struct ptk_pt {
    struct ptk_io *io;
    const struct ptk_logger *lg;
    char label[160];
    bool server, restart;
    char **argv;
    char *names; /* "a,b,c" */
    struct ptk_buf vars; /* NUL-separated NAME=value strings we set */
    char *const *inherit;
    bool proxy_required;
    unsigned config_timeout_s, grace_s;
    ptk_pt_event_fn changed;
    void *ud;

    struct ptk_proc *proc;
    enum ptk_pt_state state;
    struct event *timer;
    unsigned backoff_s;
    uint64_t configured_ms;
    bool proxy_done;
    int stop_step; /* 0 running; 1 stdin closed; 2 SIGTERM sent; 3 SIGKILL sent */
    bool stop_requested;
    struct ptk_pt_method methods[PTK_PT_MAX_METHODS];
    size_t n_methods;
    char error[600];
};

static void set_state(struct ptk_pt *p, enum ptk_pt_state s)
{
    p->state = s;
    if (p->changed)
        p->changed(p->ud, p);
}

static void stop_process(struct ptk_pt *p);

static void broken(struct ptk_pt *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broken(struct ptk_pt *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    ptk_log(p->lg, PTK_LOG_ERROR, "PT %s failed the configuration protocol: %s; stopping it",
            p->label, p->error);
    p->n_methods = 0;
    evtimer_del(p->timer);
    stop_process(p);
    set_state(p, PTK_PT_BROKEN);
}

static void add_method(struct ptk_pt *p, const struct ptk_msg *m)
{
    if (p->n_methods >= PTK_PT_MAX_METHODS)
        return;
    struct ptk_pt_method *me = &p->methods[p->n_methods++];
    ptk_strlcpy(me->name, m->transport, sizeof(me->name));
    me->socks = m->socks_version;
    me->addr.ss = m->addr;
    me->addr.len = m->addrlen;
    ptk_strlcpy(me->args, m->raw_args ? m->raw_args : "", sizeof(me->args));
    char a[PTK_ADDRSTRLEN] = "?";
    ptk_addr_format((const struct sockaddr *)&m->addr, a, sizeof(a));
    ptk_log(p->lg, PTK_LOG_NOTICE, "PT %s: %s %s at %s%s%s", p->label,
            p->server ? "server transport" : "client transport", m->transport, a,
            m->raw_args ? " ARGS:" : "", m->raw_args ? m->raw_args : "");
}

/* One stdout line, judged as tor's handle_proxy_line judges it. */
static void handle_line(struct ptk_pt *p, const char *line, size_t len)
{
    struct ptk_msg m;
    const char *why = "";
    int r = ptk_msg_parse(line, len, &m, &why);
    int shown = (int)(len > 200 ? 200 : len);
    ptk_log(p->lg, PTK_LOG_DEBUG, "PT %s: line: %.*s", p->label, shown, line);
    bool accepting = p->state == PTK_PT_ACCEPTING, launched = p->state == PTK_PT_LAUNCHED;
    switch (m.type) {
    case PTK_MSG_ENV_ERROR:
        broken(p, "ENV-ERROR %s", m.text ? m.text : "");
        break;
    case PTK_MSG_VERSION_ERROR:
        broken(p, "it supports no protocol version we offered (VERSION-ERROR)");
        break;
    case PTK_MSG_VERSION:
        if (!launched)
            broken(p, "VERSION line out of order");
        else if (r != PTK_OK || strcmp(m.version, "1") != 0)
            broken(p, "it chose version \"%s\"; only 1 was offered", m.version);
        else
            set_state(p, PTK_PT_ACCEPTING);
        break;
    case PTK_MSG_CMETHOD:
    case PTK_MSG_SMETHOD:
        if (!accepting)
            broken(p, "%s line %s", ptk_msg_type_name(m.type),
                   launched ? "before VERSION" : "after *METHODS DONE");
        else if (r != PTK_OK)
            broken(p, "malformed %s line (%s): %.*s", ptk_msg_type_name(m.type), why, shown,
                   line);
        else if ((m.type == PTK_MSG_SMETHOD) != p->server)
            ptk_log(p->lg, PTK_LOG_WARNING, "PT %s: ignoring a %s line from a %s PT", p->label,
                    ptk_msg_type_name(m.type), p->server ? "server" : "client");
        else
            add_method(p, &m);
        break;
    case PTK_MSG_CMETHOD_ERROR:
    case PTK_MSG_SMETHOD_ERROR:
        if (!accepting)
            broken(p, "%s line out of order", ptk_msg_type_name(m.type));
        else
            ptk_log(p->lg, PTK_LOG_WARNING, "PT %s: %s %s: %s", p->label,
                    ptk_msg_type_name(m.type), m.transport, m.text ? m.text : "");
        break;
    case PTK_MSG_CMETHODS_DONE:
    case PTK_MSG_SMETHODS_DONE:
        if (!accepting) {
            broken(p, "*METHODS DONE out of order");
        } else if (p->proxy_required && !p->proxy_done) {
            broken(p, "it did not confirm the outgoing proxy (no PROXY DONE)");
        } else {
            p->configured_ms = ptk_io_now_ms();
            evtimer_del(p->timer);
            ptk_log(p->lg, PTK_LOG_NOTICE, "PT %s configured with %zu transport%s", p->label,
                    p->n_methods, p->n_methods == 1 ? "" : "s");
            if (p->n_methods == 0)
                ptk_log(p->lg, PTK_LOG_WARNING, "PT %s offers none of the transports asked for",
                        p->label);
            set_state(p, PTK_PT_CONFIGURED);
        }
        break;
    case PTK_MSG_PROXY_DONE:
        if (!accepting)
            broken(p, "PROXY DONE out of order");
        else if (!p->proxy_required)
            ptk_log(p->lg, PTK_LOG_NOTICE, "PT %s: PROXY DONE without a proxy; ignored",
                    p->label);
        else
            p->proxy_done = true;
        break;
    case PTK_MSG_PROXY_ERROR:
        broken(p, "PROXY-ERROR %s", m.text ? m.text : "");
        break;
    case PTK_MSG_LOG:
        if (r == PTK_OK)
            ptk_log(p->lg, m.severity, "PT %s: %s", p->label, m.text);
        else
            ptk_log(p->lg, PTK_LOG_WARNING, "PT %s: invalid LOG line (%s)", p->label, why);
        break;
    case PTK_MSG_STATUS:
        if (r == PTK_OK) /* the line is "STATUS ..." */
            ptk_log(p->lg, PTK_LOG_INFO, "PT %s: %.*s", p->label, shown, line);
        else
            ptk_log(p->lg, PTK_LOG_WARNING, "PT %s: invalid STATUS line (%s)", p->label, why);
        break;
    case PTK_MSG_UNKNOWN:
        ptk_log(p->lg, PTK_LOG_NOTICE, "PT %s: unknown line ignored: %.*s", p->label, shown,
                line);
        break;
    }
    ptk_msg_free(&m);
}

static void on_line(void *ud, const char *line, size_t len, bool from_stderr)
{
    struct ptk_pt *p = ud;
    if (from_stderr) {
        ptk_log(p->lg, PTK_LOG_INFO, "PT %s: stderr: %.*s", p->label, (int)len, line);
        return;
    }
    if (p->state == PTK_PT_LAUNCHED || p->state == PTK_PT_ACCEPTING ||
        p->state == PTK_PT_CONFIGURED)
        handle_line(p, line, len);
}

static void on_exit_status(void *ud, int status)
{
    struct ptk_pt *p = ud;
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "status %d", status);
    ptk_proc_free(p->proc);
    p->proc = NULL;
    evtimer_del(p->timer);
    int was_stopping = p->stop_step;
    p->stop_step = 0;
    if (was_stopping || p->stop_requested || p->state == PTK_PT_BROKEN) {
        ptk_log(p->lg, PTK_LOG_INFO, "PT %s exited (%s)", p->label, how);
        set_state(p, p->state == PTK_PT_BROKEN ? PTK_PT_BROKEN : PTK_PT_STOPPED);
        return;
    }
    if (p->state != PTK_PT_CONFIGURED) {
        broken(p, "it exited before finishing configuration (%s)", how);
        return;
    }
    p->n_methods = 0;
    if (!p->restart) {
        ptk_log(p->lg, PTK_LOG_WARNING, "PT %s died (%s)", p->label, how);
        set_state(p, PTK_PT_STOPPED);
        return;
    }
    /* A configured PT died: relaunch with exponential backoff. */
    uint64_t up = ptk_io_now_ms() - p->configured_ms;
    if (up >= (uint64_t)BACKOFF_MAX_S * 1000)
        p->backoff_s = 0;
    p->backoff_s = p->backoff_s ? 2 * p->backoff_s : 1;
    if (p->backoff_s > BACKOFF_MAX_S)
        p->backoff_s = BACKOFF_MAX_S;
    ptk_log(p->lg, PTK_LOG_WARNING, "PT %s died (%s); restarting in %u s", p->label, how,
            p->backoff_s);
    struct timeval tv = {p->backoff_s, 0};
    evtimer_add(p->timer, &tv);
    set_state(p, PTK_PT_WAITING);
}

/* The timer: configuration timeout, relaunch, or the next stop step. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_pt *p = arg;
    if (p->stop_step && p->proc) {
        if (p->stop_step == 1) {
            ptk_log(p->lg, PTK_LOG_INFO, "PT %s: still running; sending SIGTERM", p->label);
            ptk_proc_signal(p->proc, SIGTERM);
            p->stop_step = 2;
            struct timeval tv = {p->grace_s, 0};
            evtimer_add(p->timer, &tv);
        } else if (p->stop_step == 2) {
            ptk_log(p->lg, PTK_LOG_WARNING, "PT %s ignored SIGTERM; killing it", p->label);
            ptk_proc_signal(p->proc, SIGKILL); /* reaped by SIGCHLD -> on_exit_status */
            p->stop_step = 3;
        }
        return;
    }
    if (p->state == PTK_PT_LAUNCHED || p->state == PTK_PT_ACCEPTING)
        broken(p, "it did not finish configuration within %u s", p->config_timeout_s);
    else if (p->state == PTK_PT_WAITING && !p->stop_requested)
        ptk_pt_launch(p);
}

/* close stdin; SIGTERM after the grace period; SIGKILL after another */
static void stop_process(struct ptk_pt *p)
{
    if (!p->proc || !ptk_proc_running(p->proc) || p->stop_step)
        return;
    p->stop_step = 1;
    ptk_proc_close_stdin(p->proc);
    struct timeval tv = {p->grace_s, 0};
    evtimer_add(p->timer, &tv);
}

/* Append "NAME=<pre>value<post>" and a NUL (value NULL: "NAME="). */
static int add_var(struct ptk_buf *b, const char *name, const char *pre, const char *value,
                   const char *post)
{
    int r = value ? ptk_buf_printf(b, "%s=%s%s%s", name, pre, value, post)
                  : ptk_buf_printf(b, "%s=", name);
    if (r == PTK_OK)
        r = ptk_buf_put_u8(b, 0);
    return r;
}

static int build_vars(struct ptk_pt *p, const struct ptk_pt_cfg *cfg)
{
    const struct ptk_pt_env *e = &cfg->env;
    struct ptk_buf *b = &p->vars;
    int r = add_var(b, "TOR_PT_STATE_LOCATION", "", e->state_dir ? e->state_dir : ".", "/");
    if (r == PTK_OK)
        r = add_var(b, "TOR_PT_MANAGED_TRANSPORT_VER", "", "1", "");
    if (r == PTK_OK)
        r = add_var(b, cfg->server ? "TOR_PT_SERVER_TRANSPORTS" : "TOR_PT_CLIENT_TRANSPORTS", "",
                    p->names, "");
    if (cfg->server) {
        if (r == PTK_OK && e->orport)
            r = add_var(b, "TOR_PT_ORPORT", "", e->orport, "");
        if (r == PTK_OK)
            r = add_var(b, "TOR_PT_SERVER_BINDADDR", "", e->bindaddr ? e->bindaddr : "", "");
        if (r == PTK_OK && e->server_options && *e->server_options)
            r = add_var(b, "TOR_PT_SERVER_TRANSPORT_OPTIONS", "", e->server_options, "");
        if (r == PTK_OK)
            r = add_var(b, "TOR_PT_EXTENDED_SERVER_PORT", "", e->extorport, "");
        if (r == PTK_OK && e->extorport && e->cookie_file)
            r = add_var(b, "TOR_PT_AUTH_COOKIE_FILE", "", e->cookie_file, "");
    } else if (r == PTK_OK && e->proxy_uri) {
        r = add_var(b, "TOR_PT_PROXY", "", e->proxy_uri, "");
    }
    if (r == PTK_OK)
        r = add_var(b, "TOR_PT_EXIT_ON_STDIN_CLOSE", "", "1", "");
    if (r == PTK_OK && e->bind_v4)
        r = add_var(b, "TOR_PT_OUTBOUND_BIND_ADDRESS_V4", "", e->bind_v4, "");
    if (r == PTK_OK && e->bind_v6)
        r = add_var(b, "TOR_PT_OUTBOUND_BIND_ADDRESS_V6", "[", e->bind_v6, "]");
    return r;
}

struct ptk_pt *ptk_pt_new(struct ptk_io *io, const struct ptk_pt_cfg *cfg,
                          ptk_pt_event_fn changed, void *ud)
{
    struct ptk_pt *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->io = io;
    p->lg = io->log;
    ptk_strlcpy(p->label, cfg->label ? cfg->label : "PT", sizeof(p->label));
    p->server = cfg->server;
    p->restart = cfg->restart;
    p->inherit = cfg->env.inherit;
    p->proxy_required = !cfg->server && cfg->env.proxy_uri;
    p->config_timeout_s = cfg->config_timeout_s ? cfg->config_timeout_s : 60;
    p->grace_s = cfg->shutdown_grace_s ? cfg->shutdown_grace_s : 2;
    p->changed = changed;
    p->ud = ud;
    p->state = PTK_PT_IDLE;
    ptk_buf_init(&p->vars, 1 << 20);
    size_t n = 0;
    while (cfg->argv[n])
        n++;
    struct ptk_buf names;
    const char *ns = "";
    ptk_buf_init(&names, 65536);
    bool ok = (p->argv = calloc(n + 1, sizeof(*p->argv))) != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = (p->argv[i] = strdup(cfg->argv[i])) != NULL;
    for (size_t i = 0; ok && i < cfg->n_names; i++)
        ok = ptk_buf_printf(&names, "%s%s", i ? "," : "", cfg->names[i]) == PTK_OK;
    ok = ok && ptk_buf_cstr(&names, &ns) == PTK_OK && (p->names = strdup(ns)) != NULL;
    ptk_buf_free(&names);
    ok = ok && build_vars(p, cfg) == PTK_OK;
    ok = ok && (p->timer = evtimer_new(io->base, on_timer, p)) != NULL;
    if (!ok) {
        ptk_pt_free(p);
        return NULL;
    }
    return p;
}

void ptk_pt_launch(struct ptk_pt *p)
{
    char **envp = NULL;
    const char *ours[64];
    size_t no = 0, ninh = 0, n = 0;
    const char *v = (const char *)ptk_buf_data(&p->vars);
    for (size_t off = 0; off < ptk_buf_len(&p->vars) && no < 64; off += strlen(v + off) + 1)
        ours[no++] = v + off;
    for (char *const *e = p->inherit; e && *e; e++)
        ninh++;
    envp = calloc(no + ninh + 1, sizeof(*envp));
    if (!envp) {
        broken(p, "out of memory");
        return;
    }
    /* The inherited environment, with the variables we set replacing any of the same name. */
    for (char *const *e = p->inherit; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t klen = eq ? (size_t)(eq - *e) : strlen(*e);
        bool replaced = false;
        for (size_t k = 0; k < no && !replaced; k++)
            replaced = strncmp(ours[k], *e, klen) == 0 && ours[k][klen] == '=';
        if (!replaced)
            envp[n++] = *e;
    }
    for (size_t k = 0; k < no; k++)
        envp[n++] = (char *)ours[k];
    envp[n] = NULL;

    struct ptk_proc_cbs cbs = {on_line, on_exit_status, p};
    const char *why = "";
    p->n_methods = 0;
    p->proxy_done = false;
    p->stop_step = 0;
    p->stop_requested = false;
    p->error[0] = '\0';
    p->state = PTK_PT_LAUNCHED;
    if (ptk_proc_spawn(p->io, p->argv, envp, &cbs, &p->proc, &why) != PTK_OK) {
        p->proc = NULL;
        broken(p, "%s %s: %s", why, p->argv[0], strerror(errno));
        free(envp);
        return;
    }
    free(envp);
    ptk_log(p->lg, PTK_LOG_INFO, "PT %s launched (pid %d)", p->label, (int)ptk_proc_pid(p->proc));
    struct timeval tv = {p->config_timeout_s, 0};
    evtimer_add(p->timer, &tv);
    set_state(p, PTK_PT_LAUNCHED);
}

void ptk_pt_stop(struct ptk_pt *p)
{
    p->stop_requested = true;
    if (!p->proc || !ptk_proc_running(p->proc)) {
        evtimer_del(p->timer);
        if (p->state != PTK_PT_BROKEN && p->state != PTK_PT_STOPPED)
            set_state(p, PTK_PT_STOPPED);
        return;
    }
    stop_process(p);
}

void ptk_pt_free(struct ptk_pt *p)
{
    if (!p)
        return;
    if (p->proc) {
        pid_t pid = ptk_proc_pid(p->proc);
        bool running = ptk_proc_running(p->proc);
        ptk_proc_free(p->proc); /* SIGKILL if running */
        if (running)
            waitpid(pid, NULL, 0);
    }
    if (p->timer)
        event_free(p->timer);
    for (size_t i = 0; p->argv && p->argv[i]; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->names);
    ptk_buf_free(&p->vars);
    free(p);
}

enum ptk_pt_state ptk_pt_state(const struct ptk_pt *p)
{
    return p->state;
}

bool ptk_pt_alive(const struct ptk_pt *p)
{
    return p->proc != NULL;
}

pid_t ptk_pt_pid(const struct ptk_pt *p)
{
    return p->proc ? ptk_proc_pid(p->proc) : 0;
}

const char *ptk_pt_label(const struct ptk_pt *p)
{
    return p->label;
}

size_t ptk_pt_methods(const struct ptk_pt *p, const struct ptk_pt_method **m)
{
    *m = p->methods;
    return p->n_methods;
}

const char *ptk_pt_error(const struct ptk_pt *p)
{
    return p->error;
}
