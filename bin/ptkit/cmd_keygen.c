/*
 * `ptkit keygen --state DIR`: create (or read) a server transport's identity
 * in DIR exactly as the managed server would, and print the bridge line to
 * hand out. Reading an existing obfs4proxy state directory prints the same
 * cert obfs4proxy would.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "crypto/crypto.h"
#include "ptkit/args.h"
#include "ptkit/error.h"
#include "ptkit/transport.h"
#include "util/file.h"

static void to_stderr(void *ud, enum ptk_log_level level, const char *msg)
{
    fprintf(stderr, "ptkit keygen: [%s] %s\n", ptk_log_level_name(level), msg);
}

int cmd_keygen(int argc, char **argv, char **envp)
{
    const char *state = NULL, *name = "obfs4", *options = NULL;
    static const char usage[] =
        "usage: ptkit keygen --state DIR [--transport NAME] [--options 'k=v;k=v']\n";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        const char **dst = strcmp(argv[i], "--state") == 0       ? &state
                           : strcmp(argv[i], "--transport") == 0 ? &name
                           : strcmp(argv[i], "--options") == 0   ? &options
                                                                 : NULL;
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "ptkit keygen: %s \"%s\"\n%s",
                    dst ? "missing value for" : "unknown option", argv[i], usage);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!state) {
        fprintf(stderr, "ptkit keygen: --state DIR is required\n");
        return 2;
    }
    const struct ptk_transport_ops *ops = ptk_transport_find(name);
    if (!ops || !ops->server_setup) {
        fprintf(stderr, "ptkit keygen: no server transport called \"%s\"\n", name);
        return 2;
    }
    struct ptk_kvlist opts = PTK_KVLIST_INIT, args = PTK_KVLIST_INIT;
    const char *why = "";
    if (options && ptk_args_parse(options, strlen(options), &opts, &why) != PTK_OK) {
        fprintf(stderr, "ptkit keygen: --options: %s\n", why);
        return 2;
    }
    if (ptk_crypto_init() != PTK_OK || ptk_mkdir_p(state, &why) != PTK_OK) {
        fprintf(stderr, "ptkit keygen: %s: %s (%s)\n", state, why, strerror(errno));
        ptk_kvlist_free(&opts);
        return 1;
    }
    struct ptk_logger lg = {PTK_LOG_NOTICE, false, to_stderr, NULL};
    struct ptk_transport_cfg cfg = {state, &opts, &lg};
    char err[512] = "";
    void *inst = NULL;
    int status = 1;
    if (ops->server_setup(&cfg, &inst, &args, err, sizeof(err)) != PTK_OK) {
        fprintf(stderr, "ptkit keygen: %s\n", err);
        goto out;
    }
    printf("Bridge %s <IP ADDRESS>:<PORT> <FINGERPRINT>", ops->name);
    for (size_t i = 0; i < args.n; i++)
        printf(" %s=%s", args.items[i].key, args.items[i].value);
    printf("\n");
    status = 0;
out:
    if (inst && ops->server_free)
        ops->server_free(inst);
    ptk_kvlist_free(&opts);
    ptk_kvlist_free(&args);
    return status;
}
