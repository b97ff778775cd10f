/*
 * obfs4_state.json, the obfs4 server identity file, exactly as obfs4proxy
 * writes it:
 *   {"node-id":"<40 hex>","private-key":"<64 hex>","public-key":"<64 hex>",
 *    "drbg-seed":"<48 hex>","iat-mode":0}
 * Parsing is strict (each field's type and length checked, the reason names
 * the field) because a silently regenerated identity would change the
 * bridge's cert; "public-key" is optional on input (it is derived from the
 * private key) and "iat-mode" defaults to 0, as in obfs4proxy.
 */
#ifndef PTK_PROTO_OBFS4_STATE_H
#define PTK_PROTO_OBFS4_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptkit/buf.h"

struct ptk_obfs4_state {
    uint8_t node_id[20];
    uint8_t private_key[32];
    uint8_t public_key[32];
    bool has_public_key;
    uint8_t drbg_seed[24];
    int iat_mode;
};

/* PTK_EINVAL with a reason (naming the field) in why. */
int ptk_obfs4_state_parse(const char *text, size_t len, struct ptk_obfs4_state *st, char *why,
                          size_t whylen);
/* Append the JSON (public_key must be set). */
int ptk_obfs4_state_format(const struct ptk_obfs4_state *st, struct ptk_buf *out);

#endif
