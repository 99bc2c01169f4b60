/* Reading small files whole, with a size limit; removing a tree. */
#ifndef ENCLAVE_COMMON_FILE_H
#define ENCLAVE_COMMON_FILE_H

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
