/* Rego's allocator: what happens when the system refuses memory.
 *
 * Every rego source file includes this header last, after the system
 * headers, so that its malloc, calloc, realloc, strdup, strndup, free and
 * malloc_usable_size calls come here. The functions never return NULL (for
 * a non-zero request): when the C library refuses, the allocation is served
 * from a reserve (RG_RESERVE_BYTES, static, shared by the threads), the
 * thread's failure count goes up, and the memory budget of an evaluation
 * running on the thread is marked exceeded. The evaluator then stops at its
 * next step, and every public function in rego.c that saw the count change
 * returns an error (eval_budget_error, "out of memory") instead of a
 * result, having freed what it built: a policy decision that meets an
 * allocation failure fails closed, and the daemon lives on. An engine whose
 * modules or data were being loaded when it happened refuses everything
 * afterwards. Only a failure the reserve cannot cover either (the reserve
 * is used up, or one request is larger than what is left) still aborts.
 *
 * Memory from the reserve is released by rg_free like any other. */
#ifndef ENCLAVE_REGO_MEM_H
#define ENCLAVE_REGO_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rego/internal.h"

#define RG_RESERVE_BYTES (4u << 20)

void *rg_malloc(size_t n);
void *rg_calloc(size_t n, size_t size);
void *rg_realloc(void *p, size_t n);
char *rg_strdup(const char *s);
char *rg_strndup(const char *s, size_t n);
void rg_free(void *p);
size_t rg_usable_size(void *p);
/* Whether p was served from the reserve (such memory is not kept). */
bool rg_from_reserve(const void *p);
/* Like rg_realloc, but NULL (p unchanged) when the C library refuses: for
 * buffers that can stop growing instead (the failure is still counted). */
void *rg_try_realloc(void *p, size_t n);

/* Allocation failures on this thread so far. */
uint64_t rg_failures(void);
#define RG_OOM_MESSAGE "out of memory: the system refused an allocation"

/* Testing: the allocation `n` allocations from now (1: the next) fails as
 * if the C library refused, and with `sticky` every one after it too; 0
 * turns it off. rg_allocations counts this thread's allocations. */
void rg_fail_at(uint64_t n, bool sticky);
uint64_t rg_allocations(void);
/* Allocations from the reserve not yet freed (all threads): what a leak
 * check must also see, as the sanitizers do not. */
size_t rg_reserve_live(void);

/* Defined by value.c: marks the running evaluation's budget exceeded. */
void rv_budget_out_of_memory(void);

#define malloc(n) rg_malloc(n)
#define calloc(n, s) rg_calloc(n, s)
#define realloc(p, n) rg_realloc(p, n)
#define strdup(s) rg_strdup(s)
#define strndup(s, n) rg_strndup(s, n)
#define free(p) rg_free(p)
#define malloc_usable_size(p) rg_usable_size(p)

#endif
