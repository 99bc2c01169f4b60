/* The libevent face: a URL, resolved and connected here, TLS for https,
 * redirects followed; one private event loop per exchange. */
#include "http/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/cleanup.h"

/* ------------------------------------------------------------------ TLS */

static SSL_CTX *tls_ctx;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_init(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The system store; SSL_CERT_FILE / SSL_CERT_DIR override it as usual. */
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        SSL_CTX_free(ctx);
        return;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    tls_ctx = ctx;
}

/* ------------------------------------------------------------------ one exchange */

struct exchange {
    struct event_base *base;
    struct bufferevent *bev;
    struct http_reader reader;
    bool connected;
};

static void exchange_fail(struct exchange *x, enum error_kind kind, const char *msg)
{
    http_reader_fail(&x->reader, kind, msg);
    event_base_loopbreak(x->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct exchange *x = arg;
    exchange_fail(x, ERR_DEADLINE_EXCEEDED, "the request did not finish before its deadline");
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct exchange *x = arg;
    struct http_reader *r = &x->reader;
    struct evbuffer *in = bufferevent_get_input(bev);
    /* parse straight out of the evbuffer's chains, no copy */
    while (!r->failed && !r->done && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            break;
        http_reader_feed(r, v.iov_base, v.iov_len);
        evbuffer_drain(in, v.iov_len);
    }
    if (r->failed || r->done)
        event_base_loopbreak(x->base);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct exchange *x = arg;
    struct http_reader *r = &x->reader;
    if (what & BEV_EVENT_CONNECTED) {
        x->connected = true;
        return;
    }
    if (r->done || r->failed)
        return;
    if (what & BEV_EVENT_EOF) {
        read_cb(bev, x);
        http_reader_eof(r);
        event_base_loopbreak(x->base);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        exchange_fail(x, ERR_DEADLINE_EXCEEDED, "timed out waiting for the server");
        r->resp->truncated = r->resp->status != 0;
        return;
    }
    char msg[512];
    unsigned long ssl_err = bufferevent_get_openssl_error(bev);
    int sock_err = EVUTIL_SOCKET_ERROR();
    if (ssl_err != 0) {
        char e[256];
        ERR_error_string_n(ssl_err, e, sizeof(e));
        snprintf(msg, sizeof(msg), "TLS error: %s", e);
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        if (vr != X509_V_OK)
            snprintf(msg, sizeof(msg), "TLS certificate verification failed: %s",
                     X509_verify_cert_error_string(vr));
    } else {
        snprintf(msg, sizeof(msg), "%s: %s", x->connected ? "connection error" : "cannot connect",
                 sock_err ? strerror(sock_err) : "unknown error");
    }
    r->resp->truncated = r->resp->status != 0;
    exchange_fail(x, ERR_UNAVAILABLE, msg);
}

/* One request on one connection to one address. */
static int exchange_run(const struct http_request *req, const struct http_url *u,
                        const struct sockaddr *sa, socklen_t salen, const char *const *headers,
                        size_t header_count, const char *method, bool send_body,
                        struct http_response *resp, bool *connected, struct error *err)
{
    struct exchange x = {0};
    http_reader_init(&x.reader, req, resp, strcmp(method, "HEAD") == 0, err);
    *connected = false;
    int ret = -1;
    SSL *ssl = NULL;
    struct event *deadline = NULL;
    char *head = NULL;
    x.base = event_base_new();
    if (x.base == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "cannot create an event loop");
    if (u->tls) {
        pthread_once(&tls_once, tls_init);
        if (tls_ctx == NULL) {
            error_set(err, ERR_INTERNAL, "cannot set up TLS with the system certificate store");
            goto out;
        }
        ssl = SSL_new(tls_ctx);
        if (ssl == NULL || SSL_set_tlsext_host_name(ssl, u->host) != 1) {
            error_set(err, ERR_INTERNAL, "cannot create a TLS session");
            goto out;
        }
        struct in6_addr tmp6;
        struct in_addr tmp4;
        if (inet_pton(AF_INET, u->host, &tmp4) == 1 || inet_pton(AF_INET6, u->host, &tmp6) == 1) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host);
        } else if (SSL_set1_host(ssl, u->host) != 1) {
            error_set(err, ERR_INTERNAL, "cannot set the TLS host name");
            goto out;
        }
        x.bev = bufferevent_openssl_socket_new(x.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                               BEV_OPT_CLOSE_ON_FREE);
        if (x.bev != NULL)
            ssl = NULL; /* owned by the bufferevent now */
    } else {
        x.bev = bufferevent_socket_new(x.base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (x.bev == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "cannot create a connection");
        goto out;
    }
    bufferevent_setcb(x.bev, read_cb, NULL, event_cb, &x);
    if (req->timeout_ms != HTTP_NO_TIMEOUT) {
        unsigned ms = req->timeout_ms ? req->timeout_ms : 30000;
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
        bufferevent_set_timeouts(x.bev, &tv, &tv);
    }
    /* libevent reads 16 KiB per callback by default; blobs are tens of MB */
    bufferevent_set_max_single_read(x.bev, 1 << 20);

    struct evbuffer *out = bufferevent_get_output(x.bev);
    size_t head_len = 0;
    if (http_head_build(req, u, method, headers, header_count, send_body, &head, &head_len, err) < 0)
        goto out;
    evbuffer_add(out, head, head_len);
    if (send_body && req->body_fd >= 0) {
        if (req->body_fd_len > 0) {
            int fd = dup(req->body_fd);
            if (fd < 0 || evbuffer_add_file(out, fd, (ev_off_t)req->body_offset,
                                            (ev_off_t)req->body_fd_len) < 0) {
                error_set_errno(err, ERR_INTERNAL, "cannot queue the request body");
                goto out;
            }
        }
    } else if (send_body && req->body != NULL) {
        evbuffer_add(out, req->body, req->body_len);
    }

    if (req->deadline_ms) {
        uint64_t now = http_now_ms();
        if (now >= req->deadline_ms) {
            error_set(err, ERR_DEADLINE_EXCEEDED, "the request did not finish before its deadline");
            goto out;
        }
        uint64_t left = req->deadline_ms - now;
        struct timeval dt = {.tv_sec = (time_t)(left / 1000), .tv_usec = (suseconds_t)(left % 1000) * 1000};
        deadline = evtimer_new(x.base, on_deadline, &x);
        if (deadline == NULL || evtimer_add(deadline, &dt) < 0) {
            error_set(err, ERR_RESOURCE_EXHAUSTED, "cannot set the request's deadline");
            goto out;
        }
    }
    bufferevent_enable(x.bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(x.bev, sa, (int)salen) < 0) {
        error_set_errno(err, ERR_UNAVAILABLE, "cannot connect to %s:%s", u->host, u->port);
        goto out;
    }
    event_base_dispatch(x.base);
    *connected = x.connected;
    if (x.reader.failed)
        goto out;
    if (!x.reader.done) {
        error_set(err, ERR_UNAVAILABLE, "connection ended without a response");
        goto out;
    }
    ret = 0;
out:
    free(head);
    *connected = *connected || x.connected;
    if (deadline != NULL)
        event_free(deadline);
    http_reader_release(&x.reader);
    if (x.bev != NULL)
        bufferevent_free(x.bev);
    if (ssl != NULL)
        SSL_free(ssl);
    event_base_free(x.base);
    return ret;
}

static bool same_origin(const struct http_url *a, const struct http_url *b)
{
    return a->tls == b->tls && strcasecmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0;
}

int http_request_run(const struct http_request *req, struct http_response *resp,
                     struct error *err)
{
    memset(resp, 0, sizeof(*resp));
    if (http_headers_check(req, err) < 0)
        return -1;
    if (req->body_fd_chunked)
        return error_set(err, ERR_INVALID_ARGUMENT, "a chunked body needs http_fd_run");
    size_t hc = req->header_count;
    const char *headers[64];
    for (size_t i = 0; i < hc; i++)
        headers[i] = req->headers[i];
    int max_redirects = req->max_redirects < 0 ? 0
                        : req->max_redirects == 0 ? HTTP_MAX_REDIRECTS
                                                  : req->max_redirects;
    const char *method = req->method;
    bool send_body = true;
    cleanup_free char *url = strdup(req->url);
    if (url == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    struct http_url first = {0};
    if (http_url_split(url, &first, err) < 0)
        return -1;

    for (int hop = 0;; hop++) {
        if (req->deadline_ms && http_now_ms() >= req->deadline_ms) {
            http_url_release(&first);
            return error_set(err, ERR_DEADLINE_EXCEEDED,
                             "the request did not finish before its deadline");
        }
        struct http_url u;
        if (http_url_split(url, &u, err) < 0) {
            http_url_release(&first);
            return -1;
        }
        if (!u.tls && !req->allow_insecure_http && !http_host_is_loopback(u.host)) {
            http_url_release(&u);
            http_url_release(&first);
            return error_set(err, ERR_PERMISSION_DENIED,
                             "refusing plain http to %s (only loopback registries, or --insecure)",
                             u.host);
        }
        /* drop credentials once we leave the origin we were sent to */
        if (!same_origin(&u, &first)) {
            size_t k = 0;
            for (size_t i = 0; i < hc; i++)
                if (strncasecmp(headers[i], "Authorization:", 14) != 0)
                    headers[k++] = headers[i];
            hc = k;
        }
        struct evutil_addrinfo *ai = NULL;
        if (http_resolve_host(u.host, u.port, &ai, err) < 0) {
            http_url_release(&u);
            http_url_release(&first);
            return -1;
        }
        int ret = -1;
        for (struct evutil_addrinfo *a = ai; a != NULL; a = a->ai_next) {
            http_response_release(resp);
            bool connected = false;
            ret = exchange_run(req, &u, a->ai_addr, a->ai_addrlen, headers, hc, method, send_body,
                               resp, &connected, err);
            if (ret == 0 || connected)
                break; /* only an address that never connected is worth another try */
        }
        evutil_freeaddrinfo(ai);
        http_url_release(&u);
        if (ret < 0) {
            http_url_release(&first);
            return -1;
        }
        resp->url = strdup(url);
        int s = resp->status;
        const char *location = http_response_header(resp, "Location");
        bool redirect = (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) && location;
        if (!redirect)
            break;
        if (hop >= max_redirects) {
            http_url_release(&first);
            return error_set(err, ERR_UNAVAILABLE, "too many redirects (last to %.200s)", location);
        }
        char *next = NULL;
        if (http_resolve_url(url, location, &next, err) < 0) {
            http_url_release(&first);
            return -1;
        }
        free(url);
        url = next;
        if (s == 303 && strcmp(method, "HEAD") != 0) {
            method = "GET";
            send_body = false;
        }
    }
    http_url_release(&first);
    return 0;
}
