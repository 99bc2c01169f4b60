/* A cell of Python in a session's interpreter context (core.h, "code"): the
 * gate ("exec" with tool "code"), the guest's CodeRequest and its events,
 * and the TOOL:EXEC record. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"
#include "common/text.h"
#include "core/internal.h"

#define CODE_REPLY_GRACE_MS 15000 /* past the cell's timeout: SIGINT grace, restart */
#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S 3600
#define MAX_CODE_BYTES (4u << 20)
/* What one cell may deliver, counted here whatever the guest says: its
 * standard output and error as the guest caps them (16 MiB), and its results
 * and errors (the workload writes the driver's pipe itself, so it can claim
 * any number of results) as much as one event of the driver (6 MiB). Events
 * past either are dropped and the reply says output_truncated. Together they
 * fit the RunCode call's buffer (24 MiB). */
#define MAX_CELL_TEXT_BYTES (16u << 20)
#define MAX_CELL_RESULT_BYTES (6u << 20)

struct core_code_run {
    struct core *core;
    struct proxy_conn *conn;
    uint64_t id;
    core_code_event_fn on_event;
    core_code_fn cb;
    void *ctx;
    unsigned timeout_s;
    size_t code_bytes;
    uint64_t text_bytes;   /* stdout and stderr events delivered */
    uint64_t result_bytes; /* result and error events delivered */
    bool truncated;        /* the host dropped events past a cap */
    char session_id[CORE_MAX_SESSION_ID + 1];
    char context_id[65];
};

static void on_code_frame(const Guest__V1__Frame *f, void *ctx)
{
    struct core_code_run *r = ctx;
    if (f->body_case != GUEST__V1__FRAME__BODY_CODE_EVENT || r->on_event == NULL)
        return;
    const Guest__V1__CodeEvent *e = f->code_event;
    struct core_code_event ev = {
        .text = e->text ? e->text : "",
        .name = e->name ? e->name : "",
        .value = e->value ? e->value : "",
        .traceback = e->traceback ? e->traceback : "",
    };
    switch (e->kind) {
    case GUEST__V1__CODE_EVENT__KIND__KIND_STDOUT:
        ev.kind = "stdout";
        break;
    case GUEST__V1__CODE_EVENT__KIND__KIND_STDERR:
        ev.kind = "stderr";
        break;
    case GUEST__V1__CODE_EVENT__KIND__KIND_RESULT:
        ev.kind = "result";
        break;
    case GUEST__V1__CODE_EVENT__KIND__KIND_ERROR:
        ev.kind = "error";
        break;
    default:
        return;
    }
    const char *mimes[16];
    const uint8_t *data[16];
    size_t lens[16];
    size_t n = e->n_data < 16 ? e->n_data : 16;
    for (size_t i = 0; i < n; i++) {
        mimes[i] = e->data[i]->mime_type ? e->data[i]->mime_type : "";
        data[i] = e->data[i]->data.data;
        lens[i] = e->data[i]->data.len;
    }
    /* The guest is a peer: the caps are counted here. */
    uint64_t size = strlen(ev.text) + strlen(ev.name) + strlen(ev.value) + strlen(ev.traceback);
    for (size_t i = 0; i < n; i++)
        size += strlen(mimes[i]) + lens[i];
    bool text = e->kind == GUEST__V1__CODE_EVENT__KIND__KIND_STDOUT ||
                e->kind == GUEST__V1__CODE_EVENT__KIND__KIND_STDERR;
    uint64_t *spent = text ? &r->text_bytes : &r->result_bytes;
    uint64_t cap = text ? MAX_CELL_TEXT_BYTES : MAX_CELL_RESULT_BYTES;
    if (size > cap - *spent) {
        r->truncated = true;
        return;
    }
    *spent += size;
    /* The guest's words travel on in JSON and protobuf strings: valid UTF-8
     * (U+FFFD for what is not), whatever a subverted guest sends. */
    char *owned[4 + 16] = {NULL};
    const char **fields[4] = {&ev.text, &ev.name, &ev.value, &ev.traceback};
    bool ok = true;
    for (size_t i = 0; i < 4 && ok; i++)
        ok = (*fields[i] = owned[i] = text_utf8_sanitize((const uint8_t *)*fields[i], strlen(*fields[i]))) != NULL;
    for (size_t i = 0; i < n && ok; i++)
        ok = (mimes[i] = owned[4 + i] = text_utf8_sanitize((const uint8_t *)mimes[i], strlen(mimes[i]))) != NULL;
    if (ok) {
        ev.n_data = n;
        ev.mime_types = mimes;
        ev.data = data;
        ev.data_len = lens;
        r->on_event(&ev, r->ctx);
    } else {
        log_warn("a cell's event dropped: out of memory");
        r->truncated = true;
    }
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        free(owned[i]);
}

static void on_code_reply(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct core_code_run *r = ctx;
    struct error buf;
    const struct error *fail = err;
    if (fail == NULL && reply->body_case == GUEST__V1__FRAME__BODY_ERROR) {
        enum error_kind kind = ERR_INTERNAL;
        switch (reply->error->code) {
        case GUEST__V1__ERROR_RESPONSE__CODE__CODE_BUSY:
            kind = ERR_RESOURCE_EXHAUSTED;
            break;
        case GUEST__V1__ERROR_RESPONSE__CODE__CODE_INVALID:
        case GUEST__V1__ERROR_RESPONSE__CODE__CODE_TOO_LARGE:
            kind = ERR_INVALID_ARGUMENT;
            break;
        case GUEST__V1__ERROR_RESPONSE__CODE__CODE_EXEC_FAILED:
            kind = ERR_FAILED_PRECONDITION;
            break;
        case GUEST__V1__ERROR_RESPONSE__CODE__CODE_UNKNOWN_REQUEST:
            kind = ERR_UNIMPLEMENTED;
            break;
        default:
            break;
        }
        char msg[512]; /* the guest's words: valid UTF-8 for replies and audit records */
        text_utf8_copy(msg, sizeof(msg), reply->error->message ? reply->error->message : "error");
        error_set(&buf, kind, "guest: %s", msg);
        fail = &buf;
    } else if (fail == NULL && reply->body_case != GUEST__V1__FRAME__BODY_CODE_RESPONSE) {
        error_set(&buf, ERR_INTERNAL, "the guest answered a cell with something else");
        fail = &buf;
    }
    core_session_touch(r->core, r->session_id);
    if (fail != NULL) {
        core_record_event(r->core, AUDIT_TOOL_EXEC, r->session_id,
                          json_pack("{s:s, s:s, s:s}", "tool", "code", "context_id", r->context_id, "error",
                                    fail->message));
        r->cb(NULL, fail, r->ctx);
        free(r);
        return;
    }
    const Guest__V1__CodeResponse *c = reply->code_response;
    struct core_code_result res = {
        .error = c->error,
        .timed_out = c->timed_out,
        .interrupted = c->interrupted,
        .restarted = c->restarted,
        .truncated = c->output_truncated || r->truncated,
        .duration_us = c->duration_us,
        .execution_count = c->execution_count,
        .timeout_s = r->timeout_s,
    };
    core_record_event(r->core, AUDIT_TOOL_EXEC, r->session_id,
                      json_pack("{s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:I, s:i, s:b}", "tool", "code", "context_id",
                                r->context_id, "code_bytes", (json_int_t)r->code_bytes, "error", c->error,
                                "timed_out", c->timed_out, "interrupted", c->interrupted, "restarted",
                                c->restarted, "duration_us", (json_int_t)c->duration_us, "execution_count",
                                (int)c->execution_count, "output_truncated", res.truncated));
    r->cb(&res, NULL, r->ctx);
    free(r);
}

int core_code(struct core *core, const struct core_code_request *req, core_code_event_fn on_event, core_code_fn cb,
              void *ctx, struct core_code_run **run, struct error *err)
{
    const char *code = req->code ? req->code : "";
    const char *cid = req->context_id ? req->context_id : "";
    size_t code_len = strlen(code);
    if (code_len > MAX_CODE_BYTES)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "the code is %zu bytes; the most accepted is %u", code_len,
                         MAX_CODE_BYTES);
    if (strlen(cid) > 64)
        return error_set(err, ERR_INVALID_ARGUMENT, "context_id is at most 64 characters");
    for (const char *p = cid; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return error_set(err, ERR_INVALID_ARGUMENT, "context_id may use only [A-Za-z0-9._-]");
    unsigned timeout = req->timeout_s ? req->timeout_s : DEFAULT_TIMEOUT_S;
    if (timeout > MAX_TIMEOUT_S)
        return error_set(err, ERR_INVALID_ARGUMENT, "timeout_seconds must be at most %u", MAX_TIMEOUT_S);
    json_t *session = NULL;
    if (core_session_channel(core, req->session_id, &session, err) == NULL)
        return -1;
    json_t *input = json_pack("{s:o, s:{s:s, s:[s], s:s, s:s, s:s, s:i, s:I, s:{}}, s:o}", "session", session,
                              "request", "tool", "code", "argv", "python3", "code", code, "context_id", cid, "cwd",
                              "/workspace", "timeout_s", (int)timeout, "stdin_bytes", (json_int_t)0, "context",
                              "caller", core_caller_json(&req->caller));
    struct gate_obligations ob;
    if (core_decide_exec(core, req->session_id, input, &timeout, &ob, err) < 0)
        return -1;
    struct proxy_conn *conn = core_session_channel(core, req->session_id, NULL, err);
    if (conn == NULL)
        return -1;
    struct core_code_run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    r->core = core;
    r->conn = conn;
    r->on_event = on_event;
    r->cb = cb;
    r->ctx = ctx;
    r->timeout_s = timeout;
    r->code_bytes = code_len;
    snprintf(r->session_id, sizeof(r->session_id), "%s", req->session_id);
    snprintf(r->context_id, sizeof(r->context_id), "%s", cid);
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__CodeRequest cr = GUEST__V1__CODE_REQUEST__INIT;
    Guest__V1__Limits lim = GUEST__V1__LIMITS__INIT;
    lim.max_processes = 256;
    lim.max_file_size = 1ull << 30;
    lim.max_open_files = 1024;
    cr.context_id = (char *)cid;
    cr.code = (char *)code;
    cr.timeout_ms = timeout * 1000u;
    cr.limits = &lim;
    /* A context started in a session with egress reaches it through the proxy. */
    Guest__V1__EnvVar env_store[CORE_EGRESS_ENV_COUNT];
    Guest__V1__EnvVar *env_ptrs[CORE_EGRESS_ENV_COUNT];
    if (core_session_has_egress(core, req->session_id)) {
        cr.env = env_ptrs;
        cr.n_env = core_egress_env(env_store, env_ptrs);
    }
    f.body_case = GUEST__V1__FRAME__BODY_CODE_REQUEST;
    f.code_request = &cr;
    if (proxy_request_frames(conn, &f, timeout * 1000u + CODE_REPLY_GRACE_MS, on_code_reply, on_code_frame, r, &r->id,
                             err) < 0) {
        free(r);
        return -1;
    }
    core_session_touch(core, req->session_id);
    if (run != NULL)
        *run = r;
    return 0;
}

void core_code_abandon(struct core_code_run *r)
{
    if (r == NULL)
        return;
    core_record_event(r->core, AUDIT_TOOL_EXEC, r->session_id,
                      json_pack("{s:s, s:s, s:s}", "tool", "code", "context_id", r->context_id, "error",
                                "abandoned by the client"));
    proxy_cancel(r->conn, r->id);
    free(r);
}
