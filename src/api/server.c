/* The listener, connections, protocol sniffing, the service and route tables,
 * and the life of a call. HTTP/1.1 lives in http1.c, HTTP/2 in http2.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "api/internal.h"
#include "common/cleanup.h"
#include "common/log.h"

#define DEFAULT_LISTEN "127.0.0.1:7339"
#define DEFAULT_MAX_REQUEST_BYTES (4u << 20)
#define DEFAULT_MAX_CONNECTIONS 256
#define DEFAULT_MAX_HEADER_BYTES (16u << 10)
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_REQUEST_TIMEOUT_MS 30000
#define DEFAULT_IDLE_TIMEOUT_MS 60000
#define DEFAULT_MAX_STREAMS 100
/* A client that stops reading its responses is dropped after this long. */
#define WRITE_TIMEOUT_MS 30000
/* After our last byte: how long we keep draining the client's input so that
 * unread request bytes do not turn our close into a reset that eats the reply. */
#define LINGER_MS 2000
/* The input a connection may buffer while it waits (a handler in flight). */
#define READ_HIGH_WATERMARK (256u << 10)

static const char http2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define HTTP2_PREFACE_LEN (sizeof(http2_preface) - 1)

uint64_t api_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ connections */

static void conn_free(struct api_conn *conn)
{
    struct api_server *server = conn->server;
    if (conn->kind == API_CONN_HTTP1)
        http1_conn_free(conn);
    else if (conn->kind == API_CONN_HTTP2)
        http2_conn_free(conn);
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    server->n_connections--;
    bufferevent_free(conn->bev);
    event_free(conn->timer);
    free(conn);
}

void api_conn_set_timer(struct api_conn *conn, unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(conn->timer, &tv);
}

void api_conn_clear_timer(struct api_conn *conn)
{
    evtimer_del(conn->timer);
}

void api_conn_close_soon(struct api_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    /* Reading goes on (and discards) while the output drains: see LINGER_MS. */
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
        api_conn_set_timer(conn, 0);
    else
        api_conn_clear_timer(conn);
}

/* Output flushed after close_soon: half-close and linger, reading and dropping. */
static void conn_linger(struct api_conn *conn)
{
    if (conn->lingering)
        return;
    conn->lingering = true;
    shutdown(bufferevent_getfd(conn->bev), SHUT_WR);
    bufferevent_disable(conn->bev, EV_WRITE);
    bufferevent_setwatermark(conn->bev, EV_READ, 0, 0);
    bufferevent_enable(conn->bev, EV_READ);
    api_conn_set_timer(conn, LINGER_MS);
}

static void conn_sniff(struct api_conn *conn)
{
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    size_t len = evbuffer_get_length(in);
    size_t n = len < HTTP2_PREFACE_LEN ? len : HTTP2_PREFACE_LEN;
    unsigned char head[HTTP2_PREFACE_LEN];
    if (evbuffer_copyout(in, head, n) < 0) {
        api_conn_close_soon(conn);
        return;
    }
    if (memcmp(head, http2_preface, n) != 0) {
        if (http1_conn_new(conn) < 0) {
            api_conn_close_soon(conn);
            return;
        }
        conn->kind = API_CONN_HTTP1;
        http1_on_read(conn);
    } else if (n == HTTP2_PREFACE_LEN) {
        if (http2_conn_new(conn) < 0) {
            api_conn_close_soon(conn);
            return;
        }
        conn->kind = API_CONN_HTTP2;
        http2_on_read(conn);
    }
    /* else: a prefix of the preface so far; wait for more. */
}

/* Frees the connection if it asked to close and has nothing left to do. */
static void conn_after_callback(struct api_conn *conn)
{
    conn->in_callback = false;
    if (conn->closing && !conn->lingering &&
        evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
        conn_linger(conn);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct api_conn *conn = arg;
    if (conn->closing) {
        evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
        return;
    }
    conn->in_callback = true;
    switch (conn->kind) {
    case API_CONN_SNIFF:
        conn_sniff(conn);
        break;
    case API_CONN_HTTP1:
        http1_on_read(conn);
        break;
    case API_CONN_HTTP2:
        http2_on_read(conn);
        break;
    }
    conn_after_callback(conn);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct api_conn *conn = arg;
    if (conn->closing) {
        conn_linger(conn);
        return;
    }
    conn->in_callback = true;
    if (conn->kind == API_CONN_HTTP1)
        http1_on_drained(conn);
    else if (conn->kind == API_CONN_HTTP2)
        http2_on_drained(conn);
    conn_after_callback(conn);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct api_conn *conn = arg;
    if ((what & BEV_EVENT_EOF) && !conn->closing && conn->kind == API_CONN_HTTP1) {
        /* Requests already received are answered, unless one is in flight:
         * then, as most servers do, the client counts as gone. */
        conn->in_callback = true;
        bool keep = http1_on_eof(conn);
        conn_after_callback(conn);
        if (keep)
            return;
    }
    conn_free(conn);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct api_conn *conn = arg;
    if (conn->lingering) {
        conn_free(conn);
        return;
    }
    if (conn->closing) {
        if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
            conn_linger(conn);
        return;
    }
    conn->in_callback = true;
    switch (conn->kind) {
    case API_CONN_SNIFF:
        api_conn_close_soon(conn);
        break;
    case API_CONN_HTTP1:
        http1_on_timer(conn);
        break;
    case API_CONN_HTTP2:
        http2_on_timer(conn);
        break;
    }
    conn_after_callback(conn);
}

static int conn_new(struct api_server *server, int fd, const char *peer, struct error *err)
{
    if (server->n_connections >= server->max_connections) {
        close(fd);
        log_warn("api: refusing %s: %u connections open", peer, server->n_connections);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "too many connections");
    }
    evutil_make_socket_nonblocking(fd);
    struct api_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        close(fd);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    conn->server = server;
    snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
    api_conn_identify(conn, fd);
    conn->timer = evtimer_new(server->base, conn_timer_cb, conn);
    conn->bev = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (conn->timer == NULL || conn->bev == NULL) {
        if (conn->bev != NULL)
            bufferevent_free(conn->bev);
        else
            close(fd);
        if (conn->timer != NULL)
            event_free(conn->timer);
        free(conn);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "cannot set up a connection");
    }
    struct timeval wtv = {.tv_sec = WRITE_TIMEOUT_MS / 1000, .tv_usec = 0};
    bufferevent_set_timeouts(conn->bev, NULL, &wtv);
    bufferevent_setwatermark(conn->bev, EV_READ, 0, READ_HIGH_WATERMARK);
    bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
    bufferevent_enable(conn->bev, EV_READ);
    conn->next = server->conns;
    if (server->conns != NULL)
        server->conns->prev = conn;
    server->conns = conn;
    server->n_connections++;
    api_conn_set_timer(conn, server->header_timeout_ms);
    return 0;
}

int api_server_adopt(struct api_server *server, int fd, const char *peer, struct error *err)
{
    return conn_new(server, fd, peer != NULL ? peer : "adopted", err);
}

static void peer_name(int fd, const struct sockaddr *sa, char *buf, size_t size)
{
    if (sa->sa_family == AF_UNIX) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
            snprintf(buf, size, "unix:uid:%u", (unsigned)cred.uid);
        else
            snprintf(buf, size, "unix:uid:unknown");
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        snprintf(buf, size, "tcp:%s:%u", addr, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        char addr[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        snprintf(buf, size, "tcp:[%s]:%u", addr, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(buf, size, "unknown");
    }
}

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct api_server *server = arg;
    char peer[API_PEER_MAX];
    peer_name(fd, sa, peer, sizeof(peer));
    struct error err;
    if (conn_new(server, fd, peer, &err) < 0)
        log_debug("api: %s: %s", peer, err.message);
}

static void accept_error_cb(struct evconnlistener *listener, void *arg)
{
    /* EMFILE and friends: keep the listener; the next accept may succeed. */
    log_warn("api: accept: %s", strerror(errno));
}

/* ------------------------------------------------------------------ listening */

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static int listen_tcp(struct api_server *server, const char *listen, bool allow_remote,
                      struct error *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof(host) || colon[1] == '\0')
        return error_set(err, ERR_INVALID_ARGUMENT, "listen address \"%s\" is not HOST:PORT", listen);
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    const char *port = colon + 1;
    for (const char *p = port; *p != '\0'; p++)
        if (*p < '0' || *p > '9' || p - port > 5)
            return error_set(err, ERR_INVALID_ARGUMENT, "listen address \"%s\": bad port", listen);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "listen address \"%s\": %s (a numeric address is needed)",
                         listen, gai_strerror(rc));
    if (!is_loopback(res->ai_addr) && !allow_remote) {
        freeaddrinfo(res);
        return error_set(err, ERR_PERMISSION_DENIED,
                         "refusing to listen on non-loopback address \"%s\": the API serves "
                         "this machine only (plain HTTP would carry its tokens in clear, and "
                         "Host must name loopback; set allow_remote to override)",
                         listen);
    }
    server->listener = evconnlistener_new_bind(
        server->base, accept_cb, server,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128, res->ai_addr,
        (int)res->ai_addrlen);
    freeaddrinfo(res);
    if (server->listener == NULL)
        return error_set_errno(err, ERR_UNAVAILABLE, "cannot listen on %s", listen);
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    int fd = evconnlistener_get_fd(server->listener);
    if (getsockname(fd, (struct sockaddr *)&ss, &slen) < 0)
        return error_set_errno(err, ERR_INTERNAL, "getsockname");
    char addr[INET6_ADDRSTRLEN];
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        snprintf(server->address, sizeof(server->address), "[%s]:%u", addr, ntohs(in6->sin6_port));
        server->port = ntohs(in6->sin6_port);
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        snprintf(server->address, sizeof(server->address), "%s:%u", addr, ntohs(in->sin_port));
        server->port = ntohs(in->sin_port);
    }
    return 0;
}

static int listen_unix(struct api_server *server, const char *path, struct error *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return error_set(err, ERR_INVALID_ARGUMENT, "socket path too long: %s", path);
    strcpy(sun.sun_path, path);
    cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "socket");
    /* A stale socket from a dead daemon is replaced; a live one is not. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return error_set(err, ERR_ALREADY_EXISTS, "%s exists and is not a socket", path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return error_set_errno(err, ERR_INTERNAL, "socket");
        int live = connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
        close(probe);
        if (live)
            return error_set(err, ERR_ALREADY_EXISTS, "%s: another server is listening", path);
        unlink(path);
    }
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc < 0)
        return error_set_errno(err, ERR_UNAVAILABLE, "bind %s", path);
    server->socket_path = strdup(path);
    if (server->socket_path == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    if (chmod(path, 0600) < 0)
        return error_set_errno(err, ERR_INTERNAL, "chmod %s", path);
    if (listen(fd, 128) < 0)
        return error_set_errno(err, ERR_UNAVAILABLE, "listen %s", path);
    server->listener =
        evconnlistener_new(server->base, accept_cb, server, LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (server->listener == NULL)
        return error_set_errno(err, ERR_INTERNAL, "evconnlistener_new");
    steal_fd(&fd);
    snprintf(server->address, sizeof(server->address), "%s", path);
    return 0;
}

int api_server_new(struct event_base *base, const struct api_config *config,
                   struct api_server **out, struct error *err)
{
    struct api_server *server = calloc(1, sizeof(*server));
    if (server == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    server->base = base;
#define OR_DEFAULT(v, d) ((v) != 0 ? (v) : (d))
    server->max_request_bytes = OR_DEFAULT(config->max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    server->max_connections = OR_DEFAULT(config->max_connections, DEFAULT_MAX_CONNECTIONS);
    server->max_header_bytes = OR_DEFAULT(config->max_header_bytes, DEFAULT_MAX_HEADER_BYTES);
    server->header_timeout_ms = OR_DEFAULT(config->header_timeout_ms, DEFAULT_HEADER_TIMEOUT_MS);
    server->request_timeout_ms = OR_DEFAULT(config->request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
    server->idle_timeout_ms = OR_DEFAULT(config->idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS);
    server->max_streams = OR_DEFAULT(config->max_streams, DEFAULT_MAX_STREAMS);
    server->max_buffered_bytes =
        OR_DEFAULT(config->max_buffered_bytes, 16 * server->max_request_bytes);
#undef OR_DEFAULT
    int rc;
    if (config->socket_path != NULL && config->socket_path[0] != '\0')
        rc = listen_unix(server, config->socket_path, err);
    else
        rc = listen_tcp(server, config->listen != NULL ? config->listen : DEFAULT_LISTEN,
                        config->allow_remote != 0, err);
    if (rc < 0) {
        api_server_free(server);
        return -1;
    }
    evconnlistener_set_error_cb(server->listener, accept_error_cb);
    *out = server;
    return 0;
}

const char *api_server_address(const struct api_server *server)
{
    return server->address;
}

void api_server_free(struct api_server *server)
{
    if (server == NULL)
        return;
    if (server->listener != NULL)
        evconnlistener_free(server->listener);
    while (server->conns != NULL)
        conn_free(server->conns);
    /* Calls whose transport already let go (answered by deadline) outlive us. */
    while (server->calls != NULL) {
        struct api_call *call = server->calls;
        server->calls = call->next;
        api_call_detach(call, true);
        call->server = NULL;
        call->prev = call->next = NULL;
    }
    if (server->socket_path != NULL) {
        unlink(server->socket_path);
        free(server->socket_path);
    }
    for (struct api_route *r = server->routes; r != NULL;) {
        struct api_route *next = r->next;
        free(r->method);
        free(r->path);
        free(r);
        r = next;
    }
    for (struct api_service_node *s = server->services; s != NULL;) {
        struct api_service_node *next = s->next;
        free(s);
        s = next;
    }
    free(server);
}

/* ------------------------------------------------------------------ tables */

int api_server_add_service(struct api_server *server, const struct api_service *service,
                           struct error *err)
{
    if (service->full_name == NULL || strchr(service->full_name, '/') != NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad service name");
    for (size_t i = 0; i < service->n_methods; i++) {
        const struct api_method *m = &service->methods[i];
        if (m->name == NULL || m->input == NULL || m->output == NULL || m->handler == NULL ||
            strchr(m->name, '/') != NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "%s: method %zu is incomplete",
                             service->full_name, i);
    }
    for (struct api_service_node *s = server->services; s != NULL; s = s->next)
        if (strcmp(s->service->full_name, service->full_name) == 0)
            return error_set(err, ERR_ALREADY_EXISTS, "service %s already added", service->full_name);
    struct api_service_node *node = calloc(1, sizeof(*node));
    if (node == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    node->service = service;
    node->next = server->services;
    server->services = node;
    return 0;
}

int api_server_add_route_opts(struct api_server *server, const char *method, const char *path,
                              const struct api_route_options *opts, api_route_fn handler,
                              void *ctx, struct error *err)
{
    if (path == NULL || path[0] != '/' || method == NULL || handler == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "a route needs a method, a /path and a handler");
    bool prefix = opts != NULL && opts->prefix;
    for (struct api_route *r = server->routes; r != NULL; r = r->next)
        if (strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0 &&
            r->opts.prefix == prefix)
            return error_set(err, ERR_ALREADY_EXISTS, "route %s %s already added", method, path);
    struct api_route *route = calloc(1, sizeof(*route));
    if (route == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    route->method = strdup(method);
    route->path = strdup(path);
    if (route->method == NULL || route->path == NULL) {
        free(route->method);
        free(route->path);
        free(route);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    route->path_len = strlen(path);
    if (opts != NULL)
        route->opts = *opts;
    if (route->opts.stream_body)
        route->opts.async = true;
    route->handler = handler;
    route->ctx = ctx;
    route->next = server->routes;
    server->routes = route;
    return 0;
}

int api_server_add_route(struct api_server *server, const char *method, const char *path,
                         api_route_fn handler, void *ctx, struct error *err)
{
    return api_server_add_route_opts(server, method, path, NULL, handler, ctx, err);
}

/* An exact route, else the longest prefix route with a route for the method;
 * path_known: some route (any method) covers the path. */
const struct api_route *api_server_find_route(struct api_server *server, const char *method,
                                              const char *path, bool *path_known)
{
    *path_known = false;
    const struct api_route *best = NULL;
    bool best_exact = false;
    size_t len = strlen(path);
    for (struct api_route *r = server->routes; r != NULL; r = r->next) {
        bool exact = !r->opts.prefix && strcmp(r->path, path) == 0;
        bool under = r->opts.prefix && len >= r->path_len && memcmp(r->path, path, r->path_len) == 0;
        if (!exact && !under)
            continue;
        *path_known = true;
        if (strcmp(r->method, method) != 0)
            continue;
        if (best == NULL || (exact && !best_exact) ||
            (!exact && !best_exact && r->path_len > best->path_len)) {
            best = r;
            best_exact = exact;
        }
    }
    return best;
}

const struct api_method *api_server_find_method(struct api_server *server, const char *path,
                                                const struct api_service **service)
{
    *service = NULL;
    if (path[0] != '/')
        return NULL;
    const char *slash = strrchr(path, '/');
    if (slash == path)
        return NULL;
    size_t svc_len = (size_t)(slash - path - 1);
    const char *name = slash + 1;
    for (struct api_service_node *s = server->services; s != NULL; s = s->next) {
        const struct api_service *svc = s->service;
        if (strlen(svc->full_name) != svc_len || memcmp(svc->full_name, path + 1, svc_len) != 0)
            continue;
        *service = svc;
        for (size_t i = 0; i < svc->n_methods; i++)
            if (strcmp(svc->methods[i].name, name) == 0)
                return &svc->methods[i];
        return NULL;
    }
    return NULL;
}

/* ------------------------------------------------------------------ calls */

static void call_release(struct api_call *call)
{
    if (call->server != NULL) {
        if (call->prev != NULL)
            call->prev->next = call->next;
        else
            call->server->calls = call->next;
        if (call->next != NULL)
            call->next->prev = call->prev;
    }
    if (call->deadline != NULL)
        event_free(call->deadline);
    if (call->notify != NULL)
        event_free(call->notify);
    if (call->request != NULL)
        protobuf_c_message_free_unpacked(call->request, NULL);
    free(call);
}

static void call_transport_done(struct api_call *call, const ProtobufCMessage *response,
                                const struct error *err)
{
    struct api_conn *conn = call->conn;
    api_call_detach(call, false);
    if (conn->kind == API_CONN_HTTP1)
        http1_call_done(conn, call, response, err);
    else
        http2_call_done(conn, call, response, err);
}

bool api_call_deliver(struct api_call *call, const ProtobufCMessage *message)
{
    if (call->finished)
        return false;
    call->in_handler = true;
    if (call->cb.on_message != NULL)
        call->cb.on_message(call, message, call->cb_ctx);
    call->in_handler = false;
    if (call->finished) {
        call_release(call);
        return false;
    }
    return true;
}

void api_call_transport_fail(struct api_call *call, const struct error *err)
{
    if (call->answered || call->conn == NULL)
        return;
    call_transport_done(call, NULL, err);
}

static void call_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct api_call *call = arg;
    if (call->answered || call->conn == NULL)
        return;
    struct error err;
    error_set(&err, ERR_DEADLINE_EXCEEDED, "the client's deadline passed");
    call_transport_done(call, NULL, &err);
}

void api_call_detach(struct api_call *call, bool abandoned)
{
    call->conn = NULL;
    call->answered = true;
    if (abandoned)
        call->abandoned = true;
    if (call->deadline != NULL) {
        event_free(call->deadline);
        call->deadline = NULL;
    }
    /* A streaming handler still at work learns that its output goes nowhere. */
    if (!call->finished && api_call_is_streaming(call))
        api_call_notify(call, API_NOTIFY_CANCEL);
}

bool api_call_is_streaming(const struct api_call *call)
{
    return call->method->kind != API_METHOD_UNARY;
}

static void call_notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct api_call *call = arg;
    unsigned flags = call->notify_flags;
    call->notify_flags = 0;
    if (call->finished)
        return;
    /* Each callback may finish the call (and free it): stop after one that did. */
    call->in_handler = true;
    if ((flags & API_NOTIFY_RESUME) && !call->paused && call->conn != NULL &&
        call->conn->kind == API_CONN_HTTP2)
        http2_call_resume(call->conn, call);
    if (call->finished)
        goto done;
    if ((flags & API_NOTIFY_HALF_CLOSE) && !call->half_close_told && call->cb.on_half_close) {
        call->half_close_told = true;
        call->cb.on_half_close(call, call->cb_ctx);
        if (call->finished)
            goto done;
    }
    if ((flags & API_NOTIFY_DRAINED) && call->want_drained && call->cb.on_drained != NULL) {
        call->want_drained = false;
        call->cb.on_drained(call, call->cb_ctx);
        if (call->finished)
            goto done;
    }
    if ((flags & API_NOTIFY_CANCEL) && !call->cancel_told) {
        call->cancel_told = true;
        if (call->cb.on_cancel != NULL)
            call->cb.on_cancel(call, call->cb_ctx);
    }
done:
    call->in_handler = false;
    if (call->finished)
        call_release(call);
}

void api_call_notify(struct api_call *call, unsigned flags)
{
    if (call->notify == NULL || call->finished)
        return;
    call->notify_flags |= flags;
    event_active(call->notify, 0, 0);
}

int api_call_start(struct api_conn *conn, const struct api_service *service,
                   const struct api_method *method, ProtobufCMessage *request,
                   enum api_call_wire wire, enum api_principal principal, int32_t stream_id,
                   uint64_t timeout_ms, struct api_call **slot)
{
    struct api_server *server = conn->server;
    struct api_call *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        if (request != NULL)
            protobuf_c_message_free_unpacked(request, NULL);
        return -1;
    }
    call->server = server;
    call->service = service;
    call->method = method;
    call->request = request;
    call->wire = wire;
    call->principal = principal;
    call->conn = conn;
    call->stream_id = stream_id;
    call->max_buffer = method->max_buffer != 0 ? method->max_buffer : (1u << 20);
    snprintf(call->peer, sizeof(call->peer), "%s", conn->peer);
    if (method->kind != API_METHOD_UNARY) {
        call->notify = event_new(server->base, -1, 0, call_notify_cb, call);
        if (call->notify == NULL) {
            if (request != NULL)
                protobuf_c_message_free_unpacked(request, NULL);
            free(call);
            return -1;
        }
    }
    call->next = server->calls;
    if (server->calls != NULL)
        server->calls->prev = call;
    server->calls = call;
    if (timeout_ms > 0) {
        call->deadline_ms = api_now_ms() + timeout_ms;
        call->deadline = evtimer_new(server->base, call_deadline_cb, call);
        if (call->deadline != NULL) {
            struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
                                 .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
            evtimer_add(call->deadline, &tv);
        }
    }
    /* The transport learns of the call before the handler can finish it; it
     * clears the slot when the call is done with it (http*_call_done). */
    *slot = call;
    call->in_handler = true;
    method->handler(call, request, service->ctx);
    call->in_handler = false;
    if (call->finished)
        call_release(call);
    return 0;
}

static void call_finish(struct api_call *call, const ProtobufCMessage *response,
                        const struct error *err)
{
    if (call->finished) {
        log_error("api: %s/%s finished twice", call->service->full_name, call->method->name);
        return;
    }
    call->finished = true;
    if (!call->answered && call->conn != NULL)
        call_transport_done(call, response, err);
    /* Inside the handler or a callback: freed when it returns. */
    if (!call->in_handler)
        call_release(call);
}

void api_call_reply(struct api_call *call, const ProtobufCMessage *response)
{
    if (api_call_is_streaming(call) && response != NULL &&
        response->descriptor == call->method->output) {
        api_call_send(call, response);
        call_finish(call, NULL, NULL);
        return;
    }
    if (response == NULL || response->descriptor != call->method->output) {
        struct error err;
        error_set(&err, ERR_INTERNAL, "%s/%s replied with the wrong message type",
                  call->service->full_name, call->method->name);
        log_error("api: %s", err.message);
        call_finish(call, NULL, &err);
        return;
    }
    call_finish(call, response, NULL);
}

void api_call_fail(struct api_call *call, const struct error *err)
{
    struct error copy;
    if (err == NULL || err->kind == ERR_OK) {
        error_set(&copy, ERR_UNKNOWN, "%s", err != NULL && err->message[0] ? err->message : "failed");
        err = &copy;
    }
    call_finish(call, NULL, err);
}

void api_call_finish(struct api_call *call, const struct error *err)
{
    if (err != NULL && err->kind != ERR_OK) {
        api_call_fail(call, err);
        return;
    }
    if (!api_call_is_streaming(call)) {
        struct error e;
        error_set(&e, ERR_INTERNAL, "%s/%s finished without a reply", call->service->full_name,
                  call->method->name);
        log_error("api: %s", e.message);
        call_finish(call, NULL, &e);
        return;
    }
    call_finish(call, NULL, NULL);
}

int api_call_send(struct api_call *call, const ProtobufCMessage *message)
{
    if (call->finished || call->answered || call->conn == NULL || !api_call_is_streaming(call))
        return -1;
    if (message == NULL || message->descriptor != call->method->output) {
        log_error("api: %s/%s sent the wrong message type", call->service->full_name,
                  call->method->name);
        return -1;
    }
    if (api_call_pending(call) >= call->max_buffer) {
        call->want_drained = true;
        return -1;
    }
    struct api_conn *conn = call->conn;
    int rc = conn->kind == API_CONN_HTTP1 ? http1_call_send(conn, call, message)
                                          : http2_call_send(conn, call, message);
    if (rc < 0)
        return -1;
    if (api_call_pending(call) >= call->max_buffer) {
        call->want_drained = true;
        return 0;
    }
    return 1;
}

size_t api_call_pending(const struct api_call *call)
{
    if (call->conn == NULL)
        return 0;
    return call->conn->kind == API_CONN_HTTP1 ? http1_call_pending(call->conn, call)
                                              : http2_call_pending(call->conn, call);
}

void api_call_set_callbacks(struct api_call *call, const struct api_call_callbacks *cb, void *ctx)
{
    if (cb != NULL)
        call->cb = *cb;
    else
        memset(&call->cb, 0, sizeof(call->cb));
    call->cb_ctx = ctx;
}

void api_call_pause_receive(struct api_call *call, bool paused)
{
    if (call->paused == paused)
        return;
    call->paused = paused;
    if (!paused)
        api_call_notify(call, API_NOTIFY_RESUME);
}

const char *api_call_transport(const struct api_call *call)
{
    return call->wire == API_WIRE_GRPC ? "grpc" : "connect";
}

const char *api_call_peer(const struct api_call *call)
{
    return call->peer;
}

uint64_t api_call_timeout_ms(const struct api_call *call)
{
    if (call->deadline_ms == 0)
        return 0;
    uint64_t now = api_now_ms();
    return call->deadline_ms > now ? call->deadline_ms - now : 1;
}

int api_call_is_abandoned(const struct api_call *call)
{
    return call->abandoned;
}

/* ------------------------------------------------------------------ timeouts */

int api_parse_connect_timeout(const char *value, uint64_t *ms)
{
    size_t n = strlen(value);
    if (n == 0 || n > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(value[i] - '0');
    }
    *ms = v == 0 ? 1 : v;
    return 0;
}

int api_parse_grpc_timeout(const char *value, uint64_t *ms)
{
    size_t n = strlen(value);
    if (n < 2 || n > 9)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(value[i] - '0');
    }
    uint64_t r;
    switch (value[n - 1]) {
    case 'H':
        r = v * 3600000;
        break;
    case 'M':
        r = v * 60000;
        break;
    case 'S':
        r = v * 1000;
        break;
    case 'm':
        r = v;
        break;
    case 'u':
        r = (v + 999) / 1000;
        break;
    case 'n':
        r = (v + 999999) / 1000000;
        break;
    default:
        return -1;
    }
    *ms = r == 0 ? 1 : r;
    return 0;
}
