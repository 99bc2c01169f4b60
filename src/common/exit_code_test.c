/* Exit codes from signals and from peers: in range, never overflowing
 * (UBSan aborts this test on a signed overflow), never wrapping to success. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/exit_code.h"

static void test_signals(void **state)
{
    assert_int_equal(exit_code_for_signal(9), 137);
    assert_int_equal(exit_code_for_signal(1), 129);
    assert_int_equal(exit_code_for_signal(15), 143);
    assert_int_equal(exit_code_for_signal(64), 192); /* SIGRTMAX */
    assert_int_equal(exit_code_for_signal(127), 255);
}

/* What a hostile guest can put in ExecResponse.signal (an int32), and more. */
static void test_signals_out_of_range(void **state)
{
    const int64_t bad[] = {0, -1, 128, 255, 256, 384, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int code = exit_code_for_signal(bad[i]);
        assert_int_equal(code, EXIT_CODE_UNKNOWN);
    }
}

static void test_clamp(void **state)
{
    assert_int_equal(exit_code_clamp(0), 0);
    assert_int_equal(exit_code_clamp(3), 3);
    assert_int_equal(exit_code_clamp(255), 255);
    /* 256 and 512 would leave a process as 0: success for a failure. */
    assert_int_equal(exit_code_clamp(256), EXIT_CODE_UNKNOWN);
    assert_int_equal(exit_code_clamp(512), EXIT_CODE_UNKNOWN);
    assert_int_equal(exit_code_clamp(-1), EXIT_CODE_UNKNOWN);
    assert_int_equal(exit_code_clamp(INT64_MAX), EXIT_CODE_UNKNOWN);
    assert_int_equal(exit_code_clamp(INT64_MIN), EXIT_CODE_UNKNOWN);
    assert_int_equal(exit_code_clamp((int64_t)INT32_MAX + 1), EXIT_CODE_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_signals_out_of_range),
        cmocka_unit_test(test_clamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
