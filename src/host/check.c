/*
 * ptkit check: the runner (see host/check.h).
 *
 * check_run loads and selects the cases, makes a temporary directory, starts
 * the services (host/check_net.c) and runs each case as a session: build
 * the environment, launch the PT, run the steps, stop and reap the PT. The
 * PT's stdout is judged line by line as tor judges it (handle_proxy_line in
 * tor's transports.c, via proto/msg.c): VERSION first, then method lines
 * with a literal IP and a non-zero port, PROXY DONE before *METHODS DONE when
 * a proxy was given, nothing that configures after *METHODS DONE. The
 * verdict is recorded rather than acted on, so that steps can say exactly
 * what tor would have objected to.
 *
 * A case's outcome comes from its steps in order: the first step that does
 * not pass decides it (FAIL, or SKIP for `when` and unmet needs); a `reject`
 * glob that matches a stdout line fails the case as soon as the line
 * arrives. The PT is always stopped afterwards: stdin closed and SIGTERM,
 * SIGKILL 1.5 s later, then waited for.
 */
#include "host/check.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "host/check_int.h"
#include "io/process.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"
#include "util/file.h"
#include "util/str.h"

#define STOP_TERM_MS 1500
#define STOP_KILL_MS 3000
#define CASE_FILE_MAX (1 << 20)

const char *check_outcome_name(enum check_outcome o)
{
    return o == CHECK_PASS ? "PASS" : o == CHECK_FAIL ? "FAIL" : "SKIP";
}

static void trace(struct chk_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(struct chk_run *r, const char *fmt, ...)
{
    if (!r->o->trace)
        return;
    char buf[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->o->trace(r->o->ud, buf);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

bool chk_loop_until(struct chk_run *r, bool (*cond)(void *), void *arg, uint64_t deadline)
{
    struct event *t = evtimer_new(r->base, on_tick, NULL);
    bool ok = false;
    for (;;) {
        if (cond && cond(arg)) {
            ok = true;
            break;
        }
        uint64_t now = ptk_io_now_ms();
        if (now >= deadline || !t)
            break;
        uint64_t left = deadline - now;
        struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
        evtimer_add(t, &tv);
        event_base_loop(r->base, EVLOOP_ONCE);
    }
    if (t)
        event_free(t);
    return ok;
}

uint64_t chk_deadline(const struct chk_sess *s, unsigned ms)
{
    uint64_t d = ptk_io_now_ms() + ms;
    return d < s->deadline ? d : s->deadline;
}

const struct chk_method *chk_method(const struct chk_sess *s)
{
    const char *want = s->r->o->transport;
    for (size_t i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i].name, want) == 0)
            return &s->methods[i];
    return NULL;
}

void chk_describe_exit(int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "ended (wait status %d)", status);
}

/* "2 s", "1.5 s" */
static void secs(unsigned ms, char *buf, size_t n)
{
    if (ms % 1000 == 0)
        snprintf(buf, n, "%u s", ms / 1000);
    else
        snprintf(buf, n, "%.1f s", ms / 1000.0);
}

/* ---------------- placeholders and environment ---------------- */

static const char *lookup(void *ud, const char *name)
{
    struct chk_sess *s = ud;
    struct chk_run *r = s->r;
    if (strcmp(name, "transport") == 0)
        return r->o->transport;
    if (strcmp(name, "tmp") == 0)
        return s->dir;
    if (strcmp(name, "state") == 0)
        return s->state;
    if (strcmp(name, "proxy") == 0)
        return r->proxy_str;
    if (strcmp(name, "free") == 0)
        return s->free_port;
    if (strcmp(name, "orport") == 0)
        return r->orport_str;
    if (strcmp(name, "extorport") == 0)
        return r->extorport_str;
    if (strcmp(name, "cookie") == 0)
        return r->cookie_path;
    if (strcmp(name, "options") == 0)
        return r->options;
    return NULL;
}

/* Expand a case text; on error the text is used as is (the parser validated it). */
static void expand(struct chk_sess *s, const char *tmpl, char *out, size_t n)
{
    struct ptk_buf b;
    const char *str = tmpl;
    ptk_buf_init(&b, 8192);
    if (check_expand(tmpl, lookup, s, &b) == PTK_OK && ptk_buf_cstr(&b, &str) != PTK_OK)
        str = tmpl;
    ptk_strlcpy(out, str, n);
    ptk_buf_free(&b);
}

struct envv {
    char **v;
    size_t n, cap;
};

static void envv_unset(struct envv *e, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=') {
            free(e->v[i]);
            memmove(e->v + i, e->v + i + 1, (e->n - i - 1) * sizeof(*e->v));
            e->n--;
            return;
        }
}

static int envv_set(struct envv *e, const char *name, const char *value)
{
    envv_unset(e, name);
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 64;
        char **v = realloc(e->v, cap * sizeof(*v));
        if (!v)
            return PTK_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    size_t len = strlen(name) + strlen(value) + 2;
    char *kv = malloc(len);
    if (!kv)
        return PTK_ENOMEM;
    snprintf(kv, len, "%s=%s", name, value);
    e->v[e->n++] = kv;
    e->v[e->n] = NULL;
    return PTK_OK;
}

static const char *envv_get(const struct envv *e, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=')
            return e->v[i] + nl + 1;
    return NULL;
}

static void envv_free(struct envv *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

/* What tor sets (transports.c: create_managed_proxy_environment), then the case's changes. */
static int build_env(struct chk_sess *s, struct envv *e)
{
    struct chk_run *r = s->r;
    bool server = r->o->server;
    char val[2048], bind[1024] = "";
    int rc = PTK_OK;
    for (size_t i = 0; i < r->n_inherit && rc == PTK_OK; i++) {
        const char *eq = strchr(r->inherit[i], '=');
        char name[256];
        size_t nl = (size_t)(eq - r->inherit[i]);
        if (nl >= sizeof(name))
            continue;
        memcpy(name, r->inherit[i], nl);
        name[nl] = '\0';
        rc = envv_set(e, name, eq + 1);
    }
    snprintf(val, sizeof(val), "%s/", s->state);
    if (rc == PTK_OK)
        rc = envv_set(e, "TOR_PT_MANAGED_TRANSPORT_VER", "1");
    if (rc == PTK_OK)
        rc = envv_set(e, "TOR_PT_STATE_LOCATION", val);
    if (rc == PTK_OK)
        rc = envv_set(e, "TOR_PT_EXIT_ON_STDIN_CLOSE", "1");
    if (rc == PTK_OK)
        rc = envv_set(e, server ? "TOR_PT_SERVER_TRANSPORTS" : "TOR_PT_CLIENT_TRANSPORTS",
                      s->transports);
    if (server) {
        /* tor's default bind address is 0.0.0.0:0; loopback keeps the PT off other interfaces. */
        size_t off = 0;
        for (const char *t = s->transports; *t;) {
            size_t tl = strcspn(t, ",");
            off += (size_t)snprintf(bind + off, off < sizeof(bind) ? sizeof(bind) - off : 0,
                                    "%s%.*s-127.0.0.1:0", off ? "," : "", (int)tl, t);
            t += tl + (t[tl] == ',');
        }
        if (rc == PTK_OK)
            rc = envv_set(e, "TOR_PT_SERVER_BINDADDR", bind);
        if (rc == PTK_OK)
            rc = envv_set(e, "TOR_PT_ORPORT", r->orport_str);
        if (rc == PTK_OK)
            rc = envv_set(e, "TOR_PT_EXTENDED_SERVER_PORT", r->extorport_str);
        if (rc == PTK_OK)
            rc = envv_set(e, "TOR_PT_AUTH_COOKIE_FILE", r->cookie_path);
        if (rc == PTK_OK && r->options[0])
            rc = envv_set(e, "TOR_PT_SERVER_TRANSPORT_OPTIONS", r->options);
    }
    for (size_t i = 0; i < s->c->n_env && rc == PTK_OK; i++) {
        const struct check_env_op *op = &s->c->env[i];
        if (!op->value) {
            envv_unset(e, op->name);
            continue;
        }
        expand(s, op->value, val, sizeof(val));
        rc = envv_set(e, op->name, val);
    }
    if (rc != PTK_OK)
        return rc;
    const char *xp = envv_get(e, "TOR_PT_EXTENDED_SERVER_PORT");
    s->extor_mode = server && xp && *xp;
    s->proxy_set = !server && envv_get(e, "TOR_PT_PROXY");
    return PTK_OK;
}

/* ---------------- the PT's output, judged as tor judges it ---------------- */

static void set_broken(struct chk_sess *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_broken(struct chk_sess *s, const char *fmt, ...)
{
    if (s->broken[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->broken, sizeof(s->broken), fmt, ap);
    va_end(ap);
    s->broken_after_done = s->phase == CHK_CONFIGURED;
}

static const char *done_word(const struct chk_sess *s)
{
    return s->r->o->server ? "SMETHODS DONE" : "CMETHODS DONE";
}

static void add_method(struct chk_sess *s, const struct ptk_msg *m)
{
    if (s->n_methods >= CHK_MAX_METHODS)
        return;
    struct chk_method *me = &s->methods[s->n_methods++];
    memset(me, 0, sizeof(*me));
    ptk_strlcpy(me->name, m->transport, sizeof(me->name));
    me->socks = m->socks_version;
    me->addr.ss = m->addr;
    me->addr.len = m->addrlen;
    if (m->raw_args) {
        const char *why = "";
        ptk_strlcpy(me->raw_args, m->raw_args, sizeof(me->raw_args));
        if (ptk_smethod_args_parse(m->raw_args, strlen(m->raw_args), &me->args, &why) != PTK_OK &&
            !s->bad_args[0])
            snprintf(s->bad_args, sizeof(s->bad_args), "SMETHOD %s ARGS:%.100s is not k=v,k=v: %s",
                     me->name, m->raw_args, why);
    }
}

static void judge(struct chk_sess *s, const char *line, size_t len)
{
    struct ptk_msg m;
    const char *why = "";
    int r = ptk_msg_parse(line, len, &m, &why);
    int shown = (int)(len > 120 ? 120 : len);
    bool accepting = s->phase == CHK_ACCEPTING, launched = s->phase == CHK_LAUNCHED;
    switch (m.type) {
    case PTK_MSG_ENV_ERROR:
        set_broken(s, "ENV-ERROR%s%s", m.text && *m.text ? " " : "", m.text ? m.text : "");
        break;
    case PTK_MSG_VERSION_ERROR:
        set_broken(s, "VERSION-ERROR%s%s", m.text && *m.text ? " " : "", m.text ? m.text : "");
        break;
    case PTK_MSG_VERSION:
        if (!launched)
            set_broken(s, "a second VERSION line: \"%.*s\"", shown, line);
        else if (r != PTK_OK || strcmp(m.version, "1") != 0)
            set_broken(s, "\"%.*s\": tor offered only version 1", shown, line);
        else
            s->phase = CHK_ACCEPTING;
        break;
    case PTK_MSG_CMETHOD:
    case PTK_MSG_SMETHOD:
        if (!accepting)
            set_broken(s, "\"%.*s\" %s", shown, line,
                       launched ? "before VERSION" : "after *METHODS DONE");
        else if (r != PTK_OK)
            set_broken(s, "malformed line \"%.*s\": %s", shown, line, why);
        else if ((m.type == PTK_MSG_SMETHOD) == s->r->o->server)
            add_method(s, &m);
        break;
    case PTK_MSG_CMETHOD_ERROR:
    case PTK_MSG_SMETHOD_ERROR:
        if (!accepting)
            set_broken(s, "\"%.*s\" %s", shown, line,
                       launched ? "before VERSION" : "after *METHODS DONE");
        else if (strcmp(m.transport, s->r->o->transport) == 0)
            snprintf(s->method_error, sizeof(s->method_error), "%.*s", shown, line);
        break;
    case PTK_MSG_CMETHODS_DONE:
    case PTK_MSG_SMETHODS_DONE:
        if (!accepting)
            set_broken(s, "\"%.*s\" %s", shown, line,
                       launched ? "before VERSION" : "a second time");
        else if (s->proxy_set && !s->proxy_done)
            set_broken(s, "%s without PROXY DONE although TOR_PT_PROXY was set", done_word(s));
        else
            s->phase = CHK_CONFIGURED;
        break;
    case PTK_MSG_PROXY_DONE:
        if (!accepting)
            set_broken(s, "\"PROXY DONE\" %s", launched ? "before VERSION" : "after *METHODS DONE");
        else
            s->proxy_done = true;
        break;
    case PTK_MSG_PROXY_ERROR:
        s->proxy_error = true;
        set_broken(s, "%.*s", shown, line);
        break;
    case PTK_MSG_LOG:
    case PTK_MSG_STATUS:
    case PTK_MSG_UNKNOWN:
        break; /* tor logs these (or a warning for a bad one) and carries on */
    }
    ptk_msg_free(&m);
}

static void check_rejects(struct chk_sess *s, const char *line)
{
    for (size_t i = 0; i < s->c->n_rejects && !s->violation[0]; i++)
        if (check_glob_match(s->rejects[i], line))
            snprintf(s->violation, sizeof(s->violation), "printed \"%.150s\" (must not match %s)",
                     line, s->rejects[i]);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Length of a leading "2026/11/25 14:34:24 " (or ISO 8601) stamp, so details stay stable. */
static size_t timestamp_len(const char *s, size_t n)
{
    if (n < 20 || !digits(s, 4) || (s[4] != '/' && s[4] != '-') || !digits(s + 5, 2) ||
        s[7] != s[4] || !digits(s + 8, 2) || (s[10] != ' ' && s[10] != 'T') || !digits(s + 11, 2) ||
        s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
        return 0;
    size_t i = 19;
    if (i < n && (s[i] == '.' || s[i] == ','))
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
    if (i < n && s[i] == 'Z')
        i++;
    while (i < n && s[i] == ' ')
        i++;
    return i;
}

static void on_line(void *ud, const char *line, size_t len, bool from_stderr)
{
    struct chk_sess *s = ud;
    int shown = (int)(len > 300 ? 300 : len);
    trace(s->r, "  %s %.*s", from_stderr ? "stderr:" : "stdout:", shown, line);
    if (from_stderr) {
        size_t skip = timestamp_len(line, len);
        if (len > skip)
            snprintf(s->last_stderr, sizeof(s->last_stderr), "%.*s",
                     (int)(len - skip > 150 ? 150 : len - skip), line + skip);
        return;
    }
    size_t keep = len;
    if (keep && line[keep - 1] == '\r')
        keep--;
    char *copy = ptk_strndup(line, keep > CHK_KEEP_LINE ? CHK_KEEP_LINE : keep);
    judge(s, line, len);
    if (!copy)
        return;
    check_rejects(s, copy);
    if (s->n_lines < CHK_MAX_LINES)
        s->lines[s->n_lines++] = copy;
    else
        free(copy);
}

static void on_exit_status(void *ud, int status)
{
    struct chk_sess *s = ud;
    char how[80];
    s->exited = true;
    s->status = status;
    s->t_exit = ptk_io_now_ms();
    chk_describe_exit(status, how, sizeof(how));
    trace(s->r, "  the PT %s", how);
    ptk_proc_free(s->proc);
    s->proc = NULL;
}

/* ---------------- steps ---------------- */

static bool cond_exited(void *arg)
{
    struct chk_sess *s = arg;
    return s->exited || s->violation[0];
}

static bool cond_configured(void *arg)
{
    struct chk_sess *s = arg;
    return s->phase == CHK_CONFIGURED || s->broken[0] || s->exited || s->violation[0];
}

static bool cond_broken_after(void *arg)
{
    struct chk_sess *s = arg;
    return s->broken[0] || s->exited || s->violation[0];
}

struct glob_wait {
    struct chk_sess *s;
    char *alt[4]; /* alternatives ("A | B") */
    size_t n_alt;
    size_t found;    /* index + 1 */
    bool until_done; /* `when`: give up once the configuration phase is over */
};

static bool cond_line(void *arg)
{
    struct glob_wait *g = arg;
    for (size_t i = 0; i < g->s->n_lines; i++)
        for (size_t k = 0; k < g->n_alt; k++)
            if (check_glob_match(g->alt[k], g->s->lines[i])) {
                g->found = i + 1;
                return true;
            }
    return g->s->exited || g->s->violation[0] || g->s->broken[0] ||
           (g->until_done && g->s->phase == CHK_CONFIGURED);
}

/* ", last stderr: ..." when there is one */
static void stderr_note(const struct chk_sess *s, char *buf, size_t n)
{
    if (s->last_stderr[0])
        snprintf(buf, n, "; stderr: %s", s->last_stderr);
    else
        buf[0] = '\0';
}

static enum check_outcome step_configure(struct chk_sess *s, char *d, size_t dn)
{
    char how[80], note[200];
    chk_loop_until(s->r, cond_configured, s, s->deadline);
    stderr_note(s, note, sizeof(note));
    if (s->violation[0]) {
        ptk_strlcpy(d, s->violation, dn);
        return CHECK_FAIL;
    }
    if (s->broken[0]) {
        snprintf(d, dn, "tor would stop the PT: %.300s%.150s", s->broken,
                 s->proxy_error ? "" : note);
        return CHECK_FAIL;
    }
    if (s->phase != CHK_CONFIGURED) {
        if (s->exited) {
            chk_describe_exit(s->status, how, sizeof(how));
            snprintf(d, dn, "%s before %s%s", how, done_word(s), note);
        } else {
            snprintf(d, dn, "no %s within %u s (last line: %s)", done_word(s),
                     s->c->timeout_ms / 1000, s->n_lines ? s->lines[s->n_lines - 1] : "none");
        }
        return CHECK_FAIL;
    }
    const struct chk_method *m = chk_method(s);
    const char *kw = s->r->o->server ? "SMETHOD" : "CMETHOD";
    if (s->want_method && !m) {
        snprintf(d, dn, "no %s for %s%s%s", kw, s->r->o->transport, s->method_error[0] ? "; " : "",
                 s->method_error);
        return CHECK_FAIL;
    }
    if (s->bad_args[0]) {
        ptk_strlcpy(d, s->bad_args, dn);
        return CHECK_FAIL;
    }
    if (!m) {
        snprintf(d, dn, "%s with %zu method%s", done_word(s), s->n_methods,
                 s->n_methods == 1 ? "" : "s");
        return CHECK_PASS;
    }
    char keys[200] = "";
    size_t off = 0;
    for (size_t i = 0; i < m->args.n && off < sizeof(keys); i++)
        off += (size_t)snprintf(keys + off, sizeof(keys) - off, "%s%s",
                                i ? "," : " ARGS:", m->args.items[i].key);
    if (s->r->o->server)
        snprintf(d, dn, "VERSION 1, SMETHOD %s%s, SMETHODS DONE", m->name, keys);
    else
        snprintf(d, dn, "VERSION 1,%s CMETHOD %s socks%d, CMETHODS DONE",
                 s->proxy_done ? " PROXY DONE," : "", m->name, m->socks);
    return CHECK_PASS;
}

static enum check_outcome step_expect(struct chk_sess *s, const struct check_step *st, char *d,
                                      size_t dn)
{
    char glob[CHECK_LINE_MAX + 1], shown[CHECK_LINE_MAX + 1], how[80], note[200];
    bool when = st->kind == CHECK_STEP_WHEN;
    const char *na = when ? "not applicable: " : "";
    struct glob_wait g = {s, {NULL}, 0, 0, when};
    expand(s, st->text, glob, sizeof(glob));
    ptk_strlcpy(shown, glob, sizeof(shown));
    /* "A | B": any of the alternatives */
    for (char *a = glob; a && g.n_alt < 4;) {
        char *bar = strstr(a, " | ");
        if (bar)
            *bar = '\0';
        g.alt[g.n_alt++] = a;
        a = bar ? bar + 3 : NULL;
    }
    chk_loop_until(s->r, cond_line, &g, s->deadline);
    cond_line(&g); /* lines delivered together with the exit */
    if (g.found) {
        ptk_strlcpy(d, s->lines[g.found - 1], dn);
        return CHECK_PASS;
    }
    stderr_note(s, note, sizeof(note));
    if (s->violation[0] && !when) {
        ptk_strlcpy(d, s->violation, dn);
    } else if (s->broken[0]) {
        snprintf(d, dn, "%sno line matching \"%.200s\" before tor would stop the PT: %.300s", na,
                 shown, s->broken);
    } else if (s->exited) {
        chk_describe_exit(s->status, how, sizeof(how));
        snprintf(d, dn, "%sno line matching \"%.200s\" (the PT %s)%s", na, shown, how, note);
    } else if (s->phase == CHK_CONFIGURED && when) {
        snprintf(d, dn, "%sno line matching \"%.200s\" before %s", na, shown, done_word(s));
    } else {
        snprintf(d, dn, "%sno line matching \"%.200s\" within %u s%s%.150s", na, shown,
                 s->c->timeout_ms / 1000, s->n_lines ? "; last line: " : "",
                 s->n_lines ? s->lines[s->n_lines - 1] : "");
    }
    return when ? CHECK_SKIP : CHECK_FAIL;
}

static enum check_outcome step_exits(struct chk_sess *s, const struct check_step *st, char *d,
                                     size_t dn)
{
    char how[80], t[16];
    uint64_t t0 = ptk_io_now_ms();
    uint64_t deadline = t0 + st->ms < s->deadline ? t0 + st->ms : s->deadline;
    chk_loop_until(s->r, cond_exited, s, deadline);
    if (s->exited) {
        chk_describe_exit(s->status, how, sizeof(how));
        ptk_strlcpy(d, how, dn);
        return CHECK_PASS;
    }
    if (s->violation[0]) {
        ptk_strlcpy(d, s->violation, dn);
        return CHECK_FAIL;
    }
    secs((unsigned)(deadline - t0), t, sizeof(t)); /* the case's deadline may cut it short */
    snprintf(d, dn, "still running %s later", t);
    return CHECK_FAIL;
}

static enum check_outcome step_runs(struct chk_sess *s, const struct check_step *st, char *d,
                                    size_t dn)
{
    char how[80], t[16];
    uint64_t t0 = ptk_io_now_ms();
    uint64_t deadline = t0 + st->ms < s->deadline ? t0 + st->ms : s->deadline;
    chk_loop_until(s->r, cond_exited, s, deadline);
    if (s->violation[0]) {
        ptk_strlcpy(d, s->violation, dn);
        return CHECK_FAIL;
    }
    if (s->exited) {
        chk_describe_exit(s->status, how, sizeof(how));
        secs((unsigned)(s->t_exit - t0), t, sizeof(t));
        snprintf(d, dn, "%s %s later", how, t);
        return CHECK_FAIL;
    }
    secs((unsigned)(deadline - t0), t, sizeof(t));
    snprintf(d, dn, "still running %s later", t);
    return CHECK_PASS;
}

static enum check_outcome step_idle(struct chk_sess *s, const struct check_step *st, char *d,
                                    size_t dn)
{
    char how[80], t[16];
    bool was_configured = s->phase == CHK_CONFIGURED;
    chk_loop_until(s->r, cond_broken_after, s, chk_deadline(s, st->ms));
    if (s->violation[0]) {
        ptk_strlcpy(d, s->violation, dn);
        return CHECK_FAIL;
    }
    if (s->broken[0]) {
        snprintf(d, dn, "tor would stop the PT: %s", s->broken);
        return CHECK_FAIL;
    }
    if (s->exited) {
        chk_describe_exit(s->status, how, sizeof(how));
        snprintf(d, dn, "the PT %s", how);
        return CHECK_FAIL;
    }
    secs(st->ms, t, sizeof(t));
    snprintf(d, dn, "%s for %s",
             was_configured ? "nothing tor would object to after *METHODS DONE"
                            : "nothing tor would object to",
             t);
    return CHECK_PASS;
}

static enum check_outcome step_exists(struct chk_sess *s, const struct check_step *st, char *d,
                                      size_t dn)
{
    char path[CHECK_LINE_MAX + 1];
    struct stat sb;
    expand(s, st->text, path, sizeof(path));
    size_t dl = strlen(s->dir);
    const char *shown = path;
    char rel[CHECK_LINE_MAX + 8];
    if (strncmp(path, s->dir, dl) == 0) {
        snprintf(rel, sizeof(rel), "${tmp}%s", path + dl);
        shown = rel;
    }
    if (stat(path, &sb) != 0) {
        snprintf(d, dn, "%.300s does not exist", shown);
        return CHECK_FAIL;
    }
    snprintf(d, dn, "%.300s exists%s", shown, S_ISDIR(sb.st_mode) ? " (a directory)" : "");
    return CHECK_PASS;
}

static enum check_outcome step_lines_valid(struct chk_sess *s, char *d, size_t dn)
{
    size_t logs = 0, statuses = 0;
    for (size_t i = 0; i < s->n_lines; i++) {
        struct ptk_msg m;
        const char *why = "";
        const char *l = s->lines[i];
        int r = ptk_msg_parse(l, strlen(l), &m, &why);
        enum ptk_msg_type t = m.type;
        ptk_msg_free(&m);
        if (t != PTK_MSG_LOG && t != PTK_MSG_STATUS)
            continue;
        if (r != PTK_OK) {
            snprintf(d, dn, "\"%.150s\": %s", l, why);
            return CHECK_FAIL;
        }
        if (t == PTK_MSG_LOG)
            logs++;
        else
            statuses++;
    }
    if (logs + statuses == 0) {
        snprintf(d, dn, "the PT printed no LOG or STATUS line");
        return CHECK_SKIP;
    }
    snprintf(d, dn, "%zu LOG and %zu STATUS line%s, all well-formed", logs, statuses,
             statuses == 1 ? "" : "s");
    return CHECK_PASS;
}

static enum check_outcome run_step(struct chk_sess *s, const struct check_step *st, char *d,
                                   size_t dn)
{
    d[0] = '\0';
    switch (st->kind) {
    case CHECK_STEP_CONFIGURE:
        return step_configure(s, d, dn);
    case CHECK_STEP_EXPECT:
    case CHECK_STEP_WHEN:
        return step_expect(s, st, d, dn);
    case CHECK_STEP_EXITS:
        return step_exits(s, st, d, dn);
    case CHECK_STEP_RUNS:
        return step_runs(s, st, d, dn);
    case CHECK_STEP_IDLE:
        return step_idle(s, st, d, dn);
    case CHECK_STEP_CLOSE_STDIN:
        if (s->proc)
            ptk_proc_close_stdin(s->proc);
        return CHECK_PASS;
    case CHECK_STEP_SIGNAL:
        if (s->proc)
            ptk_proc_signal(s->proc, st->signo);
        return CHECK_PASS;
    case CHECK_STEP_SOCKS:
        return chk_step_socks(s, st, d, dn);
    case CHECK_STEP_CONNECT:
        return chk_step_connect(s, st, d, dn);
    case CHECK_STEP_LISTENING: {
        char want[CHECK_LINE_MAX + 1] = "";
        if (st->text)
            expand(s, st->text, want, sizeof(want));
        return chk_step_listening(s, st->text ? want : NULL, d, dn);
    }
    case CHECK_STEP_EXISTS:
        return step_exists(s, st, d, dn);
    case CHECK_STEP_LINES_VALID:
        return step_lines_valid(s, d, dn);
    }
    return CHECK_FAIL;
}

/* ---------------- one case ---------------- */

/* tor's stop sequence, made short: stdin closed and SIGTERM at once, SIGKILL later; reaped. */
static void sess_stop(struct chk_sess *s)
{
    if (!s->proc)
        return;
    ptk_proc_close_stdin(s->proc);
    ptk_proc_signal(s->proc, SIGTERM);
    chk_loop_until(s->r, cond_exited, s, ptk_io_now_ms() + STOP_TERM_MS);
    if (!s->proc)
        return;
    trace(s->r, "  the PT ignored SIGTERM; SIGKILL");
    ptk_proc_signal(s->proc, SIGKILL);
    s->violation[0] = '\0';
    chk_loop_until(s->r, cond_exited, s, ptk_io_now_ms() + STOP_KILL_MS);
    if (s->proc) {
        pid_t pid = s->pid;
        ptk_proc_free(s->proc); /* SIGKILL again, then wait here so it is never left behind */
        s->proc = NULL;
        waitpid(pid, NULL, 0);
    }
}

static void sess_free(struct chk_sess *s)
{
    chk_sess_net_free(s);
    for (size_t i = 0; i < s->n_lines; i++)
        free(s->lines[i]);
    for (size_t i = 0; i < s->n_methods; i++)
        ptk_kvlist_free(&s->methods[i].args);
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Remove the run's temporary directory (symbolic links are not followed). */
static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int free_port(char *out, size_t n)
{
    struct ptk_addr a;
    ptk_addr_parse("127.0.0.1:0", 11, PTK_ADDR_PORT_ZERO_OK, &a, NULL);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = a.len;
    if (fd < 0)
        return PTK_EIO;
    int r = bind(fd, (struct sockaddr *)&a.ss, a.len) == 0 &&
                    getsockname(fd, (struct sockaddr *)&a.ss, &len) == 0
                ? PTK_OK
                : PTK_EIO;
    close(fd);
    if (r == PTK_OK)
        snprintf(out, n, "%u", (unsigned)ptk_addr_port((struct sockaddr *)&a.ss));
    return r;
}

static void add_detail(char *all, size_t n, const char *d)
{
    size_t len = strlen(all);
    if (!d[0] || len + 3 >= n)
        return;
    if (len) {
        ptk_strlcpy(all + len, "; ", n - len);
        len += 2;
    }
    ptk_strlcpy(all + len, d, n - len);
}

static void run_case(struct chk_run *r, const struct check_case *c, size_t idx,
                     struct check_result *res)
{
    struct chk_sess sess;
    struct chk_sess *s = &sess;
    struct envv env = {0};
    char d[600], all[600] = "", last[600] = "";
    const char *why = "";
    uint64_t t0 = ptk_io_now_ms();
    memset(s, 0, sizeof(*s));
    res->c = c;
    res->outcome = CHECK_PASS;
    res->detail[0] = '\0';
    trace(r, "case %s (%s:%u)", c->id, c->file, c->line);
    if ((c->needs & CHECK_NEEDS_DATA) && !chk_peer_available(r)) {
        res->outcome = CHECK_SKIP;
        ptk_strlcpy(res->detail, r->peer.why, sizeof(res->detail));
        goto done;
    }
    s->r = r;
    s->c = c;
    s->t0 = t0;
    s->deadline = t0 + c->timeout_ms;
    snprintf(s->dir, sizeof(s->dir), "%.200s/%02zu-%.60s", r->dir, idx, c->id);
    snprintf(s->state, sizeof(s->state), "%.300s/pt_state", s->dir);
    if (mkdir(s->dir, 0700) != 0 || free_port(s->free_port, sizeof(s->free_port)) != PTK_OK) {
        res->outcome = CHECK_FAIL;
        snprintf(res->detail, sizeof(res->detail), "ptkit check: cannot prepare %.200s: %s", s->dir,
                 strerror(errno));
        goto done;
    }
    if (c->transports)
        expand(s, c->transports, s->transports, sizeof(s->transports));
    else
        ptk_strlcpy(s->transports, r->o->transport, sizeof(s->transports));
    for (const char *t = s->transports; *t;) {
        size_t tl = strcspn(t, ",");
        if (tl == strlen(r->o->transport) && strncmp(t, r->o->transport, tl) == 0)
            s->want_method = true;
        t += tl + (t[tl] == ',');
    }
    for (size_t i = 0; i < c->n_rejects; i++)
        expand(s, c->rejects[i], s->rejects[i], sizeof(s->rejects[i]));
    chk_services_reset(r);
    if (build_env(s, &env) != PTK_OK) {
        res->outcome = CHECK_FAIL;
        snprintf(res->detail, sizeof(res->detail), "ptkit check: out of memory");
        goto done;
    }
    struct ptk_proc_cbs cbs = {on_line, on_exit_status, s};
    if (ptk_proc_spawn(&r->io, r->o->argv, env.v, &cbs, &s->proc, &why) != PTK_OK) {
        s->proc = NULL;
        res->outcome = CHECK_FAIL;
        snprintf(res->detail, sizeof(res->detail), "%s %s: %s", why, r->o->argv[0],
                 strerror(errno));
        goto done;
    }
    s->pid = ptk_proc_pid(s->proc);
    trace(r, "  launched pid %d", (int)s->pid);
    for (size_t i = 0; i < c->n_steps && res->outcome == CHECK_PASS; i++) {
        const struct check_step *st = &c->steps[i];
        trace(r, "  step %s:%u", c->file, st->line);
        enum check_outcome o = run_step(s, st, d, sizeof(d));
        trace(r, "  -> %s %s", check_outcome_name(o), d);
        if (o != CHECK_PASS) {
            res->outcome = o;
            ptk_strlcpy(res->detail, d, sizeof(res->detail));
        } else if (st->kind == CHECK_STEP_CONFIGURE || st->kind == CHECK_STEP_WHEN ||
                   st->kind == CHECK_STEP_IDLE) {
            if (d[0])
                ptk_strlcpy(last, d, sizeof(last)); /* preconditions: shown only alone */
        } else {
            add_detail(all, sizeof(all), d);
        }
    }
    if (res->outcome == CHECK_PASS && s->violation[0]) {
        res->outcome = CHECK_FAIL;
        ptk_strlcpy(res->detail, s->violation, sizeof(res->detail));
    }
    if (res->outcome == CHECK_PASS)
        ptk_strlcpy(res->detail, all[0] ? all : last, sizeof(res->detail));
done:
    if (s->r) {
        sess_stop(s);
        sess_free(s);
    }
    envv_free(&env);
    res->ms = (unsigned)(ptk_io_now_ms() - t0);
    trace(r, "case %s: %s %s", c->id, check_outcome_name(res->outcome), res->detail);
}

/* ---------------- loading ---------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_cases(const char *dir, struct check_suite *suite, char *err, size_t errlen)
{
    DIR *dp = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = PTK_OK;
    if (!dp) {
        snprintf(err, errlen, "cannot read the case directory %s: %s", dir, strerror(errno));
        return PTK_EIO;
    }
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".case") != 0 || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (!nn) {
                r = PTK_ENOMEM;
                break;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name))) {
            r = PTK_ENOMEM;
            break;
        }
        n++;
    }
    closedir(dp);
    if (r == PTK_OK && n == 0) {
        snprintf(err, errlen, "no *.case files in %s", dir);
        r = PTK_ENOENT;
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n && r == PTK_OK; i++) {
        char path[4096];
        char *text = NULL;
        size_t len = 0;
        if (ptk_path_join(path, sizeof(path), dir, names[i]) != PTK_OK) {
            snprintf(err, errlen, "path too long: %s/%s", dir, names[i]);
            r = PTK_ETOOBIG;
            break;
        }
        r = ptk_file_read(path, CASE_FILE_MAX, &text, &len);
        if (r != PTK_OK) {
            snprintf(err, errlen, "cannot read %s: %s", path,
                     r == PTK_ETOOBIG ? "larger than 1 MiB" : strerror(errno));
            break;
        }
        r = check_suite_parse(suite, path, text, len, err, errlen);
        free(text);
    }
    if (r == PTK_ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}

static bool selected(const struct check_opts *o, const struct check_case *c)
{
    enum check_role want = o->server ? CHECK_ROLE_SERVER : CHECK_ROLE_CLIENT;
    if (c->role != CHECK_ROLE_ANY && c->role != want)
        return false;
    if (!o->only)
        return true;
    for (char *const *g = o->only; *g; g++)
        if (check_glob_match(*g, c->id))
            return true;
    return false;
}

/* ---------------- the run ---------------- */

static int make_inherit(struct chk_run *r)
{
    size_t n = 0;
    for (char *const *e = r->o->envp; e && *e; e++)
        n++;
    if (!(r->inherit = calloc(n + 1, sizeof(*r->inherit))))
        return PTK_ENOMEM;
    for (char *const *e = r->o->envp; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e || strncmp(*e, "TOR_PT_", 7) == 0)
            continue;
        if (!(r->inherit[r->n_inherit] = strdup(*e)))
            return PTK_ENOMEM;
        r->n_inherit++;
    }
    return PTK_OK;
}

static void run_free(struct chk_run *r)
{
    chk_services_stop(r);
    if (r->base) {
        ptk_io_unwatch_children(&r->io);
        ptk_io_free(&r->io);
        event_base_free(r->base);
        r->base = NULL;
    }
    if (r->dir[0])
        rm_tree(r->dir);
    for (size_t i = 0; i < r->n_inherit; i++)
        free(r->inherit[i]);
    free(r->inherit);
    r->inherit = NULL;
}

static int check_opts_valid(const struct check_opts *o, char *err, size_t errlen)
{
    if (!o->transport || !ptk_is_c_identifier(o->transport, strlen(o->transport))) {
        snprintf(err, errlen, "the transport name must be a C identifier");
        return PTK_EINVAL;
    }
    if (!o->argv || !o->argv[0] || o->argv[0][0] != '/') {
        snprintf(err, errlen, "the PT command must be an absolute path");
        return PTK_EINVAL;
    }
    if (access(o->argv[0], X_OK) != 0) {
        snprintf(err, errlen, "cannot execute %s: %s", o->argv[0], strerror(errno));
        return PTK_EINVAL;
    }
    if (o->bridge && o->server) {
        snprintf(err, errlen, "--bridge is for the client role");
        return PTK_EINVAL;
    }
    if (o->args && strlen(o->args) > 510) {
        snprintf(err, errlen, "--args: at most 510 bytes (tor's limit for bridge arguments)");
        return PTK_EINVAL;
    }
    if (!o->cases_dir) {
        snprintf(err, errlen, "no case directory");
        return PTK_EINVAL;
    }
    return PTK_OK;
}

int check_run(const struct check_opts *o, struct check_report *rep, char *err, size_t errlen)
{
    struct chk_run run;
    struct chk_run *r = &run;
    int rc;
    memset(rep, 0, sizeof(*rep));
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->closed_fd = -1;
    err[0] = '\0';
    if ((rc = check_opts_valid(o, err, errlen)) != PTK_OK)
        return rc;
    rep->suite = (struct check_suite)CHECK_SUITE_INIT;
    if ((rc = load_cases(o->cases_dir, &rep->suite, err, errlen)) != PTK_OK)
        return rc;
    if (!(rep->results = calloc(rep->suite.n ? rep->suite.n : 1, sizeof(*rep->results))))
        return PTK_ENOMEM;
    size_t n_sel = 0;
    for (size_t i = 0; i < rep->suite.n; i++)
        n_sel += selected(o, &rep->suite.cases[i]);
    if (n_sel == 0) {
        snprintf(err, errlen, "no case selected for the %s role", o->server ? "server" : "client");
        return PTK_ENOENT;
    }
    if (ptk_crypto_init() != PTK_OK) {
        snprintf(err, errlen, "cannot initialise the crypto libraries");
        return PTK_EIO;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof(r->dir), "%s/ptkit-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->dir)) {
        snprintf(err, errlen, "cannot make a temporary directory %s: %s", r->dir, strerror(errno));
        r->dir[0] = '\0';
        return PTK_EIO;
    }
    rc = make_inherit(r);
    if (rc == PTK_OK && !(r->base = event_base_new()))
        rc = PTK_ENOMEM;
    if (rc == PTK_OK) {
        ptk_io_init(&r->io, r->base, NULL);
        rc = ptk_io_watch_children(&r->io);
    }
    if (rc != PTK_OK) {
        snprintf(err, errlen, "cannot set up the event loop");
        goto out;
    }
    if ((rc = chk_services_start(r, err, errlen)) != PTK_OK)
        goto out;
    ptk_strlcpy(rep->peer, r->peer.why, sizeof(rep->peer));
    for (size_t i = 0; i < rep->suite.n; i++) {
        const struct check_case *c = &rep->suite.cases[i];
        if (!selected(o, c))
            continue;
        struct check_result *res = &rep->results[rep->n];
        run_case(r, c, rep->n + 1, res);
        rep->n++;
        if (res->outcome == CHECK_PASS)
            rep->pass++;
        else if (res->outcome == CHECK_SKIP)
            rep->skip++;
        else
            rep->fail++;
        if (res->outcome == CHECK_FAIL && c->level == CHECK_MUST)
            rep->must_fail++;
        if (o->progress)
            o->progress(o->ud, res);
    }
out:
    run_free(r);
    return rc;
}

void check_report_free(struct check_report *rep)
{
    check_suite_free(&rep->suite);
    free(rep->results);
    memset(rep, 0, sizeof(*rep));
}
