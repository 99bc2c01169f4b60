/* The RFC 6962 Merkle tree over the records (section 2.1): leaf and node
 * hashes, the root of n leaves, a compact range (the roots of the perfect
 * subtrees a tree of size n is made of) that the writer extends one leaf at
 * a time, and inclusion and consistency proofs, made and checked.
 *
 * Proofs are made from the full list of leaf hashes, following the
 * recursive definitions of PATH and PROOF in RFC 6962 2.1.1 and 2.1.2; they
 * are checked with the iterative algorithms of RFC 9162 2.1.3.2 and 2.1.4.2,
 * which need only the proof. */
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit_internal.h"
#include "common/digest.h"

void audit_merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[AUDIT_MERKLE_HASH])
{
    static const unsigned char prefix = 0x00;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (md == NULL || EVP_DigestInit_ex(md, digest_sha256_md(), NULL) != 1 ||
        EVP_DigestUpdate(md, &prefix, 1) != 1 || EVP_DigestUpdate(md, leaf, len) != 1 ||
        EVP_DigestFinal_ex(md, out, &n) != 1)
        memset(out, 0xff, AUDIT_MERKLE_HASH); /* out of memory: matches nothing real */
    EVP_MD_CTX_free(md);
}

void audit_merkle_node_hash(const uint8_t left[AUDIT_MERKLE_HASH],
                            const uint8_t right[AUDIT_MERKLE_HASH], uint8_t out[AUDIT_MERKLE_HASH])
{
    unsigned char buf[1 + 2 * AUDIT_MERKLE_HASH];
    buf[0] = 0x01;
    memcpy(buf + 1, left, AUDIT_MERKLE_HASH);
    memcpy(buf + 1 + AUDIT_MERKLE_HASH, right, AUDIT_MERKLE_HASH);
    unsigned int n = 0;
    if (EVP_Digest(buf, sizeof(buf), out, &n, digest_sha256_md(), NULL) != 1)
        memset(out, 0xff, AUDIT_MERKLE_HASH);
}

void audit_merkle_empty_root(uint8_t out[AUDIT_MERKLE_HASH])
{
    unsigned int n = 0;
    if (EVP_Digest("", 0, out, &n, digest_sha256_md(), NULL) != 1)
        memset(out, 0xff, AUDIT_MERKLE_HASH);
}

/* The largest power of two smaller than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

/* MTH(D[0:n]) for n >= 1, iteratively: fold the leaves into the compact
 * range and read its root (the same tree as the recursive definition). */
static void subtree_root(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n,
                         uint8_t out[AUDIT_MERKLE_HASH])
{
    struct audit_merkle_range r;
    audit_merkle_range_init(&r);
    for (uint64_t i = 0; i < n; i++)
        audit_merkle_range_append(&r, leaves[i]);
    audit_merkle_range_root(&r, out);
}

void audit_merkle_root(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n,
                       uint8_t out[AUDIT_MERKLE_HASH])
{
    if (n == 0)
        audit_merkle_empty_root(out);
    else
        subtree_root(leaves, n, out);
}

/* ---------------------------------------------------------------- compact range */

void audit_merkle_range_init(struct audit_merkle_range *r)
{
    memset(r, 0, sizeof(*r));
}

/* hashes[] holds the roots of the perfect subtrees, largest (leftmost) first:
 * one for each bit set in size, from the highest bit down. */
void audit_merkle_range_append(struct audit_merkle_range *r, const uint8_t leaf[AUDIT_MERKLE_HASH])
{
    uint8_t cur[AUDIT_MERKLE_HASH];
    memcpy(cur, leaf, AUDIT_MERKLE_HASH);
    /* Each trailing 1 bit of size is a perfect subtree of that height that
     * the new leaf completes into one twice as tall. */
    for (uint64_t s = r->size; s & 1; s >>= 1) {
        r->count--;
        audit_merkle_node_hash(r->hashes[r->count], cur, cur);
    }
    memcpy(r->hashes[r->count], cur, AUDIT_MERKLE_HASH);
    r->count++;
    r->size++;
}

void audit_merkle_range_root(const struct audit_merkle_range *r, uint8_t out[AUDIT_MERKLE_HASH])
{
    if (r->size == 0) {
        audit_merkle_empty_root(out);
        return;
    }
    /* Right to left: the smallest subtree is the right child of the one
     * before it, and so on up. */
    uint8_t cur[AUDIT_MERKLE_HASH];
    memcpy(cur, r->hashes[r->count - 1], AUDIT_MERKLE_HASH);
    for (int i = (int)r->count - 2; i >= 0; i--)
        audit_merkle_node_hash(r->hashes[i], cur, cur);
    memcpy(out, cur, AUDIT_MERKLE_HASH);
}

int audit_merkle_range_load(struct audit_merkle_range *r, uint64_t size, const void *blob,
                            size_t len)
{
    unsigned count = (unsigned)__builtin_popcountll(size);
    if (len != (size_t)count * AUDIT_MERKLE_HASH)
        return -1;
    r->size = size;
    r->count = count;
    if (len > 0)
        memcpy(r->hashes, blob, len);
    return 0;
}

/* ---------------------------------------------------------------- proofs */

/* PATH(m, D[start:start+n]) of RFC 6962 2.1.1, appended bottom-up. */
static void path(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n, uint64_t m,
                 uint8_t (*out)[AUDIT_MERKLE_HASH], size_t *len)
{
    if (n <= 1)
        return;
    uint64_t k = split_point(n);
    if (m < k) {
        path(leaves, k, m, out, len);
        subtree_root(leaves + k, n - k, out[(*len)++]);
    } else {
        path(leaves + k, n - k, m - k, out, len);
        subtree_root(leaves, k, out[(*len)++]);
    }
}

int audit_merkle_inclusion_proof(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n,
                                 uint64_t index, uint8_t (*out)[AUDIT_MERKLE_HASH], size_t *len)
{
    *len = 0;
    if (index >= n)
        return -1;
    path(leaves, n, index, out, len);
    return 0;
}

/* SUBPROOF(m, D[0:n], b) of RFC 6962 2.1.2. */
static void subproof(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n, uint64_t m, bool b,
                     uint8_t (*out)[AUDIT_MERKLE_HASH], size_t *len)
{
    if (m == n) {
        if (!b)
            subtree_root(leaves, n, out[(*len)++]);
        return;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        subproof(leaves, k, m, b, out, len);
        subtree_root(leaves + k, n - k, out[(*len)++]);
    } else {
        subproof(leaves + k, n - k, m - k, false, out, len);
        subtree_root(leaves, k, out[(*len)++]);
    }
}

int audit_merkle_consistency_proof(const uint8_t (*leaves)[AUDIT_MERKLE_HASH], uint64_t n,
                                   uint64_t m, uint8_t (*out)[AUDIT_MERKLE_HASH], size_t *len)
{
    *len = 0;
    if (m == 0 || m > n)
        return -1;
    if (m < n)
        subproof(leaves, n, m, true, out, len);
    return 0;
}

bool audit_merkle_verify_inclusion(uint64_t index, uint64_t size,
                                   const uint8_t leaf_hash[AUDIT_MERKLE_HASH],
                                   const uint8_t (*proof)[AUDIT_MERKLE_HASH], size_t len,
                                   const uint8_t root[AUDIT_MERKLE_HASH])
{
    if (index >= size || len > AUDIT_MERKLE_MAX_PROOF)
        return false;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[AUDIT_MERKLE_HASH];
    memcpy(r, leaf_hash, AUDIT_MERKLE_HASH);
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            audit_merkle_node_hash(proof[i], r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            audit_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, AUDIT_MERKLE_HASH) == 0;
}

bool audit_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t old_root[AUDIT_MERKLE_HASH],
                                     const uint8_t new_root[AUDIT_MERKLE_HASH],
                                     const uint8_t (*proof)[AUDIT_MERKLE_HASH], size_t len)
{
    if (m == 0 || m > n || len > AUDIT_MERKLE_MAX_PROOF)
        return false;
    if (m == n)
        return len == 0 && memcmp(old_root, new_root, AUDIT_MERKLE_HASH) == 0;
    if (len == 0)
        return false;
    /* When m is a power of two the old root is the first node of the path
     * and the proof leaves it out. */
    bool pow2 = (m & (m - 1)) == 0;
    size_t i = 0;
    uint8_t fr[AUDIT_MERKLE_HASH], sr[AUDIT_MERKLE_HASH];
    if (pow2) {
        memcpy(fr, old_root, AUDIT_MERKLE_HASH);
    } else {
        memcpy(fr, proof[0], AUDIT_MERKLE_HASH);
        i = 1;
    }
    memcpy(sr, fr, AUDIT_MERKLE_HASH);
    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < len; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            audit_merkle_node_hash(proof[i], fr, fr);
            audit_merkle_node_hash(proof[i], sr, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            audit_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, old_root, AUDIT_MERKLE_HASH) == 0 &&
           memcmp(sr, new_root, AUDIT_MERKLE_HASH) == 0;
}
