/* Tests of interpreter contexts: the driver event parser with good and
 * hostile input, and real cells run by the host's python3 through the driver
 * (src/guest/interp.py) as uid 1000, served by a real server in a forked
 * child. The server parts need root and python3; skipped otherwise. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest/guest.h"
#include "guest/test_conn.h"
#include "wire/frame.h"

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name

static const uint8_t test_key[GUEST_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define DRIVER_SRC "src/guest/interp.py"

/* ---------------------------------------------------------------- parser */

static size_t put_field(uint8_t *p, uint8_t tag, const void *data, uint32_t len)
{
    p[0] = tag;
    p[1] = (uint8_t)(len >> 24);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 8);
    p[4] = (uint8_t)len;
    memcpy(p + 5, data, len);
    return 5 + len;
}

static void test_parse_good(void **state)
{
    (void)state;
    uint8_t b[256];
    struct guest_interp_event ev;
    const char *why = NULL;
    size_t n = 0;
    b[n++] = GUEST_INTERP_RESULT;
    n += put_field(b + n, 1, "42", 2);
    n += put_field(b + n, 2, "text/html", 9);
    n += put_field(b + n, 3, "<b>42</b>", 9);
    n += put_field(b + n, 2, "image/png", 9);
    n += put_field(b + n, 3, "\x89PNG\xff", 5); /* binary: not checked as UTF-8 */
    assert_int_equal(guest_interp_parse(b, n, &ev, &why), 0);
    assert_int_equal(ev.kind, GUEST_INTERP_RESULT);
    assert_int_equal(ev.text.len, 2);
    assert_int_equal(ev.n_mime, 2);
    assert_memory_equal(ev.mime[1].data, "image/png", 9);
    assert_int_equal(ev.mime_data[1].len, 5);

    n = 0;
    b[n++] = GUEST_INTERP_DONE;
    n += put_field(b + n, 7, "\x02", 1);
    n += put_field(b + n, 8, "\0\0\0\x07", 4);
    assert_int_equal(guest_interp_parse(b, n, &ev, &why), 0);
    assert_int_equal(ev.status, 2);
    assert_int_equal(ev.count, 7);

    n = 0;
    b[n++] = GUEST_INTERP_ERROR;
    n += put_field(b + n, 4, "ValueError", 10);
    n += put_field(b + n, 5, "\xc3\xa9", 2);
    n += put_field(b + n, 6, "", 0);
    assert_int_equal(guest_interp_parse(b, n, &ev, &why), 0);
    assert_int_equal(ev.name.len, 10);

    b[0] = GUEST_INTERP_STDOUT;
    assert_int_equal(guest_interp_parse(b, 1, &ev, &why), 0); /* no fields: empty text */
}

static void test_parse_hostile(void **state)
{
    (void)state;
    struct guest_interp_event ev;
    const char *why;
    uint8_t b[64] = {0};
    size_t n;
#define BAD(len)                                                    \
    do {                                                            \
        why = NULL;                                                 \
        assert_int_equal(guest_interp_parse(b, (len), &ev, &why), -1); \
        assert_non_null(why);                                       \
    } while (0)
    BAD(0);
    b[0] = 0;
    BAD(1); /* kind 0 */
    b[0] = 9;
    BAD(1); /* unknown kind */
    b[0] = GUEST_INTERP_STDOUT;
    b[1] = 1;
    b[2] = 0;
    BAD(3); /* truncated field header */
    n = 1 + put_field(b + 1, 1, "abc", 3);
    b[4] = 9; /* length past the end */
    BAD(n);
    n = 1 + put_field(b + 1, 1, "\xff\xfe", 2);
    BAD(n); /* not UTF-8 */
    n = 1 + put_field(b + 1, 1, "\xc0\xaf", 2);
    BAD(n); /* overlong */
    n = 1 + put_field(b + 1, 1, "\xed\xa0\x80", 3);
    BAD(n); /* surrogate */
    n = 1 + put_field(b + 1, 4, "x", 1);
    BAD(n); /* a field stdout cannot have */
    b[0] = GUEST_INTERP_RESULT;
    n = 1 + put_field(b + 1, 2, "text/html", 9);
    BAD(n); /* mime without data */
    n = 1 + put_field(b + 1, 3, "x", 1);
    BAD(n); /* data without mime */
    n = 1 + put_field(b + 1, 2, "", 0);
    BAD(n); /* empty mime */
    b[0] = GUEST_INTERP_DONE;
    n = 1 + put_field(b + 1, 8, "\0\0\0\1", 4);
    BAD(n); /* no status */
    n = 1 + put_field(b + 1, 7, "\x03", 1);
    BAD(n); /* status out of range */
    n = 1 + put_field(b + 1, 7, "\x00\x00", 2);
    BAD(n);
    /* too many mime types */
    uint8_t big[1 + (GUEST_INTERP_MAX_MIME + 1) * 12];
    n = 0;
    big[n++] = GUEST_INTERP_RESULT;
    for (unsigned i = 0; i <= GUEST_INTERP_MAX_MIME; i++) {
        n += put_field(big + n, 2, "a", 1);
        n += put_field(big + n, 3, "b", 1);
    }
    why = NULL;
    assert_int_equal(guest_interp_parse(big, n, &ev, &why), -1);
#undef BAD
}

static void test_context_id(void **state)
{
    (void)state;
    assert_true(guest_context_id_valid(""));
    assert_true(guest_context_id_valid("ctx-1.a_b"));
    assert_false(guest_context_id_valid("a/b"));
    assert_false(guest_context_id_valid("a b"));
    char longid[80];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_false(guest_context_id_valid(longid));
}

/* ---------------------------------------------------------------- server */

struct fx {
    char dir[64], driver[96];
    struct guest_test_conn conn;
};

static int setup(void **state)
{
    *state = NULL;
    if (geteuid() != 0 || access("/usr/bin/python3", X_OK) != 0 || access(DRIVER_SRC, R_OK) != 0)
        return 0;
    struct fx *x = calloc(1, sizeof(*x));
    snprintf(x->dir, sizeof(x->dir), "/tmp/enclave-code-XXXXXX");
    if (!mkdtemp(x->dir))
        return -1;
    chmod(x->dir, 0755);
    if (chown(x->dir, GUEST_WORKLOAD_UID, GUEST_WORKLOAD_GID) < 0)
        return -1;
    /* A copy the workload user can read, wherever the checkout is. */
    snprintf(x->driver, sizeof(x->driver), "%s/interp.py", x->dir);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "cp %s %s && chmod 0644 %s", DRIVER_SRC, x->driver, x->driver);
    if (system(cmd) != 0)
        return -1;
    struct guest_server_options opts = {
        .exit_when_idle = true, .key = test_key, .workspace_dir = x->dir, .tmp_dir = x->dir, .interp_driver = x->driver};
    *state = x;
    return guest_test_conn_open(&x->conn, &opts);
}

static int teardown(void **state)
{
    struct fx *x = *state;
    int status = x ? guest_test_conn_close_rm(&x->conn, x->dir) : 0;
    free(x);
    return status;
}

static void send_frame(struct fx *x, const Guest__V1__Frame *f)
{
    guest_test_send_frame(x->conn.fd, f);
}

static Guest__V1__Frame *recv_frame(struct fx *x)
{
    return guest_test_conn_recv(&x->conn);
}

/* What a cell produced, concatenated per kind. */
struct cell {
    char out[8192], err[8192], result[1024], html[1024];
    char error_name[128], traceback[4096];
    size_t n_png;
    Guest__V1__CodeResponse resp;
};

static void append(char *dst, size_t size, const char *s)
{
    size_t n = strlen(dst);
    snprintf(dst + n, size - n, "%s", s);
}

static void run_cell(struct fx *x, uint64_t id, const char *ctx, const char *code, uint32_t timeout_ms,
                     struct cell *c)
{
    memset(c, 0, sizeof(*c));
    Guest__V1__CodeRequest r = GUEST__V1__CODE_REQUEST__INIT;
    r.context_id = (char *)ctx;
    r.code = (char *)code;
    r.timeout_ms = timeout_ms;
    send_frame(x, TEST_FRAME(id, CODE_REQUEST, code_request, &r));
    for (;;) {
        Guest__V1__Frame *g = recv_frame(x);
        assert_int_equal(g->id, id);
        if (g->body_case == GUEST__V1__FRAME__BODY_ERROR)
            fail_msg("cell refused: %s", g->error->message);
        if (g->body_case == GUEST__V1__FRAME__BODY_CODE_RESPONSE) {
            c->resp = *g->code_response;
            guest__v1__frame__free_unpacked(g, NULL);
            return;
        }
        assert_int_equal(g->body_case, GUEST__V1__FRAME__BODY_CODE_EVENT);
        Guest__V1__CodeEvent *e = g->code_event;
        switch (e->kind) {
        case GUEST__V1__CODE_EVENT__KIND__KIND_STDOUT:
            append(c->out, sizeof(c->out), e->text);
            break;
        case GUEST__V1__CODE_EVENT__KIND__KIND_STDERR:
            append(c->err, sizeof(c->err), e->text);
            break;
        case GUEST__V1__CODE_EVENT__KIND__KIND_RESULT:
            append(c->result, sizeof(c->result), e->text);
            for (size_t i = 0; i < e->n_data; i++) {
                if (strcmp(e->data[i]->mime_type, "text/html") == 0)
                    snprintf(c->html, sizeof(c->html), "%.*s", (int)e->data[i]->data.len,
                             (const char *)e->data[i]->data.data);
                if (strcmp(e->data[i]->mime_type, "image/png") == 0)
                    c->n_png++;
            }
            break;
        case GUEST__V1__CODE_EVENT__KIND__KIND_ERROR:
            snprintf(c->error_name, sizeof(c->error_name), "%s", e->name);
            snprintf(c->traceback, sizeof(c->traceback), "%s", e->traceback);
            break;
        default:
            fail_msg("unknown event kind %d", e->kind);
        }
        guest__v1__frame__free_unpacked(g, NULL);
    }
}

#define NEED_FX()        \
    struct fx *x = *state; \
    if (!x)              \
    skip()

static void test_state_and_results(void **state)
{
    NEED_FX();
    struct cell c;
    run_cell(x, 1, "", "x = 41", 0, &c);
    assert_false(c.resp.error);
    assert_string_equal(c.result, "");
    assert_int_equal(c.resp.execution_count, 1);
    run_cell(x, 2, "", "x + 1", 0, &c);
    assert_string_equal(c.result, "42");
    assert_int_equal(c.resp.execution_count, 2);
    run_cell(x, 3, "", "print('hello'); import sys; print('warn', file=sys.stderr); 'a' * 3", 0, &c);
    assert_string_equal(c.out, "hello\n");
    assert_string_equal(c.err, "warn\n");
    assert_string_equal(c.result, "'aaa'");
    /* output of child processes comes too, before the cell ends */
    run_cell(x, 4, "", "import os; os.system('echo from-child; echo child-err >&2')", 0, &c);
    assert_string_equal(c.out, "from-child\n");
    assert_string_equal(c.err, "child-err\n");
    /* the interpreter runs as the workload user */
    run_cell(x, 5, "", "import os; (os.getuid(), os.getgid())", 0, &c);
    assert_string_equal(c.result, "(1000, 1000)");
    /* rich results */
    run_cell(x, 6, "",
             "class T:\n    def _repr_html_(self):\n        return '<table><tr><td>1</td></tr></table>'\n"
             "    def __repr__(self):\n        return 'T()'\nT()",
             0, &c);
    assert_string_equal(c.result, "T()");
    assert_string_equal(c.html, "<table><tr><td>1</td></tr></table>");
    run_cell(x, 7, "",
             "import base64\nclass P:\n    def _repr_png_(self):\n        return b'\\x89PNG\\r\\n'\nP()", 0, &c);
    assert_int_equal(c.n_png, 1);
    /* other contexts have their own names */
    run_cell(x, 8, "other", "x", 0, &c);
    assert_string_equal(c.error_name, "NameError");
    run_cell(x, 9, "", "x", 0, &c);
    assert_string_equal(c.result, "41");
}

static void test_errors(void **state)
{
    NEED_FX();
    struct cell c;
    run_cell(x, 1, "", "def f():\n    return 1 / 0\n\nf()", 0, &c);
    assert_true(c.resp.error);
    assert_string_equal(c.error_name, "ZeroDivisionError");
    assert_non_null(strstr(c.traceback, "ZeroDivisionError: division by zero"));
    assert_non_null(strstr(c.traceback, "return 1 / 0")); /* the cell's source line */
    assert_null(strstr(c.traceback, "interp.py"));        /* not the driver's frames */
    run_cell(x, 2, "", "def (:", 0, &c);
    assert_true(c.resp.error);
    assert_string_equal(c.error_name, "SyntaxError");
    run_cell(x, 3, "", "raise SystemExit(3)", 0, &c);
    assert_string_equal(c.error_name, "SystemExit");
    /* the context is still there */
    run_cell(x, 4, "", "y = 5\ny", 0, &c);
    assert_false(c.resp.error);
    assert_string_equal(c.result, "5");
}

static void test_interrupt_and_restart(void **state)
{
    NEED_FX();
    struct cell c;
    run_cell(x, 1, "", "keep = 'kept'", 0, &c);
    /* a loop stops on KeyboardInterrupt at its timeout; names stay */
    run_cell(x, 2, "", "while True:\n    pass", 300, &c);
    assert_true(c.resp.timed_out);
    assert_true(c.resp.interrupted);
    assert_false(c.resp.restarted);
    assert_string_equal(c.error_name, "KeyboardInterrupt");
    run_cell(x, 3, "", "keep", 0, &c);
    assert_string_equal(c.result, "'kept'");
    /* one that ignores SIGINT is killed; the context starts over */
    run_cell(x, 4, "",
             "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)",
             300, &c);
    assert_true(c.resp.timed_out);
    assert_true(c.resp.restarted);
    assert_non_null(strstr(c.err, "killed"));
    run_cell(x, 5, "", "keep", 0, &c);
    assert_string_equal(c.error_name, "NameError");
    assert_int_equal(c.resp.execution_count, 1);
    /* a cell that ends its interpreter says so */
    run_cell(x, 6, "", "import os; os._exit(0)", 0, &c);
    assert_true(c.resp.restarted);
    run_cell(x, 7, "", "1 + 1", 0, &c);
    assert_string_equal(c.result, "2");
}

static void test_busy_and_limits(void **state)
{
    NEED_FX();
    Guest__V1__CodeRequest r = GUEST__V1__CODE_REQUEST__INIT;
    r.code = (char *)"import time; time.sleep(1)";
    send_frame(x, TEST_FRAME(1, CODE_REQUEST, code_request, &r));
    /* a second cell in the same context while one runs: busy */
    send_frame(x, TEST_FRAME(2, CODE_REQUEST, code_request, &r));
    Guest__V1__Frame *g = recv_frame(x);
    assert_int_equal(g->id, 2);
    assert_int_equal(g->body_case, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(g->error->code, CODE(BUSY));
    guest__v1__frame__free_unpacked(g, NULL);
    /* a bad context id */
    r.context_id = (char *)"../x";
    send_frame(x, TEST_FRAME(3, CODE_REQUEST, code_request, &r));
    g = recv_frame(x);
    assert_int_equal(g->id, 3);
    assert_int_equal(g->error->code, CODE(INVALID));
    guest__v1__frame__free_unpacked(g, NULL);
    g = recv_frame(x);
    assert_int_equal(g->id, 1);
    assert_int_equal(g->body_case, GUEST__V1__FRAME__BODY_CODE_RESPONSE);
    guest__v1__frame__free_unpacked(g, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_hostile),
        cmocka_unit_test(test_context_id),
        cmocka_unit_test_setup_teardown(test_state_and_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_and_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
