/* The gate between the API and the VMs: every decision is made here and
 * written to the audit log before the action may go on, and every event core
 * reports is recorded. An action whose decision cannot be recorded is refused:
 * no decision without a record. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "daemon/internal.h"

static int append(struct daemon_state *d, enum audit_kind kind, const char *session_id,
                  const char *input_digest, const char *decision, const char *reasons_json,
                  const char *details_json, struct error *err)
{
    struct audit_record_in in = {
        .kind = kind,
        .session_id = session_id ? session_id : "",
        .bundle_digest = d->policy_digest,
        .input_digest = input_digest ? input_digest : "",
        .decision = decision ? decision : "",
        .reasons_json = reasons_json,
        .details_json = details_json,
    };
    struct audit_record_out out;
    return audit_append(d->audit, &in, &out, err);
}

static int gate_decide(void *ctx, const char *action, const char *session_id,
                       const char *input_json, struct core_obligations *ob, struct error *err)
{
    struct daemon_state *d = ctx;
    struct daemon_decision dec;
    daemon_policy_decide(d, action, input_json, &dec);
    /* The digest is over the input the policy saw (the glue may add the
     * session's declared intent). */
    const char *seen = dec.input_effective ? dec.input_effective : input_json;
    char input_digest[AUDIT_HASH_HEX_SIZE];
    audit_sha256_hex(seen, strlen(seen), input_digest);
    free(dec.input_effective);
    json_t *details = json_pack("{s:s, s:s, s:I}", "action", action, "outcome",
                                dec.outcome ? dec.outcome : "decided", "eval_us",
                                (json_int_t)dec.eval_us);
    memset(ob, 0, sizeof(*ob));
    if (dec.env_allowlist) {
        json_object_set(details, "obligation_env_allowlist", dec.env_allowlist);
        /* Names that do not fit are left out: the list only ever narrows. */
        ob->env_restricted = true;
        size_t i;
        json_t *name;
        json_array_foreach(dec.env_allowlist, i, name) {
            const char *n = json_string_value(name);
            if (n == NULL || strlen(n) > CORE_MAX_ENV_NAME || ob->n_env_allow >= CORE_MAX_ENV)
                continue;
            snprintf(ob->env_allow[ob->n_env_allow++], CORE_MAX_ENV_NAME + 1, "%s", n);
        }
    }
    json_decref(dec.env_allowlist);
    if (dec.timeout_s)
        json_object_set_new(details, "obligation_timeout_s", json_integer(dec.timeout_s));
    if (dec.max_output_bytes)
        json_object_set_new(details, "obligation_max_output_bytes",
                            json_integer((json_int_t)dec.max_output_bytes));
    cleanup_free char *details_text = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(details);
    cleanup_free char *reasons_text = json_dumps(dec.reasons, JSON_COMPACT);
    struct error aerr;
    int r = append(d, AUDIT_POLICY_DECISION, session_id, input_digest,
                   dec.allow ? "allow" : "deny", reasons_text, details_text, &aerr);
    if (r < 0) {
        log_error("cannot record a policy decision: %s", aerr.message);
        json_decref(dec.reasons);
        return error_set(err, ERR_UNAVAILABLE,
                         "the audit log cannot record the decision, so the action is refused: %s",
                         aerr.message);
    }
    if (!dec.allow) {
        /* The policy's own reasons, joined, are what the client sees. */
        char joined[900] = "";
        size_t used = 0;
        size_t i;
        json_t *reason;
        json_array_foreach(dec.reasons, i, reason) {
            const char *s = json_string_value(reason);
            if (s == NULL || used >= sizeof(joined) - 1)
                continue;
            used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s", i ? "; " : "", s);
        }
        json_decref(dec.reasons);
        return error_set(err, ERR_PERMISSION_DENIED, "denied by policy: %s",
                         joined[0] ? joined : "no rule allows this");
    }
    json_decref(dec.reasons);
    ob->timeout_s = dec.timeout_s;
    ob->max_output_bytes = dec.max_output_bytes;
    return 0;
}

static void gate_record(void *ctx, const char *event, const char *session_id,
                        const char *details_json)
{
    struct daemon_state *d = ctx;
    enum audit_kind kind = audit_kind_from_name(event);
    if (kind == AUDIT_KIND_UNKNOWN) {
        log_error("no audit event kind named %s", event);
        return;
    }
    struct error err;
    if (append(d, kind, session_id, NULL, NULL, NULL, details_json, &err) < 0)
        log_error("cannot record %s for %s: %s", event, session_id ? session_id : "-", err.message);
}

void daemon_gate_init(struct daemon_state *d, struct core_gate *gate)
{
    gate->decide = gate_decide;
    gate->record = gate_record;
    gate->ctx = d;
}

int daemon_record(struct daemon_state *d, const char *event, const char *session_id,
                  const char *details_json, struct error *err)
{
    enum audit_kind kind = audit_kind_from_name(event);
    if (kind == AUDIT_KIND_UNKNOWN)
        return error_set(err, ERR_INTERNAL, "no audit event kind named %s", event);
    return append(d, kind, session_id, NULL, NULL, NULL, details_json, err);
}
