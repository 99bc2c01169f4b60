#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oci/internal.h"

#define D64 "09f675d3409814231c2bd2c95c1d3f2b8e0c3e0f34e8baaf7258913db55515d9"

static void parses(const char *text, const char *reg, const char *repo, const char *tag,
                   const char *digest)
{
    struct oci_ref r;
    struct error err = {0};
    if (oci_ref_parse(text, &r, &err) != 0)
        fail_msg("'%s' should parse: %s", text, err.message);
    assert_string_equal(r.registry, reg);
    assert_string_equal(r.repository, repo);
    assert_string_equal(r.tag, tag);
    assert_string_equal(r.digest, digest);
}

static void rejects(const char *text)
{
    struct oci_ref r;
    struct error err = {0};
    if (oci_ref_parse(text, &r, &err) == 0)
        fail_msg("'%s' should be refused, got %s / %s : %s", text, r.registry, r.repository, r.tag);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
}

static void test_good(void **state)
{
    (void)state;
    parses("reg.example/ubuntu:22.04", "reg.example", "ubuntu", "22.04", "");
    parses("127.0.0.1:5000/enclave/guest:v1", "127.0.0.1:5000", "enclave/guest", "v1", "");
    parses("localhost/a", "localhost", "a", "latest", "");
    parses("localhost:5000/a/b/c", "localhost:5000", "a/b/c", "latest", "");
    parses("reg.example/o/r@sha256:" D64, "reg.example", "o/r", "", "sha256:" D64);
    parses("reg.example/o/r:t@sha256:" D64, "reg.example", "o/r", "t", "sha256:" D64);
    parses("[::1]:5000/x:y", "[::1]:5000", "x", "y", "");
    parses("reg.example.com/a.b/c_d/e__f/g-h--i:_T.a-g", "reg.example.com", "a.b/c_d/e__f/g-h--i",
           "_T.a-g", "");
    parses("Example.COM/a", "Example.COM", "a", "latest", "");
}

static void test_hostile(void **state)
{
    (void)state;
    rejects("");
    /* A registry is always named. */
    rejects("ubuntu");
    rejects("foo/bar:v1");
    rejects("a/UPPER");
    rejects("Upper");
    rejects("a//b");
    rejects("/a");
    rejects("a/");
    rejects("a:");
    rejects("a@");
    rejects("a@sha256:" D64 "0");
    rejects("a@sha256:" "09F675d3409814231c2bd2c95c1d3f2b8e0c3e0f34e8baaf7258913db55515d9");
    rejects("a@sha512:" D64);
    rejects("a:-bad");
    rejects("a:has space");
    rejects("a b");
    rejects("a\nb");
    rejects("a..b");
    rejects("a._b");
    rejects("-a");
    rejects("a-");
    rejects("host:99999/a");
    rejects("host:0/a");
    rejects("host:/a");
    rejects("-host.com/a");
    rejects("ho_st.com/a");
    rejects("[zz::1]:5000/a");
    rejects("[::1/a");
    rejects("a/../b");
    rejects("a/./b");
    rejects("a\xff");
    /* a tag of 129 characters */
    char tag[200] = "a:";
    memset(tag + 2, 't', 129);
    tag[131] = '\0';
    rejects(tag);
    /* names longer than 255 */
    char longname[400] = "r.io/";
    memset(longname + 5, 'a', 260);
    longname[265] = '\0';
    rejects(longname);
    char huge[3000];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    rejects(huge);
}

static void test_format_identity(void **state)
{
    (void)state;
    struct oci_ref r;
    struct error err;
    char buf[700];
    assert_int_equal(oci_ref_parse("reg.example/o/ubuntu", &r, &err), 0);
    assert_int_equal(oci_ref_identity(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "reg.example/o/ubuntu");
    assert_string_equal(oci_ref_api_host(&r), "reg.example");
    assert_false(oci_ref_is_loopback(&r));
    assert_int_equal(oci_ref_parse("127.0.0.1:5000/e/g:v1", &r, &err), 0);
    assert_int_equal(oci_ref_identity(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "127.0.0.1:5000/e/g");
    assert_true(oci_ref_is_loopback(&r));
    assert_int_equal(oci_ref_format(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "127.0.0.1:5000/e/g:v1");
    assert_string_equal(oci_ref_target(&r), "v1");
    assert_int_equal(oci_ref_parse("[::1]:5000/x", &r, &err), 0);
    assert_true(oci_ref_is_loopback(&r));
    assert_int_equal(oci_ref_parse("localhost:1/x", &r, &err), 0);
    assert_true(oci_ref_is_loopback(&r));
    assert_int_equal(oci_ref_parse("127.0.0.1.nip.io/x", &r, &err), 0);
    assert_false(oci_ref_is_loopback(&r));
    assert_int_equal(oci_ref_parse("128.0.0.1/x", &r, &err), 0);
    assert_false(oci_ref_is_loopback(&r));
}

static void test_digest(void **state)
{
    (void)state;
    assert_true(oci_digest_valid("sha256:" D64));
    assert_false(oci_digest_valid("sha256:" D64 "a"));
    assert_false(oci_digest_valid("sha256:"));
    assert_false(oci_digest_valid("SHA256:" D64));
    assert_false(oci_digest_valid(NULL));
    char out[72];
    oci_digest_of("", 0, out);
    assert_string_equal(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_format_identity),
        cmocka_unit_test(test_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
