/* obfs4_state.json codec (see proto/obfs4_state.h), JSON by jansson. */
#include "proto/obfs4_state.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "ptkit/error.h"
#include "util/str.h"

static int hex_field(json_t *root, const char *name, uint8_t *out, size_t n, bool required,
                     bool *present, char *why, size_t whylen)
{
    json_t *v = json_object_get(root, name);
    if (present)
        *present = v != NULL;
    if (!v) {
        if (required)
            snprintf(why, whylen, "field \"%s\" is missing", name);
        return required ? PTK_EINVAL : PTK_OK;
    }
    if (!json_is_string(v)) {
        snprintf(why, whylen, "field \"%s\" is not a string", name);
        return PTK_EINVAL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 && !required) {
        /* obfs4proxy writes "public-key":"" when the identity came from its options */
        if (present)
            *present = false;
        return PTK_OK;
    }
    if (ptk_hex_decode(s, len, out, n) != PTK_OK) {
        snprintf(why, whylen, "field \"%s\" is not %zu hex digits", name, 2 * n);
        return PTK_EINVAL;
    }
    return PTK_OK;
}

int ptk_obfs4_state_parse(const char *text, size_t len, struct ptk_obfs4_state *st, char *why,
                          size_t whylen)
{
    json_error_t jerr;
    int r = PTK_EINVAL;
    memset(st, 0, sizeof(*st));
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(why, whylen, "not valid JSON (line %d: %s)", jerr.line, jerr.text);
        return PTK_EINVAL;
    }
    if (!json_is_object(root)) {
        snprintf(why, whylen, "not a JSON object");
        goto out;
    }
    if (hex_field(root, "node-id", st->node_id, 20, true, NULL, why, whylen) != PTK_OK ||
        hex_field(root, "private-key", st->private_key, 32, true, NULL, why, whylen) != PTK_OK ||
        hex_field(root, "public-key", st->public_key, 32, false, &st->has_public_key, why,
                  whylen) != PTK_OK ||
        hex_field(root, "drbg-seed", st->drbg_seed, 24, true, NULL, why, whylen) != PTK_OK)
        goto out;
    json_t *iat = json_object_get(root, "iat-mode");
    if (iat) {
        if (!json_is_integer(iat) || json_integer_value(iat) < 0 || json_integer_value(iat) > 2) {
            snprintf(why, whylen, "field \"iat-mode\" is not 0, 1 or 2");
            goto out;
        }
        st->iat_mode = (int)json_integer_value(iat);
    }
    r = PTK_OK;
out:
    json_decref(root);
    if (r != PTK_OK)
        ptk_memzero(st, sizeof(*st));
    return r;
}

int ptk_obfs4_state_format(const struct ptk_obfs4_state *st, struct ptk_buf *out)
{
    char id[41], priv[65], pub[65], seed[49];
    ptk_hex_encode(st->node_id, 20, id);
    ptk_hex_encode(st->private_key, 32, priv);
    ptk_hex_encode(st->public_key, 32, pub);
    ptk_hex_encode(st->drbg_seed, 24, seed);
    int r = ptk_buf_printf(out,
                           "{\"node-id\":\"%s\",\"private-key\":\"%s\",\"public-key\":\"%s\","
                           "\"drbg-seed\":\"%s\",\"iat-mode\":%d}",
                           id, priv, pub, seed, st->iat_mode);
    ptk_memzero(priv, sizeof(priv));
    return r;
}
