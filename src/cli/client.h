/* The CLI's client for the daemon: Connect unary calls (HTTP/1.1, JSON) over
 * TCP or a Unix socket, synchronous, with a deadline; the HTTP itself is
 * src/http/'s blocking face. */
#ifndef ENCLAVE_CLI_CLIENT_H
#define ENCLAVE_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "http/http.h"

struct client_target {
    const char *addr;        /* host:port; default $ENCLAVE_ADDR or 127.0.0.1:7339 */
    const char *socket_path; /* Unix socket; default $ENCLAVE_SOCKET */
    /* Over TCP every request carries a token: $ENCLAVE_TOKEN, else (when
     * operator is set and the file is readable) $ENCLAVE_HOME/run/operator-token,
     * else $ENCLAVE_HOME/run/api-token. The Unix socket needs none. */
    bool operator;
};

void client_target_default(struct client_target *t);
/* Calls /<service>/<method>. req is borrowed; *resp is a new reference.
 * A Connect error from the daemon becomes err with its code and message;
 * a daemon that cannot be reached is ERR_UNAVAILABLE with a hint. */
int client_call(const struct client_target *t, const char *service, const char *method,
                json_t *req, unsigned timeout_s, json_t **resp, struct error *err);
/* Called from a signal handler: the call in progress (and any later one until
 * client_clear_interrupt) returns ERR_CANCELED. */
void client_interrupt(void);
void client_clear_interrupt(void);
/* Connect server streaming (application/connect+json): each message as a
 * JSON object to on_message (borrowed; return -1 to stop), then 0 when the
 * stream ended with OK, or -1 with the stream's error (or a transport one). */
typedef int (*client_message_fn)(json_t *message, void *ctx);
int client_stream(const struct client_target *t, const char *service, const char *method,
                  json_t *req, unsigned timeout_s, client_message_fn on_message, void *ctx,
                  struct error *err);
/* PUT path with a raw body (the file routes); a 2xx JSON answer into *resp
 * (a new reference), an error answer into err as client_call does. */
int client_put(const struct client_target *t, const char *path, const void *body, size_t len,
               unsigned timeout_s, json_t **resp, struct error *err);
/* GET path; a 2xx body goes to sink as it arrives (return <0 with err
 * filled to stop), any other status's body into *out (malloc'd). */
int client_get_stream(const struct client_target *t, const char *path, unsigned timeout_s,
                      http_body_fn sink, void *ctx, char **out, int *status, struct error *err);
/* PUT path with the body read from in_fd: length bytes (Content-Length), or,
 * when length < 0, until EOF (chunked). The answer's body into *out. */
int client_put_fd(const struct client_target *t, const char *path, int in_fd, long long length,
                  unsigned timeout_s, char **out, int *status, struct error *err);

/* A Connect error object ({"code", "message"}; NULL or anything else: the
 * fallback code) as err, returning -1. The daemon's message can carry what a
 * workload chose (a guest's error, a file name) and every verb prints
 * err.message to the terminal, so its control characters are escaped
 * (text_escape_terminal) here, where it enters the CLI. */
int client_connect_error(const json_t *error, const char *fallback, struct error *err);

#endif
