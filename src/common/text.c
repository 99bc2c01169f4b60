#include "common/text.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not valid. */
static size_t utf8_valid_len(const uint8_t *p, size_t left)
{
    uint8_t c = p[0];
    if (c >= 0x01 && c < 0x80)
        return 1;
    size_t n;
    uint32_t min, cp;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        min = 0x80;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        min = 0x800;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        min = 0x10000;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

char *text_utf8_sanitize(const uint8_t *data, size_t len)
{
    /* Worst case every byte becomes three. */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_valid_len(data + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, data + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

void text_utf8_copy(char *out, size_t size, const char *in)
{
    const uint8_t *p = (const uint8_t *)in;
    size_t left = strlen(in), o = 0;
    while (left > 0) {
        size_t n = utf8_valid_len(p, left);
        const char *piece = n ? (const char *)p : "\xef\xbf\xbd";
        size_t piece_len = n ? n : 3;
        if (o + piece_len >= size)
            break;
        memcpy(out + o, piece, piece_len);
        o += piece_len;
        p += n ? n : 1;
        left -= n ? n : 1;
    }
    out[o] = '\0';
}

void rfc3339_now(char out[RFC3339_SIZE])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, RFC3339_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The code point of the valid UTF-8 character p[0..n) when it is one that
 * may print but must not reach a terminal raw, else 0: a C1 control
 * (U+0080-U+009F; U+009B is CSI on terminals that take 8-bit controls), or
 * a bidirectional formatting character (U+061C, U+200E-U+200F,
 * U+202A-U+202E, U+2066-U+2069), which reorders what follows it on the
 * screen so that a name can read as another. */
static uint32_t text_unsafe_code_point(const uint8_t *p, size_t n)
{
    uint32_t cp;
    if (n == 2)
        cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
    else if (n == 3)
        cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
    else
        return 0;
    if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
        (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
        return cp;
    return 0;
}

/* The escaped form of the character at p (of left bytes) into piece[8]:
 * returns its length, and in *used the bytes of in it stands for. */
static size_t escape_one(const uint8_t *p, size_t left, char piece[8], size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = utf8_valid_len(p, left);
    if (n == 0 || (n == 1 && (p[0] < 0x20 || p[0] == 0x7f))) {
        *used = 1;
        piece[0] = '\\';
        piece[1] = 'x';
        piece[2] = hex[p[0] >> 4];
        piece[3] = hex[p[0] & 0xf];
        return 4;
    }
    *used = n;
    if (n == 1 && p[0] == '\\') {
        piece[0] = piece[1] = '\\';
        return 2;
    }
    uint32_t cp = text_unsafe_code_point(p, n);
    if (cp != 0) {
        memcpy(piece, "\\u", 2);
        for (int i = 0; i < 4; i++)
            piece[2 + i] = hex[(cp >> (12 - 4 * i)) & 0xf];
        return 6;
    }
    memcpy(piece, p, n);
    return n;
}

void text_escape_terminal_copy(char *out, size_t size, const char *in)
{
    const uint8_t *p = (const uint8_t *)in;
    size_t left = strlen(in), o = 0;
    while (left > 0) {
        char piece[8];
        size_t used;
        size_t n = escape_one(p, left, piece, &used);
        if (o + n >= size)
            break;
        memcpy(out + o, piece, n);
        o += n;
        p += used;
        left -= used;
    }
    out[o] = '\0';
}

char *text_escape_terminal(const char *in)
{
    size_t len = strlen(in);
    if (len > (SIZE_MAX - 1) / 4)
        return NULL;
    size_t size = 4 * len + 1; /* no character grows more than fourfold */
    char *out = malloc(size);
    if (out != NULL)
        text_escape_terminal_copy(out, size, in);
    return out;
}

char *text_escape_json_terminal(const char *json)
{
    size_t len = strlen(json);
    if (len > (SIZE_MAX - 1) / 6)
        return NULL;
    char *out = malloc(6 * len + 1); /* one byte grows at most sixfold (\\u007f) */
    if (out == NULL)
        return NULL;
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)json;
    size_t left = len, o = 0;
    while (left > 0) {
        size_t n = utf8_valid_len(p, left);
        uint32_t cp = n == 0 ? 0xfffd : n == 1 && p[0] == 0x7f ? 0x7f : text_unsafe_code_point(p, n);
        if (cp != 0) {
            memcpy(out + o, "\\u", 2);
            for (int i = 0; i < 4; i++)
                out[o + 2 + i] = hex[(cp >> (12 - 4 * i)) & 0xf];
            o += 6;
            n = n ? n : 1;
        } else {
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        left -= n;
    }
    out[o] = '\0';
    return out;
}
