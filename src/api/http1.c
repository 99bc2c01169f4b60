/* HTTP/1.1: plain routes and Connect unary RPCs, parsed with http-parser.
 *
 * One request at a time per connection: when a request is complete the parser
 * is paused, and pipelined bytes wait in the input buffer (bounded by the read
 * watermark) until the reply to the one before is written. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>

#include <openssl/crypto.h>

#include "api/internal.h"
#include "api/json_proto.h"
#include "common/log.h"

/* Stop parsing ahead while this much reply data waits for the client. */
#define OUTPUT_PAUSE_BYTES (256u << 10)
#define HEADER_NAME_MAX 64
#define HEADER_VALUE_MAX 256

enum h1_state {
    H1_IDLE,    /* between requests */
    H1_READING, /* inside a request */
    H1_READY,   /* a complete request, parser paused */
    H1_WAITING, /* a handler has the request */
    H1_STREAMING, /* the connection belongs to a stream (stream.c) */
    H1_BODY,      /* a stream_body route reads its request body */
    H1_ROUTE_WAITING, /* an async route holds the complete request */
};

/* A streamed request body is handed over in pieces of at most this. */
#define BODY_CHUNK (64u << 10)

/* The headers this side looks at; others are counted against the limit and dropped. */
#define H1_HEADERS(X)                                       \
    X(HDR_CONTENT_TYPE, "content-type")                     \
    X(HDR_CONTENT_ENCODING, "content-encoding")             \
    X(HDR_CONNECT_TIMEOUT, "connect-timeout-ms")            \
    X(HDR_CONNECT_VERSION, "connect-protocol-version")      \
    X(HDR_EXPECT, "expect")                                 \
    X(HDR_LAST_EVENT_ID, "last-event-id")                   \
    X(HDR_UPGRADE, "upgrade")                               \
    X(HDR_CONNECTION, "connection")                         \
    X(HDR_WS_KEY, "sec-websocket-key")                      \
    X(HDR_WS_VERSION, "sec-websocket-version")              \
    X(HDR_RANGE, "range")                                   \
    X(HDR_IF_NONE_MATCH, "if-none-match")                   \
    X(HDR_HOST, "host")                                     \
    X(HDR_ORIGIN, "origin")                                 \
    X(HDR_SEC_FETCH_SITE, "sec-fetch-site")                 \
    X(HDR_AUTHORIZATION, "authorization")

enum h1_header {
#define X(e, name) e,
    H1_HEADERS(X)
#undef X
    HDR_COUNT,
    HDR_OTHER = HDR_COUNT,
};

static const char *const h1_header_names[] = {
#define X(e, name) name,
    H1_HEADERS(X)
#undef X
};

struct http1_conn {
    http_parser parser;
    enum h1_state state;
    uint64_t request_start_ms;
    size_t header_bytes;
    char *url;
    size_t url_len;
    /* Header being parsed. */
    char name[HEADER_NAME_MAX + 1];
    size_t name_len;
    bool name_too_long;
    bool in_value;
    char value[API_COOKIE_MAX + 1]; /* the longest value kept is a Cookie */
    size_t value_len;
    bool value_too_long;
    /* Headers kept. */
    char headers[HDR_COUNT][HEADER_VALUE_MAX + 1];
    bool have[HDR_COUNT];
    bool header_too_long[HDR_COUNT];
    char cookie[API_COOKIE_MAX + 1];
    bool have_cookie;
    bool cookie_bad; /* repeated or too long */
    enum api_principal principal; /* of the request being read or served */
    struct evbuffer *body;
    bool keep_alive;
    unsigned method;
    bool connect_path; /* the path names a known RPC: errors take Connect's form */
    /* An error found while parsing, answered at once, then the connection closes. */
    int fail_status;
    struct api_call *call;
    bool peer_eof;
    bool in_process;
    struct api_stream *stream; /* H1_STREAMING */
    /* A route with a streamed body or an async reply. */
    const struct api_route *body_route; /* stream_body route found at the headers */
    struct api_exchange *exchange;      /* H1_BODY, H1_ROUTE_WAITING */
    char path[1024];
    uint64_t body_read;
    struct event *resume; /* a paused body resumes from here */
};

static void process(struct api_conn *conn);
static void stream_head(struct api_conn *conn, struct api_call *call);

static const char *status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}

/* Writes one response. extra_headers: complete "Name: value\r\n" lines, or NULL. */
static void write_response(struct api_conn *conn, int status, const char *content_type,
                           const char *extra_headers, const void *body, size_t len, bool close)
{
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, status_text(status));
    if (content_type != NULL)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
    evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
    if (extra_headers != NULL)
        evbuffer_add(out, extra_headers, strlen(extra_headers));
    if (close)
        evbuffer_add_printf(out, "Connection: close\r\n");
    evbuffer_add(out, "\r\n", 2);
    if (len > 0)
        evbuffer_add(out, body, len);
}

static void write_connect_error_status(struct api_conn *conn, const struct error *err, int status,
                                       bool close)
{
    json_t *obj = json_pack("{s:s, s:s}", "code", error_kind_connect_name(err->kind), "message",
                            err->message);
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    /* A message that is not UTF-8 cannot go into JSON: send the code alone. */
    if (text == NULL) {
        obj = json_pack("{s:s}", "code", error_kind_connect_name(err->kind));
        text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
        json_decref(obj);
    }
    const char *body = text != NULL ? text : "{\"code\":\"internal\"}";
    write_response(conn, status, "application/json", NULL, body, strlen(body), close);
    free(text);
}

static void write_connect_error(struct api_conn *conn, const struct error *err, bool close)
{
    write_connect_error_status(conn, err, error_kind_http_status(err->kind), close);
}

static void write_plain(struct api_conn *conn, int status, const char *extra, const char *text,
                        bool close)
{
    write_response(conn, status, "text/plain; charset=utf-8", extra, text, strlen(text), close);
}

static void reset_request(struct http1_conn *h1)
{
    free(h1->url);
    h1->url = NULL;
    h1->url_len = 0;
    h1->header_bytes = 0;
    h1->name_len = 0;
    h1->name_too_long = false;
    h1->in_value = false;
    h1->value_len = 0;
    h1->value_too_long = false;
    memset(h1->have, 0, sizeof(h1->have));
    memset(h1->header_too_long, 0, sizeof(h1->header_too_long));
    h1->have_cookie = false;
    h1->cookie_bad = false;
    h1->cookie[0] = '\0';
    h1->principal = API_PRINCIPAL_NONE;
    evbuffer_drain(h1->body, evbuffer_get_length(h1->body));
    h1->connect_path = false;
}

/* Answers a request that failed while being read, then closes the connection:
 * what follows on the wire cannot be trusted to be a request boundary. */
static void fail_now(struct api_conn *conn, int status, enum error_kind kind, const char *msg)
{
    struct http1_conn *h1 = conn->h1;
    if (h1->connect_path && kind != ERR_OK) {
        struct error err;
        error_set(&err, kind, "%s", msg);
        write_connect_error(conn, &err, true);
    } else {
        write_plain(conn, status, NULL, msg, true);
    }
    h1->fail_status = status;
    api_conn_close_soon(conn);
}

/* ------------------------------------------------------------------ parser callbacks */

static struct api_conn *conn_of(http_parser *p)
{
    return p->data;
}

static int count_header_bytes(struct api_conn *conn, size_t n)
{
    struct http1_conn *h1 = conn->h1;
    h1->header_bytes += n;
    if (h1->header_bytes > conn->server->max_header_bytes) {
        fail_now(conn, 431, ERR_OK, "request headers too large\n");
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct api_conn *conn = conn_of(p);
    struct http1_conn *h1 = conn->h1;
    reset_request(h1);
    h1->state = H1_READING;
    h1->request_start_ms = api_now_ms();
    api_conn_set_timer(conn, conn->server->header_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = conn_of(p);
    struct http1_conn *h1 = conn->h1;
    if (count_header_bytes(conn, len) < 0)
        return -1;
    char *grown = realloc(h1->url, h1->url_len + len + 1);
    if (grown == NULL) {
        fail_now(conn, 503, ERR_OK, "out of memory\n");
        return -1;
    }
    memcpy(grown + h1->url_len, at, len);
    h1->url = grown;
    h1->url_len += len;
    h1->url[h1->url_len] = '\0';
    return 0;
}

static void commit_header(struct http1_conn *h1)
{
    if (!h1->in_value)
        return;
    h1->name[h1->name_len] = '\0';
    h1->value[h1->value_len] = '\0';
    if (!h1->name_too_long && strcasecmp(h1->name, "cookie") == 0) {
        if (h1->have_cookie || h1->value_too_long)
            h1->cookie_bad = true;
        h1->have_cookie = true;
        memcpy(h1->cookie, h1->value, h1->value_len + 1);
    }
    for (int i = 0; i < HDR_COUNT && !h1->name_too_long; i++) {
        if (strcasecmp(h1->name, h1_header_names[i]) != 0)
            continue;
        /* Repeated headers we act on are refused rather than guessed at. */
        if (h1->have[i])
            h1->header_too_long[i] = true;
        h1->have[i] = true;
        if (h1->value_too_long || h1->value_len > HEADER_VALUE_MAX)
            h1->header_too_long[i] = true;
        /* Trim optional whitespace at the end (http-parser drops the leading). */
        size_t n = h1->value_len < HEADER_VALUE_MAX ? h1->value_len : HEADER_VALUE_MAX;
        while (n > 0 && (h1->value[n - 1] == ' ' || h1->value[n - 1] == '\t'))
            n--;
        memcpy(h1->headers[i], h1->value, n);
        h1->headers[i][n] = '\0';
    }
    h1->name_len = 0;
    h1->name_too_long = false;
    h1->value_len = 0;
    h1->value_too_long = false;
    h1->in_value = false;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = conn_of(p);
    struct http1_conn *h1 = conn->h1;
    if (count_header_bytes(conn, len) < 0)
        return -1;
    commit_header(h1);
    if (h1->name_len + len > HEADER_NAME_MAX) {
        h1->name_too_long = true;
        return 0;
    }
    memcpy(h1->name + h1->name_len, at, len);
    h1->name_len += len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = conn_of(p);
    struct http1_conn *h1 = conn->h1;
    if (count_header_bytes(conn, len) < 0)
        return -1;
    h1->in_value = true;
    if (h1->value_len + len > API_COOKIE_MAX) {
        h1->value_too_long = true;
        return 0;
    }
    memcpy(h1->value + h1->value_len, at, len);
    h1->value_len += len;
    return 0;
}

static bool path_is_rpc(struct api_conn *conn, const char *url)
{
    const struct api_service *svc;
    char path[512];
    size_t n = strcspn(url, "?");
    if (n >= sizeof(path))
        return false;
    memcpy(path, url, n);
    path[n] = '\0';
    return api_server_find_method(conn->server, path, &svc) != NULL;
}

/* A kept header for admission: NULL when absent, api_header_bad when it
 * cannot be trusted (repeated or too long). */
static const char *admit_header(struct http1_conn *h1, enum h1_header i)
{
    if (!h1->have[i])
        return NULL;
    return h1->header_too_long[i] ? api_header_bad : h1->headers[i];
}

/* Admission (auth.c) once the headers are in, before the body is read or
 * anything runs: a refusal is answered and the connection closed. */
static int admit(struct api_conn *conn, http_parser *p)
{
    struct http1_conn *h1 = conn->h1;
    char path[256] = "";
    if (h1->url != NULL) {
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(h1->url, h1->url_len, 0, &u) == 0 && (u.field_set & (1 << UF_PATH)))
            snprintf(path, sizeof(path), "%.*s", (int)u.field_data[UF_PATH].len,
                     h1->url + u.field_data[UF_PATH].off);
    }
    struct api_admit_request req = {
        .transport = "http",
        .method = http_method_str((enum http_method)p->method),
        .path = path,
        .host = admit_header(h1, HDR_HOST),
        .origin = admit_header(h1, HDR_ORIGIN),
        .fetch_site = admit_header(h1, HDR_SEC_FETCH_SITE),
        .authorization = admit_header(h1, HDR_AUTHORIZATION),
        .cookie = h1->have_cookie ? (h1->cookie_bad ? api_header_bad : h1->cookie) : NULL,
    };
    struct api_admit_result res;
    api_admit(conn, &req, &res);
    if (res.status != 0) {
        char msg[sizeof(res.message) + 2];
        snprintf(msg, sizeof(msg), "%s\n", res.message);
        fail_now(conn, res.status, res.kind, h1->connect_path ? res.message : msg);
        return -1;
    }
    h1->principal = res.principal;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct api_conn *conn = conn_of(p);
    struct http1_conn *h1 = conn->h1;
    struct api_server *server = conn->server;
    commit_header(h1);
    if (p->http_major != 1) {
        fail_now(conn, 505, ERR_OK, "only HTTP/1.x here (HTTP/2 needs prior knowledge)\n");
        return -1;
    }
    h1->connect_path = h1->url != NULL && path_is_rpc(conn, h1->url);
    if (admit(conn, p) < 0)
        return -1;
    h1->body_route = NULL;
    if (!h1->connect_path && h1->url != NULL) {
        struct http_parser_url u;
        http_parser_url_init(&u);
        char path[1024];
        if (http_parser_parse_url(h1->url, h1->url_len, 0, &u) == 0 &&
            (u.field_set & (1 << UF_PATH)) && u.field_data[UF_PATH].len < sizeof(path)) {
            memcpy(path, h1->url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
            path[u.field_data[UF_PATH].len] = '\0';
            bool known;
            const struct api_route *r =
                api_server_find_route(server, http_method_str((enum http_method)p->method), path, &known);
            if (r != NULL && r->opts.stream_body)
                h1->body_route = r;
        }
    }
    if (h1->body_route != NULL) {
        uint64_t max = h1->body_route->opts.max_body;
        if ((p->flags & F_CONTENTLENGTH) && max != 0 && p->content_length > max) {
            char msg[128];
            snprintf(msg, sizeof(msg), "request body of %llu bytes is over the limit of %llu\n",
                     (unsigned long long)p->content_length, (unsigned long long)max);
            fail_now(conn, 413, ERR_RESOURCE_EXHAUSTED, msg);
            return -1;
        }
        if (h1->have[HDR_EXPECT] && strcasecmp(h1->headers[HDR_EXPECT], "100-continue") != 0) {
            fail_now(conn, 417, ERR_OK, "unsupported expectation\n");
            return -1;
        }
        /* The route's handler runs now (from process(), outside the parser):
         * the body follows through on_body. 100 Continue is sent then. */
        h1->method = p->method;
        h1->keep_alive = http_should_keep_alive(p) != 0;
        h1->state = H1_READY;
        h1->body_read = 0;
        api_conn_set_timer(conn, server->request_timeout_ms);
        http_parser_pause(p, 1);
        return 0;
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > server->max_request_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body of %llu bytes is over the limit of %zu\n",
                 (unsigned long long)p->content_length, server->max_request_bytes);
        fail_now(conn, 413, ERR_RESOURCE_EXHAUSTED, msg);
        return -1;
    }
    uint64_t elapsed = api_now_ms() - h1->request_start_ms;
    uint64_t left = elapsed < server->request_timeout_ms ? server->request_timeout_ms - elapsed : 1;
    api_conn_set_timer(conn, (unsigned)left);
    if (h1->have[HDR_EXPECT] && p->http_major == 1 && p->http_minor >= 1) {
        if (strcasecmp(h1->headers[HDR_EXPECT], "100-continue") != 0) {
            fail_now(conn, 417, ERR_OK, "unsupported expectation\n");
            return -1;
        }
        evbuffer_add_printf(bufferevent_get_output(conn->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct api_conn *conn = conn_of(p);
    struct http1_conn *h1 = conn->h1;
    if (h1->state == H1_BODY) {
        /* Held here, handed over by process() outside the parser. */
        uint64_t max = h1->body_route->opts.max_body;
        h1->body_read += len;
        if (max != 0 && h1->body_read > max) {
            char msg[128];
            snprintf(msg, sizeof(msg), "request body is over the limit of %llu bytes\n",
                     (unsigned long long)max);
            fail_now(conn, 413, ERR_RESOURCE_EXHAUSTED, msg);
            return -1;
        }
        if (evbuffer_add(h1->body, at, len) < 0) {
            fail_now(conn, 503, ERR_OK, "out of memory\n");
            return -1;
        }
        api_conn_set_timer(conn, conn->server->request_timeout_ms);
        http_parser_pause(p, 1);
        return 0;
    }
    if (evbuffer_get_length(h1->body) + len > conn->server->max_request_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body is over the limit of %zu bytes\n",
                 conn->server->max_request_bytes);
        fail_now(conn, 413, ERR_RESOURCE_EXHAUSTED, msg);
        return -1;
    }
    if (evbuffer_add(h1->body, at, len) < 0) {
        fail_now(conn, 503, ERR_OK, "out of memory\n");
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct api_conn *conn = conn_of(p);
    struct http1_conn *h1 = conn->h1;
    if (h1->state == H1_BODY) {
        if (h1->exchange != NULL)
            h1->exchange->body_ended = true;
        api_conn_clear_timer(conn);
        http_parser_pause(p, 1);
        return 0;
    }
    h1->state = H1_READY;
    h1->keep_alive = http_should_keep_alive(p) != 0;
    h1->method = p->method;
    api_conn_clear_timer(conn);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ------------------------------------------------------------------ dispatch */

/* After a reply: ready for the next request, or closing. */
static void request_done(struct api_conn *conn, bool close)
{
    struct http1_conn *h1 = conn->h1;
    h1->state = H1_IDLE;
    reset_request(h1);
    http_parser_pause(&h1->parser, 0);
    if (close || !h1->keep_alive) {
        api_conn_close_soon(conn);
        return;
    }
    api_conn_set_timer(conn, conn->server->idle_timeout_ms);
}

static bool media_type_is(const char *value, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(value, type, n) != 0)
        return false;
    const char *rest = value + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

static struct http1_conn *h1_of(struct api_conn *conn)
{
    return conn->h1;
}

static void dispatch_route(struct api_conn *conn, const struct api_route *route, const char *query,
                           const char *path)
{
    struct http1_conn *h1 = h1_of(conn);
    if (!route->opts.async) {
        struct api_exchange ex = {.conn = conn, .query = query, .principal = h1->principal,
                                  .path = path,
                                  .method = http_method_str((enum http_method)h1->method),
                                  .content_length = -1};
        if (h1->parser.flags & F_CONTENTLENGTH)
            ex.content_length = (int64_t)evbuffer_get_length(h1->body);
        route->handler(&ex, route->ctx);
        if (!ex.replied && h1->state != H1_STREAMING) {
            log_error("api: route %s %s returned without a reply", route->method, route->path);
            write_plain(conn, 500, NULL, "the handler did not reply\n", false);
            request_done(conn, false);
        }
        return;
    }
    struct api_exchange *ex = calloc(1, sizeof(*ex));
    if (ex == NULL) {
        write_plain(conn, 503, NULL, "out of memory\n", true);
        request_done(conn, true);
        return;
    }
    /* The path and query outlive the handler: keep copies in the connection. */
    snprintf(h1->path, sizeof(h1->path), "%s", path);
    ex->conn = conn;
    ex->query = query; /* points into h1->url, kept until the request is done */
    ex->path = h1->path;
    ex->method = http_method_str((enum http_method)h1->method);
    ex->principal = h1->principal;
    ex->heap = true;
    ex->stream_body = route->opts.stream_body;
    ex->content_length = -1;
    if (ex->stream_body) {
        if ((h1->parser.flags & F_CONTENTLENGTH) && h1->parser.content_length != ULLONG_MAX)
            ex->content_length = (int64_t)h1->parser.content_length;
    } else if (h1->parser.flags & F_CONTENTLENGTH) {
        ex->content_length = (int64_t)evbuffer_get_length(h1->body);
    }
    h1->exchange = ex;
    h1->state = ex->stream_body ? H1_BODY : H1_ROUTE_WAITING;
    if (ex->stream_body && h1->have[HDR_EXPECT])
        evbuffer_add_printf(bufferevent_get_output(conn->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    ex->in_handler = true;
    route->handler(ex, route->ctx);
    ex->in_handler = false;
    if (ex->replied) {
        http1_exchange_done(ex);
        return;
    }
    if (ex->stream_body && h1->exchange == ex)
        http_parser_pause(&h1->parser, 0); /* the body may come now */
}

void http1_exchange_done(struct api_exchange *ex)
{
    if (!ex->heap || ex->in_handler)
        return;
    struct api_conn *conn = ex->conn;
    if (conn != NULL && conn->h1 != NULL && conn->h1->exchange == ex)
        conn->h1->exchange = NULL;
    free(ex);
}

/* Hands buffered body bytes to a stream_body route, outside the parser.
 * Returns false when the loop in process() should stop. */
static bool deliver_body(struct api_conn *conn)
{
    struct http1_conn *h1 = conn->h1;
    struct api_exchange *ex = h1->exchange;
    if (ex == NULL)
        return true;
    while (!ex->body_paused && !ex->replied && evbuffer_get_length(h1->body) > 0) {
        size_t n = evbuffer_get_length(h1->body);
        if (n > BODY_CHUNK)
            n = BODY_CHUNK;
        uint8_t *data = evbuffer_pullup(h1->body, (ev_ssize_t)n);
        if (data == NULL)
            return false;
        ex->in_handler = true;
        if (ex->cb.on_body != NULL)
            ex->cb.on_body(ex, data, n, ex->cb_ctx);
        ex->in_handler = false;
        if (ex->replied) {
            http1_exchange_done(ex);
            return false;
        }
        evbuffer_drain(h1->body, n);
    }
    if (ex->body_paused) {
        api_conn_clear_timer(conn);
        return false;
    }
    if (ex->body_ended && evbuffer_get_length(h1->body) == 0) {
        h1->state = H1_ROUTE_WAITING;
        ex->in_handler = true;
        if (ex->cb.on_body_end != NULL)
            ex->cb.on_body_end(ex, ex->cb_ctx);
        ex->in_handler = false;
        if (ex->replied)
            http1_exchange_done(ex);
        return false;
    }
    return true;
}

static void connect_fail(struct api_conn *conn, enum error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void connect_fail(struct api_conn *conn, enum error_kind kind, const char *fmt, ...)
{
    struct error err = {.kind = kind};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);
    write_connect_error(conn, &err, false);
    request_done(conn, false);
}

static void dispatch_rpc(struct api_conn *conn, const char *path)
{
    struct http1_conn *h1 = conn->h1;
    const struct api_service *service;
    const struct api_method *method = api_server_find_method(conn->server, path, &service);
    if (method == NULL) {
        /* An unknown procedure is a 404 (the route does not exist) carrying
         * the unimplemented code, not the 501 the code alone would map to. */
        struct error err;
        if (service != NULL)
            error_set(&err, ERR_UNIMPLEMENTED, "%s has no method %s", service->full_name,
                      strrchr(path, '/') + 1);
        else
            error_set(&err, ERR_UNIMPLEMENTED, "no service at %s", path);
        write_connect_error_status(conn, &err, 404, false);
        request_done(conn, false);
        return;
    }
    if (h1->method != HTTP_POST) {
        static const char body[] = "{\"code\":\"unimplemented\",\"message\":\"use POST\"}";
        write_response(conn, 405, "application/json", "Allow: POST\r\n", body, sizeof(body) - 1,
                       false);
        request_done(conn, false);
        return;
    }
    enum api_call_wire wire;
    const char *ct = h1->have[HDR_CONTENT_TYPE] ? h1->headers[HDR_CONTENT_TYPE] : "";
    bool streaming = method->kind != API_METHOD_UNARY;
    if (!streaming && media_type_is(ct, "application/json"))
        wire = API_WIRE_CONNECT_JSON;
    else if (!streaming && media_type_is(ct, "application/proto"))
        wire = API_WIRE_CONNECT_PROTO;
    else if (streaming && media_type_is(ct, "application/connect+json"))
        wire = API_WIRE_CONNECT_STREAM_JSON;
    else if (streaming && media_type_is(ct, "application/connect+proto"))
        wire = API_WIRE_CONNECT_STREAM_PROTO;
    else if (streaming) {
        write_response(conn, 415, NULL,
                       "Accept-Post: application/connect+json, application/connect+proto\r\n",
                       NULL, 0, false);
        request_done(conn, false);
        return;
    } else {
        write_response(conn, 415, NULL, "Accept-Post: application/json, application/proto\r\n",
                       NULL, 0, false);
        request_done(conn, false);
        return;
    }
    for (int i = 0; i < HDR_COUNT; i++)
        if (h1->header_too_long[i])
            return connect_fail(conn, ERR_INVALID_ARGUMENT, "header %s is too long or repeated",
                                h1_header_names[i]);
    if (h1->have[HDR_CONTENT_ENCODING] &&
        strcasecmp(h1->headers[HDR_CONTENT_ENCODING], "identity") != 0)
        return connect_fail(conn, ERR_UNIMPLEMENTED,
                            "content encoding \"%.64s\" is not supported (use identity)",
                            h1->headers[HDR_CONTENT_ENCODING]);
    if (h1->have[HDR_CONNECT_VERSION] && strcmp(h1->headers[HDR_CONNECT_VERSION], "1") != 0)
        return connect_fail(conn, ERR_INVALID_ARGUMENT,
                            "connect-protocol-version \"%.16s\" is not supported (use 1)",
                            h1->headers[HDR_CONNECT_VERSION]);
    uint64_t timeout_ms = 0;
    if (h1->have[HDR_CONNECT_TIMEOUT] &&
        api_parse_connect_timeout(h1->headers[HDR_CONNECT_TIMEOUT], &timeout_ms) < 0)
        return connect_fail(conn, ERR_INVALID_ARGUMENT, "connect-timeout-ms \"%.32s\" is invalid",
                            h1->headers[HDR_CONNECT_TIMEOUT]);

    if (streaming && method->kind != API_METHOD_SERVER_STREAMING)
        return connect_fail(conn, ERR_UNIMPLEMENTED,
                            "%s is a client-streaming or bidirectional method: call it over gRPC "
                            "(HTTP/2)", method->name);
    size_t len = evbuffer_get_length(h1->body);
    const uint8_t *body = len > 0 ? evbuffer_pullup(h1->body, -1) : (const uint8_t *)"";
    if (body == NULL)
        return connect_fail(conn, ERR_RESOURCE_EXHAUSTED, "out of memory");
    size_t drain_len = len;
    if (streaming) {
        struct error err;
        if (api_envelope_single(body, len, conn->server->max_request_bytes, &body, &len, &err) < 0)
            return connect_fail(conn, err.kind, "%s", err.message);
    }
    ProtobufCMessage *request = NULL;
    if (wire == API_WIRE_CONNECT_JSON || wire == API_WIRE_CONNECT_STREAM_JSON) {
        struct error err;
        if (json_proto_decode(method->input, body, len, &request, &err) < 0) {
            write_connect_error(conn, &err, false);
            request_done(conn, false);
            return;
        }
    } else {
        request = protobuf_c_message_unpack(method->input, NULL, len, body);
        if (request == NULL)
            return connect_fail(conn, ERR_INVALID_ARGUMENT, "the body is not a valid %s",
                                method->input->name);
    }
    evbuffer_drain(h1->body, drain_len);
    h1->state = H1_WAITING;
    if (api_call_start(conn, service, method, request, wire, h1->principal, 0, timeout_ms,
                       &h1->call) < 0)
        connect_fail(conn, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

static void dispatch(struct api_conn *conn)
{
    struct http1_conn *h1 = conn->h1;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (h1->url == NULL || http_parser_parse_url(h1->url, h1->url_len, 0, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH))) {
        write_plain(conn, 400, NULL, "bad request target\n", true);
        request_done(conn, true);
        return;
    }
    char path[1024];
    /* Only origin-form ("/x") and absolute-form targets name a resource here;
     * asterisk-form ("OPTIONS *") and friends do not. */
    if (h1->url[u.field_data[UF_PATH].off] != '/') {
        write_plain(conn, 400, NULL, "bad request target\n", false);
        request_done(conn, false);
        return;
    }
    if (u.field_data[UF_PATH].len >= sizeof(path)) {
        write_plain(conn, 404, NULL, "not found\n", false);
        request_done(conn, false);
        return;
    }
    memcpy(path, h1->url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    path[u.field_data[UF_PATH].len] = '\0';
    const char *query = "";
    if (u.field_set & (1 << UF_QUERY)) {
        h1->url[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = '\0';
        query = h1->url + u.field_data[UF_QUERY].off;
    }
    const char *method = http_method_str((enum http_method)h1->method);
    if (h1->method == HTTP_GET && strcmp(path, "/login") == 0) {
        struct api_login_reply login;
        api_login(conn, query, &login);
        write_response(conn, login.status, "text/plain; charset=utf-8", login.headers, login.body,
                       strlen(login.body), false);
        request_done(conn, false);
        return;
    }
    if (h1->method == HTTP_POST && strcmp(path, "/login/code") == 0) {
        char code[API_LOGIN_CODE_HEX + 1], body[128];
        if (api_login_code_new(conn, h1->principal, code) < 0) {
            write_plain(conn, 403, NULL, "a login code needs a token\n", false);
        } else {
            snprintf(body, sizeof(body), "{\"code\":\"%s\",\"expiresInS\":%d}", code,
                     API_LOGIN_CODE_TTL_S);
            write_response(conn, 200, "application/json", "Cache-Control: no-store\r\n", body,
                           strlen(body), false);
            OPENSSL_cleanse(code, sizeof(code));
            OPENSSL_cleanse(body, sizeof(body));
        }
        request_done(conn, false);
        return;
    }
    bool path_known;
    const struct api_route *route = api_server_find_route(conn->server, method, path, &path_known);
    if (route != NULL) {
        dispatch_route(conn, route, query, path);
        return;
    }
    if (path_known) {
        write_plain(conn, 405, NULL, "method not allowed\n", false);
        request_done(conn, false);
        return;
    }
    const char *slash = strrchr(path, '/');
    if (slash != path && slash[1] != '\0' && strchr(path + 1, '/') == slash) {
        dispatch_rpc(conn, path);
        return;
    }
    write_plain(conn, 404, NULL, "not found\n", false);
    request_done(conn, false);
}

static void process(struct api_conn *conn)
{
    struct http1_conn *h1 = conn->h1;
    if (h1->in_process)
        return;
    h1->in_process = true;
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    while (!conn->closing) {
        if (h1->state == H1_WAITING || h1->state == H1_ROUTE_WAITING)
            break;
        if (h1->state == H1_BODY && !deliver_body(conn))
            break;
        if (h1->state == H1_STREAMING) {
            if (h1->stream != NULL)
                api_stream_on_input(h1->stream, in);
            else
                evbuffer_drain(in, evbuffer_get_length(in));
            break;
        }
        if (h1->state == H1_READY) {
            dispatch(conn);
            continue;
        }
        if (evbuffer_get_length(out) > OUTPUT_PAUSE_BYTES)
            break; /* resumed by http1_on_drained */
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
            if (h1->peer_eof) {
                if (h1->state == H1_READING) {
                    /* Lets the parser finish a body delimited by EOF, or fail. */
                    http_parser_execute(&h1->parser, &parser_settings, NULL, 0);
                    if (h1->state == H1_READY)
                        continue;
                }
                api_conn_close_soon(conn);
            }
            break;
        }
        size_t n = http_parser_execute(&h1->parser, &parser_settings, v.iov_base, v.iov_len);
        enum http_errno e = HTTP_PARSER_ERRNO(&h1->parser);
        if (e == HPE_PAUSED) {
            evbuffer_drain(in, n);
            /* A body chunk or the end of a streamed body: hand it over, then go on. */
            if (h1->state == H1_BODY)
                http_parser_pause(&h1->parser, 0);
            continue;
        }
        if (e != HPE_OK) {
            if (h1->fail_status == 0) {
                char msg[160];
                snprintf(msg, sizeof(msg), "malformed request: %s\n", http_errno_description(e));
                write_plain(conn, 400, NULL, msg, true);
                api_conn_close_soon(conn);
            }
            break;
        }
        evbuffer_drain(in, n);
        if (h1->parser.upgrade && h1->state != H1_READY) {
            write_plain(conn, 400, NULL, "CONNECT is not supported\n", true);
            api_conn_close_soon(conn);
            break;
        }
    }
    h1->in_process = false;
}

/* ------------------------------------------------------------------ entry points */

int http1_conn_new(struct api_conn *conn)
{
    struct http1_conn *h1 = calloc(1, sizeof(*h1));
    if (h1 == NULL)
        return -1;
    h1->body = evbuffer_new();
    if (h1->body == NULL) {
        free(h1);
        return -1;
    }
    http_parser_init(&h1->parser, HTTP_REQUEST);
    h1->parser.data = conn;
    conn->h1 = h1;
    return 0;
}

void http1_conn_free(struct api_conn *conn)
{
    struct http1_conn *h1 = conn->h1;
    if (h1 == NULL)
        return;
    if (h1->call != NULL)
        api_call_detach(h1->call, true);
    if (h1->exchange != NULL) {
        struct api_exchange *ex = h1->exchange;
        h1->exchange = NULL;
        ex->conn = NULL;
        if (ex->cb.on_abort != NULL) {
            struct error why;
            error_set(&why, ERR_CANCELED, "the client went away");
            ex->cb.on_abort(ex, &why, ex->cb_ctx);
        }
        free(ex);
    }
    if (h1->stream != NULL) {
        struct api_stream *stream = h1->stream;
        h1->stream = NULL;
        api_stream_on_conn_gone(stream);
    }
    if (h1->resume != NULL)
        event_free(h1->resume);
    free(h1->url);
    evbuffer_free(h1->body);
    free(h1);
    conn->h1 = NULL;
}

void http1_on_read(struct api_conn *conn)
{
    process(conn);
}

bool http1_on_eof(struct api_conn *conn)
{
    struct http1_conn *h1 = conn->h1;
    /* A stream's client that hangs up is gone (its stream gets on_close). */
    if (h1->state == H1_WAITING || h1->state == H1_STREAMING || h1->state == H1_ROUTE_WAITING)
        return false;
    if (h1->state == H1_BODY) {
        /* Whatever was read is handed over first; a body cut short aborts. */
        h1->peer_eof = true;
        process(conn);
        return h1->state == H1_BODY && h1->exchange != NULL;
    }
    h1->peer_eof = true;
    process(conn);
    return true;
}

void http1_on_drained(struct api_conn *conn)
{
    struct http1_conn *h1 = conn->h1;
    if (h1->state == H1_WAITING && h1->call != NULL && api_call_is_streaming(h1->call)) {
        api_call_notify(h1->call, API_NOTIFY_DRAINED);
        return;
    }
    if (h1->state == H1_STREAMING) {
        if (h1->stream != NULL)
            api_stream_on_drained(h1->stream);
        return;
    }
    process(conn);
}

void http1_on_timer(struct api_conn *conn)
{
    struct http1_conn *h1 = conn->h1;
    switch (h1->state) {
    case H1_IDLE:
        api_conn_close_soon(conn);
        break;
    case H1_READING:
        write_plain(conn, 408, NULL, "request not received in time\n", true);
        api_conn_close_soon(conn);
        break;
    case H1_BODY:
        if (h1->exchange != NULL && !h1->exchange->body_paused) {
            struct api_exchange *ex = h1->exchange;
            h1->exchange = NULL;
            ex->conn = NULL;
            if (ex->cb.on_abort != NULL) {
                struct error why;
                error_set(&why, ERR_DEADLINE_EXCEEDED, "the request body stalled");
                ex->cb.on_abort(ex, &why, ex->cb_ctx);
            }
            free(ex);
            write_plain(conn, 408, NULL, "request body not received in time\n", true);
            api_conn_close_soon(conn);
        }
        break;
    case H1_READY:
    case H1_WAITING:
    case H1_STREAMING:
    case H1_ROUTE_WAITING:
        break;
    }
}

void http1_call_done(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *response,
                     const struct error *err)
{
    struct http1_conn *h1 = conn->h1;
    h1->call = NULL;
    if (call->wire == API_WIRE_CONNECT_STREAM_JSON || call->wire == API_WIRE_CONNECT_STREAM_PROTO) {
        stream_head(conn, call);
        size_t len = 0;
        char *end = api_connect_end_stream(response == NULL ? err : NULL, &len);
        const char *body = end != NULL ? end : "{\"error\":{\"code\":\"internal\"}}";
        if (end == NULL)
            len = strlen(body);
        uint8_t prefix[API_ENVELOPE_PREFIX];
        api_envelope_prefix(prefix, API_ENVELOPE_END_STREAM, (uint32_t)len);
        struct evbuffer *out = bufferevent_get_output(conn->bev);
        evbuffer_add(out, prefix, sizeof(prefix));
        evbuffer_add(out, body, len);
        free(end);
        /* The response has no length: its end is the connection's. */
        request_done(conn, true);
        return;
    }
    struct error encode_err;
    if (response != NULL) {
        if (call->wire == API_WIRE_CONNECT_JSON) {
            char *text;
            size_t len;
            if (json_proto_encode(response, &text, &len, &encode_err) == 0) {
                write_response(conn, 200, "application/json", NULL, text, len, false);
                free(text);
            } else {
                err = &encode_err;
            }
        } else {
            size_t len = protobuf_c_message_get_packed_size(response);
            uint8_t *buf = malloc(len > 0 ? len : 1);
            if (buf != NULL) {
                protobuf_c_message_pack(response, buf);
                write_response(conn, 200, "application/proto", NULL, buf, len, false);
                free(buf);
            } else {
                error_set(&encode_err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                err = &encode_err;
            }
        }
    }
    if (err != NULL && (response == NULL || err == &encode_err))
        write_connect_error(conn, err, false);
    request_done(conn, false);
    process(conn);
}

/* Connect streaming: the response head goes out with the first message or
 * the end of the stream (the status is 200 either way; errors travel in the
 * end-of-stream message). */
static void stream_head(struct api_conn *conn, struct api_call *call)
{
    if (call->head_sent)
        return;
    call->head_sent = true;
    http1_write_head(conn, 200,
                     call->wire == API_WIRE_CONNECT_STREAM_JSON ? "application/connect+json"
                                                                : "application/connect+proto",
                     "Cache-Control: no-cache\r\nConnection: close\r\n");
}

int http1_call_send(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *message)
{
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    uint8_t prefix[API_ENVELOPE_PREFIX];
    if (call->wire == API_WIRE_CONNECT_STREAM_JSON) {
        char *text;
        size_t len;
        struct error err;
        if (json_proto_encode(message, &text, &len, &err) < 0) {
            log_error("api: %s", err.message);
            return -1;
        }
        stream_head(conn, call);
        api_envelope_prefix(prefix, 0, (uint32_t)len);
        evbuffer_add(out, prefix, sizeof(prefix));
        evbuffer_add(out, text, len);
        free(text);
        return 0;
    }
    if (call->wire != API_WIRE_CONNECT_STREAM_PROTO)
        return -1;
    size_t len = protobuf_c_message_get_packed_size(message);
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        return -1;
    protobuf_c_message_pack(message, buf);
    stream_head(conn, call);
    api_envelope_prefix(prefix, 0, (uint32_t)len);
    evbuffer_add(out, prefix, sizeof(prefix));
    evbuffer_add(out, buf, len);
    free(buf);
    return 0;
}

size_t http1_call_pending(struct api_conn *conn, const struct api_call *call)
{
    return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

const char *api_exchange_query(const struct api_exchange *exchange)
{
    return exchange->query;
}

const char *api_exchange_path(const struct api_exchange *exchange)
{
    return exchange->path != NULL ? exchange->path : "";
}

const char *api_exchange_method(const struct api_exchange *exchange)
{
    return exchange->method != NULL ? exchange->method : "";
}

int64_t api_exchange_content_length(const struct api_exchange *exchange)
{
    return exchange->content_length;
}

void api_exchange_reply_headers(struct api_exchange *exchange, int status,
                                const char *content_type, const char *extra_headers,
                                const void *body, size_t len)
{
    if (exchange->replied) {
        log_error("api: a route replied twice");
        return;
    }
    exchange->replied = true;
    struct api_conn *conn = exchange->conn;
    if (conn == NULL) {
        http1_exchange_done(exchange);
        return;
    }
    /* A reply before the whole body was read: what follows cannot be trusted
     * to be a request boundary, so the connection closes after it. */
    bool cut = exchange->stream_body && !exchange->body_ended;
    write_response(conn, status, content_type, extra_headers, body, len, cut);
    request_done(conn, cut);
    if (exchange->in_handler)
        return; /* freed by whoever called the handler */
    if (conn->h1->exchange == exchange)
        conn->h1->exchange = NULL;
    http1_exchange_done(exchange);
    process(conn); /* pipelined requests */
}

void api_exchange_reply(struct api_exchange *exchange, int status, const char *content_type,
                        const void *body, size_t len)
{
    api_exchange_reply_headers(exchange, status, content_type, NULL, body, len);
}

void api_exchange_set_callbacks(struct api_exchange *exchange,
                                const struct api_exchange_callbacks *cb, void *ctx)
{
    if (cb != NULL)
        exchange->cb = *cb;
    else
        memset(&exchange->cb, 0, sizeof(exchange->cb));
    exchange->cb_ctx = ctx;
}

static void resume_body_cb(evutil_socket_t fd, short what, void *arg)
{
    struct api_conn *conn = arg;
    if (conn->h1 == NULL || conn->closing)
        return;
    struct http1_conn *h1 = conn->h1;
    if (h1->state != H1_BODY || h1->exchange == NULL || h1->exchange->body_paused)
        return;
    api_conn_set_timer(conn, conn->server->request_timeout_ms);
    conn->in_callback = true;
    process(conn);
    conn->in_callback = false;
    if (conn->closing)
        api_conn_close_soon(conn);
}

void api_exchange_pause_body(struct api_exchange *exchange, bool paused)
{
    if (exchange->body_paused == paused)
        return;
    exchange->body_paused = paused;
    struct api_conn *conn = exchange->conn;
    if (conn == NULL || paused)
        return;
    /* Resume from the event loop, not from inside the caller. */
    struct http1_conn *h1 = conn->h1;
    if (h1->resume == NULL)
        h1->resume = event_new(conn->server->base, -1, 0, resume_body_cb, conn);
    if (h1->resume != NULL)
        event_active(h1->resume, 0, 0);
}

const char *api_exchange_peer(const struct api_exchange *exchange)
{
    return exchange->conn->peer;
}

const char *http1_header(struct api_conn *conn, const char *name)
{
    struct http1_conn *h1 = conn->h1;
    for (int i = 0; i < HDR_COUNT; i++)
        if (strcmp(name, h1_header_names[i]) == 0)
            return h1->have[i] && !h1->header_too_long[i] ? h1->headers[i] : NULL;
    return NULL;
}

const char *api_exchange_header(const struct api_exchange *exchange, const char *name)
{
    return http1_header(exchange->conn, name);
}

void http1_write_head(struct api_conn *conn, int status, const char *content_type,
                      const char *extra_headers)
{
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, status_text(status));
    if (content_type != NULL)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
    if (extra_headers != NULL)
        evbuffer_add(out, extra_headers, strlen(extra_headers));
    evbuffer_add(out, "\r\n", 2);
}

void http1_write_plain(struct api_conn *conn, int status, const char *extra, const char *text)
{
    write_plain(conn, status, extra, text, false);
    request_done(conn, false);
}

void http1_attach_stream(struct api_exchange *exchange, struct api_stream *stream)
{
    struct api_conn *conn = exchange->conn;
    struct http1_conn *h1 = conn->h1;
    exchange->replied = true;
    h1->state = H1_STREAMING;
    h1->stream = stream;
    /* No idle or request deadline: the stream ends when either side says so.
     * A client that stops reading is caught by the write timeout. */
    api_conn_clear_timer(conn);
    /* The exchange is over: the stream's callbacks speak for it from now on,
     * so the route's own (on_abort) must never run for it again. An
     * exchange answered from inside its handler is freed by the handler's
     * caller; one answered later is freed here. */
    memset(&exchange->cb, 0, sizeof(exchange->cb));
    if (!exchange->in_handler) {
        if (h1->exchange == exchange)
            h1->exchange = NULL;
        http1_exchange_done(exchange);
    }
}

void http1_detach_stream(struct api_conn *conn)
{
    if (conn->h1 != NULL)
        conn->h1->stream = NULL;
}
