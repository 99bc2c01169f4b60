/* The VM record shared by the drivers, and orphan reaping. */
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/file.h"
#include "common/log.h"
#include "common/sysuser.h"
#include "image/image.h"
#include "vmm/vm_internal.h"

pid_t vmm_vm_pid(const struct vmm_vm *vm)
{
    return vm->pid;
}

const struct vmm_channel *vmm_vm_channel(const struct vmm_vm *vm)
{
    return &vm->channel;
}

const char *vmm_vm_console_log(const struct vmm_vm *vm)
{
    return vm->console_log;
}

const char *vmm_vm_log(const struct vmm_vm *vm)
{
    return vm->vmm_log;
}

bool vmm_vm_starting(const struct vmm_vm *vm)
{
    return vm->starting;
}

const char *vmm_vm_start_step(const struct vmm_vm *vm)
{
    return vm->starting ? vm->start_step : NULL;
}

const struct error *vmm_vm_start_error(const struct vmm_vm *vm)
{
    return vm->start_failed ? &vm->start_error : NULL;
}

bool vmm_vm_uses_kvm(const struct vmm_vm *vm)
{
    return vm->kvm;
}

void vmm_vm_resumed(struct vmm_vm *vm)
{
    vm->channel.resume = false;
    explicit_bzero(vm->channel.resume_key, sizeof(vm->channel.resume_key));
}

void vmm_vm_mark_exited(struct vmm_vm *vm, int wait_status)
{
    vm->exited = true;
    vm->wait_status = wait_status;
}

bool vmm_vm_exited(const struct vmm_vm *vm)
{
    return vm->exited;
}

void vmm_vm_free(struct vmm_vm *vm)
{
    if (vm == NULL)
        return;
    if (vm->release)
        vm->release(vm);
    if (!vm->exited && vm->pid > 0) {
        /* The owner should have stopped it; never leave a VMM behind. */
        kill(vm->pid, SIGKILL);
        waitpid(vm->pid, NULL, 0);
    }
    if (vm->pidfile[0])
        unlink(vm->pidfile);
    if (vm->key_path[0])
        unlink(vm->key_path);
    if (vm->initrd_path[0])
        unlink(vm->initrd_path);
    if (vm->cgroup_dir[0] && rmdir(vm->cgroup_dir) < 0 && errno != ENOENT)
        log_debug("removing the cgroup %s: %s", vm->cgroup_dir, strerror(errno));
    explicit_bzero(vm->channel.key, sizeof(vm->channel.key));
    explicit_bzero(vm->channel.resume_key, sizeof(vm->channel.resume_key));
    free(vm);
}

/* A pid file does not outlive the machine: replaced whole for readers, not
 * synced, in the mode a plain create gives. */
static int write_pidfile(const char *path, pid_t pid, struct error *err)
{
    char text[32];
    int len = snprintf(text, sizeof(text), "%d\n", (int)pid);
    struct file_replace_options opt = {.mode = 0666, .umask = true, .no_sync = true};
    return file_replace(path, text, (size_t)len, &opt, err);
}

/* ---- confinement */

static struct vmm_confinement confinement = {.max_file_bytes = VMM_DEFAULT_MAX_FILE_BYTES};

void vmm_set_confinement(const struct vmm_confinement *c)
{
    confinement = *c;
}

const struct vmm_confinement *vmm_confinement_get(void)
{
    return &confinement;
}

/* The kernel's Landlock ABI, declared here because the installed UAPI header
 * may predate the network and scope fields (the kernel takes the struct's
 * size as its version). */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ULL << 13)      /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_RULE_PATH_BENEATH 1

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};
struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

int vmm_landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

int vmm_confinement_default(struct vmm_confinement *c, char *note, size_t note_len,
                            struct error *err)
{
    memset(c, 0, sizeof(*c));
    c->max_file_bytes = VMM_DEFAULT_MAX_FILE_BYTES;
    c->landlock_abi = vmm_landlock_abi();
    c->landlock = c->landlock_abi > 0;
    if (note_len)
        note[0] = '\0';
    if (geteuid() != 0) {
        if (!c->landlock)
            snprintf(note, note_len,
                     "this kernel has no Landlock: VMMs run as the daemon's user with no file "
                     "confinement beyond QEMU's -sandbox");
        return 0;
    }
    struct sysuser user, *pw = &user;
    if (sysuser_by_name(VMM_USER, &user) < 0) {
        if (sysuser_by_name("nobody", &user) < 0)
            return error_set(err, ERR_FAILED_PRECONDITION,
                             "running as root, VMMs must run as another user, but neither '%s' nor "
                             "'nobody' exists (scripts/install-deps creates '%s')",
                             VMM_USER, VMM_USER);
        snprintf(note, note_len,
                 "the user '%s' does not exist (scripts/install-deps creates it): VMMs run as "
                 "'nobody' instead, shared with other services",
                 VMM_USER);
    }
    if (pw->uid == 0)
        return error_set(err, ERR_FAILED_PRECONDITION, "the VMM user '%s' is uid 0", pw->name);
    c->switch_user = true;
    c->uid = pw->uid;
    c->gid = pw->gid;
    snprintf(c->user, sizeof(c->user), "%.*s", (int)sizeof(c->user) - 1, pw->name);
    int n = VMM_MAX_GROUPS; /* more than fit: the first ones are kept */
    sysuser_groups(pw, c->groups, &n);
    c->n_groups = n;
    if (!c->landlock) {
        size_t used = strlen(note);
        snprintf(note + used, note_len - used, "%sthis kernel has no Landlock: VMMs rely on "
                 "their user and QEMU's -sandbox only", used ? "; " : "");
    }
    return 0;
}

/* Child side: adds one path to the ruleset. A path that does not exist is
 * skipped (not every host has /lib64 or /dev/vhost-vsock). */
static int ll_allow(int ruleset, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        access &= LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE |
                  LL_FS_IOCTL_DEV;
    struct ll_path_beneath rule = {.allowed_access = access, .parent_fd = fd};
    long r = syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0);
    int saved = errno;
    close(fd);
    errno = saved;
    return r < 0 ? -1 : 0;
}

/* Child side: the VMM may read and run the system's programs and libraries,
 * use the few devices a VM needs, read its kernel and initramfs, and write
 * only in its run folder. No TCP at all; no signals or abstract sockets
 * outside its own domain. */
static int ll_restrict(const struct vmm_jail *jail, int abi, const char *binary,
                       const char **failed)
{
    uint64_t fs = LL_FS_ABI1;
    if (abi >= 2)
        fs |= LL_FS_REFER;
    if (abi >= 3)
        fs |= LL_FS_TRUNCATE;
    if (abi >= 5)
        fs |= LL_FS_IOCTL_DEV;
    struct ll_ruleset_attr attr = {.handled_access_fs = fs};
    size_t size = sizeof(uint64_t);
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        size = sizeof(attr);
    }
    *failed = "landlock_create_ruleset";
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0)
        return -1;
    const uint64_t ro = LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_EXECUTE;
    static const char *const system_dirs[] = {"/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin",
                                              "/etc"};
    static const char *const devices[] = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random",
                                          "/dev/kvm", "/dev/vhost-vsock"};
    for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
        *failed = system_dirs[i];
        if (ll_allow(rs, system_dirs[i], ro) < 0)
            goto fail;
    }
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
        *failed = devices[i];
        if (ll_allow(rs, devices[i], LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_IOCTL_DEV) < 0)
            goto fail;
    }
    for (size_t i = 0; jail->read_files && jail->read_files[i]; i++) {
        *failed = jail->read_files[i];
        if (ll_allow(rs, jail->read_files[i], LL_FS_READ_FILE) < 0)
            goto fail;
    }
    *failed = binary;
    if (ll_allow(rs, binary, LL_FS_READ_FILE | LL_FS_EXECUTE) < 0)
        goto fail;
    if (jail->run_dir) {
        *failed = jail->run_dir;
        if (ll_allow(rs, jail->run_dir, fs & ~LL_FS_EXECUTE) < 0)
            goto fail;
    }
    *failed = "landlock_restrict_self";
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_landlock_restrict_self, rs, 0) < 0)
        goto fail;
    close(rs);
    return 0;
fail:;
    int saved = errno;
    close(rs);
    errno = saved;
    return -1;
}

/* Child side: the run folder becomes root's (or the daemon's) with the VMM's
 * group, sticky, so the VMM can create its sockets and logs there but cannot
 * remove or replace the daemon's files (the pidfile); the files already in it
 * become group-readable (what the VMM is meant to read). */
static int hand_run_dir(const char *dir, gid_t gid)
{
    if (chown(dir, (uid_t)-1, gid) < 0 || chmod(dir, 01770) < 0)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (fchownat(dirfd(d), e->d_name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(dirfd(d), e->d_name, (st.st_mode & 07777) | 0040, 0) < 0) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}

/* Child side: args[0] as execvp would find it. */
static void resolve_binary(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s", name);
    if (strchr(name, '/') != NULL)
        return;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        char candidate[4096];
        if (n > 0 && (size_t)snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)n, p, name) <
                         sizeof(candidate) &&
            access(candidate, X_OK) == 0) {
            snprintf(out, size, "%s", candidate);
            return;
        }
        p += n;
        if (*p == ':')
            p++;
    }
}

#define VMM_MAX_ARGS 128

/* Child side, after fork: everything between fork and exec. Never returns. */
static void __attribute__((noreturn)) spawn_child(char *const *args, int log_fd, pid_t parent,
                                                  const struct vmm_jail *jail)
{
    const struct vmm_confinement *c = &confinement;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    closefrom(3);

    const char *step = "";
    static char *argv[VMM_MAX_ARGS];
    static char fd_paths[8][32];
    static char fd_args[VMM_MAX_ARGS][1024];
    static char binary[4096];
    int n = 0;
    for (; args[n] && n < VMM_MAX_ARGS - 1; n++)
        argv[n] = args[n];
    argv[n] = NULL;
    resolve_binary(argv[0], binary, sizeof(binary));
    for (int i = 0; jail && jail->read_files && jail->read_files[i] && i < 8; i++) {
        step = jail->read_files[i];
        int fd = open(jail->read_files[i], O_RDONLY); /* inherited: fd 3 + i */
        if (fd < 0)
            goto fail;
        snprintf(fd_paths[i], sizeof(fd_paths[i]), "/proc/self/fd/%d", fd);
        size_t plen = strlen(jail->read_files[i]);
        for (int k = 1; k < n; k++) {
            if (strcmp(argv[k], jail->read_files[i]) == 0) {
                argv[k] = fd_paths[i];
                continue;
            }
            /* inside an option list: "...=PATH,..." or "...=PATH" */
            const char *at = strstr(argv[k], jail->read_files[i]);
            if (at == NULL || at == argv[k] || at[-1] != '=' || (at[plen] != ',' && at[plen] != '\0'))
                continue;
            step = "an argument too long";
            errno = ENAMETOOLONG;
            if ((size_t)snprintf(fd_args[k], sizeof(fd_args[k]), "%.*s%s%s", (int)(at - argv[k]), argv[k],
                                 fd_paths[i], at + plen) >= sizeof(fd_args[k]))
                goto fail;
            argv[k] = fd_args[k];
        }
    }
    if (jail && jail->state_in) {
        step = jail->state_in;
        int fd = open(jail->state_in, O_RDONLY | O_NOFOLLOW);
        if (fd < 0 || (fd != VMM_STATE_IN_FD && (dup2(fd, VMM_STATE_IN_FD) < 0 || close(fd) < 0)))
            goto fail;
    }
    if (jail && jail->run_dir) {
        /* For another user, paths inside the run folder become relative to
         * it (the working directory), so that user needs no search
         * permission on the folders above it (a home folder is often 0700). */
        static char rel_args[VMM_MAX_ARGS][1024];
        size_t dir_len = strlen(jail->run_dir);
        for (int k = 1; c->switch_user && !jail->keep_user && k < n; k++) {
            const char *at = strstr(argv[k], jail->run_dir);
            if (at == NULL || at[dir_len] != '/')
                continue;
            step = "an argument too long";
            errno = ENAMETOOLONG;
            if ((size_t)snprintf(rel_args[k], sizeof(rel_args[k]), "%.*s.%s", (int)(at - argv[k]),
                                 argv[k], at + dir_len) >= sizeof(rel_args[k]))
                goto fail;
            argv[k] = rel_args[k];
        }
        step = jail->run_dir;
        if (chdir(jail->run_dir) < 0)
            goto fail;
        if (c->switch_user && !jail->keep_user && hand_run_dir(jail->run_dir, c->gid) < 0)
            goto fail;
    } else if (chdir("/") < 0) {
        step = "/";
        goto fail;
    }
    uint64_t max_file_bytes = jail && jail->max_file_bytes ? jail->max_file_bytes : c->max_file_bytes;
    if (max_file_bytes && !(jail && jail->launcher)) {
        /* Writes past the cap fail with EFBIG instead of killing the VMM. A
         * VMM that keeps the daemon's user gets the soft limit only: its
         * children (Firecracker's test double serves the guest from one)
         * may still raise theirs. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
            rl.rlim_max = RLIM_INFINITY;
        rl.rlim_cur = max_file_bytes;
        if (!(jail && jail->keep_user) || rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = max_file_bytes;
        step = "RLIMIT_FSIZE";
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            goto fail;
        signal(SIGXFSZ, SIG_IGN);
    }
    if (jail && jail->landlock && c->landlock && ll_restrict(jail, c->landlock_abi, binary, &step) < 0)
        goto fail;
    if (c->switch_user && jail && jail->launcher) {
        /* The launcher switches uid and gid itself; root's supplementary
         * groups must not go with it. */
        step = "setgroups";
        if (setgroups(1, &c->gid) < 0)
            goto fail;
    }
    if (c->switch_user && !(jail && jail->keep_user)) {
        step = "dropping to the VMM user";
        if (setgroups((size_t)c->n_groups, c->groups) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
            setresuid(c->uid, c->uid, c->uid) < 0 || getuid() == 0 || geteuid() == 0)
            goto fail;
        /* A change of credentials clears the parent-death signal: set it
         * again, so the VMM still dies with the daemon. */
        step = "PR_SET_PDEATHSIG";
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
            goto fail;
        if (getppid() != parent)
            _exit(127);
    }
    execv(binary, argv);
    step = binary;
fail:
    dprintf(2, "cannot start %s: %s: %s\n", args[0], step, strerror(errno));
    _exit(127);
}

/* ---- `<vmm> --version` on the loop */

struct vmm_version_run {
    pid_t pid; /* 0 once reaped */
    int fd;    /* the read end of its output; -1 once closed */
    char buf[512];
    size_t len;
    char prefix[64];
    char bin[4096];
    struct event *ev_read, *timer;
    vmm_version_fn done;
    void *ctx;
};

/* Ends the run: the process killed (it said what it had to, or its time is
 * up) and reaped; no more events. */
static void version_run_end(struct vmm_version_run *r)
{
    if (r->ev_read)
        event_del(r->ev_read);
    if (r->timer)
        event_del(r->timer);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    r->pid = 0;
}

void vmm_version_run_free(struct vmm_version_run *r)
{
    if (r == NULL)
        return;
    version_run_end(r);
    if (r->ev_read)
        event_free(r->ev_read);
    if (r->timer)
        event_free(r->timer);
    free(r);
}

/* The output so far: its first line must start with the prefix. done may
 * free r. */
static void version_run_finish(struct vmm_version_run *r, const char *why)
{
    version_run_end(r);
    r->buf[r->len] = '\0';
    r->buf[strcspn(r->buf, "\n")] = '\0';
    struct error err;
    if (strncmp(r->buf, r->prefix, strlen(r->prefix)) != 0) {
        error_set(&err, ERR_FAILED_PRECONDITION, "%s --version did not say its version%s: %.200s", r->bin,
                  why, r->buf[0] ? r->buf : "(nothing)");
        r->done(r->ctx, NULL, &err);
        return;
    }
    r->done(r->ctx, r->buf, NULL);
}

static void on_version_output(evutil_socket_t fd, short what, void *arg)
{
    struct vmm_version_run *r = arg;
    ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n > 0) {
        r->len += (size_t)n;
        if (r->len < sizeof(r->buf) - 1 && memchr(r->buf, '\n', r->len) == NULL)
            return; /* the first line is not whole yet */
    }
    version_run_finish(r, "");
}

static void on_version_timeout(evutil_socket_t fd, short what, void *arg)
{
    char why[64];
    snprintf(why, sizeof(why), " within %d ms", VMM_VERSION_TIMEOUT_MS);
    version_run_finish(arg, why);
}

int vmm_version_run_start(const char *bin, const struct vmm_jail *jail, const char *prefix,
                          struct event_base *base, vmm_version_fn done, void *ctx,
                          struct vmm_version_run **out, struct error *err)
{
    *out = NULL;
    struct vmm_version_run *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    r->fd = -1;
    r->done = done;
    r->ctx = ctx;
    snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
    snprintf(r->bin, sizeof(r->bin), "%s", bin);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(r);
        return error_set_errno(err, ERR_INTERNAL, "pipe");
    }
    char *args[] = {(char *)bin, "--version", NULL};
    int spawned = vmm_spawn(args, fds[1], NULL, jail, &r->pid, err);
    close(fds[1]);
    r->fd = fds[0];
    if (spawned < 0) {
        vmm_version_run_free(r);
        return error_prefix(err, "running %s --version", bin);
    }
    r->ev_read = event_new(base, r->fd, EV_READ | EV_PERSIST, on_version_output, r);
    r->timer = evtimer_new(base, on_version_timeout, r);
    struct timeval tv = {.tv_sec = VMM_VERSION_TIMEOUT_MS / 1000,
                         .tv_usec = (suseconds_t)(VMM_VERSION_TIMEOUT_MS % 1000) * 1000};
    if (r->ev_read == NULL || r->timer == NULL || event_add(r->ev_read, NULL) < 0 ||
        evtimer_add(r->timer, &tv) < 0) {
        vmm_version_run_free(r);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    *out = r;
    return 0;
}

int vmm_spawn(char *const *args, int log_fd, const char *pidfile, const struct vmm_jail *jail,
              pid_t *pid_out, struct error *err)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return error_set_errno(err, ERR_RESOURCE_EXHAUSTED, "fork");
    if (pid == 0)
        spawn_child(args, log_fd, parent, jail);
    if (pidfile != NULL && write_pidfile(pidfile, pid, err) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    *pid_out = pid;
    return 0;
}

/* True when the process works in dir (a VMM's working directory is its run
 * folder) or its command line mentions dir: a recycled pid will not. */
static bool process_mentions(pid_t pid, const char *needle)
{
    char path[64];
    char cwd[4096];
    snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
    ssize_t cwd_len = readlink(path, cwd, sizeof(cwd) - 1);
    if (cwd_len > 0) {
        cwd[cwd_len] = '\0';
        /* Its run folder, or a folder in it (a jailed Firecracker works in
         * its chroot, <run folder>/firecracker/<id>/root). */
        size_t n = strlen(needle);
        if (strncmp(cwd, needle, n) == 0 && (cwd[n] == '\0' || cwd[n] == '/'))
            return true;
    }
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    static char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

int vmm_reap_orphans(const char *vms_dir, struct error *err)
{
    DIR *d = opendir(vms_dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return error_set_errno(err, ERR_INTERNAL, "opening %s", vms_dir);
    }
    int killed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char dir[4096], pidfile[4096 + 16];
        if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", vms_dir, e->d_name) >= sizeof(dir))
            continue;
        snprintf(pidfile, sizeof(pidfile), "%s/vmm.pid", dir);
        FILE *f = fopen(pidfile, "re");
        if (f != NULL) {
            int pid = 0;
            if (fscanf(f, "%d", &pid) == 1 && pid > 1 && process_mentions(pid, dir)) {
                log_warn("killing VM %s (pid %d) left behind by an earlier daemon", e->d_name, pid);
                kill(pid, SIGKILL);
                /* Not our child: wait until it is gone, briefly. */
                for (int i = 0; i < 100 && kill(pid, 0) == 0 && process_mentions(pid, dir); i++)
                    usleep(10000);
                killed++;
            }
            fclose(f);
        }
        remove_tree(dir, NULL);
    }
    closedir(d);
    return killed;
}

int vmm_channel_key_create(struct vmm_vm *vm, struct error *err)
{
    if (getrandom(vm->channel.key, sizeof(vm->channel.key), 0) != (ssize_t)sizeof(vm->channel.key))
        return error_set_errno(err, ERR_INTERNAL, "getrandom");
    if ((size_t)snprintf(vm->key_path, sizeof(vm->key_path), "%s/channel.key", vm->run_dir) >= sizeof(vm->key_path))
        return error_set(err, ERR_INVALID_ARGUMENT, "run folder path too long");
    unlink(vm->key_path);
    cleanup_close int fd = open(vm->key_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", vm->key_path);
    if (write(fd, vm->channel.key, sizeof(vm->channel.key)) != (ssize_t)sizeof(vm->channel.key))
        return error_set_errno(err, ERR_INTERNAL, "writing %s", vm->key_path);
    return 0;
}

int vmm_initrd_with_key(struct vmm_vm *vm, const char *base, const char *dir, struct error *err)
{
    if ((size_t)snprintf(vm->initrd_path, sizeof(vm->initrd_path), "%s/initrd.cpio", dir ? dir : vm->run_dir) >=
        sizeof(vm->initrd_path))
        return error_set(err, ERR_INVALID_ARGUMENT, "run folder path too long");
    cleanup_close int in = open(base, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "initramfs %s", base);
    unlink(vm->initrd_path);
    cleanup_close int out = open(vm->initrd_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", vm->initrd_path);
    off_t size = file_copy_fd(in, out);
    if (size < 0)
        return error_set_errno(err, ERR_INTERNAL, "copying %s to %s", base, vm->initrd_path);
    /* The kernel looks for the next archive at a 4-byte boundary and skips
     * zeros up to it. */
    static const char zeros[4];
    size_t pad = (size_t)((4 - (size % 4)) % 4);
    if (pad && write(out, zeros, pad) != (ssize_t)pad)
        return error_set_errno(err, ERR_INTERNAL, "writing %s", vm->initrd_path);
    struct cpio_writer *w = NULL;
    if (cpio_writer_new(out, &w, err) < 0)
        return -1;
    struct cpio_entry e = {.name = ".enclave-key", .mode = S_IFREG | 0400, .uid = 0, .gid = 0};
    uint64_t archive_size = 0;
    char sha[65];
    int rc = cpio_write_file(w, &e, vm->channel.key, sizeof(vm->channel.key), err);
    if (rc == 0)
        rc = cpio_writer_finish(w, &archive_size, sha, err);
    cpio_writer_free(w);
    if (rc < 0)
        return error_prefix(err, "writing %s", vm->initrd_path);
    return 0;
}
