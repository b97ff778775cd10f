/*
 * Internals of ptkit check, shared by host/check.c (loading, sessions,
 * environment, the PT process and tor's judgement of its stdout, the
 * process and line steps) and host/check_net.c (the services the runner
 * plays for the PT, the data peers, waiting on sockets, and the socks,
 * connect and listening steps).
 *
 * Everything runs on one libevent loop in one thread. Steps are written as
 * straight-line code that waits with chk_loop_until(), which runs the loop
 * (so the PT's output, the services and the peers keep working) until a
 * condition holds or a deadline passes.
 */
#ifndef PTK_HOST_CHECK_INT_H
#define PTK_HOST_CHECK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "host/check.h"
#include "io/io.h"
#include "ptkit/extor.h"
#include "ptkit/kv.h"
#include "ptkit/transport.h"
#include "util/addr.h"

#define CHK_MAX_LINES 400 /* stdout lines kept per case */
#define CHK_KEEP_LINE 600 /* bytes kept per line */
#define CHK_MAX_METHODS 16
#define CHK_OKAY_DELAY_MS 400 /* the Extended ORPort holds OKAY back this long */
#define CHK_PAYLOAD_LEN 3000  /* bytes sent through the PT by data steps */

struct chk_conn;

/* An echo service (the data target, and the plain ORPort). */
struct chk_echo {
    struct evconnlistener *lev;
    struct ptk_addr addr;
    unsigned accepted; /* since the case began */
};

/* The SOCKS5 upstream proxy given to the PT as TOR_PT_PROXY. */
struct chk_proxy {
    struct evconnlistener *lev;
    struct ptk_addr addr;
    unsigned connects;     /* CONNECT requests since the case began */
    char last_target[300]; /* "host:port" of the last one */
};

/* The Extended ORPort and what its last connection did (reset per case). */
struct chk_extor {
    struct evconnlistener *lev;
    struct ptk_addr addr;
    uint8_t cookie[PTK_EXTOR_COOKIE_LEN];
    unsigned conns;
    bool auth_done, auth_ok; /* SAFE_COOKIE finished, and how */
    char error[160];         /* why the exchange failed, if it did */
    bool got_done;           /* the DONE command arrived */
    bool has_useraddr, has_transport;
    char useraddr[128], transport[128];
    size_t early; /* bytes received after DONE and before OKAY */
    bool okay_sent;
    bool closed; /* the PT closed the connection */
};

enum chk_peer_kind {
    CHK_PEER_NONE,     /* data cases are skipped (why says why) */
    CHK_PEER_ECHO,     /* client role, plain: the echo service is the bridge */
    CHK_PEER_BUILTIN,  /* ptkit's own implementation of the transport */
    CHK_PEER_EXTERNAL, /* client role: the user's --bridge (echo not checked) */
    CHK_PEER_DIRECT,   /* server role, plain: a bare TCP client */
};

struct chk_peer {
    enum chk_peer_kind kind;
    struct ptk_addr addr; /* client role: the bridge to ask the PT for */
    char args[520];       /* client role: the bridge's arguments, encoded as tor does */
    char why[240];        /* a description, or why there is no peer */
    const struct ptk_transport_ops *ops;
    void *inst;                  /* server_setup / client_setup result */
    struct ptk_listener *bridge; /* client role, builtin */
};

struct chk_run {
    const struct check_opts *o;
    struct event_base *base;
    struct ptk_io io;
    char dir[256]; /* the run's temporary directory */
    char cookie_path[300];
    char proxy_str[64], orport_str[64], extorport_str[64];
    char options[1024]; /* TOR_PT_SERVER_TRANSPORT_OPTIONS from --args (server role) */
    struct chk_echo echo, orport;
    struct chk_proxy proxy;
    struct chk_extor extor;
    struct chk_peer peer;
    int closed_fd; /* bound, never listening: connections to it are refused */
    struct ptk_addr closed_addr;
    struct chk_conn *conns; /* every connection the services hold */
    char **inherit;         /* the environment passed on (TOR_PT_* removed) */
    size_t n_inherit;
};

enum chk_phase { CHK_LAUNCHED, CHK_ACCEPTING, CHK_CONFIGURED };

struct chk_method {
    char name[128];
    int socks; /* CMETHOD: 4 or 5; SMETHOD: 0 */
    struct ptk_addr addr;
    char raw_args[512]; /* SMETHOD ARGS as written */
    struct ptk_kvlist args;
};

struct chk_sess {
    struct chk_run *r;
    const struct check_case *c;
    char dir[300], state[320], free_port[8], transports[512];
    bool want_method; /* the transport under test was asked for */
    bool proxy_set;   /* TOR_PT_PROXY given */
    bool extor_mode;  /* TOR_PT_EXTENDED_SERVER_PORT not empty */
    uint64_t t0, deadline;

    struct ptk_proc *proc;
    pid_t pid;
    bool exited;
    int status;
    uint64_t t_exit;
    char last_stderr[160];

    char *lines[CHK_MAX_LINES];
    size_t n_lines;

    /* tor's judgement (src/feature/client/transports.c) */
    enum chk_phase phase;
    char broken[400]; /* first reason tor would stop the PT; "" if none */
    bool broken_after_done;
    bool proxy_done, proxy_error;
    char bad_args[300]; /* SMETHOD ARGS that are not k=v,k=v */
    char method_error[200];
    struct chk_method methods[CHK_MAX_METHODS];
    size_t n_methods;
    char violation[400];                                 /* a reject glob matched */
    char rejects[CHECK_MAX_REJECTS][CHECK_LINE_MAX + 1]; /* the case's, expanded */

    struct ptk_listener *client_peer; /* server role, builtin client */
};

/* Run the loop until cond(arg) (NULL: never) or the deadline (monotonic ms). */
bool chk_loop_until(struct chk_run *r, bool (*cond)(void *), void *arg, uint64_t deadline);
/* The session's deadline, or now + ms if earlier. */
uint64_t chk_deadline(const struct chk_sess *s, unsigned ms);
/* The session's method for the transport under test, or NULL. */
const struct chk_method *chk_method(const struct chk_sess *s);
/* "exited with status 1" / "killed by signal 9" */
void chk_describe_exit(int status, char *buf, size_t n);

/* check_net.c: the services, the peer, the network steps. */
int chk_services_start(struct chk_run *r, char *err, size_t errlen);
void chk_services_stop(struct chk_run *r);
void chk_services_reset(struct chk_run *r); /* per case: old connections, counters, records */
void chk_sess_net_free(struct chk_sess *s); /* per case: the builtin client, if any */
bool chk_peer_available(const struct chk_run *r);
enum check_outcome chk_step_socks(struct chk_sess *s, const struct check_step *st, char *d,
                                  size_t dn);
enum check_outcome chk_step_connect(struct chk_sess *s, const struct check_step *st, char *d,
                                    size_t dn);
enum check_outcome chk_step_listening(struct chk_sess *s, const char *want, char *d, size_t dn);

#endif
