/* Internal to src/rego: glob matching with OPA's glob.match semantics
 * (gobwas/glob): `*` any run of non-delimiters, `**` any run, `?` one
 * non-delimiter, `[abc]` `[a-z]` `[!x]` classes, `{a,b}` alternatives, `\`
 * escapes. Compiled to an automaton and simulated in time linear in the
 * input for a given pattern: no backtracking. */
#ifndef ENCLAVE_REGO_GLOB_H
#define ENCLAVE_REGO_GLOB_H

#include <stddef.h>

#include "rego/internal.h"

struct rego_glob;

/* Compile once, match many times. -1: invalid pattern. */
int rego_glob_compile(const char *pattern, size_t plen, const char *delims, size_t ndelims,
                      struct rego_glob **out);
/* 1 match, 0 no match, -1 out of memory. */
int rego_glob_exec(const struct rego_glob *g, const char *s, size_t slen);
void rego_glob_free(struct rego_glob *g);

/* 1 match, 0 no match, -1 invalid pattern. */
int rego_glob_match(const char *pattern, size_t plen, const char *delims, size_t ndelims,
                    const char *s, size_t slen);

#endif
