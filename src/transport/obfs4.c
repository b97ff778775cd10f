/*
 * obfs4 transport (see transport/obfs4.h).
 *
 * Handshake (client -> server, then server -> client):
 *   X' | P_C | M_C | MAC_C          X' = Elligator2 representative, P_C 77..8128 random bytes
 *   Y' | AUTH | P_S | M_S | MAC_S   + a PRNG-seed frame, in one write
 *   M = HMAC-SHA256(B | NODEID, X' or Y')[:16]
 *   MAC = HMAC-SHA256(B | NODEID, everything before it | E)[:16], E = unix hour in decimal
 * The server only accepts a message whose mark sits right at its end, for E
 * within one hour, not replayed (3 h filter). Any failure makes it silent:
 * it reads and discards until 30 s + a per-bridge delay (0..59 s from the
 * DRBG seed) after the connection arrived, then closes (PTK_EPROBE).
 *
 * Data: packets in secretbox frames (obfs4_framing.h). Each batch of input
 * is cut into 1427-byte packets and followed by padding toward a length
 * drawn from the bridge's distribution; iat-mode 1 sends the batch in
 * 1448-byte segments with 0..10 ms pauses, iat-mode 2 in segments of random
 * length. Frames are encrypted in place in the relay's output buffer; iat
 * modes stage a batch in a buffer held only while it drains.
 */
#include "transport/obfs4.h"

#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/drbg.h"
#include "crypto/elligator2.h"
#include "crypto/gorand.h"
#include "crypto/keypool.h"
#include "crypto/ntor.h"
#include "crypto/probdist.h"
#include "proto/obfs4_state.h"
#include "ptkit/error.h"
#include "transport/obfs4_framing.h"
#include "transport/obfs4_replay.h"
#include "util/file.h"
#include "util/str.h"

#define MAX_HANDSHAKE 8192
#define MARK_LEN 16
#define MAC_LEN 16
#define REPR_LEN 32
#define AUTH_LEN 32
#define INLINE_SEED_FRAME (OBFS4_HEADER_LEN + PTK_DRBG_SEED_LEN)          /* 45 */
#define CLIENT_MIN_HS (REPR_LEN + MARK_LEN + MAC_LEN)                    /* 64 */
#define SERVER_MIN_HS (REPR_LEN + AUTH_LEN + MARK_LEN + MAC_LEN)         /* 96 */
#define CLIENT_MIN_PAD (SERVER_MIN_HS + INLINE_SEED_FRAME - CLIENT_MIN_HS) /* 77 */
#define CLIENT_MAX_PAD (MAX_HANDSHAKE - CLIENT_MIN_HS)                   /* 8128 */
#define SERVER_MAX_PAD (MAX_HANDSHAKE - (SERVER_MIN_HS + INLINE_SEED_FRAME)) /* 8051 */
#define CERT_RAW_LEN (PTK_NTOR_NODEID_LEN + 32)
#define CERT_B64_LEN 70
#define MAX_IAT_DELAY 100 /* x 100 us */
#define MAX_CLOSE_DELAY 60
#define SERVER_HS_TIMEOUT_S 30
#define CLIENT_HS_TIMEOUT_S 60
#define REPLAY_TTL_S (3 * 3600)
#define REPLAY_MAX (100 * 1024)
#define BATCH_MAX 32768 /* input bytes framed per encode call (obfs4proxy's copy buffer) */

enum { IAT_NONE = 0, IAT_ENABLED = 1, IAT_PARANOID = 2 };

struct obfs4_server {
    uint8_t node_id[PTK_NTOR_NODEID_LEN];
    uint8_t id_priv[32], id_pub[32];
    uint8_t mac_key[32 + PTK_NTOR_NODEID_LEN]; /* B | NODEID */
    uint8_t drbg_seed[PTK_DRBG_SEED_LEN];
    int iat_mode;
    int close_delay_s;
    struct ptk_probdist lendist;
    struct ptk_probdist iatdist;
    struct obfs4_replay *replay;
    struct ptk_keypool *keys; /* session keys made ahead of time */
};

/*
 * Padding/delay tables for one seed. Every client connection to a bridge
 * gets the bridge's seed and builds the same tables (a 1449-value Go
 * rand.Perm over the hash DRBG: thousands of SipHash blocks), so the client
 * instance keeps recent ones, shared read-only and reference-counted.
 */
struct dists {
    uint8_t seed[PTK_DRBG_SEED_LEN];
    struct ptk_probdist len, iat;
    bool has_iat;
    bool cached; /* owned by the cache (else by the one connection using it) */
    int refs;
};

#define DIST_CACHE 8

/* The client instance: a key pool and the table cache. */
struct obfs4_client {
    struct ptk_keypool *keys;
    pthread_mutex_t mu;
    struct dists *cache[DIST_CACHE];
};

#define KEYPOOL_SIZE 64

struct client_hs {
    uint8_t node_id[PTK_NTOR_NODEID_LEN];
    uint8_t B[32];
    uint8_t mac_key[32 + PTK_NTOR_NODEID_LEN];
    uint8_t x[32], X[32], repr[32];
    char epoch[24];
    size_t epoch_len;
};

enum conn_state { ST_HANDSHAKE, ST_ESTABLISHED, ST_FAILED };

struct obfs4_conn {
    bool server;
    enum conn_state state;
    int iat_mode;
    struct obfs4_server *srv;     /* server role */
    struct client_hs *hs;         /* client role, during the handshake */
    /* server role, until the handshake: the session key, taken from the
     * bridge's pool at accept time (obfs4proxy makes it then), so the Elligator2
     * retries never show in the reply's timing */
    uint8_t y[32], Y[32], Yrepr[32];
    uint64_t start_ms;
    struct obfs4_framer enc, dec;
    const struct ptk_probdist *lendist; /* server: the bridge's; client: from `dists` */
    const struct ptk_probdist *iatdist;
    struct obfs4_client *cl; /* client role: the instance (may be NULL in tests) */
    struct dists *dists;     /* client role: current tables (NULL until needed) */
    uint8_t *stage;                  /* iat modes: framed bytes waiting to be sent */
    size_t stage_len, stage_off, stage_cap;
};

/* ---------- helpers ---------- */

static void epoch_hour(int64_t unix_time, int64_t offset, char *out, size_t n, size_t *len)
{
    int w = snprintf(out, n, "%" PRId64, unix_time / 3600 + offset);
    *len = w > 0 ? (size_t)w : 0;
}

static void hmac16(uint8_t out[16], const uint8_t *key, size_t keylen, const uint8_t *a,
                   size_t alen, const char *epoch, size_t elen)
{
    uint8_t full[32];
    ptk_hmac_sha256_ctx c;
    ptk_hmac_sha256_init(&c, key, keylen);
    ptk_hmac_sha256_update(&c, a, alen);
    if (epoch)
        ptk_hmac_sha256_update(&c, epoch, elen);
    ptk_hmac_sha256_final(&c, full);
    memcpy(out, full, 16);
}

/* Uniform integer in [lo, hi] from the CSPRNG. */
static int rand_range(int lo, int hi)
{
    return lo + (int)ptk_random_fast_uniform((uint32_t)(hi - lo + 1));
}

static struct dists *dists_build(const uint8_t seed[PTK_DRBG_SEED_LEN], bool iat)
{
    struct dists *d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    memcpy(d->seed, seed, PTK_DRBG_SEED_LEN);
    ptk_probdist_init(&d->len, seed, 0, OBFS4_MAX_SEGMENT, false);
    d->has_iat = iat;
    if (iat) {
        uint8_t iat_seed[32];
        ptk_sha256(seed, PTK_DRBG_SEED_LEN, iat_seed);
        ptk_probdist_init(&d->iat, iat_seed, 0, MAX_IAT_DELAY, false);
    }
    d->cached = false;
    d->refs = 1;
    return d;
}

/* Tables for seed: from the cache when possible. */
static struct dists *dists_get(struct obfs4_client *cl, const uint8_t seed[PTK_DRBG_SEED_LEN],
                               bool iat, bool cache)
{
    if (!cl || !cache)
        return dists_build(seed, iat);
    pthread_mutex_lock(&cl->mu);
    for (int i = 0; i < DIST_CACHE; i++) {
        struct dists *d = cl->cache[i];
        if (d && (d->has_iat || !iat) && memcmp(d->seed, seed, PTK_DRBG_SEED_LEN) == 0) {
            d->refs++;
            pthread_mutex_unlock(&cl->mu);
            return d;
        }
    }
    pthread_mutex_unlock(&cl->mu);
    struct dists *d = dists_build(seed, iat); /* built unlocked: other connections go on */
    if (!d)
        return NULL;
    pthread_mutex_lock(&cl->mu);
    for (int i = 0; i < DIST_CACHE; i++) {
        struct dists *old = cl->cache[i];
        if (old && old->refs > 0)
            continue;
        free(old);
        cl->cache[i] = d;
        d->cached = true;
        d->refs++; /* the cache's own reference */
        break;
    }
    pthread_mutex_unlock(&cl->mu);
    return d;
}

static void dists_put(struct obfs4_client *cl, struct dists *d)
{
    if (!d)
        return;
    if (cl)
        pthread_mutex_lock(&cl->mu);
    bool gone = --d->refs == 0;
    if (cl)
        pthread_mutex_unlock(&cl->mu);
    if (gone)
        free(d);
}

static int set_dists(struct obfs4_conn *c, const uint8_t seed[PTK_DRBG_SEED_LEN], bool cache)
{
    struct dists *d = dists_get(c->cl, seed, c->iat_mode != IAT_NONE, cache);
    if (!d)
        return PTK_ENOMEM;
    dists_put(c->cl, c->dists);
    c->dists = d;
    c->lendist = &d->len;
    c->iatdist = d->has_iat ? &d->iat : NULL;
    return PTK_OK;
}

/*
 * A client writes before the bridge's seed arrived only if a server never
 * sends it: then it uses tables from a random seed of its own, as
 * obfs4proxy starts out with.
 */
static int ensure_dists(struct obfs4_conn *c)
{
    if (c->lendist)
        return PTK_OK;
    uint8_t seed[PTK_DRBG_SEED_LEN];
    ptk_random_fast(seed, sizeof(seed));
    return set_dists(c, seed, false);
}

/* ---------- cert and args ---------- */

static void cert_encode(const uint8_t node_id[20], const uint8_t pub[32], char out[CERT_B64_LEN + 3])
{
    uint8_t raw[CERT_RAW_LEN];
    memcpy(raw, node_id, 20);
    memcpy(raw + 20, pub, 32);
    sodium_bin2base64(out, CERT_B64_LEN + 3, raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    out[CERT_B64_LEN] = '\0'; /* drop the "==" */
}

static int cert_decode(const char *s, uint8_t node_id[20], uint8_t pub[32])
{
    char padded[CERT_B64_LEN + 3];
    uint8_t raw[CERT_RAW_LEN];
    size_t rawlen = 0;
    if (strlen(s) != CERT_B64_LEN)
        return PTK_EINVAL;
    memcpy(padded, s, CERT_B64_LEN);
    memcpy(padded + CERT_B64_LEN, "==", 3);
    if (sodium_base642bin(raw, sizeof(raw), padded, CERT_B64_LEN + 2, NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        rawlen != CERT_RAW_LEN)
        return PTK_EINVAL;
    memcpy(node_id, raw, 20);
    memcpy(pub, raw + 20, 32);
    return PTK_OK;
}

static int parse_iat(const char *v, int *out)
{
    uint64_t n;
    if (!v || ptk_parse_u64(v, strlen(v), 0, 2, &n) != PTK_OK)
        return PTK_EINVAL;
    *out = (int)n;
    return PTK_OK;
}

/* ---------- server setup: identity from options or the state dir ---------- */

static int load_identity(const struct ptk_transport_cfg *cfg, struct ptk_obfs4_state *st,
                         char *err, size_t errlen)
{
    const struct ptk_kvlist *o = cfg->opts;
    const char *nid = o ? ptk_kvlist_get(o, "node-id") : NULL;
    const char *priv = o ? ptk_kvlist_get(o, "private-key") : NULL;
    const char *seed = o ? ptk_kvlist_get(o, "drbg-seed") : NULL;
    const char *iat = o ? ptk_kvlist_get(o, "iat-mode") : NULL;
    char path[4096];

    memset(st, 0, sizeof(*st));
    if (nid || priv || seed) {
        const char *missing = !priv ? "private-key" : !nid ? "node-id" : !seed ? "drbg-seed" : NULL;
        if (missing) {
            snprintf(err, errlen, "missing option '%s' (node-id, private-key and drbg-seed go "
                                  "together)", missing);
            return PTK_EINVAL;
        }
        if (ptk_hex_decode(nid, strlen(nid), st->node_id, 20) != PTK_OK) {
            snprintf(err, errlen, "option 'node-id' is not 40 hex digits");
            return PTK_EINVAL;
        }
        if (ptk_hex_decode(priv, strlen(priv), st->private_key, 32) != PTK_OK) {
            snprintf(err, errlen, "option 'private-key' is not 64 hex digits");
            return PTK_EINVAL;
        }
        if (ptk_hex_decode(seed, strlen(seed), st->drbg_seed, 24) != PTK_OK) {
            snprintf(err, errlen, "option 'drbg-seed' is not 48 hex digits");
            return PTK_EINVAL;
        }
    } else {
        if (!cfg->state_dir) {
            snprintf(err, errlen, "no state directory for the server identity");
            return PTK_EINVAL;
        }
        if (ptk_path_join(path, sizeof(path), cfg->state_dir, OBFS4_STATE_FILE) != PTK_OK) {
            snprintf(err, errlen, "state directory path too long");
            return PTK_EINVAL;
        }
        char *text = NULL, why[200] = "";
        size_t len = 0;
        int r = ptk_file_read(path, 65536, &text, &len);
        if (r == PTK_ENOENT) {
            /* A new bridge: a fresh identity (written below). */
            ptk_random(st->node_id, 20);
            uint8_t rnd[32], d[64];
            ptk_random(rnd, 32);
            crypto_hash_sha512(d, rnd, 32);
            memcpy(st->private_key, d, 32);
            ptk_memzero(d, sizeof(d));
            ptk_memzero(rnd, sizeof(rnd));
            ptk_random(st->drbg_seed, 24);
            st->iat_mode = IAT_NONE;
            ptk_log(cfg->log, PTK_LOG_NOTICE, "obfs4: created a new identity in %s", path);
        } else if (r != PTK_OK) {
            snprintf(err, errlen, "cannot read %s: %s", path,
                     r == PTK_ETOOBIG ? "file too large" : strerror(errno));
            return PTK_ESTATE;
        } else {
            r = ptk_obfs4_state_parse(text, len, st, why, sizeof(why));
            ptk_wipe(text, len);
            free(text);
            if (r != PTK_OK) {
                snprintf(err, errlen, "%s: %s (fix or remove the file; a new identity would "
                                      "change the bridge's cert)", path, why);
                return PTK_ESTATE;
            }
        }
    }
    if (iat && parse_iat(iat, &st->iat_mode) != PTK_OK) {
        snprintf(err, errlen, "option 'iat-mode' must be 0, 1 or 2");
        return PTK_EINVAL;
    }
    return PTK_OK;
}

static int save_state(const struct ptk_transport_cfg *cfg, const struct ptk_obfs4_state *st,
                      const char *cert, char *err, size_t errlen)
{
    char path[4096];
    struct ptk_buf b;
    int r = PTK_OK;
    if (!cfg->state_dir)
        return PTK_OK;
    ptk_buf_init(&b, 8192);
    if (ptk_path_join(path, sizeof(path), cfg->state_dir, OBFS4_STATE_FILE) != PTK_OK ||
        ptk_obfs4_state_format(st, &b) != PTK_OK ||
        ptk_file_write_atomic(path, ptk_buf_data(&b), ptk_buf_len(&b), 0600) != PTK_OK) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        r = PTK_ESTATE;
        goto out;
    }
    ptk_buf_reset(&b);
    ptk_buf_printf(&b,
                   "# obfs4 torrc client bridge line\n"
                   "#\n"
                   "# Written by ptkit from the current obfs4 server identity. Editing\n"
                   "# this file has no effect; it is rewritten at every start.\n"
                   "#\n"
                   "# Before handing out this line, replace the placeholders:\n"
                   "#  <IP ADDRESS>  - the public IP address of the bridge\n"
                   "#  <PORT>        - the TCP port of the bridge's obfs4 listener\n"
                   "#  <FINGERPRINT> - the bridge's fingerprint (DataDirectory/fingerprint)\n"
                   "#\n"
                   "#\n\n"
                   "Bridge obfs4 <IP ADDRESS>:<PORT> <FINGERPRINT> cert=%s iat-mode=%d\n",
                   cert, st->iat_mode);
    if (ptk_path_join(path, sizeof(path), cfg->state_dir, OBFS4_BRIDGE_FILE) != PTK_OK ||
        ptk_file_write_atomic(path, ptk_buf_data(&b), ptk_buf_len(&b), 0600) != PTK_OK) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        r = PTK_ESTATE;
    }
out:
    ptk_buf_free(&b);
    return r;
}

static int64_t drbg_src(void *ud)
{
    return ptk_drbg_int63(ud);
}

static void obfs4_server_free(void *p)
{
    struct obfs4_server *s = p;
    if (!s)
        return;
    obfs4_replay_free(s->replay);
    ptk_keypool_free(s->keys);
    ptk_memzero(s, sizeof(*s));
    free(s);
}

static int obfs4_server_setup(const struct ptk_transport_cfg *cfg, void **out,
                              struct ptk_kvlist *smethod_args, char *err, size_t errlen)
{
    struct ptk_obfs4_state st;
    struct obfs4_server *s = NULL;
    char cert[CERT_B64_LEN + 3], iat[4];
    int r = load_identity(cfg, &st, err, errlen);
    if (r != PTK_OK)
        goto out;
    uint8_t derived[32];
    if (crypto_scalarmult_base(derived, st.private_key) != 0) {
        snprintf(err, errlen, "private-key gives an invalid public key");
        r = PTK_EINVAL;
        goto out;
    }
    if (st.has_public_key && !ptk_ct_equal(derived, st.public_key, 32))
        ptk_log(cfg->log, PTK_LOG_WARNING,
                "obfs4: public-key in the state file does not match private-key; using the key "
                "derived from private-key (as obfs4proxy does)");
    memcpy(st.public_key, derived, 32);
    st.has_public_key = true;
    cert_encode(st.node_id, st.public_key, cert);
    if ((r = save_state(cfg, &st, cert, err, errlen)) != PTK_OK)
        goto out;

    s = calloc(1, sizeof(*s));
    if (!s || !(s->replay = obfs4_replay_new(REPLAY_TTL_S, REPLAY_MAX)) ||
        !(s->keys = ptk_keypool_new(KEYPOOL_SIZE, true))) {
        snprintf(err, errlen, "out of memory");
        r = PTK_ENOMEM;
        goto out;
    }
    memcpy(s->node_id, st.node_id, 20);
    memcpy(s->id_priv, st.private_key, 32);
    memcpy(s->id_pub, st.public_key, 32);
    memcpy(s->mac_key, st.public_key, 32);
    memcpy(s->mac_key + 32, st.node_id, 20);
    memcpy(s->drbg_seed, st.drbg_seed, 24);
    s->iat_mode = st.iat_mode;
    ptk_probdist_init(&s->lendist, st.drbg_seed, 0, OBFS4_MAX_SEGMENT, false);
    if (s->iat_mode != IAT_NONE) {
        uint8_t iat_seed[32];
        ptk_sha256(st.drbg_seed, 24, iat_seed);
        ptk_probdist_init(&s->iatdist, iat_seed, 0, MAX_IAT_DELAY, false);
    }
    /* The close delay for failed handshakes: fixed per bridge, as obfs4proxy draws it. */
    struct ptk_drbg d;
    struct ptk_gorand rng = {drbg_src, &d};
    ptk_drbg_init(&d, st.drbg_seed);
    s->close_delay_s = ptk_go_intn(&rng, MAX_CLOSE_DELAY);
    ptk_memzero(&d, sizeof(d));

    snprintf(iat, sizeof(iat), "%d", s->iat_mode);
    if ((r = ptk_kvlist_add(smethod_args, "cert", 4, cert, strlen(cert))) != PTK_OK ||
        (r = ptk_kvlist_add(smethod_args, "iat-mode", 8, iat, strlen(iat))) != PTK_OK) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    *out = s;
    s = NULL;
out:
    obfs4_server_free(s);
    ptk_memzero(&st, sizeof(st));
    return r;
}

/* ---------- connections ---------- */

static void obfs4_conn_free(void *p)
{
    struct obfs4_conn *c = p;
    if (!c)
        return;
    if (c->hs) {
        ptk_memzero(c->hs, sizeof(*c->hs));
        free(c->hs);
    }
    dists_put(c->cl, c->dists);
    if (c->stage) {
        ptk_memzero(c->stage, c->stage_cap);
        free(c->stage);
    }
    obfs4_framer_wipe(&c->enc);
    obfs4_framer_wipe(&c->dec);
    free(c);
}

static int obfs4_client_setup(const struct ptk_transport_cfg *cfg, void **out, char *err,
                              size_t errlen)
{
    struct obfs4_client *c = calloc(1, sizeof(*c));
    if (!c || !(c->keys = ptk_keypool_new(KEYPOOL_SIZE, true))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return PTK_ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return PTK_OK;
}

static void obfs4_client_free(void *p)
{
    struct obfs4_client *c = p;
    if (!c)
        return;
    ptk_keypool_free(c->keys);
    for (int i = 0; i < DIST_CACHE; i++)
        dists_put(NULL, c->cache[i]); /* connections are gone: only the cache's refs remain */
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int obfs4_client_new(void *client, const struct ptk_kvlist *args, void **out, char *err,
                            size_t errlen)
{
    uint8_t node_id[20], pub[32];
    int iat;
    const char *cert = ptk_kvlist_get(args, "cert");
    if (cert) {
        if (cert_decode(cert, node_id, pub) != PTK_OK) {
            snprintf(err, errlen, "argument 'cert' is not a valid obfs4 cert (70 base64 chars)");
            return PTK_EINVAL;
        }
    } else {
        const char *nid = ptk_kvlist_get(args, "node-id");
        const char *pk = ptk_kvlist_get(args, "public-key");
        if (!nid || !pk) {
            snprintf(err, errlen, "missing argument '%s' (give cert=... or node-id= and "
                                  "public-key=)", !nid ? "node-id" : "public-key");
            return PTK_EINVAL;
        }
        if (ptk_hex_decode(nid, strlen(nid), node_id, 20) != PTK_OK) {
            snprintf(err, errlen, "argument 'node-id' is not 40 hex digits");
            return PTK_EINVAL;
        }
        if (ptk_hex_decode(pk, strlen(pk), pub, 32) != PTK_OK) {
            snprintf(err, errlen, "argument 'public-key' is not 64 hex digits");
            return PTK_EINVAL;
        }
    }
    const char *iv = ptk_kvlist_get(args, "iat-mode");
    if (!iv) {
        snprintf(err, errlen, "missing argument 'iat-mode'");
        return PTK_EINVAL;
    }
    if (parse_iat(iv, &iat) != PTK_OK) {
        snprintf(err, errlen, "argument 'iat-mode' must be 0, 1 or 2");
        return PTK_EINVAL;
    }
    struct obfs4_conn *c = calloc(1, sizeof(*c));
    if (!c || !(c->hs = calloc(1, sizeof(*c->hs)))) {
        obfs4_conn_free(c);
        snprintf(err, errlen, "out of memory");
        return PTK_ENOMEM;
    }
    c->iat_mode = iat;
    /* the session key before dialing, as obfs4proxy makes it when parsing args */
    struct obfs4_client *cl = client;
    if (cl && cl->keys)
        ptk_keypool_take(cl->keys, c->hs->x, c->hs->X, c->hs->repr);
    else
        ptk_elligator2_keygen(c->hs->x, c->hs->X, c->hs->repr);
    memcpy(c->hs->node_id, node_id, 20);
    memcpy(c->hs->B, pub, 32);
    memcpy(c->hs->mac_key, pub, 32);
    memcpy(c->hs->mac_key + 32, node_id, 20);
    c->cl = cl;
    *out = c;
    return PTK_OK;
}

static int obfs4_server_new(void *server, void **out)
{
    struct obfs4_server *s = server;
    struct obfs4_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return PTK_ENOMEM;
    c->server = true;
    c->srv = s;
    c->iat_mode = s->iat_mode;
    ptk_keypool_take(s->keys, c->y, c->Y, c->Yrepr);
    c->lendist = &s->lendist;
    c->iatdist = s->iat_mode != IAT_NONE ? &s->iatdist : NULL;
    *out = c;
    return PTK_OK;
}

static int obfs4_start(void *conn, struct ptk_xfer *x)
{
    struct obfs4_conn *c = conn;
    c->start_ms = x->now_ms;
    if (c->server) {
        x->timer_us = (int64_t)SERVER_HS_TIMEOUT_S * 1000000;
        return PTK_OK;
    }
    /* Client: X' | P_C | M_C | MAC_C in one write. */
    struct client_hs *hs = c->hs;
    int padlen = rand_range(CLIENT_MIN_PAD, CLIENT_MAX_PAD);
    size_t total = REPR_LEN + (size_t)padlen + MARK_LEN + MAC_LEN;
    uint8_t *p = x->wire->reserve(x->wire->ud, total);
    if (!p)
        return PTK_ENOMEM;
    memcpy(p, hs->repr, REPR_LEN);
    ptk_random_fast(p + REPR_LEN, (size_t)padlen);
    hmac16(p + REPR_LEN + padlen, hs->mac_key, sizeof(hs->mac_key), hs->repr, REPR_LEN, NULL, 0);
    epoch_hour(x->unix_time, 0, hs->epoch, sizeof(hs->epoch), &hs->epoch_len);
    hmac16(p + REPR_LEN + padlen + MARK_LEN, hs->mac_key, sizeof(hs->mac_key), p,
           REPR_LEN + (size_t)padlen + MARK_LEN, hs->epoch, hs->epoch_len);
    x->wire->commit(x->wire->ud, total);
    x->timer_us = (int64_t)CLIENT_HS_TIMEOUT_S * 1000000;
    return PTK_OK;
}

/* Server handshake failed: silence until accept + 30 s + the bridge's close delay. */
static int probe_close(struct obfs4_conn *c, struct ptk_xfer *x)
{
    c->state = ST_FAILED;
    uint64_t end = c->start_ms + ((uint64_t)SERVER_HS_TIMEOUT_S + (uint64_t)c->srv->close_delay_s) *
                                     1000;
    int64_t left = end > x->now_ms ? (int64_t)(end - x->now_ms) : 0;
    x->timer_us = left > 0 ? left * 1000 : 0;
    return PTK_EPROBE;
}

static int server_handshake(struct obfs4_conn *c, const uint8_t *in, size_t len, size_t *used,
                            struct ptk_xfer *x)
{
    struct obfs4_server *s = c->srv;
    uint8_t mark[MARK_LEN], mac[MAC_LEN];
    *used = 0;
    if (len < CLIENT_MIN_HS)
        return PTK_OK;
    /* The mark must sit right before the MAC at the end of what has arrived. */
    size_t start = REPR_LEN + CLIENT_MIN_PAD, end = len < MAX_HANDSHAKE ? len : MAX_HANDSHAKE;
    bool at_tail = false;
    if (start <= len && end - start >= MARK_LEN + MAC_LEN) {
        hmac16(mark, s->mac_key, sizeof(s->mac_key), in, REPR_LEN, NULL, 0);
        at_tail = ptk_ct_equal(in + end - (MARK_LEN + MAC_LEN), mark, MARK_LEN);
    }
    if (!at_tail)
        return len >= MAX_HANDSHAKE ? probe_close(c, x) : PTK_OK;
    size_t pos = end - (MARK_LEN + MAC_LEN);
    char epoch[24] = "", e[24];
    size_t epoch_len = 0, elen;
    bool found = false;
    static const int offsets[3] = {0, -1, 1};
    for (int i = 0; i < 3; i++) {
        epoch_hour(x->unix_time, offsets[i], e, sizeof(e), &elen);
        hmac16(mac, s->mac_key, sizeof(s->mac_key), in, pos + MARK_LEN, e, elen);
        if (ptk_ct_equal(mac, in + pos + MARK_LEN, MAC_LEN)) {
            if (obfs4_replay_test_and_set(s->replay, x->unix_time, mac, MAC_LEN))
                return probe_close(c, x);
            found = true;
            memcpy(epoch, e, elen + 1);
            epoch_len = elen;
        }
    }
    if (!found || len != pos + MARK_LEN + MAC_LEN)
        return probe_close(c, x);

    uint8_t X[32], repr[32], key_seed[32], auth[32], okm[2 * OBFS4_KEY_MATERIAL];
    ptk_elligator2_repr_to_pub(X, in);
    memcpy(repr, c->Yrepr, sizeof(repr));
    int r = ptk_ntor_server(key_seed, auth, c->y, c->Y, s->id_priv, s->id_pub, X, s->node_id);
    ptk_memzero(c->y, sizeof(c->y));
    if (r != PTK_OK)
        return probe_close(c, x);
    ptk_ntor_kdf(key_seed, okm, sizeof(okm));
    obfs4_framer_init(&c->dec, okm);
    obfs4_framer_init(&c->enc, okm + OBFS4_KEY_MATERIAL);
    ptk_memzero(okm, sizeof(okm));
    ptk_memzero(key_seed, sizeof(key_seed));

    /* Y' | AUTH | P_S | M_S | MAC_S, then the PRNG-seed frame, in one write. */
    int padlen = rand_range(0, SERVER_MAX_PAD);
    size_t hslen = REPR_LEN + AUTH_LEN + (size_t)padlen + MARK_LEN + MAC_LEN;
    uint8_t *p = x->wire->reserve(x->wire->ud, hslen + INLINE_SEED_FRAME);
    if (!p)
        return PTK_ENOMEM;
    memcpy(p, repr, REPR_LEN);
    memcpy(p + REPR_LEN, auth, AUTH_LEN);
    ptk_random_fast(p + REPR_LEN + AUTH_LEN, (size_t)padlen);
    size_t off = REPR_LEN + AUTH_LEN + (size_t)padlen;
    hmac16(p + off, s->mac_key, sizeof(s->mac_key), repr, REPR_LEN, NULL, 0);
    hmac16(p + off + MARK_LEN, s->mac_key, sizeof(s->mac_key), p, off + MARK_LEN, epoch,
           epoch_len);
    size_t fl = obfs4_frame_encode(&c->enc, p + hslen, OBFS4_PACKET_PRNG_SEED, s->drbg_seed,
                                   PTK_DRBG_SEED_LEN, 0);
    x->wire->commit(x->wire->ud, hslen + fl);
    *used = len;
    c->state = ST_ESTABLISHED;
    x->established = true;
    x->timer_us = 0;
    return PTK_OK;
}

static int client_handshake(struct obfs4_conn *c, const uint8_t *in, size_t len, size_t *used,
                            struct ptk_xfer *x)
{
    struct client_hs *hs = c->hs;
    uint8_t mark[MARK_LEN], mac[MAC_LEN];
    *used = 0;
    if (len < SERVER_MIN_HS)
        return PTK_OK;
    hmac16(mark, hs->mac_key, sizeof(hs->mac_key), in, REPR_LEN, NULL, 0);
    size_t start = REPR_LEN + AUTH_LEN, end = len < MAX_HANDSHAKE ? len : MAX_HANDSHAKE;
    const uint8_t *m = memmem(in + start, end - start, mark, MARK_LEN);
    if (!m || (size_t)(m - in) + MARK_LEN + MAC_LEN > end)
        return len >= MAX_HANDSHAKE ? PTK_EAUTH : PTK_OK;
    size_t pos = (size_t)(m - in);
    hmac16(mac, hs->mac_key, sizeof(hs->mac_key), in, pos + MARK_LEN, hs->epoch, hs->epoch_len);
    if (!ptk_ct_equal(mac, in + pos + MARK_LEN, MAC_LEN))
        return PTK_EAUTH;
    uint8_t Y[32], key_seed[32], auth[32], okm[2 * OBFS4_KEY_MATERIAL];
    ptk_elligator2_repr_to_pub(Y, in);
    int r = ptk_ntor_client(key_seed, auth, hs->x, hs->X, Y, hs->B, hs->node_id);
    if (r != PTK_OK || !ptk_ct_equal(auth, in + REPR_LEN, AUTH_LEN)) {
        ptk_memzero(key_seed, sizeof(key_seed));
        return PTK_EAUTH;
    }
    ptk_ntor_kdf(key_seed, okm, sizeof(okm));
    obfs4_framer_init(&c->enc, okm);
    obfs4_framer_init(&c->dec, okm + OBFS4_KEY_MATERIAL);
    ptk_memzero(okm, sizeof(okm));
    ptk_memzero(key_seed, sizeof(key_seed));
    ptk_memzero(hs, sizeof(*hs));
    free(hs);
    c->hs = NULL;
    *used = pos + MARK_LEN + MAC_LEN;
    c->state = ST_ESTABLISHED;
    x->established = true;
    x->timer_us = 0;
    return PTK_OK;
}

/* Decode whole frames; deliver payloads; act on PRNG-seed packets. */
static int decode_frames(struct obfs4_conn *c, const uint8_t *in, size_t len, size_t *used,
                         struct ptk_xfer *x)
{
    uint8_t pkt[OBFS4_MAX_FRAME_PAYLOAD];
    size_t off = 0;
    while (off < len) {
        size_t n = 0, pktlen = 0;
        int r = obfs4_frame_decode(&c->dec, in + off, len - off, &n, pkt, &pktlen);
        off += n;
        if (r == PTK_MORE)
            break;
        if (r < 0) {
            *used = off;
            return r;
        }
        if (pktlen < OBFS4_PACKET_OVERHEAD) {
            *used = off;
            return PTK_EPROTO;
        }
        size_t plen = (size_t)pkt[1] << 8 | pkt[2];
        if (plen > pktlen - OBFS4_PACKET_OVERHEAD) {
            *used = off;
            return PTK_EPROTO;
        }
        if (pkt[0] == OBFS4_PACKET_PAYLOAD && plen > 0) {
            if ((r = ptk_sink_put(x->app, pkt + OBFS4_PACKET_OVERHEAD, plen)) != PTK_OK) {
                *used = off;
                return r;
            }
        } else if (pkt[0] == OBFS4_PACKET_PRNG_SEED && !c->server && plen == PTK_DRBG_SEED_LEN) {
            int rs = set_dists(c, pkt + OBFS4_PACKET_OVERHEAD, true);
            if (rs != PTK_OK) {
                *used = off;
                return rs;
            }
        }
        /* other packet types are ignored, as obfs4proxy does */
    }
    *used = off;
    return PTK_OK;
}

static int obfs4_decode(void *conn, const uint8_t *in, size_t len, size_t *used,
                        struct ptk_xfer *x)
{
    struct obfs4_conn *c = conn;
    *used = 0;
    if (c->state == ST_FAILED)
        return PTK_EPROBE;
    if (c->state == ST_HANDSHAKE) {
        int r = c->server ? server_handshake(c, in, len, used, x)
                          : client_handshake(c, in, len, used, x);
        if (r != PTK_OK || c->state != ST_ESTABLISHED)
            return r;
        size_t more = 0;
        r = decode_frames(c, in + *used, len - *used, &more, x);
        *used += more;
        return r;
    }
    return decode_frames(c, in, len, used, x);
}

/*
 * Append the padding that brings a burst of `burst` bytes toward `target`
 * bytes past a segment boundary, as obfs4proxy's padBurst. Returns bytes
 * written to out (room: 2 * OBFS4_MAX_SEGMENT), 0 if none.
 */
static size_t pad_burst(struct obfs4_conn *c, uint8_t *out, size_t burst, int target)
{
    size_t tail = burst % OBFS4_MAX_SEGMENT, pad;
    size_t t = (size_t)target;
    pad = t >= tail ? t - tail : (OBFS4_MAX_SEGMENT - tail) + t;
    if (pad > OBFS4_HEADER_LEN)
        return obfs4_frame_encode(&c->enc, out, OBFS4_PACKET_PAYLOAD, NULL, 0,
                                  pad - OBFS4_HEADER_LEN);
    if (pad == 0)
        return 0;
    size_t n = obfs4_frame_encode(&c->enc, out, OBFS4_PACKET_PAYLOAD, NULL, 0,
                                  OBFS4_MAX_PACKET_PAYLOAD);
    if (n == 0)
        return 0;
    size_t m = obfs4_frame_encode(&c->enc, out + n, OBFS4_PACKET_PAYLOAD, NULL, 0, pad);
    return m ? n + m : 0;
}

/* Frame in[0..len) (len <= BATCH_MAX) into out; returns bytes written or 0 on nonce wrap. */
static size_t frame_batch(struct obfs4_conn *c, uint8_t *out, const uint8_t *in, size_t len,
                          bool pad)
{
    size_t w = 0;
    for (size_t off = 0; off < len; off += OBFS4_MAX_PACKET_PAYLOAD) {
        size_t chunk = len - off < OBFS4_MAX_PACKET_PAYLOAD ? len - off : OBFS4_MAX_PACKET_PAYLOAD;
        size_t n = obfs4_frame_encode(&c->enc, out + w, OBFS4_PACKET_PAYLOAD, in + off, chunk, 0);
        if (n == 0)
            return 0;
        w += n;
    }
    if (pad) {
        size_t p = pad_burst(c, out + w, w, ptk_probdist_sample(c->lendist));
        w += p;
    }
    return w;
}

static size_t batch_room(size_t len)
{
    size_t frames = (len + OBFS4_MAX_PACKET_PAYLOAD - 1) / OBFS4_MAX_PACKET_PAYLOAD;
    return frames * OBFS4_MAX_SEGMENT + 2 * OBFS4_MAX_SEGMENT + OBFS4_HEADER_LEN;
}

/* iat modes: send the next segment of the staged burst and schedule the one after. */
static int send_staged(struct obfs4_conn *c, struct ptk_xfer *x)
{
    for (;;) {
        size_t left = c->stage_len - c->stage_off, seg;
        if (left == 0) {
            ptk_memzero(c->stage, c->stage_cap);
            free(c->stage);
            c->stage = NULL;
            c->stage_len = c->stage_off = c->stage_cap = 0;
            x->timer_us = 0;
            x->holding = false;
            return PTK_OK;
        }
        if (c->iat_mode == IAT_ENABLED) {
            seg = left < OBFS4_MAX_SEGMENT ? left : OBFS4_MAX_SEGMENT;
        } else {
            int target = ptk_probdist_sample(c->lendist);
            if (left < (size_t)target) {
                /* pad up to the target; if padding overshoots, draw another target */
                if (c->stage_cap - c->stage_len < 2 * OBFS4_MAX_SEGMENT + OBFS4_HEADER_LEN) {
                    size_t ncap = c->stage_len + 2 * OBFS4_MAX_SEGMENT + OBFS4_HEADER_LEN;
                    uint8_t *ns = realloc(c->stage, ncap);
                    if (!ns)
                        return PTK_ENOMEM;
                    c->stage = ns;
                    c->stage_cap = ncap;
                }
                size_t p = pad_burst(c, c->stage + c->stage_len, left, target);
                c->stage_len += p;
                if (c->stage_len - c->stage_off != (size_t)target)
                    continue;
                left = c->stage_len - c->stage_off;
            }
            /* A 0 drawn (obfs4proxy panics there) sends what a segment holds:
             * a table of only {0} must not stall the connection. */
            if (target == 0)
                seg = left < OBFS4_MAX_SEGMENT ? left : OBFS4_MAX_SEGMENT;
            else
                seg = (size_t)target;
        }
        int r = ptk_sink_put(x->wire, c->stage + c->stage_off, seg);
        if (r != PTK_OK)
            return r;
        c->stage_off += seg;
        int delay = ptk_probdist_sample(c->iatdist) * 100; /* microseconds */
        x->timer_us = delay > 0 ? delay : 1;
        x->holding = true;
        return PTK_OK;
    }
}

static int obfs4_encode(void *conn, const uint8_t *in, size_t len, size_t *used,
                        struct ptk_xfer *x)
{
    struct obfs4_conn *c = conn;
    *used = 0;
    if (c->state != ST_ESTABLISHED)
        return c->state == ST_FAILED ? PTK_EPROBE : PTK_OK; /* wait for the handshake */
    if (c->stage || len == 0)
        return PTK_OK; /* the previous burst is still being paced out, or nothing to send */
    int rd = ensure_dists(c);
    if (rd != PTK_OK)
        return rd;
    size_t n = len < BATCH_MAX ? len : BATCH_MAX;
    size_t room = batch_room(n);
    if (c->iat_mode == IAT_NONE) {
        uint8_t *p = x->wire->reserve(x->wire->ud, room);
        if (!p)
            return PTK_ENOMEM;
        size_t w = frame_batch(c, p, in, n, true);
        if (w == 0)
            return PTK_EPROTO;
        x->wire->commit(x->wire->ud, w);
        *used = n;
        return PTK_OK;
    }
    c->stage = malloc(room);
    if (!c->stage)
        return PTK_ENOMEM;
    c->stage_cap = room;
    c->stage_off = 0;
    c->stage_len = frame_batch(c, c->stage, in, n, c->iat_mode == IAT_ENABLED);
    if (c->stage_len == 0)
        return PTK_EPROTO;
    *used = n;
    return send_staged(c, x);
}

static int obfs4_timer(void *conn, struct ptk_xfer *x)
{
    struct obfs4_conn *c = conn;
    if (c->state == ST_HANDSHAKE)
        return c->server ? probe_close(c, x) : PTK_ETIMEDOUT;
    if (c->stage)
        return send_staged(c, x);
    return PTK_OK;
}

const struct ptk_transport_ops ptk_transport_obfs4 = {
    .name = "obfs4",
    .flags = PTK_TRANSPORT_THREADSAFE, /* replay filter, key pool, table cache: locked */
    .server_setup = obfs4_server_setup,
    .server_free = obfs4_server_free,
    .client_setup = obfs4_client_setup,
    .client_free = obfs4_client_free,
    .client_new = obfs4_client_new,
    .server_new = obfs4_server_new,
    .conn_free = obfs4_conn_free,
    .start = obfs4_start,
    .encode = obfs4_encode,
    .decode = obfs4_decode,
    .timer = obfs4_timer,
};
