/* gRPC over HTTP/2 (h2c, prior knowledge), with an nghttp2 server session
 * driven by the connection's bufferevent.
 *
 * A response is HEADERS, then DATA drawn from the stream's output buffer, then
 * trailers (grpc-status, grpc-message) once the output is marked finished. Unary
 * calls put one message there; a server-streaming call would append several and
 * resume the deferred data source (nghttp2_session_resume_data) after each. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "api/internal.h"
#include "common/log.h"

#define OUTPUT_PAUSE_BYTES (256u << 10)
#define TICK_MS 1000
#define GRPC_PREFIX 5

struct h2_stream {
    int32_t id;
    struct api_conn *conn;
    uint64_t start_ms;
    size_t header_bytes;
    char path[512];
    char method[16];
    char content_type[128];
    char grpc_timeout[16];
    bool bad_header; /* a header we need was too long or repeated */
    /* For admission (auth.c), each with its own flag: a bad one is refused there. */
    char authority[256], host[256], origin[256], authorization[256], fetch_site[32];
    bool authority_bad, host_bad, origin_bad, authorization_bad, fetch_site_bad;
    bool admitted;
    enum api_principal principal;
    struct evbuffer *body;
    bool request_complete;
    bool responded; /* the final response (or trailers) is submitted */
    bool headers_sent; /* a streaming response: HEADERS submitted, DATA follows */
    bool input_streaming; /* a client/bidi call: messages go to the handler as they come */
    size_t unconsumed; /* bytes held back from the stream's flow-control window */
    struct api_call *call;
    /* Response. */
    struct evbuffer *out;
    bool out_finished;
    enum error_kind status;
    char message[512];
    struct h2_stream *prev, *next;
};

struct http2_conn {
    nghttp2_session *session;
    struct h2_stream *streams;
    unsigned n_streams;
    size_t buffered; /* request bytes held across all streams */
    bool in_recv;    /* inside nghttp2_session_mem_recv: sending waits until it returns */
    uint64_t last_activity_ms;
};

static void flush(struct api_conn *conn);

/* ------------------------------------------------------------------ streams */

static struct h2_stream *stream_new(struct api_conn *conn, int32_t id)
{
    struct h2_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->body = evbuffer_new();
    s->out = evbuffer_new();
    if (s->body == NULL || s->out == NULL) {
        if (s->body != NULL)
            evbuffer_free(s->body);
        if (s->out != NULL)
            evbuffer_free(s->out);
        free(s);
        return NULL;
    }
    s->id = id;
    s->conn = conn;
    s->start_ms = api_now_ms();
    struct http2_conn *h2 = conn->h2;
    s->next = h2->streams;
    if (h2->streams != NULL)
        h2->streams->prev = s;
    h2->streams = s;
    h2->n_streams++;
    return s;
}

static void stream_free(struct api_conn *conn, struct h2_stream *s)
{
    struct http2_conn *h2 = conn->h2;
    if (s->call != NULL)
        api_call_detach(s->call, true);
    h2->buffered -= evbuffer_get_length(s->body);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h2->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    h2->n_streams--;
    evbuffer_free(s->body);
    evbuffer_free(s->out);
    free(s);
}

/* ------------------------------------------------------------------ responses */

/* grpc-message is percent-encoded: bytes outside printable ASCII, and '%'. */
static void percent_encode(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            if (o + 1 >= size)
                break;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= size)
                break;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

#define NV(n, v) \
    { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static int submit_trailers(nghttp2_session *session, struct h2_stream *s)
{
    char status[8];
    snprintf(status, sizeof(status), "%d", (int)s->status);
    char message[sizeof(s->message) * 3];
    percent_encode(s->message, message, sizeof(message));
    nghttp2_nv nv[] = {NV("grpc-status", status), NV("grpc-message", message)};
    return nghttp2_submit_trailer(session, s->id, nv, s->message[0] != '\0' ? 2 : 1);
}

static ssize_t data_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                            size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                            void *user_data)
{
    struct h2_stream *s = source->ptr;
    int n = evbuffer_remove(s->out, buf, length);
    if (n < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (s->call != NULL && s->call->want_drained &&
        evbuffer_get_length(s->out) < s->call->max_buffer / 2)
        api_call_notify(s->call, API_NOTIFY_DRAINED);
    if (evbuffer_get_length(s->out) == 0) {
        if (!s->out_finished)
            return n > 0 ? n : NGHTTP2_ERR_DEFERRED;
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (submit_trailers(session, s) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return n;
}

/* Trailers-only response: one HEADERS frame with the status, ending the stream. */
static void respond_error(struct api_conn *conn, struct h2_stream *s, enum error_kind kind,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void respond_error(struct api_conn *conn, struct h2_stream *s, enum error_kind kind,
                          const char *fmt, ...)
{
    if (s->responded)
        return;
    s->responded = true;
    va_list ap;
    va_start(ap, fmt);
    char raw[sizeof(s->message)];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    char status[8];
    snprintf(status, sizeof(status), "%d", (int)kind);
    char message[sizeof(raw) * 3];
    percent_encode(raw, message, sizeof(message));
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                       NV("grpc-status", status), NV("grpc-message", message)};
    /* A client still sending is not reset: gRPC clients report a reset as an
     * internal error and lose the status. The rest of its request is dropped
     * (and a stream that never ends is reset by the request timeout). */
    nghttp2_submit_response(conn->h2->session, s->id, nv, 4, NULL);
}

static void respond_http(struct api_conn *conn, struct h2_stream *s, const char *status)
{
    if (s->responded)
        return;
    s->responded = true;
    nghttp2_nv nv[] = {NV(":status", status)};
    nghttp2_submit_response(conn->h2->session, s->id, nv, 1, NULL);
}

static void respond_message(struct api_conn *conn, struct h2_stream *s,
                            const ProtobufCMessage *response)
{
    size_t len = protobuf_c_message_get_packed_size(response);
    if (len > UINT32_MAX) {
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "response too large");
        return;
    }
    uint8_t *buf = malloc(GRPC_PREFIX + len);
    if (buf == NULL) {
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    buf[0] = 0;
    buf[1] = (uint8_t)(len >> 24);
    buf[2] = (uint8_t)(len >> 16);
    buf[3] = (uint8_t)(len >> 8);
    buf[4] = (uint8_t)len;
    protobuf_c_message_pack(response, buf + GRPC_PREFIX);
    int rc = evbuffer_add(s->out, buf, GRPC_PREFIX + len);
    free(buf);
    if (rc < 0) {
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    s->responded = true;
    s->out_finished = true;
    s->status = ERR_OK;
    s->message[0] = '\0';
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = data_read_cb};
    if (nghttp2_submit_response(conn->h2->session, s->id, nv, 2, &prd) != 0)
        nghttp2_submit_rst_stream(conn->h2->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_INTERNAL_ERROR);
}

/* Streaming responses: HEADERS once, DATA as messages are queued, then
 * trailers with the status when the call finishes. */
static int stream_start_response(struct api_conn *conn, struct h2_stream *s)
{
    if (s->headers_sent)
        return 0;
    s->headers_sent = true;
    s->responded = true;
    nghttp2_nv nv[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = data_read_cb};
    if (nghttp2_submit_response(conn->h2->session, s->id, nv, 2, &prd) != 0) {
        nghttp2_submit_rst_stream(conn->h2->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_INTERNAL_ERROR);
        return -1;
    }
    return 0;
}

static void stream_end(struct api_conn *conn, struct h2_stream *s, const struct error *err)
{
    if (!s->headers_sent && err != NULL) {
        respond_error(conn, s, err->kind, "%s", err->message);
        return;
    }
    s->status = err != NULL ? err->kind : ERR_OK;
    snprintf(s->message, sizeof(s->message), "%.511s", err != NULL ? err->message : "");
    s->out_finished = true;
    if (!s->headers_sent)
        stream_start_response(conn, s);
    else
        nghttp2_session_resume_data(conn->h2->session, s->id);
}

int http2_call_send(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *message)
{
    struct h2_stream *s = nghttp2_session_get_stream_user_data(conn->h2->session, call->stream_id);
    if (s == NULL || s->out_finished || (s->responded && !s->headers_sent))
        return -1;
    size_t len = protobuf_c_message_get_packed_size(message);
    if (len > UINT32_MAX)
        return -1;
    uint8_t *buf = malloc(API_ENVELOPE_PREFIX + len);
    if (buf == NULL)
        return -1;
    api_envelope_prefix(buf, 0, (uint32_t)len);
    protobuf_c_message_pack(message, buf + API_ENVELOPE_PREFIX);
    int rc = evbuffer_add(s->out, buf, API_ENVELOPE_PREFIX + len);
    free(buf);
    if (rc < 0)
        return -1;
    if (!s->headers_sent) {
        if (stream_start_response(conn, s) < 0)
            return -1;
    } else {
        nghttp2_session_resume_data(conn->h2->session, s->id);
    }
    flush(conn);
    return 0;
}

size_t http2_call_pending(struct api_conn *conn, const struct api_call *call)
{
    struct h2_stream *s = nghttp2_session_get_stream_user_data(conn->h2->session, call->stream_id);
    return s != NULL ? evbuffer_get_length(s->out) : 0;
}

/* Hands the complete request messages of a client/bidi call to its handler,
 * while it is not paused; then the half-close. Gives the client its window
 * back for what was taken. */
static void deliver_messages(struct api_conn *conn, struct h2_stream *s)
{
    struct http2_conn *h2 = conn->h2;
    struct api_server *server = conn->server;
    if (s->call != NULL && !s->call->paused && s->unconsumed > 0) {
        nghttp2_session_consume_stream(h2->session, s->id, s->unconsumed);
        s->unconsumed = 0;
    }
    while (s->call != NULL && !s->call->paused) {
        size_t len = evbuffer_get_length(s->body);
        uint8_t prefix[API_ENVELOPE_PREFIX];
        if (len < API_ENVELOPE_PREFIX)
            break;
        evbuffer_copyout(s->body, prefix, sizeof(prefix));
        uint32_t mlen = (uint32_t)prefix[1] << 24 | (uint32_t)prefix[2] << 16 |
                        (uint32_t)prefix[3] << 8 | prefix[4];
        struct error err = {.kind = ERR_OK};
        if (prefix[0] & API_ENVELOPE_COMPRESSED)
            error_set(&err, ERR_UNIMPLEMENTED, "compressed messages are not supported");
        else if (prefix[0] != 0)
            error_set(&err, ERR_INVALID_ARGUMENT, "bad message flags 0x%02x", prefix[0]);
        else if (mlen > server->max_request_bytes)
            error_set(&err, ERR_RESOURCE_EXHAUSTED,
                      "request message of %u bytes is over the limit of %zu", mlen,
                      server->max_request_bytes);
        if (err.kind != ERR_OK) {
            api_call_transport_fail(s->call, &err);
            return;
        }
        if (len - API_ENVELOPE_PREFIX < mlen)
            break;
        evbuffer_drain(s->body, API_ENVELOPE_PREFIX);
        const uint8_t *data = mlen > 0 ? evbuffer_pullup(s->body, mlen) : (const uint8_t *)"";
        ProtobufCMessage *msg =
            data != NULL ? protobuf_c_message_unpack(s->call->method->input, NULL, mlen, data) : NULL;
        evbuffer_drain(s->body, mlen);
        h2->buffered -= API_ENVELOPE_PREFIX + mlen;
        if (msg == NULL) {
            error_set(&err, ERR_INVALID_ARGUMENT, "a request message is not a valid %s",
                      s->call->method->input->name);
            api_call_transport_fail(s->call, &err);
            return;
        }
        struct api_call *call = s->call;
        bool alive = api_call_deliver(call, msg);
        protobuf_c_message_free_unpacked(msg, NULL);
        if (!alive)
            return;
    }
    if (s->call != NULL && !s->call->paused && s->request_complete &&
        evbuffer_get_length(s->body) == 0)
        api_call_notify(s->call, API_NOTIFY_HALF_CLOSE);
    else if (s->call != NULL && !s->call->paused && s->request_complete) {
        struct error err;
        error_set(&err, ERR_INVALID_ARGUMENT, "the last request message is truncated");
        api_call_transport_fail(s->call, &err);
    }
}

void http2_call_resume(struct api_conn *conn, struct api_call *call)
{
    struct h2_stream *s = nghttp2_session_get_stream_user_data(conn->h2->session, call->stream_id);
    if (s == NULL || s->call != call)
        return;
    deliver_messages(conn, s);
    flush(conn);
}

/* ------------------------------------------------------------------ requests */

static bool grpc_content_type(const char *ct, bool *proto)
{
    static const char base[] = "application/grpc";
    if (strncasecmp(ct, base, sizeof(base) - 1) != 0)
        return false;
    const char *rest = ct + sizeof(base) - 1;
    *proto = *rest == '\0' || *rest == ';' || strncasecmp(rest, "+proto", 6) == 0;
    return *rest == '\0' || *rest == ';' || *rest == '+';
}

static const char *admit_header(const char *value, bool bad)
{
    if (bad)
        return api_header_bad;
    return value[0] != '\0' ? value : NULL;
}

/* Admission (auth.c) once a request's headers are in: a refusal is a
 * trailers-only response, and the request's data is dropped unread. */
static void admit(struct api_conn *conn, struct h2_stream *s)
{
    if (s->admitted || s->responded)
        return;
    s->admitted = true;
    const char *host = admit_header(s->authority, s->authority_bad);
    if (host == NULL)
        host = admit_header(s->host, s->host_bad);
    char path[256];
    snprintf(path, sizeof(path), "%.*s", (int)strcspn(s->path, "?"), s->path);
    struct api_admit_request req = {
        .transport = "grpc",
        .method = s->method,
        .path = path,
        .host = host,
        .origin = admit_header(s->origin, s->origin_bad),
        .fetch_site = admit_header(s->fetch_site, s->fetch_site_bad),
        .authorization = admit_header(s->authorization, s->authorization_bad),
    };
    struct api_admit_result res;
    api_admit(conn, &req, &res);
    if (res.status != 0) {
        respond_error(conn, s, res.kind, "%s", res.message);
        return;
    }
    s->principal = res.principal;
}

/* Checks a request's headers (admission); false when it was answered. */
static bool check_request(struct api_conn *conn, struct h2_stream *s,
                          const struct api_service **service, const struct api_method **method,
                          uint64_t *timeout_ms)
{
    struct api_server *server = conn->server;
    admit(conn, s);
    if (s->responded)
        return false;
    if (strcmp(s->method, "POST") != 0) {
        respond_http(conn, s, "405");
        return false;
    }
    bool proto = false;
    if (!grpc_content_type(s->content_type, &proto)) {
        respond_http(conn, s, "415");
        return false;
    }
    if (!proto) {
        respond_error(conn, s, ERR_UNIMPLEMENTED, "only the proto codec is supported");
        return false;
    }
    if (s->bad_header) {
        respond_error(conn, s, ERR_INVALID_ARGUMENT, "a request header is too long or repeated");
        return false;
    }
    *method = api_server_find_method(server, s->path, service);
    if (*method == NULL) {
        respond_error(conn, s, ERR_UNIMPLEMENTED, "unknown method %s", s->path);
        return false;
    }
    *timeout_ms = 0;
    if (s->grpc_timeout[0] != '\0' && api_parse_grpc_timeout(s->grpc_timeout, timeout_ms) < 0) {
        respond_error(conn, s, ERR_INVALID_ARGUMENT, "grpc-timeout \"%s\" is invalid",
                      s->grpc_timeout);
        return false;
    }
    return true;
}

static bool method_streams_input(const struct api_method *m)
{
    return m->kind == API_METHOD_CLIENT_STREAMING || m->kind == API_METHOD_BIDI_STREAMING;
}

/* A client/bidi call opens as soon as its headers are in. */
static void open_input_stream(struct api_conn *conn, struct h2_stream *s)
{
    const struct api_service *service;
    const struct api_method *method = api_server_find_method(conn->server, s->path, &service);
    if (method == NULL || !method_streams_input(method))
        return;
    uint64_t timeout_ms;
    if (!check_request(conn, s, &service, &method, &timeout_ms))
        return;
    s->input_streaming = true;
    if (api_call_start(conn, service, method, NULL, API_WIRE_GRPC, s->principal, s->id,
                       timeout_ms, &s->call) < 0)
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

static void handle_request(struct api_conn *conn, struct h2_stream *s)
{
    struct api_server *server = conn->server;
    if (s->input_streaming) {
        deliver_messages(conn, s);
        return;
    }
    const struct api_service *service;
    const struct api_method *method;
    uint64_t timeout_ms;
    if (!check_request(conn, s, &service, &method, &timeout_ms))
        return;
    size_t len = evbuffer_get_length(s->body);
    if (len < GRPC_PREFIX)
        return respond_error(conn, s, ERR_INVALID_ARGUMENT,
                             len == 0 ? "no request message" : "truncated message prefix");
    uint8_t prefix[GRPC_PREFIX];
    evbuffer_copyout(s->body, prefix, GRPC_PREFIX);
    if (prefix[0] & 1)
        return respond_error(conn, s, ERR_UNIMPLEMENTED,
                             "compressed messages are not supported (send uncompressed)");
    if (prefix[0] != 0)
        return respond_error(conn, s, ERR_INVALID_ARGUMENT, "bad message flags 0x%02x", prefix[0]);
    uint32_t mlen = (uint32_t)prefix[1] << 24 | (uint32_t)prefix[2] << 16 |
                    (uint32_t)prefix[3] << 8 | prefix[4];
    if (mlen > server->max_request_bytes)
        return respond_error(conn, s, ERR_RESOURCE_EXHAUSTED,
                             "request message of %u bytes is over the limit of %zu", mlen,
                             server->max_request_bytes);
    if ((size_t)mlen + GRPC_PREFIX != len)
        return respond_error(conn, s, ERR_INVALID_ARGUMENT,
                             (size_t)mlen + GRPC_PREFIX > len
                                 ? "truncated request message"
                                 : "a unary call takes exactly one request message");
    evbuffer_drain(s->body, GRPC_PREFIX);
    const uint8_t *data = mlen > 0 ? evbuffer_pullup(s->body, -1) : (const uint8_t *)"";
    if (data == NULL)
        return respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "out of memory");
    ProtobufCMessage *request = protobuf_c_message_unpack(method->input, NULL, mlen, data);
    conn->h2->buffered -= len;
    evbuffer_drain(s->body, mlen);
    if (request == NULL)
        return respond_error(conn, s, ERR_INVALID_ARGUMENT, "the request is not a valid %s",
                             method->input->name);
    if (api_call_start(conn, service, method, request, API_WIRE_GRPC, s->principal, s->id,
                       timeout_ms, &s->call) < 0)
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

/* ------------------------------------------------------------------ nghttp2 callbacks */

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                       void *user_data)
{
    struct api_conn *conn = user_data;
    struct evbuffer *out = bufferevent_get_output(conn->bev);
    if (evbuffer_get_length(out) >= OUTPUT_PAUSE_BYTES)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_add(out, data, length) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)length;
}

/* Request bytes held by every HTTP/2 connection of the server together. A
 * sum when asked (at most max_connections terms) rather than a counter, so
 * the per-connection accounting stays the only accounting. */
static size_t buffered_total(const struct api_server *server)
{
    size_t total = 0;
    for (const struct api_conn *c = server->conns; c != NULL; c = c->next)
        if (c->h2 != NULL)
            total += c->h2->buffered;
    return total;
}

static int on_begin_headers_cb(nghttp2_session *session, const nghttp2_frame *frame,
                               void *user_data)
{
    struct api_conn *conn = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    /* The server is full: no new stream until others drain. */
    if (buffered_total(conn->server) >= conn->server->max_buffered_bytes) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    struct h2_stream *s = stream_new(conn, frame->hd.stream_id);
    if (s == NULL) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
    return 0;
}

static void copy_admit_header(bool *bad, char *dst, size_t size, const uint8_t *value, size_t len)
{
    if (dst[0] != '\0' || len == 0 || len >= size || memchr(value, '\0', len) != NULL) {
        *bad = true;
        return;
    }
    memcpy(dst, value, len);
    dst[len] = '\0';
}

static void copy_header(struct h2_stream *s, char *dst, size_t size, const uint8_t *value,
                        size_t len)
{
    if (dst[0] != '\0' || len >= size) {
        s->bad_header = true;
        return;
    }
    memcpy(dst, value, len);
    dst[len] = '\0';
}

static int on_header_cb(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *user_data)
{
    struct api_conn *conn = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers from the client carry nothing we use */
    struct h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    /* RFC 9113's accounting: name + value + 32 per field. */
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > conn->server->max_header_bytes)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
    if (IS(":path"))
        copy_header(s, s->path, sizeof(s->path), value, valuelen);
    else if (IS(":method"))
        copy_header(s, s->method, sizeof(s->method), value, valuelen);
    else if (IS("content-type"))
        copy_header(s, s->content_type, sizeof(s->content_type), value, valuelen);
    else if (IS("grpc-timeout"))
        copy_header(s, s->grpc_timeout, sizeof(s->grpc_timeout), value, valuelen);
    else if (IS(":authority"))
        copy_admit_header(&s->authority_bad, s->authority, sizeof(s->authority), value, valuelen);
    else if (IS("host"))
        copy_admit_header(&s->host_bad, s->host, sizeof(s->host), value, valuelen);
    else if (IS("origin"))
        copy_admit_header(&s->origin_bad, s->origin, sizeof(s->origin), value, valuelen);
    else if (IS("sec-fetch-site"))
        copy_admit_header(&s->fetch_site_bad, s->fetch_site, sizeof(s->fetch_site), value,
                          valuelen);
    else if (IS("authorization"))
        copy_admit_header(&s->authorization_bad, s->authorization, sizeof(s->authorization),
                          value, valuelen);
#undef IS
    return 0;
}

static int on_data_chunk_cb(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                            const uint8_t *data, size_t len, void *user_data)
{
    struct api_conn *conn = user_data;
    struct http2_conn *h2 = conn->h2;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    /* Flow control is ours (no automatic WINDOW_UPDATE): the connection's
     * window comes back at once; a stream's, once its data is used, except
     * for a paused client-streaming call, which keeps it to stop the client. */
    nghttp2_session_consume_connection(session, len);
    if (s != NULL && s->input_streaming && s->call != NULL && s->call->paused)
        s->unconsumed += len;
    else
        nghttp2_session_consume_stream(session, stream_id, len);
    if (s == NULL || (s->input_streaming ? s->call == NULL : s->responded))
        return 0; /* answered already: the rest of the request is dropped */
    struct api_server *server = conn->server;
    if (s->input_streaming) {
        /* One message being assembled plus what the window lets in while
         * paused; and the server-wide ceiling as for whole requests. */
        bool too_big = evbuffer_get_length(s->body) + len >
                       server->max_request_bytes + GRPC_PREFIX + NGHTTP2_INITIAL_WINDOW_SIZE;
        if (too_big || buffered_total(server) + len > server->max_buffered_bytes) {
            struct error err;
            if (too_big)
                error_set(&err, ERR_RESOURCE_EXHAUSTED,
                          "request message over the limit of %zu bytes", server->max_request_bytes);
            else
                error_set(&err, ERR_RESOURCE_EXHAUSTED, "the server holds too much request data");
            if (s->call != NULL)
                api_call_transport_fail(s->call, &err);
            else
                respond_error(conn, s, err.kind, "%s", err.message);
            return 0;
        }
        if (evbuffer_add(s->body, data, len) < 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        h2->buffered += len;
        deliver_messages(conn, s);
        return 0;
    }
    if (evbuffer_get_length(s->body) + len > server->max_request_bytes + GRPC_PREFIX) {
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "request over the limit of %zu bytes",
                      server->max_request_bytes);
        return 0;
    }
    /* All connections together hold at most max_buffered_bytes ... */
    if (buffered_total(server) + len > server->max_buffered_bytes) {
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "the server holds too much request data");
        return 0;
    }
    /* ... and all streams of one connection at most a few requests' worth. */
    if (h2->buffered + len > 4 * (server->max_request_bytes + GRPC_PREFIX)) {
        respond_error(conn, s, ERR_RESOURCE_EXHAUSTED, "too much request data in flight");
        return 0;
    }
    if (evbuffer_add(s->body, data, len) < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    h2->buffered += len;
    return 0;
}

static int on_frame_recv_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct api_conn *conn = user_data;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        struct h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s != NULL) {
            admit(conn, s);
            open_input_stream(conn, s);
        }
    }
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    s->request_complete = true;
    handle_request(conn, s);
    return 0;
}

static int on_stream_close_cb(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                              void *user_data)
{
    struct api_conn *conn = user_data;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s != NULL) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        stream_free(conn, s);
    }
    return 0;
}

/* ------------------------------------------------------------------ driving */

static void flush(struct api_conn *conn)
{
    struct http2_conn *h2 = conn->h2;
    if (conn->closing || h2->in_recv)
        return;
    if (nghttp2_session_send(h2->session) != 0) {
        api_conn_close_soon(conn);
        return;
    }
    if (!nghttp2_session_want_read(h2->session) && !nghttp2_session_want_write(h2->session))
        api_conn_close_soon(conn);
}

int http2_conn_new(struct api_conn *conn)
{
    struct http2_conn *h2 = calloc(1, sizeof(*h2));
    if (h2 == NULL)
        return -1;
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        free(h2);
        return -1;
    }
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_cb);
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        free(h2);
        return -1;
    }
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    /* Rapid reset (CVE-2023-44487): a burst of 1000 stream resets, then 33 per second. */
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
    int rc = nghttp2_session_server_new2(&h2->session, cbs, conn, opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (rc != 0) {
        free(h2);
        return -1;
    }
    conn->h2 = h2;
    struct api_server *server = conn->server;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, server->max_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)server->max_header_bytes},
    };
    if (nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, settings, 2) != 0) {
        nghttp2_session_del(h2->session);
        free(h2);
        conn->h2 = NULL;
        return -1;
    }
    h2->last_activity_ms = api_now_ms();
    api_conn_set_timer(conn, TICK_MS);
    return 0;
}

void http2_conn_free(struct api_conn *conn)
{
    struct http2_conn *h2 = conn->h2;
    if (h2 == NULL)
        return;
    /* Deleting the session closes no streams through callbacks: free them here. */
    while (h2->streams != NULL)
        stream_free(conn, h2->streams);
    nghttp2_session_del(h2->session);
    free(h2);
    conn->h2 = NULL;
}

void http2_on_read(struct api_conn *conn)
{
    struct http2_conn *h2 = conn->h2;
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    h2->last_activity_ms = api_now_ms();
    while (!conn->closing && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        h2->in_recv = true;
        ssize_t n = nghttp2_session_mem_recv(h2->session, v.iov_base, v.iov_len);
        h2->in_recv = false;
        if (n < 0) {
            log_debug("api: %s: HTTP/2: %s", conn->peer, nghttp2_strerror((int)n));
            /* nghttp2 queued a GOAWAY where it could: send it, then close. */
            nghttp2_session_send(h2->session);
            api_conn_close_soon(conn);
            return;
        }
        evbuffer_drain(in, (size_t)n);
    }
    flush(conn);
}

void http2_on_drained(struct api_conn *conn)
{
    flush(conn);
}

void http2_on_timer(struct api_conn *conn)
{
    struct http2_conn *h2 = conn->h2;
    struct api_server *server = conn->server;
    uint64_t now = api_now_ms();
    /* A request that does not arrive in full in time is cancelled (slowloris). */
    for (struct h2_stream *s = h2->streams; s != NULL; s = s->next) {
        if (s->request_complete || s->call != NULL ||
            now - s->start_ms <= server->request_timeout_ms)
            continue;
        if (!s->responded)
            respond_error(conn, s, ERR_DEADLINE_EXCEEDED, "request not received in time");
        else if (now - s->start_ms > 2 * (uint64_t)server->request_timeout_ms)
            nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
    }
    if (h2->n_streams == 0 && now - h2->last_activity_ms > server->idle_timeout_ms)
        nghttp2_session_terminate_session(h2->session, NGHTTP2_NO_ERROR);
    api_conn_set_timer(conn, TICK_MS);
    flush(conn);
}

void http2_call_done(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *response,
                     const struct error *err)
{
    struct http2_conn *h2 = conn->h2;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(h2->session, call->stream_id);
    if (s == NULL)
        return;
    s->call = NULL;
    h2->last_activity_ms = api_now_ms();
    if (api_call_is_streaming(call))
        stream_end(conn, s, response == NULL ? err : NULL);
    else if (response != NULL)
        respond_message(conn, s, response);
    else
        respond_error(conn, s, err->kind, "%s", err->message);
    flush(conn);
}
