/* torrc subset tokenizer (see proto/torrc.h). */
#include "proto/torrc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"
#include "util/str.h"

static int add_arg(struct ptk_torrc_line *l, const char *s, size_t n)
{
    char **na = realloc(l->args, (l->nargs + 1) * sizeof(*na));
    if (!na)
        return PTK_ENOMEM;
    l->args = na;
    if (!(l->args[l->nargs] = ptk_strndup(s, n)))
        return PTK_ENOMEM;
    l->nargs++;
    return PTK_OK;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Tokenize one logical line (continuations already joined). */
static int tokenize(const char *s, size_t n, unsigned lineno, struct ptk_torrc *out, char *err,
                    size_t errlen)
{
    struct ptk_torrc_line l = {NULL, NULL, 0, lineno};
    struct ptk_buf q;
    size_t i = 0;
    int r = PTK_OK;
    ptk_buf_init(&q, n + 1);
    while (i < n) {
        while (i < n && is_ws(s[i]))
            i++;
        if (i >= n || s[i] == '#')
            break;
        if (s[i] == '"') {
            size_t used = 0;
            ptk_buf_reset(&q);
            if (ptk_cunquote(s + i, n - i, &q, &used) != PTK_OK) {
                snprintf(err, errlen, "line %u: bad quoted string", lineno);
                r = PTK_EINVAL;
                goto out;
            }
            if ((r = add_arg(&l, ptk_buf_len(&q) ? (const char *)ptk_buf_data(&q) : "",
                             ptk_buf_len(&q))) != PTK_OK)
                goto out;
            i += used;
            if (i < n && !is_ws(s[i]) && s[i] != '#') {
                snprintf(err, errlen, "line %u: text right after a closing quote", lineno);
                r = PTK_EINVAL;
                goto out;
            }
            continue;
        }
        size_t st = i;
        while (i < n && !is_ws(s[i]) && s[i] != '#')
            i++;
        if ((r = add_arg(&l, s + st, i - st)) != PTK_OK)
            goto out;
    }
    if (l.nargs == 0)
        goto out; /* blank or comment */
    struct ptk_torrc_line *nl = realloc(out->lines, (out->n + 1) * sizeof(*nl));
    if (!nl) {
        r = PTK_ENOMEM;
        goto out;
    }
    out->lines = nl;
    /* the first token is the keyword */
    l.key = l.args[0];
    memmove(l.args, l.args + 1, (l.nargs - 1) * sizeof(*l.args));
    l.nargs--;
    out->lines[out->n++] = l;
    l.args = NULL;
    l.key = NULL;
    l.nargs = 0;
out:
    for (size_t k = 0; k < l.nargs; k++)
        free(l.args[k]);
    free(l.args);
    ptk_buf_free(&q);
    if (r == PTK_ENOMEM)
        snprintf(err, errlen, "out of memory");
    return r;
}

/*
 * Where a comment starts in one physical line s[0..n): the first '#' outside
 * a double-quoted argument (n if none). *inq and *tokstart carry the quote
 * state across the lines of a continued option.
 */
static size_t find_comment(const char *s, size_t n, bool *inq, bool *tokstart)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (*inq) {
            if (c == '\\')
                i++; /* the escaped character */
            else if (c == '"')
                *inq = false;
            *tokstart = false;
            continue;
        }
        if (c == '#')
            return i;
        if (c == '"' && *tokstart)
            *inq = true;
        *tokstart = is_ws(c);
    }
    return n;
}

/*
 * Continuation lines as tor joins them (confline.c): a backslash right before
 * the newline is removed together with it (nothing is inserted), a backslash
 * inside a comment continues nothing, and once an option is continued a
 * comment line (or a trailing comment) is skipped and the option goes on.
 */
int ptk_torrc_parse(const char *text, size_t len, struct ptk_torrc *out, char *err, size_t errlen)
{
    struct ptk_buf logical;
    unsigned lineno = 1, start_line = 1;
    size_t i = 0;
    int r = PTK_OK;
    bool cont = false, inq = false, tokstart = true;
    out->lines = NULL;
    out->n = 0;
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        unsigned at = 1;
        for (const char *p = text; p < nul; p++)
            at += *p == '\n';
        snprintf(err, errlen, "line %u: NUL byte in the file", at);
        return PTK_EINVAL;
    }
    ptk_buf_init(&logical, len + 1);
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t l = end - i;
        const char *s = text + i;
        if (!cont) {
            start_line = lineno;
            inq = false;
            tokstart = true;
        }
        size_t scan = l > 0 && s[l - 1] == '\\' ? l - 1 : l;
        size_t cs = find_comment(s, scan, &inq, &tokstart);
        bool more;
        if (cs < scan) {
            more = cont;
            r = ptk_buf_put(&logical, s, cs);
        } else {
            more = scan < l;
            r = ptk_buf_put(&logical, s, scan);
        }
        if (r != PTK_OK)
            break;
        cont = more && nl;
        if (!cont) {
            r = tokenize((const char *)ptk_buf_data(&logical), ptk_buf_len(&logical), start_line,
                         out, err, errlen);
            ptk_buf_reset(&logical);
            if (r != PTK_OK)
                break;
        }
        i = nl ? end + 1 : len;
        lineno++;
    }
    if (r == PTK_OK && cont) /* the file ends right after a continuation */
        r = tokenize((const char *)ptk_buf_data(&logical), ptk_buf_len(&logical), start_line, out,
                     err, errlen);
    ptk_buf_free(&logical);
    return r;
}

void ptk_torrc_free(struct ptk_torrc *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->lines[i].key);
        for (size_t k = 0; k < t->lines[i].nargs; k++)
            free(t->lines[i].args[k]);
        free(t->lines[i].args);
    }
    free(t->lines);
    t->lines = NULL;
    t->n = 0;
}

char *ptk_torrc_join(const struct ptk_torrc_line *l, size_t from)
{
    struct ptk_buf b;
    const char *s;
    ptk_buf_init(&b, 65536);
    for (size_t i = from; i < l->nargs; i++)
        if ((i > from && ptk_buf_put_u8(&b, ' ') != PTK_OK) ||
            ptk_buf_put_str(&b, l->args[i]) != PTK_OK)
            break;
    char *r = ptk_buf_cstr(&b, &s) == PTK_OK ? strdup(s) : NULL;
    ptk_buf_free(&b);
    return r;
}
