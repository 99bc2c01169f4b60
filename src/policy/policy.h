/* Policy bundles and decisions: the glue between Enclave's gate and the
 * Rego interpreter (src/rego/).
 *
 * A bundle is a set of Rego modules plus optional JSON data. It comes from a
 * directory (every *.rego file below it, recursively, in byte order of their
 * relative paths, plus data.json files, which land at data.<dir path> the way
 * OPA loads them), from the constitution built into the binary, or from a
 * document sent with ApplyPolicy (a Rego module, or YAML/JSON
 * {"modules": {"name.rego": "text"}, "data": {...}}).
 *
 * Loading parses and compiles every module and runs the bundle's own tests
 * (every rule named test_*): each must be defined and not false. Any failure
 * refuses the bundle, with an error naming file:line where one is known.
 *
 * The digest of a bundle is the hex SHA-256 over a canonical listing:
 * the line "enclave-policy-bundle-v1\n", then for each file in path order
 * its path, a NUL, its length in decimal, a NUL, and its bytes. Two bundles
 * with the same files have the same digest however they were delivered.
 *
 * A decision evaluates data.enclave.decision against one input document with
 * a step budget (a hard stop inside the interpreter) and a wall-clock limit
 * (checked when evaluation returns: the step budget is what bounds the time
 * in practice). Undefined, an evaluation error, a budget or time overrun, or
 * a malformed decision all mean deny, with a reason that says which.
 *
 * Ownership: a loaded bundle belongs to the caller (policy_bundle_free).
 * policy_decide() fills a struct policy_decision that owns its JSON values;
 * release it with policy_decision_release(). A bundle is used by one thread
 * at a time (the prepared query caches compiled regexes). */
#ifndef ENCLAVE_POLICY_POLICY_H
#define ENCLAVE_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"

struct policy_bundle;

#define POLICY_DIGEST_SIZE 65 /* 64 lowercase hex + NUL */

struct policy_limits {
    uint64_t max_steps;        /* per decision; 0: 1,000,000 */
    uint64_t max_test_steps;   /* per bundle test; 0: 10,000,000 */
    unsigned max_eval_ms;      /* per decision; 0: 1000 */
    uint64_t max_memory;       /* bytes of values one decision may hold; 0: 64 MiB */
    uint64_t max_test_memory;  /* the same for one bundle test; 0: 256 MiB */
    size_t max_file_bytes;     /* one module or data file; 0: 1 MiB */
    size_t max_total_bytes;    /* the whole bundle; 0: 8 MiB */
    unsigned max_files;        /* 0: 512 */
};

/* One file of a bundle: a path relative to the bundle ("enclave/main.rego",
 * "data.json", "limits/data.json") and its bytes. */
struct policy_file {
    const char *path;
    const char *text;
    size_t len;
};

/* lim may be NULL (defaults). */
int policy_bundle_load_dir(const char *dir, const struct policy_limits *lim,
                           struct policy_bundle **out, struct error *err);
int policy_bundle_load_files(const struct policy_file *files, size_t n,
                             const struct policy_limits *lim, struct policy_bundle **out,
                             struct error *err);
/* The Agentic Constitution built into the binary (the policy/ folder). */
int policy_bundle_load_builtin(const struct policy_limits *lim, struct policy_bundle **out,
                               struct error *err);
/* An ApplyPolicy document: Rego module text (first statement `package`), or a
 * YAML or JSON mapping {"modules": {"name.rego": "text", ...}, "data": {...}}. */
int policy_bundle_load_document(const char *text, size_t len, const struct policy_limits *lim,
                                struct policy_bundle **out, struct error *err);
void policy_bundle_free(struct policy_bundle *b);

struct rego;
/* Adds the policies and data at path to engine exactly as a bundle loads
 * them (the same files, limits and checks; no compile, no tests): a folder
 * gives every *.rego and data.json below it, one file is a module, or data at
 * the root when it ends in .json. Modules are named by the path given. For
 * `enclave policy eval/test`, which query the engine themselves. */
int policy_load_path(struct rego *engine, const char *path, const struct policy_limits *lim,
                     struct error *err);

const char *policy_bundle_digest(const struct policy_bundle *b); /* 64 lowercase hex */
const char *policy_bundle_origin(const struct policy_bundle *b); /* a directory, "builtin", "document" */
size_t policy_bundle_file_count(const struct policy_bundle *b);
unsigned policy_bundle_test_count(const struct policy_bundle *b);

/* The files built into the binary, for `enclave policy` and tests. */
const struct policy_file *policy_builtin_files(size_t *n);

/* Why a decision came out the way it did. */
#define POLICY_OUTCOMES(X)                                                    \
    X(POLICY_DECIDED, "decided")     /* the bundle returned a well-formed decision */ \
    X(POLICY_UNDEFINED, "undefined") /* data.enclave.decision is undefined */       \
    X(POLICY_ERROR, "error")         /* evaluation failed (conflict, type error...) */ \
    X(POLICY_BUDGET, "budget")       /* the step or memory budget ran out */       \
    X(POLICY_TIMEOUT, "timeout")     /* evaluation took longer than max_eval_ms */   \
    X(POLICY_MALFORMED, "malformed") /* the decision does not follow the schema */

enum policy_outcome {
#define X(id, name) id,
    POLICY_OUTCOMES(X)
#undef X
};
const char *policy_outcome_name(enum policy_outcome o);

struct policy_decision {
    bool allow;
    enum policy_outcome outcome;
    json_t *reasons;            /* array of strings, never NULL after decide */
    /* Obligations (only meaningful with allow; 0 / NULL: none). */
    unsigned timeout_s;
    uint64_t max_output_bytes;
    json_t *env_allowlist;      /* array of variable names, or NULL */
    /* net.connect: bytes both ways for the connection; the non-public
     * addresses it may reach (array of "IP" or "IP/bits" strings, or NULL). */
    uint64_t max_bytes;
    json_t *allow_addresses;
    /* session.start with egress: the session's egress in total. */
    uint64_t egress_max_bytes;
    unsigned egress_timeout_s;
    /* net.connect: a secret the host adds to the requests, as the object
     * {"name", "header", "format"} with the defaults filled in (header
     * "Authorization", format "Bearer %s"), or NULL. */
    json_t *inject_secret;
    uint64_t eval_us;           /* time spent evaluating */
};

/* obligations.inject_secret: the checks on its header and format. */
#define POLICY_MAX_SECRET_HEADER 64
#define POLICY_MAX_SECRET_FORMAT 256
bool policy_secret_header_valid(const char *header);
bool policy_secret_format_valid(const char *format);

/* Evaluates data.enclave.decision with input (not consumed). Never fails:
 * anything wrong is a deny with a reason. */
void policy_decide(struct policy_bundle *b, const json_t *input, struct policy_decision *out);
/* Checks a decision value against the schema and fills out (allow, reasons,
 * obligations); a malformed value gives a deny whose reason names the
 * problem. value may be NULL (undefined). Exposed for tests. */
void policy_decision_from_value(const json_t *value, struct policy_decision *out);
void policy_decision_release(struct policy_decision *d);

#endif
