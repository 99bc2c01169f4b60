/* The host side of the guest protocol: one connection to one VM's guest
 * channel, on the daemon's event loop. Requests get ids from the connection;
 * replies are matched by id, so several requests can be in flight.
 *
 * Every request's callback runs exactly once: with the reply frame, or with an
 * error (timeout, connection lost, connection freed). The reply frame is only
 * valid during the callback. Callbacks may call proxy functions, including
 * proxy_conn_free(). */
#ifndef ENCLAVE_PROXY_PROXY_H
#define ENCLAVE_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "guest/v1/guest.pb-c.h"
#include "vmm/vmm.h"

struct event_base;
struct proxy_conn;

typedef void (*proxy_reply_fn)(const Guest__V1__Frame *reply, const struct error *err, void *ctx);
/* Streamed output chunks (ExecOutput frames) for a request that asked for them. */
typedef void (*proxy_output_fn)(const Guest__V1__ExecOutput *chunk, void *ctx);
typedef void (*proxy_closed_fn)(const struct error *why, void *ctx);

/* Connects without blocking the event loop. A Unix-socket channel fails at
 * once when the peer is not there yet; a vsock connect completes on the loop,
 * and one the guest refuses or leaves unanswered for a second fails later,
 * through on_closed (requests queued meanwhile fail first). The caller
 * retries while the VM boots. on_closed runs when the connection fails or is
 * lost, not on proxy_conn_free. */
int proxy_connect(struct event_base *base, const struct vmm_channel *channel,
                  proxy_closed_fn on_closed, void *ctx, struct proxy_conn **out,
                  struct error *err);

/* Sends req (its id is assigned here; the message stays the caller's).
 * timeout_ms 0 means no timeout. */
int proxy_request(struct proxy_conn *conn, Guest__V1__Frame *req, unsigned timeout_ms,
                  proxy_reply_fn on_reply, proxy_output_fn on_output, void *ctx,
                  uint64_t *id_out, struct error *err);

/* Frames that come before the final reply of a file transfer or a code cell
 * (FileChunk, FileCredit, CodeEvent) or during an egress request (EgressOpen,
 * EgressData, EgressCredit, EgressClose), for the request with that id. A
 * handler gets every such frame sent with its id and must ignore the types it
 * does not expect. */
typedef void (*proxy_frame_fn)(const Guest__V1__Frame *frame, void *ctx);

/* proxy_request with on_frame for those frames. */
int proxy_request_frames(struct proxy_conn *conn, Guest__V1__Frame *req, unsigned timeout_ms,
                         proxy_reply_fn on_reply, proxy_frame_fn on_frame, void *ctx,
                         uint64_t *id_out, struct error *err);

/* Sends a frame that belongs to the request id (a FileChunk, a FileCredit)
 * and expects no reply of its own. Returns 0, or -1 with err. */
int proxy_send(struct proxy_conn *conn, uint64_t id, Guest__V1__Frame *frame, struct error *err);

/* Bytes written to the channel that the kernel has not taken yet. */
size_t proxy_backlog(const struct proxy_conn *conn);

/* Forgets a pending request without calling its callback, and asks the guest
 * to cancel it. */
void proxy_cancel(struct proxy_conn *conn, uint64_t id);

/* Flow control for a streaming exec in flight (its request id): tells the
 * guest that bytes more of its output were passed on. No reply. */
void proxy_exec_credit(struct proxy_conn *conn, uint64_t id, uint64_t bytes);

/* Interactive stdin for an exec in flight (its request id). No reply. */
int proxy_exec_stdin(struct proxy_conn *conn, uint64_t id, const uint8_t *data, size_t len,
                     bool close, struct error *err);

unsigned proxy_pending_count(const struct proxy_conn *conn);

/* Closes; pending callbacks run with ERR_CANCELED before it returns. */
void proxy_conn_free(struct proxy_conn *conn);

#endif
