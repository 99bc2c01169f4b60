/* A session's egress (egress.h): the streams of the guest's HTTP proxy, each
 * decided through the gate, resolved off the loop, checked, connected to
 * exactly the address checked, piped within the window, limited and
 * audited. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/text.h"
#include "egress/internal.h"
#include "secret/secret.h"

#define MAX_PATH_TEXT 8192   /* the path the policy sees */
#define AUDIT_PATH_TEXT 512  /* the path the audit record keeps */
#define MAX_METHOD 32
#define GUEST_REASON_TEXT 256 /* a guest's reason for closing a stream, as recorded */

/* What a NET:CONNECT record says became of a stream. */
#define OUTCOMES(X)                                                                            \
    X(OUTCOME_COMPLETE, "complete") /* connected, the exchange finished, all delivered */      \
    X(OUTCOME_FAILED, "failed")     /* connected (or abandoned), ended before that */          \
    X(OUTCOME_REFUSED, "refused")   /* never connected: the workload got an HTTP refusal */

enum outcome {
#define X(id, name) id,
    OUTCOMES(X)
#undef X
};

static const char *outcome_name(enum outcome o)
{
    static const char *const names[] = {
#define X(id, name) [id] = name,
        OUTCOMES(X)
#undef X
    };
    return names[o];
}

enum stream_state {
    ST_RESOLVING,  /* waiting for the lookup */
    ST_CONNECTING, /* decided, connecting */
    ST_OPEN,
};

struct stream {
    struct stream *next;
    struct egress *e;
    uint32_t id;
    enum stream_state state;
    char host[EGRESS_MAX_HOST + 1];
    bool literal;
    unsigned port;
    char scheme[8];
    char method[MAX_METHOD + 1];
    char *path;
    struct egress_lookup *lookup;
    struct egress_addr addrs[EGRESS_MAX_ADDRS]; /* what the host resolved */
    size_t n_addrs;
    struct egress_addr ok[EGRESS_MAX_ADDRS];    /* what passed the address check */
    size_t n_ok, next_try;
    char connected[48];
    struct bufferevent *bev;
    struct evbuffer *early; /* guest data that came before the connection */
    struct event *timer;    /* connect timeout, then the connection's time limit */
    /* limits from the decision */
    uint64_t max_bytes;
    unsigned timeout_s;
    bool session_deadline; /* its timer is the session's time limit */
    uint64_t decision_seq;
    /* flow control */
    uint64_t guest_unacked; /* guest data taken and not yet credited back */
    uint64_t guest_credit;  /* what the guest lets us send it */
    bool guest_closed_write; /* the guest sends no more */
    bool remote_eof;
    bool sent_half_close;   /* we told the guest the remote sends no more */
    bool shut_remote;       /* we shut down our writing side to the remote */
    bool reading_paused;
    uint64_t bytes_out, bytes_in;
    int64_t start_ns;
    /* The decision's inject_secret: the request goes through this. */
    struct egress_inject *inject;
    char secret_name[SECRET_NAME_MAX + 1];
    uint64_t extra_out; /* bytes in the output that are not the guest's (not credited back) */
    /* CONNECT with a secret: the host terminates the workload's TLS. bev is
     * then one end of a pair whose other end carries `down`, the TLS
     * session towards the guest (the session CA's leaf); `up` is the TLS
     * session towards the real server over the TCP connection. */
    bool tls;
    struct bufferevent *up, *down;
    bool up_eof;
    bool down_done; /* close_notify sent and the pair's EOF given */
    /* What the record's outcome rests on. The server's answer (plain HTTP,
     * and HTTPS the host terminates) parsed as it passes; answer_end: the
     * count of bytes towards the guest at which all of it was handed over
     * (for TLS: its last record), known once answer_sent. */
    struct egress_answer *answer;
    bool answer_sent;
    uint64_t answer_end;
    uint64_t credited_in;  /* bytes_in the guest credited back: written to the workload */
    bool remote_clean;     /* the remote closed its side cleanly */
    char remote_error[600]; /* how the remote's side failed, when it did */
};

/* A token bucket: a token every interval_ns, at most burst of them. The
 * tokens are kept as nanoseconds of credit (one token is interval_ns), so
 * the arithmetic is whole numbers. */
struct bucket {
    int64_t interval_ns;
    int64_t capacity_ns; /* burst tokens */
    int64_t credit_ns;
    int64_t last_ns;
    uint64_t refused;    /* takes refused since bucket_refused_take() */
};

static void bucket_init(struct bucket *b, unsigned per_s, unsigned burst, int64_t now)
{
    b->interval_ns = 1000000000 / per_s;
    b->capacity_ns = b->interval_ns * burst;
    b->credit_ns = b->capacity_ns;
    b->last_ns = now;
    b->refused = 0;
}

/* Takes one token at time now: true, or false (counted) when none is left. */
static bool bucket_take(struct bucket *b, int64_t now)
{
    if (now > b->last_ns) {
        int64_t gained = now - b->last_ns;
        b->credit_ns = gained >= b->capacity_ns - b->credit_ns ? b->capacity_ns : b->credit_ns + gained;
        b->last_ns = now;
    }
    if (b->credit_ns < b->interval_ns) {
        b->refused++;
        return false;
    }
    b->credit_ns -= b->interval_ns;
    return true;
}

/* How many takes were refused since the last call; starts counting anew. */
static uint64_t bucket_refused_take(struct bucket *b)
{
    uint64_t n = b->refused;
    b->refused = 0;
    return n;
}

struct egress {
    struct egress_config cfg;
    char session_id[65];
    char secrets_dir[4096];
    struct egress_ca *ca; /* the session's CA (NULL when it could not be made) */
    struct proxy_conn *conn;
    uint64_t req_id;
    bool active;
    struct stream *streams;
    unsigned n_streams;
    struct egress_stats stats;
    int64_t started_ns; /* first attach: the session's egress time counts from here */
    bool bytes_spent;   /* the session's byte limit was reached */
    bool time_spent;    /* the session's time limit was reached */
    struct bucket opens;             /* opens that reach the gate */
    struct bucket undecided_records; /* records of refusals without a decision */
    struct egress_addr *extra_host;
    size_t n_extra_host;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The clock of the rate limits. */
static int64_t rate_now_ns(const struct egress *e)
{
    return e->cfg.clock_ns ? e->cfg.clock_ns() : now_ns();
}

/* ------------------------------------------------------------ frames to the guest */

static void send_frame(struct egress *e, Guest__V1__Frame *f)
{
    if (!e->active || e->conn == NULL)
        return;
    struct error err;
    if (proxy_send(e->conn, e->req_id, f, &err) < 0)
        log_debug("egress %s: cannot send a frame: %s", e->session_id, err.message);
}

static void send_open_result(struct egress *e, uint32_t stream, bool allowed, unsigned status,
                             const char *reason)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressOpenResult r = GUEST__V1__EGRESS_OPEN_RESULT__INIT;
    r.stream = stream;
    r.allowed = allowed;
    r.status = status;
    r.reason = (char *)(reason ? reason : "");
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT;
    f.egress_open_result = &r;
    send_frame(e, &f);
}

static void send_close(struct egress *e, uint32_t stream, bool write_only, const char *reason)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressClose c = GUEST__V1__EGRESS_CLOSE__INIT;
    c.stream = stream;
    c.write_only = write_only;
    c.reason = (char *)(reason ? reason : "");
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_CLOSE;
    f.egress_close = &c;
    send_frame(e, &f);
}

static void send_credit(struct egress *e, uint32_t stream, uint64_t bytes)
{
    while (bytes > 0) {
        uint32_t n = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
        Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
        Guest__V1__EgressCredit c = GUEST__V1__EGRESS_CREDIT__INIT;
        c.stream = stream;
        c.bytes = n;
        f.body_case = GUEST__V1__FRAME__BODY_EGRESS_CREDIT;
        f.egress_credit = &c;
        send_frame(e, &f);
        bytes -= n;
    }
}

/* ------------------------------------------------------------ the audit record */

static json_t *addrs_json(const struct egress_addr *a, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char text[64];
        egress_addr_format(&a[i], text, sizeof(text));
        json_array_append_new(arr, json_string(text));
    }
    return arr;
}

/* The NET:CONNECT record of a stream at its end. status: the HTTP status
 * the workload got for a refusal, 0 for a connection that was made. */
static void record_stream(struct stream *s, bool allowed, unsigned status, const char *reason, enum outcome outcome)
{
    struct egress *e = s->e;
    char path[AUDIT_PATH_TEXT + 1];
    snprintf(path, sizeof(path), "%s", s->path ? s->path : "");
    int64_t dur_ms = (now_ns() - s->start_ns) / 1000000;
    json_t *d = json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:b, s:i, s:s, s:I, s:I, s:I, s:I}",
                          "stream", (json_int_t)s->id, "host", s->host, "port", (int)s->port, "scheme",
                          s->scheme, "method", s->method, "path", path, "addresses",
                          addrs_json(s->addrs, s->n_addrs), "address", s->connected, "allowed",
                          allowed, "status", (int)status, "reason", reason ? reason : "",
                          "bytes_out", (json_int_t)s->bytes_out, "bytes_in", (json_int_t)s->bytes_in,
                          "duration_ms", (json_int_t)dur_ms, "decision_seq",
                          (json_int_t)s->decision_seq);
    if (d != NULL)
        json_object_set_new(d, "outcome", json_string(outcome_name(outcome)));
    if (d != NULL && s->secret_name[0]) {
        /* That a secret went with the request, and which; never its value. */
        json_object_set_new(d, "secret", json_string(s->secret_name));
        json_object_set_new(d, "secret_injected", json_integer(egress_inject_count(s->inject)));
    }
    struct error err;
    if (gate_record(e->cfg.gate, AUDIT_NET_CONNECT, e->session_id, d, &err) < 0)
        log_error("egress %s: cannot record a connection: %s", e->session_id, err.message);
}

/* A refusal with no decision behind it (nothing was asked): rate-limited
 * (EGRESS_UNDECIDED_RECORDS_PER_S); "suppressed" counts those left out
 * since the last record. */
static void record_undecided(struct egress *e, uint32_t stream, const char *host, unsigned port,
                             unsigned status, const char *reason)
{
    if (!bucket_take(&e->undecided_records, rate_now_ns(e)))
        return;
    json_t *d = json_pack("{s:I, s:s, s:i, s:b, s:i, s:s, s:s, s:I, s:I, s:I}", "stream", (json_int_t)stream,
                          "host", host ? host : "", "port", (int)port, "allowed", 0, "status",
                          (int)status, "reason", reason, "outcome", outcome_name(OUTCOME_REFUSED), "bytes_out", (json_int_t)0,
                          "bytes_in", (json_int_t)0, "suppressed",
                          (json_int_t)bucket_refused_take(&e->undecided_records));
    struct error err;
    if (gate_record(e->cfg.gate, AUDIT_NET_CONNECT, e->session_id, d, &err) < 0)
        log_error("egress %s: cannot record a refusal: %s", e->session_id, err.message);
}

/* ------------------------------------------------------------ stream lifetime */

static struct stream *find_stream(struct egress *e, uint32_t id)
{
    for (struct stream *s = e->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void on_output_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static void stream_free(struct stream *s)
{
    struct egress *e = s->e;
    for (struct stream **pp = &e->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            e->n_streams--;
            break;
        }
    }
    egress_lookup_cancel(s->lookup);
    if (s->timer)
        event_free(s->timer);
    if (s->bev) {
        evbuffer_remove_cb(bufferevent_get_output(s->bev), on_output_drained, s);
        bufferevent_free(s->bev);
    }
    if (s->down)
        bufferevent_free(s->down); /* and the pair's other end under it */
    if (s->up)
        bufferevent_free(s->up);   /* and the TCP connection under it */
    if (s->early)
        evbuffer_free(s->early);
    egress_inject_free(s->inject);
    egress_answer_free(s->answer);
    free(s->path);
    free(s);
}

/* A stream refused before it was connected: the guest answers the workload
 * with status and reason. */
static void stream_refuse(struct stream *s, unsigned status, const char *reason)
{
    struct egress *e = s->e;
    e->stats.refused++;
    send_open_result(e, s->id, false, status, reason);
    record_stream(s, false, status, reason, OUTCOME_REFUSED);
    stream_free(s);
}

/* Whether the exchange is over with everything delivered: the server's
 * whole answer reached the workload (the guest credits back only what its
 * connection took). For HTTP (plain, or inside the TLS the host
 * terminates) that is the answer to its end as http-parser reads it (its
 * Content-Length, the last chunk, or the server's close); for a tunnel, or
 * an answer http-parser cannot read, everything the remote sent before it
 * closed cleanly. How the workload's client then closed (one that does not
 * read the TLS close_notify resets the connection) does not change that. */
static bool exchange_complete(const struct stream *s)
{
    if (s->answer != NULL && egress_answer_state(s->answer) != EGRESS_ANSWER_UNREADABLE)
        return s->answer_sent && s->credited_in >= s->answer_end;
    return s->remote_clean && s->sent_half_close && s->credited_in >= s->bytes_in;
}

/* A connected stream ends. reason: why, or "" when both sides finished
 * cleanly. The record says "complete" for an exchange that is (then the
 * reason is ""), else "failed" with the reason. */
static void stream_end(struct stream *s, const char *reason, bool tell_guest)
{
    if (tell_guest)
        send_close(s->e, s->id, false, reason);
    const char *why = reason;
    bool complete = exchange_complete(s);
    if (!complete && reason[0] == '\0') {
        /* Both sides closed, everything was handed over: complete, unless
         * the answer (when one is read) stopped short. */
        complete = s->answer == NULL || egress_answer_state(s->answer) != EGRESS_ANSWER_PARTIAL;
        if (!complete)
            why = s->remote_error[0] ? s->remote_error
                  : egress_answer_bytes(s->answer) == 0
                      ? "the server closed the connection without answering"
                      : "the server closed the connection before the end of its answer";
    }
    record_stream(s, true, 0, complete ? "" : why, complete ? OUTCOME_COMPLETE : OUTCOME_FAILED);
    stream_free(s);
}

/* TLS: once the whole answer is in the guest's TLS session (its output is
 * empty), its last record is in what went to the guest or waits on the
 * pair: that count is where the answer ends. */
static void note_answer_sent(struct stream *s)
{
    if (!s->tls || s->answer_sent || s->down == NULL || s->answer == NULL ||
        egress_answer_state(s->answer) != EGRESS_ANSWER_COMPLETE ||
        evbuffer_get_length(bufferevent_get_output(s->down)) > 0)
        return;
    struct bufferevent *under = bufferevent_get_underlying(s->down);
    s->answer_end = s->bytes_in + evbuffer_get_length(bufferevent_get_input(s->bev)) +
                    (under ? evbuffer_get_length(bufferevent_get_output(under)) : 0);
    s->answer_sent = true;
}

/* TLS: the server's plaintext in buf, before it goes to the guest's TLS
 * session. */
static void read_answer(struct stream *s, struct evbuffer *buf)
{
    if (s->answer == NULL || egress_answer_state(s->answer) != EGRESS_ANSWER_PARTIAL)
        return;
    if (egress_answer_bytes(s->answer) == 0)
        egress_answer_set_head(s->answer, strcmp(egress_inject_method(s->inject), "HEAD") == 0);
    struct evbuffer_ptr pos;
    struct evbuffer_iovec v;
    evbuffer_ptr_set(buf, &pos, 0, EVBUFFER_PTR_SET);
    while (egress_answer_state(s->answer) == EGRESS_ANSWER_PARTIAL && evbuffer_peek(buf, -1, &pos, &v, 1) > 0 &&
           v.iov_len > 0) {
        egress_answer_feed(s->answer, v.iov_base, v.iov_len);
        if (evbuffer_ptr_set(buf, &pos, v.iov_len, EVBUFFER_PTR_ADD) < 0)
            break;
    }
}

/* The session's time or bytes are spent: "" while they are not. */
static const char *session_limit_reached(struct egress *e, uint64_t more)
{
    /* Once a transfer would pass the session's bytes, its egress is spent:
     * nothing more moves and nothing new opens. */
    if (e->cfg.session_max_bytes &&
        (e->bytes_spent || e->stats.bytes_out + e->stats.bytes_in + more > e->cfg.session_max_bytes)) {
        e->bytes_spent = true;
        return "the session's egress byte limit is reached";
    }
    if (e->time_spent || (e->cfg.session_timeout_s && e->started_ns &&
                          now_ns() - e->started_ns >= (int64_t)e->cfg.session_timeout_s * 1000000000)) {
        e->time_spent = true;
        return "the session's egress time limit is reached";
    }
    return "";
}

/* Both sides are done and everything is delivered: the stream ends.
 * Returns true when it did (s is gone). */
static bool maybe_finish(struct stream *s)
{
    if (s->state == ST_OPEN && s->sent_half_close && s->guest_closed_write &&
        evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
        stream_end(s, "", true);
        return true;
    }
    return false;
}

/* Sends the remote's bytes to the guest as far as its credit goes. Returns
 * false when the stream is gone. */
static bool pump_to_guest(struct stream *s)
{
    struct egress *e = s->e;
    struct evbuffer *in = bufferevent_get_input(s->bev);
    while (s->guest_credit > 0 && evbuffer_get_length(in) > 0) {
        size_t n = evbuffer_get_length(in);
        if (n > s->guest_credit)
            n = (size_t)s->guest_credit;
        if (n > EGRESS_MAX_DATA)
            n = EGRESS_MAX_DATA;
        if (s->max_bytes && s->bytes_out + s->bytes_in + n > s->max_bytes) {
            stream_end(s, "the connection's byte limit is reached", true);
            return false;
        }
        const char *limit = session_limit_reached(e, n);
        if (limit[0]) {
            stream_end(s, limit, true);
            return false;
        }
        uint8_t *data = evbuffer_pullup(in, (ssize_t)n);
        if (data == NULL) {
            stream_end(s, "out of memory", true);
            return false;
        }
        if (s->answer != NULL && !s->tls && !s->answer_sent) {
            size_t k = egress_answer_feed(s->answer, data, n);
            if (egress_answer_state(s->answer) == EGRESS_ANSWER_COMPLETE) {
                s->answer_sent = true;
                s->answer_end = s->bytes_in + k;
            }
        }
        Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
        Guest__V1__EgressData d = GUEST__V1__EGRESS_DATA__INIT;
        d.stream = s->id;
        d.data.data = data;
        d.data.len = n;
        f.body_case = GUEST__V1__FRAME__BODY_EGRESS_DATA;
        f.egress_data = &d;
        send_frame(e, &f);
        evbuffer_drain(in, n);
        s->guest_credit -= n;
        s->bytes_in += n;
        e->stats.bytes_in += n;
    }
    if (s->guest_credit == 0 && !s->reading_paused) {
        bufferevent_disable(s->bev, EV_READ);
        s->reading_paused = true;
    } else if (s->guest_credit > 0 && s->reading_paused && !s->remote_eof) {
        bufferevent_enable(s->bev, EV_READ);
        s->reading_paused = false;
    }
    if (s->remote_eof && evbuffer_get_length(in) == 0 && !s->sent_half_close) {
        if (s->answer != NULL && !s->tls && !s->answer_sent && s->remote_clean) {
            /* A body that runs until the close ends here. */
            egress_answer_eof(s->answer);
            if (egress_answer_state(s->answer) == EGRESS_ANSWER_COMPLETE) {
                s->answer_sent = true;
                s->answer_end = s->bytes_in;
            }
        }
        send_close(e, s->id, true, "");
        s->sent_half_close = true;
        return !maybe_finish(s);
    }
    return true;
}

/* The guest's bytes reached the kernel: the guest may send that much more. */
static void on_output_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct stream *s = arg;
    if (info->n_deleted == 0)
        return;
    uint64_t n = info->n_deleted;
    /* The bytes the host added (a secret's header) are not the guest's. */
    uint64_t extra = n < s->extra_out ? n : s->extra_out;
    s->extra_out -= extra;
    n -= extra;
    if (n > s->guest_unacked)
        n = s->guest_unacked;
    s->guest_unacked -= n;
    send_credit(s->e, s->id, n);
}

static void on_remote_read(struct bufferevent *bev, void *arg)
{
    pump_to_guest(arg);
}

static void on_remote_write(struct bufferevent *bev, void *arg)
{
    struct stream *s = arg;
    /* Everything the guest sent is out: pass its half close on. */
    if (s->guest_closed_write && !s->shut_remote) {
        s->shut_remote = true;
        shutdown(bufferevent_getfd(bev), SHUT_WR);
    }
    maybe_finish(s);
}

static void try_connect(struct stream *s);

/* A connect to one of the addresses failed: the next one, or refuse with why. */
static void connect_failed(struct stream *s, const char *why)
{
    evbuffer_remove_cb(bufferevent_get_output(s->bev), on_output_drained, s);
    bufferevent_free(s->bev);
    s->bev = NULL;
    if (s->next_try < s->n_ok)
        try_connect(s);
    else
        stream_refuse(s, 502, why);
}

/* The connection is made (for TLS: both sessions stand): the guest hears
 * so, and bytes flow. */
static void stream_opened(struct stream *s)
{
    struct egress *e = s->e;
    s->state = ST_OPEN;
    e->stats.allowed++;
    evtimer_del(s->timer);
    unsigned limit = s->timeout_s ? s->timeout_s : EGRESS_DEFAULT_TIMEOUT_S;
    struct timeval tv = {.tv_sec = limit, .tv_usec = 0};
    if (e->cfg.session_timeout_s) {
        /* The session's time ends first: the timer is that deadline, and
         * when it fires the session's time is spent (the loop's clock may
         * run a little behind now_ns, so it is not asked again). */
        int64_t left = (int64_t)e->cfg.session_timeout_s * 1000000000 - (now_ns() - e->started_ns);
        if (left < 1000000)
            left = 1000000;
        if (left < (int64_t)limit * 1000000000) {
            tv.tv_sec = left / 1000000000;
            tv.tv_usec = (left % 1000000000) / 1000;
            s->session_deadline = true;
        }
    }
    evtimer_add(s->timer, &tv);
    send_open_result(e, s->id, true, 200, "");
    /* What the guest sent while we connected goes out first. */
    if (s->early && evbuffer_get_length(s->early) > 0)
        bufferevent_write_buffer(s->bev, s->early);
    bufferevent_setwatermark(s->bev, EV_READ, 0, e->cfg.window);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    if (s->guest_closed_write && evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 && !s->tls) {
        s->shut_remote = true;
        shutdown(bufferevent_getfd(s->bev), SHUT_WR);
    }
}

/* ------------------------------------------------------------ TLS for secrets */

/* Once the server is done and everything it sent is written to the
 * workload's TLS session: close_notify, and EOF on the guest's end of the
 * pair (the stream then ends as a plain one does).
 *
 * Both go past the windows, once: the TLS session's end of the pair may
 * hold a window of records already, and close_notify must be written whole
 * behind them; and a pair's flush moves only what fits under the reader's
 * high watermark before it signals EOF, so whatever stayed behind would
 * never reach the guest (a slow guest lost the end of a large answer so).
 * With the marks lifted everything moves over, at most a window and a
 * record more than the reader's window, and is sent as the guest credits. */
static void down_finish(struct stream *s)
{
    if (s->down_done)
        return;
    s->down_done = true;
    struct bufferevent *under = bufferevent_get_underlying(s->down);
    if (under)
        bufferevent_setwatermark(under, EV_WRITE, 0, 0);
    SSL *ssl = bufferevent_openssl_get_ssl(s->down);
    if (ssl)
        SSL_shutdown(ssl);
    if (under) {
        bufferevent_setwatermark(s->bev, EV_READ, 0, 0);
        bufferevent_flush(under, EV_WRITE, BEV_FINISHED);
    }
}

/* Plaintext from the workload: through the injector to the server. */
static void on_down_read(struct bufferevent *bev, void *arg)
{
    struct stream *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer *out = bufferevent_get_output(s->up);
    while (evbuffer_get_length(in) > 0) {
        size_t n = evbuffer_get_length(in);
        if (n > EGRESS_MAX_DATA)
            n = EGRESS_MAX_DATA;
        uint8_t *data = evbuffer_pullup(in, (ssize_t)n);
        struct error err;
        if (data == NULL || egress_inject_feed(s->inject, data, n, out, &err) < 0) {
            char why[1100];
            snprintf(why, sizeof(why), "refused: %s", data == NULL ? "out of memory" : err.message);
            stream_end(s, why, true);
            return;
        }
        evbuffer_drain(in, n);
    }
    if (evbuffer_get_length(out) >= s->e->cfg.window)
        bufferevent_disable(bev, EV_READ); /* on_up_write reads on */
}

/* Plaintext from the server: to the workload's TLS session. */
static void on_up_read(struct bufferevent *bev, void *arg)
{
    struct stream *s = arg;
    read_answer(s, bufferevent_get_input(bev));
    bufferevent_write_buffer(s->down, bufferevent_get_input(bev));
    note_answer_sent(s);
    if (evbuffer_get_length(bufferevent_get_output(s->down)) >= s->e->cfg.window)
        bufferevent_disable(bev, EV_READ); /* on_down_write reads on */
}

static void on_down_write(struct bufferevent *bev, void *arg)
{
    struct stream *s = arg;
    note_answer_sent(s);
    if (s->up_eof) {
        down_finish(s);
        return;
    }
    if (s->up)
        bufferevent_enable(s->up, EV_READ);
}

static void on_up_write(struct bufferevent *bev, void *arg)
{
    struct stream *s = arg;
    if (s->down)
        bufferevent_enable(s->down, EV_READ);
}

static void on_down_event(struct bufferevent *bev, short what, void *arg)
{
    struct stream *s = arg;
    if (what & BEV_EVENT_ERROR) {
        char why[400], ssl_err[256] = "";
        unsigned long oe = bufferevent_get_openssl_error(bev);
        if (oe)
            ERR_error_string_n(oe, ssl_err, sizeof(ssl_err));
        snprintf(why, sizeof(why),
                 "the workload's TLS session with the proxy failed%s%s (does it trust the session's CA?)",
                 ssl_err[0] ? ": " : "", ssl_err);
        stream_end(s, why, true);
        return;
    }
    if (what & BEV_EVENT_EOF)
        bufferevent_disable(bev, EV_READ); /* the guest's close ends the stream */
}

static void on_remote_read(struct bufferevent *bev, void *arg);
static void on_remote_write(struct bufferevent *bev, void *arg);
static void on_remote_event(struct bufferevent *bev, short what, void *arg);

static void on_up_event(struct bufferevent *bev, short what, void *arg)
{
    struct stream *s = arg;
    struct egress *e = s->e;
    if (s->state == ST_CONNECTING) {
        if (what & BEV_EVENT_CONNECTED) {
            /* The server's chain and name verified: now the guest's side. */
            struct error err;
            SSL *ssl = egress_ca_server_ssl(e->ca, s->host, &err);
            struct bufferevent *pair[2] = {NULL, NULL};
            if (ssl == NULL || bufferevent_pair_new(e->cfg.base, BEV_OPT_CLOSE_ON_FREE, pair) < 0) {
                SSL_free(ssl);
                stream_refuse(s, 503, ssl == NULL ? err.message : "cannot make a TLS session for the guest");
                return;
            }
            s->down = bufferevent_openssl_filter_new(e->cfg.base, pair[1], ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                     BEV_OPT_CLOSE_ON_FREE);
            if (s->down == NULL) {
                SSL_free(ssl);
                bufferevent_free(pair[0]);
                bufferevent_free(pair[1]);
                stream_refuse(s, 503, "cannot make a TLS session for the guest");
                return;
            }
            /* Bounded both ways: each TLS filter writes into its underlying
             * buffer only up to a window (its BIO honours the high mark). */
            bufferevent_setwatermark(pair[1], EV_READ, 0, e->cfg.window);
            bufferevent_setwatermark(pair[1], EV_WRITE, 0, e->cfg.window);
            bufferevent_setwatermark(s->down, EV_READ, 0, e->cfg.window);
            bufferevent_setcb(s->down, on_down_read, on_down_write, on_down_event, s);
            bufferevent_enable(s->down, EV_READ | EV_WRITE);
            bufferevent_setwatermark(s->up, EV_READ, 0, e->cfg.window);
            bufferevent_enable(s->up, EV_READ | EV_WRITE);
            s->bev = pair[0];
            bufferevent_setcb(s->bev, on_remote_read, on_remote_write, on_remote_event, s);
            evbuffer_add_cb(bufferevent_get_output(s->bev), on_output_drained, s);
            stream_opened(s);
            return;
        }
        char why[600], ssl_err[256] = "";
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        unsigned long oe = bufferevent_get_openssl_error(bev);
        if (oe)
            ERR_error_string_n(oe, ssl_err, sizeof(ssl_err));
        if (vr != X509_V_OK)
            snprintf(why, sizeof(why), "refused: the certificate of %s port %u does not verify: %s", s->host,
                     s->port, X509_verify_cert_error_string(vr));
        else
            snprintf(why, sizeof(why), "the TLS handshake with %s port %u failed%s%s", s->host, s->port,
                     ssl_err[0] ? ": " : "", ssl_err);
        log_info("egress %s: stream %u: %s", e->session_id, s->id, why);
        stream_refuse(s, 502, why);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        struct evbuffer *in = bufferevent_get_input(bev);
        read_answer(s, in);
        if (what & BEV_EVENT_EOF) {
            /* close_notify, or a close without it (allowed: many servers
             * never send one, and the answer's own end says whether it is
             * whole). */
            s->remote_clean = true;
            if (s->answer)
                egress_answer_eof(s->answer);
        } else {
            char ssl_err[256] = "";
            unsigned long oe = bufferevent_get_openssl_error(bev);
            int soerr = EVUTIL_SOCKET_ERROR();
            if (oe)
                ERR_error_string_n(oe, ssl_err, sizeof(ssl_err));
            snprintf(s->remote_error, sizeof(s->remote_error), "the TLS session with %s port %u failed: %s",
                     s->host, s->port, ssl_err[0] ? ssl_err : soerr ? strerror(soerr) : "error");
            if (s->answer == NULL || egress_answer_state(s->answer) != EGRESS_ANSWER_COMPLETE) {
                /* In the middle of the answer: the workload's connection is
                 * cut, not ended with close_notify, which would make the
                 * part look whole. */
                stream_end(s, s->remote_error, true);
                return;
            }
        }
        /* The server is done: what it sent goes to the workload, then its
         * TLS session ends and the stream follows the pair's EOF. */
        s->up_eof = true;
        bufferevent_disable(bev, EV_READ);
        if (s->down) {
            bufferevent_write_buffer(s->down, in);
            note_answer_sent(s);
            if (evbuffer_get_length(bufferevent_get_output(s->down)) == 0)
                down_finish(s);
        }
    }
}

/* TCP to the server is up: TLS over it, verifying the server, before the
 * guest hears anything (a server that does not verify is refused). */
static void start_upstream_tls(struct stream *s)
{
    struct egress *e = s->e;
    struct error err;
    SSL *ssl = e->ca ? egress_ca_client_ssl(e->ca, s->host, &err) : NULL;
    if (ssl == NULL) {
        stream_refuse(s, 503, e->ca ? err.message : "the session has no CA for TLS");
        return;
    }
    evbuffer_remove_cb(bufferevent_get_output(s->bev), on_output_drained, s);
    struct bufferevent *tcp = s->bev;
    s->bev = NULL;
    bufferevent_setwatermark(tcp, EV_READ, 0, e->cfg.window);
    bufferevent_setwatermark(tcp, EV_WRITE, 0, e->cfg.window);
    s->up = bufferevent_openssl_filter_new(e->cfg.base, tcp, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (s->up == NULL) {
        SSL_free(ssl);
        bufferevent_free(tcp);
        stream_refuse(s, 503, "cannot start TLS towards the server");
        return;
    }
    /* A close without close_notify is an EOF, not an error: the answer's
     * own end tells whether it is whole. */
    bufferevent_openssl_set_allow_dirty_shutdown(s->up, 1);
    bufferevent_setcb(s->up, on_up_read, on_up_write, on_up_event, s);
    bufferevent_enable(s->up, EV_READ | EV_WRITE);
}

static void on_remote_event(struct bufferevent *bev, short what, void *arg)
{
    struct stream *s = arg;
    struct egress *e = s->e;
    if ((what & BEV_EVENT_CONNECTED) && s->tls && s->up == NULL) {
        start_upstream_tls(s);
        return;
    }
    if (what & BEV_EVENT_CONNECTED) {
        stream_opened(s);
        return;
    }
    if (s->state == ST_CONNECTING && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
        int soerr = EVUTIL_SOCKET_ERROR();
        log_debug("egress %s: stream %u: connect to %s failed: %s", e->session_id, s->id, s->connected,
                  strerror(soerr));
        char why[200];
        snprintf(why, sizeof(why), "cannot connect to %s port %u: %s", s->connected, s->port,
                 soerr ? strerror(soerr) : "refused");
        connect_failed(s, why);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int soerr = EVUTIL_SOCKET_ERROR();
        snprintf(s->remote_error, sizeof(s->remote_error), "the connection to %s failed: %s", s->connected,
                 soerr ? strerror(soerr) : "error");
        if (!s->answer_sent) {
            stream_end(s, s->remote_error, true);
            return;
        }
        /* After the whole answer (a server that resets instead of closing):
         * the end of it, not a failure. */
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        /* For TLS this is the pair's EOF after close_notify: the server's
         * own end was seen on the TLS session. */
        if (!s->tls && !(what & BEV_EVENT_ERROR))
            s->remote_clean = true;
        s->remote_eof = true;
        bufferevent_disable(bev, EV_READ);
        pump_to_guest(s);
        return;
    }
}

static void on_stream_timer(evutil_socket_t fd, short what, void *arg)
{
    struct stream *s = arg;
    if (s->state == ST_CONNECTING) {
        char why[160];
        snprintf(why, sizeof(why), "connecting to %s port %u took longer than %d s", s->connected,
                 s->port, EGRESS_CONNECT_TIMEOUT_S);
        if (s->bev) {
            evbuffer_remove_cb(bufferevent_get_output(s->bev), on_output_drained, s);
            bufferevent_free(s->bev);
            s->bev = NULL;
        }
        stream_refuse(s, 504, why);
        return;
    }
    if (s->session_deadline)
        s->e->time_spent = true;
    const char *limit = session_limit_reached(s->e, 0);
    stream_end(s, limit[0] ? limit : "the connection's time limit is reached", true);
}

static socklen_t sockaddr_of(const struct egress_addr *a, unsigned port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        memcpy(&sin->sin_addr, a->bytes, 4);
        return sizeof(*sin);
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    memcpy(&sin6->sin6_addr, a->bytes, 16);
    return sizeof(*sin6);
}

/* Connects to the next address that passed the check: that address and no
 * other (nothing is looked up again). */
static void try_connect(struct stream *s)
{
    struct egress *e = s->e;
    const struct egress_addr *a = &s->ok[s->next_try++];
    egress_addr_format(a, s->connected, sizeof(s->connected));
    s->state = ST_CONNECTING;
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(a, s->port, &ss);
    s->bev = bufferevent_socket_new(e->cfg.base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (s->bev == NULL) {
        stream_refuse(s, 502, "cannot create a socket");
        return;
    }
    bufferevent_setcb(s->bev, on_remote_read, on_remote_write, on_remote_event, s);
    evbuffer_add_cb(bufferevent_get_output(s->bev), on_output_drained, s);
    if (!evtimer_pending(s->timer, NULL)) {
        struct timeval tv = {.tv_sec = EGRESS_CONNECT_TIMEOUT_S, .tv_usec = 0};
        evtimer_add(s->timer, &tv);
    }
    if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, (int)len) < 0) {
        char why[160];
        snprintf(why, sizeof(why), "cannot connect to %s port %u: %s", s->connected, s->port,
                 strerror(errno));
        connect_failed(s, why);
    }
}

/* ------------------------------------------------------------ deciding */

static json_t *session_json(struct egress *e)
{
    return json_pack("{s:s, s:{}}", "id", e->session_id, "labels");
}

/* The workload in the guest asked; no API caller stands behind it. */
static json_t *caller_json(struct stream *s)
{
    char peer[32];
    snprintf(peer, sizeof(peer), "guest:stream:%u", s->id);
    return json_pack("{s:s, s:s, s:s}", "transport", "egress", "peer", peer, "principal", "");
}

static bool is_host_address(struct egress *e, const struct egress_addr *a)
{
    for (size_t i = 0; i < e->n_extra_host; i++)
        if (e->extra_host[i].family == a->family && memcmp(e->extra_host[i].bytes, a->bytes, 16) == 0)
            return true;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0)
        return false;
    bool found = false;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next) {
        if (i->ifa_addr == NULL)
            continue;
        struct egress_addr h = {0};
        if (i->ifa_addr->sa_family == AF_INET) {
            h.family = AF_INET;
            memcpy(h.bytes, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            h.family = AF_INET6;
            memcpy(h.bytes, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        found = h.family == a->family && memcmp(h.bytes, a->bytes, 16) == 0;
    }
    freeifaddrs(ifs);
    return found;
}

/* Passes bytes the guest sent through the injector when the stream has one
 * and to the remote (or the early buffer while connecting). Returns -1 with
 * err when the request must not go out. */
static int forward_out(struct stream *s, const uint8_t *data, size_t n, struct error *err)
{
    struct evbuffer *dst = s->state == ST_OPEN ? bufferevent_get_output(s->bev) : s->early;
    if (s->inject == NULL || s->tls)
        return evbuffer_add(dst, data, n) < 0 ? error_set(err, ERR_INTERNAL, "out of memory") : 0;
    struct evbuffer *tmp = evbuffer_new();
    if (tmp == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    if (egress_inject_feed(s->inject, data, n, tmp, err) < 0) {
        evbuffer_free(tmp);
        return -1;
    }
    size_t m = evbuffer_get_length(tmp);
    if (m > n) {
        s->extra_out += m - n;
    } else if (m < n) {
        /* Guest bytes that produced no output (held in the head, or dropped
         * headers): credited back now, as nothing will drain for them. */
        s->guest_unacked -= n - m;
        send_credit(s->e, s->id, n - m);
    }
    int rc = evbuffer_add_buffer(dst, tmp);
    evbuffer_free(tmp);
    return rc < 0 ? error_set(err, ERR_INTERNAL, "out of memory") : 0;
}

/* The decision names a secret: it is read from the store now, and the
 * request goes out with it. Returns -1 when the stream was refused. */
static int setup_inject(struct stream *s, const struct gate_obligations *ob)
{
    struct egress *e = s->e;
    char why[1100];
    snprintf(s->secret_name, sizeof(s->secret_name), "%s", ob->inject_name);
    /* HTTPS: the host terminates the workload's TLS with the session's CA. */
    s->tls = strcmp(s->scheme, "https") == 0;
    if (s->tls && e->ca == NULL) {
        snprintf(why, sizeof(why),
                 "refused: the policy adds the secret %s to this connection, and the session has no CA to "
                 "terminate TLS with",
                 ob->inject_name);
        stream_refuse(s, 503, why);
        return -1;
    }
    if (s->tls && (s->answer = egress_answer_new()) == NULL) {
        stream_refuse(s, 503, "out of memory");
        return -1;
    }
    char *secret = NULL;
    size_t len = 0;
    struct error err;
    if (secret_get(e->secrets_dir, ob->inject_name, &secret, &len, &err) < 0) {
        log_warn("egress %s: stream %u: the secret %s cannot be used: %s", e->session_id, s->id,
                 ob->inject_name, err.message);
        /* The workload learns the name, not the host's paths. */
        snprintf(why, sizeof(why),
                 "refused: the secret %s that the policy adds to this connection is %s (see the daemon's log)",
                 ob->inject_name, err.kind == ERR_NOT_FOUND ? "not stored" : "not usable");
        stream_refuse(s, 403, why);
        return -1;
    }
    char *value = egress_secret_value(ob->inject_format, secret);
    secret_value_free(secret, len);
    int rc = value == NULL ? error_set(&err, ERR_INTERNAL, "out of memory")
                           : egress_inject_new(s->host, s->port, s->tls ? NULL : s->method,
                                               s->tls ? NULL : (s->path ? s->path : ""), ob->inject_header, value,
                                               2 * (size_t)e->cfg.max_header_bytes, &s->inject, &err);
    if (value != NULL) {
        OPENSSL_cleanse(value, strlen(value));
        free(value);
    }
    if (rc < 0) {
        stream_refuse(s, 503, err.message);
        return -1;
    }
    /* What the guest sent before the decision goes through it too (plain
     * HTTP; inside TLS the injector sees the decrypted bytes). */
    size_t early = s->tls ? 0 : evbuffer_get_length(s->early);
    if (early > 0) {
        struct evbuffer *raw = evbuffer_new();
        if (raw == NULL || evbuffer_add_buffer(raw, s->early) < 0) {
            if (raw)
                evbuffer_free(raw);
            stream_refuse(s, 503, "out of memory");
            return -1;
        }
        uint8_t *data = evbuffer_pullup(raw, -1);
        rc = data == NULL ? error_set(&err, ERR_INTERNAL, "out of memory") : forward_out(s, data, early, &err);
        evbuffer_free(raw);
        if (rc < 0) {
            snprintf(why, sizeof(why), "refused: %s", err.message);
            stream_refuse(s, 400, why);
            return -1;
        }
    }
    return 0;
}

/* The addresses resolved (or the literal): the policy decides, then every
 * address that is not public must be covered by allow_addresses. */
static void decide_connect(struct stream *s)
{
    struct egress *e = s->e;
    json_t *req = json_pack("{s:s, s:i, s:s, s:o}", "host", s->host, "port", (int)s->port, "scheme",
                            s->scheme, "addresses", addrs_json(s->addrs, s->n_addrs));
    if (req != NULL && strcmp(s->scheme, "http") == 0) {
        json_object_set_new(req, "method", json_string(s->method));
        json_object_set_new(req, "path", json_string(s->path ? s->path : ""));
    }
    json_t *input = json_pack("{s:o, s:o, s:o}", "session", session_json(e), "request", req, "caller",
                              caller_json(s));
    struct gate_obligations ob;
    struct error err;
    if (gate_decide(e->cfg.gate, "net.connect", e->session_id, input, &ob, &err) < 0) {
        stream_refuse(s, err.kind == ERR_PERMISSION_DENIED ? 403 : 503, err.message);
        return;
    }
    s->decision_seq = ob.audit_seq;
    s->max_bytes = ob.max_bytes;
    s->timeout_s = ob.timeout_s;
    if (ob.inject && setup_inject(s, &ob) < 0)
        return; /* refused */
    struct egress_cidr allow[GATE_MAX_ALLOW_ADDRESSES];
    size_t n_allow = 0;
    for (unsigned i = 0; i < ob.n_allow_addresses; i++)
        if (egress_cidr_parse(ob.allow_addresses[i], &allow[n_allow]) == 0)
            n_allow++;
    char first_refusal[400] = "";
    for (size_t i = 0; i < s->n_addrs; i++) {
        const struct egress_addr *a = &s->addrs[i];
        enum egress_addr_kind kind = egress_addr_classify(a);
        if (kind == EGRESS_ADDR_PUBLIC && is_host_address(e, a))
            kind = EGRESS_ADDR_HOST;
        bool allowed = kind == EGRESS_ADDR_PUBLIC;
        for (size_t j = 0; j < n_allow && !allowed; j++)
            allowed = egress_cidr_contains(&allow[j], a);
        if (allowed) {
            s->ok[s->n_ok++] = *a;
        } else if (first_refusal[0] == '\0') {
            char text[64];
            egress_addr_format(a, text, sizeof(text));
            snprintf(first_refusal, sizeof(first_refusal),
                     "refused: %s is a %s address (%s), which the policy does not allow", s->host,
                     egress_addr_kind_name(kind), text);
            if (!s->literal)
                snprintf(first_refusal, sizeof(first_refusal),
                         "refused: %s resolves to a %s address (%s), which the policy does not allow",
                         s->host, egress_addr_kind_name(kind), text);
        }
    }
    if (s->n_ok == 0) {
        stream_refuse(s, 403, first_refusal[0] ? first_refusal : "refused: no address to connect to");
        return;
    }
    const char *limit = session_limit_reached(e, 0);
    if (limit[0]) {
        stream_refuse(s, 403, limit);
        return;
    }
    try_connect(s);
}

static void on_lookup(const struct egress_addr *addrs, size_t n, const char *error, void *ctx)
{
    struct stream *s = ctx;
    s->lookup = NULL;
    if (n == 0) {
        stream_refuse(s, 502, error ? error : "the name does not resolve");
        return;
    }
    memcpy(s->addrs, addrs, n * sizeof(*addrs));
    s->n_addrs = n;
    decide_connect(s);
}

static bool scheme_valid(const char *s)
{
    return s && (strcmp(s, "http") == 0 || strcmp(s, "https") == 0);
}

static bool method_valid(const char *m)
{
    size_t n = m ? strlen(m) : 0;
    if (n == 0 || n > MAX_METHOD)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= 'a' && m[i] <= 'z') || m[i] == '-' || m[i] == '_'))
            return false;
    return true;
}

static bool path_valid(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n > MAX_PATH_TEXT || p[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] == 0x7f)
            return false;
    return true;
}

static void on_open(struct egress *e, const Guest__V1__EgressOpen *o)
{
    /* The host as the guest wrote it, for the refusals below that come
     * before it is checked: bounded and valid UTF-8 in the record. */
    char as_sent[EGRESS_MAX_HOST + 1];
    text_utf8_copy(as_sent, sizeof(as_sent), o->host ? o->host : "");
    if (find_stream(e, o->stream) != NULL) {
        /* A number in use: that stream is the guest's confusion; the new
         * open is refused and the open stream carries on. */
        send_open_result(e, o->stream, false, 400, "stream number already in use");
        record_undecided(e, o->stream, as_sent, o->port, 400, "stream number already in use");
        return;
    }
    if (e->n_streams >= e->cfg.max_streams) {
        char why[120];
        snprintf(why, sizeof(why), "too many connections: at most %u at once", e->cfg.max_streams);
        e->stats.refused++;
        send_open_result(e, o->stream, false, 503, why);
        record_undecided(e, o->stream, as_sent, o->port, 503, why);
        return;
    }
    char host[EGRESS_MAX_HOST + 1];
    bool literal = false;
    struct error err;
    const char *bad = NULL;
    char why[1100];
    if (egress_host_normalize(o->host, host, &literal, &err) < 0) {
        snprintf(why, sizeof(why), "bad host: %s", err.message);
        bad = why;
    } else if (o->port < 1 || o->port > 65535) {
        bad = "bad port: 1-65535";
    } else if (!scheme_valid(o->scheme)) {
        bad = "bad scheme: http or https";
    } else if (strcmp(o->scheme, "http") == 0 && (!method_valid(o->method) || !path_valid(o->path))) {
        bad = "bad request: a plain HTTP request needs a method and an origin-form path";
    }
    if (bad != NULL) {
        e->stats.refused++;
        send_open_result(e, o->stream, false, 400, bad);
        record_undecided(e, o->stream, literal ? host : "", o->port, 400, bad);
        return;
    }
    const char *limit = session_limit_reached(e, 0);
    if (limit[0]) {
        e->stats.refused++;
        send_open_result(e, o->stream, false, 403, limit);
        record_undecided(e, o->stream, host, o->port, 403, limit);
        return;
    }
    /* Everything past here reaches the gate and writes records: at most
     * EGRESS_OPENS_PER_S of them a second (egress.h says why). */
    if (!bucket_take(&e->opens, rate_now_ns(e))) {
        char over[120];
        snprintf(over, sizeof(over), "too many connections opened: at most %d a second (%d at once)",
                 EGRESS_OPENS_PER_S, EGRESS_OPENS_BURST);
        e->stats.refused++;
        e->stats.rate_limited++;
        send_open_result(e, o->stream, false, 429, over);
        record_undecided(e, o->stream, host, o->port, 429, over);
        return;
    }
    struct stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        send_open_result(e, o->stream, false, 503, "out of memory");
        return;
    }
    s->e = e;
    s->id = o->stream;
    snprintf(s->host, sizeof(s->host), "%s", host);
    s->literal = literal;
    s->port = o->port;
    snprintf(s->scheme, sizeof(s->scheme), "%s", o->scheme);
    if (strcmp(o->scheme, "http") == 0) {
        snprintf(s->method, sizeof(s->method), "%s", o->method);
        s->path = strdup(o->path);
        s->answer = egress_answer_new();
        if (s->answer)
            egress_answer_set_head(s->answer, strcmp(s->method, "HEAD") == 0);
    } else {
        snprintf(s->method, sizeof(s->method), "CONNECT");
    }
    s->start_ns = now_ns();
    s->guest_credit = e->cfg.window;
    s->timer = evtimer_new(e->cfg.base, on_stream_timer, s);
    s->early = evbuffer_new();
    s->next = e->streams;
    e->streams = s;
    e->n_streams++;
    e->stats.streams++;
    if (s->timer == NULL || s->early == NULL ||
        (strcmp(o->scheme, "http") == 0 && (s->path == NULL || s->answer == NULL))) {
        stream_refuse(s, 503, "out of memory");
        return;
    }
    if (literal) {
        if (egress_addr_parse(host, &s->addrs[0]) < 0) {
            stream_refuse(s, 400, "bad host");
            return;
        }
        s->n_addrs = 1;
        decide_connect(s);
        return;
    }
    /* A name: the policy first decides whether it may be looked up at all. */
    json_t *input = json_pack("{s:o, s:{s:s, s:i, s:s}, s:o}", "session", session_json(e), "request",
                              "host", s->host, "port", (int)s->port, "scheme", s->scheme, "caller",
                              caller_json(s));
    struct gate_obligations ob;
    if (gate_decide(e->cfg.gate, "net.resolve", e->session_id, input, &ob, &err) < 0) {
        stream_refuse(s, err.kind == ERR_PERMISSION_DENIED ? 403 : 503, err.message);
        return;
    }
    if (egress_lookup_start(e->cfg.resolver, s->host, on_lookup, s, &s->lookup, &err) < 0) {
        stream_refuse(s, 503, err.message);
        return;
    }
}

static void on_data(struct egress *e, const Guest__V1__EgressData *d)
{
    struct stream *s = find_stream(e, d->stream);
    if (s == NULL) {
        log_debug("egress %s: data for unknown stream %u dropped", e->session_id, d->stream);
        return;
    }
    size_t n = d->data.len;
    if (n > EGRESS_MAX_DATA || s->guest_unacked + n > e->cfg.window || s->guest_closed_write) {
        const char *why = n > EGRESS_MAX_DATA ? "protocol error: a data frame over 64 KiB"
                          : s->guest_closed_write ? "protocol error: data after the guest's close"
                                                  : "protocol error: data past the window";
        if (s->state == ST_OPEN)
            stream_end(s, why, true);
        else
            stream_refuse(s, 502, why);
        return;
    }
    if (n == 0)
        return;
    if (s->max_bytes && s->bytes_out + s->bytes_in + n > s->max_bytes) {
        stream_end(s, "the connection's byte limit is reached", true);
        return;
    }
    const char *limit = session_limit_reached(e, n);
    if (limit[0]) {
        if (s->state == ST_OPEN)
            stream_end(s, limit, true);
        else
            stream_refuse(s, 403, limit);
        return;
    }
    s->guest_unacked += n;
    s->bytes_out += n;
    e->stats.bytes_out += n;
    if (s->inject == NULL && s->state != ST_OPEN) {
        evbuffer_add(s->early, d->data.data, n); /* before the decision: as it came */
        return;
    }
    struct error err;
    if (forward_out(s, d->data.data, n, &err) < 0) {
        char why[1100];
        snprintf(why, sizeof(why), "refused: %s", err.message);
        if (s->state == ST_OPEN)
            stream_end(s, why, true);
        else
            stream_refuse(s, 400, why);
    }
}

static void on_credit(struct egress *e, const Guest__V1__EgressCredit *c)
{
    struct stream *s = find_stream(e, c->stream);
    if (s == NULL)
        return;
    /* More than a window outstanding is the guest's mistake; it never gets more. */
    uint64_t credit = s->guest_credit + c->bytes;
    s->guest_credit = credit > e->cfg.window ? e->cfg.window : credit;
    s->credited_in = s->credited_in + c->bytes > s->bytes_in ? s->bytes_in : s->credited_in + c->bytes;
    if (s->state == ST_OPEN)
        pump_to_guest(s);
}

static void on_close(struct egress *e, const Guest__V1__EgressClose *c)
{
    struct stream *s = find_stream(e, c->stream);
    if (s == NULL)
        return;
    if (!c->write_only) {
        /* The workload went away: nothing more either way. The reason is
         * the guest's words, kept in the NET:CONNECT record: bounded and
         * valid UTF-8, so that the record keeps its details. */
        char why[GUEST_REASON_TEXT];
        text_utf8_copy(why, sizeof(why), c->reason ? c->reason : "");
        if (s->state == ST_OPEN) {
            stream_end(s, why[0] ? why : "closed by the guest", false);
        } else {
            e->stats.refused++;
            record_stream(s, false, 0, "closed by the guest before it was connected", OUTCOME_FAILED);
            stream_free(s);
        }
        return;
    }
    s->guest_closed_write = true;
    if (s->state != ST_OPEN)
        return; /* passed on once connected and what came before is out */
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 && !s->shut_remote) {
        s->shut_remote = true;
        shutdown(bufferevent_getfd(s->bev), SHUT_WR);
    }
    maybe_finish(s);
}

/* ------------------------------------------------------------ the request */

static void close_all(struct egress *e, const char *reason)
{
    while (e->streams) {
        struct stream *s = e->streams;
        if (s->state == ST_OPEN) {
            stream_end(s, reason, true);
        } else {
            e->stats.refused++;
            send_open_result(e, s->id, false, 503, reason);
            record_stream(s, false, 503, reason, OUTCOME_REFUSED);
            stream_free(s);
        }
    }
}

static void on_frame(const Guest__V1__Frame *f, void *ctx)
{
    struct egress *e = ctx;
    switch (f->body_case) {
    case GUEST__V1__FRAME__BODY_EGRESS_OPEN:
        on_open(e, f->egress_open);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_DATA:
        on_data(e, f->egress_data);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_CREDIT:
        on_credit(e, f->egress_credit);
        break;
    case GUEST__V1__FRAME__BODY_EGRESS_CLOSE:
        on_close(e, f->egress_close);
        break;
    default:
        log_debug("egress %s: frame of type %d ignored", e->session_id, (int)f->body_case);
        break;
    }
}

static void on_reply(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct egress *e = ctx;
    e->active = false; /* the request is over: nothing more can be sent for it */
    if (err != NULL)
        log_info("egress %s: the guest's proxy is gone: %s", e->session_id, err->message);
    else if (reply->body_case == GUEST__V1__FRAME__BODY_ERROR)
        log_warn("egress %s: the guest refused to serve the proxy: %s", e->session_id,
                 reply->error->message ? reply->error->message : "");
    else
        log_info("egress %s: the guest's proxy stopped", e->session_id);
    close_all(e, "the guest's proxy stopped");
    e->conn = NULL;
}

int egress_new(const struct egress_config *config, struct egress **out, struct error *err)
{
    *out = NULL;
    if (config->gate == NULL || config->resolver == NULL || config->base == NULL)
        return error_set(err, ERR_INTERNAL, "egress needs a gate, a resolver and an event loop");
    struct egress *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    e->cfg = *config;
    snprintf(e->session_id, sizeof(e->session_id), "%s", config->session_id ? config->session_id : "");
    e->cfg.session_id = e->session_id;
    if (config->secrets_dir != NULL)
        snprintf(e->secrets_dir, sizeof(e->secrets_dir), "%s", config->secrets_dir);
    else if (secret_default_dir(e->secrets_dir, sizeof(e->secrets_dir), err) < 0) {
        free(e);
        return -1;
    }
    e->cfg.secrets_dir = e->secrets_dir;
    /* The session's CA, in memory only: what the host terminates TLS with
     * for connections whose decision adds a secret. */
    struct error caerr;
    unsigned valid = config->session_timeout_s ? config->session_timeout_s + 3600 : 0;
    if (egress_ca_new(valid, &e->ca, &caerr) < 0)
        log_warn("egress %s: no session CA (HTTPS with secrets is refused): %s", e->session_id, caerr.message);
    if (e->cfg.max_streams == 0)
        e->cfg.max_streams = EGRESS_DEFAULT_MAX_STREAMS;
    if (e->cfg.max_streams > EGRESS_MAX_STREAMS_LIMIT)
        e->cfg.max_streams = EGRESS_MAX_STREAMS_LIMIT;
    if (e->cfg.window == 0)
        e->cfg.window = EGRESS_DEFAULT_WINDOW;
    if (e->cfg.max_header_bytes == 0)
        e->cfg.max_header_bytes = EGRESS_DEFAULT_MAX_HEADER_BYTES;
    if (config->n_extra_host_addrs > 0) {
        e->extra_host = calloc(config->n_extra_host_addrs, sizeof(*e->extra_host));
        if (e->extra_host == NULL) {
            egress_ca_free(e->ca);
            free(e);
            return error_set(err, ERR_INTERNAL, "out of memory");
        }
        memcpy(e->extra_host, config->extra_host_addrs, config->n_extra_host_addrs * sizeof(*e->extra_host));
        e->n_extra_host = config->n_extra_host_addrs;
    }
    e->cfg.extra_host_addrs = NULL;
    int64_t now = rate_now_ns(e);
    bucket_init(&e->opens, EGRESS_OPENS_PER_S, EGRESS_OPENS_BURST, now);
    bucket_init(&e->undecided_records, EGRESS_UNDECIDED_RECORDS_PER_S, EGRESS_UNDECIDED_RECORDS_BURST, now);
    *out = e;
    return 0;
}

int egress_attach(struct egress *e, struct proxy_conn *conn, struct error *err)
{
    if (e->active)
        return error_set(err, ERR_FAILED_PRECONDITION, "egress is attached already");
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressRequest r = GUEST__V1__EGRESS_REQUEST__INIT;
    r.port = EGRESS_DEFAULT_PORT;
    r.max_streams = e->cfg.max_streams;
    r.window = e->cfg.window;
    r.max_header_bytes = e->cfg.max_header_bytes;
    r.ca_certificate = e->ca ? (char *)egress_ca_pem(e->ca) : (char *)"";
    f.body_case = GUEST__V1__FRAME__BODY_EGRESS_REQUEST;
    f.egress_request = &r;
    if (proxy_request_frames(conn, &f, 0, on_reply, on_frame, e, &e->req_id, err) < 0)
        return -1;
    e->conn = conn;
    e->active = true;
    if (e->started_ns == 0)
        e->started_ns = now_ns();
    return 0;
}

void egress_detach(struct egress *e)
{
    if (e == NULL)
        return;
    close_all(e, "the session's channel closed");
    /* The refusals left out since the last record get one record of their
     * own, so a flood that ends is still counted whole. */
    uint64_t left_out = bucket_refused_take(&e->undecided_records);
    if (left_out > 0) {
        json_t *d = json_pack("{s:I, s:s, s:i, s:b, s:s, s:s, s:I}", "stream", (json_int_t)0, "host", "",
                              "port", 0, "allowed", 0, "outcome", outcome_name(OUTCOME_REFUSED), "reason",
                              "refusals without a decision that were not recorded one by one", "suppressed",
                              (json_int_t)left_out);
        struct error err;
        if (gate_record(e->cfg.gate, AUDIT_NET_CONNECT, e->session_id, d, &err) < 0)
            log_error("egress %s: cannot record the refusals left out: %s", e->session_id, err.message);
    }
    if (e->active && e->conn != NULL)
        proxy_cancel(e->conn, e->req_id);
    e->active = false;
    e->conn = NULL;
}

void egress_stats(const struct egress *e, struct egress_stats *out)
{
    *out = e->stats;
    out->open_streams = e->n_streams;
    out->active = e->active;
}

void egress_free(struct egress *e)
{
    if (e == NULL)
        return;
    egress_detach(e);
    egress_ca_free(e->ca);
    free(e->extra_host);
    free(e);
}
