/* Tests for the regular expression engine (re.h).  The cases are data:
 * pattern, subject, and what Go's regexp answers.  Many come from the
 * cases in Go's own regexp tests (find, replace, split, parse errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rego/re.h"

#define E (-2) /* end of an expected list */
#define X (-1) /* a group that did not take part */

/* FindAllStringSubmatchIndex(text, -1): the matches, flattened. */
struct find_case {
	const char *pat;
	const char *text;
	size_t text_len; /* 0: strlen(text) */
	int want[64];
};

static const struct find_case find_cases[] = {
	/* Go's find tests. */
	{"", "", 0, {0, 0, E}},
	{"^abcdefg", "abcdefg", 0, {0, 7, E}},
	{"a+", "baaab", 0, {1, 4, E}},
	{"a", "bababaab", 0, {1, 2, 3, 4, 5, 6, 6, 7, E}},
	{"abcd..", "abcdef", 0, {0, 6, E}},
	{"a", "a", 0, {0, 1, E}},
	{"x", "y", 0, {E}},
	{"b", "abc", 0, {1, 2, E}},
	{".", "a", 0, {0, 1, E}},
	{".*", "abcdef", 0, {0, 6, E}},
	{"^", "abcde", 0, {0, 0, E}},
	{"$", "abcde", 0, {5, 5, E}},
	{"^abcd$", "abcd", 0, {0, 4, E}},
	{"^bcd'", "abcdef", 0, {E}},
	{"^abcd$", "abcde", 0, {E}},
	{"a*", "baaab", 0, {0, 0, 1, 4, 5, 5, E}},
	{"[a-z]+", "abcd", 0, {0, 4, E}},
	{"[^a-z]+", "ab1234cd", 0, {2, 6, E}},
	{"[a\\-\\]z]+", "az]-bcz", 0, {0, 4, 6, 7, E}},
	{"[^\\n]+", "abcd\n", 0, {0, 4, E}},
	{"[日本語]+", "日本語日本語", 0, {0, 18, E}},
	{"日本語+", "日本語", 0, {0, 9, E}},
	{"日本語+", "日本語語語語", 0, {0, 18, E}},
	{"()", "", 0, {0, 0, 0, 0, E}},
	{"(a)", "a", 0, {0, 1, 0, 1, E}},
	{"(.)(.)", "日a", 0, {0, 4, 0, 3, 3, 4, E}},
	{"(.*)", "", 0, {0, 0, 0, 0, E}},
	{"(.*)", "abcd", 0, {0, 4, 0, 4, E}},
	{"(..)(..)", "abcd", 0, {0, 4, 0, 2, 2, 4, E}},
	{"(([^xyz]*)(d))", "abcd", 0, {0, 4, 0, 4, 0, 3, 3, 4, E}},
	{"((a|b|c)*(d))", "abcd", 0, {0, 4, 0, 4, 2, 3, 3, 4, E}},
	{"(((a|b|c)*)(d))", "abcd", 0, {0, 4, 0, 4, 0, 3, 2, 3, 3, 4, E}},
	{"\\a\\f\\n\\r\\t\\v", "\a\f\n\r\t\v", 0, {0, 6, E}},
	{"[\\a\\f\\n\\r\\t\\v]+", "\a\f\n\r\t\v", 0, {0, 6, E}},
	{"a*(|(b))c*", "aacc", 0, {0, 4, 2, 2, X, X, E}},
	{"(.*).*", "ab", 0, {0, 2, 0, 2, E}},
	{"[.]", ".", 0, {0, 1, E}},
	{"/$", "/abc/", 0, {4, 5, E}},
	{"/$", "/abc", 0, {E}},
	{".", "abc", 0, {0, 1, 1, 2, 2, 3, E}},
	{"(.)", "abc", 0, {0, 1, 0, 1, 1, 2, 1, 2, 2, 3, 2, 3, E}},
	{".(.)", "abcd", 0, {0, 2, 1, 2, 2, 4, 3, 4, E}},
	{"ab*", "abbaab", 0, {0, 3, 3, 4, 4, 6, E}},
	{"a(b*)", "abbaab", 0, {0, 3, 1, 3, 3, 4, 4, 4, 4, 6, 5, 6, E}},
	{"ab$", "cab", 0, {1, 3, E}},
	{"axxb$", "axxcb", 0, {E}},
	{"data", "daXY data", 0, {5, 9, E}},
	{"da(.)a$", "daXY data", 0, {5, 9, 7, 8, E}},
	{"zx+", "zzx", 0, {1, 3, E}},
	{"ab$", "abcab", 0, {3, 5, E}},
	{"(aa)*$", "a", 0, {1, 1, X, X, E}},
	{"(?:.|(?:.a))", "", 0, {E}},
	{"(?:A(?:A|a))", "Aa", 0, {0, 2, E}},
	{"(?:A|(?:A|a))", "a", 0, {0, 1, E}},
	{"(a){0}", "", 0, {0, 0, X, X, E}},
	{"(?-s)(?:(?:^).)", "\n", 0, {E}},
	{"(?s)(?:(?:^).)", "\n", 0, {0, 1, E}},
	{"(?:(?:^).)", "\n", 0, {E}},
	{"\\b", "x", 0, {0, 0, 1, 1, E}},
	{"\\b", "xx", 0, {0, 0, 2, 2, E}},
	{"\\b", "x y", 0, {0, 0, 1, 1, 2, 2, 3, 3, E}},
	{"\\b", "xx yy", 0, {0, 0, 2, 2, 3, 3, 5, 5, E}},
	{"\\B", "x", 0, {E}},
	{"\\B", "xx", 0, {1, 1, E}},
	{"\\B", "x y", 0, {E}},
	{"\\B", "xx yy", 0, {1, 1, 4, 4, E}},
	{"(|a)*", "aa", 0, {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, E}},
	{"0A|0[aA]", "0a", 0, {0, 2, E}},
	{"0[aA]|0A", "0a", 0, {0, 2, E}},
	{"[a-c]*", "\u65e5", 0, {0, 0, 3, 3, E}},
	{"[^\u65e5]", "abc\u65e5def", 0, {0, 1, 1, 2, 2, 3, 6, 7, 7, 8, 8, 9, E}},
	{"[^\\S\\s]", "abcd", 0, {E}},
	{"[^\\S[:space:]]", "abcd", 0, {E}},
	{"[^\\D\\d]", "abcd", 0, {E}},
	{"[^\\D[:digit:]]", "abcd", 0, {E}},
	{"(?i)\\W", "x", 0, {E}},
	{"(?i)\\W", "k", 0, {E}},
	{"(?i)\\W", "s", 0, {E}},
	{"\\!\\\"\\#\\$\\%\\&\\'\\(\\)\\*\\+\\,\\-\\.\\/\\:\\;\\<\\=\\>\\?\\@\\[\\\\\\]\\^\\_\\{\\|\\}\\~",
	 "!\"#$%&'()*+,-./:;<=>?@[\\]^_{|}~", 0, {0, 31, E}},
	{"[\\!\\\"\\#\\$\\%\\&\\'\\(\\)\\*\\+\\,\\-\\.\\/\\:\\;\\<\\=\\>\\?\\@\\[\\\\\\]\\^\\_\\{\\|\\}\\~]+",
	 "!\"#$%&'()*+,-./:;<=>?@[\\]^_{|}~", 0, {0, 31, E}},
	{"\\`", "`", 0, {0, 1, E}},
	{"[\\`]+", "`", 0, {0, 1, E}},
	{"\ufffd", "\xff", 0, {0, 1, E}},
	{"\ufffd", "hello\xffworld", 0, {5, 6, E}},
	{".*", "hello\xffworld", 0, {0, 11, E}},
	{"\\x{fffd}", "\xc2\x00", 2, {0, 1, E}},
	{"[\ufffd]", "\xff", 0, {0, 1, E}},
	{"[\\x{fffd}]", "\xc2\x00", 2, {0, 1, E}},

	/* Invalid UTF-8 in the subject: each bad byte is one U+FFFD. */
	{"a.c", "a\xff" "c", 0, {0, 3, E}},
	{"a.c", "a\xe6\x97" "c", 0, {E}},
	{"a..c", "a\xe6\x97" "c", 0, {0, 4, E}},
	{"^...$", "\xed\xa0\x80", 0, {0, 3, E}}, /* an encoded surrogate */
	{"^.$", "\xf4\x90\x80\x80", 0, {E}},      /* beyond U+10FFFF */
	{"^.$", "\xc0\xaf", 0, {E}},              /* overlong */
	{"^.$", "\xf0\x9f\x98\x80", 0, {0, 4, E}},

	/* Leftmost-first, greedy and lazy. */
	{"(a|ab)(c|bcd)(d*)", "abcd", 0, {0, 4, 0, 1, 1, 4, 4, 4, E}},
	{"(a+)(b+)?", "aab", 0, {0, 3, 0, 2, 2, 3, E}},
	{"(a+?)(b*?)", "aab", 0, {0, 1, 0, 1, 1, 1, 1, 2, 1, 2, 2, 2, E}},
	{"a+?", "aaa", 0, {0, 1, 1, 2, 2, 3, E}},
	{"(?U)a+", "aaa", 0, {0, 1, 1, 2, 2, 3, E}},
	{"(?U)a+?", "aaa", 0, {0, 3, E}},
	{"a|", "b", 0, {0, 0, 1, 1, E}},
	{"|a", "a", 0, {0, 0, 1, 1, E}},
	{"(a*)*", "b", 0, {0, 0, 0, 0, 1, 1, 1, 1, E}},
	{"(a*)+", "b", 0, {0, 0, 0, 0, 1, 1, 1, 1, E}},
	{"(a+)*", "b", 0, {0, 0, X, X, 1, 1, X, X, E}},
	{"(a|b)*c", "abac", 0, {0, 4, 2, 3, E}},

	/* Counted repetition. */
	{"a{2}", "aaaaa", 0, {0, 2, 2, 4, E}},
	{"a{2,}", "aaaaa", 0, {0, 5, E}},
	{"a{2,3}", "aaaaa", 0, {0, 3, 3, 5, E}},
	{"a{2,3}?", "aaaaa", 0, {0, 2, 2, 4, E}},
	{"a{0}b", "ab", 0, {1, 2, E}},
	{"(a){2}", "aa", 0, {0, 2, 1, 2, E}},
	{"(a){0,2}b", "aab", 0, {0, 3, 1, 2, E}},
	{"a{,2}", "a{,2}", 0, {0, 5, E}},  /* not a repetition: literal */
	{"a{2", "a{2", 0, {0, 3, E}},
	{"a{02}", "a{02}", 0, {0, 5, E}},  /* leading zero: literal */
	{"{", "{", 0, {0, 1, E}},
	{"x{1000}", "x", 0, {E}},

	/* Flags. */
	{"(?m)^b", "a\nb", 0, {2, 3, E}},
	{"^b", "a\nb", 0, {E}},
	{"(?m)a$", "a\nb", 0, {0, 1, E}},
	{"a$", "a\nb", 0, {E}},
	{"(?m)$", "a\n", 0, {1, 1, 2, 2, E}},
	{"(?s).+", "a\nb", 0, {0, 3, E}},
	{".+", "a\nb", 0, {0, 1, 2, 3, E}},
	{"[^a]", "\n", 0, {0, 1, E}},
	{"(?i:A)a", "aa", 0, {0, 2, E}},
	{"(?i:a)A", "aa", 0, {E}},
	{"a(?i)b|c", "C", 0, {0, 1, E}},
	{"(?i)a(?-i)b", "Ab", 0, {0, 2, E}},
	{"(?i)a(?-i)b", "AB", 0, {E}},
	{"(?im)^B$", "a\nb\n", 0, {2, 3, E}},
	{"(?sm-i:A.)", "A\n", 0, {0, 2, E}},

	/* Anchors. */
	{"\\Aa", "aa", 0, {0, 1, E}},
	{"a\\z", "aa", 0, {1, 2, E}},
	{"(?m)\\Aa", "b\na", 0, {E}},
	{"(?m)a\\z", "a\nb", 0, {E}},
	{"\\bfoo\\b", "a foo b foobar", 0, {2, 5, E}},
	{"\\Bo\\B", "foo", 0, {1, 2, E}},
	{"\\bé", "é", 0, {E}}, /* \b is ASCII: é is not a word character */

	/* Escapes. */
	{"\\141", "a", 0, {0, 1, E}},
	{"\\0", "\0", 1, {0, 1, E}},
	{"\\01a", "\001a", 0, {0, 2, E}},
	{"\\x41\\x{42}\\x{1F600}", "AB\xf0\x9f\x98\x80", 0, {0, 6, E}},
	{"\\Qa.b", "a.b", 0, {0, 3, E}},
	{"\\Qa.b\\E.", "a.bc", 0, {0, 4, E}},
	{"\\Qab\\E+", "abbb", 0, {0, 4, E}},
	{"\\_", "_", 0, {0, 1, E}},

	/* Classes. */
	{"[]a]+", "a]]", 0, {0, 3, E}},
	{"[^]a]+", "bc]", 0, {0, 2, E}},
	{"[a-]+", "a-a", 0, {0, 3, E}},
	{"[-a]+", "-a", 0, {0, 2, E}},
	{"[a-b-c]+", "ab-c", 0, {0, 4, E}},
	{"[[:alpha:][:digit:]]+", "ab12!", 0, {0, 4, E}},
	{"[[:^space:]]+", "ab c", 0, {0, 2, 3, 4, E}},
	{"[[:word:]]+", "a_1-", 0, {0, 3, E}},
	{"[[:punct:]]+", "a!@[`{~b", 0, {1, 7, E}},
	{"[\\d\\-x]+", "1-x2y", 0, {0, 4, E}},
	{"\\d+\\s+\\w+", "12 \t ab!", 0, {0, 7, E}},
	{"\\D\\S\\W", "a b", 0, {E}},
	{"[^\\d]+", "ab1", 0, {0, 2, E}},
	{"[[]", "[", 0, {0, 1, E}},
	{"[a-c[:digit:]x-z]+", "b5y", 0, {0, 3, E}},

	/* Unicode classes. */
	{"\\p{Lu}+", "abCD\u00c9f", 0, {2, 6, E}},
	{"\\PL+", "ab12;c", 0, {2, 5, E}},
	{"\\p{^L}+", "ab12;c", 0, {2, 5, E}},
	{"\\P{^L}+", "ab12;c", 0, {0, 2, 5, 6, E}},
	{"\\pN+", "x\u0661\u06623", 0, {1, 6, E}},
	{"\\p{Nd}", "\u2167", 0, {E}}, /* Roman numeral eight is Nl */
	{"\\p{Nl}", "\u2167", 0, {0, 3, E}},
	{"\\p{Greek}+", "ab\u03b3\u03b4", 0, {2, 6, E}},
	{"\\p{Han}+", "x\u65e5\u672c", 0, {1, 7, E}},
	{"\\p{Cyrillic}", "\u0416", 0, {0, 2, E}},
	{"\\p{Latin}+", "a\u00e9\u03b3", 0, {0, 3, E}},
	{"\\pP+", "a,.!b", 0, {1, 4, E}},
	{"\\pS", "+", 0, {0, 1, E}},
	{"\\pZ", "\u00a0", 0, {0, 2, E}},
	{"\\p{Zs}", "\n", 0, {E}},
	{"\\pL", "1", 0, {E}},
	{"\\p{Ll}", "A", 0, {E}},
	{"\\p{Letter}+", "ab1", 0, {0, 2, E}},
	{"\\p{Uppercase_Letter}", "A", 0, {0, 1, E}},
	{"\\p{greek}", "\u03b3", 0, {0, 2, E}},
	{"\\p{Any}+", "a\n\xff", 0, {0, 3, E}},
	{"\\p{ASCII}+", "ab\u00e9", 0, {0, 2, E}},
	{"[\\p{Lu}\\d]+", "aB3c", 0, {1, 3, E}},
	{"[^\\p{L}]+", "ab12", 0, {2, 4, E}},

	/* Case folding. */
	{"(?i)k", "\u212a", 0, {0, 3, E}},
	{"(?i)\u212a", "k", 0, {0, 1, E}},
	{"(?i)[k-m]+", "KLM\u212a", 0, {0, 6, E}},
	{"(?i)[^k]", "\u212a", 0, {E}},
	{"(?i)s", "\u017f", 0, {0, 2, E}},
	{"(?i)\u03c3+", "\u03a3\u03c2\u03c3", 0, {0, 6, E}},
	{"(?i)\u00ff", "\u0178", 0, {0, 2, E}},
	{"(?i)\u00e9t\u00e9", "\u00c9T\u00c9", 0, {0, 5, E}},
	{"(?i)stra\u00dfe", "STRASSE", 0, {E}}, /* simple folding only */
	{"(?i)\u0416", "\u0436", 0, {0, 2, E}},
	{"(?i)[[:upper:]]+", "aB", 0, {0, 2, E}},
	{"(?i)\\p{Lu}", "a", 0, {0, 1, E}},
	{"(?i)\\P{Lu}", "a", 0, {E}},
	{"(?i)hello", "HeLLo", 0, {0, 5, E}},
	{"(?i)\\Qa.B\\E", "A.b", 0, {0, 3, E}},

	/* Groups. */
	{"(?P<x>a)(?<y>b)(c)", "abc", 0, {0, 3, 0, 1, 1, 2, 2, 3, E}},
	{"(?:a(b))+", "abab", 0, {0, 4, 3, 4, E}},
	{"(?:(a)|(b))+", "ab", 0, {0, 2, 0, 1, 1, 2, E}},
	{"(a)|(b)", "b", 0, {0, 1, X, X, 0, 1, E}},
	{"(?i)(?:)", "", 0, {0, 0, E}},
	{"(?)a", "a", 0, {0, 1, E}},
};

static int cmp_find(void *ctx, const size_t *caps, size_t ncaps)
{
	int **w = ctx;
	for (size_t i = 0; i < ncaps; i++) {
		int got = caps[i] == SIZE_MAX ? X : (int)caps[i];
		if (**w == E) {
			fail_msg("more matches than expected");
		}
		assert_int_equal(got, **w);
		(*w)++;
	}
	return 0;
}

static void test_find_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof find_cases / sizeof find_cases[0]; i++) {
		const struct find_case *c = &find_cases[i];
		size_t tlen = c->text_len ? c->text_len : strlen(c->text);
		char err[REGO_RE_ERRLEN];
		struct rego_re *re;
		print_message("%zu: /%s/\n", i, c->pat);
		int rc = rego_re_compile(c->pat, strlen(c->pat), &re, err, sizeof err);
		if (rc != 0)
			fail_msg("compile /%s/: %s", c->pat, err);
		const int *w = c->want;
		long n = rego_re_find_all(re, c->text, tlen, -1, cmp_find, &w);
		if (*w != E)
			fail_msg("/%s/: %ld matches, fewer than expected", c->pat, n);

		/* The first match, through each entry point. */
		size_t per = 2 * (rego_re_num_groups(re) + 1);
		size_t s0 = 7, e0 = 7;
		int found = rego_re_search(re, c->text, tlen, 0, &s0, &e0);
		assert_int_equal(found, c->want[0] != E);
		assert_int_equal(rego_re_is_match(re, c->text, tlen), c->want[0] != E);
		if (found) {
			assert_int_equal(s0, c->want[0]);
			assert_int_equal(e0, c->want[1]);
			size_t caps[64];
			assert_int_equal(rego_re_search_captures(re, c->text, tlen, 0, caps, per), 1);
			for (size_t k = 0; k < per; k++)
				assert_int_equal(caps[k] == SIZE_MAX ? X : (int)caps[k], c->want[k]);
		}
		rego_re_free(re);
	}
}

struct error_case {
	const char *pat;
	size_t len; /* 0: strlen */
	const char *want;
};

static const struct error_case error_cases[] = {
	{"(a", 0, "missing closing ): `(a`"},
	{"(a|b", 0, "missing closing ): `(a|b`"},
	{"((a)", 0, "missing closing ): `((a)`"},
	{"a)", 0, "unexpected ): `a)`"},
	{"(a))", 0, "unexpected ): `(a))`"},
	{")", 0, "unexpected ): `)`"},
	{"a**", 0, "invalid nested repetition operator: `**`"},
	{"a*+", 0, "invalid nested repetition operator: `*+`"},
	{"a??*", 0, "invalid nested repetition operator: `??*`"},
	{"a{2}*", 0, "invalid nested repetition operator: `{2}*`"},
	{"*", 0, "missing argument to repetition operator: `*`"},
	{"(*)", 0, "missing argument to repetition operator: `*`"},
	{"a|*", 0, "missing argument to repetition operator: `*`"},
	{"+?", 0, "missing argument to repetition operator: `+?`"},
	{"{2}", 0, "missing argument to repetition operator: `{2}`"},
	{"x{1001}", 0, "invalid repeat count: `{1001}`"},
	{"x{2,1}", 0, "invalid repeat count: `{2,1}`"},
	{"x{1000000000}", 0, "invalid repeat count: `{1000000000}`"},
	{"x{1,1001}", 0, "invalid repeat count: `{1,1001}`"},
	{"(x{500}){3}", 0, "invalid repeat count: `{3}`"},
	{"((x{10}){10}){11}", 0, "invalid repeat count: `{11}`"},
	{"[a", 0, "missing closing ]: `[a`"},
	{"[]", 0, "missing closing ]: `[]`"},
	{"[^]", 0, "missing closing ]: `[^]`"},
	{"a[b-", 0, "missing closing ]: `[b-`"},
	{"[z-a]", 0, "invalid character class range: `z-a`"},
	{"[\\x{10}-\\x{5}]", 0, "invalid character class range: `\\x{10}-\\x{5}`"},
	{"[[:foo:]]", 0, "invalid character class range: `[:foo:]`"},
	{"\\p{Foo}", 0, "invalid character class range: `\\p{Foo}`"},
	{"[\\p{Foo}]", 0, "invalid character class range: `\\p{Foo}`"},
	{"\\pX", 0, "invalid character class range: `\\pX`"},
	{"\\p{Greek", 0, "invalid character class range: `\\p{Greek`"},
	{"\\p", 0, "invalid character class range: `\\p`"},
	{"\\8", 0, "invalid escape sequence: `\\8`"},
	{"\\1", 0, "invalid escape sequence: `\\1`"},
	{"\\Z", 0, "invalid escape sequence: `\\Z`"},
	{"\\C", 0, "invalid escape sequence: `\\C`"},
	{"\\q", 0, "invalid escape sequence: `\\q`"},
	{"\\x{110000}", 0, "invalid escape sequence: `\\x{110000`"},
	{"\\x{}", 0, "invalid escape sequence: `\\x{}`"},
	{"\\x{12", 0, "invalid escape sequence: `\\x{12`"},
	{"\\xZ1", 0, "invalid escape sequence: `\\xZ1`"},
	{"\\x1", 0, "invalid escape sequence: `\\x1`"},
	{"a\\", 0, "trailing backslash at end of expression: ``"},
	{"[a\\", 0, "trailing backslash at end of expression: ``"},
	{"(?P<>a)", 0, "invalid named capture: `(?P<>`"},
	{"(?P<a-b>x)", 0, "invalid named capture: `(?P<a-b>`"},
	{"(?<a b>x)", 0, "invalid named capture: `(?<a b>`"},
	{"(?P<name", 0, "invalid named capture: `(?P<name`"},
	{"(?<!a)", 0, "invalid named capture: `(?<!a)`"},
	{"(?P=name)", 0, "invalid or unsupported Perl syntax: `(?P`"},
	{"(?=a)", 0, "invalid or unsupported Perl syntax: `(?=`"},
	{"(?!a)", 0, "invalid or unsupported Perl syntax: `(?!`"},
	{"(?i-)", 0, "invalid or unsupported Perl syntax: `(?i-)`"},
	{"(?-)", 0, "invalid or unsupported Perl syntax: `(?-)`"},
	{"(?i-i-s)", 0, "invalid or unsupported Perl syntax: `(?i-i-`"},
	{"(?z)", 0, "invalid or unsupported Perl syntax: `(?z`"},
	{"(?i", 0, "invalid or unsupported Perl syntax: `(?i`"},
	{"(?", 0, "invalid or unsupported Perl syntax: `(?`"},
	{"x\xff", 0, "invalid UTF-8: `\xff`"},
	{"[\xff]", 0, "invalid UTF-8: `\xff]`"},
	{"\\Q\xe6\x97", 0, "invalid UTF-8: `\xe6\x97`"},
};

static void test_error_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
		const struct error_case *c = &error_cases[i];
		size_t len = c->len ? c->len : strlen(c->pat);
		char err[REGO_RE_ERRLEN];
		char want[REGO_RE_ERRLEN];
		struct rego_re *re = NULL;
		print_message("%zu: /%s/\n", i, c->pat);
		assert_int_equal(rego_re_compile(c->pat, len, &re, err, sizeof err), -1);
		assert_null(re);
		snprintf(want, sizeof want, "error parsing regexp: %s", c->want);
		assert_string_equal(err, want);
	}

	/* A NUL in the pattern is an ordinary character, quoted as it is. */
	char err[REGO_RE_ERRLEN];
	struct rego_re *re;
	static const char msg[] = "error parsing regexp: unexpected ): `a\0b)`";
	assert_int_equal(rego_re_compile("a\0b)", 4, &re, err, sizeof err), -1);
	assert_memory_equal(err, msg, sizeof msg);
}

static void test_valid_edge_patterns(void **state)
{
	(void)state;
	/* Accepted by Go; each must compile. */
	static const char *const ok[] = {
		"x{1000}", "x{0,1000}", "(x{10}){100}", "((x{10}){10}){10}", "(?:)", "()", "a|",
		"|", "(|)", "[[:^alpha:]]", "\\pL", "\\p{L}", "\\P{^Greek}", "(?i)(?m)(?s)(?U)",
		"(?i-msU:x)", "(?P<a>x)(?P<a>y)", "[a-a]", "\\x{10FFFF}", "x{2}{,3}", "(?:a{2}){500}",
		"\\b\\B\\A\\z^$", "[\\x00-\\x{10FFFF}]", "[^\\x00-\\x{10FFFF}]", "\\Q\\E", "\\Q",
		"(?P<n_1>x)", "(?<n>x)", "[\\d-z]",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char err[REGO_RE_ERRLEN];
		struct rego_re *re;
		if (rego_re_compile(ok[i], strlen(ok[i]), &re, err, sizeof err) != 0)
			fail_msg("/%s/: %s", ok[i], err);
		rego_re_free(re);
	}
}

static char *repeat_string(const char *unit, size_t times, const char *tail)
{
	size_t ulen = strlen(unit), tlen = strlen(tail);
	char *s = malloc(ulen * times + tlen + 1);
	assert_non_null(s);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * ulen, unit, ulen);
	memcpy(s + ulen * times, tail, tlen + 1);
	return s;
}

static void test_limits(void **state)
{
	(void)state;
	char err[REGO_RE_ERRLEN];
	struct rego_re *re;

	/* 1000 levels of nesting are fine; 1001 are not. */
	char *open = repeat_string("(", 999, "a");
	char *pat = malloc(strlen(open) + 1000);
	strcpy(pat, open);
	for (int i = 0; i < 999; i++)
		strcat(pat, ")");
	assert_int_equal(rego_re_compile(pat, strlen(pat), &re, err, sizeof err), 0);
	rego_re_free(re);
	free(open);
	free(pat);
	open = repeat_string("(", 1000, "a");
	pat = malloc(strlen(open) + 1001);
	strcpy(pat, open);
	for (int i = 0; i < 1000; i++)
		strcat(pat, ")");
	assert_int_equal(rego_re_compile(pat, strlen(pat), &re, err, sizeof err), -1);
	assert_non_null(strstr(err, "error parsing regexp: expression nests too deeply: `((("));
	free(open);
	free(pat);

	/* A program that would be too large is an error, not an allocation. */
	char *unit = repeat_string("abcdefghij", 20, "");
	char big[400];
	snprintf(big, sizeof big, "(?:%s){1000}", unit);
	free(unit);
	assert_int_equal(rego_re_compile(big, strlen(big), &re, err, sizeof err), -1);
	assert_non_null(strstr(err, "error parsing regexp: expression too large: `(?:abcdefghij"));
	snprintf(big, sizeof big, "(?:abcdefghij){1000}");
	assert_int_equal(rego_re_compile(big, strlen(big), &re, err, sizeof err), 0);
	rego_re_free(re);

	/* Many copies of a big class hit the class size limit. */
	char *classes = repeat_string("[\\pL\\pN\\pP\\pS]", 3000, "");
	assert_int_equal(rego_re_compile(classes, strlen(classes), &re, err, sizeof err), -1);
	assert_non_null(strstr(err, "error parsing regexp: expression too large"));
	free(classes);

	/* A message is cut to the buffer and always terminated. */
	char small[24];
	assert_int_equal(rego_re_compile("(abcdefghijklmnop", 17, &re, small, sizeof small), -1);
	assert_int_equal(strlen(small), sizeof small - 1);
	assert_int_equal(rego_re_compile("(", 1, &re, NULL, 0), -1);
}

/* Patterns that take a backtracking engine exponential time.  Each runs
 * over 100 kB; no time is asserted, only the answers. */
static void test_hostile_patterns(void **state)
{
	(void)state;
	static const struct {
		const char *pat;
		const char *unit;
		const char *tail;
		int found;
	} cases[] = {
		{"(a*)*b", "a", "", 0},
		{"(a|a)*b", "a", "", 0},
		{"(x+x+)+y", "x", "", 0},
		{"(a|aa)*c", "a", "", 0},
		{"(.*)*x", "a", "", 0},
		{"^(\\w+\\s?)*$", "word ", "!", 0},
		{"(a*)*b", "a", "b", 1},
		{"(.*a){12}", "a", "", 1},
		{"(?i)(a|b|ab)*c", "ab", "", 0},
		{"(?:a?){30}a{30}", "a", "", 1},
		{"(\\d+)+:", "1", "", 0},
	};
	size_t times = 100 * 1024;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[REGO_RE_ERRLEN];
		struct rego_re *re;
		size_t n = times / strlen(cases[i].unit);
		char *s = repeat_string(cases[i].unit, n, cases[i].tail);
		print_message("/%s/ over %zu bytes\n", cases[i].pat, strlen(s));
		assert_int_equal(rego_re_compile(cases[i].pat, strlen(cases[i].pat), &re, err, sizeof err), 0);
		size_t ms, me;
		assert_int_equal(rego_re_search(re, s, strlen(s), 0, &ms, &me), cases[i].found);
		assert_int_equal(rego_re_is_match(re, s, strlen(s)), cases[i].found);
		rego_re_free(re);
		free(s);
	}
}

struct replace_case {
	const char *pat, *repl, *in, *want;
};

static const struct replace_case replace_cases[] = {
	{"", "", "", ""},
	{"", "x", "", "x"},
	{"", "", "abc", "abc"},
	{"", "x", "abc", "xaxbxcx"},
	{"b", "", "", ""},
	{"b", "x", "", ""},
	{"b", "", "abc", "ac"},
	{"b", "x", "abc", "axc"},
	{"y", "x", "abc", "abc"},
	{"[a-c]*", "x", "\u65e5", "x\u65e5x"},
	{"[^\u65e5]", "x", "abc\u65e5def", "xxx\u65e5xxx"},
	{"^[a-c]*", "x", "abcdabc", "xdabc"},
	{"[a-c]*$", "x", "abcdabc", "abcdx"},
	{"^[a-c]*$", "x", "abcdabc", "abcdabc"},
	{"^[a-c]*", "x", "", "x"},
	{"^[a-c]+", "x", "dabce", "dabce"},
	{"abc", "def", "abcdefg", "defdefg"},
	{"bc", "BC", "abcbcdcdedef", "aBCBCdcdedef"},
	{"abc", "", "abcdabc", "d"},
	{"x", "xXx", "xxxXxxx", "xXxxXxxXxXxXxxXxxXx"},
	{".+", "x", "abc", "x"},
	{"[a-c]*", "x", "def", "xdxexfx"},
	{"[a-c]+", "x", "abcbcdcdedef", "xdxdedef"},
	{"[a-c]*", "x", "abcbcdcdedef", "xdxdxexdxexfx"},
	{"a+", "($0)", "banana", "b(a)n(a)n(a)"},
	{"a+", "(${0})", "banana", "b(a)n(a)n(a)"},
	{"a+", "(${0})$0", "banana", "b(a)an(a)an(a)a"},
	{"hello, (.+)", "goodbye, ${1}", "hello, world", "goodbye, world"},
	{"hello, (.+)", "goodbye, $1x", "hello, world", "goodbye, "},
	{"hello, (.+)", "goodbye, ${1}x", "hello, world", "goodbye, worldx"},
	{"hello, (.+)", "<$0><$1><$2><$3>", "hello, world", "<hello, world><world><><>"},
	{"hello, (?P<noun>.+)", "goodbye, $noun!", "hello, world", "goodbye, world!"},
	{"hello, (?P<noun>.+)", "goodbye, ${noun}", "hello, world", "goodbye, world"},
	{"(?P<x>hi)|(?P<x>bye)", "$x$x$x", "hi", "hihihi"},
	{"(?P<x>hi)|(?P<x>bye)", "$x$x$x", "bye", "byebyebye"},
	{"(?P<x>hi)|(?P<x>bye)", "$xyz", "hi", ""},
	{"(?P<x>hi)|(?P<x>bye)", "${x}yz", "hi", "hiyz"},
	{"(?P<x>hi)|(?P<x>bye)", "hello $$x", "hi", "hello $x"},
	{"a+", "${oops", "aaa", "${oops"},
	{"a+", "$$", "aaa", "$"},
	{"a+", "$", "aaa", "$"},
	{"(x)?", "$1", "123", "123"},
	{"abc", "$1", "123", "123"},
	{"(a)(b){0}(c)", ".$1|$3.", "xacxacx", "x.a|c.x.a|c.x"},
	{"(a)(b){0}(c)", ".$2|$3.", "xacxacx", "x.|c.x.|c.x"},
	{"((a(b){0}){3}){5}(h)", "y caramb$2", "say aaaaaaaaaaaaaaaah",
	 "say ay caramba"},
	{"(\\w+)@(\\w+)", "$2 at $1", "ann@host bob@box", "host at ann box at bob"},
	{"(?P<\u00e9>a)", "<$\u00e9>", "a", "<a>"},
	{"a", "$01", "a", ""},
};

static void test_replace_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof replace_cases / sizeof replace_cases[0]; i++) {
		const struct replace_case *c = &replace_cases[i];
		struct rego_re *re;
		char err[REGO_RE_ERRLEN];
		print_message("%zu: /%s/ %s\n", i, c->pat, c->repl);
		if (rego_re_compile(c->pat, strlen(c->pat), &re, err, sizeof err) != 0) {
			/* (?P<é>) is not a valid name in Go either. */
			assert_string_equal(c->pat, "(?P<\u00e9>a)");
			continue;
		}
		char *out;
		size_t out_len;
		assert_int_equal(rego_re_replace_all(re, c->in, strlen(c->in), c->repl,
						     strlen(c->repl), 0, &out, &out_len), 0);
		assert_string_equal(out, c->want);
		assert_int_equal(out_len, strlen(c->want));
		free(out);
		rego_re_free(re);
	}

	/* The output limit holds. */
	struct rego_re *re;
	assert_int_equal(rego_re_compile("", 0, &re, NULL, 0), 0);
	char *out = NULL;
	size_t out_len;
	assert_int_equal(rego_re_replace_all(re, "abcdef", 6, "xyz", 3, 16, &out, &out_len), -1);
	assert_null(out);
	assert_int_equal(rego_re_replace_all(re, "abcdef", 6, "xyz", 3, 27, &out, &out_len), 0);
	assert_int_equal(out_len, 27);
	free(out);
	rego_re_free(re);
}

struct split_case {
	const char *s, *pat;
	long n;
	const char *want[8];
	int nwant;
};

static const struct split_case split_cases[] = {
	{"foo:and:bar", ":", -1, {"foo", "and", "bar"}, 3},
	{"foo:and:bar", ":", 1, {"foo:and:bar"}, 1},
	{"foo:and:bar", ":", 2, {"foo", "and:bar"}, 2},
	{"foo:and:bar", "foo", -1, {"", ":and:bar"}, 2},
	{"foo:and:bar", "bar", -1, {"foo:and:", ""}, 2},
	{"foo:and:bar", "baz", -1, {"foo:and:bar"}, 1},
	{"baabaab", "a", -1, {"b", "", "b", "", "b"}, 5},
	{"baabaab", "a*", -1, {"b", "b", "b"}, 3},
	{"baabaab", "ba*", -1, {"", "", "", ""}, 4},
	{"foobar", "f*b*", -1, {"", "o", "o", "a", "r"}, 5},
	{"foobar", "f+.*b+", -1, {"", "ar"}, 2},
	{"foobooboar", "o{2}", -1, {"f", "b", "boar"}, 3},
	{"a,b,c,d,e,f", ",", 3, {"a", "b", "c,d,e,f"}, 3},
	{"a,b,c,d,e,f", ",", 0, {NULL}, 0},
	{",", ",", -1, {"", ""}, 2},
	{",,,", ",", -1, {"", "", "", ""}, 4},
	{"", ",", -1, {""}, 1},
	{"", ".*", -1, {""}, 1},
	{"", ".+", -1, {""}, 1},
	{"", "", -1, {NULL}, 0},
	{"foobar", "", -1, {"f", "o", "o", "b", "a", "r"}, 6},
	{"abaabaccadaaae", "a*", 5, {"", "b", "b", "c", "cadaaae"}, 5},
	{":x:y:z:", ":", -1, {"", "x", "y", "z", ""}, 5},
};

struct pieces {
	const char *s;
	char got[8][32];
	int n;
};

static int collect_piece(void *ctx, size_t start, size_t end)
{
	struct pieces *p = ctx;
	assert_true(p->n < 8);
	assert_true(end - start < 32);
	memcpy(p->got[p->n], p->s + start, end - start);
	p->got[p->n][end - start] = 0;
	p->n++;
	return 0;
}

static void test_split_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
		const struct split_case *c = &split_cases[i];
		struct rego_re *re;
		print_message("%zu: split %s by /%s/\n", i, c->s, c->pat);
		assert_int_equal(rego_re_compile(c->pat, strlen(c->pat), &re, NULL, 0), 0);
		struct pieces p = {.s = c->s};
		long n = rego_re_split(re, c->s, strlen(c->s), c->n, collect_piece, &p);
		assert_int_equal(n, c->nwant);
		assert_int_equal(p.n, c->nwant);
		for (int k = 0; k < c->nwant; k++)
			assert_string_equal(p.got[k], c->want[k]);
		rego_re_free(re);
	}
}

static int count_only(void *ctx, const size_t *caps, size_t ncaps)
{
	(void)caps;
	(void)ncaps;
	(*(int *)ctx)++;
	return 0;
}

static int stop_at_two(void *ctx, const size_t *caps, size_t ncaps)
{
	(void)caps;
	(void)ncaps;
	return ++(*(int *)ctx) == 2;
}

static void test_find_all_limits(void **state)
{
	(void)state;
	struct rego_re *re;
	assert_int_equal(rego_re_compile("a", 1, &re, NULL, 0), 0);
	static const struct {
		long max;
		long want;
	} cases[] = {{-1, 4}, {0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 4}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int calls = 0;
		assert_int_equal(rego_re_find_all(re, "bababaab", 8, cases[i].max, count_only, &calls),
				 cases[i].want);
		assert_int_equal(calls, cases[i].want);
	}
	int calls = 0;
	assert_int_equal(rego_re_find_all(re, "aaaa", 4, -1, stop_at_two, &calls), 2);
	rego_re_free(re);
}

static void test_search_start_and_context(void **state)
{
	(void)state;
	struct rego_re *re;
	size_t s, e;
	/* The text before start is context: ^ does not match at start > 0. */
	assert_int_equal(rego_re_compile("^a", 2, &re, NULL, 0), 0);
	assert_int_equal(rego_re_search(re, "aa", 2, 1, &s, &e), 0);
	assert_int_equal(rego_re_search(re, "aa", 2, 0, &s, &e), 1);
	assert_int_equal(rego_re_search(re, "aa", 2, 3, &s, &e), 0);
	rego_re_free(re);
	assert_int_equal(rego_re_compile("\\bb", 3, &re, NULL, 0), 0);
	assert_int_equal(rego_re_search(re, "ab b", 4, 1, &s, &e), 1);
	assert_int_equal(s, 3);
	rego_re_free(re);
	assert_int_equal(rego_re_compile("b", 1, &re, NULL, 0), 0);
	assert_int_equal(rego_re_search(re, "abab", 4, 2, &s, &e), 1);
	assert_int_equal(s, 3);
	assert_int_equal(rego_re_search(re, "abab", 4, 4, &s, &e), 0);
	rego_re_free(re);
}

static void test_captures_buffer_sizes(void **state)
{
	(void)state;
	struct rego_re *re;
	assert_int_equal(rego_re_compile("(a)(b)", 6, &re, NULL, 0), 0);
	assert_int_equal(rego_re_num_groups(re), 2);
	size_t caps[10];
	for (size_t i = 0; i < 10; i++)
		caps[i] = 77;
	/* Fewer slots than groups: only those are written. */
	assert_int_equal(rego_re_search_captures(re, "xab", 3, 0, caps, 3), 1);
	assert_int_equal(caps[0], 1);
	assert_int_equal(caps[1], 3);
	assert_int_equal(caps[2], 1);
	assert_int_equal(caps[3], 77);
	/* More slots: the extra ones are SIZE_MAX. */
	assert_int_equal(rego_re_search_captures(re, "xab", 3, 0, caps, 10), 1);
	assert_int_equal(caps[5], 3);
	assert_true(caps[6] == SIZE_MAX && caps[9] == SIZE_MAX);
	assert_int_equal(rego_re_search_captures(re, "xab", 3, 0, caps, 1), 1);
	assert_int_equal(caps[0], 1);
	rego_re_free(re);
}

static void test_group_names(void **state)
{
	(void)state;
	struct rego_re *re;
	const char *pat = "(?P<first>a)(b)(?<third>c)(?:d)";
	assert_int_equal(rego_re_compile(pat, strlen(pat), &re, NULL, 0), 0);
	assert_int_equal(rego_re_num_groups(re), 3);
	assert_string_equal(rego_re_group_name(re, 0), "");
	assert_string_equal(rego_re_group_name(re, 1), "first");
	assert_string_equal(rego_re_group_name(re, 2), "");
	assert_string_equal(rego_re_group_name(re, 3), "third");
	assert_null(rego_re_group_name(re, 4));
	assert_int_equal(rego_re_group_index(re, "third", 5), 3);
	assert_int_equal(rego_re_group_index(re, "second", 6), -1);
	size_t len;
	assert_string_equal(rego_re_pattern(re, &len), pat);
	assert_int_equal(len, strlen(pat));
	rego_re_free(re);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_table),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_valid_edge_patterns),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hostile_patterns),
		cmocka_unit_test(test_replace_table),
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_find_all_limits),
		cmocka_unit_test(test_search_start_and_context),
		cmocka_unit_test(test_captures_buffer_sizes),
		cmocka_unit_test(test_group_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
