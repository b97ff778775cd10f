/* The io context (see io/io.h). */
#include "io/io.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>

#include "util/str.h"

void ptk_io_init(struct ptk_io *io, struct event_base *base, const struct ptk_logger *log)
{
    memset(io, 0, sizeof(*io));
    io->base = base;
    io->log = log;
    io->setup_timeout_ms = 60000;
    io->high_water = 256 * 1024;
    io->id_stride = 1;
}

void ptk_io_free(struct ptk_io *io)
{
    if (io->idle_sweep)
        event_free(io->idle_sweep);
    io->idle_sweep = NULL;
    if (io->dns)
        evdns_base_free(io->dns, 0);
    io->dns = NULL;
    free(io->proxy.user);
    if (io->proxy.pass) {
        ptk_wipe(io->proxy.pass, strlen(io->proxy.pass));
        free(io->proxy.pass);
    }
    io->proxy.user = io->proxy.pass = NULL;
}

static void nop_cb(evutil_socket_t fd, short what, void *arg)
{
}

void ptk_io_reserve_fds(struct ptk_io *io, int n)
{
    struct event *ev = event_new(io->base, -1, 0, nop_cb, NULL);
    if (!ev)
        return;
    for (int fd = n - 1; fd >= 0; fd--) {
        /* Adding creates the record even if the descriptor is not open: the
         * backend then refuses the add (libevent logs it) and the record
         * stays; an open one is deleted again. Highest first: the table is
         * sized once. */
        event_assign(ev, io->base, fd, EV_READ, nop_cb, NULL);
        if (event_add(ev, NULL) == 0)
            event_del(ev);
    }
    event_free(ev);
}

void ptk_io_pair_added(struct ptk_io *io)
{
    if (io->limit)
        atomic_fetch_add(&io->limit->n, 1);
    io->n_pairs++;
    io->n_total++;
}

void ptk_io_pair_removed(struct ptk_io *io)
{
    if (io->limit)
        atomic_fetch_sub(&io->limit->n, 1);
    io->n_pairs--;
    if (io->draining && io->n_pairs == 0 && io->on_drained)
        io->on_drained(io->drained_ud);
}

uint64_t ptk_io_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t ptk_io_unix_time(void)
{
    return (int64_t)time(NULL);
}
