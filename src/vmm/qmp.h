/* A small synchronous QMP client (QEMU Machine Protocol: one JSON object per
 * line on a Unix socket). Every read is bounded by a timeout and a line-length
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

#endif
