/* For unit tests only (gate, egress, daemon): a fresh ENCLAVE_HOME with the
 * audit log and a gate on it, as the daemon makes them. Header-only; include
 * after <cmocka.h>. */
#ifndef ENCLAVE_GATE_TEST_GATE_H
#define ENCLAVE_GATE_TEST_GATE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "gate/gate.h"

struct test_gate {
    char home[64];
    char db[4200], keys[4200];
    struct audit_log *log;
    struct gate *gate;
};

/* Makes the home (and sets ENCLAVE_HOME), opens the log and the gate; with
 * rego, the gate holds that policy. The test fails when any step does. */
static inline void test_gate_open(struct test_gate *t, const char *rego)
{
    snprintf(t->home, sizeof(t->home), "/tmp/enclave-test-home-XXXXXX");
    assert_non_null(mkdtemp(t->home));
    setenv("ENCLAVE_HOME", t->home, 1);
    assert_int_equal(audit_default_db_path(t->db, sizeof(t->db), NULL), 0);
    assert_int_equal(audit_default_key_dir(t->keys, sizeof(t->keys), NULL), 0);
    struct error err;
    if (audit_open(t->db, t->keys, NULL, &t->log, &err) < 0)
        fail_msg("audit_open: %s", err.message);
    struct gate_config gc = {.audit = t->log};
    if (gate_new(&gc, &t->gate, &err) < 0)
        fail_msg("gate_new: %s", err.message);
    if (rego != NULL && gate_apply_document(t->gate, rego, strlen(rego), "", &err) != 0)
        fail_msg("policy not applied: %s", err.message);
}

/* Frees the gate, closes the log (which must close cleanly), removes the home. */
static inline void test_gate_close(struct test_gate *t)
{
    gate_free(t->gate);
    assert_int_equal(audit_close(t->log, NULL), 0);
    char cmd[sizeof(t->home) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->home);
    assert_int_equal(system(cmd), 0);
}

#endif
