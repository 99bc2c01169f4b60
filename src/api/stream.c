/* Streaming replies on plain HTTP/1.1 routes: a raw body written as it comes
 * (Server-Sent Events) or a WebSocket (RFC 6455). The connection (http1.c)
 * hands its input, drain and teardown events here once a stream is attached. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "api/internal.h"
#include "common/log.h"

#define DEFAULT_MAX_BUFFER (1u << 20)
#define DEFAULT_MAX_MESSAGE (64u << 10)

struct api_stream {
    struct api_conn *conn;
    struct api_stream_callbacks cb;
    void *ctx;
    size_t max_buffer;
    size_t max_message;
    bool websocket;
    bool closing; /* a close frame was sent or the connection is closing */
    bool in_dispatch; /* inside on_message: api_stream_end defers the free */
    bool ended;       /* api_stream_end ran during on_message */
    /* WebSocket input: the frame being read, and the message being assembled. */
    bool in_frame;
    struct ws_frame_header frame;
    uint64_t frame_read;
    struct evbuffer *message;
    bool in_message;
    bool message_binary;
};

static struct api_stream *stream_new(struct api_exchange *exchange,
                                     const struct api_stream_options *opts,
                                     const struct api_stream_callbacks *cb, void *ctx)
{
    struct api_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->conn = exchange->conn;
    if (cb != NULL)
        s->cb = *cb;
    s->ctx = ctx;
    s->max_buffer = opts != NULL && opts->max_buffer ? opts->max_buffer : DEFAULT_MAX_BUFFER;
    s->max_message = opts != NULL && opts->max_message ? opts->max_message : DEFAULT_MAX_MESSAGE;
    return s;
}

static void stream_free(struct api_stream *s)
{
    if (s->message != NULL)
        evbuffer_free(s->message);
    free(s);
}

struct api_stream *api_exchange_stream_begin(struct api_exchange *exchange, int status,
                                             const char *content_type,
                                             const struct api_stream_options *opts,
                                             const struct api_stream_callbacks *cb, void *ctx)
{
    if (exchange->replied) {
        log_error("api: a route replied twice");
        return NULL;
    }
    struct api_stream *s = stream_new(exchange, opts, cb, ctx);
    if (s == NULL)
        return NULL;
    char extra[1024];
    snprintf(extra, sizeof(extra), "Cache-Control: no-cache\r\nConnection: close\r\n%s",
             opts != NULL && opts->extra_headers != NULL ? opts->extra_headers : "");
    http1_write_head(exchange->conn, status, content_type, extra);
    http1_attach_stream(exchange, s);
    return s;
}

static bool header_has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    const char *p = value;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == n && strncasecmp(start, token, n) == 0)
            return true;
    }
    return false;
}

struct api_stream *api_exchange_websocket(struct api_exchange *exchange,
                                          const struct api_stream_options *opts,
                                          const struct api_stream_callbacks *cb, void *ctx)
{
    if (exchange->replied) {
        log_error("api: a route replied twice");
        return NULL;
    }
    struct api_conn *conn = exchange->conn;
    const char *upgrade = http1_header(conn, "upgrade");
    const char *connection = http1_header(conn, "connection");
    const char *version = http1_header(conn, "sec-websocket-version");
    const char *key = http1_header(conn, "sec-websocket-key");
    const char *problem = NULL;
    char accept[29];
    if (upgrade == NULL || !header_has_token(upgrade, "websocket"))
        problem = "this resource needs a WebSocket: Upgrade: websocket\n";
    else if (connection == NULL || !header_has_token(connection, "upgrade"))
        problem = "a WebSocket handshake needs Connection: Upgrade\n";
    else if (key == NULL || ws_accept_key(key, accept) < 0)
        problem = "Sec-WebSocket-Key must be base64 of 16 bytes\n";
    if (problem != NULL) {
        api_exchange_reply(exchange, 400, "text/plain; charset=utf-8", problem, strlen(problem));
        return NULL;
    }
    if (version == NULL || strcmp(version, "13") != 0) {
        static const char msg[] = "only WebSocket version 13 is supported\n";
        exchange->replied = true;
        http1_write_plain(conn, 426, "Sec-WebSocket-Version: 13\r\n", msg);
        return NULL;
    }
    struct api_stream *s = stream_new(exchange, opts, cb, ctx);
    if (s == NULL)
        return NULL;
    s->message = evbuffer_new();
    if (s->message == NULL) {
        stream_free(s);
        return NULL;
    }
    s->websocket = true;
    char extra[256];
    snprintf(extra, sizeof(extra),
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", accept);
    http1_write_head(conn, 101, NULL, extra);
    http1_attach_stream(exchange, s);
    return s;
}

size_t api_stream_pending(const struct api_stream *s)
{
    if (s->conn == NULL)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(s->conn->bev));
}

bool api_stream_is_websocket(const struct api_stream *s)
{
    return s->websocket;
}

static void ws_send(struct api_stream *s, uint8_t opcode, const void *data, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(s->conn->bev);
    uint8_t head[WS_MAX_HEADER];
    size_t n = ws_write_header(head, opcode, len);
    evbuffer_add(out, head, n);
    if (len > 0)
        evbuffer_add(out, data, len);
}

int api_stream_write(struct api_stream *s, const void *data, size_t len)
{
    if (s->conn == NULL || s->closing || s->conn->closing)
        return -1;
    size_t frame = s->websocket ? WS_MAX_HEADER : 0;
    size_t pending = api_stream_pending(s);
    if (len > s->max_buffer || pending + len + frame > s->max_buffer)
        return -1;
    if (s->websocket)
        ws_send(s, WS_OP_TEXT, data, len);
    else if (len > 0)
        evbuffer_add(bufferevent_get_output(s->conn->bev), data, len);
    return 0;
}

void api_stream_ping(struct api_stream *s)
{
    if (s->websocket && s->conn != NULL && !s->closing)
        ws_send(s, WS_OP_PING, NULL, 0);
}

static void ws_send_close(struct api_stream *s, uint16_t code)
{
    if (s->closing)
        return;
    uint8_t body[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    ws_send(s, WS_OP_CLOSE, body, sizeof(body));
    s->closing = true;
}

/* Ends the stream from this side: the connection closes once its output has
 * drained (and lingers, so the client reads everything before the FIN). */
static void stream_close_conn(struct api_stream *s)
{
    struct api_conn *conn = s->conn;
    s->conn = NULL;
    http1_detach_stream(conn);
    api_conn_close_soon(conn);
}

void api_stream_end(struct api_stream *s, const void *final, size_t len, uint16_t close_code)
{
    if (s->conn != NULL) {
        if (!s->closing && !s->conn->closing) {
            if (s->websocket) {
                if (final != NULL && len > 0)
                    ws_send(s, WS_OP_TEXT, final, len);
                ws_send_close(s, close_code ? close_code : WS_CLOSE_NORMAL);
            } else if (final != NULL && len > 0) {
                evbuffer_add(bufferevent_get_output(s->conn->bev), final, len);
            }
        }
        stream_close_conn(s);
    }
    if (s->in_dispatch)
        s->ended = true;
    else
        stream_free(s);
}

/* The client broke the protocol or closed: answer with a close frame, tell
 * the owner, and let the connection go. */
static void ws_fail(struct api_stream *s, uint16_t code)
{
    ws_send_close(s, code);
    if (s->cb.on_close != NULL)
        s->cb.on_close(s, s->ctx);
    stream_close_conn(s);
    stream_free(s);
}

/* One complete control frame or data fragment (payload unmasked). Returns
 * false when the stream has been torn down. */
static bool ws_on_frame(struct api_stream *s, const struct ws_frame_header *h, uint8_t *payload,
                        size_t len)
{
    switch (h->opcode) {
    case WS_OP_PING:
        if (!s->closing)
            ws_send(s, WS_OP_PONG, payload, len);
        return true;
    case WS_OP_PONG:
        return true;
    case WS_OP_CLOSE: {
        uint16_t code = WS_CLOSE_NORMAL;
        if (len == 1) {
            ws_fail(s, WS_CLOSE_PROTOCOL);
            return false;
        }
        if (len >= 2) {
            code = (uint16_t)((payload[0] << 8) | payload[1]);
            /* Codes a peer may not send (RFC 6455 7.4.1, 7.4.2). */
            if (code < 1000 || code == 1004 || code == 1005 || code == 1006 ||
                (code > 1011 && code < 3000) || code >= 5000)
                code = WS_CLOSE_PROTOCOL;
        }
        ws_fail(s, code);
        return false;
    }
    default:
        break;
    }
    /* Data: a new message (text/binary) or the next fragment (continuation). */
    if (h->opcode == WS_OP_CONTINUATION) {
        if (!s->in_message) {
            ws_fail(s, WS_CLOSE_PROTOCOL);
            return false;
        }
    } else {
        if (s->in_message) {
            ws_fail(s, WS_CLOSE_PROTOCOL);
            return false;
        }
        s->in_message = true;
        s->message_binary = h->opcode == WS_OP_BINARY;
    }
    if (evbuffer_add(s->message, payload, len) < 0) {
        ws_fail(s, WS_CLOSE_TOO_BIG);
        return false;
    }
    if (h->fin) {
        s->in_message = false;
        size_t n = evbuffer_get_length(s->message);
        const uint8_t *data = n > 0 ? evbuffer_pullup(s->message, -1) : (const uint8_t *)"";
        if (data == NULL || (!s->message_binary && !ws_utf8_valid(data, n))) {
            ws_fail(s, data == NULL ? WS_CLOSE_TOO_BIG : WS_CLOSE_BAD_DATA);
            return false;
        }
        if (s->cb.on_message != NULL) {
            s->in_dispatch = true;
            s->cb.on_message(s, s->message_binary, data, n, s->ctx);
            s->in_dispatch = false;
            if (s->ended) {
                stream_free(s);
                return false;
            }
        }
        evbuffer_drain(s->message, n);
    }
    return true;
}

void api_stream_on_input(struct api_stream *s, struct evbuffer *in)
{
    if (!s->websocket) {
        /* Nothing is expected from an event-stream client; drop what it sends. */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    for (;;) {
        if (s->closing) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        if (!s->in_frame) {
            uint8_t head[WS_MAX_HEADER];
            ev_ssize_t got = evbuffer_copyout(in, head, sizeof(head));
            if (got <= 0)
                return;
            int r = ws_parse_header(head, (size_t)got, true, &s->frame);
            if (r == 0)
                return;
            if (r < 0) {
                ws_fail(s, (uint16_t)-r);
                return;
            }
            /* A message (all its fragments) over the limit is refused before
             * any of it is buffered. */
            uint64_t have = s->in_message ? evbuffer_get_length(s->message) : 0;
            if ((s->frame.opcode & 0x8) == 0 &&
                (s->frame.payload_len > s->max_message || have + s->frame.payload_len > s->max_message)) {
                ws_fail(s, WS_CLOSE_TOO_BIG);
                return;
            }
            evbuffer_drain(in, s->frame.header_len);
            s->in_frame = true;
            s->frame_read = 0;
        }
        /* Frames are at most max_message (or 125 for control): wait for all of it. */
        size_t want = (size_t)s->frame.payload_len;
        if (evbuffer_get_length(in) < want)
            return;
        uint8_t *payload = want > 0 ? evbuffer_pullup(in, (ev_ssize_t)want) : (uint8_t *)"";
        if (payload == NULL) {
            ws_fail(s, WS_CLOSE_TOO_BIG);
            return;
        }
        uint8_t *copy = NULL;
        if (want > 0) {
            copy = malloc(want);
            if (copy == NULL) {
                ws_fail(s, WS_CLOSE_TOO_BIG);
                return;
            }
            memcpy(copy, payload, want);
            ws_unmask(copy, want, s->frame.mask, 0);
        }
        evbuffer_drain(in, want);
        s->in_frame = false;
        struct ws_frame_header h = s->frame;
        bool alive = ws_on_frame(s, &h, copy, want);
        free(copy);
        if (!alive)
            return;
    }
}

void api_stream_on_drained(struct api_stream *s)
{
    if (s->cb.on_drained != NULL && !s->closing)
        s->cb.on_drained(s, s->ctx);
}

void api_stream_on_conn_gone(struct api_stream *s)
{
    s->conn = NULL;
    if (s->cb.on_close != NULL)
        s->cb.on_close(s, s->ctx);
    stream_free(s);
}
