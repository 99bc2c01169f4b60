/* libFuzzer harness for JSON Schema validation (json.verify_schema,
 * json.match_schema): the input is a JSON document {"d": document,
 * "s": schema}; the schema is also given as JSON text. */
#include "rego/bi_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = fuzz_json(data, size);
    if (!in)
        return 0;
    json_t *s = json_object_get(in, "s");
    char *text = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_object_set_new(in, "t", json_string(text ? text : ""));
    free(text);
    fuzz_eval(fuzz_query("a := json.verify_schema(input.s); b := json.verify_schema(input.t); "
                         "c := json.match_schema(input.d, input.s); d := json.match_schema(input.d, input.t)"),
              in);
    json_decref(in);
    return 0;
}
