/* libFuzzer harness for the checkpoint note parser (C2SP signed note with a
 * tlog-checkpoint body): arbitrary bytes are parsed, then checked against a
 * key made once. It must never crash, leak or read out of bounds; nothing
 * random can verify. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "audit/audit_internal.h"

static EVP_PKEY *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (key == NULL)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    struct audit_note note;
    struct error err;
    if (audit_note_parse((const char *)data, size, &note, &err) == 0 && note.nsigs == 0)
        abort(); /* the parser promises at least one signature line */
    if (key != NULL && audit_note_verify(key, (const char *)data, size, &note, &err) == 0)
        abort(); /* a signature from fuzz bytes: impossible */
    return 0;
}
