/* json.verify_schema and json.match_schema: JSON Schema (draft-07 and the
 * drafts 4/6 keywords it keeps) validated directly on engine values, with
 * the messages, error types, field paths and order of OPA's validator
 * (gojsonschema as OPA vendors it).
 *
 * Supported: boolean schemas, type (one or a list), enum, const,
 * properties, required, additionalProperties, patternProperties,
 * propertyNames, minProperties/maxProperties, dependencies (lists and
 * schemas), items (one schema or a list), additionalItems,
 * minItems/maxItems, uniqueItems, contains, minLength/maxLength (runes),
 * pattern (Go's regexp syntax), minimum/maximum, exclusiveMinimum/
 * exclusiveMaximum (numbers, and draft-4 booleans), multipleOf,
 * allOf/anyOf/oneOf/not (the best failing branch's errors, by
 * gojsonschema's score), if/then/else, $ref to "#" and to JSON pointers
 * within the schema ("#/definitions/x"). Not supported: remote $ref, $id
 * based references, format (accepted, never checked). Schema errors
 * (verify_schema's message, match_schema's error) cover the type names and
 * the types of the keywords above. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/bi.h"
#include "rego/re.h"
#include "rego/unicode.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

#define SCHEMA_MAX_DEPTH 64

struct serr {
    char *field;   /* gojsonschema's Field(): the context without "(Root)." */
    const char *type;
    char *desc;
};

struct sres {
    struct serr *e;
    size_t n, cap;
    long score;
};

struct sctx {
    struct ev *ev;
    struct rv *root;   /* the whole schema, for $ref */
    int depth;
    bool failed;       /* out of depth: an error, not a validation result */
    char why[200];
};

static void sres_free(struct sres *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->e[i].field);
        free(r->e[i].desc);
    }
    free(r->e);
    memset(r, 0, sizeof *r);
}

/* Of the failed results of anyOf, oneOf and contains, the one to report:
 * keeps x when it is the first or scores higher than *best; frees it otherwise. */
static void keep_best(struct sres *best, bool *have_best, struct sres *x)
{
    if (!*have_best || x->score > best->score) {
        sres_free(best);
        *best = *x;
        *have_best = true;
    } else {
        sres_free(x);
    }
}

static void add_error(struct sres *r, const char *ctx, const char *type, char *desc)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->e = realloc(r->e, sizeof *r->e * r->cap);
        if (!r->e)
            REGO_OOM();
    }
    const char *f = strncmp(ctx, "(Root).", 7) == 0 ? ctx + 7 : ctx;
    r->e[r->n].field = strdup(f);
    r->e[r->n].type = type;
    r->e[r->n].desc = desc;
    if (!r->e[r->n].field)
        REGO_OOM();
    r->n++;
    r->score -= 2;
}

static void merge(struct sres *into, struct sres *from)
{
    for (size_t i = 0; i < from->n; i++) {
        if (into->n == into->cap) {
            into->cap = into->cap ? into->cap * 2 : 8;
            into->e = realloc(into->e, sizeof *into->e * into->cap);
            if (!into->e)
                REGO_OOM();
        }
        into->e[into->n++] = from->e[i];
    }
    into->score += from->score;
    free(from->e);
    memset(from, 0, sizeof *from);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0)
        REGO_OOM();
    va_end(ap);
    return s;
}

static char *child_ctx(const char *ctx, const char *key, size_t keylen)
{
    return fmt("%s.%.*s", ctx, (int)keylen, key);
}

static char *index_ctx(const char *ctx, size_t i)
{
    return fmt("%s.%zu", ctx, i);
}

/* JSON text of a value as Go's json.Marshal writes it (what enum and const
 * compare and print). */
static char *json_text(const struct rv *v)
{
    struct sbuf b = { 0 };
    rv_write(&b, v, true);
    return sb_steal(&b);
}

/* Go's big.Float %v of a schema number: integers as integers, others in
 * the shortest form. */
static char *num_text(const struct rv *v)
{
    struct sbuf b = { 0 };
    int64_t i;
    if (rv_as_int(v, &i))
        sb_printf(&b, "%lld", (long long)i);
    else
        bi_go_float(&b, rv_as_double(v), 'g');
    return sb_steal(&b);
}

static bool is_integer(const struct rv *v)
{
    if (v->type != RV_NUMBER)
        return false;
    int64_t i;
    if (rv_as_int(v, &i))
        return true;
    double d = rv_as_double(v);
    return isfinite(d) && d == floor(d);
}

static const char *const type_names[] = { "array", "boolean", "integer", "number", "null", "object", "string" };

static bool valid_type_name(const struct rv *t)
{
    if (t->type != RV_STRING)
        return false;
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (strlen(type_names[i]) == SL(t) && memcmp(type_names[i], S(t), SL(t)) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ schema checks */

static int schema_err(struct sctx *c, const char *f, ...) __attribute__((format(printf, 2, 3)));
static int schema_err(struct sctx *c, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(c->why, sizeof c->why, f, ap);
    va_end(ap);
    c->failed = true;
    return -1;
}

static int check_schema(struct sctx *c, const struct rv *s);

static int check_schema_map(struct sctx *c, const struct rv *m, const char *key)
{
    if (!m)
        return 0;
    if (m->type != RV_OBJECT)
        return schema_err(c, "%s must be of type object", key);
    for (size_t i = 0; i < m->u.obj.len; i++)
        if (check_schema(c, m->u.obj.v[i]) < 0)
            return -1;
    return 0;
}

static int check_nonneg_int(struct sctx *c, const struct rv *s, const char *key)
{
    struct rv *v = rv_object_get_str(s, key);
    if (!v)
        return 0;
    if (!is_integer(v))
        return schema_err(c, "%s must be of an integer", key);
    if (rv_sign(v) < 0)
        return schema_err(c, "%s must be greater than or equal to 0", key);
    return 0;
}

static int check_schema(struct sctx *c, const struct rv *s)
{
    if (s->type == RV_BOOL)
        return 0;
    if (s->type != RV_OBJECT)   /* gojsonschema's words: the whole schema, or a part */
        return schema_err(c, c->depth == 0 ? "schema is invalid" : "schema must be of type object");
    if (++c->depth > SCHEMA_MAX_DEPTH) {
        c->depth--;
        return schema_err(c, "schema nested deeper than %d levels", SCHEMA_MAX_DEPTH);
    }
    int rc = 0;
    struct rv *t = rv_object_get_str(s, "type");
    if (t) {
        if (t->type == RV_STRING) {
            if (!valid_type_name(t))
                rc = schema_err(c,
                                "has a primitive type that is NOT VALID -- given: /%.*s/ Expected valid values "
                                "are:[array boolean integer number null object string]",
                                (int)(SL(t) > 60 ? 60 : SL(t)), S(t));
        } else if (t->type == RV_ARRAY) {
            for (size_t i = 0; i < t->u.arr.len && rc == 0; i++) {
                struct rv *x = t->u.arr.v[i];
                if (x->type != RV_STRING)
                    rc = schema_err(c, "type must be of type string/array");
                else if (!valid_type_name(x))
                    rc = schema_err(c,
                                    "has a primitive type that is NOT VALID -- given: /%.*s/ Expected valid "
                                    "values are:[array boolean integer number null object string]",
                                    (int)(SL(x) > 60 ? 60 : SL(x)), S(x));
                for (size_t j = 0; j < i && rc == 0; j++)
                    if (rv_equal(x, t->u.arr.v[j]))
                        rc = schema_err(c, "%.*s type is duplicated", (int)SL(x), S(x));
            }
        } else {
            rc = schema_err(c, "type must be of type string/array");
        }
    }
    if (rc == 0)
        rc = check_schema_map(c, rv_object_get_str(s, "properties"), "properties");
    if (rc == 0)
        rc = check_schema_map(c, rv_object_get_str(s, "patternProperties"), "patternProperties");
    if (rc == 0)
        rc = check_schema_map(c, rv_object_get_str(s, "definitions"), "definitions");
    struct rv *pp = rv_object_get_str(s, "patternProperties");
    for (size_t i = 0; rc == 0 && pp && i < pp->u.obj.len; i++) {
        struct rv *k = pp->u.obj.k[i];
        struct rego_re *re = NULL;
        if (k->type != RV_STRING || rego_re_compile(S(k), SL(k), &re, NULL, 0) < 0)
            rc = schema_err(c, "Invalid regex pattern '%.*s'", k->type == RV_STRING ? (int)SL(k) : 0,
                            k->type == RV_STRING ? S(k) : "");
        rego_re_free(re);
    }
    static const char *const subs[] = { "additionalProperties", "additionalItems", "propertyNames", "contains",
                                        "not", "if", "then", "else" };
    for (size_t i = 0; rc == 0 && i < sizeof subs / sizeof *subs; i++) {
        struct rv *x = rv_object_get_str(s, subs[i]);
        if (x && x->type != RV_BOOL && x->type != RV_OBJECT)
            rc = schema_err(c, "%s must be of an object", subs[i]);
        else if (x)
            rc = check_schema(c, x);
    }
    static const char *const lists[] = { "allOf", "anyOf", "oneOf" };
    for (size_t i = 0; rc == 0 && i < sizeof lists / sizeof *lists; i++) {
        struct rv *x = rv_object_get_str(s, lists[i]);
        if (!x)
            continue;
        if (x->type != RV_ARRAY)
            rc = schema_err(c, "%s must be of an array", lists[i]);
        for (size_t j = 0; rc == 0 && j < x->u.arr.len; j++)
            rc = check_schema(c, x->u.arr.v[j]);
    }
    struct rv *items = rv_object_get_str(s, "items");
    if (rc == 0 && items) {
        if (items->type == RV_ARRAY) {
            for (size_t j = 0; rc == 0 && j < items->u.arr.len; j++)
                rc = check_schema(c, items->u.arr.v[j]);
        } else if (items->type == RV_OBJECT || items->type == RV_BOOL) {
            rc = check_schema(c, items);
        } else {
            rc = schema_err(c, "items must be of type object/array");
        }
    }
    static const char *const counts[] = { "minLength", "maxLength", "minItems", "maxItems", "minProperties",
                                          "maxProperties" };
    for (size_t i = 0; rc == 0 && i < sizeof counts / sizeof *counts; i++)
        rc = check_nonneg_int(c, s, counts[i]);
    int64_t lo, hi;
    struct rv *x1 = rv_object_get_str(s, "minLength"), *x2 = rv_object_get_str(s, "maxLength");
    if (rc == 0 && x1 && x2 && rv_as_int(x1, &lo) && rv_as_int(x2, &hi) && lo > hi)
        rc = schema_err(c, "minLength cannot be greater than maxLength");
    x1 = rv_object_get_str(s, "minProperties");
    x2 = rv_object_get_str(s, "maxProperties");
    if (rc == 0 && x1 && x2 && rv_as_int(x1, &lo) && rv_as_int(x2, &hi) && lo > hi)
        rc = schema_err(c, "minProperties cannot be greater than maxProperties");
    static const char *const nums[] = { "minimum", "maximum", "multipleOf" };
    for (size_t i = 0; rc == 0 && i < sizeof nums / sizeof *nums; i++) {
        struct rv *x = rv_object_get_str(s, nums[i]);
        if (x && x->type != RV_NUMBER)
            rc = schema_err(c, "%s must be of a number", nums[i]);
    }
    struct rv *mo = rv_object_get_str(s, "multipleOf");
    if (rc == 0 && mo && rv_sign(mo) <= 0)
        rc = schema_err(c, "multipleOf must be strictly greater than 0");
    struct rv *pat = rv_object_get_str(s, "pattern");
    if (rc == 0 && pat) {
        struct rego_re *re = NULL;
        if (pat->type != RV_STRING || rego_re_compile(S(pat), SL(pat), &re, NULL, 0) < 0)
            rc = schema_err(c, "pattern must be a valid regex");
        rego_re_free(re);
    }
    struct rv *req = rv_object_get_str(s, "required");
    if (rc == 0 && req) {
        if (req->type != RV_ARRAY)
            rc = schema_err(c, "required must be of an array");
        for (size_t i = 0; rc == 0 && i < req->u.arr.len; i++) {
            if (req->u.arr.v[i]->type != RV_STRING)
                rc = schema_err(c, "required items must be string");
            for (size_t j = 0; rc == 0 && j < i; j++)
                if (rv_equal(req->u.arr.v[i], req->u.arr.v[j]))
                    rc = schema_err(c, "required items must be unique");
        }
    }
    struct rv *en = rv_object_get_str(s, "enum");
    if (rc == 0 && en && en->type != RV_ARRAY)
        rc = schema_err(c, "enum must be of an array");
    struct rv *ui = rv_object_get_str(s, "uniqueItems");
    if (rc == 0 && ui && ui->type != RV_BOOL)
        rc = schema_err(c, "uniqueItems must be of a boolean");
    struct rv *dep = rv_object_get_str(s, "dependencies");
    if (rc == 0 && dep) {
        if (dep->type != RV_OBJECT)
            rc = schema_err(c, "dependencies must be of type object");
        for (size_t i = 0; rc == 0 && i < dep->u.obj.len; i++) {
            struct rv *d = dep->u.obj.v[i];
            if (d->type == RV_ARRAY) {
                for (size_t j = 0; rc == 0 && j < d->u.arr.len; j++)
                    if (d->u.arr.v[j]->type != RV_STRING)
                        rc = schema_err(c, "dependency must be of type schema or array of strings");
            } else if (d->type == RV_OBJECT || d->type == RV_BOOL) {
                rc = check_schema(c, d);
            } else {
                rc = schema_err(c, "dependency must be of type schema or array of strings");
            }
        }
    }
    struct rv *ref = rv_object_get_str(s, "$ref");
    if (rc == 0 && ref && ref->type != RV_STRING)
        rc = schema_err(c, "$ref must be of type string");
    c->depth--;
    return rc;
}

/* "#", "#/definitions/a", with ~0 ~1 and %-escapes left as written. */
static const struct rv *resolve_ref(struct sctx *c, const struct rv *ref)
{
    const char *p = S(ref), *end = p + SL(ref);
    if (p == end || *p != '#')
        return NULL;
    p++;
    const struct rv *cur = c->root;
    while (p < end) {
        if (*p != '/')
            return NULL;
        p++;
        const char *q = memchr(p, '/', (size_t)(end - p));
        if (!q)
            q = end;
        struct sbuf k = { 0 };
        for (const char *x = p; x < q; x++) {
            if (*x == '~' && x + 1 < q && (x[1] == '0' || x[1] == '1')) {
                sb_putc(&k, x[1] == '0' ? '~' : '/');
                x++;
            } else {
                sb_putc(&k, *x);
            }
        }
        size_t klen = k.len;
        char *ks = sb_steal(&k);
        if (cur->type == RV_OBJECT) {
            struct rv *key = rv_string(ks, klen);
            cur = rv_object_get(cur, key);
            rv_decref(key);
        } else if (cur->type == RV_ARRAY) {
            char *e;
            unsigned long i = strtoul(ks, &e, 10);
            cur = *e || i >= cur->u.arr.len ? NULL : cur->u.arr.v[i];
        } else {
            cur = NULL;
        }
        free(ks);
        if (!cur)
            return NULL;
        p = q;
    }
    return cur;
}

/* ------------------------------------------------------------------ validation */

static void validate(struct sctx *c, const struct rv *s, const struct rv *v, const char *ctx, struct sres *r);

static void sub_validate(struct sctx *c, const struct rv *s, const struct rv *v, const char *ctx, struct sres *out)
{
    memset(out, 0, sizeof *out);
    validate(c, s, v, ctx, out);
}

static const char *given_type(const struct rv *v)
{
    switch (v->type) {
    case RV_NULL: return "null";
    case RV_BOOL: return "boolean";
    case RV_NUMBER: return is_integer(v) ? "integer" : "number";
    case RV_STRING: return "string";
    case RV_ARRAY:
    case RV_SET: return "array";
    default: return "object";
    }
}

static bool type_contains(const struct rv *t, const char *name)
{
    if (t->type == RV_STRING)
        return strlen(name) == SL(t) && memcmp(name, S(t), SL(t)) == 0;
    for (size_t i = 0; t->type == RV_ARRAY && i < t->u.arr.len; i++)
        if (type_contains(t->u.arr.v[i], name))
            return true;
    return false;
}

static char *types_text(const struct rv *t)
{
    if (t->type == RV_STRING)
        return fmt("%.*s", (int)SL(t), S(t));
    struct sbuf b = { 0 };
    if (t->u.arr.len == 1)
        return types_text(t->u.arr.v[0]);
    sb_putc(&b, '[');
    for (size_t i = 0; i < t->u.arr.len; i++) {
        if (i)
            sb_putc(&b, ',');
        sb_add(&b, S(t->u.arr.v[i]), SL(t->u.arr.v[i]));
    }
    sb_putc(&b, ']');
    return sb_steal(&b);
}

static void validate_logic(struct sctx *c, const struct rv *s, const struct rv *v, const char *ctx, struct sres *r)
{
    struct rv *any = rv_object_get_str(s, "anyOf");
    if (any && any->type == RV_ARRAY && any->u.arr.len) {
        bool ok = false;
        struct sres best = { 0 };
        bool have_best = false;
        for (size_t i = 0; i < any->u.arr.len && !ok; i++) {
            struct sres x;
            sub_validate(c, any->u.arr.v[i], v, ctx, &x);
            ok = x.n == 0;
            if (ok)
                sres_free(&x);
            else
                keep_best(&best, &have_best, &x);
        }
        if (!ok) {
            add_error(r, ctx, "number_any_of", strdup("Must validate at least one schema (anyOf)"));
            merge(r, &best);
        }
        sres_free(&best);
    }
    struct rv *one = rv_object_get_str(s, "oneOf");
    if (one && one->type == RV_ARRAY && one->u.arr.len) {
        int nvalid = 0;
        struct sres best = { 0 };
        bool have_best = false;
        for (size_t i = 0; i < one->u.arr.len; i++) {
            struct sres x;
            sub_validate(c, one->u.arr.v[i], v, ctx, &x);
            if (x.n == 0) {
                nvalid++;
                sres_free(&x);
            } else if (nvalid == 0) {
                keep_best(&best, &have_best, &x);
            } else {
                sres_free(&x);
            }
        }
        if (nvalid != 1) {
            add_error(r, ctx, "number_one_of", strdup("Must validate one and only one schema (oneOf)"));
            if (nvalid == 0)
                merge(r, &best);
        }
        sres_free(&best);
    }
    struct rv *all = rv_object_get_str(s, "allOf");
    if (all && all->type == RV_ARRAY && all->u.arr.len) {
        size_t nvalid = 0;
        for (size_t i = 0; i < all->u.arr.len; i++) {
            struct sres x;
            sub_validate(c, all->u.arr.v[i], v, ctx, &x);
            if (x.n == 0)
                nvalid++;
            merge(r, &x);
        }
        if (nvalid != all->u.arr.len)
            add_error(r, ctx, "number_all_of", strdup("Must validate all the schemas (allOf)"));
    }
    struct rv *no = rv_object_get_str(s, "not");
    if (no) {
        struct sres x;
        sub_validate(c, no, v, ctx, &x);
        if (x.n == 0)
            add_error(r, ctx, "number_not", strdup("Must not validate the schema (not)"));
        sres_free(&x);
    }
    struct rv *dep = rv_object_get_str(s, "dependencies");
    if (dep && dep->type == RV_OBJECT && v->type == RV_OBJECT) {
        for (size_t i = 0; i < v->u.obj.len; i++) {
            struct rv *d = rv_object_get(dep, v->u.obj.k[i]);
            if (!d)
                continue;
            if (d->type == RV_ARRAY) {
                for (size_t j = 0; j < d->u.arr.len; j++)
                    if (!rv_object_get(v, d->u.arr.v[j]))
                        add_error(r, ctx, "missing_dependency",
                                  fmt("Has a dependency on %.*s", (int)SL(d->u.arr.v[j]), S(d->u.arr.v[j])));
            } else {
                validate(c, d, v, ctx, r);
            }
        }
    }
    struct rv *cif = rv_object_get_str(s, "if");
    if (cif) {
        struct sres x;
        sub_validate(c, cif, v, ctx, &x);
        bool ok = x.n == 0;
        sres_free(&x);
        struct rv *then = rv_object_get_str(s, "then"), *els = rv_object_get_str(s, "else");
        if (then && ok) {
            struct sres y;
            sub_validate(c, then, v, ctx, &y);
            if (y.n) {
                add_error(r, ctx, "condition_then", strdup("Must validate \"then\" as \"if\" was valid"));
                merge(r, &y);
            }
            sres_free(&y);
        }
        if (els && !ok) {
            struct sres y;
            sub_validate(c, els, v, ctx, &y);
            if (y.n) {
                add_error(r, ctx, "condition_else", strdup("Must validate \"else\" as \"if\" was not valid"));
                merge(r, &y);
            }
            sres_free(&y);
        }
    }
    r->score++;
}

static void validate_common(const struct rv *s, const struct rv *v, const char *ctx, struct sres *r)
{
    struct rv *cst = rv_object_get_str(s, "const");
    char *vt = NULL;
    if (cst) {
        vt = json_text(v);
        char *ct = json_text(cst);
        if (strcmp(vt, ct) != 0) {
            const char *f = strncmp(ctx, "(Root).", 7) == 0 ? ctx + 7 : ctx;
            add_error(r, ctx, "const", fmt("%s does not match: %s", f, ct));
        }
        free(ct);
    }
    struct rv *en = rv_object_get_str(s, "enum");
    if (en && en->type == RV_ARRAY) {
        if (!vt)
            vt = json_text(v);
        bool found = false;
        struct sbuf all = { 0 };
        for (size_t i = 0; i < en->u.arr.len; i++) {
            char *t = json_text(en->u.arr.v[i]);
            if (strcmp(t, vt) == 0)
                found = true;
            if (i)
                sb_puts(&all, ", ");
            sb_puts(&all, t);
            free(t);
        }
        char *alls = sb_steal(&all);
        if (!found) {
            const char *f = strncmp(ctx, "(Root).", 7) == 0 ? ctx + 7 : ctx;
            add_error(r, ctx, "enum", fmt("%s must be one of the following: %s", f, alls ? alls : ""));
        }
        free(alls);
    }
    free(vt);
    r->score++;
}

static void validate_array(struct sctx *c, const struct rv *s, const struct rv *v, const char *ctx, struct sres *r)
{
    size_t n = v->u.arr.len;
    struct rv *items = rv_object_get_str(s, "items");
    if (items && (items->type == RV_OBJECT || items->type == RV_BOOL)) {
        for (size_t i = 0; i < n; i++) {
            char *sub = index_ctx(ctx, i);
            struct sres x;
            sub_validate(c, items, v->u.arr.v[i], sub, &x);
            merge(r, &x);
            free(sub);
        }
    } else if (items && items->type == RV_ARRAY && items->u.arr.len) {
        size_t ni = items->u.arr.len;
        for (size_t i = 0; i < ni && i < n; i++) {
            char *sub = index_ctx(ctx, i);
            struct sres x;
            sub_validate(c, items->u.arr.v[i], v->u.arr.v[i], sub, &x);
            merge(r, &x);
            free(sub);
        }
        struct rv *ai = rv_object_get_str(s, "additionalItems");
        if (ni < n && ai) {
            if (ai->type == RV_BOOL) {
                if (!ai->u.b)
                    add_error(r, ctx, "array_no_additional_items", strdup("No additional items allowed on array"));
            } else {
                for (size_t i = ni; i < n; i++) {
                    char *sub = index_ctx(ctx, i);
                    struct sres x;
                    sub_validate(c, ai, v->u.arr.v[i], sub, &x);
                    merge(r, &x);
                    free(sub);
                }
            }
        }
    }
    int64_t lim;
    struct rv *mi = rv_object_get_str(s, "minItems");
    if (mi && rv_as_int(mi, &lim) && (int64_t)n < lim)
        add_error(r, ctx, "array_min_items", fmt("Array must have at least %lld items", (long long)lim));
    struct rv *ma = rv_object_get_str(s, "maxItems");
    if (ma && rv_as_int(ma, &lim) && (int64_t)n > lim)
        add_error(r, ctx, "array_max_items", fmt("Array must have at most %lld items", (long long)lim));
    struct rv *ui = rv_object_get_str(s, "uniqueItems");
    if (ui && ui->type == RV_BOOL && ui->u.b) {
        char **texts = calloc(n ? n : 1, sizeof *texts);
        if (!texts)
            REGO_OOM();
        for (size_t j = 0; j < n; j++) {
            texts[j] = json_text(v->u.arr.v[j]);
            /* the last earlier index with the same text, as Go's map keeps it */
            for (size_t i = j; i-- > 0;)
                if (strcmp(texts[i], texts[j]) == 0) {
                    add_error(r, ctx, "unique", fmt("array items[%zu,%zu] must be unique", i, j));
                    break;
                }
        }
        for (size_t j = 0; j < n; j++)
            free(texts[j]);
        free(texts);
    }
    struct rv *co = rv_object_get_str(s, "contains");
    if (co) {
        bool ok = false;
        struct sres best = { 0 };
        bool have_best = false;
        for (size_t i = 0; i < n && !ok; i++) {
            char *sub = index_ctx(ctx, i);
            struct sres x;
            sub_validate(c, co, v->u.arr.v[i], sub, &x);
            free(sub);
            if (x.n == 0) {
                ok = true;
                sres_free(&x);
            } else {
                keep_best(&best, &have_best, &x);
            }
        }
        if (!ok) {
            add_error(r, ctx, "contains", strdup("At least one of the items must match"));
            merge(r, &best);
        }
        sres_free(&best);
    }
    r->score++;
}

static void validate_object(struct sctx *c, const struct rv *s, const struct rv *v, const char *ctx, struct sres *r)
{
    size_t n = v->u.obj.len;
    int64_t lim;
    struct rv *mi = rv_object_get_str(s, "minProperties");
    if (mi && rv_as_int(mi, &lim) && (int64_t)n < lim)
        add_error(r, ctx, "array_min_properties", fmt("Must have at least %lld properties", (long long)lim));
    struct rv *ma = rv_object_get_str(s, "maxProperties");
    if (ma && rv_as_int(ma, &lim) && (int64_t)n > lim)
        add_error(r, ctx, "array_max_properties", fmt("Must have at most %lld properties", (long long)lim));
    struct rv *req = rv_object_get_str(s, "required");
    for (size_t i = 0; req && req->type == RV_ARRAY && i < req->u.arr.len; i++) {
        struct rv *k = req->u.arr.v[i];
        if (rv_object_get(v, k))
            r->score++;
        else if (k->type == RV_STRING)
            add_error(r, ctx, "required", fmt("%.*s is required", (int)SL(k), S(k)));
    }
    struct rv *props = rv_object_get_str(s, "properties");
    struct rv *pp = rv_object_get_str(s, "patternProperties");
    struct rv *ap = rv_object_get_str(s, "additionalProperties");
    for (size_t i = 0; i < n; i++) {
        struct rv *k = v->u.obj.k[i];
        if (k->type != RV_STRING)
            continue;
        bool found = props && props->type == RV_OBJECT && rv_object_get(props, k);
        bool ppmatch = false;
        for (size_t j = 0; pp && pp->type == RV_OBJECT && j < pp->u.obj.len; j++) {
            struct rv *pk = pp->u.obj.k[j];
            struct rego_re *re = NULL;
            if (pk->type != RV_STRING || rego_re_compile(S(pk), SL(pk), &re, NULL, 0) < 0)
                continue;
            if (rego_re_is_match(re, S(k), SL(k)) == 1) {
                ppmatch = true;
                char *sub = child_ctx(ctx, S(k), SL(k));
                struct sres x;
                sub_validate(c, pp->u.obj.v[j], v->u.obj.v[i], sub, &x);
                merge(r, &x);
                free(sub);
            }
            rego_re_free(re);
        }
        if (ppmatch)
            r->score++;
        if (!found && !ppmatch && ap) {
            if (ap->type == RV_BOOL) {
                if (!ap->u.b)
                    add_error(r, ctx, "additional_property_not_allowed",
                              fmt("Additional property %.*s is not allowed", (int)SL(k), S(k)));
            } else {
                char *sub = child_ctx(ctx, S(k), SL(k));
                struct sres x;
                sub_validate(c, ap, v->u.obj.v[i], sub, &x);
                merge(r, &x);
                free(sub);
            }
        }
    }
    struct rv *pn = rv_object_get_str(s, "propertyNames");
    for (size_t i = 0; pn && i < n; i++) {
        struct rv *k = v->u.obj.k[i];
        struct sres x;
        sub_validate(c, pn, k, ctx, &x);
        if (x.n && k->type == RV_STRING) {
            add_error(r, ctx, "invalid_property_name",
                      fmt("Property name of \"%.*s\" does not match", (int)SL(k), S(k)));
            merge(r, &x);
        }
        sres_free(&x);
    }
    r->score++;
}

static void validate_string(const struct rv *s, const struct rv *v, const char *ctx, struct sres *r)
{
    if (v->type != RV_STRING)
        return;
    size_t runes = uni_rune_count(S(v), SL(v));
    int64_t lim;
    struct rv *mi = rv_object_get_str(s, "minLength");
    if (mi && rv_as_int(mi, &lim) && (int64_t)runes < lim)
        add_error(r, ctx, "string_gte", fmt("String length must be greater than or equal to %lld", (long long)lim));
    struct rv *ma = rv_object_get_str(s, "maxLength");
    if (ma && rv_as_int(ma, &lim) && (int64_t)runes > lim)
        add_error(r, ctx, "string_lte", fmt("String length must be less than or equal to %lld", (long long)lim));
    struct rv *pat = rv_object_get_str(s, "pattern");
    if (pat && pat->type == RV_STRING) {
        struct rego_re *re = NULL;
        if (rego_re_compile(S(pat), SL(pat), &re, NULL, 0) == 0 && rego_re_is_match(re, S(v), SL(v)) != 1)
            add_error(r, ctx, "pattern", fmt("Does not match pattern '%.*s'", (int)SL(pat), S(pat)));
        rego_re_free(re);
    }
    r->score++;
}

static int num_cmp(const struct rv *a, const struct rv *b)
{
    return rv_compare(a, b);
}

static void validate_number(const struct rv *s, const struct rv *v, const char *ctx, struct sres *r)
{
    if (v->type != RV_NUMBER)
        return;
    struct rv *mo = rv_object_get_str(s, "multipleOf");
    if (mo && mo->type == RV_NUMBER && rv_sign(mo) > 0) {
        double q = rv_as_double(v) / rv_as_double(mo);
        if (!isfinite(q) || q != floor(q)) {
            char *t = num_text(mo);
            add_error(r, ctx, "multiple_of", fmt("Must be a multiple of %s", t));
            free(t);
        }
    }
    struct rv *mx = rv_object_get_str(s, "maximum"), *mn = rv_object_get_str(s, "minimum");
    struct rv *xmx = rv_object_get_str(s, "exclusiveMaximum"), *xmn = rv_object_get_str(s, "exclusiveMinimum");
    /* draft 4: exclusiveMaximum: true makes maximum exclusive */
    bool d4max = xmx && xmx->type == RV_BOOL && xmx->u.b, d4min = xmn && xmn->type == RV_BOOL && xmn->u.b;
    if (xmx && xmx->type != RV_NUMBER)
        xmx = d4max ? mx : NULL;
    if (xmn && xmn->type != RV_NUMBER)
        xmn = d4min ? mn : NULL;
    if (d4max)
        mx = NULL;
    if (d4min)
        mn = NULL;
    if (mx && mx->type == RV_NUMBER && num_cmp(v, mx) > 0) {
        char *t = num_text(mx);
        add_error(r, ctx, "number_lte", fmt("Must be less than or equal to %s", t));
        free(t);
    }
    if (xmx && num_cmp(v, xmx) >= 0) {
        char *t = num_text(xmx);
        add_error(r, ctx, "number_lt", fmt("Must be less than %s", t));
        free(t);
    }
    if (mn && mn->type == RV_NUMBER && num_cmp(v, mn) < 0) {
        char *t = num_text(mn);
        add_error(r, ctx, "number_gte", fmt("Must be greater than or equal to %s", t));
        free(t);
    }
    if (xmn && num_cmp(v, xmn) <= 0) {
        char *t = num_text(xmn);
        add_error(r, ctx, "number_gt", fmt("Must be greater than %s", t));
        free(t);
    }
    r->score++;
}

static void validate(struct sctx *c, const struct rv *s, const struct rv *v, const char *ctx, struct sres *r)
{
    if (c->failed)
        return;
    if (s->type == RV_BOOL) {
        if (!s->u.b)
            add_error(r, ctx, "false", strdup("False always fails validation"));
        return;
    }
    if (s->type != RV_OBJECT)
        return;
    if (++c->depth > SCHEMA_MAX_DEPTH) {
        c->depth--;
        schema_err(c, "schema references nested deeper than %d levels", SCHEMA_MAX_DEPTH);
        return;
    }
    struct rv *ref = rv_object_get_str(s, "$ref");
    if (ref && ref->type == RV_STRING) {
        const struct rv *target = resolve_ref(c, ref);
        if (!target)
            schema_err(c, "unsupported or unresolvable $ref '%.*s'", (int)(SL(ref) > 80 ? 80 : SL(ref)), S(ref));
        else
            validate(c, target, v, ctx, r);
        c->depth--;
        return;
    }
    struct rv *t = rv_object_get_str(s, "type");
    const char *given = given_type(v);
    if (t && !(type_contains(t, given) || (v->type == RV_NUMBER && type_contains(t, "number")))) {
        char *tt = types_text(t);
        add_error(r, ctx, "invalid_type", fmt("Invalid type. Expected: %s, given: %s", tt, given));
        free(tt);
        c->depth--;
        return;
    }
    validate_logic(c, s, v, ctx, r);
    switch (v->type) {
    case RV_NULL:
        validate_common(s, v, ctx, r);
        break;
    case RV_NUMBER:
        validate_number(s, v, ctx, r);
        validate_common(s, v, ctx, r);
        validate_string(s, v, ctx, r);
        break;
    case RV_ARRAY:
    case RV_SET:
        validate_array(c, s, v, ctx, r);
        validate_common(s, v, ctx, r);
        break;
    case RV_OBJECT: {
        validate_object(c, s, v, ctx, r);
        validate_common(s, v, ctx, r);
        struct rv *props = rv_object_get_str(s, "properties");
        for (size_t i = 0; props && props->type == RV_OBJECT && i < props->u.obj.len; i++) {
            struct rv *k = props->u.obj.k[i];
            struct rv *nv = rv_object_get(v, k);
            if (!nv || k->type != RV_STRING)
                continue;
            char *sub = child_ctx(ctx, S(k), SL(k));
            validate(c, props->u.obj.v[i], nv, sub, r);
            free(sub);
        }
        break;
    }
    default:
        validate_number(s, v, ctx, r);
        validate_common(s, v, ctx, r);
        validate_string(s, v, ctx, r);
        break;
    }
    r->score++;
    c->depth--;
}

/* ------------------------------------------------------------------ builtins */

/* A string operand is JSON text; an object (or array) is used as it is.
 * NULL with *why set otherwise. */
static struct rv *schema_operand(const struct rv *x, const char **why)
{
    if (x->type == RV_STRING) {
        json_error_t je;
        json_t *j = json_loadb(S(x), SL(x), JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
        struct rv *v = j ? rv_from_json(j, NULL) : NULL;
        json_decref(j);
        if (!v)
            *why = "invalid JSON string";
        return v;
    }
    if (x->type == RV_OBJECT || x->type == RV_ARRAY || x->type == RV_SET)
        return rv_incref((struct rv *)x);
    *why = "wrong type, expected string or object";
    return NULL;
}

static struct rv *pair(bool ok, struct rv *second)
{
    struct rvbuf b = { 0 };
    rvbuf_push(&b, rv_bool(ok));
    rvbuf_push(&b, second);
    return rv_array_take(&b);
}

BI_FN(bi_json_verify_schema)
{
    const char *why = NULL;
    struct rv *s = schema_operand(a[0], &why);
    if (!s) {
        char *m = fmt("jsonschema: %s", why);
        *out = pair(false, rv_string_take(m, strlen(m)));
        return 0;
    }
    struct sctx c = { .ev = ev, .root = s };
    int rc = check_schema(&c, s);
    rv_decref(s);
    if (rc < 0) {
        char *m = fmt("jsonschema: %s", c.why);
        *out = pair(false, rv_string_take(m, strlen(m)));
        return 0;
    }
    *out = pair(true, rv_null());
    return 0;
}

BI_FN(bi_json_match_schema)
{
    const char *why = NULL;
    struct rv *doc = schema_operand(a[0], &why);
    if (!doc)
        return bi_error(ev, "%s", why);
    struct rv *s = schema_operand(a[1], &why);
    if (!s) {
        rv_decref(doc);
        return bi_error(ev, "%s", why);
    }
    struct sctx c = { .ev = ev, .root = s };
    if (check_schema(&c, s) < 0) {
        rv_decref(doc);
        rv_decref(s);
        return bi_error(ev, "%s", c.why);
    }
    struct sres r = { 0 };
    validate(&c, s, doc, "(Root)", &r);
    rv_decref(doc);
    rv_decref(s);
    if (c.failed) {
        sres_free(&r);
        return bi_error(ev, "%s", c.why);
    }
    struct rvbuf errs = { 0 };
    for (size_t i = 0; i < r.n; i++) {
        struct rvbuf k = { 0 }, v = { 0 };
        rvbuf_push(&k, rv_cstr("desc"));
        rvbuf_push(&v, rv_cstr(r.e[i].desc));
        rvbuf_push(&k, rv_cstr("error"));
        char *e = fmt("%s: %s", r.e[i].field, r.e[i].desc);
        rvbuf_push(&v, rv_string_take(e, strlen(e)));
        rvbuf_push(&k, rv_cstr("field"));
        rvbuf_push(&v, rv_cstr(r.e[i].field));
        rvbuf_push(&k, rv_cstr("type"));
        rvbuf_push(&v, rv_cstr(r.e[i].type));
        rvbuf_push(&errs, rv_object_take(&k, &v));
    }
    bool ok = r.n == 0;
    sres_free(&r);
    *out = pair(ok, rv_array_take(&errs));
    return 0;
}
