/* Relayed sockets (see io/sock.h). */
#include "io/sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#define READ_CHUNK (64 * 1024)
#define READ_PER_WAKEUP (256 * 1024)
#define WRITE_IOV 64

struct ptk_sock {
    int fd;
    struct evbuffer *in, *out;
    struct event *rev, *wev;
    struct ptk_sock_cbs cbs;
    size_t read_max, write_max;
    bool want_read;  /* the owner wants input */
    bool reading;    /* rev is added */
    bool writing;    /* wev is added */
    bool eof, dead;
};

static void update_read(struct ptk_sock *s)
{
    bool on = s->want_read && !s->eof && !s->dead && evbuffer_get_length(s->in) < s->read_max;
    if (on == s->reading)
        return;
    if (on)
        event_add(s->rev, NULL);
    else
        event_del(s->rev);
    s->reading = on;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_sock *s = arg;
    size_t total = 0;
    bool eof = false, error = false;
    while (total < READ_PER_WAKEUP && evbuffer_get_length(s->in) < s->read_max) {
        struct evbuffer_iovec vec[2];
        int nv = evbuffer_reserve_space(s->in, READ_CHUNK, vec, 2);
        if (nv < 1) {
            error = true;
            break;
        }
        struct iovec iov[2];
        size_t want = 0;
        for (int i = 0; i < nv; i++) {
            iov[i].iov_base = vec[i].iov_base;
            iov[i].iov_len = vec[i].iov_len;
            want += vec[i].iov_len;
        }
        ssize_t n = readv(s->fd, iov, nv);
        if (n < 0) {
            evbuffer_commit_space(s->in, vec, 0);
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                error = true;
            break;
        }
        if (n == 0) {
            evbuffer_commit_space(s->in, vec, 0);
            eof = true;
            break;
        }
        size_t left = (size_t)n;
        for (int i = 0; i < nv; i++) {
            size_t take = left < vec[i].iov_len ? left : vec[i].iov_len;
            vec[i].iov_len = take;
            left -= take;
        }
        evbuffer_commit_space(s->in, vec, nv);
        total += (size_t)n;
        if ((size_t)n < want)
            break; /* the socket is drained */
    }
    if (eof) {
        s->eof = true;
        update_read(s);
    }
    if (total && s->cbs.on_read)
        s->cbs.on_read(s->cbs.ud, s);
    if (s->dead)
        return;
    if (error) {
        s->eof = true;
        update_read(s);
        if (s->cbs.on_error)
            s->cbs.on_error(s->cbs.ud, s);
        return;
    }
    if (eof && s->cbs.on_eof)
        s->cbs.on_eof(s->cbs.ud, s);
    if (!s->dead)
        update_read(s);
}

/* Write as much as the socket takes; true if it failed for good. */
static bool write_some(struct ptk_sock *s)
{
    while (evbuffer_get_length(s->out) > 0) {
        struct evbuffer_iovec vec[WRITE_IOV];
        struct iovec iov[WRITE_IOV];
        int nv = evbuffer_peek(s->out, -1, NULL, vec, WRITE_IOV);
        if (nv > WRITE_IOV)
            nv = WRITE_IOV;
        for (int i = 0; i < nv; i++) {
            iov[i].iov_base = vec[i].iov_base;
            iov[i].iov_len = vec[i].iov_len;
        }
        struct msghdr mh;
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)nv;
        ssize_t n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno != EAGAIN && errno != EWOULDBLOCK;
        }
        evbuffer_drain(s->out, (size_t)n);
    }
    return false;
}

static void update_write(struct ptk_sock *s)
{
    bool on = !s->dead && evbuffer_get_length(s->out) > 0;
    if (on == s->writing)
        return;
    if (on)
        event_add(s->wev, NULL);
    else
        event_del(s->wev);
    s->writing = on;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct ptk_sock *s = arg;
    size_t before = evbuffer_get_length(s->out);
    bool failed = write_some(s);
    update_write(s);
    if (failed) {
        if (s->cbs.on_error)
            s->cbs.on_error(s->cbs.ud, s);
        return;
    }
    size_t after = evbuffer_get_length(s->out);
    if (after < before && (after == 0 || after <= s->write_max / 2) && s->cbs.on_drain)
        s->cbs.on_drain(s->cbs.ud, s);
}

void ptk_sock_flush(struct ptk_sock *s)
{
    if (s->dead)
        return;
    if (!s->writing && write_some(s)) {
        /* report the failure from the loop, where the owner expects callbacks */
        event_active(s->wev, EV_WRITE, 0);
        return;
    }
    update_write(s);
}

struct ptk_sock *ptk_sock_from_bev(struct bufferevent *bev, const struct ptk_sock_cbs *cbs,
                                   size_t read_max, size_t write_max)
{
    struct event_base *base = bufferevent_get_base(bev);
    struct ptk_sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->in = evbuffer_new();
    s->out = evbuffer_new();
    s->fd = bufferevent_getfd(bev);
    s->rev = event_new(base, s->fd, EV_READ | EV_PERSIST, on_readable, s);
    s->wev = event_new(base, s->fd, EV_WRITE | EV_PERSIST, on_writable, s);
    if (!s->in || !s->out || !s->rev || !s->wev) {
        if (s->in)
            evbuffer_free(s->in);
        if (s->out)
            evbuffer_free(s->out);
        if (s->rev)
            event_free(s->rev);
        if (s->wev)
            event_free(s->wev);
        free(s);
        return NULL;
    }
    s->cbs = *cbs;
    s->read_max = read_max;
    s->write_max = write_max;
    /* A socket bufferevent keeps its output's start frozen (only it may drain it). */
    evbuffer_unfreeze(bufferevent_get_output(bev), 1);
    evbuffer_add_buffer(s->in, bufferevent_get_input(bev));
    evbuffer_add_buffer(s->out, bufferevent_get_output(bev));
    bufferevent_disable(bev, EV_READ | EV_WRITE);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
    bufferevent_setfd(bev, -1); /* so freeing it does not close our fd */
    bufferevent_free(bev);
    return s;
}

void ptk_sock_free(struct ptk_sock *s)
{
    if (!s)
        return;
    event_free(s->rev);
    event_free(s->wev);
    evbuffer_free(s->in);
    evbuffer_free(s->out);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

struct evbuffer *ptk_sock_in(struct ptk_sock *s)
{
    return s->in;
}

struct evbuffer *ptk_sock_out(struct ptk_sock *s)
{
    return s->out;
}

int ptk_sock_fd(const struct ptk_sock *s)
{
    return s->fd;
}

void ptk_sock_set_reading(struct ptk_sock *s, bool on)
{
    s->want_read = on;
    update_read(s);
}

void ptk_sock_disable(struct ptk_sock *s)
{
    s->dead = true;
    update_read(s);
    update_write(s);
}

int ptk_bev_write(struct bufferevent *bev, const void *data, size_t len)
{
    const char *d = data;
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (len && fd >= 0 && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        ssize_t n = send(fd, d, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            d += n;
            len -= (size_t)n;
        }
        /* on an error the bufferevent's own write finds it and reports it */
    }
    return len ? bufferevent_write(bev, d, len) : 0;
}
