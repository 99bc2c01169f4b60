/* The proto3 JSON mapping: agent.v1 and guest.v1 messages as the API sees
 * them, the test-only apitest.v1 messages for every scalar type, maps and
 * recursion, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/v1/agent.pb-c.h"
#include "api/json_proto.h"
#include "apitest/v1/apitest.pb-c.h"
#include "common/encode.h"
#include "guest/v1/guest.pb-c.h"

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *desc, const char *json)
{
    ProtobufCMessage *msg = NULL;
    struct error err = {0};
    int rc = json_proto_decode(desc, json, strlen(json), &msg, &err);
    if (rc < 0)
        print_error("decode of %s failed: %s\n", json, err.message);
    assert_int_equal(rc, 0);
    assert_non_null(msg);
    return msg;
}

/* Decoding fails with invalid_argument and a message containing `expect`. */
static void decode_fails(const ProtobufCMessageDescriptor *desc, const char *json,
                         const char *expect)
{
    ProtobufCMessage *msg = NULL;
    struct error err = {0};
    int rc = json_proto_decode(desc, json, strlen(json), &msg, &err);
    if (rc == 0) {
        print_error("decode of %s succeeded; expected an error with \"%s\"\n", json, expect);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    if (expect != NULL && strstr(err.message, expect) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err.message, expect);
}

static char *encode(const ProtobufCMessage *msg)
{
    char *text = NULL;
    size_t len = 0;
    struct error err = {0};
    int rc = json_proto_encode(msg, &text, &len, &err);
    if (rc < 0)
        print_error("encode failed: %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Decodes, re-encodes and compares with the expected canonical text. */
static void roundtrip(const ProtobufCMessageDescriptor *desc, const char *in, const char *expect)
{
    ProtobufCMessage *msg = decode_ok(desc, in);
    char *out = encode(msg);
    assert_string_equal(out, expect);
    free(out);
    /* The binary form survives too. */
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(msg, buf);
    ProtobufCMessage *again = protobuf_c_message_unpack(desc, NULL, n, buf);
    assert_non_null(again);
    out = encode(again);
    assert_string_equal(out, expect);
    free(out);
    free(buf);
    protobuf_c_message_free_unpacked(again, NULL);
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void test_start_request_names(void **state)
{
    Agent__V1__StartRequest *req = (Agent__V1__StartRequest *)decode_ok(
        &agent__v1__start_request__descriptor, "{\"session_id\":\"s-1\",\"vcpu\":2,\"memoryMb\":512}");
    assert_string_equal(req->session_id, "s-1");
    assert_int_equal(req->vcpu, 2);
    assert_int_equal(req->memory_mb, 512);
    char *out = encode(&req->base);
    assert_string_equal(out, "{\"sessionId\":\"s-1\",\"vcpu\":2,\"memoryMb\":512}");
    free(out);
    protobuf_c_message_free_unpacked(&req->base, NULL);
}

static void test_defaults_omitted_and_null(void **state)
{
    roundtrip(&agent__v1__start_request__descriptor, "{}", "{}");
    roundtrip(&agent__v1__start_request__descriptor,
              "{\"sessionId\":null,\"vcpu\":0,\"memoryMb\":null}", "{}");
    roundtrip(&agent__v1__tool_response__descriptor, "{\"syscallLogs\":null,\"exitCode\":0}", "{}");
    roundtrip(&agent__v1__tool_response__descriptor, "{\"syscallLogs\":[]}", "{}");
}

static void test_int64_as_string(void **state)
{
    /* 2^53 + 1 is not a double: it must travel as a string to survive. */
    roundtrip(&agent__v1__syscall_log__descriptor, "{\"timestamp\":\"9007199254740993\"}",
              "{\"timestamp\":\"9007199254740993\"}");
    roundtrip(&agent__v1__syscall_log__descriptor, "{\"timestamp\":9007199254740993}",
              "{\"timestamp\":\"9007199254740993\"}");
    roundtrip(&agent__v1__syscall_log__descriptor, "{\"timestamp\":\"-9223372036854775808\"}",
              "{\"timestamp\":\"-9223372036854775808\"}");
    decode_fails(&agent__v1__syscall_log__descriptor, "{\"timestamp\":\"9223372036854775808\"}",
                 "out of range");
    decode_fails(&agent__v1__syscall_log__descriptor, "{\"timestamp\":\"12x\"}", "timestamp");
    decode_fails(&agent__v1__syscall_log__descriptor, "{\"timestamp\":\" 12\"}", "not an integer");
    decode_fails(&agent__v1__syscall_log__descriptor, "{\"timestamp\":\"\"}", "not an integer");
    decode_fails(&agent__v1__syscall_log__descriptor, "{\"timestamp\":1.5}", "not an integer");
}

static void test_int32_range(void **state)
{
    roundtrip(&agent__v1__start_request__descriptor, "{\"vcpu\":2147483647}", "{\"vcpu\":2147483647}");
    roundtrip(&agent__v1__start_request__descriptor, "{\"vcpu\":-2147483648}", "{\"vcpu\":-2147483648}");
    roundtrip(&agent__v1__start_request__descriptor, "{\"vcpu\":\"12\"}", "{\"vcpu\":12}");
    roundtrip(&agent__v1__start_request__descriptor, "{\"vcpu\":1e2}", "{\"vcpu\":100}");
    roundtrip(&agent__v1__start_request__descriptor, "{\"vcpu\":4.0}", "{\"vcpu\":4}");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":2147483648}", "vcpu");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":-2147483649}", "out of range");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":\"2147483648\"}", "out of range");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":1e10}", "out of range");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":2.5}", "not an integer");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":true}", "expected an integer");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":\"two\"}", "not an integer");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":[1]}", "expected an integer");
}

static void test_wrong_types(void **state)
{
    decode_fails(&agent__v1__start_request__descriptor, "{\"sessionId\":5}", "sessionId");
    decode_fails(&agent__v1__start_request__descriptor, "{\"sessionId\":{}}", "expected a string");
    decode_fails(&agent__v1__stop_response__descriptor, "{\"success\":1}", "true or false");
    decode_fails(&agent__v1__stop_response__descriptor, "{\"success\":\"true\"}", "true or false");
    decode_fails(&agent__v1__tool_response__descriptor, "{\"syscallLogs\":{}}", "expected an array");
    decode_fails(&agent__v1__tool_response__descriptor, "{\"syscallLogs\":[null]}", "null");
    decode_fails(&agent__v1__tool_response__descriptor, "{\"syscallLogs\":[1]}", "expected an object");
    decode_fails(&agent__v1__start_request__descriptor, "[]", "expected an object");
    decode_fails(&agent__v1__start_request__descriptor, "{\"sessionId\":\"a\\u0000b\"}", "NUL");
}

static void test_unknown_and_duplicate_fields(void **state)
{
    decode_fails(&agent__v1__start_request__descriptor, "{\"sessionId\":\"a\",\"cpus\":2}",
                 "unknown field \"cpus\"");
    decode_fails(&agent__v1__tool_response__descriptor, "{\"syscallLogs\":[{\"evil\":1}]}",
                 "unknown field \"evil\"");
    decode_fails(&agent__v1__start_request__descriptor, "{\"vcpu\":1,\"vcpu\":2}", "duplicate");
    decode_fails(&agent__v1__start_request__descriptor, "{\"memoryMb\":1,\"memory_mb\":2}", "twice");
    /* JSON names are case-sensitive. */
    decode_fails(&agent__v1__start_request__descriptor, "{\"SessionId\":\"x\"}", "unknown field");
}

static void test_malformed_json(void **state)
{
    static const char *const bad[] = {
        "", "{", "{\"sessionId\":}", "{\"sessionId\":\"x\"} trailing", "nul", "{'a':1}",
        "{\"sessionId\":\"\\ud800\"}", "{\"vcpu\":01}", "{\"vcpu\":NaN}",
        "{\"sessionId\":\"\xff\xfe\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        decode_fails(&agent__v1__start_request__descriptor, bad[i], "malformed JSON");
}

static void test_guest_frame_oneof_bytes_uint64(void **state)
{
    roundtrip(&guest__v1__frame__descriptor,
              "{\"id\":\"18446744073709551615\",\"execRequest\":{\"argv\":[\"python3\",\"-c\",\"print(1)\"],"
              "\"env\":[{\"name\":\"A\",\"value\":\"b\"}],\"stdin\":\"aGVsbG8=\",\"timeoutMs\":5000,"
              "\"maxOutputBytes\":\"1048576\",\"limits\":{\"maxFileSize\":\"1024\"}}}",
              "{\"id\":\"18446744073709551615\",\"execRequest\":{\"argv\":[\"python3\",\"-c\",\"print(1)\"],"
              "\"env\":[{\"name\":\"A\",\"value\":\"b\"}],\"stdin\":\"aGVsbG8=\",\"timeoutMs\":5000,"
              "\"maxOutputBytes\":\"1048576\",\"limits\":{\"maxFileSize\":\"1024\"}}}");
    /* A selected oneof member is written even when empty. */
    roundtrip(&guest__v1__frame__descriptor, "{\"healthRequest\":{}}", "{\"healthRequest\":{}}");
    roundtrip(&guest__v1__frame__descriptor, "{\"health_request\":{},\"id\":1}",
              "{\"id\":\"1\",\"healthRequest\":{}}");
    decode_fails(&guest__v1__frame__descriptor, "{\"healthRequest\":{},\"shutdownRequest\":{}}",
                 "oneof");
    /* null does not select a member. */
    roundtrip(&guest__v1__frame__descriptor, "{\"healthRequest\":null,\"shutdownRequest\":{}}",
              "{\"shutdownRequest\":{}}");
    decode_fails(&guest__v1__frame__descriptor, "{\"id\":-1}", "out of range");
    decode_fails(&guest__v1__frame__descriptor, "{\"id\":\"18446744073709551616\"}", "id");
}

static void test_enums(void **state)
{
    roundtrip(&guest__v1__exec_output__descriptor, "{\"stream\":\"STREAM_STDERR\",\"data\":\"\"}",
              "{\"stream\":\"STREAM_STDERR\"}");
    roundtrip(&guest__v1__exec_output__descriptor, "{\"stream\":1}", "{\"stream\":\"STREAM_STDOUT\"}");
    /* An unnamed number survives as a number (open enums). */
    roundtrip(&guest__v1__exec_output__descriptor, "{\"stream\":7}", "{\"stream\":7}");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"stream\":\"STREAM_TTY\"}", "STREAM_TTY");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"stream\":2147483648}", "out of range");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"stream\":true}", "stream");
}

static void test_bytes_base64(void **state)
{
    /* URL-safe alphabet and missing padding are accepted; output is standard. */
    roundtrip(&guest__v1__exec_output__descriptor, "{\"data\":\"-_8\"}", "{\"data\":\"+/8=\"}");
    roundtrip(&guest__v1__exec_output__descriptor, "{\"data\":\"YQ\"}", "{\"data\":\"YQ==\"}");
    roundtrip(&guest__v1__exec_output__descriptor, "{\"data\":\"YWI=\"}", "{\"data\":\"YWI=\"}");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"data\":\"Y\"}", "base64");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"data\":\"YQ=\"}", "base64");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"data\":\"Y===\"}", "base64");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"data\":\"YW I=\"}", "base64");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"data\":\"=YWI\"}", "base64");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"data\":\"YWJj\\n\"}", "base64");
    decode_fails(&guest__v1__exec_output__descriptor, "{\"data\":5}", "base64");
}

static void test_base64_all_lengths(void **state)
{
    uint8_t data[64];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(data); n++) {
        char *text = encode_base64(data, n);
        assert_non_null(text);
        assert_int_equal(strlen(text), (n + 2) / 3 * 4);
        uint8_t *back = NULL;
        size_t back_len = 0;
        assert_int_equal(decode_base64_lenient(text, strlen(text), &back, &back_len), 0);
        assert_int_equal(back_len, n);
        assert_memory_equal(back, data, n);
        free(back);
        /* Without padding, too. */
        size_t len = strlen(text);
        while (len > 0 && text[len - 1] == '=')
            len--;
        assert_int_equal(decode_base64_lenient(text, len, &back, &back_len), 0);
        assert_int_equal(back_len, n);
        assert_memory_equal(back, data, n);
        free(back);
        free(text);
    }
}

static void test_all_scalars(void **state)
{
    roundtrip(&apitest__v1__scalars__descriptor,
              "{\"i32\":-1,\"s32\":-2,\"sf32\":-3,\"u32\":4294967295,\"f32\":5,\"i64\":\"-6\","
              "\"s64\":\"-7\",\"sf64\":\"-8\",\"u64\":\"18446744073709551615\",\"f64\":\"10\","
              "\"flt\":1.5,\"dbl\":-0.25,\"flag\":true,\"text\":\"h\\u00e9\",\"blob\":\"AAE=\","
              "\"color\":\"COLOR_BLUE\",\"maybe\":3,\"manyI64\":[\"1\",\"-2\"],"
              "\"colors\":[\"COLOR_RED\",5],\"blobs\":[\"\",\"/w==\"]}",
              "{\"i32\":-1,\"s32\":-2,\"sf32\":-3,\"u32\":4294967295,\"f32\":5,\"i64\":\"-6\","
              "\"s64\":\"-7\",\"sf64\":\"-8\",\"u64\":\"18446744073709551615\",\"f64\":\"10\","
              "\"flt\":1.5,\"dbl\":-0.25,\"flag\":true,\"text\":\"h\xc3\xa9\",\"blob\":\"AAE=\","
              "\"color\":\"COLOR_BLUE\",\"maybe\":3,\"manyI64\":[\"1\",\"-2\"],"
              "\"colors\":[\"COLOR_RED\",5],\"blobs\":[\"\",\"/w==\"]}");
    roundtrip(&apitest__v1__scalars__descriptor, "{\"dbl\":\"NaN\",\"flt\":\"-Infinity\"}",
              "{\"flt\":\"-Infinity\",\"dbl\":\"NaN\"}");
    roundtrip(&apitest__v1__scalars__descriptor, "{\"dbl\":\"1.5\"}", "{\"dbl\":1.5}");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"u32\":4294967296}", "out of range");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"u32\":-1}", "out of range");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"u64\":\"-1\"}", "u64");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"flt\":1e39}", "float");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"dbl\":\"1e400\"}", "not a number");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"dbl\":\"inf\"}", "not a number");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"dbl\":\" 1\"}", "not a number");
    decode_fails(&apitest__v1__scalars__descriptor, "{\"manyI64\":[\"1\",\"x\"]}", "[1]");
}

static void test_maps(void **state)
{
    roundtrip(&apitest__v1__node__descriptor,
              "{\"counts\":{\"a\":1,\"b\":2},\"byId\":{\"-5\":{\"name\":\"n\"}},"
              "\"flags\":{\"true\":\"yes\"}}",
              "{\"counts\":{\"a\":1,\"b\":2},\"byId\":{\"-5\":{\"name\":\"n\"}},"
              "\"flags\":{\"true\":\"yes\"}}");
    decode_fails(&apitest__v1__node__descriptor, "{\"counts\":[]}", "map");
    decode_fails(&apitest__v1__node__descriptor, "{\"counts\":{\"a\":\"x\"}}", "map value");
    decode_fails(&apitest__v1__node__descriptor, "{\"counts\":{\"a\":null}}", "null");
    decode_fails(&apitest__v1__node__descriptor, "{\"byId\":{\"x\":{}}}", "map key");
    decode_fails(&apitest__v1__node__descriptor, "{\"flags\":{\"yes\":\"x\"}}", "map key");
}

static void test_oneof_in_node(void **state)
{
    roundtrip(&apitest__v1__node__descriptor, "{\"number\":\"0\"}", "{\"number\":\"0\"}");
    roundtrip(&apitest__v1__node__descriptor, "{\"label\":\"\"}", "{\"label\":\"\"}");
    roundtrip(&apitest__v1__node__descriptor, "{\"nested\":{\"label\":\"x\"}}",
              "{\"nested\":{\"label\":\"x\"}}");
    decode_fails(&apitest__v1__node__descriptor, "{\"label\":\"a\",\"number\":1}", "oneof");
    decode_fails(&apitest__v1__node__descriptor, "{\"nested\":{\"label\":\"a\",\"nested\":{}}}",
                 "oneof");
}

static char *nested_json(int depth, const char *field)
{
    size_t flen = strlen(field);
    char *buf = malloc((size_t)depth * (flen + 5) + 8);
    size_t o = 0;
    for (int i = 0; i < depth; i++)
        o += (size_t)sprintf(buf + o, "{\"%s\":", field);
    o += (size_t)sprintf(buf + o, "{}");
    for (int i = 0; i < depth; i++)
        buf[o++] = '}';
    buf[o] = '\0';
    return buf;
}

static void test_nesting_limit(void **state)
{
    /* depth levels of "child" make depth + 1 messages. */
    char *ok = nested_json(JSON_PROTO_MAX_DEPTH - 1, "child");
    ProtobufCMessage *msg = decode_ok(&apitest__v1__node__descriptor, ok);
    char *out = encode(msg);
    assert_string_equal(out, ok);
    free(out);
    protobuf_c_message_free_unpacked(msg, NULL);
    free(ok);
    char *deep = nested_json(JSON_PROTO_MAX_DEPTH, "child");
    decode_fails(&apitest__v1__node__descriptor, deep, "nesting deeper");
    free(deep);
    deep = nested_json(JSON_PROTO_MAX_DEPTH * 4, "nested");
    decode_fails(&apitest__v1__node__descriptor, deep, "nesting deeper");
    free(deep);
    /* Far deeper than jansson's own limit: refused by the parser, no stack overflow. */
    deep = nested_json(100000, "child");
    decode_fails(&apitest__v1__node__descriptor, deep, NULL);
    free(deep);
}

static void test_encode_rejects_bad_utf8(void **state)
{
    Agent__V1__SessionResponse resp = AGENT__V1__SESSION_RESPONSE__INIT;
    resp.session_id = "\xff\xfe";
    char *out = NULL;
    size_t len = 0;
    struct error err = {0};
    assert_int_equal(json_proto_encode(&resp.base, &out, &len, &err), -1);
    assert_non_null(strstr(err.message, "sessionId"));
    assert_null(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_request_names),
        cmocka_unit_test(test_defaults_omitted_and_null),
        cmocka_unit_test(test_int64_as_string),
        cmocka_unit_test(test_int32_range),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_unknown_and_duplicate_fields),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_guest_frame_oneof_bytes_uint64),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_bytes_base64),
        cmocka_unit_test(test_base64_all_lengths),
        cmocka_unit_test(test_all_scalars),
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_oneof_in_node),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_encode_rejects_bad_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
