/* libFuzzer: arbitrary bytes as the Firecracker API's answer, fed to the
 * response reader in pieces whose sizes the first byte chooses, then the
 * fault_message extraction on whatever body came out. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm/fc_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct fc_api_reader *r = NULL;
    struct error err;
    if (fc_api_reader_new(&r, &err) < 0)
        return 0;
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        rc = fc_api_reader_feed(r, (const char *)data + off, n, &err);
    }
    if (rc == 0)
        rc = fc_api_reader_feed(r, "", 0, &err);
    if (rc == 1) {
        struct fc_api_response resp;
        fc_api_reader_take(r, &resp);
        assert(resp.body_len <= FC_API_MAX_RESPONSE);
        assert(resp.body == NULL || resp.body[resp.body_len] == '\0');
        char fault[FC_API_MAX_FAULT];
        fc_api_fault_message(&resp, fault, sizeof(fault));
        assert(strlen(fault) < sizeof(fault));
        for (const char *p = fault; *p; p++)
            assert(*p >= 0x20 && *p < 0x7f);
        fc_api_response_release(&resp);
    }
    fc_api_reader_free(r);
    return 0;
}
