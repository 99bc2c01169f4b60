/* json.filter, json.remove and json.patch (RFC 6902), with OPA's path
 * syntax: a string "a/b/c" (a leading '/' ignored, "~1" for '/', "~0" for
 * '~') or an array of segments. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rego/bi.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

/* Path segments as values (borrowed from the array, or new strings). */
struct path {
    struct rvbuf seg;
};

static int parse_path(struct ev *ev, struct rv *p, struct path *out)
{
    memset(out, 0, sizeof *out);
    if (p->type == RV_STRING) {
        if (SL(p) == 0)
            return 0;
        const char *s = S(p), *end = s + SL(p);
        while (s < end && *s == '/')
            s++;
        for (;;) {
            const char *q = memchr(s, '/', (size_t)(end - s));
            const char *e = q ? q : end;
            struct sbuf b = { 0 };
            for (const char *c = s; c < e; c++) {
                if (c[0] == '~' && c + 1 < e && c[1] == '1') {
                    sb_putc(&b, '/');
                    c++;
                } else {
                    sb_putc(&b, c[0]);
                }
            }
            /* "~1" then "~0", as strings.ReplaceAll twice */
            struct sbuf b2 = { 0 };
            for (size_t i = 0; i < b.len; i++) {
                if (b.s[i] == '~' && i + 1 < b.len && b.s[i + 1] == '0') {
                    sb_putc(&b2, '~');
                    i++;
                } else {
                    sb_putc(&b2, b.s[i]);
                }
            }
            free(b.s);
            if (!b2.s)
                sb_add(&b2, "", 0);
            rvbuf_push(&out->seg, bi_string_of(&b2));
            if (!q)
                break;
            s = q + 1;
        }
        return 0;
    }
    if (p->type == RV_ARRAY) {
        for (size_t i = 0; i < p->u.arr.len; i++)
            rvbuf_push(&out->seg, rv_incref(p->u.arr.v[i]));
        return 0;
    }
    return bi_type_error(ev, "operand 2 must be one of {set, array} containing string paths or array of path segments but got %s",
                         rv_type_name(p));
}

/* obj with key (borrowed) set to val (taken). */
static struct rv *put_take(const struct rv *obj, struct rv *key, struct rv *val)
{
    struct rv *r = rv_object_put(obj, key, val);
    rv_decref(val);
    return r;
}

/* OPA's pathsToObject: a tree of objects whose leaves are null. */
static struct rv *tree_insert(struct rv *node, struct rv **seg, size_t n)
{
    if (n == 1)
        return rv_object_put(node, seg[0], rv_null());
    struct rv *child = rv_object_get(node, seg[0]);
    if (child && child->type == RV_NULL)
        return rv_incref(node);
    struct rv *empty = child ? NULL : rv_empty_object();
    struct rv *sub = tree_insert(child ? child : empty, seg + 1, n - 1);
    rv_decref(empty);
    return put_take(node, seg[0], sub);
}

static int paths_tree(struct ev *ev, struct rv *paths, struct rv **out)
{
    if (paths->type != RV_ARRAY && paths->type != RV_SET)
        return bi_type_error(ev, "operand 2 must be one of {set, array} but got %s", rv_type_name(paths));
    struct rv *root = rv_empty_object();
    for (size_t i = 0; i < paths->u.arr.len; i++) {
        struct path p;
        if (parse_path(ev, paths->u.arr.v[i], &p) < 0) {
            rvbuf_clear(&p.seg);
            rv_decref(root);
            return -1;
        }
        if (p.seg.len) {
            struct rv *next = tree_insert(root, p.seg.v, p.seg.len);
            rv_decref(root);
            root = next;
        }
        rvbuf_clear(&p.seg);
    }
    *out = root;
    return 0;
}

static struct rv *index_key(size_t i)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%zu", i);
    return rv_cstr(buf);
}

/* ast.Object.Filter */
static struct rv *filter(struct rv *v, struct rv *f)
{
    if (f->type == RV_NULL || f->type != RV_OBJECT)
        return rv_incref(v);
    struct rvbuf b = { 0 }, k = { 0 };
    switch (v->type) {
    case RV_ARRAY:
        for (size_t i = 0; i < v->u.arr.len; i++) {
            struct rv *key = index_key(i), *sub = rv_object_get(f, key);
            rv_decref(key);
            if (sub)
                rvbuf_push(&b, filter(v->u.arr.v[i], sub));
        }
        return rv_array_take(&b);
    case RV_SET:
        for (size_t i = 0; i < v->u.arr.len; i++) {
            struct rv *sub = rv_object_get(f, v->u.arr.v[i]);
            if (sub)
                rvbuf_push(&b, filter(v->u.arr.v[i], sub));
        }
        return rv_set_take(&b);
    case RV_OBJECT:
        for (size_t i = 0; i < v->u.obj.len; i++) {
            struct rv *sub = rv_object_get(f, v->u.obj.k[i]);
            if (sub) {
                rvbuf_push(&k, rv_incref(v->u.obj.k[i]));
                rvbuf_push(&b, filter(v->u.obj.v[i], sub));
            }
        }
        return rv_object_take(&k, &b);
    default:
        return rv_incref(v);
    }
}

BI_FN(bi_json_filter)
{
    WANT(0, RV_OBJECT);
    struct rv *tree;
    if (paths_tree(ev, a[1], &tree) < 0)
        return -1;
    *out = filter(a[0], tree);
    rv_decref(tree);
    return 0;
}

/* jsonRemove: NULL when the value is removed. */
static struct rv *remove_paths(struct rv *v, struct rv *f)
{
    if (!f)
        return rv_incref(v);
    if (f->type == RV_NULL)
        return NULL;
    if (f->type != RV_OBJECT)
        return rv_incref(v);
    struct rvbuf b = { 0 }, k = { 0 };
    switch (v->type) {
    case RV_OBJECT:
        for (size_t i = 0; i < v->u.obj.len; i++) {
            struct rv *r = remove_paths(v->u.obj.v[i], rv_object_get(f, v->u.obj.k[i]));
            if (r) {
                rvbuf_push(&k, rv_incref(v->u.obj.k[i]));
                rvbuf_push(&b, r);
            }
        }
        return rv_object_take(&k, &b);
    case RV_SET:
        for (size_t i = 0; i < v->u.arr.len; i++) {
            struct rv *r = remove_paths(v->u.arr.v[i], rv_object_get(f, v->u.arr.v[i]));
            if (r)
                rvbuf_push(&b, r);
        }
        return rv_set_take(&b);
    case RV_ARRAY:
        for (size_t i = 0; i < v->u.arr.len; i++) {
            struct rv *key = index_key(i);
            struct rv *r = remove_paths(v->u.arr.v[i], rv_object_get(f, key));
            rv_decref(key);
            if (r)
                rvbuf_push(&b, r);
        }
        return rv_array_take(&b);
    default:
        return rv_incref(v);
    }
}

BI_FN(bi_json_remove)
{
    WANT(0, RV_OBJECT);
    struct rv *tree;
    if (paths_tree(ev, a[1], &tree) < 0)
        return -1;
    *out = remove_paths(a[0], tree);
    rv_decref(tree);
    if (!*out)
        return BI_UNDEFINED;
    return 0;
}

/* ------------------------------------------------------------------ json.patch */

/* An array index segment: a number, or a string of digits; "-" (append)
 * only where allowed. */
static bool seg_index(const struct rv *seg, size_t len, bool allow_end, size_t *idx)
{
    int64_t i;
    if (seg->type == RV_NUMBER) {
        if (!rv_as_int(seg, &i))
            return false;
    } else if (seg->type == RV_STRING) {
        if (allow_end && SL(seg) == 1 && S(seg)[0] == '-') {
            *idx = len;
            return true;
        }
        if (SL(seg) == 0 || SL(seg) > 18 || (SL(seg) > 1 && S(seg)[0] == '0'))
            return false;
        for (size_t k = 0; k < SL(seg); k++)
            if (!isdigit((unsigned char)S(seg)[k]))
                return false;
        i = strtoll(S(seg), NULL, 10);
    } else {
        return false;
    }
    if (i < 0 || (uint64_t)i > len || (!allow_end && (uint64_t)i == len))
        return false;
    *idx = (size_t)i;
    return true;
}

static struct rv *child_at(struct rv *c, struct rv *seg)
{
    size_t i;
    switch (c->type) {
    case RV_OBJECT:
        return rv_object_get(c, seg);
    case RV_ARRAY:
        return seg_index(seg, c->u.arr.len, false, &i) ? c->u.arr.v[i] : NULL;
    case RV_SET:
        return rv_set_find(c, seg);
    default:
        return NULL;
    }
}

/* c with its child at seg replaced by repl (take); NULL when impossible. */
static struct rv *with_child(struct rv *c, struct rv *seg, struct rv *repl)
{
    struct rvbuf b = { 0 };
    size_t idx;
    switch (c->type) {
    case RV_OBJECT:
        return put_take(c, seg, repl);
    case RV_ARRAY:
        if (!seg_index(seg, c->u.arr.len, false, &idx))
            break;
        for (size_t i = 0; i < c->u.arr.len; i++)
            rvbuf_push(&b, i == idx ? rv_incref(repl) : rv_incref(c->u.arr.v[i]));
        rv_decref(repl);
        return rv_array_take(&b);
    case RV_SET:
        for (size_t i = 0; i < c->u.arr.len; i++)
            if (!rv_equal(c->u.arr.v[i], seg))
                rvbuf_push(&b, rv_incref(c->u.arr.v[i]));
        rvbuf_push(&b, repl);
        return rv_set_take(&b);
    default:
        break;
    }
    rv_decref(repl);
    return NULL;
}

static struct rv *patch_insert(struct rv *doc, struct rv **seg, size_t n, struct rv *value)
{
    if (n == 0)
        return rv_incref(value);
    if (n > 1) {
        struct rv *child = child_at(doc, seg[0]);
        if (!child)
            return NULL;
        struct rv *sub = patch_insert(child, seg + 1, n - 1, value);
        return sub ? with_child(doc, seg[0], sub) : NULL;
    }
    struct rvbuf b = { 0 };
    size_t idx;
    switch (doc->type) {
    case RV_OBJECT:
        return rv_object_put(doc, seg[0], value);
    case RV_ARRAY:
        if (!seg_index(seg[0], doc->u.arr.len, true, &idx))
            return NULL;
        for (size_t i = 0; i <= doc->u.arr.len; i++) {
            if (i == idx)
                rvbuf_push(&b, rv_incref(value));
            if (i < doc->u.arr.len)
                rvbuf_push(&b, rv_incref(doc->u.arr.v[i]));
        }
        return rv_array_take(&b);
    case RV_SET:
        for (size_t i = 0; i < doc->u.arr.len; i++)
            rvbuf_push(&b, rv_incref(doc->u.arr.v[i]));
        rvbuf_push(&b, rv_incref(value));
        return rv_set_take(&b);
    default:
        return NULL;
    }
}

static struct rv *patch_delete(struct rv *doc, struct rv **seg, size_t n)
{
    if (n == 0)
        return NULL;
    if (n > 1) {
        struct rv *child = child_at(doc, seg[0]);
        if (!child)
            return NULL;
        struct rv *sub = patch_delete(child, seg + 1, n - 1);
        return sub ? with_child(doc, seg[0], sub) : NULL;
    }
    if (!child_at(doc, seg[0]))
        return NULL;
    struct rvbuf b = { 0 }, k = { 0 };
    size_t idx = 0;
    switch (doc->type) {
    case RV_OBJECT:
        for (size_t i = 0; i < doc->u.obj.len; i++)
            if (!rv_equal(doc->u.obj.k[i], seg[0])) {
                rvbuf_push(&k, rv_incref(doc->u.obj.k[i]));
                rvbuf_push(&b, rv_incref(doc->u.obj.v[i]));
            }
        return rv_object_take(&k, &b);
    case RV_ARRAY:
        seg_index(seg[0], doc->u.arr.len, false, &idx);
        for (size_t i = 0; i < doc->u.arr.len; i++)
            if (i != idx)
                rvbuf_push(&b, rv_incref(doc->u.arr.v[i]));
        return rv_array_take(&b);
    case RV_SET:
        for (size_t i = 0; i < doc->u.arr.len; i++)
            if (!rv_equal(doc->u.arr.v[i], seg[0]))
                rvbuf_push(&b, rv_incref(doc->u.arr.v[i]));
        return rv_set_take(&b);
    default:
        return NULL;
    }
}

static struct rv *patch_get(struct rv *doc, struct rv **seg, size_t n)
{
    for (size_t i = 0; i < n && doc; i++)
        doc = child_at(doc, seg[i]);
    return doc;
}

/* One operation; < 0 when it cannot apply (the result is undefined). */
static int apply_op(struct ev *ev, struct rv **doc, struct rv *op)
{
    if (op->type != RV_OBJECT)
        return -1;
    struct rv *name = rv_object_get_str(op, "op"), *pathv = rv_object_get_str(op, "path");
    if (!name || name->type != RV_STRING || !pathv)
        return -1;
    const char *o = S(name);
    bool needs_from = !strcmp(o, "move") || !strcmp(o, "copy");
    bool needs_value = !strcmp(o, "add") || !strcmp(o, "replace") || !strcmp(o, "test");
    if (!needs_from && !needs_value && strcmp(o, "remove"))
        return -1;
    struct rv *value = rv_object_get_str(op, "value"), *fromv = rv_object_get_str(op, "from");
    if ((needs_value && !value) || (needs_from && !fromv))
        return -1;
    struct path p, f = { 0 };
    if (parse_path(ev, pathv, &p) < 0) {
        rvbuf_clear(&p.seg);
        return -1;
    }
    if (needs_from && parse_path(ev, fromv, &f) < 0) {
        rvbuf_clear(&p.seg);
        rvbuf_clear(&f.seg);
        return -1;
    }
    struct rv *next = NULL;
    if (!strcmp(o, "add")) {
        next = patch_insert(*doc, p.seg.v, p.seg.len, value);
    } else if (!strcmp(o, "remove")) {
        next = patch_delete(*doc, p.seg.v, p.seg.len);
    } else if (!strcmp(o, "replace") && p.seg.len == 0) {
        next = rv_incref(value);   /* the whole document */
    } else if (!strcmp(o, "replace")) {
        struct rv *d = patch_delete(*doc, p.seg.v, p.seg.len);
        if (d) {
            next = patch_insert(d, p.seg.v, p.seg.len, value);
            rv_decref(d);
        }
    } else if (!strcmp(o, "test")) {
        struct rv *got = patch_get(*doc, p.seg.v, p.seg.len);
        if (got && rv_equal(got, value))
            next = rv_incref(*doc);
    } else {
        struct rv *chunk = patch_get(*doc, f.seg.v, f.seg.len);
        if (chunk) {
            chunk = rv_incref(chunk);
            if (!strcmp(o, "move")) {
                struct rv *d = patch_delete(*doc, f.seg.v, f.seg.len);
                if (d) {
                    next = patch_insert(d, p.seg.v, p.seg.len, chunk);
                    rv_decref(d);
                }
            } else {
                next = patch_insert(*doc, p.seg.v, p.seg.len, chunk);
            }
            rv_decref(chunk);
        }
    }
    rvbuf_clear(&p.seg);
    rvbuf_clear(&f.seg);
    if (!next)
        return -1;
    rv_decref(*doc);
    *doc = next;
    return 0;
}

BI_FN(bi_json_patch)
{
    WANT(1, RV_ARRAY);
    struct rv *doc = rv_incref(a[0]);
    for (size_t i = 0; i < a[1]->u.arr.len; i++) {
        if (apply_op(ev, &doc, a[1]->u.arr.v[i]) < 0 || rv_budget_exceeded()) {
            rv_decref(doc);
            /* OPA: a patch that does not apply makes the result undefined */
            ev->err->code[0] = 0;
            return BI_UNDEFINED;
        }
    }
    *out = doc;
    return 0;
}

/* json.marshal_with_options(x, {"pretty": bool, "indent": s, "prefix": s}):
 * json.marshal's text, or Go's json.MarshalIndent of it (prefix and indent
 * make it pretty unless "pretty": false). */
static void json_indent(struct sbuf *out, const char *s, size_t n, const char *prefix, size_t plen,
                        const char *indent, size_t ilen)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            sb_add(out, s + i, (j < n ? j + 1 : n) - i);
            i = j;
            continue;
        }
        if (c == '{' || c == '[') {
            sb_putc(out, c);
            if (i + 1 < n && (s[i + 1] == '}' || s[i + 1] == ']')) {
                sb_putc(out, s[++i]);
                continue;
            }
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',') {
            sb_putc(out, c);
        } else if (c == ':') {
            sb_puts(out, ": ");
            continue;
        } else {
            sb_putc(out, c);
            continue;
        }
        if (c == '}' || c == ']' || c == ',' || c == '{' || c == '[') {
            sb_putc(out, '\n');
            sb_add(out, prefix, plen);
            for (int d = 0; d < depth; d++)
                sb_add(out, indent, ilen);
            if (c == '}' || c == ']')
                sb_putc(out, c);
        }
    }
}

BI_FN(bi_json_marshal_with_options)
{
    WANT(1, RV_OBJECT);
    const char *indent = "\t", *prefix = "";
    size_t ilen = 1, plen = 0;
    bool implicit = false, explicit_set = false, pretty = false;
    struct rv *o = a[1];
    for (size_t i = 0; i < o->u.obj.len; i++) {
        struct rv *k = o->u.obj.k[i], *v = o->u.obj.v[i];
        if (k->type != RV_STRING)
            return bi_type_error(ev, "operand 2 failed to stringify key at index %zu", i);
        if (SL(k) == 6 && !memcmp(S(k), "prefix", 6)) {
            if (v->type != RV_STRING)
                return bi_type_error(ev, "operand 2 key prefix failed cast to string");
            prefix = S(v);
            plen = SL(v);
            implicit = true;
        } else if (SL(k) == 6 && !memcmp(S(k), "indent", 6)) {
            if (v->type != RV_STRING)
                return bi_type_error(ev, "operand 2 key indent failed cast to string");
            indent = S(v);
            ilen = SL(v);
            implicit = true;
        } else if (SL(k) == 6 && !memcmp(S(k), "pretty", 6)) {
            if (v->type != RV_BOOL)
                return bi_type_error(ev, "operand 2 key pretty failed cast to bool");
            explicit_set = true;
            pretty = v->u.b;
        } else {
            return bi_type_error(ev, "operand 2 object contained unknown key \"%.*s\"", (int)(SL(k) > 100 ? 100 : SL(k)),
                                 S(k));
        }
    }
    if (!explicit_set)
        pretty = implicit;
    struct sbuf b = { 0 };
    rv_write(&b, a[0], true);
    if (!pretty) {
        size_t len = b.len;
        *out = len ? rv_string_take(sb_steal(&b), len) : rv_string("", 0);
        return 0;
    }
    struct sbuf p = { 0 };
    sb_add(&p, prefix, plen);   /* MarshalIndent starts with the prefix */
    json_indent(&p, b.s ? b.s : "", b.len, prefix, plen, indent, ilen);
    free(b.s);
    size_t len = p.len;
    *out = len ? rv_string_take(sb_steal(&p), len) : rv_string("", 0);
    return 0;
}
