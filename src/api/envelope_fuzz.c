/* libFuzzer: bytes as a stream of enveloped messages (a Connect or gRPC
 * streaming body). Each complete envelope's payload is decoded as the
 * streaming Exec request (JSON when the first input byte is odd, protobuf when
 * even); the same bytes as a single-message request body must agree with the
 * stream decoder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/api.h"
#include "api/internal.h"
#include "api/json_proto.h"
#include "enclave/v1/enclave.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool json = data[0] & 1;
    data++;
    size--;
    size_t off = 0;
    unsigned messages = 0;
    size_t first_len = 0;
    for (;;) {
        uint8_t flags;
        const uint8_t *payload;
        size_t len;
        int n = api_envelope_decode(data + off, size - off, API_ENVELOPE_END_STREAM, 1u << 16,
                                    &flags, &payload, &len);
        if (n <= 0)
            break;
        if ((size_t)n > size - off || payload + len > data + size)
            abort();
        if (messages == 0)
            first_len = (size_t)n;
        messages++;
        off += (size_t)n;
        ProtobufCMessage *msg = NULL;
        if (json) {
            struct error err;
            if (json_proto_decode(&enclave__v1__exec_request__descriptor, payload, len, &msg, &err) < 0)
                msg = NULL;
        } else {
            msg = protobuf_c_message_unpack(&enclave__v1__exec_request__descriptor, NULL, len, payload);
        }
        if (msg != NULL)
            protobuf_c_message_free_unpacked(msg, NULL);
        if (flags & API_ENVELOPE_END_STREAM)
            break;
    }
    const uint8_t *payload;
    size_t len;
    struct error err;
    int single = api_envelope_single(data, size, 1u << 16, &payload, &len, &err);
    /* A body the single decoder takes is exactly one message the stream
     * decoder takes too, with the same length. */
    if (single == 0 && (messages < 1 || first_len != size || len + 5 != size))
        abort();
    return 0;
}
