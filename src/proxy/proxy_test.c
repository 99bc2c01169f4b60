/* The host side of the guest protocol against a hostile guest: a scripted
 * peer on a real Unix socket, driven through the real event loop. A guest
 * that answers with a request body is refused; a frame whose decoding would
 * blow up in memory is dropped and the channel keeps working. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/vm_sockets.h>
#include <unistd.h>
#include <cmocka.h>
#include <event2/event.h>

#include "proxy/proxy.h"
#include "proxy/test_peer.h"
#include "wire/frame.h"
#include "wire/test_frames.h"

struct fixture {
    struct event_base *base;
    struct proxy_conn *conn;
    struct test_peer tp;
    int peer; /* tp's: the guest's end */
};

struct outcome {
    bool done;
    bool ok;
    Guest__V1__Frame__BodyCase body;
    char message[1024];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    test_peer_connect(&f->tp, f->base, &f->conn);
    f->peer = f->tp.peer;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->conn)
        proxy_conn_free(f->conn);
    while (waitpid(-1, NULL, 0) > 0)
        ;
    event_base_free(f->base);
    test_peer_close(&f->tp);
    free(f);
    return 0;
}

static void on_reply(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct outcome *o = ctx;
    o->done = true;
    o->ok = err == NULL;
    if (reply)
        o->body = reply->body_case;
    if (err)
        snprintf(o->message, sizeof(o->message), "%s", err->message);
}

/* Sends a health request; returns its id. */
static uint64_t ask_health(struct fixture *f, struct outcome *o, unsigned timeout_ms)
{
    Guest__V1__Frame req = GUEST__V1__FRAME__INIT;
    Guest__V1__HealthRequest h = GUEST__V1__HEALTH_REQUEST__INIT;
    req.body_case = GUEST__V1__FRAME__BODY_HEALTH_REQUEST;
    req.health_request = &h;
    uint64_t id = 0;
    struct error err;
    memset(o, 0, sizeof(*o));
    assert_int_equal(proxy_request(f->conn, &req, timeout_ms, on_reply, NULL, o, &id, &err), 0);
    return id;
}

/* A child writes (and frees buf), so a frame larger than the socket buffer
 * does not block the loop that reads it. */
static void peer_write(struct fixture *f, uint8_t *buf, size_t len)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t n = write(f->peer, buf + off, len - off);
            if (n <= 0)
                _exit(1);
            off += (size_t)n;
        }
        _exit(0);
    }
    free(buf);
}

static void peer_send(struct fixture *f, Guest__V1__Frame *frame)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(wire_encode(frame, &buf, &len), 0);
    peer_write(f, buf, len);
}

static void run_until(struct fixture *f, struct outcome *o)
{
    for (int i = 0; i < 2000 && !o->done; i++)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_true(o->done);
}

/* A health answer with n empty transport names, encoded. */
static uint8_t *health_answer(uint64_t id, size_t n_transports, size_t *len)
{
    Guest__V1__HealthResponse h = GUEST__V1__HEALTH_RESPONSE__INIT;
    char **transports = calloc(n_transports ? n_transports : 1, sizeof(char *));
    for (size_t i = 0; i < n_transports; i++)
        transports[i] = (char *)"";
    h.n_transports = n_transports;
    h.transports = transports;
    uint8_t *buf = NULL;
    assert_int_equal(wire_encode(TEST_FRAME(id, HEALTH_RESPONSE, health_response, &h), &buf, len), 0);
    free(transports);
    return buf;
}

static void answer_health(struct fixture *f, uint64_t id, size_t n_transports)
{
    size_t len = 0;
    uint8_t *buf = health_answer(id, n_transports, &len);
    peer_write(f, buf, len);
}

static void test_answer_accepted(void **state)
{
    struct fixture *f = *state;
    struct outcome o;
    uint64_t id = ask_health(f, &o, 5000);
    answer_health(f, id, 1);
    run_until(f, &o);
    assert_true(o.ok);
    assert_int_equal(o.body, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE);
}

static void test_request_from_guest_refused(void **state)
{
    struct fixture *f = *state;
    struct outcome o;
    uint64_t id = ask_health(f, &o, 5000);
    /* The guest "answers" with an ExecRequest: the host never accepts one. */
    Guest__V1__ExecRequest e = GUEST__V1__EXEC_REQUEST__INIT;
    char *argv[] = {(char *)"/bin/sh"};
    e.n_argv = 1;
    e.argv = argv;
    peer_send(f, TEST_FRAME(id, EXEC_REQUEST, exec_request, &e));
    run_until(f, &o);
    assert_false(o.ok);
    assert_non_null(strstr(o.message, "never accepts"));

    /* The channel still serves an honest answer. */
    id = ask_health(f, &o, 5000);
    answer_health(f, id, 1);
    run_until(f, &o);
    assert_true(o.ok);
}

static void count_reply(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct outcome *o = ctx;
    if (o->done)
        o->ok = false; /* a second callback: never */
    on_reply(reply, err, ctx);
}

/* A guest out of step with the host: it answers a request twice, answers a
 * request the host canceled, answers an id it was never given, and leaves a
 * request unanswered. Each callback runs exactly once (the second answer is
 * dropped, the canceled request's never runs, the silent one's gets the
 * timeout), and the channel still serves. */
static void test_answers_out_of_step(void **state)
{
    struct fixture *f = *state;
    Guest__V1__Frame req = GUEST__V1__FRAME__INIT;
    Guest__V1__HealthRequest h = GUEST__V1__HEALTH_REQUEST__INIT;
    req.body_case = GUEST__V1__FRAME__BODY_HEALTH_REQUEST;
    req.health_request = &h;
    struct error err;
    struct outcome twice = {0}, canceled = {0}, silent = {0};
    uint64_t id_twice = 0, id_canceled = 0;
    assert_int_equal(proxy_request(f->conn, &req, 5000, count_reply, NULL, &twice, &id_twice, &err), 0);
    assert_int_equal(proxy_request(f->conn, &req, 5000, count_reply, NULL, &canceled, &id_canceled, &err), 0);
    assert_int_equal(proxy_request(f->conn, &req, 200, count_reply, NULL, &silent, NULL, &err), 0);
    proxy_cancel(f->conn, id_canceled);
    assert_int_equal(proxy_pending_count(f->conn), 2);
    answer_health(f, id_twice, 1);
    answer_health(f, id_twice, 1);
    answer_health(f, id_canceled, 1);
    answer_health(f, 999999, 1);
    run_until(f, &twice);
    run_until(f, &silent);
    assert_true(twice.ok);
    assert_false(silent.ok);
    assert_non_null(strstr(silent.message, "in time"));
    /* The answers behind them are read and dropped; then an honest one. */
    struct outcome o;
    uint64_t id = ask_health(f, &o, 5000);
    answer_health(f, id, 1);
    run_until(f, &o);
    assert_true(o.ok);
    assert_true(twice.ok); /* not called again */
    assert_false(canceled.done);
    assert_int_equal(proxy_pending_count(f->conn), 0);
}

/* Egress stream frames go to the request they name, and only when that
 * request takes frames: for a request without on_frame (a Health) or an id
 * nothing waits on, they are dropped; an EgressRequest (a host's body) as an
 * answer is refused; the Health is still answered. */
static void test_egress_frames_for_others_dropped(void **state)
{
    struct fixture *f = *state;
    struct outcome o;
    uint64_t id = ask_health(f, &o, 5000);
    struct test_frame b;
    /* a Health takes no frames */
    peer_send(f, test_frame_open(&b, id, 1, "example.com", 443, "https", NULL, NULL));
    /* nothing pending */
    peer_send(f, test_frame_open(&b, id + 1000, 1, "example.com", 443, "https", NULL, NULL));
    peer_send(f, test_frame_data(&b, id, 1, NULL, 0));
    for (int i = 0; i < 50; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_false(o.done); /* none of that answered the Health */
    answer_health(f, id, 1);
    run_until(f, &o);
    assert_true(o.ok);

    id = ask_health(f, &o, 5000);
    Guest__V1__EgressRequest er = GUEST__V1__EGRESS_REQUEST__INIT;
    peer_send(f, TEST_FRAME(id, EGRESS_REQUEST, egress_request, &er));
    run_until(f, &o);
    assert_false(o.ok);
    assert_non_null(strstr(o.message, "never accepts"));
}

static void test_memory_bomb_dropped(void **state)
{
    struct fixture *f = *state;
    struct outcome bombed, honest;
    uint64_t bomb_id = ask_health(f, &bombed, 60000);
    uint64_t honest_id = ask_health(f, &honest, 60000);
    /* 300000 empty strings: 600 KB on the wire, far more once decoded; then,
     * on the same stream, an honest answer to the second request. */
    size_t bomb_len = 0, honest_len = 0;
    uint8_t *bomb = health_answer(bomb_id, 300000, &bomb_len);
    uint8_t *ok = health_answer(honest_id, 2, &honest_len);
    uint8_t *both = malloc(bomb_len + honest_len);
    memcpy(both, bomb, bomb_len);
    memcpy(both + bomb_len, ok, honest_len);
    free(bomb);
    free(ok);
    peer_write(f, both, bomb_len + honest_len);
    run_until(f, &honest);
    assert_true(honest.ok);
    assert_false(bombed.done); /* the frame before it was dropped, never delivered */
    proxy_conn_free(f->conn);  /* ends the first request: canceled */
    f->conn = NULL;
    assert_true(bombed.done);
    assert_false(bombed.ok);
}

struct closed {
    bool done;
    char message[1024];
};

static void on_closed(const struct error *why, void *ctx)
{
    struct closed *c = ctx;
    c->done = true;
    snprintf(c->message, sizeof(c->message), "%s", why->message);
}

/* A vsock connect to a guest that is not there returns at once; the failure
 * arrives later on the event loop, through on_closed, and a request queued
 * meanwhile fails with it. (The old connect waited on the socket inside
 * proxy_connect and failed there.) */
static void test_vsock_connect_does_not_block(void **state)
{
    (void)state;
    int probe = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (probe < 0)
        skip();
    close(probe);
    struct event_base *base = event_base_new();
    struct vmm_channel ch = {.kind = VMM_CHANNEL_VSOCK, .cid = 0x7ffffff0u, .port = 52};
    struct closed closed = {0};
    struct proxy_conn *conn = NULL;
    struct error err;
    assert_int_equal(proxy_connect(base, &ch, on_closed, &closed, &conn, &err), 0);
    assert_false(closed.done);
    Guest__V1__Frame req = GUEST__V1__FRAME__INIT;
    Guest__V1__HealthRequest h = GUEST__V1__HEALTH_REQUEST__INIT;
    req.body_case = GUEST__V1__FRAME__BODY_HEALTH_REQUEST;
    req.health_request = &h;
    struct outcome o = {0};
    assert_int_equal(proxy_request(conn, &req, 0, on_reply, NULL, &o, NULL, &err), 0);
    for (int i = 0; i < 100000 && !closed.done; i++)
        event_base_loop(base, EVLOOP_ONCE);
    assert_true(closed.done);
    assert_true(o.done);
    assert_false(o.ok);
    proxy_conn_free(conn);
    event_base_free(base);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answer_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_from_guest_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_out_of_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bomb_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_egress_frames_for_others_dropped, setup, teardown),
        cmocka_unit_test(test_vsock_connect_does_not_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
