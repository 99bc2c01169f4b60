/* enclave-init: the static PID 1 inside the VM (docs/architecture.md).
 *
 * It links libc, protobuf-c and http-parser only, never src/common. Everything but main()
 * lives behind this header so the unit tests and the fuzz harness can link
 * the logic and drive it on the host (--serve-stdio, --serve-unix).
 *
 * What the host can count on (proto/guest/v1/guest.proto, wire/frame.h):
 *  - Nothing is served on a connection before a HelloRequest with the VM's
 *    key (GUEST_KEY_LEN bytes); anything else first, or a wrong key, closes
 *    it with no reply (the serial port ignores the host until it
 *    reconnects). After a sync marker the key is needed again.
 *  - Every request gets exactly one reply with its id: the matching response
 *    or an ErrorResponse. An exec's reply is its ExecResponse (preceded by
 *    ExecOutput chunks when it asked to stream); CancelRequest gets a
 *    CancelResponse at once and the exec still ends with its ExecResponse.
 *  - An ErrorResponse with id 0 is about the stream: a body that did not
 *    decode (skipped, the stream goes on) or a length over the limit (a
 *    socket is closed; the serial port drops input until a sync marker or a
 *    reconnect). Requests must not use id 0.
 *  - An exec ends when its main process has ended; the rest of its process
 *    group is then killed, and in the VM, once no exec runs, every uid 1000
 *    process is. Timeout and Cancel kill the whole group (SIGKILL).
 *  - Output past max_output_bytes is read and dropped (the workload never
 *    blocks on it) and the truncated flag says so.
 *  - A connection that goes away takes its running execs with it, and the
 *    egress proxy when it asked for it (an EgressRequest is answered with
 *    EgressResponse only when canceled or when the host closes its side).
 *  - Limits: GUEST_MAX_EXECS in flight (more: CODE_BUSY), GUEST_MAX_CONNS
 *    stream connections (more: CODE_BUSY, then closed), sizes below.
 *
 * Ownership: guest_server_new() returns a server the caller frees with
 * guest_server_free(); transports added to it are owned by it (it closes
 * their fds). Explanations from guest_exec_validate() and
 * guest_request_check() are static strings. */
#ifndef ENCLAVE_GUEST_GUEST_H
#define ENCLAVE_GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <http_parser.h>

#include "guest/v1/guest.pb-c.h"

#define GUEST_INIT_VERSION "0.1.0"
#define GUEST_PROTOCOL_VERSION 1u
#define GUEST_VSOCK_PORT 52u
#define GUEST_SERIAL_PORT_NAME "org.enclave.rpc"

/* The per-VM secret the host proves with a HelloRequest before anything is
 * served. QEMU passes it as fw_cfg file opt/org.enclave/key (the
 * qemu_fw_cfg module shows it, readable by root only, at GUEST_KEY_FW_CFG);
 * Firecracker, which has no fw_cfg, in a second cpio archive appended to a
 * per-VM initramfs (GUEST_KEY_INITRD, mode 0400, unlinked once read). */
#define GUEST_KEY_LEN 32u
#define GUEST_KEY_FW_CFG "/sys/firmware/qemu_fw_cfg/by_name/opt/org.enclave/key/raw"
#define GUEST_KEY_INITRD "/.enclave-key"
#define GUEST_FW_CFG_MODULE "qemu_fw_cfg"
/* An unauthenticated stream connection is closed after this long. */
#define GUEST_HELLO_TIMEOUT_MS 10000u

/* Workloads run as this user and group. */
#define GUEST_WORKLOAD_UID 1000
#define GUEST_WORKLOAD_GID 1000
#define GUEST_WORKSPACE "/workspace"
#define GUEST_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Limits on what the host may ask for. Every one is checked before use. */
#define GUEST_MAX_EXECS 32u               /* in flight, all connections together */
#define GUEST_MAX_CONNS 16u               /* stream connections at once */
#define GUEST_MAX_ARGS 4096u
#define GUEST_MAX_ENV 1024u
#define GUEST_MAX_ARG_LEN (128u << 10)    /* one argument or NAME=value (the kernel's MAX_ARG_STRLEN) */
#define GUEST_MAX_ARGV_TOTAL (1u << 20)   /* argv plus env, bytes */
#define GUEST_MAX_ENV_NAME 1024u
#define GUEST_MAX_CWD 4095u
#define GUEST_MAX_STDIN (4u << 20)
#define GUEST_DEFAULT_TIMEOUT_MS 30000u
#define GUEST_MAX_TIMEOUT_MS (24u * 3600u * 1000u)
#define GUEST_DEFAULT_OUTPUT (1u << 20)   /* per stream */
#define GUEST_MAX_OUTPUT (3u << 20)       /* per stream: both fit one WIRE_MAX_FRAME reply */
/* Streamed output is never held whole: its cap may be far higher. */
#define GUEST_MAX_STREAM_OUTPUT (1ull << 40)
#define GUEST_MAX_STREAM_WINDOW (64u << 20)
/* Interactive stdin (ExecStdin) waiting to be written to the workload. */
#define GUEST_MAX_STDIN_PENDING (1u << 20)
#define GUEST_MAX_PROCESSES 65536u
#define GUEST_MAX_OPEN_FILES (1u << 20)   /* the kernel's default nr_open */
#define GUEST_DEFAULT_PROCESSES 512u
#define GUEST_DEFAULT_OPEN_FILES 1024u
#define GUEST_DEFAULT_FILE_SIZE (1ull << 30)
#define GUEST_DEFAULT_ADDRESS_SPACE (4ull << 30)

/* ---------------------------------------------------------------- console */

/* Writes "enclave-init: message" to stderr (the VM console). */
void guest_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------- requests */

/* An exec request checked and completed with defaults. */
struct guest_exec_params {
    uint32_t timeout_ms;
    uint64_t max_output;      /* per stream */
    uint32_t stream_window;   /* streamed bytes not yet credited; 0: no flow control */
    const char *cwd;          /* the request's, or GUEST_WORKSPACE */
    uint64_t max_processes;
    uint64_t max_file_size;
    uint64_t max_open_files;
    uint64_t max_address_space;
};

/* Returns 0 and fills *params, or an ErrorResponse code (CODE_INVALID,
 * CODE_TOO_LARGE) with *why set to a static explanation. Executes nothing. */
int guest_exec_validate(const Guest__V1__ExecRequest *req, struct guest_exec_params *params,
                        const char **why);

/* The workload environment: HOME, PATH, then the request's variables (which
 * replace a default of the same name). Returns a NULL-terminated malloc'd
 * array of malloc'd "NAME=value" strings, or NULL when out of memory; free it
 * with guest_env_free(). Call only on a validated request. */
char **guest_exec_build_env(const Guest__V1__ExecRequest *req);
void guest_env_free(char **env);

/* 0 when frame is a HelloRequest carrying exactly key (compared in
 * constant time), -1 otherwise. */
int guest_hello_check(const Guest__V1__Frame *frame, const uint8_t key[GUEST_KEY_LEN]);

/* Resume after a snapshot restore (HelloRequest.new_key, entropy,
 * unix_time_ns). Returns 0 when the HelloRequest asks for none, 1 when it
 * asks for a well-formed one (new_key of GUEST_KEY_LEN bytes, entropy of
 * GUEST_RESUME_MIN_ENTROPY..GUEST_RESUME_MAX_ENTROPY bytes, a positive time),
 * -1 with *why set when it asks for a malformed one. */
#define GUEST_RESUME_MIN_ENTROPY 32
#define GUEST_RESUME_MAX_ENTROPY 256
int guest_hello_resume_check(const Guest__V1__HelloRequest *hello, const char **why);

/* What kind of request a frame carries: 0 for one the init serves (health,
 * exec, cancel, shutdown, credit, stdin, files, code, and the host's egress
 * frames), or CODE_UNKNOWN_REQUEST with *why set. */
int guest_request_check(const Guest__V1__Frame *frame, const char **why);

/* ---------------------------------------------------------------- sandbox */

/* Installs the workload seccomp filter on the calling thread: the calls in
 * guest_seccomp_denied (mount, ptrace, bpf, unshare, ...) fail with EPERM,
 * clone with namespace flags fails with EPERM, socket() outside AF_UNIX,
 * AF_INET, AF_INET6 and socketpair() outside AF_UNIX fail with EPERM,
 * clone3 with ENOSYS (so libc
 * falls back to clone, whose flags can be checked), any other architecture
 * or the x32 ABI is killed. Needs no_new_privs or CAP_SYS_ADMIN.
 * Returns 0 or -errno. */
int guest_seccomp_install(void);
/* The same filter as a classic BPF program (struct sock_filter entries,
 * 8 bytes each) copied into buf, for a process that installs it itself (the
 * Python fork server's workloads); its length in bytes, 0 when buf is too
 * small. */
#define GUEST_SECCOMP_MAX_BYTES 4096u
size_t guest_seccomp_program(void *buf, size_t len);

/* The system calls the filter refuses with EPERM (tests walk this list). */
struct guest_syscall {
    int nr;
    const char *name;
};
extern const struct guest_syscall guest_seccomp_denied[];
extern const size_t guest_seccomp_denied_count;
/* The socket() families the filter allows (any other is EPERM;
 * socketpair() allows AF_UNIX only). */
extern const int guest_seccomp_socket_families[];
extern const size_t guest_seccomp_socket_family_count;

/* A started workload: its pid (also its process group and session) and the
 * parent's ends of its pipes, non-blocking and close-on-exec. */
struct guest_spawned {
    pid_t pid;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
};

/* Forks and execs the workload: own session, rlimits, uid/gid 1000 with no
 * supplementary groups, no_new_privs, the seccomp filter, cwd, env. Returns 0,
 * or CODE_EXEC_FAILED with why[] saying which step failed and why (the child
 * reports it over a close-on-exec pipe before exec). The child is left for
 * the caller's reaper in either case. Call only on a validated request. */
int guest_spawn(const Guest__V1__ExecRequest *req, const struct guest_exec_params *params,
                struct guest_spawned *out, char *why, size_t why_len);
/* The same with given argv, environment and descriptors for 0, 1 and 2 (the
 * caller keeps and closes its copies); *pid is the child's. */
int guest_spawn_fds(char *const argv[], char **env, const struct guest_exec_params *params, int in_fd,
                    int out_fd, int err_fd, pid_t *pid, char *why, size_t why_len);
/* The Python fork server's template: the same start (signals reset, its own
 * session, the descriptors, nothing else of the init's) but it stays root,
 * with its cwd at "/"; it runs no workload code itself (see below). */
int guest_spawn_template(char *const argv[], char **env, int in_fd, int out_fd, int err_fd, pid_t *pid,
                         char *why, size_t why_len);
/* Hands the parent's ends of the three pipes of a started child to out (stdin's
 * write end, the read ends of stdout and stderr, all made non-blocking) and
 * sets them to -1 in the arrays, so that closing what is left keeps them. */
void guest_spawned_take(struct guest_spawned *out, pid_t pid, int in[2], int outp[2], int errp[2]);

/* ---------------------------------------------------------------- Python fork server
 *
 * A python3 (the template) that has imported the standard modules a tool
 * call usually needs and then only forks. It runs as root, with no
 * workload's input ever reaching it: at the init's word it forks a worker,
 * a copy of its clean state that is reparented to the init (PID 1) and
 * waits, still root, on a socket of its own. For a `python3 -c CODE` exec
 * (or an interpreter context's driver) that qualifies, the init sends that
 * worker the request: the workload's limits, its whole environment (as a
 * fresh process gets it), the code and the three pipe ends. The worker then
 * becomes the workload exactly as guest_spawn_fds makes one (its own
 * session, the pipes as 0-2 and nothing else open, the rlimits, an empty
 * capability bounding set, no groups, uid and gid 1000 checked to stick,
 * umask, cwd, no_new_privs, this seccomp filter), says so, and runs the code
 * as `python3 -c` would (a fresh __main__, sys.argv ['-c'], the path with
 * '' and the user site as a fresh start has them, exit codes and
 * tracebacks the same, `random` reseeded). The init reaps and kills it like
 * any other workload, and asks for the next worker once no exec runs, so
 * the fork is off the call's path.
 *
 * Why root and not uid 1000: a uid-1000 process waiting between calls can
 * be reached by any workload (signals, prlimit() on its limits,
 * setpriority(), sched_setaffinity(), ...) and whatever it was set to would
 * reach the next call; so a uid-1000 fork server had to die in the sweep
 * after every exec and start again (seconds of imports under TCG). The
 * workload user cannot signal, trace, read or change a root process at
 * all, so the template and the waiting worker survive the sweep, and the
 * worker is in the same state whether it waited a millisecond or an hour.
 * What calls share that fresh processes would not: the interpreter's hash
 * secret and memory layout (one template per boot; a snapshot restore
 * starts a new one, see guest_forkserver_restart). A call that finds no
 * worker ready takes the fresh-process path. */
struct guest_forkserver;
/* python: the python3 to run (NULL: "python3" on PATH). */
struct guest_forkserver *guest_forkserver_new(const char *python);
void guest_forkserver_free(struct guest_forkserver *fs);
/* Starts it (not waiting for it to be ready) unless it runs. */
void guest_forkserver_start(struct guest_forkserver *fs);
/* 1: not for the fork server (the caller starts a fresh process); 0: *out
 * is the started workload; else an ErrorResponse code with why (the code
 * may have started: never run it again). */
int guest_forkserver_spawn(struct guest_forkserver *fs, const Guest__V1__ExecRequest *req,
                           const struct guest_exec_params *params, struct guest_spawned *out, char *why,
                           size_t why_len);
/* The same for an interpreter context: req is the context's exec (argv[0]
 * the python3 to run), driver the path of the interpreter driver, run as
 * `python3 -u -I DRIVER` would run it. */
int guest_forkserver_spawn_driver(struct guest_forkserver *fs, const Guest__V1__ExecRequest *req,
                                  const struct guest_exec_params *params, const char *driver,
                                  struct guest_spawned *out, char *why, size_t why_len);
/* From the reaper: true when pid was the template or the waiting worker
 * (a template that ran for a second or more is started again). */
bool guest_forkserver_reaped(struct guest_forkserver *fs, pid_t pid);
/* No exec runs: asks the template for the next worker unless one waits. */
void guest_forkserver_idle(struct guest_forkserver *fs);
/* Kills the template and its worker so that a fresh one starts: after a
 * snapshot restore, whose Python was shared with every restored VM. The
 * fresh one starts at guest_forkserver_release (the host's Health after the
 * resume), or with the next call. */
void guest_forkserver_restart(struct guest_forkserver *fs);
void guest_forkserver_release(struct guest_forkserver *fs);
/* Calls served and calls that fell back since start (for tests). */
void guest_forkserver_counts(const struct guest_forkserver *fs, uint64_t *served, uint64_t *fallbacks);

/* ---------------------------------------------------------------- files */

#define GUEST_TMP "/tmp"
#define GUEST_MAX_PATH 4095u
#define GUEST_MAX_FILE_OPS 16u             /* reads and writes in flight, all connections */
#define GUEST_FILE_CHUNK (256u << 10)      /* bytes per FileChunk the init sends */
#define GUEST_FILE_MAX_CHUNK (1u << 20)    /* the most a FileChunk may carry */
#define GUEST_FILE_WRITE_WINDOW (4u << 20) /* write credit the init keeps granted */
#define GUEST_FILE_MAX_WINDOW (64u << 20)  /* read credit the host may have granted */
#define GUEST_MAX_LIST 10000u

/* Which root a request path names. path must be absolute and lie under
 * /workspace or /tmp; *rel is then what follows the root ("." for the root
 * itself), *root is 0 for /workspace and 1 for /tmp. Returns 0, or
 * CODE_PERMISSION / CODE_INVALID with *why set. Touches no file system. */
int guest_path_split(const char *path, int *root, const char **rel, const char **why);

/* Opens rel beneath root_fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * | RESOLVE_NO_MAGICLINKS): a symlink on the way (the last component too,
 * unless flags has O_PATH|O_NOFOLLOW), an absolute path or a ".." leaving
 * root_fd fails. Returns the fd, or -errno (-ELOOP for a symlink, -EXDEV for
 * an escape). */
int guest_path_open(int root_fd, const char *rel, int flags, mode_t mode);

/* Splits rel into its parent (opened beneath root_fd as an O_PATH directory)
 * and its last component, copied into name. The last component must be a
 * plain name (not "", "." or ".."). Returns the parent fd or -errno. */
int guest_path_open_parent(int root_fd, const char *rel, char *name, size_t name_len);

/* The ErrorResponse code for an errno of a file operation, and a message. */
int guest_file_errno_code(int err);

/* ---------------------------------------------------------------- code */

#define GUEST_INTERP_DRIVER "/usr/lib/enclave/interp.py"
#define GUEST_INTERP_PYTHON "/usr/bin/python3"
#define GUEST_MAX_CONTEXTS 8u
#define GUEST_MAX_CONTEXT_ID 64u
#define GUEST_MAX_CODE (4u << 20)
#define GUEST_INTERP_MAX_EVENT (6u << 20)  /* one event from the driver */
#define GUEST_CODE_MAX_OUTPUT (16u << 20)  /* events per cell, bytes */
#define GUEST_INTERRUPT_GRACE_MS 2000u     /* after SIGINT, before the context is killed */

/* The driver's events (interp.py): a u32 big-endian length, then a kind byte,
 * then fields, each a tag byte, a u32 big-endian length and that many bytes. */
enum guest_interp_kind {
    GUEST_INTERP_STDOUT = 1, /* tag 1: text */
    GUEST_INTERP_STDERR = 2, /* tag 1: text */
    GUEST_INTERP_RESULT = 3, /* tag 1: repr; then pairs of tag 2 (mime type) and tag 3 (data) */
    GUEST_INTERP_ERROR = 4,  /* tags 4, 5, 6: name, value, traceback */
    GUEST_INTERP_DONE = 5,   /* tag 7: one byte, 0 ok, 1 error, 2 interrupted; tag 8: u32 BE count */
};
#define GUEST_INTERP_MAX_MIME 16u

struct guest_interp_field {
    const uint8_t *data; /* points into the parsed buffer */
    uint32_t len;
};
struct guest_interp_event {
    int kind;
    struct guest_interp_field text, name, value, traceback;
    struct guest_interp_field mime[GUEST_INTERP_MAX_MIME], mime_data[GUEST_INTERP_MAX_MIME];
    size_t n_mime;
    int status;     /* DONE */
    uint32_t count; /* DONE */
};

/* Parses one event body (after the length). Returns 0, or -1 with *why set
 * for anything malformed (unknown kind or tag, a field past the end, a
 * string that is not UTF-8, a mime type without data, too many). */
int guest_interp_parse(const uint8_t *body, size_t len, struct guest_interp_event *ev,
                       const char **why);
/* Validates a context id: up to GUEST_MAX_CONTEXT_ID of [A-Za-z0-9._-]. */
bool guest_context_id_valid(const char *id);
/* Waits for the child pid to end, at most timeout_ms; then SIGKILLs it and
 * reaps it. Returns 0 when it ended by itself, 1 when it was killed. */
int guest_wait_child(pid_t pid, unsigned timeout_ms);
/* Run as the workload user (in the sweep's child): SIGKILLs every process of
 * the caller's uid, except the caller and the processes of the live
 * interpreter contexts (keep: their pids) and what descends from them, by
 * the parent links in proc_root ("/proc"). Rounds until a scan finds
 * nothing to kill (a process that forks meanwhile is found in the next one),
 * at most 64. Returns how many it killed, or -errno when proc_root cannot be
 * read. */
int guest_kill_user_except(const char *proc_root, const pid_t *keep, size_t n_keep);

/* ---------------------------------------------------------------- egress proxy
 *
 * With an EgressRequest in flight the init serves an HTTP proxy on
 * 127.0.0.1:<port> inside the VM (egress.c): CONNECT host:port for TLS and
 * absolute-form plain HTTP. Each workload connection becomes a stream of
 * EgressOpen / EgressData / EgressCredit / EgressClose frames; the host
 * decides, resolves and connects (proto/guest/v1/guest.proto, "---- egress").
 * Request heads are parsed with http-parser (egress_http.c). */
#define GUEST_EGRESS_DEFAULT_PORT 3128u
#define GUEST_EGRESS_DEFAULT_STREAMS 64u
#define GUEST_EGRESS_MAX_STREAMS 1024u       /* what an EgressRequest may ask for */
#define GUEST_EGRESS_SPARE_CLIENTS 16u       /* connections beyond max_streams whose head is read for a 503 */
#define GUEST_EGRESS_DEFAULT_WINDOW (256u << 10)
#define GUEST_EGRESS_MAX_WINDOW (16u << 20)
#define GUEST_EGRESS_MAX_DATA (64u << 10)    /* bytes per EgressData frame, both ways */
#define GUEST_EGRESS_DEFAULT_HEADER (16u << 10)
#define GUEST_EGRESS_MAX_HEADER (64u << 10)
#define GUEST_EGRESS_MAX_HEADERS 100u        /* header lines in one request head */
#define GUEST_EGRESS_HEAD_TIMEOUT_MS 5000u   /* a head not complete by then: 408 */
#define GUEST_EGRESS_OPEN_TIMEOUT_MS 60000u  /* no EgressOpenResult by then: 504 */
#define GUEST_EGRESS_DRAIN_TIMEOUT_MS 30000u /* after the host's full close, for the workload to read */
#define GUEST_EGRESS_LINGER_MS 2000u         /* after a refusal, input is read and dropped this long */
#define GUEST_EGRESS_MAX_REASON 512u         /* bytes of a refusal's reason sent to the workload */

struct guest_http_span {
    uint32_t off, len;
};

/* One request head being read, fed incrementally (guest_proxy_head_feed). */
struct guest_proxy_head {
    http_parser parser;
    size_t max_bytes;      /* a head longer than this: 431 */
    size_t parsed;         /* bytes of the buffer the parser has taken */
    const uint8_t *base;   /* the buffer of the call in progress */
    struct guest_http_span url;
    struct guest_http_span names[GUEST_EGRESS_MAX_HEADERS], values[GUEST_EGRESS_MAX_HEADERS];
    size_t n_headers;
    int last;              /* 0: none, 1: a header name, 2: a value was the last callback */
    bool too_many;
    bool headers_done;
    bool message_done;     /* plain HTTP: the whole request (head and body) was seen */
    size_t head_end;       /* offset just past the head */
    size_t body_end;       /* offset just past the request's bytes in the buffer */
};

/* max_bytes: 0 means GUEST_EGRESS_DEFAULT_HEADER. */
void guest_proxy_head_init(struct guest_proxy_head *h, size_t max_bytes);
/* buf[0, len) is everything the workload sent so far (each call's buf holds
 * the last one's bytes and maybe more; it may have moved). Returns 0 when
 * more is needed, 1 when the head is complete (head_end; for plain HTTP,
 * body_end and message_done say how much of the rest belongs to the
 * request), or the HTTP status to refuse with: 400 (malformed), 431 (over
 * max_bytes or too many header lines). */
int guest_proxy_head_feed(struct guest_proxy_head *h, const uint8_t *buf, size_t len);
/* Plain HTTP after the head: how many of data[0, len) belong to the request
 * (forward those; once message_done the rest is not part of it), or -1
 * for a malformed body. */
long guest_proxy_body_feed(struct guest_proxy_head *h, const uint8_t *data, size_t len);

/* What a complete head asks for. */
struct guest_proxy_request {
    bool connect;          /* CONNECT (scheme "https"), else absolute-form "http" */
    char host[256];        /* as written (an IPv6 literal without brackets) */
    uint32_t port;
    char method[16];       /* plain HTTP only */
    char *path;            /* plain HTTP only: the origin-form target; malloc'd */
    uint8_t *head;         /* plain HTTP only: the head rewritten to origin form; malloc'd */
    size_t head_len;
};
/* Returns 0 and fills *r, or the HTTP status to refuse with (400, 501 for a
 * method the proxy does not carry, 505 for an HTTP version other than 1.0
 * and 1.1; 503 when out of memory) with *why a static explanation. The
 * rewritten head has the origin-form target, Host from the URL (a Host
 * header is replaced), no hop-by-hop headers (Connection, Proxy-*,
 * Keep-Alive, TE, Upgrade and what Connection names) and "Connection:
 * close". Release with guest_proxy_request_release (also after a failure). */
int guest_proxy_request_build(const struct guest_proxy_head *h, const uint8_t *buf, struct guest_proxy_request *r,
                              const char **why);
void guest_proxy_request_release(struct guest_proxy_request *r);
/* The reason phrase of an HTTP status ("Forbidden"), "Error" when unknown. */
const char *guest_proxy_status_text(unsigned status);

/* While the proxy listens, workloads get HTTP_PROXY, HTTPS_PROXY,
 * http_proxy, https_proxy and PIP_PROXY set to this URL (unless a request
 * sets them); NULL: none. Copied. */
void guest_exec_set_proxy(const char *url);
/* The URL set now, "" when none. */
const char *guest_exec_proxy(void);
/* While the proxy listens with a session CA: workloads get SSL_CERT_FILE,
 * REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and PIP_CERT set to bundle (the
 * system's CAs and the session's) and NODE_EXTRA_CA_CERTS to single (the
 * session's alone); NULL: none. Copied. */
void guest_exec_set_ca_files(const char *bundle, const char *single);
/* Where the guest writes them: a folder of root's on the /dev tmpfs (the
 * root file system is read-only; /tmp is the workload's). */
#define GUEST_EGRESS_CA_DIR "/dev/enclave-egress"
#define GUEST_EGRESS_CA_BUNDLE GUEST_EGRESS_CA_DIR "/ca-bundle.pem"
#define GUEST_EGRESS_CA_SINGLE GUEST_EGRESS_CA_DIR "/session-ca.pem"
#define GUEST_SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define GUEST_EGRESS_MAX_CA 16384u

/* ---------------------------------------------------------------- server */

struct guest_server;

struct guest_server_options {
    bool pid1;          /* real PID 1: Shutdown powers off, orphans are ours */
    bool exit_when_idle; /* return from run() once no connection is left (stdio mode) */
    /* Where /workspace and /tmp of file operations really are (tests point
     * them at scratch folders); NULL: GUEST_WORKSPACE and GUEST_TMP. */
    const char *workspace_dir;
    const char *tmp_dir;
    /* The interpreter driver and the python3 that runs it (tests); NULL:
     * GUEST_INTERP_DRIVER and GUEST_INTERP_PYTHON. */
    const char *interp_driver;
    const char *interp_python;
    /* Keep a pre-started Python for `python3 -c` execs (guest_forkserver_*;
     * interp_python is its python3). Needs root, as PID 1 is. */
    bool python_forkserver;
    const uint8_t *key; /* GUEST_KEY_LEN bytes, required (copied): every connection
                           must start with a HelloRequest carrying it */
    unsigned hello_timeout_ms; /* 0: GUEST_HELLO_TIMEOUT_MS */
};

struct guest_server *guest_server_new(const struct guest_server_options *opts);
void guest_server_free(struct guest_server *s);

/* Transports. Each returns 0 or -errno. */
/* One bidirectional connection on in_fd/out_fd (which may be equal). */
int guest_server_add_stdio(struct guest_server *s, int in_fd, int out_fd);
/* A listening stream socket (AF_VSOCK or AF_UNIX); name goes into Health. */
int guest_server_add_listener(struct guest_server *s, int fd, const char *name);
/* Starts looking for the vsock and virtio-serial transports, now and again
 * later while one is missing (the devices may appear after the modules load). */
void guest_server_watch_vm_transports(struct guest_server *s);

/* Runs the event loop. Returns 0 when asked to stop (Shutdown with poweroff
 * outside PID 1, or idle in exit_when_idle mode), -errno on a fatal error. */
int guest_server_run(struct guest_server *s);
/* One turn of that loop, waiting at most max_wait_ms (fuzz harnesses). */
int guest_server_run_once(struct guest_server *s, int max_wait_ms);

/* ---------------------------------------------------------------- system (PID 1) */

/* The first mounts: /dev (devtmpfs, then the console), /proc, /sys. */
void guest_system_early(void);
/* The rest: /tmp and /dev/shm, hostname, loopback, /workspace (a tmpfs
 * of guest_workspace_size). Logs what fails. */
void guest_system_setup(void);
/* Free page reporting (the virtio_balloon module, when the VMM offers the
 * device) hands free blocks of at least 2^GUEST_PAGE_REPORTING_ORDER pages
 * back to the host (the driver's default is 2 MiB blocks). */
#define GUEST_PAGE_REPORTING_ORDER 3
#define GUEST_PAGE_REPORTING_PARAM "/sys/module/page_reporting/parameters/page_reporting_order"
/* Sets the order in param (GUEST_PAGE_REPORTING_PARAM); 0 or -errno. */
int guest_page_reporting_setup(const char *param);
/* Idle trim: once the guest has been idle GUEST_TRIM_IDLE_MS (after boot,
 * and after the workload's last exec ended), PID 1 drops the clean page
 * cache, dentries and inodes (level GUEST_TRIM_DROP: all of it comes back
 * from the read-only root or is rebuilt on the next lookup) and compacts
 * memory, so that free page reporting hands the freed blocks back to the
 * host. Nothing dirty or in use is dropped. The compaction costs about
 * 0.5 s of the guest's vCPU under TCG (the drop 30 ms) and gives about
 * 5 MiB more back: 5 s of idleness keeps it off an agent's busy turns and
 * after the fork server's start. */
#define GUEST_TRIM_IDLE_MS 5000u
#define GUEST_TRIM_DROP "3"
#define GUEST_TRIM_DIR "/proc/sys/vm"
/* Writes GUEST_TRIM_DROP to DIR/drop_caches and 1 to DIR/compact_memory
 * (GUEST_TRIM_DIR in a VM); 0, or the first -errno (the other is still
 * tried). */
int guest_memory_trim(const char *dir);

/* The shared read-only root filesystem. An image with a rootfs.erofs disk
 * has an initramfs with only enclave-init and its modules, and the file
 * GUEST_ROOTFS_MARKER naming the type ("erofs"). The VMM attaches the disk
 * read-only as the first virtio block device (/dev/vda). */
#define GUEST_ROOTFS_MARKER "/.enclave-rootfs"
#define GUEST_ROOTFS_DEVICE "/dev/vda"
#define GUEST_ROOTFS_MOUNT "/sysroot"
#define GUEST_ROOTFS_WAIT_MS 5000
#define GUEST_WORKSPACE_SHARE 4u /* /workspace without enclave.workspace_mb: a quarter */
#define GUEST_EROFS_SB_OFFSET 1024
#define GUEST_EROFS_MAGIC 0xE0F5E1E2u
/* Checks an erofs superblock (the first GUEST_EROFS_SB_OFFSET + 128 bytes
 * of the device, len of them read) against the device's size in bytes:
 * the magic, a block size of 512 bytes to 64 KiB, and a device that holds
 * every block the superblock counts (a truncated image fails here rather
 * than with I/O errors later). 0, or -EINVAL with why set. */
int guest_rootfs_check(const uint8_t *head, size_t len, uint64_t device_bytes, char *why, size_t why_len);
/* PID 1: when the initramfs has GUEST_ROOTFS_MARKER, waits (at most
 * GUEST_ROOTFS_WAIT_MS) for the disk, checks it, mounts it read-only at
 * GUEST_ROOTFS_MOUNT, moves /dev, /proc and /sys onto it and makes it the
 * root (the initramfs stays below, out of reach). Returns 1 when it did,
 * 0 when the image has no marker (the initramfs is the system), -errno
 * with why set when it failed. */
int guest_mount_rootfs(char *why, size_t why_len);
/* Loads the modules named in dir/load-order (one per line, dependencies
 * first) from dir/<name>.ko. Returns how many failed; logs each. */
int guest_load_modules(const char *dir);
/* Finds the /dev node of the virtio-serial port with the given name under
 * sysfs_dir (/sys/class/virtio-ports). Returns 0 and writes the path, or -ENOENT. */
int guest_find_serial_port(const char *sysfs_dir, const char *name, char *path, size_t path_len);
/* tmpfs sizes: a share of the VM's memory (MemTotal / divisor), at least
 * GUEST_TMPFS_MIN bytes. Returns bytes. */
#define GUEST_TMP_SHARE 4u   /* /tmp: a quarter */
#define GUEST_SHM_SHARE 8u   /* /dev/shm: an eighth */
#define GUEST_TMPFS_MIN (8ull << 20)
uint64_t guest_tmpfs_size(uint64_t mem_total_kb, unsigned divisor);
/* /workspace's size in bytes: the kernel argument enclave.workspace_mb=N
 * (the host sets it from the session's workspace_mb) when cmdline has a
 * well-formed one, else a quarter of the memory; never under
 * GUEST_TMPFS_MIN nor over half the memory. */
#define GUEST_WORKSPACE_ARG "enclave.workspace_mb="
uint64_t guest_workspace_size(const char *cmdline, uint64_t mem_total_kb);
/* Walks the file system at root (not crossing mounts, not into
 * root/workspace) and counts what uid 1000 could change: anything not owned
 * by root, writable by others, or group-writable with gid 1000. Returns the
 * count (0: read-only for the workload) with the first one in why, or
 * -errno when the walk failed. */
int guest_check_readonly(const char *root, char *why, size_t why_len);
/* Reads exactly GUEST_KEY_LEN bytes from path: 0, -errno, -EINVAL for a
 * file of another size. */
int guest_key_read(const char *path, uint8_t key[GUEST_KEY_LEN]);
/* PID 1: the channel key from fw_cfg or, failing that, the initramfs file;
 * then removes the file and unloads the fw_cfg module. 0, or -errno with
 * why set. */
int guest_key_load(uint8_t key[GUEST_KEY_LEN], char *why, size_t why_len);
/* Powers the VM off (PID 1 only); returns only if that failed. */
void guest_poweroff(void);
/* After a snapshot restore: credits entropy to the kernel's RNG
 * (RNDADDENTROPY on /dev/urandom) and reseeds it (RNDRESEEDCRNG), then sets
 * CLOCK_REALTIME to unix_time_ns. Returns 0 or -errno of the first step
 * that failed, with what in *step. */
int guest_resume_system(const uint8_t *entropy, size_t len, int64_t unix_time_ns, const char **step);

#endif
