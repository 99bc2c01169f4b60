/* The egress resolver against a real DNS server on 127.0.0.1 (libevent's
 * own server side, on a UDP port of the test's), named by a resolv.conf the
 * test writes: answers, failures, the bound on lookups in progress, cancels,
 * /etc/hosts, and a resolver freed with lookups in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "egress/internal.h"

struct fixture {
    struct event_base *base;
    int sock;
    struct evdns_server_port *server;
    unsigned questions; /* how many the server was asked */
    char dir[64], conf[96];
    struct egress_resolver *r;
};

struct answer {
    bool done;
    size_t n;
    struct egress_addr addrs[EGRESS_MAX_ADDRS];
    char error[400];
};

/* a.test: 203.0.113.7 and 2001:db8::7; private.test: 10.1.2.3;
 * slow.test: never answered; anything else: no such name. */
static void on_question(struct evdns_server_request *req, void *arg)
{
    struct fixture *f = arg;
    f->questions++;
    for (int i = 0; i < req->nquestions; i++) {
        const char *name = req->questions[i]->name;
        int type = req->questions[i]->type;
        if (strcasecmp(name, "slow.test") == 0) {
            evdns_server_request_drop(req);
            return;
        }
        if (strcasecmp(name, "a.test") == 0 && type == EVDNS_TYPE_A) {
            struct in_addr a;
            inet_pton(AF_INET, "203.0.113.7", &a);
            evdns_server_request_add_a_reply(req, name, 1, &a, 60);
        } else if (strcasecmp(name, "a.test") == 0 && type == EVDNS_TYPE_AAAA) {
            struct in6_addr a;
            inet_pton(AF_INET6, "2001:db8::7", &a);
            evdns_server_request_add_aaaa_reply(req, name, 1, &a, 60);
        } else if (strcasecmp(name, "private.test") == 0 && type == EVDNS_TYPE_A) {
            struct in_addr a;
            inet_pton(AF_INET, "10.1.2.3", &a);
            evdns_server_request_add_a_reply(req, name, 1, &a, 60);
        } else if (strcasecmp(name, "private.test") != 0 && strcasecmp(name, "a.test") != 0) {
            evdns_server_request_respond(req, DNS_ERR_NOTEXIST);
            return;
        }
    }
    evdns_server_request_respond(req, 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->base = event_base_new();
    assert_non_null(f->base);
    f->sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(f->sock >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->sock, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(f->sock, (struct sockaddr *)&sin, &len), 0);
    f->server = evdns_add_server_port_with_base(f->base, f->sock, 0, on_question, f);
    assert_non_null(f->server);
    snprintf(f->dir, sizeof(f->dir), "/tmp/resolver-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->conf, sizeof(f->conf), "%s/resolv.conf", f->dir);
    FILE *fp = fopen(f->conf, "w");
    assert_non_null(fp);
    fprintf(fp, "nameserver 127.0.0.1:%u\noptions timeout:1 attempts:1\n", ntohs(sin.sin_port));
    fclose(fp);
    struct error err = {0};
    assert_int_equal(egress_resolver_new(f->base, 3, f->conf, &f->r, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    egress_resolver_free(f->r);
    /* The lookups failed by the free are answered on these turns. */
    for (int i = 0; i < 4; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    evdns_close_server_port(f->server);
    close(f->sock);
    unlink(f->conf);
    rmdir(f->dir);
    event_base_free(f->base);
    free(f);
    return 0;
}

static void on_answer(const struct egress_addr *addrs, size_t n, const char *error, void *ctx)
{
    struct answer *a = ctx;
    assert_false(a->done); /* once */
    a->done = true;
    a->n = n;
    memcpy(a->addrs, addrs, n * sizeof(*addrs));
    snprintf(a->error, sizeof(a->error), "%s", error ? error : "");
}

static void wait_for(struct fixture *f, const struct answer *a)
{
    for (int i = 0; i < 500 && !a->done; i++)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_true(a->done);
}

static bool has_addr(const struct answer *a, const char *text)
{
    struct egress_addr want;
    assert_int_equal(egress_addr_parse(text, &want), 0);
    for (size_t i = 0; i < a->n; i++)
        if (a->addrs[i].family == want.family && memcmp(a->addrs[i].bytes, want.bytes, 16) == 0)
            return true;
    return false;
}

static struct egress_lookup *start(struct fixture *f, const char *host, struct answer *a)
{
    struct egress_lookup *l = NULL;
    struct error err = {0};
    if (egress_lookup_start(f->r, host, on_answer, a, &l, &err) < 0)
        fail_msg("lookup of %s refused: %s", host, err.message);
    return l;
}

static void test_answers_from_the_configured_server(void **state)
{
    struct fixture *f = *state;
    struct answer a = {0};
    start(f, "a.test", &a);
    assert_false(a.done); /* never from inside the call */
    wait_for(f, &a);
    assert_int_equal(a.n, 2);
    assert_true(has_addr(&a, "203.0.113.7"));
    assert_true(has_addr(&a, "2001:db8::7"));
    assert_true(f->questions >= 1);

    /* A private answer comes back as it is: refusing it is the caller's job
     * (egress_addr_classify), after the policy has seen it. */
    struct answer p = {0};
    start(f, "private.test", &p);
    wait_for(f, &p);
    assert_int_equal(p.n, 1);
    assert_true(has_addr(&p, "10.1.2.3"));
}

static void test_no_such_name(void **state)
{
    struct fixture *f = *state;
    struct answer a = {0};
    start(f, "missing.test", &a);
    wait_for(f, &a);
    assert_int_equal(a.n, 0);
    assert_non_null(strstr(a.error, "cannot resolve missing.test"));
}

static void test_hosts_file_answers_without_the_server(void **state)
{
    struct fixture *f = *state;
    struct answer a = {0};
    unsigned before = f->questions;
    start(f, "localhost", &a);
    assert_false(a.done); /* answered at once by evdns, handed over later */
    wait_for(f, &a);
    assert_true(a.n >= 1);
    assert_true(has_addr(&a, "127.0.0.1") || has_addr(&a, "::1"));
    assert_int_equal(f->questions, before);
}

static void test_bounded_and_cancel(void **state)
{
    struct fixture *f = *state;
    struct answer s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0};
    start(f, "slow.test", &s1);
    struct egress_lookup *l2 = start(f, "slow.test", &s2);
    start(f, "slow.test", &s3);
    struct egress_lookup *l = NULL;
    struct error err = {0};
    assert_int_equal(egress_lookup_start(f->r, "a.test", on_answer, &s4, &l, &err), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    assert_false(s4.done);

    /* A cancelled lookup never calls back; its slot comes free when the
     * server's silence times out (timeout:1 attempts:1). */
    egress_lookup_cancel(l2);
    wait_for(f, &s1);
    wait_for(f, &s3);
    assert_int_equal(s1.n, 0);
    assert_non_null(strstr(s1.error, "cannot resolve slow.test"));
    for (int i = 0; i < 20; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_false(s2.done);
    struct answer again = {0};
    start(f, "a.test", &again);
    wait_for(f, &again);
    assert_int_equal(again.n, 2);
}

static void test_free_with_lookups_in_flight(void **state)
{
    struct fixture *f = *state;
    struct answer s1 = {0}, s2 = {0};
    start(f, "slow.test", &s1);
    start(f, "localhost", &s2); /* answered, not yet handed over */
    egress_resolver_free(f->r);
    f->r = NULL;
    for (int i = 0; i < 4; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_false(s1.done);
    assert_false(s2.done);
}

static void test_unreadable_conf_still_starts(void **state)
{
    struct fixture *f = *state;
    struct egress_resolver *r = NULL;
    struct error err = {0};
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/absent", f->dir);
    assert_int_equal(egress_resolver_new(f->base, 1, missing, &r, &err), 0);
    egress_resolver_free(r);
    assert_int_equal(egress_resolver_new(f->base, 0, NULL, &r, &err), -1);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answers_from_the_configured_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_such_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hosts_file_answers_without_the_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded_and_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_lookups_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_conf_still_starts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
