/* Shared between the parts of the API listener (server.c, http1.c, http2.c).
 * Not a public header: nothing outside src/api/ includes it. */
#ifndef ENCLAVE_API_INTERNAL_H
#define ENCLAVE_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "api/api.h"

#define API_PEER_MAX 80

struct api_route {
    char *method;
    char *path;
    size_t path_len;
    struct api_route_options opts;
    api_route_fn handler;
    void *ctx;
    struct api_route *next;
};

struct api_service_node {
    const struct api_service *service;
    struct api_service_node *next;
};

enum api_conn_kind { API_CONN_SNIFF, API_CONN_HTTP1, API_CONN_HTTP2 };

enum api_principal { API_PRINCIPAL_NONE, API_PRINCIPAL_AGENT, API_PRINCIPAL_OPERATOR };

#define API_SESSION_HEX 64 /* HMAC-SHA256, hex */
#define API_COOKIE_MAX 4096

/* The credentials a server accepts (auth.c). */
struct api_auth_state {
    bool set;              /* api_server_set_auth ran */
    bool allow_anonymous;
    char agent_token[API_TOKEN_MAX + 1];
    char operator_token[API_TOKEN_MAX + 1]; /* "" for none */
    /* The session cookie's values: HMAC-SHA256(token, label), so a cookie is
     * not the token itself and changes when the token does. */
    char agent_session[API_SESSION_HEX + 1];
    char operator_session[API_SESSION_HEX + 1];
    char cookie_name[40]; /* "enclave_session_PORT": cookies are not scoped by port */
    struct {
        char code[API_LOGIN_CODE_HEX + 1]; /* "" when free or used */
        enum api_principal principal;
        uint64_t expires_ms;
    } login_codes[API_LOGIN_CODES];
    api_refusal_fn on_refused;
    void *ctx;
    unsigned max_reports_per_s;
    uint64_t window_start_ms;
    unsigned reports_in_window;
    uint64_t suppressed;
};

struct http1_conn;
struct api_stream;
struct evbuffer;
struct http2_conn;

/* One accepted connection. Freed only from the top of an event callback
 * (api_conn_free), never from inside a parser callback or a handler: code
 * below that level calls api_conn_close_soon() instead. */
struct api_conn {
    struct api_server *server;
    struct bufferevent *bev;
    struct event *timer; /* header / request / idle deadlines, and deferred close */
    char peer[API_PEER_MAX];
    bool unix_peer;   /* AF_UNIX: admitted by uid, not by token */
    bool peer_uid_ok; /* unix_peer and the uid is ours or 0 */
    unsigned peer_uid;
    enum api_conn_kind kind;
    bool closing;       /* flush the output, then linger, then free */
    bool lingering;     /* output shut down; reading and dropping until EOF or LINGER_MS */
    bool in_callback;   /* inside one of our event callbacks: do not free yet */
    struct http1_conn *h1;
    struct http2_conn *h2;
    struct api_conn *prev, *next;
};

struct api_server {
    struct event_base *base;
    struct evconnlistener *listener;
    char address[256];
    char *socket_path; /* unlinked on free */
    size_t max_request_bytes;
    unsigned max_connections;
    size_t max_header_bytes;
    unsigned header_timeout_ms;
    unsigned request_timeout_ms;
    unsigned idle_timeout_ms;
    unsigned max_streams;
    size_t max_buffered_bytes; /* across all HTTP/2 connections */
    unsigned port; /* the TCP port bound (Host and Origin checks); 0 on a Unix socket */
    struct api_auth_state auth;
    unsigned n_connections;
    struct api_conn *conns;
    struct api_call *calls; /* live calls, detached on free */
    struct api_route *routes;
    struct api_service_node *services;
};

enum api_call_wire {
    API_WIRE_CONNECT_JSON,
    API_WIRE_CONNECT_PROTO,
    API_WIRE_GRPC,
    API_WIRE_CONNECT_STREAM_JSON,  /* application/connect+json */
    API_WIRE_CONNECT_STREAM_PROTO, /* application/connect+proto */
};

/* Deferred notifications to a streaming handler (api_call.notify_flags). */
#define API_NOTIFY_DRAINED 1u
#define API_NOTIFY_CANCEL 2u
#define API_NOTIFY_HALF_CLOSE 4u
#define API_NOTIFY_RESUME 8u /* the transport delivers buffered input */

struct api_call {
    struct api_server *server; /* NULL once detached (server freed) */
    const struct api_service *service;
    const struct api_method *method;
    ProtobufCMessage *request;
    enum api_call_wire wire;
    enum api_principal principal;
    char peer[API_PEER_MAX];
    uint64_t deadline_ms; /* monotonic, 0 for none */
    struct event *deadline;
    bool finished;  /* the handler called reply or fail */
    bool answered;  /* the client got its answer, or will never get one */
    bool abandoned; /* the client went away */
    bool in_handler;
    struct api_conn *conn; /* NULL once answered or abandoned */
    int32_t stream_id;     /* HTTP/2 stream */
    /* Streaming. */
    struct api_call_callbacks cb;
    void *cb_ctx;
    size_t max_buffer;
    struct event *notify;  /* runs the deferred callbacks below */
    unsigned notify_flags; /* API_NOTIFY_* */
    bool want_drained;     /* api_call_send said full */
    bool cancel_told;
    bool half_close_told;
    bool paused;           /* api_call_pause_receive */
    bool head_sent;        /* Connect streaming: the response head is written */
    struct api_call *prev, *next;
};
bool api_call_is_streaming(const struct api_call *call);
/* Runs on_message; false when the handler finished the call (it is gone). */
bool api_call_deliver(struct api_call *call, const ProtobufCMessage *message);
/* The transport answers the client with err (e.g. a malformed request
 * message) and the handler gets on_cancel. */
void api_call_transport_fail(struct api_call *call, const struct error *err);
/* Schedules callbacks (API_NOTIFY_*) to run from the event loop. */
void api_call_notify(struct api_call *call, unsigned flags);

/* server.c */
uint64_t api_now_ms(void);
void api_conn_close_soon(struct api_conn *conn);
void api_conn_set_timer(struct api_conn *conn, unsigned ms);
void api_conn_clear_timer(struct api_conn *conn);
/* Finds "/<service>/<method>"; *service_known tells 404-with-service from 404. */
const struct api_method *api_server_find_method(struct api_server *server, const char *path,
                                                const struct api_service **service);
const struct api_route *api_server_find_route(struct api_server *server, const char *method,
                                              const char *path, bool *path_known);
/* Starts a call whose requests stream in (client/bidi): no request yet. */
/* Starts a call: takes ownership of request (also on failure, when out of
 * memory). Stores the call in *slot, then runs the handler, which may finish
 * the call (and the transport clear *slot) before this returns. */
int api_call_start(struct api_conn *conn, const struct api_service *service,
                   const struct api_method *method, ProtobufCMessage *request,
                   enum api_call_wire wire, enum api_principal principal, int32_t stream_id,
                   uint64_t timeout_ms, struct api_call **slot);
/* The transport lets go of a call (client gone, or answered on its own). */
void api_call_detach(struct api_call *call, bool abandoned);

/* http1.c */
int http1_conn_new(struct api_conn *conn);
void http1_conn_free(struct api_conn *conn);
void http1_on_read(struct api_conn *conn);
/* false: free the connection now (a call in flight is abandoned). */
bool http1_on_eof(struct api_conn *conn);
void http1_on_timer(struct api_conn *conn);
void http1_on_drained(struct api_conn *conn);
/* response NULL and err NULL: a streaming call ends with OK. */
void http1_call_done(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *response,
                     const struct error *err);
int http1_call_send(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *message);
size_t http1_call_pending(struct api_conn *conn, const struct api_call *call);

/* http2.c */
int http2_conn_new(struct api_conn *conn);
void http2_conn_free(struct api_conn *conn);
void http2_on_read(struct api_conn *conn);
void http2_on_timer(struct api_conn *conn);
void http2_on_drained(struct api_conn *conn);
void http2_call_done(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *response,
                     const struct error *err);
int http2_call_send(struct api_conn *conn, struct api_call *call, const ProtobufCMessage *message);
size_t http2_call_pending(struct api_conn *conn, const struct api_call *call);
/* Input of a client/bidi call: deliver what is buffered (after a resume). */
void http2_call_resume(struct api_conn *conn, struct api_call *call);

/* A plain-route request while its handler runs (http1.c). An exchange of an
 * async or stream_body route lives on the heap until it is answered. */
struct api_exchange {
    struct api_conn *conn;
    const char *query;
    enum api_principal principal;

    const char *path;
    const char *method;
    int64_t content_length;
    bool replied; /* answered, or turned into a stream */
    bool heap;
    bool in_handler;
    bool stream_body;
    bool body_paused;
    bool body_ended;
    struct api_exchange_callbacks cb;
    void *cb_ctx;
};
/* http1.c: the exchange is answered (or became a stream): frees a heap one. */
void http1_exchange_done(struct api_exchange *exchange);
/* http1.c, for stream.c: a request header by table name (NULL: absent or bad);
 * writing a status line plus headers with no Content-Length; handing the
 * connection over to a stream (it then reads and writes nothing else). */
const char *http1_header(struct api_conn *conn, const char *name);
void http1_write_head(struct api_conn *conn, int status, const char *content_type,
                      const char *extra_headers);
void http1_write_plain(struct api_conn *conn, int status, const char *extra, const char *text);
void http1_attach_stream(struct api_exchange *exchange, struct api_stream *stream);
void http1_detach_stream(struct api_conn *conn);

/* stream.c: the connection's side of a stream. */
void api_stream_on_input(struct api_stream *stream, struct evbuffer *in);
void api_stream_on_drained(struct api_stream *stream);
/* The connection is being freed: on_close, then the stream is freed. */
void api_stream_on_conn_gone(struct api_stream *stream);

/* ws.c: RFC 6455 framing, pure functions (fuzzed and unit tested alone). */
enum {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_BAD_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
#define WS_MAX_HEADER 14
struct ws_frame_header {
    bool fin;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;
};
/* Parses one frame header at buf[0..len). Returns 1 when complete (h filled),
 * 0 when more bytes are needed, or -(close code) when it breaks RFC 6455:
 * reserved bits set, an unknown opcode, a fragmented or long control frame,
 * a length not in minimal form or with the top bit set, or (when
 * require_mask) an unmasked frame. payload_len is not bounded here. */
int ws_parse_header(const uint8_t *buf, size_t len, bool require_mask, struct ws_frame_header *h);
/* XORs data with the mask, offset bytes into the payload. */
void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);
/* Writes an unmasked, final frame header; returns its size (2, 4 or 10). */
size_t ws_write_header(uint8_t out[WS_MAX_HEADER], uint8_t opcode, uint64_t payload_len);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
 * -1 when the key is not base64 of exactly 16 bytes. */
int ws_accept_key(const char *key, char out[29]);
/* Whether a text message is well-formed UTF-8 (RFC 3629), as RFC 6455
 * requires; a message that is not closes the connection with 1007. */
bool ws_utf8_valid(const uint8_t *s, size_t len);

/* auth.c: admission. A header that was repeated or too long is passed as
 * api_header_bad (compare the pointer). */
extern const char api_header_bad[];
struct api_admit_request {
    const char *transport; /* "http" or "grpc" */
    const char *method;    /* "GET" */
    const char *path;      /* without the query */
    const char *host;      /* Host, or HTTP/2 :authority; NULL when absent */
    const char *origin;
    const char *fetch_site; /* Sec-Fetch-Site, sent by browsers */
    const char *authorization;
    const char *cookie;    /* HTTP/1.1 only */
};
struct api_admit_result {
    int status;             /* 0: admitted; else 401 or 403 */
    enum error_kind kind;   /* ERR_UNAUTHENTICATED or ERR_PERMISSION_DENIED */
    char message[160];
    enum api_principal principal;
};
/* Decides, and reports a refusal (rate-limited) to the server's on_refused. */
void api_admit(struct api_conn *conn, const struct api_admit_request *req,
               struct api_admit_result *out);
/* Records what a connection's peer is (Unix uid or TCP); conn_new calls it. */
void api_conn_identify(struct api_conn *conn, int fd);
const char *api_principal_name(enum api_principal p);
/* GET /login?token=T (http1.c calls it for that path): a valid token gets the
 * session cookie and a 303 to /; anything else a 401 (reported). Writes the
 * whole response into out_* for http1.c to send. */
struct api_login_reply {
    int status;
    char headers[256]; /* complete "Name: value\r\n" lines */
    const char *body;
};
void api_login(struct api_conn *conn, const char *query, struct api_login_reply *out);
/* POST /login/code (http1.c calls it for that path, admitted): a new one-time
 * code for principal into out; -1 when there is no principal to log in as. */
int api_login_code_new(struct api_conn *conn, enum api_principal principal,
                       char out[API_LOGIN_CODE_HEX + 1]);

/* Pure parsers (unit tested and fuzzed alone). */
/* Host header value "host:port" naming this machine's loopback on port:
 * 127.0.0.1, localhost (any case) or [::1]; no port means 80. */
bool api_host_is_local(const char *host, unsigned port);
/* Origin "http://" + a local host (as above) with the same port rules. */
bool api_origin_is_local(const char *origin, unsigned port);
/* "Bearer TOKEN" (scheme in any case, one or more spaces): the token's start
 * and length, or false when the value is not that. */
bool api_parse_bearer(const char *value, const char **token, size_t *len);
/* Finds name=value in a Cookie header ("a=1; b=2"); false when absent, empty
 * or present more than once. */
bool api_cookie_get(const char *header, const char *name, const char **value, size_t *len);
/* A query parameter, percent-decoded into out; -1 when absent, repeated,
 * malformed or longer than size - 1. */
int api_query_get(const char *query, const char *name, char *out, size_t size);
/* Whether s is a token API_TOKEN_MIN..API_TOKEN_MAX characters of RFC 6750's
 * b64token alphabet. */
bool api_token_valid(const char *s, size_t len);

/* envelope.c (api_envelope_decode and api_envelope_prefix are in api.h).
 * A request body of exactly one envelope (flags 0, payload at most max):
 * 0 with the payload, or -1 with err (invalid_argument, resource_exhausted,
 * unimplemented for compression). */
int api_envelope_single(const uint8_t *body, size_t len, size_t max, const uint8_t **payload,
                        size_t *payload_len, struct error *err);
/* Connect's end-of-stream message body: {} or {"error":{"code","message"}}.
 * malloc'd JSON text, NULL when out of memory. */
char *api_connect_end_stream(const struct error *err, size_t *len);

/* Parses a Connect-Timeout-Ms value (1-10 digits); <0 when malformed. */
int api_parse_connect_timeout(const char *value, uint64_t *ms);
/* Parses a grpc-timeout value ("100m", "5S", 1-8 digits then H M S m u n). */
int api_parse_grpc_timeout(const char *value, uint64_t *ms);

#endif
