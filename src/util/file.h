/*
 * Small whole-file reads and atomic replacement, for state files.
 *
 * ptk_file_write_atomic writes a temporary file next to the target, fsyncs
 * it, renames it over the target and fsyncs the directory: after a crash
 * the target holds either the old or the new contents, never a mix.
 */
#ifndef PTK_UTIL_FILE_H
#define PTK_UTIL_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read all of path (at most max bytes) into a new NUL-terminated buffer.
 * PTK_ENOENT if it does not exist, PTK_ETOOBIG if larger than max,
 * PTK_EIO otherwise (errno set).
 */
int ptk_file_read(const char *path, size_t max, char **out, size_t *len);
/* Replace path with data[0..len), file mode `mode`. PTK_EIO with errno on failure. */
int ptk_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/*
 * Create dir and its missing parents; the last component gets mode 0700.
 * An existing directory is fine. PTK_EIO/PTK_EINVAL with *why and errno.
 */
int ptk_mkdir_p(const char *dir, const char **why);
/* Remove a directory tree (no symlinks followed). Errors are ignored. */
void ptk_rm_rf(const char *path);
/* Write all of data to a blocking fd (EINTR retried). PTK_OK, or PTK_EIO with errno. */
int ptk_fd_write_all(int fd, const void *data, size_t len);
/* Read exactly len bytes from a blocking fd (EINTR retried). PTK_OK, or PTK_EIO
 * (errno set, or 0 at EOF before len bytes). */
int ptk_fd_read_all(int fd, void *data, size_t len);
/* Join dir and name with exactly one '/' into out. PTK_ETOOBIG if it does not fit. */
int ptk_path_join(char *out, size_t n, const char *dir, const char *name);

#endif
