/* The caller's-loop face: one request on a socket the caller connected,
 * driven by events on the caller's libevent loop, so that a slow peer
 * never holds the loop. The same response reader, limits and deadline as
 * the blocking face (fd.c). */
#include "http/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

struct http_call {
    int fd;
    struct http_request req; /* the limits the reader reads; no pointers into the caller's */
    struct http_response resp;
    struct http_reader reader;
    struct error err;
    struct error send_err; /* a failed send: the peer may have answered and closed */
    char *out; /* head and body */
    size_t out_len, out_sent;
    uint64_t idle_since;
    struct event *ev_write, *ev_read, *timer;
    http_call_done_fn done;
    void *ctx;
};

void http_call_free(struct http_call *c)
{
    if (c == NULL)
        return;
    if (c->ev_write)
        event_free(c->ev_write);
    if (c->ev_read)
        event_free(c->ev_read);
    if (c->timer)
        event_free(c->timer);
    http_reader_release(&c->reader);
    http_response_release(&c->resp);
    free(c->out);
    free(c);
}

/* Ends the exchange: no more events, then the caller hears of it (and may
 * free c in its callback). */
static void finish(struct http_call *c)
{
    event_del(c->ev_write);
    event_del(c->ev_read);
    event_del(c->timer);
    if (c->reader.failed) {
        /* A failed send and no answer: the send's error says why. */
        const struct error *why = c->send_err.kind != ERR_OK ? &c->send_err : &c->err;
        c->done(c->ctx, NULL, why);
        return;
    }
    c->done(c->ctx, &c->resp, NULL);
}

/* The next wake-up: the whole-exchange deadline or the inactivity timeout,
 * whichever comes first. */
static void arm_timer(struct http_call *c)
{
    uint64_t now = http_now_ms(), at = UINT64_MAX;
    if (c->req.deadline_ms)
        at = c->req.deadline_ms;
    if (c->req.timeout_ms != HTTP_NO_TIMEOUT) {
        uint64_t idle = c->req.timeout_ms ? c->req.timeout_ms : 30000;
        if (c->idle_since + idle < at)
            at = c->idle_since + idle;
    }
    if (at == UINT64_MAX)
        return;
    uint64_t wait = at > now ? at - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(wait / 1000), .tv_usec = (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct http_call *c = arg;
    uint64_t now = http_now_ms();
    if (c->req.deadline_ms && now >= c->req.deadline_ms) {
        http_reader_fail(&c->reader, ERR_DEADLINE_EXCEEDED, "the request did not finish before its deadline");
    } else if (c->req.timeout_ms != HTTP_NO_TIMEOUT &&
               now - c->idle_since >= (c->req.timeout_ms ? c->req.timeout_ms : 30000)) {
        http_reader_fail(&c->reader, ERR_DEADLINE_EXCEEDED, "timed out waiting for the server");
    } else {
        arm_timer(c);
        return;
    }
    c->send_err.kind = ERR_OK; /* the time is up, whatever happened while sending */
    finish(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct http_call *c = arg;
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            /* The peer may have answered early and closed: read on; its
             * answer, when there is one, is the result. */
            error_set_errno(&c->send_err, ERR_UNAVAILABLE, "sending the request");
            break;
        }
        c->out_sent += (size_t)n;
        c->idle_since = http_now_ms();
    }
    event_del(c->ev_write);
    arm_timer(c);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct http_call *c = arg;
    char buf[16384];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n < 0) {
        if (c->resp.status != 0)
            c->resp.truncated = true;
        struct error e;
        error_set_errno(&e, ERR_UNAVAILABLE, "reading the response");
        http_reader_fail(&c->reader, e.kind, e.message);
    } else if (n == 0) {
        http_reader_eof(&c->reader);
    } else {
        c->idle_since = http_now_ms();
        http_reader_feed(&c->reader, buf, (size_t)n);
    }
    if (c->reader.done || c->reader.failed)
        finish(c); /* (EOF leaves the reader one or the other) */
}

int http_call_start(struct event_base *base, int fd, const struct http_request *req,
                    http_call_done_fn done, void *ctx, struct http_call **out, struct error *err)
{
    *out = NULL;
    if (req->body_fd >= 0 || req->on_body != NULL || req->on_headers != NULL || req->cancel != NULL)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "http_call_start takes a body from memory and buffers the response");
    char *head = NULL;
    size_t head_len = 0;
    if (http_head_for_request(req, &head, &head_len, err) < 0)
        return -1;
    struct http_call *c = calloc(1, sizeof(*c));
    size_t body_len = req->body != NULL ? req->body_len : 0;
    char *all = c ? realloc(head, head_len + body_len + 1) : NULL;
    if (all == NULL) {
        free(head);
        free(c);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (body_len)
        memcpy(all + head_len, req->body, body_len);
    c->out = all;
    c->out_len = head_len + body_len;
    c->fd = fd;
    c->req = *req;
    c->req.method = NULL;
    c->req.url = NULL;
    c->req.headers = NULL;
    c->req.header_count = 0;
    c->req.body = NULL;
    c->req.body_len = 0;
    c->done = done;
    c->ctx = ctx;
    c->idle_since = http_now_ms();
    http_reader_init(&c->reader, &c->req, &c->resp, strcmp(req->method, "HEAD") == 0, &c->err);
    c->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    c->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->timer = evtimer_new(base, on_timer, c);
    if (c->ev_write == NULL || c->ev_read == NULL || c->timer == NULL || event_add(c->ev_write, NULL) < 0 ||
        event_add(c->ev_read, NULL) < 0) {
        http_call_free(c);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    arm_timer(c);
    /* What the socket takes now goes out now (a small request on a Unix
     * socket: all of it), so a request is sent even when the loop does not
     * run again (a daemon asking its VMMs to quit as it shuts down).
     * on_writable never calls done: a failed send is reported from the loop. */
    on_writable(fd, EV_WRITE, c);
    *out = c;
    return 0;
}
