/* Builtins on data: object.subset, hex.*, urlquery.*, bits.*,
 * numbers.range_step, semver.*, units.parse, graph.*, json.filter/remove/
 * patch, glob.quote_meta, crypto.sha512 and crypto.hmac.*. They follow
 * OPA's (Go's) semantics and error messages; see docs/rego.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "rego/bi.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

/* ------------------------------------------------------------------ object.subset */

static bool array_subset(const struct rv *super, const struct rv *sub)
{
    size_t n = super->u.arr.len, m = sub->u.arr.len;
    if (m > n)
        return false;
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && rv_equal(super->u.arr.v[i + k], sub->u.arr.v[k]))
            k++;
        if (k == m)
            return true;
    }
    return false;
}

static bool set_subset(const struct rv *super, const struct rv *sub)
{
    for (size_t i = 0; i < sub->u.arr.len; i++)
        if (!rv_set_find(super, sub->u.arr.v[i]))
            return false;
    return true;
}

/* OPA counts the super array's members found in the set, duplicates
 * included, and answers on the first element that brings the count to 0. */
static bool array_set_subset(const struct rv *super, const struct rv *sub)
{
    size_t unmatched = sub->u.arr.len;
    for (size_t i = 0; i < super->u.arr.len; i++) {
        if (rv_set_find(sub, super->u.arr.v[i]))
            unmatched--;
        if (unmatched == 0)
            return true;
    }
    return false;
}

static bool object_subset(const struct rv *super, const struct rv *sub)
{
    for (size_t i = 0; i < sub->u.obj.len; i++) {
        struct rv *sv = rv_object_get(super, sub->u.obj.k[i]), *bv = sub->u.obj.v[i];
        if (!sv)
            return false;
        if (rv_equal(sv, bv))
            continue;
        if (sv->type == RV_OBJECT && bv->type == RV_OBJECT) {
            if (!object_subset(sv, bv))
                return false;
        } else if (sv->type == RV_SET && bv->type == RV_SET) {
            if (!set_subset(sv, bv))
                return false;
        } else if (sv->type == RV_ARRAY && bv->type == RV_ARRAY) {
            if (!array_subset(sv, bv))
                return false;
        } else {
            return false;
        }
    }
    return true;
}

BI_FN(bi_object_subset)
{
    struct rv *x = a[0], *y = a[1];
    if (x->type == RV_OBJECT && y->type == RV_OBJECT)
        *out = rv_bool(object_subset(x, y));
    else if (x->type == RV_SET && y->type == RV_SET)
        *out = rv_bool(set_subset(x, y));
    else if (x->type == RV_ARRAY && y->type == RV_ARRAY)
        *out = rv_bool(array_subset(x, y));
    else if (x->type == RV_ARRAY && y->type == RV_SET)
        *out = rv_bool(array_set_subset(x, y));
    else
        return bi_type_error(ev, "both arguments object.subset must be of the same type or array and set");
    return 0;
}

/* ------------------------------------------------------------------ hex */

BI_FN(bi_hex_encode)
{
    WANT(0, RV_STRING);
    struct sbuf b = { 0 };
    for (size_t i = 0; i < SL(a[0]); i++)
        sb_printf(&b, "%02x", (unsigned char)S(a[0])[i]);
    *out = bi_string_of(&b);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Go's "invalid byte: U+0067 'g'" names the offending byte as a rune. */
static int hex_invalid(struct ev *ev, unsigned char c)
{
    if (c >= 0x20 && c < 0x7f)
        return bi_error(ev, "encoding/hex: invalid byte: U+%04X '%c'", c, c);
    return bi_error(ev, "encoding/hex: invalid byte: U+%04X", c);
}

BI_FN(bi_hex_decode)
{
    WANT(0, RV_STRING);
    const unsigned char *s = (const unsigned char *)S(a[0]);
    size_t n = SL(a[0]);
    struct sbuf b = { 0 };
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        int h = hexval(s[i]), l = hexval(s[i + 1]);
        if (h < 0 || l < 0) {
            free(b.s);
            return hex_invalid(ev, h < 0 ? s[i] : s[i + 1]);
        }
        char c = (char)(h * 16 + l);
        sb_add(&b, &c, 1);
    }
    if (n % 2) {
        free(b.s);
        if (hexval(s[n - 1]) < 0)
            return hex_invalid(ev, s[n - 1]);
        return bi_error(ev, "encoding/hex: odd length hex string");
    }
    *out = bi_string_of(&b);
    return 0;
}

/* ------------------------------------------------------------------ urlquery */

/* Go's url.QueryEscape. */
static void query_escape(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            sb_putc(b, (char)c);
        else if (c == ' ')
            sb_putc(b, '+');
        else
            sb_printf(b, "%%%02X", c);
    }
}

/* Go's url.QueryUnescape; < 0 with the offending escape in bad. */
static int query_unescape(struct sbuf *b, const char *s, size_t n, char bad[4])
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int l = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (h < 0 || l < 0) {
                size_t k = n - i < 3 ? n - i : 3;
                memcpy(bad, s + i, k);
                bad[k] = 0;
                return -1;
            }
            sb_putc(b, (char)(h * 16 + l));
            i += 2;
        } else if (s[i] == '+') {
            sb_putc(b, ' ');
        } else {
            sb_putc(b, s[i]);
        }
    }
    if (!b->s)
        sb_add(b, "", 0);
    return 0;
}

BI_FN(bi_urlquery_encode)
{
    WANT(0, RV_STRING);
    struct sbuf b = { 0 };
    query_escape(&b, S(a[0]), SL(a[0]));
    *out = bi_string_of(&b);
    return 0;
}

BI_FN(bi_urlquery_decode)
{
    WANT(0, RV_STRING);
    struct sbuf b = { 0 };
    char bad[4];
    if (query_unescape(&b, S(a[0]), SL(a[0]), bad) < 0) {
        free(b.s);
        return bi_error(ev, "invalid URL escape \"%s\"", bad);
    }
    *out = bi_string_of(&b);
    return 0;
}

static void encode_pair(struct sbuf *b, const struct rv *k, const struct rv *v)
{
    if (b->len)
        sb_putc(b, '&');
    query_escape(b, S(k), SL(k));
    sb_putc(b, '=');
    query_escape(b, S(v), SL(v));
}

/* url.Values.Encode: keys sorted (object keys already are), values in order. */
BI_FN(bi_urlquery_encode_object)
{
    WANT(0, RV_OBJECT);
    struct rv *o = a[0];
    struct sbuf b = { 0 };
    for (size_t i = 0; i < o->u.obj.len; i++) {
        struct rv *k = o->u.obj.k[i], *v = o->u.obj.v[i];
        if (k->type != RV_STRING) {
            free(b.s);
            return bi_type_error(ev, "operand 1 must be object[string: any<string, array[string], set[string]>]");
        }
        if (v->type == RV_STRING) {
            encode_pair(&b, k, v);
        } else if (v->type == RV_ARRAY || v->type == RV_SET) {
            for (size_t j = 0; j < v->u.arr.len; j++) {
                if (v->u.arr.v[j]->type != RV_STRING) {
                    free(b.s);
                    return bi_type_error(ev, "operand 1 must be object[string: any<string, array[string], set[string]>]");
                }
                encode_pair(&b, k, v->u.arr.v[j]);
            }
        } else {
            free(b.s);
            return bi_type_error(ev, "operand 1 must be object[string: any<string, array[string], set[string]>]");
        }
    }
    if (!b.s)
        sb_add(&b, "", 0);
    *out = bi_string_of(&b);
    return 0;
}

/* url.ParseQuery: '&'-separated, a ';' is an error, every value kept in
 * order; OPA returns what was parsed even when ParseQuery reports an error. */
BI_FN(bi_urlquery_decode_object)
{
    WANT(0, RV_STRING);
    const char *s = S(a[0]);
    size_t n = SL(a[0]);
    struct rvbuf keys = { 0 }, vals = { 0 };
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        const char *part = s + i;
        size_t pl = j - i;
        i = j + 1;
        if (pl == 0)
            continue;
        if (memchr(part, ';', pl))
            continue;
        const char *eq = memchr(part, '=', pl);
        size_t kl = eq ? (size_t)(eq - part) : pl;
        struct sbuf kb = { 0 }, vb = { 0 };
        char bad[4];
        if (query_unescape(&kb, part, kl, bad) < 0 ||
            query_unescape(&vb, eq ? eq + 1 : "", eq ? pl - kl - 1 : 0, bad) < 0) {
            free(kb.s);
            free(vb.s);
            continue;
        }
        struct rv *k = bi_string_of(&kb), *v = bi_string_of(&vb);
        size_t f;
        for (f = 0; f < keys.len; f++)
            if (rv_equal(keys.v[f], k))
                break;
        if (f < keys.len) {
            struct rvbuf items = { 0 };
            struct rv *old = vals.v[f];
            for (size_t m = 0; m < old->u.arr.len; m++)
                rvbuf_push(&items, rv_incref(old->u.arr.v[m]));
            rvbuf_push(&items, v);
            rv_decref(old);
            vals.v[f] = rv_array_take(&items);
            rv_decref(k);
        } else {
            struct rvbuf items = { 0 };
            rvbuf_push(&items, v);
            rvbuf_push(&keys, k);
            rvbuf_push(&vals, rv_array_take(&items));
        }
    }
    *out = rv_object_take(&keys, &vals);
    return 0;
}

/* ------------------------------------------------------------------ bits */

static int want_bits_int(struct ev *ev, struct rv **a, int i, int64_t *out)
{
    if (a[i]->type != RV_NUMBER)
        return bi_type_error(ev, "operand %d must be number but got %s", i + 1, rv_type_name(a[i]));
    if (a[i]->is_big)
        return bi_error(ev, "operand %d: integers beyond 64 bits are not supported in bits.*", i + 1);
    if (!rv_as_int(a[i], out))
        return bi_type_error(ev, "operand %d must be integer number but got floating-point number", i + 1);
    return 0;
}

static int bits2(struct ev *ev, struct rv **a, struct rv **out, char op)
{
    int64_t x, y;
    if (want_bits_int(ev, a, 0, &x) < 0 || want_bits_int(ev, a, 1, &y) < 0)
        return -1;
    *out = rv_int(op == '|' ? (x | y) : op == '&' ? (x & y) : (x ^ y));
    return 0;
}
BI_FN(bi_bits_or) { return bits2(ev, a, out, '|'); }
BI_FN(bi_bits_and) { return bits2(ev, a, out, '&'); }
BI_FN(bi_bits_xor) { return bits2(ev, a, out, '^'); }

BI_FN(bi_bits_negate)
{
    int64_t x;
    if (want_bits_int(ev, a, 0, &x) < 0)
        return -1;
    *out = rv_int(~x);
    return 0;
}

static int want_shift(struct ev *ev, struct rv **a, int64_t *x, int64_t *n)
{
    if (want_bits_int(ev, a, 0, x) < 0)
        return -1;
    if (a[1]->type != RV_NUMBER)
        return bi_type_error(ev, "operand 2 must be number but got %s", rv_type_name(a[1]));
    if (!rv_as_int(a[1], n))
        return bi_type_error(ev, "operand 2 must be integer number but got floating-point number");
    if (*n < 0)
        return bi_type_error(ev, "operand 2 must be unsigned integer number but got negative integer");
    return 0;
}

/* x << n exactly: beyond 64 bits the result is a big integer. */
BI_FN(bi_bits_lsh)
{
    int64_t x, n;
    if (want_shift(ev, a, &x, &n) < 0)
        return -1;
    if (n > 4096)
        return bi_error(ev, "shift count too large");
    struct rv *r = rv_int(x);
    char err[128];
    while (n > 0) {
        int step = n >= 30 ? 30 : (int)n;
        struct rv *m = rv_int((int64_t)1 << step), *t;
        int rc = rv_arith('*', r, m, &t, err, sizeof err);
        rv_decref(m);
        rv_decref(r);
        if (rc < 0)
            return bi_error(ev, "%s", err);
        r = t;
        n -= step;
    }
    *out = r;
    return 0;
}

BI_FN(bi_bits_rsh)
{
    int64_t x, n;
    if (want_shift(ev, a, &x, &n) < 0)
        return -1;
    *out = rv_int(n >= 63 ? (x < 0 ? -1 : 0) : x >> n);
    return 0;
}

/* ------------------------------------------------------------------ numbers.range_step */

BI_FN(bi_numbers_range_step)
{
    int64_t x, y, step;
    if (bi_want_int(ev, a, 0, &x) < 0 || bi_want_int(ev, a, 1, &y) < 0)
        return -1;
    if (a[2]->type == RV_NUMBER && a[2]->is_big && rv_sign(a[2]) > 0 && rv_as_double(a[2]) == floor(rv_as_double(a[2])))
        step = INT64_MAX;   /* a step beyond 64 bits: only the first number */
    else if (bi_want_int(ev, a, 2, &step) < 0)
        return -1;
    if (step <= 0)
        return bi_error(ev, "step must be a positive integer");
    struct rvbuf b = { 0 };
    if (x <= y) {
        for (int64_t v = x; v <= y && !rv_budget_exceeded(); ) {
            rvbuf_push(&b, rv_int(v));
            if (__builtin_add_overflow(v, step, &v))
                break;
        }
    } else {
        for (int64_t v = x; v >= y && !rv_budget_exceeded(); ) {
            rvbuf_push(&b, rv_int(v));
            if (__builtin_sub_overflow(v, step, &v))
                break;
        }
    }
    *out = rv_array_take(&b);
    return 0;
}

/* ------------------------------------------------------------------ semver */

struct semver {
    const char *pre;   /* prerelease identifiers, NULL when none */
    size_t prelen;
    unsigned long long v[3];
};

static bool numeric_id(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool valid_ids(const char *s, size_t n, bool pre)
{
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (j == i)
            return false;
        for (size_t k = i; k < j; k++)
            if (!isalnum((unsigned char)s[k]) && s[k] != '-')
                return false;
        if (pre && numeric_id(s + i, j - i) && j - i > 1 && s[i] == '0')
            return false;
        i = j + 1;
    }
    return true;
}

/* Semantic Versioning 2.0.0, strict: MAJOR.MINOR.PATCH[-pre][+build]. */
static bool semver_parse(const char *s, size_t n, struct semver *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    for (int part = 0; part < 3; part++) {
        size_t st = i;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i == st || (i - st > 1 && s[st] == '0') || i - st > 19)
            return false;
        char buf[24];
        memcpy(buf, s + st, i - st);
        buf[i - st] = 0;
        errno = 0;
        out->v[part] = strtoull(buf, NULL, 10);
        if (errno)
            return false;
        if (part < 2) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
    }
    size_t build = n;
    const char *plus = memchr(s + i, '+', n - i);
    if (plus) {
        build = (size_t)(plus - s);
        if (!valid_ids(plus + 1, n - build - 1, false))
            return false;
    }
    if (i < build) {
        if (s[i] != '-')
            return false;
        out->pre = s + i + 1;
        out->prelen = build - i - 1;
        if (!valid_ids(out->pre, out->prelen, true))
            return false;
    }
    return true;
}

static int cmp_u(unsigned long long x, unsigned long long y) { return x < y ? -1 : x > y; }

static int semver_cmp(const struct semver *x, const struct semver *y)
{
    for (int i = 0; i < 3; i++)
        if (x->v[i] != y->v[i])
            return cmp_u(x->v[i], y->v[i]);
    if (!x->pre || !y->pre)
        return x->pre ? -1 : y->pre ? 1 : 0;
    size_t i = 0, j = 0;
    for (;;) {
        bool xe = i > x->prelen, ye = j > y->prelen;
        if (xe || ye)
            return xe && ye ? 0 : xe ? -1 : 1;
        size_t ie = i, je = j;
        while (ie < x->prelen && x->pre[ie] != '.')
            ie++;
        while (je < y->prelen && y->pre[je] != '.')
            je++;
        bool xn = numeric_id(x->pre + i, ie - i), yn = numeric_id(y->pre + j, je - j);
        int c;
        if (xn && yn) {
            c = ie - i != je - j ? (ie - i < je - j ? -1 : 1) : memcmp(x->pre + i, y->pre + j, ie - i);
        } else if (xn || yn) {
            c = xn ? -1 : 1;
        } else {
            size_t l = ie - i < je - j ? ie - i : je - j;
            c = memcmp(x->pre + i, y->pre + j, l);
            if (c == 0)
                c = ie - i == je - j ? 0 : ie - i < je - j ? -1 : 1;
        }
        if (c)
            return c < 0 ? -1 : 1;
        i = ie + 1;
        j = je + 1;
    }
}

BI_FN(bi_semver_is_valid)
{
    struct semver v;
    *out = rv_bool(a[0]->type == RV_STRING && strlen(S(a[0])) == SL(a[0]) && semver_parse(S(a[0]), SL(a[0]), &v));
    return 0;
}

BI_FN(bi_semver_compare)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    struct semver x, y;
    if (!semver_parse(S(a[0]), SL(a[0]), &x))
        return bi_error(ev, "operand 1: string \"%s\" is not a valid SemVer", S(a[0]));
    if (!semver_parse(S(a[1]), SL(a[1]), &y))
        return bi_error(ev, "operand 2: string \"%s\" is not a valid SemVer", S(a[1]));
    *out = rv_int(semver_cmp(&x, &y));
    return 0;
}

/* ------------------------------------------------------------------ units.parse */

/* OPA multiplies exactly (big.Rat) and prints an integer, or the value
 * with 10 decimals. Exact here: the amount's digits times 10^k or 2^k. */
BI_FN(bi_units_parse)
{
    WANT(0, RV_STRING);
    struct sbuf raw = { 0 };
    for (size_t i = 0; i < SL(a[0]); i++)
        if (S(a[0])[i] != '"')
            sb_putc(&raw, S(a[0])[i]);
    char *s = raw.s ? raw.s : (char *)"";
    size_t n = raw.len;
    int rc = 0;
    if (memchr(s, ' ', n)) {
        rc = bi_error(ev, "spaces not allowed in resource strings");
        goto done;
    }
    /* [+-] digits-and-dots [eE [+-] digits] unit */
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    size_t ms = i;
    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'))
        i++;
    size_t me = i;
    long long exp = 0;
    bool bad_exp = false;
    if (me > ms && i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '-' || s[j] == '+'))
            j++;
        if (j < n && isdigit((unsigned char)s[j])) {
            size_t ds = j;
            while (j < n && isdigit((unsigned char)s[j]))
                j++;
            char eb[32];
            if (j - ds > 9) {
                bad_exp = true;
            } else {
                memcpy(eb, s + i + 1, j - i - 1);
                eb[j - i - 1] = 0;
                exp = strtoll(eb, NULL, 10);
            }
            i = j;
        }
    }
    if (me == ms) {
        rc = bi_error(ev, "no amount provided");
        goto done;
    }
    char unit[16];
    if (n - i >= sizeof unit) {
        rc = bi_error(ev, "unit %s not recognized", s + i);
        goto done;
    }
    memcpy(unit, s + i, n - i);
    unit[n - i] = 0;
    for (size_t k = 1; unit[k]; k++)
        unit[k] = (char)tolower((unsigned char)unit[k]);
    static const struct { const char *u; int base, exp; } units[] = {
        { "", 10, 0 }, { "m", 10, -3 },
        { "k", 10, 3 }, { "K", 10, 3 }, { "ki", 2, 10 }, { "Ki", 2, 10 },
        { "M", 10, 6 }, { "mi", 2, 20 }, { "Mi", 2, 20 }, { "g", 10, 9 }, { "G", 10, 9 },
        { "gi", 2, 30 }, { "Gi", 2, 30 }, { "t", 10, 12 }, { "T", 10, 12 }, { "ti", 2, 40 },
        { "Ti", 2, 40 }, { "p", 10, 15 }, { "P", 10, 15 }, { "pi", 2, 50 }, { "Pi", 2, 50 },
        { "e", 10, 18 }, { "E", 10, 18 }, { "ei", 2, 60 }, { "Ei", 2, 60 },
    };
    size_t k;
    for (k = 0; k < sizeof units / sizeof units[0]; k++)
        if (strcmp(unit, units[k].u) == 0)
            break;
    if (k == sizeof units / sizeof units[0]) {
        rc = bi_error(ev, "unit %s not recognized", unit);
        goto done;
    }
    if (bad_exp || exp > 10000 || exp < -10000) {
        rc = bi_error(ev, "exponent too large");
        goto done;
    }
    /* the mantissa: digits with at most one '.', at least one digit */
    size_t dots = 0, digits = 0;
    for (size_t j = ms; j < me; j++) {
        if (s[j] == '.')
            dots++;
        else
            digits++;
    }
    if (dots > 1 || digits == 0) {
        rc = bi_error(ev, "could not parse amount to a number");
        goto done;
    }
    /* exact: the decimal units only move the exponent */
    struct sbuf t = { 0 };
    if (s[0] == '-')
        sb_putc(&t, '-');
    if (s[ms] == '.')
        sb_putc(&t, '0');
    sb_add(&t, s + ms, me - ms);
    if (s[me - 1] == '.')
        sb_putc(&t, '0');
    sb_printf(&t, "e%lld", exp + (units[k].base == 10 ? units[k].exp : 0));
    struct rv *amount = rv_number_text(t.s, t.len);
    free(t.s);
    if (!amount) {
        rc = bi_error(ev, "could not parse amount to a number");
        goto done;
    }
    if (units[k].base == 2) {
        char err[128];
        struct rv *mult = rv_int((int64_t)1 << units[k].exp);
        rc = rv_arith('*', amount, mult, out, err, sizeof err);
        rv_decref(mult);
        rv_decref(amount);
        if (rc < 0)
            rc = bi_error(ev, "%s", err);
    } else {
        *out = amount;
    }
done:
    free(raw.s);
    return rc;
}

/* ------------------------------------------------------------------ graph */

/* As OPA: a node is in the graph when it is a key of it, whatever its
 * value; only an array or a set of neighbours gives it edges. */
static size_t edge_count(const struct rv *e)
{
    return e->type == RV_ARRAY || e->type == RV_SET ? e->u.arr.len : 0;
}

static int check_graph(struct ev *ev, struct rv **a)
{
    WANT(0, RV_OBJECT);
    if (a[1]->type != RV_ARRAY && a[1]->type != RV_SET)
        return bi_type_error(ev, "operand 2 must be one of {array, set} but got %s", rv_type_name(a[1]));
    return 0;
}

BI_FN(bi_graph_reachable)
{
    if (check_graph(ev, a) < 0)
        return -1;
    struct rvbuf queue = { 0 }, reached = { 0 };
    for (size_t i = 0; i < a[1]->u.arr.len; i++)
        rvbuf_push(&queue, rv_incref(a[1]->u.arr.v[i]));
    /* reached is kept as a list, looked up linearly only when small;
     * a set is built at the end */
    struct rv *seen = rv_empty_set();
    for (size_t q = 0; q < queue.len && !rv_budget_exceeded(); q++) {
        struct rv *node = queue.v[q];
        if (rv_set_find(seen, node))
            continue;
        struct rv *e = rv_object_get(a[0], node);
        if (!e)
            continue;
        rvbuf_push(&reached, rv_incref(node));
        struct rvbuf tmp = { 0 };
        for (size_t i = 0; i < reached.len; i++)
            rvbuf_push(&tmp, rv_incref(reached.v[i]));
        rv_decref(seen);
        seen = rv_set_take(&tmp);
        for (size_t i = 0; i < edge_count(e); i++)
            rvbuf_push(&queue, rv_incref(e->u.arr.v[i]));
    }
    rvbuf_clear(&queue);
    rvbuf_clear(&reached);
    *out = seen;
    return 0;
}

static void add_path(struct rvbuf *path, struct rvbuf *paths)
{
    struct rvbuf copy = { 0 };
    for (size_t k = 0; k < path->len; k++)
        rvbuf_push(&copy, rv_incref(path->v[k]));
    rvbuf_push(paths, rv_array_take(&copy));
}

/* Every path from each initial node, depth first, as OPA's pathBuilder: a
 * neighbour that is not in the graph ends the path before it, a node
 * without edges ends it after it, and so does a neighbour already on it. */
static void paths_from(struct rv *graph, struct rv *node, struct rvbuf *path, struct rvbuf *paths)
{
    if (rv_budget_exceeded())
        return;
    struct rv *e = rv_object_get(graph, node);
    if (!e) {
        add_path(path, paths);
        return;
    }
    rvbuf_push(path, rv_incref(node));
    if (edge_count(e) == 0)
        add_path(path, paths);
    for (size_t i = 0; i < edge_count(e); i++) {
        struct rv *next = e->u.arr.v[i];
        bool on_path = false;
        for (size_t k = 0; k < path->len && !on_path; k++)
            on_path = rv_equal(path->v[k], next);
        if (on_path)
            add_path(path, paths);
        else
            paths_from(graph, next, path, paths);
    }
    rv_decref(path->v[--path->len]);
}

BI_FN(bi_graph_reachable_paths)
{
    if (check_graph(ev, a) < 0)
        return -1;
    struct rvbuf paths = { 0 }, path = { 0 };
    for (size_t i = 0; i < a[1]->u.arr.len; i++) {
        struct rv *node = a[1]->u.arr.v[i], *e = rv_object_get(a[0], node);
        if (!e)
            continue;
        rvbuf_push(&path, rv_incref(node));
        if (edge_count(e) == 0)
            add_path(&path, &paths);
        for (size_t k = 0; k < edge_count(e); k++)
            paths_from(a[0], e->u.arr.v[k], &path, &paths);
        rv_decref(path.v[--path.len]);
    }
    rvbuf_clear(&path);
    *out = rv_set_take(&paths);
    return 0;
}

/* ------------------------------------------------------------------ glob.quote_meta */

BI_FN(bi_glob_quote_meta)
{
    WANT(0, RV_STRING);
    struct sbuf b = { 0 };
    for (size_t i = 0; i < SL(a[0]); i++) {
        char c = S(a[0])[i];
        if (strchr("*?\\[]{}", c))
            sb_putc(&b, '\\');
        sb_putc(&b, c);
    }
    if (!b.s)
        sb_add(&b, "", 0);
    *out = bi_string_of(&b);
    return 0;
}

/* ------------------------------------------------------------------ crypto */

static void hex_of(struct sbuf *b, const unsigned char *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_printf(b, "%02x", h[i]);
}

BI_FN(bi_crypto_sha512)
{
    WANT(0, RV_STRING);
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (!EVP_Digest(S(a[0]), SL(a[0]), h, &hl, EVP_sha512(), NULL))
        return bi_error(ev, "digest failed");
    struct sbuf b = { 0 };
    hex_of(&b, h, hl);
    *out = bi_string_of(&b);
    return 0;
}

static int hmac(struct ev *ev, struct rv **a, struct rv **out, const EVP_MD *md)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (!HMAC(md, S(a[1]), (int)SL(a[1]), (const unsigned char *)S(a[0]), SL(a[0]), h, &hl))
        return bi_error(ev, "hmac failed");
    struct sbuf b = { 0 };
    hex_of(&b, h, hl);
    *out = bi_string_of(&b);
    return 0;
}
BI_FN(bi_hmac_md5) { return hmac(ev, a, out, EVP_md5()); }
BI_FN(bi_hmac_sha1) { return hmac(ev, a, out, EVP_sha1()); }
BI_FN(bi_hmac_sha256) { return hmac(ev, a, out, EVP_sha256()); }
BI_FN(bi_hmac_sha512) { return hmac(ev, a, out, EVP_sha512()); }

/* Go's hmac.Equal: constant time in the contents. */
BI_FN(bi_hmac_equal)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    *out = rv_bool(SL(a[0]) == SL(a[1]) && CRYPTO_memcmp(S(a[0]), S(a[1]), SL(a[0])) == 0);
    return 0;
}

/* ------------------------------------------------------------------ regex.globs_match */

/* OPA's regex.globs_match (the glob-intersection library): patterns of
 * characters, '.', classes [a-z] / [^...], '\' escapes, and the
 * quantifiers '*' and '+'. Two patterns intersect when some string matches
 * both: a search over pairs of positions. Characters are bytes here. */
struct gtok {
    unsigned char set[32];   /* the bytes this token accepts */
    bool star;
};

static void set_add(unsigned char *set, unsigned c) { set[c >> 3] |= (unsigned char)(1u << (c & 7)); }

static int glob_tokens(const char *s, size_t n, struct gtok **out, size_t *count)
{
    struct gtok *t = calloc(2 * n + 2, sizeof *t);
    if (!t)
        REGO_OOM();
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        struct gtok cur;
        memset(&cur, 0, sizeof cur);
        char c = s[i++];
        if (c == '.') {
            memset(cur.set, 0xff, sizeof cur.set);
        } else if (c == '[') {
            bool neg = i < n && s[i] == '^';
            if (neg)
                i++;
            bool closed = false, first = true;
            while (i < n) {
                unsigned char lo = (unsigned char)s[i++];
                if (lo == ']' && !first) {
                    closed = true;
                    break;
                }
                first = false;
                if (lo == '\\' && i < n)
                    lo = (unsigned char)s[i++];
                unsigned char hi = lo;
                if (i + 1 < n && s[i] == '-' && s[i + 1] != ']') {
                    hi = (unsigned char)s[i + 1];
                    i += 2;
                    if (hi == '\\' && i < n)
                        hi = (unsigned char)s[i++];
                    if (hi < lo) {
                        free(t);
                        return -1;
                    }
                }
                for (unsigned v = lo; v <= hi; v++)
                    set_add(cur.set, v);
            }
            if (!closed) {
                free(t);
                return -1;
            }
            if (neg)
                for (size_t b = 0; b < sizeof cur.set; b++)
                    cur.set[b] = (unsigned char)~cur.set[b];
        } else if (c == '*' || c == '+') {
            free(t);
            return -1;   /* a quantifier with nothing before it */
        } else {
            if (c == '\\') {
                if (i >= n) {
                    free(t);
                    return -1;
                }
                c = s[i++];
            }
            set_add(cur.set, (unsigned char)c);
        }
        if (i < n && (s[i] == '*' || s[i] == '+')) {
            if (s[i] == '+')
                t[k++] = cur;   /* x+ is x x* */
            cur.star = true;
            i++;
        }
        t[k++] = cur;
    }
    *out = t;
    *count = k;
    return 0;
}

static bool sets_meet(const struct gtok *a, const struct gtok *b)
{
    for (size_t i = 0; i < sizeof a->set; i++)
        if (a->set[i] & b->set[i])
            return true;
    return false;
}

BI_FN(bi_regex_globs_match)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    struct gtok *x, *y;
    size_t nx, ny;
    if (glob_tokens(S(a[0]), SL(a[0]), &x, &nx) < 0)
        return bi_error(ev, "input:%s, error parsing regexp: invalid pattern", S(a[0]));
    if (glob_tokens(S(a[1]), SL(a[1]), &y, &ny) < 0) {
        free(x);
        return bi_error(ev, "input:%s, error parsing regexp: invalid pattern", S(a[1]));
    }
    /* reachable pairs of positions, by breadth-first search */
    size_t w = ny + 1, total = (nx + 1) * w;
    if (!rv_budget_room(total)) {
        free(x);
        free(y);
        return bi_error(ev, "patterns too large");
    }
    unsigned char *seen = calloc(total, 1);
    size_t *queue = malloc(sizeof *queue * total);
    if (!seen || !queue)
        REGO_OOM();
    size_t head = 0, tail = 0;
    bool found = false;
    seen[0] = 1;
    queue[tail++] = 0;
    while (head < tail && !found) {
        size_t st = queue[head++], i = st / w, j = st % w;
        if (i == nx && j == ny) {
            found = true;
            break;
        }
        size_t next[5];
        int nn = 0;
        if (i < nx && x[i].star)
            next[nn++] = (i + 1) * w + j;   /* x* matches nothing */
        if (j < ny && y[j].star)
            next[nn++] = i * w + j + 1;
        if (i < nx && j < ny && sets_meet(&x[i], &y[j])) {
            size_t ni = x[i].star ? i : i + 1, nj = y[j].star ? j : j + 1;
            next[nn++] = ni * w + nj;
            if (x[i].star)
                next[nn++] = (i + 1) * w + nj;
            if (y[j].star)
                next[nn++] = ni * w + j + 1;
        }
        for (int k = 0; k < nn; k++)
            if (!seen[next[k]]) {
                seen[next[k]] = 1;
                queue[tail++] = next[k];
            }
    }
    free(seen);
    free(queue);
    free(x);
    free(y);
    *out = rv_bool(found);
    return 0;
}
