/* bench-rego: decisions per second on one core for the RPC-gating policy in
 * DIR (policy.rego, inputs/NAME.json, expected/NAME.json), against the
 * hand-written C decision in rego_native.c. Every result is checked against
 * the expected decision first; a wrong answer stops the run. Prints numbers,
 * asserts no timing. Time is the thread's CPU time, so a busy machine slows
 * the run down but does not change the figures much. */
#include <dirent.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rego_native.h"
#include "rego/eval.h"
#include "rego/rego.h"

#define MAX_INPUTS 64
#define RUN_SECONDS 2.0

/* CPU time of this thread: the figures stay comparable on a loaded machine
 * (time spent waiting for the core is not counted). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (64 << 20)) {
        fclose(f);
        return NULL;
    }
    char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return NULL;
    }
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

#define SLICES 5

struct runner {
    struct rego_query *q;
    json_t **inputs;
    struct rv **rv_inputs;
    int n;
    struct rego_error *err;
};

/* One decision for input i; < 0 on an evaluation error. */
static int run_values(struct runner *c, unsigned i)
{
    struct rv *v = NULL;
    if (rego_query_value_rv(c->q, c->rv_inputs[i], &v, c->err) < 0)
        return -1;
    rv_decref(v);
    return 0;
}

static int run_json(struct runner *c, unsigned i)
{
    json_t *v = NULL;
    if (rego_query_eval_value(c->q, c->inputs[i], &v, c->err) < 0)
        return -1;
    json_decref(v);
    return 0;
}

static int run_native(struct runner *c, unsigned i)
{
    json_decref(rego_native_decision(c->inputs[i]));
    return 0;
}

/* Decisions per CPU-second: the best of SLICES slices of RUN_SECONDS/SLICES
 * each, round-robin over the inputs (the best slice is the one least
 * disturbed by other work on the machine). */
static double best_rate(int (*one)(struct runner *, unsigned), struct runner *c)
{
    double best = 0;
    unsigned long long count = 0;
    /* REGO_BENCH_COUNT=N: exactly N decisions, untimed (for instruction
     * counts under valgrind --tool=callgrind) */
    const char *fixed = getenv("REGO_BENCH_COUNT");
    if (fixed && *fixed) {
        unsigned long long n = strtoull(fixed, NULL, 10);
        for (count = 0; count < n; count++)
            if (one(c, (unsigned)(count % (unsigned)c->n)) < 0)
                return -1;
        return (double)n;
    }
    for (int s = 0; s < SLICES; s++) {
        unsigned long long start = count;
        double t0 = now_s(), t;
        do {
            for (int k = 0; k < 64; k++) {
                if (one(c, (unsigned)(count % (unsigned)c->n)) < 0)
                    return -1;
                count++;
            }
            t = now_s();
        } while (t - t0 < RUN_SECONDS / SLICES);
        double rate = (double)(count - start) / (t - t0);
        if (rate > best)
            best = rate;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: rego-bench DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    /* one core */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);

    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/policy.rego", dir);
    char *policy = slurp(path, &len);
    if (!policy) {
        fprintf(stderr, "rego-bench: cannot read %s\n", path);
        return 1;
    }
    struct rego *r = rego_new();
    struct rego_error err;
    char ebuf[800];
    if (rego_add_module(r, "policy.rego", policy, len, &err) < 0) {
        fprintf(stderr, "rego-bench: %s\n", rego_error_string(&err, ebuf, sizeof ebuf));
        return 1;
    }
    free(policy);
    /* optional: DIR/data.json (base documents), DIR/query (default below) */
    snprintf(path, sizeof path, "%s/data.json", dir);
    char *data = slurp(path, &len);
    if (data && rego_add_data_json(r, data, len, &err) < 0) {
        fprintf(stderr, "rego-bench: %s\n", rego_error_string(&err, ebuf, sizeof ebuf));
        return 1;
    }
    free(data);
    if (rego_compile(r, &err) < 0) {
        fprintf(stderr, "rego-bench: %s\n", rego_error_string(&err, ebuf, sizeof ebuf));
        return 1;
    }
    char query[256] = "data.enclave.bench.decision";
    snprintf(path, sizeof path, "%s/query", dir);
    char *qtext = slurp(path, &len);
    if (qtext) {
        qtext[strcspn(qtext, "\r\n")] = 0;
        snprintf(query, sizeof query, "%s", qtext);
        free(qtext);
    }
    /* the hand-written C makes the RPC-gating policy's decisions only */
    bool with_native = strcmp(query, "data.enclave.bench.decision") == 0;
    struct rego_query *q = rego_prepare(r, query, &err);
    if (!q) {
        fprintf(stderr, "rego-bench: %s\n", rego_error_string(&err, ebuf, sizeof ebuf));
        return 1;
    }
    if (rego_native_init() < 0) {
        fprintf(stderr, "rego-bench: native init failed\n");
        return 1;
    }

    snprintf(path, sizeof path, "%s/inputs", dir);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "rego-bench: cannot open %s\n", path);
        return 1;
    }
    char *names[MAX_INPUTS];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_INPUTS)
        if (strstr(e->d_name, ".json"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);

    json_t *inputs[MAX_INPUTS];
    struct rv *rv_inputs[MAX_INPUTS];
    int bad = 0;
    for (int i = 0; i < n; i++) {
        json_error_t je;
        snprintf(path, sizeof path, "%s/inputs/%s", dir, names[i]);
        inputs[i] = json_load_file(path, 0, &je);
        snprintf(path, sizeof path, "%s/expected/%s", dir, names[i]);
        json_t *want = json_load_file(path, 0, &je);
        if (!inputs[i] || !want) {
            fprintf(stderr, "rego-bench: cannot read %s\n", names[i]);
            return 1;
        }
        rv_inputs[i] = rv_from_json(inputs[i], NULL);
        json_t *got = NULL;
        if (rego_query_eval_value(q, inputs[i], &got, &err) < 0) {
            fprintf(stderr, "rego-bench: %s: %s\n", names[i], rego_error_string(&err, ebuf, sizeof ebuf));
            return 1;
        }
        json_t *native = with_native ? rego_native_decision(inputs[i]) : json_incref(want);
        if (!got || !json_equal(got, want)) {
            char *g = got ? json_dumps(got, JSON_COMPACT) : strdup("undefined");
            fprintf(stderr, "rego-bench: %s: engine decided %s\n", names[i], g);
            free(g);
            bad = 1;
        }
        if (!json_equal(native, want)) {
            char *g = json_dumps(native, JSON_COMPACT);
            fprintf(stderr, "rego-bench: %s: native decided %s\n", names[i], g);
            free(g);
            bad = 1;
        }
        json_decref(got);
        json_decref(native);
        json_decref(want);
    }
    if (bad)
        return 1;
    printf("bench-rego: %s: %d inputs, all decisions equal the expected ones (%s)\n", dir, n,
           with_native ? "engine and native" : "engine");

    struct runner ctx = { q, inputs, rv_inputs, n, &err };
    /* REGO_BENCH_ONLY=values|json|native: time one of them only (to
     * profile it: perf record -g build/rego-bench DIR) */
    const char *only = getenv("REGO_BENCH_ONLY");
    bool all = !only || !*only;
    double engine = all || strcmp(only, "values") == 0 ? best_rate(run_values, &ctx) : 0;
    double engine_json = all || strcmp(only, "json") == 0 ? best_rate(run_json, &ctx) : 0;
    double native = with_native && (all || strcmp(only, "native") == 0) ? best_rate(run_native, &ctx) : 0;
    if (engine < 0 || engine_json < 0)
        return 1;

    printf("engine (values in/out):      %10.0f decisions/s\n", engine);
    printf("engine (rego.h, JSON in/out): %10.0f decisions/s\n", engine_json);
    if (with_native) {
        printf("hand-written C:              %10.0f decisions/s\n", native);
        printf("ratio native/engine:         %10.1fx (JSON API: %.1fx)\n", native / engine, native / engine_json);
    }
    for (int i = 0; i < n; i++) {
        json_decref(inputs[i]);
        rv_decref(rv_inputs[i]);
        free(names[i]);
    }
    rego_query_free(q);
    rego_free(r);
    return 0;
}
