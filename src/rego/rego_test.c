/* Unit tests for the Rego engine: values and their order, exact arithmetic,
 * JSON, parser limits and error positions, compile checks, evaluation
 * limits. The language itself is tested by the conformance cases. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rego/ast.h"
#include "rego/eval.h"
#include "rego/glob.h"
#include "rego/rego.h"
#include "rego/value.h"

/* ------------------------------------------------------------------ helpers */

static struct rv *J(const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    struct rv *v = rv_from_json(j, NULL);
    json_decref(j);
    assert_non_null(v);
    return v;
}

/* Evaluates query against one module; returns the results JSON text (malloc'd) or NULL
 * with err filled. */
static char *eval_with(const char *module, const char *query, const char *input, struct rego_error *err,
                       const struct rego_options *opts)
{
    struct rego *r = rego_new();
    if (opts)
        rego_set_options(r, opts);
    char *out = NULL;
    if (module && rego_add_module(r, "t.rego", module, strlen(module), err) < 0)
        goto done;
    if (rego_compile(r, err) < 0)
        goto done;
    struct rego_query *q = rego_prepare(r, query, err);
    if (!q)
        goto done;
    if (rego_query_eval(q, input, input ? strlen(input) : 0, &out, err) < 0)
        out = NULL;
    rego_query_free(q);
done:
    rego_free(r);
    return out;
}

static void expect_result(const char *module, const char *query, const char *input, const char *want)
{
    struct rego_error err = { 0 };
    char *got = eval_with(module, query, input, &err, NULL);
    if (!got) {
        char buf[800];
        fail_msg("unexpected error: %s", rego_error_string(&err, buf, sizeof buf));
    }
    assert_string_equal(got, want);
    free(got);
}

static void expect_error(const char *module, const char *query, const char *code, const char *substr)
{
    struct rego_error err = { 0 };
    char *got = eval_with(module, query, NULL, &err, NULL);
    if (got) {
        fail_msg("expected %s, got %s", code, got);
        free(got);
        return;
    }
    assert_string_equal(err.code, code);
    if (substr && !strstr(err.message, substr))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, substr);
}

/* ------------------------------------------------------------------ value depth */

/* package d: r0 := [[...[r1]...]], ..., each rule wrapping the next in
 * `wrap` arrays, r<n> := last; then the given rules. */
static char *deep_chain(int n, int wrap, const char *last, const char *rest)
{
    struct sbuf m = { 0 };
    sb_puts(&m, "package d\n");
    for (int i = 0; i < n; i++) {
        sb_printf(&m, "r%d := ", i);
        for (int j = 0; j < wrap; j++)
            sb_putc(&m, '[');
        sb_printf(&m, "r%d", i + 1);
        for (int j = 0; j < wrap; j++)
            sb_putc(&m, ']');
        sb_putc(&m, '\n');
    }
    sb_printf(&m, "r%d := %s\n%s", n, last, rest);
    return sb_steal(&m);
}

static json_t *deep_json(int levels)
{
    json_t *j = json_integer(1);
    for (int i = 0; i < levels; i++) {
        json_t *a = json_array();
        json_array_append_new(a, j);
        j = a;
    }
    return j;
}

static void test_value_depth(void **state)
{
    (void)state;
    const char *rules = "m := json.marshal(r0)\n"
                        "e if r0 == [r1]\n"
                        "s if r0 in {r0}\n"
                        "p if print(r0)\n"
                        "w := [x | walk(r0, x)]\n"
                        "ok := json.marshal(r15)\n";
    /* 990 rules of 95 levels each: 94000 levels, which overflowed the
     * stack in json.marshal, the type checker and the evaluator; now the
     * evaluation's nesting stops it */
    char *m = deep_chain(990, 95, "1", rules);
    expect_error(m, "x := data.d.m", "eval_cancel_error", "nested too deeply");
    free(m);
    /* 30 rules: 2850 levels, built one rule at a time: past 2048 levels
     * the value is refused, whatever uses it */
    m = deep_chain(30, 95, "1", rules);
    const char *queries[] = { "x := data.d.m", "data.d.e", "data.d.s", "data.d.p", "x := data.d.w",
                              "x := data.d.r0", "x := data.d" };
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
        expect_error(m, queries[i], "eval_cancel_error", "value nested deeper than 2048 levels");
    /* 14 * 95 = 1330 levels are fine: marshalled, read back, equal */
    struct rego_error err = { 0 };
    char *got = eval_with(m, "x := json.unmarshal(data.d.ok) == data.d.r15", NULL, &err, NULL);
    assert_non_null(got);
    assert_string_equal(got, "[{\"x\":true}]");
    free(got);
    free(m);
    /* the same through the value API the policy module uses (the decision
     * document converted to JSON) */
    m = deep_chain(30, 95, "input.a", "decision := {\"allow\": true, \"d\": r0}\n");
    struct rego *r = rego_new();
    assert_int_equal(rego_add_module(r, "t.rego", m, strlen(m), &err), 0);
    assert_int_equal(rego_compile(r, &err), 0);
    struct rego_query *q = rego_prepare(r, "data.d.decision", &err);
    assert_non_null(q);
    json_t *in = json_pack("{s:i}", "a", 1), *v = NULL;
    assert_int_equal(rego_query_eval_value(q, in, &v, &err), -1);
    assert_null(v);
    assert_string_equal(err.code, "eval_cancel_error");
    assert_non_null(strstr(err.message, "value nested deeper than 2048 levels"));
    json_decref(in);
    /* input: as deep as jansson reads (2048 levels) is accepted, and
     * putting it one level deeper is refused; 2049 levels is an error */
    in = json_pack("{s:o}", "a", deep_json(2047));   /* the input object is level 1 */
    assert_int_equal(rego_query_eval_value(q, in, &v, &err), -1);
    assert_non_null(strstr(err.message, "value nested deeper than 2048 levels"));
    json_decref(in);
    rego_query_free(q);
    q = rego_prepare(r, "json.marshal(input)", &err);
    assert_non_null(q);
    in = json_pack("{s:o}", "a", deep_json(2047));
    assert_int_equal(rego_query_eval_value(q, in, &v, &err), 0);
    char *text = json_dumps(in, JSON_COMPACT);
    assert_string_equal(json_string_value(v), text);
    free(text);
    json_decref(v);
    json_decref(in);
    /* the recursive functions over a value at the bound: compare (a copy,
     * not the same pointer), sets, walk, formatting, the result's JSON
     * (jansson counts the number at the bottom as a level too: 2047
     * levels of collections around it is as deep as it reads back) */
    in = json_pack("{s:o}", "a", deep_json(2046));
    const char *at_bound[] = { "json.unmarshal(json.marshal(input)) == input",
                               "{input, json.unmarshal(json.marshal(input))} == {input}",
                               "count([p | walk(input.a, [p, _])]) == 2047",
                               "startswith(sprintf(\"%v\", [input.a]), \"[[[\")",
                               "object.union(input, {\"b\": input.a}).b == input.a" };
    for (size_t i = 0; i < sizeof at_bound / sizeof *at_bound; i++) {
        struct rego_query *qb = rego_prepare(r, at_bound[i], &err);
        assert_non_null(qb);
        v = NULL;
        if (rego_query_eval_value(qb, in, &v, &err) < 0)
            fail_msg("%s: %s", at_bound[i], err.message);
        if (!json_is_true(v) && i != 3)
            fail_msg("%s: not true", at_bound[i]);
        json_decref(v);
        rego_query_free(qb);
    }
    struct rego_query *qv = rego_prepare(r, "input", &err);
    assert_non_null(qv);
    assert_int_equal(rego_query_eval_value(qv, in, &v, &err), 0);
    assert_true(json_equal(v, in));
    json_decref(v);
    rego_query_free(qv);
    json_decref(in);
    in = json_pack("{s:o}", "a", deep_json(2048));
    assert_int_equal(rego_query_eval_value(q, in, &v, &err), -1);
    assert_string_equal(err.message, "input: value nested deeper than 2048 levels");
    json_decref(in);
    rego_query_free(q);
    rego_free(r);
    free(m);
    /* data deeper than 2048 levels: refused when added */
    r = rego_new();
    json_t *data = json_pack("{s:o}", "a", deep_json(2048));
    char *dtext = json_dumps(data, JSON_COMPACT);
    assert_non_null(dtext);
    assert_int_equal(rego_add_data_json(r, dtext, strlen(dtext), &err), -1);
    free(dtext);
    json_decref(data);
    rego_free(r);
}

/* A rule body of n expressions x1 := x0 + 1, ... */
static char *long_body(int n)
{
    struct sbuf m = { 0 };
    sb_puts(&m, "package t\np if {\n  x0 := input.a\n");
    for (int i = 1; i < n; i++)
        sb_printf(&m, "  x%d := x%d + 1\n", i, i - 1);
    sb_printf(&m, "  x%d == %d\n}\n", n - 1, n);
    return sb_steal(&m);
}

static void *long_body_thread(void *arg)
{
    (void)arg;
    char *m = long_body(6000);
    struct rego_error err = { 0 };
    char *got = eval_with(m, "x := data.t.p", "{\"a\": 1}", &err, NULL);
    char *res = strdup(got ? got : err.message);
    free(got);
    free(m);
    return res;
}

/* Evaluates long_body(6000) on a thread with a stack of `stack` bytes:
 * the result, or the error's message (malloc'd). */
static char *long_body_on(size_t stack)
{
    pthread_attr_t a;
    pthread_t th;
    void *res = NULL;
    assert_int_equal(pthread_attr_init(&a), 0);
    assert_int_equal(pthread_attr_setstacksize(&a, stack), 0);
    assert_int_equal(pthread_create(&th, &a, long_body_thread, NULL), 0);
    assert_int_equal(pthread_join(th, &res), 0);
    pthread_attr_destroy(&a);
    assert_non_null(res);
    return res;
}

/* A rule body of many expressions: each nests a continuation, bounded by
 * the stack left, not by a count (OPA has no such bound; a fixed 4000
 * refused longer bodies). 6000 expressions: on a 64 MiB stack (room under
 * ASan too) they evaluate; on a 2 MiB stack they are a clear error. */
static void test_long_body(void **state)
{
    (void)state;
    char *got = long_body_on((size_t)64 << 20);
    assert_string_equal(got, "[{\"x\":true}]");
    free(got);
    got = long_body_on((size_t)2 << 20);
    assert_string_equal(got, "evaluation nested too deeply");
    free(got);
}

/* ------------------------------------------------------------------ values */

static void test_type_order(void **state)
{
    (void)state;
    /* OPA: null < boolean < number < string < array < object < set */
    const char *ordered[] = { "null", "false", "true", "-1", "0", "0.5", "1", "\"\"", "\"a\"", "\"b\"",
                              "[]", "[1]", "[1,2]", "[2]", "{}", "{\"a\":1}", "{\"a\":2}", "{\"b\":0}" };
    size_t n = sizeof ordered / sizeof ordered[0];
    struct rv *vals[32];
    for (size_t i = 0; i < n; i++)
        vals[i] = J(ordered[i]);
    struct rvbuf sb = { 0 };
    struct rv *set = rv_set_take(&sb);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int c = rv_compare(vals[i], vals[j]);
            if (i < j)
                assert_true(c < 0);
            else if (i > j)
                assert_true(c > 0);
            else
                assert_int_equal(c, 0);
        }
        assert_true(rv_compare(vals[i], set) < 0);
    }
    for (size_t i = 0; i < n; i++)
        rv_decref(vals[i]);
    rv_decref(set);
}

static void test_numbers_exact(void **state)
{
    (void)state;
    struct rv *one = rv_int(1), *one_d = rv_double(1.0), *half = rv_double(0.5);
    assert_true(rv_equal(one, one_d));          /* 1 == 1.0 */
    assert_true(one_d->is_int);
    assert_true(rv_compare(half, one) < 0);
    /* an int64 beyond 2^53 against a nearby double is not rounded */
    struct rv *big = rv_int(9007199254740993LL), *bigd = rv_double(9007199254740992.5);
    assert_true(rv_compare(big, bigd) > 0);
    rv_decref(one);
    rv_decref(one_d);
    rv_decref(half);
    rv_decref(big);
    rv_decref(bigd);
}

static void test_arith_overflow(void **state)
{
    (void)state;
    char err[128];
    struct rv *max = rv_int(INT64_MAX), *min = rv_int(INT64_MIN), *one = rv_int(1), *neg = rv_int(-1),
              *two = rv_int(2), *zero = rv_int(0), *out = NULL;
    struct sbuf b = { 0 };
    /* beyond int64: exact, never wrapped */
    assert_int_equal(rv_arith('+', max, one, &out, err, sizeof err), 0);
    assert_true(out->is_big);
    rv_write_number(&b, out);
    assert_string_equal(b.s, "9223372036854775808");
    rv_decref(out);
    b.len = 0;
    assert_int_equal(rv_arith('-', min, one, &out, err, sizeof err), 0);
    rv_write_number(&b, out);
    assert_string_equal(b.s, "-9223372036854775809");
    rv_decref(out);
    b.len = 0;
    assert_int_equal(rv_arith('*', max, max, &out, err, sizeof err), 0);
    rv_write_number(&b, out);
    assert_string_equal(b.s, "85070591730234615847396907784232501249");
    /* and back down into int64 */
    struct rv *back = NULL, *back2 = NULL;
    assert_int_equal(rv_arith('-', out, out, &back, err, sizeof err), 0);
    assert_true(back->is_int && back->u.i == 0);
    rv_decref(out);
    struct rv *big = NULL;
    assert_int_equal(rv_arith('+', max, two, &big, err, sizeof err), 0);
    assert_int_equal(rv_arith('-', big, two, &back2, err, sizeof err), 0);
    assert_true(back2->is_int && back2->u.i == INT64_MAX);
    rv_decref(big);
    rv_decref(back2);
    free(b.s);
    /* errors that stay errors */
    assert_int_equal(rv_arith('/', one, zero, &out, err, sizeof err), -1);
    assert_string_equal(err, "divide by zero");
    assert_int_equal(rv_arith('%', one, zero, &out, err, sizeof err), -1);
    /* exact where it fits */
    assert_int_equal(rv_arith('+', max, neg, &out, err, sizeof err), 0);
    assert_true(out->is_int && out->u.i == INT64_MAX - 1);
    rv_decref(out);
    assert_int_equal(rv_arith('/', one, two, &out, err, sizeof err), 0);
    assert_false(out->is_int);
    assert_true(out->u.d == 0.5);
    rv_decref(out);
    rv_decref(max);
    rv_decref(min);
}

static void test_arith_overflow_in_policy(void **state)
{
    (void)state;
    /* never a silent wrap: exact beyond 64 bits, as OPA */
    expect_result(NULL, "x := 9223372036854775807 + 1", NULL, "[{\"x\":9223372036854775808}]");
    expect_result(NULL, "x := sum([9223372036854775807, 9223372036854775807])", NULL,
                  "[{\"x\":18446744073709551614}]");
    expect_result(NULL, "x := 9223372036854775806 + 1", NULL, "[{\"x\":9223372036854775807}]");
    /* a clear error where no exact answer is given */
    expect_error(NULL, "x := 9007199254740993 + 0.5", "eval_builtin_error", "not exact");
    expect_error(NULL, "x := 1 / 0", "eval_builtin_error", "divide by zero");
}

static void test_big_numbers_order(void **state)
{
    (void)state;
    const char *ordered[] = { "-1e400", "-9223372036854775809", "-1", "-1e-400", "0", "1e-400",
                              "0.1234567890123456788", "0.1234567890123456789", "1",
                              "9223372036854775807", "9223372036854775808", "1e400" };
    size_t n = sizeof ordered / sizeof ordered[0];
    struct rv *v[16];
    for (size_t i = 0; i < n; i++) {
        v[i] = rv_number_text(ordered[i], strlen(ordered[i]));
        assert_non_null(v[i]);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = rv_compare(v[i], v[j]);
            assert_true(i < j ? c < 0 : i > j ? c > 0 : c == 0);
        }
    for (size_t i = 0; i < n; i++)
        rv_decref(v[i]);
    assert_null(rv_number_text("1e", 2));
    assert_null(rv_number_text("01x", 3));
}

static void test_json_roundtrip(void **state)
{
    (void)state;
    struct rv *v = J("{\"b\":[1,2.5,\"x\",null,true],\"a\":{\"c\":-3}}");
    struct sbuf b = { 0 };
    rv_write(&b, v, true);
    assert_string_equal(b.s, "{\"a\":{\"c\":-3},\"b\":[1,2.5,\"x\",null,true]}");
    free(b.s);
    json_t *j = rv_to_json(v);
    struct rv *back = rv_from_json(j, NULL);
    assert_true(rv_equal(v, back));
    json_decref(j);
    rv_decref(back);
    rv_decref(v);
    /* 0.1 prints as 0.1, not 0.10000000000000001 */
    struct rv *d = rv_double(0.1);
    struct sbuf b2 = { 0 };
    rv_write(&b2, d, true);
    assert_string_equal(b2.s, "0.1");
    free(b2.s);
    rv_decref(d);
}

static void test_object_conflict(void **state)
{
    (void)state;
    struct rvbuf k = { 0 }, v = { 0 };
    rvbuf_push(&k, rv_cstr("a"));
    rvbuf_push(&v, rv_int(1));
    rvbuf_push(&k, rv_cstr("a"));
    rvbuf_push(&v, rv_int(2));
    assert_null(rv_object_take(&k, &v));
    expect_error("package t\np := {k: v | some k, v in [\"a\", \"b\"]; k2 := 0; k2 == k - k}\nq := {x: 1 | x := [1, 1][_]}\nr := {\"a\": y | y := [1, 2][_]}",
                 "data.t.r", "eval_conflict_error", "object keys must be unique");
    /* an object literal with a key written twice keeps the last value (OPA) */
    expect_result("package t\np := {\"b\": 7, \"a\": 2.5, \"b\": \"ab\"}", "x := data.t.p", NULL,
                  "[{\"x\":{\"a\":2.5,\"b\":\"ab\"}}]");
    expect_result("package t\np := {x: 7, y: 8} if { x := \"a\"; y := \"a\" }", "x := data.t.p", NULL,
                  "[{\"x\":{\"a\":8}}]");
}

/* ------------------------------------------------------------------ parser */

static char *nested(const char *open, const char *mid, const char *close, int depth)
{
    size_t lo = strlen(open), lc = strlen(close), lm = strlen(mid);
    char *s = malloc((lo + lc) * (size_t)depth + lm + 64);
    size_t n = 0;
    n += (size_t)sprintf(s, "x := ");
    for (int i = 0; i < depth; i++, n += lo)
        memcpy(s + n, open, lo);
    memcpy(s + n, mid, lm);
    n += lm;
    for (int i = 0; i < depth; i++, n += lc)
        memcpy(s + n, close, lc);
    s[n] = 0;
    return s;
}

static void test_deep_nesting_is_an_error(void **state)
{
    (void)state;
    const char *shapes[][3] = { { "[", "1", "]" }, { "(", "1", ")" }, { "{", "1", "}" },
                                { "{\"a\": ", "1", "}" }, { "f(", "1", ")" }, { "[x | x = ", "1", "]" },
                                { "-", "x", "" }, { "1 + (", "1", ")" } };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char *q = nested(shapes[i][0], shapes[i][1], shapes[i][2], 100000);
        struct body *b = NULL;
        struct rego_error err = { 0 };
        if (rego_parse_query(q, strlen(q), &b, &err) != -1)
            fail_msg("shape %zu parsed", i);
        assert_string_equal(err.code, "rego_parse_error");
        free(q);
    }
    /* and a module */
    char *q = nested("[", "1", "]", 100000);
    struct sbuf m = { 0 };
    sb_puts(&m, "package deep\np := 1 if {\n");
    sb_puts(&m, q);
    sb_puts(&m, "\n}\n");
    struct module *mod = NULL;
    struct rego_error err = { 0 };
    assert_int_equal(rego_parse_module("deep.rego", m.s, m.len, &mod, &err), -1);
    assert_string_equal(err.file, "deep.rego");
    assert_int_equal(err.line, 3);
    free(m.s);
    free(q);
    /* moderate nesting is fine */
    char *ok = nested("[", "1", "]", 50);
    struct body *b = NULL;
    if (rego_parse_query(ok, strlen(ok), &b, &err) != 0)
        fail_msg("%s", err.message);
    body_free(b);
    free(ok);
}

/* A module `package t` with `p := 1 OP 1 OP 1 ...` (n operators). */
static char *chain_module(const char *op, int n)
{
    struct sbuf m = { 0 };
    sb_puts(&m, "package t\np := 1");
    for (int i = 0; i < n; i++) {
        sb_puts(&m, op);
        sb_puts(&m, "1");
    }
    sb_puts(&m, "\n");
    return m.s;
}

/* Operator chains and postfix chains nest the tree one level per operator
 * with no brackets: the parser counts the tree's height, so a long chain is
 * a parse error naming the limit, never a stack overflow in a later pass. */
static void test_long_chains_are_an_error(void **state)
{
    (void)state;
    const char *ops[] = { " + ", " * ", " - ", " == ", " & ", " | ", " in " };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        for (int n = REGO_MAX_PARSE_DEPTH; n <= 1000000; n *= 50) {
            char *m = chain_module(ops[i], n);
            struct rego_error err = { 0 };
            char *got = eval_with(m, "x := data.t.p", NULL, &err, NULL);
            if (got)
                fail_msg("chain of %d '%s' evaluated: %.60s", n, ops[i], got);
            assert_string_equal(err.code, "rego_parse_error");
            if (!strstr(err.message, "nested too deep (more than 200 levels"))
                fail_msg("%s", err.message);
            assert_int_equal(err.line, 2);
            free(m);
        }
    }
    /* at the limit: the whole pipeline (compile, typecheck, eval, JSON) works */
    char *m = chain_module(" + ", REGO_MAX_PARSE_DEPTH - 1);
    expect_result(m, "x := data.t.p", NULL, "[{\"x\":200}]");
    free(m);
    m = chain_module(" - ", REGO_MAX_PARSE_DEPTH - 1);
    expect_result(m, "x := data.t.p", NULL, "[{\"x\":-198}]");
    free(m);
    /* a query too */
    struct sbuf q = { 0 };
    sb_puts(&q, "x := 1");
    for (int i = 0; i < 100000; i++)
        sb_puts(&q, " + 1");
    struct body *b = NULL;
    struct rego_error err = { 0 };
    assert_int_equal(rego_parse_query(q.s, q.len, &b, &err), -1);
    assert_string_equal(err.code, "rego_parse_error");
    free(q.s);
    /* a reference that goes on past the limit: calls and refs nest */
    struct sbuf r = { 0 };
    sb_puts(&r, "x := object.get({}, \"a\", 1)");
    for (int i = 0; i < 100000; i++)
        sb_puts(&r, ".a");
    err = (struct rego_error){ 0 };
    assert_int_equal(rego_parse_query(r.s, r.len, &b, &err), 0);   /* one flat reference */
    body_free(b);
    free(r.s);
    /* a function with very many parameters: each argument's unification
     * nests one continuation; counted, an error rather than an overflow */
    struct sbuf f = { 0 };
    sb_puts(&f, "package t\nf(a0");
    for (int i = 1; i < 100000; i++)
        sb_printf(&f, ", a%d", i);
    sb_puts(&f, ") := 1\np := f(0");
    for (int i = 1; i < 100000; i++)
        sb_puts(&f, ", 0");
    sb_puts(&f, ")\n");
    expect_error(f.s, "x := data.t.p", "eval_cancel_error", "nested too deeply");
    free(f.s);
    /* chains inside nested comprehensions add up */
    struct sbuf c = { 0 };
    sb_puts(&c, "x := ");
    for (int i = 0; i < 40; i++)
        sb_puts(&c, "[y | y := ");
    sb_puts(&c, "1");
    for (int i = 0; i < 40; i++)
        sb_puts(&c, " + 1 + 1 + 1 + 1]");
    err = (struct rego_error){ 0 };
    assert_int_equal(rego_parse_query(c.s, c.len, &b, &err), -1);
    if (!strstr(err.message, "nested too deep"))
        fail_msg("%s", err.message);
    free(c.s);
}

static void test_parse_error_position(void **state)
{
    (void)state;
    struct rego_error err = { 0 };
    struct module *m = NULL;
    const char *src = "package a\n\np if {\n  x := [1, 2\n}\n";
    assert_int_equal(rego_parse_module("pos.rego", src, strlen(src), &m, &err), -1);
    assert_string_equal(err.code, "rego_parse_error");
    assert_string_equal(err.file, "pos.rego");
    assert_int_equal(err.line, 5);
    assert_int_equal(err.col, 1);
    const char *hostile[] = { "package", "package a\np := \"unterminated", "package a\np := `raw",
                              "package a\np := \"\\u12\"", "package a\np := 1e9999999999", "package a\np if {",
                              "package a\np if { }", "package a\n\x01", "package a\np[ := 1",
                              "package a\nimport", "package a\np := 1 else", "package a\nf(x) := x else := 2 with",
                              "package f(1).x", "package a\nimport data.f(1)", "package a\nimport data[x]",
                              "package a\np if { true with f(1).x as 2 }" };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        m = NULL;
        memset(&err, 0, sizeof err);
        if (rego_parse_module("h.rego", hostile[i], strlen(hostile[i]), &m, &err) != -1) {
            module_free(m);
            fail_msg("parsed: %s", hostile[i]);
        }
        assert_string_equal(err.code, "rego_parse_error");
        assert_true(err.line >= 1);
    }
}

/* ------------------------------------------------------------------ compiler */

static void test_unsafe_var(void **state)
{
    (void)state;
    struct rego_error err = { 0 };
    char *r = eval_with("package a\n\np if {\n  x > 1\n}\n", "data.a.p", NULL, &err, NULL);
    assert_null(r);
    assert_string_equal(err.code, "rego_unsafe_var_error");
    assert_string_equal(err.message, "var x is unsafe");
    assert_int_equal(err.line, 4);
    /* negation does not bind */
    expect_error("package a\np if { not q[y] }\nq contains 1", "data.a.p", "rego_unsafe_var_error", "var y is unsafe");
    expect_error("package a\np if { not q[_] }\nq contains 1", "data.a.p", "rego_unsafe_var_error", "var _ is unsafe");
    /* a head variable the body never binds */
    expect_error("package a\np contains z if { true }", "data.a.p", "rego_unsafe_var_error", "var z is unsafe");
}

static void test_order_independent(void **state)
{
    (void)state;
    /* the compiler orders expressions so bindings come first */
    expect_result("package a\np contains y if {\n  y > 1\n  y = [1, 2, 3][_]\n}\n", "x := data.a.p", NULL,
                  "[{\"x\":[2,3]}]");
    expect_result("package a\np contains [x, y] if {\n  y = x + 1\n  x = input[_]\n}\n", "z := data.a.p",
                  "[1]", "[{\"z\":[[1,2]]}]");
    /* := declares: a use before it is an error, as in OPA */
    expect_error("package a\np if {\n  y > 1\n  y := 2\n}\n", "data.a.p", "rego_compile_error",
                 "var y referenced above");
}

/* The rule index (input.path == constant, input.path in {set}) skips rules
 * whose first test fails; what the rules decide must not change: number
 * equality across representations, undefined input, `with input`, data
 * references through the rule tree, folded literals. */
static const char *index_module =
    "package t\n"
    "p contains \"eq\" if {\n  input.x == 1\n}\n"
    "p contains \"eq_rev\" if {\n  1.0 == input.x\n}\n"
    "p contains \"unify\" if {\n  input.x = 1\n}\n"
    "p contains \"in\" if {\n  input.x in {\"u\", 2}\n}\n"
    "p contains \"deep\" if {\n  input.a.b == \"c\"\n}\n"
    "p contains \"other\" if {\n  input.y == [1, {\"k\": 2}]\n}\n"
    "p contains \"two\" if {\n  input.x == 2\n  true\n}\n"
    "p contains \"str\" if {\n  \"u\" == input.x\n}\n"
    "r := \"yes\" if {\n  input.x == 7\n} else := \"no\"\n"
    "q := data.t.p\n";

static void test_rule_index(void **state)
{
    (void)state;
    expect_result(index_module, "x := data.t.q", "{\"x\": 1.0}", "[{\"x\":[\"eq\",\"eq_rev\",\"unify\"]}]");
    /* the node index on input.x: one lookup selects the rules for 1, 2
     * or "u"; the rules not indexed there run for every value */
    expect_result(index_module, "x := data.t.p", "{\"x\": 2}", "[{\"x\":[\"in\",\"two\"]}]");
    expect_result(index_module, "x := data.t.p", "{\"x\": \"u\"}", "[{\"x\":[\"in\",\"str\"]}]");
    expect_result(index_module, "x := data.t.p", "{\"x\": 3}", "[{\"x\":[]}]");
    expect_result(index_module, "x := data.t.p", "{\"x\": [1]}", "[{\"x\":[]}]");
    expect_result(index_module, "x := data.t.p", "{\"a\": {\"b\": \"c\"}, \"y\": [1, {\"k\": 2}]}",
                  "[{\"x\":[\"deep\",\"other\"]}]");
    expect_result(index_module, "x := data.t.p", "{\"a\": \"not an object\"}", "[{\"x\":[]}]");
    expect_result(index_module, "x := data.t.p", NULL, "[{\"x\":[]}]");
    expect_result(index_module, "x := data.t.p with input as {\"x\": \"u\"}", "{\"x\": 1}",
                  "[{\"x\":[\"in\",\"str\"]}]");
    expect_result(index_module, "x := data.t.p with input.x as 1", "{\"x\": 2}",
                  "[{\"x\":[\"eq\",\"eq_rev\",\"unify\"]}]");
    expect_result(index_module, "x := data.t.r", "{\"x\": 7}", "[{\"x\":\"yes\"}]");
    expect_result(index_module, "x := data.t.r", "{\"x\": 1}", "[{\"x\":\"no\"}]");
    /* a with-data overlay below a resolved reference is still seen */
    expect_result(index_module, "x := data.t.q with data.t.p as [\"z\"]", "{\"x\": 1}",
                  "[{\"x\":[\"z\"]}]");
}

static void test_recursion(void **state)
{
    (void)state;
    expect_error("package a\np if q\nq if p", "data.a.p", "rego_recursion_error", "recursive");
    expect_error("package a\nf(x) := y if { y := f(x) }\np := f(1)", "data.a.p", "rego_recursion_error", NULL);
}

/* The compile-time type checker: OPA v1.22.4's verdicts and messages
 * (rego_type_error), and no refusal of what OPA accepts. */
static void expect_type_error(const char *module, const char *message)
{
    struct rego_error err = { 0 };
    struct rego *r = rego_new();
    assert_int_equal(rego_add_module(r, "t.rego", module, strlen(module), &err), 0);
    int rc = rego_compile(r, &err);
    rego_free(r);
    if (rc == 0)
        fail_msg("compiled, expected a type error: %s", module);
    assert_string_equal(err.code, "rego_type_error");
    if (strcmp(err.message, message) != 0)
        fail_msg("message\n%s\nis not\n%s", err.message, message);
}

static void expect_compiles(const char *module)
{
    struct rego_error err = { 0 };
    struct rego *r = rego_new();
    assert_int_equal(rego_add_module(r, "t.rego", module, strlen(module), &err), 0);
    int rc = rego_compile(r, &err);
    rego_free(r);
    if (rc < 0) {
        char buf[800];
        fail_msg("%s\nrefused: %s", module, rego_error_string(&err, buf, sizeof buf));
    }
}

static void test_type_checker(void **state)
{
    (void)state;
    expect_type_error("package p\nx := count(1)",
                      "count: invalid argument(s)\n\thave: (number, ?\?\?)\n\twant: (collection: any<...>, "
                      "n: number)");
    expect_type_error("package p\np if { upper(1) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    expect_type_error("package p\np if { y := 1; x := upper(y) }",
                      "upper: invalid argument(s)\n\thave: (number, ?\?\?)\n\twant: (x: string, y: string)");
    expect_type_error("package p\np := x if { x := \"a\" + 1 }",
                      "plus: invalid argument(s)\n\thave: (string, number, ?\?\?)\n\twant: (x: number, y: number, "
                      "z: number)");
    /* a line too wide: what unifies is elided, the mismatch kept */
    expect_type_error("package p\np if { count([1], \"a\") }",
                      "count: invalid argument(s)\n\thave: (array<number>, string)\n\twant: (collection: "
                      "any<...>, n: number)");
    expect_type_error("package p\nx := concat(\",\", [1, 2])",
                      "concat: invalid argument(s)\n\thave: (string, array<number, number>, ?\?\?)\n\twant: "
                      "(delimiter: string, collection: any<array[string], set[string]>, output: string)");
    /* comparisons and unifications of values that cannot be equal */
    expect_type_error("package p\np if { 1 == \"a\" }", "match error\n\tleft  : number\n\tright : string");
    expect_type_error("package p\np if { x := count([1]); x = \"a\" }",
                      "match error\n\tleft  : number\n\tright : string");
    expect_type_error("package p\np if { [1, {\"a\": 2}] == [1, {\"a\": \"b\"}] }",
                      "match error\n\tleft  : array<number, object<a: number>>\n\tright : array<number, "
                      "object<a: string>>\n\thint  : both sides are arrays but their types differ, so they can "
                      "never be equal (see https://www.openpolicyagent.org/docs/errors/rego-type-error/"
                      "match-error)");
    expect_type_error("package p\np if { \"a\" in [1, 2] }", "match error\n\tleft  : string\n\tright : number");
    /* variables of some ... in, comprehensions, selections in local values */
    expect_type_error("package p\np if { some x in {\"a\", \"b\"}; abs(x) }",
                      "abs: invalid argument(s)\n\thave: (string)\n\twant: (x: number, y: number)");
    expect_type_error("package p\np := [c | some c in {\"x\"}; union(c)]",
                      "union: invalid argument(s)\n\thave: (string)\n\twant: (xs: set[set[any]], y: set[any])");
    expect_type_error("package p\np if { x := {\"a\": 1}; upper(x.a) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    expect_type_error("package p\np if { upper([y | y := 1][0]) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    /* rules and functions whose every definition has one type */
    expect_type_error("package p\nq := 1\np if { upper(q) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    expect_type_error("package p\nf(x) := \"a\" if { x > 1 }\nf(x) := \"b\"\np if { f(1) == 0 }",
                      "match error\n\tleft  : string\n\tright : number");
    /* rules of several types: OPA's merge of the types of every definition */
    expect_type_error("package p\nq := 1 if input.a\nq := true if input.b\np if { upper(q) }",
                      "upper: invalid argument(s)\n\thave: (any<boolean, number>)\n\twant: (x: string, y: string)");
    expect_type_error("package p\nq := 1 if input.a else := true\np if { upper(q) }",
                      "upper: invalid argument(s)\n\thave: (any<boolean, number>)\n\twant: (x: string, y: string)");
    expect_type_error("package p\ns contains 1\ns contains true\np if { some x in s; upper(x) }",
                      "upper: invalid argument(s)\n\thave: (any<boolean, number>)\n\twant: (x: string, y: string)");
    expect_type_error("package p\no[k] := 1 if some k in [\"a\"]\np if { some k, _ in o; abs(k) }",
                      "abs: invalid argument(s)\n\thave: (string)\n\twant: (x: number, y: number)");
    expect_type_error("package p\na.b[x] contains 1 if some x in [\"k\"]\np if { upper(a.b.k[_]) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    expect_type_error("package p\ns contains [1]\ns contains [true]\np if { x := s[_]; upper(x[0]) }",
                      "upper: invalid argument(s)\n\thave: (any<boolean, number>)\n\twant: (x: string, y: string)");
    expect_compiles("package p\ns contains [1]\ns contains [\"a\", 2]\np if { x := s[_]; upper(x[1]) }");
    /* iteration: a key variable has the type of the collection's keys */
    expect_type_error("package p\np if { xs := [1]; some i; xs[i]; upper(i) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    expect_type_error("package p\nq := {\"a\": 1}\np if { x := q[k]; abs(k) }",
                      "abs: invalid argument(s)\n\thave: (string)\n\twant: (x: number, y: number)");
    expect_type_error("package p\nq := [1]\np if { upper(q[_]) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    /* a function's arguments have the types their use in its bodies gives them */
    expect_type_error("package p\nf(x) := upper(x)\np if { f(1) }",
                      "data.p.f: invalid argument(s)\n\thave: (number)\n\twant: (string, string)");
    expect_type_error("package p\nf(x) if x == 1\np if { f(\"a\") }",
                      "data.p.f: invalid argument(s)\n\thave: (string)\n\twant: (number, boolean)");
    expect_type_error("package p\nf(x, y) if { x in [1, 2]; y == \"a\" }\np if { f(1, 2) }",
                      "data.p.f: invalid argument(s)\n\thave: (number, number)\n\twant: (number, string, boolean)");
    expect_type_error("package p\nf(x) := 1 if { x == 1 } else := 2 if { x == \"a\" }\np if { f(true) }",
                      "data.p.f: invalid argument(s)\n\thave: (boolean)\n\twant: (any<number, string>, number)");
    expect_type_error("package p\nf([a, b]) := a + b\np if { f([\"x\", 1]) }",
                      "data.p.f: invalid argument(s)\n\thave: (array<string, number>)\n\twant: (array<number, "
                      "number>, number)");
    expect_type_error("package p\nf(x) if { upper(x) }\np if { x := f(1) }",
                      "data.p.f: invalid argument(s)\n\thave: (number, ?\?\?)\n\twant: (string, boolean)");
    expect_type_error("package p\nf(x) := z if { z := upper(x) }\np if { f(\"a\", out); abs(out) }",
                      "abs: invalid argument(s)\n\thave: (string)\n\twant: (x: number, y: number)");
    /* OPA's reference checks: a key into a scalar */
    expect_type_error("package p\np if { x := 1; x[0] }", "undefined ref: x[0]\n\tx[0]\n\t^\n\thave: number");
    expect_type_error("package p\np if { some v in {\"a\": 1, \"b\": \"x\"}; some k, w in v }",
                      "undefined ref: v[k]\n\tv[k]\n\t^\n\thave: any<number, string>");
    expect_compiles("package p\np if { some v in {\"a\": 1, \"b\": [1]}; some w in v }");
    expect_type_error("package p\np if { x := \"abc\"; some k, y in x }",
                      "undefined ref: x[k]\n\tx[k]\n\t^\n\thave: string");
    /* queries are checked as OPA's rego package checks them: a call's value is
     * captured (???), and a == b is a call of equal, not a unification */
    expect_error("package p\nq := 1", "x := upper(data.p.q)", "rego_type_error",
                 "upper: invalid argument(s)\n\thave: (number, ?\?\?)\n\twant: (x: string, y: string)");
    expect_error("package p\nq := [1]", "some i; data.p.q[i]; upper(i)", "rego_type_error",
                 "upper: invalid argument(s)\n\thave: (number, ?\?\?)");
    expect_result("package p\nq := 1", "x := data.p.q; not x == \"a\"", NULL, "[{\"x\":1}]");
    expect_result("package p\nq := 1", "x := [y | y := data.p.q; y == \"a\"]", NULL, "[{\"x\":[]}]");
    /* the location is the call's */
    struct rego_error err = { 0 };
    struct rego *r = rego_new();
    const char *m = "package p\n\np if {\n  x := 1\n  upper(x)\n}";
    assert_int_equal(rego_add_module(r, "t.rego", m, strlen(m), &err), 0);
    assert_int_equal(rego_compile(r, &err), -1);
    assert_int_equal(err.line, 5);
    assert_int_equal(err.col, 3);
    rego_free(r);

    /* what OPA accepts compiles */
    expect_compiles("package p\np if { x := input.a; upper(x); abs(x) }");
    expect_compiles("package p\np if { some x in input.a; upper(x) }");
    expect_compiles("package p\np if { upper(data.q.r) }");
    expect_compiles("package p\nf(x) := upper(x) if input.a\nf(x) := abs(x) if input.b\np if { f(\"a\"); f(1) }");
    expect_compiles("package p\nf(x) if { count(x) > 1 }\np if { f(\"ab\"); f([1]) }");
    expect_compiles("package p\nf(x) if { x == input.a; upper(x) }\np if { f(1) }");   /* x is any first */
    expect_compiles("package p\nf(x) if { x[0] == 1 }\np if { f(\"a\") }");
    expect_compiles("package p\ndefault f(_) := 0\nf(x) := 1 if { x == 1 }\np if { f(\"b\") }");
    expect_compiles("package p\nf(x) if { y := [z | z := upper(x)]; count(y) > 0 }\np if { f(1) }");
    expect_compiles("package p\nq := 1 if input.a\nq := \"a\" if input.b\np if { upper(q) }");
    expect_compiles("package p\nq := 1\np if { upper(q) with data.p.q as \"a\" }");
    /* an empty collection: as OPA types it, unless a `with` may replace the rule */
    expect_type_error("package p\nq := []\np if { upper(q) }",
                      "upper: invalid argument(s)\n\thave: (array)\n\twant: (x: string, y: string)");
    expect_compiles("package p\nq := []\np if { upper(q) }\ntest_p if { p with data.p.q as \"a\" }");
    expect_type_error("package p\ndefault q := []\nq := [1] if input.a\np if { some v in q; upper(v) }",
                      "upper: invalid argument(s)\n\thave: (number)\n\twant: (x: string, y: string)");
    expect_compiles("package p\ndefault q := {}\nq := {k: \"x\" | some k in input.a}\np if { some v in q; upper(v) }");
    expect_compiles("package p\nq := 1 if input.a\nq := \"a\" if input.b\np if { upper(q) }");
    expect_compiles("package p\ns contains 1\ns contains \"a\"\np if { upper(s[_]) }");
    expect_compiles("package p\no[k] := {\"a\": 1} if some k in [\"a\"]\n"
                    "o[k] := {\"a\": \"s\"} if some k in [\"b\"]\np if { upper(o.a.a) }");
    expect_compiles("package p\nq := []\np if { some i; q[i]; upper(i) }");   /* an empty collection's keys */
    expect_compiles("package p\nq := {\"a\": input.x}\np if { upper(q.a); abs(q[_]) }");
    expect_compiles("package p\np if { every x in [1] { upper(x) } }");
    expect_compiles("package p\np if { [x, y] := [1, \"a\"]; upper(y) }");
    expect_compiles("package p\np if { x := [1, \"a\"]; upper(x[1]) }");
    expect_compiles("package p\np if { s := {1, \"a\"}; some v in s; upper(v) }");
    expect_compiles("package p\np if { x := 1; x == 1.5; y := \"a\"; y != 1 }");
    expect_compiles("package p\np if { count(\"abc\") == 3; count({1}) == 1; count({\"a\": 1}) == 1 }");
    expect_compiles("package p\np := x if { x := {1} | {\"a\"}; x - {1} == {\"a\"} }");
    expect_compiles("package p\np if { x := split(\"a,b\", \",\"); upper(x[0]); x[_] == \"b\" }");
    expect_compiles("package p\np if { walk(input, [path, v]); count(path) > 0 }");
    expect_compiles("package p\np if { print(1, \"a\", [2]) }");
    /* v can be bound by two expressions: OPA's order binds it by input.x
     * (any) first, this compiler's by y + 1 (number) */
    expect_compiles("package p\np if {\n  v = y + 1\n  y = 2\n  v = input.x\n  upper(v)\n}");
    /* a typed variable inside a literal that OPA unifies with a union (or any)
     * takes the join of the types it meets there: x is any after count([x]) */
    expect_compiles("package p\np if { x := \"a\"; count([x]) > 0; abs(x) }");
    expect_compiles("package p\np if { x := \"a\"; y := count({\"k\": x}); abs(x) }");
    expect_compiles("package p\np if { x := \"a\"; json.marshal([x]); abs(x) }");
    expect_compiles("package p\np if { x := \"a\"; [[x], y] = [input.a, 1]; abs(x) }");
    /* a key written twice: the last value is the object's */
    expect_compiles("package p\np := strings.replace_n({\"a\": 1, \"a\": \"x\"}, \"abc\")");
    expect_type_error("package p\np := strings.replace_n({\"a\": \"x\", \"a\": 7}, \"abc\")",
                      "strings.replace_n: invalid argument(s)\n\thave: (object<a: number>, string, ?\?\?)\n\t"
                      "want: (patterns: object[string: string], value: string, output: string)");
    /* a binary operator on the next line continues the expression, as in
     * OPA: this is 1 - 1 == 0, not a comparison of 1 with "-1 == 0" */
    expect_result("package p\np := x if {\n  x := 1\n  -1 == 0\n}", "x := data.p.p", NULL,
                  "[{\"x\":true}]");
    expect_result("package p\np := 1\n-2", "x := data.p.p", NULL, "[{\"x\":-1}]");
}

/* ------------------------------------------------------------------ evaluation */

static void test_conflicts(void **state)
{
    (void)state;
    expect_error("package a\np := 1\np := 2", "data.a.p", "eval_conflict_error", "complete rules");
    expect_error("package a\nf(_) := 1\nf(_) := 2\np := f(0)", "data.a.p", "eval_conflict_error",
                 "functions must not produce multiple outputs");
}

/* Rules with variables in their head reference (Rego v1 ref heads); the
 * answers are OPA v1.22.4's. */
static void test_ref_heads(void **state)
{
    (void)state;
    const char *multi = "package p\n"
                        "a[x] contains y if { some x in [\"k1\", \"k2\"]; some y in [1, 2] }\n"
                        "a.k3 contains 5\n"
                        "a.k1 contains 7\n";
    expect_result(multi, "x := data.p.a", NULL, "[{\"x\":{\"k1\":[1,2,7],\"k2\":[1,2],\"k3\":[5]}}]");
    expect_result(multi, "x := data.p.a.k2", NULL, "[{\"x\":[1,2]}]");
    expect_result(multi, "data.p.a[k][3]", NULL, "[]");
    expect_result("package p\na[x] contains 1 if x := \"k\"", "x := data.p.a", NULL, "[{\"x\":{\"k\":[1]}}]");
    expect_result("package p\na.b[c] := d if { some c, d in {\"x\": 1, \"y\": 2} }\na.b.z := 3\nq.r.s := 1",
                  "x := data.p", NULL, "[{\"x\":{\"a\":{\"b\":{\"x\":1,\"y\":2,\"z\":3}},\"q\":{\"r\":{\"s\":1}}}}]");
    /* the same value at one path is one value; a different one is a conflict */
    expect_result("package p\na.b[x] := 1 if { some x in [\"c\", \"d\"] }\na.b.c := 1", "x := data.p.a", NULL,
                  "[{\"x\":{\"b\":{\"c\":1,\"d\":1}}}]");
    expect_error("package p\na.b[x] := x if { some x in [\"c\", \"d\"] }\na.b.c := 1", "data.p.a",
                 "eval_conflict_error", "object keys must be unique");
    /* a value inside another rule's value */
    expect_error("package p\na[x] := 1 if { some x in [\"b\"] }\na.b.c := 2", "data.p", "eval_conflict_error",
                 "object keys must be unique");
    expect_error("package p\np[q].r := v if { q := \"q\"; v := {\"s\": {\"t\": 1}} }\np.q.r.s.u := 42", "data.p",
                 "eval_conflict_error", NULL);
    /* compile time: a complete rule with rules below it; multi- and single-value at one node */
    expect_error("package p\na.b := 1\na.b.c := 2", "data.p", "rego_type_error", "conflicts with");
    expect_error("package p\na[x] contains 1 if { some x in [\"b\"] }\na[x] := 1 if { some x in [\"c\"] }",
                 "data.p", "rego_type_error", "conflicting rules");
    /* a set rule without elements below an object rule adds no key (OPA) */
    expect_result("package p\na[x] contains 1 if { x := \"q\" }\na.b contains 1 if false\na.c.d contains 1 if false",
                  "x := data.p", NULL, "[{\"x\":{\"a\":{\"q\":[1]}}}]");
    /* ... nor an object rule without keys; asked for directly, it is undefined */
    const char *empty = "package p\nh[v] := 1 if { some v in input.e }\nh.a[v] := v if { some v in input.e }\n"
                        "h.b.c[v] := v if { some v in input.e }\ng.a[v] := v if { some v in input.e }\n";
    expect_result(empty, "x := data.p", "{\"e\": []}", "[{\"x\":{\"g\":{\"a\":{}},\"h\":{}}}]");
    expect_result(empty, "x := data.p.h.a", "{\"e\": []}", "[]");
    expect_result(empty, "x := data.p.h", "{\"e\": [\"k\"]}",
                  "[{\"x\":{\"a\":{\"k\":\"k\"},\"b\":{\"c\":{\"k\":\"k\"}},\"k\":1}}]");
    /* the conflict disappears with the overlapping rule */
    expect_result("package p\na[x] := 1 if { some x in [\"b\"] }", "x := data.p", NULL, "[{\"x\":{\"a\":{\"b\":1}}}]");
}

/* every over something that is not a collection is false, as in OPA:
 * the rule must not pass for a scalar where a list was expected */
static void test_every_non_collection(void **state)
{
    (void)state;
    const char *m = "package p\ndefault ok := false\nok if { every v in input.xs { v > 1 } }";
    expect_result(m, "x := data.p.ok", "{\"xs\": [2, 3]}", "[{\"x\":true}]");
    expect_result(m, "x := data.p.ok", "{\"xs\": []}", "[{\"x\":true}]");
    expect_result(m, "x := data.p.ok", "{\"xs\": 42}", "[{\"x\":false}]");
    expect_result(m, "x := data.p.ok", "{\"xs\": \"foobar\"}", "[{\"x\":false}]");
    expect_result(m, "x := data.p.ok", "{\"xs\": null}", "[{\"x\":false}]");
}

/* `not` as OPA compiles it: the references among a negated call's
 * arguments (and nested calls) are evaluated before the negation, so the
 * expression fails, not holds, when one of them is undefined; a reference
 * on its own or a side of `=`/`==` keeps its own undefinedness inside. */
static void test_not_undefined_operands(void **state)
{
    (void)state;
    const char *m = "package p\n"
                    "call if { not upper(input.missing) }\n"
                    "nested if { not startswith(lower(input.missing), \"a\") }\n"
                    "cmp if { not input.missing <= 3 }\n"
                    "member if { not input.missing in {1} }\n"
                    "user if { not f(input.missing) }\n"
                    "f(x) := true\n"
                    "path if { not input.obj[input.missing] == 1 }\n"
                    "elem if { not [input.missing] = [1] }\n"
                    "term if { not input.missing }\n"
                    "eq if { not input.missing == 1 }\n"
                    "unify if { not input.missing = 1 }\n"
                    "defined if { not upper(input.s) == \"B\" }\n";
    expect_result(m, "x := data.p", "{\"s\": \"a\", \"obj\": {}}",
                  "[{\"x\":{\"defined\":true,\"eq\":true,\"term\":true,\"unify\":true}}]");
    /* `not { ... }` and `not x` under future.keywords.not keep it all inside */
    expect_result("package p\nimport future.keywords.not\nr if { not upper(input.missing) }", "x := data.p.r", "{}",
                  "[{\"x\":true}]");
    expect_result("package p\nimport rego.v2\nr if { not { upper(input.missing) } }\ns if not upper(input.missing)",
                  "x := data.p", "{}", "[{\"x\":{\"r\":true,\"s\":true}}]");
}

/* An infix operator at the start of a line continues the expression above
 * it, as OPA's parser reads it: `x := 5` then `-1 < 0` is `x := 5 - 1 < 0`. */
static void test_operator_next_line(void **state)
{
    (void)state;
    expect_result("package p\nr := x if {\n\tx := 5\n\t-1 < 0\n}\ns := x if {\n\tx := 5\n\t* 2 == 10\n}\n"
                  "t := x if {\n\tx := [5]\n\t[1] == [1]\n}\n",
                  "x := data.p", NULL, "[{\"x\":{\"r\":false,\"s\":true,\"t\":[5]}}]");
}

/* Bytes that are not UTF-8 reach JSON values as U+FFFD, as Go's
 * encoding/json writes OPA's strings (jansson refuses them otherwise, and
 * the value or key went missing). */
static void test_json_invalid_utf8(void **state)
{
    (void)state;
    struct rego *r = rego_new();
    struct rego_error err = { 0 };
    assert_int_equal(rego_compile(r, &err), 0);
    struct rego_query *q = rego_prepare(r, "x := hex.decode(\"ab\"); y := {hex.decode(\"ff\"): 1}", &err);
    assert_non_null(q);
    json_t *res = NULL;
    assert_int_equal(rego_query_eval_json(q, NULL, &res, &err), 0);
    char *s = json_dumps(res, JSON_COMPACT | JSON_ENSURE_ASCII);
    assert_string_equal(s, "[{\"x\":\"\\uFFFD\",\"y\":{\"\\uFFFD\":1}}]");
    free(s);
    json_decref(res);
    rego_query_free(q);
    rego_free(r);
}

/* Base data that is not an object stays where only an empty package is
 * below it, as in OPA: data.a is 1, data.a.b the empty package. */
static void test_base_data_over_empty_package(void **state)
{
    (void)state;
    struct rego *r = rego_new();
    struct rego_error err = { 0 };
    const char *m = "package a.b\n";
    assert_int_equal(rego_add_module(r, "a.rego", m, strlen(m), &err), 0);
    json_t *d = json_pack("{s:i}", "a", 1);
    assert_int_equal(rego_add_data(r, d, &err), 0);
    json_decref(d);
    assert_int_equal(rego_compile(r, &err), 0);
    struct rego_query *q = rego_prepare(r, "x := data.a; y := data.a.b", &err);
    assert_non_null(q);
    char *out = NULL;
    assert_int_equal(rego_query_eval(q, NULL, 0, &out, &err), 0);
    assert_string_equal(out, "[{\"x\":1,\"y\":{}}]");
    free(out);
    rego_query_free(q);
    rego_free(r);
}

static void test_step_budget(void **state)
{
    (void)state;
    struct rego_options o = { .max_steps = 10000 };
    struct rego_error err = { 0 };
    const char *m = "package a\nn := numbers.range(1, 1000)\np := count([1 | n[_]; n[_]; n[_]])";
    char *r = eval_with(m, "data.a.p", NULL, &err, &o);
    assert_null(r);
    assert_string_equal(err.code, "eval_cancel_error");
    assert_non_null(strstr(err.message, "budget"));
}

static void expect_budget_error(const char *module, const char *query, uint64_t max_memory)
{
    struct rego_options o = { .max_steps = 1ULL << 40, .max_memory = max_memory };
    struct rego_error err = { 0 };
    char *r = eval_with(module, query, NULL, &err, &o);
    if (r)
        fail_msg("expected the memory budget error, got %s", r);
    assert_string_equal(err.code, "eval_budget_error");
    assert_non_null(strstr(err.message, "memory budget exceeded"));
}

static void test_memory_budget(void **state)
{
    (void)state;
    /* ever-larger arrays: n^2/2 elements */
    expect_budget_error("package a\n"
                        "p := [[x | some x in numbers.range(2000, 2000 + i)] | some i in numbers.range(1, 100000)]",
                        "data.a.p", 16u << 20);
    /* ever-longer strings */
    expect_budget_error("package a\n"
                        "p := [concat(\",\", [sprintf(\"%d\", [j]) | some j in numbers.range(1, i)]) | "
                        "some i in numbers.range(1, 100000)]",
                        "data.a.p", 16u << 20);
    /* one builtin whose output dwarfs its input: refused before it is made */
    expect_budget_error("package a\n"
                        "s := concat(\"\", [\"aaaaaaaa\" | some _ in numbers.range(1, 100000)])\n"
                        "p := count(replace(s, \"a\", s))",
                        "data.a.p", 16u << 20);
    /* the budget stops an expression in a rule body too, where builtin
     * errors would only make the rule undefined */
    expect_budget_error("package a\n"
                        "s := concat(\"\", [\"aaaaaaaa\" | some _ in numbers.range(1, 100000)])\n"
                        "p if { count(replace(s, \"a\", s)) > 0 }\n"
                        "q := 1 if not p",
                        "data.a.q", 16u << 20);
    /* a set built from a large range */
    expect_budget_error("package a\np := {x | some x in numbers.range(1, 5000000)}", "data.a.p", 8u << 20);

    /* the same policies with room enough, and the default budget, work */
    struct rego_options o = { .max_memory = 64u << 20 };
    struct rego_error err = { 0 };
    char *r = eval_with("package a\n"
                        "p := count([[x | some x in numbers.range(2000, 2000 + i)] | some i in numbers.range(1, 100)])",
                        "x := data.a.p", NULL, &err, &o);
    assert_non_null(r);
    assert_string_equal(r, "[{\"x\":100}]");
    free(r);
    expect_result("package a\np := count({x | some x in numbers.range(1, 100000)})", "x := data.a.p", NULL,
                  "[{\"x\":100000}]");
}

static void test_memory_budget_reuse(void **state)
{
    (void)state;
    /* a prepared query that ran out of memory once is reusable, and the
     * budget counts what is live, not what was ever allocated */
    struct rego *r = rego_new();
    struct rego_options o = { .max_memory = 32u << 20 };
    rego_set_options(r, &o);
    struct rego_error err = { 0 };
    const char *m = "package a\n"
                    "p := count([x | some x in numbers.range(1, input.n)])\n"
                    "q := sum([count(sprintf(\"%d-%s\", [i, concat(\"\", [\"xxxxxxxxxxxxxxxxxxxxxxxx\" | some _ in numbers.range(1, 10)])])) | some i in numbers.range(1, 200000)])\n";
    assert_int_equal(rego_add_module(r, "t.rego", m, strlen(m), &err), 0);
    assert_int_equal(rego_compile(r, &err), 0);
    struct rego_query *q = rego_prepare(r, "x := data.a.p", &err);
    assert_non_null(q);
    char *out = NULL;
    assert_int_equal(rego_query_eval(q, "{\"n\": 5000000}", 14, &out, &err), -1);
    assert_string_equal(err.code, "eval_budget_error");
    assert_int_equal(rego_query_eval(q, "{\"n\": 1000}", 11, &out, &err), 0);
    assert_string_equal(out, "[{\"x\":1000}]");
    free(out);
    rego_query_free(q);
    /* 200000 strings of 250 bytes made and dropped one by one: 50 MB in
     * total, never more than a few KiB of them at once (the rest is the
     * range, 8 MB, and the array of counts, 2 MB) */
    q = rego_prepare(r, "x := data.a.q", &err);
    assert_non_null(q);
    assert_int_equal(rego_query_eval(q, NULL, 0, &out, &err), 0);
    free(out);
    rego_query_free(q);
    rego_free(r);
}

/* Go's semantics in the string and number builtins: one row per case,
 * the query's result as `[{"x": ...}]` or an error code. */
struct builtin_case {
    const char *query;
    const char *want;   /* result JSON, or "!code" for an error */
};

static void run_cases(const struct builtin_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct rego_error err = { 0 };
        struct rego_options o = { .strict_builtin_errors = 1 };
        char *got = eval_with(NULL, c[i].query, NULL, &err, &o);
        if (c[i].want[0] == '!') {
            if (got)
                fail_msg("%s: want error %s, got %s", c[i].query, c[i].want + 1, got);
            if (strcmp(err.code, c[i].want + 1) != 0)
                fail_msg("%s: want error %s, got %s: %s", c[i].query, c[i].want + 1, err.code, err.message);
            continue;
        }
        if (!got) {
            char buf[800];
            fail_msg("%s: unexpected error %s", c[i].query, rego_error_string(&err, buf, sizeof buf));
        }
        if (strcmp(got, c[i].want) != 0)
            fail_msg("%s: want %s, got %s", c[i].query, c[i].want, got);
        free(got);
    }
}

static void test_go_strings(void **state)
{
    (void)state;
    static const struct builtin_case cases[] = {
        /* upper / lower: Unicode simple case mapping, invalid bytes to U+FFFD */
        { "x := upper(\"Hellö\")", "[{\"x\":\"HELLÖ\"}]" },
        { "x := upper(\"straße ǆ ﬃ\")", "[{\"x\":\"STRAßE Ǆ ﬃ\"}]" },
        { "x := lower(\"ÀÉÎ İ ΣΑΣ\")", "[{\"x\":\"àéî i σασ\"}]" },
        { "x := upper(\"ǅ\")", "[{\"x\":\"Ǆ\"}]" },
        { "x := upper(base64.decode(\"Yf9i\"))", "[{\"x\":\"A\ufffdB\"}]" },
        { "x := lower(\"\")", "[{\"x\":\"\"}]" },
        /* trim* with Unicode cutsets, compared as runes */
        { "x := trim(\"¡¡hola!!\", \"¡!\")", "[{\"x\":\"hola\"}]" },
        { "x := trim_left(\"ééabc\", \"é\")", "[{\"x\":\"abc\"}]" },
        { "x := trim_right(\"abc→→\", \"→\")", "[{\"x\":\"abc\"}]" },
        { "x := trim(base64.decode(\"w2FiYw==\"), base64.decode(\"ww==\"))", "[{\"x\":\"abc\"}]" },
        { "x := trim(base64.decode(\"w2FiYw==\"), \"\ufffd\")", "[{\"x\":\"abc\"}]" },
        { "x := trim_space(\"\u2003 hi \u00a0\\n\")", "[{\"x\":\"hi\"}]" },
        { "x := trim_space(\"\u200b hi\")", "[{\"x\":\"\u200b hi\"}]" },
        /* runes, not bytes */
        { "x := count(\"héllo\")", "[{\"x\":5}]" },
        { "x := count(base64.decode(\"gIA=\"))", "[{\"x\":2}]" },
        { "x := indexof(\"héllo\", \"l\")", "[{\"x\":2}]" },
        { "x := indexof(\"héllo\", \"z\")", "[{\"x\":-1}]" },
        { "x := indexof(\"abc\", \"\")", "!eval_builtin_error" },
        { "x := indexof_n(\"ééé\", \"éé\")", "[{\"x\":[0,1]}]" },
        { "x := substring(\"héllo\", 1, 3)", "[{\"x\":\"éll\"}]" },
        { "x := substring(\"héllo\", 2, -1)", "[{\"x\":\"llo\"}]" },
        { "x := substring(\"héllo\", 9, 1)", "[{\"x\":\"\"}]" },
        { "x := substring(\"abc\", -1, 1)", "!eval_builtin_error" },
        { "x := strings.reverse(\"héllo→\")", "[{\"x\":\"→olléh\"}]" },
        { "x := strings.count(\"ééé\", \"\")", "[{\"x\":4}]" },
        { "x := split(\"aé\", \"\")", "[{\"x\":[\"a\",\"é\"]}]" },
        /* numbers at the edges */
        { "x := abs(-9223372036854775808)", "[{\"x\":9223372036854775808}]" },
        { "x := round(-2.5)", "[{\"x\":-3}]" },
        { "x := round(2.5)", "[{\"x\":3}]" },
        { "x := ceil(-0.5)", "[{\"x\":0}]" },
        { "x := floor(-0.5)", "[{\"x\":-1}]" },
        { "x := 100000000000000000000000 % 7", "[{\"x\":5}]" },
        { "x := -123456789012345678901234567891 % 7", "[{\"x\":-1}]" },
        { "x := 10 % 18446744073709551616", "[{\"x\":10}]" },
        { "x := 18446744073709551616 % 0", "!eval_builtin_error" },
        { "x := 1.5 % 1", "!eval_builtin_error" },
        { "x := to_number(\"NaN\")", "!eval_type_error" },
        { "x := to_number(\"-Infinity\")", "!eval_type_error" },
        { "x := to_number(\"+5\")", "[{\"x\":5}]" },
        { "x := to_number(\".5\")", "[{\"x\":0.5}]" },
        { "x := to_number(\"1e400\")", "!eval_builtin_error" },
        { "x := to_number(\"abc\")", "!eval_builtin_error" },
        { "x := format_int(100000000000000000000000, 16)", "[{\"x\":\"152d02c7e14af6800000\"}]" },
        { "x := format_int(-1.9, 2)", "[{\"x\":\"-1\"}]" },
        { "x := format_int(255, 7)", "!eval_builtin_error" },
        /* sprintf as Go's fmt with OPA's argument types (int, *big.Int,
         * float64, string; other values as their Rego text) */
        { "x := sprintf(\"%d|%5d|%-5d|%05d|%x|%#x|%o|%b|%c|%U\", [42, 42, 42, -42, 255, 255, 8, 5, 233, 233])",
          "[{\"x\":\"42|   42|42   |-0042|ff|0xff|10|101|é|U+00E9\"}]" },
        { "x := sprintf(\"%s|%d|%v|%t\", [1, 1.5, 1234567.5, true])",
          "[{\"x\":\"%!s(int=1)|%!d(float64=1.5)|1.2345675e+06|%!t(string=true)\"}]" },
        { "x := sprintf(\"%g|%.3g|%e|%8.3f|%v\", [3.14159265, 3.14159265, 1234.5678, 3.14159, 0.1])",
          "[{\"x\":\"3.14159265|3.14|1.234568e+03|   3.142|0.1\"}]" },
        { "x := sprintf(\"%5s|%-3s|%.2s|%x|%d\", [\"é\", \"a\", \"héllo\", \"hi\", \"s\"])",
          "[{\"x\":\"    é|a  |hé|6869|%!d(string=s)\"}]" },
        { "x := sprintf(\"%s %s\", [1])", "[{\"x\":\"%!s(int=1) %!s(MISSING)\"}]" },
        { "x := sprintf(\"%s\", [\"a\", 2])", "[{\"x\":\"a%!(EXTRA int=2)\"}]" },
        { "x := sprintf(\"%s|%v\", [123456789123456789123, [1, \"a\"]])",
          "[{\"x\":\"123456789123456789123|[1, \\\"a\\\"]\"}]" },
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Tokens signed with the openssl command line (RS256 with a 2048-bit RSA
 * key, ES256 on P-256, the signature converted from DER to r || s). */
static const char *const JWT_RS256 = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlzcyI6ImVuY2xhdmUifQ.Ckebrld5bbboqeNJSnFmmX-gBPIe0VgPwkt0e-DvD9MxJ3mUNvlEDIetfe5PsNKRAK02BTO4VdCCtU9fmeViIyCFY0efMN-MXjxJjVPZapi_n_0FXZQTnwmaYTfChhBwJo_Gy4DD8QkOokyPL2vyx_aUdBmMJ3Cg1T2fFNUi2BcE-gUmC_7nJBSBa0uzDbQ9E9WQNO3moyfI652RKoZ4BReUFipgdRPib8FAp63A8V-P3v6jxy5thQARS2Pm9fwVq8JwF2hl1prAE0YjC-K_Tn5DWxS4xQBCFFdiFGTenfNUZALN50BIXx1cSjMVLqYJ7RGrXovbWdrdq9tCiowS1g";
static const char *const JWT_ES256 = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImlzcyI6ImVuY2xhdmUifQ.fikFRICB8B4I3AhpWVakn62yITXkp4B8XM0rc_efKRAz72pBk0AYH0-NvsYE9mNyMPTZ5g0xOPvZXQg-6CddcQ";
static const char *const RSA_PUB =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtn5bL2wj8oF7FauksyT1\n"
    "jjc4ysq/6RrAR6iuROdtQ6JXH3kwNCUBQ8xLGabDucoddamSdQGQtk02KjOztBVe\n"
    "D4fIAlabyhHdY5BdC1UijqxaNHomQRQKVi36tx7z+2HBjTwG1HszVEmt/2YTAfHj\n"
    "27wlFfLsOhXiKuOVx6KOjHK6C7MV2iGwLRu48Iv9nc44qmn63HUye3fYlTFHt0kK\n"
    "9vUTLijNQ8j/KH/olZ3CenlONvMLSw1zLjXEPHO0xg2I2tv8+KBj3Y9uFuHBNpK0\n"
    "ZiloIgcYHjA0ER6gfAIfLmS88BGfczA6kck/AUEhDHbta7y5FUqH16ubAbRo8CD3\n"
    "WQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char *const EC_PUB =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgxnzMCBpq3iCIjs3xX23cfLFJ3gY\n"
    "RfY8lOLt0F2vGp2gXhfDRS00kjeLj4wUP2AvTQuOMrOFqjAqqUOSpJ7ldA==\n"
    "-----END PUBLIC KEY-----\n";

static bool verify(const char *fn, const char *token, const char *key)
{
    json_t *in = json_pack("{s:s, s:s}", "t", token, "k", key);
    char *text = json_dumps(in, 0);
    json_decref(in);
    char q[96];
    snprintf(q, sizeof q, "x := %s(input.t, input.k)", fn);
    struct rego_error err = { 0 };
    struct rego_options o = { .strict_builtin_errors = 1 };
    char *got = eval_with(NULL, q, text, &err, &o);
    free(text);
    if (!got)
        fail_msg("%s: %s", fn, err.message);
    bool ok = strcmp(got, "[{\"x\":true}]") == 0;
    if (!ok && strcmp(got, "[{\"x\":false}]") != 0)
        fail_msg("%s: %s", fn, got);
    free(got);
    return ok;
}

/* json.match_schema / verify_schema and strings.render_template: answers
 * as OPA v1.22.4 gives them (checked with fuzz-rego-diff), hostile input. */
static void test_schema_and_templates(void **state)
{
    (void)state;
    static const struct builtin_case cases[] = {
        { "x := json.match_schema({\"id\": \"foo\"}, {\"properties\": {\"id\": {\"type\": \"integer\"}}, \"required\": [\"id\", \"n\"]})",
          "[{\"x\":[false,[{\"desc\":\"n is required\",\"error\":\"(Root): n is required\",\"field\":\"(Root)\",\"type\":\"required\"},"
          "{\"desc\":\"Invalid type. Expected: integer, given: string\",\"error\":\"id: Invalid type. Expected: integer, given: string\","
          "\"field\":\"id\",\"type\":\"invalid_type\"}]]}]" },
        { "x := json.match_schema(\"[1, 2, 2]\", \"{\\\"uniqueItems\\\": true, \\\"items\\\": {\\\"maximum\\\": 1.5}}\")",
          "[{\"x\":[false,[{\"desc\":\"Must be less than or equal to 1.5\",\"error\":\"1: Must be less than or equal to 1.5\",\"field\":\"1\",\"type\":\"number_lte\"},"
          "{\"desc\":\"Must be less than or equal to 1.5\",\"error\":\"2: Must be less than or equal to 1.5\",\"field\":\"2\",\"type\":\"number_lte\"},"
          "{\"desc\":\"array items[1,2] must be unique\",\"error\":\"(Root): array items[1,2] must be unique\",\"field\":\"(Root)\",\"type\":\"unique\"}]]}]" },
        { "x := json.match_schema({\"a\": 1}, {\"definitions\": {\"s\": {\"type\": \"string\"}}, \"additionalProperties\": {\"$ref\": \"#/definitions/s\"}})",
          "[{\"x\":[false,[{\"desc\":\"Invalid type. Expected: string, given: integer\",\"error\":\"a: Invalid type. Expected: string, given: integer\",\"field\":\"a\",\"type\":\"invalid_type\"}]]}]" },
        { "x := json.match_schema({\"a\": \"\u00e9\u00e9\"}, {\"properties\": {\"a\": {\"maxLength\": 2, \"pattern\": \"^\u00e9+$\"}}})", "[{\"x\":[true,[]]}]" },
        { "x := json.verify_schema({\"type\": \"boolean\"})", "[{\"x\":[true,null]}]" },
        { "x := json.verify_schema(\"{\\\"minLength\\\": 3, \\\"maxLength\\\": 1}\")",
          "[{\"x\":[false,\"jsonschema: minLength cannot be greater than maxLength\"]}]" },
        { "x := json.verify_schema(\"{not json\")", "[{\"x\":[false,\"jsonschema: invalid JSON string\"]}]" },
        /* a number where a schema is wanted: refused when the query is compiled (as by
         * OPA), and as a value the checker cannot type, a complaint */
        { "x := json.verify_schema(5)", "!rego_type_error" },
        { "x := json.verify_schema(json.unmarshal(\"5\"))",
          "[{\"x\":[false,\"jsonschema: wrong type, expected string or object\"]}]" },
        { "x := json.match_schema({}, {\"type\": \"unknown\"})", "!eval_builtin_error" },
        /* a schema that refers to itself forever: an error, not a crash */
        { "x := json.match_schema(json.unmarshal(\"[[[[1]]]]\"), {\"anyOf\": [{\"$ref\": \"#\"}]})",
          "!eval_builtin_error" },
        { "x := json.match_schema([[[[1]]]], {\"anyOf\": [{\"$ref\": \"#\"}]})", "!rego_type_error" },
        { "x := json.match_schema(base64.decode(\"Iv8i\"), {})", "!eval_builtin_error" },
        /* json.marshal_with_options: Go's MarshalIndent */
        { "x := json.marshal_with_options({\"a\": [1, {}], \"b\": \"{,:}\"}, {\"prefix\": \"#\", \"indent\": \" \"})",
          "[{\"x\":\"#{\\n# \\\"a\\\": [\\n#  1,\\n#  {}\\n# ],\\n# \\\"b\\\": \\\"{,:}\\\"\\n#}\"}]" },
        { "x := json.marshal_with_options([1], {\"indent\": \"  \", \"pretty\": false})", "[{\"x\":\"[1]\"}]" },
        { "x := json.marshal_with_options([1], {\"colour\": 1})", "!eval_type_error" },
        { "x := json.marshal_with_options([1], json.unmarshal(\"{\\\"pretty\\\": \\\"yes\\\"}\"))", "!eval_type_error" },
        { "x := json.marshal_with_options([1], {\"pretty\": \"yes\"})", "!rego_type_error" },
        /* templates */
        { "x := strings.render_template(\"{{range $i, $n := .names}}{{if $i}},{{end}}hello {{$n}}{{end}}\", {\"names\": [\"a\", \"b\"]})",
          "[{\"x\":\"hello a,hello b\"}]" },
        { "x := strings.render_template(\"{{.n}} {{.f}} {{.a}} {{.m}} {{.missing}} {{.m.q}} {{len .n}}\", "
          "{\"n\": 1000000, \"f\": 2.5, \"a\": [\"x\", 1, null, true], \"m\": {\"b\": 2, \"a\": \"z\"}})",
          "[{\"x\":\"1000000 2.5 [x 1 \\u003cnil\\u003e true] map[a:z b:2] \\u003cundefined\\u003e \\u003cundefined\\u003e 7\"}]" },
        { "x := strings.render_template(\"{{- .s -}} x {{- .s}}{{/* c */}}{{with .e}}no{{else}}else{{end}}{{print .s 1 .n}}\", {\"s\": \"hi\", \"e\": \"\", \"n\": 3})",
          "[{\"x\":\"hixhielsehi13\"}]" },
        { "x := strings.render_template(\"{{printf \\\"%s-%d\\\" .s 3}} {{eq .s \\\"hi\\\"}} {{index .a 1}}\", {\"s\": \"hi\", \"a\": [1, 2]})",
          "[{\"x\":\"hi-3 true 2\"}]" },
        /* a number of the variables is OPA's json.Number: comparing it with a float literal is an error */
        { "x := strings.render_template(\"{{lt .f 3.0}}\", {\"f\": 2.5})", "!eval_builtin_error" },
        { "x := strings.render_template(\"{{.s\", {})", "!eval_builtin_error" },
        { "x := strings.render_template(\"{{end}}\", {})", "!eval_builtin_error" },
        { "x := strings.render_template(\"{{template \\\"a\\\"}}\", {})", "!eval_builtin_error" },
        { "x := strings.render_template(\"{{.s.x}}\", {\"s\": \"a\"})", "!eval_builtin_error" },
        { "x := strings.render_template(\"{{index .a 5}}\", {\"a\": [1]})", "!eval_builtin_error" },
        /* invalid UTF-8 in the template and the values passes through as bytes, as Go's does */
        { "x := base64.encode(strings.render_template(base64.decode(\"/3t7LnN9fQ==\"), {\"s\": base64.decode(\"/g==\")}))",
          "[{\"x\":\"//4=\"}]" },
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
    /* nested ranges whose output would be gigabytes: the memory budget stops them */
    expect_budget_error("package a\n"
                        "big := [x | some x in numbers.range(1, 300)]\n"
                        "p := strings.render_template(\"{{range $.a}}{{range $.a}}{{range $.a}}{{range $.a}}xxxxxxxxxxxxxxxx{{end}}{{end}}{{end}}{{end}}\", {\"a\": big})",
                        "data.a.p", 16u << 20);
    /* 100000 levels of nesting: a parse error, not a stack overflow */
    size_t n = 100000;
    char *deep = malloc(n * 9 + 64);
    size_t k = (size_t)sprintf(deep, "x := strings.render_template(\"");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(deep + k, "{{if 1}}");
    sprintf(deep + k, "\", {})");
    struct rego_error err = { 0 };
    struct rego_options o = { .strict_builtin_errors = 1 };
    char *got = eval_with(NULL, deep, NULL, &err, &o);
    assert_null(got);
    assert_string_equal(err.code, "eval_builtin_error");
    free(deep);
    /* a schema nested 100000 levels deep: refused, not a stack overflow */
    char *schema = malloc(n * 12 + 64);
    k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(schema + k, "{\"not\": ");
    k += (size_t)sprintf(schema + k, "{}");
    for (size_t i = 0; i < n; i++)
        schema[k++] = '}';
    schema[k] = 0;
    json_t *in = json_pack("{s:s}", "s", schema);
    char *injson = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    free(schema);
    memset(&err, 0, sizeof err);
    got = eval_with(NULL, "x := json.verify_schema(input.s)", injson, &err, &o);
    assert_non_null(got);   /* jansson refuses the depth: "invalid JSON string", not a crash */
    free(got);
    free(injson);
}

static void test_jwt_signatures(void **state)
{
    (void)state;
    assert_true(verify("io.jwt.verify_rs256", JWT_RS256, RSA_PUB));
    assert_true(verify("io.jwt.verify_es256", JWT_ES256, EC_PUB));
    /* another key type, or a payload changed after signing: false */
    assert_false(verify("io.jwt.verify_rs256", JWT_RS256, EC_PUB));
    assert_false(verify("io.jwt.verify_es256", JWT_ES256, RSA_PUB));
    char *bad = strdup(JWT_RS256);
    char *dot = strchr(bad, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_false(verify("io.jwt.verify_rs256", bad, RSA_PUB));
    free(bad);
    bad = strdup(JWT_ES256);
    dot = strchr(bad, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_false(verify("io.jwt.verify_es256", bad, EC_PUB));
    free(bad);
    /* hostile tokens: errors, never a crash */
    static const struct builtin_case cases[] = {
        { "x := io.jwt.decode(\"a.b\")", "!eval_builtin_error" },
        { "x := io.jwt.decode(\"...\")", "!eval_builtin_error" },
        { "x := io.jwt.decode(\"e30.e30.\")", "[{\"x\":[{},{},\"\"]}]" },
        { "x := io.jwt.decode(\"W10.e30.\")", "!eval_builtin_error" },
        { "x := io.jwt.verify_rs256(\"e30.e30.AAAA\", \"not a key\")", "!eval_builtin_error" },
        { "x := io.jwt.verify_hs256(\"e30.e30.AAAA\", \"k\")", "[{\"x\":false}]" },
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_new_builtins(void **state)
{
    (void)state;
    static const struct builtin_case cases[] = {
        /* yaml: go-yaml v3's scalars (yes/Off are strings), aliases, keys as strings, errors */
        { "x := yaml.unmarshal(\"a: [yes, Off, ~, 0x10, 1.5, '1']\\nb: &x {c: d}\\ne: *x\\n1: z\")",
          "[{\"x\":{\"1\":\"z\",\"a\":[\"yes\",\"Off\",null,16,1.5,\"1\"],\"b\":{\"c\":\"d\"},\"e\":{\"c\":\"d\"}}}]" },
        { "x := yaml.marshal({\"b\": [1, 2.5, \"true\", \"a: b\"], \"a\": {}})",
          "[{\"x\":\"a: {}\\nb:\\n- 1\\n- 2.5\\n- \\\"true\\\"\\n- 'a: b'\\n\"}]" },
        { "x := yaml.unmarshal(\"a: [\")", "!eval_builtin_error" },
        { "x := yaml.unmarshal(\"- &a [*a]\")", "!eval_builtin_error" },
        { "x := yaml.unmarshal(\"a: .inf\")", "!eval_builtin_error" },
        { "x := yaml.is_valid(\"{\")", "[{\"x\":false}]" },
        { "x := json.verify_schema(\"[1]\")", "[{\"x\":[false,\"jsonschema: schema is invalid\"]}]" },
        /* keys that JSON cannot have: refused, as OPA */
        { "x := yaml.is_valid(\"{[1]: 2}\")", "[{\"x\":false}]" },
        { "x := yaml.unmarshal(\"{{a: 1}: 2}\")", "!eval_builtin_error" },
        { "x := yaml.unmarshal(\"{null: 2}\")", "!eval_builtin_error" },
        /* net */
        { "x := net.cidr_merge([\"10.0.0.0/25\", \"10.0.0.128/25\", \"10.0.0.5\", \"10.0.1.0/24\"])",
          "[{\"x\":[\"10.0.0.0/23\"]}]" },
        { "x := net.cidr_expand(\"10.0.0.1/31\")", "[{\"x\":[\"10.0.0.0\",\"10.0.0.1\"]}]" },
        { "x := net.cidr_expand(\"10.0.0.1/33\")", "!eval_builtin_error" },
        /* json.patch: a patch that does not apply is undefined */
        { "x := json.patch({\"a\": [1]}, [{\"op\": \"add\", \"path\": \"/a/01\", \"value\": 2}])", "[]" },
        { "x := json.patch({\"a\": [1]}, [{\"op\": \"copy\", \"from\": \"/a/0\", \"path\": \"/a/-\"}])",
          "[{\"x\":{\"a\":[1,1]}}]" },
        /* time */
        { "x := time.parse_duration_ns(\"-1.5h\")", "[{\"x\":-5400000000000}]" },
        { "x := time.parse_duration_ns(\"1\")", "!eval_builtin_error" },
        { "x := time.format([0, \"UTC\", \"Monday 2 January 2006 3:04PM\"])", "[{\"x\":\"Thursday 1 January 1970 12:00AM\"}]" },
        { "x := time.date([0, \"../../etc/passwd\"])", "!eval_builtin_error" },
        /* a timestamp that is not exactly an int64 (OPA: "timestamp too big") */
        { "x := time.date(2.5)", "!eval_builtin_error" },
        { "x := time.weekday([-0.5, \"UTC\"])", "!eval_builtin_error" },
        { "x := time.clock(1e3)", "[{\"x\":[0,0,0]}]" },
        { "x := time.add_date(0, 0, 1, 30)", "[{\"x\":5270400000000000}]" },
        /* urlquery, hex, semver, units, bits */
        { "x := urlquery.decode(\"a%zz\")", "!eval_builtin_error" },
        { "x := hex.decode(\"abc\")", "!eval_builtin_error" },
        { "x := semver.compare(\"1.0.0-rc.1\", \"1.0.0\")", "[{\"x\":-1}]" },
        { "x := units.parse(\"1.5Gi\")", "[{\"x\":1610612736}]" },
        { "x := bits.lsh(1, 64)", "[{\"x\":18446744073709551616}]" },
        { "x := bits.rsh(-1, 100)", "[{\"x\":-1}]" },
        /* regex.globs_match: do two patterns share a string? */
        { "x := regex.globs_match(\"a.a.[0-9]+z\", \".b.b2359825792*594823z\")", "[{\"x\":true}]" },
        { "x := regex.globs_match(\"[a-z]+\", \"[0-9]*\")", "[{\"x\":false}]" },
        { "x := regex.globs_match(\"[^a]\", \"a\")", "[{\"x\":false}]" },
        { "x := regex.globs_match(\"ab*c\", \"a.+\")", "[{\"x\":true}]" },
        { "x := regex.globs_match(\"[a-\", \"a\")", "!eval_builtin_error" },
        { "x := regex.globs_match(\"*a\", \"a\")", "!eval_builtin_error" },
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);

    /* YAML aliases share values: a billion laughs is small to read, and
     * writing it back out is stopped by the memory budget */
    struct sbuf doc = { 0 };
    sb_puts(&doc, "{\"s\": \"a0: &a0 [x, x, x, x, x, x, x, x, x, x]\\n");
    for (int i = 1; i < 9; i++) {
        sb_printf(&doc, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++)
            sb_printf(&doc, "%s*a%d", k ? ", " : "", i - 1);
        sb_puts(&doc, "]\\n");
    }
    sb_puts(&doc, "\"}");
    struct rego_error err = { 0 };
    struct rego_options o = { .max_memory = 16u << 20 };
    char *r = eval_with(NULL, "x := count(yaml.unmarshal(input.s).a8)", doc.s, &err, &o);
    assert_non_null(r);
    assert_string_equal(r, "[{\"x\":10}]");
    free(r);
    r = eval_with(NULL, "x := yaml.marshal(yaml.unmarshal(input.s))", doc.s, &err, &o);
    assert_null(r);
    assert_string_equal(err.code, "eval_budget_error");
    r = eval_with(NULL, "x := json.marshal(yaml.unmarshal(input.s))", doc.s, &err, &o);
    assert_null(r);
    assert_string_equal(err.code, "eval_budget_error");
    free(doc.s);
}

static void collect_print(void *ctx, const char *line)
{
    struct sbuf *b = ctx;
    sb_puts(b, line);
    sb_putc(b, '|');
}

static void test_print(void **state)
{
    (void)state;
    struct sbuf got = { 0 };
    struct rego_options o = { .print = collect_print, .print_ctx = &got };
    struct rego_error err = { 0 };
    char *r = eval_with("package p\nallow if { print(\"x is\", input.x, {\"a\": [1]}); print(); input.x > 1 }",
                        "x := data.p.allow", "{\"x\": 2}", &err, &o);
    assert_non_null(r);
    assert_string_equal(r, "[{\"x\":true}]");
    free(r);
    assert_non_null(got.s);
    assert_string_equal(got.s, "x is 2 {\"a\": [1]}||");
    free(got.s);
}

static void test_deny_decision(void **state)
{
    (void)state;
    /* a denial that must go away when its rule does */
    const char *policy = "package g\nimport rego.v1\n"
                         "default allow := false\n"
                         "allow if { count(deny) == 0; input.user != \"\" }\n"
                         "deny contains \"root\" if input.user == \"root\"\n";
    expect_result(policy, "data.g.allow", "{\"user\":\"root\"}", "[]");   /* false is undefined as a query */
    expect_result(policy, "x := data.g.allow", "{\"user\":\"root\"}", "[{\"x\":false}]");
    expect_result(policy, "x := data.g.allow", "{\"user\":\"alice\"}", "[{\"x\":true}]");
    const char *no_deny = "package g\nimport rego.v1\n"
                          "default allow := false\n"
                          "allow if { count(deny) == 0; input.user != \"\" }\n"
                          "deny contains \"root\" if false\n";
    expect_result(no_deny, "x := data.g.allow", "{\"user\":\"root\"}", "[{\"x\":true}]");
}

static void test_prepared_many(void **state)
{
    (void)state;
    struct rego *r = rego_new();
    struct rego_error err;
    const char *m = "package p\nallow if input.n % 2 == 0\n";
    assert_int_equal(rego_add_module(r, "p.rego", m, strlen(m), &err), 0);
    assert_int_equal(rego_compile(r, &err), 0);
    struct rego_query *q = rego_prepare(r, "data.p.allow", &err);
    assert_non_null(q);
    rego_free(r); /* the query keeps the engine */
    for (int i = 0; i < 1000; i++) {
        json_t *in = json_pack("{s:i}", "n", i), *v = NULL;
        assert_int_equal(rego_query_eval_value(q, in, &v, &err), 0);
        if (i % 2 == 0)
            assert_true(json_is_true(v));
        else
            assert_null(v);
        json_decref(v);
        json_decref(in);
    }
    rego_query_free(q);
}

/* The JSON API converts the input into one block that is freed after each
 * evaluation: results built from input values, and patterns from the input
 * kept in the query's cache of compiled globs and regexes, must not point
 * into it (ASan reports it if they do). */
static void test_input_block(void **state)
{
    (void)state;
    struct rego *r = rego_new();
    struct rego_error err;
    const char *m = "package p\n"
                    "d := {\"user\": input.user, \"tags\": [t | some t in input.tags], \"re\": regex.match(input.re, input.s),\n"
                    "      \"glob\": glob.match(input.g, [input.sep], input.s), \"n\": input.n, \"f\": input.f}\n";
    assert_int_equal(rego_add_module(r, "p.rego", m, strlen(m), &err), 0);
    assert_int_equal(rego_compile(r, &err), 0);
    struct rego_query *q = rego_prepare(r, "data.p.d", &err), *q2 = rego_prepare(r, "x := data.p.d", &err);
    assert_non_null(q);
    assert_non_null(q2);
    for (int i = 0; i < 100; i++) {
        char user[32], re[32], g[32], s[32];
        snprintf(user, sizeof user, "user-%d", i);
        snprintf(re, sizeof re, "^a+%d$", i % 40);
        snprintf(g, sizeof g, "a*%d", i % 40);
        snprintf(s, sizeof s, "aaa%d", i % 40);
        json_t *in = json_pack("{s:s, s:[s,s], s:s, s:s, s:s, s:s, s:I, s:f}", "user", user, "tags", "x", user,
                               "re", re, "g", g, "sep", ".", "s", s, "n", (json_int_t)100000 + i, "f", 0.5),
               *v = NULL;
        assert_int_equal(rego_query_eval_value(q, in, &v, &err), 0);
        assert_non_null(v);
        assert_string_equal(json_string_value(json_object_get(v, "user")), user);
        assert_true(json_equal(json_object_get(v, "tags"), json_object_get(in, "tags")));
        assert_true(json_is_true(json_object_get(v, "re")));
        assert_true(json_is_true(json_object_get(v, "glob")));
        assert_int_equal(json_integer_value(json_object_get(v, "n")), 100000 + i);
        assert_true(json_real_value(json_object_get(v, "f")) == 0.5);
        json_decref(v);
        char *text = NULL;
        char *js = json_dumps(in, JSON_COMPACT);
        assert_int_equal(rego_query_eval(q2, js, strlen(js), &text, &err), 0);
        assert_non_null(strstr(text, user));
        free(text);
        free(js);
        json_decref(in);
    }
    /* an input larger than a chunk: many chunks, and an array larger than one */
    json_t *big = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:f}", "user", "u", "re", "a", "g", "a", "sep", ".", "s",
                            "a", "n", (json_int_t)1, "f", 1.5),
           *tags = json_array(), *v = NULL;
    for (int i = 0; i < 3000; i++) {
        char t[48];
        snprintf(t, sizeof t, "tag-%d-with-some-length-to-fill-chunks", i);
        json_array_append_new(tags, json_string(t));
    }
    json_object_set_new(big, "tags", tags);
    assert_int_equal(rego_query_eval_value(q, big, &v, &err), 0);
    assert_true(json_equal(json_object_get(v, "tags"), tags));
    json_decref(v);
    json_decref(big);
    rego_query_free(q);
    rego_query_free(q2);
    rego_free(r);
}

/* Rules that depend on nothing that changes between evaluations are
 * evaluated once by the compiler; `with` still changes what they see. */
static const char *konst_module =
    "package t\n"
    "base := 1\n"
    "c := base + 1\n"
    "f(x) := x * 10\n"
    "g := f(2)\n"
    "s contains x if some x in [1, 2, 3]\n"
    "now := time.now_ns()\n"
    "in_dep := input.x\n"
    "k := 1\n"
    "k := 2\n"
    "big := count(numbers.range(1, 1000000))\n";

static struct node *node_at(struct rego *r, const char *path)
{
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i]->path_str && strcmp(r->nodes[i]->path_str, path) == 0)
            return r->nodes[i];
    return NULL;
}

static void test_constant_rules(void **state)
{
    (void)state;
    struct rego *r = rego_new();
    struct rego_error err;
    const char *u = "package u\nwalk := [x | data.t[x] == 1]\n";
    assert_int_equal(rego_add_module(r, "t.rego", konst_module, strlen(konst_module), &err), 0);
    assert_int_equal(rego_add_module(r, "u.rego", u, strlen(u), &err), 0);
    assert_int_equal(rego_compile(r, &err), 0);
    assert_true(node_at(r, "data.t.base")->has_konst);
    assert_true(node_at(r, "data.t.c")->has_konst);
    assert_true(node_at(r, "data.t.g")->has_konst);
    assert_true(node_at(r, "data.t.s")->has_konst);
    assert_false(node_at(r, "data.t.now")->has_konst);     /* volatile builtin */
    assert_false(node_at(r, "data.t.in_dep")->has_konst);  /* input */
    assert_false(node_at(r, "data.u.walk")->has_konst);    /* data walked from its root */
    assert_false(node_at(r, "data.t.k")->has_konst);       /* a conflict: left to the evaluation */
    assert_false(node_at(r, "data.t.big")->has_konst);     /* beyond the compiler's budget */
    rego_free(r);
    const char *m = konst_module;
    expect_result(m, "x := data.t.c", NULL, "[{\"x\":2}]");
    expect_result(m, "x := data.t.g", NULL, "[{\"x\":20}]");
    expect_result(m, "x := data.t.s", NULL, "[{\"x\":[1,2,3]}]");
    expect_result(m, "x := data.t.c with data.t.base as 5", NULL, "[{\"x\":6}]");
    expect_result(m, "x := data.t.g with data.t.f as 7", NULL, "[{\"x\":7}]");
    expect_result(m, "x := data.t.c with input as 3", NULL, "[{\"x\":2}]");
    expect_result(m, "x := data.t.big", NULL, "[{\"x\":1000000}]");
    expect_error(m, "x := data.t.k", "eval_conflict_error", "complete rules must not produce multiple outputs");
}

static void test_glob(void **state)
{
    (void)state;
    assert_int_equal(rego_glob_match("*.github.com", 12, ".", 1, "api.github.com", 14), 1);
    assert_int_equal(rego_glob_match("*.github.com", 12, ".", 1, "a.b.github.com", 14), 0);
    assert_int_equal(rego_glob_match("**.github.com", 13, ".", 1, "a.b.github.com", 14), 1);
    assert_int_equal(rego_glob_match("{a,b}?[0-9]", 11, "", 0, "bx7", 3), 1);
    assert_int_equal(rego_glob_match("[", 1, "", 0, "[", 1), -1);
    /* hostile: many stars against a long non-matching input stays linear */
    char pat[201], s[20001];
    for (int i = 0; i < 100; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = 'a';
    }
    pat[200] = 0;
    memset(s, 'a', 20000);
    s[19999] = 'b';
    s[20000] = 0;
    assert_int_equal(rego_glob_match(pat, 200, "", 0, s, 20000), 0);
}

/* One engine, one prepared query per thread, evaluated at once: the
 * engine's values are frozen, so nothing shared is written. */
struct thread_arg {
    struct rego *r;
    int ok;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    struct rego_error err;
    struct rego_query *q = rego_prepare(a->r, "data.p.decision", &err);
    if (!q)
        return NULL;
    for (int i = 0; i < 2000; i++) {
        json_t *in = json_pack("{s:s,s:i}", "user", i % 3 ? "alice" : "root", "n", i), *v = NULL;
        if (rego_query_eval_value(q, in, &v, &err) == 0 && v) {
            json_t *allow = json_object_get(v, "allow");
            if (json_is_true(allow) == (i % 3 != 0))
                a->ok++;
        }
        json_decref(v);
        json_decref(in);
    }
    rego_query_free(q);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    const char *m = "package p\nimport rego.v1\n"
                    "names := {\"alice\", \"bob\"}\n"
                    "deny contains sprintf(\"%s is not allowed\", [input.user]) if not names[input.user]\n"
                    "decision := {\"allow\": count(deny) == 0, \"reasons\": sort(deny), \"n\": input.n}\n";
    struct rego *r = rego_new();
    struct rego_error err;
    assert_int_equal(rego_add_module(r, "p.rego", m, strlen(m), &err), 0);
    assert_int_equal(rego_add_data_json(r, "{\"x\": [1, 2, 3]}", 16, &err), 0);
    assert_int_equal(rego_compile(r, &err), 0);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].r = r;
        args[i].ok = 0;
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].ok, 2000);
    }
    rego_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_order),
        cmocka_unit_test(test_numbers_exact),
        cmocka_unit_test(test_arith_overflow),
        cmocka_unit_test(test_arith_overflow_in_policy),
        cmocka_unit_test(test_big_numbers_order),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_object_conflict),
        cmocka_unit_test(test_deep_nesting_is_an_error),
        cmocka_unit_test(test_long_chains_are_an_error),
        cmocka_unit_test(test_parse_error_position),
        cmocka_unit_test(test_unsafe_var),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_recursion),
        cmocka_unit_test(test_type_checker),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_ref_heads),
        cmocka_unit_test(test_every_non_collection),
        cmocka_unit_test(test_not_undefined_operands),
        cmocka_unit_test(test_operator_next_line),
        cmocka_unit_test(test_json_invalid_utf8),
        cmocka_unit_test(test_base_data_over_empty_package),
        cmocka_unit_test(test_schema_and_templates),
        cmocka_unit_test(test_step_budget),
        cmocka_unit_test(test_memory_budget),
        cmocka_unit_test(test_memory_budget_reuse),
        cmocka_unit_test(test_go_strings),
        cmocka_unit_test(test_jwt_signatures),
        cmocka_unit_test(test_new_builtins),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_deny_decision),
        cmocka_unit_test(test_prepared_many),
        cmocka_unit_test(test_input_block),
        cmocka_unit_test(test_constant_rules),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_rule_index),
        cmocka_unit_test(test_value_depth),
        cmocka_unit_test(test_long_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
