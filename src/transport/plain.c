/*
 * plain: the identity transport (see transport/plain.h). It takes no
 * arguments and keeps no state; a connection is established at start. The
 * relay normally moves its bytes without calling encode/decode at all
 * (PTK_TRANSPORT_PASSTHROUGH); they are implemented for completeness and tests.
 */
#include "transport/plain.h"

#include "ptkit/error.h"

/* A connection needs no state; a distinct non-NULL token stands for it. */
static char plain_conn_token;

static int plain_server_setup(const struct ptk_transport_cfg *cfg, void **server,
                              struct ptk_kvlist *smethod_args, char *err, size_t errlen)
{
    *server = NULL;
    return PTK_OK;
}

static void plain_free_nothing(void *p)
{
}

static int plain_client_new(void *client, const struct ptk_kvlist *args, void **conn, char *err,
                            size_t errlen)
{
    *conn = &plain_conn_token;
    return PTK_OK;
}

static int plain_server_new(void *server, void **conn)
{
    *conn = &plain_conn_token;
    return PTK_OK;
}

static int plain_start(void *conn, struct ptk_xfer *x)
{
    x->established = true;
    return PTK_OK;
}

static int plain_copy(struct ptk_sink *to, const uint8_t *in, size_t len, size_t *consumed)
{
    int r = ptk_sink_put(to, in, len);
    *consumed = r == PTK_OK ? len : 0;
    return r;
}

static int plain_encode(void *conn, const uint8_t *in, size_t len, size_t *consumed,
                        struct ptk_xfer *x)
{
    return plain_copy(x->wire, in, len, consumed);
}

static int plain_decode(void *conn, const uint8_t *in, size_t len, size_t *consumed,
                        struct ptk_xfer *x)
{
    return plain_copy(x->app, in, len, consumed);
}

const struct ptk_transport_ops ptk_transport_plain = {
    .name = "plain",
    .flags = PTK_TRANSPORT_PASSTHROUGH | PTK_TRANSPORT_THREADSAFE,
    .server_setup = plain_server_setup,
    .server_free = plain_free_nothing,
    .client_setup = NULL,
    .client_free = NULL,
    .client_new = plain_client_new,
    .server_new = plain_server_new,
    .conn_free = plain_free_nothing,
    .start = plain_start,
    .encode = plain_encode,
    .decode = plain_decode,
    .timer = NULL,
};
