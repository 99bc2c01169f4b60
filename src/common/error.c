#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int error_vset(struct error *err, enum error_kind kind, int sys_errno, const char *fmt,
                      va_list ap) __attribute__((format(printf, 4, 0)));

static int error_vset(struct error *err, enum error_kind kind, int sys_errno, const char *fmt,
                      va_list ap)
{
    if (err == NULL)
        return -1;
    err->kind = kind;
    err->sys_errno = sys_errno;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    if (sys_errno != 0) {
        size_t len = strlen(err->message);
        snprintf(err->message + len, sizeof(err->message) - len, ": %s", strerror(sys_errno));
    }
    return -1;
}

int error_set(struct error *err, enum error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, kind, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int error_set_errno(struct error *err, enum error_kind kind, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, kind, saved, fmt, ap);
    va_end(ap);
    errno = saved;
    return -1;
}

int error_prefix(struct error *err, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    char prefix[512];
    char old[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    size_t plen = strlen(prefix);
    if (plen > sizeof(err->message) - 3)
        plen = sizeof(err->message) - 3;
    memcpy(err->message, prefix, plen);
    memcpy(err->message + plen, ": ", 2);
    size_t room = sizeof(err->message) - plen - 3;
    size_t olen = strnlen(old, room);
    memcpy(err->message + plen + 2, old, olen);
    err->message[plen + 2 + olen] = '\0';
    return -1;
}

void error_clear(struct error *err)
{
    if (err == NULL)
        return;
    err->kind = ERR_OK;
    err->sys_errno = 0;
    err->message[0] = '\0';
}

const char *error_kind_connect_name(enum error_kind kind)
{
    switch (kind) {
#define X(name, grpc, connect, http) \
    case name:                       \
        return connect;
        ERROR_KINDS(X)
#undef X
    }
    return "unknown";
}

int error_kind_http_status(enum error_kind kind)
{
    switch (kind) {
#define X(name, grpc, connect, http) \
    case name:                       \
        return http;
        ERROR_KINDS(X)
#undef X
    }
    return 500;
}

enum error_kind error_kind_from_connect_name(const char *name)
{
#define X(ename, grpc, connect, http) \
    if (strcmp(name, connect) == 0)   \
        return ename;
    ERROR_KINDS(X)
#undef X
    return ERR_UNKNOWN;
}
