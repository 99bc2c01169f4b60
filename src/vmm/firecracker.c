/* The Firecracker driver (KVM hosts): spawns `firecracker --api-sock`, then
 * configures and boots the VM over its HTTP API (tests/firecracker/spec/
 * firecracker.yaml): boot source, machine config, a hybrid vsock device, and
 * no network interface, ever. The guest channel is the vsock device's Unix
 * socket with Firecracker's "CONNECT <port>\n" handshake.
 *
 * Every step is bounded: the wait for the API socket, each API call (see
 * fc_api.h), and the stop request. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "vmm/fc_api.h"
#include "vmm/vm_internal.h"

#define FC_GUEST_PORT 52
#define FC_GUEST_CID 3            /* the vsock device is private to the VM; 3 is the first guest CID */
#define FC_SOCKET_WAIT_MS 5000    /* firecracker start to its API socket accepting */
#define FC_CONFIG_TIMEOUT_MS 2000 /* each pre-boot API call */
#define FC_START_TIMEOUT_MS 10000 /* InstanceStart loads the kernel and initrd */
#define FC_STOP_TIMEOUT_MS 1000   /* SendCtrlAltDel */
#define FC_MAX_VCPUS 32           /* the API's limit */
#define FC_SNAPSHOT_TIMEOUT_MS 30000 /* /snapshot/create and /snapshot/load write or map the memory */

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The firecracker binary: the configured one, $ENCLAVE_FIRECRACKER, or the
 * first executable `firecracker` on PATH. */
static int find_binary(const struct vmm_config *c, char *out, size_t size, struct error *err)
{
    const char *explicit = c->vmm_binary;
    const char *from = "the configured VMM binary";
    if (explicit == NULL && (explicit = getenv("ENCLAVE_FIRECRACKER")) != NULL && explicit[0])
        from = "$ENCLAVE_FIRECRACKER";
    if (explicit != NULL && explicit[0]) {
        if (access(explicit, X_OK) < 0)
            return error_set_errno(err, ERR_FAILED_PRECONDITION, "%s (%s) is not an executable file",
                                   from, explicit);
        if ((size_t)snprintf(out, size, "%s", explicit) >= size)
            return error_set(err, ERR_INVALID_ARGUMENT, "firecracker path too long");
        return 0;
    }
    const char *path = getenv("PATH");
    if (path != NULL) {
        for (const char *p = path; *p;) {
            size_t n = strcspn(p, ":");
            if (n > 0 && (size_t)snprintf(out, size, "%.*s/firecracker", (int)n, p) < size &&
                access(out, X_OK) == 0)
                return 0;
            p += n;
            if (*p == ':')
                p++;
        }
    }
    return error_set(err, ERR_FAILED_PRECONDITION,
                     "the firecracker binary was not found: put it on PATH or set "
                     "ENCLAVE_FIRECRACKER to its path (it needs a KVM host)");
}

/* Firecracker's --id allows [A-Za-z0-9-]{1,64}; session ids may also hold '.' and '_'. */
static void instance_id(const char *id, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; id && id[i] && j + 1 < size && j < 64; i++) {
        char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        out[j++] = ok ? ch : '-';
    }
    if (j == 0)
        snprintf(out, size, "vm");
    else
        out[j] = '\0';
}

/* Creates an empty file Firecracker can append to (its logger and metrics
 * open an existing path). */
static int touch(const char *path, struct error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", path);
    close(fd);
    return 0;
}

/* Serializes doc (consumed) and PUTs it. */
static int put_json(const struct vmm_vm *vm, const char *path, json_t *doc, unsigned timeout_ms,
                    struct error *err)
{
    if (doc == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    cleanup_free char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (body == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    log_debug("firecracker %s: PUT %s %s", vm->run_dir, path, body);
    return fc_api_put(vm->api_path, path, body, timeout_ms, err);
}

/* Waits until the API socket accepts a connection, the process ends, or the
 * time is up. */
static int wait_api_socket(struct vmm_vm *vm, struct error *err)
{
    long long deadline = now_ms() + FC_SOCKET_WAIT_MS;
    for (;;) {
        int status;
        if (waitpid(vm->pid, &status, WNOHANG) == vm->pid) {
            vmm_vm_mark_exited(vm, status);
            return error_set(err, ERR_UNAVAILABLE,
                             "firecracker exited (%s %d) before its API socket was ready; see %s",
                             WIFSIGNALED(status) ? "signal" : "status",
                             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                             vm->console_log);
        }
        struct error ignored;
        int fd = fc_api_connect(vm->api_path, &ignored);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (now_ms() >= deadline)
            return error_set(err, ERR_DEADLINE_EXCEEDED,
                             "firecracker's API socket %s was not ready within %d ms", vm->api_path,
                             FC_SOCKET_WAIT_MS);
        usleep(10000);
    }
}

/* The guest memory file next to a snapshot's state file. */
static int mem_path(const char *state, char *out, size_t size, struct error *err)
{
    if ((size_t)snprintf(out, size, "%s.mem", state) >= size)
        return error_set(err, ERR_INVALID_ARGUMENT, "snapshot path too long");
    return 0;
}

static int configure_logs(struct vmm_vm *vm, struct error *err);

/* A restore: only the logger and metrics are configured (Firecracker
 * refuses a snapshot load after boot-specific configuration), then the
 * snapshot is loaded and resumed, its vsock device moved to this VM's own
 * socket. The machine configuration, boot source and devices are the
 * snapshot's. */
static int load_snapshot(const struct vmm_config *c, struct vmm_vm *vm, struct error *err)
{
    char mem[4200];
    if (configure_logs(vm, err) < 0 || mem_path(c->restore_from, mem, sizeof(mem), err) < 0)
        return -1;
    return put_json(vm, "/snapshot/load",
                    json_pack("{s:s, s:{s:s, s:s}, s:b, s:{s:s}}", "snapshot_path", c->restore_from,
                              "mem_backend", "backend_type", "File", "backend_path", mem,
                              "resume_vm", 1, "vsock_override", "uds_path", vm->channel.path),
                    FC_SNAPSHOT_TIMEOUT_MS, err);
}

static int configure_logs(struct vmm_vm *vm, struct error *err)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/firecracker.log", vm->run_dir);
    if (touch(path, err) < 0 ||
        put_json(vm, "/logger",
                 json_pack("{s:s, s:s, s:b}", "log_path", path, "level", "Warning", "show_level", 1),
                 FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/metrics.json", vm->run_dir);
    if (touch(path, err) < 0 ||
        put_json(vm, "/metrics", json_pack("{s:s}", "metrics_path", path), FC_CONFIG_TIMEOUT_MS,
                 err) < 0)
        return -1;
    return 0;
}

static int configure_and_boot(const struct vmm_config *c, struct vmm_vm *vm, struct error *err)
{
    if (configure_logs(vm, err) < 0)
        return -1;

    /* The image's arguments, then what this driver needs: the guest powers off
     * (Firecracker exits) on reboot, through the keyboard controller that
     * SendCtrlAltDel also uses; enclave-init is the initramfs's /init.
     * Firecracker appends the virtio-mmio device list itself. Its default
     * arguments are replaced, so `nomodule` is not there: the guest loads
     * its virtio modules. */
    cleanup_free char *boot_args = NULL;
    if (asprintf(&boot_args, "%s reboot=k rdinit=/init", c->cmdline ? c->cmdline : "console=ttyS0") < 0) {
        boot_args = NULL;
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    if (put_json(vm, "/boot-source",
                 json_pack("{s:s, s:s, s:s}", "kernel_image_path", c->kernel, "initrd_path",
                           vm->initrd_path, "boot_args", boot_args),
                 FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    if (put_json(vm, "/machine-config",
                 json_pack("{s:i, s:i, s:b}", "vcpu_count", (int)c->vcpus, "mem_size_mib",
                           (int)c->mem_mb, "smt", 0),
                 FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    if (put_json(vm, "/vsock",
                 json_pack("{s:i, s:s}", "guest_cid", FC_GUEST_CID, "uds_path", vm->channel.path),
                 FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    /* The image's shared root filesystem: read-only, not the root device
     * (Firecracker would then add root=/dev/vda; enclave-init mounts it
     * itself from the initramfs). Firecracker opens it read-only. */
    if (c->rootfs != NULL &&
        put_json(vm, "/drives/rootfs",
                 json_pack("{s:s, s:s, s:b, s:b}", "drive_id", "rootfs", "path_on_host", c->rootfs,
                           "is_root_device", 0, "is_read_only", 1),
                 FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    /* No /network-interfaces call: the VM has no NIC. */
    return put_json(vm, "/actions", json_pack("{s:s}", "action_type", "InstanceStart"),
                    FC_START_TIMEOUT_MS, err);
}

static void stop_and_free(struct vmm_vm *vm)
{
    if (!vm->exited && vm->pid > 0) {
        kill(vm->pid, SIGKILL);
        int status;
        if (waitpid(vm->pid, &status, 0) == vm->pid)
            vmm_vm_mark_exited(vm, status);
    }
    vmm_vm_free(vm);
}

static int fc_start(const struct vmm_config *c, struct vmm_vm **out, struct error *err)
{
    if (c->vcpus == 0 || c->mem_mb == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "a VM needs at least one vCPU and some memory");
    if (c->vcpus > FC_MAX_VCPUS)
        return error_set(err, ERR_INVALID_ARGUMENT, "Firecracker runs at most %d vCPUs", FC_MAX_VCPUS);
    if (c->accel == VMM_ACCEL_TCG)
        return error_set(err, ERR_FAILED_PRECONDITION, "Firecracker needs KVM; it has no TCG mode");
    if (c->kernel == NULL || c->initrd == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "Firecracker needs a kernel and an initramfs");
    if (access(c->kernel, R_OK) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "kernel %s", c->kernel);
    if (access(c->initrd, R_OK) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "initramfs %s", c->initrd);
    if (c->rootfs != NULL && access(c->rootfs, R_OK) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "root filesystem %s", c->rootfs);
    char bin[4096];
    if (find_binary(c, bin, sizeof(bin), err) < 0)
        return -1;

    struct vmm_vm *vm = calloc(1, sizeof(*vm));
    if (vm == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    vm->kvm = true;
    snprintf(vm->run_dir, sizeof(vm->run_dir), "%s", c->run_dir);
    snprintf(vm->console_log, sizeof(vm->console_log), "%s/console.log", c->run_dir);
    if ((size_t)snprintf(vm->api_path, sizeof(vm->api_path), "%s/api.sock", c->run_dir) >=
            sizeof(vm->api_path) ||
        (size_t)snprintf(vm->channel.path, sizeof(vm->channel.path), "%s/vsock.sock", c->run_dir) >=
            sizeof(vm->channel.path)) {
        free(vm);
        return error_set(err, ERR_INVALID_ARGUMENT, "run folder path too long for a socket: %s",
                         c->run_dir);
    }
    vm->channel.kind = VMM_CHANNEL_HYBRID_VSOCK;
    vm->channel.port = FC_GUEST_PORT;
    /* Firecracker refuses to bind over an existing socket file. */
    unlink(vm->api_path);
    unlink(vm->channel.path);

    /* Firecracker has no fw_cfg: the channel key travels in a per-VM copy
     * of the initramfs with a one-file archive appended (vmm/vm_internal.h). */
    if (vmm_channel_key_create(vm, err) < 0 ||
        (c->restore_from == NULL && vmm_initrd_with_key(vm, c->initrd, err) < 0)) {
        vmm_vm_free(vm);
        return -1;
    }
    if (c->restore_from != NULL) {
        /* The restored guest holds the snapshot's key until it is resumed
         * with its own (vmm.h, struct vmm_channel). */
        if (c->restore_key == NULL) {
            vmm_vm_free(vm);
            return error_set(err, ERR_INVALID_ARGUMENT, "a restore needs the snapshot's channel key");
        }
        vm->channel.resume = true;
        memcpy(vm->channel.resume_key, c->restore_key, sizeof(vm->channel.resume_key));
    }
    if (c->save_to != NULL)
        snprintf(vm->save_path, sizeof(vm->save_path), "%s", c->save_to);

    /* The guest's serial console is Firecracker's stdout. */
    cleanup_close int log_fd =
        open(vm->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) {
        error_set_errno(err, ERR_INTERNAL, "creating %s", vm->console_log);
        vmm_vm_free(vm);
        return -1;
    }
    char id[65];
    instance_id(c->id, id, sizeof(id));
    char *args[] = {bin, "--api-sock", vm->api_path, "--id", id, NULL};

    /* The pidfile is set in vm only once written, so a failure kills by pid. */
    char pidfile[4200];
    snprintf(pidfile, sizeof(pidfile), "%s/vmm.pid", c->run_dir);
    pid_t pid = 0;
    /* Firecracker opens the kernel and initramfs itself, by the paths in its
     * boot source, and its test double serves the guest as root: the user
     * switch and Landlock are left to Firecracker's own jailer for now (the
     * daemon warns when it runs Firecracker as root). The file size cap
     * applies. */
    struct vmm_jail jail = {.run_dir = c->run_dir, .keep_user = true};
    if (c->save_to != NULL) /* the guest's memory goes into the snapshot */
        jail.max_file_bytes = ((uint64_t)c->mem_mb + 64) << 20;
    if (vmm_spawn(args, log_fd, pidfile, &jail, &pid, err) < 0) {
        vmm_vm_free(vm);
        return -1;
    }
    vm->pid = pid;
    snprintf(vm->pidfile, sizeof(vm->pidfile), "%s", pidfile);
    log_debug("VM %s: %s --api-sock %s --id %s", c->id, bin, vm->api_path, id);

    if (wait_api_socket(vm, err) < 0 ||
        (c->restore_from ? load_snapshot(c, vm, err) : configure_and_boot(c, vm, err)) < 0) {
        error_prefix(err, "starting Firecracker for %s", c->id);
        stop_and_free(vm);
        return -1;
    }
    *out = vm;
    return 0;
}

static int fc_request_stop(struct vmm_vm *vm, struct error *err)
{
    if (vm->exited)
        return 0;
    /* The guest kernel turns Ctrl+Alt+Del into a reboot, which with reboot=k
     * ends the Firecracker process. The owner SIGKILLs it after its grace
     * period if the guest does not comply. */
    struct error api_err;
    if (fc_api_put(vm->api_path, "/actions", "{\"action_type\":\"SendCtrlAltDel\"}",
                   FC_STOP_TIMEOUT_MS, &api_err) == 0)
        return 0;
    /* No API: Firecracker exits on SIGTERM. */
    log_debug("firecracker %s: SendCtrlAltDel failed (%s); sending SIGTERM", vm->run_dir,
              api_err.message);
    if (kill(vm->pid, SIGTERM) < 0)
        return error_set_errno(err, ERR_INTERNAL, "SIGTERM to firecracker %d", (int)vm->pid);
    return 0;
}

static void fc_kill(struct vmm_vm *vm)
{
    if (!vm->exited && vm->pid > 0)
        kill(vm->pid, SIGKILL);
}

/* A full snapshot: the VM is paused (Firecracker creates snapshots of a
 * paused VM only), then its state goes to save_path and its memory to
 * save_path.mem, both written by Firecracker before it answers. */
static int fc_snapshot_begin(struct vmm_vm *vm, struct error *err)
{
    if (vm->save_path[0] == '\0')
        return error_set(err, ERR_FAILED_PRECONDITION, "the VM was not started to be saved");
    char mem[4200];
    if (mem_path(vm->save_path, mem, sizeof(mem), err) < 0)
        return -1;
    if (fc_api_send(vm->api_path, "PATCH", "/vm", "{\"state\":\"Paused\"}", FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    return put_json(vm, "/snapshot/create",
                    json_pack("{s:s, s:s, s:s}", "snapshot_type", "Full", "snapshot_path", vm->save_path,
                              "mem_file_path", mem),
                    FC_SNAPSHOT_TIMEOUT_MS, err);
}

static int fc_snapshot_poll(struct vmm_vm *vm, struct error *err)
{
    if (vm->exited)
        return error_set(err, ERR_FAILED_PRECONDITION, "Firecracker exited while saving its snapshot");
    return 1; /* /snapshot/create answered once both files were written */
}

static int fc_version(const char *vmm_binary, char *out, size_t out_len, struct error *err)
{
    struct vmm_config c = {.vmm_binary = vmm_binary};
    char bin[4096];
    if (find_binary(&c, bin, sizeof(bin), err) < 0)
        return -1;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return error_set_errno(err, ERR_INTERNAL, "pipe");
    char *args[] = {bin, "--version", NULL};
    struct vmm_jail jail = {.keep_user = true};
    pid_t pid = 0;
    if (vmm_spawn(args, fds[1], NULL, &jail, &pid, err) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    close(fds[1]);
    char buf[256];
    size_t len = 0;
    long long deadline = now_ms() + 5000;
    while (len < sizeof(buf) - 1 && now_ms() < deadline) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, 100) < 0)
            break;
        ssize_t n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
        if (n == 0)
            break;
        if (n > 0)
            len += (size_t)n;
    }
    close(fds[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    buf[len] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (strncmp(buf, "Firecracker v", 13) != 0)
        return error_set(err, ERR_FAILED_PRECONDITION, "%s --version did not say its version: %.200s", bin, buf);
    snprintf(out, out_len, "%s", buf);
    return 0;
}

const struct vmm_driver vmm_firecracker_driver = {
    .name = "firecracker",
    .start = fc_start,
    .request_stop = fc_request_stop,
    .kill = fc_kill,
    .snapshot_begin = fc_snapshot_begin,
    .snapshot_poll = fc_snapshot_poll,
    .version = fc_version,
};
