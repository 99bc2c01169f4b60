/* Tests for the regular expression engine (re.h).  The cases are data:
 * pattern, subject, and what Go's regexp answers.  Many come from the
 * cases in Go's own regexp tests (find, replace, split, parse errors). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

struct find_state {
	const struct find_case *c;
	const int *w;
};

static int cmp_find(void *ctx, const size_t *caps, size_t ncaps)
{
	struct find_state *st = ctx;
	for (size_t i = 0; i < ncaps; i++) {
		int got = caps[i] == SIZE_MAX ? X : (int)caps[i];
		if (*st->w == E)
			fail_msg("/%s/ on \"%s\": more matches than expected", st->c->pat, st->c->text);
		if (got != *st->w)
			fail_msg("/%s/ on \"%s\": index %td is %d, want %d", st->c->pat, st->c->text,
				 st->w - st->c->want, got, *st->w);
		st->w++;
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
		int rc = rego_re_compile(c->pat, strlen(c->pat), &re, err, sizeof err);
		if (rc != 0)
			fail_msg("compile /%s/: %s", c->pat, err);
		struct find_state st = {c, c->want};
		long n = rego_re_find_all(re, c->text, tlen, -1, cmp_find, &st);
		if (*st.w != E)
			fail_msg("/%s/: %ld matches, fewer than expected", c->pat, n);

		/* The first match, through each entry point. */
		size_t per = 2 * (rego_re_num_groups(re) + 1);
		size_t s0 = 7, e0 = 7;
		int want_found = c->want[0] != E;
		int found = rego_re_search(re, c->text, tlen, 0, &s0, &e0);
		if (found != want_found || rego_re_is_match(re, c->text, tlen) != want_found)
			fail_msg("/%s/: search and is_match disagree with find_all", c->pat);
		if (found) {
			size_t caps[64];
			assert_int_equal(rego_re_search_captures(re, c->text, tlen, 0, caps, per), 1);
			for (size_t k = 0; k < per; k++)
				if ((caps[k] == SIZE_MAX ? X : (int)caps[k]) != c->want[k])
					fail_msg("/%s/: search_captures differs at %zu", c->pat, k);
			if (s0 != caps[0] || e0 != caps[1])
				fail_msg("/%s/: search span differs", c->pat);
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
		snprintf(want, sizeof want, "error parsing regexp: %s", c->want);
		if (rego_re_compile(c->pat, len, &re, err, sizeof err) != -1)
			fail_msg("/%s/ compiled; want %s", c->pat, want);
		assert_null(re);
		if (strcmp(err, want) != 0)
			fail_msg("/%s/: got \"%s\", want \"%s\"", c->pat, err, want);
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

	/* A huge pattern stops early, whatever its shape. */
	char *huge = repeat_string("a{0}", 200000, "");
	assert_int_equal(rego_re_compile(huge, strlen(huge), &re, err, sizeof err), -1);
	assert_non_null(strstr(err, "error parsing regexp: expression too large: `a{0}a{0}"));
	free(huge);
	huge = repeat_string("a", 100001, "");
	assert_int_equal(rego_re_compile(huge, strlen(huge), &re, err, sizeof err), -1);
	assert_non_null(strstr(err, "error parsing regexp: expression too large: `aaa"));
	free(huge);

	/* Many copies of a big class hit the class size limit. */
	char *classes = repeat_string("[\\pL\\pN\\pP\\pS]", 3000, "");
	assert_int_equal(rego_re_compile(classes, strlen(classes), &re, err, sizeof err), -1);
	assert_non_null(strstr(err, "error parsing regexp: expression too large"));
	free(classes);

	/* Scans that could go quadratic on a long pattern do not: "[:" with
	 * no ":]" after it, 100 000 times inside one class. */
	char *colons = repeat_string("[:", 100000, "x]");
	colons[0] = '[';
	assert_int_equal(rego_re_compile(colons, strlen(colons), &re, err, sizeof err), 0);
	assert_int_equal(rego_re_is_match(re, ":", 1), 1);
	assert_int_equal(rego_re_is_match(re, "]", 1), 0);
	rego_re_free(re);
	free(colons);

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

/* A pattern whose DFA has thousands of states: the cache fills, is reset,
 * and the answers stay those of the Pike VM. */
static void test_dfa_cache_overflow(void **state)
{
	(void)state;
	struct rego_re *re;
	const char *pat = "(a|b)*a(a|b){12}c";
	assert_int_equal(rego_re_compile(pat, strlen(pat), &re, NULL, 0), 0);
	char s[4096];
	uint32_t x = 1;
	for (int round = 0; round < 8; round++) {
		for (size_t i = 0; i < sizeof s; i++) {
			x = x * 1103515245 + 12345;
			s[i] = (x >> 16) & 1 ? 'a' : 'b';
		}
		size_t len = sizeof s - (size_t)round;
		if (round & 1)
			s[len - 1] = 'c';
		int want = rego_re_is_match_nfa(re, s, len);
		assert_int_equal(rego_re_is_match(re, s, len), want);
		size_t ms, me;
		assert_int_equal(rego_re_search(re, s, len, 0, &ms, &me), want);
	}
	rego_re_free(re);
}

/* Self-differential: random patterns and longer random subjects; the DFA
 * (is_match, and the prefilter in search) and the search accelerations
 * must give the Pike VM's answers. */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state % n;
}

static void random_pattern(char *out, size_t cap, int depth)
{
	static const char *const atoms[] = {
		"a", "b", "c", " ", "\\n", ".", "[ab]", "[^a]", "\\w", "\\W", "\\d", "\\s", "\\pL",
		"\u00e9", "\u65e5", "_", "(?i:A)", "[[:alpha:]]", "(?s:.)", "\\x{FFFD}",
	};
	static const char *const anchors[] = {"^", "$", "\\b", "\\B", "\\A", "\\z", "(?m:^)", "(?m:$)"};
	static const char *const reps[] = {"*", "+", "?", "*?", "{2}", "{1,3}", "{0,2}?"};
	int n = 1 + (int)rnd(4);
	for (int i = 0; i < n; i++) {
		size_t at = strlen(out);
		uint32_t k = rnd(16);
		if (k < 9 || depth > 2) {
			snprintf(out + at, cap - at, "%s", atoms[rnd(sizeof atoms / sizeof atoms[0])]);
		} else if (k < 12) {
			snprintf(out + at, cap - at, "%s", anchors[rnd(sizeof anchors / sizeof anchors[0])]);
		} else if (k < 14) {
			snprintf(out + at, cap - at, "(");
			random_pattern(out, cap, depth + 1);
			at = strlen(out);
			snprintf(out + at, cap - at, "|");
			random_pattern(out, cap, depth + 1);
			at = strlen(out);
			snprintf(out + at, cap - at, ")");
		} else {
			snprintf(out + at, cap - at, "(?:");
			random_pattern(out, cap, depth + 1);
			at = strlen(out);
			snprintf(out + at, cap - at, ")");
		}
		if (rnd(3) == 0) {
			at = strlen(out);
			snprintf(out + at, cap - at, "%s", reps[rnd(sizeof reps / sizeof reps[0])]);
		}
	}
}

static void test_dfa_matches_pike(void **state)
{
	(void)state;
	static const char *const units[] = {"a", "b", "c", " ", "\n", "_", "1", ".", "\u00e9",
					    "\u65e5", "\xff", "A"};
	int checked = 0;
	for (int i = 0; i < 400; i++) {
		char pat[8192] = "";
		random_pattern(pat, sizeof pat, 0);
		if (strlen(pat) >= sizeof pat - 1)
			continue; /* cut short: not a pattern */
		struct rego_re *re;
		char err[REGO_RE_ERRLEN];
		if (rego_re_compile(pat, strlen(pat), &re, err, sizeof err) != 0)
			fail_msg("/%s/: %s", pat, err);
		size_t ncap = 2 * (rego_re_num_groups(re) + 1);
		size_t *a = malloc(ncap * sizeof *a), *b = malloc(ncap * sizeof *b);
		assert_true(a && b);
		for (int j = 0; j < 6; j++) {
			char subject[1024];
			size_t len = 0, want = rnd(300);
			while (len < want) {
				const char *u = units[rnd(sizeof units / sizeof units[0])];
				size_t ul = strlen(u);
				memcpy(subject + len, u, ul);
				len += ul;
			}
			int nfa = rego_re_is_match_nfa(re, subject, len);
			if (rego_re_is_match(re, subject, len) != nfa)
				fail_msg("is_match /%s/ on %zu bytes: DFA differs", pat, len);
			int x = rego_re_search_captures(re, subject, len, 0, a, ncap);
			int y = rego_re_search_unaccelerated(re, subject, len, 0, b, ncap);
			if (x != nfa || y != nfa || (x == 1 && memcmp(a, b, ncap * sizeof *a) != 0))
				fail_msg("search /%s/ on %zu bytes differs", pat, len);
			checked++;
		}
		free(a);
		free(b);
		rego_re_free(re);
	}
	print_message("%d random subjects checked\n", checked);
}

struct thread_arg {
	const struct rego_re *re;
	int errors;
};

static void *match_in_thread(void *p)
{
	struct thread_arg *a = p;
	static const char *const subjects[] = {"/usr/bin/python3", "/etc/passwd", "/usr/lib/x", "",
					       "/usr/bin/", "/usr/bin/a\xff"};
	static const int want[] = {1, 0, 1, 0, 0, 0};
	for (int i = 0; i < 20000; i++) {
		size_t k = (size_t)i % 6;
		if (rego_re_is_match(a->re, subjects[k], strlen(subjects[k])) != want[k])
			a->errors++;
	}
	return NULL;
}

/* Searches from several threads at once share the program (and its DFA
 * cache, which a busy search skips). */
static void test_threads_share_program(void **state)
{
	(void)state;
	struct rego_re *re;
	const char *pat = "^/usr/(lib|bin)/[a-z0-9]+$";
	assert_int_equal(rego_re_compile(pat, strlen(pat), &re, NULL, 0), 0);
	pthread_t t[4];
	struct thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){re, 0};
		assert_int_equal(pthread_create(&t[i], NULL, match_in_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].errors, 0);
	}
	rego_re_free(re);
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

static void test_null_empty_inputs(void **state)
{
	(void)state;
	struct rego_re *re;
	assert_int_equal(rego_re_compile(NULL, 0, &re, NULL, 0), 0);
	size_t ms, me;
	assert_int_equal(rego_re_search(re, NULL, 0, 0, &ms, &me), 1);
	assert_int_equal(rego_re_is_match(re, NULL, 0), 1);
	char *out;
	size_t out_len;
	assert_int_equal(rego_re_replace_all(re, NULL, 0, NULL, 0, 0, &out, &out_len), 0);
	assert_int_equal(out_len, 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(rego_re_find_all(re, NULL, 0, -1, NULL, NULL), 1);
	assert_int_equal(rego_re_split(re, NULL, 0, -1, NULL, NULL), 0);
	rego_re_free(re);
	rego_re_free(NULL);
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


/* ------------------------------------------------------------------
 * Differential cases: random patterns and subjects with the answers of
 * Go's regexp package (Go 1.19): FindAllStringSubmatchIndex(s, -1),
 * ReplaceAllString(s, "<$1|${g1}|$0>") and Split(s, -1), or the compile
 * error.  Lines: "p PATTERN", then "e MESSAGE" or one "s" line per subject:
 * "s SUBJECT MATCHES REPLACED PIECES".  Strings are hex ("-" is empty);
 * MATCHES is "-" or the flattened indices; PIECES is "none" or a comma list.
 *
 * Generated by this Go program (Go 1.19, `go run gen.go`, defaults):
 *
 *   // Emits differential cases for src/rego/re_test.c: random patterns and
 *   // subjects, with what Go's regexp answers (FindAllStringSubmatchIndex,
 *   // ReplaceAllString with a template, Split), all strings hex-encoded.
 *   package main
 *
 *   import (
 *   	"encoding/hex"
 *   	"fmt"
 *   	"math/rand"
 *   	"os"
 *   	"regexp"
 *   	"strings"
 *   )
 *
 *   var atoms = []string{
 *   	"a", "b", "c", "A", "é", "日", "ſ", "k", "K", `\n`, ".", " ", "_", "1",
 *   	"[abc]", "[^a]", "[a-c]", "[^\\n]", `\d`, `\w`, `\s`, `\W`, `\D`, `\S`, `\pL`, `\p{Lu}`, `\PL`,
 *   	`\p{Greek}`, `[[:alpha:]]`, `[[:^space:]]`, `[\d_]`, `[é-ž]`, `\x{65e5}`, `\x61`, `\141`,
 *   	`\Qa.\E`, `[[:upper:]k]`, `(?i:b)`, `[^\pL\d]`, `\.`, `\*`, `[.]`,
 *   	`(?i)σ`, `(?i)[k-m]`, `(?i)[^k]`, `\p{Han}`, `\pN`, `\pP`, `\p{^Greek}`, `\P{Ll}`, `[\p{Lu}\d]`,
 *   	`(?i)\p{Lu}`, `(?i)\W`, `[^\x00-\x{10FFFF}]`, `\x{FFFD}`, `[\x{FFFD}a]`, `(?i)ſ`, `(?i)é`, `[[:punct:]]`,
 *   	`[[:word:]]`, `[a-c[:digit:]]`, `[]a]`, `[^]a]`, `[a-]`, `(?s:.)`, `(?m:^)`, `(?m:$)`, `\pZ`, `\pS`,
 *   	`Σ`, `ς`, `γ`, `\x{3a3}`, `(?U)a+`, `x{3,5}`, `(?:a|ab)(?:c|bcd)`,
 *   }
 *   var anchors = []string{"^", "$", `\b`, `\B`, `\A`, `\z`}
 *   var repeats = []string{"*", "+", "?", "*?", "+?", "??", "{2}", "{1,2}", "{0,}", "{2,}?", "{0,1}", "{0}"}
 *   var flags = []string{"(?i)", "(?m)", "(?s)", "(?U)", "(?i-s)", "(?ms)"}
 *
 *   func gen(r *rand.Rand, depth int) string {
 *   	var b strings.Builder
 *   	n := 1 + r.Intn(4)
 *   	for i := 0; i < n; i++ {
 *   		switch k := r.Intn(20); {
 *   		case k < 10 || depth > 3:
 *   			b.WriteString(atoms[r.Intn(len(atoms))])
 *   		case k < 12:
 *   			b.WriteString(anchors[r.Intn(len(anchors))])
 *   		case k < 14:
 *   			b.WriteString("(" + gen(r, depth+1) + ")")
 *   		case k < 15:
 *   			b.WriteString("(?:" + gen(r, depth+1) + ")")
 *   		case k < 16:
 *   			b.WriteString(fmt.Sprintf("(?P<g%d>", r.Intn(3)) + gen(r, depth+1) + ")")
 *   		case k < 17:
 *   			b.WriteString(flags[r.Intn(len(flags))])
 *   		case k < 18:
 *   			b.WriteString("(" + gen(r, depth+1) + "|" + gen(r, depth+1) + ")")
 *   		default:
 *   			b.WriteString("(?:" + gen(r, depth+1) + "|" + gen(r, depth+1) + ")")
 *   		}
 *   		if r.Intn(3) == 0 {
 *   			b.WriteString(repeats[r.Intn(len(repeats))])
 *   		}
 *   	}
 *   	if r.Intn(6) == 0 {
 *   		b.WriteString("|" + gen(r, depth+1))
 *   	}
 *   	return b.String()
 *   }
 *
 *   var junk = []string{"(", ")", "(?", "(?P<", "[:", ":]", "\\p{", "\\x{", "\\Q", "\\E", "\\8", "\\0", "é", "\\d", "{1001}", "{2,1}", "\\C", "\\z", "-",  "[", "]", "*", "+", "?", "{", "}", "\\", "|", "^", "$", "a", "-", ":", "P", "<", ">", "=", "!", "x", "1", "p", "Q", "E", "z", ",", "2", "i"}
 *
 *   func genJunk(r *rand.Rand) string {
 *   	var b strings.Builder
 *   	n := 1 + r.Intn(7)
 *   	for i := 0; i < n; i++ {
 *   		b.WriteString(junk[r.Intn(len(junk))])
 *   	}
 *   	return b.String()
 *   }
 *
 *   var subjectRunes = []string{"a", "b", "c", "A", "B", "\n", " ", "é", "É", "日", "ſ", "K", "k", "1", "_", "\xff", "γ", "Σ", "ς", ".", "*"}
 *
 *   func genSubject(r *rand.Rand) string {
 *   	var b strings.Builder
 *   	n := r.Intn(14)
 *   	for i := 0; i < n; i++ {
 *   		b.WriteString(subjectRunes[r.Intn(len(subjectRunes))])
 *   	}
 *   	return b.String()
 *   }
 *
 *   func h(s string) string {
 *   	if s == "" {
 *   		return "-"
 *   	}
 *   	return hex.EncodeToString([]byte(s))
 *   }
 *
 *   func main() {
 *   	seed, count := int64(20261128), 200
 *   	if v := os.Getenv("SEED"); v != "" {
 *   		fmt.Sscan(v, &seed)
 *   	}
 *   	if v := os.Getenv("COUNT"); v != "" {
 *   		fmt.Sscan(v, &count)
 *   	}
 *   	r := rand.New(rand.NewSource(seed))
 *   	const template = "<$1|${g1}|$0>"
 *   	seen := map[string]bool{}
 *   	npat := 0
 *   	for npat < count {
 *   		var pat string
 *   		if npat%8 == 7 {
 *   			pat = genJunk(r)
 *   		} else {
 *   			pat = gen(r, 0)
 *   		}
 *   		// Go 1.19 predates (?<name>re); newer Go and this engine accept it.
 *   		if seen[pat] || strings.Contains(pat, "(?<") {
 *   			continue
 *   		}
 *   		seen[pat] = true
 *   		npat++
 *   		re, err := regexp.Compile(pat)
 *   		// Newer Go matches Unicode class names loosely (\pz is \pZ); 1.19 does not.
 *   		if err != nil && (strings.Contains(err.Error(), "class range: `\\p") || strings.Contains(err.Error(), "class range: `\\P")) {
 *   			npat--
 *   			continue
 *   		}
 *   		fmt.Printf("\t\"p %s\",\n", h(pat))
 *   		if err != nil {
 *   			fmt.Printf("\t\"e %s\",\n", h(err.Error()))
 *   			continue
 *   		}
 *   		for i := 0; i < 3; i++ {
 *   			s := genSubject(r)
 *   			m := re.FindAllStringSubmatchIndex(s, -1)
 *   			var parts []string
 *   			for _, mm := range m {
 *   				for _, x := range mm {
 *   					parts = append(parts, fmt.Sprint(x))
 *   				}
 *   			}
 *   			ms := "-"
 *   			if len(parts) > 0 {
 *   				ms = strings.Join(parts, ",")
 *   			}
 *   			rep := re.ReplaceAllString(s, template)
 *   			sp := re.Split(s, -1)
 *   			var sps []string
 *   			for _, x := range sp {
 *   				sps = append(sps, h(x))
 *   			}
 *   			spl := "none"
 *   			if len(sps) > 0 {
 *   				spl = strings.Join(sps, ",")
 *   			}
 *   			fmt.Printf("\t\"s %s %s %s %s\",\n", h(s), ms, h(rep), spl)
 *   		}
 *   	}
 *   }
 */
static const char *const go_cases[] = {
	"p 283f503c67313ecf8228283f692d73297b302c317d283f3ac5bf7b307d5b5c787b464646447d615d7b322c7d3f295c623f293f283f552929417b312c327d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b302c317d60",
	"p 5b5c707b4c757d5c645d5c62",
	"s e697a5422a 3,4 e697a53c7c7c423e2a e697a5,2a",
	"s c389ffc5bf41c3a92e5fc5bfe697a5c3892e 5,6 c389ffc5bf3c7c7c413ec3a92e5fc5bfe697a5c3892e c389ffc5bf,c3a92e5fc5bfe697a5c3892e",
	"s 2ae697a562c5bf3142 8,9 2ae697a562c5bf313c7c7c423e 2ae697a562c5bf31,-",
	"p 5c707b5e477265656b7d283f3a247c283f3a617c616229283f3a637c626364295c647b312c327d5b5e615d2b3f285c44283f6929c3a97c5c442929",
	"s c5bf5f20206131 6,7,-1,-1 c5bf5f2020613c7c7c313e c5bf5f202061,-",
	"s 0a4bc3a95f6bff4bc3a9ceb3cea361ceb34b 17,18,-1,-1 0a4bc3a95f6bff4bc3a9ceb3cea361ceb33c7c7c4b3e 0a4bc3a95f6bff4bc3a9ceb3cea361ceb3,-",
	"s - - - -",
	"p 5b5e5c704c5c645d283f6d297c5c417b327d283f3a28283f6d293f5c622a3f29283f503c67323e5b5c645f5d285b5e5d615d5b5b3a616c7068613a5d5d295c707b48616e7d637b307d297c5c415b6162635d5c70502a5b612d635b3a64696769743a5d5d2b3f29283f7329283f6d73297c283f503c67303e5b5b3a5e73706163653a5d5d285b5e5c6e5d5c787b363565357d29297b327d5c7053",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20603f60",
	"p e697a55c70537b327d283f3a5c707b48616e7d5b5e615d7c283f3a62283f3a5b5b3a776f72643a5d5d283f3a4b5c504c7b302c7d7c635c537b312c327d297b302c317d283f3a5c787b464646447d5c707b48616e7d2b5b5e615d283f5529612b7b312c327d297c5b5c645f5d7b327d5c643f3f6b7c283f692d7329292a3f207c417b322c7d3f297b322c7d3fceb37b302c317d5c704e7b322c7d3f29",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b7b312c327d60",
	"p 283f73295c412a",
	"s 62c5bfceb341 0,0,1,1,3,3,5,5,6,6 3c7c7c3e623c7c7c3ec5bf3c7c7c3eceb33c7c7c3e413c7c7c3e 62,c5bf,ceb3,41",
	"s cea34be697a5ceb34bcea35fe697a55fc3a96b63 0,0,2,2,3,3,6,6,8,8,9,9,11,11,12,12,15,15,16,16,18,18,19,19,20,20 3c7c7c3ecea33c7c7c3e4b3c7c7c3ee697a53c7c7c3eceb33c7c7c3e4b3c7c7c3ecea33c7c7c3e5f3c7c7c3ee697a53c7c7c3e5f3c7c7c3ec3a93c7c7c3e6b3c7c7c3e633c7c7c3e cea3,4b,e697a5,ceb3,4b,cea3,5f,e697a5,5f,c3a9,6b,63",
	"s 2042c3895f0a2ecea3cea3 0,0,1,1,2,2,4,4,5,5,6,6,7,7,9,9,11,11 3c7c7c3e203c7c7c3e423c7c7c3ec3893c7c7c3e5f3c7c7c3e0a3c7c7c3e2e3c7c7c3ecea33c7c7c3ecea33c7c7c3e 20,42,c389,5f,0a,2e,cea3,cea3",
	"p 5b5d615d2a283f6929c5bf3f3f",
	"s 316b 0,0,1,1,2,2 3c7c7c3e313c7c7c3e6b3c7c7c3e 31,6b",
	"s 0a4120c3a92031622a2a5f 0,0,1,1,2,2,3,3,5,5,6,6,7,7,8,8,9,9,10,10,11,11 3c7c7c3e0a3c7c7c3e413c7c7c3e203c7c7c3ec3a93c7c7c3e203c7c7c3e313c7c7c3e623c7c7c3e2a3c7c7c3e2a3c7c7c3e5f3c7c7c3e 0a,41,20,c3a9,20,31,62,2a,2a,5f",
	"s 4241 0,0,1,1,2,2 3c7c7c3e423c7c7c3e413c7c7c3e 42,41",
	"p 2b45502a7b313030317d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602b60",
	"p 283f3a5c447b327d7c5c504c283f69295c707b4c757dc5bfc5bf29",
	"s 2e2a422acf82 0,2,2,4 3c7c7c2e2a3e3c7c7c422a3ecf82 -,-,cf82",
	"s - - - -",
	"s e697a5c5bf20cea3e697a52a4120ceb3615f 0,5,5,8,8,12,12,14,14,17 3c7c7ce697a5c5bf3e3c7c7c20cea33e3c7c7ce697a52a3e3c7c7c41203e3c7c7cceb3613e5f -,-,-,-,-,5f",
	"p 5c51612e5c452828cf827c5c7a2a283f3a5b5c707b4c757d5c645d5c445b5c707b4c757d5c645d5c787b464646447d2b7c283f69295c57297b302c7d292b3f283f3a283f3a5c7050283f5529612b283f3a632a7c5b5b3a5e73706163653a5d5d295b5b3a776f72643a5d5d3f3f295b612d5d7b322c7d3f283f3a5c775c787b464646447d7c5b5c707b4c757d5c645d283f733a2e2929283f3a285c70505c7836313f5b5c787b464646447d615d292b297ce697a52b5c2e29283f3a207cceb3ceb3297c5c704c2a3f7c283f3a5b5b3a70756e63743a5d5d5c707b5e477265656b7d283f503c67303e5b612d5d5b2e5d297b312c327d5c417c5c625c62283f6d29285f7b302c7d2029292b3f283f693a6229295b5e5c6e5d5e3f3f",
	"s 42316b6b - 42316b6b 42316b6b",
	"s 0a0a - 0a0a 0a0a",
	"s - - - -",
	"p 28283f3a5c622b286b7c5c625c787b3361337d285c707b4c757d2a283f69295b5e6b5d7c5bc3a92dc5be5d3f5b5b3a5e73706163653a5d5d5b5e615d5b5e615d2929207c5c57e697a5283f69295c707b4c757d283f693a62297b302c317d295c427c5c62283f69292b5b612d635d2a3f7c5b5e5c7830302d5c787b3130464646467d5d292b",
	"s c38941e697a541ff2eceb3cf82 2,2,2,2,-1,-1,-1,-1,3,3,3,3,-1,-1,-1,-1,6,6,6,6,-1,-1,-1,-1,7,7,7,7,-1,-1,-1,-1 c3893c7c7c3e413c7c7c3ee697a53c7c7c3e413c7c7c3eff2eceb3cf82 c389,41,e697a5,41,ff2eceb3cf82",
	"s 6b2a5f62 0,0,0,0,-1,-1,-1,-1,1,1,1,1,-1,-1,-1,-1,2,2,2,2,-1,-1,-1,-1,4,4,4,4,-1,-1,-1,-1 3c7c7c3e6b3c7c7c3e2a3c7c7c3e5f623c7c7c3e 6b,2a,5f62",
	"s 2ac38920412e4bc5bf6b 4,4,4,4,-1,-1,-1,-1,5,5,5,5,-1,-1,-1,-1,6,6,6,6,-1,-1,-1,-1,7,7,7,7,-1,-1,-1,-1,9,9,9,9,-1,-1,-1,-1,10,10,10,10,-1,-1,-1,-1 2ac389203c7c7c3e413c7c7c3e2e3c7c7c3e4b3c7c7c3ec5bf3c7c7c3e6b3c7c7c3e 2ac38920,41,2e,4b,c5bf,6b",
	"p 283f6929c3a97b302c317d5c64",
	"s 6361cf82ceb32e5f5f - 6361cf82ceb32e5f5f 6361cf82ceb32e5f5f",
	"s cea32e61 - cea32e61 cea32e61",
	"s 4b6bff6163cea3ffcf82c5bf - 4b6bff6163cea3ffcf82c5bf 4b6bff6163cea3ffcf82c5bf",
	"p 283f3a5c2e5b5d615d7c283f3a285b5d615d7b307d61297b327d5c787b363565357d7c283f73297b327d317b307d5c787b3361337d29283f3a285b5c707b4c757d5c645d627b302c317d295c627b302c7d283f3a5c787b363565357d7c5c535c575c2a7b307d7c5b5c787b464646447d615d6b2a3f297b327d5c707b477265656b7d7c5c707b48616e7d5c704e7b312c327d5c787b3361337d7b312c327d5bc3a92dc5be5d295c7a7b307d5c447c5b5b3a616c7068613a5d5d2a3f5c2e297b327d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b327d60",
	"p 283f693a62297c283f503c67313e5f283f3a283f3a787b332c357d7b302c7d7c283f693a6229297b327d7c5c44283f69295c577b302c7d5c704c7b302c7d29283f3a5c44283f503c67323e5c504c295b5b3a75707065723a5d6b5d3fc5bf29283f6d29293f3f5c64787b332c357d28e697a5283f6d73297b322c7d3f7c28ceb3297b302c317d292b",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d7b302c7d60",
	"p 5c6e63283f3a5c70537b307d7c285c642a3f283f6929cf837ccf825c3134317c5b5b3a70756e63743a5d5d7c283f503c67313e5b5b3a70756e63743a5d5d29283f3a5c787b464646447d7c283f6d3a5e29283f69295b6b2d6d5d283f6d3a5e295b5c645f5d7b302c7d295b5b3a5e73706163653a5d5d292a3f5c507b4c6c7d3f3f7c5c787b3361337d2a283f3a5c447c61283f3a617c616229283f3a637c62636429297c5b5e5d615d297b307d",
	"s - - - -",
	"s ceb34b415fcea342cea3cf82ceb36220 - ceb34b415fcea342cea3cf82ceb36220 ceb34b415fcea342cea3cf82ceb36220",
	"s ff6141cf82ffc3a9cea361 - ff6141cf82ffc3a9cea361 ff6141cf82ffc3a9cea361",
	"p 2b7b313030317d2d283f7b29",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602b60",
	"p 283f503c67323e283f3a5b5e5c704c5c645dcf825c704e7c28283f693a62295c625c787b464646447d2a7c285c70502a3f6229297b312c327d297b302c7d292a283f6d3a5e292a",
	"s 2063cea3c5bf2e0a41c389626bc389cf820a 0,0,0,0,-1,-1,-1,-1,1,1,1,1,-1,-1,-1,-1,2,2,2,2,-1,-1,-1,-1,4,4,4,4,-1,-1,-1,-1,6,6,6,6,-1,-1,-1,-1,7,7,7,7,-1,-1,-1,-1,8,8,8,8,-1,-1,-1,-1,9,9,9,9,-1,-1,-1,-1,11,12,11,12,11,12,11,12,13,13,13,13,-1,-1,-1,-1,15,15,15,15,-1,-1,-1,-1,17,17,17,17,-1,-1,-1,-1,18,18,18,18,-1,-1,-1,-1 3c7c7c3e203c7c7c3e633c7c7c3ecea33c7c7c3ec5bf3c7c7c3e2e3c7c7c3e0a3c7c7c3e413c7c7c3ec3893c627c7c623e6b3c7c7c3ec3893c7c7c3ecf823c7c7c3e0a3c7c7c3e 20,63,cea3,c5bf,2e,0a,41,c389,6b,c389,cf82,0a",
	"s 0a31cf8262c389cea3c5bf 0,0,0,0,-1,-1,-1,-1,1,1,1,1,-1,-1,-1,-1,2,2,2,2,-1,-1,-1,-1,4,5,4,5,4,5,-1,-1,7,7,7,7,-1,-1,-1,-1,9,9,9,9,-1,-1,-1,-1,11,11,11,11,-1,-1,-1,-1 3c7c7c3e0a3c7c7c3e313c7c7c3ecf823c627c7c623ec3893c7c7c3ecea33c7c7c3ec5bf3c7c7c3e 0a,31,cf82,c389,cea3,c5bf",
	"s cea3204b2e 0,0,0,0,-1,-1,-1,-1,2,2,2,2,-1,-1,-1,-1,3,3,3,3,-1,-1,-1,-1,4,4,4,4,-1,-1,-1,-1,5,5,5,5,-1,-1,-1,-1 3c7c7c3ecea33c7c7c3e203c7c7c3e4b3c7c7c3e2e3c7c7c3e cea3,20,4b,2e",
	"p 5c417b322c7d3f285c62617b302c317d283f55297c283f3a5b5b3a776f72643a5d5d2928283f3a5b5d615d2b3f283f3a617c616229283f3a637c626364295b6162635d7c6229e697a53f283f692d7329292a3f5c736b2b7c5c41297b312c327d5c705a7c28e697a529",
	"s 636b31ff - 636b31ff 636b31ff",
	"s 612a20636263 - 612a20636263 612a20636263",
	"s 41312e620a - 41312e620a 41312e620a",
	"p 5f",
	"s c3a92a42 - c3a92a42 c3a92a42",
	"s 206141c389 - 206141c389 206141c389",
	"s 2ec3894b206b62c3892aceb3 - 2ec3894b206b62c3892aceb3 2ec3894b206b62c3892aceb3",
	"p 285c42295b612d635b3a64696769743a5d5d",
	"s cf82e697a5c3a92acf823161c5bf632a6220 11,12,11,11 cf82e697a5c3a92acf82313c7c7c613ec5bf632a6220 cf82e697a5c3a92acf8231,c5bf632a6220",
	"s 0a6b4120625fe697a5cf82ffcf822a5fc3a9 - 0a6b4120625fe697a5cf82ffcf822a5fc3a9 0a6b4120625fe697a5cf82ffcf822a5fc3a9",
	"s 4141cf82ceb3614b422e - 4141cf82ceb3614b422e 4141cf82ceb3614b422e",
	"p 283f3a283f69295c575b612d5dc5bf2a3f285b2e5d283f693a6229297c5c504c7c285c707b477265656b7d2b5b5c645f5d283f6929cf837c5c447b307d2e2b3f7c283f6929cf832b5c572929283f3acea35f5b5e5c704c5c645d28286128283f3a617c616229283f3a637c626364297b302c317d5c53283f3a617c616229283f3a637c626364295b5b3a75707065723a5d6b5d297b312c327d5c707b477265656b7d5c7a7c283f6929c3a97b302c7d7c5c70505f5c787b464646447d3f3f417b322c7d3f29285b5e615d2ac5bf292a283f503c67323e63787b332c357d28412a5b5c645f5d202b7c5c737b327d417b322c7d3f5b612d635d5b5b3a776f72643a5d5d7c5c704c20787b332c357d2929297b307d7c283f3a283f3a285c445c777cc3a95b6162635d7b327d7c2e7b322c7d3f283f69295c575c577b327d283f69295c572a3f7c283f69295b5e6b5d5c707b5e477265656b7d2a3f2e5b612d5d292a7c285b5b3a616c7068613a5d5d7ce697a52b205c787b3361337d612929283f5529612b7c5b5e5c704c5c645d283f3a283f6929c5bf5b5b3a616c7068613a5d5d283f69295b6b2d6d5d7b322c7d3f7c787b332c357d5b5e5c6e5de697a55c70503f295b612d635d28ceb3283f733a2e29c3a97b302c7d7c5c70537b302c317d5c707b48616e7d7b302c7d297b302c317d295c707b5e477265656b7d5c704e5c704c293f7c5c504c5bc3a92dc5be5d",
	"s cf8242c5bf0a0a315f2e42 0,2,-1,-1,0,2,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,2,3,-1,-1,2,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,3,5,-1,-1,3,5,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,5,6,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,6,7,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,7,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,8,9,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,9,10,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,10,11,-1,-1,10,11,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3c7c7ccf823e3c7c7c423e3c7c7cc5bf3e3c7c7c0a3e3c7c7c0a3e3c7c7c313e3c7c7c5f3e3c7c7c2e3e3c7c7c423e -,-,-,-,-,-,-,-,-,-",
	"s 2a0aff2e5fc3a9ceb36241614b 0,1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,1,2,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,2,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,3,4,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,4,5,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,5,7,-1,-1,5,7,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,7,9,-1,-1,7,9,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,9,10,-1,-1,9,10,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,10,11,-1,-1,10,11,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,11,12,-1,-1,11,12,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,12,13,-1,-1,12,13,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3c7c7c2a3e3c7c7c0a3e3c7c7cff3e3c7c7c2e3e3c7c7c5f3e3c7c7cc3a93e3c7c7cceb33e3c7c7c623e3c7c7c413e3c7c7c613e3c7c7c4b3e -,-,-,-,-,-,-,-,-,-,-,-",
	"s 6120c3a931314b630acea3 0,1,-1,-1,0,1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,1,2,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,2,4,-1,-1,2,4,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,4,5,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,5,6,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,6,7,-1,-1,6,7,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,7,8,-1,-1,7,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,8,9,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,9,11,-1,-1,9,11,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3c7c7c613e3c7c7c203e3c7c7cc3a93e3c7c7c313e3c7c7c313e3c7c7c4b3e3c7c7c633e3c7c7c0a3e3c7c7ccea33e -,-,-,-,-,-,-,-,-,-",
	"p 5c504c5c705a20283f503c67303e5c7a283f3a283f3a4b5c41283f503c67303e5b5c787b464646447d615d29283f503c67323e5b5c707b4c757d5c645d7b307d5b5c707b4c757d5c645d283f6d3a5e295c53297c283f69295b5e6b5d7b302c317d2e5c64283f69295b5e6b5d29285b5c707b4c757d5c645d283f692d73297b327d5b5e5c704c5c645d7b327d5c704c29283f3a5c7a7c28283f69295b5e6b5d5b2e5d292b3f292b7c5c62e697a52a283f3a5b5e5c7830302d5c787b3130464646467d5dcea37b302c7d7c5b612d635d5b612d635d5b2e5d317c283f69295b5e6b5d5c704c7b327d5c787b3361337d297b302c317d7c5c7836312b7c5b5b3a75707065723a5d6b5d29297b327d",
	"s - - - -",
	"s ffff0acf82 - ffff0acf82 ffff0acf82",
	"s cea3202e2eff61e697a562e697a55fff - cea3202e2eff61e697a562e697a55fff cea3202e2eff61e697a562e697a55fff",
	"p 5c2a28283f5529612b3f3fc3a9297b312c327d5c787b3361337d283f3a283f6929c3a95b5e5c6e5dceb329",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b3f3f60",
	"p 283f45",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206f7220756e737570706f72746564205065726c2073796e7461783a2060283f4560",
	"p 283f3a5b5e5d615d5c704e285b5b3a616c7068613a5d5d7b312c327d28285c572b3f787b332c357d5c2e295c6229283f3a5e7b302c317d7c5c41283f3a5c575c707b4c757d5c787b363565357d31295b5b3a70756e63743a5d5d29cf82295b5c707b4c757d5c645d7b322c7d3f7c5c2ac5bf6b295c707b48616e7d7b327d283f3a28285b5c787b464646447d615d5c704e7c283f3a617c616229283f3a637c6263642929283f3a5c417c5b5b3a616c7068613a5d5d7c285c704c5b5c707b4c757d5c645dcf825b5b3a776f72643a5d5d297b312c327d5c787b3361337d283f3a617c5b612d5d297b327d5b5c787b464646447d615d295b612d5d7b302c7d28286b5b5c645f5d5c70505c787b3361337d7b302c317d7c5b5e5c7830302d5c787b3130464646467d5d7b302c7d5b5d615d2b5b5e5c6e5d295c413f5c2e3f3f7c627b307d6b283f3a283f69295b5e6b5d4b5c3134315b5e5c6e5d292929283f6d295b612d5d297b302c317d283f3a5c3134312b283f733a2e292b283f3a6b28283f503c67303e5c735c705a2b4b7b307d7c5bc3a92dc5be5dc3a95c2a5c577c4b5c707b477265656b7d5b5d615d292928283f69295b6b2d6d5d5c70504b29297b302c7d5c2e7b322c7d3f7c41283f3a5c2e285b612d5d5e242b283f733a2e2929283f3a5b612d635d5b5b3a5e73706163653a5d5d7c283f3a5c3134315c787b3361337d5c732b7c635c704c2a3f5c705a7b312c327d7c5c707b48616e7d29283f503c67313e5b5b3a616c7068613a5d5d5c7050283f69295c575c504c7c5b5e5d615d7c20787b332c357d2a3f297b302c7d7c5c787b3361337d7b302c7d5c647b322c7d3f787b332c357d5c705a7b302c317d29285b5e5d615d2a283f3a5c577b327d283f69295c577b302c7d5b5e615d7b322c7d3f283f6929cf837cc5bf5c704e5c2e2b297b312c327d297c5b6162635d295c417b322c7d3f297c20283f69295b6b2d6d5d2a",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d2a3f60",
	"p 285c41283f69295b5e6b5d7c283f6929cf835c2e5c504c4b7c5e5c627c6b5c704e7b312c327d283f503c67323e5c707b5e477265656b7d5c707b48616e7d5b5e5d615d2b3f292920283f3a283f503c67313e5b5c645f5d3f5c622b3f283f3a285b5e5d615d283f6929c5bf7c5c704e6b61283f6929c5bf2b292be697a55b612d635d29295c627c627b302c317d5c645c642a7c5b5b3a616c7068613a5d5d5c705a3f283f692929",
	"s - - - -",
	"s 5f414b - 5f414b 5f414b",
	"s 632e20 - 632e20 632e20",
	"p 283f5529283f3a24283f692d73297b327d7c28283f3a285b6162635d5c787b3361337d297ccea35b5c707b4c757d5c645d2b2928283f3a5b5b3a75707065723a5d6b5d7b302c7d5b612d635d5b6162635d7c5b5e5c6e5d283f6929c3a97b312c327d5b612d635b3a64696769743a5d5d2924c3a92b3f7cceb3285bc3a92dc5be5d5c787b464646447dcf8229283f6d3a5e292b3f283f503c67323e5c7053297b327d29285b6162635d283f3a5b5b3a616c7068613a5d5d7b307d5c777c5b5b3a5e73706163653a5d5d2a3f295c787b3361337d7b327d2929283f6d73295c425c70507c31292b3f",
	"s 6b422a20c5bf2031ceb3e697a52e 7,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,14,14,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 6b422a20c5bf203c7c7c313eceb3e697a52e3c7c7c3e 6b422a20c5bf20,ceb3e697a52e",
	"s 2e6be697a562 6,6,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 2e6be697a5623c7c7c3e 2e6be697a562",
	"s 4b 1,1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 4b3c7c7c3e 4b",
	"p 5c733f283f3a283f5529612b5e5c31343128285b5e615d5c413f7c5c3134313fc3a9283f693a62293f3f29283f3a28615b5b3a70756e63743a5d5d2a5c787b363565357d2a5c537b307d7c5c707b4c757d5b6162635d5f7b302c317d283f6929cf833f3f7c5b5e5c6e5d283f6929c3a9c5bf29283f503c67313e5b612d635b3a64696769743a5d5d283f6929c5bf5c2e5c2e7b302c317d295b6162635d247c5c537c5b5b3a75707065723a5d6b5d283f3a283f6d3a24295b5e615d3f3f5c707b5e477265656b7d283f693a62297c5c704e7b302c7dc3a95c504c2b3f297b312c327d5b5e5c7830302d5c787b3130464646467d5d7b322c7d3f29c3a95b5c787b464646447d615d7c5b5e5c6e5d5c707b477265656b7d5c625c7836317c5b5c707b4c757d5c645d7b322c7d3f283f3a2e5b5b3a75707065723a5d6b5d5c70505c537c5c735b5b3a616c7068613a5d5d3f5c447c5b2e5d2a3f5c44283f733a2e29283f6929cf83292a3f5c707b477265656b7d285c70505c313431c5bf2b3f297b322c7d3f297c285e283f5529283f503c67303e283f503c67303e625b5e5c704c5c645d3f5bc3a92dc5be5d293f3f5c7a787b332c357d7b302c7d297b322c7d3f5c7053295c62283f3a5b5b3a616c7068613a5d5d283f3acea3283f6929cf837c5c704ec5bf7c31283f693a6229617c5c445c504c29285c504ce697a5297c285b5b3a5e73706163653a5d5d283f6929c5bf2a7c5c645c445b2e5d283f6d3a5e29297c5c704c283f6929cf83283f6929c3a92a6b29297c5b5b3a776f72643a5d5d7c5c707b477265656b7d28285b5b3a75707065723a5d6b5d283f6d3a5e293f295f5b5b3a70756e63743a5d5d7c283f733a2e295b6162635d4129285c77283f3a5b5e5d615d7c5f292b295e",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d7b302c7d60",
	"p e697a5283f6d3a5e29283f3a5c6e31317b302c7d5b5e615d7b307d7c5c704e7b312c327d28285b612d635b3a64696769743a5d5d28283f693a62297c5c575c787b464646447d5c2a2928315c537c5c2a5c787b3361337d5c504c283f6d3a5e297b307d292a3f297b322c7d3f283f3a5c2e7b302c7d5c2e7c28e697a53f7c5b5c787b464646447d615d7b302c7d283f6d3a5e295c787b363565357d7b307d7c5c2e2b29283f503c67313e20295c51612e5c457b327d29285b5e5c7830302d5c787b3130464646467d5d3f5b5c645f5d295b5e5d615d7c5bc3a92dc5be5d283f6d7329283f6d73297c283f3a283f69295c575c442b3f5c2a7b312c327d7cc5bf297b322c7d3f283f3a283f3a5c51612e5c455b5b3a616c7068613a5d5d7c5c707b477265656b7d293f3f5c62283f733a2e297c285b5c707b4c757d5c645d5b5c787b464646447d615d2b3f283f6929c5bf5c787b464646447d7b307d2929295b5e5d615d283f733a2e2929",
	"s ffe697a541 - ffe697a541 ffe697a541",
	"s 6161cea341c5bf4b2ac389cea3cea35f - 6161cea341c5bf4b2ac389cea3cea35f 6161cea341c5bf4b2ac389cea3cea35f",
	"s 615f - 615f 615f",
	"p 5b612d5d",
	"s 2ecea3e697a52a - 2ecea3e697a52a 2ecea3e697a52a",
	"s 635fc389cf822a2e5f20424131 - 635fc389cf822a2e5f20424131 635fc389cf822a2e5f20424131",
	"s 2aceb34b5fceb3ceb3c3a9c389c5bf - 2aceb34b5fceb3ceb3c3a9c389c5bf 2aceb34b5fceb3ceb3c3a9c389c5bf",
	"p c5bf2b3f285b6162635d5b5b3a5e73706163653a5d5d3f3f283f69297c5c645c427b327d283f503c67313e285c735b612d635d5c707b5e477265656b7d7c283f3a283f69295c707b4c757d5c7836317c5b5c707b4c757d5c645d4b2a5c787b3361337d7b302c7d312b3f29285b5b3a70756e63743a5d5d5bc3a92dc5be5d7c5c707b4c757dc5bf2b3f295c537c5b5e5c7830302d5c787b3130464646467d5d5c2e5c787b363565357d5c787b3361337d7b312c327d292a3f5c7a283f503c67323e283f6d29297b302c7d283f733a2e293f2929",
	"s 315f6b - 315f6b 315f6b",
	"s cea3c3a94bcea3cea34bc389ceb3c3a961612a0a - cea3c3a94bcea3cea34bc389ceb3c3a961612a0a cea3c3a94bcea3cea34bc389ceb3c3a961612a0a",
	"s 41206bc3a942ffceb3e697a541e697a5 - 41206bc3a942ffceb3e697a541e697a5 41206bc3a942ffceb3e697a541e697a5",
	"p 317c31615c5b3a",
	"s c3a9e697a5 - c3a9e697a5 c3a9e697a5",
	"s 0a41c3a90a636b2e5f426320cf822e - 0a41c3a90a636b2e5f426320cf822e 0a41c3a90a636b2e5f426320cf822e",
	"s 622acea3ceb30a4263 - 622acea3ceb30a4263 622acea3ceb30a4263",
	"p 283f73297b302c7d283f692d73295c42",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b302c7d60",
	"p 283f3a283f69295c577b312c327d283f73295c427c5b5b3a75707065723a5d6b5d7b307d7c285c707b5e477265656b7d297c5b612d635d5b5b3a5e73706163653a5d5d283f503c67313e63283f3ac5bf2a3f7c5b5c645f5dceb37c62627c5c504c5c704e297b327d283f3a5c70535c504c29297b307d283f6d3a5e292b3f297c5c705a285c507b4c6c7d283f55295e297b307d283f3a285b5e5c704c5c645d7b327d297c283f3a283f3a283f6d3a5e295c577c5b5e5d615d7c5b6162635d7c283f69295b5e6b5d283f6d3a5e29295b5c707b4c757d5c645d283f503c67323e5b5c645f5d283f5529612b5c704e3f5b5c787b464646447d615d3f3f297b302c317d7c5b5c787b464646447d615d5b5b3a776f72643a5d5d5c6e7c283f3a617c616229283f3a637c626364295bc3a92dc5be5d283f3a283f6929c3a95c6e3f5c704c7cc3a9295b5e5d615d292a3f285b5e5c6e5d2b3f5c704e5c627b302c317d29297b302c317d",
	"s ffffffc5bf 0,2,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,2,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,5,5,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3c7c7cffff3e3c7c7cff3ec5bf3c7c7c3e -,-,c5bf",
	"s 5f632a63632a2e6b 0,0,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,1,1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,2,2,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,3,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,4,4,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,5,6,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,7,7,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,8,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3c7c7c3e5f3c7c7c3e633c7c7c3e2a3c7c7c3e633c7c7c3e633c7c7c2a3e2e3c7c7c3e6b3c7c7c3e 5f,63,2a,63,63,2e,6b",
	"s c5bf6261415f2e0a2a31 0,0,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,2,2,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,3,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,4,4,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,5,5,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,6,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,9,9,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,10,10,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3c7c7c3ec5bf3c7c7c3e623c7c7c3e613c7c7c3e413c7c7c3e5f3c7c7c2e0a3e2a3c7c7c3e313c7c7c3e c5bf,62,61,41,5f,2a,31",
	"p 5e283f69295b6b2d6d5d5c445c7a",
	"s 2acea35f4b - 2acea35f4b 2acea35f4b",
	"s 2e62 - 2e62 2e62",
	"s ceb3200acea341c5bf0ae697a561ffceb3ceb3 - ceb3200acea341c5bf0ae697a561ffceb3ceb3 ceb3200acea341c5bf0ae697a561ffceb3ceb3",
	"p 283f3a283f503c67303e5b5b3a70756e63743a5d5d283f3a283f503c67323e5c504c297c5c70507b327d292a3f5c2e29292b3f282828283f3a5c70532a3f5c787b363565357d2b5b612d635b3a64696769743a5d5d7c5c3134315b612d635d7b302c7d292a5c4428283f69295c707b4c757d5bc3a92dc5be5d283f69295b6b2d6d5d5c31343129295c447b302c317d283f6d297b307d7c285c6e283f6929c3a92a3f5b612d635d29283f3a5b5e5c6e5d7b327d7c5c707b477265656b7d3f3f317b302c7d5b5b3a5e73706163653a5d5d29283f693a62297b302c317d283f3a5c443f5c2e7cceb35c787b3361337d283f5529612b297c5b5e5c704c5c645d5c445b5d615d2b3f295c704c2a29c3a9283f3a5b5b3a70756e63743a5d5d297cceb3285c533f297b307d",
	"s - - - -",
	"s e697a561cf82 - e697a561cf82 e697a561cf82",
	"s 62c3a96bcf8262e697a562cf82 - 62c3a96bcf8262e697a562cf82 62c3a96bcf8262e697a562cf82",
	"p 283f3a5b5b3a5e73706163653a5d5d5c625b5b3a5e73706163653a5d5d7b312c327d5b5b3a776f72643a5d5d2a3f29283f503c67313e5c70507b322c7d3f5c412a285b5c787b464646447d615d3f3f283f503c67323e283f6d292b3f283f3a283f69295c707b4c757d5b5e5c6e5d7b307d5c57283f6d3a5e297c5c70532b5c2e5c707b477265656b7d283f6d3a5e297b302c317d7c5c7836317b322c7d3f5c705a2a3fceb3297b302c317d283f3a5c6ecf82283f69295c707b4c757d5c777b302c317d7c283f3a617c616229283f3a637c626364297b302c7d5c7836314b2b5c504c297b302c7d5f7c5c2a7b302c7d29292b3f283f3a283f69295b5e6b5d7b327d24283f3a283f503c67313e5c51612e5c455c51612e5c455c707b477265656b7d29283f3ae697a5295bc3a92dc5be5d5b5b3a70756e63743a5d5d7b307d7c284bcea3295c7053283f3a5b5e5c7830302d5c787b3130464646467d5d7b327d5b5c787b464646447d615d5c447b312c327d7c787b332c357d5c707b5e477265656b7d5c507b4c6c7d29295c427c5c70535bc3a92dc5be5d5c77297c2828283f69295b5e6b5d5c507b4c6c7d3f3f283f69295b6b2d6d5d283f6d3a5e2929283f3a5b5b3a776f72643a5d5d7b327d5c707b48616e7d283f6d3a24297b302c317d5c707b477265656b7d297b327d283f3a5c704e292b3f7c283f6d3a24297b302c7d5c777b307d7c283f55293f283f3a5c704c2bcf822b5c707b5e477265656b7d7c5c51612e5c455b612d5d5c7836315c787b363565357d3f7c5c787b3361337d312b3f29292a5b5d615d3f283f3a285b5b3a75707065723a5d6b5d3f3f283f6929cf835b5e5c7830302d5c787b3130464646467d5d29313f3f5b2e5d5c627b307d295c2a293f283f3a283f69295b5e6b5d3f28283f69295b6b2d6d5d7b302c317d5c7ac5bf7b327d28283f503c67303e5c735bc3a92dc5be5d7b302c317d7c415c707b48616e7d4b5c2e29283f3a5b5e5d615d7b312c327d7cceb3283f69295c57c3a95b5c707b4c757d5c645d292a3f285b612d635d3f5b5d615d5c6e7c5c3134312a5b5c645f5d297b307d29293f3f283f6929cf835c412a3f7c5b2e5d28285c3134317b307d283f6929cf832b3f7c617b307d283f693a62295c737b302c7d7c283f69295c707b4c757d5c5729283f3a5c7836313f625c705a3f5c705a7ccf823f3f283f5529612b3f7c283f69295c57787b332c357d283f69295c577c283f6929c3a95c707b477265656b7d7b312c327d292a5c425c64295b5e5c704c5c645d283f503c67303e283f69295c707b4c757d2b3f297c5c787b464646447de697a53f3f5e297b307d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602b3f60",
	"p 3128283f55295c70537b302c317d5b5b3a5e73706163653a5d5d2b7c283f3a5c427c283f3a5c705a5c783631283f503c67303e5b612d5d295b5b3a5e73706163653a5d5d3f7c5b5c707b4c757d5c645d283f6d7329285b6162635d283f6929c3a9297c283f6929cf835b5e5c6e5d5c57295c787b363565357d7b322c7d3f283f503c67323e5b5b3a776f72643a5d5d283f3a5c707b5e477265656b7de697a55b5c707b4c757d5c645d2b3f5c704e7c63292a615b5e5c7830302d5c787b3130464646467d5d7b322c7d3f29283f3a5c707b48616e7d5b5c645f5d7b312c327d5c707b4c757d7c5c783631283f6d3a5e295b5b3a776f72643a5d5d7b302c317d5c572a297c5bc3a92dc5be5d7b307d5c705a297b302c7d283f3a283f3a283f3a2e5b5c645f5d7b302c317d283f6929c3a929283f69295c707b4c757d2b3f7c632b3f283f3a617c616229283f3a637c6263642929283f3a5c705a5b5e5c704c5c645d5c42283f3a5b5e5c6e5d7c283f6929c3a9297cceb3283f69295b5e6b5dcf82637c28205b5c707b4c757d5c645d7c283f693a62297c5b5e5d615d5c31343129297c5c504c2a24283f5529612b7b302c317d29283f6929cf837b327d297b312c327d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b7b302c317d60",
	"p 283f3a283f69295c707b4c757d5c704c29",
	"s 6b630a5f62c3a92a5f2e6231 0,2,4,7 3c7c7c6b633e0a5f3c7c7c62c3a93e2a5f2e6231 -,0a5f,2a5f2e6231",
	"s 3131c3a9 - 3131c3a9 3131c3a9",
	"s 316bc5bfceb3cea3 1,4,4,8 313c7c7c6bc5bf3e3c7c7cceb3cea33e 31,-,-",
	"p 5c38325c3a2d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206573636170652073657175656e63653a20605c3860",
	"p 285c707b4c757d247b322c7d3f29",
	"s 616b - 616b 616b",
	"s 6241c5bf4b 4,5,4,5 6241c5bf3c4b7c7c4b3e 6241c5bf,-",
	"s 2a20c38962 - 2a20c38962 2a20c38962",
	"p 285b5c645f5d787b332c357d2b5f2b3f5b5b3a75707065723a5d6b5d29285b6162635d283f692d73295c705a292a2e5c7a7b302c7d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d2b60",
	"p 283f6d7329",
	"s 620a622acf824b0aff61 0,0,1,1,2,2,3,3,4,4,6,6,7,7,8,8,9,9,10,10 3c7c7c3e623c7c7c3e0a3c7c7c3e623c7c7c3e2a3c7c7c3ecf823c7c7c3e4b3c7c7c3e0a3c7c7c3eff3c7c7c3e613c7c7c3e 62,0a,62,2a,cf82,4b,0a,ff,61",
	"s 63c3a94bcf82410a63 0,0,1,1,3,3,4,4,6,6,7,7,8,8,9,9 3c7c7c3e633c7c7c3ec3a93c7c7c3e4b3c7c7c3ecf823c7c7c3e413c7c7c3e0a3c7c7c3e633c7c7c3e 63,c3a9,4b,cf82,41,0a,63",
	"s 2a2020c3a9ceb3c389c389c389 0,0,1,1,2,2,3,3,5,5,7,7,9,9,11,11,13,13 3c7c7c3e2a3c7c7c3e203c7c7c3e203c7c7c3ec3a93c7c7c3eceb33c7c7c3ec3893c7c7c3ec3893c7c7c3ec3893c7c7c3e 2a,20,20,c3a9,ceb3,c389,c389,c389",
	"p 283f503c67323e6b285c422a3f2928283f503c67313e617c283f6929c5bf283f3a617c616229283f3a637c626364293f3f5b5e5c7830302d5c787b3130464646467d5d2b3f297c283f69295b6b2d6d5d295c704c29",
	"s cf826bffc5bf5fe697a52ac38941cea3 - cf826bffc5bf5fe697a52ac38941cea3 cf826bffc5bf5fe697a52ac38941cea3",
	"s c5bf20ff5f4b - c5bf20ff5f4b c5bf20ff5f4b",
	"s c38931ff - c38931ff c38931ff",
	"p 245c62283f733a2e295c422a",
	"s 632a633141e697a531ceb3c5bf4120ff6b - 632a633141e697a531ceb3c5bf4120ff6b 632a633141e697a531ceb3c5bf4120ff6b",
	"s c3a90a4b41cea342 - c3a90a4b41cea342 c3a90a4b41cea342",
	"s 41 - 41 41",
	"p c5bf2b3f",
	"s 20c5bfc5bf 1,3,3,5 203c7c7cc5bf3e3c7c7cc5bf3e 20,-,-",
	"s 4161ceb3424bcf822eceb34b42c389ceb32e - 4161ceb3424bcf822eceb34b42c389ceb32e 4161ceb3424bcf822eceb34b42c389ceb32e",
	"s 204120cea3 - 204120cea3 204120cea3",
	"p 28283f69295b6b2d6d5d623f3f292b283f6929",
	"s 0a63 - 0a63 0a63",
	"s 2062c389 - 2062c389 2062c389",
	"s 4162 - 4162 4162",
	"p 7b24",
	"s 2e6163316b42cea34bceb3630a20 - 2e6163316b42cea34bceb3630a20 2e6163316b42cea34bceb3630a20",
	"s 63316131ceb3c5bfcf82cea3ceb363c3a9ceb3 - 63316131ceb3c5bfcf82cea3ceb363c3a9ceb3 63316131ceb3c5bfcf82cea3ceb363c3a9ceb3",
	"s 0a636b41c3890a - 0a636b41c3890a 0a636b41c3890a",
	"p 5b5b3a616c7068613a5d5d3f3f283f6929cf83283f3a283f6929283f6929c5bf283f69295c707b4c757d2b3f7c28283f3a28207b312c327d31283f6d3a5e297c5c787b3361337d283f69295b6b2d6d5d7c5c707b477265656b7d7b302c317d29283f503c67323e5f29283f503c67313e5c507b4c6c7d2b3f5c3134313f283f6d3a2429cea3295c2a2b3f7c5b5b3a75707065723a5d6b5d7b312c327d29293f3f5b5c645f5d7c4b283f692d7329295c44",
	"s c3896b5fc3894231422e2e3141 - c3896b5fc3894231422e2e3141 c3896b5fc3894231422e2e3141",
	"s 0a2e0a63ff2ec389ceb3 - 0a2e0a63ff2ec389ceb3 0a2e0a63ff2ec389ceb3",
	"s c389 - c389 c389",
	"p 5b5d615d283f3a285c42293f3f7c5b5b3a616c7068613a5d5d7b302c317d283f3a285b5e5c6e5d283f3a5c787b3361337d3f5c7836315b5b3a5e73706163653a5d5d3f5c787b464646447d2b7c62283f3a617c616229283f3a637c62636429c5bf2a3f627b307d295c704c296b283f6d3a24297b302c317d7c5b5b3a776f72643a5d5d283f3a283f3a5c707b477265656b7d5c51612e5c455b5b3a616c7068613a5d5d297b302c317d5f283f3a283f5529612b7c315b5e615d2a3f5b612d635b3a64696769743a5d5d7b322c7d3f297b302c7d617c28283f6929c3a9cf82ceb35b6162635d7c205bc3a92dc5be5d5c537c5b5c787b464646447d615de697a5295b612d635b3a64696769743a5d5d295c537b302c317d285b5e615d5c705a283f3a5c57c5bf5c2e3f3f617b302c7d7c2e5bc3a92dc5be5d5b5e5c7830302d5c787b3130464646467d5d283f69295b6b2d6d5d295b5b3a776f72643a5d5d2a3f7c5c775c642acea328315c507b4c6c7dcea35c51612e5c452a3f7c5c704e5c787b464646447d7c5b5d615d7b302c317d5c787b464646447d3f3f5bc3a92dc5be5d292b3f292a292b285b5c707b4c757d5c645d2a3fe697a52e3f29297b302c7d5c53e697a5",
	"s ffceb3c389ff - ffceb3c389ff ffceb3c389ff",
	"s 2a62ceb3610aceb362 - 2a62ceb3610aceb362 2a62ceb3610aceb362",
	"s cf82c389ff4b6141635f - cf82c389ff4b6141635f cf82c389ff4b6141635f",
	"p 5c705a5c7836317b302c7d5b5c707b4c757d5c645d3f3f",
	"s 5fcf825f4b4b - 5fcf825f4b4b 5fcf825f4b4b",
	"s 4b - 4b 4b",
	"s 6bc5bf2a3161c389c5bf4b4231 - 6bc5bf2a3161c389c5bf4b4231 6bc5bf2a3161c389c5bf4b4231",
	"p 5b5e5c7830302d5c787b3130464646467d5d7b327d283f6929cf837b302c7d5b2e5d2b3f283f692d73297c285c507b4c6c7d2a3f5c707b48616e7d295b5b3a616c7068613a5d5d283f3a283f69295c577c5c737b307d29",
	"s cf822e625f61 - cf822e625f61 cf822e625f61",
	"s 4bcf82ceb36b4b2e2ec389 - 4bcf82ceb36b4b2e2ec389 4bcf82ceb36b4b2e2ec389",
	"s 63424bcf82 - 63424bcf82 63424bcf82",
	"p 5c2a7c283f692d73297b302c7d5c707b4c757d283f503c67313e283f3a285c787b3361337d3f3f297c283f69295c575c2e285b2e5d5c704e5c704e5c705a7c2e283f6929cf832029292b283f3a283f692d73297c5b5c707b4c757d5c645d7c415c507b4c6c7d20293f3f295b5b3a776f72643a5d5d7b322c7d3f",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b302c7d60",
	"p 5b5e5c7830302d5c787b3130464646467d5d7b327d5b5c645f5d3f3f283f503c67313e283f3a283f692d73293f7c283f3a5b5b3a776f72643a5d5d283f69295c57283f69295b5e6b5d5c51612e5c452b3f7c283f5529612b283f6d3a24297cc3a929613f283f69295b5e6b5d5c777c283f3a283f692d73295c704c283f69295c707b4c757d29283f503c67303e282e7c283f6d3a24297b307d5c3134315bc3a92dc5be5d2a3f5c707b5e477265656b7d2b7c5c707b477265656b7d7c5b5e5d615d295c4229295c2a283f3ac5bf283f3a283f6d2931285b2e5d5c707b48616e7d295c705a7c283f69295c575c2e5b612d5d29283f3a285c645c787b3361337d41c5bf7c283f3a617c616229283f3a637c626364297b307d5c707b477265656b7d5b5b3a776f72643a5d5d2a5b5e5c6e5d2b29e697a53f3f283f6929c5bf7b302c317d283f3a4b297c5c705a6b7b322c7d3f297c283f3a5f5b5e5c704c5c645d2a3f7c5b5b3a616c7068613a5d5d283f733a2e295b5c645f5d7c5c7836315c704e3f3f6b20297b327d5c412a3f7c283f3a283f6d3a5e293f3f283f5529612b283f503c67303e283f6d3a5e295b5b3a5e73706163653a5d5d297c283f6929cf83285bc3a92dc5be5d3f417b307dcf82ceb3297b302c7d283f3a5c6e6b5c707b477265656b7d207c5b5e5d615d7c5c787b363565357d283f6929cf835c6e7b327d293f293f3f285c70507b312c327d283f3a787b332c357d297b327d283f503c67313e283f693a62295c535b5b3a70756e63743a5d5d5c504c292b283f3a5b6162635dceb36b3f637c5b5b3a75707065723a5d6b5d7c5c577b302c7d4b7b322c7d3f5c57297c5c2a5b5c787b464646447d615d3f3f283f733a2e292929283f3a283f503c67303e283f3a5b612d635b3a64696769743a5d5d7b302c317d4b7b322c7d3f5b5b3a776f72643a5d5d5c772a7c283f6929c3a97b302c7d5c705a283f3a617c616229283f3a637c626364293f3f295b5e5c7830302d5c787b3130464646467d5d283f3a5c6e5b5c787b464646447d615d7c5b5b3a776f72643a5d5d5b5c707b4c757d5c645d2929285c7053283f73297b312c327d285b5e5d615d5c507b4c6c7d283f69295c707b4c757d5c51612e5c457c283f69295b5e6b5d3f3f5b5e5c6e5d2b3fcf82283f6d3a5e29297b327d283f503c67313e5c707b5e477265656b7d283f69295b6b2d6d5d283f69295b5e6b5d297b312c327d7c20283f69295c577b302c317d787b332c357d7c283f3a5c2e2b787b332c357d283f5529612b7c283f69295b6b2d6d5d2a3f29292a5c507b4c6c7d5b5b3a5e73706163653a5d5d7b307d7c28283f3a5c735b612d5d7c283f6929c5bf295b5c787b464646447d615d5c7a7c283f6929c3a93f3f5b5c707b4c757d5c645dcea329297b327d295c707b4c757d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20603f60",
	"p 2828c3a97b302c317d2e7b322c7d3f29417c5e7b327d283f69295c707b4c757d283f503c67323e283f3a617b307d295c625c787b363565357d7b312c327d283f3a28c5bf7b322c7d3f5bc3a92dc5be5d2a5b612d5d20297c283f503c67323e5b5b3a776f72643a5d5d5c783631317b302c7d295c704e7c5b5b3a75707065723a5d6b5d2a3f5b612d635b3a64696769743a5d5d7b302c317d5c787b464646447d3f41297b322c7d3f297b302c317d295b5c707b4c757d5c645d7c5c62",
	"s 4b2aceb3c5bf6363 0,0,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,1,1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,6,6,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,8,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3c7c7c3e4b3c7c7c3e2aceb3c5bf3c7c7c3e63633c7c7c3e 4b,2aceb3c5bf,6363",
	"s cf82422e205fcf826b2e5f 0,3,0,2,-1,-1,-1,-1,-1,-1,-1,-1,5,5,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,6,6,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,8,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,9,9,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,10,10,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,11,11,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 3ccf827c7ccf82423e2e203c7c7c3e5f3c7c7c3ecf823c7c7c3e6b3c7c7c3e2e3c7c7c3e5f3c7c7c3e -,2e20,5f,cf82,6b,2e,5f",
	"s e697a5615f 3,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,5,5,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1 e697a53c7c7c3e615f3c7c7c3e e697a5,615f",
	"p 2a705b3a",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602a60",
	"p 247ccea37c5e2b3f5b5b3a70756e63743a5d5d285b5b3a776f72643a5d5d7c5c705a24283f69295c707b4c757d283f503c67323e5c707b477265656b7d283f6d3a2429283f3a617c616229283f3a637c626364297b302c7dcea3297c5b2e5d283f69295b6b2d6d5d2b5b5b3a5e73706163653a5d5d7b307d5b5b3a70756e63743a5d5d7b302c7d293f",
	"s 0a 1,1,-1,-1,-1,-1 0a3c7c7c3e 0a",
	"s ff4b62cf820aceb320635f 11,11,-1,-1,-1,-1 ff4b62cf820aceb320635f3c7c7c3e ff4b62cf820aceb320635f",
	"s 2ec5bf2e4bcea3 0,1,-1,-1,-1,-1,5,7,-1,-1,-1,-1 3c7c7c2e3ec5bf2e4b3c7c7ccea33e -,c5bf2e4b,-",
	"p 5c425c53283f69295b6b2d6d5d",
	"s c3a942ceb3c3896b612a61ff4b 5,8 c3a942ceb33c7c7cc3896b3e612a61ff4b c3a942ceb3,612a61ff4b",
	"s 5f42cf8242cf824bc3a9e697a5ff316263 - 5f42cf8242cf824bc3a9e697a5ff316263 5f42cf8242cf824bc3a9e697a5ff316263",
	"s c5bf2a5fc5bf0affc5bf6bff 8,11 c5bf2a5fc5bf0aff3c7c7cc5bf6b3eff c5bf2a5fc5bf0aff,ff",
	"p 5c415c787b464646447dceb3",
	"s - - - -",
	"s - - - -",
	"s cf82c389c389410a62ff2ac3a9ceb3ceb341 - cf82c389c389410a62ff2ac3a9ceb3ceb341 cf82c389c389410a62ff2ac3a9ceb3ceb341",
	"p 5c7836317b312c327d283f6d3a5e29285c6e2b3f5c412b5b5b3a75707065723a5d6b5d7c283f503c67313e5c62636b2a2929",
	"s 0ac38941202e2e5f632e63 - 0ac38941202e2e5f632e63 0ac38941202e2e5f632e63",
	"s 630a63 - 630a63 630a63",
	"s 2e2062cf82 - 2e2062cf82 2e2062cf82",
	"p 285b5b3a70756e63743a5d5d295c704e283f3a5c70507b327d28283f6929c5bfcea3283f3a283f3a637b327d283f69295c572a7c283f3a617c616229283f3a637c626364295c787b464646447d5c707b477265656b7d5b5c787b464646447d615d2a29283f6d7329283f503c67313e5c775c2e5c577b302c317d7c5c51612e5c455b5c787b464646447d615d7b312c327d283f6d3a5e295b5c707b4c757d5c645d7b327d295b612d5d7c4b5b5c707b4c757d5c645d3f292b283f3a283f503c67313e283f69295c707b4c757d7b312c327d5b2e5d2a292a7c5c707b4c757d5c2e5c42297c5b5c787b464646447d615d3f285c647b302c317d5b612d5d5c507b4c6c7d295b5e5c6e5d283f3a5c537b302c7d283f6929cf835b5c707b4c757d5c645d2a3f29297b307d7c5e5c507b4c6c7d295c41",
	"s 20c38941ff5f202e20 - 20c38941ff5f202e20 20c38941ff5f202e20",
	"s c389422ac38941 - c389422ac38941 c389422ac38941",
	"s 610aff315f41c38931 - 610aff315f41c38931 610aff315f41c38931",
	"p 5b5b3a75707065723a5d6b5d7b302c317d5c70537c5b612d635d5b5c787b464646447d615d283f5529242a",
	"s c3a94b2e - c3a94b2e c3a94b2e",
	"s c5bfceb36b2a414141 - c5bfceb36b2a414141 c5bfceb36b2a414141",
	"s - - - -",
	"p 283f3a285b5b3a5e73706163653a5d5d5c627b327d28283f6d3a5e292b3f632929292a3f283f503c67323e283f693a6229283f733a2e295c2e29cf82283f503c67323e2828615b5b3a70756e63743a5d5d7b307d29283f3a283f503c67323e5c6e7c5b5c645f5d5b5b3a776f72643a5d5d292b3f5c442a7c283f6d3a5e297c5c704c3f3f5b5b3a616c7068613a5d5d3f5c51612e5c45295b5c707b4c757d5c645d627b312c327d7c5c415b2e5d292b3f5b5c645f5d5c57285c7053283f503c67313e283f3a283f6d3a5e295c6e5b612d635b3a64696769743a5d5d2b5b5d615d7c283f3a617c616229283f3a637c626364292b7c5c775b5c707b4c757d5c645d63293f295b2e5d285c7a3f5c41292b3f7c5c787b464646447d5b5e5c7830302d5c787b3130464646467d5d283f3a5c2a283f5529612b7c787b332c357d283f69295c577b302c7d5c707b5e477265656b7d5c7836317b322c7d3f297b312c327d283f3a5b5b3a70756e63743a5d5d292b7c283f503c67323e285c6e5c707b477265656b7d5c6e5b5b3a70756e63743a5d5d2b3f7c315c705029283f3a5b5e5c6e5dcea37b322c7d3f2e5c2a7c5c704e7c5b5e5c6e5d5b5b3a776f72643a5d5d2b5c705a29297c283f3a5b5c645f5d5b5c645f5d7c5c70507c283f6d3a5e29283f69295c57312b3f637b327d7c283f69295b6b2d6d5d7b307d5c6e5b5b3a5e73706163653a5d5dceb33f297b322c7d3f283f503c67323e5b5e5c704c5c645d7b322c7d3f7c5b5b3a776f72643a5d5d5c3134312a5b6162635d3f3f5b612d635b3a64696769743a5d5d29283f3a283f6d3a24295b5b3a70756e63743a5d5d7b302c317d4129292a3f29",
	"s 6bcf820a - 6bcf820a 6bcf820a",
	"s 6220cea30a6263c3892a4b0a614bc3a9 - 6220cea30a6263c3892a4b0a614bc3a9 6220cea30a6263c3892a4b0a614bc3a9",
	"s 2e61ceb32a61 - 2e61ceb32a61 2e61ceb32a61",
	"p 703e5c387c",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206573636170652073657175656e63653a20605c3860",
	"p 6b5b5c707b4c757d5c645d7b312c327d",
	"s 6b61ffcea3c3a941 - 6b61ffcea3c3a941 6b61ffcea3c3a941",
	"s 20412062c3890a61cea36bc3a9cea331 - 20412062c3890a61cea36bc3a9cea331 20412062c3890a61cea36bc3a9cea331",
	"s 0a2ac389c3a9e697a50ac3a9 - 0a2ac389c3a9e697a50ac3a9 0a2ac389c3a9e697a50ac3a9",
	"p 28283f693a62297c20283f6d73297c285c31343120285c707b48616e7d2b3f7c2029283f3a283f3a5c504c293f7cc3a97ce697a5283f3a5c575b2e5d5b5e5c704c5c645d7c283f6929cf837b307d5c707b5e477265656b7d5b5d615d7b322c7d3f7c5bc3a92dc5be5d2b3f5b5b3a616c7068613a5d5d7b327d5b5e5d615d5c577c5b5e5c7830302d5c787b3130464646467d5d2a295c645b5b3a776f72643a5d5d2929c3a929285c707b5e477265656b7d285c707b5e477265656b7d2e7b307d283f3a285b5e5c704c5c645d7b312c327d4b29283f3a283f69295c707b4c757dc3a9417b302c7d317c5b5b3a70756e63743a5d5d5c705a7b327d283f69295c575c704e7c283f69295c573f29247c283f69295c707b4c757d283f69295b6b2d6d5d5c707b4c757d7b327d7c5c7a7b327d7c5c704e283f3a617c616229283f3a637c626364297b327d29283f69295b6b2d6d5d7b322c7d3f297c283f73292a3f283f6929c3a95c623f7c245c41292b3f",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602a3f60",
	"p 283f3a283f3a283f6d73295b5c645f5d283f6d3a24293f3f297c5c507b4c6c7d283f3a315c504c283f69295c427c28283f503c67303e283f733a2e295c707b48616e7d29297b302c317d295c4429",
	"s c5bf63c3a90aff63 5,7,-1,-1,-1,-1 c5bf63c3a93c7c7c0aff3e63 c5bf63c3a9,63",
	"s 4bc5bf2a6b 0,3,-1,-1,-1,-1,3,5,-1,-1,-1,-1 3c7c7c4bc5bf3e3c7c7c2a6b3e -,-,-",
	"s 4b5f6120 0,2,-1,-1,-1,-1 3c7c7c4b5f3e6120 -,6120",
	"p 5c6228283f3a28283f6d73295f29cea33f3f283f692d73292a3f2e7c283f55297c245c7a7b302c7d283f3a283f6d3a24297b302c317d7c5c7050637b312c327d5b5e615d7b307d29295b6162635d7b302c7d5c313431283f693a62297cceb3295b5b3a75707065723a5d6b5d7b312c327d",
	"s 2ac3a94b6bc5bf41cf82 - 2ac3a94b6bc5bf41cf82 2ac3a94b6bc5bf41cf82",
	"s ceb3c3892a42 - ceb3c3892a42 ceb3c3892a42",
	"s 622e61c389310ac3896b - 622e61c389310ac3896b 622e61c389310ac3896b",
	"p 5c7053283f3a5c427b312c327d5e283f3a5c73cea3283f3a283f3a617c616229283f3a637c626364297c5b5d615d5bc3a92dc5be5d297c283f3a5e7c20283f69297c5c643f3fc5bf5c707b5e477265656b7d7b327d2928283f503c67303e5c57cea329297b302c7d285c41285c504c7b312c327d2e7c5c787b363565357d283f6d3a2429295b5b3a5e73706163653a5d5d283f3a207b302c317d5b5e5c704c5c645d2a415b5e5c7830302d5c787b3130464646467d5d2a3f297c283f5529283f6d732929283f6929c5bf7b302c317d297b327d7c245c5728cf827b312c327d5c787b3361337d7b327d7c283f733a2e295c504c283f693a62297c283f6929c3a92b7c283f3a5b5b3a70756e63743a5d5d3f2e7c5c6e7b312c327d5c70532a5c2a5c70502a3f7cc5bf29295c70507b312c327d7c2e29283f7329",
	"s 62cf822e2e - 62cf822e2e 62cf822e2e",
	"s 31c3a942 - 31c3a942 31c3a942",
	"s 5f31c3896b - 5f31c3896b 5f31c3896b",
	"p cf823f3f5b5d615d5c707b48616e7d",
	"s 61c5bf6b6b422e42e697a5ff - 61c5bf6b6b422e42e697a5ff 61c5bf6b6b422e42e697a5ff",
	"s cf82 - cf82 cf82",
	"s c5bf3161425f4bffc5bf31205f - c5bf3161425f4bffc5bf31205f c5bf3161425f4bffc5bf31205f",
	"p 5c447b307d5b5e5c7830302d5c787b3130464646467d5d283f3a5c645b5c645f5d7b327d5c705a7c5b5d615d7c285c7a2a3f283f69295b5e6b5d7c28ceb32a5b2e5d5f29283f3a5c704c3f5b5e615d5c707b5e477265656b7d2b283f6d3a24292b29283f503c67323e5c704c7b302c7d5b2e5d7c5c2a7b302c317d5c787b363565357d295c507b4c6c7d292b5b2e5d283f6929cf83295c42",
	"s 6b41cea32e6b6220ff - 6b41cea32e6b6220ff 6b41cea32e6b6220ff",
	"s - - - -",
	"s 412ec5bf31 - 412ec5bf31 412ec5bf31",
	"p 323c5e245c3051",
	"s 4b42ff - 4b42ff 4b42ff",
	"s 0ac3a96120ffc5bf - 0ac3a96120ffc5bf 0ac3a96120ffc5bf",
	"s - - - -",
	"p 283f503c67303e5c445c707b48616e7d5c7329283f3a283f3a283f3a283f3a5c77c5bf7c283f6929c3a9283f3a617c616229283f3a637c62636429295c705a7c5c413f283f6d29285b6162635d7b322c7d3f295c64297b312c327d5c7053297c285c507b4c6c7d283f3a787b332c357d7b302c7d7c283f693a62292b7c283f6d3a2429cf822b3f5c532a295b612d5d7c5c535b5e5c7830302d5c787b3130464646467d5d5fceb3292a283f3a285c707b4c757d7b307d283f69295b5e6b5d787b332c357d5c7053295c645c704e283f6929c5bf297c283f3a5b5e5c6e5d7c5b5c645f5d29283f692d7329285b5b3a70756e63743a5d5d7b302c7d283f6929cf837c5c577b327dcf82292a3fcf827b302c7d29e697a57b302c7d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d7b302c7d60",
	"p 283f3a622a7cceb35c707b5e477265656b7d29787b332c357d5c44",
	"s c5bf62c3892e0a20 - c5bf62c3892e0a20 c5bf62c3892e0a20",
	"s c3a9ffc3a92063c5bf - c3a9ffc3a92063c5bf c3a9ffc3a92063c5bf",
	"s 61 - 61 61",
	"p 5c787b363565357d",
	"s 612a2e4bc3892e5f63 - 612a2e4bc3892e5f63 612a2e4bc3892e5f63",
	"s ff202a62cf82ffff624b626b - ff202a62cf82ffff624b626b ff202a62cf82ffff624b626b",
	"s cf82 - cf82 cf82",
	"p 283f3a283f6d297b312c327d283f503c67323ecf825c707b48616e7d7b312c327d5c507b4c6c7d297b302c7d5c70507b327d29",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b312c327d60",
	"p cf82",
	"s - - - -",
	"s 423161e697a5cf82420a0a5f 6,8 423161e697a53c7c7ccf823e420a0a5f 423161e697a5,420a0a5f",
	"s ffcf82ff424bff4bceb3cf822ec5bf0a0a 1,3,10,12 ff3c7c7ccf823eff424bff4bceb33c7c7ccf823e2ec5bf0a0a ff,ff424bff4bceb3,2ec5bf0a0a",
	"p 2828283f503c67323e5c7a5b612d635d7b307d7c283f69295b6b2d6d5d2e7b327d5bc3a92dc5be5d7b307d2e2928283f69295c707b4c757dc5bf297b302c7d5b5b3a75707065723a5d6b5d285c42283f3a5c707b4c757d5c3134315b5e5c6e5d5b612d635d2a7c5b612d5d283f733a2e29297b312c327d283f3a5c577b312c327d7c283f69295b6b2d6d5d7b302c7d5c787b363565357d5bc3a92dc5be5d7b302c7d29292928283f3a283f5529612b3f3f7c5c707b4c757d7b312c327d29283f3a61283f69295b6b2d6d5d2b5b2e5d7c283f3a5c704c7c5c707b5e477265656b7d5c445b5d615d5b6162635d7c5c787b3361337d5c705a5b5b3a70756e63743a5d5d296b297c28285b5e615d2a3f295e283f3a5c773f3f5c704e5b5e5c6e5d7c5c787b464646447d292a29283f503c67323e283f6d3a24297b302c317d5c704c283f3a5b5e615d3f3f5c3134312b3f7c283f69295c577b327d5c4429292a3f29297b307d283f6929",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b3f3f60",
	"p 283f3a283f3a24283f3a283f3a5c2a7b302c317d5c707b5e477265656b7d7c415b5b3a70756e63743a5d5dceb3cf8229283f69295b6b2d6d5d283f503c67303e5b2e5d20283f693a62293f295b5e5c7830302d5c787b3130464646467d5d292a3f7c5c573f283f503c67303e6261283f6d3a24295b5b3a70756e63743a5d5d7b312c327d297c5b5b3a616c7068613a5d5d7b322c7d3f295c44283f69297ce697a57b302c7d283f692d73292b283f3ac3a962285c6e5b5b3a776f72643a5d5d2b3f5c704c3f41294b7b322c7d3f7c31283f3a207b307d7c6b5b5b3a776f72643a5d5d29297b322c7d3f29283f503c67303e283f3a5b5b3a776f72643a5d5d7c5c51612e5c45295c577c283f55297b302c7d285c704c7c5c704e5c447b322c7d3f283f3a617c616229283f3a637c626364297b302c7d29295b5b3a75707065723a5d6b5d5c707b5e477265656b7d2a7c283f3a283f6929c3a92b283f503c67313ec5bf2928787b332c357d5c77283f3a5b5e5c704c5c645d5b5d615d5c732b5c707b48616e7d7c317b302c317d5c577ce697a52b5b612d635d2a41283f6d3a5e29297c5c57283f503c67313e5b5e5c704c5c645d7b322c7d3f5b5b3a616c7068613a5d5d2928417b327d612a5c6e62295c705a3f3f29283f733a2e297c283f3a6b283f503c67323e283f69295b6b2d6d5d292a7c5c787b464646447d5e28283f69295c577b302c7d5c504c7b322c7d3f295c417c312a3f5b612d635b3a64696769743a5d5d29283f6929c5bf283f733a2e297b322c7d3f29207b302c317d283f6d29285b5e5c704c5c645d283f692929",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b302c7d60",
	"p 3f2a695e",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20603f60",
	"p 5c7836315c313431",
	"s 2e42 - 2e42 2e42",
	"s 0a2a4b - 0a2a4b 0a2a4b",
	"s 63cf825f5f630a - 63cf825f5f630a 63cf825f5f630a",
	"p 283f3a5c7a5c7836312b283f503c67303e2424283f693a62293f3f5c504c3f3f2928283f503c67303ecf827b327d295b5b3a75707065723a5d6b5d283f733a2e292a29295c707b4c757d5c7a2828285c707b48616e7d2a3f5c70507b307d295c787b464646447d283f503c67303e28637c5b5c645f5d7c283f5529612b7c5b5d615d292b3f295c70537c787b332c357d28283f69295b6b2d6d5d3f3f5c425bc3a92dc5be5dcf82297b307d5c77297b322c7d3fc5bf3f29",
	"s cea32a31 - cea32a31 cea32a31",
	"s 2a31c3a931e697a5cea30acea33161c5bf4b - 2a31c3a931e697a5cea30acea33161c5bf4b 2a31c3a931e697a5cea30acea33161c5bf4b",
	"s ceb3c5bfcea3ff0a61622a2eff422a20 - ceb3c5bfcea3ff0a61622a2eff422a20 ceb3c5bfcea3ff0a61622a2eff422a20",
	"p 283f3a283f55292b283f503c67313e5b612d635d7b322c7d3fc3a9283f69295c707b4c757d283f3a283f3a283f69295c707b4c757d5b6162635d5c575c732b29283f5529612b7b307d28283f733a2e297b302c317d5c705a7b322c7d3f5c787b3361337d3f3f5c787b363565357d297b327d283f3a283f69295b5e6b5d205c447c283f733a2e295c6e283f693a62297b312c327d787b332c357d2a292929283f3a5f283f3a283f6d3a5e297c283f3a5b612d635d7b312c327d295b5e5d615d283f3a5b6162635d7c31295b5b3a70756e63743a5d5d29283f73295b612d5d3f3f297c62283f503c67303e5c70532a3f283f3a5b5c707b4c757d5c645d2a3f41283f693a62292b3f5b5e5c7830302d5c787b3130464646467d5d2b3f7c5bc3a92dc5be5d3f3f7c5f3f5b5e5d615d5b612d635b3a64696769743a5d5d7b322c7d3f5b5e5d615d7b312c327d297b322c7d3f285b5b3a776f72643a5d5d29283f6d297b322c7d3f295b5c645f5dcea37b327d7c283f503c67313ec3a93f3f5c4229284b7b302c7d5c417b302c7d7c5b5c787b464646447d615d2b3f5c707b4c757d283f3a283f733a2e297b302c317d417b322c7d3f5b5e5c6e5d5b5d615d292a7c5b5b3a5e73706163653a5d5d28283f6929cf832a7c283f3a5c783631c3a92b3f5c707b5e477265656b7d3f3f5b5e5c704c5c645d7ccea35c704c7b312c327d29283f3a283f3a617c616229283f3a637c626364293120cf827b312c327d7ccf8261283f69295c577b302c7dc5bf2a7c283f69295b5e6b5d5c7050cea35c787b363565357d3f3f293f2929283f3ae697a57b307dc5bf622b7c5b5e5c7830302d5c787b3130464646467d5d7c285c704e5b612d5d7b302c7d7ccf825c772b3f292a3f2e283f3a283f693a62297c5b6162635d7b307d2e283f6d3a5e292929283f3a5c627b307d283f5529612b7c5b5e5d615d284b5c3134317b327d295c3134317b322c7d3f292b3f29",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602b60",
	"p 283f6d3a24295c77",
	"s 4163cf82c3a92ee697a54bc389c5bfe697a55f - 4163cf82c3a92ee697a54bc389c5bfe697a55f 4163cf82c3a92ee697a54bc389c5bfe697a55f",
	"s 314231 - 314231 314231",
	"s 2a62ffcf826b614bc3a9c5bf41 - 2a62ffcf826b614bc3a9c5bf41 2a62ffcf826b614bc3a9c5bf41",
	"p 5c2e283f6929cf835b5b3a776f72643a5d5d312b3f",
	"s 62e697a5c389 - 62e697a5c389 62e697a5c389",
	"s e697a5 - e697a5 e697a5",
	"s c5bf625f425f5f31c38962630a5f - c5bf625f425f5f31c38962630a5f c5bf625f425f5f31c38962630a5f",
	"p 5b612d635b3a64696769743a5d5d",
	"s 626b 0,1 3c7c7c623e6b -,6b",
	"s 6bff6363206b20cf82c389c389 2,3,3,4 6bff3c7c7c633e3c7c7c633e206b20cf82c389c389 6bff,-,206b20cf82c389c389",
	"s 2e2e5fc389c3a95fcf824bcea3 - 2e2e5fc389c3a95fcf824bcea3 2e2e5fc389c3a95fcf824bcea3",
	"p 283f3a28285b612d5d632b3f5c535c7a7b327d29292b7c283f503c67303e285c70507b302c317d295c787b464646447d7c283f3a5c2e295c627b302c317d28637b302c317d5b612d635b3a64696769743a5d5d5b612d635b3a64696769743a5d5d2a29283f503c67303e5b5e615d7c5c787b464646447d283f69295b6b2d6d5d283f6929cf835b6162635d7c5c775c447b307d5b612d635b3a64696769743a5d5d5c577b302c7d293f3f29283f73292e7b302c317d297b312c327d2824283f69295c577b302c317d283f3a283f3a5c51612e5c455b2e5d7b302c317d5b5e615d3f3f283f6d3a5e297c283f6929c5bf5b5b3a5e73706163653a5d5d29283f69295c707b4c757d7c283f3a5c507b4c6c7d283f69295c57283f3a617c616229283f3a637c626364295c705a7b302c7d7c283f3a617c616229283f3a637c626364293f7c5c532b5b5b3a776f72643a5d5d31283f6929c5bf293f7c5c707b477265656b7d7b307d282e7c5b612d635b3a64696769743a5d5d2b3f7c5f5f2b283f3a617c616229283f3a637c62636429293f3f295c7a2a2928285c4424417c283f6929cf835c707b48616e7d7c5c7ac3a97c315b5b3a70756e63743a5d5d29283f503c67313e5b5c645f5d28285c787b363565357d7c5c707b48616e7d2b6b5f5c704e7c5b2e5d2b5c704c6b5c504c29283f6d3a5e29283f6929c5bf7b322c7d3f24292b3f292928285c705a283f3ac3a9244b3f5c313431297b322c7d3f5c707b4c757d297b302c7d282028282e2929283f3a637c5c504c7c5c6e7b312c327d5c787b464646447d295c70537c286b2b3f5b612d635d7b327d7c283f6929c3a97b302c317d7c5b5c787b464646447d615d2a6b5c2a2029283f503c67303e283f69295c57295c707b48616e7d2a283f3a283f733a2e29283f69295b5e6b5d7b302c7d5c51612e5c455b5e5d615d7b302c7d7c5b5b3a75707065723a5d6b5dc3a92b283f5529612b20297c5b5c787b464646447d615d3f3f283f692d73297b302c317d207c5c507b4c6c7d2a3f297b327d283f6929c3a93f3f283f503c67323e28285c7053292b3f5c62292a3f5c415c707b477265656b7d5c705a297c787b332c357d283f3a205c707b5e477265656b7d3f3f5c417b322c7d3f7c283f3a283f69295b6b2d6d5d283f6d7329285c535b5e5d615d297c5c442a3f7ccea3283f69295c707b4c757d5c7729283f69295b5e6b5d5c41295ecf82297ccf82283f5529612b283f6d7329c5bf",
	"s ceb32a6bcf8241 - ceb32a6bcf8241 ceb32a6bcf8241",
	"s 62206361200a0a6163cea36263 - 62206361200a0a6163cea36263 62206361200a0a6163cea36263",
	"s c3a9313120ffcf82c389c3a9ff31 - c3a9313120ffcf82c389c3a9ff31 c3a9313120ffcf82c389c3a9ff31",
	"p 3a3f317c295131",
	"e 6572726f722070617273696e67207265676578703a20756e657870656374656420293a20603a3f317c29513160",
	"p 283f3a285b5b3a75707065723a5d6b5d5c777b322c7d3f5f283f3a5c7a285c707b48616e7d5c705029285bc3a92dc5be5d5c705ac5bf7c283f733a2e29283f69295c707b4c757d5c777b327d283f733a2e29292a3f297c283f3ac3a95c787b464646447d417b302c317d5c704c293f283f693a62297b307d283f3a5c787b363565357d7b312c327d7c5c2e2b635b5b3a75707065723a5d6b5d29297c5bc3a92dc5be5d29617b322c7d3f",
	"s 4b630a42e697a5 - 4b630a42e697a5 4b630a42e697a5",
	"s 2ecf82cf82cf822e2e0a41315f202a - 2ecf82cf82cf822e2e0a41315f202a 2ecf82cf82cf822e2e0a41315f202a",
	"s 61c3a9 - 61c3a9 61c3a9",
	"p 5b5c645f5d283f6d3a24292b3f",
	"s 412a2e5fcf82e697a54b - 412a2e5fcf82e697a54b 412a2e5fcf82e697a54b",
	"s cea320cea3 - cea320cea3 cea320cea3",
	"s 4b6b6161416b - 4b6b6161416b 4b6b6161416b",
	"p 283f6929",
	"s - 0,0 3c7c7c3e -",
	"s 2e5f 0,0,1,1,2,2 3c7c7c3e2e3c7c7c3e5f3c7c7c3e 2e,5f",
	"s cf82e697a531cea3c5bfc3a942ceb3205f 0,0,2,2,5,5,6,6,8,8,10,10,12,12,13,13,15,15,16,16,17,17 3c7c7c3ecf823c7c7c3ee697a53c7c7c3e313c7c7c3ecea33c7c7c3ec5bf3c7c7c3ec3a93c7c7c3e423c7c7c3eceb33c7c7c3e203c7c7c3e5f3c7c7c3e cf82,e697a5,31,cea3,c5bf,c3a9,42,ceb3,20,5f",
	"p 5c57285c70507c283f6d292928283f69295c707b4c757d2a787b332c357dc3a97c285c707b477265656b7d292a62295c705a",
	"s c3892e - c3892e c3892e",
	"s 20612a62cea361c3a92e - 20612a62cea361c3a92e 20612a62cea361c3a92e",
	"s 5f - 5f 5f",
	"p 283f3a415c537c283f69295b5e6b5d633f3f283f3a2428283f3a283f6d3a24292e5c6e7c5c735b5e5c7830302d5c787b3130464646467d5d2a3f6b7c5b5b3a616c7068613a5d5dceb35c504c283f6d3a5e29292b3f245b612d635b3a64696769743a5d5d7b302c317d285b5b3a70756e63743a5d5d7c5c313431283f5529612b5c504c2b3f297c5c64283f69295b5e6b5d5b5c707b4c757d5c645d292b3f29293f3f285e292b3f283f3a283f7329283f6d73297b312c327d7c5f292a3f5b6162635d7b322c7d3f",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b312c327d60",
	"p 5b6162635d283f3a4b28283f3a285c737b302c317d5b5e5c7830302d5c787b3130464646467d5d5c572b4b7c625c704e5c707b48616e7d3129283f3a5b5e5c7830302d5c787b3130464646467d5d7b312c327d615c704e5c787b3361337d7b302c317d7c5c70535b5b3a5e73706163653a5d5d7cceb33f3f7c5c705a7b307d5c707b48616e7d29283f3a5b612d5d2b3f7c5b2e5d5b2e5d29292b3f5c783631283f3a5c7a7b327d5c7a5b612d635b3a64696769743a5d5d283f503c67323e283f3a617c616229283f3a637c62636429c5bf2b5c7053297b327d7c5c787b464646447d3f285c787b363565357d293f7cc5bf2b3f283f6d3a5e295c787b363565357d297b327d7c283f503c67323e5b5e5c7830302d5c787b3130464646467d5d7b302c7d5c41293f7c2e2a5c625b5e615d5b5b3a776f72643a5d5d2a29207c5c707b477265656b7d5b612d5d7c5c707b477265656b7d2b292b3f28283f69295c707b4c757d2b3f283f6d3a24297b302c317d5c707b48616e7d7b327d297b312c327d",
	"s 2a5f634b4bceb3ff - 2a5f634b4bceb3ff 2a5f634b4bceb3ff",
	"s 4b0a - 4b0a 4b0a",
	"s 2e422042e697a562 - 2e422042e697a562 2e422042e697a562",
	"p 247b322c7d3f",
	"s 2ee697a541e697a531 9,9 2ee697a541e697a5313c7c7c3e 2ee697a541e697a531",
	"s - 0,0 3c7c7c3e -",
	"s c3890aceb34bcea320c3a92e31c3a962cf822e 19,19 c3890aceb34bcea320c3a92e31c3a962cf822e3c7c7c3e c3890aceb34bcea320c3a92e31c3a962cf822e",
	"p 24705c452d70",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206573636170652073657175656e63653a20605c4560",
	"p 5c7a283f69295b5c645f5d7c28c5bf28c5bf283f693a62292b297b302c7d7c5e283f69295b6b2d6d5d283f69295b5e6b5d283f6929cf837c6b295c622b3f",
	"s c389ceb3ffc5bf2e5f63ff4b6b2eff 12,13,12,13,-1,-1 c389ceb3ffc5bf2e5f63ff4b3c6b7c7c6b3e2eff c389ceb3ffc5bf2e5f63ff4b,2eff",
	"s 5f20e697a5cf82 - 5f20e697a5cf82 5f20e697a5cf82",
	"s ceb3315f2a63 - ceb3315f2a63 ceb3315f2a63",
	"p 5c425c705a7b312c327d5c53",
	"s 2e6b0a4bcf822a6b6bcea3ceb3 - 2e6b0a4bcf822a6b6bcea3ceb3 2e6b0a4bcf822a6b6bcea3ceb3",
	"s 6231c3896262310ac3a96b - 6231c3896262310ac3a96b 6231c3896262310ac3a96b",
	"s c3892ec389202e63 5,7 c3892ec3893c7c7c202e3e63 c3892ec389,63",
	"p 24cf825c42",
	"s e697a5cea3cf825fe697a5 - e697a5cea3cf825fe697a5 e697a5cea3cf825fe697a5",
	"s c389cf82c5bfcea3cf8242cea3ceb32020 - c389cf82c5bfcea3cf8242cea3ceb32020 c389cf82c5bfcea3cf8242cea3ceb32020",
	"s 422ac5bf4b61cea3636b41 - 422ac5bf4b61cea3636b41 422ac5bf4b61cea3636b41",
	"p 247b302c317d283f3acf82296b",
	"s 2a62e697a5e697a50a630a63c5bf41c3a9cea34b - 2a62e697a5e697a50a630a63c5bf41c3a9cea34b 2a62e697a5e697a50a630a63c5bf41c3a9cea34b",
	"s 63c3a9cea3e697a50a2a2ac3a9426b2acf82 - 63c3a9cea3e697a50a2a2ac3a9426b2acf82 63c3a9cea3e697a50a2a2ac3a9426b2acf82",
	"s 41 - 41 41",
	"p 28283f3a5b5b3a75707065723a5d6b5d5b612d635d5c504c283f3a62283f3a5c707b477265656b7d5b5e5c6e5d283f5529612b7c5b5b3a776f72643a5d5d7b302c7d7c283f6929c3a963283f6d3a2429297c283f3a205bc3a92dc5be5d283f3a617c616229283f3a637c626364297b322c7d3f5b5b3a5e73706163653a5d5d7c5c704c5b5b3a616c7068613a5d5d5b5b3a75707065723a5d6b5d3f3f5c647c5c787b3361337d283f6929cf835c2a295c6e7b322c7d3f7c5c51612e5c455bc3a92dc5be5d293f3f7c28313f5b5c707b4c757d5c645d28205c707b477265656b7d3f5b5d615d7b307d5c51612e5c453f7c5b612d635b3a64696769743a5d5d5c577ccea32a3fc5bf297b307d295c707b4c757d245c704e7b307d297c5c417cc5bf3f5c707b477265656b7d2b3f295e",
	"s cea3c389ff2eceb3612a6b2ae697a5 0,0,0,0,-1,-1,-1,-1 3c7c7c3ecea3c389ff2eceb3612a6b2ae697a5 cea3c389ff2eceb3612a6b2ae697a5",
	"s cf82ffc5bf41e697a56b2e6be697a56262c5bf5f 0,0,0,0,-1,-1,-1,-1 3c7c7c3ecf82ffc5bf41e697a56b2e6be697a56262c5bf5f cf82ffc5bf41e697a56b2e6be697a56262c5bf5f",
	"s c3a962ff6b2e63e697a54141 0,0,0,0,-1,-1,-1,-1 3c7c7c3ec3a962ff6b2e63e697a54141 c3a962ff6b2e63e697a54141",
	"p 283f69295c5728283f3a5b5c787b464646447d615d7c283f3a5c705a5c787b3361337d5c42283f55297c5b5c787b464646447d615d3f5c313431293f3f29283f503c67313e5c625b5e5c7830302d5c787b3130464646467d5d5b612d5d2b3f297c5b5b3a616c7068613a5d5d3f3f283f5529e697a55c704c7b302c317d7c5c705a3f7c5c51612e5c45297b302c317d283f3a5b6162635d7b327d28283f69295c707b4c757d7c285c783631283f6d3a2429283f6929c3a96b297b312c327d283f3a5b5b3a75707065723a5d6b5d7b322c7d3f5b5b3a776f72643a5d5d7b327d283f3a617c616229283f3a637c626364292a7c283f69295b6b2d6d5d29cea3283f6929c3a93f29283f3a5b5b3a5e73706163653a5d5d283f3a283f3a5c787b363565357d415c2e283f6929c3a97c5c70507b322c7d3f2928283f6929cf83283f5529612b5b5b3a70756e63743a5d5d7b302c317d29283f6929c3a95c705029317c5c51612e5c45e697a55b5c645f5d2b3f283f3a635b5b3a616c7068613a5d5d292a3f29283f3a5b5e615d5b5b3a5e73706163653a5d5d7c283f6d293f3f20297c315c787b363565357d283f6d3a5e297b307d283f693a6229293f3f5e",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20603f3f60",
	"p 283f3a283f503c67313e283f3a28c3a97c622b5c70533f5b5e5c7830302d5c787b3130464646467d5d5c2e2b29283f3a617c616229283f3a637c626364297b302c7d297b312c327d28247b307d7cc3a9283f6d29297b302c317d283f503c67313e283f692d73297c5b612d635d2b3fceb3297b312c327d283f3a5b612d635d7b307d5c787b3361337d7b302c7dc3a93f2e29295b5e615d283f3a283f69297b327d5c3134317c283f503c67313e5c70535b612d5d7b307d5b5e5c7830302d5c787b3130464646467d5d292a283f3a5b5e615d7b307d5b612d635d283f6929c3a92b283f3a617c616229283f3a637c626364297c5c2aceb3e697a55b612d635d7c5c787b3361337d5c445c507b4c6c7d5b5c707b4c757d5c645d7c5c707b5e477265656b7d7b307d4b5b5b3a75707065723a5d6b5d297c5b5e5d615d7b307d283f6d73297b312c327d285b5e5c704c5c645d29285c7a7b322c7d3f285b5e5d615d315c737b312c327d7c283f69295b5e6b5d5b5e5c7830302d5c787b3130464646467d5d5b5e615d4b293f3f283f6929c5bf28315c707b477265656b7d5c705a5b5e5c6e5d7c5c443f5c707b4c757d297c5c447b312c327d7c28415b5b3a616c7068613a5d5d5f5c507b4c6c7d29285f283f3a617c616229283f3a637c626364297c4b292b5c7a2a283f3a5c787b3361337d2a297b322c7d3f297b302c7d29c5bf297c5c7836315c535c504c5b5b3a75707065723a5d6b5d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b327d60",
	"p 3d5c643e45",
	"s cea30ae697a5c38920c5bf6120 - cea30ae697a5c38920c5bf6120 cea30ae697a5c38920c5bf6120",
	"s c3894b410a4262 - c3894b410a4262 c3894b410a4262",
	"s 4bc5bf410a4b5f2a31cea3 - 4bc5bf410a4b5f2a31cea3 4bc5bf410a4b5f2a31cea3",
	"p 625b5b3a5e73706163653a5d5d",
	"s c5bfc389c3a9 - c5bfc389c3a9 c5bfc389c3a9",
	"s 4bcea32e2e6b2e4142635f312a - 4bcea32e2e6b2e4142635f312a 4bcea32e2e6b2e4142635f312a",
	"s 635f0a5f20412ecf82616b - 635f0a5f20412ecf82616b 635f0a5f20412ecf82616b",
	"p 283f693a62297b302c317d4128283f6d3a5e2929",
	"s 2e204bc5bf4be697a5 - 2e204bc5bf4be697a5 2e204bc5bf4be697a5",
	"s c3892ec5bf2a316361c5bf2e41 - c3892ec5bf2a316361c5bf2e41 c3892ec5bf2a316361c5bf2e41",
	"s 412acea341c3a9620a2e - 412acea341c3a9620a2e 412acea341c3a9620a2e",
	"p 283f503c67303e283f6d3a24297b312c327d2029",
	"s 614261c5bf42635f - 614261c5bf42635f 614261c5bf42635f",
	"s ceb3ff62 - ceb3ff62 ceb3ff62",
	"s 61ffceb35f - 61ffceb35f 61ffceb35f",
	"p 283f3a617c616229283f3a637c626364292b3f",
	"s 4241c5bfc5bf2a422a - 4241c5bfc5bf2a422a 4241c5bfc5bf2a422a",
	"s 632a - 632a 632a",
	"s ceb3cf825f63ceb32a42cf82cea3ff - ceb3cf825f63ceb32a42cf82cea3ff ceb3cf825f63ceb32a42cf82cea3ff",
	"p 5c51612e5c45283f3a617c616229283f3a637c62636429",
	"s ceb34bceb3cea3c3a9 - ceb34bceb3cea3c3a9 ceb34bceb3cea3c3a9",
	"s ceb3ceb32e6320c3a95f6b - ceb3ceb32e6320c3a95f6b ceb3ceb32e6320c3a95f6b",
	"s 6b626320c3a931 - 6b626320c3a931 6b626320c3a931",
	"p 283f3a285c415c535b5e615d2b283f5529297c283f3ac5bf5c2a28283f6929c5bf3f283f733a2e29283f6929c3a97b312c327d283f693a62292b3f292a3f5b5b3a616c7068613a5d5d7b302c7d7cc3a92929283f3a5b5b3a75707065723a5d6b5d285b5b3a616c7068613a5d5d283f503c67323e5c504c7b302c317d5c707b477265656b7d2b5c787b464646447d5c705a7b302c317d297b307d5c7a29283f503c67313e28283f503c67303e283f3a617c616229283f3a637c626364295c787b3361337d7b312c327d5bc3a92dc5be5d5c787b464646447d29283f733a2e292b297b307dcea3283f69295b5e6b5d297c5b5b3a70756e63743a5d5d6b29",
	"s 4bc5bfc3890aceb3622ee697a55fcf82c38962cea3 - 4bc5bfc3890aceb3622ee697a55fcf82c38962cea3 4bc5bfc3890aceb3622ee697a55fcf82c38962cea3",
	"s 61 - 61 61",
	"s 61c3a9cea3 - 61c3a9cea3 61c3a9cea3",
	"p 5b5e615d28283f503c67303e283f3a5c7836317c5c313431283f3a417b322c7d3f283f6929c3a92b3f297c283f5529612b7b302c317d5b5b3a776f72643a5d5d292a3f312a4b28283f3a5b5b3a616c7068613a5d5d7cc5bf5c533f3f5b5c707b4c757d5c645d7c5c2a5c704e787b332c357d2b3f283f6d3a5e297b302c317d297b307d7c283f503c67303e5c707b48616e7d6b295b2e5d5b612d5d6b2a3f29297b327d283f69295b6b2d6d5d285e2929e697a55b5b3a616c7068613a5d5d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b7b302c317d60",
	"p 2c692d",
	"s 61616bffcf820a6bc389ff2e5f - 61616bffcf820a6bc389ff2e5f 61616bffcf820a6bc389ff2e5f",
	"s cf82 - cf82 cf82",
	"s 0aceb35fc5bf63cf824b20ceb342c3a9c3a9 - 0aceb35fc5bf63cf824b20ceb342c3a9c3a9 0aceb35fc5bf63cf824b20ceb342c3a9c3a9",
	"p 283f69295c5728283f3a283f693a62297c5c504c5c70503f5c447c283f6d297b327d242a3f7c283f3a627cc3a9787b332c357d293f3f7c5b5c787b464646447d615d5c775c2a29285c627b302c7d5b5b3a776f72643a5d5d3f283f6929c5bf7b302c7d2928283f55297b322c7d3f283f3a247b327d5c787b363565357d3f3f28283f6929c5bf7ce697a53f3f4b5b5e5c6e5d295b612d635d2a7c5c3134317b302c317d7c283f733a2e292b3f283f6d3a5e29283f6929cf8329285c707b5e477265656b7de697a57c5b5c707b4c757d5c645d7b302c317d7c5c442b283f3a202928c3a95c53297b302c317d297b327d28283f3a283f6929c3a97b327d283f6929c5bf5b5b3a776f72643a5d5d787b332c357d7c3129285c737b302c317d5c447b302c317d5c705362297c28283f69295b6b2d6d5d7b327d292a5b5b3a5e73706163653a5d5d2b3f297c2e283f3a285b5b3a616c7068613a5d5d7c5f5c707b477265656b7d5c787b3361337d5c787b3361337d7c5c6e5c777b307d5c704c3f3f7c5c447b302c7d5c313431295b2e5d7b302c7d24285b612d635d5c70502a3f612b7c5b612d635d283f69295b5e6b5d292a3f295c707b477265656b7d285c73637b307d283f6d73292a3f285b5b3a5e73706163653a5d5d5f5c704c7b327d29297c5b5b3a70756e63743a5d5d283f503c67313e5b5d615dceb35c507b4c6c7d2a29413f3f29284b297c5b5e5c704c5c645d3128283f73297c5b5b3a5e73706163653a5d5d29297b327d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b327d60",
	"p 5c707b477265656b7d5c7a",
	"s 616b6b2a - 616b6b2a 616b6b2a",
	"s 2e61 - 2e61 2e61",
	"s cea362cea35f6b2a63 - cea362cea35f6b2a63 cea362cea35f6b2a63",
	"p 5b2e5d7b302c7d283f69295c313431285b2e5d283f7329283f733a2e295c787b363565357d29",
	"s c5bf620a6b31e697a563416242e697a54b - c5bf620a6b31e697a563416242e697a54b c5bf620a6b31e697a563416242e697a54b",
	"s c5bfe697a52ec3890a - c5bfe697a52ec3890a c5bfe697a52ec3890a",
	"s 2ec3890a5f62c389c5bf6341 - 2ec3890a5f62c389c5bf6341 2ec3890a5f62c389c5bf6341",
	"p 5c41637c28205c704c3f20283f503c67313e5c705a5c645f29297b322c7d3f283f3a283f3a5c622b3f5b5e615d7c5e283f6929c3a9297b302c317d7c283f503c67313e625b5b3a75707065723a5d6b5d283f6d3a5e29297b312c327d283f3a617c616229283f3a637c626364295c707b4c757d7b327d297b302c7d5b5e615d283f693a62293f",
	"s c5bf4163c5bfceb361c389 - c5bf4163c5bfceb361c389 c5bf4163c5bfceb361c389",
	"s 412e2a4b0a6b0a2eceb3c3a9 - 412e2a4b0a6b0a2eceb3c3a9 412e2a4b0a6b0a2eceb3c3a9",
	"s 42 - 42 42",
	"p c5bf7c5b5e5c7830302d5c787b3130464646467d5d",
	"s ceb36b41ff4b41cea34120c5bf6bc5bf20 11,13,14,16 ceb36b41ff4b41cea341203c7c7cc5bf3e6b3c7c7cc5bf3e20 ceb36b41ff4b41cea34120,6b,20",
	"s cf82316141ffceb3 - cf82316141ffceb3 cf82316141ffceb3",
	"s 5f61ff - 5f61ff 5f61ff",
	"p 5b5b3a5e73706163653a5d5d283f6929c5bf7b322c7d3fc3a9283f6929cf837c24283f73292a2e7b327d283f503c67313e5b5d615d7b322c7d3f29",
	"s ceb362422ecea34120cea3634242cea3 - ceb362422ecea34120cea3634242cea3 ceb362422ecea34120cea3634242cea3",
	"s cea35fcf82310a2a4b5f412e616241 - cea35fcf82310a2a4b5f412e616241 cea35fcf82310a2a4b5f412e616241",
	"s ceb361ceb320cea3ff626131 - ceb361ceb320cea3ff626131 ceb361ceb320cea3ff626131",
	"p 2828283f69295b6b2d6d5d5c707b5e477265656b7d297b302c7d7c283f3a5c6e7c283f6d3a5e29285c737b302c7d297b302c7d283f3a5b5b3a776f72643a5d5d7b327d5c707b4c757d7c5c704c4b2b29297b327d5b612d5d2a3f283f3a283f69295c707b4c757d283f55297b312c327d283f503c67303e5c707b48616e7d7b302c7d4b283f5529612b2b3f5c705329283f69295c707b4c757d7c5b5b3a616c7068613a5d5d5c507b4c6c7d7c283f503c67323e5c645c2a5b5b3a776f72643a5d5d7b302c317d5c73293f293f3f7c5b6162635d292bcf82",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b2b3f60",
	"p 5c45c3a9322b5e7b313030317d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206573636170652073657175656e63653a20605c4560",
	"p 283f6d73292b5c73",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602b60",
	"p 205c535c7a28245b5e5c7830302d5c787b3130464646467d5d7c5c504c7b302c7d29",
	"s 415f2a - 415f2a 415f2a",
	"s 5f - 5f 5f",
	"s cf822e5f3141 - cf822e5f3141 cf822e5f3141",
	"p 283f3a285c7a5e3f285c6e283f3a5b5e5c704c5c645d2a6b5b612d635d2a3f29283f503c67303e5c70535c707b5e477265656b7d7b302c7d5b5e615d7b322c7d3f5b5e5d615d292b3f286b5c3134315c7836312a3f7c5c707b4c757d5b5b3a75707065723a5d6b5d7c61297c5c704c5b5e5c704c5c645d283f6929c5bf29283f3a283f6d73293f3f5c2e7c24283f503c67313e5c787b363565357d5c2e29283f3a617c616229283f3a637c62636429297b302c7d295c787b3361337d28283f3a5e3f3f7c5c6229283f3a283f3a5c51612e5c455c504c7b322c7d3f63297b302c7d297b327d292b285c704e5c42283f733a2e295e7c28283f693a6229295b612d635b3a64696769743a5d5d283f692d7329297c5c704c283f3a285c3134315c62c3a97b302c317d7c283f7329297b302c7d283f3a28283f6929c3a9292b3f7c28283f6d3a2429283f3a617c616229283f3a637c62636429ceb37b322c7d3f297b302c317d283f3a5b612d635b3a64696769743a5d5d29c5bf283f3a5b5b3a75707065723a5d6b5d7c787b332c357d7b307d5c51612e5c457c5c787b464646447d5c537c5c7053283f69295b6b2d6d5d29297b302c7d283f3a283f3a5b612d635d7b322c7d3f7c5c787b464646447d283f69295b5e6b5d5c707b4c757d292b5b5e5d615d2a3f7c5b5c707b4c757d5c645d5c4229283f3a24283f733a2e295b5d615d7c283f6d3a5e29787b332c357d7b312c327d5b5e5c7830302d5c787b3130464646467d5d7b322c7d3f7c283f5529612b7c5b5b3a616c7068613a5d5d297b312c327d295c2a5b5e5c6e5d297b307d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20603f3f60",
	"p cea35b5c707b4c757d5c645d7b307d",
	"s 422a615f - 422a615f 422a615f",
	"s - - - -",
	"s 0a - 0a 0a",
	"p 5c425c704c5c783631",
	"s 41cea30a4b0a63610a2acf82 - 41cea30a4b0a63610a2acf82 41cea30a4b0a63610a2acf82",
	"s 610a31c5bfcea35f31c5bfc3a92a - 610a31c5bfcea35f31c5bfc3a92a 610a31c5bfcea35f31c5bfc3a92a",
	"s cf825fe697a5ff312a - cf825fe697a5ff312a cf825fe697a5ff312a",
	"p 285b6162635d283f733a2e2928283f3a5c415c427c5b5c645f5d7b302c317d2928283f503c67313e5b612d635d5c70507b302c317d283f693a6229297b312c327dceb37b302c7d5c7a283f3a5c705a7b312c327d5c707b5e477265656b7d5c70532b5c70502b3f7c623f5c705031297ce697a5283f6929cf83297b322c7d3f283f6d3a5e297b307d283f503c67323e5b5e5c704c5c645d2a3f5b6162635d5c41297c283f3a5c707b5e477265656b7d5c7836317b322c7d3f7c5c704c297b322c7d3f5c704e295c504c7c5c7a3f3f285c777b312c327d283f6d293f7cceb329e697a5297b302c7d283f503c67313e283f503c67303e5f283f6d3a24293f7c283f69295b5e615d2b5c777b302c7d29283f6929c3a95c427c5c705acf8229285c537b302c7d283f3a5b612d635d5c623f3f5b5c787b464646447d615d7b327d297c283f693a62292e283f3a283f692d7329cf827b312c327d7c5e283f3a20c3a97c283f3a5c707b4c757d2b283f69295b5e6b5d7b307d5c704c293129297b312c327d283f3a5c7a5c707b477265656b7d3f7c5c704e293f3f297b312c327d5b5d615d3f",
	"s ceb30a2ecf826b0a6b632ecf82cf82 - ceb30a2ecf826b0a6b632ecf82cf82 ceb30a2ecf826b0a6b632ecf82cf82",
	"s 6231c5bfc389 - 6231c5bfc389 6231c5bfc389",
	"s 42c3896361 - 42c3896361 42c3896361",
	"p 283f503c67313e283f503c67313e5c704e5c70537c283f3a283f3a617c616229283f3a637c626364292b5b5d615d7b302c7d7c5c787b3361337dc5bf29297b307d283f3a283f503c67303e28283f69295b5e6b5d297b302c7d283f3a5b5b3a70756e63743a5d5d5c732b5c707b48616e7d283f5529612b7cc5bf5b5b3a776f72643a5d5d5c707b4c757de697a57b327d295c42ceb37b302c7d7c31c3a97b302c317d2e7b307d5c705a29292a3f787b332c357d7b327d7c283f69295b6b2d6d5d5c313431297b307d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d7b327d60",
	"p 243d5e",
	"s 6b5f2e42 - 6b5f2e42 6b5f2e42",
	"s c5bf41c3a9cea362 - c5bf41c3a9cea362 c5bf41c3a9cea362",
	"s c389e697a55f6241e697a56bc389c3892e - c389e697a55f6241e697a56bc389c3892e c389e697a55f6241e697a56bc389c3892e",
	"p 285c735c504c5b5c707b4c757d5c645d29285c2a7b302c317d292b3f283f503c67313ec5bf28285b5b3a616c7068613a5d5d5bc3a92dc5be5d7b307d5c737b322c7d3f283f69295b5e6b5d293f3f5b5b3a616c7068613a5d5d5b5b3a776f72643a5d5d2a3f7c283f3a283f3a283f69295c707b4c757d5bc3a92dc5be5d5bc3a92dc5be5d5c6e7b307d7c5b5e5d615d617b327d7c283f6929c3a97b327d5b612d635d292a3f285b612d635d3f283f5529612b3f3f283f69295b6b2d6d5d295c787b363565357d7c283f3a5c70535c504c5b5e5c7830302d5c787b3130464646467d5d2b283f69295c707b4c757d7b307d295c627b307d7c5b5b3a776f72643a5d5d3f292b3f28283f3acf82283f733a2e29283f6929c5bf7c5b5b3a776f72643a5d5d5bc3a92dc5be5d2e29242b3f282e5b5d615d5c577b302c7d283f6d3a24297b322c7d3f7c5b5e5c704c5c645d7b322c7d3f283f69295b5e6b5d7b302c7d283f6d3a24295c732929297c5c7836315e5b612d5d283f503c67313e41283f3a283f5529612b5c3134315b5b3a5e73706163653a5d5d283f69295b6b2d6d5d29283f3a617c616229283f3a637c626364295e2929283f3a283f3a617c283f3a283f3ac5bf7b327d5c787b363565357d7b327d283f6929cf837c5b5e5d615d5b5e5c7830302d5c787b3130464646467d5d2929283f3a283f503c67313e5c2a295c7a2a283f69295c707b4c757d787b332c357d2a3f7c283f3a5c504c7b327d7c5b5e5c7830302d5c787b3130464646467d5d5c6e292b285c7836315b5c707b4c757d5c645d5c57297b327d283f3a5c70507c5b5b3a776f72643a5d5d317b307d5c507b4c6c7d295b5b3a616c7068613a5d5d297b302c317d295c6e2a283f3a5b5e5c6e5d283f6d3a5e29205f7b312c327d7c5b612d635d283f503c67303e283f3a5b612d635b3a64696769743a5d5d2b5c707b477265656b7d5b5c787b464646447d615d5b5c707b4c757d5c645d7c412b3f283f6d3a5e29e697a55c7050293f3f245c707b48616e7d29292a3fc5bf7c283f3a617c616229283f3a637c626364297b307d285c787b363565357d2b3f2929",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b3f3f60",
	"p 5c537b307d",
	"s c3a9 0,0,2,2 3c7c7c3ec3a93c7c7c3e c3a9",
	"s 20c5bf31424163cea341c389c389c5bf6b 0,0,1,1,3,3,4,4,5,5,6,6,7,7,9,9,10,10,12,12,14,14,16,16,17,17 3c7c7c3e203c7c7c3ec5bf3c7c7c3e313c7c7c3e423c7c7c3e413c7c7c3e633c7c7c3ecea33c7c7c3e413c7c7c3ec3893c7c7c3ec3893c7c7c3ec5bf3c7c7c3e6b3c7c7c3e 20,c5bf,31,42,41,63,cea3,41,c389,c389,c5bf,6b",
	"s ffc3a963624162c5bfc389c5bfcea32a2eceb3 0,0,1,1,3,3,4,4,5,5,6,6,7,7,9,9,11,11,13,13,15,15,16,16,17,17,19,19 3c7c7c3eff3c7c7c3ec3a93c7c7c3e633c7c7c3e623c7c7c3e413c7c7c3e623c7c7c3ec5bf3c7c7c3ec3893c7c7c3ec5bf3c7c7c3ecea33c7c7c3e2a3c7c7c3e2e3c7c7c3eceb33c7c7c3e ff,c3a9,63,62,41,62,c5bf,c389,c5bf,cea3,2a,2e,ceb3",
	"p 4b",
	"s 63ceb3c5bfffffcf822e - 63ceb3c5bfffffcf822e 63ceb3c5bfffffcf822e",
	"s 5f4bcf82c3a9cea32ae697a542 1,2 5f3c7c7c4b3ecf82c3a9cea32ae697a542 5f,cf82c3a9cea32ae697a542",
	"s 6b2ac3a92a5f6bcea331 - 6b2ac3a92a5f6bcea331 6b2ac3a92a5f6bcea331",
	"p 5c42cea35c707b48616e7d5c504c3f",
	"s 6261cea30a62312e6241416b - 6261cea30a62312e6241416b 6261cea30a62312e6241416b",
	"s 4131c3892a2effe697a562632e - 4131c3892a2effe697a562632e 4131c3892a2effe697a562632e",
	"s cea34b0a4b62cf822a - cea34b0a4b62cf822a cea34b0a4b62cf822a",
	"p 5c70503f3f",
	"s c3a9622e5f61cea320c5bfc5bf6320ceb3 0,0,2,2,3,3,4,4,5,5,6,6,8,8,9,9,11,11,13,13,14,14,15,15,17,17 3c7c7c3ec3a93c7c7c3e623c7c7c3e2e3c7c7c3e5f3c7c7c3e613c7c7c3ecea33c7c7c3e203c7c7c3ec5bf3c7c7c3ec5bf3c7c7c3e633c7c7c3e203c7c7c3eceb33c7c7c3e c3a9,62,2e,5f,61,cea3,20,c5bf,c5bf,63,20,ceb3",
	"s cf822ecf82420a3131c38961cea3 0,0,2,2,3,3,5,5,6,6,7,7,8,8,9,9,11,11,12,12,14,14 3c7c7c3ecf823c7c7c3e2e3c7c7c3ecf823c7c7c3e423c7c7c3e0a3c7c7c3e313c7c7c3e313c7c7c3ec3893c7c7c3e613c7c7c3ecea33c7c7c3e cf82,2e,cf82,42,0a,31,31,c389,61,cea3",
	"s 2e63612e2ec38961612a4b 0,0,1,1,2,2,3,3,4,4,5,5,7,7,8,8,9,9,10,10,11,11 3c7c7c3e2e3c7c7c3e633c7c7c3e613c7c7c3e2e3c7c7c3e2e3c7c7c3ec3893c7c7c3e613c7c7c3e613c7c7c3e2a3c7c7c3e4b3c7c7c3e 2e,63,61,2e,2e,c389,61,61,2a,4b",
	"p 283f6d29283f69295c5724283f3ac5bf28283f3a617c616229283f3a637c626364292a5c787b464646447d283f3a5c6e5c787b464646447d28283f69295c707b4c757d5c2e5c51612e5c457b327d283f6929c3a93f3f293f283f3a5c3134317b307d7c5b5b3a776f72643a5d5d5c787b363565357d2a5c7836317b312c327d5c704c7ccf827b302c7d297c283f3a617c616229283f3a637c62636429283f3a283f6929c3a920c5bf5c707b48616e7d2b7c412e5b5e5c704c5c645d7c5c6e297b302c7d28c3a97b302c7d5c787b464646447d5c577c417b302c317d5b5b3a75707065723a5d6b5d5b5c645f5d7b312c327d5c504c2a3f295c417b302c7d297b307d7c5b6162635d7b322c7d3f28283f3a5b612d635b3a64696769743a5d5d4b3f3fceb3283f69295b6b2d6d5d7c5c704c7b302c7d5c787b464646447d7b312c327d293f3f5c7a7c283f3a283f6929c3a95c707b48616e7d5b5b3a75707065723a5d6b5d3f3f5c507b4c6c7d7cc3a97b302c7d283f69295b5e6b5d293f3f283f3a283f69295c707b4c757d7b312c327d7c5c787b464646447d2a295b5b3a75707065723a5d6b5d285c704cceb3292929283f3a5c787b363565357d2a3f7c5c2e283f69295b5e6b5dcea3292a3f7c285c707b4c757d7c5f5b5b3a776f72643a5d5d3f3f2e627b302c317d29283f3a283f69293f3f247c31283f503c67323e247b327d295c44283f503c67323e285b612d5d5bc3a92dc5be5d5c707b48616e7d5c787b464646447d7c283f69295b6b2d6d5d7b327d5c51612e5c452a5c507b4c6c7d2928283f5529612b5bc3a92dc5be5d283f6929cf8329242929297b307d",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20603f3f60",
	"p 2828cea37c4b5b5d615d28283f3a627b312c327d7c5b5e615d7c5c44295b5c645f5d7b312c327d285c7836315b5e5c7830302d5c787b3130464646467d5d297b312c327d7c285bc3a92dc5be5d41283f5529612b5c704e2b2929297b307d5b5d615d5c6e2b295b5b3a70756e63743a5d5d2a3f",
	"s 2a312acf82cea361cf82414b204b - 2a312acf82cea361cf82414b204b 2a312acf82cea361cf82414b204b",
	"s cf82312a4b - cf82312a4b cf82312a4b",
	"s 3161c3890ae697a52ac38920 - 3161c3890ae697a52ac38920 3161c3890ae697a52ac38920",
	"p 5b2d70",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720636c6f73696e67205d3a20605b2d7060",
	"p 5c7a283f3a5c4128283f3a5b5b3a75707065723a5d6b5d7b327d5b5b3a616c7068613a5d5d7c6b5c707b4c757d5b5b3a616c7068613a5d5d5c647c5c707b4c757d283f3a617c616229283f3a637c626364295c57787b332c357d2b7c5c707b48616e7d7c285c7050283f6d3a24292a3f5c2e5b5e5c6e5d297b327d283f3a283f69295b6b2d6d5d2b3f7c5c787b464646447d5c504c7b302c7d787b332c357d29285b5e5d615d62283f69295b6b2d6d5d7b312c327d5c705a2928cea35c707b48616e7d283f5529612b2a5b5b3a75707065723a5d6b5d2929283f5529612b28283f503c67313e5c707b48616e7d612b3f5c787b363565357d2b29283f3a5b5b3a75707065723a5d6b5d5c787b363565357d5c787b464646447d7b307d6b293f28315b5e5c7830302d5c787b3130464646467d5d2b3f7c20283f5529612b7b322c7d3f5b5b3a75707065723a5d6b5d295c2a3f3f7c5c787b464646447d7c5b5c787b464646447d615d2b3f5c704e2b3f5b5c787b464646447d615d7c5c51612e5c45297b327d7c283f3a5b5c707b4c757d5c645d5c7836315c705a7b312c327d283f6929cf837c5b5b3a70756e63743a5d5d5b5b3a5e73706163653a5d5d297b302c7d5b5e5d615d5c313431297c5c787b3361337d5c787b3361337d5c3134315b5e615d7c5c427b302c7d283f3a283f3a285b612d635b3a64696769743a5d5dceb37b327d5c2a2a283f693a62297c5b5b3a776f72643a5d5d2b3fcf825c51612e5c455c707b5e477265656b7d7b327d295c627b322c7d3f5b5e615d283f3a283f5529612b317c5b5e615d5c783631292b7c283f6d7329283f3a5b5e5c6e5d2a3f292b297c283f6929cf83283f3a283f732928413f3f5c787b363565357d3fc5bf5b5b3a75707065723a5d6b5d7b322c7d3f297b322c7d3f5b5c787b464646447d615d7c283f3a5c7836317b322c7d3f5f7b322c7d3f7ccf827b327d5c2a2b5c77295c707b477265656b7d5c62285b5e615d2b5b5c707b4c757d5c645d5b5b3a776f72643a5d5dcea37c2e2b5f7b312c327d283f69295c707b4c757d5c787b363565357d29292a3f7c285c504c2a7c5b5b3a70756e63743a5d5d5c6e3f3f63292928283f3a285b612d635d2a5c787b464646447d7b322c7d3f29283f3a5c707b5e477265656b7d283f69295b5e6b5d5c645c707b48616e7d295b612d635d297c5c7a5f5c733f7c5c707b48616e7d283f503c67303eceb35c705a2929295e24",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d2b60",
	"p 283f69295b6b2d6d5d2ac3a9",
	"s c38931 0,2 3c7c7cc3893e31 -,31",
	"s - - - -",
	"s c389632e5f6bc3a9cea3c3a963 0,2,5,8,10,12 3c7c7cc3893e632e5f3c7c7c6bc3a93ecea33c7c7cc3a93e63 -,632e5f,cea3,63",
	"p 5c532b3f283f6d7329283f6929c3a9283f3a283f3a28283f6929cf835c41787b332c357d7b302c7d5f3f3f297c283f3a5e7b307d283f6d295c735b5c707b4c757d5c645d297b302c7d283f3a283f3a5c705a283f69295b5e6b5dc5bf7b302c317d5c704e29283f6929cf837b312c327d787b332c357d5c2a7c5c704c312a3f297b327d787b332c357d297b302c7d285c707b4c757d5c417b307d5c787b464646447d5b5e615d2961283f693a622929",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d7b302c7d60",
	"p 283f6929c3a9283f5529612b5c507b4c6c7d5c707b4c757d",
	"s - - - -",
	"s ceb3c3a963414b415f634242ceb3ff61 - ceb3c3a963414b415f634242ceb3ff61 ceb3c3a963414b415f634242ceb3ff61",
	"s 2ecf826220ceb3 - 2ecf826220ceb3 2ecf826220ceb3",
	"p 283f3a5c707b5e477265656b7d7b327d5b5e5d615d3f7c5b5e5c704c5c645d29",
	"s c389ff 0,3 3c7c7cc389ff3e -,-",
	"s 2e2a2063c3a9ceb3c5bf41cf825f 0,3,3,8,8,13,13,14 3c7c7c2e2a203e3c7c7c63c3a9ceb33e3c7c7cc5bf41cf823e3c7c7c5f3e -,-,-,-,-",
	"s 0a61 0,2 3c7c7c0a613e -,-",
	"p 283f3a283f3a283f3a283f3a283f69295b5e6b5d2b5c533f7c5c7053295c427cc5bf2b293f7c283f3a283f3a283f6929cf837b327d5c572b3f7c283f733a2e297b302c317d297c5c627b302c317d283f3a5c704ccea35c707b48616e7d617b322c7d3f7c5c53617b302c317d5c707b4c757d5c64295b5b3a616c7068613a5d5d2a292b3f283f733a2e293f6b5b5b3a776f72643a5d5d3f3f297c5b5c787b464646447d615d283f5529283f3a283f503c67313e5c707b477265656b7d787b332c357d7b302c317d5c53623f297b302c7d283f3a5c504c4b2a3f7c5c705a5c2a5b612d5d3f7c283f733a2e295c77283f733a2e297cc3a92e297c283f3aceb35c504c5b5c707b4c757d5c645d5c532b3f29283f503c67323e5b5e615d5b5b3a70756e63743a5d5d5b5e5c7830302d5c787b3130464646467d5d2b3f29283f503c67313e5b5b3a70756e63743a5d5d2b5b5b3a70756e63743a5d5d297b327d297c283f3a247c283f3a617c616229283f3a637c62636429283f733a2e297b302c317d283f3a283f503c67313e5b5e615d3f5c645c787b3361337d2b3f283f6929c5bf7b302c317d297b312c327d283f3ac5bf283f6d3a2429207b302c7d5c70502b3f7c5b5e5d615d5c507b4c6c7d7b302c317d5b5e5d615d7b302c7d5c64297c28283f6929c5bf2a3f2929297b327d5bc3a92dc5be5d293f7c5c62",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d7b302c317d60",
	"p 5c425b5b3a5e73706163653a5d5d5c704c5b5b3a70756e63743a5d5d",
	"s 0a - 0a 0a",
	"s - - - -",
	"s e697a52a2eceb33163202e6bcf82413163 - e697a52a2eceb33163202e6bcf82413163 e697a52a2eceb33163202e6bcf82413163",
	"p 29295d3a",
	"e 6572726f722070617273696e67207265676578703a20756e657870656374656420293a206029295d3a60",
	"p 283f3a5c412b7c283f6929c3a929283f3a5c537b307d283f69295c707b4c757d5b5b3a776f72643a5d5d283f503c67323e5c775c70535b5e5c6e5d7b302c317d297c28283f3a285b5e5c704c5c645d297b322c7d3f7cc3a9292b5c507b4c6c7d7b302c317d29283f693a62297b312c327d6bc3a929",
	"s c3a96362c5bf5fe697a52ae697a5 - c3a96362c5bf5fe697a52ae697a5 c3a96362c5bf5fe697a52ae697a5",
	"s - - - -",
	"s 5f2a4b424b422ec5bf41 - 5f2a4b424b422ec5bf41 5f2a4b424b422ec5bf41",
	"p 5c70535c70535b5c787b464646447d615d",
	"s - - - -",
	"s 62 - 62 62",
	"s ffe697a55f4141c3892ac3a92e0a2acf82 - ffe697a55f4141c3892ac3a92e0a2acf82 ffe697a55f4141c3892ac3a92e0a2acf82",
	"p 5b5d615d5b5b3a616c7068613a5d5d282e5c7a28cf82283f3a5c313431c3a95f283f3a2e5c3134313f2e5c707b48616e7d297c5c425c577b322c7d3f283f3a63283f3a617c616229283f3a637c626364295b5e5d615d7b327d7c5c575c787b464646447d7b302c7d29283f6d3a242929283f3a283f3a5c787b363565357d7b302c7d283f6929c5bf7b302c317d5c707b4c757d283f69295c572b3f7ccea32a3f283f6929c3a95b5b3a5e73706163653a5d5d283f6d3a5e29295c41285c504c3f3f7ccf82283f6929c3a929293f3f297c5c787b363565357d7b312c327d283f3a5c4428283f3a5b5c707b4c757d5c645d7b312c327d5b5b3a70756e63743a5d5d5c445b6162635d7b322c7d3f7c5c7836317b302c7d6b283f69295c707b4c757d283f69295c57293f3f283f3a5c443f62295c7a5c627b307d7c5c787b464646447d7b312c327d787b332c357d283f3a283f69295b6b2d6d5d7b302c7dceb32b3f5b5b3a616c7068613a5d5dc5bf3f3f7c283f5529612b7c283f6929cf835c707b477265656b7d295c70502b297c5e29283f73297c285c2a283f503c67323e5c7050295c537b322c7d3f29297b302c317d",
	"s 20c3a9 - 20c3a9 20c3a9",
	"s 6b4bceb3 - 6b4bceb3 6b4bceb3",
	"s 4262610acf824131ceb3 - 4262610acf824131ceb3 4262610acf824131ceb3",
	"p 283f503c67313e5c51612e5c45285c2a7b302c317d5b2e5d283f503c67323e5c504c2b2928283f6d3a2429297b302c7d297b307d5c6e7b327d292a3f5c51612e5c455f",
	"s c389c3a9c5bfc5bfcea342c3a9ceb3ff5f31422a - c389c3a9c5bfc5bfcea342c3a9ceb3ff5f31422a c389c3a9c5bfc5bfcea342c3a9ceb3ff5f31422a",
	"s 626b5f61 - 626b5f61 626b5f61",
	"s 2aceb3cf82c5bfcea3cea3 - 2aceb3cf82c5bfcea3cea3 2aceb3cf82c5bfcea3cea3",
	"p 285c707b48616e7d7c245b5c645f5d29",
	"s - - - -",
	"s c389200a4bc389422e4b6b61 - c389200a4bc389422e4b6b61 c389200a4bc389422e4b6b61",
	"s 4b41e697a531 2,5,2,5 4b413ce697a57c7ce697a53e31 4b41,31",
	"p 24283f3a617c616229283f3a637c626364297b307d283f3a283f503c67323e283f3a283f5529612b5c504c3f29297b307d283f3a283f503c67313e6b7b322c7d3f295c707b4c757d7b302c317d5b612d635d7b302c317d7c5c415b5e5c7830302d5c787b3130464646467d5d5c787b464646447d297c5b2e5d285c507b4c6c7d2b28283f503c67313e283f693a62295c787b3361337d295c7836315c707b4c757d29295c705a29",
	"s c5bfc38962cea362cea3420a5f4b622e6b - c5bfc38962cea362cea3420a5f4b622e6b c5bfc38962cea362cea3420a5f4b622e6b",
	"s 5f2a31c3a9cea3 - 5f2a31c3a9cea3 5f2a31c3a9cea3",
	"s 2a6b2ae697a54b31c5bf624b5f62 - 2a6b2ae697a54b31c5bf624b5f62 2a6b2ae697a54b31c5bf624b5f62",
	"p 28283f503c67323e5c787b363565357d7b307d5b5b3a776f72643a5d5d7b322c7d3f5c707b48616e7d7b312c327d29285c62285b5d615d3f283f6d73292a285b612d635d5b5d615d5c707b48616e7d297c283f3a283f6929c5bf2b3f292a3f5c70535b5d615d787b332c357d7c5c537b302c317d5b5b3a75707065723a5d6b5d7b322c7d3f5b612d635d5c787b3361337d2a295b5d615d7b312c327d283f3a285b5e5c704c5c645d5c445c787b464646447d7b302c317d5c787b363565357d2929295b5b3a616c7068613a5d5d7c283f3a5c707b48616e7d7c5c6e7b322c7d3f5b5b3a75707065723a5d6b5d7b302c7d293f3f7c5b5b3a75707065723a5d6b5d285c787b3361337d7c5c51612e5c45283f3a5b5b3a5e73706163653a5d5d283f3a617c616229283f3a637c626364292e283f3a617c616229283f3a637c626364297c5c7050283f69295b6b2d6d5d292b20297b307d5b5c645f5d5b612d635b3a64696769743a5d5d29285b5c707b4c757d5c645d29283f3a5c707b4c757d7c5b6162635d283f733a2e2928247c283f6929c3a95c62283f732929283f552929",
	"s 6bff614bcea3cf82 3,6,3,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,3,4,-1,-1 6bff613c7c7c4bcea33ecf82 6bff61,cf82",
	"s c5bfffc3a92a0a5f - c5bfffc3a92a0a5f c5bfffc3a92a0a5f",
	"s ceb32e2e61e697a531416bc389 5,10,5,8,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,8,9,-1,-1 ceb32e2e613ce697a57c7ce697a531413e6bc389 ceb32e2e61,6bc389",
	"p 5c7a7a",
	"s 41cea3414162cf8261 - 41cea3414162cf8261 41cea3414162cf8261",
	"s 62 - 62 62",
	"s ceb3c5bfc389415f4b2a4bceb34b41 - ceb3c5bfc389415f4b2a4bceb34b41 ceb3c5bfc389415f4b2a4bceb34b41",
	"p 28787b332c357d5c537b312c327d282828283f69295b6b2d6d5d2b5b5b3a70756e63743a5d5d297ce697a529297b312c327d297b307d5b5b3a616c7068613a5d5d285b5c645f5d5c2a29",
	"s c5bfcf82cf82c3896bc5bf - c5bfcf82cf82c3896bc5bf c5bfcf82cf82c3896bc5bf",
	"s cea362cea3e697a5ceb3310a4b2e63ff - cea362cea3e697a5ceb3310a4b2e63ff cea362cea3e697a5ceb3310a4b2e63ff",
	"s 206b41e697a5 - 206b41e697a5 206b41e697a5",
	"p 5c70532a3f283f3ae697a57b312c327d28787b332c357d2b3f283f3a5b5e5c6e5d62283f503c67323e283f69295c575c7731297c5b612d5d295c504c7c283f6d293f3f5b5e5c704c5c645d2b3fc3a95b612d635d7c283f6d3a5e295b5e615d2b3f7cc5bf2a5c707b5e477265656b7d412e3f295c422b3f283f3a5c6229293f",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d2b3f60",
	"p 5e7b307d7c28285bc3a92dc5be5d5c313431297c283f7329ceb329283f3a5b5b3a776f72643a5d5d7b327d5c42627c283f69295b5e6b5d7b302c7d283f55295e7b322c7d3f295c574b",
	"s 6b2e6b2a626161423141c3892ec3a9 0,0,-1,-1,-1,-1,1,1,-1,-1,-1,-1,2,2,-1,-1,-1,-1,3,3,-1,-1,-1,-1,4,4,-1,-1,-1,-1,5,5,-1,-1,-1,-1,6,6,-1,-1,-1,-1,7,7,-1,-1,-1,-1,8,8,-1,-1,-1,-1,9,9,-1,-1,-1,-1,10,10,-1,-1,-1,-1,12,12,-1,-1,-1,-1,13,13,-1,-1,-1,-1,15,15,-1,-1,-1,-1 3c7c7c3e6b3c7c7c3e2e3c7c7c3e6b3c7c7c3e2a3c7c7c3e623c7c7c3e613c7c7c3e613c7c7c3e423c7c7c3e313c7c7c3e413c7c7c3ec3893c7c7c3e2e3c7c7c3ec3a93c7c7c3e 6b,2e,6b,2a,62,61,61,42,31,41,c389,2e,c3a9",
	"s - 0,0,-1,-1,-1,-1 3c7c7c3e -",
	"s 204bc3a9206362615fe697a52affceb3 0,0,-1,-1,-1,-1,1,1,-1,-1,-1,-1,2,2,-1,-1,-1,-1,4,4,-1,-1,-1,-1,5,5,-1,-1,-1,-1,6,6,-1,-1,-1,-1,7,7,-1,-1,-1,-1,8,8,-1,-1,-1,-1,9,9,-1,-1,-1,-1,12,12,-1,-1,-1,-1,13,13,-1,-1,-1,-1,14,14,-1,-1,-1,-1,16,16,-1,-1,-1,-1 3c7c7c3e203c7c7c3e4b3c7c7c3ec3a93c7c7c3e203c7c7c3e633c7c7c3e623c7c7c3e613c7c7c3e5f3c7c7c3ee697a53c7c7c3e2a3c7c7c3eff3c7c7c3eceb33c7c7c3e 20,4b,c3a9,20,63,62,61,5f,e697a5,2a,ff,ceb3",
	"p 5c625b2e5d7c28285b5d615d29295c577b302c7d",
	"s 2062ceb3 - 2062ceb3 2062ceb3",
	"s 63316142ceb3 2,3,2,3,2,3 63313c617c7c613e42ceb3 6331,42ceb3",
	"s 0a0a6bcea36bcea34b - 0a0a6bcea36bcea34b 0a0a6bcea36bcea34b",
	"p 283f503c67303e28283f6d73295c647c5c622929283f69295b5e6b5d283f3a4b7b302c7d5c707b5e477265656b7d7c285c427b327d5b5c707b4c757d5c645d29285c3134312b3f29297b327d5c783631",
	"s 20c389ff42206b - 20c389ff42206b 20c389ff42206b",
	"s 62 - 62 62",
	"s 2042ff20ff634be697a5e697a54b - 2042ff20ff634be697a5e697a54b 2042ff20ff634be697a5e697a54b",
	"p 285c422a3f5b5c707b4c757d5c645d28285c445b2e5d3f3f7c5b6162635d3f3f292b283f6929c5bf283f3a5c415e5c7836317c5c704c5b5e5c704c5c645d7b322c7d3f5b5e5c7830302d5c787b3130464646467d5d7c5c707b48616e7d2929297b327d",
	"s - - - -",
	"s 6bcea3c389ff2ec3895f5f315f - 6bcea3c389ff2ec3895f5f315f 6bcea3c389ff2ec3895f5f315f",
	"s 0ae697a5 - 0ae697a5 0ae697a5",
	"p 5c41283f6d73293f3f",
	"s e697a561c5bf63c389e697a5202e61cf824b 0,0,3,3,4,4,6,6,7,7,9,9,12,12,13,13,14,14,15,15,17,17,18,18 3c7c7c3ee697a53c7c7c3e613c7c7c3ec5bf3c7c7c3e633c7c7c3ec3893c7c7c3ee697a53c7c7c3e203c7c7c3e2e3c7c7c3e613c7c7c3ecf823c7c7c3e4b3c7c7c3e e697a5,61,c5bf,63,c389,e697a5,20,2e,61,cf82,4b",
	"s 312a41 0,0,1,1,2,2,3,3 3c7c7c3e313c7c7c3e2a3c7c7c3e413c7c7c3e 31,2a,41",
	"s 42422ac389c3892a20 0,0,1,1,2,2,3,3,5,5,7,7,8,8,9,9 3c7c7c3e423c7c7c3e423c7c7c3e2a3c7c7c3ec3893c7c7c3ec3893c7c7c3e2a3c7c7c3e203c7c7c3e 42,42,2a,c389,c389,2a,20",
	"p 2c7b313030317dc3a9325b3a283f3f",
	"e 6572726f722070617273696e67207265676578703a20696e76616c69642072657065617420636f756e743a20607b313030317d60",
	"p 5c6e283f5529242b28285b5b3a70756e63743a5d5dc3a928283f6d732929297c283f69295c575b5c787b464646447d615d5c51612e5c4529",
	"s 414b420a2a612eff4bc5bf4142 - 414b420a2a612eff4bc5bf4142 414b420a2a612eff4bc5bf4142",
	"s 632a2a424261e697a52a3163 - 632a2a424261e697a52a3163 632a2a424261e697a52a3163",
	"s ffff2e2063 - ffff2e2063 ffff2e2063",
	"p 285c787b464646447d2b3f5c4429283f503c67323e632a3f283f6d3a2429283f6d3a2429cf82292861285c51612e5c45295b612d635d283f5529612b7c283f3a283f503c67313e5c735b5d615d6b7b307d295c704c5c417c283f6929c5bf283f3a5b5b3a70756e63743a5d5d7b312c327d5c707b48616e7d2b2e4b7cc5bf5b5d615dc5bf5c787b363565357d7b302c7d295c2e5c4229787b332c357d2b5c51612e5c455b612d635b3a64696769743a5d5d29",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d2b60",
	"p 5c705062",
	"s 61c5bf2acf8242 - 61c5bf2acf8242 61c5bf2acf8242",
	"s - - - -",
	"s 63620ac5bfff20ceb3 - 63620ac5bfff20ceb3 63620ac5bfff20ceb3",
	"p 283f503c67313e5b5e5c7830302d5c787b3130464646467d5d29283f7329",
	"s 5fceb3 - 5fceb3 5fceb3",
	"s c3894b6b5fc5bfc389cf824142 - c3894b6b5fc5bfc389cf824142 c3894b6b5fc5bfc389cf824142",
	"s - - - -",
	"p 283f3a28283f3a5c7050ceb3247c285c7050787b332c357d7c6b7b312c327d5b6162635d7b307d297b307d297c5b5e5c704c5c645d28283f69295c577b327d5c6e5c64e697a5292b3f297c285c412a3f7c5e283f5529283f5529292b5c70537b327d283f503c67303e5c705328283f3a5b5b3a776f72643a5d5d3f3f5b5b3a776f72643a5d5d2b3f5c705a7c5c704e7b302c317d5c73283f6929c3a97b312c327d295c647b327d5c2a283f3a617c616229283f3a637c626364297c5c575c787b3361337d29285b612d5d7b307d787b332c357d297b322c7d3f283f3a283f3a5b5e5c6e5d7c5b6162635d3f297c28283f69295b5e6b5d7c5c775b5b3a616c7068613a5d5d7b312c327d283f5529612b283f693a62297b322c7d3f7c5c704e3f7c5b5e5c7830302d5c787b3130464646467d5d3f3f5c7050c3a929283f6929c3a9283f692d73295b5e5c7830302d5c787b3130464646467d5d297b327d7c283f3a787b332c357d5b5b3a70756e63743a5d5d617b302c317d7c5c73293f5c704c5c42297b322c7d3f295c42283f503c67313e5b5e615d7b302c7d297c283f69295b6162635d2a3f5c2e",
	"s c5bf314262e697a50a2e6342cea3c389c3a9cf82 0,20,0,0,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,0,20 3c7cc5bf314262e697a50a2e6342cea3c389c3a9cf827cc5bf314262e697a50a2e6342cea3c389c3a9cf823e -,-",
	"s cf82c5bf5f420a 0,7,0,0,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,0,7 3c7ccf82c5bf5f420a7ccf82c5bf5f420a3e -,-",
	"s 6bceb3c5bf 3,5,3,3,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,3,5 6bceb33c7cc5bf7cc5bf3e 6bceb3,-",
	"p 283f3a283f3a28285b5e615d5b612d635b3a64696769743a5d5d7c5c442b5c707b477265656b7d2a7c5b5b3a616c7068613a5d5d7b322c7d3f5b6162635d3f5c777b312c327d295b5b3a776f72643a5d5d5b5c645f5d285b5c707b4c757d5c645d7b312c327d283f693a62292a3fc5bf5c705a297c283f3a5b5b3a616c7068613a5d5d7b302c7d7c5c2a7b302c317d283f6929cf837b302c317d292b283f3a5b612d635b3a64696769743a5d5d5c504c5b2e5dcea37c283f6929cf835b2e5d5c787b464646447d5b5b3a616c7068613a5d5d7c5b5d615d2a3f5c507b4c6c7d5c704c293f3f5b5b3a616c7068613a5d5d292a3f5c707b4c757dcf825e7b327d7c5c70533f29283f6d297c2e2a3f285b6162635d2b3f5c413f7c5c41317c283f503c67313e5c707b4c757d7b327d5c51612e5c45283f69295c57297b302c317d5c787b464646447d285c645c707b48616e7d2b3f5c707b4c757d7c5c44283f69295c573f3f787b332c357d2b7c5c704e7b307d5c44ceb329293f3f5b5e5c704c5c645d285c504c7b327d285b6162635d5c704c2b292a29297b322c7d3f5c772a285bc3a92dc5be5d5c707b477265656b7d2b283f6929cf837c283f3a283f3a5c707b477265656b7d7b327d7c283f6929c5bf7c5b5b3a75707065723a5d6b5d5b5b3a70756e63743a5d5d5b5b3a616c7068613a5d5d7b322c7d3f7ce697a55b612d635d2a283f69295c575b5b3a75707065723a5d6b5d2a29247b307d5b5e5c7830302d5c787b3130464646467d5d7b302c7d283f3a5c2a297c283f69295b5e6b5d7c5c707b477265656b7d7b302c317d295b5b3a776f72643a5d5d2b5b5c707b4c757d5c645d283f3a283f503c67303e5c787b3361337d283f503c67303e41ceb3297c5b5c787b464646447d615d4b7b302c7d283f6d3a5e297b302c317d5c705a2a3f297c283f3a285c775c70535c2e5c704e7c283f6d3a24295c53202a283f693a6229295b5e5d615d3f3f7c283f69295c707b4c757d4b7b302c7d7c283f3a283f69295b6b2d6d5d5b2e5d2a5b5c787b464646447d615d5c51612e5c453f7c5fcf82292a3f415b5b3a616c7068613a5d5d296b3f283f3a5c3134312a5c70507b327d283f55292e292a7c5c507b4c6c7d2b297c283f3a5e285b5c787b464646447d615d2928c3a97b312c327dceb35b612d635d297c283f503c67323e5b5b3a776f72643a5d5d4b283f6929c3a97c5c707b4c757d7b302c7d5b5e5d615d2b3f2928283f6d3a24295c787b464646447d283f6929c3a97c5b5b3a70756e63743a5d5d615c73283f733a2e29292b283f503c67323e5b612d635d7b302c7d5c643f5f5c3134317c5c2e29295b2e5d28283f3a5b5e615d7b312c327d5c442a3f5b5b3a75707065723a5d6b5d2928283f733a2e29283f6d3a5e29cf825c447c5b5c707b4c757d5c645d5b5e5c7830302d5c787b3130464646467d5d2b29285c787b464646447d5f2a3fceb3297b302c317d2929283f3a5b5b3a70756e63743a5d5d2a3f7c28283f69295b6b2d6d5d283f3a283f503c67303e283f693a62297b302c7d295c70537c283f69295c57285c504c5c707b48616e7d283f733a2e297b312c327d297b322c7d3f29295b5b3a776f72643a5d5d29",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d2b60",
	"p 285c504c5b5e5d615d7b302c317d285c6e5c707b4c757d283f3a283f3ac3a97b327d6bceb32b292831295b612d5d2b3f5c62297c283f3a283f3ac5bf5bc3a92dc5be5d5c707b4c757d2a7c5c51612e5c455c57292a283f692d73297b302c7d283f3a5c705a415c704e2a297c5b5e5d615d283f69295c575c504c7b312c327d295c532a3f29283f503c67323e5b5b3a70756e63743a5d5d5c707b5e477265656b7d7c283f6d29283f3a617c616229283f3a637c626364297b307dc5bf293f3f295e7b302c317d",
	"s - - - -",
	"s 4242ff41c389ceb34b4162ceb3ffc3a9 - 4242ff41c389ceb34b4162ceb3ffc3a9 4242ff41c389ceb34b4162ceb3ffc3a9",
	"s c3a961c5bfceb3412e3120 - c3a961c5bfceb3412e3120 c3a961c5bfceb3412e3120",
	"p 2a3d5c707b",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20602a60",
	"p 283f6929c3a9285c704e5b5b3a70756e63743a5d5dc3a9297b327d7c5c42283f3a285b5b3a5e73706163653a5d5d2b3f5c7a5b5b3a5e73706163653a5d5d5c73296341283f3a617c616229283f3a637c626364297b327d7c247c283f69295c57283f3acea32a283f69295c575c787b363565357d7c5b5c645f5d2a5bc3a92dc5be5d7b312c327d5c70507b322c7d3f283f69295b6b2d6d5d7c5c51612e5c457b327d5c7053413f5c705a2b297b307d5c425b5e5c7830302d5c787b3130464646467d5d7b302c317d7c5b5e5c704c5c645d5c70535c704c5c507b4c6c7d297c283f3a5c7053283f3a5b5e5c704c5c645d7b322c7d3f283f69295c707b4c757d7c5b5e5c6e5d29283f503c67313e5b5d615d283f733a2e295c447c5b2e5d293f613f297b327d5c73",
	"s 0ac3a9cea35f4131615fffc3890acf82 0,1,-1,-1,-1,-1,-1,-1,1,3,-1,-1,-1,-1,-1,-1,9,14,-1,-1,-1,-1,-1,-1,14,16,-1,-1,-1,-1,-1,-1 3c7c7c0a3e3c7c7cc3a93ecea35f4131613c7c7c5fffc3890a3e3c7c7ccf823e -,-,cea35f413161,-,-",
	"s 312ac3a9c389ceb3ff63 2,4,-1,-1,-1,-1,-1,-1,4,6,-1,-1,-1,-1,-1,-1,6,8,-1,-1,-1,-1,-1,-1 312a3c7c7cc3a93e3c7c7cc3893e3c7c7cceb33eff63 312a,-,-,ff63",
	"s 41c5bfcf820a312e6261c5bfc389c3a9cea3 3,5,-1,-1,-1,-1,-1,-1,12,14,-1,-1,-1,-1,-1,-1,14,16,-1,-1,-1,-1,-1,-1,16,18,-1,-1,-1,-1,-1,-1 41c5bf3c7c7ccf823e0a312e6261c5bf3c7c7cc3893e3c7c7cc3a93e3c7c7ccea33e 41c5bf,0a312e6261c5bf,-,-,-",
	"p 283f3a283f6d3a24292a5c6e7c5b5b3a70756e63743a5d5d7b327de697a55b5c645f5d283f503c67323e283f503c67313e283f6d3a5e295c575b5c645f5d2e2a3f295c6e5b5b3a776f72643a5d5d3f5c2e7c5b5c645f5d5c704c2a3f5c2a2b293f292a3f5c313431",
	"s cea3cf82cea3cea3c5bf612e61200a 10,11,-1,-1,-1,-1,12,13,-1,-1,-1,-1 cea3cf82cea3cea3c5bf3c7c7c613e2e3c7c7c613e200a cea3cf82cea3cea3c5bf,2e,200a",
	"s 4bc3a92e2e3163c5bfcea3cf8220cea3 - 4bc3a92e2e3163c5bfcea3cf8220cea3 4bc3a92e2e3163c5bfcea3cf8220cea3",
	"s 626363cea36b - 626363cea36b 626363cea36b",
	"p 5b5e5c7830302d5c787b3130464646467d5d5b5e5c6e5d2a3f",
	"s 0aceb3412e622e - 0aceb3412e622e 0aceb3412e622e",
	"s cea3422a632a - cea3422a632a cea3422a632a",
	"s ceb34162c3a94b6142ffcf826b4141cf82 - ceb34162c3a94b6142ffcf826b4141cf82 ceb34162c3a94b6142ffcf826b4141cf82",
	"p 2e3f283f733a2e295e3f28285c42283f3a283f6d73292928283f3a617c616229283f3a637c626364297c5c6e2a3f5c787b3361337d7b307d292b283f3a5c735c575c623f3f5c313431297b302c7d2929",
	"s 31c3a92aceb3e697a52e20 0,3,3,3,3,3,3,3,3,6,6,6,6,6,6,6,6,10,10,10,10,10,10,10,10,11,11,11,11,11,11,11 3c7c7c31c3a93e3c7c7c2aceb33e3c7c7ce697a52e3e3c7c7c203e -,-,-,-,-",
	"s c3a9c5bf312e 0,2,2,2,2,2,2,2,4,6,6,6,6,6,6,6 3c7c7cc3a93ec5bf3c7c7c312e3e -,c5bf,-",
	"s 4261cf82ceb362 0,1,1,1,1,1,1,1,1,4,4,4,4,4,4,4 3c7c7c423e3c7c7c61cf823eceb362 -,-,ceb362",
	"p 5b5b3a70756e63743a5d5d2b",
	"s 2eceb3622063 0,1 3c7c7c2e3eceb3622063 -,ceb3622063",
	"s cf822a0a2e0a42cf82 2,3,4,5 cf823c7c7c2a3e0a3c7c7c2e3e0a42cf82 cf82,0a,0a42cf82",
	"s 0acf82c5bf62ceb3c5bf5f 10,11 0acf82c5bf62ceb3c5bf3c7c7c5f3e 0acf82c5bf62ceb3c5bf,-",
	"p 5b2e5d",
	"s cea3cf82ffe697a561 - cea3cf82ffe697a561 cea3cf82ffe697a561",
	"s cf82cf82c5bf0ac389622a612e31cf82 12,13 cf82cf82c5bf0ac389622a613c7c7c2e3e31cf82 cf82cf82c5bf0ac389622a61,31cf82",
	"s c3a931e697a562e697a5e697a562 - c3a931e697a562e697a5e697a562 c3a931e697a562e697a5e697a562",
	"p 285b5c707b4c757d5c645d2a283f6d3a5e292a5c625b5d615d2b7c637b322c7d3fceb37c5c7053283f3a283f503c67303e28623f5b5e5c7830302d5c787b3130464646467d5d283f6d3a5e295b2e5d3f3f7c5b5e615d5c44295b5b3a776f72643a5d5d7b312c327d297b312c327d5b6162635d5c62283f3a4b283f6929c3a9283f692d73295c787b464646447d7c28283f5529612b7b302c317d297b302c317d20297c283f5529283f3a5c41283f3a5c70505b5e5c704c5c645d5b5c787b464646447d615d2b3f297c283f69295b6b2d6d5d7ccf827cceb3c5bf5c2a3f3f5c705a29297b322c7d3f29",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b7b302c317d60",
	"p 5c787b7b2d5c",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206573636170652073657175656e63653a20605c787b7b60",
	"p 5b5b3a776f72643a5d5d5b5e5c704c5c645d2a3f202b3f5c442b3f",
	"s e697a561 - e697a561 e697a561",
	"s c3a9 - c3a9 c3a9",
	"s 2a62 - 2a62 2a62",
	"p 5bc3a92dc5be5d283f3a283f503c67313e2828283f733a2e295b5e5c7830302d5c787b3130464646467d5d7c5c707b5e477265656b7d7b302c7d5c647b327d5b5b3a75707065723a5d6b5d29283f3a41ceb35b5e5c704c5c645d297c5c707b477265656b7d3fcea3283f692d73292b292a245b5b3a616c7068613a5d5d3f3f283f503c67303e5b2e5d7b302c7d297c5c625e7b322c7d3f285c737b302c7d297cc5bf2a3f283f733a2e296329285bc3a92dc5be5d7b302c7d7c283f3a2e7c5b5e615d7b302c317d5b5c707b4c757d5c645d5c2e29283f3a5b5c645f5d7ccf825b5b3a616c7068613a5d5d5c705acf8229283f3ac3a97c283f6d3a24295c705a5c775c787b3361337d297c5b5c645f5d283f3a285c507b4c6c7d2a3f5c704c283f6929c3a929283f503c67323e5c53283f69295b6b2d6d5d283f3a617c616229283f3a637c62636429283f69295c5729283f3a5c777b302c7d29283f6d73292b7c20283f69295b5e6b5d283f6d3a5e297b302c317d7cc3a929295c417b302c317d283f3a5b612d5d2b7c5c787b3361337d297c5c64283f3a5b5b3a75707065723a5d6b5d207c283f69295b6b2d6d5d2e283f6d3a5e293fe697a57b322c7d3f7c5c445c7a7b307d5b5e615d2929283f3a5e283f3a285bc3a92dc5be5d283f503c67303e5b612d5d29283f5529c3a92b295b5c645f5d2b3f29283f3a5c42297c28283f7329297b312c327d5b5e5c704c5c645d5c622b3f297b302c7d",
	"s ceb3312e4b422e4b - ceb3312e4b422e4b ceb3312e4b422e4b",
	"s 2ac5bfc38920c389ceb341 - 2ac5bfc38920c389ceb341 2ac5bfc38920c389ceb341",
	"s c3890ac389cea3e697a54b31 - c3890ac389cea3e697a54b31 c3890ac389cea3e697a54b31",
	"p 5c7836317b322c7d3f",
	"s e697a5cea3c389625f2a3141 - e697a5cea3c389625f2a3141 e697a5cea3c389625f2a3141",
	"s 4b5f20cea3 - 4b5f20cea3 4b5f20cea3",
	"s 206bc3a9ceb34bff6b616bc3894b - 206bc3a9ceb34bff6b616bc3894b 206bc3a9ceb34bff6b616bc3894b",
	"p 283f5529612b5c417b322c7d3f7c5b5b3a616c7068613a5d5d28283f3a5b5b3a5e73706163653a5d5d5c737b322c7d3f5c507b4c6c7d7b322c7d3f7c283f3a283f6929c3a97b302c317d283f69295c577b322c7d3f7c5c70535c737c5c70535c704e5c787b464646447d5c704c292a285b5e5c704c5c645d5c705329283f3a2e2a5b5e615d29297b312c327d283f3a285b5c645f5d295c643fcf827c283f3a5b5d615d5c7050283f6929c5bf7c5c707b5e477265656b7d7b312c327d5c704e29283f3a5b5e5c6e5d7c283f6d3a242920297b307d5c735c787b363565357d295c412b7c5c787b3361337d7b312c327d5c787b464646447d29283f693a62297b312c327d",
	"s 6b2a6342620acea3ff - 6b2a6342620acea3ff 6b2a6342620acea3ff",
	"s 202ecea341ff5fc389 - 202ecea341ff5fc389 202ecea341ff5fc389",
	"s cf82e697a5c389cf82c3a9ceb3cea3e697a5c3a92a - cf82e697a5c389cf82c3a9ceb3cea3e697a5c3a92a cf82e697a5c389cf82c3a9ceb3cea3e697a5c3a92a",
	"p 5b5b3a776f72643a5d5d2a3f",
	"s c5bf 0,0,2,2 3c7c7c3ec5bf3c7c7c3e c5bf",
	"s 615f 0,0,1,1,2,2 3c7c7c3e613c7c7c3e5f3c7c7c3e 61,5f",
	"s 0a2acf82ceb32e5fc3a9616b6b0a 0,0,1,1,2,2,4,4,6,6,7,7,8,8,10,10,11,11,12,12,13,13,14,14 3c7c7c3e0a3c7c7c3e2a3c7c7c3ecf823c7c7c3eceb33c7c7c3e2e3c7c7c3e5f3c7c7c3ec3a93c7c7c3e613c7c7c3e6b3c7c7c3e6b3c7c7c3e0a3c7c7c3e 0a,2a,cf82,ceb3,2e,5f,c3a9,61,6b,6b,0a",
	"p 5b5b3a5e73706163653a5d5d5c7836312828cf822a3f28283f73297b302c317d5c42cf825c627b302c7d7c5c507b4c6c7d2a3fe697a5295c707b4c757d7b302c7d295c73283f3a5c4228283f5529612b283f503c67303ecea35b5d615d2a61297b302c7d283f5529612b2a283f3a283f6d3a24297c283f69295b6b2d6d5d5b5e5c704c5c645d7b312c327d5c737b307d7c5b5e5d615d7b312c327d283f6d3a5e2929293f5b612d635b3a64696769743a5d5d2a283f693a62297c247b302c7d5eceb32861293f3f297b322c7d3f29",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720617267756d656e7420746f2072657065746974696f6e206f70657261746f723a20607b302c317d60",
	"p 283f3a617c616229283f3a637c62636429283f3ae697a528283f503c67313e20285b5e5c6e5d7c5b612d5d5b5c787b464646447d615d283f6929c5bf7b307d5bc3a92dc5be5d7b302c317d29297b312c327d283f3a5b5e5c7830302d5c787b3130464646467d5d5b5b3a776f72643a5d5d2a3f283f69295b6b2d6d5d5b2e5d7c283f6d3a2429283f73295c62cea329283f55297c283f503c67323e24787b332c357d3f3f5c51612e5c457b312c327d283f6929cf83292b5c6e29283f6d292a7c5c704c285c6e5c51612e5c457c283f503c67323e285c2a7b327d292a3f297b302c7d283f69295c41283f3a283f503c67303e5b612d5d5c705a7b327d292929293fc3a97b302c317d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20607b332c357d3f3f60",
	"p 5c45",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206573636170652073657175656e63653a20605c4560",
	"p 5c705a",
	"s 4161 - 4161 4161",
	"s c3a9 - c3a9 c3a9",
	"s 31c389c3a942 - 31c389c3a942 31c389c3a942",
	"p 5c704cc5bf5b6162635d3f3f20",
	"s 2e31c5bfe697a5cf82c389 - 2e31c5bfe697a5cf82c389 2e31c5bfe697a5cf82c389",
	"s 0a20cea35f6b4bffff622ec3a9 - 0a20cea35f6b4bffff622ec3a9 0a20cea35f6b4bffff622ec3a9",
	"s 0aceb3ff4231cea3206b62c38961c5bfcea3 - 0aceb3ff4231cea3206b62c38961c5bfcea3 0aceb3ff4231cea3206b62c38961c5bfcea3",
	"p 283f6d29",
	"s c3a9cea3 0,0,2,2,4,4 3c7c7c3ec3a93c7c7c3ecea33c7c7c3e c3a9,cea3",
	"s 6161cf822020 0,0,1,1,2,2,4,4,5,5,6,6 3c7c7c3e613c7c7c3e613c7c7c3ecf823c7c7c3e203c7c7c3e203c7c7c3e 61,61,cf82,20,20",
	"s 6b62 0,0,1,1,2,2 3c7c7c3e6b3c7c7c3e623c7c7c3e 6b,62",
	"p 5bc3a92dc5be5d5bc3a92dc5be5d5b2e5d",
	"s 206bc5bf63cea3 - 206bc5bf63cea3 206bc5bf63cea3",
	"s 5f2a5fcf8231ff - 5f2a5fcf8231ff 5f2a5fcf8231ff",
	"s 63cea3ceb36b - 63cea3ceb36b 63cea3ceb36b",
	"p 283f7329283f3a5c735c3134317c5c41297b302c317d5b612d635b3a64696769743a5d5d",
	"s ceb3e697a5 - ceb3e697a5 ceb3e697a5",
	"s - - - -",
	"s e697a5cf82c3a9612061c3892e2a41ceb320 7,8,9,10 e697a5cf82c3a93c7c7c613e203c7c7c613ec3892e2a41ceb320 e697a5cf82c3a9,20,c3892e2a41ceb320",
	"p 5b5c707b4c757d5c645d7b312c327d283f503c67313e5c6e283f3a28283f3a5b5b3a5e73706163653a5d5d283f733a2e295c705a5c705a2b3f297b302c317d283f3a5b5b3a616c7068613a5d5d5c504ccea37b302c7d637c5b5c787b464646447d615d283f6d3a5e292a3f5c705a7c5b612d635b3a64696769743a5d5d283f733a2e29293f5c42285f5c787b3361337d29295c7836315c62e697a57c283f69295c707b4c757d2a285c78363129283f3a5c70535b5e5c6e5d283f3a5c533f3f283f733a2e293f5c707b48616e7d5f7b327d7c5c70502b7c317b312c327d5b5c787b464646447d615d3f3f5c705a7b327d292b3f7c5b612d5d3f6b5c787b363565357d7b307d283f6d3a24293f3f292b3f5c2a7c5c627b302c317d283f3a5b2e5d7b312c327d5c577b307dcf825b5b3a616c7068613a5d5d295b5c707b4c757d5c645d2a283f693a6229292a297c5b5c707b4c757d5c645d283f6d29",
	"s c3a92ee697a541c5bf63 6,7,-1,-1,-1,-1,-1,-1,-1,-1 c3a92ee697a53c7c7c413ec5bf63 c3a92ee697a5,c5bf63",
	"s 0acea3ff42 1,3,-1,-1,-1,-1,-1,-1,-1,-1,4,5,-1,-1,-1,-1,-1,-1,-1,-1 0a3c7c7ccea33eff3c7c7c423e 0a,ff,-",
	"s 615f20ceb3206b - 615f20ceb3206b 615f20ceb3206b",
	"p 5b5e5c7830302d5c787b3130464646467d5de697a57b312c327d61283f3a5c2e283f3a283f3a612b3f283f3a5b5e5c7830302d5c787b3130464646467d5dcf827c5b2e5d2a3fceb35c704e6b297b322c7d3f5e297b312c327d5c645b2e5d7b307d293f297c5c537b302c7d283f503c67323e5c705a2b3f285c707b5e477265656b7d7c5b5e615d7c283f69295b6b2d6d5dc5bf2b3f283f6d3a24297b312c327d5c787b464646447d3f3f293f297b307d28283f3a5e5c62283f3a5c704c5c57283f6929c5bf7b302c7d283f6d3a5e297b312c327d29283f3a5c51612e5c45297c283f6929c3a95c737b302c317d5b6162635d7c5c704c7c5c70505c445c6e2a7c5c5320283f69295b6b2d6d5d29283f5529285c577c5b5e5c6e5d3f20295e29",
	"s c3894b62c3a94120c3894b5f - c3894b62c3a94120c3894b5f c3894b62c3a94120c3894b5f",
	"s 2ac5bf63cf82cea34be697a56b62 - 2ac5bf63cf82cea34be697a56b62 2ac5bf63cf82cea34be697a56b62",
	"s cf82632a4b2e4bffc3a94b632e6bc5bf - cf82632a4b2e4bffc3a94b632e6bc5bf cf82632a4b2e4bffc3a94b632e6bc5bf",
	"p 5b24",
	"e 6572726f722070617273696e67207265676578703a206d697373696e6720636c6f73696e67205d3a20605b2460",
	"p 5c787b464646447d7b327d5c44283f692d7329",
	"s ff42424163 - ff42424163 ff42424163",
	"s 4b634b - 4b634b 4b634b",
	"s 4bff - 4bff 4bff",
	"p 5c787b363565357d3f3f283f3a5b5b3a75707065723a5d6b5d5c704c7b327d285e5c3134313f3f283f3a5c3134315c575c62313f3f297b327d295b612d5d7c5c704e7c315b5b3a776f72643a5d5d5c2e5bc3a92dc5be5d7c283f3a283f5529283f6d29295c787b363565357d283f503c67313e283f3a283f503c67313e5c707b5e477265656b7d7b322c7d3f283f6929c5bf5b6162635d7b312c327d295c704c7b302c7d7c28ceb33f283f5529612b7b312c327d7c5b5b3a776f72643a5d5d3f3f292a3f283f3a5b5b3a776f72643a5d5d7c5c70537b302c317d292929283f3a5b5c707b4c757d5c645d283f3a283f3a5c2a5c51612e5c455c507b4c6c7d7c5c2e2a3f5b5e5d615d2e297c5c412a5c70507b322c7d3f283f3a5c732b7c5b2e5d2e5b5c707b4c757d5c645d29292b3f5c313431283f3a5bc3a92dc5be5d2a3f28283f6d3a24297b302c7d2e5c704c29297b307d7c627b302c317d297b312c327d29285c425c70507b327d297b302c317d",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b7b312c327d60",
	"p 625b5b3a70756e63743a5d5d",
	"s c38961c38942ffffcf826131ceb3 - c38961c38942ffffcf826131ceb3 c38961c38942ffffcf826131ceb3",
	"s 202ac3a9ff0a4231ceb3 - 202ac3a9ff0a4231ceb3 202ac3a9ff0a4231ceb3",
	"s 3120cea3e697a563 - 3120cea3e697a563 3120cea3e697a563",
	"p 41",
	"s 42cf82414bc389cea3ceb3c389e697a5c5bf3141e697a5 3,4,19,20 42cf823c7c7c413e4bc389cea3ceb3c389e697a5c5bf313c7c7c413ee697a5 42cf82,4bc389cea3ceb3c389e697a5c5bf31,e697a5",
	"s 420a62612e0affc3896b630a42 - 420a62612e0affc3896b630a42 420a62612e0affc3896b630a42",
	"s 6b - 6b 6b",
	"p 5b5b3a616c7068613a5d5d5b5b3a616c7068613a5d5d",
	"s c5bf41cea361 - c5bf41cea361 c5bf41cea361",
	"s 0ae697a5c3a9c5bf0a - 0ae697a5c3a9c5bf0a 0ae697a5c3a9c5bf0a",
	"s 0a20c5bf6141cf825fc389632e5fc38962 4,6 0a20c5bf3c7c7c61413ecf825fc389632e5fc38962 0a20c5bf,cf825fc389632e5fc38962",
	"p 283f73295c707b477265656b7d7b312c327d",
	"s 2a6161ff63c3896bcea3ff 8,10 2a6161ff63c3896b3c7c7ccea33eff 2a6161ff63c3896b,ff",
	"s 31cea3cea3612ec3a9c389e697a5 1,5 313c7c7ccea3cea33e612ec3a9c389e697a5 31,612ec3a9c389e697a5",
	"s 63c3a942c3892ac3a92aff414241 - 63c3a942c3892ac3a92aff414241 63c3a942c3892ac3a92aff414241",
	"p 283f3a28283f7329283f3a2e7b302c317d285c504c3f3f5b5b3a75707065723a5d6b5d29285b5e5d615d7b327d292a283f693a62297b327d7c315f7b327d5b2e5d5c787b464646447d7b307d7c283f3a5bc3a92dc5be5d5b5c787b464646447d615d7b302c317d5c51612e5c457c283f6929c3a95b5b3a776f72643a5d5d2b5c705a7b302c317d7c5c51612e5c455c6e295c647b307dc3a92b3f7c283f6929c5bf7b312c327d5b5e615d7b312c327d7c62292a283f3a283f503c67323e5b5e5c6e5d292b7c285b5b3a70756e63743a5d5d7c63283f6929c3a97c5c707b48616e7d7ccea35c57283f5529612b7b322c7d3fe697a5295c627c5b5b3a776f72643a5d5d5b5e5c6e5d295b5b3a776f72643a5d5d7c6b5c70503f3f5c2a292b3f7c5b612d5d2b3f297b322c7d3f283f69297b327d283f3a283f3a5c7053787b332c357d283f69295b6b2d6d5d5b5b3a70756e63743a5d5d7c5b5e5d615d5f292b3f7c283f69295c707b4c757d7c5c787b363565357d7b312c327d5b5c787b464646447d615d3f3f28cea33f7c787b332c357d2a3f5c77297b322c7d3f7c285c7a28285c70537b322c7d3f5c735b5c787b464646447d615d5b5b3a5e73706163653a5d5d7b327d2929283f3a5c704e285b6162635d787b332c357d283f69295c707b4c757d4b7c6b7b302c7d5c504c5c7050297c283f693a6229297b322c7d3f295c5729",
	"e 6572726f722070617273696e67207265676578703a20696e76616c6964206e65737465642072657065746974696f6e206f70657261746f723a20602b7b322c7d3f60",
	"p 3c7d2d",
	"s e697a5616263cea3c389cea3cf823141 - e697a5616263cea3c389cea3cf823141 e697a5616263cea3c389cea3cf823141",
	"s c3a96bcf82 - c3a96bcf82 c3a96bcf82",
	"s cea36bff62c5bfceb3e697a5cea3c389 - cea36bff62c5bfceb3e697a5cea3c389 cea36bff62c5bfceb3e697a5cea3c389",
};

static size_t unhex(const char *t, size_t n, char *out, size_t cap)
{
	if (n == 1 && t[0] == '-')
		return 0;
	assert_true(n / 2 <= cap);
	for (size_t i = 0; i + 1 < n; i += 2) {
		unsigned v;
		assert_int_equal(sscanf(t + i, "%2x", &v), 1);
		out[i / 2] = (char)v;
	}
	return n / 2;
}

/* Splits line into space-separated tokens (no copies). */
static int tokens(const char *line, const char **tok, size_t *len, int max)
{
	int n = 0;
	while (*line && n < max) {
		const char *sp = strchr(line, ' ');
		size_t l = sp ? (size_t)(sp - line) : strlen(line);
		tok[n] = line;
		len[n++] = l;
		line += l;
		while (*line == ' ')
			line++;
	}
	return n;
}

struct go_find {
	long want[4096];
	size_t nwant, at;
};

static int go_find_cmp(void *ctx, const size_t *caps, size_t ncaps)
{
	struct go_find *g = ctx;
	for (size_t i = 0; i < ncaps; i++) {
		long got = caps[i] == SIZE_MAX ? -1 : (long)caps[i];
		assert_true(g->at < g->nwant);
		assert_int_equal(got, g->want[g->at]);
		g->at++;
	}
	return 0;
}

struct go_split {
	const char *s;
	const char *want; /* comma list of hex pieces */
	size_t want_len;
	size_t at;
	int pieces;
};

static int go_split_cmp(void *ctx, size_t start, size_t end)
{
	struct go_split *g = ctx;
	const char *p = g->want + g->at, *stop = g->want + g->want_len;
	const char *comma = memchr(p, ',', (size_t)(stop - p));
	size_t l = comma ? (size_t)(comma - p) : (size_t)(stop - p);
	char piece[64];
	assert_true(l / 2 < sizeof piece);
	size_t n = unhex(p, l, piece, sizeof piece);
	assert_int_equal(end - start, n);
	assert_memory_equal(g->s + start, piece, n);
	g->at += l + (comma ? 1 : 0);
	g->pieces++;
	return 0;
}

static void test_go_differential(void **state)
{
	(void)state;
	size_t ncases = sizeof go_cases / sizeof go_cases[0];
	struct rego_re *re = NULL;
	char pat[4096];
	size_t plen = 0;
	int checked = 0;
	for (size_t i = 0; i < ncases; i++) {
		const char *tok[5];
		size_t len[5];
		int n = tokens(go_cases[i], tok, len, 5);
		if (tok[0][0] == 'p') {
			rego_re_free(re);
			re = NULL;
			plen = unhex(tok[1], len[1], pat, sizeof pat);
			char err[1024];
			int rc = rego_re_compile(pat, plen, &re, err, sizeof err);
			bool want_error = i + 1 < ncases && go_cases[i + 1][0] == 'e';
			if (want_error) {
				char want[1024];
				const char *t2[2];
				size_t l2[2];
				tokens(go_cases[i + 1], t2, l2, 2);
				size_t wl = unhex(t2[1], l2[1], want, sizeof want);
				want[wl] = 0;
				if (rc == 0 || strcmp(err, want) != 0)
					fail_msg("/%.*s/: got \"%s\", want \"%s\"", (int)plen, pat,
						 rc == 0 ? "(compiled)" : err, want);
				re = NULL;
				i++;
				checked++;
			} else if (rc != 0) {
				fail_msg("/%.*s/: %s", (int)plen, pat, err);
			}
			continue;
		}
		assert_int_equal(tok[0][0], 's');
		assert_int_equal(n, 5);
		assert_non_null(re);
		char s[128], repl_want[8192];
		size_t slen = unhex(tok[1], len[1], s, sizeof s);

		struct go_find g = {.nwant = 0};
		if (!(len[2] == 1 && tok[2][0] == '-')) {
			const char *p = tok[2];
			while (p < tok[2] + len[2]) {
				char *endp;
				assert_true(g.nwant < sizeof g.want / sizeof g.want[0]);
				g.want[g.nwant++] = strtol(p, &endp, 10);
				p = endp + 1;
			}
		}
		rego_re_find_all(re, s, slen, -1, go_find_cmp, &g);
		assert_int_equal(g.at, g.nwant);
		/* The DFA and the Pike VM agree with Go on "is there a match". */
		if (rego_re_is_match(re, s, slen) != (g.nwant > 0) ||
		    rego_re_is_match_nfa(re, s, slen) != (g.nwant > 0))
			fail_msg("is_match /%.*s/ on \"%.*s\"", (int)plen, pat, (int)slen, s);

		char *out;
		size_t out_len;
		static const char tmpl[] = "<$1|${g1}|$0>";
		assert_int_equal(rego_re_replace_all(re, s, slen, tmpl, sizeof tmpl - 1, 0, &out, &out_len), 0);
		size_t rl = unhex(tok[3], len[3], repl_want, sizeof repl_want);
		if (out_len != rl || memcmp(out, repl_want, rl) != 0)
			fail_msg("replace /%.*s/ on \"%.*s\": got \"%s\", want \"%.*s\"", (int)plen, pat,
				 (int)slen, s, out, (int)rl, repl_want);
		free(out);

		struct go_split sp = {.s = s, .want = tok[4], .want_len = len[4]};
		int want_pieces = 0;
		if (!(len[4] == 4 && memcmp(tok[4], "none", 4) == 0)) {
			want_pieces = 1;
			for (size_t k = 0; k < len[4]; k++)
				want_pieces += tok[4][k] == ',';
		} else {
			sp.want_len = 0;
		}
		assert_int_equal(rego_re_split(re, s, slen, -1, go_split_cmp, &sp), want_pieces);
		assert_int_equal(sp.pieces, want_pieces);
		checked++;
	}
	rego_re_free(re);
	print_message("%d differential cases checked\n", checked);
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
		cmocka_unit_test(test_null_empty_inputs),
		cmocka_unit_test(test_go_differential),
		cmocka_unit_test(test_dfa_cache_overflow),
		cmocka_unit_test(test_dfa_matches_pike),
		cmocka_unit_test(test_threads_share_program),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
