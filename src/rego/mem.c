/* Rego's allocator (mem.h): the C library's, with a reserve for when it
 * refuses. This file does not include mem.h's macros' targets through the
 * macros: it calls the C library by name. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/mem.h"

#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup
#undef free
#undef malloc_usable_size

/* The reserve: a bump allocator over a static block, each allocation
 * preceded by its size. It is reset when its last allocation is freed. */
#define ALIGN 16u
struct hdr {
    size_t size;
    size_t pad;
};
static _Alignas(16) unsigned char reserve[RG_RESERVE_BYTES];
static size_t reserve_used, reserve_live;
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;

static _Thread_local uint64_t tl_failures, tl_allocations, tl_fail_at;
static _Thread_local bool tl_fail_sticky;

static bool in_reserve(const void *p)
{
    return (const unsigned char *)p >= reserve && (const unsigned char *)p < reserve + sizeof(reserve);
}

static void *reserve_alloc(size_t n)
{
    size_t need = sizeof(struct hdr) + ((n + ALIGN - 1) & ~(size_t)(ALIGN - 1));
    if (n > sizeof(reserve))
        need = SIZE_MAX;
    pthread_mutex_lock(&reserve_lock);
    if (need > sizeof(reserve) - reserve_used) {
        pthread_mutex_unlock(&reserve_lock);
        rego_fatal(__FILE__, __LINE__, "out of memory: %zu bytes refused and the reserve cannot hold them", n);
    }
    struct hdr *h = (struct hdr *)(reserve + reserve_used);
    reserve_used += need;
    reserve_live++;
    pthread_mutex_unlock(&reserve_lock);
    h->size = n;
    memset(h + 1, 0, n);
    return h + 1;
}

static void reserve_free(void *p)
{
    pthread_mutex_lock(&reserve_lock);
    if (--reserve_live == 0)
        reserve_used = 0;
    pthread_mutex_unlock(&reserve_lock);
}

static size_t reserve_size(const void *p)
{
    return ((const struct hdr *)p - 1)->size;
}

/* Whether this allocation is to fail (testing), counting it. */
static bool injected(void)
{
    tl_allocations++;
    if (tl_fail_at == 0)
        return false;
    if (tl_allocations == tl_fail_at)
        return true;
    return tl_fail_sticky && tl_allocations > tl_fail_at;
}

static void failed(void)
{
    tl_failures++;
    rv_budget_out_of_memory();
}

/* value.c marks the running evaluation; this does nothing where value.c is
 * not linked (the regex engine's benchmark). */
__attribute__((weak)) void rv_budget_out_of_memory(void)
{
}

uint64_t rg_failures(void)
{
    return tl_failures;
}

size_t rg_reserve_live(void)
{
    pthread_mutex_lock(&reserve_lock);
    size_t n = reserve_live;
    pthread_mutex_unlock(&reserve_lock);
    return n;
}

uint64_t rg_allocations(void)
{
    return tl_allocations;
}

void rg_fail_at(uint64_t n, bool sticky)
{
    tl_fail_at = n ? tl_allocations + n : 0;
    tl_fail_sticky = sticky;
}

void *rg_malloc(size_t n)
{
    if (n == 0)
        n = 1;
    void *p = injected() ? NULL : malloc(n);
    if (p)
        return p;
    failed();
    return reserve_alloc(n);
}

void *rg_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        failed();
        return reserve_alloc(SIZE_MAX); /* aborts: no caller asks for this */
    }
    if (total == 0)
        total = 1;
    void *p = injected() ? NULL : calloc(1, total);
    if (p)
        return p;
    failed();
    return reserve_alloc(total);
}

static void *grow(void *p, size_t n, bool may_fail)
{
    if (p == NULL)
        return may_fail ? (injected() ? (failed(), NULL) : malloc(n ? n : 1)) : rg_malloc(n);
    if (n == 0)
        n = 1;
    if (in_reserve(p)) {
        void *q = injected() ? NULL : malloc(n);
        if (q == NULL) {
            failed();
            if (may_fail)
                return NULL;
            q = reserve_alloc(n);
        }
        size_t old = reserve_size(p);
        memcpy(q, p, old < n ? old : n);
        reserve_free(p);
        return q;
    }
    void *q = injected() ? NULL : realloc(p, n);
    if (q)
        return q;
    failed();
    if (may_fail)
        return NULL;
    q = reserve_alloc(n);
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
}

void *rg_realloc(void *p, size_t n)
{
    return grow(p, n, false);
}

void *rg_try_realloc(void *p, size_t n)
{
    return grow(p, n, true);
}

static char *copy(const char *s, size_t len)
{
    char *d = rg_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *rg_strndup(const char *s, size_t n)
{
    return copy(s, strnlen(s, n));
}

char *rg_strdup(const char *s)
{
    return copy(s, strlen(s));
}

void rg_free(void *p)
{
    if (p == NULL)
        return;
    if (in_reserve(p))
        reserve_free(p);
    else
        free(p);
}

bool rg_from_reserve(const void *p)
{
    return in_reserve(p);
}

size_t rg_usable_size(void *p)
{
    if (p == NULL)
        return 0;
    return in_reserve(p) ? reserve_size(p) : malloc_usable_size(p);
}
