/* The table of built-in transports, and the sink helper every transport uses. */
#include <string.h>

#include "ptkit/error.h"
#include "ptkit/transport.h"
#include "transport/obfs2.h"
#include "transport/obfs3.h"
#include "transport/obfs4.h"
#include "transport/plain.h"
#include "transport/scramblesuit.h"

static const struct ptk_transport_ops *const builtin[] = {
    &ptk_transport_obfs4,
    &ptk_transport_obfs3,
    &ptk_transport_obfs2,
    &ptk_transport_scramblesuit,
    &ptk_transport_plain,
};

const struct ptk_transport_ops *ptk_transport_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (strcmp(builtin[i]->name, name) == 0)
            return builtin[i];
    return NULL;
}

const struct ptk_transport_ops *ptk_transport_at(size_t i)
{
    return i < sizeof(builtin) / sizeof(builtin[0]) ? builtin[i] : NULL;
}

int ptk_sink_put(struct ptk_sink *s, const void *p, size_t n)
{
    if (n == 0)
        return PTK_OK;
    uint8_t *dst = s->reserve(s->ud, n);
    if (!dst)
        return PTK_ENOMEM;
    memcpy(dst, p, n);
    s->commit(s->ud, n);
    return PTK_OK;
}
