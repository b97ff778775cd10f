/*
 * One managed PT, launched and supervised exactly as tor 0.4.9 does it.
 *
 * The caller prepares what goes into the environment (ptk_pt_env); the
 * launcher adds it to the inherited environment, spawns argv[0] (no PATH
 * search), reads stdout with tor's rules (handle_proxy_line):
 *
 *   LAUNCHED --VERSION 1--> ACCEPTING --*METHODS DONE--> CONFIGURED
 *   any protocol violation, PROXY-ERROR, exit or timeout before DONE: BROKEN
 *
 * relays LOG/STATUS/stderr into the io's logger, restarts a configured PT
 * that dies after 1, 2, 4 ... 60 s (if asked), and stops it with tor's
 * sequence: close stdin, SIGTERM after the grace period, SIGKILL after
 * another. A BROKEN PT is stopped and never restarted. Every state change
 * is reported through the event callback.
 */
#ifndef PTK_HOST_LAUNCHER_H
#define PTK_HOST_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "io/io.h"
#include "util/addr.h"

enum ptk_pt_state {
    PTK_PT_IDLE,       /* not launched yet */
    PTK_PT_LAUNCHED,   /* waiting for VERSION */
    PTK_PT_ACCEPTING,  /* reading method lines */
    PTK_PT_CONFIGURED, /* *METHODS DONE seen */
    PTK_PT_BROKEN,     /* failed the protocol: stopped for good */
    PTK_PT_WAITING,    /* died after configuring: relaunch pending */
    PTK_PT_STOPPED,    /* stopped on request */
};

#define PTK_PT_MAX_METHODS 32

struct ptk_pt_method {
    char name[128];
    int socks; /* CMETHOD: 4 or 5; SMETHOD: 0 */
    struct ptk_addr addr;
    char args[512]; /* SMETHOD ARGS as written (may be empty) */
};

/* What tor would put in the environment (NULL: not set). */
struct ptk_pt_env {
    const char *state_dir;      /* TOR_PT_STATE_LOCATION (a '/' is appended) */
    const char *proxy_uri;      /* client: TOR_PT_PROXY; PROXY DONE is then required */
    const char *orport;         /* server: TOR_PT_ORPORT */
    const char *extorport;      /* server: TOR_PT_EXTENDED_SERVER_PORT (NULL: set empty) */
    const char *cookie_file;    /* server: TOR_PT_AUTH_COOKIE_FILE (with extorport) */
    const char *bindaddr;       /* server: TOR_PT_SERVER_BINDADDR */
    const char *server_options; /* server: TOR_PT_SERVER_TRANSPORT_OPTIONS */
    const char *bind_v4;        /* TOR_PT_OUTBOUND_BIND_ADDRESS_V4 (bare IP) */
    const char *bind_v6;        /* TOR_PT_OUTBOUND_BIND_ADDRESS_V6 (bare IP; bracketed here) */
    char *const *inherit;       /* the environment to pass on (ours take precedence) */
};

struct ptk_pt_cfg {
    const char *label; /* for log lines, e.g. "obfs4proxy server (obfs4)" */
    bool server;
    char *const *argv; /* NULL-terminated; argv[0] absolute */
    char *const *names;
    size_t n_names;
    struct ptk_pt_env env;
    unsigned config_timeout_s;
    unsigned shutdown_grace_s;
    bool restart; /* relaunch a configured PT that dies */
};

struct ptk_pt;
typedef void (*ptk_pt_event_fn)(void *ud, struct ptk_pt *pt);

/*
 * A PT handle. Every string of cfg is copied. `changed` runs after each
 * state change (it may call ptk_pt_stop, not ptk_pt_free).
 */
struct ptk_pt *ptk_pt_new(struct ptk_io *io, const struct ptk_pt_cfg *cfg,
                          ptk_pt_event_fn changed, void *ud);
void ptk_pt_launch(struct ptk_pt *pt);
/* Begin tor's stop sequence (no restart afterwards). */
void ptk_pt_stop(struct ptk_pt *pt);
/* Release; a still-running process is killed and reaped before this returns. */
void ptk_pt_free(struct ptk_pt *pt);

enum ptk_pt_state ptk_pt_state(const struct ptk_pt *pt);
bool ptk_pt_alive(const struct ptk_pt *pt); /* a process exists (maybe stopping) */
pid_t ptk_pt_pid(const struct ptk_pt *pt);  /* 0 if none */
const char *ptk_pt_label(const struct ptk_pt *pt);
/* The methods announced by the current run (valid until the next state change). */
size_t ptk_pt_methods(const struct ptk_pt *pt, const struct ptk_pt_method **m);
/* Why the PT is BROKEN ("" otherwise). */
const char *ptk_pt_error(const struct ptk_pt *pt);

#endif
