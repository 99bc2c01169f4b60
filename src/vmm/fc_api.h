/* The Firecracker API client, for the drivers in src/vmm/ only: one HTTP/1.1
 * request per connection on Firecracker's API Unix socket, through
 * http_fd_run (blocking) or http_call_start (on the caller's loop; src/http/). The peer is a separate process and is treated as
 * hostile: every response is bounded in size (FC_API_MAX_RESPONSE) and every
 * exchange in time. */
#ifndef ENCLAVE_VMM_FC_API_H
#define ENCLAVE_VMM_FC_API_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* The largest response body taken from the peer (headers are bounded by
 * the HTTP client). Firecracker's answers to the calls made here are a few
 * hundred bytes. */
#define FC_API_MAX_RESPONSE (64 * 1024)
/* Longest fault_message kept for an error (the rest is cut). */
#define FC_API_MAX_FAULT 512

struct fc_api_response {
    int status;    /* HTTP status code */
    char *body;    /* NUL-terminated; NULL when the response had none */
    size_t body_len;
};
void fc_api_response_release(struct fc_api_response *r);

/* Copies the fault_message of a JSON error body ({"fault_message": "..."})
 * into out, printable ASCII only (others become '?'); "" when there is none. */
void fc_api_fault_message(const struct fc_api_response *resp, char *out, size_t size);

/* Sends one request on a connected stream socket and reads its response,
 * all within timeout_ms. body may be NULL (no body). */
int fc_api_exchange(int fd, const char *method, const char *path, const char *body,
                    unsigned timeout_ms, struct fc_api_response *out, struct error *err);

/* Connects to the API socket at sock_path, PUTs body (JSON) to path and
 * checks the answer: a 2xx status succeeds; anything else fails with
 * Firecracker's fault_message (from a JSON body {"fault_message": ...}) in err. */
int fc_api_put(const char *sock_path, const char *path, const char *body, unsigned timeout_ms,
               struct error *err);

/* The same with another method (PATCH /vm). */
int fc_api_send(const char *sock_path, const char *method, const char *path, const char *body,
                unsigned timeout_ms, struct error *err);

/* The same on the caller's libevent loop: connects at once (a Unix connect
 * completes or fails at once: ERR_UNAVAILABLE, with errno in err, when
 * nothing listens yet) and returns; done is called once, from the loop,
 * with NULL on a 2xx answer, else the error (Firecracker's refusal with
 * its fault_message, the transport's, or the deadline timeout_ms after the
 * start). done may free the call; fc_api_call_free cancels one in flight
 * (done is not called then). */
struct fc_api_call;
struct event_base;
typedef void (*fc_api_done_fn)(void *ctx, const struct error *err);
int fc_api_call_start(struct event_base *base, const char *sock_path, const char *method,
                      const char *path, const char *body, unsigned timeout_ms, fc_api_done_fn done,
                      void *ctx, struct fc_api_call **out, struct error *err);
void fc_api_call_free(struct fc_api_call *call);

/* Connects to a Unix stream socket, non-blocking; -1 with err on failure. */
int fc_api_connect(const char *sock_path, struct error *err);

#endif
