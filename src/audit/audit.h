/* The audit log: an append-only, hash-chained sequence of records that is
 * also an RFC 6962 Merkle tree, with Ed25519-signed checkpoints (C2SP signed
 * notes naming the tree size and root), stored in SQLite (WAL,
 * synchronous=FULL) and exportable as self-contained JSON lines. Inclusion
 * and consistency proofs let anyone check one record, or that a log extends
 * an earlier checkpoint, with a few hashes. docs/audit.md gives the exact
 * encodings so that anyone can verify a log or a proof without this code.
 *
 * Ownership: every pointer passed in is borrowed for the duration of the call
 * only (nothing is kept). Every pointer handed to a callback (struct
 * audit_record, its strings) is valid only during that callback; copy what
 * you keep. struct audit_log is owned by the caller of audit_open and freed
 * by audit_close. Functions return 0 (or a count) on success and <0 with err
 * filled on failure.
 *
 * Threads: one struct audit_log may be shared between threads. A log open
 * for writing has a writer thread that owns the SQLite write connection:
 * audit_append queues its records and returns once the group they were
 * committed with is fsynced (group commit: concurrent writers share one
 * fsync). Queries run on a separate read connection. Subscriber callbacks
 * run in the appending thread, in seq order across threads, under a lock:
 * they must not call back into the same log. Subscribe before other threads
 * append (records acknowledged before a subscription are not delivered to
 * it).
 *
 * Writers: one process at a time opens a log for writing (an advisory lock on
 * "<db>.lock" enforces it); any number may open it read-only. */
#ifndef ENCLAVE_AUDIT_AUDIT_H
#define ENCLAVE_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

/* Event kinds: X(enum name, name stored in the record, what it records).
 * The stored name is what the hash covers; never rename one. */
#define AUDIT_KINDS(X)                                                                   \
    X(AUDIT_POLICY_DECISION, "POLICY:DECISION", "a policy decision on one request")      \
    X(AUDIT_POLICY_LOADED, "POLICY:LOADED", "a policy bundle was loaded and is in force") \
    X(AUDIT_POLICY_REFUSED, "POLICY:REFUSED", "a bundle failed to parse, compile or pass its tests") \
    X(AUDIT_POLICY_ERROR, "POLICY:ERROR", "evaluation failed or timed out (counted as deny)") \
    X(AUDIT_SESSION_START, "SESSION:START", "a session was requested and is booting")    \
    X(AUDIT_SESSION_READY, "SESSION:READY", "a session's guest answered and takes work") \
    X(AUDIT_SESSION_STOP, "SESSION:STOP", "a session was stopped")                       \
    X(AUDIT_SESSION_FAILED, "SESSION:FAILED", "a session failed to boot or died")        \
    X(AUDIT_TOOL_EXEC, "TOOL:EXEC", "a command ran in a guest (exit code, duration, output sizes)") \
    X(AUDIT_FILE_WRITE, "FILE:WRITE", "a file was written into a guest")                 \
    X(AUDIT_FILE_READ, "FILE:READ", "a file was read from a guest")                      \
    X(AUDIT_AUDIT_READ, "AUDIT:READ", "the audit log was read through the API")          \
    X(AUDIT_IMAGE_VERIFIED, "IMAGE:VERIFIED", "an image's signature and digests verified") \
    X(AUDIT_IMAGE_UNVERIFIED_INSTALL, "IMAGE:UNVERIFIED_INSTALL", "an image was installed without a verified signature") \
    X(AUDIT_DAEMON_START, "DAEMON:START", "the daemon started")                          \
    X(AUDIT_DAEMON_STOP, "DAEMON:STOP", "the daemon stopped cleanly") \
    X(AUDIT_API_REFUSED, "API:REFUSED", "a request refused before any handler ran (credential, Host, Origin, Sec-Fetch-Site or uid)") \
    X(AUDIT_NET_CONNECT, "NET:CONNECT", "an outbound connection of a session ended or was refused: its outcome (complete: the exchange finished with everything delivered; failed: it was made but did not; refused: none was made), host, addresses, bytes, duration")

enum audit_kind {
#define X(name, str, doc) name,
    AUDIT_KINDS(X)
#undef X
    AUDIT_KIND_COUNT,
    /* A name this build does not know (a log written by a newer build). */
    AUDIT_KIND_UNKNOWN = AUDIT_KIND_COUNT,
};

/* "POLICY:DECISION" etc.; NULL for an out-of-range value. */
const char *audit_kind_name(enum audit_kind kind);
/* AUDIT_KIND_UNKNOWN when name is not in the table. */
enum audit_kind audit_kind_from_name(const char *name);
const char *audit_kind_description(enum audit_kind kind);

/* Limits on what a caller can put into one record (bytes, after
 * canonicalisation for the JSON fields). */
#define AUDIT_MAX_SESSION_LEN 256
#define AUDIT_MAX_REASONS_LEN (16 * 1024)
#define AUDIT_MAX_DETAILS_LEN (64 * 1024)
/* Hex SHA-256 plus the terminating NUL. */
#define AUDIT_HASH_HEX_SIZE 65

/* What a caller appends. NULL strings mean "". */
struct audit_record_in {
    enum audit_kind kind;
    int64_t time_ns;           /* unix ns; 0 = now (CLOCK_REALTIME) */
    const char *session_id;    /* "" when the event has no session */
    const char *bundle_digest; /* 64 lowercase hex chars, or "" */
    const char *input_digest;  /* 64 lowercase hex chars, or "" */
    const char *decision;      /* "allow", "deny" or "" */
    const char *reasons_json;  /* a JSON array of strings; NULL = [] */
    const char *details_json;  /* a JSON object; NULL = {} */
};

struct audit_record_out {
    uint64_t seq;
    char hash[AUDIT_HASH_HEX_SIZE];
};

/* One stored record, as read back. The strings are exactly the bytes the
 * hash covers (reasons and details are canonical JSON text). */
struct audit_record {
    uint64_t seq;
    int64_t time_ns;
    enum audit_kind kind; /* AUDIT_KIND_UNKNOWN if kind_name is not in the table */
    const char *kind_name;
    const char *session_id;
    const char *bundle_digest;
    const char *input_digest;
    const char *decision;
    const char *reasons_json;
    const char *details_json;
    const char *prev_hash;
    const char *hash;
};

struct audit_options {
    /* Sign a checkpoint after every this many appended records; 0 = 100. */
    uint32_t checkpoint_interval;
    /* Open for reading only: no key, no lock, no head check; append and
     * checkpoint fail with ERR_FAILED_PRECONDITION. */
    bool read_only;
    /* Append every signed checkpoint, as a JSON line holding its note, to
     * this file, or to DIR/audit-checkpoints.jsonl when it names a folder
     * (and fsync it). Meant to be somewhere else: another disk, a mounted
     * remote, a git work tree. NULL = none. */
    const char *witness_path;
};

/* A signed checkpoint, as handed to a checkpoint subscriber. */
struct audit_checkpoint {
    uint64_t tree_size;    /* = the seq of the newest record it covers */
    int64_t time_ns;
    const char *head_hash; /* chain hash of record tree_size */
    const char *root_hash; /* hex RFC 6962 Merkle root of records 1..tree_size */
    const char *key_id;
    const char *signature; /* base64 Ed25519 over the chain checkpoint message */
    const char *note;      /* the C2SP signed note (tlog-checkpoint) text */
};
typedef int (*audit_checkpoint_fn)(const struct audit_checkpoint *cp, void *ctx);

struct audit_log;

/* Default locations: $ENCLAVE_HOME/audit/audit.db and $ENCLAVE_HOME/keys. */
int audit_default_db_path(char *buf, size_t size, struct error *err);
int audit_default_key_dir(char *buf, size_t size, struct error *err);

/* Opens (creating when missing) the log at db_path. For writing, key_dir holds
 * audit.key (PKCS#8 PEM, 0600) and audit.pub (SubjectPublicKeyInfo PEM); both
 * are created on first use. Opening for writing checks the stored chain from
 * the last checkpoint to the head (hash of each record, each link, the
 * checkpoint's signature and head) and fails with ERR_DATA_LOSS instead of
 * extending a damaged tail; a log that was not closed cleanly gets a fresh
 * checkpoint over its head. opts may be NULL (defaults). */
int audit_open(const char *db_path, const char *key_dir, const struct audit_options *opts,
               struct audit_log **out, struct error *err);
/* Signs a final checkpoint when records were appended since the last one,
 * then frees everything. NULL is a no-op. Returns <0 (with err, when not NULL)
 * if that last checkpoint could not be written; the log is freed anyway. */
int audit_close(struct audit_log *log, struct error *err);

/* Appends one record. On success it is committed and fsynced (it survives
 * kill -9 and power loss as far as the disk honours fsync), subscribers have
 * been called, and out (when not NULL) holds its seq and hash. */
int audit_append(struct audit_log *log, const struct audit_record_in *in,
                 struct audit_record_out *out, struct error *err);
/* Appends n records in one transaction: all of them or none, durable when it
 * returns. outs (when not NULL) has room for n results. */
int audit_append_batch(struct audit_log *log, const struct audit_record_in *ins, size_t n,
                       struct audit_record_out *outs, struct error *err);
/* Signs (seq, time, head hash) of the current head and stores it. A no-op
 * when the head already has a checkpoint or the log is empty. */
int audit_checkpoint(struct audit_log *log, struct error *err);

/* Head of the chain: seq 0 and 64 zeros when empty. */
int audit_head(struct audit_log *log, uint64_t *seq, char hash[AUDIT_HASH_HEX_SIZE],
               struct error *err);

/* Return non-zero from a callback to stop the iteration early. */
typedef int (*audit_record_fn)(const struct audit_record *rec, void *ctx);

struct audit_filter {
    const char *session_id; /* NULL = every session */
    int64_t since_ns;       /* only records with time_ns >= since_ns; 0 = all */
    uint64_t after_seq;     /* only records with seq > after_seq */
    uint32_t limit;         /* at most this many; 0 = no limit */
    bool last;              /* with limit: the last `limit` matches (still in seq order) */
};

/* Calls fn for each matching record in ascending seq order; returns the
 * number of records delivered. filter may be NULL (everything). */
int64_t audit_query(struct audit_log *log, const struct audit_filter *filter, audit_record_fn fn,
                    void *ctx, struct error *err);

/* Called after each successful append, once per record (its return value
 * is ignored). Returns an id for audit_unsubscribe (>0), or <0. */
int audit_subscribe(struct audit_log *log, audit_record_fn fn, void *ctx, struct error *err);
/* Called after each checkpoint is signed and durable, after the records it
 * covers were delivered to record subscribers, in the same thread. */
int audit_subscribe_checkpoints(struct audit_log *log, audit_checkpoint_fn fn, void *ctx,
                                struct error *err);
void audit_unsubscribe(struct audit_log *log, int id);

/* One record as a JSON object text (the same object as in an export line;
 * no trailing newline). *out is malloc'ed and owned by the caller. */
int audit_record_to_json(const struct audit_record *rec, char **out, struct error *err);
/* One checkpoint as the export's checkpoint object text. */
int audit_checkpoint_to_json(const struct audit_checkpoint *cp, char **out, struct error *err);

/* Writes the whole log as JSON lines from one consistent snapshot: a header
 * line (format, public key), then every record in seq order, each checkpoint
 * right after the record it covers. Returns the number of records written. */
int64_t audit_export_jsonl(struct audit_log *log, FILE *out, struct error *err);
/* Writes every record as an OCSF 1.3.0 API Activity event (class 6003), one
 * JSON object per line, for a SIEM (docs/audit.md has the mapping). Not
 * verifiable on its own: the hashes ride along under "unmapped". Returns the
 * number of records written. */
int64_t audit_export_ocsf(struct audit_log *log, FILE *out, struct error *err);

struct audit_verify_result {
    bool ok;
    uint64_t records;          /* records that verified */
    uint64_t checkpoints;      /* checkpoints that verified */
    uint64_t last_checkpoint_seq;
    char head_hash[AUDIT_HASH_HEX_SIZE]; /* hash of the last verified record */
    char root_hash[AUDIT_HASH_HEX_SIZE]; /* Merkle root over the verified records */
    bool key_from_log;         /* no key was given: the log's own copy was used */
    uint64_t fail_seq;         /* the first seq that does not verify (0 when ok) */
    char reason[512];
    uint64_t witnessed;        /* audit_verify_witness: checkpoints the witness held */
    uint64_t witnessed_size;   /* ... the largest tree size among them */
};

/* Verifies a SQLite log / a JSON-lines export: every hash, every link, seq
 * contiguous from 1, every checkpoint's signature and (seq, head), and that no
 * record a checkpoint covers is missing. pubkey_pem_path NULL uses the public
 * key stored in the log itself (which proves integrity only against someone
 * who could not also replace that key; res->key_from_log says so).
 * Returns 0 when the check ran (res->ok says how it went) and <0 when it
 * could not run (unreadable file, unreadable key). */
int audit_verify_db(const char *db_path, const char *pubkey_pem_path,
                    struct audit_verify_result *res, struct error *err);
int audit_verify_jsonl(FILE *in, const char *pubkey_pem_path, struct audit_verify_result *res,
                       struct error *err);

/* Like audit_verify_db, then checks the log against every checkpoint in a
 * witness file (written with audit_options.witness_path): each must verify
 * with the key, and the log must extend each one (an RFC 6962 consistency
 * proof from the witnessed size to the log's size must verify). A log cut
 * below a witnessed size fails at the first missing seq; a log rewritten
 * below it fails at that witnessed size. Without a key, the log's own copy
 * is used. */
int audit_verify_witness(const char *db_path, const char *pubkey_pem_path, const char *witness_path,
                         struct audit_verify_result *res, struct error *err);

/* ---------------------------------------------------------------- proofs
 * docs/audit.md describes the documents. Both are JSON text, malloc'ed into
 * *out, for the caller to free. */

/* An inclusion proof of record seq in the tree of the signed checkpoint of
 * size tree_size (0: the newest checkpoint, which must cover seq). */
int audit_proof_inclusion(struct audit_log *log, uint64_t seq, uint64_t tree_size, char **out,
                          struct error *err);
/* A consistency proof from old_size to the signed checkpoint of new_size
 * (0: the newest). The old checkpoint is included when one was signed at
 * exactly old_size. */
int audit_proof_consistency(struct audit_log *log, uint64_t old_size, uint64_t new_size, char **out,
                            struct error *err);

struct audit_proof_result {
    bool ok;
    bool inclusion;      /* an inclusion proof (else consistency) */
    uint64_t leaf_index; /* inclusion */
    uint64_t seq;        /* inclusion, when the record was shown: its seq */
    uint64_t tree_size;  /* the (new) tree size */
    uint64_t old_size;   /* consistency */
    bool old_signed;     /* consistency: the old root came with a signed checkpoint */
    char root_hash[AUDIT_HASH_HEX_SIZE];
    char old_root_hash[AUDIT_HASH_HEX_SIZE];
    char reason[512];
};

/* Checks a proof document with the public key alone (no database). Returns
 * 0 when the check ran (res->ok), <0 when it could not (unreadable key or
 * file). */
int audit_proof_verify_json(const char *text, size_t len, const char *pubkey_pem_path,
                            struct audit_proof_result *res, struct error *err);
int audit_proof_verify_file(const char *path, const char *pubkey_pem_path,
                            struct audit_proof_result *res, struct error *err);

#endif
