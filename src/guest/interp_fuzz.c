/* libFuzzer harness for the parser of the interpreter driver's events (the
 * driver runs as the workload user: its bytes are hostile). */
#include <stdint.h>
#include <stdlib.h>

#include "guest/guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guest_interp_event ev;
    const char *why = NULL;
    if (guest_interp_parse(data, size, &ev, &why) < 0) {
        if (!why)
            abort();
        return 0;
    }
    /* What the parser lets through lies within the input. */
    const struct guest_interp_field *fields[] = {&ev.text, &ev.name, &ev.value, &ev.traceback};
    for (size_t i = 0; i < 4; i++)
        if (fields[i]->len && (fields[i]->data < data || fields[i]->data + fields[i]->len > data + size))
            abort();
    if (ev.n_mime > GUEST_INTERP_MAX_MIME)
        abort();
    for (size_t i = 0; i < ev.n_mime; i++)
        if (ev.mime[i].len == 0 || ev.mime_data[i].data + ev.mime_data[i].len > data + size)
            abort();
    return 0;
}
