/*
 * ptkit — the public API for pluggable-transport authors (umbrella header).
 *
 * Everything here is sans-I/O: bring your own sockets and event loop.
 *   ptkit/env.h        parse the TOR_PT_* environment (from an envp array)
 *   ptkit/msg.h        write (and parse) the stdout protocol lines
 *   ptkit/socks.h      accept SOCKS4a/5 with per-connection k=v arguments
 *   ptkit/extor.h      authenticate to tor's Extended ORPort (and serve one)
 *   ptkit/args.h       the k=v encodings (client args, SMETHOD ARGS, options)
 *   ptkit/transport.h  the transport ops table, to plug a transport in
 *   ptkit/buf.h, kv.h, log.h, error.h  the small types the above use
 *
 * Conventions: functions return 0 (PTK_OK) or a negative PTK_E* code;
 * incremental parsers return PTK_DONE / PTK_MORE / error and never read past
 * the bytes they are given; the library keeps no global state, installs no
 * signal handlers and never exits the process.
 */
#ifndef PTKIT_PTKIT_H
#define PTKIT_PTKIT_H

#include "ptkit/args.h"
#include "ptkit/buf.h"
#include "ptkit/env.h"
#include "ptkit/error.h"
#include "ptkit/extor.h"
#include "ptkit/kv.h"
#include "ptkit/log.h"
#include "ptkit/msg.h"
#include "ptkit/socks.h"
#include "ptkit/transport.h"

#endif
