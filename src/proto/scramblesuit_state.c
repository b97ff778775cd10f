/* scramblesuit state files (see proto/scramblesuit_state.h), JSON by jansson. */
#include "proto/scramblesuit_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "ptkit/error.h"
#include "util/base32.h"
#include "util/str.h"

#define KT_LEN (PTK_SS_MASTER_KEY_LEN + PTK_SS_TICKET_LEN) /* 144 */

/* ---------- client ticket store ---------- */

static struct ptk_ss_ticket *find(struct ptk_ss_tickets *t, const char *peer)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].peer, peer) == 0)
            return &t->v[i];
    return NULL;
}

static void entry_wipe(struct ptk_ss_ticket *e)
{
    free(e->peer);
    ptk_memzero(e, sizeof(*e));
}

int ptk_ss_tickets_put(struct ptk_ss_tickets *t, const char *peer,
                       const uint8_t key[PTK_SS_MASTER_KEY_LEN],
                       const uint8_t ticket[PTK_SS_TICKET_LEN], int64_t issued_at)
{
    struct ptk_ss_ticket *e = find(t, peer);
    if (!e) {
        if (t->n == t->cap) {
            size_t ncap = t->cap ? 2 * t->cap : 4;
            struct ptk_ss_ticket *nv = calloc(ncap, sizeof(*nv));
            if (!nv)
                return PTK_ENOMEM;
            if (t->n)
                memcpy(nv, t->v, t->n * sizeof(*nv));
            if (t->v) {
                ptk_memzero(t->v, t->cap * sizeof(*t->v));
                free(t->v);
            }
            t->v = nv;
            t->cap = ncap;
        }
        char *name = ptk_strndup(peer, strlen(peer));
        if (!name)
            return PTK_ENOMEM;
        e = &t->v[t->n++];
        e->peer = name;
    }
    memcpy(e->key, key, PTK_SS_MASTER_KEY_LEN);
    memcpy(e->ticket, ticket, PTK_SS_TICKET_LEN);
    e->issued_at = issued_at;
    return PTK_OK;
}

bool ptk_ss_tickets_take(struct ptk_ss_tickets *t, const char *peer, struct ptk_ss_ticket *out)
{
    struct ptk_ss_ticket *e = find(t, peer);
    if (!e)
        return false;
    memcpy(out->key, e->key, sizeof(out->key));
    memcpy(out->ticket, e->ticket, sizeof(out->ticket));
    out->issued_at = e->issued_at;
    out->peer = NULL;
    entry_wipe(e);
    size_t i = (size_t)(e - t->v);
    memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*e));
    t->n--;
    ptk_memzero(&t->v[t->n], sizeof(*e));
    return true;
}

void ptk_ss_tickets_free(struct ptk_ss_tickets *t)
{
    for (size_t i = 0; i < t->n; i++)
        entry_wipe(&t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

int ptk_ss_tickets_parse(const char *text, size_t len, struct ptk_ss_tickets *t, char *why,
                         size_t whylen)
{
    json_error_t jerr;
    int r = PTK_EINVAL;
    const char *name;
    json_t *v;
    /* duplicate names: the last one wins, as in Go's json.Unmarshal */
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        snprintf(why, whylen, "not valid JSON (line %d: %s)", jerr.line, jerr.text);
        return PTK_EINVAL;
    }
    if (json_is_null(root)) {
        r = PTK_OK; /* Go leaves the map empty */
        goto out;
    }
    if (!json_is_object(root)) {
        snprintf(why, whylen, "not a JSON object");
        goto out;
    }
    json_object_foreach(root, name, v)
    {
        if (json_is_null(v))
            continue;
        if (!json_is_object(v)) {
            snprintf(why, whylen, "entry \"%s\" is not an object", name);
            goto out;
        }
        json_t *kt = json_object_get(v, "key-ticket");
        json_t *at = json_object_get(v, "issuedAt");
        if (kt && !json_is_string(kt)) {
            snprintf(why, whylen, "entry \"%s\": \"key-ticket\" is not a string", name);
            goto out;
        }
        if (at && !json_is_integer(at)) {
            snprintf(why, whylen, "entry \"%s\": \"issuedAt\" is not an integer", name);
            goto out;
        }
        if (!kt)
            continue; /* an empty key-ticket decodes to 0 bytes: skipped */
        uint8_t raw[KT_LEN];
        size_t n = 0, bad = 0;
        if (ptk_base32_decode(json_string_value(kt), json_string_length(kt), raw, sizeof(raw), &n,
                              &bad) != PTK_OK ||
            n != KT_LEN) {
            ptk_memzero(raw, sizeof(raw));
            continue; /* obfs4proxy skips corrupt tickets silently */
        }
        int pr = ptk_ss_tickets_put(t, name, raw, raw + PTK_SS_MASTER_KEY_LEN,
                                    at ? (int64_t)json_integer_value(at) : 0);
        ptk_memzero(raw, sizeof(raw));
        if (pr != PTK_OK) {
            snprintf(why, whylen, "out of memory");
            r = pr;
            goto out;
        }
    }
    r = PTK_OK;
out:
    json_decref(root);
    if (r != PTK_OK)
        ptk_ss_tickets_free(t);
    return r;
}

int ptk_ss_tickets_format(const struct ptk_ss_tickets *t, int64_t expired_before,
                          struct ptk_buf *out)
{
    char enc[PTK_BASE32_LEN(KT_LEN) + 1];
    uint8_t raw[KT_LEN];
    int r = PTK_ENOMEM;
    char *text = NULL;
    const char *k;
    json_t *v;
    json_t *root = json_object();
    if (!root)
        return PTK_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        const struct ptk_ss_ticket *e = &t->v[i];
        if (e->issued_at <= expired_before)
            continue;
        memcpy(raw, e->key, PTK_SS_MASTER_KEY_LEN);
        memcpy(raw + PTK_SS_MASTER_KEY_LEN, e->ticket, PTK_SS_TICKET_LEN);
        ptk_base32_encode(raw, sizeof(raw), enc);
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "key-ticket", json_string(enc)) != 0 ||
            json_object_set_new(o, "issuedAt", json_integer((json_int_t)e->issued_at)) != 0 ||
            json_object_set_new(root, e->peer, o) != 0)
            goto out;
    }
    text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        goto out;
    r = ptk_buf_put_str(out, text);
out:
    if (text) {
        ptk_memzero(text, strlen(text));
        free(text);
    }
    /* jansson keeps its own copies of the base32 strings: wipe those too */
    json_object_foreach(root, k, v)
    {
        json_t *s = json_object_get(v, "key-ticket");
        if (json_is_string(s))
            ptk_memzero((char *)json_string_value(s), json_string_length(s));
    }
    json_decref(root);
    ptk_memzero(raw, sizeof(raw));
    ptk_memzero(enc, sizeof(enc));
    return r;
}

/* ---------- server state ---------- */

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
    if (!json_is_string(v) ||
        ptk_hex_decode(json_string_value(v), json_string_length(v), out, n) != PTK_OK) {
        snprintf(why, whylen, "field \"%s\" is not %zu hex digits", name, 2 * n);
        return PTK_EINVAL;
    }
    return PTK_OK;
}

int ptk_ss_server_state_parse(const char *text, size_t len, struct ptk_ss_server_state *st,
                              char *why, size_t whylen)
{
    json_error_t jerr;
    int r = PTK_EINVAL;
    bool old_aes = false, old_hmac = false;
    const char *k;
    json_t *v;
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
    json_t *pw = json_object_get(root, "password");
    size_t n = 0, bad = 0;
    if (!pw) {
        snprintf(why, whylen, "field \"password\" is missing");
        goto out;
    }
    if (!json_is_string(pw) ||
        ptk_base32_decode(json_string_value(pw), json_string_length(pw), st->password,
                          sizeof(st->password), &n, &bad) != PTK_OK ||
        n != PTK_SS_PASSWORD_LEN) {
        snprintf(why, whylen, "field \"password\" is not base32 for %d bytes", PTK_SS_PASSWORD_LEN);
        goto out;
    }
    if (hex_field(root, "prng-seed", st->prng_seed, sizeof(st->prng_seed), true, NULL, why,
                  whylen) != PTK_OK ||
        hex_field(root, "ticket-aes-key", st->aes_key, sizeof(st->aes_key), true, NULL, why,
                  whylen) != PTK_OK ||
        hex_field(root, "ticket-hmac-key", st->hmac_key, sizeof(st->hmac_key), true, NULL, why,
                  whylen) != PTK_OK ||
        hex_field(root, "old-ticket-aes-key", st->old_aes_key, sizeof(st->old_aes_key), false,
                  &old_aes, why, whylen) != PTK_OK ||
        hex_field(root, "old-ticket-hmac-key", st->old_hmac_key, sizeof(st->old_hmac_key), false,
                  &old_hmac, why, whylen) != PTK_OK)
        goto out;
    if (old_aes != old_hmac) {
        snprintf(why, whylen,
                 "fields \"old-ticket-aes-key\" and \"old-ticket-hmac-key\" go "
                 "together");
        goto out;
    }
    st->has_old = old_aes;
    json_t *kc = json_object_get(root, "key-creation");
    if (!kc || !json_is_integer(kc) || json_integer_value(kc) < 0) {
        snprintf(why, whylen, "field \"key-creation\" is %s",
                 kc ? "not a non-negative integer" : "missing");
        goto out;
    }
    st->key_creation = (int64_t)json_integer_value(kc);
    r = PTK_OK;
out:
    /* jansson's copies of the secrets go away with the document: wipe them first */
    json_object_foreach(root, k, v)
    {
        if (json_is_string(v))
            ptk_memzero((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(root);
    if (r != PTK_OK)
        ptk_memzero(st, sizeof(*st));
    return r;
}

int ptk_ss_server_state_format(const struct ptk_ss_server_state *st, struct ptk_buf *out)
{
    char pw[PTK_BASE32_LEN(PTK_SS_PASSWORD_LEN) + 1];
    char seed[2 * PTK_SS_PRNG_SEED_LEN + 1], aes[2 * PTK_SS_TICKET_AES_LEN + 1];
    char mac[2 * PTK_SS_TICKET_HMAC_LEN + 1], oaes[sizeof(aes)], omac[sizeof(mac)];
    ptk_base32_encode(st->password, sizeof(st->password), pw);
    ptk_hex_encode(st->prng_seed, sizeof(st->prng_seed), seed);
    ptk_hex_encode(st->aes_key, sizeof(st->aes_key), aes);
    ptk_hex_encode(st->hmac_key, sizeof(st->hmac_key), mac);
    int r = ptk_buf_printf(out,
                           "{\"password\":\"%s\",\"prng-seed\":\"%s\",\"ticket-aes-key\":\"%s\","
                           "\"ticket-hmac-key\":\"%s\",\"key-creation\":%lld",
                           pw, seed, aes, mac, (long long)st->key_creation);
    if (r == PTK_OK && st->has_old) {
        ptk_hex_encode(st->old_aes_key, sizeof(st->old_aes_key), oaes);
        ptk_hex_encode(st->old_hmac_key, sizeof(st->old_hmac_key), omac);
        r = ptk_buf_printf(out, ",\"old-ticket-aes-key\":\"%s\",\"old-ticket-hmac-key\":\"%s\"",
                           oaes, omac);
        ptk_memzero(oaes, sizeof(oaes));
        ptk_memzero(omac, sizeof(omac));
    }
    if (r == PTK_OK)
        r = ptk_buf_put_str(out, "}\n");
    ptk_memzero(pw, sizeof(pw));
    ptk_memzero(aes, sizeof(aes));
    ptk_memzero(mac, sizeof(mac));
    ptk_memzero(seed, sizeof(seed));
    return r;
}
