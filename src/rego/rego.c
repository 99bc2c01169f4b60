/* The public API (rego.h): engines, modules, data, prepared queries. */
#include <stdlib.h>
#include <string.h>

#include "rego/ast.h"
#include "rego/eval.h"
#include "rego/rego.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

struct rego_query {
    struct rego *r;
    struct rego_pcache pcache;
    struct ev_store store;   /* the node cache its evaluations share, one at a time */
    void *spare_block;       /* the input's first chunk, kept for the next evaluation */
    char *text;
    struct query_info qi;
    struct term *value_term;   /* single-term queries: its value */
    struct rego_eval_stats last;   /* of the last evaluation */
};

/* Whether the C library refused memory since `before` (mem.h): then what
 * the call built cannot be trusted, and it fails with this error. */
static bool out_of_memory(uint64_t before, struct rego_error *err)
{
    if (rg_failures() == before)
        return false;
    rego_err(err, "eval_budget_error", NULL, RG_OOM_MESSAGE);
    return true;
}

static void keep_stats(struct rego_query *q, const struct ev *ev)
{
    q->last.steps = ev->steps;
    q->last.allocations = ev->budget.allocs;
    q->last.bytes_allocated = ev->budget.bytes;
    q->last.peak_bytes = ev->budget.peak > 0 ? (uint64_t)ev->budget.peak : 0;
}

void rego_query_last_stats(const struct rego_query *q, struct rego_eval_stats *out)
{
    *out = q->last;
}

struct rego *rego_new(void)
{
    uint64_t before = rg_failures();
    struct rego *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->refs = 1;
    r->data = rv_empty_object();
    r->broken = rg_failures() != before;
    return r;
}

void rego_set_options(struct rego *r, const struct rego_options *opts)
{
    r->opts = *opts;
}

static void node_free(struct node *n)
{
    rv_decref(n->key);
    free(n->children);
    free(n->rules);
    free(n->path_str);
    for (int i = 0; i < n->idx_n; i++)
        free(n->idx_rules[i]);
    free(n->idx_rules);
    free(n->idx_keys);
    free(n->idx_other);
    free(n);
}

static void rego_unref(struct rego *r)
{
    if (!r || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    struct module *m = r->modules;
    while (m) {
        struct module *n = m->next;
        module_free(m);
        m = n;
    }
    for (int i = 0; i < r->nnodes; i++)
        node_free(r->nodes[i]);
    free(r->nodes);
    rv_decref(r->data);
    rv_frozen_free(&r->frozen);
    free(r);
}

void rego_free(struct rego *r) { rego_unref(r); }

int rego_add_module(struct rego *r, const char *filename, const char *text, size_t len,
                    struct rego_error *err)
{
    if (r->compiled)
        return rego_err(err, "rego_compile_error", NULL, "modules cannot be added after compiling");
    if (r->broken)
        return rego_err(err, "eval_budget_error", NULL, RG_OOM_MESSAGE);
    uint64_t before = rg_failures();
    struct module *m;
    int rc = rego_parse_module(filename, text, len, &m, err);
    if (out_of_memory(before, err)) {
        if (rc == 0)
            module_free(m);
        r->broken = true;
        return -1;
    }
    if (rc < 0)
        return -1;
    if (r->last_module)
        r->last_module->next = m;
    else
        r->modules = m;
    r->last_module = m;
    return 0;
}

static int add_data(struct rego *r, const json_t *data, struct rego_error *err);

int rego_add_data(struct rego *r, const json_t *data, struct rego_error *err)
{
    if (r->broken)
        return rego_err(err, "eval_budget_error", NULL, RG_OOM_MESSAGE);
    uint64_t before = rg_failures();
    int rc = add_data(r, data, err);
    if (out_of_memory(before, err)) {
        r->broken = true;
        return -1;
    }
    return rc;
}

static int add_data(struct rego *r, const json_t *data, struct rego_error *err)
{
    if (r->compiled)
        return rego_err(err, "rego_compile_error", NULL, "data cannot be added after compiling");
    if (!json_is_object(data))
        return rego_err(err, "rego_compile_error", NULL, "data must be a JSON object");
    const char *why;
    struct rv *v = rv_from_json(data, &why);
    if (!v)
        return rego_err(err, "rego_compile_error", NULL, "data: %s", why);
    bool conflict = false;
    struct rv *merged = rv_merge(r->data, v, &conflict);
    rv_decref(v);
    if (conflict) {
        rv_decref(merged);
        return rego_err(err, "rego_compile_error", NULL, "data conflicts with data already loaded");
    }
    rv_decref(r->data);
    r->data = merged;
    return 0;
}

/* Integers beyond 64 bits are read as doubles rather than refused. */
static json_t *load_json(const char *text, size_t len, json_error_t *je)
{
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, je);
    if (!j && strstr(je->text, "too big"))
        j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, je);
    return j;
}

int rego_add_data_json(struct rego *r, const char *json, size_t len, struct rego_error *err)
{
    json_error_t je;
    json_t *j = load_json(json, len, &je);
    if (!j)
        return rego_err(err, "rego_parse_error", NULL, "data: %s (line %d)", je.text, je.line);
    int rc = rego_add_data(r, j, err);
    json_decref(j);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rego_rule_paths(struct rego *r, const char *prefix, char ***paths, size_t *n)
{
    uint64_t before = rg_failures();
    *paths = NULL;
    *n = 0;
    size_t cap = 0;
    for (int i = 0; i < r->nnodes; i++) {
        struct node *nd = r->nodes[i];
        if (!nd->nrules || !nd->key || nd->key->type != RV_STRING)
            continue;
        if (strncmp(nd->key->u.str.s, prefix, strlen(prefix)) != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *paths = realloc(*paths, cap * sizeof **paths);
            if (!*paths)
                REGO_OOM();
        }
        (*paths)[(*n)++] = strdup(nd->path_str);
    }
    if (rg_failures() != before) {
        for (size_t i = 0; i < *n; i++)
            free((*paths)[i]);
        free(*paths);
        *paths = NULL;
        *n = 0;
        return -1;
    }
    if (*n)
        qsort(*paths, *n, sizeof **paths, cmp_str);
    return 0;
}

static struct rego_query *prepare(struct rego *r, const char *query, struct rego_error *err);

struct rego_query *rego_prepare(struct rego *r, const char *query, struct rego_error *err)
{
    if (r->broken) {
        rego_err(err, "eval_budget_error", NULL, RG_OOM_MESSAGE);
        return NULL;
    }
    uint64_t before = rg_failures();
    struct rego_query *q = prepare(r, query, err);
    if (out_of_memory(before, err)) {
        rego_query_free(q);
        return NULL;
    }
    return q;
}

static struct rego_query *prepare(struct rego *r, const char *query, struct rego_error *err)
{
    if (!r->compiled && rego_compile(r, err) < 0)
        return NULL;
    struct body *b;
    if (rego_parse_query(query, strlen(query), &b, err) < 0)
        return NULL;
    struct rego_query *q = calloc(1, sizeof *q);
    if (!q)
        REGO_OOM();
    q->r = r;
    q->text = strdup(query);
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
    if (rego_compile_query(r, b, &q->qi, err) < 0) {
        rego_query_free(q);
        return NULL;
    }
    if (b->n == 1 && b->exprs[0]->kind == EK_TERM && !b->exprs[0]->negated && !b->exprs[0]->nwith)
        q->value_term = b->exprs[0]->a;
    return q;
}

void rego_query_free(struct rego_query *q)
{
    if (!q)
        return;
    rego_pcache_clear(&q->pcache);
    ev_store_free(&q->store);
    rv_block_free(q->spare_block);
    body_free(q->qi.body);
    free(q->qi.orig);
    free(q->text);
    for (int i = 0; i < q->qi.nslots; i++)
        free(q->qi.slot_names[i]);
    free(q->qi.slot_names);
    rego_unref(q->r);
    free(q);
}

/* The input converted into one block (see rv_from_json_block): the caller
 * frees *block after it has converted and released the results, which may
 * hold values of the input. */
static int input_block(struct rego_query *q, const json_t *input, struct rv **in, void **block,
                       struct rego_error *err)
{
    *in = NULL;
    *block = NULL;
    if (!input)
        return 0;
    const char *why;
    *in = rv_from_json_block_in(input, block, &q->spare_block, &why);
    if (!*in)
        return rego_err(err, "eval_type_error", NULL, "input: %s", why);
    return 0;
}

static int run(struct rego_query *q, const json_t *input, bool want_value, struct rvbuf *results,
               struct rv **value, void **block, struct rego_error *err)
{
    struct rv *in;
    if (input_block(q, input, &in, block, err) < 0)
        return -1;
    struct ev ev;
    ev_init_store(&ev, q->r, in, err, &q->store);
    ev.pcache = &q->pcache;
    int rc = ev_query(&ev, &q->qi, want_value ? q->value_term : NULL, results, value);
    ev_release(&ev);
    keep_stats(q, &ev);
    return rc < 0 ? -1 : 0;
}

int rego_query_eval_json(struct rego_query *q, const json_t *input, json_t **results,
                         struct rego_error *err)
{
    uint64_t before = rg_failures();
    struct rvbuf res = { 0 };
    void *block;
    if (run(q, input, false, &res, NULL, &block, err) < 0) {
        rvbuf_clear(&res);
        out_of_memory(before, err);
        rv_block_release(block, &q->spare_block);
        return -1;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < res.len; i++)
        json_array_append_new(arr, rv_to_json(res.v[i]));
    rvbuf_clear(&res);
    rv_block_release(block, &q->spare_block);
    if (out_of_memory(before, err)) {
        json_decref(arr);
        return -1;
    }
    *results = arr;
    return 0;
}

int rego_query_eval(struct rego_query *q, const char *input_json, size_t input_len,
                    char **results_json, struct rego_error *err)
{
    json_t *in = NULL;
    if (input_json) {
        json_error_t je;
        in = load_json(input_json, input_len, &je);
        if (!in)
            return rego_err(err, "eval_type_error", NULL, "input: %s (line %d)", je.text, je.line);
    }
    uint64_t before = rg_failures();
    struct rvbuf res = { 0 };
    void *block;
    int rc = run(q, in, false, &res, NULL, &block, err);
    if (rc < 0) {
        rvbuf_clear(&res);
        out_of_memory(before, err);
        rv_block_release(block, &q->spare_block);
        json_decref(in);
        return -1;
    }
    struct sbuf b = { 0 };
    sb_putc(&b, '[');
    for (size_t i = 0; i < res.len; i++) {
        if (i)
            sb_putc(&b, ',');
        rv_write(&b, res.v[i], true);
    }
    sb_putc(&b, ']');
    rvbuf_clear(&res);
    rv_block_release(block, &q->spare_block);
    json_decref(in);   /* after the block: its strings are the input's */
    char *text = sb_steal(&b);
    if (out_of_memory(before, err)) {
        free(text);
        return -1;
    }
    *results_json = text;
    return 0;
}

int rego_query_eval_value(struct rego_query *q, const json_t *input, json_t **value,
                          struct rego_error *err)
{
    *value = NULL;
    if (!q->value_term)
        return rego_err(err, "rego_compile_error", NULL, "the query is not a single term");
    uint64_t before = rg_failures();
    struct rv *v = NULL;
    void *block;
    if (run(q, input, true, NULL, &v, &block, err) < 0) {
        rv_block_release(block, &q->spare_block);
        out_of_memory(before, err);
        return -1;
    }
    if (v) {
        *value = rv_to_json(v);
        rv_decref(v);
    }
    rv_block_release(block, &q->spare_block);
    if (out_of_memory(before, err)) {
        json_decref(*value);
        *value = NULL;
        return -1;
    }
    return 0;
}

int rego_query_eval_rv(struct rego_query *q, struct rv *input, struct rvbuf *results,
                       struct rego_error *err)
{
    uint64_t before = rg_failures();
    struct ev ev;
    ev_init_store(&ev, q->r, input, err, &q->store);
    ev.pcache = &q->pcache;
    int rc = ev_query(&ev, &q->qi, NULL, results, NULL);
    ev_release(&ev);
    keep_stats(q, &ev);
    if (out_of_memory(before, err)) {
        rvbuf_clear(results);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

int rego_query_value_rv(struct rego_query *q, struct rv *input, struct rv **value,
                        struct rego_error *err)
{
    *value = NULL;
    if (!q->value_term)
        return rego_err(err, "rego_compile_error", NULL, "the query is not a single term");
    uint64_t before = rg_failures();
    struct ev ev;
    ev_init_store(&ev, q->r, input, err, &q->store);
    ev.pcache = &q->pcache;
    int rc = ev_query(&ev, &q->qi, q->value_term, NULL, value);
    ev_release(&ev);
    keep_stats(q, &ev);
    if (out_of_memory(before, err)) {
        rv_decref(*value);
        *value = NULL;
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

int rego_query_eval_opa(struct rego_query *q, const json_t *input, json_t **out, struct rego_error *err)
{
    uint64_t before = rg_failures();
    struct rv *in;
    void *block;
    if (input_block(q, input, &in, &block, err) < 0)
        return -1;
    struct rvbuf res = { 0 };
    struct ev ev;
    ev_init_store(&ev, q->r, in, err, &q->store);
    ev.pcache = &q->pcache;
    int rc = ev_query_mode(&ev, &q->qi, NULL, &res, NULL, true);
    ev_release(&ev);
    keep_stats(q, &ev);
    if (rc < 0) {
        rvbuf_clear(&res);
        out_of_memory(before, err);
        rv_block_release(block, &q->spare_block);
        return -1;
    }
    json_t *top = json_object();
    if (res.len) {
        json_t *arr = json_array();
        for (size_t i = 0; i < res.len; i++) {
            struct rv *bindings = res.v[i]->u.arr.v[0], *vals = res.v[i]->u.arr.v[1];
            json_t *one = json_object(), *exprs = json_array();
            for (int j = 0; j < q->qi.norig; j++) {
                struct expr *e = q->qi.orig[j];
                json_t *x = json_object();
                json_object_set_new(x, "value", rv_to_json(vals->u.arr.v[j]));
                size_t end = e->src_end <= strlen(q->text) ? e->src_end : e->src_start;
                json_object_set_new(x, "text", json_stringn(q->text + e->src_start, end - e->src_start));
                json_t *loc = json_object();
                json_object_set_new(loc, "row", json_integer(e->loc.line));
                json_object_set_new(loc, "col", json_integer(e->loc.col));
                json_object_set_new(x, "location", loc);
                json_array_append_new(exprs, x);
            }
            json_object_set_new(one, "expressions", exprs);
            if (bindings->u.obj.len)
                json_object_set_new(one, "bindings", rv_to_json(bindings));
            json_array_append_new(arr, one);
        }
        json_object_set_new(top, "result", arr);
    }
    rvbuf_clear(&res);
    rv_block_release(block, &q->spare_block);
    if (out_of_memory(before, err)) {
        json_decref(top);
        return -1;
    }
    *out = top;
    return 0;
}
