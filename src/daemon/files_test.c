/* The file routes' path parsing: /v1/sessions/{id}/files/{path}, hostile
 * forms included (the guest refuses what leaves its roots; this only splits
 * and decodes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/internal.h"

static void test_accepted(void **state)
{
    char sid[65];
    char *path = NULL;
    struct error err;
    static const struct {
        const char *route, *sid, *path;
    } ok[] = {
        {"/v1/sessions/s1/files/workspace/a.txt", "s1", "/workspace/a.txt"},
        {"/v1/sessions/s1/files/workspace/", "s1", "/workspace"},
        {"/v1/sessions/s1/files/workspace//", "s1", "/workspace"},
        {"/v1/sessions/a.b_c-d/files/tmp/x%20y", "a.b_c-d", "/tmp/x y"},
        {"/v1/sessions/s/files/workspace/%2e%2e/etc", "s", "/workspace/../etc"},
        {"/v1/sessions/s/files/workspace/%C3%A9", "s", "/workspace/\xc3\xa9"},
        {"/v1/sessions/s/files//", "s", "/"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(daemon_file_route_parse(ok[i].route, sid, sizeof(sid), &path, &err), 0);
        assert_string_equal(sid, ok[i].sid);
        assert_string_equal(path, ok[i].path);
        free(path);
    }
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "/v1/sessions/",
        "/v1/sessions/s",
        "/v1/sessions/s/",
        "/v1/sessions/s/files",
        "/v1/sessions/s/files/",
        "/v1/sessions//files/workspace/a",
        "/v1/sessions/s/file/workspace/a",
        "/v1/sessions/s/filesx/workspace/a",
        "/v1/sessions/s/files/workspace/a%00b",
        "/v1/other/s/files/workspace/a",
        "/v1/sessions/0123456789012345678901234567890123456789012345678901234567890123456789/files/tmp/a",
    };
    char sid[65];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *path = (char *)"unchanged";
        struct error err = {0};
        assert_int_equal(daemon_file_route_parse(bad[i], sid, sizeof(sid), &path, &err), -1);
        assert_null(path);
        assert_true(err.message[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
