/* make fuzz-rego-diff: Enclave's answers for the differential test against
 * Open Policy Agent (tests/rego/diff/run.py). Reads one case per line on
 * stdin, JSON:
 *
 *   {"modules": [["a.rego", "package p ..."], ...], "data": {...},
 *    "input": ..., "query": "x = data.p", "strict": false}
 *
 * ("input" absent: no input) and writes one line per case, the shape the
 * OPA harness (bench/peers/opa/diff) writes:
 *
 *   {"result": [{"x": ...}, ...]}   the bindings of each solution
 *   {"error": "code", "message": "..."}
 *
 * Each case gets a fresh engine, 20 million steps and 256 MiB of values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rego/rego.h"

static json_t *error_out(const struct rego_error *e)
{
    char buf[800];
    return json_pack("{s:s, s:s}", "error", e->code, "message", rego_error_string(e, buf, sizeof buf));
}

static json_t *run_case(const char *line, size_t len)
{
    json_error_t je;
    json_t *c = json_loadb(line, len, JSON_DECODE_ANY, &je);
    if (!c && strstr(je.text, "too big"))   /* integers beyond 64 bits: as doubles, as the engine reads JSON */
        c = json_loadb(line, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (!json_is_object(c)) {
        json_decref(c);
        return json_pack("{s:s, s:s}", "error", "harness", "message", je.text);
    }
    struct rego *r = rego_new();
    struct rego_options opts = {
        .max_steps = 20000000,
        .max_memory = 256ULL << 20,
        .strict_builtin_errors = json_is_true(json_object_get(c, "strict")),
    };
    rego_set_options(r, &opts);
    struct rego_error err = { 0 };
    int rc = 0;
    json_t *mods = json_object_get(c, "modules"), *m;
    size_t i;
    json_array_foreach(mods, i, m) {
        const char *name = json_string_value(json_array_get(m, 0));
        json_t *text = json_array_get(m, 1);
        if (!name || !json_is_string(text)) {
            rc = -1;
            snprintf(err.code, sizeof err.code, "harness");
            snprintf(err.message, sizeof err.message, "bad module entry");
            break;
        }
        rc = rego_add_module(r, name, json_string_value(text), json_string_length(text), &err);
        if (rc < 0)
            break;
    }
    json_t *data = json_object_get(c, "data");
    if (rc == 0 && json_is_object(data))
        rc = rego_add_data(r, data, &err);
    if (rc == 0)
        rc = rego_compile(r, &err);
    struct rego_query *q = NULL;
    if (rc == 0) {
        const char *query = json_string_value(json_object_get(c, "query"));
        q = rego_prepare(r, query ? query : "", &err);
        if (!q)
            rc = -1;
    }
    json_t *results = NULL;
    if (rc == 0)
        rc = rego_query_eval_json(q, json_object_get(c, "input"), &results, &err);
    json_t *out = rc < 0 ? error_out(&err) : json_pack("{s:o}", "result", results);
    rego_query_free(q);
    rego_free(r);
    json_decref(c);
    return out;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n <= 1)
            continue;
        json_t *out = run_case(line, (size_t)n);
        char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(out);
        if (s) {
            fputs(s, stdout);
            free(s);
        }
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(line);
    return 0;
}
