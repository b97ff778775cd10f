/*
 * Extended ORPort codecs (sans-I/O), both ends (ext-orport-spec, SAFE_COOKIE).
 *
 * Client (the PT's server side, talking to tor):
 *   tor -> PT : auth types, 0x00-terminated (must include 0x01)
 *   PT  -> tor: 0x01, ClientNonce[32]
 *   tor -> PT : ServerHash[32], ServerNonce[32]   (checked in constant time)
 *   PT  -> tor: ClientHash[32]
 *   tor -> PT : 0x01 success / 0x00 failure
 *   PT  -> tor: [USERADDR] [TRANSPORT] DONE       (u16 cmd, u16 len, body)
 *   tor -> PT : OKAY (0x1000) or DENY (0x1001); only then may OR data flow.
 *   ServerHash = HMAC-SHA256(cookie, "ExtORPort authentication server-to-client hash" | CN | SN)
 *   ClientHash = HMAC-SHA256(cookie, "ExtORPort authentication client-to-server hash" | CN | SN)
 *
 * Server (the parent side, as tor): the mirror image; it records USERADDR and
 * TRANSPORT and lets the caller decide between OKAY and DENY.
 *
 * Both: feed received bytes; send whatever is appended to `out`; PTK_DONE
 * marks the end of the exchange; unconsumed bytes after it are stream data.
 */
#ifndef PTKIT_EXTOR_H
#define PTKIT_EXTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptkit/buf.h"

#define PTK_EXTOR_COOKIE_LEN 32
#define PTK_EXTOR_COOKIE_FILE_LEN 64
#define PTK_EXTOR_COOKIE_HEADER "! Extended ORPort Auth Cookie !\x0a"

enum ptk_extor_cmd {
    PTK_EXTOR_DONE = 0x0000,
    PTK_EXTOR_USERADDR = 0x0001,
    PTK_EXTOR_TRANSPORT = 0x0002,
    PTK_EXTOR_OKAY = 0x1000,
    PTK_EXTOR_DENY = 0x1001,
    PTK_EXTOR_CONTROL = 0x1002,
};

/*
 * Check a cookie file's contents (exactly 64 bytes: the 32-byte header, then
 * the cookie) and copy the cookie out. PTK_EINVAL with a reason in why.
 */
int ptk_extor_cookie_parse(const uint8_t *data, size_t len, uint8_t cookie[PTK_EXTOR_COOKIE_LEN],
                           const char **why);
/* Build a new cookie file image with a fresh random cookie. */
void ptk_extor_cookie_make(uint8_t file[PTK_EXTOR_COOKIE_FILE_LEN]);

struct ptk_extor_client {
    int state;
    uint8_t cookie[PTK_EXTOR_COOKIE_LEN];
    uint8_t client_nonce[32];
    char *useraddr;  /* owned, may be NULL */
    char *transport; /* owned, may be NULL */
    struct ptk_buf acc;
    const char *error;
};

/*
 * useraddr ("1.2.3.4:5" or "[v6]:5") and transport (a C identifier) may be
 * NULL to omit them. The cookie is copied. Nothing is sent before tor speaks.
 */
int ptk_extor_client_init(struct ptk_extor_client *c, const uint8_t cookie[PTK_EXTOR_COOKIE_LEN],
                          const char *useraddr, const char *transport);
/*
 * Returns PTK_DONE once OKAY arrived, PTK_MORE, or: PTK_EAUTH (no SAFE_COOKIE
 * offered, wrong server hash, or auth failure status), PTK_EDENIED (DENY),
 * PTK_EPROTO (unexpected command or malformed input).
 */
int ptk_extor_client_feed(struct ptk_extor_client *c, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out);
const char *ptk_extor_client_error(const struct ptk_extor_client *c);
void ptk_extor_client_free(struct ptk_extor_client *c);

struct ptk_extor_server {
    int state;
    uint8_t cookie[PTK_EXTOR_COOKIE_LEN];
    uint8_t client_nonce[32];
    uint8_t server_nonce[32];
    char *useraddr;  /* set once received (NUL-terminated copy), else NULL */
    char *transport; /* likewise */
    struct ptk_buf acc;
    const char *error;
};

/* Start: appends the auth-type list (0x01 0x00) to out. */
int ptk_extor_server_init(struct ptk_extor_server *s, const uint8_t cookie[PTK_EXTOR_COOKIE_LEN],
                          struct ptk_buf *out);
/*
 * Returns PTK_DONE after the client's DONE command (then call
 * ptk_extor_server_reply), PTK_MORE, PTK_EAUTH (wrong client hash; the 0x00
 * status has been appended to out), PTK_EPROTO.
 */
int ptk_extor_server_feed(struct ptk_extor_server *s, const uint8_t *in, size_t len,
                          size_t *consumed, struct ptk_buf *out);
/* Append OKAY (okay=true) or DENY. */
int ptk_extor_server_reply(struct ptk_extor_server *s, bool okay, struct ptk_buf *out);
const char *ptk_extor_server_error(const struct ptk_extor_server *s);
void ptk_extor_server_free(struct ptk_extor_server *s);

#endif
