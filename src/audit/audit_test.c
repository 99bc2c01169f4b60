/* Audit log tests: the chain verifies; each kind of tampering (in SQLite and
 * in the JSON-lines export) fails at the right seq; reopen continues the
 * chain; a damaged tail is refused; acknowledged appends survive SIGKILL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"

/* sha256(lp("enclave-audit-record-v1") u64be(1) i64be(1700000000000000000) lp("s-1")
 * lp("POLICY:DECISION") lp("") lp("") lp("allow") lp("[]") lp("{}") lp("0"*64)),
 * computed with Python hashlib. */
#define KNOWN_ANSWER_HASH "e20cad8871ae9a72d743a08e67d24a3b63de07c59b3f03915dda4ba2a1af9ccf"

struct fixture {
    char home[256];
    char db[512];
    char keys[512];
    char pub[600];
    char key[600];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->home, sizeof(f->home), "/tmp/enclave-audit-test-XXXXXX");
    assert_non_null(mkdtemp(f->home));
    setenv("ENCLAVE_HOME", f->home, 1);
    assert_int_equal(audit_default_db_path(f->db, sizeof(f->db), NULL), 0);
    assert_int_equal(audit_default_key_dir(f->keys, sizeof(f->keys), NULL), 0);
    snprintf(f->pub, sizeof(f->pub), "%s/audit.pub", f->keys);
    snprintf(f->key, sizeof(f->key), "%s/audit.key", f->keys);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const char digest_a[] = "1111111111111111111111111111111111111111111111111111111111111111";

static void fill_in(struct audit_record_in *in, char details[64], uint64_t i)
{
    snprintf(details, 64, "{\"i\":%" PRIu64 ",\"exit_code\":%d}", i, (int)(i % 3));
    *in = (struct audit_record_in){
        .kind = i % 2 ? AUDIT_TOOL_EXEC : AUDIT_POLICY_DECISION,
        .session_id = i % 3 == 0 ? "s-zero" : "s-other",
        .bundle_digest = digest_a,
        .input_digest = digest_a,
        .decision = i % 5 == 0 ? "deny" : "allow",
        .reasons_json = i % 5 == 0 ? "[\"no network\"]" : "[]",
        .details_json = details,
        .time_ns = 1000000000LL * (int64_t)i + 5,
    };
}

static struct audit_log *open_log(struct fixture *f, uint32_t interval)
{
    struct audit_options opts = {.checkpoint_interval = interval};
    struct audit_log *log = NULL;
    struct error err;
    int rc = audit_open(f->db, f->keys, &opts, &log, &err);
    if (rc < 0)
        fail_msg("audit_open: %s", err.message);
    return log;
}

static void append_n(struct audit_log *log, uint64_t first, uint64_t n)
{
    for (uint64_t i = first; i < first + n; i++) {
        struct audit_record_in in;
        char details[64];
        fill_in(&in, details, i);
        struct audit_record_out out;
        struct error err;
        if (audit_append(log, &in, &out, &err) < 0)
            fail_msg("append: %s", err.message);
        assert_int_equal(out.seq, i);
    }
}

/* A writer (checkpoint every 100) with records 1..n appended. */
static struct audit_log *log_with(struct fixture *f, uint64_t n)
{
    struct audit_log *log = open_log(f, 100);
    append_n(log, 1, n);
    return log;
}

static uint64_t head_seq(struct audit_log *log, char hash[AUDIT_HASH_HEX_SIZE])
{
    uint64_t seq;
    assert_int_equal(audit_head(log, &seq, hash, NULL), 0);
    return seq;
}

/* 250 records, checkpoints at 100, 200 and (close) 250. */
static void make_log(struct fixture *f)
{
    struct audit_log *log = log_with(f, 250);
    assert_int_equal(audit_close(log, NULL), 0);
}

/* Throws the log away, with its WAL files. */
static void remove_log(struct fixture *f)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s-wal' '%s-shm'", f->db, f->db, f->db);
    assert_int_equal(system(cmd), 0);
}

/* A fresh log of 250 records: the next case of a table starts untouched. */
static void remake_log(struct fixture *f)
{
    remove_log(f);
    make_log(f);
}

static struct audit_verify_result verify_db(struct fixture *f, const char *key)
{
    struct audit_verify_result res;
    struct error err;
    if (audit_verify_db(f->db, key, &res, &err) < 0)
        fail_msg("audit_verify_db: %s", err.message);
    return res;
}

static void expect_fail_named(const char *name, struct audit_verify_result res, uint64_t seq,
                              const char *reason_part)
{
    if (res.ok || res.fail_seq != seq || strstr(res.reason, reason_part) == NULL)
        fail_msg("%s: expected failure at seq %" PRIu64 " (\"%s\"), got ok=%d seq %" PRIu64 ": %s",
                 name, seq, reason_part, res.ok, res.fail_seq, res.reason);
}

static void expect_fail(struct audit_verify_result res, uint64_t seq, const char *reason_part)
{
    expect_fail_named("verify", res, seq, reason_part);
}

/* Runs SQL on the log as an attacker would: triggers dropped first. */
static void tamper(struct fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db,
                          "DROP TRIGGER records_append_only_update;"
                          "DROP TRIGGER records_append_only_delete;"
                          "DROP TRIGGER checkpoints_append_only_update;"
                          "DROP TRIGGER checkpoints_append_only_delete;",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("drop triggers: %s", msg);
    rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("tamper %s: %s", sql, msg);
    sqlite3_close(db);
}

static void tamper_raw(struct fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("tamper %s: %s", sql, msg);
    sqlite3_close(db);
}

static char *query_string(struct fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *s = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return s;
}

/* ---------------------------------------------------------------- basics */

static void test_kind_table(void **state)
{
    (void)state;
    for (int k = 0; k < AUDIT_KIND_COUNT; k++) {
        const char *name = audit_kind_name((enum audit_kind)k);
        assert_non_null(name);
        assert_int_equal(audit_kind_from_name(name), k);
        assert_non_null(strchr(name, ':'));
    }
    assert_string_equal(audit_kind_name(AUDIT_POLICY_DECISION), "POLICY:DECISION");
    assert_int_equal(audit_kind_from_name("NO:SUCH"), AUDIT_KIND_UNKNOWN);
    assert_null(audit_kind_name(AUDIT_KIND_COUNT));
}

/* The encoding in docs/audit.md, pinned: the expected value was computed
 * with Python's hashlib from the documented layout, not with this code. */
static void test_hash_known_answer(void **state)
{
    (void)state;
    struct audit_record rec = {
        .seq = 1,
        .time_ns = 1700000000000000000LL,
        .session_id = "s-1",
        .kind_name = "POLICY:DECISION",
        .bundle_digest = "",
        .input_digest = "",
        .decision = "allow",
        .reasons_json = "[]",
        .details_json = "{}",
        .prev_hash = AUDIT_ZERO_HASH,
    };
    char hash[AUDIT_HASH_HEX_SIZE];
    audit_record_compute_hash(&rec, hash);
    assert_string_equal(hash, KNOWN_ANSWER_HASH);
}

static void test_chain_verifies(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    struct stat st;
    assert_int_equal(stat(f->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->pub, &st), 0);

    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 250);
    assert_int_equal(res.checkpoints, 3);
    assert_int_equal(res.last_checkpoint_seq, 250);
    assert_false(res.key_from_log);
    char *head = query_string(f, "SELECT hash FROM records WHERE seq = 250");
    assert_string_equal(res.head_hash, head);
    free(head);

    /* Without a key, the log's own copy is used and that is reported. */
    res = verify_db(f, NULL);
    assert_true(res.ok);
    assert_true(res.key_from_log);
}

static void test_reopen_continues(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = log_with(f, 10);
    assert_int_equal(audit_close(log, NULL), 0);
    log = open_log(f, 100);
    char hash[AUDIT_HASH_HEX_SIZE];
    assert_int_equal(head_seq(log, hash), 10);
    append_n(log, 11, 5);
    assert_int_equal(audit_close(log, NULL), 0);
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 15);
    assert_int_equal(res.checkpoints, 2); /* one per close */
}

static void test_empty_log(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = open_log(f, 100);
    assert_int_equal(audit_checkpoint(log, NULL), 0); /* nothing to sign */
    assert_int_equal(audit_close(log, NULL), 0);
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 0);
    assert_int_equal(res.checkpoints, 0);
}

/* ---------------------------------------------------------------- SQLite tampering */

/* Each edit of the SQLite log, made as an attacker would (triggers dropped),
 * and where and why verification must then fail. */
static const struct db_tamper {
    const char *name;
    const char *sql;
    uint64_t seq;
    const char *reason;
} db_tampers[] = {
    {"edit a field", "UPDATE records SET decision = 'allow' WHERE seq = 45", 45,
     "does not match its hash"},
    {"delete one", "DELETE FROM records WHERE seq = 45", 45, "record 45 is missing"},
    /* Exchange the rows' seq numbers: 45 and 46 trade places. */
    {"swap two",
     "UPDATE records SET seq = -1 WHERE seq = 45;"
     "UPDATE records SET seq = 45 WHERE seq = 46;"
     "UPDATE records SET seq = 46 WHERE seq = -1;",
     45, "does not match its hash"},
    /* Everything but seq swapped (hash and prev_hash travel with the row). */
    {"swap contents",
     "CREATE TEMP TABLE t AS SELECT * FROM records WHERE seq IN (45, 46);"
     "UPDATE records SET (time_ns, session, kind, bundle_digest, input_digest, decision,"
     " reasons, details, prev_hash, hash) = (SELECT time_ns, session, kind, bundle_digest,"
     " input_digest, decision, reasons, details, prev_hash, hash FROM t WHERE"
     " t.seq = 91 - records.seq) WHERE seq IN (45, 46);",
     45, "does not match its hash"},
    {"cut the tail after a checkpoint", "DELETE FROM records WHERE seq > 150", 151, "covers it"},
    /* Pointing the checkpoint at another hash breaks its signature. */
    {"forged checkpoint head",
     "UPDATE checkpoints SET head_hash = (SELECT hash FROM records WHERE seq = 199)"
     " WHERE seq = 200",
     200, "does not verify"},
};

static void test_db_tampering(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof(db_tampers) / sizeof(db_tampers[0]); i++) {
        const struct db_tamper *c = &db_tampers[i];
        remake_log(f);
        tamper(f, c->sql);
        expect_fail_named(c->name, verify_db(f, f->pub), c->seq, c->reason);
    }
}

static void test_db_edit_each_field(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    /* Every hashed column matters: edit one at a time, check, put it back. */
    const char *cols[] = {"time_ns = time_ns + 1", "session = 's-x'", "kind = 'SESSION:STOP'",
                          "bundle_digest = ''", "input_digest = ''", "decision = 'deny'",
                          "reasons = '[\"x\"]'", "details = '{}'", "seq = 1000"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "UPDATE records SET %s WHERE seq = 77", cols[i]);
        tamper(f, sql);
        struct audit_verify_result res = verify_db(f, f->pub);
        if (res.ok || res.fail_seq != 77)
            fail_msg("editing %s: ok=%d fail_seq=%" PRIu64 " (%s)", cols[i], res.ok, res.fail_seq,
                     res.reason);
        remake_log(f); /* a fresh log for the next column */
    }
}

static void test_db_edit_and_rehash(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    /* The attacker edits record 45 and fixes its own hash: the next link breaks. */
    struct audit_log *ro = NULL;
    struct audit_options opts = {.read_only = true};
    assert_int_equal(audit_open(f->db, NULL, &opts, &ro, NULL), 0);
    audit_close(ro, NULL);
    char *prev = query_string(f, "SELECT prev_hash FROM records WHERE seq = 45");
    char *time_s = query_string(f, "SELECT time_ns FROM records WHERE seq = 45");
    char *details = query_string(f, "SELECT details FROM records WHERE seq = 45");
    char *session = query_string(f, "SELECT session FROM records WHERE seq = 45");
    char *kind = query_string(f, "SELECT kind FROM records WHERE seq = 45");
    struct audit_record rec = {
        .seq = 45, .time_ns = strtoll(time_s, NULL, 10), .session_id = session,
        .kind_name = kind, .bundle_digest = digest_a, .input_digest = digest_a,
        .decision = "allow", .reasons_json = "[]", .details_json = details, .prev_hash = prev,
    };
    char hash[AUDIT_HASH_HEX_SIZE];
    audit_record_compute_hash(&rec, hash);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE records SET decision = 'allow', reasons = '[]', hash = '%s' WHERE seq = 45",
             hash);
    tamper(f, sql);
    expect_fail(verify_db(f, f->pub), 46, "does not link to record 45");
    free(prev);
    free(time_s);
    free(details);
    free(session);
    free(kind);
}

/* Rewrites the chain from `from` on, consistently, without the key. */
static void rewrite_chain_from(struct fixture *f, uint64_t from)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_exec(db, "DROP TRIGGER records_append_only_update", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, time_ns, session, kind, bundle_digest, "
                                        "input_digest, decision, reasons, details, prev_hash "
                                        "FROM records WHERE seq >= ? ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
    char prev[AUDIT_HASH_HEX_SIZE] = "";
    struct update {
        uint64_t seq;
        char prev[AUDIT_HASH_HEX_SIZE], hash[AUDIT_HASH_HEX_SIZE];
    } *updates = calloc(1000, sizeof(*updates));
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct audit_record rec = {
            .seq = (uint64_t)sqlite3_column_int64(st, 0),
            .time_ns = sqlite3_column_int64(st, 1),
            .session_id = (const char *)sqlite3_column_text(st, 2),
            .kind_name = (const char *)sqlite3_column_text(st, 3),
            .bundle_digest = (const char *)sqlite3_column_text(st, 4),
            .input_digest = (const char *)sqlite3_column_text(st, 5),
            .decision = rec.seq == from ? "allow" : (const char *)sqlite3_column_text(st, 6),
            .reasons_json = rec.seq == from ? "[]" : (const char *)sqlite3_column_text(st, 7),
            .details_json = (const char *)sqlite3_column_text(st, 8),
            .prev_hash = prev[0] ? prev : (const char *)sqlite3_column_text(st, 9),
        };
        updates[n].seq = rec.seq;
        snprintf(updates[n].prev, sizeof(updates[n].prev), "%s", rec.prev_hash);
        audit_record_compute_hash(&rec, updates[n].hash);
        memcpy(prev, updates[n].hash, sizeof(prev));
        n++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "UPDATE records SET prev_hash = '%s', hash = '%s'%s WHERE seq = %" PRIu64,
                 updates[i].prev, updates[i].hash,
                 updates[i].seq == from ? ", decision = 'allow', reasons = '[]'" : "",
                 updates[i].seq);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    free(updates);
    sqlite3_close(db);
}

static void test_db_rewrite_chain_caught_by_checkpoint(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    rewrite_chain_from(f, 45);
    /* Every hash and link holds; the signed checkpoint at 100 does not. */
    expect_fail(verify_db(f, f->pub), 100, "names a different head hash");
}

static void test_db_forged_signature(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    char *sig = query_string(f, "SELECT signature FROM checkpoints WHERE seq = 200");
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE checkpoints SET signature = '%s' WHERE seq = 200", sig);
    free(sig);
    tamper(f, sql);
    expect_fail(verify_db(f, f->pub), 200, "signature at seq 200 does not verify");
}

static EVP_PKEY *other_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    return k;
}

static void write_pub(EVP_PKEY *k, const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PUBKEY(fp, k), 1);
    fclose(fp);
}

static void test_db_wrong_key(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    EVP_PKEY *k = other_key();
    char path[600];
    snprintf(path, sizeof(path), "%s/other.pub", f->home);
    write_pub(k, path);
    EVP_PKEY_free(k);
    expect_fail(verify_db(f, path), 100, "not signed by the given key");
}

/* ---------------------------------------------------------------- open refuses a damaged tail */

static void expect_open_refused(struct fixture *f, const char *name, enum error_kind kind,
                                const char *part)
{
    struct audit_log *log = NULL;
    struct error err;
    int rc = audit_open(f->db, f->keys, NULL, &log, &err);
    if (rc == 0) {
        audit_close(log, NULL);
        fail_msg("%s: audit_open accepted the log", name);
    }
    if (err.kind != kind || strstr(err.message, part) == NULL)
        fail_msg("%s: unexpected error (kind %d, want %d): %s", name, (int)err.kind, (int)kind,
                 err.message);
}

/* A damaged tail is refused by audit_open: each edit, and the error. */
static const struct open_tamper {
    const char *name;
    const char *sql;
    const char *error;
} open_tampers[] = {
    {"edited head", "UPDATE records SET details = '{}' WHERE seq = 250", "damaged at seq 250"},
    {"cut tail", "DELETE FROM records WHERE seq > 230", "damaged at seq 231"},
    {"forged checkpoint", "UPDATE checkpoints SET time_ns = time_ns + 1 WHERE seq = 250",
     "signature"},
};

static void test_open_refuses_damaged_tail(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof(open_tampers) / sizeof(open_tampers[0]); i++) {
        const struct open_tamper *c = &open_tampers[i];
        remake_log(f);
        tamper(f, c->sql);
        expect_open_refused(f, c->name, ERR_DATA_LOSS, c->error);
    }
}

static void test_open_refuses_edit_after_checkpoint(void **state)
{
    struct fixture *f = *state;
    /* Crash-like: records after the last checkpoint, then one edited. */
    struct audit_log *log = log_with(f, 130);
    assert_int_equal(audit_close(log, NULL), 0); /* checkpoint at 130 */
    log = open_log(f, 100);
    append_n(log, 131, 20);
    assert_int_equal(audit_close(log, NULL), 0);
    tamper(f, "DELETE FROM checkpoints WHERE seq = 150;"
              "UPDATE records SET session = 'x' WHERE seq = 140");
    expect_open_refused(f, "edit after a checkpoint", ERR_DATA_LOSS, "damaged at seq 140");
}

/* The signing key readable by others, then gone (a new one would be made). */
static void test_open_refuses_key(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    assert_int_equal(chmod(f->key, 0644), 0);
    expect_open_refused(f, "loose key", ERR_FAILED_PRECONDITION, "readable by others");
    assert_int_equal(chmod(f->key, 0600), 0);
    assert_int_equal(unlink(f->key), 0);
    assert_int_equal(unlink(f->pub), 0);
    expect_open_refused(f, "other key", ERR_FAILED_PRECONDITION, "signing key");
}

static void test_single_writer(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = log_with(f, 3);
    struct audit_log *second = NULL;
    struct error err;
    assert_int_equal(audit_open(f->db, f->keys, NULL, &second, &err), -1);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    /* Readers are fine, and cannot write. */
    struct audit_options ro = {.read_only = true};
    assert_int_equal(audit_open(f->db, NULL, &ro, &second, &err), 0);
    struct audit_record_in in = {.kind = AUDIT_DAEMON_START};
    assert_int_equal(audit_append(second, &in, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    char hash[AUDIT_HASH_HEX_SIZE];
    assert_int_equal(head_seq(second, hash), 3);
    audit_close(second, NULL);
    audit_close(log, NULL);
}

static void test_writer_refuses_changed_head(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = log_with(f, 5);
    tamper(f, "DELETE FROM records WHERE seq = 5");
    struct audit_record_in in = {.kind = AUDIT_DAEMON_STOP};
    struct error err;
    assert_int_equal(audit_append(log, &in, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_DATA_LOSS);
    audit_close(log, NULL);
}

/* ---------------------------------------------------------------- input checks */

static void test_rejects_bad_input(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = open_log(f, 100);
    static char big[AUDIT_MAX_DETAILS_LEN + 100];
    memset(big, 0, sizeof(big));
    strcpy(big, "{\"x\":\"");
    memset(big + 6, 'a', AUDIT_MAX_DETAILS_LEN);
    strcat(big, "\"}");
    char long_session[AUDIT_MAX_SESSION_LEN + 2];
    memset(long_session, 's', sizeof(long_session) - 1);
    long_session[sizeof(long_session) - 1] = '\0';
    struct audit_record_in bad[] = {
        {.kind = AUDIT_KIND_COUNT},
        {.kind = (enum audit_kind)-1},
        {.kind = AUDIT_TOOL_EXEC, .bundle_digest = "abc"},
        {.kind = AUDIT_TOOL_EXEC, .input_digest = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {.kind = AUDIT_TOOL_EXEC, .decision = "maybe"},
        {.kind = AUDIT_TOOL_EXEC, .reasons_json = "{}"},
        {.kind = AUDIT_TOOL_EXEC, .reasons_json = "[1]"},
        {.kind = AUDIT_TOOL_EXEC, .reasons_json = "[\"a\""},
        {.kind = AUDIT_TOOL_EXEC, .details_json = "[]"},
        {.kind = AUDIT_TOOL_EXEC, .details_json = "{\"a\":1,\"a\":2}"},
        {.kind = AUDIT_TOOL_EXEC, .details_json = big},
        {.kind = AUDIT_TOOL_EXEC, .session_id = long_session},
        {.kind = AUDIT_TOOL_EXEC, .session_id = "a\nb"},
        {.kind = AUDIT_TOOL_EXEC, .session_id = "\xff\xfe"},
        {.kind = AUDIT_TOOL_EXEC, .session_id = "csi\xc2\x9b" "2J"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct error err;
        if (audit_append(log, &bad[i], NULL, &err) != -1)
            fail_msg("bad input %zu accepted", i);
        assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    }
    /* Nothing was written, and a good record still gets seq 1. */
    struct audit_record_in good = {.kind = AUDIT_DAEMON_START,
                                   .details_json = "{\"b\": 1, \"a\": [true, null]}"};
    struct audit_record_out out;
    assert_int_equal(audit_append(log, &good, &out, NULL), 0);
    assert_int_equal(out.seq, 1);
    audit_close(log, NULL);
    /* Details were canonicalised (sorted keys, compact). */
    char *details = query_string(f, "SELECT details FROM records WHERE seq = 1");
    assert_string_equal(details, "{\"a\":[true,null],\"b\":1}");
    free(details);
}

static void test_batch_is_atomic(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = open_log(f, 100);
    struct audit_record_in ins[3] = {
        {.kind = AUDIT_SESSION_START, .session_id = "s-1"},
        {.kind = AUDIT_SESSION_READY, .session_id = "s-1"},
        {.kind = AUDIT_SESSION_STOP, .session_id = "s-1", .decision = "nope"},
    };
    struct error err;
    assert_int_equal(audit_append_batch(log, ins, 3, NULL, &err), -1);
    char hash[AUDIT_HASH_HEX_SIZE];
    assert_int_equal(head_seq(log, hash), 0);
    ins[2].decision = "";
    struct audit_record_out outs[3];
    assert_int_equal(audit_append_batch(log, ins, 3, outs, &err), 0);
    assert_int_equal(outs[0].seq, 1);
    assert_int_equal(outs[2].seq, 3);
    audit_close(log, NULL);
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 3);
    assert_string_equal(res.head_hash, outs[2].hash);
}

/* ---------------------------------------------------------------- query, subscribe */

struct collect {
    uint64_t seqs[512];
    size_t n;
    int stop_after;
};

static int collect_fn(const struct audit_record *rec, void *ctx)
{
    struct collect *c = ctx;
    if (c->n < 512)
        c->seqs[c->n++] = rec->seq;
    return c->stop_after > 0 && (int)c->n >= c->stop_after;
}

static void test_query_filters(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = log_with(f, 30);
    struct collect c = {0};
    struct audit_filter all = {0};
    assert_int_equal(audit_query(log, &all, collect_fn, &c, NULL), 30);
    assert_int_equal(c.seqs[0], 1);
    assert_int_equal(c.seqs[29], 30);

    memset(&c, 0, sizeof(c));
    struct audit_filter sess = {.session_id = "s-zero"};
    assert_int_equal(audit_query(log, &sess, collect_fn, &c, NULL), 10); /* 3, 6, ..., 30 */
    assert_int_equal(c.seqs[0], 3);
    assert_int_equal(c.seqs[9], 30);

    memset(&c, 0, sizeof(c));
    struct audit_filter since = {.since_ns = 25LL * 1000000000};
    assert_int_equal(audit_query(log, &since, collect_fn, &c, NULL), 6);
    assert_int_equal(c.seqs[0], 25);

    memset(&c, 0, sizeof(c));
    struct audit_filter limit = {.after_seq = 10, .limit = 4};
    assert_int_equal(audit_query(log, &limit, collect_fn, &c, NULL), 4);
    assert_int_equal(c.seqs[0], 11);
    assert_int_equal(c.seqs[3], 14);

    memset(&c, 0, sizeof(c));
    struct audit_filter last = {.limit = 3, .last = true, .session_id = "s-zero"};
    assert_int_equal(audit_query(log, &last, collect_fn, &c, NULL), 3);
    assert_int_equal(c.seqs[0], 24);
    assert_int_equal(c.seqs[2], 30);

    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    assert_int_equal(audit_query(log, NULL, collect_fn, &c, NULL), 2);
    audit_close(log, NULL);
}

struct seen {
    int count;
    uint64_t last_seq;
    char last_hash[AUDIT_HASH_HEX_SIZE];
};

static int seen_fn(const struct audit_record *rec, void *ctx)
{
    struct seen *s = ctx;
    s->count++;
    s->last_seq = rec->seq;
    snprintf(s->last_hash, sizeof(s->last_hash), "%s", rec->hash);
    return 0;
}

static void test_subscribe(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = open_log(f, 100);
    struct seen a = {0}, b = {0};
    int ida = audit_subscribe(log, seen_fn, &a, NULL);
    int idb = audit_subscribe(log, seen_fn, &b, NULL);
    assert_true(ida > 0 && idb > 0 && ida != idb);
    append_n(log, 1, 3);
    audit_unsubscribe(log, ida);
    append_n(log, 4, 2);
    assert_int_equal(a.count, 3);
    assert_int_equal(b.count, 5);
    assert_int_equal(b.last_seq, 5);
    char hash[AUDIT_HASH_HEX_SIZE];
    head_seq(log, hash);
    assert_string_equal(b.last_hash, hash);
    /* A failed append notifies nobody. */
    struct audit_record_in bad = {.kind = AUDIT_TOOL_EXEC, .decision = "x"};
    assert_int_equal(audit_append(log, &bad, NULL, NULL), -1);
    assert_int_equal(b.count, 5);
    audit_close(log, NULL);
}

/* ---------------------------------------------------------------- JSON lines */

static char *export_text(struct fixture *f)
{
    struct audit_options ro = {.read_only = true};
    struct audit_log *log = NULL;
    struct error err;
    if (audit_open(f->db, NULL, &ro, &log, &err) < 0)
        fail_msg("open: %s", err.message);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    int64_t n = audit_export_jsonl(log, out, &err);
    if (n < 0)
        fail_msg("export: %s", err.message);
    fclose(out);
    audit_close(log, NULL);
    return buf;
}

static struct audit_verify_result verify_text(const char *text, const char *key)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(in);
    struct audit_verify_result res;
    struct error err;
    if (audit_verify_jsonl(in, key, &res, &err) < 0)
        fail_msg("audit_verify_jsonl: %s", err.message);
    fclose(in);
    return res;
}

/* Splits text into lines (kept without their newline). */
struct lines {
    char **v;
    size_t n;
};

static struct lines split(char *text)
{
    struct lines l = {calloc(2000, sizeof(char *)), 0};
    for (char *save = NULL, *s = strtok_r(text, "\n", &save); s; s = strtok_r(NULL, "\n", &save))
        l.v[l.n++] = s;
    return l;
}

static char *join(struct lines l)
{
    size_t total = 1;
    for (size_t i = 0; i < l.n; i++)
        total += l.v[i] ? strlen(l.v[i]) + 1 : 0;
    char *out = calloc(1, total), *p = out;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i] == NULL)
            continue;
        p = stpcpy(p, l.v[i]);
        *p++ = '\n';
    }
    return out;
}

/* Index of the line holding record seq / checkpoint seq. */
static size_t line_of(struct lines l, const char *type, uint64_t seq)
{
    char needle[96];
    snprintf(needle, sizeof(needle), "{\"type\":\"%s\",\"seq\":%" PRIu64 ",", type, seq);
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i] && strncmp(l.v[i], needle, strlen(needle)) == 0)
            return i;
    fail_msg("no %s line for seq %" PRIu64, type, seq);
    return 0;
}

static void test_jsonl_roundtrip(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    char *text = export_text(f);
    struct audit_verify_result res = verify_text(text, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 250);
    assert_int_equal(res.checkpoints, 3);
    struct audit_verify_result dbres = verify_db(f, f->pub);
    assert_string_equal(res.head_hash, dbres.head_hash);
    res = verify_text(text, NULL);
    assert_true(res.ok);
    assert_true(res.key_from_log);
    free(text);
}

/* Edits of the JSON-lines export, each in place on its lines. */
static void jsonl_edit_field(struct lines *l)
{
    static char edited[4096];
    char *line = l->v[line_of(*l, "record", 45)];
    char *p = strstr(line, "\"decision\":\"deny\"");
    assert_non_null(p);
    snprintf(edited, sizeof(edited), "%.*s\"decision\":\"allow\"%s", (int)(p - line), line,
             p + strlen("\"decision\":\"deny\""));
    l->v[line_of(*l, "record", 45)] = edited;
}

static void jsonl_delete_one(struct lines *l)
{
    l->v[line_of(*l, "record", 45)] = NULL;
}

static void jsonl_swap_two(struct lines *l)
{
    size_t a = line_of(*l, "record", 45), b = line_of(*l, "record", 46);
    char *t = l->v[a];
    l->v[a] = l->v[b];
    l->v[b] = t;
}

/* Records 151.. removed, their checkpoints left in. */
static void jsonl_cut_tail_after_checkpoint(struct lines *l)
{
    for (uint64_t s = 151; s <= 250; s++)
        l->v[line_of(*l, "record", s)] = NULL;
}

static void jsonl_forged_signature(struct lines *l)
{
    char *line = l->v[line_of(*l, "checkpoint", 200)];
    char *sig = strstr(line, "\"signature\":\"");
    assert_non_null(sig);
    sig += strlen("\"signature\":\"") + 5;
    *sig = *sig == 'A' ? 'B' : 'A';
}

static const struct jsonl_tamper {
    const char *name;
    void (*edit)(struct lines *l);
    uint64_t seq;
    const char *reason;
} jsonl_tampers[] = {
    {"edit a field", jsonl_edit_field, 45, "does not match its hash"},
    {"delete one", jsonl_delete_one, 45, "record 45 is missing"},
    {"swap two", jsonl_swap_two, 45, "record 45 is missing (the next record present is 46)"},
    {"cut the tail after a checkpoint", jsonl_cut_tail_after_checkpoint, 151, "covers it"},
    {"forged signature", jsonl_forged_signature, 200, "signature at seq 200 does not verify"},
};

static void test_jsonl_tampering(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    for (size_t i = 0; i < sizeof(jsonl_tampers) / sizeof(jsonl_tampers[0]); i++) {
        const struct jsonl_tamper *c = &jsonl_tampers[i];
        char *text = export_text(f);
        struct lines l = split(text);
        c->edit(&l);
        char *out = join(l);
        expect_fail_named(c->name, verify_text(out, f->pub), c->seq, c->reason);
        free(out);
        free(l.v);
        free(text);
    }
}

/* Replaces the checkpoint line at seq with one signed by k; with
 * replace_header the header names k's public key too. */
static char *resign_all(struct fixture *f, EVP_PKEY *k, bool only_200)
{
    char *text = export_text(f);
    struct lines l = split(text);
    char key_id[AUDIT_HASH_HEX_SIZE];
    assert_int_equal(audit_key_id(k, key_id, NULL), 0);
    static char replaced[8][1024];
    size_t r = 0;
    for (uint64_t seq = 100; seq <= 250; seq += seq == 200 ? 50 : 100) {
        if (only_200 && seq != 200)
            continue;
        size_t i = line_of(l, "checkpoint", seq);
        long long t = 0;
        char head[AUDIT_HASH_HEX_SIZE];
        assert_int_equal(sscanf(strstr(l.v[i], "\"time_ns\":"), "\"time_ns\":%lld", &t), 1);
        /* The head is the hash of the record line at seq (after any rewrite). */
        snprintf(head, sizeof(head), "%s",
                 strstr(l.v[line_of(l, "record", seq)], ",\"hash\":\"") + 9);
        char sig[AUDIT_SIG_B64_SIZE];
        assert_int_equal(audit_checkpoint_sign(k, seq, t, head, sig, NULL), 0);
        snprintf(replaced[r], sizeof(replaced[r]),
                 "{\"type\":\"checkpoint\",\"seq\":%" PRIu64
                 ",\"time_ns\":%lld,\"head_hash\":\"%s\",\"key_id\":\"%s\",\"signature\":\"%s\"}",
                 seq, t, head, key_id, sig);
        l.v[i] = replaced[r++];
    }
    if (!only_200) {
        /* The attacker also puts their key in the header. */
        char *pem = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&pem, &len);
        PEM_write_PUBKEY(mf, k);
        fclose(mf);
        static char header[2048];
        char escaped[1024], *e = escaped;
        for (char *p = pem; *p; p++) {
            if (*p == '\n') {
                *e++ = '\\';
                *e++ = 'n';
            } else {
                *e++ = *p;
            }
        }
        *e = '\0';
        snprintf(header, sizeof(header),
                 "{\"type\":\"header\",\"format\":\"enclave-audit-v1\",\"key_id\":\"%s\","
                 "\"public_key\":\"%s\"}",
                 key_id, escaped);
        l.v[0] = header;
        free(pem);
    }
    char *out = join(l);
    free(l.v);
    free(text);
    return out;
}

/* The checkpoint at 200 re-signed with another key: in the JSON-lines
 * export, then in the SQLite log. */
static void test_checkpoint_other_key(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    EVP_PKEY *k = other_key();
    char *out = resign_all(f, k, true);
    expect_fail_named("jsonl", verify_text(out, f->pub), 200, "not signed by the given key");
    free(out);

    char *head = query_string(f, "SELECT head_hash FROM checkpoints WHERE seq = 200");
    char *time_s = query_string(f, "SELECT time_ns FROM checkpoints WHERE seq = 200");
    char sig[AUDIT_SIG_B64_SIZE], key_id[AUDIT_HASH_HEX_SIZE];
    assert_int_equal(audit_checkpoint_sign(k, 200, strtoll(time_s, NULL, 10), head, sig, NULL), 0);
    assert_int_equal(audit_key_id(k, key_id, NULL), 0);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE checkpoints SET signature = '%s', key_id = '%s' WHERE seq = 200", sig, key_id);
    tamper(f, sql);
    expect_fail_named("db", verify_db(f, f->pub), 200, "not signed by the given key");
    EVP_PKEY_free(k);
    free(head);
    free(time_s);
}

static void test_jsonl_replaced_key_needs_key_flag(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    rewrite_chain_from(f, 45); /* a full rewrite... */
    EVP_PKEY *k = other_key();
    char *out = resign_all(f, k, false); /* ...re-signed with the attacker's key */
    /* Against the log's own (replaced) key it holds together: that is why
     * --key exists. With the real key it fails at the first checkpoint. */
    struct audit_verify_result res = verify_text(out, NULL);
    assert_true(res.ok);
    assert_true(res.key_from_log);
    expect_fail(verify_text(out, f->pub), 100, "not signed by the given key");
    free(out);
    EVP_PKEY_free(k);
}

static void test_jsonl_hostile(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    struct {
        const char *text;
        uint64_t seq;
        const char *reason;
    } cases[] = {
        {"not json\n", 1, "not a JSON object"},
        {"[1,2]\n", 1, "not a JSON object"},
        {"{\"type\":\"bogus\"}\n", 1, "unknown type"},
        {"{}\n", 1, "no \"type\""},
        {"{\"type\":\"record\",\"seq\":1}\n", 1, "malformed record"},
        {"{\"type\":\"record\",\"seq\":-1,\"time_ns\":0}\n", 1, "malformed record"},
        {"{\"type\":\"checkpoint\",\"seq\":0,\"time_ns\":0,\"head_hash\":\"" AUDIT_ZERO_HASH
         "\",\"signature\":\"\"}\n",
         1, "malformed checkpoint"},
        {"{\"type\":\"checkpoint\",\"seq\":5,\"time_ns\":0,\"head_hash\":\"" AUDIT_ZERO_HASH
         "\",\"signature\":\"AAAA\"}\n",
         5, "does not verify"},
        {"{\"type\":\"record\",\"seq\":1,\"time_ns\":0,\"session\":\"a\\u0000b\",\"kind\":\"\","
         "\"bundle_digest\":\"\",\"input_digest\":\"\",\"decision\":\"\",\"reasons\":\"\","
         "\"details\":\"\",\"prev_hash\":\"\",\"hash\":\"\"}\n",
         1, "not a JSON object"}, /* jansson refuses \u0000 */
        {"{\"type\":\"header\",\"format\":\"other\"}\n", 1, "header"},
        {"{\"type\":\"record\",\"seq\":1.5}\n", 1, "malformed record"},
        {"{\"type\":\"record\",\"seq\":99999999999999999999999}\n", 1, "not a JSON object"},
        {"{\"type\":\"record\",\"type\":\"record\"}\n", 1, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct audit_verify_result res = verify_text(cases[i].text, f->pub);
        if (res.ok || res.fail_seq != cases[i].seq || !strstr(res.reason, cases[i].reason))
            fail_msg("case %zu: ok=%d seq %" PRIu64 ": %s", i, res.ok, res.fail_seq, res.reason);
    }
    /* Empty input is an empty, valid log. */
    struct audit_verify_result res = verify_text("", f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 0);

    /* A line longer than the limit is refused without reading it whole into memory. */
    size_t big = AUDIT_MAX_LINE + 10;
    char *text = malloc(big + 2);
    memset(text, 'x', big);
    text[big] = '\n';
    text[big + 1] = '\0';
    res = verify_text(text, f->pub);
    assert_false(res.ok);
    assert_non_null(strstr(res.reason, "longer than"));
    free(text);
}

static void test_jsonl_checkpoint_order_free(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    char *text = export_text(f);
    struct lines l = split(text);
    /* Move every checkpoint line to the top (after the header): still valid. */
    struct lines moved = {calloc(2000, sizeof(char *)), 0};
    moved.v[moved.n++] = l.v[0];
    for (uint64_t s = 250; s >= 100; s -= s == 250 ? 50 : 100) {
        size_t i = line_of(l, "checkpoint", s);
        moved.v[moved.n++] = l.v[i];
        l.v[i] = NULL;
    }
    for (size_t i = 1; i < l.n; i++)
        if (l.v[i])
            moved.v[moved.n++] = l.v[i];
    char *out = join(moved);
    struct audit_verify_result res = verify_text(out, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.checkpoints, 3);
    free(out);
    /* And all at the bottom, in reverse order. */
    moved.n = 0;
    moved.v[moved.n++] = l.v[0];
    for (size_t i = 1; i < l.n; i++)
        if (l.v[i])
            moved.v[moved.n++] = l.v[i];
    char *text2 = export_text(f);
    struct lines again = split(text2);
    for (uint64_t s = 250; s >= 100; s -= s == 250 ? 50 : 100)
        moved.v[moved.n++] = again.v[line_of(again, "checkpoint", s)];
    out = join(moved);
    res = verify_text(out, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.checkpoints, 3);
    free(out);
    free(again.v);
    free(text2);
    free(moved.v);
    free(l.v);
    free(text);
}


/* ---------------------------------------------------------------- hostile SQLite */

static void test_db_verify_while_writing(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = log_with(f, 150);
    /* A concurrent reader sees a consistent snapshot: 150 records, one
     * checkpoint, the last 50 not yet signed. */
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 150);
    assert_int_equal(res.checkpoints, 1);
    assert_int_equal(res.last_checkpoint_seq, 100);
    append_n(log, 151, 1);
    assert_int_equal(audit_close(log, NULL), 0);
    res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.last_checkpoint_seq, 151);
}

static void test_db_hostile_rows(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    /* Tables rebuilt without constraints, then filled with what SQLite's
     * dynamic typing allows: NULLs, blobs, reals, negative and huge seqs. */
    const char *cases[] = {
        "UPDATE records SET session = NULL WHERE seq = 10",
        "UPDATE records SET details = x'00ff00' WHERE seq = 10",
        "UPDATE records SET time_ns = 1.5 WHERE seq = 10",
        "UPDATE records SET time_ns = 'abc' WHERE seq = 10",
        "UPDATE records SET hash = NULL WHERE seq = 10",
        "UPDATE records SET prev_hash = zeroblob(100000) WHERE seq = 10",
        "INSERT INTO records (seq, time_ns, session, kind, bundle_digest, input_digest, decision,"
        " reasons, details, prev_hash, hash) VALUES (-5, 0, '', '', '', '', '', '', '', '', '')",
        "UPDATE records SET seq = 9223372036854775807 WHERE seq = 250",
        "UPDATE checkpoints SET signature = NULL WHERE seq = 100",
        "UPDATE checkpoints SET head_hash = x'41' WHERE seq = 100",
        "UPDATE checkpoints SET seq = -100 WHERE seq = 100",
        "UPDATE checkpoints SET signature = '" /* 88 chars, not base64 */
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=='"
        " WHERE seq = 100",
        "UPDATE meta SET value = 'not a key' WHERE name = 'public_key'",
    };
    uint64_t want[] = {10, 10, 10, 10, 10, 10, 1, 250, 100, 100, 1, 100, 0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        remake_log(f);
        tamper(f, "CREATE TABLE r2 AS SELECT * FROM records; DROP TABLE records;"
                  "ALTER TABLE r2 RENAME TO records;"
                  "CREATE TABLE c2 AS SELECT * FROM checkpoints; DROP TABLE checkpoints;"
                  "ALTER TABLE c2 RENAME TO checkpoints;");
        tamper_raw(f, cases[i]);
        /* Without a key, the log's own (maybe broken) key is all there is. */
        struct audit_verify_result res = verify_db(f, want[i] == 0 ? NULL : f->pub);
        if (want[i] == 0) {
            if (res.ok || res.fail_seq != 100)
                fail_msg("case %zu: ok=%d seq %" PRIu64 ": %s", i, res.ok, res.fail_seq, res.reason);
            continue;
        }
        if (res.ok || res.fail_seq != want[i])
            fail_msg("case %zu (%s): ok=%d seq %" PRIu64 ": %s", i, cases[i], res.ok, res.fail_seq,
                     res.reason);
    }
}

static void test_db_not_a_log(void **state)
{
    struct fixture *f = *state;
    struct audit_verify_result res;
    struct error err;
    char path[600];
    snprintf(path, sizeof(path), "%s/other.db", f->home);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(audit_verify_db(path, NULL, &res, &err), -1);
    snprintf(path, sizeof(path), "%s/garbage.db", f->home);
    FILE *fp = fopen(path, "w");
    fputs("SQLite format 3", fp);
    fputc(0, fp);
    for (int i = 0; i < 5000; i++)
        fputc(i * 7, fp);
    fclose(fp);
    assert_int_equal(audit_verify_db(path, NULL, &res, &err), -1);
    struct audit_options ro = {.read_only = true};
    struct audit_log *log = NULL;
    assert_int_equal(audit_open(path, NULL, &ro, &log, &err), -1);
    snprintf(path, sizeof(path), "%s/missing.db", f->home);
    assert_int_equal(audit_verify_db(path, NULL, &res, &err), -1);
    assert_int_equal(audit_open(path, NULL, &ro, &log, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
}


/* ---------------------------------------------------------------- threads */

struct appender {
    struct audit_log *log;
    int n;
    int failures;
};

static void *appender_main(void *arg)
{
    struct appender *a = arg;
    for (int i = 0; i < a->n; i++) {
        struct audit_record_in in = {.kind = AUDIT_TOOL_EXEC, .session_id = "s-thread"};
        if (audit_append(a->log, &in, NULL, NULL) < 0)
            a->failures++;
    }
    return NULL;
}

static void test_threads_share_a_log(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = open_log(f, 25);
    struct seen s = {0};
    audit_subscribe(log, seen_fn, &s, NULL);
    pthread_t t[4];
    struct appender a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct appender){log, 40, 0};
        assert_int_equal(pthread_create(&t[i], NULL, appender_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
    assert_int_equal(s.count, 160);
    assert_int_equal(s.last_seq, 160);
    assert_int_equal(audit_close(log, NULL), 0);
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 160);
    /* One at the end of each commit group that brought 25 or more records
     * since the last (so at 25, 50, ... when the writers take turns, later
     * when groups straddle the mark), and 160 at close. */
    assert_true(res.checkpoints >= 6 && res.checkpoints <= 7);
    assert_int_equal(res.last_checkpoint_seq, 160);
}

static void test_open_refuses_other_format(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    tamper_raw(f, "UPDATE meta SET value = 'enclave-audit-v9' WHERE name = 'format'");
    expect_open_refused(f, "other format", ERR_FAILED_PRECONDITION, "format");
    struct audit_verify_result res;
    struct error err;
    assert_int_equal(audit_verify_db(f->db, f->pub, &res, &err), -1);
}

/* ---------------------------------------------------------------- kill -9 */

static void test_durability_sigkill(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        struct audit_options opts = {.checkpoint_interval = 50};
        struct audit_log *log = NULL;
        if (audit_open(f->db, f->keys, &opts, &log, NULL) < 0)
            _exit(3);
        for (uint64_t i = 1; i < 1000000; i++) {
            struct audit_record_in in;
            char details[64];
            fill_in(&in, details, i);
            struct audit_record_out out;
            if (audit_append(log, &in, &out, NULL) < 0)
                _exit(4);
            /* Acknowledged only after audit_append returned. */
            if (write(fds[1], &out.seq, sizeof(out.seq)) != sizeof(out.seq))
                _exit(5);
        }
        _exit(0);
    }
    close(fds[1]);
    uint64_t acked = 0, seq;
    while (acked < 300 && read(fds[0], &seq, sizeof(seq)) == sizeof(seq)) {
        assert_int_equal(seq, acked + 1);
        acked = seq;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    /* Everything written to the pipe before the kill was acknowledged. */
    while (read(fds[0], &seq, sizeof(seq)) == sizeof(seq)) {
        assert_int_equal(seq, acked + 1);
        acked = seq;
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(acked >= 300);

    /* A reader straight after the crash (the WAL not yet folded in) sees
     * every acknowledged record, chained; the newest are not signed yet. */
    struct audit_verify_result early = verify_db(f, f->pub);
    assert_true(early.ok);
    assert_true(early.records >= acked);
    assert_true(early.last_checkpoint_seq <= early.records);

    /* Reopen as the restarted daemon would: the tail checks out, and every
     * acknowledged seq is there. */
    struct audit_log *log = open_log(f, 50);
    uint64_t head;
    char hash[AUDIT_HASH_HEX_SIZE];
    assert_int_equal(audit_head(log, &head, hash, NULL), 0);
    assert_true(head >= acked);
    struct collect c = {0};
    struct audit_filter tail = {.after_seq = acked - 1, .limit = 1};
    assert_int_equal(audit_query(log, &tail, collect_fn, &c, NULL), 1);
    assert_int_equal(c.seqs[0], acked);
    append_n(log, head + 1, 1); /* and the chain goes on */
    assert_int_equal(audit_close(log, NULL), 0);

    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, head + 1);
    assert_true(res.records >= acked);
}

/* ---------------------------------------------------------------- group commit, tree, witness */

struct kill_writer {
    struct audit_log *log;
    int fd;
    unsigned id;
};

static void *kill_writer_main(void *arg)
{
    struct kill_writer *w = arg;
    for (uint64_t i = 0;; i++) {
        struct audit_record_in in;
        char details[64];
        fill_in(&in, details, w->id * 1000000 + i);
        struct audit_record_out out;
        if (audit_append(w->log, &in, &out, NULL) < 0)
            _exit(4);
        /* Acknowledged: audit_append returned. 8 bytes < PIPE_BUF: atomic. */
        if (write(w->fd, &out.seq, sizeof(out.seq)) != sizeof(out.seq))
            _exit(5);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct present {
    uint8_t *seen;
    uint64_t cap;
};

static int mark_present(const struct audit_record *rec, void *ctx)
{
    struct present *p = ctx;
    if (rec->seq < p->cap)
        p->seen[rec->seq] = 1;
    return 0;
}

/* kill -9 while 8 threads append: every acknowledged record is there after
 * the restart, and the log verifies. ENCLAVE_AUDIT_KILL_TRIALS trials
 * (default 5; `make test-audit-kill` runs 100). */
static void test_durability_sigkill_concurrent(void **state)
{
    struct fixture *f = *state;
    const char *env = getenv("ENCLAVE_AUDIT_KILL_TRIALS");
    int trials = env ? atoi(env) : 5;
    enum { WRITERS = 8 };
    uint64_t total_acked = 0, total_missing = 0;
    srand(42);
    for (int t = 0; t < trials; t++) {
        char db[600];
        snprintf(db, sizeof(db), "%s.trial%d", f->db, t);
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            struct audit_options opts = {.checkpoint_interval = 50};
            struct audit_log *log = NULL;
            if (audit_open(db, f->keys, &opts, &log, NULL) < 0)
                _exit(3);
            static struct kill_writer ws[WRITERS];
            pthread_t th[WRITERS];
            for (unsigned i = 0; i < WRITERS; i++) {
                ws[i] = (struct kill_writer){log, fds[1], i};
                if (pthread_create(&th[i], NULL, kill_writer_main, &ws[i]) != 0)
                    _exit(6);
            }
            for (unsigned i = 0; i < WRITERS; i++)
                pthread_join(th[i], NULL);
            _exit(0);
        }
        close(fds[1]);
        uint64_t cap = 1 << 16, n = 0, seq;
        uint64_t *acked = malloc(cap * sizeof(*acked));
        uint64_t target = 50 + (uint64_t)(rand() % 400);
        while (n < target && read(fds[0], &seq, sizeof(seq)) == sizeof(seq))
            acked[n++] = seq;
        assert_int_equal(kill(pid, SIGKILL), 0);
        /* What was written to the pipe before the kill was acknowledged. */
        while (read(fds[0], &seq, sizeof(seq)) == sizeof(seq)) {
            if (n == cap)
                acked = realloc(acked, (cap *= 2) * sizeof(*acked));
            acked[n++] = seq;
        }
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_true(n >= target);
        /* Each seq was acknowledged once. */
        qsort(acked, n, sizeof(*acked), cmp_u64);
        for (uint64_t i = 1; i < n; i++)
            assert_true(acked[i] > acked[i - 1]);

        /* Restart as the daemon would; every acknowledged seq is present. */
        struct audit_options opts = {.checkpoint_interval = 50};
        struct audit_log *log = NULL;
        struct error err;
        if (audit_open(db, f->keys, &opts, &log, &err) < 0)
            fail_msg("reopen after kill -9: %s", err.message);
        struct present p = {.cap = acked[n - 1] + 1};
        p.seen = calloc(p.cap, 1);
        assert_true(audit_query(log, NULL, mark_present, &p, NULL) >= (int64_t)n);
        uint64_t missing = 0;
        for (uint64_t i = 0; i < n; i++)
            missing += !p.seen[acked[i]];
        append_n(log, 0, 0);
        assert_int_equal(audit_close(log, NULL), 0);
        struct audit_verify_result res;
        assert_int_equal(audit_verify_db(db, f->pub, &res, NULL), 0);
        if (!res.ok)
            fail_msg("trial %d: the log does not verify after kill -9: %s", t, res.reason);
        total_acked += n;
        total_missing += missing;
        free(p.seen);
        free(acked);
    }
    printf("kill -9 with %d concurrent writers: %d trials, %" PRIu64
           " acknowledged records, %" PRIu64 " missing\n",
           WRITERS, trials, total_acked, total_missing);
    assert_int_equal(total_missing, 0);
}

/* Subscribers see every record once, in seq order, even with concurrent
 * writers, and a checkpoint after the records it covers. */
struct ordered {
    pthread_mutex_t mu;
    uint64_t last;
    uint64_t records, checkpoints;
    bool out_of_order;
    uint64_t last_cp;
};

static int ordered_record(const struct audit_record *rec, void *ctx)
{
    struct ordered *o = ctx;
    if (rec->seq != o->last + 1)
        o->out_of_order = true;
    o->last = rec->seq;
    o->records++;
    return 0;
}

static int ordered_checkpoint(const struct audit_checkpoint *cp, void *ctx)
{
    struct ordered *o = ctx;
    if (cp->tree_size > o->last || cp->tree_size <= o->last_cp || cp->note == NULL ||
        strlen(cp->root_hash) != 64)
        o->out_of_order = true;
    o->last_cp = cp->tree_size;
    o->checkpoints++;
    return 0;
}

struct sub_appender {
    struct audit_log *log;
    unsigned n;
};

static void *sub_appender_main(void *arg)
{
    struct sub_appender *a = arg;
    for (unsigned i = 0; i < a->n; i++) {
        struct audit_record_in in;
        char details[64];
        fill_in(&in, details, i);
        if (audit_append(a->log, &in, NULL, NULL) < 0)
            return (void *)1;
    }
    return NULL;
}

static void test_subscribers_in_order_with_concurrent_writers(void **state)
{
    struct fixture *f = *state;
    struct audit_log *log = open_log(f, 25);
    struct ordered o = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_true(audit_subscribe(log, ordered_record, &o, NULL) > 0);
    assert_true(audit_subscribe_checkpoints(log, ordered_checkpoint, &o, NULL) > 0);
    enum { THREADS = 6, EACH = 60 };
    pthread_t th[THREADS];
    struct sub_appender a = {log, EACH};
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, sub_appender_main, &a), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    assert_int_equal(audit_checkpoint(log, NULL), 0);
    assert_false(o.out_of_order);
    assert_int_equal(o.records, THREADS * EACH);
    assert_int_equal(o.last_cp, THREADS * EACH);
    assert_true(o.checkpoints >= THREADS * EACH / (25 + THREADS));
    assert_int_equal(audit_close(log, NULL), 0);
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, THREADS * EACH);
}

/* The signed root is checked: a record rewritten with its chain recomputed
 * (and the legacy chain signature forged away) is caught by the note. */
static void test_db_tree_root_checked(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.checkpoints, 3);
    /* Another root next to an intact note: refused at that checkpoint. */
    tamper(f, "UPDATE checkpoints SET root_hash = '" AUDIT_ZERO_HASH "' WHERE seq = 200");
    expect_fail(verify_db(f, f->pub), 200, "another size, time or root");
    /* A note from another size moved onto this checkpoint. */
    tamper_raw(f, "UPDATE checkpoints SET root_hash = (SELECT root_hash FROM checkpoints WHERE seq = 100),"
              " note = (SELECT note FROM checkpoints WHERE seq = 100) WHERE seq = 200");
    expect_fail(verify_db(f, f->pub), 200, "another size, time or root");
}

static void test_open_refuses_bad_tree_state(void **state)
{
    struct fixture *f = *state;
    make_log(f);
    /* A stored tree state that does not match the signed root is ignored and
     * the tree is rebuilt from the records; a note that does not verify is
     * refused. */
    tamper(f, "UPDATE checkpoints SET tree_state = zeroblob(64) WHERE seq = 250");
    struct audit_log *log = open_log(f, 100);
    append_n(log, 251, 60);
    assert_int_equal(audit_close(log, NULL), 0);
    struct audit_verify_result res = verify_db(f, f->pub);
    assert_true(res.ok);
    assert_int_equal(res.records, 310);
    tamper(f, "UPDATE checkpoints SET note = replace(note, 'time_ns', 'time_ms') WHERE seq = 310");
    struct audit_log *bad = NULL;
    struct error err;
    assert_int_equal(audit_open(f->db, f->keys, NULL, &bad, &err), -1);
    assert_int_equal(err.kind, ERR_DATA_LOSS);
    assert_non_null(strstr(err.message, "signed note"));
}

static void test_witness(void **state)
{
    struct fixture *f = *state;
    char witness[1024], wdir[700];
    snprintf(wdir, sizeof(wdir), "%s/elsewhere", f->home);
    assert_int_equal(mkdir(wdir, 0700), 0);
    snprintf(witness, sizeof(witness), "%s/audit-checkpoints.jsonl", wdir);
    struct audit_options opts = {.checkpoint_interval = 100, .witness_path = wdir};
    struct audit_log *log = NULL;
    assert_int_equal(audit_open(f->db, f->keys, &opts, &log, NULL), 0);
    append_n(log, 1, 250);
    assert_int_equal(audit_close(log, NULL), 0);
    struct audit_verify_result res;
    assert_int_equal(audit_verify_witness(f->db, f->pub, witness, &res, NULL), 0);
    assert_true(res.ok);
    assert_int_equal(res.witnessed, 3); /* 100, 200, 250 */
    assert_int_equal(res.witnessed_size, 250);

    /* Cut back to 150 with the covering checkpoints: fine alone, caught by
     * the witness at seq 151 (size 200). */
    tamper(f, "DELETE FROM records WHERE seq > 150; DELETE FROM checkpoints WHERE seq > 150");
    assert_true(verify_db(f, f->pub).ok);
    assert_int_equal(audit_verify_witness(f->db, f->pub, witness, &res, NULL), 0);
    expect_fail(res, 151, "truncated: the witnessed checkpoint at tree size 200");

    /* Rewritten with the same key: another log of 250 records. */
    remove_log(f);
    log = open_log(f, 100);
    struct audit_record_in first = {.kind = AUDIT_DAEMON_START}; /* other contents */
    assert_int_equal(audit_append(log, &first, NULL, NULL), 0);
    append_n(log, 2, 249);
    assert_int_equal(audit_close(log, NULL), 0);
    assert_true(verify_db(f, f->pub).ok);
    assert_int_equal(audit_verify_witness(f->db, f->pub, witness, &res, NULL), 0);
    expect_fail(res, 100, "rewritten");

    /* A witness that is not a witness. */
    char junk[700];
    snprintf(junk, sizeof(junk), "%s/junk", f->home);
    FILE *j = fopen(junk, "w");
    fputs("{\"note\":\"x\"}\n", j);
    fclose(j);
    assert_int_equal(audit_verify_witness(f->db, f->pub, junk, &res, NULL), 0);
    expect_fail(res, 1, "witness line 1");
    /* A witness path that cannot be written: refused at open. */
    struct audit_options bad = {.witness_path = "/nonexistent-dir/w.jsonl"};
    struct error err;
    assert_int_equal(audit_open(f->db, f->keys, &bad, &log, &err), -1);
    assert_non_null(strstr(err.message, "audit witness"));
}

int main(void)
{
    /* `make test-audit-kill`: the concurrent kill -9 test alone, with more trials. */
    if (getenv("ENCLAVE_AUDIT_KILL_ONLY") != NULL) {
        const struct CMUnitTest only[] = {
            cmocka_unit_test_setup_teardown(test_durability_sigkill_concurrent, setup, teardown),
        };
        return cmocka_run_group_tests(only, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_table),
        cmocka_unit_test(test_hash_known_answer),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_chain_verifies),
        T(test_reopen_continues),
        T(test_empty_log),
        T(test_db_tampering),
        T(test_db_edit_each_field),
        T(test_db_edit_and_rehash),
        T(test_db_rewrite_chain_caught_by_checkpoint),
        T(test_db_forged_signature),
        T(test_checkpoint_other_key),
        T(test_db_wrong_key),
        T(test_open_refuses_damaged_tail),
        T(test_open_refuses_edit_after_checkpoint),
        T(test_open_refuses_key),
        T(test_single_writer),
        T(test_writer_refuses_changed_head),
        T(test_rejects_bad_input),
        T(test_batch_is_atomic),
        T(test_query_filters),
        T(test_subscribe),
        T(test_jsonl_roundtrip),
        T(test_jsonl_tampering),
        T(test_jsonl_replaced_key_needs_key_flag),
        T(test_jsonl_hostile),
        T(test_jsonl_checkpoint_order_free),
        T(test_db_verify_while_writing),
        T(test_db_hostile_rows),
        T(test_db_not_a_log),
        T(test_threads_share_a_log),
        T(test_open_refuses_other_format),
        T(test_durability_sigkill),
        T(test_durability_sigkill_concurrent),
        T(test_subscribers_in_order_with_concurrent_writers),
        T(test_db_tree_root_checked),
        T(test_open_refuses_bad_tree_state),
        T(test_witness),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
