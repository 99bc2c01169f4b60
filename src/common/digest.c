#include "common/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/encode.h"

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *digest_sha256_md(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md != NULL ? sha256_md : EVP_sha256();
}

void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_SIZE])
{
    unsigned int mdlen = 0;
    EVP_Digest(data, len, out, &mdlen, digest_sha256_md(), NULL);
}

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX_SIZE])
{
    unsigned char md[DIGEST_SHA256_SIZE];
    digest_sha256(data, len, md);
    encode_hex(md, sizeof(md), out);
}

static void md_ctx_freep(EVP_MD_CTX **c)
{
    EVP_MD_CTX_free(*c);
}

int digest_sha256_fd(int fd, char hex[DIGEST_SHA256_HEX_SIZE], uint64_t *size, struct error *err)
{
    __attribute__((cleanup(md_ctx_freep))) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, digest_sha256_md(), NULL) != 1)
        return error_set(err, ERR_INTERNAL, "cannot start SHA-256");
    unsigned char buf[1 << 16];
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return error_set_errno(err, ERR_INTERNAL, "reading");
        if (r == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
            return error_set(err, ERR_INTERNAL, "SHA-256 update failed");
        total += (uint64_t)r;
    }
    unsigned char md[DIGEST_SHA256_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != sizeof(md))
        return error_set(err, ERR_INTERNAL, "SHA-256 final failed");
    encode_hex(md, sizeof(md), hex);
    if (size != NULL)
        *size = total;
    return 0;
}

int digest_sha256_file(const char *path, char hex[DIGEST_SHA256_HEX_SIZE], uint64_t *size,
                       struct error *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "opening %s",
                               path);
    return digest_sha256_fd(fd, hex, size, err);
}
