/* Addresses and host names for egress (egress.h): parsing, prefixes, and the
 * classification that decides which addresses are public. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/egress.h"

const char *egress_addr_kind_name(enum egress_addr_kind kind)
{
    switch (kind) {
#define X(id, name)                                                                                \
    case id:                                                                                       \
        return name;
        EGRESS_ADDR_KINDS(X)
#undef X
    }
    return "?";
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int egress_addr_parse(const char *text, struct egress_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL)
        return -1;
    size_t n = strlen(text);
    if (n == 0 || n > 64)
        return -1;
    char buf[72];
    if (text[0] == '[') {
        if (n < 3 || text[n - 1] != ']')
            return -1;
        memcpy(buf, text + 1, n - 2);
        buf[n - 2] = '\0';
        if (inet_pton(AF_INET6, buf, out->bytes) != 1)
            return -1;
        out->family = AF_INET6;
    } else if (inet_pton(AF_INET, text, out->bytes) == 1) {
        out->family = AF_INET;
        return 0;
    } else if (inet_pton(AF_INET6, text, out->bytes) == 1) {
        out->family = AF_INET6;
    } else {
        return -1;
    }
    /* ::ffff:a.b.c.d is the IPv4 address a.b.c.d on the wire. */
    if (memcmp(out->bytes, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        uint8_t v4[4];
        memcpy(v4, out->bytes + 12, 4);
        memset(out->bytes, 0, sizeof(out->bytes));
        memcpy(out->bytes, v4, 4);
        out->family = AF_INET;
    }
    return 0;
}

void egress_addr_format(const struct egress_addr *a, char *buf, size_t size)
{
    if (inet_ntop(a->family, a->bytes, buf, (socklen_t)size) == NULL && size > 0)
        snprintf(buf, size, "?");
}

static bool prefix_match(const uint8_t *a, const uint8_t *p, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, p, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (p[full] & mask);
}

struct range {
    const char *prefix;
    unsigned bits;
    enum egress_addr_kind kind;
};

/* IANA's special-purpose registries (RFC 6890 and updates); the first match
 * wins, so narrower ranges come first. */
static const struct range v4_ranges[] = {
    {"0.0.0.0", 8, EGRESS_ADDR_UNSPECIFIED},
    {"127.0.0.0", 8, EGRESS_ADDR_LOOPBACK},
    {"10.0.0.0", 8, EGRESS_ADDR_PRIVATE},
    {"172.16.0.0", 12, EGRESS_ADDR_PRIVATE},
    {"192.168.0.0", 16, EGRESS_ADDR_PRIVATE},
    {"169.254.0.0", 16, EGRESS_ADDR_LINK_LOCAL},
    {"100.64.0.0", 10, EGRESS_ADDR_CGNAT},
    {"224.0.0.0", 4, EGRESS_ADDR_MULTICAST},
    {"255.255.255.255", 32, EGRESS_ADDR_RESERVED},
    {"240.0.0.0", 4, EGRESS_ADDR_RESERVED},
    {"192.0.0.0", 24, EGRESS_ADDR_RESERVED},   /* IETF protocol assignments */
    {"192.0.2.0", 24, EGRESS_ADDR_RESERVED},   /* documentation */
    {"198.51.100.0", 24, EGRESS_ADDR_RESERVED},
    {"203.0.113.0", 24, EGRESS_ADDR_RESERVED},
    {"198.18.0.0", 15, EGRESS_ADDR_RESERVED},  /* benchmarking */
    {"192.88.99.0", 24, EGRESS_ADDR_RESERVED}, /* 6to4 relay anycast */
};

static const struct range v6_ranges[] = {
    {"::", 128, EGRESS_ADDR_UNSPECIFIED},
    {"::1", 128, EGRESS_ADDR_LOOPBACK},
    {"fe80::", 10, EGRESS_ADDR_LINK_LOCAL},
    {"fc00::", 7, EGRESS_ADDR_PRIVATE},
    {"ff00::", 8, EGRESS_ADDR_MULTICAST},
    {"fec0::", 10, EGRESS_ADDR_RESERVED},      /* site-local (deprecated) */
    {"::", 96, EGRESS_ADDR_RESERVED},          /* IPv4-compatible (deprecated) */
    {"64:ff9b::", 96, EGRESS_ADDR_RESERVED},   /* NAT64: may reach any IPv4 address */
    {"64:ff9b:1::", 48, EGRESS_ADDR_RESERVED},
    {"100::", 64, EGRESS_ADDR_RESERVED},       /* discard */
    {"2001::", 23, EGRESS_ADDR_RESERVED},      /* IETF protocol assignments, Teredo */
    {"2001:db8::", 32, EGRESS_ADDR_RESERVED},  /* documentation */
    {"2002::", 16, EGRESS_ADDR_RESERVED},      /* 6to4: embeds any IPv4 address */
};

static enum egress_addr_kind classify_in(const struct range *ranges, size_t n, int family,
                                         const struct egress_addr *a)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t p[16] = {0};
        if (inet_pton(family, ranges[i].prefix, p) != 1)
            continue;
        if (prefix_match(a->bytes, p, ranges[i].bits))
            return ranges[i].kind;
    }
    return EGRESS_ADDR_PUBLIC;
}

enum egress_addr_kind egress_addr_classify(const struct egress_addr *a)
{
    if (a->family == AF_INET)
        return classify_in(v4_ranges, sizeof(v4_ranges) / sizeof(v4_ranges[0]), AF_INET, a);
    if (a->family == AF_INET6)
        return classify_in(v6_ranges, sizeof(v6_ranges) / sizeof(v6_ranges[0]), AF_INET6, a);
    return EGRESS_ADDR_RESERVED;
}

int egress_cidr_parse(const char *text, struct egress_cidr *out)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL || strlen(text) > 64)
        return -1;
    char buf[72];
    snprintf(buf, sizeof(buf), "%s", text);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        const char *b = slash + 1;
        if (*b == '\0' || strlen(b) > 3)
            return -1;
        bits = 0;
        for (; *b; b++) {
            if (*b < '0' || *b > '9')
                return -1;
            bits = bits * 10 + (*b - '0');
        }
    }
    if (egress_addr_parse(buf, &out->addr) < 0)
        return -1;
    /* A mapped IPv6 prefix became IPv4: its length counts from bit 96. */
    bool mapped = out->addr.family == AF_INET && strchr(buf, ':') != NULL;
    unsigned max = out->addr.family == AF_INET ? 32 : 128;
    if (bits < 0)
        bits = max;
    else if (mapped) {
        if (bits < 96)
            return -1;
        bits -= 96;
    }
    if (bits > (long)max)
        return -1;
    out->bits = (unsigned)bits;
    return 0;
}

bool egress_cidr_contains(const struct egress_cidr *c, const struct egress_addr *a)
{
    return c->addr.family == a->family && prefix_match(a->bytes, c->addr.bytes, c->bits);
}

int egress_host_normalize(const char *host, char *out, bool *is_literal, struct error *err)
{
    out[0] = '\0';
    *is_literal = false;
    if (host == NULL || host[0] == '\0')
        return error_set(err, ERR_INVALID_ARGUMENT, "no host");
    size_t n = strnlen(host, EGRESS_MAX_HOST + 3);
    if (n > EGRESS_MAX_HOST + 2)
        return error_set(err, ERR_INVALID_ARGUMENT, "the host name is longer than %d bytes",
                         EGRESS_MAX_HOST);
    struct egress_addr a;
    if (egress_addr_parse(host, &a) == 0) {
        egress_addr_format(&a, out, EGRESS_MAX_HOST + 1);
        *is_literal = true;
        return 0;
    }
    if (host[n - 1] == '.')
        n--; /* the root's dot: "example.com." is "example.com" */
    if (n == 0 || n > EGRESS_MAX_HOST)
        return error_set(err, ERR_INVALID_ARGUMENT, "the host name is empty or longer than %d bytes",
                         EGRESS_MAX_HOST);
    size_t label = 0;
    bool all_numeric = true;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (c == '.') {
            if (label == 0)
                return error_set(err, ERR_INVALID_ARGUMENT, "the host name has an empty label");
            label = 0;
            out[i] = '.';
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "the host name may use only letters, digits, '-', '_' and dots");
        if (!(c >= '0' && c <= '9'))
            all_numeric = false;
        if (++label > 63)
            return error_set(err, ERR_INVALID_ARGUMENT, "a label of the host name is longer than 63 bytes");
        out[i] = c;
    }
    if (label == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "the host name has an empty label");
    out[n] = '\0';
    /* "2130706433" or "127.1": getaddrinfo would take them as IPv4 numbers
     * in forms inet_pton does not; no name is all digits and dots. */
    if (all_numeric)
        return error_set(err, ERR_INVALID_ARGUMENT, "'%s' is neither a host name nor a dotted IPv4 address",
                         out);
    /* Single labels ("localhost") and forms like "0x7f.1" that the resolver
     * may read as numbers are names here: their addresses are checked. */
    return 0;
}
