/* Verification of a SQLite log and of a JSON-lines export. Both feed the
 * verifier in chain.c; the JSON-lines reader treats its input as hostile
 * (bounded lines, strict types, every field checked). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "audit/audit_internal.h"
#include "common/cleanup.h"

int audit_verify_db(const char *db_path, const char *pubkey_pem_path,
                    struct audit_verify_result *res, struct error *err)
{
    memset(res, 0, sizeof(*res));
    cleanup_pkey EVP_PKEY *key = NULL;
    if (pubkey_pem_path != NULL && audit_pubkey_load_file(pubkey_pem_path, &key, err) < 0)
        return -1;

    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        error_set(err, ERR_NOT_FOUND, "opening %s: %s", db_path,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    struct audit_verifier v;
    bool verifier_live = false;
    int ret = -1;

    /* One read transaction, so that a writer appending meanwhile does not
     * make the snapshot inconsistent. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto sqlfail;
    if (sqlite3_prepare_v2(db, "SELECT name, value FROM meta WHERE name IN ('format', 'public_key')",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    bool format_ok = false;
    bool key_from_log = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = audit_column_text(st, 0), *value = audit_column_text(st, 1);
        if (strcmp(name, "format") == 0)
            format_ok = strcmp(value, AUDIT_FORMAT) == 0;
        else if (key == NULL && strcmp(name, "public_key") == 0 &&
                 audit_pubkey_from_pem(value, strlen(value), &key, NULL) == 0)
            key_from_log = true;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        goto sqlfail;
    if (!format_ok) {
        error_set(err, ERR_FAILED_PRECONDITION, "%s is not an Enclave audit log", db_path);
        goto out;
    }

    audit_verifier_init(&v, key, false, res);
    verifier_live = true;
    res->key_from_log = key_from_log;
    /* Every checkpoint first (sorted), so each is pending when its record comes. */
    if (sqlite3_prepare_v2(db,
                           audit_db_has_tree(db)
                               ? "SELECT seq, time_ns, head_hash, key_id, signature, root_hash, note"
                                 " FROM checkpoints ORDER BY seq"
                               : "SELECT seq, time_ns, head_hash, key_id, signature, '', ''"
                                 " FROM checkpoints ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 seq = sqlite3_column_int64(st, 0);
        if (audit_verifier_checkpoint(&v, seq > 0 ? (uint64_t)seq : 0, sqlite3_column_int64(st, 1),
                                      audit_column_text(st, 2), audit_column_text(st, 3), audit_column_text(st, 4), audit_column_text(st, 5), audit_column_text(st, 6),
                                      err) < 0)
            goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        goto sqlfail;

    if (sqlite3_prepare_v2(db,
                           "SELECT " AUDIT_RECORD_COLUMNS " FROM records ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlfail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && !v.chain_broken) {
        struct audit_record rec = {0};
        audit_record_from_row(st, &rec);
        if (audit_verifier_record(&v, &rec, err) < 0)
            goto out;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        goto sqlfail;
    audit_verifier_finish(&v);
    ret = 0;
    goto out;

sqlfail:
    error_set(err, ERR_DATA_LOSS, "reading %s: %s", db_path, sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    if (verifier_live)
        audit_verifier_release(&v);
    return ret;
}

/* ---------------------------------------------------------------- JSON lines */

/* Reads one line into buf (without the newline). Returns its length, -1 at
 * end of input, -2 when it is longer than max (the rest is skipped). */
static long read_line(FILE *in, char *buf, size_t max)
{
    size_t n = 0;
    int c;
    bool too_long = false;
    while ((c = getc(in)) != EOF && c != '\n') {
        if (n < max)
            buf[n++] = (char)c;
        else
            too_long = true;
    }
    if (c == EOF && n == 0 && !too_long)
        return -1;
    buf[n] = '\0';
    return too_long ? -2 : (long)n;
}

static const char *get_str(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A strict integer field; false when missing, not an integer, or negative
 * where that is not allowed. */
static bool get_int(json_t *o, const char *name, bool allow_negative, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        return false;
    json_int_t i = json_integer_value(v);
    if (!allow_negative && i < 0)
        return false;
    *out = (int64_t)i;
    return true;
}

/* Returns 0 to go on, <0 on an operational error. */
static int jsonl_entry(struct audit_verifier *v, json_t *o, unsigned long line_no,
                       bool *seen_header, EVP_PKEY **embedded_key, bool key_given, struct error *err)
{
    const char *type = get_str(o, "type");
    if (type == NULL) {
        audit_verifier_fail(v, v->next_seq, "line %lu: no \"type\"", line_no);
        return 0;
    }
    if (strcmp(type, "header") == 0) {
        const char *format = get_str(o, "format");
        const char *pem = get_str(o, "public_key");
        if (*seen_header || line_no != 1 || format == NULL || strcmp(format, AUDIT_FORMAT) != 0) {
            audit_verifier_fail(v, v->next_seq, "line %lu: unexpected or malformed header",
                                line_no);
            return 0;
        }
        *seen_header = true;
        if (!key_given && pem != NULL && audit_pubkey_from_pem(pem, strlen(pem), embedded_key, NULL) == 0) {
            v->key = *embedded_key;
            audit_key_id(v->key, v->key_id, NULL);
            v->res->key_from_log = true;
        }
        return 0;
    }
    if (strcmp(type, "checkpoint") == 0) {
        int64_t seq, time_ns;
        const char *head = get_str(o, "head_hash"), *sig = get_str(o, "signature");
        if (!get_int(o, "seq", false, &seq) || !get_int(o, "time_ns", true, &time_ns) ||
            head == NULL || sig == NULL) {
            audit_verifier_fail(v, v->next_seq, "line %lu: malformed checkpoint", line_no);
            return 0;
        }
        /* Both or neither: a checkpoint from before the tree has none. */
        const char *root = get_str(o, "root_hash"), *note = get_str(o, "note");
        if ((root == NULL) != (note == NULL) || (json_object_get(o, "root_hash") && !root) ||
            (json_object_get(o, "note") && !note)) {
            audit_verifier_fail(v, v->next_seq, "line %lu: malformed checkpoint", line_no);
            return 0;
        }
        return audit_verifier_checkpoint(v, (uint64_t)seq, time_ns, head, get_str(o, "key_id"),
                                         sig, root, note, err);
    }
    if (strcmp(type, "record") == 0) {
        int64_t seq, time_ns;
        struct audit_record rec = {
            .session_id = get_str(o, "session"),
            .kind_name = get_str(o, "kind"),
            .bundle_digest = get_str(o, "bundle_digest"),
            .input_digest = get_str(o, "input_digest"),
            .decision = get_str(o, "decision"),
            .reasons_json = get_str(o, "reasons"),
            .details_json = get_str(o, "details"),
            .prev_hash = get_str(o, "prev_hash"),
            .hash = get_str(o, "hash"),
        };
        if (!get_int(o, "seq", false, &seq) || !get_int(o, "time_ns", true, &time_ns) ||
            !rec.session_id || !rec.kind_name || !rec.bundle_digest || !rec.input_digest ||
            !rec.decision || !rec.reasons_json || !rec.details_json || !rec.prev_hash || !rec.hash) {
            audit_verifier_fail(v, v->next_seq, "line %lu: malformed record", line_no);
            v->chain_broken = true;
            return 0;
        }
        /* The hash covers strlen() bytes: a string with an embedded NUL
         * (\u0000) would hash as something shorter than it reads. */
        const char *fields[] = {rec.session_id, rec.kind_name, rec.bundle_digest,
                                rec.input_digest, rec.decision, rec.reasons_json,
                                rec.details_json, rec.prev_hash, rec.hash};
        const char *names[] = {"session", "kind", "bundle_digest", "input_digest", "decision",
                               "reasons", "details", "prev_hash", "hash"};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            if (strlen(fields[i]) != json_string_length(json_object_get(o, names[i]))) {
                audit_verifier_fail(v, (uint64_t)seq,
                                    "line %lu: record %" PRId64 " has a NUL in its %s", line_no,
                                    seq, names[i]);
                v->chain_broken = true;
                return 0;
            }
        }
        rec.seq = (uint64_t)seq;
        rec.time_ns = time_ns;
        if (audit_verifier_record(v, &rec, err) < 0)
            return -1;
        /* leaf_hash is optional (older exports), but must be right when there. */
        json_t *lh = json_object_get(o, "leaf_hash");
        if (lh != NULL && !v->chain_broken) {
            char chain[AUDIT_HASH_HEX_SIZE], hex[AUDIT_HASH_HEX_SIZE];
            uint8_t leaf[32];
            audit_record_hashes(&rec, chain, leaf);
            encode_hex(leaf, 32, hex);
            if (!json_is_string(lh) || strcmp(json_string_value(lh), hex) != 0) {
                audit_verifier_fail(v, (uint64_t)seq,
                                    "record %" PRId64 " does not match its leaf_hash", seq);
                v->chain_broken = true;
                return 0;
            }
        }
        return 0;
    }
    audit_verifier_fail(v, v->next_seq, "line %lu: unknown type \"%s\"", line_no, type);
    return 0;
}

int audit_verify_jsonl(FILE *in, const char *pubkey_pem_path, struct audit_verify_result *res,
                       struct error *err)
{
    memset(res, 0, sizeof(*res));
    cleanup_pkey EVP_PKEY *key = NULL;
    cleanup_pkey EVP_PKEY *embedded = NULL;
    if (pubkey_pem_path != NULL && audit_pubkey_load_file(pubkey_pem_path, &key, err) < 0)
        return -1;
    cleanup_free char *line = malloc(AUDIT_MAX_LINE + 1);
    if (line == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");

    struct audit_verifier v;
    audit_verifier_init(&v, key, true, res);
    bool seen_header = false;
    unsigned long line_no = 0;
    int ret = 0;
    long n;
    while ((n = read_line(in, line, AUDIT_MAX_LINE)) != -1) {
        line_no++;
        if (n == -2) {
            audit_verifier_fail(&v, v.next_seq, "line %lu: longer than %d bytes", line_no,
                                AUDIT_MAX_LINE);
            v.chain_broken = true;
            continue;
        }
        if (n == 0)
            continue;
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o)) {
            audit_verifier_fail(&v, v.next_seq, "line %lu: not a JSON object", line_no);
            v.chain_broken = true;
            json_decref(o);
            continue; /* a later checkpoint may still name an earlier seq */
        }
        ret = jsonl_entry(&v, o, line_no, &seen_header, &embedded, key != NULL, err);
        json_decref(o);
        if (ret < 0)
            break;
    }
    if (ret == 0 && ferror(in))
        ret = error_set_errno(err, ERR_INTERNAL, "reading the export");
    if (ret == 0)
        audit_verifier_finish(&v);
    audit_verifier_release(&v);
    return ret;
}
