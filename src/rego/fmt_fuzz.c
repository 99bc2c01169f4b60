/* libFuzzer harness for the formatter: whatever parses must format (a
 * failure here is a bug: rego_format refuses rather than change a
 * module), the result must parse to the same tree (a dump without
 * positions) with the same comments, and formatting it again must change
 * nothing. Input that does not parse must fail cleanly, with a position. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/fmt.h"
#include "rego/rego.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    const char *text = (const char *)data;
    struct rego_error err;
    char *dump = NULL;
    int parses = rego_module_dump("f.rego", text, size, &dump, &err) == 0;
    char *out = NULL;
    size_t outlen = 0;
    int rc = rego_format("f.rego", text, size, &out, &outlen, &err);
    if (!parses) {
        if (rc == 0)
            abort();   /* formatted what does not parse */
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "fmt failed on a module that parses: %s: %s\n", err.code, err.message);
        abort();
    }
    char *dump2 = NULL;
    if (rego_module_dump("f.rego", out, outlen, &dump2, &err) < 0 || strcmp(dump, dump2) != 0)
        abort();
    char *again = NULL;
    size_t againlen = 0;
    if (rego_format("f.rego", out, outlen, &again, &againlen, &err) < 0 || againlen != outlen ||
        memcmp(again, out, outlen) != 0) {
        fprintf(stderr, "not idempotent:\n%s\n---\n%s\n", out, again ? again : err.message);
        abort();
    }
    free(again);
    free(dump2);
    free(out);
    free(dump);
    return 0;
}
