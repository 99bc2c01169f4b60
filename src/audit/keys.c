/* The Ed25519 checkpoint key: created on first use as key_dir/audit.key
 * (PKCS#8 PEM, 0600) and key_dir/audit.pub (SubjectPublicKeyInfo PEM). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit/audit_internal.h"
#include "common/cleanup.h"
#include "common/file.h"
#include "common/log.h"
#include "common/paths.h"

/* Largest key file read; an Ed25519 PEM is about 120 bytes. */
#define MAX_KEY_FILE 16384

int audit_key_id(EVP_PKEY *key, char key_id[AUDIT_HASH_HEX_SIZE], struct error *err)
{
    unsigned char raw[32];
    size_t len = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != 32)
        return error_set(err, ERR_INVALID_ARGUMENT, "not an Ed25519 key");
    digest_sha256_hex(raw, len, key_id);
    return 0;
}

static int read_small_file(const char *path, char **out, size_t *out_len, struct error *err)
{
    return file_read_all(path, MAX_KEY_FILE, out, out_len, err);
}

int audit_pubkey_from_pem(const char *pem, size_t len, EVP_PKEY **key, struct error *err)
{
    if (len > MAX_KEY_FILE)
        return error_set(err, ERR_INVALID_ARGUMENT, "public key too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (k == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "not a PEM public key");
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return error_set(err, ERR_INVALID_ARGUMENT, "the public key is not Ed25519");
    }
    *key = k;
    return 0;
}

int audit_pubkey_load_file(const char *path, EVP_PKEY **key, struct error *err)
{
    cleanup_free char *pem = NULL;
    size_t len = 0;
    if (read_small_file(path, &pem, &len, err) < 0)
        return -1;
    if (audit_pubkey_from_pem(pem, len, key, err) < 0)
        return error_prefix(err, "%s", path);
    return 0;
}

static int public_pem(EVP_PKEY *key, char **out, struct error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, key) != 1) {
        BIO_free(bio);
        return error_set(err, ERR_INTERNAL, "encoding the public key");
    }
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *s = n > 0 ? strndup(data, (size_t)n) : NULL;
    BIO_free(bio);
    if (s == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    *out = s;
    return 0;
}

static int load_private_key(const char *path, EVP_PKEY **key, struct error *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "stat %s",
                               path);
    if (!S_ISREG(st.st_mode))
        return error_set(err, ERR_FAILED_PRECONDITION, "%s is not a regular file", path);
    if ((st.st_mode & 077) != 0)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "%s is readable by others (mode %03o); it must be 0600", path,
                         (unsigned)(st.st_mode & 0777));
    cleanup_free char *pem = NULL;
    size_t len = 0;
    if (read_small_file(path, &pem, &len, err) < 0)
        return -1;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    bool no_memory = bio == NULL;
    /* OpenSSL reads a private key PEM through buffers it wipes itself */
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(pem, len);
    if (no_memory)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    if (k == NULL)
        return error_set(err, ERR_FAILED_PRECONDITION, "%s is not a PEM private key", path);
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return error_set(err, ERR_FAILED_PRECONDITION, "%s is not an Ed25519 key", path);
    }
    *key = k;
    return 0;
}

static int create_private_key(const char *path, struct error *err)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (k == NULL)
        return error_set(err, ERR_INTERNAL, "generating an Ed25519 key");
    /* The PEM is written from the BIO's own buffer, never copied: a secure
     * memory BIO wipes what it held when it grows and when it is freed, and
     * the bytes are wiped here as well before it is. */
    BIO *bio = BIO_new(BIO_s_secmem());
    int ret = -1;
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1) {
        error_set(err, ERR_INTERNAL, "encoding the private key");
        goto out;
    }
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    if (n <= 0 || pem == NULL) {
        error_set(err, ERR_INTERNAL, "encoding the private key");
        goto out;
    }
    /* not over an existing key: a concurrent creator's key is kept */
    static const struct file_replace_options opt = { .mode = 0600, .no_replace = true };
    struct error werr;
    ret = file_replace(path, pem, (size_t)n, &opt, &werr);
    OPENSSL_cleanse(pem, (size_t)n);
    if (ret == 0)
        log_info("audit: created the checkpoint signing key %s", path);
    else if (werr.kind == ERR_ALREADY_EXISTS)
        ret = 0;
    else if (err != NULL)
        *err = werr;
out:
    BIO_free(bio);
    EVP_PKEY_free(k);
    return ret < 0 ? -1 : 0;
}

int audit_keys_load_or_create(const char *key_dir, EVP_PKEY **key, char **pub_pem,
                              char key_id[AUDIT_HASH_HEX_SIZE], struct error *err)
{
    char key_path[4096], pub_path[4096];
    if ((size_t)snprintf(key_path, sizeof(key_path), "%s/audit.key", key_dir) >= sizeof(key_path) ||
        (size_t)snprintf(pub_path, sizeof(pub_path), "%s/audit.pub", key_dir) >= sizeof(pub_path))
        return error_set(err, ERR_INVALID_ARGUMENT, "key folder path too long");
    if (paths_mkdir_p(key_dir, 0700, err) < 0)
        return -1;

    EVP_PKEY *k = NULL;
    struct error load_err;
    if (load_private_key(key_path, &k, &load_err) < 0) {
        if (load_err.kind != ERR_NOT_FOUND) {
            if (err != NULL)
                *err = load_err;
            return -1;
        }
        /* A concurrent creator wins the link(); then its key is loaded. */
        if (create_private_key(key_path, err) < 0 ||
            load_private_key(key_path, &k, err) < 0)
            return -1;
    }
    cleanup_free char *pem = NULL;
    if (public_pem(k, &pem, err) < 0 || audit_key_id(k, key_id, err) < 0) {
        EVP_PKEY_free(k);
        return -1;
    }
    /* audit.pub is derived; rewrite it if it is missing or does not match. */
    cleanup_free char *have = NULL;
    size_t have_len = 0;
    struct error ignored;
    if (read_small_file(pub_path, &have, &have_len, &ignored) < 0 || strcmp(have, pem) != 0) {
        if (have != NULL)
            log_warn("audit: %s did not match %s; rewriting it", pub_path, key_path);
        static const struct file_replace_options opt = { .mode = 0644 };
        if (file_replace(pub_path, pem, strlen(pem), &opt, err) < 0) {
            EVP_PKEY_free(k);
            return -1;
        }
    }
    *key = k;
    *pub_pem = steal_pointer(&pem);
    return 0;
}
