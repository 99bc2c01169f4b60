/* Lexer and recursive-descent parser for Rego v1.
 *
 * The input is tokenized up front (one pass, bounded by the input size), so
 * the parser can look ahead freely. Every recursive production counts its
 * depth against REGO_MAX_PARSE_DEPTH: hostile nesting is an error, never a
 * stack overflow. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/ast.h"
#include "rego/lex.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

struct parser {
    const char *file;
    const char *src;
    size_t srclen;
    struct tok *toks;
    size_t ntoks, cap, pos;
    int depth;
    int nl_insensitive;  /* > 0 inside (), [] and collection literals */
    int wildcards;
    bool v2;             /* import rego.v2 seen: `not { ... }` bodies */
    bool not_bodies;     /* ... or future.keywords(.not): `not x` is `not { x }` too */
    struct rego_error *err;
    bool failed;
    /* rego_lex: the comments, in source order (NULL: not kept) */
    struct rego_comment **comments;
    size_t *ncomments, ccap;
};

int rego_err(struct rego_error *err, const char *code, const struct loc *loc, const char *fmt, ...)
{
    if (!err)
        return -1;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->file[0] = 0;
    err->line = err->col = 0;
    if (loc) {
        snprintf(err->file, sizeof err->file, "%s", loc->file ? loc->file : "");
        err->line = loc->line;
        err->col = loc->col;
    }
    return -1;
}

const char *rego_error_string(const struct rego_error *err, char *buf, size_t len)
{
    if (err->line > 0)
        snprintf(buf, len, "%s:%d:%d: %s: %s", err->file[0] ? err->file : "query", err->line,
                 err->col, err->code, err->message);
    else
        snprintf(buf, len, "%s: %s", err->code, err->message);
    return buf;
}

__attribute__((format(printf, 3, 4)))
static int perr(struct parser *p, const struct tok *t, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct loc l = { p->file, t ? t->line : 0, t ? t->col : 0 };
    return rego_err(p->err, "rego_parse_error", &l, "%s", msg);
}

/* ------------------------------------------------------------------ lexer */

static void put_utf8(struct sbuf *b, uint32_t c)
{
    char o[4];
    if (c < 0x80) {
        o[0] = (char)c;
        sb_add(b, o, 1);
    } else if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        sb_add(b, o, 2);
    } else if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        sb_add(b, o, 3);
    } else {
        o[0] = (char)(0xf0 | (c >> 18));
        o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[3] = (char)(0x80 | (c & 0x3f));
        sb_add(b, o, 4);
    }
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return 0;
}

static void keep_comment(struct parser *p, size_t off, size_t len, int line, int col)
{
    if (*p->ncomments == p->ccap) {
        p->ccap = p->ccap ? p->ccap * 2 : 16;
        *p->comments = realloc(*p->comments, p->ccap * sizeof **p->comments);
        if (!*p->comments)
            REGO_OOM();
    }
    struct rego_comment *c = &(*p->comments)[(*p->ncomments)++];
    c->off = off;
    c->len = len;
    c->line = line;
    c->col = col;
}

static int tokenize(struct parser *p)
{
    const char *s = p->src;
    size_t n = p->srclen, i = 0;
    int line = 1;
    size_t line_start = 0;
    bool nl = true, ws = true;
    for (;;) {
        /* whitespace and comments */
        while (i < n) {
            char c = s[i];
            if (c == '\n') {
                nl = ws = true;
                line++;
                i++;
                line_start = i;
            } else if (c == ' ' || c == '\t' || c == '\r') {
                ws = true;
                i++;
            } else if (c == '#') {
                size_t c0 = i;
                while (i < n && s[i] != '\n')
                    i++;
                if (p->comments)
                    keep_comment(p, c0, i - c0, line, (int)(c0 - line_start) + 1);
            } else {
                break;
            }
        }
        if (p->ntoks == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 256;
            p->toks = realloc(p->toks, p->cap * sizeof *p->toks);
            if (!p->toks)
                REGO_OOM();
        }
        struct tok *t = &p->toks[p->ntoks];
        memset(t, 0, sizeof *t);
        t->nl_before = nl;
        t->ws_before = ws;
        t->line = line;
        t->col = (int)(i - line_start) + 1;
        t->off = i;
        nl = ws = false;
        if (i >= n) {
            t->type = T_EOF;
            p->ntoks++;
            return 0;
        }
        char c = s[i];
        if (c == 0) {
            p->ntoks++;
            return perr(p, t, "illegal NUL byte");
        }
        if (isalpha((unsigned char)c) || c == '_') {
            size_t j = i;
            while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_'))
                j++;
            t->type = T_IDENT;
            t->len = j - i;
            i = j;
        } else if (isdigit((unsigned char)c)) {
            size_t j = i;
            while (j < n && isdigit((unsigned char)s[j]))
                j++;
            if (j + 1 < n && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
                j++;
                while (j < n && isdigit((unsigned char)s[j]))
                    j++;
            }
            if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                size_t k = j + 1;
                if (k < n && (s[k] == '+' || s[k] == '-'))
                    k++;
                if (k < n && isdigit((unsigned char)s[k])) {
                    while (k < n && isdigit((unsigned char)s[k]))
                        k++;
                    j = k;
                }
            }
            t->type = T_NUMBER;
            t->len = j - i;
            i = j;
        } else if (c == '"') {
            struct sbuf b = { 0 };
            size_t j = i + 1;
            for (;;) {
                if (j >= n || s[j] == '\n') {
                    free(b.s);
                    p->ntoks++;
                    return perr(p, t, "non-terminated string");
                }
                char d = s[j];
                if (d == '"') {
                    j++;
                    break;
                }
                if (d == '\\') {
                    if (j + 1 >= n) {
                        free(b.s);
                        p->ntoks++;
                        return perr(p, t, "non-terminated string");
                    }
                    char e = s[j + 1];
                    j += 2;
                    switch (e) {
                    case '"': sb_putc(&b, '"'); break;
                    case '\\': sb_putc(&b, '\\'); break;
                    case '/': sb_putc(&b, '/'); break;
                    case 'b': sb_putc(&b, '\b'); break;
                    case 'f': sb_putc(&b, '\f'); break;
                    case 'n': sb_putc(&b, '\n'); break;
                    case 'r': sb_putc(&b, '\r'); break;
                    case 't': sb_putc(&b, '\t'); break;
                    case 'u': {
                        uint32_t cp, lo;
                        if (j + 4 > n || hex4(s + j, &cp) < 0) {
                            free(b.s);
                            p->ntoks++;
                            return perr(p, t, "illegal \\u escape in string");
                        }
                        j += 4;
                        if (cp >= 0xd800 && cp < 0xdc00 && j + 6 <= n && s[j] == '\\' &&
                            s[j + 1] == 'u' && hex4(s + j + 2, &lo) == 0 && lo >= 0xdc00 &&
                            lo < 0xe000) {
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                            j += 6;
                        } else if (cp >= 0xd800 && cp < 0xe000) {
                            cp = 0xfffd;
                        }
                        put_utf8(&b, cp);
                        break;
                    }
                    default:
                        free(b.s);
                        p->ntoks++;
                        return perr(p, t, "illegal escape sequence in string");
                    }
                } else {
                    sb_putc(&b, d);
                    j++;
                }
            }
            t->type = T_STRING;
            t->slen = b.len;
            t->str = sb_steal(&b);
            t->len = j - i;
            i = j;
        } else if (c == '`') {
            size_t j = i + 1;
            int l = line;
            while (j < n && s[j] != '`') {
                if (s[j] == '\n') {
                    l++;
                    line_start = j + 1;
                }
                j++;
            }
            if (j >= n) {
                p->ntoks++;
                return perr(p, t, "non-terminated raw string");
            }
            t->type = T_STRING;
            t->slen = j - i - 1;
            t->str = malloc(t->slen + 1);
            if (!t->str)
                REGO_OOM();
            memcpy(t->str, s + i + 1, t->slen);
            t->str[t->slen] = 0;
            t->len = j + 1 - i;
            i = j + 1;
            line = l;
        } else {
            char d = i + 1 < n ? s[i + 1] : 0;
            t->len = 1;
            switch (c) {
            case '{': t->type = T_LBRACE; break;
            case '}': t->type = T_RBRACE; break;
            case '[': t->type = T_LBRACK; break;
            case ']': t->type = T_RBRACK; break;
            case '(': t->type = T_LPAREN; break;
            case ')': t->type = T_RPAREN; break;
            case '.': t->type = T_DOT; break;
            case ',': t->type = T_COMMA; break;
            case ';': t->type = T_SEMI; break;
            case '|': t->type = T_BAR; break;
            case '&': t->type = T_AMP; break;
            case '+': t->type = T_PLUS; break;
            case '-': t->type = T_MINUS; break;
            case '*': t->type = T_STAR; break;
            case '/': t->type = T_SLASH; break;
            case '%': t->type = T_PERCENT; break;
            case ':':
                if (d == '=') { t->type = T_ASSIGN; t->len = 2; }
                else t->type = T_COLON;
                break;
            case '=':
                if (d == '=') { t->type = T_EQ; t->len = 2; }
                else t->type = T_UNIFY;
                break;
            case '!':
                if (d == '=') { t->type = T_NEQ; t->len = 2; }
                else { p->ntoks++; return perr(p, t, "unexpected '!'"); }
                break;
            case '<':
                if (d == '=') { t->type = T_LTE; t->len = 2; }
                else t->type = T_LT;
                break;
            case '>':
                if (d == '=') { t->type = T_GTE; t->len = 2; }
                else t->type = T_GT;
                break;
            default:
                p->ntoks++;
                return perr(p, t, "illegal token %s%c", (unsigned char)c >= 0x20 && c < 0x7f ? "" : "byte ",
                            (unsigned char)c >= 0x20 && c < 0x7f ? c : '?');
            }
            i += t->len;
        }
        p->ntoks++;
    }
}

/* ------------------------------------------------------------------ helpers */

static struct tok *peek(struct parser *p) { return &p->toks[p->pos]; }
static struct tok *peek_at(struct parser *p, size_t k)
{
    size_t i = p->pos + k;
    return &p->toks[i < p->ntoks ? i : p->ntoks - 1];
}
static struct tok *next(struct parser *p)
{
    struct tok *t = &p->toks[p->pos];
    if (p->pos + 1 < p->ntoks)
        p->pos++;
    return t;
}

static bool is_ident(struct parser *p, const struct tok *t, const char *kw)
{
    size_t l = strlen(kw);
    return t->type == T_IDENT && t->len == l && memcmp(p->src + t->off, kw, l) == 0;
}

static const char *keywords[] = { "package", "import", "default", "if", "else", "contains",
                                  "some", "every", "in", "not", "with", "as", "true",
                                  "false", "null", NULL };

static bool is_keyword(struct parser *p, const struct tok *t)
{
    for (int i = 0; keywords[i]; i++)
        if (is_ident(p, t, keywords[i]))
            return true;
    return false;
}

static struct loc tloc(struct parser *p, const struct tok *t)
{
    struct loc l = { p->file, t->line, t->col };
    return l;
}

static char *tok_text(struct parser *p, const struct tok *t)
{
    char *s = malloc(t->len + 1);
    if (!s)
        REGO_OOM();
    memcpy(s, p->src + t->off, t->len);
    s[t->len] = 0;
    return s;
}

static const char *tok_desc(struct parser *p, const struct tok *t, char *buf, size_t len)
{
    if (t->type == T_EOF)
        return "EOF";
    size_t l = t->len > 40 ? 40 : t->len;
    snprintf(buf, len, "%.*s", (int)l, p->src + t->off);
    return buf;
}

static int expect(struct parser *p, int type, const char *what)
{
    struct tok *t = peek(p);
    if (t->type != type) {
        char b[64];
        return perr(p, t, "unexpected %s token: expected %s", tok_desc(p, t, b, sizeof b), what);
    }
    next(p);
    return 0;
}

struct term *term_new(int kind, struct loc loc)
{
    struct term *t = calloc(1, sizeof *t);
    if (!t)
        REGO_OOM();
    t->kind = (uint8_t)kind;
    t->loc = loc;
    t->slot = -1;
    t->builtin = -1;
    t->height = 1;
    return t;
}

static int max_int(int a, int b) { return a > b ? a : b; }

static int term_height(const struct term *t) { return t ? t->height : 0; }

static void term_push(struct term *t, struct term *item)
{
    t->items = realloc(t->items, (size_t)(t->nitems + 1) * sizeof *t->items);
    if (!t->items)
        REGO_OOM();
    t->items[t->nitems++] = item;
    t->height = max_int(t->height, term_height(item) + 1);
}

void term_free(struct term *t)
{
    if (!t)
        return;
    rv_decref(t->val);
    free(t->name);
    for (int i = 0; i < t->nitems; i++)
        term_free(t->items[i]);
    free(t->items);
    term_free(t->key);
    term_free(t->value);
    body_free(t->body);
    free(t->fname);
    free(t);
}

static void expr_free(struct expr *e)
{
    if (!e)
        return;
    term_free(e->a);
    term_free(e->b);
    term_free(e->c);
    body_free(e->body);
    for (int i = 0; i < e->nwith; i++) {
        term_free(e->with[i].target);
        term_free(e->with[i].value);
        for (int j = 0; j < e->with[i].npath; j++)
            rv_decref(e->with[i].path[j]);
        free(e->with[i].path);
    }
    free(e->with);
    for (int i = 0; i < e->ndecl; i++)
        term_free(e->decl[i]);
    free(e->decl);
    free(e->hoist);
    free(e);
}

void body_free(struct body *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++)
        expr_free(b->exprs[i]);
    free(b->exprs);
    free(b->captured);
    free(b);
}

/* An expression's height, from its parts' (each already bounded). */
static int expr_height(const struct expr *e)
{
    int h = max_int(term_height(e->a), max_int(term_height(e->b), term_height(e->c)));
    if (e->body)
        h = max_int(h, e->body->height);
    for (int i = 0; i < e->nwith; i++)
        h = max_int(h, max_int(term_height(e->with[i].target), term_height(e->with[i].value)));
    for (int i = 0; i < e->ndecl; i++)
        h = max_int(h, term_height(e->decl[i]));
    return h + 1;
}

static void body_push(struct body *b, struct expr *e)
{
    b->exprs = realloc(b->exprs, (size_t)(b->n + 1) * sizeof *b->exprs);
    if (!b->exprs)
        REGO_OOM();
    b->exprs[b->n++] = e;
    b->height = max_int(b->height, expr_height(e) + 1);
}

static void rule_free(struct rule *r)
{
    while (r) {
        struct rule *els = r->els;
        term_free(r->head);
        for (int i = 0; i < r->npath; i++)
            rv_decref(r->path[i]);
        free(r->path);
        free(r->suffix);   /* borrowed from head */
        for (int i = 0; i < r->nargs; i++)
            term_free(r->args[i]);
        free(r->args);
        term_free(r->key);
        term_free(r->value);
        body_free(r->body);
        for (int i = 0; i < r->nslots; i++)
            free(r->slot_names ? r->slot_names[i] : NULL);
        free(r->slot_names);
        free(r);
        r = els;
    }
}

void module_free(struct module *m)
{
    if (!m)
        return;
    struct rule *r = m->rules;
    while (r) {
        struct rule *n = r->next_in_module;
        rule_free(r);
        r = n;
    }
    for (int i = 0; i < m->npkg; i++)
        rv_decref(m->pkg[i]);
    free(m->pkg);
    for (int i = 0; i < m->nimports; i++) {
        term_free(m->imports[i].path);
        free(m->imports[i].alias);
    }
    free(m->imports);
    free(m->file);
    free(m);
}

static struct term *mk_call(const char *name, struct loc loc, struct term *a, struct term *b)
{
    struct term *c = term_new(TK_CALL, loc);
    struct term *f = term_new(TK_VAR, loc);
    f->name = strdup(name);
    term_push(c, f);
    term_push(c, a);
    if (b)
        term_push(c, b);
    return c;
}

/* ------------------------------------------------------------------ terms */

static struct term *parse_infix(struct parser *p, bool no_bar);
static struct term *parse_infix_kv(struct parser *p, bool no_bar, bool keyval);
static struct body *parse_body_braces(struct parser *p);
static struct body *parse_query_until(struct parser *p, int end);

#define ENTER()                                                                  \
    do {                                                                         \
        if (++p->depth > REGO_MAX_PARSE_DEPTH) {                                 \
            perr(p, peek(p), "nesting too deep (more than %d levels)", REGO_MAX_PARSE_DEPTH); \
            p->depth--;                                                          \
            return NULL;                                                         \
        }                                                                        \
    } while (0)
#define LEAVE() p->depth--

/* Refuses a term whose tree is deeper than REGO_MAX_PARSE_DEPTH (freeing
 * it: term_free recurses too, so a tree never grows past the limit by
 * more than one level). Chains of operators and postfix calls build depth
 * without recursing in the parser; this is where they are counted. */
static struct term *bounded(struct parser *p, struct term *t, const struct tok *at)
{
    if (t && t->height > REGO_MAX_PARSE_DEPTH) {
        perr(p, at, "expression nested too deep (more than %d levels; long chains of operators "
             "or calls count one level each)", REGO_MAX_PARSE_DEPTH);
        term_free(t);
        return NULL;
    }
    return t;
}

static struct term *parse_number(struct parser *p, struct tok *t, bool neg)
{
    struct loc l = tloc(p, t);
    char *txt = malloc(t->len + 2);
    if (!txt)
        REGO_OOM();
    size_t n = 0;
    if (neg)
        txt[n++] = '-';
    memcpy(txt + n, p->src + t->off, t->len);
    n += t->len;
    txt[n] = 0;
    struct rv *v = rv_number_text(txt, n);
    free(txt);
    if (!v) {
        perr(p, t, "number out of range");
        return NULL;
    }
    struct term *r = term_new(TK_VALUE, l);
    r->val = v;
    return r;
}

static struct term *new_var(struct parser *p, struct tok *t)
{
    struct term *v = term_new(TK_VAR, tloc(p, t));
    if (t->len == 1 && p->src[t->off] == '_') {
        char b[32];
        snprintf(b, sizeof b, "$_%d", p->wildcards++);
        v->name = strdup(b);
        v->wildcard = true;
    } else {
        v->name = tok_text(p, t);
    }
    return v;
}

/* args of a call, after '(' */
static int parse_args(struct parser *p, struct term *call)
{
    p->nl_insensitive++;
    if (peek(p)->type == T_RPAREN) {
        next(p);
        p->nl_insensitive--;
        return 0;
    }
    for (;;) {
        struct term *a = parse_infix(p, false);
        if (!a) {
            p->nl_insensitive--;
            return -1;
        }
        term_push(call, a);
        if (peek(p)->type == T_COMMA) {
            next(p);
            continue;
        }
        break;
    }
    p->nl_insensitive--;
    return expect(p, T_RPAREN, ")");
}

/* Postfix: .name, [term], (args) applied to t. */
static struct term *parse_postfix(struct parser *p, struct term *t)
{
    for (;;) {
        struct tok *n = peek(p);
        if (!(t = bounded(p, t, n)))
            return NULL;
        if (n->ws_before)
            return t;
        if (n->type == T_DOT) {
            next(p);
            struct tok *id = peek(p);
            if (id->type != T_IDENT) {
                char b[64];
                perr(p, id, "unexpected %s token: expected name after '.'", tok_desc(p, id, b, sizeof b));
                term_free(t);
                return NULL;
            }
            next(p);
            if (t->kind != TK_REF) {
                struct term *r = term_new(TK_REF, t->loc);
                term_push(r, t);
                t = r;
            }
            struct term *k = term_new(TK_VALUE, tloc(p, id));
            k->val = rv_string(p->src + id->off, id->len);
            term_push(t, k);
        } else if (n->type == T_LBRACK) {
            next(p);
            p->nl_insensitive++;
            struct term *k = parse_infix(p, false);
            p->nl_insensitive--;
            if (!k || expect(p, T_RBRACK, "]") < 0) {
                term_free(k);
                term_free(t);
                return NULL;
            }
            if (t->kind != TK_REF) {
                struct term *r = term_new(TK_REF, t->loc);
                term_push(r, t);
                t = r;
            }
            term_push(t, k);
        } else if (n->type == T_LPAREN) {
            if (t->kind != TK_VAR && t->kind != TK_REF) {
                perr(p, n, "unexpected ( token: cannot call this term");
                term_free(t);
                return NULL;
            }
            next(p);
            struct term *c = term_new(TK_CALL, t->loc);
            term_push(c, t);
            if (parse_args(p, c) < 0) {
                term_free(c);
                return NULL;
            }
            t = c;
        } else {
            return t;
        }
    }
}

static struct term *parse_collection_rest(struct parser *p, struct term *coll, int close)
{
    /* after the first element; continue ", elem" until close */
    while (peek(p)->type == T_COMMA) {
        next(p);
        if (peek(p)->type == close)
            break;
        struct term *e = parse_infix(p, false);
        if (!e) {
            term_free(coll);
            return NULL;
        }
        term_push(coll, e);
        if (coll->kind == TK_OBJECT) {
            if (expect(p, T_COLON, ":") < 0) {
                term_free(coll);
                return NULL;
            }
            struct term *v = parse_infix(p, false);
            if (!v) {
                term_free(coll);
                return NULL;
            }
            term_push(coll, v);
        }
    }
    if (expect(p, close, close == T_RBRACK ? "]" : "}") < 0) {
        term_free(coll);
        return NULL;
    }
    return coll;
}

static struct term *parse_comprehension(struct parser *p, int kind, struct loc l, struct term *key,
                                        struct term *val, int close)
{
    struct term *c = term_new(kind, l);
    c->key = key;
    c->value = val;
    next(p); /* | */
    int saved = p->nl_insensitive;
    p->nl_insensitive = 0;
    c->body = parse_query_until(p, close);
    p->nl_insensitive = saved;
    if (!c->body || expect(p, close, close == T_RBRACK ? "]" : "}") < 0) {
        term_free(c);
        return NULL;
    }
    c->height = 1 + max_int(max_int(term_height(key), term_height(val)), c->body->height);
    return c;
}

static struct term *parse_primary_inner(struct parser *p);

static struct term *parse_primary(struct parser *p)
{
    ENTER();
    struct term *t = bounded(p, parse_primary_inner(p), peek(p));
    LEAVE();
    return t;
}

static struct term *parse_primary_inner(struct parser *p)
{
    struct tok *t = peek(p);
    struct loc l = tloc(p, t);
    struct term *r = NULL;
    char b[64];
    switch (t->type) {
    case T_NUMBER:
        next(p);
        return parse_number(p, t, false);
    case T_MINUS: {
        struct tok *n = peek_at(p, 1);
        if (n->type == T_NUMBER && !n->ws_before) {
            next(p);
            next(p);
            return parse_number(p, n, true);
        }
        next(p);
        struct term *x = parse_primary(p);
        if (!x)
            return NULL;
        struct term *zero = term_new(TK_VALUE, l);
        zero->val = rv_int(0);
        return mk_call("minus", l, zero, x);
    }
    case T_STRING:
        next(p);
        r = term_new(TK_VALUE, l);
        r->val = rv_string(t->str, t->slen);
        return parse_postfix(p, r);
    case T_IDENT:
        if (is_ident(p, t, "true") || is_ident(p, t, "false") || is_ident(p, t, "null")) {
            next(p);
            r = term_new(TK_VALUE, l);
            r->val = is_ident(p, t, "null") ? rv_null() : rv_bool(is_ident(p, t, "true"));
            return r;
        }
        if (is_ident(p, t, "set") && peek_at(p, 1)->type == T_LPAREN &&
            peek_at(p, 2)->type == T_RPAREN) {
            next(p);
            next(p);
            next(p);
            r = term_new(TK_SET, l);
            return r;
        }
        if (is_keyword(p, t) &&
            !(is_ident(p, t, "contains") && peek_at(p, 1)->type == T_LPAREN && !peek_at(p, 1)->ws_before)) {
            perr(p, t, "unexpected %s keyword", tok_desc(p, t, b, sizeof b));
            return NULL;
        }
        next(p);
        return parse_postfix(p, new_var(p, t));
    case T_LPAREN: {
        next(p);
        p->nl_insensitive++;
        struct term *x = parse_infix_kv(p, false, true);
        p->nl_insensitive--;
        if (!x || expect(p, T_RPAREN, ")") < 0) {
            term_free(x);
            return NULL;
        }
        return parse_postfix(p, x);
    }
    case T_LBRACK: {
        next(p);
        p->nl_insensitive++;
        struct term *arr = term_new(TK_ARRAY, l);
        if (peek(p)->type == T_RBRACK) {
            next(p);
            p->nl_insensitive--;
            return parse_postfix(p, arr);
        }
        struct term *first = parse_infix(p, true);
        if (!first) {
            p->nl_insensitive--;
            term_free(arr);
            return NULL;
        }
        if (peek(p)->type == T_BAR) {
            term_free(arr);
            r = parse_comprehension(p, TK_ACOMP, l, NULL, first, T_RBRACK);
            p->nl_insensitive--;
            return r ? parse_postfix(p, r) : NULL;
        }
        term_push(arr, first);
        r = parse_collection_rest(p, arr, T_RBRACK);
        p->nl_insensitive--;
        return r ? parse_postfix(p, r) : NULL;
    }
    case T_LBRACE: {
        next(p);
        p->nl_insensitive++;
        if (peek(p)->type == T_RBRACE) {
            next(p);
            p->nl_insensitive--;
            return parse_postfix(p, term_new(TK_OBJECT, l));
        }
        struct term *first = parse_infix(p, true);
        if (!first) {
            p->nl_insensitive--;
            return NULL;
        }
        if (peek(p)->type == T_COLON) {
            next(p);
            struct term *v = parse_infix(p, true);
            if (!v) {
                term_free(first);
                p->nl_insensitive--;
                return NULL;
            }
            if (peek(p)->type == T_BAR) {
                r = parse_comprehension(p, TK_OCOMP, l, first, v, T_RBRACE);
                p->nl_insensitive--;
                return r ? parse_postfix(p, r) : NULL;
            }
            struct term *obj = term_new(TK_OBJECT, l);
            term_push(obj, first);
            term_push(obj, v);
            r = parse_collection_rest(p, obj, T_RBRACE);
            p->nl_insensitive--;
            return r ? parse_postfix(p, r) : NULL;
        }
        if (peek(p)->type == T_BAR) {
            r = parse_comprehension(p, TK_SCOMP, l, NULL, first, T_RBRACE);
            p->nl_insensitive--;
            return r ? parse_postfix(p, r) : NULL;
        }
        struct term *set = term_new(TK_SET, l);
        term_push(set, first);
        r = parse_collection_rest(p, set, T_RBRACE);
        p->nl_insensitive--;
        return r ? parse_postfix(p, r) : NULL;
    }
    default:
        perr(p, t, "unexpected %s token", tok_desc(p, t, b, sizeof b));
        return NULL;
    }
}

/* A binary operator continues the expression on the next line too, as in
 * OPA's parser (`x := 1` then a line `-1 == y` is `x := 1 - 1 == y`); `=`
 * and `:=` only on the same line, unless inside brackets. */
static bool op_here(struct parser *p, int type)
{
    struct tok *t = peek(p);
    if (type == T_UNIFY || type == T_ASSIGN)
        return t->type == type && (p->nl_insensitive > 0 || !t->nl_before);
    return t->type == type;
}

static struct term *parse_factor(struct parser *p)
{
    struct term *l = parse_primary(p);
    while (l) {
        const char *fn = NULL;
        if (op_here(p, T_STAR)) fn = "mul";
        else if (op_here(p, T_SLASH)) fn = "div";
        else if (op_here(p, T_PERCENT)) fn = "rem";
        if (!fn)
            break;
        struct tok *op = next(p);
        struct term *r = parse_primary(p);
        if (!r) {
            term_free(l);
            l = NULL;
            break;
        }
        l = mk_call(fn, tloc(p, op), l, r);
        l->loc = l->items[1]->loc;
        l = bounded(p, l, op);
    }
    return l;
}

static struct term *parse_arith(struct parser *p)
{
    struct term *l = parse_factor(p);
    while (l) {
        const char *fn = NULL;
        if (op_here(p, T_PLUS)) fn = "plus";
        else if (op_here(p, T_MINUS)) fn = "minus";
        if (!fn)
            break;
        struct tok *op = next(p);
        struct term *r = parse_factor(p);
        if (!r) {
            term_free(l);
            l = NULL;
            break;
        }
        l = mk_call(fn, tloc(p, op), l, r);
        l->loc = l->items[1]->loc;
        l = bounded(p, l, op);
    }
    return l;
}

static struct term *parse_and(struct parser *p)
{
    struct term *l = parse_arith(p);
    while (l && op_here(p, T_AMP)) {
        struct tok *op = next(p);
        struct term *r = parse_arith(p);
        if (!r) {
            term_free(l);
            l = NULL;
            break;
        }
        l = bounded(p, mk_call("and", l->loc, l, r), op);
    }
    return l;
}

static struct term *parse_or(struct parser *p, bool no_bar)
{
    struct term *l = parse_and(p);
    while (l && !no_bar && op_here(p, T_BAR)) {
        struct tok *op = next(p);
        struct term *r = parse_and(p);
        if (!r) {
            term_free(l);
            l = NULL;
            break;
        }
        l = bounded(p, mk_call("or", l->loc, l, r), op);
    }
    return l;
}

static struct term *parse_rel(struct parser *p, bool no_bar)
{
    struct term *l = parse_or(p, no_bar);
    while (l) {
        const char *fn = NULL;
        if (op_here(p, T_EQ)) fn = "equal";
        else if (op_here(p, T_NEQ)) fn = "neq";
        else if (op_here(p, T_LT)) fn = "lt";
        else if (op_here(p, T_LTE)) fn = "lte";
        else if (op_here(p, T_GT)) fn = "gt";
        else if (op_here(p, T_GTE)) fn = "gte";
        if (!fn)
            break;
        struct tok *op = next(p);
        struct term *r = parse_or(p, no_bar);
        if (!r) {
            term_free(l);
            l = NULL;
            break;
        }
        l = bounded(p, mk_call(fn, l->loc, l, r), op);
    }
    return l;
}


/* `k, v in xs` where allowed (a literal, parentheses): speculative, since
 * the comma may belong to an enclosing list. */
static struct term *try_keyval(struct parser *p, struct term *l, bool no_bar)
{
    if (peek(p)->type != T_COMMA)
        return l;
    size_t saved = p->pos;
    next(p);
    struct term *v = parse_rel(p, no_bar);
    if (!v || !is_ident(p, peek(p), "in")) {
        term_free(v);
        p->pos = saved;
        p->failed = false;
        return l;
    }
    next(p);
    struct term *c = parse_rel(p, no_bar);
    if (!c) {
        term_free(v);
        term_free(l);
        return NULL;
    }
    struct term *call = mk_call("internal.member_3", l->loc, l, v);
    term_push(call, c);
    return bounded(p, call, peek(p));
}

static struct term *parse_infix_kv(struct parser *p, bool no_bar, bool keyval)
{
    ENTER();
    struct term *l = parse_rel(p, no_bar);
    if (l && keyval)
        l = try_keyval(p, l, no_bar);
    while (l && is_ident(p, peek(p), "in")) {   /* on the next line too, as OPA */
        struct tok *op = next(p);
        struct term *r = parse_rel(p, no_bar);
        if (!r) {
            term_free(l);
            l = NULL;
            break;
        }
        l = bounded(p, mk_call("internal.member_2", l->loc, l, r), op);
    }
    LEAVE();
    return l;
}

static struct term *parse_infix(struct parser *p, bool no_bar)
{
    return parse_infix_kv(p, no_bar, false);
}

/* ------------------------------------------------------------------ expressions */

static struct expr *expr_new(int kind, struct loc l)
{
    struct expr *e = calloc(1, sizeof *e);
    if (!e)
        REGO_OOM();
    e->kind = (uint8_t)kind;
    e->loc = l;
    return e;
}

static int parse_with(struct parser *p, struct expr *e)
{
    while (is_ident(p, peek(p), "with")) {
        next(p);
        struct tok *t = peek(p);
        if (t->type != T_IDENT || is_keyword(p, t)) {
            char b[64];
            return perr(p, t, "unexpected %s token: expected with target", tok_desc(p, t, b, sizeof b));
        }
        next(p);
        struct term *target = parse_postfix(p, new_var(p, t));
        if (!target)
            return -1;
        if (target->kind != TK_VAR && (target->kind != TK_REF || target->items[0]->kind != TK_VAR)) {
            term_free(target);
            return perr(p, t, "with target must be a reference");
        }
        if (!is_ident(p, peek(p), "as")) {
            term_free(target);
            char b[64];
            return perr(p, peek(p), "unexpected %s token: expected as", tok_desc(p, peek(p), b, sizeof b));
        }
        next(p);
        struct term *val = parse_infix(p, false);
        if (!val) {
            term_free(target);
            return -1;
        }
        e->with = realloc(e->with, (size_t)(e->nwith + 1) * sizeof *e->with);
        if (!e->with)
            REGO_OOM();
        memset(&e->with[e->nwith], 0, sizeof e->with[0]);
        e->with[e->nwith].target = target;
        e->with[e->nwith].value = val;
        e->with[e->nwith].builtin = -1;
        e->nwith++;
    }
    return 0;
}

static struct expr *parse_literal_inner(struct parser *p);

static struct expr *parse_literal(struct parser *p)
{
    size_t start = peek(p)->off;
    struct expr *e = parse_literal_inner(p);
    if (e) {
        e->src_start = start;
        struct tok *last = &p->toks[p->pos > 0 ? p->pos - 1 : 0];
        e->src_end = last->off + last->len;
    }
    return e;
}

static struct expr *parse_literal_inner(struct parser *p)
{
    ENTER();
    struct tok *t = peek(p);
    struct loc l = tloc(p, t);
    struct expr *e = NULL;
    if (is_ident(p, t, "not")) {
        next(p);
        if (p->v2 && peek(p)->type == T_LBRACE) {
            e = expr_new(EK_BODY, l);
            e->negated = true;
            e->not_body = true;
            e->body = parse_body_braces(p);
            if (!e->body || parse_with(p, e) < 0)
                goto fail;
            LEAVE();
            return e;
        }
        e = parse_literal(p);
        if (e) {
            if (e->negated || e->kind == EK_SOME || e->kind == EK_SOME_IN || e->kind == EK_EVERY) {
                perr(p, t, "unexpected expression after not");
                expr_free(e);
                e = NULL;
            } else {
                e->negated = true;
                e->not_body = p->v2 || p->not_bodies;
                e->loc = l;
            }
        }
        LEAVE();
        return e;
    }
    if (is_ident(p, t, "some")) {
        next(p);
        struct term *a = parse_rel(p, false), *b = NULL;
        if (!a)
            goto fail;
        bool some_in = false;
        if (peek(p)->type == T_COMMA) {
            size_t saved = p->pos;
            next(p);
            struct term *x = parse_rel(p, false);
            some_in = x && is_ident(p, peek(p), "in");
            term_free(x);
            p->pos = saved;
            p->failed = false;
        }
        if (peek(p)->type == T_COMMA && !some_in) {
            /* some x, y, z: declarations; or some k, v in xs */
            e = expr_new(EK_SOME, l);
            e->decl = malloc(sizeof *e->decl);
            if (!e->decl)
                REGO_OOM();
            e->decl[e->ndecl++] = a;
            while (peek(p)->type == T_COMMA) {
                next(p);
                struct tok *v = peek(p);
                if (v->type != T_IDENT || is_keyword(p, v)) {
                    char bb[64];
                    perr(p, v, "unexpected %s token: expected variable", tok_desc(p, v, bb, sizeof bb));
                    goto fail;
                }
                next(p);
                e->decl = realloc(e->decl, (size_t)(e->ndecl + 1) * sizeof *e->decl);
                if (!e->decl)
                    REGO_OOM();
                e->decl[e->ndecl++] = new_var(p, v);
            }
            for (int i = 0; i < e->ndecl; i++)
                if (e->decl[i]->kind != TK_VAR) {
                    struct tok *bt = t;
                    perr(p, bt, "expected variable after some");
                    goto fail;
                }
            LEAVE();
            return e;
        }
        if (peek(p)->type == T_COMMA) {
            next(p);
            b = parse_rel(p, false);
            if (!b) {
                term_free(a);
                goto fail;
            }
        }
        if (is_ident(p, peek(p), "in")) {
            next(p);
            struct term *c = parse_rel(p, false);
            if (!c) {
                term_free(a);
                term_free(b);
                goto fail;
            }
            e = expr_new(EK_SOME_IN, l);
            e->a = b ? a : NULL;
            e->b = b ? b : a;
            e->c = c;
            if (parse_with(p, e) < 0)
                goto fail;
            LEAVE();
            return e;
        }
        if (b || a->kind != TK_VAR) {
            term_free(a);
            term_free(b);
            perr(p, t, "expected variable after some");
            goto fail;
        }
        e = expr_new(EK_SOME, l);
        e->decl = malloc(sizeof *e->decl);
        if (!e->decl)
            REGO_OOM();
        e->decl[e->ndecl++] = a;
        LEAVE();
        return e;
    }
    if (is_ident(p, t, "every")) {
        next(p);
        struct term *a = parse_rel(p, false), *b = NULL;
        if (!a)
            goto fail;
        if (peek(p)->type == T_COMMA) {
            next(p);
            b = parse_rel(p, false);
            if (!b) {
                term_free(a);
                goto fail;
            }
        }
        e = expr_new(EK_EVERY, l);
        e->a = b ? a : NULL;
        e->b = b ? b : a;
        if (!is_ident(p, peek(p), "in")) {
            perr(p, peek(p), "unexpected token: expected in after every variables");
            goto fail;
        }
        next(p);
        e->c = parse_rel(p, false);
        if (!e->c)
            goto fail;
        if ((e->a && e->a->kind != TK_VAR) || e->b->kind != TK_VAR) {
            perr(p, t, "every: expected variables before in");
            goto fail;
        }
        e->body = parse_body_braces(p);
        if (!e->body)
            goto fail;
        if (parse_with(p, e) < 0)
            goto fail;
        LEAVE();
        return e;
    }
    struct term *a = parse_infix_kv(p, false, true);
    if (!a)
        goto fail;
    if (op_here(p, T_UNIFY) || op_here(p, T_ASSIGN)) {
        int kind = peek(p)->type == T_UNIFY ? EK_UNIFY : EK_ASSIGN;
        next(p);
        struct term *b = parse_infix(p, false);
        if (!b) {
            term_free(a);
            goto fail;
        }
        e = expr_new(kind, a->loc);
        e->a = a;
        e->b = b;
    } else {
        e = expr_new(EK_TERM, a->loc);
        e->a = a;
    }
    if (parse_with(p, e) < 0)
        goto fail;
    LEAVE();
    return e;
fail:
    expr_free(e);
    LEAVE();
    return NULL;
}

/* Literals separated by ';' or newlines, up to (not including) `end`. */
static struct body *parse_query_until(struct parser *p, int end)
{
    struct body *b = calloc(1, sizeof *b);
    if (!b)
        REGO_OOM();
    for (;;) {
        while (peek(p)->type == T_SEMI)
            next(p);
        if (peek(p)->type == end)
            break;
        struct expr *e = parse_literal(p);
        if (!e) {
            body_free(b);
            return NULL;
        }
        body_push(b, e);
        struct tok *n = peek(p);
        if (n->type == T_SEMI || n->type == end || n->nl_before)
            continue;
        char bb[64];
        perr(p, n, "unexpected %s token", tok_desc(p, n, bb, sizeof bb));
        body_free(b);
        return NULL;
    }
    if (b->n == 0 && end != T_EOF) {
        perr(p, peek(p), "found empty body");
        body_free(b);
        return NULL;
    }
    return b;
}

static struct body *parse_body_braces(struct parser *p)
{
    ENTER();
    if (expect(p, T_LBRACE, "{") < 0) {
        LEAVE();
        return NULL;
    }
    int saved = p->nl_insensitive;
    p->nl_insensitive = 0;
    struct body *b = parse_query_until(p, T_RBRACE);
    p->nl_insensitive = saved;
    if (b && expect(p, T_RBRACE, "}") < 0) {
        body_free(b);
        b = NULL;
    }
    LEAVE();
    return b;
}

/* ------------------------------------------------------------------ modules */

/* `if { ... }` or `if literal`; or `{ ... }` (the v0 form, refused in v1). */
static int parse_rule_body(struct parser *p, struct rule *r)
{
    if (is_ident(p, peek(p), "if")) {
        next(p);
        if (peek(p)->type == T_LBRACE) {
            /* `if {` starts a body, or else a literal that begins with an
             * object or set (`if {x: 1 | ...}`): try the body first. */
            size_t saved = p->pos;
            bool empty = peek_at(p, 1)->type == T_RBRACE;
            r->body = parse_body_braces(p);
            if (!r->body && !empty) {
                struct rego_error first = { 0 };
                if (p->err)
                    first = *p->err;
                p->pos = saved;
                p->failed = false;
                struct expr *e = parse_literal(p);
                if (!e) {
                    if (p->err)
                        *p->err = first;  /* the body's error is the useful one */
                    return -1;
                }
                r->body = calloc(1, sizeof *r->body);
                if (!r->body)
                    REGO_OOM();
                body_push(r->body, e);
            }
        } else {
            struct expr *e = parse_literal(p);
            if (!e)
                return -1;
            r->body = calloc(1, sizeof *r->body);
            if (!r->body)
                REGO_OOM();
            body_push(r->body, e);
        }
        return r->body ? 0 : -1;
    }
    if (peek(p)->type == T_LBRACE && !peek(p)->nl_before)
        return perr(p, peek(p), "`if` keyword is required before rule body");
    return 0;
}

static struct rule *rule_new(struct module *m, struct loc l)
{
    struct rule *r = calloc(1, sizeof *r);
    if (!r)
        REGO_OOM();
    r->module = m;
    r->loc = l;
    return r;
}

static int parse_rule(struct parser *p, struct module *m)
{
    struct tok *t = peek(p);
    struct loc l = tloc(p, t);
    struct rule *r = rule_new(m, l);
    bool is_default = false;
    char b[64];
    if (is_ident(p, t, "default")) {
        next(p);
        is_default = true;
        t = peek(p);
    }
    if (t->type != T_IDENT || is_keyword(p, t)) {
        perr(p, t, "unexpected %s token: expected rule", tok_desc(p, t, b, sizeof b));
        goto fail;
    }
    next(p);
    {
        struct term *head = new_var(p, t);
        /* head reference: name(.name | [term])* then optional (args) */
        for (;;) {
            struct tok *n = peek(p);
            if (n->ws_before)
                break;
            if (n->type == T_DOT) {
                next(p);
                struct tok *id = peek(p);
                if (id->type != T_IDENT) {
                    term_free(head);
                    perr(p, id, "unexpected %s token: expected name", tok_desc(p, id, b, sizeof b));
                    goto fail;
                }
                next(p);
                if (head->kind != TK_REF) {
                    struct term *rr = term_new(TK_REF, head->loc);
                    term_push(rr, head);
                    head = rr;
                }
                struct term *k = term_new(TK_VALUE, tloc(p, id));
                k->val = rv_string(p->src + id->off, id->len);
                term_push(head, k);
            } else if (n->type == T_LBRACK) {
                next(p);
                p->nl_insensitive++;
                struct term *k = parse_infix(p, false);
                p->nl_insensitive--;
                if (!k || expect(p, T_RBRACK, "]") < 0) {
                    term_free(k);
                    term_free(head);
                    goto fail;
                }
                if (head->kind != TK_REF) {
                    struct term *rr = term_new(TK_REF, head->loc);
                    term_push(rr, head);
                    head = rr;
                }
                term_push(head, k);
            } else {
                break;
            }
        }
        r->head = head;
    }
    if (peek(p)->type == T_LPAREN && !peek(p)->ws_before) {
        next(p);
        struct term *tmp = term_new(TK_CALL, l);
        if (parse_args(p, tmp) < 0) {
            term_free(tmp);
            goto fail;
        }
        r->kind = RULE_FUNC;
        r->args = tmp->items;
        r->nargs = tmp->nitems;
        tmp->items = NULL;
        tmp->nitems = 0;
        term_free(tmp);
    } else {
        r->kind = RULE_COMPLETE;   /* the compiler refines: object rules */
    }
    r->is_default = is_default;
    if (is_ident(p, peek(p), "contains")) {
        if (is_default || r->kind == RULE_FUNC) {
            perr(p, peek(p), "unexpected contains keyword");
            goto fail;
        }
        next(p);
        r->kind = RULE_SET;
        r->key = parse_infix(p, false);
        if (!r->key)
            goto fail;
    } else if (peek(p)->type == T_ASSIGN || peek(p)->type == T_UNIFY) {
        next(p);
        r->has_value = true;
        r->value = parse_infix(p, false);
        if (!r->value)
            goto fail;
    } else if (is_default) {
        perr(p, peek(p), "default rule must have a value");
        goto fail;
    }
    if (is_default) {
        if (is_ident(p, peek(p), "if")) {
            perr(p, peek(p), "default rules must not have a body");
            goto fail;
        }
    } else if (parse_rule_body(p, r) < 0) {
        goto fail;
    }
    /* else chain */
    struct rule *tail = r;
    while (is_ident(p, peek(p), "else")) {
        struct tok *et = next(p);
        if (r->kind == RULE_SET || is_default) {
            perr(p, et, "else keyword cannot be used on this rule");
            goto fail;
        }
        struct rule *e = rule_new(m, tloc(p, et));
        e->kind = r->kind;
        tail->els = e;
        tail = e;
        if (peek(p)->type == T_ASSIGN || peek(p)->type == T_UNIFY) {
            next(p);
            e->has_value = true;
            e->value = parse_infix(p, false);
            if (!e->value)
                goto fail;
        }
        if (parse_rule_body(p, e) < 0)
            goto fail;
        if (!e->value && !e->body) {
            perr(p, et, "else keyword must be followed by a value or a body");
            goto fail;
        }
    }
    if (!r->body && !r->value && r->kind != RULE_SET && !is_default && !r->els) {
        /* `p` alone, or `f(x)` alone: a rule with no value and no body */
        if (r->kind == RULE_FUNC || r->head->kind == TK_VAR) {
            perr(p, t, "rule must have a value or a body");
            goto fail;
        }
    }
    struct tok *n = peek(p);
    if (n->type != T_EOF && !n->nl_before && n->type != T_SEMI) {
        perr(p, n, "unexpected %s token", tok_desc(p, n, b, sizeof b));
        goto fail;
    }
    if (m->last_rule)
        m->last_rule->next_in_module = r;
    else
        m->rules = r;
    m->last_rule = r;
    return 0;
fail:
    rule_free(r);
    return -1;
}

static int parse_path(struct parser *p, struct term **out)
{
    struct tok *t = peek(p);
    if (t->type != T_IDENT || is_keyword(p, t)) {
        char b[64];
        return perr(p, t, "unexpected %s token: expected reference", tok_desc(p, t, b, sizeof b));
    }
    next(p);
    struct term *r = parse_postfix(p, new_var(p, t));
    if (!r)
        return -1;
    bool ok = r->kind == TK_VAR || (r->kind == TK_REF && r->items[0]->kind == TK_VAR);
    for (int i = 1; ok && r->kind == TK_REF && i < r->nitems; i++)
        ok = r->items[i]->kind == TK_VALUE;
    if (!ok) {
        term_free(r);
        return perr(p, t, "expected a reference made of names");
    }
    *out = r;
    return 0;
}

static void tokens_free(struct parser *p)
{
    for (size_t i = 0; i < p->ntoks; i++)
        free(p->toks[i].str);
    free(p->toks);
}

int rego_parse_module(const char *file, const char *text, size_t len, struct module **out,
                      struct rego_error *err)
{
    struct module *m = calloc(1, sizeof *m);
    if (!m)
        REGO_OOM();
    m->file = strdup(file ? file : "");
    struct parser p = { .file = m->file, .src = text, .srclen = len, .err = err };
    if (tokenize(&p) < 0)
        goto fail;
    if (!is_ident(&p, peek(&p), "package")) {
        perr(&p, peek(&p), "package expected");
        goto fail;
    }
    next(&p);
    struct term *pkg = NULL;
    if (parse_path(&p, &pkg) < 0)
        goto fail;
    {
        /* package a.b.c: a var head then string parts */
        struct term *head = pkg->kind == TK_REF ? pkg->items[0] : pkg;
        m->pkg = malloc(sizeof *m->pkg * (size_t)(pkg->kind == TK_REF ? pkg->nitems : 1));
        if (!m->pkg)
            REGO_OOM();
        m->pkg[m->npkg++] = rv_cstr(head->name);
        for (int i = 1; pkg->kind == TK_REF && i < pkg->nitems; i++) {
            struct term *k = pkg->items[i];
            if (k->kind != TK_VALUE || k->val->type != RV_STRING) {
                term_free(pkg);
                perr(&p, peek(&p), "package path must be made of names");
                goto fail;
            }
            m->pkg[m->npkg++] = rv_incref(k->val);
        }
        term_free(pkg);
    }
    while (is_ident(&p, peek(&p), "import")) {
        struct tok *it = next(&p);
        struct term *path = NULL;
        if (parse_path(&p, &path) < 0)
            goto fail;
        struct import im = { .path = path, .loc = tloc(&p, it) };
        if (path->kind == TK_REF && path->nitems == 2 && strcmp(path->items[0]->name, "rego") == 0 &&
            path->items[1]->kind == TK_VALUE && path->items[1]->val->type == RV_STRING &&
            strcmp(path->items[1]->val->u.str.s, "v2") == 0)
            p.v2 = true;
        if (path->kind == TK_REF && (path->nitems == 2 || path->nitems == 3) && path->items[0]->kind == TK_VAR &&
            strcmp(path->items[0]->name, "future") == 0 && path->items[1]->kind == TK_VALUE &&
            path->items[1]->val->type == RV_STRING && strcmp(path->items[1]->val->u.str.s, "keywords") == 0 &&
            (path->nitems == 2 || (path->items[2]->kind == TK_VALUE && path->items[2]->val->type == RV_STRING &&
                                   strcmp(path->items[2]->val->u.str.s, "not") == 0)))
            p.not_bodies = true;
        if (is_ident(&p, peek(&p), "as")) {
            next(&p);
            struct tok *a = peek(&p);
            if (a->type != T_IDENT || is_keyword(&p, a)) {
                term_free(path);
                perr(&p, a, "expected name after as");
                goto fail;
            }
            next(&p);
            im.alias = tok_text(&p, a);
        }
        m->imports = realloc(m->imports, (size_t)(m->nimports + 1) * sizeof *m->imports);
        if (!m->imports)
            REGO_OOM();
        m->imports[m->nimports++] = im;
    }
    while (peek(&p)->type != T_EOF) {
        while (peek(&p)->type == T_SEMI)
            next(&p);
        if (peek(&p)->type == T_EOF)
            break;
        if (is_ident(&p, peek(&p), "import")) {
            perr(&p, peek(&p), "imports must come before rules");
            goto fail;
        }
        if (is_ident(&p, peek(&p), "package")) {
            perr(&p, peek(&p), "unexpected package keyword");
            goto fail;
        }
        if (parse_rule(&p, m) < 0)
            goto fail;
    }
    tokens_free(&p);
    *out = m;
    return 0;
fail:
    if (!p.failed)
        perr(&p, NULL, "parse failed");
    tokens_free(&p);
    module_free(m);
    return -1;
}

int rego_parse_query(const char *text, size_t len, struct body **out, struct rego_error *err)
{
    struct parser p = { .file = "", .src = text, .srclen = len, .err = err };
    struct body *b = NULL;
    if (tokenize(&p) == 0)
        b = parse_query_until(&p, T_EOF);
    if (b && b->n == 0) {
        perr(&p, peek(&p), "empty query");
        body_free(b);
        b = NULL;
    }
    tokens_free(&p);
    if (!b)
        return -1;
    *out = b;
    return 0;
}

int rego_parse_term_text(const char *text, size_t len, struct term **out, struct rego_error *err)
{
    struct parser p = { .file = "", .src = text, .srclen = len, .err = err };
    struct term *t = NULL;
    if (tokenize(&p) == 0) {
        t = parse_infix(&p, false);
        if (t && peek(&p)->type != T_EOF) {
            perr(&p, peek(&p), "unexpected token after term");
            term_free(t);
            t = NULL;
        }
    }
    tokens_free(&p);
    if (!t)
        return -1;
    *out = t;
    return 0;
}

int rego_lex(const char *file, const char *text, size_t len, struct rego_lexed *out,
             struct rego_error *err)
{
    memset(out, 0, sizeof *out);
    struct parser p = { .file = file ? file : "", .src = text, .srclen = len, .err = err,
                        .comments = &out->comments, .ncomments = &out->ncomments };
    if (tokenize(&p) < 0) {
        tokens_free(&p);
        free(out->comments);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->toks = p.toks;
    out->ntoks = p.ntoks;
    return 0;
}

void rego_lexed_free(struct rego_lexed *lx)
{
    for (size_t i = 0; i < lx->ntoks; i++)
        free(lx->toks[i].str);
    free(lx->toks);
    free(lx->comments);
    memset(lx, 0, sizeof *lx);
}
