/* For tests on both ends of the guest channel only (the guest's tests and
 * fuzz harnesses play the host, the proxy's and egress's tests the guest):
 * frames, and the egress frames filled in one place. A builder fills *b and returns b's frame, ready for
 * wire_encode; the frame points into b, so b must outlive its use. */
#ifndef ENCLAVE_WIRE_TEST_FRAMES_H
#define ENCLAVE_WIRE_TEST_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/v1/guest.pb-c.h"

/* A frame with id carrying msg as its body, for the enclosing block:
 * send_frame(c, TEST_FRAME(7, HEALTH_REQUEST, health_request, &h)). */
#define TEST_FRAME(id_, BODY, member, msg)                                                           \
    (&(Guest__V1__Frame){PROTOBUF_C_MESSAGE_INIT(&guest__v1__frame__descriptor), .id = (id_),        \
                         .body_case = GUEST__V1__FRAME__BODY_##BODY, .member = (msg)})

/* Egress frames: a builder fills a struct test_frame. */
struct test_frame {
    Guest__V1__Frame f;
    union {
        Guest__V1__EgressOpen open;
        Guest__V1__EgressOpenResult result;
        Guest__V1__EgressData data;
        Guest__V1__EgressCredit credit;
        Guest__V1__EgressClose close;
        Guest__V1__CancelRequest cancel;
    } u;
};

/* Makes b's frame (id, body) carry the message already filled in b->u. */
static inline Guest__V1__Frame *test_frame_wrap(struct test_frame *b, uint64_t id,
                                                Guest__V1__Frame__BodyCase body)
{
    b->f = (Guest__V1__Frame)GUEST__V1__FRAME__INIT;
    b->f.id = id;
    b->f.body_case = body;
    switch (body) {
    case GUEST__V1__FRAME__BODY_EGRESS_OPEN: b->f.egress_open = &b->u.open; break;
    case GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT: b->f.egress_open_result = &b->u.result; break;
    case GUEST__V1__FRAME__BODY_EGRESS_DATA: b->f.egress_data = &b->u.data; break;
    case GUEST__V1__FRAME__BODY_EGRESS_CREDIT: b->f.egress_credit = &b->u.credit; break;
    case GUEST__V1__FRAME__BODY_EGRESS_CLOSE: b->f.egress_close = &b->u.close; break;
    case GUEST__V1__FRAME__BODY_CANCEL_REQUEST: b->f.cancel_request = &b->u.cancel; break;
    default: break;
    }
    return &b->f;
}

/* NULL method or path: empty (what CONNECT sends). */
static inline Guest__V1__Frame *test_frame_open(struct test_frame *b, uint64_t id, uint32_t stream,
                                                const char *host, unsigned port, const char *scheme,
                                                const char *method, const char *path)
{
    b->u.open = (Guest__V1__EgressOpen)GUEST__V1__EGRESS_OPEN__INIT;
    b->u.open.stream = stream;
    b->u.open.host = (char *)host;
    b->u.open.port = port;
    b->u.open.scheme = (char *)scheme;
    b->u.open.method = (char *)(method ? method : "");
    b->u.open.path = (char *)(path ? path : "");
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_OPEN);
}

static inline Guest__V1__Frame *test_frame_result(struct test_frame *b, uint64_t id, uint32_t stream,
                                                  bool allowed, uint32_t status, const char *reason)
{
    b->u.result = (Guest__V1__EgressOpenResult)GUEST__V1__EGRESS_OPEN_RESULT__INIT;
    b->u.result.stream = stream;
    b->u.result.allowed = allowed;
    b->u.result.status = status;
    b->u.result.reason = (char *)reason;
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT);
}

static inline Guest__V1__Frame *test_frame_data(struct test_frame *b, uint64_t id, uint32_t stream,
                                                const void *data, size_t len)
{
    b->u.data = (Guest__V1__EgressData)GUEST__V1__EGRESS_DATA__INIT;
    b->u.data.stream = stream;
    b->u.data.data.data = (uint8_t *)data;
    b->u.data.data.len = len;
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_DATA);
}

static inline Guest__V1__Frame *test_frame_credit(struct test_frame *b, uint64_t id, uint32_t stream,
                                                  uint32_t bytes)
{
    b->u.credit = (Guest__V1__EgressCredit)GUEST__V1__EGRESS_CREDIT__INIT;
    b->u.credit.stream = stream;
    b->u.credit.bytes = bytes;
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_CREDIT);
}

/* A close with an empty reason. */
static inline Guest__V1__Frame *test_frame_close(struct test_frame *b, uint64_t id, uint32_t stream,
                                                 bool write_only)
{
    b->u.close = (Guest__V1__EgressClose)GUEST__V1__EGRESS_CLOSE__INIT;
    b->u.close.stream = stream;
    b->u.close.write_only = write_only;
    b->u.close.reason = (char *)"";
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_CLOSE);
}

static inline Guest__V1__Frame *test_frame_cancel(struct test_frame *b, uint64_t id, uint64_t target)
{
    b->u.cancel = (Guest__V1__CancelRequest)GUEST__V1__CANCEL_REQUEST__INIT;
    b->u.cancel.target_id = target;
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_CANCEL_REQUEST);
}

#endif
