/* Unit tests for the RFC 6962 tree (merkle.c) and the checkpoint notes
 * (note.c): known answers, a straightforward recursive definition to compare
 * with, every proof for small trees with tampering, and hostile notes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "audit/audit_internal.h"

#define H AUDIT_MERKLE_HASH

static void unhex(const char *hex, uint8_t out[H])
{
    assert_true(audit_hex_decode_hash(hex, out));
}

/* ---------------------------------------------------------------- a reference
 * MTH exactly as RFC 6962 2.1 writes it, with SHA-256 computed here through
 * EVP_Digest directly (not merkle.c's helpers). */

static void ref_sha(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                    size_t clen, uint8_t out[H])
{
    unsigned char buf[1 + 2 * H + 64];
    size_t n = 0;
    memcpy(buf + n, a, alen), n += alen;
    memcpy(buf + n, b, blen), n += blen;
    memcpy(buf + n, c, clen), n += clen;
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(buf, n, out, &len, EVP_sha256(), NULL), 1);
}

static void ref_mth(const uint8_t (*leaves)[H], uint64_t n, uint8_t out[H])
{
    if (n == 1) {
        memcpy(out, leaves[0], H);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t l[H], r[H];
    ref_mth(leaves, k, l);
    ref_mth(leaves + k, n - k, r);
    static const unsigned char one = 1;
    ref_sha(&one, 1, l, H, r, H, out);
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define MAXN 140
static uint8_t leaves[MAXN][H];

static void make_leaves(void)
{
    for (int i = 0; i < MAXN; i++) {
        uint8_t data[40];
        size_t len = rng() % sizeof(data);
        for (size_t j = 0; j < len; j++)
            data[j] = (uint8_t)rng();
        audit_merkle_leaf_hash(data, len, leaves[i]);
        /* The leaf hash itself, against the reference. */
        static const unsigned char zero = 0;
        uint8_t want[H];
        ref_sha(&zero, 1, data, len, "", 0, want);
        assert_memory_equal(leaves[i], want, H);
    }
}

#define LEAVES ((const uint8_t(*)[H])leaves)

static void test_known_answers(void **state)
{
    (void)state;
    uint8_t h[H], want[H];
    audit_merkle_empty_root(h);
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    assert_memory_equal(h, want, H);
    audit_merkle_leaf_hash("", 0, h);
    unhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", want);
    assert_memory_equal(h, want, H);
    /* Two leaves "" and "\0": SHA-256(0x01 || leaf("") || leaf("\0")), by hand. */
    uint8_t l0[H], l1[H], root[H], ref[H];
    audit_merkle_leaf_hash("", 0, l0);
    audit_merkle_leaf_hash("\0", 1, l1);
    uint8_t two[2][H];
    memcpy(two[0], l0, H);
    memcpy(two[1], l1, H);
    audit_merkle_root((const uint8_t(*)[H])two, 2, root);
    static const unsigned char one = 1;
    ref_sha(&one, 1, l0, H, l1, H, ref);
    assert_memory_equal(root, ref, H);
}

/* The eight-leaf test tree of Certificate Transparency's and Trillian's
 * RFC 6962 test data: the root of every prefix. */
static void test_ct_reference_roots(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        size_t len;
    } in[8] = {
        {"", 0},
        {"\x00", 1},
        {"\x10", 1},
        {"\x20\x21", 2},
        {"\x30\x31", 2},
        {"\x40\x41\x42\x43", 4},
        {"\x50\x51\x52\x53\x54\x55\x56\x57", 8},
        {"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f", 16},
    };
    static const char *const roots[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    };
    uint8_t l[8][H];
    struct audit_merkle_range r;
    audit_merkle_range_init(&r);
    for (int i = 0; i < 8; i++) {
        audit_merkle_leaf_hash(in[i].data, in[i].len, l[i]);
        audit_merkle_range_append(&r, l[i]);
        uint8_t want[H], got[H];
        unhex(roots[i], want);
        audit_merkle_root((const uint8_t(*)[H])l, (uint64_t)i + 1, got);
        assert_memory_equal(got, want, H);
        audit_merkle_range_root(&r, got);
        assert_memory_equal(got, want, H);
    }
}

static void test_root_matches_recursive_definition(void **state)
{
    (void)state;
    make_leaves();
    struct audit_merkle_range r;
    audit_merkle_range_init(&r);
    for (uint64_t n = 1; n <= MAXN; n++) {
        uint8_t want[H], got[H], ranged[H];
        ref_mth(LEAVES, n, want);
        audit_merkle_root(LEAVES, n, got);
        assert_memory_equal(got, want, H);
        audit_merkle_range_append(&r, leaves[n - 1]);
        assert_int_equal(r.size, n);
        assert_int_equal(r.count, (unsigned)__builtin_popcountll(n));
        audit_merkle_range_root(&r, ranged);
        assert_memory_equal(ranged, want, H);
        /* The stored form loads back to the same tree; a wrong length does not load. */
        struct audit_merkle_range back;
        assert_int_equal(audit_merkle_range_load(&back, n, r.hashes, r.count * H), 0);
        audit_merkle_range_root(&back, ranged);
        assert_memory_equal(ranged, want, H);
        assert_int_equal(audit_merkle_range_load(&back, n, r.hashes, (r.count + 1) * H), -1);
    }
}

static void flip(uint8_t *p, unsigned bit)
{
    p[bit / 8 % H] ^= (uint8_t)(1u << (bit % 8));
}

static void test_every_inclusion_proof(void **state)
{
    (void)state;
    make_leaves();
    uint8_t path[AUDIT_MERKLE_MAX_PROOF][H];
    size_t len;
    for (uint64_t n = 1; n <= 70; n++) {
        uint8_t root[H];
        ref_mth(LEAVES, n, root);
        for (uint64_t i = 0; i < n; i++) {
            assert_int_equal(audit_merkle_inclusion_proof(LEAVES, n, i, path, &len), 0);
            const uint8_t(*p)[H] = (const uint8_t(*)[H])path;
            assert_true(audit_merkle_verify_inclusion(i, n, leaves[i], p, len, root));
            for (size_t k = 0; k < len; k++) {
                flip(path[k], (unsigned)rng());
                assert_false(audit_merkle_verify_inclusion(i, n, leaves[i], p, len, root));
                audit_merkle_inclusion_proof(LEAVES, n, i, path, &len);
            }
            if (n > 1) {
                assert_false(audit_merkle_verify_inclusion(i, n, leaves[(i + 1) % n], p, len, root));
                assert_false(audit_merkle_verify_inclusion((i + 1) % n, n, leaves[i], p, len, root));
            }
            if (len > 0)
                assert_false(audit_merkle_verify_inclusion(i, n, leaves[i], p, len - 1, root));
            memcpy(path[len], root, H);
            assert_false(audit_merkle_verify_inclusion(i, n, leaves[i], p, len + 1, root));
            /* (A wrong tree size can pass against the same root: a root is
             * only meaningful with the size it is signed with, which the
             * checkpoint note binds together.) */
        }
        assert_int_equal(audit_merkle_inclusion_proof(LEAVES, n, n, path, &len), -1);
    }
}

static void test_every_consistency_proof(void **state)
{
    (void)state;
    make_leaves();
    uint8_t roots[71][H];
    for (uint64_t n = 1; n <= 70; n++)
        ref_mth(LEAVES, n, roots[n]);
    uint8_t proof[AUDIT_MERKLE_MAX_PROOF][H];
    size_t len;
    for (uint64_t n = 1; n <= 70; n++) {
        for (uint64_t m = 1; m <= n; m++) {
            assert_int_equal(audit_merkle_consistency_proof(LEAVES, n, m, proof, &len), 0);
            const uint8_t(*p)[H] = (const uint8_t(*)[H])proof;
            assert_true(audit_merkle_verify_consistency(m, n, roots[m], roots[n], p, len));
            if (m == n) {
                assert_int_equal(len, 0);
                continue;
            }
            for (size_t k = 0; k < len; k++) {
                flip(proof[k], (unsigned)rng());
                assert_false(audit_merkle_verify_consistency(m, n, roots[m], roots[n], p, len));
                audit_merkle_consistency_proof(LEAVES, n, m, proof, &len);
            }
            uint8_t bad[H];
            memcpy(bad, roots[m], H);
            flip(bad, 3);
            assert_false(audit_merkle_verify_consistency(m, n, bad, roots[n], p, len));
            memcpy(bad, roots[n], H);
            flip(bad, 5);
            assert_false(audit_merkle_verify_consistency(m, n, roots[m], bad, p, len));
            assert_false(audit_merkle_verify_consistency(m, n, roots[m], roots[n], p, len - 1));
            if (m > 1)
                assert_false(audit_merkle_verify_consistency(m - 1, n, roots[m - 1], roots[n], p,
                                                             len));
        }
        assert_int_equal(audit_merkle_consistency_proof(LEAVES, n, 0, proof, &len), -1);
        assert_int_equal(audit_merkle_consistency_proof(LEAVES, n, n + 1, proof, &len), -1);
    }
    uint8_t none[1][H];
    assert_false(audit_merkle_verify_consistency(0, 5, roots[1], roots[5], (const uint8_t(*)[H])none, 0));
    assert_false(audit_merkle_verify_consistency(6, 5, roots[1], roots[5], (const uint8_t(*)[H])none, 0));
    assert_false(audit_merkle_verify_inclusion(0, 0, leaves[0], (const uint8_t(*)[H])none, 0, roots[1]));
    assert_false(audit_merkle_verify_inclusion(0, 1, leaves[0], (const uint8_t(*)[H])none,
                                               AUDIT_MERKLE_MAX_PROOF + 1, roots[1]));
}

/* ---------------------------------------------------------------- notes */

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    return k;
}

static void test_note_roundtrip(void **state)
{
    (void)state;
    EVP_PKEY *key = new_key(), *other = new_key();
    uint8_t root[H];
    audit_merkle_leaf_hash("x", 1, root);
    char *note = NULL;
    assert_int_equal(audit_note_sign(key, 12345, root, 1700000000123456789LL, &note, NULL), 0);
    struct audit_note n;
    struct error err;
    assert_int_equal(audit_note_verify(key, note, strlen(note), &n, &err), 0);
    assert_int_equal(n.size, 12345);
    assert_memory_equal(n.root, root, H);
    assert_true(n.has_time);
    assert_int_equal(n.time_ns, 1700000000123456789LL);
    char origin[AUDIT_NOTE_MAX_ORIGIN];
    assert_int_equal(audit_note_origin(key, origin, NULL), 0);
    assert_string_equal(n.origin, origin);
    assert_int_equal(strncmp(origin, "enclave.local/audit/", 20), 0);
    /* The text is exactly what docs/audit.md shows. */
    char body[AUDIT_NOTE_MAX];
    int blen = audit_note_body(origin, 12345, root, 1700000000123456789LL, body, sizeof(body));
    assert_true(blen > 0);
    assert_int_equal(memcmp(note, body, (size_t)blen), 0);
    assert_string_equal(note + blen, note + blen); /* signature follows */
    assert_int_equal(memcmp(note + blen, "\n\xe2\x80\x94 ", 5), 0);

    /* Another key: refused (another origin). */
    assert_int_equal(audit_note_verify(other, note, strlen(note), &n, &err), -1);
    /* Every single-byte change anywhere is refused. */
    size_t len = strlen(note);
    for (size_t i = 0; i < len; i++) {
        char *copy = strdup(note);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        assert_int_equal(audit_note_verify(key, copy, len, &n, &err), -1);
        free(copy);
    }
    /* Every truncation is refused, and parsing it reads nothing past the end. */
    for (size_t i = 0; i < len; i++) {
        char *copy = malloc(i + 1);
        memcpy(copy, note, i);
        assert_int_equal(audit_note_verify(key, copy, i, &n, &err), -1);
        free(copy);
    }
    free(note);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_note_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "\n",
        "\n\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* no blank line, no sig */
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n", /* no signature */
        "origin\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "origin\n1e3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "origin\n99999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "origin\n9223372036854775808\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "origin\n1\nAAAA\n\n\xe2\x80\x94 o AAAAAAAA\n", /* short root */
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\n\xe2\x80\x94 o AAAAAAAA\n", /* not canonical */
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n- o AAAAAAAA\n", /* no em dash */
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 AAAAAAAA\n", /* no name */
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA", /* no final newline */
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n\n",
        "origin\r\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n", /* CR */
        "orig\xc3\xa9n\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n", /* non-ASCII */
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ntime_ns 1\ntime_ns 2\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ntime_ns x\n\n\xe2\x80\x94 o AAAAAAAA\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n", /* empty origin */
        "origin\n1\n\n\xe2\x80\x94 o AAAAAAAA\n", /* two lines only */
        "\xe2\x80", /* a cut em dash */
    };
    struct audit_note n;
    struct error err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (audit_note_parse(bad[i], strlen(bad[i]), &n, &err) == 0)
            fail_msg("accepted hostile note %zu", i);
    }
    /* A NUL inside. */
    static const char nul[] = "origin\n1\0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAAAAAA\n";
    assert_int_equal(audit_note_parse(nul, sizeof(nul) - 1, &n, &err), -1);
    /* Too many signatures. */
    char many[4096];
    size_t off = (size_t)snprintf(many, sizeof(many),
                                  "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n");
    for (int i = 0; i < 17; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "\xe2\x80\x94 o%d AAAAAAAA\n", i);
    assert_int_equal(audit_note_parse(many, off, &n, &err), -1);
    /* Too long. */
    size_t big = AUDIT_NOTE_MAX + 10;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    huge[big - 1] = '\n';
    assert_int_equal(audit_note_parse(huge, big, &n, &err), -1);
    free(huge);
    /* Well formed but unsigned by the key: parses, does not verify. */
    static const char ok[] =
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next line\n\n\xe2\x80\x94 o AAAAAAAA\n";
    assert_int_equal(audit_note_parse(ok, sizeof(ok) - 1, &n, &err), 0);
    assert_int_equal(n.size, 1);
    assert_false(n.has_time);
    EVP_PKEY *key = new_key();
    assert_int_equal(audit_note_verify(key, ok, sizeof(ok) - 1, &n, &err), -1);
    /* Random bytes: never accepted, never out of bounds (ASan watches). */
    for (int round = 0; round < 2000; round++) {
        size_t len = rng() % 300;
        char *buf = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = "\n\xe2\x80\x94 0123456789abcdefAB=+/time_ns"[rng() % 34];
        audit_note_verify(key, buf, len, &n, &err);
        free(buf);
    }
    EVP_PKEY_free(key);
}

static void test_proof_check_hostile(void **state)
{
    (void)state;
    EVP_PKEY *key = new_key();
    static const char *const docs[] = {
        "",
        "[]",
        "{}",
        "{\"type\":\"inclusion_proof\"}",
        "{\"type\":\"inclusion_proof\",\"leaf_index\":-1,\"tree_size\":1,\"leaf\":\"\",\"hashes\":[]}",
        "{\"type\":\"inclusion_proof\",\"leaf_index\":0,\"tree_size\":1,\"leaf\":\"AA==\",\"hashes\":[],"
        "\"checkpoint\":\"x\\n1\\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\\n\\n\\u2014 x AAAAAAAA\\n\"}",
        "{\"type\":\"inclusion_proof\",\"leaf_index\":0,\"tree_size\":1,\"leaf\":\"AA==\",\"hashes\":[1]}",
        "{\"type\":\"consistency_proof\",\"old_size\":1,\"new_size\":2,\"hashes\":[\"zz\"]}",
        "{\"type\":\"consistency_proof\",\"old_size\":1,\"new_size\":2,\"hashes\":[],\"new_checkpoint\":7}",
        "{\"type\":\"something\"}",
        "{\"type\":\"inclusion_proof\",\"type\":\"consistency_proof\"}",
    };
    struct audit_proof_result res;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        audit_proof_check(docs[i], strlen(docs[i]), key, &res);
        if (res.ok)
            fail_msg("accepted hostile proof %zu", i);
        assert_true(res.reason[0] != '\0');
    }
    /* 65 hashes: refused before any hashing. */
    char *big = malloc(100000);
    size_t off = (size_t)snprintf(big, 100000, "{\"type\":\"consistency_proof\",\"old_size\":1,"
                                               "\"new_size\":2,\"hashes\":[");
    for (int i = 0; i < 65; i++)
        off += (size_t)snprintf(big + off, 100000 - off, "%s\"%064d\"", i ? "," : "", 0);
    off += (size_t)snprintf(big + off, 100000 - off, "]}");
    audit_proof_check(big, off, key, &res);
    assert_false(res.ok);
    free(big);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_ct_reference_roots),
        cmocka_unit_test(test_root_matches_recursive_definition),
        cmocka_unit_test(test_every_inclusion_proof),
        cmocka_unit_test(test_every_consistency_proof),
        cmocka_unit_test(test_note_roundtrip),
        cmocka_unit_test(test_note_hostile),
        cmocka_unit_test(test_proof_check_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
