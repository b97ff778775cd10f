/*
 * The PT program: managed mode (tor launches us with TOR_PT_* variables) and
 * standalone mode (an operator runs `ptkit client|server` without tor).
 *
 * Both build the same thing — transports set up, listeners open, one event
 * loop — and differ only in where the configuration comes from and how the
 * result is announced (stdout protocol lines vs. log lines). Both return the
 * process exit status; nothing here calls exit().
 */
#ifndef PTK_PT_PT_H
#define PTK_PT_PT_H

#include <stdbool.h>
#include <stddef.h>

#include "ptkit/log.h"

struct ptk_pt_opts {
    enum ptk_log_level level; /* threshold for stderr/file and LOG lines */
    bool unsafe_logging;      /* log client addresses */
    const char *log_file;     /* NULL: stderr */
    int out_fd;               /* protocol lines (managed) / announcements (standalone) */
    size_t max_conns;         /* 0: unlimited */
    unsigned workers;         /* event loops; 0: one per CPU (for thread-safe transports) */
    unsigned idle_timeout_s;  /* close relayed connections silent this long; 0: never */
};

/* Managed mode. Returns the exit status (0 after a clean shutdown). */
int ptk_pt_managed(char *const envp[], const struct ptk_pt_opts *o);

struct ptk_pt_standalone {
    bool server;
    const char *transport;
    const char *listen;    /* ADDR:PORT */
    const char *forward;   /* client: server address (no SOCKS); server: plain target */
    const char *extorport; /* server: tor's Extended ORPort instead of --forward */
    const char *cookie;    /* server: its auth cookie file */
    const char *state_dir;
    const char *options; /* "k=v;k=v": client args (fixed target) or server options */
};

/* Standalone mode. On a configuration error returns 2 with a message in err. */
int ptk_pt_standalone(const struct ptk_pt_standalone *s, const struct ptk_pt_opts *o, char *err,
                      size_t errlen);

#endif
