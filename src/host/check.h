/*
 * ptkit check: run any managed PT through the conformance cases.
 *
 * For each case (host/check_case.h) that fits the role, the runner builds
 * the environment tor would give the PT, applies the case's changes, launches
 * the PT with io/process (execve without PATH search, pipes, PDEATHSIG, as
 * tor does), reads its stdout line by line and judges it with tor's rules
 * (proto/msg.c, as host/launcher.c does), performs the case's steps, and
 * always stops and reaps the PT before the next case. Every case is bounded
 * by its timeout; stopping takes at most a few seconds more (SIGTERM, then
 * SIGKILL).
 *
 * To act as tor the runner serves, on loopback, what a PT talks to: an echo
 * service (the data target), a SOCKS5 upstream proxy that records what
 * passes through it (TOR_PT_PROXY), an Extended ORPort with a cookie that
 * records the SAFE_COOKIE exchange, USERADDR, TRANSPORT and any byte sent
 * before OKAY, and a plain ORPort. Data cases need a peer that speaks the
 * transport: for `plain` the echo service itself (client role) or a bare TCP
 * connection (server role); for a transport ptkit implements, ptkit's own
 * implementation in-process; otherwise, in the client role, a bridge given
 * by the user (--bridge, --args). Without one, data cases are SKIPped with
 * the reason.
 *
 * Nothing here prints: results come back in a check_report, progress
 * through an optional callback.
 */
#ifndef PTK_HOST_CHECK_H
#define PTK_HOST_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "host/check_case.h"

enum check_outcome { CHECK_PASS, CHECK_FAIL, CHECK_SKIP };

struct check_result {
    const struct check_case *c; /* points into the report's suite */
    enum check_outcome outcome;
    char detail[400];
    unsigned ms; /* how long the case took, stopping the PT included */
};

struct check_opts {
    bool server;           /* role under test (default: client) */
    const char *transport; /* default "plain" */
    const char *args;      /* client role: the bridge's k=v;k=v; server role: transport options */
    const char *bridge;    /* client role: IP:PORT of a server of the transport */
    const char *cases_dir; /* where the *.case files are */
    char *const *only;     /* NULL-terminated case id globs; NULL: every case */
    char *const *argv;     /* the PT command (argv[0] absolute) */
    char *const *envp;     /* inherited by the PT, minus any TOR_PT_* */
    /* Optional: a case finished (results are also in the report). */
    void (*progress)(void *ud, const struct check_result *r);
    /* Optional: trace lines (PT stdout/stderr, steps), for --verbose. */
    void (*trace)(void *ud, const char *line);
    void *ud;
};

struct check_report {
    struct check_suite suite;
    struct check_result *results; /* one per case run or skipped, in file order */
    size_t n;
    size_t pass, fail, skip, must_fail;
    char peer[200]; /* what carried the data cases, or why there was none */
};

/*
 * Load the cases and run them. Returns PTK_OK when the cases ran (whatever
 * their outcome; see rep->must_fail), or a negative PTK_E* with a message in
 * err when they could not (unreadable or invalid case files, no case
 * selected, a bad option, the PT not executable, no temporary directory).
 * The report must be freed with check_report_free in every case.
 */
int check_run(const struct check_opts *o, struct check_report *rep, char *err, size_t errlen);
void check_report_free(struct check_report *rep);

const char *check_outcome_name(enum check_outcome o);

#endif
