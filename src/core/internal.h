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
/* The gate every decision goes through (gate/gate.h). */
struct gate *core_gate_of(struct core *core);

#endif
