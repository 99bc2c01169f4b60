/* sprintf with Go's fmt semantics. OPA hands fmt.Sprintf Go values: an
 * integer number is an int (or a *big.Int beyond 64 bits), another number a
 * float64, a string a string, and every other value its Rego text as a
 * string; the verbs, flags, widths and the "%!verb(type=value)" complaints
 * follow from those types exactly as in Go. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/bi.h"
#include "rego/unicode.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

enum gkind { G_INT, G_BIG, G_FLOAT, G_STR };

struct garg {
    enum gkind k;
    int64_t i;
    double f;
    struct rv *v;          /* G_BIG: the number; G_STR: NULL or the string value */
    char *text;            /* G_STR: owned text when not a string value */
    const char *s;
    size_t n;
};

static const char *gtype(const struct garg *g)
{
    static const char *const names[] = { "int", "*big.Int", "float64", "string" };
    return names[g->k];
}

static void garg_of(struct rv *v, struct garg *g)
{
    memset(g, 0, sizeof *g);
    if (v->type == RV_NUMBER && v->is_int) {
        g->k = G_INT;
        g->i = v->u.i;
    } else if (v->type == RV_NUMBER && v->is_big && rv_as_double(v) == floor(rv_as_double(v))) {
        g->k = G_BIG;
        g->v = v;
    } else if (v->type == RV_NUMBER) {
        g->k = G_FLOAT;
        g->f = rv_as_double(v);
    } else if (v->type == RV_STRING) {
        g->k = G_STR;
        g->s = S(v);
        g->n = SL(v);
    } else {
        struct sbuf b = { 0 };
        rv_write(&b, v, false);
        if (!b.s)
            sb_add(&b, "", 0);
        g->k = G_STR;
        g->n = b.len;
        g->s = b.s;
        g->text = b.s;
    }
}

/* Go's strconv.FormatFloat(f, fmt, -1, 64) for 'g'/'G': shortest digits,
 * %e form when the exponent is < -4 or >= 6 (Go's rule for the shortest
 * precision), exponent at least two digits. */
void bi_go_float(struct sbuf *b, double f, char verb)
{
    if (isinf(f)) {
        sb_puts(b, f > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (isnan(f)) {
        sb_puts(b, "NaN");
        return;
    }
    char digits[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(digits, sizeof digits, "%.*e", prec - 1, f);
        if (strtod(digits, NULL) == f)
            break;
    }
    char *e = strchr(digits, 'e');
    int exp = atoi(e + 1);
    if (exp < -4 || exp >= 6) {
        *e = 0;
        sb_puts(b, digits);
        sb_printf(b, "%c%c%02d", verb == 'G' ? 'E' : 'e', exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else {
        sb_printf(b, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, f);
    }
}

struct spec {
    bool minus, plus, sharp, space, zero;
    int width, prec;   /* -1: none */
};

/* Width padding, counted in runes as Go does. */
static void pad(struct sbuf *out, const struct spec *sp, const char *s, size_t n, bool numeric)
{
    size_t runes = sp->width > 0 ? uni_rune_count(s, n) : 0;
    size_t fill = sp->width > 0 && (size_t)sp->width > runes ? (size_t)sp->width - runes : 0;
    if (sp->minus) {
        sb_add(out, s, n);
        for (size_t i = 0; i < fill; i++)
            sb_putc(out, ' ');
        return;
    }
    if (sp->zero && fill) {
        /* zeros go after the sign */
        size_t sign = numeric && n && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
        sb_add(out, s, sign);
        for (size_t i = 0; i < fill; i++)
            sb_putc(out, '0');
        sb_add(out, s + sign, n - sign);
        return;
    }
    for (size_t i = 0; i < fill; i++)
        sb_putc(out, ' ');
    sb_add(out, s, n);
}

/* %v of the value, used inside complaints and for EXTRA. */
static void plain(struct sbuf *b, const struct garg *g)
{
    switch (g->k) {
    case G_INT: sb_printf(b, "%lld", (long long)g->i); break;
    case G_BIG: rv_write_number(b, g->v); break;
    case G_FLOAT: bi_go_float(b, g->f, 'g'); break;
    case G_STR: sb_add(b, g->s, g->n); break;
    }
}

static void bad_verb(struct sbuf *out, uint32_t verb, const struct garg *g)
{
    sb_puts(out, "%!");
    char e[4];
    sb_add(out, e, uni_encode(verb, e));
    sb_printf(out, "(%s=", gtype(g));
    plain(out, g);
    sb_putc(out, ')');
}

/* Go's strconv.Quote: printable runes kept, the rest escaped. */
static void go_quote(struct sbuf *b, const char *s, size_t n, bool ascii_only)
{
    sb_putc(b, '"');
    size_t w;
    for (size_t i = 0; i < n; i += w) {
        /* a run of printable ASCII other than the quote and the backslash: as it is */
        size_t j = i;
        while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\')
            j++;
        if (j > i) {
            sb_add(b, s + i, j - i);
            w = j - i;
            continue;
        }
        uint32_t r = uni_decode(s + i, n - i, &w);
        if (r == UNI_RUNE_ERROR && w == 1) {
            sb_printf(b, "\\x%02x", (unsigned char)s[i]);
            continue;
        }
        switch (r) {
        case '\a': sb_puts(b, "\\a"); continue;
        case '\b': sb_puts(b, "\\b"); continue;
        case '\f': sb_puts(b, "\\f"); continue;
        case '\n': sb_puts(b, "\\n"); continue;
        case '\r': sb_puts(b, "\\r"); continue;
        case '\t': sb_puts(b, "\\t"); continue;
        case '\v': sb_puts(b, "\\v"); continue;
        case '"': sb_puts(b, "\\\""); continue;
        case '\\': sb_puts(b, "\\\\"); continue;
        default: break;
        }
        if (r < 0x20 || r == 0x7f)
            sb_printf(b, "\\x%02x", r);
        else if (r < 0x80 || (!ascii_only && r != 0xFEFF && !(r >= 0x80 && r < 0xA0)))
            sb_add(b, s + i, w);
        else if (r < 0x10000)
            sb_printf(b, "\\u%04x", r);
        else
            sb_printf(b, "\\U%08x", r);
    }
    sb_putc(b, '"');
}

static void fmt_int(struct sbuf *out, const struct spec *sp, uint32_t verb, const struct garg *g)
{
    struct sbuf b = { 0 };
    bool neg;
    char digits[80];
    if (g->k == G_BIG) {
        if (verb != 'd' && verb != 'v' && verb != 's') {
            bad_verb(out, verb, g);
            return;
        }
        rv_write_number(&b, g->v);
        pad(out, sp, b.s, b.len, true);
        free(b.s);
        return;
    }
    int64_t v = g->i;
    neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int base = 10;
    const char *alpha = "0123456789abcdef";
    const char *prefix = "";
    switch (verb) {
    case 'd': case 'v': break;
    case 'b': base = 2; if (sp->sharp) prefix = "0b"; break;
    case 'o': base = 8; if (sp->sharp) prefix = "0"; break;
    case 'O': base = 8; prefix = "0o"; break;
    case 'x': base = 16; if (sp->sharp) prefix = "0x"; break;
    case 'X': base = 16; alpha = "0123456789ABCDEF"; if (sp->sharp) prefix = "0X"; break;
    case 'c': {
        char e[4];
        size_t l = uni_encode(v < 0 || v > 0x10FFFF ? UNI_RUNE_ERROR : (uint32_t)v, e);
        pad(out, sp, e, l, false);
        return;
    }
    case 'q': {
        char e[4];
        size_t l = uni_encode(v < 0 || v > 0x10FFFF ? UNI_RUNE_ERROR : (uint32_t)v, e);
        sb_putc(&b, '\'');
        if (l == 1 && e[0] == '\'')
            sb_puts(&b, "\\'");
        else if (l == 1 && (unsigned char)e[0] < 0x20)
            sb_printf(&b, "\\x%02x", (unsigned char)e[0]);
        else
            sb_add(&b, e, l);
        sb_putc(&b, '\'');
        pad(out, sp, b.s, b.len, false);
        free(b.s);
        return;
    }
    case 'U':
        sb_printf(&b, "U+%04llX", (unsigned long long)u);
        if (neg) {
            free(b.s);
            b.s = NULL;
            b.len = b.cap = 0;
            sb_printf(&b, "U+%04llX", (unsigned long long)(uint64_t)v);
        }
        pad(out, sp, b.s, b.len, false);
        free(b.s);
        return;
    default:
        bad_verb(out, verb, g);
        return;
    }
    int p = (int)sizeof digits;
    do {
        digits[--p] = alpha[u % (uint64_t)base];
        u /= (uint64_t)base;
    } while (u);
    int nd = (int)sizeof digits - p;
    if (sp->prec == 0 && g->i == 0)
        nd = 0;   /* Go: %.0d of 0 is empty */
    if (neg)
        sb_putc(&b, '-');
    else if (sp->plus)
        sb_putc(&b, '+');
    else if (sp->space)
        sb_putc(&b, ' ');
    sb_puts(&b, prefix);
    for (int i = nd; i < sp->prec; i++)
        sb_putc(&b, '0');
    sb_add(&b, digits + sizeof digits - nd, (size_t)nd);
    struct spec s2 = *sp;
    if (sp->prec >= 0)
        s2.zero = false;   /* Go: a precision turns zero padding off */
    pad(out, &s2, b.s ? b.s : "", b.len, true);
    free(b.s);
}

static void fmt_float(struct sbuf *out, const struct spec *sp, uint32_t verb, const struct garg *g)
{
    struct sbuf b = { 0 };
    double f = g->f;
    if (verb == 'v')
        verb = 'g';
    if (!strchr("eEfFgG", (int)verb) || verb > 127) {
        bad_verb(out, verb, g);
        return;
    }
    if (isinf(f) || isnan(f)) {
        sb_puts(&b, isnan(f) ? (sp->plus ? "+NaN" : "NaN") : f > 0 ? (sp->plus ? "+Inf" : "+Inf") : "-Inf");
    } else if ((verb == 'g' || verb == 'G') && sp->prec < 0) {
        if (sp->plus && f >= 0)
            sb_putc(&b, '+');
        else if (sp->space && f >= 0)
            sb_putc(&b, ' ');
        bi_go_float(&b, f, (char)verb);
    } else {
        char cf[16];
        snprintf(cf, sizeof cf, "%%%s%s%s.*%c", sp->plus ? "+" : "", sp->space ? " " : "", sp->sharp ? "#" : "",
                 (char)verb);
        char tmp[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        int l = snprintf(tmp, sizeof tmp, cf, sp->prec < 0 ? 6 : sp->prec > 300 ? 300 : sp->prec, f);
#pragma GCC diagnostic pop
        if (l > 0)
            sb_add(&b, tmp, (size_t)l < sizeof tmp ? (size_t)l : sizeof tmp - 1);
    }
    pad(out, sp, b.s ? b.s : "", b.len, true);
    free(b.s);
}

static void fmt_str(struct sbuf *out, const struct spec *sp, uint32_t verb, const struct garg *g)
{
    struct sbuf b = { 0 };
    size_t n = g->n;
    switch (verb) {
    case 's':
    case 'v':
        if (sp->prec >= 0) {
            /* precision: at most that many runes */
            size_t i = 0, w, r = 0;
            while (i < n && r < (size_t)sp->prec) {
                uni_decode(g->s + i, n - i, &w);
                i += w;
                r++;
            }
            n = i;
        }
        pad(out, sp, g->s, n, false);
        return;
    case 'q':
        go_quote(&b, g->s, n, sp->plus);
        break;
    case 'x':
    case 'X':
        for (size_t i = 0; i < n; i++) {
            if (sp->space && i)
                sb_putc(&b, ' ');
            if (sp->sharp && (sp->space || i == 0))
                sb_puts(&b, verb == 'x' ? "0x" : "0X");
            sb_printf(&b, verb == 'x' ? "%02x" : "%02X", (unsigned char)g->s[i]);
        }
        break;
    default:
        bad_verb(out, verb, g);
        return;
    }
    pad(out, sp, b.s ? b.s : "", b.len, false);
    free(b.s);
}

BI_FN(bi_sprintf)
{
    WANT(0, RV_STRING);
    WANT(1, RV_ARRAY);
    const char *f = S(a[0]);
    size_t n = SL(a[0]), argi = 0;
    struct rv *args = a[1];
    size_t nargs = args->u.arr.len;
    struct garg small[8];
    struct garg *g = nargs < 8 ? small : calloc(nargs + 1, sizeof *g);
    if (!g)
        REGO_OOM();
    for (size_t i = 0; i < nargs; i++)
        garg_of(args->u.arr.v[i], &g[i]);
    struct sbuf res = { 0 };
    for (size_t i = 0; i < n && !rv_budget_exceeded();) {
        if (f[i] != '%') {
            const char *pct = memchr(f + i, '%', n - i);
            size_t run = pct ? (size_t)(pct - (f + i)) : n - i;
            sb_add(&res, f + i, run);
            i += run;
            continue;
        }
        i++;
        struct spec sp = { .width = -1, .prec = -1 };
        for (; i < n; i++) {
            if (f[i] == '-') { sp.minus = true; sp.zero = false; }
            else if (f[i] == '+') sp.plus = true;
            else if (f[i] == '#') sp.sharp = true;
            else if (f[i] == ' ') sp.space = true;
            else if (f[i] == '0') sp.zero = !sp.minus;
            else break;
        }
        while (i < n && isdigit((unsigned char)f[i])) {
            sp.width = (sp.width < 0 ? 0 : sp.width) * 10 + (f[i++] - '0');
            if (sp.width > 100000)
                sp.width = 100000;
        }
        if (i < n && f[i] == '.') {
            i++;
            sp.prec = 0;
            while (i < n && isdigit((unsigned char)f[i])) {
                sp.prec = sp.prec * 10 + (f[i++] - '0');
                if (sp.prec > 100000)
                    sp.prec = 100000;
            }
        }
        if (i >= n) {
            sb_puts(&res, "%!(NOVERB)");
            break;
        }
        size_t w;
        uint32_t verb = uni_decode(f + i, n - i, &w);
        i += w;
        if (verb == '%') {
            sb_putc(&res, '%');
            continue;
        }
        if (argi >= nargs) {
            sb_puts(&res, "%!");
            char e[4];
            sb_add(&res, e, uni_encode(verb, e));
            sb_puts(&res, "(MISSING)");
            continue;
        }
        struct garg *x = &g[argi++];
        switch (x->k) {
        case G_INT:
        case G_BIG:
            if (x->k == G_BIG && verb == 's') {
                fmt_int(&res, &sp, 'd', x);
                break;
            }
            if (verb == 'e' || verb == 'E' || verb == 'f' || verb == 'F' || verb == 'g' || verb == 'G' ||
                verb == 's' || verb == 't')
                bad_verb(&res, verb, x);
            else
                fmt_int(&res, &sp, verb, x);
            break;
        case G_FLOAT:
            fmt_float(&res, &sp, verb, x);
            break;
        case G_STR:
            fmt_str(&res, &sp, verb, x);
            break;
        }
    }
    if (argi < nargs) {
        sb_puts(&res, "%!(EXTRA ");
        for (size_t k = argi; k < nargs; k++) {
            if (k > argi)
                sb_puts(&res, ", ");
            sb_printf(&res, "%s=", gtype(&g[k]));
            plain(&res, &g[k]);
        }
        sb_putc(&res, ')');
    }
    for (size_t i = 0; i < nargs; i++)
        free(g[i].text);
    if (g != small)
        free(g);
    if (!res.s)
        sb_add(&res, "", 0);
    *out = bi_string_of(&res);
    return 0;
}
