/* libFuzzer: whatever a server answers, the host's reading of it never
 * crashes, never claims more bytes than it was given, and takes nothing
 * once the answer is whole. The first byte picks the size of the pieces
 * and whether the request was HEAD; the close comes at the end. */
#include <stdint.h>
#include <stdlib.h>

#include "egress/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] & 0x7f) + 1;
    bool head = data[0] & 0x80;
    data++;
    size--;
    struct egress_answer *a = egress_answer_new();
    if (a == NULL)
        return 0;
    egress_answer_set_head(a, head);
    uint64_t took = 0;
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        bool was_complete = egress_answer_state(a) == EGRESS_ANSWER_COMPLETE;
        size_t k = egress_answer_feed(a, data + off, n);
        if (k > n || (was_complete && k != 0))
            abort();
        took += k;
    }
    egress_answer_eof(a);
    if (egress_answer_bytes(a) != took || took > size)
        abort();
    egress_answer_free(a);
    return 0;
}
