#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/args.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
static int count_args(char **a)
{
    int n = 0;
    while (a[n] != NULL)
        n++;
    return n;
}
#define ARGC(a) count_args(a)

static void test_uint(void **state)
{
    struct error err;
    unsigned v = 0;
    assert_int_equal(args_parse_uint("4", "--cpu", 1, 16, &v, &err), 0);
    assert_int_equal(v, 4);
    assert_int_equal(args_parse_uint("0", "--cpu", 1, 16, &v, &err), -1);
    assert_non_null(strstr(err.message, "between 1 and 16"));
    assert_int_equal(args_parse_uint("17", "--cpu", 1, 16, &v, &err), -1);
    assert_int_equal(args_parse_uint("-1", "--cpu", 1, 16, &v, &err), -1);
    assert_int_equal(args_parse_uint("4x", "--cpu", 1, 16, &v, &err), -1);
    assert_int_equal(args_parse_uint("", "--cpu", 1, 16, &v, &err), -1);
    assert_int_equal(args_parse_uint(" 4", "--cpu", 1, 16, &v, &err), -1);
    assert_int_equal(args_parse_uint("99999999999999999999999", "--cpu", 1, 16, &v, &err), -1);
    assert_int_equal(v, 4); /* untouched on failure */
}

static void test_size(void **state)
{
    struct error err;
    uint64_t v = 0;
    assert_int_equal(args_parse_size("1048576", "x", &v, &err), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(args_parse_size("512K", "x", &v, &err), 0);
    assert_int_equal(v, 512 * 1024);
    assert_int_equal(args_parse_size("64M", "x", &v, &err), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(args_parse_size("1g", "x", &v, &err), 0);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(args_parse_size("1MB", "x", &v, &err), -1);
    assert_int_equal(args_parse_size("M", "x", &v, &err), -1);
    assert_int_equal(args_parse_size("18446744073709551615G", "x", &v, &err), -1);
    assert_int_equal(args_parse_size("99999999999999999999999", "x", &v, &err), -1);
}

static void test_up_defaults(void **state)
{
    struct up_args a;
    struct error err;
    char **argv = ARGV("up");
    assert_int_equal(args_parse_up(1, argv, &a, &err), 0);
    assert_string_equal(a.daemon.listen, "127.0.0.1:7339");
    assert_null(a.daemon.socket_path);
    assert_int_equal(a.daemon.vcpus, 1);
    assert_int_equal(a.daemon.mem_mb, 512);
    assert_false(a.detach);
    assert_false(a.daemon.allow_root);
}

static void test_up_options(void **state)
{
    struct up_args a;
    struct error err;
    char **argv = ARGV("up", "--listen", "127.0.0.1:9000", "--cpu", "2", "--mem", "1024",
                       "--max-output", "64K", "--accel", "tcg", "--provider", "wsl2", "--detach",
                       "--socket", "/tmp/e.sock", "--audit-witness", "/mnt/elsewhere",
                       "--allow-root");
    assert_int_equal(args_parse_up(ARGC(argv), argv, &a, &err), 0);
    assert_string_equal(a.daemon.audit_witness, "/mnt/elsewhere");
    assert_string_equal(a.daemon.listen, "127.0.0.1:9000");
    assert_string_equal(a.daemon.socket_path, "/tmp/e.sock");
    assert_int_equal(a.daemon.vcpus, 2);
    assert_int_equal(a.daemon.mem_mb, 1024);
    assert_int_equal(a.daemon.max_output_bytes, 64 * 1024);
    assert_int_equal(a.daemon.accel, VMM_ACCEL_TCG);
    assert_int_equal(a.daemon.provider, VMM_PROVIDER_WSL2);
    assert_true(a.detach);
    assert_true(a.daemon.allow_root);
}

static void test_up_errors(void **state)
{
    struct up_args a;
    struct error err;
    char **bad_cpu = ARGV("up", "--cpu", "0");
    assert_int_equal(args_parse_up(ARGC(bad_cpu), bad_cpu, &a, &err), -1);
    assert_non_null(strstr(err.message, "--cpu"));
    char **bad_witness = ARGV("up", "--audit-witness", "");
    assert_int_equal(args_parse_up(ARGC(bad_witness), bad_witness, &a, &err), -1);
    assert_non_null(strstr(err.message, "--audit-witness"));
    char **bad_mem = ARGV("up", "--mem", "64");
    assert_int_equal(args_parse_up(ARGC(bad_mem), bad_mem, &a, &err), -1);
    char **bad_accel = ARGV("up", "--accel", "hvf");
    assert_int_equal(args_parse_up(ARGC(bad_accel), bad_accel, &a, &err), -1);
    assert_non_null(strstr(err.message, "hvf"));
    char **bad_provider = ARGV("up", "--provider", "docker");
    assert_int_equal(args_parse_up(ARGC(bad_provider), bad_provider, &a, &err), -1);
    char **unknown = ARGV("up", "--frobnicate");
    assert_int_equal(args_parse_up(ARGC(unknown), unknown, &a, &err), -1);
    assert_non_null(strstr(err.message, "--frobnicate"));
    char **missing = ARGV("up", "--cpu");
    assert_int_equal(args_parse_up(ARGC(missing), missing, &a, &err), -1);
    char **extra = ARGV("up", "stray");
    assert_int_equal(args_parse_up(ARGC(extra), extra, &a, &err), -1);
    char **tiny_out = ARGV("up", "--max-output", "10");
    assert_int_equal(args_parse_up(ARGC(tiny_out), tiny_out, &a, &err), -1);
}

static void test_run_command(void **state)
{
    struct run_args a;
    struct error err;
    char **argv = ARGV("run", "--timeout", "5", "--", "python3", "-c", "print(6*7)");
    assert_int_equal(args_parse_run(ARGC(argv), argv, &a, &err), 0);
    assert_int_equal(a.timeout_s, 5);
    assert_int_equal(a.command_len, 3);
    assert_string_equal(a.command[0], "python3");
    assert_string_equal(a.command[1], "-c");
    assert_null(a.python_file);
}

static void test_run_command_options_are_its_own(void **state)
{
    struct run_args a;
    struct error err;
    /* Without "--": parsing stops at the command, so its -c is not ours. */
    char **argv = ARGV("run", "ls", "-l", "--timeout", "3");
    assert_int_equal(args_parse_run(ARGC(argv), argv, &a, &err), 0);
    assert_int_equal(a.command_len, 4);
    assert_string_equal(a.command[2], "--timeout");
    assert_int_equal(a.timeout_s, 0);
}

static void test_run_python_and_errors(void **state)
{
    struct run_args a;
    struct error err;
    char **py = ARGV("run", "--python", "job.py", "--session", "s1", "--socket", "/run/e.sock");
    assert_int_equal(args_parse_run(ARGC(py), py, &a, &err), 0);
    assert_string_equal(a.python_file, "job.py");
    assert_string_equal(a.session_id, "s1");
    assert_string_equal(a.target.socket_path, "/run/e.sock");
    char **both = ARGV("run", "--python", "job.py", "--", "ls");
    assert_int_equal(args_parse_run(ARGC(both), both, &a, &err), -1);
    assert_non_null(strstr(err.message, "not both"));
    char **none = ARGV("run");
    assert_int_equal(args_parse_run(ARGC(none), none, &a, &err), -1);
    assert_non_null(strstr(err.message, "nothing to run"));
    /* --cpu/--mem size a new VM; with --session there is none to size. */
    char **sized = ARGV("run", "--session", "s1", "--cpu", "2", "--", "true");
    assert_int_equal(args_parse_run(ARGC(sized), sized, &a, &err), -1);
    assert_non_null(strstr(err.message, "--session"));
    char **bad_timeout = ARGV("run", "--timeout", "0", "--", "true");
    assert_int_equal(args_parse_run(ARGC(bad_timeout), bad_timeout, &a, &err), -1);
    char **addr = ARGV("run", "--addr", "127.0.0.1:1", "--", "true");
    assert_int_equal(args_parse_run(ARGC(addr), addr, &a, &err), 0);
    assert_string_equal(a.target.addr, "127.0.0.1:1");
    assert_null(a.target.socket_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_up_defaults),
        cmocka_unit_test(test_up_options),
        cmocka_unit_test(test_up_errors),
        cmocka_unit_test(test_run_command),
        cmocka_unit_test(test_run_command_options_are_its_own),
        cmocka_unit_test(test_run_python_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
