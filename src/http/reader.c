/* The response parser of both faces: http-parser callbacks that collect the
 * status and headers, bound them, and send the body to the caller's sink or
 * into a bounded buffer. */
#include "http/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void http_reader_fail(struct http_reader *r, enum error_kind kind, const char *msg)
{
    if (!r->failed) {
        r->failed = true;
        error_set(r->err, kind, "%s", msg);
    }
}

static int fail(struct http_reader *r, enum error_kind kind, const char *msg)
{
    http_reader_fail(r, kind, msg);
    return -1;
}

static int append(char **buf, size_t *len, const char *at, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    if (p == NULL)
        return -1;
    memcpy(p + *len, at, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return 0;
}

static int flush_header(struct http_reader *r)
{
    if (r->field == NULL)
        return 0;
    struct http_response *resp = r->resp;
    if (resp->header_count >= HTTP_MAX_HEADERS)
        return fail(r, ERR_RESOURCE_EXHAUSTED, "response has too many headers");
    resp->headers[resp->header_count].name = r->field;
    resp->headers[resp->header_count].value = r->value ? r->value : strdup("");
    if (resp->headers[resp->header_count].value == NULL)
        return fail(r, ERR_RESOURCE_EXHAUSTED, "out of memory");
    resp->header_count++;
    r->field = r->value = NULL;
    r->field_len = r->value_len = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    if ((r->header_bytes += n) > HTTP_MAX_HEADER_BYTES)
        return fail(r, ERR_RESOURCE_EXHAUSTED, "response headers too large");
    if (r->in_value) {
        if (flush_header(r) < 0)
            return -1;
        r->in_value = false;
    }
    if (append(&r->field, &r->field_len, at, n) < 0)
        return fail(r, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    if ((r->header_bytes += n) > HTTP_MAX_HEADER_BYTES)
        return fail(r, ERR_RESOURCE_EXHAUSTED, "response headers too large");
    r->in_value = true;
    if (append(&r->value, &r->value_len, at, n) < 0)
        return fail(r, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_reader *r = p->data;
    if (flush_header(r) < 0)
        return -1;
    r->resp->status = (int)p->status_code;
    bool ok = p->status_code >= 200 && p->status_code < 300;
    r->to_sink = ok && r->req->on_body != NULL;
    if (ok) {
        r->body_limit = r->req->max_body ? r->req->max_body : (1u << 20);
        r->body_limit_is_error = true;
    } else {
        r->body_limit = r->req->max_error_body ? r->req->max_error_body : HTTP_ERROR_BODY_MAX;
        r->body_limit_is_error = r->req->error_body_strict;
    }
    /* refuse a declared oversize body before reading any of it */
    if (!r->to_sink && r->body_limit_is_error && (p->flags & F_CONTENTLENGTH) &&
        p->content_length > r->body_limit && !r->head) {
        char msg[160];
        snprintf(msg, sizeof(msg), "response body of %llu bytes is over the limit of %zu",
                 (unsigned long long)p->content_length, r->body_limit);
        return fail(r, ERR_RESOURCE_EXHAUSTED, msg);
    }
    if (ok && r->req->on_headers != NULL && !r->head) {
        if (r->req->on_headers(r->req->ctx, r->resp, r->err) < 0) {
            r->failed = true;
            return -1;
        }
    }
    /* 1 tells http-parser there is no body (HEAD) */
    return r->head ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_reader *r = p->data;
    r->resp->body_bytes_seen += n;
    if (r->to_sink) {
        if (r->req->on_body(r->req->ctx, at, n, r->err) < 0) {
            r->failed = true;
            return -1;
        }
        return 0;
    }
    size_t room = r->body_limit > r->resp->body_len ? r->body_limit - r->resp->body_len : 0;
    if (n > room) {
        if (r->body_limit_is_error)
            return fail(r, ERR_RESOURCE_EXHAUSTED, "response body is over the size limit");
        n = room; /* error bodies: keep the start only */
    }
    if (n == 0)
        return 0;
    if (append(&r->resp->body, &r->resp->body_len, at, n) < 0)
        return fail(r, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_reader *r = p->data;
    r->done = true;
    /* stop parsing: anything after the response is not ours */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_reader_init(struct http_reader *r, const struct http_request *req,
                      struct http_response *resp, bool head, struct error *err)
{
    memset(r, 0, sizeof(*r));
    r->req = req;
    r->resp = resp;
    r->err = err;
    r->head = head;
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
}

void http_reader_feed(struct http_reader *r, const char *data, size_t len)
{
    if (r->failed || r->done)
        return;
    size_t used = http_parser_execute(&r->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->failed || r->done)
        return;
    if (e != HPE_OK || used != len) {
        char msg[200];
        snprintf(msg, sizeof(msg), "bad HTTP response: %s", http_errno_description(e));
        http_reader_fail(r, ERR_UNAVAILABLE, msg);
    }
}

void http_reader_eof(struct http_reader *r)
{
    if (r->failed || r->done)
        return;
    /* tells http-parser the stream ended: completes a read-to-close body */
    http_parser_execute(&r->parser, &parser_settings, NULL, 0);
    if (r->failed || r->done)
        return;
    r->resp->truncated = true;
    http_reader_fail(r, ERR_UNAVAILABLE, "connection closed before the response was complete");
}

void http_reader_release(struct http_reader *r)
{
    free(r->field);
    free(r->value);
    r->field = r->value = NULL;
}

void http_response_release(struct http_response *r)
{
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->body);
    free(r->url);
    memset(r, 0, sizeof(*r));
}

const char *http_response_header(const struct http_response *r, const char *name)
{
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

uint64_t http_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}
