/* Allocation failure in the Rego engine (mem.h): with the C library
 * refusing the Nth allocation (or the Nth and every one after it), for every
 * N across a whole load, compile and evaluation, the engine returns an error
 * each time the failure happened and the right answer each time it did not;
 * it never aborts, and nothing leaks (the sanitizer checks the heap at exit;
 * the reserve is checked here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rego/rego.h"
#include "rego/mem.h" /* last (mem.h) */

/* A policy that exercises the parser, the compiler, the rule index, the
 * evaluator and a range of builtins (strings, regex, sprintf, sets,
 * objects, comprehensions, JSON), shaped like a decision. */
static const char POLICY[] =
    "package t\n"
    "import rego.v1\n"
    "default allow := false\n"
    "allow if { count(deny) == 0; input.action == \"exec\" }\n"
    "deny contains msg if {\n"
    "  not input.argv[0] in data.cfg.allowed\n"
    "  msg := sprintf(\"%s may not run (allowed: %v)\", [input.argv[0], data.cfg.allowed])\n"
    "}\n"
    "deny contains \"network\" if { some a in input.argv; regex.match(`^https?://`, a) }\n"
    "deny contains concat(\" \", [\"long\", \"argv\"]) if count(input.argv) > 8\n"
    "words := {w | some a in input.argv; some w in split(a, \" \")}\n"
    "env := {k: upper(v) | some k, v in input.env; startswith(k, \"ENC_\")}\n"
    "decision := {\"allow\": allow, \"reasons\": sort(deny), \"words\": count(words),\n"
    "             \"env\": env, \"doc\": json.marshal({\"n\": sum([1, 2, 3])})}\n"
    "test_allowed if { decision.allow with input as {\"action\": \"exec\", \"argv\": [\"python3\"]} }\n";
static const char DATA[] = "{\"cfg\": {\"allowed\": [\"python3\", \"ls\"]}}";
static const char INPUT[] =
    "{\"action\": \"exec\", \"argv\": [\"python3\", \"-c\", \"print(1) and more words\", "
    "\"http://x\"], \"env\": {\"ENC_A\": \"x\", \"OTHER\": \"y\"}}";

/* The decision as the gate asks for it, as JSON text. */
static int eval_value(struct rego_query *q, char **out, struct rego_error *err)
{
    json_error_t je;
    json_t *in = json_loads(INPUT, 0, &je);
    assert_non_null(in);
    json_t *v = NULL;
    int rc = rego_query_eval_value(q, in, &v, err);
    json_decref(in);
    if (rc == 0) {
        assert_non_null(v);
        *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(v);
    }
    return rc;
}

/* The whole life cycle. 0 with the decision's JSON in *out, or -1 with err. */
static int life_cycle(char **out, struct rego_error *err)
{
    *out = NULL;
    struct rego *r = rego_new();
    if (r == NULL)
        return -1;
    int rc = rego_add_module(r, "t.rego", POLICY, strlen(POLICY), err);
    if (rc == 0)
        rc = rego_add_data_json(r, DATA, strlen(DATA), err);
    if (rc == 0)
        rc = rego_compile(r, err);
    struct rego_query *q = NULL, *t = NULL;
    if (rc == 0 && (q = rego_prepare(r, "data.t.decision", err)) == NULL)
        rc = -1;
    if (rc == 0)
        rc = eval_value(q, out, err);
    /* the bundle's own test, as policy bundles run them */
    char *test = NULL;
    if (rc == 0 && (t = rego_prepare(r, "data.t.test_allowed", err)) == NULL)
        rc = -1;
    if (rc == 0)
        rc = rego_query_eval(t, NULL, 0, &test, err);
    if (rc == 0 && strcmp(test, "[{}]") != 0)
        rc = -2;
    free(test);
    rego_query_free(t);
    rego_query_free(q);
    rego_free(r);
    if (rc < 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static bool is_oom(const struct rego_error *err)
{
    return strcmp(err->code, "eval_budget_error") == 0 && strstr(err->message, "out of memory") != NULL;
}

static void run_faults(bool sticky)
{
    struct rego_error err;
    char *expected = NULL;
    uint64_t a0 = rg_allocations();
    assert_int_equal(life_cycle(&expected, &err), 0);
    uint64_t total = rg_allocations() - a0;
    assert_non_null(strstr(expected, "\"network\""));
    assert_true(total > 500); /* the loop below covers a real amount of work */

    unsigned failed_runs = 0;
    for (uint64_t n = 1; n <= total + 10; n++) {
        uint64_t f0 = rg_failures();
        rg_fail_at(n, sticky);
        char *out = NULL;
        memset(&err, 0, sizeof(err));
        int rc = life_cycle(&out, &err);
        rg_fail_at(0, false);
        bool hit = rg_failures() != f0;
        if (hit) {
            /* The refused allocation became an error, never an answer. */
            if (rc != -1 || !is_oom(&err))
                fail_msg("allocation %llu of %llu failed (%s): rc %d, %s: %s", (unsigned long long)n,
                         (unsigned long long)total, sticky ? "and all after" : "alone", rc, err.code,
                         err.message);
            failed_runs++;
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(out, expected);
        }
        free(out);
        assert_int_equal(rg_reserve_live(), 0);
    }
    /* Every allocation of the life cycle was made to fail once. */
    assert_true(failed_runs >= total);
    free(expected);
}

static void test_each_allocation_fails_alone(void **state)
{
    (void)state;
    run_faults(false);
}

static void test_from_each_allocation_on_everything_fails(void **state)
{
    (void)state;
    run_faults(true);
}

/* A compiled engine and a prepared query survive a failed evaluation: the
 * next one, with memory, gives the right answer. */
static void test_query_survives_a_failed_evaluation(void **state)
{
    (void)state;
    struct rego_error err;
    struct rego *r = rego_new();
    assert_int_equal(rego_add_module(r, "t.rego", POLICY, strlen(POLICY), &err), 0);
    assert_int_equal(rego_add_data_json(r, DATA, strlen(DATA), &err), 0);
    struct rego_query *q = rego_prepare(r, "data.t.decision", &err);
    assert_non_null(q);
    char *expected = NULL;
    assert_int_equal(eval_value(q, &expected, &err), 0); /* fills the query's caches */
    free(expected);
    uint64_t a0 = rg_allocations();
    assert_int_equal(eval_value(q, &expected, &err), 0);
    uint64_t total = rg_allocations() - a0;
    assert_true(total > 20);
    unsigned hits = 0;
    for (uint64_t n = 1; n <= total; n++) {
        char *out = NULL;
        uint64_t f0 = rg_failures();
        rg_fail_at(n, n % 2 == 0);
        int rc = eval_value(q, &out, &err);
        rg_fail_at(0, false);
        if (rg_failures() != f0) {
            hits++;
            assert_int_equal(rc, -1);
            assert_true(is_oom(&err));
            assert_null(out);
        } else {
            assert_int_equal(rc, 0);
            free(out);
        }
        out = NULL;
        if (eval_value(q, &out, &err) != 0)
            fail_msg("after allocation %llu of %llu failed, the next evaluation: %s: %s",
                     (unsigned long long)n, (unsigned long long)total, err.code, err.message);
        assert_string_equal(out, expected);
        free(out);
    }
    assert_int_equal(hits, total);
    free(expected);
    rego_query_free(q);
    rego_free(r);
    assert_int_equal(rg_reserve_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_allocation_fails_alone),
        cmocka_unit_test(test_from_each_allocation_on_everything_fails),
        cmocka_unit_test(test_query_survives_a_failed_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
