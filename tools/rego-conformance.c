/* rego-conformance: runs OPA's YAML test cases against src/rego and scores
 * them the way OPA's own driver does.
 *
 *   rego-conformance [--skip FILE] [--verbose] [--fmt] DIR...
 *
 * With --fmt every module that parses is first put through rego_format
 * and the formatted text is loaded instead: formatting must succeed, be
 * idempotent (formatting the result changes nothing), give the same text
 * for the module written with other spacing within its lines (indented with
 * spaces, no space after commas or around :=) and keep every case passing, so the formatter cannot have changed what a module means. An
 * expected error message is then matched without its line (formatting
 * moves lines); its code must still match.
 *
 * A case passes when it has want_result, want_error, want_error_code or
 * want_defined and every one it has is met: results compare as an unordered
 * set of binding objects (sets as sorted arrays; with sort_bindings, array
 * values of each binding are sorted first); want_error_code must equal the
 * error's code; want_error must be a substring of "file:line: code: message".
 * strict_error makes builtin errors errors (otherwise they are undefined).
 *
 * The skip file lists notes, one per line, as `NOTE | reason`; '#' starts a
 * comment line. Output: one line per failure, a table per folder, and
 * `N passed, N failed` (skipped cases are counted apart). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "rego/ast.h"
#include "rego/eval.h"
#include "rego/fmt.h"
#include "rego/rego.h"

struct folder_stat {
    char *name;
    int passed, failed, skipped;
};

static struct folder_stat *folders;
static int nfolders;
static char **skip_notes;
static int nskip;
static int verbose;

static struct folder_stat *folder(const char *name)
{
    for (int i = 0; i < nfolders; i++)
        if (strcmp(folders[i].name, name) == 0)
            return &folders[i];
    folders = realloc(folders, sizeof *folders * (size_t)(nfolders + 1));
    if (!folders)
        abort();
    memset(&folders[nfolders], 0, sizeof folders[0]);
    folders[nfolders].name = strdup(name);
    return &folders[nfolders++];
}

/* ------------------------------------------------------------------ YAML to values */

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool yaml_bool(yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0);
}

/* YAML 1.1 core schema resolution for plain scalars. */
static struct rv *scalar_value(yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (!plain)
        return rv_string(s, len);
    if (len == 0 || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0)
        return rv_null();
    if (strcasecmp(s, "true") == 0)
        return rv_bool(true);
    if (strcasecmp(s, "false") == 0)
        return rv_bool(false);
    struct rv *num = rv_number_text(s, len);
    if (num)
        return num;
    if (len > 1 && s[0] == '+' && (num = rv_number_text(s + 1, len - 1)))
        return num;
    return rv_string(s, len);
}

static struct rv *yaml_value(yaml_document_t *d, yaml_node_t *n, int depth)
{
    if (!n || depth > 500)
        return rv_null();
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar_value(n);
    case YAML_SEQUENCE_NODE: {
        struct rvbuf b = { 0 };
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
            rvbuf_push(&b, yaml_value(d, yaml_document_get_node(d, *i), depth + 1));
        return rv_array_take(&b);
    }
    case YAML_MAPPING_NODE: {
        struct rvbuf k = { 0 }, v = { 0 };
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = yaml_document_get_node(d, p->key);
            const char *ks = scalar(kn);
            rvbuf_push(&k, rv_cstr(ks ? ks : ""));
            rvbuf_push(&v, yaml_value(d, yaml_document_get_node(d, p->value), depth + 1));
        }
        struct rv *o = rv_object_take(&k, &v);
        return o ? o : rv_empty_object();
    }
    default:
        return rv_null();
    }
}

/* Sets become sorted arrays, as results do after the JSON round trip. */
static struct rv *normalize(struct rv *v)
{
    struct rvbuf a = { 0 }, b = { 0 };
    switch (v->type) {
    case RV_ARRAY:
    case RV_SET:
        for (size_t i = 0; i < v->u.arr.len; i++)
            rvbuf_push(&a, normalize(v->u.arr.v[i]));
        return rv_array_take(&a);
    case RV_OBJECT:
        for (size_t i = 0; i < v->u.obj.len; i++) {
            struct rv *key = v->u.obj.k[i];
            if (key->type == RV_STRING) {
                rvbuf_push(&a, rv_incref(key));
            } else {
                struct sbuf s = { 0 };
                rv_write(&s, key, true);
                size_t l = s.len;
                rvbuf_push(&a, rv_string_take(sb_steal(&s), l));
            }
            rvbuf_push(&b, normalize(v->u.obj.v[i]));
        }
        {
            struct rv *o = rv_object_take(&a, &b);
            return o ? o : rv_empty_object();
        }
    default:
        return rv_incref(v);
    }
}

static struct rv *sort_binding_arrays(struct rv *obj)
{
    struct rvbuf k = { 0 }, v = { 0 };
    for (size_t i = 0; i < obj->u.obj.len; i++) {
        struct rv *x = obj->u.obj.v[i];
        rvbuf_push(&k, rv_incref(obj->u.obj.k[i]));
        if (x->type == RV_ARRAY) {
            struct rvbuf e = { 0 };
            for (size_t j = 0; j < x->u.arr.len; j++)
                rvbuf_push(&e, rv_incref(x->u.arr.v[j]));
            if (e.len > 1)
                qsort(e.v, e.len, sizeof *e.v, rv_qsort_cmp);
            rvbuf_push(&v, rv_array_take(&e));
        } else {
            rvbuf_push(&v, rv_incref(x));
        }
    }
    return rv_object_take(&k, &v);
}

/* ------------------------------------------------------------------ one case */

static bool skipped(const char *note, const char **reason)
{
    for (int i = 0; i < nskip; i++) {
        const char *s = skip_notes[i];
        const char *bar = strstr(s, " | ");
        size_t l = bar ? (size_t)(bar - s) : strlen(s);
        while (l > 0 && s[l - 1] == ' ')
            l--;
        if (strlen(note) == l && strncmp(note, s, l) == 0) {
            *reason = bar ? bar + 3 : "";
            return true;
        }
    }
    return false;
}

static void error_text(const struct rego_error *e, char *buf, size_t len)
{
    if (e->line > 0)
        snprintf(buf, len, "%s:%d: %s: %s", e->file[0] ? e->file : "query", e->line, e->code, e->message);
    else
        snprintf(buf, len, "%s: %s", e->code, e->message);
}

static int fmt_mode;

/* want_error without a leading "file:line: code: " (for --fmt). */
static const char *want_error_message(const char *w)
{
    const char *p = strstr(w, ": ");
    while (p && strncmp(p + 2, "rego_", 5) != 0 && strncmp(p + 2, "eval_", 5) != 0)
        p = strstr(p + 2, ": ");
    if (!p)
        return w;
    const char *m = strstr(p + 2, ": ");
    return m ? m + 2 : w;
}

/* Leading tabs as two spaces each, ", " as ",", " := " as ":=" outside
 * comments and strings: the caller keeps the result only when it parses to
 * the same tree. */
static char *perturb(const char *text)
{
    size_t n = strlen(text);
    char *o = malloc(2 * n + 1), *w = o;
    if (!o)
        abort();
    bool bol = true;
    for (size_t i = 0; i < n; i++) {
        if (bol && text[i] == '\t') {
            *w++ = ' ';
            *w++ = ' ';
            continue;
        }
        bol = text[i] == '\n';
        if (text[i] == '#' || text[i] == '"' || text[i] == '`') {
            /* a comment or a string: copied as it is */
            char end = text[i] == '#' ? '\n' : text[i];
            *w++ = text[i++];
            while (i < n && text[i] != end) {
                if (end == '"' && text[i] == '\\' && i + 1 < n)
                    *w++ = text[i++];
                *w++ = text[i++];
            }
            if (i < n)
                *w++ = text[i];
            bol = end == '\n';
            continue;
        }
        if (strncmp(text + i, ", ", 2) == 0) {
            *w++ = ',';
            i++;
        } else if (strncmp(text + i, " := ", 4) == 0) {
            *w++ = ':';
            *w++ = '=';
            i += 3;
        } else {
            *w++ = text[i];
        }
    }
    *w = 0;
    return o;
}

/* --fmt: the module's formatted text (malloc'd), or NULL to load it as it
 * is (it does not parse); -1 with why when the formatter fails. */
static int fmt_module(const char *name, const char *text, char **out, char *why, size_t whylen)
{
    *out = NULL;
    struct rego_error err = { 0 };
    char *dump = NULL;
    if (rego_module_dump(name, text, strlen(text), &dump, &err) < 0)
        return 0;
    char *f1 = NULL, *f2 = NULL;
    if (rego_format(name, text, strlen(text), &f1, NULL, &err) < 0) {
        char b[700];
        error_text(&err, b, sizeof b);
        snprintf(why, whylen, "fmt failed on a module that parses: %s", b);
        free(dump);
        return -1;
    }
    if (rego_format(name, f1, strlen(f1), &f2, NULL, &err) < 0 || strcmp(f1, f2) != 0) {
        snprintf(why, whylen, "fmt is not idempotent on %s", name);
        free(f1);
        free(f2);
        free(dump);
        return -1;
    }
    free(f2);
    /* The same module with other spacing on each line formats the same:
     * indentation as spaces, no space after commas or around :=. */
    char *p = perturb(text), *pd = NULL, *fp = NULL;
    if (rego_module_dump(name, p, strlen(p), &pd, &err) == 0 && strcmp(pd, dump) == 0 &&
        (rego_format(name, p, strlen(p), &fp, NULL, &err) < 0 || strcmp(fp, f1) != 0)) {
        snprintf(why, whylen, "fmt of %s depends on spacing within lines", name);
        free(f1);
        f1 = NULL;
    }
    free(p);
    free(pd);
    free(fp);
    free(dump);
    if (!f1)
        return -1;
    *out = f1;
    return 0;
}

/* Returns 1 pass, 0 fail (reason in why). */
static int run_case(yaml_document_t *d, yaml_node_t *c, char *why, size_t whylen)
{
    yaml_node_t *want_result = map_get(d, c, "want_result");
    const char *want_error = scalar(map_get(d, c, "want_error"));
    const char *want_code = scalar(map_get(d, c, "want_error_code"));
    yaml_node_t *want_defined = map_get(d, c, "want_defined");
    bool strict = yaml_bool(map_get(d, c, "strict_error"));
    bool sort_bindings = yaml_bool(map_get(d, c, "sort_bindings"));
    const char *query = scalar(map_get(d, c, "query"));
    if (!want_result && !want_error && !want_code && !want_defined) {
        snprintf(why, whylen, "case has no expectation");
        return 0;
    }
    if (!query) {
        snprintf(why, whylen, "case has no query");
        return 0;
    }
    struct rego *r = rego_new();
    struct rego_options opts = { .strict_builtin_errors = strict };
    rego_set_options(r, &opts);
    struct rego_error err = { 0 };
    int rc = 0;
    struct rv *input = NULL;
    struct rvbuf results = { 0 };
    struct rego_query *q = NULL;
    yaml_node_t *mods = map_get(d, c, "modules");
    if (mods && mods->type == YAML_SEQUENCE_NODE) {
        int i = 0;
        for (yaml_node_item_t *it = mods->data.sequence.items.start; it < mods->data.sequence.items.top && rc == 0;
             it++, i++) {
            yaml_node_t *m = yaml_document_get_node(d, *it);
            char name[32];
            snprintf(name, sizeof name, "test-%d.rego", i);
            const char *text = scalar(m);
            char *formatted = NULL;
            if (fmt_mode && text && fmt_module(name, text, &formatted, why, whylen) < 0) {
                rego_free(r);
                return 0;
            }
            if (formatted)
                text = formatted;
            rc = rego_add_module(r, name, text ? text : "", text ? strlen(text) : 0, &err);
            free(formatted);
        }
    }
    yaml_node_t *data = map_get(d, c, "data");
    if (rc == 0 && data && data->type == YAML_MAPPING_NODE) {
        struct rv *dv = yaml_value(d, data, 0);
        json_t *dj = rv_to_json(dv);
        rv_decref(dv);
        rc = rego_add_data(r, dj, &err);
        json_decref(dj);
    }
    yaml_node_t *in = map_get(d, c, "input");
    const char *input_term = scalar(map_get(d, c, "input_term"));
    void *block = NULL;
    json_t *ij = NULL;   /* holds the block's strings */
    if (in) {
        input = yaml_value(d, in, 0);
        /* as the JSON API does (rego.h): the input in one block, when JSON
         * holds it exactly, so every case runs the block conversion too */
        ij = rv_to_json(input);
        struct rv *bv = ij ? rv_from_json_block(ij, &block, NULL) : NULL;
        if (bv && rv_equal(bv, input)) {
            rv_decref(input);
            input = bv;
        } else {
            rv_block_free(block);
            block = NULL;
        }
    }
    if (rc == 0 && input_term) {
        struct term *t;
        rc = rego_parse_term_text(input_term, strlen(input_term), &t, &err);
        if (rc == 0) {
            rc = rego_term_constant(t, &input, &err);
            term_free(t);
        }
    }
    if (rc == 0)
        rc = rego_compile(r, &err);
    if (rc == 0) {
        q = rego_prepare(r, query, &err);
        if (!q)
            rc = -1;
    }
    if (rc == 0)
        rc = rego_query_eval_rv(q, input, &results, &err);

    int pass = 1;
    char etext[700];
    if (rc < 0)
        error_text(&err, etext, sizeof etext);
    if (want_code || want_error) {
        if (rc == 0) {
            snprintf(why, whylen, "expected error %s%s%s, got %zu result(s)", want_code ? want_code : "",
                     want_error ? " " : "", want_error ? want_error : "", results.len);
            pass = 0;
        } else {
            if (want_code && strcmp(want_code, err.code) != 0) {
                snprintf(why, whylen, "expected error code %s, got: %s", want_code, etext);
                pass = 0;
            }
            if (pass && want_error && !strstr(etext, want_error) &&
                !(fmt_mode && strstr(err.message, want_error_message(want_error)))) {
                snprintf(why, whylen, "expected error containing \"%s\", got: %s", want_error, etext);
                pass = 0;
            }
        }
    } else if (rc < 0) {
        snprintf(why, whylen, "unexpected error: %s", etext);
        pass = 0;
    }
    if (pass && rc == 0 && want_defined) {
        bool want = yaml_bool(want_defined);
        if (want != (results.len > 0)) {
            snprintf(why, whylen, "expected %s, got %zu result(s)", want ? "defined" : "undefined", results.len);
            pass = 0;
        }
    }
    if (pass && rc == 0 && want_result) {
        struct rv *wv = yaml_value(d, want_result, 0);
        struct rvbuf got = { 0 }, exp = { 0 };
        for (size_t i = 0; i < results.len; i++) {
            struct rv *n = normalize(results.v[i]);
            rvbuf_push(&got, sort_bindings ? sort_binding_arrays(n) : rv_incref(n));
            rv_decref(n);
        }
        if (wv->type == RV_ARRAY) {
            for (size_t i = 0; i < wv->u.arr.len; i++) {
                struct rv *n = normalize(wv->u.arr.v[i]);
                rvbuf_push(&exp, n->type == RV_OBJECT && sort_bindings ? sort_binding_arrays(n) : rv_incref(n));
                rv_decref(n);
            }
        }
        struct rv *gs = rv_set_take(&got), *es = rv_set_take(&exp);
        if (!rv_equal(gs, es)) {
            struct sbuf b = { 0 };
            sb_puts(&b, "want ");
            rv_write(&b, es, false);
            sb_puts(&b, " got ");
            rv_write(&b, gs, false);
            snprintf(why, whylen, "%.*s", (int)(b.len > 900 ? 900 : b.len), b.s);
            free(b.s);
            pass = 0;
        }
        rv_decref(gs);
        rv_decref(es);
        rv_decref(wv);
    }
    rvbuf_clear(&results);
    rv_decref(input);
    rego_query_free(q);   /* its pattern cache keeps copies of the input's patterns */
    rv_block_free(block);
    json_decref(ij);
    rego_free(r);
    return pass;
}

/* ------------------------------------------------------------------ files */

static int total_pass, total_fail, total_skip;

static void run_file(const char *path, const char *folder_name)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "rego-conformance: cannot open %s\n", path);
        total_fail++;
        return;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    struct folder_stat *fs = folder(folder_name);
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            printf("FAIL %s: YAML error: %s\n", path, parser.problem ? parser.problem : "?");
            fs->failed++;
            total_fail++;
            break;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) {
            yaml_document_delete(&doc);
            break;
        }
        yaml_node_t *cases = map_get(&doc, root, "cases");
        if (cases && cases->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = cases->data.sequence.items.start; it < cases->data.sequence.items.top; it++) {
                yaml_node_t *c = yaml_document_get_node(&doc, *it);
                const char *note = scalar(map_get(&doc, c, "note"));
                if (!note)
                    note = "(no note)";
                const char *reason;
                if (skipped(note, &reason)) {
                    fs->skipped++;
                    total_skip++;
                    if (verbose)
                        printf("SKIP %s: %s\n", note, reason);
                    continue;
                }
                char why[1024] = "";
                if (run_case(&doc, c, why, sizeof why)) {
                    fs->passed++;
                    total_pass++;
                    if (verbose)
                        printf("PASS %s\n", note);
                } else {
                    fs->failed++;
                    total_fail++;
                    printf("FAIL %s (%s): %s\n", note, path, why);
                }
            }
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_dir(const char *dir, const char *folder_name)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "rego-conformance: cannot open %s\n", dir);
        total_fail++;
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, sizeof *names * (n + 1));
        if (!names)
            abort();
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            run_dir(path, folder_name ? folder_name : names[i]);
        } else {
            size_t l = strlen(names[i]);
            if ((l > 5 && strcmp(names[i] + l - 5, ".yaml") == 0) ||
                (l > 4 && strcmp(names[i] + l - 4, ".yml") == 0))
                run_file(path, folder_name ? folder_name : ".");
        }
        free(names[i]);
    }
    free(names);
}

static void load_skip(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "rego-conformance: cannot open skip file %s\n", path);
        exit(2);
    }
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        skip_notes = realloc(skip_notes, sizeof *skip_notes * (size_t)(nskip + 1));
        if (!skip_notes)
            abort();
        skip_notes[nskip++] = strdup(line);
    }
    fclose(f);
}

static void usage(FILE *o)
{
    fprintf(o, "usage: rego-conformance [--skip FILE] [--verbose] [--fmt] DIR...\n"
               "Runs OPA's YAML conformance cases (format: opa-conformance/README.md) and\n"
               "prints failures, a table per folder and `N passed, N failed`.\n"
               "--fmt: load each module as rego_format formats it (checked idempotent).\n"
               "Exit status: 0 when nothing failed, 1 otherwise, 2 on usage errors.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "skip", required_argument, NULL, 's' },
        { "verbose", no_argument, NULL, 'v' },
        { "fmt", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': load_skip(optarg); break;
        case 'v': verbose = 1; break;
        case 'f': fmt_mode = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    for (int i = optind; i < argc; i++)
        run_dir(argv[i], NULL);
    printf("\n%-24s %7s %7s %7s\n", "folder", "passed", "failed", "skipped");
    for (int i = 0; i < nfolders; i++)
        printf("%-24s %7d %7d %7d\n", folders[i].name, folders[i].passed, folders[i].failed,
               folders[i].skipped);
    printf("\n%d passed, %d failed", total_pass, total_fail);
    if (total_skip)
        printf(" (%d skipped)", total_skip);
    printf("\n");
    return total_fail ? 1 : 0;
}
