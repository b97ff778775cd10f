/*
 * The log sink of the ptkit programs (PT and host): every message goes to stderr (or a log file)
 * with a timestamp, and in managed mode also to tor as a LOG line on stdout.
 * Lines are written whole with one write() under a mutex, so worker threads
 * may log concurrently.
 */
#ifndef PTK_IO_LOGSINK_H
#define PTK_IO_LOGSINK_H

#include <pthread.h>
#include <stdbool.h>

#include "ptkit/log.h"

struct ptk_logsink {
    pthread_mutex_t mu;
    int err_fd;      /* stderr or the log file */
    bool own_err_fd; /* close err_fd on free */
    int out_fd;      /* stdout for LOG lines, or -1 */
    struct ptk_logger logger;
};

/* log_file may be NULL (stderr). out_fd: -1 for no LOG lines. */
int ptk_logsink_init(struct ptk_logsink *s, enum ptk_log_level level, bool unsafe,
                     const char *log_file, int out_fd);
void ptk_logsink_free(struct ptk_logsink *s);
/* Write one protocol line (already '\n'-terminated) to fd, under the sink's mutex. */
void ptk_logsink_line(struct ptk_logsink *s, int fd, const void *line, size_t n);

#endif
