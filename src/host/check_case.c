/*
 * The conformance case format (see host/check_case.h and doc/conformance.md):
 * a line-oriented parser in the init / line / finish shape. Each line is a
 * keyword and the rest of the line as its value; `case ID` opens a case,
 * which ends at the next `case` or at the end of the file, where it is
 * validated as a whole (required fields, steps that fit the role).
 * New cases go to a scratch suite first and are appended to the caller's
 * only when the whole file parsed, so a failed parse changes nothing.
 */
#include "host/check_case.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/str.h"

const char *const check_placeholders[] = {
    "transport", "tmp", "state", "proxy", "free", "orport", "extorport", "cookie", "options", NULL,
};

struct parser {
    const char *file;
    unsigned lineno;
    struct check_suite *existing; /* for duplicate ids */
    struct check_suite fresh;
    struct check_case *c; /* the open case (in fresh), or NULL */
    unsigned seen;        /* header fields seen in the open case */
    char *err;
    size_t errlen;
};

enum {
    SEEN_TITLE = 1,
    SEEN_SECTION = 2,
    SEEN_LEVEL = 4,
    SEEN_ROLE = 8,
    SEEN_TIMEOUT = 16,
    SEEN_NEEDS = 32,
    SEEN_TRANSPORTS = 64
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *p, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->errlen)
        snprintf(p->err, p->errlen, "%s:%u: %s", p->file, p->lineno, msg);
    return PTK_EINVAL;
}

static void case_free(struct check_case *c)
{
    free(c->id);
    free(c->title);
    free(c->section);
    free(c->about);
    free(c->file);
    free(c->transports);
    for (size_t i = 0; i < c->n_env; i++) {
        free(c->env[i].name);
        free(c->env[i].value);
    }
    for (size_t i = 0; i < c->n_rejects; i++)
        free(c->rejects[i]);
    for (size_t i = 0; i < c->n_steps; i++)
        free(c->steps[i].text);
    memset(c, 0, sizeof(*c));
}

void check_suite_free(struct check_suite *s)
{
    for (size_t i = 0; i < s->n; i++)
        case_free(&s->cases[i]);
    free(s->cases);
    s->cases = NULL;
    s->n = s->cap = 0;
}

const char *check_level_name(enum check_level l)
{
    return l == CHECK_MUST ? "MUST" : l == CHECK_SHOULD ? "SHOULD" : "MAY";
}

const char *check_role_name(enum check_role r)
{
    return r == CHECK_ROLE_CLIENT ? "client" : r == CHECK_ROLE_SERVER ? "server" : "any";
}

bool check_glob_match(const char *p, const char *s)
{
    const char *star_p = NULL, *star_s = NULL;
    while (*s) {
        if (*p == '*') {
            star_p = ++p;
            star_s = s;
            continue;
        }
        if (*p == '?') {
            p++;
            s++;
            continue;
        }
        if (*p == '\\' && p[1]) {
            if (p[1] == *s) {
                p += 2;
                s++;
                continue;
            }
        } else if (*p && *p == *s) {
            p++;
            s++;
            continue;
        }
        if (!star_p)
            return false;
        p = star_p; /* let the last star swallow one more byte */
        s = ++star_s;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool known_placeholder(const char *name, size_t n)
{
    for (size_t i = 0; check_placeholders[i]; i++)
        if (strlen(check_placeholders[i]) == n && memcmp(check_placeholders[i], name, n) == 0)
            return true;
    return false;
}

int check_expand(const char *tmpl, const char *(*lookup)(void *ud, const char *name), void *ud,
                 struct ptk_buf *out)
{
    int r = PTK_OK;
    while (*tmpl && r == PTK_OK) {
        const char *d = strstr(tmpl, "${");
        size_t lit = d ? (size_t)(d - tmpl) : strlen(tmpl);
        if ((r = ptk_buf_put(out, tmpl, lit)) != PTK_OK || !d)
            break;
        const char *name = d + 2, *end = strchr(name, '}');
        if (!end || !known_placeholder(name, (size_t)(end - name)))
            return PTK_EINVAL;
        char key[32]; /* known names are short */
        ptk_strlcpy(key, name, (size_t)(end - name) + 1);
        const char *v = lookup ? lookup(ud, key) : NULL;
        if (v)
            r = ptk_buf_put_str(out, v);
        tmpl = end + 1;
    }
    return r;
}

/* Every ${...} in s names a known placeholder. */
static int check_placeholders_in(struct parser *p, const char *s)
{
    for (const char *d = strstr(s, "${"); d; d = strstr(d + 2, "${")) {
        const char *end = strchr(d + 2, '}');
        if (!end)
            return fail(p, "unterminated placeholder \"${\"");
        if (!known_placeholder(d + 2, (size_t)(end - d - 2)))
            return fail(p, "unknown placeholder \"%.*s\"", (int)(end - d + 1), d);
    }
    return PTK_OK;
}

static char *dup_value(struct parser *p, const char *v, int *r)
{
    char *s = strdup(v);
    *r = s ? PTK_OK : PTK_ENOMEM;
    return s;
}

/* Parse seconds ("2", "1.5", "0.25") into ms within 1..max_ms. */
static int parse_seconds(struct parser *p, const char *v, unsigned max_ms, unsigned *ms)
{
    const char *dot = strchr(v, '.');
    size_t ilen = dot ? (size_t)(dot - v) : strlen(v);
    uint64_t whole = 0, frac = 0;
    if (ptk_parse_u64(v, ilen, 0, 1000, &whole) != PTK_OK)
        goto bad;
    if (dot) {
        size_t flen = strlen(dot + 1);
        if (flen == 0 || flen > 3 || ptk_parse_u64(dot + 1, flen, 0, 999, &frac) != PTK_OK)
            goto bad;
        for (size_t k = flen; k < 3; k++)
            frac *= 10;
    }
    uint64_t total = whole * 1000 + frac;
    if (total == 0 || total > max_ms)
        return fail(p, "\"%s\": seconds must be more than 0 and at most %u", v, max_ms / 1000);
    *ms = (unsigned)total;
    return PTK_OK;
bad:
    return fail(p, "\"%s\" is not a number of seconds (e.g. 2 or 1.5)", v);
}

static bool is_env_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool is_case_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CHECK_ID_MAX || !(*s >= 'a' && *s <= 'z'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
            return false;
    return true;
}

static int start_case(struct parser *p, const char *id)
{
    if (!is_case_id(id))
        return fail(p,
                    "case id \"%s\": lower-case letters, digits and '-', starting with a "
                    "letter, at most %d bytes",
                    id, CHECK_ID_MAX - 1);
    for (size_t i = 0; i < p->existing->n; i++)
        if (strcmp(p->existing->cases[i].id, id) == 0)
            return fail(p, "case \"%s\" is already defined in %s:%u", id,
                        p->existing->cases[i].file, p->existing->cases[i].line);
    for (size_t i = 0; i < p->fresh.n; i++)
        if (strcmp(p->fresh.cases[i].id, id) == 0)
            return fail(p, "case \"%s\" is already defined at line %u", id, p->fresh.cases[i].line);
    if (p->existing->n + p->fresh.n >= CHECK_MAX_CASES)
        return fail(p, "too many cases (at most %d)", CHECK_MAX_CASES);
    if (p->fresh.n == p->fresh.cap) {
        size_t cap = p->fresh.cap ? 2 * p->fresh.cap : 8;
        struct check_case *n = realloc(p->fresh.cases, cap * sizeof(*n));
        if (!n)
            return PTK_ENOMEM;
        p->fresh.cases = n;
        p->fresh.cap = cap;
    }
    struct check_case *c = &p->fresh.cases[p->fresh.n];
    memset(c, 0, sizeof(*c));
    c->line = p->lineno;
    c->timeout_ms = CHECK_TIMEOUT_DEFAULT_MS;
    if (!(c->id = strdup(id)) || !(c->file = strdup(p->file))) {
        case_free(c);
        return PTK_ENOMEM;
    }
    p->fresh.n++;
    p->c = c;
    p->seen = 0;
    return PTK_OK;
}

/* The case ends: everything a runner relies on must hold. */
static int finish_case(struct parser *p)
{
    struct check_case *c = p->c;
    if (!c)
        return PTK_OK;
    unsigned saved = p->lineno;
    p->lineno = c->line;
    int r = PTK_OK;
    const unsigned required = SEEN_TITLE | SEEN_SECTION | SEEN_LEVEL | SEEN_ROLE;
    if ((p->seen & required) != required) {
        r = fail(p, "case \"%s\" lacks %s", c->id,
                 !(p->seen & SEEN_TITLE)     ? "a title"
                 : !(p->seen & SEEN_SECTION) ? "a section"
                 : !(p->seen & SEEN_LEVEL)   ? "a level"
                                             : "a role");
    } else if (c->n_steps == 0) {
        r = fail(p, "case \"%s\" has no steps", c->id);
    }
    for (size_t i = 0; r == PTK_OK && i < c->n_steps; i++) {
        const struct check_step *st = &c->steps[i];
        p->lineno = st->line;
        if (st->kind == CHECK_STEP_SOCKS && c->role != CHECK_ROLE_CLIENT)
            r = fail(p, "socks steps need \"role client\"");
        else if (st->kind == CHECK_STEP_CONNECT && c->role != CHECK_ROLE_SERVER)
            r = fail(p, "connect steps need \"role server\"");
    }
    if (r == PTK_OK && (c->needs & CHECK_NEEDS_SOCKS4) && c->role != CHECK_ROLE_CLIENT) {
        p->lineno = c->line;
        r = fail(p, "\"needs socks4\" needs \"role client\"");
    }
    p->lineno = saved;
    p->c = NULL;
    return r;
}

static struct check_step *new_step(struct parser *p, enum check_step_kind kind, int *r)
{
    struct check_case *c = p->c;
    if (c->n_steps >= CHECK_MAX_STEPS) {
        *r = fail(p, "too many steps in one case (at most %d)", CHECK_MAX_STEPS);
        return NULL;
    }
    struct check_step *st = &c->steps[c->n_steps++];
    memset(st, 0, sizeof(*st));
    st->kind = kind;
    st->line = p->lineno;
    *r = PTK_OK;
    return st;
}

/* Split v into space-separated words (in place). Returns the count, at most max. */
static size_t words(char *v, char **w, size_t max)
{
    size_t n = 0;
    while (*v) {
        while (*v == ' ' || *v == '\t')
            *v++ = '\0';
        if (!*v)
            break;
        if (n == max)
            return max + 1;
        w[n++] = v;
        while (*v && *v != ' ' && *v != '\t')
            v++;
    }
    return n;
}

static int pick(const char *v, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return PTK_OK;
        }
    return PTK_EINVAL;
}

static int parse_methods(const char *v, struct check_socks *sk)
{
    sk->n_methods = 0;
    while (*v) {
        uint8_t b;
        if (sk->n_methods == sizeof(sk->methods) || ptk_hex_decode(v, 2, &b, 1) != PTK_OK)
            return PTK_EINVAL;
        sk->methods[sk->n_methods++] = b;
        v += 2;
        if (*v == ',' && v[1])
            v++;
        else if (*v)
            return PTK_EINVAL;
    }
    return sk->n_methods ? PTK_OK : PTK_EINVAL;
}

static int parse_socks(struct parser *p, char *v, struct check_step *st)
{
    static const char *const args_names[] = {"none", "bridge", "short", "long", NULL};
    static const char *const expect_names[] = {"success", "method", "auth", "echo",
                                               "refused", "any",    NULL};
    static const char *const cmd_names[] = {"", "connect", "bind", "udp", NULL};
    char *w[12];
    size_t n = words(v, w, 11);
    struct check_socks *sk = &st->socks;
    if (n == 0 || n > 11)
        return fail(p, "socks: give the version (5, 4 or 4a) and at most 10 options");
    if (strcmp(w[0], "5") == 0)
        sk->version = 5;
    else if (strcmp(w[0], "4") == 0 || strcmp(w[0], "4a") == 0)
        sk->version = 4;
    else
        return fail(p, "socks: unknown version \"%s\" (5, 4 or 4a)", w[0]);
    sk->v4a = strcmp(w[0], "4a") == 0;
    sk->args = CHECK_ARGS_BRIDGE;
    sk->cmd = 1;
    sk->atyp = sk->v4a ? 3 : 1;
    sk->expect = CHECK_SX_SUCCESS;
    for (size_t i = 1; i < n; i++) {
        char *eq = strchr(w[i], '=');
        if (!eq)
            return fail(p, "socks: \"%s\" is not key=value", w[i]);
        *eq = '\0';
        const char *k = w[i], *val = eq + 1;
        int x = 0, r = PTK_OK;
        if (strcmp(k, "args") == 0) {
            r = pick(val, args_names, &x);
            sk->args = x;
        } else if (strcmp(k, "expect") == 0) {
            r = pick(val, expect_names, &x);
            sk->expect = x;
        } else if (strcmp(k, "cmd") == 0) {
            r = pick(val, cmd_names, &x);
            r = r == PTK_OK && x == 0 ? PTK_EINVAL : r;
            sk->cmd = (uint8_t)x;
        } else if (strcmp(k, "atyp") == 0 && sk->version == 5) {
            if (strcmp(val, "ipv4") == 0)
                sk->atyp = 1;
            else if (strcmp(val, "domain") == 0)
                sk->atyp = 3;
            else if (strcmp(val, "bad") == 0)
                sk->atyp = CHECK_ATYP_BAD;
            else
                r = PTK_EINVAL;
        } else if (strcmp(k, "methods") == 0 && sk->version == 5) {
            r = parse_methods(val, sk);
        } else if (strcmp(k, "target") == 0) {
            if (strcmp(val, "closed") == 0)
                sk->target_closed = true;
            else if (strcmp(val, "peer") != 0)
                r = PTK_EINVAL;
        } else if (strcmp(k, "proxy") == 0) {
            if (strcmp(val, "used") != 0)
                r = PTK_EINVAL;
            sk->via_proxy = true;
        } else {
            return fail(p, "socks %s: unknown option \"%s\"", w[0], k);
        }
        if (r != PTK_OK)
            return fail(p, "socks: bad value \"%s\" for %s", val, k);
    }
    if (sk->version == 4 && (sk->expect == CHECK_SX_METHOD || sk->expect == CHECK_SX_AUTH))
        return fail(p, "socks 4: expect=method and expect=auth are SOCKS5 only");
    if (sk->via_proxy && sk->expect != CHECK_SX_SUCCESS && sk->expect != CHECK_SX_ECHO)
        return fail(p, "socks: proxy=used needs expect=success or expect=echo");
    return PTK_OK;
}

static int parse_connect(struct parser *p, char *v, struct check_step *st)
{
    static const char *const names[] = {"auth", "useraddr", "transport", "wait-okay", "echo", NULL};
    char *w[2];
    size_t n = words(v, w, 1);
    if (n != 1 || strncmp(w[0], "expect=", 7) != 0 ||
        pick(w[0] + 7, names, &st->connect_expect) != PTK_OK)
        return fail(p, "connect: give expect=auth|useraddr|transport|wait-okay|echo");
    return PTK_OK;
}

static int set_text(struct parser *p, char **dst, unsigned flag, const char *kw, const char *v)
{
    int r;
    if (p->seen & flag)
        return fail(p, "\"%s\" given twice in one case", kw);
    if (!*v)
        return fail(p, "\"%s\" needs a value", kw);
    p->seen |= flag;
    *dst = dup_value(p, v, &r);
    return r;
}

/* A step keyword with its value. Returns 1 if kw was not a step keyword. */
static int step_line(struct parser *p, const char *kw, char *v)
{
    static const struct {
        const char *kw;
        enum check_step_kind kind;
        char arg; /* 'n' none, 'g' glob, 's' seconds, 't' text, 'o' optional text, 'x' special */
    } steps[] = {
        {"configure", CHECK_STEP_CONFIGURE, 'n'},
        {"expect", CHECK_STEP_EXPECT, 'g'},
        {"when", CHECK_STEP_WHEN, 'g'},
        {"exits", CHECK_STEP_EXITS, 's'},
        {"keeps-running", CHECK_STEP_RUNS, 's'},
        {"idle", CHECK_STEP_IDLE, 's'},
        {"close-stdin", CHECK_STEP_CLOSE_STDIN, 'n'},
        {"signal", CHECK_STEP_SIGNAL, 'x'},
        {"socks", CHECK_STEP_SOCKS, 'x'},
        {"connect", CHECK_STEP_CONNECT, 'x'},
        {"listening", CHECK_STEP_LISTENING, 'o'},
        {"exists", CHECK_STEP_EXISTS, 't'},
        {"lines-valid", CHECK_STEP_LINES_VALID, 'n'},
    };
    size_t i = 0;
    while (i < sizeof(steps) / sizeof(steps[0]) && strcmp(steps[i].kw, kw) != 0)
        i++;
    if (i == sizeof(steps) / sizeof(steps[0]))
        return 1;
    char arg = steps[i].arg;
    if (arg == 'n' && *v)
        return fail(p, "\"%s\" takes no value", kw);
    if ((arg == 'g' || arg == 's' || arg == 't' || arg == 'x') && !*v)
        return fail(p, "\"%s\" needs a value", kw);
    int r;
    struct check_step *st = new_step(p, steps[i].kind, &r);
    if (!st)
        return r;
    switch (arg) {
    case 'g':
    case 't':
    case 'o':
        if (!*v)
            return PTK_OK;
        if ((r = check_placeholders_in(p, v)) != PTK_OK)
            return r;
        st->text = dup_value(p, v, &r);
        return r;
    case 's':
        return parse_seconds(p, v, CHECK_TIMEOUT_MAX_MS, &st->ms);
    case 'n':
        return PTK_OK;
    default:
        break;
    }
    if (st->kind == CHECK_STEP_SIGNAL) {
        static const char *const names[] = {"TERM", "INT", "HUP", NULL};
        static const int nums[] = {SIGTERM, SIGINT, SIGHUP};
        int x;
        if (pick(v, names, &x) != PTK_OK)
            return fail(p, "signal: TERM, INT or HUP");
        st->signo = nums[x];
        return PTK_OK;
    }
    if (st->kind == CHECK_STEP_SOCKS)
        return parse_socks(p, v, st);
    return parse_connect(p, v, st);
}

static int header_line(struct parser *p, const char *kw, char *v)
{
    struct check_case *c = p->c;
    int r, x;
    if (strcmp(kw, "title") == 0)
        return set_text(p, &c->title, SEEN_TITLE, kw, v);
    if (strcmp(kw, "section") == 0)
        return set_text(p, &c->section, SEEN_SECTION, kw, v);
    if (strcmp(kw, "about") == 0) {
        if (!*v)
            return fail(p, "\"about\" needs a value");
        size_t old = c->about ? strlen(c->about) : 0, add = strlen(v);
        if (old + add > 4096)
            return fail(p, "\"about\" text too long (at most 4096 bytes)");
        char *n = realloc(c->about, old + add + 2);
        if (!n)
            return PTK_ENOMEM;
        if (old)
            n[old++] = ' ';
        memcpy(n + old, v, add + 1);
        c->about = n;
        return PTK_OK;
    }
    if (strcmp(kw, "level") == 0 || strcmp(kw, "role") == 0) {
        static const char *const levels[] = {"MUST", "SHOULD", "MAY", NULL};
        static const char *const roles[] = {"any", "client", "server", NULL};
        bool lvl = kw[0] == 'l';
        unsigned flag = lvl ? SEEN_LEVEL : SEEN_ROLE;
        if (p->seen & flag)
            return fail(p, "\"%s\" given twice in one case", kw);
        if (pick(v, lvl ? levels : roles, &x) != PTK_OK)
            return fail(p, lvl ? "level: MUST, SHOULD or MAY" : "role: client, server or any");
        p->seen |= flag;
        if (lvl)
            c->level = (enum check_level)x;
        else
            c->role = (enum check_role)x;
        return PTK_OK;
    }
    if (strcmp(kw, "timeout") == 0) {
        if (p->seen & SEEN_TIMEOUT)
            return fail(p, "\"timeout\" given twice in one case");
        p->seen |= SEEN_TIMEOUT;
        return parse_seconds(p, v, CHECK_TIMEOUT_MAX_MS, &c->timeout_ms);
    }
    if (strcmp(kw, "needs") == 0) {
        char *w[4];
        size_t n = words(v, w, 3);
        if (p->seen & SEEN_NEEDS)
            return fail(p, "\"needs\" given twice in one case");
        p->seen |= SEEN_NEEDS;
        if (n == 0 || n > 3)
            return fail(p, "needs: data and/or socks4");
        for (size_t i = 0; i < n; i++) {
            if (strcmp(w[i], "data") == 0)
                c->needs |= CHECK_NEEDS_DATA;
            else if (strcmp(w[i], "socks4") == 0)
                c->needs |= CHECK_NEEDS_SOCKS4;
            else
                return fail(p, "needs: unknown \"%s\" (data, socks4)", w[i]);
        }
        return PTK_OK;
    }
    if (strcmp(kw, "transports") == 0) {
        if ((r = check_placeholders_in(p, v)) != PTK_OK)
            return r;
        for (const char *s = v; *s; s++)
            if (*s == ' ' || *s == '\t')
                return fail(p, "transports: a comma-separated list without spaces");
        return set_text(p, &c->transports, SEEN_TRANSPORTS, kw, v);
    }
    if (strcmp(kw, "env") == 0 || strcmp(kw, "unset") == 0) {
        bool set = kw[0] == 'e';
        char *eq = set ? strchr(v, '=') : NULL;
        if (set && !eq)
            return fail(p, "env: NAME=VALUE");
        if (eq)
            *eq = '\0';
        if (!is_env_name(v))
            return fail(p, "%s: \"%s\" is not a variable name (A-Z, 0-9, _)", kw, v);
        for (size_t i = 0; i < c->n_env; i++)
            if (strcmp(c->env[i].name, v) == 0)
                return fail(p, "%s: %s is already set or unset in this case", kw, v);
        if (c->n_env >= CHECK_MAX_ENV)
            return fail(p, "too many env/unset lines in one case (at most %d)", CHECK_MAX_ENV);
        if (eq && (r = check_placeholders_in(p, eq + 1)) != PTK_OK)
            return r;
        struct check_env_op *op = &c->env[c->n_env];
        op->name = dup_value(p, v, &r);
        if (r == PTK_OK && eq && !(op->value = strdup(eq + 1))) {
            free(op->name);
            op->name = NULL;
            r = PTK_ENOMEM;
        }
        if (r == PTK_OK)
            c->n_env++;
        return r;
    }
    if (strcmp(kw, "reject") == 0) {
        if (!*v)
            return fail(p, "\"reject\" needs a value");
        if (c->n_rejects >= CHECK_MAX_REJECTS)
            return fail(p, "too many reject lines in one case (at most %d)", CHECK_MAX_REJECTS);
        if ((r = check_placeholders_in(p, v)) != PTK_OK)
            return r;
        c->rejects[c->n_rejects] = dup_value(p, v, &r);
        if (r == PTK_OK)
            c->n_rejects++;
        return r;
    }
    r = step_line(p, kw, v);
    if (r == 1)
        return fail(p, "unknown keyword \"%s\"", kw);
    return r;
}

/* One line: NUL-free, without its newline. */
static int one_line(struct parser *p, char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || *s == '#')
        return PTK_OK;
    char *kw = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s)
        *s++ = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    for (const char *k = kw; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || *k == '-'))
            return fail(p, "\"%.40s\" is not a keyword", kw);
    if (strcmp(kw, "case") == 0) {
        int r = finish_case(p);
        return r == PTK_OK ? start_case(p, s) : r;
    }
    if (!p->c)
        return fail(p, "\"%s\" outside a case (start one with \"case ID\")", kw);
    return header_line(p, kw, s);
}

int check_suite_parse(struct check_suite *s, const char *file, const char *text, size_t len,
                      char *err, size_t errlen)
{
    struct parser p = {.file = file, .existing = s, .err = err, .errlen = errlen};
    char line[CHECK_LINE_MAX + 1];
    int r = PTK_OK;
    size_t pos = 0;
    if (errlen)
        err[0] = '\0';
    while (pos < len && r == PTK_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        p.lineno++;
        if (n > CHECK_LINE_MAX) {
            r = fail(&p, "line longer than %d bytes", CHECK_LINE_MAX);
            break;
        }
        if (memchr(text + pos, '\0', n)) {
            r = fail(&p, "NUL byte in the line");
            break;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        r = one_line(&p, line);
        pos += n + (nl != NULL);
    }
    if (r == PTK_OK)
        r = finish_case(&p);
    if (r == PTK_OK && p.fresh.n == 0) {
        p.lineno = 0;
        r = fail(&p, "no cases in the file");
    }
    if (r == PTK_OK && s->n + p.fresh.n > s->cap) {
        size_t cap = s->n + p.fresh.n;
        struct check_case *nc = realloc(s->cases, cap * sizeof(*nc));
        if (nc) {
            s->cases = nc;
            s->cap = cap;
        } else {
            r = PTK_ENOMEM;
        }
    }
    if (r != PTK_OK) {
        if (r == PTK_ENOMEM && errlen)
            snprintf(err, errlen, "%s: out of memory", file);
        check_suite_free(&p.fresh);
        return r;
    }
    memcpy(s->cases + s->n, p.fresh.cases, p.fresh.n * sizeof(*s->cases));
    s->n += p.fresh.n;
    free(p.fresh.cases);
    return PTK_OK;
}
