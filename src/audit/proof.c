/* Inclusion and consistency proofs as JSON documents, their verification
 * without the database, and the witness check (a log against checkpoints
 * kept elsewhere). Proof documents and witness files are hostile input. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit_internal.h"
#include "common/cleanup.h"
#include "common/file.h"

#define MAX_PROOF_FILE (1024 * 1024)

/* ---------------------------------------------------------------- reading the tree */

struct tree_read {
    uint8_t (*leaves)[AUDIT_MERKLE_HASH];
    uint64_t n;
    /* The wanted record (want_seq > 0), as JSON and as leaf bytes. */
    uint64_t want_seq;
    json_t *record;
    unsigned char *leaf;
    size_t leaf_len;
};

static void tree_read_release(struct tree_read *t)
{
    free(t->leaves);
    json_decref(t->record);
    free(t->leaf);
}

static json_t *record_object(const struct audit_record *rec)
{
    return json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type", "record",
                     "seq", (json_int_t)rec->seq, "time_ns", (json_int_t)rec->time_ns, "session",
                     rec->session_id, "kind", rec->kind_name, "bundle_digest", rec->bundle_digest,
                     "input_digest", rec->input_digest, "decision", rec->decision, "reasons",
                     rec->reasons_json, "details", rec->details_json, "prev_hash", rec->prev_hash,
                     "hash", rec->hash);
}

/* Leaf hashes of records 1..size (exactly; fewer present is an error). */
static int read_leaves(sqlite3 *db, uint64_t size, struct tree_read *t, struct error *err)
{
    t->leaves = size > 0 ? malloc(size * AUDIT_MERKLE_HASH) : NULL;
    if (size > 0 && t->leaves == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory for %" PRIu64 " leaves", size);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT " AUDIT_RECORD_COLUMNS " FROM records WHERE seq <= ? ORDER BY seq",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return error_set(err, ERR_DATA_LOSS, "reading records: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_record rec = {0};
        audit_record_from_row(st, &rec);
        if (rec.seq != t->n + 1) {
            ret = error_set(err, ERR_DATA_LOSS,
                            "record %" PRIu64 " is missing (run 'enclave audit verify')", t->n + 1);
            break;
        }
        char chain[AUDIT_HASH_HEX_SIZE];
        audit_record_hashes(&rec, chain, t->leaves[t->n]);
        t->n++;
        if (rec.seq == t->want_seq) {
            t->record = record_object(&rec);
            if (t->record == NULL || audit_record_leaf(&rec, &t->leaf, &t->leaf_len, err) < 0) {
                ret = error_set(err, ERR_DATA_LOSS, "record %" PRIu64 " cannot be encoded", rec.seq);
                break;
            }
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = error_set(err, ERR_DATA_LOSS, "reading records: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (ret == 0 && t->n != size)
        ret = error_set(err, ERR_DATA_LOSS,
                        "the log has %" PRIu64 " records, fewer than the tree size %" PRIu64, t->n,
                        size);
    return ret;
}

/* The checkpoint note of exactly `size`, or (size 0) the newest one whose
 * size is at least min_size. Returns 1 found, 0 not found, <0 error. */
static int find_checkpoint(sqlite3 *db, uint64_t size, uint64_t min_size, uint64_t *found_size,
                           char **note, struct error *err)
{
    if (!audit_db_has_tree(db))
        return 0;
    sqlite3_stmt *st = NULL;
    const char *sql = size > 0 ? "SELECT seq, note FROM checkpoints WHERE seq = ?1 AND note != ''"
                               : "SELECT seq, note FROM checkpoints WHERE seq >= ?1 AND note != ''"
                                 " ORDER BY seq DESC LIMIT 1";
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return error_set(err, ERR_DATA_LOSS, "reading checkpoints: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(size > 0 ? size : min_size));
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        *found_size = (uint64_t)sqlite3_column_int64(st, 0);
        *note = strdup(audit_column_text(st, 1));
        ret = *note ? 1 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    } else if (rc != SQLITE_DONE) {
        ret = error_set(err, ERR_DATA_LOSS, "reading checkpoints: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return ret;
}

/* find_checkpoint for a proof, which needs one: not found is ERR_NOT_FOUND,
 * worded "no signed checkpoint <uncovered> <min_size><why>" when size is 0. */
static int need_checkpoint(sqlite3 *db, uint64_t size, uint64_t min_size, uint64_t *found_size,
                           char **note, const char *uncovered, const char *why, struct error *err)
{
    int found = find_checkpoint(db, size, min_size, found_size, note, err);
    if (found != 0)
        return found < 0 ? -1 : 0;
    if (size > 0)
        return error_set(err, ERR_NOT_FOUND, "no signed checkpoint at tree size %" PRIu64, size);
    return error_set(err, ERR_NOT_FOUND, "no signed checkpoint %s %" PRIu64 "%s", uncovered, min_size,
                     why);
}

/* The log's read connection, in one read transaction (a consistent
 * snapshot) until snapshot_end, which also frees what was read. */
static int snapshot_begin(struct audit_log *log, sqlite3 **db, struct error *err)
{
    audit_log_read_begin(log, db);
    if (sqlite3_exec(*db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        error_set(err, ERR_UNAVAILABLE, "reading the log: %s", sqlite3_errmsg(*db));
        audit_log_read_end(log);
        return -1;
    }
    return 0;
}

static void snapshot_end(struct audit_log *log, sqlite3 *db, struct tree_read *t)
{
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    audit_log_read_end(log);
    tree_read_release(t);
}

/* The note's root must be the root of the leaves read: a proof is never
 * made from a log that does not match its own signed checkpoint. */
static int check_note_root(const char *note, const uint8_t root[AUDIT_MERKLE_HASH], uint64_t size,
                           struct error *err)
{
    struct audit_note n;
    if (audit_note_parse(note, strlen(note), &n, err) < 0)
        return -1;
    if (n.size != size || memcmp(n.root, root, AUDIT_MERKLE_HASH) != 0)
        return error_set(err, ERR_DATA_LOSS,
                         "records 1..%" PRIu64 " do not hash to the root their checkpoint signed "
                         "(run 'enclave audit verify')",
                         size);
    return 0;
}

static json_t *hex_array(const uint8_t (*hashes)[AUDIT_MERKLE_HASH], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        char hex[AUDIT_HASH_HEX_SIZE];
        encode_hex(hashes[i], AUDIT_MERKLE_HASH, hex);
        if (json_array_append_new(a, json_string(hex)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int dump(json_t *o, char **out, struct error *err)
{
    *out = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    return *out ? 0 : error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory writing the proof");
}

int audit_proof_inclusion(struct audit_log *log, uint64_t seq, uint64_t tree_size, char **out,
                          struct error *err)
{
    if (seq == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "records are numbered from 1");
    if (tree_size != 0 && tree_size < seq)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "record %" PRIu64 " is not in a tree of %" PRIu64 " records", seq,
                         tree_size);
    sqlite3 *db;
    struct tree_read t = {.want_seq = seq};
    cleanup_free char *note = NULL;
    cleanup_free char *leaf_b64 = NULL;
    uint64_t size = 0;
    int ret = -1;
    if (snapshot_begin(log, &db, err) < 0)
        return -1;
    if (need_checkpoint(db, tree_size, seq, &size, &note, "covers record",
                        " yet (one is signed every N records, and when the daemon stops)", err) < 0)
        goto out;
    if (read_leaves(db, size, &t, err) < 0)
        goto out;
    uint8_t root[AUDIT_MERKLE_HASH];
    audit_merkle_root((const uint8_t(*)[AUDIT_MERKLE_HASH])t.leaves, size, root);
    if (check_note_root(note, root, size, err) < 0)
        goto out;
    uint8_t path[AUDIT_MERKLE_MAX_PROOF][AUDIT_MERKLE_HASH];
    size_t plen = 0;
    audit_merkle_inclusion_proof((const uint8_t(*)[AUDIT_MERKLE_HASH])t.leaves, size, seq - 1, path,
                                 &plen);
    char root_hex[AUDIT_HASH_HEX_SIZE], leaf_hex[AUDIT_HASH_HEX_SIZE];
    encode_hex(root, AUDIT_MERKLE_HASH, root_hex);
    encode_hex(t.leaves[seq - 1], AUDIT_MERKLE_HASH, leaf_hex);
    leaf_b64 = encode_base64(t.leaf, t.leaf_len);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s*, s:s, s:o*, s:s, s:s, s:O}", "type",
                          "inclusion_proof", "format", AUDIT_FORMAT, "leaf_index",
                          (json_int_t)(seq - 1), "tree_size", (json_int_t)size, "leaf", leaf_b64,
                          "leaf_hash", leaf_hex, "hashes", hex_array((const uint8_t(*)[32])path, plen),
                          "root_hash", root_hex, "checkpoint", note, "record", t.record);
    ret = dump(o, out, err);
out:
    snapshot_end(log, db, &t);
    return ret;
}

int audit_proof_consistency(struct audit_log *log, uint64_t old_size, uint64_t new_size, char **out,
                            struct error *err)
{
    if (old_size == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "the old tree size must be at least 1");
    if (new_size != 0 && new_size < old_size)
        return error_set(err, ERR_INVALID_ARGUMENT, "the new size is smaller than the old one");
    sqlite3 *db;
    struct tree_read t = {0};
    cleanup_free char *new_note = NULL;
    cleanup_free char *old_note = NULL;
    uint64_t size = 0, old_found = 0;
    int ret = -1;
    if (snapshot_begin(log, &db, err) < 0)
        return -1;
    if (need_checkpoint(db, new_size, old_size, &size, &new_note, "at or after tree size", "", err) < 0)
        goto out;
    if (find_checkpoint(db, old_size, 0, &old_found, &old_note, err) < 0)
        goto out;
    if (read_leaves(db, size, &t, err) < 0)
        goto out;
    const uint8_t(*leaves)[AUDIT_MERKLE_HASH] = (const uint8_t(*)[AUDIT_MERKLE_HASH])t.leaves;
    uint8_t root[AUDIT_MERKLE_HASH], old_root[AUDIT_MERKLE_HASH];
    audit_merkle_root(leaves, size, root);
    audit_merkle_root(leaves, old_size, old_root);
    if (check_note_root(new_note, root, size, err) < 0 ||
        (old_note != NULL && check_note_root(old_note, old_root, old_size, err) < 0))
        goto out;
    uint8_t path[AUDIT_MERKLE_MAX_PROOF][AUDIT_MERKLE_HASH];
    size_t plen = 0;
    audit_merkle_consistency_proof(leaves, size, old_size, path, &plen);
    char root_hex[AUDIT_HASH_HEX_SIZE], old_hex[AUDIT_HASH_HEX_SIZE];
    encode_hex(root, AUDIT_MERKLE_HASH, root_hex);
    encode_hex(old_root, AUDIT_MERKLE_HASH, old_hex);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:o*, s:s, s:s*}", "type",
                          "consistency_proof", "format", AUDIT_FORMAT, "old_size",
                          (json_int_t)old_size, "new_size", (json_int_t)size, "old_root_hash", old_hex,
                          "new_root_hash", root_hex, "hashes",
                          hex_array((const uint8_t(*)[32])path, plen), "new_checkpoint", new_note,
                          "old_checkpoint", old_note);
    ret = dump(o, out, err);
out:
    snapshot_end(log, db, &t);
    return ret;
}

/* ---------------------------------------------------------------- verifying a proof */

static bool proof_fail(struct audit_proof_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool proof_fail(struct audit_proof_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    res->ok = false;
    return false;
}

static bool get_u63(json_t *o, const char *name, uint64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static bool get_hashes(json_t *o, uint8_t (*out)[AUDIT_MERKLE_HASH], size_t *n)
{
    json_t *a = json_object_get(o, "hashes");
    if (!json_is_array(a) || json_array_size(a) > AUDIT_MERKLE_MAX_PROOF)
        return false;
    *n = json_array_size(a);
    for (size_t i = 0; i < *n; i++) {
        json_t *h = json_array_get(a, i);
        if (!json_is_string(h) || !audit_hex_decode_hash(json_string_value(h), out[i]))
            return false;
    }
    return true;
}

/* Checks a note against the key and the size the proof claims. */
static bool note_ok(EVP_PKEY *key, json_t *v, uint64_t size, const char *which,
                    uint8_t root[AUDIT_MERKLE_HASH], struct audit_proof_result *res)
{
    if (!json_is_string(v))
        return proof_fail(res, "no %s checkpoint", which);
    struct audit_note n;
    struct error nerr;
    if (audit_note_verify(key, json_string_value(v), json_string_length(v), &n, &nerr) < 0)
        return proof_fail(res, "the %s checkpoint: %s", which, nerr.message);
    if (n.size != size)
        return proof_fail(res, "the %s checkpoint is for tree size %" PRIu64 ", the proof for %" PRIu64,
                          which, n.size, size);
    memcpy(root, n.root, AUDIT_MERKLE_HASH);
    return true;
}

static bool inclusion_ok(EVP_PKEY *key, json_t *o, struct audit_proof_result *res)
{
    res->inclusion = true;
    uint8_t path[AUDIT_MERKLE_MAX_PROOF][AUDIT_MERKLE_HASH];
    size_t plen;
    json_t *leaf = json_object_get(o, "leaf");
    if (!get_u63(o, "leaf_index", &res->leaf_index) || !get_u63(o, "tree_size", &res->tree_size) ||
        !json_is_string(leaf) || !get_hashes(o, path, &plen))
        return proof_fail(res, "malformed inclusion proof (leaf_index, tree_size, leaf, hashes)");
    uint8_t root[AUDIT_MERKLE_HASH];
    if (!note_ok(key, json_object_get(o, "checkpoint"), res->tree_size, "signed", root, res))
        return false;
    size_t leaf_len = 0;
    cleanup_free unsigned char *bytes = NULL;
    if (json_string_length(leaf) == 0 ||
        decode_base64(json_string_value(leaf), json_string_length(leaf), &bytes, &leaf_len) < 0)
        return proof_fail(res, "the leaf is not base64");
    uint8_t leaf_hash[AUDIT_MERKLE_HASH];
    audit_merkle_leaf_hash(bytes, leaf_len, leaf_hash);
    if (!audit_merkle_verify_inclusion(res->leaf_index, res->tree_size, leaf_hash,
                                       (const uint8_t(*)[32])path, plen, root))
        return proof_fail(res, "the leaf and hashes do not lead to the signed root");
    /* The readable record, when present, must be what the leaf encodes. */
    json_t *rec = json_object_get(o, "record");
    if (rec != NULL) {
        const char *names[] = {"session", "kind", "bundle_digest", "input_digest", "decision",
                               "reasons", "details", "prev_hash"};
        const char *vals[8];
        for (int i = 0; i < 8; i++) {
            json_t *v = json_object_get(rec, names[i]);
            vals[i] = json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
                          ? json_string_value(v)
                          : NULL;
            if (vals[i] == NULL)
                return proof_fail(res, "the record's %s is missing or not a plain string",
                                  names[i]);
        }
        uint64_t seq, t;
        json_t *tv = json_object_get(rec, "time_ns");
        if (!get_u63(rec, "seq", &seq) || !json_is_integer(tv))
            return proof_fail(res, "the record's seq or time_ns is missing");
        t = (uint64_t)json_integer_value(tv);
        struct audit_record r = {.seq = seq,           .time_ns = (int64_t)t,
                                 .session_id = vals[0], .kind_name = vals[1],
                                 .bundle_digest = vals[2], .input_digest = vals[3],
                                 .decision = vals[4],   .reasons_json = vals[5],
                                 .details_json = vals[6], .prev_hash = vals[7]};
        cleanup_free unsigned char *mine = NULL;
        size_t mine_len = 0;
        if (audit_record_leaf(&r, &mine, &mine_len, NULL) < 0 || mine_len != leaf_len ||
            memcmp(mine, bytes, leaf_len) != 0)
            return proof_fail(res, "the record shown is not the one the leaf encodes");
        if (seq != res->leaf_index + 1)
            return proof_fail(res, "the record's seq is not leaf_index + 1");
        res->seq = seq;
    }
    encode_hex(root, AUDIT_MERKLE_HASH, res->root_hash);
    res->ok = true;
    return true;
}

static bool consistency_ok(EVP_PKEY *key, json_t *o, struct audit_proof_result *res)
{
    uint8_t path[AUDIT_MERKLE_MAX_PROOF][AUDIT_MERKLE_HASH];
    size_t plen;
    if (!get_u63(o, "old_size", &res->old_size) || !get_u63(o, "new_size", &res->tree_size) ||
        !get_hashes(o, path, &plen))
        return proof_fail(res, "malformed consistency proof (old_size, new_size, hashes)");
    uint8_t new_root[AUDIT_MERKLE_HASH], old_root[AUDIT_MERKLE_HASH];
    if (!note_ok(key, json_object_get(o, "new_checkpoint"), res->tree_size, "new", new_root, res))
        return false;
    json_t *old = json_object_get(o, "old_checkpoint");
    if (old != NULL) {
        if (!note_ok(key, old, res->old_size, "old", old_root, res))
            return false;
        res->old_signed = true;
    } else {
        json_t *h = json_object_get(o, "old_root_hash");
        if (!json_is_string(h) || !audit_hex_decode_hash(json_string_value(h), old_root))
            return proof_fail(res, "no old checkpoint and no old_root_hash");
    }
    if (!audit_merkle_verify_consistency(res->old_size, res->tree_size, old_root, new_root,
                                         (const uint8_t(*)[32])path, plen))
        return proof_fail(res, "the tree of size %" PRIu64 " does not extend the tree of size %" PRIu64
                          " with these hashes",
                          res->tree_size, res->old_size);
    encode_hex(new_root, AUDIT_MERKLE_HASH, res->root_hash);
    encode_hex(old_root, AUDIT_MERKLE_HASH, res->old_root_hash);
    res->ok = true;
    return true;
}

int audit_proof_verify_json(const char *text, size_t len, const char *pubkey_pem_path,
                            struct audit_proof_result *res, struct error *err)
{
    memset(res, 0, sizeof(*res));
    cleanup_pkey EVP_PKEY *key = NULL;
    if (audit_pubkey_load_file(pubkey_pem_path, &key, err) < 0)
        return -1;
    audit_proof_check(text, len, key, res);
    return 0;
}

void audit_proof_check(const char *text, size_t len, EVP_PKEY *key, struct audit_proof_result *res)
{
    memset(res, 0, sizeof(*res));
    if (len > MAX_PROOF_FILE) {
        proof_fail(res, "larger than %d bytes", MAX_PROOF_FILE);
        return;
    }
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!json_is_object(o) || type == NULL)
        proof_fail(res, "not a proof (a JSON object with a \"type\")");
    else if (strcmp(type, "inclusion_proof") == 0)
        inclusion_ok(key, o, res);
    else if (strcmp(type, "consistency_proof") == 0)
        consistency_ok(key, o, res);
    else
        proof_fail(res, "unknown proof type");
    json_decref(o);
}

int audit_proof_verify_file(const char *path, const char *pubkey_pem_path,
                            struct audit_proof_result *res, struct error *err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, MAX_PROOF_FILE, &text, &len, err) < 0)
        return -1;
    return audit_proof_verify_json(text, len, pubkey_pem_path, res, err);
}

/* ---------------------------------------------------------------- the witness check */

int audit_verify_witness(const char *db_path, const char *pubkey_pem_path, const char *witness_path,
                         struct audit_verify_result *res, struct error *err)
{
    if (audit_verify_db(db_path, pubkey_pem_path, res, err) < 0)
        return -1;
    if (!res->ok)
        return 0; /* the log itself fails: that comes first */

    cleanup_pkey EVP_PKEY *key = NULL;
    if (pubkey_pem_path != NULL) {
        if (audit_pubkey_load_file(pubkey_pem_path, &key, err) < 0)
            return -1;
    }
    struct audit_options ro = {.read_only = true};
    struct audit_log *log = NULL;
    if (audit_open(db_path, NULL, &ro, &log, err) < 0)
        return -1;
    sqlite3 *db;
    audit_log_read_begin(log, &db);
    struct tree_read t = {0};
    cleanup_fclose FILE *w = NULL;
    cleanup_free char *line = NULL;
    int ret = -1;
    if (key == NULL) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = 'public_key'", -1, &st,
                               NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            audit_pubkey_from_pem(audit_column_text(st, 0), strlen(audit_column_text(st, 0)), &key, NULL);
        sqlite3_finalize(st);
        if (key == NULL) {
            error_set(err, ERR_FAILED_PRECONDITION, "no public key to check the witness with");
            goto out;
        }
    }
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        read_leaves(db, res->records, &t, err) < 0)
        goto out;
    const uint8_t(*leaves)[AUDIT_MERKLE_HASH] = (const uint8_t(*)[AUDIT_MERKLE_HASH])t.leaves;
    uint8_t now_root[AUDIT_MERKLE_HASH];
    audit_merkle_root(leaves, t.n, now_root);

    w = fopen(witness_path, "re");
    line = malloc(AUDIT_MAX_LINE + 1);
    if (w == NULL) {
        error_set_errno(err, ERR_NOT_FOUND, "opening the witness %s", witness_path);
        goto out;
    }
    if (line == NULL) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
    }
    unsigned long line_no = 0;
    uint64_t witnessed = 0, biggest = 0;
    while (fgets(line, AUDIT_MAX_LINE + 1, w) != NULL) {
        line_no++;
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        else if (!feof(w)) {
            audit_verifier_fail_result(res, 1, "witness line %lu: too long", line_no);
            goto done;
        }
        if (n == 0)
            continue;
        json_error_t jerr;
        json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
        json_t *nv = json_object_get(o, "note");
        struct audit_note note;
        struct error nerr;
        bool ok = json_is_string(nv) &&
                  audit_note_verify(key, json_string_value(nv), json_string_length(nv), &note,
                                    &nerr) == 0;
        if (!ok && json_is_string(nv) == false)
            snprintf(nerr.message, sizeof(nerr.message), "not a JSON object with a \"note\"");
        json_decref(o);
        if (!ok) {
            audit_verifier_fail_result(res, 1, "witness line %lu: %s", line_no, nerr.message);
            goto done;
        }
        witnessed++;
        if (note.size > biggest)
            biggest = note.size;
        if (note.size > t.n) {
            audit_verifier_fail_result(
                res, t.n + 1,
                "the log was truncated: the witnessed checkpoint at tree size %" PRIu64
                " (witness line %lu) covers records up to %" PRIu64 ", the log has %" PRIu64,
                note.size, line_no, note.size, t.n);
            goto done;
        }
        /* The log today must extend the witnessed tree: prove it. */
        uint8_t path[AUDIT_MERKLE_MAX_PROOF][AUDIT_MERKLE_HASH];
        size_t plen = 0;
        if (note.size == 0 ||
            audit_merkle_consistency_proof(leaves, t.n, note.size, path, &plen) < 0 ||
            !audit_merkle_verify_consistency(note.size, t.n, note.root, now_root,
                                             (const uint8_t(*)[32])path, plen)) {
            audit_verifier_fail_result(
                res, note.size,
                "the log was rewritten: it does not extend the witnessed checkpoint at tree size "
                "%" PRIu64 " (witness line %lu); some record in 1..%" PRIu64 " differs",
                note.size, line_no, note.size);
            goto done;
        }
    }
    if (ferror(w)) {
        error_set_errno(err, ERR_INTERNAL, "reading the witness %s", witness_path);
        goto out;
    }
    res->witnessed = witnessed;
    res->witnessed_size = biggest;
done:
    ret = 0;
out:
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    audit_log_read_end(log);
    audit_close(log, NULL);
    tree_read_release(&t);
    return ret;
}
