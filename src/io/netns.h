/*
 * A private, loopback-only network namespace for the calling process.
 *
 * `ptkit check` runs the programs it tests inside one, so that a PT that
 * tries to reach its broker, a bridge or a DNS server cannot leave the
 * machine. As root (or with CAP_SYS_ADMIN) the process unshares its network
 * namespace; otherwise it first unshares a user namespace in which it maps
 * its own uid and gid to root, which grants the right to make the network
 * namespace. Either way the new namespace holds only `lo`, which is brought
 * up with an ioctl. Children spawned afterwards inherit the namespace.
 *
 * This changes process-wide state: call it from the program (bin/) before
 * any thread or child exists. Linux only.
 */
#ifndef PTK_IO_NETNS_H
#define PTK_IO_NETNS_H

#include <stdbool.h>

enum ptk_netns_how {
    PTK_NETNS_NONE = 0, /* not isolated */
    PTK_NETNS_NET,      /* a new network namespace */
    PTK_NETNS_USER_NET, /* a new user namespace (uid/gid mapped to root) and network namespace */
};

/*
 * Move into a new network namespace with only loopback, up. On failure
 * returns PTK_EIO with a reason in *why (errno kept) and leaves the process
 * in its namespace (it may then be in a new user namespace without a
 * network one: harmless, but the caller should not retry).
 */
int ptk_netns_enter_private(enum ptk_netns_how *how, const char **why);

/* True if the only network interface visible is the loopback one. */
bool ptk_netns_loopback_only(void);

#endif
