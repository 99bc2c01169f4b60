/* The daemon: one event loop holding the API listener, the session
 * controller, the policy gate and the audit log. `enclave up` fills the
 * options and calls daemon_run(). */
#ifndef ENCLAVE_DAEMON_DAEMON_H
#define ENCLAVE_DAEMON_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/vmm.h"

struct oci_event;

/* A warm pool: size idle VMs of image (NULL or "default": the daemon's own)
 * and size (0: the defaults). */
#define DAEMON_MAX_POOLS 8
struct daemon_pool {
    char image[65];
    unsigned vcpus, mem_mb, size;
};

struct daemon_options {
    const char *listen;      /* "127.0.0.1:7339" */
    const char *socket_path; /* Unix socket instead of TCP, or NULL */
    unsigned vcpus;          /* per-VM default */
    unsigned mem_mb;         /* per-VM default */
    unsigned max_sessions;
    unsigned boot_timeout_s;
    unsigned default_exec_timeout_s, max_exec_timeout_s;
    uint64_t max_output_bytes;
    uint64_t max_stream_output_bytes; /* per stream of a streamed exec (enclave.v1 Exec) */
    size_t max_input_bytes;
    unsigned session_idle_timeout_s;  /* default idle timeout of a session; 0: none */
    unsigned session_max_lifetime_s;  /* default maximum lifetime; 0: none */
    enum vmm_provider provider;
    enum vmm_accel accel;
    const struct vmm_driver *vmm_driver; /* NULL: QEMU */
    const char *policy_dir;  /* NULL: the built-in default bundle */
    const char *image_ref;   /* with no current image: pull, verify and install this (OCI ref) */
    const char *audit_witness; /* every signed audit checkpoint is appended here too, or NULL */
    /* Warm pools (--pool). pools_set false: the size is chosen from the
     * machine's free memory and CPUs at start (daemon_auto_pool). */
    struct daemon_pool pools[DAEMON_MAX_POOLS];
    size_t n_pools;
    bool pools_set;
    /* Snapshot restore (--restore; core_config.snapshot_dir): on by default,
     * for drivers that have snapshots. */
    bool restore;
    bool allow_root;         /* run even as root (VMMs still drop to an unprivileged user) */
    int ready_fd;            /* when >= 0, "ready\n" or an error line is written here, then closed */
};

void daemon_options_defaults(struct daemon_options *o);
/* The default pool size for VMs of mem_mb on a machine with this much
 * available memory and these CPUs; *why says how it was chosen. */
unsigned daemon_auto_pool(uint64_t mem_available_mb, long cpus, unsigned mem_mb, char *why,
                          size_t why_size);
/* Runs until SIGINT/SIGTERM; returns the process exit code. */
int daemon_run(const struct daemon_options *o);

/* Appends what an image install did (src/oci/) to the audit log ctx (a
 * struct audit_log *) as IMAGE:VERIFIED or IMAGE:UNVERIFIED_INSTALL: an
 * oci_record_fn, for the daemon's own installs and the CLI's. */
int daemon_record_image(void *ctx, const struct oci_event *event, struct error *err);

#endif
