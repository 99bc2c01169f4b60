/* libFuzzer harness for the JSON-lines verifier: arbitrary bytes as an
 * export, with the public key taken from the input's own header line (so
 * the PEM parser and the signature check are reached too). It must never
 * crash, leak or read out of bounds; the verdict does not matter.
 *
 * A changed record breaks its hash and the chain, and the verifier looks at
 * nothing after that; a changed checkpoint fails its signature. So the same
 * export is verified a second time sealed again: the header names the
 * harness's key, every record that has its fields gets its hash (and
 * leaf_hash) computed and links to the record before it, and every
 * checkpoint gets the head hash of the record it names, a signature by the
 * harness's key and, when it has a note, the tree root and note for its
 * size. Then what the input says about sequence numbers, sizes, order and
 * content is checked further than the first hash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit/audit.h"
#include "audit/audit_internal.h"
#include "common/encode.h"

#define MAX_SEALED_RECORDS 1024

static EVP_PKEY *key;
static char *key_pem;
static char key_id[AUDIT_HASH_HEX_SIZE];

static void make_key(void)
{
    key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    if (key == NULL || b == NULL || PEM_write_bio_PUBKEY(b, key) != 1 || audit_key_id(key, key_id, NULL) < 0)
        abort();
    long n = BIO_get_mem_data(b, &p);
    key_pem = strndup(p, (size_t)n);
    BIO_free(b);
}

static void verify(const void *text, size_t len)
{
    FILE *in = fmemopen((void *)text, len, "r");
    if (in == NULL)
        return;
    struct audit_verify_result res;
    struct error err;
    audit_verify_jsonl(in, NULL, &res, &err);
    fclose(in);
}

struct sealer {
    uint64_t seqs[MAX_SEALED_RECORDS];
    char hashes[MAX_SEALED_RECORDS][AUDIT_HASH_HEX_SIZE];
    uint8_t leaves[MAX_SEALED_RECORDS][AUDIT_MERKLE_HASH];
    size_t n;
};

static const char *str(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static void seal_record(struct sealer *s, json_t *o)
{
    struct audit_record r = {
        .seq = (uint64_t)json_integer_value(json_object_get(o, "seq")),
        .time_ns = json_integer_value(json_object_get(o, "time_ns")),
        .session_id = str(o, "session"),
        .kind_name = str(o, "kind"),
        .bundle_digest = str(o, "bundle_digest"),
        .input_digest = str(o, "input_digest"),
        .decision = str(o, "decision"),
        .reasons_json = str(o, "reasons"),
        .details_json = str(o, "details"),
        .prev_hash = s->n > 0 ? s->hashes[s->n - 1] : str(o, "prev_hash"),
    };
    if (!r.session_id || !r.kind_name || !r.bundle_digest || !r.input_digest || !r.decision ||
        !r.reasons_json || !r.details_json || !r.prev_hash || s->n == MAX_SEALED_RECORDS)
        return;
    char *prev = strdup(r.prev_hash); /* setting the field frees the string it had */
    if (prev == NULL)
        return;
    json_object_set_new(o, "prev_hash", json_string(prev));
    r.prev_hash = str(o, "prev_hash");
    free(prev);
    if (r.prev_hash == NULL)
        return; /* not UTF-8 */
    audit_record_hashes(&r, s->hashes[s->n], s->leaves[s->n]);
    s->seqs[s->n] = r.seq;
    json_object_set_new(o, "hash", json_string(s->hashes[s->n]));
    if (json_object_get(o, "leaf_hash") != NULL) {
        char hex[AUDIT_HASH_HEX_SIZE];
        encode_hex(s->leaves[s->n], AUDIT_MERKLE_HASH, hex);
        json_object_set_new(o, "leaf_hash", json_string(hex));
    }
    s->n++;
}

static void seal_checkpoint(struct sealer *s, json_t *o)
{
    json_t *seqv = json_object_get(o, "seq");
    if (!json_is_integer(seqv) || json_integer_value(seqv) < 1)
        return;
    uint64_t seq = (uint64_t)json_integer_value(seqv);
    int64_t time_ns = json_integer_value(json_object_get(o, "time_ns"));
    size_t i = 0;
    while (i < s->n && s->seqs[i] != seq)
        i++;
    if (i < s->n)
        json_object_set_new(o, "head_hash", json_string(s->hashes[i]));
    const char *head = str(o, "head_hash");
    char sig[AUDIT_SIG_B64_SIZE];
    if (head == NULL || audit_checkpoint_sign(key, seq, time_ns, head, sig, NULL) < 0)
        return;
    json_object_set_new(o, "signature", json_string(sig));
    json_object_set_new(o, "key_id", json_string(key_id));
    if (json_is_string(json_object_get(o, "note")) && i < s->n) {
        uint8_t root[AUDIT_MERKLE_HASH];
        char hex[AUDIT_HASH_HEX_SIZE];
        char *note = NULL;
        audit_merkle_root((const uint8_t(*)[AUDIT_MERKLE_HASH])s->leaves, i + 1, root);
        encode_hex(root, AUDIT_MERKLE_HASH, hex);
        if (audit_note_sign(key, seq, root, time_ns, &note, NULL) == 0) {
            json_object_set_new(o, "root_hash", json_string(hex));
            json_object_set_new(o, "note", json_string(note));
            free(note);
        }
    }
}

/* The export sealed again (see the top); NULL when nothing in it parses. */
static char *sealed_again(const uint8_t *data, size_t size, size_t *len)
{
    struct sealer *s = calloc(1, sizeof(*s));
    char *out = NULL;
    size_t out_len = 0;
    FILE *mem = open_memstream(&out, &out_len);
    if (s == NULL || mem == NULL) {
        free(s);
        if (mem)
            fclose(mem);
        free(out);
        return NULL;
    }
    unsigned changed = 0;
    for (size_t off = 0; off < size;) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : size - off;
        json_t *o = json_loadb((const char *)data + off, n, 0, NULL);
        const char *type = str(o, "type");
        if (type != NULL) {
            if (strcmp(type, "header") == 0) {
                json_object_set_new(o, "public_key", json_string(key_pem));
                json_object_set_new(o, "key_id", json_string(key_id));
            } else if (strcmp(type, "record") == 0) {
                seal_record(s, o);
            } else if (strcmp(type, "checkpoint") == 0) {
                seal_checkpoint(s, o);
            }
            char *line = json_dumps(o, JSON_COMPACT);
            if (line != NULL) {
                fputs(line, mem);
                free(line);
                changed++;
            }
        } else {
            fwrite(data + off, 1, n, mem);
        }
        if (nl)
            fputc('\n', mem);
        json_decref(o);
        off += n + (nl ? 1 : 0);
    }
    fclose(mem);
    free(s);
    if (changed == 0) {
        free(out);
        return NULL;
    }
    *len = out_len;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (key == NULL)
        make_key();
    verify(data, size);
    size_t len = 0;
    char *text = sealed_again(data, size, &len);
    if (text != NULL) {
        if (len > 0)
            verify(text, len);
        free(text);
    }
    return 0;
}
