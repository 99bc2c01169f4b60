/* libFuzzer harness for the file routes' path parsing (any bytes a client
 * can put in a request path). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser reads a C string: what follows a NUL byte never reaches it. */
    char *path = strndup((const char *)data, size);
    if (path == NULL)
        return 0;
    char sid[65];
    char *guest = NULL;
    struct error err;
    if (daemon_file_route_parse(path, sid, sizeof(sid), &guest, &err) == 0) {
        /* A guest path is absolute, NUL-free and never ends in '/' (but "/"). */
        size_t n = strlen(guest);
        if (guest[0] != '/' || (n > 1 && guest[n - 1] == '/') || strlen(sid) == 0 || strlen(sid) >= sizeof(sid))
            abort();
        free(guest);
    } else if (guest != NULL) {
        abort();
    }
    free(path);
    return 0;
}
