/* libFuzzer: manifest.json parsing must refuse or accept, never crash or leak. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "image/image.h"

/* Not absolute, and no component empty, "." or "..": a name that only
 * starts with two dots ("..vmlinuz") stays inside the image. */
static bool plain_relative(const char *p)
{
    if (p[0] == '\0' || p[0] == '/')
        return false;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_manifest *m = NULL;
    struct error err;
    if (image_manifest_parse((const char *)data, size, "/images/fuzz", &m, &err) == 0) {
        /* whatever was accepted must hold what the parser promises */
        const struct image_artifact *k = image_manifest_artifact(m, "kernel");
        if (k == NULL || image_manifest_artifact(m, "initramfs") == NULL)
            __builtin_trap();
        for (size_t i = 0; i < m->n_artifacts; i++) {
            const char *p = m->artifacts[i].path;
            if (!plain_relative(p) || strlen(m->artifacts[i].sha256) != 64)
                __builtin_trap();
        }
        if (strlen(m->kernel_cmdline) > IMAGE_MAX_CMDLINE)
            __builtin_trap();
        image_manifest_free(m);
    }
    return 0;
}
