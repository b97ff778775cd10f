/*
 * The three k=v encodings of the PT protocol.
 *
 *  - per-connection client args (the SOCKS username/password, from a Bridge
 *    line): "k=v;k=v", backslash escapes any byte; tor escapes ';' and '\'.
 *  - SMETHOD ARGS: "k=v,k=v", with '=', ',' and '\' backslash-escaped.
 *  - TOR_PT_SERVER_TRANSPORT_OPTIONS: "transport:k=v;transport:k=v", with
 *    ':', ';', '=' (keys) and '\' backslash-escaped.
 *
 * Parsers accept what goptlib accepts (the de-facto reference) and reject an
 * empty key, a missing '=' and a trailing lone backslash.
 */
#ifndef PTKIT_ARGS_H
#define PTKIT_ARGS_H

#include <stddef.h>

#include "ptkit/buf.h"
#include "ptkit/kv.h"

/* Parse client args s[0..n) and append them to out. PTK_EINVAL with a reason in why. */
int ptk_args_parse(const char *s, size_t n, struct ptk_kvlist *out, const char **why);
/* Encode a list as tor writes client args (escape ';' '\' in keys and values, '=' in keys). */
int ptk_args_encode(const struct ptk_kvlist *l, struct ptk_buf *out);

/* Encode SMETHOD ARGS (without the "ARGS:" prefix). */
int ptk_smethod_args_encode(const struct ptk_kvlist *l, struct ptk_buf *out);
/* Parse SMETHOD ARGS (without the prefix). */
int ptk_smethod_args_parse(const char *s, size_t n, struct ptk_kvlist *out, const char **why);

/* One transport's options from TOR_PT_SERVER_TRANSPORT_OPTIONS. */
struct ptk_transport_options {
    char *transport;
    struct ptk_kvlist opts;
};
struct ptk_options_list {
    struct ptk_transport_options *items;
    size_t n;
};
/* Parse the whole variable; entries for the same transport are merged in order. */
int ptk_server_options_parse(const char *s, size_t n, struct ptk_options_list *out,
                             const char **why);
/* Options of `transport`, or NULL if it has none. */
const struct ptk_kvlist *ptk_server_options_get(const struct ptk_options_list *l,
                                                const char *transport);
/* Append "transport:k=v" entries for one transport (';'-joined, with escapes). */
int ptk_server_options_encode(const char *transport, const struct ptk_kvlist *opts,
                              struct ptk_buf *out);
void ptk_server_options_free(struct ptk_options_list *l);

#endif
