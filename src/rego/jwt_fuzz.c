/* libFuzzer harness for io.jwt.decode and the signature checks: the input
 * is the token; the keys are fixed (a secret, a malformed PEM). */
#include "rego/bi_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_string("x := io.jwt.decode(input.s); y := io.jwt.verify_hs256(input.s, \"secret\")", data, size);
    return 0;
}
