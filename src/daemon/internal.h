/* State shared by the daemon's files. */
#ifndef ENCLAVE_DAEMON_INTERNAL_H
#define ENCLAVE_DAEMON_INTERNAL_H

#include <jansson.h>

#include "api/api.h"
#include "audit/audit.h"
#include "core/core.h"
#include "daemon/daemon.h"

struct daemon_state {
    struct event_base *base;
    struct api_server *api;
    struct core *core;
    struct daemon_options opts;
    struct vmm_host host;
    bool kvm; /* VMs get KVM (else TCG) */
    char image_source[512];
    char policy_digest[72]; /* hex SHA-256 of the bundle in force (policy_bundle_digest), or "" */
    struct daemon_policy *policy; /* the bundle in force and per-session intents (policy_glue.c) */
    struct audit_log *audit;
    struct daemon_streams *streams; /* the live audit stream (daemon/stream.c) */
    struct api_service agent_service;   /* copies of the tables below, with ctx set */
    struct api_service enclave_service;
};

/* A policy decision: allow or not, the reasons (a JSON array, owned by the
 * receiver), and the obligations that come with an allow. */
struct daemon_decision {
    bool allow;
    json_t *reasons;
    unsigned timeout_s;
    uint64_t max_output_bytes;
    json_t *env_allowlist;   /* obligation: names of the variables the workload may see, or NULL */
    const char *outcome;     /* "decided", "undefined", "error", "budget", "timeout", "malformed" */
    uint64_t eval_us;
    char *input_effective;   /* the input the policy saw when it differs from input_json (malloc'd), or NULL */
};
/* Evaluates the bundle in force; undefined, an error or a timeout is a deny. */
void daemon_policy_decide(struct daemon_state *d, const char *action, const char *input_json,
                          struct daemon_decision *out);

/* Loads the bundle named by opts.policy_dir (or the built-in constitution)
 * and records POLICY:LOADED, or POLICY:REFUSED and fails. */
int daemon_policy_init(struct daemon_state *d, struct error *err);
/* SIGHUP: loads the bundle again; a bundle that fails is refused (and
 * recorded) and the one in force stays. */
void daemon_policy_reload(struct daemon_state *d);
void daemon_policy_free(struct daemon_state *d);
/* agent.v1.AgentService/ApplyPolicy. */
struct api_call;
void daemon_handle_apply_policy(struct api_call *call, const ProtobufCMessage *msg, void *ctx);

/* Wires core's gate to the policy and the audit log (daemon/gate.c). */
void daemon_gate_init(struct daemon_state *d, struct core_gate *gate);
/* Appends one event record (kind by name, e.g. "DAEMON:START"). */
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
};
int daemon_stream_parse_query(const char *query, struct stream_request *req, char *why,
                              size_t why_size);

/* enclave.v1 Exec (server streaming) and StartSession (daemon/exec_stream.c). */
void daemon_handle_exec_stream(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_start_session(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
/* A request's idle timeout and lifetime (0: the daemon's default, -1: none)
 * into what applies (0: none). */
int daemon_lifetime_resolve(const struct daemon_state *d, int32_t idle_s, int32_t life_s,
                            unsigned *idle_out, unsigned *life_out, struct error *err);

/* Files of a session (daemon/files.c): the enclave.v1 file RPCs and the
 * PUT/GET /v1/sessions/{id}/files/{path} routes, added by daemon_files_init. */
void daemon_handle_upload_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_download_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_list_files(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_stat_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_remove_file(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
void daemon_handle_make_directory(struct api_call *call, const ProtobufCMessage *msg, void *ctx);
int daemon_files_init(struct daemon_state *d, struct error *err);
/* enclave.v1 RunCode (daemon/code.c). */
void daemon_handle_run_code(struct api_call *call, const ProtobufCMessage *msg, void *ctx);

extern const struct api_service daemon_agent_service;
extern const struct api_service daemon_enclave_service;

#endif
