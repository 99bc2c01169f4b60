/* A log line quoting a peer (a path an agent chose, a guest's error) reaches
 * stderr with its control characters escaped: it can neither drive the
 * terminal of `enclave up` nor forge a second line in daemon.log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"

/* What one log_warn of text wrote to stderr. */
static char *logged(const char *text)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    log_warn("download of %s ended early", text);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    static char buf[4096];
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

static void test_log_escapes_what_it_quotes(void **state)
{
    char *out = logged("/workspace/a\x1b]0;pwned\x07\n12:00:00.000 enclave info: forged\xc2\x9b");
    assert_non_null(strstr(out, "enclave warn: download of /workspace/a\\x1b]0;pwned\\x07\\x0a12:00:00.000 "
                                "enclave info: forged\\u009b ended early\n"));
    /* one line: the only newline is the one that ends it */
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    assert_null(strchr(out, '\x1b'));
}

static void test_log_keeps_plain_text(void **state)
{
    char *out = logged("/workspace/caf\xc3\xa9.txt");
    assert_non_null(strstr(out, "download of /workspace/caf\xc3\xa9.txt ended early\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_escapes_what_it_quotes),
        cmocka_unit_test(test_log_keeps_plain_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
