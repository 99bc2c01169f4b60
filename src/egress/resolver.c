/* Name lookups on the event loop with libevent's DNS client (evdns): it reads
 * /etc/resolv.conf and /etc/hosts itself and asks the name servers over UDP,
 * so no C library name-service module is ever loaded (a static binary must
 * not load one: glibc's NSS modules expect the shared C library). */
#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "egress/internal.h"

struct egress_lookup {
    struct egress_lookup *prev, *next; /* the resolver's live lookups */
    struct egress_resolver *r;         /* NULL once the resolver is gone */
    struct event *deliver;             /* hands the answer over on a later loop turn */
    char host[EGRESS_MAX_HOST + 1];
    egress_lookup_fn cb;
    void *ctx;
    bool cancelled, answered;
    struct egress_addr addrs[EGRESS_MAX_ADDRS];
    size_t n;
    char error[400];
};

struct egress_resolver {
    struct event_base *base;
    struct evdns_base *dns;
    unsigned queue_max, in_use; /* lookups asked for and not yet handed over */
    struct egress_lookup *live;
};

static void unlink_lookup(struct egress_lookup *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else if (l->r)
        l->r->live = l->next;
    if (l->next)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

static void lookup_free(struct egress_lookup *l)
{
    if (l->deliver)
        event_free(l->deliver);
    free(l);
}

static void add_addr(struct egress_lookup *l, const struct sockaddr *sa, size_t len)
{
    struct egress_addr a = {0};
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        a.family = AF_INET;
        memcpy(a.bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof(text)) ==
                NULL ||
            egress_addr_parse(text, &a) < 0)
            return;
    } else {
        return;
    }
    for (size_t i = 0; i < l->n; i++)
        if (l->addrs[i].family == a.family && memcmp(l->addrs[i].bytes, a.bytes, 16) == 0)
            return;
    l->addrs[l->n++] = a;
}

/* evdns's answer. It may come before evdns_getaddrinfo returns (a name from
 * /etc/hosts), so it is never handed over from here: the deliver event runs
 * the caller's callback on a later turn of the loop. */
static void on_answer(int result, struct evutil_addrinfo *res, void *arg)
{
    struct egress_lookup *l = arg;
    l->answered = true;
    if (result == 0) {
        for (struct evutil_addrinfo *ai = res; ai && l->n < EGRESS_MAX_ADDRS; ai = ai->ai_next)
            if (ai->ai_addr)
                add_addr(l, ai->ai_addr, ai->ai_addrlen);
        if (l->n == 0)
            snprintf(l->error, sizeof(l->error), "%s has no IPv4 or IPv6 address", l->host);
    } else {
        snprintf(l->error, sizeof(l->error), "cannot resolve %s: %s", l->host,
                 evutil_gai_strerror(result));
    }
    if (res)
        evutil_freeaddrinfo(res);
    if (l->r == NULL) { /* the resolver was freed while evdns still held this */
        lookup_free(l);
        return;
    }
    event_active(l->deliver, EV_TIMEOUT, 0);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct egress_lookup *l = arg;
    struct egress_resolver *r = l->r;
    unlink_lookup(l);
    r->in_use--;
    if (!l->cancelled)
        l->cb(l->addrs, l->n, l->n ? NULL : l->error, l->ctx);
    lookup_free(l);
}

/* libevent's DNS client reports name servers going down and up; into the
 * daemon's log rather than straight to stderr. */
static void on_evdns_log(int severity, const char *msg)
{
    log_msg(severity >= EVENT_LOG_WARN ? LOG_LEVEL_WARN : severity == EVENT_LOG_MSG ? LOG_LEVEL_INFO
                                                                                 : LOG_LEVEL_DEBUG,
            "egress resolver: %s", msg);
}

int egress_resolver_new(struct event_base *base, unsigned queue, const char *resolv_conf,
                        struct egress_resolver **out, struct error *err)
{
    *out = NULL;
    if (queue < 1)
        return error_set(err, ERR_INVALID_ARGUMENT, "resolver: the queue must hold a lookup");
    struct egress_resolver *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    r->base = base;
    r->queue_max = queue;
    evdns_set_log_fn(on_evdns_log);
    /* Idle, the resolver keeps nothing on the loop (no open socket, no timer). */
    r->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (r->dns == NULL) {
        free(r);
        return error_set(err, ERR_INTERNAL, "resolver: cannot start the DNS client");
    }
    const char *path = resolv_conf ? resolv_conf : "/etc/resolv.conf";
    /* Name servers, search list and options from the file, and /etc/hosts.
     * A file that cannot be read leaves libevent's default (127.0.0.1), as
     * the C library's resolver does. */
    int rc = evdns_base_resolv_conf_parse(r->dns, DNS_OPTIONS_ALL, path);
    if (rc != 0)
        log_warn("egress: %s: %s; asking 127.0.0.1", path,
                 rc == 1 ? "cannot open it" : rc == 2 ? "cannot read it" : "no name server in it");
    *out = r;
    return 0;
}

void egress_resolver_free(struct egress_resolver *r)
{
    if (r == NULL)
        return;
    for (struct egress_lookup *l = r->live, *next; l; l = next) {
        next = l->next;
        l->prev = l->next = NULL;
        l->r = NULL;
        if (l->answered)
            lookup_free(l); /* answered, not yet handed over */
        /* else evdns still holds it: evdns_base_free below fails it, and
         * on_answer frees it if the loop turns again (else it is memory
         * the process leaves behind at exit). */
    }
    r->live = NULL;
    /* Failed requests are answered with DNS_ERR_SHUTDOWN, a path of
     * libevent's that no longer touches the freed DNS client. */
    evdns_base_free(r->dns, 1);
    free(r);
}

int egress_lookup_start(struct egress_resolver *r, const char *host, egress_lookup_fn cb, void *ctx,
                        struct egress_lookup **out, struct error *err)
{
    if (r->in_use >= r->queue_max)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%u name lookups are waiting already",
                         r->queue_max);
    struct egress_lookup *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    l->deliver = event_new(r->base, -1, 0, on_deliver, l);
    if (l->deliver == NULL) {
        free(l);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    snprintf(l->host, sizeof(l->host), "%s", host);
    l->r = r;
    l->cb = cb;
    l->ctx = ctx;
    l->next = r->live;
    if (r->live)
        r->live->prev = l;
    r->live = l;
    r->in_use++;
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    /* The handle it returns is not kept: lookups are never cancelled in
     * evdns (see egress_lookup_cancel). Every outcome, failures included,
     * reaches on_answer. */
    (void)evdns_getaddrinfo(r->dns, l->host, NULL, &hints, on_answer, l);
    *out = l;
    return 0;
}

void egress_lookup_cancel(struct egress_lookup *l)
{
    /* The lookup runs to its end (evdns's own timeouts bound it) and is
     * freed then without a word to the caller. evdns_getaddrinfo_cancel is
     * not used: its answer would reach the DNS client even after the
     * client is freed. */
    if (l != NULL)
        l->cancelled = true;
}
