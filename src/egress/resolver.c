/* getaddrinfo off the event loop: a few worker threads take lookups from a
 * bounded queue and hand the answers back through a pipe the loop watches. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "egress/internal.h"

#define MAX_THREADS 8

struct egress_lookup {
    struct egress_lookup *next;
    struct egress_resolver *r;
    char host[EGRESS_MAX_HOST + 1];
    egress_lookup_fn cb;
    void *ctx;
    bool cancelled; /* loop thread only */
    /* The worker's answer. */
    struct egress_addr addrs[EGRESS_MAX_ADDRS];
    size_t n;
    char error[400];
};

struct egress_resolver {
    struct event_base *base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t threads[MAX_THREADS];
    unsigned n_threads;
    unsigned queue_max, in_use; /* lookups queued, running or answered but not delivered */
    struct egress_lookup *todo, *todo_tail;
    struct egress_lookup *done;
    bool stopping;
    int pipe_rd, pipe_wr;
    struct event *ev;
};

static void lookup(struct egress_lookup *l)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(l->error, sizeof(l->error), "cannot resolve %s: %s", l->host, gai_strerror(rc));
        return;
    }
    for (struct addrinfo *ai = res; ai && l->n < EGRESS_MAX_ADDRS; ai = ai->ai_next) {
        struct egress_addr a = {0};
        if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
            a.family = AF_INET;
            memcpy(a.bytes, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            char text[64];
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, text, sizeof(text));
            if (egress_addr_parse(text, &a) < 0)
                continue;
        } else {
            continue;
        }
        bool dup = false;
        for (size_t i = 0; i < l->n && !dup; i++)
            dup = l->addrs[i].family == a.family && memcmp(l->addrs[i].bytes, a.bytes, 16) == 0;
        if (!dup)
            l->addrs[l->n++] = a;
    }
    freeaddrinfo(res);
    if (l->n == 0)
        snprintf(l->error, sizeof(l->error), "%s has no IPv4 or IPv6 address", l->host);
}

static void *worker_main(void *arg)
{
    struct egress_resolver *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stopping && r->todo == NULL)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stopping)
            break;
        struct egress_lookup *l = r->todo;
        r->todo = l->next;
        if (r->todo == NULL)
            r->todo_tail = NULL;
        pthread_mutex_unlock(&r->mu);
        lookup(l);
        pthread_mutex_lock(&r->mu);
        l->next = r->done;
        r->done = l;
        char b = 1;
        ssize_t w = write(r->pipe_wr, &b, 1); /* a full pipe already says "look" */
        (void)w;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void on_answers(evutil_socket_t fd, short what, void *arg)
{
    struct egress_resolver *r = arg;
    char buf[256];
    while (read(r->pipe_rd, buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&r->mu);
    struct egress_lookup *done = r->done;
    r->done = NULL;
    pthread_mutex_unlock(&r->mu);
    while (done) {
        struct egress_lookup *l = done;
        done = l->next;
        pthread_mutex_lock(&r->mu);
        r->in_use--;
        pthread_mutex_unlock(&r->mu);
        if (!l->cancelled)
            l->cb(l->addrs, l->n, l->n ? NULL : l->error, l->ctx);
        free(l);
    }
}

int egress_resolver_new(struct event_base *base, unsigned threads, unsigned queue,
                        struct egress_resolver **out, struct error *err)
{
    *out = NULL;
    if (threads < 1 || threads > MAX_THREADS || queue < 1)
        return error_set(err, ERR_INVALID_ARGUMENT, "resolver: 1-%d threads and a queue", MAX_THREADS);
    struct egress_resolver *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    r->base = base;
    r->queue_max = queue;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(r);
        return error_set_errno(err, ERR_INTERNAL, "resolver pipe");
    }
    r->pipe_rd = p[0];
    r->pipe_wr = p[1];
    r->ev = event_new(base, r->pipe_rd, EV_READ | EV_PERSIST, on_answers, r);
    if (r->ev == NULL || event_add(r->ev, NULL) < 0) {
        egress_resolver_free(r);
        return error_set(err, ERR_INTERNAL, "resolver: cannot watch its pipe");
    }
    /* The workers take no signals: the loop handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&r->threads[i], NULL, worker_main, r) != 0)
            break;
        r->n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r->n_threads == 0) {
        egress_resolver_free(r);
        return error_set(err, ERR_INTERNAL, "resolver: cannot start a thread");
    }
    *out = r;
    return 0;
}

void egress_resolver_free(struct egress_resolver *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    for (unsigned i = 0; i < r->n_threads; i++)
        pthread_join(r->threads[i], NULL);
    for (struct egress_lookup *l = r->todo, *next; l; l = next) {
        next = l->next;
        free(l);
    }
    for (struct egress_lookup *l = r->done, *next; l; l = next) {
        next = l->next;
        free(l);
    }
    if (r->ev)
        event_free(r->ev);
    close(r->pipe_rd);
    close(r->pipe_wr);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

int egress_lookup_start(struct egress_resolver *r, const char *host, egress_lookup_fn cb, void *ctx,
                        struct egress_lookup **out, struct error *err)
{
    struct egress_lookup *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    snprintf(l->host, sizeof(l->host), "%s", host);
    l->r = r;
    l->cb = cb;
    l->ctx = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->in_use >= r->queue_max) {
        pthread_mutex_unlock(&r->mu);
        free(l);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "%u name lookups are waiting already",
                         r->queue_max);
    }
    r->in_use++;
    if (r->todo_tail)
        r->todo_tail->next = l;
    else
        r->todo = l;
    r->todo_tail = l;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    *out = l;
    return 0;
}

void egress_lookup_cancel(struct egress_lookup *l)
{
    if (l != NULL)
        l->cancelled = true;
}
