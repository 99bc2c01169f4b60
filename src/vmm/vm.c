/* The VM record shared by the drivers, and orphan reaping. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
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
