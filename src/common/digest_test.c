/* SHA-256 against FIPS 180-2 vectors, of buffers, descriptors and files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/digest.h"

#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define EMPTY_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_buffer(void **state)
{
    (void)state;
    char hex[DIGEST_SHA256_HEX_SIZE];
    digest_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, ABC_HEX);
    digest_sha256_hex("", 0, hex);
    assert_string_equal(hex, EMPTY_HEX);
    unsigned char md[DIGEST_SHA256_SIZE];
    digest_sha256("abc", 3, md);
    assert_int_equal(md[0], 0xba);
    assert_int_equal(md[31], 0xad);
}

static void test_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/digest_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], link[64];
    snprintf(path, sizeof(path), "%s/f", dir);
    snprintf(link, sizeof(link), "%s/l", dir);
    /* Larger than one read, so that the loop runs more than once. */
    size_t big = 200000;
    char *data = malloc(big);
    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, big, f), big);
    fclose(f);
    char want[DIGEST_SHA256_HEX_SIZE], hex[DIGEST_SHA256_HEX_SIZE];
    digest_sha256_hex(data, big, want);
    uint64_t size = 0;
    struct error err = {0};
    assert_int_equal(digest_sha256_file(path, hex, &size, &err), 0);
    assert_string_equal(hex, want);
    assert_int_equal(size, big);

    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, (off_t)(big - 3), SEEK_SET), (off_t)(big - 3));
    assert_int_equal(digest_sha256_fd(fd, hex, NULL, &err), 0); /* from where it stands */
    digest_sha256_hex(data + big - 3, 3, want);
    assert_string_equal(hex, want);
    close(fd);

    assert_int_equal(symlink(path, link), 0);
    assert_true(digest_sha256_file(link, hex, &size, &err) < 0); /* not followed */
    char missing[80];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    assert_true(digest_sha256_file(missing, hex, &size, &err) < 0);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    unlink(link);
    unlink(path);
    rmdir(dir);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffer),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
