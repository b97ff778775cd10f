/*
 * HTTP CONNECT client codec (sans-I/O) for TOR_PT_PROXY=http://[user:pass@]host:port.
 *
 * Sends "CONNECT host:port HTTP/1.1", Host, and Proxy-Authorization: Basic
 * when credentials are given; accepts any 2xx status; the response head is
 * capped at 8 KiB. Bytes after the head are stream data (left unconsumed).
 */
#ifndef PTK_PROTO_HTTP_CONNECT_H
#define PTK_PROTO_HTTP_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "ptkit/buf.h"

#define PTK_HTTP_HEAD_MAX 8192

struct ptk_http_connect {
    int state;
    int status; /* HTTP status code once known */
    struct ptk_buf acc;
    const char *error;
};

/* host: IP literal (IPv6 without brackets) or name. auth: "user:pass" or NULL. */
int ptk_http_connect_init(struct ptk_http_connect *h, const char *host, uint16_t port,
                          const char *auth, struct ptk_buf *out);
/* PTK_DONE on 2xx, PTK_MORE, PTK_EDENIED (other status), PTK_EPROTO, PTK_ETOOBIG. */
int ptk_http_connect_feed(struct ptk_http_connect *h, const uint8_t *in, size_t len,
                          size_t *consumed);
const char *ptk_http_connect_error(const struct ptk_http_connect *h);
void ptk_http_connect_free(struct ptk_http_connect *h);

#endif
