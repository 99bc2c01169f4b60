/* The egress proxy (EgressRequest): an HTTP proxy on the VM's loopback whose
 * every connection is a stream over the host channel. The guest has no
 * network device; the host decides each EgressOpen, resolves and connects.
 *
 * One workload connection, one `struct stream`:
 *   HEAD   reading the request head (at most max_header_bytes, within
 *          GUEST_EGRESS_HEAD_TIMEOUT_MS; 400/408/431/501/505 otherwise)
 *   WAIT   EgressOpen sent; the workload is not read until the decision
 *   PIPE   allowed: bytes both ways in EgressData within each side's window
 *   REPLY  our own answer (a refusal) is written, then the workload's input
 *          is read and dropped for a moment so that closing does not reset
 *          the connection before the answer is read (a lingering close)
 *
 * Bounds: the workload is read only while the host has credit left for the
 * stream and the channel's backlog is under GUEST_OUT_HIGH_MARK; what the
 * host sends waits in at most `window` bytes per stream and is credited
 * back only once written to the workload, so a workload that does not read
 * stops the host, and a host that does not credit stops the workload.
 *
 * Streams that end are marked dead and freed in housekeeping, so poll
 * entries of the current loop turn never point at freed memory. */
#include "guest/guest.h"
#include "guest/server_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name
#define MS(x) ((uint64_t)(x) * 1000000ull)
#define ACCEPT_PAUSE_NS MS(100)
#define LINGER_MAX_BYTES (256u << 10)

enum phase { PHASE_HEAD, PHASE_WAIT, PHASE_PIPE, PHASE_REPLY };

struct stream {
    int fd;
    uint32_t id; /* 0 until EgressOpen is sent */
    enum phase phase;
    bool dead;
    bool connect;
    uint64_t deadline; /* HEAD: 408; WAIT: 504; REPLY: end of lingering; PIPE after the host's close: drain */
    struct guest_proxy_head head;
    uint8_t *buf; /* the head as read, and what came with it */
    size_t buf_len, buf_cap;
    /* to the host */
    uint8_t *up; /* waiting for credit: the rewritten head and early bytes */
    size_t up_len, up_off;
    uint64_t up_unacked;
    bool up_eof;      /* the workload sent EOF */
    bool up_eof_sent; /* ... and the host was told (EgressClose write_only) */
    /* from the host */
    uint8_t *down;
    size_t down_off, down_len, down_cap;
    uint64_t down_unacked; /* received, not yet credited */
    uint64_t credit;       /* written to the workload, not yet credited */
    bool down_eof;         /* the host sends no more (write_only close) */
    bool down_shut;        /* ... and the workload was told (shutdown SHUT_WR) */
    bool host_closed;      /* the host's full close: no more reading either */
    /* our own answer (200 for CONNECT, or a refusal) */
    char local[1024];
    size_t local_len, local_off;
    size_t discarded; /* REPLY: input dropped while lingering */
};

struct guest_egress {
    bool active;
    struct conn *conn;
    uint64_t id;
    uint32_t port, max_streams, window, max_header;
    int listen_fd;
    uint64_t accept_pause_until;
    struct stream **streams;
    size_t n, cap;
    uint32_t next_id;
    uint64_t opened, bytes_out, bytes_in;
};

struct guest_egress *guest_egress_new(void)
{
    struct guest_egress *g = calloc(1, sizeof(*g));
    if (g)
        g->listen_fd = -1;
    return g;
}

static void stream_free(struct stream *st)
{
    if (st->fd >= 0)
        close(st->fd);
    free(st->buf);
    free(st->up);
    free(st->down);
    free(st);
}

/* Frees every stream and the table (housekeeping or free, never mid-turn). */
static void reap_streams(struct guest_egress *g, bool all)
{
    for (size_t i = 0; i < g->n;) {
        if (all || g->streams[i]->dead) {
            stream_free(g->streams[i]);
            g->streams[i] = g->streams[--g->n];
            continue;
        }
        i++;
    }
    if (!g->active && g->n == 0) {
        free(g->streams);
        g->streams = NULL;
        g->cap = 0;
    }
}

void guest_egress_free(struct guest_egress *g)
{
    if (!g)
        return;
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    if (g->active)
        guest_exec_set_proxy(NULL);
    g->active = false;
    reap_streams(g, true);
    free(g);
}

/* ---------------------------------------------------------------- frames */

static void send_frame(struct guest_server *s, struct guest_egress *g, Guest__V1__Frame *f)
{
    f->id = g->id;
    guest_server_send(s, g->conn, f);
}

static void send_close(struct guest_server *s, struct guest_egress *g, uint32_t stream, bool write_only,
                       const char *reason)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressClose c = GUEST__V1__EGRESS_CLOSE__INIT;
    c.stream = stream;
    c.write_only = write_only;
    c.reason = (char *)reason;
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_CLOSE;
    f.egress_close = &c;
    send_frame(s, g, &f);
}

static void send_data(struct guest_server *s, struct guest_egress *g, struct stream *st, const uint8_t *data,
                      size_t len)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressData d = GUEST__V1__EGRESS_DATA__INIT;
    d.stream = st->id;
    d.data.data = (uint8_t *)data;
    d.data.len = len;
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_DATA;
    f.egress_data = &d;
    send_frame(s, g, &f);
    st->up_unacked += len;
    g->bytes_out += len;
}

static void send_credit(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    if (!st->credit)
        return;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressCredit c = GUEST__V1__EGRESS_CREDIT__INIT;
    c.stream = st->id;
    c.bytes = (uint32_t)st->credit;
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_CREDIT;
    f.egress_credit = &c;
    send_frame(s, g, &f);
    st->down_unacked -= st->credit;
    st->credit = 0;
}

/* ---------------------------------------------------------------- streams */

/* Ends a stream now; the host hears why when it knew the stream. */
static void stream_kill(struct guest_server *s, struct guest_egress *g, struct stream *st, const char *reason)
{
    if (st->dead)
        return;
    if (st->id && reason)
        send_close(s, g, st->id, false, reason);
    st->dead = true;
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
}

/* The workload's connection failed (err: the socket's error). The host
 * hears how, and whether what it sent was all written to the workload: it
 * knows whether that was the whole answer, and so whether the exchange was
 * complete (a client that closes without reading the TLS close_notify
 * resets a connection that did everything it was for). */
static void stream_workload_failed(struct guest_server *s, struct guest_egress *g, struct stream *st, int err)
{
    char how[96], why[200];
    if (err == ECONNRESET)
        snprintf(how, sizeof(how), "the workload reset its connection");
    else if (err == EPIPE || err == 0)
        snprintf(how, sizeof(how), "the workload closed its connection");
    else
        snprintf(how, sizeof(how), "the workload's connection failed (%s)", strerror(err));
    size_t unwritten = st->down_len - st->down_off;
    if (unwritten > 0)
        snprintf(why, sizeof(why), "%s with %zu bytes from the host not yet written to it", how, unwritten);
    else if (st->down_eof)
        snprintf(why, sizeof(why), "%s after everything the host sent was written to it", how);
    else
        snprintf(why, sizeof(why), "%s", how);
    stream_kill(s, g, st, why);
}

/* Our own answer to the workload: a status line, a one-line text body, and
 * the connection closed once it is written (see REPLY above). */
static void stream_reply(struct guest_egress *g, struct stream *st, unsigned status, const char *reason)
{
    char body[GUEST_EGRESS_MAX_REASON + 2];
    size_t n = 0;
    for (const char *p = reason ? reason : ""; *p && n < GUEST_EGRESS_MAX_REASON; p++) {
        unsigned char c = (unsigned char)*p;
        body[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c; /* one line, nothing that ends the head */
    }
    body[n++] = '\n';
    body[n] = '\0';
    int len = snprintf(st->local, sizeof(st->local),
                       "HTTP/1.1 %u %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\nProxy-Agent: enclave-init\r\n\r\n%s",
                       status, guest_proxy_status_text(status), n, body);
    st->local_len = len < 0 ? 0 : (size_t)len < sizeof(st->local) ? (size_t)len : sizeof(st->local) - 1;
    st->local_off = 0;
    st->phase = PHASE_REPLY;
    st->deadline = guest_now_ns() + MS(GUEST_EGRESS_LINGER_MS);
    (void)g;
}

static size_t open_streams(const struct guest_egress *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        n += !g->streams[i]->dead && g->streams[i]->id != 0;
    return n;
}

static uint32_t new_stream_id(struct guest_egress *g)
{
    for (;;) {
        uint32_t id = ++g->next_id;
        if (id == 0)
            continue;
        bool used = false;
        for (size_t i = 0; i < g->n && !used; i++)
            used = g->streams[i]->id == id && !g->streams[i]->dead;
        if (!used)
            return id;
    }
}

static bool up_append(struct stream *st, const uint8_t *data, size_t len)
{
    if (len == 0)
        return true;
    size_t keep = st->up_len - st->up_off;
    uint8_t *p = malloc(keep + len);
    if (!p)
        return false;
    if (keep)
        memcpy(p, st->up + st->up_off, keep);
    memcpy(p + keep, data, len);
    free(st->up);
    st->up = p;
    st->up_len = keep + len;
    st->up_off = 0;
    return true;
}

/* The head is complete: check it and ask the host. */
static void stream_head_done(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    struct guest_proxy_request r;
    const char *why = NULL;
    int status = guest_proxy_request_build(&st->head, st->buf, &r, &why);
    if (status) {
        guest_proxy_request_release(&r);
        stream_reply(g, st, (unsigned)status, why);
        return;
    }
    if (open_streams(g) >= g->max_streams) {
        guest_proxy_request_release(&r);
        stream_reply(g, st, 503, "too many connections through the proxy");
        return;
    }
    /* What goes up once allowed: the rewritten head and the request's bytes
     * that came with it (plain HTTP), or the tunnel's first bytes (CONNECT). */
    bool ok = true;
    if (r.connect) {
        ok = up_append(st, st->buf + st->head.head_end, st->buf_len - st->head.head_end);
    } else {
        ok = up_append(st, r.head, r.head_len) &&
             up_append(st, st->buf + st->head.head_end, st->head.body_end - st->head.head_end);
    }
    if (!ok) {
        guest_proxy_request_release(&r);
        stream_reply(g, st, 503, "out of memory");
        return;
    }
    free(st->buf);
    st->buf = NULL;
    st->buf_len = st->buf_cap = 0;
    st->connect = r.connect;
    st->id = new_stream_id(g);
    st->phase = PHASE_WAIT;
    st->deadline = guest_now_ns() + MS(GUEST_EGRESS_OPEN_TIMEOUT_MS);
    g->opened++;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressOpen o = GUEST__V1__EGRESS_OPEN__INIT;
    o.stream = st->id;
    o.host = r.host;
    o.port = r.port;
    o.scheme = (char *)(r.connect ? "https" : "http");
    o.method = r.connect ? (char *)"" : r.method;
    o.path = r.connect ? (char *)"" : r.path;
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_OPEN;
    f.egress_open = &o;
    send_frame(s, g, &f);
    guest_proxy_request_release(&r);
}

static void stream_read_head(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    size_t limit = st->head.max_bytes;
    if (st->buf_cap < limit) {
        size_t cap = st->buf_cap ? st->buf_cap * 2 : 4096;
        if (cap > limit)
            cap = limit;
        if (st->buf_len == st->buf_cap) {
            uint8_t *grown = realloc(st->buf, cap);
            if (!grown) {
                stream_reply(g, st, 503, "out of memory");
                return;
            }
            st->buf = grown;
            st->buf_cap = cap;
        }
    }
    if (st->buf_len >= st->buf_cap) {
        stream_reply(g, st, 431, "the request head is too large");
        return;
    }
    ssize_t n = read(st->fd, st->buf + st->buf_len, st->buf_cap - st->buf_len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            stream_kill(s, g, st, NULL);
        return;
    }
    if (n == 0) {
        /* Gone before asking for anything: nobody to answer. */
        if (st->buf_len == 0)
            stream_kill(s, g, st, NULL);
        else
            stream_reply(g, st, 400, "the request head ended early");
        return;
    }
    st->buf_len += (size_t)n;
    int r = guest_proxy_head_feed(&st->head, st->buf, st->buf_len);
    if (r == 0)
        return;
    if (r == 1) {
        stream_head_done(s, g, st);
        return;
    }
    stream_reply(g, st, (unsigned)r,
                  r == 431 ? "the request head is too large" : "the request head is not valid HTTP/1.1");
}

/* Sends what waits for credit. */
static void stream_push_up(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    while (st->up_off < st->up_len && st->up_unacked < g->window) {
        size_t n = st->up_len - st->up_off;
        size_t room = (size_t)(g->window - st->up_unacked);
        if (n > room)
            n = room;
        if (n > GUEST_EGRESS_MAX_DATA)
            n = GUEST_EGRESS_MAX_DATA;
        send_data(s, g, st, st->up + st->up_off, n);
        st->up_off += n;
    }
    if (st->up_off == st->up_len && st->up) {
        free(st->up);
        st->up = NULL;
        st->up_len = st->up_off = 0;
    }
    if (st->up_eof && !st->up_eof_sent && !st->up) {
        send_close(s, g, st->id, true, "");
        st->up_eof_sent = true;
    }
}

static bool can_read_pipe(const struct guest_egress *g, const struct stream *st)
{
    if (st->phase != PHASE_PIPE || st->up_eof || st->host_closed || st->fd < 0)
        return false;
    if (st->head.message_done)
        return true; /* read and dropped: only EOF matters now */
    return !st->up && st->up_unacked < g->window && guest_conn_backlog(g->conn) < GUEST_OUT_HIGH_MARK;
}

static void stream_read_pipe(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    uint8_t chunk[GUEST_EGRESS_MAX_DATA];
    for (int rounds = 0; rounds < 4 && can_read_pipe(g, st); rounds++) {
        size_t want = sizeof(chunk);
        if (!st->head.message_done && g->window - st->up_unacked < want)
            want = (size_t)(g->window - st->up_unacked);
        ssize_t n = read(st->fd, chunk, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                stream_workload_failed(s, g, st, errno);
            return;
        }
        if (n == 0) {
            st->up_eof = true;
            stream_push_up(s, g, st);
            return;
        }
        if (st->head.message_done)
            continue; /* past the request (pipelining is not carried) */
        size_t take = (size_t)n;
        if (!st->connect) {
            long k = guest_proxy_body_feed(&st->head, chunk, (size_t)n);
            if (k < 0) {
                stream_kill(s, g, st, "the workload sent a malformed request body");
                return;
            }
            take = (size_t)k;
        }
        if (take)
            send_data(s, g, st, chunk, take);
    }
}

/* Sends buf[*off, len) to the workload as far as it takes it, adding what it
 * took to *sent (when not NULL); false when it would block or failed (the
 * stream is then killed). */
static bool send_to_workload(struct guest_server *s, struct guest_egress *g, struct stream *st,
                             const void *buf, size_t len, size_t *off, uint64_t *sent)
{
    while (st->fd >= 0 && *off < len) {
        ssize_t n = send(st->fd, (const char *)buf + *off, len - *off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                stream_workload_failed(s, g, st, errno);
            return false;
        }
        *off += (size_t)n;
        if (sent != NULL)
            *sent += (uint64_t)n;
    }
    return true;
}

/* Writes our answer, then what the host sent, as far as the workload takes it. */
static void stream_write(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    if (!send_to_workload(s, g, st, st->local, st->local_len, &st->local_off, NULL))
        return;
    if (st->phase == PHASE_REPLY) {
        if (st->local_off == st->local_len && st->local_len) {
            shutdown(st->fd, SHUT_WR);
            st->local_len = st->local_off = 0;
        }
        return;
    }
    if (!send_to_workload(s, g, st, st->down, st->down_len, &st->down_off, &st->credit))
        return;
    if (st->down_off == st->down_len)
        st->down_off = st->down_len = 0;
    /* Credit in batches while more waits, at once when all is written. */
    if (st->credit && (st->down_len == 0 || st->credit >= g->window / 4) && !st->host_closed)
        send_credit(s, g, st);
    if (st->down_len == 0 && st->down_eof && !st->down_shut) {
        shutdown(st->fd, SHUT_WR);
        st->down_shut = true;
    }
}

/* A stream whose both sides are over ends; so does one the host closed
 * once what it sent is written. */
static void stream_check(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    if (st->dead || st->phase != PHASE_PIPE)
        return;
    bool written = st->local_off == st->local_len && st->down_len == 0;
    if (st->host_closed && written) {
        stream_kill(s, g, st, NULL);
        return;
    }
    if (st->down_shut && st->up_eof_sent)
        stream_kill(s, g, st, "");
}

/* ---------------------------------------------------------------- host frames */

static struct stream *find_stream(struct guest_egress *g, uint32_t id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < g->n; i++)
        if (g->streams[i]->id == id && !g->streams[i]->dead)
            return g->streams[i];
    return NULL;
}

static void on_open_result(struct guest_server *s, struct guest_egress *g, const Guest__V1__EgressOpenResult *r)
{
    struct stream *st = find_stream(g, r->stream);
    if (!st || st->phase != PHASE_WAIT)
        return;
    if (!r->allowed) {
        unsigned status = r->status >= 400 && r->status <= 599 ? r->status : 403;
        const char *reason = r->reason && r->reason[0] ? r->reason : "refused by policy";
        /* The host has forgotten the stream: nothing more goes to it. */
        st->id = 0;
        free(st->up);
        st->up = NULL;
        st->up_len = st->up_off = 0;
        stream_reply(g, st, status, reason);
        stream_write(s, g, st);
        return;
    }
    st->phase = PHASE_PIPE;
    st->deadline = 0;
    if (st->connect) {
        static const char ok[] = "HTTP/1.1 200 Connection established\r\nProxy-Agent: enclave-init\r\n\r\n";
        memcpy(st->local, ok, sizeof(ok) - 1);
        st->local_len = sizeof(ok) - 1;
        st->local_off = 0;
    }
    stream_push_up(s, g, st);
    stream_write(s, g, st);
}

static void on_data(struct guest_server *s, struct guest_egress *g, const Guest__V1__EgressData *d)
{
    struct stream *st = find_stream(g, d->stream);
    if (!st)
        return; /* ended meanwhile */
    if (st->phase != PHASE_PIPE || st->down_eof || st->host_closed) {
        stream_kill(s, g, st, "data for a stream that is not open for it");
        return;
    }
    if (d->data.len > GUEST_EGRESS_MAX_DATA) {
        stream_kill(s, g, st, "an EgressData frame over 64 KiB");
        return;
    }
    if (st->down_unacked + d->data.len > g->window) {
        stream_kill(s, g, st, "data past the window");
        return;
    }
    if (d->data.len == 0)
        return;
    if (st->down_len + d->data.len > st->down_cap) {
        if (st->down_off > 0) {
            memmove(st->down, st->down + st->down_off, st->down_len - st->down_off);
            st->down_len -= st->down_off;
            st->down_off = 0;
        }
        if (st->down_len + d->data.len > st->down_cap) {
            size_t cap = st->down_cap ? st->down_cap : 16384;
            while (cap < st->down_len + d->data.len)
                cap *= 2;
            uint8_t *grown = realloc(st->down, cap);
            if (!grown) {
                stream_kill(s, g, st, "out of memory");
                return;
            }
            st->down = grown;
            st->down_cap = cap;
        }
    }
    memcpy(st->down + st->down_len, d->data.data, d->data.len);
    st->down_len += d->data.len;
    st->down_unacked += d->data.len;
    g->bytes_in += d->data.len;
    stream_write(s, g, st);
}

static void on_credit(struct guest_server *s, struct guest_egress *g, const Guest__V1__EgressCredit *c)
{
    struct stream *st = find_stream(g, c->stream);
    if (!st)
        return;
    st->up_unacked = c->bytes < st->up_unacked ? st->up_unacked - c->bytes : 0;
    if (st->phase == PHASE_PIPE)
        stream_push_up(s, g, st);
}

static void on_close(struct guest_server *s, struct guest_egress *g, const Guest__V1__EgressClose *c)
{
    struct stream *st = find_stream(g, c->stream);
    if (!st)
        return;
    if (st->phase == PHASE_WAIT) {
        /* Closed instead of decided: the workload hears that it failed. */
        st->id = 0;
        free(st->up);
        st->up = NULL;
        st->up_len = st->up_off = 0;
        stream_reply(g, st, 502, c->reason && c->reason[0] ? c->reason : "the host closed the connection");
        stream_write(s, g, st);
        return;
    }
    if (st->phase != PHASE_PIPE)
        return;
    st->down_eof = true;
    if (!c->write_only) {
        st->host_closed = true;
        st->deadline = guest_now_ns() + MS(GUEST_EGRESS_DRAIN_TIMEOUT_MS);
    }
    stream_write(s, g, st);
    stream_check(s, g, st);
}

void guest_egress_frame(struct guest_server *s, struct guest_egress *g, struct conn *c, uint64_t id,
                        const Guest__V1__Frame *f)
{
    if (!g->active || g->conn != c || g->id != id)
        return; /* not for the proxy in flight (or it stopped): ignored, like credit for an ended exec */
    switch (f->body_case) {
    case GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT:
        on_open_result(s, g, f->egress_open_result);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_DATA:
        on_data(s, g, f->egress_data);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_CREDIT:
        on_credit(s, g, f->egress_credit);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_CLOSE:
        on_close(s, g, f->egress_close);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- start and stop */

/* One PEM certificate: the markers, base64 lines, nothing else. */
static bool ca_pem_valid(const char *pem)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----\n", end[] = "-----END CERTIFICATE-----\n";
    size_t n = strlen(pem);
    if (n > GUEST_EGRESS_MAX_CA || n < sizeof(begin) + sizeof(end) || strncmp(pem, begin, sizeof(begin) - 1) != 0 ||
        strcmp(pem + n - (sizeof(end) - 1), end) != 0)
        return false;
    for (size_t i = sizeof(begin) - 1; i < n - (sizeof(end) - 1); i++) {
        char ch = pem[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
              ch == '/' || ch == '=' || ch == '\n'))
            return false;
    }
    return true;
}

/* Writes data to path anew (root's, 0644), never through a link. */
static int write_new_file(const char *path, const char *a, size_t alen, const char *b, size_t blen)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const char *parts[2] = {a, b};
    size_t lens[2] = {alen, blen};
    for (int p = 0; p < 2; p++) {
        size_t off = 0;
        while (off < lens[p]) {
            ssize_t w = write(fd, parts[p] + off, lens[p] - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                close(fd);
                return -1;
            }
            off += (size_t)w;
        }
    }
    fchmod(fd, 0644);
    return close(fd);
}

/* The system's bundle plus the session's CA, and the CA alone. */
static int write_ca_files(const char *ca)
{
    if (mkdir(GUEST_EGRESS_CA_DIR, 0755) < 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (lstat(GUEST_EGRESS_CA_DIR, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0) {
        errno = EPERM;
        return -1;
    }
    chmod(GUEST_EGRESS_CA_DIR, 0755);
    char *system = NULL;
    size_t slen = 0;
    FILE *f = fopen(GUEST_SYSTEM_CA_BUNDLE, "re");
    if (f) {
        size_t cap = 0;
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && slen < (8u << 20)) {
            if (slen + n + 2 > cap) {
                cap = (slen + n + 2) * 2;
                char *nb = realloc(system, cap);
                if (!nb)
                    break;
                system = nb;
            }
            memcpy(system + slen, buf, n);
            slen += n;
        }
        fclose(f);
        if (system && slen && system[slen - 1] != '\n')
            system[slen++] = '\n';
    }
    int rc = write_new_file(GUEST_EGRESS_CA_BUNDLE, system ? system : "", system ? slen : 0, ca, strlen(ca));
    free(system);
    if (rc == 0)
        rc = write_new_file(GUEST_EGRESS_CA_SINGLE, ca, strlen(ca), "", 0);
    return rc;
}

void guest_egress_request(struct guest_server *s, struct guest_egress *g, struct conn *c, uint64_t id,
                          const Guest__V1__EgressRequest *req)
{
    if (g->active) {
        guest_server_send_error(s, c, id, CODE(BUSY), "the egress proxy is already running");
        return;
    }
    if (req->port > 65535 || req->max_streams > GUEST_EGRESS_MAX_STREAMS || req->window > GUEST_EGRESS_MAX_WINDOW ||
        req->max_header_bytes > GUEST_EGRESS_MAX_HEADER) {
        guest_server_send_error(s, c, id, CODE(INVALID),
                                "egress: port over 65535, max_streams over 1024, window over 16 MiB or "
                                "max_header_bytes over 64 KiB");
        return;
    }
    const char *ca = req->ca_certificate ? req->ca_certificate : "";
    if (ca[0] && !ca_pem_valid(ca)) {
        guest_server_send_error(s, c, id, CODE(INVALID),
                                "egress: ca_certificate must be one PEM certificate of at most 16 KiB");
        return;
    }
    uint32_t port = req->port ? req->port : GUEST_EGRESS_DEFAULT_PORT;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        guest_server_send_error(s, c, id, CODE(IO), "egress: cannot make a socket");
        return;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "egress: cannot listen on 127.0.0.1:%u: %s", port, strerror(errno));
        close(fd);
        guest_server_send_error(s, c, id, CODE(IO), msg);
        return;
    }
    /* A descriptor per connection: PID 1 starts with a soft limit of 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    reap_streams(g, true);
    /* Dead streams stay until housekeeping frees them: room for a turn's worth. */
    size_t cap = (size_t)(req->max_streams ? req->max_streams : GUEST_EGRESS_DEFAULT_STREAMS) +
                 GUEST_EGRESS_SPARE_CLIENTS + 32;
    g->streams = calloc(cap, sizeof(*g->streams));
    if (!g->streams) {
        close(fd);
        guest_server_send_error(s, c, id, CODE(BUSY), "egress: out of memory");
        return;
    }
    g->cap = cap;
    g->active = true;
    g->conn = c;
    g->id = id;
    g->port = port;
    g->max_streams = req->max_streams ? req->max_streams : GUEST_EGRESS_DEFAULT_STREAMS;
    g->window = req->window ? req->window : GUEST_EGRESS_DEFAULT_WINDOW;
    g->max_header = req->max_header_bytes ? req->max_header_bytes : GUEST_EGRESS_DEFAULT_HEADER;
    g->listen_fd = fd;
    g->accept_pause_until = 0;
    g->opened = g->bytes_out = g->bytes_in = 0;
    g->next_id = 0;
    guest_exec_set_ca_files(NULL, NULL);
    if (ca[0]) {
        if (write_ca_files(ca) == 0)
            guest_exec_set_ca_files(GUEST_EGRESS_CA_BUNDLE, GUEST_EGRESS_CA_SINGLE);
        else
            guest_log("egress: cannot write the session's CA bundle: %s", strerror(errno));
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    guest_exec_set_proxy(url);
    guest_log("egress proxy listening on 127.0.0.1:%u", port);
}

/* Closes every stream and the listener; replies when the connection is
 * still there. */
static void egress_stop(struct guest_server *s, struct guest_egress *g, bool reply)
{
    for (size_t i = 0; i < g->n; i++)
        stream_kill(s, g, g->streams[i], reply ? "the proxy stopped" : NULL);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    g->listen_fd = -1;
    g->active = false;
    guest_exec_set_ca_files(NULL, NULL);
    guest_exec_set_proxy(NULL);
    if (reply) {
        Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
        Guest__V1__EgressResponse r = GUEST__V1__EGRESS_RESPONSE__INIT;
        r.streams = g->opened;
        r.bytes_out = g->bytes_out;
        r.bytes_in = g->bytes_in;
        f.body_case = GUEST__V1__FRAME__BODY_EGRESS_RESPONSE;
        f.egress_response = &r;
        send_frame(s, g, &f);
    }
    g->conn = NULL;
    guest_log("egress proxy stopped (%llu streams, %llu bytes out, %llu in)", (unsigned long long)g->opened,
              (unsigned long long)g->bytes_out, (unsigned long long)g->bytes_in);
}

bool guest_egress_cancel(struct guest_server *s, struct guest_egress *g, struct conn *c, uint64_t id)
{
    if (!g->active || g->conn != c || g->id != id || !c)
        return false;
    egress_stop(s, g, true);
    return true;
}

void guest_egress_detach(struct guest_server *s, struct guest_egress *g, struct conn *c)
{
    if (g->active && g->conn == c)
        egress_stop(s, g, false);
}

/* ---------------------------------------------------------------- the loop */

static void accept_clients(struct guest_server *s, struct guest_egress *g)
{
    for (int i = 0; i < 16 && g->listen_fd >= 0; i++) {
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                g->accept_pause_until = guest_now_ns() + ACCEPT_PAUSE_NS; /* out of descriptors: later */
            return;
        }
        size_t live = 0;
        for (size_t k = 0; k < g->n; k++)
            live += !g->streams[k]->dead;
        struct stream *st = NULL;
        if (live < (size_t)g->max_streams + GUEST_EGRESS_SPARE_CLIENTS && g->n < g->cap)
            st = calloc(1, sizeof(*st));
        if (!st) {
            /* No room even to read its head: say so, best effort, and hang up. */
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                       "Content-Length: 39\r\nConnection: close\r\n\r\n"
                                       "too many connections through the proxy\n";
            ssize_t ignored = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)ignored;
            close(fd);
            continue;
        }
        st->fd = fd;
        st->phase = PHASE_HEAD;
        st->deadline = guest_now_ns() + MS(GUEST_EGRESS_HEAD_TIMEOUT_MS);
        guest_proxy_head_init(&st->head, g->max_header);
        g->streams[g->n++] = st;
        (void)s;
    }
}

static short stream_events(const struct guest_egress *g, const struct stream *st)
{
    short ev = 0;
    switch (st->phase) {
    case PHASE_HEAD:
        ev = POLLIN;
        break;
    case PHASE_WAIT:
        break;
    case PHASE_PIPE:
        if (can_read_pipe(g, st))
            ev |= POLLIN;
        if (st->local_off < st->local_len || st->down_len > st->down_off)
            ev |= POLLOUT;
        break;
    case PHASE_REPLY:
        ev = st->local_off < st->local_len ? POLLOUT : POLLIN;
        break;
    }
    return ev;
}

size_t guest_egress_poll_fds(struct guest_egress *g, struct pollfd *pfd, void **refs, size_t max, uint64_t now)
{
    size_t n = 0;
    if (g->listen_fd >= 0 && now >= g->accept_pause_until && n < max) {
        pfd[n] = (struct pollfd){.fd = g->listen_fd, .events = POLLIN};
        refs[n++] = g;
    }
    for (size_t i = 0; i < g->n && n < max; i++) {
        struct stream *st = g->streams[i];
        if (st->dead || st->fd < 0)
            continue;
        pfd[n] = (struct pollfd){.fd = st->fd, .events = stream_events(g, st)};
        refs[n++] = st;
    }
    return n;
}

/* Lingering after our answer: read and drop until EOF, a cap, or the deadline. */
static void stream_linger(struct guest_server *s, struct guest_egress *g, struct stream *st)
{
    uint8_t chunk[16384];
    for (int rounds = 0; rounds < 4; rounds++) {
        ssize_t n = read(st->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0 || (st->discarded += (size_t)n) > LINGER_MAX_BYTES) {
            stream_kill(s, g, st, NULL);
            return;
        }
    }
}

void guest_egress_ready(struct guest_server *s, struct guest_egress *g, void *ref, short revents)
{
    if (ref == g) {
        if (g->active)
            accept_clients(s, g);
        return;
    }
    struct stream *st = NULL;
    for (size_t i = 0; i < g->n && !st; i++)
        if (g->streams[i] == ref)
            st = ref;
    if (!st || st->dead)
        return;
    short want = stream_events(g, st);
    bool failed = (revents & (POLLERR | POLLHUP)) != 0;
    if ((revents & POLLOUT) || (failed && (want & POLLOUT)))
        stream_write(s, g, st);
    if (!st->dead && ((revents & POLLIN) || failed) && (want & POLLIN)) {
        switch (st->phase) {
        case PHASE_HEAD:
            stream_read_head(s, g, st);
            break;
        case PHASE_PIPE:
            stream_read_pipe(s, g, st);
            break;
        case PHASE_REPLY:
            stream_linger(s, g, st);
            break;
        case PHASE_WAIT:
            break;
        }
    } else if (!st->dead && failed && !(want & (POLLIN | POLLOUT))) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(st->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
        stream_workload_failed(s, g, st, soerr);
    }
    if (!st->dead && st->phase == PHASE_REPLY && st->local_len == 0 && (failed || (revents & POLLHUP)))
        stream_kill(s, g, st, NULL);
    if (!st->dead)
        stream_check(s, g, st);
}

uint64_t guest_egress_housekeeping(struct guest_server *s, struct guest_egress *g, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    if (g->active && guest_conn_input_ended(g->conn)) {
        /* The host sends nothing more (no credit, no decision): stop. */
        egress_stop(s, g, true);
    }
    for (size_t i = 0; i < g->n; i++) {
        struct stream *st = g->streams[i];
        if (st->dead)
            continue;
        if (st->phase == PHASE_PIPE && !st->host_closed)
            continue; /* no time limit of its own: the host applies those */
        if (st->deadline && now >= st->deadline) {
            switch (st->phase) {
            case PHASE_HEAD:
                stream_reply(g, st, 408, "the request head did not arrive in time");
                stream_write(s, g, st);
                break;
            case PHASE_WAIT:
                send_close(s, g, st->id, false, "no decision in time");
                st->id = 0;
                stream_reply(g, st, 504, "no decision on this connection in time");
                stream_write(s, g, st);
                break;
            case PHASE_REPLY:
            case PHASE_PIPE:
                stream_kill(s, g, st, st->phase == PHASE_PIPE ? "the workload did not read in time" : NULL);
                break;
            }
        }
        if (!st->dead && st->deadline && st->deadline < next)
            next = st->deadline;
    }
    reap_streams(g, false);
    if (g->active && g->listen_fd >= 0 && g->accept_pause_until > now && g->accept_pause_until < next)
        next = g->accept_pause_until;
    return next;
}

bool guest_egress_active(const struct guest_egress *g)
{
    return g->active;
}
