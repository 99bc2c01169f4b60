/* libFuzzer: arbitrary bytes as a WebSocket client's frames, after a valid
 * opening handshake, on one connection; and the same bytes through the frame
 * header parser alone. */
#include <stddef.h>
#include <stdint.h>

#include "api/fuzz_conn.h"
#include "api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char handshake[] =
    "GET /ws HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_frame_header h;
    int r = ws_parse_header(data, size, true, &h);
    if (r == 1 && (h.header_len > size || h.header_len > WS_MAX_HEADER))
        __builtin_trap();
    fuzz_connection(handshake, sizeof(handshake) - 1, data, size);
    return 0;
}
