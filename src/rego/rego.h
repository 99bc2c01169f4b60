/* A Rego interpreter: the language of Open Policy Agent, Rego v1 syntax.
 *
 * This library knows nothing about sandboxes and depends on nothing else in
 * the project: jansson for JSON, the C library, and src/rego/re.h for regular
 * expressions.
 *
 * Life cycle:
 *
 *   struct rego *r = rego_new();
 *   rego_add_module(r, "policy.rego", text, len, &err);   (any number)
 *   rego_add_data_json(r, json, len, &err);               (merged into data)
 *   rego_compile(r, &err);                                (once, after loading)
 *   struct rego_query *q = rego_prepare(r, "data.enclave.decision", &err);
 *   rego_query_eval(q, input_json, len, &results, &err);  (many times)
 *   rego_query_free(q); rego_free(r);
 *
 * Ownership: every pointer a function returns belongs to the caller and is
 * released with the matching *_free (results: free() for strings,
 * json_decref() for json_t). Arguments are borrowed and may be released by
 * the caller when the call returns. A prepared query keeps its engine alive
 * (the engine is refcounted internally), so rego_free() and
 * rego_query_free() may happen in either order.
 *
 * Threads: a compiled engine is immutable and may be shared: any thread may
 * prepare queries from it. One prepared query must not be evaluated by two
 * threads at once (it caches compiled regexes and globs): each thread
 * prepares its own.
 *
 * Errors: functions return < 0 and fill struct rego_error; `code` is OPA's
 * code (rego_parse_error, rego_compile_error, rego_unsafe_var_error,
 * rego_recursion_error, rego_type_error, eval_conflict_error,
 * eval_type_error, eval_builtin_error, eval_budget_error, ...). */
#ifndef ENCLAVE_REGO_REGO_H
#define ENCLAVE_REGO_REGO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct rego;
struct rego_query;

struct rego_error {
    char code[40];
    char message[512];
    char file[128];     /* "" when the error has no source position */
    int line, col;      /* 1-based; 0 when unknown */
};

/* "file:line:col: code: message" (or "code: message") into buf. */
const char *rego_error_string(const struct rego_error *err, char *buf, size_t len);

#define REGO_DEFAULT_MAX_MEMORY (512ULL << 20)

struct rego_options {
    uint64_t max_steps;        /* evaluation steps per query; 0 = default (50 million) */
    uint64_t max_memory;       /* bytes of values one evaluation may hold at once;
                                  0 = default (REGO_DEFAULT_MAX_MEMORY). Running out
                                  is eval_budget_error, never an abort; so is
                                  the system refusing an allocation ("out of
                                  memory"), in any call (src/rego/mem.h). */
    int max_depth;             /* nested rule/function calls; 0 = default (1000) */
    int strict_builtin_errors; /* builtin errors are errors, not undefined */
    /* Where print() writes, one call per line (without the newline);
     * NULL: stderr. Called on the evaluating thread. */
    void (*print)(void *ctx, const char *line);
    void *print_ctx;
};

struct rego *rego_new(void);
void rego_free(struct rego *r);
void rego_set_options(struct rego *r, const struct rego_options *opts);

/* Parse one module; `filename` is used in error positions. */
int rego_add_module(struct rego *r, const char *filename, const char *text, size_t len,
                    struct rego_error *err);
/* Merge a JSON object into the base document `data` (objects merge; a
 * conflicting non-object value is an error). */
int rego_add_data_json(struct rego *r, const char *json, size_t len, struct rego_error *err);
int rego_add_data(struct rego *r, const json_t *data, struct rego_error *err);
/* Check and index every module: safety, recursion, conflicts. After this
 * the engine accepts no more modules or data. */
int rego_compile(struct rego *r, struct rego_error *err);

/* The full paths ("data.pkg.rule") of every rule whose last name starts
 * with prefix, sorted, without duplicates. *paths is a malloc'd array of
 * malloc'd strings. -1 (and nothing) when the system is out of memory. */
int rego_rule_paths(struct rego *r, const char *prefix, char ***paths, size_t *n);

/* Compile a query (a Rego body: "data.x.allow", "x := data.y[_]; x > 1"). */
struct rego_query *rego_prepare(struct rego *r, const char *query, struct rego_error *err);
void rego_query_free(struct rego_query *q);

/* Evaluate with `input` (NULL: no input). The results are an array with one
 * object per solution mapping each named query variable to its value, and
 * "expressions" isn't reported: `[]` means undefined. */
int rego_query_eval(struct rego_query *q, const char *input_json, size_t input_len,
                    char **results_json, struct rego_error *err);
int rego_query_eval_json(struct rego_query *q, const json_t *input, json_t **results,
                         struct rego_error *err);
/* For one-variable-free queries such as "data.enclave.decision": the value
 * of the query's only expression in the first solution, or NULL with a 0
 * return when undefined. */
int rego_query_eval_value(struct rego_query *q, const json_t *input, json_t **value,
                          struct rego_error *err);

/* OPA's `opa eval` shape: {"result": [{"expressions": [{"value", "text",
 * "location"}], "bindings": {...}}]}, or {} when undefined. */
int rego_query_eval_opa(struct rego_query *q, const json_t *input, json_t **out,
                        struct rego_error *err);

/* Canonical layout of one module, as `opa fmt` lays it out: the package
 * line, the imports, one empty line between rules, bodies with one
 * expression per line indented by a tab, `{` on the head's line, single
 * spaces around operators and after commas, comments kept in their order
 * at the end of their line or on their own line before what they preceded.
 * Only whitespace changes: names, numbers, strings and the syntax chosen
 * (`if`, `contains`, `:=` or `=`) are kept as written. The result is
 * checked to parse to the same module with the same comments; where it
 * would not, the call fails (rego_format_error) and returns nothing.
 * *out (NUL-terminated, *outlen bytes when outlen is not NULL) is the
 * caller's, released with free(). A text that does not parse fails with
 * its rego_parse_error and position. */
int rego_format(const char *filename, const char *text, size_t len, char **out, size_t *outlen,
                struct rego_error *err);

/* What the last evaluation of q cost: evaluation steps, and the values it
 * built (allocations charged to the memory budget, their bytes, the most
 * bytes live at once). Input and output conversion are not counted. */
struct rego_eval_stats {
    uint64_t steps;
    uint64_t allocations;
    uint64_t bytes_allocated;
    uint64_t peak_bytes;
};
void rego_query_last_stats(const struct rego_query *q, struct rego_eval_stats *out);

#endif
