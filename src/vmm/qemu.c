/* The QEMU driver: `qemu-system-x86_64 -M microvm`, no network device at all,
 * the guest channel on vhost-vsock or a virtio-serial port, control over QMP. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "vmm/qmp.h"
#include "vmm/vm_internal.h"

#define GUEST_VSOCK_PORT 52
#define QEMU_STOP_TIMEOUT_MS 2000 /* QMP quit; then SIGKILL (the owner's grace period is as long) */
#define QEMU_MAX_ARGS 64

struct argv_builder {
    char *args[QEMU_MAX_ARGS];
    char store[QEMU_MAX_ARGS][512];
    int n;
};

static int argv_add(struct argv_builder *b, struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int argv_add(struct argv_builder *b, struct error *err, const char *fmt, ...)
{
    if (b->n >= QEMU_MAX_ARGS - 1)
        return error_set(err, ERR_INTERNAL, "too many QEMU arguments");
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(b->store[b->n], sizeof(b->store[b->n]), fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof(b->store[b->n]))
        return error_set(err, ERR_INVALID_ARGUMENT, "QEMU argument too long");
    b->args[b->n] = b->store[b->n];
    b->n++;
    b->args[b->n] = NULL;
    return 0;
}

/* QEMU's -chardev and -drive option syntax treats ',' as a separator. */
static int check_option_path(const char *what, const char *path, struct error *err)
{
    if (strchr(path, ',') != NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s path may not contain ',': %s", what, path);
    return 0;
}

/* Boots the guest kernel with KVM for a moment and watches its console: some
 * hosts (nested virtualization) hand out a /dev/kvm on which QEMU aborts at
 * start, or on which the kernel never gets past its first instructions. KVM
 * counts as working once the kernel prints its banner. Returns 0 when it did,
 * else -1 with what went wrong in why. */
#define KVM_PROBE_MS 5000
static int qemu_try_kvm(const char *bin, const char *cpu, const char *kernel, char *why,
                        size_t why_len)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return -1;
    }
    /* Probed as the VMs will run: same user, same confinement. */
    char *args[] = {(char *)bin, "-M", "microvm", "-accel", "kvm", "-cpu", (char *)cpu, "-m", "128",
                    "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none", "-nic",
                    "none", "-serial", "stdio", "-kernel", (char *)kernel, "-append",
                    "console=ttyS0 panic=-1 rdinit=/none", NULL};
    const char *read_files[] = {kernel, NULL};
    struct vmm_jail jail = {.read_files = read_files, .landlock = true};
    pid_t pid = 0;
    struct error spawn_err;
    if (vmm_spawn(args, out[1], NULL, &jail, &pid, &spawn_err) < 0) {
        close(out[0]);
        close(out[1]);
        snprintf(why, why_len, "%.400s", spawn_err.message);
        return -1;
    }
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    char buf[8192];
    size_t len = 0;
    int ok = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long elapsed = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (elapsed >= KVM_PROBE_MS)
            break;
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        poll(&pfd, 1, (int)(KVM_PROBE_MS - elapsed));
        ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
        if (n == 0)
            break; /* QEMU exited */
        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
            if (strstr(buf, "Linux version") != NULL) {
                ok = 1;
                break;
            }
            if (len >= sizeof(buf) - 1) {
                memmove(buf, buf + len / 2, len - len / 2);
                len -= len / 2;
            }
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(out[0]);
    if (ok)
        return 0;
    buf[len] = '\0';
    char *line = strstr(buf, "qemu-system");
    if (line == NULL)
        line = strstr(buf, "cannot start");
    if (line != NULL) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(why, why_len, "%s", line);
    } else {
        snprintf(why, why_len, "a KVM guest did not start its kernel within %d ms",
                 KVM_PROBE_MS);
    }
    return -1;
}

/* Which -cpu to use with KVM, found once per process: "host", or "host" less
 * the MSR that nested hosts most often refuse, or NULL when KVM does not work. */
static const char *kvm_cpu_model(const char *bin, const char *kernel, char *why, size_t why_len)
{
    static int probed;
    static const char *model;
    static char saved_why[512];
    if (!probed) {
        probed = 1;
        if (qemu_try_kvm(bin, "host", kernel, saved_why, sizeof(saved_why)) == 0)
            model = "host";
        else if (strstr(saved_why, "MSR") != NULL &&
                 qemu_try_kvm(bin, "host,-arch-capabilities", kernel, saved_why,
                              sizeof(saved_why)) == 0)
            model = "host,-arch-capabilities";
        if (model)
            log_debug("KVM works with -cpu %s", model);
        else
            log_warn("KVM is present but QEMU cannot use it (%s); using TCG", saved_why);
    }
    snprintf(why, why_len, "%s", saved_why);
    return model;
}

static const char *qemu_binary(const struct vmm_config *c)
{
    const char *bin = c->vmm_binary ? c->vmm_binary : getenv("ENCLAVE_QEMU");
    return bin ? bin : "qemu-system-x86_64";
}

/* The -cpu model to use with KVM, or NULL for TCG. */
static const char *want_kvm(const struct vmm_config *c)
{
    const char *env = getenv("ENCLAVE_ACCEL");
    if (env != NULL && strcmp(env, "tcg") == 0)
        return NULL;
    if (c->accel == VMM_ACCEL_TCG)
        return NULL;
    struct vmm_host host;
    if (vmm_detect_host(VMM_PROVIDER_AUTO, &host, NULL) < 0 || !host.kvm_usable)
        return NULL;
    char why[512];
    return kvm_cpu_model(qemu_binary(c), c->kernel, why, sizeof(why));
}

int vmm_qemu_probe_kvm(const char *vmm_binary, const char *kernel, char *why, size_t why_len)
{
    struct vmm_host host;
    if (vmm_detect_host(VMM_PROVIDER_AUTO, &host, NULL) < 0 || !host.kvm_usable) {
        snprintf(why, why_len, "%s", host.explain);
        return -1;
    }
    const char *bin = vmm_binary ? vmm_binary : getenv("ENCLAVE_QEMU");
    return kvm_cpu_model(bin ? bin : "qemu-system-x86_64", kernel, why, why_len) ? 0 : -1;
}

static bool have_vhost_vsock(void)
{
    const char *env = getenv("ENCLAVE_CHANNEL");
    if (env != NULL && strcmp(env, "virtio-serial") == 0)
        return false;
    return access("/dev/vhost-vsock", R_OK | W_OK) == 0;
}

/* TCG's translation cache in MiB. QEMU's default reserves 1 GiB and never
 * gives back what it touched, so a VM that has run Python for a while holds
 * 120-160 MiB of translated code, and more the longer it runs. 64 MiB caps
 * that with no measurable cost to a Python workload; at 48 MiB and below
 * Python's code no longer fits and is translated again and again
 * (docs/bench.md). ENCLAVE_TCG_TB_MB overrides it (0: QEMU's default). */
#define QEMU_TB_SIZE_MB 64u
static unsigned qemu_tb_size_mb(void)
{
    const char *env = getenv("ENCLAVE_TCG_TB_MB");
    if (env != NULL && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (*end == '\0' && v <= 4096)
            return (unsigned)v;
    }
    return QEMU_TB_SIZE_MB;
}

/* ENCLAVE_ROOTFS_CACHE=none|writeback|unsafe (for measuring; docs/bench.md). */
static const char *qemu_rootfs_cache(void)
{
    const char *env = getenv("ENCLAVE_ROOTFS_CACHE");
    if (env != NULL && (strcmp(env, "none") == 0 || strcmp(env, "unsafe") == 0 || strcmp(env, "writeback") == 0))
        return env;
    return "writeback";
}

bool vmm_cmdline_has(const char *cmdline, const char *word)
{
    size_t n = word ? strlen(word) : 0;
    if (cmdline == NULL || n == 0)
        return false;
    for (const char *p = cmdline; (p = strstr(p, word)) != NULL; p++)
        if ((p == cmdline || p[-1] == ' ' || p[-1] == '\t') &&
            (p[n] == '\0' || p[n] == ' ' || p[n] == '\t' || p[n] == '\n'))
            return true;
    return false;
}

/* The virtio-serial channel over PCI (VMM_CMDLINE_CHANNEL_PCI): when the
 * image's guest loads virtio_pci, unless ENCLAVE_CHANNEL_PCI=0 (for
 * measuring; docs/bench.md). */
static bool qemu_channel_pci(const struct vmm_config *c, const struct vmm_vm *vm)
{
    if (vm->channel.kind != VMM_CHANNEL_UNIX || !vmm_cmdline_has(c->cmdline, VMM_CMDLINE_CHANNEL_PCI))
        return false;
    const char *env = getenv("ENCLAVE_CHANNEL_PCI");
    return env == NULL || strcmp(env, "0") != 0;
}

static int build_argv(const struct vmm_config *c, struct vmm_vm *vm, struct argv_builder *b,
                      struct error *err)
{
    const char *bin = qemu_binary(c);
    if (check_option_path("run folder", c->run_dir, err) < 0 ||
        check_option_path("kernel", c->kernel, err) < 0 ||
        check_option_path("initramfs", c->initrd, err) < 0 ||
        (c->rootfs != NULL && check_option_path("root filesystem", c->rootfs, err) < 0))
        return -1;
    int r = 0;
    r |= argv_add(b, err, "%s", bin);
    r |= argv_add(b, err, "-name");
    r |= argv_add(b, err, "enclave-%s,debug-threads=on", c->id);
    r |= argv_add(b, err, "-M");
    bool pci = qemu_channel_pci(c, vm);
    /* pcie=on: a PCIe host bridge for the channel only (every other device
     * stays virtio-mmio, where no queue is filled ahead). */
    r |= argv_add(b, err, "microvm,acpi=on,pit=on,rtc=on%s", pci ? ",pcie=on" : "");
    r |= argv_add(b, err, "-accel");
    unsigned tb_mb = qemu_tb_size_mb();
    if (vm->kvm)
        r |= argv_add(b, err, "kvm");
    else if (tb_mb)
        r |= argv_add(b, err, "tcg,tb-size=%u", tb_mb);
    else
        r |= argv_add(b, err, "tcg");
    r |= argv_add(b, err, "-cpu");
    r |= argv_add(b, err, "%s", vm->kvm ? vm->cpu_model : "max");
    r |= argv_add(b, err, "-smp");
    r |= argv_add(b, err, "%u", c->vcpus);
    r |= argv_add(b, err, "-m");
    r |= argv_add(b, err, "%u", c->mem_mb);
    r |= argv_add(b, err, "-nodefaults");
    r |= argv_add(b, err, "-no-user-config");
    r |= argv_add(b, err, "-no-reboot");
    r |= argv_add(b, err, "-display");
    r |= argv_add(b, err, "none");
    /* No network device at all. */
    r |= argv_add(b, err, "-nic");
    r |= argv_add(b, err, "none");
    /* QEMU's own syscall filter: no spawning, no privilege changes. */
    r |= argv_add(b, err, "-sandbox");
    r |= argv_add(b, err, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    r |= argv_add(b, err, "-chardev");
    r |= argv_add(b, err, "file,id=console,path=%s", vm->console_log);
    r |= argv_add(b, err, "-serial");
    r |= argv_add(b, err, "chardev:console");
    r |= argv_add(b, err, "-qmp");
    r |= argv_add(b, err, "unix:%s,server=on,wait=off", vm->qmp_path);
    r |= argv_add(b, err, "-kernel");
    r |= argv_add(b, err, "%s", c->kernel);
    r |= argv_add(b, err, "-initrd");
    r |= argv_add(b, err, "%s", c->initrd);
    r |= argv_add(b, err, "-append");
    r |= argv_add(b, err, "%s rdinit=/init", c->cmdline ? c->cmdline : "console=ttyS0");
    /* The channel key, as a file QEMU reads: never on the command line
     * (which every local user can read in /proc). */
    r |= argv_add(b, err, "-fw_cfg");
    r |= argv_add(b, err, "name=opt/org.enclave/key,file=%s", vm->key_path);
    if (c->rootfs != NULL) {
        /* The shared root filesystem: read-only for QEMU and the guest (the
         * guest kernel sees a read-only disk and refuses any write), the
         * same file for every VM of the image. The cache mode decides
         * whether reads go through the host's page cache, one copy for all
         * VMs (writeback, the default), or bypass it (none: O_DIRECT). */
        r |= argv_add(b, err, "-drive");
        r |= argv_add(b, err, "id=rootfs,file=%s,if=none,format=raw,readonly=on,cache=%s", c->rootfs,
                      qemu_rootfs_cache());
        r |= argv_add(b, err, "-device");
        r |= argv_add(b, err, "virtio-blk-device,drive=rootfs");
    }
    /* Free page reporting: the guest tells QEMU which of its pages are free
     * (in 2 MiB blocks, a few seconds after they became free) and QEMU gives
     * them back to the host, so memory the guest touched once (the kernel
     * unpacking itself, boot-time allocations) stops counting.
     * ENCLAVE_FREE_PAGE_REPORTING=0 leaves the device out (for measuring). */
    const char *fpr = getenv("ENCLAVE_FREE_PAGE_REPORTING");
    if (fpr == NULL || strcmp(fpr, "0") != 0) {
        r |= argv_add(b, err, "-device");
        r |= argv_add(b, err, "virtio-balloon-device,free-page-reporting=on");
    }
    /* Entropy from the host, so early getrandom() in the guest does not stall. */
    r |= argv_add(b, err, "-device");
    r |= argv_add(b, err, "virtio-rng-device");
    if (c->restore_from != NULL) {
        /* The saved state comes in on an inherited descriptor (QEMU 7.2 has
         * no file: migration URI, and -sandbox forbids exec:). */
        r |= argv_add(b, err, "-incoming");
        r |= argv_add(b, err, "fd:%d", VMM_STATE_IN_FD);
    }
    if (vm->channel.kind == VMM_CHANNEL_VSOCK) {
        r |= argv_add(b, err, "-device");
        r |= argv_add(b, err, "vhost-vsock-device,guest-cid=%u", vm->channel.cid);
    } else {
        r |= argv_add(b, err, "-device");
        r |= argv_add(b, err, "%s,max_ports=2", pci ? "virtio-serial-pci" : "virtio-serial-device");
        r |= argv_add(b, err, "-chardev");
        r |= argv_add(b, err, "socket,id=rpc,path=%s,server=on,wait=off", vm->channel.path);
        r |= argv_add(b, err, "-device");
        r |= argv_add(b, err, "virtserialport,chardev=rpc,name=org.enclave.rpc");
    }
    return r ? -1 : 0;
}

static void qemu_release(struct vmm_vm *vm);

static int qemu_start(const struct vmm_config *c, struct vmm_vm **out, struct error *err)
{
    if (c->vcpus == 0 || c->mem_mb == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "a VM needs at least one vCPU and some memory");
    struct vmm_vm *vm = calloc(1, sizeof(*vm));
    if (vm == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    snprintf(vm->run_dir, sizeof(vm->run_dir), "%s", c->run_dir);
    snprintf(vm->console_log, sizeof(vm->console_log), "%s/console.log", c->run_dir);
    snprintf(vm->pidfile, sizeof(vm->pidfile), "%s/vmm.pid", c->run_dir);
    snprintf(vm->vmm_log, sizeof(vm->vmm_log), "%s/vmm.log", c->run_dir);
    vm->base = c->base;
    vm->release = qemu_release;
    if ((size_t)snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/qmp.sock", c->run_dir) >=
        sizeof(vm->qmp_path)) {
        free(vm);
        return error_set(err, ERR_INVALID_ARGUMENT, "run folder path too long for a socket: %s",
                         c->run_dir);
    }
    const char *model = want_kvm(c);
    vm->kvm = model != NULL;
    if (model)
        snprintf(vm->cpu_model, sizeof(vm->cpu_model), "%s", model);
    if (c->accel == VMM_ACCEL_KVM && !vm->kvm) {
        free(vm);
        return error_set(err, ERR_FAILED_PRECONDITION, "KVM was required but is not usable here");
    }
    if (have_vhost_vsock()) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != sizeof(r))
            r = (uint32_t)getpid();
        vm->channel.kind = VMM_CHANNEL_VSOCK;
        vm->channel.cid = 3 + (r % 0x0fffffffu);
        vm->channel.port = GUEST_VSOCK_PORT;
    } else {
        vm->channel.kind = VMM_CHANNEL_UNIX;
        snprintf(vm->channel.path, sizeof(vm->channel.path), "%s/rpc.sock", c->run_dir);
    }

    if (vmm_channel_key_create(vm, err) < 0) {
        vmm_vm_free(vm);
        return -1;
    }
    if (c->restore_from != NULL) {
        if (c->restore_key == NULL) {
            vmm_vm_free(vm);
            return error_set(err, ERR_INVALID_ARGUMENT, "a restore needs the snapshot's channel key");
        }
        vm->channel.resume = true;
        memcpy(vm->channel.resume_key, c->restore_key, sizeof(vm->channel.resume_key));
    }
    struct argv_builder b = {0};
    if (build_argv(c, vm, &b, err) < 0) {
        vmm_vm_free(vm);
        return -1;
    }
    cleanup_close int log_fd = open(vm->vmm_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        error_set_errno(err, ERR_INTERNAL, "creating %s", vm->vmm_log);
        vmm_vm_free(vm);
        return -1;
    }
    unlink(vm->channel.path[0] ? vm->channel.path : vm->qmp_path);
    unlink(vm->qmp_path);

    const char *read_files[] = {c->kernel, c->initrd, c->rootfs, NULL};
    struct vmm_jail jail = {.run_dir = c->run_dir, .read_files = read_files, .landlock = true,
                            .state_in = c->restore_from};
    if (c->save_to != NULL) { /* the guest's memory goes into that file */
        jail.max_file_bytes = ((uint64_t)c->mem_mb + 64) << 20;
        snprintf(vm->save_path, sizeof(vm->save_path), "%s", c->save_to);
    }
    pid_t pid = 0;
    if (vmm_spawn(b.args, log_fd, vm->pidfile, &jail, &pid, err) < 0) {
        vm->pidfile[0] = '\0';
        vmm_vm_free(vm);
        return -1;
    }
    vm->pid = pid;
    if (log_get_level_enabled(LOG_LEVEL_DEBUG)) {
        char line[4096] = "";
        size_t used = 0;
        for (int i = 0; i < b.n && used < sizeof(line) - 1; i++)
            used += (size_t)snprintf(line + used, sizeof(line) - used, "%s ", b.args[i]);
        log_debug("VM %s: %s", c->id, line);
    }
    *out = vm;
    return 0;
}

/* vm->release: cancels a quit in flight. */
static void qemu_release(struct vmm_vm *vm)
{
    qmp_call_free(vm->qmp_call);
    vm->qmp_call = NULL;
}

static void on_quit_done(void *ctx, const struct error *err)
{
    struct vmm_vm *vm = ctx;
    qemu_release(vm);
    if (err != NULL && !vm->exited && vm->pid > 0) {
        log_debug("VM %s: QMP quit failed (%s); killing it", vm->run_dir, err->message);
        kill(vm->pid, SIGKILL);
    }
}

/* QMP quit on the daemon's loop (sent before this returns: qmp.h); when
 * QEMU refuses it or does not answer in time, SIGKILL. The owner reaps
 * the process. */
static int qemu_request_stop(struct vmm_vm *vm, struct error *err)
{
    if (vm->exited || vm->qmp_call != NULL)
        return 0;
    if (vm->base == NULL)
        return error_set(err, ERR_INTERNAL, "stopping a VM needs the daemon's event loop: none given");
    return qmp_call_start(vm->base, vm->qmp_path, "quit", QEMU_STOP_TIMEOUT_MS, on_quit_done, vm,
                          &vm->qmp_call, err);
}

static void qemu_kill(struct vmm_vm *vm)
{
    if (!vm->exited && vm->pid > 0)
        kill(vm->pid, SIGKILL);
}

/* Saving: a plain migration stream of the running VM into a file the
 * daemon opens and passes over QMP, at full speed (QEMU's default bandwidth cap
 * would make it take seconds). QEMU pauses the VM at the end of it and
 * keeps it paused ("postmigrate"). Measured on QEMU 7.2 (docs/fast-start.md):
 * this, against file-backed guest memory with x-ignore-shared. */
static int qemu_snapshot_begin(struct vmm_vm *vm, struct error *err)
{
    if (vm->exited)
        return error_set(err, ERR_FAILED_PRECONDITION, "the VM has exited");
    if (vm->save_path[0] == '\0')
        return error_set(err, ERR_FAILED_PRECONDITION, "the VM was not started to be saved");
    /* The daemon creates the file (0600, its own) and hands QEMU only a
     * descriptor: the VMM's user cannot open it, nor anything else there. */
    cleanup_close int fd = open(vm->save_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", vm->save_path);
    struct qmp *qmp = NULL;
    if (qmp_connect(vm->qmp_path, 1000, &qmp, err) < 0)
        return -1;
    json_t *params = json_pack("{s:I}", "max-bandwidth", (json_int_t)1 << 40);
    json_t *args = json_pack("{s:s}", "uri", "fd:snapshot");
    int r = params && args ? 0 : error_set(err, ERR_INTERNAL, "out of memory");
    if (r == 0)
        r = qmp_send_fd(qmp, "snapshot", fd, 1000, err);
    if (r == 0)
        r = qmp_execute(qmp, "migrate-set-parameters", params, NULL, 1000, err);
    if (r == 0)
        r = qmp_execute(qmp, "migrate", args, NULL, 1000, err);
    json_decref(params);
    json_decref(args);
    qmp_close(qmp);
    return r < 0 ? error_prefix(err, "saving a snapshot") : 0;
}

static int qemu_snapshot_poll(struct vmm_vm *vm, struct error *err)
{
    if (vm->exited)
        return error_set(err, ERR_FAILED_PRECONDITION, "the VM exited while saving its snapshot");
    struct qmp *qmp = NULL;
    if (qmp_connect(vm->qmp_path, 1000, &qmp, err) < 0)
        return -1;
    json_t *res = NULL;
    int r = qmp_execute(qmp, "query-migrate", NULL, &res, 1000, err);
    qmp_close(qmp);
    if (r < 0)
        return -1;
    const char *status = json_string_value(json_object_get(res, "status"));
    int done = 0;
    if (status == NULL || strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
        const char *desc = json_string_value(json_object_get(res, "error-desc"));
        done = error_set(err, ERR_INTERNAL, "saving the snapshot failed: %s",
                         desc ? desc : status ? status : "no status");
    } else if (strcmp(status, "completed") == 0) {
        done = 1;
    }
    json_decref(res);
    return done;
}

static int qemu_version_start(const char *vmm_binary, struct event_base *base, vmm_version_fn done,
                              void *ctx, struct vmm_version_run **out, struct error *err)
{
    const char *bin = vmm_binary ? vmm_binary : getenv("ENCLAVE_QEMU");
    if (bin == NULL)
        bin = "qemu-system-x86_64";
    struct vmm_jail jail = {.landlock = true};
    return vmm_version_run_start(bin, &jail, "QEMU emulator version ", base, done, ctx, out, err);
}

const struct vmm_driver vmm_qemu_driver = {
    .name = "qemu",
    .start = qemu_start,
    .request_stop = qemu_request_stop,
    .kill = qemu_kill,
    .snapshot_begin = qemu_snapshot_begin,
    .snapshot_poll = qemu_snapshot_poll,
    .version_start = qemu_version_start,
};
