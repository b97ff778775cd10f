/* Error codes to text. */
#include "ptkit/error.h"

const char *ptk_strerror(int err)
{
    switch (err) {
    case PTK_DONE:
        return "done";
    case PTK_OK:
        return "success";
    case PTK_ENOMEM:
        return "out of memory";
    case PTK_EINVAL:
        return "invalid value";
    case PTK_EPROTO:
        return "protocol violation";
    case PTK_ETOOBIG:
        return "too large";
    case PTK_EAUTH:
        return "authentication failed";
    case PTK_ENOTSUP:
        return "not supported";
    case PTK_EIO:
        return "I/O error";
    case PTK_ECLOSED:
        return "connection closed";
    case PTK_ETIMEDOUT:
        return "timed out";
    case PTK_EDENIED:
        return "refused by peer";
    case PTK_ENOENT:
        return "not found";
    case PTK_ESTATE:
        return "invalid state";
    case PTK_EPROBE:
        return "treated as probe";
    }
    return "unknown error";
}
