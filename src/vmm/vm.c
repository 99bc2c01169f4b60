/* The VM record shared by the drivers, and orphan reaping. */
#include <dirent.h>
#include <errno.h>
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
#include "common/log.h"
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

bool vmm_vm_uses_kvm(const struct vmm_vm *vm)
{
    return vm->kvm;
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
    explicit_bzero(vm->channel.key, sizeof(vm->channel.key));
    free(vm);
}

static int write_pidfile(const char *path, pid_t pid, struct error *err)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (f == NULL)
        return error_set_errno(err, ERR_INTERNAL, "writing %s", tmp);
    fprintf(f, "%d\n", (int)pid);
    if (fclose(f) != 0 || rename(tmp, path) < 0)
        return error_set_errno(err, ERR_INTERNAL, "writing %s", path);
    return 0;
}

int vmm_spawn(char *const *args, int log_fd, const char *pidfile, pid_t *pid_out,
              struct error *err)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return error_set_errno(err, ERR_RESOURCE_EXHAUSTED, "fork");
    if (pid == 0) {
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
        execvp(args[0], args);
        dprintf(2, "cannot run %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    if (write_pidfile(pidfile, pid, err) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    *pid_out = pid;
    return 0;
}

/* True when /proc/<pid>/cmdline mentions needle: a recycled pid will not. */
static bool process_mentions(pid_t pid, const char *needle)
{
    char path[64];
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

static void remove_tree_shallow(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096 + 256 + 2];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
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
        remove_tree_shallow(dir);
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

/* Copies all of in to out, in the kernel where it can (a reflink on file
 * systems that share extents). Returns bytes copied or -1. */
static off_t copy_all(int in, int out)
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

int vmm_initrd_with_key(struct vmm_vm *vm, const char *base, struct error *err)
{
    if ((size_t)snprintf(vm->initrd_path, sizeof(vm->initrd_path), "%s/initrd.cpio", vm->run_dir) >=
        sizeof(vm->initrd_path))
        return error_set(err, ERR_INVALID_ARGUMENT, "run folder path too long");
    cleanup_close int in = open(base, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "initramfs %s", base);
    unlink(vm->initrd_path);
    cleanup_close int out = open(vm->initrd_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", vm->initrd_path);
    off_t size = copy_all(in, out);
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
