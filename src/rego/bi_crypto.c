/* io.jwt.decode and io.jwt.verify_hs256/rs256/es256 (signatures checked
 * with OpenSSL), uuid.rfc4122 and rand.intn (random, remembered per
 * evaluation as OPA does). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "rego/bi.h"
#include "rego/mem.h" /* last: malloc and free are Rego's (mem.h) */

/* Go's base64.RawURLEncoding (padding tolerated, as OPA strips it): < 0
 * with the offending byte's index in *bad. */
static int b64url(const char *s, size_t n, struct sbuf *out, size_t *bad)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    while (n > 0 && s[n - 1] == '=')
        n--;
    size_t at = bi_base64_chars(s, n, alpha, out);
    if (at != n) {
        *bad = at;
        return -1;
    }
    if (n % 4 == 1) {
        *bad = n - 1;
        return -1;
    }
    if (!out->s)
        sb_add(out, "", 0);
    return 0;
}

struct jwt {
    const char *part[3];
    size_t len[3];
};

static int jwt_split(struct ev *ev, struct rv *tok, struct jwt *j)
{
    const char *s = S(tok);
    size_t n = SL(tok);
    const char *d1 = memchr(s, '.', n);
    if (!d1)
        return bi_error(ev, "encoded JWT had no period separators");
    size_t count = 1;
    for (size_t i = 0; i < n; i++)
        count += s[i] == '.';
    if (count != 3)
        return bi_error(ev, "encoded JWT must have 3 sections, found %zu", count);
    const char *d2 = memchr(d1 + 1, '.', (size_t)(s + n - d1 - 1));
    j->part[0] = s;
    j->len[0] = (size_t)(d1 - s);
    j->part[1] = d1 + 1;
    j->len[1] = (size_t)(d2 - d1 - 1);
    j->part[2] = d2 + 1;
    j->len[2] = (size_t)(s + n - d2 - 1);
    return 0;
}

static int decode_json_part(struct ev *ev, const char *what, const char *p, size_t n, struct rv **out)
{
    struct sbuf b = { 0 };
    size_t bad;
    if (b64url(p, n, &b, &bad) < 0) {
        free(b.s);
        return bi_error(ev, "JWT %s had invalid encoding: illegal base64 data at input byte %zu", what, bad);
    }
    json_error_t je;
    json_t *j = json_loadb(b.s, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    free(b.s);
    if (!j)
        return bi_error(ev, "JWT %s had invalid JSON: %s", what, je.text);
    const char *why;
    *out = rv_from_json(j, &why);
    json_decref(j);
    if (!*out)
        return bi_error(ev, "JWT %s: %s", what, why);
    return 0;
}

static int jwt_decode(struct ev *ev, struct rv *tok, int depth, struct rv **out)
{
    struct jwt j;
    if (jwt_split(ev, tok, &j) < 0)
        return -1;
    struct rv *header = NULL, *payload = NULL;
    if (decode_json_part(ev, "header", j.part[0], j.len[0], &header) < 0)
        return -1;
    if (header->type != RV_OBJECT) {
        rv_decref(header);
        return bi_error(ev, "JWT header is not a JSON object");
    }
    if (rv_object_get_str(header, "enc")) {
        rv_decref(header);
        return bi_error(ev, "JWT is a JWE object, which is not supported");
    }
    struct rv *cty = rv_object_get_str(header, "cty");
    if (cty && cty->type == RV_STRING && strcmp(S(cty), "JWT") == 0) {
        /* a nested token: the payload is a JSON string holding it */
        struct rv *inner = NULL;
        rv_decref(header);
        if (depth > 8)
            return bi_error(ev, "JWT nested too deeply");
        if (decode_json_part(ev, "payload", j.part[1], j.len[1], &inner) < 0)
            return -1;
        if (inner->type != RV_STRING) {
            rv_decref(inner);
            return bi_error(ev, "JWT payload of a nested token is not a string");
        }
        int rc = jwt_decode(ev, inner, depth + 1, out);
        rv_decref(inner);
        return rc;
    }
    if (decode_json_part(ev, "payload", j.part[1], j.len[1], &payload) < 0) {
        rv_decref(header);
        return -1;
    }
    if (payload->type != RV_OBJECT) {
        rv_decref(header);
        rv_decref(payload);
        return bi_error(ev, "JWT payload is not a JSON object");
    }
    struct sbuf sig = { 0 }, hex = { 0 };
    size_t bad;
    if (b64url(j.part[2], j.len[2], &sig, &bad) < 0) {
        free(sig.s);
        rv_decref(header);
        rv_decref(payload);
        return bi_error(ev, "JWT signature had invalid encoding: illegal base64 data at input byte %zu", bad);
    }
    for (size_t i = 0; i < sig.len; i++)
        sb_printf(&hex, "%02x", (unsigned char)sig.s[i]);
    if (!hex.s)
        sb_add(&hex, "", 0);
    free(sig.s);
    struct rvbuf r = { 0 };
    rvbuf_push(&r, header);
    rvbuf_push(&r, payload);
    rvbuf_push(&r, bi_string_of(&hex));
    *out = rv_array_take(&r);
    return 0;
}

BI_FN(bi_jwt_decode)
{
    WANT(0, RV_STRING);
    return jwt_decode(ev, a[0], 0, out);
}

/* The signing input and the raw signature of the token a[0], for a
 * verify builtin (token, key). */
static int jwt_signed(struct ev *ev, struct rv **a, struct jwt *j, struct sbuf *sig)
{
    WANT(0, RV_STRING);
    WANT(1, RV_STRING);
    if (jwt_split(ev, a[0], j) < 0)
        return -1;
    size_t bad;
    if (b64url(j->part[2], j->len[2], sig, &bad) < 0) {
        free(sig->s);
        sig->s = NULL;
        return bi_error(ev, "JWT signature had invalid encoding: illegal base64 data at input byte %zu", bad);
    }
    return 0;
}

BI_FN(bi_jwt_verify_hs256)
{
    struct jwt j;
    struct sbuf sig = { 0 };
    if (jwt_signed(ev, a, &j, &sig) < 0)
        return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    size_t signed_len = j.len[0] + 1 + j.len[1];
    bool ok = HMAC(EVP_sha256(), S(a[1]), (int)SL(a[1]), (const unsigned char *)j.part[0], signed_len, mac, &ml) &&
              sig.len == ml && CRYPTO_memcmp(mac, sig.s, ml) == 0;
    free(sig.s);
    *out = rv_bool(ok);
    return 0;
}

/* A public key from PEM: a certificate or a public key. */
static EVP_PKEY *load_key(const char *pem, size_t n)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    if (!bio)
        return NULL;
    EVP_PKEY *k = NULL;
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x) {
        k = X509_get_pubkey(x);
        X509_free(x);
    } else {
        BIO_free(bio);
        bio = BIO_new_mem_buf(pem, (int)n);
        if (bio)
            k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    return k;
}

static int verify_pkey(struct ev *ev, struct rv **a, struct rv **out, int type)
{
    struct jwt j;
    struct sbuf sig = { 0 };
    if (jwt_signed(ev, a, &j, &sig) < 0)
        return -1;
    EVP_PKEY *key = load_key(S(a[1]), SL(a[1]));
    if (!key) {
        free(sig.s);
        return bi_error(ev, "failed to parse a PEM certificate or public key");
    }
    bool ok = false;
    if (EVP_PKEY_base_id(key) == type) {
        unsigned char *der = NULL;
        size_t derlen = sig.len;
        const unsigned char *s = (const unsigned char *)sig.s;
        if (type == EVP_PKEY_EC) {
            /* JWS: r || s, 32 bytes each for P-256; OpenSSL wants DER */
            if (sig.len == 64) {
                ECDSA_SIG *es = ECDSA_SIG_new();
                BIGNUM *r = BN_bin2bn(s, 32, NULL), *ss = BN_bin2bn(s + 32, 32, NULL);
                if (es && r && ss && ECDSA_SIG_set0(es, r, ss)) {
                    r = ss = NULL;
                    int l = i2d_ECDSA_SIG(es, &der);
                    derlen = l > 0 ? (size_t)l : 0;
                }
                BN_free(r);
                BN_free(ss);
                ECDSA_SIG_free(es);
            }
            s = der;
        }
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (s && derlen && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1)
            ok = EVP_DigestVerify(md, s, derlen, (const unsigned char *)j.part[0], j.len[0] + 1 + j.len[1]) == 1;
        EVP_MD_CTX_free(md);
        OPENSSL_free(der);
    }
    EVP_PKEY_free(key);
    free(sig.s);
    *out = rv_bool(ok);
    return 0;
}
BI_FN(bi_jwt_verify_rs256) { return verify_pkey(ev, a, out, EVP_PKEY_RSA); }
BI_FN(bi_jwt_verify_es256) { return verify_pkey(ev, a, out, EVP_PKEY_EC); }

/* ------------------------------------------------------------------ uuid, rand */

/* The value remembered for (name, args) in this evaluation, or NULL. */
static struct rv *memo_key(const char *name, struct rv **a, int n)
{
    struct rvbuf k = { 0 };
    rvbuf_push(&k, rv_cstr(name));
    for (int i = 0; i < n; i++)
        rvbuf_push(&k, rv_incref(a[i]));
    return rv_array_take(&k);
}

static struct rv *memo_get(struct ev *ev, struct rv *key)
{
    return ev->memo ? rv_object_get(ev->memo, key) : NULL;
}

static void memo_put(struct ev *ev, struct rv *key, struct rv *val)
{
    struct rv *empty = ev->memo ? NULL : rv_empty_object();
    struct rv *next = rv_object_put(ev->memo ? ev->memo : empty, key, val);
    rv_decref(empty);
    rv_decref(ev->memo);
    ev->memo = next;
}

BI_FN(bi_uuid_rfc4122)
{
    WANT(0, RV_STRING);
    struct rv *key = memo_key("uuid.rfc4122", a, 1), *v = memo_get(ev, key);
    if (v) {
        *out = rv_incref(v);
        rv_decref(key);
        return 0;
    }
    unsigned char u[16];
    if (RAND_bytes(u, sizeof u) != 1) {
        rv_decref(key);
        return bi_error(ev, "no random bytes");
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);   /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    char s[37];
    snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    *out = rv_cstr(s);
    memo_put(ev, key, *out);
    rv_decref(key);
    return 0;
}

BI_FN(bi_rand_intn)
{
    WANT(0, RV_STRING);
    int64_t n;
    if (bi_want_int(ev, a, 1, &n) < 0)
        return -1;
    if (n == 0) {
        *out = rv_int(0);
        return 0;
    }
    if (n < 0)
        n = n == INT64_MIN ? INT64_MAX : -n;
    struct rv *key = memo_key("rand.intn", a, 2), *v = memo_get(ev, key);
    if (v) {
        *out = rv_incref(v);
        rv_decref(key);
        return 0;
    }
    uint64_t r, lim = UINT64_MAX - UINT64_MAX % (uint64_t)n;
    do {
        if (RAND_bytes((unsigned char *)&r, sizeof r) != 1) {
            rv_decref(key);
            return bi_error(ev, "no random bytes");
        }
    } while (r >= lim);
    *out = rv_int((int64_t)(r % (uint64_t)n));
    memo_put(ev, key, *out);
    rv_decref(key);
    return 0;
}
