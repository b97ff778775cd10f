/*
 * A private network namespace (see io/netns.h): unshare(CLONE_NEWNET), or
 * unshare(CLONE_NEWUSER | CLONE_NEWNET) with uid/gid maps for a caller
 * without the capability, then SIOCSIFFLAGS to bring `lo` up.
 */
#include "io/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ptkit/error.h"

/* Write s to a /proc file in one write (as the kernel wants for uid_map). */
static int write_proc(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, s, strlen(s));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

static int loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

int ptk_netns_enter_private(enum ptk_netns_how *how, const char **why)
{
    *how = PTK_NETNS_NONE;
    if (unshare(CLONE_NEWNET) == 0) {
        *how = PTK_NETNS_NET;
    } else {
        uid_t uid = geteuid();
        gid_t gid = getegid();
        char map[64];
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
            *why = "unshare(CLONE_NEWNET) and unshare(CLONE_NEWUSER|CLONE_NEWNET) failed";
            return PTK_EIO;
        }
        *how = PTK_NETNS_USER_NET;
        /* setgroups must be denied before an unprivileged gid_map is accepted. */
        if (write_proc("/proc/self/setgroups", "deny") != 0 && errno != ENOENT) {
            *why = "cannot write /proc/self/setgroups";
            return PTK_EIO;
        }
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
        if (write_proc("/proc/self/uid_map", map) != 0) {
            *why = "cannot write /proc/self/uid_map";
            return PTK_EIO;
        }
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
        if (write_proc("/proc/self/gid_map", map) != 0) {
            *why = "cannot write /proc/self/gid_map";
            return PTK_EIO;
        }
    }
    if (loopback_up() != 0) {
        *why = "cannot bring the loopback interface up";
        return PTK_EIO;
    }
    return PTK_OK;
}

bool ptk_netns_loopback_only(void)
{
    struct if_nameindex *ifs = if_nameindex();
    if (!ifs)
        return false;
    bool only_lo = ifs[0].if_name && strcmp(ifs[0].if_name, "lo") == 0 && !ifs[1].if_name;
    if_freenameindex(ifs);
    return only_lo;
}
