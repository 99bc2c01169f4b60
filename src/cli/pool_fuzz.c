/* libFuzzer: the --pool value parser (args_parse_pool) on arbitrary text.
 * What it accepts must be a pool the daemon can use: a size of at most 64,
 * an image name of 1-64 characters of [A-Za-z0-9._-] or none, vCPUs 1-16 and
 * memory 128-16384 MiB when given, both or neither. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser reads a C string: what follows a NUL byte never reaches it. */
    char *s = strndup((const char *)data, size);
    if (s == NULL)
        return 0;
    struct daemon_pool p;
    struct error err;
    memset(&p, 0xA5, sizeof(p));
    if (args_parse_pool(s, &p, &err) == 0) {
        if (p.size > 64 || strlen(p.image) > 64 || (p.vcpus == 0) != (p.mem_mb == 0) ||
            (p.vcpus && (p.vcpus > 16 || p.mem_mb < 128 || p.mem_mb > 16384)))
            abort();
        for (const char *c = p.image; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c))
                abort();
    } else if (err.message[0] == '\0') {
        abort();
    }
    free(s);
    return 0;
}
