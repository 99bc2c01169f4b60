/* libFuzzer: what the guest and the policy hand the egress parsers (host
 * names, IP literals, prefixes) must never crash them, and what parses must
 * format and parse again to the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/egress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser reads a C string: what follows a NUL byte never reaches it. */
    char *text = strndup((const char *)data, size);
    if (text == NULL)
        return 0;
    char out[EGRESS_MAX_HOST + 1];
    bool literal;
    struct error err;
    if (egress_host_normalize(text, out, &literal, &err) == 0) {
        char again[EGRESS_MAX_HOST + 1];
        bool lit2;
        if (egress_host_normalize(out, again, &lit2, &err) != 0 || strcmp(out, again) != 0 || lit2 != literal)
            abort();
    }
    struct egress_addr a;
    if (egress_addr_parse(text, &a) == 0) {
        char buf[64];
        egress_addr_format(&a, buf, sizeof(buf));
        struct egress_addr b;
        if (egress_addr_parse(buf, &b) != 0 || b.family != a.family || memcmp(a.bytes, b.bytes, 16) != 0)
            abort();
        (void)egress_addr_classify(&a);
    }
    struct egress_cidr c;
    if (egress_cidr_parse(text, &c) == 0 && c.bits > (c.addr.family == AF_INET ? 32u : 128u))
        abort();
    free(text);
    return 0;
}
