/* What core.c offers the other parts of core (files.c, code.c). */
#ifndef ENCLAVE_CORE_INTERNAL_H
#define ENCLAVE_CORE_INTERNAL_H

#include <jansson.h>

#include "audit/audit.h"
#include "core/core.h"
#include "gate/gate.h"
#include "proxy/proxy.h"

/* The guest channel of a READY session, or NULL with err. When session_json
 * is not NULL it gets the policy input's "session" object (id, labels; the
 * gate adds the intent), owned by the caller. */
struct proxy_conn *core_session_channel(struct core *core, const char *session_id, json_t **session_json,
                                        struct error *err);
/* Appends an audit record (consumes details). */
void core_record_event(struct core *core, enum audit_kind kind, const char *session_id, json_t *details);
/* Egress: the variables every workload of a session with egress gets
 * (HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy, PIP_PROXY, all
 * EGRESS_PROXY_URL). core_egress_env fills CORE_EGRESS_ENV_COUNT entries. */
#define CORE_EGRESS_ENV_COUNT 5
bool core_egress_env_name(const char *name);
size_t core_egress_env(Guest__V1__EnvVar *store, Guest__V1__EnvVar **ptrs);
bool core_session_has_egress(struct core *core, const char *session_id);
/* The gate every decision goes through (gate/gate.h). */
struct gate *core_gate_of(struct core *core);
/* Decides an exec (a command or code) through the gate; once allowed,
 * *timeout_s is lowered to the obligations' timeout_s, and ob holds them. */
int core_decide_exec(struct core *core, const char *session_id, json_t *input, unsigned *timeout_s,
                     struct gate_obligations *ob, struct error *err);

#endif
