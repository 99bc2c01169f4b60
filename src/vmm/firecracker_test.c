/* The Firecracker API client against hostile peers: a child process plays the
 * API socket and answers with canned, oversized, malformed or slow responses. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/fc_api.h"

enum peer_mode { PEER_ONCE, PEER_BYTE_BY_BYTE, PEER_TRICKLE_FOREVER, PEER_SILENT, PEER_FLOOD };

struct peer {
    pid_t pid;
    int fd; /* our end */
};

/* Reads the request head and body (by its Content-Length) and checks it. */
static int peer_read_request(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n < size - 1) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        const char *cl = strstr(buf, "Content-Length: ");
        size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
        if (n >= (size_t)(end + 4 - buf) + want)
            return 0;
    }
    return -1;
}

static void peer_serve(int fd, enum peer_mode mode, const char *answer)
{
    char req[8192];
    if (peer_read_request(fd, req, sizeof(req)) < 0)
        _exit(2);
    /* What every request must look like. */
    if (strncmp(req, "PUT /machine-config HTTP/1.1\r\n", 30) != 0 ||
        strstr(req, "\r\nHost: localhost\r\n") == NULL ||
        strstr(req, "\r\nContent-Type: application/json\r\n") == NULL ||
        strstr(req, "\r\nContent-Length: 35\r\n") == NULL ||
        strstr(req, "\r\n\r\n{\"vcpu_count\":1,\"mem_size_mib\":128}") == NULL)
        _exit(3);
    size_t len = strlen(answer);
    switch (mode) {
    case PEER_ONCE:
        if (write(fd, answer, len) != (ssize_t)len)
            _exit(4);
        break;
    case PEER_BYTE_BY_BYTE:
        for (size_t i = 0; i < len; i++)
            if (write(fd, answer + i, 1) != 1)
                _exit(4);
        break;
    case PEER_TRICKLE_FOREVER:
        /* A valid start, then one header byte every 20 ms, never ending. */
        if (write(fd, "HTTP/1.1 204 No Content\r\nX-Slow: ", 33) != 33)
            _exit(4);
        for (;;) {
            if (write(fd, "a", 1) != 1)
                _exit(0);
            usleep(20000);
        }
    case PEER_SILENT:
        pause();
        break;
    case PEER_FLOOD: {
        static char junk[16384];
        memset(junk, 'a', sizeof(junk));
        if (write(fd, answer, len) != (ssize_t)len)
            _exit(4);
        for (;;)
            if (write(fd, junk, sizeof(junk)) < 0)
                _exit(0);
    }
    }
    /* Hold the connection until the client is done (or close for truncation tests). */
    char c;
    while (read(fd, &c, 1) > 0)
        ;
    _exit(0);
}

static void peer_start(struct peer *p, enum peer_mode mode, const char *answer)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL);
        close(sv[0]);
        peer_serve(sv[1], mode, answer);
    }
    close(sv[1]);
    p->fd = sv[0];
}

/* Ends the peer; returns its exit status (0 when it saw a well-formed request). */
static int peer_finish(struct peer *p)
{
    close(p->fd);
    kill(p->pid, SIGKILL);
    int status = 0;
    waitpid(p->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

#define BODY "{\"vcpu_count\":1,\"mem_size_mib\":128}"

static int exchange(enum peer_mode mode, const char *answer, unsigned timeout_ms,
                    struct fc_api_response *resp, struct error *err, int *peer_status)
{
    struct peer p;
    signal(SIGPIPE, SIG_IGN);
    peer_start(&p, mode, answer);
    int r = fc_api_exchange(p.fd, "PUT", "/machine-config", BODY, timeout_ms, resp, err);
    int st = peer_finish(&p);
    if (peer_status)
        *peer_status = st;
    return r;
}

/* Answers read whole: the status, and the body (NULL: none), whichever way
 * the peer sends them. The peer must have seen the request it expected. */
static void test_good_answers(void **state)
{
    static const struct {
        const char *name;
        enum peer_mode mode;
        const char *answer;
        int status;
        const char *body;
    } cases[] = {
        {"no content", PEER_ONCE, "HTTP/1.1 204 No Content\r\n\r\n", 204, NULL},
        {"a fault, byte by byte", PEER_BYTE_BY_BYTE,
         "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
         "Content-Length: 29\r\n\r\n{\"fault_message\":\"no memory\"}",
         400, "{\"fault_message\":\"no memory\"}"},
        {"a chunked body", PEER_ONCE,
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n", 200,
         "{\"a\":1}"},
        /* the reader stops after one response */
        {"two answers", PEER_ONCE,
         "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 400 Bad\r\nContent-Length: 2\r\n\r\n{}", 204, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fc_api_response resp;
        struct error err;
        int st = -1;
        if (exchange(cases[i].mode, cases[i].answer, 2000, &resp, &err, &st) != 0)
            fail_msg("%s: %s", cases[i].name, err.message);
        bool body_ok = cases[i].body ? resp.body != NULL && resp.body_len == strlen(cases[i].body) &&
                                           strcmp(resp.body, cases[i].body) == 0
                                     : resp.body == NULL;
        if (resp.status != cases[i].status || !body_ok)
            fail_msg("%s: status %d, body %s", cases[i].name, resp.status, resp.body ? resp.body : "(none)");
        fc_api_response_release(&resp);
        if (st != 0 && st != -SIGKILL)
            fail_msg("%s: the peer did not see the request it expected (%d)", cases[i].name, st);
    }
}

static void test_garbage_is_refused(void **state)
{
    static const char *const answers[] = {
        "HELLO\r\n\r\n",
        "HTTP/1.1 2x4 No\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nBad Header Line\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    };
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        struct fc_api_response resp;
        struct error err;
        assert_int_equal(exchange(PEER_ONCE, answers[i], 2000, &resp, &err, NULL), -1);
        assert_int_equal(err.kind, ERR_UNAVAILABLE);
        assert_non_null(strstr(err.message, "HTTP response"));
        assert_null(resp.body);
    }
}

static void test_truncated_is_refused(void **state)
{
    struct fc_api_response resp;
    struct error err;
    /* The peer closes after 5 of 100 promised bytes. */
    struct peer p;
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p.pid = fork();
    if (p.pid == 0) {
        close(sv[0]);
        char req[8192];
        if (peer_read_request(sv[1], req, sizeof(req)) < 0)
            _exit(2);
        const char *a = "HTTP/1.1 400 Bad\r\nContent-Length: 100\r\n\r\n{\"fau";
        if (write(sv[1], a, strlen(a)) < 0)
            _exit(4);
        _exit(0);
    }
    close(sv[1]);
    p.fd = sv[0];
    assert_int_equal(fc_api_exchange(p.fd, "PUT", "/machine-config", BODY, 2000, &resp, &err), -1);
    assert_non_null(strstr(err.message, "closed before the response was complete"));
    peer_finish(&p);
}

static void test_oversize_is_refused(void **state)
{
    struct fc_api_response resp;
    struct error err;
    /* A body longer than the cap, announced honestly. */
    char head[128];
    snprintf(head, sizeof(head), "HTTP/1.1 400 Bad\r\nContent-Length: %d\r\n\r\n", FC_API_MAX_RESPONSE * 4);
    assert_int_equal(exchange(PEER_FLOOD, head, 5000, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    /* Endless headers. */
    assert_int_equal(exchange(PEER_FLOOD, "HTTP/1.1 204 No Content\r\nX-Big: ", 5000, &resp, &err, NULL), -1);
    assert_true(err.kind == ERR_RESOURCE_EXHAUSTED || err.kind == ERR_UNAVAILABLE);
    /* A body until EOF that never ends. */
    assert_int_equal(exchange(PEER_FLOOD, "HTTP/1.1 200 OK\r\n\r\n", 5000, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
}

static void test_slow_peers_time_out(void **state)
{
    struct fc_api_response resp;
    struct error err;
    assert_int_equal(exchange(PEER_SILENT, "", 200, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_DEADLINE_EXCEEDED);
    /* Bytes keep coming, but the deadline covers the whole exchange. */
    assert_int_equal(exchange(PEER_TRICKLE_FOREVER, "", 300, &resp, &err, NULL), -1);
    assert_int_equal(err.kind, ERR_DEADLINE_EXCEEDED);
}

/* fc_api_put against a listening socket: the status decides, and the fault
 * message travels into the error, cleaned of control bytes. */
static void serve_once_on(const char *path, const char *answer, pid_t *pid)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof(addr.sun_path));
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    unlink(path);
    assert_int_equal(bind(l, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(l, 1), 0);
    *pid = fork();
    if (*pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int c = accept(l, NULL, NULL);
        if (c < 0)
            _exit(5);
        peer_serve(c, PEER_ONCE, answer);
    }
    close(l);
}

static int put_against(const char *answer, struct error *err)
{
    char dir[] = "/tmp/fc-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/api.sock", dir);
    pid_t pid;
    serve_once_on(path, answer, &pid);
    int r = fc_api_put(path, "/machine-config", BODY, 2000, err);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(path);
    rmdir(dir);
    return r;
}

static void test_put_status_and_fault(void **state)
{
    struct error err;
    assert_int_equal(put_against("HTTP/1.1 204 No Content\r\n\r\n", &err), 0);
    const char *fault = "HTTP/1.1 400 Bad Request\r\nContent-Length: 54\r\n\r\n"
                        "{\"fault_message\":\"Invalid memory size\\u001b[31m\\nend\"}   ";
    assert_int_equal(put_against(fault, &err), -1);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "HTTP 400"));
    assert_non_null(strstr(err.message, "Invalid memory size?[31m?end"));
    assert_int_equal(put_against("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nnope", &err), -1);
    assert_int_equal(err.kind, ERR_INTERNAL);
    assert_non_null(strstr(err.message, "no fault_message"));
    /* A 1xx/3xx is not success either. */
    assert_int_equal(put_against("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", &err), -1);
    /* Nothing listening. */
    assert_int_equal(fc_api_put("/nonexistent/api.sock", "/actions", "{}", 100, &err), -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_answers),
        cmocka_unit_test(test_garbage_is_refused),
        cmocka_unit_test(test_truncated_is_refused),
        cmocka_unit_test(test_oversize_is_refused),
        cmocka_unit_test(test_slow_peers_time_out),
        cmocka_unit_test(test_put_status_and_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
