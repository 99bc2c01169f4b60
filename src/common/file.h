/* Reading small files whole, with a size limit; replacing a file atomically;
 * removing a tree. */
#ifndef ENCLAVE_COMMON_FILE_H
#define ENCLAVE_COMMON_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

/* Reads the regular file at path, at most max bytes, into a new buffer with a
 * NUL after the content (*len excludes it). Fails with ERR_NOT_FOUND when it
 * does not exist, ERR_INVALID_ARGUMENT when it is not a regular file, and
 * ERR_RESOURCE_EXHAUSTED when it is larger than max. */
int file_read_all(const char *path, size_t max, char **out, size_t *len, struct error *err);
/* The same from an open descriptor; what names it in messages. */
int file_read_fd_all(int fd, const char *what, size_t max, char **out, size_t *len,
                     struct error *err);
/* Reads fd until EOF whatever it is (a pipe, a terminal, a file), at most
 * max bytes, into a new buffer with a NUL after the content: for standard
 * input. More than max is ERR_RESOURCE_EXHAUSTED. */
int file_read_stream_all(int fd, const char *what, size_t max, char **out, size_t *len,
                         struct error *err);

/* How file_replace treats a target that is a symbolic link. */
enum file_link_policy {
    FILE_LINK_REPLACE, /* the link itself is replaced by the new file (rename's own way) */
    FILE_LINK_FOLLOW,  /* the file it points to is replaced; the link stays (file_replace only) */
    FILE_LINK_REFUSE,  /* ERR_FAILED_PRECONDITION, nothing written */
};

struct file_replace_options {
    mode_t mode;                 /* the new file's permission bits, exactly (unless umask) */
    bool keep_mode;              /* an existing target's permission bits instead of mode */
    bool no_replace;             /* an existing target is kept: ERR_ALREADY_EXISTS */
    bool umask;                  /* mode less the process's umask, as open(2) would make it */
    bool no_sync;                /* for files that need not outlive the machine (pid files):
                                  * no fsync of the file or the folder; readers still see
                                  * the old file or the new one, whole */
    enum file_link_policy links;
};

/* Replaces the file at path with len bytes of data so that a reader or a
 * crash sees the old file or the new one, whole: a temporary file in the same
 * folder (created exclusively, never through a link, readable only by its
 * owner until it is complete), written, given its mode, synced, renamed over
 * path (with no_replace, linked to it instead, so that a file someone made
 * meanwhile is kept), then the folder synced. On failure the old file is
 * untouched and the temporary is removed; messages name path. */
int file_replace(const char *path, const void *data, size_t len,
                 const struct file_replace_options *opt, struct error *err);
/* The same for name in the folder dirfd (name has no '/'; FILE_LINK_FOLLOW
 * acts as FILE_LINK_REFUSE); what names the file in messages. */
int file_replace_at(int dirfd, const char *name, const char *what, const void *data, size_t len,
                    const struct file_replace_options *opt, struct error *err);

/* A replacement written in parts, for content that is streamed rather than
 * held in memory. file_replace_begin checks the target and creates the
 * temporary as file_replace does; the caller writes the content to fd (and
 * never closes it: a FILE may write to a dup of it); file_replace_commit then
 * gives it its mode, syncs it, renames (or links) it over the target and syncs
 * the folder, and file_replace_abort removes it. Commit and abort each end the
 * replacement, and a failed commit removes the temporary too. Abort after
 * either, or on FILE_REPLACEMENT_INIT, does nothing, so that a cleanup
 * attribute (cleanup_file_replacement) can always call it: a caller that
 * returns early leaves neither the target half written nor a temporary. */
struct file_replacement {
    int fd;    /* the temporary, open for writing; -1 once ended */
    int dirfd; /* the target's folder (owned) */
    mode_t mode;
    bool no_replace, no_sync;
    char *what; /* names the target in messages */
    char name[NAME_MAX + 1], tmp[NAME_MAX + 1];
};
#define FILE_REPLACEMENT_INIT {.fd = -1, .dirfd = -1}

int file_replace_begin(struct file_replacement *r, const char *path,
                       const struct file_replace_options *opt, struct error *err);
int file_replace_begin_at(struct file_replacement *r, int dirfd, const char *name,
                          const char *what, const struct file_replace_options *opt,
                          struct error *err);
int file_replace_commit(struct file_replacement *r, struct error *err);
void file_replace_abort(struct file_replacement *r);
#define cleanup_file_replacement __attribute__((cleanup(file_replace_abort)))

/* Writes all len bytes to fd, again after a short write or EINTR. Returns
 * -1 with errno on failure. */
int file_write_all(int fd, const void *data, size_t len);
/* fsync of the folder at path, so that names made or renamed in it last.
 * Returns -1 with errno on failure. */
int file_sync_dir(const char *path);

/* Removes path and, when it is a folder, everything below it, without
 * following symbolic links. A path that does not exist is not an error. */
int remove_tree(const char *path, struct error *err);

/* The names in the folder dirfd, sorted by bytes, without "." and ".." (and
 * with skip_hidden, without any that starts with a dot). More than max is
 * ERR_RESOURCE_EXHAUSTED. Free them with file_names_free. */
int file_list_sorted(int dirfd, bool skip_hidden, size_t max, char ***names, size_t *n,
                     struct error *err);
void file_names_free(char **names, size_t n);
/* Copies the rest of in to out, in the kernel where it can (copy_file_range:
 * a reflink on file systems that share extents), else by read and write.
 * Returns the bytes copied, or -1 with errno. */
off_t file_copy_fd(int in, int out);
#endif
