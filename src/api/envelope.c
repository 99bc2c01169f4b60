/* Enveloped messages: gRPC's length prefix and Connect streaming's envelope
 * share one shape, a flags byte and a big-endian u32 length, then the message.
 * Connect ends a response stream with an envelope flagged 0x02 whose payload
 * is JSON ({"error": {...}, "metadata": {...}}). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/internal.h"

int api_envelope_decode(const uint8_t *buf, size_t len, uint8_t allowed_flags, size_t max,
                        uint8_t *flags, const uint8_t **payload, size_t *payload_len)
{
    if (len < API_ENVELOPE_PREFIX)
        return 0;
    uint8_t f = buf[0];
    if ((f & API_ENVELOPE_COMPRESSED) || (f & ~allowed_flags) != 0)
        return -1;
    uint32_t n = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
    if (n > max)
        return -2;
    /* The caller's buffer bounds how much we could return: an int. */
    if ((size_t)n > (size_t)0x7ffffff0 - API_ENVELOPE_PREFIX)
        return -2;
    if (len - API_ENVELOPE_PREFIX < n)
        return 0;
    *flags = f;
    *payload = buf + API_ENVELOPE_PREFIX;
    *payload_len = n;
    return (int)(API_ENVELOPE_PREFIX + n);
}

void api_envelope_prefix(uint8_t out[API_ENVELOPE_PREFIX], uint8_t flags, uint32_t length)
{
    out[0] = flags;
    out[1] = (uint8_t)(length >> 24);
    out[2] = (uint8_t)(length >> 16);
    out[3] = (uint8_t)(length >> 8);
    out[4] = (uint8_t)length;
}

int api_envelope_single(const uint8_t *body, size_t len, size_t max, const uint8_t **payload,
                        size_t *payload_len, struct error *err)
{
    if (len < API_ENVELOPE_PREFIX)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         len == 0 ? "no request message (a streaming request is one enveloped "
                                    "message: flags byte, u32 length, message)"
                                  : "truncated envelope prefix");
    if (body[0] & API_ENVELOPE_COMPRESSED)
        return error_set(err, ERR_UNIMPLEMENTED,
                         "compressed messages are not supported (send uncompressed)");
    uint8_t flags;
    int n = api_envelope_decode(body, len, 0, max, &flags, payload, payload_len);
    if (n == -1)
        return error_set(err, ERR_INVALID_ARGUMENT, "bad envelope flags 0x%02x", body[0]);
    if (n == -2)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "request message over the limit of %zu bytes",
                         max);
    if (n == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "truncated request message");
    if ((size_t)n != len)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "a server-streaming call takes exactly one request message");
    return 0;
}

char *api_connect_end_stream(const struct error *err, size_t *len)
{
    json_t *obj;
    if (err == NULL || err->kind == ERR_OK) {
        obj = json_object();
    } else {
        obj = json_pack("{s:{s:s, s:s}}", "error", "code", error_kind_connect_name(err->kind),
                        "message", err->message);
        /* A message that is not UTF-8 cannot go into JSON: the code alone. */
        if (obj == NULL)
            obj = json_pack("{s:{s:s}}", "error", "code", error_kind_connect_name(err->kind));
    }
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text != NULL)
        *len = strlen(text);
    return text;
}
