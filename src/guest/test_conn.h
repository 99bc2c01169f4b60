/* For the guest's unit tests only (server_test.c, files_test.c,
 * code_test.c, egress_test.c): a real guest server in a forked child on one end of a
 * socketpair, and the host's side of the connection: frames out, frames in,
 * the hello, and waiting for the server to exit. Functions are static inline
 * so that each test uses what it needs. */
#ifndef ENCLAVE_GUEST_TEST_CONN_H
#define ENCLAVE_GUEST_TEST_CONN_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/guest.h"
#include "wire/frame.h"
#include "wire/test_frames.h"

/* How long a test waits for the server: a reply, or its exit. */
#define GUEST_TEST_WAIT_MS 30000

/* Forks a server with opts serving one end of a socketpair (it exits when
 * idle); *fd is the other end. Returns the server's pid, or -1. */
static inline pid_t guest_test_server_start(const struct guest_server_options *opts, int *fd)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(sv[0]);
        struct guest_server *s = guest_server_new(opts);
        if (!s)
            _exit(3);
        if (guest_server_add_stdio(s, sv[1], sv[1]) < 0)
            _exit(4);
        int r = guest_server_run(s);
        guest_server_free(s);
        exit(r < 0 ? 5 : 0); /* exit, not _exit: LeakSanitizer checks the server */
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}

/* Waits for the server to exit, at most GUEST_TEST_WAIT_MS; kills it after
 * that. 0 when it exited by itself with status 0. */
static inline int guest_test_server_wait(pid_t pid)
{
    int status = -1;
    for (int i = 0; i < GUEST_TEST_WAIT_MS / 10; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static inline void guest_test_send_bytes(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd w = {.fd = fd, .events = POLLOUT};
            poll(&w, 1, GUEST_TEST_WAIT_MS);
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return; /* the server hung up: what it sent before is what tests check */
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static inline void guest_test_send_frame(int fd, const Guest__V1__Frame *f)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(wire_encode(f, &buf, &len), 0);
    guest_test_send_bytes(fd, buf, len);
    free(buf);
}

/* The next frame from the server, or NULL on EOF. Fails the test after
 * GUEST_TEST_WAIT_MS without one. */
static inline Guest__V1__Frame *guest_test_recv_frame(int fd, struct wire_decoder *dec)
{
    for (;;) {
        Guest__V1__Frame *f = NULL;
        int r = wire_decoder_next(dec, &f);
        assert_true(r >= 0);
        if (r == 1)
            return f;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, GUEST_TEST_WAIT_MS), 1); /* a reply in time */
        uint8_t buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));
        /* A peer that closes with our frames unread resets the connection:
         * closed all the same, with nothing sent. */
        if (n < 0 && errno == ECONNRESET)
            return NULL;
        assert_true(n >= 0);
        if (n == 0)
            return NULL;
        size_t off = 0;
        while (off < (size_t)n) {
            long took = wire_decoder_feed(dec, buf + off, (size_t)n - off);
            assert_true(took >= 0);
            off += (size_t)took;
            /* tests never pipeline more than one maximal frame */
            if (off < (size_t)n)
                fail_msg("unexpected backlog");
        }
    }
}

/* Sends the HelloRequest with key as frame 7777; 0 when the answer is a
 * HelloResponse. */
static inline int guest_test_hello(int fd, struct wire_decoder *dec, const uint8_t *key, size_t len)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__HelloRequest h = GUEST__V1__HELLO_REQUEST__INIT;
    h.key.data = (uint8_t *)key;
    h.key.len = len;
    f.id = 7777;
    f.body_case = GUEST__V1__FRAME__BODY_HELLO_REQUEST;
    f.hello_request = &h;
    guest_test_send_frame(fd, &f);
    Guest__V1__Frame *r = guest_test_recv_frame(fd, dec);
    int ok = r != NULL && r->body_case == GUEST__V1__FRAME__BODY_HELLO_RESPONSE ? 0 : -1;
    if (r != NULL)
        guest__v1__frame__free_unpacked(r, NULL);
    return ok;
}

/* One connection to a server in a child: what the files and code tests keep. */
struct guest_test_conn {
    int fd;
    pid_t server;
    struct wire_decoder dec;
};

/* Starts the server with opts and says hello with key; 0 when it answered. */
static inline int guest_test_conn_open(struct guest_test_conn *c, const struct guest_server_options *opts)
{
    c->server = guest_test_server_start(opts, &c->fd);
    if (c->server < 0)
        return -1;
    wire_decoder_init(&c->dec, 0);
    return guest_test_hello(c->fd, &c->dec, opts->key, GUEST_KEY_LEN);
}

/* Hangs up and waits for the server; 0 when it exited cleanly. */
static inline int guest_test_conn_close(struct guest_test_conn *c)
{
    close(c->fd);
    int status = guest_test_server_wait(c->server);
    wire_decoder_release(&c->dec);
    return status;
}

/* Closes the connection as guest_test_conn_close, then removes dir (the
 * test's scratch tree); 0 when both went well. */
static inline int guest_test_conn_close_rm(struct guest_test_conn *c, const char *dir)
{
    int status = guest_test_conn_close(c);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? status : -1;
}

/* The next frame; the test fails on EOF. */
static inline Guest__V1__Frame *guest_test_conn_recv(struct guest_test_conn *c)
{
    Guest__V1__Frame *f = guest_test_recv_frame(c->fd, &c->dec);
    assert_non_null(f);
    return f;
}

#endif
