/* The hash chain and checkpoint encodings, and the verifier that both the
 * SQLite and the JSON-lines readers drive. The encodings are written down in
 * docs/audit.md; change one only with a new tag. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit_internal.h"
#include "common/cleanup.h"

static const char *const kind_names[] = {
#define X(name, str, doc) str,
    AUDIT_KINDS(X)
#undef X
};
static const char *const kind_docs[] = {
#define X(name, str, doc) doc,
    AUDIT_KINDS(X)
#undef X
};

const char *audit_kind_name(enum audit_kind kind)
{
    if ((unsigned)kind >= AUDIT_KIND_COUNT)
        return NULL;
    return kind_names[kind];
}

const char *audit_kind_description(enum audit_kind kind)
{
    if ((unsigned)kind >= AUDIT_KIND_COUNT)
        return NULL;
    return kind_docs[kind];
}

enum audit_kind audit_kind_from_name(const char *name)
{
    if (name == NULL)
        return AUDIT_KIND_UNKNOWN;
    for (int i = 0; i < AUDIT_KIND_COUNT; i++)
        if (strcmp(kind_names[i], name) == 0)
            return (enum audit_kind)i;
    return AUDIT_KIND_UNKNOWN;
}

bool audit_hex_decode_hash(const char *s, unsigned char out[32])
{
    /* decode_hex stops at the first character that is not a digit, the NUL included. */
    return s != NULL && decode_hex(s, out, 32) && s[64] == '\0';
}

bool audit_is_hex_hash(const char *s)
{
    unsigned char ignored[32];
    return audit_hex_decode_hash(s, ignored);
}

/* A growable byte buffer for the canonical encodings. */
struct buf {
    unsigned char *data;
    size_t len, cap;
    bool failed;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (d == NULL) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* The canonical serializations (records, checkpoints), fed to a callback in
 * pieces so that the hashes can stream them without allocating. */
typedef void (*leaf_sink)(void *ctx, const void *p, size_t n);

static void sink_u64(leaf_sink put, void *ctx, uint64_t v)
{
    unsigned char be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(v >> (56 - 8 * i));
    put(ctx, be, 8);
}

/* u32 big-endian length, then the bytes. Strings longer than 4 GiB cannot
 * reach here (every field is bounded far below that). */
static void sink_lp(leaf_sink put, void *ctx, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s);
    unsigned char be[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n};
    put(ctx, be, 4);
    put(ctx, s, n);
}

static void record_serialize(const struct audit_record *rec, leaf_sink put, void *ctx)
{
    sink_lp(put, ctx, AUDIT_RECORD_TAG);
    sink_u64(put, ctx, rec->seq);
    sink_u64(put, ctx, (uint64_t)rec->time_ns);
    sink_lp(put, ctx, rec->session_id);
    sink_lp(put, ctx, rec->kind_name);
    sink_lp(put, ctx, rec->bundle_digest);
    sink_lp(put, ctx, rec->input_digest);
    sink_lp(put, ctx, rec->decision);
    sink_lp(put, ctx, rec->reasons_json);
    sink_lp(put, ctx, rec->details_json);
    sink_lp(put, ctx, rec->prev_hash);
}

struct two_digests {
    EVP_MD_CTX *chain, *leaf;
};

static void put_two(void *ctx, const void *p, size_t n)
{
    struct two_digests *d = ctx;
    EVP_DigestUpdate(d->chain, p, n);
    EVP_DigestUpdate(d->leaf, p, n);
}

void audit_record_hashes(const struct audit_record *rec, char chain[AUDIT_HASH_HEX_SIZE],
                         uint8_t leaf_hash[32])
{
    static const unsigned char leaf_prefix = 0x00;
    struct two_digests d = {EVP_MD_CTX_new(), EVP_MD_CTX_new()};
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (d.chain == NULL || d.leaf == NULL || EVP_DigestInit_ex(d.chain, digest_sha256_md(), NULL) != 1 ||
        EVP_DigestInit_ex(d.leaf, digest_sha256_md(), NULL) != 1 ||
        EVP_DigestUpdate(d.leaf, &leaf_prefix, 1) != 1) {
        /* Out of memory: an all-'x' hash never matches, so nothing verifies
         * and nothing is written with a wrong hash. */
        EVP_MD_CTX_free(d.chain);
        EVP_MD_CTX_free(d.leaf);
        memset(chain, 'x', 64);
        chain[64] = '\0';
        memset(leaf_hash, 0xff, 32);
        return;
    }
    record_serialize(rec, put_two, &d);
    EVP_DigestFinal_ex(d.chain, digest, &dlen);
    encode_hex(digest, 32, chain);
    EVP_DigestFinal_ex(d.leaf, leaf_hash, &dlen);
    EVP_MD_CTX_free(d.chain);
    EVP_MD_CTX_free(d.leaf);
}

void audit_record_compute_hash(const struct audit_record *rec, char out[AUDIT_HASH_HEX_SIZE])
{
    uint8_t leaf[32];
    audit_record_hashes(rec, out, leaf);
}

static void put_buf(void *ctx, const void *p, size_t n)
{
    buf_put(ctx, p, n);
}

int audit_record_leaf(const struct audit_record *rec, unsigned char **out, size_t *len,
                      struct error *err)
{
    struct buf b = {0};
    record_serialize(rec, put_buf, &b);
    if (b.failed) {
        free(b.data);
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

static int checkpoint_message(struct buf *b, uint64_t seq, int64_t time_ns, const char *head_hash)
{
    sink_lp(put_buf, b, AUDIT_CHECKPOINT_TAG);
    sink_u64(put_buf, b, seq);
    sink_u64(put_buf, b, (uint64_t)time_ns);
    sink_lp(put_buf, b, head_hash);
    return b->failed ? -1 : 0;
}

int audit_checkpoint_sign(EVP_PKEY *key, uint64_t seq, int64_t time_ns, const char *head_hash,
                          char sig_b64[AUDIT_SIG_B64_SIZE], struct error *err)
{
    struct buf msg = {0};
    unsigned char sig[64];
    size_t siglen = sizeof(sig);
    int ret = -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || checkpoint_message(&msg, seq, time_ns, head_hash) < 0) {
        error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory signing a checkpoint");
        goto out;
    }
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, msg.data, msg.len) != 1 || siglen != 64) {
        error_set(err, ERR_INTERNAL, "Ed25519 signing of checkpoint %" PRIu64 " failed", seq);
        goto out;
    }
    encode_base64_to(sig, 64, sig_b64);
    ret = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(msg.data);
    return ret;
}

bool audit_checkpoint_signature_ok(EVP_PKEY *key, uint64_t seq, int64_t time_ns,
                                   const char *head_hash, const char *sig_b64)
{
    /* 64 bytes are 88 base64 characters ending in "==". */
    unsigned char sig[64];
    if (key == NULL || sig_b64 == NULL || !decode_base64_exact(sig_b64, strlen(sig_b64), sig, 64))
        return false;
    struct buf msg = {0};
    bool ok = false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && checkpoint_message(&msg, seq, time_ns, head_hash) == 0 &&
        EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
        EVP_DigestVerify(ctx, sig, 64, msg.data, msg.len) == 1)
        ok = true;
    EVP_MD_CTX_free(ctx);
    free(msg.data);
    return ok;
}

/* ---------------------------------------------------------------- verifier */

void audit_verifier_init(struct audit_verifier *v, EVP_PKEY *key, bool keep_history,
                         struct audit_verify_result *res)
{
    memset(v, 0, sizeof(*v));
    memset(res, 0, sizeof(*res));
    v->key = key;
    if (key == NULL || audit_key_id(key, v->key_id, NULL) < 0)
        v->key_id[0] = '\0';
    v->keep_history = keep_history;
    v->next_seq = 1;
    memcpy(v->prev_hash, AUDIT_ZERO_HASH, AUDIT_HASH_HEX_SIZE);
    v->res = res;
    memcpy(res->head_hash, AUDIT_ZERO_HASH, AUDIT_HASH_HEX_SIZE);
    audit_merkle_range_init(&v->tree);
    uint8_t root[32];
    audit_merkle_empty_root(root);
    encode_hex(root, 32, res->root_hash);
}

void audit_verifier_release(struct audit_verifier *v)
{
    free(v->history);
    free(v->pending);
    v->history = NULL;
    v->pending = NULL;
}

void audit_verifier_fail(struct audit_verifier *v, uint64_t seq, const char *fmt, ...)
{
    struct audit_verify_result *res = v->res;
    if (res->fail_seq != 0 && res->fail_seq <= seq)
        return; /* an earlier failure is already named */
    res->fail_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

void audit_verifier_fail_result(struct audit_verify_result *res, uint64_t seq, const char *fmt, ...)
{
    res->ok = false;
    if (res->fail_seq != 0 && res->fail_seq <= seq)
        return;
    res->fail_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

static int history_push(struct audit_verifier *v, const char *hash, const uint8_t leaf[32],
                        struct error *err)
{
    uint64_t idx = v->next_seq - 1;
    if (idx >= v->history_cap) {
        size_t cap = v->history_cap ? v->history_cap * 2 : 1024;
        unsigned char *h = realloc(v->history, cap * 64);
        if (h == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory verifying the log");
        v->history = h;
        v->history_cap = cap;
    }
    decode_hex(hash, v->history + idx * 64, 32); /* hash was checked by the caller */
    memcpy(v->history + idx * 64 + 32, leaf, 32);
    return 0;
}

/* The root of the first n verified records, from the history (n <= verified). */
static void history_root(const struct audit_verifier *v, uint64_t n, uint8_t out[32])
{
    struct audit_merkle_range r;
    audit_merkle_range_init(&r);
    for (uint64_t i = 0; i < n; i++)
        audit_merkle_range_append(&r, v->history + i * 64 + 32);
    audit_merkle_range_root(&r, out);
}

static void pending_swap(struct audit_pending_checkpoint *a, struct audit_pending_checkpoint *b)
{
    struct audit_pending_checkpoint t = *a;
    *a = *b;
    *b = t;
}

/* Room for one more must already exist. */
static void pending_push(struct audit_verifier *v, uint64_t seq, const char *head_hash,
                         const uint8_t *root)
{
    size_t i = v->npending++;
    v->pending[i].seq = seq;
    memcpy(v->pending[i].head_hash, head_hash, AUDIT_HASH_HEX_SIZE);
    v->pending[i].has_root = root != NULL;
    if (root != NULL)
        memcpy(v->pending[i].root, root, 32);
    if (seq > v->pending_max)
        v->pending_max = seq;
    while (i > 0 && v->pending[(i - 1) / 2].seq > v->pending[i].seq) {
        pending_swap(&v->pending[(i - 1) / 2], &v->pending[i]);
        i = (i - 1) / 2;
    }
}

static struct audit_pending_checkpoint pending_pop(struct audit_verifier *v)
{
    struct audit_pending_checkpoint top = v->pending[0];
    v->pending[0] = v->pending[--v->npending];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < v->npending && v->pending[l].seq < v->pending[m].seq)
            m = l;
        if (r < v->npending && v->pending[r].seq < v->pending[m].seq)
            m = r;
        if (m == i)
            break;
        pending_swap(&v->pending[m], &v->pending[i]);
        i = m;
    }
    return top;
}

int audit_verifier_record(struct audit_verifier *v, const struct audit_record *rec,
                          struct error *err)
{
    if (v->chain_broken)
        return 0;
    if (rec->seq != v->next_seq) {
        if (rec->seq > v->next_seq)
            audit_verifier_fail(v, v->next_seq,
                                "record %" PRIu64 " is missing (the next record present is %" PRIu64 ")",
                                v->next_seq, rec->seq);
        else
            audit_verifier_fail(v, v->next_seq,
                                "record %" PRIu64 " found where record %" PRIu64
                                " was expected (reordered or duplicated)",
                                rec->seq, v->next_seq);
        v->chain_broken = true;
        return 0;
    }
    char computed[AUDIT_HASH_HEX_SIZE];
    uint8_t leaf[32];
    audit_record_hashes(rec, computed, leaf);
    if (rec->hash == NULL || strcmp(computed, rec->hash) != 0) {
        audit_verifier_fail(v, rec->seq,
                            "record %" PRIu64 " does not match its hash (its contents were changed)",
                            rec->seq);
        v->chain_broken = true;
        return 0;
    }
    if (rec->prev_hash == NULL || strcmp(rec->prev_hash, v->prev_hash) != 0) {
        if (rec->seq == 1)
            audit_verifier_fail(v, 1, "record 1 does not start the chain (prev_hash is not zero)");
        else
            audit_verifier_fail(v, rec->seq,
                                "record %" PRIu64 " does not link to record %" PRIu64
                                " (prev_hash differs from that record's hash)",
                                rec->seq, rec->seq - 1);
        v->chain_broken = true;
        return 0;
    }
    if (v->keep_history && history_push(v, rec->hash, leaf, err) < 0)
        return -1;
    audit_merkle_range_append(&v->tree, leaf);
    /* pending is a min-heap on seq holding only seqs >= next_seq. */
    while (v->npending > 0 && v->pending[0].seq == rec->seq) {
        struct audit_pending_checkpoint cp = pending_pop(v);
        bool head_ok = strcmp(cp.head_hash, rec->hash) == 0, root_ok = true;
        if (head_ok && cp.has_root) {
            uint8_t root[32];
            audit_merkle_range_root(&v->tree, root);
            root_ok = memcmp(root, cp.root, 32) == 0;
        }
        if (!head_ok || !root_ok) {
            audit_verifier_fail(v, rec->seq,
                                "the signed checkpoint at seq %" PRIu64 " names a different %s%" PRIu64,
                                cp.seq, head_ok ? "tree root than records 1.." : "head hash than record ",
                                rec->seq);
            v->chain_broken = true;
            return 0;
        }
        v->res->checkpoints++;
        if (cp.seq > v->res->last_checkpoint_seq)
            v->res->last_checkpoint_seq = cp.seq;
    }
    memcpy(v->prev_hash, rec->hash, AUDIT_HASH_HEX_SIZE);
    v->next_seq++;
    v->res->records++;
    memcpy(v->res->head_hash, rec->hash, AUDIT_HASH_HEX_SIZE);
    return 0;
}

int audit_verifier_checkpoint(struct audit_verifier *v, uint64_t seq, int64_t time_ns,
                              const char *head_hash, const char *key_id, const char *sig_b64,
                              const char *root_hash, const char *note, struct error *err)
{
    if (root_hash == NULL)
        root_hash = "";
    if (note == NULL)
        note = "";
    if (seq == 0 || !audit_is_hex_hash(head_hash)) {
        audit_verifier_fail(v, seq == 0 ? 1 : seq, "malformed checkpoint (seq %" PRIu64 ")", seq);
        return 0;
    }
    if (v->key == NULL) {
        audit_verifier_fail(v, seq,
                            "checkpoint at seq %" PRIu64 " cannot be checked: no public key", seq);
        return 0;
    }
    if (!audit_checkpoint_signature_ok(v->key, seq, time_ns, head_hash, sig_b64)) {
        if (key_id != NULL && key_id[0] != '\0' && v->key_id[0] != '\0' &&
            strcmp(key_id, v->key_id) != 0)
            audit_verifier_fail(v, seq,
                                "checkpoint at seq %" PRIu64
                                " is not signed by the given key (it names key %.16s, the key is %.16s)",
                                seq, key_id, v->key_id);
        else
            audit_verifier_fail(v, seq,
                                "checkpoint signature at seq %" PRIu64 " does not verify", seq);
        return 0;
    }
    /* The signed note (when there is one): signed by the same key, for this
     * size and time, naming the root stored beside it. */
    uint8_t root[32];
    bool has_root = note[0] != '\0' || root_hash[0] != '\0';
    if (has_root) {
        struct audit_note n;
        struct error nerr;
        uint8_t stored[32];
        if (audit_note_verify(v->key, note, strlen(note), &n, &nerr) < 0) {
            audit_verifier_fail(v, seq, "checkpoint at seq %" PRIu64 ": %s", seq, nerr.message);
            return 0;
        }
        if (n.size != seq || !n.has_time || n.time_ns != time_ns ||
            !audit_hex_decode_hash(root_hash, stored) || memcmp(stored, n.root, 32) != 0) {
            audit_verifier_fail(v, seq,
                                "checkpoint at seq %" PRIu64
                                ": its signed note names another size, time or root",
                                seq);
            return 0;
        }
        memcpy(root, n.root, 32);
    }
    if (seq < v->next_seq) {
        /* The record is already behind us. */
        if (!v->keep_history) {
            audit_verifier_fail(v, seq, "checkpoint at seq %" PRIu64 " is out of place", seq);
            return 0;
        }
        unsigned char want[32];
        decode_hex(head_hash, want, 32); /* checked above */
        if (memcmp(want, v->history + (seq - 1) * 64, 32) != 0) {
            audit_verifier_fail(v, seq,
                                "the signed checkpoint at seq %" PRIu64
                                " names a different head hash than record %" PRIu64,
                                seq, seq);
            return 0;
        }
        if (has_root) {
            /* Right after its record (as in an export) the running tree is
             * the one it signed; otherwise rebuild from the history. */
            uint8_t at[32];
            if (seq == v->tree.size)
                audit_merkle_range_root(&v->tree, at);
            else
                history_root(v, seq, at);
            if (memcmp(at, root, 32) != 0) {
                audit_verifier_fail(v, seq,
                                    "the signed checkpoint at seq %" PRIu64
                                    " names a different tree root than records 1..%" PRIu64,
                                    seq, seq);
                return 0;
            }
        }
        v->res->checkpoints++;
        if (seq > v->res->last_checkpoint_seq)
            v->res->last_checkpoint_seq = seq;
        return 0;
    }
    if (v->npending == v->pending_cap) {
        size_t cap = v->pending_cap ? v->pending_cap * 2 : 64;
        struct audit_pending_checkpoint *p = realloc(v->pending, cap * sizeof(*p));
        if (p == NULL)
            return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory verifying the log");
        v->pending = p;
        v->pending_cap = cap;
    }
    pending_push(v, seq, head_hash, has_root ? root : NULL);
    return 0;
}

void audit_verifier_finish(struct audit_verifier *v)
{
    if (!v->chain_broken && v->npending > 0)
        audit_verifier_fail(v, v->next_seq,
                            "record %" PRIu64 " is missing: the signed checkpoint at seq %" PRIu64
                            " covers it (the log was cut after a checkpoint)",
                            v->next_seq, v->pending_max);
    struct audit_verify_result *res = v->res;
    uint8_t root[32];
    audit_merkle_range_root(&v->tree, root);
    encode_hex(root, 32, res->root_hash);
    res->ok = res->fail_seq == 0;
}
