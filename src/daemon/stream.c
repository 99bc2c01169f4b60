/* The live audit stream: GET /v1/audit/stream (Server-Sent Events) and
 * GET /ws/audit (WebSocket, the original's path); with checkpoints=1 each
 * signed checkpoint (its Merkle root and C2SP note) follows the records it
 * covers. Also the daemon's checkpoint timer: a checkpoint is signed over
 * unsigned records every ENCLAVE_AUDIT_CHECKPOINT_S seconds, so that a
 * witness (enclave up --audit-witness) never lags far behind.
 *
 * A client names where to start (since_seq, or Last-Event-ID when an
 * EventSource reconnects; otherwise the current head) and optionally one
 * session. It first catches up from the log in pages, each page written only
 * once the one before has mostly drained, then goes live: every append is
 * pushed to it from the audit subscriber. Both run on the event loop thread,
 * and appends happen only there, so the switch from catch-up to live loses
 * and repeats nothing: the client's after_seq says what it has seen.
 *
 * A client whose unread output passes STREAM_MAX_BUFFER is sent a final
 * "dropped" event (with the last seq it got, to resume from) and closed,
 * rather than buffering without bound. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "daemon/internal.h"

/* Bytes that may wait for one client; ENCLAVE_AUDIT_STREAM_BUFFER overrides
 * it (4 KiB to 64 MiB), which the tests use to reach the bound quickly. */
#define STREAM_MAX_BUFFER (1u << 20)
#define STREAM_PAGE 256
#define STREAM_MAX_CLIENTS 64
/* Slots only the operator may take: an agent holding its token cannot fill
 * every slot and lock the operator out of watching the log live. */
#define STREAM_OPERATOR_RESERVE 8
#define STREAM_MAX_AGENT_CLIENTS (STREAM_MAX_CLIENTS - STREAM_OPERATOR_RESERVE)
#define STREAM_HEARTBEAT_S 15
/* A WebSocket client has nothing to say to us; its messages are small. */
#define STREAM_WS_MAX_MESSAGE 4096
#define CHECKPOINT_PERIOD_S 30

struct stream_client {
    struct daemon_streams *owner;
    struct api_stream *stream;
    bool websocket;
    bool live;    /* caught up: appends are pushed as they happen */
    bool pumping; /* inside pump(): re-entry from on_drained is ignored */
    bool checkpoints; /* send signed checkpoints too */
    bool operator;    /* the principal "operator" (else counted as an agent's) */
    char session[AUDIT_MAX_SESSION_LEN + 1]; /* "" = every session */
    uint64_t after_seq; /* everything up to here was sent or did not match */
    uint64_t sent;
    struct stream_client *prev, *next;
};

struct daemon_streams {
    struct daemon_state *d;
    int subscription;
    int cp_subscription;
    struct event *heartbeat;
    struct event *checkpoint_timer;
    struct stream_client *clients;
    unsigned n_clients;
    unsigned n_agent_clients; /* of n_clients, those not the operator's */
    size_t max_buffer;
    size_t pump_pause; /* catch-up pauses while more than this waits */
};

static void client_unlink(struct stream_client *c)
{
    struct daemon_streams *st = c->owner;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        st->clients = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    st->n_clients--;
    if (!c->operator)
        st->n_agent_clients--;
    free(c);
}

/* Ends the stream from our side with a last event (or message) saying why. */
static void client_drop(struct stream_client *c, const char *reason)
{
    log_info("audit stream: dropping a client after seq %" PRIu64 ": %s", c->after_seq, reason);
    json_t *o = json_pack("{s:s, s:I}", "reason", reason, "last_seq", (json_int_t)c->after_seq);
    cleanup_free char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    cleanup_free char *final = NULL;
    int n = -1;
    if (text != NULL) {
        if (c->websocket)
            n = asprintf(&final, "{\"type\":\"dropped\",\"dropped\":%s}", text);
        else
            n = asprintf(&final, "event: dropped\ndata: %s\n\n", text);
    }
    api_stream_end(c->stream, n > 0 ? final : NULL, n > 0 ? (size_t)n : 0, 1008);
    client_unlink(c);
}

/* Formats and queues one record. -1 when the client's buffer is full. */
static int client_send(struct stream_client *c, const struct audit_record *rec)
{
    cleanup_free char *json = NULL;
    struct error err;
    if (audit_record_to_json(rec, &json, &err) < 0) {
        log_error("audit stream: %s", err.message);
        return 0; /* verify would name it; the stream skips it rather than stall */
    }
    int rc;
    if (c->websocket) {
        rc = api_stream_write(c->stream, json, strlen(json));
    } else {
        /* Compact JSON has no raw newline, so one data line carries it. */
        cleanup_free char *event = NULL;
        int n = asprintf(&event, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", rec->seq,
                         rec->kind_name ? rec->kind_name : "", json);
        if (n < 0)
            return -1;
        rc = api_stream_write(c->stream, event, (size_t)n);
    }
    if (rc == 0)
        c->sent++;
    return rc;
}

static bool client_wants(const struct stream_client *c, const struct audit_record *rec)
{
    return c->session[0] == '\0' ||
           (rec->session_id != NULL && strcmp(rec->session_id, c->session) == 0);
}

struct pump_ctx {
    struct stream_client *c;
    bool paused;
    bool full;
    uint64_t last_seq;
};

static int pump_record(const struct audit_record *rec, void *arg)
{
    struct pump_ctx *p = arg;
    if (client_send(p->c, rec) < 0) {
        p->full = true;
        return 1;
    }
    p->c->after_seq = rec->seq;
    if (api_stream_pending(p->c->stream) > p->c->owner->pump_pause) {
        p->paused = true;
        return 1;
    }
    return 0;
}

/* Catch-up from the log: one page at a time while the client keeps up; when
 * a page comes back short, the client has reached the head and goes live.
 * Returns -1 when the client was dropped (c is gone). */
static int pump(struct stream_client *c)
{
    struct daemon_state *d = c->owner->d;
    if (c->live || c->pumping)
        return 0;
    c->pumping = true;
    for (;;) {
        uint64_t head = 0;
        char head_hash[AUDIT_HASH_HEX_SIZE];
        struct error err;
        if (audit_head(d->audit, &head, head_hash, &err) < 0) {
            c->pumping = false;
            client_drop(c, "the audit log cannot be read");
            return -1;
        }
        struct pump_ctx p = {.c = c};
        struct audit_filter filter = {
            .session_id = c->session[0] ? c->session : NULL,
            .after_seq = c->after_seq,
            .limit = STREAM_PAGE,
        };
        int64_t n = audit_query(d->audit, &filter, pump_record, &p, &err);
        if (n < 0) {
            c->pumping = false;
            client_drop(c, "the audit log cannot be read");
            return -1;
        }
        if (p.full) {
            c->pumping = false;
            client_drop(c, "the client reads too slowly");
            return -1;
        }
        if (p.paused)
            break; /* on_drained resumes */
        if (n < STREAM_PAGE) {
            /* Everything up to the head was seen (records of other sessions
             * included: none is left between after_seq and head). */
            if (head > c->after_seq)
                c->after_seq = head;
            c->live = true;
            break;
        }
    }
    c->pumping = false;
    return 0;
}

static int on_append(const struct audit_record *rec, void *arg)
{
    struct daemon_streams *st = arg;
    struct stream_client *next;
    for (struct stream_client *c = st->clients; c != NULL; c = next) {
        next = c->next;
        if (!c->live || rec->seq <= c->after_seq)
            continue;
        if (rec->seq != c->after_seq + 1) {
            /* Cannot happen while appends stay on this thread; if it does,
             * the log has what was missed: catch up from it. */
            c->live = false;
            continue;
        }
        if (client_wants(c, rec) && client_send(c, rec) < 0) {
            client_drop(c, "the client reads too slowly");
            continue;
        }
        c->after_seq = rec->seq;
    }
    /* A client sent back to catch-up resumes on its next drain or heartbeat. */
    return 0;
}

/* A signed checkpoint, after the records it covers (the audit module calls
 * checkpoint subscribers after record subscribers, on this same thread). A
 * client still catching up gets none: the checkpoints in the log are read
 * with 'enclave audit export' or a proof. */
static int on_checkpoint(const struct audit_checkpoint *cp, void *arg)
{
    struct daemon_streams *st = arg;
    cleanup_free char *json = NULL;
    struct error err;
    if (audit_checkpoint_to_json(cp, &json, &err) < 0) {
        log_error("audit stream: %s", err.message);
        return 0;
    }
    cleanup_free char *event = NULL;
    int n = asprintf(&event, "event: checkpoint\ndata: %s\n\n", json);
    if (n < 0)
        return 0;
    struct stream_client *next;
    for (struct stream_client *c = st->clients; c != NULL; c = next) {
        next = c->next;
        if (!c->live || !c->checkpoints || cp->tree_size > c->after_seq)
            continue;
        int rc = c->websocket ? api_stream_write(c->stream, json, strlen(json))
                              : api_stream_write(c->stream, event, (size_t)n);
        if (rc < 0)
            client_drop(c, "the client reads too slowly");
    }
    return 0;
}

static void on_checkpoint_timer(evutil_socket_t fd, short what, void *arg)
{
    struct daemon_streams *st = arg;
    struct error err;
    /* A no-op when the head is signed already. */
    if (audit_checkpoint(st->d->audit, &err) < 0)
        log_warn("audit: periodic checkpoint failed: %s", err.message);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct daemon_streams *st = arg;
    struct stream_client *next;
    for (struct stream_client *c = st->clients; c != NULL; c = next) {
        next = c->next;
        if (c->websocket) {
            api_stream_ping(c->stream);
        } else {
            static const char beat[] = ": heartbeat\n\n";
            if (api_stream_write(c->stream, beat, sizeof(beat) - 1) < 0) {
                client_drop(c, "the client reads too slowly");
                continue;
            }
        }
        if (!c->live && api_stream_pending(c->stream) == 0)
            pump(c);
    }
}

static void on_stream_close(struct api_stream *stream, void *ctx)
{
    struct stream_client *c = ctx;
    log_debug("audit stream: a client left after %" PRIu64 " records", c->sent);
    client_unlink(c);
}

static void on_stream_drained(struct api_stream *stream, void *ctx)
{
    pump(ctx);
}

/* ------------------------------------------------------------ the request */

static void reply_text(struct api_exchange *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_text(struct api_exchange *x, int status, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg) - 1)
        n = (int)sizeof(msg) - 2;
    msg[n++] = '\n';
    api_exchange_reply(x, status, "text/plain; charset=utf-8", msg, (size_t)n);
}

static int parse_seq(const char *s, uint64_t *out)
{
    if (s[0] == '\0' || strlen(s) > 20)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

/* Nothing but session, since_seq and checkpoints. Session ids need no percent-decoding
 * ([A-Za-z0-9._-]), so an encoded one is refused as invalid. */
int daemon_stream_parse_query(const char *query, struct stream_request *req, char *why,
                              size_t why_size)
{
    memset(req, 0, sizeof(*req));
    bool have_session = false, have_checkpoints = false;
    const char *p = query;
    while (*p != '\0') {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (len == 0) {
            p++;
            continue;
        }
        if (eq == NULL) {
            snprintf(why, why_size, "query parameter \"%.*s\" has no value", (int)(len > 64 ? 64 : len), p);
            return -1;
        }
        size_t klen = (size_t)(eq - p);
        size_t vlen = len - klen - 1;
        char value[AUDIT_MAX_SESSION_LEN + 1];
        if (vlen >= sizeof(value)) {
            snprintf(why, why_size, "query parameter %.*s is too long", (int)(klen > 64 ? 64 : klen), p);
            return -1;
        }
        memcpy(value, eq + 1, vlen);
        value[vlen] = '\0';
        if (klen == 7 && memcmp(p, "session", 7) == 0) {
            if (have_session || !core_session_id_valid(value)) {
                snprintf(why, why_size, "session must be one valid session id");
                return -1;
            }
            have_session = true;
            snprintf(req->session, sizeof(req->session), "%s", value);
        } else if (klen == 11 && memcmp(p, "checkpoints", 11) == 0) {
            if (have_checkpoints || (strcmp(value, "1") != 0 && strcmp(value, "0") != 0)) {
                snprintf(why, why_size, "checkpoints must be 1 or 0, once");
                return -1;
            }
            have_checkpoints = true;
            req->checkpoints = value[0] == '1';
        } else if (klen == 9 && memcmp(p, "since_seq", 9) == 0) {
            if (req->have_since || parse_seq(value, &req->since_seq) < 0) {
                snprintf(why, why_size, "since_seq must be one decimal sequence number");
                return -1;
            }
            req->have_since = true;
        } else {
            snprintf(why, why_size, "unknown query parameter \"%.*s\" (use session, since_seq, checkpoints)",
                     (int)(klen > 64 ? 64 : klen), p);
            return -1;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return 0;
}

static void serve(struct api_exchange *x, struct daemon_streams *st, bool websocket)
{
    struct daemon_state *d = st->d;
    struct stream_request req;
    char why[200];
    if (daemon_stream_parse_query(api_exchange_query(x), &req, why, sizeof(why)) < 0) {
        reply_text(x, 400, "%s", why);
        return;
    }
    /* An EventSource that reconnects sends the last id it saw. */
    const char *last_id = api_exchange_header(x, "last-event-id");
    if (last_id != NULL && last_id[0] != '\0') {
        if (parse_seq(last_id, &req.since_seq) < 0) {
            reply_text(x, 400, "Last-Event-ID must be a sequence number");
            return;
        }
        req.have_since = true;
    }
    /* A request that cannot become a WebSocket is refused before the gate
     * (api_exchange_websocket checks the handshake in full). */
    if (websocket && (api_exchange_header(x, "upgrade") == NULL ||
                      api_exchange_header(x, "sec-websocket-key") == NULL)) {
        reply_text(x, 400, "this resource needs a WebSocket: Upgrade: websocket");
        return;
    }
    const char *principal = api_exchange_principal(x);
    bool operator = principal != NULL && strcmp(principal, "operator") == 0;
    if (st->n_clients >= STREAM_MAX_CLIENTS) {
        reply_text(x, 503, "too many audit stream clients (%u)", STREAM_MAX_CLIENTS);
        return;
    }
    if (!operator && st->n_agent_clients >= STREAM_MAX_AGENT_CLIENTS) {
        reply_text(x, 503, "too many audit stream clients (%u; %u more are kept for the operator)",
                   STREAM_MAX_AGENT_CLIENTS, STREAM_OPERATOR_RESERVE);
        return;
    }
    uint64_t start = req.since_seq;
    struct error err;
    if (!req.have_since) {
        char hash[AUDIT_HASH_HEX_SIZE];
        if (audit_head(d->audit, &start, hash, &err) < 0) {
            reply_text(x, 500, "%s", err.message);
            return;
        }
    }
    json_t *input = json_pack("{s:{s:s}, s:{s:s, s:s, s:I}, s:{s:s, s:s, s:s}}", "session", "id",
                              req.session, "request", "session_id", req.session, "stream",
                              websocket ? "websocket" : "sse", "since_seq", (json_int_t)start,
                              "caller", "transport", websocket ? "websocket" : "sse", "peer",
                              api_exchange_peer(x), "principal", principal);
    struct gate_obligations ob;
    if (gate_decide(d->gate, "audit.read", req.session, input, &ob, &err) < 0) {
        reply_text(x, err.kind == ERR_PERMISSION_DENIED ? 403 : 503, "%s", err.message);
        return;
    }
    struct stream_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        reply_text(x, 503, "out of memory");
        return;
    }
    c->owner = st;
    c->websocket = websocket;
    c->after_seq = start;
    c->checkpoints = req.checkpoints;
    c->operator = operator;
    snprintf(c->session, sizeof(c->session), "%s", req.session);
    struct api_stream_callbacks cb = {
        .on_close = on_stream_close,
        .on_drained = on_stream_drained,
    };
    struct api_stream_options so = {
        .max_buffer = st->max_buffer,
        .max_message = STREAM_WS_MAX_MESSAGE,
        .extra_headers = "X-Accel-Buffering: no\r\n",
    };
    if (websocket) {
        so.extra_headers = NULL;
        c->stream = api_exchange_websocket(x, &so, &cb, c);
    } else {
        c->stream = api_exchange_stream_begin(x, 200, "text/event-stream; charset=utf-8", &so, &cb, c);
    }
    if (c->stream == NULL) {
        free(c);
        return; /* api_exchange_websocket answered the bad handshake */
    }
    c->next = st->clients;
    if (st->clients != NULL)
        st->clients->prev = c;
    st->clients = c;
    st->n_clients++;
    if (!operator)
        st->n_agent_clients++;
    if (!websocket) {
        /* The reconnection delay an EventSource should use, and a first line
         * so that the client sees the stream open before any record. */
        static const char hello[] = "retry: 2000\n: enclave audit stream\n\n";
        api_stream_write(c->stream, hello, sizeof(hello) - 1);
    }
    pump(c);
}

static void on_sse(struct api_exchange *x, void *ctx)
{
    serve(x, ctx, false);
}

static void on_ws(struct api_exchange *x, void *ctx)
{
    serve(x, ctx, true);
}

int daemon_streams_init(struct daemon_state *d, struct error *err)
{
    struct daemon_streams *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    st->d = d;
    d->streams = st;
    st->max_buffer = STREAM_MAX_BUFFER;
    const char *env = getenv("ENCLAVE_AUDIT_STREAM_BUFFER");
    if (env != NULL && env[0] != '\0') {
        uint64_t v;
        if (parse_seq(env, &v) < 0 || v < 4096 || v > (64u << 20))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "ENCLAVE_AUDIT_STREAM_BUFFER must be bytes from 4096 to 64M, not '%s'", env);
        st->max_buffer = (size_t)v;
    }
    st->pump_pause = st->max_buffer / 4;
    st->heartbeat = event_new(d->base, -1, EV_PERSIST, on_heartbeat, st);
    struct timeval tv = {.tv_sec = STREAM_HEARTBEAT_S};
    if (st->heartbeat == NULL || event_add(st->heartbeat, &tv) < 0)
        return error_set(err, ERR_INTERNAL, "cannot set the audit stream heartbeat");
    st->subscription = audit_subscribe(d->audit, on_append, st, err);
    if (st->subscription < 0)
        return -1;
    st->cp_subscription = audit_subscribe_checkpoints(d->audit, on_checkpoint, st, err);
    if (st->cp_subscription < 0)
        return -1;
    unsigned period = CHECKPOINT_PERIOD_S;
    const char *cp_env = getenv("ENCLAVE_AUDIT_CHECKPOINT_S");
    if (cp_env != NULL && cp_env[0] != '\0') {
        uint64_t v;
        if (parse_seq(cp_env, &v) < 0 || v < 1 || v > 86400)
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "ENCLAVE_AUDIT_CHECKPOINT_S must be seconds from 1 to 86400, not '%s'",
                             cp_env);
        period = (unsigned)v;
    }
    st->checkpoint_timer = event_new(d->base, -1, EV_PERSIST, on_checkpoint_timer, st);
    struct timeval cp_tv = {.tv_sec = period};
    if (st->checkpoint_timer == NULL || event_add(st->checkpoint_timer, &cp_tv) < 0)
        return error_set(err, ERR_INTERNAL, "cannot set the audit checkpoint timer");
    if (api_server_add_route(d->api, "GET", "/v1/audit/stream", on_sse, st, err) < 0 ||
        api_server_add_route(d->api, "GET", "/ws/audit", on_ws, st, err) < 0)
        return -1;
    return 0;
}

void daemon_streams_free(struct daemon_state *d)
{
    struct daemon_streams *st = d->streams;
    if (st == NULL)
        return;
    /* The API server is gone by now, so every client has had on_close. */
    while (st->clients != NULL)
        client_drop(st->clients, "the daemon is stopping");
    if (st->subscription > 0)
        audit_unsubscribe(d->audit, st->subscription);
    if (st->cp_subscription > 0)
        audit_unsubscribe(d->audit, st->cp_subscription);
    if (st->checkpoint_timer != NULL)
        event_free(st->checkpoint_timer);
    if (st->heartbeat != NULL)
        event_free(st->heartbeat);
    free(st);
    d->streams = NULL;
}
