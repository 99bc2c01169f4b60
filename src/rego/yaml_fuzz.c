/* libFuzzer harness for yaml.unmarshal (libyaml events to values, aliases,
 * YAML 1.1 scalars) and yaml.marshal of what it read. */
#include "rego/bi_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_string("x := yaml.marshal(yaml.unmarshal(input.s)); y := yaml.is_valid(input.s)", data, size);
    return 0;
}
