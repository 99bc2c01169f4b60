/* libFuzzer harness for the proof document checker (`enclave audit
 * verify-proof`): arbitrary bytes as an inclusion or consistency proof,
 * checked against a key made once. It must never crash, leak or read out of
 * bounds, and never accept as it came (nothing here is signed by that key).
 *
 * A checkpoint signed by another key stops the check at the signature, so
 * the Merkle path checks, the leaf and the record behind it would never be
 * reached. So the same document is checked a second time with each of its
 * checkpoints (checkpoint, new_checkpoint, old_checkpoint) that parses
 * signed again by the harness's key for the tree size and root it claims:
 * then everything after the signature is the input's, and the checker may
 * accept (the seeds are real proofs). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit/audit_internal.h"

static EVP_PKEY *key;

/* The document with its parsable checkpoints signed by key; NULL when it is
 * not a JSON object or has none. */
static char *signed_again(const uint8_t *data, size_t size, size_t *len)
{
    static const char *const names[] = {"checkpoint", "new_checkpoint", "old_checkpoint"};
    json_t *o = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    unsigned changed = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *v = json_object_get(o, names[i]);
        struct audit_note n;
        struct error err;
        char *note = NULL;
        if (json_is_string(v) && audit_note_parse(json_string_value(v), json_string_length(v), &n, &err) == 0 &&
            audit_note_sign(key, n.size, n.root, n.has_time ? n.time_ns : 0, &note, &err) == 0) {
            json_object_set_new(o, names[i], json_string(note));
            free(note);
            changed++;
        }
    }
    char *text = changed ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    *len = text ? strlen(text) : 0;
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (key == NULL)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (key == NULL)
        return 0;
    struct audit_proof_result res;
    audit_proof_check((const char *)data, size, key, &res);
    if (res.ok)
        abort();
    size_t len;
    char *text = signed_again(data, size, &len);
    if (text != NULL) {
        audit_proof_check(text, len, key, &res);
        free(text);
    }
    return 0;
}
