/* The gate: the one place where Enclave decides whether an action may
 * happen. Every action on a session (session.start, exec, session.stop,
 * file.read, file.write, net.connect, ...) and every daemon action that needs
 * leave (audit.read, policy.apply) is one call to gate_decide():
 *
 *     json_t *input = json_pack("{s:{s:s}, s:{...}, s:o}", "session", "id", id,
 *                               "request", ..., "caller", core_caller_json(&caller));
 *     struct gate_obligations ob;
 *     if (gate_decide(gate, "file.read", id, input, &ob, err) < 0)
 *         return -1;            // refused: forward nothing
 *     ... carry out the action within ob ...
 *
 * gate_decide() adds input.action, input.time and input.session.intent,
 * evaluates the policy bundle in force against that one JSON document, writes
 * a POLICY:DECISION record to the audit log (fsynced before it returns), and
 * only then answers. It is fail-closed: it returns 0 (allow) only when the
 * bundle in force returned a well-formed decision with allow == true AND that
 * decision is on disk. Every other path is a refusal (-1 with err):
 *   - the bundle denies: ERR_PERMISSION_DENIED, the policy's reasons joined;
 *   - no bundle, undefined decision, evaluation error, step budget or time
 *     overrun, malformed decision: ERR_PERMISSION_DENIED (recorded as deny,
 *     details.outcome says which);
 *   - the decision cannot be recorded: ERR_UNAVAILABLE;
 *   - no input (NULL, e.g. out of memory building it) or input not a JSON
 *     object: ERR_INTERNAL / ERR_INVALID_ARGUMENT.
 * A caller that goes on after a negative return is a bug; there is no other
 * way to get an allow.
 *
 * The audit record carries the digest of the bundle in force and the SHA-256
 * of the input exactly as the policy saw it, serialised once, canonically
 * (compact, keys sorted, ASCII): json_dumps(input, JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENSURE_ASCII).
 *
 * Declared intent lives here and nowhere else. A session's intent is set
 * when core opens the session (gate_session_open, from the intent the start
 * request declared) or, when it declared none, by the first request of the
 * session whose request.context.intent is a non-empty object. From then on
 * gate_decide() puts it into input.session.intent for every action on that
 * session ({} while none is declared), whatever the caller put there, so the
 * policy can hold the session to it. Only session.start inputs carry the
 * caller's own session.intent (the declaration itself). gate_session_close()
 * forgets it.
 *
 * Why a module of its own rather than part of src/policy: src/policy is the
 * pure bundle loader and evaluator (the CLI's `enclave policy test` uses it
 * with no daemon, no audit log, no sessions); the gate joins it to the audit
 * log and to per-session state, which are the daemon's.
 *
 * Ownership and threads: gate_decide() and gate_record() consume the json_t
 * they are given (also on failure). The gate borrows the audit log (it must
 * outlive the gate) and owns the bundle in force. One thread (the daemon's
 * event loop) uses a gate at a time. */
#ifndef ENCLAVE_GATE_GATE_H
#define ENCLAVE_GATE_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "common/error.h"

struct gate;
struct policy_limits;

#define GATE_MAX_ENV 64
#define GATE_MAX_ENV_NAME 64
#define GATE_MAX_ALLOW_ADDRESSES 64
#define GATE_MAX_ADDRESS_TEXT 64

/* What an allow binds the action to. Zero / false: no obligation. */
struct gate_obligations {
    unsigned timeout_s;        /* at most this many seconds */
    uint64_t max_output_bytes; /* at most this many bytes per output stream */
    /* When env_restricted, only these variable names may reach the workload;
     * names longer than GATE_MAX_ENV_NAME or past GATE_MAX_ENV are left out
     * (the list only ever narrows). */
    bool env_restricted;
    unsigned n_env_allow;
    char env_allow[GATE_MAX_ENV][GATE_MAX_ENV_NAME + 1];
    /* net.connect: bytes both ways for the connection; the non-public
     * addresses it may reach ("IP" or "IP/bits"). */
    uint64_t max_bytes;
    unsigned n_allow_addresses;
    char allow_addresses[GATE_MAX_ALLOW_ADDRESSES][GATE_MAX_ADDRESS_TEXT + 1];
    /* net.connect: the secret the host adds to the requests (the name in
     * the store, the header, the value's format with one %s); inject is
     * false when none. */
    bool inject;
    char inject_name[65];
    char inject_header[65];
    char inject_format[257];
    /* session.start: the session's egress in total (bytes, seconds). */
    uint64_t egress_max_bytes;
    unsigned egress_timeout_s;
    uint64_t audit_seq; /* the seq of the POLICY:DECISION record of this allow */
};

struct gate_config {
    struct audit_log *audit;             /* required; borrowed */
    const char *policy_dir;              /* NULL or "": the built-in constitution */
    const struct policy_limits *limits;  /* NULL: the defaults */
};

/* Loads the configured bundle and records POLICY:LOADED; a bundle that does
 * not load is recorded as POLICY:REFUSED and gate_new fails (no gate runs
 * without a bundle it could record). */
int gate_new(const struct gate_config *config, struct gate **out, struct error *err);
void gate_free(struct gate *gate);

/* Decides action (e.g. "exec") on session_id ("" when none) for input, a JSON
 * object (consumed). Returns 0 to allow, with *obligations filled, or -1
 * with err: see the top of this file. obligations is zeroed either way. */
int gate_decide(struct gate *gate, const char *action, const char *session_id, json_t *input,
                struct gate_obligations *obligations, struct error *err);

/* Records an event (SESSION:READY, TOOL:EXEC, DAEMON:START...) with details
 * (a JSON object, consumed; pass json_object() for none). NULL means the
 * caller could not build its details (json_pack failed: out of memory, or a
 * string that is not UTF-8): the event is recorded with the details
 * {"details_lost": true} and a warning is logged, never as a record that
 * looks complete. Returns <0 with err when it could not be recorded; events
 * happen after the fact, so callers usually log that. */
int gate_record(struct gate *gate, enum audit_kind kind, const char *session_id, json_t *details,
                struct error *err);

/* Session lifetime, for the intent (see above). intent: a JSON object or
 * NULL/empty for none (borrowed). Opening an id that is open replaces it. */
int gate_session_open(struct gate *gate, const char *session_id, const json_t *intent,
                      struct error *err);
void gate_session_close(struct gate *gate, const char *session_id);

/* The bundle in force: 64 hex digits (never "" once gate_new succeeded). */
const char *gate_policy_digest(const struct gate *gate);

/* The bundle in force, borrowed until the next reload or apply; for reading
 * it (its files) and for dry runs (policy_decide), never for a decision that
 * lets an action happen: those go through gate_decide(). */
struct policy_bundle;
struct policy_bundle *gate_bundle(struct gate *gate);

/* SIGHUP: loads the configured bundle again. A bundle that fails is refused
 * (POLICY:REFUSED recorded) and the one in force stays. */
int gate_reload(struct gate *gate, struct error *err);

/* ApplyPolicy's document (see policy_bundle_load_document). The caller must
 * have had "policy.apply" allowed by gate_decide() first. Returns 0 when the
 * bundle is in force (POLICY:LOADED recorded), 1 when the document was
 * refused (POLICY:REFUSED recorded, err says why; the old bundle stays), -1
 * when nothing could be recorded (nothing changed). */
int gate_apply_document(struct gate *gate, const char *text, size_t len, const char *session_id,
                        struct error *err);

#endif
