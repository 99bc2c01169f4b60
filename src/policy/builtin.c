/* The Agentic Constitution (the policy/ folder), built into the binary so
 * that `enclave up` needs no files besides itself. The Makefile writes
 * policy/builtin_files.h: one POLICY_BUILTIN_FILE(index, "relative path",
 * "absolute path") line per bundle file, in path order; each file's bytes
 * are pulled in with the assembler's .incbin. */
#include <pthread.h>

#include "policy/policy.h"

#include "policy/builtin_files.h" /* generated, under build/gen */

#define EMBED(n, rel, abs)                                                            \
    __asm__(".pushsection .rodata\n"                                                \
            ".global enclave_policy_file_" #n "\n"                                  \
            ".hidden enclave_policy_file_" #n "\n"                                  \
            "enclave_policy_file_" #n ":\n"                                         \
            ".incbin \"" abs "\"\n"                                                 \
            ".global enclave_policy_file_" #n "_end\n"                              \
            ".hidden enclave_policy_file_" #n "_end\n"                              \
            "enclave_policy_file_" #n "_end:\n"                                     \
            ".byte 0\n"                                                             \
            ".popsection\n");
#define POLICY_BUILTIN_FILE EMBED
POLICY_BUILTIN_FILES
#undef POLICY_BUILTIN_FILE

#define DECLARE(n, rel, abs) extern const char enclave_policy_file_##n[], enclave_policy_file_##n##_end[];
#define POLICY_BUILTIN_FILE DECLARE
POLICY_BUILTIN_FILES
#undef POLICY_BUILTIN_FILE

static struct policy_file files[] = {
#define ENTRY(n, rel, abs) {rel, enclave_policy_file_##n, 0},
#define POLICY_BUILTIN_FILE ENTRY
    POLICY_BUILTIN_FILES
#undef POLICY_BUILTIN_FILE
};

static const char *const ends[] = {
#define END(n, rel, abs) enclave_policy_file_##n##_end,
#define POLICY_BUILTIN_FILE END
    POLICY_BUILTIN_FILES
#undef POLICY_BUILTIN_FILE
};

static pthread_once_t sizes_once = PTHREAD_ONCE_INIT;

static void fill_sizes(void)
{
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        files[i].len = (size_t)(ends[i] - files[i].text);
}

const struct policy_file *policy_builtin_files(size_t *n)
{
    pthread_once(&sizes_once, fill_sizes);
    *n = sizeof(files) / sizeof(files[0]);
    return files;
}
