/* The API listener: one TCP port (or Unix socket) that serves
 *   - HTTP/1.1: the Connect protocol (unary; JSON or binary protobuf bodies)
 *     and plain routes such as GET /ping;
 *   - HTTP/2 (prior knowledge, h2c): gRPC.
 * Each accepted connection is handed to one side by its first bytes (the
 * HTTP/2 client preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" or not).
 *
 * Services are described by protobuf-c descriptors, so the same handler serves
 * Connect JSON, Connect proto and gRPC. Handlers are asynchronous: a handler
 * receives a call and must finish it exactly once, now or later, with
 * api_call_reply() or api_call_fail(). The decoded request stays valid until
 * then; the API frees it afterwards. If the client goes away first, the call
 * stays valid and its reply is discarded.
 *
 * Limits (request size, connections, header sizes) are enforced here: a request
 * over a limit is answered with an error and never reaches a handler.
 *
 * Streaming (see "Streaming calls" below): a method may be server-streaming
 * (one request, any number of responses, then a status), client-streaming or
 * bidirectional (request messages as they arrive). Server streaming is served
 * over gRPC and over Connect streaming on HTTP/1.1 (application/connect+json,
 * application/connect+proto: enveloped messages and an end-of-stream message);
 * client streaming and bidirectional calls over gRPC only. Plain routes may
 * match a path prefix, answer later, read their request body in chunks (with
 * backpressure) and stream their response (api_exchange_stream_begin). Every
 * buffer toward a client is bounded; producers pause on a full buffer and
 * resume on on_drained. */
#ifndef ENCLAVE_API_API_H
#define ENCLAVE_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/error.h"

struct event_base;
struct api_server;
struct api_call;
struct api_exchange;

/* For unary and server-streaming methods, request is the decoded request. For
 * client-streaming and bidirectional methods it is NULL: the handler runs when
 * the call opens and gets the messages through api_call_callbacks.on_message. */
typedef void (*api_method_fn)(struct api_call *call, const ProtobufCMessage *request, void *ctx);

enum api_method_kind {
    API_METHOD_UNARY = 0,
    API_METHOD_SERVER_STREAMING, /* gRPC and Connect streaming */
    API_METHOD_CLIENT_STREAMING, /* gRPC only */
    API_METHOD_BIDI_STREAMING,   /* gRPC only (HTTP/2 full duplex) */
};

struct api_method {
    const char *name; /* "StartSession" */
    const ProtobufCMessageDescriptor *input;
    const ProtobufCMessageDescriptor *output;
    api_method_fn handler;
    enum api_method_kind kind; /* 0: unary */
    /* Streaming output: bytes that may wait for the client; 0 = 1 MiB. */
    size_t max_buffer;
};

struct api_service {
    const char *full_name; /* "agent.v1.AgentService" */
    const struct api_method *methods;
    size_t n_methods;
    void *ctx; /* passed to every handler */
};

struct api_config {
    const char *listen;      /* "127.0.0.1:7339"; ignored when socket_path is set */
    const char *socket_path; /* a Unix socket instead of TCP */
    size_t max_request_bytes;     /* default 4 MiB */
    unsigned max_connections;     /* default 256 */
    /* Below: 0 means the default. */
    int allow_remote;             /* bind a non-loopback TCP address; default 0 (refused) */
    size_t max_header_bytes;      /* request line + headers (HTTP/1.1), header list (HTTP/2); default 16 KiB */
    unsigned header_timeout_ms;   /* from a request's first byte to the end of its headers; default 10 s */
    unsigned request_timeout_ms;  /* from a request's first byte to the end of its body; default 30 s */
    unsigned idle_timeout_ms;     /* a connection with nothing in flight; default 60 s */
    unsigned max_streams;         /* HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; default 100 */
    /* Request bytes all HTTP/2 connections together may hold; past it, data
     * is refused and new streams are reset (REFUSED_STREAM). Default 16
     * requests' worth (16 * max_request_bytes). */
    size_t max_buffered_bytes;
};

int api_server_new(struct event_base *base, const struct api_config *config,
                   struct api_server **out, struct error *err);
/* The service description must outlive the server. */
int api_server_add_service(struct api_server *server, const struct api_service *service,
                           struct error *err);
/* The address actually bound ("127.0.0.1:7339" or the socket path). */
const char *api_server_address(const struct api_server *server);
/* Serves an already connected stream socket as if it had been accepted (tests,
 * fuzzing, socket activation). Takes the fd, also on failure. peer may be NULL. */
int api_server_adopt(struct api_server *server, int fd, const char *peer, struct error *err);
/* Stops accepting and closes every connection; calls in flight are discarded. */
void api_server_free(struct api_server *server);

/* Finishing a call: exactly once per call (the call is freed inside). The
 * response must be of the method's output type (else the client gets
 * internal). It is serialized at once; ownership stays with the caller. After
 * the client's deadline has passed (it got deadline_exceeded) or the client has
 * gone, the reply is discarded. api_call_fail with a NULL or ERR_OK error
 * answers unknown. */
void api_call_reply(struct api_call *call, const ProtobufCMessage *response);
void api_call_fail(struct api_call *call, const struct error *err);

/* About the caller: "connect" or "grpc"; the peer as "tcp:127.0.0.1:40000" or "unix:uid:1000". */
const char *api_call_transport(const struct api_call *call);
const char *api_call_peer(const struct api_call *call);
/* The client's deadline in ms from now (grpc-timeout / connect-timeout-ms), or 0 for none. */
uint64_t api_call_timeout_ms(const struct api_call *call);
/* True once the client has gone away; a handler may stop work early. */
int api_call_is_abandoned(const struct api_call *call);

/* ---- Streaming calls.
 *
 * A streaming handler keeps the call and finishes it exactly once, as a unary
 * one does: api_call_finish(call, NULL) ends the stream with OK (gRPC trailers
 * grpc-status 0; Connect: an end-of-stream message without error),
 * api_call_finish(call, err) or api_call_fail(call, err) with that error.
 * api_call_reply on a server-streaming call sends the message, then OK. A
 * stream that already sent messages still ends with an error status when
 * finished with one (the client sees the messages, then the error).
 *
 * Output backpressure: api_call_send queues one message of the output type
 * into the call's buffer (bounded by api_method.max_buffer). It returns
 *   1  queued, room for more;
 *   0  queued, and the buffer is now full: produce nothing more (pause the
 *      source) until on_drained runs;
 *  -1  not queued: the buffer was already full (the handler ignored 0), the
 *      message is of the wrong type, or the call is answered (client gone,
 *      deadline passed). The handler then finishes the call.
 * A client that reads nothing for 30 s while output waits is dropped.
 *
 * Callbacks (all optional) run from the event loop, never from inside
 * api_call_send/finish; after api_call_finish none runs again.
 *   on_message:    client/bidi streaming: one request message, decoded; valid
 *                  until the callback returns.
 *   on_half_close: client/bidi streaming: the client has sent its last message.
 *   on_drained:    the output buffer has drained (below half of max_buffer)
 *                  after api_call_send returned 0.
 *   on_cancel:     the client went away, reset the stream, or its deadline
 *                  passed (it got deadline_exceeded). The call stays valid
 *                  and must still be finished; what it sends is discarded.
 * Input backpressure (client/bidi): api_call_pause_receive(call, true) stops
 * on_message (HTTP/2 flow control stops the client once its window of 64 KiB
 * per stream is used); false resumes it. Each request message is at most
 * api_config.max_request_bytes. */
struct api_call_callbacks {
    void (*on_message)(struct api_call *call, const ProtobufCMessage *message, void *ctx);
    void (*on_half_close)(struct api_call *call, void *ctx);
    void (*on_drained)(struct api_call *call, void *ctx);
    void (*on_cancel)(struct api_call *call, void *ctx);
};
void api_call_set_callbacks(struct api_call *call, const struct api_call_callbacks *cb, void *ctx);
int api_call_send(struct api_call *call, const ProtobufCMessage *message);
void api_call_finish(struct api_call *call, const struct error *err);
void api_call_pause_receive(struct api_call *call, bool paused);
/* Bytes of output waiting for the client. */
size_t api_call_pending(const struct api_call *call);

/* Plain HTTP/1.1 routes (exact path match), e.g. GET /ping. The handler must
 * call api_exchange_reply() before it returns (a handler that does not is
 * answered 500); the exchange is gone afterwards. A path registered for another
 * method answers 405. */
typedef void (*api_route_fn)(struct api_exchange *exchange, void *ctx);
int api_server_add_route(struct api_server *server, const char *method, const char *path,
                         api_route_fn handler, void *ctx, struct error *err);

/* Routes with options. An exact route wins over a prefix route; among prefix
 * routes the longest prefix wins.
 *   prefix:      path is a prefix ("/v1/sessions/" matches
 *                "/v1/sessions/abc/files/workspace/f"); api_exchange_path
 *                gives the full path (still percent-encoded).
 *   async:       the handler may return without replying and answer later
 *                (api_exchange_reply or a stream) from the event loop. Until
 *                then the exchange stays valid; if the client goes away first,
 *                on_abort runs and the exchange is freed after it returns
 *                (the handler must not reply then). Implied by stream_body.
 *   stream_body: the handler runs once the request headers are in, before
 *                the body; the body arrives in chunks through on_body (at most
 *                64 KiB each) and ends with on_body_end. The body may be up to
 *                max_body bytes (Content-Length or chunked; 0 = no limit other
 *                than the request timeout below), is never held in full, and
 *                a paused body stops reading from the socket (TCP pushes back
 *                on the client). A body that stalls for request_timeout_ms
 *                (no byte while not paused) is aborted. A reply before
 *                on_body_end closes the connection after it (the rest of the
 *                body is not read).
 * Request admission (limits, credentials) runs before any handler, as for
 * every route. */
struct api_route_options {
    bool prefix;
    bool async;
    bool stream_body;
    uint64_t max_body;
};
int api_server_add_route_opts(struct api_server *server, const char *method, const char *path,
                              const struct api_route_options *opts, api_route_fn handler,
                              void *ctx, struct error *err);

const char *api_exchange_query(const struct api_exchange *exchange); /* after '?', or "" */
/* The request path, without the query, as sent (percent-encoded). */
const char *api_exchange_path(const struct api_exchange *exchange);
/* "GET", "PUT", ... */
const char *api_exchange_method(const struct api_exchange *exchange);
/* The request's Content-Length, or -1 when the body is chunked or absent. */
int64_t api_exchange_content_length(const struct api_exchange *exchange);
/* Answers with a complete body. extra_headers variant: complete "Name: value\r\n"
 * lines, or NULL. */
void api_exchange_reply(struct api_exchange *exchange, int status, const char *content_type,
                        const void *body, size_t len);
void api_exchange_reply_headers(struct api_exchange *exchange, int status,
                                const char *content_type, const char *extra_headers,
                                const void *body, size_t len);
/* A request header a route may read: one of "last-event-id", "upgrade",
 * "connection", "sec-websocket-key", "sec-websocket-version", "content-type",
 * "range", "if-none-match", "host", "origin", "authorization" (lower case).
 * NULL when absent, repeated or over 256 bytes. */
const char *api_exchange_header(const struct api_exchange *exchange, const char *name);
/* The peer, as api_call_peer gives it. */
const char *api_exchange_peer(const struct api_exchange *exchange);

/* Streamed request bodies and the life of an async exchange.
 *   on_body:     one chunk of the body (valid until return). The handler may
 *                call api_exchange_pause_body(ex, true) here, or reply.
 *   on_body_end: the whole body has arrived (also for an empty body).
 *   on_abort:    the client went away, the body broke the protocol, passed
 *                max_body or stalled; why says which. The exchange is freed
 *                right after on_abort returns; do not reply.
 * Set them in the handler, before it returns. */
struct api_exchange_callbacks {
    void (*on_body)(struct api_exchange *exchange, const void *data, size_t len, void *ctx);
    void (*on_body_end)(struct api_exchange *exchange, void *ctx);
    void (*on_abort)(struct api_exchange *exchange, const struct error *why, void *ctx);
};
void api_exchange_set_callbacks(struct api_exchange *exchange,
                                const struct api_exchange_callbacks *cb, void *ctx);
/* Stops (true) or resumes (false) the body; a resumed body delivers what is
 * already read from the next turn of the event loop, not from inside this call. */
void api_exchange_pause_body(struct api_exchange *exchange, bool paused);

/* Streaming replies on a plain route: instead of api_exchange_reply, a handler
 * may turn the exchange into a stream that outlives it (Server-Sent Events, a
 * WebSocket). The connection then carries nothing else.
 *
 * Lifetime: the stream belongs to the API. Its owner (ctx) keeps the pointer
 * until either it calls api_stream_end (the stream is gone at once), or
 * on_close runs (the client went away, broke the protocol, closed the
 * WebSocket, or the server is being freed; the stream is freed right after
 * on_close returns, and on_close must not call api_stream_end).
 *
 * Backpressure: a stream has a bound on the bytes that wait for the client.
 * api_stream_write refuses (returns -1, nothing written) data that would pass
 * it; the owner then ends the stream, usually with a final event saying why,
 * rather than buffering without bound. A client that reads nothing for 30 s
 * while output waits is dropped (on_close). */
struct api_stream;

struct api_stream_callbacks {
    void (*on_close)(struct api_stream *stream, void *ctx);
    /* The output has drained completely (optional): room to write more. */
    void (*on_drained)(struct api_stream *stream, void *ctx);
    /* A complete WebSocket text or binary message from the client (optional;
     * without it they are read and dropped). */
    void (*on_message)(struct api_stream *stream, bool binary, const void *data, size_t len,
                       void *ctx);
};

struct api_stream_options {
    size_t max_buffer;  /* bytes waiting for the client; 0 = 1 MiB */
    size_t max_message; /* WebSocket: largest message accepted from the client; 0 = 64 KiB */
    const char *extra_headers; /* complete "Name: value\r\n" lines, or NULL */
};

/* Starts a raw streaming reply: the status line and headers now, then the
 * body as written, ended by closing the connection (no Content-Length unless
 * opts->extra_headers gives one). A GET download writes chunks while
 * api_stream_pending stays under max_buffer and continues in on_drained.
 * Also works from an async or stream_body exchange (after on_body_end). */
struct api_stream *api_exchange_stream_begin(struct api_exchange *exchange, int status,
                                             const char *content_type,
                                             const struct api_stream_options *opts,
                                             const struct api_stream_callbacks *cb, void *ctx);
/* Checks the request is a WebSocket opening handshake (RFC 6455 section 4.2,
 * version 13) and answers 101 Switching Protocols; each api_stream_write is
 * then one text message. Pings are answered, a close is echoed, client frames
 * must be masked and within max_message. If the handshake is invalid, this
 * replies 400 (426 for a wrong version) on the exchange and returns NULL. */
struct api_stream *api_exchange_websocket(struct api_exchange *exchange,
                                          const struct api_stream_options *opts,
                                          const struct api_stream_callbacks *cb, void *ctx);
/* Queues data (raw bytes, or one WebSocket text message). -1 when the stream
 * is closing or the data would pass max_buffer: nothing is written. */
int api_stream_write(struct api_stream *stream, const void *data, size_t len);
/* Bytes waiting for the client. */
size_t api_stream_pending(const struct api_stream *stream);
bool api_stream_is_websocket(const struct api_stream *stream);
/* Sends a WebSocket ping (no-op on a raw stream). */
void api_stream_ping(struct api_stream *stream);
/* Writes final (may be NULL) past the bound, then closes: a raw stream's
 * connection is closed after the output drains; a WebSocket gets a close frame
 * with close_code (1000 normal, 1008 policy, 1011 error). The stream is freed;
 * on_close is not called. */
void api_stream_end(struct api_stream *stream, const void *final, size_t len,
                    uint16_t close_code);

/* ------------------------------------------------------------------ who may call
 *
 * Every request is admitted (or refused) here, before any route or handler
 * runs, so a new route or method is covered without doing anything:
 *   - Unix socket: the peer's uid (SO_PEERCRED) must be the server's effective
 *     uid or 0; that caller is the principal "operator". Else 403.
 *   - TCP: Host (HTTP/2: :authority) must be 127.0.0.1:PORT, localhost:PORT or
 *     [::1]:PORT, and an Origin, when present, the server's own origin
 *     (http:// and one of those), else 403 (DNS rebinding, cross-site pages).
 *     Then a credential: "Authorization: Bearer TOKEN" (gRPC: the
 *     authorization metadata), or on HTTP/1.1 the session cookie that
 *     GET /login?token=TOKEN sets; else 401 (Connect unauthenticated, gRPC
 *     status 16). The agent token makes the principal "agent", the operator
 *     token "operator". GET /ping and GET /login need no credential.
 * No CORS headers are ever sent. Until api_server_set_auth is called, TCP
 * requests other than GET /ping are refused. */
#define API_TOKEN_BYTES 32  /* random bytes in a generated token (64 hex digits) */
#define API_TOKEN_MIN 32    /* characters */
#define API_TOKEN_MAX 128

/* A refused request, for the audit log. Reports are rate-limited: at most
 * max_reports_per_s a second; suppressed counts the refusals not reported
 * since the previous report. Strings are the server's, valid during the call;
 * method and path are printable ASCII, cut at 128 bytes. */
struct api_refusal {
    const char *peer;      /* as api_call_peer */
    const char *transport; /* "http" or "grpc" */
    const char *method;
    const char *path;
    int status;            /* 401 or 403 */
    const char *reason;
    uint64_t suppressed;
};
typedef void (*api_refusal_fn)(const struct api_refusal *refusal, void *ctx);

struct api_auth {
    const char *agent_token;    /* principal "agent"; API_TOKEN_MIN..MAX token68 characters */
    const char *operator_token; /* principal "operator"; NULL for none; must differ */
    /* Tests only (tools/api-testd): TCP requests need no credential and no
     * Host/Origin check; they count as "agent". */
    bool allow_anonymous;
    api_refusal_fn on_refused;  /* optional */
    void *ctx;
    unsigned max_reports_per_s; /* 0: 10 */
};
/* The tokens are copied. Call before the event loop runs. */
int api_server_set_auth(struct api_server *server, const struct api_auth *auth, struct error *err);
/* One-time login codes, so that a browser started by a program (enclave ui)
 * never has a token on its command line, which every local user can read:
 * POST /login/code (HTTP/1.1, with a credential) answers
 * {"code": CODE, "expiresInS": API_LOGIN_CODE_TTL_S}, and GET
 * /login?code=CODE then sets the session cookie of the principal that asked,
 * once, within that time. At most API_LOGIN_CODES are outstanding (a new one
 * takes the oldest one's place). */
#define API_LOGIN_CODE_HEX 32
#define API_LOGIN_CODE_TTL_S 60
#define API_LOGIN_CODES 8
/* "operator" or "agent"; "none" on GET /ping or /login without a credential. */
const char *api_call_principal(const struct api_call *call);
const char *api_exchange_principal(const struct api_exchange *exchange);

/* Token files ($ENCLAVE_HOME/run/api-token and operator-token): one line.
 * api_token_load_or_create reads the token, or makes a new one (API_TOKEN_BYTES
 * from the OpenSSL RNG, hex) in a mode 0600 file when there is none; it
 * refuses a file that is not a regular file owned by this user with mode
 * 0600 (or stricter), or whose content is not a token. api_token_create
 * replaces the file with a new token. Both refuse a symbolic link. api_token_read reads without the owner
 * and mode checks (a client). out needs API_TOKEN_MAX + 1 bytes. */
int api_token_load_or_create(const char *path, char *out, size_t size, struct error *err);
int api_token_create(const char *path, char *out, size_t size, struct error *err);
int api_token_read(const char *path, char *out, size_t size, struct error *err);

/* Enveloped messages, as gRPC and Connect streaming frame them: a flags byte,
 * a big-endian u32 length, the message (src/api/envelope.c; also for clients).
 * Connect marks its end-of-stream message with API_ENVELOPE_END_STREAM; its
 * payload is JSON: {} or {"error": {"code": "...", "message": "..."}}. */
#define API_ENVELOPE_PREFIX 5
#define API_ENVELOPE_COMPRESSED 0x01
#define API_ENVELOPE_END_STREAM 0x02
/* Looks at buf[0..len) for one envelope. Returns the bytes it takes (prefix
 * plus payload) with *flags, *payload, *payload_len set; 0 when more bytes are
 * needed; -1 when the flags are not allowed (bits outside allowed_flags; a
 * compressed message is never allowed); -2 when the length is over max. */
int api_envelope_decode(const uint8_t *buf, size_t len, uint8_t allowed_flags, size_t max,
                        uint8_t *flags, const uint8_t **payload, size_t *payload_len);
void api_envelope_prefix(uint8_t out[API_ENVELOPE_PREFIX], uint8_t flags, uint32_t length);

#endif
