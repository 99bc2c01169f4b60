/* libFuzzer: arbitrary bytes as one HTTP/1.1 connection's input. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "api/fuzz_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_connection(NULL, 0, data, size);
    return 0;
}
