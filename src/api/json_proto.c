#include "api/json_proto.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/encode.h"

#define MEMBER_PTR(msg, offset) ((void *)((char *)(msg) + (offset)))
#define CMEMBER_PTR(msg, offset) ((const void *)((const char *)(msg) + (offset)))

/* ------------------------------------------------------------------ names */

/* proto3's JSON name: underscores dropped, the letter after one upper-cased. */
static void json_name(const char *name, char *buf, size_t size)
{
    size_t o = 0;
    bool upper = false;
    for (const char *p = name; *p != '\0' && o + 1 < size; p++) {
        if (*p == '_') {
            upper = true;
            continue;
        }
        buf[o++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        upper = false;
    }
    buf[o] = '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key)
{
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        char camel[256];
        json_name(f->name, camel, sizeof(camel));
        if (strcmp(key, camel) == 0 || strcmp(key, f->name) == 0)
            return f;
    }
    return NULL;
}

/* protobuf-c keeps no map flag: a map field is a repeated message whose type is
 * the nested "<FieldName>Entry" with exactly key = 1 and value = 2. */
static bool is_map_field(const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *entry = f->descriptor;
    if (entry->n_fields != 2 || entry->fields[0].id != 1 || entry->fields[1].id != 2 ||
        strcmp(entry->fields[0].name, "key") != 0 || strcmp(entry->fields[1].name, "value") != 0)
        return false;
    char expect[300];
    json_name(f->name, expect, sizeof(expect) - 5);
    if (expect[0] >= 'a' && expect[0] <= 'z')
        expect[0] = (char)(expect[0] - 'a' + 'A');
    strcat(expect, "Entry");
    return strcmp(entry->short_name, expect) == 0;
}

/* The ten integer types (an enum is not one). */
static bool integer_type(ProtobufCType type)
{
    return type == PROTOBUF_C_TYPE_INT32 || type == PROTOBUF_C_TYPE_SINT32 ||
           type == PROTOBUF_C_TYPE_SFIXED32 || type == PROTOBUF_C_TYPE_UINT32 ||
           type == PROTOBUF_C_TYPE_FIXED32 || type == PROTOBUF_C_TYPE_INT64 ||
           type == PROTOBUF_C_TYPE_SINT64 || type == PROTOBUF_C_TYPE_SFIXED64 ||
           type == PROTOBUF_C_TYPE_UINT64 || type == PROTOBUF_C_TYPE_FIXED64;
}

static size_t scalar_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* ------------------------------------------------------------------ decoding */

/* Prefixes the error with where it happened, outermost last; a very deep path
 * stops growing so that the cause itself is never cut off. */
static int at_field(struct error *err, const char *what)
{
    if (err != NULL && strlen(err->message) < sizeof(err->message) / 2)
        error_prefix(err, "%s", what);
    return -1;
}

static int decode_message(const ProtobufCMessageDescriptor *desc, const json_t *json, int depth,
                          ProtobufCMessage **out, struct error *err);

/* Strict decimal integer text: optional '-', digits, nothing else. */
static int parse_int_text(const char *s, bool is_unsigned, int64_t *sv, uint64_t *uv)
{
    if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
        return -1;
    if (s[0] == '-' && (s[1] < '0' || s[1] > '9'))
        return -1;
    for (const char *p = s + (*s == '-'); *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return -1;
    char *end;
    errno = 0;
    if (is_unsigned) {
        if (*s == '-')
            return -1;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *uv = v;
    } else {
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *sv = v;
    }
    return 0;
}

/* Reads an integer from a JSON number or string; range-checks against [min, max]
 * (signed) or [0, umax] (unsigned). */
static int json_get_integer(const json_t *v, bool is_unsigned, int64_t min, int64_t max,
                            uint64_t umax, int64_t *sv, uint64_t *uv, struct error *err)
{
    int64_t s = 0;
    uint64_t u = 0;
    bool neg = false;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        s = (int64_t)i;
        neg = i < 0;
        u = (uint64_t)i;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d != floor(d))
            return error_set(err, ERR_INVALID_ARGUMENT, "not an integer: %g", d);
        if (d < -9223372036854775808.0 || d >= 18446744073709551616.0)
            return error_set(err, ERR_INVALID_ARGUMENT, "integer out of range: %g", d);
        neg = d < 0;
        if (neg)
            s = (int64_t)d;
        else if (d >= 9223372036854775808.0) {
            u = (uint64_t)d;
            s = INT64_MAX; /* only reachable for unsigned; range check below */
        } else {
            s = (int64_t)d;
            u = (uint64_t)d;
        }
    } else if (json_is_string(v)) {
        const char *text = json_string_value(v);
        if (parse_int_text(text, false, &s, &u) == 0) {
            neg = s < 0;
            u = (uint64_t)s;
        } else if (parse_int_text(text, true, &s, &u) == 0) {
            s = INT64_MAX;
        } else {
            return error_set(err, ERR_INVALID_ARGUMENT, "not an integer: \"%.64s\"", text);
        }
    } else {
        return error_set(err, ERR_INVALID_ARGUMENT, "expected an integer");
    }
    if (is_unsigned) {
        if (neg || u > umax)
            return error_set(err, ERR_INVALID_ARGUMENT, "integer out of range");
        *uv = u;
    } else {
        if ((!neg && u > (uint64_t)max) || s < min || s > max)
            return error_set(err, ERR_INVALID_ARGUMENT, "integer out of range");
        *sv = s;
    }
    return 0;
}

static int json_get_double(const json_t *v, bool is_float, double *out, struct error *err)
{
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0)
            d = NAN;
        else if (strcmp(s, "Infinity") == 0)
            d = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            d = -INFINITY;
        else {
            char *end;
            errno = 0;
            if (*s == '\0' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
                return error_set(err, ERR_INVALID_ARGUMENT, "not a number: \"%.64s\"", s);
            d = strtod(s, &end);
            if (*end != '\0' || errno == ERANGE || !isfinite(d))
                return error_set(err, ERR_INVALID_ARGUMENT, "not a number: \"%.64s\"", s);
        }
    } else {
        return error_set(err, ERR_INVALID_ARGUMENT, "expected a number");
    }
    if (is_float && isfinite(d) && (d > FLT_MAX || d < -FLT_MAX))
        return error_set(err, ERR_INVALID_ARGUMENT, "number out of range for float");
    *out = d;
    return 0;
}

static int decode_enum(const ProtobufCEnumDescriptor *ed, const json_t *v, int32_t *out,
                       struct error *err)
{
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        if (ev == NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "unknown value \"%.64s\" of enum %s",
                             json_string_value(v), ed->name);
        *out = ev->value;
        return 0;
    }
    int64_t s = 0;
    if (json_get_integer(v, false, INT32_MIN, INT32_MAX, 0, &s, NULL, err) < 0)
        return error_prefix(err, "enum %s", ed->name);
    *out = (int32_t)s;
    return 0;
}

/* An integer field of type (one of the ten integer types) at dst. */
static int decode_integer(ProtobufCType type, const json_t *v, void *dst, struct error *err)
{
    bool is_unsigned = type == PROTOBUF_C_TYPE_UINT32 || type == PROTOBUF_C_TYPE_FIXED32 ||
                       type == PROTOBUF_C_TYPE_UINT64 || type == PROTOBUF_C_TYPE_FIXED64;
    bool wide = scalar_size(type) == 8;
    int64_t s = 0;
    uint64_t u = 0;
    if (json_get_integer(v, is_unsigned, wide ? INT64_MIN : INT32_MIN, wide ? INT64_MAX : INT32_MAX,
                         wide ? UINT64_MAX : UINT32_MAX, &s, &u, err) < 0)
        return -1;
    if (wide && is_unsigned)
        *(uint64_t *)dst = u;
    else if (wide)
        *(int64_t *)dst = s;
    else if (is_unsigned)
        *(uint32_t *)dst = (uint32_t)u;
    else
        *(int32_t *)dst = (int32_t)s;
    return 0;
}

/* Decodes one non-null value of field f into the storage at dst. */
static int decode_value(const ProtobufCFieldDescriptor *f, const json_t *v, int depth, void *dst,
                        struct error *err)
{
    double d = 0;
    if (integer_type(f->type))
        return decode_integer(f->type, v, dst, err);
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
        if (json_get_double(v, true, &d, err) < 0)
            return -1;
        *(float *)dst = (float)d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (json_get_double(v, false, &d, err) < 0)
            return -1;
        *(double *)dst = d;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return error_set(err, ERR_INVALID_ARGUMENT, "expected true or false");
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t e = 0;
        if (decode_enum(f->descriptor, v, &e, err) < 0)
            return -1;
        *(int32_t *)dst = e;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return error_set(err, ERR_INVALID_ARGUMENT, "expected a string");
        size_t len = json_string_length(v);
        if (memchr(json_string_value(v), '\0', len) != NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "string contains a NUL character");
        char *copy = strndup(json_string_value(v), len);
        if (copy == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        *(char **)dst = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(v))
            return error_set(err, ERR_INVALID_ARGUMENT, "expected a base64 string");
        ProtobufCBinaryData *b = dst;
        if (decode_base64_lenient(json_string_value(v), json_string_length(v), &b->data,
                                     &b->len) < 0)
            return error_set(err, ERR_INVALID_ARGUMENT, "invalid base64");
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return decode_message(f->descriptor, v, depth + 1, (ProtobufCMessage **)dst, err);
    default: /* the integers, above */
        break;
    }
    return error_set(err, ERR_INTERNAL, "unsupported field type %d", (int)f->type);
}

/* A map key arrives as a JSON object key (a string): convert it to a JSON value
 * of the key field's type, then decode it like any value. */
static json_t *map_key_json(const ProtobufCFieldDescriptor *kf, const char *key)
{
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") == 0)
            return json_true();
        if (strcmp(key, "false") == 0)
            return json_false();
        return json_null();
    }
    return json_string(key);
}

static int decode_map(const ProtobufCFieldDescriptor *f, const json_t *v, int depth, void *msg,
                      struct error *err)
{
    if (!json_is_object(v))
        return error_set(err, ERR_INVALID_ARGUMENT, "expected an object (map)");
    if (depth + 1 > JSON_PROTO_MAX_DEPTH)
        return error_set(err, ERR_INVALID_ARGUMENT, "nesting deeper than %d", JSON_PROTO_MAX_DEPTH);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    size_t n = json_object_size(v);
    if (n == 0)
        return 0;
    ProtobufCMessage **arr = calloc(n, sizeof(*arr));
    if (arr == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    *(ProtobufCMessage ***)MEMBER_PTR(msg, f->offset) = arr;
    size_t *count = MEMBER_PTR(msg, f->quantifier_offset);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value) {
        if (json_is_null(value))
            return error_set(err, ERR_INVALID_ARGUMENT, "map value for key \"%.64s\" is null", key);
        ProtobufCMessage *entry = calloc(1, ed->sizeof_message);
        if (entry == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        ed->message_init(entry);
        arr[(*count)++] = entry;
        json_t *kj = map_key_json(&ed->fields[0], key);
        if (kj == NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "invalid map key");
        int r = decode_value(&ed->fields[0], kj, depth + 1,
                             MEMBER_PTR(entry, ed->fields[0].offset), err);
        json_decref(kj);
        char where[100];
        if (r < 0) {
            snprintf(where, sizeof(where), "map key \"%.64s\"", key);
            return at_field(err, where);
        }
        if (decode_value(&ed->fields[1], value, depth + 1, MEMBER_PTR(entry, ed->fields[1].offset),
                         err) < 0) {
            snprintf(where, sizeof(where), "map value for key \"%.64s\"", key);
            return at_field(err, where);
        }
    }
    return 0;
}

static int decode_repeated(const ProtobufCFieldDescriptor *f, const json_t *v, int depth,
                           void *msg, struct error *err)
{
    if (!json_is_array(v))
        return error_set(err, ERR_INVALID_ARGUMENT, "expected an array");
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    size_t elem = scalar_size(f->type);
    char *arr = calloc(n, elem);
    if (arr == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    *(void **)MEMBER_PTR(msg, f->offset) = arr;
    size_t *count = MEMBER_PTR(msg, f->quantifier_offset);
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(v, i);
        if (json_is_null(item))
            return error_set(err, ERR_INVALID_ARGUMENT, "[%zu]: null in a repeated field", i);
        /* Counted before decoding: a half-decoded element is still freed. */
        *count = i + 1;
        if (decode_value(f, item, depth, arr + i * elem, err) < 0) {
            char where[32];
            snprintf(where, sizeof(where), "[%zu]", i);
            return at_field(err, where);
        }
    }
    return 0;
}

static int decode_field(const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *f,
                        const json_t *v, int depth, ProtobufCMessage *msg, struct error *err)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (json_is_null(v))
            return 0;
        if (is_map_field(f))
            return decode_map(f, v, depth, msg, err);
        return decode_repeated(f, v, depth, msg, err);
    }
    if (json_is_null(v))
        return 0;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = MEMBER_PTR(msg, f->quantifier_offset);
        if (*which != 0) {
            const ProtobufCFieldDescriptor *other = protobuf_c_message_descriptor_get_field(desc, *which);
            return error_set(err, ERR_INVALID_ARGUMENT, "oneof already set by field \"%s\"",
                             other != NULL ? other->name : "?");
        }
        if (decode_value(f, v, depth, MEMBER_PTR(msg, f->offset), err) < 0)
            return -1;
        *which = f->id;
        return 0;
    }
    if (decode_value(f, v, depth, MEMBER_PTR(msg, f->offset), err) < 0)
        return -1;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)MEMBER_PTR(msg, f->quantifier_offset) = 1;
    return 0;
}

static int decode_message(const ProtobufCMessageDescriptor *desc, const json_t *json, int depth,
                          ProtobufCMessage **out, struct error *err)
{
    if (depth > JSON_PROTO_MAX_DEPTH)
        return error_set(err, ERR_INVALID_ARGUMENT, "nesting deeper than %d", JSON_PROTO_MAX_DEPTH);
    if (!json_is_object(json))
        return error_set(err, ERR_INVALID_ARGUMENT, "expected an object for %s", desc->name);
    ProtobufCMessage *msg = calloc(1, desc->sizeof_message);
    if (msg == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    desc->message_init(msg);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value) {
        const ProtobufCFieldDescriptor *f = find_field(desc, key);
        if (f == NULL) {
            protobuf_c_message_free_unpacked(msg, NULL);
            return error_set(err, ERR_INVALID_ARGUMENT, "unknown field \"%.100s\" in %s", key,
                             desc->name);
        }
        /* "fooBar" and "foo_bar" name the same field: both present is a duplicate. */
        char camel[256];
        json_name(f->name, camel, sizeof(camel));
        const char *other = strcmp(key, camel) == 0 ? f->name : camel;
        if (strcmp(other, key) != 0 && json_object_get(json, other) != NULL) {
            protobuf_c_message_free_unpacked(msg, NULL);
            return error_set(err, ERR_INVALID_ARGUMENT, "field \"%s\" given twice", camel);
        }
        if (decode_field(desc, f, value, depth, msg, err) < 0) {
            protobuf_c_message_free_unpacked(msg, NULL);
            char where[300];
            snprintf(where, sizeof(where), "field \"%s\"", camel);
            return at_field(err, where);
        }
    }
    *out = msg;
    return 0;
}

int json_proto_from_json(const ProtobufCMessageDescriptor *desc, const json_t *json,
                         ProtobufCMessage **out, struct error *err)
{
    return decode_message(desc, json, 1, out, err);
}

int json_proto_decode(const ProtobufCMessageDescriptor *desc, const void *data, size_t len,
                      ProtobufCMessage **out, struct error *err)
{
    json_error_t jerr;
    json_t *json = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (json == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "malformed JSON at line %d column %d: %s",
                         jerr.line, jerr.column, jerr.text);
    int r = json_proto_from_json(desc, json, out, err);
    json_decref(json);
    return r;
}

/* ------------------------------------------------------------------ encoding */

static json_t *encode_message(const ProtobufCMessage *msg, int depth, struct error *err);

static json_t *encode_double(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

static json_t *encode_value(const ProtobufCFieldDescriptor *f, const void *src, int depth,
                            struct error *err)
{
    char buf[32];
    json_t *j = NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        j = json_integer(*(const int32_t *)src);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        j = json_integer(*(const uint32_t *)src);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)src);
        j = json_string(buf);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)src);
        j = json_string(buf);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        j = encode_double(*(const float *)src);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        j = encode_double(*(const double *)src);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        j = json_boolean(*(const protobuf_c_boolean *)src);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t e = *(const int32_t *)src;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, e);
        j = ev != NULL ? json_string(ev->name) : json_integer(e);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)src;
        j = json_string(s != NULL ? s : "");
        if (j == NULL) {
            error_set(err, ERR_INTERNAL, "string is not valid UTF-8");
            return NULL;
        }
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = src;
        char *text = encode_base64(b->data, b->len);
        if (text != NULL)
            j = json_string(text);
        free(text);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)src;
        if (sub == NULL)
            return json_object();
        return encode_message(sub, depth + 1, err);
    }
    }
    if (j == NULL)
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    return j;
}

/* Whether a singular field without presence holds its default (and is omitted). */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *src)
{
    if (integer_type(f->type) || f->type == PROTOBUF_C_TYPE_ENUM)
        return scalar_size(f->type) == 8 ? *(const uint64_t *)src == 0 : *(const uint32_t *)src == 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT: {
        float v = *(const float *)src;
        return v == 0 && !signbit(v);
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v = *(const double *)src;
        return v == 0 && !signbit(v);
    }
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)src;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)src;
        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)src)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)src == NULL;
    default: /* the integers and enums, above */
        break;
    }
    return true;
}

static json_t *encode_map(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *msg, int depth,
                          struct error *err)
{
    size_t n = *(const size_t *)CMEMBER_PTR(msg, f->quantifier_offset);
    ProtobufCMessage *const *arr = *(ProtobufCMessage **const *)CMEMBER_PTR(msg, f->offset);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    json_t *obj = json_object();
    if (obj == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *k = encode_value(&ed->fields[0], CMEMBER_PTR(arr[i], ed->fields[0].offset), depth, err);
        if (k == NULL)
            goto fail;
        char keybuf[32];
        const char *key;
        if (json_is_string(k))
            key = json_string_value(k);
        else if (json_is_boolean(k))
            key = json_is_true(k) ? "true" : "false";
        else {
            snprintf(keybuf, sizeof(keybuf), "%" JSON_INTEGER_FORMAT, json_integer_value(k));
            key = keybuf;
        }
        json_t *v = encode_value(&ed->fields[1], CMEMBER_PTR(arr[i], ed->fields[1].offset), depth,
                                 err);
        if (v == NULL || json_object_set_new(obj, key, v) < 0) {
            json_decref(k);
            if (v != NULL)
                error_set(err, ERR_INTERNAL, "map key is not valid UTF-8");
            goto fail;
        }
        json_decref(k);
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

static json_t *encode_message(const ProtobufCMessage *msg, int depth, struct error *err)
{
    if (depth > JSON_PROTO_MAX_DEPTH) {
        error_set(err, ERR_INTERNAL, "nesting deeper than %d", JSON_PROTO_MAX_DEPTH);
        return NULL;
    }
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *obj = json_object();
    if (obj == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const void *src = CMEMBER_PTR(msg, f->offset);
        char name[256];
        json_name(f->name, name, sizeof(name));
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)CMEMBER_PTR(msg, f->quantifier_offset);
            if (n == 0)
                continue;
            if (is_map_field(f)) {
                v = encode_map(f, msg, depth, err);
            } else {
                v = json_array();
                const char *arr = *(char *const *)src;
                size_t elem = scalar_size(f->type);
                for (size_t k = 0; v != NULL && k < n; k++) {
                    json_t *item = encode_value(f, arr + k * elem, depth, err);
                    if (item == NULL || json_array_append_new(v, item) < 0) {
                        json_decref(v);
                        v = NULL;
                    }
                }
            }
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)CMEMBER_PTR(msg, f->quantifier_offset) != f->id)
                continue;
            v = encode_value(f, src, depth, err);
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(const protobuf_c_boolean *)CMEMBER_PTR(msg, f->quantifier_offset))
                continue;
            v = encode_value(f, src, depth, err);
        } else {
            if (is_default(f, src))
                continue;
            v = encode_value(f, src, depth, err);
        }
        if (v == NULL || json_object_set_new(obj, name, v) < 0) {
            json_decref(obj);
            if (v == NULL) {
                char where[300];
                snprintf(where, sizeof(where), "field \"%s\"", name);
                at_field(err, where);
            }
            else
                error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            return NULL;
        }
    }
    return obj;
}

json_t *json_proto_to_json(const ProtobufCMessage *msg, struct error *err)
{
    return encode_message(msg, 1, err);
}

int json_proto_encode(const ProtobufCMessage *msg, char **out, size_t *len, struct error *err)
{
    json_t *json = json_proto_to_json(msg, err);
    if (json == NULL)
        return -1;
    char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(json);
    if (text == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    *out = text;
    *len = strlen(text);
    return 0;
}
