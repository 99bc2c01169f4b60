#include "proxy/proxy.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "wire/frame.h"

/* The host never needs guest frames bigger than an exec reply with two capped streams. */
#define PROXY_MAX_PENDING 1024
/* A vsock connect completes on the event loop; a guest that neither accepts
 * nor refuses by then counts as not there yet. */
#define VSOCK_CONNECT_TIMEOUT_MS 1000

struct pending {
    struct pending *next;
    struct proxy_conn *conn;
    uint64_t id;
    proxy_reply_fn on_reply;
    proxy_output_fn on_output;
    proxy_frame_fn on_frame;
    void *ctx;
    struct event *timer;
};

struct proxy_conn {
    struct event_base *base;
    struct bufferevent *bev;
    struct wire_decoder decoder;
    struct pending *pending;
    unsigned n_pending;
    uint64_t next_id;
    proxy_closed_fn on_closed;
    void *ctx;
    int handshake; /* hybrid vsock: waiting for "OK <port>\n" */
    struct event *connect_timer; /* a vsock connect in progress */
    int dead;
    int busy;         /* inside a callback from on_read/on_event */
    int free_pending; /* proxy_conn_free was called while busy */
    /* The HelloRequest resumed a restored VM (vmm_channel.resume): its
     * answer must say so, or the connection is dropped. */
    bool resuming;
    uint64_t hello_id;
};

static void stop_connect_timer(struct proxy_conn *c)
{
    if (c->connect_timer) {
        event_free(c->connect_timer);
        c->connect_timer = NULL;
    }
}

static void conn_destroy(struct proxy_conn *c)
{
    stop_connect_timer(c);
    wire_decoder_release(&c->decoder);
    free(c);
}

static void pending_finish(struct pending *p, const Guest__V1__Frame *reply, const struct error *err)
{
    if (p->timer)
        event_free(p->timer);
    proxy_reply_fn cb = p->on_reply;
    void *ctx = p->ctx;
    free(p);
    if (cb)
        cb(reply, err, ctx);
}

static struct pending *pending_take(struct proxy_conn *c, uint64_t id)
{
    for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct pending *p = *pp;
            *pp = p->next;
            c->n_pending--;
            return p;
        }
    }
    return NULL;
}

static struct pending *pending_find(struct proxy_conn *c, uint64_t id)
{
    for (struct pending *p = c->pending; p; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

static void fail_all(struct proxy_conn *c, const struct error *why)
{
    while (c->pending) {
        struct pending *p = c->pending;
        c->pending = p->next;
        c->n_pending--;
        pending_finish(p, NULL, why);
    }
}

static void conn_lost(struct proxy_conn *c, const char *what)
{
    if (c->dead)
        return;
    c->dead = 1;
    stop_connect_timer(c);
    struct error why;
    error_set(&why, ERR_UNAVAILABLE, "guest channel: %s", what);
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    fail_all(c, &why);
    if (c->on_closed)
        c->on_closed(&why, c->ctx);
}

/* The frames a guest may send the host: answers and output. A guest that
 * sends anything else (a request, a body the host does not know) is refused
 * here, before any handler sees it. A new answer type must be added here. */
#define PROXY_GUEST_FRAMES(X)                                                                      \
    X(GUEST__V1__FRAME__BODY_HEALTH_RESPONSE)                                                      \
    X(GUEST__V1__FRAME__BODY_EXEC_OUTPUT)                                                          \
    X(GUEST__V1__FRAME__BODY_EXEC_RESPONSE)                                                        \
    X(GUEST__V1__FRAME__BODY_SHUTDOWN_RESPONSE)                                                    \
    X(GUEST__V1__FRAME__BODY_ERROR)                                                                \
    X(GUEST__V1__FRAME__BODY_CANCEL_RESPONSE)                                                      \
    X(GUEST__V1__FRAME__BODY_FILE_RESPONSE)                                                        \
    X(GUEST__V1__FRAME__BODY_FILE_CHUNK)                                                           \
    X(GUEST__V1__FRAME__BODY_FILE_CREDIT)                                                          \
    X(GUEST__V1__FRAME__BODY_CODE_EVENT)                                                           \
    X(GUEST__V1__FRAME__BODY_CODE_RESPONSE)                                                        \
    X(GUEST__V1__FRAME__BODY_EGRESS_OPEN)                                                          \
    X(GUEST__V1__FRAME__BODY_EGRESS_DATA)                                                          \
    X(GUEST__V1__FRAME__BODY_EGRESS_CREDIT)                                                        \
    X(GUEST__V1__FRAME__BODY_EGRESS_CLOSE)                                                         \
    X(GUEST__V1__FRAME__BODY_EGRESS_RESPONSE)

static bool guest_may_send(Guest__V1__Frame__BodyCase body)
{
    switch (body) {
#define PROXY_CASE(name) case name:
        PROXY_GUEST_FRAMES(PROXY_CASE)
#undef PROXY_CASE
        return true;
    default:
        return false;
    }
}

static bool is_frame_before_reply(Guest__V1__Frame__BodyCase body)
{
    switch (body) {
    case GUEST__V1__FRAME__BODY_FILE_CHUNK:
    case GUEST__V1__FRAME__BODY_FILE_CREDIT:
    case GUEST__V1__FRAME__BODY_CODE_EVENT:
    case GUEST__V1__FRAME__BODY_EGRESS_OPEN:
    case GUEST__V1__FRAME__BODY_EGRESS_DATA:
    case GUEST__V1__FRAME__BODY_EGRESS_CREDIT:
    case GUEST__V1__FRAME__BODY_EGRESS_CLOSE:
        return true;
    default:
        return false;
    }
}

static void dispatch(struct proxy_conn *c, Guest__V1__Frame *f)
{
    /* The answer to our HelloRequest: nothing waits on it (a wrong key
     * closes the connection instead). */
    if (f->body_case == GUEST__V1__FRAME__BODY_HELLO_RESPONSE) {
        if (c->resuming && f->id == c->hello_id) {
            c->resuming = false;
            if (!f->hello_response || !f->hello_response->resumed) {
                /* An init that ignored the new key still holds the
                 * snapshot's, shared with every VM restored from it. */
                conn_lost(c, "the restored guest did not take its new key");
                return;
            }
        }
        return;
    }
    if (!guest_may_send(f->body_case)) {
        log_warn("guest sent a frame of type %d, which the host never accepts; refused",
                 (int)f->body_case);
        struct pending *p = pending_take(c, f->id);
        if (p != NULL) {
            struct error e;
            error_set(&e, ERR_INTERNAL, "the guest answered with a frame of type %d, which the "
                      "host never accepts", (int)f->body_case);
            pending_finish(p, NULL, &e);
        }
        return;
    }
    /* Frames before a reply: a transfer's content and credit, a cell's
     * events, the streams of an egress request. Frames for an id that is
     * not pending, or whose request takes no such frames, are dropped. */
    if (is_frame_before_reply(f->body_case)) {
        struct pending *p = pending_find(c, f->id);
        if (p && p->on_frame)
            p->on_frame(f, p->ctx);
        else
            log_debug("guest frame of type %d for request %llu dropped", (int)f->body_case,
                      (unsigned long long)f->id);
        return;
    }
    if (f->body_case == GUEST__V1__FRAME__BODY_EXEC_OUTPUT) {
        struct pending *p = pending_find(c, f->id);
        if (p && p->on_output)
            p->on_output(f->exec_output, p->ctx);
        return;
    }
    if (f->id == 0 && f->body_case == GUEST__V1__FRAME__BODY_ERROR) {
        /* The guest could not read our stream: it is no longer in step. */
        log_warn("guest reported a framing error: %s",
                 f->error->message ? f->error->message : "");
        conn_lost(c, "the guest could not decode our frames");
        return;
    }
    struct pending *p = pending_take(c, f->id);
    if (p == NULL) {
        log_debug("guest reply for unknown request %llu dropped", (unsigned long long)f->id);
        return;
    }
    pending_finish(p, f, NULL);
}

static int handle_handshake(struct proxy_conn *c, struct evbuffer *in)
{
    size_t len = 0;
    char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
    if (line == NULL) {
        if (evbuffer_get_length(in) > 64)
            return -1;
        return 0;
    }
    int ok = strncmp(line, "OK ", 3) == 0;
    free(line);
    if (!ok)
        return -1;
    c->handshake = 0;
    return 1;
}

static void on_read_locked(struct proxy_conn *c, struct bufferevent *bev);

static void on_read(struct bufferevent *bev, void *arg)
{
    struct proxy_conn *c = arg;
    c->busy++;
    on_read_locked(c, bev);
    c->busy--;
    if (c->busy == 0 && c->free_pending)
        conn_destroy(c);
}

static void on_read_locked(struct proxy_conn *c, struct bufferevent *bev)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->handshake) {
        int r = handle_handshake(c, in);
        if (r < 0) {
            conn_lost(c, "vsock handshake refused");
            return;
        }
        if (r == 0)
            return;
    }
    while (!c->dead && evbuffer_get_length(in) > 0) {
        size_t avail = 0;
        struct evbuffer_iovec vec;
        if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
            break;
        avail = vec.iov_len;
        long took = wire_decoder_feed(&c->decoder, vec.iov_base, avail);
        if (took < 0) {
            conn_lost(c, "out of memory");
            return;
        }
        evbuffer_drain(in, (size_t)took);
        for (;;) {
            Guest__V1__Frame *f = NULL;
            int r = wire_decoder_next(&c->decoder, &f);
            if (r == 0)
                break;
            if (r == WIRE_ERR_BAD_FRAME) {
                log_warn("guest sent a frame that does not decode; skipped");
                continue;
            }
            if (r < 0) {
                conn_lost(c, wire_strerror(r));
                return;
            }
            dispatch(c, f);
            guest__v1__frame__free_unpacked(f, NULL);
            if (c->dead)
                return;
        }
        if (took == 0 && wire_decoder_pending(&c->decoder) == 0)
            break;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct proxy_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        stop_connect_timer(c);
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        char why[160];
        int soerr = EVUTIL_SOCKET_ERROR();
        snprintf(why, sizeof(why), "%s%s%s",
                 (what & BEV_EVENT_EOF) ? "the guest closed the connection" : "connection error",
                 (what & BEV_EVENT_ERROR) && soerr ? ": " : "",
                 (what & BEV_EVENT_ERROR) && soerr ? strerror(soerr) : "");
        c->busy++;
        conn_lost(c, why);
        c->busy--;
        if (c->busy == 0 && c->free_pending)
            conn_destroy(c);
    }
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_conn *c = arg;
    c->busy++;
    conn_lost(c, "the guest did not accept the vsock connection in time");
    c->busy--;
    if (c->busy == 0 && c->free_pending)
        conn_destroy(c);
}

/* A vsock connect is left to the event loop (a guest that is still booting
 * may answer late, and the kernel's own connect timeout is seconds): the
 * socket is returned at once, still connecting. */
static int connect_socket(const struct vmm_channel *ch, struct error *err)
{
    int fd;
    if (ch->kind == VMM_CHANNEL_VSOCK) {
        fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return error_set_errno(err, ERR_UNAVAILABLE, "vsock socket");
    } else {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(ch->path) >= sizeof(addr.sun_path))
            return error_set(err, ERR_INVALID_ARGUMENT, "channel path too long");
        strcpy(addr.sun_path, ch->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return error_set_errno(err, ERR_UNAVAILABLE, "unix socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            error_set_errno(err, ERR_UNAVAILABLE, "connect %s", ch->path);
            close(fd);
            return -1;
        }
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return fd;
}

int proxy_connect(struct event_base *base, const struct vmm_channel *channel,
                  proxy_closed_fn on_closed, void *ctx, struct proxy_conn **out,
                  struct error *err)
{
    int fd = connect_socket(channel, err);
    if (fd < 0)
        return -1;
    struct proxy_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    c->base = base;
    c->next_id = 1;
    c->on_closed = on_closed;
    c->ctx = ctx;
    wire_decoder_init(&c->decoder, WIRE_MAX_FRAME);
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        close(fd);
        wire_decoder_release(&c->decoder);
        free(c);
        return error_set(err, ERR_INTERNAL, "cannot create a bufferevent");
    }
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (channel->kind == VMM_CHANNEL_VSOCK) {
        struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = channel->cid,
                                   .svm_port = channel->port};
        struct timeval tv = {.tv_sec = VSOCK_CONNECT_TIMEOUT_MS / 1000,
                             .tv_usec = (VSOCK_CONNECT_TIMEOUT_MS % 1000) * 1000};
        c->connect_timer = evtimer_new(base, on_connect_timeout, c);
        if (c->connect_timer == NULL || evtimer_add(c->connect_timer, &tv) < 0 ||
            bufferevent_socket_connect(c->bev, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            error_set_errno(err, ERR_UNAVAILABLE, "vsock connect cid %u port %u", channel->cid,
                            channel->port);
            stop_connect_timer(c);
            bufferevent_free(c->bev);
            wire_decoder_release(&c->decoder);
            free(c);
            return -1;
        }
    }
    if (channel->kind == VMM_CHANNEL_HYBRID_VSOCK) {
        c->handshake = 1;
        evbuffer_add_printf(bufferevent_get_output(c->bev), "CONNECT %u\n", channel->port);
    }
    /* A guest that stopped reading after a bad length on a port that never
     * closes (virtio-serial) starts afresh at this marker. */
    static const uint8_t sync_marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;
    bufferevent_write(c->bev, sync_marker, sizeof(sync_marker));
    /* The guest serves nothing until the host proves the VM's secret; a
     * sync marker starts a new connection, so this follows it each time. */
    Guest__V1__Frame hello = GUEST__V1__FRAME__INIT;
    Guest__V1__HelloRequest hr = GUEST__V1__HELLO_REQUEST__INIT;
    hr.key.data = (uint8_t *)channel->key;
    hr.key.len = sizeof(channel->key);
    hello.id = c->next_id++;
    hello.body_case = GUEST__V1__FRAME__BODY_HELLO_REQUEST;
    hello.hello_request = &hr;
    /* A restored VM: prove the snapshot's key, hand over this VM's own,
     * fresh entropy for its RNG and the time (guest.proto, HelloRequest). */
    uint8_t entropy[64];
    int entropy_ok = 1;
    if (channel->resume) {
        if (getrandom(entropy, sizeof(entropy), 0) != (ssize_t)sizeof(entropy))
            entropy_ok = 0;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        hr.key.data = (uint8_t *)channel->resume_key;
        hr.new_key.data = (uint8_t *)channel->key;
        hr.new_key.len = sizeof(channel->key);
        hr.entropy.data = entropy;
        hr.entropy.len = sizeof(entropy);
        hr.unix_time_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        c->resuming = true;
        c->hello_id = hello.id;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int encoded = entropy_ok ? wire_encode(&hello, &buf, &len) : -1;
    explicit_bzero(entropy, sizeof(entropy));
    if (encoded < 0 || bufferevent_write(c->bev, buf, len) < 0) {
        if (buf) {
            explicit_bzero(buf, len);
            free(buf);
        }
        bufferevent_free(c->bev);
        wire_decoder_release(&c->decoder);
        free(c);
        return error_set(err, ERR_INTERNAL, "cannot send the channel key");
    }
    explicit_bzero(buf, len);
    free(buf);
    *out = c;
    return 0;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    struct proxy_conn *c = p->conn;
    if (pending_take(c, p->id) == NULL)
        return;
    struct error e;
    error_set(&e, ERR_DEADLINE_EXCEEDED, "the guest did not answer in time");
    pending_finish(p, NULL, &e);
}

int proxy_request(struct proxy_conn *c, Guest__V1__Frame *req, unsigned timeout_ms,
                  proxy_reply_fn on_reply, proxy_output_fn on_output, void *ctx,
                  uint64_t *id_out, struct error *err)
{
    uint64_t id;
    if (proxy_request_frames(c, req, timeout_ms, on_reply, NULL, ctx, &id, err) < 0)
        return -1;
    struct pending *p = pending_find(c, id);
    if (p)
        p->on_output = on_output;
    if (id_out)
        *id_out = id;
    return 0;
}

int proxy_request_frames(struct proxy_conn *c, Guest__V1__Frame *req, unsigned timeout_ms,
                         proxy_reply_fn on_reply, proxy_frame_fn on_frame, void *ctx,
                         uint64_t *id_out, struct error *err)
{
    if (c->dead || c->bev == NULL)
        return error_set(err, ERR_UNAVAILABLE, "guest channel is closed");
    if (c->n_pending >= PROXY_MAX_PENDING)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "too many requests in flight to this VM");
    req->id = c->next_id++;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = wire_encode(req, &buf, &len);
    if (r < 0)
        return error_set(err, r == WIRE_ERR_TOO_LARGE ? ERR_RESOURCE_EXHAUSTED : ERR_INTERNAL,
                         "cannot encode a guest request: %s", wire_strerror(r));
    struct pending *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        free(buf);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    p->conn = c;
    p->id = req->id;
    p->on_reply = on_reply;
    p->on_frame = on_frame;
    p->ctx = ctx;
    if (timeout_ms > 0) {
        p->timer = evtimer_new(c->base, on_timeout, p);
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        if (p->timer == NULL || evtimer_add(p->timer, &tv) < 0) {
            if (p->timer)
                event_free(p->timer);
            free(p);
            free(buf);
            return error_set(err, ERR_INTERNAL, "cannot arm a timer");
        }
    }
    if (bufferevent_write(c->bev, buf, len) < 0) {
        free(buf);
        if (p->timer)
            event_free(p->timer);
        free(p);
        return error_set(err, ERR_UNAVAILABLE, "cannot write to the guest channel");
    }
    free(buf);
    p->next = c->pending;
    c->pending = p;
    c->n_pending++;
    if (id_out)
        *id_out = p->id;
    return 0;
}

void proxy_cancel(struct proxy_conn *c, uint64_t id)
{
    struct pending *p = pending_take(c, id);
    if (p == NULL)
        return;
    if (p->timer)
        event_free(p->timer);
    free(p);
    if (c->dead || c->bev == NULL)
        return;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__CancelRequest cr = GUEST__V1__CANCEL_REQUEST__INIT;
    cr.target_id = id;
    f.body_case = GUEST__V1__FRAME__BODY_CANCEL_REQUEST;
    f.cancel_request = &cr;
    struct error ignored;
    proxy_send(c, c->next_id++, &f, &ignored);
}

int proxy_send(struct proxy_conn *c, uint64_t id, Guest__V1__Frame *f, struct error *err)
{
    if (c == NULL || c->dead || c->bev == NULL)
        return error_set(err, ERR_UNAVAILABLE, "guest channel is closed");
    f->id = id;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = wire_encode(f, &buf, &len);
    if (r < 0)
        return error_set(err, ERR_INTERNAL, "cannot encode a guest frame: %s", wire_strerror(r));
    r = bufferevent_write(c->bev, buf, len);
    free(buf);
    if (r < 0)
        return error_set(err, ERR_UNAVAILABLE, "cannot write to the guest channel");
    return 0;
}

size_t proxy_backlog(const struct proxy_conn *c)
{
    if (c == NULL || c->bev == NULL)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void proxy_exec_credit(struct proxy_conn *c, uint64_t id, uint64_t bytes)
{
    if (c == NULL || c->dead || c->bev == NULL || bytes == 0)
        return;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecCredit cr = GUEST__V1__EXEC_CREDIT__INIT;
    cr.bytes = bytes;
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_CREDIT;
    f.exec_credit = &cr;
    struct error ignored;
    proxy_send(c, id, &f, &ignored);
}

int proxy_exec_stdin(struct proxy_conn *c, uint64_t id, const uint8_t *data, size_t len,
                     bool close, struct error *err)
{
    if (c == NULL || c->dead || c->bev == NULL)
        return error_set(err, ERR_UNAVAILABLE, "guest channel is closed");
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecStdin in = GUEST__V1__EXEC_STDIN__INIT;
    in.data.data = (uint8_t *)data;
    in.data.len = len;
    in.close = close;
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_STDIN;
    f.exec_stdin = &in;
    f.id = id;
    uint8_t *buf = NULL;
    size_t blen = 0;
    int r = wire_encode(&f, &buf, &blen);
    if (r < 0)
        return error_set(err, ERR_INTERNAL, "cannot encode stdin: %s", wire_strerror(r));
    int w = bufferevent_write(c->bev, buf, blen);
    free(buf);
    if (w < 0)
        return error_set(err, ERR_UNAVAILABLE, "cannot write to the guest channel");
    return 0;
}

unsigned proxy_pending_count(const struct proxy_conn *c)
{
    return c->n_pending;
}

void proxy_conn_free(struct proxy_conn *c)
{
    if (c == NULL)
        return;
    c->on_closed = NULL;
    c->dead = 1;
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    struct error why;
    error_set(&why, ERR_CANCELED, "guest connection closed");
    c->busy++;
    fail_all(c, &why);
    c->busy--;
    if (c->busy > 0) {
        c->free_pending = 1; /* freed when the callback in progress returns */
        return;
    }
    conn_destroy(c);
}
