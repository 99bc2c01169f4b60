/* Prints Enclave's RFC 6962 tree answers for random leaves, for the
 * independent Python check (tests/audit/merkle_test.py): for every tree size
 * 1..N its root, the inclusion proof of every leaf and the consistency proof
 * from every smaller size, one JSON line each. Uses the same functions
 * (src/audit/merkle.c) that `enclave audit proof` and the writer use.
 *
 *   merkle-vectors [N [SEED]]
 *
 * Lines: {"leaves":[hex...]} (the leaf *bytes*; the tree hashes them),
 * then {"n":N,"root":hex}, {"n":N,"i":I,"path":[hex...]},
 * {"n":N,"m":M,"proof":[hex...]}. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_internal.h"

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* xorshift64*: reproducible from the seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void hashes(const char *name, uint8_t (*h)[AUDIT_MERKLE_HASH], size_t n)
{
    printf(",\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        printf(i ? ",\"" : "\"");
        hex(h[i], AUDIT_MERKLE_HASH);
        putchar('"');
    }
    printf("]}\n");
}

int main(int argc, char **argv)
{
    uint64_t max = argc > 1 ? strtoull(argv[1], NULL, 10) : 300;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    if (max == 0 || max > 100000 || rng_state == 0) {
        fprintf(stderr, "usage: merkle-vectors [N [SEED]]  (0 < N <= 100000, SEED > 0)\n");
        return 2;
    }
    uint8_t (*leaves)[AUDIT_MERKLE_HASH] = malloc(max * AUDIT_MERKLE_HASH);
    if (leaves == NULL)
        return 1;
    printf("{\"leaves\":[");
    for (uint64_t i = 0; i < max; i++) {
        /* 0..63 random bytes per leaf, so empty leaves occur too. */
        uint8_t bytes[64];
        size_t len = rng() % 64;
        for (size_t j = 0; j < len; j++)
            bytes[j] = (uint8_t)rng();
        audit_merkle_leaf_hash(bytes, len, leaves[i]);
        printf(i ? ",\"" : "\"");
        hex(bytes, len);
        putchar('"');
    }
    printf("]}\n");
    const uint8_t(*cl)[AUDIT_MERKLE_HASH] = (const uint8_t(*)[AUDIT_MERKLE_HASH])leaves;
    struct audit_merkle_range range;
    audit_merkle_range_init(&range);
    for (uint64_t n = 1; n <= max; n++) {
        uint8_t root[AUDIT_MERKLE_HASH], from_range[AUDIT_MERKLE_HASH];
        audit_merkle_root(cl, n, root);
        audit_merkle_range_append(&range, leaves[n - 1]);
        audit_merkle_range_root(&range, from_range);
        if (memcmp(root, from_range, AUDIT_MERKLE_HASH) != 0) {
            fprintf(stderr, "merkle-vectors: the compact range disagrees at size %" PRIu64 "\n", n);
            return 1;
        }
        printf("{\"n\":%" PRIu64 ",\"root\":\"", n);
        hex(root, AUDIT_MERKLE_HASH);
        printf("\"}\n");
        uint8_t path[AUDIT_MERKLE_MAX_PROOF][AUDIT_MERKLE_HASH];
        size_t len;
        for (uint64_t i = 0; i < n; i++) {
            if (audit_merkle_inclusion_proof(cl, n, i, path, &len) < 0)
                return 1;
            printf("{\"n\":%" PRIu64 ",\"i\":%" PRIu64, n, i);
            hashes("path", path, len);
        }
        for (uint64_t m = 1; m <= n; m++) {
            if (audit_merkle_consistency_proof(cl, n, m, path, &len) < 0)
                return 1;
            printf("{\"n\":%" PRIu64 ",\"m\":%" PRIu64, n, m);
            hashes("proof", path, len);
        }
    }
    free(leaves);
    return fflush(stdout) == 0 ? 0 : 1;
}
