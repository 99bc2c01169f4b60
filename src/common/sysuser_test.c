/* Users and groups from /etc/passwd and /etc/group, compared with what the
 * C library's own lookups say for the same accounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "common/sysuser.h"

static void test_root_by_name_and_uid(void **state)
{
    (void)state;
    struct sysuser u;
    assert_int_equal(sysuser_by_name("root", &u), 0);
    assert_int_equal(u.uid, 0);
    assert_string_equal(u.name, "root");
    assert_true(u.home[0] == '/');
    struct sysuser v;
    assert_int_equal(sysuser_by_uid(0, &v), 0);
    assert_string_equal(v.name, "root");
}

static void test_missing_user(void **state)
{
    (void)state;
    struct sysuser u;
    assert_int_equal(sysuser_by_name("no-such-user-enclave-test", &u), -1);
    assert_int_equal(sysuser_by_name("", &u), -1);
    assert_int_equal(sysuser_by_uid((uid_t)4000000001u, &u), -1);
}

/* Every account of /etc/passwd agrees with getpwnam, and the groups found
 * are those getgrouplist finds (both read the same files here). */
static void test_agrees_with_libc(void **state)
{
    (void)state;
    setpwent();
    struct passwd *pw;
    int checked = 0;
    while ((pw = getpwent()) != NULL && checked < 64) {
        struct sysuser u;
        if (sysuser_by_name(pw->pw_name, &u) < 0)
            continue; /* an account from another NSS source */
        checked++;
        assert_int_equal(u.uid, pw->pw_uid);
        assert_int_equal(u.gid, pw->pw_gid);
        gid_t mine[64], libc[64];
        int n = 64, m = 64;
        sysuser_groups(&u, mine, &n);
        assert_true(n >= 1);
        assert_int_equal(mine[0], u.gid);
        if (getgrouplist(pw->pw_name, pw->pw_gid, libc, &m) < 0)
            continue;
        for (int i = 0; i < n; i++) {
            int found = 0;
            for (int j = 0; j < m; j++)
                found |= mine[i] == libc[j];
            assert_true(found);
        }
    }
    endpwent();
    assert_true(checked > 0);
}

static void test_groups_bounded(void **state)
{
    (void)state;
    struct sysuser u;
    assert_int_equal(sysuser_by_name("root", &u), 0);
    gid_t g[1];
    int n = 1;
    sysuser_groups(&u, g, &n);
    assert_int_equal(n, 1);
    assert_int_equal(g[0], u.gid);
    n = 0;
    sysuser_groups(&u, g, &n);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_by_name_and_uid),
        cmocka_unit_test(test_missing_user),
        cmocka_unit_test(test_agrees_with_libc),
        cmocka_unit_test(test_groups_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
