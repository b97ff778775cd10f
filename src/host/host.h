/*
 * ptkit host: the parent side of the PT protocol, without tor.
 *
 * Reads a torrc-subset configuration (host/config.h), launches each managed
 * PT exactly as tor 0.4.9 does (environment, strict parsing of its stdout,
 * restart with backoff when it dies, close-stdin/SIGTERM/SIGKILL shutdown),
 * serves the Extended ORPort (and a plain ORPort) to server PTs and forwards
 * their clients to ServerForward, and tunnels local TCP (ClientListen)
 * through a client PT's SOCKS port to a Bridge, with the bridge's arguments
 * encoded as tor encodes them.
 */
#ifndef PTK_HOST_HOST_H
#define PTK_HOST_HOST_H

#include <stdbool.h>
#include <stddef.h>

struct host_opts {
    const char *config_path;
    char *const *envp; /* our environment: PTs inherit it, as tor's do */
    int log_level;     /* -1: from the config */
    bool unsafe_logging;
};

/*
 * Run until SIGTERM/SIGINT. Returns the exit status: 0 after a clean
 * shutdown, 1 when no PT could be run, 2 for a configuration error (then
 * err holds the message).
 */
int host_run(const struct host_opts *o, char *err, size_t errlen);

#endif
