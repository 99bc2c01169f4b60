/* policy_load_path: what `enclave policy eval/test` load is what a bundle
 * loads (the same files, the same limits, the same refusals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/test_dir.h"
#include "policy/policy.h"
#include "rego/rego.h"

static const char *const dir = test_dir;

static void put(const char *rel, const char *text)
{
    test_put_file(dir, rel, text);
}

static char *path_of(const char *rel)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
    return path;
}

/* The value of query after loading paths; NULL when undefined. */
static json_t *eval(struct rego *r, const char *query)
{
    struct rego_error re = {0};
    assert_int_equal(rego_compile(r, &re), 0);
    struct rego_query *q = rego_prepare(r, query, &re);
    assert_non_null(q);
    json_t *v = NULL;
    assert_int_equal(rego_query_eval_value(q, NULL, &v, &re), 0);
    rego_query_free(q);
    return v;
}

static void test_folder_and_files(void **state)
{
    (void)state;
    assert_int_equal(mkdir(path_of("a"), 0700), 0);
    assert_int_equal(mkdir(path_of("a/b"), 0700), 0);
    put("a/b/data.json", "{\"x\": 5}");
    put("t.rego", "package t\nimport rego.v1\ny := data.a.b.x + 1\n");
    put("notes.txt", "not a policy");
    put(".hidden.rego", "package broken\ny := [");
    /* A link to a broken module is skipped, as the daemon skips it. */
    char target[256];
    snprintf(target, sizeof(target), "%s", path_of(".hidden.rego"));
    assert_int_equal(symlink(target, path_of("link.rego")), 0);
    struct rego *r = rego_new();
    struct error err = {0};
    assert_int_equal(policy_load_path(r, dir, NULL, &err), 0);
    json_t *v = eval(r, "data.t.y");
    assert_non_null(v);
    assert_int_equal(json_integer_value(v), 6);
    json_decref(v);
    rego_free(r);

    /* One .json file on its own lands at the root. */
    r = rego_new();
    assert_int_equal(policy_load_path(r, path_of("a/b/data.json"), NULL, &err), 0);
    v = eval(r, "data.x");
    assert_non_null(v);
    assert_int_equal(json_integer_value(v), 5);
    json_decref(v);
    rego_free(r);
}

static void test_refusals(void **state)
{
    (void)state;
    struct error err = {0};
    struct rego *r = rego_new();
    /* Data that is not an object: refused by the CLI as by the daemon. */
    put("list.json", "[1, 2]");
    assert_true(policy_load_path(r, path_of("list.json"), NULL, &err) < 0);
    assert_non_null(strstr(err.message, "data must be a JSON object"));
    put("dup.json", "{\"a\": 1, \"a\": 2}");
    assert_true(policy_load_path(r, path_of("dup.json"), NULL, &err) < 0);
    /* The per-file limit. */
    struct policy_limits lim = {.max_file_bytes = 16};
    put("long.rego", "package long\nx := \"a string longer than sixteen bytes\"\n");
    assert_true(policy_load_path(r, path_of("long.rego"), &lim, &err) < 0);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    /* A module that does not parse names its file. */
    put("bad.rego", "package bad\ny := [");
    assert_true(policy_load_path(r, path_of("bad.rego"), NULL, &err) < 0);
    assert_non_null(strstr(err.message, "bad.rego"));
    assert_true(policy_load_path(r, path_of("missing"), NULL, &err) < 0);
    rego_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folder_and_files),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
