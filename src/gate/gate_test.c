/* The gate against a real SQLite audit log and real Rego bundles: an allow
 * comes only with a durable record; a denial, an undefined decision, an
 * evaluation error, a malformed decision and an audit log that cannot take
 * the record all refuse; obligations come back; the input digest is the
 * SHA-256 of the canonical input the policy saw; the session's intent is
 * kept by the gate and put into every later input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "audit/audit.h"
#include "common/digest.h"
#include "gate/gate.h"
#include "gate/test_gate.h"

struct fixture {
    struct test_gate t;
    struct audit_log *log; /* t's */
    struct gate *gate;     /* t's */
    const char *db;        /* t's */
};

/* The last record of the log, copied. */
struct last {
    uint64_t seq;
    char kind[64];
    char session[64];
    char decision[16];
    char input_digest[AUDIT_HASH_HEX_SIZE];
    char bundle_digest[AUDIT_HASH_HEX_SIZE];
    char reasons[4096];
    char details[4096];
};

static int keep_last(const struct audit_record *r, void *ctx)
{
    struct last *l = ctx;
    l->seq = r->seq;
    snprintf(l->kind, sizeof(l->kind), "%s", r->kind_name);
    snprintf(l->session, sizeof(l->session), "%s", r->session_id);
    snprintf(l->decision, sizeof(l->decision), "%s", r->decision);
    snprintf(l->input_digest, sizeof(l->input_digest), "%s", r->input_digest);
    snprintf(l->bundle_digest, sizeof(l->bundle_digest), "%s", r->bundle_digest);
    snprintf(l->reasons, sizeof(l->reasons), "%s", r->reasons_json);
    snprintf(l->details, sizeof(l->details), "%s", r->details_json);
    return 0;
}

static struct last last_record(struct fixture *f)
{
    struct last l;
    memset(&l, 0, sizeof(l));
    struct error err;
    if (audit_query(f->log, NULL, keep_last, &l, &err) < 0)
        fail_msg("audit_query: %s", err.message);
    return l;
}

static uint64_t head_seq(struct fixture *f)
{
    uint64_t seq;
    char hash[AUDIT_HASH_HEX_SIZE];
    struct error err;
    assert_int_equal(audit_head(f->log, &seq, hash, &err), 0);
    return seq;
}

static void use_policy(struct fixture *f, const char *rego)
{
    struct error err;
    int r = gate_apply_document(f->gate, rego, strlen(rego), "", &err);
    if (r != 0)
        fail_msg("policy not applied (%d): %s", r, err.message);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_gate_open(&f->t, NULL);
    f->log = f->t.log;
    f->gate = f->t.gate;
    f->db = f->t.db;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    test_gate_close(&f->t);
    free(f);
    return 0;
}

static json_t *exec_input(const char *session_id)
{
    return json_pack("{s:{s:s}, s:{s:[s, s, s], s:{}}, s:{s:s, s:s, s:s}}", "session", "id",
                     session_id, "request", "argv", "python3", "-c", "1", "context", "caller",
                     "transport", "grpc", "peer", "tcp:127.0.0.1:1", "principal", "agent");
}

/* ------------------------------------------------------------ allow */

static void test_allow_is_recorded_with_obligations(void **state)
{
    struct fixture *f = *state;
    use_policy(f, "package enclave\n"
                  "decision := {\"allow\": true, \"reasons\": [\"fine\"], \"obligations\": "
                  "{\"timeout_s\": 7, \"max_output_bytes\": 4096, \"env_allowlist\": [\"LANG\", "
                  "\"TZ\"]}}\n");
    struct gate_obligations ob;
    struct error err;
    uint64_t before = head_seq(f);
    assert_int_equal(gate_decide(f->gate, "exec", "s-1", exec_input("s-1"), &ob, &err), 0);
    assert_int_equal(ob.timeout_s, 7);
    assert_int_equal(ob.max_output_bytes, 4096);
    assert_true(ob.env_restricted);
    assert_int_equal(ob.n_env_allow, 2);
    assert_string_equal(ob.env_allow[0], "LANG");
    assert_string_equal(ob.env_allow[1], "TZ");
    /* The allow is on disk, and the obligations say which record it is. */
    struct last l = last_record(f);
    assert_int_equal(l.seq, before + 1);
    assert_int_equal(ob.audit_seq, l.seq);
    assert_string_equal(l.kind, "POLICY:DECISION");
    assert_string_equal(l.session, "s-1");
    assert_string_equal(l.decision, "allow");
    assert_string_equal(l.reasons, "[\"fine\"]");
    assert_string_equal(l.bundle_digest, gate_policy_digest(f->gate));
    assert_non_null(strstr(l.details, "\"action\":\"exec\""));
    assert_non_null(strstr(l.details, "\"obligation_timeout_s\":7"));
}

/* ------------------------------------------------------------ refusals */

static void assert_refused_and_recorded(struct fixture *f, const char *outcome, const char *reason)
{
    struct gate_obligations ob;
    memset(&ob, 0xff, sizeof(ob));
    struct error err;
    uint64_t before = head_seq(f);
    assert_int_equal(gate_decide(f->gate, "exec", "s-1", exec_input("s-1"), &ob, &err), -1);
    assert_int_equal(err.kind, ERR_PERMISSION_DENIED);
    if (strstr(err.message, reason) == NULL)
        fail_msg("refusal without '%s': %s", reason, err.message);
    /* Nothing to carry out: no obligation survives a refusal. */
    assert_int_equal(ob.timeout_s, 0);
    assert_false(ob.env_restricted);
    assert_int_equal(ob.audit_seq, 0);
    struct last l = last_record(f);
    assert_int_equal(l.seq, before + 1);
    assert_string_equal(l.kind, "POLICY:DECISION");
    assert_string_equal(l.decision, "deny");
    char want[64];
    snprintf(want, sizeof(want), "\"outcome\":\"%s\"", outcome);
    if (strstr(l.details, want) == NULL)
        fail_msg("details without %s: %s", want, l.details);
    assert_non_null(strstr(l.reasons, reason));
}

/* Policies that refuse exec, each in its own way: what the gate records
 * (the outcome) and the reason it gives. */
static const struct refusal {
    const char *name;
    const char *policy;
    const char *outcome, *reason;
} refusals[] = {
    {"a denial", "package enclave\n"
                 "decision := {\"allow\": false, \"reasons\": [\"not today\"], \"obligations\": "
                 "{\"timeout_s\": 7}}\n",
     "decided", "not today"},
    {"an undefined decision", "package enclave\n"
                              "decision := {\"allow\": true} if input.action == \"session.stop\"\n",
     "undefined", "undefined"},
    /* Two complete definitions with different values: a conflict error. */
    {"an evaluation error", "package enclave\n"
                            "decision := {\"allow\": true} if input.action == \"exec\"\n"
                            "decision := {\"allow\": false} if input.action == \"exec\"\n"
                            "decision := {\"allow\": true} if input.action != \"exec\"\n",
     "error", "policy evaluation failed"},
    {"a malformed decision", "package enclave\ndecision := {\"allow\": \"yes\"}\n", "malformed", "allow"},
};

static void test_refusals_are_recorded(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        print_message("refusal: %s\n", refusals[i].name);
        use_policy(f, refusals[i].policy);
        assert_refused_and_recorded(f, refusals[i].outcome, refusals[i].reason);
    }
}

/* A decision the audit log cannot take is no decision: refused, even though
 * the policy allows. The log is a real SQLite database that refuses every
 * insert (a trigger added through a second connection). */
static void test_audit_failure_refuses(void **state)
{
    struct fixture *f = *state;
    use_policy(f, "package enclave\ndecision := {\"allow\": true, \"obligations\": {\"timeout_s\": 3}}\n");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(db,
                          "CREATE TRIGGER no_more BEFORE INSERT ON records "
                          "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("create trigger: %s", msg);
    uint64_t before = head_seq(f);
    struct gate_obligations ob;
    struct error err;
    assert_int_equal(gate_decide(f->gate, "exec", "s-1", exec_input("s-1"), &ob, &err), -1);
    assert_int_equal(err.kind, ERR_UNAVAILABLE);
    assert_non_null(strstr(err.message, "cannot record the decision"));
    assert_int_equal(ob.timeout_s, 0);
    assert_int_equal(head_seq(f), before);
    /* Events that cannot be recorded say so too. */
    assert_true(gate_record(f->gate, AUDIT_SESSION_READY, "s-1", json_object(), &err) < 0);

    /* The same request with a log that works is allowed: the refusal above
     * came from the log. */
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER no_more", NULL, NULL, &msg), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(gate_decide(f->gate, "exec", "s-1", exec_input("s-1"), &ob, &err), 0);
    assert_int_equal(ob.timeout_s, 3);
}

static void test_no_input_refuses(void **state)
{
    struct fixture *f = *state;
    use_policy(f, "package enclave\ndecision := {\"allow\": true}\n");
    struct gate_obligations ob;
    struct error err;
    uint64_t before = head_seq(f);
    assert_int_equal(gate_decide(f->gate, "exec", "s-1", NULL, &ob, &err), -1);
    assert_int_equal(err.kind, ERR_INTERNAL);
    assert_int_equal(gate_decide(f->gate, "exec", "s-1", json_pack("[i]", 1), &ob, &err), -1);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    assert_int_equal(head_seq(f), before);
}

/* A caller whose json_pack failed hands the gate NULL: the event is still
 * recorded, and its record says the details were lost rather than passing
 * for a complete record without details. */
static void test_lost_details_are_marked(void **state)
{
    struct fixture *f = *state;
    struct error err;
    /* json_pack refuses a string that is not UTF-8 (a guest's text, say). */
    json_t *details = json_pack("{s:s}", "reason", "bad \xff text");
    assert_null(details);
    assert_int_equal(gate_record(f->gate, AUDIT_SESSION_FAILED, "s-1", details, &err), 0);
    struct last l = last_record(f);
    assert_string_equal(l.kind, "SESSION:FAILED");
    assert_string_equal(l.session, "s-1");
    assert_string_equal(l.details, "{\"details_lost\":true}");
    /* Details given are recorded as they are, without the mark. */
    assert_int_equal(gate_record(f->gate, AUDIT_SESSION_FAILED, "s-1",
                                 json_pack("{s:s}", "reason", "boot"), &err), 0);
    l = last_record(f);
    assert_string_equal(l.details, "{\"reason\":\"boot\"}");
    assert_int_equal(gate_record(f->gate, AUDIT_SESSION_READY, "s-1", json_object(), &err), 0);
    l = last_record(f);
    assert_string_equal(l.details, "{}");
}

/* ------------------------------------------------------------ the input */

/* A policy that refuses everything and shows, as its reason, the input it
 * saw (JSON text). Returns that input, parsed, and the record's digest. */
static const char *ECHO = "package enclave\n"
                          "decision := {\"allow\": false, \"reasons\": [json.marshal(input)]}\n";

static json_t *seen_input(struct fixture *f, const char *action, const char *session_id,
                          json_t *input, char digest[AUDIT_HASH_HEX_SIZE])
{
    struct gate_obligations ob;
    struct error err;
    assert_int_equal(gate_decide(f->gate, action, session_id, input, &ob, &err), -1);
    struct last l = last_record(f);
    snprintf(digest, AUDIT_HASH_HEX_SIZE, "%s", l.input_digest);
    json_t *reasons = json_loads(l.reasons, 0, NULL);
    assert_non_null(reasons);
    json_t *seen = json_loads(json_string_value(json_array_get(reasons, 0)), 0, NULL);
    json_decref(reasons);
    assert_non_null(seen);
    return seen;
}

static void test_input_digest_is_over_the_canonical_input(void **state)
{
    struct fixture *f = *state;
    use_policy(f, ECHO);
    char digest[AUDIT_HASH_HEX_SIZE];
    json_t *seen = seen_input(f, "exec", "s-1", exec_input("s-1"), digest);
    assert_string_equal(json_string_value(json_object_get(seen, "action")), "exec");
    assert_true(json_is_integer(json_object_get(json_object_get(seen, "time"), "unix_ns")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(seen, "caller"), "principal")), "agent");
    char *canonical = json_dumps(seen, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    char want[AUDIT_HASH_HEX_SIZE];
    digest_sha256_hex(canonical, strlen(canonical), want);
    assert_string_equal(digest, want);
    free(canonical);
    json_decref(seen);
}

static const char *intent_of(json_t *seen)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(seen, "session"), "intent"), "action_category"));
}

static void test_intent_is_kept_by_the_gate(void **state)
{
    struct fixture *f = *state;
    use_policy(f, ECHO);
    char digest[AUDIT_HASH_HEX_SIZE];
    struct error err;

    /* Declared at start: every later input carries it, whatever it says. */
    json_t *ro = json_pack("{s:s}", "action_category", "read_only_analysis");
    assert_int_equal(gate_session_open(f->gate, "s-start", ro, &err), 0);
    json_decref(ro);
    json_t *in = exec_input("s-start");
    json_object_set_new(json_object_get(in, "session"), "intent",
                        json_pack("{s:s}", "action_category", "code_execution"));
    json_t *seen = seen_input(f, "exec", "s-start", in, digest);
    assert_string_equal(intent_of(seen), "read_only_analysis");
    json_decref(seen);

    /* Declared by the first request that says one: kept from then on. */
    assert_int_equal(gate_session_open(f->gate, "s-late", NULL, &err), 0);
    seen = seen_input(f, "exec", "s-late", exec_input("s-late"), digest);
    assert_null(intent_of(seen));
    json_decref(seen);
    in = exec_input("s-late");
    json_object_set_new(json_object_get(in, "request"), "context",
                        json_pack("{s:{s:s}}", "intent", "action_category", "read_only_analysis"));
    seen = seen_input(f, "exec", "s-late", in, digest);
    assert_string_equal(intent_of(seen), "read_only_analysis");
    json_decref(seen);
    seen = seen_input(f, "file.write", "s-late", exec_input("s-late"), digest);
    assert_string_equal(intent_of(seen), "read_only_analysis");
    json_decref(seen);

    /* A closed session is forgotten; a session the gate never opened keeps
     * nothing. */
    gate_session_close(f->gate, "s-late");
    seen = seen_input(f, "exec", "s-late", exec_input("s-late"), digest);
    assert_null(intent_of(seen));
    json_decref(seen);

    /* Only the gate says what a session's intent is: {} when none, even if
     * the caller put one in the input. */
    in = exec_input("s-unknown");
    json_object_set_new(json_object_get(in, "session"), "intent",
                        json_pack("{s:s}", "action_category", "code_execution"));
    seen = seen_input(f, "exec", "s-unknown", in, digest);
    json_t *intent = json_object_get(json_object_get(seen, "session"), "intent");
    assert_true(json_is_object(intent));
    assert_int_equal(json_object_size(intent), 0);
    json_decref(seen);
}

/* ------------------------------------------------------------ bundles */

static void test_bad_document_is_refused_and_recorded(void **state)
{
    struct fixture *f = *state;
    char held[AUDIT_HASH_HEX_SIZE];
    snprintf(held, sizeof(held), "%s", gate_policy_digest(f->gate));
    struct error err;
    const char *bad = "package enclave\n\ndecision := {\n";
    assert_int_equal(gate_apply_document(f->gate, bad, strlen(bad), "s-1", &err), 1);
    assert_string_equal(gate_policy_digest(f->gate), held);
    struct last l = last_record(f);
    assert_string_equal(l.kind, "POLICY:REFUSED");
}

static void test_gate_needs_an_audit_log(void **state)
{
    struct gate_config gc = {0};
    struct gate *g = (struct gate *)1;
    struct error err;
    assert_int_equal(gate_new(&gc, &g, &err), -1);
    assert_null(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_allow_is_recorded_with_obligations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_are_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_failure_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_input_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_details_are_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_digest_is_over_the_canonical_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intent_is_kept_by_the_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_document_is_refused_and_recorded, setup, teardown),
        cmocka_unit_test(test_gate_needs_an_audit_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
