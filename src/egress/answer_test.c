/* The server's answer as the host reads it (internal.h): whole final
 * responses by Content-Length, by the last chunk, by the close; a HEAD's
 * answer; 1xx answers skipped; what http-parser cannot read; every answer
 * fed in pieces of every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "egress/internal.h"

/* Feeds text in pieces of step bytes; returns the state, and in *used how
 * many bytes the answer took (its end, when complete). */
static enum egress_answer_state feed(const char *text, size_t step, bool head, bool eof, size_t *used)
{
    struct egress_answer *a = egress_answer_new();
    assert_non_null(a);
    egress_answer_set_head(a, head);
    size_t len = strlen(text), took = 0;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        size_t k = egress_answer_feed(a, (const uint8_t *)text + off, n);
        assert_true(k <= n);
        took += k;
    }
    if (eof)
        egress_answer_eof(a);
    enum egress_answer_state st = egress_answer_state(a);
    assert_int_equal(egress_answer_bytes(a), took);
    egress_answer_free(a);
    if (used)
        *used = took;
    return st;
}

/* The same answer in pieces of every size from 1 to its length. */
static void expect_every_step(const char *text, bool head, bool eof, enum egress_answer_state want, size_t end)
{
    for (size_t step = 1; step <= strlen(text); step++) {
        size_t used = 0;
        assert_int_equal(feed(text, step, head, eof, &used), want);
        if (want == EGRESS_ANSWER_COMPLETE)
            assert_int_equal(used, end);
    }
}

#define CL_ANSWER "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

static void test_content_length(void **state)
{
    expect_every_step(CL_ANSWER, false, false, EGRESS_ANSWER_COMPLETE, strlen(CL_ANSWER));
    /* What follows the answer is not the answer's. */
    expect_every_step(CL_ANSWER "garbage after", false, false, EGRESS_ANSWER_COMPLETE, strlen(CL_ANSWER));
    /* Short of its length: not whole, not even at the close. */
    expect_every_step("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello", false, true, EGRESS_ANSWER_PARTIAL, 0);
    assert_int_equal(feed("HTTP/1.1 200 OK\r\nContent-Le", 3, false, true, NULL), EGRESS_ANSWER_PARTIAL);
}

static void test_chunked(void **state)
{
    static const char whole[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n";
    expect_every_step(whole, false, false, EGRESS_ANSWER_COMPLETE, strlen(whole));
    expect_every_step("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false, true,
                      EGRESS_ANSWER_PARTIAL, 0);
}

static void test_until_close(void **state)
{
    static const char text[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body runs to the close";
    expect_every_step(text, false, false, EGRESS_ANSWER_PARTIAL, 0);
    expect_every_step(text, false, true, EGRESS_ANSWER_COMPLETE, strlen(text));
    /* Nothing at all, then the close: no answer. */
    struct egress_answer *a = egress_answer_new();
    egress_answer_eof(a);
    assert_int_equal(egress_answer_state(a), EGRESS_ANSWER_PARTIAL);
    egress_answer_free(a);
}

static void test_head_and_bodiless(void **state)
{
    /* HEAD: a Content-Length and no body. */
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    expect_every_step(head, true, false, EGRESS_ANSWER_COMPLETE, strlen(head));
    /* The same answer to a GET waits for its 100 bytes. */
    expect_every_step(head, false, false, EGRESS_ANSWER_PARTIAL, 0);
    expect_every_step("HTTP/1.1 204 No Content\r\n\r\n", false, false, EGRESS_ANSWER_COMPLETE, 27);
    expect_every_step("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, false, EGRESS_ANSWER_COMPLETE,
                      48);
}

static void test_interim_answers_skipped(void **state)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    expect_every_step(cont, false, true, EGRESS_ANSWER_PARTIAL, 0);
    static const char both[] = "HTTP/1.1 100 Continue\r\n\r\n" CL_ANSWER;
    expect_every_step(both, false, false, EGRESS_ANSWER_COMPLETE, strlen(both));
}

/* Hostile or foreign bytes: nothing is known, nothing breaks. */
static void test_unreadable(void **state)
{
    static const char *const bad[] = {
        "SSH-2.0-OpenSSH_9.6\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nframes",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        for (size_t step = 1; step <= strlen(bad[i]); step++)
            assert_int_equal(feed(bad[i], step, false, true, NULL), EGRESS_ANSWER_UNREADABLE);
    /* A head larger than http-parser takes. */
    size_t n = 200000;
    char *big = malloc(n + 1);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', n - 20);
    big[n] = '\0';
    assert_int_equal(feed(big, 4096, false, true, NULL), EGRESS_ANSWER_UNREADABLE);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),      cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_until_close),         cmocka_unit_test(test_head_and_bodiless),
        cmocka_unit_test(test_interim_answers_skipped), cmocka_unit_test(test_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
