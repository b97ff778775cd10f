/*
 * `ptkit check`: run any managed PT through the conformance cases
 * (tests/conformance, doc/conformance.md) and print a table, or JSON.
 *
 * Before anything is launched the process moves into a new network
 * namespace with only loopback (io/netns.h), so the PT under test cannot
 * reach the network; if that is impossible it says so and goes on.
 * Exit status: 0 when no MUST case failed, 1 when one did, 2 when the
 * cases could not run (bad options, unreadable case files, PT not found).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd.h"
#include "host/check.h"
#include "io/netns.h"
#include "ptkit/error.h"

#define MAX_ONLY 64

static const char usage[] =
    "usage: ptkit check [--client|--server] [--transport NAME] [--args 'k=v;...']\n"
    "                   [--bridge IP:PORT] [--case GLOB]... [--cases DIR] [--json]\n"
    "                   [--no-netns] [--verbose] -- CMD [ARG...]\n"
    "  Runs the managed PT CMD through the conformance cases (pt-spec, Extended ORPort)\n"
    "  as tor would launch it, in a loopback-only network namespace, and prints a table.\n"
    "  --client, --server   the role to check (default: client)\n"
    "  --transport NAME     the transport to ask for (default: plain)\n"
    "  --args 'k=v;...'     client: the bridge's arguments (with --bridge);\n"
    "                       server: TOR_PT_SERVER_TRANSPORT_OPTIONS for the transport\n"
    "  --bridge IP:PORT     client: a server of the transport for the data cases\n"
    "                       (default: ptkit's own implementation when it has one)\n"
    "  --case GLOB          run only the cases whose id matches (repeatable)\n"
    "  --cases DIR          where the *.case files are\n"
    "  --json               print the results as JSON\n"
    "  --no-netns           do not isolate the PT from the network\n"
    "  --verbose            trace the PT's output and each step on stderr\n"
    "Exit status: 0 if no MUST case failed, 1 if one did, 2 if the cases could not run.\n";

struct out {
    bool json, header_done;
    int idw;
};

static void on_trace(void *ud, const char *line)
{
    fprintf(stderr, "check: %s\n", line);
}

static void print_row(const struct out *o, const char *id, const char *section, const char *level,
                      const char *result, const char *detail)
{
    printf("%-*s %-16s %-6s  %-6s  %s\n", o->idw, id, section, level, result, detail);
}

static void on_result(void *ud, const struct check_result *r)
{
    struct out *o = ud;
    if (o->json)
        return;
    if (!o->header_done) {
        print_row(o, "CASE", "SECTION", "LEVEL", "RESULT", "DETAIL");
        o->header_done = true;
    }
    print_row(o, r->c->id, r->c->section, check_level_name(r->c->level),
              check_outcome_name(r->outcome), r->detail);
    fflush(stdout);
}

/* Absolute path of the command: as given if it has a '/', else found on PATH. */
static int resolve_cmd(const char *cmd, char *out, size_t n)
{
    if (strchr(cmd, '/')) {
        if (!realpath(cmd, out))
            return -1;
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t l = strcspn(path, ":");
        char cand[PATH_MAX];
        if (l > 0 &&
            (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)l, path, cmd) < sizeof(cand) &&
            access(cand, X_OK) == 0 && realpath(cand, out) && strlen(out) < n)
            return 0;
        path += l + (path[l] == ':');
    }
    errno = ENOENT;
    return -1;
}

/* The case directory: --cases, $PTKIT_CHECK_CASES, or next to the binary / installed. */
static const char *find_cases(const char *given, char *buf, size_t n)
{
    if (given)
        return given;
    const char *env = getenv("PTKIT_CHECK_CASES");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = {"/../tests/conformance", "/../share/ptkit/conformance"};
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            snprintf(buf, n, "%.3000s%s", exe, rel[i]);
            if (access(buf, R_OK | X_OK) == 0)
                return buf;
        }
    }
    return "/usr/share/ptkit/conformance";
}

static int print_json(const struct check_report *rep, char *const *argv, bool server,
                      const char *transport, const char *network)
{
    json_t *root = json_object(), *cmd = json_array(), *cases = json_array();
    if (!root || !cmd || !cases)
        return 2;
    for (char *const *a = argv; *a; a++)
        json_array_append_new(cmd, json_string(*a));
    json_object_set_new(root, "ptkit_version", json_string(PTK_VERSION));
    json_object_set_new(root, "command", cmd);
    json_object_set_new(root, "role", json_string(server ? "server" : "client"));
    json_object_set_new(root, "transport", json_string(transport));
    json_object_set_new(root, "network", json_string(network));
    json_object_set_new(root, "peer", json_string(rep->peer));
    for (size_t i = 0; i < rep->n; i++) {
        const struct check_result *r = &rep->results[i];
        json_t *c = json_object();
        json_object_set_new(c, "id", json_string(r->c->id));
        json_object_set_new(c, "title", json_string(r->c->title));
        json_object_set_new(c, "section", json_string(r->c->section));
        json_object_set_new(c, "level", json_string(check_level_name(r->c->level)));
        json_object_set_new(c, "result", json_string(check_outcome_name(r->outcome)));
        json_object_set_new(c, "detail", json_string(r->detail));
        json_object_set_new(c, "ms", json_integer(r->ms));
        json_object_set_new(c, "file", json_string(r->c->file));
        json_object_set_new(c, "line", json_integer(r->c->line));
        json_array_append_new(cases, c);
    }
    json_object_set_new(root, "cases", cases);
    json_t *sum = json_object();
    json_object_set_new(sum, "total", json_integer((json_int_t)rep->n));
    json_object_set_new(sum, "pass", json_integer((json_int_t)rep->pass));
    json_object_set_new(sum, "fail", json_integer((json_int_t)rep->fail));
    json_object_set_new(sum, "skip", json_integer((json_int_t)rep->skip));
    json_object_set_new(sum, "must_fail", json_integer((json_int_t)rep->must_fail));
    json_object_set_new(sum, "conformant", json_boolean(rep->must_fail == 0));
    json_object_set_new(root, "summary", sum);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return 2;
    printf("%s\n", text);
    free(text);
    return 0;
}

/* Move into a loopback-only network namespace; describe the outcome. */
static const char *isolate(bool wanted)
{
    const char *why = "";
    enum ptk_netns_how how;
    if (!wanted)
        return ptk_netns_loopback_only() ? "loopback only (--no-netns; already isolated)"
                                         : "NOT isolated (--no-netns)";
    if (ptk_netns_enter_private(&how, &why) == PTK_OK)
        return how == PTK_NETNS_NET ? "private namespace, loopback only"
                                    : "private user and network namespace, loopback only";
    if (ptk_netns_loopback_only())
        return "loopback only (an existing namespace)";
    fprintf(stderr,
            "ptkit check: warning: cannot make a private network namespace (%s: %s); the PT "
            "runs in this one and may reach the network\n",
            why, strerror(errno));
    return "NOT isolated (no private namespace could be made)";
}

int cmd_check(int argc, char **argv, char **envp)
{
    struct check_opts o = {.transport = "plain", .envp = envp};
    char *only[MAX_ONLY + 1] = {NULL};
    size_t n_only = 0;
    const char *cases = NULL;
    bool json = false, netns = true, verbose = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--client") == 0) {
            o.server = false;
        } else if (strcmp(a, "--server") == 0) {
            o.server = true;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--no-netns") == 0) {
            netns = false;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = true;
        } else if (strcmp(a, "--transport") == 0 && has_val) {
            o.transport = argv[++i];
        } else if (strcmp(a, "--args") == 0 && has_val) {
            o.args = argv[++i];
        } else if (strcmp(a, "--bridge") == 0 && has_val) {
            o.bridge = argv[++i];
        } else if (strcmp(a, "--cases") == 0 && has_val) {
            cases = argv[++i];
        } else if (strcmp(a, "--case") == 0 && has_val) {
            if (n_only == MAX_ONLY) {
                fprintf(stderr, "ptkit check: at most %d --case options\n", MAX_ONLY);
                return 2;
            }
            only[n_only++] = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "ptkit check: unknown option or missing value: %s\n%s", a, usage);
            return 2;
        } else {
            break; /* the command, without "--" */
        }
    }
    if (i >= argc) {
        fprintf(stderr, "ptkit check: no PT command given\n%s", usage);
        return 2;
    }
    char exe[PATH_MAX], casebuf[PATH_MAX + 64];
    if (resolve_cmd(argv[i], exe, sizeof(exe)) != 0) {
        fprintf(stderr, "ptkit check: %s: %s\n", argv[i], strerror(errno));
        return 2;
    }
    char **pt_argv = calloc((size_t)(argc - i) + 1, sizeof(*pt_argv));
    if (!pt_argv)
        return 2;
    pt_argv[0] = exe;
    for (int k = i + 1; k < argc; k++)
        pt_argv[k - i] = argv[k];
    o.argv = pt_argv;
    o.only = n_only ? only : NULL;
    o.cases_dir = find_cases(cases, casebuf, sizeof(casebuf));

    signal(SIGPIPE, SIG_IGN); /* a PT that closes a socket must not kill the checker */
    const char *network = isolate(netns);
    struct out out = {json, false, 26};
    o.progress = on_result;
    o.trace = verbose ? on_trace : NULL;
    o.ud = &out;
    if (!json) {
        printf("ptkit check %s: %s as a %s PT, transport %s\n", PTK_VERSION, exe,
               o.server ? "server" : "client", o.transport);
        printf("network: %s\n\n", network);
        fflush(stdout);
    }
    struct check_report rep;
    char err[600];
    int status = 2;
    int rc = check_run(&o, &rep, err, sizeof(err));
    if (rc != PTK_OK) {
        fprintf(stderr, "ptkit check: %s\n", err[0] ? err : ptk_strerror(rc));
        goto out;
    }
    if (json) {
        if (print_json(&rep, pt_argv, o.server, o.transport, network) != 0)
            goto out;
    } else {
        printf("\ndata peer: %s\n", rep.peer);
        printf("%zu cases: %zu PASS, %zu FAIL (%zu MUST), %zu SKIP: %s\n", rep.n, rep.pass,
               rep.fail, rep.must_fail, rep.skip,
               rep.must_fail ? "NOT conformant (a MUST case failed)"
                             : "conformant (no MUST case failed)");
    }
    status = rep.must_fail ? 1 : 0;
out:
    check_report_free(&rep);
    free(pt_argv);
    return status;
}
