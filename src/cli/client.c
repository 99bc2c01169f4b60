#include "cli/client.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/util.h>

#include "api/api.h"
#include "common/cleanup.h"
#include "common/paths.h"
#include "common/text.h"
#include "http/http.h"

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
    struct evutil_addrinfo *res = NULL;
    if (http_resolve_host(host, colon + 1, &res, err) < 0)
        return error_prefix(err, "address %s", t->addr);
    int fd = -1;
    for (struct evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    evutil_freeaddrinfo(res);
    if (fd < 0)
        return error_set(err, ERR_UNAVAILABLE,
                         "cannot reach the daemon at %s (start it with 'enclave up')", t->addr);
    return fd;
}

/* The connection's name in errors. */
static const char *target_name(const struct client_target *t)
{
    return t->socket_path ? t->socket_path : t->addr;
}

/* One request to the daemon through the HTTP client's blocking face. The
 * body comes from memory (body, body_len) or from in_fd (in_len bytes, or
 * chunked to EOF when in_len < 0). A 200's body goes to sink when there is
 * one; any other answer's body into *out. Host names the address dialled:
 * the daemon refuses any other (DNS rebinding); the Unix socket needs
 * neither it nor a token. */
static int roundtrip(const struct client_target *t, const char *method, const char *path,
                     const char *content_type, const char *body, size_t body_len, int in_fd,
                     long long in_len, unsigned timeout_s, http_body_fn sink, void *sink_ctx,
                     char **out, int *status, char *token_where, size_t token_where_size,
                     struct error *err)
{
    cleanup_close int fd = dial(t, err);
    if (fd < 0)
        return -1;
    cleanup_free char *url = NULL;
    if (asprintf(&url, "http://%s%s", t->socket_path ? "localhost" : t->addr, path) < 0) {
        url = NULL;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    char type[128], protocol[] = "Connect-Protocol-Version: 1", deadline[64];
    char auth[API_TOKEN_MAX + 64] = "";
    snprintf(type, sizeof(type), "Content-Type: %s", content_type);
    snprintf(deadline, sizeof(deadline), "Connect-Timeout-Ms: %u", timeout_s * 1000);
    const char *headers[4] = {type, protocol, deadline, auth};
    size_t header_count = 3;
    if (t->socket_path == NULL) {
        char token[API_TOKEN_MAX + 1];
        client_token(t, token, sizeof(token), token_where, token_where_size);
        if (token[0] != '\0') {
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
            header_count = 4;
        }
        OPENSSL_cleanse(token, sizeof(token));
    }
    struct http_request req = {
        .method = method,
        .url = url,
        .headers = headers,
        .header_count = header_count,
        .body = body,
        .body_len = body_len,
        .body_fd = in_fd,
        .body_fd_len = in_len < 0 ? 0 : (uint64_t)in_len,
        .body_fd_chunked = in_fd >= 0 && in_len < 0,
        .max_body = CLIENT_MAX_RESPONSE,
        .max_error_body = CLIENT_MAX_RESPONSE,
        .on_body = sink,
        .ctx = sink_ctx,
        /* an Exec stream may stay quiet as long as its command does */
        .timeout_ms = HTTP_NO_TIMEOUT,
        .deadline_ms = http_now_ms() + (uint64_t)timeout_s * 1000 + 30000,
        .cancel = &client_interrupted,
    };
    struct http_response resp;
    int rc = http_fd_run(fd, &req, &resp, err);
    OPENSSL_cleanse(auth, sizeof(auth));
    if (rc < 0) {
        http_response_release(&resp);
        if (err->kind != ERR_CANCELED)
            error_prefix(err, "the daemon at %s", target_name(t));
        return -1;
    }
    *status = resp.status;
    *out = resp.body ? resp.body : strdup("");
    resp.body = NULL;
    http_response_release(&resp);
    if (*out == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

int client_put_fd(const struct client_target *t, const char *path, int in_fd, long long length,
                  unsigned timeout_s, char **out, int *status, struct error *err)
{
    char where[4200] = "";
    return roundtrip(t, "PUT", path, "application/octet-stream", NULL, 0, in_fd, length, timeout_s,
                     NULL, NULL, out, status, where, sizeof(where), err);
}

int client_get_stream(const struct client_target *t, const char *path, unsigned timeout_s,
                      http_body_fn sink, void *ctx, char **out, int *status, struct error *err)
{
    char where[4200] = "";
    return roundtrip(t, "GET", path, "application/json", NULL, 0, -1, 0, timeout_s, sink, ctx, out,
                     status, where, sizeof(where), err);
}

/* A 401: say which token was sent, and from where. */
static void token_hint(const struct client_target *t, const char *where, struct error *err)
{
    error_prefix(err, "the daemon at %s refused the token from %s (is it the daemon of this "
                      "ENCLAVE_HOME? 'enclave token' prints the token)",
                 t->addr, where[0] ? where : "nowhere");
}

/* A Connect error as err (client.h); the message is escaped for the terminal. */
int client_connect_error(const json_t *error, const char *fallback, struct error *err)
{
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *msg = json_string_value(json_object_get(error, "message"));
    char safe_code[64], safe_msg[sizeof(err->message)];
    text_escape_terminal_copy(safe_code, sizeof(safe_code), code ? code : fallback);
    /* Cut the message itself, between escapes, so that "code: message" fits. */
    text_escape_terminal_copy(safe_msg, sizeof(safe_msg) - strlen(safe_code) - 2, msg ? msg : "");
    return error_set(err, code ? error_kind_from_connect_name(code) : ERR_UNKNOWN, "%s%s%s",
                     safe_code, msg ? ": " : "", safe_msg);
}

/* A refusal: the daemon's error body as err, with a hint on 401. */
static int refused(const struct client_target *t, int status, const char *text, const char *where,
                   struct error *err)
{
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    client_connect_error(doc, "HTTP error", err);
    if (status == 401)
        token_hint(t, where, err);
    json_decref(doc);
    return -1;
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
    if (roundtrip(t, "POST", path, "application/json", body, strlen(body), -1, 0, timeout_s, NULL,
                  NULL, &text, &status, where, sizeof(where), err) < 0)
        return -1;
    if (status != 200)
        return refused(t, status, text, where, err);
    json_t *doc = json_loads(text, 0, NULL);
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
    if (roundtrip(t, "PUT", path, "application/octet-stream", body, len, -1, 0, timeout_s, NULL, NULL,
                  &text, &status, where, sizeof(where), err) < 0)
        return -1;
    if (status < 200 || status > 299)
        return refused(t, status, text, where, err);
    json_t *doc = json_loads(text, 0, NULL);
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

static int stream_messages(struct stream_state *s, const char *data, size_t len)
{
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
                client_connect_error(e, "error", s->err);
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

static int stream_sink(void *arg, const char *data, size_t len, struct error *err)
{
    struct stream_state *s = arg;
    if (stream_messages(s, data, len) < 0) {
        if (!s->failed)
            error_set(err, ERR_INTERNAL, "the daemon's stream is malformed");
        return -1;
    }
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
                       -1, 0, timeout_s, stream_sink, &s, &text, &status, where, sizeof(where), err);
    free(s.buf);
    if (s.failed)
        return -1;
    if (rc < 0)
        return -1;
    if (status != 200) {
        /* Refused before the stream started (e.g. 415, or a Connect error body). */
        return refused(t, status, text, where, err);
    }
    if (!s.ended)
        return error_set(err, ERR_UNAVAILABLE, "the stream ended without a status");
    return 0;
}
