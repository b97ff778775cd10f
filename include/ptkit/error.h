/*
 * ptkit error codes.
 *
 * Every fallible ptkit function returns an int: 0 (PTK_OK) on success, a
 * negative PTK_E* code on failure. Incremental parsers additionally return
 * PTK_DONE (a complete message was parsed) or PTK_MORE (all input consumed,
 * feed more). ptk_strerror() turns any of these into a short English phrase.
 */
#ifndef PTKIT_ERROR_H
#define PTKIT_ERROR_H

enum {
    PTK_DONE = 1,     /* parser: a complete message is available */
    PTK_OK = 0,       /* success */
    PTK_MORE = 0,     /* parser: everything consumed, need more input */
    PTK_ENOMEM = -1,  /* allocation failed */
    PTK_EINVAL = -2,  /* invalid argument or value */
    PTK_EPROTO = -3,  /* malformed protocol input from the peer */
    PTK_ETOOBIG = -4, /* input exceeds a fixed cap */
    PTK_EAUTH = -5,   /* authentication failed */
    PTK_ENOTSUP = -6, /* valid but unsupported (version, command, scheme) */
    PTK_EIO = -7,     /* a system call failed; errno tells more */
    PTK_ECLOSED = -8, /* the peer closed the connection */
    PTK_ETIMEDOUT = -9,
    PTK_EDENIED = -10,  /* the peer refused (SOCKS reply, ExtORPort DENY, HTTP status) */
    PTK_ENOENT = -11,   /* no such item */
    PTK_ESTATE = -12,   /* call not valid in the current state */
    PTK_EPROBE = -13,   /* transport: treat peer as a probe (silent, delayed close) */
};

/* A short static description of code `err` (never NULL). */
const char *ptk_strerror(int err);

#endif
