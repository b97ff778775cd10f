/*
 * ScrambleSuit, both roles: the client wire-compatible with obfs4proxy
 * 0.0.14 (client only upstream), the server following Python obfsproxy's
 * (the reference server; its source was read at 0.2.12) and
 * scramblesuit-spec.txt.
 *
 * A client proves knowledge of the bridge's 20-byte password k_B, either
 * with a UniformDH handshake or by redeeming a session ticket the server
 * issued on an earlier connection; both yield a 32-byte master key from
 * which HKDF-SHA256 (expand only, empty info) derives 144 bytes:
 *   [0:32] AES-256-CTR key and [32:40] IV prefix, client -> server
 *   [40:72] AES-256-CTR key and [72:80] IV prefix, server -> client
 *   [80:112] HMAC key client -> server, [112:144] HMAC key server -> client
 * (the counter block is prefix | BE64 counter from 1). Messages are
 *   HMAC-SHA256-128(k, ct) | ct,  ct = AES-CTR(BE16 total | BE16 payload
 *   length | flags | payload | zero padding),  total <= 1427
 * with flags 1 payload, 2 new ticket (master key 32 | ticket 112),
 * 4 PRNG seed (32).
 *
 * Client args: password=<base32 of k_B> (mandatory; errors worded as
 * obfs4proxy's). Server options: password=<base32>; without it, one is
 * generated and kept in the state directory. SMETHOD ARGS:password=...
 */
#ifndef PTK_TRANSPORT_SCRAMBLESUIT_H
#define PTK_TRANSPORT_SCRAMBLESUIT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/scramblesuit_state.h"
#include "ptkit/transport.h"

#define SCRAMBLESUIT_TICKET_FILE "scramblesuit_tickets.json" /* client, as obfs4proxy */
#define SCRAMBLESUIT_STATE_FILE "scramblesuit_server.json"   /* server */
#define SCRAMBLESUIT_BRIDGE_FILE "scramblesuit_bridgeline.txt"

#define SCRAMBLESUIT_MAC_LEN 16
#define SCRAMBLESUIT_MARK_LEN 16
#define SCRAMBLESUIT_MAX_PADDING 1500    /* the mark must end within 1500 + 16 bytes */
#define SCRAMBLESUIT_MAX_HANDSHAKE 1532  /* 1500 + mark + MAC */
#define SCRAMBLESUIT_UDH_MAX_PAD 1308    /* 1500 - 192 */
#define SCRAMBLESUIT_TICKET_MAX_PAD 1388 /* 1500 - 112 */
#define SCRAMBLESUIT_HDR_LEN 21          /* MAC 16 | total 2 | payload 2 | flags 1 */
#define SCRAMBLESUIT_MTU 1448
#define SCRAMBLESUIT_MPU 1427 /* MTU - header */
#define SCRAMBLESUIT_OKM_LEN 144
#define SCRAMBLESUIT_TICKET_LIFETIME_S (7 * 24 * 3600) /* also the ticket key rotation */
#define SCRAMBLESUIT_SERVER_HS_TIMEOUT_S 30
#define SCRAMBLESUIT_CLIENT_HS_TIMEOUT_S 60

enum {
    SCRAMBLESUIT_FLAG_PAYLOAD = 1,
    SCRAMBLESUIT_FLAG_NEW_TICKET = 2,
    SCRAMBLESUIT_FLAG_PRNG_SEED = 4,
};

/* The session keys of one side: "send" is this side's outgoing direction. */
struct scramblesuit_keys {
    uint8_t send_key[32];
    uint8_t send_iv[8];
    uint8_t recv_key[32];
    uint8_t recv_iv[8];
    uint8_t send_hmac[32];
    uint8_t recv_hmac[32];
};

/*
 * Derive the session keys from a master key for the client (server = false)
 * or the server (which uses the two directions the other way round). The
 * caller wipes k.
 */
void scramblesuit_kdf(const uint8_t master[PTK_SS_MASTER_KEY_LEN], bool server,
                      struct scramblesuit_keys *k);

/* The server's keys for sealing session tickets. */
struct scramblesuit_ticket_keys {
    uint8_t aes[PTK_SS_TICKET_AES_LEN];
    uint8_t hmac[PTK_SS_TICKET_HMAC_LEN];
};

/*
 * Seal a ticket, as obfsproxy's SessionTicket.issue: IV (16) | AES-128-CBC(
 * LE32 issue time | "ScrambleSuitTicket" | master key | 10 zero bytes) |
 * HMAC-SHA256(hmac key, IV | ciphertext). PTK_EIO if OpenSSL fails.
 */
int scramblesuit_ticket_seal(const struct scramblesuit_ticket_keys *k, const uint8_t iv[16],
                             uint32_t issued, const uint8_t master[PTK_SS_MASTER_KEY_LEN],
                             uint8_t ticket[PTK_SS_TICKET_LEN]);
/*
 * Open a ticket sealed under k: PTK_EAUTH if its HMAC or identifier is
 * wrong; otherwise the issue time and master key (the caller wipes it).
 */
int scramblesuit_ticket_open(const struct scramblesuit_ticket_keys *k,
                             const uint8_t ticket[PTK_SS_TICKET_LEN], uint32_t *issued,
                             uint8_t master[PTK_SS_MASTER_KEY_LEN]);

extern const struct ptk_transport_ops ptk_transport_scramblesuit;

#endif
