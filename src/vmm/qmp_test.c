/* The QMP client against a scripted peer on a socketpair: the peer is a child
 * process that writes canned lines and checks what it reads. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

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

/* A socketpair sv whose sv[1] end a child serves with script: a list of
 * steps; "<" expects a line containing the text, ">" writes it. */
static pid_t spawn_peer(int sv[2], const char *const *script)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int fd = sv[1];
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

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_quit), cmocka_unit_test(test_result_and_error_reply),
        cmocka_unit_test(test_bad_greetings),
        cmocka_unit_test(test_peer_closes),        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_send_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
