/*
 * ptkit check: conformance cases as data.
 *
 * The cases live in tests/conformance/, one file per family (NAME.case),
 * in a line format meant to be read by PT authors (doc/conformance.md
 * describes it in full). A case names the
 * pt-spec section it checks and its requirement level, says how the
 * environment differs from what tor sets, and lists steps run in order
 * against a freshly launched PT:
 *
 *   case version-unsupported
 *   title   Only unsupported versions offered: VERSION-ERROR, then exit
 *   section 3.3.1
 *   level   MUST
 *   role    any
 *   env     TOR_PT_MANAGED_TRANSPORT_VER=2,3
 *   reject  VERSION *
 *   expect  VERSION-ERROR*
 *   exits   3
 *
 * This module only parses and validates (sans-I/O: text in, structures
 * out); host/check.c runs the cases. Text values may hold placeholders such
 * as ${transport}, checked here against the known names and expanded by the
 * runner. Line patterns are globs (`*`, `?`, `\` escapes) matched against a
 * whole stdout line.
 */
#ifndef PTK_HOST_CHECK_CASE_H
#define PTK_HOST_CHECK_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptkit/buf.h"

#define CHECK_MAX_CASES 256 /* per suite (all files together) */
#define CHECK_MAX_STEPS 24  /* per case */
#define CHECK_MAX_ENV 12    /* env / unset lines per case */
#define CHECK_MAX_REJECTS 8 /* reject lines per case */
#define CHECK_LINE_MAX 1024 /* bytes per line of a case file */
#define CHECK_ID_MAX 48     /* bytes of a case id */
#define CHECK_TIMEOUT_DEFAULT_MS 5000
#define CHECK_TIMEOUT_MAX_MS 30000

enum check_level { CHECK_MUST, CHECK_SHOULD, CHECK_MAY };
enum check_role { CHECK_ROLE_ANY, CHECK_ROLE_CLIENT, CHECK_ROLE_SERVER };

/* `needs` flags: the case is SKIPped when the run cannot provide them. */
#define CHECK_NEEDS_DATA 0x1   /* a peer to carry data through the PT */
#define CHECK_NEEDS_SOCKS4 0x2 /* the PT announced socks4 for the transport */

enum check_step_kind {
    CHECK_STEP_CONFIGURE,   /* wait for *METHODS DONE, judged as tor judges */
    CHECK_STEP_EXPECT,      /* wait for a stdout line matching the glob */
    CHECK_STEP_WHEN,        /* same; if it never comes the case is SKIPped */
    CHECK_STEP_EXITS,       /* the PT exits within ms */
    CHECK_STEP_RUNS,        /* the PT is still running ms later (keeps-running) */
    CHECK_STEP_IDLE,        /* wait ms; tor must not stop the PT meanwhile */
    CHECK_STEP_CLOSE_STDIN, /* close the PT's stdin */
    CHECK_STEP_SIGNAL,      /* send signo */
    CHECK_STEP_SOCKS,       /* a SOCKS exchange with the client PT */
    CHECK_STEP_CONNECT,     /* a client of the transport reaches the server PT */
    CHECK_STEP_LISTENING,   /* the method's address accepts TCP (text: address or "loopback") */
    CHECK_STEP_EXISTS,      /* a path exists (text) */
    CHECK_STEP_LINES_VALID, /* every LOG and STATUS line so far parses as tor parses it */
};

enum check_socks_args {
    CHECK_ARGS_NONE,   /* no credentials */
    CHECK_ARGS_BRIDGE, /* the peer's arguments, as tor sends them (none if it has none) */
    CHECK_ARGS_SHORT,  /* the peer's arguments, or a harmless one: always credentials */
    CHECK_ARGS_LONG,   /* a padding argument first, so the encoding exceeds 255 bytes */
};

enum check_socks_expect {
    CHECK_SX_SUCCESS, /* reply "succeeded" */
    CHECK_SX_METHOD,  /* stop after the method choice (SOCKS5) */
    CHECK_SX_AUTH,    /* stop after the username/password exchange (SOCKS5) */
    CHECK_SX_ECHO,    /* success, then a payload comes back through the peer */
    CHECK_SX_REFUSED, /* a failure reply, or a close without success */
    CHECK_SX_ANY,     /* whatever the PT answers */
};

#define CHECK_ATYP_BAD 0x05 /* an address type RFC 1928 does not define */

struct check_socks {
    int version;  /* 4 or 5 */
    bool v4a;     /* SOCKS4a: the target as a name */
    int args;     /* enum check_socks_args */
    uint8_t cmd;  /* 1 CONNECT, 2 BIND, 3 UDP ASSOCIATE */
    uint8_t atyp; /* SOCKS5: 1 IPv4, 3 name, CHECK_ATYP_BAD */
    uint8_t methods[8];
    size_t n_methods;   /* 0: what tor offers (00, plus 02 with credentials) */
    bool target_closed; /* a loopback port where nothing listens, instead of the peer */
    int expect;         /* enum check_socks_expect */
    bool via_proxy;     /* the connection must have gone through TOR_PT_PROXY */
};

enum check_connect_expect {
    CHECK_CX_AUTH,      /* SAFE_COOKIE authentication succeeded */
    CHECK_CX_USERADDR,  /* USERADDR is the client's address */
    CHECK_CX_TRANSPORT, /* TRANSPORT is the transport's name */
    CHECK_CX_WAIT_OKAY, /* nothing between DONE and OKAY */
    CHECK_CX_ECHO,      /* data goes through and back */
};

struct check_step {
    enum check_step_kind kind;
    unsigned line;
    char *text;  /* glob, path or address (placeholders unexpanded); NULL if none */
    unsigned ms; /* exits, keeps-running, idle */
    int signo;
    struct check_socks socks;
    int connect_expect; /* enum check_connect_expect */
};

struct check_env_op {
    char *name;
    char *value; /* NULL: unset */
};

struct check_case {
    char *id, *title, *section, *about; /* about may be NULL */
    char *file;
    unsigned line;
    enum check_level level;
    enum check_role role;
    unsigned needs;
    unsigned timeout_ms;
    char *transports; /* NULL: the transport under test */
    struct check_env_op env[CHECK_MAX_ENV];
    size_t n_env;
    char *rejects[CHECK_MAX_REJECTS];
    size_t n_rejects;
    struct check_step steps[CHECK_MAX_STEPS];
    size_t n_steps;
};

struct check_suite {
    struct check_case *cases;
    size_t n, cap;
};

#define CHECK_SUITE_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Parse one case file's text and append its cases to the suite (which
 * must have been initialised with CHECK_SUITE_INIT or by an earlier call).
 * `file` names the text in error messages and in each case. On PTK_EINVAL
 * err holds "FILE:LINE: what is wrong" and the suite is left as it was
 * before the call; PTK_ENOMEM likewise. Case ids must be unique across the
 * whole suite.
 */
int check_suite_parse(struct check_suite *s, const char *file, const char *text, size_t len,
                      char *err, size_t errlen);
void check_suite_free(struct check_suite *s);

/* True if the glob (`*` any run, `?` one byte, `\` makes the next byte literal) matches all of s.
 */
bool check_glob_match(const char *glob, const char *s);

/* The placeholder names ${...} a case may use. */
extern const char *const check_placeholders[];

/*
 * Append tmpl to out with each ${name} replaced by lookup(ud, name)
 * (NULL means the empty string). PTK_EINVAL for an unknown or unterminated
 * placeholder, PTK_ETOOBIG / PTK_ENOMEM from the buffer.
 */
int check_expand(const char *tmpl, const char *(*lookup)(void *ud, const char *name), void *ud,
                 struct ptk_buf *out);

const char *check_level_name(enum check_level l);
const char *check_role_name(enum check_role r);

#endif
