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
 * Streaming, service test.v1.Stream (agent.v1 messages reused):
 *   Count (server streaming, GetAuditLogsRequest -> ToolResponse): `limit`
 *         messages whose output is since_timestamp bytes of filler and
 *         exit_code the index, produced only while the call's buffer has room
 *         (on_drained resumes); then one more with exit_code -1 and error
 *         "blocked=N max_pending=M". session_id "fail": fails (internal) after
 *         the messages.
 *   Sum (client streaming, ToolRequest -> ToolResponse): exit_code = messages,
 *         output = total bytes of input; tool_name "pause" on the first
 *         message: pauses receiving for 300 ms after each message, and error
 *         says how many messages arrived while paused (must be 0).
 *   Echo (bidi, ToolRequest -> ToolResponse): each input back as output.
 *   PUT /v1/sessions/... (prefix, streamed body, max 2 GiB): replies JSON
 *         {"path", "bytes", "sha256", "max_chunk", "pauses", "while_paused"};
 *         pauses the body for 50 ms after every 4 MiB. A path ending in
 *         "/deny" is answered 403 before any of the body is read.
 *   GET /v1/blobs/N (prefix): N bytes (byte i is i % 251) as a streamed
 *         response with Content-Length, written while the stream has room.
 *
 * Prints "listening on ADDRESS" on stdout once ready; stops on SIGINT/SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>

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

/* ------------------------------------------------------------------ streaming */

struct counter {
    struct api_call *call;
    size_t total, next, size;
    bool fail;
    unsigned blocked;
    size_t max_pending;
};

static void counter_pump(struct counter *c)
{
    char *filler = malloc(c->size + 1);
    if (filler == NULL)
        return;
    memset(filler, 'x', c->size);
    filler[c->size] = '\0';
    while (c->next < c->total) {
        Agent__V1__ToolResponse r = AGENT__V1__TOOL_RESPONSE__INIT;
        r.output = filler;
        r.exit_code = (int32_t)c->next;
        int rc = api_call_send(c->call, &r.base);
        if (api_call_pending(c->call) > c->max_pending)
            c->max_pending = api_call_pending(c->call);
        if (rc < 0) {
            free(filler);
            return; /* gone: on_cancel finishes */
        }
        c->next++;
        if (rc == 0) {
            c->blocked++;
            free(filler);
            return; /* on_drained resumes */
        }
    }
    free(filler);
    if (c->fail) {
        struct error err;
        error_set(&err, ERR_INTERNAL, "failed after %zu messages, as asked", c->total);
        api_call_finish(c->call, &err);
        free(c);
        return;
    }
    char stats[128];
    snprintf(stats, sizeof(stats), "blocked=%u max_pending=%zu", c->blocked, c->max_pending);
    Agent__V1__ToolResponse r = AGENT__V1__TOOL_RESPONSE__INIT;
    r.exit_code = -1;
    r.error = stats;
    api_call_send(c->call, &r.base);
    api_call_finish(c->call, NULL);
    free(c);
}

static void counter_drained(struct api_call *call, void *ctx)
{
    counter_pump(ctx);
}

static void counter_cancel(struct api_call *call, void *ctx)
{
    api_call_finish(call, NULL);
    free(ctx);
}

static void stream_count(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    const Agent__V1__GetAuditLogsRequest *req = (const Agent__V1__GetAuditLogsRequest *)request;
    struct counter *c = calloc(1, sizeof(*c));
    if (c == NULL || req->limit < 0 || req->since_timestamp < 0 || req->since_timestamp > (1 << 20)) {
        free(c);
        struct error err;
        error_set(&err, ERR_INVALID_ARGUMENT, "limit and since_timestamp (0-1 MiB) please");
        api_call_fail(call, &err);
        return;
    }
    c->call = call;
    c->total = (size_t)req->limit;
    c->size = (size_t)req->since_timestamp;
    c->fail = strcmp(req->session_id, "fail") == 0;
    static const struct api_call_callbacks cb = {.on_drained = counter_drained,
                                                 .on_cancel = counter_cancel};
    api_call_set_callbacks(call, &cb, c);
    counter_pump(c);
}

struct summer {
    struct api_call *call;
    struct event_base *base;
    struct event *timer;
    int32_t messages;
    uint64_t bytes;
    bool pause_mode, paused;
    unsigned while_paused;
};

static void summer_free(struct summer *s)
{
    if (s->timer != NULL)
        event_free(s->timer);
    free(s);
}

static void summer_resume(evutil_socket_t fd, short what, void *arg)
{
    struct summer *s = arg;
    s->paused = false;
    api_call_pause_receive(s->call, false);
}

static void summer_message(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct summer *s = ctx;
    const Agent__V1__ToolRequest *req = (const Agent__V1__ToolRequest *)msg;
    if (s->paused)
        s->while_paused++;
    if (s->messages == 0 && strcmp(req->tool_name, "pause") == 0)
        s->pause_mode = true;
    s->messages++;
    s->bytes += strlen(req->input);
    if (s->pause_mode) {
        s->paused = true;
        api_call_pause_receive(call, true);
        struct timeval tv = {0, 300000};
        evtimer_add(s->timer, &tv);
    }
}

static void summer_half_close(struct api_call *call, void *ctx)
{
    struct summer *s = ctx;
    char total[32], notes[64];
    snprintf(total, sizeof(total), "%llu", (unsigned long long)s->bytes);
    snprintf(notes, sizeof(notes), "while_paused=%u", s->while_paused);
    Agent__V1__ToolResponse r = AGENT__V1__TOOL_RESPONSE__INIT;
    r.output = total;
    r.error = notes;
    r.exit_code = s->messages;
    api_call_reply(call, &r.base);
    summer_free(s);
}

static void summer_cancel(struct api_call *call, void *ctx)
{
    api_call_finish(call, NULL);
    summer_free(ctx);
}

static void stream_sum(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    struct testd *testd = ctx;
    struct summer *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->timer = evtimer_new(testd->base, summer_resume, s)) == NULL) {
        free(s);
        struct error err;
        error_set(&err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    s->call = call;
    static const struct api_call_callbacks cb = {.on_message = summer_message,
                                                 .on_half_close = summer_half_close,
                                                 .on_cancel = summer_cancel};
    api_call_set_callbacks(call, &cb, s);
}

static void echo_message(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    const Agent__V1__ToolRequest *req = (const Agent__V1__ToolRequest *)msg;
    Agent__V1__ToolResponse r = AGENT__V1__TOOL_RESPONSE__INIT;
    r.output = req->input;
    api_call_send(call, &r.base);
}

static void echo_half_close(struct api_call *call, void *ctx)
{
    api_call_finish(call, NULL);
}

static void stream_echo(struct api_call *call, const ProtobufCMessage *request, void *ctx)
{
    static const struct api_call_callbacks cb = {.on_message = echo_message,
                                                 .on_half_close = echo_half_close,
                                                 .on_cancel = echo_half_close};
    api_call_set_callbacks(call, &cb, NULL);
}

/* PUT /v1/sessions/...: a streamed body, hashed as it comes. */
struct upload {
    struct api_exchange *ex;
    struct event *timer;
    EVP_MD_CTX *md;
    uint64_t bytes, since_pause;
    size_t max_chunk;
    unsigned pauses, while_paused;
    bool paused;
};

static void upload_free(struct upload *u)
{
    if (u->timer != NULL)
        event_free(u->timer);
    EVP_MD_CTX_free(u->md);
    free(u);
}

static void upload_resume(evutil_socket_t fd, short what, void *arg)
{
    struct upload *u = arg;
    u->paused = false;
    api_exchange_pause_body(u->ex, false);
}

static void upload_body(struct api_exchange *ex, const void *data, size_t len, void *ctx)
{
    struct upload *u = ctx;
    if (u->paused)
        u->while_paused++;
    EVP_DigestUpdate(u->md, data, len);
    u->bytes += len;
    u->since_pause += len;
    if (len > u->max_chunk)
        u->max_chunk = len;
    if (u->since_pause >= (4u << 20)) {
        u->since_pause = 0;
        u->pauses++;
        u->paused = true;
        api_exchange_pause_body(ex, true);
        struct timeval tv = {0, 50000};
        evtimer_add(u->timer, &tv);
    }
}

static void upload_end(struct api_exchange *ex, void *ctx)
{
    struct upload *u = ctx;
    unsigned char digest[32];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(u->md, digest, &dlen);
    char hex[65];
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    char body[1400];
    int n = snprintf(body, sizeof(body),
                     "{\"path\":\"%.1000s\",\"bytes\":%llu,\"sha256\":\"%s\",\"max_chunk\":%zu,"
                     "\"pauses\":%u,\"while_paused\":%u}",
                     api_exchange_path(ex), (unsigned long long)u->bytes, hex, u->max_chunk,
                     u->pauses, u->while_paused);
    api_exchange_reply(ex, 200, "application/json", body, (size_t)n);
    upload_free(u);
}

static void upload_abort(struct api_exchange *ex, const struct error *why, void *ctx)
{
    log_debug("api-testd: upload aborted: %s", why->message);
    upload_free(ctx);
}

static void put_file(struct api_exchange *ex, void *ctx)
{
    struct testd *testd = ctx;
    const char *path = api_exchange_path(ex);
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, "/deny") == 0) {
        static const char msg[] = "{\"code\":\"permission_denied\"}";
        api_exchange_reply(ex, 403, "application/json", msg, sizeof(msg) - 1);
        return;
    }
    struct upload *u = calloc(1, sizeof(*u));
    if (u == NULL || (u->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1 ||
        (u->timer = evtimer_new(testd->base, upload_resume, u)) == NULL) {
        if (u != NULL)
            upload_free(u);
        api_exchange_reply(ex, 503, "text/plain", "out of memory\n", 14);
        return;
    }
    u->ex = ex;
    static const struct api_exchange_callbacks cb = {
        .on_body = upload_body, .on_body_end = upload_end, .on_abort = upload_abort};
    api_exchange_set_callbacks(ex, &cb, u);
}

/* GET /v1/blobs/N: N deterministic bytes, streamed while there is room. */
struct blob {
    uint64_t size, sent;
};

static void blob_pump(struct api_stream *stream, struct blob *b)
{
    uint8_t chunk[65536];
    while (b->sent < b->size && api_stream_pending(stream) < (1u << 20)) {
        size_t n = b->size - b->sent < sizeof(chunk) ? (size_t)(b->size - b->sent) : sizeof(chunk);
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)((b->sent + i) % 251);
        if (api_stream_write(stream, chunk, n) < 0)
            return;
        b->sent += n;
    }
    if (b->sent == b->size) {
        api_stream_end(stream, NULL, 0, 0);
        free(b);
    }
}

static void blob_drained(struct api_stream *stream, void *ctx)
{
    blob_pump(stream, ctx);
}

static void blob_closed(struct api_stream *stream, void *ctx)
{
    free(ctx);
}

static void get_blob(struct api_exchange *ex, void *ctx)
{
    const char *n = api_exchange_path(ex) + strlen("/v1/blobs/");
    char *end = NULL;
    unsigned long long size = strtoull(n, &end, 10);
    struct blob *b = calloc(1, sizeof(*b));
    if (*n == '\0' || *end != '\0' || b == NULL) {
        free(b);
        api_exchange_reply(ex, 404, "text/plain", "no such blob\n", 13);
        return;
    }
    b->size = size;
    char headers[64];
    snprintf(headers, sizeof(headers), "Content-Length: %llu\r\n", size);
    struct api_stream_options o = {.max_buffer = 2u << 20, .extra_headers = headers};
    static const struct api_stream_callbacks cb = {.on_close = blob_closed,
                                                   .on_drained = blob_drained};
    struct api_stream *stream =
        api_exchange_stream_begin(ex, 200, "application/octet-stream", &o, &cb, b);
    if (stream == NULL) {
        free(b);
        return;
    }
    blob_pump(stream, b);
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
    static const struct api_method stream_methods[] = {
        {.name = "Count", .input = &agent__v1__get_audit_logs_request__descriptor,
         .output = &agent__v1__tool_response__descriptor, .handler = stream_count,
         .kind = API_METHOD_SERVER_STREAMING},
        {.name = "Sum", .input = &agent__v1__tool_request__descriptor,
         .output = &agent__v1__tool_response__descriptor, .handler = stream_sum,
         .kind = API_METHOD_CLIENT_STREAMING},
        {.name = "Echo", .input = &agent__v1__tool_request__descriptor,
         .output = &agent__v1__tool_response__descriptor, .handler = stream_echo,
         .kind = API_METHOD_BIDI_STREAMING},
    };
    struct api_service stream_service = {"test.v1.Stream", stream_methods,
                                         sizeof(stream_methods) / sizeof(stream_methods[0]), &testd};
    struct api_route_options put_opts = {.prefix = true, .stream_body = true, .max_body = 2ull << 30};
    struct api_route_options get_opts = {.prefix = true};
    struct api_server *server;
    struct error err;
    auth.allow_anonymous = auth.agent_token == NULL;
    if (api_server_new(testd.base, &config, &server, &err) < 0 ||
        api_server_set_auth(server, &auth, &err) < 0 ||
        api_server_add_service(server, &service, &err) < 0 ||
        api_server_add_service(server, &stream_service, &err) < 0 ||
        api_server_add_route_opts(server, "PUT", "/v1/sessions/", &put_opts, put_file, &testd,
                                  &err) < 0 ||
        api_server_add_route_opts(server, "GET", "/v1/blobs/", &get_opts, get_blob, NULL, &err) < 0 ||
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
