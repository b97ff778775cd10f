/*
 * Fuzz target: the stdout protocol parser (ptk_msg_parse) on one line. What
 * parses is emitted again and parsed back, which must give the same message:
 * LOG (severity and the C-quoted text), STATUS (every field), CMETHOD and
 * SMETHOD (name, address, decoded ARGS). Emitted text is always exactly one
 * line. Any mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptkit/error.h"
#include "ptkit/msg.h"

/* The buffer holds one '\n'-terminated line; parse it without the '\n'. */
static void reparse(const struct ptk_buf *b, enum ptk_msg_type t, struct ptk_msg *m)
{
    const char *line = (const char *)ptk_buf_data(b);
    size_t len = ptk_buf_len(b);
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
        abort();
    if (ptk_msg_parse(line, len - 1, m, NULL) != PTK_OK || m->type != t)
        abort();
}

static void same_kv(const struct ptk_kvlist *a, const struct ptk_kvlist *b)
{
    if (a->n != b->n)
        abort();
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].key, b->items[i].key) ||
            strcmp(a->items[i].value, b->items[i].value))
            abort();
}

static void same_addr(const struct ptk_msg *a, const struct ptk_msg *b)
{
    if (a->addrlen != b->addrlen || memcmp(&a->addr, &b->addr, a->addrlen) != 0 ||
        strcmp(a->transport, b->transport) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ptk_msg m, back;
    struct ptk_buf b;
    const char *why = NULL;
    int r = ptk_msg_parse((const char *)data, size, &m, &why);
    if (r == PTK_EPROTO && (!why || !why[0]))
        abort();
    if (r != PTK_OK && r != PTK_EPROTO && r != PTK_ENOMEM)
        abort();
    ptk_buf_init(&b, 1 << 20);
    memset(&back, 0, sizeof(back));

    if (r == PTK_OK) {
        switch (m.type) {
        case PTK_MSG_LOG:
            if (!m.text || ptk_msg_log(&b, m.severity, m.text) != PTK_OK)
                abort();
            reparse(&b, PTK_MSG_LOG, &back);
            if (back.severity != m.severity || strcmp(back.text, m.text) != 0)
                abort();
            break;
        case PTK_MSG_STATUS:
            /* Keys the parser accepts are keys the emitter accepts. */
            if (ptk_msg_status(&b, NULL, &m.kv) != PTK_OK)
                abort();
            reparse(&b, PTK_MSG_STATUS, &back);
            same_kv(&m.kv, &back.kv);
            if (strcmp(back.transport, m.transport) != 0)
                abort();
            break;
        case PTK_MSG_CMETHOD:
            if (ptk_msg_cmethod(&b, m.transport, m.socks_version == 4 ? "socks4" : "socks5",
                                (const struct sockaddr *)&m.addr) != PTK_OK)
                abort();
            reparse(&b, PTK_MSG_CMETHOD, &back);
            same_addr(&m, &back);
            if (back.socks_version != m.socks_version)
                abort();
            break;
        case PTK_MSG_SMETHOD:
            r = ptk_msg_smethod(&b, m.transport, (const struct sockaddr *)&m.addr, &m.kv);
            if (r != PTK_OK) {
                /* only ARGS the emitter refuses (whitespace inside); nothing written */
                if (r != PTK_EINVAL || ptk_buf_len(&b) != 0)
                    abort();
                break;
            }
            reparse(&b, PTK_MSG_SMETHOD, &back);
            same_addr(&m, &back);
            same_kv(&m.kv, &back.kv);
            break;
        default:
            break;
        }
    }
    ptk_msg_free(&back);
    ptk_msg_free(&m);
    ptk_buf_free(&b);
    return 0;
}
