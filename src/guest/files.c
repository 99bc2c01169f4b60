/* File operations under /workspace and /tmp.
 *
 * Every path is resolved relative to a directory fd of its root with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), so
 * whatever the workload plants (a symlink, a "..", a link to /proc/self/root)
 * cannot lead the init outside the root. The work is done with the file
 * system uid and gid of the workload user (setfsuid/setfsgid, per thread: the
 * init has one): what is created belongs to uid 1000 and what uid 1000 may
 * not touch is refused, as it would be to the workload itself.
 *
 * Reads and writes stream in chunks with credit (guest.proto): neither side
 * ever holds more than a window of a file. */
#include "guest/guest.h"
#include "guest/server_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name
#define MAX_REMOVE_DEPTH 64
#define CHUNKS_PER_PUMP 4

/* ---------------------------------------------------------------- paths */

int guest_path_split(const char *path, int *root, const char **rel, const char **why)
{
    static const char *const roots[] = {GUEST_WORKSPACE, GUEST_TMP};
    if (!path || path[0] != '/') {
        *why = "the path must be absolute (under /workspace or /tmp)";
        return CODE(INVALID);
    }
    if (strlen(path) > GUEST_MAX_PATH) {
        *why = "the path is too long";
        return CODE(TOO_LARGE);
    }
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(roots[i]);
        if (strncmp(path, roots[i], n) != 0 || (path[n] != '\0' && path[n] != '/'))
            continue;
        const char *r = path + n;
        while (*r == '/')
            r++;
        *root = i;
        *rel = *r ? r : ".";
        return 0;
    }
    *why = "only paths under /workspace and /tmp are served";
    return CODE(PERMISSION);
}

int guest_path_open(int root_fd, const char *rel, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd;
    do
        fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : (int)fd;
}

int guest_path_open_parent(int root_fd, const char *rel, char *name, size_t name_len)
{
    size_t n = strlen(rel);
    while (n > 1 && rel[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && rel[start - 1] != '/')
        start--;
    size_t base_len = n - start;
    if (base_len == 0 || base_len >= name_len || (base_len == 1 && rel[start] == '.') ||
        (base_len == 2 && rel[start] == '.' && rel[start + 1] == '.'))
        return -EINVAL;
    memcpy(name, rel + start, base_len);
    name[base_len] = '\0';
    if (start == 0)
        return guest_path_open(root_fd, ".", O_PATH | O_DIRECTORY, 0);
    char *parent = strndup(rel, start);
    if (!parent)
        return -ENOMEM;
    int fd = guest_path_open(root_fd, parent, O_PATH | O_DIRECTORY, 0);
    free(parent);
    return fd;
}

int guest_file_errno_code(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return CODE(NOT_FOUND);
    case ELOOP:
    case EXDEV:
    case EACCES:
    case EPERM:
        return CODE(PERMISSION);
    case EEXIST:
    case ENOTEMPTY:
        return CODE(EXISTS);
    case EINVAL:
    case EISDIR:
    case ENXIO: /* a FIFO without a reader */
        return CODE(INVALID);
    case ENAMETOOLONG:
    case EFBIG:
        return CODE(TOO_LARGE);
    default:
        return CODE(IO);
    }
}

static const char *errno_message(int err)
{
    switch (err) {
    case ELOOP:
        return "the path goes through a symbolic link (refused)";
    case EXDEV:
        return "the path leads outside its root (refused)";
    case ENOENT:
        return "no such file or folder";
    case ENOTDIR:
        return "a component of the path is not a folder";
    case ENXIO:
        return "not a regular file";
    default:
        return strerror(err);
    }
}

/* ---------------------------------------------------------------- state */

struct transfer {
    uint64_t id;
    struct conn *conn;
    bool write;
    int fd;
    uint64_t credit;  /* read: bytes the host still takes; write: bytes it may still send */
    uint64_t bytes;   /* transferred so far */
    uint64_t max_size;
};

struct guest_files {
    const char *dirs[2];
    struct transfer *t[GUEST_MAX_FILE_OPS];
    size_t n;
};

struct guest_files *guest_files_new(const char *workspace_dir, const char *tmp_dir)
{
    struct guest_files *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->dirs[0] = workspace_dir ? workspace_dir : GUEST_WORKSPACE;
    f->dirs[1] = tmp_dir ? tmp_dir : GUEST_TMP;
    return f;
}

static void transfer_remove(struct guest_files *f, size_t i)
{
    struct transfer *t = f->t[i];
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    f->t[i] = f->t[--f->n];
}

void guest_files_free(struct guest_files *f)
{
    if (!f)
        return;
    while (f->n > 0)
        transfer_remove(f, f->n - 1);
    free(f);
}

static struct transfer *find(struct guest_files *f, const struct conn *c, uint64_t id, size_t *index)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (f->t[i]->conn == c && f->t[i]->id == id) {
            if (index)
                *index = i;
            return f->t[i];
        }
    return NULL;
}

/* The workload user's view of the file system, for the calls in between. */
struct fs_identity {
    int uid, gid;
};
static struct fs_identity as_workload(void)
{
    struct fs_identity old = {setfsuid(GUEST_WORKLOAD_UID), setfsgid(GUEST_WORKLOAD_GID)};
    return old;
}
static void as_init(struct fs_identity old)
{
    setfsgid((gid_t)old.gid);
    setfsuid((uid_t)old.uid);
}

static void fill_info(Guest__V1__FileInfo *info, const char *name, const struct stat *st)
{
    info->name = (char *)name;
    info->type = S_ISREG(st->st_mode)   ? GUEST__V1__FILE_INFO__TYPE__TYPE_FILE
                 : S_ISDIR(st->st_mode) ? GUEST__V1__FILE_INFO__TYPE__TYPE_DIRECTORY
                 : S_ISLNK(st->st_mode) ? GUEST__V1__FILE_INFO__TYPE__TYPE_SYMLINK
                                        : GUEST__V1__FILE_INFO__TYPE__TYPE_OTHER;
    info->size = (uint64_t)st->st_size;
    info->mode = st->st_mode & 07777;
    info->mtime_unix_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    info->uid = st->st_uid;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static void send_response(struct guest_server *s, struct conn *c, uint64_t id, Guest__V1__FileResponse *r)
{
    Guest__V1__Frame fr = GUEST__V1__FRAME__INIT;
    fr.id = id;
    fr.body_case = GUEST__V1__FRAME__BODY_FILE_RESPONSE;
    fr.file_response = r;
    guest_server_send(s, c, &fr);
}

static void send_errno(struct guest_server *s, struct conn *c, uint64_t id, int err)
{
    guest_server_send_error(s, c, id, guest_file_errno_code(err), errno_message(err));
}

static void send_credit(struct guest_server *s, struct conn *c, uint64_t id, uint64_t bytes)
{
    Guest__V1__Frame fr = GUEST__V1__FRAME__INIT;
    Guest__V1__FileCredit cr = GUEST__V1__FILE_CREDIT__INIT;
    cr.bytes = bytes;
    fr.id = id;
    fr.body_case = GUEST__V1__FRAME__BODY_FILE_CREDIT;
    fr.file_credit = &cr;
    guest_server_send(s, c, &fr);
}

/* ---------------------------------------------------------------- operations */

static int by_name(const void *a, const void *b)
{
    const Guest__V1__FileInfo *x = *(Guest__V1__FileInfo *const *)a;
    const Guest__V1__FileInfo *y = *(Guest__V1__FileInfo *const *)b;
    return strcmp(x->name, y->name);
}

static void op_stat(struct guest_server *s, struct conn *c, uint64_t id, int root, const char *rel, const char *path)
{
    /* O_PATH|O_NOFOLLOW: a symlink itself can be looked at, not followed. */
    int fd = guest_path_open(root, rel, O_PATH | O_NOFOLLOW, 0);
    if (fd < 0) {
        send_errno(s, c, id, -fd);
        return;
    }
    struct stat st;
    int r = fstat(fd, &st);
    int err = errno;
    close(fd);
    if (r < 0) {
        send_errno(s, c, id, err);
        return;
    }
    Guest__V1__FileResponse resp = GUEST__V1__FILE_RESPONSE__INIT;
    Guest__V1__FileInfo info = GUEST__V1__FILE_INFO__INIT;
    fill_info(&info, base_name(path), &st);
    resp.info = &info;
    send_response(s, c, id, &resp);
}

static void op_list(struct guest_server *s, struct conn *c, uint64_t id, int root, const char *rel)
{
    int fd = guest_path_open(root, rel, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) {
        send_errno(s, c, id, -fd);
        return;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        send_errno(s, c, id, err);
        return;
    }
    Guest__V1__FileInfo **entries = NULL;
    size_t n = 0, cap = 0;
    bool truncated = false, failed = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n >= GUEST_MAX_LIST) {
            truncated = true;
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* gone meanwhile */
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            Guest__V1__FileInfo **grown = realloc(entries, ncap * sizeof(*grown));
            if (!grown) {
                failed = true;
                break;
            }
            entries = grown;
            cap = ncap;
        }
        Guest__V1__FileInfo *info = malloc(sizeof(*info));
        char *name = strdup(de->d_name);
        if (!info || !name) {
            free(info);
            free(name);
            failed = true;
            break;
        }
        guest__v1__file_info__init(info);
        fill_info(info, name, &st);
        entries[n++] = info;
    }
    closedir(d);
    if (failed) {
        guest_server_send_error(s, c, id, CODE(BUSY), "out of memory listing the folder");
    } else {
        if (n > 1)
            qsort(entries, n, sizeof(*entries), by_name);
        Guest__V1__FileResponse resp = GUEST__V1__FILE_RESPONSE__INIT;
        resp.entries = entries;
        resp.n_entries = n;
        resp.entries_truncated = truncated;
        send_response(s, c, id, &resp);
    }
    for (size_t i = 0; i < n; i++) {
        free(entries[i]->name);
        free(entries[i]);
    }
    free(entries);
}

/* mkdir of every missing component of rel (parents) or of the last only. */
static int make_dirs(int root, const char *rel, mode_t mode, bool parents)
{
    char name[256];
    if (!parents) {
        int pfd = guest_path_open_parent(root, rel, name, sizeof(name));
        if (pfd < 0)
            return pfd;
        int r = mkdirat(pfd, name, mode);
        int err = errno;
        close(pfd);
        return r < 0 ? -err : 0;
    }
    char *copy = strdup(rel);
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    for (char *p = copy;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (copy[0] != '\0' && strcmp(copy, ".") != 0) {
            int fd = guest_path_open(root, copy, O_PATH | O_DIRECTORY, 0);
            if (fd >= 0) {
                close(fd);
            } else if (fd == -ENOENT) {
                int pfd = guest_path_open_parent(root, copy, name, sizeof(name));
                if (pfd < 0) {
                    rc = pfd;
                    break;
                }
                int r = mkdirat(pfd, name, mode);
                int err = errno;
                close(pfd);
                if (r < 0 && err != EEXIST) {
                    rc = -err;
                    break;
                }
            } else {
                rc = fd;
                break;
            }
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(copy);
    return rc;
}

static void op_mkdir(struct guest_server *s, struct conn *c, uint64_t id, int root, const char *rel,
                     const Guest__V1__FileRequest *req)
{
    mode_t mode = req->mode ? (mode_t)(req->mode & 0777) : 0755;
    int r = make_dirs(root, rel, mode, req->parents);
    if (r == -EEXIST && req->parents)
        r = 0;
    if (r < 0) {
        send_errno(s, c, id, -r);
        return;
    }
    op_stat(s, c, id, root, rel, req->path);
}

/* Removes everything in dir_fd, never following a symlink (unlinkat removes
 * the link itself). */
static int remove_contents(int dir_fd, int depth)
{
    if (depth > MAX_REMOVE_DEPTH)
        return -ELOOP;
    int fd = dup(dir_fd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dir_fd, de->d_name, 0) == 0)
            continue;
        if (errno != EISDIR && errno != EPERM) {
            rc = -errno;
            break;
        }
        int sub = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            rc = -errno;
            break;
        }
        rc = remove_contents(sub, depth + 1);
        close(sub);
        if (rc < 0)
            break;
        if (unlinkat(dir_fd, de->d_name, AT_REMOVEDIR) < 0) {
            rc = -errno;
            break;
        }
    }
    closedir(d);
    return rc;
}

static void op_remove(struct guest_server *s, struct conn *c, uint64_t id, int root, const char *rel,
                      const Guest__V1__FileRequest *req)
{
    char name[256];
    int pfd = guest_path_open_parent(root, rel, name, sizeof(name));
    if (pfd < 0) {
        guest_server_send_error(s, c, id, pfd == -EINVAL ? CODE(INVALID) : guest_file_errno_code(-pfd),
                                pfd == -EINVAL ? "cannot remove a root folder or a path ending in . or .."
                                               : errno_message(-pfd));
        return;
    }
    struct stat st;
    int rc = 0;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = -errno;
    } else if (S_ISDIR(st.st_mode)) {
        if (req->recursive) {
            int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = dfd < 0 ? -errno : remove_contents(dfd, 0);
            if (dfd >= 0)
                close(dfd);
        }
        if (rc == 0 && unlinkat(pfd, name, AT_REMOVEDIR) < 0)
            rc = -errno;
    } else if (unlinkat(pfd, name, 0) < 0) {
        rc = -errno;
    }
    close(pfd);
    if (rc < 0) {
        send_errno(s, c, id, -rc);
        return;
    }
    Guest__V1__FileResponse resp = GUEST__V1__FILE_RESPONSE__INIT;
    send_response(s, c, id, &resp);
}

static void start_transfer(struct guest_server *s, struct guest_files *f, struct conn *c, uint64_t id,
                           int root, const char *rel, const Guest__V1__FileRequest *req)
{
    bool write = req->op == GUEST__V1__FILE_REQUEST__OP__OP_WRITE;
    if (f->n >= GUEST_MAX_FILE_OPS) {
        guest_server_send_error(s, c, id, CODE(BUSY), "too many file transfers in flight");
        return;
    }
    if (!write && req->window > GUEST_FILE_MAX_WINDOW) {
        guest_server_send_error(s, c, id, CODE(TOO_LARGE), "read window over the limit");
        return;
    }
    int fd;
    /* O_NONBLOCK: a FIFO planted by the workload must not block the open. */
    if (write) {
        char name[256];
        int pfd = guest_path_open_parent(root, rel, name, sizeof(name));
        if (pfd < 0) {
            guest_server_send_error(s, c, id, pfd == -EINVAL ? CODE(INVALID) : guest_file_errno_code(-pfd),
                                    pfd == -EINVAL ? "cannot write to a folder path" : errno_message(-pfd));
            return;
        }
        fd = guest_path_open(pfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK,
                             req->mode ? (mode_t)(req->mode & 0777) : 0644);
        close(pfd);
    } else {
        fd = guest_path_open(root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
    }
    if (fd < 0) {
        send_errno(s, c, id, -fd);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        guest_server_send_error(s, c, id, CODE(INVALID), "not a regular file");
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct transfer *t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        guest_server_send_error(s, c, id, CODE(BUSY), "out of memory");
        return;
    }
    t->id = id;
    t->conn = c;
    t->write = write;
    t->fd = fd;
    t->max_size = req->max_size ? req->max_size : UINT64_MAX;
    if (write) {
        t->credit = GUEST_FILE_WRITE_WINDOW;
        f->t[f->n++] = t;
        send_credit(s, c, id, GUEST_FILE_WRITE_WINDOW);
    } else {
        t->credit = req->window ? req->window : GUEST_FILE_CHUNK * 4u;
        f->t[f->n++] = t;
    }
}

void guest_files_request(struct guest_server *s, struct guest_files *f, struct conn *c, uint64_t id,
                         const Guest__V1__FileRequest *req)
{
    int which;
    const char *rel, *why;
    int code = guest_path_split(req->path, &which, &rel, &why);
    if (code) {
        guest_server_send_error(s, c, id, code, why);
        return;
    }
    if (find(f, c, id, NULL)) {
        guest_server_send_error(s, c, id, CODE(INVALID), "a transfer with this id is in flight");
        return;
    }
    struct fs_identity old = as_workload();
    int root = open(f->dirs[which], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) {
        int err = errno;
        as_init(old);
        guest_server_send_error(s, c, id, CODE(IO), err == ENOENT ? "the root folder is missing" : strerror(err));
        return;
    }
    switch (req->op) {
    case GUEST__V1__FILE_REQUEST__OP__OP_STAT:
        op_stat(s, c, id, root, rel, req->path);
        break;
    case GUEST__V1__FILE_REQUEST__OP__OP_LIST:
        op_list(s, c, id, root, rel);
        break;
    case GUEST__V1__FILE_REQUEST__OP__OP_MKDIR:
        op_mkdir(s, c, id, root, rel, req);
        break;
    case GUEST__V1__FILE_REQUEST__OP__OP_REMOVE:
        op_remove(s, c, id, root, rel, req);
        break;
    case GUEST__V1__FILE_REQUEST__OP__OP_READ:
    case GUEST__V1__FILE_REQUEST__OP__OP_WRITE:
        start_transfer(s, f, c, id, root, rel, req);
        break;
    default:
        guest_server_send_error(s, c, id, CODE(INVALID), "unknown file operation");
        break;
    }
    close(root);
    as_init(old);
}

static void finish_transfer(struct guest_server *s, struct guest_files *f, size_t i)
{
    struct transfer *t = f->t[i];
    struct stat st;
    if (fstat(t->fd, &st) < 0) {
        send_errno(s, t->conn, t->id, errno);
        transfer_remove(f, i);
        return;
    }
    Guest__V1__FileResponse resp = GUEST__V1__FILE_RESPONSE__INIT;
    Guest__V1__FileInfo info = GUEST__V1__FILE_INFO__INIT;
    fill_info(&info, "", &st);
    resp.info = &info;
    resp.bytes = t->bytes;
    send_response(s, t->conn, t->id, &resp);
    transfer_remove(f, i);
}

void guest_files_chunk(struct guest_server *s, struct guest_files *f, struct conn *c, uint64_t id,
                       const Guest__V1__FileChunk *chunk)
{
    size_t i;
    struct transfer *t = find(f, c, id, &i);
    /* Chunks of a transfer that already failed (and was answered) are still
     * on their way: they are dropped without a word. */
    if (!t || !t->write)
        return;
    if (chunk->data.len > GUEST_FILE_MAX_CHUNK || chunk->data.len > t->credit) {
        guest_server_send_error(s, c, id, CODE(TOO_LARGE), "a chunk past the credit granted");
        transfer_remove(f, i);
        return;
    }
    if (t->bytes + chunk->data.len > t->max_size) {
        guest_server_send_error(s, c, id, CODE(TOO_LARGE), "the file is larger than max_size");
        transfer_remove(f, i);
        return;
    }
    size_t off = 0;
    while (off < chunk->data.len) {
        ssize_t n = write(t->fd, chunk->data.data + off, chunk->data.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            send_errno(s, c, id, n < 0 ? errno : ENOSPC);
            transfer_remove(f, i);
            return;
        }
        off += (size_t)n;
    }
    t->bytes += chunk->data.len;
    t->credit -= chunk->data.len;
    if (chunk->eof) {
        finish_transfer(s, f, i);
        return;
    }
    /* Written: the same room again. */
    if (chunk->data.len > 0) {
        t->credit += chunk->data.len;
        send_credit(s, c, id, chunk->data.len);
    }
}

void guest_files_credit(struct guest_files *f, struct conn *c, uint64_t id, const Guest__V1__FileCredit *credit)
{
    struct transfer *t = find(f, c, id, NULL);
    if (!t || t->write)
        return;
    t->credit += credit->bytes;
    if (t->credit > GUEST_FILE_MAX_WINDOW)
        t->credit = GUEST_FILE_MAX_WINDOW; /* a host that over-grants gets no more than this */
}

bool guest_files_cancel(struct guest_server *s, struct guest_files *f, struct conn *c, uint64_t id)
{
    size_t i;
    struct transfer *t = find(f, c, id, &i);
    if (!t)
        return false;
    guest_server_send_error(s, c, id, CODE(IO), "cancelled");
    transfer_remove(f, i);
    return true;
}

/* Only marked here (this may run while the pump walks the table); the
 * pump drops them. */
void guest_files_detach(struct guest_files *f, struct conn *c)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->t[i]->conn == c)
            f->t[i]->conn = NULL;
}

bool guest_files_pump(struct guest_server *s, struct guest_files *f)
{
    static uint8_t buf[GUEST_FILE_CHUNK];
    bool more = false;
    for (size_t i = 0; i < f->n;) {
        struct transfer *t = f->t[i];
        if (!t->conn) {
            transfer_remove(f, i);
            continue;
        }
        if (t->write) {
            i++;
            continue;
        }
        bool removed = false;
        for (int k = 0; k < CHUNKS_PER_PUMP && t->credit > 0 && guest_conn_backlog(t->conn) < GUEST_OUT_HIGH_MARK;
             k++) {
            size_t want = t->credit < sizeof(buf) ? (size_t)t->credit : sizeof(buf);
            ssize_t n = read(t->fd, buf, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                send_errno(s, t->conn, t->id, errno);
                transfer_remove(f, i);
                removed = true;
                break;
            }
            if (n == 0) {
                finish_transfer(s, f, i);
                removed = true;
                break;
            }
            Guest__V1__Frame fr = GUEST__V1__FRAME__INIT;
            Guest__V1__FileChunk ch = GUEST__V1__FILE_CHUNK__INIT;
            ch.data.data = buf;
            ch.data.len = (size_t)n;
            fr.id = t->id;
            fr.body_case = GUEST__V1__FRAME__BODY_FILE_CHUNK;
            fr.file_chunk = &ch;
            t->bytes += (uint64_t)n;
            t->credit -= (uint64_t)n;
            guest_server_send(s, t->conn, &fr);
            if (!t->conn)
                break; /* the connection was lost while sending */
        }
        if (removed)
            continue;
        if (t->conn && t->credit > 0 && guest_conn_backlog(t->conn) < GUEST_OUT_HIGH_MARK)
            more = true;
        i++;
    }
    return more;
}
