/* Logging front end (see ptkit/log.h): level filter, formatting, scrubbing. */
#include "ptkit/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ptkit/error.h"
#include "util/addr.h"
#include "util/str.h"

static const char *const level_names[] = {"error", "warning", "notice", "info", "debug"};

const char *ptk_log_level_name(enum ptk_log_level level)
{
    if ((unsigned)level > PTK_LOG_DEBUG)
        return "debug";
    return level_names[level];
}

int ptk_log_level_parse(const char *name, enum ptk_log_level *level)
{
    for (unsigned i = 0; i <= PTK_LOG_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum ptk_log_level)i;
            return PTK_OK;
        }
    }
    if (strcmp(name, "warn") == 0) {
        *level = PTK_LOG_WARNING;
        return PTK_OK;
    }
    return PTK_EINVAL;
}

void ptk_log(const struct ptk_logger *lg, enum ptk_log_level level, const char *fmt, ...)
{
    char msg[1024];
    if (!ptk_log_enabled(lg, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lg->sink(lg->ud, level, msg);
}

const char *ptk_log_addr(const struct ptk_logger *lg, const struct sockaddr *sa, char *buf,
                         size_t n)
{
    if (!lg || !lg->unsafe) {
        ptk_strlcpy(buf, "[scrubbed]", n);
        return buf;
    }
    if (ptk_addr_format(sa, buf, n) != PTK_OK)
        ptk_strlcpy(buf, "[unknown]", n);
    return buf;
}

const char *ptk_log_addrstr(const struct ptk_logger *lg, const char *addr)
{
    return (lg && lg->unsafe) ? addr : "[scrubbed]";
}
