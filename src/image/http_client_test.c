/* URL handling of the HTTP client: what a registry's Location or realm may
 * say; and the whole-request deadline against a peer that drips its answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A peer that answers 200 with a 40-byte body, one byte every 50 ms (2 s in
 * all): never idle long enough for the inactivity timeout. Returns its port. */
static int slow_peer(pid_t *pid)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 4), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c < 0)
                _exit(1);
            char buf[4096];
            if (read(c, buf, sizeof(buf)) <= 0) {
                close(c);
                continue;
            }
            const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n";
            if (write(c, head, strlen(head)) < 0)
                _exit(1);
            for (int i = 0; i < 40; i++) {
                usleep(50000);
                if (write(c, "x", 1) != 1)
                    break;
            }
            close(c);
        }
    }
    close(l);
    return ntohs(a.sin_port);
}

static void test_deadline_ends_a_slow_drip(void **state)
{
    (void)state;
    pid_t pid;
    int port = slow_peer(&pid);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/blob", port);
    struct http_response resp;
    struct error err = {0};

    /* Control: without a deadline the drip is a (slow) success. */
    struct http_request req = {.method = "GET", .url = url, .body_fd = -1, .timeout_ms = 1000};
    assert_int_equal(http_request_run(&req, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 40);
    http_response_release(&resp);

    /* With one, it ends when the deadline passes, long before the body does. */
    req.deadline_ms = http_now_ms() + 300;
    assert_int_equal(http_request_run(&req, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_DEADLINE_EXCEEDED);
    http_response_release(&resp);

    /* A deadline already past: no connection at all. */
    req.deadline_ms = http_now_ms() - 1;
    assert_int_equal(http_request_run(&req, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_DEADLINE_EXCEEDED);
    http_response_release(&resp);

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_deadline_ends_a_slow_drip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
