/* Tests of the init's protocol server and exec path, on the host: the server
 * runs in a forked child serving one connection on a socketpair (what
 * --serve-stdio does), and real /bin/sh workloads run as uid 1000. Needs
 * root (to switch to uid 1000); skipped otherwise.
 *
 * Waits are bounded (a hung server fails the test instead of hanging it) but
 * nothing asserts how long anything took. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest/guest.h"
#include "guest/test_conn.h"
#include "wire/frame.h"

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name
#define WAIT_MS GUEST_TEST_WAIT_MS

struct client {
    int fd;
    pid_t server;
    struct wire_decoder dec;
};

/* The VM's secret as the server knows it. */
static const uint8_t test_key[GUEST_KEY_LEN] = {
    0x4e, 0x01, 0x9a, 0x33, 0x00, 0xfe, 0x12, 0x77, 0x81, 0x5c, 0x2d, 0xe0, 0x6b, 0x90, 0x44, 0x3f,
    0xa7, 0x18, 0xc2, 0x5d, 0x09, 0xbb, 0x6e, 0xf1, 0x30, 0x8a, 0x47, 0xd6, 0x25, 0x93, 0x7c, 0x01,
};

static void send_frame(struct client *c, const Guest__V1__Frame *f);
static Guest__V1__Frame *recv_frame(struct client *c);
static void hello(struct client *c);

static int setup(void **state)
{
    struct guest_server_options opts = {.exit_when_idle = true, .key = test_key, .hello_timeout_ms = 500};
    int fd;
    pid_t pid = guest_test_server_start(&opts, &fd);
    if (pid < 0)
        return -1;
    /* Allocated after fork, so the server's LeakSanitizer does not see it. */
    struct client *c = calloc(1, sizeof(*c));
    c->fd = fd;
    c->server = pid;
    wire_decoder_init(&c->dec, 0);
    *state = c;
    if (!getenv("ENCLAVE_TEST_NO_HELLO"))
        hello(c);
    return 0;
}

/* setup with the variable name set to 1 while the server starts. */
static int setup_with_env(void **state, const char *name)
{
    setenv(name, "1", 1);
    int r = setup(state);
    unsetenv(name);
    return r;
}

static int wait_server(pid_t pid)
{
    return guest_test_server_wait(pid);
}

static int teardown(void **state)
{
    struct client *c = *state;
    close(c->fd);
    /* The server exits cleanly once its connection is gone. */
    int r = wait_server(c->server);
    wire_decoder_release(&c->dec);
    free(c);
    return r;
}

static void send_bytes(struct client *c, const void *data, size_t len)
{
    guest_test_send_bytes(c->fd, data, len);
}

static void send_frame(struct client *c, const Guest__V1__Frame *f)
{
    guest_test_send_frame(c->fd, f);
}

/* The next frame from the server, or NULL on EOF. */
static Guest__V1__Frame *recv_frame(struct client *c)
{
    return guest_test_recv_frame(c->fd, &c->dec);
}

static Guest__V1__Frame *expect_body(struct client *c, uint64_t id, Guest__V1__Frame__BodyCase body)
{
    Guest__V1__Frame *f = recv_frame(c);
    assert_non_null(f);
    if (f->body_case == GUEST__V1__FRAME__BODY_ERROR && body != GUEST__V1__FRAME__BODY_ERROR)
        fail_msg("error reply: code %d: %s", f->error->code, f->error->message);
    assert_int_equal(f->body_case, body);
    assert_int_equal(f->id, id);
    return f;
}

struct exec_opts {
    const char *stdin_data;
    size_t stdin_len;
    uint32_t timeout_ms;
    uint64_t max_output;
    bool stream;
    uint32_t stream_window;
    bool stdin_open;
    const char *cwd;
    Guest__V1__Limits *limits;
};

static void send_exec(struct client *c, uint64_t id, char **argv, size_t argc, const struct exec_opts *o)
{
    Guest__V1__ExecRequest e = GUEST__V1__EXEC_REQUEST__INIT;
    e.argv = argv;
    e.n_argv = argc;
    e.cwd = (char *)(o && o->cwd ? o->cwd : "/tmp");
    if (o) {
        e.stdin.data = (uint8_t *)o->stdin_data;
        e.stdin.len = o->stdin_len;
        e.timeout_ms = o->timeout_ms;
        e.max_output_bytes = o->max_output;
        e.stream_output = o->stream;
        e.stream_window = o->stream_window;
        e.stdin_open = o->stdin_open;
        e.limits = o->limits;
    }
    send_frame(c, TEST_FRAME(id, EXEC_REQUEST, exec_request, &e));
}

static void send_sh(struct client *c, uint64_t id, const char *script, const struct exec_opts *o)
{
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)script};
    send_exec(c, id, argv, 3, o);
}

/* Runs one shell script and returns its ExecResponse frame. */
static Guest__V1__Frame *run_sh(struct client *c, uint64_t id, const char *script, const struct exec_opts *o)
{
    send_sh(c, id, script, o);
    return expect_body(c, id, GUEST__V1__FRAME__BODY_EXEC_RESPONSE);
}

static void assert_stdout(const Guest__V1__ExecResponse *r, const char *want)
{
    size_t n = strlen(want);
    if (r->stdout.len != n || memcmp(r->stdout.data, want, n) != 0)
        fail_msg("stdout is '%.*s' (stderr '%.*s'), want '%s'", (int)r->stdout.len, (char *)r->stdout.data,
                 (int)r->stderr.len, (char *)r->stderr.data, want);
}

static void send_health(struct client *c, uint64_t id)
{
    Guest__V1__HealthRequest h = GUEST__V1__HEALTH_REQUEST__INIT;
    send_frame(c, TEST_FRAME(id, HEALTH_REQUEST, health_request, &h));
}

static void expect_health(struct client *c, uint64_t id)
{
    send_health(c, id);
    Guest__V1__Frame *f = expect_body(c, id, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE);
    assert_int_equal(f->health_response->protocol_version, 1);
    guest__v1__frame__free_unpacked(f, NULL);
}

static void send_hello_key(struct client *c, uint64_t id, const uint8_t *key, size_t len)
{
    Guest__V1__HelloRequest h = GUEST__V1__HELLO_REQUEST__INIT;
    h.key.data = (uint8_t *)key;
    h.key.len = len;
    send_frame(c, TEST_FRAME(id, HELLO_REQUEST, hello_request, &h));
}

/* What the host does first on every connection. */
static void hello(struct client *c)
{
    send_hello_key(c, 7777, test_key, sizeof(test_key));
    Guest__V1__Frame *f = expect_body(c, 7777, GUEST__V1__FRAME__BODY_HELLO_RESPONSE);
    assert_int_equal(f->hello_response->protocol_version, GUEST_PROTOCOL_VERSION);
    guest__v1__frame__free_unpacked(f, NULL);
}

/* The server closed the connection and sent nothing at all before. */
static void expect_closed_silently(struct client *c)
{
    Guest__V1__Frame *f = recv_frame(c);
    if (f) {
        int body = f->body_case;
        guest__v1__frame__free_unpacked(f, NULL);
        fail_msg("an unauthenticated peer got a frame (body %d)", body);
    }
}

/* Cancel request id for target; whether the server found it. */
static bool cancel(struct client *c, uint64_t id, uint64_t target)
{
    Guest__V1__CancelRequest cr = GUEST__V1__CANCEL_REQUEST__INIT;
    cr.target_id = target;
    send_frame(c, TEST_FRAME(id, CANCEL_REQUEST, cancel_request, &cr));
    Guest__V1__Frame *f = expect_body(c, id, GUEST__V1__FRAME__BODY_CANCEL_RESPONSE);
    bool found = f->cancel_response->found;
    guest__v1__frame__free_unpacked(f, NULL);
    return found;
}

/* ---------------------------------------------------------------- tests */

static void test_health(void **state)
{
    struct client *c = *state;
    send_health(c, 1);
    Guest__V1__Frame *f = expect_body(c, 1, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE);
    Guest__V1__HealthResponse *h = f->health_response;
    assert_int_equal(h->protocol_version, 1);
    assert_string_equal(h->init_version, GUEST_INIT_VERSION);
    assert_true(strlen(h->kernel_release) > 0);
    assert_int_equal(h->n_transports, 1);
    assert_string_equal(h->transports[0], "stdio");
    assert_int_equal(h->running_execs, 0);
    guest__v1__frame__free_unpacked(f, NULL);
}

static void test_runs_as_uid_1000(void **state)
{
    struct client *c = *state;
    Guest__V1__Frame *f = run_sh(c, 2, "id -u; id -g; id -G; echo $HOME; echo $PATH; pwd", NULL);
    Guest__V1__ExecResponse *r = f->exec_response;
    assert_int_equal(r->exit_code, 0);
    assert_int_equal(r->signal, 0);
    assert_stdout(r, "1000\n1000\n1000\n/workspace\n" GUEST_DEFAULT_PATH "\n/tmp\n");
    assert_false(r->timed_out);
    assert_true(r->pid > 0);
    guest__v1__frame__free_unpacked(f, NULL);
}

/* The workload is in its own session and process group, with no_new_privs
 * and the filter installed, and the rlimits asked for. */
static void test_sandbox_state(void **state)
{
    struct client *c = *state;
    Guest__V1__Limits l = GUEST__V1__LIMITS__INIT;
    l.max_open_files = 64;
    l.max_processes = 77;
    l.max_file_size = 1024 * 1024;
    struct exec_opts o = {.limits = &l};
    Guest__V1__Frame *f = run_sh(c, 3,
                                 "grep -E '^(NoNewPrivs|Seccomp|CapEff|CapPrm|CapBnd|CapAmb):' /proc/self/status | tr -d '\\t ';"
                                 "awk '/^Max (file size|core|processes|open files|address)/{print $(NF-2)}' /proc/self/limits;"
                                 "ps -o pid=,pgid=,sid= -p $$ | awk '{print ($1==$2 && $2==$3)}'",
                                 &o);
    /* /proc/self/limits order: file size, core, processes, open files, address space */
    assert_stdout(f->exec_response, "CapPrm:0000000000000000\nCapEff:0000000000000000\n"
                                    "CapBnd:0000000000000000\nCapAmb:0000000000000000\n"
                                    "NoNewPrivs:1\nSeccomp:2\n1048576\n0\n77\n64\n4294967296\n1\n");
    guest__v1__frame__free_unpacked(f, NULL);
}

static void test_exit_codes_and_signals(void **state)
{
    struct client *c = *state;
    Guest__V1__Frame *f = run_sh(c, 4, "exit 7", NULL);
    assert_int_equal(f->exec_response->exit_code, 7);
    assert_int_equal(f->exec_response->signal, 0);
    guest__v1__frame__free_unpacked(f, NULL);

    f = run_sh(c, 5, "kill -TERM $$", NULL);
    assert_int_equal(f->exec_response->signal, SIGTERM);
    assert_false(f->exec_response->timed_out);
    guest__v1__frame__free_unpacked(f, NULL);

    f = run_sh(c, 6, "echo out; echo err >&2; exit 0", NULL);
    assert_stdout(f->exec_response, "out\n");
    assert_int_equal(f->exec_response->stderr.len, 4);
    assert_memory_equal(f->exec_response->stderr.data, "err\n", 4);
    guest__v1__frame__free_unpacked(f, NULL);
}

static void test_stdin(void **state)
{
    struct client *c = *state;
    struct exec_opts o = {.stdin_data = "hello world", .stdin_len = 11};
    Guest__V1__Frame *f = run_sh(c, 7, "cat", &o);
    assert_stdout(f->exec_response, "hello world");
    guest__v1__frame__free_unpacked(f, NULL);

    /* More than a pipe holds: written as the workload reads. */
    size_t big = 1u << 20;
    char *data = malloc(big);
    memset(data, 'z', big);
    o = (struct exec_opts){.stdin_data = data, .stdin_len = big};
    f = run_sh(c, 8, "wc -c", &o);
    assert_stdout(f->exec_response, "1048576\n");
    guest__v1__frame__free_unpacked(f, NULL);

    /* A workload that never reads its stdin still finishes. */
    f = run_sh(c, 9, "exit 3", &o);
    assert_int_equal(f->exec_response->exit_code, 3);
    guest__v1__frame__free_unpacked(f, NULL);
    free(data);
}

static void test_output_cap(void **state)
{
    struct client *c = *state;
    struct exec_opts o = {.max_output = 1000};
    /* 1 MB on stdout against a 1000-byte cap: the rest is read and dropped,
     * so the workload never blocks and exits 0. */
    Guest__V1__Frame *f = run_sh(c, 10, "head -c 1000000 /dev/zero; echo done >&2", &o);
    Guest__V1__ExecResponse *r = f->exec_response;
    assert_int_equal(r->exit_code, 0);
    assert_int_equal(r->stdout.len, 1000);
    assert_true(r->stdout_truncated);
    assert_int_equal(r->stderr.len, 5);
    assert_false(r->stderr_truncated);
    guest__v1__frame__free_unpacked(f, NULL);

    /* A larger cap, filled across many reads: every byte kept is the
     * workload's, in order. */
    o.max_output = 250000;
    f = run_sh(c, 30, "head -c 300000 /dev/zero | tr '\\0' a; printf b", &o);
    r = f->exec_response;
    assert_int_equal(r->stdout.len, 250000);
    assert_true(r->stdout_truncated);
    for (size_t i = 0; i < r->stdout.len; i++)
        if (r->stdout.data[i] != 'a')
            fail_msg("byte %zu is %#x", i, r->stdout.data[i]);
    guest__v1__frame__free_unpacked(f, NULL);
    o.max_output = 1000;

    /* Exactly the cap is not truncated. */
    f = run_sh(c, 11, "head -c 1000 /dev/zero", &o);
    assert_int_equal(f->exec_response->stdout.len, 1000);
    assert_false(f->exec_response->stdout_truncated);
    guest__v1__frame__free_unpacked(f, NULL);
}

static bool process_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    for (int i = 0; i < WAIT_MS / 10; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return true;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        char *p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'Z')
            return true; /* dead, waiting for its reaper */
        usleep(10000);
    }
    return false;
}

/* The server reaps what it is given, orphans included: no child of it is
 * left once the work is done. */
static bool server_has_no_children(pid_t server)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)server, (int)server);
    for (int i = 0; i < WAIT_MS / 10; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n == 0)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_timeout_kills_group(void **state)
{
    struct client *c = *state;
    struct exec_opts o = {.timeout_ms = 300};
    /* A child and a grandchild, both sleeping forever. */
    Guest__V1__Frame *f = run_sh(c, 12, "sh -c 'sleep 1000 & echo $!; sleep 1000' & wait", &o);
    Guest__V1__ExecResponse *r = f->exec_response;
    assert_true(r->timed_out);
    assert_int_equal(r->signal, SIGKILL);
    assert_true(r->stdout.len > 0);
    char pidtext[32] = {0};
    memcpy(pidtext, r->stdout.data, r->stdout.len < sizeof(pidtext) - 1 ? r->stdout.len : sizeof(pidtext) - 1);
    pid_t grandchild = (pid_t)atoi(pidtext);
    assert_true(grandchild > 1);
    guest__v1__frame__free_unpacked(f, NULL);
    assert_true(process_gone(grandchild));
    assert_true(server_has_no_children(c->server));
    expect_health(c, 13);
}

/* When the main process exits, what it left running in its group is killed
 * and reaped. */
static void test_leftovers_killed_and_reaped(void **state)
{
    struct client *c = *state;
    Guest__V1__Frame *f = run_sh(c, 14, "sleep 1000 >/dev/null 2>&1 & echo $!", NULL);
    assert_int_equal(f->exec_response->exit_code, 0);
    pid_t left = (pid_t)atoi((char *)f->exec_response->stdout.data);
    guest__v1__frame__free_unpacked(f, NULL);
    assert_true(left > 1);
    assert_true(process_gone(left));
    assert_true(server_has_no_children(c->server));
}

static void test_exec_failures(void **state)
{
    struct client *c = *state;
    char *missing[] = {(char *)"/nonexistent/binary"};
    send_exec(c, 15, missing, 1, NULL);
    Guest__V1__Frame *f = expect_body(c, 15, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(EXEC_FAILED));
    assert_non_null(strstr(f->error->message, "exec"));
    guest__v1__frame__free_unpacked(f, NULL);

    struct exec_opts o = {.cwd = "/nonexistent-dir"};
    send_sh(c, 16, "true", &o);
    f = expect_body(c, 16, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(EXEC_FAILED));
    assert_non_null(strstr(f->error->message, "chdir"));
    guest__v1__frame__free_unpacked(f, NULL);

    send_exec(c, 17, missing, 0, NULL);
    f = expect_body(c, 17, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(INVALID));
    guest__v1__frame__free_unpacked(f, NULL);

    o = (struct exec_opts){.max_output = GUEST_MAX_OUTPUT + 1};
    send_sh(c, 18, "true", &o);
    f = expect_body(c, 18, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(TOO_LARGE));
    guest__v1__frame__free_unpacked(f, NULL);
    expect_health(c, 19);
}

/* A child stopped between fork and exec (any uid 1000 workload can send it
 * SIGSTOP once it has switched user) must not hang the init: the exec fails
 * after a bounded wait, the child is killed and reaped, and the server goes
 * on answering. */
static int setup_spawn_stop(void **state)
{
    return setup_with_env(state, "ENCLAVE_TEST_SPAWN_STOP");
}

static void test_stopped_child_does_not_hang_init(void **state)
{
    struct client *c = *state;
    send_sh(c, 40, "echo never", NULL);
    Guest__V1__Frame *f = expect_body(c, 40, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(EXEC_FAILED));
    assert_non_null(strstr(f->error->message, "did not finish"));
    guest__v1__frame__free_unpacked(f, NULL);
    assert_true(server_has_no_children(c->server));
    expect_health(c, 41);
}

static void test_garbage_frames(void **state)
{
    struct client *c = *state;
    /* A body that does not decode: an error with id 0, and the stream goes on. */
    uint8_t garbage[] = {0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    send_bytes(c, garbage, sizeof(garbage));
    Guest__V1__Frame *f = expect_body(c, 0, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(BAD_FRAME));
    guest__v1__frame__free_unpacked(f, NULL);
    expect_health(c, 20);

    /* An empty frame and a reply sent as a request: unknown, with their id. */
    uint8_t empty[] = {0, 0, 0, 0};
    send_bytes(c, empty, sizeof(empty));
    f = expect_body(c, 0, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(UNKNOWN_REQUEST));
    guest__v1__frame__free_unpacked(f, NULL);

    Guest__V1__ShutdownResponse sr = GUEST__V1__SHUTDOWN_RESPONSE__INIT;
    send_frame(c, TEST_FRAME(21, SHUTDOWN_RESPONSE, shutdown_response, &sr));
    f = expect_body(c, 21, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(UNKNOWN_REQUEST));
    guest__v1__frame__free_unpacked(f, NULL);

    /* A request with the reserved id 0 is refused. */
    send_health(c, 0);
    f = expect_body(c, 0, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(INVALID));
    guest__v1__frame__free_unpacked(f, NULL);

    /* Byte by byte, a request still arrives whole. */
    Guest__V1__HealthRequest hr = GUEST__V1__HEALTH_REQUEST__INIT;
    uint8_t *buf;
    size_t len;
    assert_int_equal(wire_encode(TEST_FRAME(22, HEALTH_REQUEST, health_request, &hr), &buf, &len), 0);
    for (size_t i = 0; i < len; i++)
        send_bytes(c, buf + i, 1);
    free(buf);
    f = expect_body(c, 22, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE);
    guest__v1__frame__free_unpacked(f, NULL);
}

/* A length over the maximum cannot be skipped: the init says so (id 0),
 * drops what follows until a sync marker, and carries on after it. It does
 * not crash or allocate. */
static void test_oversized_length(void **state)
{
    struct client *c = *state;
    uint8_t huge[] = {0xff, 0xff, 0xff, 0xf0};
    send_bytes(c, huge, sizeof(huge));
    Guest__V1__Frame *f = expect_body(c, 0, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(TOO_LARGE));
    guest__v1__frame__free_unpacked(f, NULL);
    /* Dropped: nothing answers this one. */
    send_health(c, 23);
    static const uint8_t marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;
    /* The marker split in two writes still counts. */
    send_bytes(c, marker, 5);
    send_bytes(c, marker + 5, WIRE_SYNC_LEN - 5);
    /* A sync marker starts a new host connection: the key again. */
    hello(c);
    send_health(c, 24);
    f = expect_body(c, 24, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE);
    guest__v1__frame__free_unpacked(f, NULL);
    shutdown(c->fd, SHUT_WR);
    assert_null(recv_frame(c));
}

static void test_concurrent_execs_and_cancel(void **state)
{
    struct client *c = *state;
    send_sh(c, 100, "sleep 1000", NULL);
    /* Later ones finish first; each reply carries its own id. */
    send_sh(c, 101, "sleep 0.3; echo one", NULL);
    send_sh(c, 102, "sleep 0.1; echo two", NULL);
    send_sh(c, 103, "echo three", NULL);
    /* The same id twice is refused while the first runs. */
    send_sh(c, 100, "true", NULL);
    bool seen[4] = {false};
    int refused = 0;
    for (int i = 0; i < 4; i++) {
        Guest__V1__Frame *f = recv_frame(c);
        assert_non_null(f);
        if (f->body_case == GUEST__V1__FRAME__BODY_ERROR) {
            assert_int_equal(f->id, 100);
            assert_int_equal(f->error->code, CODE(INVALID));
            refused++;
        } else {
            assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_EXEC_RESPONSE);
            assert_true(f->id >= 101 && f->id <= 103);
            static const char *const want[] = {"one\n", "two\n", "three\n"};
            assert_stdout(f->exec_response, want[f->id - 101]);
            seen[f->id - 100] = true;
        }
        guest__v1__frame__free_unpacked(f, NULL);
    }
    assert_int_equal(refused, 1);
    assert_true(seen[1] && seen[2] && seen[3]);

    send_health(c, 104);
    Guest__V1__Frame *f = expect_body(c, 104, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE);
    assert_int_equal(f->health_response->running_execs, 1);
    guest__v1__frame__free_unpacked(f, NULL);

    assert_true(cancel(c, 105, 100));
    f = expect_body(c, 100, GUEST__V1__FRAME__BODY_EXEC_RESPONSE);
    assert_true(f->exec_response->cancelled);
    assert_int_equal(f->exec_response->signal, SIGKILL);
    assert_false(f->exec_response->timed_out);
    guest__v1__frame__free_unpacked(f, NULL);

    assert_false(cancel(c, 106, 999));
}

static void test_busy(void **state)
{
    struct client *c = *state;
    for (uint64_t i = 0; i < GUEST_MAX_EXECS; i++)
        send_sh(c, 200 + i, "sleep 1000", NULL);
    send_sh(c, 300, "true", NULL);
    Guest__V1__Frame *f = expect_body(c, 300, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(BUSY));
    guest__v1__frame__free_unpacked(f, NULL);
    /* Teardown closes the connection: the server kills them all and exits. */
}

static void test_streaming(void **state)
{
    struct client *c = *state;
    struct exec_opts o = {.stream = true, .max_output = 8};
    send_sh(c, 400, "printf abc; sleep 0.1; printf def; printf XY >&2; printf 0123456789", &o);
    size_t out_len = 0, err_len = 0;
    char out[64] = {0}, err[64] = {0};
    for (;;) {
        Guest__V1__Frame *f = recv_frame(c);
        assert_non_null(f);
        assert_int_equal(f->id, 400);
        if (f->body_case == GUEST__V1__FRAME__BODY_EXEC_OUTPUT) {
            Guest__V1__ExecOutput *o2 = f->exec_output;
            bool is_out = o2->stream == GUEST__V1__EXEC_OUTPUT__STREAM__STREAM_STDOUT;
            char *dst = is_out ? out : err;
            size_t *len = is_out ? &out_len : &err_len;
            assert_true(*len + o2->data.len < sizeof(out));
            memcpy(dst + *len, o2->data.data, o2->data.len);
            *len += o2->data.len;
            guest__v1__frame__free_unpacked(f, NULL);
            continue;
        }
        assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_EXEC_RESPONSE);
        assert_int_equal(f->exec_response->stdout.len, 0); /* already streamed */
        assert_true(f->exec_response->stdout_truncated);
        assert_false(f->exec_response->stderr_truncated);
        guest__v1__frame__free_unpacked(f, NULL);
        break;
    }
    assert_string_equal(out, "abcdef01"); /* capped at 8 bytes */
    assert_string_equal(err, "XY");
}

static void send_credit(struct client *c, uint64_t id, uint64_t bytes)
{
    Guest__V1__ExecCredit cr = GUEST__V1__EXEC_CREDIT__INIT;
    cr.bytes = bytes;
    send_frame(c, TEST_FRAME(id, EXEC_CREDIT, exec_credit, &cr));
}

/* Adds one output frame of exec `id` to *total; true when it was the final
 * response instead. */
static bool take_output(Guest__V1__Frame *f, uint64_t id, size_t *total)
{
    assert_non_null(f);
    assert_int_equal(f->id, id);
    bool done = f->body_case == GUEST__V1__FRAME__BODY_EXEC_RESPONSE;
    if (!done) {
        assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_EXEC_OUTPUT);
        *total += f->exec_output->data.len;
    } else {
        assert_int_equal(f->exec_response->exit_code, 0);
    }
    guest__v1__frame__free_unpacked(f, NULL);
    return done;
}

/* Flow control: with a window, the init stops reading the workload's pipes
 * once that much streamed output is not credited (the workload blocks and
 * cannot finish), and goes on when credit comes. */
static void test_stream_window(void **state)
{
    struct client *c = *state;
    const size_t window = 128u << 10;
    struct exec_opts o = {.stream = true, .stream_window = (uint32_t)window,
                          .max_output = 4u << 20, .timeout_ms = 60000};
    send_sh(c, 500, "head -c 1048576 /dev/zero", &o);
    size_t total = 0;
    while (total < window)
        assert_false(take_output(recv_frame(c), 500, &total));
    /* Out of credit: at most one more read (64 KiB) comes, and no end. */
    for (;;) {
        Guest__V1__Frame *f = NULL;
        if (wire_decoder_next(&c->dec, &f) == 1) {
            assert_false(take_output(f, 500, &total));
            continue;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 500) == 0)
            break;
        assert_false(take_output(recv_frame(c), 500, &total));
    }
    assert_true(total >= window && total < window + (64u << 10));
    /* Credit for another exec id is ignored; credit for this one resumes it:
     * the host credits what it has passed on, chunk by chunk. */
    send_credit(c, 999, 1u << 30);
    send_credit(c, 500, total);
    for (;;) {
        size_t before = total;
        if (take_output(recv_frame(c), 500, &total))
            break;
        send_credit(c, 500, total - before);
    }
    assert_int_equal(total, 1u << 20);
    send_health(c, 501);
    expect_health(c, 501);
}

static void send_stdin(struct client *c, uint64_t id, const char *data, bool close)
{
    Guest__V1__ExecStdin in = GUEST__V1__EXEC_STDIN__INIT;
    in.data.data = (uint8_t *)data;
    in.data.len = data ? strlen(data) : 0;
    in.close = close;
    send_frame(c, TEST_FRAME(id, EXEC_STDIN, exec_stdin, &in));
}

/* Interactive stdin: input sent after the start reaches the workload, each
 * write is reported, and close ends its input. */
static void test_interactive_stdin(void **state)
{
    struct client *c = *state;
    struct exec_opts o = {.stream = true, .stdin_open = true, .stdin_data = "first\n",
                          .stdin_len = 6, .timeout_ms = 30000};
    char *argv[] = {(char *)"/bin/cat"};
    send_exec(c, 600, argv, 1, &o);
    char out[64] = {0};
    size_t out_len = 0;
    uint64_t written = 0;
    bool sent_more = false;
    for (;;) {
        Guest__V1__Frame *f = recv_frame(c);
        assert_non_null(f);
        assert_int_equal(f->id, 600);
        if (f->body_case == GUEST__V1__FRAME__BODY_EXEC_RESPONSE) {
            assert_int_equal(f->exec_response->exit_code, 0);
            guest__v1__frame__free_unpacked(f, NULL);
            break;
        }
        assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_EXEC_OUTPUT);
        written += f->exec_output->stdin_written;
        assert_true(out_len + f->exec_output->data.len < sizeof(out));
        if (f->exec_output->data.len > 0)
            memcpy(out + out_len, f->exec_output->data.data, f->exec_output->data.len);
        out_len += f->exec_output->data.len;
        guest__v1__frame__free_unpacked(f, NULL);
        if (!sent_more && strcmp(out, "first\n") == 0) {
            /* The workload is still running, waiting for input. */
            sent_more = true;
            send_stdin(c, 600, "second\n", false);
            send_stdin(c, 600, NULL, true);
        }
    }
    assert_string_equal(out, "first\nsecond\n");
    assert_int_equal(written, 13);
    /* Without stream_output there is no interactive stdin. */
    struct exec_opts bad = {.stdin_open = true};
    send_sh(c, 601, "true", &bad);
    Guest__V1__Frame *f = expect_body(c, 601, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(INVALID));
    guest__v1__frame__free_unpacked(f, NULL);
    /* Stdin for an exec that is gone is ignored. */
    send_stdin(c, 600, "late", true);
    send_health(c, 602);
    expect_health(c, 602);
}

static void test_stream_window_checked(void **state)
{
    struct client *c = *state;
    struct exec_opts no_stream = {.stream_window = 4096};
    send_sh(c, 510, "true", &no_stream);
    Guest__V1__Frame *f = expect_body(c, 510, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(INVALID));
    guest__v1__frame__free_unpacked(f, NULL);
    struct exec_opts huge = {.stream = true, .stream_window = GUEST_MAX_STREAM_WINDOW + 1};
    send_sh(c, 511, "true", &huge);
    f = expect_body(c, 511, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(INVALID));
    guest__v1__frame__free_unpacked(f, NULL);
    /* A streamed exec may have a cap far above the unary one. */
    struct exec_opts big = {.stream = true, .max_output = 64u << 20};
    send_sh(c, 512, "printf hi", &big);
    size_t total = 0;
    while (!take_output(recv_frame(c), 512, &total))
        ;
    assert_int_equal(total, 2);
}

/* Calls the filter refuses really are refused, inside a real workload:
 * creating a user namespace works for uid 1000 on this host without the
 * filter (checked first), and fails under it. */
static void test_workload_cannot_unshare(void **state)
{
    struct client *c = *state;
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(1000) < 0 || setuid(1000) < 0)
            _exit(90);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl("/bin/sh", "sh", "-c", "unshare -U true", (char *)NULL);
        _exit(91);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        skip(); /* user namespaces are off here: nothing to compare against */
    Guest__V1__Frame *f = run_sh(c, 500, "unshare -U true 2>/dev/null; echo $?", NULL);
    assert_int_not_equal(atoi((char *)f->exec_response->stdout.data), 0);
    guest__v1__frame__free_unpacked(f, NULL);
}

static void test_shutdown_stops_server(void **state)
{
    struct client *c = *state;
    send_sh(c, 600, "sleep 1000", NULL);
    Guest__V1__ShutdownRequest sr = GUEST__V1__SHUTDOWN_REQUEST__INIT;
    sr.poweroff = true;
    send_frame(c, TEST_FRAME(601, SHUTDOWN_REQUEST, shutdown_request, &sr));
    Guest__V1__Frame *g = expect_body(c, 601, GUEST__V1__FRAME__BODY_SHUTDOWN_RESPONSE);
    guest__v1__frame__free_unpacked(g, NULL);
    /* Outside PID 1 "power off" ends the server, which closes the connection. */
    assert_null(recv_frame(c));
}

/* ---------------------------------------------------------------- Unix socket mode */

struct unix_server {
    char path[108];
    pid_t server;
};

static int setup_unix(void **state)
{
    char dir[] = "/tmp/enclave-init-test-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/s", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct guest_server_options opts = {.key = test_key, .hello_timeout_ms = 500};
        struct guest_server *s = guest_server_new(&opts);
        if (!s || guest_server_add_listener(s, fd, "unix") < 0)
            _exit(3);
        int r = guest_server_run(s);
        guest_server_free(s);
        exit(r < 0 ? 5 : 0);
    }
    close(fd);
    struct unix_server *u = calloc(1, sizeof(*u));
    memcpy(u->path, addr.sun_path, sizeof(u->path));
    u->server = pid;
    *state = u;
    return 0;
}

static struct client *client_connect_raw(struct unix_server *u)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, u->path, sizeof(addr.sun_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    struct client *c = calloc(1, sizeof(*c));
    c->fd = fd;
    c->server = u->server;
    wire_decoder_init(&c->dec, 0);
    return c;
}

static struct client *client_connect(struct unix_server *u)
{
    struct client *c = client_connect_raw(u);
    hello(c);
    return c;
}

static void client_free(struct client *c)
{
    close(c->fd);
    wire_decoder_release(&c->dec);
    free(c);
}

/* The key teardown_unix shuts the server down with (a test that rekeyed the
 * server sets it). */
static const uint8_t *teardown_key = test_key;

static int teardown_unix(void **state)
{
    struct unix_server *u = *state;
    const uint8_t *key = teardown_key;
    teardown_key = test_key;
    /* Shutdown with poweroff ends a server outside PID 1. Connections a test
     * just closed may still hold every slot for a moment: retry on BUSY. */
    for (int tries = 0; tries < 100; tries++) {
        struct client *c = client_connect_raw(u);
        send_hello_key(c, 2, key, GUEST_KEY_LEN);
        Guest__V1__ShutdownRequest sr = GUEST__V1__SHUTDOWN_REQUEST__INIT;
        sr.poweroff = true;
        send_frame(c, TEST_FRAME(1, SHUTDOWN_REQUEST, shutdown_request, &sr));
        Guest__V1__Frame *g = recv_frame(c);
        if (g && g->body_case == GUEST__V1__FRAME__BODY_HELLO_RESPONSE) {
            guest__v1__frame__free_unpacked(g, NULL);
            g = recv_frame(c);
        }
        bool done = g && g->body_case == GUEST__V1__FRAME__BODY_SHUTDOWN_RESPONSE;
        if (g)
            guest__v1__frame__free_unpacked(g, NULL);
        client_free(c);
        if (done)
            break;
        usleep(10000);
    }
    int r = wait_server(u->server);
    unlink(u->path);
    *strrchr(u->path, '/') = '\0';
    rmdir(u->path);
    free(u);
    return r;
}

static void test_unix_connections_independent(void **state)
{
    struct unix_server *u = *state;
    struct client *a = client_connect(u), *b = client_connect(u);
    send_sh(a, 1, "sleep 0.3; echo a", NULL);
    /* b is served while a's workload runs, with the same id. */
    send_sh(b, 1, "echo b", NULL);
    Guest__V1__Frame *f = expect_body(b, 1, GUEST__V1__FRAME__BODY_EXEC_RESPONSE);
    assert_stdout(f->exec_response, "b\n");
    guest__v1__frame__free_unpacked(f, NULL);
    expect_health(b, 2);
    f = expect_body(a, 1, GUEST__V1__FRAME__BODY_EXEC_RESPONSE);
    assert_stdout(f->exec_response, "a\n");
    guest__v1__frame__free_unpacked(f, NULL);
    /* A Cancel on one connection does not reach the other's execs. */
    send_sh(a, 5, "sleep 0.2; echo still", NULL);
    assert_false(cancel(b, 6, 5));
    f = expect_body(a, 5, GUEST__V1__FRAME__BODY_EXEC_RESPONSE);
    assert_stdout(f->exec_response, "still\n");
    guest__v1__frame__free_unpacked(f, NULL);
    client_free(a);
    client_free(b);
}

static void test_unix_oversized_closes_only_that_connection(void **state)
{
    struct unix_server *u = *state;
    struct client *a = client_connect(u), *b = client_connect(u);
    uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
    send_bytes(a, huge, sizeof(huge));
    Guest__V1__Frame *f = expect_body(a, 0, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(TOO_LARGE));
    guest__v1__frame__free_unpacked(f, NULL);
    assert_null(recv_frame(a)); /* closed */
    expect_health(b, 1);
    client_free(a);
    client_free(b);
}

/* A host that hangs up takes its workloads with it. */
static void test_unix_hangup_kills_workloads(void **state)
{
    struct unix_server *u = *state;
    struct client *a = client_connect(u);
    struct exec_opts o = {.stream = true};
    send_sh(a, 1, "echo $$; exec sleep 1000", &o);
    Guest__V1__Frame *f = expect_body(a, 1, GUEST__V1__FRAME__BODY_EXEC_OUTPUT);
    pid_t pid = (pid_t)atoi((char *)f->exec_output->data.data);
    guest__v1__frame__free_unpacked(f, NULL);
    assert_true(pid > 1);
    client_free(a);
    assert_true(process_gone(pid));
    struct client *b = client_connect(u);
    expect_health(b, 2);
    client_free(b);
}

static void test_unix_connection_limit(void **state)
{
    struct unix_server *u = *state;
    struct client *cs[GUEST_MAX_CONNS];
    for (size_t i = 0; i < GUEST_MAX_CONNS; i++) {
        cs[i] = client_connect(u);
        expect_health(cs[i], i + 1); /* accepted and served */
    }
    struct client *extra = client_connect_raw(u);
    Guest__V1__Frame *f = expect_body(extra, 0, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(BUSY));
    guest__v1__frame__free_unpacked(f, NULL);
    assert_null(recv_frame(extra));
    client_free(extra);
    client_free(cs[0]);
    /* A slot freed is a slot usable again (the close is seen first). */
    struct client *again = NULL;
    for (int tries = 0; tries < 100 && !again; tries++) {
        struct client *c = client_connect_raw(u);
        send_hello_key(c, 98, test_key, sizeof(test_key));
        send_health(c, 99);
        Guest__V1__Frame *g = recv_frame(c);
        if (g && g->body_case == GUEST__V1__FRAME__BODY_HELLO_RESPONSE) {
            guest__v1__frame__free_unpacked(g, NULL);
            g = recv_frame(c);
        }
        if (g && g->body_case == GUEST__V1__FRAME__BODY_HEALTH_RESPONSE)
            again = c;
        else
            client_free(c);
        if (g)
            guest__v1__frame__free_unpacked(g, NULL);
        if (!again)
            usleep(10000);
    }
    assert_non_null(again);
    client_free(again);
    for (size_t i = 1; i < GUEST_MAX_CONNS; i++)
        client_free(cs[i]);
}

/* ---------------------------------------------------------------- authentication */

/* Each way of not proving the key: the connection is closed, nothing at all
 * comes back, and nothing runs. */
static void test_unix_unauthenticated_served_nothing(void **state)
{
    struct unix_server *u = *state;
    char marker[128];
    /* Where uid 1000 can write (the server's folder is root's, 0700). */
    snprintf(marker, sizeof(marker), "/tmp/enclave-unauth-%d.ran", (int)getpid());
    unlink(marker);
    char script[256];
    snprintf(script, sizeof(script), "touch %s", marker);

    /* A request with no HelloRequest first. */
    struct client *c = client_connect_raw(u);
    send_sh(c, 1, script, NULL);
    send_health(c, 2);
    expect_closed_silently(c);
    client_free(c);

    /* A wrong key, then a request. */
    uint8_t wrong[GUEST_KEY_LEN];
    memcpy(wrong, test_key, sizeof(wrong));
    wrong[GUEST_KEY_LEN - 1] ^= 1;
    c = client_connect_raw(u);
    send_hello_key(c, 1, wrong, sizeof(wrong));
    send_sh(c, 2, script, NULL);
    expect_closed_silently(c);
    client_free(c);

    /* The right key cut short, and one byte too long. */
    c = client_connect_raw(u);
    send_hello_key(c, 1, test_key, GUEST_KEY_LEN - 1);
    expect_closed_silently(c);
    client_free(c);
    uint8_t longer[GUEST_KEY_LEN + 1];
    memcpy(longer, test_key, GUEST_KEY_LEN);
    longer[GUEST_KEY_LEN] = 0;
    c = client_connect_raw(u);
    send_hello_key(c, 1, longer, sizeof(longer));
    expect_closed_silently(c);
    client_free(c);

    /* An empty HelloRequest. */
    c = client_connect_raw(u);
    send_hello_key(c, 1, NULL, 0);
    expect_closed_silently(c);
    client_free(c);

    /* Garbage and an oversized length get no error frame either. */
    c = client_connect_raw(u);
    uint8_t garbage[] = {0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    send_bytes(c, garbage, sizeof(garbage));
    expect_closed_silently(c);
    client_free(c);
    c = client_connect_raw(u);
    uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
    send_bytes(c, huge, sizeof(huge));
    expect_closed_silently(c);
    client_free(c);

    /* Saying nothing: closed at the deadline (500 ms in these tests). */
    c = client_connect_raw(u);
    expect_closed_silently(c);
    client_free(c);

    assert_int_equal(access(marker, F_OK), -1);

    /* The right key is served, on the same server. */
    c = client_connect(u);
    Guest__V1__Frame *f = run_sh(c, 3, script, NULL);
    assert_int_equal(f->exec_response->exit_code, 0);
    guest__v1__frame__free_unpacked(f, NULL);
    client_free(c);
    assert_int_equal(access(marker, F_OK), 0);
    unlink(marker);
}

/* After the key: a second HelloRequest is checked again (a wrong one ends
 * the connection), and a sync marker (a new host connection on a port that
 * cannot close) needs the key again. */
static void test_unix_rehello_and_sync(void **state)
{
    struct unix_server *u = *state;
    struct client *c = client_connect(u);
    hello(c);
    expect_health(c, 1);
    uint8_t wrong[GUEST_KEY_LEN] = {0};
    send_hello_key(c, 2, wrong, sizeof(wrong));
    send_health(c, 3);
    expect_closed_silently(c);
    client_free(c);

    c = client_connect(u);
    static const uint8_t marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;
    send_bytes(c, marker, sizeof(marker));
    send_health(c, 4);
    expect_closed_silently(c);
    client_free(c);

    c = client_connect(u);
    send_bytes(c, marker, sizeof(marker));
    hello(c);
    expect_health(c, 5);
    client_free(c);
}

static void send_resume(struct client *c, uint64_t id, const uint8_t *key, const uint8_t *new_key,
                        size_t new_len, size_t entropy_len, int64_t unix_time_ns)
{
    static uint8_t entropy[GUEST_RESUME_MAX_ENTROPY + 1];
    memset(entropy, 0xa5, sizeof(entropy));
    Guest__V1__HelloRequest h = GUEST__V1__HELLO_REQUEST__INIT;
    h.key.data = (uint8_t *)key;
    h.key.len = GUEST_KEY_LEN;
    h.new_key.data = (uint8_t *)new_key;
    h.new_key.len = new_len;
    h.entropy.data = entropy;
    h.entropy.len = entropy_len;
    h.unix_time_ns = unix_time_ns;
    send_frame(c, TEST_FRAME(id, HELLO_REQUEST, hello_request, &h));
}

/* After a snapshot restore: the first HelloRequest proves the snapshot's key
 * and hands over the VM's own. Malformed resumes change nothing; after the
 * resume only the new key opens a connection, and no second resume is
 * taken (whoever holds the snapshot's key, or the new one, cannot rekey). */
static void test_unix_resume_rekeys_once(void **state)
{
    struct unix_server *u = *state;
    static uint8_t new_key[GUEST_KEY_LEN];
    uint8_t other[GUEST_KEY_LEN + 1];
    memset(new_key, 0x5a, sizeof(new_key));
    memset(other, 0x3c, sizeof(other));
    const int64_t now = (int64_t)1800000000 * 1000000000;

    /* Malformed, or with the wrong key: the peer is closed on, unanswered. */
    const struct {
        const char *name;
        const uint8_t *key;
        size_t new_len, entropy_len;
        int64_t time_ns;
    } refused[] = {
        {"a short new key", test_key, GUEST_KEY_LEN - 1, 64, now},
        {"too little entropy", test_key, GUEST_KEY_LEN, GUEST_RESUME_MIN_ENTROPY - 1, now},
        {"too much entropy", test_key, GUEST_KEY_LEN, GUEST_RESUME_MAX_ENTROPY + 1, now},
        {"no time", test_key, GUEST_KEY_LEN, 64, 0},
        {"the wrong key", other, GUEST_KEY_LEN, 64, now},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct client *rc = client_connect_raw(u);
        send_resume(rc, 1, refused[i].key, new_key, refused[i].new_len, refused[i].entropy_len, refused[i].time_ns);
        Guest__V1__Frame *g = recv_frame(rc);
        if (g != NULL)
            fail_msg("a resume with %s was answered (body %d)", refused[i].name, g->body_case);
        client_free(rc);
    }
    /* None of them changed the key. */
    struct client *c = client_connect(u);
    expect_health(c, 2);
    client_free(c);

    /* The resume: answered with resumed, then served. */
    c = client_connect_raw(u);
    send_resume(c, 9, test_key, new_key, GUEST_KEY_LEN, 64, now);
    Guest__V1__Frame *f = expect_body(c, 9, GUEST__V1__FRAME__BODY_HELLO_RESPONSE);
    assert_true(f->hello_response->resumed);
    guest__v1__frame__free_unpacked(f, NULL);
    expect_health(c, 3);
    client_free(c);
    teardown_key = new_key;

    /* The snapshot's key opens nothing any more. */
    c = client_connect_raw(u);
    send_hello_key(c, 1, test_key, sizeof(test_key));
    send_health(c, 2);
    expect_closed_silently(c);
    client_free(c);

    /* A second resume, with the old key or the new one, is refused. */
    const uint8_t *again[] = {test_key, new_key};
    for (size_t i = 0; i < 2; i++) {
        c = client_connect_raw(u);
        send_resume(c, 1, again[i], other, GUEST_KEY_LEN, 64, now);
        expect_closed_silently(c);
        client_free(c);
    }

    /* The new key is served, and a plain HelloRequest is no resume. */
    c = client_connect_raw(u);
    send_hello_key(c, 5, new_key, sizeof(new_key));
    f = expect_body(c, 5, GUEST__V1__FRAME__BODY_HELLO_RESPONSE);
    assert_false(f->hello_response->resumed);
    guest__v1__frame__free_unpacked(f, NULL);
    expect_health(c, 6);
    client_free(c);
}

/* stdio: the same rule (what the fake Firecracker's guest serves). */
static void test_stdio_needs_key(void **state)
{
    struct client *c = *state;
    send_health(c, 1);
    expect_closed_silently(c);
}

static int setup_no_hello(void **state)
{
    return setup_with_env(state, "ENCLAVE_TEST_NO_HELLO");
}

static void test_server_needs_a_key(void **state)
{
    (void)state;
    struct guest_server_options opts = {0};
    errno = 0;
    assert_null(guest_server_new(&opts));
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "server_test: needs root to run workloads as uid 1000; skipped\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_health),
        T(test_runs_as_uid_1000),
        T(test_sandbox_state),
        T(test_exit_codes_and_signals),
        T(test_stdin),
        T(test_output_cap),
        T(test_timeout_kills_group),
        T(test_leftovers_killed_and_reaped),
        T(test_exec_failures),
        T(test_garbage_frames),
        cmocka_unit_test_setup_teardown(test_stopped_child_does_not_hang_init, setup_spawn_stop, teardown),
        T(test_oversized_length),
        T(test_concurrent_execs_and_cancel),
        T(test_busy),
        T(test_streaming),
        T(test_stream_window),
        T(test_stream_window_checked),
        T(test_interactive_stdin),
        T(test_workload_cannot_unshare),
        T(test_shutdown_stops_server),
#define U(name) cmocka_unit_test_setup_teardown(name, setup_unix, teardown_unix)
        U(test_unix_connections_independent),
        U(test_unix_oversized_closes_only_that_connection),
        U(test_unix_hangup_kills_workloads),
        U(test_unix_connection_limit),
        U(test_unix_unauthenticated_served_nothing),
        U(test_unix_rehello_and_sync),
        U(test_unix_resume_rekeys_once),
        cmocka_unit_test_setup_teardown(test_stdio_needs_key, setup_no_hello, teardown),
        cmocka_unit_test(test_server_needs_a_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
