/* libFuzzer: ApplyPolicy documents (Rego text, YAML, JSON) through the whole
 * load: YAML/JSON decoding, module names, parse, compile, the bundle's own
 * tests, and one decision. It must never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_limits lim = {.max_steps = 20000, .max_test_steps = 20000, .max_eval_ms = 1000};
    struct error err;
    struct policy_bundle *b = NULL;
    if (policy_bundle_load_document((const char *)data, size, &lim, &b, &err) == 0) {
        json_t *input = json_pack("{s:s}", "action", "exec");
        struct policy_decision d;
        policy_decide(b, input, &d);
        policy_decision_release(&d);
        json_decref(input);
        policy_bundle_free(b);
    }
    json_t *v = NULL;
    if (policy_yaml_to_json((const char *)data, size, &v, &err) == 0) {
        struct policy_decision d;
        policy_decision_from_value(v, &d);
        policy_decision_release(&d);
        json_decref(v);
    }
    return 0;
}
