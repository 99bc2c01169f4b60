/* Framing of the guest protocol (docs/architecture.md), shared by enclave-init and
 * the host. A frame on the wire is a u32 big-endian length followed by that
 * many bytes of a serialized guest.v1.Frame.
 *
 * This module links only libc and protobuf-c: it is part of the static guest
 * init as well as the host binary, so it must not use src/common.
 *
 * Ownership: wire_encode() returns a malloc'd buffer the caller frees.
 * wire_decoder_next() hands out a Frame the caller frees with
 * guest__v1__frame__free_unpacked(frame, NULL). The decoder copies what it is
 * fed and never allocates more than 4 + max_frame bytes, and never more than
 * it has actually been given: a length read from the peer is checked against
 * the maximum before anything is sized from it. */
#ifndef ENCLAVE_WIRE_FRAME_H
#define ENCLAVE_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "guest/v1/guest.pb-c.h"

#define WIRE_MAX_FRAME (8u << 20)
/* What decoding one body of n bytes may allocate: a body that would need more
 * (repeated fields of empty messages blow up about 24 times) does not decode
 * (WIRE_ERR_BAD_FRAME). Byte fields and strings cost about their size. */
#define WIRE_ALLOC_BUDGET(n) (4 * (size_t)(n) + 64 * 1024)
#define WIRE_HEADER_LEN 4u

/* The sync marker: a length no frame can have (0xffffffff) followed by
 * "ENCLSYNC". A sender writes it when it (re)connects, before its first
 * frame. Between frames a receiver skips it; after a framing error the
 * receiver drops input up to and including the next marker, and carries on
 * from there. On the virtio-serial port a host that disconnects and
 * reconnects quickly cannot be seen by the guest (both state changes can
 * land before the guest looks), so the marker is what puts the two ends back
 * in step. Optional on stream sockets, which start clean. */
#define WIRE_SYNC_LEN 12u
#define WIRE_SYNC_MARKER {0xff, 0xff, 0xff, 0xff, 'E', 'N', 'C', 'L', 'S', 'Y', 'N', 'C'}

enum wire_error {
    WIRE_ERR_NOMEM = -1,     /* allocation failed */
    WIRE_ERR_TOO_LARGE = -2, /* length over the maximum: the stream cannot be resynchronized */
    WIRE_ERR_BAD_FRAME = -3, /* the body does not decode: skipped, the stream stays usable */
    WIRE_ERR_INVALID = -4,   /* bad argument (a NULL frame, say) */
};

/* Returns a static name for a wire_error ("too large", ...). */
const char *wire_strerror(int err);

/* Serializes frame with its length prefix into a new buffer.
 * Returns 0, or WIRE_ERR_TOO_LARGE when the body exceeds WIRE_MAX_FRAME,
 * WIRE_ERR_NOMEM, WIRE_ERR_INVALID. */
int wire_encode(const Guest__V1__Frame *frame, uint8_t **out, size_t *out_len);

struct wire_decoder {
    uint8_t *buf;     /* bytes received and not yet consumed are buf[start, end) */
    size_t start;
    size_t end;
    size_t cap;       /* allocated size of buf, at most WIRE_HEADER_LEN + max_frame */
    size_t max_frame; /* largest body accepted */
    int broken;       /* a length over max_frame was seen: input is dropped until a sync marker */
    unsigned syncs;   /* sync markers seen (for tests and logs) */
};

/* max_frame 0 means WIRE_MAX_FRAME; larger values are clamped to it. */
void wire_decoder_init(struct wire_decoder *d, size_t max_frame);
/* Frees the buffer; the decoder may be initialized again. */
void wire_decoder_release(struct wire_decoder *d);
/* Forgets buffered bytes and a broken state (a peer reconnected). */
void wire_decoder_reset(struct wire_decoder *d);

/* Copies up to len bytes of data into the decoder. Returns how many bytes
 * were taken (which may be fewer than len when the buffer holds a whole
 * frame that wire_decoder_next() has not handed out yet: call it, then feed
 * the rest), or WIRE_ERR_NOMEM. While the decoder is broken, bytes are taken
 * and dropped up to and including a sync marker; it stops there, in step
 * again, and the caller feeds the rest. */
long wire_decoder_feed(struct wire_decoder *d, const uint8_t *data, size_t len);

/* 1: *out is the next frame. 0: more bytes are needed.
 * WIRE_ERR_TOO_LARGE: the next length is over the maximum; the stream is
 * broken (d->broken) until a sync marker or wire_decoder_reset, and each
 * call says so again. WIRE_ERR_BAD_FRAME: one frame's body did not decode;
 * it was dropped (or, if it holds a sync marker, the stream resumes after
 * the marker) and the next call continues. */
int wire_decoder_next(struct wire_decoder *d, Guest__V1__Frame **out);

/* Bytes buffered and not yet handed out. */
size_t wire_decoder_pending(const struct wire_decoder *d);

#endif
