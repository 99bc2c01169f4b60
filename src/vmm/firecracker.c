/* The Firecracker driver (KVM hosts): spawns `firecracker --api-sock`, then
 * configures and boots the VM over its HTTP API (tests/firecracker/spec/
 * firecracker.yaml): boot source, machine config, a hybrid vsock device, and
 * no network interface, ever. The guest channel is the vsock device's Unix
 * socket with Firecracker's "CONNECT <port>\n" handshake.
 *
 * The configuration, a snapshot and the stop request run on the daemon's
 * loop (a job, below): nothing here waits for Firecracker. Every step is
 * bounded: the wait for the API socket, each API call (see fc_api.h), the
 * whole start, and the stop request. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
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
#include "common/file.h"
#include "common/log.h"
#include "vmm/fc_api.h"
#include "vmm/vm_internal.h"

#define FC_GUEST_PORT 52
#define FC_GUEST_CID 3            /* the vsock device is private to the VM; 3 is the first guest CID */
/* The start's deadlines: the whole start (unless the owner gives its own,
 * vmm_config.start_timeout_ms: the daemon's boot timeout), and within it
 * each step's. Generous: a loaded host is slow, and nothing waits on them. */
#define FC_BOOT_TIMEOUT_MS 60000    /* the whole start, as the daemon's default boot timeout */
#define FC_SOCKET_WAIT_MS 30000     /* firecracker start to its API socket accepting */
#define FC_SOCKET_POLL_MS 20        /* how often the socket is tried until then */
#define FC_CONFIG_TIMEOUT_MS 15000  /* each pre-boot API call */
#define FC_START_TIMEOUT_MS 30000   /* InstanceStart loads the kernel and initrd */
#define FC_STOP_TIMEOUT_MS 1500   /* SendCtrlAltDel; within the owner's grace period, before SIGTERM */
#define FC_MAX_VCPUS 32           /* the API's limit */
#define FC_CGROUP_OVERHEAD_MB 256 /* the jailer's memory cgroup: the guest's memory plus this */
#define FC_MAX_FILES 1024         /* the jailer's no-file limit */

/* Firecracker's files, relative to its working directory. */
#define FC_API "api.sock"
#define FC_VSOCK "vsock.sock"
#define FC_LOG "firecracker.log"
#define FC_METRICS "metrics.json"
#define FC_INITRD "initrd.cpio"
#define FC_KERNEL "vmlinux" /* under the jailer: a link to the image's kernel in the chroot */
#define FC_ROOTFS "rootfs.erofs" /* under the jailer: a link to the image's root filesystem */
#define FC_SNAPSHOT "snapshot.state" /* a snapshot is written here, then moved to save_to */
#define FC_SNAPSHOT_TIMEOUT_MS 60000 /* /snapshot/create and /snapshot/load write or map the memory */

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

/* Creates dir/name empty, for Firecracker to write (its logger and metrics
 * open an existing path): the daemon's, writable by its group, which is
 * the VMM's once the run folder is handed over (vm_internal.h). */
static int touch(const char *dir, const char *name, struct error *err)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0660);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", path);
    int rc = fchmod(fd, 0660);
    close(fd);
    if (rc < 0)
        return error_set_errno(err, ERR_INTERNAL, "chmod %s", path);
    return 0;
}

/* The jailer: $ENCLAVE_JAILER, else `jailer` next to the firecracker
 * binary (Firecracker's releases ship the two together). 1 when found, 0
 * when not, -1 when $ENCLAVE_JAILER names no executable. */
static int find_jailer(const char *firecracker, char *out, size_t size, struct error *err)
{
    const char *explicit = getenv("ENCLAVE_JAILER");
    if (explicit != NULL && explicit[0]) {
        if (access(explicit, X_OK) < 0)
            return error_set_errno(err, ERR_FAILED_PRECONDITION,
                                   "$ENCLAVE_JAILER (%s) is not an executable file", explicit);
        if ((size_t)snprintf(out, size, "%s", explicit) >= size)
            return error_set(err, ERR_INVALID_ARGUMENT, "jailer path too long");
        return 1;
    }
    const char *slash = strrchr(firecracker, '/');
    if (slash == NULL)
        return 0;
    if ((size_t)snprintf(out, size, "%.*s/jailer", (int)(slash - firecracker), firecracker) >= size)
        return 0;
    return access(out, X_OK) == 0 ? 1 : 0;
}

/* Gives path to the jailed user (the jailer makes the chroot theirs, not
 * what the daemon puts in it). */
static int give(const char *path, const struct vmm_confinement *k, mode_t mode, struct error *err)
{
    if (chown(path, k->uid, k->gid) < 0 || chmod(path, mode) < 0)
        return error_set_errno(err, ERR_INTERNAL, "handing %s to %s", path, k->user);
    return 0;
}

/* The image's kernel inside the chroot: a hard link (the jailed user cannot
 * write it: it is root's and not writable by others), else a copy. */
static int link_kernel(const char *kernel, const char *dst, struct error *err)
{
    struct stat st;
    if (stat(kernel, &st) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "kernel %s", kernel);
    unlink(dst);
    if (st.st_uid == 0 && !(st.st_mode & 0022) && (st.st_mode & 0004) && link(kernel, dst) == 0)
        return 0;
    cleanup_close int in = open(kernel, O_RDONLY | O_CLOEXEC);
    cleanup_close int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (in < 0 || out < 0)
        return error_set_errno(err, ERR_INTERNAL, "copying %s to %s", kernel, dst);
    if (file_copy_fd(in, out) < 0)
        return error_set_errno(err, ERR_INTERNAL, "copying %s to %s", kernel, dst);
    return 0;
}

/* The cgroup hierarchy the jailer is told to use: 2 when /sys/fs/cgroup is
 * the unified hierarchy, else 1. */
static int cgroup_version(void)
{
    return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? 2 : 1;
}

/* ---- the API work on the daemon's loop
 *
 * A job is a list of API calls made one after another, each on its own
 * connection, each bounded by its own timeout and by the job's deadline. A
 * start job first waits for the API socket: a timer tries to connect every
 * FC_SOCKET_POLL_MS until it accepts, the process ends, or the time is up.
 * Nothing here waits: every step is an event on the loop. */

enum fc_job_kind { FC_JOB_START, FC_JOB_SNAPSHOT, FC_JOB_STOP };

struct fc_step {
    const char *method;
    const char *path;
    char *body; /* JSON, owned */
    unsigned timeout_ms;
};

#define FC_MAX_STEPS 8

struct fc_job {
    struct vmm_vm *vm;
    enum fc_job_kind kind;
    char id[65];
    struct event *poll;         /* the API socket wait */
    struct fc_api_call *call;   /* the step in flight */
    struct fc_step steps[FC_MAX_STEPS];
    size_t n_steps, next;
    uint64_t started_ms, socket_deadline_ms, deadline_ms;
    unsigned timeout_ms;        /* deadline_ms - started_ms */
    int state;                  /* 0 running, 1 done, -1 failed (err) */
    struct error err;
};

static void job_free(struct fc_job *job)
{
    if (job == NULL)
        return;
    if (job->poll)
        event_free(job->poll);
    fc_api_call_free(job->call);
    for (size_t i = 0; i < job->n_steps; i++)
        free(job->steps[i].body);
    free(job);
}

/* vm->release: cancels the job in flight. */
static void fc_release(struct vmm_vm *vm)
{
    job_free(vm->fc_job);
    vm->fc_job = NULL;
    vm->starting = false;
}

/* Adds a call with doc (consumed) as its body. */
static int job_add(struct fc_job *job, const char *method, const char *path, json_t *doc,
                   unsigned timeout_ms, struct error *err)
{
    if (doc == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (body == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    if (job->n_steps >= FC_MAX_STEPS) {
        free(body);
        return error_set(err, ERR_INTERNAL, "too many Firecracker API calls");
    }
    job->steps[job->n_steps++] = (struct fc_step){method, path, body, timeout_ms};
    return 0;
}

static struct fc_job *job_new(struct vmm_vm *vm, enum fc_job_kind kind, const char *id,
                              unsigned timeout_ms, struct error *err)
{
    struct fc_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        error_set(err, ERR_INTERNAL, "out of memory");
        return NULL;
    }
    job->vm = vm;
    job->kind = kind;
    snprintf(job->id, sizeof(job->id), "%s", id);
    job->timeout_ms = timeout_ms;
    return job;
}

/* The job failed: a start kills the VMM (its owner reaps it and reads
 * vmm_vm_start_error); a stop falls back to SIGTERM (Firecracker exits on
 * it; the owner's grace period ends in SIGKILL); a snapshot waits for
 * snapshot_poll. */
static void job_fail(struct fc_job *job, const struct error *why)
{
    struct vmm_vm *vm = job->vm;
    job->err = *why;
    job->state = -1;
    if (job->kind == FC_JOB_START) {
        vm->start_error = *why;
        error_prefix(&vm->start_error, "starting Firecracker for %s", job->id);
        vm->start_failed = true;
        log_warn("%s; killing it", vm->start_error.message);
        if (!vm->exited && vm->pid > 0)
            kill(vm->pid, SIGKILL);
        fc_release(vm); /* frees job */
    } else if (job->kind == FC_JOB_STOP) {
        log_debug("firecracker %s: SendCtrlAltDel failed (%s); sending SIGTERM", vm->run_dir, why->message);
        fc_release(vm); /* frees job */
        if (!vm->exited && vm->pid > 0 && kill(vm->pid, SIGTERM) < 0)
            kill(vm->pid, SIGKILL);
    }
}

static void job_step(struct fc_job *job);
static void snapshot_done(struct fc_job *job);

static void on_step_done(void *ctx, const struct error *err)
{
    struct fc_job *job = ctx;
    fc_api_call_free(job->call); /* done with it (it touches nothing after this call) */
    job->call = NULL;
    if (err != NULL) {
        job_fail(job, err);
        return;
    }
    log_debug("firecracker %s: %s %s answered", job->id, job->steps[job->next].method,
              job->steps[job->next].path);
    job->next++;
    job_step(job);
}

/* Starts the next call, or ends the job after the last one. */
static void job_step(struct fc_job *job)
{
    struct vmm_vm *vm = job->vm;
    if (job->next == job->n_steps) {
        if (job->kind == FC_JOB_START) {
            log_debug("firecracker %s: configured in %llu ms", job->id,
                      (unsigned long long)((uint64_t)now_ms() - job->started_ms));
            fc_release(vm);
        } else if (job->kind == FC_JOB_STOP) {
            fc_release(vm); /* asked; the owner waits for the process to end */
        } else {
            snapshot_done(job);
        }
        return;
    }
    const struct fc_step *st = &job->steps[job->next];
    struct error err;
    uint64_t now = (uint64_t)now_ms();
    if (now >= job->deadline_ms) {
        static const char *const what[] = {"start", "snapshot", "stop"};
        error_set(&err, ERR_DEADLINE_EXCEEDED, "%s %s: not sent: the %s took its %u ms", st->method,
                  st->path, what[job->kind], job->timeout_ms);
        job_fail(job, &err);
        return;
    }
    unsigned timeout = st->timeout_ms;
    if (job->deadline_ms - now < timeout)
        timeout = (unsigned)(job->deadline_ms - now);
    log_debug("firecracker %s: %s %s %s", job->id, st->method, st->path, st->body);
    snprintf(vm->start_step, sizeof(vm->start_step), "Firecracker's answer to %s %s", st->method, st->path);
    if (fc_api_call_start(vm->base, vm->api_path, st->method, st->path, st->body, timeout, on_step_done,
                          job, &job->call, &err) < 0)
        job_fail(job, &err);
}

/* The API socket wait: connect until it accepts, the process ends, or the
 * time is up. The process is not reaped here (its owner does that), only
 * looked at. */
static void on_socket_poll(evutil_socket_t fd, short what, void *arg)
{
    struct fc_job *job = arg;
    struct vmm_vm *vm = job->vm;
    struct error err;
    siginfo_t info = {0};
    if (!vm->exited && waitid(P_PID, (id_t)vm->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == vm->pid) {
        error_set(&err, ERR_UNAVAILABLE,
                  "firecracker exited (%s %d) before its API socket was ready; see %s",
                  info.si_code == CLD_EXITED ? "status" : "signal", info.si_status, vm->console_log);
        job_fail(job, &err);
        return;
    }
    struct error ignored;
    int probe = fc_api_connect(vm->api_path, &ignored);
    if (probe >= 0) {
        close(probe);
        event_free(job->poll);
        job->poll = NULL;
        log_debug("firecracker %s: API socket ready after %llu ms", job->id,
                  (unsigned long long)((uint64_t)now_ms() - job->started_ms));
        job_step(job);
        return;
    }
    uint64_t now = (uint64_t)now_ms();
    if (now >= job->socket_deadline_ms) {
        error_set(&err, ERR_DEADLINE_EXCEEDED,
                  "its API socket %s did not accept a connection within %llu ms (last try: %s)",
                  vm->api_path, (unsigned long long)(job->socket_deadline_ms - job->started_ms),
                  ignored.message);
        job_fail(job, &err);
        return;
    }
    /* The last try falls on the deadline. */
    uint64_t wait = job->socket_deadline_ms - now;
    if (wait > FC_SOCKET_POLL_MS)
        wait = FC_SOCKET_POLL_MS;
    struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)wait * 1000};
    evtimer_add(job->poll, &tv);
}

/* Hands the job to the loop: a start waits for the socket first. */
static int job_run(struct fc_job *job, struct error *err)
{
    struct vmm_vm *vm = job->vm;
    job->started_ms = (uint64_t)now_ms();
    job->deadline_ms = job->started_ms + job->timeout_ms;
    vm->fc_job = job;
    vm->release = fc_release;
    if (job->kind == FC_JOB_START) {
        vm->starting = true;
        snprintf(vm->start_step, sizeof(vm->start_step), "Firecracker's API socket %s to accept a connection",
                 vm->api_path);
        job->socket_deadline_ms = job->started_ms + FC_SOCKET_WAIT_MS;
        if (job->socket_deadline_ms > job->deadline_ms)
            job->socket_deadline_ms = job->deadline_ms;
        job->poll = evtimer_new(vm->base, on_socket_poll, job);
        if (job->poll == NULL) {
            fc_release(vm);
            return error_set(err, ERR_INTERNAL, "out of memory");
        }
        struct timeval now = {0};
        evtimer_add(job->poll, &now);
        return 0;
    }
    job_step(job);
    return 0;
}

/* What Firecracker is told, relative to its working directory (the run
 * folder, or its chroot under the jailer), or as descriptors the daemon
 * opened for it (/proc/self/fd/N). */
struct fc_paths {
    const char *kernel;     /* kernel_image_path */
    const char *rootfs;     /* the rootfs drive's path_on_host, or NULL */
    const char *state, *mem; /* a restore: the snapshot's state and memory files */
    const char *dir;        /* the host's path of Firecracker's working directory */
};

/* The guest memory file next to a snapshot's state file. */
static int mem_path(const char *state, char *out, size_t size, struct error *err)
{
    if ((size_t)snprintf(out, size, "%s.mem", state) >= size)
        return error_set(err, ERR_INVALID_ARGUMENT, "snapshot path too long");
    return 0;
}

/* The logger and metrics, first in every start: they open files the daemon
 * made before the start. */
static int add_logs(struct fc_job *job, struct error *err)
{
    if (job_add(job, "PUT", "/logger",
                json_pack("{s:s, s:s, s:b}", "log_path", FC_LOG, "level", "Warning", "show_level", 1),
                FC_CONFIG_TIMEOUT_MS, err) < 0 ||
        job_add(job, "PUT", "/metrics", json_pack("{s:s}", "metrics_path", FC_METRICS),
                FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    return 0;
}

/* A restore: only the logger and metrics are configured (Firecracker
 * refuses a snapshot load after boot-specific configuration), then the
 * snapshot is loaded and resumed, its vsock device moved to this VM's own
 * socket. The machine configuration, boot source and devices are the
 * snapshot's. */
static int add_restore(struct fc_job *job, const struct fc_paths *fp, struct error *err)
{
    if (add_logs(job, err) < 0)
        return -1;
    return job_add(job, "PUT", "/snapshot/load",
                   json_pack("{s:s, s:{s:s, s:s}, s:b, s:{s:s}}", "snapshot_path", fp->state,
                             "mem_backend", "backend_type", "File", "backend_path", fp->mem,
                             "resume_vm", 1, "vsock_override", "uds_path", FC_VSOCK),
                   FC_SNAPSHOT_TIMEOUT_MS, err);
}

static int add_boot(const struct vmm_config *c, struct fc_job *job, const struct fc_paths *fp,
                    struct error *err)
{
    if (add_logs(job, err) < 0)
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
    if (job_add(job, "PUT", "/boot-source",
                json_pack("{s:s, s:s, s:s}", "kernel_image_path", fp->kernel, "initrd_path",
                          FC_INITRD, "boot_args", boot_args),
                FC_CONFIG_TIMEOUT_MS, err) < 0 ||
        job_add(job, "PUT", "/machine-config",
                json_pack("{s:i, s:i, s:b}", "vcpu_count", (int)c->vcpus, "mem_size_mib",
                          (int)c->mem_mb, "smt", 0),
                FC_CONFIG_TIMEOUT_MS, err) < 0 ||
        job_add(job, "PUT", "/vsock",
                json_pack("{s:i, s:s}", "guest_cid", FC_GUEST_CID, "uds_path", FC_VSOCK),
                FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    /* The image's shared root filesystem: read-only, not the root device
     * (Firecracker would then add root=/dev/vda; enclave-init mounts it
     * itself from the initramfs). Firecracker opens it read-only. */
    if (fp->rootfs != NULL &&
        job_add(job, "PUT", "/drives/rootfs",
                json_pack("{s:s, s:s, s:b, s:b}", "drive_id", "rootfs", "path_on_host", fp->rootfs,
                          "is_root_device", 0, "is_read_only", 1),
                FC_CONFIG_TIMEOUT_MS, err) < 0)
        return -1;
    /* No /network-interfaces call: the VM has no NIC. */
    return job_add(job, "PUT", "/actions", json_pack("{s:s}", "action_type", "InstanceStart"),
                   FC_START_TIMEOUT_MS, err);
}

/* Builds the jailer's command line into args (pointers into strs) and
 * prepares its chroot, <run_dir>/<firecracker's file name>/<id>/root: the
 * per-VM initramfs, the kernel, the log and metrics files, all the jailed
 * user's to read (and write, for the last two). Sets the sockets' paths. */
struct jailer_cmd {
    char *args[40];
    char strs[16][4200];
};

static int jailer_prepare(const struct vmm_config *c, struct vmm_vm *vm, const char *jailer,
                          const char *bin, const char *id, struct jailer_cmd *j, char *root,
                          size_t root_len, struct error *err)
{
    const struct vmm_confinement *k = vmm_confinement_get();
    if (geteuid() != 0 || !k->switch_user)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "Firecracker's jailer (%s) needs the daemon to run as root "
                         "(enclave up --allow-root); unset ENCLAVE_JAILER to run Firecracker "
                         "under Landlock as the daemon's user",
                         jailer);
    const char *name = strrchr(bin, '/') ? strrchr(bin, '/') + 1 : bin;
    char dir[4200];
    if ((size_t)snprintf(root, root_len, "%s/%s/%s/root", c->run_dir, name, id) >= root_len)
        return error_set(err, ERR_INVALID_ARGUMENT, "run folder path too long");
    snprintf(dir, sizeof(dir), "%s/%s", c->run_dir, name);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", dir);
    snprintf(dir, sizeof(dir), "%s/%s/%s", c->run_dir, name, id);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", dir);
    if (mkdir(root, 0700) < 0 && errno != EEXIST)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", root);
    if ((size_t)snprintf(vm->api_path, sizeof(vm->api_path), "%s/" FC_API, root) >= sizeof(vm->api_path) ||
        (size_t)snprintf(vm->channel.path, sizeof(vm->channel.path), "%s/" FC_VSOCK, root) >=
            sizeof(vm->channel.path))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "the jail's socket paths are too long (a Unix socket path holds 107 "
                         "bytes): %s; use a shorter ENCLAVE_HOME or session id",
                         root);
    char path[4300];
    if (vmm_initrd_with_key(vm, c->initrd, root, err) < 0 || give(vm->initrd_path, k, 0400, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/" FC_KERNEL, root);
    if (link_kernel(c->kernel, path, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/" FC_ROOTFS, root);
    if (c->rootfs != NULL && link_kernel(c->rootfs, path, err) < 0)
        return -1;
    if (touch(root, FC_LOG, err) < 0 || touch(root, FC_METRICS, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/" FC_LOG, root);
    if (give(path, k, 0600, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/" FC_METRICS, root);
    if (give(path, k, 0600, err) < 0)
        return -1;

    int version = cgroup_version();
    int n = 0, si = 0;
#define ARG(s) (j->args[n++] = (char *)(s))
#define FMT(...) (snprintf(j->strs[si], sizeof(j->strs[si]), __VA_ARGS__), j->args[n++] = j->strs[si++])
    ARG(jailer);
    ARG("--id");
    ARG(id);
    ARG("--exec-file");
    ARG(bin);
    ARG("--uid");
    FMT("%u", (unsigned)k->uid);
    ARG("--gid");
    FMT("%u", (unsigned)k->gid);
    ARG("--chroot-base-dir");
    ARG(c->run_dir);
    ARG("--cgroup-version");
    FMT("%d", version);
    ARG("--parent-cgroup");
    ARG("enclave");
    ARG("--cgroup");
    if (version == 2)
        FMT("memory.max=%llu", (unsigned long long)(c->mem_mb + FC_CGROUP_OVERHEAD_MB) << 20);
    else
        FMT("memory.limit_in_bytes=%llu", (unsigned long long)(c->mem_mb + FC_CGROUP_OVERHEAD_MB) << 20);
    ARG("--resource-limit");
    FMT("fsize=%llu", (unsigned long long)(k->max_file_bytes ? k->max_file_bytes : VMM_DEFAULT_MAX_FILE_BYTES));
    ARG("--resource-limit");
    FMT("no-file=%d", FC_MAX_FILES);
    ARG("--");
    ARG("--api-sock");
    ARG(FC_API);
    j->args[n] = NULL;
#undef ARG
#undef FMT
    if (version == 2)
        snprintf(vm->cgroup_dir, sizeof(vm->cgroup_dir), "/sys/fs/cgroup/enclave/%s", id);
    return 0;
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
    if (c->base == NULL)
        return error_set(err, ERR_INTERNAL, "the Firecracker driver configures VMs on an event loop: none given");
    if (access(c->kernel, R_OK) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "kernel %s", c->kernel);
    if (access(c->initrd, R_OK) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "initramfs %s", c->initrd);
    if (c->rootfs != NULL && access(c->rootfs, R_OK) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "root filesystem %s", c->rootfs);
    char bin[4096], jailer[4096];
    if (find_binary(c, bin, sizeof(bin), err) < 0)
        return -1;
    int jailed = find_jailer(bin, jailer, sizeof(jailer), err);
    if (jailed < 0)
        return -1;

    struct vmm_vm *vm = calloc(1, sizeof(*vm));
    if (vm == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    vm->kvm = true;
    snprintf(vm->run_dir, sizeof(vm->run_dir), "%s", c->run_dir);
    snprintf(vm->console_log, sizeof(vm->console_log), "%s/console.log", c->run_dir);
    /* Firecracker's stdout is the guest's serial console; its stderr goes there too. */
    snprintf(vm->vmm_log, sizeof(vm->vmm_log), "%s", vm->console_log);
    vm->base = c->base;
    vm->channel.kind = VMM_CHANNEL_HYBRID_VSOCK;
    vm->channel.port = FC_GUEST_PORT;
    char id[65];
    instance_id(c->id, id, sizeof(id));

    /* Firecracker has no fw_cfg: the channel key travels in a per-VM copy
     * of the initramfs with a one-file archive appended (vmm/vm_internal.h). */
    struct jailer_cmd *jcmd = NULL;
    cleanup_close int log_fd = -1;
    char root[4200], restore_mem[4200];
    /* Outside the jailer, what Firecracker reads from outside its run
     * folder is opened by the daemon and inherited as fd 3, 4, ... in this
     * order (vm_internal.h, struct vmm_jail): the kernel, the root
     * filesystem, a snapshot's state and memory. A snapshot records the
     * drive's path, so a restored VM finds the root filesystem at the same
     * descriptor as the VM that was saved. */
    const char *read_files[5] = {0};
    static const char *const fd_paths[] = {"/proc/self/fd/3", "/proc/self/fd/4", "/proc/self/fd/5",
                                           "/proc/self/fd/6"};
    int nread = 0;
    struct fc_paths fp = {.dir = c->run_dir};
    struct fc_job *job = job_new(vm, FC_JOB_START, c->id ? c->id : id,
                                 c->start_timeout_ms ? c->start_timeout_ms : FC_BOOT_TIMEOUT_MS, err);
    if (job == NULL)
        goto fail;
    if (c->restore_from != NULL && mem_path(c->restore_from, restore_mem, sizeof(restore_mem), err) < 0)
        goto fail;
    if (vmm_channel_key_create(vm, err) < 0)
        goto fail;
    if (jailed) {
        if (c->restore_from != NULL || c->save_to != NULL) {
            error_set(err, ERR_FAILED_PRECONDITION,
                      "snapshots are not used with Firecracker's jailer (docs/firecracker.md)");
            goto fail;
        }
        jcmd = calloc(1, sizeof(*jcmd));
        if (jcmd == NULL) {
            error_set(err, ERR_INTERNAL, "out of memory");
            goto fail;
        }
        if (jailer_prepare(c, vm, jailer, bin, id, jcmd, root, sizeof(root), err) < 0)
            goto fail;
        fp.kernel = FC_KERNEL;
        fp.rootfs = c->rootfs ? FC_ROOTFS : NULL;
        fp.dir = root;
    } else {
        if ((size_t)snprintf(vm->api_path, sizeof(vm->api_path), "%s/" FC_API, c->run_dir) >=
                sizeof(vm->api_path) ||
            (size_t)snprintf(vm->channel.path, sizeof(vm->channel.path), "%s/" FC_VSOCK, c->run_dir) >=
                sizeof(vm->channel.path)) {
            error_set(err, ERR_INVALID_ARGUMENT, "run folder path too long for a socket: %s", c->run_dir);
            goto fail;
        }
        if ((c->restore_from == NULL && vmm_initrd_with_key(vm, c->initrd, NULL, err) < 0) ||
            touch(c->run_dir, FC_LOG, err) < 0 || touch(c->run_dir, FC_METRICS, err) < 0)
            goto fail;
        read_files[nread] = c->kernel;
        fp.kernel = fd_paths[nread++];
        if (c->rootfs != NULL) {
            read_files[nread] = c->rootfs;
            fp.rootfs = fd_paths[nread++];
        }
        if (c->restore_from != NULL) {
            read_files[nread] = c->restore_from;
            fp.state = fd_paths[nread++];
            read_files[nread] = restore_mem;
            fp.mem = fd_paths[nread++];
        }
    }
    /* Firecracker refuses to bind over an existing socket file. */
    unlink(vm->api_path);
    unlink(vm->channel.path);

    if (c->restore_from != NULL) {
        /* The restored guest holds the snapshot's key until it is resumed
         * with its own (vmm.h, struct vmm_channel). */
        if (c->restore_key == NULL) {
            error_set(err, ERR_INVALID_ARGUMENT, "a restore needs the snapshot's channel key");
            goto fail;
        }
        vm->channel.resume = true;
        memcpy(vm->channel.resume_key, c->restore_key, sizeof(vm->channel.resume_key));
    }
    if (c->save_to != NULL)
        snprintf(vm->save_path, sizeof(vm->save_path), "%s", c->save_to);
    /* The calls, made after the spawn on the loop. */
    if ((c->restore_from ? add_restore(job, &fp, err) : add_boot(c, job, &fp, err)) < 0)
        goto fail;

    /* The guest's serial console is Firecracker's stdout. */
    log_fd = open(vm->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) {
        error_set_errno(err, ERR_INTERNAL, "creating %s", vm->console_log);
        goto fail;
    }

    /* The pidfile is set in vm only once written, so a failure kills by pid. */
    char pidfile[4200];
    snprintf(pidfile, sizeof(pidfile), "%s/vmm.pid", c->run_dir);
    pid_t pid = 0;
    int spawned;
    if (jailed) {
        /* The jailer (as root) makes the chroot, the cgroup and a mount
         * namespace, sets the file size cap, becomes the VMM's user and
         * executes Firecracker in place (same pid: no --daemonize, no
         * --new-pid-ns). */
        struct vmm_jail jail = {.run_dir = c->run_dir, .keep_user = true, .launcher = true};
        spawned = vmm_spawn(jcmd->args, log_fd, pidfile, &jail, &pid, err);
    } else {
        /* As QEMU: the VMM's user (when the daemon is root), Landlock (the
         * system's programs, the files it reads as inherited descriptors,
         * and the run folder, its working directory), the file size cap.
         * Every path it is given is relative to the run folder or such a
         * descriptor, so it needs no search permission above it. */
        struct vmm_jail jail = {.run_dir = c->run_dir, .read_files = read_files, .landlock = true};
        if (c->save_to != NULL) /* the guest's memory goes into the snapshot */
            jail.max_file_bytes = ((uint64_t)c->mem_mb + 64) << 20;
        char *args[] = {bin, "--api-sock", FC_API, "--id", id, NULL};
        spawned = vmm_spawn(args, log_fd, pidfile, &jail, &pid, err);
    }
    free(jcmd);
    jcmd = NULL;
    if (spawned < 0)
        goto fail;
    vm->pid = pid;
    snprintf(vm->pidfile, sizeof(vm->pidfile), "%s", pidfile);
    log_debug("VM %s: %s%s%s --api-sock %s --id %s", c->id, jailed ? jailer : "", jailed ? " ... " : "",
              bin, vm->api_path, id);

    /* From here the loop carries the start (vmm.h): the API socket, then
     * each call. vmm_vm_free (of a failure here too) kills the process. */
    struct fc_job *running = job;
    job = NULL;
    if (job_run(running, err) < 0) {
        error_prefix(err, "starting Firecracker for %s", c->id);
        vmm_vm_free(vm);
        return -1;
    }
    *out = vm;
    return 0;
fail:
    free(jcmd);
    job_free(job);
    vmm_vm_free(vm);
    return -1;
}

/* On the loop: SendCtrlAltDel (sent before this returns: fc_api.h), and
 * when Firecracker refuses it or does not answer in time, SIGTERM. The
 * guest kernel turns Ctrl+Alt+Del into a reboot, which with reboot=k ends
 * the Firecracker process. The owner SIGKILLs it after its grace period
 * if the guest does not comply, and reaps it. */
static int fc_request_stop(struct vmm_vm *vm, struct error *err)
{
    if (vm->exited)
        return 0;
    if (vm->fc_job != NULL && vm->fc_job->kind == FC_JOB_STOP)
        return 0; /* asked already */
    if (vm->starting) {
        /* Stopped while it is being configured: there is no guest to ask
         * yet. The configuration ends here and the process with it. */
        log_debug("firecracker %s: stopped while starting; killing it", vm->run_dir);
        fc_release(vm);
        kill(vm->pid, SIGKILL);
        return 0;
    }
    fc_release(vm); /* a snapshot in flight ends here */
    struct fc_job *job = job_new(vm, FC_JOB_STOP, vm->run_dir, FC_STOP_TIMEOUT_MS, err);
    if (job == NULL)
        return -1;
    if (job_add(job, "PUT", "/actions", json_pack("{s:s}", "action_type", "SendCtrlAltDel"),
                FC_STOP_TIMEOUT_MS, err) < 0) {
        job_free(job);
        return -1;
    }
    return job_run(job, err); /* a failure to send is the job's: SIGTERM */
}

static void fc_kill(struct vmm_vm *vm)
{
    fc_release(vm);
    if (!vm->exited && vm->pid > 0)
        kill(vm->pid, SIGKILL);
}

/* Moves a file Firecracker wrote in its run folder to where the daemon
 * keeps it (the VMM may write only in its run folder, so it cannot write
 * there itself): the daemon's own, 0600, or 0640 with the VMM's group when
 * the VMM runs as another user, because a restoring VMM reopens it through
 * the descriptor it is given (/proc/self/fd/N checks the file's mode). The
 * snapshot folder stays the daemon's, 0700; the owner syncs it after it
 * renames the state into place (a folder sync keeps every new name in it).
 */
static int take_file(const struct vmm_vm *vm, const char *name, const char *to, struct error *err)
{
    char from[4200];
    snprintf(from, sizeof(from), "%s/%s", vm->run_dir, name);
    cleanup_close int fd = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return error_set_errno(err, ERR_INTERNAL, "Firecracker's snapshot file %s", from);
    const struct vmm_confinement *k = vmm_confinement_get();
    if (fchown(fd, geteuid(), k->switch_user ? k->gid : getegid()) < 0 ||
        fchmod(fd, k->switch_user ? 0640 : 0600) < 0 || rename(from, to) < 0)
        return error_set_errno(err, ERR_INTERNAL, "moving %s to %s", from, to);
    return 0;
}

/* A full snapshot, on the loop: the VM is paused (Firecracker creates
 * snapshots of a paused VM only), then its state and memory are written by
 * Firecracker, before it answers, into its run folder (FC_SNAPSHOT and
 * FC_SNAPSHOT.mem); then (snapshot_done) they are moved to save_path and
 * save_path.mem. */
static int fc_snapshot_begin(struct vmm_vm *vm, struct error *err)
{
    if (vm->save_path[0] == '\0')
        return error_set(err, ERR_FAILED_PRECONDITION, "the VM was not started to be saved");
    if (vm->exited)
        return error_set(err, ERR_FAILED_PRECONDITION, "the VM has exited");
    if (vm->starting)
        return error_set(err, ERR_FAILED_PRECONDITION, "the VM is still being configured");
    char mem[4200];
    if (mem_path(vm->save_path, mem, sizeof(mem), err) < 0)
        return -1;
    fc_release(vm);
    struct fc_job *job = job_new(vm, FC_JOB_SNAPSHOT, vm->run_dir, FC_SNAPSHOT_TIMEOUT_MS + FC_CONFIG_TIMEOUT_MS, err);
    if (job == NULL)
        return -1;
    if (job_add(job, "PATCH", "/vm", json_pack("{s:s}", "state", "Paused"), FC_CONFIG_TIMEOUT_MS, err) < 0 ||
        job_add(job, "PUT", "/snapshot/create",
                json_pack("{s:s, s:s, s:s}", "snapshot_type", "Full", "snapshot_path", FC_SNAPSHOT,
                          "mem_file_path", FC_SNAPSHOT ".mem"),
                FC_SNAPSHOT_TIMEOUT_MS, err) < 0) {
        job_free(job);
        return -1;
    }
    if (job_run(job, err) < 0)
        return -1;
    if (job->state < 0) { /* the first call could not even be sent */
        *err = job->err;
        fc_release(vm);
        return error_prefix(err, "saving a snapshot");
    }
    return 0;
}

/* Both calls answered: the files become the daemon's. */
static void snapshot_done(struct fc_job *job)
{
    struct vmm_vm *vm = job->vm;
    char mem[4200];
    if (mem_path(vm->save_path, mem, sizeof(mem), &job->err) < 0 ||
        take_file(vm, FC_SNAPSHOT ".mem", mem, &job->err) < 0 ||
        take_file(vm, FC_SNAPSHOT, vm->save_path, &job->err) < 0) {
        job->state = -1;
        return;
    }
    log_debug("firecracker %s: snapshot saved in %llu ms", vm->run_dir,
              (unsigned long long)((uint64_t)now_ms() - job->started_ms));
    job->state = 1;
}

static int fc_snapshot_poll(struct vmm_vm *vm, struct error *err)
{
    struct fc_job *job = vm->fc_job;
    if (job == NULL || job->kind != FC_JOB_SNAPSHOT)
        return error_set(err, ERR_FAILED_PRECONDITION, "no snapshot is being saved");
    if (job->state < 0) {
        *err = job->err;
        return error_prefix(err, "saving a snapshot");
    }
    if (job->state > 0)
        return 1;
    if (vm->exited)
        return error_set(err, ERR_FAILED_PRECONDITION, "Firecracker exited while saving its snapshot");
    return 0;
}

static int fc_version_start(const char *vmm_binary, struct event_base *base, vmm_version_fn done,
                            void *ctx, struct vmm_version_run **out, struct error *err)
{
    struct vmm_config c = {.vmm_binary = vmm_binary};
    char bin[4096];
    if (find_binary(&c, bin, sizeof(bin), err) < 0)
        return -1;
    struct vmm_jail jail = {.keep_user = true};
    return vmm_version_run_start(bin, &jail, "Firecracker v", base, done, ctx, out, err);
}

const struct vmm_driver vmm_firecracker_driver = {
    .name = "firecracker",
    .start = fc_start,
    .request_stop = fc_request_stop,
    .kill = fc_kill,
    .snapshot_begin = fc_snapshot_begin,
    .snapshot_poll = fc_snapshot_poll,
    .version_start = fc_version_start,
};
