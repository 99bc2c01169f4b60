/* The init's event loop: one poll() over the transports, the workloads'
 * pipes and a signalfd for SIGCHLD/SIGIO. No threads.
 *
 * Connections come in three kinds. A stream socket (vsock, or a Unix socket
 * in tests) closes on a framing error it cannot recover from, and on hang-up.
 * The virtio-serial port never closes: when the host side hangs up (POLLHUP)
 * its state is reset and the init waits, without polling the port, for the
 * kernel's SIGIO that says the host is back (and re-checks every second in
 * case that signal is missed). stdio serves one connection in tests.
 *
 * A workload's result goes to the connection that asked for it. When that
 * connection goes away, its workloads are killed; they stay in the table until
 * reaped so the in-flight limit also bounds what a reconnecting host can start. */
#include "guest/guest.h"
#include "guest/server_internal.h"
#include "wire/frame.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name

#define READ_CHUNK (64u << 10)
/* Output waiting for a slow host, per connection. Past the high mark the
 * streaming workloads of that connection are not read (their pipes fill and
 * they block); past the hard limit the connection is dropped. */
#define OUT_HIGH_MARK GUEST_OUT_HIGH_MARK
#define OUT_HARD_LIMIT (32u << 20)
/* After a workload's main process exits the rest of its group is killed;
 * processes that left the group may still hold the pipes: wait this long. */
#define DRAIN_GRACE_NS (250ull * 1000000ull)
#define SERIAL_RECHECK_NS (1000ull * 1000000ull)
#define SCAN_FAST_NS (100ull * 1000000ull)
#define SCAN_FAST_FOR_NS (5000ull * 1000000ull)
#define SCAN_SLOW_NS (5000ull * 1000000ull)
#define SCAN_GIVE_UP_NS (30000ull * 1000000ull)
#define MAX_LISTENERS 4u
#define SWEEP_TIMEOUT_MS 2000u
#define MAX_CONNS_TOTAL (GUEST_MAX_CONNS + 2u) /* + serial + stdio */

enum conn_kind { CONN_SOCKET, CONN_SERIAL, CONN_STDIO };

struct conn {
    enum conn_kind kind;
    int in_fd;
    int out_fd;
    const char *transport;
    bool up;         /* serial: the host is connected */
    bool discarding; /* out of step: the decoder drops input until a sync marker */
    bool closing;    /* close once the output is written */
    bool in_eof;     /* the peer will send nothing more */
    bool authed;     /* the peer proved the key with a HelloRequest */
    unsigned syncs;  /* sync markers the decoder had seen at the last frame */
    uint64_t hello_deadline_ns; /* unauthenticated sockets are closed then */
    struct wire_decoder dec;
    uint8_t *out;
    size_t out_start, out_len, out_cap;
};

struct capture {
    int fd;
    uint8_t *data;
    size_t len;
    size_t size; /* allocated, at most the exec's max_output */
    uint64_t seen;
    bool truncated;
};

struct exec {
    uint64_t id;
    struct conn *conn; /* NULL once the connection is gone */
    pid_t pid;
    int stdin_fd;
    uint8_t *stdin_data;
    size_t stdin_len, stdin_off;
    struct capture out[2]; /* stdout, stderr */
    uint64_t max_output;
    bool stream;
    uint64_t window;  /* flow control: streamed bytes allowed ahead of credit (0: none) */
    uint64_t unacked; /* streamed bytes not yet credited */
    bool stdin_open;  /* more stdin may come in ExecStdin frames */
    bool stdin_interactive; /* started with stdin_open: report what is written */
    uint64_t stdin_written; /* ExecStdin bytes written, not yet reported */
    uint64_t start_ns, deadline_ns, drain_ns;
    bool exited, timed_out, cancelled;
    int status;
    uint64_t end_ns;
};

struct listener {
    int fd;
    const char *name;
};

struct guest_server {
    struct guest_server_options opts;
    uint8_t key[GUEST_KEY_LEN];
    bool resumed; /* a HelloRequest replaced the key (snapshot restore): never again */
    int sigfd;
    struct listener listeners[MAX_LISTENERS];
    size_t nlisteners;
    struct conn *conns[MAX_CONNS_TOTAL];
    size_t nconns;
    struct exec *execs[GUEST_MAX_EXECS];
    size_t nexecs;
    bool stop;
    /* VM transports */
    bool watch_vm;
    bool have_vsock;
    struct conn *serial;
    uint64_t watch_start_ns, next_scan_ns, serial_check_ns;
    bool logged_missing;
    struct guest_files *files;
    struct guest_code *code;
    struct guest_egress *egress;
    struct guest_forkserver *forkserver; /* NULL: every python3 starts fresh */
    uint64_t trim_at_ns;                 /* PID 1: the next idle trim; 0: none due */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* ---------------------------------------------------------------- output */

static void conn_drop_output(struct conn *c)
{
    free(c->out);
    c->out = NULL;
    c->out_start = c->out_len = c->out_cap = 0;
}

/* Writes what it can without blocking. Returns 0, or -1 when the peer is gone. */
static int conn_flush(struct conn *c)
{
    while (c->out_len > 0) {
        ssize_t n = write(c->out_fd, c->out + c->out_start, c->out_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        c->out_start += (size_t)n;
        c->out_len -= (size_t)n;
    }
    c->out_start = 0;
    if (c->out_cap > OUT_HIGH_MARK)
        conn_drop_output(c);
    return 0;
}

static void conn_lost(struct guest_server *s, struct conn *c);

/* Queues one frame. On failure the connection is marked lost. */
static void conn_send(struct guest_server *s, struct conn *c, const Guest__V1__Frame *f)
{
    if (!c || !c->up || c->closing)
        return;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = wire_encode(f, &buf, &len);
    if (r < 0) {
        guest_log("cannot encode a reply: %s", wire_strerror(r));
        return;
    }
    if (c->out_len + len > OUT_HARD_LIMIT) {
        free(buf);
        guest_log("%s: the host is not reading; dropping the connection", c->transport);
        conn_lost(s, c);
        return;
    }
    if (c->out_start + c->out_len + len > c->out_cap) {
        if (c->out_start > 0) {
            memmove(c->out, c->out + c->out_start, c->out_len);
            c->out_start = 0;
        }
        if (c->out_len + len > c->out_cap) {
            size_t cap = c->out_cap ? c->out_cap : 4096;
            while (cap < c->out_len + len)
                cap *= 2;
            uint8_t *grown = realloc(c->out, cap);
            if (!grown) {
                free(buf);
                guest_log("%s: out of memory for output; dropping the connection", c->transport);
                conn_lost(s, c);
                return;
            }
            c->out = grown;
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_start + c->out_len, buf, len);
    c->out_len += len;
    free(buf);
    if (conn_flush(c) < 0)
        conn_lost(s, c);
}

static void send_error(struct guest_server *s, struct conn *c, uint64_t id, int code, const char *message)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ErrorResponse e = GUEST__V1__ERROR_RESPONSE__INIT;
    e.code = (Guest__V1__ErrorResponse__Code)code;
    e.message = (char *)message;
    f.id = id;
    f.body_case = GUEST__V1__FRAME__BODY_ERROR;
    f.error = &e;
    conn_send(s, c, &f);
}

void guest_server_send(struct guest_server *s, struct conn *c, const Guest__V1__Frame *f)
{
    conn_send(s, c, f);
}

struct guest_forkserver *guest_server_forkserver(struct guest_server *s)
{
    return s->forkserver;
}

void guest_server_send_error(struct guest_server *s, struct conn *c, uint64_t id, int code, const char *message)
{
    send_error(s, c, id, code, message);
}

size_t guest_conn_backlog(const struct conn *c)
{
    return c ? c->out_len : 0;
}

bool guest_conn_input_ended(const struct conn *c)
{
    return c && c->in_eof;
}

uint64_t guest_now_ns(void)
{
    return now_ns();
}

/* ---------------------------------------------------------------- execs */

/* Once the main process is reaped its group was killed then (reap()); its
 * pid may be reused as a new process group, so it is never signalled again. */
static void exec_kill(struct exec *e)
{
    if (e->pid > 0 && !e->exited)
        kill(-e->pid, SIGKILL);
}

static void exec_free(struct exec *e)
{
    close_fd(&e->stdin_fd);
    for (int i = 0; i < 2; i++) {
        close_fd(&e->out[i].fd);
        free(e->out[i].data);
    }
    free(e->stdin_data);
    free(e);
}

static struct exec *exec_find(struct guest_server *s, const struct conn *c, uint64_t id)
{
    for (size_t i = 0; i < s->nexecs; i++)
        if (s->execs[i]->conn == c && s->execs[i]->id == id && c)
            return s->execs[i];
    return NULL;
}

static void exec_send_response(struct guest_server *s, struct exec *e)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecResponse r = GUEST__V1__EXEC_RESPONSE__INIT;
    if (WIFSIGNALED(e->status)) {
        r.signal = WTERMSIG(e->status);
        r.exit_code = 128 + r.signal;
    } else {
        r.exit_code = WEXITSTATUS(e->status);
    }
    if (!e->stream) {
        r.stdout.data = e->out[0].data;
        r.stdout.len = e->out[0].len;
        r.stderr.data = e->out[1].data;
        r.stderr.len = e->out[1].len;
    }
    r.stdout_truncated = e->out[0].truncated;
    r.stderr_truncated = e->out[1].truncated;
    r.duration_us = (e->end_ns - e->start_ns) / 1000u;
    r.timed_out = e->timed_out;
    r.cancelled = e->cancelled;
    r.pid = (uint32_t)e->pid;
    f.id = e->id;
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_RESPONSE;
    f.exec_response = &r;
    conn_send(s, e->conn, &f);
}

/* Sends the result (when someone still wants it) and frees a finished exec. */
static void exec_remove(struct guest_server *s, size_t index)
{
    struct exec *e = s->execs[index];
    if (e->conn)
        exec_send_response(s, e);
    s->execs[index] = s->execs[--s->nexecs];
    exec_free(e);
}

static void exec_stream_chunk(struct guest_server *s, struct exec *e, int which, const uint8_t *data, size_t len)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecOutput o = GUEST__V1__EXEC_OUTPUT__INIT;
    o.stream = which == 0 ? GUEST__V1__EXEC_OUTPUT__STREAM__STREAM_STDOUT : GUEST__V1__EXEC_OUTPUT__STREAM__STREAM_STDERR;
    o.data.data = (uint8_t *)data;
    o.data.len = len;
    f.id = e->id;
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_OUTPUT;
    f.exec_output = &o;
    conn_send(s, e->conn, &f);
}

/* Reads what one output pipe has. Past the cap, bytes are read and dropped
 * so the workload never blocks on a full pipe. */
static void exec_read_output(struct guest_server *s, struct exec *e, int which)
{
    struct capture *cap = &e->out[which];
    uint8_t chunk[READ_CHUNK];
    for (int rounds = 0; rounds < 4 && cap->fd >= 0; rounds++) {
        ssize_t n = read(cap->fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                close_fd(&cap->fd);
            return;
        }
        if (n == 0) {
            close_fd(&cap->fd);
            return;
        }
        size_t room = cap->seen < e->max_output ? (size_t)(e->max_output - cap->seen) : 0;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        if (keep < (size_t)n)
            cap->truncated = true;
        cap->seen += (uint64_t)n;
        if (keep == 0)
            continue;
        if (e->stream) {
            if (e->conn) {
                exec_stream_chunk(s, e, which, chunk, keep);
                e->unacked += keep;
                /* Out of credit: stop here; poll() leaves the pipes alone. */
                if (e->window && e->unacked >= e->window && !e->exited)
                    return;
            }
            continue;
        }
        if (cap->len + keep > cap->size) {
            /* Grow by doubling, never past the cap (keep is within it). */
            size_t size = cap->size ? cap->size * 2 : 16384;
            if (size < cap->len + keep)
                size = cap->len + keep;
            if (size > e->max_output)
                size = (size_t)e->max_output;
            uint8_t *grown = realloc(cap->data, size);
            if (!grown) {
                cap->truncated = true;
                continue;
            }
            cap->data = grown;
            cap->size = size;
        }
        memcpy(cap->data + cap->len, chunk, keep);
        cap->len += keep;
    }
}

/* Tells the host how much interactive stdin went to the workload. */
static void exec_report_stdin(struct guest_server *s, struct exec *e)
{
    if (!e->stdin_written || !e->conn)
        return;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecOutput o = GUEST__V1__EXEC_OUTPUT__INIT;
    o.stdin_written = e->stdin_written;
    f.id = e->id;
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_OUTPUT;
    f.exec_output = &o;
    e->stdin_written = 0;
    conn_send(s, e->conn, &f);
}

static void exec_write_stdin(struct guest_server *s, struct exec *e)
{
    while (e->stdin_fd >= 0 && e->stdin_off < e->stdin_len) {
        ssize_t n = write(e->stdin_fd, e->stdin_data + e->stdin_off, e->stdin_len - e->stdin_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            /* EPIPE: the workload closed its stdin; what waits is dropped. */
            e->stdin_written += e->stdin_len - e->stdin_off;
            e->stdin_off = e->stdin_len;
            e->stdin_open = false;
            break;
        }
        e->stdin_off += (size_t)n;
        e->stdin_written += (uint64_t)n;
    }
    if (e->stdin_interactive)
        exec_report_stdin(s, e);
    if (e->stdin_off < e->stdin_len)
        return; /* POLLOUT brings us back */
    free(e->stdin_data);
    e->stdin_data = NULL;
    e->stdin_len = e->stdin_off = 0;
    if (!e->stdin_open)
        close_fd(&e->stdin_fd);
}

/* Interactive stdin: appended to what waits, written as the workload reads. */
static void handle_stdin(struct guest_server *s, struct conn *c, uint64_t id, const Guest__V1__ExecStdin *req)
{
    struct exec *e = exec_find(s, c, id);
    if (!e || !e->stdin_open || e->stdin_fd < 0)
        return; /* gone, or its stdin closed: the host learns from the exit */
    size_t pending = e->stdin_len - e->stdin_off;
    if (req->data.len > GUEST_MAX_STDIN_PENDING - pending) {
        guest_log("exec %llu: the host sent more stdin than may wait; closing it",
                  (unsigned long long)id);
        e->stdin_open = false;
    } else if (req->data.len > 0) {
        uint8_t *grown = malloc(pending + req->data.len);
        if (!grown) {
            e->stdin_open = false;
        } else {
            if (pending)
                memcpy(grown, e->stdin_data + e->stdin_off, pending);
            memcpy(grown + pending, req->data.data, req->data.len);
            free(e->stdin_data);
            e->stdin_data = grown;
            e->stdin_off = 0;
            e->stdin_len = pending + req->data.len;
        }
    }
    if (req->close)
        e->stdin_open = false;
    exec_write_stdin(s, e);
}

static void handle_exec(struct guest_server *s, struct conn *c, uint64_t id, const Guest__V1__ExecRequest *req)
{
    if (s->nexecs >= GUEST_MAX_EXECS) {
        send_error(s, c, id, CODE(BUSY), "too many execs in flight");
        return;
    }
    if (exec_find(s, c, id)) {
        send_error(s, c, id, CODE(INVALID), "an exec with this id is already running");
        return;
    }
    struct guest_exec_params params;
    const char *why = NULL;
    int code = guest_exec_validate(req, &params, &why);
    if (code) {
        send_error(s, c, id, code, why);
        return;
    }
    struct exec *e = calloc(1, sizeof(*e));
    if (!e) {
        send_error(s, c, id, CODE(BUSY), "out of memory");
        return;
    }
    e->stdin_fd = e->out[0].fd = e->out[1].fd = -1;
    if (req->stdin.len > 0) {
        e->stdin_data = malloc(req->stdin.len);
        if (!e->stdin_data) {
            free(e);
            send_error(s, c, id, CODE(BUSY), "out of memory");
            return;
        }
        memcpy(e->stdin_data, req->stdin.data, req->stdin.len);
        e->stdin_len = req->stdin.len;
    }
    struct guest_spawned sp;
    char message[256];
    e->start_ns = now_ns();
    code = s->forkserver ? guest_forkserver_spawn(s->forkserver, req, &params, &sp, message, sizeof(message)) : 1;
    if (code == 1)
        code = guest_spawn(req, &params, &sp, message, sizeof(message));
    if (code) {
        free(e->stdin_data);
        free(e);
        send_error(s, c, id, code, message);
        return;
    }
    e->id = id;
    e->conn = c;
    e->pid = sp.pid;
    e->stdin_fd = sp.stdin_fd;
    e->out[0].fd = sp.stdout_fd;
    e->out[1].fd = sp.stderr_fd;
    e->max_output = params.max_output;
    e->stream = req->stream_output;
    e->window = params.stream_window;
    e->stdin_open = e->stdin_interactive = req->stdin_open;
    e->deadline_ns = e->start_ns + (uint64_t)params.timeout_ms * 1000000ull;
    s->execs[s->nexecs++] = e;
    exec_write_stdin(s, e);
}

static void handle_cancel(struct guest_server *s, struct conn *c, uint64_t id, const Guest__V1__CancelRequest *req)
{
    struct exec *e = exec_find(s, c, req->target_id);
    if (e && !e->exited) {
        e->cancelled = true;
        exec_kill(e);
    }
    bool found = e != NULL;
    /* A transfer ends with its error reply, a cell is interrupted. */
    if (!found)
        found = guest_files_cancel(s, s->files, c, req->target_id);
    if (!found)
        found = guest_code_cancel(s->code, c, req->target_id);
    if (!found)
        found = guest_egress_cancel(s, s->egress, c, req->target_id);
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__CancelResponse r = GUEST__V1__CANCEL_RESPONSE__INIT;
    r.found = found;
    f.id = id;
    f.body_case = GUEST__V1__FRAME__BODY_CANCEL_RESPONSE;
    f.cancel_response = &r;
    conn_send(s, c, &f);
}

/* Credit for a streaming exec: the host passed that much on. No reply. */
static void handle_credit(struct guest_server *s, struct conn *c, uint64_t id, const Guest__V1__ExecCredit *req)
{
    struct exec *e = exec_find(s, c, id);
    if (!e)
        return; /* finished meanwhile: credit for it is moot */
    e->unacked = req->bytes < e->unacked ? e->unacked - req->bytes : 0;
}

static void handle_health(struct guest_server *s, struct conn *c, uint64_t id)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__HealthResponse h = GUEST__V1__HEALTH_RESPONSE__INIT;
    struct utsname u;
    struct timespec up;
    char *transports[MAX_LISTENERS + MAX_CONNS_TOTAL];
    size_t n = 0;
    if (uname(&u) == 0)
        h.kernel_release = u.release;
    if (clock_gettime(CLOCK_BOOTTIME, &up) == 0)
        h.uptime_ms = (uint64_t)up.tv_sec * 1000u + (uint64_t)up.tv_nsec / 1000000u;
    h.protocol_version = GUEST_PROTOCOL_VERSION;
    h.init_version = (char *)GUEST_INIT_VERSION;
    h.running_execs = (uint32_t)s->nexecs;
    for (size_t i = 0; i < s->nlisteners; i++)
        transports[n++] = (char *)s->listeners[i].name;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->kind != CONN_SOCKET)
            transports[n++] = (char *)s->conns[i]->transport;
    h.n_transports = n;
    h.transports = transports;
    f.id = id;
    f.body_case = GUEST__V1__FRAME__BODY_HEALTH_RESPONSE;
    f.health_response = &h;
    conn_send(s, c, &f);
    /* After a resume the host asks Health before the session is READY:
     * the fresh fork server starts once that is answered. */
    guest_forkserver_release(s->forkserver);
}

static void kill_all_execs(struct guest_server *s)
{
    for (size_t i = 0; i < s->nexecs; i++)
        exec_kill(s->execs[i]);
}

static void handle_shutdown(struct guest_server *s, struct conn *c, uint64_t id, const Guest__V1__ShutdownRequest *req)
{
    kill_all_execs(s);
    sync();
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ShutdownResponse r = GUEST__V1__SHUTDOWN_RESPONSE__INIT;
    f.id = id;
    f.body_case = GUEST__V1__FRAME__BODY_SHUTDOWN_RESPONSE;
    f.shutdown_response = &r;
    conn_send(s, c, &f);
    if (!req->poweroff)
        return;
    /* Give the reply a moment to leave before the VM goes away. */
    for (int tries = 0; tries < 20 && c->up && c->out_len > 0; tries++) {
        struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};
        if (poll(&p, 1, 50) > 0 && conn_flush(c) < 0)
            break;
    }
    if (s->opts.pid1) {
        guest_log("shutdown requested: powering off");
        guest_poweroff();
        guest_log("power off failed; carrying on");
        return;
    }
    s->stop = true;
}

static void conn_refuse(struct guest_server *s, struct conn *c, const char *why);

/* A HelloRequest with the right key: the connection is served from now on. */
static void handle_hello(struct guest_server *s, struct conn *c, const Guest__V1__Frame *f)
{
    if (guest_hello_check(f, s->key) != 0) {
        conn_refuse(s, c, "wrong key");
        return;
    }
    const char *why = NULL;
    int resume = guest_hello_resume_check(f->hello_request, &why);
    if (resume < 0) {
        conn_refuse(s, c, why);
        return;
    }
    if (resume && s->resumed) {
        /* Once only: whoever holds the snapshot's key must not rekey a VM
         * the host has rekeyed already (nor the host twice). */
        conn_refuse(s, c, "a second resume");
        return;
    }
    if (resume) {
        const Guest__V1__HelloRequest *h = f->hello_request;
        if (s->opts.pid1) {
            const char *step = "";
            int r = guest_resume_system(h->entropy.data, h->entropy.len, h->unix_time_ns, &step);
            if (r < 0) {
                /* Serving with the snapshot's RNG state would share it
                 * with every other VM restored from it: refuse. */
                guest_log("resume: %s: %s", step, strerror(-r));
                conn_refuse(s, c, "the RNG could not be reseeded");
                return;
            }
        }
        memcpy(s->key, h->new_key.data, GUEST_KEY_LEN);
        s->resumed = true;
        /* Its hash seed, memory layout and random state came from the
         * snapshot, shared with every VM restored from it. */
        if (s->forkserver)
            guest_forkserver_restart(s->forkserver);
        if (s->opts.pid1)
            s->trim_at_ns = now_ns() + GUEST_TRIM_IDLE_MS * 1000000ull;
        guest_log("%s: resumed from a snapshot: new key%s", c->transport,
                  s->opts.pid1 ? ", RNG reseeded, clock set" : " (not PID 1: RNG and clock left alone)");
    }
    if (!c->authed)
        guest_log("%s: host authenticated", c->transport);
    c->authed = true;
    Guest__V1__Frame r = GUEST__V1__FRAME__INIT;
    Guest__V1__HelloResponse h = GUEST__V1__HELLO_RESPONSE__INIT;
    h.protocol_version = GUEST_PROTOCOL_VERSION;
    h.resumed = resume == 1;
    r.id = f->id;
    r.body_case = GUEST__V1__FRAME__BODY_HELLO_RESPONSE;
    r.hello_response = &h;
    conn_send(s, c, &r);
}

static void handle_frame(struct guest_server *s, struct conn *c, const Guest__V1__Frame *f)
{
    /* A sync marker starts a new host connection (wire/frame.h): it must
     * prove the key again. */
    if (c->dec.syncs != c->syncs) {
        c->syncs = c->dec.syncs;
        c->authed = false;
    }
    if (f->body_case == GUEST__V1__FRAME__BODY_HELLO_REQUEST) {
        handle_hello(s, c, f);
        return;
    }
    if (!c->authed) {
        conn_refuse(s, c, "the first frame is not a HelloRequest");
        return;
    }
    const char *why = NULL;
    int code = guest_request_check(f, &why);
    if (code) {
        send_error(s, c, f->id, code, why);
        return;
    }
    if (f->id == 0) {
        /* Id 0 marks errors about the connection itself (a frame that does
         * not decode); a reply to a request must not look like one. */
        send_error(s, c, 0, CODE(INVALID), "request id 0 is reserved");
        return;
    }
    switch (f->body_case) {
    case GUEST__V1__FRAME__BODY_HEALTH_REQUEST:
        handle_health(s, c, f->id);
        break;
    case GUEST__V1__FRAME__BODY_EXEC_REQUEST:
        handle_exec(s, c, f->id, f->exec_request);
        break;
    case GUEST__V1__FRAME__BODY_CANCEL_REQUEST:
        handle_cancel(s, c, f->id, f->cancel_request);
        break;
    case GUEST__V1__FRAME__BODY_SHUTDOWN_REQUEST:
        handle_shutdown(s, c, f->id, f->shutdown_request);
        break;
    case GUEST__V1__FRAME__BODY_EXEC_CREDIT:
        handle_credit(s, c, f->id, f->exec_credit);
        break;
    case GUEST__V1__FRAME__BODY_EXEC_STDIN:
        handle_stdin(s, c, f->id, f->exec_stdin);
        break;
    case GUEST__V1__FRAME__BODY_FILE_REQUEST:
        guest_files_request(s, s->files, c, f->id, f->file_request);
        break;
    case GUEST__V1__FRAME__BODY_FILE_CHUNK:
        guest_files_chunk(s, s->files, c, f->id, f->file_chunk);
        break;
    case GUEST__V1__FRAME__BODY_FILE_CREDIT:
        guest_files_credit(s->files, c, f->id, f->file_credit);
        break;
    case GUEST__V1__FRAME__BODY_CODE_REQUEST:
        guest_code_request(s, s->code, c, f->id, f->code_request);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_REQUEST:
        guest_egress_request(s, s->egress, c, f->id, f->egress_request);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT:
    case GUEST__V1__FRAME__BODY_EGRESS_DATA:
    case GUEST__V1__FRAME__BODY_EGRESS_CREDIT:
    case GUEST__V1__FRAME__BODY_EGRESS_CLOSE:
        guest_egress_frame(s, s->egress, c, f->id, f);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- connections */

static struct conn *conn_new(enum conn_kind kind, int in_fd, int out_fd, const char *transport)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->kind = kind;
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->transport = transport;
    c->up = kind != CONN_SERIAL;
    wire_decoder_init(&c->dec, 0);
    return c;
}

static void detach_execs(struct guest_server *s, struct conn *c)
{
    guest_files_detach(s->files, c);
    guest_code_detach(s->code, c);
    guest_egress_detach(s, s->egress, c);
    for (size_t i = 0; i < s->nexecs; i++)
        if (s->execs[i]->conn == c) {
            exec_kill(s->execs[i]);
            s->execs[i]->conn = NULL;
        }
}

static void conn_close(struct guest_server *s, size_t index)
{
    struct conn *c = s->conns[index];
    detach_execs(s, c);
    if (c == s->serial)
        s->serial = NULL;
    if (c->out_fd != c->in_fd)
        close_fd(&c->out_fd);
    close_fd(&c->in_fd);
    wire_decoder_release(&c->dec);
    conn_drop_output(c);
    s->conns[index] = s->conns[--s->nconns];
    free(c);
}

/* The peer is gone (or must be dropped). A socket or stdio connection is
 * closed at the end of this loop turn; the serial port is reset and waits
 * for the host to come back. */
static void conn_lost(struct guest_server *s, struct conn *c)
{
    detach_execs(s, c);
    wire_decoder_reset(&c->dec);
    conn_drop_output(c);
    c->discarding = false;
    c->authed = false;
    c->syncs = c->dec.syncs;
    if (c->kind == CONN_SERIAL) {
        if (c->up)
            guest_log("%s: host disconnected", c->transport);
        c->up = false;
        c->in_eof = false;
        c->closing = false;
        s->serial_check_ns = now_ns() + SERIAL_RECHECK_NS;
        return;
    }
    c->up = false;
    c->closing = true;
}

/* A peer that did not prove the key is served nothing: no reply, no error
 * frame. A socket or stdio is closed; the serial port, which cannot close,
 * ignores the host until it reconnects (conn_lost). */
static void conn_refuse(struct guest_server *s, struct conn *c, const char *why)
{
    guest_log("%s: %s; %s", c->transport, why,
              c->kind == CONN_SERIAL ? "ignoring the host until it reconnects" : "closing the connection");
    conn_lost(s, c);
}

/* A length over the limit: the stream is out of step. Say so (id 0). A
 * socket is then closed (the host reconnects to a clean stream); the serial
 * port and stdio cannot be closed, so their input is dropped until a sync
 * marker (wire/frame.h) or, on the serial port, until the host reconnects. */
static void conn_framing_lost(struct guest_server *s, struct conn *c)
{
    bool socket = c->kind == CONN_SOCKET;
    guest_log("%s: frame length over the limit; %s", c->transport,
              socket ? "closing the connection" : "dropping input until a sync marker or a reconnect");
    send_error(s, c, 0, CODE(TOO_LARGE),
               socket ? "frame length over the limit; closing"
                      : "frame length over the limit; input dropped until a sync marker or a reconnect");
    if (socket)
        c->closing = true;
    else
        c->discarding = true;
}

static void conn_read(struct guest_server *s, struct conn *c)
{
    uint8_t chunk[READ_CHUNK];
    ssize_t n;
    do
        n = read(c->in_fd, chunk, sizeof(chunk));
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN)
            conn_lost(s, c);
        return;
    }
    if (n == 0) {
        if (c->kind == CONN_SERIAL)
            conn_lost(s, c);
        else
            c->in_eof = true; /* answer what is in flight, then close */
        return;
    }
    size_t off = 0;
    while (off < (size_t)n && c->up && !c->closing) {
        long took = wire_decoder_feed(&c->dec, chunk + off, (size_t)n - off);
        if (took < 0) {
            conn_lost(s, c);
            return;
        }
        off += (size_t)took;
        for (;;) {
            if (c->discarding && !c->dec.broken) {
                c->discarding = false;
                guest_log("%s: back in step after a sync marker", c->transport);
            }
            Guest__V1__Frame *f = NULL;
            int r = wire_decoder_next(&c->dec, &f);
            if (r == 0)
                break;
            if (r == 1) {
                handle_frame(s, c, f);
                guest__v1__frame__free_unpacked(f, NULL);
                if (!c->up || c->closing || s->stop)
                    return;
                continue;
            }
            if (!c->authed && r != WIRE_ERR_NOMEM) {
                /* Not even an error frame for a peer that has not proved the key. */
                conn_refuse(s, c, "a frame that does not decode before the HelloRequest");
                return;
            }
            if (r == WIRE_ERR_BAD_FRAME) {
                send_error(s, c, 0, CODE(BAD_FRAME), "frame does not decode; skipped");
                continue;
            }
            /* WIRE_ERR_TOO_LARGE (reported once), or out of memory. */
            if (r != WIRE_ERR_TOO_LARGE) {
                conn_lost(s, c);
                return;
            }
            if (!c->discarding)
                conn_framing_lost(s, c);
            if (c->closing)
                return;
            if (c->dec.broken)
                break; /* feed the rest: it is scanned for a marker */
        }
    }
}

static void accept_conn(struct guest_server *s, struct listener *l)
{
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    size_t sockets = 0;
    for (size_t i = 0; i < s->nconns; i++)
        sockets += s->conns[i]->kind == CONN_SOCKET;
    struct conn *c = sockets < GUEST_MAX_CONNS ? conn_new(CONN_SOCKET, fd, fd, l->name) : NULL;
    if (!c) {
        /* Say why, best effort, and hang up. */
        struct conn tmp = {.kind = CONN_SOCKET, .in_fd = fd, .out_fd = fd, .up = true, .transport = l->name};
        send_error(s, &tmp, 0, CODE(BUSY), "too many connections");
        conn_drop_output(&tmp);
        close(fd);
        return;
    }
    c->hello_deadline_ns = now_ns() + (uint64_t)s->opts.hello_timeout_ms * 1000000ull;
    s->conns[s->nconns++] = c;
}

/* ---------------------------------------------------------------- VM transports */

static int open_vsock_listener(void)
{
    /* The vsock family exists as soon as vsock.ko is in; a guest CID says a
     * device is there too. */
    int dev = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
    if (dev < 0)
        return -errno;
    unsigned int cid = VMADDR_CID_ANY;
    int r = ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid);
    close(dev);
    if (r < 0 || cid == VMADDR_CID_ANY || cid <= VMADDR_CID_HOST)
        return -ENODEV;
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = GUEST_VSOCK_PORT};
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    guest_log("listening on vsock port %u (cid %u)", GUEST_VSOCK_PORT, cid);
    return fd;
}

static int open_serial(struct guest_server *s)
{
    char path[256];
    if (guest_find_serial_port("/sys/class/virtio-ports", GUEST_SERIAL_PORT_NAME, path, sizeof(path)) < 0)
        return -ENOENT;
    if (s->nconns >= MAX_CONNS_TOTAL)
        return -EBUSY;
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        guest_log("cannot open %s: %s", path, strerror(err));
        return -err;
    }
    /* The kernel raises SIGIO when the host side opens or closes the port. */
    if (fcntl(fd, F_SETOWN, getpid()) < 0 || fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC) < 0)
        guest_log("%s: no SIGIO on host connect (%s); re-checking every second", path, strerror(errno));
    struct conn *c = conn_new(CONN_SERIAL, fd, fd, "virtio-serial");
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    s->conns[s->nconns++] = c;
    s->serial = c;
    s->serial_check_ns = 0; /* look at the host side now */
    guest_log("serving on virtio-serial port %s (%s)", GUEST_SERIAL_PORT_NAME, path);
    return 0;
}

static void scan_vm_transports(struct guest_server *s, uint64_t now)
{
    if (!s->have_vsock && s->nlisteners < MAX_LISTENERS) {
        int fd = open_vsock_listener();
        if (fd >= 0) {
            s->listeners[s->nlisteners++] = (struct listener){.fd = fd, .name = "vsock"};
            s->have_vsock = true;
        }
    }
    if (!s->serial)
        open_serial(s);
    /* Both found, or one serving for a while: the VM's devices are all
     * there by now. */
    if ((s->have_vsock && s->serial) ||
        ((s->have_vsock || s->serial) && now - s->watch_start_ns > SCAN_GIVE_UP_NS)) {
        s->watch_vm = false;
        return;
    }
    bool fast = now - s->watch_start_ns < SCAN_FAST_FOR_NS;
    if (!fast && !s->have_vsock && !s->serial && !s->logged_missing) {
        guest_log("no transport yet: neither vsock nor a virtio-serial port named %s; still looking",
                  GUEST_SERIAL_PORT_NAME);
        s->logged_missing = true;
    }
    /* Once one transport serves, the other is only looked for slowly. */
    s->next_scan_ns = now + (fast && !s->have_vsock && !s->serial ? SCAN_FAST_NS : SCAN_SLOW_NS);
    if (fast && (s->have_vsock || s->serial))
        s->next_scan_ns = now + SCAN_FAST_NS * 5;
}

void guest_server_watch_vm_transports(struct guest_server *s)
{
    s->watch_vm = true;
    s->watch_start_ns = now_ns();
    s->next_scan_ns = s->watch_start_ns;
}

/* Is the host side of the serial port open? */
static void serial_check(struct guest_server *s, uint64_t now)
{
    struct conn *c = s->serial;
    struct pollfd p = {.fd = c->in_fd, .events = POLLIN};
    if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
        if (!c->up)
            guest_log("%s: host connected", c->transport);
        c->up = true;
        c->authed = false;
        c->discarding = false;
        wire_decoder_reset(&c->dec);
        return;
    }
    if (c->up)
        conn_lost(s, c);
    s->serial_check_ns = now + SERIAL_RECHECK_NS;
}

/* ---------------------------------------------------------------- signals */

static void reap(struct guest_server *s, uint64_t now)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        if (guest_code_reaped(s, s->code, pid, status))
            continue;
        if (guest_forkserver_reaped(s->forkserver, pid))
            continue;
        for (size_t i = 0; i < s->nexecs; i++) {
            struct exec *e = s->execs[i];
            if (e->pid == pid && !e->exited) {
                e->exited = true;
                e->status = status;
                e->end_ns = now;
                /* Whatever the workload left behind in its group goes too. */
                kill(-pid, SIGKILL);
                e->drain_ns = now + DRAIN_GRACE_NS;
                break;
            }
        }
    }
}

static void read_signals(struct guest_server *s, uint64_t now)
{
    struct signalfd_siginfo si[16];
    bool io = false;
    for (;;) {
        ssize_t n = read(s->sigfd, si, sizeof(si));
        if (n <= 0)
            break;
        for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++)
            if (si[i].ssi_signo == SIGIO)
                io = true;
    }
    reap(s, now);
    if (io && s->serial)
        s->serial_check_ns = now; /* the host opened or closed the port */
}

/* ---------------------------------------------------------------- loop */

enum ref_kind {
    REF_SIGNAL,
    REF_LISTENER,
    REF_CONN_IN,
    REF_CONN_OUT,
    REF_STDIN,
    REF_STDOUT,
    REF_STDERR,
    REF_CODE,
    REF_EGRESS
};

struct ref {
    enum ref_kind kind;
    void *ptr;
};

#define MAX_POLL                                                                                                       \
    (1 + MAX_LISTENERS + 2 * MAX_CONNS_TOTAL + 3 * GUEST_MAX_EXECS + 3 * GUEST_MAX_CONTEXTS + GUEST_EGRESS_MAX_POLL)

static bool exec_done(const struct exec *e, uint64_t now)
{
    if (!e->exited)
        return false;
    return (e->out[0].fd < 0 && e->out[1].fd < 0) || now >= e->drain_ns;
}

/* Kills every process of the workload user, except the live interpreter
 * contexts (keep) and what descends from them. A workload's own process
 * group is killed when it ends, but a process that called setsid() left
 * that group; once no exec is running, nothing of uid 1000 outside a
 * context has a reason to be alive. The signals come from a child that
 * became uid 1000, so that they reach only the workload user's processes
 * (kill(-1) when no context lives; by pid otherwise). In the VM only: on a
 * host, uid 1000 is somebody. */
static void sweep_workload_user(const pid_t *keep, size_t n_keep)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) == 0 && setresgid(GUEST_WORKLOAD_GID, GUEST_WORKLOAD_GID, GUEST_WORKLOAD_GID) == 0 &&
            setresuid(GUEST_WORKLOAD_UID, GUEST_WORKLOAD_UID, GUEST_WORKLOAD_UID) == 0) {
            if (n_keep == 0)
                kill(-1, SIGKILL);
            else
                guest_kill_user_except("/proc", keep, n_keep);
        }
        _exit(0);
    }
    if (pid < 0) {
        guest_log("cannot sweep leftover workload processes: %s", strerror(errno));
        return;
    }
    /* Wait for it, so that it cannot reach a workload started after this;
     * but not forever: running as uid 1000, it can be stopped (SIGSTOP) by
     * the very processes it is meant to kill. */
    if (guest_wait_child(pid, SWEEP_TIMEOUT_MS) > 0)
        guest_log("the sweep of leftover workload processes did not finish in %u ms; killed it", SWEEP_TIMEOUT_MS);
}

/* The idle trim (guest_memory_trim) runs in a child, so that a request
 * that comes in meanwhile is not held up; reap() collects it. */
static void trim_memory(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        int r = guest_memory_trim(GUEST_TRIM_DIR);
        if (r < 0)
            guest_log("idle trim: %s", strerror(-r));
        _exit(0);
    }
    if (pid < 0)
        guest_log("idle trim: fork: %s", strerror(errno));
}

/* Timeouts, finished execs and closed connections; returns the poll timeout. */
static int housekeeping(struct guest_server *s, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    size_t before = s->nexecs;
    for (size_t i = 0; i < s->nexecs;) {
        struct exec *e = s->execs[i];
        if (!e->exited && now >= e->deadline_ns && !e->timed_out) {
            e->timed_out = true;
            exec_kill(e);
        }
        if (exec_done(e, now)) {
            /* Read what is left before the result goes out. */
            for (int w = 0; w < 2; w++) {
                if (e->out[w].fd >= 0)
                    exec_read_output(s, e, w);
                close_fd(&e->out[w].fd);
            }
            exec_remove(s, i);
            continue;
        }
        if (!e->exited && !e->timed_out && e->deadline_ns < next)
            next = e->deadline_ns;
        if (e->exited && e->drain_ns < next)
            next = e->drain_ns;
        i++;
    }
    /* Interpreter contexts are workload processes that stay (with what they
     * started); everything else of the workload user goes. */
    if (s->opts.pid1 && before > 0 && s->nexecs == 0) {
        pid_t keep[GUEST_MAX_CONTEXTS];
        size_t n_keep = guest_code_pids(s->code, keep, GUEST_MAX_CONTEXTS);
        sweep_workload_user(keep, n_keep); /* the fork server is root: it stays */
        s->trim_at_ns = now + GUEST_TRIM_IDLE_MS * 1000000ull;
    }
    /* The next worker is forked now, between calls, not on a call's path. */
    if (s->nexecs == 0)
        guest_forkserver_idle(s->forkserver);
    if (s->trim_at_ns != 0 && s->nexecs == 0) {
        if (now >= s->trim_at_ns) {
            s->trim_at_ns = 0;
            trim_memory();
        } else if (s->trim_at_ns < next) {
            next = s->trim_at_ns;
        }
    }
    uint64_t code_next = guest_code_housekeeping(s, s->code, now);
    if (code_next < next)
        next = code_next;
    uint64_t egress_next = guest_egress_housekeeping(s, s->egress, now);
    if (egress_next < next)
        next = egress_next;
    if (guest_files_pump(s, s->files))
        next = now;
    for (size_t i = 0; i < s->nconns;) {
        struct conn *c = s->conns[i];
        bool has_execs = false;
        for (size_t j = 0; j < s->nexecs && !has_execs; j++)
            has_execs = s->execs[j]->conn == c;
        if (!c->authed && c->up && c->kind != CONN_SERIAL && !c->closing) {
            if (now >= c->hello_deadline_ns)
                conn_refuse(s, c, "no HelloRequest in time");
            else if (c->hello_deadline_ns < next)
                next = c->hello_deadline_ns;
        }
        bool finished = (c->closing && (c->out_len == 0 || !c->up)) ||
                        (c->in_eof && !has_execs && c->out_len == 0);
        if (finished && c->kind != CONN_SERIAL) {
            conn_close(s, i);
            continue;
        }
        i++;
    }
    /* The scan first: a serial port it opens is checked in this turn. The
     * host side may have opened it before the guest did, and then no SIGIO
     * comes: checked after the scan's deadline instead, the channel would
     * stay down until the next scan (half a second). */
    if (s->watch_vm) {
        if (now >= s->next_scan_ns)
            scan_vm_transports(s, now);
        if (s->watch_vm && s->next_scan_ns < next)
            next = s->next_scan_ns;
    }
    if (s->serial && !s->serial->up && s->serial_check_ns < next)
        next = s->serial_check_ns;
    if (s->serial && !s->serial->up && now >= s->serial_check_ns) {
        serial_check(s, now);
        next = now; /* poll again right away with the new state */
    }
    if (s->opts.exit_when_idle && s->nconns == 0)
        s->stop = true;
    if (next == UINT64_MAX)
        return -1;
    if (next <= now)
        return 0;
    uint64_t ms = (next - now + 999999u) / 1000000u;
    return ms > 60000 ? 60000 : (int)ms;
}

/* One turn of the loop: housekeeping, one poll (waiting at most max_wait_ms
 * when that is not negative), and what it found. 0, or -errno. */
static int run_turn(struct guest_server *s, int max_wait_ms)
{
    struct pollfd pfd[MAX_POLL];
    struct ref ref[MAX_POLL];
    int timeout = housekeeping(s, now_ns());
    if (s->stop)
        return 0;
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
        timeout = max_wait_ms;
    size_t n = 0;
    pfd[n] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
    ref[n++] = (struct ref){REF_SIGNAL, NULL};
    for (size_t i = 0; i < s->nlisteners; i++) {
        pfd[n] = (struct pollfd){.fd = s->listeners[i].fd, .events = POLLIN};
        ref[n++] = (struct ref){REF_LISTENER, &s->listeners[i]};
    }
    for (size_t i = 0; i < s->nconns; i++) {
        struct conn *c = s->conns[i];
        if (!c->up)
            continue; /* serial port without a host: wait for SIGIO */
        if (!c->in_eof && !c->closing) {
            pfd[n] = (struct pollfd){.fd = c->in_fd, .events = POLLIN | POLLRDHUP};
            ref[n++] = (struct ref){REF_CONN_IN, c};
        }
        if (c->out_len > 0) {
            pfd[n] = (struct pollfd){.fd = c->out_fd, .events = POLLOUT};
            ref[n++] = (struct ref){REF_CONN_OUT, c};
        }
    }
    for (size_t i = 0; i < s->nexecs; i++) {
        struct exec *e = s->execs[i];
        /* An open interactive stdin with nothing to write is not polled. */
        if (e->stdin_fd >= 0 && e->stdin_off < e->stdin_len) {
            pfd[n] = (struct pollfd){.fd = e->stdin_fd, .events = POLLOUT};
            ref[n++] = (struct ref){REF_STDIN, e};
        }
        /* A streaming workload waits while its host is not reading. */
        if (e->stream && e->conn && e->conn->out_len > OUT_HIGH_MARK && !e->exited)
            continue;
        /* ... and while it is out of credit. */
        if (e->stream && e->window && e->unacked >= e->window && !e->exited)
            continue;
        if (e->out[0].fd >= 0) {
            pfd[n] = (struct pollfd){.fd = e->out[0].fd, .events = POLLIN};
            ref[n++] = (struct ref){REF_STDOUT, e};
        }
        if (e->out[1].fd >= 0) {
            pfd[n] = (struct pollfd){.fd = e->out[1].fd, .events = POLLIN};
            ref[n++] = (struct ref){REF_STDERR, e};
        }
    }
    void *code_refs[3 * GUEST_MAX_CONTEXTS];
    size_t nc = guest_code_poll_fds(s->code, pfd + n, code_refs, 3 * GUEST_MAX_CONTEXTS);
    for (size_t i = 0; i < nc; i++)
        ref[n + i] = (struct ref){REF_CODE, code_refs[i]};
    n += nc;
    void *egress_refs[GUEST_EGRESS_MAX_POLL];
    size_t ne = guest_egress_poll_fds(s->egress, pfd + n, egress_refs, GUEST_EGRESS_MAX_POLL, now_ns());
    for (size_t i = 0; i < ne; i++)
        ref[n + i] = (struct ref){REF_EGRESS, egress_refs[i]};
    n += ne;
    int r = poll(pfd, n, timeout);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    uint64_t now = now_ns();
    for (size_t i = 0; i < n && r > 0; i++) {
        short ev = pfd[i].revents;
        if (!ev)
            continue;
        r--;
        switch (ref[i].kind) {
        case REF_SIGNAL:
            read_signals(s, now);
            break;
        case REF_LISTENER:
            accept_conn(s, ref[i].ptr);
            break;
        case REF_CONN_IN: {
            struct conn *c = ref[i].ptr;
            /* A connection lost earlier in this turn may already be gone. */
            bool live = false;
            for (size_t j = 0; j < s->nconns && !live; j++)
                live = s->conns[j] == c;
            if (!live || !c->up || c->closing)
                break;
            /* Hang-up on the serial port: the host went away. On a
             * socket: the peer closed both ways, so nobody is left to
             * answer and its workloads go. A half-close (or EOF on a
             * stdin pipe) instead lets what is in flight finish. */
            if ((ev & (POLLHUP | POLLERR)) && (c->kind == CONN_SERIAL || c->in_fd == c->out_fd)) {
                conn_lost(s, c);
                break;
            }
            if (ev & (POLLIN | POLLRDHUP | POLLHUP))
                conn_read(s, c);
            break;
        }
        case REF_CONN_OUT: {
            struct conn *c = ref[i].ptr;
            bool live = false;
            for (size_t j = 0; j < s->nconns && !live; j++)
                live = s->conns[j] == c;
            if (live && c->up && conn_flush(c) < 0)
                conn_lost(s, c);
            break;
        }
        case REF_STDIN:
            exec_write_stdin(s, ref[i].ptr);
            break;
        case REF_STDOUT:
            exec_read_output(s, ref[i].ptr, 0);
            break;
        case REF_STDERR:
            exec_read_output(s, ref[i].ptr, 1);
            break;
        case REF_CODE:
            guest_code_ready(s, s->code, ref[i].ptr, pfd[i].fd, ev);
            break;
        case REF_EGRESS:
            guest_egress_ready(s, s->egress, ref[i].ptr, ev);
            break;
        }
        if (s->stop)
            break;
    }
    return 0;
}

int guest_server_run(struct guest_server *s)
{
    while (!s->stop) {
        int r = run_turn(s, -1);
        if (r < 0)
            return r;
    }
    return 0;
}

int guest_server_run_once(struct guest_server *s, int max_wait_ms)
{
    return s->stop ? 0 : run_turn(s, max_wait_ms);
}

/* ---------------------------------------------------------------- setup */

struct guest_server *guest_server_new(const struct guest_server_options *opts)
{
    if (!opts->key) {
        errno = EINVAL; /* never a server that serves without the key */
        return NULL;
    }
    struct guest_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->opts = *opts;
    if (opts->pid1) /* the boot's own leftovers */
        s->trim_at_ns = now_ns() + GUEST_TRIM_IDLE_MS * 1000000ull;
    memcpy(s->key, opts->key, GUEST_KEY_LEN);
    s->opts.key = NULL;
    if (!s->opts.hello_timeout_ms)
        s->opts.hello_timeout_ms = GUEST_HELLO_TIMEOUT_MS;
    s->files = guest_files_new(opts->workspace_dir, opts->tmp_dir);
    s->code = guest_code_new(opts->interp_python, opts->interp_driver, opts->workspace_dir);
    s->egress = guest_egress_new();
    if (!s->files || !s->code || !s->egress) {
        guest_files_free(s->files);
        guest_code_free(s->code);
        guest_egress_free(s->egress);
        free(s);
        return NULL;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGIO);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
        (s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        guest_files_free(s->files);
        guest_code_free(s->code);
        guest_egress_free(s->egress);
        free(s);
        return NULL;
    }
    /* A host that hangs up must not kill the init with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    /* Outside PID 1, orphans of workloads come back to us all the same. */
    if (!opts->pid1)
        prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (opts->python_forkserver) {
        s->forkserver = guest_forkserver_new(opts->interp_python);
        if (s->forkserver)
            guest_forkserver_start(s->forkserver); /* ready in the background */
    }
    return s;
}

int guest_server_add_stdio(struct guest_server *s, int in_fd, int out_fd)
{
    if (s->nconns >= MAX_CONNS_TOTAL)
        return -EBUSY;
    fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
    fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);
    fcntl(in_fd, F_SETFD, FD_CLOEXEC);
    fcntl(out_fd, F_SETFD, FD_CLOEXEC);
    struct conn *c = conn_new(CONN_STDIO, in_fd, out_fd, "stdio");
    if (!c)
        return -ENOMEM;
    c->hello_deadline_ns = now_ns() + (uint64_t)s->opts.hello_timeout_ms * 1000000ull;
    s->conns[s->nconns++] = c;
    return 0;
}

int guest_server_add_listener(struct guest_server *s, int fd, const char *name)
{
    if (s->nlisteners >= MAX_LISTENERS)
        return -EBUSY;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    s->listeners[s->nlisteners++] = (struct listener){.fd = fd, .name = name};
    return 0;
}

void guest_server_free(struct guest_server *s)
{
    if (!s)
        return;
    /* Nothing outlives the server: kill every workload and wait for it. */
    kill_all_execs(s);
    for (size_t i = 0; i < s->nexecs; i++) {
        int status;
        while (!s->execs[i]->exited && waitpid(s->execs[i]->pid, &status, 0) < 0 && errno == EINTR)
            ;
        exec_free(s->execs[i]);
    }
    s->nexecs = 0;
    while (s->nconns > 0)
        conn_close(s, s->nconns - 1);
    guest_code_free(s->code);
    guest_egress_free(s->egress);
    guest_forkserver_free(s->forkserver);
    guest_files_free(s->files);
    for (size_t i = 0; i < s->nlisteners; i++)
        close(s->listeners[i].fd);
    close(s->sigfd);
    explicit_bzero(s->key, sizeof(s->key));
    free(s);
}
