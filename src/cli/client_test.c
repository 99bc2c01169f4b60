/* The CLI's client: a Connect error from the daemon becomes err with its
 * kind, and with every control character of its message escaped, because
 * the message can carry what a workload chose (a guest's error message, a
 * file name) and every verb prints err.message to the operator's terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli/client.h"

static void test_connect_error_is_escaped(void **state)
{
    struct error err;
    /* As the daemon forwards a hostile guest's message: clear the screen,
     * retitle the window, return over the line, CSI as a C1 character. */
    json_t *e = json_pack("{s:s, s:s}", "code", "not_found", "message",
                          "guest: a\x1b[2J\x1b]0;pwned\x07\rb\xc2\x9b" "c\nnext");
    assert_non_null(e);
    assert_int_equal(client_connect_error(e, "error", &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_string_equal(err.message,
                        "not_found: guest: a\\x1b[2J\\x1b]0;pwned\\x07\\x0db\\u009bc\\x0anext");
    for (const unsigned char *p = (const unsigned char *)err.message; *p; p++)
        assert_false(*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f));
    json_decref(e);
    /* An unknown code with an escape in it is escaped too. */
    e = json_pack("{s:s}", "code", "\x1b[31mred");
    assert_int_equal(client_connect_error(e, "error", &err), -1);
    assert_int_equal(err.kind, ERR_UNKNOWN);
    assert_string_equal(err.message, "\\x1b[31mred");
    json_decref(e);
    /* Nothing usable: the fallback. */
    assert_int_equal(client_connect_error(NULL, "HTTP error", &err), -1);
    assert_string_equal(err.message, "HTTP error");
    /* A message as long as err.message holds is cut between escapes. */
    char longmsg[2000];
    memset(longmsg, '\x1b', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    e = json_pack("{s:s, s:s}", "code", "internal", "message", longmsg);
    assert_int_equal(client_connect_error(e, "error", &err), -1);
    assert_null(strchr(err.message, '\x1b'));
    size_t n = strlen(err.message);
    assert_true(n < sizeof(err.message));
    assert_memory_equal(err.message + n - 4, "\\x1b", 4);
    json_decref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_error_is_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
