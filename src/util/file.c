/* Whole-file read and atomic write (see util/file.h). */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ptkit/error.h"
#include "util/str.h"

int ptk_file_read(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? PTK_ENOENT : PTK_EIO;
    char *buf = malloc(max + 1);
    if (!buf) {
        close(fd);
        return PTK_ENOMEM;
    }
    size_t got = 0;
    int r = PTK_OK;
    for (;;) {
        if (got == max + 1) {
            r = PTK_ETOOBIG;
            break;
        }
        ssize_t n = read(fd, buf + got, max + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = PTK_EIO;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    int e = errno;
    close(fd);
    if (r == PTK_OK && got > max)
        r = PTK_ETOOBIG;
    if (r != PTK_OK) {
        free(buf);
        errno = e;
        return r;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return PTK_OK;
}

int ptk_fd_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return PTK_EIO;
        p += n;
        len -= (size_t)n;
    }
    return PTK_OK;
}

int ptk_fd_read_all(int fd, void *data, size_t len)
{
    char *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = 0;
        if (n <= 0)
            return PTK_EIO;
        p += n;
        len -= (size_t)n;
    }
    return PTK_OK;
}

int ptk_path_join(char *out, size_t n, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    int w = snprintf(out, n, "%.*s/%s", (int)dl, dir, name);
    return (w < 0 || (size_t)w >= n) ? PTK_ETOOBIG : PTK_OK;
}

int ptk_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4096], dir[4096];
    int w = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (w < 0 || (size_t)w >= sizeof(tmp) || ptk_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return PTK_EIO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return PTK_EIO;
    if (fchmod(fd, mode) != 0 || ptk_fd_write_all(fd, data, len) != PTK_OK || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return PTK_EIO;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return PTK_EIO;
    }
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        ptk_strlcpy(dir, ".", sizeof(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return PTK_OK;
}

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

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void ptk_rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
