/* Rune operations with Go's semantics; the tables are generated (see
 * unicode.h). */
#include "rego/unicode.h"

#include <stdbool.h>

uint32_t uni_decode(const char *str, size_t n, size_t *width)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	*width = 1;
	if (c < 0x80)
		return c;
	size_t need;
	uint32_t r, min;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2; r = c & 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3; r = c & 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4; r = c & 0x07; min = 0x10000;
	} else {
		return UNI_RUNE_ERROR;
	}
	if (n < need)
		return UNI_RUNE_ERROR;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return UNI_RUNE_ERROR;
		r = (r << 6) | (s[i] & 0x3F);
	}
	if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		return UNI_RUNE_ERROR;
	*width = need;
	return r;
}

size_t uni_encode(uint32_t r, char out[4])
{
	if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = UNI_RUNE_ERROR;
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xC0 | (r >> 6));
		out[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xE0 | (r >> 12));
		out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		out[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (r >> 18));
	out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	out[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

size_t uni_lower_bound(const uint32_t (*t)[2], size_t n, uint32_t r)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid][0] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t map_rune(const uint32_t (*t)[2], size_t n, uint32_t r)
{
	size_t i = uni_lower_bound(t, n, r);
	return i < n && t[i][0] == r ? t[i][1] : r;
}

uint32_t uni_to_upper(uint32_t r)
{
	if (r < 0x80)
		return r >= 'a' && r <= 'z' ? r - 32 : r;
	return map_rune(uni_upper, uni_upper_count, r);
}

uint32_t uni_simple_fold(uint32_t r)
{
	return map_rune(fold_orbit, fold_orbit_count, r);
}

uint32_t uni_to_lower(uint32_t r)
{
	if (r < 0x80)
		return r >= 'A' && r <= 'Z' ? r + 32 : r;
	return map_rune(uni_lower, uni_lower_count, r);
}

int uni_is_space(uint32_t r)
{
	if (r < 0x100)
		return r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xA0;
	for (size_t i = 0; i < uni_space_count; i++)
		if (r >= uni_space[i][0] && r <= uni_space[i][1])
			return 1;
	return 0;
}

size_t uni_rune_count(const char *s, size_t n)
{
	size_t c = 0, w;
	for (size_t i = 0; i < n; i += w) {
		if ((unsigned char)s[i] < 0x80)
			w = 1;
		else
			uni_decode(s + i, n - i, &w);
		c++;
	}
	return c;
}
