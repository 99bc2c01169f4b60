/* Internal to src/rego: the evaluation context shared by eval.c and builtins.c. */
#ifndef ENCLAVE_REGO_EVAL_H
#define ENCLAVE_REGO_EVAL_H

#include "rego/ast.h"
#include "rego/value.h"

#define BI_MULTI 2   /* a builtin returned an array of results, one solution each */

struct overlay {
    struct rv **path;     /* borrowed from the with clause */
    int npath;
    struct rv *value;     /* borrowed */
};

struct mock {
    int builtin;          /* replaced builtin, or -1 */
    struct node *fn;      /* replaced function, or NULL */
    struct rv *value;     /* replacement value (borrowed), or NULL for a function */
    int repl_builtin;
    struct node *repl_fn;
    int depth;            /* mocks active when this one was installed */
};

/* Compiled regular expressions and globs, kept per prepared query (which is
 * used by one thread at a time). Keys are the pattern values. */
#define REGO_PCACHE_SIZE 32
enum { PCACHE_EMPTY, PCACHE_REGEX, PCACHE_GLOB, PCACHE_CIDR, PCACHE_ADDR };
struct rego_pcache {
    struct {
        int kind;            /* PCACHE_*: a regex, a glob, a parsed CIDR or address (malloc'd) */
        struct rv *pattern;
        struct rv *delims;   /* globs */
        void *compiled;
    } e[REGO_PCACHE_SIZE];
    int next;
    /* by the pattern's address: the entry it was last found in, plus 1
     * (a hint: the entry is checked) */
    unsigned char hint[64];
};
void rego_pcache_clear(struct rego_pcache *c);

/* What an evaluation can borrow instead of allocating it anew: a prepared
 * query keeps one (it is used by one thread at a time). Between
 * evaluations every cache entry is NULL. */
struct ev_store {
    struct rv **cache;    /* node values, by node id (nnodes + 1) */
    int *ids;             /* the ids set in cache, in order (nnodes + 1) */
    int nnodes;           /* of the engine it was made for */
    struct rv_spares spares;   /* what the last evaluation freed (value.h) */
};
void ev_store_free(struct ev_store *s);

struct ev {
    struct rego *r;
    struct rv *input;     /* borrowed */
    struct rv *data;      /* borrowed */
    struct overlay *ov;
    int nov, ovcap;
    struct mock *mocks;
    int nmocks, mockcap;
    struct rv **cache;    /* node values, by node id */
    struct rv **base_cache;   /* the cache outside any `with` */
    int *cache_ids;           /* ids set in base_cache (see struct ev_store) */
    int ncache_ids;
    struct ev_store *store;   /* borrowed: base_cache and cache_ids are its own */
    uint64_t steps, max_steps;
    struct rv_budget budget;       /* memory: live bytes of the values built */
    struct rv_budget *saved_budget;
    int depth, max_depth;
    char *stack_floor;    /* nesting stops where the stack goes below this */
    bool strict;
    struct rego_error *err;
    int64_t now_ns;
    const char *cur_builtin;
    struct loc cur_loc;
    struct rego_pcache *pcache;   /* may be NULL */
    int cur_nargs;                /* arguments of the builtin being called (print is variadic) */
    struct rv *memo;              /* uuid.rfc4122, rand.intn: [name, args...] -> value */
    /* the last address a net.cidr_* builtin parsed that is not a constant
     * of the policy (those are in pcache): the value (a reference held
     * until the evaluation ends), its PCACHE_ kind and the parsed form */
    struct rv *addr_key;
    int addr_kind;
    unsigned char addr_parsed[24];
};

void ev_init(struct ev *ev, struct rego *r, struct rv *input, struct rego_error *err);
/* ev_init with the node cache of store (NULL: ev_init's own). */
void ev_init_store(struct ev *ev, struct rego *r, struct rv *input, struct rego_error *err,
                   struct ev_store *store);
void ev_release(struct ev *ev);
/* Runs the query; each solution's bindings go to results (a set of
 * objects), or with value_term, the term's first value goes to *value. */
int ev_query(struct ev *ev, struct query_info *qi, struct term *value_term, struct rvbuf *results,
             struct rv **value);

/* Like ev_query; with_exprs: each result is [bindings, [expression values]]. */
int ev_query_mode(struct ev *ev, struct query_info *qi, struct term *value_term, struct rvbuf *results,
                  struct rv **value, bool with_exprs);

/* rego.c: evaluation with values already converted (conformance runner,
 * benchmarks, policy tests). */
int rego_query_eval_rv(struct rego_query *q, struct rv *input, struct rvbuf *results,
                       struct rego_error *err);
int rego_query_value_rv(struct rego_query *q, struct rv *input, struct rv **value,
                        struct rego_error *err);

#endif
