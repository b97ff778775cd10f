/*
 * Ordered lists of key=value string pairs.
 *
 * Used for per-connection transport arguments (from SOCKS), server transport
 * options (TOR_PT_SERVER_TRANSPORT_OPTIONS) and SMETHOD ARGS. Keys may repeat;
 * lookups return the first match. Keys and values are NUL-terminated copies
 * owned by the list; values may contain any byte but NUL.
 */
#ifndef PTKIT_KV_H
#define PTKIT_KV_H

#include <stddef.h>

struct ptk_kv {
    char *key;
    char *value;
};

struct ptk_kvlist {
    struct ptk_kv *items;
    size_t n;
    size_t cap;
};

#define PTK_KVLIST_INIT {NULL, 0, 0}

/* Append a copy of key[0..klen) = value[0..vlen). PTK_ENOMEM, PTK_EINVAL on NUL inside. */
int ptk_kvlist_add(struct ptk_kvlist *l, const char *key, size_t klen, const char *value,
                   size_t vlen);
/* First value for `key`, or NULL. The pointer lives as long as the list. */
const char *ptk_kvlist_get(const struct ptk_kvlist *l, const char *key);
/* Deep copy; dst must be empty. */
int ptk_kvlist_copy(struct ptk_kvlist *dst, const struct ptk_kvlist *src);
/* Free all pairs (values wiped: they may hold secrets such as passwords). */
void ptk_kvlist_free(struct ptk_kvlist *l);

#endif
