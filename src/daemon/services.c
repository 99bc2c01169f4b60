/* agent.v1.AgentService and enclave.v1.Enclave: decode a request into core
 * calls, and core results into replies. Sizes and shapes are checked here;
 * decisions are the gate's (core asks it). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/v1/agent.pb-c.h"
#include "common/cleanup.h"
#include "common/exit_code.h"
#include "common/log.h"
#include "common/text.h"
#include "common/version.h"
#include "daemon/internal.h"
#include "enclave/v1/enclave.pb-c.h"

#define PYTHON_ARG_MAX 100000 /* below the kernel's 128 KiB limit on one argument */

static const char *const tool_names = "python, exec";

struct core_caller daemon_caller_of(struct api_call *call)
{
    struct core_caller c = {.transport = api_call_transport(call), .peer = api_call_peer(call),
                            .principal = api_call_principal(call)};
    return c;
}

struct api_call *daemon_call_or_fail(void *ctx, const struct error *err)
{
    struct api_call *call = ctx;
    if (err != NULL) {
        api_call_fail(call, err);
        return NULL;
    }
    return call;
}

void *daemon_call_calloc(struct api_call *call, size_t size)
{
    void *p = calloc(1, size);
    if (p == NULL) {
        struct error e;
        error_set(&e, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &e);
    }
    return p;
}

void daemon_finish_canceled(struct api_call *call)
{
    struct error e;
    error_set(&e, ERR_CANCELED, "the client went away");
    api_call_finish(call, &e);
}

/* ------------------------------------------------------------ StartSession */

static void start_done(const struct core_session_info *info, const struct error *err, void *ctx)
{
    struct api_call *call = daemon_call_or_fail(ctx, err);
    if (call == NULL)
        return;
    Agent__V1__SessionResponse resp = AGENT__V1__SESSION_RESPONSE__INIT;
    resp.session_id = (char *)info->id;
    resp.status = (char *)core_session_state_name(info->state);
    resp.socket_path = (char *)info->channel_path;
    api_call_reply(call, &resp.base);
}

static void handle_start(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Agent__V1__StartRequest *req = (const Agent__V1__StartRequest *)msg;
    struct error err;
    struct daemon_start_fields in = DAEMON_START_FIELDS(req);
    struct core_start_request sr;
    if (daemon_start_request(d, call, &in, &sr) < 0)
        return;
    if (core_session_start(d->core, &sr, start_done, call, &err) < 0)
        api_call_fail(call, &err);
}

/* ------------------------------------------------------------ ExecuteTool */

struct exec_call {
    struct api_call *call;
    char **argv;
    size_t argc;
    char **env_names;
    char **env_values;
    size_t n_env;
    uint8_t *stdin_data;
    size_t stdin_len;
    char *cwd;
    char tool[16];
    char session_id[CORE_MAX_SESSION_ID + 1];
};

static void exec_call_free(struct exec_call *ec)
{
    for (size_t i = 0; i < ec->argc; i++)
        free(ec->argv[i]);
    free(ec->argv);
    for (size_t i = 0; i < ec->n_env; i++) {
        free(ec->env_names[i]);
        free(ec->env_values[i]);
    }
    free(ec->env_names);
    free(ec->env_values);
    free(ec->stdin_data);
    free(ec->cwd);
    free(ec);
}

static int argv_push(struct exec_call *ec, const char *s, struct error *err)
{
    if (ec->argc >= CORE_MAX_ARGV)
        return error_set(err, ERR_INVALID_ARGUMENT, "argv has more than %d entries", CORE_MAX_ARGV);
    char **n = realloc(ec->argv, (ec->argc + 2) * sizeof(char *));
    if (n == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    ec->argv = n;
    ec->argv[ec->argc] = strdup(s);
    if (ec->argv[ec->argc] == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    ec->argc++;
    ec->argv[ec->argc] = NULL;
    return 0;
}

static bool env_name_valid(const char *n)
{
    if (n[0] == '\0' || strlen(n) > CORE_MAX_ENV_NAME || (n[0] >= '0' && n[0] <= '9'))
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static int parse_env(struct exec_call *ec, json_t *env, struct error *err)
{
    if (!json_is_object(env))
        return error_set(err, ERR_INVALID_ARGUMENT, "tool 'exec': env must be an object of strings");
    size_t n = json_object_size(env);
    if (n > CORE_MAX_ENV)
        return error_set(err, ERR_INVALID_ARGUMENT, "tool 'exec': at most %d environment variables",
                         CORE_MAX_ENV);
    ec->env_names = calloc(n + 1, sizeof(char *));
    ec->env_values = calloc(n + 1, sizeof(char *));
    if (ec->env_names == NULL || ec->env_values == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(env, key, val) {
        if (!env_name_valid(key))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "tool 'exec': '%.64s' is not a valid environment variable name", key);
        if (!json_is_string(val) || strlen(json_string_value(val)) != json_string_length(val))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "tool 'exec': env value of %s must be a string without NUL bytes", key);
        ec->env_names[ec->n_env] = strdup(key);
        ec->env_values[ec->n_env] = strdup(json_string_value(val));
        ec->n_env++;
        if (ec->env_names[ec->n_env - 1] == NULL || ec->env_values[ec->n_env - 1] == NULL)
            return error_set(err, ERR_INTERNAL, "out of memory");
    }
    return 0;
}

/* "exec" input: a JSON array of strings, or
 * {"argv": [...], "stdin": "...", "cwd": "...", "env": {"NAME": "value"}}. */
static int parse_exec_input(struct exec_call *ec, const char *input, struct error *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(input, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "tool 'exec' takes a JSON argv (e.g. [\"ls\", \"-l\"]): %s at column %d",
                         jerr.text, jerr.column);
    json_t *argv = doc;
    int rc = -1;
    if (json_is_object(doc)) {
        const char *key;
        json_t *val;
        json_object_foreach(doc, key, val) {
            if (strcmp(key, "argv") && strcmp(key, "stdin") && strcmp(key, "cwd") &&
                strcmp(key, "env")) {
                error_set(err, ERR_INVALID_ARGUMENT,
                          "tool 'exec': unknown field '%s' (argv, stdin, cwd, env)", key);
                goto out;
            }
        }
        argv = json_object_get(doc, "argv");
        json_t *in = json_object_get(doc, "stdin");
        json_t *cwd = json_object_get(doc, "cwd");
        json_t *env = json_object_get(doc, "env");
        if (env && parse_env(ec, env, err) < 0)
            goto out;
        if (in && !json_is_string(in)) {
            error_set(err, ERR_INVALID_ARGUMENT, "tool 'exec': stdin must be a string");
            goto out;
        }
        if (cwd && !json_is_string(cwd)) {
            error_set(err, ERR_INVALID_ARGUMENT, "tool 'exec': cwd must be a string");
            goto out;
        }
        if (in) {
            ec->stdin_len = json_string_length(in);
            ec->stdin_data = malloc(ec->stdin_len + 1);
            if (ec->stdin_data == NULL) {
                error_set(err, ERR_INTERNAL, "out of memory");
                goto out;
            }
            memcpy(ec->stdin_data, json_string_value(in), ec->stdin_len);
        }
        if (cwd) {
            const char *c = json_string_value(cwd);
            if (c[0] != '/' || strlen(c) > 1024) {
                error_set(err, ERR_INVALID_ARGUMENT, "tool 'exec': cwd must be an absolute path");
                goto out;
            }
            ec->cwd = strdup(c);
        }
    }
    if (!json_is_array(argv) || json_array_size(argv) == 0) {
        error_set(err, ERR_INVALID_ARGUMENT,
                  "tool 'exec' takes a non-empty JSON array of strings as argv");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(argv, i, v) {
        if (!json_is_string(v)) {
            error_set(err, ERR_INVALID_ARGUMENT, "tool 'exec': argv[%zu] is not a string", i);
            goto out;
        }
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            error_set(err, ERR_INVALID_ARGUMENT, "tool 'exec': argv[%zu] contains a NUL byte", i);
            goto out;
        }
        if (argv_push(ec, json_string_value(v), err) < 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

static void exec_done(const struct core_exec_result *res, const struct error *err, void *ctx)
{
    struct exec_call *ec = ctx;
    if (err != NULL) {
        api_call_fail(ec->call, err);
        exec_call_free(ec);
        return;
    }
    cleanup_free char *out = text_utf8_sanitize(res->out, res->out_len);
    cleanup_free char *errtext = text_utf8_sanitize(res->err, res->err_len);
    if (out == NULL || errtext == NULL) {
        struct error e;
        error_set(&e, ERR_INTERNAL, "out of memory");
        api_call_fail(ec->call, &e);
        exec_call_free(ec);
        return;
    }
    /* Notes from Enclave itself go after the workload's stderr, one per line. */
    char notes[512] = "";
    size_t nl = 0;
    if (res->timed_out)
        nl += (size_t)snprintf(notes + nl, sizeof(notes) - nl,
                               "enclave: timed out after %u s; the process group was killed\n",
                               res->timeout_s);
    if (res->out_truncated && nl < sizeof(notes))
        nl += (size_t)snprintf(notes + nl, sizeof(notes) - nl,
                               "enclave: stdout truncated at %llu bytes\n",
                               (unsigned long long)res->max_output_bytes);
    if (res->err_truncated && nl < sizeof(notes))
        nl += (size_t)snprintf(notes + nl, sizeof(notes) - nl,
                               "enclave: stderr truncated at %llu bytes\n",
                               (unsigned long long)res->max_output_bytes);
    size_t elen = strlen(errtext);
    bool need_nl = elen > 0 && errtext[elen - 1] != '\n' && notes[0];
    size_t tlen = elen + (need_nl ? 1 : 0) + strlen(notes);
    cleanup_free char *error_field = malloc(tlen + 1);
    if (error_field == NULL) {
        struct error e;
        error_set(&e, ERR_INTERNAL, "out of memory");
        api_call_fail(ec->call, &e);
        exec_call_free(ec);
        return;
    }
    snprintf(error_field, tlen + 1, "%s%s%s", errtext, need_nl ? "\n" : "", notes);

    int exit_code = exit_code_clamp(res->exit_code);
    const char *status = "exited";
    if (res->timed_out) {
        exit_code = 124;
        status = "timeout";
    } else if (res->signal) {
        exit_code = exit_code_for_signal(res->signal); /* the guest's number: no 128 + INT_MAX */
        status = "signaled";
    }
    json_t *meta = json_pack("{s:i, s:i, s:b, s:I, s:b, s:b, s:I, s:I, s:i, s:I}", "exit_code",
                             res->exit_code, "signal", res->signal, "timed_out", res->timed_out,
                             "duration_us", (json_int_t)res->duration_us, "stdout_truncated",
                             res->out_truncated, "stderr_truncated", res->err_truncated,
                             "stdout_bytes", (json_int_t)res->out_len, "stderr_bytes",
                             (json_int_t)res->err_len, "timeout_s", (int)res->timeout_s,
                             "max_output_bytes", (json_int_t)res->max_output_bytes);
    cleanup_free char *meta_text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);

    Agent__V1__SyscallLog log = AGENT__V1__SYSCALL_LOG__INIT;
    log.timestamp = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    log.name = "exec";
    log.args = ec->argc > 0 ? ec->argv[0] : "";
    log.status = (char *)status;
    log.session_id = ec->session_id;
    log.action = ec->tool;
    log.metadata_json = meta_text ? meta_text : "{}";
    Agent__V1__SyscallLog *logs[1] = {&log};

    Agent__V1__ToolResponse resp = AGENT__V1__TOOL_RESPONSE__INIT;
    resp.output = out;
    resp.error = error_field;
    resp.exit_code = exit_code;
    resp.n_syscall_logs = 1;
    resp.syscall_logs = logs;
    api_call_reply(ec->call, &resp.base);
    exec_call_free(ec);
}

static void handle_execute(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Agent__V1__ToolRequest *req = (const Agent__V1__ToolRequest *)msg;
    struct error err;
    struct exec_call *ec = daemon_call_calloc(call, sizeof(*ec));
    if (ec == NULL)
        return;
    ec->call = call;
    snprintf(ec->session_id, sizeof(ec->session_id), "%s", req->session_id ? req->session_id : "");
    const char *input = req->input ? req->input : "";
    size_t input_len = strlen(input);
    if (req->timeout_seconds < 0) {
        error_set(&err, ERR_INVALID_ARGUMENT, "timeout_seconds may not be negative");
        goto fail;
    }
    if (input_len > d->opts.max_input_bytes) {
        error_set(&err, ERR_RESOURCE_EXHAUSTED, "input is %zu bytes; the most accepted is %zu",
                  input_len, d->opts.max_input_bytes);
        goto fail;
    }
    if (req->tool_name && strcmp(req->tool_name, "python") == 0) {
        snprintf(ec->tool, sizeof(ec->tool), "python");
        if (argv_push(ec, "python3", &err) < 0)
            goto fail;
        if (input_len <= PYTHON_ARG_MAX) {
            if (argv_push(ec, "-c", &err) < 0 || argv_push(ec, input, &err) < 0)
                goto fail;
        } else {
            /* Too long for one argument: the program arrives on stdin. */
            if (argv_push(ec, "-", &err) < 0)
                goto fail;
            ec->stdin_data = malloc(input_len);
            if (ec->stdin_data == NULL) {
                error_set(&err, ERR_INTERNAL, "out of memory");
                goto fail;
            }
            memcpy(ec->stdin_data, input, input_len);
            ec->stdin_len = input_len;
        }
    } else if (req->tool_name && strcmp(req->tool_name, "exec") == 0) {
        snprintf(ec->tool, sizeof(ec->tool), "exec");
        if (parse_exec_input(ec, input, &err) < 0)
            goto fail;
    } else {
        error_set(&err, ERR_INVALID_ARGUMENT, "unknown tool_name '%s'; the tools are: %s",
                  req->tool_name ? req->tool_name : "", tool_names);
        goto fail;
    }
    struct core_exec_request er = {
        .session_id = req->session_id,
        .tool = ec->tool,
        .argv = ec->argv,
        .argc = ec->argc,
        .stdin_data = ec->stdin_data,
        .stdin_len = ec->stdin_len,
        .env_names = ec->env_names,
        .env_values = ec->env_values,
        .n_env = ec->n_env,
        .cwd = ec->cwd,
        .timeout_s = (unsigned)req->timeout_seconds,
        .context_json = req->context_json,
        .caller = daemon_caller_of(call),
    };
    if (core_exec(d->core, &er, exec_done, ec, &err) < 0)
        goto fail;
    return;
fail:
    api_call_fail(call, &err);
    exec_call_free(ec);
}

/* ------------------------------------------------------------ StopSession */

static void stop_done(const struct error *err, void *ctx)
{
    struct api_call *call = daemon_call_or_fail(ctx, err);
    if (call == NULL)
        return;
    Agent__V1__StopResponse resp = AGENT__V1__STOP_RESPONSE__INIT;
    resp.success = 1;
    api_call_reply(call, &resp.base);
}

static void handle_stop(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Agent__V1__StopRequest *req = (const Agent__V1__StopRequest *)msg;
    struct error err;
    struct core_caller caller = daemon_caller_of(call);
    if (core_session_stop(d->core, req->session_id, &caller, stop_done, call, &err) < 0)
        api_call_fail(call, &err);
}

/* ------------------------------------------------------------ GetAuditLogs */

#define AUDIT_READ_DEFAULT 100
#define AUDIT_READ_MAX 1000

struct audit_rows {
    Agent__V1__SyscallLog *rows;
    Agent__V1__SyscallLog **ptrs;
    size_t n, cap;
    int failed;
};

static int collect_record(const struct audit_record *rec, void *ctx)
{
    struct audit_rows *rows = ctx;
    if (rows->n >= rows->cap)
        return 1;
    Agent__V1__SyscallLog *l = &rows->rows[rows->n];
    agent__v1__syscall_log__init(l);
    char seq[32];
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)rec->seq);
    char *meta = NULL;
    struct error err;
    if (audit_record_to_json(rec, &meta, &err) < 0) {
        rows->failed = 1;
        return 1;
    }
    l->timestamp = rec->time_ns;
    l->name = strdup(rec->kind_name ? rec->kind_name : "");
    l->args = strdup(rec->details_json ? rec->details_json : "{}");
    l->status = strdup(rec->decision ? rec->decision : "");
    l->session_id = strdup(rec->session_id ? rec->session_id : "");
    l->action = strdup(rec->reasons_json ? rec->reasons_json : "[]");
    l->metadata_json = meta;
    l->execution_id = strdup(seq);
    l->origin_kind = strdup("audit");
    if (!l->name || !l->args || !l->status || !l->session_id || !l->action || !l->execution_id ||
        !l->origin_kind) {
        rows->failed = 1;
        return 1;
    }
    rows->ptrs[rows->n] = l;
    rows->n++;
    return 0;
}

static void free_rows(struct audit_rows *rows)
{
    for (size_t i = 0; i < rows->cap; i++) {
        Agent__V1__SyscallLog *l = &rows->rows[i];
        if (l->base.descriptor == NULL)
            continue;
        free(l->name);
        free(l->args);
        free(l->status);
        free(l->session_id);
        free(l->action);
        free(l->metadata_json);
        free(l->execution_id);
        free(l->origin_kind);
    }
    free(rows->rows);
    free(rows->ptrs);
}

static void handle_audit_logs(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Agent__V1__GetAuditLogsRequest *req = (const Agent__V1__GetAuditLogsRequest *)msg;
    struct error err;
    if (req->limit < 0 || req->limit > AUDIT_READ_MAX || req->since_timestamp < 0) {
        error_set(&err, ERR_INVALID_ARGUMENT, "limit must be 0-%d and since_timestamp not negative",
                  AUDIT_READ_MAX);
        api_call_fail(call, &err);
        return;
    }
    const char *session = req->session_id && req->session_id[0] ? req->session_id : NULL;
    json_t *input = json_pack("{s:{s:s}, s:{s:s, s:I, s:i}, s:{s:s, s:s, s:s}}", "session", "id",
                              session ? session : "", "request", "session_id", session ? session : "",
                              "since_timestamp", (json_int_t)req->since_timestamp, "limit",
                              (int)req->limit, "caller", "transport", api_call_transport(call),
                              "peer", api_call_peer(call), "principal", api_call_principal(call));
    struct gate_obligations ob;
    int decided = gate_decide(d->gate, "audit.read", session ? session : "", input, &ob, &err);
    if (decided < 0) {
        api_call_fail(call, &err);
        return;
    }
    struct audit_rows rows = {0};
    rows.cap = req->limit ? (size_t)req->limit : AUDIT_READ_DEFAULT;
    rows.rows = calloc(rows.cap, sizeof(*rows.rows));
    rows.ptrs = calloc(rows.cap, sizeof(*rows.ptrs));
    if (rows.rows == NULL || rows.ptrs == NULL) {
        free_rows(&rows);
        error_set(&err, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    struct audit_filter filter = {
        .session_id = session,
        .since_ns = req->since_timestamp,
        .limit = (uint32_t)rows.cap,
        .last = true,
    };
    if (audit_query(d->audit, &filter, collect_record, &rows, &err) < 0 || rows.failed) {
        if (rows.failed)
            error_set(&err, ERR_INTERNAL, "cannot read the audit log");
        free_rows(&rows);
        api_call_fail(call, &err);
        return;
    }
    Agent__V1__GetAuditLogsResponse resp = AGENT__V1__GET_AUDIT_LOGS_RESPONSE__INIT;
    resp.n_logs = rows.n;
    resp.logs = rows.ptrs;
    api_call_reply(call, &resp.base);
    free_rows(&rows);
}

static const struct api_method agent_methods[] = {
    {.name = "StartSession", .input = &agent__v1__start_request__descriptor, .output = &agent__v1__session_response__descriptor,
     .handler = handle_start},
    {.name = "ExecuteTool", .input = &agent__v1__tool_request__descriptor, .output = &agent__v1__tool_response__descriptor,
     .handler = handle_execute},
    {.name = "StopSession", .input = &agent__v1__stop_request__descriptor, .output = &agent__v1__stop_response__descriptor,
     .handler = handle_stop},
    {.name = "GetAuditLogs", .input = &agent__v1__get_audit_logs_request__descriptor,
     .output = &agent__v1__get_audit_logs_response__descriptor, .handler = handle_audit_logs},
    {.name = "ApplyPolicy", .input = &agent__v1__apply_policy_request__descriptor,
     .output = &agent__v1__apply_policy_response__descriptor, .handler = daemon_handle_apply_policy},
};

/* ------------------------------------------------------------ enclave.v1 */

struct list_ctx {
    Enclave__V1__Session *items;
    Enclave__V1__Session **ptrs;
    size_t n;
};

static void list_one(const struct core_session_info *info, void *arg)
{
    struct list_ctx *l = arg;
    Enclave__V1__Session *s = &l->items[l->n];
    enclave__v1__session__init(s);
    s->session_id = (char *)info->id;
    s->status = (char *)core_session_state_name(info->state);
    s->vcpu = (int32_t)info->vcpus;
    s->memory_mb = (int32_t)info->mem_mb;
    s->kvm = info->kvm;
    s->created_unix_ns = info->created_unix_ns;
    s->execs_running = (int32_t)info->execs_running;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    s->age_ms = (now - info->created_unix_ns) / 1000000;
    s->idle_ms = info->execs_running ? 0 : (now - info->last_active_unix_ns) / 1000000;
    s->idle_timeout_s = (int32_t)info->idle_timeout_s;
    s->max_lifetime_s = (int32_t)info->max_lifetime_s;
    s->deadline_unix_ns = info->deadline_unix_ns;
    s->pooled = info->pooled;
    s->egress = info->egress;
    s->restored = info->restored;
    s->workspace_mb = (int32_t)info->workspace_mb;
    l->ptrs[l->n] = s;
    l->n++;
}

struct pools_ctx {
    Enclave__V1__Pool items[CORE_MAX_POOLS];
    Enclave__V1__Pool *ptrs[CORE_MAX_POOLS];
    size_t n;
};

static void pool_one(const struct core_pool_info *info, void *arg)
{
    struct pools_ctx *l = arg;
    if (l->n >= CORE_MAX_POOLS)
        return;
    Enclave__V1__Pool *p = &l->items[l->n];
    enclave__v1__pool__init(p);
    p->image = (char *)info->image;
    p->vcpu = (int32_t)info->vcpus;
    p->memory_mb = (int32_t)info->mem_mb;
    p->size = (int32_t)info->size;
    p->ready = (int32_t)info->ready;
    p->booting = (int32_t)info->booting;
    p->claimed = (int64_t)info->claimed;
    p->boots = (int64_t)info->boots;
    p->failures = (int64_t)info->failures;
    l->ptrs[l->n++] = p;
}

static void handle_list(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    unsigned n = core_session_count(d->core);
    struct list_ctx l = {0};
    l.items = calloc(n + 1, sizeof(*l.items));
    l.ptrs = calloc(n + 1, sizeof(*l.ptrs));
    if (l.items == NULL || l.ptrs == NULL) {
        free(l.items);
        free(l.ptrs);
        struct error err;
        error_set(&err, ERR_INTERNAL, "out of memory");
        api_call_fail(call, &err);
        return;
    }
    core_session_foreach(d->core, list_one, &l);
    Enclave__V1__ListSessionsResponse resp = ENCLAVE__V1__LIST_SESSIONS_RESPONSE__INIT;
    resp.n_sessions = l.n;
    resp.sessions = l.ptrs;
    struct pools_ctx pools = {.n = 0};
    core_pool_foreach(d->core, pool_one, &pools);
    resp.n_pools = pools.n;
    resp.pools = pools.ptrs;
    api_call_reply(call, &resp.base);
    free(l.items);
    free(l.ptrs);
}

static void handle_info(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    Enclave__V1__GetInfoResponse resp = ENCLAVE__V1__GET_INFO_RESPONSE__INIT;
    resp.version = ENCLAVE_VERSION;
    resp.accel = d->kvm ? "kvm" : "tcg";
    resp.provider = (char *)vmm_provider_name(d->host.provider);
    resp.image_source = d->image_source;
    resp.policy_digest = (char *)gate_policy_digest(d->gate);
    resp.sessions = (int32_t)core_session_count(d->core);
    resp.default_vcpu = (int32_t)d->opts.vcpus;
    resp.default_memory_mb = (int32_t)d->opts.mem_mb;
    struct pools_ctx pools = {.n = 0};
    core_pool_foreach(d->core, pool_one, &pools);
    resp.n_pools = pools.n;
    resp.pools = pools.ptrs;
    struct core_snapshot_info si;
    core_snapshot_get(d->core, &si);
    Enclave__V1__Snapshot snap = ENCLAVE__V1__SNAPSHOT__INIT;
    snap.state = (char *)si.state;
    snap.identity = (char *)si.identity;
    snap.vcpu = (int32_t)si.vcpus;
    snap.memory_mb = (int32_t)si.mem_mb;
    snap.size_bytes = (int64_t)si.size_bytes;
    snap.restores = (int64_t)si.restores;
    snap.fallbacks = (int64_t)si.fallbacks;
    snap.builds = (int64_t)si.builds;
    resp.snapshot = &snap;
    api_call_reply(call, &resp.base);
}

static const struct api_method enclave_methods[] = {
    {.name = "ListSessions", .input = &enclave__v1__list_sessions_request__descriptor,
     .output = &enclave__v1__list_sessions_response__descriptor, .handler = handle_list},
    {.name = "GetInfo", .input = &enclave__v1__get_info_request__descriptor,
     .output = &enclave__v1__get_info_response__descriptor, .handler = handle_info},
    /* ---- exec */
    {.name = "Exec", .input = &enclave__v1__exec_request__descriptor,
     .output = &enclave__v1__exec_event__descriptor, .handler = daemon_handle_exec_stream,
     .kind = API_METHOD_SERVER_STREAMING},
    {.name = "ExecInteractive", .input = &enclave__v1__exec_input__descriptor,
     .output = &enclave__v1__exec_event__descriptor, .handler = daemon_handle_exec_interactive,
     .kind = API_METHOD_BIDI_STREAMING},
    /* ---- lifetime */
    {.name = "StartSession", .input = &enclave__v1__start_session_request__descriptor,
     .output = &enclave__v1__start_session_response__descriptor,
     .handler = daemon_handle_start_session},
    /* ---- files */
    {.name = "UploadFile", .input = &enclave__v1__upload_file_request__descriptor,
     .output = &enclave__v1__upload_file_response__descriptor, .handler = daemon_handle_upload_file,
     .kind = API_METHOD_CLIENT_STREAMING},
    {.name = "DownloadFile", .input = &enclave__v1__download_file_request__descriptor,
     .output = &enclave__v1__download_file_response__descriptor, .handler = daemon_handle_download_file,
     .kind = API_METHOD_SERVER_STREAMING, .max_buffer = 4u << 20},
    {.name = "ListFiles", .input = &enclave__v1__list_files_request__descriptor,
     .output = &enclave__v1__list_files_response__descriptor, .handler = daemon_handle_list_files},
    {.name = "StatFile", .input = &enclave__v1__stat_file_request__descriptor,
     .output = &enclave__v1__stat_file_response__descriptor, .handler = daemon_handle_stat_file},
    {.name = "RemoveFile", .input = &enclave__v1__remove_file_request__descriptor,
     .output = &enclave__v1__remove_file_response__descriptor, .handler = daemon_handle_remove_file},
    {.name = "MakeDirectory", .input = &enclave__v1__make_directory_request__descriptor,
     .output = &enclave__v1__make_directory_response__descriptor, .handler = daemon_handle_make_directory},
    /* ---- code */
    {.name = "RunCode", .input = &enclave__v1__run_code_request__descriptor,
     .output = &enclave__v1__run_code_event__descriptor, .handler = daemon_handle_run_code,
     .kind = API_METHOD_SERVER_STREAMING, .max_buffer = 24u << 20},
    /* ---- ui */
    {.name = "VerifyAudit", .input = &enclave__v1__verify_audit_request__descriptor,
     .output = &enclave__v1__verify_audit_response__descriptor, .handler = daemon_handle_verify_audit},
    {.name = "GetPolicy", .input = &enclave__v1__get_policy_request__descriptor,
     .output = &enclave__v1__get_policy_response__descriptor, .handler = daemon_handle_get_policy},
    {.name = "EvalPolicy", .input = &enclave__v1__eval_policy_request__descriptor,
     .output = &enclave__v1__eval_policy_response__descriptor, .handler = daemon_handle_eval_policy},
    {.name = "ListImages", .input = &enclave__v1__list_images_request__descriptor,
     .output = &enclave__v1__list_images_response__descriptor, .handler = daemon_handle_list_images},
};

const struct api_service daemon_agent_service = {
    .full_name = "agent.v1.AgentService",
    .methods = agent_methods,
    .n_methods = sizeof(agent_methods) / sizeof(agent_methods[0]),
};

const struct api_service daemon_enclave_service = {
    .full_name = "enclave.v1.Enclave",
    .methods = enclave_methods,
    .n_methods = sizeof(enclave_methods) / sizeof(enclave_methods[0]),
};
