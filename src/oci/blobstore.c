/* Content-addressed blob store: blobs/sha256/<hex>. A blob appears there
 * only by rename(2) after its bytes hashed to its name; downloads in flight
 * live in blobs/partial/<hex> (locked while written) so they can resume. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/file.h"
#include "common/paths.h"
#include "oci/internal.h"

int blobstore_open(struct blobstore *store, const char *blobs_dir, struct error *err)
{
    int n = snprintf(store->root, sizeof(store->root), "%s", blobs_dir);
    if (n < 0 || (size_t)n >= sizeof(store->root) - 100)
        return error_set(err, ERR_INVALID_ARGUMENT, "blob store path too long");
    char sub[4200];
    snprintf(sub, sizeof(sub), "%s/sha256", store->root);
    if (paths_mkdir_p(sub, 0755, err) < 0)
        return -1;
    snprintf(sub, sizeof(sub), "%s/partial", store->root);
    return paths_mkdir_p(sub, 0700, err);
}

int blobstore_open_default(struct blobstore *store, struct error *err)
{
    char dir[4096];
    if (paths_home(dir, sizeof(dir), "cache/blobs", err) < 0)
        return -1;
    return blobstore_open(store, dir, err);
}

int blobstore_path(const struct blobstore *store, const char *digest, char *buf, size_t size)
{
    if (!oci_digest_valid(digest))
        return -1;
    int n = snprintf(buf, size, "%s/sha256/%s", store->root, digest + 7);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

bool blobstore_has(const struct blobstore *store, const char *digest)
{
    char path[4200];
    if (blobstore_path(store, digest, path, sizeof(path)) < 0)
        return false;
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int hash_fd(int fd, EVP_MD_CTX *md, uint64_t *total, struct error *err)
{
    char buf[65536];
    *total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set_errno(err, ERR_INTERNAL, "reading blob");
        if (n == 0)
            return 0;
        EVP_DigestUpdate(md, buf, (size_t)n);
        *total += (uint64_t)n;
    }
}

int blobstore_check(const struct blobstore *store, const char *digest, uint64_t size,
                    struct error *err)
{
    char path[4200];
    if (blobstore_path(store, digest, path, sizeof(path)) < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad digest '%s'", digest);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL,
                               "blob %s", digest);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return error_set(err, ERR_INTERNAL, "cannot start SHA-256");
    }
    uint64_t total = 0;
    char got[72];
    int ret = hash_fd(fd, md, &total, err);
    if (ret == 0)
        ret = oci_digest_final(md, got);
    EVP_MD_CTX_free(md);
    if (ret < 0)
        return -1;
    if (strcmp(got, digest) != 0 || total != size) {
        unlink(path);
        return error_set(err, ERR_DATA_LOSS,
                         "stored blob %s is corrupt (%" PRIu64 " bytes hashing to %s); removed it",
                         digest, total, got);
    }
    return 0;
}

int blobstore_put(const struct blobstore *store, const char *digest, const void *data,
                  size_t len, struct error *err)
{
    struct blob_writer w;
    if (blob_writer_open(store, digest, len, &w, err) < 0)
        return -1;
    if (blobstore_has(store, digest)) {
        blob_writer_discard(&w);
        return 0;
    }
    if (blob_writer_reset(&w, err) < 0 || blob_writer_write(&w, data, len, err) < 0) {
        blob_writer_discard(&w);
        return -1;
    }
    return blob_writer_commit(&w, err);
}

int blobstore_read(const struct blobstore *store, const char *digest, size_t max, char **out,
                   size_t *len, struct error *err)
{
    *out = NULL;
    *len = 0;
    char path[4200];
    if (blobstore_path(store, digest, path, sizeof(path)) < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad digest '%s'", digest);
    char what[128];
    snprintf(what, sizeof(what), "blob %s", digest);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "%s", what);
    cleanup_free char *buf = NULL;
    size_t got = 0;
    if (file_read_fd_all(fd, what, max, &buf, &got, err) < 0)
        return -1;
    char actual[72];
    oci_digest_of(buf, got, actual);
    if (strcmp(actual, digest) != 0) {
        unlink(path);
        return error_set(err, ERR_DATA_LOSS, "stored blob %s is corrupt; removed it", digest);
    }
    *out = steal_pointer(&buf);
    *len = got;
    return 0;
}

/* ------------------------------------------------------------ writer */

int blob_writer_open(const struct blobstore *store, const char *digest, uint64_t expected,
                     struct blob_writer *w, struct error *err)
{
    memset(w, 0, sizeof(*w));
    w->fd = -1;
    if (!oci_digest_valid(digest))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad digest '%s'", digest);
    memcpy(w->digest, digest, 72);
    w->expected = expected;
    snprintf(w->partial, sizeof(w->partial), "%s/partial/%s", store->root, digest + 7);
    snprintf(w->final, sizeof(w->final), "%s/sha256/%s", store->root, digest + 7);
    w->fd = open(w->partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "opening %s", w->partial);
    if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
        close(w->fd);
        w->fd = -1;
        return error_set(err, ERR_ABORTED, "another download of %s is running", digest);
    }
    w->md = EVP_MD_CTX_new();
    if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        blob_writer_release(w);
        return error_set(err, ERR_INTERNAL, "cannot start SHA-256");
    }
    /* what an earlier attempt left: hash it so the resumed bytes continue the digest */
    uint64_t have = 0;
    if (hash_fd(w->fd, w->md, &have, err) < 0) {
        blob_writer_release(w);
        return -1;
    }
    if (have > expected) {
        if (blob_writer_reset(w, err) < 0) {
            blob_writer_release(w);
            return -1;
        }
        have = 0;
    }
    w->offset = have;
    return 0;
}

int blob_writer_reset(struct blob_writer *w, struct error *err)
{
    if (ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0)
        return error_set_errno(err, ERR_INTERNAL, "truncating %s", w->partial);
    if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
        return error_set(err, ERR_INTERNAL, "cannot restart SHA-256");
    w->offset = 0;
    return 0;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct error *err)
{
    if (len > w->expected - w->offset)
        return error_set(err, ERR_DATA_LOSS, "blob %s is longer than its %" PRIu64 " bytes",
                         w->digest, w->expected);
    if (file_write_all(w->fd, data, len) < 0)
        return error_set_errno(err, ERR_INTERNAL, "writing %s", w->partial);
    EVP_DigestUpdate(w->md, data, len);
    w->offset += len;
    return 0;
}

int blob_writer_commit(struct blob_writer *w, struct error *err)
{
    char got[72];
    if (w->offset != w->expected) {
        error_set(err, ERR_DATA_LOSS, "blob %s: got %" PRIu64 " of %" PRIu64 " bytes", w->digest,
                  w->offset, w->expected);
        blob_writer_release(w);
        return -1;
    }
    if (oci_digest_final(w->md, got) < 0 || strcmp(got, w->digest) != 0) {
        error_set(err, ERR_DATA_LOSS,
                  "blob content does not match its digest: expected %s, got %s; deleted it",
                  w->digest, got);
        blob_writer_discard(w);
        return -1;
    }
    if (fsync(w->fd) < 0) {
        error_set_errno(err, ERR_INTERNAL, "syncing %s", w->partial);
        blob_writer_release(w);
        return -1;
    }
    fchmod(w->fd, 0444);
    if (rename(w->partial, w->final) < 0) {
        error_set_errno(err, ERR_INTERNAL, "moving %s into the store", w->digest);
        blob_writer_discard(w);
        return -1;
    }
    /* make the rename itself durable */
    char dir[sizeof(w->final)];
    memcpy(dir, w->final, sizeof(dir));
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    blob_writer_release(w);
    return 0;
}

void blob_writer_release(struct blob_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    EVP_MD_CTX_free(w->md);
    w->md = NULL;
}

void blob_writer_discard(struct blob_writer *w)
{
    if (w->fd >= 0)
        unlink(w->partial);
    blob_writer_release(w);
}
