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

static void test_pool(void **state)
{
    struct error err;
    struct daemon_pool p;
    assert_int_equal(args_parse_pool("3", &p, &err), 0);
    assert_int_equal(p.size, 3);
    assert_string_equal(p.image, "");
    assert_int_equal(p.vcpus, 0);
    assert_int_equal(args_parse_pool("default=4", &p, &err), 0);
    assert_string_equal(p.image, "default");
    assert_int_equal(p.size, 4);
    assert_int_equal(args_parse_pool("numpy:2x1024=2", &p, &err), 0);
    assert_string_equal(p.image, "numpy");
    assert_int_equal(p.vcpus, 2);
    assert_int_equal(p.mem_mb, 1024);
    assert_int_equal(p.size, 2);
    assert_int_equal(args_parse_pool("0", &p, &err), 0);
    assert_int_equal(p.size, 0);
    static const char *const bad[] = {
        "", "-1", "65", "x", "=1", "a=", "a=b", ".a=1", "-a=1", "a b=1", "a/b=1", "a:=1",
        "a:2=1", "a:x512=1", "a:2x=1", "a:0x512=1", "a:17x512=1", "a:1x127=1", "a:1x99999=1",
        "a:1x512x3=1", "a:1x512:1x512=1", "default=1,", "default==1",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",
        "a:1111111111111111111111111111111111111111x512=1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct daemon_pool q = {.size = 99};
        err.message[0] = '\0';
        if (args_parse_pool(bad[i], &q, &err) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_true(err.message[0] != '\0');
        assert_int_equal(q.size, 99); /* untouched */
    }
    /* A 64-character name is the longest. */
    char name[80];
    memset(name, 'n', 64);
    snprintf(name + 64, sizeof(name) - 64, "=1");
    assert_int_equal(args_parse_pool(name, &p, &err), 0);
    assert_int_equal(strlen(p.image), 64);
}

static void test_up_pool_flags(void **state)
{
    struct error err;
    struct up_args a;
    char **v = ARGV("up", "--pool", "2", "--pool", "numpy:2x1024=1");
    assert_int_equal(args_parse_up(ARGC(v), v, &a, &err), 0);
    assert_true(a.daemon.pools_set);
    assert_int_equal(a.daemon.n_pools, 2);
    char **none = ARGV("up", "--pool", "0");
    assert_int_equal(args_parse_up(ARGC(none), none, &a, &err), 0);
    assert_true(a.daemon.pools_set);
    assert_int_equal(a.daemon.n_pools, 0);
    char **dflt = ARGV("up");
    assert_int_equal(args_parse_up(ARGC(dflt), dflt, &a, &err), 0);
    assert_false(a.daemon.pools_set);
    char **twice = ARGV("up", "--pool", "default=1", "--pool", "default=2");
    assert_int_equal(args_parse_up(ARGC(twice), twice, &a, &err), -1);
    assert_non_null(strstr(err.message, "twice"));
}

static void test_up_restore_flag(void **state)
{
    struct error err;
    struct up_args a;
    char **dflt = ARGV("up");
    assert_int_equal(args_parse_up(ARGC(dflt), dflt, &a, &err), 0);
    assert_true(a.daemon.restore); /* on unless asked */
    char **off = ARGV("up", "--restore", "off");
    assert_int_equal(args_parse_up(ARGC(off), off, &a, &err), 0);
    assert_false(a.daemon.restore);
    char **on = ARGV("up", "--restore=on");
    assert_int_equal(args_parse_up(ARGC(on), on, &a, &err), 0);
    assert_true(a.daemon.restore);
    static const char *const bad[] = {"", "yes", "ON", "1", "off ", "of"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char **v = ARGV("up", "--restore", (char *)bad[i]);
        assert_int_equal(args_parse_up(ARGC(v), v, &a, &err), -1);
        assert_non_null(strstr(err.message, "--restore must be on or off"));
    }
}

static void test_auto_pool(void **state)
{
    char why[160];
    assert_int_equal(daemon_auto_pool(64 * 1024, 2, 512, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "CPUs"));
    assert_int_equal(daemon_auto_pool(3 * 1024, 16, 512, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "MiB available"));
    assert_int_equal(daemon_auto_pool(0, 16, 512, why, sizeof(why)), 0);
    unsigned n = daemon_auto_pool(12 * 1024, 8, 512, why, sizeof(why));
    assert_true(n >= 1 && n <= 4);
    assert_int_equal(daemon_auto_pool(1024 * 1024, 64, 512, why, sizeof(why)), 4); /* small, always */
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

/* The options up, run and session share: one set of bounds for all three. */
static void test_shared_options(void **state)
{
    unsigned vcpus = 0, mem = 0, timeout = 0;
    const char *python = NULL;
    struct client_target target = {.addr = "127.0.0.1:7339"};
    const struct args_shared all = {.vcpus = &vcpus, .mem_mb = &mem, .timeout_s = &timeout,
                                    .python_file = &python, .target = &target};
    struct error err;
    assert_int_equal(args_parse_shared("cpu", "16", &all, &err), 0);
    assert_int_equal(vcpus, 16);
    assert_int_equal(args_parse_shared("mem", "128", &all, &err), 0);
    assert_int_equal(mem, 128);
    assert_int_equal(args_parse_shared("timeout", "86400", &all, &err), 0);
    assert_int_equal(timeout, 86400);
    assert_int_equal(args_parse_shared("python", "-", &all, &err), 0);
    assert_string_equal(python, "-");
    assert_int_equal(args_parse_shared("socket", "/run/e.sock", &all, &err), 0);
    assert_string_equal(target.socket_path, "/run/e.sock");
    assert_int_equal(args_parse_shared("addr", "127.0.0.1:1", &all, &err), 0);
    assert_null(target.socket_path); /* the later of the two wins */
    /* Out of bounds or not numbers: refused, the value unchanged. */
    const char *bad_cpu[] = {"0", "17", "-1", "1x", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_cpu) / sizeof(bad_cpu[0]); i++) {
        assert_int_equal(args_parse_shared("cpu", bad_cpu[i], &all, &err), -1);
        assert_int_equal(vcpus, 16);
    }
    assert_int_equal(args_parse_shared("mem", "127", &all, &err), -1);
    assert_int_equal(args_parse_shared("mem", "16385", &all, &err), -1);
    assert_int_equal(args_parse_shared("timeout", "0", &all, &err), -1);
    assert_int_equal(args_parse_shared("timeout", "86401", &all, &err), -1);
    /* A verb that does not take an option refuses it. */
    const struct args_shared only_size = {.vcpus = &vcpus, .mem_mb = &mem};
    assert_int_equal(args_parse_shared("timeout", "5", &only_size, &err), -1);
    assert_int_equal(args_parse_shared("addr", "127.0.0.1:1", &only_size, &err), -1);
    /* up, run and session apply the same bounds. */
    char **up = ARGV("up", "--cpu", "17");
    struct up_args u;
    assert_int_equal(args_parse_up(ARGC(up), up, &u, &err), -1);
    char **run = ARGV("run", "--mem", "16385", "--", "true");
    struct run_args r;
    assert_int_equal(args_parse_run(ARGC(run), run, &r, &err), -1);
    char **ok = ARGV("run", "--cpu", "2", "--mem", "1024", "--timeout", "9", "--", "true");
    assert_int_equal(args_parse_run(ARGC(ok), ok, &r, &err), 0);
    assert_int_equal(r.vcpus, 2);
    assert_int_equal(r.mem_mb, 1024);
    assert_int_equal(r.timeout_s, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_up_pool_flags),
        cmocka_unit_test(test_up_restore_flag),
        cmocka_unit_test(test_auto_pool),
        cmocka_unit_test(test_up_defaults),
        cmocka_unit_test(test_up_options),
        cmocka_unit_test(test_up_errors),
        cmocka_unit_test(test_run_command),
        cmocka_unit_test(test_run_command_options_are_its_own),
        cmocka_unit_test(test_run_python_and_errors),
        cmocka_unit_test(test_shared_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
