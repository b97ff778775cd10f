/*
 * Fuzz target: scramblesuit (transport/scramblesuit.c): the server's
 * handshake parser (tickets and UniformDH), the client's parser of the
 * server's answer, the message decoder behind real handshakes, and the two
 * state-file codecs (proto/scramblesuit_state.c).
 *
 * One server instance (fixed password, the vectors' AEBAGBAF..., in a temp
 * state directory made once) serves every input; each input gets fresh
 * conns. Input: mode, chunk-size byte, then the bytes.
 *   mode 0: the bytes "from a client" to a server conn, offered in chunks.
 *           Unless they authenticate (the vectors' client_hs does, once:
 *           then the answer must be a well-formed UniformDH answer), the
 *           server writes nothing, delivers nothing, and is a probe
 *           (PTK_EPROBE) once it holds more than 1532 bytes.
 *   mode 1: a real client's UniformDH handshake first (the server accepts
 *           it, the client accepts the answer), then the client's own
 *           messages for the first half of the bytes (delivered exactly),
 *           then the rest raw (OK, EAUTH or EPROTO; never more app bytes
 *           than were fed).
 *   mode 2: as 1, but the client redeems the ticket of a first connection.
 *   mode 3: the bytes "from the server" to a client conn after its
 *           UniformDH message: OK or EAUTH, nothing delivered, EAUTH once
 *           1532 bytes hold no valid answer (an answer MACed with the
 *           password, such as the vectors' server_hs, connects; nothing
 *           behind it decrypts).
 *   mode 4: the bytes as a ticket store, then as a server state; what
 *           parses must format and parse back to the same.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/transport_pair.h"
#include "proto/scramblesuit_state.h"
#include "ptkit/kv.h"
#include "transport/scramblesuit.h"

#define PASSWORD "AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYU"
#define MAX_HS SCRAMBLESUIT_MAX_HANDSHAKE

static const struct ptk_transport_ops *ops = &ptk_transport_scramblesuit;
static void *server;
static char dir[64];

static void check(int ok)
{
    if (!ok)
        abort();
}

static void cleanup(void)
{
    static const char *const files[] = {SCRAMBLESUIT_STATE_FILE, SCRAMBLESUIT_BRIDGE_FILE};
    char p[160];
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    ops->server_free(server);
}

static void setup_once(void)
{
    struct ptk_kvlist o = PTK_KVLIST_INIT, sm = PTK_KVLIST_INIT;
    char err[300];
    snprintf(dir, sizeof(dir), "/tmp/ptk-fuzz-ss-XXXXXX");
    check(mkdtemp(dir) != NULL);
    ptk_kvlist_add(&o, "password", 8, PASSWORD, strlen(PASSWORD));
    struct ptk_transport_cfg cfg = {.state_dir = dir, .opts = &o, .log = NULL};
    check(ops->server_setup(&cfg, &server, &sm, err, sizeof(err)) == PTK_OK);
    ptk_kvlist_free(&o);
    ptk_kvlist_free(&sm);
    atexit(cleanup);
}

static void open_pair(struct tp_pair *p, void *cli, uint32_t seed, size_t max_chunk)
{
    struct ptk_kvlist a = PTK_KVLIST_INIT;
    struct ptk_xfer x;
    char err[256];
    memset(p, 0, sizeof(*p));
    tp_side_init(&p->c, ops);
    tp_side_init(&p->s, ops);
    p->rng = seed;
    p->max_chunk = max_chunk;
    p->now_ms = 1000;
    ptk_kvlist_add(&a, "password", 8, PASSWORD, strlen(PASSWORD));
    check(ops->client_new(cli, &a, &p->c.conn, err, sizeof(err)) == PTK_OK);
    ptk_kvlist_free(&a);
    check(ops->server_new(server, &p->s.conn) == PTK_OK);
    tp_xfer(p, &p->c, &x);
    check(ops->start(p->c.conn, &x) == PTK_OK);
    tp_after(&p->c, &x, 0);
    tp_xfer(p, &p->s, &x);
    check(ops->start(p->s.conn, &x) == PTK_OK);
    tp_after(&p->s, &x, 0);
}

static void raw_server(const uint8_t *d, size_t n, uint32_t seed, size_t max_chunk)
{
    struct tp_pair p;
    struct ptk_buf in;
    struct ptk_xfer x;
    memset(&p, 0, sizeof(p));
    tp_side_init(&p.c, ops);
    tp_side_init(&p.s, ops);
    p.rng = seed;
    p.max_chunk = max_chunk;
    check(ops->server_new(server, &p.s.conn) == PTK_OK);
    tp_xfer(&p, &p.s, &x);
    check(ops->start(p.s.conn, &x) == PTK_OK);
    tp_after(&p.s, &x, 0);
    ptk_buf_init(&in, 1 << 22);
    check(ptk_buf_put(&in, d, n) == PTK_OK);
    tp_feed(&p, &p.s, &in, true);
    check(p.s.err == 0 || p.s.err == PTK_EPROBE || p.s.established);
    if (!p.s.established) {
        check(ptk_buf_len(&p.s.wire_out) == 0 && ptk_buf_len(&p.s.app_out) == 0);
        check(n <= MAX_HS ? p.s.err == 0 || p.s.err == PTK_EPROBE : p.s.err == PTK_EPROBE);
        if (p.s.err == 0)
            check(ptk_buf_len(&in) == n); /* nothing taken while waiting */
    } else {
        /* Y | P_S | M_S | MAC_S, then at least a ticket and a seed message */
        check(ptk_buf_len(&p.s.wire_out) >= 192 + 32 + 4 * 21 + 144 + 32);
    }
    ptk_buf_free(&in);
    tp_close(&p);
}

static void real_client(bool ticket, const uint8_t *d, size_t n, uint32_t seed, size_t max_chunk)
{
    struct ptk_transport_cfg cfg = {NULL, NULL, NULL};
    char err[256];
    void *cli = NULL;
    struct tp_pair p;
    check(ops->client_setup(&cfg, &cli, err, sizeof(err)) == PTK_OK);
    if (ticket) {
        open_pair(&p, cli, 0, 1);
        tp_run(&p);
        check(p.c.established && p.s.established && p.c.err == 0 && p.s.err == 0);
        tp_close(&p);
    }
    open_pair(&p, cli, seed, max_chunk);
    check(p.c.established == ticket);
    if (!ticket) {
        tp_feed(&p, &p.s, &p.c.wire_out, true);
        check(p.s.established && p.s.err == 0 && ptk_buf_len(&p.c.wire_out) == 0);
        tp_feed(&p, &p.c, &p.s.wire_out, true);
        check(p.c.established && p.c.err == 0 && ptk_buf_len(&p.s.wire_out) == 0);
    }
    size_t half = n / 2;
    check(ptk_buf_put(&p.c.app_in, d, half) == PTK_OK);
    tp_feed(&p, &p.c, &p.c.app_in, false);
    check(p.c.err == 0 && ptk_buf_len(&p.c.app_in) == 0);
    check(ptk_buf_put(&p.c.wire_out, d + half, n - half) == PTK_OK);
    tp_feed(&p, &p.s, &p.c.wire_out, true);
    check(p.s.established);
    check(p.s.err == 0 || p.s.err == PTK_EAUTH || p.s.err == PTK_EPROTO);
    check(ptk_buf_len(&p.s.app_out) >= half && ptk_buf_len(&p.s.app_out) <= n);
    check(half == 0 || memcmp(ptk_buf_data(&p.s.app_out), d, half) == 0);
    tp_close(&p);
    ops->client_free(cli);
}

static void raw_client(const uint8_t *d, size_t n, uint32_t seed, size_t max_chunk)
{
    struct ptk_kvlist a = PTK_KVLIST_INIT;
    struct tp_pair p;
    struct ptk_buf in;
    struct ptk_xfer x;
    char err[256];
    memset(&p, 0, sizeof(p));
    tp_side_init(&p.c, ops);
    tp_side_init(&p.s, ops);
    p.rng = seed;
    p.max_chunk = max_chunk;
    ptk_kvlist_add(&a, "password", 8, PASSWORD, strlen(PASSWORD));
    check(ops->client_new(NULL, &a, &p.c.conn, err, sizeof(err)) == PTK_OK);
    ptk_kvlist_free(&a);
    tp_xfer(&p, &p.c, &x);
    check(ops->start(p.c.conn, &x) == PTK_OK);
    tp_after(&p.c, &x, 0);
    size_t first = ptk_buf_len(&p.c.wire_out);
    ptk_buf_init(&in, 1 << 22);
    check(ptk_buf_put(&in, d, n) == PTK_OK);
    tp_feed(&p, &p.c, &in, true);
    /*
     * An answer MACed with the password (the vectors' server_hs is) is taken,
     * whatever its key; messages under keys nobody else knows are not.
     */
    check(ptk_buf_len(&p.c.app_out) == 0 && ptk_buf_len(&p.c.wire_out) == first);
    if (p.c.established)
        check(p.c.err == 0 || p.c.err == PTK_EAUTH || p.c.err == PTK_EPROTO);
    else
        check(n < MAX_HS ? p.c.err == 0 || p.c.err == PTK_EAUTH : p.c.err == PTK_EAUTH);
    ptk_buf_free(&in);
    tp_close(&p);
}

static void codecs(const uint8_t *d, size_t n)
{
    struct ptk_ss_tickets t = PTK_SS_TICKETS_INIT, t2 = PTK_SS_TICKETS_INIT;
    struct ptk_ss_server_state st, st2;
    struct ptk_buf b;
    char why[256];
    ptk_buf_init(&b, 1 << 22);
    if (ptk_ss_tickets_parse((const char *)d, n, &t, why, sizeof(why)) == PTK_OK) {
        check(ptk_ss_tickets_format(&t, INT64_MIN, &b) == PTK_OK);
        check(ptk_ss_tickets_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b), &t2, why,
                                   sizeof(why)) == PTK_OK);
        check(t2.n <= t.n);
        for (size_t i = 0; i < t2.n; i++) {
            struct ptk_ss_ticket got;
            check(ptk_ss_tickets_take(&t, t2.v[i].peer, &got));
            check(memcmp(got.key, t2.v[i].key, 32) == 0 &&
                  memcmp(got.ticket, t2.v[i].ticket, 112) == 0 &&
                  got.issued_at == t2.v[i].issued_at);
        }
        ptk_ss_tickets_free(&t2);
    }
    ptk_ss_tickets_free(&t);
    ptk_buf_reset(&b);
    if (ptk_ss_server_state_parse((const char *)d, n, &st, why, sizeof(why)) == PTK_OK) {
        check(ptk_ss_server_state_format(&st, &b) == PTK_OK);
        check(ptk_ss_server_state_parse((const char *)ptk_buf_data(&b), ptk_buf_len(&b), &st2, why,
                                        sizeof(why)) == PTK_OK);
        check(memcmp(&st, &st2, sizeof(st)) == 0);
    }
    ptk_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server)
        setup_once();
    if (size < 2)
        return 0;
    uint8_t mode = data[0] % 5, chunk = data[1];
    uint32_t seed = chunk ? 0x9e3779b9u ^ chunk : 0; /* 0: whole chunks */
    size_t max_chunk = 1 + (size_t)chunk * 13;
    data += 2;
    size -= 2;
    switch (mode) {
    case 0:
        raw_server(data, size, seed, max_chunk);
        break;
    case 1:
    case 2:
        real_client(mode == 2, data, size, seed, max_chunk);
        break;
    case 3:
        raw_client(data, size, seed, max_chunk);
        break;
    default:
        codecs(data, size);
        break;
    }
    return 0;
}
