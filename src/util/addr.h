/*
 * Socket addresses as text: "1.2.3.4:5", "[2001:db8::1]:5".
 *
 * Parsing accepts only literal IP addresses (no name resolution). IPv6 must be
 * bracketed when a port follows, as tor writes it. Formatting always brackets
 * IPv6.
 */
#ifndef PTK_UTIL_ADDR_H
#define PTK_UTIL_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ptk_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

#define PTK_ADDR_PORT_ZERO_OK 0x1 /* accept port 0 (ephemeral bind) */
#define PTK_ADDR_NO_PORT 0x2      /* the text is a bare IP, no ":port"; brackets optional */

/* Parse s[0..n) into *a. PTK_EINVAL with a reason in why (static string) on error. */
int ptk_addr_parse(const char *s, size_t n, unsigned flags, struct ptk_addr *a, const char **why);
/* Format into buf ("[v6]:port" / "v4:port"); PTK_ETOOBIG if buf is too small. */
int ptk_addr_format(const struct sockaddr *sa, char *buf, size_t n);
/* Format only the IP (no brackets, no port). */
int ptk_addr_format_ip(const struct sockaddr *sa, char *buf, size_t n);
uint16_t ptk_addr_port(const struct sockaddr *sa);
void ptk_addr_set_port(struct ptk_addr *a, uint16_t port);
/* Build from an IPv4 (4 bytes) or IPv6 (16 bytes) address in network order. */
void ptk_addr_from_ip(struct ptk_addr *a, int family, const uint8_t *ip, uint16_t port);

/*
 * Split "host:port" (host may be a name, an IPv4 address or a bracketed IPv6
 * address) into host (brackets removed, NUL-terminated) and port 1..65535.
 */
int ptk_hostport_split(const char *s, size_t n, char *host, size_t hostlen, uint16_t *port,
                       const char **why);

/* Longest text ptk_addr_format produces, with NUL. */
#define PTK_ADDRSTRLEN 56

#endif
