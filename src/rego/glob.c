/* Glob matching by automaton simulation (see glob.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rego/glob.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

#define GLOB_MAX_PATTERN 4096
#define GLOB_MAX_DEPTH 32

enum { G_CHAR, G_ANY, G_CLASS, G_STAR, G_SSTAR, G_SPLIT, G_JMP, G_MATCH };

struct gstate {
    uint8_t op;
    bool negate;
    uint32_t c;
    int out, out2;
    int nranges;
    uint32_t *ranges;   /* pairs lo, hi */
};

struct gprog {
    struct gstate *st;
    int n, cap;
    const char *p;
    size_t len, pos;
    int depth;
    bool bad;
};

static int gnew(struct gprog *g, int op)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 32;
        g->st = realloc(g->st, sizeof *g->st * (size_t)g->cap);
        if (!g->st)
            REGO_OOM();
    }
    memset(&g->st[g->n], 0, sizeof g->st[0]);
    g->st[g->n].op = (uint8_t)op;
    g->st[g->n].out = g->st[g->n].out2 = -1;
    return g->n++;
}

/* Decode one UTF-8 code point (invalid bytes read as themselves). */
static uint32_t utf8_next(const char *s, size_t n, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    int len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (*i + (size_t)len > n)
        len = 1;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1fu) : len == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (int k = 1; k < len; k++) {
        unsigned char d = (unsigned char)s[*i + (size_t)k];
        if ((d & 0xc0) != 0x80) {
            len = 1;
            cp = c;
            break;
        }
        cp = (cp << 6) | (d & 0x3fu);
    }
    *i += (size_t)len;
    return cp;
}

/* A fragment: start state and the last state whose `out` is still open. Every
 * fragment here is built to end in a single JMP state, which keeps patching
 * simple. */
struct frag {
    int start, end;
};

static struct frag parse_seq(struct gprog *g, bool in_alt);

static void patch(struct gprog *g, int from, int to)
{
    g->st[from].out = to;
}

static struct frag parse_alt(struct gprog *g)
{
    /* after '{': seq (',' seq)* '}' */
    struct frag f = { -1, -1 };
    if (++g->depth > GLOB_MAX_DEPTH) {
        g->bad = true;
        return f;
    }
    int end = gnew(g, G_JMP);
    int prev_split = -1, first = -1;
    for (;;) {
        struct frag alt = parse_seq(g, true);
        if (g->bad)
            return f;
        patch(g, alt.end, end);
        int split = gnew(g, G_SPLIT);
        g->st[split].out = alt.start;
        if (prev_split >= 0)
            g->st[prev_split].out2 = split;
        else
            first = split;
        prev_split = split;
        if (g->pos >= g->len) {
            g->bad = true;
            return f;
        }
        char c = g->p[g->pos++];
        if (c == '}')
            break;
        /* ',' */
    }
    g->st[prev_split].out2 = -1;
    g->depth--;
    f.start = first;
    f.end = end;
    return f;
}

static struct frag parse_seq(struct gprog *g, bool in_alt)
{
    int start = gnew(g, G_JMP);
    int cur = start;
    while (g->pos < g->len && !g->bad) {
        char c = g->p[g->pos];
        if (in_alt && (c == ',' || c == '}'))
            break;
        int s;
        if (c == '*') {
            g->pos++;
            if (g->pos < g->len && g->p[g->pos] == '*') {
                g->pos++;
                s = gnew(g, G_SSTAR);
            } else {
                s = gnew(g, G_STAR);
            }
            patch(g, cur, s);
            cur = s;
            continue;
        }
        if (c == '?') {
            g->pos++;
            s = gnew(g, G_ANY);
        } else if (c == '[') {
            g->pos++;
            s = gnew(g, G_CLASS);
            if (g->pos < g->len && g->p[g->pos] == '!') {
                g->st[s].negate = true;
                g->pos++;
            }
            bool closed = false;
            while (g->pos < g->len) {
                if (g->p[g->pos] == ']') {
                    g->pos++;
                    closed = true;
                    break;
                }
                uint32_t lo = utf8_next(g->p, g->len, &g->pos), hi = lo;
                if (g->pos + 1 < g->len && g->p[g->pos] == '-' && g->p[g->pos + 1] != ']') {
                    g->pos++;
                    hi = utf8_next(g->p, g->len, &g->pos);
                    if (hi < lo) {
                        g->bad = true;
                        break;
                    }
                }
                struct gstate *st = &g->st[s];
                st->ranges = realloc(st->ranges, sizeof(uint32_t) * 2 * (size_t)(st->nranges + 1));
                if (!st->ranges)
                    REGO_OOM();
                st->ranges[2 * st->nranges] = lo;
                st->ranges[2 * st->nranges + 1] = hi;
                st->nranges++;
            }
            if (!closed || g->st[s].nranges == 0)
                g->bad = true;
        } else if (c == '{') {
            g->pos++;
            struct frag f = parse_alt(g);
            if (g->bad)
                break;
            patch(g, cur, f.start);
            cur = f.end;
            continue;
        } else {
            if (c == '\\') {
                g->pos++;
                if (g->pos >= g->len) {
                    g->bad = true;
                    break;
                }
            }
            s = gnew(g, G_CHAR);
            g->st[s].c = utf8_next(g->p, g->len, &g->pos);
        }
        patch(g, cur, s);
        cur = s;
    }
    /* end in a JMP so callers can patch one `out` */
    int end = gnew(g, G_JMP);
    patch(g, cur, end);
    struct frag f = { start, end };
    return f;
}

struct gset {
    int *list;
    int n;
    unsigned *mark;
    unsigned gen;
};

static void add_state(struct gprog *g, struct gset *set, int s, int *stack)
{
    int sp = 0;
    stack[sp++] = s;
    while (sp > 0) {
        int x = stack[--sp];
        if (x < 0 || set->mark[x] == set->gen)
            continue;
        set->mark[x] = set->gen;
        struct gstate *st = &g->st[x];
        if (st->op == G_JMP) {
            stack[sp++] = st->out;
        } else if (st->op == G_SPLIT) {
            stack[sp++] = st->out2;
            stack[sp++] = st->out;
        } else {
            set->list[set->n++] = x;
            if (st->op == G_STAR || st->op == G_SSTAR)
                stack[sp++] = st->out;   /* a star may match nothing */
        }
    }
}

static bool is_delim(uint32_t c, const char *delims, size_t nd)
{
    for (size_t i = 0; i < nd; i++)
        if ((unsigned char)delims[i] == c)
            return true;
    return false;
}

static bool class_has(struct gstate *st, uint32_t c)
{
    bool in = false;
    for (int i = 0; i < st->nranges && !in; i++)
        in = c >= st->ranges[2 * i] && c <= st->ranges[2 * i + 1];
    return in != st->negate;
}

struct rego_glob {
    struct gprog g;
    int start;
    char delims[64];
    size_t nd;
};

int rego_glob_compile(const char *pattern, size_t plen, const char *delims, size_t nd, struct rego_glob **out)
{
    if (plen > GLOB_MAX_PATTERN || nd > 64)
        return -1;
    struct rego_glob *rg = calloc(1, sizeof *rg);
    if (!rg)
        return -1;
    rg->g.p = pattern;
    rg->g.len = plen;
    struct frag f = parse_seq(&rg->g, false);
    if (rg->g.bad) {
        rego_glob_free(rg);
        return -1;
    }
    int match = gnew(&rg->g, G_MATCH);
    patch(&rg->g, f.end, match);
    rg->start = f.start;
    rg->g.p = NULL;   /* the pattern is not kept */
    if (nd)
        memcpy(rg->delims, delims, nd);
    rg->nd = nd;
    *out = rg;
    return 0;
}

void rego_glob_free(struct rego_glob *rg)
{
    if (!rg)
        return;
    for (int k = 0; k < rg->g.n; k++)
        free(rg->g.st[k].ranges);
    free(rg->g.st);
    free(rg);
}

#define GLOB_STACK_STATES 128

int rego_glob_exec(const struct rego_glob *rg, const char *s, size_t slen)
{
    struct gprog *g = (struct gprog *)&rg->g;
    int n = g->n;
    int lists[2][GLOB_STACK_STATES];
    unsigned marks[2][GLOB_STACK_STATES];
    int stack_small[2 * GLOB_STACK_STATES + 2];
    bool heap = n > GLOB_STACK_STATES;
    struct gset a = { 0 }, b = { 0 };
    int *stack;
    if (heap) {
        a.list = malloc(sizeof(int) * (size_t)n);
        b.list = malloc(sizeof(int) * (size_t)n);
        a.mark = calloc((size_t)n, sizeof(unsigned));
        b.mark = calloc((size_t)n, sizeof(unsigned));
        stack = malloc(sizeof(int) * (size_t)(2 * n + 2));
        if (!a.list || !b.list || !a.mark || !b.mark || !stack) {
            free(a.list);
            free(b.list);
            free(a.mark);
            free(b.mark);
            free(stack);
            return -1;
        }
    } else {
        a.list = lists[0];
        b.list = lists[1];
        a.mark = marks[0];
        b.mark = marks[1];
        memset(marks, 0, sizeof marks);
        stack = stack_small;
    }
    unsigned gen = 1;
    a.gen = gen;
    add_state(g, &a, rg->start, stack);
    struct gset *cur = &a, *nxt = &b;
    size_t i = 0;
    while (i < slen && cur->n > 0) {
        uint32_t c = utf8_next(s, slen, &i);
        bool d = is_delim(c, rg->delims, rg->nd);
        nxt->n = 0;
        nxt->gen = ++gen;
        for (int k = 0; k < cur->n; k++) {
            int x = cur->list[k];
            struct gstate *st = &g->st[x];
            switch (st->op) {
            case G_CHAR:
                if (st->c == c)
                    add_state(g, nxt, st->out, stack);
                break;
            case G_ANY:
                if (!d)
                    add_state(g, nxt, st->out, stack);
                break;
            case G_CLASS:
                if (!d && class_has(st, c))
                    add_state(g, nxt, st->out, stack);
                break;
            case G_STAR:
                if (!d)
                    add_state(g, nxt, x, stack);
                break;
            case G_SSTAR:
                add_state(g, nxt, x, stack);
                break;
            default:
                break;
            }
        }
        struct gset *t = cur;
        cur = nxt;
        nxt = t;
    }
    int rc = 0;
    if (i >= slen)
        for (int k = 0; k < cur->n; k++)
            if (g->st[cur->list[k]].op == G_MATCH)
                rc = 1;
    if (heap) {
        free(a.list);
        free(b.list);
        free(a.mark);
        free(b.mark);
        free(stack);
    }
    return rc;
}

int rego_glob_match(const char *pattern, size_t plen, const char *delims, size_t nd, const char *s,
                    size_t slen)
{
    struct rego_glob *g;
    if (rego_glob_compile(pattern, plen, delims, nd, &g) < 0)
        return -1;
    int rc = rego_glob_exec(g, s, slen);
    rego_glob_free(g);
    return rc;
}
