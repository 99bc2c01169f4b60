/* Shared by the listener's fuzz harnesses: one server with toy synchronous
 * handlers, and a helper that feeds bytes as one connection's whole input and
 * runs the loop until the server has closed that connection. */
#ifndef ENCLAVE_API_FUZZ_CONN_H
#define ENCLAVE_API_FUZZ_CONN_H

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

static const struct api_method fuzz_methods[] = {
    {.name = "StartSession", .input = &agent__v1__start_request__descriptor,
     .output = &agent__v1__session_response__descriptor, .handler = fuzz_start},
    {.name = "StopSession", .input = &agent__v1__stop_request__descriptor, .output = &agent__v1__stop_response__descriptor,
     .handler = fuzz_stop},
};
static const struct api_service fuzz_service = {"agent.v1.AgentService", fuzz_methods, 2, NULL};

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
        api_server_add_route(fuzz_server, "GET", "/ws", fuzz_ws, NULL, &err) < 0)
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
