/* enclave mcp's message handling against a stub daemon that records what it
 * was asked: the session is started on the first tool call only, a refusal is
 * a tool error carrying the policy's reasons, a vanished session is replaced,
 * the session is stopped at close, and malformed messages get JSON-RPC
 * errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/mcp.h"
#include "common/log.h"

static int starts, stops, streams;
static int stream_fail; /* the error kind the next streams end with, 0: none */
static char last_method[64];

static int stub_call(const struct client_target *t, const char *service, const char *method,
                     json_t *req, unsigned timeout_s, json_t **resp, struct error *err)
{
    snprintf(last_method, sizeof(last_method), "%s", method);
    if (strcmp(method, "StartSession") == 0) {
        char id[32];
        snprintf(id, sizeof(id), "s-%d", ++starts);
        *resp = json_pack("{s:s}", "sessionId", id);
        return 0;
    }
    if (strcmp(method, "StopSession") == 0)
        stops++;
    *resp = json_object();
    return 0;
}

static int stub_stream(const struct client_target *t, const char *service, const char *method,
                       json_t *req, unsigned timeout_s, client_message_fn on_message, void *ctx,
                       struct error *err)
{
    streams++;
    snprintf(last_method, sizeof(last_method), "%s", method);
    if (stream_fail == ERR_PERMISSION_DENIED)
        return error_set(err, ERR_PERMISSION_DENIED,
                         "permission_denied: denied by policy: only python3 may run");
    if (stream_fail == ERR_NOT_FOUND)
        return error_set(err, ERR_NOT_FOUND, "not_found: no session 's-1'");
    const char *evs[] = {"{\"stdout\":\"42\\n\"}",
                         "{\"data\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw==\"}}",
                         "{\"done\":{}}"};
    for (size_t i = 0; i < 3; i++) {
        json_t *ev = json_loads(evs[i], 0, NULL);
        on_message(ev, ctx);
        json_decref(ev);
    }
    return 0;
}

static int stub_put(const struct client_target *t, const char *path, const void *body, size_t len,
                    unsigned timeout_s, json_t **resp, struct error *err)
{
    *resp = json_object();
    return 0;
}

static const struct mcp_ops ops = {.call = stub_call, .stream = stub_stream, .put = stub_put};

static json_t *handle(struct mcp_server *s, const char *line)
{
    char *out = NULL;
    assert_int_equal(mcp_handle(s, line, strlen(line), &out), 0);
    if (out == NULL)
        return NULL;
    assert_null(strchr(out, '\n'));
    json_t *doc = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(doc);
    return doc;
}

static int error_code(json_t *doc)
{
    return (int)json_integer_value(json_object_get(json_object_get(doc, "error"), "code"));
}

static const char *first_text(json_t *doc)
{
    json_t *c = json_object_get(json_object_get(doc, "result"), "content");
    return json_string_value(json_object_get(json_array_get(c, 0), "text"));
}

static bool is_error(json_t *doc)
{
    return json_is_true(json_object_get(json_object_get(doc, "result"), "isError"));
}

static int setup(void **state)
{
    starts = stops = streams = stream_fail = 0;
    log_set_level(LOG_LEVEL_ERROR);
    return 0;
}

static void test_lazy_session_and_close(void **state)
{
    struct mcp_server s;
    mcp_server_init(&s, &ops);
    json_t *d = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                           "\"params\":{\"protocolVersion\":\"2024-11-05\"}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "result"),
                                                          "protocolVersion")), "2024-11-05");
    json_decref(d);
    d = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, "result"), "tools")), 6);
    json_decref(d);
    assert_int_equal(starts, 0);
    d = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"run_python\",\"arguments\":{\"code\":\"print(42)\"}}}");
    assert_false(is_error(d));
    assert_string_equal(first_text(d), "42\n");
    json_t *img = json_array_get(json_object_get(json_object_get(d, "result"), "content"), 1);
    assert_string_equal(json_string_value(json_object_get(img, "type")), "image");
    assert_string_equal(json_string_value(json_object_get(img, "mimeType")), "image/png");
    json_decref(d);
    d = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"run_python\",\"arguments\":{\"code\":\"1\"}}}");
    json_decref(d);
    assert_int_equal(starts, 1); /* one session for the client */
    mcp_server_close(&s);
    assert_int_equal(stops, 1);
    mcp_server_close(&s);
    assert_int_equal(stops, 1);
}

static void test_denial_is_a_tool_error_with_reasons(void **state)
{
    struct mcp_server s;
    mcp_server_init(&s, &ops);
    stream_fail = ERR_PERMISSION_DENIED;
    json_t *d = handle(&s, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\",\"params\":"
                           "{\"name\":\"run_command\",\"arguments\":{\"argv\":[\"ls\"]}}}");
    assert_true(is_error(d));
    assert_non_null(strstr(first_text(d), "only python3 may run"));
    assert_string_equal(json_string_value(json_object_get(d, "id")), "a");
    json_decref(d);
    mcp_server_close(&s);
}

static void test_vanished_session_is_replaced(void **state)
{
    struct mcp_server s;
    mcp_server_init(&s, &ops);
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                       "{\"name\":\"run_python\",\"arguments\":{\"code\":\"1\"}}}";
    json_decref(handle(&s, call));
    stream_fail = ERR_NOT_FOUND;
    json_t *d = handle(&s, call);
    assert_true(is_error(d));
    assert_non_null(strstr(first_text(d), "fresh"));
    json_decref(d);
    stream_fail = 0;
    json_decref(handle(&s, call));
    assert_int_equal(starts, 2);
    mcp_server_close(&s);
}

static void test_malformed(void **state)
{
    struct mcp_server s;
    mcp_server_init(&s, &ops);
    s.max_line = 64;
    static const struct {
        const char *line;
        int code;
    } cases[] = {
        {"{", -32700},
        {"[]", -32600},
        {"7", -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}", -32601},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"y\"}}",
         -32600}, /* over 64 bytes */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}", -32602},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *d = handle(&s, cases[i].line);
        assert_non_null(d);
        assert_int_equal(error_code(d), cases[i].code);
        json_decref(d);
    }
    /* A notification gets no answer. */
    assert_null(handle(&s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}"));
    assert_int_equal(starts + streams, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lazy_session_and_close, setup),
        cmocka_unit_test_setup(test_denial_is_a_tool_error_with_reasons, setup),
        cmocka_unit_test_setup(test_vanished_session_is_replaced, setup),
        cmocka_unit_test_setup(test_malformed, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
