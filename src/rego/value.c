/* Rego values; the ownership rule is in value.h. */
#include "rego/value.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static struct rv rv_null_v = { .refs = 0, .type = RV_NULL };
static struct rv rv_true_v = { .refs = 0, .type = RV_BOOL, .u.b = true };
static struct rv rv_false_v = { .refs = 0, .type = RV_BOOL, .u.b = false };

static struct rv *rv_alloc(enum rv_type t)
{
    struct rv *v = xmalloc(sizeof *v);
    memset(v, 0, sizeof *v);
    v->refs = 1;
    v->type = (uint8_t)t;
    return v;
}

void rv_free_(struct rv *v)
{
    size_t i;
    switch (v->type) {
    case RV_STRING:
        free(v->u.str.s);
        break;
    case RV_ARRAY:
    case RV_SET:
        for (i = 0; i < v->u.arr.len; i++)
            rv_decref(v->u.arr.v[i]);
        free(v->u.arr.v);
        break;
    case RV_OBJECT:
        for (i = 0; i < v->u.obj.len; i++) {
            rv_decref(v->u.obj.k[i]);
            rv_decref(v->u.obj.v[i]);
        }
        free(v->u.obj.k);
        free(v->u.obj.v);
        break;
    default:
        break;
    }
    free(v);
}

struct rv *rv_null(void) { return &rv_null_v; }
struct rv *rv_bool(bool b) { return b ? &rv_true_v : &rv_false_v; }

/* Small integers are immortal singletons: array indexes and counts are
 * made constantly during evaluation. */
#define SMALL_INT_MIN -16
#define SMALL_INT_MAX 1024
static struct rv small_ints[SMALL_INT_MAX - SMALL_INT_MIN + 1];

__attribute__((constructor)) static void small_ints_init(void)
{
    for (int64_t i = SMALL_INT_MIN; i <= SMALL_INT_MAX; i++) {
        struct rv *s = &small_ints[i - SMALL_INT_MIN];
        s->type = RV_NUMBER;
        s->is_int = 1;
        s->u.i = i;
    }
}

struct rv *rv_int(int64_t i)
{
    if (i >= SMALL_INT_MIN && i <= SMALL_INT_MAX)
        return &small_ints[i - SMALL_INT_MIN];
    struct rv *v = rv_alloc(RV_NUMBER);
    v->is_int = 1;
    v->u.i = i;
    return v;
}

struct rv *rv_double(double d)
{
    if (d == 0)
        return rv_int(0);
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return rv_int((int64_t)d);
    struct rv *v = rv_alloc(RV_NUMBER);
    v->u.d = d;
    return v;
}

struct rv *rv_string_take(char *s, size_t len)
{
    struct rv *v = rv_alloc(RV_STRING);
    v->u.str.s = s;
    v->u.str.len = len;
    return v;
}

struct rv *rv_string(const char *s, size_t len)
{
    char *c = xmalloc(len + 1);
    memcpy(c, s, len);
    c[len] = 0;
    return rv_string_take(c, len);
}

struct rv *rv_cstr(const char *s) { return rv_string(s, strlen(s)); }

void rvbuf_push(struct rvbuf *b, struct rv *take)
{
    if (b->len == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->v = xrealloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->len++] = take;
}

void rvbuf_clear(struct rvbuf *b)
{
    for (size_t i = 0; i < b->len; i++)
        rv_decref(b->v[i]);
    free(b->v);
    b->v = NULL;
    b->len = b->cap = 0;
}

struct rv *rv_array_take(struct rvbuf *b)
{
    struct rv *v = rv_alloc(RV_ARRAY);
    v->u.arr.len = b->len;
    v->u.arr.v = b->v;
    b->v = NULL;
    b->len = b->cap = 0;
    return v;
}

int rv_qsort_cmp(const void *a, const void *b)
{
    return rv_compare(*(struct rv *const *)a, *(struct rv *const *)b);
}

struct rv *rv_set_take(struct rvbuf *b)
{
    struct rv *v = rv_alloc(RV_SET);
    if (b->len > 1) {
        qsort(b->v, b->len, sizeof *b->v, rv_qsort_cmp);
        size_t o = 1;
        for (size_t i = 1; i < b->len; i++) {
            if (rv_compare(b->v[o - 1], b->v[i]) == 0)
                rv_decref(b->v[i]);
            else
                b->v[o++] = b->v[i];
        }
        b->len = o;
    }
    v->u.arr.len = b->len;
    v->u.arr.v = b->v;
    b->v = NULL;
    b->len = b->cap = 0;
    return v;
}

struct kv {
    struct rv *k, *v;
};

static int kv_cmp(const void *a, const void *b)
{
    return rv_compare(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

struct rv *rv_object_take(struct rvbuf *keys, struct rvbuf *vals)
{
    size_t n = keys->len, i, o;
    struct kv *kv = xmalloc(n * sizeof *kv);
    bool sorted = true;
    for (i = 0; i < n; i++) {
        kv[i].k = keys->v[i];
        kv[i].v = vals->v[i];
        if (i && sorted && rv_compare(kv[i - 1].k, kv[i].k) >= 0)
            sorted = false;
    }
    free(keys->v);
    free(vals->v);
    keys->v = vals->v = NULL;
    keys->len = keys->cap = vals->len = vals->cap = 0;
    bool conflict = false;
    o = n;
    if (!sorted) {
        qsort(kv, n, sizeof *kv, kv_cmp);
        o = n ? 1 : 0;
        for (i = 1; i < n; i++) {
            if (rv_compare(kv[o - 1].k, kv[i].k) == 0) {
                if (!rv_equal(kv[o - 1].v, kv[i].v))
                    conflict = true;
                rv_decref(kv[i].k);
                rv_decref(kv[i].v);
            } else {
                kv[o++] = kv[i];
            }
        }
    }
    struct rv *v = rv_alloc(RV_OBJECT);
    v->u.obj.len = o;
    v->u.obj.k = xmalloc(o * sizeof(struct rv *));
    v->u.obj.v = xmalloc(o * sizeof(struct rv *));
    for (i = 0; i < o; i++) {
        v->u.obj.k[i] = kv[i].k;
        v->u.obj.v[i] = kv[i].v;
    }
    free(kv);
    if (conflict) {
        rv_decref(v);
        return NULL;
    }
    return v;
}

struct rv *rv_empty_array(void)
{
    struct rvbuf b = { 0 };
    return rv_array_take(&b);
}

struct rv *rv_empty_set(void)
{
    struct rvbuf b = { 0 };
    return rv_set_take(&b);
}

struct rv *rv_empty_object(void)
{
    struct rvbuf k = { 0 }, v = { 0 };
    return rv_object_take(&k, &v);
}

static int cmp_num(const struct rv *a, const struct rv *b)
{
    if (a->is_int && b->is_int)
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (a->is_int || b->is_int) {
        /* Compare an int64 with a non-integral double without rounding the int. */
        const struct rv *iv = a->is_int ? a : b;
        double d = a->is_int ? b->u.d : a->u.d;
        int r;
        if (d >= 9223372036854775808.0)
            r = -1;
        else if (d < -9223372036854775808.0)
            r = 1;
        else {
            int64_t f = (int64_t)floor(d);
            /* d is not integral, so iv <= f means iv < d. */
            r = iv->u.i <= f ? -1 : 1;
        }
        return a->is_int ? r : -r;
    }
    return a->u.d < b->u.d ? -1 : a->u.d > b->u.d;
}

int rv_compare(const struct rv *a, const struct rv *b)
{
    size_t i, n;
    int c;
    if (a == b)
        return 0;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    switch (a->type) {
    case RV_NULL:
        return 0;
    case RV_BOOL:
        return (int)a->u.b - (int)b->u.b;
    case RV_NUMBER:
        return cmp_num(a, b);
    case RV_STRING:
        n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
        c = memcmp(a->u.str.s, b->u.str.s, n);
        if (c)
            return c < 0 ? -1 : 1;
        return a->u.str.len < b->u.str.len ? -1 : a->u.str.len > b->u.str.len;
    case RV_ARRAY:
    case RV_SET:
        n = a->u.arr.len < b->u.arr.len ? a->u.arr.len : b->u.arr.len;
        for (i = 0; i < n; i++) {
            c = rv_compare(a->u.arr.v[i], b->u.arr.v[i]);
            if (c)
                return c;
        }
        return a->u.arr.len < b->u.arr.len ? -1 : a->u.arr.len > b->u.arr.len;
    case RV_OBJECT:
        n = a->u.obj.len < b->u.obj.len ? a->u.obj.len : b->u.obj.len;
        for (i = 0; i < n; i++) {
            c = rv_compare(a->u.obj.k[i], b->u.obj.k[i]);
            if (c)
                return c;
            c = rv_compare(a->u.obj.v[i], b->u.obj.v[i]);
            if (c)
                return c;
        }
        return a->u.obj.len < b->u.obj.len ? -1 : a->u.obj.len > b->u.obj.len;
    }
    return 0;
}

static ssize_t bsearch_idx(struct rv *const *arr, size_t n, const struct rv *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = rv_compare(arr[mid], key);
        if (c == 0)
            return (ssize_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

struct rv *rv_object_get(const struct rv *obj, const struct rv *key)
{
    if (obj->type != RV_OBJECT)
        return NULL;
    ssize_t i = bsearch_idx(obj->u.obj.k, obj->u.obj.len, key);
    return i < 0 ? NULL : obj->u.obj.v[i];
}

struct rv *rv_object_get_str(const struct rv *obj, const char *key)
{
    struct rv k = { .refs = 0, .type = RV_STRING };
    k.u.str.s = (char *)key;
    k.u.str.len = strlen(key);
    return rv_object_get(obj, &k);
}

struct rv *rv_set_find(const struct rv *set, const struct rv *key)
{
    if (set->type != RV_SET)
        return NULL;
    ssize_t i = bsearch_idx(set->u.arr.v, set->u.arr.len, key);
    return i < 0 ? NULL : set->u.arr.v[i];
}

struct rv *rv_object_put(const struct rv *obj, struct rv *key, struct rv *val)
{
    struct rvbuf k = { 0 }, v = { 0 };
    for (size_t i = 0; i < obj->u.obj.len; i++) {
        if (rv_equal(obj->u.obj.k[i], key))
            continue;
        rvbuf_push(&k, rv_incref(obj->u.obj.k[i]));
        rvbuf_push(&v, rv_incref(obj->u.obj.v[i]));
    }
    rvbuf_push(&k, rv_incref(key));
    rvbuf_push(&v, rv_incref(val));
    return rv_object_take(&k, &v);
}

struct rv *rv_merge(struct rv *a, struct rv *b, bool *conflict)
{
    if (a->type != RV_OBJECT || b->type != RV_OBJECT) {
        if (conflict && !rv_equal(a, b))
            *conflict = true;
        return rv_incref(b);
    }
    struct rvbuf k = { 0 }, v = { 0 };
    size_t i = 0, j = 0;
    while (i < a->u.obj.len || j < b->u.obj.len) {
        int c;
        if (i == a->u.obj.len)
            c = 1;
        else if (j == b->u.obj.len)
            c = -1;
        else
            c = rv_compare(a->u.obj.k[i], b->u.obj.k[j]);
        if (c < 0) {
            rvbuf_push(&k, rv_incref(a->u.obj.k[i]));
            rvbuf_push(&v, rv_incref(a->u.obj.v[i]));
            i++;
        } else if (c > 0) {
            rvbuf_push(&k, rv_incref(b->u.obj.k[j]));
            rvbuf_push(&v, rv_incref(b->u.obj.v[j]));
            j++;
        } else {
            rvbuf_push(&k, rv_incref(a->u.obj.k[i]));
            rvbuf_push(&v, rv_merge(a->u.obj.v[i], b->u.obj.v[j], conflict));
            i++;
            j++;
        }
    }
    return rv_object_take(&k, &v);
}

bool rv_as_int(const struct rv *v, int64_t *out)
{
    if (v->type != RV_NUMBER || !v->is_int)
        return false;
    *out = v->u.i;
    return true;
}

double rv_as_double(const struct rv *v)
{
    if (v->type != RV_NUMBER)
        return 0;
    return v->is_int ? (double)v->u.i : v->u.d;
}

const char *rv_type_name(const struct rv *v)
{
    static const char *names[] = { "null", "boolean", "number", "string", "array", "object", "set" };
    return names[v->type];
}

/* Largest magnitude at which every integer is exact in a double. */
#define DOUBLE_EXACT 9007199254740992.0

int rv_arith(char op, const struct rv *a, const struct rv *b, struct rv **out, char *err, size_t errlen)
{
    int64_t r;
    if (a->is_int && b->is_int) {
        int64_t x = a->u.i, y = b->u.i;
        switch (op) {
        case '+':
            if (__builtin_add_overflow(x, y, &r))
                goto overflow;
            *out = rv_int(r);
            return 0;
        case '-':
            if (__builtin_sub_overflow(x, y, &r))
                goto overflow;
            *out = rv_int(r);
            return 0;
        case '*':
            if (__builtin_mul_overflow(x, y, &r))
                goto overflow;
            *out = rv_int(r);
            return 0;
        case '/':
            if (y == 0) {
                snprintf(err, errlen, "divide by zero");
                return -1;
            }
            if (x == INT64_MIN && y == -1)
                goto overflow;
            if (x % y == 0) {
                *out = rv_int(x / y);
                return 0;
            }
            if (fabs((double)x) > DOUBLE_EXACT || fabs((double)y) > DOUBLE_EXACT)
                goto inexact;
            *out = rv_double((double)x / (double)y);
            return 0;
        case '%':
            if (y == 0) {
                snprintf(err, errlen, "modulo by zero");
                return -1;
            }
            if (y == -1) {
                *out = rv_int(0);
                return 0;
            }
            *out = rv_int(x % y);
            return 0;
        }
    }
    double x = rv_as_double(a), y = rv_as_double(b), d;
    if ((a->is_int && fabs(x) > DOUBLE_EXACT) || (b->is_int && fabs(y) > DOUBLE_EXACT))
        goto inexact;
    switch (op) {
    case '+': d = x + y; break;
    case '-': d = x - y; break;
    case '*': d = x * y; break;
    case '/':
        if (y == 0) {
            snprintf(err, errlen, "divide by zero");
            return -1;
        }
        d = x / y;
        break;
    case '%':
        if (y == 0) {
            snprintf(err, errlen, "modulo by zero");
            return -1;
        }
        snprintf(err, errlen, "modulo on floating-point number");
        return -1;
    default:
        snprintf(err, errlen, "unknown operator");
        return -1;
    }
    if (!isfinite(d)) {
        snprintf(err, errlen, "arithmetic result out of range");
        return -1;
    }
    *out = rv_double(d);
    return 0;
overflow:
    snprintf(err, errlen, "integer overflow: result does not fit in 64 bits");
    return -1;
inexact:
    snprintf(err, errlen, "arithmetic on integers beyond 2^53 mixed with fractions is not exact");
    return -1;
}

struct rv *rv_from_json(const json_t *j)
{
    struct rvbuf k = { 0 }, v = { 0 };
    switch (json_typeof(j)) {
    case JSON_NULL:
        return rv_null();
    case JSON_TRUE:
        return rv_bool(true);
    case JSON_FALSE:
        return rv_bool(false);
    case JSON_INTEGER:
        return rv_int(json_integer_value(j));
    case JSON_REAL:
        if (!isfinite(json_real_value(j)))
            return NULL;
        return rv_double(json_real_value(j));
    case JSON_STRING:
        return rv_string(json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) {
            struct rv *x = rv_from_json(e);
            if (!x) {
                rvbuf_clear(&v);
                return NULL;
            }
            rvbuf_push(&v, x);
        }
        return rv_array_take(&v);
    }
    case JSON_OBJECT: {
        const char *key;
        size_t klen;
        json_t *e;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)j, tmp, key, klen, e) {
            struct rv *x = rv_from_json(e);
            if (!x) {
                rvbuf_clear(&k);
                rvbuf_clear(&v);
                return NULL;
            }
            rvbuf_push(&k, rv_string(key, klen));
            rvbuf_push(&v, x);
        }
        return rv_object_take(&k, &v);
    }
    }
    return NULL;
}

json_t *rv_to_json(const struct rv *v)
{
    size_t i;
    json_t *j;
    switch (v->type) {
    case RV_NULL:
        return json_null();
    case RV_BOOL:
        return json_boolean(v->u.b);
    case RV_NUMBER:
        return v->is_int ? json_integer(v->u.i) : json_real(v->u.d);
    case RV_STRING:
        return json_stringn(v->u.str.s, v->u.str.len);
    case RV_ARRAY:
    case RV_SET:
        j = json_array();
        for (i = 0; i < v->u.arr.len; i++)
            json_array_append_new(j, rv_to_json(v->u.arr.v[i]));
        return j;
    case RV_OBJECT:
        j = json_object();
        for (i = 0; i < v->u.obj.len; i++) {
            const struct rv *key = v->u.obj.k[i];
            if (key->type == RV_STRING) {
                json_object_setn_new(j, key->u.str.s, key->u.str.len, rv_to_json(v->u.obj.v[i]));
            } else {
                struct sbuf b = { 0 };
                rv_write(&b, key, true);
                json_object_setn_new(j, b.s ? b.s : "", b.len, rv_to_json(v->u.obj.v[i]));
                free(b.s);
            }
        }
        return j;
    }
    return json_null();
}

void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 64;
        while (c < b->len + n + 1)
            c *= 2;
        b->s = xrealloc(b->s, c);
        b->cap = c;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sb_puts(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
void sb_putc(struct sbuf *b, char c) { sb_add(b, &c, 1); }

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

char *sb_steal(struct sbuf *b)
{
    char *s = b->s;
    if (!s) {
        s = xmalloc(1);
        s[0] = 0;
    }
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void rv_write_number(struct sbuf *b, const struct rv *v)
{
    if (v->is_int) {
        sb_printf(b, "%lld", (long long)v->u.i);
        return;
    }
    /* The shortest text that reads back as the same double. */
    char tmp[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, v->u.d);
        if (strtod(tmp, NULL) == v->u.d)
            break;
    }
    /* Go's encoding: exponents as e+21 rather than e+021 style is the same in C. */
    sb_puts(b, tmp);
}

static void write_string(struct sbuf *b, const char *s, size_t len, bool html)
{
    sb_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\t': sb_puts(b, "\\t"); break;
        default:
            if (html && (c == '<' || c == '>' || c == '&'))
                sb_printf(b, "\\u%04x", c);
            else if (c < 0x20)
                sb_printf(b, "\\u%04x", c);
            else
                sb_putc(b, (char)c);
        }
    }
    sb_putc(b, '"');
}

void rv_write_json_string(struct sbuf *b, const char *s, size_t len)
{
    write_string(b, s, len, false);
}

void rv_write(struct sbuf *b, const struct rv *v, bool json_style)
{
    size_t i;
    switch (v->type) {
    case RV_NULL:
        sb_puts(b, "null");
        return;
    case RV_BOOL:
        sb_puts(b, v->u.b ? "true" : "false");
        return;
    case RV_NUMBER:
        rv_write_number(b, v);
        return;
    case RV_STRING:
        write_string(b, v->u.str.s, v->u.str.len, json_style);
        return;
    case RV_ARRAY:
        sb_putc(b, '[');
        for (i = 0; i < v->u.arr.len; i++) {
            if (i)
                sb_puts(b, json_style ? "," : ", ");
            rv_write(b, v->u.arr.v[i], json_style);
        }
        sb_putc(b, ']');
        return;
    case RV_SET:
        if (json_style)
            sb_putc(b, '[');
        else if (v->u.arr.len == 0) {
            sb_puts(b, "set()");
            return;
        } else
            sb_putc(b, '{');
        for (i = 0; i < v->u.arr.len; i++) {
            if (i)
                sb_puts(b, json_style ? "," : ", ");
            rv_write(b, v->u.arr.v[i], json_style);
        }
        sb_putc(b, json_style ? ']' : '}');
        return;
    case RV_OBJECT:
        sb_putc(b, '{');
        for (i = 0; i < v->u.obj.len; i++) {
            if (i)
                sb_puts(b, json_style ? "," : ", ");
            const struct rv *k = v->u.obj.k[i];
            if (json_style && k->type != RV_STRING) {
                struct sbuf kb = { 0 };
                rv_write(&kb, k, true);
                rv_write_json_string(b, kb.s, kb.len);
                free(kb.s);
            } else {
                rv_write(b, k, json_style);
            }
            sb_puts(b, json_style ? ":" : ": ");
            rv_write(b, v->u.obj.v[i], json_style);
        }
        sb_putc(b, '}');
        return;
    }
}
