/*
 * k=v encodings of the PT protocol (see ptkit/args.h). One generic
 * unescaping scanner serves the three grammars; they differ only in their
 * separator sets.
 */
#include "ptkit/args.h"

#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/str.h"

/*
 * Scan s[*i..n) up to the first unescaped byte from `stops`, appending the
 * unescaped bytes to tok. On return *i indexes the stop byte (or n).
 */
static int scan(const char *s, size_t n, size_t *i, const char *stops, struct ptk_buf *tok,
                const char **why)
{
    size_t j = *i, nstops = strlen(stops);
    ptk_buf_reset(tok);
    while (j < n) {
        size_t run = j;
        /* memchr, not strchr: a NUL byte must not count as a separator. */
        while (run < n && s[run] != '\\' && !memchr(stops, s[run], nstops))
            run++;
        if (ptk_buf_put(tok, s + j, run - j) != PTK_OK)
            return PTK_ENOMEM;
        j = run;
        if (j >= n || s[j] != '\\')
            break;
        if (j + 1 >= n) {
            *why = "nothing follows the final escape";
            return PTK_EINVAL;
        }
        if (ptk_buf_put(tok, s + j + 1, 1) != PTK_OK)
            return PTK_ENOMEM;
        j += 2;
    }
    *i = j;
    return PTK_OK;
}

static int add_tok(struct ptk_kvlist *out, struct ptk_buf *k, struct ptk_buf *v, const char **why)
{
    int r = ptk_kvlist_add(out, (const char *)ptk_buf_data(k), ptk_buf_len(k),
                           v && ptk_buf_len(v) ? (const char *)ptk_buf_data(v) : "",
                           v ? ptk_buf_len(v) : 0);
    if (r == PTK_EINVAL)
        *why = "NUL byte in a key or value";
    return r;
}

/* Parse "k=v<sep>k=v..." into out. */
static int parse_pairs(const char *s, size_t n, char sep, struct ptk_kvlist *out, const char **why)
{
    char kstops[3] = {'=', sep, '\0'}, vstops[2] = {sep, '\0'};
    struct ptk_buf k, v;
    const char *dummy;
    size_t i = 0;
    int r = PTK_OK;
    if (!why)
        why = &dummy;
    if (n == 0)
        return PTK_OK;
    ptk_buf_init(&k, n + 1);
    ptk_buf_init(&v, n + 1);
    for (;;) {
        if ((r = scan(s, n, &i, kstops, &k, why)) != PTK_OK)
            goto out;
        if (i >= n || s[i] != '=') {
            *why = "missing '=' in an argument";
            r = PTK_EINVAL;
            goto out;
        }
        i++;
        if ((r = scan(s, n, &i, vstops, &v, why)) != PTK_OK)
            goto out;
        if (ptk_buf_len(&k) == 0) {
            *why = "empty key in an argument";
            r = PTK_EINVAL;
            goto out;
        }
        if ((r = add_tok(out, &k, &v, why)) != PTK_OK)
            goto out;
        if (i >= n)
            break;
        i++; /* the separator; a trailing one starts an empty pair, rejected above */
    }
out:
    ptk_buf_free(&k);
    ptk_buf_free(&v);
    return r;
}

int ptk_args_parse(const char *s, size_t n, struct ptk_kvlist *out, const char **why)
{
    return parse_pairs(s, n, ';', out, why);
}

int ptk_smethod_args_parse(const char *s, size_t n, struct ptk_kvlist *out, const char **why)
{
    return parse_pairs(s, n, ',', out, why);
}

static int put_escaped(struct ptk_buf *out, const char *s, const char *specials)
{
    int r = PTK_OK;
    while (*s && r == PTK_OK) {
        size_t run = strcspn(s, specials);
        if ((r = ptk_buf_put(out, s, run)) != PTK_OK)
            break;
        s += run;
        if (*s) {
            uint8_t esc[2] = {'\\', (uint8_t)*s};
            r = ptk_buf_put(out, esc, 2);
            s++;
        }
    }
    return r;
}

static int encode_pairs(const struct ptk_kvlist *l, const char *kspec, const char *vspec, char sep,
                        struct ptk_buf *out)
{
    int r = PTK_OK;
    for (size_t i = 0; i < l->n && r == PTK_OK; i++) {
        if (i > 0 && (r = ptk_buf_put_u8(out, (uint8_t)sep)) != PTK_OK)
            break;
        if ((r = put_escaped(out, l->items[i].key, kspec)) != PTK_OK)
            break;
        if ((r = ptk_buf_put_u8(out, '=')) != PTK_OK)
            break;
        r = put_escaped(out, l->items[i].value, vspec);
    }
    return r;
}

int ptk_args_encode(const struct ptk_kvlist *l, struct ptk_buf *out)
{
    return encode_pairs(l, "\\;=", "\\;", ';', out);
}

int ptk_smethod_args_encode(const struct ptk_kvlist *l, struct ptk_buf *out)
{
    return encode_pairs(l, "\\=,", "\\=,", ',', out);
}

static struct ptk_transport_options *options_for(struct ptk_options_list *l, const char *name,
                                                 size_t nlen)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->items[i].transport) == nlen && memcmp(l->items[i].transport, name, nlen) == 0)
            return &l->items[i];
    struct ptk_transport_options *ni = realloc(l->items, (l->n + 1) * sizeof(*ni));
    if (!ni)
        return NULL;
    l->items = ni;
    struct ptk_transport_options *t = &l->items[l->n];
    t->transport = ptk_strndup(name, nlen);
    if (!t->transport)
        return NULL;
    t->opts = (struct ptk_kvlist)PTK_KVLIST_INIT;
    l->n++;
    return t;
}

int ptk_server_options_parse(const char *s, size_t n, struct ptk_options_list *out,
                             const char **why)
{
    struct ptk_buf t, k, v;
    const char *dummy;
    size_t i = 0;
    int r = PTK_OK;
    if (!why)
        why = &dummy;
    if (n == 0)
        return PTK_OK;
    ptk_buf_init(&t, n + 1);
    ptk_buf_init(&k, n + 1);
    ptk_buf_init(&v, n + 1);
    for (;;) {
        if ((r = scan(s, n, &i, ":=;", &t, why)) != PTK_OK)
            goto out;
        if (i >= n || s[i] != ':') {
            *why = "missing ':' after the transport name";
            r = PTK_EINVAL;
            goto out;
        }
        i++;
        if ((r = scan(s, n, &i, "=;", &k, why)) != PTK_OK)
            goto out;
        if (i >= n || s[i] != '=') {
            *why = "missing '=' in an option";
            r = PTK_EINVAL;
            goto out;
        }
        i++;
        if ((r = scan(s, n, &i, ";", &v, why)) != PTK_OK)
            goto out;
        if (ptk_buf_len(&t) == 0) {
            *why = "empty transport name";
            r = PTK_EINVAL;
            goto out;
        }
        if (ptk_buf_len(&k) == 0) {
            *why = "empty option key";
            r = PTK_EINVAL;
            goto out;
        }
        if (memchr(ptk_buf_data(&t), '\0', ptk_buf_len(&t))) {
            *why = "NUL byte in a transport name";
            r = PTK_EINVAL;
            goto out;
        }
        struct ptk_transport_options *to =
            options_for(out, (const char *)ptk_buf_data(&t), ptk_buf_len(&t));
        if (!to) {
            r = PTK_ENOMEM;
            goto out;
        }
        if ((r = add_tok(&to->opts, &k, &v, why)) != PTK_OK)
            goto out;
        if (i >= n)
            break;
        i++;
    }
out:
    ptk_buf_free(&t);
    ptk_buf_free(&k);
    ptk_buf_free(&v);
    return r;
}

const struct ptk_kvlist *ptk_server_options_get(const struct ptk_options_list *l,
                                                const char *transport)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].transport, transport) == 0)
            return &l->items[i].opts;
    return NULL;
}

int ptk_server_options_encode(const char *transport, const struct ptk_kvlist *opts,
                              struct ptk_buf *out)
{
    int r = PTK_OK;
    for (size_t i = 0; i < opts->n && r == PTK_OK; i++) {
        if (ptk_buf_len(out) > 0 && (r = ptk_buf_put_u8(out, ';')) != PTK_OK)
            break;
        if ((r = put_escaped(out, transport, "\\:;=")) != PTK_OK)
            break;
        if ((r = ptk_buf_put_u8(out, ':')) != PTK_OK)
            break;
        if ((r = put_escaped(out, opts->items[i].key, "\\:;=")) != PTK_OK)
            break;
        if ((r = ptk_buf_put_u8(out, '=')) != PTK_OK)
            break;
        r = put_escaped(out, opts->items[i].value, "\\:;");
    }
    return r;
}

void ptk_server_options_free(struct ptk_options_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].transport);
        ptk_kvlist_free(&l->items[i].opts);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}
