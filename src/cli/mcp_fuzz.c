/* libFuzzer: bytes as what an MCP client sends `enclave mcp`, one message per
 * line. The first byte picks how the (stub) daemon answers: sessions start or
 * fail, streams deliver events or end with a refusal, uploads fail or not,
 * so that every tool's reply path runs. Nothing reaches a network. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mcp.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mode;

static int stub_call(const struct client_target *t, const char *service, const char *method,
                     json_t *req, unsigned timeout_s, json_t **resp, struct error *err)
{
    if (strcmp(method, "StartSession") == 0) {
        if (mode & 1)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "too many sessions");
        *resp = json_pack("{s:s}", "sessionId", "s-fuzz");
        return 0;
    }
    if (strcmp(method, "ListFiles") == 0 && !(mode & 2)) {
        *resp = json_pack("{s:[{s:s, s:s, s:s}, {s:i, s:s}, {}]}", "entries", "name", "a", "type", "file",
                          "size", "12", "size", 3, "name", "b");
        return 0;
    }
    if (mode & 4)
        return error_set(err, ERR_NOT_FOUND, "not_found: no session 's-fuzz'");
    *resp = json_object();
    return 0;
}

static int stub_stream(const struct client_target *t, const char *service, const char *method,
                       json_t *req, unsigned timeout_s, client_message_fn on_message, void *ctx,
                       struct error *err)
{
    if (mode & 2)
        return error_set(err, ERR_PERMISSION_DENIED, "permission_denied: denied by policy: no; nope");
    static const char *const events[] = {
        "{\"stdout\":\"aGkK\"}", "{\"stdout\":\"hi\\n\"}", "{\"stderr\":\"=\"}", "{\"stderr\":5}",
        "{\"text\":\"42\"}", "{\"data\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw==\"}}",
        "{\"data\":{\"mimeType\":\"text/html\",\"data\":\"PGI+\"}}", "{\"data\":\"x\"}",
        "{\"error\":{\"name\":\"E\",\"value\":\"v\",\"traceback\":\"t\"}}", "{\"error\":{}}",
        "{\"data\":\"/////w==\"}", "{\"data\":\"#%$\"}",
        "{\"exit\":{\"exitCode\":3,\"signal\":9,\"timedOut\":true}}",
        "{\"done\":{\"timedOut\":true}}", "{}",
    };
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if ((mode >> 4) & 1 && i % 2)
            continue;
        json_t *ev = json_loads(events[i], 0, NULL);
        int rc = on_message(ev, ctx);
        json_decref(ev);
        if (rc < 0)
            return error_set(err, ERR_CANCELED, "stopped");
    }
    return 0;
}

static int stub_put(const struct client_target *t, const char *path, const void *body, size_t len,
                    unsigned timeout_s, json_t **resp, struct error *err)
{
    if (mode & 8)
        return error_set(err, ERR_INVALID_ARGUMENT, "invalid_argument: bad path");
    *resp = json_object();
    return 0;
}

static const struct mcp_ops ops = {.call = stub_call, .stream = stub_stream, .put = stub_put};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    log_set_level(LOG_LEVEL_ERROR);
    mode = data[0];
    data++;
    size--;
    struct mcp_server s;
    mcp_server_init(&s, &ops);
    s.max_line = 1u << 16;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        char *reply = NULL;
        mcp_handle(&s, (const char *)data + start, i - start, &reply);
        if (reply != NULL) {
            /* Every reply is one line of JSON. */
            json_t *doc = json_loads(reply, 0, NULL);
            if (strchr(reply, '\n') != NULL || !json_is_object(doc))
                abort();
            json_decref(doc);
            free(reply);
        }
        start = i + 1;
    }
    mcp_server_close(&s);
    return 0;
}
