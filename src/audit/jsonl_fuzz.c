/* libFuzzer harness for the JSON-lines verifier: arbitrary bytes as an
 * export, with the public key taken from the input's own header line (so
 * the PEM parser and the signature check are reached too). It must never
 * crash, leak or read out of bounds; the verdict does not matter. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *in = fmemopen((void *)data, size, "r");
    if (in == NULL)
        return 0;
    struct audit_verify_result res;
    struct error err;
    audit_verify_jsonl(in, NULL, &res, &err);
    fclose(in);
    return 0;
}
