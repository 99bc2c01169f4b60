#include "common/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

/* The one read loop: reads fd into a new buffer of cap bytes (plus a NUL)
 * until EOF. When it is full, a fixed buffer ends the read (what fstat
 * said the size was: a file that grew meanwhile is cut); otherwise it
 * grows, doubling, to at most max + 1 bytes, so that more than max is seen
 * and refused. */
static int read_bounded(int fd, const char *what, size_t max, size_t cap, bool fixed, char **out,
                        size_t *len, struct error *err)
{
    *out = NULL;
    *len = 0;
    cleanup_free char *buf = malloc(cap + 1);
    if (buf == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    size_t got = 0;
    for (;;) {
        if (got == cap) {
            if (fixed)
                break;
            if (cap > max)
                return error_set(err, ERR_RESOURCE_EXHAUSTED, "%s is over %zu bytes", what, max);
            size_t next = cap > max / 2 ? max + 1 : cap * 2;
            char *nb = realloc(buf, next + 1);
            if (nb == NULL)
                return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            buf = nb;
            cap = next;
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set_errno(err, ERR_INTERNAL, "reading %s", what);
        if (n == 0)
            break; /* a file that shrank meanwhile ends early */
        got += (size_t)n;
    }
    if (got > max)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%s is over %zu bytes", what, max);
    buf[got] = '\0';
    *out = steal_pointer(&buf);
    *len = got;
    return 0;
}

int file_read_fd_all(int fd, const char *what, size_t max, char **out, size_t *len,
                     struct error *err)
{
    *out = NULL;
    *len = 0;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_set_errno(err, ERR_INTERNAL, "stat %s", what);
    if (!S_ISREG(st.st_mode))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s is not a regular file", what);
    if ((uint64_t)st.st_size > max)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%s is over %zu bytes", what, max);
    return read_bounded(fd, what, max, (size_t)st.st_size, true, out, len, err);
}

int file_read_stream_all(int fd, const char *what, size_t max, char **out, size_t *len,
                         struct error *err)
{
    return read_bounded(fd, what, max, max < 4096 ? max + 1 : 4096, false, out, len, err);
}

int file_read_all(const char *path, size_t max, char **out, size_t *len, struct error *err)
{
    *out = NULL;
    *len = 0;
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "opening %s",
                               path);
    return file_read_fd_all(fd, path, max, out, len, err);
}

static enum error_kind kind_of_errno(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
    case EROFS:
        return ERR_PERMISSION_DENIED;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return ERR_RESOURCE_EXHAUSTED;
    case ENOENT:
    case ENOTDIR:
        return ERR_NOT_FOUND;
    default:
        return ERR_INTERNAL;
    }
}

int file_write_all(int fd, const void *buf, size_t len)
{
    const char *data = buf;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* no progress: do not spin */
            errno = EIO;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Creates a new temporary file beside name: ".NAME.tmp-XXXXXXXX", hidden so
 * that folder listings pass it over, 0600 until it is complete. */
static int create_temporary(int dirfd, const char *name, char *tmp, size_t size)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int attempt = 0; attempt < 64; attempt++) {
        unsigned char rnd[8];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return -1;
        char suffix[sizeof(rnd) + 1];
        for (size_t i = 0; i < sizeof(rnd); i++)
            suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        suffix[sizeof(rnd)] = '\0';
        /* at most NAME_MAX: a long name is cut in the temporary's */
        snprintf(tmp, size, ".%.200s.tmp-%s", name, suffix);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* The process's umask without changing it (umask(2) would, for a moment,
 * for every thread); when it cannot be read, the strictest. */
static mode_t current_umask(void)
{
    cleanup_fclose FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        unsigned mask;
        if (sscanf(line, "Umask: %o", &mask) == 1)
            return (mode_t)(mask & 0777);
    }
    return 077;
}

static void replacement_end(struct file_replacement *r)
{
    if (r->fd >= 0)
        close(r->fd);
    if (r->dirfd >= 0)
        close(r->dirfd);
    r->fd = r->dirfd = -1;
    free(r->what);
    r->what = NULL;
}

int file_replace_begin_at(struct file_replacement *r, int dirfd, const char *name,
                          const char *what, const struct file_replace_options *opt,
                          struct error *err)
{
    *r = (struct file_replacement)FILE_REPLACEMENT_INIT;
    if (name[0] == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || strlen(name) > NAME_MAX)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s does not name a file", what);
    mode_t mode = opt->mode & 07777;
    if (opt->umask)
        mode &= ~current_umask();
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode) && opt->links != FILE_LINK_REPLACE)
            return error_set(err, ERR_FAILED_PRECONDITION,
                             "%s is a symbolic link; refusing to replace it", what);
        if (opt->no_replace)
            return error_set(err, ERR_ALREADY_EXISTS, "%s exists", what);
        /* a rename cannot put a file there: say so before anything is written */
        if (S_ISDIR(st.st_mode))
            return error_set(err, ERR_FAILED_PRECONDITION, "%s is a folder", what);
        if (opt->keep_mode && fstatat(dirfd, name, &st, 0) == 0 && S_ISREG(st.st_mode))
            mode = st.st_mode & 07777;
    } else if (errno != ENOENT) {
        return error_set_errno(err, kind_of_errno(errno), "stat %s", what);
    }
    r->mode = mode;
    r->no_replace = opt->no_replace;
    r->no_sync = opt->no_sync;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->what = strdup(what);
    r->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (r->what == NULL || r->dirfd < 0) {
        int e = errno;
        replacement_end(r);
        return error_set_errno(err, e == ENOMEM ? ERR_RESOURCE_EXHAUSTED : ERR_INTERNAL,
                               "preparing to replace %s", what);
    }
    r->fd = create_temporary(r->dirfd, name, r->tmp, sizeof(r->tmp));
    if (r->fd < 0) {
        int e = errno;
        replacement_end(r);
        errno = e;
        return error_set_errno(err, kind_of_errno(e), "creating a temporary file beside %s",
                               what);
    }
    return 0;
}

int file_replace_begin(struct file_replacement *r, const char *path,
                       const struct file_replace_options *opt, struct error *err)
{
    *r = (struct file_replacement)FILE_REPLACEMENT_INIT;
    cleanup_free char *resolved = NULL;
    const char *target = path;
    if (opt->links == FILE_LINK_FOLLOW) {
        resolved = realpath(path, NULL);
        if (resolved == NULL && errno != ENOENT)
            return error_set_errno(err, kind_of_errno(errno), "resolving %s", path);
        if (resolved != NULL)
            target = resolved;
    }
    cleanup_free char *dcopy = strdup(target), *bcopy = strdup(target);
    if (dcopy == NULL || bcopy == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    size_t n = strlen(target);
    if (n == 0 || target[n - 1] == '/')
        return error_set(err, ERR_INVALID_ARGUMENT, "%s does not name a file", path);
    const char *dir = dirname(dcopy), *base = basename(bcopy);
    cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return error_set_errno(err, kind_of_errno(errno), "opening the folder of %s", path);
    return file_replace_begin_at(r, dirfd, base, path, opt, err);
}

void file_replace_abort(struct file_replacement *r)
{
    if (r->fd < 0 && r->dirfd < 0)
        return;
    if (r->fd >= 0)
        unlinkat(r->dirfd, r->tmp, 0);
    replacement_end(r);
}

int file_replace_commit(struct file_replacement *r, struct error *err)
{
    if (r->fd < 0)
        return error_set(err, ERR_INTERNAL, "replacing a file that was already ended");
    const char *step = NULL;
    if (fchmod(r->fd, r->mode) < 0)
        step = "setting the mode of";
    else if (!r->no_sync && fsync(r->fd) < 0)
        step = "syncing";
    int saved = errno;
    /* close reports late write errors on some file systems */
    int fd = steal_fd(&r->fd);
    if (close(fd) < 0 && step == NULL) {
        step = "writing";
        saved = errno;
    }
    bool exists = false;
    if (step == NULL) {
        int rc = r->no_replace ? linkat(r->dirfd, r->tmp, r->dirfd, r->name, 0)
                               : renameat(r->dirfd, r->tmp, r->dirfd, r->name);
        if (rc < 0) {
            exists = r->no_replace && errno == EEXIST;
            step = "replacing";
            saved = errno;
        }
    }
    if (step != NULL || r->no_replace)
        unlinkat(r->dirfd, r->tmp, 0);
    int rc = 0;
    if (exists)
        rc = error_set(err, ERR_ALREADY_EXISTS, "%s exists", r->what);
    else if (step != NULL) {
        errno = saved;
        rc = error_set_errno(err, kind_of_errno(saved), "%s %s", step, r->what);
    } else if (!r->no_sync) {
        /* the rename is done: a folder that cannot be synced (some file
         * systems refuse) does not undo it */
        fsync(r->dirfd);
    }
    replacement_end(r);
    return rc;
}

int file_replace_at(int dirfd, const char *name, const char *what, const void *data, size_t len,
                    const struct file_replace_options *opt, struct error *err)
{
    cleanup_file_replacement struct file_replacement r = FILE_REPLACEMENT_INIT;
    if (file_replace_begin_at(&r, dirfd, name, what, opt, err) < 0)
        return -1;
    if (file_write_all(r.fd, data, len) < 0)
        return error_set_errno(err, kind_of_errno(errno), "writing %s", what);
    return file_replace_commit(&r, err);
}

int file_replace(const char *path, const void *data, size_t len,
                 const struct file_replace_options *opt, struct error *err)
{
    cleanup_file_replacement struct file_replacement r = FILE_REPLACEMENT_INIT;
    if (file_replace_begin(&r, path, opt, err) < 0)
        return -1;
    if (file_write_all(r.fd, data, len) < 0)
        return error_set_errno(err, kind_of_errno(errno), "writing %s", path);
    return file_replace_commit(&r, err);
}

int file_sync_dir(const char *path)
{
    cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return fsync(fd);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int remove_tree(const char *path, struct error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : error_set_errno(err, ERR_INTERNAL, "stat %s", path);
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) < 0)
        return error_set_errno(err, ERR_INTERNAL, "removing %s", path);
    return 0;
}

off_t file_copy_fd(int in, int out)
{
    off_t total = 0;
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1u << 30, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) && total == 0)
            break; /* fall back to read/write */
        if (n < 0)
            return -1;
        if (n == 0)
            return total;
        total += n;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return total;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -1;
            off += w;
        }
        total += n;
    }
}

static int byte_order(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void file_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int file_list_sorted(int dirfd, bool skip_hidden, size_t max, char ***out, size_t *n_out,
                     struct error *err)
{
    *out = NULL;
    *n_out = 0;
    int fd = dup(dirfd);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "dup");
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return error_set_errno(err, ERR_INTERNAL, "opendir");
    }
    rewinddir(d);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            (skip_hidden && de->d_name[0] == '.'))
            continue;
        if (n >= max) {
            rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "more than %zu entries", max);
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nn = realloc(names, ncap * sizeof(*names));
            if (nn == NULL) {
                rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                break;
            }
            names = nn;
            cap = ncap;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc < 0) {
        file_names_free(names, n);
        return -1;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), byte_order);
    *out = names;
    *n_out = n;
    return 0;
}
