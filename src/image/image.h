/* Guest images: the cache layout, manifest.json, the initramfs writer and
 * `enclave image build`.
 *
 * Cache layout (shared by `enclave image build`, `enclave image install` and
 * the VM drivers), under $ENCLAVE_HOME/cache/:
 *
 *   current              symlink -> images/<id>, replaced atomically
 *   images/<id>/         one image: manifest.json plus the files it names
 *   blobs/sha256/<hex>   OCI content store
 *   build/               work area of `enclave image build` (.deb files, staging)
 *
 * Ownership: every image_* function that hands out a struct allocates it;
 * the caller frees it with the matching *_free. Pointers returned by
 * image_manifest_artifact() point into the manifest and live as long as it.
 * manifest.json is untrusted input: the parser checks every type, bounds every
 * string and count, and refuses artifact paths that could leave the image
 * folder. */
#ifndef ENCLAVE_IMAGE_IMAGE_H
#define ENCLAVE_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/error.h"

/* ------------------------------------------------------------ manifest */

#define IMAGE_MANIFEST_SCHEMA 1
#define IMAGE_GUEST_PROTOCOL 1
#define IMAGE_MANIFEST_NAME "manifest.json"
#define IMAGE_MANIFEST_MAX_BYTES (1u << 20)
#define IMAGE_MAX_ARTIFACTS 16
#define IMAGE_MAX_PACKAGES 4096
#define IMAGE_MAX_CMDLINE 2048 /* x86 COMMAND_LINE_SIZE */
#define IMAGE_MAX_PATH 255
#define IMAGE_MAX_STRING 1024

#define IMAGE_MEDIA_KERNEL "application/vnd.enclave.kernel"
#define IMAGE_MEDIA_INITRAMFS "application/vnd.enclave.initramfs"
/* A read-only root filesystem image (erofs) the VMM attaches as a virtio
 * block device; its initramfs then holds only enclave-init and the modules
 * that mount it. Images without one boot from their initramfs alone. */
#define IMAGE_MEDIA_ROOTFS "application/vnd.enclave.rootfs"
#define IMAGE_ROOTFS_FILE "rootfs.erofs"
/* In such an initramfs: names the root filesystem's type ("erofs\n"). */
#define IMAGE_ROOTFS_MARKER ".enclave-rootfs"

struct image_artifact {
    char *role;       /* "kernel", "initramfs", ... unique within a manifest */
    char *path;       /* relative to the image folder, as in manifest.json */
    char *abs_path;   /* <image folder>/<path>; NULL when parsed without a folder */
    uint64_t size;
    char sha256[65];  /* lowercase hex */
    char *media_type;
};

struct image_package {
    char *name;
    char *version;
};

struct image_manifest {
    int schema;
    char *dir;            /* real, absolute path of the image folder; NULL when parsed alone */
    char *created;        /* RFC 3339 */
    char *source;         /* "local-build" or "oci:<ref>@sha256:<digest>" */
    char *arch;           /* "amd64" */
    int guest_protocol;
    char *kernel_cmdline; /* what the guest needs; the driver appends its own (rdinit=...) */
    char *build_inputs;   /* sha256 of the builder's inputs (local builds only), or NULL */
    struct image_artifact *artifacts;
    size_t n_artifacts;
    struct image_package *packages;
    size_t n_packages;
};

/* Parses manifest.json text. dir (may be NULL) is the image folder the
 * artifact paths are made absolute against. Requires a "kernel" and an
 * "initramfs" artifact. */
int image_manifest_parse(const char *json, size_t len, const char *dir,
                         struct image_manifest **out, struct error *err);
/* Loads <dir>/manifest.json. */
int image_manifest_load(const char *dir, struct image_manifest **out, struct error *err);
/* Loads the image that $ENCLAVE_HOME/cache/current points at. Fails with
 * ERR_NOT_FOUND (message says to run `enclave image build`) when there is none,
 * and refuses a `current` that points outside cache/images/. */
int image_manifest_load_current(struct image_manifest **out, struct error *err);
void image_manifest_free(struct image_manifest *m);

/* The artifact with this role, or NULL. */
const struct image_artifact *image_manifest_artifact(const struct image_manifest *m,
                                                     const char *role);

/* Re-hashes one artifact (opened without following symlinks, regular files
 * only). Fills the measured digest and size when they are not NULL; returns 0
 * when both match the manifest, -1 with ERR_DATA_LOSS when they do not, or -1
 * with another kind when the file cannot be read. */
int image_artifact_verify(const struct image_manifest *m, const struct image_artifact *a,
                          char actual_sha256[65], uint64_t *actual_size, struct error *err);
/* Re-hashes every artifact; fails on the first that does not match. */
int image_manifest_verify(const struct image_manifest *m, struct error *err);

/* Writes <dir>/manifest.json atomically (temporary file, fsync, rename).
 * m->dir and abs_path are ignored. */
int image_manifest_write(const struct image_manifest *m, const char *dir, struct error *err);

/* Image variants (enclave image build --name NAME) sit side by side:
 * cache/named/<NAME> is a symlink to ../images/<id>, like current. */
#define IMAGE_MAX_NAME 64
/* 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool image_name_valid(const char *name);
/* The variant NAME, or the current image when name is NULL or "". */
int image_manifest_load_named(const char *name, struct image_manifest **out, struct error *err);
/* Points cache/named/<name> at images/<id> atomically. */
int image_cache_set_named(const char *name, const char *id, struct error *err);
/* The variants' names, sorted; free each and the array. */
int image_cache_list_named(char ***names, size_t *n, struct error *err);

/* Points $ENCLAVE_HOME/cache/current at images/<id> atomically (a new symlink
 * renamed over the old one). id must be one plain path component. */
int image_cache_set_current(const char *id, struct error *err);

/* ------------------------------------------------------------ newc cpio writer */

/* Writes a newc ("070701") cpio archive, the initramfs format, to a file
 * descriptor, hashing every byte as it goes. The writer does not touch the
 * file system for the entries it writes: modes, owners, times and device
 * numbers are whatever the caller says, so an unprivileged process can write
 * root-owned files and device nodes. Names are relative ("usr/bin/python3"),
 * and a folder must be added before what it holds. The one exception is the
 * folder "." (cpio_write_dir only): the root itself, whose owner and mode
 * the kernel applies to the root file system it unpacks into. */
struct cpio_writer;

struct cpio_entry {
    const char *name;
    mode_t mode; /* type bits and permissions */
    uid_t uid;
    gid_t gid;
    uint32_t mtime;
    unsigned rdev_major, rdev_minor; /* device nodes only */
};

int cpio_writer_new(int fd, struct cpio_writer **out, struct error *err);
int cpio_write_dir(struct cpio_writer *w, const struct cpio_entry *e, struct error *err);
int cpio_write_file(struct cpio_writer *w, const struct cpio_entry *e, const void *data,
                    size_t size, struct error *err);
/* Copies exactly size bytes from fd (fails if it ends early). */
int cpio_write_file_fd(struct cpio_writer *w, const struct cpio_entry *e, int fd,
                       uint64_t size, struct error *err);
int cpio_write_symlink(struct cpio_writer *w, const struct cpio_entry *e, const char *target,
                       struct error *err);
int cpio_write_node(struct cpio_writer *w, const struct cpio_entry *e, struct error *err);
/* Writes the trailer and flushes; reports the archive's size and SHA-256. */
int cpio_writer_finish(struct cpio_writer *w, uint64_t *size, char sha256[65],
                       struct error *err);
void cpio_writer_free(struct cpio_writer *w);

/* ------------------------------------------------------------ image build */

/* Kernel modules enclave-init loads; dependencies are added from the modules'
 * own metadata. virtio_rng feeds the guest's entropy pool when the VMM offers
 * a virtio-rng device (without one it loads and stays idle). qemu_fw_cfg
 * shows QEMU's fw_cfg files in sysfs: the channel key comes that way (the
 * init unloads it once the key is read). virtio_blk and erofs mount the
 * shared root filesystem; virtio_balloon reports the guest's free pages to
 * the VMM (free page reporting), which gives them back to the host.
 * virtio_pci carries the channel when the VMM attaches it over PCI (QEMU,
 * for images with enclave.channel=pci below; docs/fast-start.md); without a
 * PCI bus it loads and stays idle. */
#define IMAGE_GUEST_MODULES \
    "virtio_mmio", "virtio_pci", "virtio_console", "vsock", "vmw_vsock_virtio_transport", "virtio_rng", "qemu_fw_cfg", \
    "virtio_blk", "erofs", "virtio_balloon"

/* lockdown=confidentiality: the guest kernel's lockdown LSM (in Debian's
 * kernel) refuses unsigned modules (Debian's are signed), /dev/mem, kexec,
 * raw I/O ports, perf, debugfs and tracefs, even to root in the guest. It
 * also saves about 10 MiB per idle VM: without it the kernel builds the
 * tracefs tree of its 1400 trace events at boot, about 10000 inodes and
 * dentries that stay resident (docs/bench.md).
 * enclave.channel=pci: this image's guest loads virtio_pci, so QEMU may
 * attach the channel over PCI, whose receive queues hold 1 MiB instead of
 * virtio-mmio's 8 MiB (the word vmm.h's VMM_CMDLINE_CHANNEL_PCI names). */
#define IMAGE_KERNEL_CMDLINE                                                          \
    "console=ttyS0 quiet panic=-1 reboot=t tsc_early_khz=2000000 lpj=4000000 "        \
    "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd random.trust_cpu=on "          \
    "lockdown=confidentiality enclave.channel=pci"

struct image_build_options {
    bool force;                        /* rebuild even when nothing changed */
    const char *const *extra_packages; /* more Debian packages for the root filesystem */
    size_t n_extra_packages;
    FILE *progress;                    /* progress lines go here; NULL for none */
    const char *name;                  /* a variant: cache/named/<name> moves, current does not */
    bool initramfs_only;               /* the whole system in the initramfs, no rootfs.erofs (the
                                          layout of images built before the shared root) */
};

struct image_build_result {
    bool rebuilt;     /* false when the current image already matched the inputs */
    char id[80];      /* images/<id> */
    char dir[4096];
};

/* Assembles kernel, modules, enclave-init and a python3 root filesystem from
 * Debian packages into $ENCLAVE_HOME/cache/images/<id> and points `current`
 * at it. Needs apt-get, apt-cache and dpkg-deb on the host, not root. */
int image_build(const struct image_build_options *opts, struct image_build_result *result,
                struct error *err);

/* ------------------------------------------------------------ build internals
 * Exposed for the unit tests and fuzz harnesses; not for other modules. */

/* Dependencies of one Debian package, as parsed from a control stanza.
 * Each group is a list of alternatives ("a | b"); version constraints and
 * architecture qualifiers are dropped (apt's candidate is what is used). */
struct image_deb_group {
    char **names;
    size_t n_names;
};

struct image_deb {
    char *package;
    char *version;
    char *architecture;
    char *filename; /* pool path */
    char *sha256;
    uint64_t size;
    struct image_deb_group *depends; /* Depends and Pre-Depends, in the order given */
    size_t n_depends;
};

/* Parses `apt-cache show` output (control stanzas separated by blank lines).
 * Stanzas without Package or Version are refused. */
int image_deb_parse_stanzas(const char *text, size_t len, struct image_deb **out, size_t *n_out,
                            struct error *err);
void image_deb_free_array(struct image_deb *debs, size_t n);
/* Frees what one entry holds and zeroes it. */
void image_deb_clear(struct image_deb *d);

/* `update-alternatives --install LINK NAME PATH PRIORITY` lines of a
 * package's postinst (continuation lines joined). No maintainer script runs
 * in a build, so the builder makes these links itself: LINK -> PATH, the
 * highest priority winning. Lines that are not literal (variables, quotes)
 * are skipped; LINK and PATH must be absolute without "." or ".." steps. */
#define IMAGE_MAX_ALTERNATIVES 256
struct image_alternative {
    char *link;
    char *path;
    long priority;
};
int image_parse_alternatives(const char *text, size_t len, struct image_alternative **out, size_t *n_out,
                             struct error *err);
void image_alternatives_free(struct image_alternative *a, size_t n);

/* One kernel module as found in the kernel package. */
struct image_kmod {
    char *name; /* canonical: '-' replaced by '_' */
    char *path; /* relative to lib/modules/<version>/ */
};

/* Resolves wanted module names to a deps-first load order. modules_order is
 * the text of modules.order (paths of loadable modules), modules_builtin that
 * of modules.builtin (built-in modules are skipped), and depends_of() reads a
 * module file's "depends=" list (comma separated) into a malloc'd string. */
typedef int (*image_kmod_depends_fn)(const char *path, char **depends, void *ctx,
                                     struct error *err);
int image_kmod_resolve(const char *modules_order, const char *modules_builtin,
                       const char *const *wanted, size_t n_wanted, image_kmod_depends_fn depends_of,
                       void *ctx, struct image_kmod **out, size_t *n_out, struct error *err);
void image_kmod_free_array(struct image_kmod *mods, size_t n);
/* Reads the "depends=" field of a module's .modinfo ELF section (libelf). */
int image_kmod_read_depends(const char *ko_path, char **depends, struct error *err);

/* Writes the staged root filesystem under root_dir as a newc archive: folders
 * sorted by name, owned by root except /workspace (1000:1000), /tmp mode 1777,
 * directory times set to mtime and file times kept from the packages. Paths
 * matching a pattern in skip (relative, fnmatch with FNM_PATHNAME, e.g.
 * "usr/share/doc"; a star does not cross a slash) are left out, with everything
 * under them. */
int image_write_tree(struct cpio_writer *w, const char *root_dir, uint32_t mtime,
                     const char *const *skip, size_t n_skip, struct error *err);

/* Makes the staged tree what the image may hold, in place: removes what
 * matches skip (as image_write_tree leaves it out), clears group and other
 * write and the set-id bits everywhere but on "tmp" (a mount point, 1777),
 * and refuses anything but folders, regular files and symlinks. What
 * mkfs.erofs then copies is exactly what the initramfs would have held. */
int image_prepare_tree(const char *root_dir, const char *const *skip, size_t n_skip, struct error *err);

#endif
