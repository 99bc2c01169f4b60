/* libFuzzer harness for json.patch, json.filter and json.remove: the input
 * is a JSON document {"d": target, "p": patches or paths}. */
#include "rego/bi_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = fuzz_json(data, size);
    if (!in)
        return 0;
    fuzz_eval(fuzz_query("x := json.patch(input.d, input.p)"), in);
    static struct rego_query *filter;
    if (!filter)
        filter = fuzz_prepare("x := json.filter(input.d, input.p); y := json.remove(input.d, input.p)", false);
    fuzz_eval(filter, in);
    json_decref(in);
    return 0;
}
