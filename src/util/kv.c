/* Key/value lists (see ptkit/kv.h). */
#include "ptkit/kv.h"

#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/str.h"

int ptk_kvlist_add(struct ptk_kvlist *l, const char *key, size_t klen, const char *value,
                   size_t vlen)
{
    if (memchr(key, '\0', klen) || memchr(value, '\0', vlen))
        return PTK_EINVAL;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? 2 * l->cap : 4;
        struct ptk_kv *ni = realloc(l->items, ncap * sizeof(*ni));
        if (!ni)
            return PTK_ENOMEM;
        l->items = ni;
        l->cap = ncap;
    }
    char *k = ptk_strndup(key, klen);
    char *v = ptk_strndup(value, vlen);
    if (!k || !v) {
        free(k);
        free(v);
        return PTK_ENOMEM;
    }
    l->items[l->n].key = k;
    l->items[l->n].value = v;
    l->n++;
    return PTK_OK;
}

const char *ptk_kvlist_get(const struct ptk_kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

int ptk_kvlist_copy(struct ptk_kvlist *dst, const struct ptk_kvlist *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct ptk_kv *kv = &src->items[i];
        int r = ptk_kvlist_add(dst, kv->key, strlen(kv->key), kv->value, strlen(kv->value));
        if (r != PTK_OK) {
            ptk_kvlist_free(dst);
            return r;
        }
    }
    return PTK_OK;
}

void ptk_kvlist_free(struct ptk_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        ptk_wipe(l->items[i].value, strlen(l->items[i].value));
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}
