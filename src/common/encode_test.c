/* Hex and base64: known vectors, one spelling per value where strict, hostile input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/encode.h"

static void test_hex(void **state)
{
    (void)state;
    char out[9];
    encode_hex("\x00\x7f\xab\xff", 4, out);
    assert_string_equal(out, "007fabff");
    unsigned char back[4];
    assert_true(decode_hex("007fabff", back, 4));
    assert_memory_equal(back, "\x00\x7f\xab\xff", 4);
    assert_false(decode_hex("007FABFF", back, 4)); /* uppercase is not ours */
    assert_false(decode_hex("007fabf", back, 4));  /* short: the NUL is not a digit */
    assert_false(decode_hex("00 fabff", back, 4));
    encode_hex("", 0, out);
    assert_string_equal(out, "");
}

/* RFC 4648 section 10. */
static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_base64_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char *e = encode_base64(plain[i], strlen(plain[i]));
        assert_non_null(e);
        assert_string_equal(e, b64[i]);
        free(e);
        char buf[16];
        assert_int_equal(encode_base64_to(plain[i], strlen(plain[i]), buf), strlen(b64[i]));
        assert_string_equal(buf, b64[i]);
        unsigned char *d = NULL;
        size_t n = 0;
        assert_int_equal(decode_base64(b64[i], strlen(b64[i]), &d, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        assert_int_equal(d[n], 0);
        free(d);
        assert_int_equal(decode_base64_lenient(b64[i], strlen(b64[i]), &d, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(d);
    }
}

static void test_base64_strict_refuses(void **state)
{
    (void)state;
    const char *bad[] = {"Zg",   "Zg=",  "Zh==", /* unused bits set: a second spelling */
                         "Zm9v\n", " Zm9v", "Zm-v", "Zm_v", "Z===", "=Zg=", "Zm9vYg==Zg=="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char *d = (unsigned char *)"untouched";
        size_t n = 7;
        assert_int_equal(decode_base64(bad[i], strlen(bad[i]), &d, &n), -1);
        assert_null(d);
    }
    unsigned char out[3];
    assert_true(decode_base64_exact("Zm9v", 4, out, 3));
    assert_memory_equal(out, "foo", 3);
    assert_false(decode_base64_exact("Zm8=", 4, out, 3)); /* 2 bytes, not 3 */
    assert_false(decode_base64_exact("Zm9vYg==", 8, out, 3));
    assert_false(decode_base64_exact("Zm9", 3, out, 2));
}

static void test_base64_lenient(void **state)
{
    (void)state;
    unsigned char *d = NULL;
    size_t n = 0;
    /* URL-safe alphabet and no padding, as protobuf's JSON mapping accepts. */
    assert_int_equal(decode_base64_lenient("-_8", 3, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(d, "\xfb\xff", 2);
    free(d);
    assert_int_equal(decode_base64_lenient("Zg", 2, &d, &n), 0);
    assert_int_equal(n, 1);
    free(d);
    assert_int_equal(decode_base64_lenient("Zh==", 4, &d, &n), 0); /* unused bits ignored */
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 'f');
    free(d);
    const char *bad[] = {"Z", "Zg=", "Zm9vY", "Zm 9v", "Zm9v\n", "Z=g=", "Zm9v====", "Zm*v"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(decode_base64_lenient(bad[i], strlen(bad[i]), &d, &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_strict_refuses),
        cmocka_unit_test(test_base64_lenient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
