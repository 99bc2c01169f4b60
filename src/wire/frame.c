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

/* Decoding allocates from a budget in proportion to the body: a small frame
 * cannot make the decoder allocate many times its size (thousands of empty
 * repeated messages, each a struct and a pointer). The memory comes from
 * malloc, so the frame is freed with the default allocator as before. */
struct alloc_budget {
    size_t left;
};

static void *budget_alloc(void *data, size_t size)
{
    struct alloc_budget *b = data;
    if (size > b->left)
        return NULL;
    b->left -= size;
    return malloc(size);
}

static void budget_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
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

static void sync_found(struct wire_decoder *d)
{
    d->start = d->end = 0;
    d->broken = 0;
    d->syncs++;
}

/* Keeps the last bytes of what was dropped, at most WIRE_SYNC_LEN - 1, so a
 * marker split across two feeds is still found. */
static int keep_tail(struct wire_decoder *d, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t tail[WIRE_SYNC_LEN];
    size_t keep = alen + blen < WIRE_SYNC_LEN - 1 ? alen + blen : WIRE_SYNC_LEN - 1;
    size_t from_b = blen < keep ? blen : keep;
    size_t from_a = keep - from_b;
    if (from_a)
        memcpy(tail, a + alen - from_a, from_a);
    if (from_b)
        memcpy(tail + from_a, b + blen - from_b, from_b);
    if (d->cap > WIRE_KEEP_BUFFER || !d->buf) {
        free(d->buf);
        d->buf = malloc(WIRE_MIN_BUFFER);
        d->cap = d->buf ? WIRE_MIN_BUFFER : 0;
        if (!d->buf) {
            d->start = d->end = 0;
            return WIRE_ERR_NOMEM;
        }
    }
    memcpy(d->buf, tail, keep);
    d->start = 0;
    d->end = keep;
    return 0;
}

/* While broken: drops input up to and including a sync marker. Returns how
 * many bytes of data were used (all of them when no marker was found). */
static long scan_for_sync(struct wire_decoder *d, const uint8_t *data, size_t len)
{
    static const uint8_t marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;
    if (len > LONG_MAX)
        len = LONG_MAX;
    size_t tail = d->end - d->start;
    /* A marker that starts in the kept tail and ends in data. */
    uint8_t window[2 * WIRE_SYNC_LEN];
    size_t head = len < WIRE_SYNC_LEN - 1 ? len : WIRE_SYNC_LEN - 1;
    if (tail > 0) {
        memcpy(window, d->buf + d->start, tail);
        memcpy(window + tail, data, head);
        const uint8_t *m = memmem(window, tail + head, marker, WIRE_SYNC_LEN);
        if (m) {
            size_t used = (size_t)(m - window) + WIRE_SYNC_LEN - tail;
            sync_found(d);
            return (long)used;
        }
    }
    const uint8_t *m = memmem(data, len, marker, WIRE_SYNC_LEN);
    if (m) {
        sync_found(d);
        return (long)((size_t)(m - data) + WIRE_SYNC_LEN);
    }
    int r = keep_tail(d, tail ? window : data, tail ? tail : 0, data, len);
    return r < 0 ? r : (long)len;
}

long wire_decoder_feed(struct wire_decoder *d, const uint8_t *data, size_t len)
{
    if (d->broken)
        return scan_for_sync(d, data, len);
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
    static const uint8_t marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;
    *out = NULL;
    for (;;) {
        if (d->broken)
            return WIRE_ERR_TOO_LARGE;
        size_t pending = d->end - d->start;
        if (pending < WIRE_HEADER_LEN)
            return 0;
        const uint8_t *p = d->buf + d->start;
        uint32_t body = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (body > d->max_frame) {
            /* A sync marker between frames is not an error: skip it. */
            size_t n = pending < WIRE_SYNC_LEN ? pending : WIRE_SYNC_LEN;
            if (memcmp(p, marker, n) == 0) {
                if (n < WIRE_SYNC_LEN)
                    return 0;
                d->start += WIRE_SYNC_LEN;
                d->syncs++;
                drop_consumed(d);
                continue;
            }
            /* Nothing after this length can be trusted to start a frame,
             * until a sync marker: look for one in what is buffered. */
            const uint8_t *rest = p + WIRE_HEADER_LEN;
            size_t rest_len = pending - WIRE_HEADER_LEN;
            const uint8_t *m = memmem(rest, rest_len, marker, WIRE_SYNC_LEN);
            if (m) {
                d->start = (size_t)(m - d->buf) + WIRE_SYNC_LEN;
                d->syncs++;
                drop_consumed(d);
            } else {
                d->broken = 1;
                uint8_t copy[WIRE_SYNC_LEN];
                size_t keep = rest_len < WIRE_SYNC_LEN - 1 ? rest_len : WIRE_SYNC_LEN - 1;
                memcpy(copy, rest + rest_len - keep, keep);
                if (keep_tail(d, copy, keep, NULL, 0) < 0)
                    d->start = d->end = 0;
            }
            return WIRE_ERR_TOO_LARGE;
        }
        if (pending - WIRE_HEADER_LEN < body)
            return 0;
        struct alloc_budget budget = {.left = WIRE_ALLOC_BUDGET(body)};
        ProtobufCAllocator allocator = {.alloc = budget_alloc, .free = budget_free,
                                        .allocator_data = &budget};
        Guest__V1__Frame *frame = guest__v1__frame__unpack(&allocator, body, p + WIRE_HEADER_LEN);
        if (!frame) {
            /* A marker inside a body that does not decode means the sender
             * started over there (it reconnected mid-frame, say). */
            const uint8_t *m = memmem(p + WIRE_HEADER_LEN, body, marker, WIRE_SYNC_LEN);
            if (m) {
                d->start = (size_t)(m - d->buf) + WIRE_SYNC_LEN;
                d->syncs++;
            } else {
                d->start += WIRE_HEADER_LEN + body;
            }
            drop_consumed(d);
            return WIRE_ERR_BAD_FRAME;
        }
        d->start += WIRE_HEADER_LEN + body;
        drop_consumed(d);
        *out = frame;
        return 1;
    }
}
