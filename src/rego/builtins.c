/* Built-in functions: one table (REGO_BUILTINS) with OPA's names and arities.
 *
 * A builtin gets its arguments borrowed and returns 0 with a new reference
 * in *out, BI_UNDEFINED when the result is undefined, BI_MULTI with an
 * array of results (one solution each), or < 0 with the error set through
 * bi_type_error (eval_type_error: an operand of the wrong type) or bi_error
 * (eval_builtin_error). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <openssl/evp.h>

#include "rego/ast.h"
#include "rego/eval.h"
#include "rego/bi.h"
#include "rego/glob.h"
#include "rego/unicode.h"
#if __has_include("rego/re.h")
#include "rego/re.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */
#define HAVE_REGO_RE 1
#endif

__attribute__((format(printf, 3, 0)))
static int bi_err_code(struct ev *ev, const char *code, const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return rego_err(ev->err, code, &ev->cur_loc, "%s: %s", ev_builtin_name(ev), msg);
}

int bi_type_error(struct ev *ev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bi_err_code(ev, "eval_type_error", fmt, ap);
    va_end(ap);
    return rc;
}

int bi_error(struct ev *ev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bi_err_code(ev, "eval_builtin_error", fmt, ap);
    va_end(ap);
    return rc;
}

static const char *tname(int type)
{
    static const char *names[] = { "null", "boolean", "number", "string", "array", "object", "set" };
    return names[type];
}

int bi_want(struct ev *ev, struct rv **a, int i, int type)
{
    if (a[i]->type != type)
        return bi_type_error(ev, "operand %d must be %s but got %s", i + 1, tname(type),
                             rv_type_name(a[i]));
    return 0;
}
#define want bi_want

int bi_want_int(struct ev *ev, struct rv **a, int i, int64_t *out)
{
    if (a[i]->type != RV_NUMBER)
        return bi_type_error(ev, "operand %d must be number but got %s", i + 1, rv_type_name(a[i]));
    if (!rv_as_int(a[i], out))
        return bi_type_error(ev, "operand %d must be integer number but got floating-point number", i + 1);
    return 0;
}
#define want_int bi_want_int

struct rv *bi_string_of(struct sbuf *b)
{
    size_t len = b->len;
    return rv_string_take(sb_steal(b), len);
}

/* ------------------------------------------------------------------ comparison */

static int bi_equal(struct ev *ev, struct rv **a, struct rv **out) { (void)ev; *out = rv_bool(rv_compare(a[0], a[1]) == 0); return 0; }
static int bi_neq(struct ev *ev, struct rv **a, struct rv **out) { (void)ev; *out = rv_bool(rv_compare(a[0], a[1]) != 0); return 0; }
static int bi_lt(struct ev *ev, struct rv **a, struct rv **out) { (void)ev; *out = rv_bool(rv_compare(a[0], a[1]) < 0); return 0; }
static int bi_lte(struct ev *ev, struct rv **a, struct rv **out) { (void)ev; *out = rv_bool(rv_compare(a[0], a[1]) <= 0); return 0; }
static int bi_gt(struct ev *ev, struct rv **a, struct rv **out) { (void)ev; *out = rv_bool(rv_compare(a[0], a[1]) > 0); return 0; }
static int bi_gte(struct ev *ev, struct rv **a, struct rv **out) { (void)ev; *out = rv_bool(rv_compare(a[0], a[1]) >= 0); return 0; }

/* ------------------------------------------------------------------ arithmetic */

static int arith(struct ev *ev, char op, struct rv **a, struct rv **out)
{
    WANT(0, RV_NUMBER);
    WANT(1, RV_NUMBER);
    char err[128];
    if (rv_arith(op, a[0], a[1], out, err, sizeof err) < 0)
        return bi_error(ev, "%s", err);
    return 0;
}

static int set_op(struct ev *ev, char op, struct rv **a, struct rv **out);

static int bi_plus(struct ev *ev, struct rv **a, struct rv **out) { return arith(ev, '+', a, out); }
static int bi_minus(struct ev *ev, struct rv **a, struct rv **out)
{
    if (a[0]->type == RV_SET && a[1]->type == RV_SET)
        return set_op(ev, '-', a, out);
    if (a[0]->type == RV_SET || a[1]->type == RV_SET) {
        int bad = a[0]->type == RV_SET ? 1 : 0;
        return bi_type_error(ev, "operand %d must be set but got %s", bad + 1, rv_type_name(a[bad]));
    }
    if (a[0]->type != RV_NUMBER)
        return bi_type_error(ev, "operand 1 must be one of {number, set} but got %s", rv_type_name(a[0]));
    if (a[1]->type != RV_NUMBER)
        return bi_type_error(ev, "operand 2 must be one of {number, set} but got %s", rv_type_name(a[1]));
    return arith(ev, '-', a, out);
}
static int bi_mul(struct ev *ev, struct rv **a, struct rv **out) { return arith(ev, '*', a, out); }
static int bi_div(struct ev *ev, struct rv **a, struct rv **out) { return arith(ev, '/', a, out); }
static int bi_rem(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_NUMBER);
    WANT(1, RV_NUMBER);
    /* integers of any size; a fraction is refused (numbers that are
     * integral are always stored as integers) */
    if ((!a[0]->is_int && !a[0]->is_big) || (!a[1]->is_int && !a[1]->is_big))
        return bi_error(ev, "modulo on floating-point number");
    return arith(ev, '%', a, out);
}

static int bi_abs(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_NUMBER);
    if (a[0]->is_big) {
        if (rv_sign(a[0]) >= 0) {
            *out = rv_incref(a[0]);
            return 0;
        }
        struct rv *m1 = rv_int(-1);
        char err[128];
        if (rv_arith('*', a[0], m1, out, err, sizeof err) < 0)
            return bi_error(ev, "%s", err);
        return 0;
    }
    if (a[0]->is_int) {
        if (a[0]->u.i == INT64_MIN) {
            /* 2^63: a big integer, exactly */
            char err[128];
            if (rv_arith('*', a[0], rv_int(-1), out, err, sizeof err) < 0)
                return bi_error(ev, "%s", err);
            return 0;
        }
        *out = rv_int(a[0]->u.i < 0 ? -a[0]->u.i : a[0]->u.i);
    } else {
        *out = rv_double(fabs(a[0]->u.d));
    }
    return 0;
}

static int round_like(struct ev *ev, struct rv **a, struct rv **out, double (*f)(double))
{
    WANT(0, RV_NUMBER);
    if (a[0]->is_big) {
        double d = rv_as_double(a[0]);
        if (d == floor(d)) {
            *out = rv_incref(a[0]);   /* beyond double precision every value is integral */
            return 0;
        }
        *out = rv_double(f(d));
        return 0;
    }
    if (a[0]->is_int) {
        *out = rv_incref(a[0]);
        return 0;
    }
    *out = rv_double(f(a[0]->u.d));
    return 0;
}
static int bi_round(struct ev *ev, struct rv **a, struct rv **out) { return round_like(ev, a, out, round); }
static int bi_ceil(struct ev *ev, struct rv **a, struct rv **out) { return round_like(ev, a, out, ceil); }
static int bi_floor(struct ev *ev, struct rv **a, struct rv **out) { return round_like(ev, a, out, floor); }

static int bi_numbers_range(struct ev *ev, struct rv **a, struct rv **out)
{
    int64_t x, y;
    if (want_int(ev, a, 0, &x) < 0 || want_int(ev, a, 1, &y) < 0)
        return -1;
    uint64_t n = x <= y ? (uint64_t)(y - x) + 1 : (uint64_t)(x - y) + 1;
    if (n > 10000000)
        return bi_error(ev, "range too large");
    struct rvbuf b = { 0 };
    for (uint64_t i = 0; i < n && !rv_budget_exceeded(); i++)
        rvbuf_push(&b, rv_int(x <= y ? x + (int64_t)i : x - (int64_t)i));
    *out = rv_array_take(&b);
    return 0;
}

/* ------------------------------------------------------------------ sets */

static int set_op(struct ev *ev, char op, struct rv **a, struct rv **out)
{
    WANT(0, RV_SET);
    WANT(1, RV_SET);
    struct rvbuf b = { 0 };
    if (op == '|') {
        for (size_t i = 0; i < a[0]->u.arr.len; i++)
            rvbuf_push(&b, rv_incref(a[0]->u.arr.v[i]));
        for (size_t i = 0; i < a[1]->u.arr.len; i++)
            rvbuf_push(&b, rv_incref(a[1]->u.arr.v[i]));
    } else {
        for (size_t i = 0; i < a[0]->u.arr.len; i++) {
            bool in = rv_set_find(a[1], a[0]->u.arr.v[i]) != NULL;
            if ((op == '&') == in)
                rvbuf_push(&b, rv_incref(a[0]->u.arr.v[i]));
        }
    }
    *out = rv_set_take(&b);
    return 0;
}
static int bi_and(struct ev *ev, struct rv **a, struct rv **out) { return set_op(ev, '&', a, out); }
static int bi_or(struct ev *ev, struct rv **a, struct rv **out) { return set_op(ev, '|', a, out); }

static int setset(struct ev *ev, struct rv **a, struct rv **out, bool isunion)
{
    WANT(0, RV_SET);
    struct rv *s = a[0];
    for (size_t i = 0; i < s->u.arr.len; i++)
        if (s->u.arr.v[i]->type != RV_SET)
            return bi_type_error(ev, "operand 1 must be set of sets but got set containing %s",
                                 rv_type_name(s->u.arr.v[i]));
    if (s->u.arr.len == 0) {
        *out = rv_empty_set();
        return 0;
    }
    struct rv *acc = rv_incref(s->u.arr.v[0]);
    for (size_t i = 1; i < s->u.arr.len; i++) {
        struct rv *args[2] = { acc, s->u.arr.v[i] }, *r;
        set_op(ev, isunion ? '|' : '&', args, &r);
        rv_decref(acc);
        acc = r;
    }
    *out = acc;
    return 0;
}
static int bi_union(struct ev *ev, struct rv **a, struct rv **out) { return setset(ev, a, out, true); }
static int bi_intersection(struct ev *ev, struct rv **a, struct rv **out) { return setset(ev, a, out, false); }

static int bi_member2(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    struct rv *c = a[1];
    bool found = false;
    if (c->type == RV_SET)
        found = rv_set_find(c, a[0]) != NULL;
    else if (c->type == RV_ARRAY) {
        for (size_t i = 0; i < c->u.arr.len && !found; i++)
            found = rv_equal(c->u.arr.v[i], a[0]);
    } else if (c->type == RV_OBJECT) {
        for (size_t i = 0; i < c->u.obj.len && !found; i++)
            found = rv_equal(c->u.obj.v[i], a[0]);
    }
    *out = rv_bool(found);
    return 0;
}

static int bi_member3(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    struct rv *c = a[2], *v = NULL;
    if (c->type == RV_ARRAY || c->type == RV_OBJECT || c->type == RV_SET) {
        if (c->type == RV_ARRAY) {
            int64_t i;
            if (rv_as_int(a[0], &i) && i >= 0 && (uint64_t)i < c->u.arr.len)
                v = c->u.arr.v[i];
        } else if (c->type == RV_OBJECT) {
            v = rv_object_get(c, a[0]);
        } else {
            v = rv_set_find(c, a[0]);
        }
    }
    *out = rv_bool(v && rv_equal(v, a[1]));
    return 0;
}

/* ------------------------------------------------------------------ aggregates */

/* Runes in s as Go counts them: an invalid byte is one rune (U+FFFD). */
static size_t utf8_len(const char *s, size_t n) { return uni_rune_count(s, n); }

/* Appends the rune r in UTF-8. */
static void sb_rune(struct sbuf *b, uint32_t r)
{
    char e[4];
    sb_add(b, e, uni_encode(r, e));
}

/* Go's []rune(s): the runes of s, invalid bytes as U+FFFD. */
static uint32_t *runes_of(const char *s, size_t n, size_t *count)
{
    uint32_t *r = malloc(sizeof *r * (n + 1));
    if (!r)
        REGO_OOM();
    size_t c = 0, w;
    for (size_t i = 0; i < n; i += w)
        r[c++] = uni_decode(s + i, n - i, &w);
    *count = c;
    return r;
}

static struct rv *string_of_runes(const uint32_t *r, size_t n)
{
    struct sbuf b = { 0 };
    for (size_t i = 0; i < n; i++)
        sb_rune(&b, r[i]);
    size_t len = b.len;
    return rv_string_take(sb_steal(&b), len);
}

static bool is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

static int bi_count(struct ev *ev, struct rv **a, struct rv **out)
{
    struct rv *x = a[0];
    switch (x->type) {
    case RV_STRING: *out = rv_int((int64_t)utf8_len(S(x), SL(x))); return 0;
    case RV_ARRAY:
    case RV_SET: *out = rv_int((int64_t)x->u.arr.len); return 0;
    case RV_OBJECT: *out = rv_int((int64_t)x->u.obj.len); return 0;
    default:
        return bi_type_error(ev, "operand 1 must be one of {array, object, set, string} but got %s",
                             rv_type_name(x));
    }
}

static int fold(struct ev *ev, struct rv **a, struct rv **out, char op)
{
    struct rv *x = a[0];
    if (x->type != RV_ARRAY && x->type != RV_SET)
        return bi_type_error(ev, "operand 1 must be one of {array, set} but got %s", rv_type_name(x));
    struct rv *acc = rv_int(op == '+' ? 0 : 1);
    for (size_t i = 0; i < x->u.arr.len; i++) {
        struct rv *e = x->u.arr.v[i], *r;
        if (e->type != RV_NUMBER) {
            rv_decref(acc);
            return bi_type_error(ev, "operand 1 must be one of {array, set} of numbers but got %s containing %s",
                                 rv_type_name(x), rv_type_name(e));
        }
        char err[128];
        if (rv_arith(op, acc, e, &r, err, sizeof err) < 0) {
            rv_decref(acc);
            return bi_error(ev, "%s", err);
        }
        rv_decref(acc);
        acc = r;
    }
    *out = acc;
    return 0;
}
static int bi_sum(struct ev *ev, struct rv **a, struct rv **out) { return fold(ev, a, out, '+'); }
static int bi_product(struct ev *ev, struct rv **a, struct rv **out) { return fold(ev, a, out, '*'); }

static int extreme(struct ev *ev, struct rv **a, struct rv **out, int sign)
{
    struct rv *x = a[0];
    if (x->type != RV_ARRAY && x->type != RV_SET)
        return bi_type_error(ev, "operand 1 must be one of {array, set} but got %s", rv_type_name(x));
    if (x->u.arr.len == 0)
        return BI_UNDEFINED;
    struct rv *best = x->u.arr.v[0];
    for (size_t i = 1; i < x->u.arr.len; i++)
        if (rv_compare(x->u.arr.v[i], best) * sign > 0)
            best = x->u.arr.v[i];
    *out = rv_incref(best);
    return 0;
}
static int bi_max(struct ev *ev, struct rv **a, struct rv **out) { return extreme(ev, a, out, 1); }
static int bi_min(struct ev *ev, struct rv **a, struct rv **out) { return extreme(ev, a, out, -1); }

static int bi_sort(struct ev *ev, struct rv **a, struct rv **out)
{
    struct rv *x = a[0];
    if (x->type != RV_ARRAY && x->type != RV_SET)
        return bi_type_error(ev, "operand 1 must be one of {array, set} but got %s", rv_type_name(x));
    struct rvbuf b = { 0 };
    for (size_t i = 0; i < x->u.arr.len; i++)
        rvbuf_push(&b, rv_incref(x->u.arr.v[i]));
    if (b.len > 1)
        qsort(b.v, b.len, sizeof *b.v, rv_qsort_cmp);
    *out = rv_array_take(&b);
    return 0;
}

/* ------------------------------------------------------------------ strings */

static int bi_concat(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    struct rv *x = a[1];
    if (x->type != RV_ARRAY && x->type != RV_SET)
        return bi_type_error(ev, "operand 2 must be one of {array, set} but got %s", rv_type_name(x));
    struct sbuf b = { 0 };
    for (size_t i = 0; i < x->u.arr.len; i++) {
        struct rv *e = x->u.arr.v[i];
        if (e->type != RV_STRING) {
            free(b.s);
            return bi_type_error(ev, "operand 2 must be one of {array, set} of strings but got %s containing %s",
                                 rv_type_name(x), rv_type_name(e));
        }
        if (i)
            sb_add(&b, S(a[0]), SL(a[0]));
        sb_add(&b, S(e), SL(e));
    }
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}

static const char *memmem_s(const char *h, size_t hl, const char *n, size_t nl)
{
    if (nl == 0)
        return h;
    return memmem(h, hl, n, nl);
}

static int bi_contains(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    *out = rv_bool(memmem_s(S(a[0]), SL(a[0]), S(a[1]), SL(a[1])) != NULL);
    return 0;
}

static int bi_startswith(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    *out = rv_bool(SL(a[1]) <= SL(a[0]) && memcmp(S(a[0]), S(a[1]), SL(a[1])) == 0);
    return 0;
}

static int bi_endswith(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    *out = rv_bool(SL(a[1]) <= SL(a[0]) &&
                   memcmp(S(a[0]) + SL(a[0]) - SL(a[1]), S(a[1]), SL(a[1])) == 0);
    return 0;
}

/* Go's strings.ToUpper/ToLower: each rune by its simple case mapping; an
 * invalid byte becomes U+FFFD. */
static int case_map(struct ev *ev, struct rv **a, struct rv **out, uint32_t (*f)(uint32_t))
{
    WANT(0, RV_STRING);
    const char *s = S(a[0]);
    size_t n = SL(a[0]), w;
    struct sbuf b = { 0 };
    for (size_t i = 0; i < n; i += w) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            w = 1;
            sb_putc(&b, (char)f(c));
            continue;
        }
        sb_rune(&b, f(uni_decode(s + i, n - i, &w)));
    }
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}
static int bi_lower(struct ev *ev, struct rv **a, struct rv **out) { return case_map(ev, a, out, uni_to_lower); }
static int bi_upper(struct ev *ev, struct rv **a, struct rv **out) { return case_map(ev, a, out, uni_to_upper); }

/* UTF-8 code point boundaries of s. */
/* Rune boundaries of s as Go decodes it (an invalid byte is one rune). */
static size_t *cp_offsets(const char *s, size_t n, size_t *count)
{
    size_t *off = malloc(sizeof *off * (n + 1));
    if (!off)
        REGO_OOM();
    size_t c = 0, w;
    for (size_t i = 0; i < n; i += w) {
        off[c++] = i;
        uni_decode(s + i, n - i, &w);
    }
    off[c] = n;
    *count = c;
    return off;
}

static int split_impl(struct rv *s, const char *d, size_t dl, int64_t limit, struct rv **out)
{
    struct rvbuf b = { 0 };
    const char *p = S(s), *end = S(s) + SL(s);
    if (dl == 0) {
        size_t n;
        size_t *off = cp_offsets(S(s), SL(s), &n);
        for (size_t i = 0; i < n; i++) {
            if (limit > 0 && (int64_t)b.len == limit - 1) {
                rvbuf_push(&b, rv_string(S(s) + off[i], SL(s) - off[i]));
                break;
            }
            size_t w;
            if (uni_decode(S(s) + off[i], off[i + 1] - off[i], &w) == UNI_RUNE_ERROR)
                rvbuf_push(&b, rv_cstr("\xef\xbf\xbd"));   /* Go's explode */
            else
                rvbuf_push(&b, rv_string(S(s) + off[i], off[i + 1] - off[i]));
        }
        free(off);
        *out = rv_array_take(&b);
        return 0;
    }
    for (;;) {
        if (limit > 0 && (int64_t)b.len == limit - 1) {
            rvbuf_push(&b, rv_string(p, (size_t)(end - p)));
            break;
        }
        const char *q = memmem(p, (size_t)(end - p), d, dl);
        if (!q) {
            rvbuf_push(&b, rv_string(p, (size_t)(end - p)));
            break;
        }
        rvbuf_push(&b, rv_string(p, (size_t)(q - p)));
        p = q + dl;
    }
    *out = rv_array_take(&b);
    return 0;
}

static int bi_split(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    return split_impl(a[0], S(a[1]), SL(a[1]), -1, out);
}

/* strings.split_n (OPA v1.22): the first n parts of the split; n < 0: the
 * last -n parts of the full split; n == 0: none. */
static int bi_split_n(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    int64_t n;
    if (want_int(ev, a, 2, &n) < 0)
        return -1;
    if (n == 0) {
        *out = rv_empty_array();
        return 0;
    }
    if (n > 0) {
        /* OPA v1.22: Go's SplitN with n+1 parts, of which the first n */
        struct rv *parts;
        split_impl(a[0], S(a[1]), SL(a[1]), n == INT64_MAX ? -1 : n + 1, &parts);
        if ((uint64_t)n >= parts->u.arr.len) {
            *out = parts;
            return 0;
        }
        struct rvbuf b = { 0 };
        for (int64_t i = 0; i < n; i++)
            rvbuf_push(&b, rv_incref(parts->u.arr.v[i]));
        rv_decref(parts);
        *out = rv_array_take(&b);
        return 0;
    }
    struct rv *all;
    split_impl(a[0], S(a[1]), SL(a[1]), -1, &all);
    size_t len = all->u.arr.len, keep = (uint64_t)(-(n + 1)) + 1 < len ? (size_t)(-(n + 1)) + 1 : len;
    struct rvbuf b = { 0 };
    for (size_t i = len - keep; i < len; i++)
        rvbuf_push(&b, rv_incref(all->u.arr.v[i]));
    rv_decref(all);
    *out = rv_array_take(&b);
    return 0;
}

static int bi_replace(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    WANT(2, RV_STRING);
    struct sbuf b = { 0 };
    const char *p = S(a[0]), *end = p + SL(a[0]);
    if (SL(a[1]) == 0) {
        /* Go: insert the replacement around every code point */
        size_t n;
        size_t *off = cp_offsets(S(a[0]), SL(a[0]), &n);
        sb_add(&b, S(a[2]), SL(a[2]));
        for (size_t i = 0; i < n; i++) {
            sb_add(&b, S(a[0]) + off[i], off[i + 1] - off[i]);
            sb_add(&b, S(a[2]), SL(a[2]));
        }
        free(off);
    } else {
        for (;;) {
            const char *q = memmem(p, (size_t)(end - p), S(a[1]), SL(a[1]));
            if (!q) {
                sb_add(&b, p, (size_t)(end - p));
                break;
            }
            sb_add(&b, p, (size_t)(q - p));
            sb_add(&b, S(a[2]), SL(a[2]));
            p = q + SL(a[1]);
        }
    }
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}

/* Does code point at s[i..] belong to cutset? Returns its length or 0. */
/* Does the rune at s[i..] belong to the cutset (compared as runes, Go's
 * strings.ContainsRune)? Returns its width or 0. */
static size_t cut_match(const char *s, size_t n, size_t i, const struct rv *cut)
{
    size_t w, cw;
    uint32_t r = uni_decode(s + i, n - i, &w);
    const char *c = S(cut);
    size_t cn = SL(cut);
    for (size_t k = 0; k < cn; k += cw)
        if (uni_decode(c + k, cn - k, &cw) == r)
            return w;
    return 0;
}

/* Go's utf8.DecodeLastRune: the start of the last rune of s[0..end). */
static size_t last_rune_start(const char *s, size_t start, size_t end)
{
    size_t lim = end >= start + 4 ? end - 4 : start;
    size_t b = end - 1;
    while (b > lim && ((unsigned char)s[b] & 0xc0) == 0x80)
        b--;
    size_t w;
    uni_decode(s + b, end - b, &w);
    return b + w == end ? b : end - 1;
}

static int trim_impl(struct ev *ev, struct rv **a, struct rv **out, bool left, bool right)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    const char *s = S(a[0]);
    size_t n = SL(a[0]), start = 0, end = n;
    if (left) {
        size_t l;
        while (start < n && (l = cut_match(s, n, start, a[1])) > 0)
            start += l;
    }
    if (right) {
        while (end > start) {
            size_t b = last_rune_start(s, start, end);
            if (cut_match(s, end, b, a[1]) != end - b)
                break;
            end = b;
        }
    }
    *out = rv_string(s + start, end - start);
    return 0;
}
static int bi_trim(struct ev *ev, struct rv **a, struct rv **out) { return trim_impl(ev, a, out, true, true); }
static int bi_trim_left(struct ev *ev, struct rv **a, struct rv **out) { return trim_impl(ev, a, out, true, false); }
static int bi_trim_right(struct ev *ev, struct rv **a, struct rv **out) { return trim_impl(ev, a, out, false, true); }

/* Go's strings.TrimSpace: Unicode white space; invalid bytes are not. */
static int bi_trim_space(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    const char *s = S(a[0]);
    size_t start = 0, end = SL(a[0]), w;
    while (start < end) {
        uint32_t r = uni_decode(s + start, end - start, &w);
        if (!uni_is_space(r) || (r == UNI_RUNE_ERROR && w == 1))
            break;
        start += w;
    }
    while (end > start) {
        size_t b = last_rune_start(s, start, end);
        uint32_t r = uni_decode(s + b, end - b, &w);
        if (!uni_is_space(r) || b + w != end)
            break;
        end = b;
    }
    *out = rv_string(s + start, end - start);
    return 0;
}

static int bi_trim_prefix(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    if (SL(a[1]) <= SL(a[0]) && memcmp(S(a[0]), S(a[1]), SL(a[1])) == 0)
        *out = rv_string(S(a[0]) + SL(a[1]), SL(a[0]) - SL(a[1]));
    else
        *out = rv_incref(a[0]);
    return 0;
}

static int bi_trim_suffix(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    if (SL(a[1]) <= SL(a[0]) && memcmp(S(a[0]) + SL(a[0]) - SL(a[1]), S(a[1]), SL(a[1])) == 0)
        *out = rv_string(S(a[0]), SL(a[0]) - SL(a[1]));
    else
        *out = rv_incref(a[0]);
    return 0;
}

static int bi_substring(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    int64_t start, len;
    if (want_int(ev, a, 1, &start) < 0 || want_int(ev, a, 2, &len) < 0)
        return -1;
    if (start < 0)
        return bi_error(ev, "negative offset");
    const char *s = S(a[0]);
    size_t n = SL(a[0]);
    if (is_ascii(s, n)) {
        if ((uint64_t)start >= n) {
            *out = rv_cstr("");
            return 0;
        }
        size_t end = len < 0 || (uint64_t)start + (uint64_t)len > n ? n : (size_t)(start + len);
        *out = rv_string(s + start, end - (size_t)start);
        return 0;
    }
    /* Go's []rune(s): an invalid byte comes back as U+FFFD */
    size_t rn;
    uint32_t *r = runes_of(s, n, &rn);
    if ((uint64_t)start >= rn) {
        free(r);
        *out = rv_cstr("");
        return 0;
    }
    size_t end = len < 0 || (uint64_t)start + (uint64_t)len > rn ? rn : (size_t)(start + len);
    *out = string_of_runes(r + start, end - (size_t)start);
    free(r);
    return 0;
}

/* indexof / indexof_n compare runes (an invalid byte equals U+FFFD) and
 * count positions in runes, as OPA does. */
static int index_runes(struct ev *ev, struct rv **a, struct rv **out, bool all)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    if (SL(a[1]) == 0)
        return bi_error(ev, "empty search character");
    size_t bn, sn;
    uint32_t *br = runes_of(S(a[0]), SL(a[0]), &bn);
    uint32_t *sr = runes_of(S(a[1]), SL(a[1]), &sn);
    struct rvbuf b = { 0 };
    int64_t first = -1;
    for (size_t i = 0; i + sn <= bn; i++) {
        if (memcmp(br + i, sr, sn * sizeof *sr) != 0)
            continue;
        if (!all) {
            first = (int64_t)i;
            break;
        }
        rvbuf_push(&b, rv_int((int64_t)i));
    }
    free(br);
    free(sr);
    *out = all ? rv_array_take(&b) : rv_int(first);
    return 0;
}
static int bi_indexof(struct ev *ev, struct rv **a, struct rv **out) { return index_runes(ev, a, out, false); }

static int bi_indexof_n(struct ev *ev, struct rv **a, struct rv **out) { return index_runes(ev, a, out, true); }

static int bi_strings_count(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    if (SL(a[1]) == 0) {
        *out = rv_int((int64_t)utf8_len(S(a[0]), SL(a[0])) + 1);
        return 0;
    }
    int64_t c = 0;
    const char *p = S(a[0]), *end = p + SL(a[0]);
    for (;;) {
        const char *q = memmem(p, (size_t)(end - p), S(a[1]), SL(a[1]));
        if (!q)
            break;
        c++;
        p = q + SL(a[1]);
    }
    *out = rv_int(c);
    return 0;
}

static int bi_strings_reverse(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    size_t n;
    size_t *off = cp_offsets(S(a[0]), SL(a[0]), &n);
    struct sbuf b = { 0 };
    for (size_t i = n; i > 0; i--)
        sb_add(&b, S(a[0]) + off[i - 1], off[i] - off[i - 1]);
    free(off);
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}

static int bi_replace_n(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_OBJECT);
    WANT(1, RV_STRING);
    struct rv *obj = a[0];
    for (size_t i = 0; i < obj->u.obj.len; i++)
        if (obj->u.obj.k[i]->type != RV_STRING || obj->u.obj.v[i]->type != RV_STRING)
            return bi_type_error(ev, "operand 1 must be object[string: string]");
    /* Go's strings.NewReplacer: at each position, the first pattern (in argument order,
     * here key order) that matches wins. */
    struct sbuf b = { 0 };
    const char *s = S(a[1]);
    size_t n = SL(a[1]), i = 0;
    while (i < n) {
        bool done = false;
        for (size_t k = 0; k < obj->u.obj.len; k++) {
            struct rv *key = obj->u.obj.k[k];
            if (SL(key) && SL(key) <= n - i && memcmp(s + i, S(key), SL(key)) == 0) {
                sb_add(&b, S(obj->u.obj.v[k]), SL(obj->u.obj.v[k]));
                i += SL(key);
                done = true;
                break;
            }
        }
        if (!done)
            sb_putc(&b, s[i++]);
    }
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}

/* OPA converts the number to a big.Float of 64-bit mantissa (an x87 long
 * double has the same), truncates it to an integer and formats that. */
static int bi_format_int(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_NUMBER);
    WANT(1, RV_NUMBER);
    int64_t base;
    if (!rv_as_int(a[1], &base) || (base != 2 && base != 8 && base != 10 && base != 16))
        return bi_error(ev, "operand 2 must be one of {2, 8, 10, 16}");
    long double x;
    if (a[0]->is_int) {
        x = (long double)a[0]->u.i;
    } else {
        struct sbuf t = { 0 };
        rv_write_number(&t, a[0]);
        x = strtold(t.s, NULL);
        free(t.s);
    }
    x = truncl(x);
    bool neg = x < 0;
    if (neg)
        x = -x;
    struct sbuf b = { 0 };
    if (neg)
        sb_putc(&b, '-');
    if (a[0]->is_int) {
        uint64_t u = a[0]->u.i < 0 ? (uint64_t)0 - (uint64_t)a[0]->u.i : (uint64_t)a[0]->u.i;
        char buf[72];
        int p = (int)sizeof buf - 1;
        buf[p] = 0;
        do {
            buf[--p] = "0123456789abcdef"[u % (uint64_t)base];
            u /= (uint64_t)base;
        } while (u);
        sb_puts(&b, buf + p);
    } else if (base == 10) {
        sb_printf(&b, "%.0Lf", x);
    } else if (!isfinite(x)) {
        free(b.s);
        return bi_error(ev, "number out of range");
    } else {
        /* x = m * 2^e exactly, m a 64-bit integer */
        int e;
        long double fr = frexpl(x, &e);
        uint64_t m = (uint64_t)ldexpl(fr, 64);
        e -= 64;
        while (e < 0) {
            m >>= 1;
            e++;
        }
        /* binary digits: m followed by e zeros */
        struct sbuf bits = { 0 };
        bool started = false;
        for (int i = 63; i >= 0; i--) {
            int bit = (int)((m >> i) & 1);
            if (bit)
                started = true;
            if (started)
                sb_putc(&bits, (char)('0' + bit));
        }
        if (!started)
            sb_putc(&bits, '0');
        for (int i = 0; i < e && started; i++)
            sb_putc(&bits, '0');
        int group = base == 2 ? 1 : base == 8 ? 3 : 4;
        size_t nb = bits.len, lead = nb % (size_t)group;
        size_t pos = 0;
        for (size_t chunk = lead ? lead : (size_t)group; pos < nb; chunk = (size_t)group) {
            unsigned v = 0;
            for (size_t k = 0; k < chunk; k++)
                v = v * 2 + (unsigned)(bits.s[pos + k] - '0');
            sb_putc(&b, "0123456789abcdef"[v]);
            pos += chunk;
        }
        free(bits.s);
    }
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}

static int prefix_match(struct ev *ev, struct rv **a, struct rv **out, bool suffix)
{
    struct rv *lists[2] = { a[0], a[1] };
    for (int i = 0; i < 2; i++) {
        struct rv *x = lists[i];
        if (x->type != RV_STRING && x->type != RV_ARRAY && x->type != RV_SET)
            return bi_type_error(ev, "operand %d must be one of {string, set, array} but got %s", i + 1,
                                 rv_type_name(x));
        if (x->type != RV_STRING)
            for (size_t j = 0; j < x->u.arr.len; j++)
                if (x->u.arr.v[j]->type != RV_STRING)
                    return bi_type_error(ev, "operand %d must be %s of strings but got %s containing %s",
                                         i + 1, rv_type_name(x), rv_type_name(x),
                                         rv_type_name(x->u.arr.v[j]));
    }
    struct rv **ss, **ps;
    size_t ns, np;
    ss = a[0]->type == RV_STRING ? &a[0] : a[0]->u.arr.v;
    ns = a[0]->type == RV_STRING ? 1 : a[0]->u.arr.len;
    ps = a[1]->type == RV_STRING ? &a[1] : a[1]->u.arr.v;
    np = a[1]->type == RV_STRING ? 1 : a[1]->u.arr.len;
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < np; j++) {
            struct rv *s = ss[i], *p = ps[j];
            if (SL(p) > SL(s))
                continue;
            const char *at = suffix ? S(s) + SL(s) - SL(p) : S(s);
            if (memcmp(at, S(p), SL(p)) == 0) {
                *out = rv_bool(true);
                return 0;
            }
        }
    *out = rv_bool(false);
    return 0;
}
static int bi_any_prefix_match(struct ev *ev, struct rv **a, struct rv **out) { return prefix_match(ev, a, out, false); }
static int bi_any_suffix_match(struct ev *ev, struct rv **a, struct rv **out) { return prefix_match(ev, a, out, true); }

/* ------------------------------------------------------------------ types */

#define TYPE_CHECK(fn, t) \
    static int fn(struct ev *ev, struct rv **a, struct rv **out) { (void)ev; *out = rv_bool(a[0]->type == (t)); return 0; }
TYPE_CHECK(bi_is_number, RV_NUMBER)
TYPE_CHECK(bi_is_string, RV_STRING)
TYPE_CHECK(bi_is_boolean, RV_BOOL)
TYPE_CHECK(bi_is_array, RV_ARRAY)
TYPE_CHECK(bi_is_set, RV_SET)
TYPE_CHECK(bi_is_object, RV_OBJECT)
TYPE_CHECK(bi_is_null, RV_NULL)

static int bi_type_name(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    *out = rv_cstr(rv_type_name(a[0]));
    return 0;
}

static int bi_to_number(struct ev *ev, struct rv **a, struct rv **out)
{
    struct rv *x = a[0];
    switch (x->type) {
    case RV_NULL: *out = rv_int(0); return 0;
    case RV_BOOL: *out = rv_int(x->u.b ? 1 : 0); return 0;
    case RV_NUMBER: *out = rv_incref(x); return 0;
    case RV_STRING: {
        /* OPA: the spellings of infinities and NaN are a type error;
         * anything else Go's strconv.ParseFloat accepts is a number */
        const char *s = S(x);
        size_t n = SL(x), i = 0;
        while (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!strcasecmp(s + i, "inf") || !strcasecmp(s + i, "infinity") || !strcasecmp(s + i, "nan"))
            return bi_type_error(ev, "operand 1 must be valid number string but got string");
        *out = rv_number_text(s, n);
        if (*out) {
            if ((*out)->is_big && !isfinite(rv_as_double(*out))) {
                rv_decref(*out);
                *out = NULL;
                return bi_error(ev, "strconv.ParseFloat: parsing \"%s\": value out of range", s);
            }
            return 0;
        }
        /* ParseFloat's wider syntax: a leading '+', ".5", "5.", hex */
        char *end;
        errno = 0;
        double d = n && strlen(s) == n && !isspace((unsigned char)s[0]) ? strtod(s, &end) : 0;
        if (n && strlen(s) == n && !isspace((unsigned char)s[0]) && end == s + n && (isdigit((unsigned char)s[n - 1]) || s[n - 1] == '.')) {
            if (errno == ERANGE && !isfinite(d))
                return bi_error(ev, "strconv.ParseFloat: parsing \"%s\": value out of range", s);
            *out = rv_double(d);
            return 0;
        }
        struct sbuf q = { 0 };
        rv_write_json_string(&q, s, n);
        int rc = bi_error(ev, "strconv.ParseFloat: parsing %s: invalid syntax", q.s);
        free(q.s);
        return rc;
    }
    case 100: {
        /* JSON number syntax (Go's json.Number check) */
        const char *s = S(x);
        size_t n = SL(x), i = 0;
        if (i < n && s[i] == '-')
            i++;
        size_t ds = i;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        bool ok = i > ds;
        if (ok && i < n && s[i] == '.') {
            i++;
            size_t fs = i;
            while (i < n && isdigit((unsigned char)s[i]))
                i++;
            ok = i > fs;
        }
        if (ok && i < n && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
            size_t es = i;
            while (i < n && isdigit((unsigned char)s[i]))
                i++;
            ok = i > es;
        }
        if (!ok || i != n || strlen(s) != n)
            return bi_error(ev, "invalid syntax");
        if (!strpbrk(s, ".eE")) {
            char *end;
            errno = 0;
            long long v = strtoll(s, &end, 10);
            if (!errno) {
                *out = rv_int(v);
                return 0;
            }
        }
        double d = strtod(s, NULL);
        if (!isfinite(d))
            return bi_error(ev, "number out of range");
        *out = rv_double(d);
        return 0;
    }
    default:
        return bi_type_error(ev, "operand 1 must be one of {boolean, null, number, string} but got %s",
                             rv_type_name(x));
    }
}

/* ------------------------------------------------------------------ arrays */

static int bi_array_concat(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_ARRAY);
    WANT(1, RV_ARRAY);
    struct rvbuf b = { 0 };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < a[k]->u.arr.len; i++)
            rvbuf_push(&b, rv_incref(a[k]->u.arr.v[i]));
    *out = rv_array_take(&b);
    return 0;
}

static int bi_array_slice(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_ARRAY);
    int64_t s, e;
    if (want_int(ev, a, 1, &s) < 0 || want_int(ev, a, 2, &e) < 0)
        return -1;
    int64_t n = (int64_t)a[0]->u.arr.len;
    if (s < 0)
        s = 0;
    if (e > n)
        e = n;
    struct rvbuf b = { 0 };
    for (int64_t i = s; i < e; i++)
        rvbuf_push(&b, rv_incref(a[0]->u.arr.v[i]));
    *out = rv_array_take(&b);
    return 0;
}

static int bi_array_reverse(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_ARRAY);
    struct rvbuf b = { 0 };
    for (size_t i = a[0]->u.arr.len; i > 0; i--)
        rvbuf_push(&b, rv_incref(a[0]->u.arr.v[i - 1]));
    *out = rv_array_take(&b);
    return 0;
}

static int bi_array_flatten(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_ARRAY);
    struct rvbuf b = { 0 };
    for (size_t i = 0; i < a[0]->u.arr.len; i++) {
        struct rv *e = a[0]->u.arr.v[i];
        if (e->type == RV_ARRAY)
            for (size_t j = 0; j < e->u.arr.len; j++)
                rvbuf_push(&b, rv_incref(e->u.arr.v[j]));
        else
            rvbuf_push(&b, rv_incref(e));
    }
    *out = rv_array_take(&b);
    return 0;
}

/* ------------------------------------------------------------------ objects */

static int bi_object_get(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_OBJECT);
    struct rv *cur = a[0];
    if (a[1]->type == RV_ARRAY) {
        for (size_t i = 0; i < a[1]->u.arr.len && cur; i++) {
            struct rv *k = a[1]->u.arr.v[i];
            if (cur->type == RV_OBJECT)
                cur = rv_object_get(cur, k);
            else if (cur->type == RV_ARRAY) {
                int64_t idx;
                cur = rv_as_int(k, &idx) && idx >= 0 && (uint64_t)idx < cur->u.arr.len ? cur->u.arr.v[idx] : NULL;
            } else if (cur->type == RV_SET)
                cur = rv_set_find(cur, k);
            else
                cur = NULL;
        }
    } else {
        cur = rv_object_get(a[0], a[1]);
    }
    *out = rv_incref(cur ? cur : a[2]);
    return 0;
}

static int bi_object_keys(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_OBJECT);
    struct rvbuf b = { 0 };
    for (size_t i = 0; i < a[0]->u.obj.len; i++)
        rvbuf_push(&b, rv_incref(a[0]->u.obj.k[i]));
    *out = rv_set_take(&b);
    return 0;
}

static bool key_in(struct rv *coll, struct rv *k)
{
    if (coll->type == RV_SET)
        return rv_set_find(coll, k) != NULL;
    if (coll->type == RV_OBJECT)
        return rv_object_get(coll, k) != NULL;
    for (size_t i = 0; i < coll->u.arr.len; i++)
        if (rv_equal(coll->u.arr.v[i], k))
            return true;
    return false;
}

static int filter_keys(struct ev *ev, struct rv **a, struct rv **out, bool keep)
{
    if (a[0]->type != RV_OBJECT)
        return bi_type_error(ev, "operand 1 must be object but got %s", rv_type_name(a[0]));
    if (a[1]->type != RV_ARRAY && a[1]->type != RV_SET && a[1]->type != RV_OBJECT)
        return bi_type_error(ev, "operand 2 must be one of {object, string, array} but got %s",
                             rv_type_name(a[1]));
    struct rvbuf k = { 0 }, v = { 0 };
    for (size_t i = 0; i < a[0]->u.obj.len; i++) {
        if (key_in(a[1], a[0]->u.obj.k[i]) != keep)
            continue;
        rvbuf_push(&k, rv_incref(a[0]->u.obj.k[i]));
        rvbuf_push(&v, rv_incref(a[0]->u.obj.v[i]));
    }
    *out = rv_object_take(&k, &v);
    return 0;
}
static int bi_object_remove(struct ev *ev, struct rv **a, struct rv **out) { return filter_keys(ev, a, out, false); }
static int bi_object_filter(struct ev *ev, struct rv **a, struct rv **out) { return filter_keys(ev, a, out, true); }

static struct rv *merge_objects(struct rv *x, struct rv *y)
{
    if (x->type != RV_OBJECT || y->type != RV_OBJECT)
        return rv_incref(y);
    struct rvbuf k = { 0 }, v = { 0 };
    for (size_t i = 0; i < x->u.obj.len; i++) {
        struct rv *yv = rv_object_get(y, x->u.obj.k[i]);
        rvbuf_push(&k, rv_incref(x->u.obj.k[i]));
        rvbuf_push(&v, yv ? merge_objects(x->u.obj.v[i], yv) : rv_incref(x->u.obj.v[i]));
    }
    for (size_t i = 0; i < y->u.obj.len; i++) {
        if (rv_object_get(x, y->u.obj.k[i]))
            continue;
        rvbuf_push(&k, rv_incref(y->u.obj.k[i]));
        rvbuf_push(&v, rv_incref(y->u.obj.v[i]));
    }
    return rv_object_take(&k, &v);
}

static int bi_object_union(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_OBJECT);
    WANT(1, RV_OBJECT);
    *out = merge_objects(a[0], a[1]);
    return 0;
}

static int bi_object_union_n(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_ARRAY);
    struct rv *acc = rv_empty_object();
    for (size_t i = 0; i < a[0]->u.arr.len; i++) {
        struct rv *e = a[0]->u.arr.v[i];
        if (e->type != RV_OBJECT) {
            rv_decref(acc);
            return bi_type_error(ev, "operand 1 must be array of objects but got array containing %s",
                                 rv_type_name(e));
        }
        struct rv *n = merge_objects(acc, e);
        rv_decref(acc);
        acc = n;
    }
    *out = acc;
    return 0;
}

/* ------------------------------------------------------------------ encoding */

static int bi_json_marshal(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    struct sbuf b = { 0 };
    rv_write(&b, a[0], true);
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}

static int bi_json_unmarshal(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    json_error_t je;
    json_t *j = json_loadb(S(a[0]), SL(a[0]), JSON_DECODE_ANY, &je);
    if (!j && strstr(je.text, "too big"))
        j = json_loadb(S(a[0]), SL(a[0]), JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (!j)
        return bi_error(ev, "%s", je.text);
    const char *why;
    *out = rv_from_json(j, &why);
    json_decref(j);
    if (!*out)
        return bi_error(ev, "%s", why);
    return 0;
}

static int bi_json_is_valid(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    if (a[0]->type != RV_STRING) {
        *out = rv_bool(false);
        return 0;
    }
    json_error_t je;
    json_t *j = json_loadb(S(a[0]), SL(a[0]), JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    *out = rv_bool(j != NULL);
    json_decref(j);
    return 0;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct rv *b64_encode(const unsigned char *s, size_t n, const char *alpha, bool pad)
{
    struct sbuf b = { 0 };
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        sb_putc(&b, alpha[(v >> 18) & 63]);
        sb_putc(&b, alpha[(v >> 12) & 63]);
        if (i + 1 < n)
            sb_putc(&b, alpha[(v >> 6) & 63]);
        else if (pad)
            sb_putc(&b, '=');
        if (i + 2 < n)
            sb_putc(&b, alpha[v & 63]);
        else if (pad)
            sb_putc(&b, '=');
    }
    size_t len = b.len;
    return rv_string_take(sb_steal(&b), len);
}

size_t bi_base64_chars(const char *s, size_t n, const char *alphabet, struct sbuf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = s[i] ? memchr(alphabet, s[i], 64) : NULL;
        if (!p)
            return i;
        acc = (acc << 6) | (uint32_t)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            sb_putc(out, (char)((acc >> bits) & 0xff));
        }
    }
    return n;
}

static int b64_decode(const char *s, size_t n, const char *alpha, bool need_pad, struct sbuf *out)
{
    size_t data = n;
    while (data > 0 && s[data - 1] == '=')
        data--;
    if (n - data > 2)
        return -1;
    if (need_pad && n % 4 != 0)
        return -1;
    if (data % 4 == 1)
        return -1;
    return bi_base64_chars(s, data, alpha, out) == data ? 0 : -1;
}

static int bi_base64_encode(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    *out = b64_encode((const unsigned char *)S(a[0]), SL(a[0]), b64std, true);
    return 0;
}

/* a[0] decoded with alphabet into a string (Go's error text when it is not). */
static int base64_decode_to(struct ev *ev, struct rv **a, const char *alphabet, bool need_pad, struct rv **out)
{
    WANT(0, RV_STRING);
    struct sbuf b = { 0 };
    if (b64_decode(S(a[0]), SL(a[0]), alphabet, need_pad, &b) < 0) {
        free(b.s);
        return bi_error(ev, "illegal base64 data at input byte 0");
    }
    size_t len = b.len;
    *out = rv_string_take(sb_steal(&b), len);
    return 0;
}

static int bi_base64_decode(struct ev *ev, struct rv **a, struct rv **out)
{
    return base64_decode_to(ev, a, b64std, true, out);
}

static int bi_base64_is_valid(struct ev *ev, struct rv **a, struct rv **out)
{
    if (a[0]->type != RV_STRING) {   /* OPA: false, not a type error */
        *out = rv_bool(false);
        return 0;
    }
    struct sbuf b = { 0 };
    *out = rv_bool(b64_decode(S(a[0]), SL(a[0]), b64std, true, &b) == 0);
    free(b.s);
    return 0;
}

static int bi_base64url_encode(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    *out = b64_encode((const unsigned char *)S(a[0]), SL(a[0]), b64url, true);
    return 0;
}

static int bi_base64url_encode_no_pad(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    *out = b64_encode((const unsigned char *)S(a[0]), SL(a[0]), b64url, false);
    return 0;
}

static int bi_base64url_decode(struct ev *ev, struct rv **a, struct rv **out)
{
    return base64_decode_to(ev, a, b64url, false, out);
}

static int digest(struct ev *ev, struct rv **a, struct rv **out, const EVP_MD *md)
{
    WANT(0, RV_STRING);
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (!EVP_Digest(S(a[0]), SL(a[0]), h, &hl, md, NULL))
        return bi_error(ev, "digest failed");
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < hl; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    *out = rv_string(hex, 2 * hl);
    return 0;
}
static int bi_sha256(struct ev *ev, struct rv **a, struct rv **out) { return digest(ev, a, out, EVP_sha256()); }
static int bi_sha1(struct ev *ev, struct rv **a, struct rv **out) { return digest(ev, a, out, EVP_sha1()); }
static int bi_md5(struct ev *ev, struct rv **a, struct rv **out) { return digest(ev, a, out, EVP_md5()); }

/* ------------------------------------------------------------------ time, units */

static int bi_time_now_ns(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)a;
    *out = rv_int(ev_now_ns(ev));
    return 0;
}

/* OPA's units.parse_bytes: quotes dropped, lower case, no spaces; the
 * number is the longest prefix of digits, '.', signs and exponents (an 'e'
 * belongs to it only before a digit or a sign, with at most 6 exponent
 * digits), the rest is the unit ("" or k, kb, ki, kib ... e, eb, ei, eib).
 * Go reads the number as a big.Float of 64 bits of mantissa, multiplies and
 * truncates towards zero: a long double (64 bits of mantissa on x86-64)
 * rounds the same way. */
static int parse_bytes(struct ev *ev, char *s, size_t n, struct rv **out)
{
    if (memchr(s, ' ', n))
        return bi_error(ev, "spaces not allowed in resource strings");
    size_t i = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (isdigit((unsigned char)c) || c == '.' || c == '+' || c == '-')
            continue;
        if (c != 'e')
            break;
        if (i + 1 == n || (!isdigit((unsigned char)s[i + 1]) && s[i + 1] != '+' && s[i + 1] != '-'))
            break;
        if (s[i + 1] == '+' || s[i + 1] == '-')
            i++;
        size_t e = i + 1;
        while (e < n && isdigit((unsigned char)s[e]))
            e++;
        if (e - (i + 1) > 6)
            return bi_error(ev, "exponent too large");
    }
    if (i == 0)
        return bi_error(ev, "no byte amount provided");
    const char *unit = s + i;
    static const struct { const char *u; long double m; } units[] = {
        { "", 1 },
        { "k", 1e3L }, { "kb", 1e3L }, { "ki", 1024.0L }, { "kib", 1024.0L },
        { "m", 1e6L }, { "mb", 1e6L }, { "mi", 1048576.0L }, { "mib", 1048576.0L },
        { "g", 1e9L }, { "gb", 1e9L }, { "gi", 1073741824.0L }, { "gib", 1073741824.0L },
        { "t", 1e12L }, { "tb", 1e12L }, { "ti", 1099511627776.0L }, { "tib", 1099511627776.0L },
        { "p", 1e15L }, { "pb", 1e15L }, { "pi", 1125899906842624.0L }, { "pib", 1125899906842624.0L },
        { "e", 1e18L }, { "eb", 1e18L }, { "ei", 1152921504606846976.0L }, { "eib", 1152921504606846976.0L },
    };
    long double m = 0;
    size_t k = 0;
    for (; k < sizeof units / sizeof units[0]; k++)
        if (strlen(units[k].u) == n - i && memcmp(unit, units[k].u, n - i) == 0) {
            m = units[k].m;
            break;
        }
    if (k == sizeof units / sizeof units[0])
        return bi_error(ev, "byte unit %s not recognized", unit);
    /* the number as Go's big.Float reads it: sign, digits with at most one
     * '.', at least one digit, an optional exponent with digits */
    const char *p = s;
    size_t digits = 0, dots = 0;
    if (*p == '+' || *p == '-')
        p++;
    for (; p < unit && (isdigit((unsigned char)*p) || *p == '.'); p++)
        *p == '.' ? dots++ : digits++;
    bool ok = digits > 0 && dots <= 1;
    if (ok && p < unit) {
        ok = *p++ == 'e';
        if (ok && (*p == '+' || *p == '-'))
            p++;
        ok = ok && p < unit;
        for (; ok && p < unit; p++)
            ok = isdigit((unsigned char)*p);
    }
    if (!ok)
        return bi_error(ev, "could not parse byte amount to a number");
    s[i] = 0;
    long double v = truncl(strtold(s, NULL) * m);
    if (!isfinite(v))
        return bi_error(ev, "byte amount too large");
    if (fabsl(v) < 9223372036854775807.0L) {
        *out = rv_int((int64_t)v);
        return 0;
    }
    char num[5000];
    int len = snprintf(num, sizeof num, "%.0Lf", v);
    if (len < 0 || (size_t)len >= sizeof num || !(*out = rv_number_text(num, (size_t)len)))
        return bi_error(ev, "byte amount too large");
    return 0;
}

static int bi_units_parse_bytes(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    struct sbuf sb = { 0 };
    for (size_t i = 0; i < SL(a[0]); i++)
        if (S(a[0])[i] != '"')
            sb_putc(&sb, (char)tolower((unsigned char)S(a[0])[i]));
    size_t n = sb.len;
    char *s = sb_steal(&sb);
    int rc = parse_bytes(ev, s, n, out);
    free(s);
    return rc;
}

/* ------------------------------------------------------------------ net */

static int parse_ip(const char *s, unsigned char *out, int *family)
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = 6;
        return 0;
    }
    return -1;
}

/* "a.b.c.d/n" or an address (a /32 or /128). */
static int parse_cidr(const char *s, size_t len, unsigned char *addr, int *family, int *bits, bool need_prefix)
{
    char buf[128];
    if (len >= sizeof buf || memchr(s, 0, len))
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    else if (need_prefix)
        return -1;
    if (parse_ip(buf, addr, family) < 0)
        return -1;
    int max = *family == 4 ? 32 : 128;
    if (slash) {
        char *end;
        const char *p = slash + 1;
        if (!isdigit((unsigned char)*p))
            return -1;
        long v = strtol(p, &end, 10);
        if (*end || v < 0 || v > max)
            return -1;
        *bits = (int)v;
    } else {
        *bits = max;
    }
    return 0;
}

static bool prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
    int full = bits / 8, rem = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return false;
    if (rem) {
        unsigned char mask = (unsigned char)(0xff << (8 - rem));
        return (a[full] & mask) == (b[full] & mask);
    }
    return true;
}

struct cidr {
    unsigned char net[16];
    int family, bits;
};

static void *pcache_get(struct ev *ev, int kind, struct rv *pattern, struct rv *delims);
static bool pcache_put(struct ev *ev, int kind, struct rv *pattern, struct rv *delims, void *compiled);

/* One CIDR argument. A network that is the policy's own constant (frozen)
 * is parsed once per prepared query (kept with its globs and regexes). */
static int cidr_arg(struct ev *ev, struct rv *v, bool need_prefix, struct cidr *c)
{
    int kind = need_prefix ? PCACHE_CIDR : PCACHE_ADDR;
    bool constant = v->refs == 0 && !v->in_block;
    const struct cidr *known = constant ? pcache_get(ev, kind, v, NULL) : NULL;
    _Static_assert(sizeof(struct cidr) <= sizeof ev->addr_parsed, "the evaluation's address memo holds a cidr");
    if (!known && ev->addr_key == v && ev->addr_kind == kind)
        known = (const struct cidr *)(const void *)ev->addr_parsed;
    if (known) {
        *c = *known;
        return 0;
    }
    if (parse_cidr(S(v), SL(v), c->net, &c->family, &c->bits, need_prefix) < 0)
        return -1;
    if (!constant) {   /* held until the evaluation ends: its address stays its own */
        memcpy(ev->addr_parsed, c, sizeof *c);
        rv_decref(ev->addr_key);
        ev->addr_key = rv_incref(v);
        ev->addr_kind = kind;
    }
    if (constant && ev->pcache) {
        struct cidr *keep = malloc(sizeof *keep);
        if (!keep)
            REGO_OOM();
        *keep = *c;
        if (!pcache_put(ev, kind, v, NULL, keep))
            free(keep);
    }
    return 0;
}

/* The builtin's two arguments as CIDRs (the second may be a bare address
 * when second_bare). */
static int cidr_args(struct ev *ev, struct rv **a, bool second_bare, struct cidr c[2])
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    memset(c, 0, 2 * sizeof(*c));
    for (int i = 0; i < 2; i++)
        if (cidr_arg(ev, a[i], i == 0 || !second_bare, &c[i]) < 0)
            return bi_error(ev, "invalid CIDR address: %s", S(a[i]));
    return 0;
}

static int bi_cidr_contains(struct ev *ev, struct rv **a, struct rv **out)
{
    struct cidr c[2];
    if (cidr_args(ev, a, true, c) < 0)
        return -1;
    *out = rv_bool(c[0].family == c[1].family && c[1].bits >= c[0].bits && prefix_eq(c[0].net, c[1].net, c[0].bits));
    return 0;
}


static void cidr_string(struct sbuf *b, const unsigned char *addr, int family, int bits, bool with_prefix)
{
    char txt[INET6_ADDRSTRLEN];
    inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, txt, sizeof txt);
    sb_puts(b, txt);
    if (with_prefix)
        sb_printf(b, "/%d", bits);
}

static void mask_addr(unsigned char *addr, int family, int bits)
{
    int n = family == 4 ? 4 : 16;
    for (int i = 0; i < n; i++) {
        int keep = bits - 8 * i;
        addr[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
    }
}

/* net.cidr_expand: every address of the block (the memory budget bounds
 * what a /8 or an IPv6 block can make). */
static int bi_cidr_expand(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    unsigned char addr[16] = { 0 };
    int family, bits;
    if (parse_cidr(S(a[0]), SL(a[0]), addr, &family, &bits, true) < 0)
        return bi_error(ev, "invalid CIDR address: %s", S(a[0]));
    int n = family == 4 ? 4 : 16;
    mask_addr(addr, family, bits);
    unsigned __int128 v = 0, last;
    for (int i = 0; i < n; i++)
        v = v << 8 | addr[i];
    int host = 8 * n - bits;
    last = host >= 128 ? ~(unsigned __int128)0 : v | ((((unsigned __int128)1) << host) - 1);
    struct rvbuf b = { 0 };
    for (;;) {
        for (int i = n - 1; i >= 0; i--)
            addr[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
        struct sbuf str = { 0 };
        cidr_string(&str, addr, family, bits, false);
        rvbuf_push(&b, bi_string_of(&str));
        if (v == last || rv_budget_exceeded())
            break;
        v++;
    }
    *out = rv_set_take(&b);
    return 0;
}

struct cidr_item {
    struct rv *key;     /* borrowed */
    const char *text;
    size_t len;
};

static int cidr_items(struct ev *ev, struct rv *x, int opnum, struct cidr_item **items, size_t *n)
{
    size_t count = x->type == RV_STRING ? 1 : x->type == RV_OBJECT ? x->u.obj.len
                   : (x->type == RV_ARRAY || x->type == RV_SET) ? x->u.arr.len : 0;
    if (x->type != RV_STRING && x->type != RV_OBJECT && x->type != RV_ARRAY && x->type != RV_SET)
        return bi_type_error(ev, "operand %d must be one of {string, array, set, object} but got %s", opnum,
                             rv_type_name(x));
    *items = calloc(count + 1, sizeof **items);
    if (!*items)
        REGO_OOM();
    *n = count;
    for (size_t i = 0; i < count; i++) {
        struct rv *el, *key;
        if (x->type == RV_STRING) {
            el = key = x;
        } else if (x->type == RV_OBJECT) {
            key = x->u.obj.k[i];
            el = x->u.obj.v[i];
        } else {
            el = x->u.arr.v[i];
            key = x->type == RV_SET ? el : NULL;
        }
        if (el->type == RV_ARRAY && el->u.arr.len > 0 && el->u.arr.v[0]->type == RV_STRING)
            el = el->u.arr.v[0];
        if (el->type != RV_STRING) {
            free(*items);
            return bi_error(ev, "operand %d: element must be string or non-empty array", opnum);
        }
        (*items)[i].key = key;
        (*items)[i].text = S(el);
        (*items)[i].len = SL(el);
    }
    return 0;
}

static int bi_cidr_contains_matches(struct ev *ev, struct rv **a, struct rv **out)
{
    struct cidr_item *c1, *c2;
    size_t n1, n2;
    if (cidr_items(ev, a[0], 1, &c1, &n1) < 0)
        return -1;
    if (cidr_items(ev, a[1], 2, &c2, &n2) < 0) {
        free(c1);
        return -1;
    }
    struct rvbuf b = { 0 };
    int rc = 0;
    for (size_t i = 0; i < n1 && rc == 0; i++) {
        unsigned char na[16] = { 0 };
        int fa, ba;
        if (parse_cidr(c1[i].text, c1[i].len, na, &fa, &ba, false) < 0) {
            rc = bi_error(ev, "invalid CIDR address: %s", c1[i].text);
            break;
        }
        for (size_t j = 0; j < n2; j++) {
            unsigned char nb[16] = { 0 };
            int fb, bb;
            if (parse_cidr(c2[j].text, c2[j].len, nb, &fb, &bb, false) < 0) {
                rc = bi_error(ev, "invalid CIDR address: %s", c2[j].text);
                break;
            }
            if (fa == fb && bb >= ba && prefix_eq(na, nb, ba)) {
                struct rvbuf pair = { 0 };
                rvbuf_push(&pair, c1[i].key ? rv_incref(c1[i].key) : rv_int((int64_t)i));
                rvbuf_push(&pair, c2[j].key ? rv_incref(c2[j].key) : rv_int((int64_t)j));
                rvbuf_push(&b, rv_array_take(&pair));
            }
        }
    }
    free(c1);
    free(c2);
    if (rc < 0) {
        rvbuf_clear(&b);
        return rc;
    }
    *out = rv_set_take(&b);
    return 0;
}

struct net_block {
    unsigned char addr[16];
    int family, bits;
};

static int block_cmp(const void *x, const void *y)
{
    const struct net_block *p = x, *q = y;
    if (p->family != q->family)
        return p->family - q->family;
    int c = memcmp(p->addr, q->addr, 16);
    return c ? c : p->bits - q->bits;
}

/* net.cidr_merge: the smallest set of blocks covering the same addresses. */
static int bi_cidr_merge(struct ev *ev, struct rv **a, struct rv **out)
{
    if (a[0]->type != RV_ARRAY && a[0]->type != RV_SET)
        return bi_type_error(ev, "operand 1 must be one of {array, set} but got %s", rv_type_name(a[0]));
    size_t n = a[0]->u.arr.len;
    struct net_block *bl = calloc(n + 1, sizeof *bl);
    if (!bl)
        REGO_OOM();
    for (size_t i = 0; i < n; i++) {
        struct rv *s = a[0]->u.arr.v[i];
        if (s->type != RV_STRING) {
            free(bl);
            return bi_type_error(ev, "operand 1 must be array[string] or set[string] but got %s element",
                                 rv_type_name(s));
        }
        if (parse_cidr(S(s), SL(s), bl[i].addr, &bl[i].family, &bl[i].bits, false) < 0) {
            free(bl);
            return bi_error(ev, "invalid CIDR address: %s", S(s));
        }
        if (bl[i].family == 6 && !memchr(S(s), '/', SL(s))) {
            free(bl);
            return bi_error(ev, "IPv6 invalid: needs prefix length");
        }
        mask_addr(bl[i].addr, bl[i].family, bl[i].bits);
    }
    /* sort, drop blocks inside the previous one, join sibling halves;
     * repeat until nothing changes */
    bool changed = true;
    while (changed) {
        changed = false;
        qsort(bl, n, sizeof *bl, block_cmp);
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (o > 0 && bl[o - 1].family == bl[i].family && bl[i].bits >= bl[o - 1].bits &&
                prefix_eq(bl[o - 1].addr, bl[i].addr, bl[o - 1].bits)) {
                changed |= true;
                continue;
            }
            if (o > 0 && bl[o - 1].family == bl[i].family && bl[o - 1].bits == bl[i].bits && bl[i].bits > 0 &&
                prefix_eq(bl[o - 1].addr, bl[i].addr, bl[i].bits - 1)) {
                bl[o - 1].bits--;
                mask_addr(bl[o - 1].addr, bl[o - 1].family, bl[o - 1].bits);
                changed = true;
                continue;
            }
            bl[o++] = bl[i];
        }
        if (o == n && !changed)
            break;
        n = o;
    }
    struct rvbuf b = { 0 };
    for (size_t i = 0; i < n; i++) {
        struct sbuf s = { 0 };
        cidr_string(&s, bl[i].addr, bl[i].family, bl[i].bits, true);
        rvbuf_push(&b, bi_string_of(&s));
    }
    free(bl);
    *out = rv_set_take(&b);
    return 0;
}

static int bi_cidr_is_valid(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    unsigned char n[16];
    int f, b;
    *out = rv_bool(a[0]->type == RV_STRING && parse_cidr(S(a[0]), SL(a[0]), n, &f, &b, true) == 0);
    return 0;
}

static int bi_cidr_intersects(struct ev *ev, struct rv **a, struct rv **out)
{
    struct cidr c[2];
    if (cidr_args(ev, a, false, c) < 0)
        return -1;
    *out = rv_bool(c[0].family == c[1].family &&
                   prefix_eq(c[0].net, c[1].net, c[0].bits < c[1].bits ? c[0].bits : c[1].bits));
    return 0;
}

/* ------------------------------------------------------------------ glob, regex */

void rego_pcache_clear(struct rego_pcache *c)
{
    for (int i = 0; i < REGO_PCACHE_SIZE; i++) {
        if (c->e[i].kind == PCACHE_REGEX) {
#ifdef HAVE_REGO_RE
            rego_re_free(c->e[i].compiled);
#endif
        } else if (c->e[i].kind == PCACHE_GLOB) {
            rego_glob_free(c->e[i].compiled);
        } else {
            free(c->e[i].compiled);
        }
        rv_decref(c->e[i].pattern);
        rv_decref(c->e[i].delims);
        memset(&c->e[i], 0, sizeof c->e[i]);
    }
}

#define PCACHE_HINT(p) ((unsigned)((uintptr_t)(p) >> 4) % 64u)

static void *pcache_get(struct ev *ev, int kind, struct rv *pattern, struct rv *delims)
{
    if (!ev->pcache)
        return NULL;
    struct rego_pcache *c = ev->pcache;
    /* patterns are usually the policy's own (frozen) strings: the same
     * pointer each time, found where it was found last */
    unsigned h = PCACHE_HINT(pattern), i = c->hint[h];
    if (i && c->e[i - 1].pattern == pattern && c->e[i - 1].kind == kind &&
        (!delims || rv_equal(c->e[i - 1].delims, delims)))
        return c->e[i - 1].compiled;
    for (i = 0; i < REGO_PCACHE_SIZE; i++)
        if (c->e[i].pattern == pattern && c->e[i].kind == kind && (!delims || rv_equal(c->e[i].delims, delims))) {
            c->hint[h] = (unsigned char)(i + 1);
            return c->e[i].compiled;
        }
    for (i = 0; i < REGO_PCACHE_SIZE; i++)
        if (c->e[i].kind == kind && rv_equal(c->e[i].pattern, pattern) &&
            (!delims || rv_equal(c->e[i].delims, delims)))
            return c->e[i].compiled;
    return NULL;
}

/* Takes ownership of compiled when it returns true. */
static bool pcache_put(struct ev *ev, int kind, struct rv *pattern, struct rv *delims, void *compiled)
{
    struct rego_pcache *c = ev->pcache;
    if (!c)
        return false;
    int i = c->next;
    c->next = (c->next + 1) % REGO_PCACHE_SIZE;
    struct rv *old_p = c->e[i].pattern, *old_d = c->e[i].delims;
    int old_kind = c->e[i].kind;
    void *old = c->e[i].compiled;
    c->e[i].kind = kind;
    /* the cache outlives the evaluation: patterns from the input are copied */
    c->e[i].pattern = rv_own(pattern);
    c->hint[PCACHE_HINT(c->e[i].pattern)] = (unsigned char)(i + 1);
    c->e[i].delims = delims ? rv_own(delims) : NULL;
    c->e[i].compiled = compiled;
    if (old_kind == PCACHE_REGEX) {
#ifdef HAVE_REGO_RE
        rego_re_free(old);
#endif
    } else if (old_kind == PCACHE_GLOB) {
        rego_glob_free(old);
    } else {
        free(old);
    }
    rv_decref(old_p);
    rv_decref(old_d);
    return true;
}

static int bi_glob_match(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(2, RV_STRING);
    const struct rv *d = a[1];
    char delims[64];
    size_t nd = 0;
    if (d->type == RV_NULL) {
        nd = 0;
    } else if (d->type == RV_ARRAY) {
        if (d->u.arr.len == 0)
            delims[nd++] = '.';
        for (size_t i = 0; i < d->u.arr.len; i++) {
            struct rv *e = d->u.arr.v[i];
            if (e->type != RV_STRING)
                return bi_type_error(ev, "operand 2 must be array of strings but got array containing %s",
                                     rv_type_name(e));
            if (SL(e) != 1)
                return bi_error(ev, "delimiters must be single characters");
            if (nd < sizeof delims)
                delims[nd++] = S(e)[0];
        }
    } else {
        return bi_type_error(ev, "operand 2 must be one of {array, null} but got %s", rv_type_name(d));
    }
    struct rego_glob *g = pcache_get(ev, PCACHE_GLOB, a[0], a[1]);
    bool owned = false;
    if (!g) {
        if (rego_glob_compile(S(a[0]), SL(a[0]), delims, nd, &g) < 0)
            return bi_error(ev, "invalid glob pattern");
        owned = !pcache_put(ev, PCACHE_GLOB, a[0], a[1], g);
    }
    int r = rego_glob_exec(g, S(a[2]), SL(a[2]));
    if (owned)
        rego_glob_free(g);
    if (r < 0)
        return bi_error(ev, "out of memory");
    *out = rv_bool(r == 1);
    return 0;
}

#ifdef HAVE_REGO_RE
/* *re is borrowed from the query's cache, or owned (*owned) when there is none. */
static int compile_re(struct ev *ev, struct rv *pat, struct rego_re **re, bool *owned)
{
    *owned = false;
    *re = pcache_get(ev, PCACHE_REGEX, pat, NULL);
    if (*re)
        return 0;
    char errbuf[REGO_RE_ERRLEN];
    if (rego_re_compile(S(pat), SL(pat), re, errbuf, sizeof errbuf) < 0)
        return bi_error(ev, "%s", errbuf);
    *owned = !pcache_put(ev, PCACHE_REGEX, pat, NULL, *re);
    return 0;
}

static void release_re(struct rego_re *re, bool owned)
{
    if (owned)
        rego_re_free(re);
}

static int bi_regex_match(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    struct rego_re *re;
    bool owned;
    if (compile_re(ev, a[0], &re, &owned) < 0)
        return -1;
    int r = rego_re_is_match(re, S(a[1]), SL(a[1]));
    release_re(re, owned);
    if (r < 0)
        return bi_error(ev, "out of memory");
    *out = rv_bool(r > 0);
    return 0;
}

static int bi_regex_is_valid(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    if (a[0]->type != RV_STRING) {
        *out = rv_bool(false);
        return 0;
    }
    struct rego_re *re;
    bool ok = rego_re_compile(S(a[0]), SL(a[0]), &re, NULL, 0) == 0;
    if (ok)
        rego_re_free(re);
    *out = rv_bool(ok);
    return 0;
}

struct re_collect {
    struct rv *s;
    struct rvbuf b;
};

static int re_match_piece(void *ctx, const size_t *caps, size_t ncaps)
{
    struct re_collect *c = ctx;
    (void)ncaps;
    rvbuf_push(&c->b, rv_string(S(c->s) + caps[0], caps[1] - caps[0]));
    return 0;
}

static int re_split_piece(void *ctx, size_t start, size_t end)
{
    struct re_collect *c = ctx;
    rvbuf_push(&c->b, rv_string(S(c->s) + start, end - start));
    return 0;
}

/* (pattern, value, n): the array of what piece builds for each of the
 * first n matches (all when n < 0). */
static int regex_find_all(struct ev *ev, struct rv **a, int (*piece)(void *, const size_t *, size_t),
                          struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    int64_t lim;
    if (want_int(ev, a, 2, &lim) < 0)
        return -1;
    struct rego_re *re;
    bool owned;
    if (compile_re(ev, a[0], &re, &owned) < 0)
        return -1;
    struct re_collect c = { a[1], { 0 } };
    long r = rego_re_find_all(re, S(a[1]), SL(a[1]), lim < 0 ? -1 : (long)lim, piece, &c);
    release_re(re, owned);
    if (r < 0) {
        rvbuf_clear(&c.b);
        return bi_error(ev, "out of memory");
    }
    *out = rv_array_take(&c.b);
    return 0;
}

static int bi_regex_find_n(struct ev *ev, struct rv **a, struct rv **out)
{
    return regex_find_all(ev, a, re_match_piece, out);
}

static int bi_regex_split(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    struct rego_re *re;
    bool owned;
    if (compile_re(ev, a[0], &re, &owned) < 0)
        return -1;
    struct re_collect c = { a[1], { 0 } };
    long r = rego_re_split(re, S(a[1]), SL(a[1]), -1, re_split_piece, &c);
    release_re(re, owned);
    if (r < 0) {
        rvbuf_clear(&c.b);
        return bi_error(ev, "out of memory");
    }
    *out = rv_array_take(&c.b);
    return 0;
}

/* regex.replace(s, pattern, value): Go's ReplaceAllString. */
static int bi_regex_replace(struct ev *ev, struct rv **a, struct rv **out)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    WANT(2, RV_STRING);
    struct rego_re *re;
    bool owned;
    if (compile_re(ev, a[1], &re, &owned) < 0)
        return -1;
    char *res = NULL;
    size_t len = 0;
    uint64_t lim = rv_budget_limit();
    int rc = rego_re_replace_all(re, S(a[0]), SL(a[0]), S(a[2]), SL(a[2]), lim ? (size_t)lim : 0, &res, &len);
    release_re(re, owned);
    if (rc < 0) {
        if (lim)
            rv_budget_room((size_t)lim + 1);   /* too large for the budget */
        return bi_error(ev, "out of memory");
    }
    *out = rv_string_take(res, len);
    return 0;
}

static int re_submatch_piece(void *ctx, const size_t *caps, size_t ncaps)
{
    struct re_collect *c = ctx;
    struct rvbuf m = { 0 };
    for (size_t i = 0; i + 1 < ncaps; i += 2) {
        if (caps[i] == SIZE_MAX)
            rvbuf_push(&m, rv_cstr(""));
        else
            rvbuf_push(&m, rv_string(S(c->s) + caps[i], caps[i + 1] - caps[i]));
    }
    rvbuf_push(&c->b, rv_array_take(&m));
    return rv_budget_exceeded();
}

/* regex.find_all_string_submatch_n(pattern, value, n): Go's
 * FindAllStringSubmatch; a group that took no part is "". */
static int bi_regex_find_submatch(struct ev *ev, struct rv **a, struct rv **out)
{
    return regex_find_all(ev, a, re_submatch_piece, out);
}

/* Go's regexp.QuoteMeta. */
static void quote_meta(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\.+*?()|[]{}^$", s[i]) && s[i])
            sb_putc(b, '\\');
        sb_putc(b, s[i]);
    }
}

/* regex.template_match(template, value, start, end): the parts between the
 * delimiters are regular expressions, the rest is literal; the whole value
 * must match (OPA's gorilla/mux-style templates). */
static int bi_regex_template_match(struct ev *ev, struct rv **a, struct rv **out)
{
    for (int i = 0; i < 4; i++)
        WANT(i, RV_STRING);
    if (SL(a[2]) != 1)
        return bi_error(ev, "start delimiter has to be exactly one character long but is %zu long", SL(a[2]));
    if (SL(a[3]) != 1)
        return bi_error(ev, "end delimiter has to be exactly one character long but is %zu long", SL(a[3]));
    char ds = S(a[2])[0], de = S(a[3])[0];
    const char *t = S(a[0]);
    size_t n = SL(a[0]);
    struct sbuf p = { 0 };
    sb_putc(&p, '^');
    int level = 0;
    size_t idx = 0, end = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == ds) {
            if (++level == 1)
                idx = i;
        } else if (t[i] == de) {
            if (--level == 0) {
                quote_meta(&p, t + end, idx - end);
                sb_putc(&p, '(');
                sb_add(&p, t + idx + 1, i - idx - 1);
                sb_putc(&p, ')');
                /* each part must be a regular expression on its own */
                struct rego_re *part;
                char errbuf[REGO_RE_ERRLEN];
                if (rego_re_compile(t + idx + 1, i - idx - 1, &part, errbuf, sizeof errbuf) < 0) {
                    free(p.s);
                    return bi_error(ev, "%s", errbuf);
                }
                rego_re_free(part);
                end = i + 1;
            } else if (level < 0) {
                free(p.s);
                return bi_error(ev, "unbalanced braces in \"%s\"", t);
            }
        }
    }
    if (level != 0) {
        free(p.s);
        return bi_error(ev, "unbalanced braces in \"%s\"", t);
    }
    quote_meta(&p, t + end, n - end);
    sb_putc(&p, '$');
    struct rego_re *re;
    char errbuf[REGO_RE_ERRLEN];
    int rc = rego_re_compile(p.s, p.len, &re, errbuf, sizeof errbuf);
    free(p.s);
    if (rc < 0)
        return bi_error(ev, "%s", errbuf);
    int m = rego_re_is_match(re, S(a[1]), SL(a[1]));
    rego_re_free(re);
    if (m < 0)
        return bi_error(ev, "out of memory");
    *out = rv_bool(m == 1);
    return 0;
}
#else
static int no_regex(struct ev *ev)
{
    return bi_error(ev, "regular expressions are not available in this build");
}
static int bi_regex_match(struct ev *ev, struct rv **a, struct rv **out) { (void)a; (void)out; return no_regex(ev); }
static int bi_regex_is_valid(struct ev *ev, struct rv **a, struct rv **out) { (void)a; (void)out; return no_regex(ev); }
static int bi_regex_find_n(struct ev *ev, struct rv **a, struct rv **out) { (void)a; (void)out; return no_regex(ev); }
static int bi_regex_replace(struct ev *ev, struct rv **a, struct rv **out) { (void)a; (void)out; return no_regex(ev); }
static int bi_regex_find_submatch(struct ev *ev, struct rv **a, struct rv **out) { (void)a; (void)out; return no_regex(ev); }
static int bi_regex_template_match(struct ev *ev, struct rv **a, struct rv **out) { (void)a; (void)out; return no_regex(ev); }
static int bi_regex_split(struct ev *ev, struct rv **a, struct rv **out) { (void)a; (void)out; return no_regex(ev); }
#endif

/* ------------------------------------------------------------------ print */

/* print(...): its arguments, strings as they are and other values in
 * Rego's text form, separated by spaces, to the engine's print hook (the
 * daemon's log; stderr by default). Always true. */
static int bi_print(struct ev *ev, struct rv **a, struct rv **out)
{
    struct sbuf b = { 0 };
    for (int i = 0; i < ev->cur_nargs; i++) {
        if (i)
            sb_putc(&b, ' ');
        if (a[i]->type == RV_STRING)
            sb_add(&b, S(a[i]), SL(a[i]));
        else
            rv_write(&b, a[i], false);
    }
    if (rv_budget_exceeded()) {   /* the evaluation stops right after: nothing half written */
        free(b.s);
        *out = rv_bool(true);
        return 0;
    }
    if (!b.s)
        sb_add(&b, "", 0);
    const struct rego_options *o = &ev->r->opts;
    if (o->print)
        o->print(o->print_ctx, b.s);
    else
        fprintf(stderr, "%s\n", b.s);
    free(b.s);
    *out = rv_bool(true);
    return 0;
}

/* ------------------------------------------------------------------ walk */

static void walk_rec(struct rv *v, struct rvbuf *path, struct rvbuf *res)
{
    struct rvbuf p = { 0 };
    for (size_t i = 0; i < path->len; i++)
        rvbuf_push(&p, rv_incref(path->v[i]));
    struct rvbuf pair = { 0 };
    rvbuf_push(&pair, rv_array_take(&p));
    rvbuf_push(&pair, rv_incref(v));
    rvbuf_push(res, rv_array_take(&pair));
    switch (v->type) {
    case RV_ARRAY:
        for (size_t i = 0; i < v->u.arr.len; i++) {
            rvbuf_push(path, rv_int((int64_t)i));
            walk_rec(v->u.arr.v[i], path, res);
            rv_decref(path->v[--path->len]);
        }
        break;
    case RV_SET:
        for (size_t i = 0; i < v->u.arr.len; i++) {
            rvbuf_push(path, rv_incref(v->u.arr.v[i]));
            walk_rec(v->u.arr.v[i], path, res);
            rv_decref(path->v[--path->len]);
        }
        break;
    case RV_OBJECT:
        for (size_t i = 0; i < v->u.obj.len; i++) {
            rvbuf_push(path, rv_incref(v->u.obj.k[i]));
            walk_rec(v->u.obj.v[i], path, res);
            rv_decref(path->v[--path->len]);
        }
        break;
    default:
        break;
    }
}

static int bi_walk(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    struct rvbuf path = { 0 }, res = { 0 };
    walk_rec(a[0], &path, &res);
    rvbuf_clear(&path);
    *out = rv_array_take(&res);
    return BI_MULTI;
}

/* ------------------------------------------------------------------ not available */

static int bi_unavailable(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)a;
    (void)out;
    return bi_error(ev, "not available in this engine (it can be replaced with `with`)");
}

/* No runtime configuration is exposed to policies: an empty object. */
static int bi_opa_runtime(struct ev *ev, struct rv **a, struct rv **out)
{
    (void)ev;
    (void)a;
    *out = rv_empty_object();
    return 0;
}

/* ------------------------------------------------------------------ the table */

#define REGO_BUILTINS(X)                                       \
    X("equal", 2, bi_equal)                                    \
    X("neq", 2, bi_neq)                                        \
    X("lt", 2, bi_lt)                                          \
    X("lte", 2, bi_lte)                                        \
    X("gt", 2, bi_gt)                                          \
    X("gte", 2, bi_gte)                                        \
    X("plus", 2, bi_plus)                                      \
    X("minus", 2, bi_minus)                                    \
    X("mul", 2, bi_mul)                                        \
    X("div", 2, bi_div)                                        \
    X("rem", 2, bi_rem)                                        \
    X("abs", 1, bi_abs)                                        \
    X("round", 1, bi_round)                                    \
    X("ceil", 1, bi_ceil)                                      \
    X("floor", 1, bi_floor)                                    \
    X("numbers.range", 2, bi_numbers_range)                    \
    X("and", 2, bi_and)                                        \
    X("or", 2, bi_or)                                          \
    X("union", 1, bi_union)                                    \
    X("intersection", 1, bi_intersection)                      \
    X("internal.member_2", 2, bi_member2)                      \
    X("internal.member_3", 3, bi_member3)                      \
    X("count", 1, bi_count)                                    \
    X("sum", 1, bi_sum)                                        \
    X("product", 1, bi_product)                                \
    X("max", 1, bi_max)                                        \
    X("min", 1, bi_min)                                        \
    X("sort", 1, bi_sort)                                      \
    X("concat", 2, bi_concat)                                  \
    X("contains", 2, bi_contains)                              \
    X("startswith", 2, bi_startswith)                          \
    X("endswith", 2, bi_endswith)                              \
    X("lower", 1, bi_lower)                                    \
    X("upper", 1, bi_upper)                                    \
    X("split", 2, bi_split)                                    \
    X("strings.split_n", 3, bi_split_n)                        \
    X("replace", 3, bi_replace)                                \
    X("strings.replace_n", 2, bi_replace_n)                    \
    X("strings.reverse", 1, bi_strings_reverse)                \
    X("strings.count", 2, bi_strings_count)                    \
    X("trim", 2, bi_trim)                                      \
    X("trim_left", 2, bi_trim_left)                            \
    X("trim_right", 2, bi_trim_right)                          \
    X("trim_prefix", 2, bi_trim_prefix)                        \
    X("trim_suffix", 2, bi_trim_suffix)                        \
    X("trim_space", 1, bi_trim_space)                          \
    X("substring", 3, bi_substring)                            \
    X("indexof", 2, bi_indexof)                                \
    X("indexof_n", 2, bi_indexof_n)                            \
    X("sprintf", 2, bi_sprintf)                                \
    X("format_int", 2, bi_format_int)                          \
    X("strings.any_prefix_match", 2, bi_any_prefix_match)      \
    X("strings.any_suffix_match", 2, bi_any_suffix_match)      \
    X("regex.match", 2, bi_regex_match)                        \
    X("regex.is_valid", 1, bi_regex_is_valid)                  \
    X("regex.find_n", 3, bi_regex_find_n)                      \
    X("regex.split", 2, bi_regex_split)                        \
    X("glob.match", 3, bi_glob_match)                          \
    X("net.cidr_contains", 2, bi_cidr_contains)                \
    X("net.cidr_is_valid", 1, bi_cidr_is_valid)                \
    X("net.cidr_intersects", 2, bi_cidr_intersects)            \
    X("is_number", 1, bi_is_number)                            \
    X("is_string", 1, bi_is_string)                            \
    X("is_boolean", 1, bi_is_boolean)                          \
    X("is_array", 1, bi_is_array)                              \
    X("is_set", 1, bi_is_set)                                  \
    X("is_object", 1, bi_is_object)                            \
    X("is_null", 1, bi_is_null)                                \
    X("type_name", 1, bi_type_name)                            \
    X("to_number", 1, bi_to_number)                            \
    X("array.concat", 2, bi_array_concat)                      \
    X("array.slice", 3, bi_array_slice)                        \
    X("array.reverse", 1, bi_array_reverse)                    \
    X("array.flatten", 1, bi_array_flatten)                    \
    X("object.get", 3, bi_object_get)                          \
    X("object.keys", 1, bi_object_keys)                        \
    X("object.remove", 2, bi_object_remove)                    \
    X("object.union", 2, bi_object_union)                      \
    X("object.union_n", 1, bi_object_union_n)                  \
    X("object.filter", 2, bi_object_filter)                    \
    X("json.marshal", 1, bi_json_marshal)                      \
    X("json.unmarshal", 1, bi_json_unmarshal)                  \
    X("json.marshal_with_options", 2, bi_json_marshal_with_options) \
    X("json.is_valid", 1, bi_json_is_valid)                    \
    X("base64.encode", 1, bi_base64_encode)                    \
    X("base64.decode", 1, bi_base64_decode)                    \
    X("base64.is_valid", 1, bi_base64_is_valid)                \
    X("base64url.encode", 1, bi_base64url_encode)              \
    X("base64url.encode_no_pad", 1, bi_base64url_encode_no_pad) \
    X("base64url.decode", 1, bi_base64url_decode)              \
    X("crypto.sha256", 1, bi_sha256)                           \
    X("crypto.sha1", 1, bi_sha1)                               \
    X("crypto.md5", 1, bi_md5)                                 \
    X("time.now_ns", 0, bi_time_now_ns)                        \
    X("units.parse_bytes", 1, bi_units_parse_bytes)            \
    X("units.parse", 1, bi_units_parse)                        \
    X("object.subset", 2, bi_object_subset)                    \
    X("hex.encode", 1, bi_hex_encode)                          \
    X("hex.decode", 1, bi_hex_decode)                          \
    X("urlquery.encode", 1, bi_urlquery_encode)                \
    X("urlquery.decode", 1, bi_urlquery_decode)                \
    X("urlquery.encode_object", 1, bi_urlquery_encode_object)  \
    X("urlquery.decode_object", 1, bi_urlquery_decode_object)  \
    X("bits.or", 2, bi_bits_or)                                \
    X("bits.and", 2, bi_bits_and)                              \
    X("bits.xor", 2, bi_bits_xor)                              \
    X("bits.negate", 1, bi_bits_negate)                        \
    X("bits.lsh", 2, bi_bits_lsh)                              \
    X("bits.rsh", 2, bi_bits_rsh)                              \
    X("numbers.range_step", 3, bi_numbers_range_step)          \
    X("semver.is_valid", 1, bi_semver_is_valid)                \
    X("semver.compare", 2, bi_semver_compare)                  \
    X("graph.reachable", 2, bi_graph_reachable)                \
    X("graph.reachable_paths", 2, bi_graph_reachable_paths)    \
    X("json.filter", 2, bi_json_filter)                        \
    X("json.remove", 2, bi_json_remove)                        \
    X("json.patch", 2, bi_json_patch)                          \
    X("json.verify_schema", 1, bi_json_verify_schema)          \
    X("strings.render_template", 2, bi_strings_render_template) \
    X("json.match_schema", 2, bi_json_match_schema)            \
    X("glob.quote_meta", 1, bi_glob_quote_meta)                \
    X("crypto.sha512", 1, bi_crypto_sha512)                    \
    X("crypto.hmac.md5", 2, bi_hmac_md5)                       \
    X("crypto.hmac.sha1", 2, bi_hmac_sha1)                     \
    X("crypto.hmac.sha256", 2, bi_hmac_sha256)                 \
    X("crypto.hmac.sha512", 2, bi_hmac_sha512)                 \
    X("crypto.hmac.equal", 2, bi_hmac_equal)                   \
    X("regex.replace", 3, bi_regex_replace)                    \
    X("time.parse_rfc3339_ns", 1, bi_time_parse_rfc3339_ns)    \
    X("time.parse_duration_ns", 1, bi_time_parse_duration_ns)  \
    X("time.date", 1, bi_time_date)                            \
    X("time.clock", 1, bi_time_clock)                          \
    X("time.weekday", 1, bi_time_weekday)                      \
    X("time.add_date", 4, bi_time_add_date)                    \
    X("time.diff", 2, bi_time_diff)                            \
    X("time.format", 1, bi_time_format)                        \
    X("time.parse_ns", 2, bi_time_parse_ns)                    \
    X("io.jwt.decode", 1, bi_jwt_decode)                       \
    X("io.jwt.verify_hs256", 2, bi_jwt_verify_hs256)           \
    X("io.jwt.verify_rs256", 2, bi_jwt_verify_rs256)           \
    X("io.jwt.verify_es256", 2, bi_jwt_verify_es256)           \
    X("uuid.rfc4122", 1, bi_uuid_rfc4122)                      \
    X("print", -1, bi_print)                                   \
    X("yaml.unmarshal", 1, bi_yaml_unmarshal)                  \
    X("net.cidr_expand", 1, bi_cidr_expand)                    \
    X("net.cidr_merge", 1, bi_cidr_merge)                      \
    X("net.cidr_contains_matches", 2, bi_cidr_contains_matches) \
    X("yaml.marshal", 1, bi_yaml_marshal)                      \
    X("yaml.is_valid", 1, bi_yaml_is_valid)                    \
    X("rand.intn", 2, bi_rand_intn)                            \
    X("regex.find_all_string_submatch_n", 3, bi_regex_find_submatch) \
    X("regex.template_match", 4, bi_regex_template_match)      \
    X("regex.globs_match", 2, bi_regex_globs_match)            \
    X("walk", 1, bi_walk)                                      \
    X("http.send", 1, bi_unavailable)                          \
    X("io.jwt.decode_verify", 2, bi_unavailable)               \
    X("opa.runtime", 0, bi_opa_runtime)

const struct builtin rego_builtins[] = {
#define X(name, arity, fn) { name, arity, fn, false },
    REGO_BUILTINS(X)
#undef X
};

const int rego_nbuiltins = (int)(sizeof rego_builtins / sizeof rego_builtins[0]);

int rego_builtin_find(const char *name)
{
    for (int i = 0; i < rego_nbuiltins; i++)
        if (strcmp(rego_builtins[i].name, name) == 0)
            return i;
    return -1;
}
