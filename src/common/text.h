/* Small text helpers. */
#ifndef ENCLAVE_COMMON_TEXT_H
#define ENCLAVE_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Returns a new NUL-terminated copy of data in which every byte sequence that
 * is not valid UTF-8 (and every NUL) is replaced by U+FFFD, so that it can
 * travel in a protobuf string or JSON. NULL only when out of memory. */
char *text_utf8_sanitize(const uint8_t *data, size_t len);
/* Copies the NUL-terminated in into out[size] as text_utf8_sanitize would,
 * cut at a character boundary where it does not fit (never inside one), so
 * that what a peer sends stays valid UTF-8 in a fixed buffer. size > 0. */
void text_utf8_copy(char *out, size_t size, const char *in);

/* The size of an RFC 3339 UTC time to the second ("2006-01-02T15:04:05Z"), with its NUL. */
#define RFC3339_SIZE 21
/* The current time in that form. */
void rfc3339_now(char out[RFC3339_SIZE]);

#endif
