/* libFuzzer: manifest.json parsing must refuse or accept, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "image/image.h"

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
            if (p[0] == '/' || strstr(p, "..") == p || strstr(p, "/../") || strlen(m->artifacts[i].sha256) != 64)
                __builtin_trap();
        }
        if (strlen(m->kernel_cmdline) > IMAGE_MAX_CMDLINE)
            __builtin_trap();
        image_manifest_free(m);
    }
    return 0;
}
