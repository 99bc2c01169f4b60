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
 * over a limit is answered with an error and never reaches a handler. */
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

typedef void (*api_method_fn)(struct api_call *call, const ProtobufCMessage *request, void *ctx);

struct api_method {
    const char *name; /* "StartSession" */
    const ProtobufCMessageDescriptor *input;
    const ProtobufCMessageDescriptor *output;
    api_method_fn handler;
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

/* Plain HTTP/1.1 routes (exact path match), e.g. GET /ping. The handler must
 * call api_exchange_reply() before it returns (a handler that does not is
 * answered 500); the exchange is gone afterwards. A path registered for another
 * method answers 405. */
typedef void (*api_route_fn)(struct api_exchange *exchange, void *ctx);
int api_server_add_route(struct api_server *server, const char *method, const char *path,
                         api_route_fn handler, void *ctx, struct error *err);
const char *api_exchange_query(const struct api_exchange *exchange); /* after '?', or "" */
void api_exchange_reply(struct api_exchange *exchange, int status, const char *content_type,
                        const void *body, size_t len);
/* A request header a route may read: one of "last-event-id", "upgrade",
 * "connection", "sec-websocket-key", "sec-websocket-version" (lower case).
 * NULL when absent, repeated or over 256 bytes. */
const char *api_exchange_header(const struct api_exchange *exchange, const char *name);
/* The peer, as api_call_peer gives it. */
const char *api_exchange_peer(const struct api_exchange *exchange);

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
 * body as written, ended by closing the connection (no Content-Length). */
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

#endif
