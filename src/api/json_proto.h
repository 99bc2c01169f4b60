/* The proto3 JSON mapping, driven by protobuf-c descriptors (jansson underneath).
 *
 * Output: lowerCamelCase field names; fields at their default value omitted
 * (a selected oneof member is always written); int64/uint64 as strings; bytes as
 * standard base64 with padding; enums by name (by number when the value has no
 * name); NaN/Infinity as strings; maps as objects.
 * Input: lowerCamelCase or the original field name; int64/uint64 as strings or
 * numbers; 32-bit integers as numbers or strings, range-checked; bytes as
 * standard or URL-safe base64, padding optional; enums by name or number; null
 * means "default"; unknown fields and duplicate keys are errors
 * (ERR_INVALID_ARGUMENT, naming the field). Nesting deeper than
 * JSON_PROTO_MAX_DEPTH messages is refused.
 *
 * Messages returned by the decoder are allocated with the default protobuf-c
 * allocator: free them with protobuf_c_message_free_unpacked(msg, NULL).
 * Well-known types (Timestamp, Struct, wrappers) get no special treatment. */
#ifndef ENCLAVE_API_JSON_PROTO_H
#define ENCLAVE_API_JSON_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "common/error.h"

#define JSON_PROTO_MAX_DEPTH 64

/* Parses JSON text (exactly one object, nothing after it) into a new message. */
int json_proto_decode(const ProtobufCMessageDescriptor *desc, const void *data, size_t len,
                      ProtobufCMessage **out, struct error *err);
/* Converts an already parsed JSON value; json is borrowed. */
int json_proto_from_json(const ProtobufCMessageDescriptor *desc, const json_t *json,
                         ProtobufCMessage **out, struct error *err);

/* Returns a new reference, or NULL with err set (e.g. a string that is not UTF-8). */
json_t *json_proto_to_json(const ProtobufCMessage *msg, struct error *err);
/* Compact JSON text, NUL-terminated, malloc'd; *len excludes the NUL. */
int json_proto_encode(const ProtobufCMessage *msg, char **out, size_t *len, struct error *err);

#endif
