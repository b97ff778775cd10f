/*
 * The "plain" transport: bytes pass unchanged. It exists so the whole PT path
 * (SOCKS, ExtORPort, relay, tor) can be exercised without any obfuscation,
 * and as the smallest example of the ops table.
 */
#ifndef PTK_TRANSPORT_PLAIN_H
#define PTK_TRANSPORT_PLAIN_H

#include "ptkit/transport.h"

extern const struct ptk_transport_ops ptk_transport_plain;

#endif
