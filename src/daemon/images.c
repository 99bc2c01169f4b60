/* Image variants for StartSession: a request that names an image boots that
 * variant's kernel and initramfs (cache/named/<name>, built with `enclave
 * image build --name`), checked against its manifest first. */
#include <string.h>

#include "daemon/internal.h"
#include "image/image.h"

int daemon_image_for_start(const char *name, struct core_start_request *sr, struct image_manifest **hold,
                           struct error *err)
{
    *hold = NULL;
    sr->image = name ? name : "";
    if (name == NULL || name[0] == '\0')
        return 0; /* the daemon's own image */
    if (!image_name_valid(name))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "image must be 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'");
    struct image_manifest *m = NULL;
    if (image_manifest_load_named(name, &m, err) < 0)
        return -1;
    const struct image_artifact *kernel = image_manifest_artifact(m, "kernel");
    const struct image_artifact *initrd = image_manifest_artifact(m, "initramfs");
    if (kernel == NULL || initrd == NULL || kernel->abs_path == NULL || initrd->abs_path == NULL) {
        image_manifest_free(m);
        return error_set(err, ERR_FAILED_PRECONDITION, "image %s lacks a kernel or an initramfs", name);
    }
    if (m->guest_protocol != IMAGE_GUEST_PROTOCOL) {
        image_manifest_free(m);
        return error_set(err, ERR_FAILED_PRECONDITION, "image %s speaks guest protocol %d, this daemon %d", name,
                         m->guest_protocol, IMAGE_GUEST_PROTOCOL);
    }
    if (image_manifest_verify(m, err) < 0) {
        image_manifest_free(m);
        return error_prefix(err, "image %s does not match its manifest (rebuild it)", name);
    }
    sr->kernel = kernel->abs_path;
    sr->initrd = initrd->abs_path;
    const struct image_artifact *rootfs = image_manifest_artifact(m, "rootfs");
    sr->rootfs = rootfs ? rootfs->abs_path : NULL;
    *hold = m;
    return 0;
}
