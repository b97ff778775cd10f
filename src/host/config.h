/*
 * ptkit host configuration: a torrc subset plus a few lines of ours.
 *
 * tor's options (same syntax and meaning):
 *   DataDirectory DIR
 *   ClientTransportPlugin NAME[,NAME...] exec PATH [ARGS...]
 *   ClientTransportPlugin NAME socks4|socks5 IP:PORT        (an already running PT)
 *   ServerTransportPlugin NAME[,NAME...] exec PATH [ARGS...]
 *   Bridge NAME IP:PORT [FINGERPRINT] [k=v ...]
 *   ServerTransportListenAddr NAME IP:PORT
 *   ServerTransportOptions NAME k=v [k=v ...]
 *   Socks4Proxy IP:PORT | Socks5Proxy IP:PORT (+ Socks5ProxyUsername, Socks5ProxyPassword)
 *     | HTTPSProxy IP:PORT (+ HTTPSProxyAuthenticator user:pass)  -> TOR_PT_PROXY
 *   OutboundBindAddress IP  (or OutboundBindAddressPT)
 *   ExtORPort auto|0        (default auto: server PTs get an Extended ORPort)
 *   ExtORPortCookieAuthFile PATH (a fixed cookie, e.g. shared by load-balanced hosts)
 *   Log LEVEL [stderr|file PATH]   SafeLogging 0|1
 * ours:
 *   ClientListen IP:PORT BRIDGE    (BRIDGE: 1-based index, IP:PORT or fingerprint)
 *   ServerForward IP:PORT          (where server PTs' clients are delivered)
 *   PTConfigTimeout SECONDS        (default 60) and PTShutdownGrace SECONDS (default 2)
 */
#ifndef PTK_HOST_CONFIG_H
#define PTK_HOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptkit/env.h"
#include "ptkit/kv.h"
#include "ptkit/log.h"
#include "util/addr.h"

struct host_plugin {
    bool server;
    char **transports;
    size_t n_transports;
    char **argv; /* exec form: NULL-terminated; NULL for the external-proxy form */
    int socks_version; /* external form: 4 or 5 */
    struct ptk_addr addr;
    unsigned lineno;
};

struct host_bridge {
    char *transport;
    struct ptk_addr addr;
    char fingerprint[41];
    struct ptk_kvlist args;
    unsigned lineno;
};

struct host_listen_addr {
    char *transport;
    struct ptk_addr addr;
};

struct host_client_listen {
    struct ptk_addr listen;
    char *bridge_ref; /* as written: 1-based index, IP:PORT or fingerprint */
    size_t bridge;    /* index into bridges, resolved after all lines are read */
    unsigned lineno;
};

struct host_config {
    char *path;
    char *data_dir;
    struct host_plugin *plugins;
    size_t n_plugins;
    struct host_bridge *bridges;
    size_t n_bridges;
    struct host_listen_addr *listen_addrs;
    size_t n_listen_addrs;
    struct ptk_options_list server_options;
    struct host_client_listen *client_listens;
    size_t n_client_listens;
    bool has_forward;
    struct ptk_addr forward;
    bool extorport; /* default true */
    char *cookie_file; /* ExtORPortCookieAuthFile, or NULL */
    char *proxy_uri;   /* TOR_PT_PROXY as tor builds it, or NULL */
    bool has_bind_v4, has_bind_v6;
    struct ptk_addr bind_v4, bind_v6;
    enum ptk_log_level log_level;
    char *log_file;
    bool unsafe_logging;
    unsigned config_timeout_s;
    unsigned shutdown_grace_s;
};

/* Read and check a config file. PTK_EINVAL with "FILE:LINE: what" in err. */
int host_config_load(const char *path, struct host_config *cfg, char *err, size_t errlen);
/* The same from text (for tests); name is used in messages. */
int host_config_parse(const char *name, const char *text, size_t len, struct host_config *cfg,
                      char *err, size_t errlen);
void host_config_free(struct host_config *cfg);

#endif
