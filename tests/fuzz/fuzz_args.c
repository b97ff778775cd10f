/*
 * Fuzz target: the three k=v grammars (client args, SMETHOD ARGS, server
 * transport options). Parsed lists are re-encoded and parsed again; the
 * result must be identical (encode/parse round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/args.h"
#include "ptkit/error.h"

static void same(const struct ptk_kvlist *a, const struct ptk_kvlist *b)
{
    if (a->n != b->n)
        abort();
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].key, b->items[i].key) || strcmp(a->items[i].value, b->items[i].value))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct ptk_kvlist l = PTK_KVLIST_INIT, back = PTK_KVLIST_INIT;
    struct ptk_buf b;
    ptk_buf_init(&b, 1 << 20);

    if (ptk_args_parse(s, size, &l, NULL) == PTK_OK) {
        if (ptk_args_encode(&l, &b) != PTK_OK)
            abort();
        if (ptk_args_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b), &back, NULL) != PTK_OK)
            abort();
        same(&l, &back);
    }
    ptk_kvlist_free(&l);
    ptk_kvlist_free(&back);
    ptk_buf_reset(&b);

    if (ptk_smethod_args_parse(s, size, &l, NULL) == PTK_OK) {
        if (ptk_smethod_args_encode(&l, &b) != PTK_OK)
            abort();
        if (ptk_smethod_args_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b), &back,
                                   NULL) != PTK_OK)
            abort();
        same(&l, &back);
    }
    ptk_kvlist_free(&l);
    ptk_kvlist_free(&back);
    ptk_buf_reset(&b);

    struct ptk_options_list o = {0}, o2 = {0};
    if (ptk_server_options_parse(s, size, &o, NULL) == PTK_OK) {
        for (size_t i = 0; i < o.n; i++)
            if (ptk_server_options_encode(o.items[i].transport, &o.items[i].opts, &b) != PTK_OK)
                abort();
        if (ptk_server_options_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b), &o2, NULL) !=
                PTK_OK ||
            o2.n != o.n)
            abort();
        for (size_t i = 0; i < o.n; i++)
            same(&o.items[i].opts, ptk_server_options_get(&o2, o.items[i].transport));
    }
    ptk_server_options_free(&o);
    ptk_server_options_free(&o2);
    ptk_buf_free(&b);
    return 0;
}
