/* libFuzzer harness for the guest protocol framing: arbitrary bytes, fed in
 * pieces whose sizes come from the input, must never crash the decoder, and
 * every frame it hands out must frame again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frame.h"

/* protobuf-c keeps unknown fields and re-encodes them canonically, and a
 * few odd encodings it accepts do not survive that (field number 0 with a
 * padded tag), so the body may fail to decode again; the framing must still
 * hold: the prefix matches, and a frame that decodes keeps its id and kind. */
static void check_round_trip(const Guest__V1__Frame *f)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_encode(f, &buf, &len) != 0)
        return;
    uint32_t body = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    if (body != len - WIRE_HEADER_LEN)
        abort();
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    if (wire_decoder_feed(&d, buf, len) != (long)len)
        abort();
    Guest__V1__Frame *g = NULL;
    int r = wire_decoder_next(&d, &g);
    if (r == 1) {
        if (g->id != f->id || g->body_case != f->body_case)
            abort();
        guest__v1__frame__free_unpacked(g, NULL);
        if (wire_decoder_pending(&d) != 0)
            abort();
    } else if (r != WIRE_ERR_BAD_FRAME) {
        abort();
    }
    /* After a body that does not decode, the decoder may start over at a sync
     * marker inside it (a sender that reconnected mid-frame), so bytes after
     * the marker can stay pending: that is the resync, not a leak. */
    wire_decoder_release(&d);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte picks the decoder's maximum and the feed size. */
    size_t max_frame = (size_t)(data[0] & 0x0f) * 64;
    size_t step = (size_t)(data[0] >> 4) + 1;
    data++;
    size--;

    struct wire_decoder d;
    wire_decoder_init(&d, max_frame);
    size_t off = 0;
    while (off < size) {
        size_t chunk = size - off < step ? size - off : step;
        long n = wire_decoder_feed(&d, data + off, chunk);
        if (n < 0)
            break;
        if (n == 0 && !d.broken && wire_decoder_pending(&d) < WIRE_HEADER_LEN + d.max_frame)
            abort(); /* feed makes progress unless a whole frame waits */
        off += (size_t)n;
        if (wire_decoder_pending(&d) > WIRE_HEADER_LEN + d.max_frame)
            abort();
        if (d.broken && wire_decoder_pending(&d) >= WIRE_SYNC_LEN)
            abort(); /* while out of step only a short tail is kept */
        for (;;) {
            Guest__V1__Frame *f = NULL;
            int r = wire_decoder_next(&d, &f);
            if (r == 1) {
                check_round_trip(f);
                guest__v1__frame__free_unpacked(f, NULL);
                continue;
            }
            if (r == WIRE_ERR_BAD_FRAME || (r == WIRE_ERR_TOO_LARGE && !d.broken))
                continue;
            break;
        }
    }
    wire_decoder_release(&d);
    return 0;
}
