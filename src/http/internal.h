/* Private to src/http/: the URL splitter, the request head, and the response
 * reader both faces feed (and the fuzz harness drives). */
#ifndef ENCLAVE_HTTP_INTERNAL_H
#define ENCLAVE_HTTP_INTERNAL_H

#include <http_parser.h>

#include "http/http.h"

struct http_url {
    bool tls;
    char host[256];
    char port[8];
    bool port_explicit;
    char *target; /* path + query, owned */
};

int http_url_split(const char *url, struct http_url *out, struct error *err);
void http_url_release(struct http_url *u);

/* The request line and headers ("Host", "User-Agent", "Connection: close",
 * the caller's lines, the body's framing) up to the blank line, as a new
 * string. headers are checked by the caller (http_headers_check). */
int http_head_build(const struct http_request *req, const struct http_url *u, const char *method,
                    const char *const *headers, size_t header_count, bool send_body, char **out,
                    size_t *len, struct error *err);
/* The whole head of req as sent over a connection already open to its
 * host (http_fd_run, http_call_start): its headers checked, its URL split,
 * http_head_build with the request's own method, headers and body. */
int http_head_for_request(const struct http_request *req, char **out, size_t *len,
                          struct error *err);
/* Each line has a colon and no CR or LF. */
int http_headers_check(const struct http_request *req, struct error *err);

/* The response parser: feed it bytes as they come; it fills resp, applies
 * the size limits and calls the request's callbacks. */
struct http_reader {
    http_parser parser;
    const struct http_request *req;
    struct http_response *resp;
    struct error *err;
    bool head; /* the request was HEAD: no body follows */
    bool failed;
    bool done;
    bool to_sink;
    bool in_value;
    size_t header_bytes;
    char *field;
    size_t field_len;
    char *value;
    size_t value_len;
    size_t body_limit;
    bool body_limit_is_error;
};

void http_reader_init(struct http_reader *r, const struct http_request *req,
                      struct http_response *resp, bool head, struct error *err);
/* Parses data; afterwards r->failed (err filled) or r->done may be set.
 * Bytes after the response are ignored. */
void http_reader_feed(struct http_reader *r, const char *data, size_t len);
/* The peer closed: completes a body that runs to the close, or fails
 * (resp->truncated) when the response is not complete. */
void http_reader_eof(struct http_reader *r);
/* Fails the exchange with kind and msg, unless it failed already. */
void http_reader_fail(struct http_reader *r, enum error_kind kind, const char *msg);
void http_reader_release(struct http_reader *r);

#endif
