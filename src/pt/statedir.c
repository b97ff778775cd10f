/* State directory creation (see pt/pt.h). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "pt/pt.h"
#include "ptkit/error.h"
#include "util/str.h"

int ptk_mkdir_p(const char *dir, const char **why)
{
    char path[4096];
    if (!*dir || ptk_strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
        *why = "path empty or too long";
        errno = ENAMETOOLONG;
        return PTK_EINVAL;
    }
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *p = '/';
            *why = "cannot create a parent directory";
            return PTK_EIO;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0) {
        if (errno != EEXIST) {
            *why = "mkdir failed";
            return PTK_EIO;
        }
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            *why = "exists and is not a directory";
            errno = ENOTDIR;
            return PTK_EIO;
        }
    }
    return PTK_OK;
}
