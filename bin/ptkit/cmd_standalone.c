/* `ptkit client` and `ptkit server`: transports without tor. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static void usage(bool server)
{
    if (server)
        fprintf(stderr,
                "usage: ptkit server --transport NAME --listen ADDR:PORT\n"
                "                    (--forward ADDR:PORT | --extorport ADDR:PORT --auth-cookie FILE)\n"
                "                    [--state DIR] [--options 'k=v;k=v'] [common options]\n");
    else
        fprintf(stderr,
                "usage: ptkit client --transport NAME --listen ADDR:PORT [--forward HOST:PORT]\n"
                "                    [--options 'k=v;k=v'] [--state DIR] [common options]\n"
                "  without --forward: a SOCKS4a/5 server (args in the SOCKS username)\n"
                "  with --forward: every connection is tunnelled to the server at HOST:PORT\n"
                "                  with --options as the transport arguments\n");
    fprintf(stderr, "common options:\n%s", cmd_common_help);
}

static int run(int argc, char **argv, bool server)
{
    struct ptk_pt_opts o;
    struct ptk_pt_standalone s;
    memset(&s, 0, sizeof(s));
    s.server = server;
    cmd_common_defaults(&o);
    static const struct {
        const char *flag;
        size_t off;
        bool server_only;
    } flags[] = {
        {"--transport", offsetof(struct ptk_pt_standalone, transport), false},
        {"--listen", offsetof(struct ptk_pt_standalone, listen), false},
        {"--forward", offsetof(struct ptk_pt_standalone, forward), false},
        {"--state", offsetof(struct ptk_pt_standalone, state_dir), false},
        {"--options", offsetof(struct ptk_pt_standalone, options), false},
        {"--extorport", offsetof(struct ptk_pt_standalone, extorport), true},
        {"--auth-cookie", offsetof(struct ptk_pt_standalone, cookie), true},
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(server);
            return 0;
        }
        int r = cmd_common_opt(argc, argv, &i, &o);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        size_t k;
        for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (strcmp(argv[i], flags[k].flag) == 0 && (server || !flags[k].server_only))
                break;
        if (k == sizeof(flags) / sizeof(flags[0])) {
            fprintf(stderr, "ptkit: unknown option \"%s\"\n", argv[i]);
            usage(server);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ptkit: %s needs a value\n", argv[i]);
            return 2;
        }
        *(const char **)((char *)&s + flags[k].off) = argv[++i];
    }
    char err[512];
    int status = ptk_pt_standalone(&s, &o, err, sizeof(err));
    if (err[0]) {
        fprintf(stderr, "ptkit %s: %s\n", server ? "server" : "client", err);
        if (status == 2)
            usage(server);
    }
    return status;
}

int cmd_client(int argc, char **argv, char **envp)
{
    return run(argc, argv, false);
}

int cmd_server(int argc, char **argv, char **envp)
{
    return run(argc, argv, true);
}
