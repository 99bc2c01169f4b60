/* Errors travel up as a negative return value plus a filled struct error.
 *
 *   int f(..., struct error *err) { if (bad) return error_set(err, ERR_INVALID_ARGUMENT, "..."); }
 *   if (f(..., err) < 0) return error_prefix(err, "loading %s", path);
 *
 * The kind is one of the status codes below (the gRPC/Connect set), so the API
 * can turn any error into a reply without guessing. The struct is plain data:
 * nothing to free. */
#ifndef ENCLAVE_COMMON_ERROR_H
#define ENCLAVE_COMMON_ERROR_H

#include <stddef.h>

/* X(enum name, gRPC numeric code, Connect code name, HTTP status for Connect) */
#define ERROR_KINDS(X)                                            \
    X(ERR_OK, 0, "ok", 200)                                       \
    X(ERR_CANCELED, 1, "canceled", 499)                           \
    X(ERR_UNKNOWN, 2, "unknown", 500)                             \
    X(ERR_INVALID_ARGUMENT, 3, "invalid_argument", 400)           \
    X(ERR_DEADLINE_EXCEEDED, 4, "deadline_exceeded", 504)         \
    X(ERR_NOT_FOUND, 5, "not_found", 404)                         \
    X(ERR_ALREADY_EXISTS, 6, "already_exists", 409)               \
    X(ERR_PERMISSION_DENIED, 7, "permission_denied", 403)         \
    X(ERR_RESOURCE_EXHAUSTED, 8, "resource_exhausted", 429)       \
    X(ERR_FAILED_PRECONDITION, 9, "failed_precondition", 400)     \
    X(ERR_ABORTED, 10, "aborted", 409)                            \
    X(ERR_OUT_OF_RANGE, 11, "out_of_range", 400)                  \
    X(ERR_UNIMPLEMENTED, 12, "unimplemented", 501)                \
    X(ERR_INTERNAL, 13, "internal", 500)                          \
    X(ERR_UNAVAILABLE, 14, "unavailable", 503)                    \
    X(ERR_DATA_LOSS, 15, "data_loss", 500)                        \
    X(ERR_UNAUTHENTICATED, 16, "unauthenticated", 401)

enum error_kind {
#define X(name, grpc, connect, http) name = grpc,
    ERROR_KINDS(X)
#undef X
};

struct error {
    enum error_kind kind;
    int sys_errno;          /* errno at the failure, or 0 */
    char message[1024];
};

/* Sets err (when not NULL) and returns -1. */
int error_set(struct error *err, enum error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like error_set, appending ": strerror(errno)" and keeping errno. */
int error_set_errno(struct error *err, enum error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "context: " to the message; returns -1. */
int error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_clear(struct error *err);

const char *error_kind_connect_name(enum error_kind kind);
int error_kind_http_status(enum error_kind kind);
/* Parses a Connect code name; returns ERR_UNKNOWN for names it does not know. */
enum error_kind error_kind_from_connect_name(const char *name);

#endif
