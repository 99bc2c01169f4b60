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
    char policy_digest[72]; /* sha256 hex of the bundle in force, or "" */
    struct audit_log *audit;
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
};
/* Evaluates the bundle in force; undefined, an error or a timeout is a deny. */
void daemon_policy_decide(struct daemon_state *d, const char *action, const char *input_json,
                          struct daemon_decision *out);

/* Wires core's gate to the policy and the audit log (daemon/gate.c). */
void daemon_gate_init(struct daemon_state *d, struct core_gate *gate);
/* Appends one event record (kind by name, e.g. "DAEMON:START"). */
int daemon_record(struct daemon_state *d, const char *event, const char *session_id,
                  const char *details_json, struct error *err);

extern const struct api_service daemon_agent_service;
extern const struct api_service daemon_enclave_service;

#endif
