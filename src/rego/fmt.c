/* Canonical layout of a Rego module, in the style of `opa fmt`.
 *
 * The structure (package, imports, rules, heads, bodies, else chains,
 * every and `not { }` bodies, comprehension bodies) comes from the parser's
 * tree; the text of everything else comes from the lexer's tokens, printed
 * verbatim (strings, raw strings, numbers, names) with only the whitespace
 * between them changed. Nothing is re-derived from the tree, so operator
 * precedence and spellings cannot change. Whitespace is only changed where
 * the parser ignores it: a token glued to the previous one where that
 * matters (postfix `.x`, `[x]`, `(args)`, a negative number) stays glued, a
 * newline is added only where the original had one (for a comment) or where
 * the parser reads across newlines (inside brackets, between statements).
 *
 * Comments come from the lexer (rego_lex) in source order and are printed
 * in that order, between the same tokens: at the end of the line when they
 * ended a line with code on it, else on their own line.
 *
 * As a last line of defence the result is parsed again and compared with
 * the input (a dump of the tree without positions, and the comments): a
 * difference is an error, never an output. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/ast.h"
#include "rego/fmt.h"
#include "rego/lex.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

#define NONE ((size_t)-1)

struct comp_ent {
    int line, col;
    struct term *t;
};

struct fmt {
    const char *src;
    struct tok *t;
    size_t nt;
    struct rego_comment *cm;
    size_t ncm, ci;          /* next comment to print */
    size_t *match;           /* matching bracket of each bracket token */
    struct comp_ent *comps;  /* comprehension terms by the position of their bracket */
    size_t ncomps, capcomps;
    struct sbuf out;
    int last_line;           /* source line of the last token or comment printed */
    bool bol;                /* the output is at the beginning of a line */
    bool block_start;        /* nothing printed since a block or a bracket opened */
    bool last_comment;       /* the last thing printed was a comment */
    int indent;              /* tabs for the next line */
    size_t prev;             /* the previous token of this expression, or NONE */
    bool prev_unary;         /* prev is a unary minus */
    size_t lit_brace;        /* the `{` that starts a rule's `if` literal, or NONE */
    bool bad;                /* an inconsistency: refuse to format */
};

/* ------------------------------------------------------------------ tokens */

/* Token i is the keyword kw (not a name after a dot: input.if is a ref). */
static bool is_kw(const struct fmt *f, size_t i, const char *kw)
{
    const struct tok *t = &f->t[i];
    size_t l = strlen(kw);
    return t->type == T_IDENT && t->len == l && memcmp(f->src + t->off, kw, l) == 0 &&
           !(i > 0 && f->t[i - 1].type == T_DOT);
}

static bool is_open(int type) { return type == T_LBRACE || type == T_LBRACK || type == T_LPAREN; }
static bool is_close(int type) { return type == T_RBRACE || type == T_RBRACK || type == T_RPAREN; }

/* Does token i end a term (so that a `-` after it is binary)? */
static bool term_end(const struct fmt *f, size_t i)
{
    static const char *ops[] = { "in", "not", "some", "every", "with", "as", "if", "else",
                                 "contains", "default", "import", "package", NULL };
    const struct tok *t = &f->t[i];
    if (t->type == T_NUMBER || t->type == T_STRING || is_close(t->type))
        return true;
    if (t->type != T_IDENT)
        return false;
    for (int k = 0; ops[k]; k++)
        if (is_kw(f, i, ops[k]))
            return false;
    return true;
}

static int end_line(const struct fmt *f, size_t i)
{
    const struct tok *t = &f->t[i];
    int l = t->line;
    for (size_t k = 0; k < t->len; k++)
        if (f->src[t->off + k] == '\n')
            l++;
    return l;
}

/* The first token at or after byte offset off. */
static size_t tok_at(const struct fmt *f, size_t off)
{
    size_t lo = 0, hi = f->nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->t[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->nt ? lo : f->nt - 1;
}

/* The token at a source position (a statement's loc). */
static size_t tok_loc(struct fmt *f, const struct loc *l)
{
    size_t lo = 0, hi = f->nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct tok *t = &f->t[mid];
        if (t->line < l->line || (t->line == l->line && t->col < l->col))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= f->nt || f->t[lo].line != l->line || f->t[lo].col != l->col) {
        f->bad = true;
        return f->nt - 1;
    }
    return lo;
}

/* ------------------------------------------------------------------ output */

static void w_indent(struct fmt *f)
{
    if (!f->bol)
        return;
    for (int i = 0; i < f->indent; i++)
        sb_putc(&f->out, '\t');
    f->bol = false;
}

static void newline(struct fmt *f)
{
    if (!f->bol) {
        sb_putc(&f->out, '\n');
        f->bol = true;
    }
}

/* One empty line here (never two, never at the start). */
static void blank(struct fmt *f)
{
    newline(f);
    size_t n = f->out.len;
    if (n > 0 && !(n >= 2 && f->out.s[n - 2] == '\n'))
        sb_putc(&f->out, '\n');
}

static void put_comment_text(struct fmt *f, const struct rego_comment *c)
{
    size_t n = c->len;
    while (n > 0 && (f->src[c->off + n - 1] == ' ' || f->src[c->off + n - 1] == '\t' ||
                     f->src[c->off + n - 1] == '\r'))
        n--;
    sb_add(&f->out, f->src + c->off, n);
    f->last_line = c->line;
    f->last_comment = true;
    f->block_start = false;
}

/* The next comment, when it ends the line of the last token printed (and
 * comes before offset lim): at the end of that line. */
static void flush_trailing(struct fmt *f, size_t lim)
{
    if (f->ci < f->ncm && f->cm[f->ci].off < lim && !f->bol && f->cm[f->ci].line == f->last_line) {
        sb_putc(&f->out, ' ');
        put_comment_text(f, &f->cm[f->ci++]);
        newline(f);
    }
}

/* Every comment before offset lim: a trailing one, then the others on
 * their own lines at the current indent, an empty line kept before one
 * that had one (except at the start of a block). */
static void flush_comments(struct fmt *f, size_t lim)
{
    flush_trailing(f, lim);
    while (f->ci < f->ncm && f->cm[f->ci].off < lim) {
        const struct rego_comment *c = &f->cm[f->ci++];
        newline(f);
        if (f->last_line > 0 && c->line > f->last_line + 1 && !f->block_start)
            blank(f);
        w_indent(f);
        put_comment_text(f, c);
        newline(f);
    }
}

/* A line break (after a trailing comment, if one is there). */
static void brk(struct fmt *f, size_t lim)
{
    flush_trailing(f, lim);
    newline(f);
}

static void put_tok(struct fmt *f, size_t i, bool space)
{
    const struct tok *t = &f->t[i];
    flush_comments(f, t->off);
    if (!f->bol && space)
        sb_putc(&f->out, ' ');
    w_indent(f);
    sb_add(&f->out, f->src + t->off, t->len);
    f->last_line = end_line(f, i);
    f->last_comment = false;
    f->block_start = false;
    f->prev_unary = t->type == T_MINUS && (f->prev == NONE || !term_end(f, f->prev));
    f->prev = i;
}

/* Whether token i is printed after a space (given the previous token). */
static bool space_before(const struct fmt *f, size_t i)
{
    const struct tok *c = &f->t[i];
    if (f->prev == NONE)
        return true;
    const struct tok *p = &f->t[f->prev];
    if (c->type == T_DOT || c->type == T_COMMA || c->type == T_COLON || c->type == T_SEMI ||
        is_close(c->type))
        return false;
    if (is_open(p->type) || p->type == T_DOT)
        return false;
    if ((c->type == T_LBRACK || c->type == T_LPAREN) && !c->ws_before &&
        (p->type == T_IDENT || term_end(f, f->prev)))
        return false;   /* postfix a[x], f(x), contains(...): glued as written */
    if (f->prev_unary)
        return c->ws_before;   /* -1 is a number, - 1 a negation: as written */
    return true;
}

/* ------------------------------------------------------------------ layout */

static void fmt_expr(struct fmt *f, struct expr *e, int ind);
static void emit_seq(struct fmt *f, size_t a, size_t b, int base, int m, bool multi);

static struct term *comp_at(const struct fmt *f, const struct tok *t)
{
    size_t lo = 0, hi = f->ncomps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct comp_ent *c = &f->comps[mid];
        if (c->line < t->line || (c->line == t->line && c->col < t->col))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < f->ncomps && f->comps[lo].line == t->line && f->comps[lo].col == t->col)
        return f->comps[lo].t;
    return NULL;
}

/* The token after the last expression of a braced body: its `}`. */
static size_t body_close(struct fmt *f, struct body *b)
{
    if (!b || b->n == 0) {
        f->bad = true;
        return f->nt - 1;
    }
    size_t c = tok_at(f, b->exprs[b->n - 1]->src_end);
    while (c + 1 < f->nt && f->t[c].type == T_SEMI)
        c++;
    if (f->t[c].type != T_RBRACE)
        f->bad = true;
    return c;
}

/* Each expression of b on its own line at indent ind. */
static void body_lines(struct fmt *f, struct body *b, int ind)
{
    for (int i = 0; i < b->n && !f->bad; i++) {
        f->indent = ind;
        /* A line that starts with `-` would continue the expression above
         * it (a binary operator continues across a newline): the `;` that
         * separated them stays, at the end of the line above. */
        if (i > 0 && f->t[tok_at(f, b->exprs[i]->src_start)].type == T_MINUS) {
            sb_putc(&f->out, ';');
            f->prev = NONE; /* the `-` is unary: written as it was */
        }
        flush_comments(f, b->exprs[i]->src_start);
        newline(f);
        fmt_expr(f, b->exprs[i], ind);
    }
}

/* `}` closing a block whose lines were at ind + 1. */
static void close_block(struct fmt *f, size_t c, int ind)
{
    f->indent = ind + 1;
    flush_comments(f, f->t[c].off);
    newline(f);
    f->indent = ind;
    put_tok(f, c, false);
}

/* A comprehension: tokens i (its bracket) to j (the closing one). */
static void emit_comp(struct fmt *f, size_t i, size_t j, struct term *c, int base, int m)
{
    put_tok(f, i, space_before(f, i));
    size_t bar = NONE;
    for (size_t k = i + 1; k < j; k++) {
        if (is_open(f->t[k].type) && f->match[k] != NONE) {
            k = f->match[k];
        } else if (f->t[k].type == T_BAR) {
            bar = k;
            break;
        }
    }
    struct body *b = c->body;
    if (bar == NONE || !b || b->n == 0) {
        f->bad = true;
        return;
    }
    emit_seq(f, i + 1, bar, base, m, false);
    bool multi = false;
    for (size_t k = bar + 1; k <= j && !multi; k++)
        multi = f->t[k].nl_before;
    for (size_t k = f->ci; k < f->ncm && f->cm[k].off < f->t[j].off && !multi; k++)
        multi = f->cm[k].off > f->t[bar].off;
    for (int k = 0; k < b->n && !multi; k++)
        multi = b->exprs[k]->kind == EK_EVERY || b->exprs[k]->kind == EK_BODY;
    f->indent = base + m + 1;
    put_tok(f, bar, true);
    if (multi) {
        f->block_start = true;
        body_lines(f, b, base + m + 1);
        close_block(f, j, base + m);
    } else {
        for (int k = 0; k < b->n && !f->bad; k++) {
            if (k > 0)
                sb_putc(&f->out, ';');
            f->prev = NONE;
            fmt_expr(f, b->exprs[k], base + m + 1);
        }
        f->indent = base + m + 1;
        put_tok(f, j, false);
    }
    f->prev = j;
    f->prev_unary = false;
}

/* Whether a comment stands between tokens a and b. */
static bool comment_between(const struct fmt *f, size_t a, size_t b)
{
    for (size_t k = f->ci; k < f->ncm && f->cm[k].off < f->t[b].off; k++)
        if (f->cm[k].off > f->t[a].off)
            return true;
    return false;
}

/* Whether the braces i to j hold a set of one element with a trailing
 * comma: no comma or colon at the top level but the last token's. */
static bool one_element_set(const struct fmt *f, size_t i, size_t j)
{
    if (f->t[i].type != T_LBRACE || j < i + 3 || f->t[j - 1].type != T_COMMA)
        return false;
    for (size_t k = i + 1; k < j - 1; k++) {
        if (is_open(f->t[k].type) && f->match[k] != NONE && f->match[k] < j)
            k = f->match[k];
        else if (f->t[k].type == T_COMMA || f->t[k].type == T_COLON)
            return false;
    }
    return true;
}

/* A bracketed group that is not a comprehension: i to its match j. */
static void emit_group(struct fmt *f, size_t i, size_t j, int base, int m)
{
    const struct tok *o = &f->t[i];
    bool postfix = (o->type == T_LBRACK || o->type == T_LPAREN) && !o->ws_before &&
                   f->prev != NONE && term_end(f, f->prev);
    bool trailing = (o->type == T_LBRACK && !postfix) || o->type == T_LBRACE;
    /* the trailing comma of the source (arrays, sets, objects) */
    bool had_comma = trailing && j > i + 2 && f->t[j - 1].type == T_COMMA;
    bool multi = j > i + 1 && !(postfix && o->type == T_LBRACK) &&
                 (f->t[i + 1].nl_before || f->t[j].nl_before ||
                  (had_comma && comment_between(f, j - 2, j - 1)));
    put_tok(f, i, space_before(f, i));
    if (!multi) {
        if (i == f->lit_brace && one_element_set(f, i, j)) {
            /* `if {x,}` is a set; `if {x}` would be a body: the comma stays */
            emit_seq(f, i + 1, j - 1, base, m, false);
            f->indent = base + m + 1;
            put_tok(f, j - 1, false);
        } else {
            emit_seq(f, i + 1, j, base, m, false);
        }
        f->indent = base + m + 1;
        put_tok(f, j, false);
        return;
    }
    f->block_start = true;
    brk(f, f->t[i + 1].off);
    /* The trailing comma goes right after the last element, before a
     * comment that came before it in the source: printed where it stood,
     * it would sit on a line of its own. */
    emit_seq(f, i + 1, had_comma ? j - 1 : j, base, m + 1, true);
    if (trailing && f->prev != NONE && f->t[f->prev].type != T_COMMA) {
        if (!f->bol)
            sb_putc(&f->out, ',');
        else if (had_comma)
            put_tok(f, j - 1, false);
    }
    close_block(f, j, base + m);
}

/* Tokens a to b (exclusive) of one expression or head: elements of a
 * group at indent base + m, continuation lines one more; with multi, each
 * element after a top-level comma on a line of its own. */
static void emit_seq(struct fmt *f, size_t a, size_t b, int base, int m, bool multi)
{
    for (size_t i = a; i < b && !f->bad; i++) {
        const struct tok *t = &f->t[i];
        if (t->type == T_SEMI || t->type == T_EOF) {
            f->bad = true;
            return;
        }
        bool elem_start = i == a || (multi && f->prev != NONE && f->t[f->prev].type == T_COMMA);
        f->indent = base + m + (elem_start ? 0 : 1);
        if (is_open(t->type)) {
            size_t j = f->match[i];
            if (j == NONE || j >= b) {
                f->bad = true;
                return;
            }
            struct term *c = t->type != T_LPAREN ? comp_at(f, t) : NULL;
            if (c)
                emit_comp(f, i, j, c, base, m);
            else
                emit_group(f, i, j, base, m);
            i = j;
            continue;
        }
        if (t->type == T_COMMA) {
            if (!multi && i + 1 == b)
                continue;   /* a trailing comma on one line: dropped */
            put_tok(f, i, false);
            if (multi && i + 1 < b)
                brk(f, f->t[i + 1].off);
            continue;
        }
        if (t->nl_before && i != a && is_kw(f, i, "with"))
            brk(f, t->off);   /* `with` on a line of its own stays there, as opa fmt keeps it */
        put_tok(f, i, space_before(f, i));
    }
}

static void fmt_expr(struct fmt *f, struct expr *e, int ind)
{
    size_t a = tok_at(f, e->src_start), b = tok_at(f, e->src_end);
    if (f->t[a].off != e->src_start || b <= a) {
        f->bad = true;
        return;
    }
    if ((e->kind == EK_EVERY || e->kind == EK_BODY) && e->body) {
        if (e->body->n == 0) {
            f->bad = true;
            return;
        }
        size_t k = tok_at(f, e->body->exprs[0]->src_start);
        while (k > a && f->t[k - 1].type == T_SEMI)
            k--;
        if (k <= a || f->t[k - 1].type != T_LBRACE) {
            f->bad = true;
            return;
        }
        k--;
        size_t c = body_close(f, e->body);
        if (f->bad || c >= b)
            return;
        emit_seq(f, a, k, ind, 0, false);
        f->indent = ind + 1;
        put_tok(f, k, true);
        f->block_start = true;
        body_lines(f, e->body, ind + 1);
        close_block(f, c, ind);
        emit_seq(f, c + 1, b, ind, 0, false);
        return;
    }
    emit_seq(f, a, b, ind, 0, false);
}

/* One rule and its else chain: tokens s to e. */
static void fmt_rule(struct fmt *f, struct rule *r, size_t s, size_t e)
{
    size_t k = s;
    for (struct rule *cur = r; cur && !f->bad; cur = cur->els) {
        size_t q = cur == r ? k : k + 1;
        if (cur != r && (k >= e || !is_kw(f, k, "else"))) {
            f->bad = true;
            return;
        }
        while (q < e && !is_kw(f, q, "if") && !is_kw(f, q, "else"))
            q++;
        f->prev = NONE;
        emit_seq(f, k, q, 0, 0, false);
        k = q;
        if (k < e && is_kw(f, k, "if")) {
            if (!cur->body || cur->body->n == 0) {
                f->bad = true;
                return;
            }
            f->indent = 1;
            put_tok(f, k, true);
            k++;
            size_t x = tok_at(f, cur->body->exprs[0]->src_start);
            if (f->t[k].type == T_LBRACE && x > k) {
                put_tok(f, k, true);
                f->block_start = true;
                body_lines(f, cur->body, 1);
                size_t c = body_close(f, cur->body);
                if (f->bad || c >= e) {
                    f->bad = true;
                    return;
                }
                close_block(f, c, 0);
                k = c + 1;
            } else {
                if (x != k || cur->body->n != 1) {
                    f->bad = true;
                    return;
                }
                f->prev = NONE;
                f->lit_brace = f->t[k].type == T_LBRACE ? k : NONE;
                fmt_expr(f, cur->body->exprs[0], 0);
                f->lit_brace = NONE;
                k = tok_at(f, cur->body->exprs[0]->src_end);
            }
        }
    }
    if (k != e)
        f->bad = true;
}

/* ------------------------------------------------------------------ the tree's comprehensions */

static void walk_body(struct fmt *f, struct body *b);

static void walk_term(struct fmt *f, struct term *t)
{
    if (!t)
        return;
    if (t->kind == TK_ACOMP || t->kind == TK_SCOMP || t->kind == TK_OCOMP) {
        if (f->ncomps == f->capcomps) {
            f->capcomps = f->capcomps ? f->capcomps * 2 : 16;
            f->comps = realloc(f->comps, f->capcomps * sizeof *f->comps);
            if (!f->comps)
                REGO_OOM();
        }
        f->comps[f->ncomps++] = (struct comp_ent){ t->loc.line, t->loc.col, t };
    }
    for (int i = 0; i < t->nitems; i++)
        walk_term(f, t->items[i]);
    walk_term(f, t->key);
    walk_term(f, t->value);
    walk_body(f, t->body);
}

static void walk_body(struct fmt *f, struct body *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++) {
        struct expr *e = b->exprs[i];
        walk_term(f, e->a);
        walk_term(f, e->b);
        walk_term(f, e->c);
        walk_body(f, e->body);
        for (int k = 0; k < e->nwith; k++) {
            walk_term(f, e->with[k].target);
            walk_term(f, e->with[k].value);
        }
        for (int k = 0; k < e->ndecl; k++)
            walk_term(f, e->decl[k]);
    }
}

static int comp_cmp(const void *x, const void *y)
{
    const struct comp_ent *a = x, *b = y;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->col < b->col ? -1 : a->col > b->col;
}

/* ------------------------------------------------------------------ the dump */

static void dump_body(struct sbuf *b, const struct body *bd);

static void dump_term(struct sbuf *b, const struct term *t)
{
    if (!t) {
        sb_puts(b, "~");
        return;
    }
    sb_printf(b, "(%d", t->kind);
    if (t->kind == TK_VALUE && t->val) {
        sb_putc(b, ' ');
        rv_write(b, t->val, false);
    }
    if (t->name)
        sb_printf(b, " %s", t->name);
    for (int i = 0; i < t->nitems; i++) {
        sb_putc(b, ' ');
        dump_term(b, t->items[i]);
    }
    if (t->key || t->value || t->body) {
        sb_puts(b, " |");
        dump_term(b, t->key);
        dump_term(b, t->value);
        dump_body(b, t->body);
    }
    sb_putc(b, ')');
}

static void dump_body(struct sbuf *b, const struct body *bd)
{
    if (!bd) {
        sb_puts(b, "~");
        return;
    }
    sb_puts(b, "{");
    for (int i = 0; i < bd->n; i++) {
        const struct expr *e = bd->exprs[i];
        sb_printf(b, "\n[%d %d %d ", e->kind, e->negated, e->not_body);
        dump_term(b, e->a);
        dump_term(b, e->b);
        dump_term(b, e->c);
        dump_body(b, e->body);
        for (int k = 0; k < e->nwith; k++) {
            sb_puts(b, " with ");
            dump_term(b, e->with[k].target);
            dump_term(b, e->with[k].value);
        }
        for (int k = 0; k < e->ndecl; k++)
            dump_term(b, e->decl[k]);
        sb_puts(b, "]");
    }
    sb_puts(b, "}");
}

static void dump_module(struct sbuf *b, const struct module *m)
{
    sb_puts(b, "package");
    for (int i = 0; i < m->npkg; i++) {
        sb_putc(b, ' ');
        rv_write(b, m->pkg[i], false);
    }
    for (int i = 0; i < m->nimports; i++) {
        sb_puts(b, "\nimport ");
        dump_term(b, m->imports[i].path);
        sb_printf(b, " as %s", m->imports[i].alias ? m->imports[i].alias : "~");
    }
    for (const struct rule *r = m->rules; r; r = r->next_in_module) {
        sb_puts(b, "\nrule");
        for (const struct rule *x = r; x; x = x->els) {
            sb_printf(b, "\n %d %d %d ", x->kind, x->is_default, x->has_value);
            dump_term(b, x->head);
            sb_puts(b, " args");
            for (int i = 0; i < x->nargs; i++)
                dump_term(b, x->args[i]);
            sb_puts(b, " key ");
            dump_term(b, x->key);
            sb_puts(b, " value ");
            dump_term(b, x->value);
            sb_puts(b, " body ");
            dump_body(b, x->body);
        }
    }
    sb_putc(b, '\n');
}

int rego_module_dump(const char *file, const char *text, size_t len, char **out,
                     struct rego_error *err)
{
    struct module *m = NULL;
    if (rego_parse_module(file, text, len, &m, err) < 0)
        return -1;
    struct sbuf b = { 0 };
    dump_module(&b, m);
    module_free(m);
    *out = sb_steal(&b);
    return 0;
}

/* ------------------------------------------------------------------ entry */

static bool same_comments(const char *s1, const struct rego_lexed *a, const char *s2,
                          const struct rego_lexed *b)
{
    if (a->ncomments != b->ncomments)
        return false;
    for (size_t i = 0; i < a->ncomments; i++) {
        const struct rego_comment *x = &a->comments[i], *y = &b->comments[i];
        size_t nx = x->len, ny = y->len;
        while (nx > 0 && strchr(" \t\r", s1[x->off + nx - 1]))
            nx--;
        while (ny > 0 && strchr(" \t\r", s2[y->off + ny - 1]))
            ny--;
        if (nx != ny || memcmp(s1 + x->off, s2 + y->off, nx) != 0)
            return false;
    }
    return true;
}

static int format_module(struct fmt *f, struct module *m)
{
    for (struct rule *r = m->rules; r; r = r->next_in_module)
        for (struct rule *x = r; x; x = x->els) {
            walk_term(f, x->head);
            for (int i = 0; i < x->nargs; i++)
                walk_term(f, x->args[i]);
            walk_term(f, x->key);
            walk_term(f, x->value);
            walk_body(f, x->body);
        }
    if (f->ncomps)
        qsort(f->comps, f->ncomps, sizeof *f->comps, comp_cmp);
    /* matching brackets */
    f->match = malloc(f->nt * sizeof *f->match);
    size_t *stack = malloc(f->nt * sizeof *stack), sp = 0;
    if (!f->match || !stack)
        REGO_OOM();
    for (size_t i = 0; i < f->nt; i++) {
        f->match[i] = NONE;
        if (is_open(f->t[i].type)) {
            stack[sp++] = i;
        } else if (is_close(f->t[i].type) && sp > 0) {
            size_t o = stack[--sp];
            f->match[o] = i;
            f->match[i] = o;
        }
    }
    free(stack);
    /* statements: the package, the imports, the rules, in order */
    size_t nst = 1 + (size_t)m->nimports;
    for (struct rule *r = m->rules; r; r = r->next_in_module)
        nst++;
    size_t *st = malloc((nst + 1) * sizeof *st);
    if (!st)
        REGO_OOM();
    size_t n = 0;
    st[n++] = 0;
    for (int i = 0; i < m->nimports; i++)
        st[n++] = tok_loc(f, &m->imports[i].loc);
    for (struct rule *r = m->rules; r; r = r->next_in_module)
        st[n++] = tok_loc(f, &r->loc);
    st[n] = f->nt - 1;  /* EOF */
    for (size_t i = 0; i < n; i++)
        if (st[i + 1] <= st[i])
            f->bad = true;
    struct rule *r = m->rules;
    for (size_t i = 0; i < n && !f->bad; i++) {
        size_t s = st[i], e = st[i + 1];
        while (e > s && f->t[e - 1].type == T_SEMI)
            e--;
        if (i > 0) {
            flush_trailing(f, f->t[s].off);
            bool imports = i >= 2 && i <= (size_t)m->nimports;
            if (imports)
                newline(f);
            else
                blank(f);
        }
        f->indent = 0;
        f->block_start = i == 0;
        f->last_comment = false;
        flush_comments(f, f->t[s].off);
        if (f->last_comment && f->t[s].line > f->last_line + 1)
            blank(f);
        newline(f);
        f->prev = NONE;
        if (i <= (size_t)m->nimports) {
            emit_seq(f, s, e, 0, 0, false);
        } else {
            fmt_rule(f, r, s, e);
            r = r->next_in_module;
        }
    }
    free(st);
    f->indent = 0;
    flush_comments(f, (size_t)-1);
    newline(f);
    return f->bad ? -1 : 0;
}

int rego_format(const char *filename, const char *text, size_t len, char **out, size_t *outlen,
                struct rego_error *err)
{
    struct module *m = NULL;
    if (rego_parse_module(filename, text, len, &m, err) < 0)
        return -1;
    struct rego_lexed lx;
    if (rego_lex(filename, text, len, &lx, err) < 0) {
        module_free(m);
        return -1;
    }
    struct fmt f = { .src = text, .t = lx.toks, .nt = lx.ntoks, .cm = lx.comments,
                     .ncm = lx.ncomments, .bol = true, .prev = NONE,
                     .lit_brace = NONE };
    int rc = format_module(&f, m);
    module_free(m);
    free(f.match);
    free(f.comps);
    size_t rlen = f.out.len;   /* a comment may hold a NUL byte: not strlen */
    char *res = sb_steal(&f.out);
    if (!res)
        rlen = 0;
    struct loc l = { filename, 0, 0 };
    if (rc == 0) {
        /* the defence: the same tree and the same comments, or no output */
        char *d1 = NULL, *d2 = NULL;
        struct rego_error e2;
        struct rego_lexed lx2;
        if (rego_module_dump(filename, text, len, &d1, err) < 0) {
            rc = -1;
        } else if (!res || rego_module_dump(filename, res, rlen, &d2, &e2) < 0 || strcmp(d1, d2) != 0 ||
                   rego_lex(filename, res, rlen, &lx2, &e2) < 0) {
            rc = -2;
        } else {
            if (!same_comments(text, &lx, res, &lx2))
                rc = -2;
            rego_lexed_free(&lx2);
        }
        free(d1);
        free(d2);
    } else {
        rc = -2;
    }
    rego_lexed_free(&lx);
    if (rc < 0) {
        free(res);
        if (rc == -2)
            rego_err(err, "rego_format_error", &l,
                     "cannot format this module without changing it (a bug in the formatter)");
        return -1;
    }
    *out = res;
    if (outlen)
        *outlen = rlen;
    return 0;
}
