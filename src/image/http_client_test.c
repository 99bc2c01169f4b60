/* URL handling of the HTTP client: what a registry's Location or realm may say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/http_client.h"

static void resolves(const char *base, const char *loc, const char *want)
{
    char *out = NULL;
    struct error err = {0};
    if (http_resolve_url(base, loc, &out, &err) != 0)
        fail_msg("%s + %s: %s", base, loc, err.message);
    assert_string_equal(out, want);
    free(out);
}

static void test_resolve(void **state)
{
    (void)state;
    resolves("http://127.0.0.1:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u1?_state=x",
             "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=x");
    resolves("https://r.example/v2/a/blobs/sha256:1", "https://cdn.example/x?sig=1",
             "https://cdn.example/x?sig=1");
    resolves("https://r.example/v2/a/b?q=1", "c", "https://r.example/v2/a/c");
    resolves("https://r.example:8443/v2/x", "//other.example/y", "https://other.example/y");
    resolves("http://[::1]:5000/v2/x", "/z", "http://[::1]:5000/z");
    char *out = NULL;
    struct error err = {0};
    assert_int_equal(http_resolve_url("not a url", "/x", &out, &err), -1);
    assert_int_equal(http_resolve_url("ftp://h/x", "/x", &out, &err), -1);
    assert_int_equal(http_resolve_url("http://u:p@h/x", "/x", &out, &err), -1);
    assert_int_equal(http_resolve_url("http://h/x", "", &out, &err), -1);
    assert_null(out);
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(http_host_is_loopback("localhost"));
    assert_true(http_host_is_loopback("127.0.0.1"));
    assert_true(http_host_is_loopback("127.255.0.9"));
    assert_true(http_host_is_loopback("::1"));
    assert_true(http_host_is_loopback("[::1]"));
    assert_false(http_host_is_loopback("128.0.0.1"));
    assert_false(http_host_is_loopback("localhost.example"));
    assert_false(http_host_is_loopback("127.0.0.1.nip.io"));
    assert_false(http_host_is_loopback("::2"));
    assert_false(http_host_is_loopback(""));
}

static void test_escape(void **state)
{
    (void)state;
    char *s = http_query_escape("repository:a/b:pull,push &x=y");
    assert_string_equal(s, "repository%3Aa%2Fb%3Apull%2Cpush%20%26x%3Dy");
    free(s);
}

static void test_refusals(void **state)
{
    (void)state;
    struct http_response resp;
    struct error err = {0};
    /* plain http to a host that is not loopback, before any connection */
    struct http_request req = {.method = "GET", .url = "http://registry.example.invalid/v2/",
                               .body_fd = -1};
    assert_int_equal(http_request_run(&req, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_PERMISSION_DENIED);
    http_response_release(&resp);
    /* a header that would split the request */
    const char *bad[] = {"X-A: 1\r\nX-B: 2"};
    struct http_request inj = {.method = "GET", .url = "http://127.0.0.1:1/", .headers = bad,
                               .header_count = 1, .body_fd = -1};
    assert_int_equal(http_request_run(&inj, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    http_response_release(&resp);
    /* a URL with a space or control character */
    struct http_request sp = {.method = "GET", .url = "http://127.0.0.1:1/a b", .body_fd = -1};
    assert_int_equal(http_request_run(&sp, &resp, &err), -1);
    http_response_release(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
