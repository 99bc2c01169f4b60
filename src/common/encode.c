#include "common/encode.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

void encode_hex(const void *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool decode_hex(const char *text, unsigned char *out, size_t len)
{
    for (size_t i = 0; i < 2 * len; i++)
        if (hex_value(text[i]) < 0)
            return false;
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
    return true;
}

size_t encode_base64_to(const void *in, size_t len, char *out)
{
    sodium_bin2base64(out, ENCODE_BASE64_SIZE(len), in, len, sodium_base64_VARIANT_ORIGINAL);
    return ENCODE_BASE64_SIZE(len) - 1;
}

char *encode_base64(const void *in, size_t len)
{
    if (len > (SIZE_MAX - 4) / 4 * 3 - 3)
        return NULL;
    char *out = malloc(ENCODE_BASE64_SIZE(len));
    if (out != NULL)
        encode_base64_to(in, len, out);
    return out;
}

int decode_base64(const char *text, size_t n, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t cap = n / 4 * 3 + 3;
    cleanup_free unsigned char *buf = malloc(cap + 1);
    if (buf == NULL)
        return -1;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(buf, cap, text, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text + n)
        return -1;
    buf[got] = '\0';
    *out = steal_pointer(&buf);
    *out_len = got;
    return 0;
}

bool decode_base64_exact(const char *text, size_t n, unsigned char *out, size_t want)
{
    if (n != ENCODE_BASE64_SIZE(want) - 1)
        return false;
    cleanup_free unsigned char *buf = NULL;
    size_t got = 0;
    if (decode_base64(text, n, &buf, &got) < 0 || got != want)
        return false;
    memcpy(out, buf, want);
    return true;
}

int decode_base64_lenient(const char *text, size_t n, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* Padding is optional, but when present it must complete the last quantum. */
    size_t data_len = n;
    if (n > 0 && text[n - 1] == '=') {
        if (n % 4 != 0)
            return -1;
        data_len--;
        if (text[data_len - 1] == '=')
            data_len--;
    }
    if (data_len % 4 == 1)
        return -1;
    /* One alphabet and full quanta for OpenSSL, which ignores unused bits. */
    size_t padded = (data_len + 3) / 4 * 4;
    cleanup_free unsigned char *norm = malloc(padded + 1);
    cleanup_free unsigned char *buf = malloc(padded / 4 * 3 + 1);
    if (norm == NULL || buf == NULL)
        return -1;
    for (size_t i = 0; i < data_len; i++) {
        char c = text[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '+' || c == '/'))
            return -1;
        norm[i] = (unsigned char)c;
    }
    memset(norm + data_len, '=', padded - data_len);
    int got = padded == 0 ? 0 : EVP_DecodeBlock(buf, norm, (int)padded);
    if (got < 0)
        return -1;
    size_t len = (size_t)got - (padded - data_len);
    buf[len] = '\0';
    *out = steal_pointer(&buf);
    *out_len = len;
    return 0;
}
