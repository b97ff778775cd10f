/*
 * obfs2 transport (see transport/obfs2.h), following obfs4proxy 0.0.14.
 *
 * Both sides send at once:
 *   SEED (16) | AES-CTR(pad key, MAGIC | PADLEN | random(PADLEN))
 * with pad key/IV = MAC("<Role> obfuscation padding", own SEED) and PADLEN
 * uniform in 0..8192. The receiver decrypts the 8-byte header with the key
 * derived from the peer's seed, requires MAGIC and PADLEN <= 8192, skips
 * the padding and is established: both directions switch to fresh AES-CTR
 * streams keyed from MAC("Initiator/Responder obfuscated data",
 * INIT_SEED | RESP_SEED). Data follows directly; there is no framing.
 *
 * Failures, as obfs4proxy: a wrong magic or an oversized PADLEN closes the
 * connection at once, and so does the 30 s handshake deadline (no silent
 * probe delay exists in obfs2). A wrong shared secret shows as a wrong magic.
 *
 * Shared secret (Python obfsproxy; obfs4proxy refuses it): every MAC becomes
 * H^100000(label | x | SHA256(SECRET) | label). An empty value means none,
 * as in obfsproxy. The server keeps SHA256(SECRET) from its options; a
 * client takes it from the connection's arguments.
 *
 * Data: one AES-CTR call per contiguous input run, straight into space
 * reserved in the output sink; nothing is allocated after the handshake.
 */
#include "transport/obfs2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "ptkit/error.h"

#define BATCH_MAX 65536 /* input bytes taken per encode call */

static const char init_pad[] = "Initiator obfuscation padding";
static const char resp_pad[] = "Responder obfuscation padding";
static const char init_data[] = "Initiator obfuscated data";
static const char resp_data[] = "Responder obfuscated data";
static const char shared_secret_arg[] = "shared-secret";

enum conn_state { ST_HEADER, ST_PADDING, ST_DATA };

struct obfs2_server {
    uint8_t secret_hash[PTK_SHA256_LEN];
};

struct obfs2_conn {
    bool initiator;
    bool has_secret;
    uint8_t secret_hash[PTK_SHA256_LEN];
    enum conn_state state;
    uint32_t pad_left; /* peer padding still to skip */
    uint8_t seed[OBFS2_SEED_LEN], peer_seed[OBFS2_SEED_LEN];
    struct ptk_aes_ctr tx, rx;
};

void obfs2_kdf(const char *label, const uint8_t *x, size_t xlen, const uint8_t *secret_hash,
               uint8_t key[OBFS2_KEY_LEN], uint8_t iv[16])
{
    crypto_hash_sha256_state h;
    uint8_t m[PTK_SHA256_LEN];
    size_t llen = strlen(label);

    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)label, llen);
    crypto_hash_sha256_update(&h, x, xlen);
    if (secret_hash)
        crypto_hash_sha256_update(&h, secret_hash, PTK_SHA256_LEN);
    crypto_hash_sha256_update(&h, (const uint8_t *)label, llen);
    crypto_hash_sha256_final(&h, m);
    if (secret_hash)
        for (int i = 1; i < OBFS2_HASH_ITERATIONS; i++)
            crypto_hash_sha256(m, m, sizeof(m));
    memcpy(key, m, OBFS2_KEY_LEN);
    memcpy(iv, m + OBFS2_KEY_LEN, 16);
    ptk_memzero(m, sizeof(m));
    ptk_memzero(&h, sizeof(h));
}

/* Key a stream from MAC(label, x). */
static int stream_init(const struct obfs2_conn *c, struct ptk_aes_ctr *s, const char *label,
                       const uint8_t *x, size_t xlen)
{
    uint8_t key[OBFS2_KEY_LEN], iv[16];
    obfs2_kdf(label, x, xlen, c->has_secret ? c->secret_hash : NULL, key, iv);
    int r = ptk_aes_ctr_init(s, key, sizeof(key), iv);
    ptk_memzero(key, sizeof(key));
    ptk_memzero(iv, sizeof(iv));
    return r;
}

/*
 * The server's only state is the shared secret's hash (NULL: none). The
 * secret is not put in the SMETHOD arguments: the operator hands it out with
 * the bridge line, as with obfsproxy.
 */
static int obfs2_server_setup(const struct ptk_transport_cfg *cfg, void **server,
                              struct ptk_kvlist *smethod_args, char *err, size_t errlen)
{
    (void)smethod_args;
    (void)err;
    (void)errlen;
    *server = NULL;
    const char *secret = cfg->opts ? ptk_kvlist_get(cfg->opts, shared_secret_arg) : NULL;
    if (!secret || !*secret)
        return PTK_OK;
    struct obfs2_server *s = malloc(sizeof(*s));
    if (!s)
        return PTK_ENOMEM;
    ptk_sha256(secret, strlen(secret), s->secret_hash);
    *server = s;
    return PTK_OK;
}

static void obfs2_server_free(void *p)
{
    struct obfs2_server *s = p;
    if (!s)
        return;
    ptk_memzero(s, sizeof(*s));
    free(s);
}

static void obfs2_conn_free(void *p)
{
    struct obfs2_conn *c = p;
    if (!c)
        return;
    ptk_aes_ctr_free(&c->tx);
    ptk_aes_ctr_free(&c->rx);
    ptk_memzero(c, sizeof(*c));
    free(c);
}

static int conn_new(bool initiator, const uint8_t *secret_hash, void **out)
{
    struct obfs2_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return PTK_ENOMEM;
    c->initiator = initiator;
    if (secret_hash) {
        c->has_secret = true;
        memcpy(c->secret_hash, secret_hash, PTK_SHA256_LEN);
    }
    c->state = ST_HEADER;
    c->tx = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    c->rx = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    *out = c;
    return PTK_OK;
}

static int obfs2_client_new(void *client, const struct ptk_kvlist *args, void **conn, char *err,
                            size_t errlen)
{
    (void)client;
    (void)err;
    (void)errlen;
    /* other arguments are ignored, as obfs4proxy ignores them */
    const char *secret = args ? ptk_kvlist_get(args, shared_secret_arg) : NULL;
    if (!secret || !*secret)
        return conn_new(true, NULL, conn);
    uint8_t hash[PTK_SHA256_LEN];
    ptk_sha256(secret, strlen(secret), hash);
    int r = conn_new(true, hash, conn);
    ptk_memzero(hash, sizeof(hash));
    return r;
}

static int obfs2_server_new(void *server, void **conn)
{
    const struct obfs2_server *s = server;
    return conn_new(false, s ? s->secret_hash : NULL, conn);
}

static int obfs2_start(void *conn, struct ptk_xfer *x)
{
    struct obfs2_conn *c = conn;
    uint32_t padlen = ptk_random_uniform(OBFS2_MAX_PADDING + 1);
    size_t total = OBFS2_SEED_LEN + OBFS2_HDR_LEN + padlen;
    int r;

    ptk_random(c->seed, sizeof(c->seed));
    if ((r = stream_init(c, &c->tx, c->initiator ? init_pad : resp_pad, c->seed,
                         OBFS2_SEED_LEN)) != PTK_OK)
        return r;
    uint8_t *p = x->wire->reserve(x->wire->ud, total);
    if (!p)
        return PTK_ENOMEM;
    uint8_t *hdr = p + OBFS2_SEED_LEN;
    memcpy(p, c->seed, OBFS2_SEED_LEN);
    hdr[0] = (uint8_t)(OBFS2_MAGIC >> 24);
    hdr[1] = (uint8_t)(OBFS2_MAGIC >> 16);
    hdr[2] = (uint8_t)(OBFS2_MAGIC >> 8);
    hdr[3] = (uint8_t)OBFS2_MAGIC;
    hdr[4] = (uint8_t)(padlen >> 24);
    hdr[5] = (uint8_t)(padlen >> 16);
    hdr[6] = (uint8_t)(padlen >> 8);
    hdr[7] = (uint8_t)padlen;
    ptk_random_fast(hdr + OBFS2_HDR_LEN, padlen);
    if ((r = ptk_aes_ctr_xor(&c->tx, hdr, hdr, OBFS2_HDR_LEN + padlen)) != PTK_OK)
        return r;
    x->wire->commit(x->wire->ud, total);
    x->timer_us = (int64_t)OBFS2_HS_TIMEOUT_S * 1000000;
    return PTK_OK;
}

/* The peer's seed and header: check them and learn how much padding follows. */
static int read_header(struct obfs2_conn *c, const uint8_t *in)
{
    uint8_t hdr[OBFS2_HDR_LEN];
    int r;

    memcpy(c->peer_seed, in, OBFS2_SEED_LEN);
    if ((r = stream_init(c, &c->rx, c->initiator ? resp_pad : init_pad, c->peer_seed,
                         OBFS2_SEED_LEN)) != PTK_OK ||
        (r = ptk_aes_ctr_xor(&c->rx, hdr, in + OBFS2_SEED_LEN, OBFS2_HDR_LEN)) != PTK_OK)
        return r;
    uint32_t magic =
        (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    uint32_t padlen =
        (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    if (magic != OBFS2_MAGIC || padlen > OBFS2_MAX_PADDING)
        return PTK_EPROTO;
    c->pad_left = padlen;
    c->state = ST_PADDING;
    return PTK_OK;
}

/* Handshake done: both directions switch to the data keys. */
static int data_keys(struct obfs2_conn *c)
{
    uint8_t both[2 * OBFS2_SEED_LEN];
    const uint8_t *init_seed = c->initiator ? c->seed : c->peer_seed;
    const uint8_t *resp_seed = c->initiator ? c->peer_seed : c->seed;
    int r;

    memcpy(both, init_seed, OBFS2_SEED_LEN);
    memcpy(both + OBFS2_SEED_LEN, resp_seed, OBFS2_SEED_LEN);
    if ((r = stream_init(c, &c->tx, c->initiator ? init_data : resp_data, both, sizeof(both))) !=
            PTK_OK ||
        (r = stream_init(c, &c->rx, c->initiator ? resp_data : init_data, both, sizeof(both))) !=
            PTK_OK)
        goto out;
    c->state = ST_DATA;
out:
    ptk_memzero(both, sizeof(both));
    ptk_memzero(c->seed, sizeof(c->seed));
    ptk_memzero(c->peer_seed, sizeof(c->peer_seed));
    return r;
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

static int obfs2_decode(void *conn, const uint8_t *in, size_t len, size_t *used, struct ptk_xfer *x)
{
    struct obfs2_conn *c = conn;
    size_t off = 0;
    int r = PTK_OK;

    if (c->state == ST_HEADER) {
        if (len < OBFS2_SEED_LEN + OBFS2_HDR_LEN)
            goto out;
        if ((r = read_header(c, in)) != PTK_OK)
            goto out;
        off = OBFS2_SEED_LEN + OBFS2_HDR_LEN;
    }
    if (c->state == ST_PADDING) {
        size_t skip = len - off < c->pad_left ? len - off : c->pad_left;
        off += skip;
        c->pad_left -= (uint32_t)skip;
        if (c->pad_left > 0)
            goto out;
        if ((r = data_keys(c)) != PTK_OK)
            goto out;
        x->established = true;
        x->timer_us = 0;
    }
    if ((r = xor_into(x->app, &c->rx, in + off, len - off)) == PTK_OK)
        off = len;
out:
    *used = off;
    return r;
}

static int obfs2_encode(void *conn, const uint8_t *in, size_t len, size_t *used, struct ptk_xfer *x)
{
    struct obfs2_conn *c = conn;
    size_t n = len < BATCH_MAX ? len : BATCH_MAX;
    int r;

    *used = 0;
    if (c->state != ST_DATA)
        return PTK_OK; /* the data keys need the peer's seed */
    if ((r = xor_into(x->wire, &c->tx, in, n)) != PTK_OK)
        return r;
    *used = n;
    return PTK_OK;
}

static int obfs2_timer(void *conn, struct ptk_xfer *x)
{
    struct obfs2_conn *c = conn;
    return c->state != ST_DATA ? PTK_ETIMEDOUT : PTK_OK;
}

const struct ptk_transport_ops ptk_transport_obfs2 = {
    .name = "obfs2",
    .flags = PTK_TRANSPORT_THREADSAFE, /* the server state is read-only after setup */
    .server_setup = obfs2_server_setup,
    .server_free = obfs2_server_free,
    .client_setup = NULL,
    .client_free = NULL,
    .client_new = obfs2_client_new,
    .server_new = obfs2_server_new,
    .conn_free = obfs2_conn_free,
    .start = obfs2_start,
    .encode = obfs2_encode,
    .decode = obfs2_decode,
    .timer = obfs2_timer,
};
