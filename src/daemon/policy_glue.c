/* Asking the policy: the bundle in force, its loading (start, SIGHUP,
 * ApplyPolicy), and the intents sessions have declared.
 *
 * Intents: StartRequest has no field for one, so a session declares its
 * intent with the first exec that carries ToolRequest.context_json
 * {"intent": {"action_category": ...}}. From then on the daemon puts that
 * intent into session.intent of every input for the session, so the policy
 * can hold the session to it even when later requests say nothing (or say
 * something else). The input digest in the audit record is over the input
 * the policy actually saw. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/v1/agent.pb-c.h"
#include "audit/audit.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "daemon/internal.h"
#include "policy/policy.h"

#define MAX_INTENT_SESSIONS 4096
#define MAX_POLICY_DOCUMENT (4u << 20)

struct session_intent {
    char session_id[72];
    char *intent_json; /* compact, sorted */
};

struct daemon_policy {
    struct policy_bundle *bundle;
    struct session_intent *intents;
    size_t n_intents;
};

/* ------------------------------------------------------------ loading */

static void details_text(json_t *details, char **out)
{
    *out = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(details);
}

/* Puts b in force: records POLICY:LOADED under its digest first; if that
 * record cannot be written, b is dropped and the old bundle stays. */
static int install(struct daemon_state *d, struct policy_bundle *b, const char *how,
                   const char *session_id, struct error *err)
{
    char old[sizeof(d->policy_digest)];
    memcpy(old, d->policy_digest, sizeof(old));
    snprintf(d->policy_digest, sizeof(d->policy_digest), "%s", policy_bundle_digest(b));
    cleanup_free char *text = NULL;
    details_text(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "how", how, "origin",
                           policy_bundle_origin(b), "digest", policy_bundle_digest(b), "files",
                           (json_int_t)policy_bundle_file_count(b), "tests",
                           (json_int_t)policy_bundle_test_count(b), "previous", old),
                 &text);
    if (daemon_record(d, "POLICY:LOADED", session_id, text ? text : "{}", err) < 0) {
        memcpy(d->policy_digest, old, sizeof(old));
        policy_bundle_free(b);
        return error_prefix(err, "the bundle is not put in force because its loading cannot be recorded");
    }
    policy_bundle_free(d->policy->bundle);
    d->policy->bundle = b;
    log_info("policy bundle %s in force (%s, %s, %u tests passed)", d->policy_digest, how,
             policy_bundle_origin(b), policy_bundle_test_count(b));
    return 0;
}

static void record_refused(struct daemon_state *d, const char *how, const char *origin,
                           const char *session_id, const char *why)
{
    cleanup_free char *text = NULL;
    details_text(json_pack("{s:s, s:s, s:s, s:s}", "how", how, "origin", origin, "error", why,
                           "kept", d->policy_digest),
                 &text);
    struct error err;
    if (daemon_record(d, "POLICY:REFUSED", session_id, text ? text : "{}", &err) < 0)
        log_error("cannot record a refused policy bundle: %s", err.message);
    log_warn("policy bundle refused (%s): %s; %s stays in force", how, why,
             d->policy_digest[0] ? d->policy_digest : "no bundle");
}

static int load_configured(struct daemon_state *d, struct policy_bundle **out, struct error *err)
{
    if (d->opts.policy_dir && d->opts.policy_dir[0])
        return policy_bundle_load_dir(d->opts.policy_dir, NULL, out, err);
    return policy_bundle_load_builtin(NULL, out, err);
}

static const char *configured_origin(struct daemon_state *d)
{
    return d->opts.policy_dir && d->opts.policy_dir[0] ? d->opts.policy_dir : "builtin";
}

int daemon_policy_init(struct daemon_state *d, struct error *err)
{
    d->policy = calloc(1, sizeof(*d->policy));
    if (d->policy == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    struct policy_bundle *b = NULL;
    if (load_configured(d, &b, err) < 0) {
        record_refused(d, "start", configured_origin(d), "", err->message);
        return -1;
    }
    return install(d, b, "start", "", err);
}

void daemon_policy_reload(struct daemon_state *d)
{
    struct policy_bundle *b = NULL;
    struct error err;
    log_info("SIGHUP: loading the policy bundle again from %s", configured_origin(d));
    if (load_configured(d, &b, &err) < 0) {
        record_refused(d, "sighup", configured_origin(d), "", err.message);
        return;
    }
    if (install(d, b, "sighup", "", &err) < 0)
        log_error("%s", err.message);
}

void daemon_policy_free(struct daemon_state *d)
{
    if (d->policy == NULL)
        return;
    policy_bundle_free(d->policy->bundle);
    for (size_t i = 0; i < d->policy->n_intents; i++)
        free(d->policy->intents[i].intent_json);
    free(d->policy->intents);
    free(d->policy);
    d->policy = NULL;
}

/* ------------------------------------------------------------ intents */

static struct session_intent *find_intent(struct daemon_policy *p, const char *session_id)
{
    for (size_t i = 0; i < p->n_intents; i++)
        if (strcmp(p->intents[i].session_id, session_id) == 0)
            return &p->intents[i];
    return NULL;
}

static void forget_intent(struct daemon_policy *p, const char *session_id)
{
    struct session_intent *si = find_intent(p, session_id);
    if (si == NULL)
        return;
    free(si->intent_json);
    *si = p->intents[--p->n_intents];
}

static int remember_intent(struct daemon_policy *p, const char *session_id, const json_t *intent)
{
    if (strlen(session_id) >= sizeof(p->intents[0].session_id) || p->n_intents >= MAX_INTENT_SESSIONS)
        return -1;
    struct session_intent *n = realloc(p->intents, (p->n_intents + 1) * sizeof(*n));
    if (n == NULL)
        return -1;
    p->intents = n;
    char *text = json_dumps(intent, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return -1;
    snprintf(n[p->n_intents].session_id, sizeof(n[0].session_id), "%s", session_id);
    n[p->n_intents].intent_json = text;
    p->n_intents++;
    return 0;
}

static bool non_empty_object(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) > 0;
}

/* Fills session.intent from what the session declared before, or records
 * this request's declaration as the session's. Returns true when input was
 * changed. A declaration that cannot be remembered is kept in this input
 * only; *refuse is set so the request is denied rather than let the session
 * escape its intent later. */
static bool apply_intent(struct daemon_policy *p, const char *action, json_t *input, bool *refuse)
{
    json_t *session = json_object_get(input, "session");
    const char *sid = json_string_value(json_object_get(session, "id"));
    if (!json_is_object(session) || sid == NULL || sid[0] == '\0')
        return false;
    if (strcmp(action, "exec") != 0 && strcmp(action, "file.write") != 0 &&
        strcmp(action, "file.read") != 0)
        return false;
    if (non_empty_object(json_object_get(session, "intent")))
        return false; /* core passed one (declared at start) */
    struct session_intent *si = find_intent(p, sid);
    if (si != NULL) {
        json_t *stored = json_loads(si->intent_json, 0, NULL);
        if (stored == NULL)
            return false;
        json_object_set_new(session, "intent", stored);
        return true;
    }
    json_t *declared = json_object_get(json_object_get(json_object_get(input, "request"), "context"), "intent");
    if (!non_empty_object(declared))
        return false;
    if (remember_intent(p, sid, declared) < 0)
        *refuse = true;
    json_object_set(session, "intent", declared);
    return true;
}

/* ------------------------------------------------------------ deciding */

static void deny_with(struct daemon_decision *out, const char *outcome, const char *reason)
{
    out->allow = false;
    out->reasons = json_pack("[s]", reason);
    out->outcome = outcome;
}

void daemon_policy_decide(struct daemon_state *d, const char *action, const char *input_json,
                          struct daemon_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (d->policy == NULL || d->policy->bundle == NULL) {
        deny_with(out, "undefined", "no policy bundle is loaded (default deny)");
        return;
    }
    json_error_t je;
    json_t *input = json_loads(input_json, 0, &je);
    if (!json_is_object(input)) {
        json_decref(input);
        deny_with(out, "error", "the policy input is not a JSON object (deny)");
        return;
    }
    bool refuse = false;
    if (apply_intent(d->policy, action, input, &refuse))
        out->input_effective = json_dumps(input, JSON_COMPACT | JSON_SORT_KEYS);
    struct policy_decision pd;
    policy_decide(d->policy->bundle, input, &pd);
    out->allow = pd.allow;
    out->outcome = policy_outcome_name(pd.outcome);
    out->reasons = pd.reasons;
    pd.reasons = NULL;
    out->timeout_s = pd.timeout_s;
    out->max_output_bytes = pd.max_output_bytes;
    out->env_allowlist = pd.env_allowlist;
    pd.env_allowlist = NULL;
    out->eval_us = pd.eval_us;
    policy_decision_release(&pd);
    if (refuse && out->allow) {
        out->allow = false;
        json_decref(out->reasons);
        out->reasons = json_pack("[s]", "the daemon cannot remember this session's declared intent "
                                        "(too many sessions), so it cannot hold the session to it (deny)");
    }
    const char *sid = json_string_value(json_object_get(json_object_get(input, "session"), "id"));
    if (out->allow && sid && (strcmp(action, "session.stop") == 0 || strcmp(action, "session.start") == 0))
        forget_intent(d->policy, sid); /* a new session under this id starts with no intent */
    json_decref(input);
}

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
    audit_sha256_hex(doc, len, doc_digest);
    json_t *input = json_pack("{s:{s:s}, s:{s:s, s:I}, s:{s:s, s:s, s:s}}", "session", "id", sid,
                              "request", "document_sha256", doc_digest, "document_bytes",
                              (json_int_t)len, "caller", "transport", api_call_transport(call),
                              "peer", api_call_peer(call), "principal", api_call_principal(call));
    struct core_obligations ob;
    if (core_gate_ask(d->core, "policy.apply", sid, input, &ob, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    struct policy_bundle *b = NULL;
    if (policy_bundle_load_document(doc, len, NULL, &b, &err) < 0) {
        char origin[96];
        snprintf(origin, sizeof(origin), "document sha256:%s", doc_digest);
        record_refused(d, "apply", origin, sid, err.message);
        apply_reply(call, false, err.message);
        return;
    }
    if (install(d, b, "apply", sid, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    apply_reply(call, true, NULL);
}
