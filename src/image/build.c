/* `enclave image build`: a guest image from Debian packages, without root.
 *
 *   1. resolve: the versioned kernel package behind linux-image-cloud-amd64,
 *      and the Depends closure of python3 (apt-cache; first alternative wins,
 *      virtual packages go to their first provider)
 *   2. inputs digest: builder version, package versions and digests,
 *      enclave-init digest, module list, kernel command line; when the current
 *      image was built from the same inputs and its files still match, stop
 *   3. download what cache/build/debs lacks (apt-get download), check digests
 *   4. unpack with dpkg-deb -x (no maintainer scripts), pick the modules
 *   5. write rootfs.erofs (mkfs.erofs, erofs-utils) and a small initramfs.cpio
 *      (enclave-init and its modules), or with initramfs_only the whole tree
 *      as initramfs.cpio; copy vmlinuz, write manifest.json, switch current
 */
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/exit_code.h"
#include "common/file.h"
#include "common/paths.h"
#include "common/text.h"

/* Bump when the builder's output for the same inputs changes. */
#define BUILDER_VERSION "6"
#define KERNEL_META_PACKAGE "linux-image-cloud-amd64"
#define MAX_TOOL_OUTPUT (32u << 20)
#define ERR_TAIL 1536
/* snprintf into an array, failing (with err in scope) when it does not fit. */
#define PATHF(buf, ...)                                                                   \
    (snprintf(buf, sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf)                          \
         ? error_set(err, ERR_OUT_OF_RANGE, "path too long: %.60s...", buf)               \
         : 0)

extern const unsigned char enclave_init_blob[], enclave_init_blob_end[];
/* The interpreter driver RunCode starts (src/guest/interp.py). */
extern const unsigned char enclave_interp_blob[], enclave_interp_blob_end[];
#define INTERP_PATH "usr/lib/enclave/interp.py"

/* The python3 root filesystem. libpython3-stdlib is the default version's
 * standard library (libpython3.11-stdlib on bookworm). */
static const char *const root_packages[] = {"python3-minimal", "libpython3-stdlib"};

/* Depended on only for maintainer scripts, which never run in the guest. */
static const char *const skipped_packages[] = {"dpkg", "debconf", "install-info"};

static const char *const guest_modules[] = {IMAGE_GUEST_MODULES};

/* Left out of the archive (shell patterns, see image_write_tree).
 * Documentation and translations: nothing in the guest reads them. */
static const char *const skipped_paths[] = {
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
    "usr/share/bug", "usr/share/doc-base", "usr/share/common-licenses",
    /* glibc's iconv modules (8 MB): Python's codecs are its own */
    "usr/lib/x86_64-linux-gnu/gconv",
    /* Python's own test support and test-only extension modules, help()'s
     * topic texts (pydoc says they are not available) and turtle (it needs
     * tkinter, which is not in the image): 2.3 MB that nothing else imports. */
    "usr/lib/python3.*/test",
    "usr/lib/python3.*/pydoc_data",
    "usr/lib/python3.*/turtle.py",
    "usr/lib/python3.*/__pycache__/turtle.*.pyc",
    "usr/lib/python3.*/__phello__",
    "usr/lib/python3.*/lib-dynload/_test*.so",
    "usr/lib/python3.*/lib-dynload/_ctypes_test.*.so",
    "usr/lib/python3.*/lib-dynload/_xxtestfuzz.*.so",
    "usr/lib/python3.*/lib-dynload/xxlimited*.so",
};

static void progress(const struct image_build_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const struct image_build_options *o, const char *fmt, ...)
{
    if (o->progress == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("image build: ", o->progress);
    vfprintf(o->progress, fmt, ap);
    fputc('\n', o->progress);
    va_end(ap);
    fflush(o->progress);
}

/* ------------------------------------------------------------ running tools */

static bool in_path(const char *tool)
{
    const char *path = getenv("PATH");
    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[PATH_MAX];
    for (const char *p = path; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n > 0 && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, tool) < (int)sizeof(buf) &&
            access(buf, X_OK) == 0)
            return true;
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

struct tool_run {
    char *out;     /* stdout, NUL-terminated (when capture was asked for) */
    size_t out_len;
    char err_tail[ERR_TAIL]; /* last bytes of stderr */
    int status;    /* exit code, or 128 + signal */
};

static void tool_run_clear(struct tool_run *r)
{
    free(r->out);
    r->out = NULL;
}

static void append_tail(char *tail, const char *data, size_t n)
{
    size_t have = strlen(tail);
    if (n >= ERR_TAIL - 1) {
        memcpy(tail, data + n - (ERR_TAIL - 1), ERR_TAIL - 1);
        tail[ERR_TAIL - 1] = '\0';
        return;
    }
    if (have + n >= ERR_TAIL) {
        size_t drop = have + n - (ERR_TAIL - 1);
        memmove(tail, tail + drop, have - drop + 1);
        have -= drop;
    }
    memcpy(tail + have, data, n);
    tail[have + n] = '\0';
}

/* Runs argv (LC_ALL=C, stdin from /dev/null) in cwd; captures stdout when
 * capture is set (else it goes to /dev/null) and the tail of stderr. Fails
 * only when the tool could not be run; the exit status is in r->status. */
static int run_tool(const char *const *argv, const char *cwd, bool capture, struct tool_run *r,
                    struct error *err)
{
    memset(r, 0, sizeof(*r));
    if (!in_path(argv[0]))
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "%s is not installed (the image builder needs apt-get, apt-cache and dpkg-deb: a "
                         "Debian or Ubuntu host)",
                         argv[0]);
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        error_set_errno(err, ERR_INTERNAL, "pipe");
        goto fail_pipes;
    }
    pid_t pid = fork();
    if (pid < 0) {
        error_set_errno(err, ERR_INTERNAL, "fork");
        goto fail_pipes;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(capture ? outp[1] : devnull, 1) < 0 ||
            dup2(errp[1], 2) < 0)
            _exit(126);
        if (cwd != NULL && chdir(cwd) < 0)
            _exit(126);
        setenv("LC_ALL", "C", 1);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;

    size_t cap = 0;
    bool too_big = false;
    struct pollfd fds[2] = {{.fd = outp[0], .events = POLLIN}, {.fd = errp[0], .events = POLLIN}};
    int open_fds = 2;
    char chunk[8192];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 1) {
                append_tail(r->err_tail, chunk, (size_t)n);
                continue;
            }
            if (too_big || r->out_len + (size_t)n > MAX_TOOL_OUTPUT) {
                too_big = true;
                continue;
            }
            if (r->out_len + (size_t)n + 1 > cap) {
                size_t ncap = cap ? cap * 2 : 65536;
                while (ncap < r->out_len + (size_t)n + 1)
                    ncap *= 2;
                char *nb = realloc(r->out, ncap);
                if (nb == NULL) {
                    too_big = true;
                    continue;
                }
                r->out = nb;
                cap = ncap;
            }
            memcpy(r->out + r->out_len, chunk, (size_t)n);
            r->out_len += (size_t)n;
            r->out[r->out_len] = '\0';
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : exit_code_for_signal(WTERMSIG(st));
    if (too_big) {
        tool_run_clear(r);
        return error_set(err, ERR_OUT_OF_RANGE, "%s printed more than %u bytes", argv[0], MAX_TOOL_OUTPUT);
    }
    if (capture && r->out == NULL && (r->out = strdup("")) == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;

fail_pipes:
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    return -1;
}

/* The end of a tool's stderr (its error lines), for error messages. */
static const char *last_lines(const char *tail)
{
    /* apt's errors start with "E: "; its warnings before them are noise here */
    const char *e = strstr(tail, "E: ");
    if (e != NULL && (e == tail || e[-1] == '\n'))
        return e;
    size_t n = strlen(tail);
    while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == ' '))
        n--;
    /* show up to three lines */
    int lines = 0;
    size_t i = n;
    while (i > 0) {
        if (tail[i - 1] == '\n' && ++lines == 3)
            break;
        i--;
    }
    return tail + i;
}

/* ------------------------------------------------------------ package resolution */

struct pkgs {
    struct image_deb *debs;
    size_t n;
};

static void pkgs_clear(struct pkgs *p)
{
    image_deb_free_array(p->debs, p->n);
    p->debs = NULL;
    p->n = 0;
}

static struct image_deb *pkgs_find(struct pkgs *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->debs[i].package, name) == 0)
            return &p->debs[i];
    return NULL;
}

/* Moves d into p (d is zeroed). */
static int pkgs_take(struct pkgs *p, struct image_deb *d, struct error *err)
{
    struct image_deb *nd = realloc(p->debs, (p->n + 1) * sizeof(*nd));
    if (nd == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    p->debs = nd;
    p->debs[p->n++] = *d;
    memset(d, 0, sizeof(*d));
    return 0;
}

static const char *apt_hint(void)
{
    return "is the package list current? ('apt-get update' as root) and does the host's apt use Debian's archive?";
}

/* apt-cache show for a batch of names; every stanza returned goes into known. */
static int apt_show(char *const *names, size_t n, struct pkgs *known, struct error *err)
{
    if (n == 0)
        return 0;
    const char **argv = calloc(n + 5, sizeof(*argv));
    if (argv == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    size_t a = 0;
    argv[a++] = "apt-cache";
    argv[a++] = "show";
    argv[a++] = "--no-all-versions";
    argv[a++] = "--";
    for (size_t i = 0; i < n; i++)
        argv[a++] = names[i];
    struct tool_run r;
    int rc = run_tool(argv, NULL, true, &r, err);
    free(argv);
    if (rc < 0)
        return -1;
    if (r.status != 0) {
        error_set(err, ERR_UNAVAILABLE, "apt-cache show failed: %s", last_lines(r.err_tail));
        tool_run_clear(&r);
        return -1;
    }
    struct image_deb *debs = NULL;
    size_t nd = 0;
    rc = image_deb_parse_stanzas(r.out, r.out_len, &debs, &nd, err);
    tool_run_clear(&r);
    if (rc < 0)
        return error_prefix(err, "reading apt-cache output");
    for (size_t i = 0; i < nd && rc == 0; i++)
        if (pkgs_find(known, debs[i].package) == NULL)
            rc = pkgs_take(known, &debs[i], err);
    image_deb_free_array(debs, nd);
    return rc;
}

/* First package that apt says provides a virtual name, or NULL (malloc'd). */
static int apt_provider(const char *name, const struct pkgs *chosen, char **out, struct error *err)
{
    *out = NULL;
    const char *argv[] = {"apt-cache", "showpkg", "--", name, NULL};
    struct tool_run r;
    if (run_tool(argv, NULL, true, &r, err) < 0)
        return -1;
    if (r.status != 0) {
        tool_run_clear(&r);
        return 0;
    }
    const char *p = strstr(r.out, "\nReverse Provides:");
    char *first = NULL;
    while (p != NULL) {
        p = strchr(p + 1, '\n');
        if (p == NULL || p[1] == '\0' || p[1] == '\n')
            break;
        const char *s = p + 1;
        size_t len = strcspn(s, " \n");
        if (len == 0 || len > 128)
            break;
        for (size_t i = 0; i < chosen->n; i++)
            if (strlen(chosen->debs[i].package) == len && strncmp(chosen->debs[i].package, s, len) == 0) {
                free(first);
                first = strndup(s, len);
                goto done;
            }
        if (first == NULL)
            first = strndup(s, len);
    }
done:
    tool_run_clear(&r);
    *out = first;
    return 0;
}

static bool is_skipped_package(const char *name)
{
    for (size_t i = 0; i < sizeof(skipped_packages) / sizeof(skipped_packages[0]); i++)
        if (strcmp(name, skipped_packages[i]) == 0)
            return true;
    return false;
}

struct group_list {
    struct image_deb_group *g;
    size_t n;
    const char **owner; /* which package asked, for messages */
};

static void group_list_clear(struct group_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        for (size_t j = 0; j < l->g[i].n_names; j++)
            free(l->g[i].names[j]);
        free(l->g[i].names);
    }
    free(l->g);
    free(l->owner);
    memset(l, 0, sizeof(*l));
}

static int group_list_add(struct group_list *l, char *const *names, size_t n, const char *owner,
                          struct error *err)
{
    struct image_deb_group *ng = realloc(l->g, (l->n + 1) * sizeof(*ng));
    if (ng == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    l->g = ng;
    const char **no = realloc(l->owner, (l->n + 1) * sizeof(*no));
    if (no == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    l->owner = no;
    struct image_deb_group *g = &l->g[l->n];
    g->names = calloc(n, sizeof(char *));
    g->n_names = 0;
    if (g->names == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    l->owner[l->n] = owner;
    l->n++;
    for (size_t i = 0; i < n; i++) {
        if ((g->names[i] = strdup(names[i])) == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        g->n_names++;
    }
    return 0;
}

/* The Depends closure of roots, resolved against apt's candidates. */
static int resolve_closure(const char *const *roots, size_t n_roots, struct pkgs *chosen,
                           struct error *err)
{
    struct pkgs known = {0};
    struct group_list todo = {0}, next = {0};
    char **missing = NULL; /* names apt-cache show did not return */
    size_t n_missing = 0;
    int rc = 0;
    for (size_t i = 0; i < n_roots && rc == 0; i++)
        rc = group_list_add(&todo, (char *const *)&roots[i], 1, "(requested)", err);

    for (int round = 0; rc == 0 && todo.n > 0; round++) {
        if (round > 64) {
            rc = error_set(err, ERR_OUT_OF_RANGE, "dependency resolution did not settle");
            break;
        }
        /* one apt-cache call for every name this round might need */
        char **ask = NULL;
        size_t n_ask = 0;
        for (size_t i = 0; i < todo.n && rc == 0; i++)
            for (size_t j = 0; j < todo.g[i].n_names; j++) {
                const char *nm = todo.g[i].names[j];
                bool have = pkgs_find(&known, nm) != NULL;
                for (size_t k = 0; !have && k < n_missing; k++)
                    have = strcmp(missing[k], nm) == 0;
                for (size_t k = 0; !have && k < n_ask; k++)
                    have = strcmp(ask[k], nm) == 0;
                if (have)
                    continue;
                char **na = realloc(ask, (n_ask + 1) * sizeof(*na));
                if (na == NULL) {
                    rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                    break;
                }
                ask = na;
                ask[n_ask++] = todo.g[i].names[j];
            }
        if (rc == 0)
            rc = apt_show(ask, n_ask, &known, err);
        for (size_t i = 0; i < n_ask && rc == 0; i++) {
            if (pkgs_find(&known, ask[i]) != NULL)
                continue;
            char **nm = realloc(missing, (n_missing + 1) * sizeof(*nm));
            if (nm == NULL || (nm[n_missing] = strdup(ask[i])) == NULL) {
                if (nm != NULL)
                    missing = nm;
                rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                break;
            }
            missing = nm;
            n_missing++;
        }
        free(ask);

        for (size_t i = 0; i < todo.n && rc == 0; i++) {
            struct image_deb_group *g = &todo.g[i];
            bool done = false;
            for (size_t j = 0; j < g->n_names && !done; j++)
                done = pkgs_find(chosen, g->names[j]) != NULL || is_skipped_package(g->names[j]);
            if (done)
                continue;
            struct image_deb *real = NULL;
            for (size_t j = 0; j < g->n_names && real == NULL; j++)
                real = pkgs_find(&known, g->names[j]);
            if (real != NULL) {
                struct image_deb copy = *real;
                /* move it from known to chosen, leaving a tombstone-free known */
                size_t idx = (size_t)(real - known.debs);
                known.debs[idx] = known.debs[known.n - 1];
                known.n--;
                rc = pkgs_take(chosen, &copy, err);
                struct image_deb *c = &chosen->debs[chosen->n - 1];
                for (size_t k = 0; k < c->n_depends && rc == 0; k++)
                    rc = group_list_add(&next, c->depends[k].names, c->depends[k].n_names, c->package, err);
                continue;
            }
            if (strcmp(todo.owner[i], "(requested)") == 0) {
                rc = error_set(err, ERR_NOT_FOUND, "apt has no package %s: %s", g->names[0], apt_hint());
                break;
            }
            /* only virtual names: the first provider apt lists */
            char *provider = NULL;
            for (size_t j = 0; j < g->n_names && provider == NULL && rc == 0; j++)
                rc = apt_provider(g->names[j], chosen, &provider, err);
            if (rc < 0)
                break;
            if (provider == NULL) {
                rc = error_set(err, ERR_NOT_FOUND, "nothing satisfies %s's dependency on %s: %s", todo.owner[i],
                               g->names[0], apt_hint());
                break;
            }
            if (pkgs_find(chosen, provider) == NULL)
                rc = group_list_add(&next, &provider, 1, todo.owner[i], err);
            free(provider);
        }
        group_list_clear(&todo);
        todo = next;
        memset(&next, 0, sizeof(next));
    }
    group_list_clear(&todo);
    group_list_clear(&next);
    pkgs_clear(&known);
    for (size_t i = 0; i < n_missing; i++)
        free(missing[i]);
    free(missing);
    return rc;
}

/* apt's candidate for one real package. */
static int resolve_one(const char *name, struct image_deb *out, struct error *err)
{
    struct pkgs known = {0};
    char *names[] = {(char *)name};
    if (apt_show(names, 1, &known, err) < 0)
        return -1;
    struct image_deb *d = pkgs_find(&known, name);
    if (d == NULL) {
        pkgs_clear(&known);
        return error_set(err, ERR_NOT_FOUND, "apt has no package %s: %s", name, apt_hint());
    }
    *out = *d;
    memset(d, 0, sizeof(*d));
    pkgs_clear(&known);
    return 0;
}

static int by_package_name(const void *a, const void *b)
{
    return strcmp(((const struct image_deb *)a)->package, ((const struct image_deb *)b)->package);
}

/* ------------------------------------------------------------ files */

static uint32_t build_epoch(void)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s != NULL && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == '\0' && v <= UINT32_MAX)
            return (uint32_t)v;
    }
    return 0;
}

/* Files the builder makes get the build epoch as their time, so that the
 * archive does not change from one build to the next. */
static int stamp(const char *path, struct error *err)
{
    struct timespec t[2] = {{.tv_sec = build_epoch()}, {.tv_sec = build_epoch()}};
    if (utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW) < 0)
        return error_set_errno(err, ERR_INTERNAL, "setting the time of %s", path);
    return 0;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode, struct error *err)
{
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", path);
    if (file_write_all(fd, data, len) < 0)
        return error_set_errno(err, ERR_INTERNAL, "writing %s", path);
    if (fchmod(fd, mode) < 0)
        return error_set_errno(err, ERR_INTERNAL, "chmod %s", path);
    return 0;
}

static int read_text(const char *path, size_t max, char **out, struct error *err)
{
    size_t len = 0;
    if (file_read_all(path, max, out, &len, err) < 0)
        return -1;
    if (strlen(*out) != len) {
        free(*out);
        *out = NULL;
        return error_set(err, ERR_INVALID_ARGUMENT, "%s holds a NUL byte", path);
    }
    return 0;
}

/* Copies src to dst, hashing what was written. */
static int copy_file(const char *src, const char *dst, mode_t mode, uint64_t *size, char sha[65],
                     struct error *err)
{
    cleanup_close int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return error_set_errno(err, ERR_NOT_FOUND, "opening %s", src);
    cleanup_close int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (out < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", dst);
    if (file_copy_fd(in, out) < 0)
        return error_set_errno(err, ERR_INTERNAL, "copying %s to %s", src, dst);
    if (fsync(out) < 0 || lseek(out, 0, SEEK_SET) < 0)
        return error_set_errno(err, ERR_INTERNAL, "syncing %s", dst);
    cleanup_close int check = open(dst, O_RDONLY | O_CLOEXEC);
    if (check < 0)
        return error_set_errno(err, ERR_INTERNAL, "opening %s", dst);
    return digest_sha256_fd(check, sha, size, err);
}

/* apt-get download's file name: name_version_arch.deb, ':' written as %3a. */
static int deb_file_name(const struct image_deb *d, char *buf, size_t size, struct error *err)
{
    char ver[300];
    size_t o = 0;
    for (const char *v = d->version; *v && o + 4 < sizeof(ver); v++) {
        if (*v == ':') {
            memcpy(ver + o, "%3a", 3);
            o += 3;
        } else {
            ver[o++] = *v;
        }
    }
    ver[o] = '\0';
    if (snprintf(buf, size, "%s_%s_%s.deb", d->package, ver, d->architecture ? d->architecture : "amd64") >=
        (int)size)
        return error_set(err, ERR_OUT_OF_RANGE, "package file name too long");
    return 0;
}

/* ------------------------------------------------------------ the build */

struct build {
    const struct image_build_options *opts;
    char cache[PATH_MAX];
    char work[PATH_MAX];   /* cache/build */
    char debs[PATH_MAX];   /* cache/build/debs */
    char stage[PATH_MAX];  /* cache/build/stage */
    char out[PATH_MAX];    /* cache/images/.new.<pid> */
    struct image_deb kernel;
    char kernel_release[128]; /* 6.1.0-56-cloud-amd64 */
    struct pkgs root;
    char init_sha[65];
    char inputs[65];
    struct image_kmod *mods;
    size_t n_mods;
};

static void build_clear(struct build *b)
{
    image_deb_clear(&b->kernel);
    pkgs_clear(&b->root);
    image_kmod_free_array(b->mods, b->n_mods);
}

static int resolve_kernel(struct build *b, struct error *err)
{
    struct image_deb meta = {0};
    if (resolve_one(KERNEL_META_PACKAGE, &meta, err) < 0)
        return -1;
    const char *versioned = NULL;
    for (size_t i = 0; i < meta.n_depends && versioned == NULL; i++)
        for (size_t j = 0; j < meta.depends[i].n_names && versioned == NULL; j++)
            if (strncmp(meta.depends[i].names[j], "linux-image-", 12) == 0)
                versioned = meta.depends[i].names[j];
    int rc = 0;
    if (versioned == NULL)
        rc = error_set(err, ERR_NOT_FOUND, "%s depends on no linux-image-* package", KERNEL_META_PACKAGE);
    else if (strlen(versioned + 12) >= sizeof(b->kernel_release))
        rc = error_set(err, ERR_OUT_OF_RANGE, "kernel package name is too long");
    else {
        snprintf(b->kernel_release, sizeof(b->kernel_release), "%s", versioned + 12);
        rc = resolve_one(versioned, &b->kernel, err);
    }
    image_deb_clear(&meta);
    if (rc == 0 && (b->kernel.sha256 == NULL || b->kernel.filename == NULL))
        rc = error_set(err, ERR_NOT_FOUND, "apt lists no SHA256 for %s", b->kernel.package);
    return rc;
}

static int compute_inputs(struct build *b, struct error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    char interp_sha[65];
    digest_sha256_hex(enclave_interp_blob, (size_t)(enclave_interp_blob_end - enclave_interp_blob), interp_sha);
    fprintf(f, "builder %s\ncmdline %s\ninit %s\ninterp %s\nkernel %s %s %s\n", BUILDER_VERSION,
            IMAGE_KERNEL_CMDLINE, b->init_sha, interp_sha, b->kernel.package, b->kernel.version, b->kernel.sha256);
    fprintf(f, "layout %s\n", b->opts->initramfs_only ? "initramfs" : "initramfs+erofs");
    for (size_t i = 0; i < sizeof(guest_modules) / sizeof(guest_modules[0]); i++)
        fprintf(f, "module %s\n", guest_modules[i]);
    for (size_t i = 0; i < sizeof(skipped_paths) / sizeof(skipped_paths[0]); i++)
        fprintf(f, "skip %s\n", skipped_paths[i]);
    for (size_t i = 0; i < b->root.n; i++)
        fprintf(f, "package %s %s %s\n", b->root.debs[i].package, b->root.debs[i].version,
                b->root.debs[i].sha256 ? b->root.debs[i].sha256 : "-");
    if (fclose(f) != 0) {
        free(text);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    digest_sha256_hex(text, len, b->inputs);
    free(text);
    return 0;
}

/* True when current was built from these inputs and still verifies. */
static bool current_is_up_to_date(struct build *b, char *id, size_t id_size)
{
    struct image_manifest *m = NULL;
    struct error e = {0};
    bool ok = image_manifest_load_named(b->opts->name, &m, &e) == 0 && m->build_inputs != NULL &&
              strcmp(m->build_inputs, b->inputs) == 0 && image_manifest_verify(m, &e) == 0;
    if (ok) {
        const char *slash = strrchr(m->dir, '/');
        snprintf(id, id_size, "%s", slash ? slash + 1 : m->dir);
    }
    image_manifest_free(m);
    return ok;
}

static int fetch_debs(struct build *b, struct error *err)
{
    size_t total = b->root.n + 1;
    struct image_deb **all = calloc(total, sizeof(*all));
    const char **argv = calloc(total + 5, sizeof(*argv));
    char **specs = calloc(total, sizeof(*specs));
    int rc = 0;
    if (all == NULL || argv == NULL || specs == NULL) {
        rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    all[0] = &b->kernel;
    for (size_t i = 0; i < b->root.n; i++)
        all[i + 1] = &b->root.debs[i];

    size_t a = 0, n_get = 0, reused = 0;
    uint64_t bytes = 0;
    argv[a++] = "apt-get";
    argv[a++] = "download";
    argv[a++] = "-q";
    argv[a++] = "--";
    for (size_t i = 0; i < total && rc == 0; i++) {
        struct image_deb *d = all[i];
        if (d->sha256 == NULL) {
            rc = error_set(err, ERR_NOT_FOUND, "apt lists no SHA256 for %s", d->package);
            break;
        }
        char name[512], path[PATH_MAX + 600], hex[65];
        if ((rc = deb_file_name(d, name, sizeof(name), err)) < 0)
            break;
        if ((rc = PATHF(path, "%s/%s", b->debs, name)) < 0)
            break;
        struct error ignored;
        if (digest_sha256_file(path, hex, NULL, &ignored) == 0 && strcmp(hex, d->sha256) == 0) {
            reused++;
            continue;
        }
        unlink(path);
        if (asprintf(&specs[n_get], "%s=%s", d->package, d->version) < 0) {
            specs[n_get] = NULL;
            rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            break;
        }
        argv[a++] = specs[n_get++];
        bytes += d->size;
    }
    if (rc < 0)
        goto out;
    if (n_get == 0) {
        progress(b->opts, "all %zu packages already downloaded", total);
    } else {
        progress(b->opts, "downloading %zu packages (%.1f MB); %zu already here", n_get, (double)bytes / 1e6,
                 reused);
        struct tool_run r;
        if ((rc = run_tool(argv, b->debs, false, &r, err)) < 0)
            goto out;
        if (r.status != 0) {
            const char *tail = last_lines(r.err_tail);
            bool net = strstr(r.err_tail, "resolv") || strstr(r.err_tail, "connect") ||
                       strstr(r.err_tail, "Could not") || strstr(r.err_tail, "Failed to fetch");
            rc = error_set(err, net ? ERR_UNAVAILABLE : ERR_INTERNAL,
                           "apt-get download failed%s: %s",
                           net ? " (can this machine reach the package archive? is the package list current?)" : "",
                           tail);
            goto out;
        }
    }
    for (size_t i = 0; i < total && rc == 0; i++) {
        char name[512], path[PATH_MAX + 600], hex[65];
        if ((rc = deb_file_name(all[i], name, sizeof(name), err)) < 0)
            break;
        if ((rc = PATHF(path, "%s/%s", b->debs, name)) < 0)
            break;
        if ((rc = digest_sha256_file(path, hex, NULL, err)) < 0) {
            error_prefix(err, "after apt-get download");
            break;
        }
        if (strcmp(hex, all[i]->sha256) != 0)
            rc = error_set(err, ERR_DATA_LOSS, "%s: sha256 %s, the package index says %s", name, hex,
                           all[i]->sha256);
    }
out:
    for (size_t i = 0; specs != NULL && i < total; i++)
        free(specs[i]);
    free(specs);
    free(argv);
    free(all);
    return rc;
}

static int dpkg_extract(const struct build *b, const struct image_deb *d, const char *dest,
                        struct error *err)
{
    char name[512], path[PATH_MAX + 600];
    if (deb_file_name(d, name, sizeof(name), err) < 0)
        return -1;
    if (PATHF(path, "%s/%s", b->debs, name) < 0)
        return -1;
    const char *argv[] = {"dpkg-deb", "-x", path, dest, NULL};
    struct tool_run r;
    if (run_tool(argv, NULL, false, &r, err) < 0)
        return -1;
    if (r.status != 0)
        return error_set(err, ERR_INTERNAL, "dpkg-deb -x %s failed: %s", name, last_lines(r.err_tail));
    return 0;
}

/* The alternatives the packages' postinst scripts would have installed
 * (image_parse_alternatives): LINK -> PATH, highest priority first, made only
 * where the package left no file at LINK and PATH is in the tree. */
static int make_alternatives(const struct build *b, struct error *err)
{
    struct image_alternative *all = NULL;
    size_t n_all = 0;
    int rc = 0;
    for (size_t i = 0; i < b->root.n && rc == 0; i++) {
        char name[512], path[PATH_MAX + 600];
        if (deb_file_name(&b->root.debs[i], name, sizeof(name), err) < 0 ||
            PATHF(path, "%s/%s", b->debs, name) < 0) {
            rc = -1;
            break;
        }
        const char *argv[] = {"dpkg-deb", "--info", path, "postinst", NULL};
        struct tool_run r;
        if (run_tool(argv, NULL, true, &r, err) < 0) {
            rc = -1;
            break;
        }
        struct image_alternative *alts = NULL;
        size_t n = 0;
        if (r.status == 0 && r.out != NULL && strstr(r.out, "update-alternatives") != NULL &&
            image_parse_alternatives(r.out, r.out_len, &alts, &n, err) < 0)
            rc = error_prefix(err, "%s postinst", b->root.debs[i].package);
        tool_run_clear(&r);
        for (size_t k = 0; k < n && rc == 0; k++) {
            struct image_alternative *grown = realloc(all, (n_all + 1) * sizeof(*grown));
            if (grown == NULL) {
                rc = error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
                break;
            }
            all = grown;
            all[n_all++] = alts[k];
            alts[k].link = alts[k].path = NULL;
        }
        image_alternatives_free(alts, n);
    }
    for (size_t i = 0; i < n_all && rc == 0; i++) {
        /* the best of those with this link */
        bool best = true;
        for (size_t k = 0; k < n_all && best; k++)
            if (k != i && strcmp(all[k].link, all[i].link) == 0 &&
                (all[k].priority > all[i].priority || (all[k].priority == all[i].priority && k < i)))
                best = false;
        char link[PATH_MAX * 2], target[PATH_MAX * 2];
        struct stat st;
        if (!best || PATHF(link, "%s%s", b->stage, all[i].link) < 0 ||
            PATHF(target, "%s%s", b->stage, all[i].path) < 0 || lstat(link, &st) == 0 || lstat(target, &st) < 0)
            continue;
        char *slash = strrchr(link, '/');
        *slash = '\0';
        struct error ignored;
        bool dir_ok = paths_mkdir_p(link, 0755, &ignored) == 0;
        *slash = '/';
        if (dir_ok && symlink(all[i].path, link) < 0)
            rc = error_set_errno(err, ERR_INTERNAL, "symlink %s", link);
        if (rc == 0)
            rc = stamp(link, err);
    }
    image_alternatives_free(all, n_all);
    return rc;
}

struct kmod_ctx {
    const char *moddir;
};

static int kmod_depends(const char *path, char **depends, void *vctx, struct error *err)
{
    struct kmod_ctx *c = vctx;
    char full[PATH_MAX];
    if (snprintf(full, sizeof(full), "%s/%s", c->moddir, path) >= (int)sizeof(full))
        return error_set(err, ERR_OUT_OF_RANGE, "module path too long");
    return image_kmod_read_depends(full, depends, err);
}

/* Unpacks the kernel package once into cache/build/kernel/<package>_<version>. */
static int unpack_kernel(struct build *b, char *kdir, size_t size, struct error *err)
{
    char base[PATH_MAX];
    if (PATHF(base, "%s/kernel", b->work) < 0)
        return -1;
    if (paths_mkdir_p(base, 0755, err) < 0)
        return -1;
    char name[512];
    if (deb_file_name(&b->kernel, name, sizeof(name), err) < 0)
        return -1;
    if (snprintf(kdir, size, "%s/%s", base, name) >= (int)size)
        return error_set(err, ERR_OUT_OF_RANGE, "path too long");
    char marker[PATH_MAX + 16];
    if (PATHF(marker, "%s/.complete", kdir) < 0)
        return -1;
    if (access(marker, F_OK) == 0)
        return 0;
    if (remove_tree(kdir, err) < 0)
        return -1;
    progress(b->opts, "unpacking kernel %s %s", b->kernel.package, b->kernel.version);
    if (dpkg_extract(b, &b->kernel, kdir, err) < 0)
        return -1;
    return write_file(marker, "", 0, 0644, err);
}

static int add_modules(struct build *b, const char *kdir, struct error *err)
{
    char moddir[PATH_MAX], path[PATH_MAX + 64];
    if (PATHF(moddir, "%s/lib/modules/%s", kdir, b->kernel_release) < 0)
        return -1;
    cleanup_free char *order = NULL, *builtin = NULL;
    if (PATHF(path, "%s/modules.order", moddir) < 0)
        return -1;
    if (read_text(path, 8u << 20, &order, err) < 0)
        return error_prefix(err, "kernel package");
    if (PATHF(path, "%s/modules.builtin", moddir) < 0)
        return -1;
    if (read_text(path, 8u << 20, &builtin, err) < 0)
        return error_prefix(err, "kernel package");
    struct kmod_ctx ctx = {.moddir = moddir};
    if (image_kmod_resolve(order, builtin, guest_modules, sizeof(guest_modules) / sizeof(guest_modules[0]),
                           kmod_depends, &ctx, &b->mods, &b->n_mods, err) < 0)
        return -1;

    char dest[PATH_MAX];
    if (PATHF(dest, "%s/lib/modules/enclave", b->stage) < 0)
        return -1;
    if (paths_mkdir_p(dest, 0755, err) < 0)
        return -1;
    char *list = NULL;
    size_t list_len = 0;
    FILE *f = open_memstream(&list, &list_len);
    if (f == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < b->n_mods && rc == 0; i++) {
        char src[PATH_MAX * 2], dst[PATH_MAX + 128], hex[65];
        uint64_t size;
        if ((rc = PATHF(src, "%s/%s", moddir, b->mods[i].path)) < 0)
            break;
        if ((rc = PATHF(dst, "%s/%s.ko", dest, b->mods[i].name)) < 0)
            break;
        rc = copy_file(src, dst, 0644, &size, hex, err);
        if (rc == 0)
            rc = stamp(dst, err);
        fprintf(f, "%s\n", b->mods[i].name);
    }
    fclose(f);
    if (rc == 0) {
        if (PATHF(path, "%s/load-order", dest) < 0)
            return -1;
        rc = write_file(path, list, list_len, 0644, err);
    if (rc == 0)
        rc = stamp(path, err);
    }
    if (rc == 0 && b->opts->progress != NULL) {
        fprintf(b->opts->progress, "image build: modules (load order):");
        for (size_t i = 0; i < b->n_mods; i++)
            fprintf(b->opts->progress, " %s", b->mods[i].name);
        fprintf(b->opts->progress, "\n");
    }
    free(list);
    return rc;
}

static int mkdir_in(const char *root, const char *rel, mode_t mode, struct error *err)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s/%s", root, rel) >= (int)sizeof(p))
        return error_set(err, ERR_OUT_OF_RANGE, "path too long");
    if (paths_mkdir_p(p, 0755, err) < 0)
        return -1;
    if (chmod(p, mode) < 0)
        return error_set_errno(err, ERR_INTERNAL, "chmod %s", p);
    return 0;
}

static int file_in(const char *root, const char *rel, const char *text, mode_t mode, struct error *err)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s/%s", root, rel) >= (int)sizeof(p))
        return error_set(err, ERR_OUT_OF_RANGE, "path too long");
    unlink(p);
    if (write_file(p, text, strlen(text), mode, err) < 0)
        return -1;
    return stamp(p, err);
}

/* What the packages' maintainer scripts and base-files would have made. */
static int finish_rootfs(struct build *b, struct error *err)
{
    const char *r = b->stage;
    static const struct {
        const char *path;
        mode_t mode;
    } dirs[] = {
        {"proc", 0555}, {"sys", 0555}, {"dev", 0755},       {"run", 0755},  {"tmp", 01777},
        {"root", 0700}, {"etc", 0755}, {"workspace", 0755}, {"var", 0755},
    };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (mkdir_in(r, dirs[i].path, dirs[i].mode, err) < 0)
            return -1;
    /* /var/tmp is the sized /tmp: no second place the workload can write. */
    char vt[PATH_MAX];
    if (PATHF(vt, "%s/var/tmp", r) < 0)
        return -1;
    struct stat vst;
    if (lstat(vt, &vst) == 0 && S_ISDIR(vst.st_mode)) {
        if (rmdir(vt) < 0)
            return error_set_errno(err, ERR_INTERNAL, "rmdir %s (a package put files there?)", vt);
    } else if (lstat(vt, &vst) == 0) {
        unlink(vt);
    }
    if (symlink("../tmp", vt) < 0)
        return error_set_errno(err, ERR_INTERNAL, "symlink %s", vt);
    if (stamp(vt, err) < 0)
        return -1;
    if (file_in(r, "etc/passwd",
                "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                "agent:x:1000:1000:agent:/workspace:/usr/sbin/nologin\n"
                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                0644, err) < 0 ||
        file_in(r, "etc/group", "root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n", 0644, err) < 0 ||
        file_in(r, "etc/hostname", "enclave\n", 0644, err) < 0 ||
        file_in(r, "etc/hosts", "127.0.0.1 localhost\n::1 localhost\n", 0644, err) < 0)
        return -1;
    size_t init_len = (size_t)(enclave_init_blob_end - enclave_init_blob);
    if (init_len == 0)
        return error_set(err, ERR_FAILED_PRECONDITION, "this binary carries no enclave-init");
    char p[PATH_MAX];
    if (PATHF(p, "%s/init", r) < 0)
        return -1;
    unlink(p);
    if (write_file(p, enclave_init_blob, init_len, 0755, err) < 0 || stamp(p, err) < 0)
        return -1;
    if (mkdir_in(r, "usr/lib/enclave", 0755, err) < 0 || PATHF(p, "%s/" INTERP_PATH, r) < 0)
        return -1;
    unlink(p);
    if (write_file(p, enclave_interp_blob, (size_t)(enclave_interp_blob_end - enclave_interp_blob), 0644, err) < 0 ||
        stamp(p, err) < 0)
        return -1;
    /* python3-minimal ships /usr/bin/python3; make sure of it */
    if (PATHF(p, "%s/usr/bin/python3", r) < 0)
        return -1;
    struct stat st;
    if (lstat(p, &st) < 0) {
        char target[64];
        snprintf(target, sizeof(target), "python3.11");
        if (symlink(target, p) < 0)
            return error_set_errno(err, ERR_INTERNAL, "symlink %s", p);
        if (stamp(p, err) < 0)
            return -1;
    }
    return 0;
}


static int write_dev_nodes(struct cpio_writer *w, uint32_t epoch, struct error *err);

/* The full initramfs: the staged tree and the device nodes. */
static int fill_initramfs(struct build *b, struct cpio_writer *w, uint32_t epoch, struct error *err)
{
    int rc = image_write_tree(w, b->stage, epoch, skipped_paths, sizeof(skipped_paths) / sizeof(skipped_paths[0]),
                              err);
    if (rc == 0)
        rc = write_dev_nodes(w, epoch, err);
    return rc;
}

/* Writes the cpio archive at path that fill fills, durably; its size and
 * SHA-256 into size and sha. */
static int write_cpio(struct build *b, const char *path,
                      int (*fill)(struct build *b, struct cpio_writer *w, uint32_t epoch, struct error *err),
                      uint64_t *size, char sha[65], struct error *err)
{
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", path);
    struct cpio_writer *w = NULL;
    if (cpio_writer_new(fd, &w, err) < 0)
        return -1;
    int rc = fill(b, w, build_epoch(), err);
    if (rc == 0)
        rc = cpio_writer_finish(w, size, sha, err);
    cpio_writer_free(w);
    if (rc == 0 && fsync(fd) < 0)
        rc = error_set_errno(err, ERR_INTERNAL, "fsync %s", path);
    return rc;
}

/* The device nodes an unprivileged build cannot mknod: the kernel opens
 * /dev/console for init, and Python reads /dev/urandom at start when the
 * kernel's pool is not ready yet; devtmpfs covers /dev later. */
static int write_dev_nodes(struct cpio_writer *w, uint32_t epoch, struct error *err)
{
    static const struct {
        const char *name;
        mode_t mode;
        unsigned major, minor;
    } nodes[] = {
        {"dev/console", S_IFCHR | 0600, 5, 1}, {"dev/null", S_IFCHR | 0666, 1, 3},
        {"dev/zero", S_IFCHR | 0666, 1, 5},    {"dev/random", S_IFCHR | 0666, 1, 8},
        {"dev/urandom", S_IFCHR | 0666, 1, 9},
    };
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        struct cpio_entry e = {.name = nodes[i].name, .mode = nodes[i].mode, .mtime = epoch,
                               .rdev_major = nodes[i].major, .rdev_minor = nodes[i].minor};
        if (cpio_write_node(w, &e, err) < 0)
            return -1;
    }
    return 0;
}

/* The initramfs of an image with a root filesystem disk: only what mounts
 * it. enclave-init as /init, the modules and their load order, the device
 * nodes, and the marker that tells the init to mount the disk. */
static int fill_boot_initramfs(struct build *b, struct cpio_writer *w, uint32_t epoch, struct error *err)
{
    int rc = 0;
    static const char *const dirs[] = {".", "dev", "lib", "lib/modules", "lib/modules/enclave", "proc", "sys"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && rc == 0; i++) {
        struct cpio_entry e = {.name = dirs[i], .mode = S_IFDIR | 0755, .mtime = epoch};
        rc = cpio_write_dir(w, &e, err);
    }
    if (rc == 0)
        rc = write_dev_nodes(w, epoch, err);
    if (rc == 0) {
        struct cpio_entry e = {.name = "init", .mode = S_IFREG | 0755, .mtime = epoch};
        rc = cpio_write_file(w, &e, enclave_init_blob, (size_t)(enclave_init_blob_end - enclave_init_blob), err);
    }
    if (rc == 0) {
        static const char marker[] = "erofs\n";
        struct cpio_entry e = {.name = IMAGE_ROOTFS_MARKER, .mode = S_IFREG | 0644, .mtime = epoch};
        rc = cpio_write_file(w, &e, marker, sizeof(marker) - 1, err);
    }
    /* the modules as add_modules staged them, then their order */
    for (size_t i = 0; i <= b->n_mods && rc == 0; i++) {
        char src[PATH_MAX + 128], name[160];
        if (i < b->n_mods)
            rc = PATHF(name, "lib/modules/enclave/%s.ko", b->mods[i].name);
        else
            rc = PATHF(name, "lib/modules/enclave/load-order");
        if (rc == 0)
            rc = PATHF(src, "%s/%s", b->stage, name);
        if (rc < 0)
            break;
        cleanup_close int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) < 0) {
            rc = error_set_errno(err, ERR_INTERNAL, "opening %s", src);
            break;
        }
        struct cpio_entry e = {.name = name, .mode = S_IFREG | 0644, .mtime = epoch};
        rc = cpio_write_file_fd(w, &e, in, (uint64_t)st.st_size, err);
    }
    return rc;
}

/* The root filesystem as a read-only erofs image (Debian's erofs-utils),
 * uncompressed so that the guest maps file pages straight from the block
 * device, every file root's, every time the build epoch, and the UUID taken
 * from the build inputs, so that the same inputs give the same image.
 * Modules and /init stay in the initramfs only. */
static int write_rootfs_erofs(struct build *b, const char *path, uint64_t *size, char sha[65],
                              struct error *err)
{
    if (!in_path("mkfs.erofs"))
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "mkfs.erofs is not installed (Debian package erofs-utils; scripts/install-deps "
                         "installs it), or build with --initramfs-only");
    size_t n_skip = sizeof(skipped_paths) / sizeof(skipped_paths[0]);
    const char **skip = calloc(n_skip + 2, sizeof(*skip));
    if (skip == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n_skip; i++)
        skip[i] = skipped_paths[i];
    skip[n_skip++] = "init";
    skip[n_skip++] = "lib/modules/enclave";
    int rc = image_prepare_tree(b->stage, skip, n_skip, err);
    free(skip);
    if (rc < 0)
        return error_prefix(err, "preparing the root filesystem");
    char epoch[16], uuid[40];
    snprintf(epoch, sizeof(epoch), "-T%u", build_epoch());
    snprintf(uuid, sizeof(uuid), "-U%.8s-%.4s-%.4s-%.4s-%.12s", b->inputs, b->inputs + 8, b->inputs + 12,
             b->inputs + 16, b->inputs + 20);
    const char *argv[] = {"mkfs.erofs", "--quiet", "-x-1", "--all-root", epoch, uuid, path, b->stage, NULL};
    struct tool_run r;
    if (run_tool(argv, NULL, false, &r, err) < 0)
        return -1;
    if (r.status != 0)
        return error_set(err, ERR_INTERNAL, "mkfs.erofs failed (exit %d): %s", r.status, last_lines(r.err_tail));
    /* readable by the VMM's user, whatever the umask */
    if (chmod(path, 0644) < 0)
        return error_set_errno(err, ERR_INTERNAL, "chmod %s", path);
    if (digest_sha256_file(path, sha, size, err) < 0)
        return error_prefix(err, "after mkfs.erofs");
    return 0;
}

static int lock_build(const char *work, struct error *err)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/.lock", work);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "opening %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return error_set(err, ERR_ABORTED, "another 'enclave image build' is running (lock %s)", path);
    }
    return fd;
}

/* Removes work folders that a killed build left behind. */
static void sweep_leftovers(const char *dir, const char *prefix)
{
    char cmdpath[PATH_MAX];
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    size_t plen = strlen(prefix);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        if (snprintf(cmdpath, sizeof(cmdpath), "%s/%s", dir, de->d_name) < (int)sizeof(cmdpath)) {
            struct error ignored;
            remove_tree(cmdpath, &ignored);
        }
    }
    closedir(d);
}

/* Earlier local builds pile up with every change of inputs: keep the new
 * image and the one it replaces (to go back to), remove other local-* ones.
 * Installed (OCI) images are not touched. */
/* The image folder a link names ("images/<id>" or "../images/<id>"), or "". */
static void link_target_id(const char *link, char *id, size_t size)
{
    char target[PATH_MAX] = "";
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    const char *slash = strrchr(target, '/');
    snprintf(id, size, "%s", slash ? slash + 1 : "");
}

/* Whether a variant (cache/named/<name>) still points at image id. */
static bool used_by_variant(const char *cache, const char *id)
{
    char named[PATH_MAX];
    if (snprintf(named, sizeof(named), "%s/named", cache) >= (int)sizeof(named))
        return true; /* when in doubt, keep it */
    DIR *d = opendir(named);
    if (d == NULL)
        return false;
    bool used = false;
    struct dirent *de;
    while (!used && (de = readdir(d)) != NULL) {
        char link[PATH_MAX + 300], target[PATH_MAX];
        if (de->d_name[0] == '.' || snprintf(link, sizeof(link), "%s/%s", named, de->d_name) >= (int)sizeof(link))
            continue;
        link_target_id(link, target, sizeof(target));
        used = strcmp(target, id) == 0;
    }
    closedir(d);
    return used;
}

static void prune_local_images(const char *images, const char *keep, const char *keep_too)
{
    DIR *d = opendir(images);
    if (d == NULL)
        return;
    char cache[PATH_MAX], current[PATH_MAX + 16], current_id[PATH_MAX];
    snprintf(cache, sizeof(cache), "%s", images);
    char *slash = strrchr(cache, '/');
    if (slash)
        *slash = '\0';
    snprintf(current, sizeof(current), "%s/current", cache);
    link_target_id(current, current_id, sizeof(current_id));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "local-", 6) != 0 || strcmp(de->d_name, keep) == 0 ||
            strcmp(de->d_name, keep_too) == 0 || strcmp(de->d_name, current_id) == 0 ||
            used_by_variant(cache, de->d_name))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", images, de->d_name) < (int)sizeof(path)) {
            struct error ignored;
            remove_tree(path, &ignored);
        }
    }
    closedir(d);
}

static int install_image(struct build *b, const char *id, struct image_build_result *result,
                         struct error *err)
{
    char images[PATH_MAX], final[PATH_MAX + 100];
    if (PATHF(images, "%s/images", b->cache) < 0)
        return -1;
    if (PATHF(final, "%s/%s", images, id) < 0)
        return -1;
    struct stat st;
    if (lstat(final, &st) == 0) {
        /* same content id: keep the existing folder if it is intact */
        struct image_manifest *m = NULL;
        struct error e;
        bool intact = image_manifest_load(final, &m, &e) == 0 && image_manifest_verify(m, &e) == 0;
        image_manifest_free(m);
        if (intact) {
            if (remove_tree(b->out, err) < 0)
                return -1;
        } else {
            char trash[PATH_MAX + 100];
            if (PATHF(trash, "%s/.trash.%ld", images, (long)getpid()) < 0)
                return -1;
            if (rename(final, trash) < 0)
                return error_set_errno(err, ERR_INTERNAL, "moving %s aside", final);
            if (rename(b->out, final) < 0)
                return error_set_errno(err, ERR_INTERNAL, "renaming %s", b->out);
            struct error ignored;
            remove_tree(trash, &ignored);
        }
    } else if (rename(b->out, final) < 0) {
        return error_set_errno(err, ERR_INTERNAL, "renaming %s", b->out);
    }
    /* The image's folder lasts under its name before a link points at it. */
    if (file_sync_dir(images) < 0)
        return error_set_errno(err, ERR_INTERNAL, "syncing %s", images);
    char previous[PATH_MAX] = "", link[PATH_MAX + 16];
    if (b->opts->name != NULL ? PATHF(link, "%s/named/%s", b->cache, b->opts->name) < 0
                              : PATHF(link, "%s/current", b->cache) < 0)
        return -1;
    link_target_id(link, previous, sizeof(previous));
    if ((b->opts->name != NULL ? image_cache_set_named(b->opts->name, id, err) : image_cache_set_current(id, err)) < 0)
        return -1;
    /* The image a link pointed at before stays one build, in case it is in use. */
    prune_local_images(images, id, previous);
    snprintf(result->id, sizeof(result->id), "%s", id);
    if (PATHF(result->dir, "%s", final) < 0)
        return -1;
    return 0;
}

static time_t stamp_since;

static int stamp_new(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    if (st->st_mtime < stamp_since || S_ISLNK(st->st_mode))
        return 0;
    struct timespec t[2] = {{.tv_sec = build_epoch()}, {.tv_sec = build_epoch()}};
    return utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
}

/* Byte-compiles the standard library with the guest's own python (run here
 * through the guest's dynamic loader), so that no workload pays for compiling
 * what it imports: uid 1000 cannot write __pycache__ under /usr. The .pyc
 * files are "unchecked-hash": the root filesystem does not change under them. */
static int precompile_python(struct build *b, struct error *err)
{
    static const char *const loaders[] = {"lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                                          "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"};
    char loader[PATH_MAX + 64] = "", python[PATH_MAX + 32], libpath[2 * PATH_MAX + 64],
        stdlib[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]) && loader[0] == '\0'; i++) {
        if (PATHF(loader, "%s/%s", b->stage, loaders[i]) < 0)
            return -1;
        if (access(loader, X_OK) != 0)
            loader[0] = '\0';
    }
    if (PATHF(python, "%s/usr/bin/python3", b->stage) < 0 ||
        PATHF(libpath, "%s/lib/x86_64-linux-gnu:%s/usr/lib/x86_64-linux-gnu", b->stage, b->stage) < 0)
        return -1;
    char target[64];
    ssize_t n = readlink(python, target, sizeof(target) - 1);
    if (loader[0] == '\0' || n <= 0)
        return error_set(err, ERR_FAILED_PRECONDITION, "the root filesystem has no dynamic loader or python3");
    target[n] = '\0';
    /* usr/bin/python3 -> python3.11: the library is usr/lib/python3.11 */
    if (strncmp(target, "python3.", 8) != 0 || strchr(target, '/') != NULL ||
        PATHF(stdlib, "%s/usr/lib/%s", b->stage, target) < 0)
        return error_set(err, ERR_FAILED_PRECONDITION, "unexpected python3 link %s", target);
    /* Packages' modules too (numpy and the like): uid 1000 cannot write
     * their caches in the guest, so uncompiled ones compile on every import. */
    char dist[PATH_MAX + 64];
    if (PATHF(dist, "%s/usr/lib/python3/dist-packages", b->stage) < 0)
        return -1;
    bool have_dist = access(dist, F_OK) == 0;
    progress(b->opts, "byte-compiling the python standard library%s", have_dist ? " and dist-packages" : "");
    stamp_since = time(NULL) - 1;
    const char *argv[] = {"env", "-i", "PYTHONHASHSEED=0", "PYTHONDONTWRITEBYTECODE=", "LC_ALL=C", loader, "--library-path",
                          libpath, python, "-E", "-s", "-m", "compileall", "-q", "-j", "2",
                          "--invalidation-mode", "unchecked-hash", "-s", b->stage, "-p", "/", "-x", "/(test|tests|lib2to3/tests)/",
                          stdlib, have_dist ? dist : NULL, NULL};
    /* no PYTHONHOME needed: python finds its prefix from its own path */
    struct tool_run r;
    if (run_tool(argv, NULL, false, &r, err) < 0)
        return -1;
    /* 1: some files did not compile (Python 2 examples shipped as data); fine */
    if (r.status != 0 && r.status != 1)
        return error_set(err, ERR_INTERNAL, "compileall failed (exit %d): %s", r.status, last_lines(r.err_tail));
    if (nftw(stdlib, stamp_new, 32, FTW_PHYS) != 0 || (have_dist && nftw(dist, stamp_new, 32, FTW_PHYS) != 0))
        return error_set_errno(err, ERR_INTERNAL, "setting times under %s", stdlib);
    return 0;
}

static int assemble(struct build *b, struct image_build_result *result, struct error *err)
{
    char kdir[PATH_MAX];
    if (unpack_kernel(b, kdir, sizeof(kdir), err) < 0)
        return -1;

    if (remove_tree(b->stage, err) < 0 || paths_mkdir_p(b->stage, 0755, err) < 0)
        return -1;
    progress(b->opts, "unpacking %zu packages", b->root.n);
    for (size_t i = 0; i < b->root.n; i++)
        if (dpkg_extract(b, &b->root.debs[i], b->stage, err) < 0)
            return -1;
    if (make_alternatives(b, err) < 0)
        return -1;
    if (add_modules(b, kdir, err) < 0 || finish_rootfs(b, err) < 0 || precompile_python(b, err) < 0)
        return -1;

    if (remove_tree(b->out, err) < 0 || paths_mkdir_p(b->out, 0755, err) < 0)
        return -1;
    struct image_artifact arts[3] = {
        {.role = "kernel", .path = "vmlinuz", .media_type = IMAGE_MEDIA_KERNEL},
        {.role = "initramfs", .path = "initramfs.cpio", .media_type = IMAGE_MEDIA_INITRAMFS},
        {.role = "rootfs", .path = IMAGE_ROOTFS_FILE, .media_type = IMAGE_MEDIA_ROOTFS},
    };
    size_t n_arts = b->opts->initramfs_only ? 2 : 3;
    char src[PATH_MAX * 2], dst[PATH_MAX + 64];
    if (PATHF(src, "%s/boot/vmlinuz-%s", kdir, b->kernel_release) < 0)
        return -1;
    if (PATHF(dst, "%s/vmlinuz", b->out) < 0)
        return -1;
    if (copy_file(src, dst, 0644, &arts[0].size, arts[0].sha256, err) < 0)
        return error_prefix(err, "kernel");
    if (PATHF(dst, "%s/initramfs.cpio", b->out) < 0)
        return -1;
    if (b->opts->initramfs_only) {
        progress(b->opts, "writing initramfs.cpio (the whole root filesystem)");
        if (write_cpio(b, dst, fill_initramfs, &arts[1].size, arts[1].sha256, err) < 0)
            return error_prefix(err, "initramfs");
    } else {
        progress(b->opts, "writing initramfs.cpio (enclave-init and modules)");
        if (write_cpio(b, dst, fill_boot_initramfs, &arts[1].size, arts[1].sha256, err) < 0)
            return error_prefix(err, "initramfs");
        progress(b->opts, "writing " IMAGE_ROOTFS_FILE " (mkfs.erofs)");
        if (PATHF(dst, "%s/" IMAGE_ROOTFS_FILE, b->out) < 0)
            return -1;
        if (write_rootfs_erofs(b, dst, &arts[2].size, arts[2].sha256, err) < 0)
            return error_prefix(err, "root filesystem");
    }

    struct image_package *pk = calloc(b->root.n + 1, sizeof(*pk));
    if (pk == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    pk[0].name = b->kernel.package;
    pk[0].version = b->kernel.version;
    for (size_t i = 0; i < b->root.n; i++) {
        pk[i + 1].name = b->root.debs[i].package;
        pk[i + 1].version = b->root.debs[i].version;
    }
    char created[40];
    rfc3339_now(created);
    struct image_manifest m = {
        .schema = IMAGE_MANIFEST_SCHEMA,
        .created = created,
        .source = "local-build",
        .arch = "amd64",
        .guest_protocol = IMAGE_GUEST_PROTOCOL,
        .kernel_cmdline = IMAGE_KERNEL_CMDLINE,
        .build_inputs = b->inputs,
        .artifacts = arts,
        .n_artifacts = n_arts,
        .packages = pk,
        .n_packages = b->root.n + 1,
    };
    int rc = image_manifest_write(&m, b->out, err);
    free(pk);
    if (rc < 0)
        return -1;

    /* content id: the artifacts and the command line */
    char idsrc[64 * 3 + IMAGE_MAX_CMDLINE + 8], idhex[65], id[40];
    snprintf(idsrc, sizeof(idsrc), "%s\n%s\n%s%s%s\n", arts[0].sha256, arts[1].sha256,
             n_arts > 2 ? arts[2].sha256 : "", n_arts > 2 ? "\n" : "", IMAGE_KERNEL_CMDLINE);
    digest_sha256_hex(idsrc, strlen(idsrc), idhex);
    snprintf(id, sizeof(id), "local-%.16s", idhex);
    if (install_image(b, id, result, err) < 0)
        return -1;
    if (n_arts > 2)
        progress(b->opts, "image %s: kernel %.1f MB, initramfs %.1f MB, rootfs %.1f MB (erofs), %zu packages", id,
                 (double)arts[0].size / 1e6, (double)arts[1].size / 1e6, (double)arts[2].size / 1e6, b->root.n + 1);
    else
        progress(b->opts, "image %s: kernel %.1f MB, initramfs %.1f MB, %zu packages", id, (double)arts[0].size / 1e6,
                 (double)arts[1].size / 1e6, b->root.n + 1);
    return 0;
}

int image_build(const struct image_build_options *opts, struct image_build_result *result,
                struct error *err)
{
    memset(result, 0, sizeof(*result));
    struct build b = {.opts = opts};
    if (paths_home(b.cache, sizeof(b.cache), "cache", err) < 0)
        return -1;
    if (PATHF(b.work, "%s/build", b.cache) < 0)
        return -1;
    if (PATHF(b.debs, "%s/debs", b.work) < 0)
        return -1;
    char images[PATH_MAX];
    if (PATHF(images, "%s/images", b.cache) < 0)
        return -1;
    if (paths_mkdir_p(b.debs, 0755, err) < 0 || paths_mkdir_p(images, 0755, err) < 0)
        return error_prefix(err, "preparing the cache");
    cleanup_close int lock = lock_build(b.work, err);
    if (lock < 0)
        return -1;
    sweep_leftovers(b.work, "stage");
    sweep_leftovers(images, ".new.");
    sweep_leftovers(images, ".trash.");
    /* one fixed path (the lock makes it ours): paths end up inside .pyc files */
    if (PATHF(b.stage, "%s/stage", b.work) < 0)
        return -1;
    if (PATHF(b.out, "%s/.new.%ld", images, (long)getpid()) < 0)
        return -1;

    int rc = 0;
    progress(opts, "resolving packages with apt-cache");
    size_t n_roots = sizeof(root_packages) / sizeof(root_packages[0]) + opts->n_extra_packages;
    const char **roots = calloc(n_roots, sizeof(*roots));
    if (roots == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < sizeof(root_packages) / sizeof(root_packages[0]); i++)
        roots[i] = root_packages[i];
    for (size_t i = 0; i < opts->n_extra_packages; i++)
        roots[sizeof(root_packages) / sizeof(root_packages[0]) + i] = opts->extra_packages[i];
    rc = resolve_kernel(&b, err);
    if (rc == 0)
        rc = resolve_closure(roots, n_roots, &b.root, err);
    free(roots);
    if (rc < 0)
        goto out;
    qsort(b.root.debs, b.root.n, sizeof(*b.root.debs), by_package_name);
    progress(opts, "kernel %s %s; root filesystem: %zu packages", b.kernel.package, b.kernel.version, b.root.n);

    digest_sha256_hex(enclave_init_blob, (size_t)(enclave_init_blob_end - enclave_init_blob), b.init_sha);
    if ((rc = compute_inputs(&b, err)) < 0)
        goto out;
    if (!opts->force && current_is_up_to_date(&b, result->id, sizeof(result->id))) {
        (void)PATHF(result->dir, "%s/%s", images, result->id);
        progress(opts, "image %s is up to date (same packages, enclave-init and builder; every file matches)",
                 result->id);
        goto out;
    }
    if ((rc = fetch_debs(&b, err)) < 0)
        goto out;
    rc = assemble(&b, result, err);
    if (rc == 0)
        result->rebuilt = true;
out:;
    struct error ignored;
    remove_tree(b.stage, &ignored);
    remove_tree(b.out, &ignored);
    build_clear(&b);
    return rc;
}
