/* Internal to src/rego: what the formatter's tests and fuzz harness compare
 * (rego_format itself is in rego.h). */
#ifndef ENCLAVE_REGO_FMT_H
#define ENCLAVE_REGO_FMT_H

#include <stddef.h>

#include "rego/rego.h"

/* Parse a module and print its tree without source positions (variables,
 * values, operators as calls, bodies, else chains), so that two texts of
 * the same module print the same. *out is malloc'd. */
int rego_module_dump(const char *file, const char *text, size_t len, char **out,
                     struct rego_error *err);

#endif
