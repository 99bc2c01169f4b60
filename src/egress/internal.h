/* What the egress module's files share (not part of egress.h). */
#ifndef ENCLAVE_EGRESS_INTERNAL_H
#define ENCLAVE_EGRESS_INTERNAL_H

#include "egress/egress.h"

#define EGRESS_MAX_ADDRS 16

struct egress_lookup;
/* addrs: the lookup's addresses (at most EGRESS_MAX_ADDRS, in the resolver's
 * order), or n == 0 and error set. Runs on the event loop. */
typedef void (*egress_lookup_fn)(const struct egress_addr *addrs, size_t n, const char *error,
                                 void *ctx);

/* Queues a lookup of host (a name, not a literal). ERR_RESOURCE_EXHAUSTED
 * when the queue is full. *out is valid until cb runs or the lookup is
 * cancelled. */
int egress_lookup_start(struct egress_resolver *r, const char *host, egress_lookup_fn cb, void *ctx,
                        struct egress_lookup **out, struct error *err);
/* cb never runs; the worker's answer is dropped when it comes. */
void egress_lookup_cancel(struct egress_lookup *l);

#endif
