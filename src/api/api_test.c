/* The listener's HTTP/1.1 side, driven inside one event loop: the client end of
 * a socketpair (or a real socket) is an event on the same base as the server,
 * and responses are parsed with http-parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <http_parser.h>

#include "agent/v1/agent.pb-c.h"
#include "api/api.h"
#include "api/internal.h"

#define MAX_RESPONSES 16

struct response {
    int status;
    char content_type[128];
    char set_cookie[256];
    char body[8192];
    size_t body_len;
};

struct client {
    int fd;
    struct event *ev;
    http_parser parser;
    struct response responses[MAX_RESPONSES];
    int n;
    bool eof;
    char header[64];
    bool in_ct;
};

struct fixture {
    struct event_base *base;
    struct api_server *server;
    struct api_service service;
    unsigned delay_ms;
    struct api_call *held; /* StopSession: held until the test finishes it */
    struct event *timer;
    struct api_call *delayed; /* ExecuteTool: finished by `timer` */
    bool delayed_abandoned;
    int delayed_replies;
    char peer[80];
    char transport[16];
    char principal[16];
    bool guard_fired;
    int refusals; /* reports to on_refused */
    struct api_refusal last_refusal;
    char last_reason[160];
};

/* ------------------------------------------------------------------ handlers */

static void start_session(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    struct fixture *fx = ctx;
    const Agent__V1__StartRequest *req = (const Agent__V1__StartRequest *)request;
    snprintf(fx->peer, sizeof(fx->peer), "%s", api_call_peer(call));
    snprintf(fx->transport, sizeof(fx->transport), "%s", api_call_transport(call));
    snprintf(fx->principal, sizeof(fx->principal), "%s", api_call_principal(call));
    Agent__V1__SessionResponse resp = AGENT__V1__SESSION_RESPONSE__INIT;
    resp.session_id = req->session_id;
    resp.status = "READY";
    api_call_reply(call, &resp.base);
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fixture *fx = arg;
    struct api_call *call = fx->delayed;
    fx->delayed = NULL;
    fx->delayed_abandoned = api_call_is_abandoned(call);
    Agent__V1__ToolResponse resp = AGENT__V1__TOOL_RESPONSE__INIT;
    resp.output = "later";
    resp.exit_code = 7;
    api_call_reply(call, &resp.base);
    fx->delayed_replies++;
}

static void execute_tool(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    struct fixture *fx = ctx;
    assert_null(fx->delayed);
    fx->delayed = call;
    struct timeval tv = {0, (suseconds_t)fx->delay_ms * 1000};
    evtimer_add(fx->timer, &tv);
}

static void stop_session(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    struct fixture *fx = ctx;
    assert_null(fx->held);
    fx->held = call;
}

static void ping(struct api_exchange *exchange, void *ctx)
{
    api_exchange_reply(exchange, 200, "text/plain", "pong", 4);
}

static const struct api_method methods[] = {
    {.name = "StartSession", .input = &agent__v1__start_request__descriptor,
     .output = &agent__v1__session_response__descriptor, .handler = start_session},
    {.name = "ExecuteTool", .input = &agent__v1__tool_request__descriptor, .output = &agent__v1__tool_response__descriptor,
     .handler = execute_tool},
    {.name = "StopSession", .input = &agent__v1__stop_request__descriptor, .output = &agent__v1__stop_response__descriptor,
     .handler = stop_session},
};

/* ------------------------------------------------------------------ the client */

static int c_on_header_field(http_parser *p, const char *at, size_t len)
{
    struct client *c = p->data;
    snprintf(c->header, sizeof(c->header), "%.*s", (int)len, at);
    return 0;
}

static int c_on_header_value(http_parser *p, const char *at, size_t len)
{
    struct client *c = p->data;
    if (strcasecmp(c->header, "content-type") == 0)
        snprintf(c->responses[c->n].content_type, sizeof(c->responses[c->n].content_type), "%.*s",
                 (int)len, at);
    if (strcasecmp(c->header, "set-cookie") == 0)
        snprintf(c->responses[c->n].set_cookie, sizeof(c->responses[c->n].set_cookie), "%.*s",
                 (int)len, at);
    return 0;
}

static int c_on_body(http_parser *p, const char *at, size_t len)
{
    struct client *c = p->data;
    struct response *r = &c->responses[c->n];
    assert_true(r->body_len + len < sizeof(r->body));
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int c_on_message_complete(http_parser *p)
{
    struct client *c = p->data;
    if (p->status_code == 100) {
        memset(&c->responses[c->n], 0, sizeof(c->responses[c->n]));
        return 0;
    }
    c->responses[c->n].status = p->status_code;
    assert_true(c->n + 1 < MAX_RESPONSES);
    c->n++;
    return 0;
}

static const http_parser_settings client_settings = {
    .on_header_field = c_on_header_field,
    .on_header_value = c_on_header_value,
    .on_body = c_on_body,
    .on_message_complete = c_on_message_complete,
};

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0)
        return;
    if (n == 0) {
        c->eof = true;
        event_del(c->ev);
        return;
    }
    size_t used = http_parser_execute(&c->parser, &client_settings, buf, (size_t)n);
    assert_int_equal(used, (size_t)n);
}

static struct client *client_attach(struct fixture *fx, int fd)
{
    struct client *c = calloc(1, sizeof(*c));
    c->fd = fd;
    evutil_make_socket_nonblocking(fd);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->ev = event_new(fx->base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
    event_add(c->ev, NULL);
    return c;
}

static struct client *client_new(struct fixture *fx)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct error err;
    assert_int_equal(api_server_adopt(fx->server, sv[0], "test:1", &err), 0);
    return client_attach(fx, sv[1]);
}

static void client_free(struct client *c)
{
    event_free(c->ev);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void client_send(struct client *c, const char *data)
{
    size_t len = strlen(data);
    assert_int_equal(write(c->fd, data, len), (ssize_t)len);
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    ((struct fixture *)arg)->guard_fired = true;
}

/* Runs the loop until the client has `want` responses (and EOF when asked).
 * The guard only keeps a broken build from hanging; nothing here is timed. */
static void run_until(struct fixture *fx, struct client *c, int want, bool eof)
{
    struct event *guard = evtimer_new(fx->base, guard_cb, fx);
    struct timeval tv = {10, 0};
    evtimer_add(guard, &tv);
    fx->guard_fired = false;
    while (!fx->guard_fired && (c->n < want || (eof && !c->eof)))
        event_base_loop(fx->base, EVLOOP_ONCE);
    event_free(guard);
    if (fx->guard_fired)
        fail_msg("gave up waiting: %d of %d responses, eof %d", c->n, want, c->eof);
}

/* Runs the loop for a while, for things that must not happen. */
static void run_for(struct fixture *fx, unsigned ms)
{
    struct event *guard = evtimer_new(fx->base, guard_cb, fx);
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(guard, &tv);
    fx->guard_fired = false;
    while (!fx->guard_fired)
        event_base_loop(fx->base, EVLOOP_ONCE);
    event_free(guard);
}

static void assert_response(const struct response *r, int status, const char *body_part)
{
    if (r->status != status || (body_part != NULL && strstr(r->body, body_part) == NULL))
        fail_msg("got %d \"%s\"; expected %d with \"%s\"", r->status, r->body, status,
                 body_part != NULL ? body_part : "");
}

/* ------------------------------------------------------------------ fixture */

static struct fixture *fixture_new(struct api_config *config)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->base = event_base_new();
    fx->delay_ms = 20;
    fx->timer = evtimer_new(fx->base, delayed_cb, fx);
    struct api_config defaults = {.listen = "127.0.0.1:0"};
    if (config == NULL)
        config = &defaults;
    struct error err;
    int rc = api_server_new(fx->base, config, &fx->server, &err);
    if (rc < 0)
        fail_msg("api_server_new: %s", err.message);
    fx->service = (struct api_service){"agent.v1.AgentService", methods, 3, fx};
    assert_int_equal(api_server_add_service(fx->server, &fx->service, &err), 0);
    assert_int_equal(api_server_add_route(fx->server, "GET", "/ping", ping, NULL, &err), 0);
    return fx;
}

static void fixture_free(struct fixture *fx)
{
    api_server_free(fx->server);
    if (fx->held != NULL)
        api_call_fail(fx->held, NULL);
    if (fx->delayed != NULL) {
        struct error err;
        error_set(&err, ERR_CANCELED, "test over");
        api_call_fail(fx->delayed, &err);
    }
    event_free(fx->timer);
    event_base_free(fx->base);
    free(fx);
}

static char *post(const char *method, const char *content_type, const char *extra,
                  const char *body, size_t len)
{
    char *req = malloc(1024 + len);
    int n = sprintf(req,
                    "POST /agent.v1.AgentService/%s HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
                    "%sContent-Length: %zu\r\n\r\n",
                    method, content_type, extra != NULL ? extra : "", len);
    memcpy(req + n, body, len);
    req[n + (int)len] = '\0';
    return req;
}

/* ------------------------------------------------------------------ tests */

/* A new connection sends req and gets one answer, status with body_part;
 * with eof, the server then closes it. */
static void expect_one_answer(struct fixture *fx, const char *req, bool eof, int status, const char *body_part)
{
    struct client *c = client_new(fx);
    client_send(c, req);
    run_until(fx, c, 1, eof);
    assert_response(&c->responses[0], status, body_part);
    client_free(c);
}

/* A POST of body to method, sent on c. */
static void send_post(struct client *c, const char *method, const char *content_type, const char *extra,
                      const char *body, size_t len)
{
    char *r = post(method, content_type, extra, body, len);
    client_send(c, r);
    free(r);
}

/* A Connect JSON call to method, and a GET /ping pipelined behind it. */
static void send_post_then_ping(struct client *c, const char *method, const char *json)
{
    char *r = post(method, "application/json", NULL, json, strlen(json));
    char all[2048];
    snprintf(all, sizeof(all), "%sGET /ping HTTP/1.1\r\nHost: t\r\n\r\n", r);
    free(r);
    client_send(c, all);
}

static void test_ping_then_connect_json_keep_alive(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    client_send(c, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 200, "pong");
    send_post(c, "StartSession", "application/json", "Connect-Protocol-Version: 1\r\n",
                     "{\"session_id\":\"s-1\"}", 20);
    run_until(fx, c, 2, false);
    assert_response(&c->responses[1], 200, NULL);
    assert_string_equal(c->responses[1].body, "{\"sessionId\":\"s-1\",\"status\":\"READY\"}");
    assert_string_equal(c->responses[1].content_type, "application/json");
    assert_string_equal(fx->peer, "test:1");
    assert_string_equal(fx->transport, "connect");
    assert_false(c->eof);
    client_free(c);
    fixture_free(fx);
}

static void test_connect_proto(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    Agent__V1__StartRequest sreq = AGENT__V1__START_REQUEST__INIT;
    sreq.session_id = "bin";
    sreq.vcpu = 3;
    uint8_t buf[64];
    size_t len = protobuf_c_message_pack(&sreq.base, buf);
    char *req = post("StartSession", "application/proto", NULL, (const char *)buf, len);
    /* The body has no NUL inside, so strlen-based sending works here. */
    assert_int_equal(write(c->fd, req, strlen(req)), (ssize_t)strlen(req));
    free(req);
    run_until(fx, c, 1, false);
    assert_int_equal(c->responses[0].status, 200);
    assert_string_equal(c->responses[0].content_type, "application/proto");
    Agent__V1__SessionResponse *resp = agent__v1__session_response__unpack(
        NULL, c->responses[0].body_len, (const uint8_t *)c->responses[0].body);
    assert_non_null(resp);
    assert_string_equal(resp->session_id, "bin");
    assert_string_equal(resp->status, "READY");
    agent__v1__session_response__free_unpacked(resp, NULL);
    /* Garbage as protobuf is invalid_argument. */
    send_post(c, "StartSession", "application/proto", NULL, "\xff\xff\xff", 3);
    run_until(fx, c, 2, false);
    assert_response(&c->responses[1], 400, "\"code\":\"invalid_argument\"");
    assert_string_equal(c->responses[1].content_type, "application/json");
    client_free(c);
    fixture_free(fx);
}

/* Several bad requests pipelined in one write: each answered, in order, and the
 * connection survives them all. A POST to method when method is set, else raw. */
static const struct pipelined {
    const char *name;
    const char *method, *content_type, *extra, *body;
    const char *raw;
    int status;
    const char *body_part;
} pipelined[] = {
    {"unknown field", "StartSession", "application/json", NULL, "{\"cpus\":1}", NULL, 400,
     "unknown field \\\"cpus\\\""},
    {"unknown method", "Nope", "application/json", NULL, "{}", NULL, 404, "\"code\":\"unimplemented\""},
    {"GET of a method", NULL, NULL, NULL, NULL,
     "GET /agent.v1.AgentService/StartSession HTTP/1.1\r\nHost: t\r\n\r\n", 405, NULL},
    {"text/plain", "StartSession", "text/plain", NULL, "{}", NULL, 415, NULL},
    {"bad timeout", "StartSession", "application/json", "Connect-Timeout-Ms: soon\r\n", "{}", NULL, 400,
     "connect-timeout-ms"},
    {"gzip", "StartSession", "application/json", "Content-Encoding: gzip\r\n", "{}", NULL, 501,
     "\"code\":\"unimplemented\""},
    {"vcpu out of range", "StartSession", "application/json", NULL, "{\"vcpu\":4294967296}", NULL, 400,
     "out of range"},
    {"malformed JSON", "StartSession", "application/json", NULL, "{\"sessionId\":", NULL, 400, "malformed JSON"},
    {"unknown service", NULL, NULL, NULL, NULL,
     "POST /other.v1.Svc/Do HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 404,
     "\"code\":\"unimplemented\""},
    {"unknown path", NULL, NULL, NULL, NULL, "GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n", 404, "not found"},
    {"POST of a route", NULL, NULL, NULL, NULL, "POST /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
     405, NULL},
    {"asterisk target", NULL, NULL, NULL, NULL, "POST * HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 400,
     "bad request target"},
    {"the ping after", NULL, NULL, NULL, NULL, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n", 200, "pong"},
};

static void test_connect_errors_pipelined(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    const int n = (int)(sizeof(pipelined) / sizeof(pipelined[0]));
    char all[8192] = "";
    for (int i = 0; i < n; i++) {
        const struct pipelined *p = &pipelined[i];
        char *r = p->method ? post(p->method, p->content_type, p->extra, p->body, strlen(p->body)) : NULL;
        strcat(all, r ? r : p->raw);
        free(r);
    }
    client_send(c, all);
    run_until(fx, c, n, false);
    for (int i = 0; i < n; i++) {
        print_message("pipelined: %s\n", pipelined[i].name);
        assert_response(&c->responses[i], pipelined[i].status, pipelined[i].body_part);
    }
    assert_false(c->eof);
    client_free(c);
    fixture_free(fx);
}

/* An async call first, a synchronous one pipelined behind it: the answers come
 * in request order although the second was ready first. */
static void test_pipelined_async_in_order(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    send_post_then_ping(c, "ExecuteTool", "{\"input\":\"x\"}");
    run_until(fx, c, 2, false);
    assert_response(&c->responses[0], 200, "\"output\":\"later\"");
    assert_response(&c->responses[1], 200, "pong");
    assert_int_equal(fx->delayed_replies, 1);
    assert_false(fx->delayed_abandoned);
    client_free(c);
    fixture_free(fx);
}

static void test_body_over_limit(void **state)
{
    struct api_config config = {.listen = "127.0.0.1:0", .max_request_bytes = 64};
    struct fixture *fx = fixture_new(&config);
    char body[100];
    memset(body, 'a', sizeof(body));
    /* Declared too large: refused before the body is read. */
    struct client *c = client_new(fx);
    send_post(c, "StartSession", "application/json", NULL, body, sizeof(body));
    run_until(fx, c, 1, true);
    assert_response(&c->responses[0], 429, "\"code\":\"resource_exhausted\"");
    client_free(c);
    /* Chunked, so only counting finds it. */
    expect_one_answer(fx,
                      "POST /agent.v1.AgentService/StartSession HTTP/1.1\r\nHost: t\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "28\r\n{\"sessionId\":\"aaaaaaaaaaaaaaaaaaaaaaaa\"}\r\n"
                      "28\r\n{\"sessionId\":\"aaaaaaaaaaaaaaaaaaaaaaaa\"}\r\n0\r\n\r\n",
                      true, 429, "resource_exhausted");
    /* Exactly at the limit is fine. */
    c = client_new(fx);
    char ok[80];
    snprintf(ok, sizeof(ok), "{\"sessionId\":\"%048d\"}", 0);
    assert_int_equal(strlen(ok), 64);
    send_post(c, "StartSession", "application/json", NULL, ok, 64);
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 200, "READY");
    client_free(c);
    /* A plain route over the limit is a plain 413. */
    expect_one_answer(fx, "GET /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n", true, 413, NULL);
    fixture_free(fx);
}

static void test_headers_over_limit(void **state)
{
    struct api_config config = {.listen = "127.0.0.1:0", .max_header_bytes = 512};
    struct fixture *fx = fixture_new(&config);
    struct client *c = client_new(fx);
    char req[2048];
    char pad[1001];
    memset(pad, 'x', 1000);
    pad[1000] = '\0';
    snprintf(req, sizeof(req), "GET /ping HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", pad);
    client_send(c, req);
    run_until(fx, c, 1, true);
    assert_response(&c->responses[0], 431, NULL);
    client_free(c);
    c = client_new(fx);
    snprintf(req, sizeof(req), "GET /ping?%s HTTP/1.1\r\nHost: t\r\n\r\n", pad);
    client_send(c, req);
    run_until(fx, c, 1, true);
    assert_response(&c->responses[0], 431, NULL);
    client_free(c);
    fixture_free(fx);
}

static void test_garbage_closes(void **state)
{
    static const char *const garbage[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET /ping HTTP/1.1\r\nBad Header\r\n\r\n",
        "PRI * HTTP/1.1\r\n\r\n",
    };
    struct fixture *fx = fixture_new(NULL);
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        struct client *c = client_new(fx);
        client_send(c, garbage[i]);
        run_until(fx, c, 1, true);
        assert_in_range(c->responses[0].status, 400, 505);
        client_free(c);
    }
    fixture_free(fx);
}

/* Connect-Timeout-Ms: the client gets deadline_exceeded; the handler's late
 * reply is discarded; the connection carries on. */
static void test_connect_timeout(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    send_post(c, "StopSession", "application/json", "Connect-Timeout-Ms: 30\r\n", "{}", 2);
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 504, "\"code\":\"deadline_exceeded\"");
    assert_non_null(fx->held);
    assert_int_equal(api_call_timeout_ms(fx->held), 1);
    Agent__V1__StopResponse resp = AGENT__V1__STOP_RESPONSE__INIT;
    api_call_reply(fx->held, &resp.base);
    fx->held = NULL;
    client_send(c, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    run_until(fx, c, 2, false);
    assert_response(&c->responses[1], 200, "pong");
    run_for(fx, 20);
    assert_int_equal(c->n, 2);
    client_free(c);
    fixture_free(fx);
}

static void test_timeout_visible_to_handler(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    send_post(c, "StopSession", "application/json", "Connect-Timeout-Ms: 60000\r\n", "{}", 2);
    while (fx->held == NULL)
        event_base_loop(fx->base, EVLOOP_ONCE);
    uint64_t left = api_call_timeout_ms(fx->held);
    assert_true(left > 0 && left <= 60000);
    struct error err;
    error_set(&err, ERR_PERMISSION_DENIED, "denied by policy");
    api_call_fail(fx->held, &err);
    fx->held = NULL;
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 403, "\"code\":\"permission_denied\"");
    assert_response(&c->responses[0], 403, "denied by policy");
    client_free(c);
    fixture_free(fx);
}

/* The client goes away while its call is in flight: the handler sees it, and
 * its reply goes nowhere (ASan checks nothing dangles). */
static void test_client_gone_mid_call(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    fx->delay_ms = 30;
    struct client *c = client_new(fx);
    send_post(c, "ExecuteTool", "application/json", NULL, "{}", 2);
    while (fx->delayed == NULL)
        event_base_loop(fx->base, EVLOOP_ONCE);
    assert_false(api_call_is_abandoned(fx->delayed));
    client_free(c);
    while (fx->delayed_replies == 0)
        event_base_loop(fx->base, EVLOOP_ONCE);
    assert_true(fx->delayed_abandoned);
    fixture_free(fx);
}

/* A request, then a half-close: a synchronous reply still arrives, then the
 * server closes; an asynchronous one is abandoned (the client counts as gone). */
static void test_half_close(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    send_post_then_ping(c, "StartSession", "{\"sessionId\":\"h\"}");
    shutdown(c->fd, SHUT_WR);
    run_until(fx, c, 2, true);
    assert_response(&c->responses[0], 200, "READY");
    assert_response(&c->responses[1], 200, "pong");
    client_free(c);
    c = client_new(fx);
    send_post(c, "ExecuteTool", "application/json", NULL, "{}", 2);
    while (fx->delayed == NULL)
        event_base_loop(fx->base, EVLOOP_ONCE);
    shutdown(c->fd, SHUT_WR);
    run_until(fx, c, 0, true);
    while (fx->delayed_replies == 0)
        event_base_loop(fx->base, EVLOOP_ONCE);
    assert_true(fx->delayed_abandoned);
    assert_int_equal(c->n, 0);
    client_free(c);
    fixture_free(fx);
}

static void test_server_freed_with_call_in_flight(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    send_post(c, "StopSession", "application/json", "Connect-Timeout-Ms: 50000\r\n", "{}", 2);
    while (fx->held == NULL)
        event_base_loop(fx->base, EVLOOP_ONCE);
    api_server_free(fx->server);
    fx->server = NULL;
    assert_true(api_call_is_abandoned(fx->held));
    Agent__V1__StopResponse resp = AGENT__V1__STOP_RESPONSE__INIT;
    api_call_reply(fx->held, &resp.base);
    fx->held = NULL;
    run_until(fx, c, 0, true);
    assert_int_equal(c->n, 0);
    client_free(c);
    fixture_free(fx);
}

static void test_slow_headers_time_out(void **state)
{
    struct api_config config = {.listen = "127.0.0.1:0", .header_timeout_ms = 50};
    struct fixture *fx = fixture_new(&config);
    expect_one_answer(fx, "GET /ping HTTP/1.1\r\nHost: t\r\n", true, 408, NULL);
    /* A connection that never says anything is closed too. */
    struct client *c = client_new(fx);
    run_until(fx, c, 0, true);
    assert_int_equal(c->n, 0);
    client_free(c);
    fixture_free(fx);
}

static void test_idle_keep_alive_closed(void **state)
{
    struct api_config config = {.listen = "127.0.0.1:0", .idle_timeout_ms = 30};
    struct fixture *fx = fixture_new(&config);
    expect_one_answer(fx, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n", true, 200, "pong");
    fixture_free(fx);
}

static void test_connection_close_honoured(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    client_send(c, "GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                   "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    run_until(fx, c, 1, true);
    assert_int_equal(c->n, 1);
    client_free(c);
    expect_one_answer(fx, "GET /ping HTTP/1.0\r\n\r\n", true, 200, "pong");
    fixture_free(fx);
}

static void test_max_connections(void **state)
{
    struct api_config config = {.listen = "127.0.0.1:0", .max_connections = 2};
    struct fixture *fx = fixture_new(&config);
    struct client *a = client_new(fx);
    struct client *b = client_new(fx);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct error err;
    assert_int_equal(api_server_adopt(fx->server, sv[0], "third", &err), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    close(sv[1]);
    /* One goes, and there is room again. */
    client_free(a);
    run_for(fx, 10);
    struct client *c = client_new(fx);
    client_send(c, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 200, "pong");
    client_free(b);
    client_free(c);
    fixture_free(fx);
}

static void test_listen_addresses(void **state)
{
    struct event_base *base = event_base_new();
    struct api_server *server = NULL;
    struct error err;
    struct api_config config = {.listen = "0.0.0.0:0"};
    assert_int_equal(api_server_new(base, &config, &server, &err), -1);
    assert_int_equal(err.kind, ERR_PERMISSION_DENIED);
    config.allow_remote = 1;
    assert_int_equal(api_server_new(base, &config, &server, &err), 0);
    api_server_free(server);
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:99999999",
                                      "example.com:80", "127.0.0.1:8x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct api_config b = {.listen = bad[i]};
        assert_int_equal(api_server_new(base, &b, &server, &err), -1);
    }
    struct api_config lo = {.listen = "localhost:0"};
    assert_int_equal(api_server_new(base, &lo, &server, &err), 0);
    assert_non_null(strstr(api_server_address(server), "127.0.0.1:"));
    api_server_free(server);
    event_base_free(base);
}

static void test_unix_socket_peer(void **state)
{
    char dir[] = "/tmp/api-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/api.sock", dir);
    struct api_config config = {.socket_path = path};
    struct fixture *fx = fixture_new(&config);
    assert_string_equal(api_server_address(fx->server), path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* A second server on the same live socket is refused. */
    struct api_server *other;
    struct error err;
    assert_int_equal(api_server_new(fx->base, &config, &other, &err), -1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    struct client *c = client_attach(fx, fd);
    send_post(c, "StartSession", "application/json", NULL, "{\"sessionId\":\"u\"}", 17);
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 200, "READY");
    char expect[64];
    snprintf(expect, sizeof(expect), "unix:uid:%u", (unsigned)getuid());
    assert_string_equal(fx->peer, expect);
    client_free(c);
    fixture_free(fx);
    /* The socket goes with the server. */
    assert_int_equal(access(path, F_OK), -1);
    rmdir(dir);
}

static void test_expect_continue(void **state)
{
    struct fixture *fx = fixture_new(NULL);
    struct client *c = client_new(fx);
    client_send(c, "POST /agent.v1.AgentService/StartSession HTTP/1.1\r\nHost: t\r\n"
                   "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    run_for(fx, 20);
    client_send(c, "{}");
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 200, "READY");
    client_free(c);
    fixture_free(fx);
}

static void test_timeout_header_parsing(void **state)
{
    uint64_t ms = 0;
    assert_int_equal(api_parse_connect_timeout("250", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(api_parse_connect_timeout("9999999999", &ms), 0);
    assert_int_equal(ms, 9999999999ull);
    static const char *const bad_connect[] = {"", "12345678901", "-1", "1.5", " 1", "1s", "0x10"};
    for (size_t i = 0; i < sizeof(bad_connect) / sizeof(bad_connect[0]); i++)
        assert_int_equal(api_parse_connect_timeout(bad_connect[i], &ms), -1);
    static const struct {
        const char *in;
        uint64_t ms;
    } good[] = {{"1H", 3600000}, {"2M", 120000}, {"3S", 3000}, {"40m", 40}, {"1500u", 2},
                {"1n", 1}, {"99999999S", 99999999000ull}, {"0m", 1}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(api_parse_grpc_timeout(good[i].in, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
    static const char *const bad_grpc[] = {"", "S", "100", "100x", "123456789S", "-1S", "1 S"};
    for (size_t i = 0; i < sizeof(bad_grpc) / sizeof(bad_grpc[0]); i++)
        assert_int_equal(api_parse_grpc_timeout(bad_grpc[i], &ms), -1);
}

/* ------------------------------------------------------------------ admission */

static const char agent_token[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char operator_token[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_host_parsing(void **state)
{
    static const struct {
        const char *host;
        unsigned port;
        bool ok;
    } cases[] = {
        {"127.0.0.1:7339", 7339, true},
        {"localhost:7339", 7339, true},
        {"LOCALHOST:7339", 7339, true},
        {"LocalHost:7339", 7339, true},
        {"[::1]:7339", 7339, true},
        {"127.0.0.1", 80, true},         /* no port: 80 */
        {"localhost", 80, true},
        {"127.0.0.1", 7339, false},
        {"127.0.0.1:7340", 7339, false},
        {"127.0.0.1:07339", 7339, false}, /* one spelling per port */
        {"127.0.0.1:", 7339, false},
        {"127.0.0.1:7339:7339", 7339, false},
        {"127.0.0.1:73390", 7339, false},
        {"127.0.0.1:999999", 7339, false},
        {"127.0.0.1:+7339", 7339, false},
        {"127.0.0.1: 7339", 7339, false},
        {"127.0.0.2:7339", 7339, false},
        {"127.1:7339", 7339, false},
        {"localhost.:7339", 7339, false},
        {"localhost.evil.example:7339", 7339, false},
        {"evil.example:7339", 7339, false},
        {"evil.example", 80, false},
        {"[::1]", 80, true},
        {"[::1]7339", 7339, false},
        {"[::1]:7339x", 7339, false},
        {"[0:0:0:0:0:0:0:1]:7339", 7339, false},
        {"[::ffff:127.0.0.1]:7339", 7339, false},
        {"[::1:7339", 7339, false},
        {"::1:7339", 7339, false},
        {"", 80, false},
        {":7339", 7339, false},
        {"user@localhost:7339", 7339, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (api_host_is_local(cases[i].host, cases[i].port) != cases[i].ok)
            fail_msg("Host \"%s\" on port %u: expected %d", cases[i].host, cases[i].port,
                     cases[i].ok);
    assert_false(api_host_is_local(NULL, 80));
}

static void test_origin_parsing(void **state)
{
    static const struct {
        const char *origin;
        bool ok;
    } cases[] = {
        {"http://127.0.0.1:7339", true},
        {"http://localhost:7339", true},
        {"HTTP://LOCALHOST:7339", true},
        {"http://[::1]:7339", true},
        {"https://localhost:7339", false},
        {"http://localhost:7339/", false},
        {"http://localhost:7338", false},
        {"http://localhost", false},
        {"http://evil.example", false},
        {"http://localhost:7339.evil.example", false},
        {"http://evil.example/http://localhost:7339", false},
        {"null", false},
        {"", false},
        {"http://", false},
        {"ws://localhost:7339", false},
        {"file://", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (api_origin_is_local(cases[i].origin, 7339) != cases[i].ok)
            fail_msg("Origin \"%s\": expected %d", cases[i].origin, cases[i].ok);
}

static void test_credential_parsing(void **state)
{
    const char *t;
    size_t n;
    assert_true(api_parse_bearer("Bearer abc", &t, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(t, "abc", 3);
    assert_true(api_parse_bearer("bearer   abc", &t, &n));
    assert_int_equal(n, 3);
    static const char *const bad_bearer[] = {"Bearer", "Bearer ", "Bearer  ", "Basic abc",
                                             "Bearerabc", "Bearer a b", "Bearer a\tb", ""};
    for (size_t i = 0; i < sizeof(bad_bearer) / sizeof(bad_bearer[0]); i++)
        if (api_parse_bearer(bad_bearer[i], &t, &n))
            fail_msg("\"%s\" taken as a bearer token", bad_bearer[i]);

    assert_true(api_cookie_get("a=1; s=xyz; b=2", "s", &t, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(t, "xyz", 3);
    assert_true(api_cookie_get("s=xyz", "s", &t, &n));
    assert_true(api_cookie_get(" ;s=xyz ;", "s", &t, &n));
    assert_int_equal(n, 3);
    assert_false(api_cookie_get("s=1; s=2", "s", &t, &n));    /* repeated */
    assert_false(api_cookie_get("ss=1; xs=2", "s", &t, &n));  /* prefixes and suffixes */
    assert_false(api_cookie_get("S=1", "s", &t, &n));         /* names are case-sensitive */
    assert_false(api_cookie_get("s=", "s", &t, &n));
    assert_false(api_cookie_get("s", "s", &t, &n));
    assert_false(api_cookie_get("", "s", &t, &n));
    assert_false(api_cookie_get(NULL, "s", &t, &n));

    char out[16];
    assert_int_equal(api_query_get("token=abc", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(api_query_get("x=1&token=a%2Fb+c&y", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "a/b c");
    assert_int_equal(api_query_get("token=", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    static const char *const bad_query[] = {"", "token", "tokens=1", "token=1&token=1",
                                            "token=%", "token=%4", "token=%zz", "token=%00",
                                            "token=0123456789abcdef"};
    for (size_t i = 0; i < sizeof(bad_query) / sizeof(bad_query[0]); i++)
        if (api_query_get(bad_query[i], "token", out, sizeof(out)) == 0)
            fail_msg("query \"%s\" gave a token", bad_query[i]);

    assert_true(api_token_valid(agent_token, strlen(agent_token)));
    assert_true(api_token_valid("abcdefghijklmnopqrstuvwxyzABCDEF-._~+/=", 39));
    assert_false(api_token_valid("short", 5));
    char long_token[API_TOKEN_MAX + 2];
    memset(long_token, 'a', sizeof(long_token));
    assert_true(api_token_valid(long_token, API_TOKEN_MAX));
    assert_false(api_token_valid(long_token, API_TOKEN_MAX + 1));
    assert_false(api_token_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa aaaaaaaa", 40));
    assert_false(api_token_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\naaaaaaaa", 40));
    assert_false(api_token_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\0aaaaaaaa", 40));
}

static void test_token_files(void **state)
{
    char dir[] = "/tmp/api-token-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], a[API_TOKEN_MAX + 1], b[API_TOKEN_MAX + 1];
    snprintf(path, sizeof(path), "%s/api-token", dir);
    struct error err;
    assert_int_equal(api_token_load_or_create(path, a, sizeof(a), &err), 0);
    assert_int_equal(strlen(a), 2 * API_TOKEN_BYTES);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Loaded again: the same; read by a client: the same. */
    assert_int_equal(api_token_load_or_create(path, b, sizeof(b), &err), 0);
    assert_string_equal(a, b);
    assert_int_equal(api_token_read(path, b, sizeof(b), &err), 0);
    assert_string_equal(a, b);
    /* Rotated: another one. */
    assert_int_equal(api_token_create(path, b, sizeof(b), &err), 0);
    assert_string_not_equal(a, b);
    /* Readable by others: refused (not silently fixed). */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(api_token_load_or_create(path, a, sizeof(a), &err), -1);
    assert_non_null(strstr(err.message, "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    /* Not a token: refused. */
    FILE *f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    assert_int_equal(api_token_load_or_create(path, a, sizeof(a), &err), -1);
    assert_int_equal(api_token_read(path, a, sizeof(a), &err), -1);
    /* A symlink is not followed. */
    unlink(path);
    assert_int_equal(symlink("/etc/hostname", path), 0);
    assert_int_equal(api_token_load_or_create(path, a, sizeof(a), &err), -1);
    /* ...nor replaced by a rotation: the link and what it names stay. */
    char other[80];
    snprintf(other, sizeof(other), "%s/other", dir);
    f = fopen(other, "w");
    fputs("kept\n", f);
    fclose(f);
    unlink(path);
    assert_int_equal(symlink("other", path), 0);
    assert_int_equal(api_token_create(path, b, sizeof(b), &err), -1);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char kept[16] = {0};
    f = fopen(other, "r");
    assert_non_null(fgets(kept, sizeof(kept), f));
    fclose(f);
    assert_string_equal(kept, "kept\n");
    unlink(other);
    unlink(path);
    rmdir(dir);
    assert_int_equal(api_token_read(path, a, sizeof(a), &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
}

static void on_refused(const struct api_refusal *r, void *ctx)
{
    struct fixture *fx = ctx;
    fx->refusals++;
    fx->last_refusal = *r;
    snprintf(fx->last_reason, sizeof(fx->last_reason), "%s", r->reason);
    fx->last_refusal.reason = fx->last_reason;
    fx->last_refusal.peer = fx->last_refusal.method = fx->last_refusal.path = NULL;
}

/* A server with tokens, and a client over real TCP (socketpairs count as
 * Unix peers of our own uid, which need no token). */
static struct fixture *auth_fixture(unsigned max_reports)
{
    struct fixture *fx = fixture_new(NULL);
    struct api_auth auth = {.agent_token = agent_token, .operator_token = operator_token,
                            .on_refused = on_refused, .ctx = fx,
                            .max_reports_per_s = max_reports};
    struct error err;
    assert_int_equal(api_server_set_auth(fx->server, &auth, &err), 0);
    return fx;
}

static struct client *tcp_client(struct fixture *fx)
{
    const char *addr = api_server_address(fx->server);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    sin.sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return client_attach(fx, fd);
}

/* One request on a fresh TCP connection; its status (and the response). */
static int tcp_request(struct fixture *fx, const char *head_fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct response last_response;

static int tcp_request(struct fixture *fx, const char *head_fmt, ...)
{
    unsigned port = (unsigned)atoi(strrchr(api_server_address(fx->server), ':') + 1);
    char head[8192], req[9000];
    va_list ap;
    va_start(ap, head_fmt);
    vsnprintf(head, sizeof(head), head_fmt, ap);
    va_end(ap);
    /* @PORT@ in the headers is the server's port. */
    char *p;
    while ((p = strstr(head, "@PORT@")) != NULL) {
        char rest[8192];
        snprintf(rest, sizeof(rest), "%s", p + 6);
        snprintf(p, sizeof(head) - (size_t)(p - head), "%u%s", port, rest);
    }
    snprintf(req, sizeof(req), "%sConnection: close\r\nContent-Length: 2\r\n\r\n{}", head);
    struct client *c = tcp_client(fx);
    client_send(c, req);
    run_until(fx, c, 1, true);
    last_response = c->responses[0];
    client_free(c);
    return last_response.status;
}

#define START "POST /agent.v1.AgentService/StartSession HTTP/1.1\r\nContent-Type: application/json\r\n"
#define HOST "Host: 127.0.0.1:@PORT@\r\n"

static void test_admission_over_tcp(void **state)
{
    struct fixture *fx = auth_fixture(1000);
    /* The credential, and the principal it makes. */
    assert_int_equal(tcp_request(fx, START HOST), 401);
    assert_non_null(strstr(last_response.body, "\"unauthenticated\""));
    assert_int_equal(tcp_request(fx, START HOST "Authorization: Bearer %s\r\n", agent_token), 200);
    assert_string_equal(fx->principal, "agent");
    assert_int_equal(tcp_request(fx, START HOST "Authorization: Bearer %s\r\n", operator_token), 200);
    assert_string_equal(fx->principal, "operator");
    assert_int_equal(tcp_request(fx, START HOST "Authorization: bearer %s\r\n", agent_token), 200);
    /* Wrong, truncated, repeated. */
    fx->principal[0] = '\0';
    assert_int_equal(tcp_request(fx, START HOST "Authorization: Bearer %.63s\r\n", agent_token), 401);
    assert_int_equal(tcp_request(fx, START HOST "Authorization: Bearer %s0\r\n", agent_token), 401);
    assert_int_equal(tcp_request(fx, START HOST "Authorization: Bearer %s\r\nAuthorization: Bearer %s\r\n",
                                 agent_token, agent_token), 401);
    assert_string_equal(fx->principal, "");
    /* Host: absent, foreign, repeated, overlong; each refused with the right token. */
#define AUTH "Authorization: Bearer " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\r\n"
    assert_int_equal(tcp_request(fx, START AUTH), 403);
    assert_non_null(strstr(last_response.body, "\"permission_denied\""));
    assert_int_equal(tcp_request(fx, START AUTH "Host: evil.example:@PORT@\r\n"), 403);
    assert_int_equal(tcp_request(fx, START AUTH HOST HOST), 403);
    assert_int_equal(tcp_request(fx, START AUTH HOST "Host: evil.example\r\n"), 403);
    char long_host[400];
    memset(long_host, 'a', sizeof(long_host) - 1);
    long_host[sizeof(long_host) - 1] = '\0';
    assert_int_equal(tcp_request(fx, START AUTH "Host: localhost:@PORT@%s\r\n", long_host), 403);
    assert_int_equal(tcp_request(fx, START AUTH "Host: localhost:@PORT@\r\n"), 200);
    assert_int_equal(tcp_request(fx, START AUTH "Host: [::1]:@PORT@\r\n"), 200);
    /* Origin: foreign, repeated; our own is fine. */
    assert_int_equal(tcp_request(fx, START AUTH HOST "Origin: http://evil.example\r\n"), 403);
    assert_int_equal(tcp_request(fx, START AUTH HOST "Origin: null\r\n"), 403);
    assert_int_equal(tcp_request(fx, START AUTH HOST "Origin: http://localhost:@PORT@\r\n"
                                                     "Origin: http://localhost:@PORT@\r\n"), 403);
    assert_int_equal(tcp_request(fx, START AUTH HOST "Origin: http://localhost:@PORT@\r\n"), 200);
    /* Host and Origin are checked before the credential: 403, not 401. */
    assert_int_equal(tcp_request(fx, START "Host: evil.example\r\n"), 403);
    /* Plain routes: /ping is open, other paths need the credential. */
    assert_int_equal(tcp_request(fx, "GET /ping HTTP/1.1\r\n" HOST), 200);
    assert_int_equal(tcp_request(fx, "GET /ping HTTP/1.1\r\nHost: evil.example\r\n"), 403);
    assert_int_equal(tcp_request(fx, "GET /nothing HTTP/1.1\r\n" HOST), 401);
    assert_int_equal(tcp_request(fx, "GET /nothing HTTP/1.1\r\n" HOST AUTH), 404);
    fixture_free(fx);
}

static void test_login_cookie(void **state)
{
    struct fixture *fx = auth_fixture(1000);
    assert_int_equal(tcp_request(fx, "GET /login?token=%s HTTP/1.1\r\n" HOST, agent_token), 303);
    char cookie[256];
    snprintf(cookie, sizeof(cookie), "%s", last_response.set_cookie);
    assert_non_null(strstr(cookie, "; HttpOnly"));
    assert_non_null(strstr(cookie, "; SameSite=Strict"));
    assert_non_null(strstr(cookie, "; Path=/"));
    assert_null(strstr(cookie, agent_token));
    cookie[strcspn(cookie, ";")] = '\0';
    assert_int_equal(tcp_request(fx, START HOST "Cookie: x=1; %s; y=2\r\n", cookie), 200);
    assert_string_equal(fx->principal, "agent");
    /* Origin still applies to a cookie. */
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\nOrigin: http://evil.example\r\n",
                                 cookie), 403);
    /* A page on another port of localhost is same-site: the browser attaches
     * the cookie and may send no Origin (an <img>, a <script>), but says
     * Sec-Fetch-Site. Only same-origin and none (typed by the user) pass. */
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\nSec-Fetch-Site: same-site\r\n",
                                 cookie), 403);
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\nSec-Fetch-Site: cross-site\r\n",
                                 cookie), 403);
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\nSec-Fetch-Site: same-origin\r\n"
                                             "Sec-Fetch-Site: same-origin\r\n", cookie), 403);
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\nSec-Fetch-Site: same-origin\r\n",
                                 cookie), 200);
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\nSec-Fetch-Site: none\r\n",
                                 cookie), 200);
    /* Two Cookie headers, a changed value: refused. */
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\nCookie: %s\r\n", cookie, cookie), 401);
    cookie[strlen(cookie) - 1] ^= 1;
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\n", cookie), 401);
    /* The operator token logs in as the operator. */
    assert_int_equal(tcp_request(fx, "GET /login?token=%s HTTP/1.1\r\n" HOST, operator_token), 303);
    snprintf(cookie, sizeof(cookie), "%s", last_response.set_cookie);
    cookie[strcspn(cookie, ";")] = '\0';
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\n", cookie), 200);
    assert_string_equal(fx->principal, "operator");
    /* A wrong token sets nothing. */
    assert_int_equal(tcp_request(fx, "GET /login?token=%s0 HTTP/1.1\r\n" HOST, agent_token), 401);
    assert_string_equal(last_response.set_cookie, "");
    assert_int_equal(tcp_request(fx, "GET /login HTTP/1.1\r\n" HOST), 401);
    fixture_free(fx);
}

/* The code in a POST /login/code answer, into out (33 bytes). */
static void login_code_of(const struct response *r, char *out)
{
    const char *p = strstr(r->body, "\"code\":\"");
    assert_non_null(p);
    snprintf(out, API_LOGIN_CODE_HEX + 1, "%s", p + 8);
    assert_int_equal(strspn(out, "0123456789abcdef"), API_LOGIN_CODE_HEX);
}

/* One-time login codes (enclave ui): minted only with a credential, for
 * its principal; each logs in once; a wrong one sets nothing; the oldest
 * gives way when API_LOGIN_CODES are outstanding. */
static void test_login_codes(void **state)
{
    struct fixture *fx = auth_fixture(1000);
#define CODE_POST "POST /login/code HTTP/1.1\r\nContent-Type: application/json\r\n" HOST
    assert_int_equal(tcp_request(fx, CODE_POST), 401);
    assert_int_equal(tcp_request(fx, CODE_POST "Authorization: Bearer %s\r\n"
                                              "Sec-Fetch-Site: same-site\r\n", agent_token), 403);
    assert_int_equal(tcp_request(fx, CODE_POST "Authorization: Bearer %s\r\n", agent_token), 200);
    assert_non_null(strstr(last_response.content_type, "application/json"));
    char code[API_LOGIN_CODE_HEX + 1], cookie[256];
    login_code_of(&last_response, code);
    assert_null(strstr(last_response.body, agent_token));
    assert_int_equal(tcp_request(fx, "GET /login?code=%s HTTP/1.1\r\n" HOST, code), 303);
    snprintf(cookie, sizeof(cookie), "%s", last_response.set_cookie);
    cookie[strcspn(cookie, ";")] = '\0';
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\n", cookie), 200);
    assert_string_equal(fx->principal, "agent");
    /* Used up. */
    assert_int_equal(tcp_request(fx, "GET /login?code=%s HTTP/1.1\r\n" HOST, code), 401);
    assert_string_equal(last_response.set_cookie, "");
    /* The operator's code logs in the operator. */
    assert_int_equal(tcp_request(fx, CODE_POST "Authorization: Bearer %s\r\n", operator_token), 200);
    login_code_of(&last_response, code);
    char right = code[0];
    code[0] = right == 'a' ? 'b' : 'a'; /* a wrong code first: nothing */
    assert_int_equal(tcp_request(fx, "GET /login?code=%s HTTP/1.1\r\n" HOST, code), 401);
    code[0] = right;
    assert_int_equal(tcp_request(fx, "GET /login?code=%s HTTP/1.1\r\n" HOST, code), 303);
    snprintf(cookie, sizeof(cookie), "%s", last_response.set_cookie);
    cookie[strcspn(cookie, ";")] = '\0';
    assert_int_equal(tcp_request(fx, START HOST "Cookie: %s\r\n", cookie), 200);
    assert_string_equal(fx->principal, "operator");
    /* API_LOGIN_CODES + 1 codes: the first is gone, the last works. */
    char first[API_LOGIN_CODE_HEX + 1];
    for (int i = 0; i <= API_LOGIN_CODES; i++) {
        assert_int_equal(tcp_request(fx, CODE_POST "Authorization: Bearer %s\r\n", agent_token),
                         200);
        login_code_of(&last_response, i == 0 ? first : code);
    }
    assert_int_equal(tcp_request(fx, "GET /login?code=%s HTTP/1.1\r\n" HOST, first), 401);
    assert_int_equal(tcp_request(fx, "GET /login?code=%s HTTP/1.1\r\n" HOST, code), 303);
#undef CODE_POST
    fixture_free(fx);
}

static void test_refusals_reported_at_a_bounded_rate(void **state)
{
    struct fixture *fx = auth_fixture(2);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tcp_request(fx, START HOST), 401);
    /* Within one second at most 2; a later one carries the count left out.
     * (If the five took over a second, fewer were left out: the total holds.) */
    int reported = fx->refusals;
    assert_true(reported >= 2 && reported <= 5);
    run_for(fx, 1100);
    assert_int_equal(tcp_request(fx, START "Host: x\r\n"), 403);
    assert_int_equal(fx->refusals, reported + 1);
    assert_int_equal(fx->last_refusal.status, 403);
    assert_non_null(strstr(fx->last_reason, "Host"));
    /* Every refusal is accounted for: reported or counted as suppressed. */
    assert_true((uint64_t)reported + fx->last_refusal.suppressed == 5);
    fixture_free(fx);
}

static void test_unix_peer_is_operator_and_set_auth_checks(void **state)
{
    struct fixture *fx = auth_fixture(0);
    struct client *c = client_new(fx); /* a socketpair: our own uid */
    send_post(c, "StartSession", "application/json", NULL, "{}", 2);
    run_until(fx, c, 1, false);
    assert_response(&c->responses[0], 200, "READY");
    assert_string_equal(fx->principal, "operator");
    client_free(c);
    struct error err;
    struct api_auth same = {.agent_token = agent_token, .operator_token = agent_token};
    assert_int_equal(api_server_set_auth(fx->server, &same, &err), -1);
    struct api_auth shrt = {.agent_token = "short"};
    assert_int_equal(api_server_set_auth(fx->server, &shrt, &err), -1);
    fixture_free(fx);
    /* No api_server_set_auth at all: TCP gets nothing but /ping. */
    fx = fixture_new(NULL);
    assert_int_equal(tcp_request(fx, START HOST "Authorization: Bearer %s\r\n", agent_token), 401);
    assert_int_equal(tcp_request(fx, "GET /ping HTTP/1.1\r\n" HOST), 200);
    fixture_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_then_connect_json_keep_alive),
        cmocka_unit_test(test_connect_proto),
        cmocka_unit_test(test_connect_errors_pipelined),
        cmocka_unit_test(test_pipelined_async_in_order),
        cmocka_unit_test(test_body_over_limit),
        cmocka_unit_test(test_headers_over_limit),
        cmocka_unit_test(test_garbage_closes),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_timeout_visible_to_handler),
        cmocka_unit_test(test_client_gone_mid_call),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_server_freed_with_call_in_flight),
        cmocka_unit_test(test_slow_headers_time_out),
        cmocka_unit_test(test_idle_keep_alive_closed),
        cmocka_unit_test(test_connection_close_honoured),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_unix_socket_peer),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_timeout_header_parsing),
        cmocka_unit_test(test_host_parsing),
        cmocka_unit_test(test_origin_parsing),
        cmocka_unit_test(test_credential_parsing),
        cmocka_unit_test(test_token_files),
        cmocka_unit_test(test_admission_over_tcp),
        cmocka_unit_test(test_login_cookie),
        cmocka_unit_test(test_login_codes),
        cmocka_unit_test(test_refusals_reported_at_a_bounded_rate),
        cmocka_unit_test(test_unix_peer_is_operator_and_set_auth_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
