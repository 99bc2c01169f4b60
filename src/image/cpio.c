/* newc cpio writer (the format the kernel unpacks an initramfs from).
 *
 * Each entry: "070701", thirteen 8-digit hex fields (ino, mode, uid, gid,
 * nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize
 * with its NUL, check = 0), the name and its NUL padded to a multiple of 4
 * counted from the start of the header, then the data padded to 4. The archive
 * ends with an entry named "TRAILER!!!". Every entry gets its own inode number
 * and nlink 1 (no hard links), so the kernel never links entries together. */
#include "image/image.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/encode.h"

#define CPIO_BUF (1u << 16)
#define CPIO_MAX_NAME 4095 /* the kernel refuses names of PATH_MAX and more */
#define CPIO_MAX_FILE 0xffffffffull

struct cpio_writer {
    int fd;
    EVP_MD_CTX *md;
    uint64_t offset; /* bytes emitted so far (buffered included) */
    uint32_t next_ino;
    bool failed;
    bool finished;
    size_t used;
    unsigned char buf[CPIO_BUF];
};

int cpio_writer_new(int fd, struct cpio_writer **out, struct error *err)
{
    *out = NULL;
    struct cpio_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    w->fd = fd;
    w->next_ino = 1;
    w->md = EVP_MD_CTX_new();
    if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        cpio_writer_free(w);
        return error_set(err, ERR_INTERNAL, "cannot start SHA-256");
    }
    *out = w;
    return 0;
}

void cpio_writer_free(struct cpio_writer *w)
{
    if (w == NULL)
        return;
    EVP_MD_CTX_free(w->md);
    free(w);
}

static int flush(struct cpio_writer *w, struct error *err)
{
    size_t off = 0;
    while (off < w->used) {
        ssize_t n = write(w->fd, w->buf + off, w->used - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            w->failed = true;
            return error_set_errno(err, ERR_INTERNAL, "writing the archive");
        }
        off += (size_t)n;
    }
    w->used = 0;
    return 0;
}

static int emit(struct cpio_writer *w, const void *data, size_t len, struct error *err)
{
    if (EVP_DigestUpdate(w->md, data, len) != 1) {
        w->failed = true;
        return error_set(err, ERR_INTERNAL, "SHA-256 update failed");
    }
    const unsigned char *p = data;
    while (len > 0) {
        size_t room = CPIO_BUF - w->used;
        size_t n = len < room ? len : room;
        memcpy(w->buf + w->used, p, n);
        w->used += n;
        w->offset += n;
        p += n;
        len -= n;
        if (w->used == CPIO_BUF && flush(w, err) < 0)
            return -1;
    }
    return 0;
}

static int pad4(struct cpio_writer *w, struct error *err)
{
    static const unsigned char zeros[4];
    size_t pad = (4 - (w->offset & 3)) & 3;
    return pad ? emit(w, zeros, pad, err) : 0;
}

/* Names the kernel will create as given: relative, no empty, "." or ".."
 * component (an archive is never allowed to climb out of its root). */
static int check_name(const char *name, struct error *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > CPIO_MAX_NAME)
        return error_set(err, ERR_INVALID_ARGUMENT, "cpio name length %zu is out of range", len);
    if (name[0] == '/' || name[len - 1] == '/')
        return error_set(err, ERR_INVALID_ARGUMENT, "cpio name \"%s\" must be relative without a trailing /", name);
    const char *c = name;
    while (*c) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return error_set(err, ERR_INVALID_ARGUMENT, "cpio name \"%s\" has an empty, . or .. component", name);
        c += n;
        if (*c == '/')
            c++;
    }
    return 0;
}

static int header(struct cpio_writer *w, const char *name, uint32_t mode, uint32_t uid,
                  uint32_t gid, uint32_t nlink, uint32_t mtime, uint64_t size, uint32_t rmaj,
                  uint32_t rmin, struct error *err)
{
    if (w->failed || w->finished)
        return error_set(err, ERR_FAILED_PRECONDITION, "cpio writer is %s", w->failed ? "failed" : "finished");
    if (size > CPIO_MAX_FILE)
        return error_set(err, ERR_OUT_OF_RANGE, "%s: %llu bytes do not fit a newc entry", name,
                         (unsigned long long)size);
    if (w->next_ino == 0)
        return error_set(err, ERR_OUT_OF_RANGE, "too many cpio entries");
    size_t namesize = strlen(name) + 1;
    char hdr[6 + 13 * 8 + 1];
    int n = snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                     w->next_ino++, mode, uid, gid, nlink, mtime, (uint32_t)size, 0u, 0u, rmaj, rmin,
                     (uint32_t)namesize, 0u);
    if (n != 110)
        return error_set(err, ERR_INTERNAL, "cpio header formatting failed");
    if (emit(w, hdr, 110, err) < 0 || emit(w, name, namesize, err) < 0 || pad4(w, err) < 0)
        return -1;
    return 0;
}

static int check_entry(const struct cpio_entry *e, mode_t type, struct error *err)
{
    if (check_name(e->name, err) < 0)
        return -1;
    if ((e->mode & S_IFMT) != 0 && (e->mode & S_IFMT) != type)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: mode type does not match the entry kind", e->name);
    return 0;
}

static uint32_t full_mode(const struct cpio_entry *e, mode_t type)
{
    return (uint32_t)(type | (e->mode & 07777));
}

int cpio_write_dir(struct cpio_writer *w, const struct cpio_entry *e, struct error *err)
{
    /* "." alone is the archive's root: the kernel applies its owner and mode
     * to the root it unpacks into (a tmpfs root is 1777 otherwise). */
    bool root = e->name && strcmp(e->name, ".") == 0;
    if (root && (e->mode & S_IFMT) != 0 && (e->mode & S_IFMT) != S_IFDIR)
        return error_set(err, ERR_INVALID_ARGUMENT, ".: mode type does not match the entry kind");
    if (!root && check_entry(e, S_IFDIR, err) < 0)
        return -1;
    return header(w, e->name, full_mode(e, S_IFDIR), e->uid, e->gid, 2, e->mtime, 0, 0, 0, err);
}

int cpio_write_file(struct cpio_writer *w, const struct cpio_entry *e, const void *data,
                    size_t size, struct error *err)
{
    if (check_entry(e, S_IFREG, err) < 0 ||
        header(w, e->name, full_mode(e, S_IFREG), e->uid, e->gid, 1, e->mtime, size, 0, 0, err) < 0 ||
        emit(w, data, size, err) < 0 || pad4(w, err) < 0)
        return -1;
    return 0;
}

int cpio_write_file_fd(struct cpio_writer *w, const struct cpio_entry *e, int fd, uint64_t size,
                       struct error *err)
{
    if (check_entry(e, S_IFREG, err) < 0 ||
        header(w, e->name, full_mode(e, S_IFREG), e->uid, e->gid, 1, e->mtime, size, 0, 0, err) < 0)
        return -1;
    unsigned char chunk[1 << 15];
    uint64_t left = size;
    while (left > 0) {
        size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
        ssize_t n = read(fd, chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* The header already promised size bytes: the archive is now unusable. */
            w->failed = true;
            if (n < 0)
                return error_set_errno(err, ERR_INTERNAL, "reading %s", e->name);
            return error_set(err, ERR_ABORTED, "%s shrank while being archived", e->name);
        }
        if (emit(w, chunk, (size_t)n, err) < 0)
            return -1;
        left -= (uint64_t)n;
    }
    return pad4(w, err);
}

int cpio_write_symlink(struct cpio_writer *w, const struct cpio_entry *e, const char *target,
                       struct error *err)
{
    size_t len = strlen(target);
    if (check_entry(e, S_IFLNK, err) < 0)
        return -1;
    if (len == 0 || len > CPIO_MAX_NAME)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: symlink target length %zu is out of range", e->name, len);
    if (header(w, e->name, (uint32_t)(S_IFLNK | 0777), e->uid, e->gid, 1, e->mtime, len, 0, 0, err) < 0 ||
        emit(w, target, len, err) < 0 || pad4(w, err) < 0)
        return -1;
    return 0;
}

int cpio_write_node(struct cpio_writer *w, const struct cpio_entry *e, struct error *err)
{
    mode_t type = e->mode & S_IFMT;
    if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s: not a device, fifo or socket mode", e->name);
    if (check_entry(e, type, err) < 0)
        return -1;
    return header(w, e->name, full_mode(e, type), e->uid, e->gid, 1, e->mtime, 0, e->rdev_major,
                  e->rdev_minor, err);
}

int cpio_writer_finish(struct cpio_writer *w, uint64_t *size, char sha256[65], struct error *err)
{
    if (header(w, "TRAILER!!!", 0, 0, 0, 1, 0, 0, 0, 0, err) < 0)
        return -1;
    /* The kernel reads the archive in 512-byte blocks' worth of padding fine
     * either way; pad like cpio(1) does so tools agree on the size. */
    static const unsigned char zeros[512];
    size_t pad = (512 - (w->offset & 511)) & 511;
    if (pad && emit(w, zeros, pad, err) < 0)
        return -1;
    if (flush(w, err) < 0)
        return -1;
    w->finished = true;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen != 32)
        return error_set(err, ERR_INTERNAL, "SHA-256 final failed");
    if (sha256 != NULL)
        encode_hex(md, 32, sha256);
    if (size != NULL)
        *size = w->offset;
    return 0;
}
