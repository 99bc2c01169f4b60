/* Regular expressions with Go's regexp (RE2) syntax and semantics.
 *
 * Patterns compile to a small instruction program that is run by a Pike VM
 * (a Thompson NFA simulation that carries capture positions), so a search
 * costs O(pattern size x input size) whatever the pattern: there is no
 * backtracking, and hostile patterns such as (a*)*b cannot blow up.
 *
 * Matching is leftmost-first (Perl and Go semantics).  Input is UTF-8 and is
 * matched rune by rune; an invalid byte reads as U+FFFD, one byte wide, as in
 * Go.  All positions are byte offsets into the subject.
 *
 * Ownership: rego_re_compile returns a program the caller frees with
 * rego_re_free.  Any number of threads may search with one program at
 * once: the program is immutable but for a DFA cache behind a mutex that a
 * search only try-locks (when it is busy the search runs without it).
 * Strings returned through an out parameter (rego_re_replace_all) are
 * malloc'd and belong to the caller.
 *
 * This library depends on libc only.
 */
#ifndef ENCLAVE_REGO_RE_H
#define ENCLAVE_REGO_RE_H

#include <stddef.h>
#include <stdint.h>

struct rego_re;

/* Limits, as in Go: a repetition count, and the product of nested counts,
 * is at most 1000; a pattern nests at most 1000 deep.  The compiled program
 * is limited too, so a pattern that would expand too far is an error
 * ("expression too large"), never an allocation failure. */
#define REGO_RE_MAX_REPEAT 1000
#define REGO_RE_MAX_DEPTH 1000
#define REGO_RE_MAX_INSTS 100000

/* A buffer of this size always holds a compile error message whole, apart
 * from the quoted part of the pattern, which is cut to fit. */
#define REGO_RE_ERRLEN 256

/* Compiles pattern[0..len) (Go syntax, Perl flags).  Returns 0 and sets *out,
 * or returns -1 and writes Go's message to errbuf (NUL-terminated, cut to
 * errlen), e.g. "error parsing regexp: missing closing ): `(a`".  errbuf may
 * be NULL when errlen is 0.  Out of memory is -1 with "out of memory". */
int rego_re_compile(const char *pattern, size_t len, struct rego_re **out, char *errbuf,
		    size_t errlen);

void rego_re_free(struct rego_re *re);

/* Number of capturing groups, not counting the whole match (Go's NumSubexp). */
size_t rego_re_num_groups(const struct rego_re *re);

/* Name of group i (1..num_groups), "" for an unnamed group, NULL when i is
 * out of range.  Group 0 (the whole match) is "". */
const char *rego_re_group_name(const struct rego_re *re, size_t i);

/* Index of the first group called name, or -1. */
long rego_re_group_index(const struct rego_re *re, const char *name, size_t name_len);

/* Finds the leftmost-first match in s[0..len) that begins at or after start.
 * The text before start is context (for ^, \b and the like) exactly as in
 * Go, where start is where a FindAll loop resumes.  Returns 1 and sets the
 * span, 0 when there is none (or start > len), -1 when memory runs out. */
int rego_re_search(const struct rego_re *re, const char *s, size_t len, size_t start,
		   size_t *match_start, size_t *match_end);

/* 1 when the pattern matches anywhere in s[0..len), 0 when not, -1 when
 * memory runs out.  Cheaper than rego_re_search: it stops at the first
 * match it meets, whatever its span (OPA's regex.match), and most patterns
 * run on a lazily built DFA cached in the program (see re.c). */
int rego_re_is_match(const struct rego_re *re, const char *s, size_t len);

/* As rego_re_search, filling caps with ncaps values: caps[2*i] and
 * caps[2*i+1] are the span of group i (group 0 is the whole match), SIZE_MAX
 * for a group that did not take part.  ncaps counts values, not groups; the
 * full set needs 2 * (rego_re_num_groups(re) + 1).  Values past what the
 * pattern has are set to SIZE_MAX.  Returns 1, 0 or -1 as rego_re_search. */
int rego_re_search_captures(const struct rego_re *re, const char *s, size_t len, size_t start,
			    size_t *caps, size_t ncaps);

/* Go's FindAll...SubmatchIndex loop: successive non-overlapping matches, an
 * empty match right after the previous match is skipped, and the scan moves
 * one rune after an empty match.  fn is called once per match with caps as
 * in rego_re_search_captures (ncaps = 2 * (num_groups + 1)); it returns 0
 * to go on, anything else to stop.  max < 0 means no limit.
 * Returns the number of matches delivered, or -1 when memory runs out. */
typedef int (*rego_re_match_fn)(void *ctx, const size_t *caps, size_t ncaps);
long rego_re_find_all(const struct rego_re *re, const char *s, size_t len, long max,
		      rego_re_match_fn fn, void *ctx);

/* Go's ReplaceAllString: every match is replaced by repl, in which $1, $name,
 * ${1} and ${name} stand for the groups (Go's Expand rules: a name is the
 * longest run of letters, digits and '_', an unknown group is empty, and $$
 * is a '$').  *out is malloc'd and NUL-terminated, *out_len excludes the NUL.
 * Returns 0, or -1 when memory runs out or the result would exceed max_out
 * bytes (0 means no limit). */
int rego_re_replace_all(const struct rego_re *re, const char *s, size_t len, const char *repl,
			size_t repl_len, size_t max_out, char **out, size_t *out_len);

/* Go's Split(s, n): calls fn with each piece's [start, end) in order; n as
 * in Go (n < 0: all pieces, n == 0: none, n > 0: at most n pieces).
 * Returns the number of pieces, or -1 when memory runs out. */
typedef int (*rego_re_piece_fn)(void *ctx, size_t start, size_t end);
long rego_re_split(const struct rego_re *re, const char *s, size_t len, long n,
		   rego_re_piece_fn fn, void *ctx);

/* The pattern as given to rego_re_compile (not NUL-terminated inside). */
const char *rego_re_pattern(const struct rego_re *re, size_t *len);

#ifdef ENCLAVE_TESTING
/* For tests: the search without the literal-prefix and first-byte skips,
 * to check that they change nothing.  ncaps must be 2 * (num_groups + 1). */
int rego_re_search_unaccelerated(const struct rego_re *re, const char *s, size_t len, size_t start,
				 size_t *caps, size_t ncaps);
/* For tests: rego_re_is_match on the Pike VM alone, without the DFA. */
int rego_re_is_match_nfa(const struct rego_re *re, const char *s, size_t len);
#endif

#endif
