/* make bench-re: throughput of the regular expression engine, in MB/s of
 * subject scanned, for a few patterns typical of policies.  Prints numbers;
 * asserts nothing about them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rego/re.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Text that looks like logs and paths, with no match for the needles at the end. */
static char *make_text(size_t n)
{
	static const char *const words[] = {
		"GET",     "/usr/lib/python3", "request", "user",     "exec",   "allowed",
		"10.0.0.1", "session",         "policy",  "token=ab", "denied", "path",
		"\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "2024-01-01T00:00:00Z", "\n",
	};
	char *s = malloc(n + 1);
	if (!s)
		exit(1);
	size_t at = 0;
	uint32_t x = 12345;
	while (at < n) {
		x = x * 1103515245 + 12345;
		const char *w = words[(x >> 16) % (sizeof words / sizeof words[0])];
		size_t wl = strlen(w);
		if (at + wl + 1 > n)
			break;
		memcpy(s + at, w, wl);
		at += wl;
		s[at++] = ' ';
	}
	memset(s + at, ' ', n - at);
	s[n] = 0;
	return s;
}

static void run(const char *label, const char *pat, const char *text, size_t len, int mode)
{
	struct rego_re *re;
	char err[REGO_RE_ERRLEN];
	if (rego_re_compile(pat, strlen(pat), &re, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	size_t caps[32];
	size_t ncap = 2 * (rego_re_num_groups(re) + 1);
	if (ncap > 32)
		ncap = 32;
	double t0 = now(), t;
	size_t bytes = 0;
	int iters = 0;
	long found = 0;
	do {
		switch (mode) {
		case 0: {
			size_t ms, me;
			found += rego_re_search(re, text, len, 0, &ms, &me);
			break;
		}
		case 1:
			found += rego_re_is_match(re, text, len);
			break;
		case 2:
			found += rego_re_search_captures(re, text, len, 0, caps, ncap);
			break;
		case 3:
			found += rego_re_find_all(re, text, len, -1, NULL, NULL);
			break;
		}
		bytes += len;
		iters++;
		t = now();
	} while (t - t0 < 0.5 && iters < 100000);
	static const char *const modes[] = {"search", "is_match", "captures", "find_all"};
	printf("%-34s %-9s %9.1f MB/s  (%ld found in %d runs of %zu bytes)\n", label, modes[mode],
	       (double)bytes / (t - t0) / 1e6, found, iters, len);
	rego_re_free(re);
}

/* Many calls on a short subject, as a policy makes them: calls per second. */
static void run_short(const char *label, const char *pat, const char *subject, int mode)
{
	struct rego_re *re;
	char err[REGO_RE_ERRLEN];
	if (rego_re_compile(pat, strlen(pat), &re, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	size_t len = strlen(subject), caps[32];
	size_t ncap = 2 * (rego_re_num_groups(re) + 1);
	if (ncap > 32)
		ncap = 32;
	double t0 = now(), t;
	long calls = 0, found = 0;
	do {
		for (int i = 0; i < 1000; i++) {
			if (mode == 1)
				found += rego_re_is_match(re, subject, len);
			else
				found += rego_re_search_captures(re, subject, len, 0, caps, ncap);
		}
		calls += 1000;
		t = now();
	} while (t - t0 < 0.3);
	printf("%-34s %-9s %9.2f M calls/s  (%zu-byte subject, %ld found)\n", label,
	       mode == 1 ? "is_match" : "captures", (double)calls / (t - t0) / 1e6, len, found);
	rego_re_free(re);
}

int main(void)
{
	size_t big = 4 << 20, small = 64 << 10;
	char *text = make_text(big);
	printf("regular expressions (Pike VM; lazy DFA for is_match and as a search prefilter), %zu-byte subject unless noted\n", big);
	run("literal, absent", "needle", text, big, 0);
	run("literal alternation, absent", "needle|haystack|straw", text, big, 0);
	run("(?i) literal, absent", "(?i)needle", text, big, 0);
	run("class run, absent", "[0-9]{5}", text, big, 0);
	run("anchored prefix", "^GET|^POST", text, big, 1);
	run("unanchored .*, absent", ".*needle$", text, small, 0);
	run("word boundary, absent", "\\bneedle\\b", text, big, 0);
	run("email-like captures, absent", "(\\w+)@(\\w+)\\.com", text, small, 2);
	run("\\pL+ find_all", "\\pL+", text, small, 3);
	run("path glob-ish find_all", "/usr/(lib|bin)/[a-z0-9]+", text, small, 3);
	run_short("short: exec allowlist", "^/usr/(lib|bin)/[a-z0-9]+$", "/usr/bin/python3", 1);
	run_short("short: exec allowlist", "^/usr/(lib|bin)/[a-z0-9]+$", "/usr/bin/python3", 2);
	run_short("short: (?i) host suffix", "(?i)\\.example\\.com$", "api.EXAMPLE.com", 1);
	run_short("short: semver", "^v?(\\d+)\\.(\\d+)\\.(\\d+)(-[0-9A-Za-z.-]+)?$", "v1.22.333-rc.1", 2);
	char *as = malloc(small + 1);
	if (!as)
		return 1;
	memset(as, 'a', small);
	as[small] = 0;
	run("hostile (a*)*b on a^65536", "(a*)*b", as, small, 0);
	run("hostile (x+x+)+y on a^65536", "(a+a+)+y", as, small, 0);
	free(as);
	free(text);
	return 0;
}
