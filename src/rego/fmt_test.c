/* rego_format: a table of inputs and their canonical layout (comments in
 * every position, else chains, every, some ... in, with, comprehensions,
 * multi-line collections, raw strings, string escapes), errors, and a
 * property over every .rego file in the repository: the result parses to
 * the same tree (a dump without positions), keeps the same comments in the
 * same order, compiles as the original does, and formatting it again
 * changes nothing. (The conformance cases are checked the same way, with
 * their decisions, by `make test-rego-fmt`.) */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "rego/fmt.h"
#include "rego/lex.h"
#include "rego/rego.h"

struct fmt_case {
    const char *name, *in, *want;
};

static const struct fmt_case cases[] = {
    { "comments_everywhere",
      "# header\n"
      "\n"
      "package p # pkg comment\n"
      "# before import\n"
      "import rego.v1\n"
      "\n"
      "# one\n"
      "\n"
      "# two\n"
      "a := 1 # end of a\n"
      "allow if { # after brace\n"
      "  # first line\n"
      "  input.x == 1 # trailing\n"
      "  # before close\n"
      "} # after close\n"
      "# last\n",
      "# header\n"
      "\n"
      "package p # pkg comment\n"
      "\n"
      "# before import\n"
      "import rego.v1\n"
      "\n"
      "# one\n"
      "\n"
      "# two\n"
      "a := 1 # end of a\n"
      "\n"
      "allow if { # after brace\n"
      "\t# first line\n"
      "\tinput.x == 1 # trailing\n"
      "\t# before close\n"
      "} # after close\n"
      "# last\n" },
    { "semicolon_before_unary_minus",
      "package p\n"
      "v if { x := 12;-x > 1 }\n",
      "package p\n"
      "\n"
      "v if {\n"
      "\tx := 12;\n"
      "\t-x > 1\n"
      "}\n" },
    { "comprehensions",
      "package p\n"
      "c := {k: v | some k, v in {\"a\":1}}\n"
      "d := {x | some x in [1]; x > 0}\n"
      "b := [x | x := [1,2][_]\n"
      "  # inside\n"
      "  x > 1]\n",
      "package p\n"
      "\n"
      "c := {k: v | some k, v in {\"a\": 1}}\n"
      "\n"
      "d := {x | some x in [1]; x > 0}\n"
      "\n"
      "b := [x |\n"
      "\tx := [1, 2][_]\n"
      "\t# inside\n"
      "\tx > 1\n"
      "]\n" },
    { "continuation_comment",
      "package p\n"
      "v if { x := 1 + # c\n"
      "  2; x > 1 }\n",
      "package p\n"
      "\n"
      "v if {\n"
      "\tx := 1 + # c\n"
      "\t\t2\n"
      "\tx > 1\n"
      "}\n" },
    { "else_chain",
      "package p\n"
      "w := x if { x := 1 } else := y if { y := 2 } else = 3\n"
      "g(x) := 1 if x > 1 else := 2\n",
      "package p\n"
      "\n"
      "w := x if {\n"
      "\tx := 1\n"
      "} else := y if {\n"
      "\ty := 2\n"
      "} else = 3\n"
      "\n"
      "g(x) := 1 if x > 1 else := 2\n" },
    { "every_somein",
      "package p\n"
      "g if {\n"
      "  every k, v in {\"a\": 1} {\n"
      "    # inner\n"
      "    v > 0\n"
      "  } # after every\n"
      "  some x in input.xs\n"
      "  some i, y in input.ys\n"
      "}\n",
      "package p\n"
      "\n"
      "g if {\n"
      "\tevery k, v in {\"a\": 1} {\n"
      "\t\t# inner\n"
      "\t\tv > 0\n"
      "\t} # after every\n"
      "\tsome x in input.xs\n"
      "\tsome i, y in input.ys\n"
      "}\n" },
    { "heads",
      "package p.q[\"x-y\"]\n"
      "import data.lib.helpers as h\n"
      "a.b[c] := d if { some c; d := c }\n"
      "r contains x if { some x in input.xs }\n"
      "default allow:=false\n"
      "f(a,b) := a+b\n",
      "package p.q[\"x-y\"]\n"
      "\n"
      "import data.lib.helpers as h\n"
      "\n"
      "a.b[c] := d if {\n"
      "\tsome c\n"
      "\td := c\n"
      "}\n"
      "\n"
      "r contains x if {\n"
      "\tsome x in input.xs\n"
      "}\n"
      "\n"
      "default allow := false\n"
      "\n"
      "f(a, b) := a + b\n" },
    { "multiline_collections",
      "package p\n"
      "e := [ # first\n"
      "  1, # one\n"
      "  # before two\n"
      "  2\n"
      "]\n"
      "u := {\"a\": {\"b\": [\n"
      "  1\n"
      "]}}\n"
      "o := [1, 2,]\n"
      "t := f(1,\n"
      "  2)\n",
      "package p\n"
      "\n"
      "e := [ # first\n"
      "\t1, # one\n"
      "\t# before two\n"
      "\t2,\n"
      "]\n"
      "\n"
      "u := {\"a\": {\"b\": [\n"
      "\t1,\n"
      "]}}\n"
      "\n"
      "o := [1, 2]\n"
      "\n"
      "t := f(1, 2)\n" },
    { "not_body_v2",
      "package p\n"
      "import rego.v2\n"
      "allow if { not { input.x; input.y } }\n",
      "package p\n"
      "\n"
      "import rego.v2\n"
      "\n"
      "allow if {\n"
      "\tnot {\n"
      "\t\tinput.x\n"
      "\t\tinput.y\n"
      "\t}\n"
      "}\n" },
    { "semicolons",
      "package p\n"
      "q if {x := 1; y := 2; x < y}\n",
      "package p\n"
      "\n"
      "q if {\n"
      "\tx := 1\n"
      "\ty := 2\n"
      "\tx < y\n"
      "}\n" },
    { "strings_numbers",
      "package p\n"
      "i := \"a\\\"b\\\\c\\u00e9\\n\"\n"
      "j := `raw \\n \"x\"\n"
      "second line`\n"
      "k := -1\n"
      "l := 2-1\n"
      "m := - 1\n"
      "n := 1.5e3*2\n",
      "package p\n"
      "\n"
      "i := \"a\\\"b\\\\c\\u00e9\\n\"\n"
      "\n"
      "j := `raw \\n \"x\"\n"
      "second line`\n"
      "\n"
      "k := -1\n"
      "\n"
      "l := 2 - 1\n"
      "\n"
      "m := - 1\n"
      "\n"
      "n := 1.5e3 * 2\n" },
    /* A set of one element with a trailing comma as a rule's whole `if`
     * literal: without the comma `{x}` would read back as a body. */
    { "if_literal_one_element_set",
      "package p\n"
      "v if {1,}\n"
      "w if {-x ,}\n"
      "q if {x\n"
      " ,}\n"
      "r if {1, 2,}\n"
      "s if {\"a\": 1,}\n"
      "t := 1 if {1,} == {1}\n"
      "u := 1 if {2,} else := 2 if {3, }\n"
      "n if {{1,},}\n"
      "m if {{1,}}\n"
      "k if {f(1, 2),} with input as 1\n",
      "package p\n"
      "\n"
      "v if {1,}\n"
      "\n"
      "w if {-x,}\n"
      "\n"
      "q if {x,}\n"
      "\n"
      "r if {1, 2}\n"
      "\n"
      "s if {\"a\": 1}\n"
      "\n"
      "t := 1 if {1,} == {1}\n"
      "\n"
      "u := 1 if {2,} else := 2 if {3,}\n"
      "\n"
      "n if {{1},}\n"
      "\n"
      "m if {\n"
      "\t{1}\n"
      "}\n"
      "\n"
      "k if {f(1, 2),} with input as 1\n" },
    { "if_literal_multiline_collection",
      "package p\n"
      "v if {\n"
      " 1,\n"
      "}\n"
      "w if {\n"
      " 1,\n"
      " 2\n"
      "}\n"
      "x if {\n"
      "\"a\": 1}\n"
      "y if {1\n"
      ",}\n"
      "z if {1, # c\n"
      "}\n",
      "package p\n"
      "\n"
      "v if {\n"
      "\t1,\n"
      "}\n"
      "\n"
      "w if {\n"
      "\t1,\n"
      "\t2,\n"
      "}\n"
      "\n"
      "x if {\n"
      "\t\"a\": 1,\n"
      "}\n"
      "\n"
      "y if {1,}\n"
      "\n"
      "z if {\n"
      "\t1, # c\n"
      "}\n" },
    /* A comment between the last element and the trailing comma: the
     * collection goes over lines and the comma moves before the comment
     * (dropped on one line, the close would follow the comment on a line
     * of its own, and read again as a multi-line collection). */
    { "comment_before_trailing_comma",
      "package p\n"
      "e := [ 4# first\n"
      "\t\t\t,\t]\n"
      "s := [1,\n"
      " 2 # c\n"
      " ,]\n"
      "o := {\"a\": 1 # c\n"
      ",}\n"
      "v if {1 # c\n"
      ",}\n"
      "m := [\n"
      "1 # a\n"
      ", # b\n"
      "]\n",
      "package p\n"
      "\n"
      "e := [\n"
      "\t4, # first\n"
      "]\n"
      "\n"
      "s := [\n"
      "\t1,\n"
      "\t2, # c\n"
      "]\n"
      "\n"
      "o := {\n"
      "\t\"a\": 1, # c\n"
      "}\n"
      "\n"
      "v if {\n"
      "\t1, # c\n"
      "}\n"
      "\n"
      "m := [\n"
      "\t1, # a\n"
      "\t# b\n"
      "]\n" },
    { "with_kw",
      "package p\n"
      "n if input.x == 1   with input as {\"x\":1}    with data.q as 2\n",
      "package p\n"
      "\n"
      "n if input.x == 1 with input as {\"x\": 1} with data.q as 2\n" },
};

static char *fmt(const char *text, struct rego_error *err)
{
    char *out = NULL;
    size_t len = 0;
    if (rego_format("t.rego", text, strlen(text), &out, &len, err) < 0) {
        assert_null(out);
        return NULL;
    }
    assert_int_equal(len, strlen(out));
    return out;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rego_error err = { 0 };
        char *got = fmt(cases[i].in, &err);
        if (!got)
            fail_msg("%s: %s: %s", cases[i].name, err.code, err.message);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: got\n%s\nwant\n%s", cases[i].name, got, cases[i].want);
        char *again = fmt(got, &err);
        assert_non_null(again);
        assert_string_equal(again, got);
        free(again);
        free(got);
    }
}

static void test_parse_error(void **state)
{
    (void)state;
    struct rego_error err = { 0 };
    char *out = (char *)1;
    const char *bad = "package p\n\nx := [1,\n  2 3]\n";
    assert_int_equal(rego_format("bad.rego", bad, strlen(bad), &out, NULL, &err), -1);
    assert_ptr_equal(out, (char *)1);   /* untouched */
    assert_string_equal(err.code, "rego_parse_error");
    assert_string_equal(err.file, "bad.rego");
    assert_int_equal(err.line, 4);
    assert_int_equal(err.col, 5);
    const char *nopkg = "# only a comment\n";
    assert_int_equal(rego_format("x.rego", nopkg, strlen(nopkg), &out, NULL, &err), -1);
    assert_string_equal(err.code, "rego_parse_error");
    const char *unterminated = "package p\nx := \"abc\n";
    assert_int_equal(rego_format("x.rego", unterminated, strlen(unterminated), &out, NULL, &err), -1);
    assert_int_equal(err.line, 2);
}

/* Odd but valid spellings: whitespace that matters stays as it was. */
static void test_glued(void **state)
{
    (void)state;
    static const struct fmt_case glued[] = {
        { "crlf", "package p\r\nx := 1 # c\r\n", "package p\n\nx := 1 # c\n" },
        { "minus", "package p\nx := [1 -1, - 1, -1, 2-1, -x]\n",
          "package p\n\nx := [1 - 1, - 1, -1, 2 - 1, -x]\n" },
        { "postfix", "package p\nx := f( 1 )[ 0 ].a\n", "package p\n\nx := f(1)[0].a\n" },
        { "contains_call", "package p\nx if contains(\"ab\", \"a\")\n",
          "package p\n\nx if contains(\"ab\", \"a\")\n" },
        { "head_on_lines", "package p\nx\n:= 1\n", "package p\n\nx := 1\n" },
        { "if_next_line", "package p\nx := 1\nif {\ntrue\n}\n", "package p\n\nx := 1 if {\n\ttrue\n}\n" },
        { "rules_on_a_line", "package p\na := 1; b := 2\n", "package p\n\na := 1\n\nb := 2\n" },
        { "empty_collections", "package p\nx := [ ]\ny := { }\nz := set( )\n",
          "package p\n\nx := []\n\ny := {}\n\nz := set()\n" },
        { "keyval_in", "package p\nx if (\"a\",1 in {\"a\": 1})\n",
          "package p\n\nx if (\"a\", 1 in {\"a\": 1})\n" },
        { "package_only", "package   p", "package p\n" },
        { "operators_glued", "package p\nx:=[1]\ny:={\"a\":[1],\"b\":(2)}\nz:=f(1)-(2)\nw if not(x)\n",
          "package p\n\nx := [1]\n\ny := {\"a\": [1], \"b\": (2)}\n\nz := f(1) - (2)\n\nw if not(x)\n" },
        { "with_on_its_line", "package p\nx if {\n  y := 1\n     with input as 2\n  with data.x as 3 with data.z as 4\n}\n",
          "package p\n\nx if {\n\ty := 1\n\t\twith input as 2\n\t\twith data.x as 3 with data.z as 4\n}\n" },
        { "keyword_names", "package p\nx := input.if\ny if input.else.in[\n0] -1 > input.in\n",
          "package p\n\nx := input.if\n\ny if input.else.in[0] - 1 > input.in\n" },
    };
    for (size_t i = 0; i < sizeof glued / sizeof glued[0]; i++) {
        struct rego_error err = { 0 };
        char *got = fmt(glued[i].in, &err);
        if (!got)
            fail_msg("%s: %s: %s", glued[i].name, err.code, err.message);
        if (strcmp(got, glued[i].want) != 0)
            fail_msg("%s: got\n%s\nwant\n%s", glued[i].name, got, glued[i].want);
        free(got);
    }
}

/* Nesting as deep as the parser takes formats too. */
static void test_deep(void **state)
{
    (void)state;
    char text[4096];
    int n = snprintf(text, sizeof text, "package p\nx := ");
    for (int i = 0; i < 60; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "[");
    n += snprintf(text + n, sizeof text - (size_t)n, "1");
    for (int i = 0; i < 60; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, i % 2 ? "]" : "\n]");
    struct rego_error err = { 0 };
    char *got = fmt(text, &err);
    if (!got)
        fail_msg("%s: %s", err.code, err.message);
    char *again = fmt(got, &err);
    assert_non_null(again);
    assert_string_equal(again, got);
    free(again);
    free(got);
}

/* ---------------------------------------------------------------- the property */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            cap *= 2;
            b = realloc(b, cap);
        }
    }
    fclose(f);
    if (b)
        b[n] = 0;
    *len = n;
    return b;
}

static int compile_code(const char *name, const char *text, char *code, size_t codelen)
{
    struct rego *r = rego_new();
    struct rego_error err = { 0 };
    int rc = rego_add_module(r, name, text, strlen(text), &err);
    if (rc == 0)
        rc = rego_compile(r, &err);
    snprintf(code, codelen, "%s", rc < 0 ? err.code : "ok");
    rego_free(r);
    return rc;
}

static void comment_texts(const char *text, char *out, size_t outlen)
{
    struct rego_lexed lx;
    struct rego_error err;
    assert_int_equal(rego_lex("x", text, strlen(text), &lx, &err), 0);
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < lx.ncomments && n + 2 < outlen; i++) {
        size_t l = lx.comments[i].len;
        while (l > 0 && strchr(" \t\r", text[lx.comments[i].off + l - 1]))
            l--;
        int w = snprintf(out + n, outlen - n, "%.*s\n", (int)l, text + lx.comments[i].off);
        n += w > 0 ? (size_t)w : 0;
        if (n >= outlen)
            n = outlen - 1;
    }
    rego_lexed_free(&lx);
}

static int checked;

static void check_file(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    assert_non_null(text);
    struct rego_error err = { 0 };
    char *dump1 = NULL;
    if (strlen(text) != len || rego_module_dump(path, text, len, &dump1, &err) < 0) {
        free(text);   /* does not parse (a hostile case): nothing to format */
        return;
    }
    char *out = NULL;
    if (rego_format(path, text, len, &out, NULL, &err) < 0)
        fail_msg("%s: fmt failed: %s: %s", path, err.code, err.message);
    char *dump2 = NULL;
    if (rego_module_dump(path, out, strlen(out), &dump2, &err) < 0)
        fail_msg("%s: the formatted text does not parse: %d:%d: %s\n%s", path, err.line, err.col,
                 err.message, out);
    if (strcmp(dump1, dump2) != 0)
        fail_msg("%s: the formatted text is another module", path);
    static char c1[1 << 16], c2[1 << 16];
    comment_texts(text, c1, sizeof c1);
    comment_texts(out, c2, sizeof c2);
    if (strcmp(c1, c2) != 0)
        fail_msg("%s: the comments differ:\n%s---\n%s", path, c1, c2);
    char k1[64], k2[64];
    compile_code(path, text, k1, sizeof k1);
    compile_code(path, out, k2, sizeof k2);
    if (strcmp(k1, k2) != 0)
        fail_msg("%s: compiles to %s, formatted to %s", path, k1, k2);
    char *again = NULL;
    if (rego_format(path, out, strlen(out), &again, NULL, &err) < 0 || strcmp(again, out) != 0)
        fail_msg("%s: formatting the formatted text changes it:\n%s\n---\n%s", path, out,
                 again ? again : err.message);
    checked++;
    free(again);
    free(dump1);
    free(dump2);
    free(out);
    free(text);
}

static void walk(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (strcmp(dir, ".") == 0 && strcmp(e->d_name, "build") == 0))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) < 0)
            continue;
        size_t l = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            walk(path);
        else if (S_ISREG(st.st_mode) && l > 5 && strcmp(e->d_name + l - 5, ".rego") == 0)
            check_file(path);
    }
    closedir(d);
}

static void test_every_rego_file(void **state)
{
    (void)state;
    checked = 0;
    walk(".");
    /* run from the repository root: the constitution, the bench policies,
     * tests/rego and the examples are all here */
    assert_true(checked >= 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_glued),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_every_rego_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
