/* The gate (gate.h): the bundle in force, the sessions' declared intents,
 * and the one decision call that evaluates and records. */
#include "gate/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/log.h"
#include "policy/policy.h"

#define GATE_MAX_SESSION_ID 256

struct gate_session {
    struct gate_session *next;
    char id[GATE_MAX_SESSION_ID + 1];
    json_t *intent; /* a non-empty object, or NULL: none declared yet */
};

struct gate {
    struct audit_log *audit;
    char *policy_dir; /* NULL: the built-in constitution */
    const struct policy_limits *limits;
    struct policy_bundle *bundle;
    char digest[POLICY_DIGEST_SIZE];
    struct gate_session *sessions;
};

static int64_t now_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ recording */

static int append(struct gate *g, enum audit_kind kind, const char *session_id,
                  const char *input_digest, const char *decision, json_t *reasons, json_t *details,
                  uint64_t *seq, struct error *err)
{
    /* A caller whose json_pack failed (out of memory, a string that is not
     * UTF-8) hands over NULL. The event happened, so it is recorded, but
     * marked: a record without its details must not pass for a complete one. */
    if (details == NULL) {
        log_warn("audit: the details of %s for %s could not be built; recorded as lost",
                 audit_kind_name(kind), session_id && session_id[0] ? session_id : "-");
        details = json_pack("{s:b}", "details_lost", 1);
        if (details == NULL) {
            json_decref(reasons);
            return error_set(err, ERR_INTERNAL, "out of memory building an audit record");
        }
    }
    cleanup_free char *reasons_text = reasons ? json_dumps(reasons, JSON_COMPACT) : NULL;
    cleanup_free char *details_text = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(reasons);
    json_decref(details);
    if ((reasons && !reasons_text) || !details_text)
        return error_set(err, ERR_INTERNAL, "out of memory encoding an audit record");
    struct audit_record_in in = {
        .kind = kind,
        .session_id = session_id ? session_id : "",
        .bundle_digest = g->digest,
        .input_digest = input_digest ? input_digest : "",
        .decision = decision ? decision : "",
        .reasons_json = reasons_text,
        .details_json = details_text,
    };
    struct audit_record_out out;
    if (audit_append(g->audit, &in, &out, err) < 0)
        return -1;
    if (seq)
        *seq = out.seq;
    return 0;
}

int gate_record(struct gate *gate, enum audit_kind kind, const char *session_id, json_t *details,
                struct error *err)
{
    return append(gate, kind, session_id, NULL, NULL, NULL, details, NULL, err);
}

/* ------------------------------------------------------------ bundles */

/* Puts b in force: records POLICY:LOADED under its digest first; if that
 * record cannot be written, b is dropped and the old bundle stays. */
static int install(struct gate *g, struct policy_bundle *b, const char *how, const char *session_id,
                   struct error *err)
{
    char old[sizeof(g->digest)];
    memcpy(old, g->digest, sizeof(old));
    snprintf(g->digest, sizeof(g->digest), "%s", policy_bundle_digest(b));
    json_t *details = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "how", how, "origin",
                                policy_bundle_origin(b), "digest", policy_bundle_digest(b),
                                "files", (json_int_t)policy_bundle_file_count(b), "tests",
                                (json_int_t)policy_bundle_test_count(b), "previous", old);
    if (details == NULL || append(g, AUDIT_POLICY_LOADED, session_id, NULL, NULL, NULL, details,
                                  NULL, err) < 0) {
        if (details == NULL)
            error_set(err, ERR_INTERNAL, "out of memory");
        memcpy(g->digest, old, sizeof(old));
        policy_bundle_free(b);
        return error_prefix(err, "the bundle is not put in force because its loading cannot be recorded");
    }
    policy_bundle_free(g->bundle);
    g->bundle = b;
    log_info("policy bundle %s in force (%s, %s, %u tests passed)", g->digest, how,
             policy_bundle_origin(b), policy_bundle_test_count(b));
    return 0;
}

static void record_refused(struct gate *g, const char *how, const char *origin,
                           const char *session_id, const char *why)
{
    struct error err;
    json_t *details = json_pack("{s:s, s:s, s:s, s:s}", "how", how, "origin", origin, "error", why,
                                "kept", g->digest);
    if (append(g, AUDIT_POLICY_REFUSED, session_id, NULL, NULL, NULL, details, NULL, &err) < 0)
        log_error("cannot record a refused policy bundle: %s", err.message);
    log_warn("policy bundle refused (%s): %s; %s stays in force", how, why,
             g->digest[0] ? g->digest : "no bundle");
}

static int load_configured(struct gate *g, struct policy_bundle **out, struct error *err)
{
    if (g->policy_dir)
        return policy_bundle_load_dir(g->policy_dir, g->limits, out, err);
    return policy_bundle_load_builtin(g->limits, out, err);
}

static const char *configured_origin(const struct gate *g)
{
    return g->policy_dir ? g->policy_dir : "builtin";
}

int gate_new(const struct gate_config *config, struct gate **out, struct error *err)
{
    *out = NULL;
    if (config->audit == NULL)
        return error_set(err, ERR_INTERNAL, "the gate needs an audit log to record its decisions");
    struct gate *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    g->audit = config->audit;
    g->limits = config->limits;
    if (config->policy_dir && config->policy_dir[0]) {
        g->policy_dir = strdup(config->policy_dir);
        if (g->policy_dir == NULL) {
            free(g);
            return error_set(err, ERR_INTERNAL, "out of memory");
        }
    }
    struct policy_bundle *b = NULL;
    if (load_configured(g, &b, err) < 0) {
        record_refused(g, "start", configured_origin(g), "", err->message);
        gate_free(g);
        return -1;
    }
    if (install(g, b, "start", "", err) < 0) {
        gate_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

void gate_free(struct gate *gate)
{
    if (gate == NULL)
        return;
    while (gate->sessions) {
        struct gate_session *s = gate->sessions;
        gate->sessions = s->next;
        json_decref(s->intent);
        free(s);
    }
    policy_bundle_free(gate->bundle);
    free(gate->policy_dir);
    free(gate);
}

struct policy_bundle *gate_bundle(struct gate *gate)
{
    return gate->bundle;
}

const char *gate_policy_digest(const struct gate *gate)
{
    return gate->digest;
}

int gate_reload(struct gate *gate, struct error *err)
{
    struct policy_bundle *b = NULL;
    log_info("SIGHUP: loading the policy bundle again from %s", configured_origin(gate));
    if (load_configured(gate, &b, err) < 0) {
        record_refused(gate, "sighup", configured_origin(gate), "", err->message);
        return -1;
    }
    return install(gate, b, "sighup", "", err);
}

int gate_apply_document(struct gate *gate, const char *text, size_t len, const char *session_id,
                        struct error *err)
{
    struct policy_bundle *b = NULL;
    if (policy_bundle_load_document(text, len, gate->limits, &b, err) < 0) {
        char doc_digest[AUDIT_HASH_HEX_SIZE], origin[96];
        digest_sha256_hex(text, len, doc_digest);
        snprintf(origin, sizeof(origin), "document sha256:%s", doc_digest);
        record_refused(gate, "apply", origin, session_id, err->message);
        return 1;
    }
    return install(gate, b, "apply", session_id, err);
}

/* ------------------------------------------------------------ intents */

static struct gate_session *find_session(struct gate *g, const char *id)
{
    for (struct gate_session *s = g->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static bool non_empty_object(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) > 0;
}

int gate_session_open(struct gate *gate, const char *session_id, const json_t *intent,
                      struct error *err)
{
    if (session_id == NULL || session_id[0] == '\0' || strlen(session_id) > GATE_MAX_SESSION_ID)
        return error_set(err, ERR_INVALID_ARGUMENT, "the gate cannot track session id '%s'",
                         session_id ? session_id : "");
    json_t *copy = NULL;
    if (non_empty_object(intent) && (copy = json_deep_copy(intent)) == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    struct gate_session *s = find_session(gate, session_id);
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            json_decref(copy);
            return error_set(err, ERR_INTERNAL, "out of memory");
        }
        snprintf(s->id, sizeof(s->id), "%s", session_id);
        s->next = gate->sessions;
        gate->sessions = s;
    }
    json_decref(s->intent);
    s->intent = copy;
    return 0;
}

void gate_session_close(struct gate *gate, const char *session_id)
{
    for (struct gate_session **pp = &gate->sessions; *pp; pp = &(*pp)->next) {
        struct gate_session *s = *pp;
        if (strcmp(s->id, session_id) == 0) {
            *pp = s->next;
            json_decref(s->intent);
            free(s);
            return;
        }
    }
}

/* Puts the session's intent into input.session.intent ({} when it has
 * declared none), replacing whatever the caller put there (see gate.h). The
 * start request carries its own declaration; an input about no session has
 * no intent. Returns -1 when input cannot be completed. */
static int fill_intent(struct gate *g, const char *action, const char *session_id, json_t *input)
{
    if (strcmp(action, "session.start") == 0 || session_id[0] == '\0')
        return 0;
    struct gate_session *s = find_session(g, session_id);
    if (s != NULL && s->intent == NULL) {
        /* The first declaration of an open session becomes its intent. */
        json_t *declared = json_object_get(
            json_object_get(json_object_get(input, "request"), "context"), "intent");
        if (non_empty_object(declared) && (s->intent = json_deep_copy(declared)) == NULL)
            return -1;
    }
    json_t *session = json_object_get(input, "session");
    if (!json_is_object(session)) {
        session = json_pack("{s:s}", "id", session_id);
        if (session == NULL || json_object_set_new(input, "session", session) < 0)
            return -1;
    }
    return json_object_set_new(session, "intent",
                               s != NULL && s->intent != NULL ? json_deep_copy(s->intent)
                                                              : json_object());
}

/* ------------------------------------------------------------ deciding */

static void obligations_from(const struct policy_decision *pd, struct gate_obligations *ob)
{
    ob->timeout_s = pd->timeout_s;
    ob->max_output_bytes = pd->max_output_bytes;
    ob->max_bytes = pd->max_bytes;
    ob->egress_max_bytes = pd->egress_max_bytes;
    ob->egress_timeout_s = pd->egress_timeout_s;
    if (pd->inject_secret != NULL) {
        const char *name = json_string_value(json_object_get(pd->inject_secret, "name"));
        const char *header = json_string_value(json_object_get(pd->inject_secret, "header"));
        const char *format = json_string_value(json_object_get(pd->inject_secret, "format"));
        /* policy_decision_from_value checked them; the lengths fit. */
        if (name && header && format && strlen(name) < sizeof(ob->inject_name) &&
            strlen(header) < sizeof(ob->inject_header) && strlen(format) < sizeof(ob->inject_format)) {
            ob->inject = true;
            snprintf(ob->inject_name, sizeof(ob->inject_name), "%s", name);
            snprintf(ob->inject_header, sizeof(ob->inject_header), "%s", header);
            snprintf(ob->inject_format, sizeof(ob->inject_format), "%s", format);
        }
    }
    size_t k;
    json_t *addr;
    json_array_foreach(pd->allow_addresses, k, addr) {
        const char *a = json_string_value(addr);
        if (a == NULL || strlen(a) > GATE_MAX_ADDRESS_TEXT || ob->n_allow_addresses >= GATE_MAX_ALLOW_ADDRESSES)
            continue; /* the list only ever narrows */
        snprintf(ob->allow_addresses[ob->n_allow_addresses++], GATE_MAX_ADDRESS_TEXT + 1, "%s", a);
    }
    if (pd->env_allowlist == NULL)
        return;
    ob->env_restricted = true;
    size_t i;
    json_t *name;
    json_array_foreach(pd->env_allowlist, i, name) {
        const char *n = json_string_value(name);
        if (n == NULL || strlen(n) > GATE_MAX_ENV_NAME || ob->n_env_allow >= GATE_MAX_ENV)
            continue;
        snprintf(ob->env_allow[ob->n_env_allow++], GATE_MAX_ENV_NAME + 1, "%s", n);
    }
}

/* The policy's own reasons, joined, are what the client sees. */
static void join_reasons(const json_t *reasons, char *out, size_t size)
{
    size_t used = 0;
    size_t i;
    json_t *reason;
    out[0] = '\0';
    json_array_foreach(reasons, i, reason) {
        const char *s = json_string_value(reason);
        if (s == NULL || used >= size - 1)
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? "; " : "", s);
        used = n < 0 ? size - 1 : used + (size_t)n;
    }
}

int gate_decide(struct gate *gate, const char *action, const char *session_id, json_t *input,
                struct gate_obligations *obligations, struct error *err)
{
    memset(obligations, 0, sizeof(*obligations));
    if (session_id == NULL)
        session_id = "";
    if (input == NULL)
        return error_set(err, ERR_INTERNAL, "no policy input for %s (out of memory?), so it is refused",
                         action);
    if (!json_is_object(input)) {
        json_decref(input);
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "the policy input for %s is not a JSON object, so it is refused", action);
    }
    if (json_object_set_new(input, "action", json_string(action)) < 0 ||
        json_object_set_new(input, "time", json_pack("{s:I}", "unix_ns", (json_int_t)now_unix_ns())) < 0 ||
        fill_intent(gate, action, session_id, input) < 0) {
        json_decref(input);
        return error_set(err, ERR_INTERNAL, "out of memory completing the policy input for %s", action);
    }
    /* One canonical serialisation, for the digest only: the policy reads the
     * json_t itself. */
    cleanup_free char *canonical = json_dumps(input, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (canonical == NULL) {
        json_decref(input);
        return error_set(err, ERR_INTERNAL, "cannot encode the policy input for %s", action);
    }
    char input_digest[AUDIT_HASH_HEX_SIZE];
    digest_sha256_hex(canonical, strlen(canonical), input_digest);

    struct policy_decision pd;
    if (gate->bundle == NULL) {
        memset(&pd, 0, sizeof(pd));
        pd.outcome = POLICY_UNDEFINED;
        pd.reasons = json_pack("[s]", "no policy bundle is loaded (default deny)");
    } else {
        policy_decide(gate->bundle, input, &pd);
    }
    json_decref(input);
    /* Only a well-formed decision can allow, whatever the evaluator said. */
    bool allow = pd.allow && pd.outcome == POLICY_DECIDED;

    json_t *details = json_pack("{s:s, s:s, s:I}", "action", action, "outcome",
                                policy_outcome_name(pd.outcome), "eval_us", (json_int_t)pd.eval_us);
    if (details != NULL && allow) {
        if (pd.env_allowlist)
            json_object_set(details, "obligation_env_allowlist", pd.env_allowlist);
        if (pd.timeout_s)
            json_object_set_new(details, "obligation_timeout_s", json_integer(pd.timeout_s));
        if (pd.max_output_bytes)
            json_object_set_new(details, "obligation_max_output_bytes",
                                json_integer((json_int_t)pd.max_output_bytes));
        if (pd.max_bytes)
            json_object_set_new(details, "obligation_max_bytes", json_integer((json_int_t)pd.max_bytes));
        if (pd.allow_addresses)
            json_object_set(details, "obligation_allow_addresses", pd.allow_addresses);
        if (pd.inject_secret) /* the secret's name, never its value */
            json_object_set(details, "obligation_inject_secret", pd.inject_secret);
        if (pd.egress_max_bytes)
            json_object_set_new(details, "obligation_egress_max_bytes",
                                json_integer((json_int_t)pd.egress_max_bytes));
        if (pd.egress_timeout_s)
            json_object_set_new(details, "obligation_egress_timeout_s",
                                json_integer(pd.egress_timeout_s));
    }
    char joined[900];
    join_reasons(pd.reasons, joined, sizeof(joined));
    uint64_t seq = 0;
    struct error aerr;
    int r = details == NULL ? error_set(&aerr, ERR_INTERNAL, "out of memory")
                            : append(gate, AUDIT_POLICY_DECISION, session_id, input_digest,
                                     allow ? "allow" : "deny", json_incref(pd.reasons), details,
                                     &seq, &aerr);
    if (r < 0) {
        policy_decision_release(&pd);
        log_error("cannot record a policy decision on %s: %s", action, aerr.message);
        return error_set(err, ERR_UNAVAILABLE,
                         "the audit log cannot record the decision, so the action is refused: %s",
                         aerr.message);
    }
    if (!allow) {
        policy_decision_release(&pd);
        return error_set(err, ERR_PERMISSION_DENIED, "denied by policy: %s",
                         joined[0] ? joined : "no rule allows this");
    }
    obligations_from(&pd, obligations);
    obligations->audit_seq = seq;
    policy_decision_release(&pd);
    return 0;
}
