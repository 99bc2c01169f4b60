/* enclave mcp: the Model Context Protocol over stdio.
 *
 * One JSON-RPC 2.0 message per line on stdin, one reply per line on stdout,
 * logs on stderr only. The peer is a model's host: what it sends may have
 * been written by a prompt-injected model, so every field is checked, a line
 * over max_line is refused (and skipped) without being held, and the server
 * speaks to the daemon over TCP with the agent token only, never the
 * operator's (nor the Unix socket, whose peers are the operator).
 *
 * Tools run in one session, started on the first call and stopped when
 * stdin closes (the client went away) or on SIGINT/SIGTERM/SIGHUP. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/mcp.h"
#include "common/cleanup.h"
#include "common/encode.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/version.h"

enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
};

#define AGENT "agent.v1.AgentService"
#define ENCLAVE "enclave.v1.Enclave"
#define START_TIMEOUT_S 300
#define TOOL_TIMEOUT_S 600

static const char *const protocol_versions[] = {MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26",
                                                "2024-11-05"};

/* The tools, with their JSON Schemas (draft 2020-12, as MCP says). */
#define MCP_TOOLS(X)                                                                               \
    X(run_python,                                                                                  \
      "Run Python code in a stateful interpreter inside an isolated microVM. Variables, imports "  \
      "and files persist across calls. Returns what was printed, the value of the last "          \
      "expression, and images (e.g. matplotlib figures) as image content.",                       \
      "{\"type\":\"object\",\"properties\":{"                                                      \
      "\"code\":{\"type\":\"string\",\"description\":\"Python source to run\"},"                   \
      "\"timeout_seconds\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":600,"                   \
      "\"description\":\"stop the cell after this long (default 30)\"}},"                          \
      "\"required\":[\"code\"],\"additionalProperties\":false}")                                   \
    X(run_command,                                                                                 \
      "Run a program in the sandbox (argv, no shell) and return its exit code, stdout and "        \
      "stderr. The policy decides which programs may run; a refusal says why.",                    \
      "{\"type\":\"object\",\"properties\":{"                                                      \
      "\"argv\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1,"               \
      "\"description\":\"the program and its arguments, e.g. [\\\"python3\\\", \\\"-c\\\", "       \
      "\\\"print(1)\\\"]\"},"                                                                      \
      "\"stdin\":{\"type\":\"string\",\"description\":\"text given to the program's stdin\"},"     \
      "\"cwd\":{\"type\":\"string\",\"description\":\"working directory (default /workspace)\"},"  \
      "\"timeout_seconds\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":600}},"                 \
      "\"required\":[\"argv\"],\"additionalProperties\":false}")                                   \
    X(write_file,                                                                                  \
      "Write a file in the sandbox (under /workspace or /tmp), replacing it.",                     \
      "{\"type\":\"object\",\"properties\":{"                                                      \
      "\"path\":{\"type\":\"string\",\"description\":\"absolute path, e.g. /workspace/a.py\"},"    \
      "\"content\":{\"type\":\"string\"},"                                                         \
      "\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"],\"default\":\"utf-8\"}}," \
      "\"required\":[\"path\",\"content\"],\"additionalProperties\":false}")                       \
    X(read_file,                                                                                   \
      "Read a file from the sandbox (up to 256 KiB). Text comes back as UTF-8; use "                 \
      "encoding base64 for binary files.",                                                         \
      "{\"type\":\"object\",\"properties\":{"                                                      \
      "\"path\":{\"type\":\"string\"},"                                                            \
      "\"encoding\":{\"type\":\"string\",\"enum\":[\"utf-8\",\"base64\"],\"default\":\"utf-8\"}}," \
      "\"required\":[\"path\"],\"additionalProperties\":false}")                                   \
    X(list_files,                                                                                  \
      "List a folder in the sandbox (default /workspace): type, size and name of each entry.",     \
      "{\"type\":\"object\",\"properties\":{"                                                      \
      "\"path\":{\"type\":\"string\",\"default\":\"/workspace\"}},"                                \
      "\"additionalProperties\":false}")                                                           \
    X(reset_sandbox,                                                                               \
      "Throw the sandbox away (its files and Python state); the next call starts a fresh one.",    \
      "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}")

/* ------------------------------------------------------------ replies */

static char *dump_line(json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return text;
}

static char *rpc_error(json_t *id, int code, const char *message)
{
    return dump_line(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                               id ? id : json_null(), "error", "code", code, "message", message));
}

static char *rpc_result(json_t *id, json_t *result)
{
    return dump_line(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

char *mcp_oversized_reply(const struct mcp_server *s)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "message too large (over %zu bytes); it was skipped", s->max_line);
    return rpc_error(NULL, RPC_INVALID_REQUEST, msg);
}

/* A tool result: content blocks, isError. */
struct tool_out {
    json_t *content;
    bool is_error;
};

static void out_text(struct tool_out *o, const char *text, size_t len)
{
    json_array_append_new(o->content, json_pack("{s:s, s:s%}", "type", "text", "text", text, len));
}

static void out_fail(struct tool_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fail(struct tool_out *o, const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    out_text(o, buf, strlen(buf));
    o->is_error = true;
}

/* Whether err says that our session is gone (the daemon's "no session 'ID'"),
 * not that a file is missing. */
static bool session_gone(const struct mcp_server *s, const struct error *err)
{
    char want[sizeof(s->session_id) + 16];
    snprintf(want, sizeof(want), "no session '%s'", s->session_id);
    return s->session_id[0] != '\0' && strstr(err->message, want) != NULL;
}

/* An Enclave error as the model should see it: a refusal with the policy's
 * reasons, so that it can adapt. */
static void out_error(struct mcp_server *s, struct tool_out *o, const struct error *err)
{
    if (err->kind == ERR_PERMISSION_DENIED)
        out_fail(o, "Refused by the sandbox policy. %s", err->message);
    else if (err->kind == ERR_NOT_FOUND && session_gone(s, err)) {
        /* The session ended (idle timeout, maximum lifetime): the next call starts another. */
        s->session_id[0] = '\0';
        out_fail(o, "The sandbox had stopped (%s); its state is gone. Call again to run in a "
                    "fresh one.", err->message);
    } else
        out_fail(o, "Enclave error: %s", err->message);
}

/* ------------------------------------------------------------ arguments */

/* Argument checks: a wrong type is a tool error the model can correct. */
static int arg_string(json_t *args, const char *name, bool required, const char **out,
                      struct tool_out *o)
{
    json_t *v = json_object_get(args, name);
    *out = NULL;
    if (v == NULL) {
        if (required) {
            out_fail(o, "missing argument '%s' (a string)", name);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        out_fail(o, "argument '%s' must be a string", name);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        out_fail(o, "argument '%s' contains a NUL character", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int arg_timeout(json_t *args, int *out, struct tool_out *o)
{
    json_t *v = json_object_get(args, "timeout_seconds");
    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 600) {
        out_fail(o, "argument 'timeout_seconds' must be an integer from 1 to 600");
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int arg_encoding(json_t *args, bool *base64, struct tool_out *o)
{
    const char *enc;
    if (arg_string(args, "encoding", false, &enc, o) < 0)
        return -1;
    *base64 = enc != NULL && strcmp(enc, "base64") == 0;
    if (enc != NULL && !*base64 && strcmp(enc, "utf-8") != 0) {
        out_fail(o, "argument 'encoding' must be \"utf-8\" or \"base64\"");
        return -1;
    }
    return 0;
}

/* Only the properties a tool declares (additionalProperties: false). */
static int args_known(json_t *args, const char *const *known, struct tool_out *o)
{
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL; i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok) {
            out_fail(o, "unknown argument '%.100s'", key);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ the session */

static int ensure_session(struct mcp_server *s, struct error *err)
{
    if (s->session_id[0] != '\0')
        return 0;
    json_t *req = json_pack("{s:i, s:i, s:i}", "vcpu", s->vcpu, "memoryMb", s->memory_mb,
                            "idleTimeoutS", s->idle_timeout_s);
    json_t *resp = NULL;
    int rc = s->ops->call(&s->target, ENCLAVE, "StartSession", req, START_TIMEOUT_S, &resp, err);
    json_decref(req);
    if (rc < 0)
        return -1;
    const char *id = json_string_value(json_object_get(resp, "sessionId"));
    if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(s->session_id)) {
        json_decref(resp);
        return error_set(err, ERR_INTERNAL, "StartSession answered without a usable session id");
    }
    snprintf(s->session_id, sizeof(s->session_id), "%s", id);
    log_info("mcp: started session %s", s->session_id);
    json_decref(resp);
    return 0;
}

void mcp_server_close(struct mcp_server *s)
{
    if (s->session_id[0] == '\0')
        return;
    json_t *req = json_pack("{s:s}", "sessionId", s->session_id);
    json_t *resp = NULL;
    struct error err;
    if (s->ops->call(&s->target, AGENT, "StopSession", req, 60, &resp, &err) < 0)
        log_warn("mcp: could not stop session %s: %s", s->session_id, err.message);
    else
        log_info("mcp: stopped session %s", s->session_id);
    json_decref(req);
    json_decref(resp);
    s->session_id[0] = '\0';
}

/* ------------------------------------------------------------ output collection */

struct capped {
    char *buf;
    size_t len;
    bool truncated;
};

static void capped_add(struct capped *c, const char *data, size_t len)
{
    if (c->len + len > MCP_MAX_TOOL_OUTPUT) {
        c->truncated = true;
        len = MCP_MAX_TOOL_OUTPUT - c->len;
    }
    if (len == 0)
        return;
    char *nb = realloc(c->buf, c->len + len + 1);
    if (nb == NULL) {
        c->truncated = true;
        return;
    }
    c->buf = nb;
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->buf[c->len] = '\0';
}

static void capped_out(struct tool_out *o, const char *label, struct capped *c)
{
    if (c->len == 0 && !c->truncated)
        return;
    size_t n = strlen(label) + c->len + 64;
    cleanup_free char *t = malloc(n);
    if (t == NULL)
        return;
    int k = snprintf(t, n, "%s%.*s%s", label, (int)c->len, c->buf ? c->buf : "",
                     c->truncated ? "\n[output truncated]" : "");
    out_text(o, t, k > 0 ? (size_t)k : 0);
}

/* base64 of a JSON string (protobuf JSON bytes) into c. */
static void add_b64(struct capped *c, json_t *v)
{
    const char *b = json_string_value(v);
    if (b == NULL)
        return;
    cleanup_free unsigned char *raw = NULL;
    size_t n = 0;
    if (decode_base64_lenient(b, strlen(b), &raw, &n) < 0)
        return;
    capped_add(c, (const char *)raw, n);
}

/* ------------------------------------------------------------ tools */

struct py_run {
    struct capped out, err, text;
    json_t *images; /* MCP image blocks */
    json_t *error;  /* CodeError */
    bool timed_out;
};

static bool image_type(const char *mime)
{
    static const char *const ok[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (mime && strcmp(mime, ok[i]) == 0)
            return true;
    return false;
}

static int on_code_event(json_t *ev, void *ctx)
{
    struct py_run *r = ctx;
    json_t *v;
    if ((v = json_object_get(ev, "stdout")) && json_is_string(v))
        capped_add(&r->out, json_string_value(v), json_string_length(v));
    else if ((v = json_object_get(ev, "stderr")) && json_is_string(v))
        capped_add(&r->err, json_string_value(v), json_string_length(v));
    else if ((v = json_object_get(ev, "text")) && json_is_string(v))
        capped_add(&r->text, json_string_value(v), json_string_length(v));
    else if ((v = json_object_get(ev, "data")) && json_is_object(v)) {
        const char *mime = json_string_value(json_object_get(v, "mimeType"));
        json_t *data = json_object_get(v, "data");
        if (image_type(mime) && json_is_string(data) && json_array_size(r->images) < 8)
            json_array_append_new(r->images, json_pack("{s:s, s:O, s:s}", "type", "image", "data",
                                                       data, "mimeType", mime));
    } else if ((v = json_object_get(ev, "error")) && json_is_object(v)) {
        json_decref(r->error);
        r->error = json_incref(v);
    } else if ((v = json_object_get(ev, "done")) && json_is_object(v))
        r->timed_out = json_is_true(json_object_get(v, "timedOut"));
    return 0;
}

static void tool_run_python(struct mcp_server *s, json_t *args, struct tool_out *o)
{
    static const char *const known[] = {"code", "timeout_seconds", NULL};
    const char *code;
    int timeout;
    if (args_known(args, known, o) < 0 || arg_string(args, "code", true, &code, o) < 0 ||
        arg_timeout(args, &timeout, o) < 0)
        return;
    struct error err;
    if (ensure_session(s, &err) < 0)
        return out_error(s, o, &err);
    json_t *req = json_pack("{s:s, s:s, s:i}", "sessionId", s->session_id, "code", code,
                            "timeoutSeconds", timeout);
    struct py_run r = {.images = json_array()};
    int rc = s->ops->stream(&s->target, ENCLAVE, "RunCode", req, TOOL_TIMEOUT_S + 30, on_code_event,
                            &r, &err);
    json_decref(req);
    if (rc < 0) {
        out_error(s, o, &err);
    } else {
        capped_out(o, "", &r.out);
        capped_out(o, "[stderr]\n", &r.err);
        capped_out(o, "", &r.text);
        size_t i;
        json_t *img;
        json_array_foreach(r.images, i, img) json_array_append(o->content, img);
        if (r.error != NULL) {
            const char *tb = json_string_value(json_object_get(r.error, "traceback"));
            const char *name = json_string_value(json_object_get(r.error, "name"));
            const char *value = json_string_value(json_object_get(r.error, "value"));
            out_fail(o, "%s: %s\n%.1000s", name ? name : "Error", value ? value : "", tb ? tb : "");
        }
        if (r.timed_out)
            out_fail(o, "the cell was stopped at its timeout");
        if (json_array_size(o->content) == 0)
            out_text(o, "(no output)", 11);
    }
    free(r.out.buf);
    free(r.err.buf);
    free(r.text.buf);
    json_decref(r.images);
    json_decref(r.error);
}

struct cmd_run {
    struct capped out, err;
    json_t *exit;
};

static int on_exec_event(json_t *ev, void *ctx)
{
    struct cmd_run *r = ctx;
    json_t *v;
    if ((v = json_object_get(ev, "stdout")))
        add_b64(&r->out, v);
    else if ((v = json_object_get(ev, "stderr")))
        add_b64(&r->err, v);
    else if ((v = json_object_get(ev, "exit")) && json_is_object(v)) {
        json_decref(r->exit);
        r->exit = json_incref(v);
    }
    return 0;
}

static void tool_run_command(struct mcp_server *s, json_t *args, struct tool_out *o)
{
    static const char *const known[] = {"argv", "stdin", "cwd", "timeout_seconds", NULL};
    const char *in, *cwd;
    int timeout;
    json_t *argv = json_object_get(args, "argv");
    if (args_known(args, known, o) < 0)
        return;
    if (!json_is_array(argv) || json_array_size(argv) == 0 || json_array_size(argv) > 4096)
        return out_fail(o, "argument 'argv' must be a non-empty array of strings");
    size_t i;
    json_t *a;
    json_array_foreach(argv, i, a) {
        if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a))
            return out_fail(o, "argument 'argv' must hold strings (no NUL)");
    }
    if (arg_string(args, "stdin", false, &in, o) < 0 || arg_string(args, "cwd", false, &cwd, o) < 0 ||
        arg_timeout(args, &timeout, o) < 0)
        return;
    struct error err;
    if (ensure_session(s, &err) < 0)
        return out_error(s, o, &err);
    json_t *req = json_pack("{s:s, s:O, s:i}", "sessionId", s->session_id, "argv", argv,
                            "timeoutSeconds", timeout);
    if (cwd != NULL)
        json_object_set_new(req, "cwd", json_string(cwd));
    if (in != NULL) {
        cleanup_free char *b64 = encode_base64(in, strlen(in));
        if (b64 != NULL)
            json_object_set_new(req, "stdin", json_string(b64));
    }
    struct cmd_run r = {0};
    int rc = s->ops->stream(&s->target, ENCLAVE, "Exec", req, TOOL_TIMEOUT_S + 30, on_exec_event, &r,
                            &err);
    json_decref(req);
    if (rc < 0) {
        out_error(s, o, &err);
    } else {
        json_int_t code = json_integer_value(json_object_get(r.exit, "exitCode"));
        json_int_t sig = json_integer_value(json_object_get(r.exit, "signal"));
        bool timed_out = json_is_true(json_object_get(r.exit, "timedOut"));
        char head[160];
        int k = snprintf(head, sizeof(head), "exit code %lld%s%s", (long long)code,
                         sig ? " (killed by a signal)" : "", timed_out ? " (timed out)" : "");
        out_text(o, head, (size_t)k);
        capped_out(o, "[stdout]\n", &r.out);
        capped_out(o, "[stderr]\n", &r.err);
        o->is_error = timed_out;
    }
    free(r.out.buf);
    free(r.err.buf);
    json_decref(r.exit);
}

/* A guest path as a URL path: unreserved characters and '/' as they are. */
static char *path_escape_dup(const char *path)
{
    size_t n = strlen(path);
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)path[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~/", ch) != NULL)
            out[k++] = (char)ch;
        else
            k += (size_t)sprintf(out + k, "%%%02X", ch);
    }
    out[k] = '\0';
    return out;
}

static int check_path(const char *path, struct tool_out *o)
{
    if (path[0] != '/' || strlen(path) > 4096) {
        out_fail(o, "the path must be absolute (under /workspace or /tmp)");
        return -1;
    }
    return 0;
}

static void tool_write_file(struct mcp_server *s, json_t *args, struct tool_out *o)
{
    static const char *const known[] = {"path", "content", "encoding", NULL};
    const char *path;
    bool base64;
    json_t *content = json_object_get(args, "content");
    if (args_known(args, known, o) < 0 || arg_string(args, "path", true, &path, o) < 0 ||
        arg_encoding(args, &base64, o) < 0 || check_path(path, o) < 0)
        return;
    if (!json_is_string(content))
        return out_fail(o, "argument 'content' must be a string");
    const char *data = json_string_value(content);
    size_t len = json_string_length(content);
    cleanup_free unsigned char *raw = NULL;
    if (base64) {
        struct capped c = {0};
        add_b64(&c, content);
        if (c.truncated || (c.len == 0 && len > 0)) {
            free(c.buf);
            return out_fail(o, "'content' is not base64 of at most %u bytes", MCP_MAX_TOOL_OUTPUT);
        }
        raw = (unsigned char *)c.buf;
        data = (const char *)raw;
        len = c.len;
    }
    struct error err;
    if (ensure_session(s, &err) < 0)
        return out_error(s, o, &err);
    cleanup_free char *route = NULL;
    cleanup_free char *escaped = path_escape_dup(path + 1);
    if (escaped == NULL || asprintf(&route, "/v1/sessions/%s/files/%s", s->session_id, escaped) < 0)
        return out_fail(o, "out of memory");
    json_t *resp = NULL;
    if (s->ops->put(&s->target, route, data, len, TOOL_TIMEOUT_S, &resp, &err) < 0)
        return out_error(s, o, &err);
    char msg[4300];
    int k = snprintf(msg, sizeof(msg), "wrote %zu bytes to %s", len, path);
    out_text(o, msg, (size_t)k);
    json_decref(resp);
}

struct download {
    struct capped data;
};

static int on_download(json_t *ev, void *ctx)
{
    struct download *d = ctx;
    json_t *v = json_object_get(ev, "data");
    if (v != NULL)
        add_b64(&d->data, v);
    return d->data.truncated ? -1 : 0;
}

static bool valid_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
        if (extra == 9 || extra >= n - i)
            return extra == 0;
        for (size_t k = 1; k <= extra; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += extra + 1;
    }
    return true;
}

static void tool_read_file(struct mcp_server *s, json_t *args, struct tool_out *o)
{
    static const char *const known[] = {"path", "encoding", NULL};
    const char *path;
    bool base64;
    if (args_known(args, known, o) < 0 || arg_string(args, "path", true, &path, o) < 0 ||
        arg_encoding(args, &base64, o) < 0 || check_path(path, o) < 0)
        return;
    struct error err;
    if (ensure_session(s, &err) < 0)
        return out_error(s, o, &err);
    json_t *req = json_pack("{s:s, s:s}", "sessionId", s->session_id, "path", path);
    struct download d = {0};
    int rc = s->ops->stream(&s->target, ENCLAVE, "DownloadFile", req, TOOL_TIMEOUT_S, on_download, &d,
                            &err);
    json_decref(req);
    if (d.data.truncated) {
        out_fail(o, "%s is larger than %u bytes; read it in parts with run_python", path,
                 MCP_MAX_TOOL_OUTPUT);
    } else if (rc < 0) {
        out_error(s, o, &err);
    } else if (base64) {
        cleanup_free char *b64 = encode_base64(d.data.buf ? d.data.buf : "", d.data.len);
        if (b64 == NULL)
            out_fail(o, "out of memory");
        else
            out_text(o, b64, strlen(b64));
    } else if (!valid_utf8((const unsigned char *)d.data.buf, d.data.len)) {
        out_fail(o, "%s is not UTF-8 text; read it with encoding \"base64\"", path);
    } else {
        out_text(o, d.data.buf ? d.data.buf : "", d.data.len);
    }
    free(d.data.buf);
}

static void tool_list_files(struct mcp_server *s, json_t *args, struct tool_out *o)
{
    static const char *const known[] = {"path", NULL};
    const char *path;
    if (args_known(args, known, o) < 0 || arg_string(args, "path", false, &path, o) < 0)
        return;
    if (path == NULL)
        path = "/workspace";
    if (check_path(path, o) < 0)
        return;
    struct error err;
    if (ensure_session(s, &err) < 0)
        return out_error(s, o, &err);
    json_t *req = json_pack("{s:s, s:s}", "sessionId", s->session_id, "path", path);
    json_t *resp = NULL;
    int rc = s->ops->call(&s->target, ENCLAVE, "ListFiles", req, TOOL_TIMEOUT_S, &resp, &err);
    json_decref(req);
    if (rc < 0)
        return out_error(s, o, &err);
    struct capped c = {0};
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(resp, "entries"), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *size = json_object_get(e, "size");
        char line[600];
        int k = snprintf(line, sizeof(line), "%-9s %12s %.500s\n", type ? type : "?",
                         json_is_string(size) ? json_string_value(size) : "0", name ? name : "?");
        if (json_is_integer(size))
            k = snprintf(line, sizeof(line), "%-9s %12lld %.500s\n", type ? type : "?",
                         (long long)json_integer_value(size), name ? name : "?");
        capped_add(&c, line, (size_t)k);
    }
    if (c.len == 0)
        capped_add(&c, "(empty)\n", 8);
    capped_out(o, "", &c);
    free(c.buf);
    json_decref(resp);
}

static void tool_reset_sandbox(struct mcp_server *s, json_t *args, struct tool_out *o)
{
    static const char *const known[] = {NULL};
    if (args_known(args, known, o) < 0)
        return;
    mcp_server_close(s);
    out_text(o, "the sandbox was reset; the next call starts a fresh one", 55);
}

typedef void (*tool_fn)(struct mcp_server *s, json_t *args, struct tool_out *o);

static const struct tool {
    const char *name, *description, *schema;
    tool_fn fn;
} tools[] = {
#define X(name, description, schema) {#name, description, schema, tool_##name},
    MCP_TOOLS(X)
#undef X
};

/* ------------------------------------------------------------ methods */

static json_t *tools_list(void)
{
    json_t *list = json_array();
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
        json_t *schema = json_loads(tools[i].schema, 0, NULL);
        if (schema == NULL) { /* a bug in the table above */
            log_error("mcp: the schema of %s does not parse", tools[i].name);
            continue;
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", tools[i].name, "description",
                                              tools[i].description, "inputSchema", schema));
    }
    return json_pack("{s:o}", "tools", list);
}

static char *handle_initialize(struct mcp_server *s, json_t *id, json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    const char *version = MCP_PROTOCOL_LATEST;
    for (size_t i = 0; asked && i < sizeof(protocol_versions) / sizeof(protocol_versions[0]); i++)
        if (strcmp(asked, protocol_versions[i]) == 0)
            version = protocol_versions[i];
    s->initialized = true;
    return rpc_result(
        id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion", version,
                      "capabilities", "tools", "listChanged", 0, "serverInfo", "name", "enclave",
                      "title", "Enclave sandbox", "version", ENCLAVE_VERSION, "instructions",
                      "Tools run in an isolated microVM (a sandbox) under a policy. Python state "
                      "and files persist across calls until reset_sandbox. A refused call says "
                      "which policy rule refused it."));
}

static char *handle_tools_call(struct mcp_server *s, json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    if (!json_is_object(params) || name == NULL)
        return rpc_error(id, RPC_INVALID_PARAMS, "tools/call needs params.name (a string)");
    json_t *args = json_object_get(params, "arguments");
    if (args != NULL && !json_is_object(args) && !json_is_null(args))
        return rpc_error(id, RPC_INVALID_PARAMS, "params.arguments must be an object");
    const struct tool *tool = NULL;
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
        if (strcmp(tools[i].name, name) == 0)
            tool = &tools[i];
    if (tool == NULL) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Unknown tool: %.100s", name);
        return rpc_error(id, RPC_INVALID_PARAMS, msg);
    }
    json_t *empty = json_object();
    struct tool_out o = {.content = json_array()};
    tool->fn(s, json_is_object(args) ? args : empty, &o);
    json_decref(empty);
    return rpc_result(id, json_pack("{s:o, s:b}", "content", o.content, "isError", o.is_error));
}

void mcp_server_init(struct mcp_server *s, const struct mcp_ops *ops)
{
    memset(s, 0, sizeof(*s));
    client_target_default(&s->target);
    s->target.operator = false;
    s->target.socket_path = NULL;
    s->ops = ops;
    s->max_line = MCP_MAX_LINE_DEFAULT;
}

int mcp_handle(struct mcp_server *s, const char *line, size_t len, char **out)
{
    *out = NULL;
    if (len > s->max_line) {
        *out = mcp_oversized_reply(s);
        return 0;
    }
    json_error_t jerr;
    json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (msg == NULL) {
        *out = rpc_error(NULL, RPC_PARSE_ERROR, "Parse error: not JSON");
        return 0;
    }
    if (json_is_array(msg)) {
        json_decref(msg);
        *out = rpc_error(NULL, RPC_INVALID_REQUEST, "batches are not supported");
        return 0;
    }
    json_t *id = json_object_get(msg, "id");
    bool id_ok = json_is_string(id) || json_is_integer(id);
    const char *version = json_string_value(json_object_get(msg, "jsonrpc"));
    json_t *method_v = json_object_get(msg, "method");
    if (!json_is_object(msg) || version == NULL || strcmp(version, "2.0") != 0 ||
        (id != NULL && !id_ok)) {
        *out = rpc_error(id_ok ? id : NULL, RPC_INVALID_REQUEST, "Invalid Request");
        json_decref(msg);
        return 0;
    }
    if (method_v == NULL) {
        /* A response to us (we send no requests) or junk: nothing to answer. */
        if (!json_object_get(msg, "result") && !json_object_get(msg, "error"))
            *out = rpc_error(id, RPC_INVALID_REQUEST, "Invalid Request: no method");
        json_decref(msg);
        return 0;
    }
    const char *method = json_string_value(method_v);
    json_t *params = json_object_get(msg, "params");
    if (method == NULL || (params != NULL && !json_is_object(params))) {
        if (id != NULL)
            *out = rpc_error(id, RPC_INVALID_REQUEST, "Invalid Request: method must be a string, "
                                                      "params an object");
        json_decref(msg);
        return 0;
    }
    if (id == NULL) { /* a notification: never answered */
        log_debug("mcp: notification %.100s", method);
        json_decref(msg);
        return 0;
    }
    if (strcmp(method, "initialize") == 0)
        *out = handle_initialize(s, id, params);
    else if (strcmp(method, "ping") == 0)
        *out = rpc_result(id, json_object());
    else if (strcmp(method, "tools/list") == 0)
        *out = rpc_result(id, tools_list());
    else if (strcmp(method, "tools/call") == 0)
        *out = handle_tools_call(s, id, params);
    else
        *out = rpc_error(id, RPC_METHOD_NOT_FOUND, "Method not found");
    json_decref(msg);
    return 0;
}

/* ------------------------------------------------------------ the verb */

static const char mcp_help[] =
    "usage: enclave mcp [--cpu N] [--mem MB] [--idle-timeout DURATION] [--max-message SIZE]\n"
    "\n"
    "Serves the Model Context Protocol over stdio (newline-delimited JSON-RPC 2.0,\n"
    "protocol revision " MCP_PROTOCOL_LATEST ") for MCP hosts such as Claude Desktop. Its tools\n"
    "run_python, run_command, write_file, read_file, list_files and reset_sandbox\n"
    "work in one Enclave session (a microVM), started on the first tool call and\n"
    "stopped when stdin closes. Every call goes through the daemon's policy; a\n"
    "refusal comes back as a tool error with the policy's reasons.\n"
    "\n"
    "It reaches the daemon over TCP ($ENCLAVE_ADDR, default 127.0.0.1:7339) with the\n"
    "agent token ($ENCLAVE_TOKEN, else $ENCLAVE_HOME/run/api-token), never the\n"
    "operator token: it refuses to start when ENCLAVE_TOKEN holds the operator token,\n"
    "and it does not use ENCLAVE_SOCKET (the socket's peers are the operator).\n"
    "Logs go to stderr; stdout carries only protocol messages.\n"
    "\n"
    "options:\n"
    "  --cpu N                 vCPUs of the session (default: the daemon's)\n"
    "  --mem MB                memory of the session in MiB (default: the daemon's)\n"
    "  --idle-timeout DURATION stop the session after this long without a call\n"
    "                          (e.g. 15m; default: the daemon's)\n"
    "  --max-message SIZE      refuse messages over this size (default 4M)\n"
    "  -h, --help              this help\n";

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
    client_interrupt();
}

static const struct mcp_ops real_ops = {.call = client_call, .stream = client_stream, .put = client_put};

/* Whether ENCLAVE_TOKEN is the operator's token (a host misconfigured to hand
 * the model the operator's rights). */
static bool env_token_is_operator(void)
{
    const char *env = getenv("ENCLAVE_TOKEN");
    char path[4096], op[API_TOKEN_MAX + 1];
    struct error err;
    if (env == NULL || env[0] == '\0' ||
        paths_home(path, sizeof(path), "run/operator-token", &err) < 0 ||
        api_token_read(path, op, sizeof(op), &err) < 0)
        return false;
    size_t n = strlen(env);
    while (n > 0 && (env[n - 1] == '\n' || env[n - 1] == ' '))
        n--;
    bool same = n == strlen(op) && CRYPTO_memcmp(env, op, n) == 0;
    OPENSSL_cleanse(op, sizeof(op));
    return same;
}

static void write_line(char *reply)
{
    if (reply == NULL)
        return;
    fputs(reply, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(reply);
}

int cli_mcp(int argc, char **argv)
{
    enum { O_CPU = 256, O_MEM, O_IDLE, O_MAX };
    static const struct option opts[] = {
        {"cpu", required_argument, NULL, O_CPU},
        {"mem", required_argument, NULL, O_MEM},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"max-message", required_argument, NULL, O_MAX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mcp_server s;
    mcp_server_init(&s, &real_ops);
    struct error err;
    unsigned u;
    uint64_t size;
    int c;
    struct args_getopt g = {.argc = argc, .argv = argv, .opts = opts, .help = mcp_help};
    while ((c = args_getopt_next(&g)) != -1) {
        switch (c) {
        case 'h':
            return 0;
        case O_CPU:
            if (args_parse_uint(optarg, "--cpu", 1, 64, &u, &err) < 0)
                return cli_usage_error("mcp", "%s", err.message);
            s.vcpu = (int)u;
            break;
        case O_MEM:
            if (args_parse_uint(optarg, "--mem", 64, 1 << 20, &u, &err) < 0)
                return cli_usage_error("mcp", "%s", err.message);
            s.memory_mb = (int)u;
            break;
        case O_IDLE:
            if (args_parse_duration(optarg, "--idle-timeout", 7 * 86400, &u, &err) < 0)
                return cli_usage_error("mcp", "%s", err.message);
            s.idle_timeout_s = u ? (int)u : -1;
            break;
        case O_MAX:
            if (args_parse_size(optarg, "--max-message", &size, &err) < 0 || size < 1024 ||
                size > (256u << 20))
                return cli_usage_error("mcp", "--max-message must be from 1K to 256M");
            s.max_line = (size_t)size;
            break;
        default:
            return cli_usage_error("mcp", "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("mcp", "unexpected argument '%s'", argv[optind]);
    if (env_token_is_operator()) {
        fprintf(stderr, "enclave mcp: ENCLAVE_TOKEN is the operator token; an MCP client gets "
                        "the agent token only ('enclave token' prints it)\n");
        return 2;
    }
    if (getenv("ENCLAVE_SOCKET") && getenv("ENCLAVE_SOCKET")[0])
        log_info("mcp: ENCLAVE_SOCKET is ignored: the server speaks TCP with the agent token");

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    cleanup_free char *line = malloc(s.max_line + 1);
    if (line == NULL) {
        fprintf(stderr, "enclave mcp: out of memory\n");
        return 1;
    }
    size_t len = 0;
    bool skipping = false; /* in a line over max_line: drop it up to its newline */
    char buf[65536];
    log_info("mcp: serving on stdio (daemon %s)", s.target.addr);
    while (!stop_signal) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("mcp: reading stdin: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break; /* the client went away */
        for (ssize_t i = 0; i < n; i++) {
            char ch = buf[i];
            if (ch == '\n') {
                if (skipping) {
                    skipping = false;
                    write_line(mcp_oversized_reply(&s));
                } else {
                    if (len > 0 && line[len - 1] == '\r')
                        len--;
                    if (len > 0) {
                        char *reply = NULL;
                        client_clear_interrupt();
                        mcp_handle(&s, line, len, &reply);
                        write_line(reply);
                    }
                }
                len = 0;
                continue;
            }
            if (skipping)
                continue;
            if (len >= s.max_line) {
                skipping = true;
                len = 0;
                continue;
            }
            line[len++] = ch;
        }
    }
    if (stop_signal)
        log_info("mcp: signal %d, stopping", (int)stop_signal);
    client_clear_interrupt();
    mcp_server_close(&s);
    return 0;
}
