/*
 * The torrc syntax (the subset ptkit host reads), sans-I/O.
 *
 * One option per line: a keyword, whitespace, then arguments separated by
 * whitespace. '#' starts a comment outside double quotes; a backslash at the
 * end of a line continues it on the next; an argument in double quotes may
 * contain spaces and C escapes. Keywords are matched case-insensitively by
 * the caller, as tor does.
 */
#ifndef PTK_PROTO_TORRC_H
#define PTK_PROTO_TORRC_H

#include <stddef.h>

struct ptk_torrc_line {
    char *key;
    char **args;
    size_t nargs;
    unsigned lineno; /* 1-based line where the option starts */
};

struct ptk_torrc {
    struct ptk_torrc_line *lines;
    size_t n;
};

/* PTK_EINVAL with "line N: reason" in err. The result must be freed in any case. */
int ptk_torrc_parse(const char *text, size_t len, struct ptk_torrc *out, char *err, size_t errlen);
void ptk_torrc_free(struct ptk_torrc *t);
/* The arguments joined by single spaces (static-free: caller frees). */
char *ptk_torrc_join(const struct ptk_torrc_line *l, size_t from);

#endif
