/* Text a peer chose, on a terminal: no control character (C0, DEL, C1) nor
 * bidirectional formatting character survives text_escape_terminal or (in
 * JSON, as escapes that parse to the same text) text_escape_json_terminal, escapes cannot be forged with a backslash,
 * other characters are kept, and the bounded copy never cuts a character or
 * an escape in half. Also the UTF-8 helpers the host uses on guest text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/text.h"

static void expect_escaped(const char *in, const char *want)
{
    char *got = text_escape_terminal(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_escape_controls(void **state)
{
    /* Clear the screen, retitle the window (OSC ... BEL), carriage return
     * over the line, and CSI as one C1 character. */
    expect_escaped("a\x1b[2J\x1b]0;pwned\x07\rb\xc2\x9b" "c",
                   "a\\x1b[2J\\x1b]0;pwned\\x07\\x0db\\u009bc");
    expect_escaped("line\nnext\ttab\x7f", "line\\x0anext\\x09tab\\x7f");
    expect_escaped("\xc2\x80\xc2\x9f\xc2\xa0", "\\u0080\\u009f\xc2\xa0"); /* NBSP kept */
    /* A backslash is doubled, so "\\x1b" typed by the peer stays text. */
    expect_escaped("not \\x1b", "not \\\\x1b");
    /* Bytes that are not UTF-8 are shown as bytes; characters are kept. */
    expect_escaped("bad \xff\xfe end", "bad \\xff\\xfe end");
    expect_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    expect_escaped("", "");
    /* Bidirectional overrides and isolates would show "exe.txt" for
     * "\u202etxt.exe"; other characters of those blocks are kept. */
    expect_escaped("a\xe2\x80\xaetxt.exe", "a\\u202etxt.exe");
    expect_escaped("\xd8\x9c\xe2\x80\x8e\xe2\x80\x8f\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9",
                   "\\u061c\\u200e\\u200f\\u202a\\u2066\\u2069");
    expect_escaped("\xe2\x80\x8d\xe2\x80\xaf\xe2\x81\xa5", "\xe2\x80\x8d\xe2\x80\xaf\xe2\x81\xa5");
}

static void expect_json_escaped(const char *in, const char *want)
{
    char *got = text_escape_json_terminal(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_escape_json(void **state)
{
    /* What JSON allows raw in a string but a terminal must not get raw
     * becomes an escape that parses to the same character. */
    expect_json_escaped("{\"a\":\"x\x7fy\xc2\x9b[2Jz\"}", "{\"a\":\"x\\u007fy\\u009b[2Jz\"}");
    expect_json_escaped("[\"\xe2\x80\xaetxt.exe\"]", "[\"\\u202etxt.exe\"]");
    /* Escapes jansson wrote, backslashes, whitespace between tokens and
     * other characters are kept as they are. */
    expect_json_escaped("{\n  \"k\": \"\\u001b\\\\ caf\xc3\xa9 \xc2\xa0\"\n}",
                        "{\n  \"k\": \"\\u001b\\\\ caf\xc3\xa9 \xc2\xa0\"\n}");
    /* A byte that is not UTF-8 (jansson never writes one) is not passed on. */
    expect_json_escaped("\"\xff\"", "\"\\ufffd\"");
    expect_json_escaped("", "");
}

/* Every string of control bytes comes out with none left. */
static void test_escape_leaves_no_control(void **state)
{
    char in[3 * 256 + 1];
    size_t n = 0;
    for (unsigned c = 1; c < 256; c++) {
        in[n++] = (char)c;
        if (c >= 0x80 && c <= 0x9f) { /* also as the C1 character */
            in[n++] = (char)0xc2;
            in[n++] = (char)c;
        }
    }
    in[n] = '\0';
    char *out = text_escape_terminal(in);
    assert_non_null(out);
    for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
        assert_false(*p < 0x20 || *p == 0x7f);
        if (*p == 0xc2)
            assert_false(p[1] >= 0x80 && p[1] <= 0x9f);
    }
    free(out);
}

static void test_escape_copy_cuts_between_characters(void **state)
{
    char out[8];
    text_escape_terminal_copy(out, sizeof(out), "ab\x1b" "cdef");
    assert_string_equal(out, "ab\\x1bc"); /* 7 bytes and the NUL */
    text_escape_terminal_copy(out, 6, "ab\x1b" "cdef");
    assert_string_equal(out, "ab"); /* the escape does not fit whole */
    text_escape_terminal_copy(out, 4, "a\xe2\x82\xac");
    assert_string_equal(out, "a"); /* nor does the euro sign */
    text_escape_terminal_copy(out, 1, "abc");
    assert_string_equal(out, "");
}

static void test_utf8_copy(void **state)
{
    char out[6];
    text_utf8_copy(out, sizeof(out), "ab\xff" "cd");
    assert_string_equal(out, "ab\xef\xbf\xbd");
    text_utf8_copy(out, 5, "abc\xe2\x82\xac");
    assert_string_equal(out, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_controls),
        cmocka_unit_test(test_escape_leaves_no_control),
        cmocka_unit_test(test_escape_json),
        cmocka_unit_test(test_escape_copy_cuts_between_characters),
        cmocka_unit_test(test_utf8_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
