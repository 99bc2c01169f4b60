/* libFuzzer: the HTTP/2 client preface, then arbitrary bytes as frames. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "api/fuzz_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    fuzz_connection(preface, sizeof(preface) - 1, data, size);
    return 0;
}
