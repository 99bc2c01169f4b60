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

/* The server's answer to the one HTTP request of a stream (plain HTTP, or
 * inside the TLS the host terminates), parsed with http-parser as it passes
 * to the guest, only to tell whether all of it came: a final response
 * (1xx answers are skipped) whose body ended by its Content-Length, by the
 * last chunk, or by the server's close. The bytes go on unchanged whatever
 * the parser thinks of them. */
enum egress_answer_state {
    EGRESS_ANSWER_PARTIAL,    /* not all of it yet (or nothing) */
    EGRESS_ANSWER_COMPLETE,   /* a whole final response */
    EGRESS_ANSWER_UNREADABLE, /* not an HTTP response http-parser reads: nothing is known */
};
struct egress_answer;
/* NULL when out of memory. */
struct egress_answer *egress_answer_new(void);
void egress_answer_free(struct egress_answer *a);
/* head: the request was HEAD (the answer has a head only). Set it before
 * the first byte (inside TLS the method is known once the request is). */
void egress_answer_set_head(struct egress_answer *a, bool head);
/* The answer's next bytes. Returns how many of them belong to the answer:
 * len, or less when the answer ends inside them (what follows is not
 * looked at). */
size_t egress_answer_feed(struct egress_answer *a, const uint8_t *data, size_t len);
/* The server closed its side cleanly: an answer whose body runs until the
 * close is complete now. */
void egress_answer_eof(struct egress_answer *a);
enum egress_answer_state egress_answer_state(const struct egress_answer *a);
/* Bytes of the answer seen so far. */
uint64_t egress_answer_bytes(const struct egress_answer *a);

#endif
