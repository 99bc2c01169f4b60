/* api-testd: the API listener with agent.v1.AgentService served by toy
 * handlers that answer deterministically, for the tests in tests/api/ and the
 * bench-api benchmark. Nothing here touches a VM.
 *
 *   StartSession  echoes session_id with status "READY" (socket_path
 *                 "/tmp/<id>.sock"); an empty session_id is invalid_argument.
 *   StopSession   session_id "missing" fails not_found; else success = true.
 *   ExecuteTool   replies after a 50 ms timer (asynchronously): output = input,
 *                 exit_code = len(input), one SyscallLog with timestamp
 *                 9007199254740993 (above 2^53, to test int64 as JSON strings).
 *                 tool_name "sleep": replies after timeout_seconds seconds
 *                 instead (deadline tests); "fail": internal error; "now":
 *                 replies at once.
 *   GetAuditLogs  `limit` logs (at most 1000) with timestamps since_timestamp+i.
 *   ApplyPolicy   unimplemented.
 *   GET /ping     "pong".
 *
 * Prints "listening on ADDRESS" on stdout once ready; stops on SIGINT/SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent/v1/agent.pb-c.h"
#include "api/api.h"
#include "common/log.h"

struct testd {
    struct event_base *base;
    unsigned pending; /* ExecuteTool timers in flight */
};

struct delayed_exec {
    struct api_call *call;
    struct event *timer;
    char *output;
    int32_t exit_code;
    struct testd *testd;
};

static void start_session(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    const Agent__V1__StartRequest *req = (const Agent__V1__StartRequest *)request;
    if (req->session_id == NULL || req->session_id[0] == '\0') {
        struct error err;
        error_set(&err, ERR_INVALID_ARGUMENT, "session_id is required");
        api_call_fail(call, &err);
        return;
    }
    char sock[512];
    snprintf(sock, sizeof(sock), "/tmp/%.400s.sock", req->session_id);
    Agent__V1__SessionResponse resp = AGENT__V1__SESSION_RESPONSE__INIT;
    resp.session_id = req->session_id;
    resp.status = "READY";
    resp.socket_path = sock;
    api_call_reply(call, &resp.base);
}

static void stop_session(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    const Agent__V1__StopRequest *req = (const Agent__V1__StopRequest *)request;
    if (strcmp(req->session_id, "missing") == 0) {
        struct error err;
        error_set(&err, ERR_NOT_FOUND, "session \"missing\" does not exist");
        api_call_fail(call, &err);
        return;
    }
    Agent__V1__StopResponse resp = AGENT__V1__STOP_RESPONSE__INIT;
    resp.success = 1;
    api_call_reply(call, &resp.base);
}

static void reply_exec(struct api_call *call, const char *output, int32_t exit_code)
{
    Agent__V1__SyscallLog log = AGENT__V1__SYSCALL_LOG__INIT;
    log.timestamp = 9007199254740993LL;
    log.name = "execve";
    log.pid = 1;
    log.status = "ok";
    log.session_id = "s";
    Agent__V1__SyscallLog *logs[] = {&log};
    Agent__V1__ToolResponse resp = AGENT__V1__TOOL_RESPONSE__INIT;
    resp.output = (char *)output;
    resp.exit_code = exit_code;
    resp.n_syscall_logs = 1;
    resp.syscall_logs = logs;
    api_call_reply(call, &resp.base);
}

static void exec_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct delayed_exec *d = arg;
    /* A handler may check whether anyone still waits; replying anyway is fine. */
    if (api_call_is_abandoned(d->call))
        log_debug("api-testd: the client of an ExecuteTool went away");
    reply_exec(d->call, d->output, d->exit_code);
    d->testd->pending--;
    event_free(d->timer);
    free(d->output);
    free(d);
}

static void execute_tool(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    struct testd *testd = ctx;
    const Agent__V1__ToolRequest *req = (const Agent__V1__ToolRequest *)request;
    if (strcmp(req->tool_name, "fail") == 0) {
        struct error err;
        error_set(&err, ERR_INTERNAL, "the tool failed, as asked: 100%% \xe2\x9c\x93");
        api_call_fail(call, &err);
        return;
    }
    if (strcmp(req->tool_name, "now") == 0) {
        reply_exec(call, req->input, (int32_t)strlen(req->input));
        return;
    }
    unsigned delay_ms = 50;
    if (strcmp(req->tool_name, "sleep") == 0)
        delay_ms = req->timeout_seconds > 0 && req->timeout_seconds < 3600
                       ? (unsigned)req->timeout_seconds * 1000
                       : 1000;
    struct delayed_exec *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->output = strdup(req->input)) == NULL ||
        (d->timer = evtimer_new(testd->base, exec_timer_cb, d)) == NULL) {
        if (d != NULL)
            free(d->output);
        free(d);
        struct error err;
        error_set(&err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    d->call = call;
    d->exit_code = (int32_t)strlen(req->input);
    d->testd = testd;
    testd->pending++;
    struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
    evtimer_add(d->timer, &tv);
}

static void get_audit_logs(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    const Agent__V1__GetAuditLogsRequest *req = (const Agent__V1__GetAuditLogsRequest *)request;
    size_t n = req->limit > 0 ? (size_t)req->limit : 0;
    if (n > 1000)
        n = 1000;
    Agent__V1__SyscallLog *logs = calloc(n + 1, sizeof(*logs));
    Agent__V1__SyscallLog **ptrs = calloc(n + 1, sizeof(*ptrs));
    if (logs == NULL || ptrs == NULL) {
        free(logs);
        free(ptrs);
        struct error err;
        error_set(&err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        agent__v1__syscall_log__init(&logs[i]);
        logs[i].timestamp = req->since_timestamp + (int64_t)i;
        logs[i].name = "write";
        logs[i].session_id = req->session_id;
        ptrs[i] = &logs[i];
    }
    Agent__V1__GetAuditLogsResponse resp = AGENT__V1__GET_AUDIT_LOGS_RESPONSE__INIT;
    resp.n_logs = n;
    resp.logs = ptrs;
    api_call_reply(call, &resp.base);
    free(logs);
    free(ptrs);
}

static void apply_policy(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    struct error err;
    error_set(&err, ERR_UNIMPLEMENTED, "ApplyPolicy is not implemented");
    api_call_fail(call, &err);
}

static void ping(struct api_exchange *exchange, void *ctx)
{
    api_exchange_reply(exchange, 200, "text/plain; charset=utf-8", "pong", 4);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(arg);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: api-testd [--listen HOST:PORT | --socket PATH] [--max-request-bytes N]\n"
            "                 [--max-connections N] [--header-timeout-ms N] [--idle-timeout-ms N]\n"
            "                 [--max-streams N] [--max-buffered-bytes N]\n"
            "                 [--token T [--operator-token T]]\n"
            "Serves agent.v1.AgentService with toy handlers (see the top of tools/api-testd.c).\n"
            "Prints \"listening on ADDRESS\" once ready. Default: 127.0.0.1:0 (any free port).\n"
            "Without --token, TCP requests need no credential and no Host/Origin check.\n");
}

int main(int argc, char **argv)
{
    log_init_from_env();
    struct api_config config = {.listen = "127.0.0.1:0"};
    struct api_auth auth = {0};
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"socket", required_argument, NULL, 's'},
        {"max-request-bytes", required_argument, NULL, 'r'},
        {"max-connections", required_argument, NULL, 'c'},
        {"header-timeout-ms", required_argument, NULL, 'H'},
        {"idle-timeout-ms", required_argument, NULL, 'I'},
        {"max-streams", required_argument, NULL, 'S'},
        {"max-buffered-bytes", required_argument, NULL, 'B'},
        {"token", required_argument, NULL, 'T'},
        {"operator-token", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': config.listen = optarg; break;
        case 's': config.socket_path = optarg; break;
        case 'r': config.max_request_bytes = strtoul(optarg, NULL, 10); break;
        case 'c': config.max_connections = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'H': config.header_timeout_ms = config.request_timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'I': config.idle_timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'S': config.max_streams = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'B': config.max_buffered_bytes = strtoul(optarg, NULL, 10); break;
        case 'T': auth.agent_token = optarg; break;
        case 'O': auth.operator_token = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct testd testd = {.base = event_base_new()};
    if (testd.base == NULL) {
        fprintf(stderr, "api-testd: event_base_new failed\n");
        return 1;
    }
    static const struct api_method methods[] = {
        {.name = "StartSession", .input = &agent__v1__start_request__descriptor,
         .output = &agent__v1__session_response__descriptor, .handler = start_session},
        {.name = "ExecuteTool", .input = &agent__v1__tool_request__descriptor, .output = &agent__v1__tool_response__descriptor,
         .handler = execute_tool},
        {.name = "StopSession", .input = &agent__v1__stop_request__descriptor, .output = &agent__v1__stop_response__descriptor,
         .handler = stop_session},
        {.name = "GetAuditLogs", .input = &agent__v1__get_audit_logs_request__descriptor,
         .output = &agent__v1__get_audit_logs_response__descriptor, .handler = get_audit_logs},
        {.name = "ApplyPolicy", .input = &agent__v1__apply_policy_request__descriptor,
         .output = &agent__v1__apply_policy_response__descriptor, .handler = apply_policy},
    };
    struct api_service service = {"agent.v1.AgentService", methods,
                                  sizeof(methods) / sizeof(methods[0]), &testd};
    struct api_server *server;
    struct error err;
    auth.allow_anonymous = auth.agent_token == NULL;
    if (api_server_new(testd.base, &config, &server, &err) < 0 ||
        api_server_set_auth(server, &auth, &err) < 0 ||
        api_server_add_service(server, &service, &err) < 0 ||
        api_server_add_route(server, "GET", "/ping", ping, NULL, &err) < 0) {
        fprintf(stderr, "api-testd: %s\n", err.message);
        return 1;
    }
    struct event *sigint = evsignal_new(testd.base, SIGINT, on_signal, testd.base);
    struct event *sigterm = evsignal_new(testd.base, SIGTERM, on_signal, testd.base);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    printf("listening on %s\n", api_server_address(server));
    fflush(stdout);
    event_base_dispatch(testd.base);
    api_server_free(server);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(testd.base);
    return 0;
}
