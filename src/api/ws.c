/* RFC 6455 framing and the opening handshake's accept key. Pure functions on
 * bytes: stream.c drives them; ws_test.c and ws_fuzz.c exercise them alone. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "api/internal.h"
#include "common/encode.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_parse_header(const uint8_t *buf, size_t len, bool require_mask, struct ws_frame_header *h)
{
    if (len < 2)
        return 0;
    uint8_t b0 = buf[0], b1 = buf[1];
    memset(h, 0, sizeof(*h));
    h->fin = (b0 & 0x80) != 0;
    h->opcode = b0 & 0x0f;
    h->masked = (b1 & 0x80) != 0;
    /* No extension was negotiated, so every reserved bit must be clear. */
    if (b0 & 0x70)
        return -WS_CLOSE_PROTOCOL;
    switch (h->opcode) {
    case WS_OP_CONTINUATION:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        break;
    default:
        return -WS_CLOSE_PROTOCOL;
    }
    if (require_mask && !h->masked)
        return -WS_CLOSE_PROTOCOL;
    uint8_t len7 = b1 & 0x7f;
    bool control = (h->opcode & 0x8) != 0;
    if (control && (!h->fin || len7 > 125))
        return -WS_CLOSE_PROTOCOL;
    size_t need = 2;
    if (len7 == 126)
        need += 2;
    else if (len7 == 127)
        need += 8;
    if (h->masked)
        need += 4;
    if (len < need)
        return 0;
    size_t at = 2;
    if (len7 == 126) {
        h->payload_len = ((uint64_t)buf[2] << 8) | buf[3];
        if (h->payload_len < 126)
            return -WS_CLOSE_PROTOCOL;
        at = 4;
    } else if (len7 == 127) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = (v << 8) | buf[2 + i];
        if ((v >> 63) != 0 || v <= 0xffff)
            return -WS_CLOSE_PROTOCOL;
        h->payload_len = v;
        at = 10;
    } else {
        h->payload_len = len7;
    }
    if (h->masked) {
        memcpy(h->mask, buf + at, 4);
        at += 4;
    }
    h->header_len = at;
    return 1;
}

void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(offset + i) & 3];
}

size_t ws_write_header(uint8_t out[WS_MAX_HEADER], uint8_t opcode, uint64_t payload_len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (payload_len < 126) {
        out[1] = (uint8_t)payload_len;
        return 2;
    }
    if (payload_len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
    return 10;
}

int ws_accept_key(const char *key, char out[29])
{
    /* base64 of 16 bytes is 24 characters ending in "==". */
    size_t n = strlen(key);
    if (n != 24 || key[22] != '=' || key[23] != '=')
        return -1;
    unsigned char raw[16];
    if (!decode_base64_exact(key, n, raw, sizeof(raw)))
        return -1;
    char joined[24 + sizeof(ws_guid)];
    memcpy(joined, key, 24);
    memcpy(joined + 24, ws_guid, sizeof(ws_guid));
    unsigned char digest[SHA_DIGEST_LENGTH];
    unsigned int dlen = 0;
    if (EVP_Digest(joined, 24 + sizeof(ws_guid) - 1, digest, &dlen, EVP_sha1(), NULL) != 1 ||
        dlen != SHA_DIGEST_LENGTH)
        return -1;
    encode_base64_to(digest, SHA_DIGEST_LENGTH, out);
    return 0;
}

bool ws_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates, and past U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}
