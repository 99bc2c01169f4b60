/* `enclave image build` and `enclave image status`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/paths.h"
#include "image/image.h"

static void build_help(FILE *out)
{
    fprintf(out,
            "usage: enclave image build [--force] [--package NAME]... [--name VARIANT] [--initramfs-only]\n"
            "                           [--quiet]\n"
            "\n"
            "Assembles the guest image VMs boot, from Debian packages, without root:\n"
            "  - the kernel of %s (the versioned package it depends on)\n"
            "  - the kernel modules enclave-init loads (virtio_mmio, virtio_pci, virtio_console,\n"
            "    vsock, vmw_vsock_virtio_transport, virtio_rng, qemu_fw_cfg, virtio_blk, erofs,\n"
            "    virtio_balloon and their dependencies), with a load-order file\n"
            "  - enclave-init, carried inside this binary, as /init\n"
            "  - a root filesystem with python3 (python3-minimal, libpython3-stdlib and what\n"
            "    they depend on), unpacked with dpkg-deb; no maintainer script runs\n"
            "into $ENCLAVE_HOME/cache/images/<id>/ (kernel; rootfs.erofs, the root filesystem\n"
            "as a read-only erofs image made with mkfs.erofs, which every VM of the image\n"
            "shares as a read-only disk; initramfs.cpio with only enclave-init and the\n"
            "modules; manifest.json with the sha256 of each) and points\n"
            "$ENCLAVE_HOME/cache/current at it.\n"
            "Downloaded packages stay in $ENCLAVE_HOME/cache/build/debs and are re-used. When the\n"
            "current image was built from the same packages, enclave-init and builder and its\n"
            "files still match, nothing is done.\n"
            "Needs apt-get, apt-cache, dpkg-deb and mkfs.erofs (erofs-utils), and access to the\n"
            "host's package archive.\n"
            "\n"
            "options:\n"
            "  -f, --force          rebuild even when nothing changed\n"
            "  -p, --package NAME   also put Debian package NAME (and its dependencies) into\n"
            "                       the root filesystem; may be repeated\n"
            "  -n, --name VARIANT   build an image variant: cache/named/VARIANT points at it and\n"
            "                       current stays as it is; sessions choose it with\n"
            "                       'enclave session start --image VARIANT' (1-64 of\n"
            "                       [A-Za-z0-9._-]); images are kept while a name points at them\n"
            "  --initramfs-only     no rootfs.erofs: the whole root filesystem goes into\n"
            "                       initramfs.cpio, which every VM copies and unpacks at boot\n"
            "                       (the layout of images built before the shared root; no\n"
            "                       mkfs.erofs needed)\n"
            "  -q, --quiet          print only errors and the final line\n"
            "  -h, --help           show this help\n"
            "\n"
            "$ENCLAVE_HOME defaults to ~/.enclave. The kernel command line the image needs is\n"
            "in manifest.json.\n",
            "linux-image-cloud-amd64");
}

int cli_image_build(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"package", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"name", required_argument, NULL, 'n'},
        {"initramfs-only", no_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct image_build_options opts = {.progress = stderr};
    const char **extra = calloc((size_t)argc + 1, sizeof(*extra));
    if (extra == NULL) {
        fprintf(stderr, "enclave image build: out of memory\n");
        return 1;
    }
    size_t n_extra = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fp:n:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!image_name_valid(optarg)) {
                free(extra);
                return cli_usage_error("image build", "--name takes 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'");
            }
            opts.name = optarg;
            break;
        case 'f':
            opts.force = true;
            break;
        case 'I':
            opts.initramfs_only = true;
            break;
        case 'p':
            extra[n_extra++] = optarg;
            break;
        case 'q':
            opts.progress = NULL;
            break;
        case 'h':
            build_help(stdout);
            free(extra);
            return 0;
        default:
            free(extra);
            return cli_usage_error("image build", "bad option");
        }
    }
    if (optind < argc) {
        free(extra);
        return cli_usage_error("image build", "unexpected argument '%s'", argv[optind]);
    }
    opts.extra_packages = extra;
    opts.n_extra_packages = n_extra;
    struct image_build_result result;
    struct error err = {0};
    int rc = image_build(&opts, &result, &err);
    free(extra);
    if (rc < 0) {
        fprintf(stderr, "enclave image build: %s\n", err.message);
        return 1;
    }
    printf("%s %s\n", result.rebuilt ? "built" : "up to date:", result.dir);
    return 0;
}

/* One line per image: the current one, then each variant. */
static void list_images(void)
{
    char **names = NULL;
    size_t n = 0;
    struct error err = {0};
    if (image_cache_list_named(&names, &n, &err) < 0)
        fprintf(stderr, "enclave image status: %s\n", err.message);
    printf("%-20s %-24s %8s  %s\n", "IMAGE", "ID", "PACKAGES", "CREATED");
    for (size_t i = 0; i <= n; i++) {
        const char *label = i == 0 ? "(current)" : names[i - 1];
        struct image_manifest *m = NULL;
        struct error e = {0};
        if (image_manifest_load_named(i == 0 ? NULL : names[i - 1], &m, &e) < 0) {
            printf("%-20s %s\n", label, e.message);
            continue;
        }
        const char *slash = strrchr(m->dir, '/');
        printf("%-20s %-24s %8zu  %s\n", label, slash ? slash + 1 : m->dir, m->n_packages, m->created);
        image_manifest_free(m);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    printf("\n");
}

static void status_help(FILE *out)
{
    fprintf(out,
            "usage: enclave image status [--no-verify] [--name VARIANT]\n"
            "\n"
            "Lists every image (the current one and each variant built with --name), then\n"
            "details of the image $ENCLAVE_HOME/cache/current (or --name VARIANT) points at: source, creation time,\n"
            "kernel command line, and for each file its role, path, size and sha256, re-hashed\n"
            "to say whether it still matches manifest.json.\n"
            "Exits 0 when every file matches, 1 when one does not or there is no image\n"
            "(build one with 'enclave image build').\n"
            "\n"
            "options:\n"
            "  --no-verify   do not re-hash the files (sizes and digests from the manifest)\n"
            "  --name VARIANT  details of that variant instead of the current image\n"
            "  -h, --help    show this help\n");
}

int cli_image_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"no-verify", no_argument, NULL, 'n'},
        {"name", required_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool verify = true;
    const char *name = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            verify = false;
            break;
        case 'N':
            name = optarg;
            break;
        case 'h':
            status_help(stdout);
            return 0;
        default:
            return cli_usage_error("image status", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage_error("image status", "unexpected argument '%s'", argv[optind]);

    struct error err = {0};
    struct image_manifest *m = NULL;
    list_images();
    if (image_manifest_load_named(name, &m, &err) < 0) {
        fprintf(stderr, "enclave image status: %s\n", err.message);
        if (err.kind != ERR_NOT_FOUND)
            fprintf(stderr, "enclave image status: rebuild it with 'enclave image build --force'\n");
        return 1;
    }
    printf("image:    %s\n", m->dir);
    printf("source:   %s\n", m->source);
    printf("created:  %s\n", m->created);
    printf("arch:     %s   guest protocol: %d\n", m->arch, m->guest_protocol);
    printf("cmdline:  %s\n", m->kernel_cmdline);
    printf("packages: %zu\n", m->n_packages);
    printf("\n%-10s %-16s %12s  %-64s  %s\n", "ROLE", "PATH", "SIZE", "SHA256", "STATUS");
    int bad = 0;
    for (size_t i = 0; i < m->n_artifacts; i++) {
        const struct image_artifact *a = &m->artifacts[i];
        const char *state = "not checked";
        char detail[1100] = "";
        if (verify) {
            struct error e = {0};
            if (image_artifact_verify(m, a, NULL, NULL, &e) == 0) {
                state = "ok";
            } else {
                state = e.kind == ERR_DATA_LOSS ? "MISMATCH" : "MISSING";
                snprintf(detail, sizeof(detail), " (%s)", e.message);
                bad++;
            }
        }
        printf("%-10s %-16s %12llu  %-64s  %s%s\n", a->role, a->path, (unsigned long long)a->size, a->sha256, state,
               detail);
    }
    image_manifest_free(m);
    if (bad) {
        fprintf(stderr, "enclave image status: %d file%s do%s not match the manifest; rebuild with "
                        "'enclave image build --force'\n",
                bad, bad == 1 ? "" : "s", bad == 1 ? "es" : "");
        return 1;
    }
    return 0;
}
