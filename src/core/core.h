/* Sessions: one microVM each, driven through BOOTING -> READY -> STOPPING ->
 * gone (or FAILED), on the daemon's event loop.
 *
 * Every action a client asks for (start, exec, stop) is one gate_decide()
 * call (src/gate/gate.h) before anything reaches a VM; the gate decides and
 * records, and anything but a recorded allow refuses the action. A core
 * cannot exist without a gate (core_new fails). What happens to sessions is
 * recorded through the same gate. Results come back through callbacks that
 * run exactly once, later, from the event loop (never from inside the call
 * that started the work). */
#ifndef ENCLAVE_CORE_CORE_H
#define ENCLAVE_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "gate/gate.h"
#include "vmm/vmm.h"

struct event_base;
struct core;

#define CORE_MAX_SESSION_ID 64
#define CORE_MAX_ARGV 256
/* Environment variables per exec, and the longest name (the gate's
 * allowlist obligation holds as many). */
#define CORE_MAX_ENV GATE_MAX_ENV
#define CORE_MAX_ENV_NAME GATE_MAX_ENV_NAME

enum core_session_state {
    CORE_SESSION_BOOTING,
    CORE_SESSION_READY,
    CORE_SESSION_STOPPING,
    CORE_SESSION_FAILED,
};
const char *core_session_state_name(enum core_session_state s); /* "BOOTING", ... */

struct core_config {
    struct event_base *base;
    const struct vmm_driver *driver;
    enum vmm_accel accel;
    const char *kernel, *initrd, *cmdline; /* the guest image */
    const char *rootfs;                    /* its read-only root filesystem disk, or NULL */
    const char *vms_dir;                   /* per-VM run folders go here */
    unsigned default_vcpus, max_vcpus;
    unsigned default_mem_mb, min_mem_mb, max_mem_mb;
    unsigned max_sessions;
    unsigned boot_timeout_ms;
    unsigned default_exec_timeout_s, max_exec_timeout_s;
    uint64_t max_output_bytes; /* per stream */
    uint64_t max_stream_output_bytes; /* per stream, streamed execs; 0: 16 MiB */
    size_t max_input_bytes;    /* code, argv and stdin together */
    struct gate *gate;         /* required (borrowed; outlives the core) */
    /* Warm pools: booted, idle VMs that a matching core_session_start claims
     * (copied by core_new). */
    const struct core_pool_spec *pools;
    size_t n_pools;
    /* Snapshot restore (docs/fast-start.md): when set and the driver has
     * snapshots, one VM of the default image and size boots in the
     * background and is saved under snapshot_dir once enclave-init serves;
     * later starts of that image and size that find no pool VM restore it
     * instead of booting. The snapshot is bound to image_digest (the
     * image's artifact digests), the kernel command line, the size, the
     * accelerator and the VMM's version, and rebuilt when any changes. */
    const char *snapshot_dir;
    const char *image_digest;
};

/* The snapshot, for GetInfo and the logs. */
struct core_snapshot_info {
    const char *state; /* "off", "building", "ready", "failed" */
    const char *identity; /* hex SHA-256 of what it is bound to; "" when off */
    unsigned vcpus, mem_mb;
    uint64_t size_bytes;
    uint64_t restores, fallbacks, builds;
};
void core_snapshot_get(struct core *core, struct core_snapshot_info *info);

/* A warm pool: size VMs of this image and size kept booted and idle. A
 * start whose image files, vCPUs and memory all match claims one of them
 * (after the same policy decision as a cold start); the pool refills in the
 * background, one boot at a time across all pools. A claimed VM has only
 * answered the boot-time Health check: it has never run anything, and it
 * is destroyed when its session stops (never returned to a pool). */
#define CORE_MAX_POOLS 8
#define CORE_MAX_POOL_SIZE 64
struct core_pool_spec {
    const char *image;          /* name for GetInfo and the policy ("" or "default": the daemon's) */
    const char *kernel, *initrd; /* NULL: the daemon's own image */
    const char *rootfs;          /* with kernel/initrd: that image's root disk, or NULL */
    unsigned vcpus, mem_mb;     /* 0: the defaults */
    unsigned size;
};
struct core_pool_info {
    const char *image;
    unsigned vcpus, mem_mb, size;
    unsigned ready, booting;
    uint64_t claimed, boots, failures;
};
void core_pool_foreach(struct core *core, void (*fn)(const struct core_pool_info *, void *), void *ctx);

struct core_caller {
    const char *transport; /* "connect", "grpc", "cli" */
    const char *peer;
    const char *principal; /* "operator" or "agent" (api_call_principal); NULL: the policy sees "" */
};
/* The policy input's caller object: {"transport", "peer", "principal"}
 * (NULL strings as ""). caller may be NULL. */
json_t *core_caller_json(const struct core_caller *caller);

struct core_session_info {
    const char *id;
    enum core_session_state state;
    const char *channel_path;
    unsigned vcpus, mem_mb;
    unsigned workspace_mb; /* the size of the guest's /workspace */
    bool kvm;
    int64_t created_unix_ns;
    bool pooled; /* its VM came from a warm pool */
    bool restored; /* its VM was restored from the snapshot */
    unsigned execs_running;
    /* Lifetime: 0 means no limit. Both count from READY. last_active is
     * READY, or the start or end of the last exec (or core_session_touch);
     * idle counts from there while no exec runs. deadline: READY plus the
     * maximum lifetime (0: none, or still booting). */
    unsigned idle_timeout_s, max_lifetime_s;
    int64_t last_active_unix_ns;
    int64_t deadline_unix_ns;
    bool egress; /* started with egress */
};

int core_new(const struct core_config *config, struct core **out, struct error *err);
/* Stops every VM (QMP quit, then SIGKILL after a short grace) and frees. */
void core_free(struct core *core);

typedef void (*core_session_fn)(const struct core_session_info *info, const struct error *err,
                                void *ctx);

struct core_start_request {
    const char *session_id; /* NULL or "": one is made up */
    unsigned vcpus;         /* 0: default */
    unsigned mem_mb;        /* 0: default */
    /* The size of the guest's /workspace (a tmpfs) in MiB; 0: the default,
     * a quarter of the memory. At most half the memory, at least
     * CORE_WORKSPACE_MIN_MB. The guest gets it as the kernel argument
     * enclave.workspace_mb=N; a warm pool VM is claimed only when it is
     * the default. */
    unsigned workspace_mb;
    const char *intent_json; /* declared intent (JSON object) or NULL; the gate keeps it */
    struct core_caller caller;
    /* The session is stopped after this long without an exec, and this long
     * after it became READY (0: never). The policy input shows both. A stop for
     * either is audited as SESSION:STOP with reason "idle_timeout" or
     * "max_lifetime". */
    unsigned idle_timeout_s;
    unsigned max_lifetime_s;
    /* An image variant: its name (for the policy input's request.image; ""
     * or NULL: the default image) and its files (NULL: the default's). */
    const char *image;
    const char *kernel, *initrd;
    /* Outbound connections through the guest's HTTP proxy (src/egress):
     * the policy input's request.egress; once READY the session's proxy
     * serves, and every exec and code context gets HTTP_PROXY and friends
     * (CORE_EGRESS_ENV). Each connection is decided as net.connect. */
    bool egress;
    const char *rootfs; /* with kernel/initrd: that image's root disk, or NULL */
};
#define CORE_WORKSPACE_MIN_MB 8u
static inline unsigned core_workspace_default_mb(unsigned mem_mb)
{
    return mem_mb / 4 < CORE_WORKSPACE_MIN_MB ? CORE_WORKSPACE_MIN_MB : mem_mb / 4;
}
static inline unsigned core_workspace_max_mb(unsigned mem_mb)
{
    return mem_mb / 2 < CORE_WORKSPACE_MIN_MB ? CORE_WORKSPACE_MIN_MB : mem_mb / 2;
}
/* Boots a VM; cb runs when it is READY or has FAILED. Returns -1 (and no
 * callback) when the request is refused at once. */
int core_session_start(struct core *core, const struct core_start_request *req,
                       core_session_fn cb, void *ctx, struct error *err);

struct core_exec_request {
    const char *session_id;
    const char *tool;      /* "python" or "exec": for the policy input and the audit */
    char *const *argv;
    size_t argc;
    const uint8_t *stdin_data;
    size_t stdin_len;
    char *const *env_names; /* environment for the workload: names[i]=values[i] */
    char *const *env_values;
    size_t n_env;
    const char *cwd;       /* NULL: /workspace */
    unsigned timeout_s;    /* 0: default */
    const char *context_json;
    struct core_caller caller;
    /* Streaming (core_exec_stream): output as the guest sends it; stream 1 is
     * stdout, 2 stderr. The guest stops reading the workload's pipes once
     * stream_window bytes are not yet credited with core_exec_credit (0: no
     * flow control). */
    void (*on_output)(int stream, const uint8_t *data, size_t len, void *ctx);
    uint32_t stream_window;
    /* Interactive stdin (streaming only): stdin stays open after stdin_data;
     * more comes with core_exec_stdin. on_stdin_written reports bytes the
     * guest wrote to the workload (at most CORE_STDIN_IN_FLIGHT may be sent
     * and not yet reported). */
    bool stdin_open;
    void (*on_stdin_written)(uint64_t bytes, void *ctx);
};
#define CORE_STDIN_IN_FLIGHT (512u << 10)
/* For a streamed exec, out and err are NULL and out_len/err_len count the
 * bytes that went to on_output. */
struct core_exec_result {
    int exit_code;
    int signal;
    bool timed_out;
    const uint8_t *out;
    size_t out_len;
    bool out_truncated;
    const uint8_t *err;
    size_t err_len;
    bool err_truncated;
    uint64_t duration_us;
    unsigned timeout_s;        /* the timeout that applied */
    uint64_t max_output_bytes; /* the cap that applied */
};
typedef void (*core_exec_fn)(const struct core_exec_result *res, const struct error *err,
                             void *ctx);
int core_exec(struct core *core, const struct core_exec_request *req, core_exec_fn cb, void *ctx,
              struct error *err);
/* A streamed exec (req->on_output set). *handle is valid until cb runs or
 * core_exec_abandon is called. The per-stream cap is max_stream_output_bytes
 * (or the policy's obligation, when lower). */
struct core_exec_handle;
int core_exec_stream(struct core *core, const struct core_exec_request *req, core_exec_fn cb,
                     void *ctx, struct core_exec_handle **handle, struct error *err);
/* The consumer passed bytes on: the guest may send that much more. */
void core_exec_credit(struct core_exec_handle *handle, uint64_t bytes);
/* More standard input (an exec started with stdin_open); close ends it. */
int core_exec_stdin(struct core_exec_handle *handle, const uint8_t *data, size_t len, bool close,
                    struct error *err);
/* The consumer is gone: the guest kills the workload; cb never runs. The
 * end is audited (TOOL:EXEC with "abandoned"). */
void core_exec_abandon(struct core_exec_handle *handle);

typedef void (*core_done_fn)(const struct error *err, void *ctx);
/* Stops the VM; cb runs once its VMM process is gone. */
int core_session_stop(struct core *core, const char *session_id, const struct core_caller *caller,
                      core_done_fn cb, void *ctx, struct error *err);

/* Activity other than an exec (e.g. a file transfer) that keeps a session
 * from idling out. Unknown ids are ignored. */
void core_session_touch(struct core *core, const char *session_id);

/* Calls fn for each session (no adding or removing from fn). */
void core_session_foreach(struct core *core, void (*fn)(const struct core_session_info *, void *),
                          void *ctx);
unsigned core_session_count(const struct core *core);

/* Session ids: 1-64 characters of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool core_session_id_valid(const char *id);

/* ------------------------------------------------------------------ files
 *
 * Files of a session, under /workspace and /tmp of its guest (the guest
 * resolves every path beneath those roots and refuses symlinks). Each call
 * is a policy decision first: "file.read" (stat, list, read) or "file.write"
 * (mkdir, remove, write) with the request {"path", "op", "size"}. Reads and
 * writes stream with credit in both directions, so neither the daemon nor
 * the guest holds more than a window of a file; their content is hashed
 * (SHA-256) on the way through and the FILE:READ / FILE:WRITE record carries
 * the digest. Callbacks run from the event loop, exactly once for the end. */
enum core_file_op { CORE_FILE_STAT, CORE_FILE_LIST, CORE_FILE_MKDIR, CORE_FILE_REMOVE };
#define CORE_MAX_FILE_PATH 4095
/* What the host takes of a guest's listing, whatever the guest sends: at
 * most this many entries (the rest marked entries_truncated), each name cut
 * at this many bytes (a file system's NAME_MAX). */
#define CORE_MAX_LIST_ENTRIES 10000
#define CORE_MAX_FILE_NAME 255

struct core_file_request {
    const char *session_id;
    const char *path;
    bool parents;   /* mkdir: missing parents too, an existing folder is fine */
    bool recursive; /* remove: a folder with what is in it */
    int64_t size;   /* write: the size announced, or -1 when not known */
    struct core_caller caller;
};

struct core_file_info {
    const char *name;
    const char *type; /* "file", "directory", "symlink", "other" */
    uint64_t size;
    uint32_t mode;
    int64_t mtime_unix_ns;
};
struct core_file_result {
    struct core_file_info info;          /* stat, mkdir, read, write */
    const struct core_file_info *entries; /* list */
    size_t n_entries;
    bool entries_truncated;
    uint64_t bytes;                      /* read, write */
    char sha256[65];                     /* read, write: hex digest of the content */
};
typedef void (*core_file_fn)(const struct core_file_result *res, const struct error *err, void *ctx);

/* stat, list, mkdir, remove. */
int core_file_op(struct core *core, enum core_file_op op, const struct core_file_request *req,
                 core_file_fn cb, void *ctx, struct error *err);

struct core_file_transfer;
struct core_file_stream_callbacks {
    /* read: a piece of the file. Pass it on, then core_file_credit() what
     * was passed on (the guest sends no more than the credit allows). */
    void (*on_data)(const uint8_t *data, size_t len, void *ctx);
    /* write: room for more (core_file_write_room() > 0 again). */
    void (*on_room)(void *ctx);
    /* the end: res on success, err otherwise. The transfer is gone after. */
    core_file_fn on_done;
};
/* Starts a download. *t is valid until on_done runs or core_file_abandon. */
int core_file_read(struct core *core, const struct core_file_request *req,
                   const struct core_file_stream_callbacks *cb, void *ctx,
                   struct core_file_transfer **t, struct error *err);
void core_file_credit(struct core_file_transfer *t, uint64_t bytes);
/* Starts an upload: data is accepted as far as core_file_write_room allows. */
int core_file_write(struct core *core, const struct core_file_request *req,
                    const struct core_file_stream_callbacks *cb, void *ctx,
                    struct core_file_transfer **t, struct error *err);
/* 0: wait for on_room. */
uint64_t core_file_write_room(struct core_file_transfer *t);
/* Sends data (at most core_file_write_room bytes); eof ends the file. */
int core_file_write_data(struct core_file_transfer *t, const uint8_t *data, size_t len, bool eof,
                         struct error *err);
/* The consumer is gone: the guest is told to stop; on_done never runs. */
void core_file_abandon(struct core_file_transfer *t);

/* ------------------------------------------------------------------ code
 *
 * A cell of Python in the session's long-lived interpreter (one per
 * context_id; "" is the session's default). The gate is asked about "exec"
 * with tool "code", argv ["python3"] and the code text, as for an exec. */
struct core_code_request {
    const char *session_id;
    const char *context_id;
    const char *code;
    unsigned timeout_s; /* 0: default */
    struct core_caller caller;
};
struct core_code_event {
    const char *kind; /* "stdout", "stderr", "result", "error" */
    const char *text;
    const char *name, *value, *traceback; /* error */
    size_t n_data;                        /* result: rich forms */
    const char *const *mime_types;
    const uint8_t *const *data;
    const size_t *data_len;
};
struct core_code_result {
    bool error, timed_out, interrupted, restarted, truncated;
    uint64_t duration_us;
    uint32_t execution_count;
    unsigned timeout_s;
};
typedef void (*core_code_event_fn)(const struct core_code_event *ev, void *ctx);
typedef void (*core_code_fn)(const struct core_code_result *res, const struct error *err, void *ctx);
struct core_code_run;
int core_code(struct core *core, const struct core_code_request *req, core_code_event_fn on_event,
              core_code_fn cb, void *ctx, struct core_code_run **run, struct error *err);
/* The consumer is gone: the cell is interrupted; cb never runs. */
void core_code_abandon(struct core_code_run *run);

#endif
