/* Staged root filesystem -> newc archive, in a deterministic order. */
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/file.h"

#define TREE_MAX_DEPTH 64
#define AGENT_UID 1000
#define AGENT_GID 1000

struct tree_ctx {
    struct cpio_writer *w;
    uint32_t mtime;
    const char *const *skip;
    size_t n_skip;
};

/* A skip entry is a shell pattern over the whole relative path (fnmatch with
 * FNM_PATHNAME: a star does not cross a slash); a skipped folder is left out
 * with everything in it. */
static bool skipped(const struct tree_ctx *t, const char *rel)
{
    for (size_t i = 0; i < t->n_skip; i++)
        if (fnmatch(t->skip[i], rel, FNM_PATHNAME) == 0)
            return true;
    return false;
}

static uint32_t clamp_time(time_t t)
{
    if (t < 0)
        return 0;
    if ((uint64_t)t > UINT32_MAX)
        return UINT32_MAX;
    return (uint32_t)t;
}

/* What walk_tree does with one entry: name in the folder dfd, rel its path
 * from the root, depth that folder's. */
typedef int (*visit_fn)(void *ctx, int dfd, const char *name, const char *rel, int depth,
                        struct error *err);

/* Calls visit for each entry of the folder dfd (prefix: its path from the
 * root, "" for the root) in byte order; a visit goes on into a folder by
 * calling walk_tree on it with depth + 1. */
static int walk_tree(int dfd, const char *prefix, int depth, visit_fn visit, void *ctx, struct error *err)
{
    if (depth > TREE_MAX_DEPTH)
        return error_set(err, ERR_OUT_OF_RANGE, "%s is nested more than %d folders deep", prefix,
                         TREE_MAX_DEPTH);
    char **names = NULL;
    size_t n = 0;
    if (file_list_sorted(dfd, false, SIZE_MAX, &names, &n, err) < 0)
        return error_prefix(err, "listing %s", prefix[0] ? prefix : "/");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char rel[PATH_MAX];
        int len = prefix[0] ? snprintf(rel, sizeof(rel), "%s/%s", prefix, names[i])
                            : snprintf(rel, sizeof(rel), "%s", names[i]);
        if (len < 0 || (size_t)len >= sizeof(rel)) {
            rc = error_set(err, ERR_OUT_OF_RANGE, "path under %s is too long", prefix);
            break;
        }
        rc = visit(ctx, dfd, names[i], rel, depth, err);
    }
    file_names_free(names, n);
    return rc;
}

static int write_entry(void *ctx, int dfd, const char *name, const char *rel, int depth, struct error *err);

static int write_one(struct tree_ctx *t, int dfd, const char *name, const char *rel, int depth,
                     struct error *err)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return error_set_errno(err, ERR_INTERNAL, "stat %s", rel);
    struct cpio_entry e = {
        .name = rel,
        .mode = st.st_mode,
        .uid = 0,
        .gid = 0,
        .mtime = clamp_time(st.st_mtime),
    };
    /* Nothing in the system is writable by the workload (uid 1000, which
     * has no supplementary groups): no group or other write bit, and no
     * set-id bit (no_new_privs makes them inert; they go all the same).
     * enclave-init checks this at boot and refuses to serve otherwise. */
    if (!S_ISLNK(st.st_mode))
        e.mode &= ~(mode_t)(S_IWGRP | S_IWOTH | S_ISUID | S_ISGID);
    if (S_ISDIR(st.st_mode)) {
        e.mtime = t->mtime;
        if (strcmp(rel, "workspace") == 0) {
            e.uid = AGENT_UID;
            e.gid = AGENT_GID;
        } else if (strcmp(rel, "tmp") == 0) {
            /* A mount point: the init mounts a sized tmpfs here. */
            e.mode = S_IFDIR | 01777;
        }
        if (cpio_write_dir(t->w, &e, err) < 0)
            return -1;
        cleanup_close int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return error_set_errno(err, ERR_INTERNAL, "opening %s", rel);
        return walk_tree(sub, rel, depth + 1, write_entry, t, err);
    }
    if (S_ISREG(st.st_mode)) {
        cleanup_close int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return error_set_errno(err, ERR_INTERNAL, "opening %s", rel);
        return cpio_write_file_fd(t->w, &e, fd, (uint64_t)st.st_size, err);
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
        if (n < 0)
            return error_set_errno(err, ERR_INTERNAL, "readlink %s", rel);
        target[n] = '\0';
        return cpio_write_symlink(t->w, &e, target, err);
    }
    e.rdev_major = major(st.st_rdev);
    e.rdev_minor = minor(st.st_rdev);
    return cpio_write_node(t->w, &e, err);
}

static int write_entry(void *ctx, int dfd, const char *name, const char *rel, int depth, struct error *err)
{
    struct tree_ctx *t = ctx;
    return skipped(t, rel) ? 0 : write_one(t, dfd, name, rel, depth, err);
}

int image_write_tree(struct cpio_writer *w, const char *root_dir, uint32_t mtime,
                     const char *const *skip, size_t n_skip, struct error *err)
{
    cleanup_close int dfd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return error_set_errno(err, ERR_NOT_FOUND, "opening %s", root_dir);
    struct tree_ctx t = {.w = w, .mtime = mtime, .skip = skip, .n_skip = n_skip};
    /* The root first: root's, 0755, whatever the staging folder is. */
    struct cpio_entry root = {.name = ".", .mode = S_IFDIR | 0755, .uid = 0, .gid = 0, .mtime = mtime};
    if (cpio_write_dir(w, &root, err) < 0)
        return -1;
    return walk_tree(dfd, "", 0, write_entry, &t, err);
}

/* ------------------------------------------------------------ the tree for mkfs.erofs */

struct prep_ctx {
    const char *root;
    const char *const *skip;
    size_t n_skip;
};

static int prep_entry(void *ctx, int dfd, const char *name, const char *rel, int depth, struct error *err)
{
    const struct prep_ctx *p = ctx;
    struct tree_ctx t = {.skip = p->skip, .n_skip = p->n_skip};
    if (skipped(&t, rel)) {
        char full[PATH_MAX * 2];
        if (snprintf(full, sizeof(full), "%s/%s", p->root, rel) >= (int)sizeof(full))
            return error_set(err, ERR_OUT_OF_RANGE, "path under %s is too long", p->root);
        return remove_tree(full, err);
    }
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return error_set_errno(err, ERR_INTERNAL, "stat %s", rel);
    if (S_ISLNK(st.st_mode))
        return 0;
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return error_set(err, ERR_FAILED_PRECONDITION, "%s is neither a file, a folder nor a symlink", rel);
    /* As image_write_tree: nothing writable by the workload, no set-id bit. */
    mode_t mode = st.st_mode & 07777 & ~(mode_t)(S_IWGRP | S_IWOTH | S_ISUID | S_ISGID);
    if (S_ISDIR(st.st_mode) && strcmp(rel, "tmp") == 0)
        mode = 01777;
    if (mode != (st.st_mode & 07777) && fchmodat(dfd, name, mode, 0) < 0)
        return error_set_errno(err, ERR_INTERNAL, "chmod %s", rel);
    if (!S_ISDIR(st.st_mode))
        return 0;
    cleanup_close int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return error_set_errno(err, ERR_INTERNAL, "opening %s", rel);
    return walk_tree(sub, rel, depth + 1, prep_entry, ctx, err);
}

int image_prepare_tree(const char *root_dir, const char *const *skip, size_t n_skip, struct error *err)
{
    cleanup_close int dfd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return error_set_errno(err, ERR_NOT_FOUND, "opening %s", root_dir);
    if (fchmod(dfd, 0755) < 0)
        return error_set_errno(err, ERR_INTERNAL, "chmod %s", root_dir);
    struct prep_ctx p = {.root = root_dir, .skip = skip, .n_skip = n_skip};
    return walk_tree(dfd, "", 0, prep_entry, &p, err);
}
