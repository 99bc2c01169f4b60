/* The Firecracker API client: HTTP/1.1 on a Unix socket, one request per
 * connection, responses parsed by http-parser and bounded in size and time. */
#include "vmm/fc_api.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"

struct fc_api_reader {
    http_parser parser;
    http_parser_settings settings;
    size_t seen;      /* bytes fed so far */
    char *body;
    size_t body_len;
    bool complete;
    bool too_large;
    bool oom;
};

void fc_api_response_release(struct fc_api_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct fc_api_reader *r = p->data;
    /* seen already bounds the total; this keeps the arithmetic obvious. */
    if (len > FC_API_MAX_RESPONSE || r->body_len > FC_API_MAX_RESPONSE - len) {
        r->too_large = true;
        return -1;
    }
    char *grown = realloc(r->body, r->body_len + len + 1);
    if (grown == NULL) {
        r->oom = true;
        return -1;
    }
    r->body = grown;
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct fc_api_reader *r = p->data;
    r->complete = true;
    /* One response is all this client reads; stop at its end. */
    http_parser_pause(p, 1);
    return 0;
}

int fc_api_reader_new(struct fc_api_reader **out, struct error *err)
{
    struct fc_api_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
    http_parser_settings_init(&r->settings);
    r->settings.on_body = on_body;
    r->settings.on_message_complete = on_message_complete;
    *out = r;
    return 0;
}

void fc_api_reader_free(struct fc_api_reader *r)
{
    if (r == NULL)
        return;
    free(r->body);
    free(r);
}

int fc_api_reader_feed(struct fc_api_reader *r, const char *data, size_t len, struct error *err)
{
    if (r->complete)
        return 1;
    if (len > FC_API_MAX_RESPONSE || r->seen > FC_API_MAX_RESPONSE - len)
        return error_set(err, ERR_RESOURCE_EXHAUSTED,
                         "the Firecracker API answered more than %d bytes", FC_API_MAX_RESPONSE);
    r->seen += len;
    size_t parsed = http_parser_execute(&r->parser, &r->settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->complete)
        return 1;
    if (r->too_large)
        return error_set(err, ERR_RESOURCE_EXHAUSTED,
                         "the Firecracker API answered more than %d bytes", FC_API_MAX_RESPONSE);
    if (r->oom)
        return error_set(err, ERR_INTERNAL, "out of memory");
    if (len == 0)
        return error_set(err, ERR_UNAVAILABLE,
                         "the Firecracker API closed the connection before a full response");
    if (e != HPE_OK)
        return error_set(err, ERR_UNAVAILABLE, "bad HTTP response from the Firecracker API: %s",
                         http_errno_description(e));
    if (parsed != len)
        return error_set(err, ERR_UNAVAILABLE, "bad HTTP response from the Firecracker API");
    return 0;
}

void fc_api_reader_take(struct fc_api_reader *r, struct fc_api_response *out)
{
    out->status = (int)r->parser.status_code;
    out->body = r->body;
    out->body_len = r->body_len;
    r->body = NULL;
    r->body_len = 0;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; 0 when ready, -1 with err on timeout. */
static int wait_fd(int fd, short events, long long deadline, const char *doing, struct error *err)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return error_set(err, ERR_DEADLINE_EXCEEDED,
                             "the Firecracker API did not answer in time (%s)", doing);
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return error_set_errno(err, ERR_UNAVAILABLE, "poll");
    }
}

int fc_api_connect(const char *sock_path, struct error *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof(addr.sun_path))
        return error_set(err, ERR_INVALID_ARGUMENT, "socket path too long: %s", sock_path);
    memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "socket");
    /* A Unix connect either completes or fails at once (EAGAIN: backlog full). */
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return error_set_errno(err, ERR_UNAVAILABLE, "connecting to %s", sock_path);
    }
    return fd;
}

int fc_api_exchange(int fd, const char *method, const char *path, const char *body,
                    unsigned timeout_ms, struct fc_api_response *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    long long deadline = now_ms() + timeout_ms;
    size_t body_len = body ? strlen(body) : 0;
    cleanup_free char *req = NULL;
    int req_len;
    if (body != NULL)
        req_len = asprintf(&req,
                           "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           method, path, body_len, body);
    else
        req_len = asprintf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n",
                           method, path);
    if (req_len < 0) {
        req = NULL;
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    for (size_t off = 0; off < (size_t)req_len;) {
        if (wait_fd(fd, POLLOUT, deadline, "sending the request", err) < 0)
            return -1;
        ssize_t n = send(fd, req + off, (size_t)req_len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return error_set_errno(err, ERR_UNAVAILABLE, "sending to the Firecracker API");
        }
        off += (size_t)n;
    }

    struct fc_api_reader *r = NULL;
    if (fc_api_reader_new(&r, err) < 0)
        return -1;
    int rc = 0;
    char buf[4096];
    while (rc == 0) {
        if (wait_fd(fd, POLLIN, deadline, "reading the response", err) < 0) {
            rc = -1;
            break;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            rc = error_set_errno(err, ERR_UNAVAILABLE, "reading from the Firecracker API");
            break;
        }
        rc = fc_api_reader_feed(r, buf, (size_t)n, err);
    }
    if (rc == 1) {
        fc_api_reader_take(r, out);
        rc = 0;
    }
    fc_api_reader_free(r);
    return rc;
}

void fc_api_fault_message(const struct fc_api_response *resp, char *out, size_t size)
{
    out[0] = '\0';
    if (resp->body == NULL || resp->body_len == 0)
        return;
    json_error_t jerr;
    json_t *doc = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *msg = json_string_value(json_object_get(doc, "fault_message"));
    if (msg != NULL) {
        size_t j = 0;
        for (size_t i = 0; msg[i] != '\0' && j + 1 < size; i++)
            out[j++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
        out[j] = '\0';
    }
    json_decref(doc);
}

int fc_api_send(const char *sock_path, const char *method, const char *path, const char *body,
                unsigned timeout_ms, struct error *err)
{
    cleanup_close int fd = fc_api_connect(sock_path, err);
    if (fd < 0)
        return -1;
    struct fc_api_response resp;
    if (fc_api_exchange(fd, method, path, body, timeout_ms, &resp, err) < 0)
        return error_prefix(err, "%s %s", method, path);
    int rc = 0;
    if (resp.status < 200 || resp.status > 299) {
        char fault[FC_API_MAX_FAULT];
        fc_api_fault_message(&resp, fault, sizeof(fault));
        rc = error_set(err, resp.status >= 500 ? ERR_INTERNAL : ERR_FAILED_PRECONDITION,
                       "Firecracker refused %s %s (HTTP %d): %s", method, path, resp.status,
                       fault[0] ? fault : "no fault_message in its answer");
    }
    fc_api_response_release(&resp);
    return rc;
}

int fc_api_put(const char *sock_path, const char *path, const char *body, unsigned timeout_ms,
               struct error *err)
{
    return fc_api_send(sock_path, "PUT", path, body, timeout_ms, err);
}
