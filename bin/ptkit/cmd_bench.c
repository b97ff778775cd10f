/*
 * `ptkit bench`: measure managed PTs side by side (see host/bench.h and
 * doc/bench.md). Each `--pt NAME=PATH` is run as both client and server;
 * with two, a ratio column compares the first against the second.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "host/bench.h"
#include "util/str.h"

#define MAX_PT 4

static void show_progress(void *ud, const char *msg)
{
    bool tty = *(bool *)ud;
    if (tty)
        fprintf(stderr, "\r\033[K%s", msg);
    else
        fprintf(stderr, "bench: %s\n", msg);
}

static const struct {
    const char *label;
    size_t off;
    int decimals;
    bool lower_is_better;
} rows[] = {
    {"single-stream throughput (MiB/s)", offsetof(struct bench_result, single_mibs), 1, false},
    {"N-stream aggregate throughput (MiB/s)", offsetof(struct bench_result, aggregate_mibs), 1,
     false},
    {"sequential handshakes/s", offsetof(struct bench_result, seq_hs_per_s), 0, false},
    {"concurrent handshakes/s", offsetof(struct bench_result, conc_hs_per_s), 0, false},
    {"handshake latency p50 (ms)", offsetof(struct bench_result, hs_p50_ms), 2, true},
    {"handshake latency p99 (ms)", offsetof(struct bench_result, hs_p99_ms), 2, true},
    {"RSS per idle connection pair (KiB)", offsetof(struct bench_result, idle_kib_per_pair), 1,
     true},
    {"CPU seconds per GiB (both PTs)", offsetof(struct bench_result, cpu_s_per_gib), 2, true},
};

static double field(const struct bench_result *r, size_t off)
{
    return *(const double *)((const char *)r + off);
}

static void print_table(const struct bench_opts *o, struct bench_result *res, size_t n)
{
    printf("| metric |");
    for (size_t i = 0; i < n; i++)
        printf(" %s |", res[i].name);
    if (n == 2)
        printf(" %s / %s |", res[0].name, res[1].name);
    printf("\n|---|");
    for (size_t i = 0; i < n + (n == 2); i++)
        printf("---:|");
    printf("\n");
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        printf("| %s |", rows[k].label);
        for (size_t i = 0; i < n; i++) {
            printf(" ");
            if (res[i].ok)
                printf("%.*f", rows[k].decimals, field(&res[i], rows[k].off));
            else
                printf("failed");
            printf(" |");
        }
        if (n == 2) {
            double a = field(&res[0], rows[k].off), b = field(&res[1], rows[k].off);
            if (res[0].ok && res[1].ok && a > 0 && b > 0)
                printf(" %.2fx |", rows[k].lower_is_better ? b / a : a / b);
            else
                printf(" - |");
        }
        printf("\n");
    }
    printf("| connection errors |");
    for (size_t i = 0; i < n; i++)
        printf(" %u |", res[i].errors);
    printf("%s\n", n == 2 ? " |" : "");
    if (o->conns) {
        printf("| %u concurrent: ok / failed |", o->conns);
        for (size_t i = 0; i < n; i++)
            printf(" %u / %u |", res[i].conns_ok, res[i].conns_failed);
        printf("%s\n", n == 2 ? " |" : "");
        printf("| %u concurrent: RSS base / peak / after close (MiB) |", o->conns);
        for (size_t i = 0; i < n; i++)
            printf(" %.1f / %.1f / %.1f |", res[i].rss_base_kib / 1024, res[i].rss_peak_kib / 1024,
                   res[i].rss_after_kib / 1024);
        printf("%s\n", n == 2 ? " |" : "");
    }
    printf("\n(ratios: >1 means %s is better)\n", n == 2 ? res[0].name : "the first");
}

static void print_json(const struct bench_opts *o, struct bench_result *res, size_t n)
{
    printf("{\"transport\":\"%s\",\"iat_mode\":%d,\"streams\":%u,\"idle\":%u,\"results\":[",
           o->transport, o->iat_mode, o->streams, o->idle);
    for (size_t i = 0; i < n; i++) {
        const struct bench_result *r = &res[i];
        printf("%s{\"name\":\"%s\",\"ok\":%s,\"error\":\"", i ? "," : "", r->name,
               r->ok ? "true" : "false");
        for (const char *p = r->error; *p; p++) {
            if (*p == '"' || *p == '\\')
                putchar('\\');
            putchar((unsigned char)*p < 0x20 ? '?' : *p);
        }
        printf("\",\"single_mibs\":%.3f,\"aggregate_mibs\":%.3f,\"seq_hs_per_s\":%.2f,"
               "\"conc_hs_per_s\":%.2f,\"hs_p50_ms\":%.3f,\"hs_p99_ms\":%.3f,"
               "\"idle_kib_per_pair\":%.2f,\"cpu_s_per_gib\":%.3f,\"errors\":%u,"
               "\"conns_ok\":%u,\"conns_failed\":%u,\"rss_base_kib\":%.0f,\"rss_peak_kib\":%.0f,"
               "\"rss_after_kib\":%.0f}",
               r->single_mibs, r->aggregate_mibs, r->seq_hs_per_s, r->conc_hs_per_s, r->hs_p50_ms,
               r->hs_p99_ms, r->idle_kib_per_pair, r->cpu_s_per_gib, r->errors, r->conns_ok,
               r->conns_failed, r->rss_base_kib, r->rss_peak_kib, r->rss_after_kib);
    }
    printf("]}\n");
}

static bool num(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    uint64_t v;
    if (ptk_parse_u64(s, strlen(s), lo, hi, &v) != 0)
        return false;
    *out = (unsigned)v;
    return true;
}

int cmd_bench(int argc, char **argv, char **envp)
{
    static const char usage[] =
        "usage: ptkit bench --pt NAME=PATH [--pt NAME=PATH ...] [--transport obfs4]\n"
        "                   [--iat-mode N] [--seconds S] [--streams N] [--idle N]\n"
        "                   [--conns N] [--hs-seconds S] [--hs-parallel N] [--json]\n"
        "                   [--only handshakes|single|aggregate|idle ...]\n"
        "  Each PT runs as both client and server, launched as tor launches it; the\n"
        "  bench plays tor on both sides (SOCKS in front, Extended ORPort behind).\n";
    struct bench_opts o = {.transport = "obfs4", .seconds = 5, .streams = 100,
                           .hs_seconds = 3, .hs_parallel = 32, .idle = 1000, .envp = envp};
    const char *names[MAX_PT];
    char *paths[MAX_PT][2];
    size_t n = 0;
    bool json = false, tty = isatty(2);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned u;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        } else if (!v) {
            fprintf(stderr, "ptkit bench: %s needs a value\n%s", a, usage);
            return 2;
        } else if (strcmp(a, "--pt") == 0) {
            char *eq = strchr(v, '=');
            if (!eq || eq == v || eq[1] != '/' || n == MAX_PT) {
                fprintf(stderr, "ptkit bench: --pt NAME=/absolute/path (at most %d)\n", MAX_PT);
                return 2;
            }
            *eq = '\0';
            names[n] = v;
            paths[n][0] = eq + 1;
            paths[n][1] = NULL;
            n++;
        } else if (strcmp(a, "--only") == 0) {
            static const struct {
                const char *name;
                unsigned bit;
            } ph[] = {{"handshakes", BENCH_HANDSHAKES}, {"single", BENCH_SINGLE},
                      {"aggregate", BENCH_AGGREGATE}, {"idle", BENCH_IDLE}};
            size_t k;
            for (k = 0; k < sizeof(ph) / sizeof(ph[0]) && strcmp(ph[k].name, v) != 0; k++)
                ;
            if (k == sizeof(ph) / sizeof(ph[0])) {
                fprintf(stderr, "ptkit bench: --only handshakes|single|aggregate|idle\n");
                return 2;
            }
            o.phases |= ph[k].bit;
        } else if (strcmp(a, "--transport") == 0) {
            o.transport = v;
        } else if (strcmp(a, "--iat-mode") == 0 && num(v, 0, 2, &u)) {
            o.iat_mode = (int)u;
        } else if (strcmp(a, "--seconds") == 0 && num(v, 1, 600, &u)) {
            o.seconds = u;
        } else if (strcmp(a, "--streams") == 0 && num(v, 1, 5000, &u)) {
            o.streams = u;
        } else if (strcmp(a, "--idle") == 0 && num(v, 0, 100000, &u)) {
            o.idle = u;
        } else if (strcmp(a, "--conns") == 0 && num(v, 0, 100000, &u)) {
            o.conns = u;
        } else if (strcmp(a, "--hs-seconds") == 0 && num(v, 1, 600, &u)) {
            o.hs_seconds = u;
        } else if (strcmp(a, "--hs-parallel") == 0 && num(v, 1, 1000, &u)) {
            o.hs_parallel = u;
        } else {
            fprintf(stderr, "ptkit bench: bad option or value: %s %s\n%s", a, v, usage);
            return 2;
        }
        i++;
    }
    if (n == 0) {
        fprintf(stderr, "ptkit bench: give at least one --pt NAME=PATH\n%s", usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* the load threads write to sockets the phases close */
    o.progress = show_progress;
    o.ud = &tty;
    struct bench_result res[MAX_PT];
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        if (bench_run(&o, names[i], paths[i], &res[i]) != 0) {
            fprintf(stderr, "%sptkit bench: %s: %s\n", tty ? "\n" : "", names[i], res[i].error);
            status = 1;
        }
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    if (json)
        print_json(&o, res, n);
    else
        print_table(&o, res, n);
    return status;
}
