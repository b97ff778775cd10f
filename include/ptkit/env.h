/*
 * The managed-proxy environment (pt-spec 3.2), parsed from an envp array.
 *
 * ptk_env_parse() reads every TOR_PT_* variable a PT may be given, validates
 * it, and fills a ptk_env. It never calls getenv: the caller passes the
 * environment (main's envp, or a synthetic one in tests and embedders).
 *
 * Errors carry the line the PT must print before exiting:
 *   - no supported TOR_PT_MANAGED_TRANSPORT_VER -> "VERSION-ERROR no-version"
 *   - any other missing or malformed variable   -> "ENV-ERROR <what>"
 * TOR_PT_PROXY problems are not fatal to parsing: they are reported in
 * env->proxy_error, because the PT must print VERSION and then
 * "PROXY-ERROR <what>" (pt-spec 3.3.2).
 */
#ifndef PTKIT_ENV_H
#define PTKIT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ptkit/args.h"
#include "ptkit/kv.h"

enum ptk_proxy_scheme {
    PTK_PROXY_NONE = 0,
    PTK_PROXY_SOCKS4A,
    PTK_PROXY_SOCKS5,
    PTK_PROXY_HTTP,
};

struct ptk_proxy {
    enum ptk_proxy_scheme scheme;
    struct sockaddr_storage addr; /* literal IP:port, as tor writes it */
    socklen_t addrlen;
    char *user; /* NULL if none; socks5 user / http user */
    char *pass; /* NULL if none */
};

struct ptk_bindaddr {
    char *transport;
    struct sockaddr_storage addr; /* port 0 = pick one */
    socklen_t addrlen;
};

struct ptk_env {
    bool client; /* TOR_PT_CLIENT_TRANSPORTS given */
    bool server; /* TOR_PT_SERVER_TRANSPORTS given */
    char *state_location;     /* TOR_PT_STATE_LOCATION (required) */
    bool exit_on_stdin_close; /* TOR_PT_EXIT_ON_STDIN_CLOSE=1 */

    char **client_transports; /* names, in order ("*" kept as is) */
    size_t n_client_transports;
    struct ptk_proxy proxy;   /* scheme NONE when TOR_PT_PROXY unset */
    char proxy_error[256];    /* non-empty: print PROXY-ERROR with this text */

    char **server_transports;
    size_t n_server_transports;
    struct ptk_bindaddr *bindaddrs; /* from TOR_PT_SERVER_BINDADDR, in order */
    size_t n_bindaddrs;
    bool has_orport;
    struct sockaddr_storage orport;
    socklen_t orport_len;
    bool has_extorport; /* TOR_PT_EXTENDED_SERVER_PORT non-empty */
    struct sockaddr_storage extorport;
    socklen_t extorport_len;
    char *auth_cookie_file;              /* required with the extended port */
    struct ptk_options_list server_options; /* TOR_PT_SERVER_TRANSPORT_OPTIONS */

    bool has_outbound_v4, has_outbound_v6;
    struct sockaddr_storage outbound_v4, outbound_v6; /* port 0 */
};

enum ptk_env_status {
    PTK_ENV_OK = 0,
    PTK_ENV_VERSION_ERROR = 1, /* print "VERSION-ERROR no-version", exit 1 */
    PTK_ENV_ERROR = 2,         /* print "ENV-ERROR <err>", exit 1 */
    PTK_ENV_NOMEM = 3,
};

/*
 * Parse envp (NULL-terminated "NAME=value" strings; for a name given twice
 * the first wins, as with getenv). On PTK_ENV_ERROR, err
 * holds the message (without the "ENV-ERROR " prefix). The env must be freed
 * with ptk_env_free whatever the result.
 */
enum ptk_env_status ptk_env_parse(struct ptk_env *env, char *const envp[], char *err,
                                  size_t errlen);
void ptk_env_free(struct ptk_env *env);

/* True if name is listed in TOR_PT_CLIENT_TRANSPORTS (or "*" is). */
bool ptk_env_wants_client(const struct ptk_env *env, const char *name);
/* Value of a variable in envp (first match), or NULL. */
const char *ptk_envp_get(char *const envp[], const char *name);

#endif
