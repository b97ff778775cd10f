/*
 * Small string helpers that libc lacks or gets wrong.
 */
#ifndef PTK_UTIL_STR_H
#define PTK_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy with truncation, always NUL-terminating (dst size n > 0). Returns strlen(src). */
size_t ptk_strlcpy(char *dst, const char *src, size_t n);
/* Allocate a NUL-terminated copy of s[0..n); NULL on ENOMEM. */
char *ptk_strndup(const char *s, size_t n);
/* Parse all of s[0..n) as a decimal integer in [min, max]; no sign, no spaces. */
int ptk_parse_u64(const char *s, size_t n, uint64_t min, uint64_t max, uint64_t *out);
/* True if s[0..n) is a C identifier ([A-Za-z_][A-Za-z0-9_]*), as tor requires of transport names. */
bool ptk_is_c_identifier(const char *s, size_t n);
/* Hex encode n bytes into out (2n+1 bytes). */
void ptk_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly 2n hex digits from s into out[n]; PTK_EINVAL on anything else. */
int ptk_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);
/* Wipe memory in a way the compiler cannot elide. */
void ptk_wipe(void *p, size_t n);

#endif
