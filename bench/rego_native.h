/* The bench policy's decision (bench/data/rego/policy.rego), written by
 * hand in C: the floor an interpreter is measured against. */
#ifndef ENCLAVE_BENCH_REGO_NATIVE_H
#define ENCLAVE_BENCH_REGO_NATIVE_H

#include <jansson.h>

int rego_native_init(void);
/* A new decision object {"allow", "reasons", ["obligations"]} for input. */
json_t *rego_native_decision(const json_t *input);

#endif
