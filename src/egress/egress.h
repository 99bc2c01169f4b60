/* Egress: the host side of a session's outbound connections.
 *
 * The guest has no network device. When a session has egress, core starts
 * one egress per session: it sends the guest an EgressRequest (guest.proto,
 * "---- egress") that stays in flight while the session's channel lives, and
 * the guest's HTTP proxy turns every connection a workload asks for into a
 * stream of frames carrying that request's id. For each stream the host:
 *
 *   1. checks the request (host name or IP literal, port, scheme);
 *   2. for a name, asks the gate about "net.resolve" {host, port, scheme}
 *      before any lookup, so a workload cannot make the host's resolver look
 *      up names the policy does not allow (a DNS side channel);
 *   3. resolves the name with libevent's DNS client (resolv.conf and
 *      /etc/hosts, no NSS module; a bounded number at once);
 *   4. asks the gate about "net.connect" {host, port, scheme, method, path,
 *      addresses}; the decision is recorded before anything is connected;
 *   5. drops every address that is not public (loopback, private, link-local,
 *      CGNAT, multicast, unspecified, the host's own, ...) unless the
 *      decision's obligation allow_addresses covers it;
 *   6. connects without blocking to exactly one of the addresses it checked
 *      (no second lookup, so no DNS rebinding) and pipes bytes both ways
 *      within the per-stream window (EgressCredit);
 *   7. ends the stream at the limits of the decision (timeout_s, max_bytes)
 *      and of the session (egress_timeout_s, egress_max_bytes from the
 *      session.start decision), and records a NET:CONNECT audit record for
 *      every stream at its end, allowed or not.
 *
 * Everything runs on the daemon's event loop. An egress
 * borrows its gate and its proxy connection; egress_detach() must be called
 * before that connection is freed. */
#ifndef ENCLAVE_EGRESS_EGRESS_H
#define ENCLAVE_EGRESS_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "gate/gate.h"
#include "proxy/proxy.h"

struct event_base;
struct egress;
struct egress_resolver;

/* Defaults of the EgressRequest the host sends (guest.proto). */
#define EGRESS_DEFAULT_PORT 3128
#define EGRESS_DEFAULT_MAX_STREAMS 64
#define EGRESS_MAX_STREAMS_LIMIT 1024
#define EGRESS_DEFAULT_WINDOW (256u << 10)
#define EGRESS_DEFAULT_MAX_HEADER_BYTES 16384
/* One EgressData frame carries at most this much (guest.proto). */
#define EGRESS_MAX_DATA (64u << 10)
/* Without an obligation: a connection may last this long, and a connect
 * attempt this long. */
#define EGRESS_DEFAULT_TIMEOUT_S 600
#define EGRESS_CONNECT_TIMEOUT_S 10
#define EGRESS_MAX_HOST 253

/* Rate limits per session, both token buckets (a full bucket at the start).
 *
 * Opens that reach the gate: every one writes up to three durable, signed
 * audit records (the net.resolve and net.connect decisions, the stream's
 * NET:CONNECT), so a workload opening connections in a loop would grow the
 * audit database without bound. 10 a second sustained is more than a
 * workload's real fetches through the guest channel need (a package
 * install opens a connection per file at most), and a burst of 100 lets a
 * dependency resolver fetch dozens of files at once. An open over the rate
 * is refused before any decision: 429 to the workload.
 *
 * Refusals without a decision (malformed, too many streams, over the open
 * rate, the session's limits spent): a NET:CONNECT record each, at most
 * 10 a second (burst 10); the next record, or a last one when the egress
 * is detached, counts those left out ("suppressed"). A session so writes
 * at most 3 x 10 + 10 records a second, whatever its workload does. */
#define EGRESS_OPENS_PER_S 10
#define EGRESS_OPENS_BURST 100
#define EGRESS_UNDECIDED_RECORDS_PER_S 10
#define EGRESS_UNDECIDED_RECORDS_BURST 10

/* The proxy URL the workload gets in HTTP_PROXY and friends. */
#define EGRESS_PROXY_URL "http://127.0.0.1:3128"

/* ------------------------------------------------------------ addresses */

/* What kind of address an IP is. Only EGRESS_ADDR_PUBLIC is connected to
 * without the policy's explicit allow_addresses. */
#define EGRESS_ADDR_KINDS(X)                                                                   \
    X(EGRESS_ADDR_PUBLIC, "public")                                                            \
    X(EGRESS_ADDR_LOOPBACK, "loopback")           /* 127/8, ::1 */                             \
    X(EGRESS_ADDR_PRIVATE, "private")             /* 10/8, 172.16/12, 192.168/16, fc00::/7 */  \
    X(EGRESS_ADDR_LINK_LOCAL, "link-local")       /* 169.254/16, fe80::/10 */                  \
    X(EGRESS_ADDR_CGNAT, "shared")                /* 100.64/10 (RFC 6598) */                   \
    X(EGRESS_ADDR_MULTICAST, "multicast")         /* 224/4, ff00::/8 */                        \
    X(EGRESS_ADDR_UNSPECIFIED, "unspecified")     /* 0/8, ::/128 */                            \
    X(EGRESS_ADDR_RESERVED, "reserved")           /* 240/4, broadcast, 192.0.0/24, docs, benchmarking, 64:ff9b:1::/48, ... */ \
    X(EGRESS_ADDR_HOST, "host")                   /* one of this machine's own addresses */

enum egress_addr_kind {
#define X(id, name) id,
    EGRESS_ADDR_KINDS(X)
#undef X
};
const char *egress_addr_kind_name(enum egress_addr_kind kind);

/* An IPv4 or IPv6 address (IPv4-mapped IPv6 addresses are taken as IPv4). */
struct egress_addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
};

/* Parses an IP literal ("192.0.2.1", "2001:db8::1", "[2001:db8::1]");
 * 0, or -1 when text is not one. */
int egress_addr_parse(const char *text, struct egress_addr *out);
void egress_addr_format(const struct egress_addr *a, char *buf, size_t size); /* >= 46 bytes */
/* The kind by the address alone (never EGRESS_ADDR_HOST). */
enum egress_addr_kind egress_addr_classify(const struct egress_addr *a);

/* A prefix: "10.0.0.0/8", "fd00::/8", or one address ("127.0.0.1"). */
struct egress_cidr {
    struct egress_addr addr;
    unsigned bits;
};
int egress_cidr_parse(const char *text, struct egress_cidr *out);
bool egress_cidr_contains(const struct egress_cidr *c, const struct egress_addr *a);

/* A host as a workload may name it: a DNS name of letters, digits, '-',
 * '_' and dots (at most 253 bytes, labels of 1-63), or an IP literal.
 * Writes the canonical form (lowercase, no trailing dot, IPv6 without
 * brackets) to out (EGRESS_MAX_HOST + 1 bytes) and whether it is a literal.
 * 0, or -1 with err. */
int egress_host_normalize(const char *host, char *out, bool *is_literal, struct error *err);

/* ------------------------------------------------------------ resolver */

/* Name lookups on the event loop with libevent's DNS client: name servers,
 * search list and options from resolv_conf (NULL: /etc/resolv.conf), names
 * from /etc/hosts first; no C library name-service module is involved.
 * queue: the most lookups in progress at once. */
int egress_resolver_new(struct event_base *base, unsigned queue, const char *resolv_conf,
                        struct egress_resolver **out, struct error *err);
/* Lookups still in progress are failed; their callbacks never run. */
void egress_resolver_free(struct egress_resolver *r);

/* ------------------------------------------------------------ secrets in requests */

/* A plain-HTTP stream whose net.connect decision carries the obligation
 * inject_secret: the guest's bytes go through this before they reach the
 * remote. The request is parsed with http-parser; it must be one request
 * (the guest proxy sends "Connection: close"), for exactly the method, the
 * origin-form path and the host (the Host header) that were decided, with
 * no Upgrade and no folded header lines. Every header of the secret's name
 * that the guest sent is dropped, and so are Connection, Keep-Alive,
 * Proxy-Connection, Proxy-Authorization, TE and Upgrade; the head goes out
 * with "Header: value" and "Connection: close"; the body goes out as it
 * came. Anything else (a second request, bytes after the request, a
 * malformed one) is an error that ends the stream, so the secret never goes
 * with a request the policy did not see. */
struct egress_inject;

/* host: the decided host (canonical, as egress_host_normalize writes it);
 * method and path: the decided ones, or both NULL inside TLS (any method and
 * origin-form path; the host still must match);
 * header and value: what to add (value is copied and wiped at free);
 * max_head: the largest head accepted. */
int egress_inject_new(const char *host, unsigned port, const char *method, const char *path,
                      const char *header, const char *value, size_t max_head, struct egress_inject **out,
                      struct error *err);
/* The guest's next bytes; what goes to the remote is added to out (an
 * evbuffer). -1 with err when the stream must end: ERR_INVALID_ARGUMENT
 * (malformed, not what was decided, more than one request) or
 * ERR_RESOURCE_EXHAUSTED (a head over max_head). */
struct evbuffer;
int egress_inject_feed(struct egress_inject *in, const uint8_t *data, size_t len, struct evbuffer *out,
                       struct error *err);
/* How many request heads went out with the secret (0 or 1). */
unsigned egress_inject_count(const struct egress_inject *in);
/* The request's method: the decided one, or inside TLS the one its head
 * carried ("" until the head went out). */
const char *egress_inject_method(const struct egress_inject *in);
void egress_inject_free(struct egress_inject *in);

/* Builds a header value from a format with one "%s" (policy-checked) and
 * the secret, into a new buffer (wipe and free it); NULL when out of memory
 * or the format has no "%s". */
char *egress_secret_value(const char *format, const char *secret);

/* ------------------------------------------------------------ the session's CA */

/* For a CONNECT whose decision names a secret, the host terminates the
 * workload's TLS with a certificate of a CA made for the session (in memory
 * only, EC P-256, valid for valid_s seconds; the guest trusts it through the
 * EgressRequest) and opens its own TLS to the real server, verifying the
 * server's chain and name against the trust store: the PEM file named by
 * $ENCLAVE_EGRESS_TRUST_FILE, else OpenSSL's default (the system's). */
#define EGRESS_TRUST_ENV "ENCLAVE_EGRESS_TRUST_FILE"
#define EGRESS_CA_DEFAULT_VALID_S (7 * 86400)
typedef struct ssl_st SSL;
struct egress_ca;
int egress_ca_new(unsigned valid_s, struct egress_ca **out, struct error *err);
void egress_ca_free(struct egress_ca *ca);
/* The CA's certificate in PEM (what the guest adds to its trust). */
const char *egress_ca_pem(const struct egress_ca *ca);
/* A server session towards the guest with a leaf for host (a name or an IP
 * literal) signed by the CA; ALPN: http/1.1 or none. */
SSL *egress_ca_server_ssl(struct egress_ca *ca, const char *host, struct error *err);
/* A client session towards the real server: SNI, the chain and the name
 * (or IP) verified, ALPN http/1.1 only. */
SSL *egress_ca_client_ssl(struct egress_ca *ca, const char *host, struct error *err);

/* ------------------------------------------------------------ a session's egress */

struct egress_config {
    struct event_base *base;
    struct gate *gate;                /* every decision and record (borrowed) */
    struct egress_resolver *resolver; /* borrowed */
    const char *session_id;
    unsigned max_streams;             /* 0: EGRESS_DEFAULT_MAX_STREAMS */
    unsigned window;                  /* 0: EGRESS_DEFAULT_WINDOW */
    unsigned max_header_bytes;        /* 0: EGRESS_DEFAULT_MAX_HEADER_BYTES */
    /* Session limits (the session.start decision's obligations); 0: none. */
    uint64_t session_max_bytes;
    unsigned session_timeout_s;
    /* The secret store the obligation inject_secret reads from (secret.h);
     * NULL: $ENCLAVE_HOME/secrets. Read again for every connection. */
    const char *secrets_dir;
    /* The caller's identity for the policy input's caller object (copied). */
    const char *principal;
    /* Tests only: addresses treated as this host's own besides those of the
     * machine's interfaces (NULL: none). */
    const struct egress_addr *extra_host_addrs;
    size_t n_extra_host_addrs;
    /* Tests only: the clock of the rate limits, in nanoseconds (NULL: the
     * monotonic clock). */
    int64_t (*clock_ns)(void);
};

/* What an egress has done, for the audit and for tests. */
struct egress_stats {
    uint64_t streams;        /* EgressOpen frames accepted for a decision */
    uint64_t allowed;        /* streams connected */
    uint64_t refused;        /* streams refused (policy, address, limit, error) */
    uint64_t rate_limited;   /* EgressOpen frames refused over EGRESS_OPENS_PER_S */
    uint64_t bytes_out;      /* guest -> remote, whole session */
    uint64_t bytes_in;       /* remote -> guest */
    unsigned open_streams;   /* now */
    bool active;             /* an EgressRequest is in flight */
};

int egress_new(const struct egress_config *config, struct egress **out, struct error *err);
/* Sends the EgressRequest on conn and serves its frames until the guest
 * ends it or egress_detach. */
int egress_attach(struct egress *e, struct proxy_conn *conn, struct error *err);
/* Closes every stream (each recorded), cancels the request. Call before
 * freeing the connection. The egress can be attached again. */
void egress_detach(struct egress *e);
void egress_stats(const struct egress *e, struct egress_stats *out);
void egress_free(struct egress *e);

#endif
