/* Blocking name lookup for the clients (registry transfers, the CLI's TCP
 * connection to the daemon) with libevent's DNS client on a private loop:
 * /etc/hosts, then the name servers of /etc/resolv.conf. The C library's
 * getaddrinfo is not used for names: in a static binary it would load the
 * host's NSS modules, which expect the shared C library. */
#include "http/http.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct lookup {
    bool done;
    int result;
    struct evutil_addrinfo *res;
};

static void on_answer(int result, struct evutil_addrinfo *res, void *arg)
{
    struct lookup *l = arg;
    l->done = true;
    l->result = result;
    l->res = res;
}

int http_resolve_host(const char *host, const char *port, struct evutil_addrinfo **out,
                      struct error *err)
{
    *out = NULL;
    /* An IP literal (the daemon's address, a registry on 127.0.0.1) needs
     * neither the files nor a name server: numeric conversion only, which
     * consults no NSS module. */
    struct evutil_addrinfo numeric = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                      .ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV};
    if (evutil_getaddrinfo(host, port, &numeric, out) == 0 && *out != NULL)
        return 0;
    *out = NULL;
    struct event_base *base = event_base_new();
    if (base == NULL)
        return error_set(err, ERR_INTERNAL, "cannot start an event loop");
    struct evdns_base *dns = evdns_base_new(base, 0);
    if (dns == NULL) {
        event_base_free(base);
        return error_set(err, ERR_INTERNAL, "cannot start the DNS client");
    }
    /* An unreadable resolv.conf leaves libevent's default name server
     * (127.0.0.1), as the C library does; /etc/hosts is read either way. */
    (void)evdns_base_resolv_conf_parse(dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct lookup l = {0};
    (void)evdns_getaddrinfo(dns, host, port, &hints, on_answer, &l);
    /* evdns's own timeouts and attempts (resolv.conf's options) end it. */
    while (!l.done && event_base_loop(base, EVLOOP_ONCE) == 0)
        ;
    evdns_base_free(dns, 0);
    event_base_free(base);
    if (!l.done)
        return error_set(err, ERR_UNAVAILABLE, "cannot resolve %s: the lookup did not finish", host);
    if (l.result != 0) {
        if (l.res)
            evutil_freeaddrinfo(l.res);
        return error_set(err, ERR_UNAVAILABLE, "cannot resolve %s: %s", host,
                         evutil_gai_strerror(l.result));
    }
    if (l.res == NULL)
        return error_set(err, ERR_UNAVAILABLE, "cannot resolve %s: no address", host);
    *out = l.res;
    return 0;
}
