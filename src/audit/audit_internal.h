/* Internals shared by the audit module's files; not part of its API. */
#ifndef ENCLAVE_AUDIT_INTERNAL_H
#define ENCLAVE_AUDIT_INTERNAL_H

#include <openssl/evp.h>

#include "audit/audit.h"

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
};

struct audit_verifier {
    EVP_PKEY *key;                  /* borrowed; NULL = no key */
    char key_id[AUDIT_HASH_HEX_SIZE];
    bool keep_history;
    uint64_t next_seq;
    char prev_hash[AUDIT_HASH_HEX_SIZE];
    bool chain_broken;
    unsigned char *history; /* 32 bytes per verified record, when keep_history */
    size_t history_cap;     /* in records */
    struct audit_pending_checkpoint *pending; /* min-heap on seq */
    size_t npending, pending_cap;
    uint64_t pending_max; /* highest seq ever pending */
    struct audit_verify_result *res;
};

void audit_verifier_init(struct audit_verifier *v, EVP_PKEY *key, bool keep_history,
                         struct audit_verify_result *res);
void audit_verifier_release(struct audit_verifier *v);
void audit_verifier_fail(struct audit_verifier *v, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int audit_verifier_record(struct audit_verifier *v, const struct audit_record *rec,
                          struct error *err);
int audit_verifier_checkpoint(struct audit_verifier *v, uint64_t seq, int64_t time_ns,
                              const char *head_hash, const char *key_id, const char *sig_b64,
                              struct error *err);
void audit_verifier_finish(struct audit_verifier *v);

#endif
