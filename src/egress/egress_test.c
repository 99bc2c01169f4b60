/* The host side of egress against a scripted guest: a fake guest on a real
 * Unix socket speaks the egress frames to the real proxy connection, the
 * real gate (a Rego bundle, a SQLite audit log) decides, the real resolver
 * thread looks names up, and a local TCP server on 127.0.0.1 is the remote.
 * Every refusal here is checked against a case that goes through, so a test
 * fails when the check it is about is taken out. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "egress/egress.h"
#include "gate/gate.h"
#include "gate/test_gate.h"
#include "proxy/proxy.h"
#include "proxy/test_peer.h"
#include "secret/secret.h"
#include "wire/frame.h"
#include "wire/test_frames.h"

static const char *test_policy =
    "package enclave\n"
    "default decision := {\"allow\": false, \"reasons\": [\"not allowed by the test policy\"]}\n"
    "allowed_host(h) if h in {\"127.0.0.1\", \"localhost\", \"127.0.0.2\", \"8.8.8.8\"}\n"
    "decision := {\"allow\": true} if {\n"
    "  input.action == \"net.resolve\"\n"
    "  allowed_host(input.request.host)\n"
    "}\n"
    "decision := {\"allow\": true, \"obligations\": obligations} if {\n"
    "  input.action == \"net.connect\"\n"
    "  allowed_host(input.request.host)\n"
    "}\n"
    "default tls_ports := set()\n"
    "default obligations := {}\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"max_bytes\": 1000} if input.request.path == \"/limited\"\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1/32\"]} if {\n"
    "  input.request.host == \"127.0.0.1\"\n"
    "  not input.request.path == \"/limited\"\n"
    "  not startswith(object.get(input.request, \"path\", \"\"), \"/secret\")\n"
    "  not input.request.port == 1\n"
    "  not input.request.port in tls_ports\n"
    "}\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"inject_secret\": {\"name\": \"api-token\"}} if "
    "input.request.path == \"/secret\"\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"inject_secret\": {\"name\": \"absent\"}} if "
    "input.request.path == \"/secret-missing\"\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"inject_secret\": {\"name\": \"api-token\", "
    "\"header\": \"X-Api-Key\", \"format\": \"%s\"}} if input.request.port == 1\n"
    "obligations := {\"allow_addresses\": [\"127.0.0.1\"], \"inject_secret\": {\"name\": \"api-token\"}} if "
    "input.request.port in tls_ports\n";

#define MAX_SEEN 8192

struct seen {
    Guest__V1__Frame__BodyCase body;
    uint64_t id;
    uint32_t stream;
    bool allowed, write_only;
    uint32_t status;
    uint32_t credit;
    size_t data_len;
    char reason[512];
};

struct fixture {
    struct test_gate t;
    struct audit_log *log; /* t's */
    struct gate *gate;     /* t's */
    struct event_base *base;
    struct egress_resolver *resolver;
    struct proxy_conn *conn;
    struct egress *egress;
    struct test_peer tp;
    int peer; /* tp's: the guest's end */
    struct wire_decoder dec;
    uint64_t egress_id;
    struct seen seen[MAX_SEEN];
    size_t n_seen;
    uint64_t data_bytes[4096]; /* EgressData bytes the guest got, per stream */
    char got[16][4096];        /* ... and the first of them, streams 0-15 */
    char ca_pem[4096];         /* the EgressRequest's session CA */
    uint8_t raw[16][1u << 19]; /* EgressData bytes as they came, streams 0-15 */
    size_t raw_len[16];
    /* TLS servers: one whose CA the host trusts, one it does not */
    struct egress_ca *real_ca, *other_ca;
    struct evconnlistener *tls_server, *untrusted_server;
    unsigned tls_port, untrusted_port;
    char trust_file[300];
    struct evconnlistener *server;
    unsigned server_port;
};

/* ------------------------------------------------------------ the remote: echo, "BIG" for 1 MiB, "BYE" to close */

static void srv_done(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        bufferevent_free(bev);
}

static void srv_event(struct bufferevent *bev, short what, void *arg);

static void srv_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    char head[4] = {0};
    evbuffer_copyout(in, head, 3);
    if (n >= 3 && memcmp(head, "BYE", 3) == 0) {
        /* "bye", and the server closes by itself. */
        evbuffer_drain(in, n);
        bufferevent_write(bev, "bye", 3);
        bufferevent_setcb(bev, NULL, srv_done, srv_event, NULL);
        return;
    }
    if (n >= 3 && memcmp(head, "BIG", 3) == 0) {
        evbuffer_drain(in, n);
        static char chunk[65536];
        memset(chunk, 'x', sizeof(chunk));
        for (int i = 0; i < 16; i++)
            bufferevent_write(bev, chunk, sizeof(chunk));
        return;
    }
    bufferevent_write_buffer(bev, in);
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, srv_read, NULL, srv_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ------------------------------------------------------------ the remote over TLS: answers with the head it got */

static void tls_srv_done(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        bufferevent_free(bev);
}

static void tls_srv_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        return;
    size_t n = (size_t)end.pos + 4;
    char first[9] = {0};
    evbuffer_copyout(in, first, 8);
    if (strcmp(first, "GET /big") == 0) {
        /* 256 KiB: more than every window on the way. */
        static char chunk[65536];
        memset(chunk, 'z', sizeof(chunk));
        evbuffer_drain(in, n);
        evbuffer_add_printf(bufferevent_get_output(bev), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", 4u << 16);
        for (int i = 0; i < 4; i++)
            bufferevent_write(bev, chunk, sizeof(chunk));
        bufferevent_setcb(bev, NULL, tls_srv_done, srv_event, NULL);
        return;
    }
    evbuffer_add_printf(bufferevent_get_output(bev), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
    evbuffer_remove_buffer(in, bufferevent_get_output(bev), n);
    bufferevent_setcb(bev, NULL, tls_srv_done, srv_event, NULL);
}

static void tls_srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct error err;
    SSL *ssl = egress_ca_server_ssl(arg, "127.0.0.1", &err);
    assert_non_null(ssl);
    struct bufferevent *bev = bufferevent_openssl_socket_new(evconnlistener_get_base(l), fd, ssl,
                                                             BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, tls_srv_read, NULL, srv_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static struct evconnlistener *tls_listener(struct event_base *base, struct egress_ca *ca, unsigned *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct evconnlistener *l = evconnlistener_new_bind(base, tls_srv_accept, ca, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                                       16, (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(l);
    socklen_t sl = sizeof(sin);
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sl);
    *port = ntohs(sin.sin_port);
    return l;
}

/* ------------------------------------------------------------ the fake guest */

static void peer_send(struct fixture *f, Guest__V1__Frame *frame)
{
    frame->id = f->egress_id;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wire_encode(frame, &buf, &len), 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(f->peer, buf + off, len - off);
        if (n < 0 && errno == EAGAIN) {
            event_base_loop(f->base, EVLOOP_NONBLOCK);
            continue;
        }
        assert_true(n > 0);
        off += (size_t)n;
    }
    free(buf);
}

static void peer_read(struct fixture *f)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(f->peer, buf, sizeof(buf));
        if (n <= 0)
            return;
        size_t off = 0;
        while (off < (size_t)n) {
            long took = wire_decoder_feed(&f->dec, buf + off, (size_t)n - off);
            assert_true(took >= 0);
            off += (size_t)took;
            Guest__V1__Frame *fr = NULL;
            while (wire_decoder_next(&f->dec, &fr) == 1) {
                if (fr->body_case == GUEST__V1__FRAME__BODY_EGRESS_REQUEST) {
                    f->egress_id = fr->id;
                    snprintf(f->ca_pem, sizeof(f->ca_pem), "%s", fr->egress_request->ca_certificate);
                }
                if (f->n_seen < MAX_SEEN) {
                    struct seen *s = &f->seen[f->n_seen++];
                    memset(s, 0, sizeof(*s));
                    s->body = fr->body_case;
                    s->id = fr->id;
                    switch (fr->body_case) {
                    case GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT:
                        s->stream = fr->egress_open_result->stream;
                        s->allowed = fr->egress_open_result->allowed;
                        s->status = fr->egress_open_result->status;
                        snprintf(s->reason, sizeof(s->reason), "%s", fr->egress_open_result->reason);
                        break;
                    case GUEST__V1__FRAME__BODY_EGRESS_DATA:
                        s->stream = fr->egress_data->stream;
                        s->data_len = fr->egress_data->data.len;
                        if (s->stream < 16 && f->raw_len[s->stream] + s->data_len <= sizeof(f->raw[0])) {
                            memcpy(f->raw[s->stream] + f->raw_len[s->stream], fr->egress_data->data.data,
                                   s->data_len);
                            f->raw_len[s->stream] += s->data_len;
                        }
                        if (s->stream < 16) {
                            size_t have = strlen(f->got[s->stream]);
                            size_t room = sizeof(f->got[0]) - 1 - have;
                            size_t take = s->data_len < room ? s->data_len : room;
                            memcpy(f->got[s->stream] + have, fr->egress_data->data.data, take);
                            f->got[s->stream][have + take] = '\0';
                        }
                        if (s->stream < 4096)
                            f->data_bytes[s->stream] += s->data_len;
                        break;
                    case GUEST__V1__FRAME__BODY_EGRESS_CREDIT:
                        s->stream = fr->egress_credit->stream;
                        s->credit = fr->egress_credit->bytes;
                        break;
                    case GUEST__V1__FRAME__BODY_EGRESS_CLOSE:
                        s->stream = fr->egress_close->stream;
                        s->write_only = fr->egress_close->write_only;
                        snprintf(s->reason, sizeof(s->reason), "%s", fr->egress_close->reason);
                        break;
                    default:
                        break;
                    }
                }
                guest__v1__frame__free_unpacked(fr, NULL);
            }
        }
    }
}

/* Runs the loop and reads the guest's side until pred holds (or 10 s). */
static bool run_until(struct fixture *f, bool (*pred)(struct fixture *, const void *), const void *arg)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        peer_read(f);
        if (pred(f, arg))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10)
            return false;
        usleep(500);
    }
}

static void run_for_ms(struct fixture *f, int ms)
{
    for (int i = 0; i < ms * 2; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        peer_read(f);
        usleep(500);
    }
}

static const struct seen *find_seen(struct fixture *f, Guest__V1__Frame__BodyCase body, uint32_t stream)
{
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i].body == body && f->seen[i].stream == stream)
            return &f->seen[i];
    return NULL;
}

static bool has_open_result(struct fixture *f, const void *arg)
{
    return find_seen(f, GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT, *(const uint32_t *)arg) != NULL;
}

static bool has_close(struct fixture *f, const void *arg)
{
    uint32_t stream = *(const uint32_t *)arg;
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i].body == GUEST__V1__FRAME__BODY_EGRESS_CLOSE && f->seen[i].stream == stream &&
            !f->seen[i].write_only)
            return true;
    return false;
}

struct want_bytes {
    uint32_t stream;
    uint64_t bytes;
};

static bool has_bytes(struct fixture *f, const void *arg)
{
    const struct want_bytes *w = arg;
    return f->data_bytes[w->stream] >= w->bytes;
}

static bool has_egress_request(struct fixture *f, const void *arg)
{
    return f->egress_id != 0;
}

static void send_open(struct fixture *f, uint32_t stream, const char *host, unsigned port, const char *scheme,
                      const char *method, const char *path)
{
    struct test_frame b;
    peer_send(f, test_frame_open(&b, f->egress_id, stream, host, port, scheme, method, path));
}

static void send_data(struct fixture *f, uint32_t stream, const void *data, size_t len)
{
    struct test_frame b;
    peer_send(f, test_frame_data(&b, f->egress_id, stream, data, len));
}

static void send_credit(struct fixture *f, uint32_t stream, uint32_t bytes)
{
    struct test_frame b;
    peer_send(f, test_frame_credit(&b, f->egress_id, stream, bytes));
}

static void send_close(struct fixture *f, uint32_t stream, bool write_only)
{
    struct test_frame b;
    peer_send(f, test_frame_close(&b, f->egress_id, stream, write_only));
}

/* The guest's proxy ends the stream because the workload's connection
 * failed, saying why as enclave-init does. */
static void send_close_failed(struct fixture *f, uint32_t stream, const char *reason)
{
    struct test_frame b;
    Guest__V1__Frame *fr = test_frame_close(&b, f->egress_id, stream, false);
    fr->egress_close->reason = (char *)reason;
    peer_send(f, fr);
}

/* The host told the guest that the remote sends no more. */
static bool has_half_close(struct fixture *f, const void *arg)
{
    uint32_t stream = *(const uint32_t *)arg;
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i].body == GUEST__V1__FRAME__BODY_EGRESS_CLOSE && f->seen[i].stream == stream &&
            f->seen[i].write_only)
            return true;
    return false;
}

static bool stream_gone(struct fixture *f, const void *arg)
{
    struct egress_stats st;
    egress_stats(f->egress, &st);
    return st.open_streams == 0;
}

/* The stream's open result, after running the loop until it comes. */
static const struct seen *open_result(struct fixture *f, uint32_t stream)
{
    if (!run_until(f, has_open_result, &stream))
        fail_msg("no EgressOpenResult for stream %u", stream);
    return find_seen(f, GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT, stream);
}

/* ------------------------------------------------------------ the audit log */

struct records {
    char text[64][2048];
    size_t n;
    const char *kind;
};

static int keep_kind(const struct audit_record *r, void *ctx)
{
    struct records *rs = ctx;
    if (strcmp(r->kind_name, rs->kind) != 0 || rs->n >= 64)
        return 0;
    snprintf(rs->text[rs->n++], sizeof(rs->text[0]), "%s %s %s", r->decision, r->reasons_json ? r->reasons_json : "",
             r->details_json ? r->details_json : "");
    return 0;
}

/* How many records of kind mention every one of the words. */
static size_t count_records(struct fixture *f, const char *kind, const char *w1, const char *w2)
{
    struct records *rs = calloc(1, sizeof(*rs));
    rs->kind = kind;
    struct error err;
    assert_true(audit_query(f->log, NULL, keep_kind, rs, &err) >= 0);
    size_t n = 0;
    for (size_t i = 0; i < rs->n; i++)
        if ((!w1 || strstr(rs->text[i], w1)) && (!w2 || strstr(rs->text[i], w2)))
            n++;
    free(rs);
    return n;
}

static int keep_all(const struct audit_record *r, void *ctx)
{
    const char *needle = ((const char **)ctx)[0];
    size_t *n = (size_t *)((const char **)ctx)[1];
    if ((r->details_json && strstr(r->details_json, needle)) || (r->reasons_json && strstr(r->reasons_json, needle)))
        (*n)++;
    return 0;
}

/* How many records of any kind hold text in their details or reasons. */
static size_t records_holding(struct fixture *f, const char *text)
{
    size_t n = 0;
    const void *ctx[2] = {text, &n};
    struct error err;
    assert_true(audit_query(f->log, NULL, keep_all, ctx, &err) >= 0);
    return n;
}

struct count_ctx {
    const char *kind, *word;
    size_t n;
};

static int count_one(const struct audit_record *r, void *ctx)
{
    struct count_ctx *c = ctx;
    if (strcmp(r->kind_name, c->kind) == 0 &&
        ((r->details_json && strstr(r->details_json, c->word)) || (r->reasons_json && strstr(r->reasons_json, c->word))))
        c->n++;
    return 0;
}

/* How many records of kind hold word in their details or reasons (no cap). */
static size_t count_all(struct fixture *f, const char *kind, const char *word)
{
    struct count_ctx c = {kind, word, 0};
    struct error err;
    assert_true(audit_query(f->log, NULL, count_one, &c, &err) >= 0);
    return c.n;
}

/* ------------------------------------------------------------ fixture */

static uint64_t session_max_bytes_for_setup;
static unsigned session_timeout_for_setup;
static int64_t (*clock_for_setup)(void);

static int setup_with(void **state, unsigned max_streams, unsigned window)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_gate_open(&f->t, test_policy);
    f->log = f->t.log;
    f->gate = f->t.gate;
    struct error err;
    f->base = event_base_new();
    /* The TLS servers, and the host's trust store: the real CA only. */
    assert_int_equal(egress_ca_new(3600, &f->real_ca, &err), 0);
    assert_int_equal(egress_ca_new(3600, &f->other_ca, &err), 0);
    f->tls_server = tls_listener(f->base, f->real_ca, &f->tls_port);
    f->untrusted_server = tls_listener(f->base, f->other_ca, &f->untrusted_port);
    snprintf(f->trust_file, sizeof(f->trust_file), "%s/trust.pem", f->t.home);
    FILE *tf = fopen(f->trust_file, "w");
    assert_non_null(tf);
    fputs(egress_ca_pem(f->real_ca), tf);
    fclose(tf);
    setenv(EGRESS_TRUST_ENV, f->trust_file, 1);
    size_t plen = strlen(test_policy) + 100;
    char *policy = malloc(plen);
    snprintf(policy, plen, "%stls_ports := {%u, %u}\n", test_policy, f->tls_port, f->untrusted_port);
    if (gate_apply_document(f->gate, policy, strlen(policy), "", &err) != 0)
        fail_msg("policy: %s", err.message);
    free(policy);
    assert_int_equal(egress_resolver_new(f->base, 8, NULL, &f->resolver, &err), 0);

    /* The remote. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    f->server = evconnlistener_new_bind(f->base, srv_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                        (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(f->server);
    socklen_t sl = sizeof(sin);
    getsockname(evconnlistener_get_fd(f->server), (struct sockaddr *)&sin, &sl);
    f->server_port = ntohs(sin.sin_port);

    /* The guest channel. */
    test_peer_connect(&f->tp, f->base, &f->conn);
    f->peer = f->tp.peer;
    fcntl(f->peer, F_SETFL, fcntl(f->peer, F_GETFL) | O_NONBLOCK);
    wire_decoder_init(&f->dec, 0);

    /* 8.8.8.8 stands for one of this machine's own public addresses. */
    static struct egress_addr own;
    assert_int_equal(egress_addr_parse("8.8.8.8", &own), 0);
    struct egress_config ec = {
        .base = f->base,
        .gate = f->gate,
        .resolver = f->resolver,
        .session_id = "s-egress",
        .max_streams = max_streams,
        .window = window,
        .extra_host_addrs = &own,
        .n_extra_host_addrs = 1,
        .session_max_bytes = session_max_bytes_for_setup,
        .session_timeout_s = session_timeout_for_setup,
        .clock_ns = clock_for_setup,
    };
    assert_int_equal(egress_new(&ec, &f->egress, &err), 0);
    assert_int_equal(egress_attach(f->egress, f->conn, &err), 0);
    assert_true(run_until(f, has_egress_request, NULL));
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 8, 4096);
}

static int setup_many(void **state)
{
    return setup_with(state, 64, 4096);
}

/* The session.start decision's limits: 2000 bytes, 2 s for the session's egress. */
static int setup_session_limits(void **state)
{
    session_max_bytes_for_setup = 2000;
    session_timeout_for_setup = 2;
    int r = setup_with(state, 8, 4096);
    session_max_bytes_for_setup = 0;
    session_timeout_for_setup = 0;
    return r;
}

/* The rate limits' clock stands still unless a test moves it. */
static int64_t test_clock_ns;

static int64_t test_clock(void)
{
    return test_clock_ns;
}

static int setup_test_clock(void **state)
{
    test_clock_ns = 1000000000;
    clock_for_setup = test_clock;
    int r = setup_with(state, 8, 4096);
    clock_for_setup = NULL;
    return r;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    egress_free(f->egress);
    proxy_conn_free(f->conn);
    evconnlistener_free(f->server);
    evconnlistener_free(f->tls_server);
    evconnlistener_free(f->untrusted_server);
    /* Let the sockets closed above finish (libevent frees them from the loop). */
    for (int i = 0; i < 20; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    egress_resolver_free(f->resolver);
    event_base_free(f->base);
    wire_decoder_release(&f->dec);
    test_peer_close(&f->tp);
    test_gate_close(&f->t);
    egress_ca_free(f->real_ca);
    egress_ca_free(f->other_ca);
    unsetenv(EGRESS_TRUST_ENV);
    free(f);
    return 0;
}

/* ------------------------------------------------------------ tests */

/* An allowed connection to the explicitly allowed 127.0.0.1: open, bytes
 * both ways with credit, a clean close from both sides, one NET:CONNECT
 * record with the bytes. */
static void test_allowed_connection_pipes_and_is_audited(void **state)
{
    struct fixture *f = *state;
    send_open(f, 1, "127.0.0.1", f->server_port, "https", NULL, NULL);
    const struct seen *r = open_result(f, 1);
    assert_true(r->allowed);
    send_data(f, 1, "hello", 5);
    struct want_bytes w = {1, 5};
    assert_true(run_until(f, has_bytes, &w));
    /* The host credited what it passed on. */
    const struct seen *c = find_seen(f, GUEST__V1__FRAME__BODY_EGRESS_CREDIT, 1);
    assert_non_null(c);
    assert_int_equal(c->credit, 5);
    send_close(f, 1, true); /* the guest is done writing; the echo server then closes */
    uint32_t one = 1;
    assert_true(run_until(f, has_close, &one));
    egress_detach(f->egress); /* nothing left to close */
    assert_int_equal(count_records(f, "NET:CONNECT", "\"allowed\":true", "\"bytes_out\":5"), 1);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"complete\"", "\"reason\":\"\""), 1);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"bytes_in\":5", "\"address\":\"127.0.0.1\""), 1);
    assert_int_equal(count_records(f, "POLICY:DECISION", "allow", "net.connect"), 1);
    struct egress_stats st;
    egress_stats(f->egress, &st);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.bytes_out, 5);
    assert_int_equal(st.bytes_in, 5);
}

/* A host the policy does not allow: refused with its reason, and never
 * looked up (the net.resolve decision comes first). */
static void test_denied_host_is_refused_before_lookup(void **state)
{
    struct fixture *f = *state;
    send_open(f, 2, "denied.invalid", 443, "https", NULL, NULL);
    const struct seen *r = open_result(f, 2);
    assert_false(r->allowed);
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->reason, "not allowed by the test policy"));
    assert_int_equal(count_records(f, "POLICY:DECISION", "deny", "net.resolve"), 1);
    assert_int_equal(count_records(f, "POLICY:DECISION", NULL, "net.connect"), 0);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"allowed\":false", "denied.invalid"), 1);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"refused\"", "denied.invalid"), 1);
}

/* The policy allows 127.0.0.2 and "localhost" but names no address for them:
 * the host refuses loopback by itself. The control is 127.0.0.1, which the
 * policy allows explicitly (test_allowed_connection_...). */
static void test_loopback_refused_unless_the_policy_allows_it(void **state)
{
    struct fixture *f = *state;
    send_open(f, 3, "127.0.0.2", f->server_port, "https", NULL, NULL);
    const struct seen *r = open_result(f, 3);
    assert_false(r->allowed);
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->reason, "loopback"));
    send_open(f, 4, "localhost", f->server_port, "https", NULL, NULL);
    r = open_result(f, 4);
    assert_false(r->allowed);
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->reason, "resolves to a loopback address"));
    /* Both were decided (allowed by the policy) and still refused. */
    assert_int_equal(count_records(f, "POLICY:DECISION", "allow", "net.connect"), 2);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"allowed\":false", "loopback"), 2);
}

/* A public address that is one of the host's own is refused like loopback
 * (the policy allows 8.8.8.8; without the check the host would connect). */
static void test_host_own_address_refused(void **state)
{
    struct fixture *f = *state;
    send_open(f, 20, "8.8.8.8", 443, "https", NULL, NULL);
    const struct seen *r = open_result(f, 20);
    assert_false(r->allowed);
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->reason, "is a host address"));
    assert_int_equal(count_records(f, "POLICY:DECISION", "allow", "net.connect"), 1);
}

/* Malformed opens: each refused with 400, nothing decided, the channel still
 * serves an allowed stream afterwards. */
static void test_garbage_opens_are_refused(void **state)
{
    struct fixture *f = *state;
    char huge[2000];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    send_open(f, 10, huge, 443, "https", NULL, NULL);
    send_open(f, 11, "bad host", 443, "https", NULL, NULL);
    send_open(f, 12, "127.0.0.1", 0, "https", NULL, NULL);
    send_open(f, 13, "127.0.0.1", 70000, "https", NULL, NULL);
    send_open(f, 14, "127.0.0.1", 80, "gopher", NULL, NULL);
    send_open(f, 15, "127.0.0.1", 80, "http", "GET", "no-slash");
    send_open(f, 16, "127.0.0.1", 80, "http", "G\r\nET", "/");
    send_open(f, 17, "2130706433", 80, "https", NULL, NULL);
    send_open(f, 18, "", 80, "https", NULL, NULL);
    for (uint32_t s = 10; s <= 18; s++) {
        const struct seen *r = open_result(f, s);
        assert_false(r->allowed);
        assert_int_equal(r->status, 400);
    }
    assert_int_equal(count_records(f, "POLICY:DECISION", NULL, "net."), 0);
    /* Frames for streams that do not exist: dropped. */
    send_data(f, 999, "x", 1);
    send_credit(f, 999, 100);
    send_close(f, 999, false);
    send_open(f, 19, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 19)->allowed);
}

/* More streams than max_streams: the rest are refused with 503 at once, the
 * open ones stay, and the refusals' records are rate-limited. */
static void test_stream_limit(void **state)
{
    struct fixture *f = *state;
    for (uint32_t s = 1; s <= 8; s++)
        send_open(f, s, "127.0.0.1", f->server_port, "https", NULL, NULL);
    for (uint32_t s = 1; s <= 8; s++)
        assert_true(open_result(f, s)->allowed);
    for (uint32_t s = 100; s < 2100; s++)
        send_open(f, s, "127.0.0.1", f->server_port, "https", NULL, NULL);
    for (uint32_t s = 100; s < 2100; s++) {
        const struct seen *r = open_result(f, s);
        assert_false(r->allowed);
        assert_int_equal(r->status, 503);
        assert_non_null(strstr(r->reason, "too many connections"));
    }
    struct egress_stats st;
    egress_stats(f->egress, &st);
    assert_int_equal(st.open_streams, 8);
    assert_true(count_records(f, "NET:CONNECT", "too many connections", NULL) < 64);
    /* A used stream number is refused and the stream it names carries on. */
    send_open(f, 1, "127.0.0.1", f->server_port, "https", NULL, NULL);
    run_for_ms(f, 50);
    egress_stats(f->egress, &st);
    assert_int_equal(st.open_streams, 8);
}

/* A hostile guest opening connections in a loop: only EGRESS_OPENS_BURST
 * of them reach the gate while the clock stands still, and
 * EGRESS_OPENS_PER_S more a second after; the rest are refused with 429
 * before any decision, and recorded at a bounded rate with a count of those
 * left out, never one record per open. */
static void test_open_rate_limit(void **state)
{
    struct fixture *f = *state;
    const uint32_t flood = 1000;
    for (uint32_t s = 1; s <= flood; s++)
        send_open(f, s, "denied.invalid", 443, "https", NULL, NULL);
    for (uint32_t s = 1; s <= flood; s++) {
        const struct seen *r = open_result(f, s);
        assert_false(r->allowed);
        if (s <= EGRESS_OPENS_BURST) {
            assert_int_equal(r->status, 403); /* decided: the policy's refusal */
        } else {
            assert_int_equal(r->status, 429);
            assert_non_null(strstr(r->reason, "too many connections opened: at most 10 a second"));
        }
    }
    assert_int_equal(count_all(f, "POLICY:DECISION", "net.resolve"), EGRESS_OPENS_BURST);
    assert_int_equal(count_all(f, "NET:CONNECT", "denied.invalid"), EGRESS_OPENS_BURST + EGRESS_UNDECIDED_RECORDS_BURST);
    assert_int_equal(count_all(f, "NET:CONNECT", "\"status\":429"), EGRESS_UNDECIDED_RECORDS_BURST);
    struct egress_stats st;
    egress_stats(f->egress, &st);
    assert_int_equal(st.rate_limited, flood - EGRESS_OPENS_BURST);
    assert_int_equal(st.open_streams, 0);

    /* A second later: EGRESS_OPENS_PER_S more are decided; the first record
     * of a refusal counts those left out before it. */
    test_clock_ns += 1000000000;
    const uint32_t more = EGRESS_OPENS_PER_S + EGRESS_UNDECIDED_RECORDS_PER_S + 5;
    for (uint32_t s = flood + 1; s <= flood + more; s++)
        send_open(f, s, "denied.invalid", 443, "https", NULL, NULL);
    for (uint32_t s = flood + 1; s <= flood + more; s++)
        assert_int_equal(open_result(f, s)->status, s <= flood + EGRESS_OPENS_PER_S ? 403 : 429);
    assert_int_equal(count_all(f, "POLICY:DECISION", "net.resolve"), EGRESS_OPENS_BURST + EGRESS_OPENS_PER_S);
    char left_out[64];
    snprintf(left_out, sizeof(left_out), "\"suppressed\":%u",
             flood - EGRESS_OPENS_BURST - EGRESS_UNDECIDED_RECORDS_BURST);
    assert_int_equal(count_all(f, "NET:CONNECT", left_out), 1);
    assert_int_equal(count_all(f, "NET:CONNECT", "\"status\":429"),
                     EGRESS_UNDECIDED_RECORDS_BURST + EGRESS_UNDECIDED_RECORDS_PER_S);
    /* The last 5 were left out; detaching records them in one record. */
    egress_detach(f->egress);
    assert_int_equal(count_all(f, "NET:CONNECT", "\"suppressed\":5"), 1);
    assert_int_equal(count_all(f, "NET:CONNECT", "not recorded one by one"), 1);
}

/* A guest that never credits: the host sends it one window and no more; a
 * credit lets the rest come. */
static void test_window_towards_the_guest(void **state)
{
    struct fixture *f = *state;
    send_open(f, 5, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 5)->allowed);
    send_data(f, 5, "BIG", 3);
    struct want_bytes w = {5, 4096};
    assert_true(run_until(f, has_bytes, &w));
    run_for_ms(f, 200);
    assert_int_equal(f->data_bytes[5], 4096);
    send_credit(f, 5, 4096);
    w.bytes = 8192;
    assert_true(run_until(f, has_bytes, &w));
    run_for_ms(f, 100);
    assert_int_equal(f->data_bytes[5], 8192);
}

/* A guest that sends past the window (nothing credited yet) breaks the
 * protocol: the stream is closed. Within the window it is fine (above). */
static void test_data_past_the_window_closes(void **state)
{
    struct fixture *f = *state;
    send_open(f, 6, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 6)->allowed);
    /* The remote must not drain it before the next frame: stop the loop
     * from writing by sending both frames back to back. */
    static char block[4096];
    memset(block, 'y', sizeof(block));
    Guest__V1__Frame fr = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressData d = GUEST__V1__EGRESS_DATA__INIT;
    d.stream = 6;
    d.data.data = (uint8_t *)block;
    d.data.len = sizeof(block);
    fr.body_case = GUEST__V1__FRAME__BODY_EGRESS_DATA;
    fr.egress_data = &d;
    fr.id = f->egress_id;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    assert_int_equal(wire_encode(&fr, &a, &alen), 0);
    d.data.len = 1;
    assert_int_equal(wire_encode(&fr, &b, &blen), 0);
    uint8_t *both = malloc(alen + blen);
    memcpy(both, a, alen);
    memcpy(both + alen, b, blen);
    assert_int_equal(write(f->peer, both, alen + blen), (ssize_t)(alen + blen));
    free(a);
    free(b);
    free(both);
    uint32_t six = 6;
    assert_true(run_until(f, has_close, &six));
    bool found = false;
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i].body == GUEST__V1__FRAME__BODY_EGRESS_CLOSE && f->seen[i].stream == 6)
            found = strstr(f->seen[i].reason, "past the window") != NULL;
    assert_true(found);
}

/* The decision's max_bytes ends the connection; the same request without
 * the obligation is not ended (test_window_towards_the_guest moves 8 KiB). */
static void test_byte_limit_obligation(void **state)
{
    struct fixture *f = *state;
    send_open(f, 7, "127.0.0.1", f->server_port, "http", "GET", "/limited");
    assert_true(open_result(f, 7)->allowed);
    static char block[900];
    memset(block, 'z', sizeof(block));
    send_data(f, 7, block, sizeof(block)); /* out 900, the echo brings it to 1800 > 1000 */
    uint32_t seven = 7;
    assert_true(run_until(f, has_close, &seven));
    assert_int_equal(count_records(f, "NET:CONNECT", "byte limit", "/limited"), 1);
    assert_int_equal(count_records(f, "NET:CONNECT", "byte limit", "\"outcome\":\"failed\""), 1);
}

/* The session's byte limit ends a connection that passes it and refuses new
 * ones; its time limit then refuses every open. The same traffic passes in
 * test_byte_limit_obligation's first 900 bytes without the limits. */
static void test_session_limits(void **state)
{
    struct fixture *f = *state;
    send_open(f, 1, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 1)->allowed);
    static char block[900];
    memset(block, 'q', sizeof(block));
    send_data(f, 1, block, sizeof(block));
    struct want_bytes w = {1, 900};
    assert_true(run_until(f, has_bytes, &w)); /* 1800 of 2000 moved */
    send_data(f, 1, block, 300);              /* 2100: past the session's limit */
    uint32_t one = 1;
    assert_true(run_until(f, has_close, &one));
    assert_int_equal(count_records(f, "NET:CONNECT", "session's egress byte limit", NULL), 1);
    send_open(f, 2, "127.0.0.1", f->server_port, "https", NULL, NULL);
    const struct seen *r = open_result(f, 2);
    assert_false(r->allowed);
    assert_non_null(strstr(r->reason, "session's egress byte limit"));
}

static void test_session_time_limit(void **state)
{
    struct fixture *f = *state;
    send_open(f, 1, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 1)->allowed);
    uint32_t one = 1;
    assert_true(run_until(f, has_close, &one)); /* ended by the 2 s session limit */
    assert_int_equal(count_records(f, "NET:CONNECT", "egress time limit", NULL), 1);
    send_open(f, 2, "127.0.0.1", f->server_port, "https", NULL, NULL);
    const struct seen *r = open_result(f, 2);
    assert_false(r->allowed);
    assert_non_null(strstr(r->reason, "session's egress time limit"));
}

/* The guest's proxy goes away (the request fails): every stream is closed
 * and recorded; frames after that are dropped. */
static void test_guest_gone_closes_streams(void **state)
{
    struct fixture *f = *state;
    send_open(f, 8, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 8)->allowed);
    Guest__V1__Frame fr = GUEST__V1__FRAME__INIT;
    Guest__V1__EgressResponse er = GUEST__V1__EGRESS_RESPONSE__INIT;
    fr.body_case = GUEST__V1__FRAME__BODY_EGRESS_RESPONSE;
    fr.egress_response = &er;
    peer_send(f, &fr);
    run_for_ms(f, 100);
    struct egress_stats st;
    egress_stats(f->egress, &st);
    assert_false(st.active);
    assert_int_equal(st.open_streams, 0);
    assert_int_equal(count_records(f, "NET:CONNECT", "proxy stopped", NULL), 1);
    send_open(f, 9, "127.0.0.1", f->server_port, "https", NULL, NULL);
    run_for_ms(f, 50);
    assert_null(find_seen(f, GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT, 9));
}

/* ------------------------------------------------------------ what the record says happened */

/* A plain HTTP stream whose whole answer (by its Content-Length) reached
 * the workload, which then reset its connection: complete, no reason. The
 * echo server answers with the bytes the guest sends, so the guest writes
 * the answer it wants back. */
static void test_plain_answer_complete_then_reset(void **state)
{
    struct fixture *f = *state;
    send_open(f, 1, "127.0.0.1", f->server_port, "http", "GET", "/file");
    assert_true(open_result(f, 1)->allowed);
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    send_data(f, 1, answer, sizeof(answer) - 1);
    struct want_bytes w = {1, sizeof(answer) - 1};
    assert_true(run_until(f, has_bytes, &w));
    send_credit(f, 1, sizeof(answer) - 1); /* written to the workload */
    send_close_failed(f, 1, "the workload reset its connection");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"complete\"", "\"reason\":\"\""), 1);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"bytes_in\":43", "\"bytes_out\":43"), 1);
}

/* The workload resets in the middle of the answer (5 of 100 bytes of its
 * body came): failed, with the guest's reason. */
static void test_plain_answer_reset_midway(void **state)
{
    struct fixture *f = *state;
    send_open(f, 2, "127.0.0.1", f->server_port, "http", "GET", "/file");
    assert_true(open_result(f, 2)->allowed);
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello";
    send_data(f, 2, answer, sizeof(answer) - 1);
    struct want_bytes w = {2, sizeof(answer) - 1};
    assert_true(run_until(f, has_bytes, &w));
    send_credit(f, 2, sizeof(answer) - 1);
    send_close_failed(f, 2, "the workload reset its connection");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"",
                                   "\"reason\":\"the workload reset its connection\""), 1);
}

/* A subverted guest's reason for closing is long and not UTF-8: the
 * NET:CONNECT record keeps its details (host, outcome) with the reason cut
 * and made valid. */
static void test_guest_reason_is_bounded(void **state)
{
    struct fixture *f = *state;
    send_open(f, 2, "127.0.0.1", f->server_port, "http", "GET", "/file");
    assert_true(open_result(f, 2)->allowed);
    static char reason[4000];
    memset(reason, 'x', sizeof(reason) - 1);
    reason[0] = '\xff';
    send_close_failed(f, 2, reason);
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"", "\"reason\":\"\\uFFFDxxx"), 1);
    char many[300];
    memset(many, 'x', sizeof(many) - 1);
    many[sizeof(many) - 1] = '\0';
    assert_int_equal(records_holding(f, many), 0);
}

static bool two_open_results(struct fixture *f, const void *arg)
{
    (void)arg;
    int n = 0;
    for (size_t i = 0; i < f->n_seen; i++)
        n += f->seen[i].body == GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT && f->seen[i].stream == 2;
    return n >= 2;
}

/* An open for a stream number in use, from a subverted guest, with a host
 * that is long and not UTF-8: refused, and the refusal's record keeps its
 * details with the host cut and made valid. */
static void test_refused_open_host_is_bounded(void **state)
{
    struct fixture *f = *state;
    send_open(f, 2, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 2)->allowed);
    static char host[3000];
    memset(host, 'h', sizeof(host) - 1);
    host[0] = '\xff';
    send_open(f, 2, host, f->server_port, "https", NULL, NULL);
    assert_true(run_until(f, two_open_results, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "already in use", "\"host\":\"\\uFFFDhhh"), 1);
    char many[300];
    memset(many, 'h', sizeof(many) - 1);
    many[sizeof(many) - 1] = '\0';
    assert_int_equal(records_holding(f, many), 0);
}

/* The whole answer went to the guest, which reset before writing all of it
 * to the workload (it credited none): failed. */
static void test_plain_answer_not_written_to_the_workload(void **state)
{
    struct fixture *f = *state;
    send_open(f, 3, "127.0.0.1", f->server_port, "http", "GET", "/file");
    assert_true(open_result(f, 3)->allowed);
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    send_data(f, 3, answer, sizeof(answer) - 1);
    struct want_bytes w = {3, sizeof(answer) - 1};
    assert_true(run_until(f, has_bytes, &w));
    send_close_failed(f, 3, "the workload reset its connection with 43 bytes from the host not yet written to it");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"", "not yet written"), 1);
}

/* Both sides close cleanly, but the server's answer stopped short of its
 * Content-Length: failed, saying so (the workload got a cut answer). */
static void test_plain_answer_cut_by_the_server(void **state)
{
    struct fixture *f = *state;
    send_open(f, 4, "127.0.0.1", f->server_port, "http", "GET", "/file");
    assert_true(open_result(f, 4)->allowed);
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello";
    send_data(f, 4, answer, sizeof(answer) - 1);
    struct want_bytes w = {4, sizeof(answer) - 1};
    assert_true(run_until(f, has_bytes, &w));
    send_credit(f, 4, sizeof(answer) - 1);
    send_close(f, 4, true); /* the echo server then closes */
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"", "before the end of its answer"), 1);
    /* A body that runs until the close is whole at the close. */
    send_open(f, 5, "127.0.0.1", f->server_port, "http", "GET", "/file");
    assert_true(open_result(f, 5)->allowed);
    static const char until_close[] = "HTTP/1.0 200 OK\r\n\r\nhello";
    send_data(f, 5, until_close, sizeof(until_close) - 1);
    w = (struct want_bytes){5, sizeof(until_close) - 1};
    assert_true(run_until(f, has_bytes, &w));
    send_close(f, 5, true);
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"complete\"", "\"stream\":5"), 1);
}

/* A tunnel: the remote sent its last bytes and closed, the guest wrote them
 * to the workload (credit), and the workload then reset: complete. Without
 * the credit the same end is a failure. */
static void test_tunnel_complete_then_reset(void **state)
{
    struct fixture *f = *state;
    send_open(f, 6, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 6)->allowed);
    send_data(f, 6, "BYE", 3);
    uint32_t six = 6;
    assert_true(run_until(f, has_half_close, &six));
    send_credit(f, 6, 3);
    send_close_failed(f, 6, "the workload reset its connection after everything the host sent was written to it");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"complete\"", "\"stream\":6"), 1);

    send_open(f, 7, "127.0.0.1", f->server_port, "https", NULL, NULL);
    assert_true(open_result(f, 7)->allowed);
    send_data(f, 7, "BYE", 3);
    uint32_t seven = 7;
    assert_true(run_until(f, has_half_close, &seven));
    send_close_failed(f, 7, "the workload reset its connection with 3 bytes from the host not yet written to it");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"", "\"stream\":7"), 1);
}

/* ------------------------------------------------------------ secrets */

#define SECRET_VALUE "T0P-s3cret-VALUE-42"

static void store_secret(struct fixture *f)
{
    char dir[400];
    struct error err;
    snprintf(dir, sizeof(dir), "%s/secrets", f->t.home);
    assert_int_equal(secret_set(dir, "api-token", SECRET_VALUE, strlen(SECRET_VALUE), &err), 0);
}

static bool has_text(struct fixture *f, const void *arg)
{
    const char *const *w = arg;
    return strstr(f->got[(size_t)(uintptr_t)w[0]], w[1]) != NULL;
}

/* The decision names the secret: the request reaches the server (an echo)
 * with it, the guest's own Authorization is gone, and the audit log says
 * that it was injected and never holds the value. */
static void test_secret_injected_into_plain_http(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    send_open(f, 1, "127.0.0.1", f->server_port, "http", "GET", "/secret");
    assert_true(open_result(f, 1)->allowed);
    char head[400];
    int n = snprintf(head, sizeof(head),
                     "GET /secret HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAuthorization: Bearer guest-chosen\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     f->server_port);
    /* In pieces, across frames. */
    send_data(f, 1, head, 20);
    send_data(f, 1, head + 20, (size_t)n - 20);
    const void *w[2] = {(void *)(uintptr_t)1, "\r\n\r\n"};
    assert_true(run_until(f, has_text, w));
    assert_non_null(strstr(f->got[1], "Authorization: Bearer " SECRET_VALUE "\r\n"));
    assert_null(strstr(f->got[1], "guest-chosen"));
    assert_non_null(strstr(f->got[1], "Accept: */*\r\n"));
    send_close(f, 1, true);
    uint32_t one = 1;
    assert_true(run_until(f, has_close, &one));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"secret\":\"api-token\"", "\"secret_injected\":1"), 1);
    assert_int_equal(count_records(f, "POLICY:DECISION", "obligation_inject_secret", "api-token"), 1);
    assert_int_equal(records_holding(f, "api-token"), 2);
    assert_int_equal(records_holding(f, SECRET_VALUE), 0);
    /* All the guest's bytes were credited back although the head changed size. */
    uint64_t credited = 0;
    for (size_t i = 0; i < f->n_seen; i++)
        if (f->seen[i].body == GUEST__V1__FRAME__BODY_EGRESS_CREDIT && f->seen[i].stream == 1)
            credited += f->seen[i].credit;
    assert_int_equal(credited, (uint64_t)n);
}

/* A request whose Host is not the host decided never goes out: the stream
 * ends and the server gets nothing. */
static void test_secret_not_sent_to_another_host(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    send_open(f, 2, "127.0.0.1", f->server_port, "http", "GET", "/secret");
    assert_true(open_result(f, 2)->allowed);
    static const char head[] = "GET /secret HTTP/1.1\r\nHost: evil.example\r\n\r\n";
    send_data(f, 2, head, sizeof(head) - 1);
    uint32_t two = 2;
    assert_true(run_until(f, has_close, &two));
    run_for_ms(f, 50);
    assert_int_equal(f->data_bytes[2], 0);
    assert_int_equal(count_records(f, "NET:CONNECT", "Host header", "\"secret_injected\":0"), 1);
    /* Nor a second request after the first on the same stream. */
    send_open(f, 3, "127.0.0.1", f->server_port, "http", "GET", "/secret");
    assert_true(open_result(f, 3)->allowed);
    char two_reqs[300];
    int n = snprintf(two_reqs, sizeof(two_reqs),
                     "GET /secret HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /x HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    send_data(f, 3, two_reqs, (size_t)n);
    uint32_t three = 3;
    assert_true(run_until(f, has_close, &three));
    run_for_ms(f, 50);
    assert_null(strstr(f->got[3], "evil.example"));
    assert_int_equal(records_holding(f, SECRET_VALUE), 0);
}

/* A secret the store lacks: refused before anything is connected, naming
 * the secret, not the host's paths. */
static void test_secret_missing_refuses(void **state)
{
    struct fixture *f = *state;
    send_open(f, 4, "127.0.0.1", f->server_port, "http", "GET", "/secret-missing");
    const struct seen *r = open_result(f, 4);
    assert_false(r->allowed);
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->reason, "absent"));
    assert_non_null(strstr(r->reason, "not stored"));
    assert_null(strstr(r->reason, f->t.home));
}

/* A secret for a CONNECT: the host means to terminate TLS, so the guest
 * was given the session's CA; a server that cannot be reached is refused
 * before the guest hears anything. */
static void test_secret_over_connect_needs_the_server(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    assert_non_null(strstr(f->ca_pem, "-----BEGIN CERTIFICATE-----"));
    send_open(f, 5, "127.0.0.1", 1, "https", NULL, NULL);
    const struct seen *r = open_result(f, 5);
    assert_false(r->allowed);
    assert_int_equal(r->status, 502);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"secret\":\"api-token\"", "\"secret_injected\":0"), 1);
}

/* Without the obligation nothing is added or removed. */
static void test_no_secret_without_the_obligation(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    send_open(f, 6, "127.0.0.1", f->server_port, "http", "GET", "/plain");
    assert_true(open_result(f, 6)->allowed);
    static const char head[] = "GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer guest-chosen\r\n\r\n";
    send_data(f, 6, head, sizeof(head) - 1);
    struct want_bytes w = {6, sizeof(head) - 1};
    assert_true(run_until(f, has_bytes, &w));
    assert_string_equal(f->got[6], head);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"secret\"", NULL), 0);
}

/* ------------------------------------------------------------ secrets over TLS */

/* The workload's TLS client, run over the stream's frames. */
struct gtls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rb, *wb;
    uint32_t stream;
    size_t fed;      /* bytes of the stream handed to the guest's TLS */
    size_t credited; /* bytes of the stream the guest credited back */
    size_t step;     /* 0: a turn credits all that came; else at most this much (a slow reader) */
};

static void gtls_start(struct fixture *f, struct gtls *g, uint32_t stream)
{
    memset(g, 0, sizeof(*g));
    g->stream = stream;
    g->ctx = SSL_CTX_new(TLS_client_method());
    BIO *b = BIO_new_mem_buf(f->ca_pem, -1);
    X509 *ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(ca);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(g->ctx), ca);
    X509_free(ca);
    SSL_CTX_set_verify(g->ctx, SSL_VERIFY_PEER, NULL);
    g->ssl = SSL_new(g->ctx);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(g->ssl), "127.0.0.1");
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(g->ssl, alpn, sizeof(alpn) - 1);
    g->rb = BIO_new(BIO_s_mem());
    g->wb = BIO_new(BIO_s_mem());
    SSL_set_bio(g->ssl, g->rb, g->wb);
    SSL_set_connect_state(g->ssl);
}

static void gtls_free(struct gtls *g)
{
    SSL_free(g->ssl);
    SSL_CTX_free(g->ctx);
}

/* What the client wrote goes out as frames; what came goes in (credited). */
static void gtls_pump(struct fixture *f, struct gtls *g)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(g->wb, buf, sizeof(buf))) > 0)
        send_data(f, g->stream, buf, (size_t)n);
    run_for_ms(f, g->step ? 2 : 5);
    size_t have = f->raw_len[g->stream];
    if (have > g->fed) {
        BIO_write(g->rb, f->raw[g->stream] + g->fed, (int)(have - g->fed));
        g->fed = have;
    }
    if (g->fed > g->credited) {
        size_t c = g->fed - g->credited;
        if (g->step && c > g->step)
            c = g->step;
        send_credit(f, g->stream, (uint32_t)c);
        g->credited += c;
    }
}

static bool gtls_handshake(struct fixture *f, struct gtls *g)
{
    for (int i = 0; i < 2000; i++) {
        int r = SSL_do_handshake(g->ssl);
        if (r == 1) {
            gtls_pump(f, g);
            return true;
        }
        if (SSL_get_error(g->ssl, r) != SSL_ERROR_WANT_READ)
            return false;
        gtls_pump(f, g);
    }
    return false;
}

/* The guest opens stream to the TLS server through a secret-carrying
 * decision and completes its handshake with the host's session CA. */
static void gtls_open(struct fixture *f, struct gtls *g, uint32_t stream)
{
    send_open(f, stream, "127.0.0.1", f->tls_port, "https", NULL, NULL);
    assert_true(open_result(f, stream)->allowed);
    gtls_start(f, g, stream);
    assert_true(gtls_handshake(f, g));
}

/* Everything the server sends until the stream closes (a slow reader,
 * g->step set, takes more turns). */
static size_t gtls_read_all(struct fixture *f, struct gtls *g, char *out, size_t cap)
{
    size_t got = 0;
    int turns = g->step ? 20000 : 2000;
    for (int i = 0; i < turns && got < cap - 1; i++) {
        gtls_pump(f, g);
        int n = SSL_read(g->ssl, out + got, (int)(cap - 1 - got));
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        int e = SSL_get_error(g->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_WANT_READ && has_close(f, &g->stream) &&
                                           g->fed == f->raw_len[g->stream] && BIO_ctrl_pending(g->rb) == 0))
            break;
        if (e != SSL_ERROR_WANT_READ)
            break;
    }
    out[got] = '\0';
    return got;
}

/* CONNECT with a secret: the guest's TLS ends at the host with a leaf of
 * the session CA (ALPN http/1.1 although the client offered h2 first), the
 * host's TLS to the server verified it against the trust store, and the
 * server got the secret in place of the guest's header. */
static void test_secret_inside_tls(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    struct gtls g;
    gtls_open(f, &g, 7);
    assert_int_equal(SSL_get_verify_result(g.ssl), X509_V_OK);
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(g.ssl, &proto, &plen);
    assert_int_equal(plen, 8);
    assert_memory_equal(proto, "http/1.1", 8);
    X509 *peer = SSL_get1_peer_certificate(g.ssl);
    char issuer[256];
    X509_NAME_get_text_by_NID(X509_get_issuer_name(peer), NID_commonName, issuer, sizeof(issuer));
    assert_string_equal(issuer, "Enclave egress session CA");
    X509_free(peer);
    char req[300];
    int n = snprintf(req, sizeof(req), "GET /inside HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAuthorization: Bearer guest-chosen\r\n\r\n",
                     f->tls_port);
    assert_int_equal(SSL_write(g.ssl, req, n), n);
    static char resp[8192];
    gtls_read_all(f, &g, resp, sizeof(resp));
    assert_non_null(strstr(resp, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(resp, "GET /inside HTTP/1.1\r\n"));
    assert_non_null(strstr(resp, "Authorization: Bearer " SECRET_VALUE "\r\n"));
    assert_null(strstr(resp, "guest-chosen"));
    gtls_free(&g);
    send_close(f, 7, false);
    run_for_ms(f, 50);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"secret\":\"api-token\"", "\"secret_injected\":1"), 1);
    assert_int_equal(records_holding(f, SECRET_VALUE), 0);
}

/* A response larger than every window on the way, through both TLS
 * sessions, with the guest crediting only what it took. */
static void test_secret_inside_tls_big_response(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    struct gtls g;
    gtls_open(f, &g, 10);
    static const char req[] = "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(SSL_write(g.ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
    static char resp[(4u << 16) + 4096];
    size_t n = gtls_read_all(f, &g, resp, sizeof(resp));
    assert_non_null(strstr(resp, "Content-Length: 262144"));
    const char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    assert_int_equal(n - (size_t)(body + 4 - resp), 4u << 16);
    assert_int_equal(resp[n - 1], 'z');
    gtls_free(&g);
}

/* The server sends all and closes before the guest took anything, and the
 * guest then reads slowly (a quarter of a window a turn): the answer's end
 * waits on the host in every buffer of the way (both TLS sessions, the pair
 * between them, the stream) when the host ends the guest's TLS session, and
 * all of it still reaches the guest, then close_notify. */
static void test_secret_inside_tls_response_ends_while_the_guest_waits(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    struct gtls g;
    gtls_open(f, &g, 11);
    static const char req[] = "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(SSL_write(g.ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
    gtls_pump(f, &g);
    run_for_ms(f, 300); /* the server wrote everything and closed; no credit */
    static char resp[(4u << 16) + 4096];
    g.step = 1024; /* the guest credits at most this much a turn: the host's buffers stay full */
    size_t n = gtls_read_all(f, &g, resp, sizeof(resp));
    const char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    assert_int_equal(n - (size_t)(body + 4 - resp), 4u << 16);
    /* It ended with the TLS session's own end, not a cut connection. */
    assert_int_equal(SSL_get_shutdown(g.ssl) & SSL_RECEIVED_SHUTDOWN, SSL_RECEIVED_SHUTDOWN);
    gtls_free(&g);
}

/* Whether text holds a whole answer of the test's TLS server (its head and
 * the body its Content-Length announces). */
static bool answer_whole(const char *text, size_t len)
{
    const char *end = strstr(text, "\r\n\r\n");
    const char *cl = strstr(text, "Content-Length: ");
    if (end == NULL || cl == NULL || cl > end)
        return false;
    return len >= (size_t)(end + 4 - text) + strtoul(cl + 16, NULL, 10);
}

/* The guest reads the whole answer through the host's TLS and its workload
 * then closes without reading the close_notify that follows (a client that
 * stops at the Content-Length), which resets the connection: the record
 * says complete, with the secret, and no reason. */
static void test_secret_inside_tls_complete_then_reset(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    struct gtls g;
    gtls_open(f, &g, 12);
    char req[200];
    int n = snprintf(req, sizeof(req), "GET /inside HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", f->tls_port);
    assert_int_equal(SSL_write(g.ssl, req, n), n);
    static char resp[8192];
    size_t got = 0;
    for (int i = 0; i < 2000 && !answer_whole(resp, got); i++) {
        gtls_pump(f, &g);
        int r = SSL_read(g.ssl, resp + got, (int)(sizeof(resp) - 1 - got));
        if (r > 0)
            got += (size_t)r;
        resp[got] = '\0';
    }
    assert_true(answer_whole(resp, got));
    assert_non_null(strstr(resp, "Authorization: Bearer " SECRET_VALUE "\r\n"));
    send_close_failed(f, 12, "the workload reset its connection");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"complete\"", "\"secret_injected\":1"), 1);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"reason\":\"\"", "\"secret\":\"api-token\""), 1);
    gtls_free(&g);
}

/* The workload resets in the middle of a large answer: failed, with the
 * guest's reason (and still which secret went). */
static void test_secret_inside_tls_reset_midway(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    struct gtls g;
    gtls_open(f, &g, 13);
    static const char req[] = "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(SSL_write(g.ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
    static char resp[16384];
    size_t got = 0;
    for (int i = 0; i < 2000 && got < 8192; i++) {
        gtls_pump(f, &g);
        int r = SSL_read(g.ssl, resp + got, (int)(sizeof(resp) - got));
        if (r > 0)
            got += (size_t)r;
    }
    assert_true(got >= 8192 && got < (4u << 16));
    send_close_failed(f, 13, "the workload reset its connection with 100 bytes from the host not yet written to it");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"", "not yet written"), 1);
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"", "\"secret_injected\":1"), 1);
    gtls_free(&g);
}

/* The whole answer and close_notify went to the guest, which wrote none of
 * the answer to its workload (no credit after the handshake) before the
 * reset: failed. */
static void test_secret_inside_tls_answer_not_written(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    struct gtls g;
    gtls_open(f, &g, 14);
    char req[200];
    int n = snprintf(req, sizeof(req), "GET /inside HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", f->tls_port);
    assert_int_equal(SSL_write(g.ssl, req, n), n);
    char buf[4096];
    int k;
    while ((k = BIO_read(g.wb, buf, sizeof(buf))) > 0)
        send_data(f, 14, buf, (size_t)k);
    uint32_t fourteen = 14;
    assert_true(run_until(f, has_half_close, &fourteen));
    send_close_failed(f, 14, "the workload reset its connection with 300 bytes from the host not yet written to it");
    assert_true(run_until(f, stream_gone, NULL));
    assert_int_equal(count_records(f, "NET:CONNECT", "\"outcome\":\"failed\"", "not yet written"), 1);
    gtls_free(&g);
}

/* A server whose certificate the trust store does not accept: refused
 * before the guest hears anything. */
static void test_secret_untrusted_server_refused(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    send_open(f, 8, "127.0.0.1", f->untrusted_port, "https", NULL, NULL);
    const struct seen *r = open_result(f, 8);
    assert_false(r->allowed);
    assert_int_equal(r->status, 502);
    assert_non_null(strstr(r->reason, "does not verify"));
}

/* Inside TLS, too, one request: a second one in the same write ends the
 * stream and never reaches the server. */
static void test_secret_inside_tls_one_request(void **state)
{
    struct fixture *f = *state;
    store_secret(f);
    struct gtls g;
    gtls_open(f, &g, 9);
    static const char two[] = "GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /b HTTP/1.1\r\nHost: evil.example\r\n\r\n";
    assert_int_equal(SSL_write(g.ssl, two, (int)sizeof(two) - 1), (int)sizeof(two) - 1);
    gtls_pump(f, &g);
    uint32_t nine = 9;
    assert_true(run_until(f, has_close, &nine));
    static char resp[8192];
    gtls_read_all(f, &g, resp, sizeof(resp));
    assert_null(strstr(resp, "evil.example"));
    assert_int_equal(count_records(f, "NET:CONNECT", "one request", NULL), 1);
    gtls_free(&g);
}

int main(void)
{
    /* As the daemon does: a peer that went away is an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allowed_connection_pipes_and_is_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denied_host_is_refused_before_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_refused_unless_the_policy_allows_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_own_address_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_opens_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_rate_limit, setup_test_clock, teardown),
        cmocka_unit_test_setup_teardown(test_window_towards_the_guest, setup_many, teardown),
        cmocka_unit_test_setup_teardown(test_data_past_the_window_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_limit_obligation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_gone_closes_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_limits, setup_session_limits, teardown),
        cmocka_unit_test_setup_teardown(test_session_time_limit, setup_session_limits, teardown),
        cmocka_unit_test_setup_teardown(test_plain_answer_complete_then_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_reason_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_open_host_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_answer_reset_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_answer_not_written_to_the_workload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_answer_cut_by_the_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tunnel_complete_then_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_injected_into_plain_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_not_sent_to_another_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_missing_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_over_connect_needs_the_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_secret_without_the_obligation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_inside_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_untrusted_server_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_inside_tls_big_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_inside_tls_response_ends_while_the_guest_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_inside_tls_one_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_inside_tls_complete_then_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_inside_tls_reset_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_inside_tls_answer_not_written, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
