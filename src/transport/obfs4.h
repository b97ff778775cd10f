/*
 * obfs4, wire-compatible with obfs4proxy 0.0.14 and lyrebird, both roles.
 * (Spec: obfs4-spec.txt; where it and obfs4proxy differ, obfs4proxy wins:
 * ../shared/reference/transports.md.)
 *
 * Server state lives in the state directory as obfs4proxy keeps it
 * (obfs4_state.json, obfs4_bridgeline.txt), so a bridge switching from
 * obfs4proxy keeps its cert. Client args: cert=...;iat-mode=N or
 * node-id=<hex>;public-key=<hex>;iat-mode=N.
 */
#ifndef PTK_TRANSPORT_OBFS4_H
#define PTK_TRANSPORT_OBFS4_H

#include "ptkit/transport.h"

extern const struct ptk_transport_ops ptk_transport_obfs4;

#define OBFS4_STATE_FILE "obfs4_state.json"
#define OBFS4_BRIDGE_FILE "obfs4_bridgeline.txt"

#endif
