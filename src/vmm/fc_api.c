/* The Firecracker API client: HTTP/1.1 on a Unix socket, one request per
 * connection, through the HTTP client's blocking face (src/http/), which
 * bounds the response in size and the exchange in time. */
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

int fc_api_exchange(int fd, const char *method, const char *path, const char *body,
                    unsigned timeout_ms, struct fc_api_response *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    cleanup_free char *url = NULL;
    if (asprintf(&url, "http://localhost%s", path) < 0) {
        url = NULL;
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    const char *headers[] = {"Accept: application/json", "Content-Type: application/json"};
    struct http_request req = {
        .method = method,
        .url = url,
        .headers = headers,
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
    struct http_response resp;
    int rc = http_fd_run(fd, &req, &resp, err);
    if (rc < 0) {
        http_response_release(&resp);
        if (err->kind == ERR_DEADLINE_EXCEEDED)
            return error_set(err, ERR_DEADLINE_EXCEEDED, "the Firecracker API did not answer in time");
        return error_prefix(err, "the Firecracker API");
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
