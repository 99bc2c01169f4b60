/* The daemon's log lines carry what peers said (a guest's error message, a
 * workload's file name): each stays one line, with no control character
 * that could drive the operator's terminal or forge another line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"

/* Logs one message with stderr sent to a file; returns what was written. */
static char *logged(const char *peer_text)
{
    char path[] = "/tmp/enclave-log-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    log_warn("guest said: %s", peer_text);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    static char buf[8192];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static void test_peer_text_stays_one_line(void **state)
{
    (void)state;
    char *line = logged("a\x1b[2J\x1b]0;pwned\x07\r\n00:00:00.000 enclave info: forged\xff");
    /* one line, the newline at its end */
    assert_non_null(strchr(line, '\n'));
    assert_int_equal(strchr(line, '\n') - line, (long)strlen(line) - 1);
    for (const char *p = line; p[1]; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    assert_non_null(strstr(line, "guest said: a\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x0a00:00:00.000 enclave info: "
                                 "forged\\xff"));
}

static void test_plain_text_unchanged(void **state)
{
    (void)state;
    char *line = logged("session s1 ready in 12 ms (tcg) \xc3\xa9t\xc3\xa9");
    assert_non_null(strstr(line, "enclave warn: guest said: session s1 ready in 12 ms (tcg) \xc3\xa9t\xc3\xa9\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_text_stays_one_line),
        cmocka_unit_test(test_plain_text_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
