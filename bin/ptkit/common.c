/*
 * Options shared by managed mode and `client`/`server`. obfs4proxy's flags
 * (-enableLogging, -logLevel, -unsafeLogging) are accepted too, so an
 * existing torrc line keeps working when the binary is swapped.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "ptkit/error.h"
#include "util/str.h"

const char cmd_common_help[] =
    "  --log-level LEVEL   error, warning, notice (default), info, debug\n"
    "  --log-file FILE     log here instead of stderr\n"
    "  --unsafe-logging    log client IP addresses (scrubbed by default)\n"
    "  --max-conns N       refuse connections beyond N open pairs (default: no limit)\n"
    "  --idle-timeout S    close connections with no traffic for S seconds (default 3600;\n"
    "                      0: never)\n"
    "  --workers N         event loops (threads) for thread-safe transports (default: one per\n"
    "                      CPU; also ServerTransportOptions NAME workers=N)\n"
    "  (obfs4proxy's -enableLogging -logLevel LEVEL -unsafeLogging are accepted too)\n";

void cmd_common_defaults(struct ptk_pt_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->level = PTK_LOG_NOTICE;
    o->idle_timeout_s = 3600;
    o->out_fd = STDOUT_FILENO;
}

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "ptkit: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cmd_common_opt(int argc, char **argv, int *i, struct ptk_pt_opts *o)
{
    const char *a = argv[*i], *v;
    if (strcmp(a, "--log-level") == 0 || strcmp(a, "-logLevel") == 0) {
        if (!(v = value(argc, argv, i)))
            return -1;
        char low[16];
        ptk_strlcpy(low, v, sizeof(low));
        for (char *p = low; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        if (ptk_log_level_parse(low, &o->level) != PTK_OK) {
            fprintf(stderr, "ptkit: unknown log level \"%s\"\n", v);
            return -1;
        }
        return 1;
    }
    if (strcmp(a, "--log-file") == 0) {
        if (!(o->log_file = value(argc, argv, i)))
            return -1;
        return 1;
    }
    if (strcmp(a, "--unsafe-logging") == 0 || strcmp(a, "-unsafeLogging") == 0) {
        o->unsafe_logging = true;
        return 1;
    }
    if (strcmp(a, "-enableLogging") == 0)
        return 1; /* we always log; the level decides how much */
    if (strcmp(a, "--idle-timeout") == 0) {
        uint64_t n;
        if (!(v = value(argc, argv, i)))
            return -1;
        if (ptk_parse_u64(v, strlen(v), 0, 86400 * 7, &n) != PTK_OK) {
            fprintf(stderr, "ptkit: --idle-timeout: \"%s\" is not a number of seconds\n", v);
            return -1;
        }
        o->idle_timeout_s = (unsigned)n;
        return 1;
    }
    if (strcmp(a, "--workers") == 0) {
        uint64_t n;
        if (!(v = value(argc, argv, i)))
            return -1;
        if (ptk_parse_u64(v, strlen(v), 1, 64, &n) != PTK_OK) {
            fprintf(stderr, "ptkit: --workers: \"%s\" is not a number from 1 to 64\n", v);
            return -1;
        }
        o->workers = (unsigned)n;
        return 1;
    }
    if (strcmp(a, "--max-conns") == 0) {
        uint64_t n;
        if (!(v = value(argc, argv, i)))
            return -1;
        if (ptk_parse_u64(v, strlen(v), 1, 10000000, &n) != PTK_OK) {
            fprintf(stderr, "ptkit: --max-conns: \"%s\" is not a number from 1\n", v);
            return -1;
        }
        o->max_conns = (size_t)n;
        return 1;
    }
    return 0;
}
