/*
 * ptkit bench: measure any pair of managed PTs, launched exactly as tor
 * launches them, on loopback.
 *
 * The bench process plays both tors: a SOCKS client in front of the client
 * PT and an Extended ORPort behind the server PT (echoing or discarding).
 * It measures, per PT: single-stream and N-stream throughput (client to
 * server), sequential and concurrent handshakes per second with p50/p99
 * latency (SOCKS request to the first byte echoed back through both PTs),
 * resident memory per idle connection pair, CPU seconds per GiB moved, and
 * optionally a large number of concurrent connections (errors, peak memory
 * and memory after they close).
 */
#ifndef PTK_HOST_BENCH_H
#define PTK_HOST_BENCH_H

#include <stdbool.h>
#include <stddef.h>

struct bench_opts {
    const char *transport; /* default "obfs4" */
    int iat_mode;
    unsigned seconds;     /* each throughput window (default 5) */
    unsigned streams;     /* aggregate throughput streams (default 100) */
    unsigned hs_seconds;  /* each handshake phase (default 3) */
    unsigned hs_parallel; /* concurrent handshake loops (default 32) */
    unsigned idle;        /* idle pairs for the memory figure (default 1000) */
    unsigned conns;       /* the many-connections test (0: skipped) */
    unsigned phases;      /* BENCH_* bits to run (0: all) */
    char *const *envp;    /* inherited by the PTs */
    void (*progress)(void *ud, const char *msg); /* may be NULL */
    void *ud;
};

#define BENCH_HANDSHAKES 0x1
#define BENCH_SINGLE 0x2
#define BENCH_AGGREGATE 0x4
#define BENCH_IDLE 0x8

struct bench_result {
    char name[64];
    char version[128];
    bool ok;
    char error[300];
    double single_mibs;
    double aggregate_mibs;
    double seq_hs_per_s;
    double conc_hs_per_s;
    double hs_p50_ms, hs_p99_ms;
    double idle_kib_per_pair;
    double cpu_s_per_gib;
    unsigned errors; /* failed connections in all measured phases */
    /* the many-connections test */
    unsigned conns_ok, conns_failed;
    double rss_base_kib, rss_peak_kib, rss_after_kib;
};

/* Run every phase against the PT at argv (used as client and server). */
int bench_run(const struct bench_opts *o, const char *name, char *const *argv,
              struct bench_result *res);

#endif
