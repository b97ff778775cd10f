/* `ptkit host -f CONFIG`: the parent side of the PT protocol (see doc/host.md). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "host/host.h"
#include "ptkit/error.h"
#include "ptkit/log.h"

int cmd_host(int argc, char **argv, char **envp)
{
    static const char usage[] =
        "usage: ptkit host -f CONFIG [--log-level LEVEL] [--unsafe-logging]\n"
        "  CONFIG is a torrc subset: ClientTransportPlugin, ServerTransportPlugin, Bridge,\n"
        "  ServerTransportListenAddr, ServerTransportOptions, proxies, DataDirectory, plus\n"
        "  ClientListen IP:PORT BRIDGE and ServerForward IP:PORT (see doc/host.md).\n";
    struct host_opts o = {.envp = envp, .log_level = -1};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            o.config_path = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            enum ptk_log_level l;
            if (ptk_log_level_parse(argv[++i], &l) != PTK_OK) {
                fprintf(stderr, "ptkit host: unknown log level \"%s\"\n", argv[i]);
                return 2;
            }
            o.log_level = (int)l;
        } else if (strcmp(argv[i], "--unsafe-logging") == 0) {
            o.unsafe_logging = true;
        } else {
            fprintf(stderr, "ptkit host: unknown option \"%s\"\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!o.config_path) {
        fprintf(stderr, "ptkit host: -f CONFIG is required\n%s", usage);
        return 2;
    }
    char err[700];
    int status = host_run(&o, err, sizeof(err));
    if (err[0])
        fprintf(stderr, "ptkit host: %s\n", err);
    return status;
}
