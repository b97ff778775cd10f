/*
 * Child processes with line-oriented stdout/stderr, for launching managed
 * PTs exactly as tor does: execve(argv[0]) without a PATH search, the given
 * environment, stdin/stdout/stderr on pipes, PR_SET_PDEATHSIG=SIGTERM (so a
 * PT never outlives a host that dies), default signal dispositions.
 *
 * Exits are reaped through a SIGCHLD watcher installed on the io context
 * (ptk_io_watch_children), so no child ever stays a zombie. Lines longer
 * than PTK_PROC_LINE_MAX are reported as truncated and the rest dropped.
 */
#ifndef PTK_IO_PROCESS_H
#define PTK_IO_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "io/io.h"

#define PTK_PROC_LINE_MAX 16384

struct ptk_proc;

struct ptk_proc_cbs {
    /* One line without its '\n' (a trailing '\r' is kept for the parser). */
    void (*on_line)(void *ud, const char *line, size_t len, bool from_stderr);
    /* The process ended (status as from waitpid). Called once; then free the proc. */
    void (*on_exit)(void *ud, int status);
    void *ud;
};

/* Start argv[0] with envp. PTK_EIO with *why and errno on failure. */
int ptk_proc_spawn(struct ptk_io *io, char *const argv[], char *const envp[],
                   const struct ptk_proc_cbs *cbs, struct ptk_proc **out, const char **why);
pid_t ptk_proc_pid(const struct ptk_proc *p);
bool ptk_proc_running(const struct ptk_proc *p);
/* Close the child's stdin (its cue to exit when TOR_PT_EXIT_ON_STDIN_CLOSE=1). */
void ptk_proc_close_stdin(struct ptk_proc *p);
void ptk_proc_signal(struct ptk_proc *p, int sig);
/*
 * Release the handle. A still-running child is sent SIGKILL and reaped
 * later by the SIGCHLD watcher; callbacks will not run after this.
 */
void ptk_proc_free(struct ptk_proc *p);

/* Install the SIGCHLD watcher (program-level: touches process-wide state). */
int ptk_io_watch_children(struct ptk_io *io);
void ptk_io_unwatch_children(struct ptk_io *io);

#endif
