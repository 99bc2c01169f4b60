/* Shared by the builtin fuzz harnesses (src/rego/yaml_fuzz.c and others): one prepared
 * query, evaluated with the fuzz input as `input`, under small step and
 * memory budgets. Errors are expected; crashes and sanitizer reports are
 * not. Header-only so that each harness stays one file. */
#ifndef ENCLAVE_REGO_BI_FUZZ_H
#define ENCLAVE_REGO_BI_FUZZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rego/rego.h"

/* query prepared once in its own engine (kept for the process), under the
 * budgets; strict: builtin errors end the evaluation. Aborts when it does
 * not compile: that is the harness's bug, not the input's. */
__attribute__((unused)) static struct rego_query *fuzz_prepare(const char *query, bool strict)
{
    struct rego_error err;
    struct rego *r = rego_new();
    struct rego_options o = { .max_steps = 100000, .max_memory = 64u << 20, .strict_builtin_errors = strict };
    rego_set_options(r, &o);
    struct rego_query *q = NULL;
    if (rego_compile(r, &err) < 0 || !(q = rego_prepare(r, query, &err)))
        abort();
    return q;
}

/* The harness's one strict query, prepared on the first call. */
__attribute__((unused)) static struct rego_query *fuzz_query(const char *query)
{
    static struct rego_query *q;
    if (!q)
        q = fuzz_prepare(query, true);
    return q;
}

__attribute__((unused)) static void fuzz_eval(struct rego_query *q, json_t *input)
{
    struct rego_error err;
    json_t *out = NULL;
    if (rego_query_eval_json(q, input, &out, &err) == 0)
        json_decref(out);
}

/* The bytes as a JSON document, or NULL when they are not one. */
__attribute__((unused)) static json_t *fuzz_json(const uint8_t *data, size_t size)
{
    json_error_t je;
    return json_loadb((const char *)data, size, 0, &je);
}

/* input = {"s": <the bytes as a string>} */
__attribute__((unused)) static void fuzz_string(const char *query, const uint8_t *data, size_t size)
{
    json_t *in = json_pack("{s:s%}", "s", (const char *)data, size);
    if (!in)
        return;   /* not UTF-8: jansson refuses it */
    fuzz_eval(fuzz_query(query), in);
    json_decref(in);
}

#endif
