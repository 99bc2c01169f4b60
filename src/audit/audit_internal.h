/* Internals shared by the audit module's files; not part of its API. */
#ifndef ENCLAVE_AUDIT_INTERNAL_H
#define ENCLAVE_AUDIT_INTERNAL_H

#include <openssl/evp.h>
#include <sqlite3.h>

#include "audit/audit.h"
#include "common/digest.h"
#include "common/encode.h"

#define AUDIT_FORMAT "enclave-audit-v1"
#define AUDIT_RECORD_TAG "enclave-audit-record-v1"
#define AUDIT_CHECKPOINT_TAG "enclave-audit-checkpoint-v1"
#define AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* base64 of a 64-byte Ed25519 signature, plus NUL. */
#define AUDIT_SIG_B64_SIZE 89
/* Longest JSON line the JSON-lines verifier accepts. */
#define AUDIT_MAX_LINE (256 * 1024)

/* Hash of a record over the encoding in docs/audit.md (uses rec->prev_hash,
 * ignores rec->hash). */
void audit_record_compute_hash(const struct audit_record *rec, char out[AUDIT_HASH_HEX_SIZE]);

/* The bytes an Ed25519 checkpoint signature covers. */
int audit_checkpoint_sign(EVP_PKEY *key, uint64_t seq, int64_t time_ns, const char *head_hash,
                          char sig_b64[AUDIT_SIG_B64_SIZE], struct error *err);
bool audit_checkpoint_signature_ok(EVP_PKEY *key, uint64_t seq, int64_t time_ns,
                                   const char *head_hash, const char *sig_b64);

bool audit_is_hex_hash(const char *s);

static inline void audit_pkey_freep(EVP_PKEY **k)
{
    EVP_PKEY_free(*k);
}
#define cleanup_pkey __attribute__((cleanup(audit_pkey_freep)))

/* Column i of the row as text; "" for NULL (store.c). */
const char *audit_column_text(sqlite3_stmt *st, int i);

/* The columns of a record row, in the order audit_record_from_row reads them. */
#define AUDIT_RECORD_COLUMNS                                                              \
    "seq, time_ns, session, kind, bundle_digest, input_digest, decision, reasons, details, " \
    "prev_hash, hash"
/* Fills rec from a row selected with AUDIT_RECORD_COLUMNS (a negative seq
 * reads as 0); the strings live until the next step of st (store.c). */
void audit_record_from_row(sqlite3_stmt *st, struct audit_record *rec);

/* The log's read connection, locked between begin and end (store.c). */
int audit_log_read_begin(struct audit_log *log, sqlite3 **db);
void audit_log_read_end(struct audit_log *log);
/* The signing key of a log open for writing; NULL when read-only. */
EVP_PKEY *audit_log_key(struct audit_log *log);
/* Whether the checkpoints table has the tree columns (root_hash, note,
 * tree_state); a log written before the tree has not. */
bool audit_db_has_tree(sqlite3 *db);
/* Lowercase hex of 32 bytes; false when s is not exactly that. */
bool audit_hex_decode_hash(const char *s, unsigned char out[32]);

/* The record's canonical serialization (docs/audit.md): the bytes the chain
 * hash and the Merkle leaf hash cover. *out is malloc'ed. */
int audit_record_leaf(const struct audit_record *rec, unsigned char **out, size_t *len,
                      struct error *err);
/* Both hashes of a record in one pass: hex chain hash (SHA-256 of the leaf
 * bytes) and the Merkle leaf hash (SHA-256 of 0x00 || leaf bytes). */
void audit_record_hashes(const struct audit_record *rec, char chain[AUDIT_HASH_HEX_SIZE],
                         uint8_t leaf_hash[32]);

/* ---------------------------------------------------------------- Merkle tree (merkle.c) */
#define AUDIT_MERKLE_HASH 32
/* A proof for a tree of fewer than 2^63 leaves has at most 63 hashes (and
 * 64 for a consistency proof); longer ones are refused outright. */
#define AUDIT_MERKLE_MAX_PROOF 64

void audit_merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[AUDIT_MERKLE_HASH]);
void audit_merkle_node_hash(const uint8_t left[AUDIT_MERKLE_HASH],
                            const uint8_t right[AUDIT_MERKLE_HASH], uint8_t out[AUDIT_MERKLE_HASH]);
void audit_merkle_empty_root(uint8_t out[AUDIT_MERKLE_HASH]);
void audit_merkle_root(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n,
                       uint8_t out[AUDIT_MERKLE_HASH]);

/* The roots of the perfect subtrees that make up a tree of `size` leaves,
 * largest first: enough to extend the tree and compute its root. */
struct audit_merkle_range {
    uint64_t size;
    unsigned count;
    uint8_t hashes[64][AUDIT_MERKLE_HASH];
};
void audit_merkle_range_init(struct audit_merkle_range *r);
void audit_merkle_range_append(struct audit_merkle_range *r, const uint8_t leaf[AUDIT_MERKLE_HASH]);
void audit_merkle_range_root(const struct audit_merkle_range *r, uint8_t out[AUDIT_MERKLE_HASH]);
/* From the stored form (the hashes, concatenated); -1 when len does not fit size. */
int audit_merkle_range_load(struct audit_merkle_range *r, uint64_t size, const void *blob,
                            size_t len);

/* RFC 6962 PATH(index, D[0:n]) and PROOF(m, D[0:n]) from all n leaf hashes;
 * out has room for AUDIT_MERKLE_MAX_PROOF hashes. -1 on a bad index/size. */
int audit_merkle_inclusion_proof(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n,
                                 uint64_t index, uint8_t (*out)[AUDIT_MERKLE_HASH], size_t *len);
int audit_merkle_consistency_proof(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n,
                                   uint64_t m, uint8_t (*out)[AUDIT_MERKLE_HASH], size_t *len);
bool audit_merkle_verify_inclusion(uint64_t index, uint64_t size,
                                   const uint8_t leaf_hash[AUDIT_MERKLE_HASH],
                                   const uint8_t (*proof)[AUDIT_MERKLE_HASH], size_t len,
                                   const uint8_t root[AUDIT_MERKLE_HASH]);
bool audit_merkle_verify_consistency(uint64_t m, uint64_t n,
                                     const uint8_t old_root[AUDIT_MERKLE_HASH],
                                     const uint8_t new_root[AUDIT_MERKLE_HASH],
                                     const uint8_t (*proof)[AUDIT_MERKLE_HASH], size_t len);

/* ---------------------------------------------------------------- signed notes (note.c) */
#define AUDIT_NOTE_MAX 4096
#define AUDIT_NOTE_MAX_ORIGIN 128

struct audit_note_sig {
    char name[AUDIT_NOTE_MAX_ORIGIN];
    bool ed25519;       /* the blob decoded as 4-byte key hash + 64-byte signature */
    unsigned char blob[68];
};

struct audit_note {
    char origin[AUDIT_NOTE_MAX_ORIGIN];
    uint64_t size;
    uint8_t root[AUDIT_MERKLE_HASH];
    bool has_time;
    int64_t time_ns;
    size_t body_len; /* bytes the signatures cover */
    struct audit_note_sig sigs[16];
    unsigned nsigs;
};

/* "enclave.local/audit/" + the first 16 hex digits of the key id. */
int audit_note_origin(EVP_PKEY *key, char out[AUDIT_NOTE_MAX_ORIGIN], struct error *err);
int audit_note_body(const char *origin, uint64_t size, const uint8_t root[AUDIT_MERKLE_HASH],
                    int64_t time_ns, char *out, size_t out_size);
/* A signed checkpoint note; *note is malloc'ed. */
int audit_note_sign(EVP_PKEY *key, uint64_t size, const uint8_t root[AUDIT_MERKLE_HASH],
                    int64_t time_ns, char **note, struct error *err);
/* Parses without checking signatures (hostile input). */
int audit_note_parse(const char *text, size_t len, struct audit_note *out, struct error *err);
/* Parses, and checks the origin and a signature by key. */
int audit_note_verify(EVP_PKEY *key, const char *text, size_t len, struct audit_note *out,
                      struct error *err);

/* Keys (keys.c). */
int audit_keys_load_or_create(const char *key_dir, EVP_PKEY **key, char **pub_pem,
                              char key_id[AUDIT_HASH_HEX_SIZE], struct error *err);
int audit_pubkey_from_pem(const char *pem, size_t len, EVP_PKEY **key, struct error *err);
int audit_pubkey_load_file(const char *path, EVP_PKEY **key, struct error *err);
int audit_key_id(EVP_PKEY *key, char key_id[AUDIT_HASH_HEX_SIZE], struct error *err);

/* The verifier state machine shared by the SQLite and JSON-lines readers.
 * Feed checkpoints and records in any interleaving where each checkpoint
 * arrives before the record it covers, or (keep_history) at any point. */
struct audit_pending_checkpoint {
    uint64_t seq;
    char head_hash[AUDIT_HASH_HEX_SIZE];
    bool has_root; /* the checkpoint carries a signed note with a tree root */
    uint8_t root[32];
};

struct audit_verifier {
    EVP_PKEY *key;                  /* borrowed; NULL = no key */
    char key_id[AUDIT_HASH_HEX_SIZE];
    bool keep_history;
    uint64_t next_seq;
    char prev_hash[AUDIT_HASH_HEX_SIZE];
    bool chain_broken;
    unsigned char *history; /* 64 bytes per verified record (chain hash, leaf hash), when keep_history */
    size_t history_cap;     /* in records */
    struct audit_pending_checkpoint *pending; /* min-heap on seq */
    size_t npending, pending_cap;
    uint64_t pending_max; /* highest seq ever pending */
    struct audit_merkle_range tree; /* over the verified records */
    struct audit_verify_result *res;
};

void audit_verifier_init(struct audit_verifier *v, EVP_PKEY *key, bool keep_history,
                         struct audit_verify_result *res);
void audit_verifier_release(struct audit_verifier *v);
void audit_verifier_fail(struct audit_verifier *v, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int audit_verifier_record(struct audit_verifier *v, const struct audit_record *rec,
                          struct error *err);
/* root_hash and note are "" for a checkpoint from before the tree. */
int audit_verifier_checkpoint(struct audit_verifier *v, uint64_t seq, int64_t time_ns,
                              const char *head_hash, const char *key_id, const char *sig_b64,
                              const char *root_hash, const char *note, struct error *err);
void audit_verifier_finish(struct audit_verifier *v);
/* Records a failure at seq in res (keeps an earlier one) and clears res->ok. */
void audit_verifier_fail_result(struct audit_verify_result *res, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A proof document checked with key (proof.c); the verdict is in res. */
void audit_proof_check(const char *text, size_t len, EVP_PKEY *key, struct audit_proof_result *res);

#endif
