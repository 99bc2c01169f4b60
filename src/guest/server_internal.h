/* What the init's server (server.c) offers the request handlers that live in
 * their own files (files.c, code.c). Not for anything outside src/guest. */
#ifndef ENCLAVE_GUEST_SERVER_INTERNAL_H
#define ENCLAVE_GUEST_SERVER_INTERNAL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/guest.h"

struct conn;

/* Output waiting for a slow host, per connection: past this mark nothing
 * more is produced for that connection until it drains. */
#define GUEST_OUT_HIGH_MARK (1u << 20)

/* Queues one frame (a lost connection is marked and later closed). */
void guest_server_send(struct guest_server *s, struct conn *c, const Guest__V1__Frame *f);
void guest_server_send_error(struct guest_server *s, struct conn *c, uint64_t id, int code,
                             const char *message);
/* The pre-started Python, or NULL when there is none. */
struct guest_forkserver *guest_server_forkserver(struct guest_server *s);
/* Bytes queued for the connection and not yet written. */
size_t guest_conn_backlog(const struct conn *c);
uint64_t guest_now_ns(void);
/* The host will send nothing more on this connection (it closed its side). */
bool guest_conn_input_ended(const struct conn *c);

/* ---- file operations (files.c) */
struct guest_files;
struct guest_files *guest_files_new(const char *workspace_dir, const char *tmp_dir);
void guest_files_free(struct guest_files *f);
void guest_files_request(struct guest_server *s, struct guest_files *f, struct conn *c, uint64_t id,
                         const Guest__V1__FileRequest *req);
void guest_files_chunk(struct guest_server *s, struct guest_files *f, struct conn *c, uint64_t id,
                       const Guest__V1__FileChunk *chunk);
void guest_files_credit(struct guest_files *f, struct conn *c, uint64_t id, const Guest__V1__FileCredit *credit);
/* Ends the transfer with this id; true when there was one. */
bool guest_files_cancel(struct guest_server *s, struct guest_files *f, struct conn *c, uint64_t id);
/* The connection is gone: its transfers end. */
void guest_files_detach(struct guest_files *f, struct conn *c);
/* Sends what the reads in flight may send now. Returns true when more could
 * be sent at once (the caller polls without waiting). */
bool guest_files_pump(struct guest_server *s, struct guest_files *f);

/* ---- interpreter contexts (code.c) */
struct guest_code;
/* cwd: where the interpreters start (NULL: GUEST_WORKSPACE). */
struct guest_code *guest_code_new(const char *python, const char *driver, const char *cwd);
/* Kills every context and waits for it. */
void guest_code_free(struct guest_code *k);
void guest_code_request(struct guest_server *s, struct guest_code *k, struct conn *c, uint64_t id,
                        const Guest__V1__CodeRequest *req);
/* Interrupts the cell with this id (as its timeout would); true when found. */
bool guest_code_cancel(struct guest_code *k, struct conn *c, uint64_t id);
void guest_code_detach(struct guest_code *k, struct conn *c);
/* Adds the descriptors to poll; refs[i] is passed back to guest_code_ready. */
size_t guest_code_poll_fds(struct guest_code *k, struct pollfd *pfd, void **refs, size_t max);
void guest_code_ready(struct guest_server *s, struct guest_code *k, void *ref, int fd, short revents);
/* A child was reaped: true when it was a context's interpreter. */
bool guest_code_reaped(struct guest_server *s, struct guest_code *k, pid_t pid, int status);
/* Timeouts and finished cells; returns the next deadline (UINT64_MAX: none). */
uint64_t guest_code_housekeeping(struct guest_server *s, struct guest_code *k, uint64_t now);
unsigned guest_code_running(const struct guest_code *k); /* live interpreters */
/* The pids of the live interpreters, at most max; returns how many. */
size_t guest_code_pids(const struct guest_code *k, pid_t *out, size_t max);

/* ---- the egress proxy (egress.c) */
struct guest_egress;
struct guest_egress *guest_egress_new(void);
void guest_egress_free(struct guest_egress *g);
/* An EgressRequest: starts listening (the reply comes when it stops), or
 * an ErrorResponse (busy, invalid, cannot listen). */
void guest_egress_request(struct guest_server *s, struct guest_egress *g, struct conn *c, uint64_t id,
                          const Guest__V1__EgressRequest *req);
/* EgressOpenResult, EgressData, EgressCredit, EgressClose from the host. */
void guest_egress_frame(struct guest_server *s, struct guest_egress *g, struct conn *c, uint64_t id,
                        const Guest__V1__Frame *f);
/* A CancelRequest for the EgressRequest: everything closes, EgressResponse
 * goes out. True when it was the proxy's id. */
bool guest_egress_cancel(struct guest_server *s, struct guest_egress *g, struct conn *c, uint64_t id);
/* The connection is gone: the proxy stops (nobody to answer). */
void guest_egress_detach(struct guest_server *s, struct guest_egress *g, struct conn *c);
/* The listener and the workloads' connections; refs[i] goes back to guest_egress_ready. */
size_t guest_egress_poll_fds(struct guest_egress *g, struct pollfd *pfd, void **refs, size_t max, uint64_t now);
void guest_egress_ready(struct guest_server *s, struct guest_egress *g, void *ref, short revents);
/* Deadlines, and frees what ended; returns the next deadline (UINT64_MAX: none). */
uint64_t guest_egress_housekeeping(struct guest_server *s, struct guest_egress *g, uint64_t now);
bool guest_egress_active(const struct guest_egress *g);
/* Poll entries the proxy may use at most. */
#define GUEST_EGRESS_MAX_POLL (1u + GUEST_EGRESS_MAX_STREAMS + GUEST_EGRESS_SPARE_CLIENTS + 32u)

#endif
