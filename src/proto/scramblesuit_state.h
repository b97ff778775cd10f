/*
 * The scramblesuit state files (JSON by jansson), parsed and formatted
 * without touching the file system.
 *
 * Client ticket store, scramblesuit_tickets.json, in obfs4proxy 0.0.14's
 * format (transports/scramblesuit/handshake_ticket.go):
 *   {"<peer>":{"key-ticket":"<base32 of master key (32) | ticket (112)>",
 *              "issuedAt":<unix seconds>}, ...}
 * obfs4proxy names the peer by its "IP:port"; parsing accepts any name.
 * As in obfs4proxy, a document that is not a JSON object of objects fails,
 * while an entry whose key-ticket does not decode to 144 bytes is skipped
 * silently (so is a null entry, which makes obfs4proxy panic).
 *
 * Server state, scramblesuit_server.json (ptkit's own format: obfsproxy
 * pickles a Python object, which nothing else can read):
 *   {"password":"<base32, 20 bytes>","prng-seed":"<64 hex>",
 *    "ticket-aes-key":"<32 hex>","ticket-hmac-key":"<64 hex>",
 *    "key-creation":<unix seconds>,
 *    "old-ticket-aes-key":"<32 hex>","old-ticket-hmac-key":"<64 hex>"}
 * The two old-* fields (the keys before the last weekly rotation) go
 * together and are optional. Parsing is strict, naming the bad field.
 */
#ifndef PTK_PROTO_SCRAMBLESUIT_STATE_H
#define PTK_PROTO_SCRAMBLESUIT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptkit/buf.h"

#define PTK_SS_PASSWORD_LEN 20
#define PTK_SS_MASTER_KEY_LEN 32
#define PTK_SS_TICKET_LEN 112
#define PTK_SS_PRNG_SEED_LEN 32
#define PTK_SS_TICKET_AES_LEN 16
#define PTK_SS_TICKET_HMAC_LEN 32

/* One stored ticket with the master key it was issued with. */
struct ptk_ss_ticket {
    char *peer; /* owned */
    uint8_t key[PTK_SS_MASTER_KEY_LEN];
    uint8_t ticket[PTK_SS_TICKET_LEN];
    int64_t issued_at;
};

struct ptk_ss_tickets {
    struct ptk_ss_ticket *v;
    size_t n, cap;
};

#define PTK_SS_TICKETS_INIT                                                                        \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Parse a ticket store document into t (which must be empty). PTK_EINVAL
 * with a reason in why if it is not a JSON object of objects with a string
 * "key-ticket" and an integer "issuedAt"; PTK_ENOMEM.
 */
int ptk_ss_tickets_parse(const char *text, size_t len, struct ptk_ss_tickets *t, char *why,
                         size_t whylen);
/* Append the JSON of every entry issued after expired_before (unix seconds). */
int ptk_ss_tickets_format(const struct ptk_ss_tickets *t, int64_t expired_before,
                          struct ptk_buf *out);
/* Store a ticket for peer, replacing any previous one. PTK_ENOMEM. */
int ptk_ss_tickets_put(struct ptk_ss_tickets *t, const char *peer,
                       const uint8_t key[PTK_SS_MASTER_KEY_LEN],
                       const uint8_t ticket[PTK_SS_TICKET_LEN], int64_t issued_at);
/*
 * Remove peer's ticket from t. If there was one, copy its key, ticket and
 * issue time into out (out->peer is set to NULL) and return true.
 */
bool ptk_ss_tickets_take(struct ptk_ss_tickets *t, const char *peer, struct ptk_ss_ticket *out);
/* Wipe and free every entry; t is empty and reusable afterwards. */
void ptk_ss_tickets_free(struct ptk_ss_tickets *t);

struct ptk_ss_server_state {
    uint8_t password[PTK_SS_PASSWORD_LEN]; /* generated when no password option is given */
    uint8_t prng_seed[PTK_SS_PRNG_SEED_LEN];
    uint8_t aes_key[PTK_SS_TICKET_AES_LEN];
    uint8_t hmac_key[PTK_SS_TICKET_HMAC_LEN];
    int64_t key_creation;
    bool has_old;
    uint8_t old_aes_key[PTK_SS_TICKET_AES_LEN];
    uint8_t old_hmac_key[PTK_SS_TICKET_HMAC_LEN];
};

/* PTK_EINVAL with a reason (naming the field) in why; st is wiped on failure. */
int ptk_ss_server_state_parse(const char *text, size_t len, struct ptk_ss_server_state *st,
                              char *why, size_t whylen);
/* Append the JSON. */
int ptk_ss_server_state_format(const struct ptk_ss_server_state *st, struct ptk_buf *out);

#endif
