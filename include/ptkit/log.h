/*
 * Logging with levels and client-address scrubbing.
 *
 * A logger is a small value the application owns (no global state): a
 * threshold level, whether addresses may be logged, and a sink function that
 * receives each formatted message. The managed PT installs a sink that writes
 * to stderr and also forwards to tor as `LOG SEVERITY=... MESSAGE="..."`.
 * A NULL logger discards everything.
 */
#ifndef PTKIT_LOG_H
#define PTKIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum ptk_log_level {
    PTK_LOG_ERROR = 0,
    PTK_LOG_WARNING = 1,
    PTK_LOG_NOTICE = 2,
    PTK_LOG_INFO = 3,
    PTK_LOG_DEBUG = 4,
};

typedef void (*ptk_log_sink_fn)(void *ud, enum ptk_log_level level, const char *msg);

struct ptk_logger {
    enum ptk_log_level level; /* messages above this level are dropped */
    bool unsafe;              /* true: log client addresses in the clear */
    ptk_log_sink_fn sink;
    void *ud;
};

/* Lower-case name as tor spells it ("error", "warning", "notice", "info", "debug"). */
const char *ptk_log_level_name(enum ptk_log_level level);
/* Parse such a name (also "warn"); PTK_EINVAL if unknown. */
int ptk_log_level_parse(const char *name, enum ptk_log_level *level);

void ptk_log(const struct ptk_logger *lg, enum ptk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline bool ptk_log_enabled(const struct ptk_logger *lg, enum ptk_log_level level)
{
    return lg && lg->sink && level <= lg->level;
}

/*
 * Format a peer address for a log line into buf: "[scrubbed]" unless the
 * logger is unsafe, else "1.2.3.4:5" / "[::1]:5". Returns buf.
 */
const char *ptk_log_addr(const struct ptk_logger *lg, const struct sockaddr *sa, char *buf,
                         size_t n);
/* Same for an address already in text form. */
const char *ptk_log_addrstr(const struct ptk_logger *lg, const char *addr);

#define PTK_LOG_ADDRSTRLEN 64

#endif
