/* Builder internals: apt-cache stanzas, kernel module ordering, the archive's
 * skip patterns. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/image.h"

static const char sample[] =
    "Package: libpython3.11-stdlib\n"
    "Version: 3.11.2-6+deb12u9\n"
    "Architecture: amd64\n"
    "Depends: libpython3.11-minimal (= 3.11.2-6+deb12u9), media-types | mime-support, libc6 (>= 2.34),\n"
    " libffi8 (>= 3.4), python3.11-minimal:any\n"
    "Description: interactive high-level object-oriented language\n"
    " This package contains the multi-arch independent part of the standard library.\n"
    " .\n"
    " More text: with colons, | bars and, commas.\n"
    "Filename: pool/main/p/python3.11/libpython3.11-stdlib_3.11.2-6+deb12u9_amd64.deb\n"
    "Size: 1798408\n"
    "SHA256: 10f13e000ee757f5f2d2d3569f9e30546214a0c850acd78695feae373bfa3e53\n"
    "\n"
    "Package: python3-minimal\n"
    "Version: 3.11.2-1+b1\n"
    "Depends: dpkg (>= 1.13.20)\n"
    "Pre-Depends: python3.11-minimal (>= 3.11.2-1~)\n"
    "Filename: pool/main/p/python3-defaults/python3-minimal_3.11.2-1+b1_amd64.deb\n"
    "Size: 26312\n"
    "SHA256: 30f9618670e686d781afbfc713eb0830c29d2819e9cb2a0488800dad6bb99faa\n"
    "\n";

static void test_stanzas(void **state)
{
    (void)state;
    struct image_deb *d = NULL;
    size_t n = 0;
    struct error err = {0};
    assert_int_equal(image_deb_parse_stanzas(sample, strlen(sample), &d, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].package, "libpython3.11-stdlib");
    assert_string_equal(d[0].version, "3.11.2-6+deb12u9");
    assert_string_equal(d[0].architecture, "amd64");
    assert_int_equal(d[0].size, 1798408);
    assert_string_equal(d[0].sha256, "10f13e000ee757f5f2d2d3569f9e30546214a0c850acd78695feae373bfa3e53");
    assert_int_equal(d[0].n_depends, 5);
    assert_string_equal(d[0].depends[0].names[0], "libpython3.11-minimal");
    assert_int_equal(d[0].depends[1].n_names, 2);
    assert_string_equal(d[0].depends[1].names[0], "media-types");
    assert_string_equal(d[0].depends[1].names[1], "mime-support");
    assert_string_equal(d[0].depends[3].names[0], "libffi8"); /* from the continuation line */
    assert_string_equal(d[0].depends[4].names[0], "python3.11-minimal"); /* ":any" dropped */
    assert_int_equal(d[1].n_depends, 2);                                 /* Depends and Pre-Depends */
    assert_string_equal(d[1].depends[0].names[0], "dpkg");
    assert_string_equal(d[1].depends[1].names[0], "python3.11-minimal");
    image_deb_free_array(d, n);

    /* no trailing blank line, CRLF tolerated at line ends */
    const char *one = "Package: zlib1g\r\nVersion: 1:1.2.13.dfsg-1\r\nDepends: libc6 (>= 2.14) [amd64]";
    assert_int_equal(image_deb_parse_stanzas(one, strlen(one), &d, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].version, "1:1.2.13.dfsg-1");
    assert_string_equal(d[0].depends[0].names[0], "libc6");
    image_deb_free_array(d, n);

    assert_int_equal(image_deb_parse_stanzas("", 0, &d, &n, &err), 0);
    assert_int_equal(n, 0);
    image_deb_free_array(d, n);
}

static void test_hostile_stanzas(void **state)
{
    (void)state;
    const char *bad[] = {
        "Version: 1\n",                                      /* no Package */
        "Package: foo\n",                                    /* no Version */
        "Package: Foo\nVersion: 1\n",                        /* upper case */
        "Package: f\nVersion: 1\n",                          /* too short */
        "Package: foo;rm\nVersion: 1\n",
        "Package: foo\nPackage: bar\nVersion: 1\n",          /* duplicate field */
        "Package: foo\nVersion: 1 2\n",                      /* space in version */
        "Package: foo\nVersion: 1\nDepends: , bar\n",        /* empty group */
        "Package: foo\nVersion: 1\nDepends: bar | \n",       /* empty alternative */
        "Package: foo\nVersion: 1\nDepends: ../etc\n",
        "Package: foo\nVersion: 1\nDepends: b$r\n",
        "Package: foo\nVersion: 1\nSize: 12a\n",
        "Package: foo\nVersion: 1\nSize: 99999999999999999999\n",
        "Package: foo\nVersion: 1\nSHA256: 10F13E\n",
        "Package: foo\nVersion: 1\nSHA256: " "10F13E000EE757F5F2D2D3569F9E30546214A0C850ACD78695FEAE373BFA3E53" "\n",
        "Package: foo\nVersion: 1\nFilename: pool/../../etc/passwd\n",
        " continuation first\nPackage: foo\nVersion: 1\n",
        "no colon here\n",
        ": empty name\n",
        "P", /* found by build_deb_fuzz: an unterminated line in an error message */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct image_deb *d = NULL;
        size_t n = 0;
        struct error err = {0};
        if (image_deb_parse_stanzas(bad[i], strlen(bad[i]), &d, &n, &err) != -1)
            fail_msg("case %zu accepted: %s", i, bad[i]);
        assert_null(d);
    }
    /* a NUL inside a value */
    const char nul[] = "Package: foo\nVersion: 1\0x\n";
    struct image_deb *d = NULL;
    size_t n = 0;
    struct error err = {0};
    assert_int_equal(image_deb_parse_stanzas(nul, sizeof(nul) - 1, &d, &n, &err), -1);
    /* too many alternatives in one group */
    char many[8192] = "Package: foo\nVersion: 1\nDepends: a0";
    for (int i = 1; i < 100; i++) {
        char alt[16];
        snprintf(alt, sizeof(alt), " | a%d", i);
        strcat(many, alt);
    }
    assert_int_equal(image_deb_parse_stanzas(many, strlen(many), &d, &n, &err), -1);
}

/* ------------------------------------------------------------ modules */

static const char order[] =
    "kernel/drivers/virtio/virtio.ko\n"
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/virtio/virtio_mmio.ko\n"
    "kernel/drivers/char/hw_random/virtio-rng.ko\n"
    "kernel/drivers/char/hw_random/rng-core.ko\n"
    "kernel/net/vmw_vsock/vsock.ko\n"
    "kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko\n"
    "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko\n"
    "/abs/evil.ko\n"
    "kernel/../../evil2.ko\n"
    "not a module line\n";
static const char builtin[] = "kernel/drivers/base/firmware.ko\n";

struct fake_dep {
    const char *path;
    const char *deps;
};
static const struct fake_dep fake[] = {
    {"kernel/drivers/virtio/virtio.ko", ""},
    {"kernel/drivers/virtio/virtio_ring.ko", ""},
    {"kernel/drivers/virtio/virtio_mmio.ko", "virtio,virtio_ring"},
    {"kernel/drivers/char/hw_random/virtio-rng.ko", "virtio,virtio_ring,rng-core"},
    {"kernel/drivers/char/hw_random/rng-core.ko", "firmware"},
    {"kernel/net/vmw_vsock/vsock.ko", ""},
    {"kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko", "vsock,virtio,virtio_ring"},
    {"kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko", "vmw_vsock_virtio_transport_common,virtio,virtio_ring,vsock"},
};

static int fake_depends(const char *path, char **depends, void *ctx, struct error *err)
{
    const struct fake_dep *table = ctx;
    for (size_t i = 0; i < sizeof(fake) / sizeof(fake[0]); i++)
        if (strcmp(table[i].path, path) == 0) {
            *depends = strdup(table[i].deps);
            return 0;
        }
    return error_set(err, ERR_NOT_FOUND, "no such module file %s", path);
}

static size_t index_of(const struct image_kmod *m, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0)
            return i;
    fail_msg("%s is not in the load order", name);
    return 0;
}

static void test_kmod_order(void **state)
{
    (void)state;
    const char *wanted[] = {"virtio_mmio", "vmw_vsock_virtio_transport", "virtio-rng", "virtio_mmio"};
    struct image_kmod *m = NULL;
    size_t n = 0;
    struct error err = {0};
    assert_int_equal(image_kmod_resolve(order, builtin, wanted, 4, fake_depends, (void *)fake, &m, &n, &err), 0);
    /* each module once, built-in ones left out */
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(m[i].name, m[j].name);
    /* every module after everything it depends on */
    for (size_t i = 0; i < sizeof(fake) / sizeof(fake[0]); i++) {
        size_t me = SIZE_MAX;
        for (size_t k = 0; k < n; k++)
            if (strcmp(m[k].path, fake[i].path) == 0)
                me = k;
        assert_true(me != SIZE_MAX);
        char *deps = strdup(fake[i].deps), *save = NULL;
        for (char *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
            for (char *c = d; *c; c++)
                if (*c == '-')
                    *c = '_';
            if (strcmp(d, "firmware") == 0)
                continue;
            assert_true(index_of(m, n, d) < me);
        }
        free(deps);
    }
    /* names are canonical; the file keeps its own name */
    size_t rng = index_of(m, n, "virtio_rng");
    assert_string_equal(m[rng].path, "kernel/drivers/char/hw_random/virtio-rng.ko");
    /* deterministic: the first wanted module's dependencies come first */
    assert_string_equal(m[0].name, "virtio");
    assert_string_equal(m[1].name, "virtio_ring");
    assert_string_equal(m[2].name, "virtio_mmio");
    image_kmod_free_array(m, n);
}

static const struct fake_dep cyclic[] = {
    {"kernel/a.ko", "bb"},
    {"kernel/bb.ko", "cc"},
    {"kernel/cc.ko", "a"},
};

static int cyclic_depends(const char *path, char **depends, void *ctx, struct error *err)
{
    for (size_t i = 0; i < 3; i++)
        if (strcmp(cyclic[i].path, path) == 0) {
            *depends = strdup(cyclic[i].deps);
            return 0;
        }
    return error_set(err, ERR_NOT_FOUND, "no %s", path);
}

static int long_depends(const char *path, char **depends, void *ctx, struct error *err)
{
    *depends = strdup(strcmp(path, "kernel/a.ko") == 0
                          ? "this_module_name_is_far_longer_than_any_kernel_module_name_could_be_0123456789"
                          : "");
    return 0;
}

static void test_kmod_hostile(void **state)
{
    (void)state;
    struct image_kmod *m = NULL;
    size_t n = 0;
    struct error err = {0};
    const char *missing[] = {"not_there"};
    assert_int_equal(image_kmod_resolve(order, builtin, missing, 1, fake_depends, (void *)fake, &m, &n, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_null(m);
    /* lines with absolute paths or .. are not module paths */
    const char *evil[] = {"evil"};
    assert_int_equal(image_kmod_resolve(order, builtin, evil, 1, fake_depends, (void *)fake, &m, &n, &err), -1);
    const char *evil2[] = {"evil2"};
    assert_int_equal(image_kmod_resolve(order, builtin, evil2, 1, fake_depends, (void *)fake, &m, &n, &err), -1);
    /* a built-in module needs no file */
    const char *fw[] = {"firmware"};
    assert_int_equal(image_kmod_resolve(order, builtin, fw, 1, fake_depends, (void *)fake, &m, &n, &err), 0);
    assert_int_equal(n, 0);
    image_kmod_free_array(m, n);
    /* cycles end in an error, not a loop */
    const char *corder = "kernel/a.ko\nkernel/bb.ko\nkernel/cc.ko\n";
    const char *a[] = {"a"};
    assert_int_equal(image_kmod_resolve(corder, "", a, 1, cyclic_depends, NULL, &m, &n, &err), -1);
    assert_non_null(strstr(err.message, "cycle"));
    /* an over-long dependency name */
    assert_int_equal(image_kmod_resolve(corder, "", a, 1, long_depends, NULL, &m, &n, &err), -1);
    const char *empty[] = {""};
    assert_int_equal(image_kmod_resolve(order, builtin, empty, 1, fake_depends, (void *)fake, &m, &n, &err), -1);
}

/* This test program carries a .modinfo section like a kernel module's, so
 * the libelf reader is tried on a real ELF file: itself. */
__attribute__((used, section(".modinfo"))) static const char modinfo[] =
    "license=GPL\0depends=virtio,virtio_ring\0name=build_test";

static void test_read_depends(void **state)
{
    (void)state;
    (void)modinfo;
    char *deps = NULL;
    struct error err = {0};
    assert_int_equal(image_kmod_read_depends("/proc/self/exe", &deps, &err), -1); /* a symlink: not followed */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    assert_int_equal(image_kmod_read_depends(self, &deps, &err), 0);
    assert_string_equal(deps, "virtio,virtio_ring");
    free(deps);
    /* not ELF */
    char path[] = "/tmp/enclave-kmod-test.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x7f" "ELFgarbage", 11), 11);
    close(fd);
    assert_int_equal(image_kmod_read_depends(path, &deps, &err), -1);
    unlink(path);
    assert_int_equal(image_kmod_read_depends("/nonexistent/x.ko", &deps, &err), -1);
}

static void put_file(const char *root, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    /* make the parents */
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
}

/* True when the archive holds an entry named exactly name (newc: the name
 * follows the 110-byte header and ends with a NUL). */
static bool archive_has(const char *data, size_t len, const char *name)
{
    size_t n = strlen(name) + 1;
    for (const char *p = data; (p = memmem(p, len - (size_t)(p - data), name, n)) != NULL; p++)
        if (p - data >= 110 && memcmp(p - 110, "070701", 6) == 0)
            return true;
    return false;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The builder's patterns: a star stays inside one path component, a matched
 * folder goes with its contents, near misses stay. */
static void test_tree_skip_patterns(void **state)
{
    (void)state;
    static const char *const skip[] = {
        "usr/share/doc",
        "usr/lib/python3.*/test",
        "usr/lib/python3.*/turtle.py",
        "usr/lib/python3.*/__pycache__/turtle.*.pyc",
        "usr/lib/python3.*/lib-dynload/_test*.so",
    };
    char root[] = "/tmp/enclave-tree-test.XXXXXX";
    assert_non_null(mkdtemp(root));
    static const char *const gone[] = {
        "usr/share/doc", "usr/share/doc/python3/copyright",
        "usr/lib/python3.11/test", "usr/lib/python3.11/test/support/__init__.py",
        "usr/lib/python3.11/turtle.py", "usr/lib/python3.11/__pycache__/turtle.cpython-311.pyc",
        "usr/lib/python3.11/lib-dynload/_testcapi.cpython-311-x86_64-linux-gnu.so",
    };
    static const char *const kept[] = {
        "usr/share/docs", "usr/share/python3/doc", "usr/lib/python3.11/testing.py",
        "usr/lib/python3.11/unittest/test/x.py", "usr/lib/python3.11/json/__init__.py",
        "usr/lib/python3.11/__pycache__/turtledemo.cpython-311.pyc",
        "usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so",
        "usr/lib/python3/dist-packages/test", "usr/lib/python3.11/sub/test/x",
    };
    /* gone[] minus the two folders, which their files create */
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        if (strcmp(gone[i], "usr/share/doc") != 0 && strcmp(gone[i], "usr/lib/python3.11/test") != 0)
            put_file(root, gone[i]);
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        put_file(root, kept[i]);

    char out[] = "/tmp/enclave-tree-test-cpio.XXXXXX";
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    struct error err = {0};
    struct cpio_writer *w = NULL;
    assert_int_equal(cpio_writer_new(fd, &w, &err), 0);
    assert_int_equal(image_write_tree(w, root, 0, skip, sizeof(skip) / sizeof(skip[0]), &err), 0);
    uint64_t size = 0;
    char sha[65];
    assert_int_equal(cpio_writer_finish(w, &size, sha, &err), 0);
    cpio_writer_free(w);
    char *data = malloc(size);
    assert_non_null(data);
    assert_int_equal(pread(fd, data, size, 0), (ssize_t)size);
    close(fd);
    unlink(out);

    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        if (archive_has(data, size, gone[i]))
            fail_msg("%s is in the archive", gone[i]);
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (!archive_has(data, size, kept[i]))
            fail_msg("%s is missing from the archive", kept[i]);
    assert_true(archive_has(data, size, "usr/lib/python3.11"));
    free(data);
    assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* The tree mkfs.erofs gets: skipped paths gone, group/other write and set-id
 * bits cleared, tmp 1777, symlinks untouched, anything else refused. */
static void test_prepare_tree(void **state)
{
    (void)state;
    static const char *const skip[] = {"usr/share/doc", "usr/lib/python3.*/test", "init"};
    char root[] = "/tmp/enclave-prep-test.XXXXXX";
    assert_non_null(mkdtemp(root));
    assert_int_equal(chmod(root, 0700), 0);
    put_file(root, "usr/share/doc/x/copyright");
    put_file(root, "usr/lib/python3.11/test/a.py");
    put_file(root, "usr/lib/python3.11/json/__init__.py");
    put_file(root, "usr/bin/tool");
    put_file(root, "etc/shadowish");
    put_file(root, "init");
    char p[512];
    snprintf(p, sizeof(p), "%s/usr/bin/tool", root);
    assert_int_equal(chmod(p, 06777), 0);
    snprintf(p, sizeof(p), "%s/etc/shadowish", root);
    assert_int_equal(chmod(p, 0664), 0);
    snprintf(p, sizeof(p), "%s/etc", root);
    assert_int_equal(chmod(p, 0777), 0);
    snprintf(p, sizeof(p), "%s/tmp", root);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/usr/bin/link", root);
    assert_int_equal(symlink("tool", p), 0);

    struct error err = {0};
    assert_int_equal(image_prepare_tree(root, skip, sizeof(skip) / sizeof(skip[0]), &err), 0);
    struct stat st;
    static const char *const gone[] = {"usr/share/doc", "usr/lib/python3.11/test", "init"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, gone[i]);
        if (lstat(p, &st) == 0)
            fail_msg("%s is still there", gone[i]);
    }
    snprintf(p, sizeof(p), "%s/usr/lib/python3.11/json/__init__.py", root);
    assert_int_equal(lstat(p, &st), 0);
    static const struct {
        const char *rel;
        mode_t mode;
    } modes[] = {{".", 0755}, {"usr/bin/tool", 0755}, {"etc/shadowish", 0644}, {"etc", 0755}, {"tmp", 01777}};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, modes[i].rel);
        if (stat(p, &st) != 0 || (st.st_mode & 07777) != modes[i].mode)
            fail_msg("%s: mode %o, want %o", modes[i].rel, (unsigned)(st.st_mode & 07777), (unsigned)modes[i].mode);
    }
    snprintf(p, sizeof(p), "%s/usr/bin/link", root);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    /* a fifo (or device, or socket) has no place in the image */
    snprintf(p, sizeof(p), "%s/etc/fifo", root);
    assert_int_equal(mkfifo(p, 0644), 0);
    assert_int_equal(image_prepare_tree(root, skip, sizeof(skip) / sizeof(skip[0]), &err), -1);
    assert_non_null(strstr(err.message, "etc/fifo"));
    assert_int_equal(image_prepare_tree("/nonexistent-enclave-tree", skip, 0, &err), -1);
    assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void test_alternatives(void **state)
{
    (void)state;
    const char *postinst =
        "#!/bin/sh\nset -e\n"
        "if [ \"$1\" = configure ]; then\n"
        "    update-alternatives --install /usr/lib/x86_64-linux-gnu/libblas.so.3 \\\n"
        "                        libblas.so.3-x86_64-linux-gnu \\\n"
        "                        /usr/lib/x86_64-linux-gnu/blas/libblas.so.3 10\n"
        "    update-alternatives --quiet --install /usr/bin/x x /usr/bin/x.real 5;\n"
        "    update-alternatives --install $LINK name $PATH 5\n"               /* not literal: skipped */
        "    update-alternatives --install /usr/bin/y y /usr/../etc/shadow 5\n" /* a .. step: skipped */
        "    update-alternatives --install /usr/bin/z z /usr/bin/z1 high\n"    /* no number: skipped */
        "    update-alternatives --remove x /usr/bin/x.real\n"
        "fi\n";
    struct image_alternative *a = NULL;
    size_t n = 0;
    struct error err;
    assert_int_equal(image_parse_alternatives(postinst, strlen(postinst), &a, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].link, "/usr/lib/x86_64-linux-gnu/libblas.so.3");
    assert_string_equal(a[0].path, "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3");
    assert_int_equal(a[0].priority, 10);
    assert_string_equal(a[1].link, "/usr/bin/x");
    image_alternatives_free(a, n);
    /* hostile: NUL bytes, relative paths, truncated lines */
    const char nul[] = "update-alternatives --install /a a /b 1\0x";
    assert_int_equal(image_parse_alternatives(nul, sizeof(nul) - 1, &a, &n, &err), -1);
    const char *bad = "update-alternatives --install a a /b 1\nupdate-alternatives --install /a\n"
                      "update-alternatives --install /a a b 1\nupdate-alternatives\n";
    assert_int_equal(image_parse_alternatives(bad, strlen(bad), &a, &n, &err), 0);
    assert_int_equal(n, 0);
    image_alternatives_free(a, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stanzas),
        cmocka_unit_test(test_alternatives),
        cmocka_unit_test(test_hostile_stanzas),
        cmocka_unit_test(test_kmod_order),
        cmocka_unit_test(test_kmod_hostile),
        cmocka_unit_test(test_read_depends),
        cmocka_unit_test(test_tree_skip_patterns),
        cmocka_unit_test(test_prepare_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
