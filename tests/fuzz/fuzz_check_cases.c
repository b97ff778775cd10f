/*
 * Fuzz target: the conformance case format (check_suite_parse, and the glob
 * matcher and placeholder expansion the runner applies to what it parsed)
 * on arbitrary text. No crash, no leak, and the contracts hold:
 *  - the result is PTK_OK, PTK_EINVAL (with "fuzz.case:LINE: ..." in a
 *    terminated buffer) or PTK_ENOMEM, and a failed parse adds no case;
 *  - every parsed case has an id, a title, a section, a level, a role, 1 to
 *    CHECK_MAX_STEPS steps, a timeout within bounds, socks steps only in the
 *    client role and connect steps only in the server role;
 *  - every text a step or env line holds expands without error (placeholders
 *    were validated), and globs match without blowing up;
 *  - parsing the same text again into the same suite fails on duplicate ids.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/check_case.h"
#include "ptkit/error.h"

static const char *lookup(void *ud, const char *name)
{
    return name[0] == 't' ? "plain" : NULL;
}

static void expands(const char *s)
{
    struct ptk_buf b;
    ptk_buf_init(&b, 1 << 16);
    if (s && check_expand(s, lookup, NULL, &b) != PTK_OK)
        abort();
    ptk_buf_free(&b);
}

static void check_case(const struct check_case *c)
{
    if (!c->id || !c->title || !c->section || !c->file || c->line == 0)
        abort();
    if (c->n_steps == 0 || c->n_steps > CHECK_MAX_STEPS || c->n_env > CHECK_MAX_ENV ||
        c->n_rejects > CHECK_MAX_REJECTS)
        abort();
    if (c->timeout_ms == 0 || c->timeout_ms > CHECK_TIMEOUT_MAX_MS)
        abort();
    if (c->level > CHECK_MAY || c->role > CHECK_ROLE_SERVER)
        abort();
    for (size_t i = 0; i < c->n_env; i++) {
        if (!c->env[i].name)
            abort();
        expands(c->env[i].value);
    }
    expands(c->transports);
    for (size_t i = 0; i < c->n_rejects; i++) {
        expands(c->rejects[i]);
        (void)check_glob_match(c->rejects[i], c->title);
    }
    for (size_t i = 0; i < c->n_steps; i++) {
        const struct check_step *st = &c->steps[i];
        if (st->kind == CHECK_STEP_SOCKS && c->role != CHECK_ROLE_CLIENT)
            abort();
        if (st->kind == CHECK_STEP_CONNECT && c->role != CHECK_ROLE_SERVER)
            abort();
        if ((st->kind == CHECK_STEP_EXPECT || st->kind == CHECK_STEP_WHEN ||
             st->kind == CHECK_STEP_EXISTS) &&
            !st->text)
            abort();
        if ((st->kind == CHECK_STEP_EXITS || st->kind == CHECK_STEP_RUNS ||
             st->kind == CHECK_STEP_IDLE) &&
            (st->ms == 0 || st->ms > CHECK_TIMEOUT_MAX_MS))
            abort();
        if (st->kind == CHECK_STEP_SOCKS && (st->socks.n_methods > sizeof(st->socks.methods) ||
                                             (st->socks.version != 4 && st->socks.version != 5)))
            abort();
        expands(st->text);
        if (st->text)
            (void)check_glob_match(st->text, c->section);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct check_suite s = CHECK_SUITE_INIT;
    char err[300];
    memset(err, 'x', sizeof(err));
    int r = check_suite_parse(&s, "fuzz.case", text, size, err, sizeof(err));
    if (r == PTK_OK) {
        if (s.n == 0 || s.n > CHECK_MAX_CASES)
            abort();
        for (size_t i = 0; i < s.n; i++)
            check_case(&s.cases[i]);
        size_t before = s.n;
        if (check_suite_parse(&s, "again.case", text, size, err, sizeof(err)) != PTK_EINVAL ||
            s.n != before || strstr(err, "already defined") == NULL)
            abort();
    } else if (r == PTK_EINVAL) {
        if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz.case:", 10) != 0 || s.n != 0)
            abort();
    } else if (r != PTK_ENOMEM) {
        abort();
    }
    check_suite_free(&s);

    /* the input as a glob against itself and against a fixed line */
    if (size < 2048) {
        char *g = malloc(size + 1);
        if (g) {
            memcpy(g, data, size);
            g[size] = '\0';
            (void)check_glob_match(g, "CMETHOD obfs4 socks5 127.0.0.1:9050");
            (void)check_glob_match(g, g);
            free(g);
        }
    }
    return 0;
}
