/*
 * scramblesuit transport (see transport/scramblesuit.h).
 *
 * Client, UniformDH (obfs4proxy): X | P_C | M_C | MAC with P_C 0..1308 random
 * bytes, M_C = HMAC-SHA256-128(k_B, X), MAC = HMAC-SHA256-128(k_B, X | P_C |
 * M_C | E), E the unix hour in decimal. The server answers Y | P_S | M_S |
 * MAC (E echoed), the client looks for M_S behind Y within the first 1516
 * bytes (gives up at 1532) and checks the MAC with its own E; master key =
 * SHA-256(UniformDH secret). The client's key pair is made when the
 * connection is created, as obfs4proxy does, so its cost is not visible on
 * the wire.
 *
 * Client, session ticket: T | P | M | MAC with P 0..1388 bytes, M and MAC
 * keyed with the client->server HMAC key of the ticket's master key. No
 * answer comes: the client is connected at once. A ticket is used once
 * (taken out of the store when the connection starts) and expires 7 days
 * after it was received; the server sends a new one on every connection.
 *
 * Server (obfsproxy): the first bytes are tried as a ticket (its HMAC under
 * the current or previous ticket key, then its identifier and age) and as a
 * UniformDH message; each is found by its mark, the first occurrence within
 * 1516 bytes, and accepted if the MAC verifies for E-1, E or E+1 and was not
 * seen before (one replay filter for both, 3 hours). It then sends its
 * UniformDH answer (if any), a new-ticket message and its PRNG seed, each
 * message burst padded. A server that cannot authenticate its client says
 * nothing: a definite failure, 1532 bytes without one, or 30 s without one
 * make it read and discard until accept + 30 s + a per-bridge delay of
 * 0..59 s (from the PRNG seed), then close (PTK_EPROBE).
 *
 * Data: each encode call sends its input as 1427-byte payload messages
 * followed by padding messages that make the burst's last segment as long
 * as a sample from the length distribution (21..1448; the client's starts
 * random and becomes the server's once its PRNG seed arrives). Messages are
 * built, encrypted and MACed in place in the output sink; a received one is
 * verified before it is decrypted straight into the app sink. Nothing is
 * allocated per message.
 *
 * Files: the server keeps its password, PRNG seed and ticket keys in the
 * state directory (rewritten at setup and when the ticket keys rotate,
 * weekly); the client keeps its tickets in obfs4proxy's ticket store,
 * rewritten whenever a ticket is taken or received (at most twice per
 * connection). These writes happen while relaying, the one exception to
 * transport.h's "only setup touches files": obfs4proxy persists tickets the
 * same way and the ops table has no later hook. The store is keyed by a hash
 * of the password, not by the bridge's address as in obfs4proxy: a transport
 * is never told the address it is connected to.
 */
#include "transport/scramblesuit.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/aes_cbc.h"
#include "crypto/aes_ctr.h"
#include "crypto/crypto.h"
#include "crypto/drbg.h"
#include "crypto/gorand.h"
#include "crypto/kdf.h"
#include "crypto/probdist.h"
#include "crypto/uniformdh.h"
#include "ptkit/error.h"
#include "transport/obfs4_replay.h"
#include "util/base32.h"
#include "util/file.h"
#include "util/str.h"

#define PUB PTK_UDH_LEN
#define MARK SCRAMBLESUIT_MARK_LEN
#define MACL SCRAMBLESUIT_MAC_LEN
#define TICKET PTK_SS_TICKET_LEN
#define PWLEN PTK_SS_PASSWORD_LEN
#define HDR SCRAMBLESUIT_HDR_LEN
#define MTU SCRAMBLESUIT_MTU
#define MPU SCRAMBLESUIT_MPU
#define SEARCH_END (SCRAMBLESUIT_MAX_PADDING + MARK)    /* a mark must end within this */
#define NEW_TICKET_LEN (PTK_SS_MASTER_KEY_LEN + TICKET) /* 144 */
#define TICKET_STATE_LEN 64
#define TICKET_ID "ScrambleSuitTicket"
#define TICKET_ID_LEN 18
#define PAD_SPLIT 700 /* padding longer than one segment: a 700-byte message, then the rest */
#define BATCH_MAX 32768
#define MAX_CLOSE_DELAY 60
#define REPLAY_TTL_S (3 * 3600)
#define REPLAY_MAX (100 * 1024)
#define STORE_MAX ((size_t)1 << 20)
#define PEER_PREFIX "password-sha256:"
#define PEER_NAME_LEN (sizeof(PEER_PREFIX) - 1 + 64)

struct ss_server {
    uint8_t password[PWLEN];
    uint8_t prng_seed[PTK_SS_PRNG_SEED_LEN];
    struct ptk_probdist lendist;
    int close_delay_s;
    struct obfs4_replay *replay;
    pthread_mutex_t mu; /* st (ticket keys) and the state file */
    struct ptk_ss_server_state st;
    char *state_path;
};

struct ss_client {
    pthread_mutex_t mu; /* store and its file */
    char *path;         /* NULL: tickets are kept in memory only */
    struct ptk_ss_tickets store;
};

enum conn_state { ST_HANDSHAKE, ST_ESTABLISHED, ST_FAILED };

struct direction {
    struct ptk_aes_ctr ctr;
    uint8_t mac_key[32];
};

struct scramblesuit_conn {
    bool server;
    enum conn_state state;
    uint64_t start_ms;
    struct ss_server *srv;
    struct ss_client *cli;
    uint8_t password[PWLEN];
    char peer[PEER_NAME_LEN + 1]; /* client: the ticket store's name for this bridge */
    /* handshake */
    uint8_t x[PUB], pub[PUB]; /* client: UniformDH key pair */
    char epoch[24];           /* client: the E it sent */
    size_t epoch_len;
    uint8_t udh_mark[MARK]; /* the peer's UniformDH mark, once its key is in */
    bool have_udh_mark;
    bool ticket_ok, ticket_dead, udh_dead; /* server: the two ways to authenticate */
    struct scramblesuit_keys tk;           /* server: keys from the ticket's master key */
    uint8_t ticket_mark[MARK];
    /* data */
    struct direction tx, rx;
    bool rx_hdr; /* a message header has been decrypted; its body is awaited */
    uint8_t rx_mac[MACL], rx_hdr_ct[HDR - MACL];
    size_t rx_total, rx_plen;
    uint8_t rx_flags;
    const struct ptk_probdist *lendist;
    struct ptk_probdist *own_len; /* client */
};

/* ---------- small helpers ---------- */

static void epoch_hour(int64_t unix_time, int offset, char out[24], size_t *len)
{
    int w = snprintf(out, 24, "%" PRId64, unix_time / 3600 + offset);
    *len = w > 0 ? (size_t)w : 0;
}

/* HMAC-SHA256-128(key, a | b) */
static void hmac128(uint8_t out[MACL], const uint8_t *key, size_t keylen, const uint8_t *a,
                    size_t alen, const void *b, size_t blen)
{
    uint8_t full[PTK_SHA256_LEN];
    ptk_hmac_sha256_ctx c;
    ptk_hmac_sha256_init(&c, key, keylen);
    ptk_hmac_sha256_update(&c, a, alen);
    if (blen)
        ptk_hmac_sha256_update(&c, b, blen);
    ptk_hmac_sha256_final(&c, full);
    memcpy(out, full, MACL);
    ptk_memzero(full, sizeof(full));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---------- key schedule and tickets ---------- */

void scramblesuit_kdf(const uint8_t master[PTK_SS_MASTER_KEY_LEN], bool server,
                      struct scramblesuit_keys *k)
{
    uint8_t okm[SCRAMBLESUIT_OKM_LEN];
    ptk_hkdf_sha256_expand(okm, sizeof(okm), master, PTK_SS_MASTER_KEY_LEN, NULL, 0);
    const uint8_t *c2s = okm, *s2c = okm + 40, *c2s_mac = okm + 80, *s2c_mac = okm + 112;
    memcpy(k->send_key, server ? s2c : c2s, 32);
    memcpy(k->send_iv, (server ? s2c : c2s) + 32, 8);
    memcpy(k->recv_key, server ? c2s : s2c, 32);
    memcpy(k->recv_iv, (server ? c2s : s2c) + 32, 8);
    memcpy(k->send_hmac, server ? s2c_mac : c2s_mac, 32);
    memcpy(k->recv_hmac, server ? c2s_mac : s2c_mac, 32);
    ptk_memzero(okm, sizeof(okm));
}

int scramblesuit_ticket_seal(const struct scramblesuit_ticket_keys *k, const uint8_t iv[16],
                             uint32_t issued, const uint8_t master[PTK_SS_MASTER_KEY_LEN],
                             uint8_t ticket[PTK_SS_TICKET_LEN])
{
    uint8_t st[TICKET_STATE_LEN];
    for (int i = 0; i < 4; i++)
        st[i] = (uint8_t)(issued >> (8 * i));
    memcpy(st + 4, TICKET_ID, TICKET_ID_LEN);
    memcpy(st + 4 + TICKET_ID_LEN, master, PTK_SS_MASTER_KEY_LEN);
    memset(st + 4 + TICKET_ID_LEN + PTK_SS_MASTER_KEY_LEN, 0, 10);
    memcpy(ticket, iv, 16);
    int r = ptk_aes128_cbc(true, k->aes, iv, st, ticket + 16, TICKET_STATE_LEN);
    ptk_memzero(st, sizeof(st));
    if (r != PTK_OK) {
        ptk_memzero(ticket, TICKET);
        return r;
    }
    ptk_hmac_sha256(k->hmac, sizeof(k->hmac), ticket, 16 + TICKET_STATE_LEN,
                    ticket + 16 + TICKET_STATE_LEN);
    return PTK_OK;
}

int scramblesuit_ticket_open(const struct scramblesuit_ticket_keys *k,
                             const uint8_t ticket[PTK_SS_TICKET_LEN], uint32_t *issued,
                             uint8_t master[PTK_SS_MASTER_KEY_LEN])
{
    uint8_t mac[PTK_SHA256_LEN], st[TICKET_STATE_LEN];
    ptk_hmac_sha256(k->hmac, sizeof(k->hmac), ticket, 16 + TICKET_STATE_LEN, mac);
    if (!ptk_ct_equal(mac, ticket + 16 + TICKET_STATE_LEN, sizeof(mac)))
        return PTK_EAUTH;
    int r = ptk_aes128_cbc(false, k->aes, ticket, ticket + 16, st, TICKET_STATE_LEN);
    if (r == PTK_OK && memcmp(st + 4, TICKET_ID, TICKET_ID_LEN) != 0)
        r = PTK_EAUTH;
    if (r == PTK_OK) {
        *issued = le32(st);
        memcpy(master, st + 4 + TICKET_ID_LEN, PTK_SS_MASTER_KEY_LEN);
    }
    ptk_memzero(st, sizeof(st));
    return r;
}

/* ---------- messages ---------- */

static int install_keys(struct scramblesuit_conn *c, const struct scramblesuit_keys *k)
{
    uint8_t iv[PTK_AES_CTR_IV_LEN] = {0};
    int r;
    iv[15] = 1; /* prefix (8) | 64-bit counter starting at 1 */
    memcpy(iv, k->send_iv, 8);
    if ((r = ptk_aes_ctr_init(&c->tx.ctr, k->send_key, 32, iv)) != PTK_OK)
        return r;
    memcpy(iv, k->recv_iv, 8);
    if ((r = ptk_aes_ctr_init(&c->rx.ctr, k->recv_key, 32, iv)) != PTK_OK)
        return r;
    memcpy(c->tx.mac_key, k->send_hmac, 32);
    memcpy(c->rx.mac_key, k->recv_hmac, 32);
    return PTK_OK;
}

/*
 * Build one message at out: MAC | E(total | plen | flags | payload | padlen
 * zero bytes). plen + padlen <= MPU. Returns its length, 0 if AES fails.
 */
static size_t put_message(struct direction *d, uint8_t *out, uint8_t flags, const uint8_t *p,
                          size_t plen, size_t padlen)
{
    uint8_t *b = out + MACL, full[PTK_SHA256_LEN];
    size_t total = plen + padlen, blen = HDR - MACL + total;
    b[0] = (uint8_t)(total >> 8);
    b[1] = (uint8_t)total;
    b[2] = (uint8_t)(plen >> 8);
    b[3] = (uint8_t)plen;
    b[4] = flags;
    if (plen)
        memcpy(b + 5, p, plen);
    memset(b + 5 + plen, 0, padlen);
    if (ptk_aes_ctr_xor(&d->ctr, b, b, blen) != PTK_OK)
        return 0;
    ptk_hmac_sha256(d->mac_key, sizeof(d->mac_key), b, blen, full);
    memcpy(out, full, MACL);
    return HDR + total;
}

/* Room a burst of n data bytes may take (messages, then at most two padding messages). */
static size_t burst_room(size_t n)
{
    return (n + MPU - 1) / MPU * MTU + 2 * MTU;
}

/*
 * Write data[0..n) as messages of type `flags`, then padding so that the
 * burst's last segment is as long as a sample of the length distribution
 * (as obfsproxy's packet morpher). Returns bytes written, 0 on failure.
 */
static size_t put_burst(struct scramblesuit_conn *c, uint8_t *out, uint8_t flags,
                        const uint8_t *data, size_t n)
{
    size_t w = 0, m;
    for (size_t off = 0; off < n; off += MPU) {
        size_t chunk = n - off < MPU ? n - off : MPU;
        if (!(m = put_message(&c->tx, out + w, flags, data + off, chunk, 0)))
            return 0;
        w += m;
    }
    size_t tail = w % MTU, sample = (size_t)ptk_probdist_sample(c->lendist), pad;
    pad = sample >= tail ? sample - tail : MTU - tail + sample;
    if (pad < HDR)
        pad += MTU;
    if (pad > MTU) {
        if (!(m = put_message(&c->tx, out + w, SCRAMBLESUIT_FLAG_PAYLOAD, NULL, 0,
                              PAD_SPLIT - HDR)))
            return 0;
        w += m;
        pad -= PAD_SPLIT;
    }
    if (!(m = put_message(&c->tx, out + w, SCRAMBLESUIT_FLAG_PAYLOAD, NULL, 0, pad - HDR)))
        return 0;
    return w + m;
}

/* ---------- the client's ticket store ---------- */

/* With cl->mu held: rewrite the store file (errors ignored, as obfs4proxy does). */
static void store_save(struct ss_client *cl, int64_t now)
{
    struct ptk_buf b;
    if (!cl->path)
        return;
    ptk_buf_init(&b, STORE_MAX);
    if (ptk_ss_tickets_format(&cl->store, now - SCRAMBLESUIT_TICKET_LIFETIME_S, &b) == PTK_OK)
        (void)ptk_file_write_atomic(cl->path, ptk_buf_data(&b), ptk_buf_len(&b), 0600);
    ptk_buf_free(&b);
}

/* Take peer's ticket out of the store; true if it is still valid. */
static bool store_take(struct ss_client *cl, const char *peer, int64_t now, struct ptk_ss_ticket *t)
{
    pthread_mutex_lock(&cl->mu);
    bool found = ptk_ss_tickets_take(&cl->store, peer, t);
    if (found)
        store_save(cl, now);
    pthread_mutex_unlock(&cl->mu);
    if (found && t->issued_at + SCRAMBLESUIT_TICKET_LIFETIME_S <= now) {
        ptk_memzero(t, sizeof(*t));
        found = false;
    }
    return found;
}

static void store_put(struct ss_client *cl, const char *peer, const uint8_t kt[NEW_TICKET_LEN],
                      int64_t now)
{
    pthread_mutex_lock(&cl->mu);
    if (ptk_ss_tickets_put(&cl->store, peer, kt, kt + PTK_SS_MASTER_KEY_LEN, now) == PTK_OK)
        store_save(cl, now);
    pthread_mutex_unlock(&cl->mu);
}

static void scramblesuit_client_free(void *p)
{
    struct ss_client *cl = p;
    if (!cl)
        return;
    pthread_mutex_destroy(&cl->mu);
    ptk_ss_tickets_free(&cl->store);
    free(cl->path);
    free(cl);
}

static int scramblesuit_client_setup(const struct ptk_transport_cfg *cfg, void **out, char *err,
                                     size_t errlen)
{
    char path[4096], why[200] = "", *text = NULL;
    size_t len = 0;
    int r = PTK_OK;
    struct ss_client *cl = calloc(1, sizeof(*cl));
    if (!cl || pthread_mutex_init(&cl->mu, NULL) != 0) {
        free(cl);
        snprintf(err, errlen, "out of memory");
        return PTK_ENOMEM;
    }
    *out = NULL;
    if (cfg->state_dir) {
        if (ptk_path_join(path, sizeof(path), cfg->state_dir, SCRAMBLESUIT_TICKET_FILE) != PTK_OK ||
            !(cl->path = ptk_strndup(path, strlen(path)))) {
            snprintf(err, errlen, "state directory path too long");
            r = PTK_EINVAL;
            goto out;
        }
        r = ptk_file_read(path, STORE_MAX, &text, &len);
        if (r == PTK_ENOENT) {
            r = PTK_OK; /* no ticket store yet is fine */
        } else if (r != PTK_OK) {
            snprintf(err, errlen, "open %s: %s", path,
                     r == PTK_ETOOBIG ? "file too large" : strerror(errno));
            r = PTK_EIO;
            goto out;
        } else if (ptk_ss_tickets_parse(text, len, &cl->store, why, sizeof(why)) != PTK_OK) {
            snprintf(err, errlen, "failed to load ticket store '%s': '%s'", path, why);
            r = PTK_EINVAL;
            goto out;
        }
    }
    *out = cl;
    cl = NULL;
out:
    if (text) {
        ptk_wipe(text, len);
        free(text);
    }
    scramblesuit_client_free(cl);
    return r;
}

/* ---------- the server's state ---------- */

/* With s->mu held: rewrite the state file; PTK_EIO (errno set) on failure. */
static int state_save(struct ss_server *s)
{
    struct ptk_buf b;
    ptk_buf_init(&b, 4096);
    int r = ptk_ss_server_state_format(&s->st, &b);
    if (r == PTK_OK)
        r = ptk_file_write_atomic(s->state_path, ptk_buf_data(&b), ptk_buf_len(&b), 0600);
    ptk_buf_free(&b);
    return r;
}

/* New random ticket keys: the current ones become the previous ones. */
static void rotate_keys(struct ptk_ss_server_state *st, int64_t now)
{
    memcpy(st->old_aes_key, st->aes_key, sizeof(st->aes_key));
    memcpy(st->old_hmac_key, st->hmac_key, sizeof(st->hmac_key));
    st->has_old = true;
    ptk_random(st->aes_key, sizeof(st->aes_key));
    ptk_random(st->hmac_key, sizeof(st->hmac_key));
    st->key_creation = now;
}

/* With s->mu held: rotate the ticket keys once they are a week old (obfsproxy's checkKeys). */
static void rotate_if_due(struct ss_server *s, int64_t now)
{
    if (now - s->st.key_creation <= SCRAMBLESUIT_TICKET_LIFETIME_S)
        return;
    rotate_keys(&s->st, now);
    (void)state_save(s); /* a failure only costs the tickets issued until the next start */
}

/* A ticket sealed by this bridge, not expired: its master key. */
static bool server_open_ticket(struct ss_server *s, const uint8_t *t, int64_t now,
                               uint8_t master[PTK_SS_MASTER_KEY_LEN])
{
    struct scramblesuit_ticket_keys cur, old;
    bool has_old;
    uint32_t issued = 0;
    pthread_mutex_lock(&s->mu);
    rotate_if_due(s, now);
    memcpy(cur.aes, s->st.aes_key, sizeof(cur.aes));
    memcpy(cur.hmac, s->st.hmac_key, sizeof(cur.hmac));
    memcpy(old.aes, s->st.old_aes_key, sizeof(old.aes));
    memcpy(old.hmac, s->st.old_hmac_key, sizeof(old.hmac));
    has_old = s->st.has_old;
    pthread_mutex_unlock(&s->mu);
    bool ok = scramblesuit_ticket_open(&cur, t, &issued, master) == PTK_OK ||
              (has_old && scramblesuit_ticket_open(&old, t, &issued, master) == PTK_OK);
    ptk_memzero(&cur, sizeof(cur));
    ptk_memzero(&old, sizeof(old));
    if (ok && now - (int64_t)issued > SCRAMBLESUIT_TICKET_LIFETIME_S)
        ok = false;
    if (!ok)
        ptk_memzero(master, PTK_SS_MASTER_KEY_LEN);
    return ok;
}

/* A fresh master key and the ticket that carries it: master (32) | ticket (112). */
static int server_issue_ticket(struct ss_server *s, int64_t now, uint8_t out[NEW_TICKET_LEN])
{
    struct scramblesuit_ticket_keys k;
    uint8_t iv[16];
    ptk_random(out, PTK_SS_MASTER_KEY_LEN);
    ptk_random(iv, sizeof(iv));
    pthread_mutex_lock(&s->mu);
    rotate_if_due(s, now);
    memcpy(k.aes, s->st.aes_key, sizeof(k.aes));
    memcpy(k.hmac, s->st.hmac_key, sizeof(k.hmac));
    pthread_mutex_unlock(&s->mu);
    int r = scramblesuit_ticket_seal(&k, iv, (uint32_t)now, out, out + PTK_SS_MASTER_KEY_LEN);
    ptk_memzero(&k, sizeof(k));
    return r;
}

/* obfsproxy's sanitiseBase32: upper case, and 1/0 read as I/O. */
static int parse_password_option(const char *v, uint8_t out[PWLEN], char *err, size_t errlen)
{
    size_t n = strlen(v), got = 0, bad = 0;
    char *s = ptk_strndup(v, n);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return PTK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'a' && s[i] <= 'z')
            s[i] = (char)(s[i] - 'a' + 'A');
        else if (s[i] == '1')
            s[i] = 'I';
        else if (s[i] == '0')
            s[i] = 'O';
    }
    int r = ptk_base32_decode(s, n, out, PWLEN, &got, &bad);
    ptk_wipe(s, n);
    free(s);
    if (r != PTK_OK) {
        snprintf(err, errlen, "option 'password' is not base32 (bad input at byte %zu)", bad);
        return PTK_EINVAL;
    }
    if (got != PWLEN) {
        snprintf(err, errlen, "option 'password' is %zu bytes long, not %d", got, PWLEN);
        return PTK_EINVAL;
    }
    return PTK_OK;
}

static int write_bridge_line(const char *dir, const char *password, char *err, size_t errlen)
{
    char path[4096];
    struct ptk_buf b;
    int r = PTK_OK;
    ptk_buf_init(&b, 4096);
    ptk_buf_printf(&b,
                   "# scramblesuit torrc client bridge line\n"
                   "#\n"
                   "# Written by ptkit from the current scramblesuit server state. Editing\n"
                   "# this file has no effect; it is rewritten at every start.\n"
                   "#\n"
                   "# Before handing out this line, replace the placeholders:\n"
                   "#  <IP ADDRESS>  - the public IP address of the bridge\n"
                   "#  <PORT>        - the TCP port of the bridge's scramblesuit listener\n"
                   "#  <FINGERPRINT> - the bridge's fingerprint (DataDirectory/fingerprint)\n"
                   "#\n"
                   "#\n\n"
                   "Bridge scramblesuit <IP ADDRESS>:<PORT> <FINGERPRINT> password=%s\n",
                   password);
    if (ptk_path_join(path, sizeof(path), dir, SCRAMBLESUIT_BRIDGE_FILE) != PTK_OK ||
        ptk_file_write_atomic(path, ptk_buf_data(&b), ptk_buf_len(&b), 0600) != PTK_OK) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        r = PTK_EIO;
    }
    ptk_buf_free(&b);
    return r;
}

/* Read the state file, or make a new state if there is none. */
static int load_state(const struct ptk_transport_cfg *cfg, const char *path,
                      struct ptk_ss_server_state *st, int64_t now, char *err, size_t errlen)
{
    char *text = NULL, why[200] = "";
    size_t len = 0;
    int r = ptk_file_read(path, 65536, &text, &len);
    if (r == PTK_ENOENT) {
        memset(st, 0, sizeof(*st));
        ptk_random(st->password, sizeof(st->password));
        ptk_random(st->prng_seed, sizeof(st->prng_seed));
        ptk_random(st->aes_key, sizeof(st->aes_key));
        ptk_random(st->hmac_key, sizeof(st->hmac_key));
        st->key_creation = now;
        ptk_log(cfg->log, PTK_LOG_NOTICE, "scramblesuit: created a new server state in %s", path);
        return PTK_OK;
    }
    if (r != PTK_OK) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 r == PTK_ETOOBIG ? "file too large" : strerror(errno));
        return PTK_EINVAL;
    }
    r = ptk_ss_server_state_parse(text, len, st, why, sizeof(why));
    ptk_wipe(text, len);
    free(text);
    if (r != PTK_OK) {
        snprintf(err, errlen,
                 "%s: %s (fix or remove the file; a new state would change the "
                 "generated password and void every ticket)",
                 path, why);
        return PTK_EINVAL;
    }
    return PTK_OK;
}

static int64_t drbg_src(void *ud)
{
    return ptk_drbg_int63(ud);
}

static void scramblesuit_server_free(void *p)
{
    struct ss_server *s = p;
    if (!s)
        return;
    obfs4_replay_free(s->replay);
    pthread_mutex_destroy(&s->mu);
    free(s->state_path);
    ptk_memzero(s, sizeof(*s));
    free(s);
}

static int scramblesuit_server_setup(const struct ptk_transport_cfg *cfg, void **out,
                                     struct ptk_kvlist *smethod_args, char *err, size_t errlen)
{
    struct ss_server *s = NULL;
    uint8_t opt_pw[PWLEN];
    char path[4096], pw[PTK_BASE32_LEN(PWLEN) + 1] = "";
    const char *opt = cfg->opts ? ptk_kvlist_get(cfg->opts, "password") : NULL;
    int64_t now = (int64_t)time(NULL);
    int r;

    *out = NULL;
    if (opt && (r = parse_password_option(opt, opt_pw, err, errlen)) != PTK_OK)
        goto out;
    if (!cfg->state_dir) {
        snprintf(err, errlen, "no state directory for the scramblesuit server state");
        r = PTK_EINVAL;
        goto out;
    }
    if (ptk_path_join(path, sizeof(path), cfg->state_dir, SCRAMBLESUIT_STATE_FILE) != PTK_OK) {
        snprintf(err, errlen, "state directory path too long");
        r = PTK_EINVAL;
        goto out;
    }
    s = calloc(1, sizeof(*s));
    if (!s || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        s = NULL;
        snprintf(err, errlen, "out of memory");
        r = PTK_ENOMEM;
        goto out;
    }
    if (!(s->state_path = ptk_strndup(path, strlen(path))) ||
        !(s->replay = obfs4_replay_new(REPLAY_TTL_S, REPLAY_MAX))) {
        snprintf(err, errlen, "out of memory");
        r = PTK_ENOMEM;
        goto out;
    }
    if ((r = load_state(cfg, path, &s->st, now, err, errlen)) != PTK_OK)
        goto out;
    rotate_if_due(s, now);
    if (state_save(s) != PTK_OK) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        r = PTK_EIO;
        goto out;
    }
    if (opt) {
        memcpy(s->password, opt_pw, PWLEN);
    } else {
        memcpy(s->password, s->st.password, PWLEN);
        ptk_log(cfg->log, PTK_LOG_NOTICE,
                "scramblesuit: no 'password' server option; using the password kept in %s", path);
    }
    ptk_base32_encode(s->password, PWLEN, pw);
    if ((r = write_bridge_line(cfg->state_dir, pw, err, errlen)) != PTK_OK)
        goto out;
    memcpy(s->prng_seed, s->st.prng_seed, sizeof(s->prng_seed));
    ptk_probdist_init(&s->lendist, s->prng_seed, HDR, MTU, true);
    /* The close delay for failed handshakes: fixed per bridge, drawn as obfs4 does. */
    struct ptk_drbg d;
    struct ptk_gorand rng = {drbg_src, &d};
    ptk_drbg_init(&d, s->prng_seed);
    s->close_delay_s = ptk_go_intn(&rng, MAX_CLOSE_DELAY);
    ptk_memzero(&d, sizeof(d));
    if ((r = ptk_kvlist_add(smethod_args, "password", 8, pw, strlen(pw))) != PTK_OK) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    *out = s;
    s = NULL;
out:
    scramblesuit_server_free(s);
    ptk_memzero(opt_pw, sizeof(opt_pw));
    ptk_memzero(pw, sizeof(pw));
    return r;
}

/* ---------- connections ---------- */

static void scramblesuit_conn_free(void *p)
{
    struct scramblesuit_conn *c = p;
    if (!c)
        return;
    ptk_aes_ctr_free(&c->tx.ctr);
    ptk_aes_ctr_free(&c->rx.ctr);
    free(c->own_len);
    ptk_memzero(c, sizeof(*c));
    free(c);
}

static int scramblesuit_client_new(void *client, const struct ptk_kvlist *args, void **out,
                                   char *err, size_t errlen)
{
    uint8_t k[PWLEN], digest[PTK_SHA256_LEN], seed[PTK_DRBG_SEED_LEN];
    size_t n = 0, bad = 0;
    const char *pw = ptk_kvlist_get(args, "password");
    /* obfs4proxy's words, from its parsePasswordArg */
    if (!pw) {
        snprintf(err, errlen, "missing argument 'password'");
        return PTK_EINVAL;
    }
    if (ptk_base32_decode(pw, strlen(pw), k, sizeof(k), &n, &bad) != PTK_OK) {
        snprintf(err, errlen, "failed to decode password: illegal base32 data at input byte %zu",
                 bad);
        ptk_memzero(k, sizeof(k));
        return PTK_EINVAL;
    }
    if (n != PWLEN) {
        snprintf(err, errlen, "password length %zu is invalid", n);
        ptk_memzero(k, sizeof(k));
        return PTK_EINVAL;
    }
    struct scramblesuit_conn *c = calloc(1, sizeof(*c));
    if (!c || !(c->own_len = malloc(sizeof(*c->own_len)))) {
        free(c);
        ptk_memzero(k, sizeof(k));
        snprintf(err, errlen, "out of memory");
        return PTK_ENOMEM;
    }
    c->cli = client;
    c->tx.ctr = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    c->rx.ctr = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    memcpy(c->password, k, PWLEN);
    ptk_memzero(k, sizeof(k));
    ptk_sha256(c->password, PWLEN, digest);
    memcpy(c->peer, PEER_PREFIX, sizeof(PEER_PREFIX) - 1);
    ptk_hex_encode(digest, sizeof(digest), c->peer + sizeof(PEER_PREFIX) - 1);
    ptk_random(seed, sizeof(seed));
    ptk_probdist_init(c->own_len, seed, HDR, MTU, true);
    c->lendist = c->own_len;
    /* Before dialing, as obfs4proxy: the time this takes is not visible on the wire. */
    int r = ptk_udh_keypair(c->x, c->pub);
    if (r != PTK_OK) {
        scramblesuit_conn_free(c);
        snprintf(err, errlen, "UniformDH key generation failed");
        return r;
    }
    *out = c;
    return PTK_OK;
}

static int scramblesuit_server_new(void *server, void **out)
{
    struct ss_server *s = server;
    if (!s)
        return PTK_EINVAL;
    struct scramblesuit_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return PTK_ENOMEM;
    c->server = true;
    c->srv = s;
    memcpy(c->password, s->password, PWLEN);
    c->tx.ctr = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    c->rx.ctr = (struct ptk_aes_ctr)PTK_AES_CTR_INIT;
    c->lendist = &s->lendist;
    *out = c;
    return PTK_OK;
}

/* Client: T | P | M | MAC with a stored ticket; connected at once. */
static int client_send_ticket(struct scramblesuit_conn *c, const struct ptk_ss_ticket *t,
                              struct ptk_xfer *x)
{
    struct scramblesuit_keys k;
    size_t padlen = ptk_random_uniform(SCRAMBLESUIT_TICKET_MAX_PAD + 1);
    size_t total = TICKET + padlen + MARK + MACL;
    uint8_t *p = x->wire->reserve(x->wire->ud, total);
    if (!p)
        return PTK_ENOMEM;
    scramblesuit_kdf(t->key, false, &k);
    int r = install_keys(c, &k);
    if (r == PTK_OK) {
        memcpy(p, t->ticket, TICKET);
        ptk_random_fast(p + TICKET, padlen);
        hmac128(p + TICKET + padlen, k.send_hmac, 32, t->ticket, TICKET, NULL, 0);
        epoch_hour(x->unix_time, 0, c->epoch, &c->epoch_len);
        hmac128(p + TICKET + padlen + MARK, k.send_hmac, 32, p, TICKET + padlen + MARK, c->epoch,
                c->epoch_len);
        x->wire->commit(x->wire->ud, total);
        c->state = ST_ESTABLISHED;
        x->established = true;
    }
    ptk_memzero(&k, sizeof(k));
    ptk_memzero(c->x, sizeof(c->x)); /* the UniformDH key is not needed */
    return r;
}

/* Client: X | P_C | M_C | MAC; the answer is awaited for 60 s. */
static int client_send_udh(struct scramblesuit_conn *c, struct ptk_xfer *x)
{
    size_t padlen = ptk_random_uniform(SCRAMBLESUIT_UDH_MAX_PAD + 1);
    size_t total = PUB + padlen + MARK + MACL;
    uint8_t *p = x->wire->reserve(x->wire->ud, total);
    if (!p)
        return PTK_ENOMEM;
    memcpy(p, c->pub, PUB);
    ptk_random_fast(p + PUB, padlen);
    hmac128(p + PUB + padlen, c->password, PWLEN, c->pub, PUB, NULL, 0);
    epoch_hour(x->unix_time, 0, c->epoch, &c->epoch_len);
    hmac128(p + PUB + padlen + MARK, c->password, PWLEN, p, PUB + padlen + MARK, c->epoch,
            c->epoch_len);
    x->wire->commit(x->wire->ud, total);
    x->timer_us = (int64_t)SCRAMBLESUIT_CLIENT_HS_TIMEOUT_S * 1000000;
    return PTK_OK;
}

static int scramblesuit_start(void *conn, struct ptk_xfer *x)
{
    struct scramblesuit_conn *c = conn;
    c->start_ms = x->now_ms;
    if (c->server) {
        x->timer_us = (int64_t)SCRAMBLESUIT_SERVER_HS_TIMEOUT_S * 1000000;
        return PTK_OK;
    }
    struct ptk_ss_ticket t;
    if (c->cli && store_take(c->cli, c->peer, x->unix_time, &t)) {
        int r = client_send_ticket(c, &t, x);
        ptk_memzero(&t, sizeof(t));
        return r;
    }
    return client_send_udh(c, x);
}

/* Server handshake failed: silence until accept + 30 s + the bridge's close delay. */
static int probe_close(struct scramblesuit_conn *c, struct ptk_xfer *x)
{
    c->state = ST_FAILED;
    uint64_t end =
        c->start_ms +
        ((uint64_t)SCRAMBLESUIT_SERVER_HS_TIMEOUT_S + (uint64_t)c->srv->close_delay_s) * 1000;
    int64_t left = end > x->now_ms ? (int64_t)(end - x->now_ms) : 0;
    x->timer_us = left > 0 ? left * 1000 : 0;
    return PTK_EPROBE;
}

enum auth { AUTH_WAIT, AUTH_OK, AUTH_BAD };

/*
 * Server: find `mark` (its first occurrence after the key, ending within
 * 1516 bytes) and check the MAC behind it for E-1, E, E+1 and against the
 * replay filter. On AUTH_OK, *end is the end of the MAC and epoch the E.
 */
static enum auth authenticate(struct scramblesuit_conn *c, const uint8_t *in, size_t len,
                              size_t from, const uint8_t mark[MARK], const uint8_t *key,
                              size_t keylen, int64_t now, size_t *end, char epoch[24],
                              size_t *epoch_len)
{
    size_t lim = len < SEARCH_END ? len : SEARCH_END;
    if (lim < from + MARK)
        return AUTH_WAIT;
    const uint8_t *m = memmem(in + from, lim - from, mark, MARK);
    if (!m)
        return AUTH_WAIT;
    size_t pos = (size_t)(m - in);
    if (pos + MARK + MACL > len)
        return AUTH_WAIT;
    static const int offsets[3] = {0, -1, 1};
    for (int i = 0; i < 3; i++) {
        uint8_t mac[MACL];
        epoch_hour(now, offsets[i], epoch, epoch_len);
        hmac128(mac, key, keylen, in, pos + MARK, epoch, *epoch_len);
        if (ptk_ct_equal(mac, in + pos + MARK, MACL)) {
            if (obfs4_replay_test_and_set(c->srv->replay, now, mac, MACL))
                return AUTH_BAD;
            *end = pos + MARK + MACL;
            return AUTH_OK;
        }
    }
    return AUTH_BAD;
}

/*
 * Server, authenticated: send the UniformDH answer (udh_pub non-NULL), a new
 * ticket and the PRNG seed, each message burst padded, in one write.
 */
static int server_welcome(struct scramblesuit_conn *c, const struct scramblesuit_keys *k,
                          const uint8_t *y_pub, const char *epoch, size_t epoch_len,
                          struct ptk_xfer *x)
{
    struct ss_server *s = c->srv;
    uint8_t nt[NEW_TICKET_LEN];
    int r = install_keys(c, k);
    if (r != PTK_OK)
        return r;
    size_t padlen = y_pub ? ptk_random_uniform(SCRAMBLESUIT_UDH_MAX_PAD + 1) : 0;
    size_t hs = y_pub ? PUB + padlen + MARK + MACL : 0;
    size_t room = hs + burst_room(NEW_TICKET_LEN) + burst_room(PTK_SS_PRNG_SEED_LEN);
    uint8_t *p = x->wire->reserve(x->wire->ud, room);
    if (!p)
        return PTK_ENOMEM;
    if (y_pub) {
        memcpy(p, y_pub, PUB);
        ptk_random_fast(p + PUB, padlen);
        hmac128(p + PUB + padlen, s->password, PWLEN, y_pub, PUB, NULL, 0);
        hmac128(p + PUB + padlen + MARK, s->password, PWLEN, p, PUB + padlen + MARK, epoch,
                epoch_len);
        /* Our own answer is shaped like a client's message: never accept it as one. */
        (void)obfs4_replay_test_and_set(s->replay, x->unix_time, p + PUB + padlen + MARK, MACL);
    }
    if ((r = server_issue_ticket(s, x->unix_time, nt)) != PTK_OK)
        goto out;
    size_t t = put_burst(c, p + hs, SCRAMBLESUIT_FLAG_NEW_TICKET, nt, sizeof(nt));
    size_t sd = t ? put_burst(c, p + hs + t, SCRAMBLESUIT_FLAG_PRNG_SEED, s->prng_seed,
                              sizeof(s->prng_seed))
                  : 0;
    if (!sd) {
        r = PTK_EIO;
        goto out;
    }
    x->wire->commit(x->wire->ud, hs + t + sd);
    c->state = ST_ESTABLISHED;
    x->established = true;
    x->timer_us = 0;
out:
    ptk_memzero(nt, sizeof(nt));
    return r;
}

/* Server: the client's UniformDH message checked out; compute the keys and answer. */
static int server_udh(struct scramblesuit_conn *c, const uint8_t *x_pub, const char *epoch,
                      size_t epoch_len, struct ptk_xfer *x)
{
    uint8_t y[PUB], y_pub[PUB], shared[PUB], master[PTK_SHA256_LEN];
    struct scramblesuit_keys k;
    int r = ptk_udh_keypair(y, y_pub);
    if (r == PTK_OK)
        r = ptk_udh_shared(y, x_pub, shared);
    ptk_memzero(y, sizeof(y));
    if (r != PTK_OK)
        return r;
    ptk_sha256(shared, sizeof(shared), master);
    ptk_memzero(shared, sizeof(shared));
    scramblesuit_kdf(master, true, &k);
    ptk_memzero(master, sizeof(master));
    r = server_welcome(c, &k, y_pub, epoch, epoch_len, x);
    ptk_memzero(&k, sizeof(k));
    return r;
}

static int server_handshake(struct scramblesuit_conn *c, const uint8_t *in, size_t len,
                            size_t *used, struct ptk_xfer *x)
{
    struct ss_server *s = c->srv;
    char epoch[24];
    size_t epoch_len = 0, end = 0;
    int r;

    *used = 0;
    /* a session ticket: T | P | M | MAC, keyed by the ticket's client->server HMAC key */
    if (!c->ticket_dead && len >= TICKET + MARK + MACL) {
        if (!c->ticket_ok) {
            uint8_t master[PTK_SS_MASTER_KEY_LEN];
            if (server_open_ticket(s, in, x->unix_time, master)) {
                scramblesuit_kdf(master, true, &c->tk);
                hmac128(c->ticket_mark, c->tk.recv_hmac, 32, in, TICKET, NULL, 0);
                c->ticket_ok = true;
            } else {
                c->ticket_dead = true;
            }
            ptk_memzero(master, sizeof(master));
        }
        if (c->ticket_ok) {
            switch (authenticate(c, in, len, TICKET, c->ticket_mark, c->tk.recv_hmac, 32,
                                 x->unix_time, &end, epoch, &epoch_len)) {
            case AUTH_OK:
                r = server_welcome(c, &c->tk, NULL, NULL, 0, x);
                ptk_memzero(&c->tk, sizeof(c->tk));
                if (r == PTK_OK)
                    *used = end;
                return r;
            case AUTH_BAD:
                c->ticket_dead = true;
                ptk_memzero(&c->tk, sizeof(c->tk));
                break;
            case AUTH_WAIT:
                break;
            }
        }
    }
    /* UniformDH: X | P_C | M_C | MAC, keyed by the password */
    if (!c->udh_dead && len >= PUB + MARK + MACL) {
        if (!c->have_udh_mark) {
            hmac128(c->udh_mark, s->password, PWLEN, in, PUB, NULL, 0);
            c->have_udh_mark = true;
        }
        switch (authenticate(c, in, len, PUB, c->udh_mark, s->password, PWLEN, x->unix_time, &end,
                             epoch, &epoch_len)) {
        case AUTH_OK:
            r = server_udh(c, in, epoch, epoch_len, x);
            if (r == PTK_OK)
                *used = end;
            return r;
        case AUTH_BAD:
            c->udh_dead = true;
            break;
        case AUTH_WAIT:
            break;
        }
    }
    if ((c->ticket_dead && c->udh_dead) || len > SCRAMBLESUIT_MAX_HANDSHAKE)
        return probe_close(c, x);
    return PTK_OK;
}

static int client_handshake(struct scramblesuit_conn *c, const uint8_t *in, size_t len,
                            size_t *used, struct ptk_xfer *x)
{
    uint8_t mac[MACL], shared[PUB], master[PTK_SHA256_LEN];
    struct scramblesuit_keys k;
    *used = 0;
    if (len < PUB + MARK + MACL)
        return PTK_OK;
    if (!c->have_udh_mark) {
        hmac128(c->udh_mark, c->password, PWLEN, in, PUB, NULL, 0);
        c->have_udh_mark = true;
    }
    size_t lim = len < SEARCH_END ? len : SEARCH_END;
    const uint8_t *m = lim >= PUB + MARK ? memmem(in + PUB, lim - PUB, c->udh_mark, MARK) : NULL;
    if (!m || (size_t)(m - in) + MARK + MACL > len)
        return len >= SCRAMBLESUIT_MAX_HANDSHAKE ? PTK_EAUTH : PTK_OK;
    size_t pos = (size_t)(m - in);
    hmac128(mac, c->password, PWLEN, in, pos + MARK, c->epoch, c->epoch_len);
    if (!ptk_ct_equal(mac, in + pos + MARK, MACL))
        return PTK_EAUTH;
    int r = ptk_udh_shared(c->x, in, shared);
    ptk_memzero(c->x, sizeof(c->x));
    if (r != PTK_OK)
        return r;
    ptk_sha256(shared, sizeof(shared), master);
    ptk_memzero(shared, sizeof(shared));
    scramblesuit_kdf(master, false, &k);
    ptk_memzero(master, sizeof(master));
    r = install_keys(c, &k);
    ptk_memzero(&k, sizeof(k));
    if (r != PTK_OK)
        return r;
    *used = pos + MARK + MACL;
    c->state = ST_ESTABLISHED;
    x->established = true;
    x->timer_us = 0;
    return PTK_OK;
}

/* Act on one verified message whose body (payload | padding) is at ct. */
static int deliver(struct scramblesuit_conn *c, const uint8_t *ct, struct ptk_xfer *x)
{
    uint8_t scratch[MPU];
    size_t plen = c->rx_plen, padlen = c->rx_total - c->rx_plen;
    int r = PTK_OK;
    switch (c->rx_flags) {
    case SCRAMBLESUIT_FLAG_PAYLOAD:
        if (plen) {
            uint8_t *p = x->app->reserve(x->app->ud, plen);
            if (!p)
                return PTK_ENOMEM;
            if ((r = ptk_aes_ctr_xor(&c->rx.ctr, p, ct, plen)) != PTK_OK)
                return r;
            x->app->commit(x->app->ud, plen);
        }
        break;
    case SCRAMBLESUIT_FLAG_NEW_TICKET:
    case SCRAMBLESUIT_FLAG_PRNG_SEED:
        if ((r = ptk_aes_ctr_xor(&c->rx.ctr, scratch, ct, plen)) != PTK_OK)
            return r;
        if (c->server) {
            break; /* obfsproxy logs "invalid message flags" and goes on */
        } else if (c->rx_flags == SCRAMBLESUIT_FLAG_NEW_TICKET) {
            if (plen != NEW_TICKET_LEN)
                r = PTK_EPROTO; /* as obfs4proxy */
            else if (c->cli)
                store_put(c->cli, c->peer, scratch, x->unix_time);
        } else {
            if (plen != PTK_SS_PRNG_SEED_LEN)
                r = PTK_EPROTO;
            else
                ptk_probdist_init(c->own_len, scratch, HDR, MTU, true); /* seed[0:24] */
        }
        ptk_memzero(scratch, plen);
        if (r != PTK_OK)
            return r;
        break;
    default:
        return PTK_EPROTO;
    }
    /* the padding only advances the key stream */
    if (padlen && (r = ptk_aes_ctr_xor(&c->rx.ctr, scratch, ct + plen, padlen)) != PTK_OK)
        return r;
    return PTK_OK;
}

/* Decode whole messages; a decrypted header is kept until its body is in. */
static int decode_messages(struct scramblesuit_conn *c, const uint8_t *in, size_t len, size_t *used,
                           struct ptk_xfer *x)
{
    size_t off = 0;
    int r = PTK_OK;
    while (off < len) {
        if (!c->rx_hdr) {
            uint8_t h[HDR - MACL];
            if (len - off < HDR)
                break;
            memcpy(c->rx_mac, in + off, MACL);
            memcpy(c->rx_hdr_ct, in + off + MACL, sizeof(c->rx_hdr_ct));
            if ((r = ptk_aes_ctr_xor(&c->rx.ctr, h, c->rx_hdr_ct, sizeof(h))) != PTK_OK)
                break;
            c->rx_total = (size_t)h[0] << 8 | h[1];
            c->rx_plen = (size_t)h[2] << 8 | h[3];
            c->rx_flags = h[4];
            off += HDR;
            if (c->rx_plen > c->rx_total || c->rx_total > MPU) {
                r = PTK_EPROTO;
                break;
            }
            c->rx_hdr = true;
        }
        if (len - off < c->rx_total)
            break;
        uint8_t full[PTK_SHA256_LEN];
        ptk_hmac_sha256_ctx h;
        ptk_hmac_sha256_init(&h, c->rx.mac_key, sizeof(c->rx.mac_key));
        ptk_hmac_sha256_update(&h, c->rx_hdr_ct, sizeof(c->rx_hdr_ct));
        ptk_hmac_sha256_update(&h, in + off, c->rx_total);
        ptk_hmac_sha256_final(&h, full);
        if (!ptk_ct_equal(full, c->rx_mac, MACL)) {
            r = PTK_EAUTH;
            break;
        }
        if ((r = deliver(c, in + off, x)) != PTK_OK)
            break;
        off += c->rx_total;
        c->rx_hdr = false;
    }
    *used = off;
    return r;
}

static int scramblesuit_decode(void *conn, const uint8_t *in, size_t len, size_t *used,
                               struct ptk_xfer *x)
{
    struct scramblesuit_conn *c = conn;
    *used = 0;
    if (c->state == ST_FAILED)
        return PTK_EPROBE;
    if (c->state == ST_HANDSHAKE) {
        int r = c->server ? server_handshake(c, in, len, used, x)
                          : client_handshake(c, in, len, used, x);
        if (r != PTK_OK || c->state != ST_ESTABLISHED)
            return r;
        size_t more = 0;
        r = decode_messages(c, in + *used, len - *used, &more, x);
        *used += more;
        return r;
    }
    return decode_messages(c, in, len, used, x);
}

static int scramblesuit_encode(void *conn, const uint8_t *in, size_t len, size_t *used,
                               struct ptk_xfer *x)
{
    struct scramblesuit_conn *c = conn;
    *used = 0;
    if (c->state != ST_ESTABLISHED)
        return c->state == ST_FAILED ? PTK_EPROBE : PTK_OK; /* wait for the handshake */
    if (len == 0)
        return PTK_OK;
    size_t n = len < BATCH_MAX ? len : BATCH_MAX;
    uint8_t *p = x->wire->reserve(x->wire->ud, burst_room(n));
    if (!p)
        return PTK_ENOMEM;
    size_t w = put_burst(c, p, SCRAMBLESUIT_FLAG_PAYLOAD, in, n);
    if (w == 0)
        return PTK_EIO;
    x->wire->commit(x->wire->ud, w);
    *used = n;
    return PTK_OK;
}

static int scramblesuit_timer(void *conn, struct ptk_xfer *x)
{
    struct scramblesuit_conn *c = conn;
    if (c->state == ST_HANDSHAKE)
        return c->server ? probe_close(c, x) : PTK_ETIMEDOUT;
    return c->state == ST_FAILED ? PTK_EPROBE : PTK_OK;
}

const struct ptk_transport_ops ptk_transport_scramblesuit = {
    .name = "scramblesuit",
    .flags = 0,
    .server_setup = scramblesuit_server_setup,
    .server_free = scramblesuit_server_free,
    .client_setup = scramblesuit_client_setup,
    .client_free = scramblesuit_client_free,
    .client_new = scramblesuit_client_new,
    .server_new = scramblesuit_server_new,
    .conn_free = scramblesuit_conn_free,
    .start = scramblesuit_start,
    .encode = scramblesuit_encode,
    .decode = scramblesuit_decode,
    .timer = scramblesuit_timer,
};
