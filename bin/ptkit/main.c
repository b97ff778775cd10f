/*
 * ptkit: one binary, a table of subcommands. Without a subcommand (the way
 * tor runs it from ClientTransportPlugin/ServerTransportPlugin) it is a
 * managed pluggable transport.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ptkit/env.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv, char **envp);
    const char *summary;
} commands[] = {
    {"client", cmd_client, "run a client transport without tor (SOCKS or fixed tunnel)"},
    {"server", cmd_server, "run a server transport without tor"},
    {"host", cmd_host, "launch PTs as tor does and tunnel TCP through them (doc/host.md)"},
    {"check", cmd_check, "run a managed PT through the conformance cases (doc/conformance.md)"},
    {"bench", cmd_bench, "measure PTs side by side (throughput, handshakes, memory, CPU)"},
    {"keygen", cmd_keygen, "create or read a server identity; print its bridge line"},
    {"version", cmd_version, "print the version and the transports"},
    {"help", cmd_help, "this help"},
};

int cmd_help(int argc, char **argv, char **envp)
{
    printf("usage: ptkit [OPTIONS]              managed mode (tor runs this)\n"
           "       ptkit COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        printf("  %-9s %s\n", commands[i].name, commands[i].summary);
    printf("\noptions for managed mode and client/server:\n%s", cmd_common_help);
    printf("\nIn managed mode all configuration comes from the TOR_PT_* environment\n"
           "(pt-spec); see `man ptkit` and README.md for torrc examples.\n");
    return 0;
}

int main(int argc, char **argv, char **envp)
{
    /*
     * The relay allocates and frees buffer chunks of tens of KiB at a high
     * rate; glibc's default thresholds hand such memory back to the kernel
     * (and fault it in again) all the time. Keep up to 16 MiB of free heap.
     */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].run(argc - 1, argv + 1, envp);
        fprintf(stderr, "ptkit: unknown command \"%s\" (try: ptkit help)\n", argv[1]);
        return 2;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(argc, argv, envp);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0)
        return cmd_version(argc, argv, envp);
    /* A person typing `ptkit` gets help instead of an ENV-ERROR line. */
    if (!ptk_envp_get(envp, "TOR_PT_MANAGED_TRANSPORT_VER") && isatty(STDOUT_FILENO)) {
        cmd_help(argc, argv, envp);
        return 2;
    }
    return cmd_managed(argc, argv, envp);
}
