/* libFuzzer: whatever a guest sends on a stream that carries a secret, the
 * injector never crashes, never puts the secret out more than once, and
 * puts nothing out once it has refused. The first byte picks the size of
 * the pieces the input is fed in. */
#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "egress/egress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    struct egress_inject *in = NULL;
    struct error err;
    if (egress_inject_new("api.example", 80, "GET", "/", "Authorization", "Bearer FUZZSECRET", 2048, &in, &err) < 0)
        return 0;
    struct evbuffer *out = evbuffer_new();
    bool failed = false;
    for (size_t off = 0; off < size;) {
        size_t n = size - off < step ? size - off : step;
        size_t before = evbuffer_get_length(out);
        if (egress_inject_feed(in, data + off, n, out, &err) < 0) {
            if (failed && evbuffer_get_length(out) != before)
                abort();
            failed = true;
        }
        off += n;
    }
    size_t len = evbuffer_get_length(out);
    const char *text = (const char *)evbuffer_pullup(out, (ssize_t)len);
    unsigned seen = 0;
    for (size_t i = 0; text && i + 10 <= len; i++)
        if (memcmp(text + i, "FUZZSECRET", 10) == 0)
            seen++;
    if (seen > egress_inject_count(in) || egress_inject_count(in) > 1)
        abort();
    evbuffer_free(out);
    egress_inject_free(in);
    return 0;
}
