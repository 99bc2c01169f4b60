/* Stateful Python interpreter contexts (CodeRequest).
 *
 * A context is one python3 process running the driver (interp.py), spawned
 * like an exec (guest_spawn: own session, rlimits, uid 1000, no_new_privs,
 * seccomp). The init writes each cell to the driver's stdin as a u32
 * big-endian length and the code; the driver answers on its stdout with
 * events (guest.h: enum guest_interp_kind), the last of a cell being DONE.
 * Its stderr (the driver's own trouble) is passed on as stderr events while a
 * cell runs and logged otherwise.
 *
 * A cell past its timeout gets SIGINT; when it has not finished a grace
 * period later its context is killed, and the next request starts a new one. */
#include "guest/guest.h"
#include "guest/server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name
#define READ_CHUNK (64u << 10)

struct context {
    char id[GUEST_MAX_CONTEXT_ID + 1];
    pid_t pid;
    bool exited;
    int in_fd, out_fd, err_fd;
    uint8_t *in;           /* the cell being written to the driver */
    size_t in_len, in_off;
    uint8_t *buf;          /* events read, not yet parsed */
    size_t buf_len, buf_cap;
    uint32_t count;        /* cells run */
    bool broken;           /* the driver said something malformed: it is killed */
    /* the cell in flight */
    bool busy;
    uint64_t cell_id;
    struct conn *conn;     /* NULL when its connection went away */
    uint64_t start_ns, deadline_ns, kill_ns;
    bool timed_out, interrupted, error, truncated;
    uint64_t output;
};

struct guest_code {
    const char *python, *driver, *cwd;
    struct context *ctx[GUEST_MAX_CONTEXTS];
    size_t n;
};

bool guest_context_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n > GUEST_MAX_CONTEXT_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- parser */

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int guest_interp_parse(const uint8_t *body, size_t len, struct guest_interp_event *ev, const char **why)
{
    memset(ev, 0, sizeof(*ev));
    if (len < 1) {
        *why = "empty event";
        return -1;
    }
    ev->kind = body[0];
    if (ev->kind < GUEST_INTERP_STDOUT || ev->kind > GUEST_INTERP_DONE) {
        *why = "unknown event kind";
        return -1;
    }
    size_t off = 1;
    bool pending_mime = false, have_status = false;
    while (off < len) {
        if (len - off < 5) {
            *why = "truncated field header";
            return -1;
        }
        uint8_t tag = body[off];
        uint32_t flen = be32(body + off + 1);
        off += 5;
        if (flen > len - off) {
            *why = "field past the end";
            return -1;
        }
        struct guest_interp_field field = {body + off, flen};
        off += flen;
        bool text_kind = ev->kind == GUEST_INTERP_STDOUT || ev->kind == GUEST_INTERP_STDERR;
        bool is_string = tag != 3 && tag != 7 && tag != 8;
        if (is_string && !utf8_valid(field.data, field.len)) {
            *why = "a text field is not UTF-8";
            return -1;
        }
        if (tag == 1 && (text_kind || ev->kind == GUEST_INTERP_RESULT)) {
            ev->text = field;
        } else if (tag == 2 && ev->kind == GUEST_INTERP_RESULT && !pending_mime) {
            if (ev->n_mime >= GUEST_INTERP_MAX_MIME || field.len == 0) {
                *why = "too many or empty mime types";
                return -1;
            }
            ev->mime[ev->n_mime] = field;
            pending_mime = true;
        } else if (tag == 3 && ev->kind == GUEST_INTERP_RESULT && pending_mime) {
            ev->mime_data[ev->n_mime++] = field;
            pending_mime = false;
        } else if (tag == 4 && ev->kind == GUEST_INTERP_ERROR) {
            ev->name = field;
        } else if (tag == 5 && ev->kind == GUEST_INTERP_ERROR) {
            ev->value = field;
        } else if (tag == 6 && ev->kind == GUEST_INTERP_ERROR) {
            ev->traceback = field;
        } else if (tag == 7 && ev->kind == GUEST_INTERP_DONE && field.len == 1 && field.data[0] <= 2) {
            ev->status = field.data[0];
            have_status = true;
        } else if (tag == 8 && ev->kind == GUEST_INTERP_DONE && field.len == 4) {
            ev->count = be32(field.data);
        } else {
            *why = "a field this event cannot have";
            return -1;
        }
    }
    if (pending_mime) {
        *why = "a mime type without data";
        return -1;
    }
    if (ev->kind == GUEST_INTERP_DONE && !have_status) {
        *why = "done without a status";
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- contexts */

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

struct guest_code *guest_code_new(const char *python, const char *driver, const char *cwd)
{
    struct guest_code *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->cwd = cwd ? cwd : GUEST_WORKSPACE;
    k->python = python ? python : GUEST_INTERP_PYTHON;
    k->driver = driver ? driver : GUEST_INTERP_DRIVER;
    return k;
}

static void context_kill(struct context *x)
{
    if (x->pid > 0 && !x->exited)
        kill(-x->pid, SIGKILL);
}

static void context_free(struct context *x)
{
    close_fd(&x->in_fd);
    close_fd(&x->out_fd);
    close_fd(&x->err_fd);
    free(x->in);
    free(x->buf);
    free(x);
}

void guest_code_free(struct guest_code *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++) {
        struct context *x = k->ctx[i];
        context_kill(x);
        while (!x->exited && waitpid(x->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        context_free(x);
    }
    free(k);
}

unsigned guest_code_running(const struct guest_code *k)
{
    unsigned n = 0;
    for (size_t i = 0; i < k->n; i++)
        n += !k->ctx[i]->exited;
    return n;
}

size_t guest_code_pids(const struct guest_code *k, pid_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n && n < max; i++)
        if (!k->ctx[i]->exited && k->ctx[i]->pid > 0)
            out[n++] = k->ctx[i]->pid;
    return n;
}

static struct context *find_context(struct guest_code *k, const char *id)
{
    for (size_t i = 0; i < k->n; i++)
        if (!k->ctx[i]->exited && !k->ctx[i]->broken && strcmp(k->ctx[i]->id, id) == 0)
            return k->ctx[i];
    return NULL;
}

static void send_event(struct guest_server *s, struct context *x, Guest__V1__CodeEvent *ev, size_t size)
{
    if (!x->conn)
        return;
    if (ev->kind == GUEST__V1__CODE_EVENT__KIND__KIND_STDOUT || ev->kind == GUEST__V1__CODE_EVENT__KIND__KIND_STDERR) {
        if (x->output + size > GUEST_CODE_MAX_OUTPUT) {
            x->truncated = true;
            return;
        }
    }
    x->output += size;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    f.id = x->cell_id;
    f.body_case = GUEST__V1__FRAME__BODY_CODE_EVENT;
    f.code_event = ev;
    guest_server_send(s, x->conn, &f);
}

/* Ends the cell in flight with its CodeResponse. */
static void finish_cell(struct guest_server *s, struct context *x, bool restarted)
{
    if (!x->busy)
        return;
    Guest__V1__CodeResponse r = GUEST__V1__CODE_RESPONSE__INIT;
    r.error = x->error;
    r.timed_out = x->timed_out;
    r.interrupted = x->interrupted;
    r.restarted = restarted;
    r.duration_us = (guest_now_ns() - x->start_ns) / 1000u;
    r.execution_count = x->count;
    r.output_truncated = x->truncated;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    f.id = x->cell_id;
    f.body_case = GUEST__V1__FRAME__BODY_CODE_RESPONSE;
    f.code_response = &r;
    if (x->conn)
        guest_server_send(s, x->conn, &f);
    x->busy = false;
    x->conn = NULL;
    free(x->in);
    x->in = NULL;
}

static void handle_event(struct guest_server *s, struct context *x, const struct guest_interp_event *e)
{
    Guest__V1__CodeEvent ev = GUEST__V1__CODE_EVENT__INIT;
    char *strings[4] = {NULL, NULL, NULL, NULL};
    Guest__V1__MimeData md[GUEST_INTERP_MAX_MIME];
    Guest__V1__MimeData *mdp[GUEST_INTERP_MAX_MIME];
    char *mimes[GUEST_INTERP_MAX_MIME] = {NULL};
    size_t size = 0;
    const struct guest_interp_field *fields[4] = {&e->text, &e->name, &e->value, &e->traceback};
    for (int i = 0; i < 4; i++) {
        strings[i] = strndup((const char *)fields[i]->data ? (const char *)fields[i]->data : "", fields[i]->len);
        size += fields[i]->len;
    }
    ev.text = strings[0];
    ev.name = strings[1];
    ev.value = strings[2];
    ev.traceback = strings[3];
    switch (e->kind) {
    case GUEST_INTERP_STDOUT:
        ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_STDOUT;
        break;
    case GUEST_INTERP_STDERR:
        ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_STDERR;
        break;
    case GUEST_INTERP_RESULT:
        ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_RESULT;
        for (size_t i = 0; i < e->n_mime; i++) {
            guest__v1__mime_data__init(&md[i]);
            mimes[i] = strndup((const char *)e->mime[i].data, e->mime[i].len);
            md[i].mime_type = mimes[i] ? mimes[i] : (char *)"";
            md[i].data.data = (uint8_t *)e->mime_data[i].data;
            md[i].data.len = e->mime_data[i].len;
            mdp[i] = &md[i];
            size += e->mime_data[i].len;
        }
        ev.data = mdp;
        ev.n_data = e->n_mime;
        break;
    case GUEST_INTERP_ERROR:
        ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_ERROR;
        x->error = true;
        break;
    default:
        break;
    }
    bool ok = true;
    for (int i = 0; i < 4; i++)
        ok = ok && strings[i];
    if (ok && e->kind != GUEST_INTERP_DONE)
        send_event(s, x, &ev, size);
    for (int i = 0; i < 4; i++)
        free(strings[i]);
    for (size_t i = 0; i < e->n_mime; i++)
        free(mimes[i]);
    if (e->kind == GUEST_INTERP_DONE) {
        if (e->status == 2)
            x->interrupted = true;
        if (e->status == 1)
            x->error = true;
        x->count = e->count;
        finish_cell(s, x, false);
    }
}

static void parse_events(struct guest_server *s, struct context *x)
{
    size_t off = 0;
    while (x->buf_len - off >= 4) {
        uint32_t len = be32(x->buf + off);
        if (len == 0 || len > GUEST_INTERP_MAX_EVENT) {
            x->broken = true;
            break;
        }
        if (x->buf_len - off - 4 < len)
            break;
        struct guest_interp_event e;
        const char *why = NULL;
        if (guest_interp_parse(x->buf + off + 4, len, &e, &why) < 0) {
            guest_log("interpreter %s: bad event (%s); killing it", x->id[0] ? x->id : "default", why);
            x->broken = true;
            break;
        }
        handle_event(s, x, &e);
        off += 4u + len;
    }
    if (x->broken) {
        context_kill(x);
        return;
    }
    memmove(x->buf, x->buf + off, x->buf_len - off);
    x->buf_len -= off;
}

static void read_events(struct guest_server *s, struct context *x)
{
    for (int rounds = 0; rounds < 8 && x->out_fd >= 0 && !x->broken; rounds++) {
        if (x->buf_cap - x->buf_len < READ_CHUNK) {
            size_t cap = x->buf_cap ? x->buf_cap * 2 : 2 * READ_CHUNK;
            if (cap > GUEST_INTERP_MAX_EVENT + 4 + READ_CHUNK)
                cap = GUEST_INTERP_MAX_EVENT + 4 + READ_CHUNK;
            if (cap <= x->buf_cap) {
                x->broken = true;
                context_kill(x);
                return;
            }
            uint8_t *grown = realloc(x->buf, cap);
            if (!grown) {
                x->broken = true;
                context_kill(x);
                return;
            }
            x->buf = grown;
            x->buf_cap = cap;
        }
        ssize_t n = read(x->out_fd, x->buf + x->buf_len, x->buf_cap - x->buf_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN)
                close_fd(&x->out_fd);
            return;
        }
        if (n == 0) {
            close_fd(&x->out_fd);
            return;
        }
        x->buf_len += (size_t)n;
        parse_events(s, x);
    }
}

static void read_stderr(struct guest_server *s, struct context *x)
{
    char chunk[4096];
    ssize_t n = read(x->err_fd, chunk, sizeof(chunk) - 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        close_fd(&x->err_fd);
        return;
    }
    chunk[n] = '\0';
    if (x->busy && x->conn) {
        Guest__V1__CodeEvent ev = GUEST__V1__CODE_EVENT__INIT;
        ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_STDERR;
        /* Not necessarily UTF-8 at a chunk boundary: replace what is not. */
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)chunk[i] >= 0x80)
                chunk[i] = '?';
        ev.text = chunk;
        send_event(s, x, &ev, (size_t)n);
    } else {
        guest_log("interpreter %s: %.*s", x->id[0] ? x->id : "default", (int)n, chunk);
    }
}

static void write_cell(struct context *x)
{
    while (x->in && x->in_fd >= 0 && x->in_off < x->in_len) {
        ssize_t n = write(x->in_fd, x->in + x->in_off, x->in_len - x->in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN) {
                close_fd(&x->in_fd);
                context_kill(x);
            }
            return;
        }
        x->in_off += (size_t)n;
    }
    if (x->in && x->in_off >= x->in_len) {
        free(x->in);
        x->in = NULL;
    }
}

static struct context *spawn_context(struct guest_code *k, struct guest_forkserver *fs, const char *id,
                                     const Guest__V1__CodeRequest *req, char *why, size_t why_len)
{
    Guest__V1__ExecRequest er = GUEST__V1__EXEC_REQUEST__INIT;
    char *argv[] = {(char *)k->python, (char *)"-u", (char *)"-I", (char *)k->driver, NULL};
    er.argv = argv;
    er.n_argv = 4;
    er.env = req->env;
    er.n_env = req->n_env;
    er.limits = req->limits;
    er.cwd = (char *)k->cwd;
    struct guest_exec_params params;
    const char *bad = NULL;
    int code = guest_exec_validate(&er, &params, &bad);
    if (code) {
        snprintf(why, why_len, "%s", bad);
        return NULL;
    }
    struct guest_spawned sp;
    code = guest_forkserver_spawn_driver(fs, &er, &params, k->driver, &sp, why, why_len);
    if (code == 1)
        code = guest_spawn(&er, &params, &sp, why, why_len);
    if (code)
        return NULL;
    struct context *x = calloc(1, sizeof(*x));
    if (!x) {
        kill(-sp.pid, SIGKILL);
        close(sp.stdin_fd);
        close(sp.stdout_fd);
        close(sp.stderr_fd);
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    snprintf(x->id, sizeof(x->id), "%s", id);
    x->pid = sp.pid;
    x->in_fd = sp.stdin_fd;
    x->out_fd = sp.stdout_fd;
    x->err_fd = sp.stderr_fd;
    k->ctx[k->n++] = x;
    return x;
}

void guest_code_request(struct guest_server *s, struct guest_code *k, struct conn *c, uint64_t id,
                        const Guest__V1__CodeRequest *req)
{
    const char *cid = req->context_id ? req->context_id : "";
    if (!guest_context_id_valid(cid)) {
        guest_server_send_error(s, c, id, CODE(INVALID), "context_id must be up to 64 of [A-Za-z0-9._-]");
        return;
    }
    size_t len = req->code ? strlen(req->code) : 0;
    if (len > GUEST_MAX_CODE) {
        guest_server_send_error(s, c, id, CODE(TOO_LARGE), "the code is over 4 MiB");
        return;
    }
    if (req->timeout_ms > GUEST_MAX_TIMEOUT_MS) {
        guest_server_send_error(s, c, id, CODE(INVALID), "timeout over 24 h");
        return;
    }
    struct context *x = find_context(k, cid);
    if (x && x->busy) {
        guest_server_send_error(s, c, id, CODE(BUSY), "this context is running a cell");
        return;
    }
    if (!x) {
        size_t live = 0;
        for (size_t i = 0; i < k->n; i++)
            live += !k->ctx[i]->exited;
        if (k->n >= GUEST_MAX_CONTEXTS || live >= GUEST_MAX_CONTEXTS) {
            guest_server_send_error(s, c, id, CODE(BUSY), "too many interpreter contexts");
            return;
        }
        char why[256];
        x = spawn_context(k, guest_server_forkserver(s), cid, req, why, sizeof(why));
        if (!x) {
            guest_server_send_error(s, c, id, CODE(EXEC_FAILED), why);
            return;
        }
    }
    x->in = malloc(4 + len);
    if (!x->in) {
        guest_server_send_error(s, c, id, CODE(BUSY), "out of memory");
        return;
    }
    x->in[0] = (uint8_t)(len >> 24);
    x->in[1] = (uint8_t)(len >> 16);
    x->in[2] = (uint8_t)(len >> 8);
    x->in[3] = (uint8_t)len;
    if (len)
        memcpy(x->in + 4, req->code, len);
    x->in_len = 4 + len;
    x->in_off = 0;
    x->busy = true;
    x->cell_id = id;
    x->conn = c;
    x->start_ns = guest_now_ns();
    uint32_t timeout = req->timeout_ms ? req->timeout_ms : GUEST_DEFAULT_TIMEOUT_MS;
    x->deadline_ns = x->start_ns + (uint64_t)timeout * 1000000ull;
    x->kill_ns = 0;
    x->timed_out = x->interrupted = x->error = x->truncated = false;
    x->output = 0;
    write_cell(x);
}

static void interrupt(struct context *x, uint64_t now)
{
    if (x->kill_ns)
        return;
    kill(x->pid, SIGINT);
    x->kill_ns = now + (uint64_t)GUEST_INTERRUPT_GRACE_MS * 1000000ull;
}

bool guest_code_cancel(struct guest_code *k, struct conn *c, uint64_t id)
{
    for (size_t i = 0; i < k->n; i++) {
        struct context *x = k->ctx[i];
        if (x->busy && x->conn == c && x->cell_id == id && c) {
            interrupt(x, guest_now_ns());
            return true;
        }
    }
    return false;
}

void guest_code_detach(struct guest_code *k, struct conn *c)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->ctx[i]->conn == c)
            k->ctx[i]->conn = NULL; /* the cell runs on; its output goes nowhere */
}

size_t guest_code_poll_fds(struct guest_code *k, struct pollfd *pfd, void **refs, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n && n + 3 <= max; i++) {
        struct context *x = k->ctx[i];
        if (x->in && x->in_fd >= 0) {
            pfd[n] = (struct pollfd){.fd = x->in_fd, .events = POLLOUT};
            refs[n++] = x;
        }
        /* A host that does not read holds the driver back. */
        bool hold = x->conn && guest_conn_backlog(x->conn) > GUEST_OUT_HIGH_MARK;
        if (x->out_fd >= 0 && !hold) {
            pfd[n] = (struct pollfd){.fd = x->out_fd, .events = POLLIN};
            refs[n++] = x;
        }
        if (x->err_fd >= 0 && !hold) {
            pfd[n] = (struct pollfd){.fd = x->err_fd, .events = POLLIN};
            refs[n++] = x;
        }
    }
    return n;
}

void guest_code_ready(struct guest_server *s, struct guest_code *k, void *ref, int fd, short revents)
{
    struct context *x = NULL;
    for (size_t i = 0; i < k->n && !x; i++)
        if (k->ctx[i] == ref)
            x = ref;
    if (!x)
        return;
    if (fd == x->in_fd)
        write_cell(x);
    else if (fd == x->out_fd)
        read_events(s, x);
    else if (fd == x->err_fd)
        read_stderr(s, x);
}

bool guest_code_reaped(struct guest_server *s, struct guest_code *k, pid_t pid, int status)
{
    for (size_t i = 0; i < k->n; i++) {
        struct context *x = k->ctx[i];
        if (x->pid == pid && !x->exited) {
            x->exited = true;
            kill(-pid, SIGKILL); /* what it started goes too */
            if (!x->kill_ns && !x->broken)
                guest_log("interpreter %s ended (status %d)", x->id[0] ? x->id : "default", status);
            return true;
        }
    }
    return false;
}

uint64_t guest_code_housekeeping(struct guest_server *s, struct guest_code *k, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < k->n;) {
        struct context *x = k->ctx[i];
        if (x->busy && !x->exited && !x->kill_ns && now >= x->deadline_ns) {
            x->timed_out = true;
            interrupt(x, now);
        }
        if (x->busy && !x->exited && x->kill_ns && now >= x->kill_ns)
            context_kill(x);
        if (x->exited) {
            /* Read what it said before it went. */
            if (x->out_fd >= 0 && !x->broken)
                read_events(s, x);
            if (x->busy) {
                Guest__V1__CodeEvent ev = GUEST__V1__CODE_EVENT__INIT;
                ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_STDERR;
                ev.text = x->kill_ns ? (char *)"the cell did not stop after KeyboardInterrupt; the interpreter "
                                               "was killed and its state is lost\n"
                                     : (char *)"the interpreter ended; its state is lost\n";
                send_event(s, x, &ev, 0);
                x->error = true;
                finish_cell(s, x, true);
            }
            context_free(x);
            k->ctx[i] = k->ctx[--k->n];
            continue;
        }
        if (x->busy && !x->kill_ns && x->deadline_ns < next)
            next = x->deadline_ns;
        if (x->busy && x->kill_ns && x->kill_ns < next)
            next = x->kill_ns;
        i++;
    }
    return next;
}
