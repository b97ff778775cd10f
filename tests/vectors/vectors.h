/* Test helper: read "name = value" known-answer files from tests/vectors/. */
#ifndef PTK_TEST_VECTORS_H
#define PTK_TEST_VECTORS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

#ifndef PTK_VECTOR_DIR
#define PTK_VECTOR_DIR "tests/vectors"
#endif

/* The value of `name` in file (static storage, overwritten by the next call); NULL if absent. */
static inline const char *vec_str(const char *file, const char *name)
{
    static char val[4096];
    char path[512], line[4200];
    snprintf(path, sizeof(path), "%s/%s", PTK_VECTOR_DIR, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    const char *found = NULL;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        char *eq = strstr(line, " = ");
        if (!eq)
            continue;
        *eq = '\0';
        if (strcmp(line, name) != 0)
            continue;
        char *v = eq + 3;
        v[strcspn(v, "\r\n")] = '\0';
        ptk_strlcpy(val, v, sizeof(val));
        found = val;
        break;
    }
    fclose(f);
    return found;
}

/* Decode hex value of `name` into out[n]; returns 0 on success. */
static inline int vec_hex(const char *file, const char *name, uint8_t *out, size_t n)
{
    const char *v = vec_str(file, name);
    if (!v)
        return -1;
    return ptk_hex_decode(v, strlen(v), out, n);
}

#endif
