/* Checkpoints as C2SP signed notes (c2sp.org/signed-note) carrying a
 * C2SP tlog-checkpoint body (c2sp.org/tlog-checkpoint):
 *
 *   <origin>\n <tree size>\n <base64 root>\n time_ns <unix ns>\n
 *   \n
 *   — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>\n
 *
 * The signature covers the body (everything up to and including the newline
 * before the blank line). The parser treats its input as hostile: bounded
 * size, a strict character set, canonical numbers and base64. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit_internal.h"

#define ORIGIN_PREFIX "enclave.local/audit/"
#define EM_DASH "\xe2\x80\x94"
#define MAX_SIGNATURES 16

static int fail(struct error *err, const char *what)
{
    return error_set(err, ERR_INVALID_ARGUMENT, "checkpoint note: %s", what);
}

int audit_note_origin(EVP_PKEY *key, char out[AUDIT_NOTE_MAX_ORIGIN], struct error *err)
{
    char key_id[AUDIT_HASH_HEX_SIZE];
    if (audit_key_id(key, key_id, err) < 0)
        return -1;
    snprintf(out, AUDIT_NOTE_MAX_ORIGIN, ORIGIN_PREFIX "%.16s", key_id);
    return 0;
}

/* First four bytes of SHA-256(name || "\n" || 0x01 || public key). */
static int key_hash(EVP_PKEY *key, const char *name, unsigned char out[4])
{
    unsigned char raw[32];
    size_t rawlen = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 || rawlen != 32)
        return -1;
    size_t nlen = strlen(name);
    unsigned char buf[AUDIT_NOTE_MAX_ORIGIN + 2 + 32];
    if (nlen >= AUDIT_NOTE_MAX_ORIGIN)
        return -1;
    memcpy(buf, name, nlen);
    buf[nlen] = '\n';
    buf[nlen + 1] = 0x01;
    memcpy(buf + nlen + 2, raw, 32);
    unsigned char md[DIGEST_SHA256_SIZE];
    digest_sha256(buf, nlen + 2 + 32, md);
    memcpy(out, md, 4);
    return 0;
}

int audit_note_body(const char *origin, uint64_t size, const uint8_t root[AUDIT_MERKLE_HASH],
                    int64_t time_ns, char *out, size_t out_size)
{
    char root_b64[45];
    encode_base64_to(root, AUDIT_MERKLE_HASH, root_b64);
    int n = snprintf(out, out_size, "%s\n%" PRIu64 "\n%s\ntime_ns %" PRId64 "\n", origin, size,
                     root_b64, time_ns);
    return n < 0 || (size_t)n >= out_size ? -1 : n;
}

int audit_note_sign(EVP_PKEY *key, uint64_t size, const uint8_t root[AUDIT_MERKLE_HASH],
                    int64_t time_ns, char **note, struct error *err)
{
    char origin[AUDIT_NOTE_MAX_ORIGIN];
    char body[AUDIT_NOTE_MAX];
    if (audit_note_origin(key, origin, err) < 0)
        return -1;
    int blen = audit_note_body(origin, size, root, time_ns, body, sizeof(body));
    if (blen < 0)
        return error_set(err, ERR_INTERNAL, "checkpoint note too long");
    unsigned char sig[4 + 64];
    size_t siglen = 64;
    if (key_hash(key, origin, sig) < 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "not an Ed25519 key");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
              EVP_DigestSign(ctx, sig + 4, &siglen, (const unsigned char *)body, (size_t)blen) == 1 &&
              siglen == 64;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return error_set(err, ERR_INTERNAL, "Ed25519 signing of checkpoint %" PRIu64 " failed",
                         size);
    char sig_b64[93];
    encode_base64_to(sig, sizeof(sig), sig_b64);
    size_t total = (size_t)blen + 1 + strlen(EM_DASH) + 1 + strlen(origin) + 1 + strlen(sig_b64) + 2;
    char *text = malloc(total);
    if (text == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    memcpy(text, body, (size_t)blen);
    snprintf(text + blen, total - (size_t)blen, "\n" EM_DASH " %s %s\n", origin, sig_b64);
    *note = text;
    return 0;
}

/* Strict decimal: digits only, no leading zero (except "0"), fits in 63 bits. */
static bool parse_u63(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = v;
    return true;
}

/* Allowed bytes: printable ASCII, newline, and the em dash that starts a
 * signature line (our notes carry nothing else). */
static bool charset_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || (c >= 0x20 && c < 0x7f))
            continue;
        if (i + 3 <= n && memcmp(s + i, EM_DASH, 3) == 0) {
            i += 2;
            continue;
        }
        return false;
    }
    return true;
}

int audit_note_parse(const char *text, size_t len, struct audit_note *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > AUDIT_NOTE_MAX)
        return fail(err, "empty or too long");
    if (!charset_ok(text, len))
        return fail(err, "a byte that a checkpoint never holds");
    if (text[len - 1] != '\n')
        return fail(err, "does not end with a newline");
    /* The body ends at the first blank line. */
    const char *blank = memmem(text, len, "\n\n", 2);
    if (blank == NULL)
        return fail(err, "no blank line before the signatures");
    out->body_len = (size_t)(blank - text) + 1;

    /* Body lines. */
    const char *p = text, *end = text + out->body_len;
    const char *lines[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return fail(err, "fewer than three lines (origin, size, root)");
        lines[i] = p;
        lens[i] = (size_t)(nl - p);
        p = nl + 1;
    }
    if (lens[0] == 0 || lens[0] >= AUDIT_NOTE_MAX_ORIGIN)
        return fail(err, "empty or too long origin");
    memcpy(out->origin, lines[0], lens[0]);
    out->origin[lens[0]] = '\0';
    if (!parse_u63(lines[1], lens[1], &out->size))
        return fail(err, "the tree size is not a plain decimal number");
    if (!decode_base64_exact(lines[2], lens[2], out->root, AUDIT_MERKLE_HASH))
        return fail(err, "the root is not base64 of 32 bytes");
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        if (n == 0)
            return fail(err, "empty extension line");
        static const char tag[] = "time_ns ";
        if (n > sizeof(tag) - 1 && memcmp(p, tag, sizeof(tag) - 1) == 0) {
            uint64_t t;
            if (out->has_time || !parse_u63(p + sizeof(tag) - 1, n - (sizeof(tag) - 1), &t))
                return fail(err, "bad or repeated time_ns line");
            out->has_time = true;
            out->time_ns = (int64_t)t;
        }
        p = nl + 1;
    }

    /* Signature lines: "— NAME BASE64\n", at least one. */
    p = blank + 2;
    end = text + len;
    if (p >= end)
        return fail(err, "no signature");
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        if (out->nsigs == MAX_SIGNATURES)
            return fail(err, "too many signatures");
        if (n < 4 || memcmp(p, EM_DASH " ", 4) != 0)
            return fail(err, "a signature line does not start with an em dash and a space");
        const char *name = p + 4;
        const char *sp = memchr(name, ' ', (size_t)(nl - name));
        if (sp == NULL || sp == name || (size_t)(sp - name) >= AUDIT_NOTE_MAX_ORIGIN)
            return fail(err, "a signature line has no key name");
        const char *b64 = sp + 1;
        size_t b64len = (size_t)(nl - b64);
        if (memchr(b64, ' ', b64len) != NULL || b64len < 8)
            return fail(err, "a signature line is malformed");
        /* Ours are Ed25519: 4 + 64 bytes. Others are kept only by count. */
        struct audit_note_sig *s = &out->sigs[out->nsigs];
        memcpy(s->name, name, (size_t)(sp - name));
        s->name[sp - name] = '\0';
        s->ed25519 = decode_base64_exact(b64, b64len, s->blob, sizeof(s->blob));
        out->nsigs++;
        p = nl + 1;
    }
    return 0;
}

int audit_note_verify(EVP_PKEY *key, const char *text, size_t len, struct audit_note *out,
                      struct error *err)
{
    if (audit_note_parse(text, len, out, err) < 0)
        return -1;
    char origin[AUDIT_NOTE_MAX_ORIGIN];
    unsigned char hash[4];
    if (audit_note_origin(key, origin, err) < 0 || key_hash(key, origin, hash) < 0)
        return fail(err, "the key is not an Ed25519 key");
    if (strcmp(out->origin, origin) != 0)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "checkpoint note: origin is '%.64s', the key's log is '%s'", out->origin,
                         origin);
    for (unsigned i = 0; i < out->nsigs; i++) {
        const struct audit_note_sig *s = &out->sigs[i];
        if (!s->ed25519 || strcmp(s->name, origin) != 0 || memcmp(s->blob, hash, 4) != 0)
            continue;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
                  EVP_DigestVerify(ctx, s->blob + 4, 64, (const unsigned char *)text,
                                   out->body_len) == 1;
        EVP_MD_CTX_free(ctx);
        if (ok)
            return 0;
        return fail(err, "the signature does not verify");
    }
    return fail(err, "not signed by this log's key");
}
