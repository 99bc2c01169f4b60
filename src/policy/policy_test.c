/* Bundles (loading, digest, refusal with file:line), decisions (schema,
 * deny on undefined / error / budget / time), ApplyPolicy documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/test_dir.h"
#include "policy/internal.h"
#include "policy/policy.h"
#include "rego/mem.h" /* last: the fault injection (rg_fail_at) */

#define EXEC_INPUT                                                                               \
    "{\"action\":\"exec\",\"session\":{\"id\":\"s\",\"labels\":{},\"intent\":{}},"               \
    "\"request\":{\"tool\":\"python\",\"argv\":[\"python3\",\"-c\",\"print(1)\"],"                 \
    "\"cwd\":\"/workspace\",\"timeout_s\":30,\"stdin_bytes\":0,\"context\":{}},"                   \
    "\"caller\":{\"transport\":\"grpc\",\"peer\":\"\"},\"time\":{\"unix_ns\":0}}"

static struct policy_bundle *load_text(const char *text, struct error *err)
{
    struct policy_file f = {"p.rego", text, strlen(text)};
    struct policy_bundle *b = NULL;
    if (policy_bundle_load_files(&f, 1, NULL, &b, err) < 0)
        return NULL;
    return b;
}

static void decide_text(struct policy_bundle *b, const char *input, struct policy_decision *d)
{
    json_t *in = json_loads(input, 0, NULL);
    assert_non_null(in);
    policy_decide(b, in, d);
    json_decref(in);
}

static bool reasons_contain(const struct policy_decision *d, const char *text)
{
    size_t i;
    json_t *r;
    json_array_foreach(d->reasons, i, r) {
        if (strstr(json_string_value(r), text))
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ the constitution */

static void test_builtin_loads_and_decides(void **state)
{
    struct error err;
    struct policy_bundle *b = NULL;
    assert_int_equal(policy_bundle_load_builtin(NULL, &b, &err), 0);
    assert_int_equal(strlen(policy_bundle_digest(b)), 64);
    assert_int_equal(strspn(policy_bundle_digest(b), "0123456789abcdef"), 64);
    assert_true(policy_bundle_test_count(b) > 20);
    struct policy_decision d;
    decide_text(b, EXEC_INPUT, &d);
    assert_true(d.allow);
    assert_int_equal(d.outcome, POLICY_DECIDED);
    assert_int_equal(d.timeout_s, 600);
    assert_int_equal(d.max_output_bytes, 1048576);
    policy_decision_release(&d);

    const char *shell = "{\"action\":\"exec\",\"session\":{\"id\":\"s\",\"intent\":{}},"
                        "\"request\":{\"tool\":\"exec\",\"argv\":[\"sh\",\"-c\",\"id\"],"
                        "\"cwd\":\"/workspace\",\"timeout_s\":30,\"stdin_bytes\":0,\"context\":{}}}";
    decide_text(b, shell, &d);
    assert_false(d.allow);
    assert_true(reasons_contain(&d, "only python3 may run"));
    assert_int_equal(d.timeout_s, 0);
    policy_decision_release(&d);

    decide_text(b, "{\"action\":\"reboot\"}", &d);
    assert_false(d.allow);
    assert_true(reasons_contain(&d, "unknown action"));
    policy_decision_release(&d);

    /* Not an object: the constitution refuses (no action). */
    json_t *s = json_string("x");
    policy_decide(b, s, &d);
    json_decref(s);
    assert_false(d.allow);
    policy_decision_release(&d);
    policy_bundle_free(b);
}

/* ------------------------------------------------------------ digest */

static const char *MOD_A = "package enclave\n\ndecision := {\"allow\": data.x.on}\n";
static const char *MOD_B = "package enclave\n\ntest_on if data.x.on\n";

static void test_digest_is_canonical(void **state)
{
    struct error err;
    const char *data = "{\"x\": {\"on\": true}}";
    struct policy_file one[] = {
        {"a.rego", MOD_A, strlen(MOD_A)},
        {"sub/b.rego", MOD_B, strlen(MOD_B)},
        {"data.json", data, strlen(data)},
    };
    struct policy_file two[] = {one[2], one[1], one[0]};
    struct policy_bundle *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL;
    assert_int_equal(policy_bundle_load_files(one, 3, NULL, &b1, &err), 0);
    assert_int_equal(policy_bundle_load_files(two, 3, NULL, &b2, &err), 0);
    assert_string_equal(policy_bundle_digest(b1), policy_bundle_digest(b2));
    assert_int_equal(policy_bundle_test_count(b1), 1);

    /* The same files from a directory: the same digest. Hidden and other files are not part of it. */
    char dir[] = "/tmp/policy-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    test_put_file(dir, "a.rego", MOD_A);
    test_put_file(dir, "sub/b.rego", MOD_B);
    test_put_file(dir, "data.json", data);
    test_put_file(dir, "README.md", "not part of the bundle");
    test_put_file(dir, ".hidden.rego", "package broken {");
    assert_int_equal(policy_bundle_load_dir(dir, NULL, &b3, &err), 0);
    assert_string_equal(policy_bundle_digest(b1), policy_bundle_digest(b3));

    /* One byte changed: another digest. */
    const char *data2 = "{\"x\": {\"on\": 1   }}";
    struct policy_file three[] = {one[0], one[1], {"data.json", data2, strlen(data2)}};
    assert_int_equal(policy_bundle_load_files(three, 3, NULL, &b4, &err), 0);
    assert_string_not_equal(policy_bundle_digest(b1), policy_bundle_digest(b4));

    /* A test that fails refuses the bundle, naming where the test is. */
    struct policy_bundle *b5 = NULL;
    struct policy_file s1[] = {{"a.rego", MOD_A, strlen(MOD_A)}, {"b.rego", MOD_B, strlen(MOD_B)}};
    assert_int_equal(policy_bundle_load_files(s1, 2, NULL, &b5, &err), -1); /* data.x.on undefined */
    assert_non_null(strstr(err.message, "b.rego:3"));
    assert_null(b5);

    policy_bundle_free(b1);
    policy_bundle_free(b2);
    policy_bundle_free(b3);
    policy_bundle_free(b4);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ------------------------------------------------------------ refusal */

static void test_refusals_name_file_and_line(void **state)
{
    struct error err;
    struct policy_bundle *b = NULL;
    struct policy_file parse[] = {{"ok.rego", MOD_A, strlen(MOD_A)},
                                  {"bad.rego", "package enclave\n\nx := {\n", 22}};
    assert_int_equal(policy_bundle_load_files(parse, 2, NULL, &b, &err), -1);
    assert_non_null(strstr(err.message, "bad.rego:"));
    assert_non_null(strstr(err.message, "does not parse"));

    struct policy_file unsafe[] = {{"u.rego", "package enclave\n\ndecision := {\"allow\": y}\n", 41}};
    assert_int_equal(policy_bundle_load_files(unsafe, 1, NULL, &b, &err), -1);
    assert_non_null(strstr(err.message, "u.rego:3"));

    const char *failing = "package enclave\n\ndecision := {\"allow\": true}\n\n"
                          "test_good if true\n\ntest_bad if {\n  1 == 2\n}\n";
    struct policy_file tests[] = {{"t.rego", failing, strlen(failing)}};
    assert_int_equal(policy_bundle_load_files(tests, 1, NULL, &b, &err), -1);
    assert_non_null(strstr(err.message, "t.rego:7"));
    assert_non_null(strstr(err.message, "test_bad"));

    const char *erroring = "package enclave\n\ndecision := {\"allow\": true}\n\n"
                           "test_conflict if f(1)\n\nf(x) := 1\nf(x) := 2\n";
    struct policy_file et[] = {{"e.rego", erroring, strlen(erroring)}};
    assert_int_equal(policy_bundle_load_files(et, 1, NULL, &b, &err), -1);
    assert_non_null(strstr(err.message, "test_conflict"));

    /* a bundle whose test allocates without bound is refused, with the
     * memory budget named; the process goes on */
    const char *hungry = "package enclave\n\ndecision := {\"allow\": true}\n\n"
                         "test_hungry if {\n"
                         "  a := [[x | some x in numbers.range(2000, 2000 + i)] | some i in numbers.range(1, 100000)]\n"
                         "  count(a) > 0\n}\n";
    struct policy_limits mem = {.max_test_steps = 1ULL << 40, .max_test_memory = 16u << 20};
    struct policy_file ht[] = {{"h.rego", hungry, strlen(hungry)}};
    assert_int_equal(policy_bundle_load_files(ht, 1, &mem, &b, &err), -1);
    assert_non_null(strstr(err.message, "test_hungry"));
    assert_non_null(strstr(err.message, "eval_budget_error"));
    assert_non_null(strstr(err.message, "memory budget exceeded"));

    const char *nodecision = "package enclave\n\nallow := true\n";
    assert_null(load_text(nodecision, &err));
    assert_non_null(strstr(err.message, "data.enclave.decision"));

    struct policy_file data_bad[] = {{"p.rego", MOD_A, strlen(MOD_A)}, {"data.json", "[1]", 3}};
    assert_int_equal(policy_bundle_load_files(data_bad, 2, NULL, &b, &err), -1);
    assert_non_null(strstr(err.message, "data.json"));

    struct policy_file none[] = {{"data.json", "{}", 2}};
    assert_int_equal(policy_bundle_load_files(none, 1, NULL, &b, &err), -1);
    assert_non_null(strstr(err.message, "no .rego module"));

    /* Limits: a file over max_file_bytes, a duplicate path. */
    struct policy_limits lim = {.max_file_bytes = 16};
    struct policy_file big[] = {{"p.rego", MOD_A, strlen(MOD_A)}};
    assert_int_equal(policy_bundle_load_files(big, 1, &lim, &b, &err), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    struct policy_file dup[] = {{"p.rego", MOD_A, strlen(MOD_A)}, {"p.rego", MOD_A, strlen(MOD_A)}};
    assert_int_equal(policy_bundle_load_files(dup, 2, NULL, &b, &err), -1);
    assert_non_null(strstr(err.message, "twice"));

    assert_int_equal(policy_bundle_load_dir("/nonexistent/policy", NULL, &b, &err), -1);
}

/* ------------------------------------------------------------ decision schema */

static void check_value(const char *json, bool allow, enum policy_outcome outcome, const char *reason)
{
    json_t *v = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    if (json)
        assert_non_null(v);
    struct policy_decision d;
    policy_decision_from_value(v, &d);
    json_decref(v);
    if (d.allow != allow || d.outcome != outcome || (reason && !reasons_contain(&d, reason))) {
        char *r = json_dumps(d.reasons, 0);
        fail_msg("%s: allow=%d outcome=%s reasons=%s", json ? json : "(undefined)", d.allow,
                 policy_outcome_name(d.outcome), r);
    }
    assert_true(json_is_array(d.reasons));
    policy_decision_release(&d);
}

static void test_decision_schema(void **state)
{
    check_value(NULL, false, POLICY_UNDEFINED, "undefined");
    check_value("true", false, POLICY_MALFORMED, "must be an object");
    check_value("[]", false, POLICY_MALFORMED, "must be an object");
    check_value("{}", false, POLICY_MALFORMED, "allow must be a boolean");
    check_value("{\"allow\": \"yes\"}", false, POLICY_MALFORMED, "allow must be a boolean");
    check_value("{\"allow\": 1}", false, POLICY_MALFORMED, "allow must be a boolean");
    check_value("{\"allow\": true, \"reasons\": \"ok\"}", false, POLICY_MALFORMED, "reasons");
    check_value("{\"allow\": true, \"reasons\": [1]}", false, POLICY_MALFORMED, "reasons[0]");
    check_value("{\"allow\": true, \"obligations\": []}", false, POLICY_MALFORMED, "obligations");
    check_value("{\"allow\": true, \"obligations\": {\"mounts\": 1}}", false, POLICY_MALFORMED,
                "unknown obligation 'mounts'");
    check_value("{\"allow\": true, \"obligations\": {\"timeout_s\": 0}}", false, POLICY_MALFORMED, "timeout_s");
    check_value("{\"allow\": true, \"obligations\": {\"timeout_s\": -5}}", false, POLICY_MALFORMED, "timeout_s");
    check_value("{\"allow\": true, \"obligations\": {\"timeout_s\": 1.5}}", false, POLICY_MALFORMED, "timeout_s");
    check_value("{\"allow\": true, \"obligations\": {\"timeout_s\": \"2\"}}", false, POLICY_MALFORMED, "timeout_s");
    check_value("{\"allow\": true, \"obligations\": {\"max_output_bytes\": 0}}", false, POLICY_MALFORMED,
                "max_output_bytes");
    check_value("{\"allow\": true, \"obligations\": {\"env_allowlist\": [\"A=B\"]}}", false, POLICY_MALFORMED,
                "env_allowlist[0]");
    check_value("{\"allow\": true, \"obligations\": {\"env_allowlist\": \"PATH\"}}", false, POLICY_MALFORMED,
                "env_allowlist");
    /* egress obligations */
    check_value("{\"allow\": true, \"obligations\": {\"max_bytes\": 0}}", false, POLICY_MALFORMED, "max_bytes");
    check_value("{\"allow\": true, \"obligations\": {\"egress_max_bytes\": \"1\"}}", false, POLICY_MALFORMED,
                "egress_max_bytes");
    check_value("{\"allow\": true, \"obligations\": {\"egress_timeout_s\": 0}}", false, POLICY_MALFORMED,
                "egress_timeout_s");
    check_value("{\"allow\": true, \"obligations\": {\"allow_addresses\": \"10.0.0.0/8\"}}", false,
                POLICY_MALFORMED, "allow_addresses must be an array");
    check_value("{\"allow\": true, \"obligations\": {\"allow_addresses\": [\"10.0.0.0/33\"]}}", false,
                POLICY_MALFORMED, "allow_addresses[0]");
    check_value("{\"allow\": true, \"obligations\": {\"allow_addresses\": [\"::1\", \"example.com\"]}}", false,
                POLICY_MALFORMED, "allow_addresses[1]");
    check_value("{\"allow\": true, \"obligations\": {\"allow_addresses\": [\"10.0.0.0/8\", \"fd00::/8\", \"127.0.0.1\"],"
                " \"max_bytes\": 10, \"timeout_s\": 5}}", true, POLICY_DECIDED, NULL);
    /* inject_secret: hostile names, headers and formats */
    static const char *const bad_inject[][2] = {
        {"\"api\"", "must be an object"},
        {"{}", "inject_secret.name"},
        {"{\"name\": \"../x\"}", "inject_secret.name"},
        {"{\"name\": \"..\"}", "inject_secret.name"},
        {"{\"name\": \"a/b\"}", "inject_secret.name"},
        {"{\"name\": 5}", "inject_secret.name must be a string"},
        {"{\"name\": \"a\", \"value\": \"x\"}", "unknown field 'value'"},
        {"{\"name\": \"a\", \"header\": \"Host\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"content-length\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"Transfer-Encoding\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"Connection\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"Proxy-Authorization\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"X-A\\r\\nHost: evil\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"X A\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"X:A\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"header\": \"\"}", "inject_secret.header"},
        {"{\"name\": \"a\", \"format\": \"Bearer\"}", "inject_secret.format"},
        {"{\"name\": \"a\", \"format\": \"%s %s\"}", "inject_secret.format"},
        {"{\"name\": \"a\", \"format\": \"%n%s\"}", "inject_secret.format"},
        {"{\"name\": \"a\", \"format\": \"%%%s\"}", "inject_secret.format"},
        {"{\"name\": \"a\", \"format\": \"%s\\r\\nX-Evil: 1\"}", "inject_secret.format"},
        {"{\"name\": \"a\", \"format\": \"%s\\u00e9\"}", "inject_secret.format"},
        {"{\"name\": \"a\", \"format\": \"%\"}", "inject_secret.format"},
    };
    for (size_t i = 0; i < sizeof(bad_inject) / sizeof(*bad_inject); i++) {
        char doc[300];
        snprintf(doc, sizeof(doc), "{\"allow\": true, \"obligations\": {\"inject_secret\": %s}}", bad_inject[i][0]);
        check_value(doc, false, POLICY_MALFORMED, bad_inject[i][1]);
    }
    check_value("{\"allow\": false}", false, POLICY_DECIDED, "no reason given");
    check_value("{\"allow\": false, \"reasons\": [\"mine\"]}", false, POLICY_DECIDED, "mine");
    check_value("{\"allow\": true}", true, POLICY_DECIDED, NULL);

    json_t *v = json_loads("{\"allow\": true, \"reasons\": [\"fine\"], \"obligations\": {\"timeout_s\": 2.0,"
                           " \"max_output_bytes\": 4096, \"env_allowlist\": [\"LANG\", \"PYTHONHASHSEED\"]}}",
                           0, NULL);
    struct policy_decision d;
    policy_decision_from_value(v, &d);
    json_decref(v);
    assert_true(d.allow);
    assert_int_equal(d.timeout_s, 2);
    assert_int_equal(d.max_output_bytes, 4096);
    assert_int_equal(json_array_size(d.env_allowlist), 2);
    policy_decision_release(&d);

    v = json_loads("{\"allow\": true, \"obligations\": {\"max_bytes\": 100, \"allow_addresses\": [\"10.0.0.0/8\"],"
                   " \"egress_max_bytes\": 5000, \"egress_timeout_s\": 60}}", 0, NULL);
    policy_decision_from_value(v, &d);
    json_decref(v);
    assert_true(d.allow);
    assert_int_equal(d.max_bytes, 100);
    assert_int_equal(d.egress_max_bytes, 5000);
    assert_int_equal(d.egress_timeout_s, 60);
    assert_int_equal(json_array_size(d.allow_addresses), 1);
    policy_decision_release(&d);

    v = json_loads("{\"allow\": true, \"obligations\": {\"inject_secret\": {\"name\": \"gh-token\"}}}", 0, NULL);
    policy_decision_from_value(v, &d);
    json_decref(v);
    assert_true(d.allow);
    assert_string_equal(json_string_value(json_object_get(d.inject_secret, "name")), "gh-token");
    assert_string_equal(json_string_value(json_object_get(d.inject_secret, "header")), "Authorization");
    assert_string_equal(json_string_value(json_object_get(d.inject_secret, "format")), "Bearer %s");
    policy_decision_release(&d);
    v = json_loads("{\"allow\": true, \"obligations\": {\"inject_secret\": {\"name\": \"k\", \"header\": \"X-Api-Key\","
                   " \"format\": \"%s\"}}}", 0, NULL);
    policy_decision_from_value(v, &d);
    json_decref(v);
    assert_true(d.allow);
    assert_string_equal(json_string_value(json_object_get(d.inject_secret, "header")), "X-Api-Key");
    assert_string_equal(json_string_value(json_object_get(d.inject_secret, "format")), "%s");
    policy_decision_release(&d);
    v = json_loads("{\"allow\": false, \"obligations\": {\"inject_secret\": {\"name\": \"k\"}}}", 0, NULL);
    policy_decision_from_value(v, &d);
    json_decref(v);
    assert_null(d.inject_secret);
    policy_decision_release(&d);

    /* Obligations on a deny are dropped. */
    v = json_loads("{\"allow\": false, \"obligations\": {\"timeout_s\": 2, \"allow_addresses\": [\"10.0.0.0/8\"]}}", 0,
                   NULL);
    policy_decision_from_value(v, &d);
    json_decref(v);
    assert_false(d.allow);
    assert_int_equal(d.timeout_s, 0);
    assert_null(d.allow_addresses);
    policy_decision_release(&d);
}

/* ------------------------------------------------------------ deny on failure */

/* Each way a decision fails, and the outcome that denies: the policy, its
 * limits (NULL: none), the input, and a reason the decision must give. */
static const struct policy_limits steps_100k = {.max_steps = 100000};
/* The step budget generous: the memory budget stops it (a refusal, not an abort). */
static const struct policy_limits mem_8m = {.max_steps = 1ULL << 40, .max_eval_ms = 600000, .max_memory = 8u << 20};
/* A generous budget and a 1 ms wall-clock limit: millions of steps take longer. */
static const struct policy_limits slow_1ms = {.max_steps = 100000000, .max_eval_ms = 1, .max_memory = 1u << 30};

#define HEAVY                                                                                              \
    "package enclave\n\ndecision := {\"allow\": n > 0} if {\n"                                              \
    "  n := count([1 | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)])\n}\n"

static const struct failure {
    const char *name;
    const char *rego;
    const struct policy_limits *limits;
    const char *input;
    enum policy_outcome outcome;
    const char *reason;
} failures[] = {
    {"undefined", "package enclave\n\ndecision := {\"allow\": true} if input.a == 1\n", NULL, "{\"a\": 2}",
     POLICY_UNDEFINED, NULL},
    {"a conflict", "package enclave\n\ndecision := {\"allow\": true} if input.a\n\n"
                   "decision := {\"allow\": false} if input.b\n",
     NULL, "{\"a\": true, \"b\": true}", POLICY_ERROR, "policy evaluation failed"},
    {"the step budget", HEAVY, &steps_100k, "{}", POLICY_BUDGET, "budget of 100000 steps"},
    /* A decision that builds ever-larger arrays. */
    {"the memory budget",
     "package enclave\n\ndecision := {\"allow\": count(a) > 0} if {\n"
     "  a := [[x | some x in numbers.range(2000, 2000 + i)] | some i in numbers.range(1, 100000)]\n}\n",
     &mem_8m, "{}", POLICY_BUDGET, "memory budget of 8388608 bytes"},
    {"the time limit", HEAVY, &slow_1ms, "{}", POLICY_TIMEOUT, "limit of 1 ms"},
    /* The bundle's decision has a string allow. */
    {"a malformed decision", "package enclave\n\ndecision := {\"allow\": \"true\"}\n", NULL, "{}",
     POLICY_MALFORMED, NULL},
};

static void test_failures_deny(void **state)
{
    struct error err;
    struct policy_decision d;
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
        const struct failure *c = &failures[i];
        struct policy_file f = {"p.rego", c->rego, strlen(c->rego)};
        struct policy_bundle *b = NULL;
        if (policy_bundle_load_files(&f, 1, c->limits, &b, &err) < 0)
            fail_msg("%s: %s", c->name, err.message);
        decide_text(b, c->input, &d);
        if (d.allow || d.outcome != c->outcome || (c->reason && !reasons_contain(&d, c->reason)))
            fail_msg("%s: allow=%d outcome %d, want a denial with outcome %d (%s)", c->name, d.allow, (int)d.outcome,
                     (int)c->outcome, c->reason ? c->reason : "");
        policy_decision_release(&d);
        policy_bundle_free(b);
    }
    /* What allowed once still allows: the undefined case's policy with a == 1. */
    struct policy_bundle *b = load_text(failures[0].rego, &err);
    assert_non_null(b);
    decide_text(b, "{\"a\": 1}", &d);
    assert_true(d.allow);
    policy_decision_release(&d);
    policy_bundle_free(b);

    policy_decide(NULL, NULL, &d);
    assert_false(d.allow);
    policy_decision_release(&d);
}

/* ------------------------------------------------------------ documents */

static void test_documents(void **state)
{
    struct error err;
    struct policy_bundle *b = NULL, *b2 = NULL;
    const char *rego = "# comment\n\npackage enclave\n\ndecision := {\"allow\": true}\n";
    assert_int_equal(policy_bundle_load_document(rego, strlen(rego), NULL, &b, &err), 0);
    policy_bundle_free(b);

    const char *yaml = "modules:\n"
                       "  enclave/main.rego: |\n"
                       "    package enclave\n"
                       "    decision := {\"allow\": data.cfg.on, \"obligations\": {\"timeout_s\": data.cfg.t}}\n"
                       "data:\n"
                       "  cfg: {on: true, t: 7}\n";
    assert_int_equal(policy_bundle_load_document(yaml, strlen(yaml), NULL, &b, &err), 0);
    struct policy_decision d;
    decide_text(b, "{}", &d);
    assert_true(d.allow);
    assert_int_equal(d.timeout_s, 7);
    policy_decision_release(&d);

    /* The same bundle as JSON: the same digest. */
    const char *json = "{\"data\": {\"cfg\": {\"t\": 7, \"on\": true}}, \"modules\": {\"enclave/main.rego\": "
                       "\"package enclave\\ndecision := {\\\"allow\\\": data.cfg.on, \\\"obligations\\\": "
                       "{\\\"timeout_s\\\": data.cfg.t}}\\n\"}}";
    assert_int_equal(policy_bundle_load_document(json, strlen(json), NULL, &b2, &err), 0);
    assert_string_equal(policy_bundle_digest(b), policy_bundle_digest(b2));
    policy_bundle_free(b);
    policy_bundle_free(b2);

    static const struct {
        const char *doc, *why;
    } bad[] = {
        {"", "empty"},
        {"modules: {}\n", "needs modules"},
        {"modules:\n  a.txt: x\n", "module name"},
        {"modules:\n  ../a.rego: x\n", "module name"},
        {"modules:\n  /a.rego: x\n", "module name"},
        {"modules:\n  a/.h.rego: x\n", "module name"},
        {"modules:\n  a.rego: [1]\n", "must be a string"},
        {"modules:\n  a.rego: x\nextra: 1\n", "unknown field"},
        {"modules:\n  a.rego: x\ndata: [1]\n", "data must be a mapping"},
        {"a: &x [1, 2]\nb: *x\n", "aliases"},
        {"a: !!binary aGk=\n", "tag"},
        {"a: 1\n---\nb: 2\n", "more than one document"},
        {"a: [1, 2\n", "YAML line"},
        {"{\"modules\": 1,}", "JSON"},
        {"{\"modules\": {\"a.rego\": \"x\"}, \"modules\": {}}", "JSON"},
        {"a: 1\na: 2\n", "twice"},
        {"[1, 2]\n", "must be a mapping"},
        {"modules:\n  a.rego: \"package enclave\\ndecision := {\\\"allow\\\": true\"\n", "does not parse"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = NULL;
        int rc = policy_bundle_load_document(bad[i].doc, strlen(bad[i].doc), NULL, &b, &err);
        if (rc == 0 || !strstr(err.message, bad[i].why))
            fail_msg("document %zu: rc %d, error '%s', wanted '%s'", i, rc, rc ? err.message : "", bad[i].why);
        assert_null(b);
    }
}

static void test_yaml_hostile(void **state)
{
    struct error err;
    json_t *v = NULL;
    /* Deep nesting is refused, not recursed into without bound. */
    size_t n = 10000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_int_equal(policy_yaml_to_json(deep, 2 * n, &v, &err), -1);
    free(deep);
    /* Scalars resolve as YAML 1.2 core says; quoted ones stay strings. */
    const char *s = "a: 12\nb: '12'\nc: true\nd: ~\ne: 1.5\nf: 1.2.3\ng: \"\"\n";
    assert_int_equal(policy_yaml_to_json(s, strlen(s), &v, &err), 0);
    assert_true(json_is_integer(json_object_get(v, "a")));
    assert_true(json_is_string(json_object_get(v, "b")));
    assert_true(json_is_true(json_object_get(v, "c")));
    assert_true(json_is_null(json_object_get(v, "d")));
    assert_true(json_is_real(json_object_get(v, "e")));
    assert_true(json_is_string(json_object_get(v, "f")));
    assert_true(json_is_string(json_object_get(v, "g")));
    json_decref(v);
    /* Non-string keys and NUL bytes. */
    assert_int_equal(policy_yaml_to_json("[1]: 2\n", 7, &v, &err), -1);
    assert_int_equal(policy_yaml_to_json("a: \"\\0\"\n", 8, &v, &err), 0);
    json_decref(v);
    assert_int_equal(policy_yaml_to_json("\xff\xfe", 2, &v, &err), -1);
}

/* The C library refusing memory during a decision or a bundle's tests
 * (rego/mem.h): a deny with the reason each time, never an abort; the
 * bundle refused each time its load met it. */
static void test_allocation_failure_denies(void **state)
{
    (void)state;
    struct error err;
    struct policy_bundle *b = NULL;
    assert_int_equal(policy_bundle_load_builtin(NULL, &b, &err), 0);
        struct policy_decision d;
    decide_text(b, EXEC_INPUT, &d);
    assert_true(d.allow);
    policy_decision_release(&d);
    uint64_t a0 = rg_allocations();
    decide_text(b, EXEC_INPUT, &d);
    policy_decision_release(&d);
    uint64_t total = rg_allocations() - a0;
    assert_true(total > 10);
    for (uint64_t n = 1; n <= total; n++) {
        rg_fail_at(n, n % 2 == 1);
        uint64_t f0 = rg_failures();
        decide_text(b, EXEC_INPUT, &d);
        rg_fail_at(0, false);
        assert_true(rg_failures() != f0);
        assert_false(d.allow);
        assert_int_equal(d.outcome, POLICY_BUDGET);
        assert_true(reasons_contain(&d, "ran out of memory"));
        policy_decision_release(&d);
        decide_text(b, EXEC_INPUT, &d); /* and with memory again, allowed */
        assert_true(d.allow);
        policy_decision_release(&d);
    }
    policy_bundle_free(b);

    /* Loading the constitution and running its tests, with the failure at
     * points spread over the whole load. */
    a0 = rg_allocations();
    assert_int_equal(policy_bundle_load_builtin(NULL, &b, &err), 0);
    policy_bundle_free(b);
    total = rg_allocations() - a0;
    assert_true(total > 1000);
    for (uint64_t n = 1; n <= total; n += 1 + total / 60) {
        b = NULL;
        uint64_t f0 = rg_failures();
        rg_fail_at(n, false);
        int rc = policy_bundle_load_builtin(NULL, &b, &err);
        rg_fail_at(0, false);
        assert_true(rg_failures() != f0);
        if (rc != -1)
            fail_msg("allocation %llu of %llu failed, and the bundle loaded", (unsigned long long)n,
                     (unsigned long long)total);
        assert_null(b);
        if (!strstr(err.message, "out of memory"))
            fail_msg("allocation %llu of %llu failed: %s", (unsigned long long)n, (unsigned long long)total,
                     err.message);
    }
    assert_int_equal(rg_reserve_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocation_failure_denies),
        cmocka_unit_test(test_builtin_loads_and_decides),
        cmocka_unit_test(test_digest_is_canonical),
        cmocka_unit_test(test_refusals_name_file_and_line),
        cmocka_unit_test(test_decision_schema),
        cmocka_unit_test(test_failures_deny),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_yaml_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
