/* libFuzzer: apt-cache stanzas, postinst update-alternatives lines, and the module resolver fed with the input as
 * modules.order and as every module's depends= list. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

static const char *fuzz_depends_text;

static int fuzz_depends(const char *path, char **depends, void *ctx, struct error *err)
{
    (void)path;
    (void)ctx;
    *depends = strdup(fuzz_depends_text);
    return *depends ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_deb *debs = NULL;
    size_t n = 0;
    struct error err;
    if (image_deb_parse_stanzas((const char *)data, size, &debs, &n, &err) == 0)
        image_deb_free_array(debs, n);
    /* the same bytes as a postinst with update-alternatives lines */
    struct image_alternative *alts = NULL;
    size_t na = 0;
    if (image_parse_alternatives((const char *)data, size, &alts, &na, &err) == 0) {
        for (size_t i = 0; i < na; i++)
            if (alts[i].link[0] != '/' || alts[i].path[0] != '/' || strstr(alts[i].path, "/../"))
                abort();
        image_alternatives_free(alts, na);
    }

    /* first line: the depends= list; the rest: modules.order */
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    const char *order = "";
    if (nl != NULL) {
        *nl = '\0';
        order = nl + 1;
    }
    fuzz_depends_text = text;
    const char *wanted[] = {"virtio_mmio", "a", "vsock"};
    struct image_kmod *mods = NULL;
    size_t nm = 0;
    if (image_kmod_resolve(order, "kernel/a.ko\n", wanted, 3, fuzz_depends, NULL, &mods, &nm, &err) == 0)
        image_kmod_free_array(mods, nm);
    free(text);
    return 0;
}
