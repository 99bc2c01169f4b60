/* Rego values; the ownership rule is in value.h. */
#include "rego/value.h"
#include "rego/unicode.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

/* The memory budget of the evaluation running on this thread (NULL: none).
 * Values count what they hold from the moment they are built until they
 * are freed, so the count is the live size of what the policy built. */
static _Thread_local struct rv_budget *tl_budget;

void rv_budget_begin(struct rv_budget *b, uint64_t limit, struct rv_budget **saved)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
    *saved = tl_budget;
    tl_budget = b;
}

void rv_spares_free(struct rv_spares *s)
{
    for (struct rv *v = s->hdr, *next; v; v = next) {
        next = (struct rv *)v->u.arr.v;
        free(v);
    }
    memset(s, 0, sizeof *s);
}

void rv_budget_end(struct rv_budget *saved)
{
    if (tl_budget)
        rv_spares_free(&tl_budget->spares);
    tl_budget = saved;
}

bool rv_budget_exceeded(void) { return tl_budget && tl_budget->exceeded; }

/* The C library refused an allocation (mem.h): the evaluation stops at its
 * next step, and the public call reports the failure. */
void rv_budget_out_of_memory(void)
{
    if (tl_budget)
        tl_budget->exceeded = true;
}

uint64_t rv_budget_limit(void) { return tl_budget ? tl_budget->limit : 0; }

bool rv_budget_room(size_t n)
{
    struct rv_budget *b = tl_budget;
    if (!b)
        return true;
    if (b->exceeded || (b->live > 0 && (uint64_t)b->live + n > b->limit) || n > b->limit) {
        b->exceeded = true;
        return false;
    }
    return true;
}

static void charge(void *p)
{
    struct rv_budget *b = tl_budget;
    if (b && p) {
        size_t n = malloc_usable_size(p);
        b->live += (int64_t)n;
        b->allocs++;
        b->bytes += n;
        if (b->live > b->peak)
            b->peak = b->live;
        if (b->live > 0 && (uint64_t)b->live > b->limit)
            b->exceeded = true;
    }
}

static void refund(void *p)
{
    if (tl_budget && p)
        tl_budget->live -= (int64_t)malloc_usable_size(p);
}

/* free() for memory that was charged to the budget. */
static void mfree(void *p)
{
    refund(p);
    free(p);
}

/* A list's storage grown to n bytes (NULL, p unchanged, when the system
 * refuses); the budget is charged the difference. */
static void *list_grow(void *p, size_t n)
{
    refund(p);
    void *q = rg_try_realloc(p, n);
    charge(q ? q : p);
    return q;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        REGO_OOM();
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        REGO_OOM();
    return p;
}

static struct rv rv_null_v = { .refs = 0, .type = RV_NULL };
static struct rv rv_true_v = { .refs = 0, .type = RV_BOOL, .u.b = true };
static struct rv rv_false_v = { .refs = 0, .type = RV_BOOL, .u.b = false };

/* Value headers (struct rv without inline characters) count as their size
 * on the budget; one freed during an evaluation is kept for its next value
 * (at most RV_SPARE_MAX of them) instead of going back to the C library. */
#define RV_SPARE_MAX 256

static void charge_header(struct rv_budget *b)
{
    b->live += (int64_t)sizeof(struct rv);
    b->allocs++;
    b->bytes += sizeof(struct rv);
    if (b->live > b->peak)
        b->peak = b->live;
    if (b->live > 0 && (uint64_t)b->live > b->limit)
        b->exceeded = true;
}

static void free_header(struct rv *v)
{
    struct rv_budget *b = tl_budget;
    if (!b) {
        free(v);
        return;
    }
    b->live -= (int64_t)sizeof(struct rv);
    if (b->spares.nhdr >= RV_SPARE_MAX || rg_from_reserve(v)) {
        free(v);
        return;
    }
    v->u.arr.v = (struct rv **)b->spares.hdr;
    b->spares.hdr = v;
    b->spares.nhdr++;
}

static struct rv *rv_alloc(enum rv_type t)
{
    struct rv_budget *b = tl_budget;
    struct rv *v;
    if (b && b->spares.hdr) {
        v = b->spares.hdr;
        b->spares.hdr = (struct rv *)v->u.arr.v;
        b->spares.nhdr--;
    } else {
        v = xmalloc(sizeof *v);
    }
    if (b)
        charge_header(b);
    memset(v, 0, sizeof *v);
    v->refs = 1;
    v->type = (uint8_t)t;
    return v;
}

/* Frees with release what v owns besides its children (a big number, a
 * string's text, a collection's arrays), not v itself. */
static void rv_free_parts(struct rv *v, void (*release)(void *))
{
    switch (v->type) {
    case RV_NUMBER:
        if (v->is_big)
            release(v->u.big);
        break;
    case RV_STRING:
        if (!v->is_int)
            release(v->u.str.s);
        break;
    case RV_ARRAY:
    case RV_SET:
        release(v->u.arr.v);
        break;
    case RV_OBJECT:
        release(v->u.obj.k);
        release(v->u.obj.v);
        break;
    default:
        break;
    }
}

/* ... and then v. */
static void rv_free_own(struct rv *v, void (*release)(void *))
{
    rv_free_parts(v, release);
    release(v);
}

void rv_free_(struct rv *v)
{
    size_t i;
    if (v->type == RV_ARRAY || v->type == RV_SET) {
        for (i = 0; i < v->u.arr.len; i++)
            rv_decref(v->u.arr.v[i]);
    } else if (v->type == RV_OBJECT) {
        for (i = 0; i < v->u.obj.len; i++) {
            rv_decref(v->u.obj.k[i]);
            rv_decref(v->u.obj.v[i]);
        }
    }
    rv_free_parts(v, mfree);
    if (v->type == RV_STRING && v->is_int)
        mfree(v);   /* characters inline: allocated and counted as one */
    else
        free_header(v);
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
    charge(s);
    v->u.str.s = s;
    v->u.str.len = len;
    return v;
}

/* One allocation: the characters follow the value. */
struct rv *rv_string(const char *s, size_t len)
{
    struct rv *v = xmalloc(sizeof *v + len + 1);
    charge(v);
    memset(v, 0, sizeof *v);
    v->refs = 1;
    v->type = RV_STRING;
    v->is_int = 1;   /* strings: characters stored inline */
    char *c = (char *)(v + 1);
    memcpy(c, s, len);
    c[len] = 0;
    v->u.str.s = c;
    v->u.str.len = len;
    return v;
}

struct rv *rv_cstr(const char *s) { return rv_string(s, strlen(s)); }

void rvbuf_push(struct rvbuf *b, struct rv *take)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        /* a list the budget cannot hold is not grown: the evaluation
         * stops at its next step with the budget error */
        if (!rv_budget_room((cap - b->cap) * sizeof *b->v)) {
            rv_decref(take);
            return;
        }
        /* nor is one the system has no memory for (mem.h) */
        struct rv **grown = list_grow(b->v, cap * sizeof *b->v);
        if (!grown) {
            rv_decref(take);
            return;
        }
        b->v = grown;
        b->cap = cap;
    }
    b->v[b->len++] = take;
}

void rvbuf_reserve(struct rvbuf *b, size_t n)
{
    if (n <= b->cap || !rv_budget_room((n - b->cap) * sizeof *b->v))
        return;
    struct rv **grown = list_grow(b->v, n * sizeof *b->v);
    if (grown) {   /* else it stays as it was: pushes grow it or stop (mem.h) */
        b->v = grown;
        b->cap = n;
    }
}

void rvbuf_clear(struct rvbuf *b)
{
    for (size_t i = 0; i < b->len; i++)
        rv_decref(b->v[i]);
    mfree(b->v);
    b->v = NULL;
    b->len = b->cap = 0;
}

/* A value too deep to go into a collection: the evaluation stops at its
 * next step (the budget's flag), and null takes its place, so that no
 * value is ever deeper than REGO_MAX_VALUE_DEPTH. */
static __attribute__((noinline)) void too_deep(struct rv **x)
{
    rv_decref(*x);
    *x = rv_null();
    if (tl_budget) {
        tl_budget->exceeded = true;
        tl_budget->too_deep = true;
    }
}

/* The depth of a collection of elements v[0..n) (and w[0..n), an
 * object's values, when given), each element already that deep replaced
 * (both of a pair, so that the pairs stay consistent). */
static uint16_t depth_of(struct rv **v, struct rv **w, size_t n)
{
    unsigned d = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned e = v[i] ? v[i]->depth : 0;
        if (w && w[i] && w[i]->depth > e)
            e = w[i]->depth;
        if (e > d)
            d = e;
    }
    if (d < REGO_MAX_VALUE_DEPTH)
        return (uint16_t)(d + 1);
    d = 0;
    for (size_t i = 0; i < n; i++) {
        if ((v[i] && v[i]->depth >= REGO_MAX_VALUE_DEPTH) ||
            (w && w[i] && w[i]->depth >= REGO_MAX_VALUE_DEPTH)) {
            too_deep(&v[i]);
            if (w)
                too_deep(&w[i]);
        }
        unsigned e = v[i] ? v[i]->depth : 0;
        if (w && w[i] && w[i]->depth > e)
            e = w[i]->depth;
        if (e > d)
            d = e;
    }
    return (uint16_t)(d + 1);
}

struct rv *rv_array_take(struct rvbuf *b)
{
    uint16_t depth = depth_of(b->v, NULL, b->len);
    struct rv *v = rv_alloc(RV_ARRAY);
    v->depth = depth;
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
    uint16_t depth = depth_of(b->v, NULL, b->len);
    struct rv *v = rv_alloc(RV_SET);
    v->depth = depth;
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
    size_t n = keys->len < vals->len ? keys->len : vals->len, i, o;
    for (i = n; i < keys->len; i++)
        rv_decref(keys->v[i]);
    for (i = n; i < vals->len; i++)
        rv_decref(vals->v[i]);
    /* the lists' storage becomes the object's (already counted) */
    struct rv **K = keys->v, **V = vals->v;
    keys->v = vals->v = NULL;
    keys->len = keys->cap = vals->len = vals->cap = 0;
    uint16_t depth = depth_of(K, V, n);
    bool sorted = true;
    for (i = 1; i < n && sorted; i++)
        if (rv_compare(K[i - 1], K[i]) >= 0)
            sorted = false;
    bool conflict = false;
    o = n;
    if (!sorted) {
        struct kv small[16];
        struct kv *kv = n <= 16 ? small : xmalloc(n * sizeof *kv);
        for (i = 0; i < n; i++) {
            kv[i].k = K[i];
            kv[i].v = V[i];
        }
        if (n <= 16) {
            for (i = 1; i < n; i++) {
                struct kv x = kv[i];
                size_t j = i;
                for (; j > 0 && rv_compare(kv[j - 1].k, x.k) > 0; j--)
                    kv[j] = kv[j - 1];
                kv[j] = x;
            }
        } else {
            qsort(kv, n, sizeof *kv, kv_cmp);
        }
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
        for (i = 0; i < o; i++) {
            K[i] = kv[i].k;
            V[i] = kv[i].v;
        }
        if (kv != small)
            free(kv);
    }
    struct rv *v = rv_alloc(RV_OBJECT);
    v->depth = depth;
    v->u.obj.len = o;
    v->u.obj.k = K;
    v->u.obj.v = V;
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

/* ------------------------------------------------------------------ big decimals */

/* value = (neg ? -1 : 1) * 0.d[0]d[1]...d[n-1] * 10^exp; digits have no
 * leading or trailing zeros; zero is never big. */
struct rvbig {
    bool neg;
    int64_t exp;
    size_t n;
    char d[];
};

#define BIG_MAX_DIGITS 100000
#define BIG_MAX_EXP 1000000
/* The longest integer operand of an exact '*' or '%' (both quadratic). */
#define BIG_MUL_MAX_DIGITS 4096

/* A decimal parsed into a temporary (not normalized into an rv). */
struct dec {
    bool neg;
    int64_t exp;
    size_t n;
    char *d;      /* malloc'd; n == 0 means zero */
};

static int dec_parse(const char *s, size_t len, struct dec *out)
{
    size_t i = 0;
    memset(out, 0, sizeof *out);
    if (i < len && s[i] == '-') {
        out->neg = true;
        i++;
    }
    size_t int_start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (int_end == int_start)
        return -1;
    if (i < len && s[i] == '.') {
        frac_start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_end = i;
        if (frac_end == frac_start)
            return -1;
    }
    int64_t e = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t es = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (e < BIG_MAX_EXP * 10)
                e = e * 10 + (s[i] - '0');
            i++;
        }
        if (i == es)
            return -1;
        if (eneg)
            e = -e;
    }
    if (i != len)
        return -1;
    size_t total = (int_end - int_start) + (frac_end - frac_start);
    if (total > BIG_MAX_DIGITS)
        return -1;
    out->d = malloc(total + 1);
    if (!out->d)
        REGO_OOM();
    size_t n = 0;
    for (size_t k = int_start; k < int_end; k++)
        out->d[n++] = s[k];
    for (size_t k = frac_start; k < frac_end; k++)
        out->d[n++] = s[k];
    /* strip leading zeros (they shift nothing: exponent counts integer digits) */
    int64_t int_digits = (int64_t)(int_end - int_start);
    size_t lead = 0;
    while (lead < n && out->d[lead] == '0')
        lead++;
    memmove(out->d, out->d + lead, n - lead);
    n -= lead;
    int_digits -= (int64_t)lead;
    while (n > 0 && out->d[n - 1] == '0')
        n--;
    out->n = n;
    out->exp = int_digits + e;
    if (n == 0)
        out->neg = false;
    if (out->exp > BIG_MAX_EXP || out->exp < -BIG_MAX_EXP)
        return n == 0 ? 0 : -1;
    return 0;
}

static void dec_from_rv(const struct rv *v, struct dec *out)
{
    char buf[64];
    if (v->is_big) {
        out->neg = v->u.big->neg;
        out->exp = v->u.big->exp;
        out->n = v->u.big->n;
        out->d = malloc(out->n + 1);
        if (!out->d)
            REGO_OOM();
        memcpy(out->d, v->u.big->d, out->n);
        return;
    }
    if (v->is_int)
        snprintf(buf, sizeof buf, "%lld", (long long)v->u.i);
    else
        snprintf(buf, sizeof buf, "%.17e", v->u.d);
    if (dec_parse(buf, strlen(buf), out) < 0)
        memset(out, 0, sizeof *out);
}

static int dec_cmp_abs(const struct dec *a, const struct dec *b)
{
    if (a->n == 0 || b->n == 0)
        return a->n == 0 ? (b->n == 0 ? 0 : -1) : 1;
    if (a->exp != b->exp)
        return a->exp < b->exp ? -1 : 1;
    size_t m = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->d, b->d, m);
    if (c)
        return c < 0 ? -1 : 1;
    return a->n < b->n ? -1 : a->n > b->n;
}

static int dec_cmp(const struct dec *a, const struct dec *b)
{
    int sa = a->n == 0 ? 0 : a->neg ? -1 : 1, sb = b->n == 0 ? 0 : b->neg ? -1 : 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    int c = dec_cmp_abs(a, b);
    return sa < 0 ? -c : c;
}

/* The decimal's text: plain digits for integers of reasonable size, else
 * d.ddde±N. */
static void dec_write(struct sbuf *b, const struct dec *x)
{
    if (x->n == 0) {
        sb_putc(b, '0');
        return;
    }
    if (x->neg)
        sb_putc(b, '-');
    if (x->exp >= (int64_t)x->n && x->exp <= 400) {
        sb_add(b, x->d, x->n);
        for (int64_t k = (int64_t)x->n; k < x->exp; k++)
            sb_putc(b, '0');
    } else if (x->exp > 0 && x->exp < (int64_t)x->n) {
        sb_add(b, x->d, (size_t)x->exp);
        sb_putc(b, '.');
        sb_add(b, x->d + x->exp, x->n - (size_t)x->exp);
    } else if (x->exp <= 0 && x->exp > -20) {
        sb_puts(b, "0.");
        for (int64_t k = x->exp; k < 0; k++)
            sb_putc(b, '0');
        sb_add(b, x->d, x->n);
    } else {
        sb_putc(b, x->d[0]);
        if (x->n > 1) {
            sb_putc(b, '.');
            sb_add(b, x->d + 1, x->n - 1);
        }
        sb_printf(b, "e%+lld", (long long)(x->exp - 1));
    }
}

/* The smallest representation of a decimal: int64, exact-enough double, or big. Consumes x. */
static struct rv *dec_to_rv(struct dec *x)
{
    struct rv *v;
    if (x->n == 0) {
        free(x->d);
        return rv_int(0);
    }
    /* integers that fit int64 */
    if (x->exp >= (int64_t)x->n && x->exp <= 19) {
        char buf[32];
        size_t k = 0;
        if (x->neg)
            buf[k++] = '-';
        memcpy(buf + k, x->d, x->n);
        k += x->n;
        for (int64_t z = (int64_t)x->n; z < x->exp; z++)
            buf[k++] = '0';
        buf[k] = 0;
        errno = 0;
        char *end;
        long long i = strtoll(buf, &end, 10);
        if (errno == 0 && *end == 0) {
            free(x->d);
            return rv_int(i);
        }
    }
    /* non-integers with few digits and a modest exponent: a double */
    if (x->exp < (int64_t)x->n && x->n <= 15 && x->exp > -290 && x->exp < 290) {
        struct sbuf b = { 0 };
        dec_write(&b, x);
        double d = strtod(b.s, NULL);
        free(b.s);
        free(x->d);
        return rv_double(d);
    }
    struct rvbig *big = malloc(sizeof *big + x->n);
    if (!big)
        REGO_OOM();
    big->neg = x->neg;
    big->exp = x->exp;
    big->n = x->n;
    memcpy(big->d, x->d, x->n);
    charge(big);
    free(x->d);
    v = rv_alloc(RV_NUMBER);
    v->is_big = 1;
    v->u.big = big;
    return v;
}

struct rv *rv_number_text(const char *s, size_t len)
{
    struct dec x;
    if (dec_parse(s, len, &x) < 0) {
        free(x.d);
        return NULL;
    }
    /* ordinary numbers keep the double the C library reads */
    bool integral = x.exp >= (int64_t)x.n;
    if (!integral && x.n <= 15 && x.exp > -290 && x.exp < 290) {
        char *tmp = malloc(len + 1);
        if (!tmp)
            REGO_OOM();
        memcpy(tmp, s, len);
        tmp[len] = 0;
        double d = strtod(tmp, NULL);
        free(tmp);
        free(x.d);
        return rv_double(d);
    }
    return dec_to_rv(&x);
}

static bool dec_is_integer(const struct dec *x)
{
    return x->n == 0 || x->exp >= (int64_t)x->n;
}

/* Integer digits of x (no sign), as a malloc'd array of digit values, least significant first. */
static unsigned char *int_digits(const struct dec *x, size_t *len)
{
    size_t n = x->n == 0 ? 1 : (size_t)x->exp;
    unsigned char *r = calloc(n + 1, 1);
    if (!r)
        REGO_OOM();
    for (size_t i = 0; i < x->n; i++)
        r[n - 1 - i] = (unsigned char)(x->d[i] - '0');
    *len = n;
    return r;
}

static struct rv *digits_to_rv(unsigned char *r, size_t n, bool neg)
{
    while (n > 1 && r[n - 1] == 0)
        n--;
    char *s = malloc(n + 2);
    if (!s)
        REGO_OOM();
    size_t k = 0;
    if (neg)
        s[k++] = '-';
    for (size_t i = 0; i < n; i++)
        s[k++] = (char)('0' + r[n - 1 - i]);
    s[k] = 0;
    struct dec x;
    struct rv *v = NULL;
    if (dec_parse(s, k, &x) == 0)
        v = dec_to_rv(&x);
    else
        free(x.d);
    free(s);
    return v;
}

/* |a| - |b| with |a| >= |b| */
static unsigned char *mag_sub(const unsigned char *a, size_t na, const unsigned char *b, size_t nb)
{
    unsigned char *r = calloc(na + 1, 1);
    if (!r)
        REGO_OOM();
    int borrow = 0;
    for (size_t i = 0; i < na; i++) {
        int d = a[i] - borrow - (i < nb ? b[i] : 0);
        borrow = d < 0;
        r[i] = (unsigned char)(d < 0 ? d + 10 : d);
    }
    return r;
}

static int mag_cmp(const unsigned char *a, size_t na, const unsigned char *b, size_t nb)
{
    while (na > 1 && a[na - 1] == 0)
        na--;
    while (nb > 1 && b[nb - 1] == 0)
        nb--;
    if (na != nb)
        return na < nb ? -1 : 1;
    for (size_t i = na; i > 0; i--)
        if (a[i - 1] != b[i - 1])
            return a[i - 1] < b[i - 1] ? -1 : 1;
    return 0;
}

/* Exact + - * on two integers, either of which may be big. */
static int big_int_arith(char op, const struct dec *x, const struct dec *y, struct rv **out)
{
    size_t na, nb;
    unsigned char *a = int_digits(x, &na), *b = int_digits(y, &nb), *r = NULL;
    bool xneg = x->neg, yneg = y->neg;
    if (op == '-')
        yneg = !yneg;
    size_t nr;
    bool neg;
    if (op == '%') {
        /* long division keeping only the remainder, which takes the
         * dividend's sign (Go's big.Int.Rem) */
        nr = nb + 1;
        r = calloc(nr + 1, 1);
        if (!r)
            REGO_OOM();
        for (size_t i = na; i > 0; i--) {
            memmove(r + 1, r, nr - 1);
            r[0] = a[i - 1];
            while (mag_cmp(r, nr, b, nb) >= 0) {
                unsigned char *t = mag_sub(r, nr, b, nb);
                free(r);
                r = t;
            }
        }
        neg = xneg;
    } else if (op == '*') {
        nr = na + nb;
        unsigned *acc = calloc(nr + 1, sizeof *acc);
        if (!acc)
            REGO_OOM();
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++)
                acc[i + j] += (unsigned)a[i] * b[j];
        r = calloc(nr + 1, 1);
        if (!r)
            REGO_OOM();
        unsigned carry = 0;
        for (size_t i = 0; i < nr; i++) {
            unsigned v = acc[i] + carry;
            r[i] = (unsigned char)(v % 10);
            carry = v / 10;
        }
        free(acc);
        neg = xneg != yneg;
    } else if (xneg == yneg) {
        nr = (na > nb ? na : nb) + 1;
        r = calloc(nr + 1, 1);
        if (!r)
            REGO_OOM();
        int carry = 0;
        for (size_t i = 0; i < nr; i++) {
            int v = (i < na ? a[i] : 0) + (i < nb ? b[i] : 0) + carry;
            r[i] = (unsigned char)(v % 10);
            carry = v / 10;
        }
        neg = xneg;
    } else if (mag_cmp(a, na, b, nb) >= 0) {
        r = mag_sub(a, na, b, nb);
        nr = na;
        neg = xneg;
    } else {
        r = mag_sub(b, nb, a, na);
        nr = nb;
        neg = yneg;
    }
    *out = digits_to_rv(r, nr, neg);
    free(a);
    free(b);
    free(r);
    return *out ? 0 : -1;
}

/* Strings compared inline (object keys and set members are mostly short
 * strings): the first byte decides most comparisons without a memcmp. */
static inline int str_cmp(const struct rv *a, const struct rv *b)
{
    size_t la = a->u.str.len, lb = b->u.str.len, n = la < lb ? la : lb;
    const unsigned char *x = (const unsigned char *)a->u.str.s, *y = (const unsigned char *)b->u.str.s;
    if (n && x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    int c = n ? memcmp(x, y, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return la < lb ? -1 : la > lb;
}

static int cmp_big(const struct rv *a, const struct rv *b)
{
    struct dec x, y;
    dec_from_rv(a, &x);
    dec_from_rv(b, &y);
    int c = dec_cmp(&x, &y);
    free(x.d);
    free(y.d);
    return c;
}

static int cmp_num(const struct rv *a, const struct rv *b)
{
    if (a->is_big || b->is_big)
        return cmp_big(a, b);
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
        return str_cmp(a, b);
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

/* Small objects and sets (most of them: an input's objects, a policy's
 * lists) are searched front to back for an equal string: the length and
 * the first byte rule out almost every other key without a comparison. */
#define LINEAR_MAX 8

static ssize_t bsearch_idx(struct rv *const *arr, size_t n, const struct rv *key)
{
    size_t lo = 0, hi = n;
    if (key->type == RV_STRING && n <= LINEAR_MAX) {
        size_t len = key->u.str.len;
        const char *ks = key->u.str.s;
        for (size_t i = 0; i < n; i++) {
            const struct rv *m = arr[i];
            if (m == key)
                return (ssize_t)i;
            if (m->type != RV_STRING || m->u.str.len != len)
                continue;
            if (len == 0 || (m->u.str.s[0] == ks[0] && memcmp(m->u.str.s, ks, len) == 0))
                return (ssize_t)i;
        }
        return -1;
    }
    if (key->type == RV_STRING) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const struct rv *m = arr[mid];
            int c = m == key ? 0 : m->type != RV_STRING ? (m->type < RV_STRING ? -1 : 1) : str_cmp(m, key);
            if (c == 0)
                return (ssize_t)mid;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return -1;
    }
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

long rv_sorted_find(struct rv *const *arr, size_t n, const struct rv *key)
{
    return (long)bsearch_idx(arr, n, key);
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
    if (v->is_big) {
        struct sbuf b = { 0 };
        rv_write_number(&b, v);
        double d = strtod(b.s, NULL);
        free(b.s);
        return d;
    }
    return v->is_int ? (double)v->u.i : v->u.d;
}

const char *rv_type_name(const struct rv *v)
{
    static const char *names[] = { "null", "boolean", "number", "string", "array", "object", "set" };
    return names[v->type];
}


/* Arithmetic where an operand is big or an int64 result overflowed. */
static int big_arith(char op, const struct rv *a, const struct rv *b, struct rv **out, char *err, size_t errlen)
{
    struct dec x, y;
    dec_from_rv(a, &x);
    dec_from_rv(b, &y);
    int rc;
    if (op == '%' && dec_is_integer(&x) && dec_is_integer(&y) && y.n == 0) {
        snprintf(err, errlen, "modulo by zero");
        rc = -1;
    } else if ((op == '*' || op == '%') && dec_is_integer(&x) && dec_is_integer(&y) &&
               ((x.n != 0 && x.exp > BIG_MUL_MAX_DIGITS) || (y.n != 0 && y.exp > BIG_MUL_MAX_DIGITS))) {
        /* Exact multiplication and remainder take time in the product of
         * the operands' lengths: past this, an error, never a stall. */
        snprintf(err, errlen, "number too large: exact %s of integers over %d digits is not supported",
                 op == '*' ? "multiplication" : "remainder", BIG_MUL_MAX_DIGITS);
        rc = -1;
    } else if ((op == '+' || op == '-' || op == '*' || op == '%') && dec_is_integer(&x) && dec_is_integer(&y) &&
        (x.n == 0 || x.exp < 100000) && (y.n == 0 || y.exp < 100000)) {
        rc = big_int_arith(op, &x, &y, out);
        if (rc < 0)
            snprintf(err, errlen, "number too large");
    } else {
        double dx = rv_as_double(a), dy = rv_as_double(b), d;
        rc = 0;
        switch (op) {
        case '+': d = dx + dy; break;
        case '-': d = dx - dy; break;
        case '*': d = dx * dy; break;
        case '/':
            if (dy == 0) {
                snprintf(err, errlen, "divide by zero");
                rc = -1;
            }
            d = dy == 0 ? 0 : dx / dy;
            break;
        case '%':
            if (dec_is_integer(&x) && dec_is_integer(&y) && isfinite(dx) && isfinite(dy) && dy != 0 &&
                fabs(dx) < 9007199254740992.0 && fabs(dy) < 9007199254740992.0) {
                d = fmod(dx, dy);
            } else {
                snprintf(err, errlen, "modulo on a number this large is not supported");
                rc = -1;
                d = 0;
            }
            break;
        default:
            d = 0;
            rc = -1;
            snprintf(err, errlen, "unknown operator");
        }
        if (rc == 0 && !isfinite(d)) {
            snprintf(err, errlen, "arithmetic result out of range");
            rc = -1;
        }
        if (rc == 0)
            *out = rv_double(d);
    }
    free(x.d);
    free(y.d);
    return rc;
}

int rv_arith(char op, const struct rv *a, const struct rv *b, struct rv **out, char *err, size_t errlen)
{
    int64_t r;
    if (a->is_big || b->is_big)
        return big_arith(op, a, b, out, err, errlen);
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
            if (x > 9007199254740992LL || x < -9007199254740992LL || y > 9007199254740992LL ||
                y < -9007199254740992LL)
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
    const int64_t exact = 9007199254740992LL;
    if ((a->is_int && (a->u.i > exact || a->u.i < -exact)) || (b->is_int && (b->u.i > exact || b->u.i < -exact)))
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
    return big_arith(op, a, b, out, err, errlen);
inexact:
    snprintf(err, errlen, "arithmetic on integers beyond 2^53 mixed with fractions is not exact");
    return -1;
}

/* Converting input: arrays and objects get their final size up front (no
 * growing lists), and an object's pairs are sorted in a scratch array on
 * the stack when small (JSON objects have unique keys, so no conflicts). */
#define RV_XSTR(x) #x
#define RV_STR(x) RV_XSTR(x)
static const char too_deep_why[] = "value nested deeper than " RV_STR(REGO_MAX_VALUE_DEPTH) " levels";
static const char range_why[] = "number out of range";

/* lvl: the depth j is at (1 for the whole document): the caller's json_t
 * need not come from jansson's parser, so its depth is checked here. */
static struct rv *from_json(const json_t *j, unsigned lvl, const char **why)
{
    if ((json_is_array(j) || json_is_object(j)) && lvl > REGO_MAX_VALUE_DEPTH) {
        *why = too_deep_why;
        return NULL;
    }
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
        if (!isfinite(json_real_value(j))) {
            *why = range_why;
            return NULL;
        }
        return rv_double(json_real_value(j));
    case JSON_STRING:
        return rv_string(json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        if (!rv_budget_room(n * sizeof(struct rv *)))
            return NULL;
        struct rv *a = rv_alloc(RV_ARRAY);
        a->u.arr.v = xmalloc(n * sizeof(struct rv *));
        charge(a->u.arr.v);
        a->depth = 1;
        for (size_t i = 0; i < n; i++) {
            struct rv *x = from_json(json_array_get(j, i), lvl + 1, why);
            if (!x) {
                rv_decref(a);
                return NULL;
            }
            a->u.arr.v[a->u.arr.len++] = x;
            if (x->depth >= a->depth)
                a->depth = (uint16_t)(x->depth + 1);
        }
        return a;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        if (!rv_budget_room(2 * n * sizeof(struct rv *)))
            return NULL;
        struct kv small[32];
        struct kv *kv = n <= 32 ? small : xmalloc(n * sizeof *kv);
        size_t got = 0;
        bool sorted = true;
        const char *key;
        size_t klen;
        json_t *e;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)j, tmp, key, klen, e) {
            struct rv *x = got < n ? from_json(e, lvl + 1, why) : NULL;
            if (!x) {
                for (size_t i = 0; i < got; i++) {
                    rv_decref(kv[i].k);
                    rv_decref(kv[i].v);
                }
                if (kv != small)
                    free(kv);
                return NULL;
            }
            kv[got].k = rv_string(key, klen);
            kv[got].v = x;
            if (got && sorted && rv_compare(kv[got - 1].k, kv[got].k) >= 0)
                sorted = false;
            got++;
        }
        if (!sorted)
            qsort(kv, got, sizeof *kv, kv_cmp);
        struct rv *o = rv_alloc(RV_OBJECT);
        o->u.obj.k = xmalloc(got * sizeof(struct rv *));
        o->u.obj.v = xmalloc(got * sizeof(struct rv *));
        charge(o->u.obj.k);
        charge(o->u.obj.v);
        o->depth = 1;
        for (size_t i = 0; i < got; i++) {
            o->u.obj.k[i] = kv[i].k;
            o->u.obj.v[i] = kv[i].v;
            if (kv[i].v->depth >= o->depth)
                o->depth = (uint16_t)(kv[i].v->depth + 1);
        }
        o->u.obj.len = got;
        if (kv != small)
            free(kv);
        return o;
    }
    }
    return NULL;
}

struct rv *rv_from_json(const json_t *j, const char **why)
{
    const char *scratch;
    if (!why)
        why = &scratch;
    *why = "memory budget exceeded";
    return from_json(j, 1, why);
}

/* rv_from_json_block: one pass, values bump-allocated from a list of
 * chunks (the block is the first chunk). */
struct jchunk {
    struct jchunk *next;
    size_t cap, used;
    max_align_t mem[];
};

struct jblock {
    struct jchunk *head, *cur;
    struct jchunk *spare;   /* to use first, or NULL */
    bool failed;
    const char *why;        /* when jb_fill returns NULL */
};

static __attribute__((noinline)) void *jb_grow(struct jblock *b, size_t n)
{
    struct jchunk *c;
    if (!b->cur && b->spare && b->spare->cap >= n) {
        c = b->spare;   /* a chunk kept from the last conversion */
        b->spare = NULL;
    } else {
        size_t cap = n > 4096 ? n : 4096;
        c = malloc(sizeof *c + cap);
        if (!c) {
            b->failed = true;
            return NULL;
        }
        c->cap = cap;
    }
    c->next = NULL;
    c->used = n;
    if (b->cur)
        b->cur->next = c;
    else
        b->head = c;
    b->cur = c;
    return c->mem;
}

static inline void *jb_alloc(struct jblock *b, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct jchunk *c = b->cur;
    if (!c || c->cap - c->used < n)
        return jb_grow(b, n);
    void *p = (char *)c->mem + c->used;
    c->used += n;
    return p;
}

static struct rv *jb_rv(struct jblock *b, enum rv_type t)
{
    struct rv *v = jb_alloc(b, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)t;
    v->in_block = 1;
    return v;
}

/* The characters stay where jansson keeps them (NUL-terminated): the
 * input outlives the block. */
static struct rv *jb_string(struct jblock *b, const char *s, size_t len)
{
    struct rv *v = jb_alloc(b, sizeof *v);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->type = RV_STRING;
    v->in_block = 1;
    v->u.str.s = (char *)s;
    v->u.str.len = len;
    return v;
}

static struct rv *jb_fill(struct jblock *b, const json_t *j, unsigned lvl)
{
    if ((json_is_array(j) || json_is_object(j)) && lvl > REGO_MAX_VALUE_DEPTH) {
        b->why = too_deep_why;
        return NULL;
    }
    switch (json_typeof(j)) {
    case JSON_NULL:
        return rv_null();
    case JSON_TRUE:
        return rv_bool(true);
    case JSON_FALSE:
        return rv_bool(false);
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(j);
        if (i >= SMALL_INT_MIN && i <= SMALL_INT_MAX)
            return rv_int(i);
        struct rv *v = jb_rv(b, RV_NUMBER);
        if (v) {
            v->is_int = 1;
            v->u.i = i;
        }
        return v;
    }
    case JSON_REAL: {
        double d = json_real_value(j);
        if (!isfinite(d)) {
            b->why = range_why;
            return NULL;
        }
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            int64_t i = (int64_t)d;
            if (i >= SMALL_INT_MIN && i <= SMALL_INT_MAX)
                return rv_int(i);
            struct rv *v = jb_rv(b, RV_NUMBER);
            if (v) {
                v->is_int = 1;
                v->u.i = i;
            }
            return v;
        }
        struct rv *v = jb_rv(b, RV_NUMBER);
        if (v)
            v->u.d = d;
        return v;
    }
    case JSON_STRING:
        return jb_string(b, json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        struct rv *a = jb_rv(b, RV_ARRAY);
        struct rv **items = jb_alloc(b, n * sizeof(struct rv *));
        if (!a || !items)
            return NULL;
        a->u.arr.v = items;
        a->depth = 1;
        for (size_t i = 0; i < n; i++) {
            struct rv *x = jb_fill(b, json_array_get(j, i), lvl + 1);
            if (!x)
                return NULL;
            a->u.arr.v[a->u.arr.len++] = x;
            if (x->depth >= a->depth)
                a->depth = (uint16_t)(x->depth + 1);
        }
        return a;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j);
        struct rv *o = jb_rv(b, RV_OBJECT);
        struct rv **k = jb_alloc(b, 2 * n * sizeof(struct rv *)), **v = k + n;
        if (!o || !k)
            return NULL;
        o->u.obj.k = k;
        o->u.obj.v = v;
        o->depth = 1;
        size_t got = 0;
        const char *key;
        size_t klen;
        json_t *e;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)j, tmp, key, klen, e) {
            if (got == n)
                break;
            struct rv *kv = jb_string(b, key, klen), *x = jb_fill(b, e, lvl + 1);
            if (!kv || !x)
                return NULL;
            if (x->depth >= o->depth)
                o->depth = (uint16_t)(x->depth + 1);
            /* insertion sort: objects are small, keys unique */
            size_t i = got;
            while (i > 0 && str_cmp(k[i - 1], kv) > 0) {
                k[i] = k[i - 1];
                v[i] = v[i - 1];
                i--;
            }
            k[i] = kv;
            v[i] = x;
            got++;
        }
        o->u.obj.len = got;
        return o;
    }
    }
    return NULL;
}

struct rv *rv_from_json_block_in(const json_t *j, void **block, void **spare, const char **why)
{
    struct jblock b = { NULL, NULL, spare ? *spare : NULL, false, "out of memory" };
    if (spare)
        *spare = NULL;
    struct rv *v = jb_fill(&b, j, 1);
    if (b.spare) {
        if (spare)
            *spare = b.spare;   /* not used: still the caller's */
        else
            free(b.spare);
    }
    if (!v || b.failed) {
        rv_block_free(b.head);
        *block = NULL;
        if (why)
            *why = b.failed ? "out of memory" : b.why;
        return NULL;
    }
    *block = b.head;
    return v;
}

struct rv *rv_from_json_block(const json_t *j, void **block, const char **why)
{
    return rv_from_json_block_in(j, block, NULL, why);
}

void rv_block_release(void *block, void **spare)
{
    struct jchunk *c = block;
    if (c && spare && !*spare) {
        *spare = c;
        block = c->next;
        c->next = NULL;
    }
    rv_block_free(block);
}

void rv_block_free(void *block)
{
    for (struct jchunk *c = block, *next; c; c = next) {
        next = c->next;
        free(c);
    }
}

static bool has_block(const struct rv *v)
{
    if (v->in_block)
        return true;
    if (v->type == RV_ARRAY || v->type == RV_SET) {
        for (size_t i = 0; i < v->u.arr.len; i++)
            if (has_block(v->u.arr.v[i]))
                return true;
    } else if (v->type == RV_OBJECT) {
        for (size_t i = 0; i < v->u.obj.len; i++)
            if (has_block(v->u.obj.k[i]) || has_block(v->u.obj.v[i]))
                return true;
    }
    return false;
}

struct rv *rv_own(struct rv *v)
{
    if (!v || !has_block(v))
        return rv_incref(v);
    struct rvbuf a = { 0 }, b = { 0 };
    switch (v->type) {
    case RV_NUMBER:
        return v->is_int ? rv_int(v->u.i) : rv_double(v->u.d);
    case RV_STRING:
        return rv_string(v->u.str.s, v->u.str.len);
    case RV_ARRAY:
        for (size_t i = 0; i < v->u.arr.len; i++)
            rvbuf_push(&a, rv_own(v->u.arr.v[i]));
        return rv_array_take(&a);
    case RV_SET:
        for (size_t i = 0; i < v->u.arr.len; i++)
            rvbuf_push(&a, rv_own(v->u.arr.v[i]));
        return rv_set_take(&a);
    case RV_OBJECT:
        for (size_t i = 0; i < v->u.obj.len; i++) {
            rvbuf_push(&a, rv_own(v->u.obj.k[i]));
            rvbuf_push(&b, rv_own(v->u.obj.v[i]));
        }
        return rv_object_take(&a, &b);
    default:
        return v;
    }
}

/* ASCII needs no UTF-8 check: jansson's own check is done byte by byte
 * through function calls, the bulk of a small decision's conversion. */
static bool ascii(const char *s, size_t n)
{
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= (unsigned char)s[i];
    return any < 0x80;
}

/* Text that is not valid UTF-8, for JSON: each invalid byte becomes U+FFFD,
 * as Go's encoding/json writes OPA's strings. */
static void json_valid_text(struct sbuf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t w = 1;
        if (uni_decode(s + i, len - i, &w) == UNI_RUNE_ERROR && w == 1)
            sb_add(b, "\xEF\xBF\xBD", 3);
        else
            sb_add(b, s + i, w);
        i += w;
    }
}

static json_t *json_text(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    struct sbuf b = { 0 };
    json_valid_text(&b, s, len);
    j = json_stringn(b.s ? b.s : "", b.len);
    free(b.s);
    return j;
}

static bool utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t w = 1;
        if (uni_decode(s + i, len - i, &w) == UNI_RUNE_ERROR && w == 1)
            return false;
        i += w;
    }
    return true;
}

static void json_set(json_t *obj, const char *k, size_t klen, json_t *v)
{
    if (utf8_valid(k, klen)) {
        json_object_setn_new(obj, k, klen, v);
        return;
    }
    struct sbuf b = { 0 };
    json_valid_text(&b, k, klen);
    json_object_setn_new(obj, b.s ? b.s : "", b.len, v);
    free(b.s);
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
        return v->is_int ? json_integer(v->u.i) : json_real(rv_as_double(v));
    case RV_STRING:
        if (ascii(v->u.str.s, v->u.str.len) && !memchr(v->u.str.s, 0, v->u.str.len))
            return json_stringn_nocheck(v->u.str.s, v->u.str.len);
        return json_text(v->u.str.s, v->u.str.len);
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
            if (key->type == RV_STRING && ascii(key->u.str.s, key->u.str.len)) {
                json_object_setn_new_nocheck(j, key->u.str.s, key->u.str.len, rv_to_json(v->u.obj.v[i]));
            } else if (key->type == RV_STRING) {
                json_set(j, key->u.str.s, key->u.str.len, rv_to_json(v->u.obj.v[i]));
            } else {
                struct sbuf b = { 0 };
                rv_write(&b, key, true);
                json_set(j, b.s ? b.s : "", b.len, rv_to_json(v->u.obj.v[i]));
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
        /* text the budget cannot hold is not appended: the evaluation
         * stops with the budget error before the text is used */
        if (!rv_budget_room(b->len + n + 1))
            return;
        size_t c = b->cap ? b->cap : 64;
        while (c < b->len + n + 1)
            c *= 2;
        char *grown = rg_try_realloc(b->s, c); /* nor when the system refuses (mem.h) */
        if (!grown)
            return;
        b->s = grown;
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
    if (v->is_big) {
        struct dec x = { v->u.big->neg, v->u.big->exp, v->u.big->n, (char *)v->u.big->d };
        dec_write(b, &x);
        return;
    }
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
    /* shared values can make the text exponentially larger than the
     * value: once the budget refused text, stop writing */
    if (rv_budget_exceeded())
        return;
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

int rv_sign(const struct rv *v)
{
    if (v->type != RV_NUMBER)
        return 0;
    if (v->is_big)
        return v->u.big->neg ? -1 : 1;
    if (v->is_int)
        return v->u.i < 0 ? -1 : v->u.i > 0;
    return v->u.d < 0 ? -1 : v->u.d > 0;
}

void rv_freeze(struct rv *v, struct rv_frozen *list)
{
    if (!v || v->refs == 0)
        return;   /* immortal, or frozen already */
    if (list->len == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 256;
        list->v = xrealloc(list->v, list->cap * sizeof *list->v);
    }
    list->v[list->len++] = v;
    v->refs = 0;
    size_t i;
    switch (v->type) {
    case RV_ARRAY:
    case RV_SET:
        for (i = 0; i < v->u.arr.len; i++)
            rv_freeze(v->u.arr.v[i], list);
        break;
    case RV_OBJECT:
        for (i = 0; i < v->u.obj.len; i++) {
            rv_freeze(v->u.obj.k[i], list);
            rv_freeze(v->u.obj.v[i], list);
        }
        break;
    default:
        break;
    }
}

/* free() for memory that was not charged (free is a macro here). */
static void release_uncharged(void *p)
{
    free(p);
}

/* Each frozen value is freed once; its children are in the list too. */
void rv_frozen_free(struct rv_frozen *list)
{
    for (size_t i = 0; i < list->len; i++)
        rv_free_own(list->v[i], release_uncharged);
    free(list->v);
    list->v = NULL;
    list->len = list->cap = 0;
}
