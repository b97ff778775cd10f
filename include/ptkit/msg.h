/*
 * The managed-proxy stdout protocol (pt-spec 3.3): emit and parse.
 *
 * Emitters append one complete line ("...\n") to a buffer; the caller writes
 * and flushes it. Free-text arguments (error messages) are sanitised: control
 * bytes become '?', so a line can never be split or forged. LOG messages and
 * STATUS values are C-quoted as tor expects.
 *
 * ptk_msg_parse() parses one line (without its '\n'; one trailing '\r' is
 * ignored) the way tor does: keyword by prefix, strict syntax for the
 * configuration lines, unknown lines reported as PTK_MSG_UNKNOWN.
 */
#ifndef PTKIT_MSG_H
#define PTKIT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "ptkit/buf.h"
#include "ptkit/kv.h"
#include "ptkit/log.h"

int ptk_msg_version(struct ptk_buf *out);       /* VERSION 1 */
int ptk_msg_version_error(struct ptk_buf *out); /* VERSION-ERROR no-version */
int ptk_msg_env_error(struct ptk_buf *out, const char *msg);
/* socks: "socks5" or "socks4". */
int ptk_msg_cmethod(struct ptk_buf *out, const char *transport, const char *socks,
                    const struct sockaddr *addr);
int ptk_msg_cmethod_error(struct ptk_buf *out, const char *transport, const char *msg);
int ptk_msg_cmethods_done(struct ptk_buf *out);
/* args may be NULL or empty: then no ARGS: field. */
int ptk_msg_smethod(struct ptk_buf *out, const char *transport, const struct sockaddr *addr,
                    const struct ptk_kvlist *args);
int ptk_msg_smethod_error(struct ptk_buf *out, const char *transport, const char *msg);
int ptk_msg_smethods_done(struct ptk_buf *out);
int ptk_msg_proxy_done(struct ptk_buf *out);
int ptk_msg_proxy_error(struct ptk_buf *out, const char *msg);
int ptk_msg_log(struct ptk_buf *out, enum ptk_log_level level, const char *msg);
/* STATUS [TRANSPORT=t] k=v ... ; transport may be NULL. Values quoted when needed. */
int ptk_msg_status(struct ptk_buf *out, const char *transport, const struct ptk_kvlist *kv);

/* Append s C-quoted ("...", with \ooo escapes for anything not printable, '"' and '\'). */
int ptk_cquote(struct ptk_buf *out, const char *s);
/* Decode a C-quoted string at s[0..n) that starts with '"'; *used = bytes consumed. */
int ptk_cunquote(const char *s, size_t n, struct ptk_buf *out, size_t *used);

enum ptk_msg_type {
    PTK_MSG_UNKNOWN = 0,
    PTK_MSG_VERSION,
    PTK_MSG_VERSION_ERROR,
    PTK_MSG_ENV_ERROR,
    PTK_MSG_CMETHOD,
    PTK_MSG_CMETHOD_ERROR,
    PTK_MSG_CMETHODS_DONE,
    PTK_MSG_SMETHOD,
    PTK_MSG_SMETHOD_ERROR,
    PTK_MSG_SMETHODS_DONE,
    PTK_MSG_PROXY_DONE,
    PTK_MSG_PROXY_ERROR,
    PTK_MSG_LOG,
    PTK_MSG_STATUS,
};

struct ptk_msg {
    enum ptk_msg_type type;
    char transport[128];          /* method lines, their errors, STATUS TRANSPORT= */
    char version[32];             /* VERSION */
    int socks_version;            /* CMETHOD: 4 or 5 */
    struct sockaddr_storage addr; /* CMETHOD/SMETHOD */
    socklen_t addrlen;
    char *text;                   /* error text / LOG message (owned, may be NULL) */
    char *raw_args;               /* SMETHOD ARGS: value as written (escapes kept) */
    enum ptk_log_level severity;  /* LOG */
    struct ptk_kvlist kv;         /* SMETHOD ARGS (decoded) / STATUS fields */
};

/*
 * Parse one line. Returns PTK_OK with m->type set (PTK_MSG_UNKNOWN for lines
 * tor ignores), or PTK_EPROTO for a known keyword with bad syntax (tor would
 * mark the PT broken); *why then says what is wrong. Free m with
 * ptk_msg_free in all cases.
 */
int ptk_msg_parse(const char *line, size_t len, struct ptk_msg *m, const char **why);
void ptk_msg_free(struct ptk_msg *m);
const char *ptk_msg_type_name(enum ptk_msg_type t);

#endif
