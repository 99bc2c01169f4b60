/* The HTTP client's response parser on arbitrary bytes, fed in pieces of the
 * sizes the input's first byte picks, with and without a body sink. Nothing
 * may crash or leak, and the limits must hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

static int sink(void *ctx, const char *data, size_t len, struct error *err)
{
    size_t *n = ctx;
    *n += len;
    if (*n > 4096)
        return error_set(err, ERR_ABORTED, "enough");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] & 0x3f) + 1;
    size_t seen = 0;
    struct http_request req = {.method = "GET", .url = "http://localhost/", .body_fd = -1,
                               .max_body = 4096, .max_error_body = 512};
    if (data[0] & 0x40) {
        req.on_body = sink;
        req.ctx = &seen;
    }
    struct http_response resp;
    memset(&resp, 0, sizeof(resp));
    struct error err = {0};
    struct http_reader r;
    http_reader_init(&r, &req, &resp, (data[0] & 0x80) != 0, &err);
    for (size_t off = 1; off < size && !r.done && !r.failed; off += step) {
        size_t n = size - off < step ? size - off : step;
        http_reader_feed(&r, (const char *)data + off, n);
    }
    http_reader_eof(&r);
    if (resp.body_len > 4096 || resp.header_count > HTTP_MAX_HEADERS)
        abort();
    http_reader_release(&r);
    http_response_release(&resp);
    return 0;
}
