/* strings.render_template: a subset of Go's text/template, as OPA runs it
 * (template.New("template").Parse(tmpl).Execute(vars), then every
 * "<no value>" replaced by "<undefined>"). The variables reach the template
 * as Go sees them after ast.As: objects are map[string]any, arrays and
 * sets []any, numbers float64, null nil.
 *
 * Supported: text; actions {{ pipeline }} with {{- and -}} trimming and
 * comments ({{/\* ... *\/}}); fields (.a.b, on maps; a missing key is <no value>),
 * {{.}}, variables ($, $x, $x.a, {{$x := ...}}, {{$x = ...}}); literals
 * (strings "..." and `...`, integers, floats, true, false); pipes (|);
 * parenthesised pipelines; if / else if / else / end, range (arrays, maps
 * in key order, with $v or $i, $v, else, break, continue), with / else /
 * end; the functions and, or, not, len, index, eq, ne, lt, le, gt, ge,
 * print, println, printf. Values print as Go's fmt %v prints them ([a b],
 * map[a:1 b:2], <nil>); numbers from the variables reach Go as
 * json.Number, a string type holding their JSON text, so they print as that
 * text, count their bytes with len, compare as strings with strings, and
 * comparing one with a number literal of the template is an error, as in
 * OPA. printf formats through sprintf (Go's fmt verbs; a json.Number
 * argument as a string). Not supported (an error): define, template,
 * block, html, js, urlquery, call, slice, method calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/bi.h"

#define TPL_MAX_DEPTH 100
#define TPL_MAX_OPS 10000000

/* ------------------------------------------------------------------ values */

/* A template value: a Rego value as Go sees it, or nil. Integer literals of
 * the template are Go ints (is_int); numbers from the variables float64. */
struct tval {
    struct rv *v;   /* NULL: nil */
    bool is_int;    /* an integer literal of the template: Go int */
    bool is_float;  /* a float literal: Go float64 */
};

/* A number from the variables is a json.Number (a string type holding the
 * number's JSON text) in OPA. */
static bool is_json_number(const struct tval *v)
{
    return v->v && v->v->type == RV_NUMBER && !v->is_int && !v->is_float;
}

static char *number_text(const struct rv *v)
{
    struct sbuf b = { 0 };
    rv_write_number(&b, v);
    return sb_steal(&b);
}

/* ------------------------------------------------------------------ syntax */

enum tk { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_BREAK, N_CONTINUE };
enum ok { O_FIELD, O_VAR, O_DOT, O_LIT, O_FUNC, O_PIPE, O_NIL };

struct pipe;

struct operand {
    int kind;
    char *name;          /* O_VAR: "$x"; O_FUNC: the name */
    char **chain;        /* field names after it */
    int nchain;
    struct tval lit;     /* O_LIT */
    struct pipe *pipe;   /* O_PIPE */
};

struct cmd {
    struct operand **args;
    int nargs;
};

struct pipe {
    char *decl[2];
    int ndecl;
    bool assign;         /* $x = (not :=) */
    struct cmd **cmds;
    int ncmds;
};

struct list;

struct tnode {
    int kind;
    const char *text;
    size_t len;
    struct pipe *pipe;
    struct list *body, *els;
};

struct list {
    struct tnode **n;
    int len;
};

struct tparser {
    const char *s, *end;
    const char *p;
    char err[160];
    int depth;
};

static void *tp_alloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        abort();
    return p;
}

static void push_ptr(void ***arr, int *n, void *x)
{
    *arr = realloc(*arr, sizeof **arr * (size_t)(*n + 1));
    if (!*arr)
        abort();
    (*arr)[(*n)++] = x;
}

static void pipe_free(struct pipe *p);

static void operand_free(struct operand *o)
{
    if (!o)
        return;
    free(o->name);
    for (int i = 0; i < o->nchain; i++)
        free(o->chain[i]);
    free(o->chain);
    rv_decref(o->lit.v);
    pipe_free(o->pipe);
    free(o);
}

static void pipe_free(struct pipe *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->ndecl; i++)
        free(p->decl[i]);
    for (int i = 0; i < p->ncmds; i++) {
        for (int j = 0; j < p->cmds[i]->nargs; j++)
            operand_free(p->cmds[i]->args[j]);
        free(p->cmds[i]->args);
        free(p->cmds[i]);
    }
    free(p->cmds);
    free(p);
}

static void list_free(struct list *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->len; i++) {
        pipe_free(l->n[i]->pipe);
        list_free(l->n[i]->body);
        list_free(l->n[i]->els);
        free(l->n[i]);
    }
    free(l->n);
    free(l);
}

static int terr(struct tparser *t, const char *msg)
{
    int line = 1;
    for (const char *x = t->s; x < t->p && x < t->end; x++)
        line += *x == '\n';
    if (!t->err[0])
        snprintf(t->err, sizeof t->err, "template: template:%d: %s", line, msg);
    return -1;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static bool is_alnum_(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (unsigned char)c >= 0x80;
}

static void skip_ws(struct tparser *t)
{
    while (t->p < t->end && is_space(*t->p))
        t->p++;
}

/* At the end of an action: "}}" or " -}}" (trim). */
static bool at_close(struct tparser *t, bool *trim)
{
    const char *p = t->p;
    if (p + 3 <= t->end && p[0] == '-' && p[1] == '}' && p[2] == '}' && p > t->s && is_space(p[-1])) {
        *trim = true;
        return true;
    }
    if (p + 2 <= t->end && p[0] == '}' && p[1] == '}') {
        *trim = false;
        return true;
    }
    return false;
}

static char *ident(struct tparser *t)
{
    const char *b = t->p;
    while (t->p < t->end && is_alnum_(*t->p))
        t->p++;
    return strndup(b, (size_t)(t->p - b));
}

static void read_chain(struct tparser *t, struct operand *o)
{
    while (t->p + 1 < t->end && t->p[0] == '.' && is_alnum_(t->p[1]) && !(t->p[1] >= '0' && t->p[1] <= '9')) {
        t->p++;
        push_ptr((void ***)&o->chain, &o->nchain, ident(t));
    }
}

static struct pipe *parse_pipe(struct tparser *t, bool in_parens, bool allow_decl);

static struct operand *parse_operand(struct tparser *t)
{
    skip_ws(t);
    if (t->p >= t->end)
        return NULL;
    struct operand *o = tp_alloc(sizeof *o);
    char c = *t->p;
    if (c == '.') {
        if (t->p + 1 < t->end && is_alnum_(t->p[1]) && !(t->p[1] >= '0' && t->p[1] <= '9')) {
            o->kind = O_FIELD;
            read_chain(t, o);
        } else {
            o->kind = O_DOT;
            t->p++;
        }
        return o;
    }
    if (c == '$') {
        t->p++;
        char *n = ident(t);
        o->kind = O_VAR;
        o->name = malloc(strlen(n) + 2);
        if (!o->name)
            abort();
        o->name[0] = '$';
        strcpy(o->name + 1, n);
        free(n);
        read_chain(t, o);
        return o;
    }
    if (c == '(') {
        t->p++;
        o->kind = O_PIPE;
        o->pipe = parse_pipe(t, true, false);
        if (!o->pipe) {
            free(o);
            return NULL;
        }
        read_chain(t, o);
        return o;
    }
    if (c == '"' || c == '`') {
        struct sbuf b = { 0 };
        t->p++;
        while (t->p < t->end && *t->p != c) {
            char ch = *t->p++;
            if (c == '"' && ch == '\n')
                break;
            if (c == '"' && ch == '\\' && t->p < t->end) {
                char e = *t->p++;
                switch (e) {
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                case 'r': ch = '\r'; break;
                case '\\': ch = '\\'; break;
                case '"': ch = '"'; break;
                default:
                    free(b.s);
                    free(o);
                    terr(t, "unsupported escape in string");
                    return NULL;
                }
            }
            sb_putc(&b, ch);
        }
        if (t->p >= t->end || *t->p != c) {
            free(b.s);
            free(o);
            terr(t, "unterminated quoted string");
            return NULL;
        }
        t->p++;
        size_t n = b.len;
        o->kind = O_LIT;
        o->lit.v = n ? rv_string_take(sb_steal(&b), n) : rv_string("", 0);
        return o;
    }
    if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
        const char *b = t->p;
        t->p++;
        bool is_float = false;
        while (t->p < t->end && (is_alnum_(*t->p) || *t->p == '.' ||
                                 ((*t->p == '-' || *t->p == '+') && (t->p[-1] == 'e' || t->p[-1] == 'E')))) {
            if (*t->p == '.' || *t->p == 'e' || *t->p == 'E')
                is_float = true;
            t->p++;
        }
        struct rv *v = rv_number_text(*b == '+' ? b + 1 : b, (size_t)(t->p - b - (*b == '+')));
        if (!v) {
            free(o);
            terr(t, "bad number syntax");
            return NULL;
        }
        o->kind = O_LIT;
        o->lit.v = v;
        o->lit.is_int = !is_float;
        o->lit.is_float = is_float;
        return o;
    }
    if (is_alnum_(c)) {
        char *n = ident(t);
        if (!strcmp(n, "true") || !strcmp(n, "false")) {
            o->kind = O_LIT;
            o->lit.v = rv_bool(n[0] == 't');
            free(n);
            return o;
        }
        if (!strcmp(n, "nil")) {
            o->kind = O_NIL;
            free(n);
            return o;
        }
        o->kind = O_FUNC;
        o->name = n;
        return o;
    }
    free(o);
    terr(t, "unexpected character in operand");
    return NULL;
}

static struct pipe *parse_pipe(struct tparser *t, bool in_parens, bool allow_decl)
{
    if (++t->depth > TPL_MAX_DEPTH) {
        terr(t, "template nested too deeply");
        return NULL;
    }
    struct pipe *p = tp_alloc(sizeof *p);
    skip_ws(t);
    /* $x := / $i, $v := / $x = */
    if (allow_decl && t->p < t->end && *t->p == '$') {
        const char *save = t->p;
        char *names[2] = { 0 };
        int n = 0;
        for (;;) {
            if (t->p >= t->end || *t->p != '$')
                break;
            t->p++;
            char *id = ident(t);
            names[n] = malloc(strlen(id) + 2);
            if (!names[n])
                abort();
            names[n][0] = '$';
            strcpy(names[n] + 1, id);
            free(id);
            n++;
            skip_ws(t);
            if (n < 2 && t->p < t->end && *t->p == ',') {
                t->p++;
                skip_ws(t);
                continue;
            }
            break;
        }
        if (t->p + 1 < t->end && t->p[0] == ':' && t->p[1] == '=') {
            t->p += 2;
            p->ndecl = n;
            memcpy(p->decl, names, sizeof names);
        } else if (n == 1 && t->p < t->end && t->p[0] == '=' && (t->p + 1 >= t->end || t->p[1] != '=')) {
            t->p++;
            p->ndecl = 1;
            p->assign = true;
            p->decl[0] = names[0];
        } else {
            for (int i = 0; i < n; i++)
                free(names[i]);
            t->p = save;
        }
    }
    for (;;) {
        struct cmd *c = tp_alloc(sizeof *c);
        push_ptr((void ***)&p->cmds, &p->ncmds, c);
        for (;;) {
            skip_ws(t);
            bool trim;
            if (t->p >= t->end) {
                pipe_free(p);
                t->depth--;
                terr(t, in_parens ? "unclosed left paren" : "unclosed action");
                return NULL;
            }
            if ((!in_parens && at_close(t, &trim)) || (in_parens && *t->p == ')') || *t->p == '|')
                break;
            struct operand *o = parse_operand(t);
            if (!o) {
                pipe_free(p);
                t->depth--;
                return NULL;
            }
            push_ptr((void ***)&c->args, &c->nargs, o);
        }
        if (c->nargs == 0) {
            pipe_free(p);
            t->depth--;
            terr(t, "missing value for command");
            return NULL;
        }
        if (*t->p == '|') {
            t->p++;
            continue;
        }
        if (in_parens)
            t->p++;
        break;
    }
    t->depth--;
    return p;
}

/* Parses nodes until {{end}} / {{else}} (returned in *stop: 0 end of
 * input, 1 end, 2 else, 3 else if: pipeline in *elif). */
static struct list *parse_list(struct tparser *t, int *stop, struct pipe **elif, int *elif_kind);

static void trim_left_of(struct list *l)
{
    if (l->len && l->n[l->len - 1]->kind == N_TEXT) {
        struct tnode *n = l->n[l->len - 1];
        while (n->len && is_space(n->text[n->len - 1]))
            n->len--;
    }
}

static struct list *parse_list(struct tparser *t, int *stop, struct pipe **elif, int *elif_kind)
{
    struct list *l = tp_alloc(sizeof *l);
    bool trim_next = false;
    *stop = 0;
    if (++t->depth > TPL_MAX_DEPTH) {
        terr(t, "template nested too deeply");
        return l;
    }
    while (t->p < t->end && !t->err[0]) {
        const char *open = NULL;
        for (const char *x = t->p; x + 1 < t->end; x++)
            if (x[0] == '{' && x[1] == '{') {
                open = x;
                break;
            }
        const char *text_end = open ? open : t->end;
        const char *text = t->p;
        if (trim_next)
            while (text < text_end && is_space(*text))
                text++;
        trim_next = false;
        if (text < text_end) {
            struct tnode *n = tp_alloc(sizeof *n);
            n->kind = N_TEXT;
            n->text = text;
            n->len = (size_t)(text_end - text);
            push_ptr((void ***)&l->n, &l->len, n);
        }
        if (!open) {
            t->p = t->end;
            break;
        }
        t->p = open + 2;
        if (t->p + 1 < t->end && t->p[0] == '-' && is_space(t->p[1])) {
            trim_left_of(l);
            t->p += 2;
        }
        skip_ws(t);
        bool trim = false;
        if (t->p + 1 < t->end && t->p[0] == '/' && t->p[1] == '*') {
            const char *e = NULL;
            for (const char *x = t->p + 2; x + 1 < t->end; x++)
                if (x[0] == '*' && x[1] == '/') {
                    e = x;
                    break;
                }
            if (!e) {
                terr(t, "unclosed comment");
                break;
            }
            t->p = e + 2;
            skip_ws(t);
            if (!at_close(t, &trim)) {
                terr(t, "comment ends before closing delimiter");
                break;
            }
            t->p += trim ? 3 : 2;
            trim_next = trim;
            continue;
        }
        /* keywords */
        const char *kw = t->p;
        while (t->p < t->end && is_alnum_(*t->p))
            t->p++;
        size_t kwlen = (size_t)(t->p - kw);
#define KW(s) (kwlen == strlen(s) && memcmp(kw, s, kwlen) == 0)
        if (KW("end") || KW("else") || KW("break") || KW("continue")) {
            int which = KW("end") ? 1 : KW("else") ? 2 : KW("break") ? 4 : 5;
            skip_ws(t);
            if (which == 2 && t->p < t->end && !at_close(t, &trim)) {
                const char *k2 = t->p;
                while (t->p < t->end && is_alnum_(*t->p))
                    t->p++;
                size_t k2len = (size_t)(t->p - k2);
                int kind = (k2len == 2 && !memcmp(k2, "if", 2)) ? N_IF
                           : (k2len == 4 && !memcmp(k2, "with", 4)) ? N_WITH
                                                                      : -1;
                if (kind < 0) {
                    terr(t, "unexpected token after else");
                    break;
                }
                *elif = parse_pipe(t, false, true);
                if (!*elif)
                    break;
                *elif_kind = kind;
                which = 3;
            }
            skip_ws(t);
            if (!at_close(t, &trim)) {
                terr(t, "unexpected token in action");
                break;
            }
            t->p += trim ? 3 : 2;
            if (which == 4 || which == 5) {
                struct tnode *n = tp_alloc(sizeof *n);
                n->kind = which == 4 ? N_BREAK : N_CONTINUE;
                push_ptr((void ***)&l->n, &l->len, n);
                trim_next = trim;
                continue;
            }
            /* the text after {{end -}} is trimmed by the caller's next read */
            if (trim)
                while (t->p < t->end && is_space(*t->p))
                    t->p++;
            *stop = which;
            t->depth--;
            return l;
        }
        if (KW("define") || KW("template") || KW("block")) {
            terr(t, "define, template and block are not supported");
            break;
        }
        int ctl = KW("if") ? N_IF : KW("range") ? N_RANGE : KW("with") ? N_WITH : -1;
        if (ctl < 0)
            t->p = kw;
#undef KW
        struct pipe *p = parse_pipe(t, false, true);
        if (!p)
            break;
        skip_ws(t);
        at_close(t, &trim);
        t->p += trim ? 3 : 2;
        trim_next = trim;
        struct tnode *n = tp_alloc(sizeof *n);
        n->pipe = p;
        push_ptr((void ***)&l->n, &l->len, n);
        if (ctl < 0) {
            n->kind = N_ACTION;
            continue;
        }
        n->kind = ctl;
        if (trim_next) {
            while (t->p < t->end && is_space(*t->p))
                t->p++;
            trim_next = false;
        }
        int st;
        struct pipe *ep = NULL;
        int ek = 0;
        n->body = parse_list(t, &st, &ep, &ek);
        struct tnode *cur = n;
        while (!t->err[0] && st == 3) {
            /* else if / else with: a nested node in the else list */
            if (ek != ctl) {
                pipe_free(ep);
                terr(t, "else if / else with does not match");
                break;
            }
            struct tnode *e = tp_alloc(sizeof *e);
            e->kind = ek;
            e->pipe = ep;
            cur->els = tp_alloc(sizeof *cur->els);
            push_ptr((void ***)&cur->els->n, &cur->els->len, e);
            ep = NULL;
            e->body = parse_list(t, &st, &ep, &ek);
            cur = e;
        }
        if (!t->err[0] && st == 2) {
            cur->els = parse_list(t, &st, &ep, &ek);
            if (!t->err[0] && st != 1)
                terr(t, "expected end after else");
        } else if (!t->err[0] && st != 1) {
            terr(t, "unexpected EOF");
        }
    }
    t->depth--;
    return l;
}

/* ------------------------------------------------------------------ execution */

struct var {
    char *name;
    struct tval v;
};

struct texec {
    struct ev *ev;
    struct sbuf out;
    struct var *vars;
    int nvars, capvars;
    uint64_t ops;
    char err[240];
    int loop_ctl;   /* 1 break, 2 continue */
};

static int xerr(struct texec *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xerr(struct texec *x, const char *fmt, ...)
{
    if (!x->err[0]) {
        char m[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        snprintf(x->err, sizeof x->err, "template: template: executing \"template\": %s", m);
    }
    return -1;
}

static void tv_drop(struct tval *v)
{
    rv_decref(v->v);
    v->v = NULL;
}

static struct tval tv_ref(struct tval v)
{
    rv_incref(v.v);
    return v;
}

static bool truth(const struct tval *v)
{
    if (!v->v)
        return false;
    switch (v->v->type) {
    case RV_NULL: return false;
    case RV_BOOL: return v->v->u.b;
    case RV_NUMBER: return is_json_number(v) || rv_sign(v->v) != 0;
    case RV_STRING: return SL(v->v) > 0;
    case RV_ARRAY:
    case RV_SET: return v->v->u.arr.len > 0;
    case RV_OBJECT: return v->v->u.obj.len > 0;
    default: return true;
    }
}

/* fmt's %v of the Go value; top: a nil at the top prints <no value>. */
static void print_value(struct sbuf *b, const struct tval *v, bool top)
{
    const struct rv *r = v->v;
    if (!r || r->type == RV_NULL) {
        sb_puts(b, top ? "<no value>" : "<nil>");
        return;
    }
    switch (r->type) {
    case RV_BOOL: sb_puts(b, r->u.b ? "true" : "false"); break;
    case RV_NUMBER:
        if (v->is_float)
            bi_go_float(b, rv_as_double(r), 'g');
        else
            rv_write_number(b, r);
        break;
    case RV_STRING: sb_add(b, S(r), SL(r)); break;
    case RV_ARRAY:
    case RV_SET:
        sb_putc(b, '[');
        for (size_t i = 0; i < r->u.arr.len; i++) {
            if (i)
                sb_putc(b, ' ');
            struct tval e = { r->u.arr.v[i], false, false };
            print_value(b, &e, false);
        }
        sb_putc(b, ']');
        break;
    case RV_OBJECT:
        sb_puts(b, "map[");
        for (size_t i = 0; i < r->u.obj.len; i++) {
            if (i)
                sb_putc(b, ' ');
            struct tval k = { r->u.obj.k[i], false, false }, e = { r->u.obj.v[i], false, false };
            print_value(b, &k, false);
            sb_putc(b, ':');
            print_value(b, &e, false);
        }
        sb_putc(b, ']');
        break;
    default: break;
    }
}

static int field(struct texec *x, struct tval *v, const char *name)
{
    if (!v->v || v->v->type == RV_NULL) {
        tv_drop(v);   /* a field of nil is <no value>, as Go's map lookups give */
        return 0;
    }
    if (v->v->type != RV_OBJECT)
        return xerr(x, "can't evaluate field %s in type interface {}", name);
    struct rv *f = rv_object_get_str(v->v, name);
    struct rv *nv = rv_incref(f);
    tv_drop(v);
    v->v = nv;
    v->is_int = false;
    return 0;
}

static struct tval *var_get(struct texec *x, const char *name)
{
    for (int i = x->nvars - 1; i >= 0; i--)
        if (!strcmp(x->vars[i].name, name))
            return &x->vars[i].v;
    return NULL;
}

static void var_push(struct texec *x, const char *name, struct tval v)
{
    if (x->nvars == x->capvars) {
        x->capvars = x->capvars ? x->capvars * 2 : 8;
        x->vars = realloc(x->vars, sizeof *x->vars * (size_t)x->capvars);
        if (!x->vars)
            abort();
    }
    x->vars[x->nvars].name = strdup(name);
    if (!x->vars[x->nvars].name)
        abort();
    x->vars[x->nvars].v = v;
    x->nvars++;
}

static void vars_pop(struct texec *x, int to)
{
    while (x->nvars > to) {
        x->nvars--;
        free(x->vars[x->nvars].name);
        tv_drop(&x->vars[x->nvars].v);
    }
}

static int run_pipe(struct texec *x, struct pipe *p, struct tval dot, struct tval *out);

static int eval_operand(struct texec *x, struct operand *o, struct tval dot, struct tval *out)
{
    *out = (struct tval){ 0 };
    switch (o->kind) {
    case O_DOT: *out = tv_ref(dot); return 0;
    case O_NIL: return xerr(x, "nil is not a command");
    case O_LIT: *out = tv_ref(o->lit); return 0;
    case O_FIELD: *out = tv_ref(dot); break;
    case O_VAR: {
        struct tval *v = var_get(x, o->name);
        if (!v)
            return xerr(x, "undefined variable: %s", o->name);
        *out = tv_ref(*v);
        break;
    }
    case O_PIPE:
        if (run_pipe(x, o->pipe, dot, out) < 0)
            return -1;
        break;
    default: return xerr(x, "function %s used as a value", o->name);
    }
    for (int i = 0; i < o->nchain; i++)
        if (field(x, out, o->chain[i]) < 0) {
            tv_drop(out);
            return -1;
        }
    return 0;
}

/* Go's basic kinds as text/template compares them. */
static int kind_of(const struct tval *v)
{
    if (!v->v || v->v->type == RV_NULL)
        return 0;
    switch (v->v->type) {
    case RV_BOOL: return 1;
    case RV_NUMBER: return v->is_int ? 2 : v->is_float ? 3 : 4;
    case RV_STRING: return 4;
    default: return 5;
    }
}

static const char *kind_name(int k)
{
    static const char *const n[] = { "nil", "bool", "int", "float64", "string", "composite" };
    return n[k];
}

static const char *type_name(const struct tval *v)
{
    return is_json_number(v) ? "json.Number" : kind_name(kind_of(v));
}

static int compare_vals(struct texec *x, const char *fn, struct tval *a, struct tval *b, int *cmp)
{
    int ka = kind_of(a), kb = kind_of(b);
    if (ka != kb || ka == 5 || ka == 0) {
        if (!strcmp(fn, "eq") || !strcmp(fn, "ne")) {
            if (ka == 5 || kb == 5)
                return xerr(x, "error calling %s: non-comparable types", fn);
            if (ka == 0 || kb == 0) {
                *cmp = ka == kb ? 0 : 1;
                return 0;
            }
        }
        return xerr(x, "error calling %s: incompatible types for comparison: %s and %s", fn, type_name(a),
                    type_name(b));
    }
    if (ka == 1 && strcmp(fn, "eq") && strcmp(fn, "ne"))
        return xerr(x, "error calling %s: invalid type for comparison", fn);
    if (ka == 4 && (is_json_number(a) || is_json_number(b))) {
        /* strings compared as strings, json.Number by its text */
        char *ta = is_json_number(a) ? number_text(a->v) : strndup(S(a->v), SL(a->v));
        char *tb = is_json_number(b) ? number_text(b->v) : strndup(S(b->v), SL(b->v));
        if (!ta || !tb)
            abort();
        *cmp = strcmp(ta, tb);
        free(ta);
        free(tb);
        return 0;
    }
    *cmp = rv_compare(a->v, b->v);
    return 0;
}

static int call_func(struct texec *x, const char *fn, struct tval *args, int n, struct tval *out)
{
    *out = (struct tval){ 0 };
    if (!strcmp(fn, "and") || !strcmp(fn, "or")) {
        if (n < 1)
            return xerr(x, "wrong number of args for %s: want at least 1 got 0", fn);
        bool is_and = fn[0] == 'a';
        int i;
        for (i = 0; i < n - 1; i++)
            if (truth(&args[i]) != is_and)
                break;
        *out = tv_ref(args[i]);
        return 0;
    }
    if (!strcmp(fn, "not")) {
        if (n != 1)
            return xerr(x, "wrong number of args for not: want 1 got %d", n);
        out->v = rv_bool(!truth(&args[0]));
        return 0;
    }
    if (!strcmp(fn, "len")) {
        if (n != 1)
            return xerr(x, "wrong number of args for len: want 1 got %d", n);
        const struct rv *v = args[0].v;
        int64_t l;
        if (v && v->type == RV_STRING)
            l = (int64_t)SL(v);
        else if (is_json_number(&args[0])) {
            char *t = number_text(v);
            l = (int64_t)strlen(t);
            free(t);
        }
        else if (v && (v->type == RV_ARRAY || v->type == RV_SET))
            l = (int64_t)v->u.arr.len;
        else if (v && v->type == RV_OBJECT)
            l = (int64_t)v->u.obj.len;
        else
            return xerr(x, "error calling len: len of %s", v ? "type" : "nil pointer");
        out->v = rv_int(l);
        out->is_int = true;
        return 0;
    }
    if (!strcmp(fn, "index")) {
        if (n < 1)
            return xerr(x, "wrong number of args for index: want at least 1 got 0");
        *out = tv_ref(args[0]);
        for (int i = 1; i < n; i++) {
            struct rv *c = out->v;
            struct rv *r = NULL;
            if (c && (c->type == RV_ARRAY || c->type == RV_SET)) {
                int64_t k;
                if (!args[i].is_int || !rv_as_int(args[i].v, &k)) {
                    tv_drop(out);
                    return xerr(x, "error calling index: cannot index slice/array with type %s",
                                kind_name(kind_of(&args[i])));
                }
                if (k < 0 || (uint64_t)k >= c->u.arr.len) {
                    tv_drop(out);
                    return xerr(x, "error calling index: index out of range: %lld", (long long)k);
                }
                r = c->u.arr.v[k];
            } else if (c && c->type == RV_OBJECT) {
                if (!args[i].v || args[i].v->type != RV_STRING) {
                    tv_drop(out);
                    return xerr(x, "error calling index: value has type %s; should be string",
                                kind_name(kind_of(&args[i])));
                }
                r = rv_object_get(c, args[i].v);
            } else {
                tv_drop(out);
                return xerr(x, "error calling index: can't index item of type %s", kind_name(kind_of(out)));
            }
            struct rv *nv = rv_incref(r);
            tv_drop(out);
            out->v = nv;
            out->is_int = false;
        }
        return 0;
    }
    if (!strcmp(fn, "eq") || !strcmp(fn, "ne") || !strcmp(fn, "lt") || !strcmp(fn, "le") || !strcmp(fn, "gt") ||
        !strcmp(fn, "ge")) {
        bool multi = !strcmp(fn, "eq");
        if (n < 2 || (!multi && n != 2))
            return xerr(x, "wrong number of args for %s: want 2 got %d", fn, n);
        bool res = false;
        for (int i = 1; i < n; i++) {
            int c = 0;
            if (compare_vals(x, fn, &args[0], &args[i], &c) < 0)
                return -1;
            switch (fn[0] == 'e' ? 0 : fn[0] == 'n' ? 1 : fn[1] == 't' ? (fn[0] == 'l' ? 2 : 4) : (fn[0] == 'l' ? 3 : 5)) {
            case 0: res = c == 0; break;
            case 1: res = c != 0; break;
            case 2: res = c < 0; break;
            case 3: res = c <= 0; break;
            case 4: res = c > 0; break;
            default: res = c >= 0; break;
            }
            if (multi && res)
                break;
        }
        out->v = rv_bool(res);
        return 0;
    }
    if (!strcmp(fn, "printf")) {
        if (n < 1 || !args[0].v || args[0].v->type != RV_STRING)
            return xerr(x, "error calling printf: the format must be a string");
        /* Go's fmt through sprintf: json.Number is passed as its text (a string) */
        struct rvbuf list = { 0 };
        for (int i = 1; i < n; i++) {
            const struct tval *v = &args[i];
            if (!v->v)
                rvbuf_push(&list, rv_cstr("<nil>"));
            else if (is_json_number(v)) {
                char *t = number_text(v->v);
                rvbuf_push(&list, rv_string_take(t, strlen(t)));
            } else
                rvbuf_push(&list, rv_incref(v->v));
        }
        struct rv *sargs[2] = { args[0].v, rv_array_take(&list) };
        int rc = bi_sprintf(x->ev, sargs, &out->v);
        rv_decref(sargs[1]);
        if (rc != 0) {
            out->v = NULL;
            return xerr(x, "error calling printf");
        }
        return 0;
    }
    if (!strcmp(fn, "print") || !strcmp(fn, "println")) {
        bool ln = fn[5] == 'l';
        struct sbuf b = { 0 };
        for (int i = 0; i < n; i++) {
            /* Sprint: a space between operands when neither is a string */
            bool space = ln ? i > 0
                            : i > 0 && kind_of(&args[i]) != 4 && kind_of(&args[i - 1]) != 4;
            if (space)
                sb_putc(&b, ' ');
            print_value(&b, &args[i], false);
        }
        if (ln)
            sb_putc(&b, '\n');
        size_t len = b.len;
        if (len) {
            out->v = rv_string_take(sb_steal(&b), len);
        } else {
            free(b.s); /* an empty operand made the buffer and wrote nothing */
            out->v = rv_string("", 0);
        }
        return 0;
    }
    return xerr(x, "function \"%s\" not defined or not supported", fn);
}

static int run_cmd(struct texec *x, struct cmd *c, struct tval dot, struct tval *piped, struct tval *out)
{
    struct operand *first = c->args[0];
    if (first->kind == O_FUNC) {
        int n = c->nargs - 1 + (piped ? 1 : 0);
        struct tval *args = calloc((size_t)n + 1, sizeof *args);
        if (!args)
            abort();
        int rc = 0, i;
        for (i = 1; i < c->nargs && rc == 0; i++)
            rc = eval_operand(x, c->args[i], dot, &args[i - 1]);
        if (rc == 0 && piped)
            args[n - 1] = tv_ref(*piped);
        if (rc == 0)
            rc = call_func(x, first->name, args, n, out);
        for (int j = 0; j < n; j++)
            tv_drop(&args[j]);
        free(args);
        return rc;
    }
    if (c->nargs > 1 || piped)
        return xerr(x, "can't give argument to non-function");
    return eval_operand(x, first, dot, out);
}

static int run_pipe(struct texec *x, struct pipe *p, struct tval dot, struct tval *out)
{
    struct tval cur = { 0 };
    bool have = false;
    for (int i = 0; i < p->ncmds; i++) {
        struct tval next;
        if (run_cmd(x, p->cmds[i], dot, have ? &cur : NULL, &next) < 0) {
            tv_drop(&cur);
            return -1;
        }
        tv_drop(&cur);
        cur = next;
        have = true;
    }
    if (p->ndecl == 1 && p->assign) {
        struct tval *v = var_get(x, p->decl[0]);
        if (!v) {
            tv_drop(&cur);
            return xerr(x, "undefined variable: %s", p->decl[0]);
        }
        tv_drop(v);
        *v = tv_ref(cur);
    } else if (p->ndecl == 1) {
        var_push(x, p->decl[0], tv_ref(cur));
    }
    *out = cur;
    return 0;
}

static int run_list(struct texec *x, struct list *l, struct tval dot);

static int out_add(struct texec *x, const char *s, size_t n)
{
    if (!rv_budget_room(x->out.len + n))
        return xerr(x, "output exceeds the memory budget");
    sb_add(&x->out, s, n);
    return 0;
}

static int tick(struct texec *x)
{
    if (++x->ops > TPL_MAX_OPS)
        return xerr(x, "template runs more than %d steps", TPL_MAX_OPS);
    if (rv_budget_exceeded())
        return xerr(x, "memory budget exceeded");
    return 0;
}

static int run_range(struct texec *x, struct tnode *n, struct tval dot)
{
    int mark = x->nvars;
    struct tval coll;
    struct pipe *p = n->pipe;
    /* the declared variables are set per element, not to the collection */
    int ndecl = p->ndecl;
    p->ndecl = 0;
    int rc = run_pipe(x, p, dot, &coll);
    p->ndecl = ndecl;
    if (rc < 0)
        return -1;
    const struct rv *c = coll.v;
    size_t len;
    if (c && (c->type == RV_ARRAY || c->type == RV_SET))
        len = c->u.arr.len;
    else if (c && c->type == RV_OBJECT)
        len = c->u.obj.len;
    else if (!c || c->type == RV_NULL)
        len = 0;
    else {
        struct sbuf b = { 0 };
        print_value(&b, &coll, false);
        char *s = sb_steal(&b);
        xerr(x, "range can't iterate over %.80s", s ? s : "");
        free(s);
        tv_drop(&coll);
        return -1;
    }
    for (size_t i = 0; i < len && rc == 0; i++) {
        struct tval key = { 0 }, elem = { 0 };
        if (c->type == RV_OBJECT) {
            key.v = rv_incref(c->u.obj.k[i]);
            elem.v = rv_incref(c->u.obj.v[i]);
        } else {
            key.v = rv_int((int64_t)i);
            key.is_int = true;
            elem.v = rv_incref(c->u.arr.v[i]);
        }
        if (ndecl == 2) {
            var_push(x, p->decl[0], key);
            var_push(x, p->decl[1], tv_ref(elem));
        } else {
            tv_drop(&key);
            if (ndecl == 1)
                var_push(x, p->decl[0], tv_ref(elem));
        }
        rc = tick(x);
        if (rc == 0)
            rc = run_list(x, n->body, elem);
        tv_drop(&elem);
        vars_pop(x, mark);
        if (x->loop_ctl == 1) {
            x->loop_ctl = 0;
            break;
        }
        x->loop_ctl = 0;
    }
    if (rc == 0 && len == 0 && n->els)
        rc = run_list(x, n->els, dot);
    tv_drop(&coll);
    return rc;
}

static int run_list(struct texec *x, struct list *l, struct tval dot)
{
    for (int i = 0; l && i < l->len && !x->loop_ctl; i++) {
        struct tnode *n = l->n[i];
        if (tick(x) < 0)
            return -1;
        switch (n->kind) {
        case N_TEXT:
            if (out_add(x, n->text, n->len) < 0)
                return -1;
            break;
        case N_ACTION: {
            struct tval v;
            if (run_pipe(x, n->pipe, dot, &v) < 0)
                return -1;
            if (n->pipe->ndecl == 0) {
                struct sbuf b = { 0 };
                print_value(&b, &v, true);
                int rc = out_add(x, b.s ? b.s : "", b.len);
                free(b.s);
                if (rc < 0) {
                    tv_drop(&v);
                    return -1;
                }
            }
            tv_drop(&v);
            break;
        }
        case N_IF:
        case N_WITH: {
            int mark = x->nvars;
            struct tval v;
            if (run_pipe(x, n->pipe, dot, &v) < 0)
                return -1;
            int rc;
            if (truth(&v))
                rc = run_list(x, n->body, n->kind == N_WITH ? v : dot);
            else
                rc = run_list(x, n->els, dot);
            tv_drop(&v);
            vars_pop(x, mark);
            if (rc < 0)
                return -1;
            break;
        }
        case N_RANGE:
            if (run_range(x, n, dot) < 0)
                return -1;
            break;
        case N_BREAK: x->loop_ctl = 1; break;
        case N_CONTINUE: x->loop_ctl = 2; break;
        }
    }
    return 0;
}

BI_FN(bi_strings_render_template)
{
    WANT(0, RV_STRING);
    WANT(1, RV_OBJECT);
    struct tparser t = { .s = S(a[0]), .end = S(a[0]) + SL(a[0]), .p = S(a[0]) };
    int st = 0, ek = 0;
    struct pipe *ep = NULL;
    struct list *l = parse_list(&t, &st, &ep, &ek);
    pipe_free(ep);
    if (!t.err[0] && st == 1)
        terr(&t, "unexpected {{end}}");
    else if (!t.err[0] && (st == 2 || st == 3))
        terr(&t, "unexpected {{else}}");
    if (t.err[0]) {
        list_free(l);
        return bi_error(ev, "%s", t.err);
    }
    struct texec x = { .ev = ev };
    struct tval dot = { a[1], false, false };
    var_push(&x, "$", tv_ref(dot));
    int rc = run_list(&x, l, dot);
    vars_pop(&x, 0);
    free(x.vars);
    list_free(l);
    if (rc < 0) {
        free(x.out.s);
        return bi_error(ev, "%s", x.err);
    }
    /* OPA: every "<no value>" becomes "<undefined>" */
    struct sbuf b = { 0 };
    const char *p = x.out.s ? x.out.s : "", *end = p + x.out.len;
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), "<no value>", 10);
        if (!q) {
            sb_add(&b, p, (size_t)(end - p));
            break;
        }
        sb_add(&b, p, (size_t)(q - p));
        sb_puts(&b, "<undefined>");
        p = q + 10;
    }
    free(x.out.s);
    size_t len = b.len;
    *out = len ? rv_string_take(sb_steal(&b), len) : rv_string("", 0);
    return 0;
}
