/* libFuzzer harness: parse, compile and evaluate whatever comes in, with a
 * small step budget. The input is a module; if it has a line "#query: Q",
 * Q is evaluated too, with the rest of the line after "#input: " as input.
 * It must never crash, hang or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rego/rego.h"

static void eval_query(struct rego *r, const char *q, const char *input)
{
    struct rego_error err;
    struct rego_query *pq = rego_prepare(r, q, &err);
    if (!pq)
        return;
    char *out = NULL;
    if (rego_query_eval(pq, input, input ? strlen(input) : 0, &out, &err) == 0)
        free(out);
    rego_query_free(pq);
}

static char *line_after(const char *text, const char *tag)
{
    const char *p = strstr(text, tag);
    if (!p)
        return NULL;
    p += strlen(tag);
    size_t n = strcspn(p, "\n");
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Default flags, ahead of the command line's (which win, being later):
 * - no entropic power schedule: it keeps a count per coverage feature, and
 *   one Rego run touches tens of thousands of them; that bookkeeping took
 *   about nine tenths of the time (some 50 runs a second against some 1400
 *   without it, with as much coverage or more in the same time);
 * - inputs up to 4 KiB, policy-sized (the harness takes up to 64 KiB, and a
 *   big file in a corpus would otherwise raise the limit to its size). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const defaults[] = {"-entropic=0", "-max_len=4096"};
    enum { N_DEFAULTS = sizeof(defaults) / sizeof(defaults[0]) };
    char **args = calloc((size_t)*argc + N_DEFAULTS + 1, sizeof(*args));
    if (args == NULL || *argc < 1)
        return 0;
    args[0] = (*argv)[0];
    for (int i = 0; i < N_DEFAULTS; i++)
        args[1 + i] = (char *)defaults[i];
    for (int i = 1; i < *argc; i++)
        args[N_DEFAULTS + i] = (*argv)[i];
    *argc += N_DEFAULTS;
    *argv = args; /* for the whole run */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct rego *r = rego_new();
    struct rego_options o = { .max_steps = 20000, .max_depth = 40 };
    rego_set_options(r, &o);
    struct rego_error err;
    if (rego_add_module(r, "fuzz.rego", text, size, &err) == 0 && rego_compile(r, &err) == 0) {
        char *q = line_after(text, "#query: ");
        char *in = line_after(text, "#input: ");
        if (q)
            eval_query(r, q, in);
        char **paths;
        size_t n;
        if (rego_rule_paths(r, "", &paths, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                if (i < 8)
                    eval_query(r, paths[i], in);
                free(paths[i]);
            }
            free(paths);
        }
        eval_query(r, "data", in);
        free(q);
        free(in);
    } else {
        /* the same bytes as a query against no modules */
        struct rego *r2 = rego_new();
        rego_set_options(r2, &o);
        if (memchr(data, 0, size) == NULL)
            eval_query(r2, text, NULL);
        rego_free(r2);
    }
    rego_free(r);
    free(text);
    return 0;
}
