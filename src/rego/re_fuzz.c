/* libFuzzer harness for the regular expression engine: compile a pattern
 * taken from the input, then search the rest of the input with every entry
 * point.  Beyond "no crash, no sanitizer report" it checks that the entry
 * points agree with each other, and that the search accelerations (literal
 * prefix, first-byte skip) change no answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rego/re.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static int check_match(void *ctx, const size_t *caps, size_t ncaps)
{
	size_t len = *(const size_t *)ctx;
	CHECK(ncaps >= 2);
	for (size_t i = 0; i + 1 < ncaps; i += 2) {
		if (caps[i] == SIZE_MAX) {
			CHECK(caps[i + 1] == SIZE_MAX);
			continue;
		}
		CHECK(caps[i] <= caps[i + 1] && caps[i + 1] <= len);
	}
	return 0;
}

static int check_piece(void *ctx, size_t start, size_t end)
{
	size_t len = *(const size_t *)ctx;
	CHECK(start <= end && end <= len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* First byte: pattern length (the rest of the input is the subject). */
	size_t plen = data[0];
	if (plen > size - 1)
		plen = size - 1;
	const char *pat = (const char *)data + 1;
	const char *s = pat + plen;
	size_t len = size - 1 - plen;

	struct rego_re *re;
	char err[REGO_RE_ERRLEN];
	if (rego_re_compile(pat, plen, &re, err, sizeof err) != 0) {
		CHECK(memchr(err, 0, sizeof err) != NULL);
		return 0;
	}

	size_t ncap = 2 * (rego_re_num_groups(re) + 1);
	size_t *caps = malloc(ncap * sizeof *caps);
	size_t *plain = malloc(ncap * sizeof *plain);
	CHECK(caps && plain);

	size_t ms, me;
	int found = rego_re_search(re, s, len, 0, &ms, &me);
	CHECK(found == 0 || found == 1);
	CHECK(rego_re_is_match(re, s, len) == found);
	CHECK(rego_re_is_match_nfa(re, s, len) == found);
	CHECK(rego_re_search_captures(re, s, len, 0, caps, ncap) == found);
	CHECK(rego_re_search_unaccelerated(re, s, len, 0, plain, ncap) == found);
	if (found) {
		CHECK(ms <= me && me <= len);
		CHECK(caps[0] == ms && caps[1] == me);
		CHECK(memcmp(caps, plain, ncap * sizeof *caps) == 0);
		check_match(&len, caps, ncap);
	}
	/* From a few later starting points too. */
	for (size_t start = 1; start <= len && start < 4; start++) {
		int a = rego_re_search_captures(re, s, len, start, caps, ncap);
		int b = rego_re_search_unaccelerated(re, s, len, start, plain, ncap);
		CHECK(a == b);
		if (a == 1)
			CHECK(memcmp(caps, plain, ncap * sizeof *caps) == 0 && caps[0] >= start);
	}

	CHECK(rego_re_find_all(re, s, len, 64, check_match, &len) >= 0);
	CHECK(rego_re_split(re, s, len, 64, check_piece, &len) >= 0);
	char *out;
	size_t out_len;
	static const char repl[] = "<$0|$1|${name}|$$>";
	if (rego_re_replace_all(re, s, len, repl, sizeof repl - 1, 1 << 20, &out, &out_len) == 0) {
		CHECK(strlen(out) <= out_len);
		free(out);
	}
	free(caps);
	free(plain);
	rego_re_free(re);
	return 0;
}
