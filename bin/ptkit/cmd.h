/* Subcommands of the ptkit binary: one file each, listed in main.c. */
#ifndef PTKIT_BIN_CMD_H
#define PTKIT_BIN_CMD_H

#include "pt/pt.h"

/* Parse the logging/limits options shared by every serving mode. Returns
 * 1 if argv[*i] was one of them (consuming its value), 0 if not, -1 on error. */
int cmd_common_opt(int argc, char **argv, int *i, struct ptk_pt_opts *o);
void cmd_common_defaults(struct ptk_pt_opts *o);
extern const char cmd_common_help[];

int cmd_managed(int argc, char **argv, char **envp);
int cmd_client(int argc, char **argv, char **envp);
int cmd_server(int argc, char **argv, char **envp);
int cmd_bench(int argc, char **argv, char **envp);
int cmd_check(int argc, char **argv, char **envp);
int cmd_host(int argc, char **argv, char **envp);
int cmd_keygen(int argc, char **argv, char **envp);
int cmd_version(int argc, char **argv, char **envp);
int cmd_help(int argc, char **argv, char **envp);

#endif
