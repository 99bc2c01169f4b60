/* libFuzzer harness for the proof document checker (`enclave audit
 * verify-proof`): arbitrary bytes as an inclusion or consistency proof,
 * checked against a key made once. It must never crash, leak or read out of
 * bounds, and never accept (nothing here is signed by that key). */
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
    if (key == NULL)
        return 0;
    struct audit_proof_result res;
    audit_proof_check((const char *)data, size, key, &res);
    if (res.ok)
        abort();
    return 0;
}
