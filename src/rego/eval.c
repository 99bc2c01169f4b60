/* The evaluator: top-down, with backtracking by continuation passing.
 *
 * Every step that can produce several solutions (a reference with an
 * unbound variable, `some x in xs`, a comprehension's body) calls a
 * continuation once per solution; a binding lives in its frame slot exactly
 * while the continuation runs and is undone when it returns. Continuations
 * return 0 to ask for more solutions, EV_STOP to stop early (a solution was
 * enough), or < 0 for an error (ev->err is filled).
 *
 * Rule values are computed whole (all solutions) and cached per query, per
 * `with` context. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rego/ast.h"
#include "rego/eval.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

#define EV_STOP 1

/* Nesting is bounded by the stack itself. The evaluator recurses once per
 * expression of a body (continuations), per element unified, per rule or
 * function called and per level of a term; it stops with "evaluation nested
 * too deeply" where less than EV_STACK_RESERVE of the thread's stack is left
 * (kept for what runs between two checks: a term's levels, a builtin, the
 * functions that walk a value of at most REGO_MAX_VALUE_DEPTH levels), and
 * never uses more than EV_STACK_MAX. On the 8 MiB stack of a process's main
 * thread that is some 14000 expressions in one body. */
#define EV_STACK_RESERVE (1536u << 10)
#define EV_STACK_MAX ((size_t)256 << 20)

/* The lowest address of this thread's stack (NULL: not known yet, or not
 * to be known: (char *)1). */
static _Thread_local char *tl_stack_low;

static char *stack_floor(void)
{
    char *here = __builtin_frame_address(0);
    if (!tl_stack_low) {
        tl_stack_low = (char *)1;
        pthread_attr_t a;
        void *addr;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &addr, &size) == 0 && addr)
                tl_stack_low = addr;
            pthread_attr_destroy(&a);
        }
    }
    char *floor = tl_stack_low == (char *)1 ? here - (4u << 20) : tl_stack_low + EV_STACK_RESERVE;
    if ((size_t)(here - floor) > EV_STACK_MAX || floor > here)
        floor = floor > here ? here : here - EV_STACK_MAX;
    return floor;
}

static inline bool stack_low(const struct ev *ev)
{
    return (char *)__builtin_frame_address(0) < ev->stack_floor;
}

static struct rv undef_marker = { .refs = 0, .type = RV_NULL };
#define UNDEF (&undef_marker)

struct frame {
    struct rv **slots;
    int nslots;
    bool is_query;
};

typedef int (*kont)(struct ev *ev, void *ctx);
typedef int (*vkont)(struct ev *ev, struct rv *v, void *ctx);

static int eval_term(struct ev *ev, struct frame *fr, struct term *t, vkont k, void *ctx);
static int eval_body(struct ev *ev, struct frame *fr, struct body *b, int i, kont k, void *ctx);
static int unify_value(struct ev *ev, struct frame *fr, struct term *t, struct rv *v, kont k, void *ctx);
static struct rv *node_value(struct ev *ev, struct node *n, int *rc);
static int call_function(struct ev *ev, struct node *fn, struct rv **args, int nargs, struct loc *loc,
                         struct rv **out);
static int first_k(struct ev *ev, struct rv *v, void *ctx);

static int ev_error(struct ev *ev, const char *code, const struct loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ev_error(struct ev *ev, const char *code, const struct loc *loc, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rego_err(ev->err, code, loc, "%s", msg);
}

static int budget_error(struct ev *ev, const struct loc *loc)
{
    if (ev->budget.too_deep)
        return ev_error(ev, "eval_cancel_error", loc,
                        "value nested deeper than %d levels (arrays, sets and objects within each other)",
                        REGO_MAX_VALUE_DEPTH);
    return ev_error(ev, "eval_budget_error", loc, "memory budget exceeded: the evaluation holds more than %llu bytes",
                    (unsigned long long)ev->budget.limit);
}

static int step(struct ev *ev, const struct loc *loc)
{
    if (++ev->steps > ev->max_steps)
        return ev_error(ev, "eval_cancel_error", loc, "evaluation exceeded its budget of %llu steps",
                        (unsigned long long)ev->max_steps);
    if (ev->budget.exceeded)
        return budget_error(ev, loc);
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static bool has_unbound(struct frame *fr, struct term *t)
{
    switch (t->kind) {
    case TK_VAR:
        return t->slot >= 0 && !fr->slots[t->slot];
    case TK_ARRAY:
        for (int i = 0; i < t->nitems; i++)
            if (has_unbound(fr, t->items[i]))
                return true;
        return false;
    case TK_OBJECT:
        for (int i = 1; i < t->nitems; i += 2)
            if (has_unbound(fr, t->items[i]))
                return true;
        return false;
    default:
        return false;
    }
}

static struct rv *lookup(struct rv *v, struct rv *key)
{
    int64_t i;
    switch (v->type) {
    case RV_ARRAY:
        if (!rv_as_int(key, &i) || i < 0 || (uint64_t)i >= v->u.arr.len)
            return NULL;
        return v->u.arr.v[i];
    case RV_OBJECT:
        return rv_object_get(v, key);
    case RV_SET:
        return rv_set_find(v, key);
    default:
        return NULL;
    }
}

/* lookup of a constant key, trying first the position where the term
 * found it the last time (objects of one shape recur: an input's). */
static inline struct rv *lookup_hinted(struct rv *v, struct term *item)
{
    const struct rv *key = item->val;
    if (v->type == RV_OBJECT && key->type == RV_STRING) {
        unsigned h = __atomic_load_n(&item->hint, __ATOMIC_RELAXED);
        if (h < v->u.obj.len) {
            const struct rv *k = v->u.obj.k[h];
            if (k == key || (k->type == RV_STRING && k->u.str.len == key->u.str.len &&
                             memcmp(k->u.str.s, key->u.str.s, key->u.str.len) == 0))
                return v->u.obj.v[h];
        }
        long j = rv_sorted_find(v->u.obj.k, v->u.obj.len, key);
        if (j < 0)
            return NULL;
        if (j < 256)
            __atomic_store_n(&item->hint, (uint8_t)j, __ATOMIC_RELAXED);
        return v->u.obj.v[j];
    }
    return lookup(v, item->val);
}

static int stop_k(struct ev *ev, void *ctx)
{
    (void)ev;
    (void)ctx;
    return EV_STOP;
}

/* ------------------------------------------------------------------ sequences of terms */

struct seq {
    struct frame *fr;
    struct term **terms;
    int n, i;
    struct rv **vals;
    int (*done)(struct ev *ev, struct rv **vals, void *ctx);
    void *ctx;
};

static int seq_step(struct ev *ev, struct seq *s);

static int seq_k(struct ev *ev, struct rv *v, void *ctx)
{
    struct seq *s = ctx;
    int i = s->i;
    s->vals[i] = v;
    s->i = i + 1;
    int rc = seq_step(ev, s);
    s->i = i;
    s->vals[i] = NULL;
    return rc;
}

static int seq_step(struct ev *ev, struct seq *s)
{
    if (s->i == s->n)
        return s->done(ev, s->vals, s->ctx);
    struct term *t = s->terms[s->i];
    if (t->kind == TK_VALUE)
        return seq_k(ev, t->val, s);
    return eval_term(ev, s->fr, t, seq_k, s);
}

static int eval_seq(struct ev *ev, struct frame *fr, struct term **terms, int n,
                    int (*done)(struct ev *, struct rv **, void *), void *ctx)
{
    struct rv *small[8];
    struct rv **vals = n <= 8 ? small : calloc((size_t)n, sizeof *vals);
    if (!vals)
        REGO_OOM();
    struct seq s = { fr, terms, n, 0, vals, done, ctx };
    int rc = seq_step(ev, &s);
    if (vals != small)
        free(vals);
    return rc;
}

/* ------------------------------------------------------------------ collections */

struct coll_k {
    struct term *t;
    vkont k;
    void *ctx;
};

/* The array, set or object literal t of the values vals (borrowed). */
static struct rv *build_coll(struct term *t, struct rv **vals)
{
    struct rvbuf a = { 0 }, b = { 0 };
    struct rv *v;
    int n = t->nitems;
    if (t->kind == TK_OBJECT) {
        rvbuf_reserve(&a, (size_t)n / 2);
        rvbuf_reserve(&b, (size_t)n / 2);
        for (int i = 0; i < n; i += 2) {
            rvbuf_push(&a, rv_incref(vals[i]));
            rvbuf_push(&b, rv_incref(vals[i + 1]));
        }
        v = rv_object_take(&a, &b);
        if (!v)   /* a key written twice: the later one wins, as in OPA */
            v = rv_object_last_wins(vals, n);
    } else {
        rvbuf_reserve(&a, (size_t)n);
        for (int i = 0; i < n; i++)
            rvbuf_push(&a, rv_incref(vals[i]));
        v = t->kind == TK_ARRAY ? rv_array_take(&a) : rv_set_take(&a);
    }
    return v;
}

static int coll_done(struct ev *ev, struct rv **vals, void *ctx)
{
    struct coll_k *c = ctx;
    struct rv *v = build_coll(c->t, vals);
    int rc = c->k(ev, v, c->ctx);
    rv_decref(v);
    return rc;
}

struct comp_k {
    struct frame *fr;
    struct term *t;
    struct rvbuf keys, vals;
};

static int comp_val_k(struct ev *ev, struct rv *v, void *ctx)
{
    (void)ev;
    struct rvbuf *b = ctx;
    rvbuf_push(b, rv_incref(v));
    return 0;
}

struct comp_kv {
    struct comp_k *c;
    struct rv *key;
};

static int comp_okv_k(struct ev *ev, struct rv *v, void *ctx)
{
    (void)ev;
    struct comp_kv *kv = ctx;
    /* a key seen with a different value is a conflict */
    for (size_t i = 0; i < kv->c->keys.len; i++)
        if (rv_equal(kv->c->keys.v[i], kv->key)) {
            if (!rv_equal(kv->c->vals.v[i], v))
                return ev_error(ev, "eval_conflict_error", &kv->c->t->loc, "object keys must be unique");
            return 0;
        }
    rvbuf_push(&kv->c->keys, rv_incref(kv->key));
    rvbuf_push(&kv->c->vals, rv_incref(v));
    return 0;
}

static int comp_okey_k(struct ev *ev, struct rv *key, void *ctx)
{
    struct comp_k *c = ctx;
    struct comp_kv kv = { c, key };
    return eval_term(ev, c->fr, c->t->value, comp_okv_k, &kv);
}

static int comp_solution(struct ev *ev, void *ctx)
{
    struct comp_k *c = ctx;
    if (c->t->kind == TK_OCOMP)
        return eval_term(ev, c->fr, c->t->key, comp_okey_k, c);
    return eval_term(ev, c->fr, c->t->value, comp_val_k, &c->vals);
}

static int eval_comprehension(struct ev *ev, struct frame *fr, struct term *t, vkont k, void *ctx)
{
    struct comp_k c = { .fr = fr, .t = t };
    int rc = eval_body(ev, fr, t->body, 0, comp_solution, &c);
    if (rc < 0) {
        rvbuf_clear(&c.keys);
        rvbuf_clear(&c.vals);
        return rc;
    }
    struct rv *v;
    if (t->kind == TK_OCOMP)
        v = rv_object_take(&c.keys, &c.vals);
    else if (t->kind == TK_SCOMP)
        v = rv_set_take(&c.vals);
    else
        v = rv_array_take(&c.vals);
    rc = k(ev, v, ctx);
    rv_decref(v);
    return rc;
}

/* ------------------------------------------------------------------ calls */

struct call_k {
    struct term *t;
    struct frame *fr;
    vkont k;
    void *ctx;
};

static const struct mock *find_mock(struct ev *ev, int builtin, struct node *fn)
{
    for (int i = ev->nmocks - 1; i >= 0; i--) {
        const struct mock *m = &ev->mocks[i];
        if ((builtin >= 0 && m->builtin == builtin) || (fn && m->fn == fn))
            return m;
    }
    return NULL;
}

static int invoke(struct ev *ev, struct frame *fr, struct term *t, int builtin, struct node *fn,
                  struct rv **args, int nargs, struct rv **out, bool *multi);

static int invoke_mocked(struct ev *ev, struct frame *fr, struct term *t, const struct mock *m,
                         struct rv **args, int nargs, struct rv **out, bool *multi)
{
    if (m->value) {
        *out = rv_incref(m->value);
        return 0;
    }
    /* Replacement function: run it with the mocks that were active when it
     * was installed, so a mock does not replace itself. */
    int saved = ev->nmocks;
    ev->nmocks = 0;
    int rc = invoke(ev, fr, t, m->repl_builtin, m->repl_fn, args, nargs, out, multi);
    ev->nmocks = saved;
    return rc;
}

static int invoke(struct ev *ev, struct frame *fr, struct term *t, int builtin, struct node *fn,
                  struct rv **args, int nargs, struct rv **out, bool *multi)
{
    *multi = false;
    if (ev->nmocks) {
        const struct mock *m = find_mock(ev, builtin, fn);
        if (m)
            return invoke_mocked(ev, fr, t, m, args, nargs, out, multi);
    }
    if (fn)
        return call_function(ev, fn, args, nargs, &t->loc, out);
    const struct builtin *b = &rego_builtins[builtin];
    if (b->arity >= 0 && nargs != b->arity)
        return ev_error(ev, "eval_type_error", &t->loc, "%s: arity mismatch", b->name);
    ev->cur_nargs = nargs;
    ev->cur_builtin = b->name;
    ev->cur_loc = t->loc;
    int rc = b->fn(ev, args, out);
    if (ev->budget.exceeded) {
        /* whatever the builtin made is incomplete: never used, and the
         * evaluation stops even where builtin errors are undefined */
        if (rc == 0 || rc == BI_MULTI)
            rv_decref(*out);
        *out = NULL;
        return budget_error(ev, &t->loc);
    }
    if (rc == BI_MULTI) {
        *multi = true;
        return 0;
    }
    if (rc == BI_UNDEFINED)
        return 1;
    if (rc < 0) {
        /* Builtin errors are undefined unless strict (or in the query itself). */
        if (ev->strict || fr->is_query) {
            ev->err->line = t->loc.line;
            ev->err->col = t->loc.col;
            snprintf(ev->err->file, sizeof ev->err->file, "%s", t->loc.file ? t->loc.file : "");
            return -1;
        }
        return 1;
    }
    return 0;
}

static int call_done(struct ev *ev, struct rv **vals, void *ctx)
{
    struct call_k *c = ctx;
    struct term *t = c->t;
    struct rv *out = NULL;
    bool multi;
    int rc = invoke(ev, c->fr, t, t->call_kind == CALL_BUILTIN ? t->builtin : -1,
                    t->call_kind == CALL_FUNCTION ? t->fn : NULL, vals, t->nitems - 1, &out, &multi);
    if (rc < 0)
        return rc;
    if (rc == 1 || !out)
        return 0;  /* undefined */
    if (multi) {
        for (size_t i = 0; i < out->u.arr.len && rc == 0; i++)
            rc = c->k(ev, out->u.arr.v[i], c->ctx);
    } else {
        rc = c->k(ev, out, c->ctx);
    }
    rv_decref(out);
    return rc;
}

static int eval_call(struct ev *ev, struct frame *fr, struct term *t, vkont k, void *ctx)
{
    struct call_k c = { t, fr, k, ctx };
    return eval_seq(ev, fr, t->items + 1, t->nitems - 1, call_done, &c);
}

/* Calling a function value (used by builtins such as walk's helpers): not needed by the
 * builtins in the table, kept for mocks. */
int ev_call_value(struct ev *ev, struct rv *fnval, struct rv **args, int nargs, struct rv **out)
{
    (void)fnval;
    (void)args;
    (void)nargs;
    (void)out;
    return ev_error(ev, "eval_type_error", NULL, "function values are not supported");
}

/* ------------------------------------------------------------------ references */

struct walk_k {
    struct frame *fr;
    struct term *t;
    int i;
    struct rv *cur;      /* the collection being enumerated */
    struct rv *elem;
    vkont k;
    void *ctx;
};

static int walk_value(struct ev *ev, struct frame *fr, struct rv *v, struct term *t, int i, vkont k,
                      void *ctx);

static int walk_key_k(struct ev *ev, struct rv *key, void *ctx)
{
    struct walk_k *w = ctx;
    struct rv *child = lookup(w->cur, key);
    if (!child)
        return 0;
    return walk_value(ev, w->fr, child, w->t, w->i + 1, w->k, w->ctx);
}

static int walk_elem_k(struct ev *ev, void *ctx)
{
    struct walk_k *w = ctx;
    return walk_value(ev, w->fr, w->elem, w->t, w->i + 1, w->k, w->ctx);
}

static int walk_value(struct ev *ev, struct frame *fr, struct rv *v, struct term *t, int i, vkont k,
                      void *ctx)
{
    while (i < t->nitems && t->items[i]->kind == TK_VALUE) {
        v = lookup_hinted(v, t->items[i]);
        if (!v)
            return 0;
        i++;
    }
    if (i == t->nitems)
        return k(ev, v, ctx);
    struct term *item = t->items[i];
    struct walk_k w = { fr, t, i, v, NULL, k, ctx };
    if (!has_unbound(fr, item))
        return eval_term(ev, fr, item, walk_key_k, &w);
    int rc = 0;
    struct rv *hold = rv_incref(v);
    switch (v->type) {
    case RV_ARRAY:
        for (size_t j = 0; j < v->u.arr.len && rc == 0; j++) {
            struct rv *idx = rv_int((int64_t)j);
            w.elem = v->u.arr.v[j];
            rc = unify_value(ev, fr, item, idx, walk_elem_k, &w);
            rv_decref(idx);
        }
        break;
    case RV_SET:
        for (size_t j = 0; j < v->u.arr.len && rc == 0; j++) {
            w.elem = v->u.arr.v[j];
            rc = unify_value(ev, fr, item, v->u.arr.v[j], walk_elem_k, &w);
        }
        break;
    case RV_OBJECT:
        for (size_t j = 0; j < v->u.obj.len && rc == 0; j++) {
            w.elem = v->u.obj.v[j];
            rc = unify_value(ev, fr, item, v->u.obj.k[j], walk_elem_k, &w);
        }
        break;
    default:
        break;
    }
    rv_decref(hold);
    return rc;
}

/* Data overlays from `with data.x as v`. */
static int node_depth(struct node *n)
{
    int d = 0;
    for (; n->parent; n = n->parent)
        d++;
    return d;
}

static bool node_path_eq(struct node *n, struct rv **path, int npath)
{
    if (node_depth(n) != npath)
        return false;
    for (int i = npath - 1; i >= 0; i--, n = n->parent)
        if (!rv_equal(n->key, path[i]))
            return false;
    return true;
}

static struct rv *overlay_at(struct ev *ev, struct node *n)
{
    for (int i = ev->nov - 1; i >= 0; i--)
        if (node_path_eq(n, ev->ov[i].path, ev->ov[i].npath))
            return ev->ov[i].value;
    return NULL;
}

/* v with `val` put at path (creating objects on the way). */
static struct rv *put_path(struct rv *v, struct rv **path, int npath, struct rv *val)
{
    if (npath == 0)
        return rv_incref(val);
    struct rv *base = v && v->type == RV_OBJECT ? v : NULL;
    struct rv *child = base ? rv_object_get(base, path[0]) : NULL;
    struct rv *nc = put_path(child, path + 1, npath - 1, val);
    struct rv *empty = base ? NULL : rv_empty_object();
    struct rv *res = rv_object_put(base ? base : empty, path[0], nc);
    rv_decref(empty);
    rv_decref(nc);
    return res;
}

/* Apply overlays strictly below node n to its value. */
static struct rv *apply_overlays_below(struct ev *ev, struct node *n, struct rv *v)
{
    int d = node_depth(n);
    for (int i = 0; i < ev->nov; i++) {
        const struct overlay *o = &ev->ov[i];
        if (o->npath <= d)
            continue;
        struct node *x = n;
        bool prefix = true;
        for (int j = d - 1; j >= 0; j--, x = x->parent)
            if (!rv_equal(x->key, o->path[j])) {
                prefix = false;
                break;
            }
        if (!prefix)
            continue;
        struct rv *nv = put_path(v, o->path + d, o->npath - d, o->value);
        rv_decref(v);
        v = nv;
    }
    return v;
}

static struct rv *namespace_value(struct ev *ev, struct node *n, struct rv *base, int *rc);

static struct rv *child_value(struct ev *ev, struct node *ch, struct rv *base, int *rc)
{
    struct rv *ov = ev->nov ? overlay_at(ev, ch) : NULL;
    if (ov)
        return rv_incref(ov);
    if (ch->nrules || ch->default_rule) {
        if (ch->kind == RULE_FUNC)
            return NULL;
        struct rv *v = node_value(ev, ch, rc);
        return v ? rv_incref(v) : NULL;
    }
    return namespace_value(ev, ch, base, rc);
}

static bool rules_below(const struct node *n)
{
    for (int i = 0; i < n->nchildren; i++)
        if (n->children[i]->nrules || n->children[i]->default_rule || rules_below(n->children[i]))
            return true;
    return false;
}

/* The value of a path with no rules of its own: base data plus the values
 * of the rules below. Base data that is not an object stays, where only
 * empty packages are below (OPA). */
static struct rv *namespace_value(struct ev *ev, struct node *n, struct rv *base, int *rc)
{
    struct rv *v = base && base->type == RV_OBJECT ? rv_incref(base) : rv_empty_object();
    if (base && base->type != RV_OBJECT && !rules_below(n)) {
        rv_decref(v);
        return rv_incref(base);
    }
    for (int i = 0; i < n->nchildren && *rc == 0; i++) {
        struct node *ch = n->children[i];
        struct rv *bch = base ? lookup(base, ch->key) : NULL;
        struct rv *cv = child_value(ev, ch, bch, rc);
        if (!cv)
            continue;
        struct rv *nv = rv_object_put(v, ch->key, cv);
        rv_decref(cv);
        rv_decref(v);
        v = nv;
    }
    if (*rc < 0) {
        rv_decref(v);
        return NULL;
    }
    if (ev->nov)
        v = apply_overlays_below(ev, n, v);
    return v;
}

struct data_k {
    struct frame *fr;
    struct term *t;
    int i;
    struct node *node;
    struct rv *base;
    struct rv *key;
    vkont k;
    void *ctx;
};

static int walk_data(struct ev *ev, struct frame *fr, struct node *n, struct rv *base, struct term *t,
                     int i, vkont k, void *ctx);

static int data_key_k(struct ev *ev, struct rv *key, void *ctx)
{
    struct data_k *d = ctx;
    struct node *ch = NULL;
    for (int j = 0; j < d->node->nchildren; j++)
        if (rv_equal(d->node->children[j]->key, key)) {
            ch = d->node->children[j];
            break;
        }
    struct rv *bch = d->base ? lookup(d->base, key) : NULL;
    if (ch)
        return walk_data(ev, d->fr, ch, bch, d->t, d->i + 1, d->k, d->ctx);
    if (bch)
        return walk_value(ev, d->fr, bch, d->t, d->i + 1, d->k, d->ctx);
    return 0;
}

static int data_enum_k(struct ev *ev, void *ctx)
{
    struct data_k *d = ctx;
    return data_key_k(ev, d->key, d);
}

static int walk_data(struct ev *ev, struct frame *fr, struct node *n, struct rv *base, struct term *t,
                     int i, vkont k, void *ctx)
{
    if (ev->nov) {
        struct rv *ov = overlay_at(ev, n);
        if (ov)
            return walk_value(ev, fr, ov, t, i, k, ctx);
    }
    if (n->nrules || n->default_rule) {
        if (n->kind == RULE_FUNC)
            return 0;
        int rc = 0;
        struct rv *v = node_value(ev, n, &rc);
        if (rc < 0)
            return rc;
        if (!v)
            return 0;
        return walk_value(ev, fr, v, t, i, k, ctx);
    }
    if (i == t->nitems) {
        int rc = 0;
        struct rv *v = namespace_value(ev, n, base, &rc);
        if (rc < 0)
            return rc;
        rc = k(ev, v, ctx);
        rv_decref(v);
        return rc;
    }
    struct term *item = t->items[i];
    struct data_k d = { fr, t, i, n, base, NULL, k, ctx };
    if (item->kind == TK_VALUE)
        return data_key_k(ev, item->val, &d);
    if (!has_unbound(fr, item))
        return eval_term(ev, fr, item, data_key_k, &d);
    /* enumerate the keys here: rule children and base data */
    struct rvbuf keys = { 0 };
    for (int j = 0; j < n->nchildren; j++)
        rvbuf_push(&keys, rv_incref(n->children[j]->key));
    if (base && base->type == RV_OBJECT)
        for (size_t j = 0; j < base->u.obj.len; j++)
            rvbuf_push(&keys, rv_incref(base->u.obj.k[j]));
    struct rv *set = rv_set_take(&keys);
    int rc = 0;
    for (size_t j = 0; j < set->u.arr.len && rc == 0; j++) {
        d.key = set->u.arr.v[j];
        rc = unify_value(ev, fr, item, d.key, data_enum_k, &d);
    }
    rv_decref(set);
    return rc;
}

static int eval_ref(struct ev *ev, struct frame *fr, struct term *t, vkont k, void *ctx);

struct refhead_k {
    struct term *t;
    struct frame *fr;
    vkont k;
    void *ctx;
};

static int refhead_k(struct ev *ev, struct rv *v, void *ctx)
{
    struct refhead_k *h = ctx;
    return walk_value(ev, h->fr, v, h->t, 1, h->k, h->ctx);
}

static int eval_ref(struct ev *ev, struct frame *fr, struct term *t, vkont k, void *ctx)
{
    switch (t->ref_head) {
    case RH_INPUT:
        if (!ev->input)
            return 0;
        return walk_value(ev, fr, ev->input, t, 1, k, ctx);
    case RH_DATA:
        if (t->dnode && !ev->nov) {
            int rc = 0;
            struct rv *v = node_value(ev, t->dnode, &rc);
            if (rc < 0)
                return rc;
            return v ? walk_value(ev, fr, v, t, t->dnext, k, ctx) : 0;
        }
        return walk_data(ev, fr, ev->r->root, ev->data, t, 1, k, ctx);
    case RH_LOCAL: {
        struct rv *v = fr->slots[t->items[0]->slot];
        if (!v)
            return ev_error(ev, "eval_internal_error", &t->loc, "var %s is unbound", t->items[0]->name);
        return walk_value(ev, fr, v, t, 1, k, ctx);
    }
    default: {
        struct refhead_k h = { t, fr, k, ctx };
        return eval_term(ev, fr, t->items[0], refhead_k, &h);
    }
    }
}

/* ------------------------------------------------------------------ terms of one value */

/* A term the compiler marked single (at most one value, no bindings),
 * computed directly: *out is a new reference, or NULL where the term is
 * undefined. The same steps, in the same order, with the same errors as
 * through continuations below; used while no `with` replaces data or
 * functions (the continuations handle those). */
static int eval_direct(struct ev *ev, struct frame *fr, struct term *t, struct rv **out);
static inline int value_direct(struct ev *ev, struct frame *fr, struct term *t, struct rv **out);

static int ref_direct(struct ev *ev, struct frame *fr, struct term *t, struct rv **out)
{
    struct rv *v, *hold = NULL;
    int i = 1, rc = 0;
    switch (t->ref_head) {
    case RH_INPUT:
        v = ev->input;
        break;
    case RH_DATA:
        v = node_value(ev, t->dnode, &rc);
        if (rc < 0)
            return rc;
        i = t->dnext;
        break;
    case RH_LOCAL:
        v = fr->slots[t->items[0]->slot];
        if (!v)
            return ev_error(ev, "eval_internal_error", &t->loc, "var %s is unbound", t->items[0]->name);
        break;
    default:
        rc = value_direct(ev, fr, t->items[0], &hold);
        if (rc < 0)
            return rc;
        v = hold;
        break;
    }
    for (; v && i < t->nitems; i++) {
        struct term *item = t->items[i];
        if (item->kind == TK_VALUE) {
            v = lookup_hinted(v, item);
            continue;
        }
        struct rv *key;
        rc = value_direct(ev, fr, item, &key);
        if (rc < 0 || !key) {
            v = NULL;
            break;
        }
        v = lookup(v, key);
        rv_decref(key);
    }
    *out = v ? rv_incref(v) : NULL;
    rv_decref(hold);
    return rc;
}

/* A constant or a variable directly (a new reference); anything else
 * through eval_direct. */
static inline int value_direct(struct ev *ev, struct frame *fr, struct term *t, struct rv **out)
{
    if (t->kind == TK_VALUE) {
        *out = rv_incref(t->val);
        return 0;
    }
    if (t->kind == TK_VAR) {
        struct rv *v = t->slot >= 0 ? fr->slots[t->slot] : NULL;
        if (!v) {
            *out = NULL;
            return ev_error(ev, "rego_unsafe_var_error", &t->loc, "var %s is unsafe",
                            t->wildcard ? "_" : t->name);
        }
        *out = rv_incref(v);
        return 0;
    }
    return eval_direct(ev, fr, t, out);
}

/* An array, set or object literal, or a call, of single terms. */
static __attribute__((noinline)) int items_direct(struct ev *ev, struct frame *fr, struct term *t, struct rv **out)
{
    bool call = t->kind == TK_CALL;
    int n = call ? t->nitems - 1 : t->nitems, got;
    struct term **terms = call ? t->items + 1 : t->items;
    struct rv *small[8];
    struct rv **vals = n <= 8 ? small : calloc((size_t)n, sizeof *vals);
    if (!vals)
        REGO_OOM();
    int rc = 0;
    for (got = 0; got < n; got++) {
        rc = value_direct(ev, fr, terms[got], &vals[got]);
        if (rc < 0 || !vals[got])
            break;
    }
    if (got == n) {
        if (!call) {
            *out = build_coll(t, vals);
        } else {
            bool multi;
            struct rv *v = NULL;
            rc = invoke(ev, fr, t, t->call_kind == CALL_BUILTIN ? t->builtin : -1,
                        t->call_kind == CALL_FUNCTION ? t->fn : NULL, vals, n, &v, &multi);
            if (rc == 0 && multi) {
                rv_decref(v);
                rc = ev_error(ev, "eval_internal_error", &t->loc, "a call with several results");
            } else if (rc == 0) {
                *out = v;
            } else if (rc > 0) {
                rc = 0;   /* undefined */
            }
        }
    }
    for (int i = 0; i < got; i++)
        rv_decref(vals[i]);
    if (vals != small)
        free(vals);
    return rc;
}

static int eval_direct(struct ev *ev, struct frame *fr, struct term *t, struct rv **out)
{
    *out = NULL;
    switch (t->kind) {
    case TK_VALUE:
    case TK_VAR:
        return value_direct(ev, fr, t, out);
    case TK_REF:
        return ref_direct(ev, fr, t, out);
    case TK_ARRAY:
    case TK_SET:
    case TK_OBJECT:
    case TK_CALL:
        return items_direct(ev, fr, t, out);
    case TK_ACOMP:
    case TK_SCOMP:
    case TK_OCOMP: {
        int rc = eval_comprehension(ev, fr, t, first_k, out);
        return rc == EV_STOP ? 0 : rc;
    }
    }
    return 0;
}

/* ------------------------------------------------------------------ terms */

static int eval_term(struct ev *ev, struct frame *fr, struct term *t, vkont k, void *ctx)
{
    if (t->single && t->kind > TK_VAR && !ev->nov && !ev->nmocks) {
        struct rv *v;
        int rc = eval_direct(ev, fr, t, &v);
        if (rc < 0 || !v)
            return rc;
        rc = k(ev, v, ctx);
        rv_decref(v);
        return rc;
    }
    switch (t->kind) {
    case TK_VALUE:
        return k(ev, t->val, ctx);
    case TK_VAR: {
        struct rv *v = t->slot >= 0 ? fr->slots[t->slot] : NULL;
        if (!v)
            return ev_error(ev, "rego_unsafe_var_error", &t->loc, "var %s is unsafe",
                            t->wildcard ? "_" : t->name);
        return k(ev, v, ctx);
    }
    case TK_REF:
        return eval_ref(ev, fr, t, k, ctx);
    case TK_ARRAY:
    case TK_SET:
    case TK_OBJECT: {
        struct coll_k c = { t, k, ctx };
        return eval_seq(ev, fr, t->items, t->nitems, coll_done, &c);
    }
    case TK_CALL:
        return eval_call(ev, fr, t, k, ctx);
    case TK_ACOMP:
    case TK_SCOMP:
    case TK_OCOMP:
        return eval_comprehension(ev, fr, t, k, ctx);
    }
    return 0;
}

/* ------------------------------------------------------------------ unification */

struct unify_seq {
    struct frame *fr;
    struct term *pat;
    struct rv *val;
    int i;
    kont k;
    void *ctx;
};

static int unify_arr_step(struct ev *ev, void *ctx)
{
    struct unify_seq *u = ctx;
    if (u->i == u->pat->nitems)
        return u->k(ev, u->ctx);
    int i = u->i++;
    int rc = unify_value(ev, u->fr, u->pat->items[i], u->val->u.arr.v[i], unify_arr_step, u);
    u->i = i;
    return rc;
}

struct unify_obj {
    struct unify_seq *u;
};

static int unify_obj_step(struct ev *ev, void *ctx);

static int unify_obj_key_k(struct ev *ev, struct rv *key, void *ctx)
{
    struct unify_seq *u = ctx;
    struct rv *v = rv_object_get(u->val, key);
    if (!v)
        return 0;
    int i = u->i;
    u->i = i + 2;
    int rc = unify_value(ev, u->fr, u->pat->items[i + 1], v, unify_obj_step, u);
    u->i = i;
    return rc;
}

static int unify_obj_step(struct ev *ev, void *ctx)
{
    struct unify_seq *u = ctx;
    if (u->i >= u->pat->nitems)
        return u->k(ev, u->ctx);
    return eval_term(ev, u->fr, u->pat->items[u->i], unify_obj_key_k, u);
}

struct eqv_k {
    struct rv *v;
    kont k;
    void *ctx;
};

static int eqv_k(struct ev *ev, struct rv *x, void *ctx)
{
    struct eqv_k *e = ctx;
    if (!rv_equal(x, e->v))
        return 0;
    return e->k(ev, e->ctx);
}

static int unify_value_inner(struct ev *ev, struct frame *fr, struct term *t, struct rv *v, kont k,
                             void *ctx);

/* Unify pattern term t with value v. Unifying the elements of an array or
 * object, or a function's arguments, nests one continuation per element:
 * counted as expressions are, so a function with 100000 parameters is an
 * error, not a stack overflow. */
static int unify_value(struct ev *ev, struct frame *fr, struct term *t, struct rv *v, kont k, void *ctx)
{
    if (stack_low(ev))
        return ev_error(ev, "eval_cancel_error", &t->loc, "evaluation nested too deeply");
    return unify_value_inner(ev, fr, t, v, k, ctx);
}

static int unify_value_inner(struct ev *ev, struct frame *fr, struct term *t, struct rv *v, kont k,
                             void *ctx)
{
    switch (t->kind) {
    case TK_VAR: {
        if (t->slot < 0)
            return ev_error(ev, "eval_internal_error", &t->loc, "unresolved variable %s", t->name);
        struct rv *cur = fr->slots[t->slot];
        if (cur)
            return rv_equal(cur, v) ? k(ev, ctx) : 0;
        fr->slots[t->slot] = rv_incref(v);
        int rc = k(ev, ctx);
        rv_decref(fr->slots[t->slot]);
        fr->slots[t->slot] = NULL;
        return rc;
    }
    case TK_VALUE:
        return rv_equal(t->val, v) ? k(ev, ctx) : 0;
    case TK_ARRAY:
        if (has_unbound(fr, t)) {
            if (v->type != RV_ARRAY || v->u.arr.len != (size_t)t->nitems)
                return 0;
            struct unify_seq u = { fr, t, v, 0, k, ctx };
            return unify_arr_step(ev, &u);
        }
        break;
    case TK_OBJECT:
        if (has_unbound(fr, t)) {
            if (v->type != RV_OBJECT || v->u.obj.len != (size_t)t->nitems / 2)
                return 0;
            struct unify_seq u = { fr, t, v, 0, k, ctx };
            return unify_obj_step(ev, &u);
        }
        break;
    default:
        break;
    }
    struct eqv_k e = { v, k, ctx };
    return eval_term(ev, fr, t, eqv_k, &e);
}

struct unify_terms_k {
    struct frame *fr;
    struct term *other;
    kont k;
    void *ctx;
};

static int unify_terms_k(struct ev *ev, struct rv *v, void *ctx)
{
    struct unify_terms_k *u = ctx;
    return unify_value(ev, u->fr, u->other, v, u->k, u->ctx);
}

struct pair_seq {
    struct frame *fr;
    struct term *a, *b;
    int i;
    kont k;
    void *ctx;
};

static int unify_terms(struct ev *ev, struct frame *fr, struct term *a, struct term *b, kont k, void *ctx);

static int pair_step(struct ev *ev, void *ctx)
{
    struct pair_seq *p = ctx;
    if (p->i >= p->a->nitems)
        return p->k(ev, p->ctx);
    int i = p->i;
    int rc;
    if (p->a->kind == TK_OBJECT) {
        p->i = i + 2;
        rc = unify_terms(ev, p->fr, p->a->items[i + 1], obj_match(p->b, p->a->items[i]), pair_step, p);
    } else {
        p->i = i + 1;
        rc = unify_terms(ev, p->fr, p->a->items[i], p->b->items[i], pair_step, p);
    }
    p->i = i;
    return rc;
}

static int unify_terms(struct ev *ev, struct frame *fr, struct term *a, struct term *b, kont k, void *ctx)
{
    if (a->kind == TK_ARRAY && b->kind == TK_ARRAY) {
        if (a->nitems != b->nitems)
            return 0;
        struct pair_seq p = { fr, a, b, 0, k, ctx };
        return pair_step(ev, &p);
    }
    if (a->kind == TK_OBJECT && b->kind == TK_OBJECT && (has_unbound(fr, a) || has_unbound(fr, b))) {
        if (a->nitems != b->nitems || !obj_pairable(a, b))
            return 0;
        struct pair_seq p = { fr, a, b, 0, k, ctx };
        return pair_step(ev, &p);
    }
    if (!has_unbound(fr, a)) {
        struct unify_terms_k u = { fr, b, k, ctx };
        return eval_term(ev, fr, a, unify_terms_k, &u);
    }
    struct unify_terms_k u = { fr, a, k, ctx };
    return eval_term(ev, fr, b, unify_terms_k, &u);
}

/* ------------------------------------------------------------------ expressions */

struct term_k {
    kont k;
    void *ctx;
};

static int truthy_k(struct ev *ev, struct rv *v, void *ctx)
{
    struct term_k *t = ctx;
    if (v->type == RV_BOOL && !v->u.b)
        return 0;
    return t->k(ev, t->ctx);
}

/* The number of entries of an object, array or set (0 for anything else). */
static size_t coll_len(const struct rv *coll)
{
    return coll->type == RV_OBJECT ? coll->u.obj.len
           : (coll->type == RV_ARRAY || coll->type == RV_SET) ? coll->u.arr.len : 0;
}

/* Entry j of a collection as `some k, v in` and `every` see it: returns the
 * key (a new reference: the object key, the array index, the set element)
 * and sets *val (borrowed). */
static struct rv *coll_entry(struct rv *coll, size_t j, struct rv **val)
{
    if (coll->type == RV_OBJECT) {
        *val = coll->u.obj.v[j];
        return rv_incref(coll->u.obj.k[j]);
    }
    *val = coll->u.arr.v[j];
    return coll->type == RV_ARRAY ? rv_int((int64_t)j) : rv_incref(coll->u.arr.v[j]);
}

struct somein_k {
    struct frame *fr;
    struct expr *e;
    struct rv *val;
    kont k;
    void *ctx;
};

static int somein_val_k(struct ev *ev, void *ctx)
{
    struct somein_k *s = ctx;
    return unify_value(ev, s->fr, s->e->b, s->val, s->k, s->ctx);
}

static int somein_coll_k(struct ev *ev, struct rv *coll, void *ctx)
{
    struct somein_k *s = ctx;
    struct expr *e = s->e;
    int rc = 0;
    struct rv *hold = rv_incref(coll);
    size_t n = coll_len(coll);
    for (size_t j = 0; j < n && rc == 0; j++) {
        struct rv *key = coll_entry(coll, j, &s->val);
        if (e->a)
            rc = unify_value(ev, s->fr, e->a, key, somein_val_k, s);
        else
            rc = somein_val_k(ev, s);
        rv_decref(key);
        if ((rc = step(ev, &e->loc) < 0 ? -1 : rc) < 0)
            break;
    }
    rv_decref(hold);
    return rc;
}

struct every_k {
    struct frame *fr;
    struct expr *e;
    struct rv *val;
    bool failed;
    kont k;
    void *ctx;
};

static int every_try(struct ev *ev, void *ctx)
{
    struct every_k *s = ctx;
    return eval_body(ev, s->fr, s->e->body, 0, stop_k, NULL);
}

static int every_bind_val(struct ev *ev, void *ctx)
{
    struct every_k *s = ctx;
    return unify_value(ev, s->fr, s->e->b, s->val, every_try, s);
}

static int every_coll_k(struct ev *ev, struct rv *coll, void *ctx)
{
    struct every_k *s = ctx;
    struct expr *e = s->e;
    /* a domain that is not a collection: `every` is false (undefined), as in OPA */
    if (coll->type != RV_OBJECT && coll->type != RV_ARRAY && coll->type != RV_SET)
        return 0;
    struct rv *hold = rv_incref(coll);
    size_t n = coll_len(coll);
    int rc = 0;
    for (size_t j = 0; j < n; j++) {
        struct rv *key = coll_entry(coll, j, &s->val);
        if (e->a)
            rc = unify_value(ev, s->fr, e->a, key, every_bind_val, s);
        else
            rc = every_bind_val(ev, s);
        rv_decref(key);
        if (rc < 0)
            break;
        if (rc != EV_STOP) {
            rc = 0;
            s->failed = true;
            break;
        }
        rc = 0;
    }
    rv_decref(hold);
    if (rc < 0)
        return rc;
    if (s->failed)
        return 0;
    return s->k(ev, s->ctx);
}

static int eval_expr_plain(struct ev *ev, struct frame *fr, struct expr *e, kont k, void *ctx)
{
    bool direct = !ev->nov && !ev->nmocks;
    switch (e->kind) {
    case EK_SOME:
        return k(ev, ctx);
    case EK_TERM: {
        if (direct && e->a->single) {
            /* a condition of one value: no continuation for it */
            struct rv *v;
            int rc = eval_direct(ev, fr, e->a, &v);
            if (rc < 0 || !v)
                return rc;
            bool truth = !(v->type == RV_BOOL && !v->u.b);
            rv_decref(v);
            return truth ? k(ev, ctx) : 0;
        }
        struct term_k t = { k, ctx };
        return eval_term(ev, fr, e->a, truthy_k, &t);
    }
    case EK_UNIFY:
    case EK_ASSIGN:
        if (direct && e->a->kind == TK_VAR && e->a->slot >= 0 && !fr->slots[e->a->slot] && e->b->single) {
            /* x := one value: bind it */
            struct rv *v;
            int rc = eval_direct(ev, fr, e->b, &v);
            if (rc < 0 || !v)
                return rc;
            fr->slots[e->a->slot] = v;
            rc = k(ev, ctx);
            rv_decref(fr->slots[e->a->slot]);
            fr->slots[e->a->slot] = NULL;
            return rc;
        }
        return unify_terms(ev, fr, e->a, e->b, k, ctx);
    case EK_SOME_IN: {
        struct somein_k s = { fr, e, NULL, k, ctx };
        return eval_term(ev, fr, e->c, somein_coll_k, &s);
    }
    case EK_EVERY: {
        struct every_k s = { fr, e, NULL, false, k, ctx };
        return eval_term(ev, fr, e->c, every_coll_k, &s);
    }
    case EK_BODY:
        return eval_body(ev, fr, e->body, 0, k, ctx);
    }
    return 0;
}

static int first_k(struct ev *ev, struct rv *v, void *ctx);

static int eval_expr_neg(struct ev *ev, struct frame *fr, struct expr *e, kont k, void *ctx)
{
    if (!e->negated)
        return eval_expr_plain(ev, fr, e, k, ctx);
    /* what OPA evaluates before the negation (compile.c, hoist_negated):
     * undefined there, the expression fails */
    for (int i = 0; i < e->nhoist; i++) {
        struct rv *v = NULL;
        int rc = eval_term(ev, fr, e->hoist[i], first_k, &v);
        if (rc < 0)
            return rc;
        if (!v)
            return 0;
        rv_decref(v);
    }
    int rc = eval_expr_plain(ev, fr, e, stop_k, NULL);
    if (rc < 0)
        return rc;
    if (rc == EV_STOP)
        return 0;
    return k(ev, ctx);
}

/* `with`: the modified context applies to the expression only. */
struct with_state {
    struct rv *input;
    struct overlay *ov;
    int nov, ovcap;
    struct mock *mocks;
    int nmocks, mockcap;
    struct rv **cache;
    struct rv *data;
};

static void state_save(struct ev *ev, struct with_state *s)
{
    s->input = ev->input;
    s->ov = ev->ov;
    s->nov = ev->nov;
    s->ovcap = ev->ovcap;
    s->mocks = ev->mocks;
    s->nmocks = ev->nmocks;
    s->mockcap = ev->mockcap;
    s->cache = ev->cache;
    s->data = ev->data;
}

static void state_load(struct ev *ev, const struct with_state *s)
{
    ev->input = s->input;
    ev->ov = s->ov;
    ev->nov = s->nov;
    ev->ovcap = s->ovcap;
    ev->mocks = s->mocks;
    ev->nmocks = s->nmocks;
    ev->mockcap = s->mockcap;
    ev->cache = s->cache;
    ev->data = s->data;
}

struct with_k {
    struct with_state outer, inner;
    kont k;
    void *ctx;
};

static int with_next(struct ev *ev, void *ctx)
{
    struct with_k *w = ctx;
    state_save(ev, &w->inner);
    state_load(ev, &w->outer);
    int rc = w->k(ev, w->ctx);
    state_save(ev, &w->outer);
    state_load(ev, &w->inner);
    return rc;
}

static int first_k(struct ev *ev, struct rv *v, void *ctx)
{
    (void)ev;
    *(struct rv **)ctx = rv_incref(v);
    return EV_STOP;
}

static int eval_expr(struct ev *ev, struct frame *fr, struct expr *e, kont k, void *ctx)
{
    int rc = step(ev, &e->loc);
    if (rc < 0)
        return rc;
    if (stack_low(ev))
        return ev_error(ev, "eval_cancel_error", &e->loc, "evaluation nested too deeply");
    if (!e->nwith)
        return eval_expr_neg(ev, fr, e, k, ctx);
    /* evaluate the replacement values first, in the current context */
    struct rv **vals = calloc((size_t)e->nwith, sizeof *vals);
    if (!vals)
        REGO_OOM();
    for (int i = 0; i < e->nwith; i++) {
        struct term *vt = e->with[i].value;
        if (vt->kind == TK_CALL && vt->nitems == 1)
            continue;  /* a function replacement */
        rc = eval_term(ev, fr, vt, first_k, &vals[i]);
        if (rc < 0)
            goto out;
        if (!vals[i]) {
            rc = 0;  /* undefined replacement: the expression is undefined */
            goto out;
        }
    }
    {
        struct with_k w = { .k = k, .ctx = ctx };
        state_save(ev, &w.outer);
        /* copy-on-write of the overlay and mock lists */
        struct overlay *ov = calloc((size_t)(ev->nov + e->nwith), sizeof *ov);
        struct mock *mocks = calloc((size_t)(ev->nmocks + e->nwith), sizeof *mocks);
        struct rv **cache = calloc((size_t)ev->r->nnodes + 1, sizeof *cache);
        if (!ov || !mocks || !cache)
            REGO_OOM();
        if (ev->nov)
            memcpy(ov, ev->ov, sizeof *ov * (size_t)ev->nov);
        if (ev->nmocks)
            memcpy(mocks, ev->mocks, sizeof *mocks * (size_t)ev->nmocks);
        int nov = ev->nov, nmocks = ev->nmocks;
        struct rv *input = ev->input ? rv_incref(ev->input) : NULL;
        struct rv *data = rv_incref(ev->data);
        for (int i = 0; i < e->nwith; i++) {
            struct with *wi = &e->with[i];
            if (wi->kind == WITH_INPUT) {
                struct rv *ni = put_path(input, wi->path, wi->npath, vals[i]);
                rv_decref(input);
                input = ni;
            } else if (wi->kind == WITH_DATA) {
                ov[nov].path = wi->path;
                ov[nov].npath = wi->npath;
                ov[nov].value = vals[i];
                nov++;
                struct rv *nd = put_path(data, wi->path, wi->npath, vals[i]);
                rv_decref(data);
                data = nd;
            } else {
                struct mock *m = &mocks[nmocks];
                m->builtin = wi->builtin;
                m->fn = wi->fn;
                m->value = vals[i];
                m->repl_builtin = -1;
                m->depth = w.outer.nmocks;
                if (!vals[i]) {
                    struct term *vt = wi->value;
                    m->repl_builtin = vt->call_kind == CALL_BUILTIN ? vt->builtin : -1;
                    m->repl_fn = vt->call_kind == CALL_FUNCTION ? vt->fn : NULL;
                }
                nmocks++;
            }
        }
        ev->input = input;
        ev->data = data;
        ev->ov = ov;
        ev->nov = nov;
        ev->mocks = mocks;
        ev->nmocks = nmocks;
        ev->cache = cache;
        ev->depth++;
        rc = eval_expr_neg(ev, fr, e, with_next, &w);
        ev->depth--;
        for (int i = 0; i < ev->r->nnodes; i++)
            if (cache[i] != UNDEF)
                rv_decref(cache[i]);
        free(cache);
        free(ov);
        free(mocks);
        rv_decref(input);
        rv_decref(data);
        state_load(ev, &w.outer);
    }
out:
    for (int i = 0; i < e->nwith; i++)
        rv_decref(vals[i]);
    free(vals);
    return rc;
}

struct body_k {
    struct frame *fr;
    struct body *b;
    int i;
    kont k;
    void *ctx;
};

static int body_next(struct ev *ev, void *ctx)
{
    struct body_k *bk = ctx;
    return eval_body(ev, bk->fr, bk->b, bk->i, bk->k, bk->ctx);
}

static int eval_body(struct ev *ev, struct frame *fr, struct body *b, int i, kont k, void *ctx)
{
    if (!b || i >= b->n)
        return k(ev, ctx);
    struct body_k bk = { fr, b, i + 1, k, ctx };
    return eval_expr(ev, fr, b->exprs[i], body_next, &bk);
}

/* ------------------------------------------------------------------ rules */

struct frame_mem {
    struct frame fr;
    struct rv *small[16];
};

static void frame_init(struct frame_mem *m, int nslots)
{
    m->fr.nslots = nslots;
    m->fr.is_query = false;
    if (nslots <= 16) {
        m->fr.slots = m->small;
        memset(m->small, 0, sizeof m->small);
    } else {
        m->fr.slots = calloc((size_t)nslots, sizeof *m->fr.slots);
        if (!m->fr.slots)
            REGO_OOM();
    }
}

static void frame_release(struct frame_mem *m)
{
    for (int i = 0; i < m->fr.nslots; i++)
        rv_decref(m->fr.slots[i]);
    if (m->fr.slots != m->small)
        free(m->fr.slots);
}

struct rule_k {
    struct frame *fr;
    struct rule *rule;      /* the rule (or else branch) being evaluated */
    struct rule *top;       /* head owner: key / suffix */
    struct rv *result;      /* complete, function: the value */
    struct rule *result_rule;
    struct rvbuf items;     /* set: elements; object: values */
    struct rvbuf paths;     /* object: suffix arrays */
    bool found;
    bool is_function;
    bool stop_early;
    const char *node_path;
};

static int rule_value_k(struct ev *ev, struct rv *v, void *ctx)
{
    struct rule_k *r = ctx;
    r->found = true;
    if (!r->result) {
        r->result = rv_incref(v);
        r->result_rule = r->rule;
        return r->stop_early ? EV_STOP : 0;
    }
    if (!rv_equal(r->result, v)) {
        if (r->is_function)
            return ev_error(ev, "eval_conflict_error", &r->rule->loc,
                            "functions must not produce multiple outputs for same inputs");
        return ev_error(ev, "eval_conflict_error", &r->rule->loc,
                        "complete rules must not produce multiple outputs (rule %s produced conflicting values)",
                        r->node_path ? r->node_path : "");
    }
    return r->stop_early ? EV_STOP : 0;
}

static int rule_solution_complete(struct ev *ev, void *ctx)
{
    struct rule_k *r = ctx;
    if (!r->rule->value)
        return rule_value_k(ev, rv_bool(true), r);
    return eval_term(ev, r->fr, r->rule->value, rule_value_k, r);
}

static int set_elem_k(struct ev *ev, struct rv *v, void *ctx)
{
    (void)ev;
    struct rule_k *r = ctx;
    rvbuf_push(&r->items, rv_incref(v));
    return 0;
}

static int rule_solution_set(struct ev *ev, void *ctx)
{
    struct rule_k *r = ctx;
    return eval_term(ev, r->fr, r->top->key, set_elem_k, r);
}

struct objsol {
    struct rule_k *r;
    struct rv **path;
};

static int obj_value_k(struct ev *ev, struct rv *v, void *ctx)
{
    struct objsol *o = ctx;
    struct rvbuf p = { 0 };
    for (int i = 0; i < o->r->top->nsuffix; i++)
        rvbuf_push(&p, rv_incref(o->path[i]));
    rvbuf_push(&o->r->paths, rv_array_take(&p));
    rvbuf_push(&o->r->items, rv_incref(v));
    (void)ev;
    return 0;
}

static int obj_paths_done(struct ev *ev, struct rv **vals, void *ctx)
{
    struct objsol *o = ctx;
    o->path = vals;
    if (o->r->top->multi)
        return eval_term(ev, o->r->fr, o->r->top->key, obj_value_k, o);
    if (!o->r->rule->value)
        return obj_value_k(ev, rv_bool(true), o);
    return eval_term(ev, o->r->fr, o->r->rule->value, obj_value_k, o);
}

static int rule_solution_object(struct ev *ev, void *ctx)
{
    struct rule_k *r = ctx;
    struct objsol o = { r, NULL };
    r->found = true;
    return eval_seq(ev, r->fr, r->top->suffix, r->top->nsuffix, obj_paths_done, &o);
}

/* An object literal's value when a key appears more than once: the last
 * value written for it (OPA's object insert replaces). kv: n/2 pairs (an
 * odd n, from a list that could not grow (mem.h), drops the last key). */
struct rv *rv_object_last_wins(struct rv **kv, int n)
{
    struct rvbuf a = { 0 }, b = { 0 };
    for (int i = 0; i + 1 < n; i += 2) {
        bool later = false;
        for (int j = i + 2; j + 1 < n && !later; j += 2)
            later = rv_equal(kv[i], kv[j]);
        if (later)
            continue;
        rvbuf_push(&a, rv_incref(kv[i]));
        rvbuf_push(&b, rv_incref(kv[i + 1]));
    }
    return rv_object_take(&a, &b);
}

/* ------------------------------------------------------------------ rules with variables in their head reference */

struct leaf {
    struct rv *path;   /* array of keys below the node */
    struct rv *val;
};

static int leaf_cmp(const void *a, const void *b)
{
    return rv_compare(((const struct leaf *)a)->path, ((const struct leaf *)b)->path);
}

static void leaves_push(struct leaf **l, size_t *n, size_t *cap, struct rv *path, struct rv *val)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *l = realloc(*l, sizeof **l * *cap);
        if (!*l)
            REGO_OOM();
    }
    (*l)[*n].path = path;
    (*l)[*n].val = val;
    (*n)++;
}

/* The values of the complete and multi-value rules below n (not through
 * other object rules, which merge as objects), as leaves with paths
 * relative to the object rule's node. */
static int collect_rule_leaves(struct ev *ev, struct node *n, struct rvbuf *prefix, struct leaf **l,
                               size_t *nl, size_t *cap, struct rvbuf *objects)
{
    int rc = 0;
    for (int i = 0; i < n->nchildren && rc == 0; i++) {
        struct node *ch = n->children[i];
        rvbuf_push(prefix, rv_incref(ch->key));
        if ((ch->nrules || ch->default_rule) && ch->kind != RULE_OBJECT) {
            struct rv *v = ch->kind == RULE_FUNC ? NULL : child_value(ev, ch, NULL, &rc);
            /* a multi-value rule without elements adds nothing here (OPA) */
            if (v && ch->kind == RULE_SET && v->type == RV_SET && v->u.arr.len == 0) {
                rv_decref(v);
                v = NULL;
            }
            if (v) {
                struct rvbuf p = { 0 };
                for (size_t j = 0; j < prefix->len; j++)
                    rvbuf_push(&p, rv_incref(prefix->v[j]));
                leaves_push(l, nl, cap, rv_array_take(&p), v);
            }
        } else if (ch->nrules) {
            struct rv *v = child_value(ev, ch, NULL, &rc);
            /* nor does an object rule without keys (OPA) */
            if (v && v->type == RV_OBJECT && v->u.obj.len == 0) {
                rv_decref(v);
                v = NULL;
            }
            if (v) {
                struct rvbuf p = { 0 };
                for (size_t j = 0; j < prefix->len; j++)
                    rvbuf_push(&p, rv_incref(prefix->v[j]));
                rvbuf_push(objects, rv_array_take(&p));
                rvbuf_push(objects, v);
            }
        } else {
            rc = collect_rule_leaves(ev, ch, prefix, l, nl, cap, objects);
        }
        rv_decref(prefix->v[--prefix->len]);
    }
    return rc;
}

static bool path_prefix(const struct rv *a, const struct rv *b)
{
    if (a->u.arr.len >= b->u.arr.len)
        return false;
    for (size_t i = 0; i < a->u.arr.len; i++)
        if (!rv_equal(a->u.arr.v[i], b->u.arr.v[i]))
            return false;
    return true;
}

/* The value of an object rule node: the (path, value) pairs its rules
 * produced (for `a[x] contains y` the values at one path form a set), with
 * the rules below the node. As OPA: two different values at one path, or
 * a value at a path inside another rule's value, are eval_conflict_error;
 * equal values at one path are one. */
static struct rv *object_rule_value(struct ev *ev, struct node *n, struct rvbuf *paths, struct rvbuf *items,
                                    int *rcp)
{
    bool multi = n->rules[0]->multi;
    struct leaf *l = NULL;
    size_t nl = 0, cap = 0;
    for (size_t i = 0; i < paths->len; i++)
        leaves_push(&l, &nl, &cap, rv_incref(paths->v[i]), rv_incref(items->v[i]));
    if (multi && nl) {
        /* group the elements of each path into one set */
        if (nl > 1)
            qsort(l, nl, sizeof *l, leaf_cmp);
        size_t out = 0;
        for (size_t i = 0; i < nl;) {
            size_t j = i;
            struct rvbuf elems = { 0 };
            for (; j < nl && rv_equal(l[j].path, l[i].path); j++) {
                rvbuf_push(&elems, l[j].val);
                if (j > i)
                    rv_decref(l[j].path);
            }
            l[out].path = l[i].path;
            l[out].val = rv_set_take(&elems);
            out++;
            i = j;
        }
        nl = out;
    }
    struct rvbuf prefix = { 0 }, objects = { 0 };
    int rc = collect_rule_leaves(ev, n, &prefix, &l, &nl, &cap, &objects);
    rvbuf_clear(&prefix);
    if (rc == 0 && nl > 1)
        qsort(l, nl, sizeof *l, leaf_cmp);
    for (size_t i = 0; rc == 0 && i + 1 < nl; i++) {
        if (rv_equal(l[i].path, l[i + 1].path)) {
            if (rv_equal(l[i].val, l[i + 1].val))
                continue;
            if (multi && l[i].val->type == RV_SET && l[i + 1].val->type == RV_SET) {
                struct rvbuf u = { 0 };
                for (size_t k = 0; k < l[i].val->u.arr.len; k++)
                    rvbuf_push(&u, rv_incref(l[i].val->u.arr.v[k]));
                for (size_t k = 0; k < l[i + 1].val->u.arr.len; k++)
                    rvbuf_push(&u, rv_incref(l[i + 1].val->u.arr.v[k]));
                rv_decref(l[i + 1].val);
                l[i + 1].val = rv_set_take(&u);
                continue;
            }
            rc = ev_error(ev, "eval_conflict_error", &n->rules[0]->loc, "object keys must be unique");
        } else if (path_prefix(l[i].path, l[i + 1].path)) {
            rc = ev_error(ev, "eval_conflict_error", &n->rules[0]->loc, "object keys must be unique");
        }
    }
    struct rv *obj = rc == 0 ? rv_empty_object() : NULL;
    for (size_t i = 0; i < nl; i++) {
        if (obj && (i + 1 == nl || !rv_equal(l[i].path, l[i + 1].path))) {
            struct rv *nv = put_path(obj, l[i].path->u.arr.v, (int)l[i].path->u.arr.len, l[i].val);
            rv_decref(obj);
            obj = nv;
        }
        rv_decref(l[i].path);
        rv_decref(l[i].val);
    }
    free(l);
    /* object rules below: merged as objects */
    for (size_t i = 0; obj && i + 1 < objects.len; i += 2) {
        struct rv *path = objects.v[i];
        bool conflict = false;
        struct rv *nv = put_path(NULL, path->u.arr.v, (int)path->u.arr.len, objects.v[i + 1]);
        struct rv *merged = rv_merge(obj, nv, &conflict);
        rv_decref(nv);
        rv_decref(obj);
        obj = merged;
        if (conflict) {
            rc = ev_error(ev, "eval_conflict_error", &n->rules[0]->loc, "object keys must be unique");
            rv_decref(obj);
            obj = NULL;
        }
    }
    rvbuf_clear(&objects);
    *rcp = rc;
    return obj;
}

static int enter_rule(struct ev *ev, const struct loc *loc)
{
    if (stack_low(ev))
        return ev_error(ev, "eval_cancel_error", loc, "evaluation nested too deeply");
    if (++ev->depth > ev->max_depth) {
        ev->depth--;
        return ev_error(ev, "eval_cancel_error", loc, "evaluation exceeded its depth limit of %d",
                        ev->max_depth);
    }
    return 0;
}

static bool same_path(const struct term *a, const struct term *b)
{
    if (a->nitems != b->nitems)
        return false;
    for (int i = 1; i < a->nitems; i++)
        if (a->items[i]->val != b->items[i]->val && !rv_equal(a->items[i]->val, b->items[i]->val))
            return false;
    return true;
}

/* The rule index: true when the rule's first expression (input.path ==
 * constant, or in a constant set) cannot hold for this input. Not used
 * while builtins are replaced by `with`. */
static bool index_excludes(struct ev *ev, const struct rule *rule)
{
    if (!rule->idx_ref || ev->nmocks)
        return false;
    struct rv *v = ev->input;
    const struct term *t = rule->idx_ref;
    for (int i = 1; v && i < t->nitems; i++)
        v = lookup_hinted(v, t->items[i]);
    if (!v)
        return true;
    if (rule->idx_member)
        return rv_set_find(rule->idx_val, v) == NULL;
    return rv_compare(v, rule->idx_val) != 0;
}

/* The rules of n to evaluate for this input, -1 terminated (see struct
 * node), or NULL for all of them. *checked: the listed rules indexed on
 * the node's path pass their test. */
static const int *node_candidates(struct ev *ev, const struct node *n, const struct term **checked)
{
    *checked = NULL;
    if (!n->idx_ref || ev->nmocks)
        return NULL;
    struct rv *v = ev->input;
    const struct term *t = n->idx_ref;
    for (int i = 1; v && i < t->nitems; i++)
        v = lookup_hinted(v, t->items[i]);
    if (!v)
        return n->idx_other;
    long i = rv_sorted_find(n->idx_keys, (size_t)n->idx_n, v);
    if (i < 0)
        return n->idx_other;
    *checked = t;
    return n->idx_rules[i];
}

/* The next rule of n to evaluate: *pos counts through cand (or all rules). */
static struct rule *next_rule(const struct node *n, const int *cand, int *pos)
{
    int i = (*pos)++;
    if (cand)
        return cand[i] < 0 ? NULL : n->rules[cand[i]];
    return i < n->nrules ? n->rules[i] : NULL;
}

/* Evaluates one rule with its else chain into r. checked: the node's index
 * path (the rule's index test, when on that path, is known to pass). */
static int eval_rule_chain(struct ev *ev, struct rule *rule, kont solution, struct rule_k *r,
                           const struct term *checked)
{
    struct frame_mem fm;
    int rc = 0;
    if (!(checked && rule->idx_ref && !rule->idx_member && (rule->idx_ref == checked ||
                                                            same_path(rule->idx_ref, checked))) &&
        index_excludes(ev, rule))
        return 0;
    for (struct rule *x = rule; x; x = x->els) {
        frame_init(&fm, rule->nslots);
        r->fr = &fm.fr;
        r->rule = x;
        r->top = rule;
        bool found_before = r->found;
        r->found = false;
        rc = eval_body(ev, &fm.fr, x->body, 0, solution, r);
        frame_release(&fm);
        if (rc == EV_STOP)
            rc = 0;
        bool here = r->found;
        r->found = found_before || here;
        if (rc < 0 || here)
            break;
    }
    return rc;
}

static bool constant_value(struct rule *rule)
{
    for (struct rule *x = rule; x; x = x->els)
        if (x->value && x->value->kind != TK_VALUE)
            return false;
    return true;
}

static struct rv *compute_node(struct ev *ev, struct node *n, int *rcp)
{
    int rc = enter_rule(ev, n->nrules ? &n->rules[0]->loc : NULL);
    if (rc < 0) {
        *rcp = rc;
        return NULL;
    }
    struct rule_k r = { .node_path = n->path_str };
    struct rv *result = NULL;
    const struct term *checked;
    const int *cand = node_candidates(ev, n, &checked);
    int pos = 0;
    struct rule *x;
    switch (n->kind) {
    case RULE_COMPLETE:
        while (rc == 0 && (x = next_rule(n, cand, &pos))) {
            r.stop_early = constant_value(x);
            rc = eval_rule_chain(ev, x, rule_solution_complete, &r, checked);
            /* the first rule's constant may still conflict with another rule's */
        }
        if (rc == 0 && !r.result && n->default_rule) {
            struct rule *d = n->default_rule;
            struct rv *v = NULL;
            if (rego_term_constant(d->value, &v, ev->err) < 0) {
                /* a non-constant default: evaluate it with an empty frame */
                struct frame_mem fm;
                frame_init(&fm, d->nslots);
                rc = eval_term(ev, &fm.fr, d->value, first_k, &v);
                frame_release(&fm);
                if (rc == EV_STOP)
                    rc = 0;
            }
            r.result = v;
        }
        result = r.result;
        break;
    case RULE_SET:
        while (rc == 0 && (x = next_rule(n, cand, &pos)))
            rc = eval_rule_chain(ev, x, rule_solution_set, &r, checked);
        if (rc == 0)
            result = rv_set_take(&r.items);
        rvbuf_clear(&r.items);
        break;
    case RULE_OBJECT:
        while (rc == 0 && (x = next_rule(n, cand, &pos)))
            rc = eval_rule_chain(ev, x, rule_solution_object, &r, checked);
        if (rc == 0)
            result = object_rule_value(ev, n, &r.paths, &r.items, &rc);
        rvbuf_clear(&r.items);
        rvbuf_clear(&r.paths);
        if (rc < 0)
            break;
        ev->depth--;
        if (result && ev->nov)
            result = apply_overlays_below(ev, n, result);
        return result;
    default:
        break;
    }
    ev->depth--;
    if (rc < 0) {
        rv_decref(result);
        *rcp = rc;
        return NULL;
    }
    /* rules below this one (p.q := 1 beside p[x] := ...) */
    if (result && result->type == RV_OBJECT && n->nchildren) {
        for (int i = 0; i < n->nchildren; i++) {
            struct rv *cv = child_value(ev, n->children[i], NULL, rcp);
            if (*rcp < 0) {
                rv_decref(result);
                return NULL;
            }
            if (!cv)
                continue;
            struct rv *nv = rv_object_put(result, n->children[i]->key, cv);
            rv_decref(cv);
            rv_decref(result);
            result = nv;
        }
    }
    if (result && ev->nov)
        result = apply_overlays_below(ev, n, result);
    return result;
}

/* Borrowed from the cache (valid for this query / with context). */
static struct rv *node_value(struct ev *ev, struct node *n, int *rc)
{
    if (n->has_konst && !ev->nov && !ev->nmocks && n->konst_strict == ev->strict)
        return n->konst;
    struct rv *c = ev->cache[n->id];
    if (c)
        return c == UNDEF ? NULL : c;
    struct rv *v = compute_node(ev, n, rc);
    if (*rc < 0)
        return NULL;
    ev->cache[n->id] = v ? v : UNDEF;
    if (ev->cache == ev->base_cache && ev->ncache_ids < ev->r->nnodes + 1)
        ev->cache_ids[ev->ncache_ids++] = n->id;
    return v;
}

/* ------------------------------------------------------------------ functions */

struct fn_args {
    struct rule_k *r;
    struct rv **args;
    int nargs;
    int i;
};

static int fn_args_step(struct ev *ev, void *ctx)
{
    struct fn_args *a = ctx;
    if (a->i == a->nargs)
        return eval_body(ev, a->r->fr, a->r->rule->body, 0, rule_solution_complete, a->r);
    int i = a->i++;
    int rc = unify_value(ev, a->r->fr, a->r->top->args[i], a->args[i], fn_args_step, a);
    a->i = i;
    return rc;
}

static int call_function(struct ev *ev, struct node *fn, struct rv **args, int nargs, struct loc *loc,
                         struct rv **out)
{
    int rc = enter_rule(ev, loc);
    if (rc < 0)
        return rc;
    struct rule_k r = { .is_function = true };
    for (int i = 0; i < fn->nrules && rc == 0; i++) {
        struct rule *rule = fn->rules[i];
        r.stop_early = constant_value(rule);
        for (struct rule *x = rule; x; x = x->els) {
            struct frame_mem fm;
            frame_init(&fm, rule->nslots);
            r.fr = &fm.fr;
            r.rule = x;
            r.top = rule;
            bool before = r.found;
            r.found = false;
            struct fn_args a = { &r, args, nargs, 0 };
            rc = fn_args_step(ev, &a);
            frame_release(&fm);
            if (rc == EV_STOP)
                rc = 0;
            bool here = r.found;
            r.found = before || here;
            if (rc < 0 || here)
                break;
        }
    }
    if (rc == 0 && !r.result && fn->default_rule) {
        struct rv *v = NULL;
        if (rego_term_constant(fn->default_rule->value, &v, ev->err) == 0)
            r.result = v;
    }
    ev->depth--;
    if (rc < 0) {
        rv_decref(r.result);
        return rc;
    }
    if (!r.result)
        return 1;
    *out = r.result;
    return 0;
}

/* ------------------------------------------------------------------ queries */

int64_t ev_now_ns(struct ev *ev)
{
    if (!ev->now_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ev->now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    return ev->now_ns;
}

const char *ev_builtin_name(struct ev *ev) { return ev->cur_builtin ? ev->cur_builtin : "builtin"; }

struct query_k {
    struct frame *fr;
    struct query_info *qi;
    struct rvbuf *results;
    struct term *value_term;
    struct rv **value;
    bool with_exprs;
};

static int value_k(struct ev *ev, struct rv *v, void *ctx)
{
    (void)ev;
    struct query_k *q = ctx;
    *q->value = rv_incref(v);
    return EV_STOP;
}

static int query_solution(struct ev *ev, void *ctx)
{
    struct query_k *q = ctx;
    if (q->value_term)
        return eval_term(ev, q->fr, q->value_term, value_k, q);
    struct rv *exprs = NULL;
    if (q->with_exprs) {
        /* each expression's value in this solution: a term's value, else true */
        struct rvbuf ev_vals = { 0 };
        for (int i = 0; i < q->qi->norig; i++) {
            struct expr *e = q->qi->orig[i];
            struct rv *v = NULL;
            /* print's value is true; evaluating it again would print twice */
            bool is_print = e->a && e->a->kind == TK_CALL && e->a->call_kind == CALL_BUILTIN &&
                            rego_builtins[e->a->builtin].fn == rego_builtins[rego_builtin_find("print")].fn;
            if (e->kind == EK_TERM && !e->negated && !e->nwith && !is_print) {
                int rc = eval_term(ev, q->fr, e->a, first_k, &v);
                if (rc < 0) {
                    rvbuf_clear(&ev_vals);
                    return rc;
                }
            }
            rvbuf_push(&ev_vals, v ? v : rv_bool(true));
        }
        exprs = rv_array_take(&ev_vals);
    }
    struct rvbuf k = { 0 }, v = { 0 };
    for (int i = 0; i < q->qi->nslots; i++) {
        const char *name = q->qi->slot_names[i];
        if (name[0] == '$' || !q->fr->slots[i])
            continue;
        rvbuf_push(&k, rv_cstr(name));
        rvbuf_push(&v, rv_incref(q->fr->slots[i]));
    }
    struct rv *obj = rv_object_take(&k, &v);
    if (exprs) {
        struct rvbuf pair = { 0 };
        rvbuf_push(&pair, obj);
        rvbuf_push(&pair, exprs);
        obj = rv_array_take(&pair);
    }
    /* duplicates collapse: results are a set of bindings */
    for (size_t i = 0; i < q->results->len; i++)
        if (rv_equal(q->results->v[i], obj)) {
            rv_decref(obj);
            return 0;
        }
    rvbuf_push(q->results, obj);
    return 0;
}

void ev_init_store(struct ev *ev, struct rego *r, struct rv *input, struct rego_error *err,
                   struct ev_store *store)
{
    memset(ev, 0, sizeof *ev);
    ev->r = r;
    ev->input = input;
    ev->data = r->data;
    ev->err = err;
    ev->max_steps = r->opts.max_steps ? r->opts.max_steps : 50000000ULL;
    ev->max_depth = r->opts.max_depth ? r->opts.max_depth : 1000;
    ev->stack_floor = stack_floor();
    ev->strict = r->opts.strict_builtin_errors != 0;
    rv_budget_begin(&ev->budget, r->opts.max_memory ? r->opts.max_memory : REGO_DEFAULT_MAX_MEMORY,
                    &ev->saved_budget);
    if (store && store->nnodes != r->nnodes) {
        ev_store_free(store);
        store->nnodes = r->nnodes;
    }
    if (store && store->cache) {
        ev->cache = store->cache;
        ev->cache_ids = store->ids;
    } else {
        ev->cache = calloc((size_t)r->nnodes + 1, sizeof *ev->cache);
        ev->cache_ids = malloc(((size_t)r->nnodes + 1) * sizeof *ev->cache_ids);
        if (!ev->cache || !ev->cache_ids)
            REGO_OOM();
        if (store) {
            store->cache = ev->cache;
            store->ids = ev->cache_ids;
        }
    }
    ev->store = store;
    ev->base_cache = ev->cache;
    if (store) {
        ev->budget.spares = store->spares;
        memset(&store->spares, 0, sizeof store->spares);
    }
}

void ev_init(struct ev *ev, struct rego *r, struct rv *input, struct rego_error *err)
{
    ev_init_store(ev, r, input, err, NULL);
}

void ev_store_free(struct ev_store *s)
{
    free(s->cache);
    free(s->ids);
    s->cache = NULL;
    s->ids = NULL;
    rv_spares_free(&s->spares);
}

/* Releases what the evaluation computed: only the entries it set, so that
 * a store's cache is all NULL again for the next evaluation. */
void ev_release(struct ev *ev)
{
    struct rv **cache = ev->base_cache;
    if (ev->ncache_ids <= ev->r->nnodes) {
        for (int i = 0; i < ev->ncache_ids; i++) {
            struct rv *v = cache[ev->cache_ids[i]];
            if (v != UNDEF)
                rv_decref(v);
            cache[ev->cache_ids[i]] = NULL;
        }
    } else {
        for (int i = 0; i < ev->r->nnodes; i++) {
            if (cache[i] != UNDEF)
                rv_decref(cache[i]);
            cache[i] = NULL;
        }
    }
    if (!ev->store) {
        free(cache);
        free(ev->cache_ids);
    }
    rv_decref(ev->memo);
    rv_decref(ev->addr_key);
    if (ev->store) {   /* what was freed serves the next evaluation */
        ev->store->spares = ev->budget.spares;
        memset(&ev->budget.spares, 0, sizeof ev->budget.spares);
    }
    rv_budget_end(ev->saved_budget);
}

int ev_query(struct ev *ev, struct query_info *qi, struct term *value_term, struct rvbuf *results,
             struct rv **value)
{
    return ev_query_mode(ev, qi, value_term, results, value, false);
}

int ev_query_mode(struct ev *ev, struct query_info *qi, struct term *value_term, struct rvbuf *results,
                  struct rv **value, bool with_exprs)
{
    struct frame_mem fm;
    frame_init(&fm, qi->nslots);
    fm.fr.is_query = true;
    struct query_k q = { &fm.fr, qi, results, value_term, value, with_exprs };
    int rc;
    if (value_term)
        rc = eval_term(ev, &fm.fr, value_term, value_k, &q);
    else
        rc = eval_body(ev, &fm.fr, qi->body, 0, query_solution, &q);
    frame_release(&fm);
    if (rc == EV_STOP)
        rc = 0;
    /* a value made after the last step (the query's own result) */
    if (rc >= 0 && ev->budget.exceeded) {
        rc = budget_error(ev, NULL);
        if (value) {
            rv_decref(*value);
            *value = NULL;
        }
    }
    return rc;
}


struct rv *ev_node_value(struct ev *ev, struct node *n, int *rc) { return node_value(ev, n, rc); }
