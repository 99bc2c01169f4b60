/* Internal to src/rego: the syntax tree, the compiled rule tree and the
 * evaluator's entry points. Not part of the public API (rego.h).
 *
 * Ownership: the tree is built once by the parser and owned by its module;
 * the compiler annotates it in place (variable slots, resolved refs and
 * calls) and frees it with the engine. Values inside terms (TK_VALUE) are
 * owned references. */
#ifndef ENCLAVE_REGO_AST_H
#define ENCLAVE_REGO_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "rego/rego.h"
#include "rego/value.h"

/* The deepest syntax tree the parser builds, and the deepest it recurses
 * to build one. Every later pass (compile, typecheck, eval, fmt) recurses
 * along the tree, so this bound is what keeps them within the stack. The
 * tree's height counts each term, expression and body level: a chain of
 * binary operators (`1 + 1 + 1`) nests one call per operator, a postfix
 * call (`f(x)(y)`) one per call, with no brackets written. */
#define REGO_MAX_PARSE_DEPTH 200

struct loc {
    const char *file;   /* owned by the module */
    int line, col;
};

enum term_kind {
    TK_VALUE,    /* a constant */
    TK_VAR,
    TK_REF,      /* items[0] is the head (a var or a call), items[1..] the path */
    TK_ARRAY,
    TK_SET,
    TK_OBJECT,   /* items: k0, v0, k1, v1, ... */
    TK_CALL,     /* items[0] is the function name (var or ref), items[1..] the arguments */
    TK_ACOMP,    /* [a | body] */
    TK_SCOMP,    /* {a | body} */
    TK_OCOMP,    /* {k: v | body} */
};

/* How a TK_REF's head was resolved by the compiler. */
enum ref_head { RH_UNRESOLVED, RH_LOCAL, RH_INPUT, RH_DATA, RH_TERM };

/* How a TK_CALL's function was resolved. */
enum call_kind { CALL_UNRESOLVED, CALL_BUILTIN, CALL_FUNCTION };

struct body;
struct node;

struct term {
    uint8_t kind;
    uint8_t ref_head;    /* TK_REF: enum ref_head */
    uint8_t call_kind;   /* TK_CALL: enum call_kind */
    bool ground;         /* no variables anywhere (set by the compiler) */
    bool wildcard;       /* TK_VAR: written as `_` */
    bool single;         /* at most one value, no bindings (set by the compiler):
                          * the evaluator computes it directly (eval.c, eval_direct) */
    uint8_t hint;        /* a constant key of a reference: where it was found in the
                          * last object (evaluations may share it: relaxed atomics) */
    int height;          /* levels of the tree below and including this term (parser) */
    struct loc loc;
    struct rv *val;      /* TK_VALUE */
    char *name;          /* TK_VAR */
    int slot;            /* TK_VAR: slot in the frame, -1 until resolved */
    int nitems;
    struct term **items;
    struct term *key, *value;  /* comprehensions: [value | body], {key: value | body} */
    struct body *body;
    /* TK_REF with RH_DATA: the data path; TK_CALL: the target */
    int builtin;               /* CALL_BUILTIN: index into the builtin table */
    struct node *fn;           /* CALL_FUNCTION */
    char *fname;               /* TK_CALL: dotted name, for messages and `with` */
    struct node *dnode;        /* TK_REF with RH_DATA: the rule node its constant prefix names */
    int dnext;                 /* ... and the index of the first item after that prefix */
};

enum expr_kind {
    EK_TERM,     /* a: evaluated; false or undefined fails */
    EK_UNIFY,    /* a = b */
    EK_ASSIGN,   /* a := b */
    EK_SOME,     /* some x, y (declaration only) */
    EK_SOME_IN,  /* some [a,] b in c */
    EK_EVERY,    /* every [a,] b in c { body } */
    EK_BODY,     /* not { body } (with import rego.v2): always negated */
};

struct with {
    struct term *target;   /* input..., data..., or a function name */
    struct term *value;
    /* resolved by the compiler */
    int kind;              /* WITH_INPUT, WITH_DATA, WITH_FUNC */
    struct rv **path;      /* for input/data: path below the root */
    int npath;
    int builtin;           /* WITH_FUNC: the builtin replaced, or -1 */
    struct node *fn;       /* WITH_FUNC: the function replaced, or NULL */
};
enum { WITH_INPUT, WITH_DATA, WITH_FUNC };

struct expr {
    uint8_t kind;
    bool negated;
    bool not_body;         /* negated as a body (`not { x }`, or `not x` under import
                            * rego.v2 / future.keywords.not): nothing moves out */
    struct loc loc;
    struct term *a, *b, *c;
    struct body *body;     /* EK_EVERY */
    int nwith;
    struct with *with;
    int ndecl;             /* EK_SOME: declared variables */
    struct term **decl;
    size_t src_start, src_end; /* byte span in the source text */
    /* Negated expressions: the parts OPA's compiler moves out of the
     * negation (set by the compiler, borrowed): each must be defined for
     * the expression to succeed. */
    int nhoist;
    struct term **hoist;
};

struct body {
    int n;
    struct expr **exprs;
    int height;            /* levels below and including this body (parser) */
    int ncaptured;         /* comprehension/every bodies: slots of enclosing scopes used inside */
    int *captured;
};

enum rule_kind { RULE_COMPLETE, RULE_SET, RULE_OBJECT, RULE_FUNC };

struct module;

struct rule {
    uint8_t kind;
    bool is_default;
    bool has_value;      /* `:= v` or `= v` written (else value is true) */
    bool multi;          /* RULE_OBJECT from `a[x] contains y`: the leaves are sets of key */
    struct loc loc;
    struct module *module;
    struct term *head;   /* TK_REF (or TK_VAR) as written, without package */
    /* resolved: full path below data, the leading string components */
    struct rv **path;
    int npath;
    struct term **suffix;   /* RULE_OBJECT: head parts after the ground prefix */
    int nsuffix;
    struct term **args;     /* RULE_FUNC */
    int nargs;
    struct term *key;       /* RULE_SET: the element */
    struct term *value;
    struct body *body;
    struct rule *els;       /* else chain */
    /* Rule index (set by the compiler): the body starts with
     * input.a.b == constant (or `in` a constant set); a rule whose input
     * does not match is skipped without evaluating its body. */
    struct term *idx_ref;   /* borrowed: the input reference, items all constant */
    struct rv *idx_val;     /* borrowed: the constant, or the set */
    bool idx_member;
    int nslots;             /* frame size (shared by the else chain) */
    char **slot_names;
    struct rule *next_in_module;
};

struct import {
    struct term *path;   /* TK_REF: data.x.y or input.x */
    char *alias;         /* last path element when not given */
    struct loc loc;
};

struct module {
    char *file;
    struct rv **pkg;      /* package path below data */
    int npkg;
    struct import *imports;
    int nimports;
    struct rule *rules;   /* linked by next_in_module */
    struct rule *last_rule;
    struct module *next;
};

/* A node of the rule tree: one per path below data that has rules at or below it. */
struct node {
    struct rv *key;       /* string key under the parent; NULL for the root */
    struct node *parent;
    int nchildren;
    struct node **children;   /* sorted by key */
    int nrules;
    struct rule **rules;      /* rules whose ground path ends here */
    struct rule *default_rule;
    int kind;                 /* enum rule_kind of rules here, or -1 */
    int id;                   /* index in the engine's node table (value cache) */
    int arity;                /* RULE_FUNC */
    char *path_str;           /* "data.a.b" */
    /* recursion check */
    int mark;
    /* The node's rule index (set by the compiler, as OPA's trie on one
     * level): where several rules start with input.path == constant on
     * the same path, the input's value there is looked up once and selects
     * the rules to evaluate, in their order: those with that constant and
     * those not indexed on the path (idx_other, also used for any other
     * value or a missing path). */
    struct term *idx_ref;     /* borrowed from a rule: input.path, constant keys */
    int idx_n;
    struct rv **idx_keys;     /* sorted constants, borrowed */
    int **idx_rules;          /* per constant: rule indexes, -1 terminated */
    int *idx_other;           /* -1 terminated */
    /* A rule that depends neither on input nor on anything that changes
     * between evaluations is evaluated once by the compiler: its value
     * (frozen; NULL: undefined) is used whenever no `with` is active. */
    bool has_konst;
    bool konst_strict;        /* strict_builtin_errors when it was computed */
    struct rv *konst;
    uint8_t indep;            /* compiler: 0 unknown, 1 independent, 2 not, 3 visiting */
};

/* The engine (struct rego). */
struct rego {
    int refs;
    struct module *modules;
    struct module *last_module;
    struct rv *data;          /* base documents */
    struct node *root;
    int nnodes;
    struct node **nodes;
    bool compiled;
    bool broken;              /* an allocation failed while loading (mem.h): refuse everything */
    struct rego_options opts;
    struct rv_frozen frozen;   /* values owned by the compiled engine */
};

/* parse.c */
int rego_parse_module(const char *file, const char *text, size_t len, struct module **out,
                      struct rego_error *err);
int rego_parse_query(const char *text, size_t len, struct body **out, struct rego_error *err);
int rego_parse_term_text(const char *text, size_t len, struct term **out, struct rego_error *err);
void term_free(struct term *t);
void body_free(struct body *b);
void module_free(struct module *m);
struct term *term_new(int kind, struct loc loc);

/* errors */
int rego_err(struct rego_error *err, const char *code, const struct loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* compile.c */
struct query_info {
    struct body *body;
    struct expr **orig;   /* the expressions in written order */
    int norig;
    int nslots;
    char **slot_names;
};
int rego_compile_query(struct rego *r, struct body *body, struct query_info *qi,
                       struct rego_error *err);
/* typecheck.c: builtin argument types and unifications, as OPA's checker
 * (rego_type_error); run by rego_compile on the ordered rule bodies. */
int rego_typecheck(struct rego *r, struct rego_error *err);
/* ... and on a compiled query's ordered body (frame of nslots) */
int rego_typecheck_query(struct rego *r, struct body *body, int nslots, struct rego_error *err);
/* Constant terms (input_term): evaluate a ground term to a value. */
int rego_term_constant(struct term *t, struct rv **out, struct rego_error *err);

struct term *obj_match(struct term *obj, struct term *key);
bool obj_pairable(struct term *x, struct term *y);

/* builtins.c */
struct ev;
typedef int (*builtin_fn)(struct ev *ev, struct rv **args, struct rv **out);
struct builtin {
    const char *name;
    int arity;          /* -1: variadic (not used by OPA builtins here) */
    builtin_fn fn;
    bool relation;      /* returns a boolean used as a condition */
};
extern const struct builtin rego_builtins[];
extern const int rego_nbuiltins;
int rego_builtin_find(const char *name);
/* Builtin error helpers: set ev's error (eval_type_error / eval_builtin_error). */
int bi_type_error(struct ev *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bi_error(struct ev *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define BI_UNDEFINED 1   /* a builtin's result is undefined (no error) */

/* eval.c */
int64_t ev_now_ns(struct ev *ev);
const char *ev_builtin_name(struct ev *ev);
int ev_call_value(struct ev *ev, struct rv *fnval, struct rv **args, int nargs, struct rv **out);
/* The value of a rule node (borrowed from ev's cache; NULL: undefined or an
 * error, < 0 in *rc). */
struct rv *ev_node_value(struct ev *ev, struct node *n, int *rc);
struct rv *rv_object_last_wins(struct rv **kv, int n);

#endif
