/* Streaming replies (raw and WebSocket) and the RFC 6455 framing helpers.
 * The client is the other end of a socketpair on the same event base; it
 * writes raw bytes and reads back raw bytes, so every byte on the wire is
 * checked here, not by a library that might forgive it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "api/api.h"
#include "api/internal.h"

struct fixture {
    struct event_base *base;
    struct api_server *server;
    int fd; /* the client's end */
    struct api_stream *stream;
    int closed;  /* on_close calls */
    int drained; /* on_drained calls */
    char message[8192];
    size_t message_len;
    bool message_binary;
    int messages;
    size_t max_buffer;
    bool end_on_message;
    char last_id[64]; /* the Last-Event-ID the route saw */
    char peer[80];
    char buf[1 << 17]; /* what the client has read */
    size_t len;
    bool eof;
};

/* ------------------------------------------------------------------ routes */

static void on_close(struct api_stream *s, void *ctx)
{
    struct fixture *fx = ctx;
    assert_ptr_equal(s, fx->stream);
    fx->closed++;
    fx->stream = NULL;
}

static void on_drained(struct api_stream *s, void *ctx)
{
    struct fixture *fx = ctx;
    fx->drained++;
}

static void on_message(struct api_stream *s, bool binary, const void *data, size_t len, void *ctx)
{
    struct fixture *fx = ctx;
    assert_true(len <= sizeof(fx->message));
    memcpy(fx->message, data, len);
    fx->message_len = len;
    fx->message_binary = binary;
    fx->messages++;
    if (fx->end_on_message) {
        api_stream_end(s, "bye", 3, 1000);
        fx->stream = NULL;
    }
}

static const struct api_stream_callbacks callbacks = {on_close, on_drained, on_message};

static void sse_route(struct api_exchange *x, void *ctx)
{
    struct fixture *fx = ctx;
    struct api_stream_options o = {.max_buffer = fx->max_buffer, .extra_headers = "X-Test: 1\r\n"};
    const char *id = api_exchange_header(x, "last-event-id");
    snprintf(fx->last_id, sizeof(fx->last_id), "%s", id ? id : "(none)");
    snprintf(fx->peer, sizeof(fx->peer), "%s", api_exchange_peer(x));
    fx->stream = api_exchange_stream_begin(x, 200, "text/event-stream", &o, &callbacks, fx);
    assert_non_null(fx->stream);
    assert_int_equal(api_stream_write(fx->stream, "hello\n", 6), 0);
}

static void ws_route(struct api_exchange *x, void *ctx)
{
    struct fixture *fx = ctx;
    struct api_stream_options o = {.max_buffer = fx->max_buffer, .max_message = 1000};
    fx->stream = api_exchange_websocket(x, &o, &callbacks, fx);
}

/* ------------------------------------------------------------------ plumbing */

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->base = event_base_new();
    struct api_config config = {.listen = "127.0.0.1:0"};
    struct error err;
    assert_int_equal(api_server_new(fx->base, &config, &fx->server, &err), 0);
    assert_int_equal(api_server_add_route(fx->server, "GET", "/sse", sse_route, fx, &err), 0);
    assert_int_equal(api_server_add_route(fx->server, "GET", "/ws", ws_route, fx, &err), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int small = 4096;
    /* Small socket buffers, so that a client that does not read backs up fast. */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    assert_int_equal(api_server_adopt(fx->server, sv[0], "test:1", &err), 0);
    fx->fd = sv[1];
    evutil_make_socket_nonblocking(fx->fd);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx->fd >= 0)
        close(fx->fd);
    api_server_free(fx->server);
    event_base_free(fx->base);
    free(fx);
    return 0;
}

static void spin(struct fixture *fx, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        for (;;) {
            ssize_t n = read(fx->fd, fx->buf + fx->len, sizeof(fx->buf) - fx->len - 1);
            if (n > 0) {
                fx->len += (size_t)n;
                fx->buf[fx->len] = '\0';
                continue;
            }
            if (n == 0)
                fx->eof = true;
            break;
        }
    }
}

static void send_raw(struct fixture *fx, const void *data, size_t len)
{
    assert_int_equal(write(fx->fd, data, len), (ssize_t)len);
}

static void send_str(struct fixture *fx, const char *s)
{
    send_raw(fx, s, strlen(s));
}

/* Drops what was read so far up to and including the response head. */
static void consume_head(struct fixture *fx)
{
    char *end = strstr(fx->buf, "\r\n\r\n");
    assert_non_null(end);
    size_t n = (size_t)(end + 4 - fx->buf);
    memmove(fx->buf, fx->buf + n, fx->len - n);
    fx->len -= n;
    fx->buf[fx->len] = '\0';
}

static void send_frame(struct fixture *fx, uint8_t b0, const void *payload, size_t len, bool mask)
{
    uint8_t frame[16 + 70000];
    size_t at = 0;
    frame[at++] = b0;
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        frame[at++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        frame[at++] = m | 126;
        frame[at++] = (uint8_t)(len >> 8);
        frame[at++] = (uint8_t)len;
    } else {
        frame[at++] = m | 127;
        for (int i = 7; i >= 0; i--)
            frame[at++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask) {
        memcpy(frame + at, key, 4);
        at += 4;
    }
    assert_true(at + len <= sizeof(frame));
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        frame[at + i] = mask ? (uint8_t)(p[i] ^ key[i & 3]) : p[i];
    send_raw(fx, frame, at + len);
}

/* Parses one server frame at the front of what was read. */
static bool next_frame(struct fixture *fx, uint8_t *opcode, char *payload, size_t *len)
{
    struct ws_frame_header h;
    int r = ws_parse_header((const uint8_t *)fx->buf, fx->len, false, &h);
    if (r <= 0 || fx->len < h.header_len + h.payload_len)
        return false;
    assert_false(h.masked);
    assert_true(h.fin);
    *opcode = h.opcode;
    *len = (size_t)h.payload_len;
    memcpy(payload, fx->buf + h.header_len, *len);
    size_t n = h.header_len + *len;
    memmove(fx->buf, fx->buf + n, fx->len - n);
    fx->len -= n;
    return true;
}

static const char ws_request[] =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static void open_ws(struct fixture *fx)
{
    send_str(fx, ws_request);
    spin(fx, 4);
    assert_non_null(fx->stream);
    assert_non_null(strstr(fx->buf, "HTTP/1.1 101 Switching Protocols\r\n"));
    /* RFC 6455 section 1.3's worked example. */
    assert_non_null(strstr(fx->buf, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    consume_head(fx);
}

static uint16_t expect_close(struct fixture *fx)
{
    spin(fx, 6);
    uint8_t op;
    char payload[256];
    size_t len;
    while (next_frame(fx, &op, payload, &len)) {
        if (op == WS_OP_CLOSE) {
            assert_int_equal(len, 2);
            return (uint16_t)(((uint8_t)payload[0] << 8) | (uint8_t)payload[1]);
        }
    }
    fail_msg("no close frame");
    return 0;
}

/* ------------------------------------------------------------------ framing */

static void test_ws_header_parsing(void **state)
{
    struct ws_frame_header h;
    /* Need more. */
    assert_int_equal(ws_parse_header((const uint8_t *)"", 0, true, &h), 0);
    assert_int_equal(ws_parse_header((const uint8_t *)"\x81", 1, true, &h), 0);
    assert_int_equal(ws_parse_header((const uint8_t *)"\x81\x85\x01\x02", 4, true, &h), 0);
    assert_int_equal(ws_parse_header((const uint8_t *)"\x81\xfe\x01", 3, true, &h), 0);
    /* Complete. */
    static const uint8_t small[] = {0x81, 0x85, 1, 2, 3, 4};
    assert_int_equal(ws_parse_header(small, sizeof(small), true, &h), 1);
    assert_true(h.fin && h.masked);
    assert_int_equal(h.opcode, WS_OP_TEXT);
    assert_int_equal(h.payload_len, 5);
    assert_int_equal(h.header_len, 6);
    static const uint8_t mid[] = {0x02, 0xfe, 0x01, 0x00, 9, 9, 9, 9};
    assert_int_equal(ws_parse_header(mid, sizeof(mid), true, &h), 1);
    assert_false(h.fin);
    assert_int_equal(h.payload_len, 256);
    assert_int_equal(h.header_len, 8);
    static const uint8_t big[] = {0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4};
    assert_int_equal(ws_parse_header(big, sizeof(big), true, &h), 1);
    assert_int_equal(h.payload_len, 65536);
    assert_int_equal(h.header_len, 14);
    /* Broken: reserved bits, unknown opcodes, unmasked, bad control frames,
     * lengths not in minimal form, the top length bit. */
    static const uint8_t *const bad[] = {
        (const uint8_t *)"\xc1\x80xxxx", (const uint8_t *)"\x83\x80xxxx",
        (const uint8_t *)"\x8b\x80xxxx", (const uint8_t *)"\x81\x05",
        (const uint8_t *)"\x09\x80xxxx", (const uint8_t *)"\x89\xfe\x00\x7e",
        (const uint8_t *)"\x81\xfe\x00\x7dxxxx",
        (const uint8_t *)"\x81\xff\x00\x00\x00\x00\x00\x00\xff\xffxxxx",
        (const uint8_t *)"\x81\xff\x80\x00\x00\x00\x00\x00\x00\x00xxxx",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ws_parse_header(bad[i], 14, true, &h), -WS_CLOSE_PROTOCOL);
    /* Unmasked is fine for a client reading a server's frames. */
    assert_int_equal(ws_parse_header((const uint8_t *)"\x81\x05", 2, false, &h), 1);
}

static void test_ws_header_roundtrip_and_mask(void **state)
{
    static const uint64_t lens[] = {0, 125, 126, 65535, 65536, 1ull << 40};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t out[WS_MAX_HEADER];
        size_t n = ws_write_header(out, WS_OP_TEXT, lens[i]);
        struct ws_frame_header h;
        assert_int_equal(ws_parse_header(out, n, false, &h), 1);
        assert_int_equal(h.header_len, n);
        assert_int_equal(h.payload_len, lens[i]);
        assert_int_equal(h.opcode, WS_OP_TEXT);
    }
    uint8_t data[] = "abcdefg";
    static const uint8_t mask[4] = {1, 2, 3, 4};
    ws_unmask(data, 7, mask, 0);
    assert_int_not_equal(data[0], 'a');
    /* Unmasking in two pieces with the offset gives the same as in one. */
    ws_unmask(data, 3, mask, 0);
    ws_unmask(data + 3, 4, mask, 3);
    assert_memory_equal(data, "abcdefg", 7);
}

static void test_ws_utf8(void **state)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"", true},
        {"plain", true},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true},
        {"\xef\xbf\xbf", true},           /* U+FFFF */
        {"\xf4\x8f\xbf\xbf", true},       /* U+10FFFF */
        {"\xc3", false},                   /* cut short */
        {"\xe2\x82", false},
        {"\x80", false},                   /* a lone continuation */
        {"\xc0\xaf", false},               /* overlong '/' */
        {"\xe0\x80\xaf", false},
        {"\xf0\x80\x80\xaf", false},
        {"\xed\xa0\x80", false},           /* a surrogate */
        {"\xf4\x90\x80\x80", false},       /* past U+10FFFF */
        {"\xff", false},
        {"a\xc3\x28", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (ws_utf8_valid((const uint8_t *)cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            fail_msg("case %zu", i);
}

static void test_ws_bad_utf8_text_closes(void **state)
{
    struct fixture *fx = *state;
    open_ws(fx);
    /* Split inside a character: fine once whole. */
    send_frame(fx, 0x01, "\xe2\x82", 2, true);
    send_frame(fx, 0x80, "\xac", 1, true);
    spin(fx, 4);
    assert_int_equal(fx->messages, 1);
    /* Binary is not checked; text that is not UTF-8 closes with 1007. */
    send_frame(fx, 0x82, "\xff", 1, true);
    spin(fx, 4);
    assert_int_equal(fx->messages, 2);
    send_frame(fx, 0x81, "\xff", 1, true);
    assert_int_equal(expect_close(fx), WS_CLOSE_BAD_DATA);
    assert_int_equal(fx->messages, 2);
}

static void test_ws_accept_key(void **state)
{
    char out[29];
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_accept_key("", out), -1);
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -1);
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQQQ", out), -1);
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25j!Q==", out), -1);
}

/* ------------------------------------------------------------------ raw streams */

static void test_sse_stream_and_client_gone(void **state)
{
    struct fixture *fx = *state;
    send_str(fx, "GET /sse HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 41\r\n\r\n");
    spin(fx, 4);
    assert_non_null(fx->stream);
    assert_non_null(strstr(fx->buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(fx->buf, "Content-Type: text/event-stream\r\n"));
    assert_non_null(strstr(fx->buf, "X-Test: 1\r\n"));
    assert_null(strstr(fx->buf, "Content-Length"));
    consume_head(fx);
    assert_string_equal(fx->buf, "hello\n");
    assert_int_equal(api_stream_write(fx->stream, "more\n", 5), 0);
    spin(fx, 4);
    assert_string_equal(fx->buf, "hello\nmore\n");
    assert_false(api_stream_is_websocket(fx->stream));
    /* Bytes the client sends are dropped; its hang-up is on_close, once. */
    send_str(fx, "GET /sse HTTP/1.1\r\n\r\n");
    spin(fx, 4);
    assert_int_equal(fx->closed, 0);
    close(fx->fd);
    fx->fd = -1;
    for (int i = 0; i < 8; i++)
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    assert_int_equal(fx->closed, 1);
    assert_null(fx->stream);
}

static void test_sse_header_visible(void **state)
{
    struct fixture *fx = *state;
    send_str(fx, "GET /sse HTTP/1.1\r\nLast-Event-ID: 41 \r\n\r\n");
    spin(fx, 4);
    assert_non_null(fx->stream);
    assert_string_equal(fx->last_id, "41");
    assert_string_equal(fx->peer, "test:1");
    api_stream_end(fx->stream, NULL, 0, 0);
    fx->stream = NULL;
    spin(fx, 20);
    assert_true(fx->eof);
    assert_int_equal(fx->closed, 0);
}

static void test_backpressure_bound(void **state)
{
    struct fixture *fx = *state;
    fx->max_buffer = 4096;
    send_str(fx, "GET /sse HTTP/1.1\r\n\r\n");
    /* Run the server only: the client reads nothing. */
    for (int i = 0; i < 4; i++)
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    assert_non_null(fx->stream);
    char chunk[1500];
    memset(chunk, 'x', sizeof(chunk));
    int accepted = 0;
    for (int i = 0; i < 100; i++) {
        if (api_stream_write(fx->stream, chunk, sizeof(chunk)) < 0)
            break;
        accepted++;
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    }
    /* Some went into the socket, the rest waits; never more than the bound. */
    assert_true(accepted < 100);
    assert_true(api_stream_pending(fx->stream) <= 4096);
    assert_int_equal(api_stream_write(fx->stream, chunk, 5000), -1);
    /* A final event goes past the bound; then the stream ends. */
    api_stream_end(fx->stream, "event: dropped\n\n", 16, 1008);
    fx->stream = NULL;
    spin(fx, 50);
    assert_true(fx->eof);
    assert_int_equal(fx->closed, 0);
    assert_true(fx->len >= 16);
    assert_memory_equal(fx->buf + fx->len - 16, "event: dropped\n\n", 16);
}

static void test_drained_callback(void **state)
{
    struct fixture *fx = *state;
    send_str(fx, "GET /sse HTTP/1.1\r\n\r\n");
    spin(fx, 6);
    assert_non_null(fx->stream);
    assert_true(fx->drained >= 1);
    assert_int_equal(api_stream_pending(fx->stream), 0);
}

static void test_server_freed_with_stream_open(void **state)
{
    struct fixture *fx = *state;
    send_str(fx, ws_request);
    spin(fx, 4);
    assert_non_null(fx->stream);
    api_server_free(fx->server);
    assert_int_equal(fx->closed, 1);
    /* teardown frees an empty server */
    struct api_config config = {.listen = "127.0.0.1:0"};
    struct error err;
    assert_int_equal(api_server_new(fx->base, &config, &fx->server, &err), 0);
}

/* ------------------------------------------------------------------ WebSocket */

static void test_ws_messages_ping_and_close(void **state)
{
    struct fixture *fx = *state;
    open_ws(fx);
    assert_true(api_stream_is_websocket(fx->stream));
    assert_int_equal(api_stream_write(fx->stream, "{\"seq\":1}", 9), 0);
    spin(fx, 4);
    uint8_t op;
    char payload[70000];
    size_t len;
    assert_true(next_frame(fx, &op, payload, &len));
    assert_int_equal(op, WS_OP_TEXT);
    assert_int_equal(len, 9);
    assert_memory_equal(payload, "{\"seq\":1}", 9);
    /* A long message uses the 16-bit length. */
    char big[300];
    memset(big, 'b', sizeof(big));
    assert_int_equal(api_stream_write(fx->stream, big, sizeof(big)), 0);
    spin(fx, 4);
    assert_true(next_frame(fx, &op, payload, &len));
    assert_int_equal(len, 300);
    /* Ping: a pong with the same payload. Our own ping goes out too. */
    send_frame(fx, 0x89, "ping!", 5, true);
    api_stream_ping(fx->stream);
    spin(fx, 4);
    assert_true(next_frame(fx, &op, payload, &len));
    assert_int_equal(op, WS_OP_PING);
    assert_true(next_frame(fx, &op, payload, &len));
    assert_int_equal(op, WS_OP_PONG);
    assert_memory_equal(payload, "ping!", 5);
    /* A message in three fragments, with a ping in between, arrives whole. */
    send_frame(fx, 0x01, "Hel", 3, true);
    send_frame(fx, 0x89, "", 0, true);
    send_frame(fx, 0x00, "lo, ", 4, true);
    send_frame(fx, 0x80, "world", 5, true);
    spin(fx, 4);
    assert_int_equal(fx->messages, 1);
    assert_false(fx->message_binary);
    assert_int_equal(fx->message_len, 12);
    assert_memory_equal(fx->message, "Hello, world", 12);
    /* The client closes: echoed with its code, on_close once, then EOF. */
    send_frame(fx, 0x88, "\x0f\xa0", 2, true); /* 4000 */
    assert_int_equal(expect_close(fx), 4000);
    assert_int_equal(fx->closed, 1);
    spin(fx, 20);
    assert_true(fx->eof);
}

static void test_ws_unmasked_frame_refused(void **state)
{
    struct fixture *fx = *state;
    open_ws(fx);
    send_frame(fx, 0x81, "hi", 2, false);
    assert_int_equal(expect_close(fx), WS_CLOSE_PROTOCOL);
    assert_int_equal(fx->closed, 1);
    assert_int_equal(fx->messages, 0);
}

static void test_ws_message_over_limit(void **state)
{
    struct fixture *fx = *state;
    open_ws(fx);
    /* One frame over max_message (1000), refused from its header alone. */
    static char payload[1001];
    send_frame(fx, 0x82, payload, sizeof(payload), true);
    assert_int_equal(expect_close(fx), WS_CLOSE_TOO_BIG);
    assert_int_equal(fx->messages, 0);
}

static void test_ws_fragments_over_limit(void **state)
{
    struct fixture *fx = *state;
    open_ws(fx);
    static char payload[600];
    send_frame(fx, 0x02, payload, sizeof(payload), true);
    send_frame(fx, 0x80, payload, sizeof(payload), true);
    assert_int_equal(expect_close(fx), WS_CLOSE_TOO_BIG);
    assert_int_equal(fx->messages, 0);
}

static void test_ws_huge_length_refused(void **state)
{
    struct fixture *fx = *state;
    open_ws(fx);
    /* 2^62 bytes announced: refused at once, nothing allocated for it. */
    static const uint8_t head[] = {0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    send_raw(fx, head, sizeof(head));
    assert_int_equal(expect_close(fx), WS_CLOSE_TOO_BIG);
}

static void test_ws_protocol_errors(void **state)
{
    static const struct {
        uint8_t b0;
        const char *payload;
        size_t len;
    } cases[] = {
        {0x00, "x", 1},  /* continuation with no message */
        {0xc1, "x", 1},  /* a reserved bit */
        {0x83, "x", 1},  /* opcode 3 */
        {0x09, "x", 1},  /* a fragmented ping */
        {0x88, "x", 1},  /* a close with a one-byte body */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        teardown(state);
        setup(state);
        struct fixture *fx = *state;
        open_ws(fx);
        send_frame(fx, cases[i].b0, cases[i].payload, cases[i].len, true);
        assert_int_equal(expect_close(fx), WS_CLOSE_PROTOCOL);
        assert_int_equal(fx->closed, 1);
    }
    /* A text frame while a fragmented message is open. */
    teardown(state);
    setup(state);
    struct fixture *fx = *state;
    open_ws(fx);
    send_frame(fx, 0x01, "a", 1, true);
    send_frame(fx, 0x81, "b", 1, true);
    assert_int_equal(expect_close(fx), WS_CLOSE_PROTOCOL);
}

static void test_ws_end_from_on_message(void **state)
{
    struct fixture *fx = *state;
    fx->end_on_message = true;
    open_ws(fx);
    send_frame(fx, 0x81, "stop", 4, true);
    spin(fx, 6);
    assert_int_equal(fx->messages, 1);
    uint8_t op;
    char payload[64];
    size_t len;
    assert_true(next_frame(fx, &op, payload, &len));
    assert_int_equal(op, WS_OP_TEXT);
    assert_memory_equal(payload, "bye", 3);
    assert_true(next_frame(fx, &op, payload, &len));
    assert_int_equal(op, WS_OP_CLOSE);
    assert_int_equal(fx->closed, 0);
    spin(fx, 20);
    assert_true(fx->eof);
}

static void test_ws_frame_in_the_handshake_packet(void **state)
{
    struct fixture *fx = *state;
    /* A client may send its first frame right behind the handshake. */
    uint8_t both[sizeof(ws_request) - 1 + 8];
    memcpy(both, ws_request, sizeof(ws_request) - 1);
    static const uint8_t frame[] = {0x81, 0x82, 0, 0, 0, 0, 'o', 'k'};
    memcpy(both + sizeof(ws_request) - 1, frame, sizeof(frame));
    send_raw(fx, both, sizeof(both));
    spin(fx, 4);
    assert_non_null(fx->stream);
    assert_int_equal(fx->messages, 1);
    assert_int_equal(fx->message_len, 2);
    assert_memory_equal(fx->message, "ok", 2);
}

static void test_ws_bad_handshakes(void **state)
{
    static const char *const requests[] = {
        "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n",
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        teardown(state);
        setup(state);
        struct fixture *fx = *state;
        send_str(fx, requests[i]);
        spin(fx, 4);
        assert_null(fx->stream);
        assert_non_null(strstr(fx->buf, "HTTP/1.1 400 "));
    }
    teardown(state);
    setup(state);
    struct fixture *fx = *state;
    send_str(fx, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    spin(fx, 4);
    assert_null(fx->stream);
    assert_non_null(strstr(fx->buf, "HTTP/1.1 426 Upgrade Required\r\n"));
    assert_non_null(strstr(fx->buf, "Sec-WebSocket-Version: 13\r\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_header_parsing),
        cmocka_unit_test(test_ws_header_roundtrip_and_mask),
        cmocka_unit_test(test_ws_accept_key),
        cmocka_unit_test(test_ws_utf8),
        cmocka_unit_test_setup_teardown(test_ws_bad_utf8_text_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_stream_and_client_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sse_header_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drained_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_freed_with_stream_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_messages_ping_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_unmasked_frame_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_message_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_fragments_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_huge_length_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_protocol_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_end_from_on_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_frame_in_the_handshake_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ws_bad_handshakes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
