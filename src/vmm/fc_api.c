/* The Firecracker API client: HTTP/1.1 on a Unix socket, one request per
 * connection, through the HTTP client (src/http/), blocking or on the
 * daemon's loop; it bounds the response in size and the exchange in time. */
#include "vmm/fc_api.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/cleanup.h"
#include "http/http.h"

void fc_api_response_release(struct fc_api_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
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

static const char *const request_headers[] = {"Accept: application/json",
                                              "Content-Type: application/json"};

/* The request both faces send; url is "http://localhost<path>" (the caller's to free). */
static int request_init(struct http_request *req, char **url, const char *method, const char *path,
                        const char *body, unsigned timeout_ms, struct error *err)
{
    if (asprintf(url, "http://localhost%s", path) < 0) {
        *url = NULL;
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    *req = (struct http_request){
        .method = method,
        .url = *url,
        .headers = request_headers,
        .header_count = body != NULL ? 2 : 1,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .body_fd = -1,
        /* Firecracker's answers to the calls made here are a few hundred bytes */
        .max_body = FC_API_MAX_RESPONSE,
        .max_error_body = FC_API_MAX_RESPONSE,
        .error_body_strict = true,
        /* the deadline covers the whole exchange, however the bytes trickle */
        .timeout_ms = HTTP_NO_TIMEOUT,
        .deadline_ms = http_now_ms() + timeout_ms,
    };
    return 0;
}

/* The transport's error, said as the Firecracker API's. */
static int transport_error(struct error *err, unsigned timeout_ms)
{
    if (err->kind == ERR_DEADLINE_EXCEEDED)
        return error_set(err, ERR_DEADLINE_EXCEEDED, "the Firecracker API did not answer within %u ms",
                         timeout_ms);
    return error_prefix(err, "the Firecracker API");
}

int fc_api_exchange(int fd, const char *method, const char *path, const char *body,
                    unsigned timeout_ms, struct fc_api_response *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    cleanup_free char *url = NULL;
    struct http_request req;
    if (request_init(&req, &url, method, path, body, timeout_ms, err) < 0)
        return -1;
    struct http_response resp;
    int rc = http_fd_run(fd, &req, &resp, err);
    if (rc < 0) {
        http_response_release(&resp);
        return transport_error(err, timeout_ms);
    }
    out->status = resp.status;
    if (resp.body_len > 0) {
        out->body = resp.body;
        out->body_len = resp.body_len;
        resp.body = NULL;
    }
    http_response_release(&resp);
    return 0;
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

/* A 2xx status succeeds; anything else is Firecracker's refusal, with its fault_message. */
static int check_status(const char *method, const char *path, const struct fc_api_response *resp,
                        struct error *err)
{
    if (resp->status >= 200 && resp->status <= 299)
        return 0;
    char fault[FC_API_MAX_FAULT];
    fc_api_fault_message(resp, fault, sizeof(fault));
    return error_set(err, resp->status >= 500 ? ERR_INTERNAL : ERR_FAILED_PRECONDITION,
                     "Firecracker refused %s %s (HTTP %d): %s", method, path, resp->status,
                     fault[0] ? fault : "no fault_message in its answer");
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
    int rc = check_status(method, path, &resp, err);
    fc_api_response_release(&resp);
    return rc;
}

/* ---- on the caller's loop */

struct fc_api_call {
    int fd;
    struct http_call *http;
    char method[8];
    char path[64];
    unsigned timeout_ms;
    fc_api_done_fn done;
    void *ctx;
};

void fc_api_call_free(struct fc_api_call *c)
{
    if (c == NULL)
        return;
    http_call_free(c->http);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void on_http_done(void *ctx, const struct http_response *resp, const struct error *http_err)
{
    struct fc_api_call *c = ctx;
    struct error err;
    int rc;
    if (http_err != NULL) {
        err = *http_err;
        transport_error(&err, c->timeout_ms);
        rc = error_prefix(&err, "%s %s", c->method, c->path);
    } else {
        struct fc_api_response r = {.status = resp->status, .body = resp->body, .body_len = resp->body_len};
        rc = check_status(c->method, c->path, &r, &err);
    }
    /* The connection is done with either way; done may free c. */
    http_call_free(c->http);
    c->http = NULL;
    close(c->fd);
    c->fd = -1;
    c->done(c->ctx, rc < 0 ? &err : NULL);
}

int fc_api_call_start(struct event_base *base, const char *sock_path, const char *method,
                      const char *path, const char *body, unsigned timeout_ms, fc_api_done_fn done,
                      void *ctx, struct fc_api_call **out, struct error *err)
{
    *out = NULL;
    struct fc_api_call *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    c->fd = -1;
    if (snprintf(c->method, sizeof(c->method), "%s", method) >= (int)sizeof(c->method) ||
        snprintf(c->path, sizeof(c->path), "%s", path) >= (int)sizeof(c->path)) {
        free(c);
        return error_set(err, ERR_INVALID_ARGUMENT, "API path too long: %s", path);
    }
    c->timeout_ms = timeout_ms;
    c->done = done;
    c->ctx = ctx;
    c->fd = fc_api_connect(sock_path, err);
    if (c->fd < 0) {
        free(c);
        return error_prefix(err, "%s %s", method, path);
    }
    cleanup_free char *url = NULL;
    struct http_request req;
    if (request_init(&req, &url, method, path, body, timeout_ms, err) < 0 ||
        http_call_start(base, c->fd, &req, on_http_done, c, &c->http, err) < 0) {
        fc_api_call_free(c);
        return error_prefix(err, "%s %s", method, path);
    }
    *out = c;
    return 0;
}

int fc_api_put(const char *sock_path, const char *path, const char *body, unsigned timeout_ms,
               struct error *err)
{
    return fc_api_send(sock_path, "PUT", path, body, timeout_ms, err);
}
