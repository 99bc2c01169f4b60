/* Secrets in plain-HTTP requests: the head rebuilt with the secret, the
 * guest's own header of that name dropped, the body passed on as it came,
 * and every request that is not exactly the one decided refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress/egress.h"

#define SECRET "s3cr3t-T0KEN"

static struct egress_inject *make(const char *method, const char *path)
{
    struct egress_inject *in = NULL;
    struct error err;
    assert_int_equal(egress_inject_new("api.example", 8080, method, path, "Authorization", "Bearer " SECRET,
                                       4096, &in, &err),
                     0);
    return in;
}

/* Feeds text in pieces of step bytes (0: at once); returns what went out,
 * or NULL (and err) when refused. */
static char *feed(struct egress_inject *in, const char *text, size_t len, size_t step, struct error *err)
{
    struct evbuffer *out = evbuffer_new();
    size_t off = 0;
    if (step == 0)
        step = len;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        if (egress_inject_feed(in, (const uint8_t *)text + off, n, out, err) < 0) {
            evbuffer_free(out);
            return NULL;
        }
        off += n;
    }
    size_t olen = evbuffer_get_length(out);
    char *s = malloc(olen + 1);
    evbuffer_remove(out, s, olen);
    s[olen] = '\0';
    evbuffer_free(out);
    return s;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_get_injected(void **state)
{
    (void)state;
    static const char req[] = "GET /v1/items?q=1 HTTP/1.1\r\nHost: api.example:8080\r\nUser-Agent: t\r\n"
                              "Accept: */*\r\nConnection: close\r\n\r\n";
    static const size_t steps[] = {0, 1, 2, 7, 64};
    for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
        struct egress_inject *in = make("GET", "/v1/items?q=1");
        struct error err;
        char *out = feed(in, req, sizeof(req) - 1, steps[i], &err);
        assert_non_null(out);
        assert_string_equal(out, "GET /v1/items?q=1 HTTP/1.1\r\nHost: api.example:8080\r\nUser-Agent: t\r\n"
                                 "Accept: */*\r\nAuthorization: Bearer " SECRET "\r\nConnection: close\r\n\r\n");
        assert_int_equal(egress_inject_count(in), 1);
        /* Nothing may follow the request. */
        struct evbuffer *more = evbuffer_new();
        assert_true(egress_inject_feed(in, (const uint8_t *)"G", 1, more, &err) < 0);
        assert_int_equal(evbuffer_get_length(more), 0);
        evbuffer_free(more);
        free(out);
        egress_inject_free(in);
    }
}

static void test_guest_header_replaced(void **state)
{
    (void)state;
    static const char req[] = "GET / HTTP/1.1\r\nHost: api.example\r\nauthorization: Bearer guest-chosen\r\n"
                              "AUTHORIZATION: x\r\nProxy-Authorization: y\r\nUpgrade: h2c\r\nConnection: keep-alive, Authorization\r\n"
                              "Keep-Alive: 5\r\n\r\n";
    struct egress_inject *in = make("GET", "/");
    struct error err;
    char *out = feed(in, req, sizeof(req) - 1, 3, &err);
    assert_non_null(out);
    assert_null(strstr(out, "guest-chosen"));
    assert_null(strstr(out, "AUTHORIZATION: x"));
    assert_null(strstr(out, "Proxy-Authorization"));
    assert_null(strstr(out, "Upgrade"));
    assert_null(strstr(out, "Keep-Alive"));
    assert_int_equal(count(out, SECRET), 1);
    assert_int_equal(count(out, "Connection:"), 1);
    assert_non_null(strstr(out, "Connection: close\r\n\r\n"));
    free(out);
    egress_inject_free(in);
}

static void test_bodies(void **state)
{
    (void)state;
    static const char post[] = "POST /up HTTP/1.1\r\nHost: api.example\r\nContent-Length: 11\r\n\r\nhello world";
    for (size_t step = 0; step < 12; step += 5) {
        struct egress_inject *in = make("POST", "/up");
        struct error err;
        char *out = feed(in, post, sizeof(post) - 1, step, &err);
        assert_non_null(out);
        assert_non_null(strstr(out, "Authorization: Bearer " SECRET "\r\nConnection: close\r\n\r\nhello world"));
        assert_int_equal(count(out, "hello world"), 1);
        free(out);
        egress_inject_free(in);
    }
    /* Chunked: passed on as it came, trailers and all. */
    static const char chunked[] = "PUT /c HTTP/1.1\r\nHost: api.example\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
    struct egress_inject *in = make("PUT", "/c");
    struct error err;
    char *out = feed(in, chunked, sizeof(chunked) - 1, 4, &err);
    assert_non_null(out);
    assert_non_null(strstr(out, "\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"));
    free(out);
    egress_inject_free(in);
    /* A second request after the body (pipelining, or smuggling) is refused. */
    static const char two[] = "POST /up HTTP/1.1\r\nHost: api.example\r\nContent-Length: 2\r\n\r\nhi"
                              "GET /other HTTP/1.1\r\nHost: evil.example\r\n\r\n";
    for (size_t step = 0; step < 4; step++) {
        in = make("POST", "/up");
        assert_null(feed(in, two, sizeof(two) - 1, step, &err));
        assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
        egress_inject_free(in);
    }
    /* Content-Length and Transfer-Encoding together are refused. */
    static const char both[] = "POST /up HTTP/1.1\r\nHost: api.example\r\nContent-Length: 2\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    in = make("POST", "/up");
    assert_null(feed(in, both, sizeof(both) - 1, 0, &err));
    egress_inject_free(in);
}

static void refused(const char *method, const char *path, const char *req, const char *why)
{
    struct egress_inject *in = make(method, path);
    struct error err;
    char *out = feed(in, req, strlen(req), 0, &err);
    if (out != NULL)
        fail_msg("accepted: %s", req);
    if (why && strstr(err.message, why) == NULL)
        fail_msg("'%s' lacks '%s'", err.message, why);
    assert_null(strstr(err.message, SECRET));
    /* And once refused, it stays refused. */
    struct evbuffer *o = evbuffer_new();
    assert_true(egress_inject_feed(in, (const uint8_t *)"x", 1, o, &err) < 0);
    assert_int_equal(evbuffer_get_length(o), 0);
    evbuffer_free(o);
    egress_inject_free(in);
}

static void test_not_what_was_decided(void **state)
{
    (void)state;
    refused("GET", "/", "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", "Host");
    refused("GET", "/", "GET / HTTP/1.1\r\nHost: api.example:80\r\n\r\n", "Host");
    refused("GET", "/", "GET / HTTP/1.1\r\nHost: api.example.evil\r\n\r\n", "Host");
    refused("GET", "/", "GET / HTTP/1.1\r\n\r\n", "exactly one Host");
    refused("GET", "/", "GET / HTTP/1.1\r\nHost: api.example\r\nHost: evil.example\r\n\r\n", NULL);
    refused("GET", "/", "POST / HTTP/1.1\r\nHost: api.example\r\n\r\n", "method");
    refused("GET", "/", "GET /other HTTP/1.1\r\nHost: api.example\r\n\r\n", "path");
    refused("GET", "/", "GET http://evil.example/ HTTP/1.1\r\nHost: api.example\r\n\r\n", "path");
    refused("CONNECT", "/", "CONNECT api.example:8080 HTTP/1.1\r\nHost: api.example\r\n\r\n", NULL);
    refused("GET", "/", "GET / HTTP/1.1\r\nHost: api.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "upgrade");
    refused("GET", "/", "GET / HTTP/1.1\r\nHost: api.example\r\nX-A: a\r\n b\r\n\r\n", NULL);
    refused("GET", "/", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "malformed");
    refused("GET", "/", "GET / HTTP/1.1\r\nHost: api.example\r\nX-A\r\n\r\n", "malformed");
    refused("GET", "/", "GET / HTTP/2.0\r\nHost: api.example\r\n\r\n", NULL);
}

static void test_limits(void **state)
{
    (void)state;
    struct error err;
    /* A head over max_head. */
    struct egress_inject *in = make("GET", "/");
    char big[6000];
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: api.example\r\nX-Pad: ");
    memset(big + n, 'a', sizeof(big) - (size_t)n - 1);
    big[sizeof(big) - 1] = '\0';
    assert_null(feed(in, big, strlen(big), 100, &err));
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    egress_inject_free(in);
    /* Too many header lines. */
    in = make("GET", "/");
    char many[4000] = "GET / HTTP/1.1\r\nHost: api.example\r\n";
    for (int i = 0; i < 120; i++)
        strcat(many, "A: 1\r\n");
    assert_null(feed(in, many, strlen(many), 0, &err));
    egress_inject_free(in);
    /* The header value from a format. */
    char *v = egress_secret_value("Bearer %s", "abc");
    assert_string_equal(v, "Bearer abc");
    free(v);
    v = egress_secret_value("%s", "abc");
    assert_string_equal(v, "abc");
    free(v);
    v = egress_secret_value("token=%s; v=1", "abc");
    assert_string_equal(v, "token=abc; v=1");
    free(v);
    assert_null(egress_secret_value("none", "abc"));
    /* An IPv6 literal host. */
    assert_int_equal(egress_inject_new("2001:db8::1", 80, "GET", "/", "X-Key", "k", 0, &in, &err), 0);
    static const char v6[] = "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n";
    char *out = feed(in, v6, sizeof(v6) - 1, 0, &err);
    assert_non_null(out);
    assert_non_null(strstr(out, "X-Key: k\r\n"));
    free(out);
    egress_inject_free(in);
}

/* Inside TLS the decision saw no method or path: any origin-form request,
 * the host still checked. */
static void test_any_request_inside_tls(void **state)
{
    (void)state;
    struct egress_inject *in = NULL;
    struct error err;
    assert_int_equal(egress_inject_new("api.example", 443, NULL, NULL, "Authorization", "Bearer " SECRET, 4096, &in, &err),
                     0);
    static const char req[] = "DELETE /items/7 HTTP/1.1\r\nHost: api.example\r\n\r\n";
    char *out = feed(in, req, sizeof(req) - 1, 5, &err);
    assert_non_null(out);
    assert_non_null(strstr(out, "DELETE /items/7 HTTP/1.1\r\n"));
    assert_non_null(strstr(out, "Authorization: Bearer " SECRET "\r\n"));
    free(out);
    egress_inject_free(in);
    assert_int_equal(egress_inject_new("api.example", 443, NULL, NULL, "Authorization", "x", 4096, &in, &err), 0);
    static const char absolute[] = "GET http://evil.example/ HTTP/1.1\r\nHost: api.example\r\n\r\n";
    assert_null(feed(in, absolute, sizeof(absolute) - 1, 0, &err));
    egress_inject_free(in);
    assert_int_equal(egress_inject_new("api.example", 443, NULL, NULL, "Authorization", "x", 4096, &in, &err), 0);
    static const char other[] = "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n";
    assert_null(feed(in, other, sizeof(other) - 1, 0, &err));
    egress_inject_free(in);
    assert_true(egress_inject_new("api.example", 443, "GET", NULL, "Authorization", "x", 4096, &in, &err) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_injected),
        cmocka_unit_test(test_guest_header_replaced),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_not_what_was_decided),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_any_request_inside_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
