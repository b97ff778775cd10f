/*
 * Base32 (RFC 4648, the standard upper-case alphabet with '=' padding), as
 * scramblesuit passwords and obfs4proxy's ticket store use it.
 *
 * Decoding follows Go's encoding/base32 StdEncoding.DecodeString (the Go 1.19
 * code that Debian's obfs4proxy 0.0.14 is built with), because obfs4proxy's
 * error for a bad scramblesuit password quotes Go's "illegal base32 data at
 * input byte N": CR and LF are skipped (N counts without them), lower case
 * is illegal, a final quantum must be padded to 8 characters, and decoding
 * stops after the first padded quantum (anything after it is ignored).
 */
#ifndef PTK_UTIL_BASE32_H
#define PTK_UTIL_BASE32_H

#include <stddef.h>
#include <stdint.h>

/* Characters ptk_base32_encode writes for n bytes (padding included, NUL excluded). */
#define PTK_BASE32_LEN(n) (((n) + 4) / 5 * 8)

/* Encode in[0..n) into out, which must hold PTK_BASE32_LEN(n) + 1 bytes (NUL-terminated). */
void ptk_base32_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decode s[0..slen). Writes the first outcap decoded bytes to out (out may be
 * NULL when outcap is 0) and the full decoded length to *outlen either way,
 * so a caller can tell "20 bytes" from "25 bytes" with a 20-byte buffer.
 * PTK_EINVAL if Go would refuse the input; then *bad is the offset Go
 * reports (in s with CR/LF removed) and *outlen the bytes decoded before it.
 */
int ptk_base32_decode(const char *s, size_t slen, uint8_t *out, size_t outcap, size_t *outlen,
                      size_t *bad);

#endif
