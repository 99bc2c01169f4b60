/* yaml.unmarshal, yaml.marshal and yaml.is_valid with libyaml, following
 * OPA's YAML library (go-yaml v3 since OPA v1.22): core-schema scalars
 * (yes/no/on/off are strings), the first document only, scalar keys
 * turned into strings (null, sequence and mapping keys refused), anchors and aliases shared (never copied), nesting
 * bounded; marshal emits block style with sorted keys and quotes a string
 * that would otherwise read back as another type. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "rego/bi.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

#define YAML_MAX_DEPTH 200
#define YAML_MAX_ANCHORS 10000

struct anchor {
    char *name;
    struct rv *v;
};

struct yreader {
    yaml_parser_t p;
    struct anchor *anchors;
    size_t nanchors, cap;
    char err[256];
};

static void yerr(struct yreader *r, const char *msg, size_t line)
{
    if (!r->err[0])
        snprintf(r->err, sizeof r->err, "yaml: line %zu: %s", line + 1, msg);
}

static bool next(struct yreader *r, yaml_event_t *e)
{
    if (!yaml_parser_parse(&r->p, e)) {
        yerr(r, r->p.problem ? r->p.problem : "invalid document", r->p.problem_mark.line);
        return false;
    }
    return true;
}

static bool strnieq(const char *a, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(a, *list))
            return true;
    return false;
}

/* go-yaml v3's resolve() for plain scalars (OPA reads YAML with go-yaml v3
 * since v1.22: true and false only in the core schema's three spellings;
 * yes/no/on/off/y/n are strings). */
static struct rv *resolve_plain(const char *s, size_t n)
{
    static const char *const yes[] = { "true", "True", "TRUE", NULL };
    static const char *const no[] = { "false", "False", "FALSE", NULL };
    static const char *const nul[] = { "", "~", "null", "Null", "NULL", NULL };
    if (strlen(s) == n) {
        if (strnieq(s, yes))
            return rv_bool(true);
        if (strnieq(s, no))
            return rv_bool(false);
        if (strnieq(s, nul))
            return rv_null();
    }
    /* only a scalar starting with a sign, a digit or '.' can be a number */
    if (n > 0 && n < 64 && strlen(s) == n && (strchr("+-.", s[0]) || isdigit((unsigned char)s[0]))) {
        char buf[64];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] != '_')
                buf[k++] = s[i];
        buf[k] = 0;
        char *end;
        errno = 0;
        const char *d = buf[0] == '-' || buf[0] == '+' ? buf + 1 : buf;
        if (isdigit((unsigned char)d[0])) {
            long long v;
            int base = 10;
            const char *digits = d;
            if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
                base = 16;
                digits = d + 2;
            } else if (d[0] == '0' && (d[1] == 'b' || d[1] == 'B')) {
                base = 2;
                digits = d + 2;
            } else if (d[0] == '0' && d[1] == 'o') {
                base = 8;
                digits = d + 2;
            } else if (d[0] == '0' && d[1] && isdigit((unsigned char)d[1])) {
                base = 8;
                digits = d + 1;
            }
            if (*digits) {
                v = strtoll(digits, &end, base);
                if (!*end && !errno)
                    return rv_int(buf[0] == '-' ? -v : v);
            }
        }
        if (!strcmp(d, ".inf") || !strcmp(d, ".Inf") || !strcmp(d, ".INF") || !strcmp(buf, ".nan") ||
            !strcmp(buf, ".NaN") || !strcmp(buf, ".NAN"))
            return NULL;   /* not representable in JSON: an error, as OPA's */
        if (strspn(buf, "+-0123456789.eE") == k && strpbrk(buf, "0123456789")) {
            struct rv *num = rv_number_text(buf[0] == '+' ? buf + 1 : buf, strlen(buf[0] == '+' ? buf + 1 : buf));
            if (num)
                return num;
            errno = 0;
            double f = strtod(buf, &end);
            if (!*end && !errno && isfinite(f))
                return rv_double(f);
        }
    }
    return rv_string(s, n);
}

static struct rv *read_node(struct yreader *r, yaml_event_t *e, int depth);

static void remember(struct yreader *r, const yaml_char_t *anchor, struct rv *v)
{
    if (!anchor || r->nanchors >= YAML_MAX_ANCHORS)
        return;
    if (r->nanchors == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->anchors = realloc(r->anchors, r->cap * sizeof *r->anchors);
        if (!r->anchors)
            REGO_OOM();
    }
    r->anchors[r->nanchors].name = strdup((const char *)anchor);
    r->anchors[r->nanchors++].v = rv_incref(v);
}

/* An object key: strings stay, other scalars (not null) become their JSON text. */
static struct rv *key_of(struct rv *k)
{
    if (k->type == RV_STRING)
        return k;
    struct sbuf b = { 0 };
    rv_write(&b, k, true);
    rv_decref(k);
    return bi_string_of(&b);
}

static struct rv *read_node(struct yreader *r, yaml_event_t *e, int depth)
{
    if (depth > YAML_MAX_DEPTH) {
        yerr(r, "document nested too deeply", e->start_mark.line);
        return NULL;
    }
    struct rv *v = NULL;
    switch (e->type) {
    case YAML_ALIAS_EVENT:
        for (size_t i = r->nanchors; i > 0; i--)
            if (!strcmp(r->anchors[i - 1].name, (const char *)e->data.alias.anchor))
                return rv_incref(r->anchors[i - 1].v);
        yerr(r, "unknown anchor referenced", e->start_mark.line);
        return NULL;
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)e->data.scalar.value;
        size_t n = e->data.scalar.length;
        const char *tag = (const char *)e->data.scalar.tag;
        if (tag && !strcmp(tag, YAML_STR_TAG))
            v = rv_string(s, n);
        else if (e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, "!") != 0))
            v = resolve_plain(s, n);
        else
            v = rv_string(s, n);
        if (!v)
            yerr(r, "a number that JSON cannot hold (.inf or .nan)", e->start_mark.line);
        else
            remember(r, e->data.scalar.anchor, v);
        return v;
    }
    case YAML_SEQUENCE_START_EVENT: {
        yaml_char_t *anchor = e->data.sequence_start.anchor ? (yaml_char_t *)strdup((char *)e->data.sequence_start.anchor) : NULL;
        struct rvbuf b = { 0 };
        for (;;) {
            yaml_event_t c;
            if (!next(r, &c))
                break;
            if (c.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&c);
                v = rv_array_take(&b);
                break;
            }
            struct rv *item = read_node(r, &c, depth + 1);
            yaml_event_delete(&c);
            if (!item)
                break;
            rvbuf_push(&b, item);
        }
        if (!v)
            rvbuf_clear(&b);
        else
            remember(r, anchor, v);
        free(anchor);
        return v;
    }
    case YAML_MAPPING_START_EVENT: {
        yaml_char_t *anchor = e->data.mapping_start.anchor ? (yaml_char_t *)strdup((char *)e->data.mapping_start.anchor) : NULL;
        struct rvbuf k = { 0 }, vals = { 0 };
        bool ok = false;
        for (;;) {
            yaml_event_t c;
            if (!next(r, &c))
                break;
            if (c.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&c);
                ok = true;
                break;
            }
            struct rv *key = read_node(r, &c, depth + 1);
            yaml_event_delete(&c);
            if (!key)
                break;
            if (!next(r, &c)) {
                rv_decref(key);
                break;
            }
            struct rv *val = read_node(r, &c, depth + 1);
            yaml_event_delete(&c);
            if (!val) {
                rv_decref(key);
                break;
            }
            if (key->type == RV_NULL || key->type == RV_ARRAY || key->type == RV_OBJECT ||
                key->type == RV_SET) {
                /* refused by the conversion to JSON OPA's YAML goes through */
                yerr(r, key->type == RV_NULL ? "unsupported map key: null" : "invalid map key: not a scalar",
                     e->start_mark.line);
                rv_decref(key);
                rv_decref(val);
                break;
            }
            key = key_of(key);
            /* a repeated key: the last one wins, as in go-yaml */
            size_t f;
            for (f = 0; f < k.len; f++)
                if (rv_equal(k.v[f], key))
                    break;
            if (f < k.len) {
                rv_decref(key);
                rv_decref(vals.v[f]);
                vals.v[f] = val;
            } else {
                rvbuf_push(&k, key);
                rvbuf_push(&vals, val);
            }
        }
        if (ok) {
            v = rv_object_take(&k, &vals);
            remember(r, anchor, v);
        } else {
            rvbuf_clear(&k);
            rvbuf_clear(&vals);
        }
        free(anchor);
        return v;
    }
    default:
        yerr(r, "unexpected event", e->start_mark.line);
        return NULL;
    }
}

/* The first document of text as a value; NULL with r->err set. An empty
 * stream is null. */
static struct rv *yaml_read_all(struct yreader *r, const char *text, size_t n, bool whole);

static struct rv *yaml_read(struct yreader *r, const char *text, size_t n)
{
    return yaml_read_all(r, text, n, false);
}

/* whole: the rest of the stream (later documents) must parse too. */
static struct rv *yaml_read_all(struct yreader *r, const char *text, size_t n, bool whole)
{
    memset(r, 0, sizeof *r);
    if (!yaml_parser_initialize(&r->p)) {
        snprintf(r->err, sizeof r->err, "yaml: out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&r->p, (const unsigned char *)text, n);
    struct rv *v = NULL;
    yaml_event_t e;
    bool done = false, ended = false;
    while (!done && next(r, &e)) {
        switch (e.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            v = rv_null();
            done = true;
            ended = true;
            break;
        default:
            v = read_node(r, &e, 0);
            done = true;
        }
        yaml_event_delete(&e);
    }
    if (whole && v && !ended) {
        /* yaml.is_valid: every document of the stream, as OPA's parser reads them */
        for (;;) {
            if (!yaml_parser_parse(&r->p, &e)) {
                rv_decref(v);
                v = NULL;
                snprintf(r->err, sizeof r->err, "yaml: invalid document");
                break;
            }
            bool end = e.type == YAML_STREAM_END_EVENT || e.type == YAML_NO_EVENT;
            yaml_event_delete(&e);
            if (end)
                break;
        }
    }
    for (size_t i = 0; i < r->nanchors; i++) {
        free(r->anchors[i].name);
        rv_decref(r->anchors[i].v);
    }
    free(r->anchors);
    yaml_parser_delete(&r->p);
    if (!v && !r->err[0])
        snprintf(r->err, sizeof r->err, "yaml: invalid document");
    return v;
}

BI_FN(bi_yaml_unmarshal)
{
    WANT(0, RV_STRING);
    struct yreader r;
    struct rv *v = yaml_read(&r, S(a[0]), SL(a[0]));
    if (!v)
        return bi_error(ev, "%s", r.err);
    *out = v;
    return 0;
}

BI_FN(bi_yaml_is_valid)
{
    if (a[0]->type != RV_STRING) {
        *out = rv_bool(false);
        return 0;
    }
    struct yreader r;
    struct rv *v = yaml_read_all(&r, S(a[0]), SL(a[0]), true);
    *out = rv_bool(v != NULL);
    rv_decref(v);
    return 0;
}

/* ------------------------------------------------------------------ marshal */

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    sb_add(data, (const char *)buffer, size);
    return 1;
}

/* 1 or 2 digits (Go's time.Parse for an unpadded field) in [lo, hi]. */
static bool ts_num(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)s[0]))
        return false;
    int v = s[0] - '0', k = 1;
    if (isdigit((unsigned char)s[1]))
        v = v * 10 + (s[k++] - '0');
    *p = s + k;
    *out = v;
    return v >= lo && v <= hi;
}

/* go-yaml's parseTimestamp: a string Go's time.Parse reads with one of
 * "2006-1-2T15:4:5.999999999Z07:00" (T or t), "2006-1-2 15:4:5.999999999"
 * or "2006-1-2". go-yaml quotes such a string when it marshals it. */
static bool yaml_timestamp(const char *s, size_t n)
{
    if (strlen(s) != n || n < 6)
        return false;
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    if (s[4] != '-')
        return false;
    int year = atoi(s), mon, day, h, m, sec;
    const char *p = s + 5;
    if (!ts_num(&p, 1, 12, &mon) || *p++ != '-' || !ts_num(&p, 1, 31, &day))
        return false;
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[mon - 1] + (mon == 2 && leap))
        return false;
    if (!*p)
        return true;
    char sep = *p++;
    if (sep != 'T' && sep != 't' && sep != ' ')
        return false;
    if (!ts_num(&p, 0, 23, &h) || *p++ != ':' || !ts_num(&p, 0, 59, &m) || *p++ != ':' || !ts_num(&p, 0, 59, &sec))
        return false;
    if ((*p == '.' || *p == ',') && isdigit((unsigned char)p[1]))
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (sep == ' ')
        return !*p;
    if (*p == 'Z')
        return !p[1];
    if ((*p != '+' && *p != '-') || strlen(p) != 6 || p[3] != ':')
        return false;
    for (int i = 1; i < 6; i++)
        if (i != 3 && !isdigit((unsigned char)p[i]))
            return false;
    return (p[1] - '0') * 10 + (p[2] - '0') <= 24 && (p[4] - '0') * 10 + (p[5] - '0') <= 60;
}

/* go-yaml's isBase60Float: [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)? */
static bool yaml_base60(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    for (p++; isdigit((unsigned char)*p) || *p == '_'; p++)
        ;
    int groups = 0;
    while (*p == ':') {
        p++;
        if (*p >= '0' && *p <= '5' && isdigit((unsigned char)p[1]))
            p += 2;
        else if (isdigit((unsigned char)*p))
            p++;
        else
            return false;
        groups++;
    }
    if (!groups)
        return false;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p) || *p == '_'; p++)
            ;
    return !*p;
}

static bool plain_reads_as_string(const char *s, size_t n)
{
    /* go-yaml v3 still quotes YAML 1.1's booleans (isOldBool) */
    static const char *const old_bool[] = { "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
                                            "n", "N", "no", "No", "NO", "off", "Off", "OFF", NULL };
    if (yaml_timestamp(s, n) || yaml_base60(s, n) || (strlen(s) == n && strnieq(s, old_bool)))
        return false;
    struct rv *v = resolve_plain(s, n);
    bool str = v && v->type == RV_STRING;
    rv_decref(v);
    return str;
}

static int emit(yaml_emitter_t *em, struct rv *v, int depth)
{
    yaml_event_t e;
    /* shared values (YAML aliases) can make the text exponentially larger
     * than the value: the memory budget stops it */
    if (depth > YAML_MAX_DEPTH || rv_budget_exceeded())
        return -1;
    switch (v->type) {
    case RV_NULL:
    case RV_BOOL:
    case RV_NUMBER: {
        struct sbuf b = { 0 };
        if (v->type == RV_NULL)
            sb_puts(&b, "null");
        else if (v->type == RV_BOOL)
            sb_puts(&b, v->u.b ? "true" : "false");
        else if (v->is_int || v->is_big)
            rv_write_number(&b, v);
        else
            bi_go_float(&b, v->u.d, 'g');
        int ok = yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)b.s, (int)b.len, 1, 1,
                                              YAML_PLAIN_SCALAR_STYLE) &&
                 yaml_emitter_emit(em, &e);
        free(b.s);
        return ok ? 0 : -1;
    }
    case RV_STRING: {
        yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
        if (memchr(S(v), '\n', SL(v)))
            style = YAML_LITERAL_SCALAR_STYLE;
        else if (!plain_reads_as_string(S(v), SL(v)))
            style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        return yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)S(v), (int)SL(v), 1, 1, style) &&
                       yaml_emitter_emit(em, &e)
                   ? 0
                   : -1;
    }
    case RV_ARRAY:
    case RV_SET:
        if (!yaml_sequence_start_event_initialize(&e, NULL, NULL, 1,
                                                  v->u.arr.len ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &e))
            return -1;
        for (size_t i = 0; i < v->u.arr.len; i++)
            if (emit(em, v->u.arr.v[i], depth + 1) < 0)
                return -1;
        return yaml_sequence_end_event_initialize(&e) && yaml_emitter_emit(em, &e) ? 0 : -1;
    case RV_OBJECT:
        if (!yaml_mapping_start_event_initialize(&e, NULL, NULL, 1,
                                                 v->u.obj.len ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &e))
            return -1;
        for (size_t i = 0; i < v->u.obj.len; i++) {
            struct rv *k = v->u.obj.k[i];
            if (k->type != RV_STRING) {
                struct sbuf kb = { 0 };
                rv_write(&kb, k, true);
                struct rv *ks = bi_string_of(&kb);
                int rc = emit(em, ks, depth + 1);
                rv_decref(ks);
                if (rc < 0)
                    return -1;
            } else if (emit(em, k, depth + 1) < 0) {
                return -1;
            }
            if (emit(em, v->u.obj.v[i], depth + 1) < 0)
                return -1;
        }
        return yaml_mapping_end_event_initialize(&e) && yaml_emitter_emit(em, &e) ? 0 : -1;
    }
    return -1;
}

BI_FN(bi_yaml_marshal)
{
    yaml_emitter_t em;
    struct sbuf b = { 0 };
    yaml_event_t e;
    if (!yaml_emitter_initialize(&em))
        return bi_error(ev, "yaml: out of memory");
    yaml_emitter_set_output(&em, write_handler, &b);
    yaml_emitter_set_unicode(&em, 1);
    int ok = yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &e) &&
             yaml_document_start_event_initialize(&e, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &e) &&
             emit(&em, a[0], 0) == 0 && yaml_document_end_event_initialize(&e, 1) && yaml_emitter_emit(&em, &e) &&
             yaml_stream_end_event_initialize(&e) && yaml_emitter_emit(&em, &e);
    yaml_emitter_delete(&em);
    if (!ok) {
        free(b.s);
        return bi_error(ev, "yaml: cannot marshal the value");
    }
    if (!b.s)
        sb_add(&b, "", 0);
    *out = bi_string_of(&b);
    return 0;
}
