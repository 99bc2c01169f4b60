#include "image/http_client.h"

#include <arpa/inet.h>
#include <ctype.h>
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
#include <time.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/cleanup.h"

struct url_parts {
    bool tls;
    char host[256];
    char port[8];
    bool port_explicit;
    char *target; /* path + query, owned */
};

static void url_parts_release(struct url_parts *u)
{
    free(u->target);
    u->target = NULL;
}

static int url_split(const char *url, struct url_parts *out, struct error *err)
{
    struct http_parser_url u;
    memset(out, 0, sizeof(*out));
    http_parser_url_init(&u);
    size_t len = strlen(url);
    if (len == 0 || len > 8192 || http_parser_parse_url(url, len, 0, &u) != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad URL '%.200s'", url);
    if (!(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
        return error_set(err, ERR_INVALID_ARGUMENT, "URL without scheme or host: '%.200s'", url);
    if (u.field_set & (1 << UF_USERINFO))
        return error_set(err, ERR_INVALID_ARGUMENT, "URL with credentials refused: '%.200s'", url);
    const char *scheme = url + u.field_data[UF_SCHEMA].off;
    size_t scheme_len = u.field_data[UF_SCHEMA].len;
    if (scheme_len == 5 && strncasecmp(scheme, "https", 5) == 0)
        out->tls = true;
    else if (scheme_len == 4 && strncasecmp(scheme, "http", 4) == 0)
        out->tls = false;
    else
        return error_set(err, ERR_INVALID_ARGUMENT, "URL scheme must be http or https: '%.200s'", url);
    size_t host_len = u.field_data[UF_HOST].len;
    if (host_len == 0 || host_len >= sizeof(out->host))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad host in URL '%.200s'", url);
    memcpy(out->host, url + u.field_data[UF_HOST].off, host_len);
    out->host[host_len] = '\0';
    if (u.field_set & (1 << UF_PORT)) {
        if (u.port == 0)
            return error_set(err, ERR_INVALID_ARGUMENT, "bad port in URL '%.200s'", url);
        snprintf(out->port, sizeof(out->port), "%u", (unsigned)u.port);
        out->port_explicit = true;
    } else {
        snprintf(out->port, sizeof(out->port), "%s", out->tls ? "443" : "80");
    }
    const char *path = "/";
    size_t path_len = 1;
    if (u.field_set & (1 << UF_PATH)) {
        path = url + u.field_data[UF_PATH].off;
        path_len = u.field_data[UF_PATH].len;
    }
    size_t query_len = (u.field_set & (1 << UF_QUERY)) ? u.field_data[UF_QUERY].len : 0;
    out->target = malloc(path_len + query_len + 2);
    if (out->target == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    memcpy(out->target, path, path_len);
    size_t n = path_len;
    if (query_len > 0) {
        out->target[n++] = '?';
        memcpy(out->target + n, url + u.field_data[UF_QUERY].off, query_len);
        n += query_len;
    }
    out->target[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out->target[i];
        if (c <= 0x20 || c >= 0x7f) {
            url_parts_release(out);
            return error_set(err, ERR_INVALID_ARGUMENT, "URL has characters that need escaping");
        }
    }
    return 0;
}

bool http_host_is_loopback(const char *host)
{
    char buf[256];
    size_t len = strlen(host);
    if (len == 0 || len >= sizeof(buf))
        return false;
    if (host[0] == '[' && host[len - 1] == ']') {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
    } else {
        memcpy(buf, host, len + 1);
    }
    if (strcasecmp(buf, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, buf, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

char *http_query_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    return out;
}

int http_resolve_url(const char *base, const char *location, char **out, struct error *err)
{
    *out = NULL;
    size_t loc_len = strlen(location);
    if (loc_len == 0 || loc_len > 8192)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad redirect location");
    if (strncasecmp(location, "http://", 7) == 0 || strncasecmp(location, "https://", 8) == 0) {
        *out = strdup(location);
        return *out ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    struct url_parts b;
    if (url_split(base, &b, err) < 0)
        return -1;
    cleanup_free char *target = b.target;
    b.target = NULL;
    const char *scheme = b.tls ? "https" : "http";
    char authority[300];
    bool v6 = strchr(b.host, ':') != NULL;
    snprintf(authority, sizeof(authority), "%s%s%s%s%s", v6 ? "[" : "", b.host, v6 ? "]" : "",
             b.port_explicit ? ":" : "", b.port_explicit ? b.port : "");
    int n;
    if (location[0] == '/' && location[1] == '/') {
        n = asprintf(out, "%s:%s", scheme, location);
    } else if (location[0] == '/') {
        n = asprintf(out, "%s://%s%s", scheme, authority, location);
    } else {
        /* relative to the base path's folder; the query is not part of it */
        char *q = strchr(target, '?');
        if (q != NULL)
            *q = '\0';
        char *slash = strrchr(target, '/');
        size_t keep = slash ? (size_t)(slash - target) + 1 : 0;
        n = asprintf(out, "%s://%s%.*s%s", scheme, authority, (int)keep, target, location);
    }
    if (n < 0) {
        *out = NULL;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    return 0;
}

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
    http_parser parser;
    const struct http_request *req;
    struct http_response *resp;
    struct error *err;
    bool failed;
    bool done;
    bool connected;
    bool head;
    bool to_sink;
    bool in_value;
    size_t header_bytes;
    char *field;
    size_t field_len;
    char *value;
    size_t value_len;
    size_t body_cap;
    size_t body_limit;
    bool body_limit_is_error;
};

static int exchange_fail(struct exchange *x, enum error_kind kind, const char *msg)
{
    if (!x->failed) {
        x->failed = true;
        error_set(x->err, kind, "%s", msg);
    }
    event_base_loopbreak(x->base);
    return -1;
}

uint64_t http_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct exchange *x = arg;
    exchange_fail(x, ERR_DEADLINE_EXCEEDED, "the request did not finish before its deadline");
}

static int append(char **buf, size_t *len, const char *at, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    if (p == NULL)
        return -1;
    memcpy(p + *len, at, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return 0;
}

static int flush_header(struct exchange *x)
{
    if (x->field == NULL)
        return 0;
    struct http_response *r = x->resp;
    if (r->header_count >= HTTP_MAX_HEADERS) {
        exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "response has too many headers");
        return -1;
    }
    r->headers[r->header_count].name = x->field;
    r->headers[r->header_count].value = x->value ? x->value : strdup("");
    if (r->headers[r->header_count].value == NULL) {
        exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "out of memory");
        return -1;
    }
    r->header_count++;
    x->field = x->value = NULL;
    x->field_len = x->value_len = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct exchange *x = p->data;
    if ((x->header_bytes += n) > HTTP_MAX_HEADER_BYTES)
        return exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "response headers too large");
    if (x->in_value) {
        if (flush_header(x) < 0)
            return -1;
        x->in_value = false;
    }
    if (append(&x->field, &x->field_len, at, n) < 0)
        return exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct exchange *x = p->data;
    if ((x->header_bytes += n) > HTTP_MAX_HEADER_BYTES)
        return exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "response headers too large");
    x->in_value = true;
    if (append(&x->value, &x->value_len, at, n) < 0)
        return exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct exchange *x = p->data;
    if (flush_header(x) < 0)
        return -1;
    x->resp->status = (int)p->status_code;
    bool ok = p->status_code >= 200 && p->status_code < 300;
    x->to_sink = ok && x->req->on_body != NULL;
    if (x->to_sink || !ok) {
        x->body_limit = HTTP_ERROR_BODY_MAX;
        x->body_limit_is_error = false;
    } else {
        x->body_limit = x->req->max_body ? x->req->max_body : (1u << 20);
        x->body_limit_is_error = true;
        /* refuse a declared oversize body before reading any of it */
        if ((p->flags & F_CONTENTLENGTH) && p->content_length > x->body_limit && !x->head) {
            char msg[160];
            snprintf(msg, sizeof(msg), "response body of %llu bytes is over the limit of %zu",
                     (unsigned long long)p->content_length, x->body_limit);
            return exchange_fail(x, ERR_RESOURCE_EXHAUSTED, msg);
        }
    }
    if (ok && x->req->on_headers != NULL && !x->head) {
        if (x->req->on_headers(x->req->ctx, x->resp, x->err) < 0) {
            x->failed = true;
            event_base_loopbreak(x->base);
            return -1;
        }
    }
    /* 1 tells http-parser there is no body (HEAD) */
    return x->head ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct exchange *x = p->data;
    x->resp->body_bytes_seen += n;
    if (x->to_sink) {
        if (x->req->on_body(x->req->ctx, at, n, x->err) < 0) {
            x->failed = true;
            event_base_loopbreak(x->base);
            return -1;
        }
        return 0;
    }
    size_t room = x->body_limit > x->resp->body_len ? x->body_limit - x->resp->body_len : 0;
    if (n > room) {
        if (x->body_limit_is_error)
            return exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "response body is over the size limit");
        n = room; /* error bodies: keep the start only */
    }
    if (n == 0)
        return 0;
    if (append(&x->resp->body, &x->resp->body_len, at, n) < 0)
        return exchange_fail(x, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct exchange *x = p->data;
    x->done = true;
    event_base_loopbreak(x->base);
    /* stop parsing: anything after the response is not ours */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void feed(struct exchange *x, const char *data, size_t len)
{
    size_t used = http_parser_execute(&x->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&x->parser);
    if (x->failed || x->done)
        return;
    if (e != HPE_OK || used != len) {
        char msg[200];
        snprintf(msg, sizeof(msg), "bad HTTP response: %s", http_errno_description(e));
        exchange_fail(x, ERR_UNAVAILABLE, msg);
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct exchange *x = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    /* parse straight out of the evbuffer's chains, no copy */
    while (!x->failed && !x->done && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            break;
        feed(x, v.iov_base, v.iov_len);
        evbuffer_drain(in, v.iov_len);
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct exchange *x = arg;
    if (what & BEV_EVENT_CONNECTED) {
        x->connected = true;
        return;
    }
    if (x->done || x->failed)
        return;
    if (what & BEV_EVENT_EOF) {
        read_cb(bev, x);
        if (x->done || x->failed)
            return;
        /* tells http-parser the stream ended: completes a read-to-close body */
        http_parser_execute(&x->parser, &parser_settings, NULL, 0);
        if (x->done || x->failed)
            return;
        x->resp->truncated = true;
        exchange_fail(x, ERR_UNAVAILABLE, "connection closed before the response was complete");
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        exchange_fail(x, ERR_DEADLINE_EXCEEDED, "timed out waiting for the server");
        x->resp->truncated = x->resp->status != 0;
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
    x->resp->truncated = x->resp->status != 0;
    exchange_fail(x, ERR_UNAVAILABLE, msg);
}

static void response_clear(struct http_response *r)
{
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->body);
    free(r->url);
    memset(r, 0, sizeof(*r));
}

void http_response_release(struct http_response *r)
{
    response_clear(r);
}

const char *http_response_header(const struct http_response *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static bool header_line_ok(const char *h)
{
    for (const char *p = h; *p; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return strchr(h, ':') != NULL;
}

/* One request on one connection to one address. */
static int exchange_run(const struct http_request *req, const struct url_parts *u,
                        const struct sockaddr *sa, socklen_t salen, const char *const *headers,
                        size_t header_count, const char *method, bool send_body,
                        struct http_response *resp, bool *connected, struct error *err)
{
    struct exchange x = {.req = req, .resp = resp, .err = err};
    x.head = strcmp(method, "HEAD") == 0;
    *connected = false;
    int ret = -1;
    SSL *ssl = NULL;
    struct event *deadline = NULL;
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
    http_parser_init(&x.parser, HTTP_RESPONSE);
    x.parser.data = &x;
    bufferevent_setcb(x.bev, read_cb, NULL, event_cb, &x);
    unsigned ms = req->timeout_ms ? req->timeout_ms : 30000;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    bufferevent_set_timeouts(x.bev, &tv, &tv);
    /* libevent reads 16 KiB per callback by default; blobs are tens of MB */
    bufferevent_set_max_single_read(x.bev, 1 << 20);

    struct evbuffer *out = bufferevent_get_output(x.bev);
    bool v6 = strchr(u->host, ':') != NULL;
    evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n", method, u->target,
                        v6 ? "[" : "", u->host, v6 ? "]" : "", u->port_explicit ? ":" : "",
                        u->port_explicit ? u->port : "");
    evbuffer_add_printf(out, "User-Agent: enclave\r\nConnection: close\r\n");
    for (size_t i = 0; i < header_count; i++)
        evbuffer_add_printf(out, "%s\r\n", headers[i]);
    if (send_body && req->body_fd >= 0) {
        evbuffer_add_printf(out, "Content-Length: %llu\r\n\r\n",
                            (unsigned long long)req->body_fd_len);
        if (req->body_fd_len > 0) {
            int fd = dup(req->body_fd);
            if (fd < 0 || evbuffer_add_file(out, fd, (ev_off_t)req->body_offset,
                                            (ev_off_t)req->body_fd_len) < 0) {
                error_set_errno(err, ERR_INTERNAL, "cannot queue the request body");
                goto out;
            }
        }
    } else if (send_body && req->body != NULL) {
        evbuffer_add_printf(out, "Content-Length: %zu\r\n\r\n", req->body_len);
        evbuffer_add(out, req->body, req->body_len);
    } else if (strcmp(method, "GET") == 0 || x.head) {
        evbuffer_add_printf(out, "\r\n");
    } else {
        evbuffer_add_printf(out, "Content-Length: 0\r\n\r\n");
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
    if (x.failed)
        goto out;
    if (!x.done) {
        error_set(err, ERR_UNAVAILABLE, "connection ended without a response");
        goto out;
    }
    ret = 0;
out:
    *connected = *connected || x.connected;
    if (deadline != NULL)
        event_free(deadline);
    free(x.field);
    free(x.value);
    if (x.bev != NULL)
        bufferevent_free(x.bev);
    if (ssl != NULL)
        SSL_free(ssl);
    event_base_free(x.base);
    return ret;
}

static bool same_origin(const struct url_parts *a, const struct url_parts *b)
{
    return a->tls == b->tls && strcasecmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0;
}

int http_request_run(const struct http_request *req, struct http_response *resp,
                     struct error *err)
{
    memset(resp, 0, sizeof(*resp));
    size_t hc = req->header_count;
    if (hc > 64)
        return error_set(err, ERR_INVALID_ARGUMENT, "too many request headers");
    const char *headers[64];
    for (size_t i = 0; i < hc; i++) {
        if (!header_line_ok(req->headers[i]))
            return error_set(err, ERR_INVALID_ARGUMENT, "bad request header");
        headers[i] = req->headers[i];
    }
    int max_redirects = req->max_redirects < 0 ? 0
                        : req->max_redirects == 0 ? HTTP_MAX_REDIRECTS
                                                  : req->max_redirects;
    const char *method = req->method;
    bool send_body = true;
    cleanup_free char *url = strdup(req->url);
    if (url == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    struct url_parts first = {0};
    if (url_split(url, &first, err) < 0)
        return -1;

    for (int hop = 0;; hop++) {
        if (req->deadline_ms && http_now_ms() >= req->deadline_ms) {
            url_parts_release(&first);
            return error_set(err, ERR_DEADLINE_EXCEEDED,
                             "the request did not finish before its deadline");
        }
        struct url_parts u;
        if (url_split(url, &u, err) < 0) {
            url_parts_release(&first);
            return -1;
        }
        if (!u.tls && !req->allow_insecure_http && !http_host_is_loopback(u.host)) {
            url_parts_release(&u);
            url_parts_release(&first);
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
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *ai = NULL;
        char host[256];
        snprintf(host, sizeof(host), "%s", u.host);
        int gai = getaddrinfo(host, u.port, &hints, &ai);
        if (gai != 0) {
            error_set(err, ERR_UNAVAILABLE, "cannot resolve %s: %s", u.host, gai_strerror(gai));
            url_parts_release(&u);
            url_parts_release(&first);
            return -1;
        }
        int ret = -1;
        for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
            response_clear(resp);
            bool connected = false;
            ret = exchange_run(req, &u, a->ai_addr, a->ai_addrlen, headers, hc, method, send_body,
                               resp, &connected, err);
            if (ret == 0 || connected)
                break; /* only an address that never connected is worth another try */
        }
        freeaddrinfo(ai);
        url_parts_release(&u);
        if (ret < 0) {
            url_parts_release(&first);
            return -1;
        }
        resp->url = strdup(url);
        int s = resp->status;
        const char *location = http_response_header(resp, "Location");
        bool redirect = (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) && location;
        if (!redirect)
            break;
        if (hop >= max_redirects) {
            url_parts_release(&first);
            return error_set(err, ERR_UNAVAILABLE, "too many redirects (last to %.200s)", location);
        }
        char *next = NULL;
        if (http_resolve_url(url, location, &next, err) < 0) {
            url_parts_release(&first);
            return -1;
        }
        free(url);
        url = next;
        if (s == 303 && strcmp(method, "HEAD") != 0) {
            method = "GET";
            send_body = false;
        }
    }
    url_parts_release(&first);
    return 0;
}
