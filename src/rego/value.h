/* Rego values: null, boolean, number, string, array, object, set.
 *
 * OWNERSHIP, the one rule for this file: values are refcounted and immutable
 * once constructed. Every function that returns a `struct rv *` returns a new
 * reference that the caller must rv_decref(); every argument is borrowed,
 * EXCEPT the ones named `take` (and the items of a struct rvbuf handed to a
 * constructor), which the callee consumes. Lookups (rv_object_get,
 * rv_array_at, rv_set_find) return borrowed pointers that live as long as
 * the container.
 *
 * Order (OPA's, ast/compare.go): null < boolean < number < string < array <
 * object < set; false < true; numbers by value; strings bytewise; arrays
 * element by element, then by length; objects by their sorted keys then
 * values pairwise, then by size; sets like sorted arrays.
 *
 * Numbers: an exact int64; a double for ordinary non-integers; or, where
 * neither is exact (integers beyond 64 bits, more than 15 significant
 * digits, exponents beyond a double's), an arbitrary-precision decimal
 * (is_big). A value that fits a smaller form always uses it, so 1.0 == 1 and
 * equal numbers have one representation. + - * on integers are exact at any
 * size; other arithmetic on big numbers goes through a double and is an
 * error when the result would not be finite. Never a silent wrap. */
#ifndef ENCLAVE_REGO_VALUE_H
#define ENCLAVE_REGO_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "rego/internal.h"

enum rv_type { RV_NULL, RV_BOOL, RV_NUMBER, RV_STRING, RV_ARRAY, RV_OBJECT, RV_SET };

/* The deepest value the engine holds: an array, set or object counts one
 * level more than its deepest element (or key), a scalar none. It is
 * jansson's parsing depth (JSON_PARSER_MAX_DEPTH), so every JSON document
 * jansson reads converts (jansson counts a scalar as a level too, so a
 * value 2048 deep with a scalar at the bottom is one more than it reads
 * back: json.unmarshal of its json.marshal is an error). Every function that walks a value recursively (compare,
 * free, write, to_json, freeze, the builtins) relies on it to stay within
 * the stack. A collection that would be deeper is built with null in
 * place of each element that is already this deep, and the running
 * evaluation's budget is marked (too_deep): the evaluation stops at its
 * next step with "value nested deeper than 2048 levels". */
#define REGO_MAX_VALUE_DEPTH 2048

struct rv {
    uint32_t refs;   /* 0: immortal (the null/true/false singletons) */
    uint8_t type;
    uint8_t is_int : 1;   /* numbers: u.i; strings: characters allocated with the value */
    uint8_t is_big : 1;   /* numbers: u.big */
    uint8_t in_block : 1; /* immortal, in a block of rv_from_json_block: lives as long as the block */
    uint16_t depth;  /* arrays, sets, objects: 1 + the deepest element; scalars 0 */
    union {
        bool b;
        int64_t i;
        double d;
        struct rvbig *big;
        struct { size_t len; char *s; } str;          /* NUL-terminated, may contain NUL */
        struct { size_t len; struct rv **v; } arr;    /* array; set (sorted, unique) */
        struct { size_t len; struct rv **k; struct rv **v; } obj; /* sorted by key */
    } u;
};

/* Value headers that were freed, kept to be used again instead of going
 * back to the C library (at most 256): a prepared query keeps them from
 * one evaluation to the next. */
struct rv_spares {
    struct rv *hdr;       /* linked through u.arr.v */
    unsigned nhdr;
};
void rv_spares_free(struct rv_spares *s);

/* The memory budget of one evaluation. While one is begun on a thread,
 * every value built on that thread counts its bytes until it is freed;
 * when the live total passes `limit`, `exceeded` is set (and stays set).
 * Lists and strings the budget cannot hold are not grown (rvbuf_push drops
 * the value, sb_add drops the text), so no single allocation runs past it;
 * the evaluator checks the flag at every step and after every builtin and
 * stops with eval_budget_error. Begin/end nest (end restores `saved`). */
struct rv_budget {
    int64_t live;
    uint64_t limit;
    bool exceeded;
    bool too_deep;   /* exceeded because a value passed REGO_MAX_VALUE_DEPTH */
    /* statistics (enclave policy bench): allocations charged, their bytes,
     * the most live bytes at once */
    uint64_t allocs, bytes;
    int64_t peak;
    /* memory freed during the evaluation, kept for the values it (or,
     * handed on, the next evaluation) builds; freed by rv_budget_end */
    struct rv_spares spares;
};
void rv_budget_begin(struct rv_budget *b, uint64_t limit, struct rv_budget **saved);
void rv_budget_end(struct rv_budget *saved);
bool rv_budget_exceeded(void);
uint64_t rv_budget_limit(void);
/* Whether n more bytes fit; when not, marks the budget exceeded. Builtins
 * whose output can be much larger than their input ask first. */
bool rv_budget_room(size_t n);

/* A growable list of owned references, used to build arrays, sets, objects. */
struct rvbuf {
    struct rv **v;
    size_t len, cap;
};

static inline struct rv *rv_incref(struct rv *v)
{
    if (v && v->refs)
        v->refs++;
    return v;
}
void rv_free_(struct rv *v);
static inline void rv_decref(struct rv *v)
{
    if (v && v->refs && --v->refs == 0)
        rv_free_(v);
}

/* Freezing: after compiling, an engine makes the values it owns immortal
 * (refs = 0) so that threads evaluating at once never write to them, and
 * keeps them in a list to free them together at the end. */
struct rv_frozen {
    struct rv **v;
    size_t len, cap;
};
void rv_freeze(struct rv *v, struct rv_frozen *list);
void rv_frozen_free(struct rv_frozen *list);

struct rv *rv_null(void);
struct rv *rv_bool(bool b);
struct rv *rv_int(int64_t i);
struct rv *rv_double(double d);   /* NaN/Inf are rejected by callers */
/* A number from its decimal text (JSON syntax); NULL when malformed. */
struct rv *rv_number_text(const char *s, size_t len);
struct rv *rv_string(const char *s, size_t len);
struct rv *rv_cstr(const char *s);
struct rv *rv_string_take(char *s, size_t len);   /* s: malloc'd, len+1 bytes */

void rvbuf_push(struct rvbuf *b, struct rv *take);
void rvbuf_clear(struct rvbuf *b);
void rvbuf_reserve(struct rvbuf *b, size_t n);   /* room for n (unless the budget refuses) */

struct rv *rv_array_take(struct rvbuf *b);          /* empties b */
struct rv *rv_set_take(struct rvbuf *b);            /* sorts, drops duplicates */
/* Keys and values pairwise; sorts; equal keys with equal values collapse,
 * equal keys with different values return NULL (a conflict). Empties both. */
struct rv *rv_object_take(struct rvbuf *keys, struct rvbuf *vals);
struct rv *rv_empty_array(void);
struct rv *rv_empty_object(void);
struct rv *rv_empty_set(void);

int rv_compare(const struct rv *a, const struct rv *b);
static inline bool rv_equal(const struct rv *a, const struct rv *b)
{
    return a == b || rv_compare(a, b) == 0;
}
/* A sort order consistent with rv_compare, for qsort. */
int rv_qsort_cmp(const void *a, const void *b);

struct rv *rv_object_get(const struct rv *obj, const struct rv *key);      /* borrowed */
struct rv *rv_object_get_str(const struct rv *obj, const char *key);      /* borrowed */
struct rv *rv_set_find(const struct rv *set, const struct rv *key);        /* borrowed */
/* The index of key in arr (n values sorted by rv_compare, unique), or -1. */
long rv_sorted_find(struct rv *const *arr, size_t n, const struct rv *key);
/* obj with key set to val (a new object). */
struct rv *rv_object_put(const struct rv *obj, struct rv *key, struct rv *val);
/* Recursive merge: objects merge key by key; otherwise `b` wins unless
 * `conflict` is given, which is set when both are non-objects that differ. */
struct rv *rv_merge(struct rv *a, struct rv *b, bool *conflict);

bool rv_as_int(const struct rv *v, int64_t *out);  /* integral number that fits */
double rv_as_double(const struct rv *v);
int rv_sign(const struct rv *v);                    /* -1, 0, 1 */
const char *rv_type_name(const struct rv *v);       /* OPA's type_name */

/* Arithmetic; < 0 on error with a message in err (64 bytes). */
int rv_arith(char op, const struct rv *a, const struct rv *b, struct rv **out, char *err, size_t errlen);

/* JSON. NULL, with *why (when given) set to the reason, on non-finite
 * numbers or nesting deeper than REGO_MAX_VALUE_DEPTH. */
struct rv *rv_from_json(const json_t *j, const char **why);
json_t *rv_to_json(const struct rv *v);    /* sets become arrays; non-string keys serialized */
/* The input of one evaluation: the whole tree bump-allocated in a block
 * (*block: 4 KiB chunks, one for an ordinary input; strings point into j,
 * which must outlive the block),
 * every value immortal (no reference counting, no budget) and valid until
 * rv_block_free(*block). Whatever keeps a value beyond that takes
 * rv_own() of it. NULL on non-finite numbers, nesting deeper than
 * REGO_MAX_VALUE_DEPTH or when memory runs out (*why, when given, says). */
struct rv *rv_from_json_block(const json_t *j, void **block, const char **why);
void rv_block_free(void *block);
/* The same with a chunk kept from an earlier block (*spare, or NULL):
 * rv_block_release frees a block but for its first chunk, which it leaves
 * in *spare (when empty) for the next conversion; rv_block_free(*spare)
 * frees it at the end. The strings of the values are the characters of
 * the json_t: j must outlive the block. */
struct rv *rv_from_json_block_in(const json_t *j, void **block, void **spare, const char **why);
void rv_block_release(void *block, void **spare);
/* A reference that stays valid after the block v (or a value inside v)
 * may live in is freed: v itself, or a copy where a block is involved. */
struct rv *rv_own(struct rv *v);

/* A growable string. */
struct sbuf {
    char *s;
    size_t len, cap;
};
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_putc(struct sbuf *b, char c);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sb_steal(struct sbuf *b);   /* NUL-terminated; b is emptied */

/* OPA's text form of values: JSON with sets as {1, 2} / set(), as in error
 * messages and sprintf("%v"). json_style: sets as arrays, non-string object
 * keys as their JSON text (json.marshal). */
void rv_write(struct sbuf *b, const struct rv *v, bool json_style);
void rv_write_number(struct sbuf *b, const struct rv *v);
void rv_write_json_string(struct sbuf *b, const char *s, size_t len);

#endif
