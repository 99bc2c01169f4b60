/* The SQLite store: open (with the tail check and the tree rebuilt), the
 * writer thread (group commit, checkpoints, the witness), append, query,
 * subscribe, export. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
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
    audit_checkpoint_fn cp_fn;
    void *ctx;
};

/* What one writer hands to the writer thread, and gets back. It lives on the
 * writer's stack until done_sem is posted. */
struct append_req {
    struct prepared *p; /* n records, prepared (validated) by the caller */
    size_t n;
    bool want_checkpoint; /* audit_checkpoint / audit_close */
    /* Results, set by the writer thread before it posts done_sem. */
    int ret;
    struct error err;
    uint64_t first_seq;
    char first_prev[AUDIT_HASH_HEX_SIZE]; /* prev_hash of the first record */
    char (*hashes)[AUDIT_HASH_HEX_SIZE];
    struct checkpoint_made *checkpoint; /* signed in this request's batch, after its records */
    /* Posted by the writer thread when done: the caller sleeps on its own
     * semaphore, so waking it takes no shared lock. */
    sem_t done_sem;
    struct append_req *next;
};

struct checkpoint_made {
    uint64_t seq;
    int64_t time_ns;
    char head_hash[AUDIT_HASH_HEX_SIZE];
    char root_hash[AUDIT_HASH_HEX_SIZE];
    char signature[AUDIT_SIG_B64_SIZE];
    char *note;
};

struct audit_log {
    char *db_path;
    bool read_only;
    EVP_PKEY *key; /* writer only */
    char *pub_pem; /* writer only */
    char key_id[AUDIT_HASH_HEX_SIZE];
    uint32_t interval;
    int lock_fd;
    char *witness_path; /* the file checkpoints are appended to, or NULL */

    /* The writer connection and what goes with it: used by audit_open, then
     * only by the writer thread. */
    sqlite3 *db;
    sqlite3_stmt *st_insert;
    sqlite3_stmt *st_head;
    struct audit_merkle_range tree;

    /* mu guards the queue and the head. */
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    struct append_req *queue, *queue_tail;
    bool stopping;
    bool thread_started;
    pthread_t thread;
    uint64_t head_seq;
    char head_hash[AUDIT_HASH_HEX_SIZE];
    uint64_t checkpoint_seq; /* seq of the newest checkpoint, 0 = none */

    /* Readers: their own connection (WAL lets them run beside the writer). */
    pthread_mutex_t read_mu;
    sqlite3 *rdb;

    /* Subscribers, called in seq order by the appending threads. */
    pthread_mutex_t sub_mu;
    pthread_cond_t sub_cv;
    uint64_t notified_seq;
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
    "  key_id TEXT NOT NULL, signature TEXT NOT NULL,"
    "  root_hash TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '', tree_state BLOB);"
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

const char *audit_column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

void audit_record_from_row(sqlite3_stmt *st, struct audit_record *rec)
{
    sqlite3_int64 seq = sqlite3_column_int64(st, 0);
    rec->seq = seq > 0 ? (uint64_t)seq : 0;
    rec->time_ns = sqlite3_column_int64(st, 1);
    rec->session_id = audit_column_text(st, 2);
    rec->kind_name = audit_column_text(st, 3);
    rec->kind = audit_kind_from_name(rec->kind_name);
    rec->bundle_digest = audit_column_text(st, 4);
    rec->input_digest = audit_column_text(st, 5);
    rec->decision = audit_column_text(st, 6);
    rec->reasons_json = audit_column_text(st, 7);
    rec->details_json = audit_column_text(st, 8);
    rec->prev_hash = audit_column_text(st, 9);
    rec->hash = audit_column_text(st, 10);
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
    if (log->rdb != NULL)
        sqlite3_close(log->rdb);
    EVP_PKEY_free(log->key);
    free(log->pub_pem);
    free(log->subs);
    free(log->db_path);
    free(log->witness_path);
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->work_cv);
    pthread_mutex_destroy(&log->read_mu);
    pthread_mutex_destroy(&log->sub_mu);
    pthread_cond_destroy(&log->sub_cv);
    free(log);
}

bool audit_db_has_tree(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool yes = sqlite3_prepare_v2(db,
                                  "SELECT COUNT(*) FROM pragma_table_info('checkpoints')"
                                  " WHERE name IN ('root_hash', 'note', 'tree_state')",
                                  -1, &st, NULL) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 3;
    sqlite3_finalize(st);
    return yes;
}

int audit_log_read_begin(struct audit_log *log, sqlite3 **db)
{
    pthread_mutex_lock(&log->read_mu);
    *db = log->rdb;
    return 0;
}

void audit_log_read_end(struct audit_log *log)
{
    pthread_mutex_unlock(&log->read_mu);
}

EVP_PKEY *audit_log_key(struct audit_log *log)
{
    return log->key;
}

/* The log and its -wal and -shm files are the owner's alone (0600), whatever
 * the umask: SQLite creates the -wal and -shm files with the database's mode,
 * so the database is made (or narrowed to) 0600 before SQLite opens it. */
static int make_db_private(const char *db_path, struct error *err)
{
    cleanup_close int fd = open(db_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "opening the audit log %s", db_path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return error_set_errno(err, ERR_INTERNAL, "stat %s", db_path);
    if (!S_ISREG(st.st_mode))
        return error_set(err, ERR_FAILED_PRECONDITION, "%s is not a regular file", db_path);
    if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "chmod 600 %s", db_path);
    static const char *const sidecars[] = {"-wal", "-shm"};
    for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s%s", db_path, sidecars[i]);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
            chmod(path, 0600) < 0)
            return error_set_errno(err, ERR_FAILED_PRECONDITION, "chmod 600 %s", path);
    }
    return 0;
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
        *out = strdup(audit_column_text(st, 0));
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
        (!audit_db_has_tree(log->db) &&
         sql_exec(log->db,
                  /* A log from before the tree: its old checkpoints keep their
                   * chain signature only; new ones carry a root and a note. */
                  "ALTER TABLE checkpoints ADD COLUMN root_hash TEXT NOT NULL DEFAULT '';"
                  "ALTER TABLE checkpoints ADD COLUMN note TEXT NOT NULL DEFAULT '';"
                  "ALTER TABLE checkpoints ADD COLUMN tree_state BLOB;",
                  err) < 0) ||
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
        snprintf(cp_hash, sizeof(cp_hash), "%s", audit_column_text(st, 2));
        bool ok = cp_seq > 0 && audit_is_hex_hash(audit_column_text(st, 2)) &&
                  audit_checkpoint_signature_ok(log->key, cp_seq, cp_time, cp_hash,
                                                audit_column_text(st, 3));
        sqlite3_finalize(st);
        if (!ok)
            return damaged(log, err, cp_seq, "the newest checkpoint's signature does not verify");
    } else {
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return sql_error(err, db, rc, "reading checkpoints");
    }

    rc = sqlite3_prepare_v2(db, "SELECT " AUDIT_RECORD_COLUMNS " FROM records WHERE seq >= ? ORDER BY seq",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_error(err, db, rc, "reading records");
    uint64_t expected = cp_seq > 0 ? cp_seq : 1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)expected);
    char prev[AUDIT_HASH_HEX_SIZE] = "";
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_record rec;
        audit_record_from_row(st, &rec);
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

/* Rebuilds the in-memory tree: from the compact range stored with the newest
 * checkpoint (checked against its signed note) plus the records after it, or
 * from every record when the checkpoint has none (a log from before the
 * tree). */
static int load_tree(struct audit_log *log, struct error *err)
{
    sqlite3 *db = log->db;
    audit_merkle_range_init(&log->tree);
    uint64_t from = 0;
    bool have_root = false;
    uint8_t signed_root[AUDIT_MERKLE_HASH];
    sqlite3_stmt *st = NULL;
    if (log->checkpoint_seq > 0) {
        int rc = sqlite3_prepare_v2(db, "SELECT note, tree_state FROM checkpoints WHERE seq = ?", -1,
                                    &st, NULL);
        if (rc != SQLITE_OK)
            return sql_error(err, db, rc, "reading checkpoints");
        sqlite3_bind_int64(st, 1, (sqlite3_int64)log->checkpoint_seq);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) > 0) {
            const char *note = audit_column_text(st, 0);
            struct audit_note n;
            struct error nerr;
            if (audit_note_verify(log->key, note, strlen(note), &n, &nerr) < 0 ||
                n.size != log->checkpoint_seq) {
                sqlite3_finalize(st);
                return damaged(log, err, log->checkpoint_seq,
                               "the newest checkpoint's signed note does not verify");
            }
            memcpy(signed_root, n.root, AUDIT_MERKLE_HASH);
            have_root = true;
            struct audit_merkle_range r;
            uint8_t root[AUDIT_MERKLE_HASH];
            if (audit_merkle_range_load(&r, log->checkpoint_seq, sqlite3_column_blob(st, 1),
                                        (size_t)sqlite3_column_bytes(st, 1)) == 0) {
                audit_merkle_range_root(&r, root);
                if (memcmp(root, signed_root, AUDIT_MERKLE_HASH) == 0) {
                    log->tree = r;
                    from = log->checkpoint_seq;
                }
            }
        }
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return sql_error(err, db, rc, "reading checkpoints");
    }
    int rc = sqlite3_prepare_v2(db, "SELECT " AUDIT_RECORD_COLUMNS " FROM records WHERE seq > ? ORDER BY seq",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_error(err, db, rc, "reading records");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_record rec;
        audit_record_from_row(st, &rec);
        char chain[AUDIT_HASH_HEX_SIZE];
        uint8_t leaf[AUDIT_MERKLE_HASH];
        audit_record_hashes(&rec, chain, leaf);
        audit_merkle_range_append(&log->tree, leaf);
        if (have_root && log->tree.size == log->checkpoint_seq) {
            uint8_t root[AUDIT_MERKLE_HASH];
            audit_merkle_range_root(&log->tree, root);
            if (memcmp(root, signed_root, AUDIT_MERKLE_HASH) != 0) {
                sqlite3_finalize(st);
                return damaged(log, err, log->checkpoint_seq,
                               "the records do not hash to the newest checkpoint's signed root");
            }
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sql_error(err, db, rc, "reading records");
    if (log->tree.size != log->head_seq)
        return damaged(log, err, log->tree.size + 1, "the tree does not reach the head");
    return 0;
}

/* ---------------------------------------------------------------- witness */

static int witness_resolve(const char *given, char **out, struct error *err)
{
    struct stat st;
    char path[4200];
    if (stat(given, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((size_t)snprintf(path, sizeof(path), "%s/audit-checkpoints.jsonl", given) >= sizeof(path))
            return error_set(err, ERR_INVALID_ARGUMENT, "audit witness path too long");
    } else {
        snprintf(path, sizeof(path), "%s", given);
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "audit witness %s", path);
    close(fd);
    *out = strdup(path);
    return *out ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
}

/* Appends one checkpoint as a JSON line and fsyncs it. A failure is logged,
 * not returned: the records are durable either way. */
static void witness_append(struct audit_log *log, uint64_t size, const char *root_hash,
                           const char *note)
{
    if (log->witness_path == NULL)
        return;
    json_t *o = json_pack("{s:I, s:s, s:s}", "tree_size", (json_int_t)size, "root_hash", root_hash,
                          "note", note);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    int fd = line ? open(log->witness_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    bool ok = false;
    if (fd >= 0) {
        size_t len = strlen(line);
        line[len] = '\n'; /* json_dumps left room: the NUL */
        ok = write(fd, line, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
        close(fd);
    }
    if (!ok)
        log_warn("audit: could not append checkpoint %" PRIu64 " to the witness %s: %s", size,
                 log->witness_path, strerror(errno));
    free(line);
}

static void witness_newest(struct audit_log *log)
{
    if (log->witness_path == NULL || log->checkpoint_seq == 0)
        return;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(log->db, "SELECT root_hash, note FROM checkpoints WHERE seq = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)log->checkpoint_seq);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) > 0)
            witness_append(log, log->checkpoint_seq, audit_column_text(st, 0), audit_column_text(st, 1));
    }
    sqlite3_finalize(st);
}

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

static void *writer_main(void *arg);
static int commit_now(struct audit_log *log, bool force_checkpoint, struct error *err);

static int open_reader(struct audit_log *log, struct error *err)
{
    int rc = sqlite3_open_v2(log->db_path, &log->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK)
        return error_set(err, rc == SQLITE_CANTOPEN ? ERR_NOT_FOUND : ERR_INTERNAL,
                         "opening the audit log %s: %s", log->db_path,
                         log->rdb ? sqlite3_errmsg(log->rdb) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(log->rdb, BUSY_TIMEOUT_MS);
    return 0;
}

int audit_open(const char *db_path, const char *key_dir, const struct audit_options *opts,
               struct audit_log **out, struct error *err)
{
    struct audit_log *log = calloc(1, sizeof(*log));
    if (log == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->work_cv, NULL);
    pthread_mutex_init(&log->read_mu, NULL);
    pthread_mutex_init(&log->sub_mu, NULL);
    pthread_cond_init(&log->sub_cv, NULL);
    log->lock_fd = -1;
    log->read_only = opts != NULL && opts->read_only;
    log->interval = opts != NULL && opts->checkpoint_interval > 0 ? opts->checkpoint_interval
                                                                  : DEFAULT_CHECKPOINT_INTERVAL;
    log->db_path = strdup(db_path);
    if (log->db_path == NULL) {
        log_free(log);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }

    if (log->read_only) {
        if (open_reader(log, err) < 0) {
            log_free(log);
            return -1;
        }
        cleanup_free char *format = NULL;
        if (meta_get(log->rdb, "format", &format, err) < 0 || format == NULL ||
            strcmp(format, AUDIT_FORMAT) != 0) {
            if (format == NULL || strcmp(format, AUDIT_FORMAT) != 0)
                error_set(err, ERR_FAILED_PRECONDITION, "%s is not an Enclave audit log", db_path);
            log_free(log);
            return -1;
        }
        *out = log;
        return 0;
    }

    char dir[4096];
    if (key_dir == NULL) {
        log_free(log);
        return error_set(err, ERR_INVALID_ARGUMENT, "a key folder is needed to write a log");
    }
    if (parent_dir(db_path, dir, sizeof(dir)) < 0 || paths_mkdir_p(dir, 0700, err) < 0 ||
        take_writer_lock(log, err) < 0 ||
        audit_keys_load_or_create(key_dir, &log->key, &log->pub_pem, log->key_id, err) < 0 ||
        (opts != NULL && opts->witness_path != NULL &&
         witness_resolve(opts->witness_path, &log->witness_path, err) < 0)) {
        log_free(log);
        return error_prefix(err, "opening the audit log");
    }

    if (make_db_private(db_path, err) < 0) {
        log_free(log);
        return -1;
    }
    int rc = sqlite3_open_v2(db_path, &log->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        error_set(err, rc == SQLITE_CANTOPEN ? ERR_NOT_FOUND : ERR_INTERNAL,
                  "opening the audit log %s: %s", db_path,
                  log->db ? sqlite3_errmsg(log->db) : sqlite3_errstr(rc));
        log_free(log);
        return -1;
    }
    sqlite3_busy_timeout(log->db, BUSY_TIMEOUT_MS);

    /* journal_mode answers with the mode in force; anything but "wal" means
     * the durability and reader guarantees would not hold. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(log->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    bool wal = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
               strcmp(audit_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        error_set(err, ERR_FAILED_PRECONDITION, "cannot put %s into WAL mode: %s", db_path,
                  sqlite3_errmsg(log->db));
        log_free(log);
        return -1;
    }
    if (sql_exec(log->db, "PRAGMA synchronous=FULL", err) < 0 || create_schema(log, err) < 0 ||
        check_tail(log, err) < 0 || load_tree(log, err) < 0 || open_reader(log, err) < 0) {
        log_free(log);
        return -1;
    }
    rc = sqlite3_prepare_v2(log->db,
                            "INSERT INTO records (" AUDIT_RECORD_COLUMNS
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
    log->notified_seq = log->head_seq;
    if (log->head_seq > log->checkpoint_seq) {
        log_warn("audit: %s was not closed cleanly; signing a checkpoint over its head (seq %" PRIu64
                 ")",
                 db_path, log->head_seq);
        if (commit_now(log, true, err) < 0) {
            log_free(log);
            return -1;
        }
    } else {
        witness_newest(log);
    }
    rc = pthread_create(&log->thread, NULL, writer_main, log);
    if (rc != 0) {
        errno = rc;
        error_set_errno(err, ERR_RESOURCE_EXHAUSTED, "starting the audit writer thread");
        log_free(log);
        return -1;
    }
    log->thread_started = true;
    *out = log;
    return 0;
}

static int submit(struct audit_log *log, struct append_req *req, struct error *err);

int audit_close(struct audit_log *log, struct error *err)
{
    if (log == NULL)
        return 0;
    int ret = 0;
    if (log->thread_started) {
        /* The last request: sign a checkpoint over the head, then stop. */
        struct append_req req = {.want_checkpoint = true};
        ret = submit(log, &req, err);
        pthread_mutex_lock(&log->mu);
        log->stopping = true;
        pthread_cond_signal(&log->work_cv);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->thread, NULL);
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
        hash = audit_column_text(st, 1);
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

/* ---------------------------------------------------------------- the writer thread
 *
 * Group commit: writers queue their (already validated) records; the writer
 * thread takes everything queued, writes it in one transaction with one
 * fsync, signs a checkpoint into the same transaction when one is due, and
 * only then wakes each writer. A writer is acknowledged only after its
 * records are durable; a failed transaction fails every writer in it and
 * changes nothing. */

/* Most records in one transaction (a bound on how long one commit takes). */
#define MAX_GROUP_RECORDS 8192

static int make_checkpoint(struct audit_log *log, uint64_t seq, const char *head_hash,
                           const struct audit_merkle_range *tree, struct checkpoint_made **out,
                           struct error *err)
{
    struct checkpoint_made *cp = calloc(1, sizeof(*cp));
    if (cp == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    cp->seq = seq;
    cp->time_ns = now_ns();
    memcpy(cp->head_hash, head_hash, AUDIT_HASH_HEX_SIZE);
    uint8_t root[AUDIT_MERKLE_HASH];
    audit_merkle_range_root(tree, root);
    encode_hex(root, AUDIT_MERKLE_HASH, cp->root_hash);
    if (audit_checkpoint_sign(log->key, seq, cp->time_ns, head_hash, cp->signature, err) < 0 ||
        audit_note_sign(log->key, seq, root, cp->time_ns, &cp->note, err) < 0) {
        free(cp);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(log->db,
                                "INSERT INTO checkpoints (seq, time_ns, head_hash, key_id, signature,"
                                " root_hash, note, tree_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
        sqlite3_bind_int64(st, 2, cp->time_ns);
        sqlite3_bind_text(st, 3, cp->head_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, log->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, cp->signature, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, cp->root_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, cp->note, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 8, tree->hashes, (int)(tree->count * AUDIT_MERKLE_HASH),
                          SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sql_error(err, log->db, rc, "writing a checkpoint");
        free(cp->note);
        free(cp);
        return -1;
    }
    *out = cp;
    return 0;
}

static void checkpoint_made_free(struct checkpoint_made *cp)
{
    if (cp != NULL)
        free(cp->note);
    free(cp);
}

/* Writes the requests from first up to (not including) end in one
 * transaction. Runs in the writer thread (or in audit_open before it starts). */
static int commit_group(struct audit_log *log, struct append_req *first, struct append_req *end,
                        bool force_checkpoint, struct checkpoint_made **cp_out, struct error *err)
{
    uint64_t seq = log->head_seq;
    char prev[AUDIT_HASH_HEX_SIZE];
    memcpy(prev, log->head_hash, AUDIT_HASH_HEX_SIZE);
    struct audit_merkle_range tree = log->tree;
    bool want_cp = force_checkpoint;
    size_t total = 0;
    for (struct append_req *r = first; r != end; r = r->next) {
        total += r->n;
        want_cp |= r->want_checkpoint;
    }
    *cp_out = NULL;
    if (total == 0 && !(want_cp && seq > log->checkpoint_seq))
        return 0;

    if (sql_exec(log->db, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    if (head_unchanged(log, err) < 0)
        goto rollback;
    for (struct append_req *r = first; r != end; r = r->next) {
        r->first_seq = seq + 1;
        memcpy(r->first_prev, prev, AUDIT_HASH_HEX_SIZE);
        for (size_t i = 0; i < r->n; i++) {
            struct audit_record rec;
            uint8_t leaf[AUDIT_MERKLE_HASH];
            prepared_record(&r->p[i], ++seq, prev, &rec);
            audit_record_hashes(&rec, r->hashes[i], leaf);
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
            sqlite3_bind_text(st, 11, r->hashes[i], -1, SQLITE_STATIC);
            int rc = sqlite3_step(st);
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            if (rc != SQLITE_DONE) {
                sql_error(err, log->db, rc, "appending an audit record");
                goto rollback;
            }
            audit_merkle_range_append(&tree, leaf);
            memcpy(prev, r->hashes[i], AUDIT_HASH_HEX_SIZE);
        }
    }
    struct checkpoint_made *cp = NULL;
    if (seq > log->checkpoint_seq && (want_cp || seq - log->checkpoint_seq >= log->interval) &&
        make_checkpoint(log, seq, prev, &tree, &cp, err) < 0) {
        if (want_cp)
            goto rollback;
        /* A due checkpoint that failed: the records go in, the checkpoint
         * is tried again with the next group and at close. */
        log_warn("audit: checkpoint failed: %s", err->message);
    }
    /* With WAL and synchronous=FULL the commit returns after the WAL is fsynced. */
    if (sql_exec(log->db, "COMMIT", err) < 0) {
        checkpoint_made_free(cp);
        goto rollback;
    }
    pthread_mutex_lock(&log->mu);
    log->head_seq = seq;
    memcpy(log->head_hash, prev, AUDIT_HASH_HEX_SIZE);
    if (cp != NULL)
        log->checkpoint_seq = cp->seq;
    pthread_mutex_unlock(&log->mu);
    log->tree = tree;
    if (cp != NULL)
        witness_append(log, cp->seq, cp->root_hash, cp->note);
    *cp_out = cp;
    return 0;

rollback:
    sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int commit_now(struct audit_log *log, bool force_checkpoint, struct error *err)
{
    struct checkpoint_made *cp = NULL;
    int ret = commit_group(log, NULL, NULL, force_checkpoint, &cp, err);
    checkpoint_made_free(cp);
    return ret;
}

static void *writer_main(void *arg)
{
    struct audit_log *log = arg;
    pthread_mutex_lock(&log->mu);
    for (;;) {
        while (log->queue == NULL && !log->stopping)
            pthread_cond_wait(&log->work_cv, &log->mu);
        if (log->queue == NULL)
            break;
        /* Take a group: everything queued, up to MAX_GROUP_RECORDS records
         * (always at least one request). */
        struct append_req *first = log->queue, *end = first;
        size_t n = 0;
        do {
            n += end->n;
            end = end->next;
        } while (end != NULL && n + end->n <= MAX_GROUP_RECORDS);
        log->queue = end;
        if (end == NULL)
            log->queue_tail = NULL;
        pthread_mutex_unlock(&log->mu);

        struct error err;
        struct checkpoint_made *cp = NULL;
        int ret = commit_group(log, first, end, false, &cp, &err);

        struct append_req *last = NULL;
        for (struct append_req *r = first; r != end; r = r->next)
            last = r;
        for (struct append_req *r = first; r != end;) {
            struct append_req *next = r->next; /* r may go away once posted */
            r->ret = ret;
            if (ret < 0)
                r->err = err;
            if (r == last)
                r->checkpoint = cp;
            sem_post(&r->done_sem);
            r = next;
        }
        pthread_mutex_lock(&log->mu);
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

/* Calls the subscribers for req's records and checkpoint, in seq order
 * across all appending threads: each waits until every record before its
 * own has been delivered. */
static void notify_in_order(struct audit_log *log, struct append_req *req)
{
    /* Nobody listens: no lock at all (the common case for many writers).
     * audit_subscribe moves notified_seq up to the head, so that the
     * ordering below never waits for records nobody delivered. */
    if (__atomic_load_n(&log->nsubs, __ATOMIC_ACQUIRE) == 0)
        return;
    pthread_mutex_lock(&log->sub_mu);
    uint64_t last = req->n > 0 ? req->first_seq + req->n - 1 : 0;
    uint64_t upto = req->n > 0 ? req->first_seq - 1 : req->checkpoint ? req->checkpoint->seq : 0;
    while (log->notified_seq < upto)
        pthread_cond_wait(&log->sub_cv, &log->sub_mu);
    for (size_t i = 0; i < req->n; i++) {
        struct audit_record rec;
        prepared_record(&req->p[i], req->first_seq + i, i == 0 ? req->first_prev : req->hashes[i - 1],
                        &rec);
        rec.hash = req->hashes[i];
        for (size_t s = 0; s < log->nsubs; s++)
            if (log->subs[s].fn != NULL)
                log->subs[s].fn(&rec, log->subs[s].ctx);
    }
    if (req->checkpoint != NULL) {
        const struct checkpoint_made *m = req->checkpoint;
        struct audit_checkpoint cp = {
            .tree_size = m->seq,
            .time_ns = m->time_ns,
            .head_hash = m->head_hash,
            .root_hash = m->root_hash,
            .key_id = log->key_id,
            .signature = m->signature,
            .note = m->note,
        };
        for (size_t s = 0; s < log->nsubs; s++)
            if (log->subs[s].cp_fn != NULL)
                log->subs[s].cp_fn(&cp, log->subs[s].ctx);
    }
    if (last > log->notified_seq)
        log->notified_seq = last;
    pthread_cond_broadcast(&log->sub_cv);
    pthread_mutex_unlock(&log->sub_mu);
}

/* Queues req, waits until the writer thread has committed it (or failed),
 * then delivers it to the subscribers. */
static int submit(struct audit_log *log, struct append_req *req, struct error *err)
{
    sem_init(&req->done_sem, 0, 0);
    pthread_mutex_lock(&log->mu);
    if (log->stopping) {
        pthread_mutex_unlock(&log->mu);
        sem_destroy(&req->done_sem);
        return error_set(err, ERR_FAILED_PRECONDITION, "the audit log is closing");
    }
    req->next = NULL;
    if (log->queue_tail != NULL) {
        log->queue_tail->next = req;
    } else {
        log->queue = req;
        pthread_cond_signal(&log->work_cv); /* the writer waits only on an empty queue */
    }
    log->queue_tail = req;
    pthread_mutex_unlock(&log->mu);
    while (sem_wait(&req->done_sem) < 0 && errno == EINTR)
        ;
    sem_destroy(&req->done_sem);
    if (req->ret < 0) {
        if (err != NULL)
            *err = req->err;
        return -1;
    }
    notify_in_order(log, req);
    checkpoint_made_free(req->checkpoint);
    req->checkpoint = NULL;
    return 0;
}

static int append_records(struct audit_log *log, const struct audit_record_in *ins, size_t n,
                          struct audit_record_out *outs, struct error *err)
{
    if (log->read_only)
        return error_set(err, ERR_FAILED_PRECONDITION, "the audit log is open read-only");
    if (n == 0)
        return 0;
    if (n > 100000)
        return error_set(err, ERR_INVALID_ARGUMENT, "audit: batch of %zu records is too large", n);
    struct prepared one_p;
    char one_hash[1][AUDIT_HASH_HEX_SIZE];
    struct prepared *p = n == 1 ? &one_p : calloc(n, sizeof(*p));
    char (*hashes)[AUDIT_HASH_HEX_SIZE] = n == 1 ? one_hash : calloc(n, AUDIT_HASH_HEX_SIZE);
    int ret = -1;
    size_t prepared_n = 0;
    if (p == NULL || hashes == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    /* Validation and canonical JSON happen here, in the caller's thread, so
     * that a bad record fails alone and the writer thread only writes. */
    for (; prepared_n < n; prepared_n++)
        if (prepare(&ins[prepared_n], &p[prepared_n], err) < 0)
            goto out;
    struct append_req req = {.p = p, .n = n, .hashes = hashes};
    if (submit(log, &req, err) < 0)
        goto out;
    if (outs != NULL)
        for (size_t i = 0; i < n; i++) {
            outs[i].seq = req.first_seq + i;
            memcpy(outs[i].hash, hashes[i], AUDIT_HASH_HEX_SIZE);
        }
    ret = 0;
out:
    if (p != NULL)
        prepared_release(p, prepared_n);
    if (n != 1) {
        free(p);
        free(hashes);
    }
    return ret;
}

int audit_append(struct audit_log *log, const struct audit_record_in *in,
                 struct audit_record_out *out, struct error *err)
{
    return append_records(log, in, 1, out, err);
}

int audit_append_batch(struct audit_log *log, const struct audit_record_in *ins, size_t n,
                       struct audit_record_out *outs, struct error *err)
{
    return append_records(log, ins, n, outs, err);
}

int audit_checkpoint(struct audit_log *log, struct error *err)
{
    if (log->read_only)
        return error_set(err, ERR_FAILED_PRECONDITION, "the audit log is open read-only");
    struct append_req req = {.want_checkpoint = true};
    return submit(log, &req, err);
}

int audit_head(struct audit_log *log, uint64_t *seq, char hash[AUDIT_HASH_HEX_SIZE],
               struct error *err)
{
    int ret = 0;
    if (log->read_only) {
        pthread_mutex_lock(&log->read_mu);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(log->rdb, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
                                    -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *seq = (uint64_t)sqlite3_column_int64(st, 0);
            snprintf(hash, AUDIT_HASH_HEX_SIZE, "%s", audit_column_text(st, 1));
        } else if (rc == SQLITE_DONE) {
            *seq = 0;
            memcpy(hash, AUDIT_ZERO_HASH, AUDIT_HASH_HEX_SIZE);
        } else {
            ret = sql_error(err, log->rdb, rc, "reading the head");
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&log->read_mu);
    } else {
        pthread_mutex_lock(&log->mu);
        *seq = log->head_seq;
        memcpy(hash, log->head_hash, AUDIT_HASH_HEX_SIZE);
        pthread_mutex_unlock(&log->mu);
    }
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
             "%sSELECT " AUDIT_RECORD_COLUMNS " FROM records WHERE seq > ?1 AND time_ns >= ?2%s"
             " ORDER BY seq %s LIMIT ?4%s",
             last ? "SELECT * FROM (" : "", filter->session_id ? " AND session = ?3" : "",
             last ? "DESC" : "ASC", last ? ") ORDER BY seq ASC" : "");
    pthread_mutex_lock(&log->read_mu);
    sqlite3_stmt *st = NULL;
    int64_t count = 0;
    int rc = sqlite3_prepare_v2(log->rdb, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        count = sql_error(err, log->rdb, rc, "querying the audit log");
        goto out;
    }
    sqlite3_bind_int64(st, 1, filter->after_seq > INT64_MAX ? INT64_MAX : (sqlite3_int64)filter->after_seq);
    sqlite3_bind_int64(st, 2, filter->since_ns);
    if (filter->session_id)
        sqlite3_bind_text(st, 3, filter->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, filter->limit > 0 ? (sqlite3_int64)filter->limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_record rec;
        audit_record_from_row(st, &rec);
        count++;
        if (fn(&rec, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        count = sql_error(err, log->rdb, rc, "querying the audit log");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&log->read_mu);
    return count;
}

static int subscribe(struct audit_log *log, audit_record_fn fn, audit_checkpoint_fn cp_fn, void *ctx,
                     struct error *err)
{
    pthread_mutex_lock(&log->sub_mu);
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
    log->subs[log->nsubs] = (struct subscriber){id, fn, cp_fn, ctx};
    __atomic_store_n(&log->nsubs, log->nsubs + 1, __ATOMIC_RELEASE);
    /* Appends acknowledged before now are not delivered to this subscriber
     * in order (nobody was listening): start the ordering at the head. */
    pthread_mutex_lock(&log->mu);
    if (log->head_seq > log->notified_seq)
        log->notified_seq = log->head_seq;
    pthread_mutex_unlock(&log->mu);
out:
    pthread_mutex_unlock(&log->sub_mu);
    return id;
}

int audit_subscribe(struct audit_log *log, audit_record_fn fn, void *ctx, struct error *err)
{
    return subscribe(log, fn, NULL, ctx, err);
}

int audit_subscribe_checkpoints(struct audit_log *log, audit_checkpoint_fn fn, void *ctx,
                                struct error *err)
{
    return subscribe(log, NULL, fn, ctx, err);
}

void audit_unsubscribe(struct audit_log *log, int id)
{
    pthread_mutex_lock(&log->sub_mu);
    for (size_t i = 0; i < log->nsubs; i++) {
        if (log->subs[i].id != id)
            continue;
        memmove(&log->subs[i], &log->subs[i + 1], (log->nsubs - i - 1) * sizeof(*log->subs));
        __atomic_store_n(&log->nsubs, log->nsubs - 1, __ATOMIC_RELEASE);
        break;
    }
    pthread_mutex_unlock(&log->sub_mu);
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
    /* The RFC 6962 leaf hash, for checking inclusion proofs against. */
    char chain[AUDIT_HASH_HEX_SIZE], leaf_hex[AUDIT_HASH_HEX_SIZE];
    uint8_t leaf[AUDIT_MERKLE_HASH];
    audit_record_hashes(rec, chain, leaf);
    encode_hex(leaf, AUDIT_MERKLE_HASH, leaf_hex);
    bad |= json_object_set_new(o, "leaf_hash", json_string(leaf_hex));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int audit_checkpoint_to_json(const struct audit_checkpoint *cp, char **out, struct error *err)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "type", "checkpoint", "seq",
                          (json_int_t)cp->tree_size, "time_ns", (json_int_t)cp->time_ns, "head_hash",
                          cp->head_hash, "key_id", cp->key_id, "signature", cp->signature,
                          "root_hash", cp->root_hash, "note", cp->note);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (s == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "checkpoint %" PRIu64 " cannot be written",
                         cp->tree_size);
    *out = s;
    return 0;
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
    bad |= json_object_set_new(o, "head_hash", json_string(audit_column_text(st, 2)));
    bad |= json_object_set_new(o, "key_id", json_string(audit_column_text(st, 3)));
    bad |= json_object_set_new(o, "signature", json_string(audit_column_text(st, 4)));
    if (sqlite3_column_bytes(st, 6) > 0) {
        bad |= json_object_set_new(o, "root_hash", json_string(audit_column_text(st, 5)));
        bad |= json_object_set_new(o, "note", json_string(audit_column_text(st, 6)));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int64_t audit_export_jsonl(struct audit_log *log, FILE *out, struct error *err)
{
    pthread_mutex_lock(&log->read_mu);
    sqlite3_stmt *recs = NULL, *cps = NULL;
    int64_t count = -1;
    char *pub = NULL, *key_id = NULL;
    bool in_txn = false;
    /* One read transaction: a consistent snapshot while the writer goes on. */
    if (sql_exec(log->rdb, "BEGIN", err) < 0)
        goto out;
    in_txn = true;
    if (meta_get(log->rdb, "public_key", &pub, err) < 0 || meta_get(log->rdb, "key_id", &key_id, err) < 0)
        goto out;
    int rc = sqlite3_prepare_v2(log->rdb, "SELECT " AUDIT_RECORD_COLUMNS " FROM records ORDER BY seq", -1,
                                &recs, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(log->rdb,
                                audit_db_has_tree(log->rdb)
                                    ? "SELECT seq, time_ns, head_hash, key_id, signature, root_hash,"
                                      " note FROM checkpoints ORDER BY seq"
                                    : "SELECT seq, time_ns, head_hash, key_id, signature, '', ''"
                                      " FROM checkpoints ORDER BY seq",
                                -1, &cps, NULL);
    if (rc != SQLITE_OK) {
        sql_error(err, log->rdb, rc, "exporting the audit log");
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
        audit_record_from_row(recs, &rec);
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
        sql_error(err, log->rdb, rc != SQLITE_DONE ? rc : cp_rc, "exporting the audit log");
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
        sqlite3_exec(log->rdb, "COMMIT", NULL, NULL, NULL);
    free(pub);
    free(key_id);
    pthread_mutex_unlock(&log->read_mu);
    return count;
}
