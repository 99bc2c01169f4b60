/* Internal to src/rego: Unicode data (src/rego/unicode_tables.c, generated
 * by tools/gen-unicode-tables.pl) and the rune operations built on it, with
 * Go's semantics (package unicode and unicode/utf8). */
#ifndef ENCLAVE_REGO_UNICODE_H
#define ENCLAVE_REGO_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "rego/internal.h"

struct uni_table {
	const char *name;
	uint32_t offset;
	uint32_t count;
};

/* Sorted ranges {lo, hi} of each category or script, uni_tables[i] naming
 * uni_ranges[offset .. offset + count). */
extern const uint32_t uni_ranges[][2];
extern const size_t uni_ranges_count;
extern const struct uni_table uni_tables[];
extern const size_t uni_tables_count;
/* {rune, next rune in its simple case folding orbit}, sorted. */
extern const uint32_t fold_orbit[][2];
extern const size_t fold_orbit_count;
/* {rune, its simple upper / lower case mapping}, sorted; runes not listed
 * map to themselves. */
extern const uint32_t uni_upper[][2];
extern const size_t uni_upper_count;
extern const uint32_t uni_lower[][2];
extern const size_t uni_lower_count;
/* White_Space ranges (Go's unicode.IsSpace). */
extern const uint32_t uni_space[][2];
extern const size_t uni_space_count;

#define UNI_RUNE_ERROR 0xFFFDu

/* Go's utf8.DecodeRune: the rune at s (n > 0 bytes) and its width; invalid
 * or truncated encodings, surrogates and values past U+10FFFF decode to
 * (UNI_RUNE_ERROR, 1). */
uint32_t uni_decode(const char *s, size_t n, size_t *width);
/* Go's utf8.EncodeRune (invalid runes encode U+FFFD); returns the width. */
size_t uni_encode(uint32_t r, char out[4]);
uint32_t uni_to_upper(uint32_t r);
uint32_t uni_to_lower(uint32_t r);
/* The next rune in r's simple case folding orbit (r itself when it has
 * none). */
uint32_t uni_simple_fold(uint32_t r);
/* The index of the first entry of the sorted table t (n entries keyed by
 * their first rune) whose key is at least r; n when there is none. */
size_t uni_lower_bound(const uint32_t (*t)[2], size_t n, uint32_t r);
int uni_is_space(uint32_t r);
/* Number of runes in s as Go counts them (utf8.RuneCountInString). */
size_t uni_rune_count(const char *s, size_t n);

#endif
