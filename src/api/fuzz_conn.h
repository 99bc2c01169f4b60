/* Shared by the listener's fuzz harnesses: one server with toy synchronous
 * handlers, and a helper that feeds bytes as one connection's whole input and
 * runs the loop until the server has closed that connection. */
#ifndef ENCLAVE_API_FUZZ_CONN_H
#define ENCLAVE_API_FUZZ_CONN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent/v1/agent.pb-c.h"
#include "api/api.h"
#include "common/log.h"

static void fuzz_start(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    const Agent__V1__StartRequest *req = (const Agent__V1__StartRequest *)request;
    Agent__V1__SessionResponse resp = AGENT__V1__SESSION_RESPONSE__INIT;
    resp.session_id = req->session_id;
    resp.status = "READY";
    api_call_reply(call, &resp.base);
}

static void fuzz_stop(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    struct error err;
    error_set(&err, ERR_NOT_FOUND, "no such session");
    api_call_fail(call, &err);
}

static void fuzz_ping(struct api_exchange *exchange, void *ctx)
{
    api_exchange_reply(exchange, 200, "text/plain", "pong", 4);
}

/* A WebSocket that echoes each message back as text, with a small limit. */
static void fuzz_ws_close(struct api_stream *stream, void *ctx)
{
}

static void fuzz_ws_message(struct api_stream *stream, bool binary, const void *data, size_t len,
                            void *ctx)
{
    if (api_stream_write(stream, data, len) < 0)
        api_stream_end(stream, NULL, 0, 1008);
}

static void fuzz_ws(struct api_exchange *exchange, void *ctx)
{
    static const struct api_stream_callbacks cb = {.on_close = fuzz_ws_close,
                                                   .on_message = fuzz_ws_message};
    struct api_stream_options o = {.max_buffer = 8192, .max_message = 2048};
    api_exchange_websocket(exchange, &o, &cb, NULL);
}

/* Server streaming: two messages, then OK. */
static void fuzz_watch(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    Agent__V1__SessionResponse resp = AGENT__V1__SESSION_RESPONSE__INIT;
    resp.status = "BOOTING";
    api_call_send(call, &resp.base);
    resp.status = "READY";
    api_call_send(call, &resp.base);
    api_call_finish(call, NULL);
}

/* Client streaming (gRPC): counts messages, pausing after each odd one;
 * answers at the half-close. */
struct fuzz_collect {
    unsigned n;
};

static void fuzz_collect_message(struct api_call *call, const ProtobufCMessage *m, void *ctx)
{
    struct fuzz_collect *c = ctx;
    if (++c->n % 2 == 1) {
        api_call_pause_receive(call, true);
        api_call_pause_receive(call, false);
    }
}

static void fuzz_collect_end(struct api_call *call, void *ctx)
{
    Agent__V1__StopResponse resp = AGENT__V1__STOP_RESPONSE__INIT;
    resp.success = ((struct fuzz_collect *)ctx)->n > 0;
    api_call_reply(call, &resp.base);
    free(ctx);
}

static void fuzz_collect_cancel(struct api_call *call, void *ctx)
{
    api_call_finish(call, NULL);
    free(ctx);
}

static void fuzz_collect(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    static const struct api_call_callbacks cb = {.on_message = fuzz_collect_message,
                                                 .on_half_close = fuzz_collect_end,
                                                 .on_cancel = fuzz_collect_cancel};
    struct fuzz_collect *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    api_call_set_callbacks(call, &cb, c);
}

/* PUT /up/...: a streamed body, paused and resumed every other chunk, answered
 * at its end with its size; "/up/no" is refused before the body. */
struct fuzz_upload {
    size_t bytes;
    unsigned chunks;
};

static void fuzz_up_body(struct api_exchange *ex, const void *data, size_t len, void *ctx)
{
    struct fuzz_upload *u = ctx;
    u->bytes += len;
    if (++u->chunks % 2 == 0) {
        api_exchange_pause_body(ex, true);
        api_exchange_pause_body(ex, false);
    }
}

static void fuzz_up_end(struct api_exchange *ex, void *ctx)
{
    char body[32];
    int n = snprintf(body, sizeof(body), "%zu", ((struct fuzz_upload *)ctx)->bytes);
    free(ctx);
    api_exchange_reply(ex, 200, "text/plain", body, (size_t)n);
}

static void fuzz_up_abort(struct api_exchange *ex, const struct error *why, void *ctx)
{
    free(ctx);
}

static void fuzz_up(struct api_exchange *ex, void *ctx)
{
    if (strcmp(api_exchange_path(ex), "/up/no") == 0) {
        api_exchange_reply(ex, 403, "text/plain", "no", 2);
        return;
    }
    static const struct api_exchange_callbacks cb = {
        .on_body = fuzz_up_body, .on_body_end = fuzz_up_end, .on_abort = fuzz_up_abort};
    struct fuzz_upload *u = calloc(1, sizeof(*u));
    if (u == NULL)
        abort();
    api_exchange_set_callbacks(ex, &cb, u);
}

static const struct api_method fuzz_methods[] = {
    {.name = "Watch", .input = &agent__v1__start_request__descriptor,
     .output = &agent__v1__session_response__descriptor, .handler = fuzz_watch,
     .kind = API_METHOD_SERVER_STREAMING},
    {.name = "Collect", .input = &agent__v1__stop_request__descriptor,
     .output = &agent__v1__stop_response__descriptor, .handler = fuzz_collect,
     .kind = API_METHOD_CLIENT_STREAMING},
    {.name = "StartSession", .input = &agent__v1__start_request__descriptor,
     .output = &agent__v1__session_response__descriptor, .handler = fuzz_start},
    {.name = "StopSession", .input = &agent__v1__stop_request__descriptor, .output = &agent__v1__stop_response__descriptor,
     .handler = fuzz_stop},
};
static const struct api_service fuzz_service = {
    "agent.v1.AgentService", fuzz_methods, sizeof(fuzz_methods) / sizeof(fuzz_methods[0]), NULL};

static struct event_base *fuzz_base;
static struct api_server *fuzz_server;

static void fuzz_setup(void)
{
    if (fuzz_server != NULL)
        return;
    log_set_level(LOG_LEVEL_ERROR);
    fuzz_base = event_base_new();
    struct api_config config = {.listen = "127.0.0.1:0", .max_request_bytes = 4096,
                                .max_header_bytes = 2048, .max_streams = 8};
    struct error err;
    if (api_server_new(fuzz_base, &config, &fuzz_server, &err) < 0 ||
        api_server_add_service(fuzz_server, &fuzz_service, &err) < 0 ||
        api_server_add_route(fuzz_server, "GET", "/ping", fuzz_ping, NULL, &err) < 0 ||
        api_server_add_route(fuzz_server, "GET", "/ws", fuzz_ws, NULL, &err) < 0 ||
        api_server_add_route_opts(fuzz_server, "PUT", "/up/",
                                  &(struct api_route_options){.prefix = true, .stream_body = true,
                                                              .max_body = 1u << 20},
                                  fuzz_up, NULL, &err) < 0)
        abort();
}

/* Feeds prefix + data, half-closes, and runs until the server closes. */
static void fuzz_connection(const void *prefix, size_t prefix_len, const uint8_t *data, size_t len)
{
    fuzz_setup();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    int size = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    struct error err;
    if (api_server_adopt(fuzz_server, sv[0], "fuzz", &err) < 0)
        abort();
    if (len > 65536)
        len = 65536;
    if ((prefix_len > 0 && write(sv[1], prefix, prefix_len) < 0) ||
        (len > 0 && write(sv[1], data, len) < 0))
        abort();
    shutdown(sv[1], SHUT_WR);
    evutil_make_socket_nonblocking(sv[1]);
    char buf[65536];
    /* The server closes after EOF; the bound only catches a harness bug. */
    for (int i = 0; i < 100000; i++) {
        event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
        ssize_t n = read(sv[1], buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN))
            break;
    }
    close(sv[1]);
    /* Let the server notice and free the connection. */
    for (int i = 0; i < 4; i++)
        event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
}

#endif
