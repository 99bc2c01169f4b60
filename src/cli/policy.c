/* `enclave policy eval` and `enclave policy test`: the Rego engine from the
 * command line, with `opa eval` / `opa test` output shapes. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "rego/rego.h"

static void print_error(const char *verb, const struct rego_error *err)
{
    char buf[800];
    fprintf(stderr, "enclave policy %s: %s\n", verb, rego_error_string(err, buf, sizeof buf));
}

/* Through src/policy/, so that the CLI loads exactly what the daemon would. */
static int load_path(struct rego *r, const char *path, const char *verb)
{
    struct error err = {0};
    if (policy_load_path(r, path, NULL, &err) < 0) {
        fprintf(stderr, "enclave policy %s: %s\n", verb, err.message);
        return -1;
    }
    return 0;
}

/* The steps policy eval and bench share: load the -d paths into r, read the
 * --input document (or stdin for "-"), compile, prepare the query. */
static int load_and_prepare(struct rego *r, const char **paths, int npaths, const char *input_path,
                            const char *query, const char *verb, json_t **input,
                            struct rego_query **q, struct rego_error *err)
{
    int rc = 0;
    for (int i = 0; i < npaths && rc == 0; i++)
        rc = load_path(r, paths[i], verb);
    if (rc == 0 && input_path) {
        json_error_t je;
        if (strcmp(input_path, "-") == 0)
            *input = json_loadf(stdin, JSON_DECODE_ANY, &je);
        else
            *input = json_load_file(input_path, JSON_DECODE_ANY, &je);
        if (!*input) {
            fprintf(stderr, "enclave policy %s: %s:%d: %s\n", verb, input_path, je.line, je.text);
            rc = -1;
        }
    }
    if (rc == 0 && rego_compile(r, err) < 0) {
        print_error(verb, err);
        rc = -1;
    }
    if (rc == 0 && !(*q = rego_prepare(r, query, err))) {
        print_error(verb, err);
        rc = -1;
    }
    return rc;
}

/* What eval and bench share: -d PATH (repeated), -i FILE, -f FORMAT and one
 * QUERY operand. */
struct query_args {
    const char **paths; /* the -d paths (argc + 1 slots) */
    int npaths;
    const char *input_path, *format, *query;
};

#define QUERY_OPTIONS                                                                              \
    {"data", required_argument, NULL, 'd'}, {"input", required_argument, NULL, 'i'},              \
        {"format", required_argument, NULL, 'f'}

/* 0, or 1 when out of memory. */
static int query_args_init(struct query_args *a, int argc, const char *format)
{
    *a = (struct query_args){.paths = calloc((size_t)argc + 1, sizeof(*a->paths)), .format = format};
    return a->paths == NULL;
}

/* Takes option c if it is one of QUERY_OPTIONS: true when it was. */
static bool query_args_take(struct query_args *a, int c)
{
    switch (c) {
    case 'd': a->paths[a->npaths++] = optarg; return true;
    case 'i': a->input_path = optarg; return true;
    case 'f': a->format = optarg; return true;
    default: return false;
    }
}

/* After the options: the QUERY, and a --format of the two known. 0, or the
 * usage error's exit code (a->paths freed). */
static int query_args_finish(struct query_args *a, int argc, char **argv, const char *verb,
                             const char *format1, const char *format2)
{
    int rc = 0;
    if (optind != argc - 1)
        rc = cli_usage_error(verb, "exactly one QUERY is required");
    else if (strcmp(a->format, format1) && strcmp(a->format, format2))
        rc = cli_usage_error(verb, "unknown --format %s", a->format);
    if (rc != 0) {
        free(a->paths);
        return rc;
    }
    a->query = argv[optind];
    return 0;
}

static void eval_usage(FILE *o)
{
    fprintf(o,
            "usage: enclave policy eval [-d DIR|FILE]... [-i INPUT.json] [--format json|values] QUERY\n"
            "\n"
            "Evaluates a Rego query against the policies and data given with -d (a .rego\n"
            "file, a data .json file, or a directory searched for *.rego and data.json;\n"
            "a data.json in a subdirectory a/b lands at data.a.b; the same files, limits\n"
            "and checks as a bundle the daemon loads) and prints the result\n"
            "the way `opa eval` does: {\"result\": [{\"expressions\": [...], \"bindings\":\n"
            "{...}}]}, or {} when the query is undefined.\n"
            "\n"
            "  -d, --data PATH      policy or data to load (repeatable)\n"
            "  -i, --input FILE     the input document (JSON; \"-\" for stdin)\n"
            "  -f, --format FMT     json (default), or values: one line per result, the\n"
            "                       bindings when the query names variables, else the\n"
            "                       value of each expression\n"
            "      --strict         builtin errors are errors, not undefined\n"
            "      --max-steps N    evaluation step budget (default 50000000)\n"
            "      --max-memory MB  memory budget of the evaluation, in MiB (default 512);\n"
            "                       running out is an eval_budget_error\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 when evaluation succeeded (defined or not), 1 on a parse,\n"
            "compile or evaluation error, 2 on usage errors.\n");
}

static int policy_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        QUERY_OPTIONS,
        { "strict", no_argument, NULL, 's' },
        { "max-steps", required_argument, NULL, 'm' },
        { "max-memory", required_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct query_args a;
    if (query_args_init(&a, argc, "json"))
        return 1;
    int c;
    struct rego_options ro = { 0 };
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:i:f:h", opts, NULL)) != -1) {
        if (query_args_take(&a, c))
            continue;
        switch (c) {
        case 's': ro.strict_builtin_errors = 1; break;
        case 'm': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v == 0) {
                free(a.paths);
                return cli_usage_error("policy eval", "--max-steps must be a positive number");
            }
            ro.max_steps = v;
            break;
        }
        case 'M': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v == 0 || v > (1ULL << 24)) {
                free(a.paths);
                return cli_usage_error("policy eval", "--max-memory must be a number of MiB from 1 to 16777216");
            }
            ro.max_memory = v << 20;
            break;
        }
        case 'h': eval_usage(stdout); free(a.paths); return 0;
        default: free(a.paths); eval_usage(stderr); return 2;
        }
    }
    int rc = query_args_finish(&a, argc, argv, "policy eval", "json", "values");
    if (rc != 0)
        return rc;
    const char *query = a.query;
    struct rego *r = rego_new();
    rego_set_options(r, &ro);
    json_t *input = NULL;
    struct rego_error err = { 0 };
    struct rego_query *q = NULL;
    rc = load_and_prepare(r, a.paths, a.npaths, a.input_path, query, "eval", &input, &q, &err);
    free(a.paths);
    json_t *out = NULL;
    if (rc == 0 && rego_query_eval_opa(q, input, &out, &err) < 0) {
        print_error("eval", &err);
        rc = -1;
    }
    if (rc == 0) {
        if (strcmp(a.format, "json") == 0) {
            char *s = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
            printf("%s\n", s ? s : "{}");
            free(s);
        } else {
            json_t *res = json_object_get(out, "result");
            size_t i;
            json_t *one;
            json_array_foreach(res, i, one) {
                json_t *bindings = json_object_get(one, "bindings");
                if (bindings) {
                    char *s = json_dumps(bindings, JSON_COMPACT | JSON_SORT_KEYS);
                    printf("%s\n", s ? s : "{}");
                    free(s);
                    continue;
                }
                json_t *exprs = json_object_get(one, "expressions");
                size_t j;
                json_t *x;
                json_array_foreach(exprs, j, x) {
                    char *s = json_dumps(json_object_get(x, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
                    printf("%s%s", j ? " " : "", s ? s : "null");
                    free(s);
                }
                printf("\n");
            }
        }
    }
    json_decref(out);
    json_decref(input);
    rego_query_free(q);
    rego_free(r);
    return rc == 0 ? 0 : 1;
}

static void test_usage(FILE *o)
{
    fprintf(o,
            "usage: enclave policy test [-v] [--run REGEX-FREE-SUBSTRING] PATH...\n"
            "\n"
            "Loads the policies and data under each PATH (as `policy eval -d`) and\n"
            "evaluates every rule whose name starts with test_, like `opa test`: a test\n"
            "passes when its value is defined and not false. Prints one line per test\n"
            "(data.pkg.test_name: PASS|FAIL|ERROR (duration)) and a summary.\n"
            "\n"
            "  -r, --run TEXT   only tests whose full name contains TEXT\n"
            "  -v, --verbose    print errors in full\n"
            "  -h, --help       this help\n"
            "\n"
            "Exit status: 0 when every test passed, 2 when one failed or errored, 1 when\n"
            "the policies do not load.\n");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int policy_test(int argc, char **argv)
{
    static const struct option opts[] = {
        { "run", required_argument, NULL, 'r' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, verbose = 0;
    const char *filter = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'r': filter = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': test_usage(stdout); return 0;
        default: test_usage(stderr); return 2;
        }
    }
    if (optind >= argc)
        return cli_usage_error("policy test", "a PATH is required");
    struct rego *r = rego_new();
    int rc = 0;
    for (int i = optind; i < argc && rc == 0; i++)
        rc = load_path(r, argv[i], "test");
    struct rego_error err = { 0 };
    if (rc == 0 && rego_compile(r, &err) < 0) {
        print_error("test", &err);
        rc = -1;
    }
    int passed = 0, failed = 0, errored = 0;
    if (rc == 0) {
        char **tests;
        size_t n;
        rego_rule_paths(r, "test_", &tests, &n);
        for (size_t i = 0; i < n; i++) {
            if (filter && !strstr(tests[i], filter)) {
                free(tests[i]);
                continue;
            }
            double t0 = now_ms();
            struct rego_query *q = rego_prepare(r, tests[i], &err);
            json_t *v = NULL;
            int erc = q ? rego_query_eval_value(q, NULL, &v, &err) : -1;
            double dt = now_ms() - t0;
            if (erc < 0) {
                char buf[800];
                printf("%s: ERROR (%.3fms)\n", tests[i], dt);
                printf("  %s\n", rego_error_string(&err, buf, sizeof buf));
                errored++;
            } else if (!v || json_is_false(v)) {
                printf("%s: FAIL (%.3fms)\n", tests[i], dt);
                failed++;
            } else {
                printf("%s: PASS (%.3fms)\n", tests[i], dt);
                passed++;
            }
            (void)verbose;
            json_decref(v);
            rego_query_free(q);
            free(tests[i]);
        }
        free(tests);
        int total = passed + failed + errored;
        printf("--------------------------------------------------------------------------------\n");
        if (passed)
            printf("PASS: %d/%d\n", passed, total);
        if (failed)
            printf("FAIL: %d/%d\n", failed, total);
        if (errored)
            printf("ERROR: %d/%d\n", errored, total);
        if (!total)
            printf("no tests found\n");
    }
    rego_free(r);
    if (rc < 0)
        return 1;
    return failed || errored ? 2 : 0;
}

static void bench_usage(FILE *o)
{
    fprintf(o,
            "usage: enclave policy bench [-d DIR|FILE]... [-i INPUT.json] [-n COUNT] [--time SECONDS]\n"
            "                            [--format text|json] QUERY\n"
            "\n"
            "Loads the policies and data given with -d (as `policy eval`), prepares QUERY\n"
            "once and evaluates it over and over with the input, like `opa bench`. Each\n"
            "evaluation takes the input as JSON and returns its results as JSON (what the\n"
            "daemon's gate pays per decision). Prints the evaluations per CPU-second of\n"
            "this thread, the mean time of one, the evaluation steps and the values each\n"
            "evaluation builds (allocations counted by the engine's memory budget, their\n"
            "bytes, and the most bytes live at once; converting the input and the\n"
            "results is not counted). The first evaluation's error, if any, stops it.\n"
            "\n"
            "  -d, --data PATH      policy or data to load (repeatable)\n"
            "  -i, --input FILE     the input document (JSON; \"-\" for stdin)\n"
            "  -n, --count N        evaluate exactly N times (default: as many as fit in\n"
            "                       --time)\n"
            "      --time SECONDS   run for this much CPU time (default 1; at most 3600)\n"
            "      --format FMT     text (default) or json (one object)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit status: 0 after the run, 1 when loading, compiling or evaluating fails,\n"
            "2 on usage errors.\n");
}

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int policy_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        QUERY_OPTIONS,
        { "count", required_argument, NULL, 'n' },
        { "time", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct query_args a;
    if (query_args_init(&a, argc, "text"))
        return 1;
    int c;
    unsigned long long count = 0;
    double seconds = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:i:n:h", opts, NULL)) != -1) {
        char *end;
        if (query_args_take(&a, c))
            continue;
        switch (c) {
        case 'n':
            count = strtoull(optarg, &end, 10);
            if (*end || count == 0 || optarg[0] == '-') {
                free(a.paths);
                return cli_usage_error("policy bench", "--count must be a positive number");
            }
            break;
        case 't':
            seconds = strtod(optarg, &end);
            if (*end || !(seconds > 0) || seconds > 3600) {
                free(a.paths);
                return cli_usage_error("policy bench", "--time must be a number of seconds from 0 to 3600");
            }
            break;
        case 'h': bench_usage(stdout); free(a.paths); return 0;
        default: free(a.paths); bench_usage(stderr); return 2;
        }
    }
    int rc = query_args_finish(&a, argc, argv, "policy bench", "text", "json");
    if (rc != 0)
        return rc;
    const char *query = a.query;
    const char *format = a.format;
    struct rego *r = rego_new();
    json_t *input = NULL;
    struct rego_error err = { 0 };
    struct rego_query *q = NULL;
    rc = load_and_prepare(r, a.paths, a.npaths, a.input_path, query, "bench", &input, &q, &err);
    free(a.paths);
    unsigned long long n = 0, results = 0;
    struct rego_eval_stats sum = { 0 }, one;
    double t0 = thread_cpu_seconds(), el = 0;
    while (rc == 0) {
        json_t *out = NULL;
        if (rego_query_eval_json(q, input, &out, &err) < 0) {
            print_error("bench", &err);
            rc = -1;
            break;
        }
        if (n == 0)
            results = json_array_size(out);
        json_decref(out);
        rego_query_last_stats(q, &one);
        sum.steps += one.steps;
        sum.allocations += one.allocations;
        sum.bytes_allocated += one.bytes_allocated;
        if (one.peak_bytes > sum.peak_bytes)
            sum.peak_bytes = one.peak_bytes;
        n++;
        if (count ? n >= count : (n % 16 == 0 && thread_cpu_seconds() - t0 >= seconds))
            break;
    }
    el = thread_cpu_seconds() - t0;
    if (rc == 0) {
        double per_s = el > 0 ? (double)n / el : 0, us = n ? el * 1e6 / (double)n : 0;
        double dn = n ? (double)n : 1;
        if (strcmp(format, "json") == 0) {
            json_t *o = json_pack("{s:s, s:I, s:f, s:f, s:f, s:I, s:f, s:f, s:f, s:I}", "query", query,
                                  "evaluations", (json_int_t)n, "cpu_seconds", el, "decisions_per_second",
                                  per_s, "us_per_evaluation", us, "results", (json_int_t)results,
                                  "steps_per_evaluation", (double)sum.steps / dn, "allocations_per_evaluation",
                                  (double)sum.allocations / dn, "bytes_per_evaluation",
                                  (double)sum.bytes_allocated / dn, "peak_live_bytes",
                                  (json_int_t)sum.peak_bytes);
            char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
            printf("%s\n", s ? s : "{}");
            free(s);
            json_decref(o);
        } else {
            printf("query:                      %s\n", query);
            printf("results per evaluation:     %llu%s\n", results, results ? "" : " (undefined)");
            printf("evaluations:                %llu in %.3f s of CPU\n", n, el);
            printf("decisions/s:                %.0f\n", per_s);
            printf("time per evaluation:        %.2f us\n", us);
            printf("steps per evaluation:       %.1f\n", (double)sum.steps / dn);
            printf("allocations per evaluation: %.1f (%.0f bytes)\n", (double)sum.allocations / dn,
                   (double)sum.bytes_allocated / dn);
            printf("peak live bytes:            %llu\n", (unsigned long long)sum.peak_bytes);
        }
    }
    json_decref(input);
    rego_query_free(q);
    rego_free(r);
    return rc == 0 ? 0 : 1;
}

static void policy_usage(FILE *o)
{
    fprintf(o, "usage: enclave policy eval|test|bench|fmt|apply [ARGS...]\n"
               "\n"
               "  eval   evaluate a Rego query (like `opa eval`)\n"
               "  test   run the test_* rules of a policy (like `opa test`)\n"
               "  bench  evaluate a query many times: decisions/s, steps, allocations\n"
               "  fmt    format Rego files in the canonical layout (like `opa fmt`)\n"
               "  apply  replace the running daemon's policy bundle (as the operator)\n"
               "\n"
               "Run 'enclave policy SUB-VERB --help' for options.\n");
}

int cli_policy(int argc, char **argv)
{
    if (argc < 2) {
        policy_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        policy_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "eval") == 0)
        return policy_eval(argc - 1, argv + 1);
    if (strcmp(argv[1], "test") == 0)
        return policy_test(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench") == 0)
        return policy_bench(argc - 1, argv + 1);
    if (strcmp(argv[1], "fmt") == 0)
        return cli_policy_fmt(argc - 1, argv + 1);
    if (strcmp(argv[1], "apply") == 0)
        return cli_policy_apply(argc - 1, argv + 1);
    return cli_usage_error("policy", "unknown sub-verb '%s'", argv[1]);
}
