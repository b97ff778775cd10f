/*
 * The managed-proxy stdout protocol: line emitters and the line parser
 * (see ptkit/msg.h). The parser mirrors tor's handle_proxy_line(): keywords
 * are matched by prefix in tor's order (so "CMETHOD-ERROR" wins over
 * "CMETHOD"), method lines are split on spaces, LOG and STATUS are kvlines
 * with C-quoted values.
 */
#include "ptkit/msg.h"

#include <stdlib.h>
#include <string.h>

#include "ptkit/args.h"
#include "ptkit/error.h"
#include "util/addr.h"
#include "util/str.h"

/* On failure, drop what the emitter appended: a line is written whole or not at all. */
static int finish(struct ptk_buf *out, size_t mark, int r)
{
    if (r != PTK_OK && out->len > mark)
        out->len = mark;
    return r;
}

/* Append text with control bytes replaced, so it cannot break the line. */
static int put_clean(struct ptk_buf *out, const char *s)
{
    int r = PTK_OK;
    while (*s && r == PTK_OK) {
        size_t run = 0;
        while (s[run] && (unsigned char)s[run] >= 0x20 && s[run] != 0x7f)
            run++;
        r = ptk_buf_put(out, s, run);
        s += run;
        if (*s && r == PTK_OK) {
            r = ptk_buf_put_u8(out, '?');
            s++;
        }
    }
    return r;
}

static int line2(struct ptk_buf *out, const char *kw, const char *a, const char *text)
{
    size_t mark = out->len;
    int r;
    if ((r = ptk_buf_put_str(out, kw)) != PTK_OK)
        return finish(out, mark, r);
    if (a && ((r = ptk_buf_put_u8(out, ' ')) != PTK_OK || (r = put_clean(out, a)) != PTK_OK))
        return finish(out, mark, r);
    if (text && ((r = ptk_buf_put_u8(out, ' ')) != PTK_OK || (r = put_clean(out, text)) != PTK_OK))
        return finish(out, mark, r);
    return finish(out, mark, ptk_buf_put_u8(out, '\n'));
}

int ptk_msg_version(struct ptk_buf *out)
{
    return ptk_buf_put_str(out, "VERSION 1\n");
}

int ptk_msg_version_error(struct ptk_buf *out)
{
    return ptk_buf_put_str(out, "VERSION-ERROR no-version\n");
}

int ptk_msg_env_error(struct ptk_buf *out, const char *msg)
{
    return line2(out, "ENV-ERROR", NULL, msg);
}

int ptk_msg_cmethod(struct ptk_buf *out, const char *transport, const char *socks,
                    const struct sockaddr *addr)
{
    char a[PTK_ADDRSTRLEN];
    /* tor rejects anything else; a space or newline here would forge a line. */
    if (!ptk_is_c_identifier(transport, strlen(transport)) ||
        (strcmp(socks, "socks4") != 0 && strcmp(socks, "socks5") != 0))
        return PTK_EINVAL;
    int r = ptk_addr_format(addr, a, sizeof(a));
    if (r != PTK_OK)
        return r;
    return ptk_buf_printf(out, "CMETHOD %s %s %s\n", transport, socks, a);
}

int ptk_msg_cmethod_error(struct ptk_buf *out, const char *transport, const char *msg)
{
    return line2(out, "CMETHOD-ERROR", transport, msg);
}

int ptk_msg_cmethods_done(struct ptk_buf *out)
{
    return ptk_buf_put_str(out, "CMETHODS DONE\n");
}

int ptk_msg_smethod(struct ptk_buf *out, const char *transport, const struct sockaddr *addr,
                    const struct ptk_kvlist *args)
{
    char a[PTK_ADDRSTRLEN];
    size_t mark = out->len;
    if (!ptk_is_c_identifier(transport, strlen(transport)))
        return PTK_EINVAL;
    int r = ptk_addr_format(addr, a, sizeof(a));
    if (r != PTK_OK)
        return r;
    if ((r = ptk_buf_printf(out, "SMETHOD %s %s", transport, a)) != PTK_OK)
        return r;
    if (args && args->n) {
        /* tor splits the line on spaces: an ARGS value cannot hold one, nor a control byte. */
        struct ptk_buf enc;
        ptk_buf_init(&enc, 16384);
        r = ptk_smethod_args_encode(args, &enc);
        for (size_t i = 0; r == PTK_OK && i < ptk_buf_len(&enc); i++)
            if (ptk_buf_data(&enc)[i] <= 0x20 || ptk_buf_data(&enc)[i] == 0x7f)
                r = PTK_EINVAL;
        if (r == PTK_OK)
            r = ptk_buf_put_str(out, " ARGS:");
        if (r == PTK_OK)
            r = ptk_buf_put(out, ptk_buf_data(&enc), ptk_buf_len(&enc));
        ptk_buf_free(&enc);
        if (r != PTK_OK)
            return finish(out, mark, r);
    }
    return finish(out, mark, ptk_buf_put_u8(out, '\n'));
}

int ptk_msg_smethod_error(struct ptk_buf *out, const char *transport, const char *msg)
{
    return line2(out, "SMETHOD-ERROR", transport, msg);
}

int ptk_msg_smethods_done(struct ptk_buf *out)
{
    return ptk_buf_put_str(out, "SMETHODS DONE\n");
}

int ptk_msg_proxy_done(struct ptk_buf *out)
{
    return ptk_buf_put_str(out, "PROXY DONE\n");
}

int ptk_msg_proxy_error(struct ptk_buf *out, const char *msg)
{
    return line2(out, "PROXY-ERROR", NULL, msg);
}

int ptk_cquote(struct ptk_buf *out, const char *s)
{
    size_t mark = out->len;
    int r = ptk_buf_put_u8(out, '"');
    while (*s && r == PTK_OK) {
        size_t run = 0;
        unsigned char c;
        while ((c = (unsigned char)s[run]) >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            run++;
        r = ptk_buf_put(out, s, run);
        s += run;
        if (*s && r == PTK_OK) {
            c = (unsigned char)*s++;
            char esc[5] = {'\\', (char)('0' + (c >> 6)), (char)('0' + ((c >> 3) & 7)),
                           (char)('0' + (c & 7)), 0};
            r = ptk_buf_put(out, esc, 4);
        }
    }
    if (r == PTK_OK)
        r = ptk_buf_put_u8(out, '"');
    return finish(out, mark, r);
}

static int is_odigit(char c)
{
    return c >= '0' && c <= '7';
}

static int hexdig(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ptk_cunquote(const char *s, size_t n, struct ptk_buf *out, size_t *used)
{
    size_t i = 1;
    int r;
    if (n == 0 || s[0] != '"')
        return PTK_EINVAL;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] != '"' && s[run] != '\\' && s[run] != '\n' && s[run] != '\0')
            run++;
        if ((r = ptk_buf_put(out, s + i, run - i)) != PTK_OK)
            return r;
        i = run;
        if (i >= n || s[i] == '\n' || s[i] == '\0')
            return PTK_EINVAL;
        if (s[i] == '"') {
            *used = i + 1;
            return PTK_OK;
        }
        /* backslash */
        if (i + 1 >= n)
            return PTK_EINVAL;
        char e = s[i + 1];
        int v;
        if (e == 'n' || e == 'r' || e == 't') {
            v = e == 'n' ? '\n' : e == 'r' ? '\r' : '\t';
            i += 2;
        } else if (e == '"' || e == '\\' || e == '\'') {
            v = e;
            i += 2;
        } else if (e == 'x' || e == 'X') {
            int h1 = i + 2 < n ? hexdig(s[i + 2]) : -1, h2 = i + 3 < n ? hexdig(s[i + 3]) : -1;
            if (h1 < 0 || h2 < 0)
                return PTK_EINVAL;
            v = h1 << 4 | h2;
            i += 4;
        } else if (is_odigit(e)) {
            v = e - '0';
            i += 2;
            for (int k = 0; k < 2 && i < n && is_odigit(s[i]); k++, i++)
                v = v * 8 + (s[i] - '0');
            if (v > 255)
                return PTK_EINVAL;
        } else {
            return PTK_EINVAL;
        }
        if (v == 0)
            return PTK_EINVAL; /* tor rejects decoded NULs */
        if ((r = ptk_buf_put_u8(out, (uint8_t)v)) != PTK_OK)
            return r;
    }
    return PTK_EINVAL;
}

int ptk_msg_log(struct ptk_buf *out, enum ptk_log_level level, const char *msg)
{
    size_t mark = out->len;
    int r = ptk_buf_printf(out, "LOG SEVERITY=%s MESSAGE=", ptk_log_level_name(level));
    if (r == PTK_OK)
        r = ptk_cquote(out, msg);
    if (r == PTK_OK)
        r = ptk_buf_put_u8(out, '\n');
    return finish(out, mark, r);
}

/* A value can go bare if it has no space, quote, backslash, or control byte. */
static bool bare_ok(const char *v)
{
    if (!*v)
        return false;
    for (; *v; v++)
        if ((unsigned char)*v <= 0x20 || *v == '"' || *v == '\\' || *v == 0x7f)
            return false;
    return true;
}

/* A kvline key as tor accepts it: printable ASCII, no space, '=', '"' or '\''. */
static bool key_ok(const char *k, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c <= 0x20 || c >= 0x7f || c == '=' || c == '"' || c == '\'')
            return false;
    }
    return true;
}

static int put_kv(struct ptk_buf *out, const char *k, const char *v)
{
    int r = ptk_buf_put_u8(out, ' ');
    if (r == PTK_OK)
        r = ptk_buf_put_str(out, k);
    if (r == PTK_OK)
        r = ptk_buf_put_u8(out, '=');
    if (r == PTK_OK)
        r = bare_ok(v) ? ptk_buf_put_str(out, v) : ptk_cquote(out, v);
    return r;
}

int ptk_msg_status(struct ptk_buf *out, const char *transport, const struct ptk_kvlist *kv)
{
    size_t mark = out->len;
    for (size_t i = 0; kv && i < kv->n; i++)
        if (!key_ok(kv->items[i].key, strlen(kv->items[i].key)))
            return PTK_EINVAL;
    int r = ptk_buf_put_str(out, "STATUS");
    if (r == PTK_OK && transport)
        r = put_kv(out, "TRANSPORT", transport);
    for (size_t i = 0; kv && i < kv->n && r == PTK_OK; i++)
        r = put_kv(out, kv->items[i].key, kv->items[i].value);
    if (r == PTK_OK)
        r = ptk_buf_put_u8(out, '\n');
    return finish(out, mark, r);
}

/* ---- parsing ---- */

static bool has_prefix(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s, p, pl) == 0;
}

/* The text after "KEYWORD " (may be empty). */
static int take_text(struct ptk_msg *m, const char *s, size_t n, size_t kwlen)
{
    size_t off = kwlen < n ? kwlen + 1 : n;
    if (!(m->text = ptk_strndup(s + off, n - off)))
        return PTK_ENOMEM;
    return PTK_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\n';
}

/* isspace() in the C locale, as tor's TOR_ISSPACE. */
static bool is_cspace(char c)
{
    return is_space(c) || c == '\f';
}

/*
 * Split into at most max tokens as tor's smartlist_split_string(NULL,
 * SPLIT_SKIP_SPACE | SPLIT_IGNORE_BLANK): fields end at ' ' or '\t', other
 * whitespace is trimmed from both ends of a field, empty fields are dropped.
 */
static size_t tokens(const char *s, size_t n, const char **tok, size_t *tlen, size_t max)
{
    size_t k = 0, i = 0;
    while (i < n && k < max) {
        while (i < n && is_cspace(s[i]))
            i++;
        size_t st = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        size_t e = i;
        while (e > st && is_cspace(s[e - 1]))
            e--;
        if (e > st) {
            tok[k] = s + st;
            tlen[k] = e - st;
            k++;
        }
    }
    return k;
}

static int parse_method(const char *s, size_t n, bool smethod, struct ptk_msg *m,
                        const char **why)
{
    const char *tok[8];
    size_t tl[8];
    size_t k = tokens(s, n, tok, tl, 8);
    size_t need = smethod ? 3 : 4, i = 1;
    if (k < need) {
        *why = "too few arguments";
        return PTK_EPROTO;
    }
    if (tl[0] != 7 || memcmp(tok[0], smethod ? "SMETHOD" : "CMETHOD", 7) != 0) {
        *why = "keyword run together with other text (tor 0.4.9 asserts on this)";
        return PTK_EPROTO;
    }
    if (!ptk_is_c_identifier(tok[i], tl[i]) || tl[i] >= sizeof(m->transport)) {
        *why = "transport name is not a C identifier";
        return PTK_EPROTO;
    }
    memcpy(m->transport, tok[i], tl[i]);
    m->transport[tl[i]] = '\0';
    i++;
    if (!smethod) {
        if (tl[i] == 6 && memcmp(tok[i], "socks4", 6) == 0)
            m->socks_version = 4;
        else if (tl[i] == 6 && memcmp(tok[i], "socks5", 6) == 0)
            m->socks_version = 5;
        else {
            *why = "unknown proxy protocol (want socks4 or socks5)";
            return PTK_EPROTO;
        }
        i++;
    }
    struct ptk_addr a;
    const char *awhy = NULL;
    if (ptk_addr_parse(tok[i], tl[i], 0, &a, &awhy) != PTK_OK) {
        *why = awhy && strcmp(awhy, "bad port") == 0 ? "bad or zero port"
                                                     : "address is not a literal IP:port";
        return PTK_EPROTO;
    }
    m->addr = a.ss;
    m->addrlen = a.len;
    i++;
    if (smethod && k > i && has_prefix(tok[i], tl[i], "ARGS:")) {
        const char *av = tok[i] + 5;
        size_t al = tl[i] - 5;
        if (!(m->raw_args = ptk_strndup(av, al)))
            return PTK_ENOMEM;
        const char *awhy2 = NULL;
        int r = ptk_smethod_args_parse(av, al, &m->kv, &awhy2);
        if (r == PTK_ENOMEM)
            return r;
        /* tor stores ARGS raw and does not validate them; neither do we fail. */
        if (r != PTK_OK)
            ptk_kvlist_free(&m->kv);
    }
    return PTK_OK;
}

/* kvline with C-quoted values, as tor's kvline_parse(KV_QUOTED). */
static int parse_kvline(const char *s, size_t n, struct ptk_kvlist *kv, const char **why)
{
    struct ptk_buf v;
    size_t i = 0;
    int r = PTK_OK;
    ptk_buf_init(&v, n + 1);
    while (i < n) {
        while (i < n && is_space(s[i]))
            i++;
        if (i >= n)
            break;
        size_t ks = i;
        while (i < n && !is_space(s[i]) && s[i] != '=')
            i++;
        if (i >= n || s[i] != '=' || i == ks || s[ks] == '"') {
            *why = "a field is not KEY=VALUE";
            r = PTK_EPROTO;
            goto out;
        }
        size_t klen = i - ks;
        if (!key_ok(s + ks, klen)) {
            *why = "a key has a character tor rejects";
            r = PTK_EPROTO;
            goto out;
        }
        i++;
        ptk_buf_reset(&v);
        if (i < n && s[i] == '"') {
            size_t used;
            if ((r = ptk_cunquote(s + i, n - i, &v, &used)) != PTK_OK) {
                if (r != PTK_ENOMEM) {
                    *why = "badly quoted value";
                    r = PTK_EPROTO;
                }
                goto out;
            }
            i += used;
        } else {
            size_t vs = i;
            while (i < n && !is_space(s[i]))
                i++;
            if ((r = ptk_buf_put(&v, s + vs, i - vs)) != PTK_OK)
                goto out;
        }
        r = ptk_kvlist_add(kv, s + ks, klen, ptk_buf_len(&v) ? (const char *)ptk_buf_data(&v) : "",
                           ptk_buf_len(&v));
        if (r != PTK_OK) {
            if (r == PTK_EINVAL) {
                *why = "NUL byte in a field";
                r = PTK_EPROTO;
            }
            goto out;
        }
    }
    if (kv->n == 0) {
        *why = "no KEY=VALUE fields"; /* tor's kvline_parse returns NULL */
        r = PTK_EPROTO;
    }
out:
    ptk_buf_free(&v);
    return r;
}

int ptk_msg_parse(const char *line, size_t len, struct ptk_msg *m, const char **why)
{
    const char *dummy;
    memset(m, 0, sizeof(*m));
    if (!why)
        why = &dummy;
    *why = "";
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (memchr(line, '\0', len)) {
        *why = "NUL byte in line";
        return PTK_EPROTO;
    }
#define KW(s) has_prefix(line, len, s)
    if (KW("ENV-ERROR")) {
        m->type = PTK_MSG_ENV_ERROR;
        return take_text(m, line, len, 9);
    }
    if (KW("VERSION-ERROR")) {
        m->type = PTK_MSG_VERSION_ERROR;
        return take_text(m, line, len, 13);
    }
    if (KW("VERSION")) {
        m->type = PTK_MSG_VERSION;
        if (len < 9 || line[7] != ' ') {
            *why = "malformed VERSION line";
            return PTK_EPROTO;
        }
        if (len - 8 >= sizeof(m->version)) {
            *why = "VERSION too long";
            return PTK_EPROTO;
        }
        memcpy(m->version, line + 8, len - 8);
        return PTK_OK;
    }
    if (KW("CMETHODS DONE")) {
        m->type = PTK_MSG_CMETHODS_DONE;
        return PTK_OK;
    }
    if (KW("SMETHODS DONE")) {
        m->type = PTK_MSG_SMETHODS_DONE;
        return PTK_OK;
    }
    bool cerr = KW("CMETHOD-ERROR"), serr = !cerr && KW("SMETHOD-ERROR");
    if (cerr || serr) {
        m->type = cerr ? PTK_MSG_CMETHOD_ERROR : PTK_MSG_SMETHOD_ERROR;
        int r = take_text(m, line, len, 13);
        if (r != PTK_OK)
            return r;
        /* "NAME message": split the name off when it is one. */
        size_t nl = strcspn(m->text, " ");
        if (nl < sizeof(m->transport) && ptk_is_c_identifier(m->text, nl)) {
            memcpy(m->transport, m->text, nl);
            m->transport[nl] = '\0';
            memmove(m->text, m->text + nl + (m->text[nl] == ' '), strlen(m->text + nl) + 1 -
                                                                     (m->text[nl] == ' '));
        }
        return PTK_OK;
    }
    if (KW("CMETHOD")) {
        m->type = PTK_MSG_CMETHOD;
        return parse_method(line, len, false, m, why);
    }
    if (KW("SMETHOD")) {
        m->type = PTK_MSG_SMETHOD;
        return parse_method(line, len, true, m, why);
    }
    if (KW("PROXY DONE")) {
        m->type = PTK_MSG_PROXY_DONE;
        return PTK_OK;
    }
    if (KW("PROXY-ERROR")) {
        m->type = PTK_MSG_PROXY_ERROR;
        return take_text(m, line, len, 11);
    }
    bool log = KW("LOG "), status = !log && KW("STATUS ");
#undef KW
    if (log || status) {
        m->type = log ? PTK_MSG_LOG : PTK_MSG_STATUS;
        size_t off = log ? 4 : 7;
        int r = parse_kvline(line + off, len - off, &m->kv, why);
        if (r != PTK_OK)
            return r;
        if (status) {
            const char *t = ptk_kvlist_get(&m->kv, "TRANSPORT");
            if (t)
                ptk_strlcpy(m->transport, t, sizeof(m->transport));
            return PTK_OK;
        }
        const char *sev = ptk_kvlist_get(&m->kv, "SEVERITY");
        const char *msg = ptk_kvlist_get(&m->kv, "MESSAGE");
        if (!sev || !msg) {
            *why = sev ? "LOG without MESSAGE" : "LOG without SEVERITY";
            return PTK_EPROTO;
        }
        if (ptk_log_level_parse(sev, &m->severity) != PTK_OK || strcmp(sev, "warn") == 0) {
            *why = "LOG with an invalid SEVERITY";
            return PTK_EPROTO;
        }
        if (!(m->text = strdup(msg)))
            return PTK_ENOMEM;
        return PTK_OK;
    }
    m->type = PTK_MSG_UNKNOWN;
    return PTK_OK;
}

void ptk_msg_free(struct ptk_msg *m)
{
    free(m->text);
    free(m->raw_args);
    ptk_kvlist_free(&m->kv);
    m->text = m->raw_args = NULL;
}

const char *ptk_msg_type_name(enum ptk_msg_type t)
{
    static const char *const names[] = {
        "unknown",       "VERSION",       "VERSION-ERROR", "ENV-ERROR", "CMETHOD",
        "CMETHOD-ERROR", "CMETHODS DONE", "SMETHOD",       "SMETHOD-ERROR", "SMETHODS DONE",
        "PROXY DONE",    "PROXY-ERROR",   "LOG",           "STATUS",
    };
    if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[t];
}
