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

/* Each message below names every field it sets; the others are zero, as in
 * its INIT. NULL method or path: empty (what CONNECT sends). */
#define TEST_MSG(type, desc, ...) ((type){PROTOBUF_C_MESSAGE_INIT(&desc), __VA_ARGS__})

static inline Guest__V1__Frame *test_frame_open(struct test_frame *b, uint64_t id, uint32_t stream,
                                                const char *host, unsigned port, const char *scheme,
                                                const char *method, const char *path)
{
    b->u.open = TEST_MSG(Guest__V1__EgressOpen, guest__v1__egress_open__descriptor, .stream = stream,
                         .host = (char *)host, .port = port, .scheme = (char *)scheme,
                         .method = (char *)(method ? method : ""), .path = (char *)(path ? path : ""));
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_OPEN);
}

static inline Guest__V1__Frame *test_frame_result(struct test_frame *b, uint64_t id, uint32_t stream,
                                                  bool allowed, uint32_t status, const char *reason)
{
    b->u.result = TEST_MSG(Guest__V1__EgressOpenResult, guest__v1__egress_open_result__descriptor,
                           .stream = stream, .allowed = allowed, .status = status, .reason = (char *)reason);
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_OPEN_RESULT);
}

static inline Guest__V1__Frame *test_frame_data(struct test_frame *b, uint64_t id, uint32_t stream,
                                                const void *data, size_t len)
{
    b->u.data = TEST_MSG(Guest__V1__EgressData, guest__v1__egress_data__descriptor, .stream = stream,
                         .data = {.len = len, .data = (uint8_t *)data});
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_DATA);
}

static inline Guest__V1__Frame *test_frame_credit(struct test_frame *b, uint64_t id, uint32_t stream,
                                                  uint32_t bytes)
{
    b->u.credit = TEST_MSG(Guest__V1__EgressCredit, guest__v1__egress_credit__descriptor, .stream = stream,
                           .bytes = bytes);
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_CREDIT);
}

/* A close with an empty reason. */
static inline Guest__V1__Frame *test_frame_close(struct test_frame *b, uint64_t id, uint32_t stream,
                                                 bool write_only)
{
    b->u.close = TEST_MSG(Guest__V1__EgressClose, guest__v1__egress_close__descriptor, .stream = stream,
                          .write_only = write_only, .reason = (char *)"");
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_EGRESS_CLOSE);
}

static inline Guest__V1__Frame *test_frame_cancel(struct test_frame *b, uint64_t id, uint64_t target)
{
    b->u.cancel = TEST_MSG(Guest__V1__CancelRequest, guest__v1__cancel_request__descriptor, .target_id = target);
    return test_frame_wrap(b, id, GUEST__V1__FRAME__BODY_CANCEL_REQUEST);
}

#endif
