/* ApplyPolicy: the bundle in force decides (action "policy.apply") whether
 * it may be replaced, and the gate puts the new one in force (gate.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/v1/agent.pb-c.h"
#include "audit/audit.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/log.h"
#include "daemon/internal.h"
#include "gate/gate.h"

#define MAX_POLICY_DOCUMENT (4u << 20)

/* ------------------------------------------------------------ ApplyPolicy */

static void apply_reply(struct api_call *call, bool ok, const char *error)
{
    Agent__V1__ApplyPolicyResponse resp = AGENT__V1__APPLY_POLICY_RESPONSE__INIT;
    resp.success = ok;
    resp.error = (char *)(error ? error : "");
    api_call_reply(call, &resp.base);
}

void daemon_handle_apply_policy(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Agent__V1__ApplyPolicyRequest *req = (const Agent__V1__ApplyPolicyRequest *)msg;
    struct error err;
    const char *sid = req->session_id ? req->session_id : "";
    const char *doc = req->policy_yaml ? req->policy_yaml : "";
    size_t len = strlen(doc);
    if (sid[0] && !core_session_id_valid(sid)) {
        error_set(&err, ERR_INVALID_ARGUMENT, "session_id is not a valid session id");
        api_call_fail(call, &err);
        return;
    }
    if (len == 0 || len > MAX_POLICY_DOCUMENT) {
        error_set(&err, len ? ERR_RESOURCE_EXHAUSTED : ERR_INVALID_ARGUMENT,
                  "policy_yaml must hold 1 to %u bytes (a Rego module, or a YAML/JSON "
                  "{modules: {name.rego: text}, data: {...}} document)",
                  MAX_POLICY_DOCUMENT);
        api_call_fail(call, &err);
        return;
    }
    /* The bundle in force decides whether it may be replaced, before the
     * new text is even parsed. */
    char doc_digest[AUDIT_HASH_HEX_SIZE];
    digest_sha256_hex(doc, len, doc_digest);
    json_t *input = json_pack("{s:{s:s}, s:{s:s, s:I}, s:{s:s, s:s, s:s}}", "session", "id", sid,
                              "request", "document_sha256", doc_digest, "document_bytes",
                              (json_int_t)len, "caller", "transport", api_call_transport(call),
                              "peer", api_call_peer(call), "principal", api_call_principal(call));
    struct gate_obligations ob;
    if (gate_decide(d->gate, "policy.apply", sid, input, &ob, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    int r = gate_apply_document(d->gate, doc, len, sid, &err);
    if (r < 0) {
        api_call_fail(call, &err);
        return;
    }
    apply_reply(call, r == 0, r == 0 ? NULL : err.message);
}
