/* The QMP client against a scripted peer on a socketpair (or, for a call on
 * the loop, a listening socket): the peer is a child process that writes
 * canned lines and checks what it reads. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>
#include <sys/un.h>

#include "common/test_dir.h"
#include "vmm/qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\n"

/* Reads one line from fd into buf (for the peer). */
static int peer_readline(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n < size - 1) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r <= 0)
            return -1;
        if (c == '\n')
            break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return 0;
}

static void peer_write(int fd, const char *s)
{
    ssize_t n = write(fd, s, strlen(s));
    (void)n;
}

/* A child that serves fd with script: a list of steps; "<" expects a line
 * containing the text, ">" writes it, "S" sleeps 2 s. Closes fd here. */
static pid_t spawn_script(int fd, const char *const *script)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char line[4096];
        for (const char *const *s = script; *s; s++) {
            if ((*s)[0] == '>') {
                peer_write(fd, *s + 1);
            } else if ((*s)[0] == '<') {
                if (peer_readline(fd, line, sizeof(line)) < 0 || strstr(line, *s + 1) == NULL)
                    _exit(1);
            } else if ((*s)[0] == 'S') {
                sleep(2);
            }
        }
        _exit(0);
    }
    close(fd);
    return pid;
}

/* A socketpair sv whose sv[1] end a child serves with script. */
static pid_t spawn_peer(int sv[2], const char *const *script)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    return spawn_script(sv[1], script);
}

static int peer_status(pid_t pid)
{
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_handshake_and_quit(void **state)
{
    int sv[2];
    const char *script[] = {">" GREETING,
                            "<\"qmp_capabilities\"",
                            ">{\"return\": {}}\n",
                            "<\"quit\"",
                            ">{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}\n",
                            ">{\"return\": {}}\n",
                            NULL};
    pid_t pid = spawn_peer(sv, script);
    struct qmp *q = NULL;
    struct error err;
    assert_int_equal(qmp_open_fd(sv[0], 2000, &q, &err), 0);
    assert_int_equal(qmp_execute(q, "quit", NULL, NULL, 2000, &err), 0);
    qmp_close(q);
    assert_int_equal(peer_status(pid), 0);
}

/* getfd: the descriptor arrives with the command (SCM_RIGHTS on its first
 * byte), and QEMU's error is reported. */
static void test_send_fd(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        char line[4096];
        peer_write(sv[1], GREETING);
        if (peer_readline(sv[1], line, sizeof(line)) < 0 || !strstr(line, "qmp_capabilities"))
            _exit(1);
        peer_write(sv[1], "{\"return\": {}}\n");
        /* The first byte with its descriptor, then the rest of the line. */
        char c;
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = &c, .iov_len = 1};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        if (recvmsg(sv[1], &msg, 0) != 1 || c != '{')
            _exit(2);
        struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
        if (h == NULL || h->cmsg_type != SCM_RIGHTS)
            _exit(3);
        int got;
        memcpy(&got, CMSG_DATA(h), sizeof(int));
        if (peer_readline(sv[1], line, sizeof(line)) < 0 || !strstr(line, "\"getfd\"") ||
            !strstr(line, "\"fdname\":\"snapshot\""))
            _exit(4);
        if (write(got, "x", 1) != 1) /* it is the pipe's write end */
            _exit(5);
        peer_write(sv[1], "{\"return\": {}}\n");
        if (peer_readline(sv[1], line, sizeof(line)) < 0)
            _exit(6);
        peer_write(sv[1], "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no more\"}}\n");
        _exit(0);
    }
    close(sv[1]);
    struct qmp *q = NULL;
    struct error err;
    assert_int_equal(qmp_open_fd(sv[0], 2000, &q, &err), 0);
    assert_int_equal(qmp_send_fd(q, "snapshot", pipefd[1], 2000, &err), 0);
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    assert_int_equal(c, 'x');
    assert_int_equal(qmp_send_fd(q, "snapshot", pipefd[1], 2000, &err), -1);
    assert_non_null(strstr(err.message, "no more"));
    qmp_close(q);
    close(pipefd[0]);
    close(pipefd[1]);
    assert_int_equal(peer_status(pid), 0);
}

static void test_result_and_error_reply(void **state)
{
    int sv[2];
    const char *script[] = {">" GREETING,
                            "<qmp_capabilities",
                            ">{\"return\": {}}\n",
                            "<query-status",
                            ">{\"return\": {\"status\": \"running\", \"running\": true}}\n",
                            "<no-such-command",
                            ">{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command no-such-command has not been found\"}}\n",
                            NULL};
    pid_t pid = spawn_peer(sv, script);
    struct qmp *q = NULL;
    struct error err;
    assert_int_equal(qmp_open_fd(sv[0], 2000, &q, &err), 0);
    json_t *ret = NULL;
    assert_int_equal(qmp_execute(q, "query-status", NULL, &ret, 2000, &err), 0);
    assert_string_equal(json_string_value(json_object_get(ret, "status")), "running");
    json_decref(ret);
    assert_int_equal(qmp_execute(q, "no-such-command", NULL, NULL, 2000, &err), -1);
    assert_non_null(strstr(err.message, "CommandNotFound"));
    qmp_close(q);
    assert_int_equal(peer_status(pid), 0);
}

/* A peer whose greeting is not QMP's: the open fails, saying why. */
static void test_bad_greetings(void **state)
{
    static const struct {
        const char *greeting, *error;
    } cases[] = {
        {">{\"hello\": 1}\n", "QMP"},
        {">{not json at all\n", "bad JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int sv[2];
        const char *script[] = {cases[i].greeting, NULL};
        pid_t pid = spawn_peer(sv, script);
        struct qmp *q = NULL;
        struct error err;
        if (qmp_open_fd(sv[0], 2000, &q, &err) != -1 || strstr(err.message, cases[i].error) == NULL)
            fail_msg("greeting %s: accepted, or not refused for \"%s\"", cases[i].greeting, cases[i].error);
        peer_status(pid);
    }
}

static void test_peer_closes(void **state)
{
    int sv[2];
    const char *script[] = {">" GREETING, "<qmp_capabilities", NULL};
    pid_t pid = spawn_peer(sv, script);
    struct qmp *q = NULL;
    struct error err;
    assert_int_equal(qmp_open_fd(sv[0], 2000, &q, &err), -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
    peer_status(pid);
}

static void test_timeout(void **state)
{
    int sv[2];
    const char *script[] = {"S", NULL}; /* says nothing */
    pid_t pid = spawn_peer(sv, script);
    struct qmp *q = NULL;
    struct error err;
    assert_int_equal(qmp_open_fd(sv[0], 100, &q, &err), -1);
    assert_int_equal(err.kind, ERR_DEADLINE_EXCEEDED);
    kill(pid, SIGKILL);
    peer_status(pid);
}

static void test_line_too_long(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        static char chunk[65536];
        memset(chunk, 'a', sizeof(chunk));
        for (size_t sent = 0; sent < QMP_MAX_LINE + sizeof(chunk); sent += sizeof(chunk))
            if (write(sv[1], chunk, sizeof(chunk)) < 0)
                break;
        _exit(0);
    }
    close(sv[1]);
    struct qmp *q = NULL;
    struct error err;
    assert_int_equal(qmp_open_fd(sv[0], 5000, &q, &err), -1);
    assert_non_null(strstr(err.message, "longer than"));
    kill(pid, SIGKILL);
    peer_status(pid);
}

/* ---- qmp_call_start: one command on the loop */

struct call_result {
    bool done;
    struct error err;
    bool failed;
};

static void on_call_done(void *ctx, const struct error *err)
{
    struct call_result *r = ctx;
    r->done = true;
    r->failed = err != NULL;
    if (err != NULL)
        r->err = *err;
}

/* A listening socket at <test_dir>/qmp.sock. */
static int listen_qmp(char *path, size_t size)
{
    snprintf(path, size, "%s/qmp.sock", test_dir);
    unlink(path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path) < sizeof(addr.sun_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

/* A call in flight against a listening socket, its peer end accepted. */
struct call_fx {
    struct event_base *base;
    struct qmp_call *call;
    struct call_result r;
    int peer;
};

static void call_open(struct call_fx *fx, const char *command, unsigned timeout_ms)
{
    char path[256];
    int lfd = listen_qmp(path, sizeof(path));
    memset(fx, 0, sizeof(*fx));
    fx->base = event_base_new();
    struct error err;
    assert_int_equal(qmp_call_start(fx->base, path, command, timeout_ms, on_call_done, &fx->r, &fx->call, &err), 0);
    fx->peer = accept(lfd, NULL, NULL);
    assert_true(fx->peer >= 0);
    close(lfd);
}

/* Runs the loop until the call is done, then frees it. */
static void call_finish(struct call_fx *fx)
{
    while (!fx->r.done)
        assert_int_equal(event_base_loop(fx->base, EVLOOP_ONCE), 0);
    qmp_call_free(fx->call);
    event_base_free(fx->base);
}

/* Starts command against a peer that follows script; the peer is started
 * only after the command was sent (it reads what is already there), and
 * the loop runs until done. Returns the peer's exit status. */
static int run_call(const char *command, unsigned timeout_ms, const char *const *script, struct call_result *r)
{
    struct call_fx fx;
    call_open(&fx, command, timeout_ms);
    pid_t pid = spawn_script(fx.peer, script);
    call_finish(&fx);
    *r = fx.r;
    kill(pid, SIGKILL);
    return peer_status(pid);
}

static void test_call_quit(void **state)
{
    const char *script[] = {">" GREETING,
                            "<\"qmp_capabilities\"",
                            ">{\"return\": {}}\n",
                            "<\"quit\"",
                            ">{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}}\n",
                            ">{\"return\": {}}\n",
                            "S",
                            NULL};
    struct call_result r;
    run_call("quit", 5000, script, &r);
    assert_false(r.failed);
}

/* Both lines go out before qmp_call_start returns: a peer reads them
 * while the loop has not run yet. */
static void test_call_sends_at_once(void **state)
{
    struct call_fx fx;
    call_open(&fx, "quit", 5000);
    const char *script[] = {"<\"qmp_capabilities\"", "<\"quit\"", NULL};
    assert_int_equal(peer_status(spawn_script(fx.peer, script)), 0);
    assert_false(fx.r.done);
    qmp_call_free(fx.call); /* cancelled: done is not called */
    event_base_loop(fx.base, EVLOOP_NONBLOCK);
    assert_false(fx.r.done);
    event_base_free(fx.base);
}

/* QEMU may quit before its answer to quit goes out: the end of the stream
 * after qmp_capabilities was answered is a done quit, and for no other
 * command; before that answer it is an error. */
static void test_call_peer_closes(void **state)
{
    const char *after_caps[] = {">" GREETING, "<qmp_capabilities", ">{\"return\": {}}\n", "<quit", NULL};
    struct call_result r;
    run_call("quit", 5000, after_caps, &r);
    assert_false(r.failed);
    const char *other[] = {">" GREETING, "<qmp_capabilities", ">{\"return\": {}}\n", "<stop", NULL};
    run_call("stop", 5000, other, &r);
    assert_true(r.failed);
    assert_int_equal(r.err.kind, ERR_UNAVAILABLE);
    assert_non_null(strstr(r.err.message, "closed the connection"));
    const char *before[] = {">" GREETING, "<qmp_capabilities", NULL};
    run_call("quit", 5000, before, &r);
    assert_true(r.failed);
    assert_int_equal(r.err.kind, ERR_UNAVAILABLE);
}

static void test_call_error_reply(void **state)
{
    const char *refuses_quit[] = {">" GREETING, "<qmp_capabilities", ">{\"return\": {}}\n", "<quit",
                                  ">{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}\n", "S", NULL};
    struct call_result r;
    run_call("quit", 5000, refuses_quit, &r);
    assert_true(r.failed);
    assert_non_null(strstr(r.err.message, "QMP quit failed: GenericError: no"));
    const char *refuses_caps[] = {">" GREETING, "<qmp_capabilities",
                                  ">{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"x\"}}\n", "S", NULL};
    run_call("quit", 5000, refuses_caps, &r);
    assert_true(r.failed);
    assert_non_null(strstr(r.err.message, "QMP qmp_capabilities failed"));
    const char *garbage[] = {">" GREETING, ">[1, 2]\n", "S", NULL};
    run_call("quit", 5000, garbage, &r);
    assert_true(r.failed);
    assert_non_null(strstr(r.err.message, "non-object"));
}

static void test_call_timeout(void **state)
{
    const char *silent[] = {"S", NULL}; /* reads nothing, says nothing */
    struct call_result r;
    run_call("quit", 100, silent, &r);
    assert_true(r.failed);
    assert_int_equal(r.err.kind, ERR_DEADLINE_EXCEEDED);
}

static void test_call_line_too_long(void **state)
{
    struct call_fx fx;
    call_open(&fx, "quit", 60000);
    pid_t pid = fork();
    if (pid == 0) {
        static char chunk[65536];
        memset(chunk, 'a', sizeof(chunk));
        for (size_t sent = 0; sent < QMP_MAX_LINE + sizeof(chunk); sent += sizeof(chunk))
            if (write(fx.peer, chunk, sizeof(chunk)) < 0)
                break;
        _exit(0);
    }
    close(fx.peer);
    call_finish(&fx);
    assert_true(fx.r.failed);
    assert_non_null(strstr(fx.r.err.message, "longer than"));
    kill(pid, SIGKILL);
    peer_status(pid);
}

static void test_call_nothing_listens(void **state)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/nobody.sock", test_dir);
    struct event_base *base = event_base_new();
    struct qmp_call *call = NULL;
    struct call_result r = {0};
    struct error err;
    assert_int_equal(qmp_call_start(base, path, "quit", 1000, on_call_done, &r, &call, &err), -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
    assert_null(call);
    event_base_free(base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_quit), cmocka_unit_test(test_result_and_error_reply),
        cmocka_unit_test(test_bad_greetings),
        cmocka_unit_test(test_peer_closes),        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_send_fd),
        cmocka_unit_test(test_call_quit),
        cmocka_unit_test(test_call_sends_at_once),
        cmocka_unit_test(test_call_peer_closes),
        cmocka_unit_test(test_call_error_reply),
        cmocka_unit_test(test_call_timeout),
        cmocka_unit_test(test_call_line_too_long),
        cmocka_unit_test(test_call_nothing_listens),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
