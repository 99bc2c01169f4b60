/* Reading files whole with a limit, removing trees, the RFC 3339 clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file.h"
#include "common/test_dir.h"
#include "common/text.h"

static const char *const dir = test_dir;

static void test_read_all(void **state)
{
    (void)state;
    char path[80];
    snprintf(path, sizeof(path), "%s/small", dir);
    test_put_file(dir, "small", "hello");
    char *buf = NULL;
    size_t len = 0;
    struct error err = {0};
    assert_int_equal(file_read_all(path, 5, &buf, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "hello");
    free(buf);
    assert_true(file_read_all(path, 4, &buf, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    assert_null(buf);
    assert_true(file_read_all(dir, 100, &buf, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    snprintf(path, sizeof(path), "%s/none", dir);
    assert_true(file_read_all(path, 100, &buf, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
}

/* Standard input is often a pipe: read until EOF, bounded. */
static void test_read_stream_all(void **state)
{
    (void)state;
    static char big[70000];
    memset(big, 'x', sizeof(big));
    for (size_t max = sizeof(big) - 1; max <= sizeof(big); max++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            ssize_t w = write(p[1], big, sizeof(big)); /* more than the pipe holds at once */
            _exit(w == (ssize_t)sizeof(big) ? 0 : 1);
        }
        close(p[1]);
        char *buf = NULL;
        size_t len = 0;
        struct error err = {0};
        int rc = file_read_stream_all(p[0], "the pipe", max, &buf, &len, &err);
        close(p[0]);
        waitpid(pid, NULL, 0);
        if (max < sizeof(big)) {
            assert_true(rc < 0);
            assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
            assert_null(buf);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(len, sizeof(big));
            assert_int_equal(buf[len], '\0');
            assert_memory_equal(buf, big, len);
            free(buf);
        }
    }
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    char *buf = NULL;
    size_t len = 1;
    struct error err = {0};
    assert_int_equal(file_read_stream_all(p[0], "an empty pipe", 0, &buf, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    free(buf);
    close(p[0]);
}

static void test_remove_tree(void **state)
{
    (void)state;
    char top[80], sub[100], file[120], outside[80], link[120];
    snprintf(top, sizeof(top), "%s/top", dir);
    snprintf(sub, sizeof(sub), "%s/a", top);
    snprintf(file, sizeof(file), "%s/f", sub);
    snprintf(outside, sizeof(outside), "%s/outside", dir);
    snprintf(link, sizeof(link), "%s/l", sub);
    assert_int_equal(mkdir(top, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    test_put_file(sub, "f", "x");
    assert_int_equal(mkdir(outside, 0700), 0);
    char kept[120];
    snprintf(kept, sizeof(kept), "%s/kept", outside);
    test_put_file(outside, "kept", "y");
    assert_int_equal(symlink(outside, link), 0);
    struct error err = {0};
    assert_int_equal(remove_tree(top, &err), 0);
    struct stat st;
    assert_int_equal(lstat(top, &st), -1);
    assert_int_equal(lstat(kept, &st), 0); /* the link was removed, not followed */
    assert_int_equal(remove_tree(top, &err), 0); /* absent: nothing to do */
    assert_int_equal(remove_tree(kept, &err), 0); /* a plain file */
    assert_int_equal(lstat(kept, &st), -1);
    assert_int_equal(remove_tree(outside, &err), 0);
}

static void test_rfc3339_now(void **state)
{
    (void)state;
    char now[RFC3339_SIZE];
    rfc3339_now(now);
    assert_int_equal(strlen(now), 20);
    assert_int_equal(now[4], '-');
    assert_int_equal(now[10], 'T');
    assert_int_equal(now[19], 'Z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_all),
        cmocka_unit_test(test_read_stream_all),
        cmocka_unit_test(test_remove_tree),
        cmocka_unit_test(test_rfc3339_now),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
