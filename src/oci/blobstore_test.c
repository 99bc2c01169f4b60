/* The content store: a blob lands only when its bytes match its digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "oci/internal.h"

static char root[] = "/tmp/enclave-blobstore-test-XXXXXX";
static struct blobstore store;

static int setup(void **state)
{
    (void)state;
    struct error err;
    if (mkdtemp(root) == NULL)
        return -1;
    return blobstore_open(&store, root, &err);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_good_blob(void **state)
{
    (void)state;
    struct error err = {0};
    const char *data = "hello, blob";
    char digest[72];
    oci_digest_of(data, strlen(data), digest);
    struct blob_writer w;
    assert_int_equal(blob_writer_open(&store, digest, strlen(data), &w, &err), 0);
    assert_int_equal(w.offset, 0);
    assert_int_equal(blob_writer_write(&w, data, 5, &err), 0);
    assert_int_equal(blob_writer_write(&w, data + 5, strlen(data) - 5, &err), 0);
    assert_int_equal(blob_writer_commit(&w, &err), 0);
    assert_true(blobstore_has(&store, digest));
    assert_int_equal(blobstore_check(&store, digest, strlen(data), &err), 0);
    char *back = NULL;
    size_t len = 0;
    assert_int_equal(blobstore_read(&store, digest, 100, &back, &len, &err), 0);
    assert_memory_equal(back, data, len);
    free(back);
    assert_int_equal(blobstore_read(&store, digest, 3, &back, &len, &err), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
}

static void test_mismatch_deleted(void **state)
{
    (void)state;
    struct error err = {0};
    char digest[72];
    oci_digest_of("the real bytes", 14, digest);
    struct blob_writer w;
    assert_int_equal(blob_writer_open(&store, digest, 14, &w, &err), 0);
    char partial[4200];
    snprintf(partial, sizeof(partial), "%s", w.partial);
    assert_int_equal(blob_writer_write(&w, "the fake bytes", 14, &err), 0);
    assert_int_equal(blob_writer_commit(&w, &err), -1);
    assert_int_equal(err.kind, ERR_DATA_LOSS);
    assert_false(blobstore_has(&store, digest));
    assert_false(exists(partial));
    /* more bytes than the descriptor says: refused at once */
    assert_int_equal(blob_writer_open(&store, digest, 14, &w, &err), 0);
    assert_int_equal(blob_writer_write(&w, "the real bytes!", 15, &err), -1);
    assert_int_equal(err.kind, ERR_DATA_LOSS);
    blob_writer_discard(&w);
    assert_false(exists(partial));
}

static void test_resume(void **state)
{
    (void)state;
    struct error err = {0};
    char data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    char digest[72];
    oci_digest_of(data, sizeof(data), digest);
    struct blob_writer w;
    assert_int_equal(blob_writer_open(&store, digest, sizeof(data), &w, &err), 0);
    assert_int_equal(blob_writer_write(&w, data, 4000, &err), 0);
    blob_writer_release(&w); /* an interrupted transfer */
    assert_false(blobstore_has(&store, digest));
    assert_int_equal(blob_writer_open(&store, digest, sizeof(data), &w, &err), 0);
    assert_int_equal(w.offset, 4000);
    /* a second writer cannot take the same partial */
    struct blob_writer w2;
    assert_int_equal(blob_writer_open(&store, digest, sizeof(data), &w2, &err), -1);
    assert_int_equal(err.kind, ERR_ABORTED);
    assert_int_equal(blob_writer_write(&w, data + 4000, sizeof(data) - 4000, &err), 0);
    assert_int_equal(blob_writer_commit(&w, &err), 0);
    assert_true(blobstore_has(&store, digest));
    /* a reset after a server ignored Range starts the digest over */
    char d2[72];
    oci_digest_of("abc", 3, d2);
    assert_int_equal(blob_writer_open(&store, d2, 3, &w, &err), 0);
    assert_int_equal(blob_writer_write(&w, "xy", 2, &err), 0);
    assert_int_equal(blob_writer_reset(&w, &err), 0);
    assert_int_equal(blob_writer_write(&w, "abc", 3, &err), 0);
    assert_int_equal(blob_writer_commit(&w, &err), 0);
}

static void test_corrupt_store(void **state)
{
    (void)state;
    struct error err = {0};
    char digest[72];
    oci_digest_of("content", 7, digest);
    assert_int_equal(blobstore_put(&store, digest, "content", 7, &err), 0);
    char path[4200];
    assert_int_equal(blobstore_path(&store, digest, path, sizeof(path)), 0);
    chmod(path, 0644);
    FILE *f = fopen(path, "w");
    fputs("CONTENT", f);
    fclose(f);
    assert_int_equal(blobstore_check(&store, digest, 7, &err), -1);
    assert_int_equal(err.kind, ERR_DATA_LOSS);
    assert_false(blobstore_has(&store, digest));
    /* and put refuses bytes that are not what the digest says */
    assert_int_equal(blobstore_put(&store, digest, "CONTENT", 7, &err), -1);
    assert_false(blobstore_has(&store, digest));
    assert_int_equal(blobstore_path(&store, "sha256:../../etc", path, sizeof(path)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_blob),
        cmocka_unit_test(test_mismatch_deleted),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_corrupt_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
