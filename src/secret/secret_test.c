/* The secret store: names, values, permissions, atomic replacement, the
 * folder's and the file's owner and mode checked on every read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/test_dir.h"
#include "secret/secret.h"

static char store[200];

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static void test_names(void **state)
{
    (void)state;
    const char *good[] = {"a", "api-token", "GitHub_PAT.2", "0", "a..b",
                          "x123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_true(secret_name_valid(good[i]));
    const char *bad[] = {"", ".", "..", "../x", "x/y", "/etc/passwd", ".hidden", "-x", "_x", "a b", "a\nb",
                         "ä", "x1234567890123456789012345678901234567890123456789012345678901234", "a\\b", "a:b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_false(secret_name_valid(bad[i]));
    assert_false(secret_name_valid(NULL));
}

static void test_values(void **state)
{
    (void)state;
    struct error err;
    assert_int_equal(secret_value_check("abc", 3, &err), 0);
    assert_int_equal(secret_value_check("Bearer x\ty", 10, &err), 0);
    assert_true(secret_value_check("", 0, &err) < 0);
    assert_true(secret_value_check("a\r\nX-Evil: 1", 13, &err) < 0);
    assert_true(secret_value_check("a\nb", 3, &err) < 0);
    assert_true(secret_value_check("a\0b", 3, &err) < 0);
    assert_true(secret_value_check("\x7f", 1, &err) < 0);
    assert_true(secret_value_check("caf\xc3\xa9", 5, &err) < 0);
    assert_true(secret_value_check(" a", 2, &err) < 0);
    assert_true(secret_value_check("a ", 2, &err) < 0);
    char *big = malloc(SECRET_VALUE_MAX + 1);
    memset(big, 'k', SECRET_VALUE_MAX + 1);
    assert_int_equal(secret_value_check(big, SECRET_VALUE_MAX, &err), 0);
    assert_true(secret_value_check(big, SECRET_VALUE_MAX + 1, &err) < 0);
    /* The message never quotes the value. */
    assert_true(secret_value_check("topsecret\n", 10, &err) < 0);
    assert_null(strstr(err.message, "topsecret"));
    free(big);
}

static void test_set_get_rm(void **state)
{
    (void)state;
    struct error err;
    char *v = NULL;
    size_t len = 0;
    /* Nothing yet: not found, and ls of a missing folder is empty. */
    assert_true(secret_get(store, "api", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    char **names = NULL;
    size_t n = 99;
    assert_int_equal(secret_list(store, &names, &n, &err), 0);
    assert_int_equal(n, 0);

    assert_int_equal(secret_set(store, "api", "s3cr3t-value", 12, &err), 0);
    assert_int_equal(mode_of(store), 0700);
    char path[300];
    snprintf(path, sizeof(path), "%s/api", store);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(secret_get(store, "api", &v, &len, &err), 0);
    assert_int_equal(len, 12);
    assert_string_equal(v, "s3cr3t-value");
    secret_value_free(v, len);

    /* Replaced atomically: no temporary file is left behind. */
    assert_int_equal(secret_set(store, "api", "other", 5, &err), 0);
    assert_int_equal(secret_get(store, "api", &v, &len, &err), 0);
    assert_string_equal(v, "other");
    secret_value_free(v, len);
    assert_int_equal(secret_set(store, "b-2", "x", 1, &err), 0);
    assert_int_equal(secret_list(store, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "api");
    assert_string_equal(names[1], "b-2");
    secret_names_free(names, n);
    /* Hidden (temporary) files and names that are not secret names are not listed. */
    const char *strangers[] = {".api.tmp.1", "has space", "_under"};
    for (size_t i = 0; i < sizeof(strangers) / sizeof(strangers[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", store, strangers[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
    }
    assert_int_equal(secret_list(store, &names, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "api");
    assert_string_equal(names[1], "b-2");
    secret_names_free(names, n);
    for (size_t i = 0; i < sizeof(strangers) / sizeof(strangers[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", store, strangers[i]);
        unlink(path);
    }

    assert_int_equal(secret_remove(store, "b-2", &err), 0);
    assert_true(secret_remove(store, "b-2", &err) < 0);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_true(secret_get(store, "b-2", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
}

static void test_hostile_names(void **state)
{
    (void)state;
    struct error err;
    char *v = NULL;
    size_t len = 0;
    /* A file outside the store that a name like ../x would reach. */
    char outside[300];
    snprintf(outside, sizeof(outside), "%s/x", test_dir);
    test_put_file_mode(test_dir, "x", "outside", 0600);
    const char *names[] = {"../x", "..", ".", "", "/etc/passwd", "a/b", ".api.tmp.1"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        assert_true(secret_set(store, names[i], "v", 1, &err) < 0);
        assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
        assert_true(secret_get(store, names[i], &v, &len, &err) < 0);
        assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
        assert_null(v);
        assert_true(secret_remove(store, names[i], &err) < 0);
        assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    }
    assert_int_equal(access(outside, F_OK), 0);
    /* A value that would split the header is refused and nothing is stored. */
    assert_true(secret_set(store, "split", "a\r\nHost: evil", 14, &err) < 0);
    assert_true(secret_get(store, "split", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    char *big = malloc(SECRET_VALUE_MAX + 1);
    memset(big, 'k', SECRET_VALUE_MAX + 1);
    assert_true(secret_set(store, "big", big, SECRET_VALUE_MAX + 1, &err) < 0);
    assert_int_equal(secret_set(store, "big", big, SECRET_VALUE_MAX, &err), 0);
    assert_int_equal(secret_get(store, "big", &v, &len, &err), 0);
    assert_int_equal(len, SECRET_VALUE_MAX);
    secret_value_free(v, len);
    free(big);
}

static void test_loose_permissions_refused(void **state)
{
    (void)state;
    struct error err;
    char *v = NULL;
    size_t len = 0;
    char path[300], other[300];
    assert_int_equal(secret_set(store, "perm", "value", 5, &err), 0);
    snprintf(path, sizeof(path), "%s/perm", store);
    /* A file others can read is not used. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_true(secret_get(store, "perm", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "0600"));
    assert_null(strstr(err.message, "value"));
    assert_int_equal(chmod(path, 0600), 0);
    /* A symbolic link in the store is not followed. */
    snprintf(other, sizeof(other), "%s/link", store);
    assert_int_equal(symlink(path, other), 0);
    assert_true(secret_get(store, "link", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    /* ...nor replaced: setting it is refused, the link and its target stay. */
    assert_true(secret_set(store, "link", "new", 3, &err) < 0);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(err.message, "link"));
    struct stat st;
    assert_int_equal(lstat(other, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(secret_get(store, "perm", &v, &len, &err), 0);
    assert_string_equal(v, "value");
    secret_value_free(v, len);
    unlink(other);
    /* A folder, not a file: not read, and not replaced (nor any temporary
     * file left behind). */
    snprintf(other, sizeof(other), "%s/adir", store);
    assert_int_equal(mkdir(other, 0700), 0);
    assert_true(secret_get(store, "adir", &v, &len, &err) < 0);
    assert_true(secret_set(store, "adir", "new", 3, &err) < 0);
    assert_non_null(strstr(err.message, "adir"));
    assert_int_equal(lstat(other, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    DIR *d = opendir(store);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        assert_null(strstr(de->d_name, ".tmp"));
    closedir(d);
    rmdir(other);
    /* A file longer than the limit (put there by hand). */
    snprintf(other, sizeof(other), "%s/long", store);
    int fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    char chunk[1024];
    memset(chunk, 'k', sizeof(chunk));
    for (int i = 0; i < 9; i++)
        assert_int_equal(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
    close(fd);
    assert_true(secret_get(store, "long", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    /* A value with a newline put there by hand is refused on reading. */
    fd = open(other, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "tok\n", 4), 4);
    close(fd);
    assert_true(secret_get(store, "long", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    unlink(other);
    /* A store folder that others can enter is refused as a whole. */
    assert_int_equal(chmod(store, 0755), 0);
    assert_true(secret_get(store, "perm", &v, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_FAILED_PRECONDITION);
    assert_true(secret_set(store, "perm", "new", 3, &err) < 0);
    char **names = NULL;
    size_t n = 0;
    assert_true(secret_list(store, &names, &n, &err) < 0);
    assert_int_equal(chmod(store, 0700), 0);
    assert_int_equal(secret_get(store, "perm", &v, &len, &err), 0);
    assert_string_equal(v, "value");
    secret_value_free(v, len);
}

static int setup(void **state)
{
    if (test_dir_setup(state) < 0)
        return -1;
    snprintf(store, sizeof(store), "%s/home/secrets", test_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_set_get_rm),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_loose_permissions_refused),
    };
    return cmocka_run_group_tests(tests, setup, test_dir_teardown);
}
