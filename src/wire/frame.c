/* Guest protocol framing: u32 big-endian length, then a guest.v1.Frame. */
#include "wire/frame.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Buffers above this size are given back as soon as they are empty, so that
 * one large frame does not pin megabytes per connection. */
#define WIRE_KEEP_BUFFER (64u << 10)
#define WIRE_MIN_BUFFER 4096u

const char *wire_strerror(int err)
{
    switch (err) {
    case WIRE_ERR_NOMEM:
        return "out of memory";
    case WIRE_ERR_TOO_LARGE:
        return "frame too large";
    case WIRE_ERR_BAD_FRAME:
        return "frame does not decode";
    case WIRE_ERR_INVALID:
        return "invalid argument";
    default:
        return "unknown wire error";
    }
}

int wire_encode(const Guest__V1__Frame *frame, uint8_t **out, size_t *out_len)
{
    if (!frame || !out || !out_len)
        return WIRE_ERR_INVALID;
    size_t body = guest__v1__frame__get_packed_size(frame);
    if (body > WIRE_MAX_FRAME)
        return WIRE_ERR_TOO_LARGE;
    uint8_t *buf = malloc(WIRE_HEADER_LEN + body);
    if (!buf)
        return WIRE_ERR_NOMEM;
    buf[0] = (uint8_t)(body >> 24);
    buf[1] = (uint8_t)(body >> 16);
    buf[2] = (uint8_t)(body >> 8);
    buf[3] = (uint8_t)body;
    size_t packed = guest__v1__frame__pack(frame, buf + WIRE_HEADER_LEN);
    if (packed != body) { /* cannot happen with a well-formed message */
        free(buf);
        return WIRE_ERR_INVALID;
    }
    *out = buf;
    *out_len = WIRE_HEADER_LEN + body;
    return 0;
}

void wire_decoder_init(struct wire_decoder *d, size_t max_frame)
{
    memset(d, 0, sizeof(*d));
    if (max_frame == 0 || max_frame > WIRE_MAX_FRAME)
        max_frame = WIRE_MAX_FRAME;
    d->max_frame = max_frame;
}

void wire_decoder_release(struct wire_decoder *d)
{
    free(d->buf);
    d->buf = NULL;
    d->start = d->end = d->cap = 0;
    d->broken = 0;
}

void wire_decoder_reset(struct wire_decoder *d)
{
    size_t max_frame = d->max_frame;
    wire_decoder_release(d);
    wire_decoder_init(d, max_frame);
}

size_t wire_decoder_pending(const struct wire_decoder *d)
{
    return d->end - d->start;
}

static void drop_consumed(struct wire_decoder *d)
{
    if (d->start != d->end)
        return;
    d->start = d->end = 0;
    if (d->cap > WIRE_KEEP_BUFFER) {
        free(d->buf);
        d->buf = NULL;
        d->cap = 0;
    }
}

long wire_decoder_feed(struct wire_decoder *d, const uint8_t *data, size_t len)
{
    if (d->broken)
        return len > LONG_MAX ? LONG_MAX : (long)len;
    size_t limit = WIRE_HEADER_LEN + d->max_frame;
    size_t pending = d->end - d->start;
    size_t take = limit - pending;
    if (take > len)
        take = len;
    if (take == 0)
        return 0;

    if (d->end + take > d->cap) {
        /* Slide what is pending to the front before growing. */
        if (d->start > 0) {
            memmove(d->buf, d->buf + d->start, pending);
            d->start = 0;
            d->end = pending;
        }
        size_t need = pending + take; /* <= limit */
        if (need > d->cap) {
            size_t cap = d->cap ? d->cap : WIRE_MIN_BUFFER;
            while (cap < need)
                cap = cap > limit / 2 ? limit : cap * 2;
            if (cap > limit)
                cap = limit;
            uint8_t *grown = realloc(d->buf, cap);
            if (!grown)
                return WIRE_ERR_NOMEM;
            d->buf = grown;
            d->cap = cap;
        }
    }
    memcpy(d->buf + d->end, data, take);
    d->end += take;
    return (long)take;
}

int wire_decoder_next(struct wire_decoder *d, Guest__V1__Frame **out)
{
    *out = NULL;
    if (d->broken)
        return WIRE_ERR_TOO_LARGE;
    size_t pending = d->end - d->start;
    if (pending < WIRE_HEADER_LEN)
        return 0;
    const uint8_t *p = d->buf + d->start;
    uint32_t body = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (body > d->max_frame) {
        /* Nothing after this point can be trusted to start a frame. */
        free(d->buf);
        d->buf = NULL;
        d->start = d->end = d->cap = 0;
        d->broken = 1;
        return WIRE_ERR_TOO_LARGE;
    }
    if (pending - WIRE_HEADER_LEN < body)
        return 0;
    Guest__V1__Frame *frame = guest__v1__frame__unpack(NULL, body, p + WIRE_HEADER_LEN);
    d->start += WIRE_HEADER_LEN + body;
    drop_consumed(d);
    if (!frame)
        return WIRE_ERR_BAD_FRAME;
    *out = frame;
    return 1;
}
