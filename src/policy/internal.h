/* Shared by the files of src/policy/ (not part of the module's interface). */
#ifndef ENCLAVE_POLICY_INTERNAL_H
#define ENCLAVE_POLICY_INTERNAL_H

#include "policy/policy.h"

struct policy_file_owned {
    char *path;
    char *text; /* NUL-terminated copy; len excludes the NUL */
    size_t len;
};

struct policy_files {
    struct policy_file_owned *items;
    size_t n;
    size_t total;
};

/* lim with every limit left 0 set to its default (policy.h). */
void policy_limits_fill(struct policy_limits *out, const struct policy_limits *in);

/* Copies path and text into fl, checking the limits (lim must be filled in). */
int policy_files_add(struct policy_files *fl, const char *path, const char *text, size_t len,
                     const struct policy_limits *lim, struct error *err);
void policy_files_release(struct policy_files *fl);
/* Sorts fl, digests it, compiles it and runs its tests. fl stays the caller's. */
int policy_bundle_from_files(struct policy_files *fl, const char *origin,
                             const struct policy_limits *lim, struct policy_bundle **out,
                             struct error *err);

/* YAML (or JSON, a subset) to a jansson value: mappings with string keys,
 * sequences, scalars (plain ones resolved as null, booleans, numbers; quoted
 * ones stay strings). Aliases, tags other than the core ones, and more than
 * one document are refused; depth and node count are bounded. Exposed for
 * the fuzz harness and tests. */
int policy_yaml_to_json(const char *text, size_t len, json_t **out, struct error *err);

#endif
