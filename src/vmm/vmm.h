/* VMM drivers: boot, stop and kill one microVM, and say how to reach its guest.
 *
 * A driver is a table of operations (struct vmm_driver). The daemon owns the
 * event loop; drivers never block for long: start spawns the VMM process and
 * returns, readiness is decided by the caller (the guest answering Health over
 * the channel), stop sends its request and returns (the answer is awaited on
 * the loop), and kill is a signal. A driver that
 * must configure its VMM after spawning it (Firecracker) does that on the
 * daemon's loop (vmm_config.base), step by step, after start returned; when
 * a step fails it kills the VMM and says why in vmm_vm_start_error, and the
 * owner learns of it as of any VMM that ends while booting (SIGCHLD). The
 * owner reaps every VMM process (waitpid on SIGCHLD) and frees the VM after.
 *
 * Two drivers fit this interface:
 *
 *  - qemu (vmm/qemu.c, what these machines run): `qemu-system-x86_64 -M microvm`,
 *    KVM when /dev/kvm works, TCG otherwise; the guest channel is vhost-vsock
 *    (VMM_CHANNEL_VSOCK, guest CID + port 52) when /dev/vhost-vsock exists, else a
 *    virtio-serial port named org.enclave.rpc backed by a Unix socket that QEMU
 *    listens on (VMM_CHANNEL_UNIX); control goes over QMP (vmm/qmp.h). stop:
 *    QMP quit on the loop, SIGKILL when QEMU refuses or does not answer.
 *
 *  - firecracker (vmm/firecracker.c; KVM hosts only; docs/firecracker.md). How it maps onto these operations:
 *      start: spawn `firecracker --api-sock <run_dir>/api.sock` (optionally
 *        through the jailer) and return; then, on the daemon's loop, connect
 *        once the API socket accepts and configure over HTTP on that socket,
 *        one call at a time, following the published API (tests/firecracker/spec/
 *        firecracker.yaml): PUT /boot-source {kernel_image_path, initrd_path,
 *        boot_args}, PUT /machine-config {vcpu_count, mem_size_mib},
 *        PUT /vsock {guest_cid, uds_path: vsock.sock}, then
 *        PUT /actions {action_type: InstanceStart}. No network interface is
 *        ever configured. The kernel must have virtio-mmio devices built in.
 *      channel: VMM_CHANNEL_HYBRID_VSOCK at <run_dir>/vsock.sock, port 52: the
 *        host connects to the Unix socket, writes "CONNECT 52\n", reads
 *        "OK <port>\n", then speaks the guest protocol on the same stream.
 *      stop: PUT /actions {action_type: SendCtrlAltDel} on the loop, SIGTERM
 *        when Firecracker refuses it or does not answer in time, and the
 *        owner's SIGKILL after its grace period (Firecracker has no graceful
 *        quit for a guest that will not power off).
 *      kill: SIGKILL the process (and the jailer's cgroup when jailed).
 *    The HTTP on the API socket uses the same client stack as the OCI client.
 */
#ifndef ENCLAVE_VMM_VMM_H
#define ENCLAVE_VMM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#include "common/error.h"

struct event_base;

enum vmm_accel { VMM_ACCEL_AUTO, VMM_ACCEL_KVM, VMM_ACCEL_TCG };

enum vmm_provider { VMM_PROVIDER_AUTO, VMM_PROVIDER_NATIVE, VMM_PROVIDER_LIMA, VMM_PROVIDER_WSL2 };

enum vmm_channel_kind {
    VMM_CHANNEL_UNIX,         /* a plain byte stream on a Unix socket (virtio-serial) */
    VMM_CHANNEL_VSOCK,        /* AF_VSOCK to cid:port */
    VMM_CHANNEL_HYBRID_VSOCK, /* Unix socket + "CONNECT port\n" handshake (Firecracker) */
};

/* The per-VM secret the host proves first on every connection (a
 * HelloRequest, proto/guest/v1/guest.proto). The driver makes it at start:
 * 32 random bytes in <run_dir>/channel.key (0600, in the 0700 run folder),
 * handed to the guest out of band, never on a command line: QEMU reads the
 * file as fw_cfg opt/org.enclave/key; Firecracker, which has no fw_cfg,
 * boots <run_dir>/initrd.cpio, the image's initramfs with a second cpio
 * archive appended that holds /.enclave-key (0400). */
#define VMM_CHANNEL_KEY_LEN 32

struct vmm_channel {
    enum vmm_channel_kind kind;
    char path[108]; /* Unix socket path for UNIX and HYBRID_VSOCK */
    unsigned cid;   /* for VSOCK */
    unsigned port;  /* guest port for VSOCK and HYBRID_VSOCK */
    unsigned char key[VMM_CHANNEL_KEY_LEN];
    /* A VM restored from a snapshot holds the snapshot's key (resume_key),
     * not key: until vmm_vm_resumed, the host's HelloRequest proves
     * resume_key and hands over key, fresh entropy and the time (the
     * resume fields of HelloRequest, proto/guest/v1/guest.proto). */
    bool resume;
    unsigned char resume_key[VMM_CHANNEL_KEY_LEN];
};

struct vmm_config {
    const char *id;          /* session id; names the VM in logs and process lists */
    const char *run_dir;     /* an existing private folder for this VM's sockets and logs */
    const char *kernel;      /* bzImage path */
    const char *initrd;      /* initramfs path */
    const char *rootfs;      /* the image's read-only root filesystem disk (erofs), or NULL: the
                                initramfs is the whole system. Every VM of the image attaches the
                                same file read-only (QEMU: virtio-blk, readonly=on; Firecracker:
                                drive "rootfs", is_read_only), so the host's page cache of it is
                                shared; the guest sees it as /dev/vda. */
    const char *cmdline;     /* kernel arguments (the driver may append its own) */
    unsigned vcpus;
    unsigned mem_mb;
    enum vmm_accel accel;
    const char *vmm_binary;  /* NULL: the driver's default (found on PATH) */
    /* Snapshots (drivers with snapshot_begin). restore_from: start from this
     * saved state instead of booting (it was saved from a VM of the same
     * kernel, initrd, cmdline, vCPUs and memory); restore_key is the channel
     * key that VM had, which the restored guest still holds (the channel is
     * set up to resume, see struct vmm_channel). save_to: the VMM gets this
     * file (created 0600, truncated) to write a snapshot to later with
     * snapshot_begin. */
    const char *restore_from;
    const unsigned char *restore_key;
    const char *save_to;
    /* The daemon's event loop, for work a driver does after start returns
     * (Firecracker: configuring the VM over its API; both: the stop
     * request's answer). */
    struct event_base *base;
    /* How long that work may take in all, from the start (0: the driver's
     * default, 60 s); the owner passes its boot timeout. */
    unsigned start_timeout_ms;
};

struct vmm_vm;

/* A VMM's --version on the loop (vmm_driver.version_start). */
struct vmm_version_run;
typedef void (*vmm_version_fn)(void *ctx, const char *version, const struct error *err);
/* Cancels a run in flight (done is not called then; the process is killed
 * and reaped) or frees a finished one. */
void vmm_version_run_free(struct vmm_version_run *run);

struct vmm_driver {
    const char *name;
    /* Spawns the VMM; on success *out is a running (booting) VM. */
    int (*start)(const struct vmm_config *config, struct vmm_vm **out, struct error *err);
    /* Asks the VMM to quit and returns at once: the request is sent before
     * it returns (so it goes out even when the loop does not run again, as
     * the daemon shuts down), the answer is awaited on vmm_config.base, and
     * when the VMM refuses or does not answer within a short timeout the
     * driver escalates with a signal itself. Never waits for the process to
     * end: the owner watches SIGCHLD, reaps it, and calls kill after its own
     * grace period. A second call while one is in flight does nothing. -1
     * when the request could not even be sent (the owner kills then). */
    int (*request_stop)(struct vmm_vm *vm, struct error *err);
    /* SIGKILL, no questions. */
    void (*kill)(struct vmm_vm *vm);
    /* Snapshots; NULL where the driver has none. snapshot_begin starts
     * saving a running VM started with config->save_to into that file, and
     * returns; snapshot_poll returns 1 once the state is completely written
     * (the VM is paused for good then: stop it), 0 while it is being
     * written, -1 when saving failed. Both are bounded by a short timeout
     * on the control socket. */
    int (*snapshot_begin)(struct vmm_vm *vm, struct error *err);
    int (*snapshot_poll)(struct vmm_vm *vm, struct error *err);
    /* The VMM's version line (e.g. "QEMU emulator version 7.2.22 ..."), which
     * a snapshot is bound to; NULL where the driver has no snapshots. Runs
     * `<binary> --version` (vmm_binary NULL: the driver's default) on base
     * and returns at once: -1 when it cannot even start (the binary is
     * missing: err names it and where it was looked for); else done is
     * called once, from the loop, with the line, or with the error (the
     * binary said no version line of its kind, or none within 5 s). *out
     * is the run, for vmm_version_run_free after done or to cancel it. */
    int (*version_start)(const char *vmm_binary, struct event_base *base, vmm_version_fn done,
                         void *ctx, struct vmm_version_run **out, struct error *err);
};

extern const struct vmm_driver vmm_qemu_driver;
/* The binary is config->vmm_binary, else $ENCLAVE_FIRECRACKER, else
 * `firecracker` on PATH. It runs under Firecracker's jailer when one is
 * configured ($ENCLAVE_JAILER) or sits next to the binary (the daemon must
 * be root); otherwise confined as QEMU is (the process-wide confinement:
 * the VMM's user, Landlock, the file size cap). */
extern const struct vmm_driver vmm_firecracker_driver;
/* Whether QEMU can really run a VM with KVM here: it boots the given kernel
 * with KVM for up to a few seconds and waits for its banner (the answer is
 * kept for the process). why says what failed. */
int vmm_qemu_probe_kvm(const char *vmm_binary, const char *kernel, char *why, size_t why_len);

/* An image whose kernel command line carries this word has a guest that
 * loads virtio_pci: QEMU then attaches the virtio-serial channel over PCI
 * (microvm with pcie=on) instead of virtio-mmio. On virtio-mmio QEMU 7.2
 * offers every queue with 1024 entries and the guest fills the channel's two
 * receive queues with a 4 KiB buffer per entry, 8 MiB per VM; over PCI the
 * device's own 128 entries are offered (1 MiB). Images built before keep
 * virtio-mmio. The kernel ignores the word (a parameter of no module). */
#define VMM_CMDLINE_CHANNEL_PCI "enclave.channel=pci"
/* Whether the space-separated kernel command line has word exactly (not a
 * longer word that starts with it); false for NULL. */
bool vmm_cmdline_has(const char *cmdline, const char *word);

/* How VMM processes are confined (docs/security.md, "The VMM process"). The
 * daemon sets this once, before the first VMM starts; the default confines
 * nothing beyond the file size cap. */
#define VMM_MAX_GROUPS 16
struct vmm_confinement {
    bool switch_user;        /* run the VMM as uid/gid (the daemon runs as root) */
    uid_t uid;
    gid_t gid;
    gid_t groups[VMM_MAX_GROUPS]; /* supplementary groups (e.g. kvm for /dev/kvm) */
    int n_groups;
    char user[64];           /* the name, for messages */
    bool landlock;           /* the kernel has Landlock: use it */
    int landlock_abi;
    uint64_t max_file_bytes; /* RLIMIT_FSIZE of the VMM: bounds the console log; 0: none */
};
#define VMM_USER "enclave-vmm"
#define VMM_DEFAULT_MAX_FILE_BYTES (4u << 20)
/* Fills c for this process: as root, the user VMM_USER (or, when that user
 * does not exist, nobody, and note says so); Landlock when the kernel has
 * it. note (may be empty) is a sentence for the daemon's log. */
int vmm_confinement_default(struct vmm_confinement *c, char *note, size_t note_len,
                            struct error *err);
void vmm_set_confinement(const struct vmm_confinement *c);
/* The Landlock ABI version of the running kernel, or 0 without it. */
int vmm_landlock_abi(void);

/* Common accessors (the VM struct is shared by the drivers). */
pid_t vmm_vm_pid(const struct vmm_vm *vm);
const struct vmm_channel *vmm_vm_channel(const struct vmm_vm *vm);
const char *vmm_vm_console_log(const struct vmm_vm *vm); /* path of the serial console log */
/* Path of the VMM's own stdout and stderr (QEMU: vmm.log; Firecracker: the
 * console log, which they are). */
const char *vmm_vm_log(const struct vmm_vm *vm);
/* The driver is still configuring the VMM on the loop (vmm_config.base). */
bool vmm_vm_starting(const struct vmm_vm *vm);
/* What that configuration waits for now, as a phrase ("its API socket ...
 * to accept a connection", "the answer to PUT /boot-source"), or NULL when
 * it is not configuring. */
const char *vmm_vm_start_step(const struct vmm_vm *vm);
/* Why that configuration failed (the step and its error), or NULL; the
 * driver killed the VMM then, and the owner reaps it as any other. */
const struct error *vmm_vm_start_error(const struct vmm_vm *vm);
bool vmm_vm_uses_kvm(const struct vmm_vm *vm);
/* The guest took the channel key (its HelloRequest with the resume fields
 * was answered): from now on connections prove the key itself. */
void vmm_vm_resumed(struct vmm_vm *vm);
/* Called by the owner when waitpid() reports the VMM process ended. */
void vmm_vm_mark_exited(struct vmm_vm *vm, int wait_status);
bool vmm_vm_exited(const struct vmm_vm *vm);
/* Releases the struct; the process must have been stopped or killed. */
void vmm_vm_free(struct vmm_vm *vm);

/* Where KVM comes from. Fills *accel with what the VMs will use and writes a
 * human explanation to explain (one paragraph) when KVM is not usable. */
struct vmm_host {
    enum vmm_provider provider;   /* detected or requested */
    bool kvm_usable;
    bool vhost_vsock;
    char explain[1024];
};
int vmm_detect_host(enum vmm_provider requested, struct vmm_host *out, struct error *err);
int vmm_parse_provider(const char *s, enum vmm_provider *out);
const char *vmm_provider_name(enum vmm_provider p);

/* Kills VMM processes left behind by an earlier daemon: every <vms_dir>/<id>/
 * with a vmm.pid whose process still runs with that folder in its command line.
 * Returns the number killed, or -1 on error. */
int vmm_reap_orphans(const char *vms_dir, struct error *err);

#endif
