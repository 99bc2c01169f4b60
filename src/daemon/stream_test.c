/* The audit stream's query parsing: what a client may ask for, and what it
 * may not (the daemon answers 400 to each refusal here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/internal.h"

static void test_accepted(void **state)
{
    struct stream_request r;
    char why[200];
    assert_int_equal(daemon_stream_parse_query("", &r, why, sizeof(why)), 0);
    assert_string_equal(r.session, "");
    assert_false(r.have_since);
    assert_int_equal(daemon_stream_parse_query("session=s-1.a_B&since_seq=42", &r, why, sizeof(why)), 0);
    assert_string_equal(r.session, "s-1.a_B");
    assert_true(r.have_since);
    assert_int_equal(r.since_seq, 42);
    assert_int_equal(daemon_stream_parse_query("since_seq=0&&", &r, why, sizeof(why)), 0);
    assert_true(r.have_since);
    assert_int_equal(r.since_seq, 0);
    assert_int_equal(daemon_stream_parse_query("since_seq=18446744073709551615", &r, why, sizeof(why)), 0);
    assert_true(r.since_seq == UINT64_MAX);
    assert_false(r.checkpoints);
    assert_int_equal(daemon_stream_parse_query("checkpoints=1&since_seq=3", &r, why, sizeof(why)), 0);
    assert_true(r.checkpoints);
    assert_int_equal(daemon_stream_parse_query("checkpoints=0", &r, why, sizeof(why)), 0);
    assert_false(r.checkpoints);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "since_seq=",
        "since_seq=-1",
        "since_seq=1x",
        "since_seq=18446744073709551616", /* 2^64 */
        "since_seq=999999999999999999999",
        "since_seq=1&since_seq=2",
        "session=a&session=b",
        "session=",
        "session=../x",
        "session=a%20b",
        "session=.hidden",
        "session=-flag",
        "session", /* no value */
        "other=1",
        "sessionx=1",
        "Session=a",
        "checkpoints=",
        "checkpoints=yes",
        "checkpoints=01",
        "checkpoints=1&checkpoints=1",
        "checkpoints",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct stream_request r;
        char why[200] = "";
        if (daemon_stream_parse_query(bad[i], &r, why, sizeof(why)) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(why[0] != '\0');
    }
    /* A value longer than any session id, and a long key, are refused
     * without overrunning anything. */
    char longq[4096];
    memset(longq, 'a', sizeof(longq) - 1);
    longq[sizeof(longq) - 1] = '\0';
    memcpy(longq, "session=", 8);
    struct stream_request r;
    char why[200];
    assert_int_equal(daemon_stream_parse_query(longq, &r, why, sizeof(why)), -1);
    longq[8] = 'a';
    longq[100] = '=';
    assert_int_equal(daemon_stream_parse_query(longq + 8, &r, why, sizeof(why)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
