/* Tests of the init's egress proxy. The request-head parser is driven
 * directly; the proxy runs in a forked server child serving one connection
 * on a socketpair (the test plays the host on it) and listens on a free
 * loopback port that the test connects to as the workload would.
 *
 * Waits are bounded (a hung server fails the test) but nothing asserts how
 * long anything took. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest/guest.h"
#include "guest/test_conn.h"
#include "wire/frame.h"
#include "wire/test_frames.h"

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name
#define BODY(name) GUEST__V1__FRAME__BODY_##name
#define WAIT_MS 30000
#define EGRESS_ID 500u

/* ---------------------------------------------------------------- the head parser */

static int feed_all(struct guest_proxy_head *h, const char *req)
{
    return guest_proxy_head_feed(h, (const uint8_t *)req, strlen(req));
}

static void test_head_connect(void **state)
{
    (void)state;
    const char *req = "CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\nProxy-Authorization: x\r\n\r\n\x16\x03\x01";
    struct guest_proxy_head h;
    guest_proxy_head_init(&h, 0);
    assert_int_equal(feed_all(&h, req), 1);
    assert_int_equal(h.head_end, strlen(req) - 3); /* the TLS bytes after it are the tunnel's */
    struct guest_proxy_request r;
    const char *why = NULL;
    assert_int_equal(guest_proxy_request_build(&h, (const uint8_t *)req, &r, &why), 0);
    assert_true(r.connect);
    assert_string_equal(r.host, "pypi.org");
    assert_int_equal(r.port, 443);
    assert_null(r.head);
    guest_proxy_request_release(&r);

    /* An IPv6 literal, and CONNECT without a port. */
    guest_proxy_head_init(&h, 0);
    req = "CONNECT [::1]:8443 HTTP/1.1\r\n\r\n";
    assert_int_equal(feed_all(&h, req), 1);
    assert_int_equal(guest_proxy_request_build(&h, (const uint8_t *)req, &r, &why), 0);
    assert_string_equal(r.host, "::1");
    assert_int_equal(r.port, 8443);
    guest_proxy_request_release(&r);
    guest_proxy_head_init(&h, 0);
    req = "CONNECT pypi.org HTTP/1.1\r\n\r\n";
    int st = feed_all(&h, req);
    if (st == 1)
        st = guest_proxy_request_build(&h, (const uint8_t *)req, &r, &why);
    assert_int_equal(st, 400);
    guest_proxy_request_release(&r);
}

static void test_head_rewrite(void **state)
{
    (void)state;
    const char *req = "GET http://example.com:8080/a/b?c=d#frag HTTP/1.1\r\n"
                      "Host: elsewhere.example\r\n"
                      "User-Agent: t\r\n"
                      "Proxy-Authorization: Basic eA==\r\n"
                      "Connection: keep-alive, X-Drop, Content-Length\r\n"
                      "X-Drop: 1\r\n"
                      "Proxy-Connection: keep-alive\r\n"
                      "Keep-Alive: 5\r\n"
                      "TE: trailers\r\n"
                      "Upgrade: h2c\r\n"
                      "Accept: */*\r\n"
                      "\r\n";
    struct guest_proxy_head h;
    guest_proxy_head_init(&h, 0);
    assert_int_equal(feed_all(&h, req), 1);
    assert_true(h.message_done);
    assert_int_equal(h.body_end, strlen(req));
    struct guest_proxy_request r;
    const char *why = NULL;
    assert_int_equal(guest_proxy_request_build(&h, (const uint8_t *)req, &r, &why), 0);
    assert_false(r.connect);
    assert_string_equal(r.host, "example.com");
    assert_int_equal(r.port, 8080);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.path, "/a/b?c=d");
    const char *want = "GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\nAccept: */*\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(r.head_len, strlen(want));
    assert_memory_equal(r.head, want, strlen(want));
    guest_proxy_request_release(&r);

    /* No path, default port, HTTP/1.0. */
    req = "HEAD http://Example.COM HTTP/1.0\r\n\r\n";
    guest_proxy_head_init(&h, 0);
    assert_int_equal(feed_all(&h, req), 1);
    assert_int_equal(guest_proxy_request_build(&h, (const uint8_t *)req, &r, &why), 0);
    assert_int_equal(r.port, 80);
    assert_string_equal(r.path, "/");
    want = "HEAD / HTTP/1.0\r\nHost: Example.COM\r\nConnection: close\r\n\r\n";
    assert_int_equal(r.head_len, strlen(want));
    assert_memory_equal(r.head, want, strlen(want));
    guest_proxy_request_release(&r);
}

/* The body is framed by the parser: what belongs to the request is
 * forwarded as it came (chunked stays chunked), a second request is not. */
static void test_head_body_framing(void **state)
{
    (void)state;
    const char *req = "POST http://h/p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n0\r\n\r\n"
                      "GET http://other/ HTTP/1.1\r\n\r\n";
    const char *second = strstr(req, "GET ");
    struct guest_proxy_head h;
    guest_proxy_head_init(&h, 0);
    assert_int_equal(feed_all(&h, req), 1);
    assert_true(h.message_done);
    assert_int_equal(h.body_end, (size_t)(second - req));

    /* Content-Length, arriving in pieces after the head. */
    req = "PUT http://h/p HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123";
    guest_proxy_head_init(&h, 0);
    assert_int_equal(feed_all(&h, req), 1);
    assert_false(h.message_done);
    assert_int_equal(h.body_end, strlen(req));
    assert_int_equal(guest_proxy_body_feed(&h, (const uint8_t *)"456", 3), 3);
    assert_false(h.message_done);
    assert_int_equal(guest_proxy_body_feed(&h, (const uint8_t *)"789GET http://x/", 16), 3);
    assert_true(h.message_done);
    assert_int_equal(guest_proxy_body_feed(&h, (const uint8_t *)"more", 4), 0);

    /* Both framings at once is a smuggling attempt: refused. */
    req = "POST http://h/p HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
    guest_proxy_head_init(&h, 0);
    assert_int_equal(feed_all(&h, req), 400);
}

/* Byte by byte gives the same as all at once. */
static void test_head_incremental(void **state)
{
    (void)state;
    const char *req = "GET http://example.com/x HTTP/1.1\r\nA: 1\r\nB-Long-Name: some value here\r\n\r\n";
    size_t n = strlen(req);
    struct guest_proxy_head h;
    guest_proxy_head_init(&h, 0);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(guest_proxy_head_feed(&h, (const uint8_t *)req, i), 0);
    assert_int_equal(guest_proxy_head_feed(&h, (const uint8_t *)req, n), 1);
    struct guest_proxy_request r;
    const char *why = NULL;
    assert_int_equal(guest_proxy_request_build(&h, (const uint8_t *)req, &r, &why), 0);
    const char *want = "GET /x HTTP/1.1\r\nHost: example.com\r\nA: 1\r\nB-Long-Name: some value here\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(r.head_len, strlen(want));
    assert_memory_equal(r.head, want, strlen(want));
    guest_proxy_request_release(&r);
}

static int status_of(const char *req, size_t max)
{
    struct guest_proxy_head h;
    guest_proxy_head_init(&h, max);
    int st = guest_proxy_head_feed(&h, (const uint8_t *)req, strlen(req));
    if (st != 1)
        return st;
    struct guest_proxy_request r;
    const char *why = NULL;
    st = guest_proxy_request_build(&h, (const uint8_t *)req, &r, &why);
    if (st)
        assert_non_null(why);
    guest_proxy_request_release(&r);
    return st;
}

static void test_head_refusals(void **state)
{
    (void)state;
    assert_int_equal(status_of("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 0), 400); /* origin form */
    assert_int_equal(status_of("GET https://x/ HTTP/1.1\r\n\r\n", 0), 400);
    assert_int_equal(status_of("GET ftp://x/ HTTP/1.1\r\n\r\n", 0), 400);
    assert_int_equal(status_of("PROPFIND http://x/ HTTP/1.1\r\n\r\n", 0), 501);
    assert_int_equal(status_of("TRACE http://x/ HTTP/1.1\r\n\r\n", 0), 501);
    assert_int_equal(status_of("GET http://x/ HTTP/2.0\r\n\r\n", 0), 505);
    assert_int_equal(status_of("GET http://x:0/ HTTP/1.1\r\n\r\n", 0), 400);
    assert_int_equal(status_of("GET http://x/caf\xc3\xa9 HTTP/1.1\r\n\r\n", 0), 400); /* not ASCII */
    assert_int_equal(status_of("GET http://x/\xff\xfe HTTP/1.1\r\n\r\n", 0), 400);
    assert_int_equal(status_of("GET http://x/caf%C3%A9 HTTP/1.1\r\n\r\n", 0), 0);
    assert_int_equal(status_of("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0), 400);
    assert_int_equal(status_of("GET http://x/ HTTP/1.1\r\nBad Header\r\n\r\n", 0), 400);
    /* Over the size limit, complete or not. */
    char big[3000];
    snprintf(big, sizeof(big), "GET http://x/ HTTP/1.1\r\nX: %02000d\r\n\r\n", 0);
    assert_int_equal(status_of(big, 1024), 431);
    assert_int_equal(status_of(big, 0), 0);
    big[1500] = '\0';
    assert_int_equal(status_of(big, 1024), 431);
    /* Too many header lines. */
    char many[8192];
    size_t n = (size_t)snprintf(many, sizeof(many), "GET http://x/ HTTP/1.1\r\n");
    for (unsigned i = 0; i <= GUEST_EGRESS_MAX_HEADERS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "H%u: v\r\n", i);
    snprintf(many + n, sizeof(many) - n, "\r\n");
    assert_int_equal(status_of(many, 0), 431);
}

/* ---------------------------------------------------------------- the fake host */

static const uint8_t test_key[GUEST_KEY_LEN] = {
    0x11, 0x22, 0x9a, 0x33, 0x00, 0xfe, 0x12, 0x77, 0x81, 0x5c, 0x2d, 0xe0, 0x6b, 0x90, 0x44, 0x3f,
    0xa7, 0x18, 0xc2, 0x5d, 0x09, 0xbb, 0x6e, 0xf1, 0x30, 0x8a, 0x47, 0xd6, 0x25, 0x93, 0x7c, 0x02,
};

struct host {
    int fd;
    pid_t server;
    uint16_t port;
    struct wire_decoder dec;
    uint8_t pending[65536];
    size_t pending_off, pending_len;
};

static void send_frame(struct host *h, Guest__V1__Frame *f)
{
    guest_test_send_frame(h->fd, f);
}

/* The next frame, or NULL on EOF; fails after WAIT_MS without one. */
static Guest__V1__Frame *recv_frame(struct host *h)
{
    for (;;) {
        Guest__V1__Frame *f = NULL;
        int r = wire_decoder_next(&h->dec, &f);
        assert_true(r >= 0);
        if (r == 1)
            return f;
        if (h->pending_off < h->pending_len) {
            long took = wire_decoder_feed(&h->dec, h->pending + h->pending_off, h->pending_len - h->pending_off);
            assert_true(took >= 0);
            h->pending_off += (size_t)took;
            continue;
        }
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, WAIT_MS), 1);
        ssize_t n = read(h->fd, h->pending, sizeof(h->pending));
        assert_true(n >= 0);
        if (n == 0)
            return NULL;
        h->pending_off = 0;
        h->pending_len = (size_t)n;
    }
}

static Guest__V1__Frame *expect(struct host *h, Guest__V1__Frame__BodyCase body)
{
    Guest__V1__Frame *f = recv_frame(h);
    assert_non_null(f);
    if (f->body_case == BODY(ERROR) && body != BODY(ERROR))
        fail_msg("error reply: code %d: %s", f->error->code, f->error->message);
    if ((int)f->body_case != (int)body)
        fail_msg("frame body %d, want %d", f->body_case, body);
    return f;
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int setup(void **state)
{
    struct host *h = calloc(1, sizeof(*h));
    struct guest_server_options opts = {.exit_when_idle = true, .key = test_key};
    h->server = guest_test_server_start(&opts, &h->fd);
    if (h->server < 0)
        return -1;
    h->port = free_port();
    wire_decoder_init(&h->dec, 0);
    *state = h;
    assert_int_equal(guest_test_hello(h->fd, &h->dec, test_key, sizeof(test_key)), 0);
    return 0;
}

static int teardown(void **state)
{
    struct host *h = *state;
    close(h->fd);
    int r = guest_test_server_wait(h->server);
    wire_decoder_release(&h->dec);
    free(h);
    return r;
}

static void egress_start(struct host *h, uint32_t max_streams, uint32_t window, uint32_t max_header)
{
    Guest__V1__EgressRequest r = GUEST__V1__EGRESS_REQUEST__INIT;
    r.port = h->port;
    r.max_streams = max_streams;
    r.window = window;
    r.max_header_bytes = max_header;
    send_frame(h, TEST_FRAME(EGRESS_ID, EGRESS_REQUEST, egress_request, &r));
    /* Listening once a later request is answered (frames are served in order). */
    Guest__V1__HealthRequest hq = GUEST__V1__HEALTH_REQUEST__INIT;
    send_frame(h, TEST_FRAME(2, HEALTH_REQUEST, health_request, &hq));
    guest__v1__frame__free_unpacked(expect(h, BODY(HEALTH_RESPONSE)), NULL);
}

static void send_health_sync(struct host *h, uint64_t id)
{
    Guest__V1__HealthRequest hq = GUEST__V1__HEALTH_REQUEST__INIT;
    send_frame(h, TEST_FRAME(id, HEALTH_REQUEST, health_request, &hq));
}

static void host_result(struct host *h, uint32_t stream, bool allowed, uint32_t status, const char *reason)
{
    struct test_frame b;
    send_frame(h, test_frame_result(&b, EGRESS_ID, stream, allowed, status, reason));
}

static void host_data(struct host *h, uint32_t stream, const void *data, size_t len)
{
    struct test_frame b;
    send_frame(h, test_frame_data(&b, EGRESS_ID, stream, data, len));
}

static void host_credit(struct host *h, uint32_t stream, uint32_t bytes)
{
    struct test_frame b;
    send_frame(h, test_frame_credit(&b, EGRESS_ID, stream, bytes));
}

static void host_close(struct host *h, uint32_t stream, bool write_only)
{
    struct test_frame b;
    send_frame(h, test_frame_close(&b, EGRESS_ID, stream, write_only));
}

static void host_cancel(struct host *h, uint64_t id)
{
    struct test_frame b;
    send_frame(h, test_frame_cancel(&b, id, EGRESS_ID));
}

/* Cancels the proxy and reads frames until its EgressResponse. */
static void host_cancel_until_response(struct host *h)
{
    host_cancel(h, 9);
    Guest__V1__Frame *f;
    bool done = false;
    while (!done && (f = recv_frame(h))) {
        done = f->body_case == BODY(EGRESS_RESPONSE);
        guest__v1__frame__free_unpacked(f, NULL);
    }
    assert_true(done);
}

/* ---------------------------------------------------------------- the workload side */

static int wl_connect(struct host *h)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(h->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void wl_send(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void wl_send_str(int fd, const char *s)
{
    wl_send(fd, s, strlen(s));
}

/* Reads exactly len bytes. */
static void wl_read_exact(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail_msg("workload read: %zd (%s)", n, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Reads until EOF (or reset); returns the bytes, NUL-terminated. */
static size_t wl_read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ECONNRESET)
            break;
        if (n < 0)
            fail_msg("workload read: %s", strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap - 1)
            break;
    }
    buf[len] = '\0';
    return len;
}

/* Reads the proxy's whole answer into buf; its status line must be
 * "HTTP/1.1 <status>". */
static void wl_expect_status(int fd, char *buf, size_t cap, const char *status)
{
    wl_read_all(fd, buf, cap);
    if (strncmp(buf, "HTTP/1.1 ", 9) != 0 || strncmp(buf + 9, status, strlen(status)) != 0 ||
        strncmp(buf + 9 + strlen(status), "\r\n", 2) != 0)
        fail_msg("answer '%s', want HTTP/1.1 %s", buf, status);
}

/* The next EgressOpen; returns its stream and checks what it names. */
static uint32_t expect_open(struct host *h, const char *host, uint32_t port, const char *scheme, const char *method,
                            const char *path)
{
    Guest__V1__Frame *f = expect(h, BODY(EGRESS_OPEN));
    assert_int_equal(f->id, EGRESS_ID);
    Guest__V1__EgressOpen *o = f->egress_open;
    assert_string_equal(o->host, host);
    assert_int_equal(o->port, port);
    assert_string_equal(o->scheme, scheme);
    assert_string_equal(o->method, method);
    assert_string_equal(o->path, path);
    uint32_t stream = o->stream;
    assert_true(stream != 0);
    guest__v1__frame__free_unpacked(f, NULL);
    return stream;
}

/* The workload asks to CONNECT to name:443; returns the stream the host
 * is asked to open. */
static uint32_t wl_open(struct host *h, int fd, const char *name)
{
    char req[256];
    snprintf(req, sizeof(req), "CONNECT %s:443 HTTP/1.1\r\n\r\n", name);
    wl_send_str(fd, req);
    return expect_open(h, name, 443, "https", "", "");
}

/* Collects the stream's EgressData until len bytes came (credit frames
 * in between are skipped). */
static void expect_data(struct host *h, uint32_t stream, const void *want, size_t len)
{
    uint8_t *got = malloc(len + 1);
    size_t n = 0;
    while (n < len) {
        Guest__V1__Frame *f = recv_frame(h);
        assert_non_null(f);
        if (f->body_case == BODY(EGRESS_CREDIT)) {
            guest__v1__frame__free_unpacked(f, NULL);
            continue;
        }
        if (f->body_case != BODY(EGRESS_DATA))
            fail_msg("frame body %d, want data", f->body_case);
        assert_int_equal(f->egress_data->stream, stream);
        assert_true(f->egress_data->data.len <= GUEST_EGRESS_MAX_DATA);
        assert_true(n + f->egress_data->data.len <= len);
        memcpy(got + n, f->egress_data->data.data, f->egress_data->data.len);
        n += f->egress_data->data.len;
        guest__v1__frame__free_unpacked(f, NULL);
    }
    if (memcmp(got, want, len) != 0)
        fail_msg("data differs: got '%.*s'", (int)len, (char *)got);
    free(got);
}

/* The next frame that is not credit must be this close. */
static void expect_close(struct host *h, uint32_t stream, bool write_only, const char *reason)
{
    for (;;) {
        Guest__V1__Frame *f = recv_frame(h);
        assert_non_null(f);
        if (f->body_case == BODY(EGRESS_CREDIT)) {
            guest__v1__frame__free_unpacked(f, NULL);
            continue;
        }
        if (f->body_case != BODY(EGRESS_CLOSE))
            fail_msg("frame body %d, want close", f->body_case);
        assert_int_equal(f->egress_close->stream, stream);
        assert_int_equal(f->egress_close->write_only, write_only);
        if (reason && !strstr(f->egress_close->reason, reason))
            fail_msg("close reason '%s', want '%s'", f->egress_close->reason, reason);
        guest__v1__frame__free_unpacked(f, NULL);
        return;
    }
}

/* Cancels the proxy with cancel_id; both answers must come, the
 * EgressResponse with these totals. */
static void host_stop(struct host *h, uint64_t cancel_id, uint64_t streams, uint64_t out, uint64_t in)
{
    host_cancel(h, cancel_id);
    bool got_cancel = false, got_response = false;
    while (!got_cancel || !got_response) {
        Guest__V1__Frame *f = recv_frame(h);
        assert_non_null(f);
        if (f->body_case == BODY(CANCEL_RESPONSE)) {
            assert_int_equal(f->id, cancel_id);
            assert_true(f->cancel_response->found);
            got_cancel = true;
        } else if (f->body_case == BODY(EGRESS_RESPONSE)) {
            assert_int_equal(f->id, EGRESS_ID);
            assert_int_equal(f->egress_response->streams, streams);
            assert_int_equal(f->egress_response->bytes_out, out);
            assert_int_equal(f->egress_response->bytes_in, in);
            got_response = true;
        } else if (f->body_case != BODY(EGRESS_CLOSE) && f->body_case != BODY(EGRESS_CREDIT)) {
            fail_msg("frame body %d while stopping", f->body_case);
        }
        guest__v1__frame__free_unpacked(f, NULL);
    }
}

static const char established[] = "HTTP/1.1 200 Connection established\r\nProxy-Agent: enclave-init\r\n\r\n";

/* The workload reads the proxy's answer to an allowed CONNECT. */
static void wl_expect_established(int fd)
{
    char buf[sizeof(established)];
    wl_read_exact(fd, buf, sizeof(established) - 1);
    assert_memory_equal(buf, established, sizeof(established) - 1);
}

/* ---------------------------------------------------------------- proxy tests */

/* CONNECT allowed: 200, bytes both ways, half closes, then the stream's end. */
static void test_connect_round_trip(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    int fd = wl_connect(h);
    wl_send_str(fd, "CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\nearly");
    uint32_t st = expect_open(h, "api.example", 443, "https", "", "");
    host_result(h, st, true, 0, "");
    wl_expect_established(fd);
    char buf[256];
    expect_data(h, st, "early", 5);
    wl_send_str(fd, "ping");
    expect_data(h, st, "ping", 4);
    host_data(h, st, "pong", 4);
    wl_read_exact(fd, buf, 4);
    assert_memory_equal(buf, "pong", 4);
    /* The workload half-closes: the host hears it and may still send. */
    shutdown(fd, SHUT_WR);
    expect_close(h, st, true, NULL);
    host_data(h, st, "after", 5);
    wl_read_exact(fd, buf, 5);
    assert_memory_equal(buf, "after", 5);
    host_close(h, st, true);
    assert_int_equal(wl_read_all(fd, buf, sizeof(buf)), 0);
    expect_close(h, st, false, NULL); /* both sides over: the stream ends */
    close(fd);
    host_stop(h, 9, 1, 9, 9);
}

/* The workload resets its connection (as a client does that closes with
 * bytes unread, such as a TLS close_notify): the host hears that it was a
 * reset, and whether everything it sent had been written to the workload,
 * so that it can tell a finished exchange from a broken one. */
static void test_workload_reset(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    char buf[16];
    /* After all the host sent and its end: */
    int fd = wl_connect(h);
    uint32_t st = wl_open(h, fd, "done.example");
    host_result(h, st, true, 0, "");
    wl_expect_established(fd);
    host_data(h, st, "answer", 6);
    host_close(h, st, true);
    wl_read_exact(fd, buf, 6);
    assert_int_equal(wl_read_all(fd, buf, sizeof(buf)), 0); /* the host's end reached the workload */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    close(fd); /* a reset */
    expect_close(h, st, false, "the workload reset its connection after everything the host sent was written to it");
    /* In the middle, before the host's end: a reset and nothing more. */
    fd = wl_connect(h);
    st = wl_open(h, fd, "midway.example");
    host_result(h, st, true, 0, "");
    wl_expect_established(fd);
    host_data(h, st, "part", 4);
    wl_read_exact(fd, buf, 4);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    close(fd);
    expect_close(h, st, false, "the workload reset its connection");
    host_stop(h, 9, 2, 0, 10);
}

static void test_refused(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    int fd = wl_connect(h);
    uint32_t st = wl_open(h, fd, "evil.example");
    host_result(h, st, false, 403, "denied by policy: evil.example\r\nX-Injected: 1");
    char buf[2048];
    wl_expect_status(fd, buf, sizeof(buf), "403 Forbidden");
    char *body = strstr(buf, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, "denied by policy: evil.example  X-Injected: 1\n");
    assert_null(strstr(buf, "\r\nX-Injected"));
    close(fd);
    /* Refused without a status: 403 all the same. A status that is no error: 403. */
    fd = wl_connect(h);
    wl_send_str(fd, "GET http://x.example/ HTTP/1.1\r\n\r\n");
    st = expect_open(h, "x.example", 80, "http", "GET", "/");
    host_result(h, st, false, 200, "");
    wl_expect_status(fd, buf, sizeof(buf), "403 Forbidden");
    close(fd);
    /* The host may also refuse with a gateway error. */
    fd = wl_connect(h);
    st = wl_open(h, fd, "down.example");
    host_result(h, st, false, 502, "connection refused");
    wl_expect_status(fd, buf, sizeof(buf), "502 Bad Gateway");
    assert_non_null(strstr(buf, "\r\n\r\nconnection refused\n"));
    close(fd);
    /* Over the host's rate of new connections: 429 as it came. */
    fd = wl_connect(h);
    st = wl_open(h, fd, "often.example");
    host_result(h, st, false, 429, "too many connections opened");
    wl_expect_status(fd, buf, sizeof(buf), "429 Too Many Requests");
    close(fd);
    host_stop(h, 9, 4, 0, 0);
}

static void test_plain_http(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    int fd = wl_connect(h);
    wl_send_str(fd, "POST http://data.example:8080/up?x=1 HTTP/1.1\r\nHost: spoofed.example\r\n"
                    "Proxy-Authorization: Basic eA==\r\nContent-Length: 11\r\n\r\nhello");
    uint32_t st = expect_open(h, "data.example", 8080, "http", "POST", "/up?x=1");
    host_result(h, st, true, 0, "");
    const char *head = "POST /up?x=1 HTTP/1.1\r\nHost: data.example:8080\r\nContent-Length: 11\r\n"
                       "Connection: close\r\n\r\nhello";
    expect_data(h, st, head, strlen(head));
    /* The rest of the body, then a pipelined request that is not carried. */
    wl_send_str(fd, " world");
    expect_data(h, st, " world", 6);
    wl_send_str(fd, "GET http://other.example/ HTTP/1.1\r\n\r\n");
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    host_data(h, st, resp, strlen(resp));
    host_close(h, st, false);
    char buf[512];
    wl_read_all(fd, buf, sizeof(buf));
    assert_string_equal(buf, resp);
    close(fd);
    /* bytes_out: the rewritten head, hello and " world"; nothing of the second request */
    host_stop(h, 9, 1, strlen(head) + 6, strlen(resp));
}

/* The workload's bytes go up only within the host's credit. */
static void test_window_up(void **state)
{
    struct host *h = *state;
    const uint32_t window = 10000;
    egress_start(h, 0, window, 0);
    int fd = wl_connect(h);
    uint32_t st = wl_open(h, fd, "bulk.example");
    host_result(h, st, true, 0, "");
    wl_expect_established(fd);
    size_t total = 100000;
    uint8_t *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 7 + i / 251);
    wl_send(fd, data, total); /* fits the socket buffers */
    size_t got = 0, credited = 0;
    uint64_t sync = 100;
    while (got < total) {
        /* Take what came until a health reply shows the init has nothing more to send now. */
        send_health_sync(h, sync);
        for (;;) {
            Guest__V1__Frame *f = recv_frame(h);
            assert_non_null(f);
            if (f->body_case == BODY(HEALTH_RESPONSE) && f->id == sync) {
                guest__v1__frame__free_unpacked(f, NULL);
                break;
            }
            assert_int_equal(f->body_case, BODY(EGRESS_DATA));
            size_t n = f->egress_data->data.len;
            assert_memory_equal(f->egress_data->data.data, data + got, n);
            got += n;
            if (got > credited + window)
                fail_msg("%zu bytes sent up with %zu credited and a window of %u", got, credited, window);
            guest__v1__frame__free_unpacked(f, NULL);
        }
        sync++;
        if (got == credited + window || got == total) {
            host_credit(h, st, 3000);
            credited += 3000;
        }
    }
    assert_int_equal(got, total);
    free(data);
    close(fd);
    expect_close(h, st, true, NULL);
    host_close(h, st, false);
    host_stop(h, 9, 1, total, 0);
}

/* What the host sends waits in the init only within the window: with a
 * workload that does not read, credit stops, and data past the window ends
 * the stream. Once the workload reads, everything arrives in order. */
static void test_window_down(void **state)
{
    struct host *h = *state;
    const uint32_t window = 65536;
    egress_start(h, 0, window, 0);
    int fd = wl_connect(h);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    uint32_t st = wl_open(h, fd, "big.example");
    host_result(h, st, true, 0, "");
    uint8_t chunk[16384];
    size_t sent = 0, credited = 0;
    bool stuck = false;
    uint64_t sync = 100;
    while (!stuck) {
        while (sent + sizeof(chunk) <= credited + window) {
            for (size_t i = 0; i < sizeof(chunk); i++)
                chunk[i] = (uint8_t)(sent + i);
            host_data(h, st, chunk, sizeof(chunk));
            sent += sizeof(chunk);
        }
        send_health_sync(h, sync);
        size_t before = credited;
        for (;;) {
            Guest__V1__Frame *f = recv_frame(h);
            assert_non_null(f);
            if (f->body_case == BODY(HEALTH_RESPONSE) && f->id == sync) {
                guest__v1__frame__free_unpacked(f, NULL);
                break;
            }
            assert_int_equal(f->body_case, BODY(EGRESS_CREDIT));
            credited += f->egress_credit->bytes;
            guest__v1__frame__free_unpacked(f, NULL);
        }
        sync++;
        assert_true(credited <= sent);
        stuck = credited == before && sent + sizeof(chunk) > credited + window;
        if (sent > (256u << 20))
            fail_msg("the init took %zu bytes for a workload that does not read", sent);
    }
    /* One byte past the window. */
    host_data(h, st, "x", 1);
    expect_close(h, st, false, "window");
    close(fd);
    host_cancel_until_response(h);
}

/* Both directions at once, with a workload in its own process. */
static void test_bulk_both_ways(void **state)
{
    struct host *h = *state;
    const uint32_t window = 32768;
    const size_t total = 1u << 20;
    egress_start(h, 0, window, 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = wl_connect(h);
        wl_send_str(fd, "CONNECT both.example:443 HTTP/1.1\r\n\r\n");
        char hdr[sizeof(established)];
        wl_read_exact(fd, hdr, sizeof(established) - 1);
        uint8_t *out = malloc(total);
        for (size_t i = 0; i < total; i++)
            out[i] = (uint8_t)(i % 253);
        wl_send(fd, out, total);
        shutdown(fd, SHUT_WR);
        uint8_t *in = malloc(total + 1);
        size_t n = 0;
        for (;;) {
            ssize_t r = read(fd, in + n, total + 1 - n);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
        int ok = n == total;
        for (size_t i = 0; ok && i < total; i++)
            ok = in[i] == (uint8_t)(i % 251);
        _exit(ok ? 0 : 1);
    }
    uint32_t st = expect_open(h, "both.example", 443, "https", "", "");
    host_result(h, st, true, 0, "");
    size_t got = 0, sent = 0, credit_in = 0;
    bool up_closed = false;
    uint8_t chunk[8192];
    while (!up_closed || sent < total) {
        while (sent < total && sent + sizeof(chunk) <= credit_in + window) {
            size_t n = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);
            for (size_t i = 0; i < n; i++)
                chunk[i] = (uint8_t)((sent + i) % 251);
            host_data(h, st, chunk, n);
            sent += n;
        }
        if (sent == total && up_closed)
            break;
        Guest__V1__Frame *f = recv_frame(h);
        assert_non_null(f);
        switch (f->body_case) {
        case BODY(EGRESS_DATA):
            for (size_t i = 0; i < f->egress_data->data.len; i++)
                assert_int_equal(f->egress_data->data.data[i], (uint8_t)((got + i) % 253));
            got += f->egress_data->data.len;
            host_credit(h, st, (uint32_t)f->egress_data->data.len);
            break;
        case BODY(EGRESS_CREDIT):
            credit_in += f->egress_credit->bytes;
            break;
        case BODY(EGRESS_CLOSE):
            assert_true(f->egress_close->write_only);
            up_closed = true;
            break;
        default:
            fail_msg("frame body %d", f->body_case);
        }
        guest__v1__frame__free_unpacked(f, NULL);
    }
    assert_int_equal(got, total);
    host_close(h, st, true);
    expect_close(h, st, false, NULL);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    host_stop(h, 9, 1, total, total);
}

static void test_max_streams(void **state)
{
    struct host *h = *state;
    egress_start(h, 2, 0, 0);
    int a = wl_connect(h), b = wl_connect(h), c = wl_connect(h);
    uint32_t sa = wl_open(h, a, "a.example");
    uint32_t sb = wl_open(h, b, "b.example");
    assert_true(sa != sb);
    wl_send_str(c, "CONNECT c.example:443 HTTP/1.1\r\n\r\n");
    char buf[1024];
    wl_expect_status(c, buf, sizeof(buf), "503 Service Unavailable");
    close(c);
    /* One ends: there is room again. */
    host_result(h, sa, false, 403, "no");
    wl_read_all(a, buf, sizeof(buf));
    close(a);
    c = wl_connect(h);
    uint32_t sc = wl_open(h, c, "c.example");
    assert_true(sc != sb);
    close(b);
    close(c);
    host_stop(h, 9, 3, 0, 0);
}

/* Hostile workloads get a clear status, and the host hears nothing of them. */
static void test_bad_requests(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 1024);
    struct {
        const char *req;
        const char *status;
    } cases[] = {
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", "400 Bad Request"},
        {"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", "400 Bad Request"},
        {"GET https://x.example/ HTTP/1.1\r\n\r\n", "400 Bad Request"},
        {"PROPFIND http://x.example/ HTTP/1.1\r\n\r\n", "501 Not Implemented"},
        {"GET http://x.example/ HTTP/3.0\r\n\r\n", "505 HTTP Version Not Supported"},
    };
    char buf[2048];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = wl_connect(h);
        wl_send_str(fd, cases[i].req);
        wl_read_all(fd, buf, sizeof(buf));
        if (strncmp(buf, "HTTP/1.1 ", 9) != 0 || strncmp(buf + 9, cases[i].status, strlen(cases[i].status)) != 0)
            fail_msg("case %zu: got '%s', want %s", i, buf, cases[i].status);
        close(fd);
    }
    /* A head over max_header_bytes. */
    int fd = wl_connect(h);
    char big[4096];
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET http://x.example/ HTTP/1.1\r\nX-Big: ", 39);
    wl_send(fd, big, sizeof(big));
    wl_expect_status(fd, buf, sizeof(buf), "431 Request Header Fields Too Large");
    close(fd);
    /* A connection that says nothing and goes. */
    fd = wl_connect(h);
    close(fd);
    /* None of them reached the host: the next open is the first. */
    fd = wl_connect(h);
    wl_open(h, fd, "ok.example");
    close(fd);
    host_stop(h, 9, 1, 0, 0);
}

static void test_head_timeout(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    int fd = wl_connect(h);
    wl_send_str(fd, "GET http://slow.example/ HTTP/1.1\r\n");
    char buf[1024];
    wl_expect_status(fd, buf, sizeof(buf), "408 Request Timeout");
    close(fd);
    host_stop(h, 9, 0, 0, 0);
}

/* Cancel closes every stream and the listener, and answers. */
static void test_cancel(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    int fd = wl_connect(h);
    uint32_t st = wl_open(h, fd, "a.example");
    host_result(h, st, true, 0, "");
    int waiting = wl_connect(h);
    uint32_t sb = wl_open(h, waiting, "b.example");
    host_cancel(h, 9);
    bool closed_a = false, closed_b = false, cancel = false, response = false;
    while (!(closed_a && closed_b && cancel && response)) {
        Guest__V1__Frame *f = recv_frame(h);
        assert_non_null(f);
        if (f->body_case == BODY(EGRESS_CLOSE)) {
            closed_a |= f->egress_close->stream == st;
            closed_b |= f->egress_close->stream == sb;
            assert_false(response); /* the closes come first */
        } else if (f->body_case == BODY(CANCEL_RESPONSE)) {
            assert_true(f->cancel_response->found);
            cancel = true;
        } else if (f->body_case == BODY(EGRESS_RESPONSE)) {
            assert_int_equal(f->egress_response->streams, 2);
            response = true;
        }
        guest__v1__frame__free_unpacked(f, NULL);
    }
    char buf[256];
    wl_read_all(fd, buf, sizeof(buf));
    close(fd);
    close(waiting);
    /* Not listening any more. */
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(h->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(s);
    /* Frames for the stopped proxy are ignored; it can start again. */
    host_data(h, st, "x", 1);
    host_credit(h, st, 5);
    egress_start(h, 0, 0, 0);
    host_stop(h, 10, 0, 0, 0);
}

/* Frames from a host out of order or out of bounds end at most the
 * stream they name; the init keeps serving. */
static void test_hostile_host(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 4096, 0);
    /* A second proxy while one runs. */
    Guest__V1__EgressRequest r = GUEST__V1__EGRESS_REQUEST__INIT;
    send_frame(h, TEST_FRAME(77, EGRESS_REQUEST, egress_request, &r));
    Guest__V1__Frame *e = expect(h, BODY(ERROR));
    assert_int_equal(e->id, 77);
    assert_int_equal(e->error->code, CODE(BUSY));
    guest__v1__frame__free_unpacked(e, NULL);
    /* Frames for streams that do not exist. */
    host_data(h, 999, "x", 1);
    host_credit(h, 999, 0xffffffffu);
    host_close(h, 999, false);
    host_result(h, 999, true, 0, "");
    host_result(h, 0, true, 0, "");
    int fd = wl_connect(h);
    uint32_t st = wl_open(h, fd, "a.example");
    /* Data before the decision ends the stream. */
    host_data(h, st, "early", 5);
    expect_close(h, st, false, "not open");
    close(fd);
    /* A frame over 64 KiB. */
    fd = wl_connect(h);
    st = wl_open(h, fd, "b.example");
    host_result(h, st, true, 0, "");
    host_result(h, st, false, 403, "twice"); /* a second decision is ignored */
    static uint8_t huge[GUEST_EGRESS_MAX_DATA + 1];
    host_data(h, st, huge, sizeof(huge));
    expect_close(h, st, false, "64 KiB");
    close(fd);
    /* A huge credit does not let the init send past what it has. */
    fd = wl_connect(h);
    st = wl_open(h, fd, "c.example");
    host_result(h, st, true, 0, "");
    host_credit(h, st, 0xffffffffu);
    wl_expect_established(fd);
    wl_send_str(fd, "abc");
    expect_data(h, st, "abc", 3);
    close(fd);
    expect_close(h, st, true, NULL);
    host_close(h, st, false);
    host_cancel_until_response(h);
}

/* A session CA that is not one PEM certificate is refused before the proxy
 * starts (and before anything is written). */
static void test_bad_ca(void **state)
{
    struct host *h = *state;
    static char big[GUEST_EGRESS_MAX_CA + 100];
    memset(big, 'A', sizeof(big) - 1);
    memcpy(big, "-----BEGIN CERTIFICATE-----\n", 28);
    memcpy(big + sizeof(big) - 1 - 26, "-----END CERTIFICATE-----\n", 26);
    const char *bad[] = {
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\nAA<script>AA\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n",
        "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n../../etc\n",
        big,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
        Guest__V1__EgressRequest r = GUEST__V1__EGRESS_REQUEST__INIT;
        r.ca_certificate = (char *)bad[i];
        f.id = 80 + i;
        f.body_case = BODY(EGRESS_REQUEST);
        f.egress_request = &r;
        send_frame(h, &f);
        Guest__V1__Frame *e = expect(h, BODY(ERROR));
        assert_int_equal(e->id, 80 + i);
        assert_int_equal(e->error->code, CODE(INVALID));
        guest__v1__frame__free_unpacked(e, NULL);
    }
    assert_string_equal(guest_exec_proxy(), "");
}

/* Many connections at once: max_streams reach the host, the rest get 503
 * (or, past the spare slots, are reset), and the proxy serves on after. */
static void test_connection_flood(void **state)
{
    struct host *h = *state;
    egress_start(h, 4, 0, 0);
    enum { FLOOD = 60 };
    int fds[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        fds[i] = wl_connect(h);
        wl_send_str(fds[i], "CONNECT flood.example:443 HTTP/1.1\r\n\r\n");
    }
    uint32_t streams[4];
    for (int i = 0; i < 4; i++)
        streams[i] = expect_open(h, "flood.example", 443, "https", "", "");
    /* The four that reached the host are refused; every connection then has
     * its answer (or, past the spare slots, may have been reset). */
    for (int i = 0; i < 4; i++)
        host_result(h, streams[i], false, 403, "no");
    int forbidden = 0, unavailable = 0;
    char buf[1024];
    for (int i = 0; i < FLOOD; i++) {
        wl_read_all(fds[i], buf, sizeof(buf));
        if (strstr(buf, "HTTP/1.1 403 Forbidden\r\n"))
            forbidden++;
        else if (strstr(buf, "HTTP/1.1 503 Service Unavailable\r\n"))
            unavailable++;
        else if (buf[0])
            fail_msg("connection %d got '%s'", i, buf);
        close(fds[i]);
    }
    assert_int_equal(forbidden, 4);
    assert_true(unavailable >= (int)GUEST_EGRESS_SPARE_CLIENTS); /* at least those whose head was read */
    /* Until the init has seen those connections end, a new one may still
     * find the table full (503); then it tries again. */
    for (int attempt = 0;; attempt++) {
        assert_true(attempt < 1000);
        int fd = wl_connect(h);
        wl_send_str(fd, "CONNECT after.example:443 HTTP/1.1\r\n\r\n");
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = h->fd, .events = POLLIN}};
        assert_true(h->pending_off == h->pending_len);
        assert_true(poll(p, 2, WAIT_MS) > 0);
        if (p[1].revents) {
            expect_open(h, "after.example", 443, "https", "", "");
            close(fd);
            break;
        }
        wl_read_all(fd, buf, sizeof(buf));
        close(fd);
        if (buf[0] && !strstr(buf, "HTTP/1.1 503 Service Unavailable\r\n"))
            fail_msg("got '%s'", buf);
    }
    host_cancel_until_response(h);
}

/* Workloads see the proxy in their environment while it listens. */
static void test_proxy_environment(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecRequest e = GUEST__V1__EXEC_REQUEST__INIT;
    char *argv[] = {(char *)"/bin/sh", (char *)"-c",
                    (char *)"echo $HTTP_PROXY $HTTPS_PROXY $http_proxy $https_proxy $PIP_PROXY"};
    e.argv = argv;
    e.n_argv = 3;
    e.cwd = (char *)"/tmp";
    f.id = 20;
    f.body_case = BODY(EXEC_REQUEST);
    f.exec_request = &e;
    send_frame(h, &f);
    Guest__V1__Frame *r = expect(h, BODY(EXEC_RESPONSE));
    char want[512];
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", h->port);
    snprintf(want, sizeof(want), "%s %s %s %s %s\n", url, url, url, url, url);
    assert_int_equal(r->exec_response->stdout.len, strlen(want));
    assert_memory_equal(r->exec_response->stdout.data, want, strlen(want));
    guest__v1__frame__free_unpacked(r, NULL);
    host_stop(h, 9, 0, 0, 0);
    f.id = 21;
    send_frame(h, &f);
    r = expect(h, BODY(EXEC_RESPONSE));
    assert_int_equal(r->exec_response->stdout.len, 1); /* all unset: echo prints only the newline */
    guest__v1__frame__free_unpacked(r, NULL);
}

/* The host going away stops the proxy: workloads see their connections end. */
static void test_host_gone(void **state)
{
    struct host *h = *state;
    egress_start(h, 0, 0, 0);
    int fd = wl_connect(h);
    uint32_t st = wl_open(h, fd, "a.example");
    host_result(h, st, true, 0, "");
    wl_expect_established(fd);
    char buf[256];
    shutdown(h->fd, SHUT_WR); /* the host sends nothing more */
    wl_read_all(fd, buf, sizeof(buf));
    close(fd);
    bool response = false;
    Guest__V1__Frame *f;
    while ((f = recv_frame(h))) {
        response |= f->body_case == BODY(EGRESS_RESPONSE);
        guest__v1__frame__free_unpacked(f, NULL);
    }
    assert_true(response);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_head_connect),     cmocka_unit_test(test_head_rewrite),
        cmocka_unit_test(test_head_body_framing), cmocka_unit_test(test_head_incremental),
        cmocka_unit_test(test_head_refusals),
    };
    int failed = cmocka_run_group_tests_name("egress head", pure, NULL, NULL);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest proxy[] = {
        T(test_connect_round_trip), T(test_refused),     T(test_plain_http),     T(test_window_up),
        T(test_window_down),        T(test_bulk_both_ways), T(test_max_streams), T(test_bad_requests),
        T(test_head_timeout),       T(test_cancel),      T(test_hostile_host),   T(test_bad_ca),   T(test_proxy_environment),
        T(test_host_gone),          T(test_connection_flood), T(test_workload_reset),
    };
    if (getuid() != 0) {
        /* The environment test runs a workload as uid 1000. */
        fprintf(stderr, "egress_test: proxy tests need root; skipped\n");
        return failed;
    }
    failed += cmocka_run_group_tests_name("egress proxy", proxy, NULL, NULL);
    return failed;
}
