#include "cli/client.h"

#include <errno.h>
#include <http_parser.h>
#include <openssl/crypto.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "common/cleanup.h"
#include "common/paths.h"

#define CLIENT_MAX_RESPONSE (64u << 20)

static volatile sig_atomic_t client_interrupted;

void client_interrupt(void)
{
    client_interrupted = 1;
}

void client_clear_interrupt(void)
{
    client_interrupted = 0;
}

void client_target_default(struct client_target *t)
{
    t->addr = getenv("ENCLAVE_ADDR");
    if (t->addr == NULL || t->addr[0] == '\0')
        t->addr = "127.0.0.1:7339";
    t->socket_path = getenv("ENCLAVE_SOCKET");
    if (t->socket_path && t->socket_path[0] == '\0')
        t->socket_path = NULL;
    t->operator = false;
}

/* The token for a TCP request (see struct client_target); "" when none can be
 * read: the daemon then answers unauthenticated, and the error says where the
 * token was looked for. */
static void client_token(const struct client_target *t, char *out, size_t size, char *where,
                         size_t where_size)
{
    out[0] = '\0';
    const char *env = getenv("ENCLAVE_TOKEN");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, size, "%s", env);
        snprintf(where, where_size, "$ENCLAVE_TOKEN");
        return;
    }
    char path[4200];
    struct error err;
    if (t->operator && paths_home(path, sizeof(path), "run/operator-token", &err) == 0 &&
        api_token_read(path, out, size, &err) == 0) {
        snprintf(where, where_size, "%s", path);
        return;
    }
    if (paths_home(path, sizeof(path), "run/api-token", &err) < 0)
        return;
    snprintf(where, where_size, "%s", path);
    if (api_token_read(path, out, size, &err) < 0)
        out[0] = '\0';
}

static int dial(const struct client_target *t, struct error *err)
{
    if (t->socket_path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(t->socket_path) >= sizeof(sa.sun_path))
            return error_set(err, ERR_INVALID_ARGUMENT, "socket path too long");
        strcpy(sa.sun_path, t->socket_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return error_set_errno(err, ERR_INTERNAL, "socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            error_set_errno(err, ERR_UNAVAILABLE,
                            "cannot reach the daemon at %s (is 'enclave up --socket %s' running?)",
                            t->socket_path, t->socket_path);
            close(fd);
            return -1;
        }
        return fd;
    }
    char host[256];
    const char *colon = strrchr(t->addr, ':');
    if (colon == NULL || (size_t)(colon - t->addr) >= sizeof(host))
        return error_set(err, ERR_INVALID_ARGUMENT, "address must be HOST:PORT, not '%s'", t->addr);
    memcpy(host, t->addr, (size_t)(colon - t->addr));
    host[colon - t->addr] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host, colon + 1, &hints, &res);
    if (g != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "address %s: %s", t->addr, gai_strerror(g));
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return error_set(err, ERR_UNAVAILABLE,
                         "cannot reach the daemon at %s (start it with 'enclave up')", t->addr);
    return fd;
}

struct response {
    int complete;
    char *body;
    size_t len;
    size_t cap;
    int too_big;
    /* Streaming: the body goes here as it arrives instead of into body. */
    client_sink_fn sink;
    void *sink_ctx;
    int sink_failed;
};

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct response *r = p->data;
    if (r->sink != NULL && p->status_code == 200) {
        if (r->sink(r->sink_ctx, at, len) < 0) {
            r->sink_failed = 1;
            return 1;
        }
        return 0;
    }
    if (r->len + len > CLIENT_MAX_RESPONSE) {
        r->too_big = 1;
        return 1;
    }
    if (r->len + len + 1 > r->cap) {
        size_t ncap = (r->len + len + 1) * 2;
        char *nb = realloc(r->body, ncap);
        if (nb == NULL)
            return 1;
        r->body = nb;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, at, len);
    r->len += len;
    r->body[r->len] = '\0';
    return 0;
}

static int on_complete(http_parser *p)
{
    ((struct response *)p->data)->complete = 1;
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request line and headers, the same for every request. body_len < 0:
 * the body is sent chunked. Host names the address dialled: the daemon
 * refuses any other (DNS rebinding); the Unix socket needs neither it nor a
 * token. Returns the length, or -1 when it does not fit. */
static int format_head(const struct client_target *t, char *head, size_t size, const char *method,
                       const char *path, const char *content_type, long long body_len, unsigned timeout_s,
                       char *token_where, size_t token_where_size)
{
    char auth[API_TOKEN_MAX + 64] = "";
    if (t->socket_path == NULL) {
        char token[API_TOKEN_MAX + 1];
        client_token(t, token, sizeof(token), token_where, token_where_size);
        if (token[0] != '\0')
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
        OPENSSL_cleanse(token, sizeof(token));
    }
    char length[64];
    if (body_len < 0)
        snprintf(length, sizeof(length), "Transfer-Encoding: chunked");
    else
        snprintf(length, sizeof(length), "Content-Length: %lld", body_len);
    int hl = snprintf(head, size,
                      "%s %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n"
                      "Content-Type: %s\r\nConnect-Protocol-Version: 1\r\n"
                      "Connect-Timeout-Ms: %u\r\n%s\r\n\r\n",
                      method, path, t->socket_path ? "localhost" : t->addr, auth, content_type,
                      timeout_s * 1000, length);
    OPENSSL_cleanse(auth, sizeof(auth));
    if (hl < 0 || (size_t)hl >= size)
        return -1;
    return hl;
}

static int send_all(int fd, const void *data, size_t len, struct error *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return error_set_errno(err, ERR_UNAVAILABLE, "sending to the daemon");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_response(int fd, unsigned timeout_s, client_sink_fn sink, void *sink_ctx, char **out,
                         int *status, struct error *err);

/* Sends one request and reads the whole response (into *out, or, for a 200
 * with a sink, into the sink as it arrives). */
static int roundtrip(const struct client_target *t, const char *method, const char *path,
                     const char *content_type, const char *body, size_t body_len,
                     unsigned timeout_s, client_sink_fn sink, void *sink_ctx, char **out,
                     int *status, char *token_where, size_t token_where_size, struct error *err)
{
    cleanup_close int fd = dial(t, err);
    if (fd < 0)
        return -1;
    char head[1400];
    int hl = format_head(t, head, sizeof(head), method, path, content_type, (long long)body_len, timeout_s,
                         token_where, token_where_size);
    if (hl < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "request path too long");
    if (send_all(fd, head, (size_t)hl, err) < 0 || send_all(fd, body, body_len, err) < 0)
        return -1;
    return read_response(fd, timeout_s, sink, sink_ctx, out, status, err);
}

static int read_response(int fd, unsigned timeout_s, client_sink_fn sink, void *sink_ctx, char **out,
                         int *status, struct error *err)
{
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    struct response r = {.sink = sink, .sink_ctx = sink_ctx};
    parser.data = &r;
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_body = on_body;
    settings.on_message_complete = on_complete;
    long long deadline = now_ms() + (long long)timeout_s * 1000 + 30000;
    char buf[65536];
    while (!r.complete) {
        if (client_interrupted) {
            free(r.body);
            return error_set(err, ERR_CANCELED, "interrupted");
        }
        long long left = deadline - now_ms();
        if (left <= 0) {
            free(r.body);
            return error_set(err, ERR_DEADLINE_EXCEEDED, "the daemon did not answer in time");
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (pr < 0 && errno != EINTR) {
            free(r.body);
            return error_set_errno(err, ERR_INTERNAL, "poll");
        }
        if (pr <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            free(r.body);
            return error_set_errno(err, ERR_UNAVAILABLE, "reading from the daemon");
        }
        size_t parsed = http_parser_execute(&parser, &settings, buf, (size_t)n);
        if (r.sink_failed) {
            free(r.body);
            return error_set(err, ERR_INTERNAL, "the daemon's stream is malformed");
        }
        if (r.too_big) {
            free(r.body);
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "the daemon's answer is too large");
        }
        if (parsed != (size_t)n || HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
            free(r.body);
            return error_set(err, ERR_INTERNAL, "bad HTTP from the daemon: %s",
                             http_errno_description(HTTP_PARSER_ERRNO(&parser)));
        }
        if (n == 0) {
            if (!r.complete)
                http_parser_execute(&parser, &settings, NULL, 0);
            if (!r.complete) {
                free(r.body);
                return error_set(err, ERR_UNAVAILABLE, "the daemon closed the connection early");
            }
        }
    }
    *status = parser.status_code;
    if (r.body == NULL) {
        r.body = strdup("");
        if (r.body == NULL)
            return error_set(err, ERR_INTERNAL, "out of memory");
    }
    *out = r.body;
    return 0;
}

int client_put_fd(const struct client_target *t, const char *path, int in_fd, long long length,
                  unsigned timeout_s, char **out, int *status, struct error *err)
{
    cleanup_close int fd = dial(t, err);
    if (fd < 0)
        return -1;
    char head[1400], where[4200] = "";
    int hl = format_head(t, head, sizeof(head), "PUT", path, "application/octet-stream", length, timeout_s, where,
                         sizeof(where));
    if (hl < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "request path too long");
    if (send_all(fd, head, (size_t)hl, err) < 0)
        return -1;
    static char buf[1 << 16];
    long long sent = 0;
    bool refused = false; /* the daemon answered early and stopped reading */
    for (;;) {
        if (client_interrupted)
            return error_set(err, ERR_CANCELED, "interrupted");
        ssize_t n = read(in_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_set_errno(err, ERR_INTERNAL, "reading the input");
        if (length >= 0 && (n == 0 ? sent != length : sent + n > length))
            return error_set(err, ERR_ABORTED, "the input changed size while it was sent");
        if (length < 0) {
            char size[32];
            int sl = snprintf(size, sizeof(size), "%zx\r\n", (size_t)n);
            if (send_all(fd, size, (size_t)sl, err) < 0 || send_all(fd, buf, (size_t)n, err) < 0 ||
                send_all(fd, "\r\n", 2, err) < 0) {
                refused = true;
                break;
            }
        } else if (n > 0 && send_all(fd, buf, (size_t)n, err) < 0) {
            refused = true;
            break;
        }
        sent += n;
        if (n == 0)
            break;
    }
    (void)refused; /* the answer says why */
    return read_response(fd, timeout_s, NULL, NULL, out, status, err);
}

int client_get_stream(const struct client_target *t, const char *path, unsigned timeout_s,
                      client_sink_fn sink, void *ctx, char **out, int *status, struct error *err)
{
    char where[4200] = "";
    return roundtrip(t, "GET", path, "application/json", "", 0, timeout_s, sink, ctx, out, status, where,
                     sizeof(where), err);
}

int client_get(const struct client_target *t, const char *path, unsigned timeout_s, char **out,
               int *status, struct error *err)
{
    char where[4200] = "";
    return roundtrip(t, "GET", path, "application/json", "", 0, timeout_s, NULL, NULL, out, status,
                     where, sizeof(where), err);
}

/* A 401: say which token was sent, and from where. */
static void token_hint(const struct client_target *t, const char *where, struct error *err)
{
    error_prefix(err, "the daemon at %s refused the token from %s (is it the daemon of this "
                      "ENCLAVE_HOME? 'enclave token' prints the token)",
                 t->addr, where[0] ? where : "nowhere");
}

int client_call(const struct client_target *t, const char *service, const char *method,
                json_t *req, unsigned timeout_s, json_t **resp, struct error *err)
{
    char path[256];
    snprintf(path, sizeof(path), "/%s/%s", service, method);
    cleanup_free char *body = json_dumps(req, JSON_COMPACT);
    if (body == NULL)
        return error_set(err, ERR_INTERNAL, "cannot encode the request");
    cleanup_free char *text = NULL;
    int status = 0;
    char where[4200] = "";
    if (roundtrip(t, "POST", path, "application/json", body, strlen(body), timeout_s, NULL, NULL,
                  &text, &status, where, sizeof(where), err) < 0)
        return -1;
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (status != 200) {
        const char *code = doc ? json_string_value(json_object_get(doc, "code")) : NULL;
        const char *msg = doc ? json_string_value(json_object_get(doc, "message")) : NULL;
        error_set(err, code ? error_kind_from_connect_name(code) : ERR_UNKNOWN, "%s%s%s",
                  code ? code : "HTTP error", msg ? ": " : "", msg ? msg : "");
        if (status == 401)
            token_hint(t, where, err);
        json_decref(doc);
        return -1;
    }
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return error_set(err, ERR_INTERNAL, "the daemon's answer is not a JSON object");
    }
    *resp = doc;
    return 0;
}

int client_put(const struct client_target *t, const char *path, const void *body, size_t len,
               unsigned timeout_s, json_t **resp, struct error *err)
{
    cleanup_free char *text = NULL;
    int status = 0;
    char where[4200] = "";
    if (roundtrip(t, "PUT", path, "application/octet-stream", body, len, timeout_s, NULL, NULL, &text,
                  &status, where, sizeof(where), err) < 0)
        return -1;
    json_t *doc = json_loads(text, 0, NULL);
    if (status < 200 || status > 299) {
        const char *code = doc ? json_string_value(json_object_get(doc, "code")) : NULL;
        const char *msg = doc ? json_string_value(json_object_get(doc, "message")) : NULL;
        error_set(err, code ? error_kind_from_connect_name(code) : ERR_UNKNOWN, "%s%s%s",
                  code ? code : "HTTP error", msg ? ": " : "", msg ? msg : "");
        if (status == 401)
            token_hint(t, where, err);
        json_decref(doc);
        return -1;
    }
    *resp = doc ? doc : json_object();
    return 0;
}

/* Connect server streaming: the body is enveloped messages, the last one
 * flagged end-of-stream with the status. */
struct stream_state {
    client_message_fn on_message;
    void *ctx;
    char *buf;
    size_t len, cap;
    int ended;
    struct error *err;
    int failed; /* err is set: a Connect error or a bad stream */
};

static int stream_sink(void *arg, const char *data, size_t len)
{
    struct stream_state *s = arg;
    if (s->ended)
        return -1; /* bytes after the end of the stream */
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->len + len)
            cap *= 2;
        if (cap > CLIENT_MAX_RESPONSE + 16)
            return -1;
        char *nb = realloc(s->buf, cap);
        if (nb == NULL)
            return -1;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    size_t off = 0;
    for (;;) {
        uint8_t flags;
        const uint8_t *payload;
        size_t plen;
        int n = api_envelope_decode((const uint8_t *)s->buf + off, s->len - off,
                                    API_ENVELOPE_END_STREAM, CLIENT_MAX_RESPONSE, &flags, &payload,
                                    &plen);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        off += (size_t)n;
        json_error_t jerr;
        json_t *doc = json_loadb((const char *)payload, plen, 0, &jerr);
        if (!json_is_object(doc)) {
            json_decref(doc);
            return -1;
        }
        if (flags & API_ENVELOPE_END_STREAM) {
            s->ended = 1;
            json_t *e = json_object_get(doc, "error");
            if (e != NULL) {
                const char *code = json_string_value(json_object_get(e, "code"));
                const char *msg = json_string_value(json_object_get(e, "message"));
                error_set(s->err, code ? error_kind_from_connect_name(code) : ERR_UNKNOWN,
                          "%s%s%s", code ? code : "error", msg ? ": " : "", msg ? msg : "");
                s->failed = 1;
            }
            json_decref(doc);
            break;
        }
        int rc = s->on_message(doc, s->ctx);
        json_decref(doc);
        if (rc < 0)
            return -1;
    }
    memmove(s->buf, s->buf + off, s->len - off);
    s->len -= off;
    return 0;
}

int client_stream(const struct client_target *t, const char *service, const char *method,
                  json_t *req, unsigned timeout_s, client_message_fn on_message, void *ctx,
                  struct error *err)
{
    char path[256];
    snprintf(path, sizeof(path), "/%s/%s", service, method);
    cleanup_free char *json = json_dumps(req, JSON_COMPACT);
    if (json == NULL)
        return error_set(err, ERR_INTERNAL, "cannot encode the request");
    size_t jlen = strlen(json);
    cleanup_free char *body = malloc(API_ENVELOPE_PREFIX + jlen);
    if (body == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    api_envelope_prefix((uint8_t *)body, 0, (uint32_t)jlen);
    memcpy(body + API_ENVELOPE_PREFIX, json, jlen);
    struct stream_state s = {.on_message = on_message, .ctx = ctx, .err = err};
    cleanup_free char *text = NULL;
    int status = 0;
    char where[4200] = "";
    int rc = roundtrip(t, "POST", path, "application/connect+json", body, API_ENVELOPE_PREFIX + jlen,
                       timeout_s, stream_sink, &s, &text, &status, where, sizeof(where), err);
    free(s.buf);
    if (s.failed)
        return -1;
    if (rc < 0)
        return -1;
    if (status != 200) {
        /* Refused before the stream started (e.g. 415, or a Connect error body). */
        json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
        const char *code = doc ? json_string_value(json_object_get(doc, "code")) : NULL;
        const char *msg = doc ? json_string_value(json_object_get(doc, "message")) : NULL;
        error_set(err, code ? error_kind_from_connect_name(code) : ERR_UNKNOWN, "%s%s%s",
                  code ? code : "HTTP error", msg ? ": " : "", msg ? msg : "");
        if (status == 401)
            token_hint(t, where, err);
        json_decref(doc);
        return -1;
    }
    if (!s.ended)
        return error_set(err, ERR_UNAVAILABLE, "the stream ended without a status");
    return 0;
}
