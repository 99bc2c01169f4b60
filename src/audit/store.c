/* The SQLite store: open (with the tail check), append, checkpoint, query,
 * subscribe, export. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "audit/audit_internal.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/paths.h"

#define DEFAULT_CHECKPOINT_INTERVAL 100
#define BUSY_TIMEOUT_MS 5000

struct subscriber {
    int id;
    audit_record_fn fn;
    void *ctx;
};

struct audit_log {
    pthread_mutex_t mu;
    sqlite3 *db;
    char *db_path;
    bool read_only;
    EVP_PKEY *key; /* writer only */
    char *pub_pem; /* writer only */
    char key_id[AUDIT_HASH_HEX_SIZE];
    uint32_t interval;
    uint64_t head_seq;
    char head_hash[AUDIT_HASH_HEX_SIZE];
    uint64_t checkpoint_seq; /* seq of the newest checkpoint, 0 = none */
    int lock_fd;
    sqlite3_stmt *st_insert;
    sqlite3_stmt *st_head;
    struct subscriber *subs;
    size_t nsubs, subs_cap;
    int next_sub_id;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS records ("
    "  seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, session TEXT NOT NULL,"
    "  kind TEXT NOT NULL, bundle_digest TEXT NOT NULL, input_digest TEXT NOT NULL,"
    "  decision TEXT NOT NULL, reasons TEXT NOT NULL, details TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_by_session ON records(session, seq);"
    "CREATE INDEX IF NOT EXISTS records_by_time ON records(time_ns);"
    "CREATE TABLE IF NOT EXISTS checkpoints ("
    "  seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, head_hash TEXT NOT NULL,"
    "  key_id TEXT NOT NULL, signature TEXT NOT NULL);"
    /* A guard against mistakes, not against an attacker (who can drop these):
     * verification is what catches deliberate edits. */
    "CREATE TRIGGER IF NOT EXISTS records_append_only_update BEFORE UPDATE ON records"
    "  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS records_append_only_delete BEFORE DELETE ON records"
    "  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_append_only_update BEFORE UPDATE ON checkpoints"
    "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_append_only_delete BEFORE DELETE ON checkpoints"
    "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;";

#define RECORD_COLUMNS                                                                    \
    "seq, time_ns, session, kind, bundle_digest, input_digest, decision, reasons, details, " \
    "prev_hash, hash"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sql_error(struct error *err, sqlite3 *db, int rc, const char *what)
{
    enum error_kind kind = ERR_INTERNAL;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        kind = ERR_UNAVAILABLE;
    else if (rc == SQLITE_FULL)
        kind = ERR_RESOURCE_EXHAUSTED;
    else if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
        kind = ERR_DATA_LOSS;
    return error_set(err, kind, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int sql_exec(sqlite3 *db, const char *sql, struct error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        error_set(err, rc == SQLITE_BUSY ? ERR_UNAVAILABLE : ERR_INTERNAL, "sqlite: %s",
                  msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static const char *column_str(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

/* Fills rec from a row selected with RECORD_COLUMNS; the strings live until
 * the next step of st. */
static void row_to_record(sqlite3_stmt *st, struct audit_record *rec)
{
    rec->seq = (uint64_t)sqlite3_column_int64(st, 0);
    rec->time_ns = sqlite3_column_int64(st, 1);
    rec->session_id = column_str(st, 2);
    rec->kind_name = column_str(st, 3);
    rec->kind = audit_kind_from_name(rec->kind_name);
    rec->bundle_digest = column_str(st, 4);
    rec->input_digest = column_str(st, 5);
    rec->decision = column_str(st, 6);
    rec->reasons_json = column_str(st, 7);
    rec->details_json = column_str(st, 8);
    rec->prev_hash = column_str(st, 9);
    rec->hash = column_str(st, 10);
}

int audit_default_db_path(char *buf, size_t size, struct error *err)
{
    return paths_home(buf, size, "audit/audit.db", err);
}

int audit_default_key_dir(char *buf, size_t size, struct error *err)
{
    return paths_home(buf, size, "keys", err);
}

static void log_free(struct audit_log *log)
{
    if (log == NULL)
        return;
    sqlite3_finalize(log->st_insert);
    sqlite3_finalize(log->st_head);
    if (log->db != NULL)
        sqlite3_close(log->db);
    EVP_PKEY_free(log->key);
    free(log->pub_pem);
    free(log->subs);
    free(log->db_path);
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&log->mu);
    free(log);
}

static int take_writer_lock(struct audit_log *log, struct error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s.lock", log->db_path) >= sizeof(path))
        return error_set(err, ERR_INVALID_ARGUMENT, "audit log path too long");
    log->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (log->lock_fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "opening %s", path);
    if (flock(log->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return error_set(err, ERR_FAILED_PRECONDITION,
                             "%s is already open for writing by another process", log->db_path);
        return error_set_errno(err, ERR_INTERNAL, "locking %s", path);
    }
    return 0;
}

static int meta_get(sqlite3 *db, const char *name, char **out, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = ?", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_error(err, db, rc, "reading the log's metadata");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *out = NULL;
    if (rc == SQLITE_ROW) {
        *out = strdup(column_str(st, 0));
        sqlite3_finalize(st);
        if (*out == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        return 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_error(err, db, rc, "reading the log's metadata");
    return 0;
}

static int meta_put_if_missing(sqlite3 *db, const char *name, const char *value, struct error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO meta(name, value) VALUES (?, ?)", -1,
                                &st, NULL);
    if (rc != SQLITE_OK)
        return sql_error(err, db, rc, "writing the log's metadata");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_error(err, db, rc, "writing the log's metadata");
    return 0;
}

static int create_schema(struct audit_log *log, struct error *err)
{
    if (sql_exec(log->db, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    char created[32];
    snprintf(created, sizeof(created), "%" PRId64, now_ns());
    if (sql_exec(log->db, schema_sql, err) < 0 ||
        meta_put_if_missing(log->db, "format", AUDIT_FORMAT, err) < 0 ||
        meta_put_if_missing(log->db, "public_key", log->pub_pem, err) < 0 ||
        meta_put_if_missing(log->db, "key_id", log->key_id, err) < 0 ||
        meta_put_if_missing(log->db, "created_ns", created, err) < 0 ||
        sql_exec(log->db, "COMMIT", err) < 0) {
        sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    cleanup_free char *format = NULL;
    cleanup_free char *key_id = NULL;
    if (meta_get(log->db, "format", &format, err) < 0 || meta_get(log->db, "key_id", &key_id, err) < 0)
        return -1;
    if (format == NULL || strcmp(format, AUDIT_FORMAT) != 0)
        return error_set(err, ERR_FAILED_PRECONDITION, "%s is not an %s log (format %s)",
                         log->db_path, AUDIT_FORMAT, format ? format : "missing");
    if (key_id == NULL || strcmp(key_id, log->key_id) != 0)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "%s was started with signing key %.16s, but the key found is %.16s; "
                         "restore the original key or move the log aside",
                         log->db_path, key_id ? key_id : "(none)", log->key_id);
    return 0;
}

static int damaged(struct audit_log *log, struct error *err, uint64_t seq, const char *why)
{
    return error_set(err, ERR_DATA_LOSS,
                     "the audit log %s is damaged at seq %" PRIu64 " (%s); refusing to extend it "
                     "(run 'enclave audit verify' on it, then move it aside)",
                     log->db_path, seq, why);
}

/* Checks the chain from the newest checkpoint to the head, and loads the head. */
static int check_tail(struct audit_log *log, struct error *err)
{
    sqlite3 *db = log->db;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT seq, time_ns, head_hash, signature FROM checkpoints ORDER BY seq DESC LIMIT 1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_error(err, db, rc, "reading checkpoints");
    uint64_t cp_seq = 0;
    char cp_hash[AUDIT_HASH_HEX_SIZE] = "";
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cp_seq = (uint64_t)sqlite3_column_int64(st, 0);
        int64_t cp_time = sqlite3_column_int64(st, 1);
        snprintf(cp_hash, sizeof(cp_hash), "%s", column_str(st, 2));
        bool ok = cp_seq > 0 && audit_is_hex_hash(column_str(st, 2)) &&
                  audit_checkpoint_signature_ok(log->key, cp_seq, cp_time, cp_hash,
                                                column_str(st, 3));
        sqlite3_finalize(st);
        if (!ok)
            return damaged(log, err, cp_seq, "the newest checkpoint's signature does not verify");
    } else {
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return sql_error(err, db, rc, "reading checkpoints");
    }

    rc = sqlite3_prepare_v2(db, "SELECT " RECORD_COLUMNS " FROM records WHERE seq >= ? ORDER BY seq",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_error(err, db, rc, "reading records");
    uint64_t expected = cp_seq > 0 ? cp_seq : 1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)expected);
    char prev[AUDIT_HASH_HEX_SIZE] = "";
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_record rec;
        row_to_record(st, &rec);
        char computed[AUDIT_HASH_HEX_SIZE];
        audit_record_compute_hash(&rec, computed);
        if (rec.seq != expected)
            ret = damaged(log, err, expected, "record missing");
        else if (strcmp(computed, rec.hash) != 0)
            ret = damaged(log, err, rec.seq, "record does not match its hash");
        else if (rec.seq == 1 && strcmp(rec.prev_hash, AUDIT_ZERO_HASH) != 0)
            ret = damaged(log, err, 1, "the first record does not start the chain");
        else if (prev[0] != '\0' && strcmp(rec.prev_hash, prev) != 0)
            ret = damaged(log, err, rec.seq, "record does not link to the one before");
        else if (rec.seq == cp_seq && strcmp(rec.hash, cp_hash) != 0)
            ret = damaged(log, err, rec.seq, "the checkpoint names another head hash");
        if (ret < 0)
            break;
        memcpy(prev, rec.hash, AUDIT_HASH_HEX_SIZE);
        expected++;
    }
    sqlite3_finalize(st);
    if (ret < 0)
        return -1;
    if (rc != SQLITE_DONE)
        return sql_error(err, db, rc, "reading records");
    if (cp_seq > 0 && expected <= cp_seq) {
        /* Nothing at or after the checkpoint: name the first missing seq. */
        uint64_t first_missing = 1;
        rc = sqlite3_prepare_v2(db, "SELECT MAX(seq) FROM records", -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            first_missing = (uint64_t)sqlite3_column_int64(st, 0) + 1;
        sqlite3_finalize(st);
        return damaged(log, err, first_missing,
                       "records covered by the newest checkpoint are missing");
    }
    if (cp_seq == 0 && expected == 1) {
        /* Empty, unless records exist below seq 1 or the table was emptied
         * (which a missing first checkpoint cannot tell apart from new). */
        log->head_seq = 0;
        memcpy(log->head_hash, AUDIT_ZERO_HASH, AUDIT_HASH_HEX_SIZE);
    } else {
        log->head_seq = expected - 1;
        memcpy(log->head_hash, prev, AUDIT_HASH_HEX_SIZE);
    }
    log->checkpoint_seq = cp_seq;
    return 0;
}

static int checkpoint_locked(struct audit_log *log, struct error *err);

static int parent_dir(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return snprintf(out, size, ".") < 0 ? -1 : 0;
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;
    if (n >= size)
        return -1;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int audit_open(const char *db_path, const char *key_dir, const struct audit_options *opts,
               struct audit_log **out, struct error *err)
{
    struct audit_log *log = calloc(1, sizeof(*log));
    if (log == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    pthread_mutex_init(&log->mu, NULL);
    log->lock_fd = -1;
    log->read_only = opts != NULL && opts->read_only;
    log->interval = opts != NULL && opts->checkpoint_interval > 0 ? opts->checkpoint_interval
                                                                  : DEFAULT_CHECKPOINT_INTERVAL;
    log->db_path = strdup(db_path);
    if (log->db_path == NULL) {
        log_free(log);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }

    if (!log->read_only) {
        char dir[4096];
        if (key_dir == NULL) {
            log_free(log);
            return error_set(err, ERR_INVALID_ARGUMENT, "a key folder is needed to write a log");
        }
        if (parent_dir(db_path, dir, sizeof(dir)) < 0 || paths_mkdir_p(dir, 0700, err) < 0 ||
            take_writer_lock(log, err) < 0 ||
            audit_keys_load_or_create(key_dir, &log->key, &log->pub_pem, log->key_id, err) < 0) {
            log_free(log);
            return error_prefix(err, "opening the audit log");
        }
    }

    int flags = log->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(db_path, &log->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        error_set(err, rc == SQLITE_CANTOPEN ? ERR_NOT_FOUND : ERR_INTERNAL,
                  "opening the audit log %s: %s", db_path,
                  log->db ? sqlite3_errmsg(log->db) : sqlite3_errstr(rc));
        log_free(log);
        return -1;
    }
    sqlite3_busy_timeout(log->db, BUSY_TIMEOUT_MS);

    if (log->read_only) {
        cleanup_free char *format = NULL;
        if (meta_get(log->db, "format", &format, err) < 0 || format == NULL ||
            strcmp(format, AUDIT_FORMAT) != 0) {
            if (format == NULL || strcmp(format, AUDIT_FORMAT) != 0)
                error_set(err, ERR_FAILED_PRECONDITION, "%s is not an Enclave audit log", db_path);
            log_free(log);
            return -1;
        }
        *out = log;
        return 0;
    }

    /* journal_mode answers with the mode in force; anything but "wal" means
     * the durability and reader guarantees would not hold. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(log->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    bool wal = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
               strcmp(column_str(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        error_set(err, ERR_FAILED_PRECONDITION, "cannot put %s into WAL mode: %s", db_path,
                  sqlite3_errmsg(log->db));
        log_free(log);
        return -1;
    }
    if (sql_exec(log->db, "PRAGMA synchronous=FULL", err) < 0 || create_schema(log, err) < 0 ||
        check_tail(log, err) < 0) {
        log_free(log);
        return -1;
    }
    rc = sqlite3_prepare_v2(log->db,
                            "INSERT INTO records (" RECORD_COLUMNS
                            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            -1, &log->st_insert, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(log->db, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
                                -1, &log->st_head, NULL);
    if (rc != SQLITE_OK) {
        sql_error(err, log->db, rc, "preparing statements");
        log_free(log);
        return -1;
    }
    if (log->head_seq > log->checkpoint_seq) {
        log_warn("audit: %s was not closed cleanly; signing a checkpoint over its head (seq %" PRIu64
                 ")",
                 db_path, log->head_seq);
        if (checkpoint_locked(log, err) < 0) {
            log_free(log);
            return -1;
        }
    }
    *out = log;
    return 0;
}

int audit_close(struct audit_log *log, struct error *err)
{
    if (log == NULL)
        return 0;
    int ret = 0;
    if (!log->read_only) {
        pthread_mutex_lock(&log->mu);
        ret = checkpoint_locked(log, err);
        pthread_mutex_unlock(&log->mu);
    }
    log_free(log);
    return ret;
}

/* ---------------------------------------------------------------- append */

struct prepared {
    const char *kind_name;
    int64_t time_ns;
    const char *session_id, *bundle_digest, *input_digest, *decision;
    char *reasons, *details;
};

static bool text_ok(const char *s)
{
    /* Valid UTF-8 (jansson checks it) without C0 or C1 control characters:
     * session ids end up on terminals. */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return false;
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static int canonical_json(const char *text, const char *field, bool array, size_t max,
                          char **out, struct error *err)
{
    if (text == NULL) {
        *out = strdup(array ? "[]" : "{}");
        return *out ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (strlen(text) > 4 * max)
        return error_set(err, ERR_INVALID_ARGUMENT, "audit %s: too large", field);
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "audit %s: not JSON: %s", field, jerr.text);
    int ret = 0;
    if (array) {
        if (!json_is_array(j))
            ret = error_set(err, ERR_INVALID_ARGUMENT, "audit reasons: not a JSON array");
        for (size_t i = 0; ret == 0 && i < json_array_size(j); i++)
            if (!json_is_string(json_array_get(j, i)))
                ret = error_set(err, ERR_INVALID_ARGUMENT, "audit reasons: not all strings");
    } else if (!json_is_object(j)) {
        ret = error_set(err, ERR_INVALID_ARGUMENT, "audit details: not a JSON object");
    }
    if (ret == 0) {
        *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        if (*out == NULL)
            ret = error_set(err, ERR_RESOURCE_EXHAUSTED, "audit %s: cannot encode", field);
        else if (strlen(*out) > max) {
            free(*out);
            *out = NULL;
            ret = error_set(err, ERR_INVALID_ARGUMENT, "audit %s: more than %zu bytes", field, max);
        }
    }
    json_decref(j);
    return ret;
}

static int prepare(const struct audit_record_in *in, struct prepared *p, struct error *err)
{
    memset(p, 0, sizeof(*p));
    p->kind_name = audit_kind_name(in->kind);
    if (p->kind_name == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "audit: unknown event kind %d", (int)in->kind);
    p->time_ns = in->time_ns != 0 ? in->time_ns : now_ns();
    p->session_id = in->session_id ? in->session_id : "";
    p->bundle_digest = in->bundle_digest ? in->bundle_digest : "";
    p->input_digest = in->input_digest ? in->input_digest : "";
    p->decision = in->decision ? in->decision : "";
    if (strlen(p->session_id) > AUDIT_MAX_SESSION_LEN || !text_ok(p->session_id))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "audit: session id must be at most %d bytes of printable UTF-8",
                         AUDIT_MAX_SESSION_LEN);
    if ((p->bundle_digest[0] && !audit_is_hex_hash(p->bundle_digest)) ||
        (p->input_digest[0] && !audit_is_hex_hash(p->input_digest)))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "audit: digests are 64 lowercase hex characters or empty");
    if (strcmp(p->decision, "") != 0 && strcmp(p->decision, "allow") != 0 &&
        strcmp(p->decision, "deny") != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "audit: decision is \"allow\", \"deny\" or \"\"");
    if (canonical_json(in->reasons_json, "reasons", true, AUDIT_MAX_REASONS_LEN, &p->reasons, err) < 0)
        return -1;
    if (canonical_json(in->details_json, "details", false, AUDIT_MAX_DETAILS_LEN, &p->details, err) < 0) {
        free(p->reasons);
        p->reasons = NULL;
        return -1;
    }
    return 0;
}

static void prepared_release(struct prepared *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].reasons);
        free(p[i].details);
    }
}

static void prepared_record(const struct prepared *p, uint64_t seq, const char *prev,
                            struct audit_record *rec)
{
    rec->seq = seq;
    rec->time_ns = p->time_ns;
    rec->kind_name = p->kind_name;
    rec->kind = audit_kind_from_name(p->kind_name);
    rec->session_id = p->session_id;
    rec->bundle_digest = p->bundle_digest;
    rec->input_digest = p->input_digest;
    rec->decision = p->decision;
    rec->reasons_json = p->reasons;
    rec->details_json = p->details;
    rec->prev_hash = prev;
    rec->hash = NULL;
}

/* Re-reads the head inside the write transaction: the cached head must still
 * be the stored one, or something else wrote to (or cut) the log. */
static int head_unchanged(struct audit_log *log, struct error *err)
{
    sqlite3_stmt *st = log->st_head;
    sqlite3_reset(st);
    int rc = sqlite3_step(st);
    uint64_t seq = 0;
    const char *hash = AUDIT_ZERO_HASH;
    if (rc == SQLITE_ROW) {
        seq = (uint64_t)sqlite3_column_int64(st, 0);
        hash = column_str(st, 1);
    } else if (rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return sql_error(err, log->db, rc, "reading the head");
    }
    bool same = seq == log->head_seq && strcmp(hash, log->head_hash) == 0;
    sqlite3_reset(st);
    if (!same)
        return error_set(err, ERR_DATA_LOSS,
                         "the audit log %s changed under its writer (head seq %" PRIu64
                         ", expected %" PRIu64 "); refusing to extend it",
                         log->db_path, seq, log->head_seq);
    return 0;
}

static void notify(struct audit_log *log, const struct audit_record *rec)
{
    for (size_t i = 0; i < log->nsubs; i++)
        log->subs[i].fn(rec, log->subs[i].ctx);
}

static int append_locked(struct audit_log *log, const struct audit_record_in *ins, size_t n,
                         struct audit_record_out *outs, struct error *err)
{
    if (log->read_only)
        return error_set(err, ERR_FAILED_PRECONDITION, "the audit log is open read-only");
    if (n == 0)
        return 0;
    if (n > 100000)
        return error_set(err, ERR_INVALID_ARGUMENT, "audit: batch of %zu records is too large", n);
    struct prepared *p = calloc(n, sizeof(*p));
    char (*hashes)[AUDIT_HASH_HEX_SIZE] = calloc(n, AUDIT_HASH_HEX_SIZE);
    int ret = -1;
    size_t prepared_n = 0;
    if (p == NULL || hashes == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    for (; prepared_n < n; prepared_n++)
        if (prepare(&ins[prepared_n], &p[prepared_n], err) < 0)
            goto out;

    if (sql_exec(log->db, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    if (head_unchanged(log, err) < 0)
        goto rollback;
    const char *prev = log->head_hash;
    for (size_t i = 0; i < n; i++) {
        struct audit_record rec;
        prepared_record(&p[i], log->head_seq + 1 + i, prev, &rec);
        audit_record_compute_hash(&rec, hashes[i]);
        sqlite3_stmt *st = log->st_insert;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)rec.seq);
        sqlite3_bind_int64(st, 2, rec.time_ns);
        sqlite3_bind_text(st, 3, rec.session_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, rec.kind_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, rec.bundle_digest, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, rec.input_digest, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, rec.decision, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, rec.reasons_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, rec.details_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, rec.prev_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, hashes[i], -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE) {
            sql_error(err, log->db, rc, "appending an audit record");
            goto rollback;
        }
        prev = hashes[i];
    }
    /* With WAL and synchronous=FULL the commit returns after the WAL is fsynced. */
    if (sql_exec(log->db, "COMMIT", err) < 0)
        goto rollback;

    for (size_t i = 0; i < n; i++) {
        struct audit_record rec;
        prepared_record(&p[i], log->head_seq + 1 + i, i == 0 ? log->head_hash : hashes[i - 1], &rec);
        rec.hash = hashes[i];
        if (outs != NULL) {
            outs[i].seq = rec.seq;
            memcpy(outs[i].hash, hashes[i], AUDIT_HASH_HEX_SIZE);
        }
        if (log->nsubs > 0)
            notify(log, &rec);
    }
    log->head_seq += n;
    memcpy(log->head_hash, hashes[n - 1], AUDIT_HASH_HEX_SIZE);
    ret = 0;

    if (log->head_seq - log->checkpoint_seq >= log->interval) {
        /* The records are already durable; a failed checkpoint is retried
         * on the next append and at close. */
        struct error cp_err;
        if (checkpoint_locked(log, &cp_err) < 0)
            log_warn("audit: checkpoint failed: %s", cp_err.message);
    }
    goto out;

rollback:
    sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
out:
    if (p != NULL)
        prepared_release(p, prepared_n);
    free(p);
    free(hashes);
    return ret;
}

int audit_append(struct audit_log *log, const struct audit_record_in *in,
                 struct audit_record_out *out, struct error *err)
{
    pthread_mutex_lock(&log->mu);
    int ret = append_locked(log, in, 1, out, err);
    pthread_mutex_unlock(&log->mu);
    return ret;
}

int audit_append_batch(struct audit_log *log, const struct audit_record_in *ins, size_t n,
                       struct audit_record_out *outs, struct error *err)
{
    pthread_mutex_lock(&log->mu);
    int ret = append_locked(log, ins, n, outs, err);
    pthread_mutex_unlock(&log->mu);
    return ret;
}

static int checkpoint_locked(struct audit_log *log, struct error *err)
{
    if (log->read_only)
        return error_set(err, ERR_FAILED_PRECONDITION, "the audit log is open read-only");
    if (log->head_seq == 0 || log->head_seq == log->checkpoint_seq)
        return 0;
    int64_t t = now_ns();
    char sig[AUDIT_SIG_B64_SIZE];
    if (audit_checkpoint_sign(log->key, log->head_seq, t, log->head_hash, sig, err) < 0)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(log->db,
                                "INSERT INTO checkpoints (seq, time_ns, head_hash, key_id, signature)"
                                " VALUES (?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_error(err, log->db, rc, "writing a checkpoint");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)log->head_seq);
    sqlite3_bind_int64(st, 2, t);
    sqlite3_bind_text(st, 3, log->head_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, log->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, sig, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_error(err, log->db, rc, "writing a checkpoint");
    log->checkpoint_seq = log->head_seq;
    return 0;
}

int audit_checkpoint(struct audit_log *log, struct error *err)
{
    pthread_mutex_lock(&log->mu);
    int ret = checkpoint_locked(log, err);
    pthread_mutex_unlock(&log->mu);
    return ret;
}

int audit_head(struct audit_log *log, uint64_t *seq, char hash[AUDIT_HASH_HEX_SIZE],
               struct error *err)
{
    pthread_mutex_lock(&log->mu);
    int ret = 0;
    if (log->read_only) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(log->db, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
                                    -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *seq = (uint64_t)sqlite3_column_int64(st, 0);
            snprintf(hash, AUDIT_HASH_HEX_SIZE, "%s", column_str(st, 1));
        } else if (rc == SQLITE_DONE) {
            *seq = 0;
            memcpy(hash, AUDIT_ZERO_HASH, AUDIT_HASH_HEX_SIZE);
        } else {
            ret = sql_error(err, log->db, rc, "reading the head");
        }
        sqlite3_finalize(st);
    } else {
        *seq = log->head_seq;
        memcpy(hash, log->head_hash, AUDIT_HASH_HEX_SIZE);
    }
    pthread_mutex_unlock(&log->mu);
    return ret;
}

/* ---------------------------------------------------------------- query */

int64_t audit_query(struct audit_log *log, const struct audit_filter *filter, audit_record_fn fn,
                    void *ctx, struct error *err)
{
    struct audit_filter all = {0};
    if (filter == NULL)
        filter = &all;
    bool last = filter->last && filter->limit > 0;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "%sSELECT " RECORD_COLUMNS " FROM records WHERE seq > ?1 AND time_ns >= ?2%s"
             " ORDER BY seq %s LIMIT ?4%s",
             last ? "SELECT * FROM (" : "", filter->session_id ? " AND session = ?3" : "",
             last ? "DESC" : "ASC", last ? ") ORDER BY seq ASC" : "");
    pthread_mutex_lock(&log->mu);
    sqlite3_stmt *st = NULL;
    int64_t count = 0;
    int rc = sqlite3_prepare_v2(log->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        count = sql_error(err, log->db, rc, "querying the audit log");
        goto out;
    }
    sqlite3_bind_int64(st, 1, filter->after_seq > INT64_MAX ? INT64_MAX : (sqlite3_int64)filter->after_seq);
    sqlite3_bind_int64(st, 2, filter->since_ns);
    if (filter->session_id)
        sqlite3_bind_text(st, 3, filter->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, filter->limit > 0 ? (sqlite3_int64)filter->limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_record rec;
        row_to_record(st, &rec);
        count++;
        if (fn(&rec, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        count = sql_error(err, log->db, rc, "querying the audit log");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->mu);
    return count;
}

int audit_subscribe(struct audit_log *log, audit_record_fn fn, void *ctx, struct error *err)
{
    pthread_mutex_lock(&log->mu);
    int id = -1;
    if (log->nsubs == log->subs_cap) {
        size_t cap = log->subs_cap ? log->subs_cap * 2 : 8;
        struct subscriber *s = realloc(log->subs, cap * sizeof(*s));
        if (s == NULL) {
            error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
            goto out;
        }
        log->subs = s;
        log->subs_cap = cap;
    }
    id = ++log->next_sub_id;
    log->subs[log->nsubs++] = (struct subscriber){id, fn, ctx};
out:
    pthread_mutex_unlock(&log->mu);
    return id;
}

void audit_unsubscribe(struct audit_log *log, int id)
{
    pthread_mutex_lock(&log->mu);
    for (size_t i = 0; i < log->nsubs; i++) {
        if (log->subs[i].id != id)
            continue;
        memmove(&log->subs[i], &log->subs[i + 1], (log->nsubs - i - 1) * sizeof(*log->subs));
        log->nsubs--;
        break;
    }
    pthread_mutex_unlock(&log->mu);
}

/* ---------------------------------------------------------------- JSON */

static json_t *record_json(const struct audit_record *rec)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "type", json_string("record"));
    bad |= json_object_set_new(o, "seq", json_integer((json_int_t)rec->seq));
    bad |= json_object_set_new(o, "time_ns", json_integer(rec->time_ns));
    bad |= json_object_set_new(o, "session", json_string(rec->session_id));
    bad |= json_object_set_new(o, "kind", json_string(rec->kind_name));
    bad |= json_object_set_new(o, "bundle_digest", json_string(rec->bundle_digest));
    bad |= json_object_set_new(o, "input_digest", json_string(rec->input_digest));
    bad |= json_object_set_new(o, "decision", json_string(rec->decision));
    /* Strings holding the exact hashed JSON text: see docs/audit.md. */
    bad |= json_object_set_new(o, "reasons", json_string(rec->reasons_json));
    bad |= json_object_set_new(o, "details", json_string(rec->details_json));
    bad |= json_object_set_new(o, "prev_hash", json_string(rec->prev_hash));
    bad |= json_object_set_new(o, "hash", json_string(rec->hash));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int audit_record_to_json(const struct audit_record *rec, char **out, struct error *err)
{
    json_t *o = record_json(rec);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (s == NULL)
        return error_set(err, ERR_DATA_LOSS,
                         "record %" PRIu64 " cannot be written as JSON (text that is not UTF-8?)",
                         rec->seq);
    *out = s;
    return 0;
}

static int write_json_line(FILE *out, json_t *o, struct error *err)
{
    if (o == NULL)
        return error_set(err, ERR_DATA_LOSS, "a log entry cannot be written as JSON");
    int rc = json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (rc < 0 || fputc('\n', out) == EOF)
        return error_set_errno(err, ERR_INTERNAL, "writing the export");
    return 0;
}

static json_t *checkpoint_json(sqlite3_stmt *st)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "type", json_string("checkpoint"));
    bad |= json_object_set_new(o, "seq", json_integer(sqlite3_column_int64(st, 0)));
    bad |= json_object_set_new(o, "time_ns", json_integer(sqlite3_column_int64(st, 1)));
    bad |= json_object_set_new(o, "head_hash", json_string(column_str(st, 2)));
    bad |= json_object_set_new(o, "key_id", json_string(column_str(st, 3)));
    bad |= json_object_set_new(o, "signature", json_string(column_str(st, 4)));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int64_t audit_export_jsonl(struct audit_log *log, FILE *out, struct error *err)
{
    pthread_mutex_lock(&log->mu);
    sqlite3_stmt *recs = NULL, *cps = NULL;
    int64_t count = -1;
    char *pub = NULL, *key_id = NULL;
    bool in_txn = false;
    /* One read transaction: a consistent snapshot while the writer goes on. */
    if (sql_exec(log->db, "BEGIN", err) < 0)
        goto out;
    in_txn = true;
    if (meta_get(log->db, "public_key", &pub, err) < 0 || meta_get(log->db, "key_id", &key_id, err) < 0)
        goto out;
    int rc = sqlite3_prepare_v2(log->db, "SELECT " RECORD_COLUMNS " FROM records ORDER BY seq", -1,
                                &recs, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(log->db,
                                "SELECT seq, time_ns, head_hash, key_id, signature FROM checkpoints"
                                " ORDER BY seq",
                                -1, &cps, NULL);
    if (rc != SQLITE_OK) {
        sql_error(err, log->db, rc, "exporting the audit log");
        goto out;
    }
    json_t *header = json_pack("{s:s, s:s, s:s, s:s}", "type", "header", "format", AUDIT_FORMAT,
                               "key_id", key_id ? key_id : "", "public_key", pub ? pub : "");
    if (write_json_line(out, header, err) < 0)
        goto out;
    int cp_rc = sqlite3_step(cps);
    int64_t n = 0;
    while ((rc = sqlite3_step(recs)) == SQLITE_ROW) {
        struct audit_record rec;
        row_to_record(recs, &rec);
        if (write_json_line(out, record_json(&rec), err) < 0)
            goto out;
        n++;
        while (cp_rc == SQLITE_ROW && (uint64_t)sqlite3_column_int64(cps, 0) <= rec.seq) {
            if (write_json_line(out, checkpoint_json(cps), err) < 0)
                goto out;
            cp_rc = sqlite3_step(cps);
        }
    }
    /* Checkpoints past the last record stay in: they show a cut tail. */
    while (cp_rc == SQLITE_ROW) {
        if (write_json_line(out, checkpoint_json(cps), err) < 0)
            goto out;
        cp_rc = sqlite3_step(cps);
    }
    if (rc != SQLITE_DONE || cp_rc != SQLITE_DONE) {
        sql_error(err, log->db, rc != SQLITE_DONE ? rc : cp_rc, "exporting the audit log");
        goto out;
    }
    if (fflush(out) == EOF || ferror(out)) {
        error_set_errno(err, ERR_INTERNAL, "writing the export");
        goto out;
    }
    count = n;
out:
    sqlite3_finalize(recs);
    sqlite3_finalize(cps);
    if (in_txn)
        sqlite3_exec(log->db, "COMMIT", NULL, NULL, NULL);
    free(pub);
    free(key_id);
    pthread_mutex_unlock(&log->mu);
    return count;
}
