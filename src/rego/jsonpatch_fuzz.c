/* libFuzzer harness for json.patch, json.filter and json.remove: the input
 * is a JSON document {"d": target, "p": patches or paths}. */
#include "rego/bi_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *in = json_loadb((const char *)data, size, 0, &je);
    if (!in)
        return 0;
    fuzz_eval(fuzz_query("x := json.patch(input.d, input.p)"), in);
    static struct rego_query *filter;
    if (!filter) {
        struct rego *r = rego_new();
        struct rego_error err;
        struct rego_options o = { .max_steps = 100000, .max_memory = 64u << 20 };
        rego_set_options(r, &o);
        if (rego_compile(r, &err) < 0 ||
            !(filter = rego_prepare(r, "x := json.filter(input.d, input.p); y := json.remove(input.d, input.p)", &err)))
            abort();
    }
    fuzz_eval(filter, in);
    json_decref(in);
    return 0;
}
