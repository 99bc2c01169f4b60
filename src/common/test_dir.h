/* For unit tests only (host and guest): a scratch directory for the whole
 * test program, as cmocka group setup and teardown, and files written into
 * a folder. Header-only, with nothing to link, so that each test uses what
 * it needs. Include after <cmocka.h>. */
#ifndef ENCLAVE_COMMON_TEST_DIR_H
#define ENCLAVE_COMMON_TEST_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Made by test_dir_setup; removed, with all it holds, by test_dir_teardown. */
__attribute__((unused)) static char test_dir[] = "/tmp/enclave-test-XXXXXX";

static inline int test_dir_setup(void **state)
{
    (void)state;
    return mkdtemp(test_dir) == NULL ? -1 : 0;
}

static inline int test_dir_teardown(void **state)
{
    (void)state;
    char cmd[sizeof(test_dir) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to dir/rel, making the folders of rel first; the test fails
 * when the file cannot be written. */
static inline void test_put_file(const char *dir, const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* test_put_file, then the file's mode set to mode. */
static inline void test_put_file_mode(const char *dir, const char *rel, const char *text, mode_t mode)
{
    test_put_file(dir, rel, text);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if (chmod(path, mode) < 0)
        fail_msg("cannot chmod %s", path);
}

#endif
