/*
 * obfs4's replay filter: the server remembers every accepted client
 * handshake MAC for 3 hours (at most 102400 of them, oldest dropped first)
 * and refuses a handshake whose MAC it has seen, so a censor cannot confirm
 * a bridge by replaying a client's first message.
 *
 * Entries are 64-bit SipHash digests under a random key, kept in a FIFO
 * ring (insertion order = expiry order) indexed by an open-addressing hash
 * set. Thread-safe: one filter serves every worker of a server.
 */
#ifndef PTK_TRANSPORT_OBFS4_REPLAY_H
#define PTK_TRANSPORT_OBFS4_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct obfs4_replay;

/* ttl_s: entry lifetime in seconds; max: capacity (oldest evicted beyond). */
struct obfs4_replay *obfs4_replay_new(int64_t ttl_s, size_t max);
void obfs4_replay_free(struct obfs4_replay *f);
/* True if buf was seen within the TTL; otherwise records it and returns false. */
bool obfs4_replay_test_and_set(struct obfs4_replay *f, int64_t now_s, const uint8_t *buf,
                               size_t len);
size_t obfs4_replay_count(struct obfs4_replay *f);

#endif
