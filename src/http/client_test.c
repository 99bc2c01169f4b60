/* The HTTP client against hostile input. URL handling: what a registry's
 * Location or realm may say; the whole-request deadline against a peer that
 * drips its answer; and the blocking face (http_fd_run) against peers that
 * send garbage, too much, too little, nothing, or answer before reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"

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

/* ------------------------------------------------------------------ the blocking face */

/* A peer on the other end of a socketpair: reads the request head (and
 * keeps reading what follows into *got when asked), then writes answer and
 * closes. Returns the client's end. */
struct peer {
    pid_t pid;
    int fd;      /* the client's end */
    int report;  /* read end of a pipe carrying what the peer received */
};

static struct peer peer_start(const char *answer, size_t answer_len, bool read_body,
                              unsigned stall_ms)
{
    int sv[2], rp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(rp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        close(rp[0]);
        char buf[65536];
        size_t have = 0;
        /* the head, then (read_body) everything until the client stops */
        while (have < sizeof(buf)) {
            ssize_t n = read(sv[1], buf + have, sizeof(buf) - have);
            if (n <= 0)
                break;
            have += (size_t)n;
            if (!read_body && memmem(buf, have, "\r\n\r\n", 4) != NULL)
                break;
            if (read_body && have >= 4 && memmem(buf, have, "0\r\n\r\n", 5) != NULL)
                break;
        }
        if (write(rp[1], buf, have) < 0)
            _exit(1);
        close(rp[1]);
        if (stall_ms)
            usleep(stall_ms * 1000);
        if (answer_len && write(sv[1], answer, answer_len) < 0)
            _exit(0);
        close(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    close(rp[1]);
    return (struct peer){.pid = pid, .fd = sv[0], .report = rp[0]};
}

/* What the peer received (NUL-terminated, static). */
static const char *peer_finish(struct peer *p)
{
    static char got[65537];
    size_t have = 0;
    shutdown(p->fd, SHUT_RDWR); /* a peer still waiting for the request stops */
    ssize_t n;
    while (have < sizeof(got) - 1 && (n = read(p->report, got + have, sizeof(got) - 1 - have)) > 0)
        have += (size_t)n;
    got[have] = '\0';
    close(p->report);
    close(p->fd);
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    return got;
}

static int fd_run(const char *answer, struct http_request *req, struct http_response *resp,
                  struct error *err, const char **got)
{
    struct peer p = peer_start(answer, strlen(answer), false, 0);
    int rc = http_fd_run(p.fd, req, resp, err);
    const char *g = peer_finish(&p);
    if (got)
        *got = g;
    return rc;
}

static void test_fd_answer(void **state)
{
    (void)state;
    const char *hdr[] = {"Content-Type: application/json", "Authorization: Bearer t"};
    struct http_request req = {.method = "POST", .url = "http://127.0.0.1:7339/a.B/C", .headers = hdr,
                               .header_count = 2, .body = "{}", .body_len = 2, .body_fd = -1};
    struct http_response resp;
    struct error err = {0};
    const char *got = NULL;
    assert_int_equal(fd_run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", &req, &resp,
                            &err, &got),
                     0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "hello");
    assert_string_equal(http_response_header(&resp, "x-a"), "b");
    http_response_release(&resp);
    /* what went out: the request line, Host from the URL, the caller's headers, the body */
    assert_non_null(strstr(got, "POST /a.B/C HTTP/1.1\r\nHost: 127.0.0.1:7339\r\n"));
    assert_non_null(strstr(got, "\r\nAuthorization: Bearer t\r\n"));
    assert_non_null(strstr(got, "\r\nContent-Length: 2\r\n\r\n"));

    /* an error status is an answer, its body kept up to max_error_body */
    req.max_error_body = 4;
    assert_int_equal(fd_run("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", &req,
                            &resp, &err, NULL),
                     0);
    assert_int_equal(resp.status, 404);
    assert_string_equal(resp.body, "not ");
    http_response_release(&resp);
}

static void test_fd_hostile(void **state)
{
    (void)state;
    struct http_request req = {.method = "GET", .url = "http://localhost/x", .body_fd = -1,
                               .max_body = 16};
    struct http_response resp;
    struct error err = {0};
    /* not HTTP */
    assert_int_equal(fd_run("SSH-2.0-OpenSSH\r\n", &req, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
    http_response_release(&resp);
    /* closes in the middle of the body */
    assert_int_equal(fd_run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &req, &resp, &err, NULL),
                     -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
    assert_true(resp.truncated);
    http_response_release(&resp);
    /* closes before a status line */
    assert_int_equal(fd_run("", &req, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
    http_response_release(&resp);
    /* a declared body over max_body: refused before any of it is read */
    assert_int_equal(fd_run("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nx", &req, &resp,
                            &err, NULL),
                     -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    http_response_release(&resp);
    /* an undeclared one (read to the close) over max_body */
    assert_int_equal(fd_run("HTTP/1.1 200 OK\r\n\r\n0123456789abcdefXYZ", &req, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    http_response_release(&resp);
    /* a chunk size that overflows */
    assert_int_equal(fd_run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                            &req, &resp, &err, NULL),
                     -1);
    http_response_release(&resp);
    /* more headers than HTTP_MAX_HEADERS */
    char *many = NULL;
    size_t mlen = 0;
    FILE *f = open_memstream(&many, &mlen);
    fprintf(f, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        fprintf(f, "X-%d: y\r\n", i);
    fprintf(f, "Content-Length: 0\r\n\r\n");
    fclose(f);
    assert_int_equal(fd_run(many, &req, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    http_response_release(&resp);
    free(many);
    /* what follows the response is not read as another one */
    assert_int_equal(fd_run("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n", &req, &resp,
                            &err, NULL),
                     0);
    assert_int_equal(resp.status, 204);
    http_response_release(&resp);
}

static int count_sink(void *ctx, const char *data, size_t len, struct error *err)
{
    size_t *n = ctx;
    *n += len;
    if (*n > 6)
        return error_set(err, ERR_ABORTED, "enough");
    return 0;
}

static void test_fd_sink(void **state)
{
    (void)state;
    size_t seen = 0;
    struct http_request req = {.method = "GET", .url = "http://localhost/x", .body_fd = -1,
                               .on_body = count_sink, .ctx = &seen};
    struct http_response resp;
    struct error err = {0};
    assert_int_equal(fd_run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                            &req, &resp, &err, NULL),
                     0);
    assert_int_equal(seen, 3);
    assert_null(resp.body); /* the sink had it */
    http_response_release(&resp);
    /* the sink stops it: its error is the result */
    seen = 0;
    assert_int_equal(fd_run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", &req, &resp, &err,
                            NULL),
                     -1);
    assert_int_equal(err.kind, ERR_ABORTED);
    http_response_release(&resp);
}

static volatile sig_atomic_t cancel_flag;

static void test_fd_silent_peer(void **state)
{
    (void)state;
    struct http_response resp;
    struct error err = {0};
    /* a peer that never answers: the deadline ends it */
    struct peer p = peer_start("", 0, false, 3000);
    struct http_request req = {.method = "GET", .url = "http://localhost/x", .body_fd = -1,
                               .timeout_ms = HTTP_NO_TIMEOUT, .deadline_ms = http_now_ms() + 200};
    assert_int_equal(http_fd_run(p.fd, &req, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_DEADLINE_EXCEEDED);
    http_response_release(&resp);
    peer_finish(&p);
    /* ... or the inactivity timeout */
    p = peer_start("", 0, false, 3000);
    req.deadline_ms = 0;
    req.timeout_ms = 200;
    assert_int_equal(http_fd_run(p.fd, &req, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_DEADLINE_EXCEEDED);
    http_response_release(&resp);
    peer_finish(&p);
    /* ... or the cancel flag (a signal handler's) */
    p = peer_start("", 0, false, 3000);
    req.timeout_ms = HTTP_NO_TIMEOUT;
    cancel_flag = 1;
    req.cancel = &cancel_flag;
    assert_int_equal(http_fd_run(p.fd, &req, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_CANCELED);
    cancel_flag = 0;
    http_response_release(&resp);
    peer_finish(&p);
}

static void test_fd_body_from_fd(void **state)
{
    (void)state;
    struct http_response resp;
    struct error err = {0};
    int in[2];
    /* chunked to EOF from a pipe */
    assert_int_equal(pipe(in), 0);
    assert_int_equal(write(in[1], "hello world", 11), 11);
    close(in[1]);
    const char *answer = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";
    struct peer p = peer_start(answer, strlen(answer), true, 0);
    struct http_request req = {.method = "PUT", .url = "http://localhost/f", .body_fd = in[0],
                               .body_fd_chunked = true};
    assert_int_equal(http_fd_run(p.fd, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 201);
    http_response_release(&resp);
    const char *got = peer_finish(&p);
    assert_non_null(strstr(got, "Transfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n"));
    close(in[0]);

    /* a sized body whose input yields less than it said */
    assert_int_equal(pipe(in), 0);
    assert_int_equal(write(in[1], "abc", 3), 3);
    close(in[1]);
    p = peer_start(answer, strlen(answer), false, 0);
    struct http_request sized = {.method = "PUT", .url = "http://localhost/f", .body_fd = in[0],
                                 .body_fd_len = 10};
    assert_int_equal(http_fd_run(p.fd, &sized, &resp, &err), -1);
    assert_int_equal(err.kind, ERR_ABORTED);
    http_response_release(&resp);
    peer_finish(&p);
    close(in[0]);
}

/* A peer that answers 413 after the head and closes while the client still
 * sends a large body: the answer is the result, not the broken pipe. */
static void test_fd_early_answer(void **state)
{
    (void)state;
    const char *answer = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!";
    struct peer p = peer_start(answer, strlen(answer), false, 0);
    size_t big = 8u << 20;
    char *body = calloc(1, big);
    assert_non_null(body);
    struct http_request req = {.method = "PUT", .url = "http://localhost/f", .body = body,
                               .body_len = big, .body_fd = -1, .deadline_ms = http_now_ms() + 20000};
    struct http_response resp;
    struct error err = {0};
    int rc = http_fd_run(p.fd, &req, &resp, &err);
    if (rc != 0)
        fail_msg("%s", err.message);
    assert_int_equal(resp.status, 413);
    assert_string_equal(resp.body, "too big!");
    http_response_release(&resp);
    peer_finish(&p);
    free(body);
}

/* Names and literals through libevent's DNS client: /etc/hosts answers
 * localhost without a name server; literals need none. */
static void test_resolve_host(void **state)
{
    static const struct {
        const char *host, *want;
    } cases[] = {
        {"127.0.0.1", "127.0.0.1"},
        {"::1", "::1"},
        {"localhost", NULL}, /* 127.0.0.1 or ::1, as /etc/hosts says */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct evutil_addrinfo *ai = NULL;
        struct error err = {0};
        if (http_resolve_host(cases[i].host, "8080", &ai, &err) < 0)
            fail_msg("%s: %s", cases[i].host, err.message);
        bool found = false;
        for (struct evutil_addrinfo *a = ai; a; a = a->ai_next) {
            char text[64] = "";
            uint16_t port = 0;
            if (a->ai_family == AF_INET) {
                const struct sockaddr_in *sin = (const void *)a->ai_addr;
                inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
                port = ntohs(sin->sin_port);
            } else if (a->ai_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const void *)a->ai_addr;
                inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
                port = ntohs(sin6->sin6_port);
            }
            assert_int_equal(port, 8080);
            assert_int_equal(a->ai_socktype, SOCK_STREAM);
            if (cases[i].want ? strcmp(text, cases[i].want) == 0
                              : (strcmp(text, "127.0.0.1") == 0 || strcmp(text, "::1") == 0))
                found = true;
        }
        evutil_freeaddrinfo(ai);
        if (!found)
            fail_msg("%s: the expected address is missing", cases[i].host);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_resolve_host),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_deadline_ends_a_slow_drip),
        cmocka_unit_test(test_fd_answer),
        cmocka_unit_test(test_fd_hostile),
        cmocka_unit_test(test_fd_sink),
        cmocka_unit_test(test_fd_silent_peer),
        cmocka_unit_test(test_fd_body_from_fd),
        cmocka_unit_test(test_fd_early_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
