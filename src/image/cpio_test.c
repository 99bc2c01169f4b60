/* The newc writer and the tree walker: archives are read back by a reader in
 * this file and, where installed, by cpio(1). */
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/test_dir.h"
#include "image/image.h"

struct entry {
    char name[4096];
    unsigned ino, mode, uid, gid, nlink, mtime, size, rmaj, rmin;
    const unsigned char *data;
};

static unsigned hex8(const unsigned char *p)
{
    char buf[9];
    memcpy(buf, p, 8);
    buf[8] = '\0';
    for (int i = 0; i < 8; i++)
        assert_true((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'A' && buf[i] <= 'F'));
    return (unsigned)strtoul(buf, NULL, 16);
}

/* Reads every entry up to the trailer; checks magic, alignment and padding. */
static size_t read_archive(const unsigned char *a, size_t len, struct entry *out, size_t max)
{
    size_t off = 0, n = 0;
    for (;;) {
        assert_true(off % 4 == 0);
        assert_true(off + 110 <= len);
        assert_memory_equal(a + off, "070701", 6);
        struct entry e = {0};
        const unsigned char *h = a + off + 6;
        e.ino = hex8(h);
        e.mode = hex8(h + 8);
        e.uid = hex8(h + 16);
        e.gid = hex8(h + 24);
        e.nlink = hex8(h + 32);
        e.mtime = hex8(h + 40);
        e.size = hex8(h + 48);
        e.rmaj = hex8(h + 72);
        e.rmin = hex8(h + 80);
        unsigned namesize = hex8(h + 88);
        assert_int_equal(hex8(h + 96), 0);
        assert_true(namesize >= 1 && namesize <= sizeof(e.name));
        assert_true(off + 110 + namesize <= len);
        memcpy(e.name, a + off + 110, namesize);
        assert_int_equal(e.name[namesize - 1], '\0');
        assert_int_equal(strlen(e.name), namesize - 1);
        off += 110 + namesize;
        while (off % 4) {
            assert_int_equal(a[off], 0);
            off++;
        }
        e.data = a + off;
        assert_true(off + e.size <= len);
        off += e.size;
        while (off % 4) {
            assert_int_equal(a[off], 0);
            off++;
        }
        if (strcmp(e.name, "TRAILER!!!") == 0)
            break;
        assert_true(n < max);
        out[n++] = e;
    }
    /* zero padding to a 512-byte block, nothing after */
    assert_int_equal(len % 512, 0);
    for (; off < len; off++)
        assert_int_equal(a[off], 0);
    return n;
}

static unsigned char *map_file(int fd, size_t *len)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *len = (size_t)st.st_size;
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

static int temp_fd(char *path, size_t size)
{
    snprintf(path, size, "/tmp/enclave-cpio-test.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

/* A writer on fd; the test fails when there is none. */
static struct cpio_writer *writer_on(int fd)
{
    struct cpio_writer *w = NULL;
    struct error err = {0};
    if (cpio_writer_new(fd, &w, &err) < 0)
        fail_msg("cpio_writer_new: %s", err.message);
    return w;
}

static void sha_hex(const unsigned char *p, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(p, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_entries_roundtrip(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_fd(path, sizeof(path));
    struct error err = {0};
    struct cpio_writer *w = writer_on(fd);

    struct cpio_entry dir = {.name = "usr", .mode = 0755, .mtime = 7};
    struct cpio_entry dir2 = {.name = "usr/bin", .mode = S_IFDIR | 0700, .uid = 1000, .gid = 1001, .mtime = 8};
    struct cpio_entry file = {.name = "usr/bin/tool", .mode = 04755, .mtime = 1700000000};
    struct cpio_entry link = {.name = "usr/bin/alias", .mode = 0, .mtime = 9};
    struct cpio_entry node = {.name = "console", .mode = S_IFCHR | 0600, .rdev_major = 5, .rdev_minor = 1};
    struct cpio_entry empty = {.name = "usr/empty", .mode = 0644};
    assert_int_equal(cpio_write_dir(w, &dir, &err), 0);
    assert_int_equal(cpio_write_dir(w, &dir2, &err), 0);
    assert_int_equal(cpio_write_file(w, &file, "hello", 5, &err), 0);
    assert_int_equal(cpio_write_symlink(w, &link, "tool", &err), 0);
    assert_int_equal(cpio_write_node(w, &node, &err), 0);
    assert_int_equal(cpio_write_file(w, &empty, "", 0, &err), 0);

    /* from a descriptor */
    char src[64];
    int sfd = temp_fd(src, sizeof(src));
    unsigned char big[70001];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 7);
    assert_int_equal(write(sfd, big, sizeof(big)), (ssize_t)sizeof(big));
    lseek(sfd, 0, SEEK_SET);
    struct cpio_entry bigf = {.name = "big", .mode = S_IFREG | 0600, .mtime = 3};
    assert_int_equal(cpio_write_file_fd(w, &bigf, sfd, sizeof(big), &err), 0);
    close(sfd);
    unlink(src);

    uint64_t size = 0;
    char sha[65];
    assert_int_equal(cpio_writer_finish(w, &size, sha, &err), 0);
    /* a finished writer takes nothing more */
    assert_int_equal(cpio_write_dir(w, &dir, &err), -1);
    cpio_writer_free(w);

    size_t len;
    unsigned char *a = map_file(fd, &len);
    assert_int_equal(len, size);
    char want[65];
    sha_hex(a, len, want);
    assert_string_equal(sha, want);

    struct entry e[16];
    size_t n = read_archive(a, len, e, 16);
    assert_int_equal(n, 7);
    assert_string_equal(e[0].name, "usr");
    assert_int_equal(e[0].mode, S_IFDIR | 0755);
    assert_int_equal(e[0].mtime, 7);
    assert_int_equal(e[0].nlink, 2);
    assert_int_equal(e[1].uid, 1000);
    assert_int_equal(e[1].gid, 1001);
    assert_int_equal(e[1].mode, S_IFDIR | 0700);
    assert_string_equal(e[2].name, "usr/bin/tool");
    assert_int_equal(e[2].mode, S_IFREG | 04755);
    assert_int_equal(e[2].size, 5);
    assert_int_equal(e[2].mtime, 1700000000);
    assert_memory_equal(e[2].data, "hello", 5);
    assert_int_equal(e[3].mode, S_IFLNK | 0777);
    assert_int_equal(e[3].size, 4);
    assert_memory_equal(e[3].data, "tool", 4);
    assert_int_equal(e[4].mode, S_IFCHR | 0600);
    assert_int_equal(e[4].rmaj, 5);
    assert_int_equal(e[4].rmin, 1);
    assert_int_equal(e[5].size, 0);
    assert_int_equal(e[6].size, sizeof(big));
    assert_memory_equal(e[6].data, big, sizeof(big));
    /* distinct inode numbers, so the kernel never hard-links two entries */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(e[i].ino, e[j].ino);
    munmap(a, len);

    /* an independent reader agrees on the names */
    if (access("/usr/bin/cpio", X_OK) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "cpio --quiet -it < %s", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char listing[1024] = "";
        size_t got = fread(listing, 1, sizeof(listing) - 1, p);
        listing[got] = '\0';
        assert_int_equal(pclose(p), 0);
        assert_string_equal(listing, "usr\nusr/bin\nusr/bin/tool\nusr/bin/alias\nconsole\nusr/empty\nbig\n");
    }
    close(fd);
    unlink(path);
}

static void test_hostile_names(void **state)
{
    (void)state;
    char path[64];
    int fd = temp_fd(path, sizeof(path));
    struct error err = {0};
    struct cpio_writer *w = writer_on(fd);
    static char longname[5000];
    memset(longname, 'a', sizeof(longname) - 1);
    const char *bad[] = {"", "/etc/passwd", "../escape", "a/../../b", "a/./b", ".", "..", "a//b", "dir/", longname};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cpio_entry e = {.name = bad[i], .mode = 0644};
        if (cpio_write_file(w, &e, "x", 1, &err) != -1)
            fail_msg("name \"%.40s\" was accepted", bad[i]);
        /* "." is the archive's root: a folder only (test_tree). */
        if (strcmp(bad[i], ".") != 0)
            assert_int_equal(cpio_write_dir(w, &e, &err), -1);
        assert_int_equal(cpio_write_symlink(w, &e, "x", &err), -1);
    }
    struct cpio_entry root_as_file = {.name = ".", .mode = S_IFREG | 0644};
    assert_int_equal(cpio_write_dir(w, &root_as_file, &err), -1);
    /* the type bits must agree with the kind of entry */
    struct cpio_entry wrong = {.name = "f", .mode = S_IFDIR | 0755};
    assert_int_equal(cpio_write_file(w, &wrong, "x", 1, &err), -1);
    struct cpio_entry notdev = {.name = "n", .mode = S_IFREG | 0644};
    assert_int_equal(cpio_write_node(w, &notdev, &err), -1);
    struct cpio_entry l = {.name = "l"};
    assert_int_equal(cpio_write_symlink(w, &l, "", &err), -1);
    /* nothing was written for refused entries */
    uint64_t size = 0;
    assert_int_equal(cpio_writer_finish(w, &size, NULL, &err), 0);
    cpio_writer_free(w);
    size_t len;
    unsigned char *a = map_file(fd, &len);
    struct entry e[4];
    assert_int_equal(read_archive(a, len, e, 4), 0);
    munmap(a, len);
    close(fd);
    unlink(path);
}

static void test_short_source(void **state)
{
    (void)state;
    char path[64], src[64];
    int fd = temp_fd(path, sizeof(path));
    int sfd = temp_fd(src, sizeof(src));
    assert_int_equal(write(sfd, "abc", 3), 3);
    lseek(sfd, 0, SEEK_SET);
    struct cpio_writer *w = NULL;
    struct error err = {0};
    assert_int_equal(cpio_writer_new(fd, &w, &err), 0);
    struct cpio_entry e = {.name = "f", .mode = 0644};
    /* the header promised 10 bytes: the archive cannot be finished */
    assert_int_equal(cpio_write_file_fd(w, &e, sfd, 10, &err), -1);
    assert_int_equal(cpio_writer_finish(w, NULL, NULL, &err), -1);
    cpio_writer_free(w);
    close(sfd);
    unlink(src);
    close(fd);
    unlink(path);
}

/* ------------------------------------------------------------ tree walker */

static void mk(const char *root, const char *rel, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(mkdir(p, mode), 0);
    chmod(p, mode);
}

static void test_tree(void **state)
{
    (void)state;
    char root[] = "/tmp/enclave-tree-test.XXXXXX";
    assert_non_null(mkdtemp(root));
    mk(root, "usr", 0755);
    mk(root, "usr/share", 0755);
    mk(root, "usr/share/doc", 0755);
    test_put_file_mode(root, "usr/share/doc/README", "docs", 0644);
    mk(root, "usr/bin", 0755);
    test_put_file_mode(root, "usr/bin/python3.11", "ELF", 0755);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/usr/bin/python3", root);
    assert_int_equal(symlink("python3.11", p), 0);
    mk(root, "usr-local", 0700);
    mk(root, "workspace", 0755);
    mk(root, "tmp", 0755);
    mk(root, "a", 0755);
    mk(root, "a/tmp", 0755); /* only the top-level tmp is special */
    mk(root, "a/var-tmp", 01777);       /* what a package may ship: made 0755 */
    test_put_file_mode(root, "a/suid", "ELF", 04775);  /* set-id and group write: dropped */
    test_put_file_mode(root, "init", "#!init", 0755);
    /* a file whose time must survive (Python checks .py times against .pyc) */
    snprintf(p, sizeof(p), "%s/usr/bin/python3.11", root);
    struct timespec ts[2] = {{.tv_sec = 1600000000}, {.tv_sec = 1600000000}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);

    char path[64];
    int fd = temp_fd(path, sizeof(path));
    struct error err = {0};
    struct cpio_writer *w = writer_on(fd);
    const char *skip[] = {"usr/share/doc"};
    assert_int_equal(image_write_tree(w, root, 42, skip, 1, &err), 0);
    char sha1[65];
    assert_int_equal(cpio_writer_finish(w, NULL, sha1, &err), 0);
    cpio_writer_free(w);

    size_t len;
    unsigned char *a = map_file(fd, &len);
    struct entry e[32];
    size_t n = read_archive(a, len, e, 32);
    const char *want[] = {".", "a", "a/suid", "a/tmp", "a/var-tmp", "init", "tmp", "usr", "usr/bin",
                          "usr/bin/python3", "usr/bin/python3.11", "usr/share", "usr-local", "workspace"};
    /* depth-first, each folder's names in byte order: a folder always comes
     * before what it holds */
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(e[i].name, want[i]);
        if (strcmp(e[i].name, "workspace") == 0) {
            assert_int_equal(e[i].uid, 1000);
            assert_int_equal(e[i].gid, 1000);
        } else {
            assert_int_equal(e[i].uid, 0);
            assert_int_equal(e[i].gid, 0);
        }
        if (S_ISDIR(e[i].mode))
            assert_int_equal(e[i].mtime, 42);
    }
    /* The root comes first, root's and 0755 whatever the staging folder's
     * mode (mkdtemp's 0700 here; a tmpfs root would be 1777). */
    assert_int_equal(e[0].mode, S_IFDIR | 0755);
    assert_int_equal(e[6].mode, S_IFDIR | 01777);  /* tmp */
    assert_int_equal(e[3].mode, S_IFDIR | 0755);   /* a/tmp */
    assert_int_equal(e[4].mode, S_IFDIR | 01755);  /* a/var-tmp: no write for others */
    assert_int_equal(e[2].mode, S_IFREG | 0755);   /* a/suid */
    assert_int_equal(e[12].mode, S_IFDIR | 0700);  /* usr-local */
    assert_int_equal(e[9].mode, S_IFLNK | 0777);
    assert_memory_equal(e[9].data, "python3.11", 10);
    assert_int_equal(e[10].mtime, 1600000000);
    assert_int_equal(e[10].mode, S_IFREG | 0755);
    munmap(a, len);
    close(fd);

    /* the same tree gives the same bytes */
    fd = open(path, O_RDWR | O_TRUNC);
    assert_int_equal(cpio_writer_new(fd, &w, &err), 0);
    assert_int_equal(image_write_tree(w, root, 42, skip, 1, &err), 0);
    char sha2[65];
    assert_int_equal(cpio_writer_finish(w, NULL, sha2, &err), 0);
    cpio_writer_free(w);
    assert_string_equal(sha1, sha2);
    close(fd);
    unlink(path);

    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_roundtrip),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_short_source),
        cmocka_unit_test(test_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
