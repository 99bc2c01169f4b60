/* A small QMP client (QEMU Machine Protocol: one JSON object per line on a
 * Unix socket): synchronous, and one command on the caller's libevent loop
 * (qmp_call_start). Every read is bounded by a timeout and a line-length
 * limit; asynchronous events are skipped while waiting for a reply. */
#ifndef ENCLAVE_VMM_QMP_H
#define ENCLAVE_VMM_QMP_H

#include <jansson.h>

#include "common/error.h"

#define QMP_MAX_LINE (1u << 20)

struct qmp;

/* Connects, reads the greeting and leaves capabilities negotiation done. */
int qmp_connect(const char *path, unsigned timeout_ms, struct qmp **out, struct error *err);
/* Same, over an already connected stream socket (taken over; closed by qmp_close). */
int qmp_open_fd(int fd, unsigned timeout_ms, struct qmp **out, struct error *err);
/* Runs one command. args is borrowed (may be NULL). On success *result (when
 * not NULL) receives a new reference to the "return" value. A QMP error reply
 * becomes ERR_INTERNAL with QEMU's class and description. */
int qmp_execute(struct qmp *qmp, const char *command, json_t *args, json_t **result,
                unsigned timeout_ms, struct error *err);
/* Hands fd to QEMU under name (QMP getfd, the descriptor passed with
 * SCM_RIGHTS); QEMU keeps its own copy, the caller still owns fd. */
int qmp_send_fd(struct qmp *qmp, const char *name, int fd, unsigned timeout_ms, struct error *err);
void qmp_close(struct qmp *qmp);

/* One command without arguments (quit) on the caller's loop: connects at
 * once, sends qmp_capabilities and command at once (a new connection's
 * socket takes these few bytes, so the command goes out even when the loop
 * does not run again), and returns. done is called once, from the loop:
 * with NULL when QEMU answered the command with a return (for quit, also
 * when QEMU closed the connection after answering qmp_capabilities: it
 * may quit before its answer goes out), else with the error (QEMU's error
 * reply, the connection's, a bad line, or no answer within timeout_ms).
 * done may free the call; qmp_call_free cancels one in flight (done is
 * not called then). */
struct qmp_call;
struct event_base;
typedef void (*qmp_done_fn)(void *ctx, const struct error *err);
int qmp_call_start(struct event_base *base, const char *path, const char *command, unsigned timeout_ms,
                   qmp_done_fn done, void *ctx, struct qmp_call **out, struct error *err);
void qmp_call_free(struct qmp_call *call);

#endif
