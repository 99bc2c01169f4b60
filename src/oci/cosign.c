/* cosign's key-based signature format.
 *
 * Private key file: PEM "ENCRYPTED SIGSTORE PRIVATE KEY" (older cosign:
 * "ENCRYPTED COSIGN PRIVATE KEY") whose bytes are the JSON document of
 * go-securesystemslib's encrypted package:
 *   {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":B64},
 *    "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}
 * with the PKCS#8 DER private key sealed by secretbox under
 * scrypt(password, salt, N, r, p, 32). Public key: PEM "PUBLIC KEY" (PKIX).
 *
 * Signature: ECDSA P-256 over SHA-256 of the simple-signing payload, ASN.1
 * DER, standard base64, in the layer annotation
 * dev.cosignproject.cosign/signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "common/cleanup.h"
#include "common/encode.h"
#include "oci/internal.h"

#define PEM_SIGSTORE "ENCRYPTED SIGSTORE PRIVATE KEY"
#define PEM_COSIGN "ENCRYPTED COSIGN PRIVATE KEY"
#define SCRYPT_N 32768
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 32
#define KEY_FILE_MAX (64u << 10)
#define COSIGN_TYPE "cosign container image signature"

static int sodium_ready(struct error *err)
{
    if (sodium_init() < 0)
        return error_set(err, ERR_INTERNAL, "cannot initialise libsodium");
    return 0;
}

static int openssl_error(struct error *err, enum error_kind kind, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return error_set(err, kind, "%s: %s", what, buf);
}

static char *bio_to_string(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

int cosign_public_key_pem(EVP_PKEY *key, char **out, struct error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, key) != 1) {
        BIO_free(bio);
        return openssl_error(err, ERR_INTERNAL, "writing the public key");
    }
    *out = bio_to_string(bio);
    BIO_free(bio);
    return *out ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

static int derive_key(const char *password, const unsigned char *salt, size_t salt_len,
                      uint64_t n, uint32_t r, uint32_t p, unsigned char key[32], struct error *err)
{
    if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)password, strlen(password), salt,
                                              salt_len, n, r, p, key, 32) != 0)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "scrypt failed (out of memory?)");
    return 0;
}

int cosign_keygen(const char *password, char **private_pem, char **public_pem, struct error *err)
{
    *private_pem = *public_pem = NULL;
    if (sodium_ready(err) < 0)
        return -1;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (key == NULL)
        return openssl_error(err, ERR_INTERNAL, "generating an ECDSA P-256 key");
    int ret = -1;
    unsigned char k[32]; /* the key that seals the private key: wiped at out */
    unsigned char *der = NULL;
    cleanup_free unsigned char *box = NULL;
    cleanup_free char *salt_b64 = NULL, *nonce_b64 = NULL, *box_b64 = NULL;
    char *json = NULL;
    BIO *bio = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    int der_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (der_len <= 0) {
        openssl_error(err, ERR_INTERNAL, "encoding the private key as PKCS#8");
        goto out;
    }
    unsigned char salt[SALT_LEN], nonce[crypto_secretbox_NONCEBYTES];
    randombytes_buf(salt, sizeof(salt));
    randombytes_buf(nonce, sizeof(nonce));
    if (derive_key(password, salt, sizeof(salt), SCRYPT_N, SCRYPT_R, SCRYPT_P, k, err) < 0)
        goto out;
    size_t box_len = (size_t)der_len + crypto_secretbox_MACBYTES;
    box = malloc(box_len);
    if (box == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    crypto_secretbox_easy(box, der, (unsigned long long)der_len, nonce, k);
    salt_b64 = encode_base64(salt, sizeof(salt));
    nonce_b64 = encode_base64(nonce, sizeof(nonce));
    box_b64 = encode_base64(box, box_len);
    if (!salt_b64 || !nonce_b64 || !box_b64) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    json_t *doc = json_pack("{s:{s:s,s:{s:i,s:i,s:i},s:s},s:{s:s,s:s},s:s}", "kdf", "name",
                            "scrypt", "params", "N", SCRYPT_N, "r", SCRYPT_R, "p", SCRYPT_P,
                            "salt", salt_b64, "cipher", "name", "nacl/secretbox", "nonce",
                            nonce_b64, "ciphertext", box_b64);
    json = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (json == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL ||
        PEM_write_bio(bio, PEM_SIGSTORE, "", (const unsigned char *)json, (long)strlen(json)) <= 0) {
        openssl_error(err, ERR_INTERNAL, "writing the private key PEM");
        goto out;
    }
    *private_pem = bio_to_string(bio);
    if (*private_pem == NULL || cosign_public_key_pem(key, public_pem, err) < 0) {
        free(*private_pem);
        *private_pem = NULL;
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    ret = 0;
out:
    sodium_memzero(k, sizeof(k));
    if (der != NULL) {
        OPENSSL_cleanse(der, (size_t)der_len);
        OPENSSL_free(der);
    }
    free(json);
    BIO_free(bio);
    EVP_PKEY_free(key);
    return ret;
}

static bool is_p256(EVP_PKEY *key)
{
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
        return false;
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &glen) != 1)
        return false;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

int cosign_private_key_load(const char *pem, size_t len, const char *password, EVP_PKEY **out,
                            struct error *err)
{
    *out = NULL;
    if (sodium_ready(err) < 0)
        return -1;
    if (len > KEY_FILE_MAX)
        return error_set(err, ERR_INVALID_ARGUMENT, "key file too big");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long data_len = 0;
    int ret = -1;
    json_t *doc = NULL;
    unsigned char *salt = NULL, *nonce = NULL, *box = NULL, *plain = NULL;
    size_t salt_len = 0, nonce_len = 0, box_len = 0;
    unsigned char k[32]; /* the key that opens the private key: wiped at out */
    if (bio == NULL || PEM_read_bio(bio, &name, &header, &data, &data_len) != 1) {
        ERR_clear_error();
        error_set(err, ERR_INVALID_ARGUMENT, "not a PEM key file");
        goto out;
    }
    if (strcmp(name, PEM_SIGSTORE) != 0 && strcmp(name, PEM_COSIGN) != 0) {
        error_set(err, ERR_INVALID_ARGUMENT,
                  "unsupported key type '%s' (want an encrypted cosign private key)", name);
        goto out;
    }
    json_error_t jerr;
    doc = json_loadb((const char *)data, (size_t)data_len, JSON_REJECT_DUPLICATES, &jerr);
    const char *kdf_name = NULL, *salt_b64 = NULL, *cipher_name = NULL, *nonce_b64 = NULL,
               *box_b64 = NULL;
    json_int_t n = 0, r = 0, p = 0;
    if (doc == NULL ||
        json_unpack(doc, "{s:{s:s,s:{s:I,s:I,s:I},s:s},s:{s:s,s:s},s:s}", "kdf", "name", &kdf_name,
                    "params", "N", &n, "r", &r, "p", &p, "salt", &salt_b64, "cipher", "name",
                    &cipher_name, "nonce", &nonce_b64, "ciphertext", &box_b64) != 0) {
        error_set(err, ERR_INVALID_ARGUMENT, "encrypted key is not cosign's JSON format");
        goto out;
    }
    if (strcmp(kdf_name, "scrypt") != 0 || strcmp(cipher_name, "nacl/secretbox") != 0) {
        error_set(err, ERR_INVALID_ARGUMENT, "unsupported key encryption %s/%s", kdf_name,
                  cipher_name);
        goto out;
    }
    /* Only the parameters cosign writes: a hostile file must not make us
     * spend gigabytes or hours in scrypt. */
    if (n != SCRYPT_N || r != SCRYPT_R || p != SCRYPT_P) {
        error_set(err, ERR_INVALID_ARGUMENT, "unexpected scrypt parameters N=%lld r=%lld p=%lld",
                  (long long)n, (long long)r, (long long)p);
        goto out;
    }
    if (decode_base64(salt_b64, strlen(salt_b64), &salt, &salt_len) < 0 ||
        decode_base64(nonce_b64, strlen(nonce_b64), &nonce, &nonce_len) < 0 ||
        decode_base64(box_b64, strlen(box_b64), &box, &box_len) < 0 || nonce_len != crypto_secretbox_NONCEBYTES ||
        box_len < crypto_secretbox_MACBYTES || salt_len == 0) {
        error_set(err, ERR_INVALID_ARGUMENT, "bad base64 or sizes in the encrypted key");
        goto out;
    }
    if (derive_key(password, salt, salt_len, (uint64_t)n, (uint32_t)r, (uint32_t)p, k, err) < 0)
        goto out;
    plain = malloc(box_len - crypto_secretbox_MACBYTES + 1);
    if (plain == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    int opened = crypto_secretbox_open_easy(plain, box, box_len, nonce, k);
    if (opened != 0) {
        error_set(err, ERR_PERMISSION_DENIED, "wrong password for the private key");
        goto out;
    }
    const unsigned char *q = plain;
    size_t plain_len = box_len - crypto_secretbox_MACBYTES;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)plain_len);
    EVP_PKEY *key = p8 ? EVP_PKCS82PKEY(p8) : NULL;
    PKCS8_PRIV_KEY_INFO_free(p8);
    sodium_memzero(plain, plain_len);
    if (key == NULL) {
        openssl_error(err, ERR_INVALID_ARGUMENT, "decrypted key is not PKCS#8");
        goto out;
    }
    if (!is_p256(key)) {
        EVP_PKEY_free(key);
        error_set(err, ERR_INVALID_ARGUMENT, "only ECDSA P-256 keys are supported");
        goto out;
    }
    *out = key;
    ret = 0;
out:
    sodium_memzero(k, sizeof(k));
    json_decref(doc);
    free(salt);
    free(nonce);
    free(box);
    free(plain);
    OPENSSL_free(name);
    OPENSSL_free(header);
    if (data != NULL) {
        OPENSSL_cleanse(data, (size_t)data_len);
        OPENSSL_free(data);
    }
    BIO_free(bio);
    return ret;
}

int cosign_public_key_load(const char *pem, size_t len, EVP_PKEY **out, struct error *err)
{
    *out = NULL;
    if (len > KEY_FILE_MAX)
        return error_set(err, ERR_INVALID_ARGUMENT, "key file too big");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (key == NULL)
        return openssl_error(err, ERR_INVALID_ARGUMENT, "not a PEM public key");
    if (!is_p256(key)) {
        EVP_PKEY_free(key);
        return error_set(err, ERR_INVALID_ARGUMENT, "only ECDSA P-256 public keys are supported");
    }
    *out = key;
    return 0;
}

int cosign_payload_build(const char *identity, const char *digest, char **out, size_t *len,
                         struct error *err)
{
    *out = NULL;
    if (!oci_digest_valid(digest))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad digest '%s'", digest);
    /* Member order and compact separators as Go's encoding/json writes the struct. */
    json_t *doc = json_pack("{s:{s:{s:s},s:{s:s},s:s},s:n}", "critical", "identity",
                            "docker-reference", identity, "image", "docker-manifest-digest",
                            digest, "type", COSIGN_TYPE, "optional");
    char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (s == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "cannot build the signature payload");
    *out = s;
    *len = strlen(s);
    return 0;
}

int cosign_payload_parse(const char *payload, size_t len, char identity[512], char digest[72],
                         struct error *err)
{
    identity[0] = digest[0] = '\0';
    if (len > OCI_SMALL_BLOB_MAX)
        return error_set(err, ERR_INVALID_ARGUMENT, "signature payload too big");
    json_error_t jerr;
    json_t *doc = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = NULL, *ref = NULL, *dig = NULL;
    int ret = -1;
    if (doc == NULL || json_unpack(doc, "{s:{s:{s:s},s:{s:s},s:s}}", "critical", "identity",
                                   "docker-reference", &ref, "image", "docker-manifest-digest",
                                   &dig, "type", &type) != 0) {
        error_set(err, ERR_INVALID_ARGUMENT, "signature payload is not a simple-signing document");
        goto out;
    }
    if (strcmp(type, COSIGN_TYPE) != 0) {
        error_set(err, ERR_INVALID_ARGUMENT, "signature payload of unknown type '%.100s'", type);
        goto out;
    }
    if (!oci_digest_valid(dig) || strlen(ref) >= 512) {
        error_set(err, ERR_INVALID_ARGUMENT, "signature payload has a bad digest or reference");
        goto out;
    }
    snprintf(identity, 512, "%s", ref);
    memcpy(digest, dig, 72);
    ret = 0;
out:
    json_decref(doc);
    return ret;
}

int cosign_sign_data(EVP_PKEY *key, const void *data, size_t len, char **sig_b64,
                     struct error *err)
{
    *sig_b64 = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sig_len = 0;
    unsigned char *sig = NULL;
    int ret = -1;
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1 || (sig = malloc(sig_len)) == NULL ||
        EVP_DigestSign(ctx, sig, &sig_len, data, len) != 1) {
        openssl_error(err, ERR_INTERNAL, "signing");
        goto out;
    }
    *sig_b64 = encode_base64(sig, sig_len);
    if (*sig_b64 == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    ret = 0;
out:
    free(sig);
    EVP_MD_CTX_free(ctx);
    return ret;
}

int cosign_verify_data(EVP_PKEY *key, const void *data, size_t len, const char *sig_b64,
                       struct error *err)
{
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    if (strlen(sig_b64) > 1024 || decode_base64(sig_b64, strlen(sig_b64), &sig, &sig_len) < 0)
        return error_set(err, ERR_PERMISSION_DENIED, "signature is not valid base64");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    free(sig);
    ERR_clear_error();
    if (!ok)
        return error_set(err, ERR_PERMISSION_DENIED, "signature does not verify with this key");
    return 0;
}

int cosign_signature_tag(const char *digest, char *buf, size_t size)
{
    if (!oci_digest_valid(digest))
        return -1;
    int n = snprintf(buf, size, "sha256-%s.sig", digest + 7);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
