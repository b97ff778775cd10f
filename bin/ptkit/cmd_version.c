/* `ptkit version`: version and built-in transports. */
#include <stdio.h>

#include "cmd.h"
#include "ptkit/transport.h"

int cmd_version(int argc, char **argv, char **envp)
{
    printf("ptkit %s\ntransports:", PTK_VERSION);
    const struct ptk_transport_ops *ops;
    for (size_t i = 0; (ops = ptk_transport_at(i)) != NULL; i++)
        printf(" %s%s", ops->name, ops->server_setup ? "" : " (client only)");
    printf("\n");
    return 0;
}
