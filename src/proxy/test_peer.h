/* For unit tests only (proxy, egress): a proxy connection to a fake guest.
 * The test listens on a Unix socket in a scratch folder, the proxy connects
 * as it does to a VM's channel, and the test holds the guest's end (peer).
 * Header-only; include after <cmocka.h>. */
#ifndef ENCLAVE_PROXY_TEST_PEER_H
#define ENCLAVE_PROXY_TEST_PEER_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/proxy.h"

struct test_peer {
    char dir[64];
    int listen_fd;
    int peer; /* the guest's end */
};

/* Connects a proxy on base to a fresh fake guest; the test fails when it
 * cannot. */
static inline void test_peer_connect(struct test_peer *t, struct event_base *base, struct proxy_conn **conn)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/enclave-test-peer-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    struct vmm_channel ch = {.kind = VMM_CHANNEL_UNIX};
    snprintf(ch.path, sizeof(ch.path), "%s/rpc.sock", t->dir);
    t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", ch.path);
    assert_int_equal(bind(t->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(t->listen_fd, 4), 0);
    struct error err;
    if (proxy_connect(base, &ch, NULL, NULL, conn, &err) < 0)
        fail_msg("proxy_connect: %s", err.message);
    t->peer = accept(t->listen_fd, NULL, NULL);
    assert_true(t->peer >= 0);
}

/* Closes the guest's end and the listener, and removes the folder. */
static inline void test_peer_close(struct test_peer *t)
{
    close(t->peer);
    close(t->listen_fd);
    char cmd[sizeof(t->dir) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

#endif
