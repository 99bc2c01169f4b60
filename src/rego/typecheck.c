/* The compile-time type checker: builtin and function calls whose
 * arguments can never have the types declared (or, for a function,
 * inferred) for them, unifications (`=`, `:=`, `==`) and `in` tests of
 * values whose types can never match, and keys into local values whose
 * types have no keys are refused with OPA's `rego_type_error` when the
 * engine is compiled (and when a query is prepared), as OPA's checker
 * (ast/check.go) refuses them, with its messages.
 *
 * The types are OPA's (types/types.go): any, null, boolean, number,
 * string, array<static...>[dynamic], object<key: T...>[K: V], set[T], and
 * unions any<T...>; the declarations of the builtins are generated from
 * OPA's own (typecheck_sigs.h, `make rego-typesigs`). Each rule body is
 * walked in the order the compiler chose for it (the order OPA's checker
 * sees too): constants and composite literals have their exact types, a
 * variable the type of what first bound it (`:=`, `=`, a builtin's output,
 * `some k, v in xs`, the key of a reference that iterates a typed value:
 * `xs[i]`, the declared type of the builtin argument a variable not typed
 * yet is passed as: a function's argument), a call its declared result, a
 * comprehension array[T]/set[T]/object[K: V] of its head's type in its
 * body, a selection in a typed value the selected type, a rule (complete,
 * partial set, partial object) or a function OPA's merge of the types of
 * its definitions, and a function's arguments the types its bodies give
 * them, joined.
 *
 * No false positives: wherever OPA might know less than this checker
 * would, this checker knows nothing (type any, which unifies with every
 * type). So input, data, rules with empty collections in their values
 * that a `with` of the bundle may replace, variables bound by patterns,
 * and the rules and functions in expressions with `with` are any; `every`
 * and `not { }` bodies are not checked (OPA's checker does not look into
 * them either). An error is reported only where a type known here cannot
 * unify with the one wanted, which implies that OPA's type, being at least
 * as precise, cannot either. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rego/ast.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

enum { TY_NULL, TY_BOOL, TY_NUM, TY_STR, TY_ARRAY, TY_OBJECT, TY_SET, TY_ANY };

/* A type. TY_ANY with n == 0 is `any`; with members, the union any<...>. */
struct ty {
    uint8_t k;
    uint16_t depth;         /* ty_depth's answer + 1 (0: not computed yet) */
    const char *name;       /* a named argument or result of a declaration */
    int n;                  /* union members, array static items, object static properties */
    struct ty **items;
    struct rv **keys;       /* object static keys (strings), sorted */
    struct ty *dyn;         /* array dynamic items; set elements (NULL: the empty set) */
    struct ty *dkey, *dval; /* object dynamic properties (NULL: none) */
};

static struct ty T_ANY = { .k = TY_ANY }, T_NULL = { .k = TY_NULL }, T_BOOL = { .k = TY_BOOL },
                 T_NUM = { .k = TY_NUM }, T_STR = { .k = TY_STR };

struct tc_sig {
    const char *name;
    const char *decl;
};
#include "rego/typecheck_sigs.h"

struct sig {
    bool loaded, ok, variadic;
    int nargs;
    struct ty **args;      /* named */
    struct ty *result;     /* named, NULL: none */
};

struct tc {
    struct rego *r;
    struct rego_error *err;
    struct ty **node_ty;    /* per rule node: the type of its value (NULL: not known yet) */
    struct ty ***node_args; /* per function node: the types of its arguments (NULL: not known) */
    uint8_t *node_state;    /* 0 not computed, 1 computing, 2 done */
    bool in_with;           /* in an expression with `with`: rules and functions are any */
    bool query;             /* in the body of a query (not in its comprehensions) */
    bool in_query;          /* in a query, its comprehensions included */
    struct rv ***wpaths;    /* the data paths a `with` of the bundle replaces */
    int *wlens, nw, wcap;
    void **blocks;
    size_t nblocks, cap;
    struct rvbuf rvs;       /* keys owned by the checker */
    struct sig *sigs;       /* per builtin */
    struct ty **env;        /* per slot of the rule's frame; NULL: not bound yet */
    uint8_t *multi;         /* per slot: more than one expression of its body can bind it */
    int nslots;
    int nest;               /* term_type calls in progress (through rules too) */
};

/* Checking a rule checks the rules it refers to first, so the recursion
 * follows chains of rules (r0 := [r1], r1 := [r2], ...): past TC_MAX_NEST
 * terms in progress a rule met is any (checked later on its own), and a
 * rule's type deeper than TC_MAX_TYPE_DEPTH is any, so that neither the
 * checker nor the functions walking types recurse without bound. */
#define TC_MAX_NEST 2000
#define TC_MAX_TYPE_DEPTH 1000

static void *tc_alloc(struct tc *c, size_t size)
{
    if (c->nblocks == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->blocks = realloc(c->blocks, c->cap * sizeof *c->blocks);
        if (!c->blocks)
            REGO_OOM();
    }
    void *p = calloc(1, size ? size : 1);
    if (!p)
        REGO_OOM();
    c->blocks[c->nblocks++] = p;
    return p;
}

static struct ty *ty_new(struct tc *c, int k, int n)
{
    struct ty *t = tc_alloc(c, sizeof *t);
    t->k = (uint8_t)k;
    t->n = n;
    if (n > 0)
        t->items = tc_alloc(c, sizeof *t->items * (size_t)n);
    if (n > 0 && k == TY_OBJECT)
        t->keys = tc_alloc(c, sizeof *t->keys * (size_t)n);
    return t;
}

static bool is_any(const struct ty *t) { return t->k == TY_ANY && t->n == 0; }

/* How deeply t nests (a scalar 0; each collection or union a level): the
 * exact depth when at most limit, else some number above limit, found
 * without looking deeper (the recursion stays bounded). Exact answers are
 * kept in the type: types are shared, and complete when this is asked. */
static int ty_depth_max(struct ty *t, int limit)
{
    if (!t || limit < 0)
        return 0;
    if (t->depth)
        return t->depth - 1;
    int d = 0;
    struct ty *sub[3] = { t->dyn, t->dkey, t->dval };
    for (int i = 0; i < t->n && d <= limit; i++) {
        int e = ty_depth_max(t->items[i], limit - 1) + 1;
        if (e > d)
            d = e;
    }
    for (int i = 0; i < 3 && d <= limit; i++) {
        int e = sub[i] ? ty_depth_max(sub[i], limit - 1) + 1 : 0;
        if (e > d)
            d = e;
    }
    if (d <= limit && d > 0)   /* exact; never written in the shared scalar types */
        t->depth = (uint16_t)(d + 1);
    return d;
}

static int ty_depth(struct ty *t) { return ty_depth_max(t, TC_MAX_TYPE_DEPTH + 1); }

/* ------------------------------------------------------------------ OPA's type operations */

static int ty_order(const struct ty *t) { return t ? t->k : -1; }

static int ty_compare(const struct ty *a, const struct ty *b);

static int ty_list_compare(struct ty *const *a, int na, struct ty *const *b, int nb)
{
    for (int i = 0; i < na && i < nb; i++) {
        int c = ty_compare(a[i], b[i]);
        if (c)
            return c;
    }
    return na < nb ? -1 : na > nb;
}

/* types.Compare */
static int ty_compare(const struct ty *a, const struct ty *b)
{
    int x = ty_order(a), y = ty_order(b);
    if (x != y)
        return x < y ? -1 : 1;
    if (!a)
        return 0;
    switch (a->k) {
    case TY_ARRAY:
        if ((a->dyn != NULL) != (b->dyn != NULL))
            return a->dyn ? 1 : -1;
        if (a->dyn) {
            int c = ty_compare(a->dyn, b->dyn);
            if (c)
                return c;
        }
        return ty_list_compare(a->items, a->n, b->items, b->n);
    case TY_OBJECT:
        if ((a->dval != NULL) != (b->dval != NULL))
            return a->dval ? 1 : -1;
        if (a->dval) {
            int c = ty_compare(a->dkey, b->dkey);
            if (!c)
                c = ty_compare(a->dval, b->dval);
            if (c)
                return c;
        }
        for (int i = 0; i < a->n && i < b->n; i++) {
            int c = rv_compare(a->keys[i], b->keys[i]);
            if (!c)
                c = ty_compare(a->items[i], b->items[i]);
            if (c)
                return c;
        }
        return a->n < b->n ? -1 : a->n > b->n;
    case TY_SET:
        if (!a->dyn || !b->dyn)
            return a->dyn ? 1 : b->dyn ? -1 : 0;
        return ty_compare(a->dyn, b->dyn);
    case TY_ANY:
        return ty_list_compare(a->items, a->n, b->items, b->n);
    default:
        return 0;
    }
}

static struct ty *unnamed(struct tc *c, struct ty *t)
{
    if (!t || !t->name)
        return t;
    struct ty *u = tc_alloc(c, sizeof *u);
    *u = *t;
    u->name = NULL;
    return u;
}

/* a union's members and x, sorted, without duplicates */
static struct ty *union_add(struct tc *c, struct ty *u, struct ty *x)
{
    for (int i = 0; i < u->n; i++)
        if (ty_compare(u->items[i], x) == 0)
            return u;
    struct ty *v = ty_new(c, TY_ANY, u->n + 1);
    int j = 0;
    bool placed = false;
    for (int i = 0; i < u->n; i++) {
        if (!placed && ty_compare(x, u->items[i]) < 0) {
            v->items[j++] = x;
            placed = true;
        }
        v->items[j++] = u->items[i];
    }
    if (!placed)
        v->items[j++] = x;
    return v;
}

/* types.Or */
static struct ty *ty_or(struct tc *c, struct ty *a, struct ty *b)
{
    a = unnamed(c, a);
    b = unnamed(c, b);
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->k == TY_ANY || b->k == TY_ANY) {
        if (a->k != TY_ANY) {
            struct ty *t = a;
            a = b;
            b = t;
        }
        if (is_any(a))
            return a;
        if (b->k != TY_ANY)
            return union_add(c, a, b);
        if (is_any(b))
            return b;
        for (int i = 0; i < b->n; i++)
            a = union_add(c, a, b->items[i]);
        return a;
    }
    if (ty_compare(a, b) == 0)
        return a;
    struct ty *u = ty_new(c, TY_ANY, 0);
    return union_add(c, union_add(c, u, a), b);
}

static struct ty *arr_select(const struct ty *a, int i) { return i < a->n ? a->items[i] : a->dyn; }

/* types.Contains(key type, string) for an object's dynamic key */
static bool key_takes_string(const struct ty *k)
{
    if (k->k == TY_STR || is_any(k))
        return true;
    if (k->k == TY_ANY)
        for (int i = 0; i < k->n; i++)
            if (k->items[i]->k == TY_STR)
                return true;
    return false;
}

static struct ty *obj_select(const struct ty *o, const struct rv *key)
{
    for (int i = 0; i < o->n; i++)
        if (rv_compare(o->keys[i], key) == 0)
            return o->items[i];
    if (o->dval && key->type == RV_STRING && key_takes_string(o->dkey))
        return o->dval;
    return NULL;
}

static bool unifies(const struct ty *a, const struct ty *b);

static bool unifies_any(const struct ty *a, const struct ty *b)
{
    for (int i = 0; i < a->n; i++)
        if (unifies(a->items[i], b))
            return true;
    return a->n == 0;
}

/* unifies is symmetric: a pair of static properties (or items) is checked
 * once, not from both sides (which doubled the work at every level of a
 * nested type). skip: keys b has as static properties, already checked. */
static bool objects_static(const struct ty *a, const struct ty *b, bool skip)
{
    for (int i = 0; i < a->n; i++) {
        if (skip) {
            bool common = false;
            for (int j = 0; j < b->n && !common; j++)
                common = rv_compare(b->keys[j], a->keys[i]) == 0;
            if (common)
                continue;
        }
        struct ty *tb = obj_select(b, a->keys[i]);
        if (!tb) {
            if (a->dval || b->dval)
                continue;
            return false;
        }
        if (!unifies(a->items[i], tb))
            return false;
    }
    return true;
}

/* unifies (ast/check.go): whether a value of type a can be one of type b */
static bool unifies(const struct ty *a, const struct ty *b)
{
    if (!a || !b)
        return false;
    if (a->k == TY_ANY && unifies_any(a, b))
        return true;
    if (b->k == TY_ANY && unifies_any(b, a))
        return true;
    if (a->k == TY_ANY || b->k == TY_ANY || a->k != b->k)
        return false;
    switch (a->k) {
    case TY_ARRAY:
        for (int i = 0; i < a->n; i++)
            if (!unifies(a->items[i], arr_select(b, i)))
                return false;
        for (int i = a->n; i < b->n; i++)
            if (!unifies(b->items[i], arr_select(a, i)))
                return false;
        return !a->dyn || !b->dyn || unifies(a->dyn, b->dyn);
    case TY_OBJECT:
        return objects_static(a, b, false) && objects_static(b, a, true) &&
               (!a->dval || !b->dval || unifies(a->dval, b->dval));
    case TY_SET:
        return !a->dyn || !b->dyn || unifies(a->dyn, b->dyn);
    default:
        return true;
    }
}

/* types.Values: what iterating a collection of type t yields (NULL: nothing known) */
static struct ty *ty_values(struct tc *c, struct ty *t)
{
    struct ty *v = NULL;
    switch (t->k) {
    case TY_ARRAY:
    case TY_OBJECT:
        for (int i = 0; i < t->n; i++)
            v = ty_or(c, v, t->items[i]);
        return ty_or(c, v, t->k == TY_ARRAY ? t->dyn : t->dval);
    case TY_SET:
        return t->dyn;
    case TY_ANY:
        if (is_any(t))
            return t;
        for (int i = 0; i < t->n; i++)
            v = ty_or(c, ty_values(c, t->items[i]), v);
        return v;
    default:
        return NULL;
    }
}

/* types.Keys */
static struct ty *ty_keys(struct tc *c, struct ty *t)
{
    struct ty *v = NULL;
    switch (t->k) {
    case TY_ARRAY:
        return &T_NUM;
    case TY_OBJECT:
        if (t->n)
            v = &T_STR;
        return ty_or(c, v, t->dkey);
    case TY_SET:
        return t->dyn;
    case TY_ANY:
        if (is_any(t))
            return t;
        for (int i = 0; i < t->n; i++)
            v = ty_or(c, ty_keys(c, t->items[i]), v);
        return v;
    default:
        return NULL;
    }
}

static void ty_write(struct sbuf *b, const struct ty *t);

/* "<a, b>": the static items of an array or an any, or "<k: a>" of an object. */
static void ty_write_items(struct sbuf *b, const struct ty *t)
{
    for (int i = 0; i < t->n; i++) {
        sb_puts(b, i ? ", " : "<");
        if (t->k == TY_OBJECT) {
            sb_add(b, t->keys[i]->u.str.s, t->keys[i]->u.str.len);
            sb_puts(b, ": ");
        }
        ty_write(b, t->items[i]);
    }
    if (t->n)
        sb_putc(b, '>');
}

/* "[d]": the dynamic part of a set or an array, or "[k: v]" of an object. */
static void ty_write_dynamic(struct sbuf *b, const struct ty *t)
{
    const struct ty *v = t->k == TY_OBJECT ? t->dval : t->dyn;
    if (!v)
        return;
    sb_putc(b, '[');
    if (t->k == TY_OBJECT) {
        ty_write(b, t->dkey);
        sb_puts(b, ": ");
    }
    ty_write(b, v);
    sb_putc(b, ']');
}

/* types.Sprint */
static void ty_write(struct sbuf *b, const struct ty *t)
{
    if (!t) {
        sb_puts(b, "???");
        return;
    }
    if (t->name) {
        sb_puts(b, t->name);
        sb_puts(b, ": ");
    }
    switch (t->k) {
    case TY_NULL: sb_puts(b, "null"); return;
    case TY_BOOL: sb_puts(b, "boolean"); return;
    case TY_NUM: sb_puts(b, "number"); return;
    case TY_STR: sb_puts(b, "string"); return;
    case TY_ANY:
        sb_puts(b, "any");
        ty_write_items(b, t);
        return;
    case TY_SET:
        sb_puts(b, "set");
        ty_write_dynamic(b, t);
        return;
    case TY_ARRAY:
        sb_puts(b, "array");
        ty_write_items(b, t);
        ty_write_dynamic(b, t);
        return;
    case TY_OBJECT:
        sb_puts(b, "object");
        ty_write_items(b, t);
        ty_write_dynamic(b, t);
        return;
    }
}

/* ------------------------------------------------------------------ declarations */

static int key_index_cmp(const void *a, const void *b)
{
    const struct rv *const *x = a, *const *y = b;
    return rv_compare(*x, *y);
}

static struct ty *ty_from_json(struct tc *c, json_t *j)
{
    if (json_is_null(j))
        return NULL;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        return !strcmp(s, "null") ? &T_NULL : !strcmp(s, "boolean") ? &T_BOOL
             : !strcmp(s, "number") ? &T_NUM : !strcmp(s, "string") ? &T_STR : &T_ANY;
    }
    const char *tag = json_string_value(json_array_get(j, 0));
    if (!tag)
        return &T_ANY;
    if (!strcmp(tag, "named")) {
        struct ty *t = ty_from_json(c, json_array_get(j, 2));
        struct ty *u = tc_alloc(c, sizeof *u);
        *u = t ? *t : T_ANY;
        const char *name = json_string_value(json_array_get(j, 1));
        char *copy = tc_alloc(c, strlen(name ? name : "") + 1);
        strcpy(copy, name ? name : "");
        u->name = copy;
        return u;
    }
    if (!strcmp(tag, "any")) {
        int n = (int)json_array_size(j) - 1;
        struct ty *t = ty_new(c, TY_ANY, n);
        for (int i = 0; i < n; i++)
            t->items[i] = ty_from_json(c, json_array_get(j, (size_t)i + 1));
        return t;
    }
    if (!strcmp(tag, "array")) {
        json_t *st = json_array_get(j, 1);
        struct ty *t = ty_new(c, TY_ARRAY, (int)json_array_size(st));
        for (int i = 0; i < t->n; i++)
            t->items[i] = ty_from_json(c, json_array_get(st, (size_t)i));
        t->dyn = ty_from_json(c, json_array_get(j, 2));
        return t;
    }
    if (!strcmp(tag, "set")) {
        struct ty *t = ty_new(c, TY_SET, 0);
        t->dyn = ty_from_json(c, json_array_get(j, 1));
        return t;
    }
    if (!strcmp(tag, "object")) {
        json_t *st = json_array_get(j, 1);
        int n = (int)json_array_size(st);
        struct ty *t = ty_new(c, TY_OBJECT, n);
        struct { struct rv *k; struct ty *v; } *props = tc_alloc(c, sizeof *props * (size_t)(n ? n : 1));
        for (int i = 0; i < n; i++) {
            json_t *p = json_array_get(st, (size_t)i);
            const char *k = json_string_value(json_array_get(p, 0));
            props[i].k = rv_cstr(k ? k : "");
            rvbuf_push(&c->rvs, props[i].k);
            props[i].v = ty_from_json(c, json_array_get(p, 1));
        }
        qsort(props, (size_t)n, sizeof *props, key_index_cmp);
        for (int i = 0; i < n; i++) {
            t->keys[i] = props[i].k;
            t->items[i] = props[i].v;
        }
        json_t *d = json_array_get(j, 2);
        if (json_is_array(d)) {
            t->dkey = ty_from_json(c, json_array_get(d, 0));
            t->dval = ty_from_json(c, json_array_get(d, 1));
            if (!t->dkey || !t->dval)
                t->dkey = t->dval = NULL;
        }
        return t;
    }
    return &T_ANY;
}

static int sig_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct tc_sig *)elem)->name);
}

/* The declaration of builtin b (NULL: OPA has none, nothing is checked). */
static struct sig *builtin_sig(struct tc *c, int b)
{
    struct sig *s = &c->sigs[b];
    if (s->loaded)
        return s->ok ? s : NULL;
    s->loaded = true;
    const struct tc_sig *d = bsearch(rego_builtins[b].name, tc_sigs, sizeof tc_sigs / sizeof tc_sigs[0],
                                     sizeof tc_sigs[0], sig_cmp);
    if (!d)
        return NULL;
    json_t *j = json_loads(d->decl, 0, NULL);
    if (!j)
        return NULL;
    json_t *args = json_object_get(j, "args");
    s->nargs = (int)json_array_size(args);
    s->args = tc_alloc(c, sizeof *s->args * (size_t)(s->nargs + 1));
    for (int i = 0; i < s->nargs; i++)
        s->args[i] = ty_from_json(c, json_array_get(args, (size_t)i));
    s->result = ty_from_json(c, json_object_get(j, "result"));
    s->variadic = !json_is_null(json_object_get(j, "variadic"));
    json_decref(j);
    s->ok = true;
    for (int i = 0; i < s->nargs; i++)
        if (!s->args[i])
            s->ok = false;
    return s->ok ? s : NULL;
}

/* ------------------------------------------------------------------ types of values and terms */

static struct ty *ty_of_value(struct tc *c, const struct rv *v)
{
    switch (v->type) {
    case RV_NULL: return &T_NULL;
    case RV_BOOL: return &T_BOOL;
    case RV_NUMBER: return &T_NUM;
    case RV_STRING: return &T_STR;
    case RV_ARRAY: {
        struct ty *t = ty_new(c, TY_ARRAY, (int)v->u.arr.len);
        for (size_t i = 0; i < v->u.arr.len; i++)
            t->items[i] = ty_of_value(c, v->u.arr.v[i]);
        return t;
    }
    case RV_SET: {
        struct ty *t = ty_new(c, TY_SET, 0);
        for (size_t i = 0; i < v->u.arr.len; i++)
            t->dyn = ty_or(c, t->dyn, ty_of_value(c, v->u.arr.v[i]));
        return t;
    }
    case RV_OBJECT: {
        for (size_t i = 0; i < v->u.obj.len; i++)
            if (v->u.obj.k[i]->type != RV_STRING) {
                /* keys other than strings: known as any here */
                struct ty *t = ty_new(c, TY_OBJECT, 0);
                t->dkey = t->dval = &T_ANY;
                return t;
            }
        struct ty *t = ty_new(c, TY_OBJECT, (int)v->u.obj.len);
        for (size_t i = 0; i < v->u.obj.len; i++) {   /* sorted already */
            t->keys[i] = v->u.obj.k[i];
            t->items[i] = ty_of_value(c, v->u.obj.v[i]);
        }
        return t;
    }
    }
    return &T_ANY;
}

/* How a call meets its result, for OPA's messages: a call that is an
 * expression of its own (no result), f(x, out) (the result unifies with
 * out, shown among the arguments), or a call inside another term, which
 * OPA moves into an expression of its own with a fresh variable for the
 * result (shown as ???). */
enum { CALL_PLAIN, CALL_OUT, CALL_NESTED };

static int check_body(struct tc *c, struct body *b);
static int check_call(struct tc *c, struct term *t, int form, struct term *out, struct ty **result);

static struct ty *known(struct ty *t) { return t ? t : &T_ANY; }

/* The rule node a data reference names with its whole path (all keys constant). */
static struct node *ref_node(struct tc *c, struct term *t)
{
    struct node *n = c->r->root;
    for (int i = 1; n && i < t->nitems; i++) {
        struct term *k = t->items[i];
        if (k->kind != TK_VALUE)
            return NULL;
        struct node *next = NULL;
        for (int j = 0; j < n->nchildren; j++)
            if (rv_compare(n->children[j]->key, k->val) == 0) {
                next = n->children[j];
                break;
            }
        n = next;
    }
    return n;
}

static int node_type(struct tc *c, struct node *n, struct ty **out);
static bool keyless(const struct ty *t);
static char *ref_text(struct tc *c, struct term *t, const char *last_var);
static int ref_error(struct tc *c, const struct loc *loc, const char *text, const char *head, struct ty *have);

/* An object literal's pair i whose constant key is written again later:
 * the last one is the object's (as in OPA). */
static bool shadowed(const struct term *obj, int i)
{
    const struct term *k = obj->items[2 * i];
    if (k->kind != TK_VALUE)
        return false;
    for (int j = i + 1; j < obj->nitems / 2; j++) {
        const struct term *l = obj->items[2 * j];
        if (l->kind == TK_VALUE && rv_compare(l->val, k->val) == 0)
            return true;
    }
    return false;
}

static int distinct_pairs(const struct term *obj)
{
    int n = 0;
    for (int i = 0; i < obj->nitems / 2; i++)
        n += !shadowed(obj, i);
    return n;
}

static bool has_empty_collection(const struct ty *t);

static void bind(struct tc *c, struct term *t, struct ty *type);
static void settle_term(struct tc *c, struct term *t);
static void widen_vars(struct tc *c, struct term *t);

/* x.a[0] of a value whose type is known, from item `from` of the reference
 * on: OPA's selectRef, any wherever the selection is not simple. A
 * variable key not bound yet is bound to the keys of the collection it
 * iterates (OPA's reference check: xs[i] makes i a number for an array). */
/* x[k] for a constant scalar k (NULL: not known). In a union every member
 * must say, as OPA's types.Select joins what the members give. */
static struct ty *select_const(struct tc *c, struct ty *x, const struct rv *k)
{
    int64_t pos;
    if (x->k == TY_ARRAY && k->type == RV_NUMBER && rv_as_int(k, &pos) && pos >= 0 && pos < 1000000)
        return arr_select(x, (int)pos);
    if (x->k == TY_OBJECT && k->type == RV_STRING)
        return obj_select(x, k);
    if (x->k == TY_ANY && x->n > 0) {
        struct ty *u = NULL;
        for (int i = 0; i < x->n; i++) {
            struct ty *m = select_const(c, x->items[i], k);
            if (!m)
                return NULL;
            u = ty_or(c, u, m);
        }
        return u;
    }
    return NULL;
}

static bool is_collection(const struct ty *t)
{
    return t->k == TY_ARRAY || t->k == TY_OBJECT || t->k == TY_SET || (t->k == TY_ANY && t->n > 0);
}

static struct ty *select_ref(struct tc *c, struct term *t, int from, struct ty *x)
{
    for (int i = from; x && i < t->nitems; i++) {
        struct term *k = t->items[i];
        if (k->kind == TK_VALUE && k->val->type != RV_ARRAY && k->val->type != RV_OBJECT &&
            k->val->type != RV_SET) {
            x = select_const(c, x, k->val);
        } else if (is_collection(x)) {
            /* a literal key (xs[[a, b]]): OPA unifies it with the keys'
             * type, which may widen its variables (see meets_any) */
            if (k->kind == TK_ARRAY || k->kind == TK_SET || k->kind == TK_OBJECT)
                widen_vars(c, k);
            /* an empty collection: OPA binds its key to any */
            bool empty = x->k == TY_SET ? !x->dyn
                       : x->k == TY_ANY ? false : !x->n && !(x->k == TY_ARRAY ? x->dyn : x->dval);
            if (k->kind == TK_VAR)
                bind(c, k, empty ? &T_ANY : known(ty_keys(c, x)));
            x = has_empty_collection(x) ? NULL : ty_values(c, x);
        } else {
            x = NULL;
        }
    }
    return x ? unnamed(c, x) : &T_ANY;
}

/* The first node with rules on the constant keys of data reference t, and
 * the index of the item after it (NULL: none). */
static struct node *rule_prefix(struct tc *c, struct term *t, int *next)
{
    struct node *n = c->r->root;
    for (int i = 1; n && i < t->nitems && t->items[i]->kind == TK_VALUE; i++) {
        struct node *ch = NULL;
        for (int j = 0; j < n->nchildren; j++)
            if (rv_compare(n->children[j]->key, t->items[i]->val) == 0) {
                ch = n->children[j];
                break;
            }
        n = ch;
        if (n && (n->nrules || n->default_rule)) {
            *next = i + 1;
            return n;
        }
    }
    return NULL;
}

/* The type of term t (NULL: a variable not bound yet), checking the calls
 * and comprehensions inside it. < 0: a type error (c->err set). */
static int term_type_in(struct tc *c, struct term *t, struct ty **out);

static int term_type(struct tc *c, struct term *t, struct ty **out)
{
    c->nest++;
    int rc = term_type_in(c, t, out);
    c->nest--;
    return rc;
}

static int term_type_in(struct tc *c, struct term *t, struct ty **out)
{
    *out = &T_ANY;
    if (!t)
        return 0;
    switch (t->kind) {
    case TK_VALUE:
        *out = ty_of_value(c, t->val);
        return 0;
    case TK_VAR:
        *out = t->slot >= 0 && t->slot < c->nslots ? c->env[t->slot] : &T_ANY;
        return 0;
    case TK_REF: {
        /* input, data and what local values contain: any here; a complete
         * rule named by its whole path: its value's type */
        struct ty *head = NULL;
        for (int i = 0; i < t->nitems; i++) {
            struct ty *x;
            if (t->items[i]->kind != TK_VAR && term_type(c, t->items[i], &x) < 0)
                return -1;
            if (i == 0 && t->items[0]->kind != TK_VAR)
                head = x;
        }
        struct node *n = t->ref_head == RH_DATA ? ref_node(c, t) : NULL;
        if (n && !c->in_with)
            return node_type(c, n, out);
        int next;
        if (t->ref_head == RH_DATA && !c->in_with && (n = rule_prefix(c, t, &next)) && n->kind != RULE_FUNC) {
            /* a selection in a rule's value: data.p.q[i], data.p.q.a */
            struct ty *x;
            if (node_type(c, n, &x) < 0)
                return -1;
            *out = select_ref(c, t, next, x);
            settle_term(c, t);
            return 0;
        }
        struct term *h = t->items[0];
        if (t->ref_head == RH_LOCAL && h->kind == TK_VAR && h->slot >= 0 && h->slot < c->nslots &&
            keyless(c->env[h->slot]) && t->nitems > 1) {
            char *text = ref_text(c, t, NULL);
            if (text)
                return ref_error(c, &t->loc, text, h->name, c->env[h->slot]);
        }
        if (t->ref_head == RH_LOCAL && h->kind == TK_VAR && h->slot >= 0 && h->slot < c->nslots)
            *out = select_ref(c, t, 1, c->env[h->slot]);
        else if (t->ref_head == RH_TERM)
            *out = select_ref(c, t, 1, head);
        /* the variables of a reference not typed by it: any (OPA's
         * reference check types them before the expression is checked) */
        settle_term(c, t);
        return 0;
    }
    case TK_ARRAY: {
        struct ty *a = ty_new(c, TY_ARRAY, t->nitems);
        for (int i = 0; i < t->nitems; i++) {
            if (term_type(c, t->items[i], &a->items[i]) < 0)
                return -1;
            a->items[i] = known(a->items[i]);
        }
        *out = a;
        return 0;
    }
    case TK_SET: {
        struct ty *s = ty_new(c, TY_SET, 0);
        for (int i = 0; i < t->nitems; i++) {
            struct ty *x;
            if (term_type(c, t->items[i], &x) < 0)
                return -1;
            s->dyn = ty_or(c, s->dyn, known(x));
        }
        *out = s;
        return 0;
    }
    case TK_OBJECT: {
        int n = t->nitems / 2, m = 0;
        bool plain = true;
        for (int i = 0; i < n; i++) {
            struct term *k = t->items[2 * i];
            if (k->kind != TK_VALUE || k->val->type != RV_STRING)
                plain = false;
        }
        struct ty *o = ty_new(c, TY_OBJECT, plain ? distinct_pairs(t) : 0);
        struct { struct rv *k; struct ty *v; } *props = tc_alloc(c, sizeof *props * (size_t)(n ? n : 1));
        for (int i = 0; i < n; i++) {
            struct ty *kt, *vt;
            if (term_type(c, t->items[2 * i], &kt) < 0 || term_type(c, t->items[2 * i + 1], &vt) < 0)
                return -1;
            if (shadowed(t, i))
                continue;   /* a key written again later: the last value is the object's */
            props[m].k = t->items[2 * i]->val;
            props[m++].v = known(vt);
        }
        if (plain) {
            qsort(props, (size_t)m, sizeof *props, key_index_cmp);
            for (int i = 0; i < m; i++) {
                o->keys[i] = props[i].k;
                o->items[i] = props[i].v;
            }
        } else {
            o->dkey = o->dval = &T_ANY;
        }
        *out = o;
        return 0;
    }
    case TK_CALL:
        return check_call(c, t, CALL_NESTED, NULL, out);
    case TK_ACOMP:
    case TK_SCOMP:
    case TK_OCOMP: {
        /* the body is checked in a scope of its own: what it binds stays there */
        struct ty **saved = tc_alloc(c, sizeof *saved * (size_t)(c->nslots ? c->nslots : 1));
        memcpy(saved, c->env, sizeof *saved * (size_t)c->nslots);
        struct ty *kt = NULL, *vt = NULL;
        bool query = c->query;
        c->query = false;
        int rc = check_body(c, t->body);
        c->query = query;
        if (rc == 0 && t->key)
            rc = term_type(c, t->key, &kt);
        if (rc == 0)
            rc = term_type(c, t->value, &vt);
        memcpy(c->env, saved, sizeof *saved * (size_t)c->nslots);
        if (rc < 0)
            return -1;
        struct ty *r = ty_new(c, t->kind == TK_ACOMP ? TY_ARRAY : t->kind == TK_SCOMP ? TY_SET : TY_OBJECT, 0);
        if (t->kind == TK_OCOMP) {
            r->dkey = known(kt);
            r->dval = known(vt);
        } else {
            r->dyn = known(vt);
        }
        *out = r;
        return 0;
    }
    }
    return 0;
}

/* ------------------------------------------------------------------ errors */

/* OPA's messages (ast/check.go, check_elide.go): a detail line wider than
 * 80 runes is written again with what does not explain the mismatch left
 * out ("..."). The strings live in the checker's blocks. */
#define TYPE_ERR_LINE_WIDTH 80
#define ELIDED_TYPE_WIDTH 32
#define TYPE_DIFF_DEPTH 8

static char *tc_take(struct tc *c, struct sbuf *b)
{
    char *s = tc_alloc(c, b->len + 1);
    if (b->len)
        memcpy(s, b->s, b->len);
    free(sb_steal(b));
    return s;
}

static char *sprint(struct tc *c, const struct ty *t)
{
    struct sbuf b = { 0 };
    ty_write(&b, t);
    return tc_take(c, &b);
}

static size_t runes(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* t without its name */
static const struct ty *bare(const struct ty *t, struct ty *tmp)
{
    if (!t || !t->name)
        return t;
    *tmp = *t;
    tmp->name = NULL;
    return tmp;
}

static char *composite(struct tc *c, const char *prefix, char **parts, int n, const char *dyn)
{
    struct sbuf b = { 0 };
    sb_puts(&b, prefix);
    for (int i = 0; i < n; i++) {
        sb_puts(&b, i ? ", " : "<");
        sb_puts(&b, parts[i]);
    }
    if (n)
        sb_putc(&b, '>');
    if (dyn && *dyn) {
        sb_putc(&b, '[');
        sb_puts(&b, dyn);
        sb_putc(&b, ']');
    }
    return tc_take(c, &b);
}

static char *prop(struct tc *c, const struct rv *key, const char *value)
{
    struct sbuf b = { 0 };
    sb_add(&b, key->u.str.s, key->u.str.len);
    sb_puts(&b, ": ");
    sb_puts(&b, value);
    return tc_take(c, &b);
}

static char *join2(struct tc *c, const char *a, const char *sep, const char *b)
{
    struct sbuf s = { 0 };
    sb_puts(&s, a);
    sb_puts(&s, sep);
    sb_puts(&s, b);
    return tc_take(c, &s);
}

static char *any_of(struct tc *c, char **parts, int n)
{
    if (n == 0)
        return "any";
    struct sbuf b = { 0 };
    for (int i = 0; i < n; i++) {
        sb_puts(&b, i ? ", " : "any<");
        sb_puts(&b, parts[i]);
    }
    sb_putc(&b, '>');
    return tc_take(c, &b);
}

static char **parts_new(struct tc *c, int n) { return tc_alloc(c, sizeof(char *) * (size_t)(n + 1)); }

/* sprintElided */
static char *elided(struct tc *c, const struct ty *t, int depth)
{
    if (!t)
        return "???";
    if (t->name) {
        struct ty tmp;
        return join2(c, t->name, ": ", elided(c, bare(t, &tmp), depth));
    }
    switch (t->k) {
    case TY_SET:
        if (!t->dyn)
            return "set";
        return composite(c, "set", NULL, 0, depth == 0 ? "..." : elided(c, t->dyn, depth - 1));
    case TY_ARRAY: {
        char **p = parts_new(c, t->n);
        int n = 0;
        if (depth == 0 && t->n > 0)
            p[n++] = "...";
        else
            for (int i = 0; i < t->n; i++)
                p[n++] = elided(c, t->items[i], depth - 1);
        const char *dyn = t->dyn ? (depth == 0 ? "..." : elided(c, t->dyn, depth - 1)) : NULL;
        return composite(c, "array", p, n, dyn);
    }
    case TY_OBJECT: {
        char **p = parts_new(c, t->n);
        int n = 0;
        if (depth == 0 && t->n > 0)
            p[n++] = "...";
        else
            for (int i = 0; i < t->n; i++)
                p[n++] = prop(c, t->keys[i], elided(c, t->items[i], depth - 1));
        const char *dyn = !t->dval ? NULL : depth == 0 ? "..."
                        : join2(c, elided(c, t->dkey, depth - 1), ": ", elided(c, t->dval, depth - 1));
        return composite(c, "object", p, n, dyn);
    }
    case TY_ANY: {
        if (t->n == 0)
            return "any";
        char *dots = "...";
        if (depth == 0)
            return any_of(c, &dots, 1);
        char **p = parts_new(c, t->n);
        for (int i = 0; i < t->n; i++)
            p[i] = elided(c, t->items[i], depth - 1);
        return any_of(c, p, t->n);
    }
    default:
        return sprint(c, t);
    }
}

/* elideType */
static char *elide(struct tc *c, const struct ty *t)
{
    char *full = sprint(c, t);
    return runes(full) <= ELIDED_TYPE_WIDTH ? full : elided(c, t, 0);
}

static bool types_equal(struct tc *c, const struct ty *a, const struct ty *b)
{
    return strcmp(sprint(c, a), sprint(c, b)) == 0;
}

static void diff(struct tc *c, const struct ty *a, const struct ty *b, int depth, char **l, char **r);

static void diff_arrays(struct tc *c, const struct ty *a, const struct ty *b, int depth, char **l, char **r)
{
    if (a->n != b->n || !a->dyn != !b->dyn) {
        *l = elided(c, a, 1);
        *r = elided(c, b, 1);
        return;
    }
    char **lp = parts_new(c, a->n), **rp = parts_new(c, b->n);
    for (int i = 0; i < a->n; i++)
        diff(c, a->items[i], b->items[i], depth + 1, &lp[i], &rp[i]);
    char *ld = NULL, *rd = NULL;
    if (a->dyn)
        diff(c, a->dyn, b->dyn, depth + 1, &ld, &rd);
    *l = composite(c, "array", lp, a->n, ld);
    *r = composite(c, "array", rp, b->n, rd);
}

static void diff_objects(struct tc *c, const struct ty *a, const struct ty *b, int depth, char **l, char **r)
{
    char **lp = parts_new(c, a->n + 1), **rp = parts_new(c, b->n + 1);
    int nl = 0, nr = 0, i = 0, j = 0;
    bool dropped = false;
    while (i < a->n || j < b->n) {
        int cmp = j == b->n ? -1 : i == a->n ? 1 : rv_compare(a->keys[i], b->keys[j]);
        if (cmp < 0) {
            lp[nl++] = prop(c, a->keys[i], elide(c, a->items[i]));
            i++;
        } else if (cmp > 0) {
            rp[nr++] = prop(c, b->keys[j], elide(c, b->items[j]));
            j++;
        } else {
            if (types_equal(c, a->items[i], b->items[j])) {
                dropped = true;
            } else {
                char *x, *y;
                diff(c, a->items[i], b->items[j], depth + 1, &x, &y);
                lp[nl++] = prop(c, a->keys[i], x);
                rp[nr++] = prop(c, b->keys[j], y);
            }
            i++;
            j++;
        }
    }
    if (dropped) {
        lp[nl++] = "...";
        rp[nr++] = "...";
    }
    char *ld = NULL, *rd = NULL;
    if (a->dval && b->dval) {
        char *kl, *kr, *vl, *vr;
        diff(c, a->dkey, b->dkey, depth + 1, &kl, &kr);
        diff(c, a->dval, b->dval, depth + 1, &vl, &vr);
        ld = join2(c, kl, ": ", vl);
        rd = join2(c, kr, ": ", vr);
    } else if (a->dval) {
        ld = join2(c, elide(c, a->dkey), ": ", elide(c, a->dval));
    } else if (b->dval) {
        rd = join2(c, elide(c, b->dkey), ": ", elide(c, b->dval));
    }
    *l = composite(c, "object", lp, nl, ld);
    *r = composite(c, "object", rp, nr, rd);
}

static bool any_contains(struct tc *c, const struct ty *u, const struct ty *t)
{
    for (int i = 0; i < u->n; i++)
        if (types_equal(c, u->items[i], t))
            return true;
    return false;
}

static void diff_anys(struct tc *c, const struct ty *a, const struct ty *b, char **l, char **r)
{
    char **lp = parts_new(c, a->n + 1), **rp = parts_new(c, b->n + 1);
    int nl = 0, nr = 0;
    bool dropped = false;
    for (int i = 0; i < a->n; i++) {
        if (any_contains(c, b, a->items[i]))
            dropped = true;
        else
            lp[nl++] = elide(c, a->items[i]);
    }
    for (int i = 0; i < b->n; i++)
        if (!any_contains(c, a, b->items[i]))
            rp[nr++] = elide(c, b->items[i]);
    if (dropped) {
        lp[nl++] = "...";
        rp[nr++] = "...";
    }
    *l = any_of(c, lp, nl);
    *r = any_of(c, rp, nr);
}

/* diffTypes */
static void diff(struct tc *c, const struct ty *a, const struct ty *b, int depth, char **l, char **r)
{
    struct ty ta, tb;
    if (a && a->name) {
        diff(c, bare(a, &ta), b, depth, l, r);
        *l = join2(c, a->name, ": ", *l);
        return;
    }
    if (b && b->name) {
        diff(c, a, bare(b, &tb), depth, l, r);
        *r = join2(c, b->name, ": ", *r);
        return;
    }
    if (depth < TYPE_DIFF_DEPTH && a && b && !types_equal(c, a, b) && a->k == b->k) {
        switch (a->k) {
        case TY_SET:
            if (a->dyn && b->dyn) {
                char *x, *y;
                diff(c, a->dyn, b->dyn, depth + 1, &x, &y);
                *l = composite(c, "set", NULL, 0, x);
                *r = composite(c, "set", NULL, 0, y);
                return;
            }
            break;
        case TY_ARRAY:
            diff_arrays(c, a, b, depth, l, r);
            return;
        case TY_OBJECT:
            diff_objects(c, a, b, depth, l, r);
            return;
        case TY_ANY:
            diff_anys(c, a, b, l, r);
            return;
        }
    }
    *l = elide(c, a);
    *r = elide(c, b);
}

static char *paren_list(struct tc *c, char **parts, int n)
{
    struct sbuf b = { 0 };
    sb_putc(&b, '(');
    for (int i = 0; i < n; i++) {
        if (i)
            sb_puts(&b, ", ");
        sb_puts(&b, parts[i]);
    }
    sb_putc(&b, ')');
    return tc_take(c, &b);
}

static int arg_error(struct tc *c, struct term *call, const char *name, struct sig *s, struct ty **have, int nhave)
{
    int nwant = s->nargs + (s->result != NULL);
    struct ty **want = tc_alloc(c, sizeof *want * (size_t)(nwant + 1));
    memcpy(want, s->args, sizeof *want * (size_t)s->nargs);
    if (s->result)
        want[s->nargs] = s->result;
    char **hp = parts_new(c, nhave), **wp = parts_new(c, nwant);
    for (int i = 0; i < nhave; i++)
        hp[i] = sprint(c, have[i]);
    for (int i = 0; i < nwant; i++)
        wp[i] = sprint(c, want[i]);
    char *h = join2(c, "have: ", "", paren_list(c, hp, nhave));
    char *w = join2(c, "want: ", "", paren_list(c, wp, nwant));
    if (runes(h) > TYPE_ERR_LINE_WIDTH || runes(w) > TYPE_ERR_LINE_WIDTH) {
        for (int i = 0; i < nhave; i++)
            hp[i] = elide(c, have[i]);
        for (int i = 0; i < nwant; i++)
            wp[i] = elide(c, want[i]);
        for (int i = 0; i < nhave && i < nwant; i++) {
            struct ty ta, tb;
            if (have[i] && unifies(bare(have[i], &ta), bare(want[i], &tb))) {
                hp[i] = elide(c, have[i]);
                wp[i] = elide(c, want[i]);
            } else {
                diff(c, have[i], want[i], 0, &hp[i], &wp[i]);
            }
        }
        h = join2(c, "have: ", "", paren_list(c, hp, nhave));
        w = join2(c, "want: ", "", paren_list(c, wp, nwant));
    }
    return rego_err(c->err, "rego_type_error", &call->loc, "%s: invalid argument(s)\n\t%s\n\t%s", name, h, w);
}

static const char *composite_kind(const struct ty *a, const struct ty *b)
{
    if (a->k != b->k)
        return NULL;
    return a->k == TY_OBJECT ? "objects" : a->k == TY_ARRAY ? "arrays" : a->k == TY_SET ? "sets" : NULL;
}

static int match_error(struct tc *c, const struct loc *loc, struct ty *a, struct ty *b)
{
    char *l = join2(c, "left  : ", "", sprint(c, a));
    char *r = join2(c, "right : ", "", sprint(c, b));
    if (runes(l) > TYPE_ERR_LINE_WIDTH || runes(r) > TYPE_ERR_LINE_WIDTH) {
        char *x, *y;
        diff(c, a, b, 0, &x, &y);
        l = join2(c, "left  : ", "", x);
        r = join2(c, "right : ", "", y);
    }
    const char *kind = composite_kind(a, b);
    if (kind)
        return rego_err(c->err, "rego_type_error", loc,
                        "match error\n\t%s\n\t%s\n\thint  : both sides are %s but their types differ, so "
                        "they can never be equal (see "
                        "https://www.openpolicyagent.org/docs/errors/rego-type-error/match-error)",
                        l, r, kind);
    return rego_err(c->err, "rego_type_error", loc, "match error\n\t%s\n\t%s", l, r);
}

static bool is_scalar(const struct ty *t)
{
    return t && (t->k == TY_NULL || t->k == TY_BOOL || t->k == TY_NUM || t->k == TY_STR);
}

/* A type without keys to select or iterate (OPA's types.Keys is nil): a
 * scalar, or a union of scalars. */
static bool keyless(const struct ty *t)
{
    if (t && t->k == TY_ANY && t->n > 0) {
        for (int i = 0; i < t->n; i++)
            if (!is_scalar(t->items[i]))
                return false;
        return true;
    }
    return is_scalar(t);
}

/* The text of a reference whose keys are variables and scalars, as OPA
 * prints it; NULL for others. */
static char *ref_text(struct tc *c, struct term *t, const char *last_var)
{
    struct sbuf b = { 0 };
    sb_puts(&b, t->kind == TK_VAR ? t->name : t->items[0]->name);
    for (int i = 1; t->kind == TK_REF && i < t->nitems; i++) {
        struct term *k = t->items[i];
        if (k->kind == TK_VAR) {
            sb_printf(&b, "[%s]", k->wildcard ? "_" : k->name);
        } else if (k->kind == TK_VALUE && k->val->type == RV_STRING) {
            bool ident = k->val->u.str.len > 0;
            for (size_t j = 0; j < k->val->u.str.len; j++) {
                char ch = k->val->u.str.s[j];
                if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (j > 0 && ch >= '0' && ch <= '9')))
                    ident = false;
            }
            if (ident) {
                sb_putc(&b, '.');
                sb_add(&b, k->val->u.str.s, k->val->u.str.len);
            } else {
                sb_putc(&b, '[');
                rv_write(&b, k->val, false);
                sb_putc(&b, ']');
            }
        } else if (k->kind == TK_VALUE && k->val->type != RV_ARRAY && k->val->type != RV_OBJECT &&
                   k->val->type != RV_SET) {
            sb_putc(&b, '[');
            rv_write(&b, k->val, false);
            sb_putc(&b, ']');
        } else {
            free(sb_steal(&b));
            return NULL;
        }
    }
    if (last_var)
        sb_printf(&b, "[%s]", last_var);
    return tc_take(c, &b);
}

/* OPA's reference check: a key into a value of a scalar type */
static int ref_error(struct tc *c, const struct loc *loc, const char *text, const char *head, struct ty *have)
{
    struct sbuf b = { 0 };
    for (size_t i = strlen(head); i > 0; i--)
        sb_putc(&b, '^');
    char *carets = tc_take(c, &b);
    return rego_err(c->err, "rego_type_error", loc, "undefined ref: %s\n\t%s\n\t%s\n\thave: %s", text, text,
                    carets, sprint(c, have));
}

/* ------------------------------------------------------------------ expressions */

static void bind(struct tc *c, struct term *t, struct ty *type)
{
    if (t && t->kind == TK_VAR && t->slot >= 0 && t->slot < c->nslots && !c->env[t->slot])
        c->env[t->slot] = type && !c->multi[t->slot] ? unnamed(c, type) : &T_ANY;
}

static bool is_builtin(const struct term *t, const char *name)
{
    return t->kind == TK_CALL && t->call_kind == CALL_BUILTIN && !strcmp(rego_builtins[t->builtin].name, name);
}

/* x in xs, k, x in xs: what the collection can hold (OPA's checkExprMember) */
static int check_member(struct tc *c, struct term *call, struct ty **args, int nargs)
{
    struct ty *coll = args[nargs - 1];
    struct ty *values = ty_values(c, coll);
    if (!values)
        return 0;
    if (nargs == 3) {
        struct ty *keys = ty_keys(c, coll);
        if (keys && args[0] && !unifies(args[0], keys))
            return match_error(c, &call->loc, args[0], keys);
    }
    if (args[nargs - 2] && !unifies(args[nargs - 2], values))
        return match_error(c, &call->loc, args[nargs - 2], values);
    return 0;
}

/* unify1 (ast/check.go) on the structure of an argument: the elements of
 * array, set and object literals against what the wanted type holds there
 * (a set literal {1, "a"} has type set[any<number, string>], which unifies
 * with set[number], but its element "a" does not). Terms whose type says it
 * all (variables, references, calls, comprehensions) pass here: their
 * types were compared already. */
static bool unify_term(struct tc *c, struct term *t, const struct ty *want);

static bool unify_value(struct tc *c, const struct rv *v, const struct ty *want)
{
    struct ty tmp;
    want = bare(want, &tmp);
    if (!want)
        return false;
    if (want->k == TY_ANY && v->type != RV_ARRAY && v->type != RV_OBJECT && v->type != RV_SET)
        return unifies(ty_of_value(c, v), want);
    if (want->k == TY_ANY) {
        if (want->n == 0)
            return true;
        for (int i = 0; i < want->n; i++)
            if (unify_value(c, v, want->items[i]))
                return true;
        return false;
    }
    switch (v->type) {
    case RV_ARRAY:
        if (want->k != TY_ARRAY || ((int)v->u.arr.len != want->n && !want->dyn))
            return false;
        for (size_t i = 0; i < v->u.arr.len; i++)
            if (!unify_value(c, v->u.arr.v[i], arr_select(want, (int)i)))
                return false;
        return true;
    case RV_SET: {
        if (want->k != TY_SET)
            return false;
        for (size_t i = 0; i < v->u.arr.len; i++)
            if (want->dyn && !unify_value(c, v->u.arr.v[i], want->dyn))
                return false;
        return true;
    }
    case RV_OBJECT:
        if (want->k != TY_OBJECT || ((int)v->u.obj.len != want->n && !want->dval))
            return false;
        for (size_t i = 0; i < v->u.obj.len; i++) {
            if (v->u.obj.k[i]->type != RV_STRING)
                continue;
            struct ty *child = obj_select(want, v->u.obj.k[i]);
            if (!child || !unify_value(c, v->u.obj.v[i], child))
                return false;
        }
        return true;
    default:
        return unifies(ty_of_value(c, v), want);
    }
}

static bool unify_term(struct tc *c, struct term *t, const struct ty *want)
{
    struct ty tmp;
    want = bare(want, &tmp);
    if (!want)
        return false;
    if (t->kind == TK_VALUE)
        return unify_value(c, t->val, want);
    if (t->kind != TK_ARRAY && t->kind != TK_SET && t->kind != TK_OBJECT)
        return true;
    if (want->k == TY_ANY) {
        if (want->n == 0)
            return true;
        for (int i = 0; i < want->n; i++)
            if (unify_term(c, t, want->items[i]))
                return true;
        return false;
    }
    switch (t->kind) {
    case TK_ARRAY:
        if (want->k != TY_ARRAY || (t->nitems != want->n && !want->dyn))
            return false;
        for (int i = 0; i < t->nitems; i++)
            if (!unify_term(c, t->items[i], arr_select(want, i)))
                return false;
        return true;
    case TK_SET:
        if (want->k != TY_SET)
            return false;
        for (int i = 0; i < t->nitems; i++)
            if (want->dyn && !unify_term(c, t->items[i], want->dyn))
                return false;
        return true;
    default: {
        int n = t->nitems / 2;
        if (want->k != TY_OBJECT || (distinct_pairs(t) != want->n && !want->dval))
            return false;
        for (int i = 0; i < n; i++) {
            struct term *k = t->items[2 * i];
            if (k->kind != TK_VALUE || k->val->type != RV_STRING || shadowed(t, i))
                continue;
            struct ty *child = obj_select(want, k->val);
            if (!child || !unify_term(c, t->items[2 * i + 1], child))
                return false;
        }
        return true;
    }
    }
}

/* Whether OPA's unify1 of composite literal t with type want meets a
 * composite against an `any` (plain or a union): from there on it joins
 * each variable's type with what it meets (types.Or), which can widen a
 * variable typed already (`x := "a"; count([x])` makes x any in OPA). */
static bool meets_any(struct term *t, const struct ty *want)
{
    struct ty tmp;
    if (!t || (t->kind != TK_ARRAY && t->kind != TK_SET && t->kind != TK_OBJECT))
        return false;
    want = bare(want, &tmp);
    if (!want)
        return false;
    if (want->k == TY_ANY)
        return true;
    if ((t->kind == TK_ARRAY && want->k != TY_ARRAY) || (t->kind == TK_SET && want->k != TY_SET) ||
        (t->kind == TK_OBJECT && want->k != TY_OBJECT))
        return false;
    if (t->kind == TK_OBJECT) {
        for (int i = 0; i < t->nitems / 2; i++) {
            struct term *k = t->items[2 * i], *v = t->items[2 * i + 1];
            if (k->kind != TK_VALUE)
                return true;   /* a value under a key not constant: unified with any */
            struct ty *child = k->val->type == RV_STRING ? obj_select(want, k->val) : NULL;
            if (child && meets_any(v, child))
                return true;
        }
        return false;
    }
    for (int i = 0; i < t->nitems; i++)
        if (meets_any(t->items[i], t->kind == TK_ARRAY ? arr_select(want, i) : want->dyn))
            return true;
    return false;
}

/* Every variable typed already in composite literal t: any (see meets_any) */
static void widen_vars(struct tc *c, struct term *t)
{
    if (!t)
        return;
    if (t->kind == TK_VAR && t->slot >= 0 && t->slot < c->nslots && c->env[t->slot])
        c->env[t->slot] = &T_ANY;
    if (t->kind == TK_ARRAY || t->kind == TK_SET || t->kind == TK_OBJECT)
        for (int i = 0; i < t->nitems; i++)
            widen_vars(c, t->items[i]);
}

static void widen(struct tc *c, struct term *t, const struct ty *want)
{
    if (meets_any(t, want))
        widen_vars(c, t);
}

/* x in xs, k, x in xs with an operand not typed yet (a function's
 * argument): it takes the type of what the collection holds, as OPA's
 * checkExprMemberOperand infers it */
static void bind_member(struct tc *c, struct term *call, struct ty **raw, int nargs)
{
    struct ty *coll = known(raw[nargs - 1]);
    struct ty *values = ty_values(c, coll);
    if (!values)
        return;
    if (nargs == 3 && !raw[0])
        bind(c, call->items[1], ty_keys(c, coll));
    if (!raw[nargs - 2])
        bind(c, call->items[nargs - 1], values);
}

/* A call: its arguments against the declaration of the builtin, or the
 * types a function's definitions give its arguments. A variable argument
 * not typed yet (a function's argument) takes the declared type, as OPA's
 * unify1 gives it. */
static int check_call(struct tc *c, struct term *t, int form, struct term *out, struct ty **result)
{
    *result = &T_ANY;
    int nargs = t->nitems - 1;
    struct ty **args = tc_alloc(c, sizeof *args * (size_t)(nargs + 2));
    struct ty **raw = tc_alloc(c, sizeof *raw * (size_t)(nargs + 1));
    for (int i = 0; i < nargs; i++) {
        if (term_type(c, t->items[i + 1], &raw[i]) < 0)
            return -1;
        args[i] = known(raw[i]);
    }
    if (c->in_with && t->call_kind == CALL_FUNCTION)
        return 0;
    struct sig fs = { 0 }, *s = NULL;
    const char *name = NULL;
    if (t->call_kind == CALL_FUNCTION) {
        if (node_type(c, t->fn, result) < 0)
            return -1;
        if (!t->fn || t->fn->id < 0 || t->fn->id >= c->r->nnodes || !c->node_args[t->fn->id] ||
            t->fn->arity != nargs)
            return 0;
        fs.nargs = nargs;
        fs.args = c->node_args[t->fn->id];
        fs.result = *result;
        s = &fs;
        name = t->fn->path_str;
    } else if (t->call_kind == CALL_BUILTIN) {
        s = builtin_sig(c, t->builtin);
        name = rego_builtins[t->builtin].name;
    }
    if (!s || s->variadic || nargs != s->nargs)
        return 0;
    struct ty *have_out = NULL;
    if (form == CALL_OUT && term_type(c, out, &have_out) < 0)
        return -1;
    int nhave = form == CALL_PLAIN || !s->result ? nargs : nargs + 1;
    args[nargs] = have_out;
    bool member = is_builtin(t, "internal.member_2") || is_builtin(t, "internal.member_3");
    if (member)
        bind_member(c, t, raw, nargs);
    for (int i = 0; i < nargs; i++)
        if (!unifies(args[i], s->args[i]) || !unify_term(c, t->items[i + 1], s->args[i]))
            return arg_error(c, t, name, s, args, nhave);
    if (member && check_member(c, t, args, nargs) < 0)
        return -1;
    for (int i = 0; i < nargs; i++)
        widen(c, t->items[i + 1], s->args[i]);
    if (member) {
        struct ty *coll = args[nargs - 1], *values = ty_values(c, coll);
        if (values)
            widen(c, t->items[nargs - 1], values);
        if (values && nargs == 3)
            widen(c, t->items[1], ty_keys(c, coll));
    }
    /* OPA checks a == b as a = b in a module: no inference from equal's declaration */
    if (!is_builtin(t, "equal") || c->in_query)
        for (int i = 0; i < nargs; i++)
            if (!raw[i])
                bind(c, t->items[i + 1], s->args[i]);
    *result = s->result ? unnamed(c, s->result) : &T_ANY;
    if (form == CALL_OUT) {
        if (!have_out)
            bind(c, out, *result);
        else if (!unifies(have_out, s->result))
            return arg_error(c, t, name, s, args, nhave);
    }
    return 0;
}

static bool loc_before(const struct loc *a, const struct loc *b)
{
    return a->line < b->line || (a->line == b->line && a->col < b->col);
}

/* a = b (also a := b and a == b): OPA's unify2 where both types are known */
static int check_unify(struct tc *c, struct expr *e, struct term *a, struct term *b)
{
    struct ty *ta, *tb;
    /* f(x, out), which the compiler made out = f(x) */
    if (b->kind == TK_CALL && loc_before(&b->loc, &a->loc))
        return check_call(c, b, CALL_OUT, a, &tb);
    if (term_type(c, a, &ta) < 0 || term_type(c, b, &tb) < 0)
        return -1;
    if (!ta) {
        bind(c, a, tb);
        return 0;
    }
    if (!tb) {
        bind(c, b, ta);
        return 0;
    }
    if (!unifies(ta, tb))
        return match_error(c, &e->loc, ta, tb);
    widen(c, a, tb);
    widen(c, b, ta);
    return 0;
}

static bool replaces_function(const struct expr *e)
{
    for (int i = 0; i < e->nwith; i++)
        if (e->with[i].kind == WITH_FUNC)
            return true;
    return false;
}

/* After an expression, every variable it mentions is bound: those whose
 * type was not found are any. */
static void settle_term(struct tc *c, struct term *t)
{
    if (!t)
        return;
    if (t->kind == TK_VAR) {
        bind(c, t, &T_ANY);
        return;
    }
    if (t->kind == TK_ACOMP || t->kind == TK_SCOMP || t->kind == TK_OCOMP)
        return;
    for (int i = 0; i < t->nitems; i++)
        settle_term(c, t->items[i]);
}

static int check_expr(struct tc *c, struct expr *e)
{
    int rc = 0;
    /* with: the documents and functions it replaces, and what depends on
     * them, may have other types (OPA types them any there) */
    bool saved_with = c->in_with;
    c->in_with = saved_with || e->nwith > 0;
    if (!replaces_function(e)) {
        switch (e->kind) {
        case EK_TERM:
            if (is_builtin(e->a, "equal") && e->a->nitems == 3 && !c->in_query) {
                /* OPA rewrites a == b to a = b before checking */
                struct ty *r;
                rc = check_call(c, e->a, CALL_PLAIN, NULL, &r);
                if (rc == 0)
                    rc = check_unify(c, e, e->a->items[1], e->a->items[2]);
            } else if (e->a->kind == TK_CALL) {
                /* a call of a query captures its value, as OPA's rego
                 * package rewrites it (shown as ??? in the message); a == b
                 * in a query is a call of equal, not a unification */
                struct ty *x;
                rc = check_call(c, e->a, c->query && !e->negated ? CALL_NESTED : CALL_PLAIN, NULL, &x);
            } else {
                struct ty *x;
                rc = term_type(c, e->a, &x);
            }
            break;
        case EK_UNIFY:
        case EK_ASSIGN:
            rc = check_unify(c, e, e->a, e->b);
            break;
        case EK_SOME_IN: {
            /* some [k,] v in xs: OPA's member check binds k and v to the
             * key and value types of the collection */
            struct ty *coll;
            rc = term_type(c, e->c, &coll);
            /* OPA iterates a variable as a reference: xs[k], or xs[__localN__] */
            if (rc == 0 && e->c->kind == TK_VAR && keyless(coll) && e->a && e->a->kind == TK_VAR) {
                rc = ref_error(c, &e->loc, ref_text(c, e->c, e->a->wildcard ? "_" : e->a->name),
                               e->c->name, coll);
                break;
            }
            if (rc == 0 && e->c->kind == TK_VAR && keyless(coll) && !e->a) {
                rc = ref_error(c, &e->loc, ref_text(c, e->c, "__local__"), e->c->name, coll);
                break;
            }
            if (rc == 0 && coll) {
                struct ty *values = ty_values(c, coll);
                if (e->a)
                    bind(c, e->a, known(ty_keys(c, coll)));
                bind(c, e->b, known(values));
            }
            break;
        }
        default:
            /* some: declarations only; every and not { }: OPA does not look inside */
            break;
        }
    }
    c->in_with = saved_with;
    if (rc < 0)
        return -1;
    settle_term(c, e->a);
    settle_term(c, e->b);
    return 0;
}

/* The variables an expression can bind: sides and patterns of `=`, `:=`,
 * `some ... in`, and keys of references (iteration). */
static void mark_pattern(struct tc *c, struct term *t, uint8_t *mark)
{
    if (!t)
        return;
    if (t->kind == TK_VAR && t->slot >= 0 && t->slot < c->nslots)
        mark[t->slot] = 1;
    if (t->kind == TK_ARRAY || t->kind == TK_OBJECT)
        for (int i = 0; i < t->nitems; i++)
            mark_pattern(c, t->items[i], mark);
}

static void mark_ref_keys(struct tc *c, struct term *t, uint8_t *mark)
{
    if (!t || t->kind == TK_ACOMP || t->kind == TK_SCOMP || t->kind == TK_OCOMP)
        return;
    for (int i = 0; i < t->nitems; i++) {
        struct term *k = t->items[i];
        if (t->kind == TK_REF && i > 0 && k->kind == TK_VAR && k->slot >= 0 && k->slot < c->nslots)
            mark[k->slot] = 1;
        mark_ref_keys(c, k, mark);
    }
}

/* A variable that two expressions can bind is bound first by the one the
 * compiler put first, as in OPA, whose order the compiler follows (sweeps
 * over the body taking every expression that can run). Where the first of
 * them in that order is not the first as written, the two orders depend
 * on which expressions can run when, and a difference between this
 * compiler's safety analysis and OPA's could bind it elsewhere (with
 * another type) in OPA: such a variable is any here. */
static void mark_multi(struct tc *c, struct body *b)
{
    size_t ns = (size_t)(c->nslots ? c->nslots : 1);
    struct loc *first_written = tc_alloc(c, sizeof(struct loc) * ns);
    uint8_t *seen = tc_alloc(c, ns), *mark = tc_alloc(c, ns);
    for (int i = 0; b && i < b->n; i++) {
        struct expr *e = b->exprs[i];
        memset(mark, 0, ns);
        if (e->kind == EK_UNIFY || e->kind == EK_ASSIGN || e->kind == EK_SOME_IN) {
            mark_pattern(c, e->a, mark);
            mark_pattern(c, e->b, mark);
        }
        mark_ref_keys(c, e->a, mark);
        mark_ref_keys(c, e->b, mark);
        mark_ref_keys(c, e->c, mark);
        for (int s = 0; s < c->nslots; s++) {
            if (!mark[s])
                continue;
            if (!seen[s]) {
                seen[s] = 1;
                first_written[s] = e->loc;
            } else if (loc_before(&e->loc, &first_written[s])) {
                first_written[s] = e->loc;
                c->multi[s] = 1;   /* written before the one that runs first */
            }
        }
    }
}

static int check_body(struct tc *c, struct body *b)
{
    mark_multi(c, b);
    for (int i = 0; b && i < b->n; i++)
        if (check_expr(c, b->exprs[i]) < 0)
            return -1;
    return 0;
}

static bool has_empty_collection(const struct ty *t)
{
    switch (t->k) {
    case TY_ARRAY:
    case TY_OBJECT: {
        const struct ty *dyn = t->k == TY_ARRAY ? t->dyn : t->dval;
        if (!t->n && !dyn)
            return true;
        for (int i = 0; i < t->n; i++)
            if (has_empty_collection(t->items[i]))
                return true;
        return dyn && has_empty_collection(dyn);
    }
    case TY_SET:
        return !t->dyn || has_empty_collection(t->dyn);
    case TY_ANY:
        for (int i = 0; i < t->n; i++)
            if (has_empty_collection(t->items[i]))
                return true;
        return false;
    default:
        return false;
    }
}

static struct ty *dyn_object(struct tc *c, struct ty *k, struct ty *v)
{
    struct ty *o = ty_new(c, TY_OBJECT, 0);
    o->dkey = k;
    o->dval = v;
    return o;
}

/* mergeTypes (ast/env.go): the type of a rule of several definitions. */
static struct ty *ty_merge(struct tc *c, struct ty *a, struct ty *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->k == TY_ANY && b->k != TY_ANY) {
        struct ty *t = a;
        a = b;
        b = t;
    }
    if (a->k == TY_OBJECT && !a->n && b->k == TY_OBJECT && !b->n) {
        /* the empty object: the other covers it */
        if (!a->dval)
            return b;
        if (!b->dval)
            return a;
    }
    if (a->k == TY_OBJECT && !a->n && a->dval) {
        if (b->k == TY_OBJECT && !b->n && b->dval)
            return dyn_object(c, ty_or(c, a->dkey, b->dkey), ty_merge(c, a->dval, b->dval));
        if (b->k == TY_ANY)
            for (int i = 0; i < b->n; i++) {
                struct ty *m = b->items[i];
                if (m->k == TY_OBJECT && !m->n && m->dval) {
                    /* the member of the union takes the other's keys and values */
                    struct ty *u = ty_new(c, TY_ANY, b->n);
                    memcpy(u->items, b->items, sizeof *u->items * (size_t)b->n);
                    u->items[i] = dyn_object(c, ty_or(c, m->dkey, a->dkey), ty_or(c, m->dval, a->dval));
                    return u;
                }
            }
    }
    if (a->k == TY_SET && b->k == TY_SET) {
        struct ty *t = ty_new(c, TY_SET, 0);
        t->dyn = ty_or(c, a->dyn, b->dyn);
        return t;
    }
    return ty_or(c, a, b);
}

/* What is known of a rule node's definitions: the type of its value (NULL
 * with unknown set: any), and for a function the types of its arguments. */
struct values {
    struct ty *type;
    bool unknown, replaced;
    int nargs;
    struct ty **args;
};

static void add_value(struct tc *c, struct values *v, struct ty *t, bool func, bool replaced)
{
    /* an empty collection: OPA widens it where a `with` replaces the rule */
    if (!t || (replaced && has_empty_collection(t)))
        v->unknown = true;
    else
        v->type = func ? ty_or(c, v->type, t) : ty_merge(c, v->type, t);
}

/* The type of one definition's value after its body: a complete rule's or
 * a function's value, set[T] of a partial set, object[K: V] of a partial
 * object (nested for each key of the head after its ground prefix, as
 * OPA's nestedObject). NULL: not known. */
static int definition_type(struct tc *c, struct rule *rule, struct rule *x, struct ty **out)
{
    struct ty *t = NULL;
    *out = NULL;
    switch (rule->kind) {
    case RULE_COMPLETE:
    case RULE_FUNC:
        if (!x->has_value) {
            *out = &T_BOOL;
            return 0;
        }
        if (term_type(c, x->value, &t) < 0)
            return -1;
        *out = t;
        return 0;
    case RULE_SET:
        if (term_type(c, rule->key, &t) < 0)
            return -1;
        if (t) {
            *out = ty_new(c, TY_SET, 0);
            (*out)->dyn = unnamed(c, t);
        }
        return 0;
    case RULE_OBJECT:
        /* a constant first key (p[1] := ...) is a path in OPA's tree */
        if (!rule->nsuffix || rule->suffix[0]->kind == TK_VALUE)
            return 0;
        if (term_type(c, rule->multi ? rule->key : x->value, &t) < 0)
            return -1;
        if (t && rule->multi) {
            struct ty *set = ty_new(c, TY_SET, 0);
            set->dyn = unnamed(c, t);
            t = set;
        }
        for (int i = rule->nsuffix - 1; t && i >= 0; i--) {
            struct ty *k;
            if (term_type(c, rule->suffix[i], &k) < 0)
                return -1;
            t = k ? dyn_object(c, unnamed(c, k), unnamed(c, t)) : NULL;
        }
        *out = t;
        return 0;
    }
    return 0;
}

/* the types of a function's arguments after a definition's body (those
 * not typed there: any), joined with the other definitions' (OPA's union
 * of function types) */
static int add_args(struct tc *c, struct values *v, struct rule *rule)
{
    if (rule->kind != RULE_FUNC)
        return 0;
    if (!v->args) {
        v->nargs = rule->nargs;
        v->args = tc_alloc(c, sizeof *v->args * (size_t)(rule->nargs + 1));
    }
    for (int i = 0; i < rule->nargs && i < v->nargs; i++) {
        struct ty *t;
        if (term_type(c, rule->args[i], &t) < 0)
            return -1;
        t = known(t);
        if (has_empty_collection(t))
            t = &T_ANY;   /* an empty collection: OPA may widen it */
        v->args[i] = v->args[i] ? ty_or(c, v->args[i], t) : unnamed(c, t);
    }
    return 0;
}

/* Whether a `with` of the bundle may replace the rules of node n: its
 * path and a replaced one are one a prefix of the other (a superset of the
 * rules OPA's replacedRules finds). */
static bool replaced(struct tc *c, struct node *n)
{
    int depth = 0;
    for (struct node *x = n; x && x->parent; x = x->parent)
        depth++;
    for (int w = 0; w < c->nw; w++) {
        int len = c->wlens[w], common = depth < len ? depth : len;
        /* the first `common` keys of n's path */
        struct node *x = n;
        for (int i = depth; i > common; i--)
            x = x->parent;
        bool prefix = true;
        for (int i = common - 1; prefix && i >= 0; i--, x = x->parent)
            prefix = rv_compare(x->key, c->wpaths[w][i]) == 0;
        if (prefix)
            return true;
    }
    return false;
}

static int check_rule(struct tc *c, struct rule *rule, struct values *vals)
{
    struct ty **saved_env = c->env;
    int saved_nslots = c->nslots;
    bool saved_with = c->in_with;
    c->in_with = false;
    c->nslots = rule->nslots;
    c->env = tc_alloc(c, sizeof *c->env * (size_t)(c->nslots ? c->nslots : 1));
    uint8_t *saved_multi = c->multi;
    c->multi = tc_alloc(c, (size_t)(c->nslots ? c->nslots : 1));
    int rc = 0;
    for (struct rule *x = rule; x && rc == 0; x = x->els) {
        /* a function's arguments are typed by their use in the body, as
         * OPA infers them */
        memset(c->env, 0, sizeof *c->env * (size_t)c->nslots);
        struct ty *t = NULL;
        rc = check_body(c, x->body);
        if (rc == 0)
            rc = definition_type(c, rule, x, &t);
        if (rc == 0 && vals)
            add_value(c, vals, t, rule->kind == RULE_FUNC, vals->replaced);
        if (rc == 0 && vals)
            rc = add_args(c, vals, rule);
        if (rc == 0 && x == rule) {
            rc = term_type(c, rule->key, &t);
            for (int i = 0; i < rule->nsuffix && rc == 0; i++)
                rc = term_type(c, rule->suffix[i], &t);
        }
    }
    c->env = saved_env;
    c->multi = saved_multi;
    c->nslots = saved_nslots;
    c->in_with = saved_with;
    return rc;
}

/* The type of a rule node's value (a function's result): OPA's merge of
 * the types of every definition (default and else included) where each is
 * known, any otherwise and where rules lie below the node. */
static int node_type(struct tc *c, struct node *n, struct ty **out)
{
    *out = &T_ANY;
    if (!n || n->id < 0 || n->id >= c->r->nnodes)
        return 0;
    if (c->node_state[n->id] == 2) {
        *out = c->node_ty[n->id];
        return 0;
    }
    if (c->node_state[n->id] == 1 || n->nchildren > 0 || n->kind < 0 || c->nest > TC_MAX_NEST)
        return 0;
    c->node_state[n->id] = 1;
    struct values v = { .replaced = replaced(c, n) };
    int rc = 0;
    for (int i = 0; i < n->nrules && rc == 0; i++)
        rc = check_rule(c, n->rules[i], &v);
    if (rc == 0 && n->default_rule)
        rc = check_rule(c, n->default_rule, &v);
    if (rc < 0)
        return -1;
    c->node_ty[n->id] = v.type && !v.unknown && ty_depth(v.type) <= TC_MAX_TYPE_DEPTH ? v.type : &T_ANY;
    if (n->kind == RULE_FUNC && v.args && v.nargs == n->arity)
        c->node_args[n->id] = v.args;
    c->node_state[n->id] = 2;
    *out = c->node_ty[n->id];
    return 0;
}

static void collect_withs_body(struct tc *c, struct body *b);

static void collect_withs_term(struct tc *c, struct term *t)
{
    if (!t)
        return;
    if (t->body)
        collect_withs_body(c, t->body);
    collect_withs_term(c, t->key);
    collect_withs_term(c, t->value);
    for (int i = 0; i < t->nitems; i++)
        collect_withs_term(c, t->items[i]);
}

static void add_wpath(struct tc *c, struct rv **path, int len)
{
    if (c->nw == c->wcap) {
        c->wcap = c->wcap ? c->wcap * 2 : 8;
        struct rv ***p = tc_alloc(c, sizeof *p * (size_t)c->wcap);
        int *l = tc_alloc(c, sizeof *l * (size_t)c->wcap);
        if (c->nw) {
            memcpy(p, c->wpaths, sizeof *p * (size_t)c->nw);
            memcpy(l, c->wlens, sizeof *l * (size_t)c->nw);
        }
        c->wpaths = p;
        c->wlens = l;
    }
    c->wpaths[c->nw] = path;
    c->wlens[c->nw++] = len;
}

static void collect_withs_body(struct tc *c, struct body *b)
{
    for (int i = 0; b && i < b->n; i++) {
        struct expr *e = b->exprs[i];
        for (int j = 0; j < e->nwith; j++) {
            struct with *w = &e->with[j];
            if (w->kind == WITH_DATA) {
                add_wpath(c, w->path, w->npath);
            } else if (w->kind == WITH_FUNC && w->fn) {
                int depth = 0;
                for (struct node *x = w->fn; x->parent; x = x->parent)
                    depth++;
                struct rv **path = tc_alloc(c, sizeof *path * (size_t)(depth + 1));
                int k = depth;
                for (struct node *x = w->fn; x->parent; x = x->parent)
                    path[--k] = x->key;
                add_wpath(c, path, depth);
            }
            collect_withs_term(c, w->value);
        }
        collect_withs_term(c, e->a);
        collect_withs_term(c, e->b);
        collect_withs_term(c, e->c);
        collect_withs_body(c, e->body);
    }
}

/* the `with`s of every rule of the bundle (else and default included) */
static void collect_withs(struct tc *c)
{
    for (struct module *m = c->r->modules; m; m = m->next)
        for (struct rule *rule = m->rules; rule; rule = rule->next_in_module)
            for (struct rule *x = rule; x; x = x->els) {
                collect_withs_body(c, x->body);
                collect_withs_term(c, x->value);
                collect_withs_term(c, x->key);
                for (int i = 0; i < x->nargs; i++)
                    collect_withs_term(c, x->args[i]);
                for (int i = 0; i < x->nsuffix; i++)
                    collect_withs_term(c, x->suffix[i]);
            }
}

static void tc_init(struct tc *c, struct rego *r, struct rego_error *err)
{
    *c = (struct tc){ .r = r, .err = err };
    c->sigs = calloc((size_t)rego_nbuiltins, sizeof *c->sigs);
    c->node_ty = calloc((size_t)r->nnodes + 1, sizeof *c->node_ty);
    c->node_state = calloc((size_t)r->nnodes + 1, 1);
    c->node_args = calloc((size_t)r->nnodes + 1, sizeof *c->node_args);
    if (!c->sigs || !c->node_ty || !c->node_state || !c->node_args)
        REGO_OOM();
    collect_withs(c);
}

static void tc_free(struct tc *c)
{
    for (size_t i = 0; i < c->nblocks; i++)
        free(c->blocks[i]);
    free(c->blocks);
    free(c->sigs);
    free(c->node_ty);
    free(c->node_state);
    free(c->node_args);
    rvbuf_clear(&c->rvs);
}

int rego_typecheck(struct rego *r, struct rego_error *err)
{
    struct tc c;
    tc_init(&c, r, err);
    int rc = 0;
    for (struct module *m = r->modules; m && rc == 0; m = m->next)
        for (struct rule *rule = m->rules; rule && rc == 0; rule = rule->next_in_module)
            rc = check_rule(&c, rule, NULL);
    tc_free(&c);
    return rc;
}

/* A query, as OPA checks the queries it prepares: its body in the order
 * the compiler chose, in a frame of nslots. */
int rego_typecheck_query(struct rego *r, struct body *body, int nslots, struct rego_error *err)
{
    struct tc c;
    tc_init(&c, r, err);
    c.nslots = nslots;
    c.env = tc_alloc(&c, sizeof *c.env * (size_t)(nslots ? nslots : 1));
    c.multi = tc_alloc(&c, (size_t)(nslots ? nslots : 1));
    c.query = c.in_query = true;
    int rc = check_body(&c, body);
    tc_free(&c);
    return rc;
}
