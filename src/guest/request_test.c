/* Unit tests for request checking and the workload environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guest/guest.h"

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name

static char *sh_argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)"true"};

static Guest__V1__ExecRequest base_request(void)
{
    Guest__V1__ExecRequest r = GUEST__V1__EXEC_REQUEST__INIT;
    r.n_argv = 3;
    r.argv = sh_argv;
    return r;
}

static void test_defaults(void **state)
{
    (void)state;
    Guest__V1__ExecRequest r = base_request();
    struct guest_exec_params p;
    const char *why = NULL;
    assert_int_equal(guest_exec_validate(&r, &p, &why), 0);
    assert_int_equal(p.timeout_ms, GUEST_DEFAULT_TIMEOUT_MS);
    assert_int_equal(p.max_output, GUEST_DEFAULT_OUTPUT);
    assert_string_equal(p.cwd, "/workspace");
    assert_int_equal(p.max_processes, GUEST_DEFAULT_PROCESSES);
    assert_int_equal(p.max_open_files, GUEST_DEFAULT_OPEN_FILES);
    assert_int_equal(p.max_file_size, GUEST_DEFAULT_FILE_SIZE);
    assert_int_equal(p.max_address_space, GUEST_DEFAULT_ADDRESS_SPACE);

    Guest__V1__Limits l = GUEST__V1__LIMITS__INIT;
    l.max_processes = 10;
    l.max_open_files = 20;
    l.max_file_size = 30;
    l.max_address_space = 40;
    r.limits = &l;
    r.timeout_ms = 5;
    r.max_output_bytes = 6;
    r.cwd = (char *)"/tmp";
    assert_int_equal(guest_exec_validate(&r, &p, &why), 0);
    assert_int_equal(p.timeout_ms, 5);
    assert_int_equal(p.max_output, 6);
    assert_string_equal(p.cwd, "/tmp");
    assert_int_equal(p.max_processes, 10);
    assert_int_equal(p.max_open_files, 20);
    assert_int_equal(p.max_file_size, 30);
    assert_int_equal(p.max_address_space, 40);
}

static void expect_refused(Guest__V1__ExecRequest *r, int code)
{
    struct guest_exec_params p;
    const char *why = NULL;
    assert_int_equal(guest_exec_validate(r, &p, &why), code);
    assert_non_null(why);
}

/* Streamed output is paced by the host's credit, so its cap is the stream
 * limit, far over the 3 MiB a buffered reply may carry (the guest request
 * fuzz harness holds validation to the same rule). */
static void test_stream_output_limits(void **state)
{
    (void)state;
    Guest__V1__ExecRequest r = base_request();
    struct guest_exec_params p;
    const char *why = NULL;
    r.stream_output = true;
    r.max_output_bytes = 1ull << 30;
    r.stream_window = 1u << 20;
    assert_int_equal(guest_exec_validate(&r, &p, &why), 0);
    assert_true(p.max_output == 1ull << 30);
    assert_int_equal(p.stream_window, 1u << 20);

    r.max_output_bytes = GUEST_MAX_STREAM_OUTPUT + 1;
    expect_refused(&r, CODE(TOO_LARGE));
    r.max_output_bytes = GUEST_MAX_OUTPUT + 1;
    r.stream_window = GUEST_MAX_STREAM_WINDOW + 1;
    expect_refused(&r, CODE(INVALID));
    r.stream_window = 0;
    r.stream_output = false;
    expect_refused(&r, CODE(TOO_LARGE));
}

static void test_refusals(void **state)
{
    (void)state;
    Guest__V1__ExecRequest r;

    r = base_request();
    r.n_argv = 0;
    expect_refused(&r, CODE(INVALID));

    char *empty0[] = {(char *)""};
    r = base_request();
    r.argv = empty0;
    r.n_argv = 1;
    expect_refused(&r, CODE(INVALID));

    char *with_null[] = {(char *)"/bin/true", NULL};
    r = base_request();
    r.argv = with_null;
    r.n_argv = 2;
    expect_refused(&r, CODE(INVALID));

    r = base_request();
    r.n_argv = GUEST_MAX_ARGS + 1; /* refused on the count, before any entry is read */
    expect_refused(&r, CODE(TOO_LARGE));

    char *long_arg = malloc(GUEST_MAX_ARG_LEN + 1);
    memset(long_arg, 'a', GUEST_MAX_ARG_LEN);
    long_arg[GUEST_MAX_ARG_LEN] = '\0';
    char *long_argv[] = {(char *)"/bin/echo", long_arg};
    r = base_request();
    r.argv = long_argv;
    r.n_argv = 2;
    expect_refused(&r, CODE(TOO_LARGE));

    /* Many arguments each under the per-argument limit, over the total. */
    long_arg[GUEST_MAX_ARG_LEN / 2] = '\0';
    enum { MANY = 20 };
    char *many[MANY];
    for (int i = 0; i < MANY; i++)
        many[i] = long_arg;
    r = base_request();
    r.argv = many;
    r.n_argv = MANY;
    expect_refused(&r, CODE(TOO_LARGE));
    free(long_arg);

    r = base_request();
    r.cwd = (char *)"relative/dir";
    expect_refused(&r, CODE(INVALID));

    r = base_request();
    r.max_output_bytes = GUEST_MAX_OUTPUT + 1;
    expect_refused(&r, CODE(TOO_LARGE));

    r = base_request();
    r.timeout_ms = GUEST_MAX_TIMEOUT_MS + 1;
    expect_refused(&r, CODE(INVALID));

    r = base_request();
    r.stdin.len = GUEST_MAX_STDIN + 1;
    r.stdin.data = (uint8_t *)"x"; /* never read: the length is refused first */
    expect_refused(&r, CODE(TOO_LARGE));

    Guest__V1__Limits l = GUEST__V1__LIMITS__INIT;
    l.max_open_files = GUEST_MAX_OPEN_FILES + 1;
    r = base_request();
    r.limits = &l;
    expect_refused(&r, CODE(INVALID));
    l.max_open_files = 0;
    l.max_processes = GUEST_MAX_PROCESSES + 1;
    expect_refused(&r, CODE(INVALID));

    static const char *bad_names[] = {"", "A=B", NULL};
    for (int i = 0; bad_names[i]; i++) {
        Guest__V1__EnvVar v = GUEST__V1__ENV_VAR__INIT;
        Guest__V1__EnvVar *vs[] = {&v};
        v.name = (char *)bad_names[i];
        v.value = (char *)"x";
        r = base_request();
        r.env = vs;
        r.n_env = 1;
        expect_refused(&r, CODE(INVALID));
    }
    r = base_request();
    r.n_env = GUEST_MAX_ENV + 1;
    expect_refused(&r, CODE(TOO_LARGE));
}

static void test_environment(void **state)
{
    (void)state;
    Guest__V1__ExecRequest r = base_request();
    Guest__V1__EnvVar a = GUEST__V1__ENV_VAR__INIT, b = GUEST__V1__ENV_VAR__INIT, c = GUEST__V1__ENV_VAR__INIT;
    Guest__V1__EnvVar *vs[] = {&a, &b, &c};
    a.name = (char *)"PATH";
    a.value = (char *)"/opt/bin";
    b.name = (char *)"LANG";
    b.value = (char *)"C.UTF-8";
    c.name = (char *)"EMPTY";
    c.value = (char *)"";
    r.env = vs;
    r.n_env = 3;
    struct guest_exec_params p;
    const char *why;
    assert_int_equal(guest_exec_validate(&r, &p, &why), 0);
    char **env = guest_exec_build_env(&r);
    assert_non_null(env);
    assert_string_equal(env[0], "HOME=/workspace");
    assert_string_equal(env[1], "PATH=/opt/bin"); /* replaced, not duplicated */
    assert_string_equal(env[2], "LANG=C.UTF-8");
    assert_string_equal(env[3], "EMPTY=");
    assert_null(env[4]);
    guest_env_free(env);

    r.n_env = 0;
    env = guest_exec_build_env(&r);
    assert_string_equal(env[0], "HOME=/workspace");
    assert_string_equal(env[1], "PATH=" GUEST_DEFAULT_PATH);
    assert_null(env[2]);
    guest_env_free(env);
}

static void test_request_kinds(void **state)
{
    (void)state;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    const char *why = NULL;
    assert_int_equal(guest_request_check(&f, &why), CODE(UNKNOWN_REQUEST));
    f.body_case = GUEST__V1__FRAME__BODY_HEALTH_RESPONSE;
    assert_int_equal(guest_request_check(&f, &why), CODE(UNKNOWN_REQUEST));
    f.body_case = GUEST__V1__FRAME__BODY_ERROR;
    assert_int_equal(guest_request_check(&f, &why), CODE(UNKNOWN_REQUEST));
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_REQUEST;
    assert_int_equal(guest_request_check(&f, &why), 0);
    f.body_case = GUEST__V1__FRAME__BODY_CANCEL_REQUEST;
    assert_int_equal(guest_request_check(&f, &why), 0);
    /* The egress proxy: what the host sends is served, what the guest sends is not. */
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_REQUEST;
    assert_int_equal(guest_request_check(&f, &why), 0);
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_DATA;
    assert_int_equal(guest_request_check(&f, &why), 0);
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_OPEN;
    assert_int_equal(guest_request_check(&f, &why), CODE(UNKNOWN_REQUEST));
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_RESPONSE;
    assert_int_equal(guest_request_check(&f, &why), CODE(UNKNOWN_REQUEST));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_stream_output_limits),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_request_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
