/* The VM record, shared by the drivers in src/vmm/ only. */
#ifndef ENCLAVE_VMM_VM_INTERNAL_H
#define ENCLAVE_VMM_VM_INTERNAL_H

#include "vmm/vmm.h"

struct vmm_vm {
    pid_t pid;
    bool kvm;
    char cpu_model[64]; /* -cpu with KVM */
    bool exited;
    int wait_status;
    struct vmm_channel channel;
    char run_dir[4096];
    char qmp_path[108];  /* qemu: QMP socket */
    char api_path[108];  /* firecracker: API socket */
    char console_log[4200];
    char pidfile[4200];
    char key_path[4200];    /* <run_dir>/channel.key */
    char initrd_path[4200]; /* firecracker: the per-VM initramfs with the key */
    char cgroup_dir[4200];  /* firecracker under its jailer: the VM's cgroup, removed at free */
    char save_path[4200];   /* where snapshot_begin saves the state (vmm_config.save_to) */
    char vmm_log[4200];     /* the VMM's own stdout and stderr (vmm_vm_log) */
    /* Work the driver still does on the daemon's loop after start returned
     * (firecracker: configuring the VM over its API, saving a snapshot,
     * asking it to stop; qemu: asking it to quit);
     * release, when set, cancels it and frees it (vmm_vm_free calls it). */
    struct event_base *base;
    struct fc_job *fc_job;
    struct qmp_call *qmp_call; /* qemu: the quit in flight */
    void (*release)(struct vmm_vm *vm);
    bool starting;           /* vmm_vm_starting */
    char start_step[200];    /* what the start waits for (vmm_vm_start_step) */
    bool start_failed;       /* start_error says why (vmm_vm_start_error) */
    struct error start_error;
};

/* Makes the channel key: 32 random bytes into vm->channel.key and a new
 * file vm->key_path (<run_dir>/channel.key, 0600). */
int vmm_channel_key_create(struct vmm_vm *vm, struct error *err);

/* Writes <dir>/initrd.cpio (0600; dir NULL: the run folder): base,
 * zero-padded to a multiple of 4 bytes, then a newc archive holding
 * .enclave-key (root, 0400) with vm->channel.key. The kernel unpacks
 * concatenated archives in order. Sets vm->initrd_path. */
int vmm_initrd_with_key(struct vmm_vm *vm, const char *base, const char *dir, struct error *err);

/* The confinement set for the whole process (vmm_set_confinement). */
const struct vmm_confinement *vmm_confinement_get(void);

/* What one VMM process may reach, beyond the confinement set for the whole
 * process (vmm_set_confinement). */
struct vmm_jail {
    /* The VM's run folder: the VMM's working directory, the one place it may
     * create files (under Landlock), handed to the VMM's group (mode 01770,
     * group-readable files) when the VMM runs as another user. NULL: none. */
    const char *run_dir;
    /* Files the VMM only reads (kernel, initramfs, root filesystem),
     * NULL-terminated. Each is opened before privileges are dropped and
     * inherited as fd 3, 4, ... in order; an argument equal to such a path
     * becomes "/proc/self/fd/N", and so does the path inside an option list
     * ("file=PATH," or "file=PATH" at the end), so the VMM's user needs no
     * search permission on the folders above it. */
    const char *const *read_files;
    /* Confine file access with Landlock (where the kernel has it). */
    bool landlock;
    /* Keep the daemon's user even when the confinement switches users. */
    bool keep_user;
    /* A launcher that confines the VMM itself (Firecracker's jailer, which
     * runs as root): no file size cap here (it copies the VMM's binary
     * first, then sets the cap it is given), and the supplementary groups
     * are reduced to the VMM's group before it starts. */
    bool launcher;
    /* A snapshot to restore from: opened read-only before privileges are
     * dropped and inherited as VMM_STATE_IN_FD (QEMU: -incoming fd:N). */
    const char *state_in;
    /* The cap on the size of files the VMM writes (0: the confinement's);
     * raised for a VMM that saves a snapshot through a descriptor. */
    uint64_t max_file_bytes;
};
#define VMM_STATE_IN_FD 200

/* Starts a VMM process the way every driver wants it: it dies with the daemon
 * (PR_SET_PDEATHSIG, so even kill -9 of the daemon takes it down), runs in its
 * own session with stdin on /dev/null, stdout and stderr on log_fd, default
 * signal handling and no other descriptors; args[0] is looked up on PATH.
 * It is confined as jail and the process-wide confinement say (another
 * user, Landlock, a cap on the size of any file it writes). Then writes the
 * pid into pidfile when that is not NULL (what vmm_reap_orphans reads). On
 * failure nothing is left running. */
int vmm_spawn(char *const *args, int log_fd, const char *pidfile, const struct vmm_jail *jail,
              pid_t *pid_out, struct error *err);
/* Runs bin --version confined as jail, on the loop, for a driver's
 * version_start (vmm.h): done gets the first line of its output when that
 * starts with prefix, else an error that shows what it said. The process
 * is killed and reaped once its first line is whole, at the end of its
 * output, or after VMM_VERSION_TIMEOUT_MS. */
#define VMM_VERSION_TIMEOUT_MS 5000
int vmm_version_run_start(const char *bin, const struct vmm_jail *jail, const char *prefix,
                          struct event_base *base, vmm_version_fn done, void *ctx,
                          struct vmm_version_run **out, struct error *err);

#endif
