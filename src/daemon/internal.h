/* State shared by the daemon's files. */
#ifndef ENCLAVE_DAEMON_INTERNAL_H
#define ENCLAVE_DAEMON_INTERNAL_H

#include <jansson.h>

#include "api/api.h"
#include "audit/audit.h"
#include "core/core.h"
#include "gate/gate.h"
#include "daemon/daemon.h"

struct daemon_state {
    struct event_base *base;
    struct api_server *api;
    struct core *core;
    struct daemon_options opts;
    struct vmm_host host;
    bool kvm; /* VMs get KVM (else TCG) */
    char image_source[512];
    struct audit_log *audit;
    struct gate *gate; /* decides and records every action (src/gate); after audit, before core */
    struct daemon_streams *streams; /* the live audit stream (daemon/stream.c) */
    struct api_service agent_service;   /* copies of the tables below, with ctx set */
    struct api_service enclave_service;
};

struct api_call;

/* The call a core completion answers (ctx), or NULL once the call has been
 * failed with err: every unary RPC's completion callback starts with it. */
struct api_call *daemon_call_or_fail(void *ctx, const struct error *err);

/* calloc(1, size) for call's state, or NULL after failing call with "out of
 * memory". */
void *daemon_call_calloc(struct api_call *call, size_t size);

/* Ends a streaming call whose client went away (its on_cancel callback). */
void daemon_finish_canceled(struct api_call *call);

/* Who made call, for core (and the gate's policy input). */
struct core_caller daemon_caller_of(struct api_call *call);

/* agent.v1.AgentService/ApplyPolicy. */
void daemon_handle_apply_policy(struct api_call *call, const ProtobufCMessage *msg, void *ctx);

/* Appends one event record (kind by name, e.g. "DAEMON:START") through the
 * gate; details_json is a JSON object text. */
int daemon_record(struct daemon_state *d, const char *event, const char *session_id,
                  const char *details_json, struct error *err);

/* Loads (or makes) the API and operator tokens under $ENCLAVE_HOME/run and
 * hands them to d->api, with refusals recorded as API:REFUSED (credentials.c). */
int daemon_credentials_init(struct daemon_state *d, struct error *err);

/* The live audit stream: routes GET /v1/audit/stream (SSE) and GET /ws/audit
 * (WebSocket) on d->api, fed by a subscription to d->audit (daemon/stream.c).
 * Free after the API server (which closes every client) and before the log. */
struct daemon_streams;
int daemon_streams_init(struct daemon_state *d, struct error *err);
void daemon_streams_free(struct daemon_state *d);
/* The stream's query: session=ID and since_seq=N, each at most once. */
struct stream_request {
    char session[AUDIT_MAX_SESSION_LEN + 1]; /* "" = every session */
    bool have_since;
    uint64_t since_seq;
    bool checkpoints; /* checkpoints=1: each signed checkpoint too, as it is made */
};
int daemon_stream_parse_query(const char *query, struct stream_request *req, char *why,
                              size_t why_size);

/* enclave.v1 Exec (server streaming) and StartSession (daemon/exec_stream.c). */
void daemon_handle_exec_stream(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_exec_interactive(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_start_session(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
/* A request's idle timeout and lifetime (0: the daemon's default, -1: none)
 * into what applies (0: none). */
int daemon_lifetime_resolve(const struct daemon_state *d, int32_t idle_s, int32_t life_s,
                            unsigned *idle_out, unsigned *life_out, struct error *err);

/* What both StartSession RPCs (agent.v1 and enclave.v1) ask for. */
struct daemon_start_fields {
    const char *session_id;
    int32_t vcpu, memory_mb, workspace_mb;
    bool has_workspace; /* enclave.v1: workspace_mb is a field of the request */
    int32_t idle_timeout_s, max_lifetime_s;
    bool egress;
};

/* The fields both requests name alike. */
#define DAEMON_START_FIELDS(req)                                                                   \
    ((struct daemon_start_fields){.session_id = (req)->session_id,                                 \
                                  .vcpu = (req)->vcpu,                                             \
                                  .memory_mb = (req)->memory_mb,                                   \
                                  .idle_timeout_s = (req)->idle_timeout_s,                         \
                                  .max_lifetime_s = (req)->max_lifetime_s,                         \
                                  .egress = (req)->egress})

/* Checks in (no negative sizes, lifetimes as daemon_lifetime_resolve) and
 * fills sr with it and the caller of call; the caller adds the image.
 * Returns -1 after failing call. */
int daemon_start_request(const struct daemon_state *d, struct api_call *call,
                         const struct daemon_start_fields *in, struct core_start_request *sr);

/* Files of a session (daemon/files.c): the enclave.v1 file RPCs and the
 * PUT/GET /v1/sessions/{id}/files/{path} routes, added by daemon_files_init. */
void daemon_handle_upload_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_download_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_list_files(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_stat_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_remove_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_make_directory(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
int daemon_files_init(struct daemon_state *d, struct error *err);
/* Splits a route path /v1/sessions/{id}/files/{path} (percent-encoded, as
 * sent) into the session id and the guest path: "/" and the decoded rest,
 * trailing slashes dropped (malloc'd into *guest_path). A decoded NUL, an
 * empty id or path, an id of session_len bytes or more: -1 with err. */
int daemon_file_route_parse(const char *path, char *session, size_t session_len, char **guest_path,
                            struct error *err);
/* enclave.v1 RunCode (daemon/code.c). */
void daemon_handle_run_code(struct api_call *call, const ProtobufCMessage *msg, void *ctx);

/* StartSession with an image variant (daemon/images.c): fills sr's image,
 * kernel and initrd from the variant NAME ("" or NULL: the default image);
 * *hold keeps the paths alive until core_session_start returns (free it
 * with image_manifest_free). */
struct image_manifest;
int daemon_image_for_start(const char *name, struct core_start_request *sr, struct image_manifest **hold,
                           struct error *err);

/* The Web UI (daemon/ui.c): its assets at / and /ui/, and the RPCs it uses. */
extern const char daemon_ui_headers[];
int daemon_ui_init(struct daemon_state *d, struct error *err);
void daemon_handle_verify_audit(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_get_policy(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_eval_policy(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_list_images(struct api_call *call, const ProtobufCMessage *msg, void *ctx);

extern const struct api_service daemon_agent_service;
extern const struct api_service daemon_enclave_service;

#endif
