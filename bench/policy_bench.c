/* Policy decision latency for the Agentic Constitution on realistic inputs.
 *
 *   policy-bench [--dir DIR] [--iterations N]
 *
 * Two measurements per input, printed as p50/p99/max in microseconds:
 *   eval  policy_decide() alone (the Rego evaluation and the decision check);
 *   gate  gate_decide(), the same call every request makes: completing the
 *         input, its canonical digest, evaluation, and the POLICY:DECISION
 *         append to a durable audit log (SQLite WAL, synchronous=FULL) in DIR.
 * gate minus eval is the cost of recording the decision. Numbers only: no
 * assertion on any of them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit/audit.h"
#include "gate/gate.h"
#include "policy/policy.h"

struct input_case {
    const char *name, *action, *json;
};

static const struct input_case cases[] = {
    {"exec allowed (python -c)", "exec",
     "{\"action\":\"exec\",\"session\":{\"id\":\"bench-1\",\"labels\":{},\"intent\":{}},"
     "\"request\":{\"tool\":\"python\",\"argv\":[\"python3\",\"-c\",\"import json\\nprint(json.dumps({'a': 1}))\"],"
     "\"cwd\":\"/workspace\",\"timeout_s\":30,\"stdin_bytes\":0,\"context\":{}},"
     "\"caller\":{\"transport\":\"grpc\",\"peer\":\"127.0.0.1:40000\"},\"time\":{\"unix_ns\":1700000000000000000}}"},
    {"exec denied (sh, cwd /)", "exec",
     "{\"action\":\"exec\",\"session\":{\"id\":\"bench-1\",\"labels\":{},\"intent\":{}},"
     "\"request\":{\"tool\":\"exec\",\"argv\":[\"sh\",\"-c\",\"id\"],\"cwd\":\"/\",\"timeout_s\":30,"
     "\"stdin_bytes\":0,\"context\":{}},\"caller\":{\"transport\":\"connect\",\"peer\":\"127.0.0.1:40001\"},"
     "\"time\":{\"unix_ns\":1700000000000000000}}"},
    {"exec read_only_analysis (2 KB of code, regex heuristics)", "exec",
     "{\"action\":\"exec\",\"session\":{\"id\":\"bench-2\",\"labels\":{},\"intent\":{\"action_category\":\"read_only_analysis\"}},"
     "\"request\":{\"tool\":\"python\",\"argv\":[\"python3\",\"-c\",\"CODE\"],"
     "\"cwd\":\"/workspace\",\"timeout_s\":60,\"stdin_bytes\":0,\"context\":{\"intent\":{\"action_category\":\"read_only_analysis\"}}},"
     "\"caller\":{\"transport\":\"grpc\",\"peer\":\"127.0.0.1:40002\"},\"time\":{\"unix_ns\":1700000000000000000}}"},
    {"session.start", "session.start",
     "{\"action\":\"session.start\",\"session\":{\"id\":\"bench-3\",\"labels\":{},\"intent\":{}},"
     "\"request\":{\"vcpu\":2,\"memory_mb\":1024},\"caller\":{\"transport\":\"grpc\",\"peer\":\"\"},"
     "\"time\":{\"unix_ns\":1700000000000000000}}"},
    {"audit.read", "audit.read",
     "{\"action\":\"audit.read\",\"session\":{\"id\":\"\"},\"request\":{\"session_id\":\"\",\"since_timestamp\":0,"
     "\"limit\":100},\"caller\":{\"transport\":\"grpc\",\"peer\":\"\"},\"time\":{\"unix_ns\":1700000000000000000}}"},
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, const char *name, double *t, int n)
{
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    printf("%-5s %-58s p50 %8.1f us   p99 %8.1f us   max %8.1f us   (%d runs)\n", what, name,
           t[n / 2], t[(n * 99) / 100], t[n - 1], n);
}

/* The read-only case carries a realistic 2 KB analysis script. */
static char *expand_code(const char *tmpl)
{
    const char *line = "rows = [l.split(',') for l in open('/workspace/data.csv').read().splitlines()]\\n"
                       "total = sum(float(r[2]) for r in rows[1:] if len(r) > 2)\\n";
    size_t ll = strlen(line);
    char code[4096] = "";
    size_t used = 0;
    while (used + ll < 2048) {
        memcpy(code + used, line, ll);
        used += ll;
    }
    code[used] = '\0';
    const char *at = strstr(tmpl, "CODE");
    char *out = malloc(strlen(tmpl) + used + 1);
    size_t pre = (size_t)(at - tmpl);
    memcpy(out, tmpl, pre);
    memcpy(out + pre, code, used);
    strcpy(out + pre + used, at + 4);
    return out;
}

int main(int argc, char **argv)
{
    const char *dir = "build/bench-policy";
    int iterations = 2000;
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"iterations", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'n': iterations = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: policy-bench [--dir DIR] [--iterations N]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (iterations < 10)
        iterations = 10;
    struct error err;
    mkdir(dir, 0700);
    char db[4200], keys[4200];
    snprintf(db, sizeof(db), "%s/audit.db", dir);
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    remove(db);

    struct audit_log *audit = NULL;
    struct gate *gate = NULL;
    struct audit_options ao = {0};
    struct gate_config gc = {0};
    if (audit_open(db, keys, &ao, &audit, &err) < 0 ||
        (gc.audit = audit, gate_new(&gc, &gate, &err)) < 0) {
        fprintf(stderr, "policy-bench: %s\n", err.message);
        return 1;
    }
    struct policy_bundle *b = NULL;
    double t0 = now_us();
    if (policy_bundle_load_builtin(NULL, &b, &err) < 0) {
        fprintf(stderr, "policy-bench: %s\n", err.message);
        return 1;
    }
    printf("load  the constitution (parse, compile, %u tests): %.1f ms; digest %s\n",
           policy_bundle_test_count(b), (now_us() - t0) / 1000, policy_bundle_digest(b));
    double *t = calloc((size_t)iterations, sizeof(double));
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char *text = strstr(cases[k].json, "CODE") ? expand_code(cases[k].json) : strdup(cases[k].json);
        json_t *input = json_loads(text, 0, NULL);
        if (input == NULL) {
            fprintf(stderr, "policy-bench: case %zu is not JSON\n", k);
            return 1;
        }
        bool allowed = false;
        for (int i = 0; i < iterations; i++) {
            struct policy_decision pd;
            double s = now_us();
            policy_decide(b, input, &pd);
            t[i] = now_us() - s;
            allowed = pd.allow;
            policy_decision_release(&pd);
        }
        char name[128];
        snprintf(name, sizeof(name), "%s -> %s", cases[k].name, allowed ? "allow" : "deny");
        report("eval", name, t, iterations);
        /* The gate appends one durable record per decision: fewer runs. */
        int gate_runs = iterations / 10 < 50 ? iterations : iterations / 10;
        for (int i = 0; i < gate_runs; i++) {
            struct gate_obligations ob;
            struct error gerr;
            json_t *copy = json_deep_copy(input); /* gate_decide consumes its input */
            double s = now_us();
            gate_decide(gate, cases[k].action, "bench", copy, &ob, &gerr);
            t[i] = now_us() - s;
        }
        report("gate", name, t, gate_runs);
        json_decref(input);
        free(text);
    }
    free(t);
    policy_bundle_free(b);
    gate_free(gate);
    audit_close(audit, NULL);
    return 0;
}
