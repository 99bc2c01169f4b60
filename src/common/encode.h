/* Hex and base64 (on OpenSSL and libsodium, already linked). */
#ifndef ENCLAVE_COMMON_ENCODE_H
#define ENCLAVE_COMMON_ENCODE_H

#include <stdbool.h>
#include <stddef.h>

/* Lowercase hex of len bytes into out, which has room for 2 * len + 1. */
void encode_hex(const void *in, size_t len, char *out);
/* Decodes exactly 2 * len lowercase hex digits of text into out (len bytes).
 * false when text has any other character in those places. */
bool decode_hex(const char *text, unsigned char *out, size_t len);

/* The size of the standard, padded base64 of n bytes, with its NUL. */
#define ENCODE_BASE64_SIZE(n) (4 * (((size_t)(n) + 2) / 3) + 1)

/* Standard base64 with padding into out (ENCODE_BASE64_SIZE(len) bytes);
 * returns the length written, without the NUL. */
size_t encode_base64_to(const void *in, size_t len, char *out);
/* The same in a new buffer; NULL only when out of memory. */
char *encode_base64(const void *in, size_t len);

/* Strict standard base64 (padding required, unused bits zero: one spelling
 * per value) of text (n characters) into a new buffer with a NUL after the
 * bytes; -1 on any other input or when out of memory. */
int decode_base64(const char *text, size_t n, unsigned char **out, size_t *out_len);
/* Strict standard base64 that must decode to exactly want bytes, into out. */
bool decode_base64_exact(const char *text, size_t n, unsigned char *out, size_t want);
/* Lenient base64 as protobuf's JSON mapping reads bytes: the standard or the
 * URL-safe alphabet, padding optional (but complete when present), unused
 * bits ignored. Into a new buffer with a NUL after the bytes; -1 otherwise. */
int decode_base64_lenient(const char *text, size_t n, unsigned char **out, size_t *out_len);

#endif
