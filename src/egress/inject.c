/* Secrets in plain-HTTP requests (egress.h, "secrets in requests"): the
 * guest's bytes of one stream parsed with http-parser, checked against what
 * was decided, the head rebuilt with the secret's header, the body passed on
 * as it came.
 *
 * The parser runs incrementally over a buffer that holds the head so far;
 * spans are offsets into it. It is paused right after the head (so its end
 * is known exactly) and after the message (so what comes after is seen). */
#include <event2/buffer.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "egress/egress.h"

#define MAX_HEADERS 100

struct span {
    size_t off, len;
};

enum inject_state { IN_HEAD, IN_BODY, IN_DONE, IN_FAILED };

struct egress_inject {
    http_parser parser;
    enum inject_state state;
    char host[EGRESS_MAX_HOST + 1];
    unsigned port;
    char method[33];
    char *path;
    char *line; /* "Header: value\r\n" (wiped at free) */
    size_t line_len;
    char header[65];
    size_t max_head;
    /* the head so far */
    uint8_t *buf;
    size_t len, cap, parsed;
    const uint8_t *base; /* the buffer the parser runs over now */
    struct span url;
    struct span names[MAX_HEADERS], values[MAX_HEADERS];
    size_t n_headers;
    int last; /* 0 none, 1 a name, 2 a value was the last callback */
    bool too_many, headers_done, message_done;
    unsigned injected;
};

static void span_add(struct egress_inject *in, struct span *sp, const char *at, size_t len, bool continued)
{
    size_t off = (size_t)((const uint8_t *)at - in->base);
    if (continued)
        sp->len = off + len - sp->off;
    else
        *sp = (struct span){off, len};
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct egress_inject *in = p->data;
    if (!in->headers_done)
        span_add(in, &in->url, at, len, in->url.len > 0);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct egress_inject *in = p->data;
    if (in->headers_done)
        return 0; /* trailers of a chunked body: passed on as they are */
    if (in->last == 1) {
        span_add(in, &in->names[in->n_headers - 1], at, len, true);
        return 0;
    }
    if (in->n_headers >= MAX_HEADERS) {
        in->too_many = true;
        return -1;
    }
    span_add(in, &in->names[in->n_headers], at, len, false);
    in->values[in->n_headers] = (struct span){0, 0};
    in->n_headers++;
    in->last = 1;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct egress_inject *in = p->data;
    if (in->headers_done || in->n_headers == 0)
        return 0;
    span_add(in, &in->values[in->n_headers - 1], at, len, in->last == 2);
    in->last = 2;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct egress_inject *in = p->data;
    in->headers_done = true;
    http_parser_pause(p, 1);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct egress_inject *in = p->data;
    in->message_done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

static size_t run(struct egress_inject *in, const uint8_t *base, const uint8_t *data, size_t len)
{
    in->base = base;
    if (HTTP_PARSER_ERRNO(&in->parser) == HPE_PAUSED)
        http_parser_pause(&in->parser, 0);
    return http_parser_execute(&in->parser, &settings, (const char *)data, len);
}

char *egress_secret_value(const char *format, const char *secret)
{
    const char *at = format ? strstr(format, "%s") : NULL;
    if (at == NULL || secret == NULL)
        return NULL;
    size_t pre = (size_t)(at - format), post = strlen(at + 2), n = strlen(secret);
    char *v = malloc(pre + n + post + 1);
    if (v == NULL)
        return NULL;
    memcpy(v, format, pre);
    memcpy(v + pre, secret, n);
    memcpy(v + pre + n, at + 2, post + 1);
    return v;
}

int egress_inject_new(const char *host, unsigned port, const char *method, const char *path,
                      const char *header, const char *value, size_t max_head, struct egress_inject **out,
                      struct error *err)
{
    *out = NULL;
    if ((method == NULL) != (path == NULL))
        return error_set(err, ERR_INVALID_ARGUMENT, "secret injection: a method needs a path");
    if (!host || !header || !value || strlen(host) > EGRESS_MAX_HOST ||
        (method && strlen(method) >= sizeof(((struct egress_inject *)0)->method)) ||
        strlen(header) >= sizeof(((struct egress_inject *)0)->header))
        return error_set(err, ERR_INVALID_ARGUMENT, "secret injection: bad arguments");
    struct egress_inject *in = calloc(1, sizeof(*in));
    if (in == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    http_parser_init(&in->parser, HTTP_REQUEST);
    in->parser.data = in;
    snprintf(in->host, sizeof(in->host), "%s", host);
    in->port = port;
    snprintf(in->method, sizeof(in->method), "%s", method ? method : "");
    snprintf(in->header, sizeof(in->header), "%s", header);
    in->max_head = max_head ? max_head : EGRESS_DEFAULT_MAX_HEADER_BYTES;
    in->path = strdup(path ? path : "");
    in->line_len = strlen(header) + 2 + strlen(value) + 2;
    in->line = malloc(in->line_len + 1);
    if (in->path == NULL || in->line == NULL) {
        egress_inject_free(in);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    snprintf(in->line, in->line_len + 1, "%s: %s\r\n", header, value);
    *out = in;
    return 0;
}

void egress_inject_free(struct egress_inject *in)
{
    if (in == NULL)
        return;
    if (in->line != NULL) {
        OPENSSL_cleanse(in->line, in->line_len);
        free(in->line);
    }
    free(in->path);
    free(in->buf);
    free(in);
}

unsigned egress_inject_count(const struct egress_inject *in)
{
    return in ? in->injected : 0;
}

const char *egress_inject_method(const struct egress_inject *in)
{
    return in ? in->method : "";
}

/* ------------------------------------------------------------ the head */

static bool span_is(const struct egress_inject *in, struct span sp, const char *text)
{
    size_t n = strlen(text);
    return sp.len == n && strncasecmp((const char *)in->buf + sp.off, text, n) == 0;
}

static bool span_eq_exact(const struct egress_inject *in, struct span sp, const char *text)
{
    size_t n = strlen(text);
    return sp.len == n && memcmp(in->buf + sp.off, text, n) == 0;
}

/* The Host header must name the decided host: "host", "host:port",
 * "[v6]", "[v6]:port". */
static bool host_matches(const struct egress_inject *in, struct span v)
{
    char want[EGRESS_MAX_HOST + 16];
    bool v6 = strchr(in->host, ':') != NULL;
    if (v6)
        snprintf(want, sizeof(want), "[%s]", in->host);
    else
        snprintf(want, sizeof(want), "%s", in->host);
    if (span_is(in, v, want))
        return true;
    size_t n = strlen(want);
    snprintf(want + n, sizeof(want) - n, ":%u", in->port);
    return span_is(in, v, want);
}

/* Headers that never go out of an injected request as the guest sent them. */
static bool dropped(const struct egress_inject *in, struct span name)
{
    static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                                      "te", "upgrade"};
    if (span_is(in, name, in->header))
        return true;
    for (size_t i = 0; i < sizeof(hop) / sizeof(*hop); i++)
        if (span_is(in, name, hop[i]))
            return true;
    return false;
}

/* Checks the complete head against the decision and writes the new one. */
static int emit_head(struct egress_inject *in, struct evbuffer *out, struct error *err)
{
    http_parser *p = &in->parser;
    if (p->method == HTTP_CONNECT || p->upgrade)
        return error_set(err, ERR_INVALID_ARGUMENT, "a request that carries a secret cannot be CONNECT or an upgrade");
    const char *method = http_method_str((enum http_method)p->method);
    if (in->method[0] == '\0') {
        /* Inside TLS the decision saw no method or path: any origin-form
         * request of a plain method. */
        if (in->url.len == 0 || in->buf[in->url.off] != '/' || in->url.len > 8192 || strlen(method) > 32)
            return error_set(err, ERR_INVALID_ARGUMENT, "the request's target is not an origin-form path");
        snprintf(in->method, sizeof(in->method), "%s", method);
        free(in->path);
        in->path = strndup((const char *)in->buf + in->url.off, in->url.len);
        if (in->path == NULL)
            return error_set(err, ERR_INTERNAL, "out of memory");
        if (strlen(in->path) != in->url.len || strpbrk(in->path, " \t\r\n") != NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "the request's target is not an origin-form path");
    } else if (strcmp(method, in->method) != 0) {
        return error_set(err, ERR_INVALID_ARGUMENT, "the request's method is not the one decided");
    } else if (!span_eq_exact(in, in->url, in->path)) {
        return error_set(err, ERR_INVALID_ARGUMENT, "the request's target is not the path decided");
    }
    if (p->http_major != 1 || p->http_minor > 1)
        return error_set(err, ERR_INVALID_ARGUMENT, "the request is not HTTP/1.0 or HTTP/1.1");
    unsigned hosts = 0;
    for (size_t i = 0; i < in->n_headers; i++) {
        const uint8_t *v = in->buf + in->values[i].off;
        if (memchr(v, '\r', in->values[i].len) || memchr(v, '\n', in->values[i].len))
            return error_set(err, ERR_INVALID_ARGUMENT, "a request that carries a secret cannot have folded header lines");
        if (span_is(in, in->names[i], "host")) {
            hosts++;
            if (!host_matches(in, in->values[i]))
                return error_set(err, ERR_INVALID_ARGUMENT, "the request's Host header is not the host decided");
        }
    }
    if (hosts != 1)
        return error_set(err, ERR_INVALID_ARGUMENT, "a request that carries a secret needs exactly one Host header");
    struct evbuffer *head = evbuffer_new();
    if (head == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    int rc = evbuffer_add_printf(head, "%s %s HTTP/%u.%u\r\n", in->method, in->path, p->http_major, p->http_minor);
    for (size_t i = 0; i < in->n_headers && rc >= 0; i++) {
        if (dropped(in, in->names[i]))
            continue;
        rc = evbuffer_add(head, in->buf + in->names[i].off, in->names[i].len) < 0 ||
                     evbuffer_add(head, ": ", 2) < 0 ||
                     evbuffer_add(head, in->buf + in->values[i].off, in->values[i].len) < 0 ||
                     evbuffer_add(head, "\r\n", 2) < 0
                 ? -1
                 : 0;
    }
    if (rc >= 0)
        rc = evbuffer_add(head, in->line, in->line_len);
    if (rc >= 0)
        rc = evbuffer_add(head, "Connection: close\r\n\r\n", 21);
    if (rc < 0 || evbuffer_add_buffer(out, head) < 0) {
        evbuffer_free(head);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    evbuffer_free(head);
    in->injected++;
    return 0;
}

/* Body bytes data[0, len): passes on what belongs to the request. */
static int feed_body(struct egress_inject *in, const uint8_t *data, size_t len, struct evbuffer *out,
                     struct error *err)
{
    if (len == 0)
        return 0;
    if (in->message_done) {
        in->state = IN_FAILED;
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "bytes after the request: a connection that carries a secret takes one request");
    }
    size_t n = run(in, data, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&in->parser);
    if (e != HPE_OK && e != HPE_PAUSED) {
        in->state = IN_FAILED;
        return error_set(err, ERR_INVALID_ARGUMENT, "malformed request body (%s)", http_errno_name(e));
    }
    if (n > 0 && evbuffer_add(out, data, n) < 0) {
        in->state = IN_FAILED;
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    if (in->message_done)
        in->state = IN_DONE;
    if (n < len) {
        in->state = IN_FAILED;
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "bytes after the request: a connection that carries a secret takes one request");
    }
    return 0;
}

int egress_inject_feed(struct egress_inject *in, const uint8_t *data, size_t len, struct evbuffer *out,
                       struct error *err)
{
    if (in->state == IN_FAILED)
        return error_set(err, ERR_INVALID_ARGUMENT, "the request was refused already");
    if (len == 0)
        return 0;
    if (in->state == IN_DONE) {
        in->state = IN_FAILED;
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "bytes after the request: a connection that carries a secret takes one request");
    }
    if (in->state == IN_BODY)
        return feed_body(in, data, len, out, err);
    /* The head: what fits goes into the buffer, then the parser runs on it. */
    size_t room = in->max_head - in->len;
    size_t take = len < room ? len : room;
    if (in->len + take > in->cap) {
        size_t cap = in->cap ? in->cap : 4096;
        while (cap < in->len + take)
            cap *= 2;
        if (cap > in->max_head)
            cap = in->max_head;
        uint8_t *nb = realloc(in->buf, cap);
        if (nb == NULL) {
            in->state = IN_FAILED;
            return error_set(err, ERR_INTERNAL, "out of memory");
        }
        in->buf = nb;
        in->cap = cap;
    }
    memcpy(in->buf + in->len, data, take);
    in->len += take;
    size_t n = run(in, in->buf, in->buf + in->parsed, in->len - in->parsed);
    enum http_errno e = HTTP_PARSER_ERRNO(&in->parser);
    if (in->too_many) {
        in->state = IN_FAILED;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "more than %d header lines", MAX_HEADERS);
    }
    if (e == HPE_PAUSED && in->headers_done) {
        /* Paused on the head's last LF, which the parser has not taken. */
        size_t pos = in->parsed + n;
        if (pos >= in->len || in->buf[pos] != '\n') {
            in->state = IN_FAILED;
            return error_set(err, ERR_INVALID_ARGUMENT, "malformed request head");
        }
        size_t head_end = pos + 1;
        /* The parser takes the LF again, as the start of what follows. */
        in->parsed = pos;
        if (emit_head(in, out, err) < 0) {
            in->state = IN_FAILED;
            return -1;
        }
        in->state = IN_BODY;
        /* The LF, then the rest of the buffer and of data, through the body parser. */
        size_t k = run(in, in->buf, in->buf + pos, 1);
        e = HTTP_PARSER_ERRNO(&in->parser);
        if ((k != 1 && !(k == 0 && in->message_done)) || (e != HPE_OK && e != HPE_PAUSED)) {
            in->state = IN_FAILED;
            return error_set(err, ERR_INVALID_ARGUMENT, "malformed request head");
        }
        if (in->message_done)
            in->state = IN_DONE;
        int rc = 0;
        if (head_end < in->len) {
            if (in->state == IN_DONE) {
                in->state = IN_FAILED;
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "bytes after the request: a connection that carries a secret takes one request");
            }
            rc = feed_body(in, in->buf + head_end, in->len - head_end, out, err);
        }
        if (rc == 0 && take < len) {
            if (in->state == IN_DONE) {
                in->state = IN_FAILED;
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "bytes after the request: a connection that carries a secret takes one request");
            }
            rc = feed_body(in, data + take, len - take, out, err);
        }
        free(in->buf);
        in->buf = NULL;
        in->len = in->cap = in->parsed = 0;
        return rc;
    }
    if (e != HPE_OK) {
        in->state = IN_FAILED;
        return error_set(err, ERR_INVALID_ARGUMENT, "malformed request head (%s)", http_errno_name(e));
    }
    in->parsed = in->len;
    if (in->len >= in->max_head) {
        in->state = IN_FAILED;
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "the request head is larger than %zu bytes", in->max_head);
    }
    return 0;
}
