/* enclave.v1.Enclave/Exec (server streaming) and StartSession (lifetimes).
 *
 * Exec: output chunks go to the client as the guest sends them. Flow control
 * runs end to end: the guest may have EXEC_WINDOW bytes of output in flight
 * that the daemon has not credited; the daemon credits a chunk once the API
 * took it into the call's bounded buffer, and stops crediting while that
 * buffer is full. A slow client thus pauses the guest's reading of the
 * workload's pipes (the workload blocks on a full pipe) instead of making the
 * daemon buffer. What is in flight when the buffer fills waits in a backlog
 * bounded by the window. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "daemon/internal.h"
#include "image/image.h"
#include "enclave/v1/enclave.pb-c.h"

/* Output the guest may send ahead of credit. */
#define EXEC_WINDOW (256u << 10)
/* The backlog holds at most the window plus one read of the guest (64 KiB);
 * past this the guest ignores flow control and the exec is stopped. */
#define BACKLOG_LIMIT (EXEC_WINDOW + (1u << 20))
#define CHUNK_HEADER 5 /* stream byte + u32 length, in the backlog */

struct xstream {
    struct daemon_state *d;
    struct api_call *call;
    struct core_exec_handle *exec; /* NULL once the exec ended or was abandoned */
    struct evbuffer *backlog;      /* chunks the API buffer had no room for */
    bool blocked;                  /* api_call_send said full: wait for on_drained */
    uint64_t uncredited;           /* taken by the API while blocked; credited on drain */
    bool exited;                   /* the exit event is waiting for the backlog */
    Enclave__V1__ExecExit exit;
    /* The request, copied (the call's request lives as long as the call). */
    char **env_names, **env_values;
    size_t n_env;
    /* Interactive stdin (ExecInteractive). */
    bool interactive;
    bool started;
    Enclave__V1__ExecRequest *start;  /* the first message's request, kept */
    struct evbuffer *stdin_queue;     /* from the client, not yet sent to the guest */
    uint64_t stdin_in_flight;         /* sent to the guest, not yet written to the program */
    bool stdin_close;                 /* the client has no more input */
    bool stdin_closed;                /* ... and the guest was told */
};

static void xstream_free(struct xstream *x)
{
    if (x->backlog != NULL)
        evbuffer_free(x->backlog);
    if (x->stdin_queue != NULL)
        evbuffer_free(x->stdin_queue);
    if (x->start != NULL)
        protobuf_c_message_free_unpacked(&x->start->base, NULL);
    for (size_t i = 0; i < x->n_env; i++) {
        free(x->env_names[i]);
        free(x->env_values[i]);
    }
    free(x->env_names);
    free(x->env_values);
    free(x);
}

/* Hands one chunk to the API. 1: taken, room for more; 0: taken, now full;
 * -1: not taken (the client is gone). */
static int send_chunk(struct xstream *x, int stream, const uint8_t *data, size_t len)
{
    Enclave__V1__ExecEvent ev = ENCLAVE__V1__EXEC_EVENT__INIT;
    if (stream == 1) {
        ev.event_case = ENCLAVE__V1__EXEC_EVENT__EVENT_STDOUT;
        ev.stdout.data = (uint8_t *)data;
        ev.stdout.len = len;
    } else {
        ev.event_case = ENCLAVE__V1__EXEC_EVENT__EVENT_STDERR;
        ev.stderr.data = (uint8_t *)data;
        ev.stderr.len = len;
    }
    return api_call_send(x->call, &ev.base);
}

static void finish_with_exit(struct xstream *x)
{
    Enclave__V1__ExecEvent ev = ENCLAVE__V1__EXEC_EVENT__INIT;
    ev.event_case = ENCLAVE__V1__EXEC_EVENT__EVENT_EXIT;
    ev.exit = &x->exit;
    api_call_send(x->call, &ev.base);
    api_call_finish(x->call, NULL);
    xstream_free(x);
}

/* Sends what waits in the backlog while the API has room. Returns false when
 * the call went away meanwhile (x is freed). */
static bool flush_backlog(struct xstream *x)
{
    while (!x->blocked && evbuffer_get_length(x->backlog) >= CHUNK_HEADER) {
        uint8_t head[CHUNK_HEADER];
        evbuffer_copyout(x->backlog, head, sizeof(head));
        uint32_t len = (uint32_t)head[1] << 24 | (uint32_t)head[2] << 16 | (uint32_t)head[3] << 8 |
                       head[4];
        evbuffer_drain(x->backlog, CHUNK_HEADER);
        uint8_t *data = len > 0 ? evbuffer_pullup(x->backlog, len) : (uint8_t *)"";
        int rc = data != NULL ? send_chunk(x, head[0], data, len) : -1;
        evbuffer_drain(x->backlog, len);
        if (rc < 0)
            return true; /* the client is gone: on_cancel follows */
        if (rc == 0) {
            x->blocked = true;
            x->uncredited += len;
        } else if (x->exec != NULL) {
            core_exec_credit(x->exec, len);
        }
    }
    if (x->exited && !x->blocked && evbuffer_get_length(x->backlog) == 0) {
        finish_with_exit(x);
        return false;
    }
    return true;
}

static void on_output(int stream, const uint8_t *data, size_t len, void *ctx)
{
    struct xstream *x = ctx;
    if (x->blocked || evbuffer_get_length(x->backlog) > 0) {
        if (evbuffer_get_length(x->backlog) + len + CHUNK_HEADER > BACKLOG_LIMIT) {
            /* The guest sent past its window: stop it rather than buffer. */
            log_warn("exec stream in %s: the guest ignores flow control; stopping the exec",
                     x->call != NULL ? api_call_peer(x->call) : "?");
            core_exec_abandon(x->exec);
            x->exec = NULL;
            struct error e;
            error_set(&e, ERR_INTERNAL, "the guest sent output past its flow-control window");
            api_call_fail(x->call, &e);
            xstream_free(x);
            return;
        }
        uint8_t head[CHUNK_HEADER] = {(uint8_t)stream, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                                      (uint8_t)(len >> 8), (uint8_t)len};
        evbuffer_add(x->backlog, head, sizeof(head));
        evbuffer_add(x->backlog, data, len);
        return;
    }
    int rc = send_chunk(x, stream, data, len);
    if (rc == 1)
        core_exec_credit(x->exec, len);
    else if (rc == 0) {
        x->blocked = true;
        x->uncredited += len;
    }
    /* rc < 0: the client is gone; on_cancel ends the exec. */
}

static void on_drained(struct api_call *call, void *ctx)
{
    struct xstream *x = ctx;
    x->blocked = false;
    if (x->uncredited > 0 && x->exec != NULL)
        core_exec_credit(x->exec, x->uncredited);
    x->uncredited = 0;
    flush_backlog(x);
}

static void on_cancel(struct api_call *call, void *ctx)
{
    struct xstream *x = ctx;
    if (x->exec != NULL)
        core_exec_abandon(x->exec);
    x->exec = NULL;
    daemon_finish_canceled(call);
    xstream_free(x);
}

static void on_exec_done(const struct core_exec_result *res, const struct error *err, void *ctx)
{
    struct xstream *x = ctx;
    x->exec = NULL;
    if (err != NULL) {
        api_call_fail(x->call, err);
        xstream_free(x);
        return;
    }
    Enclave__V1__ExecExit *e = &x->exit;
    enclave__v1__exec_exit__init(e);
    e->exit_code = res->signal ? 0 : res->exit_code;
    e->signal = res->signal;
    e->timed_out = res->timed_out;
    e->truncated = res->out_truncated || res->err_truncated;
    e->truncated_reason = e->truncated ? "output_cap" : "";
    e->stdout_bytes = res->out_len;
    e->stderr_bytes = res->err_len;
    e->duration_ms = res->duration_us / 1000;
    e->max_output_bytes = res->max_output_bytes;
    e->timeout_seconds = (int32_t)res->timeout_s;
    x->exited = true;
    flush_backlog(x);
}

static int copy_env(struct xstream *x, const Enclave__V1__ExecRequest *req, struct error *err)
{
    if (req->n_env > CORE_MAX_ENV)
        return error_set(err, ERR_INVALID_ARGUMENT, "at most %d environment variables", CORE_MAX_ENV);
    x->env_names = calloc(req->n_env + 1, sizeof(char *));
    x->env_values = calloc(req->n_env + 1, sizeof(char *));
    if (x->env_names == NULL || x->env_values == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < req->n_env; i++) {
        const char *k = req->env[i]->key ? req->env[i]->key : "";
        const char *v = req->env[i]->value ? req->env[i]->value : "";
        size_t n = strlen(k);
        bool ok = n > 0 && n <= CORE_MAX_ENV_NAME && !(k[0] >= '0' && k[0] <= '9');
        for (const char *p = k; ok && *p; p++)
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                 *p == '_';
        if (!ok)
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "'%.64s' is not a valid environment variable name", k);
        x->env_names[i] = strdup(k);
        x->env_values[i] = strdup(v);
        x->n_env = i + 1;
        if (x->env_names[i] == NULL || x->env_values[i] == NULL)
            return error_set(err, ERR_INTERNAL, "out of memory");
    }
    return 0;
}

static void on_stdin_written(uint64_t bytes, void *ctx);

/* Starts the exec; -1 with err when refused (nothing started). */
static int xstream_start(struct xstream *x, const Enclave__V1__ExecRequest *req, struct error *err);

void daemon_handle_exec_stream(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Enclave__V1__ExecRequest *req = (const Enclave__V1__ExecRequest *)msg;
    struct error err;
    struct xstream *x = calloc(1, sizeof(*x));
    if (x == NULL || (x->backlog = evbuffer_new()) == NULL) {
        free(x);
        error_set(&err, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    x->d = d;
    x->call = call;
    static const struct api_call_callbacks cbs = {.on_drained = on_drained, .on_cancel = on_cancel};
    api_call_set_callbacks(call, &cbs, x);
    if (xstream_start(x, req, &err) < 0) {
        api_call_set_callbacks(call, NULL, NULL);
        api_call_fail(call, &err);
        xstream_free(x);
    }
}

static int xstream_start(struct xstream *x, const Enclave__V1__ExecRequest *req, struct error *err)
{
    struct daemon_state *d = x->d;
    struct api_call *call = x->call;
    if (req->timeout_seconds < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "timeout_seconds may not be negative");
    if (req->n_argv == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "argv is empty");
    if (req->cwd != NULL && req->cwd[0] != '\0' && (req->cwd[0] != '/' || strlen(req->cwd) > 1024))
        return error_set(err, ERR_INVALID_ARGUMENT, "cwd must be an absolute path");
    if (copy_env(x, req, err) < 0)
        return -1;
    struct core_exec_request er = {
        .session_id = req->session_id,
        .tool = "exec",
        .argv = req->argv,
        .argc = req->n_argv,
        .stdin_data = req->stdin.data,
        .stdin_len = req->stdin.len,
        .env_names = x->env_names,
        .env_values = x->env_values,
        .n_env = x->n_env,
        .cwd = req->cwd != NULL && req->cwd[0] != '\0' ? req->cwd : NULL,
        .timeout_s = (unsigned)req->timeout_seconds,
        .context_json = req->context_json,
        .caller = daemon_caller_of(call),
        .on_output = on_output,
        .stream_window = EXEC_WINDOW,
        .stdin_open = x->interactive,
        .on_stdin_written = x->interactive ? on_stdin_written : NULL,
    };
    return core_exec_stream(d->core, &er, on_exec_done, x, &x->exec, err);
}

/* ------------------------------------------------------------ interactive stdin */

#define STDIN_CHUNK (64u << 10)

/* Moves queued stdin to the guest while it has room, and tells it when the
 * client is done; takes more from the client once the queue is empty. */
static void stdin_pump(struct xstream *x)
{
    if (x->exec == NULL)
        return;
    struct error err;
    while (evbuffer_get_length(x->stdin_queue) > 0 && x->stdin_in_flight < CORE_STDIN_IN_FLIGHT) {
        size_t n = evbuffer_get_length(x->stdin_queue);
        if (n > STDIN_CHUNK)
            n = STDIN_CHUNK;
        uint8_t *data = evbuffer_pullup(x->stdin_queue, (ev_ssize_t)n);
        if (data == NULL || core_exec_stdin(x->exec, data, n, false, &err) < 0)
            return; /* the exec ends through its callback */
        evbuffer_drain(x->stdin_queue, n);
        x->stdin_in_flight += n;
    }
    if (evbuffer_get_length(x->stdin_queue) > 0)
        return;
    if (x->stdin_close && !x->stdin_closed) {
        x->stdin_closed = true;
        core_exec_stdin(x->exec, NULL, 0, true, &err);
    }
    if (!x->stdin_close)
        api_call_pause_receive(x->call, false);
}

static void on_stdin_written(uint64_t bytes, void *ctx)
{
    struct xstream *x = ctx;
    x->stdin_in_flight = bytes < x->stdin_in_flight ? x->stdin_in_flight - bytes : 0;
    stdin_pump(x);
}

static void on_input(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct xstream *x = ctx;
    const Enclave__V1__ExecInput *in = (const Enclave__V1__ExecInput *)msg;
    struct error err;
    if (!x->started) {
        if (in->input_case != ENCLAVE__V1__EXEC_INPUT__INPUT_START) {
            error_set(&err, ERR_INVALID_ARGUMENT, "the first message must be start (an ExecRequest)");
            goto fail;
        }
        /* The message is the API's only during this callback: keep a copy. */
        size_t len = protobuf_c_message_get_packed_size(&in->start->base);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf == NULL) {
            error_set(&err, ERR_INTERNAL, "out of memory");
            goto fail;
        }
        protobuf_c_message_pack(&in->start->base, buf);
        x->start = enclave__v1__exec_request__unpack(NULL, len, buf);
        free(buf);
        if (x->start == NULL) {
            error_set(&err, ERR_INTERNAL, "out of memory");
            goto fail;
        }
        x->started = true;
        if (xstream_start(x, x->start, &err) < 0)
            goto fail;
        if (in->close_stdin) {
            x->stdin_close = true;
            stdin_pump(x);
        }
        return;
    }
    if (in->input_case == ENCLAVE__V1__EXEC_INPUT__INPUT_START) {
        error_set(&err, ERR_INVALID_ARGUMENT, "start may come only once");
        goto fail;
    }
    if (x->stdin_close) {
        error_set(&err, ERR_INVALID_ARGUMENT, "stdin was closed already");
        goto fail;
    }
    if (x->exec == NULL)
        return; /* the program ended; the exit event is on its way */
    if (in->input_case == ENCLAVE__V1__EXEC_INPUT__INPUT_STDIN && in->stdin.len > 0)
        evbuffer_add(x->stdin_queue, in->stdin.data, in->stdin.len);
    if (in->close_stdin)
        x->stdin_close = true;
    /* One message at a time: the next is read once this one went out. */
    if (evbuffer_get_length(x->stdin_queue) > 0)
        api_call_pause_receive(call, true);
    stdin_pump(x);
    return;
fail:
    if (x->exec != NULL) {
        core_exec_abandon(x->exec);
        x->exec = NULL;
    }
    api_call_fail(call, &err);
    xstream_free(x);
}

static void on_input_end(struct api_call *call, void *ctx)
{
    struct xstream *x = ctx;
    if (!x->started) {
        struct error err;
        error_set(&err, ERR_INVALID_ARGUMENT, "no start message");
        api_call_fail(call, &err);
        xstream_free(x);
        return;
    }
    /* The client sends nothing more: its stdin ends; the program goes on. */
    x->stdin_close = true;
    stdin_pump(x);
}

void daemon_handle_exec_interactive(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    struct xstream *x = calloc(1, sizeof(*x));
    if (x == NULL || (x->backlog = evbuffer_new()) == NULL ||
        (x->stdin_queue = evbuffer_new()) == NULL) {
        if (x != NULL && x->backlog != NULL)
            evbuffer_free(x->backlog);
        free(x);
        struct error err;
        error_set(&err, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    x->d = d;
    x->call = call;
    x->interactive = true;
    static const struct api_call_callbacks cbs = {.on_message = on_input,
                                                  .on_half_close = on_input_end,
                                                  .on_drained = on_drained,
                                                  .on_cancel = on_cancel};
    api_call_set_callbacks(call, &cbs, x);
}

/* ------------------------------------------------------------ lifetime */

int daemon_lifetime_resolve(const struct daemon_state *d, int32_t idle_s, int32_t life_s,
                            unsigned *idle_out, unsigned *life_out, struct error *err)
{
    if (idle_s < -1 || life_s < -1)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "idle_timeout_s and max_lifetime_s are seconds, 0 for the default or -1 "
                         "for none");
    *idle_out = idle_s == 0 ? d->opts.session_idle_timeout_s : idle_s < 0 ? 0 : (unsigned)idle_s;
    *life_out = life_s == 0 ? d->opts.session_max_lifetime_s : life_s < 0 ? 0 : (unsigned)life_s;
    return 0;
}

int daemon_start_request(const struct daemon_state *d, struct api_call *call,
                         const struct daemon_start_fields *in, struct core_start_request *sr)
{
    struct error err;
    unsigned idle = 0, life = 0;
    int rc;
    if (in->vcpu < 0 || in->memory_mb < 0 || in->workspace_mb < 0)
        rc = error_set(&err, ERR_INVALID_ARGUMENT, "%s",
                       in->has_workspace ? "vcpu, memory_mb and workspace_mb may not be negative"
                                         : "vcpu and memory_mb may not be negative");
    else
        rc = daemon_lifetime_resolve(d, in->idle_timeout_s, in->max_lifetime_s, &idle, &life, &err);
    if (rc < 0) {
        api_call_fail(call, &err);
        return -1;
    }
    *sr = (struct core_start_request){
        .session_id = in->session_id,
        .vcpus = (unsigned)in->vcpu,
        .mem_mb = (unsigned)in->memory_mb,
        .workspace_mb = (unsigned)in->workspace_mb,
        .caller = daemon_caller_of(call),
        .idle_timeout_s = idle,
        .max_lifetime_s = life,
        .egress = in->egress,
    };
    return 0;
}

static void start_session_done(const struct core_session_info *info, const struct error *err,
                               void *ctx)
{
    struct api_call *call = daemon_call_or_fail(ctx, err);
    if (call == NULL)
        return;
    Enclave__V1__StartSessionResponse resp = ENCLAVE__V1__START_SESSION_RESPONSE__INIT;
    resp.session_id = (char *)info->id;
    resp.status = (char *)core_session_state_name(info->state);
    resp.idle_timeout_s = (int32_t)info->idle_timeout_s;
    resp.max_lifetime_s = (int32_t)info->max_lifetime_s;
    resp.deadline_unix_ns = info->deadline_unix_ns;
    resp.workspace_mb = (int32_t)info->workspace_mb;
    api_call_reply(call, &resp.base);
}

void daemon_handle_start_session(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Enclave__V1__StartSessionRequest *req = (const Enclave__V1__StartSessionRequest *)msg;
    struct error err;
    struct daemon_start_fields in = DAEMON_START_FIELDS(req);
    in.workspace_mb = req->workspace_mb;
    in.has_workspace = true;
    struct core_start_request sr;
    if (daemon_start_request(d, call, &in, &sr) < 0)
        return;
    struct image_manifest *image = NULL;
    if (daemon_image_for_start(req->image, &sr, &image, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    if (core_session_start(d->core, &sr, start_session_done, call, &err) < 0)
        api_call_fail(call, &err);
    image_manifest_free(image);
}
