/* The secret store (secret.h): one 0600 file per secret in a 0700 folder. */
#include "secret/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/cleanup.h"
#include "common/file.h"
#include "common/paths.h"

bool secret_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SECRET_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

int secret_value_check(const char *value, size_t len, struct error *err)
{
    if (len == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "the secret is empty");
    if (len > SECRET_VALUE_MAX)
        return error_set(err, ERR_INVALID_ARGUMENT, "the secret is longer than %d bytes", SECRET_VALUE_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '\t' || c == ' ') {
            if (i == 0 || i == len - 1)
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "the secret begins or ends with whitespace (an HTTP header value cannot)");
            continue;
        }
        if (c < 0x21 || c > 0x7e)
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "the secret has a byte that an HTTP header value cannot carry at offset %zu "
                             "(only visible ASCII, spaces and tabs)",
                             i);
    }
    return 0;
}

int secret_default_dir(char *buf, size_t size, struct error *err)
{
    return paths_home(buf, size, "secrets", err);
}

/* Opens dir and checks it is a folder of this user's alone. */
static int open_dir(const char *dir, int *out, struct error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_FAILED_PRECONDITION,
                               "cannot open the secret store %s", dir);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return error_set_errno(err, ERR_INTERNAL, "stat %s", dir);
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        close(fd);
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "the secret store %s must belong to uid %u and be mode 0700 (it is uid %u, mode %04o)",
                         dir, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    }
    *out = fd;
    return 0;
}

static int check_name(const char *name, struct error *err)
{
    if (!secret_name_valid(name))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "bad secret name '%.80s': 1-%d letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit",
                         name ? name : "", SECRET_NAME_MAX);
    return 0;
}

/* Checks name and opens the store for reading or removing it: a missing
 * store means no secret of that name. */
static int open_store_for(const char *dir, const char *name, int *out, struct error *err)
{
    if (check_name(name, err) < 0)
        return -1;
    if (open_dir(dir, out, err) < 0) {
        if (err && err->kind == ERR_NOT_FOUND)
            return error_set(err, ERR_NOT_FOUND, "no secret named %s is stored", name);
        return -1;
    }
    return 0;
}

int secret_set(const char *dir, const char *name, const char *value, size_t len, struct error *err)
{
    if (check_name(name, err) < 0 || secret_value_check(value, len, err) < 0)
        return -1;
    if (paths_mkdir_p(dir, 0700, err) < 0)
        return -1;
    cleanup_close int dfd = -1;
    if (open_dir(dir, &dfd, err) < 0)
        return -1;
    /* A link where the secret goes is refused, as secret_get refuses it. */
    static const struct file_replace_options opt = { .mode = 0600, .links = FILE_LINK_REFUSE };
    char what[4200];
    snprintf(what, sizeof(what), "%s/%s", dir, name);
    if (file_replace_at(dfd, name, what, value, len, &opt, err) < 0)
        return error_prefix(err, "storing the secret %s", name);
    return 0;
}

int secret_get(const char *dir, const char *name, char **value, size_t *len, struct error *err)
{
    *value = NULL;
    *len = 0;
    cleanup_close int dfd = -1;
    if (open_store_for(dir, name, &dfd, err) < 0)
        return -1;
    cleanup_close int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_FAILED_PRECONDITION,
                               "no secret named %s can be read", name);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_set_errno(err, ERR_INTERNAL, "stat the secret %s", name);
    if (!S_ISREG(st.st_mode))
        return error_set(err, ERR_FAILED_PRECONDITION, "the secret %s is not a regular file", name);
    if (st.st_uid != geteuid() || (st.st_mode & 077))
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "the secret %s must belong to uid %u and be mode 0600 (it is uid %u, mode %04o)",
                         name, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    if (st.st_size > SECRET_VALUE_MAX)
        return error_set(err, ERR_FAILED_PRECONDITION, "the secret %s is longer than %d bytes", name,
                         SECRET_VALUE_MAX);
    char *buf = malloc(SECRET_VALUE_MAX + 2);
    if (buf == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, SECRET_VALUE_MAX + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            secret_value_free(buf, SECRET_VALUE_MAX + 2);
            return error_set_errno(err, ERR_INTERNAL, "reading the secret %s", name);
        }
        if (n == 0 || got + (size_t)n > SECRET_VALUE_MAX) {
            got += (size_t)n;
            break;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    struct error verr;
    if (secret_value_check(buf, got, &verr) < 0) {
        secret_value_free(buf, SECRET_VALUE_MAX + 2);
        return error_set(err, ERR_FAILED_PRECONDITION, "the stored secret %s is not usable: %s", name,
                         verr.message);
    }
    *value = buf;
    *len = got;
    return 0;
}

void secret_value_free(char *value, size_t len)
{
    if (value == NULL)
        return;
    (void)len;
    /* Every buffer secret_get hands out is this large. */
    OPENSSL_cleanse(value, SECRET_VALUE_MAX + 2);
    free(value);
}

int secret_remove(const char *dir, const char *name, struct error *err)
{
    cleanup_close int dfd = -1;
    if (open_store_for(dir, name, &dfd, err) < 0)
        return -1;
    if (unlinkat(dfd, name, 0) < 0)
        return error_set_errno(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL,
                               "cannot remove the secret %s", name);
    fsync(dfd);
    return 0;
}

void secret_names_free(char **names, size_t n)
{
    file_names_free(names, n);
}

int secret_list(const char *dir, char ***names, size_t *n, struct error *err)
{
    *names = NULL;
    *n = 0;
    cleanup_close int dfd = -1;
    if (open_dir(dir, &dfd, err) < 0)
        return err && err->kind == ERR_NOT_FOUND ? 0 : -1;
    char **list = NULL;
    size_t count = 0;
    if (file_list_sorted(dfd, true, SECRET_MAX_COUNT, &list, &count, err) < 0)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (secret_name_valid(list[i]))
            list[kept++] = list[i];
        else
            free(list[i]); /* temporary files, strangers */
    }
    *names = list;
    *n = kept;
    return 0;
}
