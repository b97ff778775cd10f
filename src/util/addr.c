/*
 * Address text <-> sockaddr. Only literal IPs; names are the caller's job
 * (ptk_hostport_split keeps them as text).
 */
#include "util/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/str.h"

/* Split off ":port" at the last colon; handles brackets. */
static int split(const char *s, size_t n, const char **h, size_t *hn, const char **p, size_t *pn,
                 bool *bracketed, const char **why)
{
    *bracketed = false;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            *why = "missing ']'";
            return PTK_EINVAL;
        }
        *h = s + 1;
        *hn = (size_t)(close - s - 1);
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest < 2 || close[1] != ':') {
            *why = "missing port";
            return PTK_EINVAL;
        }
        *p = close + 2;
        *pn = rest - 1;
        *bracketed = true;
        return PTK_OK;
    }
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    }
    if (!colon) {
        *why = "missing port";
        return PTK_EINVAL;
    }
    *h = s;
    *hn = (size_t)(colon - s);
    *p = colon + 1;
    *pn = n - *hn - 1;
    if (memchr(s, ':', *hn)) {
        *why = "IPv6 address must be in brackets";
        return PTK_EINVAL;
    }
    return PTK_OK;
}

static int parse_ip(const char *h, size_t hn, struct ptk_addr *a)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    if (hn == 0 || hn >= sizeof(tmp) || memchr(h, '\0', hn))
        return PTK_EINVAL;
    memcpy(tmp, h, hn);
    tmp[hn] = '\0';
    memset(a, 0, sizeof(*a));
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET, tmp, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        a->len = sizeof(*sin);
        return PTK_OK;
    }
    if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        a->len = sizeof(*sin6);
        return PTK_OK;
    }
    return PTK_EINVAL;
}

int ptk_addr_parse(const char *s, size_t n, unsigned flags, struct ptk_addr *a, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (flags & PTK_ADDR_NO_PORT) {
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
            s++;
            n -= 2;
        }
        if (parse_ip(s, n, a) != PTK_OK) {
            *why = "not an IP address";
            return PTK_EINVAL;
        }
        return PTK_OK;
    }
    const char *h, *p;
    size_t hn, pn;
    bool br;
    if (split(s, n, &h, &hn, &p, &pn, &br, why) != PTK_OK)
        return PTK_EINVAL;
    uint64_t port;
    if (ptk_parse_u64(p, pn, (flags & PTK_ADDR_PORT_ZERO_OK) ? 0 : 1, 65535, &port) != PTK_OK) {
        *why = "bad port";
        return PTK_EINVAL;
    }
    if (parse_ip(h, hn, a) != PTK_OK) {
        *why = "not an IP address";
        return PTK_EINVAL;
    }
    if (br && a->ss.ss_family != AF_INET6) {
        *why = "brackets around an IPv4 address";
        return PTK_EINVAL;
    }
    ptk_addr_set_port(a, (uint16_t)port);
    return PTK_OK;
}

uint16_t ptk_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

void ptk_addr_set_port(struct ptk_addr *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    else if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

void ptk_addr_from_ip(struct ptk_addr *a, int family, const uint8_t *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip, 4);
        sin->sin_port = htons(port);
        a->len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, ip, 16);
        sin6->sin6_port = htons(port);
        a->len = sizeof(*sin6);
    }
}

int ptk_addr_format_ip(const struct sockaddr *sa, char *buf, size_t n)
{
    const void *src;
    if (sa->sa_family == AF_INET)
        src = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    else
        return PTK_EINVAL;
    if (!inet_ntop(sa->sa_family, src, buf, (socklen_t)n))
        return PTK_ETOOBIG;
    return PTK_OK;
}

int ptk_addr_format(const struct sockaddr *sa, char *buf, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    int r = ptk_addr_format_ip(sa, ip, sizeof(ip));
    if (r != PTK_OK)
        return r;
    bool v6 = sa->sa_family == AF_INET6;
    int w = snprintf(buf, n, "%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "",
                     (unsigned)ptk_addr_port(sa));
    if (w < 0 || (size_t)w >= n)
        return PTK_ETOOBIG;
    return PTK_OK;
}

int ptk_hostport_split(const char *s, size_t n, char *host, size_t hostlen, uint16_t *port,
                       const char **why)
{
    const char *h, *p, *dummy;
    size_t hn, pn;
    bool br;
    uint64_t v;
    if (!why)
        why = &dummy;
    if (split(s, n, &h, &hn, &p, &pn, &br, why) != PTK_OK)
        return PTK_EINVAL;
    if (hn == 0) {
        *why = "missing host";
        return PTK_EINVAL;
    }
    if (hn >= hostlen || memchr(h, '\0', hn)) {
        *why = "host too long";
        return PTK_EINVAL;
    }
    if (ptk_parse_u64(p, pn, 1, 65535, &v) != PTK_OK) {
        *why = "bad port";
        return PTK_EINVAL;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (uint16_t)v;
    return PTK_OK;
}
