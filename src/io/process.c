/*
 * Child processes (see io/process.h). fork + execve, an extra close-on-exec
 * pipe to learn whether execve itself failed, bufferevents splitting stdout
 * and stderr into lines, and one SIGCHLD watcher that reaps every child.
 */
#include "io/process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "ptkit/error.h"

struct ptk_proc {
    struct ptk_io *io;
    pid_t pid;
    int in_fd;
    struct bufferevent *out, *err;
    struct ptk_proc_cbs cbs;
    bool exited;
    bool out_truncating, err_truncating; /* dropping the rest of an over-long line */
    int busy;  /* inside a callback */
    bool dead; /* freed while busy: finish the free when the callback returns */
    struct ptk_proc *next;
};

static void proc_release(struct ptk_proc *p);

/* After a callback: false if the handle was freed meanwhile (it is gone now). */
static bool after_callback(struct ptk_proc *p)
{
    if (--p->busy == 0 && p->dead) {
        proc_release(p);
        return false;
    }
    return !p->dead;
}

static void unlink_proc(struct ptk_proc *p)
{
    for (struct ptk_proc **pp = &p->io->procs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static void drain_lines(struct ptk_proc *p, struct bufferevent *bev, bool at_eof)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    bool is_err = bev == p->err;
    bool *trunc = is_err ? &p->err_truncating : &p->out_truncating;
    for (;;) {
        struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
        size_t avail = evbuffer_get_length(in);
        size_t len;
        if (eol.pos >= 0) {
            len = (size_t)eol.pos;
        } else if (avail >= PTK_PROC_LINE_MAX || (at_eof && avail > 0)) {
            len = avail; /* an over-long line, or a last line without '\n' */
        } else {
            return;
        }
        size_t take = len < PTK_PROC_LINE_MAX ? len : PTK_PROC_LINE_MAX;
        char *line = (char *)evbuffer_pullup(in, (ev_ssize_t)take);
        if (!*trunc && p->cbs.on_line) {
            p->busy++;
            p->cbs.on_line(p->cbs.ud, line, take, is_err);
            if (!after_callback(p))
                return;
        }
        evbuffer_drain(in, take);
        if (eol.pos >= 0 && (size_t)eol.pos == len && take == len) {
            evbuffer_drain(in, 1); /* the '\n' */
            *trunc = false;
        } else if (take == PTK_PROC_LINE_MAX) {
            *trunc = true; /* skip up to the next '\n' */
        }
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct ptk_proc *p = arg;
    p->busy++;
    drain_lines(p, bev, false);
    after_callback(p);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct ptk_proc *p = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        p->busy++;
        drain_lines(p, bev, true);
        if (after_callback(p))
            bufferevent_disable(bev, EV_READ);
    }
}

static void reap(evutil_socket_t sig, short what, void *arg)
{
    struct ptk_io *io = arg;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct ptk_proc *p = io->procs;
        while (p && p->pid != pid)
            p = p->next;
        if (!p)
            continue; /* a child whose handle was already freed: reaped, done */
        p->exited = true;
        /* Deliver what the child wrote before it exited, then report the exit. */
        p->busy++;
        struct bufferevent *pipes[2] = {p->out, p->err};
        for (int i = 0; i < 2 && !p->dead; i++) {
            int fd = bufferevent_getfd(pipes[i]);
            char tmp[4096];
            ssize_t n;
            while ((n = read(fd, tmp, sizeof(tmp))) > 0)
                evbuffer_add(bufferevent_get_input(pipes[i]), tmp, (size_t)n);
            drain_lines(p, pipes[i], true);
        }
        if (!p->dead && p->cbs.on_exit)
            p->cbs.on_exit(p->cbs.ud, status);
        after_callback(p);
    }
}

int ptk_io_watch_children(struct ptk_io *io)
{
    if (io->sigchld)
        return PTK_OK;
    io->sigchld = evsignal_new(io->base, SIGCHLD, reap, io);
    if (!io->sigchld || evsignal_add(io->sigchld, NULL) != 0)
        return PTK_EIO;
    return PTK_OK;
}

void ptk_io_unwatch_children(struct ptk_io *io)
{
    if (io->sigchld) {
        reap(SIGCHLD, 0, io); /* collect what already ended */
        event_free(io->sigchld);
        io->sigchld = NULL;
    }
}

static void child_exec(char *const argv[], char *const envp[], int in, int out, int err,
                       int report, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127); /* the parent is already gone */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        goto fail;
    execve(argv[0], argv, envp);
fail:;
    int e = errno;
    ssize_t unused = write(report, &e, sizeof(e));
    (void)unused;
    _exit(127);
}

int ptk_proc_spawn(struct ptk_io *io, char *const argv[], char *const envp[],
                   const struct ptk_proc_cbs *cbs, struct ptk_proc **out, const char **why)
{
    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1}, rep[2] = {-1, -1};
    struct ptk_proc *p = NULL;
    int r = PTK_EIO;
    *why = "cannot create pipes";
    if (pipe2(in, O_CLOEXEC) || pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC) ||
        pipe2(rep, O_CLOEXEC))
        goto out;
    p = calloc(1, sizeof(*p));
    if (!p) {
        *why = "out of memory";
        r = PTK_ENOMEM;
        goto out;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        *why = "fork failed";
        goto out;
    }
    if (pid == 0)
        child_exec(argv, envp, in[0], o[1], e[1], rep[1], parent);
    close(in[0]);
    close(o[1]);
    close(e[1]);
    close(rep[1]);
    in[0] = o[1] = e[1] = rep[1] = -1;
    int child_errno = 0;
    ssize_t n;
    while ((n = read(rep[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof(child_errno)) {
        waitpid(pid, NULL, 0);
        errno = child_errno;
        *why = "cannot execute";
        goto out;
    }
    p->io = io;
    p->pid = pid;
    p->in_fd = in[1];
    in[1] = -1;
    if (cbs)
        p->cbs = *cbs;
    evutil_make_socket_nonblocking(o[0]);
    evutil_make_socket_nonblocking(e[0]);
    p->out = bufferevent_socket_new(io->base, o[0], BEV_OPT_CLOSE_ON_FREE);
    if (p->out)
        o[0] = -1;
    p->err = bufferevent_socket_new(io->base, e[0], BEV_OPT_CLOSE_ON_FREE);
    if (p->err)
        e[0] = -1;
    p->next = io->procs;
    io->procs = p;
    if (!p->out || !p->err) {
        *why = "out of memory";
        ptk_proc_free(p); /* kills the child */
        p = NULL;
        r = PTK_ENOMEM;
        goto out;
    }
    bufferevent_setcb(p->out, on_read, NULL, on_event, p);
    bufferevent_setcb(p->err, on_read, NULL, on_event, p);
    bufferevent_enable(p->out, EV_READ);
    bufferevent_enable(p->err, EV_READ);
    *out = p;
    p = NULL;
    r = PTK_OK;
out:;
    int saved = errno;
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (o[i] >= 0)
            close(o[i]);
        if (e[i] >= 0)
            close(e[i]);
        if (rep[i] >= 0)
            close(rep[i]);
    }
    free(p);
    errno = saved;
    return r;
}

pid_t ptk_proc_pid(const struct ptk_proc *p)
{
    return p->pid;
}

bool ptk_proc_running(const struct ptk_proc *p)
{
    return !p->exited;
}

void ptk_proc_close_stdin(struct ptk_proc *p)
{
    if (p->in_fd >= 0) {
        close(p->in_fd);
        p->in_fd = -1;
    }
}

void ptk_proc_signal(struct ptk_proc *p, int sig)
{
    if (!p->exited)
        kill(p->pid, sig);
}

static void proc_release(struct ptk_proc *p)
{
    if (p->out)
        bufferevent_free(p->out);
    if (p->err)
        bufferevent_free(p->err);
    free(p);
}

void ptk_proc_free(struct ptk_proc *p)
{
    if (!p || p->dead)
        return;
    if (!p->exited)
        kill(p->pid, SIGKILL); /* reaped by the SIGCHLD watcher */
    unlink_proc(p);
    ptk_proc_close_stdin(p);
    p->dead = true;
    if (p->busy == 0)
        proc_release(p);
}
