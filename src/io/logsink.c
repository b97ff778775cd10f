/* Log sink for the PT program (see pt/logsink.h). */
#include "io/logsink.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ptkit/buf.h"
#include "ptkit/error.h"
#include "ptkit/msg.h"
#include "util/file.h"


static void sink(void *ud, enum ptk_log_level level, const char *msg)
{
    struct ptk_logsink *s = ud;
    char line[1200];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d [%s] %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ptk_log_level_name(level), msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    struct ptk_buf b;
    ptk_buf_init(&b, 8192);
    if (s->out_fd >= 0)
        ptk_msg_log(&b, level, msg);
    pthread_mutex_lock(&s->mu);
    if (s->err_fd >= 0)
        (void)ptk_fd_write_all(s->err_fd, line, (size_t)n); /* a failing log is dropped */
    if (ptk_buf_len(&b))
        (void)ptk_fd_write_all(s->out_fd, ptk_buf_data(&b), ptk_buf_len(&b));
    pthread_mutex_unlock(&s->mu);
    ptk_buf_free(&b);
}

int ptk_logsink_init(struct ptk_logsink *s, enum ptk_log_level level, bool unsafe,
                     const char *log_file, int out_fd)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->err_fd = 2;
    s->out_fd = out_fd;
    if (log_file) {
        int fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return PTK_EIO;
        s->err_fd = fd;
        s->own_err_fd = true;
    }
    s->logger = (struct ptk_logger){level, unsafe, sink, s};
    return PTK_OK;
}

void ptk_logsink_free(struct ptk_logsink *s)
{
    if (s->own_err_fd)
        close(s->err_fd);
    pthread_mutex_destroy(&s->mu);
}

void ptk_logsink_line(struct ptk_logsink *s, int fd, const void *line, size_t n)
{
    pthread_mutex_lock(&s->mu);
    (void)ptk_fd_write_all(fd, line, n);
    pthread_mutex_unlock(&s->mu);
}
