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

/* Text a peer chose (a workload's file name, a guest's error message), made
 * safe to print on a terminal: every control character (C0 and DEL) becomes
 * \xNN, a C1 control (U+0080-U+009F) \u00NN, a bidirectional formatting
 * character (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) \uNNNN, a
 * byte that is not part of valid UTF-8 \xNN, and a backslash \\, so that no
 * escape sequence reaches the terminal (clearing it, moving the cursor over
 * a line, retitling the window), no name is shown reordered to read as
 * another, and what was escaped cannot be confused with what was sent. All
 * other characters are kept. Returns a new string; NULL only when out of
 * memory. */
char *text_escape_terminal(const char *in);
/* The same into out[size], cut between characters (never inside one or
 * inside an escape) where it does not fit. size > 0. */
void text_escape_terminal_copy(char *out, size_t size, const char *in);

/* JSON text (one document, as jansson writes it) made safe to print on a
 * terminal and still JSON that parses to the same values: DEL, C1 controls
 * and the bidirectional formatting characters above, which JSON allows raw
 * inside strings, become \u007f, \u0080 ... \u202e; a byte that is not
 * UTF-8 becomes \ufffd. C0 controls are left alone: JSON allows them only
 * as escapes inside strings (jansson writes them so) and as whitespace
 * between tokens. Returns a new string; NULL only when out of memory. */
char *text_escape_json_terminal(const char *json);

/* The size of an RFC 3339 UTC time to the second ("2006-01-02T15:04:05Z"), with its NUL. */
#define RFC3339_SIZE 21
/* The current time in that form. */
void rfc3339_now(char out[RFC3339_SIZE]);

#endif
