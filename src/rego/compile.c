/* The compiler: rule tree, name resolution, safety and expression order,
 * recursion check.
 *
 * Variables get slots in one frame per rule (comprehension and `every`
 * bodies share their rule's frame; a nested scope's variables get their own
 * slots). A name resolves, in order, to: a variable declared (some, :=,
 * function argument, every) in the innermost scope that declares it;
 * input/data; an import; a rule of the package; else an implicit variable of
 * the outermost scope whose body mentions it (so a comprehension sees the
 * variables of the body around it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/ast.h"
#include "rego/eval.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

struct names {
    int n, cap;
    char **name;
    int *slot;   /* -1 until allocated */
};

struct scope {
    struct scope *parent;
    struct body *body;     /* NULL for the rule/query scope */
    struct names implicit;
    struct names declared;  /* declared so far (some, :=, arguments) */
    struct names later;     /* declared somewhere in this scope's body */
    struct names captured; /* name field unused; slot list */
};

struct cctx {
    struct rego *r;
    struct module *m;       /* NULL for queries */
    int nslots;
    char **slot_names;
    struct rego_error *err;
};

static void names_add(struct names *n, const char *name)
{
    for (int i = 0; i < n->n; i++)
        if (strcmp(n->name[i], name) == 0)
            return;
    if (n->n == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 8;
        n->name = realloc(n->name, (size_t)n->cap * sizeof *n->name);
        n->slot = realloc(n->slot, (size_t)n->cap * sizeof *n->slot);
        if (!n->name || !n->slot)
            REGO_OOM();
    }
    n->name[n->n] = strdup(name);
    n->slot[n->n] = -1;
    n->n++;
}

static int names_find(const struct names *n, const char *name)
{
    for (int i = 0; i < n->n; i++)
        if (strcmp(n->name[i], name) == 0)
            return i;
    return -1;
}

static void names_free(struct names *n)
{
    for (int i = 0; i < n->n; i++)
        free(n->name[i]);
    free(n->name);
    free(n->slot);
}

static int new_slot(struct cctx *c, const char *name)
{
    c->slot_names = realloc(c->slot_names, (size_t)(c->nslots + 1) * sizeof *c->slot_names);
    if (!c->slot_names)
        REGO_OOM();
    c->slot_names[c->nslots] = strdup(name);
    return c->nslots++;
}

/* ------------------------------------------------------------------ pre-pass: names per scope */

static void collect_term(struct scope *s, struct term *t);

static void collect_decl_into(struct scope *s, struct names *into, struct term *t)
{
    if (!t)
        return;
    if (t->kind == TK_VAR) {
        if (!t->wildcard)
            names_add(into, t->name);
    } else if (t->kind == TK_ARRAY) {
        for (int i = 0; i < t->nitems; i++)
            collect_decl_into(s, into, t->items[i]);
    } else if (t->kind == TK_OBJECT) {
        for (int i = 1; i < t->nitems; i += 2)
            collect_decl_into(s, into, t->items[i]);
        for (int i = 0; i < t->nitems; i += 2)
            collect_term(s, t->items[i]);
    } else {
        collect_term(s, t);
    }
}

static void collect_term(struct scope *s, struct term *t)
{
    if (!t)
        return;
    switch (t->kind) {
    case TK_VAR:
        names_add(&s->implicit, t->name);
        break;
    case TK_CALL:
        /* the function name is not a variable */
        for (int i = 1; i < t->nitems; i++)
            collect_term(s, t->items[i]);
        break;
    case TK_ACOMP:
    case TK_SCOMP:
    case TK_OCOMP:
        break; /* own scope */
    default:
        for (int i = 0; i < t->nitems; i++)
            collect_term(s, t->items[i]);
        break;
    }
}

static void collect_pattern_decl(struct scope *s, struct term *t)
{
    collect_decl_into(s, &s->later, t);
}

/* Names declared later are not implicit variables of this scope. */
static void drop_later(struct scope *s)
{
    for (int i = 0; i < s->later.n; i++) {
        int j = names_find(&s->implicit, s->later.name[i]);
        if (j < 0)
            continue;
        free(s->implicit.name[j]);
        s->implicit.name[j] = s->implicit.name[s->implicit.n - 1];
        s->implicit.slot[j] = s->implicit.slot[s->implicit.n - 1];
        s->implicit.n--;
    }
}

static void collect_body(struct scope *s, struct body *b)
{
    for (int i = 0; b && i < b->n; i++) {
        struct expr *e = b->exprs[i];
        switch (e->kind) {
        case EK_ASSIGN:
            collect_pattern_decl(s, e->a);
            collect_term(s, e->b);
            break;
        case EK_SOME:
            for (int j = 0; j < e->ndecl; j++)
                names_add(&s->later, e->decl[j]->name);
            break;
        case EK_SOME_IN:
            collect_pattern_decl(s, e->a);
            collect_pattern_decl(s, e->b);
            collect_term(s, e->c);
            break;
        case EK_EVERY:
            collect_term(s, e->c);
            break;
        case EK_BODY:
            break;
        default:
            collect_term(s, e->a);
            collect_term(s, e->b);
            break;
        }
        for (int j = 0; j < e->nwith; j++)
            collect_term(s, e->with[j].value);
    }
}

/* ------------------------------------------------------------------ resolution */

static struct node *node_child(struct node *n, const struct rv *key)
{
    for (int i = 0; i < n->nchildren; i++)
        if (rv_equal(n->children[i]->key, key))
            return n->children[i];
    return NULL;
}

static struct node *node_child_str(struct node *n, const char *key)
{
    for (int i = 0; i < n->nchildren; i++)
        if (n->children[i]->key->type == RV_STRING && strcmp(n->children[i]->key->u.str.s, key) == 0)
            return n->children[i];
    return NULL;
}

static struct node *pkg_node(struct cctx *c)
{
    struct node *n = c->r->root;
    for (int i = 0; c->m && n && i < c->m->npkg; i++)
        n = node_child(n, c->m->pkg[i]);
    return n;
}

static int resolve_slot(struct cctx *c, struct scope *s, const char *name, bool *found)
{
    *found = false;
    for (struct scope *x = s; x; x = x->parent) {
        int i = names_find(&x->declared, name);
        if (i >= 0) {
            if (x->declared.slot[i] < 0)
                x->declared.slot[i] = new_slot(c, name);
            *found = true;
            for (struct scope *y = s; y != x; y = y->parent)
                names_add(&y->captured, name), y->captured.slot[names_find(&y->captured, name)] = x->declared.slot[i];
            return x->declared.slot[i];
        }
    }
    return -1;
}

static int resolve_implicit(struct cctx *c, struct scope *s, const char *name)
{
    struct scope *outer = NULL;
    for (struct scope *x = s; x; x = x->parent)
        if (names_find(&x->implicit, name) >= 0)
            outer = x;
    if (!outer) {
        outer = s;
        names_add(&s->implicit, name);
    }
    int i = names_find(&outer->implicit, name);
    if (outer->implicit.slot[i] < 0)
        outer->implicit.slot[i] = new_slot(c, name);
    for (struct scope *y = s; y != outer; y = y->parent) {
        names_add(&y->captured, name);
        y->captured.slot[names_find(&y->captured, name)] = outer->implicit.slot[i];
    }
    return outer->implicit.slot[i];
}

static struct term *mk_value(struct rv *take, struct loc l)
{
    struct term *t = term_new(TK_VALUE, l);
    t->val = take;
    return t;
}

/* Replace ref t's head with the items of `prefix` (a ref or var term): data.x.y + t[1..]. */
static void ref_prepend(struct term *t, struct term *prefix)
{
    int np = prefix->kind == TK_REF ? prefix->nitems : 1;
    struct term **items = malloc(sizeof *items * (size_t)(np + t->nitems - 1));
    if (!items)
        REGO_OOM();
    struct term *head = term_new(TK_VAR, t->loc);
    head->name = strdup(prefix->kind == TK_REF ? prefix->items[0]->name : prefix->name);
    items[0] = head;
    for (int i = 1; i < np; i++)
        items[i] = mk_value(rv_incref(prefix->items[i]->val), t->loc);
    for (int i = 1; i < t->nitems; i++)
        items[np + i - 1] = t->items[i];
    term_free(t->items[0]);
    free(t->items);
    t->items = items;
    t->nitems = np + t->nitems - 1;
}

static int resolve_term(struct cctx *c, struct scope *s, struct term *t);
static int resolve_body(struct cctx *c, struct scope *s, struct body *b);

static const struct import *find_import(struct cctx *c, const char *name)
{
    for (int i = 0; c->m && i < c->m->nimports; i++) {
        const struct import *im = &c->m->imports[i];
        const char *alias = im->alias;
        if (!alias) {
            struct term *p = im->path;
            if (p->kind == TK_REF && p->items[p->nitems - 1]->kind == TK_VALUE &&
                p->items[p->nitems - 1]->val->type == RV_STRING)
                alias = p->items[p->nitems - 1]->val->u.str.s;
            else if (p->kind == TK_VAR)
                alias = p->name;
        }
        const char *root = im->path->kind == TK_REF ? im->path->items[0]->name : im->path->name;
        if (strcmp(root, "data") && strcmp(root, "input"))
            continue;
        if (alias && strcmp(alias, name) == 0)
            return im;
    }
    return NULL;
}

/* Turn a var term into a one-item ref (in place). */
static void var_to_ref(struct term *t)
{
    struct term *head = term_new(TK_VAR, t->loc);
    head->name = t->name;
    t->name = NULL;
    t->kind = TK_REF;
    t->items = malloc(sizeof *t->items);
    if (!t->items)
        REGO_OOM();
    t->items[0] = head;
    t->nitems = 1;
}

/* Resolve the head name of a ref (or a bare var) that is not local. Returns 1 when it
 * became a root ref (t is then a TK_REF), 0 when it is a local variable. */
static int resolve_root(struct cctx *c, struct scope *s, struct term *t, const char *name)
{
    bool found;
    int slot = resolve_slot(c, s, name, &found);
    if (found)
        return 0;
    (void)slot;
    if (strcmp(name, "input") == 0 || strcmp(name, "data") == 0) {
        if (t->kind == TK_VAR)
            var_to_ref(t);
        t->ref_head = strcmp(name, "input") == 0 ? RH_INPUT : RH_DATA;
        return 1;
    }
    const struct import *im = find_import(c, name);
    if (im) {
        if (t->kind == TK_VAR)
            var_to_ref(t);
        ref_prepend(t, im->path);
        t->ref_head = strcmp(t->items[0]->name, "input") == 0 ? RH_INPUT : RH_DATA;
        return 1;
    }
    struct node *pn = c->m ? pkg_node(c) : NULL;   /* queries have no package */
    if (pn && node_child_str(pn, name)) {
        if (t->kind == TK_VAR)
            var_to_ref(t);
        struct term *prefix = term_new(TK_REF, t->loc);
        struct term *d = term_new(TK_VAR, t->loc);
        d->name = strdup("data");
        prefix->items = malloc(sizeof *prefix->items * (size_t)(c->m->npkg + 2));
        if (!prefix->items)
            REGO_OOM();
        prefix->items[prefix->nitems++] = d;
        for (int i = 0; i < c->m->npkg; i++)
            prefix->items[prefix->nitems++] = mk_value(rv_incref(c->m->pkg[i]), t->loc);
        prefix->items[prefix->nitems++] = mk_value(rv_cstr(name), t->loc);
        ref_prepend(t, prefix);
        term_free(prefix);
        t->ref_head = RH_DATA;
        return 1;
    }
    return 0;
}

static char *dotted_name(struct term *f)
{
    if (f->kind == TK_VAR)
        return strdup(f->name);
    if (f->kind != TK_REF || f->items[0]->kind != TK_VAR)
        return NULL;
    struct sbuf b = { 0 };
    sb_puts(&b, f->items[0]->name);
    for (int i = 1; i < f->nitems; i++) {
        struct term *k = f->items[i];
        if (k->kind != TK_VALUE || k->val->type != RV_STRING) {
            free(b.s);
            return NULL;
        }
        sb_putc(&b, '.');
        sb_puts(&b, k->val->u.str.s);
    }
    return sb_steal(&b);
}

static struct node *node_at_data_path(struct node *root, struct term *ref, int from)
{
    struct node *n = root;
    for (int i = from; n && i < ref->nitems; i++) {
        struct term *k = ref->items[i];
        if (k->kind != TK_VALUE)
            return NULL;
        n = node_child(n, k->val);
    }
    return n;
}

/* Find the function (or builtin) a name refers to. */
static int resolve_function(struct cctx *c, struct scope *s, struct term *fterm, struct loc loc,
                            int *builtin, struct node **fn, char **fname)
{
    *builtin = -1;
    *fn = NULL;
    char *name = dotted_name(fterm);
    if (!name)
        return rego_err(c->err, "rego_type_error", &loc, "invalid function name");
    *fname = name;
    const char *first_end = strchr(name, '.');
    size_t flen = first_end ? (size_t)(first_end - name) : strlen(name);
    char first[256];
    snprintf(first, sizeof first, "%.*s", (int)(flen < 255 ? flen : 255), name);
    bool found;
    resolve_slot(c, s, first, &found);
    if (!found) {
        /* data.x.f, import alias, package function */
        struct term *copy = term_new(fterm->kind == TK_VAR ? TK_VAR : TK_REF, fterm->loc);
        if (fterm->kind == TK_VAR) {
            copy->name = strdup(fterm->name);
        } else {
            copy->items = malloc(sizeof *copy->items * (size_t)fterm->nitems);
            if (!copy->items)
                REGO_OOM();
            struct term *h = term_new(TK_VAR, fterm->loc);
            h->name = strdup(fterm->items[0]->name);
            copy->items[copy->nitems++] = h;
            for (int i = 1; i < fterm->nitems; i++)
                copy->items[copy->nitems++] = mk_value(rv_incref(fterm->items[i]->val), fterm->loc);
        }
        struct node *n = NULL;
        bool is_builtin_ns = rego_builtin_find(name) >= 0;
        if (!is_builtin_ns || strncmp(name, "data.", 5) == 0 || strcmp(first, "data") == 0) {
            if (resolve_root(c, s, copy, first) == 1 && copy->ref_head == RH_DATA)
                n = node_at_data_path(c->r->root, copy, 1);
        } else if (c->m) {
            /* a package function shadows nothing builtin; but a package
             * function with a builtin's name is its own */
            struct node *pn = pkg_node(c);
            if (pn) {
                struct node *x = pn;
                char *dup = strdup(name), *save = NULL;
                for (char *tok = strtok_r(dup, ".", &save); tok && x; tok = strtok_r(NULL, ".", &save))
                    x = node_child_str(x, tok);
                free(dup);
                if (x && x->kind == RULE_FUNC)
                    n = x;
            }
        }
        term_free(copy);
        if (n && n->kind == RULE_FUNC) {
            *fn = n;
            return 0;
        }
    }
    int b = rego_builtin_find(name);
    if (b >= 0) {
        *builtin = b;
        return 0;
    }
    return rego_err(c->err, "rego_type_error", &loc, "undefined function %s", name);
}

static int resolve_call(struct cctx *c, struct scope *s, struct term *t)
{
    int b;
    struct node *fn;
    char *fname = NULL;
    if (resolve_function(c, s, t->items[0], t->loc, &b, &fn, &fname) < 0) {
        free(fname);
        return -1;
    }
    t->fname = fname;
    int nargs = t->nitems - 1;
    if (fn) {
        t->call_kind = CALL_FUNCTION;
        t->fn = fn;
        if (nargs != fn->arity && nargs != fn->arity + 1)
            return rego_err(c->err, "rego_type_error", &t->loc,
                            "%s: arity mismatch: %d arguments given, function takes %d", fname, nargs,
                            fn->arity);
    } else {
        t->call_kind = CALL_BUILTIN;
        t->builtin = b;
        int ar = rego_builtins[b].arity;
        if (ar >= 0 && nargs != ar && nargs != ar + 1)
            return rego_err(c->err, "rego_type_error", &t->loc,
                            "%s: arity mismatch: %d arguments given, %s takes %d", fname, nargs, fname, ar);
    }
    for (int i = 1; i < t->nitems; i++)
        if (resolve_term(c, s, t->items[i]) < 0)
            return -1;
    return 0;
}

static int resolve_nested(struct cctx *c, struct scope *parent, struct term *t)
{
    struct scope s = { .parent = parent, .body = t->body };
    collect_body(&s, t->body);
    collect_term(&s, t->key);
    collect_term(&s, t->value);
    drop_later(&s);
    int rc = resolve_body(c, &s, t->body);
    if (rc == 0 && t->key)
        rc = resolve_term(c, &s, t->key);
    if (rc == 0 && t->value)
        rc = resolve_term(c, &s, t->value);
    if (rc == 0) {
        t->body->ncaptured = s.captured.n;
        t->body->captured = malloc(sizeof(int) * (size_t)(s.captured.n ? s.captured.n : 1));
        if (!t->body->captured)
            REGO_OOM();
        if (s.captured.n)
            memcpy(t->body->captured, s.captured.slot, sizeof(int) * (size_t)s.captured.n);
        /* captured names are also captured by the parent when it is nested */
    }
    names_free(&s.implicit);
    names_free(&s.declared);
    names_free(&s.later);
    names_free(&s.captured);
    return rc;
}

static int resolve_term(struct cctx *c, struct scope *s, struct term *t)
{
    if (!t)
        return 0;
    switch (t->kind) {
    case TK_VALUE:
        return 0;
    case TK_VAR:
        if (t->wildcard) {
            t->slot = resolve_implicit(c, s, t->name);
            return 0;
        }
        if (resolve_root(c, s, t, t->name) == 1)
            return resolve_term(c, s, t); /* now a ref */
        {
            bool found;
            int slot = resolve_slot(c, s, t->name, &found);
            t->slot = found ? slot : resolve_implicit(c, s, t->name);
        }
        return 0;
    case TK_REF: {
        struct term *h = t->items[0];
        if (t->ref_head == RH_UNRESOLVED) {
            if (h->kind == TK_VAR && !h->wildcard) {
                if (resolve_root(c, s, t, h->name) == 0) {
                    t->ref_head = RH_LOCAL;
                    if (resolve_term(c, s, t->items[0]) < 0)
                        return -1;
                }
            } else {
                t->ref_head = RH_TERM;
                if (resolve_term(c, s, h) < 0)
                    return -1;
            }
        }
        for (int i = 1; i < t->nitems; i++)
            if (resolve_term(c, s, t->items[i]) < 0)
                return -1;
        return 0;
    }
    case TK_CALL:
        return resolve_call(c, s, t);
    case TK_ACOMP:
    case TK_SCOMP:
    case TK_OCOMP:
        return resolve_nested(c, s, t);
    default:
        for (int i = 0; i < t->nitems; i++)
            if (resolve_term(c, s, t->items[i]) < 0)
                return -1;
        return 0;
    }
}

static int resolve_with(struct cctx *c, struct scope *s, struct with *w)
{
    struct term *tg = w->target;
    const char *root = tg->kind == TK_VAR ? tg->name : tg->items[0]->name;
    /* A rule of this package or an imported name stands for its reference
     * here as anywhere else (`with q as 1` is `with data.pkg.q as 1`), as
     * in OPA, which resolves these names before it looks at the target. */
    if (strcmp(root, "input") != 0 && strcmp(root, "data") != 0 && resolve_root(c, s, tg, root) == 1)
        root = tg->items[0]->name;
    if (strcmp(root, "input") == 0 || strcmp(root, "data") == 0) {
        w->kind = strcmp(root, "input") == 0 ? WITH_INPUT : WITH_DATA;
        int n = tg->kind == TK_REF ? tg->nitems - 1 : 0;
        w->path = malloc(sizeof *w->path * (size_t)(n ? n : 1));
        if (!w->path)
            REGO_OOM();
        for (int i = 0; i < n; i++) {
            struct term *k = tg->items[i + 1];
            if (k->kind != TK_VALUE)
                return rego_err(c->err, "rego_compile_error", &tg->loc,
                                "with keyword target must be a ground reference");
            w->path[w->npath++] = rv_incref(k->val);
        }
        /* `with data.x.f as ...` where data.x.f is a function: a function mock */
        if (w->kind == WITH_DATA) {
            struct node *fnode = c->r->root;
            for (int i = 0; fnode && i < w->npath; i++) {
                fnode = node_child(fnode, w->path[i]);
                /* a path into a rule's value (data.pkg.rule.key): refused
                 * as OPA refuses it, not a silent overlay of part of it */
                if (fnode && i + 1 < w->npath && (fnode->nrules || fnode->default_rule))
                    return rego_err(c->err, "rego_compile_error", &tg->loc,
                                    "with keyword cannot partially replace virtual document(s)");
            }
            if (fnode && fnode->kind == RULE_FUNC) {
                w->kind = WITH_FUNC;
                w->fn = fnode;
            }
        }
    } else {
        w->kind = WITH_FUNC;
        char *fname = NULL;
        int rc = resolve_function(c, s, tg, tg->loc, &w->builtin, &w->fn, &fname);
        free(fname);
        if (rc < 0)
            return rego_err(c->err, "rego_type_error", &tg->loc,
                            "with keyword target must reference existing input, data, or a function");
    }
    /* the replacement: a function name, or a value */
    struct term *v = w->value;
    if (w->kind == WITH_FUNC && (v->kind == TK_VAR || v->kind == TK_REF)) {
        int b;
        struct node *fn;
        char *fname = NULL;
        struct rego_error tmp;
        if (resolve_function(c, s, v, v->loc, &b, &fn, &fname) == 0) {
            /* mark: value is a function; keep the term as a call with no args */
            struct term *call = term_new(TK_CALL, v->loc);
            call->items = malloc(sizeof *call->items);
            if (!call->items)
                REGO_OOM();
            call->items[0] = v;
            call->nitems = 1;
            call->fname = fname;
            call->call_kind = fn ? CALL_FUNCTION : CALL_BUILTIN;
            call->fn = fn;
            call->builtin = b;
            w->value = call;
            return 0;
        }
        (void)tmp;
        free(fname);
        if (c->err)
            memset(c->err, 0, sizeof *c->err);
    }
    return resolve_term(c, s, w->value);
}

static int resolve_body(struct cctx *c, struct scope *s, struct body *b)
{
    for (int i = 0; b && i < b->n; i++) {
        struct expr *e = b->exprs[i];
        /* with values are evaluated outside the modified context */
        for (int j = 0; j < e->nwith; j++)
            if (resolve_with(c, s, &e->with[j]) < 0)
                return -1;
        switch (e->kind) {
        case EK_SOME:
            for (int j = 0; j < e->ndecl; j++) {
                names_add(&s->declared, e->decl[j]->name);
                if (resolve_term(c, s, e->decl[j]) < 0)
                    return -1;
            }
            break;
        case EK_SOME_IN:
            if (resolve_term(c, s, e->c) < 0)
                return -1;
            collect_decl_into(s, &s->declared, e->a);
            collect_decl_into(s, &s->declared, e->b);
            if (resolve_term(c, s, e->a) < 0 || resolve_term(c, s, e->b) < 0)
                return -1;
            break;
        case EK_ASSIGN: {
            if (resolve_term(c, s, e->b) < 0)
                return -1;
            struct names fresh = { 0 };
            collect_decl_into(s, &fresh, e->a);
            for (int j = 0; j < fresh.n; j++) {
                if (names_find(&s->declared, fresh.name[j]) >= 0) {
                    bool found = false;
                    (void)found;
                    int rc = rego_err(c->err, "rego_compile_error", &e->loc, "var %s assigned above",
                                      fresh.name[j]);
                    names_free(&fresh);
                    return rc;
                }
                int ref = names_find(&s->implicit, fresh.name[j]);
                if (ref >= 0 && s->implicit.slot[ref] >= 0) {
                    int rc = rego_err(c->err, "rego_compile_error", &e->loc, "var %s referenced above",
                                      fresh.name[j]);
                    names_free(&fresh);
                    return rc;
                }
                names_add(&s->declared, fresh.name[j]);
            }
            names_free(&fresh);
            if (resolve_term(c, s, e->a) < 0)
                return -1;
            break;
        }
        case EK_BODY:
        case EK_EVERY: {
            if (e->kind == EK_EVERY && resolve_term(c, s, e->c) < 0)
                return -1;
            struct scope in = { .parent = s, .body = e->body };
            if (e->a)
                names_add(&in.declared, e->a->name);
            if (e->b)
                names_add(&in.declared, e->b->name);
            collect_body(&in, e->body);
            drop_later(&in);
            int rc = 0;
            if (e->a)
                rc = resolve_term(c, &in, e->a);
            if (rc == 0 && e->b)
                rc = resolve_term(c, &in, e->b);
            if (rc == 0)
                rc = resolve_body(c, &in, e->body);
            if (rc == 0) {
                e->body->ncaptured = in.captured.n;
                e->body->captured = malloc(sizeof(int) * (size_t)(in.captured.n ? in.captured.n : 1));
                if (!e->body->captured)
                    REGO_OOM();
                if (in.captured.n)
                    memcpy(e->body->captured, in.captured.slot, sizeof(int) * (size_t)in.captured.n);
            }
            names_free(&in.implicit);
            names_free(&in.declared);
            names_free(&in.later);
            names_free(&in.captured);
            if (rc < 0)
                return -1;
            break;
        }
        default:
            if (resolve_term(c, s, e->a) < 0 || resolve_term(c, s, e->b) < 0 ||
                resolve_term(c, s, e->c) < 0)
                return -1;
        }
        /* f(x, out): a call with one extra argument unifies its last one */
        if (e->kind == EK_TERM && e->a->kind == TK_CALL) {
            struct term *call = e->a;
            int ar = call->call_kind == CALL_BUILTIN ? rego_builtins[call->builtin].arity : call->fn->arity;
            if (ar >= 0 && call->nitems - 1 == ar + 1) {   /* not for variadic print */
                e->kind = EK_UNIFY;
                e->b = call;
                e->a = call->items[--call->nitems];
            }
        }
        if (e->kind == EK_ASSIGN) {
            /* := declares: its left side must be variables or a pattern of them */
            struct term *a = e->a;
            if (a->kind != TK_VAR && a->kind != TK_ARRAY && a->kind != TK_OBJECT)
                return rego_err(c->err, "rego_parse_error", &e->loc,
                                "cannot assign to %s", a->kind == TK_REF ? "ref" : "term");
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ safety and order */

struct vset {
    int n;
    char *on;   /* nslots flags */
};

struct analysis {
    size_t nslots;
    char *safe;
    /* per expression scratch */
    char *need;
    char *out;
};

static void an_value(struct analysis *a, struct term *t);

static bool is_bound(struct analysis *a, int slot) { return a->safe[slot]; }

static void an_pattern(struct analysis *a, struct term *t)
{
    switch (t->kind) {
    case TK_VAR:
        if (t->slot >= 0 && !is_bound(a, t->slot))
            a->out[t->slot] = 1;
        return;
    case TK_ARRAY:
        for (int i = 0; i < t->nitems; i++)
            an_pattern(a, t->items[i]);
        return;
    case TK_OBJECT:
        for (int i = 0; i < t->nitems; i += 2) {
            an_value(a, t->items[i]);
            an_pattern(a, t->items[i + 1]);
        }
        return;
    default:
        an_value(a, t);
    }
}

static void an_captured(struct analysis *a, struct body *b)
{
    for (int i = 0; i < b->ncaptured; i++)
        if (!is_bound(a, b->captured[i]))
            a->need[b->captured[i]] = 1;
}

static void an_value(struct analysis *a, struct term *t)
{
    switch (t->kind) {
    case TK_VALUE:
        return;
    case TK_VAR:
        if (t->slot >= 0 && !is_bound(a, t->slot))
            a->need[t->slot] = 1;
        return;
    case TK_REF:
        if (t->ref_head == RH_LOCAL || t->ref_head == RH_TERM)
            an_value(a, t->items[0]);
        for (int i = 1; i < t->nitems; i++)
            an_pattern(a, t->items[i]);
        return;
    case TK_CALL:
        for (int i = 1; i < t->nitems; i++)
            an_value(a, t->items[i]);
        return;
    case TK_ACOMP:
    case TK_SCOMP:
    case TK_OCOMP:
        an_captured(a, t->body);
        return;
    default:
        for (int i = 0; i < t->nitems; i++)
            an_value(a, t->items[i]);
    }
}

static bool none_needed(struct analysis *a)
{
    for (size_t i = 0; i < a->nslots; i++)
        if (a->need[i])
            return false;
    return true;
}

static void an_clear(struct analysis *a)
{
    memset(a->need, 0, a->nslots);
    memset(a->out, 0, a->nslots);
}

/* Two object literals with the same constant keys unify value by value. */
struct term *obj_match(struct term *obj, struct term *key)
{
    for (int i = 0; i < obj->nitems; i += 2)
        if (obj->items[i]->kind == TK_VALUE && rv_equal(obj->items[i]->val, key->val))
            return obj->items[i + 1];
    return NULL;
}

bool obj_pairable(struct term *x, struct term *y)
{
    for (int i = 0; i < x->nitems; i += 2)
        if (x->items[i]->kind != TK_VALUE || !obj_match(y, x->items[i]))
            return false;
    return true;
}

/* Unification a = b: can it run, and what does it bind? Adds to a->out. */
static bool an_unify(struct analysis *a, struct term *x, struct term *y)
{
    if (x->kind == TK_ARRAY && y->kind == TK_ARRAY && x->nitems == y->nitems) {
        /* element by element, each seeing what the previous bound */
        char *saved = malloc(a->nslots + 1);
        if (!saved)
            REGO_OOM();
        memcpy(saved, a->safe, a->nslots);
        bool ok = true;
        for (int i = 0; i < x->nitems && ok; i++) {
            char *out_before = malloc(a->nslots + 1);
            if (!out_before)
                REGO_OOM();
            memcpy(out_before, a->out, a->nslots);
            ok = an_unify(a, x->items[i], y->items[i]);
            for (size_t j = 0; j < a->nslots; j++)
                if (a->out[j])
                    a->safe[j] = 1;
            free(out_before);
        }
        memcpy(a->safe, saved, a->nslots);
        free(saved);
        return ok;
    }
    if (x->kind == TK_OBJECT && y->kind == TK_OBJECT && x->nitems == y->nitems && obj_pairable(x, y)) {
        char *saved = malloc(a->nslots + 1);
        if (!saved)
            REGO_OOM();
        memcpy(saved, a->safe, a->nslots);
        bool ok = true;
        for (int i = 0; i < x->nitems && ok; i += 2) {
            struct term *yv = obj_match(y, x->items[i]);
            ok = an_unify(a, x->items[i + 1], yv);
            for (size_t j = 0; j < a->nslots; j++)
                if (a->out[j])
                    a->safe[j] = 1;
        }
        memcpy(a->safe, saved, a->nslots);
        free(saved);
        return ok;
    }
    for (int pass = 0; pass < 2; pass++) {
        struct term *pat = pass == 0 ? x : y, *val = pass == 0 ? y : x;
        char *need_saved = malloc(a->nslots + 1);
        char *out_saved = malloc(a->nslots + 1);
        if (!need_saved || !out_saved)
            REGO_OOM();
        memcpy(need_saved, a->need, a->nslots);
        memcpy(out_saved, a->out, a->nslots);
        memset(a->need, 0, a->nslots);
        an_value(a, val);
        bool ok = none_needed(a);
        if (ok) {
            an_pattern(a, pat);
            ok = none_needed(a);
        }
        if (ok) {
            for (size_t j = 0; j < a->nslots; j++)
                a->need[j] = need_saved[j];
            free(need_saved);
            free(out_saved);
            return true;
        }
        memcpy(a->need, need_saved, a->nslots);
        memcpy(a->out, out_saved, a->nslots);
        free(need_saved);
        free(out_saved);
    }
    /* report what the value side needs */
    an_value(a, y);
    an_value(a, x);
    return false;
}

/* Ready under a->safe? Fills a->out with the variables it binds. */
static bool an_expr(struct cctx *c, struct analysis *a, struct expr *e)
{
    an_clear(a);
    for (int j = 0; j < e->nwith; j++) {
        if (e->with[j].value->kind == TK_CALL && e->with[j].value->nitems == 1)
            continue;
        an_value(a, e->with[j].value);
    }
    if (!none_needed(a))
        return false;
    bool ok = true;
    switch (e->kind) {
    case EK_SOME:
        return true;
    case EK_TERM:
        an_value(a, e->a);
        ok = none_needed(a);
        break;
    case EK_UNIFY:
    case EK_ASSIGN:
        ok = an_unify(a, e->a, e->b) && none_needed(a);
        break;
    case EK_SOME_IN:
        an_value(a, e->c);
        if (e->a)
            an_pattern(a, e->a);
        an_pattern(a, e->b);
        ok = none_needed(a);
        break;
    case EK_BODY:
        an_captured(a, e->body);
        ok = none_needed(a);
        memset(a->out, 0, a->nslots);
        break;
    case EK_EVERY:
        an_value(a, e->c);
        an_captured(a, e->body);
        /* the every variables are bound inside */
        if (e->a && e->a->slot >= 0)
            a->need[e->a->slot] = 0;
        if (e->b->slot >= 0)
            a->need[e->b->slot] = 0;
        ok = none_needed(a);
        memset(a->out, 0, a->nslots);
        break;
    }
    if (ok && e->negated) {
        for (size_t i = 0; i < a->nslots; i++)
            if (a->out[i]) {   /* `_` too: OPA refuses `not p[_]` as unsafe */
                a->need[i] = 1;
                ok = false;
            }
        memset(a->out, 0, a->nslots);
    }
    return ok;
}

static struct loc find_var_loc(struct term *t, int slot, bool *found);

static struct loc find_var_loc_expr(struct expr *e, int slot, bool *found)
{
    struct term *ts[3] = { e->a, e->b, e->c };
    for (int i = 0; i < 3; i++) {
        if (!ts[i])
            continue;
        struct loc l = find_var_loc(ts[i], slot, found);
        if (*found)
            return l;
    }
    for (int i = 0; i < e->nwith; i++) {
        struct loc l = find_var_loc(e->with[i].value, slot, found);
        if (*found)
            return l;
    }
    for (int i = 0; e->body && i < e->body->n; i++) {
        struct loc l = find_var_loc_expr(e->body->exprs[i], slot, found);
        if (*found)
            return l;
    }
    return e->loc;
}

static struct loc find_var_loc(struct term *t, int slot, bool *found)
{
    struct loc none = { 0 };
    if (!t)
        return none;
    if (t->kind == TK_VAR && t->slot == slot) {
        *found = true;
        return t->loc;
    }
    for (int i = 0; i < t->nitems; i++) {
        struct loc l = find_var_loc(t->items[i], slot, found);
        if (*found)
            return l;
    }
    struct term *sub[2] = { t->key, t->value };
    for (int i = 0; i < 2; i++) {
        struct loc l = find_var_loc(sub[i], slot, found);
        if (*found)
            return l;
    }
    for (int i = 0; t->body && i < t->body->n; i++) {
        struct loc l = find_var_loc_expr(t->body->exprs[i], slot, found);
        if (*found)
            return l;
    }
    return none;
}

static int order_body(struct cctx *c, struct analysis *a, struct body *b);

static int order_nested_term(struct cctx *c, struct analysis *a, struct term *t);

static int order_nested_expr(struct cctx *c, struct analysis *a, struct expr *e)
{
    struct term *ts[3] = { e->a, e->b, e->c };
    for (int i = 0; i < 3; i++)
        if (ts[i] && order_nested_term(c, a, ts[i]) < 0)
            return -1;
    for (int i = 0; i < e->nwith; i++)
        if (order_nested_term(c, a, e->with[i].value) < 0)
            return -1;
    if (e->kind == EK_EVERY || e->kind == EK_BODY) {
        char *saved = malloc(a->nslots + 1);
        if (!saved)
            REGO_OOM();
        memcpy(saved, a->safe, a->nslots);
        for (int i = 0; i < e->body->ncaptured; i++)
            a->safe[e->body->captured[i]] = 1;
        if (e->a && e->a->slot >= 0)
            a->safe[e->a->slot] = 1;
        if (e->b)
            a->safe[e->b->slot] = 1;
        int rc = order_body(c, a, e->body);
        memcpy(a->safe, saved, a->nslots);
        free(saved);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Comprehensions inside a term: order their bodies, outer variables bound. */
static int order_nested_term(struct cctx *c, struct analysis *a, struct term *t)
{
    if (!t)
        return 0;
    if (t->kind == TK_ACOMP || t->kind == TK_SCOMP || t->kind == TK_OCOMP) {
        char *saved = malloc(a->nslots + 1);
        if (!saved)
            REGO_OOM();
        memcpy(saved, a->safe, a->nslots);
        for (int i = 0; i < t->body->ncaptured; i++)
            a->safe[t->body->captured[i]] = 1;
        int rc = order_body(c, a, t->body);
        if (rc == 0) {
            /* the head must be safe after the body */
            an_clear(a);
            if (t->key)
                an_value(a, t->key);
            an_value(a, t->value);
            for (size_t i = 0; i < a->nslots && rc == 0; i++)
                if (a->need[i]) {
                    bool found = false;
                    struct loc l = find_var_loc(t->key, i, &found);
                    if (!found)
                        l = find_var_loc(t->value, i, &found);
                    rc = rego_err(c->err, "rego_unsafe_var_error", &l, "var %s is unsafe",
                                  c->slot_names[i]);
                }
        }
        memcpy(a->safe, saved, a->nslots);
        free(saved);
        return rc;
    }
    for (int i = 0; i < t->nitems; i++)
        if (order_nested_term(c, a, t->items[i]) < 0)
            return -1;
    return 0;
}

/* Reorder b so every expression runs with its inputs bound; a->safe is
 * updated to what the body binds. */
/* OPA's compiler moves parts of a negated expression out of the negation:
 * nested calls (rewriteExprTerms) and the references among a call's
 * arguments or inside another reference's path (rewriteDynamicTerms), so
 * `not f(input.x)` runs as `__local0__ = input.x; not f(__local0__)` and
 * fails, instead of succeeding, when input.x is undefined. The parts are
 * recorded here; the evaluator requires each to be defined before it
 * evaluates the negation (eval.c, eval_expr_neg). */
static void hoist_push(struct expr *e, struct term *t)
{
    struct term **h = realloc(e->hoist, sizeof *h * (size_t)(e->nhoist + 1));
    if (!h)
        REGO_OOM();
    e->hoist = h;
    e->hoist[e->nhoist++] = t;
}

/* A call's argument: references and calls move out, composites are searched. */
static void hoist_operand(struct expr *e, struct term *t)
{
    if (!t)
        return;
    switch (t->kind) {
    case TK_REF:
    case TK_CALL:
        hoist_push(e, t);
        break;
    case TK_ARRAY:
    case TK_SET:
    case TK_OBJECT:
        for (int i = 0; i < t->nitems; i++)
            hoist_operand(e, t->items[i]);
        break;
    default:
        break;
    }
}

/* A term on its own or a side of `=`: a call moves out; a reference stays
 * but the references and calls in its path move out. */
static void hoist_side(struct expr *e, struct term *t)
{
    if (!t)
        return;
    switch (t->kind) {
    case TK_CALL:
        hoist_push(e, t);
        break;
    case TK_REF:
        if (t->nitems && t->items[0]->kind == TK_CALL)
            hoist_push(e, t->items[0]);
        for (int i = 1; i < t->nitems; i++)
            hoist_operand(e, t->items[i]);
        break;
    default: /* composites are searched as a call's argument is */
        hoist_operand(e, t);
        break;
    }
}

static void hoist_negated(struct cctx *c, struct expr *e)
{
    free(e->hoist);
    e->hoist = NULL;
    e->nhoist = 0;
    if (!e->negated || e->not_body)
        return;
    /* in modules, OPA rewrites `a == b` as `a = b` first (rewriteEquals) */
    struct term *t = e->kind == EK_TERM ? e->a : NULL;
    if (c->m && t && t->kind == TK_CALL && t->call_kind == CALL_BUILTIN && t->nitems == 3 &&
        t->builtin == rego_builtin_find("equal")) {
        hoist_side(e, t->items[1]);
        hoist_side(e, t->items[2]);
    } else if (e->kind == EK_TERM && e->a && e->a->kind == TK_CALL) {
        for (int i = 1; i < e->a->nitems; i++)
            hoist_operand(e, e->a->items[i]);
    } else if (e->kind == EK_TERM) {
        hoist_side(e, e->a);
    } else if (e->kind == EK_UNIFY) {
        hoist_side(e, e->a);
        hoist_side(e, e->b);
    }
}

static int order_body(struct cctx *c, struct analysis *a, struct body *b)
{
    int n = b->n;
    struct expr **ordered = malloc(sizeof *ordered * (size_t)(n ? n : 1));
    char *done = calloc((size_t)(n ? n : 1), 1);
    if (!ordered || !done)
        REGO_OOM();
    /* OPA's order: sweep the body, taking every expression that can run
     * (with what the ones taken before it bind), then sweep again */
    int k = 0, pick = -1;
    while (k < n) {
        int from = pick + 1;
        pick = -1;
        for (int i = from; i < n; i++) {
            if (done[i])
                continue;
            if (an_expr(c, a, b->exprs[i])) {
                pick = i;
                break;
            }
        }
        if (pick < 0 && from > 0)
            continue;   /* the end of a sweep: the next one */
        if (pick < 0) {
            /* the first expression that cannot run names its unsafe variable */
            for (int i = 0; i < n; i++) {
                if (done[i])
                    continue;
                an_expr(c, a, b->exprs[i]);
                for (size_t s = 0; s < a->nslots; s++) {
                    if (!a->need[s])
                        continue;
                    bool found = false;
                    struct loc l = find_var_loc_expr(b->exprs[i], s, &found);
                    int rc = rego_err(c->err, "rego_unsafe_var_error", &l, "var %s is unsafe",
                                      c->slot_names[s][0] == '$' ? "_" : c->slot_names[s]);
                    free(ordered);
                    free(done);
                    return rc;
                }
                break;
            }
            free(ordered);
            free(done);
            return rego_err(c->err, "rego_unsafe_var_error", &b->exprs[0]->loc, "expression is unsafe");
        }
        done[pick] = 1;
        ordered[k++] = b->exprs[pick];
        struct expr *e = b->exprs[pick];
        char *outs = malloc(a->nslots + 1);
        if (!outs)
            REGO_OOM();
        memcpy(outs, a->out, a->nslots);
        if (order_nested_expr(c, a, e) < 0) {
            free(outs);
            free(ordered);
            free(done);
            return -1;
        }
        for (size_t s = 0; s < a->nslots; s++)
            if (outs[s])
                a->safe[s] = 1;
        free(outs);
    }
    memcpy(b->exprs, ordered, sizeof *ordered * (size_t)n);
    free(ordered);
    free(done);
    for (int i = 0; i < n; i++)
        hoist_negated(c, b->exprs[i]);
    return 0;
}

static void analysis_init(struct analysis *a, size_t nslots)
{
    a->nslots = nslots;
    a->safe = calloc(nslots + 1, 1);
    a->need = calloc(nslots + 1, 1);
    a->out = calloc(nslots + 1, 1);
    if (!a->safe || !a->need || !a->out)
        REGO_OOM();
}

static void analysis_free(struct analysis *a)
{
    free(a->safe);
    free(a->need);
    free(a->out);
}

static int check_head_safe(struct cctx *c, struct analysis *a, struct term *t)
{
    if (!t)
        return 0;
    an_clear(a);
    an_value(a, t);
    for (size_t i = 0; i < a->nslots; i++)
        if (a->need[i]) {
            bool found = false;
            struct loc l = find_var_loc(t, i, &found);
            return rego_err(c->err, "rego_unsafe_var_error", &l, "var %s is unsafe", c->slot_names[i]);
        }
    return order_nested_term(c, a, t);
}

/* ------------------------------------------------------------------ rules */

static int compile_rule(struct rego *r, struct rule *rule, struct rego_error *err)
{
    struct cctx c = { .r = r, .m = rule->module, .err = err };
    struct scope top = { 0 };
    int rc = 0;
    for (int i = 0; i < rule->nargs; i++)
        collect_decl_into(&top, &top.declared, rule->args[i]);
    for (struct rule *x = rule; x; x = x->els) {
        collect_body(&top, x->body);
        collect_term(&top, x->value);
    }
    collect_term(&top, rule->key);
    for (int i = 0; i < rule->nsuffix; i++)
        collect_term(&top, rule->suffix[i]);
    drop_later(&top);
    for (int i = 0; i < rule->nargs && rc == 0; i++)
        rc = resolve_term(&c, &top, rule->args[i]);
    int nargs_declared = top.declared.n;
    for (struct rule *x = rule; x && rc == 0; x = x->els) {
        while (top.declared.n > nargs_declared)
            free(top.declared.name[--top.declared.n]);
        rc = resolve_body(&c, &top, x->body);
        if (rc == 0)
            rc = resolve_term(&c, &top, x->value);
    }
    if (rc == 0)
        rc = resolve_term(&c, &top, rule->key);
    for (int i = 0; i < rule->nsuffix && rc == 0; i++)
        rc = resolve_term(&c, &top, rule->suffix[i]);
    names_free(&top.implicit);
    names_free(&top.declared);
    names_free(&top.later);
    names_free(&top.captured);
    if (rc < 0)
        goto out;
    {
        struct analysis a;
        analysis_init(&a, (size_t)c.nslots);
        for (struct rule *x = rule; x && rc == 0; x = x->els) {
            memset(a.safe, 0, (size_t)c.nslots);
            for (int i = 0; i < rule->nargs; i++) {
                an_clear(&a);
                an_pattern(&a, rule->args[i]);
                for (int s = 0; s < c.nslots; s++)
                    if (a.out[s])
                        a.safe[s] = 1;
                if (!none_needed(&a)) {
                    for (int s = 0; s < c.nslots; s++)
                        if (a.need[s]) {
                            rc = rego_err(err, "rego_unsafe_var_error", &rule->args[i]->loc,
                                          "var %s is unsafe", c.slot_names[s]);
                            break;
                        }
                }
            }
            if (rc == 0 && x->body)
                rc = order_body(&c, &a, x->body);
            if (rc == 0)
                rc = check_head_safe(&c, &a, x->value);
            if (rc == 0 && x == rule) {
                rc = check_head_safe(&c, &a, rule->key);
                for (int i = 0; i < rule->nsuffix && rc == 0; i++)
                    rc = check_head_safe(&c, &a, rule->suffix[i]);
            }
        }
        analysis_free(&a);
    }
out:
    for (struct rule *x = rule; x; x = x->els)
        x->nslots = c.nslots;
    rule->slot_names = c.slot_names;
    return rc;
}

static void mark_query_body(struct rego *r, struct body *b);

int rego_compile_query(struct rego *r, struct body *body, struct query_info *qi,
                       struct rego_error *err)
{
    struct cctx c = { .r = r, .m = NULL, .err = err };
    struct scope top = { 0 };
    collect_body(&top, body);
    drop_later(&top);
    int rc = resolve_body(&c, &top, body);
    names_free(&top.implicit);
    names_free(&top.declared);
    names_free(&top.later);
    names_free(&top.captured);
    qi->orig = malloc(sizeof *qi->orig * (size_t)(body->n ? body->n : 1));
    if (!qi->orig)
        REGO_OOM();
    memcpy(qi->orig, body->exprs, sizeof *qi->orig * (size_t)body->n);
    qi->norig = body->n;
    if (rc == 0) {
        struct analysis a;
        analysis_init(&a, (size_t)c.nslots);
        rc = order_body(&c, &a, body);
        analysis_free(&a);
    }
    if (rc == 0)
        rc = rego_typecheck_query(r, body, c.nslots, err);
    if (rc == 0)
        mark_query_body(r, body);
    qi->body = body;
    qi->nslots = c.nslots;
    qi->slot_names = c.slot_names;
    return rc;
}

/* ------------------------------------------------------------------ the rule tree */

static struct node *node_new(struct rego *r, struct node *parent, struct rv *key)
{
    struct node *n = calloc(1, sizeof *n);
    if (!n)
        REGO_OOM();
    n->key = key;
    n->parent = parent;
    n->kind = -1;
    n->id = r->nnodes;
    r->nodes = realloc(r->nodes, sizeof *r->nodes * (size_t)(r->nnodes + 1));
    if (!r->nodes)
        REGO_OOM();
    r->nodes[r->nnodes++] = n;
    struct sbuf b = { 0 };
    if (!parent) {
        sb_puts(&b, "data");
    } else {
        sb_puts(&b, parent->path_str);
        if (key->type == RV_STRING) {
            sb_putc(&b, '.');
            sb_add(&b, key->u.str.s, key->u.str.len);
        } else {
            sb_putc(&b, '[');
            rv_write(&b, key, false);
            sb_putc(&b, ']');
        }
    }
    n->path_str = sb_steal(&b);
    return n;
}

static int node_key_cmp(const void *a, const void *b)
{
    return rv_compare((*(struct node *const *)a)->key, (*(struct node *const *)b)->key);
}

static struct node *node_get(struct rego *r, struct node *n, struct rv *key)
{
    struct node *ch = node_child(n, key);
    if (ch)
        return ch;
    ch = node_new(r, n, rv_incref(key));
    n->children = realloc(n->children, sizeof *n->children * (size_t)(n->nchildren + 1));
    if (!n->children)
        REGO_OOM();
    n->children[n->nchildren++] = ch;
    qsort(n->children, (size_t)n->nchildren, sizeof *n->children, node_key_cmp);
    return ch;
}

static int place_rule(struct rego *r, struct rule *rule, struct rego_error *err)
{
    struct module *m = rule->module;
    struct term *h = rule->head;
    int nh = h->kind == TK_REF ? h->nitems : 1;
    rule->path = malloc(sizeof *rule->path * (size_t)(m->npkg + nh));
    if (!rule->path)
        REGO_OOM();
    for (int i = 0; i < m->npkg; i++)
        rule->path[rule->npath++] = rv_incref(m->pkg[i]);
    const char *first = h->kind == TK_REF ? h->items[0]->name : h->name;
    if (h->kind == TK_REF && h->items[0]->kind != TK_VAR)
        return rego_err(err, "rego_parse_error", &rule->loc, "invalid rule head");
    rule->path[rule->npath++] = rv_cstr(first);
    int i = 1;
    for (; h->kind == TK_REF && i < h->nitems; i++) {
        struct term *k = h->items[i];
        if (k->kind != TK_VALUE || k->val->type != RV_STRING)
            break;
        rule->path[rule->npath++] = rv_incref(k->val);
    }
    if (h->kind == TK_REF && i < h->nitems) {
        if (rule->kind == RULE_FUNC)
            return rego_err(err, "rego_parse_error", &rule->loc, "function name must be a simple reference");
        /* a.b[x] contains y: an object whose leaves are sets */
        if (rule->kind == RULE_SET)
            rule->multi = true;
        rule->kind = RULE_OBJECT;
        rule->nsuffix = h->nitems - i;
        rule->suffix = malloc(sizeof *rule->suffix * (size_t)rule->nsuffix);
        if (!rule->suffix)
            REGO_OOM();
        for (int j = i; j < h->nitems; j++)
            rule->suffix[j - i] = h->items[j];
        for (struct rule *e = rule->els; e; e = e->els)
            e->kind = RULE_OBJECT;
    }
    if (rule->is_default && rule->kind == RULE_OBJECT)
        return rego_err(err, "rego_compile_error", &rule->loc,
                        "default rules must not have a variable in the head reference");
    struct node *n = r->root;
    for (int j = 0; j < rule->npath; j++)
        n = node_get(r, n, rule->path[j]);
    if (rule->is_default) {
        if (n->default_rule)
            return rego_err(err, "rego_type_error", &rule->loc, "multiple default rules %s found",
                            n->path_str);
        n->default_rule = rule;
        if (rule->kind == RULE_FUNC)
            n->arity = rule->nargs;
    } else {
        n->rules = realloc(n->rules, sizeof *n->rules * (size_t)(n->nrules + 1));
        if (!n->rules)
            REGO_OOM();
        n->rules[n->nrules++] = rule;
    }
    if (n->kind >= 0 && (n->kind != rule->kind || (n->nrules > 1 && n->rules[0]->multi != rule->multi)))
        return rego_err(err, "rego_type_error", &rule->loc, "conflicting rules %s found", n->path_str);
    if (rule->kind == RULE_FUNC) {
        if (n->kind == RULE_FUNC && n->arity != rule->nargs)
            return rego_err(err, "rego_type_error", &rule->loc,
                            "conflicting rules %s found: functions must have the same arity", n->path_str);
        n->arity = rule->nargs;
    }
    n->kind = rule->kind;
    return 0;
}

/* Nodes a term refers to, for the recursion check. */
static void deps_term(struct rego *r, struct term *t, struct node ***out, int *n);

static void dep_add(struct node ***out, int *n, struct node *x);

/* What a `with` replaces is a dependency too (as in OPA): a rule that
 * replaces itself, or data.pkg that holds it, is recursive. */
static void deps_with_target(struct rego *r, const struct with *w, struct node ***out, int *n)
{
    if (w->kind == WITH_FUNC) {
        if (w->fn)
            dep_add(out, n, w->fn);
        return;
    }
    if (w->kind != WITH_DATA)
        return;
    struct node *x = r->root;
    for (int i = 0; x && i < w->npath; i++) {
        x = node_child(x, w->path[i]);   /* NULL: base data only, no rule */
        if (x && (x->nrules || x->default_rule))
            break;
    }
    if (x)
        dep_add(out, n, x);
}

static void deps_body(struct rego *r, struct body *b, struct node ***out, int *n)
{
    for (int i = 0; b && i < b->n; i++) {
        struct expr *e = b->exprs[i];
        deps_term(r, e->a, out, n);
        deps_term(r, e->b, out, n);
        deps_term(r, e->c, out, n);
        deps_body(r, e->body, out, n);
        for (int j = 0; j < e->nwith; j++) {
            deps_with_target(r, &e->with[j], out, n);
            deps_term(r, e->with[j].value, out, n);
        }
    }
}

static void dep_add(struct node ***out, int *n, struct node *x)
{
    *out = realloc(*out, sizeof **out * (size_t)(*n + 1));
    if (!*out)
        REGO_OOM();
    (*out)[(*n)++] = x;
}

static void deps_term(struct rego *r, struct term *t, struct node ***out, int *n)
{
    if (!t)
        return;
    if (t->kind == TK_REF && t->ref_head == RH_DATA) {
        struct node *x = r->root;
        for (int i = 1; x && i < t->nitems; i++) {
            struct term *k = t->items[i];
            if (k->kind != TK_VALUE)
                break;
            x = node_child(x, k->val);   /* NULL: base data only, no rule */
            if (x && (x->nrules || x->default_rule))
                break;
        }
        if (x)
            dep_add(out, n, x);
    }
    if (t->kind == TK_CALL && t->call_kind == CALL_FUNCTION)
        dep_add(out, n, t->fn);
    for (int i = 0; i < t->nitems; i++)
        deps_term(r, t->items[i], out, n);
    deps_term(r, t->key, out, n);
    deps_term(r, t->value, out, n);
    deps_body(r, t->body, out, n);
}

static void deps_rule(struct rego *r, struct rule *rule, struct node ***out, int *n)
{
    for (struct rule *x = rule; x; x = x->els) {
        deps_body(r, x->body, out, n);
        deps_term(r, x->value, out, n);
    }
    deps_term(r, rule->key, out, n);
    for (int i = 0; i < rule->nargs; i++)
        deps_term(r, rule->args[i], out, n);
    for (int i = 0; i < rule->nsuffix; i++)
        deps_term(r, rule->suffix[i], out, n);
}

/* DFS; mark 1 = on stack, 2 = done. */
static int visit(struct rego *r, struct node *n, struct node **stack, int depth, struct rego_error *err);

static int visit_deps(struct rego *r, struct node *n, struct node **stack, int depth, struct rego_error *err)
{
    /* a node's value includes its rules and everything below it */
    struct node **deps = NULL;
    int nd = 0;
    for (int i = 0; i < n->nrules; i++)
        deps_rule(r, n->rules[i], &deps, &nd);
    if (n->default_rule)
        deps_rule(r, n->default_rule, &deps, &nd);
    for (int i = 0; i < n->nchildren; i++)
        dep_add(&deps, &nd, n->children[i]);
    int rc = 0;
    for (int i = 0; i < nd && rc == 0; i++)
        rc = visit(r, deps[i], stack, depth, err);
    free(deps);
    return rc;
}

static int visit(struct rego *r, struct node *n, struct node **stack, int depth, struct rego_error *err)
{
    if (n->mark == 2)
        return 0;
    if (n->mark == 1) {
        struct sbuf b = { 0 };
        int start = depth - 1;
        while (start > 0 && stack[start] != n)
            start--;
        for (int i = start; i < depth; i++) {
            sb_puts(&b, stack[i]->path_str);
            sb_puts(&b, " -> ");
        }
        sb_puts(&b, n->path_str);
        struct loc l = { 0 };
        if (n->nrules)
            l = n->rules[0]->loc;
        int rc = rego_err(err, "rego_recursion_error", n->nrules ? &l : NULL, "rule %s is recursive: %s",
                          n->path_str, b.s);
        free(b.s);
        return rc;
    }
    if (depth >= 10000)
        return rego_err(err, "rego_recursion_error", NULL, "rule dependencies too deep");
    n->mark = 1;
    stack[depth] = n;
    int rc = visit_deps(r, n, stack, depth + 1, err);
    n->mark = 2;
    return rc;
}

static int check_recursion(struct rego *r, struct rego_error *err)
{
    struct node **stack = malloc(sizeof *stack * 10001);
    if (!stack)
        REGO_OOM();
    for (int i = 0; i < r->nnodes; i++)
        r->nodes[i]->mark = 0;
    int rc = 0;
    /* Only rule nodes: the root's value depends on everything by definition. */
    for (int i = 0; i < r->nnodes && rc == 0; i++)
        if (r->nodes[i]->nrules || r->nodes[i]->default_rule)
            rc = visit(r, r->nodes[i], stack, 0, err);
    free(stack);
    return rc;
}

/* ------------------------------------------------------------------ freezing */

static void freeze_body(struct body *b, struct rego *r);

/* A data reference whose leading constant keys lead to a node with rules
 * (data.pkg.rule...) remembers that node, so evaluation starts there
 * instead of walking the rule tree key by key (unless `with data...`
 * overlays are active, which the walk has to see). */
static void resolve_data_ref(struct rego *r, struct term *t)
{
    if (t->kind != TK_REF || t->ref_head != RH_DATA || !r->root)
        return;
    struct node *n = r->root;
    for (int i = 1; i < t->nitems && t->items[i]->kind == TK_VALUE; i++) {
        struct node *ch = NULL;
        for (int j = 0; j < n->nchildren; j++)
            if (rv_equal(n->children[j]->key, t->items[i]->val)) {
                ch = n->children[j];
                break;
            }
        if (!ch)
            return;
        n = ch;
        if (n->nrules || n->default_rule) {
            if (n->kind != RULE_FUNC) {
                t->dnode = n;
                t->dnext = i + 1;
            }
            return;
        }
    }
}

/* Constant folding: an array, set or object literal whose items are all
 * constants becomes one constant, built once here instead of on every
 * evaluation. A key written twice keeps its last value, as in OPA. */
static void fold_term(struct term *t)
{
    if (!t || (t->kind != TK_ARRAY && t->kind != TK_SET && t->kind != TK_OBJECT))
        return;
    for (int i = 0; i < t->nitems; i++) {
        fold_term(t->items[i]);
        if (t->items[i]->kind != TK_VALUE)
            return;
    }
    struct rv *v = NULL;
    struct rego_error ignored;
    if (rego_term_constant(t, &v, &ignored) < 0 || !v)
        return;
    for (int i = 0; i < t->nitems; i++)
        term_free(t->items[i]);
    free(t->items);
    t->items = NULL;
    t->nitems = 0;
    t->kind = TK_VALUE;
    t->ground = true;
    t->val = v;
}

/* A key inside a reference that is computed, not enumerated: a reference
 * or a call of one value, or a comprehension (a variable there may be
 * unbound and enumerate the keys). */
static bool single_key(const struct term *t)
{
    return t->kind == TK_VALUE ||
           (t->single && t->kind != TK_VAR && t->kind != TK_ARRAY && t->kind != TK_SET && t->kind != TK_OBJECT);
}

/* Whether t has at most one value and binds nothing, so that the evaluator
 * may compute it directly instead of through continuations (its children
 * are marked already). A variable is single where it is read as a value
 * (unbound there, it is an error either way); a key of a reference must be
 * single_key; `walk` is the one builtin with several results. */
static bool term_single(const struct term *t)
{
    int from = 1;
    switch (t->kind) {
    case TK_VALUE:
    case TK_VAR:
    case TK_ACOMP:
    case TK_SCOMP:
    case TK_OCOMP:
        return true;
    case TK_ARRAY:
    case TK_SET:
    case TK_OBJECT:
        for (int i = 0; i < t->nitems; i++)
            if (!t->items[i]->single)
                return false;
        return true;
    case TK_CALL:
        if (!(t->call_kind == CALL_FUNCTION || (t->call_kind == CALL_BUILTIN && t->builtin != rego_builtin_find("walk"))))
            return false;
        for (int i = 1; i < t->nitems; i++)
            if (!t->items[i]->single)
                return false;
        return true;
    case TK_REF:
        if (t->nitems < 1)
            return false;
        switch (t->ref_head) {
        case RH_INPUT:
        case RH_LOCAL:
            break;
        case RH_DATA:
            if (!t->dnode)
                return false;
            from = t->dnext;
            break;
        case RH_TERM:
            if (!t->items[0]->single || t->items[0]->kind == TK_VAR)
                return false;
            break;
        default:
            return false;
        }
        for (int i = from; i < t->nitems; i++)
            if (!single_key(t->items[i]))
                return false;
        return true;
    }
    return false;
}

/* A query's terms: data references resolved to their rule nodes and terms
 * of one value marked, as freeze_term does for rules (the values stay the
 * query's own: not frozen, not folded). */
static void mark_query_term(struct rego *r, struct term *t)
{
    if (!t)
        return;
    resolve_data_ref(r, t);
    for (int i = 0; i < t->nitems; i++)
        mark_query_term(r, t->items[i]);
    mark_query_term(r, t->key);
    mark_query_term(r, t->value);
    mark_query_body(r, t->body);
    t->single = term_single(t);
}

static void mark_query_body(struct rego *r, struct body *b)
{
    for (int i = 0; b && i < b->n; i++) {
        struct expr *e = b->exprs[i];
        mark_query_term(r, e->a);
        mark_query_term(r, e->b);
        mark_query_term(r, e->c);
        mark_query_body(r, e->body);
        for (int j = 0; j < e->nwith; j++)
            mark_query_term(r, e->with[j].value);
    }
}

static void freeze_term(struct term *t, struct rego *r)
{
    if (!t)
        return;
    struct rv_frozen *f = &r->frozen;
    fold_term(t);
    resolve_data_ref(r, t);
    rv_freeze(t->val, f);
    for (int i = 0; i < t->nitems; i++)
        freeze_term(t->items[i], r);
    freeze_term(t->key, r);
    freeze_term(t->value, r);
    freeze_body(t->body, r);
    t->single = term_single(t);
}

/* Terms whose shape matters beyond their value (rule heads, `with` targets,
 * imports, declarations): frozen, never folded. */
static void freeze_term_nofold(struct term *t, struct rego *r)
{
    if (!t)
        return;
    struct rv_frozen *f = &r->frozen;
    rv_freeze(t->val, f);
    for (int i = 0; i < t->nitems; i++)
        freeze_term_nofold(t->items[i], r);
    freeze_term_nofold(t->key, r);
    freeze_term_nofold(t->value, r);
    freeze_body(t->body, r);
}

static void freeze_body(struct body *b, struct rego *r)
{
    struct rv_frozen *f = &r->frozen;
    for (int i = 0; b && i < b->n; i++) {
        struct expr *e = b->exprs[i];
        freeze_term(e->a, r);
        freeze_term(e->b, r);
        freeze_term(e->c, r);
        freeze_body(e->body, r);
        for (int j = 0; j < e->nwith; j++) {
            freeze_term_nofold(e->with[j].target, r);
            freeze_term(e->with[j].value, r);
            for (int k = 0; k < e->with[j].npath; k++)
                rv_freeze(e->with[j].path[k], f);
        }
        for (int j = 0; j < e->ndecl; j++)
            freeze_term_nofold(e->decl[j], r);
    }
}

/* A constant path below input: input.a.b with constant keys. */
static bool input_path(const struct term *t)
{
    if (t->kind != TK_REF || t->ref_head != RH_INPUT)
        return false;
    for (int i = 1; i < t->nitems; i++)
        if (t->items[i]->kind != TK_VALUE)
            return false;
    return true;
}

/* Rule indexing: a rule without else whose first expression is
 * input.path == constant, constant == input.path, input.path = constant or
 * input.path in {constant set} records the test, and the evaluator skips
 * the rule when the input does not pass it (the expression would fail, so
 * the body has no solution). */
static void index_rule(struct rule *x)
{
    int b_equal = rego_builtin_find("equal"), b_member = rego_builtin_find("internal.member_2");
    if (x->els || x->is_default || x->kind == RULE_FUNC || !x->body || x->body->n == 0)
        return;
    struct expr *e = x->body->exprs[0];
    if (e->negated || e->nwith)
        return;
    struct term *a = NULL, *b = NULL;
    bool member = false;
    if (e->kind == EK_UNIFY) {
        a = e->a;
        b = e->b;
    } else if (e->kind == EK_TERM && e->a && e->a->kind == TK_CALL && e->a->call_kind == CALL_BUILTIN &&
               e->a->nitems == 3 && (e->a->builtin == b_equal || e->a->builtin == b_member)) {
        a = e->a->items[1];
        b = e->a->items[2];
        member = e->a->builtin == b_member;
    } else {
        return;
    }
    if (!a || !b)
        return;
    if (!member && input_path(b) && a->kind == TK_VALUE) {
        struct term *t = a;
        a = b;
        b = t;
    }
    if (!input_path(a) || b->kind != TK_VALUE)
        return;
    if (member && b->val->type != RV_SET)
        return;
    x->idx_ref = a;
    x->idx_val = b->val;
    x->idx_member = member;
}

static bool same_input_path(const struct term *a, const struct term *b)
{
    if (a->nitems != b->nitems)
        return false;
    for (int i = 1; i < a->nitems; i++)
        if (!rv_equal(a->items[i]->val, b->items[i]->val))
            return false;
    return true;
}

/* Whether rule i of n is indexed by equality on path p. */
static bool eq_indexed(const struct node *n, int i, const struct term *p)
{
    const struct rule *x = n->rules[i];
    return x->idx_ref && !x->idx_member && same_input_path(x->idx_ref, p);
}

static int *xints(size_t n)
{
    int *v = malloc(n * sizeof *v);
    if (!v)
        REGO_OOM();
    return v;
}

static int rvp_cmp(const void *a, const void *b)
{
    return rv_compare(*(struct rv *const *)a, *(struct rv *const *)b);
}

/* The node index (see struct node): on the input path that most of the
 * node's rules test for equality, when at least two do. */
static void index_node(struct node *n)
{
    if (n->kind == RULE_FUNC || n->nrules < 2)
        return;
    const struct term *best = NULL;
    int best_count = 0;
    for (int i = 0; i < n->nrules; i++) {
        const struct rule *x = n->rules[i];
        if (!x->idx_ref || x->idx_member)
            continue;
        int c = 0;
        for (int j = 0; j < n->nrules; j++)
            c += eq_indexed(n, j, x->idx_ref);
        if (c > best_count) {
            best = x->idx_ref;
            best_count = c;
        }
    }
    if (best_count < 2)
        return;
    struct rv **keys = malloc((size_t)best_count * sizeof *keys);
    if (!keys)
        REGO_OOM();
    int nk = 0;
    for (int i = 0; i < n->nrules; i++)
        if (eq_indexed(n, i, best))
            keys[nk++] = n->rules[i]->idx_val;
    qsort(keys, (size_t)nk, sizeof *keys, rvp_cmp);
    int o = 1;
    for (int i = 1; i < nk; i++)
        if (rv_compare(keys[o - 1], keys[i]) != 0)
            keys[o++] = keys[i];
    nk = o;
    n->idx_ref = (struct term *)best;
    n->idx_n = nk;
    n->idx_keys = keys;
    n->idx_rules = malloc((size_t)nk * sizeof *n->idx_rules);
    if (!n->idx_rules)
        REGO_OOM();
    n->idx_other = xints((size_t)n->nrules + 1);
    int no = 0;
    for (int i = 0; i < n->nrules; i++)
        if (!eq_indexed(n, i, best))
            n->idx_other[no++] = i;
    n->idx_other[no] = -1;
    for (int k = 0; k < nk; k++) {
        int *l = n->idx_rules[k] = xints((size_t)n->nrules + 1), m = 0;
        for (int i = 0; i < n->nrules; i++)
            if (!eq_indexed(n, i, best) || rv_compare(n->rules[i]->idx_val, keys[k]) == 0)
                l[m++] = i;
        l[m] = -1;
    }
    /* the rules on the node's path share its reference: the evaluator
     * knows them by the pointer */
    for (int i = 0; i < n->nrules; i++)
        if (eq_indexed(n, i, best))
            n->rules[i]->idx_ref = (struct term *)best;
}

static void freeze_engine(struct rego *r)
{
    struct rv_frozen *f = &r->frozen;
    rv_freeze(r->data, f);
    for (struct module *m = r->modules; m; m = m->next) {
        for (int i = 0; i < m->npkg; i++)
            rv_freeze(m->pkg[i], f);
        for (int i = 0; i < m->nimports; i++)
            freeze_term_nofold(m->imports[i].path, r);
        for (struct rule *rule = m->rules; rule; rule = rule->next_in_module) {
            for (struct rule *x = rule; x; x = x->els) {
                freeze_term_nofold(x->head, r);
                for (int i = 0; i < x->npath; i++)
                    rv_freeze(x->path[i], f);
                for (int i = 0; i < x->nargs; i++)
                    freeze_term(x->args[i], r);
                freeze_term(x->key, r);
                freeze_term(x->value, r);
                freeze_body(x->body, r);
                index_rule(x);
            }
        }
    }
    for (int i = 0; i < r->nnodes; i++) {
        rv_freeze(r->nodes[i]->key, f);
        index_node(r->nodes[i]);
    }
}

/* The first node with rules strictly below n, or NULL. */
static struct node *rules_below(struct node *n)
{
    for (int i = 0; i < n->nchildren; i++) {
        struct node *ch = n->children[i];
        if (ch->nrules || ch->default_rule)
            return ch;
        struct node *x = rules_below(ch);
        if (x)
            return x;
    }
    return NULL;
}

/* A rule whose value is a whole document (complete, set, function) cannot
 * have rules below it (`a.b := 1` beside `a.b.c := 2`), as OPA's compiler
 * refuses; rules with a variable in their head reference (objects) can,
 * and their values are checked for conflicts when evaluated. */
static int check_rule_overlap(struct rego *r, struct node *n, struct rego_error *err)
{
    if ((n->nrules || n->default_rule) && n->kind != RULE_OBJECT) {
        struct node *x = rules_below(n);
        if (x) {
            struct rule *a = n->nrules ? n->rules[0] : n->default_rule;
            struct rule *b = x->nrules ? x->rules[0] : x->default_rule;
            return rego_err(err, "rego_type_error", &a->loc, "rule %s conflicts with [%s] (%s:%d)",
                            n->path_str, x->path_str, b->loc.file ? b->loc.file : "", b->loc.line);
        }
    }
    for (int i = 0; i < n->nchildren; i++)
        if (check_rule_overlap(r, n->children[i], err) < 0)
            return -1;
    return 0;
}

/* a/b/p: the path of node x below data, as OPA writes it */
static void node_path_slashes(struct sbuf *b, const struct node *x)
{
    if (!x->parent)
        return;
    if (x->parent->parent) {
        node_path_slashes(b, x->parent);
        sb_putc(b, '/');
    }
    if (x->key->type == RV_STRING)
        sb_add(b, x->key->u.str.s, x->key->u.str.len);
    else
        rv_write(b, x->key, false);
}

static int data_conflict(struct node *x, struct rego_error *err)
{
    struct sbuf b = { 0 };
    node_path_slashes(&b, x);
    struct rule *a = x->nrules ? x->rules[0] : x->default_rule;
    int rc = rego_err(err, "rego_compile_error", &a->loc, "conflicting rule for data path %s found",
                      b.s ? b.s : "");
    free(b.s);
    return rc;
}

/* Base data where a rule's value goes (at its path or below), or a value
 * that is not an object on the way to it (data.a is 1 beside a rule
 * a.b.p), is refused when the engine is compiled, as OPA refuses such a
 * bundle: v is the base document at n's path, NULL where there is none. */
static int check_data_conflicts(struct node *n, const struct rv *v, struct rego_error *err)
{
    if (!v)
        return 0;
    if (n->nrules || n->default_rule)
        return data_conflict(n, err);
    if (v->type != RV_OBJECT) {
        struct node *x = rules_below(n);
        return x ? data_conflict(x, err) : 0;
    }
    for (int i = 0; i < n->nchildren; i++)
        if (check_data_conflicts(n->children[i], rv_object_get(v, n->children[i]->key), err) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------ constant rules */

/* Builtins whose answer is not a function of their arguments, or that act. */
static bool volatile_builtin(int b)
{
    static const char *const names[] = { "time.now_ns", "rand.intn", "uuid.rfc4122", "http.send", "print",
                                         "trace", "opa.runtime", "io.jwt.decode_verify", "net.lookup_ip_addr" };
    if (b < 0 || b >= rego_nbuiltins)
        return true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(rego_builtins[b].name, names[i]) == 0)
            return true;
    return false;
}

static bool indep_node(struct node *n);
static bool indep_body(const struct body *b);

/* indep_term calls in progress: the walk follows references from rule to
 * rule (r0 := [r1], r1 := [r2], ...); past INDEP_MAX_NEST a rule met
 * counts as not independent (it is then only not precomputed), so the
 * recursion stays within the stack. */
#define INDEP_MAX_NEST 2000
static _Thread_local int indep_nest;

static bool indep_term_in(const struct term *t);

static bool indep_term(const struct term *t)
{
    indep_nest++;
    bool ok = indep_term_in(t);
    indep_nest--;
    return ok;
}

static bool indep_term_in(const struct term *t)
{
    if (!t)
        return true;
    switch (t->kind) {
    case TK_VALUE:
    case TK_VAR:
        return true;
    case TK_REF:
        if (t->ref_head == RH_INPUT || t->ref_head == RH_UNRESOLVED)
            return false;
        /* a walk of data from its root may reach any rule */
        if (t->ref_head == RH_DATA && (!t->dnode || !indep_node(t->dnode)))
            return false;
        break;
    case TK_CALL:
        if (t->call_kind == CALL_FUNCTION) {
            if (!t->fn || !indep_node(t->fn))
                return false;
        } else if (t->call_kind != CALL_BUILTIN || volatile_builtin(t->builtin)) {
            return false;
        }
        for (int i = 1; i < t->nitems; i++)
            if (!indep_term(t->items[i]))
                return false;
        return true;
    default:
        break;
    }
    for (int i = 0; i < t->nitems; i++)
        if (!indep_term(t->items[i]))
            return false;
    return indep_term(t->key) && indep_term(t->value) && indep_body(t->body);
}

static bool indep_body(const struct body *b)
{
    for (int i = 0; b && i < b->n; i++) {
        const struct expr *e = b->exprs[i];
        if (e->nwith || !indep_term(e->a) || !indep_term(e->b) || !indep_term(e->c) || !indep_body(e->body))
            return false;
    }
    return true;
}

static bool indep_rule(const struct rule *x)
{
    for (; x; x = x->els) {
        for (int i = 0; i < x->nargs; i++)
            if (!indep_term(x->args[i]))
                return false;
        for (int i = 0; i < x->nsuffix; i++)
            if (!indep_term(x->suffix[i]))
                return false;
        if (!indep_term(x->key) || !indep_term(x->value) || !indep_body(x->body))
            return false;
    }
    return true;
}

/* Whether a node's value (or a function's, given its arguments) is the
 * same in every evaluation: no input, no data walk from the root, no
 * volatile builtin, no `with`, no rules below it. */
static bool indep_node(struct node *n)
{
    if (n->indep)
        return n->indep == 1;
    if (indep_nest > INDEP_MAX_NEST)
        return false;
    n->indep = 3;   /* a cycle (refused by the recursion check anyway) is not independent */
    bool ok = n->nchildren == 0 && (!n->default_rule || indep_rule(n->default_rule));
    for (int i = 0; ok && i < n->nrules; i++)
        ok = indep_rule(n->rules[i]);
    n->indep = ok ? 1 : 2;
    return ok;
}

/* Evaluates every independent rule once, within small budgets; what fails
 * or runs out is left to each evaluation (which reports it as before). */
static void precompute_constants(struct rego *r)
{
    for (int i = 0; i < r->nnodes; i++) {
        struct node *n = r->nodes[i];
        if (n->kind == RULE_FUNC || !(n->nrules || n->default_rule) || !indep_node(n))
            continue;
        struct rego_error scratch = { 0 };
        struct ev ev;
        ev_init(&ev, r, NULL, &scratch);
        ev.max_steps = 100000;
        if (ev.budget.limit > (16u << 20))
            ev.budget.limit = 16u << 20;
        int rc = 0;
        struct rv *v = ev_node_value(&ev, n, &rc);
        bool ok = rc >= 0 && !ev.budget.exceeded;
        v = ok ? rv_incref(v) : NULL;
        ev_release(&ev);
        if (ok) {
            rv_freeze(v, &r->frozen);
            n->konst = v;
            n->konst_strict = ev.strict;
            n->has_konst = true;
        }
    }
}
static int compile_engine(struct rego *r, struct rego_error *err);

int rego_compile(struct rego *r, struct rego_error *err)
{
    if (r->broken)
        return rego_err(err, "eval_budget_error", NULL, RG_OOM_MESSAGE);
    uint64_t before = rg_failures();
    int rc = compile_engine(r, err);
    if (rg_failures() != before) {
        r->broken = true;
        return rego_err(err, "eval_budget_error", NULL, RG_OOM_MESSAGE);
    }
    return rc;
}

static int compile_engine(struct rego *r, struct rego_error *err)
{
    if (r->compiled)
        return 0;
    if (!r->root)
        r->root = node_new(r, NULL, NULL);
    for (struct module *m = r->modules; m; m = m->next) {
        /* every package is a document, {} when it has no rules (OPA) */
        struct node *pn = r->root;
        for (int j = 0; j < m->npkg; j++)
            pn = node_get(r, pn, m->pkg[j]);
        for (struct rule *rule = m->rules; rule; rule = rule->next_in_module)
            if (place_rule(r, rule, err) < 0)
                return -1;
    }
    if (check_rule_overlap(r, r->root, err) < 0 || check_data_conflicts(r->root, r->data, err) < 0)
        return -1;
    for (struct module *m = r->modules; m; m = m->next)
        for (struct rule *rule = m->rules; rule; rule = rule->next_in_module)
            if (compile_rule(r, rule, err) < 0)
                return -1;
    if (check_recursion(r, err) < 0)
        return -1;
    if (rego_typecheck(r, err) < 0)
        return -1;
    freeze_engine(r);
    r->compiled = true;
    precompute_constants(r);
    return 0;
}

int rego_term_constant(struct term *t, struct rv **out, struct rego_error *err)
{
    struct rvbuf a = { 0 }, b = { 0 };
    switch (t->kind) {
    case TK_VALUE:
        *out = rv_incref(t->val);
        return 0;
    case TK_ARRAY:
    case TK_SET:
        for (int i = 0; i < t->nitems; i++) {
            struct rv *v;
            if (rego_term_constant(t->items[i], &v, err) < 0) {
                rvbuf_clear(&a);
                return -1;
            }
            rvbuf_push(&a, v);
        }
        *out = t->kind == TK_ARRAY ? rv_array_take(&a) : rv_set_take(&a);
        return 0;
    case TK_OBJECT:
        for (int i = 0; i < t->nitems; i++) {
            struct rv *v;
            if (rego_term_constant(t->items[i], &v, err) < 0) {
                rvbuf_clear(&a);
                rvbuf_clear(&b);
                return -1;
            }
            rvbuf_push(&a, v);
        }
        *out = rv_object_last_wins(a.v, (int)a.len);
        rvbuf_clear(&a);
        return 0;
    default:
        return rego_err(err, "rego_compile_error", &t->loc, "term is not a constant");
    }
}
