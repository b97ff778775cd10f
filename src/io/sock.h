/*
 * A relayed socket: fd + input and output evbuffers + read/write events,
 * with the I/O policy a high-volume relay needs and bufferevents lack in
 * libevent 2.1 (which reads at most 4 KiB per call, after an FIONREAD
 * ioctl, and arms/disarms the write event around every write):
 *
 *   - reads go straight into evbuffer space, up to 256 KiB per wakeup;
 *   - writes are attempted at once (sendmsg, MSG_NOSIGNAL: no SIGPIPE for
 *     embedders) and the write event is armed only while data is left;
 *   - reading pauses while the input holds `read_max` bytes or on request.
 *
 * Callbacks: on_read after new input; on_drain when the output fell to
 * half of `write_max` or emptied through the write event; on_eof / on_error.
 * Callbacks may free the sock only through the owner's deferred path (the
 * relay's reaper), never directly.
 */
#ifndef PTK_IO_SOCK_H
#define PTK_IO_SOCK_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>

struct bufferevent;
struct ptk_sock;

struct ptk_sock_cbs {
    void (*on_read)(void *ud, struct ptk_sock *s);
    void (*on_drain)(void *ud, struct ptk_sock *s);
    void (*on_eof)(void *ud, struct ptk_sock *s);
    void (*on_error)(void *ud, struct ptk_sock *s);
    void *ud;
};

/*
 * Take over a bufferevent's socket and anything already buffered in it; the
 * bufferevent is freed without closing the fd. NULL on ENOMEM (the
 * bufferevent is then left untouched).
 */
struct ptk_sock *ptk_sock_from_bev(struct bufferevent *bev, const struct ptk_sock_cbs *cbs,
                                   size_t read_max, size_t write_max);
/* Close the fd and release everything. */
void ptk_sock_free(struct ptk_sock *s);
struct evbuffer *ptk_sock_in(struct ptk_sock *s);
struct evbuffer *ptk_sock_out(struct ptk_sock *s);
int ptk_sock_fd(const struct ptk_sock *s);
/* Start/stop watching for input (the owner's backpressure). */
void ptk_sock_set_reading(struct ptk_sock *s, bool on);
/* Write what the output holds now; arm the write event for the rest. */
void ptk_sock_flush(struct ptk_sock *s);
/* Stop all callbacks (closing). */
void ptk_sock_disable(struct ptk_sock *s);

/*
 * bufferevent_write, but sent at once when nothing is queued before it: a
 * bufferevent otherwise waits a loop turn for the write event (two epoll
 * changes and a wakeup per message), which the set-up exchanges (SOCKS
 * replies, Extended ORPort messages) pay on every connection. For connected
 * sockets only. 0 or -1 as bufferevent_write.
 */
int ptk_bev_write(struct bufferevent *bev, const void *data, size_t len);

#endif
