/* The blocking face: one request on a socket the caller connected, with
 * poll() for every wait so that the deadline, the inactivity timeout and the
 * cancel flag hold while sending and while reading. */
#include "http/internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"

struct fd_exchange {
    int fd;
    const struct http_request *req;
    uint64_t idle_since;
};

/* Waits until fd is ready for events; 0 when it is, -1 (err) when the
 * deadline or the inactivity timeout passed, or the caller cancelled. */
static int wait_ready(struct fd_exchange *x, short events, struct error *err)
{
    const struct http_request *req = x->req;
    for (;;) {
        if (req->cancel != NULL && *req->cancel)
            return error_set(err, ERR_CANCELED, "interrupted");
        uint64_t now = http_now_ms();
        uint64_t wait = 1000; /* the cancel flag is checked at least once a second */
        if (req->deadline_ms) {
            if (now >= req->deadline_ms)
                return error_set(err, ERR_DEADLINE_EXCEEDED,
                                 "the request did not finish before its deadline");
            if (req->deadline_ms - now < wait)
                wait = req->deadline_ms - now;
        }
        if (req->timeout_ms != HTTP_NO_TIMEOUT) {
            uint64_t idle = req->timeout_ms ? req->timeout_ms : 30000;
            if (now - x->idle_since >= idle)
                return error_set(err, ERR_DEADLINE_EXCEEDED, "timed out waiting for the server");
            if (x->idle_since + idle - now < wait)
                wait = x->idle_since + idle - now;
        }
        struct pollfd p = {.fd = x->fd, .events = events};
        int n = poll(&p, 1, (int)wait);
        if (n < 0 && errno != EINTR)
            return error_set_errno(err, ERR_INTERNAL, "poll");
        if (n > 0)
            return 0;
    }
}

static int send_all(struct fd_exchange *x, const void *data, size_t len, struct error *err)
{
    const char *p = data;
    while (len > 0) {
        if (wait_ready(x, POLLOUT, err) < 0)
            return -1;
        ssize_t n = send(x->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return error_set_errno(err, ERR_UNAVAILABLE, "sending the request");
        }
        x->idle_since = http_now_ms();
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The body from body_fd: exactly body_fd_len bytes, or chunked to EOF. */
static int send_fd_body(struct fd_exchange *x, struct error *err)
{
    const struct http_request *req = x->req;
    cleanup_free char *buf = malloc(1 << 16);
    if (buf == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    uint64_t sent = 0;
    for (;;) {
        if (req->cancel != NULL && *req->cancel)
            return error_set(err, ERR_CANCELED, "interrupted");
        ssize_t n = read(req->body_fd, buf, 1 << 16);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set_errno(err, ERR_INTERNAL, "reading the request body");
        if (req->body_fd_chunked) {
            char size[32];
            int sl = snprintf(size, sizeof(size), "%zx\r\n", (size_t)n);
            if (send_all(x, size, (size_t)sl, err) < 0 || send_all(x, buf, (size_t)n, err) < 0 ||
                send_all(x, "\r\n", 2, err) < 0)
                return -1;
        } else {
            if (n == 0 ? sent != req->body_fd_len : sent + (uint64_t)n > req->body_fd_len)
                return error_set(err, ERR_ABORTED, "the input changed size while it was sent");
            if (send_all(x, buf, (size_t)n, err) < 0)
                return -1;
        }
        sent += (uint64_t)n;
        if (n == 0)
            return 0;
    }
}

static int read_response(struct fd_exchange *x, struct http_reader *r, struct error *err)
{
    char buf[65536];
    while (!r->done && !r->failed) {
        if (wait_ready(x, POLLIN, err) < 0)
            return -1;
        ssize_t n = recv(x->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            if (r->resp->status != 0)
                r->resp->truncated = true;
            return error_set_errno(err, ERR_UNAVAILABLE, "reading the response");
        }
        x->idle_since = http_now_ms();
        if (n == 0)
            http_reader_eof(r);
        else
            http_reader_feed(r, buf, (size_t)n);
    }
    return r->failed ? -1 : 0;
}

int http_fd_run(int fd, const struct http_request *req, struct http_response *resp,
                struct error *err)
{
    memset(resp, 0, sizeof(*resp));
    cleanup_free char *head = NULL;
    size_t head_len = 0;
    if (http_head_for_request(req, &head, &head_len, err) < 0)
        return -1;
    struct fd_exchange x = {.fd = fd, .req = req, .idle_since = http_now_ms()};
    struct error send_err = {0};
    int sent = send_all(&x, head, head_len, &send_err);
    if (sent == 0 && req->body_fd >= 0)
        sent = send_fd_body(&x, &send_err);
    else if (sent == 0 && req->body != NULL)
        sent = send_all(&x, req->body, req->body_len, &send_err);
    /* A transport failure while sending may be the peer answering early and
     * closing: its answer, when one is there, says why. */
    if (sent < 0 && send_err.kind != ERR_UNAVAILABLE) {
        *err = send_err;
        return -1;
    }
    struct http_reader r;
    http_reader_init(&r, req, resp, strcmp(req->method, "HEAD") == 0, err);
    int rc = read_response(&x, &r, err);
    http_reader_release(&r);
    if (rc < 0 && sent < 0) {
        *err = send_err;
        return -1;
    }
    if (rc < 0)
        return -1;
    resp->url = strdup(req->url);
    if (resp->url == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}
