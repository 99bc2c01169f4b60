/* SHA-256 of a buffer, a descriptor or a file, as bytes or lowercase hex (OpenSSL). */
#ifndef ENCLAVE_COMMON_DIGEST_H
#define ENCLAVE_COMMON_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/error.h"

#define DIGEST_SHA256_SIZE 32
#define DIGEST_SHA256_HEX_SIZE 65 /* 64 hex digits and a NUL */

/* SHA-256 fetched once: EVP_sha256() looks the implementation up under a
 * lock on every use, which shows up when the audit writer hashes many records. */
const EVP_MD *digest_sha256_md(void);

void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_SIZE]);
void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX_SIZE]);

/* Reads fd from where it stands to its end; *size (may be NULL) gets the
 * number of bytes read. */
int digest_sha256_fd(int fd, char hex[DIGEST_SHA256_HEX_SIZE], uint64_t *size, struct error *err);
/* The same for the file at path (not following a symbolic link at the end);
 * ERR_NOT_FOUND when it does not exist. */
int digest_sha256_file(const char *path, char hex[DIGEST_SHA256_HEX_SIZE], uint64_t *size,
                       struct error *err);

#endif
