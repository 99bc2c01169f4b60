/* The egress proxy's request heads: parsed with http-parser, checked, and
 * for plain HTTP rewritten to origin form. Pure functions over buffers (the
 * proxy itself is egress.c), so the unit tests and the fuzz harness drive
 * them directly.
 *
 * The parser runs incrementally over the bytes read so far; spans are
 * offsets into that buffer (which may move as it grows). It is paused right
 * after the head, so the head's end is known exactly; for plain HTTP it
 * then goes on over the body only to find where the request ends (the bytes
 * are forwarded as they came, chunked or not). */
#include "guest/guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct guest_proxy_head *head_of(http_parser *p)
{
    return p->data;
}

/* Extends the span when the parser hands a field over in pieces. */
static void span_add(struct guest_http_span *sp, struct guest_proxy_head *h, const char *at, size_t len,
                     bool continued)
{
    uint32_t off = (uint32_t)((const uint8_t *)at - h->base);
    if (continued)
        sp->len = off + (uint32_t)len - sp->off;
    else
        *sp = (struct guest_http_span){off, (uint32_t)len};
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct guest_proxy_head *h = head_of(p);
    if (h->headers_done)
        return 0;
    span_add(&h->url, h, at, len, h->url.len > 0);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct guest_proxy_head *h = head_of(p);
    if (h->headers_done)
        return 0; /* trailers of a chunked body: forwarded as they are */
    if (h->last == 1) {
        span_add(&h->names[h->n_headers - 1], h, at, len, true);
        return 0;
    }
    if (h->n_headers >= GUEST_EGRESS_MAX_HEADERS) {
        h->too_many = true;
        return -1;
    }
    span_add(&h->names[h->n_headers], h, at, len, false);
    h->values[h->n_headers] = (struct guest_http_span){0, 0};
    h->n_headers++;
    h->last = 1;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct guest_proxy_head *h = head_of(p);
    if (h->headers_done || h->n_headers == 0)
        return 0;
    span_add(&h->values[h->n_headers - 1], h, at, len, h->last == 2);
    h->last = 2;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct guest_proxy_head *h = head_of(p);
    h->headers_done = true;
    http_parser_pause(p, 1);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct guest_proxy_head *h = head_of(p);
    h->message_done = true;
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

void guest_proxy_head_init(struct guest_proxy_head *h, size_t max_bytes)
{
    memset(h, 0, sizeof(*h));
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    h->max_bytes = max_bytes ? max_bytes : GUEST_EGRESS_DEFAULT_HEADER;
}

/* Runs the parser over data[0, len) (never 0 bytes: that means EOF to it);
 * spans it records are offsets from base. */
static size_t run(struct guest_proxy_head *h, const uint8_t *base, const uint8_t *data, size_t len)
{
    h->base = base;
    if (HTTP_PARSER_ERRNO(&h->parser) == HPE_PAUSED)
        http_parser_pause(&h->parser, 0);
    return http_parser_execute(&h->parser, &settings, (const char *)data, len);
}

int guest_proxy_head_feed(struct guest_proxy_head *h, const uint8_t *buf, size_t len)
{
    if (h->headers_done)
        return 1;
    if (len <= h->parsed)
        return 0;
    size_t n = run(h, buf, buf + h->parsed, len - h->parsed);
    enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);
    if (h->too_many || err == HPE_HEADER_OVERFLOW)
        return 431;
    if (err == HPE_PAUSED && h->headers_done) {
        /* Paused on the head's last LF, which the parser has not taken. */
        size_t pos = h->parsed + n;
        if (pos >= len || buf[pos] != '\n')
            return 400;
        h->head_end = pos + 1;
        if (h->head_end > h->max_bytes)
            return 431;
        h->parsed = pos;
        h->body_end = h->head_end;
        if (h->parser.method == HTTP_CONNECT)
            return 1; /* the rest is the tunnel's */
        /* Plain HTTP: how much of what came with the head is its body. */
        size_t k = run(h, buf, buf + pos, len - pos);
        err = HTTP_PARSER_ERRNO(&h->parser);
        if (err != HPE_OK && err != HPE_PAUSED)
            return 400;
        h->body_end = pos + k;
        if (h->body_end < h->head_end)
            h->body_end = h->head_end;
        h->parsed = h->body_end;
        return 1;
    }
    if (err != HPE_OK)
        return 400;
    h->parsed = len;
    if (len >= h->max_bytes)
        return 431;
    return 0;
}

long guest_proxy_body_feed(struct guest_proxy_head *h, const uint8_t *data, size_t len)
{
    if (!h->headers_done || h->message_done || len == 0)
        return 0;
    size_t n = run(h, data, data, len);
    enum http_errno err = HTTP_PARSER_ERRNO(&h->parser);
    if (err != HPE_OK && err != HPE_PAUSED)
        return -1;
    return (long)n;
}

/* ---------------------------------------------------------------- checking and rewriting */

static bool span_is(const uint8_t *buf, struct guest_http_span sp, const char *name)
{
    size_t n = strlen(name);
    return sp.len == n && strncasecmp((const char *)buf + sp.off, name, n) == 0;
}

/* Headers that belong to one hop (RFC 9110 section 7.6.1), and Host, which
 * is rewritten from the URL so that it names the host the decision was for. */
static const char *const hop_by_hop[] = {
    "host", "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te",
    "upgrade",
};

/* Framing headers are never dropped, whatever Connection names: the body
 * is forwarded as the parser framed it. */
static bool framing(const uint8_t *buf, struct guest_http_span sp)
{
    return span_is(buf, sp, "content-length") || span_is(buf, sp, "transfer-encoding");
}

#define MAX_CONNECTION_TOKENS 16u

struct tokens {
    struct guest_http_span t[MAX_CONNECTION_TOKENS];
    size_t n;
};

/* The comma-separated names in a Connection header's value. */
static void connection_tokens(const uint8_t *buf, struct guest_http_span v, struct tokens *out)
{
    size_t i = v.off, end = (size_t)v.off + v.len;
    while (i < end && out->n < MAX_CONNECTION_TOKENS) {
        while (i < end && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == ','))
            i++;
        size_t start = i;
        while (i < end && buf[i] != ',' && buf[i] != ' ' && buf[i] != '\t')
            i++;
        if (i > start)
            out->t[out->n++] = (struct guest_http_span){(uint32_t)start, (uint32_t)(i - start)};
    }
}

static bool names_equal(const uint8_t *buf, struct guest_http_span a, struct guest_http_span b)
{
    return a.len == b.len && strncasecmp((const char *)buf + a.off, (const char *)buf + b.off, a.len) == 0;
}

static bool dropped(const uint8_t *buf, struct guest_http_span name, const struct tokens *tk)
{
    for (size_t i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
        if (span_is(buf, name, hop_by_hop[i]))
            return true;
    if (framing(buf, name))
        return false;
    for (size_t i = 0; i < tk->n; i++)
        if (names_equal(buf, name, tk->t[i]))
            return true;
    return false;
}

struct out {
    uint8_t *p;
    size_t len, cap;
    bool failed;
};

static void out_add(struct out *o, const void *data, size_t len)
{
    if (o->failed)
        return;
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        while (cap < o->len + len)
            cap *= 2;
        uint8_t *grown = realloc(o->p, cap);
        if (!grown) {
            o->failed = true;
            return;
        }
        o->p = grown;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, len);
    o->len += len;
}

static void out_str(struct out *o, const char *s)
{
    out_add(o, s, strlen(s));
}

static bool copy_field(char *dst, size_t dst_len, const char *src, size_t len)
{
    if (len == 0 || len >= dst_len)
        return false;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

static bool method_carried(enum http_method m)
{
    switch (m) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_POST:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_OPTIONS:
    case HTTP_PATCH:
        return true;
    default:
        return false;
    }
}

int guest_proxy_request_build(const struct guest_proxy_head *h, const uint8_t *buf, struct guest_proxy_request *r,
                              const char **why)
{
    memset(r, 0, sizeof(*r));
    const http_parser *p = &h->parser;
    if (!h->headers_done) {
        *why = "the request head is not complete";
        return 400;
    }
    if (p->http_major != 1 || p->http_minor > 1) {
        *why = "only HTTP/1.0 and HTTP/1.1 are supported";
        return 505;
    }
    const char *url = (const char *)buf + h->url.off;
    size_t url_len = h->url.len;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (p->method == HTTP_CONNECT) {
        if (url_len == 0 || http_parser_parse_url(url, url_len, 1, &u) != 0 || !(u.field_set & (1 << UF_PORT))) {
            *why = "CONNECT needs host:port";
            return 400;
        }
        r->connect = true;
    } else {
        if (!method_carried((enum http_method)p->method)) {
            *why = "the proxy carries GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH and CONNECT only";
            return 501;
        }
        if (url_len == 0 || http_parser_parse_url(url, url_len, 0, &u) != 0 || !(u.field_set & (1 << UF_SCHEMA)) ||
            !(u.field_set & (1 << UF_HOST))) {
            *why = "this is a proxy: send CONNECT host:port, or an absolute-form request (GET http://host/path)";
            return 400;
        }
        const char *scheme = url + u.field_data[UF_SCHEMA].off;
        size_t scheme_len = u.field_data[UF_SCHEMA].len;
        if (scheme_len == 5 && strncasecmp(scheme, "https", 5) == 0) {
            *why = "https URLs go through CONNECT";
            return 400;
        }
        if (scheme_len != 4 || strncasecmp(scheme, "http", 4) != 0) {
            *why = "only http URLs (and CONNECT for https)";
            return 400;
        }
        snprintf(r->method, sizeof(r->method), "%s", http_method_str((enum http_method)p->method));
    }
    if (!copy_field(r->host, sizeof(r->host), url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len)) {
        *why = "the host name is empty or too long";
        return 400;
    }
    for (const char *c = r->host; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            *why = "the host name is not printable ASCII";
            return 400;
        }
    bool has_port = u.field_set & (1 << UF_PORT);
    r->port = has_port ? u.port : 80u;
    if (r->port == 0) {
        *why = "port 0";
        return 400;
    }
    if (r->connect)
        return 0;

    /* Plain HTTP: the origin-form target and the rewritten head. */
    struct out path = {0};
    if (u.field_set & (1 << UF_PATH))
        out_add(&path, url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    else
        out_str(&path, "/");
    if (u.field_set & (1 << UF_QUERY)) {
        out_str(&path, "?");
        out_add(&path, url + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    }
    out_add(&path, "", 1);
    if (path.failed) {
        free(path.p);
        *why = "out of memory";
        return 503;
    }
    r->path = (char *)path.p;
    if (r->path[0] != '/') {
        *why = "the URL's path must start with /";
        return 400;
    }
    /* The path goes to the host as a protobuf string (UTF-8) and into the
     * policy's input: printable ASCII only, as RFC 3986 has it. */
    for (const char *c = r->path; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            *why = "the URL holds bytes that are not printable ASCII (percent-encode them)";
            return 400;
        }

    struct tokens tk = {.n = 0};
    for (size_t i = 0; i < h->n_headers; i++) {
        const struct guest_http_span v = h->values[i];
        for (size_t k = 0; k < v.len; k++) {
            uint8_t c = buf[v.off + k];
            if (c == '\r' || c == '\n' || c == '\0') {
                *why = "a header value spans lines or holds a NUL";
                return 400;
            }
        }
        if (span_is(buf, h->names[i], "connection") || span_is(buf, h->names[i], "proxy-connection"))
            connection_tokens(buf, v, &tk);
    }
    struct out o = {0};
    char line[64];
    out_str(&o, r->method);
    out_str(&o, " ");
    out_str(&o, r->path);
    snprintf(line, sizeof(line), " HTTP/1.%u\r\nHost: ", (unsigned)p->http_minor);
    out_str(&o, line);
    bool v6 = strchr(r->host, ':') != NULL;
    if (v6)
        out_str(&o, "[");
    out_str(&o, r->host);
    if (v6)
        out_str(&o, "]");
    if (has_port) {
        snprintf(line, sizeof(line), ":%u", (unsigned)r->port);
        out_str(&o, line);
    }
    out_str(&o, "\r\n");
    for (size_t i = 0; i < h->n_headers; i++) {
        if (dropped(buf, h->names[i], &tk))
            continue;
        out_add(&o, buf + h->names[i].off, h->names[i].len);
        out_str(&o, ": ");
        out_add(&o, buf + h->values[i].off, h->values[i].len);
        out_str(&o, "\r\n");
    }
    out_str(&o, "Connection: close\r\n\r\n");
    if (o.failed) {
        free(o.p);
        *why = "out of memory";
        return 503;
    }
    r->head = o.p;
    r->head_len = o.len;
    return 0;
}

void guest_proxy_request_release(struct guest_proxy_request *r)
{
    free(r->path);
    free(r->head);
    r->path = NULL;
    r->head = NULL;
    r->head_len = 0;
}

const char *guest_proxy_status_text(unsigned status)
{
    switch (status) {
#define XX(num, name, string)                                                                                          \
    case num:                                                                                                          \
        return #string;
        HTTP_STATUS_MAP(XX)
#undef XX
    default:
        return "Error";
    }
}
