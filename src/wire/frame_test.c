/* Unit tests for the guest protocol framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/frame.h"
#include "wire/test_frames.h"

static uint8_t *encode_health(uint64_t id, size_t *len)
{
    Guest__V1__HealthRequest h = GUEST__V1__HEALTH_REQUEST__INIT;
    uint8_t *out = NULL;
    assert_int_equal(wire_encode(TEST_FRAME(id, HEALTH_REQUEST, health_request, &h), &out, len), 0);
    return out;
}

static uint8_t *encode_exec(uint64_t id, const char *arg, size_t stdin_len, size_t *len)
{
    Guest__V1__ExecRequest e = GUEST__V1__EXEC_REQUEST__INIT;
    char *argv[] = {(char *)"/bin/echo", (char *)arg};
    uint8_t *in = malloc(stdin_len ? stdin_len : 1);
    assert_non_null(in);
    for (size_t i = 0; i < stdin_len; i++)
        in[i] = (uint8_t)(i * 7);
    e.n_argv = 2;
    e.argv = argv;
    e.stdin.data = in;
    e.stdin.len = stdin_len;
    e.timeout_ms = 1234;
    uint8_t *out = NULL;
    assert_int_equal(wire_encode(TEST_FRAME(id, EXEC_REQUEST, exec_request, &e), &out, len), 0);
    free(in);
    return out;
}

static void feed_all(struct wire_decoder *d, const uint8_t *p, size_t len)
{
    long n = wire_decoder_feed(d, p, len);
    assert_int_equal(n, (long)len);
}

static void test_round_trip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode_exec(42, "hello", 1000, &len);
    /* The prefix is the body length, big-endian. */
    uint32_t body = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    assert_int_equal(body, len - 4);

    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    feed_all(&d, buf, len);
    Guest__V1__Frame *f = NULL;
    assert_int_equal(wire_decoder_next(&d, &f), 1);
    assert_non_null(f);
    assert_int_equal(f->id, 42);
    assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_EXEC_REQUEST);
    assert_int_equal(f->exec_request->n_argv, 2);
    assert_string_equal(f->exec_request->argv[1], "hello");
    assert_int_equal(f->exec_request->stdin.len, 1000);
    assert_int_equal(f->exec_request->stdin.data[999], (uint8_t)(999 * 7));
    assert_int_equal(f->exec_request->timeout_ms, 1234);
    guest__v1__frame__free_unpacked(f, NULL);
    assert_int_equal(wire_decoder_next(&d, &f), 0);
    assert_null(f);
    assert_int_equal(wire_decoder_pending(&d), 0);
    wire_decoder_release(&d);
    free(buf);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = encode_exec(7, "split", 300, &len);
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    Guest__V1__Frame *f = NULL;
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(wire_decoder_next(&d, &f), 0);
        feed_all(&d, buf + i, 1);
    }
    assert_int_equal(wire_decoder_next(&d, &f), 1);
    assert_int_equal(f->id, 7);
    assert_string_equal(f->exec_request->argv[1], "split");
    guest__v1__frame__free_unpacked(f, NULL);
    assert_int_equal(wire_decoder_next(&d, &f), 0);
    wire_decoder_release(&d);
    free(buf);
}

static void test_many_frames_one_feed(void **state)
{
    (void)state;
    enum { N = 500 };
    size_t total = 0, cap = 0;
    uint8_t *all = NULL;
    for (uint64_t i = 0; i < N; i++) {
        size_t len;
        uint8_t *one = (i % 3) ? encode_health(i + 1, &len) : encode_exec(i + 1, "x", i, &len);
        if (total + len > cap) {
            cap = (total + len) * 2;
            all = realloc(all, cap);
            assert_non_null(all);
        }
        memcpy(all + total, one, len);
        total += len;
        free(one);
    }
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    feed_all(&d, all, total);
    for (uint64_t i = 0; i < N; i++) {
        Guest__V1__Frame *f = NULL;
        assert_int_equal(wire_decoder_next(&d, &f), 1);
        assert_int_equal(f->id, i + 1);
        assert_int_equal(f->body_case, (i % 3) ? GUEST__V1__FRAME__BODY_HEALTH_REQUEST
                                               : GUEST__V1__FRAME__BODY_EXEC_REQUEST);
        guest__v1__frame__free_unpacked(f, NULL);
    }
    Guest__V1__Frame *f = NULL;
    assert_int_equal(wire_decoder_next(&d, &f), 0);
    wire_decoder_release(&d);
    free(all);
}

/* A length above the maximum is refused from the header alone, before the
 * body arrives, and the decoder stays refused until a sync marker or a reset. */
static void test_hostile_lengths(void **state)
{
    (void)state;
    static const uint8_t huge[][4] = {
        {0xff, 0xff, 0xff, 0xfe}, /* (0xffffffff may start a sync marker: test_sync_lookalike) */
        {0x80, 0x00, 0x00, 0x00},
        {0x00, 0x80, 0x00, 0x01}, /* WIRE_MAX_FRAME + 1 */
    };
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        struct wire_decoder d;
        wire_decoder_init(&d, 0);
        feed_all(&d, huge[i], 4);
        Guest__V1__Frame *f = NULL;
        assert_int_equal(wire_decoder_next(&d, &f), WIRE_ERR_TOO_LARGE);
        assert_null(f);
        /* Still broken; later bytes, even a good frame, are dropped (all
         * but a short tail kept to find a marker split across feeds). */
        size_t len;
        uint8_t *good = encode_health(1, &len);
        assert_int_equal(wire_decoder_feed(&d, good, len), (long)len);
        assert_int_equal(wire_decoder_next(&d, &f), WIRE_ERR_TOO_LARGE);
        assert_true(wire_decoder_pending(&d) < WIRE_SYNC_LEN);
        assert_true(d.broken);
        /* After a reset (the peer reconnected) the stream works again. */
        wire_decoder_reset(&d);
        feed_all(&d, good, len);
        assert_int_equal(wire_decoder_next(&d, &f), 1);
        assert_int_equal(f->id, 1);
        guest__v1__frame__free_unpacked(f, NULL);
        free(good);
        wire_decoder_release(&d);
    }

    /* Exactly the maximum is accepted by a decoder with a small maximum. */
    struct wire_decoder d;
    wire_decoder_init(&d, 16);
    uint8_t hdr[4] = {0, 0, 0, 17};
    feed_all(&d, hdr, 4);
    Guest__V1__Frame *f = NULL;
    assert_int_equal(wire_decoder_next(&d, &f), WIRE_ERR_TOO_LARGE);
    wire_decoder_release(&d);

    wire_decoder_init(&d, 16);
    uint8_t sixteen[20] = {0, 0, 0, 16, 0x08, 0x05}; /* id=5 then padding that fails */
    feed_all(&d, sixteen, 4);
    assert_int_equal(wire_decoder_next(&d, &f), 0); /* waits for the body */
    wire_decoder_release(&d);
}

/* A declared length within the limit but no body yet allocates nothing
 * beyond what has arrived. */
static void test_no_allocation_from_length(void **state)
{
    (void)state;
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    uint8_t hdr[4] = {0x00, 0x7f, 0xff, 0xff};
    feed_all(&d, hdr, 4);
    Guest__V1__Frame *f = NULL;
    assert_int_equal(wire_decoder_next(&d, &f), 0);
    assert_true(d.cap <= 4096);
    wire_decoder_release(&d);
}

/* The decoder never holds more than one maximal frame: feeding past that
 * takes only part, and the rest goes in after next(). */
static void test_bounded_feed(void **state)
{
    (void)state;
    struct wire_decoder d;
    wire_decoder_init(&d, 64);
    size_t len;
    uint8_t *one = encode_health(9, &len);
    uint8_t stream[400];
    size_t total = 0;
    while (total + len <= sizeof(stream)) {
        memcpy(stream + total, one, len);
        total += len;
    }
    size_t off = 0, frames = 0;
    while (off < total) {
        long n = wire_decoder_feed(&d, stream + off, total - off);
        assert_true(n >= 0);
        assert_true(wire_decoder_pending(&d) <= 4 + 64);
        off += (size_t)n;
        Guest__V1__Frame *f = NULL;
        int r;
        while ((r = wire_decoder_next(&d, &f)) == 1) {
            assert_int_equal(f->id, 9);
            guest__v1__frame__free_unpacked(f, NULL);
            frames++;
        }
        assert_int_equal(r, 0);
    }
    assert_int_equal(frames, total / len);
    free(one);
    wire_decoder_release(&d);
}

/* Garbage bodies are skipped one frame at a time; the stream goes on. */
static void test_garbage_bodies(void **state)
{
    (void)state;
    static const uint8_t garbage[][8] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* bad varint / wire type */
        {0x0a, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* length-delimited past the end */
        {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, /* truncated varint */
        {0x62, 0x05, 0x0a, 0x09, 0x41, 0x41, 0x41, 0x41}, /* exec_request whose argv overruns */
    };
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    size_t glen;
    uint8_t *good = encode_health(77, &glen);
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        uint8_t hdr[4] = {0, 0, 0, 8};
        feed_all(&d, hdr, 4);
        feed_all(&d, garbage[i], 8);
        feed_all(&d, good, glen);
        Guest__V1__Frame *f = NULL;
        assert_int_equal(wire_decoder_next(&d, &f), WIRE_ERR_BAD_FRAME);
        assert_null(f);
        assert_int_equal(wire_decoder_next(&d, &f), 1);
        assert_int_equal(f->id, 77);
        guest__v1__frame__free_unpacked(f, NULL);
    }
    /* An empty body is a valid, empty frame (no body set). */
    uint8_t empty[4] = {0, 0, 0, 0};
    feed_all(&d, empty, 4);
    Guest__V1__Frame *f = NULL;
    assert_int_equal(wire_decoder_next(&d, &f), 1);
    assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY__NOT_SET);
    guest__v1__frame__free_unpacked(f, NULL);
    free(good);
    wire_decoder_release(&d);
}

static void test_encode_too_large(void **state)
{
    (void)state;
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecResponse r = GUEST__V1__EXEC_RESPONSE__INIT;
    size_t big = WIRE_MAX_FRAME;
    r.stdout.data = calloc(1, big);
    assert_non_null(r.stdout.data);
    r.stdout.len = big;
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_RESPONSE;
    f.exec_response = &r;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(wire_encode(&f, &out, &len), WIRE_ERR_TOO_LARGE);
    assert_null(out);
    r.stdout.len = big - 16; /* tag + 4-byte varint length fit */
    assert_int_equal(wire_encode(&f, &out, &len), 0);
    assert_true(len <= 4 + WIRE_MAX_FRAME);
    /* And the maximum-size frame decodes. */
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    size_t off = 0;
    while (off < len) {
        long n = wire_decoder_feed(&d, out + off, len - off > 65536 ? 65536 : len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    Guest__V1__Frame *g = NULL;
    assert_int_equal(wire_decoder_next(&d, &g), 1);
    assert_int_equal(g->exec_response->stdout.len, big - 16);
    guest__v1__frame__free_unpacked(g, NULL);
    wire_decoder_release(&d);
    free(out);
    free(r.stdout.data);
    assert_int_equal(wire_encode(NULL, &out, &len), WIRE_ERR_INVALID);
}


static const uint8_t sync_marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;

/* Appends to a growing test buffer. */
struct bytes {
    uint8_t data[4096];
    size_t len;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    assert_true(b->len + n <= sizeof(b->data));
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_health(struct bytes *b, uint64_t id)
{
    size_t len;
    uint8_t *f = encode_health(id, &len);
    put(b, f, len);
    free(f);
}

/* What a fresh decoder made of b fed in steps of `step` bytes: the frame
 * ids, the errors counted, and its state at the end. */
struct driven {
    uint64_t ids[8];
    size_t n;
    int too_large, bad;
    unsigned syncs;
    bool broken;
};

static struct driven drive(const struct bytes *b, size_t step)
{
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    struct driven r = {.n = 0};
    size_t off = 0;
    while (off < b->len) {
        size_t chunk = b->len - off < step ? b->len - off : step;
        long n = wire_decoder_feed(&d, b->data + off, chunk);
        assert_true(n >= 0);
        off += (size_t)n;
        for (;;) {
            Guest__V1__Frame *f = NULL;
            int rc = wire_decoder_next(&d, &f);
            if (rc == 1) {
                assert_true(r.n < 8);
                r.ids[r.n++] = f->id;
                guest__v1__frame__free_unpacked(f, NULL);
                continue;
            }
            if (rc == WIRE_ERR_BAD_FRAME) {
                r.bad++;
                continue;
            }
            if (rc == WIRE_ERR_TOO_LARGE)
                r.too_large++;
            break;
        }
    }
    r.syncs = d.syncs;
    r.broken = d.broken;
    wire_decoder_release(&d);
    return r;
}

/* The frames decoded must be exactly want[0..n_want), in order. */
static void expect_ids(const struct driven *r, size_t step, const uint64_t *want, size_t n_want)
{
    if (r->n != n_want)
        fail_msg("in steps of %zu: %zu frames, want %zu", step, r->n, n_want);
    for (size_t i = 0; i < n_want; i++)
        if (r->ids[i] != want[i])
            fail_msg("in steps of %zu: frame %zu has id %llu, want %llu", step, i,
                     (unsigned long long)r->ids[i], (unsigned long long)want[i]);
}

/* Between frames the marker is skipped, whole or arriving byte by byte. */
static void test_sync_between_frames(void **state)
{
    (void)state;
    struct bytes b = {.len = 0};
    put(&b, sync_marker, WIRE_SYNC_LEN);
    put_health(&b, 1);
    put(&b, sync_marker, WIRE_SYNC_LEN);
    put_health(&b, 2);
    for (size_t step = 1; step <= b.len; step += (step < 16 ? 1 : 50)) {
        struct driven r = drive(&b, step);
        expect_ids(&r, step, (const uint64_t[]){1, 2}, 2);
        assert_int_equal(r.too_large, 0);
        assert_int_equal(r.bad, 0);
        assert_int_equal(r.syncs, 2);
    }
}

/* After a length over the limit, input is dropped up to the next marker,
 * then frames decode again, whatever the feed sizes. */
static void test_sync_after_too_large(void **state)
{
    (void)state;
    struct bytes b = {.len = 0};
    put_health(&b, 1);
    uint8_t huge[4] = {0x7f, 0, 0, 0};
    put(&b, huge, 4);
    for (int i = 0; i < 300; i++)
        put(&b, "\xff\xff\xffjunk", 7); /* junk, with marker-like prefixes */
    put(&b, sync_marker, WIRE_SYNC_LEN);
    put_health(&b, 2);
    put_health(&b, 3);
    for (size_t step = 1; step <= b.len; step = step * 2 + 1) {
        struct driven r = drive(&b, step);
        expect_ids(&r, step, (const uint64_t[]){1, 2, 3}, 3);
        assert_true(r.too_large >= 1);
        assert_false(r.broken);
    }
}

/* A sender that started over in the middle of a frame: the stale frame's
 * body swallows the marker and does not decode; the stream resumes after
 * the marker. */
static void test_sync_inside_bad_body(void **state)
{
    (void)state;
    struct bytes b = {.len = 0};
    uint8_t hdr[4] = {0, 0, 0, 24}; /* 6 stale bytes + marker + 6 bytes of the next frame */
    put(&b, hdr, 4);
    put(&b, "\xff\xff\xff\xff\xff\xff", 6); /* the start of a frame that never finished */
    put(&b, sync_marker, WIRE_SYNC_LEN);
    put_health(&b, 7); /* its first 6 bytes are inside the stale frame */
    put_health(&b, 8);
    struct driven r = drive(&b, b.len);
    assert_int_equal(r.bad, 1);
    assert_int_equal(r.too_large, 0);
    expect_ids(&r, b.len, (const uint64_t[]){7, 8}, 2);
}

/* Four 0xff bytes that are not followed by the rest of the marker are an
 * ordinary length over the limit. */
static void test_sync_lookalike(void **state)
{
    (void)state;
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    uint8_t almost[WIRE_SYNC_LEN];
    memcpy(almost, sync_marker, WIRE_SYNC_LEN);
    almost[WIRE_SYNC_LEN - 1] = 'X';
    feed_all(&d, almost, 6);
    Guest__V1__Frame *f = NULL;
    assert_int_equal(wire_decoder_next(&d, &f), 0); /* could still be the marker */
    feed_all(&d, almost + 6, WIRE_SYNC_LEN - 6);
    assert_int_equal(wire_decoder_next(&d, &f), WIRE_ERR_TOO_LARGE);
    assert_true(d.broken);
    wire_decoder_release(&d);
}

/* A body whose decoding would allocate many times its size (empty repeated
 * messages: two bytes each on the wire, a struct and a pointer each when
 * decoded) does not decode; the stream carries on after it. The same frame
 * with a few entries decodes. */
static uint8_t *encode_empty_env(uint64_t id, size_t n_env, size_t *len)
{
    Guest__V1__ExecRequest e = GUEST__V1__EXEC_REQUEST__INIT;
    Guest__V1__EnvVar empty = GUEST__V1__ENV_VAR__INIT;
    Guest__V1__EnvVar **env = calloc(n_env, sizeof(*env));
    assert_non_null(env);
    for (size_t i = 0; i < n_env; i++)
        env[i] = &empty;
    e.n_env = n_env;
    e.env = env;
    uint8_t *out = NULL;
    assert_int_equal(wire_encode(TEST_FRAME(id, EXEC_REQUEST, exec_request, &e), &out, len), 0);
    free(env);
    return out;
}

static void test_allocation_budget(void **state)
{
    (void)state;
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    Guest__V1__Frame *f = NULL;
    size_t len = 0;

    uint8_t *few = encode_empty_env(1, 100, &len);
    feed_all(&d, few, len);
    assert_int_equal(wire_decoder_next(&d, &f), 1);
    assert_int_equal(f->exec_request->n_env, 100);
    guest__v1__frame__free_unpacked(f, NULL);
    free(few);

    uint8_t *many = encode_empty_env(2, 200000, &len);
    assert_true(len < 1024 * 1024); /* a small frame ... */
    feed_all(&d, many, len);
    assert_int_equal(wire_decoder_next(&d, &f), WIRE_ERR_BAD_FRAME); /* ... refused */
    free(many);

    uint8_t *health = encode_health(3, &len);
    feed_all(&d, health, len);
    assert_int_equal(wire_decoder_next(&d, &f), 1);
    assert_int_equal(f->id, 3);
    guest__v1__frame__free_unpacked(f, NULL);
    free(health);
    wire_decoder_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_many_frames_one_feed),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_no_allocation_from_length),
        cmocka_unit_test(test_bounded_feed),
        cmocka_unit_test(test_garbage_bodies),
        cmocka_unit_test(test_encode_too_large),
        cmocka_unit_test(test_sync_between_frames),
        cmocka_unit_test(test_sync_after_too_large),
        cmocka_unit_test(test_sync_inside_bad_body),
        cmocka_unit_test(test_sync_lookalike),
        cmocka_unit_test(test_allocation_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
