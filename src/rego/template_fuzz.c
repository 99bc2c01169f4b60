/* libFuzzer harness for the parsers of templates and layouts:
 * strings.render_template (Go text/template), regex.template_match (delimited regular expressions), regex.globs_match
 * (pattern intersection), time.parse_ns and
 * time.format (Go layouts), time.parse_duration_ns, time.parse_rfc3339_ns
 * and units.parse. The first line of the input is the template or layout,
 * the rest the value. */
#include "rego/bi_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tl = nl ? (size_t)(nl - data) : size;
    json_t *in = json_pack("{s:s%, s:s%}", "t", (const char *)data, tl, "v", nl ? (const char *)nl + 1 : "",
                           nl ? size - tl - 1 : 0);
    if (!in)
        return 0;
    fuzz_eval(fuzz_query("a := regex.template_match(input.t, input.v, \"{\", \"}\"); "
                         "b := regex.globs_match(input.t, input.v)"),
              in);
    static struct rego_query *times;
    if (!times)
        times = fuzz_prepare("a := [x | x := time.parse_ns(input.t, input.v)]; "
                             "b := [x | x := time.format([0, \"UTC\", input.t])]; "
                             "c := [x | x := time.parse_duration_ns(input.v)]; "
                             "d := [x | x := time.parse_rfc3339_ns(input.v)]; "
                             "e := [x | x := units.parse(input.v)]", false);
    fuzz_eval(times, in);
    static struct rego_query *render;
    if (!render)
        render = fuzz_prepare("a := strings.render_template(input.t, {\"v\": input.v, \"a\": [1, \"x\", null, [2]], "
                              "\"m\": {\"k\": 2.5, \"e\": {}}, \"n\": 12345678901234567890})", false);
    fuzz_eval(render, in);
    json_decref(in);
    return 0;
}
