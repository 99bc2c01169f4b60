/* The Firecracker API client against hostile peers: a child process plays the
 * API socket and answers with canned, oversized, malformed or slow responses,
 * blocking and on a libevent loop. Then the driver's start, stop and snapshot
 * against tests/firecracker/fake_firecracker.py (the stand-in the e2e tests
 * use, which holds every request to Firecracker's published API), on a loop
 * that must keep running other events while Firecracker is configured. */
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
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>

#include "http/http.h"
#include "vmm/fc_api.h"
#include "vmm/vm_internal.h"

enum peer_mode { PEER_ONCE, PEER_BYTE_BY_BYTE, PEER_TRICKLE_FOREVER, PEER_SILENT, PEER_FLOOD, PEER_SLOW };

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
    case PEER_SLOW: /* answers, after a while */
        usleep(300000);
        if (write(fd, answer, len) != (ssize_t)len)
            _exit(4);
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
static void serve_on(const char *path, enum peer_mode mode, const char *answer, pid_t *pid)
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
        peer_serve(c, mode, answer);
    }
    close(l);
}

static void serve_once_on(const char *path, const char *answer, pid_t *pid)
{
    serve_on(path, PEER_ONCE, answer, pid);
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

/* ---- on a loop: http_call_start (the HTTP client's loop face) and
 * fc_api_call_start, against the same hostile peers */

struct loop_result {
    bool done;
    int status;
    char body[256];
    struct error err;
    bool failed;
};

static void on_http_result(void *ctx, const struct http_response *resp, const struct error *err)
{
    struct loop_result *r = ctx;
    r->done = true;
    if (err != NULL) {
        r->failed = true;
        r->err = *err;
        return;
    }
    r->status = resp->status;
    snprintf(r->body, sizeof(r->body), "%s", resp->body ? resp->body : "");
}

/* A timer that counts its firings while the exchange is in flight: the loop
 * must keep serving it. */
struct ticker {
    struct event *ev;
    const bool *until;
    int ticks;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;
    if (!*t->until)
        t->ticks++;
}

static void ticker_start(struct ticker *t, struct event_base *base, const bool *until)
{
    t->until = until;
    t->ticks = 0;
    t->ev = event_new(base, -1, EV_PERSIST, on_tick, t);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 2000};
    assert_int_equal(evtimer_add(t->ev, &tv), 0);
}

static void run_until(struct event_base *base, const bool *flag)
{
    while (!*flag)
        assert_true(event_base_loop(base, EVLOOP_ONCE) >= 0);
}

static int exchange_on_loop(enum peer_mode mode, const char *answer, unsigned timeout_ms,
                            struct loop_result *r, int *ticks)
{
    struct peer p;
    signal(SIGPIPE, SIG_IGN);
    peer_start(&p, mode, answer);
    assert_int_equal(fcntl(p.fd, F_SETFL, O_NONBLOCK), 0);
    struct event_base *base = event_base_new();
    memset(r, 0, sizeof(*r));
    const char *headers[] = {"Accept: application/json", "Content-Type: application/json"};
    struct http_request req = {
        .method = "PUT",
        .url = "http://localhost/machine-config",
        .headers = headers,
        .header_count = 2,
        .body = BODY,
        .body_len = strlen(BODY),
        .body_fd = -1,
        .max_body = FC_API_MAX_RESPONSE,
        .max_error_body = FC_API_MAX_RESPONSE,
        .error_body_strict = true,
        .timeout_ms = HTTP_NO_TIMEOUT,
        .deadline_ms = http_now_ms() + timeout_ms,
    };
    struct http_call *call = NULL;
    struct error err;
    assert_int_equal(http_call_start(base, p.fd, &req, on_http_result, r, &call, &err), 0);
    assert_false(r->done); /* never from the start call itself */
    struct ticker t;
    ticker_start(&t, base, &r->done);
    run_until(base, &r->done);
    if (ticks)
        *ticks = t.ticks;
    event_free(t.ev);
    http_call_free(call);
    event_base_free(base);
    int st = peer_finish(&p);
    if (st != 0 && st != -SIGKILL && !r->failed)
        fail_msg("the peer did not see the request it expected (%d)", st);
    return r->failed ? -1 : 0;
}

static void test_loop_face_reads_what_the_blocking_face_reads(void **state)
{
    struct loop_result r;
    int ticks = 0;
    /* An answer that takes a while: the loop serves the timer meanwhile. */
    assert_int_equal(exchange_on_loop(PEER_SLOW, "HTTP/1.1 204 No Content\r\n\r\n", 5000, &r, &ticks), 0);
    assert_int_equal(r.status, 204);
    assert_true(ticks > 0);
    assert_int_equal(exchange_on_loop(PEER_BYTE_BY_BYTE,
                                      "HTTP/1.1 400 Bad Request\r\nContent-Length: 29\r\n\r\n"
                                      "{\"fault_message\":\"no memory\"}",
                                      5000, &r, NULL),
                     0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"fault_message\":\"no memory\"}");
    /* Hostile answers fail as on the blocking face. */
    assert_int_equal(exchange_on_loop(PEER_ONCE, "HTTP/1.1 2x4 No\r\n\r\n", 5000, &r, NULL), -1);
    assert_non_null(strstr(r.err.message, "HTTP response"));
    assert_int_equal(exchange_on_loop(PEER_SILENT, "", 200, &r, &ticks), -1);
    assert_int_equal(r.err.kind, ERR_DEADLINE_EXCEEDED);
    assert_true(ticks > 0);
    assert_int_equal(exchange_on_loop(PEER_TRICKLE_FOREVER, "", 300, &r, NULL), -1);
    assert_int_equal(r.err.kind, ERR_DEADLINE_EXCEEDED);
    char head[128];
    snprintf(head, sizeof(head), "HTTP/1.1 400 Bad\r\nContent-Length: %d\r\n\r\n", FC_API_MAX_RESPONSE * 4);
    assert_int_equal(exchange_on_loop(PEER_FLOOD, head, 5000, &r, NULL), -1);
    assert_int_equal(r.err.kind, ERR_RESOURCE_EXHAUSTED);
    assert_int_equal(exchange_on_loop(PEER_FLOOD, "HTTP/1.1 200 OK\r\n\r\n", 5000, &r, NULL), -1);
    assert_int_equal(r.err.kind, ERR_RESOURCE_EXHAUSTED);
}

struct api_result {
    bool done;
    bool failed;
    struct error err;
    struct fc_api_call *call;
};

static void on_api_done(void *ctx, const struct error *err)
{
    struct api_result *r = ctx;
    r->done = true;
    r->failed = err != NULL;
    if (err)
        r->err = *err;
    fc_api_call_free(r->call); /* freeing from the callback is allowed */
    r->call = NULL;
}

static int api_call_against(enum peer_mode mode, const char *answer, unsigned timeout_ms,
                            struct api_result *r)
{
    char dir[] = "/tmp/fc-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/api.sock", dir);
    pid_t pid;
    serve_on(path, mode, answer, &pid);
    struct event_base *base = event_base_new();
    memset(r, 0, sizeof(*r));
    struct error err;
    assert_int_equal(fc_api_call_start(base, path, "PUT", "/machine-config", BODY, timeout_ms, on_api_done,
                                       r, &r->call, &err),
                     0);
    run_until(base, &r->done);
    event_base_free(base);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(path);
    rmdir(dir);
    return r->failed ? -1 : 0;
}

static void test_api_call_on_the_loop(void **state)
{
    struct api_result r;
    assert_int_equal(api_call_against(PEER_ONCE, "HTTP/1.1 204 No Content\r\n\r\n", 2000, &r), 0);
    const char *fault = "HTTP/1.1 400 Bad Request\r\nContent-Length: 27\r\n\r\n"
                        "{\"fault_message\":\"too big\"}";
    assert_int_equal(api_call_against(PEER_ONCE, fault, 2000, &r), -1);
    assert_int_equal(r.err.kind, ERR_FAILED_PRECONDITION);
    assert_string_equal(r.err.message, "Firecracker refused PUT /machine-config (HTTP 400): too big");
    assert_int_equal(api_call_against(PEER_SILENT, "", 200, &r), -1);
    assert_int_equal(r.err.kind, ERR_DEADLINE_EXCEEDED);
    assert_string_equal(r.err.message, "PUT /machine-config: the Firecracker API did not answer within 200 ms");
    /* Nothing listening: at once, from the start call. */
    struct event_base *base = event_base_new();
    struct fc_api_call *call = NULL;
    struct error err;
    assert_int_equal(fc_api_call_start(base, "/nonexistent/api.sock", "PUT", "/actions", "{}", 100,
                                       on_api_done, &r, &call, &err),
                     -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
    assert_null(call);
    event_base_free(base);
}

/* A call cancelled in flight: no callback, nothing left behind (ASan). */
static void test_api_call_cancelled(void **state)
{
    char dir[] = "/tmp/fc-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/api.sock", dir);
    pid_t pid;
    serve_on(path, PEER_SILENT, "", &pid);
    struct event_base *base = event_base_new();
    struct api_result r = {0};
    struct error err;
    assert_int_equal(fc_api_call_start(base, path, "PUT", "/machine-config", BODY, 100, on_api_done, &r,
                                       &r.call, &err),
                     0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    fc_api_call_free(r.call);
    /* Past its deadline: had anything stayed armed, it would fire now. */
    struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    assert_false(r.done);
    event_base_free(base);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(path);
    rmdir(dir);
}

/* ---- the driver against fake_firecracker.py */

struct fc_env {
    char dir[64];
    char run_dir[128], kernel[128], initrd[128], rootfs[128], records[128], snap[128];
    char fake[PATH_MAX];
    struct event_base *base;
    struct vmm_config c;
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void env_setup(struct fc_env *e)
{
    memset(e, 0, sizeof(*e));
    signal(SIGPIPE, SIG_IGN);
    const char *fake = getenv("FAKE_FC_BIN") ? getenv("FAKE_FC_BIN") : "tests/firecracker/fake_firecracker.py";
    if (realpath(fake, e->fake) == NULL)
        fail_msg("the fake Firecracker %s is not there (run from the repository root or set FAKE_FC_BIN)",
                 fake);
    snprintf(e->dir, sizeof(e->dir), "/tmp/fc-drv-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->run_dir, sizeof(e->run_dir), "%s/vm", e->dir);
    snprintf(e->kernel, sizeof(e->kernel), "%s/vmlinuz", e->dir);
    snprintf(e->initrd, sizeof(e->initrd), "%s/initrd", e->dir);
    snprintf(e->rootfs, sizeof(e->rootfs), "%s/rootfs.erofs", e->dir);
    snprintf(e->records, sizeof(e->records), "%s/records", e->dir);
    snprintf(e->snap, sizeof(e->snap), "%s/snap.state", e->dir);
    assert_int_equal(mkdir(e->run_dir, 0700), 0);
    assert_int_equal(mkdir(e->records, 0700), 0);
    write_file(e->kernel, "not a kernel: the fake only opens it\n");
    write_file(e->initrd, ""); /* the key's archive is appended to it */
    write_file(e->rootfs, "not an erofs image\n");
    setenv("FAKE_FC_RECORD", e->records, 1);
    unsetenv("FAKE_FC_BROKER");
    unsetenv("FAKE_FC_REFUSE");
    unsetenv("FAKE_FC_DELAY_MS");
    unsetenv("FAKE_FC_NO_API");
    e->base = event_base_new();
    e->c = (struct vmm_config){
        .id = "fc-test",
        .run_dir = e->run_dir,
        .kernel = e->kernel,
        .initrd = e->initrd,
        .rootfs = e->rootfs,
        .cmdline = "console=ttyS0",
        .vcpus = 1,
        .mem_mb = 128,
        .vmm_binary = e->fake,
        .base = e->base,
    };
}

static void env_teardown(struct fc_env *e)
{
    event_base_free(e->base);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
}

/* The fake's record of the requests it got (NULL before the first). */
static json_t *fake_record(const struct fc_env *e)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s.json", e->records, e->c.id);
    return json_load_file(path, 0, NULL);
}

static size_t record_count(const struct fc_env *e)
{
    json_t *rec = fake_record(e);
    size_t n = json_array_size(json_object_get(rec, "requests"));
    json_decref(rec);
    return n;
}

/* Runs the loop until the driver's start is over (done or failed). */
static void run_start(struct fc_env *e, struct vmm_vm *vm, int *ticks)
{
    bool over = false;
    struct ticker t;
    ticker_start(&t, e->base, &over);
    while (vmm_vm_starting(vm))
        assert_true(event_base_loop(e->base, EVLOOP_ONCE) >= 0);
    over = true;
    if (ticks)
        *ticks = t.ticks;
    event_free(t.ev);
}

/* The owner's part: reaps the VMM (which must have been killed) and frees the VM. */
static void reap_killed_and_free(struct fc_env *e, struct vmm_vm *vm)
{
    int status = 0;
    assert_int_equal(waitpid(vmm_vm_pid(vm), &status, 0), vmm_vm_pid(vm));
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    vmm_vm_mark_exited(vm, status);
    vmm_vm_free(vm);
    /* What the driver made for the VM is gone with it. */
    const char *made[] = {"initrd.cpio", "channel.key", "vmm.pid"};
    for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", e->run_dir, made[i]);
        if (access(path, F_OK) == 0)
            fail_msg("%s is left behind", path);
    }
}

static const char *const boot_calls[] = {"/logger", "/metrics", "/boot-source", "/machine-config",
                                         "/vsock", "/drives/rootfs", "/actions"};
#define N_BOOT_CALLS (sizeof(boot_calls) / sizeof(boot_calls[0]))

/* A slow Firecracker (each answer late): start returns at once and the loop
 * keeps serving another timer while the calls go one by one; the VM then
 * boots with every call accepted, and stops on SendCtrlAltDel. */
static void test_start_does_not_block_the_loop(void **state)
{
    struct fc_env e;
    env_setup(&e);
    setenv("FAKE_FC_DELAY_MS", "100", 1);
    struct vmm_vm *vm = NULL;
    struct error err;
    if (vmm_firecracker_driver.start(&e.c, &vm, &err) < 0)
        fail_msg("start: %s", err.message);
    assert_true(vmm_vm_starting(vm));
    int ticks = 0;
    run_start(&e, vm, &ticks);
    if (vmm_vm_start_error(vm))
        fail_msg("start: %s", vmm_vm_start_error(vm)->message);
    assert_true(ticks > 0); /* the other timer ran while Firecracker was configured */
    json_t *rec = fake_record(&e);
    json_t *reqs = json_object_get(rec, "requests");
    assert_int_equal(json_array_size(reqs), N_BOOT_CALLS);
    for (size_t i = 0; i < N_BOOT_CALLS; i++) {
        json_t *q = json_array_get(reqs, i);
        assert_string_equal(json_string_value(json_object_get(q, "path")), boot_calls[i]);
        assert_int_equal(json_integer_value(json_object_get(q, "status")), 204);
    }
    json_decref(rec);
    unsetenv("FAKE_FC_DELAY_MS");
    assert_int_equal(vmm_firecracker_driver.request_stop(vm, &err), 0);
    int status = 0;
    assert_int_equal(waitpid(vmm_vm_pid(vm), &status, 0), vmm_vm_pid(vm));
    assert_true(WIFEXITED(status)); /* it powered off (SendCtrlAltDel), not killed */
    vmm_vm_mark_exited(vm, status);
    vmm_vm_free(vm);
    env_teardown(&e);
}

/* Firecracker never opens its API socket: a clear error within the start's
 * deadline, and the process killed. */
static void test_socket_never_opens(void **state)
{
    struct fc_env e;
    env_setup(&e);
    setenv("FAKE_FC_NO_API", "1", 1);
    e.c.start_timeout_ms = 1000;
    struct vmm_vm *vm = NULL;
    struct error err;
    assert_int_equal(vmm_firecracker_driver.start(&e.c, &vm, &err), 0);
    run_start(&e, vm, NULL);
    const struct error *why = vmm_vm_start_error(vm);
    assert_non_null(why);
    assert_int_equal(why->kind, ERR_DEADLINE_EXCEEDED);
    assert_non_null(strstr(why->message, "starting Firecracker for fc-test: its API socket "));
    assert_non_null(strstr(why->message, "api.sock did not accept a connection within 1000 ms"));
    reap_killed_and_free(&e, vm);
    env_teardown(&e);
}

/* A VMM that exits at once: said so, naming its log. */
static void test_exit_before_the_socket(void **state)
{
    struct fc_env e;
    env_setup(&e);
    e.c.vmm_binary = "/bin/false";
    struct vmm_vm *vm = NULL;
    struct error err;
    assert_int_equal(vmm_firecracker_driver.start(&e.c, &vm, &err), 0);
    run_start(&e, vm, NULL);
    const struct error *why = vmm_vm_start_error(vm);
    assert_non_null(why);
    assert_non_null(strstr(why->message, "firecracker exited (status 1) before its API socket was ready; see "));
    assert_non_null(strstr(why->message, "/console.log"));
    int status;
    assert_int_equal(waitpid(vmm_vm_pid(vm), &status, 0), vmm_vm_pid(vm));
    vmm_vm_mark_exited(vm, status);
    vmm_vm_free(vm);
    env_teardown(&e);
}

/* A refusal at any step ends the start there: the error names the call and
 * Firecracker's fault, no later call is made, the process is killed, and
 * freeing the VM removes what the driver made. */
static void test_refusal_at_each_step(void **state)
{
    for (size_t i = 0; i < N_BOOT_CALLS; i++) {
        struct fc_env e;
        env_setup(&e);
        char refuse[64];
        snprintf(refuse, sizeof(refuse), "PUT %s", boot_calls[i]);
        setenv("FAKE_FC_REFUSE", refuse, 1);
        struct vmm_vm *vm = NULL;
        struct error err;
        assert_int_equal(vmm_firecracker_driver.start(&e.c, &vm, &err), 0);
        run_start(&e, vm, NULL);
        const struct error *why = vmm_vm_start_error(vm);
        if (why == NULL)
            fail_msg("%s: the start did not fail", refuse);
        char want[160];
        snprintf(want, sizeof(want), "starting Firecracker for fc-test: Firecracker refused %s (HTTP 400): refused by FAKE_FC_REFUSE",
                 refuse);
        if (strstr(why->message, want) == NULL)
            fail_msg("%s: %s", refuse, why->message);
        json_t *rec = fake_record(&e);
        json_t *reqs = json_object_get(rec, "requests");
        assert_int_equal(json_array_size(reqs), i + 1);
        json_t *last = json_array_get(reqs, i);
        assert_string_equal(json_string_value(json_object_get(last, "path")), boot_calls[i]);
        assert_int_equal(json_integer_value(json_object_get(last, "status")), 400);
        json_decref(rec);
        reap_killed_and_free(&e, vm);
        env_teardown(&e);
    }
}

/* Stopped (or freed) while it is being configured: the configuration ends
 * there, the process is killed, and nothing of the start stays armed on the
 * loop (the loop runs on afterwards; ASan sees any use after free). */
static void stop_during_start(bool free_only)
{
    struct fc_env e;
    env_setup(&e);
    setenv("FAKE_FC_DELAY_MS", "300", 1);
    struct vmm_vm *vm = NULL;
    struct error err;
    assert_int_equal(vmm_firecracker_driver.start(&e.c, &vm, &err), 0);
    while (record_count(&e) < 1) { /* the first call answered */
        assert_true(vmm_vm_starting(vm));
        assert_true(event_base_loop(e.base, EVLOOP_ONCE) >= 0);
    }
    assert_true(vmm_vm_starting(vm));
    pid_t pid = vmm_vm_pid(vm);
    if (free_only) {
        vmm_vm_free(vm); /* kills and reaps */
        assert_int_equal(kill(pid, 0), -1);
    } else {
        assert_int_equal(vmm_firecracker_driver.request_stop(vm, &err), 0);
        assert_false(vmm_vm_starting(vm));
        assert_null(vmm_vm_start_error(vm)); /* stopped, not failed */
        reap_killed_and_free(&e, vm);
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
    event_base_loopexit(e.base, &tv);
    event_base_dispatch(e.base);
    assert_true(record_count(&e) < N_BOOT_CALLS);
    json_t *rec = fake_record(&e);
    json_t *reqs = json_object_get(rec, "requests");
    for (size_t i = 0; i < json_array_size(reqs); i++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(reqs, i), "path")), "/actions");
    json_decref(rec);
    env_teardown(&e);
}

static void test_stop_during_start(void **state)
{
    stop_during_start(false);
}

static void test_free_during_start(void **state)
{
    stop_during_start(true);
}

/* A snapshot is saved on the loop too: snapshot_begin returns before
 * Firecracker answered (snapshot_poll says 0 at first), then the files are
 * moved where the daemon keeps them; a VM restored from them loads the
 * snapshot after the logger and metrics only. */
static void test_snapshot_on_the_loop_and_restore(void **state)
{
    struct fc_env e;
    env_setup(&e);
    e.c.save_to = e.snap;
    struct vmm_vm *vm = NULL;
    struct error err;
    if (vmm_firecracker_driver.start(&e.c, &vm, &err) < 0)
        fail_msg("start: %s", err.message);
    run_start(&e, vm, NULL);
    assert_null(vmm_vm_start_error(vm));
    /* The fake serves the vsock socket once started. */
    char vsock[256];
    snprintf(vsock, sizeof(vsock), "%s/vsock.sock", e.run_dir);
    assert_int_equal(access(vsock, F_OK), 0);
    unsigned char key[VMM_CHANNEL_KEY_LEN];
    memcpy(key, vmm_vm_channel(vm)->key, sizeof(key));

    if (vmm_firecracker_driver.snapshot_begin(vm, &err) < 0)
        fail_msg("snapshot_begin: %s", err.message);
    assert_int_equal(vmm_firecracker_driver.snapshot_poll(vm, &err), 0);
    int r;
    while ((r = vmm_firecracker_driver.snapshot_poll(vm, &err)) == 0)
        assert_true(event_base_loop(e.base, EVLOOP_ONCE) >= 0);
    if (r < 0)
        fail_msg("snapshot: %s", err.message);
    char mem[256];
    snprintf(mem, sizeof(mem), "%s.mem", e.snap);
    assert_int_equal(access(e.snap, R_OK), 0);
    assert_int_equal(access(mem, R_OK), 0);
    json_t *rec = fake_record(&e);
    json_t *reqs = json_object_get(rec, "requests");
    size_t n = json_array_size(reqs);
    assert_true(n >= 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, n - 2), "method")), "PATCH");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, n - 1), "path")),
                        "/snapshot/create");
    json_decref(rec);
    vmm_firecracker_driver.kill(vm);
    reap_killed_and_free(&e, vm);

    /* A restore of it. */
    e.c.save_to = NULL;
    e.c.restore_from = e.snap;
    e.c.restore_key = key;
    e.c.id = "fc-restored";
    if (vmm_firecracker_driver.start(&e.c, &vm, &err) < 0)
        fail_msg("restore: %s", err.message);
    run_start(&e, vm, NULL);
    if (vmm_vm_start_error(vm))
        fail_msg("restore: %s", vmm_vm_start_error(vm)->message);
    rec = fake_record(&e);
    reqs = json_object_get(rec, "requests");
    assert_int_equal(json_array_size(reqs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 2), "path")), "/snapshot/load");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 2), "status")), 204);
    json_decref(rec);
    vmm_firecracker_driver.kill(vm);
    reap_killed_and_free(&e, vm);
    env_teardown(&e);
}

/* Without a loop the driver refuses to start (nothing could carry the
 * configuration). */
static void test_start_needs_a_loop(void **state)
{
    struct fc_env e;
    env_setup(&e);
    e.c.base = NULL;
    struct vmm_vm *vm = NULL;
    struct error err;
    assert_int_equal(vmm_firecracker_driver.start(&e.c, &vm, &err), -1);
    assert_non_null(strstr(err.message, "event loop"));
    assert_null(vm);
    env_teardown(&e);
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
        cmocka_unit_test(test_loop_face_reads_what_the_blocking_face_reads),
        cmocka_unit_test(test_api_call_on_the_loop),
        cmocka_unit_test(test_api_call_cancelled),
        cmocka_unit_test(test_start_needs_a_loop),
        cmocka_unit_test(test_exit_before_the_socket),
        cmocka_unit_test(test_socket_never_opens),
        cmocka_unit_test(test_start_does_not_block_the_loop),
        cmocka_unit_test(test_refusal_at_each_step),
        cmocka_unit_test(test_stop_during_start),
        cmocka_unit_test(test_free_during_start),
        cmocka_unit_test(test_snapshot_on_the_loop_and_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
