/* libFuzzer: arbitrary bytes as the body of a Firecracker API error, through
 * the fault_message extraction that puts its text into an error message.
 * (The HTTP response around it is fuzzed by src/http/reader_fuzz.c.) */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/fc_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FC_API_MAX_RESPONSE)
        return 0;
    struct fc_api_response resp = {.status = 400, .body = malloc(size + 1), .body_len = size};
    if (resp.body == NULL)
        return 0;
    memcpy(resp.body, data, size);
    resp.body[size] = '\0';
    char fault[FC_API_MAX_FAULT];
    fc_api_fault_message(&resp, fault, sizeof(fault));
    assert(strlen(fault) < sizeof(fault));
    for (const char *p = fault; *p; p++)
        assert(*p >= 0x20 && *p < 0x7f);
    fc_api_response_release(&resp);
    return 0;
}
