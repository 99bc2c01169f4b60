/* The enveloped-message codec of gRPC and Connect streaming: decoding with
 * hostile lengths and flags, the single-message request body, the prefix
 * writer, and Connect's end-of-stream message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api.h"
#include "api/internal.h"

static void test_prefix_round_trip(void **state)
{
    uint8_t buf[5 + 3];
    api_envelope_prefix(buf, 0, 3);
    memcpy(buf + 5, "abc", 3);
    assert_memory_equal(buf, "\x00\x00\x00\x00\x03", 5);
    uint8_t flags = 0xff;
    const uint8_t *payload = NULL;
    size_t len = 0;
    assert_int_equal(api_envelope_decode(buf, sizeof(buf), 0, 100, &flags, &payload, &len), 8);
    assert_int_equal(flags, 0);
    assert_int_equal(len, 3);
    assert_memory_equal(payload, "abc", 3);
    api_envelope_prefix(buf, API_ENVELOPE_END_STREAM, 0x01020304);
    assert_memory_equal(buf, "\x02\x01\x02\x03\x04", 5);
}

static void test_decode_needs_more(void **state)
{
    const uint8_t msg[] = {0, 0, 0, 0, 4, 'a', 'b', 'c', 'd'};
    uint8_t flags;
    const uint8_t *payload;
    size_t len;
    /* Every strict prefix asks for more, never reads past what it was given. */
    for (size_t n = 0; n < sizeof(msg); n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, msg, n);
        assert_int_equal(api_envelope_decode(copy, n, 0, 100, &flags, &payload, &len), 0);
        free(copy);
    }
    assert_int_equal(api_envelope_decode(msg, sizeof(msg), 0, 100, &flags, &payload, &len), 9);
    /* Two envelopes back to back: one at a time. */
    const uint8_t two[] = {0, 0, 0, 0, 1, 'x', 2, 0, 0, 0, 2, '{', '}'};
    assert_int_equal(api_envelope_decode(two, sizeof(two), API_ENVELOPE_END_STREAM, 100, &flags,
                                         &payload, &len),
                     6);
    assert_int_equal(api_envelope_decode(two + 6, sizeof(two) - 6, API_ENVELOPE_END_STREAM, 100,
                                         &flags, &payload, &len),
                     7);
    assert_int_equal(flags, API_ENVELOPE_END_STREAM);
    assert_int_equal(len, 2);
}

static void test_decode_refuses_flags_and_lengths(void **state)
{
    uint8_t flags;
    const uint8_t *payload;
    size_t len;
    const uint8_t compressed[] = {1, 0, 0, 0, 0};
    const uint8_t end[] = {2, 0, 0, 0, 0};
    const uint8_t unknown[] = {0x80, 0, 0, 0, 0};
    const uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
    const uint8_t big[] = {0, 0, 0, 0, 101};
    /* Compression is never accepted, not even when asked to allow bit 0. */
    assert_int_equal(api_envelope_decode(compressed, 5, 0xff, 100, &flags, &payload, &len), -1);
    assert_int_equal(api_envelope_decode(end, 5, 0, 100, &flags, &payload, &len), -1);
    assert_int_equal(api_envelope_decode(end, 5, API_ENVELOPE_END_STREAM, 100, &flags, &payload, &len), 5);
    assert_int_equal(api_envelope_decode(unknown, 5, API_ENVELOPE_END_STREAM, 100, &flags, &payload,
                                         &len),
                     -1);
    /* A length over the limit is refused before any of it is waited for. */
    assert_int_equal(api_envelope_decode(huge, 5, 0, SIZE_MAX, &flags, &payload, &len), -2);
    assert_int_equal(api_envelope_decode(big, 5, 0, 100, &flags, &payload, &len), -2);
    assert_int_equal(api_envelope_decode(big, 5, 0, 101, &flags, &payload, &len), 0);
}

static void test_single(void **state)
{
    struct error err;
    const uint8_t *payload;
    size_t len;
    const uint8_t ok[] = {0, 0, 0, 0, 2, '{', '}'};
    assert_int_equal(api_envelope_single(ok, sizeof(ok), 100, &payload, &len, &err), 0);
    assert_int_equal(len, 2);
    const uint8_t empty[] = {0, 0, 0, 0, 0};
    assert_int_equal(api_envelope_single(empty, sizeof(empty), 100, &payload, &len, &err), 0);
    assert_int_equal(len, 0);
    struct {
        const char *bytes;
        size_t len;
        enum error_kind kind;
        const char *says;
    } bad[] = {
        {"", 0, ERR_INVALID_ARGUMENT, "no request message"},
        {"\x00\x00", 2, ERR_INVALID_ARGUMENT, "truncated envelope prefix"},
        {"\x00\x00\x00\x00\x03{}", 7, ERR_INVALID_ARGUMENT, "truncated request message"},
        {"\x01\x00\x00\x00\x02{}", 7, ERR_UNIMPLEMENTED, "compressed"},
        {"\x02\x00\x00\x00\x02{}", 7, ERR_INVALID_ARGUMENT, "flags 0x02"},
        {"\x00\x00\x00\x00\x02{}\x00", 8, ERR_INVALID_ARGUMENT, "exactly one"},
        {"\x00\x00\x00\x10\x00", 5, ERR_RESOURCE_EXHAUSTED, "over the limit"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(api_envelope_single((const uint8_t *)bad[i].bytes, bad[i].len, 100,
                                             &payload, &len, &err),
                         -1);
        assert_int_equal(err.kind, bad[i].kind);
        assert_non_null(strstr(err.message, bad[i].says));
    }
}

static void test_end_stream(void **state)
{
    size_t len;
    char *ok = api_connect_end_stream(NULL, &len);
    assert_string_equal(ok, "{}");
    assert_int_equal(len, 2);
    free(ok);
    struct error err;
    error_set(&err, ERR_PERMISSION_DENIED, "denied: \"quoted\"");
    char *text = api_connect_end_stream(&err, &len);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "error"), "code")),
                        "permission_denied");
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "error"), "message")),
                        "denied: \"quoted\"");
    json_decref(doc);
    free(text);
    /* A message that is not UTF-8 cannot go into JSON: the code alone. */
    error_set(&err, ERR_INTERNAL, "bad \xff byte");
    text = api_connect_end_stream(&err, &len);
    assert_string_equal(text, "{\"error\":{\"code\":\"internal\"}}");
    free(text);
}

static void test_random_bytes_never_overrun(void **state)
{
    /* Hostile input in bulk: whatever decode answers stays inside the buffer. */
    srand(7);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % 24);
        uint8_t *buf = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)(rand() % 4 == 0 ? rand() : rand() % 8);
        uint8_t flags;
        const uint8_t *payload;
        size_t len;
        int r = api_envelope_decode(buf, n, API_ENVELOPE_END_STREAM, 16, &flags, &payload, &len);
        if (r > 0) {
            assert_true((size_t)r <= n);
            assert_true(payload + len <= buf + n);
            assert_int_equal((size_t)r, len + 5);
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_round_trip),
        cmocka_unit_test(test_decode_needs_more),
        cmocka_unit_test(test_decode_refuses_flags_and_lengths),
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_end_stream),
        cmocka_unit_test(test_random_bytes_never_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
