/* libFuzzer: JSON text into a message (the first byte picks the type), and
 * whatever decodes must encode, and decode again to the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/v1/agent.pb-c.h"
#include "api/json_proto.h"
#include "apitest/v1/apitest.pb-c.h"
#include "guest/v1/guest.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const types[] = {
        &agent__v1__start_request__descriptor, &agent__v1__tool_response__descriptor,
        &guest__v1__frame__descriptor, &apitest__v1__scalars__descriptor,
        &apitest__v1__node__descriptor,
    };
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *desc = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    ProtobufCMessage *msg = NULL;
    struct error err;
    if (json_proto_decode(desc, data + 1, size - 1, &msg, &err) < 0)
        return 0;
    char *text = NULL;
    size_t len = 0;
    /* Strings came from JSON, so they are UTF-8: encoding cannot fail. */
    if (json_proto_encode(msg, &text, &len, &err) < 0)
        abort();
    ProtobufCMessage *again = NULL;
    if (json_proto_decode(desc, text, len, &again, &err) < 0)
        abort();
    char *text2 = NULL;
    size_t len2 = 0;
    if (json_proto_encode(again, &text2, &len2, &err) < 0 || len2 != len ||
        memcmp(text, text2, len) != 0)
        abort();
    /* And through the binary form. */
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(msg, buf);
    ProtobufCMessage *unpacked = protobuf_c_message_unpack(desc, NULL, n, buf);
    if (unpacked == NULL)
        abort();
    protobuf_c_message_free_unpacked(unpacked, NULL);
    free(buf);
    free(text);
    free(text2);
    protobuf_c_message_free_unpacked(again, NULL);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
