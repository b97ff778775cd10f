/* `ptkit [OPTIONS]` with TOR_PT_* in the environment: a managed PT. */
#include <stdio.h>

#include "cmd.h"

int cmd_managed(int argc, char **argv, char **envp)
{
    struct ptk_pt_opts o;
    cmd_common_defaults(&o);
    for (int i = 1; i < argc; i++) {
        int r = cmd_common_opt(argc, argv, &i, &o);
        if (r < 0)
            return 2;
        if (r == 0) {
            fprintf(stderr, "ptkit: unknown option \"%s\" (try: ptkit help)\n", argv[i]);
            return 2;
        }
    }
    return ptk_pt_managed(envp, &o);
}
