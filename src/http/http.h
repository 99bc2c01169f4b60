/* The HTTP/1.1 client: one response parser (http-parser, src/http/reader.c)
 * behind two faces.
 *
 *  - http_request_run: a URL, over a private libevent loop; TLS through
 *    bufferevent_openssl with certificate and host name verification against
 *    the system store, bounded redirects (the OCI registry client).
 *  - http_fd_run: blocking, on a stream socket the caller connected (TCP or a
 *    Unix socket; no TLS, no redirects), with a cancel flag a signal handler
 *    may set (the CLI talking to the daemon, the Firecracker driver talking to
 *    Firecracker's API socket).
 *  - http_call_start: the same on the caller's libevent loop, without
 *    blocking it: the exchange advances as the socket becomes ready, and a
 *    callback gets the result (the Firecracker driver's start and snapshots).
 *
 * Both treat the peer as hostile: bounded headers and bodies, a whole-request
 * deadline besides the inactivity timeout, nothing after the response read.
 * One request per connection (Connection: close). */
#ifndef ENCLAVE_HTTP_HTTP_H
#define ENCLAVE_HTTP_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/util.h>

#include "common/error.h"

#define HTTP_MAX_HEADERS 128
#define HTTP_MAX_HEADER_BYTES (64u << 10)
#define HTTP_ERROR_BODY_MAX (16u << 10)
#define HTTP_MAX_REDIRECTS 5
/* http_request.timeout_ms: no inactivity timeout at all (a stream that may
 * stay quiet for long; deadline_ms still applies). */
#define HTTP_NO_TIMEOUT UINT32_MAX

struct http_header {
    char *name;
    char *value;
};

struct http_response {
    int status;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t header_count;
    char *body; /* NUL-terminated; the whole body, or (with a sink and a 2xx
                   status) nothing, or (non-2xx) its first max_error_body bytes */
    size_t body_len;
    char *url;        /* the URL that answered, after redirects */
    bool truncated;   /* the peer closed before the whole body arrived */
    uint64_t body_bytes_seen; /* body bytes received, whoever got them */
};

/* Called for a 2xx response's body, in order. Return <0 (err filled) to stop. */
typedef int (*http_body_fn)(void *ctx, const char *data, size_t len, struct error *err);
/* Called once a 2xx response's headers are in, before any body byte. */
typedef int (*http_headers_fn)(void *ctx, const struct http_response *resp, struct error *err);

struct http_request {
    const char *method;
    /* http[s]://HOST[:PORT]/TARGET: where to connect (http_request_run), and
     * always the request target and the Host header. */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t header_count;
    const void *body; /* body from memory, or ... */
    size_t body_len;
    int body_fd;      /* ... from a file when >= 0 (not consumed, not closed) */
    uint64_t body_offset; /* http_request_run: where in body_fd the body starts */
    uint64_t body_fd_len;
    /* http_fd_run only: body_fd is read from its current position (a pipe
     * works) until EOF and sent chunked; body_fd_len is ignored. Without it,
     * body_fd must yield exactly body_fd_len bytes. */
    bool body_fd_chunked;
    size_t max_body;  /* buffered 2xx body limit (no sink), over it an error; 0 = 1 MiB */
    size_t max_error_body; /* non-2xx bodies keep this much; 0 = HTTP_ERROR_BODY_MAX */
    bool error_body_strict; /* a longer non-2xx body fails (ERR_RESOURCE_EXHAUSTED)
                               instead of being cut */
    http_body_fn on_body;
    http_headers_fn on_headers;
    void *ctx;
    int max_redirects; /* <0: none; 0: HTTP_MAX_REDIRECTS (http_request_run only) */
    unsigned timeout_ms; /* inactivity; 0 = 30 s; HTTP_NO_TIMEOUT = none */
    /* When the whole request must be over, redirects included, on the
     * http_now_ms() clock; 0 = no deadline. A peer that sends a byte now and
     * then never trips the inactivity timeout: this ends it. */
    uint64_t deadline_ms;
    bool allow_insecure_http; /* http:// to a host that is not loopback */
    /* http_fd_run only: when *cancel becomes nonzero (a signal handler may
     * set it), the call ends within a second with ERR_CANCELED. */
    const volatile sig_atomic_t *cancel;
};

/* Runs the request (following redirects), fills resp (release it with
 * http_response_release, also after a failure). Fails for transport errors
 * only: an HTTP error status is a successful exchange. A redirect to another
 * host, port or scheme drops Authorization headers. */
int http_request_run(const struct http_request *req, struct http_response *resp,
                     struct error *err);
/* One request on fd, a connected stream socket (not closed here). The same
 * contract as http_request_run without connecting, TLS or redirects. When the
 * peer stops reading the body and answers early, that answer is the result. */
int http_fd_run(int fd, const struct http_request *req, struct http_response *resp,
                struct error *err);
void http_response_release(struct http_response *resp);

/* One request on fd, a connected non-blocking stream socket (not closed
 * here), on the caller's loop. What the socket takes at once is sent before
 * http_call_start returns, the rest from the loop. req is copied (it need not outlive the call);
 * the body comes from memory (body_fd, on_body, on_headers and cancel are
 * refused) and the response is buffered within req's limits. done is called
 * once, from the loop, never from http_call_start: with the response (an
 * HTTP error status is a successful exchange; resp stays the call's) or
 * with the transport error, the deadline or the inactivity timeout. done may
 * free the call. http_call_free cancels a call in flight (done is not
 * called then). */
struct http_call;
struct event_base;
typedef void (*http_call_done_fn)(void *ctx, const struct http_response *resp,
                                  const struct error *err);
int http_call_start(struct event_base *base, int fd, const struct http_request *req,
                    http_call_done_fn done, void *ctx, struct http_call **out, struct error *err);
void http_call_free(struct http_call *call);
/* Case-insensitive header lookup; the first match or NULL. */
const char *http_response_header(const struct http_response *resp, const char *name);

/* The addresses of host (a name or an IP literal) for port, for a stream
 * socket, from /etc/hosts and the name servers of /etc/resolv.conf through
 * libevent's DNS client, never the C library's NSS modules. Free *out with
 * evutil_freeaddrinfo. ERR_UNAVAILABLE when it does not resolve. */
int http_resolve_host(const char *host, const char *port, struct evutil_addrinfo **out,
                      struct error *err);

/* Monotonic milliseconds, the clock of http_request.deadline_ms. */
uint64_t http_now_ms(void);

/* True for localhost, 127.0.0.0/8 and ::1 (with or without brackets). */
bool http_host_is_loopback(const char *host);
/* Resolves a Location value against the URL it came from. Returns a new string. */
int http_resolve_url(const char *base, const char *location, char **out, struct error *err);
/* Percent-encodes s for a query component into a new string. */
char *http_query_escape(const char *s);

#endif
