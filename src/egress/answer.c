/* The server's answer to a stream's HTTP request (internal.h): http-parser
 * in response mode over the bytes as they pass, to know whether a whole
 * final response came. It never changes or holds the bytes. */
#include <http_parser.h>
#include <stdlib.h>

#include "egress/internal.h"

struct egress_answer {
    http_parser parser;
    enum egress_answer_state state;
    bool head;
    uint64_t bytes;
};

static int on_headers_complete(http_parser *p)
{
    struct egress_answer *a = p->data;
    /* No body whatever the head says: the answer to HEAD, 1xx, 204 and 304
     * (http-parser would wait for a 304's Content-Length). */
    unsigned status = p->status_code;
    return a->head || status < 200 || status == 204 || status == 304 ? 1 : 0;
}

static int on_message_complete(http_parser *p)
{
    struct egress_answer *a = p->data;
    if (p->status_code < 200)
        return 0; /* 100 Continue and the like: the final answer follows */
    a->state = EGRESS_ANSWER_COMPLETE;
    http_parser_pause(p, 1); /* so that the feed knows where it ended */
    return 0;
}

static const http_parser_settings settings = {
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

struct egress_answer *egress_answer_new(void)
{
    struct egress_answer *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    http_parser_init(&a->parser, HTTP_RESPONSE);
    a->parser.data = a;
    a->state = EGRESS_ANSWER_PARTIAL;
    return a;
}

void egress_answer_free(struct egress_answer *a)
{
    free(a);
}

void egress_answer_set_head(struct egress_answer *a, bool head)
{
    a->head = head;
}

size_t egress_answer_feed(struct egress_answer *a, const uint8_t *data, size_t len)
{
    if (a->state == EGRESS_ANSWER_COMPLETE)
        return 0;
    if (a->state == EGRESS_ANSWER_UNREADABLE || len == 0) {
        a->bytes += len;
        return len;
    }
    size_t n = http_parser_execute(&a->parser, &settings, (const char *)data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&a->parser);
    if (a->state == EGRESS_ANSWER_COMPLETE) {
        a->bytes += n;
        return n;
    }
    if (e != HPE_OK || n != len)
        a->state = EGRESS_ANSWER_UNREADABLE;
    a->bytes += len;
    return len;
}

void egress_answer_eof(struct egress_answer *a)
{
    /* Nothing at all is no answer; a body without a length ends here (a
     * head or a body cut short leaves the parser in error). */
    if (a->state != EGRESS_ANSWER_PARTIAL || a->bytes == 0)
        return;
    http_parser_execute(&a->parser, &settings, NULL, 0);
}

enum egress_answer_state egress_answer_state(const struct egress_answer *a)
{
    return a->state;
}

uint64_t egress_answer_bytes(const struct egress_answer *a)
{
    return a->bytes;
}
