/*
 * obfs3 transport (see transport/obfs3.h), following obfs4proxy 0.0.14.
 *
 * Both sides send at once, without waiting for the other:
 *   PUB (192, UniformDH) | random padding, 0..4097 bytes
 * and, on receiving the peer's PUB, derive the keys (obfs3_kdf). That is the
 * whole handshake: the connection is established then (the client answers
 * SOCKS, the server dials tor), with a 30 s deadline until it happens.
 * A side's first data write is
 *   random padding (0..4097) | MAGIC (32) | AES-CTR(data)
 * and the receiver scans the bytes after the peer's PUB for the peer's magic;
 * it must start within OBFS3_MAX_PADDING (8194) bytes. Everything after it
 * is ciphertext. A side that never writes never sends its magic.
 *
 * Failures, as obfs4proxy: no magic in the first 8226 bytes closes the
 * connection at once (there is no silent-probe delay in obfs3), and so does
 * the handshake deadline. Any 192 bytes are accepted as a public key.
 *
 * Data: one AES-CTR call per contiguous input run, straight into space
 * reserved in the output sink; nothing is allocated after the handshake.
 */
#include "transport/obfs3.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "ptkit/error.h"

#define PAD_MAX (OBFS3_MAX_PADDING / 2) /* each of the two padding runs: 0..4097 */
#define BATCH_MAX 65536                 /* input bytes taken per encode call */

enum conn_state { ST_KEYX, ST_SCAN, ST_DATA };

struct obfs3_conn {
    bool initiator;
    enum conn_state state;
    bool magic_sent;
    size_t scanned; /* bytes after the peer's PUB discarded while looking for its magic */
    uint8_t x[PTK_UDH_LEN];
    uint8_t tx_magic[OBFS3_MAGIC_LEN], rx_magic[OBFS3_MAGIC_LEN];
    struct ptk_aes_ctr tx, rx;
};

void obfs3_kdf(const uint8_t shared[PTK_UDH_LEN], struct obfs3_keys *k)
{
    static const char init_data[] = "Initiator obfuscated data";
    static const char resp_data[] = "Responder obfuscated data";
    static const char init_magic[] = "Initiator magic";
    static const char resp_magic[] = "Responder magic";

    ptk_hmac_sha256(shared, PTK_UDH_LEN, init_data, sizeof(init_data) - 1, k->init_secret);
    ptk_hmac_sha256(shared, PTK_UDH_LEN, resp_data, sizeof(resp_data) - 1, k->resp_secret);
    ptk_hmac_sha256(shared, PTK_UDH_LEN, init_magic, sizeof(init_magic) - 1, k->init_magic);
    ptk_hmac_sha256(shared, PTK_UDH_LEN, resp_magic, sizeof(resp_magic) - 1, k->resp_magic);
}

static int obfs3_server_setup(const struct ptk_transport_cfg *cfg, void **server,
                              struct ptk_kvlist *smethod_args, char *err, size_t errlen)
{
    /* obfs4proxy ignores any server options for obfs3 and announces no ARGS. */
    *server = NULL;
    return PTK_OK;
}

static void obfs3_free_nothing(void *p)
{
}

static void obfs3_conn_free(void *p)
{
    struct obfs3_conn *c = p;
    if (!c)
        return;
    ptk_aes_ctr_free(&c->tx);
    ptk_aes_ctr_free(&c->rx);
    ptk_memzero(c, sizeof(*c));
    free(c);
}

static int conn_new(bool initiator, void **out)
{
    struct obfs3_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return PTK_ENOMEM;
    c->initiator = initiator;
    c->state = ST_KEYX;
    c->tx = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    c->rx = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    *out = c;
    return PTK_OK;
}

static int obfs3_client_new(void *client, const struct ptk_kvlist *args, void **conn, char *err,
                            size_t errlen)
{
    /* obfs4proxy's obfs3 takes no arguments and ignores any it is given. */
    return conn_new(true, conn);
}

static int obfs3_server_new(void *server, void **conn)
{
    return conn_new(false, conn);
}

static int obfs3_start(void *conn, struct ptk_xfer *x)
{
    struct obfs3_conn *c = conn;
    uint8_t pub[PTK_UDH_LEN];
    size_t padlen = ptk_random_uniform(PAD_MAX + 1);
    int r = ptk_udh_keypair(c->x, pub);
    if (r != PTK_OK)
        return r;
    uint8_t *p = x->wire->reserve(x->wire->ud, PTK_UDH_LEN + padlen);
    if (!p)
        return PTK_ENOMEM;
    memcpy(p, pub, PTK_UDH_LEN);
    ptk_random_fast(p + PTK_UDH_LEN, padlen);
    x->wire->commit(x->wire->ud, PTK_UDH_LEN + padlen);
    x->timer_us = (int64_t)OBFS3_HS_TIMEOUT_S * 1000000;
    return PTK_OK;
}

/* The peer's PUB has arrived: derive both directions' keys and magics. */
static int key_exchange(struct obfs3_conn *c, const uint8_t peer[PTK_UDH_LEN])
{
    uint8_t shared[PTK_UDH_LEN];
    struct obfs3_keys k;
    int r = ptk_udh_shared(c->x, peer, shared);
    ptk_memzero(c->x, sizeof(c->x));
    if (r != PTK_OK)
        return r;
    obfs3_kdf(shared, &k);
    ptk_memzero(shared, sizeof(shared));
    const uint8_t *tx = c->initiator ? k.init_secret : k.resp_secret;
    const uint8_t *rx = c->initiator ? k.resp_secret : k.init_secret;
    if ((r = ptk_aes_ctr_init(&c->tx, tx, OBFS3_KEY_LEN, tx + OBFS3_KEY_LEN)) != PTK_OK ||
        (r = ptk_aes_ctr_init(&c->rx, rx, OBFS3_KEY_LEN, rx + OBFS3_KEY_LEN)) != PTK_OK)
        goto out;
    memcpy(c->tx_magic, c->initiator ? k.init_magic : k.resp_magic, OBFS3_MAGIC_LEN);
    memcpy(c->rx_magic, c->initiator ? k.resp_magic : k.init_magic, OBFS3_MAGIC_LEN);
    c->state = ST_SCAN;
out:
    ptk_memzero(&k, sizeof(k));
    return r;
}

/*
 * Look for the peer's magic. It must start within OBFS3_MAX_PADDING bytes
 * of the end of the peer's PUB, i.e. end within OBFS3_SCAN_LIMIT. Bytes that
 * cannot begin a magic any more are consumed, so nothing is scanned twice.
 */
static int scan_magic(struct obfs3_conn *c, const uint8_t *in, size_t len, size_t *used)
{
    size_t window = OBFS3_SCAN_LIMIT - c->scanned;
    const uint8_t *m = memmem(in, len < window ? len : window, c->rx_magic, OBFS3_MAGIC_LEN);
    if (m) {
        *used = (size_t)(m - in) + OBFS3_MAGIC_LEN;
        ptk_memzero(c->rx_magic, sizeof(c->rx_magic));
        c->state = ST_DATA;
        return PTK_OK;
    }
    if (len >= window) {
        *used = 0;
        return PTK_EPROTO; /* obfs4proxy: "failed to find peer magic value" */
    }
    *used = len >= OBFS3_MAGIC_LEN ? len - (OBFS3_MAGIC_LEN - 1) : 0;
    c->scanned += *used;
    return PTK_OK;
}

/* Run n bytes through a cipher into space reserved in a sink. */
static int xor_into(struct ptk_sink *s, struct ptk_aes_ctr *k, const uint8_t *in, size_t n)
{
    if (n == 0)
        return PTK_OK;
    uint8_t *p = s->reserve(s->ud, n);
    if (!p)
        return PTK_ENOMEM;
    int r = ptk_aes_ctr_xor(k, p, in, n);
    if (r != PTK_OK)
        return r;
    s->commit(s->ud, n);
    return PTK_OK;
}

static int obfs3_decode(void *conn, const uint8_t *in, size_t len, size_t *used, struct ptk_xfer *x)
{
    struct obfs3_conn *c = conn;
    size_t off = 0, n = 0;
    int r = PTK_OK;

    if (c->state == ST_KEYX) {
        if (len < PTK_UDH_LEN)
            goto out;
        if ((r = key_exchange(c, in)) != PTK_OK)
            goto out;
        off = PTK_UDH_LEN;
        x->established = true;
        x->timer_us = 0; /* obfs4proxy's deadline covers the key exchange only */
    }
    if (c->state == ST_SCAN) {
        r = scan_magic(c, in + off, len - off, &n);
        off += n;
        if (r != PTK_OK || c->state != ST_DATA)
            goto out;
    }
    if ((r = xor_into(x->app, &c->rx, in + off, len - off)) == PTK_OK)
        off = len;
out:
    *used = off;
    return r;
}

static int obfs3_encode(void *conn, const uint8_t *in, size_t len, size_t *used, struct ptk_xfer *x)
{
    struct obfs3_conn *c = conn;
    size_t n = len < BATCH_MAX ? len : BATCH_MAX, head = 0, padlen = 0;

    *used = 0;
    if (c->state == ST_KEYX || n == 0)
        return PTK_OK; /* no keys before the peer's PUB */
    if (!c->magic_sent) {
        padlen = ptk_random_uniform(PAD_MAX + 1);
        head = padlen + OBFS3_MAGIC_LEN;
    }
    uint8_t *p = x->wire->reserve(x->wire->ud, head + n);
    if (!p)
        return PTK_ENOMEM;
    if (head) {
        ptk_random_fast(p, padlen);
        memcpy(p + padlen, c->tx_magic, OBFS3_MAGIC_LEN);
    }
    int r = ptk_aes_ctr_xor(&c->tx, p + head, in, n);
    if (r != PTK_OK)
        return r;
    x->wire->commit(x->wire->ud, head + n);
    if (head) {
        c->magic_sent = true;
        ptk_memzero(c->tx_magic, sizeof(c->tx_magic));
    }
    *used = n;
    return PTK_OK;
}

static int obfs3_timer(void *conn, struct ptk_xfer *x)
{
    struct obfs3_conn *c = conn;
    return c->state == ST_KEYX ? PTK_ETIMEDOUT : PTK_OK;
}

const struct ptk_transport_ops ptk_transport_obfs3 = {
    .name = "obfs3",
    .flags = PTK_TRANSPORT_THREADSAFE, /* no instance state */
    .server_setup = obfs3_server_setup,
    .server_free = obfs3_free_nothing,
    .client_setup = NULL,
    .client_free = NULL,
    .client_new = obfs3_client_new,
    .server_new = obfs3_server_new,
    .conn_free = obfs3_conn_free,
    .start = obfs3_start,
    .encode = obfs3_encode,
    .decode = obfs3_decode,
    .timer = obfs3_timer,
};
